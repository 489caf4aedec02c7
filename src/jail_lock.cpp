// SPDX-License-Identifier: MIT
#include "jailbuild/jail_lock.hpp"

#include "jailbuild/error.hpp"
#include "jailbuild/manifest.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <thread>

namespace jailbuild {

JailLock::JailLock(const std::string& dir, LockFor intent, std::chrono::milliseconds wait) {
  const std::string meta = dir + "/" + manifest_dir;
  const std::string path = meta + "/lock";
  // .jailbuild is root's (0700), but the jail around it is not: never follow a symlink at either name.
  UniqueFd meta_fd(::open(meta.c_str(), O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_PATH));
  if (!meta_fd) {
    if (errno == ENOENT) throw Error(dir, "not a jailbuild jail: no " + std::string(manifest_file));
    throw system_error(meta, "cannot open", errno);
  }
  // Looking (a dry run) writes nothing: no O_CREAT, no O_RDWR, so that a read-only jail can be looked
  // at; a shared lock needs neither.
  const int flags = intent == LockFor::change ? O_RDWR | O_CREAT : O_RDONLY;
  fd_.reset(::openat(meta_fd.get(), "lock", flags | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd_) {
    if (intent == LockFor::look && errno == ENOENT) return; // never changed by a jailbuild that locks
    throw system_error(path, "cannot open", errno);
  }
  const int operation = intent == LockFor::change ? LOCK_EX : LOCK_SH;
  const auto step = std::chrono::milliseconds(100);
  for (auto waited = std::chrono::milliseconds(0); ::flock(fd_.get(), operation | LOCK_NB) != 0;
       waited += step) {
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) throw system_error(path, "cannot lock", errno);
    if (waited >= wait) throw Error(dir, "another jailbuild holds the jail's lock (" + path + ")");
    std::this_thread::sleep_for(step);
  }
  // A create that failed removes the jail it made, lock file and all, while holding the lock: the
  // lock this one waited for then belongs to no jail any more.
  struct stat st {};
  if (::fstat(fd_.get(), &st) != 0) throw system_error(path, "cannot read status", errno);
  if (st.st_nlink == 0)
    throw Error(dir, "was removed by another jailbuild (a create that failed) while this one waited for "
                     "its lock");
}

} // namespace jailbuild
