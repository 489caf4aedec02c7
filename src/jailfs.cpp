// SPDX-License-Identifier: MIT
//
// Why this layer exists: jailbuild runs as root and writes into jails whose writable directories
// (tmp, PHP sessions, logs) belong to the jailed services. A compromised service may, between two
// runs, replace any entry there with a symlink to /etc or plant a hardlink to a host file. Root
// following such a link would write, chown or chmod the host file. So:
//  - every path is resolved beneath an fd of the jail root without following any symlink in any
//    component (openat2 with RESOLVE_NO_SYMLINKS, or a component walk with O_NOFOLLOW where openat2
//    is missing). A symlink met is an error, never followed;
//  - the final component is acted on with *at() calls that do not follow it, and mode and owner are
//    changed through an fd opened without following, never by path;
//  - no file is written in place: content goes to a fresh temporary file in the same directory
//    (O_EXCL, so never an existing entry) that is renamed over the final name. That replaces a planted
//    symlink or hardlink instead of writing through it, and a file appears only complete.
// RESOLVE_NO_XDEV is not used: bind mounts inside a jail are legitimate.
#include "jailbuild/jailfs.hpp"

#include "jailbuild/digest.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/fd.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <memory>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace jailbuild {

namespace {

// fchmodat2(2) (Linux 6.6) can chmod an O_PATH fd; Debian 12's headers predate it. The number is
// the same on every architecture that uses the generic syscall table.
#ifdef SYS_fchmodat2
constexpr long fchmodat2_syscall = SYS_fchmodat2;
#else
constexpr long fchmodat2_syscall = 452;
#endif

constexpr int temp_name_attempts = 8;

/// A temporary directory entry, unlinked when the operation fails before renaming it into place.
struct TempEntry {
  int dir;
  std::string name;
  bool renamed = false;
  TempEntry(int dir_fd, std::string entry_name) : dir(dir_fd), name(std::move(entry_name)) {}
  TempEntry(TempEntry&& other) noexcept
      : dir(other.dir), name(std::move(other.name)), renamed(std::exchange(other.renamed, true)) {}
  TempEntry& operator=(TempEntry&&) = delete;
  ~TempEntry() {
    // unlinkat never follows: if something swapped the entry, only the swapped entry goes.
    if (!renamed) ::unlinkat(dir, name.c_str(), 0);
  }
};

/// A temporary file being written, and its entry.
struct TempFile {
  UniqueFd fd;
  TempEntry entry;
};

/// The directory holding an entry, opened O_PATH without following symlinks, and the entry's name.
struct Parent {
  UniqueFd dir;
  std::string name;
};

[[noreturn]] void refuse_symlink(const std::string& shown, const std::string& component) {
  throw Error(shown, "refusing to follow a symlink inside the jail: " + component + " is a symlink",
              ErrorKind::symlink);
}

/// The components of a jail path; "" and "." are skipped, ".." is refused (it could only climb,
/// and the component walk must not have to reason about it).
std::vector<std::string> components_of(std::string_view rel, const std::string& shown) {
  if (rel.find('\0') != std::string_view::npos) throw Error(shown, "a jail path cannot contain a NUL byte");
  std::vector<std::string> components;
  while (!rel.empty()) {
    std::size_t slash = rel.find('/');
    std::string_view part = rel.substr(0, slash);
    rel = slash == std::string_view::npos ? std::string_view() : rel.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..") throw Error(shown, "'..' is not allowed in a jail path");
    components.emplace_back(part);
  }
  return components;
}

/// A jail path as components_of sees it, for messages: "etc/passwd".
std::string relative_text(std::string_view rel, const std::string& shown) {
  std::string text;
  for (const std::string& component : components_of(rel, shown))
    text += (text.empty() ? "" : "/") + component;
  return text;
}

/// How far a walk beneath the root got: the directory, or what stopped it. A symlink or another
/// non-directory on the way is what a process in the jail can plant in a directory it may write:
/// callers that list the jail report it, and the others refuse it.
struct Beneath {
  enum class Stop : std::uint8_t { none, absent, symlink, not_directory } stop = Stop::none;
  UniqueFd dir;      ///< the directory, when nothing stopped the walk
  std::string where; ///< the components up to the one at fault ("var/lib"), when something did
};

/// Opens components[0, count) beneath the root one at a time with O_NOFOLLOW, for kernels without
/// openat2 and to name the component at fault. Throws for any other failure (EACCES, EIO).
Beneath walk_beneath(int root_fd, const std::vector<std::string>& components, std::size_t count,
                     const std::string& shown) {
  UniqueFd current(::openat(root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (current.get() < 0) throw system_error(shown, "opening the jail root", errno);
  std::string prefix;
  for (std::size_t i = 0; i < count; ++i) {
    const std::string& component = components[i];
    prefix += (prefix.empty() ? "" : "/") + component;
    int fd = ::openat(current.get(), component.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      if (err == ENOENT) return {Beneath::Stop::absent, {}, prefix};
      struct stat st {};
      if (::fstatat(current.get(), component.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
        return {Beneath::Stop::symlink, {}, prefix};
      if (err == ENOTDIR) return {Beneath::Stop::not_directory, {}, prefix};
      throw system_error(shown, "opening " + prefix, err);
    }
    current.reset(fd);
  }
  return {Beneath::Stop::none, std::move(current), {}};
}

/// Opens components[0, count) beneath the root without following any symlink, or says what stopped
/// it; throws for any other failure.
Beneath look_beneath(int root_fd, const std::vector<std::string>& components, std::size_t count,
                     const std::string& shown) {
  std::string joined = ".";
  for (std::size_t i = 0; i < count; ++i)
    joined += "/" + components[i];
  open_how how{};
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  long fd = ::syscall(SYS_openat2, root_fd, joined.c_str(), &how, sizeof how);
  if (fd >= 0) return {Beneath::Stop::none, UniqueFd(static_cast<int>(fd)), {}};
  if (errno == ENOENT) return {Beneath::Stop::absent, {}, {}};
  // ENOSYS (old kernel, seccomp), ELOOP (a symlink: the walk names it), ENOTDIR, EAGAIN (a rename
  // raced the lookup) and anything else: the walk is just as safe, and it says what went wrong.
  return walk_beneath(root_fd, components, count, shown);
}

/// Opens components[0, count) beneath the root without following any symlink; nullopt when absent.
/// A symlink or a non-directory on the way is an error naming it.
std::optional<UniqueFd> open_beneath(int root_fd, const std::vector<std::string>& components,
                                     std::size_t count, const std::string& shown) {
  Beneath b = look_beneath(root_fd, components, count, shown);
  switch (b.stop) {
  case Beneath::Stop::none:
    return std::move(b.dir);
  case Beneath::Stop::absent:
    return std::nullopt;
  case Beneath::Stop::symlink:
    refuse_symlink(shown, b.where);
  case Beneath::Stop::not_directory:
    break;
  }
  throw system_error(shown, "opening " + b.where, ENOTDIR);
}

/// The parent of a jail path; nullopt when a parent component is absent. The path must name an
/// entry below the root, not the root itself.
std::optional<Parent> find_parent(int root_fd, std::string_view rel, const std::string& shown) {
  std::vector<std::string> components = components_of(rel, shown);
  if (components.empty()) throw Error(shown, "names the jail root itself");
  std::optional<UniqueFd> dir = open_beneath(root_fd, components, components.size() - 1, shown);
  if (!dir) return std::nullopt;
  return Parent{std::move(*dir), std::move(components.back())};
}

/// As find_parent, but an absent parent directory is an error.
Parent require_parent(int root_fd, std::string_view rel, const std::string& shown) {
  std::optional<Parent> parent = find_parent(root_fd, rel, shown);
  if (!parent) throw system_error(shown, "opening the parent directory", ENOENT);
  return std::move(*parent);
}

/// The entry's own status, or nullopt when absent.
std::optional<struct stat> stat_entry(const Parent& parent, const std::string& shown) {
  struct stat st {};
  if (::fstatat(parent.dir.get(), parent.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return st;
  if (errno == ENOENT) return std::nullopt;
  throw system_error(shown, "reading status", errno);
}

/// The text of the symlink `name` in `dir_fd`; nullopt when absent or not a symlink.
std::optional<std::string> link_text(int dir_fd, const std::string& name, const std::string& shown) {
  std::optional<std::string> text = read_link_at(dir_fd, name.c_str());
  if (!text && errno != ENOENT && errno != EINVAL) throw system_error(shown, "reading symlink", errno);
  return text;
}

/// Replacing a directory would mean deciding about everything below it: that is never implicit.
void refuse_directory(const Parent& parent, const std::string& shown) {
  std::optional<struct stat> st = stat_entry(parent, shown);
  if (st && S_ISDIR(st->st_mode)) throw Error(shown, "refusing to replace a directory");
}

constexpr std::string_view temp_marker = ".jbtmp.";
constexpr std::size_t temp_random_digits = 16;

/// ".<name>.jbtmp.<16 random hex digits>": hidden, recognisable (is_temp_name), and unguessable, so
/// that nothing in the jail can plant an entry under it beforehand (O_EXCL would refuse it anyway).
std::string temp_name(const std::string& name, const std::string& shown) {
  unsigned char random[temp_random_digits / 2];
  if (::getrandom(random, sizeof random, 0) != static_cast<ssize_t>(sizeof random))
    throw system_error(shown, "getting random bytes for a temporary name", errno);
  static constexpr char digits[] = "0123456789abcdef";
  // Keep the whole name within NAME_MAX (255) whatever the length of the final name.
  std::string temp = "." + name.substr(0, 200) + std::string(temp_marker);
  for (unsigned char byte : random) {
    temp += digits[byte >> 4];
    temp += digits[byte & 0xf];
  }
  return temp;
}

/// Changes the mode through an fd. fchmod(2) refuses O_PATH fds, which are how device nodes are held
/// (opening a device node would act on the device); those go through fchmodat2(2) or, before Linux
/// 6.6, /proc/self/fd/<n>, which is the inode the fd holds, not a path that could be swapped. The
/// fd must already be known not to be a symlink.
void change_mode(int fd, const std::string& shown, mode_t mode) {
  if (::fchmod(fd, mode) == 0) return;
  if (errno != EBADF) throw system_error(shown, "changing mode", errno);
  if (::syscall(fchmodat2_syscall, fd, "", mode, AT_EMPTY_PATH) == 0) return;
  if (errno != ENOSYS && errno != EINVAL) throw system_error(shown, "changing mode", errno);
  std::string by_fd = "/proc/self/fd/" + std::to_string(fd);
  if (::chmod(by_fd.c_str(), mode) != 0) throw system_error(shown, "changing mode", errno);
}

/// Sets owner, then mode (a chown may clear mode bits), through an fd, O_PATH or not. Skips what is
/// already right, so that re-applying a plan changes nothing, not even ctime.
void set_owner_and_mode(int fd, const std::string& shown, uid_t uid, gid_t gid, mode_t mode) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw system_error(shown, "reading status", errno);
  bool chowned = false;
  if ((uid != static_cast<uid_t>(-1) && st.st_uid != uid) ||
      (gid != static_cast<gid_t>(-1) && st.st_gid != gid)) {
    if (::fchownat(fd, "", uid, gid, AT_EMPTY_PATH) != 0) throw system_error(shown, "changing owner", errno);
    chowned = true;
  }
  if (chowned || (st.st_mode & 07777) != mode) change_mode(fd, shown, mode);
}

void fsync_dir(const Parent& parent, const std::string& shown) {
  UniqueFd dir(::openat(parent.dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0 || ::fsync(dir.get()) != 0) throw system_error(shown, "flushing the directory", errno);
}

/// Renames a finished temporary entry over the final name, then checks that the name now holds what
/// was made: anything else means a process in the jail swapped the temporary entry meanwhile.
void commit(const Parent& parent, TempEntry& temp, const struct stat& made, const std::string& shown,
            Fsync fsync) {
  if (::renameat(parent.dir.get(), temp.name.c_str(), parent.dir.get(), parent.name.c_str()) != 0)
    throw system_error(shown, "renaming into place", errno);
  temp.renamed = true;
  std::optional<struct stat> now = stat_entry(parent, shown);
  if (!now || now->st_dev != made.st_dev || now->st_ino != made.st_ino)
    throw Error(shown, "replaced by something else while jailbuild wrote it: is a process in the jail "
                       "tampering with this directory?");
  if (fsync == Fsync::yes) fsync_dir(parent, shown);
}

/// A new entry under a fresh temporary name beside the final one, made by `make(name)`, which
/// returns 0 or an errno: EEXIST tries another name, anything else is an error saying `what`.
template <class Make>
TempEntry make_temp_entry(const Parent& parent, const std::string& shown, const char* what, Make make) {
  for (int attempt = 0; attempt < temp_name_attempts; ++attempt) {
    std::string name = temp_name(parent.name, shown);
    int err = make(name);
    if (err == 0) return TempEntry(parent.dir.get(), std::move(name));
    if (err != EEXIST) throw system_error(shown, what, err);
  }
  throw Error(shown, "no free temporary name");
}

/// What a temporary entry is, not followed: what commit() checks the final name against.
struct stat made_entry(const Parent& parent, const TempEntry& temp, const std::string& shown) {
  struct stat made {};
  if (::fstatat(parent.dir.get(), temp.name.c_str(), &made, AT_SYMLINK_NOFOLLOW) != 0)
    throw system_error(shown, "reading status", errno);
  return made;
}

/// A new, empty, private (0600) temporary file beside the final name.
TempFile create_temp_file(const Parent& parent, const std::string& shown) {
  UniqueFd fd;
  TempEntry entry = make_temp_entry(parent, shown, "creating a temporary file", [&](const std::string& name) {
    fd.reset(
        ::openat(parent.dir.get(), name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    return fd ? 0 : errno;
  });
  return TempFile{std::move(fd), std::move(entry)};
}

/// Reads `from` to its end, hashing and (when `to` >= 0) writing each block: one pass for both.
/// This is all of CopyMethod::copy. copy_file_range(2) is not used there: on btrfs or XFS it may
/// share extents, which CopyMethod::copy promises not to do, and the digest needs the bytes in user
/// space anyway.
CopyResult hash_and_copy(int from, int to, const std::string& shown, const std::string& what) {
  auto buffer = std::make_unique_for_overwrite<char[]>(io_buffer_size);
  Sha256 hash;
  CopyResult result;
  for (;;) {
    ssize_t got = ::read(from, buffer.get(), io_buffer_size);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw system_error(shown, "reading " + what, errno);
    }
    if (got == 0) break;
    std::size_t size = static_cast<std::size_t>(got);
    hash.update(buffer.get(), size);
    if (to >= 0) write_all(to, buffer.get(), size, shown);
    result.size += size;
  }
  result.digest = hash.finish();
  return result;
}

/// The errors by which FICLONE and copy_file_range(2) say "not here" rather than "failed".
bool unsupported(int err) {
  return err == EOPNOTSUPP || err == EXDEV || err == EINVAL || err == ENOTTY || err == ENOSYS;
}

/// CopyMethod::reflink: fills `to` by the cheapest means that may share storage with `from`, FICLONE
/// then copy_file_range(2), and hashes what the jail file then holds; where neither works, a plain
/// hash_and_copy.
CopyResult share_or_copy(int from, int to, const std::string& shown, const std::string& what) {
  bool filled = ::ioctl(to, FICLONE, from) == 0;
  if (!filled && !unsupported(errno)) throw system_error(shown, "cloning " + what, errno);
  for (std::uint64_t copied = 0; !filled;) {
    ssize_t moved = ::copy_file_range(from, nullptr, to, nullptr, std::size_t{1} << 30, 0);
    if (moved > 0) {
      copied += static_cast<std::uint64_t>(moved);
    } else if (moved == 0) {
      // 0 at once may be an empty file, or a pseudo-file that only read(2) sees the content of.
      filled = copied > 0;
      break;
    } else if (errno != EINTR) {
      if (copied == 0 && unsupported(errno)) break;
      throw system_error(shown, "copying " + what, errno);
    }
  }
  if (!filled) return hash_and_copy(from, to, shown, what);
  if (::lseek(to, 0, SEEK_SET) != 0) throw system_error(shown, "rewinding", errno);
  return hash_and_copy(to, -1, shown, "back the copy");
}

/// Gives a fully written temporary file its owner and mode, then renames it into place. Setuid and
/// setgid are stripped here, whatever the caller asked: a copy must never carry them.
void finish_file(const Parent& parent, TempFile& temp, const std::string& shown, mode_t mode, uid_t uid,
                 gid_t gid, Fsync fsync) {
  const int fd = temp.fd.get();
  set_owner_and_mode(fd, shown, uid, gid, mode & 07777 & ~mode_t{S_ISUID | S_ISGID});
  if (fsync == Fsync::yes && ::fsync(fd) != 0) throw system_error(shown, "flushing", errno);
  struct stat made {};
  if (::fstat(fd, &made) != 0) throw system_error(shown, "reading status", errno);
  commit(parent, temp.entry, made, shown, fsync);
}

} // namespace

std::string type_name(mode_t mode) {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISLNK(mode)) return "a symlink";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device node";
  if (S_ISFIFO(mode)) return "a FIFO";
  return "a socket";
}

bool is_temp_name(std::string_view name) {
  // "." + at least one character of the final name + ".jbtmp." + the random digits.
  if (name.size() < 2 + temp_marker.size() + temp_random_digits || name.front() != '.') return false;
  std::string_view random = name.substr(name.size() - temp_random_digits);
  if (name.substr(name.size() - temp_random_digits - temp_marker.size(), temp_marker.size()) != temp_marker)
    return false;
  return std::all_of(random.begin(), random.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

JailFs::JailFs(const std::string& root) : root_(root) {
  while (root_.size() > 1 && root_.back() == '/')
    root_.pop_back();
  // O_NOFOLLOW|O_PATH would open a symlink itself; O_DIRECTORY then refuses it with ENOTDIR.
  root_fd_.reset(::open(root_.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root_fd_) {
    int err = errno;
    struct stat st {};
    if (::lstat(root_.c_str(), &st) == 0 && S_ISLNK(st.st_mode))
      throw Error(root_, "the jail root is a symlink; it must be a real directory");
    throw system_error(root_, "opening the jail root", err);
  }
}

std::string JailFs::path(std::string_view rel) const {
  while (!rel.empty() && rel.front() == '/')
    rel.remove_prefix(1);
  if (rel.empty()) return root_;
  return (root_ == "/" ? "" : root_) + "/" + std::string(rel);
}

void JailFs::make_dir(std::string_view rel, mode_t mode, uid_t uid, gid_t gid) {
  const std::string shown = path(rel);
  UniqueFd dir;
  if (components_of(rel, shown).empty()) {
    dir.reset(::openat(root_fd_.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir.get() < 0) throw system_error(shown, "opening the jail root", errno);
  } else {
    Parent parent = require_parent(root_fd_.get(), rel, shown);
    // Created private; the final mode is applied through the fd below, after the owner.
    if (::mkdirat(parent.dir.get(), parent.name.c_str(), 0700) != 0 && errno != EEXIST)
      throw system_error(shown, "creating directory", errno);
    dir.reset(
        ::openat(parent.dir.get(), parent.name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (dir.get() < 0) {
      int err = errno;
      std::optional<struct stat> st = stat_entry(parent, shown);
      if (st && S_ISLNK(st->st_mode)) refuse_symlink(shown, relative_text(rel, shown));
      if (st && !S_ISDIR(st->st_mode)) throw Error(shown, "exists and is not a directory");
      throw system_error(shown, "opening directory", err);
    }
  }
  set_owner_and_mode(dir.get(), shown, uid, gid, mode & 07777);
}

CopyResult JailFs::copy_file(std::string_view rel, const std::string& host_source, mode_t mode, uid_t uid,
                             gid_t gid, CopyMethod method, Fsync fsync) {
  const std::string shown = path(rel);
  Parent parent = require_parent(root_fd_.get(), rel, shown);
  refuse_directory(parent, shown);
  const std::string what = "source " + host_source;
  UniqueFd source(::open(host_source.c_str(), O_RDONLY | O_CLOEXEC));
  if (source.get() < 0) throw system_error(shown, "opening " + what, errno);
  struct stat st {};
  if (::fstat(source.get(), &st) != 0) throw system_error(shown, "reading status of " + what, errno);
  if (!S_ISREG(st.st_mode)) throw Error(shown, what + " is not a regular file");

  // Only the bytes are copied, never extended attributes: a file capability (security.capability)
  // would grant privileges inside the jail as setuid would, and ACLs or SELinux labels belong to the
  // host. Owner and mode come from the caller.
  TempFile temp = create_temp_file(parent, shown);
  CopyResult result = method == CopyMethod::reflink ? share_or_copy(source.get(), temp.fd.get(), shown, what)
                                                    : hash_and_copy(source.get(), temp.fd.get(), shown, what);
  finish_file(parent, temp, shown, mode, uid, gid, fsync);
  return result;
}

std::string JailFs::write_file(std::string_view rel, std::string_view content, mode_t mode, uid_t uid,
                               gid_t gid, Fsync fsync) {
  const std::string shown = path(rel);
  Parent parent = require_parent(root_fd_.get(), rel, shown);
  refuse_directory(parent, shown);
  TempFile temp = create_temp_file(parent, shown);
  write_all(temp.fd.get(), content.data(), content.size(), shown);
  finish_file(parent, temp, shown, mode, uid, gid, fsync);
  return sha256_hex(content);
}

CopyResult JailFs::write_stream(std::string_view rel, const std::function<std::string_view()>& next,
                                mode_t mode, uid_t uid, gid_t gid, Fsync fsync) {
  const std::string shown = path(rel);
  Parent parent = require_parent(root_fd_.get(), rel, shown);
  refuse_directory(parent, shown);
  TempFile temp = create_temp_file(parent, shown);
  Sha256 hash;
  CopyResult result;
  for (std::string_view block = next(); !block.empty(); block = next()) {
    hash.update(block);
    write_all(temp.fd.get(), block.data(), block.size(), shown);
    result.size += block.size();
  }
  result.digest = hash.finish();
  finish_file(parent, temp, shown, mode, uid, gid, fsync);
  return result;
}

void JailFs::make_hardlink(std::string_view rel, std::string_view existing) {
  const std::string shown = path(rel);
  const std::string existing_shown = path(existing);
  Parent from = require_parent(root_fd_.get(), existing, existing_shown);
  std::optional<struct stat> target = stat_entry(from, existing_shown);
  if (!target || !S_ISREG(target->st_mode))
    throw Error(shown, "hardlink target " + relative_text(existing, existing_shown) +
                           " is not a regular file of the jail");
  Parent parent = require_parent(root_fd_.get(), rel, shown);
  refuse_directory(parent, shown);
  // Flags 0: a symlink swapped in at `existing` would be linked itself, never followed; the inode
  // check below refuses it.
  TempEntry temp = make_temp_entry(parent, shown, "creating a hardlink", [&](const std::string& name) {
    return ::linkat(from.dir.get(), from.name.c_str(), parent.dir.get(), name.c_str(), 0) == 0 ? 0 : errno;
  });
  struct stat made = made_entry(parent, temp, shown);
  if (made.st_dev != target->st_dev || made.st_ino != target->st_ino)
    throw Error(shown, "the hardlink target changed under jailbuild: is a process in the jail tampering "
                       "with this directory?");
  commit(parent, temp, made, shown, Fsync::no);
}

void JailFs::make_symlink(std::string_view rel, const std::string& target) {
  const std::string shown = path(rel);
  if (target.empty() || target.find('\0') != std::string::npos) throw Error(shown, "invalid symlink target");
  Parent parent = require_parent(root_fd_.get(), rel, shown);
  refuse_directory(parent, shown);
  if (link_text(parent.dir.get(), parent.name, shown) == target) return;
  TempEntry temp =
      make_temp_entry(parent, shown, "creating a temporary symlink", [&](const std::string& name) {
        return ::symlinkat(target.c_str(), parent.dir.get(), name.c_str()) == 0 ? 0 : errno;
      });
  commit(parent, temp, made_entry(parent, temp, shown), shown, Fsync::no);
}

void JailFs::make_device(std::string_view rel, DeviceKind kind, unsigned major, unsigned minor, mode_t mode,
                         uid_t uid, gid_t gid) {
  const std::string shown = path(rel);
  const mode_t type = kind == DeviceKind::character ? S_IFCHR : S_IFBLK;
  const dev_t number = makedev(major, minor); // glibc's encoding: minors above 255 are split correctly
  const mode_t permissions = mode & 0777;
  Parent parent = require_parent(root_fd_.get(), rel, shown);
  refuse_directory(parent, shown);

  // Opens an entry O_PATH (opening a device node would act on the device) and checks, on the fd,
  // that it is the node we want, so nothing can swap it between the check and the chmod.
  auto open_node = [&](const std::string& name) -> std::optional<UniqueFd> {
    UniqueFd fd(::openat(parent.dir.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    struct stat st {};
    if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0) return std::nullopt;
    // A node with other links could be a host node planted by hardlink: replace, never chmod, it.
    if ((st.st_mode & S_IFMT) != type || st.st_rdev != number || st.st_nlink != 1) return std::nullopt;
    return fd;
  };

  if (std::optional<UniqueFd> existing = open_node(parent.name)) {
    set_owner_and_mode(existing->get(), shown, uid, gid, permissions);
    return;
  }
  TempEntry temp = make_temp_entry(parent, shown, "creating a device node", [&](const std::string& name) {
    return ::mknodat(parent.dir.get(), name.c_str(), type | 0600, number) == 0 ? 0 : errno;
  });
  std::optional<UniqueFd> node = open_node(temp.name);
  if (!node)
    throw Error(shown, "the new device node changed under jailbuild: is a process in the jail tampering "
                       "with this directory?");
  set_owner_and_mode(node->get(), shown, uid, gid, permissions);
  struct stat made {};
  if (::fstat(node->get(), &made) != 0) throw system_error(shown, "reading status", errno);
  commit(parent, temp, made, shown, Fsync::no);
}

void JailFs::remove(std::string_view rel) {
  const std::string shown = path(rel);
  std::optional<Parent> parent = find_parent(root_fd_.get(), rel, shown);
  if (!parent) return;
  std::optional<struct stat> st = stat_entry(*parent, shown);
  if (!st) return;
  if (S_ISDIR(st->st_mode)) throw Error(shown, "is a directory; not removing it");
  if (::unlinkat(parent->dir.get(), parent->name.c_str(), 0) != 0 && errno != ENOENT)
    throw system_error(shown, "removing", errno);
}

RemovedDir JailFs::remove_dir(std::string_view rel) {
  const std::string shown = path(rel);
  std::optional<Parent> parent = find_parent(root_fd_.get(), rel, shown);
  if (!parent) return RemovedDir::absent;
  // AT_REMOVEDIR on a symlink fails with ENOTDIR: it never removes what the link points to.
  if (::unlinkat(parent->dir.get(), parent->name.c_str(), AT_REMOVEDIR) == 0) return RemovedDir::removed;
  switch (errno) {
  case ENOENT:
    return RemovedDir::absent;
  case ENOTEMPTY:
  case EEXIST:
    return RemovedDir::not_empty;
  case EBUSY:
    return RemovedDir::mount_point;
  default:
    throw system_error(shown, "removing directory", errno);
  }
}

void JailFs::remove_tree(std::string_view rel) {
  const std::string shown = path(rel);
  if (components_of(rel, shown).empty()) return remove_tree_at(root_fd_.get(), "", shown);
  std::optional<Parent> parent = find_parent(root_fd_.get(), rel, shown);
  if (parent) remove_tree_at(parent->dir.get(), parent->name, shown);
}

bool JailFs::remove_leftover(std::string_view rel) {
  const std::string shown = path(rel);
  std::optional<Parent> parent = find_parent(root_fd_.get(), rel, shown);
  if (!parent || !is_temp_name(parent->name)) return false;
  // A service user may name its files as it likes in the directories it can write, but it cannot
  // make one root's: a root-owned regular file under such a name is one of ours (or a hardlink to a
  // root file that service could write, whose other names stay). unlinkat never follows, so
  // whatever might be swapped in meanwhile, only that name goes.
  std::optional<struct stat> st = stat_entry(*parent, shown);
  if (!st || !S_ISREG(st->st_mode) || st->st_uid != 0) return false;
  if (::unlinkat(parent->dir.get(), parent->name.c_str(), 0) != 0) {
    if (errno == ENOENT) return false;
    throw system_error(shown, "removing a temporary file left by an interrupted run", errno);
  }
  return true;
}

std::optional<struct stat> JailFs::lstat(std::string_view rel) const {
  const std::string shown = path(rel);
  if (components_of(rel, shown).empty()) {
    struct stat st {};
    if (::fstat(root_fd_.get(), &st) != 0) throw system_error(shown, "reading status", errno);
    return st;
  }
  std::optional<Parent> parent = find_parent(root_fd_.get(), rel, shown);
  if (!parent) return std::nullopt;
  return stat_entry(*parent, shown);
}

JailFs::Listing JailFs::list_dir(std::string_view rel) const {
  const std::string shown = path(rel);
  std::vector<std::string> components = components_of(rel, shown);
  Beneath dir = look_beneath(root_fd_.get(), components, components.size(), shown);
  switch (dir.stop) {
  case Beneath::Stop::none:
    break;
  case Beneath::Stop::absent:
    return {Listing::State::absent, {}};
  case Beneath::Stop::symlink:
    return {Listing::State::symlink, {}};
  case Beneath::Stop::not_directory:
    return {Listing::State::not_directory, {}};
  }
  // O_PATH cannot be read: reopen "." of exactly that directory for reading.
  UniqueFd opened(::openat(dir.dir.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!opened) throw system_error(shown, "opening directory", errno);
  std::unique_ptr<DIR, int (*)(DIR*)> stream(::fdopendir(opened.get()), ::closedir);
  if (!stream) throw system_error(shown, "reading directory", errno);
  const int fd = opened.release(); // the stream owns it now
  Listing out{Listing::State::present, {}};
  for (;;) {
    errno = 0;
    dirent* e = ::readdir(stream.get());
    if (!e) {
      if (errno != 0) throw system_error(shown, "reading directory", errno);
      break;
    }
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    Listed item{name, {}, {}};
    // A symlink's text is all there is to know of it (its own mode and times mean nothing): the
    // directory entry's type saves a stat for each of the hundreds of soname links.
    if (e->d_type == DT_LNK) {
      if (std::optional<std::string> link = read_link_at(fd, name.c_str())) {
        item.st.st_mode = S_IFLNK | 0777;
        item.link = std::move(*link);
        out.entries.push_back(std::move(item));
        continue;
      }
      // Gone, or no longer a symlink (replaced meanwhile): the status below tells.
      if (errno != ENOENT && errno != EINVAL)
        throw system_error(path(std::string(rel) + "/" + name), "reading symlink", errno);
    }
    if (::fstatat(fd, name.c_str(), &item.st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue; // gone meanwhile
      throw system_error(path(std::string(rel) + "/" + name), "reading status", errno);
    }
    if (S_ISLNK(item.st.st_mode)) {
      std::optional<std::string> link = read_link_at(fd, name.c_str());
      if (!link) {
        if (errno == ENOENT || errno == EINVAL) continue; // gone, or replaced, meanwhile
        throw system_error(path(std::string(rel) + "/" + name), "reading symlink", errno);
      }
      item.link = std::move(*link);
    }
    out.entries.push_back(std::move(item));
  }
  return out;
}

std::optional<std::string> JailFs::read_link(std::string_view rel) const {
  const std::string shown = path(rel);
  std::optional<Parent> parent = find_parent(root_fd_.get(), rel, shown);
  if (!parent) return std::nullopt;
  return link_text(parent->dir.get(), parent->name, shown);
}

int JailFs::open_path(std::string_view rel) const {
  const std::string shown = path(rel);
  std::vector<std::string> components = components_of(rel, shown);
  std::string joined = ".";
  for (const std::string& component : components)
    joined += "/" + component;
  open_how how{};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  long fd = ::syscall(SYS_openat2, root_fd_.get(), joined.c_str(), &how, sizeof how);
  if (fd >= 0) return static_cast<int>(fd);
  // Any failure: the component walk is just as safe, and it says what went wrong (as open_beneath).
  if (components.empty()) {
    UniqueFd root(::openat(root_fd_.get(), ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (root.get() < 0) throw system_error(shown, "opening the jail root", errno);
    return root.release();
  }
  Parent parent = require_parent(root_fd_.get(), rel, shown);
  // O_PATH | O_NOFOLLOW opens a symlink itself, which is then refused.
  UniqueFd entry(::openat(parent.dir.get(), parent.name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (entry.get() < 0) throw system_error(shown, "opening", errno);
  struct stat st {};
  if (::fstat(entry.get(), &st) != 0) throw system_error(shown, "reading status", errno);
  if (S_ISLNK(st.st_mode)) refuse_symlink(shown, relative_text(rel, shown));
  return entry.release();
}

int JailFs::open_read(std::string_view rel) const {
  const std::string shown = path(rel);
  Parent parent = require_parent(root_fd_.get(), rel, shown);
  // O_NONBLOCK: a FIFO planted in the jail must not hang us; it is refused below as not regular.
  UniqueFd fd(::openat(parent.dir.get(), parent.name.c_str(),
                       O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ELOOP) refuse_symlink(shown, relative_text(rel, shown));
    throw system_error(shown, "opening", errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw system_error(shown, "reading status", errno);
  if (!S_ISREG(st.st_mode)) throw Error(shown, "is not a regular file");
  int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0)
    throw system_error(shown, "clearing O_NONBLOCK", errno);
  return fd.release();
}

} // namespace jailbuild
