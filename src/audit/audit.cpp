// SPDX-License-Identifier: MIT
// The audit's driver: walk the jail (audit_walk.cpp), read the accounts, run the rules
// (audit_rules.cpp), then check every file against the manifest and the hardening of every ELF file.
// Files are read only through JailFs::open_read, which never follows a symlink inside the jail.
#include "jailbuild/audit.hpp"
#include "jailbuild/decide.hpp"

#include "audit_internal.hpp"
#include "jailbuild/digest.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/fd.hpp"
#include "jailbuild/hostfs.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <future>
#include <map>
#include <set>
#include <sstream>
#include <tuple>
#include <unistd.h>
#include <utility>

namespace jailbuild {

namespace audit {

namespace {

/// What to do about a file the audit could not read, by what failed: `permission_fix` for a
/// permission error; anything else (a file swapped for a symlink or a FIFO meanwhile, an I/O error)
/// is no matter of permissions and wants another look.
std::string read_failure_fix(const Error& e, const char* permission_fix) {
  if (e.kind() == ErrorKind::system && (e.code() == EACCES || e.code() == EPERM)) return permission_fix;
  return "audit again";
}

} // namespace

const Node* Context::find(std::string_view path) const {
  auto it = index.find(std::string(path));
  return it == index.end() ? nullptr : &nodes[it->second];
}

void Context::add(std::string rule, Severity severity, std::string path, std::string message,
                  std::string fix) {
  findings.push_back({std::move(rule), severity, std::move(path), std::move(message), std::move(fix)});
}

std::optional<std::string> Context::read_text(const std::string& path, std::size_t limit) {
  const Node* node = find(path);
  if (!node || node->mount) return std::nullopt;
  if (!S_ISREG(node->st.st_mode)) {
    add("audit-error", Severity::medium, path,
        "is not a regular file (a symlink?): not followed, not checked", "make it a regular file");
    return std::nullopt;
  }
  try {
    UniqueFd fd(jail.open_read(path));
    return read_all(fd.get(), jail.path(path), limit);
  } catch (const Error& e) {
    add("audit-error", Severity::medium, path, std::string("cannot be read: ") + e.message(),
        read_failure_fix(e, "check its permissions"));
    return std::nullopt;
  }
}

} // namespace audit

namespace {

using namespace audit;

/// The ELF header: enough for the magic, the byte order and e_type.
constexpr std::size_t elf_header_bytes = 20;

/// ELF files larger than this are reported as an audit-error and their hardening is not read.
constexpr std::uint64_t max_hardening_file_size = std::uint64_t{1} << 30;
constexpr const char* max_hardening_file_text = "1 GiB the hardening check reads";

bool inside_dir(std::string_view path, std::string_view dir) {
  return dir == "/"
             ? path != "/"
             : path.size() > dir.size() && path.substr(0, dir.size()) == dir && path[dir.size()] == '/';
}

/// What reading one file found: its digest, whether it is ELF and how it is hardened.
struct FileResult {
  std::size_t node = 0;
  bool hash = false;
  std::string digest;
  bool elf = false;
  ElfAudit::Type type = ElfAudit::Type::other;
  ElfHardening hardening;
  std::string error;     ///< reading the file failed
  std::string error_fix; ///< what to do about it
  std::string elf_error;
  std::optional<std::uint64_t> oversized; ///< the size of an ELF file over max_hardening_file_size
  bool over_budget = false;               ///< not judged: the audit's HardeningBudget was spent
};

ElfAudit::Type elf_type(const unsigned char* header, const ElfHardening& hardening) {
  unsigned type = header[5] == 2 ? (header[16] << 8 | header[17]) : (header[17] << 8 | header[16]);
  if (type == 2) return ElfAudit::Type::executable; // ET_EXEC
  if (type == 3)
    return hardening.pie ? ElfAudit::Type::executable // ET_DYN: a PIE, or a library
                         : ElfAudit::Type::library;
  return ElfAudit::Type::other;
}

void read_file(const Context& ctx, FileResult& r, bool hardening, HardeningBudget& budget) {
  const Node& node = ctx.nodes[r.node];
  int raw = -1;
  try {
    raw = ctx.jail.open_read(node.path);
  } catch (const Error& e) {
    r.error = e.message();
    r.error_fix = read_failure_fix(e, "run the audit as root");
    return;
  }
  UniqueFd fd(raw);
  unsigned char header[elf_header_bytes] = {};
  ssize_t got = ::pread(fd.get(), header, sizeof header, 0);
  static constexpr unsigned char elf_magic[] = {0x7f, 'E', 'L', 'F'};
  r.elf = got == static_cast<ssize_t>(sizeof header) && std::memcmp(header, elf_magic, sizeof elf_magic) == 0;
  try {
    if (r.hash) {
      ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
      r.digest = sha256_fd(fd.get());
    }
  } catch (const Error& e) {
    r.error = e.message();
    r.error_fix = read_failure_fix(e, "run the audit as root");
    return;
  }
  if (!r.elf || !hardening) return;
  // The bounded reader, through the fd we hold (whatever the jail renames over the path meanwhile):
  // a few tables by offset, never the whole file, never LIEF (elf_hardening.cpp says why). It reads
  // the same few KiB of a file of any size; a file beyond the limit is still not parsed but reported,
  // since nothing in a jail is an executable or library that big (the largest Debian ships is ~100 MB):
  // a planted one is an attack on the audit.
  struct stat st {};
  if (::fstat(fd.get(), &st) == 0 && static_cast<std::uint64_t>(st.st_size) > max_hardening_file_size) {
    r.oversized = static_cast<std::uint64_t>(st.st_size);
    r.elf_error =
        std::to_string(*r.oversized) + " bytes, over the " + max_hardening_file_text + ": not parsed";
  } else {
    try {
      if (std::optional<ElfHardening> h = read_elf_hardening(fd.get(), node.path, budget)) {
        r.hardening = *h;
      } else {
        r.over_budget = true;
        r.elf_error = "not parsed: the audit's budget for symbol tables was spent";
      }
    } catch (const Error& e) {
      r.elf_error = e.message();
    }
  }
  r.type = elf_type(header, r.hardening);
}

Severity role_severity(EntryRole role) {
  switch (role) {
  case EntryRole::executable:
  case EntryRole::library:
  case EntryRole::config:
    return Severity::high;
  case EntryRole::data:
  case EntryRole::system:
    return Severity::medium;
  case EntryRole::state:
    return Severity::info;
  }
  return Severity::high;
}

/// Where the services' master processes, running as root, write logs and pid files.
constexpr const char* runtime_dirs[] = {"/run", "/var/run", "/var/log", "/var/cache"};

/// True when a path lies below a mount point of the jail: the walk did not look there.
bool under_mount(const Context& ctx, std::string path) {
  while (path.size() > 1) {
    path = dirname_of(path);
    if (const Node* n = ctx.find(path)) return n->mount;
  }
  return false;
}

/// Checks every manifest entry against the walked tree and the digests just computed.
void check_integrity(Context& ctx, const std::unordered_map<std::size_t, const FileResult*>& results,
                     const std::vector<SiteScope>& sites, IntegrityStats& stats) {
  const Plan& plan = ctx.manifest->plan;
  const std::string fix = "jailbuild sync " + ctx.jail.root() + " restores it; find out first who changed it";
  std::set<std::string> planned;
  // Where services put files of their own. Never the jail root nor a system tree, whatever the
  // manifest says: it may come from an archive, whose roles would otherwise make /usr/lib a state
  // directory whose unexpected files are only "info".
  auto may_be_writable = [](const std::string& dir) { return dir != "/" && !in_jail_system_tree(dir); };
  std::vector<std::string> writable_dirs;
  for (const WritableSpec& w : plan.spec.writable)
    if (may_be_writable(w.path)) writable_dirs.push_back(w.path);
  for (const PlanEntry& e : plan.entries) {
    planned.insert(e.path);
    if (e.kind == EntryKind::directory &&
        (e.role == EntryRole::state || (e.mode & S_IWOTH) || ctx.service.uids.count(e.uid)) &&
        may_be_writable(e.path))
      writable_dirs.push_back(e.path);
    const Node* node = ctx.find(e.path);
    // A conffile the admin deleted (decide.hpp): its absence is the admin's intent, not damage; a
    // file put back there is the admin's too until the next sync records it.
    if (kept_absent(e)) continue;
    if ((node && node->mount) || (!node && under_mount(ctx, e.path))) continue; // the host's, not the jail's
    Severity severity = role_severity(e.role);
    auto modified = [&](const std::string& what) {
      ++stats.modified;
      ctx.add("integrity-modified", severity, e.path, std::string(to_string(e.role)) + " " + what, fix);
    };
    if (!node) {
      if (e.kind == EntryKind::bind) continue; // its mount point may be made when the jail starts
      ++stats.missing;
      if (e.secret && e.kind == EntryKind::file) {
        // pack leaves secrets out of archives: an unpacked jail lacks them until this host has them.
        ctx.add("integrity-missing", Severity::medium, e.path,
                "a secret (a private key) recorded in the manifest is not in the jail: pack leaves secrets "
                "out of archives unless --include-secrets",
                "declare it on this host (create --file SRC:DEST) or copy it there, then `jailbuild sync " +
                    ctx.jail.root() + "`");
        continue;
      }
      Severity missing = e.kind == EntryKind::directory || e.kind == EntryKind::device ? Severity::low
                         : e.kind == EntryKind::symlink                                ? Severity::medium
                                                                                       : severity;
      ctx.add("integrity-missing", missing, e.path,
              std::string(to_string(e.role)) + " " + std::string(to_string(e.kind)) +
                  " recorded in the manifest is gone",
              fix);
      continue;
    }
    switch (e.kind) {
    case EntryKind::file:
    case EntryKind::generated: {
      if (!S_ISREG(node->st.st_mode)) {
        severity = Severity::high;
        modified("file was replaced by " + type_name(node->st.st_mode));
        break;
      }
      auto r = results.find(static_cast<std::size_t>(node - ctx.nodes.data()));
      if (r == results.end() || !r->second->error.empty()) break; // reported as audit-error
      if (r->second->digest != e.digest)
        modified("file was modified (sha256 " + r->second->digest.substr(0, 16) + "...)");
      break;
    }
    case EntryKind::symlink:
      // A changed link in a library directory loads another library: as bad as a changed library.
      severity = Severity::high;
      if (!S_ISLNK(node->st.st_mode))
        modified("symlink was replaced by " + type_name(node->st.st_mode));
      else if (node->link != e.source)
        modified("symlink now points to '" + node->link + "', not '" + e.source + "'");
      break;
    case EntryKind::directory:
      severity = Severity::high;
      if (!S_ISDIR(node->st.st_mode)) modified("directory was replaced by " + type_name(node->st.st_mode));
      break;
    case EntryKind::device:
    case EntryKind::bind:
      break; // the device and mount rules judge what is there
    }
  }
  // An unpacked jail also holds the packing host's site content and state, recorded by digest.
  static const std::map<std::string, std::string> no_extras;
  const std::map<std::string, std::string>& extras =
      ctx.manifest->provenance ? ctx.manifest->provenance->extra_digests : no_extras;
  for (const Node& n : ctx.nodes) {
    if (n.parent < 0 || n.mount || S_ISDIR(n.st.st_mode) || planned.count(n.path) ||
        inside_dir(n.path, std::string("/") + manifest_dir))
      continue;
    if (in_site_code(sites, n.path)) continue; // judged as one group (check_sites)
    auto extra = extras.find(n.path);
    bool in_writable = std::any_of(writable_dirs.begin(), writable_dirs.end(),
                                   [&](const std::string& d) { return inside_dir(n.path, d); });
    auto r = results.find(static_cast<std::size_t>(&n - ctx.nodes.data()));
    bool elf = r != results.end() && r->second->elf;
    bool executable = S_ISREG(n.st.st_mode) && (elf || (n.st.st_mode & 0111));
    std::string_view name = base_name(n.path);
    // A temporary file of a create or sync that was killed (JailFs's name, root's own file) where the
    // next sync lists the jail (beside a manifest entry): what it is, not tampering.
    if (S_ISREG(n.st.st_mode) && n.st.st_uid == 0 && is_temp_name(name) &&
        std::any_of(plan.entries.begin(), plan.entries.end(),
                    [dir = dirname_of(n.path)](const PlanEntry& e) { return dirname_of(e.path) == dir; })) {
      ++stats.unexpected;
      ctx.add("integrity-unexpected", Severity::low, n.path,
              "a temporary file left by an interrupted jailbuild run; the next sync removes it",
              "nothing: `jailbuild sync " + ctx.jail.root() + "` removes it");
      continue;
    }
    // The host's version of a conffile that sync wrote beside the admin's edit: an unresolved
    // conflict, which stays visible (medium: the default threshold fails) until the admin takes it
    // or removes it. jailbuild's own regular file, beside a configuration entry; anything else by
    // that name is judged as any unexpected file.
    if (S_ISREG(n.st.st_mode) && n.st.st_uid == 0 && name.ends_with(".jailbuild-new")) {
      std::string conf = n.path.substr(0, n.path.size() - std::string_view(".jailbuild-new").size());
      auto entry = std::find_if(plan.entries.begin(), plan.entries.end(), [&](const PlanEntry& e) {
        return e.path == conf && e.role == EntryRole::config;
      });
      if (entry != plan.entries.end()) {
        ctx.add("conffile-conflict", Severity::medium, n.path,
                "the host's version of " + conf +
                    ", written beside the jail's edited one: an unresolved conflict",
                "compare the two; take it (mv " + n.path + " " + conf +
                    ") or remove it, then `jailbuild sync " + ctx.jail.root() + "`");
        continue;
      }
    }
    // What the file is, from where it lies and what it holds: a noun for the messages.
    std::string what = executable ? "an executable" : type_name(n.st.st_mode);
    bool library = name.size() > 3 &&
                   (name.substr(name.size() - 3) == ".so" || name.find(".so.") != std::string_view::npos);
    Severity severity = Severity::high;
    if (!S_ISREG(n.st.st_mode) && !S_ISLNK(n.st.st_mode)) {
      severity = Severity::info; // a service's socket or FIFO; the device rule judges device nodes
    } else if (in_writable) {
      severity = Severity::info;
      what += " in a writable state directory";
    } else if (executable) {
    } else if (inside_dir(n.path, "/etc")) {
      what = "a configuration file";
    } else if (library || in_system_area(n.path)) {
      what += " in a system directory";
    } else if (std::any_of(std::begin(runtime_dirs), std::end(runtime_dirs),
                           [&](const char* d) { return inside_dir(n.path, d); })) {
      severity = Severity::info;
      what += " in a runtime directory (a log, a pid file)";
    } else {
      severity = Severity::low;
    }
    // An archive's word (extra_digests) counts only for the services' own files: an origin unpacked
    // before unpack checked it could vouch for a library or an ini anywhere.
    if (extra != extras.end() && in_writable) {
      if (r == results.end() || !r->second->error.empty() || r->second->digest == extra->second) continue;
      ++stats.modified;
      ctx.add("integrity-modified", severity, n.path, what + ", packed with the jail, was modified since",
              fix);
      continue;
    }
    ++stats.unexpected;
    ctx.add("integrity-unexpected", severity, n.path, what + " that is not in the manifest",
            severity == Severity::info ? "nothing, if the service wrote it"
                                       : "find out who put it there, then remove it");
  }
}

int severity_rank(const Finding& f) {
  return -static_cast<int>(f.severity);
}

/// The service users of a jail's manifest, all that the rules need of it without the integrity
/// check. A scan that knows JSON's strings, escapes and nesting finds the top-level "users" array and
/// only that is parsed: the rest, a megabyte of entries in a PHP jail, is neither parsed nor validated
/// (the integrity check reads all of it with read_manifest).
Manifest read_manifest_users(const JailFs& jail) {
  const std::string shown = jail.path(manifest_file);
  UniqueFd fd(jail.open_read(manifest_file));
  const std::string text = read_all(fd.get(), shown);
  int depth = 0;
  std::size_t users = std::string::npos; // where the value of the top-level "users" starts
  for (std::size_t i = 0; i < text.size(); ++i) {
    switch (text[i]) {
    case '"': {
      std::size_t end = i + 1;
      while (end < text.size() && text[end] != '"')
        end += text[end] == '\\' ? 2 : 1;
      if (end >= text.size()) throw Error(shown, "corrupt manifest: an unterminated string");
      std::size_t next = text.find_first_not_of(" \t\r\n", end + 1);
      if (depth == 1 && next != std::string::npos && text[next] == ':' &&
          text.compare(i, end + 1 - i, "\"users\"") == 0)
        users = next + 1;
      i = end;
      break;
    }
    case '{':
    case '[':
      ++depth;
      break;
    case '}':
    case ']':
      if (--depth == 1 && users != std::string::npos) { // the end of the users array
        Manifest manifest;
        try {
          manifest.plan.users =
              nlohmann::json::parse(text.substr(users, i + 1 - users)).get<std::vector<std::string>>();
        } catch (const std::exception& e) {
          throw Error(shown, std::string("corrupt manifest: ") + e.what());
        }
        return manifest;
      }
      break;
    default:
      break;
    }
  }
  throw Error(shown, "corrupt manifest: no \"users\" array");
}

} // namespace

AuditReport audit_jail(const std::string& dir, const AuditOptions& options) {
  JailFs jail(dir); // throws for a missing root, or a symlink there
  // The module the integrity check needs, loaded now: a missing one is one error, not one per file.
  // (Hardening needs none: it never gives a jail's files to LIEF.)
  if (options.integrity == Integrity::check) sha256_hex({});
  AuditReport report;
  report.jail = jail.root();
  Context ctx(jail);
  char real[PATH_MAX];
  if (!::realpath(jail.root().c_str(), real)) throw system_error(jail.root(), "cannot resolve", errno);
  ctx.real_root = real;

  // The manifest (a megabyte of JSON for a PHP jail) is read while the tree is walked: all of it for
  // the integrity check, only its users otherwise.
  std::optional<struct stat> manifest_st = jail.lstat(manifest_file);
  report.has_manifest = manifest_st && S_ISREG(manifest_st->st_mode);
  // A manifest that is not root's alone is whoever owns it's word: reported, and not used (neither
  // its digests nor its users nor its binds).
  const std::optional<Error> untrusted = report.has_manifest ? untrusted_jail(jail) : std::nullopt;
  const bool use_manifest = report.has_manifest && !untrusted;
  std::future<Manifest> manifest_future;
  if (use_manifest && options.integrity == Integrity::check)
    manifest_future = std::async(std::launch::async, read_manifest, jail.root());
  else if (use_manifest)
    manifest_future = std::async(std::launch::async, [&jail] { return read_manifest_users(jail); });

  // The mount table says which directories hold mounts: those are reported, not walked.
  std::set<std::string> mount_points;
  if (!options.mountinfo.empty()) {
    std::ifstream in(options.mountinfo);
    std::stringstream text;
    text << in.rdbuf();
    if (!in)
      ctx.add("audit-error", Severity::medium, "host:" + options.mountinfo, "cannot read the mount table",
              "mount /proc");
    ctx.mounts = parse_mountinfo(text.str());
    for (const MountInfo& m : ctx.mounts)
      if (inside_dir(m.mount_point, ctx.real_root))
        mount_points.insert(m.mount_point.substr(ctx.real_root.size()));
  }

  // Walk the tree.
  Node root;
  root.path = "/";
  UniqueFd root_fd(::open(jail.root().c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (root_fd.get() < 0 || ::fstat(root_fd.get(), &root.st) != 0)
    throw system_error(jail.root(), "cannot open", errno);
  const bool read_links = options.integrity == Integrity::check && use_manifest;
  walk_jail(ctx, std::move(root_fd), root, mount_points, read_links, std::max(1u, options.threads));
  for (std::size_t i = 0; i < ctx.nodes.size(); ++i)
    ctx.index.emplace(ctx.nodes[i].path, i);
  report.entries = ctx.nodes.size();
  std::optional<Manifest> manifest;
  if (use_manifest) {
    manifest = manifest_future.get(); // rethrows a corrupt manifest's Error
    ctx.manifest = &*manifest;
  } else if (untrusted) {
    ctx.add("manifest-untrusted", Severity::high, std::string("/") + manifest_dir,
            untrusted->path() + " " + untrusted->message() +
                ": its manifest is not used, and sync, mount and pack refuse the jail",
            "find out who changed it; re-create the jail (or chown -R root:root and chmod 700 " +
                jail.path(manifest_dir) + " once its content is known to be root's)");
  }

  // The rules. Accounts first: they tell the others who the service users are.
  check_accounts(ctx);
  for (Node& n : ctx.nodes) {
    const Node* parent = n.parent < 0 ? nullptr : &ctx.nodes[static_cast<std::size_t>(n.parent)];
    if (S_ISDIR(n.st.st_mode))
      n.service_reach = (!parent || parent->service_reach) && ctx.service.may(n.st, 1);
    // The symlink rule reads the links in directories a service can write.
    if (S_ISLNK(n.st.st_mode) && !read_links && parent && ctx.service.may(parent->st, 2)) {
      try {
        n.link = jail.read_link(n.path).value_or("");
      } catch (const Error& e) {
        ctx.add("audit-error", Severity::medium, n.path, "cannot read the symlink: " + e.message(),
                "audit again");
      }
    }
  }
  check_chroot_rules(ctx);
  check_entries(ctx);
  check_mounts(ctx);
  check_name_service(ctx);
  check_secrets(ctx);

  // Read the files: digests for the integrity check, headers and hardening for every ELF file.
  bool integrity = options.integrity == Integrity::check && use_manifest;
  bool hardening = options.hardening == Hardening::check;
  // The sites' code is compared with the baselines root accepted, as one group per site; their files
  // need no header read (they are neither planned nor judged one by one).
  const std::vector<SiteScope> sites = integrity ? site_scopes(ctx) : std::vector<SiteScope>{};
  std::set<std::string> hashed;
  if (integrity)
    for (const PlanEntry& e : ctx.manifest->plan.entries)
      if (e.kind == EntryKind::file || e.kind == EntryKind::generated) hashed.insert(e.path);
  if (integrity && ctx.manifest->provenance)
    for (const auto& [path, digest] : ctx.manifest->provenance->extra_digests)
      hashed.insert(path);
  std::vector<FileResult> results;
  for (std::size_t i = 0; i < ctx.nodes.size(); ++i) {
    const Node& n = ctx.nodes[i];
    if (n.mount || !S_ISREG(n.st.st_mode)) continue;
    bool hash = hashed.count(n.path) != 0;
    // Without hardening, only unexpected files need their header (is it an executable?).
    bool header = hardening || (integrity && !hash && !in_site_code(sites, n.path));
    if (hash || header) results.push_back({i, hash, {}, false, ElfAudit::Type::other, {}, {}, {}, {}, {}});
  }
  // Biggest first, so that the two threads finish together.
  std::sort(results.begin(), results.end(), [&](const FileResult& a, const FileResult& b) {
    return ctx.nodes[a.node].st.st_size > ctx.nodes[b.node].st.st_size;
  });
  HardeningBudget budget(options.hardening_budget);
  parallel_for(results.size(), std::max(1u, options.threads),
               [&](std::size_t i) { read_file(ctx, results[i], hardening, budget); });
  std::size_t over_budget = 0;
  std::string first_over_budget;
  std::unordered_map<std::size_t, const FileResult*> by_node;
  for (const FileResult& r : results) {
    by_node.emplace(r.node, &r);
    const std::string& path = ctx.nodes[r.node].path;
    if (!r.error.empty())
      ctx.add("audit-error", Severity::medium, path, "cannot be read: " + r.error + "; not checked",
              r.error_fix);
    if (r.hash) {
      ++report.integrity.files;
      report.integrity.bytes += static_cast<std::uint64_t>(ctx.nodes[r.node].st.st_size);
    }
    if (r.oversized)
      ctx.add("audit-error", Severity::medium, path,
              "an ELF file of " + std::to_string(*r.oversized) + " bytes, over the " +
                  max_hardening_file_text +
                  ": its hardening is not checked (no real executable or library is that big)",
              "find out who put it there, then remove it");
    if (r.over_budget && over_budget++ == 0) first_over_budget = path;
    if (r.elf && hardening) report.elves.push_back({path, r.type, r.hardening, r.elf_error});
  }
  // One finding, not one per file: the files beyond the budget are the attack's or were starved by it.
  if (over_budget)
    ctx.add("audit-error", Severity::medium, first_over_budget,
            "the hardening of " + std::to_string(over_budget) +
                " ELF file(s), this one first, was not checked: their symbol tables went beyond the " +
                std::to_string(options.hardening_budget >> 20) +
                " MiB an audit reads (a real nginx + php-fpm jail needs some 5 MiB)",
            "look for ELF files with huge symbol tables (sparse files planted to slow the audit), remove "
            "them, audit again");
  report.integrity.checked = integrity;
  if (integrity) {
    check_integrity(ctx, by_node, sites, report.integrity);
    report.sites = check_sites(ctx, sites, std::max(1u, options.threads));
  } else {
    report.integrity.skipped_because = untrusted             ? "manifest not root's alone"
                                       : report.has_manifest ? "--no-integrity"
                                                             : "no manifest";
  }
  report.hardening_checked = hardening;
  std::sort(report.elves.begin(), report.elves.end(),
            [](const ElfAudit& a, const ElfAudit& b) { return a.path < b.path; });

  report.findings = std::move(ctx.findings);
  std::sort(report.findings.begin(), report.findings.end(), [](const Finding& a, const Finding& b) {
    return std::tuple(severity_rank(a), a.path, a.rule, a.message) <
           std::tuple(severity_rank(b), b.path, b.rule, b.message);
  });
  return report;
}

bool audit_fails(const AuditReport& report, Severity threshold) {
  return std::any_of(report.findings.begin(), report.findings.end(),
                     [&](const Finding& f) { return f.severity >= threshold; });
}

} // namespace jailbuild
