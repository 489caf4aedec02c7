// SPDX-License-Identifier: MIT
// The one owning file-descriptor type. Header only: the loadable modules (pack, unpack) use it as
// the core does, and an inline type needs no symbol to cross the module boundary.
#pragma once
#include <cerrno>
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

} // namespace jailbuild
