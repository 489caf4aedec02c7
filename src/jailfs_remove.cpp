// SPDX-License-Identifier: MIT
//
// Removing a tree as root where others may write: what unpack's and create's cleanups do to a
// half-made jail whose /tmp (1777) a service user could write to all along.
//
// Why not boost::filesystem::remove_all (or std::filesystem's): Boost 1.74, Debian 12's, works by
// path: lstat(P) says "directory", opendir(P), then unlink(P + "/" + name) for each name read. A user
// who can write in the tree swaps P for a symlink between the lstat and the unlinks (inotify tells it
// when root opens P; RENAME_EXCHANGE swaps atomically), and root unlinks the names it read in
// whatever directory the symlink leads to: host files (CVE-2022-21658; fixed in Boost 1.79). A red-team
// run deleted 674 to 1,000 of 1,003 sentinel files per try.
//
// So here every step is relative to a directory fd and nothing is resolved by path twice:
//  - a directory is opened with openat(parent fd, name, O_NOFOLLOW | O_DIRECTORY): a symlink swapped
//    in is never opened, and what is opened is checked (fstat: a directory, the device and inode the
//    look before saw) before anything in it is touched;
//  - entries are unlinked with unlinkat() relative to the fd of the directory that was listed: the
//    names read from a directory are removed from that same directory, wherever it has been moved
//    meanwhile, and unlinkat never follows the final component;
//  - nothing is removed across a mount: a directory on another device or another mount (a bind mount
//    of the same file system has the same device) is refused with an error, not entered;
//  - the walk is iterative, with an explicit stack of fds: trees a service made may be 60,000 levels
//    deep. At most max_open_levels directories are held open; a directory deeper than that is first
//    renamed (renameat, by fd, never following) up into the top directory being removed, which takes
//    it apart later at a shallow depth. Every fd count stays bounded, whatever the depth.
// A process still writing in the tree can make the removal fail (each directory is read again until
// a pass finds it empty, at most max_passes times), never make it remove anything outside the tree.
#include "jailbuild/error.hpp"
#include "jailbuild/fd.hpp"
#include "jailbuild/jailfs.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <memory>
#include <optional>
#include <string>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <vector>

namespace jailbuild {

namespace {

/// Directories held open at once; a tree deeper than this is taken apart in slices (see above).
constexpr std::size_t max_open_levels = 128;
/// Readings of one directory until one finds it empty: more means a process keeps filling it.
constexpr int max_passes = 16;
/// Subtrees moved up to the top because they lay too deep: 2^20 slices of 128 levels.
constexpr std::size_t max_moves = std::size_t{1} << 20;

/// What identifies a directory entry: its type, device, inode and the mount it lies on (0 when the
/// kernel says nothing of mounts: only a change of device is seen then).
struct Identity {
  mode_t mode = 0;
  dev_t dev = 0;
  ino_t ino = 0;
  uint64_t mount = 0;
};

/// The mount id of an fd from /proc/self/fdinfo, for kernels whose statx has no STATX_MNT_ID (before
/// Linux 5.8); 0 when /proc says nothing either.
uint64_t mount_id_from_proc(int fd) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
  UniqueFd info(::open(path, O_RDONLY | O_CLOEXEC));
  if (!info) return 0;
  char text[4096];
  ssize_t got = ::read(info.get(), text, sizeof text - 1);
  if (got <= 0) return 0;
  text[got] = '\0';
  const char* at = std::strstr(text, "mnt_id:");
  return at ? std::strtoull(at + 7, nullptr, 10) : 0;
}

/// The identity of dir_fd/name (name "" for dir_fd itself), never following a symlink; nullopt when
/// it is absent.
std::optional<Identity> identity_at(int dir_fd, const char* name, const std::string& shown) {
  struct statx x {};
  const int flags = AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | (*name ? 0 : AT_EMPTY_PATH);
  if (::statx(dir_fd, name, flags, STATX_TYPE | STATX_INO | STATX_MNT_ID, &x) != 0) {
    if (errno == ENOENT) return std::nullopt;
    throw system_error(shown, "reading status", errno);
  }
  Identity id{x.stx_mode, makedev(x.stx_dev_major, x.stx_dev_minor), x.stx_ino, 0};
  if (x.stx_mask & STATX_MNT_ID)
    id.mount = x.stx_mnt_id;
  else if (!*name)
    id.mount = mount_id_from_proc(dir_fd);
  return id;
}

/// A name for a subtree moved up to the top directory: unguessable, so nothing can stand there first
/// (RENAME_NOREPLACE refuses it anyway).
std::string moved_name(const std::string& shown) {
  unsigned char random[8];
  if (::getrandom(random, sizeof random, 0) != static_cast<ssize_t>(sizeof random))
    throw system_error(shown, "getting random bytes for a name", errno);
  std::string name = ".jbrm.";
  for (unsigned char byte : random) {
    name += "0123456789abcdef"[byte >> 4];
    name += "0123456789abcdef"[byte & 0xf];
  }
  return name;
}

/// One directory being emptied: its fd (read through `stream`), its name in the directory below it
/// on the stack, and what it was when opened.
struct Level {
  std::unique_ptr<DIR, int (*)(DIR*)> stream{nullptr, ::closedir};
  int fd = -1; ///< the stream's
  std::string name;
  std::string shown;
  Identity id;
  int passes = 0;
  bool saw = false;      ///< this reading met an entry: read again before calling it empty
  bool moved_in = false; ///< a deeper subtree was moved here during this reading: not a wasted pass
};

/// The removal of one tree: a stack of levels, the top directory at the bottom of the stack.
class TreeRemoval {
public:
  /// `outer` is the fd of the directory holding the top, which is removed last; -1 when only the
  /// top's content goes (the top stays).
  TreeRemoval(int outer, const std::string& shown) : outer_(outer), shown_(shown) {
    levels_.reserve(max_open_levels + 1);
  }

  /// Opens the top directory `name` of `dir_fd` (the listing said `seen`; `parent` is dir_fd's
  /// identity when the top must lie on its mount); false when it is gone or no longer that directory.
  bool open_top(int dir_fd, const std::string& name, const Identity& seen,
                const std::optional<Identity>& parent) {
    return push(dir_fd, name, seen, shown_, parent);
  }

  /// Empties the stack: every directory read until it is empty, then removed from its parent.
  void run() {
    while (!levels_.empty()) {
      Level& level = levels_.back();
      errno = 0;
      dirent* entry = ::readdir(level.stream.get());
      if (entry) {
        std::string_view name = entry->d_name;
        if (name == "." || name == "..") continue;
        level.saw = true;
        remove_entry(level, std::string(name), entry->d_type);
        continue;
      }
      if (errno != 0) throw system_error(level.shown, "reading directory", errno);
      if (level.saw) { // read it again: entries may have come while it was read
        if (!level.moved_in && ++level.passes > max_passes)
          throw Error(level.shown, "keeps filling up while jailbuild removes it: is a process still writing "
                                   "there? Nothing outside it was touched");
        level.saw = level.moved_in = false;
        ::rewinddir(level.stream.get());
        continue;
      }
      pop();
    }
  }

  /// Whether the top came back not empty or not a directory when it was to be removed last.
  bool top_changed() const { return top_changed_; }

private:
  /// The directory at the top of the stack is empty: close it and remove it from its parent.
  void pop() {
    Level done = std::move(levels_.back());
    levels_.pop_back();
    done.stream.reset();
    int parent = levels_.empty() ? outer_ : levels_.back().fd;
    if (parent < 0) return; // the top only emptied
    // AT_REMOVEDIR on a name swapped for a symlink fails (ENOTDIR) and never follows it.
    if (::unlinkat(parent, done.name.c_str(), AT_REMOVEDIR) == 0 || errno == ENOENT) return;
    int err = errno;
    if (err == ENOTEMPTY || err == EEXIST || err == ENOTDIR) {
      // Filled again after its last reading, or swapped for something else: the parent's next
      // reading meets the name again and looks at what it is then.
      if (levels_.empty())
        top_changed_ = true;
      else
        levels_.back().saw = true;
      return;
    }
    if (err == EBUSY) throw Error(done.shown, "is a mount point: not removed");
    throw system_error(done.shown, "removing directory", err);
  }

  void remove_entry(Level& level, const std::string& name, unsigned char type) {
    const std::string shown = level.shown + "/" + name;
    // What readdir calls a non-directory is unlinked at once (one system call per file); unlinkat
    // removes the name itself, a symlink never followed. Had it become a directory meanwhile, that
    // is EISDIR and it is looked at as one.
    if (type != DT_DIR && type != DT_UNKNOWN) {
      if (::unlinkat(level.fd, name.c_str(), 0) == 0 || errno == ENOENT) return;
      if (errno != EISDIR) throw system_error(shown, "removing", errno);
    }
    std::optional<Identity> seen = identity_at(level.fd, name.c_str(), shown);
    if (!seen) return;
    if (!S_ISDIR(seen->mode)) {
      if (::unlinkat(level.fd, name.c_str(), 0) == 0 || errno == ENOENT || errno == EISDIR) return;
      throw system_error(shown, "removing", errno);
    }
    if (seen->dev != level.id.dev || (seen->mount && level.id.mount && seen->mount != level.id.mount))
      throw Error(shown, "is a mount point: jailbuild removes nothing across a mount");
    if (levels_.size() >= max_open_levels) return move_up(level, name, shown);
    push(level.fd, name, *seen, shown, level.id);
  }

  /// Opens the directory `name` of `dir_fd` and puts it on the stack, after checking that it is the
  /// directory `seen` described (a real directory, never through a symlink) and, below the top, on
  /// the mount of `parent`. false when it changed meanwhile: the parent's next reading looks again.
  bool push(int dir_fd, const std::string& name, const Identity& seen, const std::string& shown,
            const std::optional<Identity>& parent) {
    UniqueFd fd(::openat(dir_fd, name.c_str(),
                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC));
    if (!fd) {
      if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) return false; // gone, or swapped
      throw system_error(shown, "opening directory", errno);
    }
    std::optional<Identity> opened = identity_at(fd.get(), "", shown);
    if (!opened || !S_ISDIR(opened->mode) || opened->dev != seen.dev || opened->ino != seen.ino) return false;
    if (parent &&
        (opened->dev != parent->dev || (opened->mount && parent->mount && opened->mount != parent->mount)))
      throw Error(shown, "is a mount point: jailbuild removes nothing across a mount");
    Level level;
    level.stream.reset(::fdopendir(fd.get()));
    if (!level.stream) throw system_error(shown, "reading directory", errno);
    level.fd = fd.release(); // the stream owns it now
    level.name = name;
    level.shown = shown;
    level.id = *opened;
    levels_.push_back(std::move(level));
    return true;
  }

  /// A directory deeper than max_open_levels: renamed into the top directory, where a later reading
  /// of the top takes it apart with few levels open. Both ends are fds; the name is moved, never
  /// followed, and a rename cannot cross a mount.
  void move_up(Level& level, const std::string& name, const std::string& shown) {
    if (++moves_ > max_moves) throw Error(shown, "nested too deep to remove");
    Level& top = levels_.front();
    for (int attempt = 0; attempt < 8; ++attempt) {
      std::string to = moved_name(shown);
      if (::renameat2(level.fd, name.c_str(), top.fd, to.c_str(), RENAME_NOREPLACE) == 0) {
        top.moved_in = top.saw = true;
        return;
      }
      if (errno == ENOENT) return;
      if (errno != EEXIST) throw system_error(shown, "moving a deep directory up to remove it", errno);
    }
    throw Error(shown, "no free name to move a deep directory to");
  }

  int outer_;
  std::string shown_;
  std::vector<Level> levels_;
  std::size_t moves_ = 0;
  bool top_changed_ = false;
};

} // namespace

void remove_tree_at(int dir_fd, const std::string& name, const std::string& shown) {
  if (name.empty()) { // the content only: dir_fd itself stays
    std::optional<Identity> self = identity_at(dir_fd, "", shown);
    if (!self) throw Error(shown, "is gone");
    TreeRemoval removal(-1, shown);
    if (!removal.open_top(dir_fd, ".", *self, std::nullopt))
      throw Error(shown, "changed while jailbuild emptied it");
    removal.run();
    return;
  }
  const std::optional<Identity> parent = identity_at(dir_fd, "", shown);
  if (!parent) throw Error(shown, "its directory is gone");
  for (int attempt = 0;; ++attempt) {
    if (attempt > max_passes)
      throw Error(shown, "keeps changing while jailbuild removes it: is a process still writing there? "
                         "Nothing outside it was touched");
    std::optional<Identity> seen = identity_at(dir_fd, name.c_str(), shown);
    if (!seen) return;
    if (!S_ISDIR(seen->mode)) {
      if (::unlinkat(dir_fd, name.c_str(), 0) == 0 || errno == ENOENT) return;
      if (errno != EISDIR) throw system_error(shown, "removing", errno);
      continue; // a directory now
    }
    if (seen->dev != parent->dev || (seen->mount && parent->mount && seen->mount != parent->mount))
      throw Error(shown, "is a mount point: jailbuild removes nothing across a mount");
    TreeRemoval removal(dir_fd, shown);
    if (!removal.open_top(dir_fd, name, *seen, parent)) continue; // swapped between the look and the open
    removal.run();
    if (!removal.top_changed()) return;
  }
}

void remove_dir_tree(const std::string& dir) {
  std::string path = dir;
  while (path.size() > 1 && path.back() == '/')
    path.pop_back();
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos || path == "/") throw Error(dir, "not a directory jailbuild removes");
  const std::string parent = slash == 0 ? "/" : path.substr(0, slash);
  UniqueFd parent_fd(::open(parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!parent_fd) {
    if (errno == ENOENT) return;
    throw system_error(parent, "opening", errno);
  }
  remove_tree_at(parent_fd.get(), path.substr(slash + 1), path);
}

} // namespace jailbuild
