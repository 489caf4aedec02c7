// SPDX-License-Identifier: MIT
#pragma once
#include "jailbuild/fd.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <sys/types.h>
#include <vector>

namespace jailbuild {

/// How copy_file moves a file's bytes into the jail.
enum class CopyMethod {
  copy,    ///< Always a full copy, hashed on the way: the jail file shares no storage with the host.
  reflink, ///< Share extents with the host file where the file system can (FICLONE, copy_file_range).
};

/// Whether a written file and its directory entry are flushed to disk before the call returns.
enum class Fsync { no, yes };

/// The kind of a device node.
enum class DeviceKind { character, block };

/// What JailFs::remove_dir() did. A directory that is not empty or has something mounted on it is
/// a normal outcome, for the caller to report; any other failure is an Error.
enum class RemovedDir : std::uint8_t { removed, absent, not_empty, mount_point };

/// What copy_file put into the jail.
struct CopyResult {
  std::string digest;     ///< SHA-256 of the bytes now in the jail file, lowercase hex.
  std::uint64_t size = 0; ///< Their number.
};

/// What kind of entry a mode says, for messages: "a regular file", "a directory", "a symlink",
/// "a device node", "a FIFO", "a socket".
std::string type_name(mode_t mode);

/// Whether a directory entry's name has the exact form JailFs gives its temporary files,
/// ".<name>.jbtmp.<16 lowercase hex digits>". A root-owned regular file so named was left by a
/// jailbuild run killed between writing it and renaming it into place: create and sync remove such
/// files where they list the jail anyway, and audit says what they are.
bool is_temp_name(std::string_view name);

/// The one way jailbuild writes into a jail. Paths are relative to the jail root ("etc/passwd"; a
/// leading "/" is ignored, ".." is refused) and no symlink inside the jail is ever followed, in any
/// component: a symlink where a directory is expected is an error, one at the final name is replaced
/// or refused, never written through. Files appear only complete (temporary file, then rename).
/// Owners of (uid_t)-1 / (gid_t)-1 leave that id unchanged. Errors are Error(root + "/" + rel, ...).
class JailFs {
public:
  /// Opens the jail root, which must be a real directory: a symlink there is an error.
  explicit JailFs(const std::string& root);
  JailFs(JailFs&&) noexcept = default;
  JailFs& operator=(JailFs&&) noexcept = default;
  JailFs(const JailFs&) = delete;
  JailFs& operator=(const JailFs&) = delete;

  /// The jail root as given, without trailing slashes.
  const std::string& root() const { return root_; }
  /// The host path of a jail path, for messages: root + "/" + rel.
  std::string path(std::string_view rel) const;

  /// Creates a directory, or fixes mode and owner of an existing one; "" is the jail root itself.
  /// The mode is applied exactly (sticky and setgid included, no umask). The parent must exist.
  void make_dir(std::string_view rel, mode_t mode, uid_t uid, gid_t gid);
  /// Copies a host file (path trusted, symlinks followed) into the jail, atomically replacing whatever
  /// non-directory is there. Setuid and setgid bits are always stripped; xattrs are never copied.
  CopyResult copy_file(std::string_view rel, const std::string& host_source, mode_t mode, uid_t uid,
                       gid_t gid, CopyMethod method, Fsync fsync = Fsync::no);
  /// Writes generated content as copy_file does; returns its SHA-256.
  std::string write_file(std::string_view rel, std::string_view content, mode_t mode, uid_t uid, gid_t gid,
                         Fsync fsync = Fsync::no);
  /// Writes content pulled block by block from `next` (an empty block ends it) as write_file does,
  /// hashing it on the way: for content too large to hold in memory, such as a file unpacked from an
  /// archive. An exception thrown by `next` leaves nothing behind.
  CopyResult write_stream(std::string_view rel, const std::function<std::string_view()>& next, mode_t mode,
                          uid_t uid, gid_t gid, Fsync fsync = Fsync::no);
  /// Makes rel another name (a hardlink) of `existing`, which must be a regular file of the jail:
  /// neither path follows a symlink, and a link is only ever made to an inode inside the jail.
  void make_hardlink(std::string_view rel, std::string_view existing);
  /// Makes rel a symlink to target: a no-op when it already is one, else an atomic replacement of
  /// any non-directory there. The target is stored verbatim and never resolved.
  void make_symlink(std::string_view rel, const std::string& target);
  /// Makes rel a device node. An identical node (kind and number) only has mode and owner fixed;
  /// anything else that is not a directory is replaced atomically. Needs CAP_MKNOD.
  void make_device(std::string_view rel, DeviceKind kind, unsigned major, unsigned minor, mode_t mode,
                   uid_t uid, gid_t gid);
  /// Removes a file, symlink or device node (a symlink itself, never its target); absent is a no-op.
  void remove(std::string_view rel);
  /// Removes an empty directory; absent is a no-op. A directory that holds entries or has something
  /// mounted on it stays, and says so; any other failure (EACCES, EIO) throws.
  RemovedDir remove_dir(std::string_view rel);
  /// Removes rel and everything below it, as remove_tree_at() does ("" empties the jail root, which
  /// stays); absent is a no-op. For directories a service may be writing in while root removes them.
  void remove_tree(std::string_view rel);
  /// Removes a temporary file that a killed jailbuild run left: only when the name passes
  /// is_temp_name() and the entry is a regular file owned by root, checked here, at the moment of
  /// removal; anything else is left alone. Returns whether it removed something.
  bool remove_leftover(std::string_view rel);
  /// The entry's own status (a symlink is not followed); nullopt when it or a parent is absent.
  /// A symlink met as a parent component is an error, not an absence.
  std::optional<struct stat> lstat(std::string_view rel) const;
  /// One entry of a directory listing: its own status (a symlink not followed) and a symlink's text.
  struct Listed {
    std::string name;
    struct stat st;   ///< for a symlink only st_mode is set (S_IFLNK): its text is what it is
    std::string link; ///< for a symlink: its text; empty otherwise
  };
  /// A directory's entries, or why there are none: what a process in the jail can do to a directory
  /// it may write (put a symlink or a file where a directory was) is a state, for the caller to report.
  struct Listing {
    enum class State : std::uint8_t {
      present,       ///< `entries` holds every entry
      absent,        ///< the directory, or a directory above it, does not exist
      symlink,       ///< a symlink stands at `rel` or on the way: never followed
      not_directory, ///< something else than a directory stands at `rel` or on the way
    } state;
    std::vector<Listed> entries;
  };
  /// Every entry of a jail directory with its status, in one pass (sync and audit look at thousands of
  /// entries: one open per directory instead of one per entry). Any failure to read what is there
  /// (EACCES, EIO) throws: it says nothing about what the jail holds.
  Listing list_dir(std::string_view rel) const;
  /// The text of a symlink; nullopt when absent or not a symlink.
  std::optional<std::string> read_link(std::string_view rel) const;
  /// Opens a regular file for reading (never a symlink, FIFO or device), so that audit and sync can
  /// hash jail files safely. The caller closes the returned fd.
  int open_read(std::string_view rel) const;
  /// Opens an entry O_PATH without following any symlink, the final name included ("" is the root):
  /// the fd holds exactly that inode, so that a mount can be made onto it and not onto whatever a
  /// process in the jail puts at that path afterwards. Absent is an error. The caller closes the fd.
  int open_path(std::string_view rel) const;

private:
  std::string root_;
  UniqueFd root_fd_; // O_PATH: every path is resolved beneath it
};

/// Removes the entry `name` of the directory open at `dir_fd` and, if it is a directory, everything
/// below it ("" removes what dir_fd holds, and dir_fd stays): the one way jailbuild removes a tree,
/// safe where others can write while it runs. Every step is relative to the fd of the directory
/// listed: a directory is entered only through openat(O_NOFOLLOW | O_DIRECTORY) and only when it is
/// the one the listing saw; names are unlinked with unlinkat() in the directory they were read from;
/// nothing is removed across a mount (an Error); any depth, with a bounded number of fds. A process
/// that keeps writing there can make it fail (an Error), never make it remove anything outside the
/// tree. `shown` names the entry in errors.
void remove_tree_at(int dir_fd, const std::string& name, const std::string& shown);

/// Removes the directory `dir` and everything in it, as remove_tree_at(); absent is a no-op. The
/// directories above `dir` are trusted (root's, writable by no one else: check_jail_location()).
void remove_dir_tree(const std::string& dir);

} // namespace jailbuild
