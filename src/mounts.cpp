// SPDX-License-Identifier: MIT
//
// Why mounts are made onto file descriptors: root makes the bind mounts, and their mount points lie
// in the jail, where the services may write. Were a mount point named by a path, a process in the jail
// could replace /mnt/data by a symlink to /etc between our check and mount(2), and root would bind the
// source (say the host's /proc, or a read-write data directory) over the host's /etc. So:
//  - the mount point is opened through JailFs::open_path (openat2 with RESOLVE_IN_ROOT |
//    RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS, as O_PATH): a symlink anywhere is refused, and the
//    fd holds exactly the inode found inside the jail;
//  - the mount is attached to that fd: move_mount(2) with MOVE_MOUNT_T_EMPTY_PATH, or mount(2) onto
//    /proc/self/fd/N, a magic link to the fd's own inode, not a path anything can swap;
//  - the source is opened the same way on the host side (bind_source.cpp: no symlink followed that
//    anyone but root could have planted) and the mount is made from that fd: open_tree(2) with
//    AT_EMPTY_PATH, or mount(2) from /proc/self/fd/S;
//  - afterwards the mount table must show the new mount at the jail path, with the source's inode, its
//    file system and its directory in that file system, and the asked-for options; otherwise it is
//    detached again;
//  - unmounting names the point as /proc/self/fd/P/NAME, P its parent opened the same way, with
//    UMOUNT_NOFOLLOW; a mount point cannot be renamed or replaced while something is mounted on it.
// Binds are never recursive: submounts of the source (e.g. under /proc) stay outside the jail.
#include "jailbuild/mounts.hpp"

#include "jailbuild/assemble.hpp"
#include "jailbuild/bind_source.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/fd.hpp"
#include "jailbuild/hostfs.hpp"
#include "jailbuild/jail_lock.hpp"
#include "jailbuild/jailfs.hpp"
#include "jailbuild/manifest.hpp"
#include "jailbuild/plan_builder.hpp"
#include "jailbuild/text.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace jailbuild {

namespace {

/// More mounts stacked on one point than this means something is wrong; umount stops there.
constexpr int max_stacked_mounts = 16;

std::string proc_fd(int fd) {
  return "/proc/self/fd/" + std::to_string(fd);
}

std::string read_proc(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw system_error(path, "cannot read", errno);
  return read_all(fd.get(), path);
}

bool is_octal(char c) {
  return c >= '0' && c <= '7';
}

/// mountinfo writes space, tab, newline and backslash in paths as "\ooo".
std::string unescape(std::string_view field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && is_octal(field[i + 1]) && is_octal(field[i + 2]) &&
        is_octal(field[i + 3])) {
      out += static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 + (field[i + 3] - '0'));
      i += 3;
    } else {
      out += field[i];
    }
  }
  return out;
}

bool parse_u64(std::string_view s, uint64_t& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

/// "254:0" -> 254, 0.
bool parse_device(std::string_view s, unsigned& major, unsigned& minor) {
  size_t colon = s.find(':');
  uint64_t high = 0, low = 0;
  if (colon == std::string_view::npos || !parse_u64(s.substr(0, colon), high) ||
      !parse_u64(s.substr(colon + 1), low) || high > UINT_MAX || low > UINT_MAX)
    return false;
  major = static_cast<unsigned>(high);
  minor = static_cast<unsigned>(low);
  return true;
}

/// The id of the mount an fd lies on, from /proc/self/fdinfo (statx's STATX_MNT_ID is not in
/// Debian 12's glibc struct).
uint64_t mount_id(int fd, const std::string& shown) {
  std::string info = read_proc("/proc/self/fdinfo/" + std::to_string(fd));
  for (std::string_view line : split_view(info, '\n')) {
    if (line.rfind("mnt_id:", 0) != 0) continue;
    line.remove_prefix(7);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t'))
      line.remove_prefix(1);
    uint64_t id = 0;
    if (parse_u64(line, id)) return id;
  }
  throw Error(shown, "no mnt_id in /proc/self/fdinfo");
}

/// The mount an fd lies on, as the mount table shows it.
MountInfo mount_of(int fd, const std::string& shown) {
  uint64_t id = mount_id(fd, shown);
  for (MountInfo& m : read_mountinfo())
    if (m.id == id) return std::move(m);
  throw Error(shown, "its mount " + std::to_string(id) + " is not in /proc/self/mountinfo");
}

unsigned long mount_flags(const PlanEntry& bind) {
  unsigned long flags = MS_NOSUID | MS_NODEV;
  if (bind.read_only) flags |= MS_RDONLY;
  if (bind.noexec) flags |= MS_NOEXEC;
  return flags;
}

bool inside(std::string_view path, std::string_view dir) {
  return dir == "/" || path == dir ||
         (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/');
}

/// File systems of the kernel: bound into a jail, they hand it the host's processes, devices or
/// settings whatever path they were reached by (a procfs mounted at /srv/p is still the host's /proc).
bool is_kernel_fs(std::string_view type) {
  for (std::string_view fs :
       {"proc", "sysfs", "devtmpfs", "devpts", "cgroup", "cgroup2", "debugfs", "tracefs", "securityfs", "bpf",
        "configfs", "efivarfs", "pstore", "fusectl", "binfmt_misc", "mqueue", "nsfs"})
    if (type == fs) return true;
  return false;
}

/// Where the source lies in its file system: what a bind of it shows in mountinfo (device, root).
struct SourceMount {
  unsigned major = 0, minor = 0;
  std::string root;
};

/// The mount table's view of the opened source: its mount's device, and its directory in that file
/// system (the mount's root plus the source's path below the mount point). A bind of the source must
/// show exactly these; anything else was not what was asked for.
SourceMount source_mount(const BindSource& src, const std::string& shown_source) {
  MountInfo m = mount_of(src.fd.get(), shown_source);
  if (is_kernel_fs(m.fs_type))
    throw Error(shown_source, "lies on " + m.fs_type + ", a kernel file system: never bound into a jail");
  std::optional<std::string> opened = read_link_at(AT_FDCWD, proc_fd(src.fd.get()).c_str());
  if (!opened) throw system_error(shown_source, "reading where the opened source lies", errno);
  const std::string& where = *opened;
  if (!inside(where, m.mount_point))
    throw Error(shown_source, "cannot tell where " + where + " lies in its mount " + m.mount_point);
  std::string rest = m.mount_point == "/" ? where : where.substr(m.mount_point.size());
  return {m.major, m.minor, normalize_path(m.root + "/" + rest)};
}

bool shows_source(const MountInfo& mount, const SourceMount& source) {
  return mount.major == source.major && mount.minor == source.minor && mount.root == source.root;
}

/// Creates a missing mount point and its missing parents, root-owned, through JailFs. An existing
/// entry is left as it is: open_path refuses a symlink, and the type is checked on the fd.
void make_mount_point(JailFs& jail, const std::string& rel, bool directory) {
  std::vector<std::string_view> parts = split_view(rel, '/');
  std::string prefix;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    if (parts[i].empty()) continue; // the leading "/"
    prefix += "/" + std::string(parts[i]);
    if (!jail.lstat(prefix)) jail.make_dir(prefix, 0755, 0, 0);
  }
  if (jail.lstat(rel)) return;
  if (directory)
    jail.make_dir(rel, 0755, 0, 0);
  else
    jail.write_file(rel, "", 0644, 0, 0);
}

void remount(int fd, const PlanEntry& bind, const std::string& shown) {
  // MS_REMOUNT | MS_BIND changes the per-mount flags only; the atime flags are kept (Linux >= 3.17).
  if (::mount(nullptr, proc_fd(fd).c_str(), nullptr, MS_REMOUNT | MS_BIND | mount_flags(bind), nullptr) != 0)
    throw system_error(shown, "remounting the bind of " + bind.source + " " + join(bind_options(bind), ","),
                       errno);
}

/// Attaches a detached clone of the opened source, its flags set before it is visible anywhere.
/// Returns an fd of the new mount, or an empty UniqueFd when the kernel lacks the new mount API.
UniqueFd attach_detached(const BindSource& src, int point, const PlanEntry& bind, const std::string& shown) {
  const std::string& source = bind.source;
  // No AT_RECURSIVE: a plain, non-recursive bind. AT_EMPTY_PATH: the inode the fd holds, no path.
  UniqueFd tree(::open_tree(src.fd.get(), "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH));
  if (tree.get() < 0) {
    if (errno == ENOSYS) return UniqueFd();
    throw system_error(shown, "cloning the bind source " + source, errno);
  }
  const uint64_t all = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  if (bind.read_only) attr.attr_set |= MOUNT_ATTR_RDONLY;
  if (bind.noexec) attr.attr_set |= MOUNT_ATTR_NOEXEC;
  attr.attr_clr = all & ~attr.attr_set;
  if (::mount_setattr(tree.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) != 0) {
    if (errno == ENOSYS) return UniqueFd(); // Linux 5.2 to 5.11: open_tree without mount_setattr
    throw system_error(shown, "setting the flags of the bind of " + source, errno);
  }
  if (::move_mount(tree.get(), "", point, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
    throw system_error(shown, "attaching the bind of " + source, errno);
  return tree;
}

bool same_inode(int fd, const struct stat& source) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 && st.st_dev == source.st_dev && st.st_ino == source.st_ino;
}

/// Checks that the mount held by `mounted` sits at the jail path, shows the source (its inode, its
/// file system and directory) and has the bind's options, and that the jail path leads to it (nothing
/// stacked above, nothing swapped).
void verify(JailFs& jail, const std::string& rel, int mounted, const struct stat& source,
            const SourceMount& source_in_fs, const PlanEntry& bind, const std::string& shown) {
  MountInfo m = mount_of(mounted, shown);
  if (m.mount_point != shown)
    throw Error(shown, "the bind mount of " + bind.source + " landed at " + m.mount_point + " instead");
  if (!same_inode(mounted, source) || !shows_source(m, source_in_fs))
    throw Error(shown, "the mount here does not show the bind source " + bind.source + " (it shows " +
                           m.root + " of " + std::to_string(m.major) + ":" + std::to_string(m.minor) + ")");
  if (!bind_options_match(m, bind))
    throw Error(shown,
                "mounted with options " + join(m.options, ",") + ", not " + join(bind_options(bind), ","));
  UniqueFd now(jail.open_path(rel));
  if (mount_id(now.get(), shown) != m.id)
    throw Error(shown, "the jail path does not lead to the new bind mount");
}

} // namespace

bool MountInfo::has_option(std::string_view option) const {
  return std::find(options.begin(), options.end(), option) != options.end();
}

std::vector<MountInfo> parse_mountinfo(std::string_view text) {
  std::vector<MountInfo> out;
  for (std::string_view line : split_view(text, '\n')) {
    std::vector<std::string_view> f = split_view(line, ' ');
    // id parent major:minor root mount_point options [optional fields...] - fs_type source super_options
    if (f.size() < 9) continue;
    auto dash = std::find(f.begin() + 6, f.end(), std::string_view("-"));
    if (f.end() - dash < 3) continue;
    MountInfo m;
    if (!parse_u64(f[0], m.id) || !parse_u64(f[1], m.parent) || !parse_device(f[2], m.major, m.minor))
      continue;
    m.root = unescape(f[3]);
    m.mount_point = unescape(f[4]);
    for (std::string_view option : split_view(f[5], ','))
      if (!option.empty()) m.options.emplace_back(option);
    m.fs_type = unescape(dash[1]);
    m.source = unescape(dash[2]);
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<MountInfo> read_mountinfo() {
  return parse_mountinfo(read_proc("/proc/self/mountinfo"));
}

std::vector<std::string> bind_options(const PlanEntry& bind) {
  std::vector<std::string> options{bind.read_only ? "ro" : "rw", "nosuid", "nodev"};
  if (bind.noexec) options.emplace_back("noexec");
  return options;
}

bool bind_options_match(const MountInfo& mount, const PlanEntry& bind) {
  return mount.has_option(bind.read_only ? "ro" : "rw") && mount.has_option("nosuid") &&
         mount.has_option("nodev") && mount.has_option("noexec") == bind.noexec;
}

std::string_view to_string(BindAction action) {
  switch (action) {
  case BindAction::mounted:
    return "mounted";
  case BindAction::remounted:
    return "remounted";
  case BindAction::unchanged:
    return "unchanged";
  case BindAction::unmounted:
    return "unmounted";
  case BindAction::absent:
    return "absent";
  }
  return "?";
}

BindResult mount_bind(JailFs& jail, const HostRoot& host, const PlanEntry& bind, MountApi api,
                      const std::vector<std::string>& registered_jails) {
  const std::string& rel = bind.path; // JailFs takes jail paths as they are, leading "/" and all
  const std::string shown = jail.path(rel);
  if (bind.kind != EntryKind::bind) throw Error(shown, "not a bind entry");
  // The manifest may come from an archive: its mount point is checked as a spec's would be.
  if (std::optional<std::string> why = refused_jail_path(bind.path, JailPathUse::bind_point))
    throw Error(shown, *why);
  const BindSource src = open_bind_source(host, bind.source, registered_jails);
  const std::string real = host.real(src.path);
  const std::string written = host.real(normalize_path(bind.source));
  // A source inside the jail could be swapped by a process in the jail for a link to any host path;
  // one that holds the jail would let it rename or replace the jail itself.
  if (inside(real, jail.root()) || inside(written, jail.root()))
    throw Error(bind.source,
                "bind source lies inside the jail " + jail.root() + ": a process in the jail could swap it");
  if (inside(jail.root(), real))
    throw Error(bind.source, "bind source holds the jail " + jail.root() +
                                 ": a process in the jail could rename or replace the jail itself");
  const SourceMount source_in_fs = source_mount(src, bind.source);
  const bool directory = S_ISDIR(src.st.st_mode);
  make_mount_point(jail, rel, directory);

  UniqueFd point(jail.open_path(rel));
  struct stat st {};
  if (::fstat(point.get(), &st) != 0) throw system_error(shown, "reading status", errno);
  if (S_ISDIR(st.st_mode) != directory)
    throw Error(shown, std::string(directory ? "is not a directory" : "is a directory") +
                           ", but the bind source " + bind.source + (directory ? " is" : " is not"));

  BindResult result{BindAction::mounted, src.path};
  MountInfo here = mount_of(point.get(), shown);
  if (here.mount_point == shown) {
    // Mounted already: ours when it shows the source; then only the flags may need fixing.
    if (!same_inode(point.get(), src.st) || !shows_source(here, source_in_fs))
      throw Error(shown,
                  "something else is mounted here (" + here.source + " " + here.root + "); unmount it first");
    if (bind_options_match(here, bind)) return {BindAction::unchanged, src.path};
    remount(point.get(), bind, shown);
    verify(jail, rel, point.get(), src.st, source_in_fs, bind, shown);
    return {BindAction::remounted, src.path};
  }

  UniqueFd mounted;
  if (api == MountApi::detached) mounted = attach_detached(src, point.get(), bind, shown);
  const bool classic = !mounted;
  if (classic) {
    // /proc/self/fd/S is a magic link to the opened source's own inode: nothing to swap on the way.
    if (::mount(proc_fd(src.fd.get()).c_str(), proc_fd(point.get()).c_str(), nullptr, MS_BIND, nullptr) != 0)
      throw system_error(shown, "bind mounting " + bind.source, errno);
    // `point` still holds the directory beneath the new mount; the jail path now leads to the mount.
    mounted.reset(jail.open_path(rel));
  }
  try {
    if (classic) remount(mounted.get(), bind, shown);
    verify(jail, rel, mounted.get(), src.st, source_in_fs, bind, shown);
  } catch (...) {
    // Never leave a mount that is not what was asked: detach exactly the one just made.
    ::umount2(proc_fd(mounted.get()).c_str(), MNT_DETACH);
    throw;
  }
  return result;
}

BindAction umount_bind(JailFs& jail, const PlanEntry& bind) {
  const std::string& rel = bind.path;
  const std::string shown = jail.path(rel);
  if (std::optional<std::string> why = refused_jail_path(bind.path, JailPathUse::bind_point))
    throw Error(shown, *why);
  if (!jail.lstat(rel)) return BindAction::absent;
  size_t slash = rel.rfind('/');
  const std::string name = slash == std::string::npos ? rel : rel.substr(slash + 1);
  UniqueFd parent(jail.open_path(slash == std::string::npos ? "" : rel.substr(0, slash)));
  const std::string target = proc_fd(parent.get()) + "/" + name;
  BindAction action = BindAction::absent;
  for (int i = 0; i < max_stacked_mounts; ++i) {
    {
      // Closed before umount2: an open fd on the mount would keep it busy.
      UniqueFd point(::openat(parent.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
      if (point.get() < 0) {
        if (errno == ENOENT) break;
        throw system_error(shown, "opening", errno);
      }
      if (mount_of(point.get(), shown).mount_point != shown) break;
    }
    if (::umount2(target.c_str(), UMOUNT_NOFOLLOW) != 0) {
      if (errno == EBUSY) throw Error(shown, "the bind mount is busy: stop the jail's services first");
      throw system_error(shown, "unmounting", errno);
    }
    action = BindAction::unmounted;
  }
  return action;
}

namespace {

std::vector<const PlanEntry*> binds_of(const Manifest& manifest) {
  std::vector<const PlanEntry*> binds;
  for (const PlanEntry& e : manifest.plan.entries)
    if (e.kind == EntryKind::bind) binds.push_back(&e);
  std::sort(binds.begin(), binds.end(),
            [](const PlanEntry* a, const PlanEntry* b) { return path_less(a->path, b->path); });
  return binds;
}

/// The jail to mount or unmount: a jailbuild jail (a root-owned `.jailbuild/`) in a safe place.
std::string checked_jail(const std::string& jail_dir, const char* what) {
  if (std::optional<std::string> why = unrecordable_path(jail_dir)) throw Error(jail_dir, *why);
  std::string dir = normalize_path(jail_dir);
  if (dir == "/") throw Error(dir, "the host's root is not a jail");
  struct stat st {};
  const std::string marker = dir + "/" + manifest_dir;
  if (::lstat(marker.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw Error(dir, std::string("not a jailbuild jail: no root-owned ") + manifest_dir + "/");
  // Whose it is (a .jailbuild/ of someone else's is named as such), and where it is, again.
  dir = check_jail_location(dir);
  if (std::optional<Error> why = untrusted_jail(JailFs(dir))) throw *why;
  if (::geteuid() != 0) throw Error(dir, std::string(what) + " needs root");
  return dir;
}

} // namespace

std::vector<BindOutcome> mount_jail(const std::string& jail_dir, const std::string& state_dir) {
  std::string dir = checked_jail(jail_dir, "mounting");
  JailLock lock(dir); // not while a create or sync changes the jail
  Manifest manifest = read_manifest(dir);
  JailFs jail(dir);
  HostRoot host(manifest.plan.spec.host_root);
  // No other jail of this host is bound into this one, nor a directory holding one.
  std::vector<std::string> others;
  for (std::string& registered : Registry(state_dir).list())
    if (registered != dir) others.push_back(std::move(registered));
  std::vector<BindOutcome> out;
  for (const PlanEntry* bind : binds_of(manifest)) {
    BindResult r = mount_bind(jail, host, *bind, MountApi::detached, others);
    std::string resolved = r.source == normalize_path(bind->source) ? std::string() : r.source;
    out.push_back({jail.path(bind->path), bind->source, std::move(resolved), bind_options(*bind), r.action});
  }
  return out;
}

std::vector<BindOutcome> umount_jail(const std::string& jail_dir) {
  std::string dir = checked_jail(jail_dir, "unmounting");
  JailLock lock(dir); // not while a create or sync changes the jail
  Manifest manifest = read_manifest(dir);
  JailFs jail(dir);
  std::vector<const PlanEntry*> binds = binds_of(manifest);
  std::vector<BindOutcome> out;
  // Children first: a bind inside another bind's mount point goes before it.
  for (auto it = binds.rbegin(); it != binds.rend(); ++it) {
    BindAction action = umount_bind(jail, **it);
    out.push_back({jail.path((*it)->path), (*it)->source, {}, bind_options(**it), action});
  }
  return out;
}

std::string format_bind_outcomes(const std::vector<BindOutcome>& outcomes) {
  std::string out;
  for (const BindOutcome& o : outcomes) {
    std::string action(to_string(o.action));
    if (o.action == BindAction::absent) action = "not mounted";
    out += action + " " + o.path + " <- " + o.source + (o.resolved.empty() ? "" : " -> " + o.resolved) +
           " (" + join(o.options, ",") + ")\n";
  }
  return out;
}

} // namespace jailbuild
