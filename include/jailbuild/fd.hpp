// SPDX-License-Identifier: MIT
// The one owning file-descriptor type, and what every module does through a descriptor the same way:
// read a file whole, read a symlink, write a host file whole or not at all. UniqueFd is inline: the
// loadable modules (pack, unpack) use it as the core does, with no symbol to cross the boundary.
#pragma once
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <unistd.h>
#include <utility>

namespace jailbuild {

/// Owns a file descriptor and closes it when it goes, so that no error path can leak one: jailbuild
/// holds jail directories open by fd (never by path) and a walk opens thousands. Move-only; -1 is
/// "none". Closing keeps errno, so that a failed call's errno survives the unwinding that closes.
class UniqueFd {
public:
  UniqueFd() = default;
  /// Takes ownership of fd, which may be -1 (a failed open: test valid() and read errno).
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }
  /// Gives up ownership: the caller closes what is returned.
  [[nodiscard]] int release() { return std::exchange(fd_, -1); }
  /// Closes the fd held, if any, and takes fd instead.
  void reset(int fd = -1) {
    if (int old = std::exchange(fd_, fd); old >= 0) {
      int saved = errno;
      ::close(old);
      errno = saved;
    }
  }

private:
  int fd_ = -1;
};

/// What is left to read of `fd`, to its end or to `limit` bytes, whichever comes first (EINTR
/// retried): one read per block straight into the string, sized by fstat() first. `padding` bytes
/// of capacity are left free behind the text (simdjson reads past the end). Throws Error(shown,
/// "cannot read: ...") when a read fails.
std::string read_all(int fd, const std::string& shown, std::size_t limit = SIZE_MAX, std::size_t padding = 0);

/// Writes all of `data` to `fd` (EINTR and short writes retried); throws Error(shown, "writing: ...").
void write_all(int fd, const void* data, std::size_t size, const std::string& shown);

/// The text of the symlink `name` in the directory `dir_fd`, however long ("" with an O_PATH fd of
/// the symlink itself; AT_FDCWD and a path for a trusted path such as /proc/self/exe). nullopt with
/// errno set when it cannot be read: ENOENT (absent), EINVAL (not a symlink) or another failure, for
/// the caller to judge.
std::optional<std::string> read_link_at(int dir_fd, const char* name);

/// A host file (outside any jail: an archive, its checksum, the apt hook, the registry) written
/// whole or not at all: the content goes to a temporary file beside it, ".NAME.jbtmp.XXXXXX"
/// (O_EXCL, 0600 while written), given `mode` and renamed over NAME by commit(); removed if the object
/// goes without a commit. The temporary file is flock()ed while the object lives: one nobody holds
/// locked is the leftover of a killed run, which the next run may remove.
class AtomicFile {
public:
  /// Creates the temporary file; throws Error(path, ...) when it cannot.
  AtomicFile(std::string path, mode_t mode);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  /// write_all() to the temporary file.
  void write(const void* data, std::size_t size);
  void write(std::string_view data) { write(data.data(), data.size()); }
  /// The temporary file's descriptor, for what write() does not do (sync_file_range).
  int fd() const { return fd_.get(); }
  /// Gives the file its mode, closes it and renames it over the final name.
  void commit();
  const std::string& path() const { return path_; }

private:
  std::string path_, temp_;
  mode_t mode_;
  UniqueFd fd_;
  bool committed_ = false;
};

/// The path of the running executable (/proc/self/exe: the kernel's, without symlinks or "..").
/// Throws Error("/proc/self/exe", "cannot tell where jailbuild is installed: ...").
std::string executable_path();

} // namespace jailbuild
