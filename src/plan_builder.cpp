// SPDX-License-Identifier: MIT
#include "jailbuild/plan_builder.hpp"

#include "jailbuild/accounts.hpp"
#include "jailbuild/bind_source.hpp"
#include "jailbuild/digest.hpp"
#include "jailbuild/discover.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/hostfs.hpp"
#include "jailbuild/inputs.hpp"
#include "jailbuild/jailfs.hpp"
#include "jailbuild/package_db.hpp"
#include "jailbuild/profile.hpp"
#include "jailbuild/site.hpp"
#include "jailbuild/text.hpp"

#include <fnmatch.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <map>
#include <set>

namespace jailbuild {

namespace {

bool starts_with_dir(const std::string& path, const std::string& dir) {
  return path == dir ||
         (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/');
}

EntryRole role_for_host_file(const std::string& path) {
  if (starts_with_dir(path, "/etc")) return EntryRole::config;
  return EntryRole::data;
}

class Builder {
public:
  Builder(const HostRoot& host, const ProfileSet& profiles, const JailSpec& spec, Digests digests,
          const ElfReader& reader)
      : host_(host), profiles_(profiles), spec_(spec), writable_(all_writable(spec)), digests_(digests),
        reader_(reader) {}

  Plan build() {
    check_spec(spec_); // before any work: a spec from a manifest is checked as the command line's
    std::vector<const Profile*> list = profiles_.expand(spec_.services);
    check_requirements(list, Variables::no);
    run_discovery(list);
    decide_triplet(list);
    check_requirements(list, Variables::yes);

    // The closure first: its entries carry the ELF roles and stamps that later duplicates merge into.
    walk_closure(list);
    for (const Profile* p : list)
      apply_profile(*p);
    apply_discovery();
    apply_writable();
    for (const BindSpec& b : spec_.binds)
      add_bind(b, "--bind");
    for (const WritableSpec& w : writable_)
      for (const auto& [point, requested_by] : bind_points_)
        check_writable_beside_bind(w, point, requested_by);
    add_accounts();
    add_own_files();

    plan_.spec = spec_;
    plan_.entries = std::move(entries_).finish();
    plan_.entries = without_excluded(std::move(plan_.entries), spec_.excludes, plan_.warnings);
    settle_file_owners(plan_.entries); // after the excludes: a file left out needs no account
    mark_secrets(plan_.entries);
    check_entries_apart();
    if (digests_ == Digests::now)
      for (PlanEntry& e : plan_.entries)
        if (e.kind == EntryKind::file) e.digest = sha256_file(host_.real(e.source));
    return std::move(plan_);
  }

private:
  // ---- what the services are -------------------------------------------------------------

  enum class Variables { no, yes };
  /// Paths without variables are checked before discovery, the others once $PHP and $TRIPLET are known.
  void check_requirements(const std::vector<const Profile*>& list, Variables pass) {
    for (const Profile* p : list)
      for (const std::string& raw : p->required_paths) {
        bool has_vars = raw.find('$') != std::string::npos;
        if (has_vars != (pass == Variables::yes)) continue;
        std::string path = has_vars ? substitute(raw, SourceLine{p->sources.front(), 0}) : raw;
        if (!host_.exists(path))
          throw Error(p->name, path + " is missing: not installed on the host" +
                                   (p->package.empty() ? std::string()
                                                       : ": install the Debian package " + p->package));
      }
  }

  void run_discovery(const std::vector<const Profile*>& list) {
    for (const Profile* p : list) {
      if ((p->discover == Discovery::php_fpm || p->discover == Discovery::php_runtime) && !php_) {
        runtime_only_ = p->discover == Discovery::php_runtime;
        for (const Profile* other : list)
          if (other->discover == Discovery::php_fpm && runtime_only_)
            throw Error("--with", "php-runtime is the jail of chrooted php-fpm workers, whose master runs "
                                  "outside: it does not go with php-fpm in the same jail");
        php_ = discover_php(host_, spec_.php_version, spec_.pools,
                            runtime_only_ ? DefaultPools::chrooted : DefaultPools::unchrooted);
        vars_["PHP"] = php_->version;
        for (const std::string& w : php_->warnings)
          plan_.warnings.push_back(w);
        check_pools();
        left_out_.insert(php_->left_out_files.begin(), php_->left_out_files.end());
      } else if (p->discover == Discovery::nginx && !nginx_) {
        nginx_ = discover_nginx(host_);
        for (const std::string& w : nginx_->warnings)
          plan_.warnings.push_back(w);
      }
    }
  }

  /// The pools fit the jail: a full jail runs php-fpm inside, so no pool of it may chroot again; the
  /// runtime-only jail is one pool's (or several sharing one) `chroot =` directory. The names taken
  /// are recorded in the spec, so that a pool the host gains later never enters this jail.
  void check_pools() {
    if (php_->pools.empty())
      throw Error("--pool", runtime_only_ ? "no pool of the host sets chroot =: the runtime-only jail is "
                                            "for the workers of such a pool"
                            : php_->host_pools.empty()
                                ? "the host defines no pool: php-fpm would not start"
                                : "every pool of the host sets chroot =, which a full jail cannot run: "
                                  "their workers' jail is --with php-runtime");
    for (const PhpPool& pool : php_->pools) {
      if (!runtime_only_ && !pool.chroot.empty())
        throw Error(pool.where, "pool '" + pool.name + "' sets chroot = " + pool.chroot +
                                    ": inside a jail php-fpm would chroot a second time and SCRIPT_FILENAME "
                                    "from nginx would not exist (\"Primary script unknown\"); its "
                                    "workers' own jail is `jailbuild create " +
                                    pool.chroot + " --with php-runtime --pool " + pool.name + "`");
      if (runtime_only_ && pool.chroot.empty())
        throw Error(pool.where, "pool '" + pool.name +
                                    "' sets no chroot =: its workers run on the host, a runtime-only jail "
                                    "is not theirs (a full jail is: --with php-fpm --pool " +
                                    pool.name + ")");
      if (runtime_only_ && normalize_path(pool.chroot) != normalize_path(php_->pools.front().chroot))
        throw Error(pool.where, "pool '" + pool.name + "' chroots into " + pool.chroot + ", pool '" +
                                    php_->pools.front().name + "' into " + php_->pools.front().chroot +
                                    ": one runtime-only jail is one directory; create one per chroot");
      if (runtime_only_ && pool.chroot.find('$') != std::string::npos)
        throw Error(pool.where, "pool '" + pool.name + "' chroot = " + pool.chroot +
                                    " holds a variable: the jail's directory must be written out");
    }
    if (runtime_only_) plan_.php_chroot = normalize_path(php_->pools.front().chroot);
    if (spec_.pools.empty()) {
      for (const PhpPool& pool : php_->pools)
        spec_.pools.push_back(pool.name);
      if (php_->host_pools.size() > 1) {
        std::string names;
        for (const std::string& name : spec_.pools)
          names += (names.empty() ? "" : ", ") + name;
        plan_.warnings.push_back("php-fpm: the host has " + std::to_string(php_->host_pools.size()) +
                                 " pools and no --pool was given: this jail takes " + names +
                                 " (recorded: a pool added on the host later does not enter it); "
                                 "--pool NAME gives a site a jail of its own");
      }
    }
  }

  /// $TRIPLET comes from the services' own binaries, never from the machine jailbuild runs on.
  void decide_triplet(const std::vector<const Profile*>& list) {
    std::vector<std::string> candidates;
    if (php_) candidates.push_back(php_->fpm_binary);
    if (nginx_) candidates.push_back(nginx_->binary);
    for (const Profile* p : list)
      for (const ElfSpec& e : p->elf)
        for (const std::string& path : e.paths)
          if (path.find('$') == std::string::npos && path.find('*') == std::string::npos)
            candidates.push_back(path);
    for (const std::string& c : candidates) {
      auto resolved = host_.resolve(c);
      if (!resolved || !host_.lstat(resolved->path, Scrutiny::whole)) continue;
      ElfInfo info = read_elf_dynamic(host_.real(resolved->path));
      if (auto t = multiarch_triplet(info)) {
        vars_["TRIPLET"] = *t;
        return;
      }
    }
    // A jail of libraries and data only (--with base,nss,dns,...) still has an architecture: the
    // host's C library's, read (never executed). Several (multiarch) cannot be told apart.
    std::set<std::string> triplets;
    for (const char* pattern : {"/usr/lib/*/libc.so.6", "/lib/*/libc.so.6"})
      for (const std::string& libc : host_.glob(pattern)) {
        auto resolved = host_.resolve(libc);
        if (!resolved || !host_.lstat(resolved->path, Scrutiny::whole)) continue;
        if (auto t = multiarch_triplet(read_elf_dynamic(host_.real(resolved->path)))) triplets.insert(*t);
      }
    if (triplets.size() == 1) {
      vars_["TRIPLET"] = *triplets.begin();
      return;
    }
    throw Error("--with", triplets.empty()
                              ? "cannot tell the architecture: none of the services' programs and no C "
                                "library (/usr/lib/TRIPLET/libc.so.6) was found on the host"
                              : "cannot tell the architecture: the host has C libraries of several "
                                "(multiarch) and no service program says which");
  }

  std::string substitute(const std::string& text, const SourceLine& at) const {
    std::string out;
    for (size_t i = 0; i < text.size();) {
      if (text[i] != '$') {
        out += text[i++];
        continue;
      }
      size_t j = i + 1;
      while (j < text.size() && (std::isalnum(static_cast<unsigned char>(text[j])) || text[j] == '_'))
        ++j;
      std::string name = text.substr(i + 1, j - i - 1);
      auto it = vars_.find(name);
      if (it == vars_.end())
        throw profile_error(at, "$" + name + " is not known here (only $TRIPLET, and $PHP with php-fpm)");
      out += it->second;
      i = j;
    }
    return out;
  }

  // ---- the closure ---------------------------------------------------------------------------

  void walk_closure(const std::vector<const Profile*>& list) {
    std::vector<WalkRoot> roots;
    if (nginx_) {
      roots.push_back({nginx_->binary, {}});
      for (const std::string& m : nginx_->modules)
        roots.push_back({m, nginx_->binary});
    }
    if (php_ && !runtime_only_) { // the runtime-only jail has no php-fpm: its master runs outside
      roots.push_back({php_->fpm_binary, {}});
      // Extensions are dlopen()ed by php-fpm: they resolve in its namespace.
      for (const std::string& e : php_->extensions)
        roots.push_back({e, php_->fpm_binary});
    }
    // Profile ELF files (gconv, NSS and OpenSSL modules, libgcc_s) are dlopen()ed by libraries inside
    // the services' processes: they resolve in a service's namespace, as they will at run time.
    // The runtime-only jail's modules are dlopen()ed by workers after their chroot, beside what the
    // master (outside) has loaded: each is walked as its own root, so that php-fpm and its closure stay
    // out while what a module needs is in.
    std::string host_program = php_ && !runtime_only_ ? php_->fpm_binary
                               : nginx_               ? nginx_->binary
                                                      : std::string();
    for (const Profile* p : list) {
      for (const ElfSpec& spec : p->elf) {
        for (const std::string& pattern : spec.paths) {
          std::vector<std::string> hits = host_.glob(substitute(pattern, spec.written_at));
          if (hits.empty() && spec.presence == Presence::required)
            throw profile_error(spec.written_at,
                                substitute(pattern, spec.written_at) + ": no such file on the host");
          for (const std::string& h : hits)
            roots.push_back({h, is_program(h) ? std::string() : host_program});
        }
      }
    }
    // Libraries' modules (ImageMagick's coders, OpenSSL's providers, ...) from the host's packages:
    // walked as roots dlopen()ed where the library is loaded, their configuration copied.
    ModuleWalk walked = walk_with_modules(host_, roots, reader_);
    WalkResult& result = walked.result;
    for (std::string& w : walked.warnings)
      plan_.warnings.push_back(std::move(w));
    if (!result.unresolved.empty()) {
      std::string list_text;
      for (const Unresolved& u : result.unresolved) {
        list_text += "\n  " + u.name + " (needed by ";
        for (size_t i = 0; i < u.needed_by.size(); ++i)
          list_text += (i ? ", " : "") + u.needed_by[i];
        list_text += ")";
      }
      throw Error(result.unresolved.front().needed_by.front(),
                  "libraries not found on the host, the jail would not run:" + list_text);
    }
    for (const WalkObject& obj : result.objects) {
      for (const SymlinkHop& hop : obj.hops)
        add_symlink(hop.path, hop.target, "walk");
      std::optional<struct stat> st = host_.stat(obj.path, Scrutiny::whole);
      if (!st) throw Error(obj.path, "vanished while planning");
      PlanEntry e;
      e.kind = EntryKind::file;
      bool program = obj.role == ObjectRole::root && obj.elf.interpreter.has_value();
      e.role = program ? EntryRole::executable : EntryRole::library;
      e.path = obj.path;
      e.mode = st->st_mode & 0777;
      e.source = obj.path;
      e.source_stamp = obj.stamp;
      e.requested_by = obj.found_by.empty() ? "walk" : obj.found_by;
      entries_.add(std::move(e));
    }
    // Module configuration is the host's like any /etc file: an admin's edit in the jail is kept.
    for (const RuntimeFile& c : walked.config)
      add_host_path(c.path, c.path, false, nullptr, "module config of " + c.package + " (dpkg)");
    for (const RuntimeFile& la : walked.libtool)
      add_host_path(la.path, la.path, false, nullptr, "module dir of " + la.package + " (dpkg)");
    plan_.objects = std::move(result.objects);
  }

  /// A program (it has an interpreter) runs on its own; anything else is loaded into one.
  bool is_program(const std::string& host_path) {
    auto r = resolver_.resolve(host_path);
    if (!r) return false;
    std::optional<struct stat> st = host_.stat(r->path, Scrutiny::whole);
    if (!st) return false;
    FileStamp stamp = stamp_of(*st);
    return reader_(host_.real(r->path), stamp).interpreter.has_value();
  }

  // ---- profiles ------------------------------------------------------------------------------

  void apply_profile(const Profile& p) {
    std::string requested_by = "profile " + p.name;
    for (const std::string& u : p.users)
      want_user(u);
    for (const std::string& g : p.groups)
      want_group(g);
    for (const SymlinkSpec& s : p.symlinks)
      add_symlink(substitute(s.path, s.written_at), s.target, requested_by);
    for (const DirSpec& d : p.dirs)
      add_dir(substitute(d.path, d.written_at), d.mode, uid_of(d.owner), gid_of(d.group), EntryRole::system,
              requested_by);
    for (const DeviceSpec& d : p.devices) {
      PlanEntry e;
      e.kind = EntryKind::device;
      e.role = EntryRole::system;
      e.path = substitute(d.path, d.written_at);
      e.mode = d.mode & 0777;
      e.device_type = d.type == DeviceSpec::Type::block ? DeviceType::block : DeviceType::character;
      e.major = d.major;
      e.minor = d.minor;
      e.requested_by = requested_by;
      entries_.add(std::move(e));
    }
    for (const FileSpec& f : p.files) {
      // An owner or group the profile names is an account it asks for, as [[dirs]] owners are.
      if (f.owner && !number(*f.owner)) want_user(*f.owner);
      if (f.group && !number(*f.group)) want_group(*f.group);
      std::string pattern = substitute(f.path, f.written_at);
      std::vector<std::string> hits = host_.glob(pattern);
      if (hits.empty() && f.presence == Presence::required)
        throw profile_error(f.written_at,
                            pattern + ": no such file on the host" +
                                (p.package.empty() ? std::string() : " (Debian package " + p.package + "?)"));
      for (const std::string& h : hits) {
        std::string dest = (f.dest.empty() || f.dest == f.path) ? h : substitute(f.dest, f.written_at);
        add_host_path(h, dest, f.recursive == Recursive::yes, &f, requested_by);
      }
    }
    for (const GeneratedSpec& g : p.generate) {
      std::string path = substitute(g.path, g.written_at);
      // The admin's own file (--file) in its place replaces what a profile writes: the mail profile's
      // msmtprc with another relay, sender or a password is the case. Never the accounts' files,
      // which no profile generates (add_accounts).
      if (std::any_of(spec_.files.begin(), spec_.files.end(),
                      [&](const OwnFileSpec& f) { return normalize_path(f.dest) == normalize_path(path); }))
        continue;
      add_generated(path, g.content, g.mode, requested_by);
    }
    for (const BindMountSpec& b : p.binds)
      add_bind({substitute(b.source, b.written_at),
                substitute(b.dest.empty() ? b.source : b.dest, b.written_at),
                b.access == BindAccess::read_only, b.noexec == NoExec::yes},
               requested_by);
  }

  /// A host file, directory or symlink at its place in the jail. Symlinks are reproduced with their
  /// own text and what they point to is brought in too, so that nothing dangles. `from` is the
  /// profile's [[files]] entry (its mode, owner and group), nullptr for what discovery copies.
  void add_host_path(const std::string& host_path, const std::string& jail_path, bool recursive,
                     const FileSpec* from, const std::string& requested_by) {
    // The parent may itself be reached through host symlinks: reproduce them, use the real place.
    std::string parent = dirname_of(host_path);
    auto rparent = resolver_.resolve(parent);
    if (!rparent) return;
    for (const SymlinkHop& hop : rparent->hops)
      add_symlink(hop.path, hop.target, requested_by);
    std::string canonical = join_path(rparent->path, host_path.substr(host_path.rfind('/') + 1));
    add_canonical_path(canonical, jail_path == host_path ? canonical : jail_path, recursive, from,
                       requested_by);
  }

  /// add_host_path() for a path whose parent is known to be free of symlinks (a child met while
  /// descending a directory already resolved): no need to resolve it again.
  void add_canonical_path(const std::string& canonical, const std::string& dest, bool recursive,
                          const FileSpec* from, const std::string& requested_by) {
    if (left_out_.count(canonical) || left_out_.count(dest)) return; // another site's pool file
    if (!visited_.insert(canonical + "\n" + dest).second) return;

    // Seen whole: a file's content is copied, a directory's entries may be.
    std::optional<struct stat> seen = host_.lstat(canonical, Scrutiny::whole);
    if (!seen) return;
    const struct stat& st = *seen;
    if (S_ISLNK(st.st_mode)) {
      std::optional<std::string> link = host_.readlink(canonical);
      if (!link) return;
      const std::string& target = *link;
      add_symlink(dest, target, requested_by);
      if (dest != canonical) add_symlink(canonical, target, requested_by);
      // The link was just read: resolve its target from the link's own (symlink-free) directory.
      std::string next =
          !target.empty() && target.front() == '/' ? target : dirname_of(canonical) + "/" + target;
      if (auto r = resolver_.resolve(next)) {
        for (const SymlinkHop& hop : r->hops)
          add_symlink(hop.path, hop.target, requested_by);
        add_host_path(r->path, r->path, recursive, from, requested_by);
      } else {
        plan_.warnings.push_back(canonical + ": symlink to " + target +
                                 " dangles on the host; reproduced as it is");
      }
      return;
    }
    if (S_ISDIR(st.st_mode)) {
      add_dir(dest, st.st_mode & 01777, 0, 0, role_for_host_file(dest), requested_by);
      if (from)
        file_owners_.try_emplace(dest,
                                 HostOwnership{st.st_uid, st.st_gid, from->owner, from->group, canonical,
                                               from->written_at, requested_by, st.st_mode & 01777});
      if (!recursive) return;
      for (const std::string& c : host_.list_dir(canonical))
        add_canonical_path(join_path(canonical, c), join_path(dest, c), true, from, requested_by);
      return;
    }
    if (!S_ISREG(st.st_mode)) {
      plan_.warnings.push_back(canonical + ": not a regular file, directory or symlink; left out");
      return;
    }
    PlanEntry e;
    e.kind = EntryKind::file;
    e.role = role_for_host_file(dest);
    e.path = dest;
    e.mode = from && from->mode ? *from->mode & 0777 : st.st_mode & 0777; // never setuid/setgid
    e.source = canonical;
    // A profile's file keeps its host owner and group (phpMyAdmin's config-db.php is 0640
    // root:www-data), settled once the jail's accounts are known (settle_file_owners).
    if (from)
      file_owners_.try_emplace(dest, HostOwnership{st.st_uid, st.st_gid, from->owner, from->group, canonical,
                                                   from->written_at, requested_by, 0});
    e.source_stamp = stamp_of(st);
    e.requested_by = requested_by;
    entries_.add(std::move(e));
  }

  // ---- owners of host files ------------------------------------------------------------------

  /// How a profile's host file or directory is owned on the host, and what its [[files]] entry says
  /// instead.
  struct HostOwnership {
    uint32_t host_uid = 0;
    uint32_t host_gid = 0;
    std::optional<std::string> owner, group; ///< the entry's keys
    std::string source;                      ///< host path, for errors
    SourceLine written_at;
    std::string requested_by; ///< to tell a directory's entry from a [[dirs]] or discovery one
    uint32_t dir_mode = 0;    ///< directory: the mode add_dir() gave it
  };

  /// Whether an account's three permission bits (owner's or group's) give it something that every
  /// other account of the jail lacks: only then does losing it to root take anything away.
  static bool grants_beyond_others(uint32_t mode, unsigned shift) {
    return (((mode >> shift) & 7) & ~(mode & 7)) != 0;
  }

  /// Gives each profile file and directory its host owner and group as the jail's accounts, matched by name
  /// (ids may differ between host and jail one day; names are what the jail's passwd and group hold), or the
  /// accounts its entry names. Never an account the jail lacks: a file may not belong to an id that nothing
  /// in the jail is, which a later account of that id would inherit. An account the mode gives nothing beyond
  /// what everyone gets becomes root (no one in the jail loses anything); any other is refused, naming the
  /// file and the account, since the service meant to read the file would fail at run time, far from the
  /// cause.
  void settle_file_owners(std::vector<PlanEntry>& entries) {
    for (PlanEntry& e : entries) {
      if (e.kind != EntryKind::file && e.kind != EntryKind::directory) continue;
      auto it = file_owners_.find(e.path);
      if (it == file_owners_.end()) continue;
      const HostOwnership& o = it->second;
      if (e.kind == EntryKind::file && o.source != e.source) continue;
      // A directory whose owner or mode a [[dirs]] entry or discovery (a state directory) set keeps it.
      if (e.kind == EntryKind::directory &&
          (e.requested_by != o.requested_by || e.uid != 0 || e.gid != 0 || e.mode != o.dir_mode))
        continue;
      e.uid = o.owner ? named_jail_uid(*o.owner, o) : host_uid_in_jail(o, e.mode);
      e.gid = o.group ? named_jail_gid(*o.group, o) : host_gid_in_jail(o.host_gid, e.mode, o.source, &o);
    }
  }

  uint32_t host_uid_in_jail(const HostOwnership& o, uint32_t mode) {
    if (o.host_uid == 0) return 0;
    std::string name;
    for (const PasswdEntry& u : host_users())
      if (u.uid == o.host_uid) {
        name = u.name;
        break;
      }
    for (const PasswdEntry& u : jail_accounts_.users)
      if (!name.empty() && u.name == name) return u.uid;
    if (!grants_beyond_others(mode, 6)) return 0;
    std::string who = name.empty() ? "uid " + std::to_string(o.host_uid) + " (no user of the host)"
                                   : "user " + name + " (uid " + std::to_string(o.host_uid) + ")";
    throw profile_error(
        o.written_at, o.source + ": owned by " + who + " on the host, who is not in the jail, and its mode " +
                          octal_mode(mode) + " gives the owner access others lack: " +
                          (name.empty() ? "" : "add users = [\"" + name + "\"] to the profile, or ") +
                          "set owner = \"root\" on this [[files]] entry");
  }

  /// The jail's gid for a host file's group (`o`: a profile's entry, for its source line; nullptr:
  /// an admin's --file).
  uint32_t host_gid_in_jail(uint32_t host_gid, uint32_t mode, const std::string& source,
                            const HostOwnership* o) {
    if (host_gid == 0) return 0;
    std::string name;
    for (const GroupEntry& g : host_groups())
      if (g.gid == host_gid) {
        name = g.name;
        break;
      }
    for (const GroupEntry& g : jail_accounts_.groups)
      if (!name.empty() && g.name == name) return g.gid;
    if (!grants_beyond_others(mode, 3)) return 0;
    std::string which = name.empty() ? "gid " + std::to_string(host_gid) + " (no group of the host)"
                                     : "group " + name + " (gid " + std::to_string(host_gid) + ")";
    std::string what = "its group on the host is " + which + ", which is not in the jail, and its mode " +
                       octal_mode(mode) + " gives the group access others lack: ";
    if (!o)
      throw Error(source, "--file: " + what + "chgrp the host file to root or to a group of the jail" +
                              (name.empty() ? "" : ", or bring " + name + " in through a profile's groups"));
    throw profile_error(o->written_at,
                        source + ": " + what +
                            (name.empty() ? "" : "add groups = [\"" + name + "\"] to the profile, or ") +
                            "set group = \"root\" on this [[files]] entry");
  }

  /// An owner or group a [[files]] entry names: a name the profile brought into the jail (apply_profile),
  /// or a number that is root's or one of the jail's accounts.
  uint32_t named_jail_uid(const std::string& owner, const HostOwnership& o) {
    std::optional<uint32_t> n = number(owner);
    if (owner == "root" || n == 0u) return 0;
    for (const PasswdEntry& u : jail_accounts_.users)
      if (n ? u.uid == *n : u.name == owner) return u.uid;
    throw profile_error(o.written_at, o.source + ": owner = \"" + owner + "\" is not a user of the jail");
  }
  uint32_t named_jail_gid(const std::string& group, const HostOwnership& o) {
    std::optional<uint32_t> n = number(group);
    if (group == "root" || n == 0u) return 0;
    for (const GroupEntry& g : jail_accounts_.groups)
      if (n ? g.gid == *n : g.name == group) return g.gid;
    throw profile_error(o.written_at, o.source + ": group = \"" + group + "\" is not a group of the jail");
  }

  static std::string octal_mode(uint32_t mode) {
    char text[8];
    std::snprintf(text, sizeof text, "%04o", mode & 07777);
    return text;
  }

  // ---- the admin's own files (--file SRC:DEST) -------------------------------------------------

  /// Each a conffile (local edits in the jail kept, synced when the host copy changes), read from
  /// the host through the resolver, so that the input record has it and a no-op sync notices a change.
  /// SRC is root's own choice (the command line, the definition; never an archive: unpack drops an
  /// archive's files), but still only a regular file is read: a FIFO would hang the apt hook's sync.
  void add_own_files() {
    for (const OwnFileSpec& f : spec_.files) {
      auto resolved = resolver_.resolve(f.source);
      if (!resolved) throw Error(f.source, "--file: no such file on the host");
      std::optional<struct stat> st = host_.lstat(resolved->path, Scrutiny::whole);
      if (!st) throw Error(f.source, "--file: no such file on the host");
      if (!S_ISREG(st->st_mode))
        throw Error(f.source, "--file: is " + type_name(st->st_mode) + ", not a regular file; never read");
      bool secret = f.secret || holds_private_key(resolved->path, *st);
      PlanEntry e;
      e.kind = EntryKind::file;
      e.role = EntryRole::config;
      e.path = f.dest;
      // Never writable by the jail's services; a secret readable by root only (nginx's master reads
      // its keys as root), or the host's mode when that is stricter still.
      e.mode = secret ? st->st_mode & 0600 : st->st_mode & 0755;
      // Root's (a service must never rewrite what the admin placed), in the host file's group when the
      // jail has it: a 0640 root:www-data config stays readable by the pool it is for.
      e.gid = host_gid_in_jail(st->st_gid, e.mode, f.source, nullptr);
      e.source = resolved->path;
      e.source_stamp = stamp_of(*st);
      e.secret = secret;
      e.requested_by = "--file";
      entries_.add(std::move(e));
    }
  }

  /// A PEM private key ("-----BEGIN ... PRIVATE KEY-----"), which must never leave the host in an
  /// archive by accident. Only files small enough to be one are read.
  bool holds_private_key(const std::string& host_path, const struct stat& st) {
    if (st.st_size > (1 << 20)) return false;
    return is_private_key_text(host_.read_file(host_path));
  }

  // ---- discovery -----------------------------------------------------------------------------

  void apply_discovery() {
    if (php_ && runtime_only_) {
      apply_runtime_discovery();
    } else if (php_) {
      const std::string requested_by = "discovery php-fpm";
      for (const PhpPool& pool : php_->pools) {
        if (!pool.user.empty()) want_user(pool.user);
        if (!pool.group.empty()) want_group(pool.group);
        if (!pool.listen_owner.empty() && pool.listen_owner != "root") want_user(pool.listen_owner);
        if (!pool.listen_group.empty() && pool.listen_group != "root") want_group(pool.listen_group);
      }
      // php-fpm.conf's include= reaches the chosen pools' files only; those outside /etc/php too.
      for (const std::string& f : php_->fpm_conf_files)
        add_host_path(f, f, false, nullptr, requested_by);
      // The master runs as root and creates sockets, the pid file and logs: root-owned directories.
      for (const std::string& d : php_->socket_dirs)
        add_dir(d, 0755, 0, 0, EntryRole::state, requested_by);
      if (!php_->pid_file.empty()) add_parent_dir(php_->pid_file, requested_by);
      for (const std::string& f : php_->log_files)
        add_parent_dir(f, requested_by);
      // As Debian has /var/lib/php/sessions: every worker may create files, none may list them.
      for (const std::string& d : php_->session_dirs)
        add_dir(d, 01733, 0, 0, EntryRole::state, requested_by);
      for (const std::string& d : php_->upload_dirs)
        add_dir(d, 01733, 0, 0, EntryRole::state, requested_by);
    }
    if (nginx_) {
      const std::string requested_by = "discovery nginx";
      want_user(nginx_->user);
      want_group(nginx_->group);
      if (!nginx_->pid_file.empty()) add_parent_dir(nginx_->pid_file, requested_by);
      for (const std::string& f : nginx_->log_files)
        add_parent_dir(f, requested_by);
      for (const std::string& d : nginx_->socket_dirs)
        add_dir(d, 0755, 0, 0, EntryRole::state, requested_by);
      for (const std::string& f : nginx_->tls_files)
        add_tls_file(f, Secret::no);
      for (const std::string& f : nginx_->tls_secrets)
        add_tls_file(f, Secret::yes);
      // Temporary files are written by the workers: theirs alone.
      for (const std::string& d : nginx_->temp_dirs) {
        add_parent_dir(d, requested_by);
        add_dir(d, 0700, uid_of(nginx_->user), gid_of(nginx_->group), EntryRole::state, requested_by);
      }
    }
  }

  enum class Secret { no, yes };
  /// A TLS file nginx's configuration names, at its host path (a symlink reproduced, as Let's Encrypt's
  /// live/ links to archive/). A secret is marked once the plan is complete (mark_secrets).
  void add_tls_file(const std::string& path, Secret secret) {
    auto resolved = resolver_.resolve(path);
    if (!resolved || !host_.exists(resolved->path)) {
      plan_.warnings.push_back(path + ": named by nginx's TLS configuration but missing on the host: "
                                      "nginx would not start");
      return;
    }
    add_host_path(path, path, false, nullptr, "discovery nginx (TLS)");
    if (secret == Secret::yes) {
      secret_paths_.insert(normalize_path(path));
      secret_paths_.insert(resolved->path);
    }
  }

  /// Private keys are root's alone in the jail, whatever their mode on the host: nginx's master reads
  /// them as root before it drops privileges (and again on reload), its workers never do, and a
  /// compromised worker or PHP must not read them. Marked secret, they stay out of archives.
  void mark_secrets(std::vector<PlanEntry>& entries) const {
    for (PlanEntry& e : entries)
      if (e.kind == EntryKind::file && secret_paths_.count(e.path)) {
        e.secret = true;
        e.mode = 0600;
        e.uid = 0;
        e.gid = 0;
      }
  }

  /// What the chrooted workers of the chosen pools need at run time, as they see it (the jail is their
  /// `/`): their users, session and upload directories theirs alone when one user runs them all, the
  /// directory they start in. No php-fpm, no extension, no configuration: the master, outside, has
  /// loaded them before it forked; the sockets, pid file and logs are the master's, on the host.
  void apply_runtime_discovery() {
    const std::string requested_by = "discovery php-runtime";
    std::set<std::string> pool_users;
    for (const PhpPool& pool : php_->pools) {
      if (!pool.user.empty()) want_user(pool.user);
      if (!pool.group.empty()) want_group(pool.group);
      pool_users.insert(pool.user + ":" + pool.group);
    }
    const PhpPool& first = php_->pools.front();
    const bool one_user = pool_users.size() == 1 && !first.user.empty() && first.user != "root";
    for (const auto* dirs : {&php_->session_dirs, &php_->upload_dirs})
      for (const std::string& d : *dirs) {
        add_parent_dir(d, requested_by);
        // One pool's own: no other user's session files to hide, and PHP's garbage collection may list
        // them. Shared by several users: as Debian has it, writable by all, listable by none.
        if (one_user)
          add_dir(d, 0700, uid_of(first.user), gid_of(first.group.empty() ? first.user : first.group),
                  EntryRole::state, requested_by);
        else
          add_dir(d, 01733, 0, 0, EntryRole::state, requested_by);
      }
    // The docroot the workers chdir into: made when missing, never populated (the site's code is the
    // admin's), root's so that the workers cannot rewrite the code they run.
    for (const PhpPool& pool : php_->pools)
      if (!pool.chdir.empty() && pool.chdir.front() == '/' && pool.chdir.find('$') == std::string::npos &&
          normalize_path(pool.chdir) != "/") {
        add_parent_dir(normalize_path(pool.chdir), requested_by);
        add_dir(normalize_path(pool.chdir), 0755, 0, 0, EntryRole::data, requested_by);
      }
  }

  /// Nothing jailbuild manages lies in a writable directory (its owner could swap it for a link or
  /// a file of its own before root writes it), and nothing at all in /.jailbuild, which root reads.
  void check_entries_apart() const {
    for (const PlanEntry& e : plan_.entries) {
      if (starts_with_dir(e.path, "/.jailbuild"))
        throw Error(e.path,
                    "is in /.jailbuild, jailbuild's manifest directory, which root reads: nothing of a "
                    "plan goes there (" +
                        e.requested_by + ")");
      for (const WritableSpec& w : writable_)
        if (e.path != w.path && starts_with_dir(e.path, w.path))
          throw Error(w.path,
                      "--writable: holds " + e.path + " (" + e.requested_by +
                          "), which jailbuild manages: the service owning the directory could replace it");
    }
  }

  void apply_writable() {
    // A site's docroot belongs to the account owning its code (root: the code is read-only to every
    // service); what lies below it is the admin's, never planned (site.hpp).
    for (const SiteSpec& site : spec_.sites) {
      want_user(site.owner);
      std::string group = primary_group_of(site.owner);
      want_group(group);
      add_dir(site.docroot, 0755, uid_of(site.owner), gid_of(group), EntryRole::data, "site");
    }
    for (const WritableSpec& w : writable_) {
      (void)uid_of(w.owner); // "no such user" for an unknown owner, before its group is looked for
      want_user(w.owner);
      std::string group = w.group.empty() ? primary_group_of(w.owner) : w.group;
      want_group(group);
      add_dir(w.path, 0750, uid_of(w.owner), gid_of(group), EntryRole::state, "--writable");
    }
  }

  // ---- accounts ------------------------------------------------------------------------------

  void want_user(const std::string& name) {
    if (name.empty() || name == "root" || name == "0") return;
    if (std::find(users_.begin(), users_.end(), name) == users_.end()) users_.push_back(name);
  }
  void want_group(const std::string& name) {
    if (name.empty() || name == "root" || name == "0") return;
    if (std::find(groups_.begin(), groups_.end(), name) == groups_.end()) groups_.push_back(name);
  }

  const std::vector<PasswdEntry>& host_users() {
    if (!host_users_) host_users_ = parse_passwd(host_.read_file("/etc/passwd"));
    return *host_users_;
  }
  const std::vector<GroupEntry>& host_groups() {
    if (!host_groups_) host_groups_ = parse_group(host_.read_file("/etc/group"));
    return *host_groups_;
  }

  static std::optional<uint32_t> number(const std::string& s) {
    uint32_t v;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
  }

  uint32_t uid_of(const std::string& name) {
    if (name == "root") return 0;
    if (auto n = number(name)) return *n;
    want_user(name);
    for (const PasswdEntry& u : host_users())
      if (u.name == name) return u.uid;
    throw Error(name, "no such user on the host (/etc/passwd)");
  }
  uint32_t gid_of(const std::string& name) {
    if (name == "root") return 0;
    if (auto n = number(name)) return *n;
    want_group(name);
    for (const GroupEntry& g : host_groups())
      if (g.name == name) return g.gid;
    throw Error(name, "no such group on the host (/etc/group)");
  }
  std::string primary_group_of(const std::string& user) {
    for (const PasswdEntry& u : host_users())
      if (u.name == user)
        for (const GroupEntry& g : host_groups())
          if (g.gid == u.gid) return g.name;
    return user;
  }

  void add_accounts() {
    JailAccounts accounts = resolve_accounts(host_, users_, groups_);
    const std::string requested_by = "accounts";
    add_generated("/etc/passwd", render_passwd(accounts), 0644, requested_by);
    add_generated("/etc/group", render_group(accounts), 0644, requested_by);
    add_generated("/etc/shadow", render_shadow(accounts), 0600, requested_by);
    add_generated("/etc/gshadow", render_gshadow(accounts), 0600, requested_by);
    for (const PasswdEntry& u : accounts.users)
      plan_.users.push_back(u.name);
    jail_accounts_ = std::move(accounts);
  }

  // ---- entries -------------------------------------------------------------------------------

  void add_dir(const std::string& path, uint32_t mode, uint32_t uid, uint32_t gid, EntryRole role,
               const std::string& requested_by) {
    PlanEntry e;
    e.kind = EntryKind::directory;
    e.role = role;
    e.path = path;
    e.mode = mode & 01777;
    e.uid = uid;
    e.gid = gid;
    e.requested_by = requested_by;
    entries_.add(std::move(e));
  }
  void add_parent_dir(const std::string& file, const std::string& requested_by) {
    std::string dir = dirname_of(file);
    if (dir != "/" && !entries_.contains(dir)) add_dir(dir, 0755, 0, 0, EntryRole::state, requested_by);
  }
  void add_symlink(const std::string& path, const std::string& target, const std::string& requested_by) {
    PlanEntry e;
    e.kind = EntryKind::symlink;
    e.role = EntryRole::system;
    e.path = path;
    e.mode = 0777;
    e.source = target;
    e.requested_by = requested_by;
    entries_.add(std::move(e));
  }
  void add_generated(const std::string& path, const std::string& content, uint32_t mode,
                     const std::string& requested_by) {
    PlanEntry e;
    e.kind = EntryKind::generated;
    e.role = EntryRole::config;
    e.path = path;
    e.mode = mode & 0777;
    e.content = content;
    e.digest = sha256_hex(content);
    e.requested_by = requested_by;
    entries_.add(std::move(e));
  }
  void add_bind(const BindSpec& b, const std::string& requested_by) {
    check_bind_spec(b, requested_by);
    if (!host_.exists(b.source)) throw Error(b.source, "bind source does not exist on the host");
    // Opened as `mount` opens it, to refuse now what mount would refuse. Not a look the plan is made
    // from (it bypasses the input record): `mount` checks again on every run, which is what counts.
    (void)open_bind_source(host_, b.source);
    bind_points_.emplace_back(b.dest, requested_by);
    PlanEntry e;
    e.kind = EntryKind::bind;
    e.role = EntryRole::system;
    e.path = b.dest;
    e.mode = 0755;
    e.source = b.source;
    e.read_only = b.read_only;
    e.noexec = b.noexec;
    e.requested_by = requested_by;
    entries_.add(std::move(e));
  }

  const HostRoot& host_;
  const ProfileSet& profiles_;
  JailSpec spec_;
  std::vector<WritableSpec> writable_; ///< the spec's and its sites' writable directories
  Digests digests_;
  const ElfReader& reader_;
  ResolveCache resolver_{host_};
  Plan plan_;
  EntrySet entries_;
  std::map<std::string, std::string> vars_;
  std::optional<PhpDiscovery> php_;
  std::optional<NginxDiscovery> nginx_;
  std::vector<std::string> users_, groups_;
  std::optional<std::vector<PasswdEntry>> host_users_;
  std::optional<std::vector<GroupEntry>> host_groups_;
  JailAccounts jail_accounts_; ///< the jail's passwd and group, as add_accounts() writes them
  std::map<std::string, HostOwnership> file_owners_; ///< profile files by jail path (settle_file_owners)
  std::set<std::string> visited_;
  std::set<std::string> left_out_;     ///< host paths never copied: other pools' files
  std::set<std::string> secret_paths_; ///< jail paths of private keys (mark_secrets)
  bool runtime_only_ = false;          ///< php-runtime: the chrooted workers' jail, no php-fpm in it
  std::vector<std::pair<std::string, std::string>>
      bind_points_; ///< (mount point, who asked for it) of every bind
};

} // namespace

Plan build_plan(const HostRoot& host, const ProfileSet& profiles, const JailSpec& spec, Digests digests,
                const ElfReader& reader) {
  return Builder(host, profiles, spec, digests, reader).build();
}

RecordedPlan build_recorded_plan(HostRoot& host, const JailSpec& spec, Digests digests,
                                 const ElfReader& reader) {
  InputLog looks(host.root());
  looks.saw_tool(spec.profile_dirs); // before the profiles are read: a change meanwhile plans again
  struct Recording {
    HostRoot& host;
    ~Recording() { host.set_input_log(nullptr); }
  } recording{host};
  host.set_input_log(&looks);
  ProfileSet profiles = ProfileSet::load(spec.profile_dirs);
  Plan plan = build_plan(host, profiles, spec, digests, reader);
  return {std::move(plan), std::move(looks).finish()};
}

// ---- the admin's own files (--file) -------------------------------------------------------------

OwnFileSpec parse_own_file(std::string_view arg) {
  std::vector<std::string> parts = split(arg, ':');
  if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || parts[0][0] != '/' || parts[1].empty() ||
      parts[1][0] != '/' || (parts.size() == 3 && parts[2] != "secret"))
    throw Error(std::string(arg), "--file wants SRC:DEST[:secret] with absolute paths");
  return {parts[0], parts[1], parts.size() == 3};
}

void check_own_file(const OwnFileSpec& f) {
  if (f.source.empty() || f.source.front() != '/')
    throw Error(f.source, "--file: the source must be an absolute path");
  if (std::any_of(f.source.begin(), f.source.end(),
                  [](char c) { return std::iscntrl(static_cast<unsigned char>(c)); }))
    throw Error(f.source, "--file: the source holds a control character");
  // The checks every jail path of a spec gets (absolute, clean, not the root, not /.jailbuild); a
  // destination in a writable directory is refused with the plan (check_entries_apart), as any entry.
  if (std::optional<std::string> why = refused_jail_path(f.dest, JailPathUse::bind_point))
    throw Error(f.dest, "--file: " + *why);
}

bool is_private_key_text(std::string_view text) {
  for (std::size_t at = text.find("-----BEGIN "); at != std::string_view::npos;
       at = text.find("-----BEGIN ", at + 1)) {
    std::size_t end = text.find("-----", at + 11);
    if (end == std::string_view::npos) return false;
    std::string_view label = text.substr(at + 11, end - at - 11);
    if (label.size() >= 11 && label.substr(label.size() - 11) == "PRIVATE KEY") return true;
  }
  return false;
}

// ---- the admin's excludes (--exclude) ---------------------------------------------------------

void check_exclude(std::string_view pattern) {
  std::string p(pattern);
  auto refuse = [&](const std::string& why) { throw Error(p, "--exclude: " + why); };
  if (p.empty() || p.front() != '/')
    refuse("must be an absolute jail path or glob, e.g. /etc/nginx/sites-enabled/*");
  if (p == "/" || p == "/*") refuse("would leave out the whole jail");
  if (p.back() == '/') refuse("no trailing slash: a directory excludes what is below it");
  for (char c : p)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) refuse("holds a control character");
  for (std::string_view part : split_view(std::string_view(p).substr(1), '/'))
    if (part.empty() || part == "." || part == "..")
      refuse("must be written cleanly (no empty, . or .. part)");
}

bool excluded_by(std::string_view path, std::string_view pattern) {
  // FNM_PATHNAME: "*" never crosses a "/", as in a shell; a match of a directory covers what is
  // below it, so "/etc/nginx/sites-enabled" leaves out the directory and its files.
  std::string pat(pattern);
  std::string p(path);
  for (;;) {
    if (::fnmatch(pat.c_str(), p.c_str(), FNM_PATHNAME) == 0) return true;
    std::size_t slash = p.rfind('/');
    if (slash == 0 || slash == std::string::npos) return false;
    p.resize(slash);
  }
}

namespace {

/// Why leaving out `e` would break the jail, or "" when the admin may. The jail's programs,
/// libraries and device nodes are what the services run with (an excluded libc or /dev/null is an
/// outage at the next restart, after an apt upgrade nobody watches); the accounts jailbuild writes
/// are how they find their users; a bind is the admin's own request. Refused when asked, with the
/// reason, rather than allowed with a warning the apt hook's --quiet run would not show.
std::string needed_by_the_jail(const PlanEntry& e) {
  switch (e.kind) {
  case EntryKind::device:
    return "a device node the services use";
  case EntryKind::bind:
    return "a bind mount point asked for with --bind or by a profile";
  case EntryKind::generated:
    if (e.path == "/etc/passwd" || e.path == "/etc/group" || e.path == "/etc/shadow" ||
        e.path == "/etc/gshadow")
      return "the jail's accounts, which its services need";
    break;
  case EntryKind::file:
  case EntryKind::symlink:
  case EntryKind::directory:
    break;
  }
  if (e.role == EntryRole::executable) return "a program of the jail";
  if (e.role == EntryRole::library) return "a library the jail's programs load";
  return "";
}

} // namespace

std::vector<PlanEntry> without_excluded(std::vector<PlanEntry> entries,
                                        const std::vector<std::string>& excludes,
                                        std::vector<std::string>& warnings) {
  if (excludes.empty()) return entries;
  std::vector<bool> used(excludes.size(), false);
  std::vector<PlanEntry> kept;
  kept.reserve(entries.size());
  for (PlanEntry& e : entries) {
    std::size_t hit = excludes.size();
    for (std::size_t i = 0; i < excludes.size() && hit == excludes.size(); ++i)
      if (e.path != "/" && excluded_by(e.path, excludes[i])) hit = i;
    if (hit == excludes.size()) {
      kept.push_back(std::move(e));
      continue;
    }
    if (std::string why = needed_by_the_jail(e); !why.empty())
      throw Error(excludes[hit], "--exclude: would leave out " + e.path + ", " + why + " (asked for by " +
                                     e.requested_by + "); exclude something narrower");
    used[hit] = true;
  }
  for (std::size_t i = 0; i < excludes.size(); ++i)
    if (!used[i]) warnings.push_back("--exclude " + excludes[i] + " matches nothing the jail would hold");
  return kept;
}

} // namespace jailbuild
