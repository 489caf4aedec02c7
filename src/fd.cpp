// SPDX-License-Identifier: MIT
#include "jailbuild/fd.hpp"

#include "jailbuild/error.hpp"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

namespace jailbuild {

std::string read_all(int fd, const std::string& shown, std::size_t limit, std::size_t padding) {
  struct stat st {};
  std::size_t expected = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0
                             ? static_cast<std::size_t>(st.st_size)
                             : 4096;
  std::string text;
  // One byte more than the file holds: the read that finds its end then needs no more room.
  text.reserve(std::min(expected, limit) + 1 + padding);
  std::size_t used = 0;
  for (;;) {
    std::size_t room = std::min(limit, text.capacity() - padding);
    if (used == room) {
      if (used == limit) break;
      text.reserve(text.capacity() * 2); // it grew, or fstat() could not tell
      continue;
    }
    text.resize(room);
    ssize_t got = ::read(fd, text.data() + used, room - used);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw system_error(shown, "cannot read", errno);
    }
    if (got == 0) break;
    used += static_cast<std::size_t>(got);
  }
  text.resize(used);
  return text;
}

std::optional<std::string> read_link_at(int dir_fd, const char* name) {
  // Most link texts are short: one call into a buffer on the stack; a longer one is asked again.
  char buffer[PATH_MAX];
  ssize_t size = ::readlinkat(dir_fd, name, buffer, sizeof buffer);
  if (size < 0) return std::nullopt;
  if (static_cast<std::size_t>(size) < sizeof buffer)
    return std::string(buffer, static_cast<std::size_t>(size));
  for (std::string text(2 * sizeof buffer, '\0');; text.resize(text.size() * 2)) {
    size = ::readlinkat(dir_fd, name, text.data(), text.size());
    if (size < 0) return std::nullopt;
    if (static_cast<std::size_t>(size) < text.size()) {
      text.resize(static_cast<std::size_t>(size));
      return text;
    }
  }
}

AtomicFile::AtomicFile(std::string path, mode_t mode) : path_(std::move(path)), mode_(mode) {
  const std::size_t slash = path_.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path_.substr(0, slash);
  const std::string base = path_.substr(slash == std::string::npos ? 0 : slash + 1);
  temp_ = dir + "/." + base + ".jbtmp.XXXXXX";
  // mkstemp: O_EXCL, mode 0600, so that nothing planted under the name is written through, and
  // nobody reads the content before it has its mode (an archive holds the jail's private files).
  fd_.reset(::mkstemp(temp_.data()));
  if (!fd_) throw system_error(path_, "creating a temporary file", errno);
  // Held until the object goes, however the process ends: see the class's comment.
  ::flock(fd_.get(), LOCK_EX);
}

AtomicFile::~AtomicFile() {
  if (!committed_) ::unlink(temp_.c_str());
}

void write_all(int fd, const void* data, std::size_t size, const std::string& shown) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t put = ::write(fd, p, size);
    if (put < 0) {
      if (errno == EINTR) continue;
      throw system_error(shown, "writing", errno);
    }
    p += put;
    size -= static_cast<std::size_t>(put);
  }
}

void AtomicFile::write(const void* data, std::size_t size) {
  write_all(fd_.get(), data, size, path_);
}

void AtomicFile::commit() {
  if (::fchmod(fd_.get(), mode_) != 0) throw system_error(path_, "setting its mode", errno);
  if (::close(fd_.release()) != 0) throw system_error(path_, "writing", errno);
  if (::rename(temp_.c_str(), path_.c_str()) != 0) throw system_error(path_, "renaming into place", errno);
  committed_ = true;
}

std::string executable_path() {
  std::optional<std::string> exe = read_link_at(AT_FDCWD, "/proc/self/exe");
  if (!exe || exe->empty())
    throw system_error("/proc/self/exe", "cannot tell where jailbuild is installed", exe ? ENOENT : errno);
  return std::move(*exe);
}

} // namespace jailbuild
