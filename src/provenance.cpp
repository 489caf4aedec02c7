// SPDX-License-Identifier: MIT
#include "jailbuild/provenance.hpp"
#include "jailbuild/site.hpp"

#include "jailbuild/digest.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/fd.hpp"
#include "jailbuild/hostfs.hpp"
#include "jailbuild/package_db.hpp"
#include "jailbuild/text.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <sys/utsname.h>
#include <unistd.h>
#include <unordered_set>

namespace jailbuild {

namespace {

constexpr std::string_view dpkg_info_dir = "/var/lib/dpkg/info";
constexpr std::string_view dpkg_status = "/var/lib/dpkg/status";

/// dpkg lists /lib/x86_64-linux-gnu/libc.so.6 while the walk may have found /usr/lib/...: after the
/// /usr merge they are one file. Paths are compared with the merged directories folded onto /.
std::string_view merged_view(std::string_view path) {
  for (std::string_view dir :
       {"/usr/bin/", "/usr/sbin/", "/usr/lib/", "/usr/lib32/", "/usr/lib64/", "/usr/libx32/"})
    if (path.starts_with(dir)) return path.substr(4);
  return path;
}

/// A whole file with plain read(2)s; nullopt when it cannot be opened.
std::optional<std::string> read_whole(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  return read_all(fd.get(), path);
}

/// Installed packages and their versions, keyed as dpkg names their file lists: "name:arch" for
/// Multi-Arch: same packages, "name" for the others. Empty when the host has no dpkg database.
std::map<std::string, std::string> installed_versions(const HostRoot& host) {
  std::map<std::string, std::string> versions;
  if (!host.exists(dpkg_status)) return versions;
  for (const DpkgPackage& p : parse_dpkg_status(host.read_file(dpkg_status)))
    if (p.installed) versions[p.multi_arch == "same" ? p.name + ":" + p.arch : p.name] = p.version;
  return versions;
}

std::string machine_name(const ElfIdentity& id) {
  ElfInfo info;
  info.elf_class = id.elf_class;
  info.endian = id.endian;
  info.machine = id.machine;
  std::optional<std::string> triplet = multiarch_triplet(info);
  return triplet ? *triplet
                 : "ELF machine " + std::to_string(id.machine) +
                       (id.elf_class == ElfClass::elf64 ? " (64-bit)" : " (32-bit)");
}

/// uid -> user name of a passwd file.
std::map<uint32_t, std::string> users_by_uid(const std::string& passwd) {
  std::map<uint32_t, std::string> users;
  std::istringstream in(passwd);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> fields;
    std::istringstream parts(line);
    for (std::string f; std::getline(parts, f, ':');)
      fields.push_back(f);
    if (fields.size() < 3 || fields[0].empty() || fields[0][0] == '#') continue;
    uint32_t uid = 0;
    auto [end, ec] = std::from_chars(fields[2].data(), fields[2].data() + fields[2].size(), uid);
    if (ec == std::errc() && end == fields[2].data() + fields[2].size()) users.emplace(uid, fields[0]);
  }
  return users;
}

/// The leading "a.b.c" of a kernel release or version, missing parts 0.
std::vector<unsigned> version_numbers(std::string_view text) {
  std::vector<unsigned> numbers;
  const char* p = text.data();
  const char* end = text.data() + text.size();
  while (numbers.size() < 3 && p < end) {
    unsigned n = 0;
    auto [next, ec] = std::from_chars(p, end, n);
    if (ec != std::errc()) break;
    numbers.push_back(n);
    if (next == end || *next != '.') break;
    p = next + 1;
  }
  numbers.resize(3, 0);
  return numbers;
}

} // namespace

std::vector<PackagePin> owning_packages(const Plan& plan, const HostRoot& host) {
  // Looked up once per line of every file list (some 150,000 lines): views into `keys`, no copies.
  std::vector<std::string> keys;
  for (const PlanEntry& e : plan.entries)
    if (e.kind == EntryKind::file && !e.source.empty()) keys.emplace_back(merged_view(e.source));
  std::unordered_set<std::string_view> wanted(keys.begin(), keys.end());
  std::set<std::string> owners;
  std::string info = host.real(dpkg_info_dir);
  DIR* dir = ::opendir(info.c_str());
  if (!dir) return {};
  std::vector<std::string> lists;
  while (dirent* d = ::readdir(dir)) {
    std::string_view name = d->d_name;
    if (name.ends_with(".list")) lists.emplace_back(name);
  }
  ::closedir(dir);
  for (const std::string& list : lists) {
    std::optional<std::string> text = read_whole(info + "/" + list);
    if (!text) continue;
    for (std::string_view rest = *text; !rest.empty();) {
      std::size_t end = rest.find('\n');
      std::string_view line = rest.substr(0, end);
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
      if (wanted.count(merged_view(line))) {
        owners.insert(list.substr(0, list.size() - 5));
        break; // one owned file is enough to pin the package
      }
    }
  }
  std::map<std::string, std::string> versions = installed_versions(host);
  std::vector<PackagePin> pins;
  for (const std::string& owner : owners) {
    auto it = versions.find(owner);
    if (it != versions.end()) pins.push_back({owner, it->second});
  }
  return pins;
}

std::string packages_digest(const std::vector<PackagePin>& packages) {
  Sha256 hash;
  for (const PackagePin& p : packages)
    hash.update(p.name + " " + p.version + "\n");
  return hash.finish();
}

std::optional<std::string> provenance_problem(const Provenance& provenance) {
  if (provenance.packages.empty())
    return "the jail's origin lists no packages, so nothing tells whether this host's may refresh its "
           "files";
  if (provenance.packages_digest != packages_digest(provenance.packages))
    return "the jail's origin has a packages_digest that is not that of its package list";
  return std::nullopt;
}

std::optional<std::string> package_mismatch(const Manifest& manifest, const HostRoot& host) {
  if (!manifest.provenance) return std::nullopt; // built here
  if (std::optional<std::string> problem = provenance_problem(*manifest.provenance)) return problem;
  std::map<std::string, std::string> here = installed_versions(host);
  std::vector<std::string> differences;
  for (const PackagePin& pin : manifest.provenance->packages) {
    auto it = here.find(pin.name);
    if (it == here.end())
      differences.push_back(pin.name + " " + pin.version + " there, not installed here");
    else if (it->second != pin.version)
      differences.push_back(pin.name + " " + pin.version + " there, " + it->second + " here");
  }
  if (differences.empty()) return std::nullopt;
  return "this jail was packed on " + manifest.provenance->host +
         ", whose packages differ from this host's: " + join(differences, "; ");
}

HostFacts this_host() {
  HostFacts facts;
  std::optional<ElfIdentity> self = probe_elf("/proc/self/exe");
  if (!self) throw Error("/proc/self/exe", "cannot read the ELF identity of the running program");
  facts.identity = *self;
  struct utsname uts {};
  if (::uname(&uts) != 0) throw system_error("uname", "cannot read the kernel release", errno);
  facts.kernel_release = uts.release;
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (!line.starts_with("flags")) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    for (std::string w; words >> w;)
      facts.cpu_flags.push_back(w);
    break; // every CPU lists the same flags on the systems we run on
  }
  std::sort(facts.cpu_flags.begin(), facts.cpu_flags.end());
  std::ifstream passwd("/etc/passwd");
  std::ostringstream text;
  text << passwd.rdbuf();
  facts.passwd = text.str();
  return facts;
}

std::vector<std::string> required_hwcaps(const Plan& plan) {
  std::unordered_set<std::string> paths;
  for (const PlanEntry& e : plan.entries)
    paths.insert(e.path);
  std::set<std::string> levels;
  constexpr std::string_view marker = "/glibc-hwcaps/";
  for (const PlanEntry& e : plan.entries) {
    if (e.kind != EntryKind::file && e.kind != EntryKind::symlink) continue;
    std::size_t at = e.path.find(marker);
    if (at == std::string::npos) continue;
    std::string_view rest = std::string_view(e.path).substr(at + marker.size()); // "x86-64-v3/libfoo.so.1"
    std::size_t slash = rest.find('/');
    if (slash == std::string_view::npos || rest.find('/', slash + 1) != std::string_view::npos) continue;
    std::string base = e.path.substr(0, at) + "/" + std::string(rest.substr(slash + 1));
    if (!paths.count(base)) levels.insert(std::string(rest.substr(0, slash)));
  }
  return {levels.begin(), levels.end()};
}

std::optional<bool> cpu_meets(std::string_view level, const std::vector<std::string>& cpu_flags) {
  // The x86-64 psABI micro-architecture levels, in /proc/cpuinfo's names (pni is SSE3, abm is LZCNT).
  static const std::vector<std::string> v2 = {"cx16",   "lahf_lm", "popcnt", "pni",
                                              "sse4_1", "sse4_2",  "ssse3"};
  static const std::vector<std::string> v3 = {"avx", "avx2", "bmi1",  "bmi2", "f16c",
                                              "fma", "abm",  "movbe", "xsave"};
  static const std::vector<std::string> v4 = {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"};
  std::vector<const std::vector<std::string>*> needed;
  if (level == "x86-64-v2")
    needed = {&v2};
  else if (level == "x86-64-v3")
    needed = {&v2, &v3};
  else if (level == "x86-64-v4")
    needed = {&v2, &v3, &v4};
  else
    return std::nullopt;
  std::unordered_set<std::string> have(cpu_flags.begin(), cpu_flags.end());
  for (const auto* flags : needed)
    for (const std::string& flag : *flags)
      if (!have.count(flag)) return false;
  return true;
}

bool kernel_at_least(std::string_view release, std::string_view minimum) {
  return version_numbers(release) >= version_numbers(minimum);
}

HostCheck check_host(const Manifest& manifest, const HostFacts& host) {
  HostCheck check;
  // Architecture: every walked object must be of the host's machine, class and byte order.
  std::set<std::string> foreign;
  for (const WalkObject& o : manifest.plan.objects) {
    ElfIdentity id{o.elf.elf_class, o.elf.endian, o.elf.machine};
    if (!(id == host.identity)) foreign.insert(machine_name(id));
  }
  if (!foreign.empty())
    check.errors.push_back("the jail's programs are built for " +
                           join({foreign.begin(), foreign.end()}, ", ") + "; this host runs " +
                           machine_name(host.identity));

  // Kernel: glibc refuses to start on a kernel older than its ABI note says ("FATAL: kernel too old").
  if (manifest.provenance && !manifest.provenance->min_kernel.empty() &&
      !kernel_at_least(host.kernel_release, manifest.provenance->min_kernel))
    check.errors.push_back("the jail's libc needs Linux " + manifest.provenance->min_kernel +
                           " or later; this host runs " + host.kernel_release);

  // CPU: a library only present under glibc-hwcaps/LEVEL cannot be loaded below that level.
  for (const std::string& level : required_hwcaps(manifest.plan)) {
    std::optional<bool> meets = cpu_meets(level, host.cpu_flags);
    if (!meets)
      check.warnings.push_back("the jail has libraries only for glibc-hwcaps level " + level +
                               ", which jailbuild cannot check on this CPU");
    else if (!*meets)
      check.errors.push_back("the jail has libraries only for glibc-hwcaps level " + level +
                             ", which this CPU does not support");
  }

  // Users: a jail uid that is another user here is not an error, but files would change hands.
  std::map<uint32_t, std::string> host_users = users_by_uid(host.passwd);
  for (const PlanEntry& e : manifest.plan.entries) {
    if (e.path != "/etc/passwd" || e.kind != EntryKind::generated) continue;
    for (const auto& [uid, name] : users_by_uid(e.content)) {
      auto it = host_users.find(uid);
      if (it != host_users.end() && it->second != name)
        check.warnings.push_back("jail user " + name + " has uid " + std::to_string(uid) + ", which is " +
                                 it->second + " on this host");
    }
  }
  return check;
}

} // namespace jailbuild

namespace jailbuild {

namespace {

bool inside(std::string_view path, std::string_view dir) {
  return path == dir || (path.size() > dir.size() && path.starts_with(dir) && path[dir.size()] == '/');
}

/// A user or group name as --writable takes it: what useradd accepts, or a number.
bool plain_name(std::string_view name) {
  if (name.empty() || name.size() > 32 || name.front() == '-') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

/// Why a --writable directory of an archive is not one this host keeps, or nullopt. Owned by a
/// service user, such a directory is the service's to fill: "/" or /etc would hand it the jail
/// (and the jail's .jailbuild/), a system directory its programs and libraries.
std::optional<std::string> writable_problem(const WritableSpec& w, const std::vector<WritableSpec>& all) {
  const std::string& p = w.path;
  if (p == "/") return "the jail's root";
  bool normalised = !p.empty() && p.front() == '/' && p.back() != '/';
  for (std::size_t at = 1; normalised && at <= p.size();) {
    std::size_t end = std::min(p.find('/', at), p.size());
    std::string_view part = std::string_view(p).substr(at, end - at);
    normalised = !part.empty() && part != "." && part != "..";
    at = end + 1;
  }
  if (!normalised) return "not a normalised absolute path";
  for (const char* tree : {"/.jailbuild", "/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64",
                           "/libx32", "/dev", "/proc", "/sys", "/boot"})
    if (inside(p, tree)) return "a system directory";
  for (const char* dir : {"/var", "/var/lib", "/var/cache", "/var/log", "/var/tmp", "/run", "/tmp", "/home",
                          "/root", "/srv", "/opt", "/mnt"})
    if (p == dir) return "a system directory";
  for (const WritableSpec& other : all)
    if (&other != &w && p != other.path && inside(p, other.path)) return "inside the writable " + other.path;
  if (!plain_name(w.owner) || w.owner == "root" || w.owner == "0")
    return "owner '" + w.owner + "' is not a service user";
  if (!w.group.empty() && (!plain_name(w.group) || w.group == "root" || w.group == "0"))
    return "group '" + w.group + "' is not a service group";
  return std::nullopt;
}

/// `word` as one word of a POSIX shell, quoted unless it is plainly safe: the command unpack suggests
/// is built from an archive's strings and the admin is invited to paste it as root
/// (`--bind /srv/x$(id>/tmp/pwned):/mnt:ro` ran the archive's command).
std::string shell_word(const std::string& word) {
  auto plain = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("_-./:,=+@%").find(c) != std::string_view::npos;
  };
  if (!word.empty() && std::all_of(word.begin(), word.end(), plain)) return word;
  std::string quoted = "'";
  for (char c : word)
    quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string writable_option(const WritableSpec& w) {
  return "--writable " + shell_word(w.path + ":" + w.owner + (w.group.empty() ? "" : ":" + w.group));
}

std::string bind_option(const std::string& source, const std::string& dest, bool read_only, bool noexec) {
  return "--bind " +
         shell_word(source + ":" + dest + (read_only ? ":ro" : ":rw") + (noexec ? ",noexec" : ""));
}

} // namespace

AdoptedSpec adopt_archive_spec(Manifest& manifest, const std::vector<std::string>& known_profiles,
                               const std::vector<std::string>& host_dirs, const std::string& jail_dir) {
  AdoptedSpec out;
  Plan& plan = manifest.plan;
  JailSpec& spec = plan.spec;

  // Services: profiles of this host only.
  for (const std::string& service : spec.services)
    if (std::find(known_profiles.begin(), known_profiles.end(), service) == known_profiles.end())
      out.errors.push_back("the archive asks for the profile '" + service +
                           "', which this host does not have (add it to /etc/jailbuild/profiles.d, or give "
                           "--profiles-dir)");

  // Profile directories: this host's. The packing host's built-in and /etc ones are replaced as a
  // matter of course (sync always did); any other is named.
  std::vector<std::string> dropped;
  for (std::size_t i = 0; i < spec.profile_dirs.size(); ++i) {
    const std::string& dir = spec.profile_dirs[i];
    bool usual =
        (i == 0 && dir.ends_with("/jailbuild/profiles")) || (i == 1 && dir == "/etc/jailbuild/profiles.d");
    if (!usual && std::find(host_dirs.begin(), host_dirs.end(), dir) == host_dirs.end())
      dropped.push_back(dir);
  }
  if (!dropped.empty())
    out.warnings.push_back("the archive's profile directories are not used, this host's are: " +
                           join(dropped, ", "));
  spec.profile_dirs = host_dirs;
  if (spec.host_root != "/")
    out.warnings.push_back("the archive's host root " + spec.host_root +
                           " is not used: the jail is synced from /");
  spec.host_root = "/";

  // The admin's own files: their sources are host paths, which an archive never chooses (a spec
  // naming /etc/shadow would have root copy it into the jail at the next sync).
  const std::size_t own_files = spec.files.size();
  if (own_files != 0) {
    out.warnings.push_back("the archive names " + std::to_string(own_files) +
                           " file(s) of the admin's own (--file), which are not copied from this host until "
                           "its admin declares them");
    spec.files.clear();
  }

  // Sites: a source is a host path, which an archive never chooses (a site whose docroot the archive
  // left empty, with the source /root, would have root copy it into the jail at the next create); a
  // site check_spec would refuse (a docroot covering /usr, writable dirs outside it) is dropped whole.
  std::vector<SiteSpec> sites;
  for (SiteSpec site : spec.sites) {
    if (!site.source.empty())
      out.warnings.push_back("the archive's site " + site.docroot + " names the source " + site.source +
                             ", which is not used: only this host's admin chooses what is copied from it");
    site.source.clear();
    try {
      check_sites({site});
      sites.push_back(std::move(site));
    } catch (const Error& e) {
      out.warnings.push_back("the archive's site " + site.docroot + " dropped: " + e.message());
    }
  }
  spec.sites = std::move(sites);

  // Writable directories: only plain ones.
  std::vector<WritableSpec> writable;
  for (const WritableSpec& w : spec.writable) {
    if (std::optional<std::string> problem = writable_problem(w, spec.writable))
      out.warnings.push_back(writable_option(w) + " of the archive dropped: " + *problem);
    else
      writable.push_back(w);
  }

  // Binds: none until this host declares them.
  std::vector<std::string> binds, declare;
  for (const PlanEntry& e : plan.entries) {
    if (e.kind != EntryKind::bind) continue;
    bool asked = std::any_of(spec.binds.begin(), spec.binds.end(),
                             [&](const BindSpec& b) { return b.source == e.source && b.dest == e.path; });
    binds.push_back(e.path + " <- " + e.source + (e.read_only ? " (ro)" : " (rw)") +
                    (asked ? ""
                           : " from " + e.requested_by +
                                 ", which brings it back at the next sync if this host's "
                                 "profiles ask for it"));
  }
  for (const BindSpec& b : spec.binds)
    declare.push_back(bind_option(b.source, b.dest, b.read_only, b.noexec));
  if (!binds.empty()) {
    std::string text =
        "the archive asks for bind mounts, which are not made until this host declares them: " +
        join(binds, "; ");
    if (!declare.empty()) {
      std::vector<std::string> command = {"jailbuild create " + shell_word(jail_dir) + " --with " +
                                          shell_word(join(spec.services, ","))};
      if (!spec.name.empty()) command.push_back("--name " + shell_word(spec.name));
      // This host's own profile directories beyond the usual two: the unpack command line gave them,
      // and create must read the same profiles.
      for (std::size_t i = 2; i < host_dirs.size(); ++i)
        command.push_back("--profiles-dir " + shell_word(host_dirs[i]));
      if (spec.php_version) command.push_back("--php " + shell_word(*spec.php_version));
      for (const std::string& pool : spec.pools)
        command.push_back("--pool " + shell_word(pool));
      for (const WritableSpec& w : writable)
        command.push_back(writable_option(w));
      for (const std::string& x : spec.excludes)
        command.push_back("--exclude " + shell_word(x));
      command.insert(command.end(), declare.begin(), declare.end());
      text += ". To declare them: " + join(command, " ");
      // Never suggested: an archive's --file names a host file for root to copy.
      if (own_files != 0) text += " (and the admin's own files, each with --file SRC:DEST)";
    }
    out.warnings.push_back(text);
  }
  spec.binds.clear();
  spec.writable = std::move(writable);
  std::erase_if(plan.entries, [](const PlanEntry& e) { return e.kind == EntryKind::bind; });

  // Nothing recorded on the packing host stands for a file of this one.
  manifest.inputs = {};
  for (PlanEntry& e : plan.entries)
    e.source_stamp = {};
  for (WalkObject& o : plan.objects)
    o.stamp = {};
  return out;
}

} // namespace jailbuild
