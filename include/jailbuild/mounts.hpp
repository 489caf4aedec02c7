// SPDX-License-Identifier: MIT
// `jailbuild mount` / `umount`: the bind mounts a jail's manifest records (--bind, and profiles such
// as devlog, mysql-socket), applied and removed idempotently. The mount point is reached through
// JailFs without following any symlink, the source is opened without following a symlink anyone but
// root could have planted (bind_source.hpp, which also says what may be bound at all), and the mount
// is made from the one fd onto the other, never between paths: neither a process in the jail nor a
// service writing the source's directory can turn a root bind mount into a bind of a host path.
#pragma once
#include "jailbuild/plan.hpp"
#include "jailbuild/registry.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace jailbuild {

class HostRoot;
class JailFs;

/// One line of /proc/self/mountinfo (proc(5)), octal escapes ("\040") decoded. What `mount` checks
/// its binds by and what `audit` judges a jail's mounts by.
struct MountInfo {
  uint64_t id = 0;
  uint64_t parent = 0;
  /// The file system's device (st_dev): two mounts with the same one show the same file system, so
  /// audit can tell which host directory a mount in a jail exposes.
  unsigned major = 0, minor = 0;
  std::string root;                 ///< the directory of the source file system that is mounted
  std::string mount_point;          ///< relative to this process's root
  std::vector<std::string> options; ///< per-mount options: "ro", "nosuid", "nodev", "noexec", ...
  std::string fs_type;
  std::string source;

  /// Whether `option` is one of the per-mount options.
  bool has_option(std::string_view option) const;
};

/// Parses mountinfo text (this process's, or a test's); lines that are not well formed are skipped.
std::vector<MountInfo> parse_mountinfo(std::string_view text);
/// This process's mount table.
std::vector<MountInfo> read_mountinfo();

/// The per-mount options a bind entry asks for, in mountinfo's order: "ro" or "rw", "nosuid",
/// "nodev", and "noexec" when asked.
std::vector<std::string> bind_options(const PlanEntry& bind);
/// True when a mount carries exactly the ro/rw, nosuid, nodev and noexec options the bind asks for.
bool bind_options_match(const MountInfo& mount, const PlanEntry& bind);

/// How a new bind mount is attached. Both end in the same mount; `detached` is preferred because the
/// mount never exists without its flags, `classic` is the fallback for kernels before 5.12.
enum class MountApi {
  detached, ///< open_tree(2) a clone of the source, mount_setattr(2) its flags, move_mount(2) it onto the fd
  classic,  ///< mount(2) MS_BIND onto /proc/self/fd/N, then remount MS_REMOUNT|MS_BIND with the flags
};

/// What mount_bind or umount_bind did.
enum class BindAction { mounted, remounted, unchanged, unmounted, absent };
std::string_view to_string(BindAction action);

/// What mount_bind did, and the host path it bound (the source with its symlinks resolved).
struct BindResult {
  BindAction action = BindAction::unchanged;
  std::string source;
};

/// Mounts one bind entry of a plan into the jail: opens the source with open_bind_source() (refusing
/// what it refuses; also a source inside the jail or holding it, and one on a kernel file system), creates a
/// missing mount point (a directory, or an empty file for a non-directory source such as a socket), opens it
/// without following symlinks, binds the opened source there (not recursively) read-only unless asked
/// otherwise, always nosuid and nodev, noexec when asked, and checks in the mount table that the
/// mount sits at the jail path and shows the source's file system and directory. An existing bind of
/// the same source only has its flags fixed. Throws Error naming the jail path or the source.
BindResult mount_bind(JailFs& jail, const HostRoot& host, const PlanEntry& bind,
                      MountApi api = MountApi::detached,
                      const std::vector<std::string>& registered_jails = {});
/// Unmounts whatever is mounted at a bind entry's mount point (UMOUNT_NOFOLLOW, below a parent opened
/// without following symlinks); absent or not mounted is a no-op. A busy mount is an Error.
BindAction umount_bind(JailFs& jail, const PlanEntry& bind);

/// What happened to one bind of a jail.
struct BindOutcome {
  std::string path;     ///< host path of the mount point
  std::string source;   ///< host path of the source, as the manifest says
  std::string resolved; ///< what was bound, symlinks resolved, when it differs from `source`
  std::vector<std::string> options;
  BindAction action = BindAction::unchanged;
};

/// Mounts every bind entry of DIR's manifest, parents first, whatever the manifest says checked as
/// mount_bind() checks it (a manifest may come from an archive). Jails registered in `state_dir`
/// are never bound into another. Stops at the first error; the binds mounted before it stay mounted
/// (a re-run or `umount` deals with them). DIR must hold a root-owned `.jailbuild/`.
std::vector<BindOutcome> mount_jail(const std::string& jail_dir,
                                    const std::string& state_dir = default_state_dir);
/// Unmounts every bind entry of DIR's manifest, children first.
std::vector<BindOutcome> umount_jail(const std::string& jail_dir);

/// One line per bind: "mounted /jail/run/mysqld <- /run/mysqld (rw,nosuid,nodev,noexec)", with
/// "<- /dev/log -> /run/systemd/journal/dev-log" when the source led elsewhere.
std::string format_bind_outcomes(const std::vector<BindOutcome>& outcomes);

} // namespace jailbuild
