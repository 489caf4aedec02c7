// SPDX-License-Identifier: MIT
// Small helpers shared by the unit tests.
#pragma once
#include "jailbuild/error.hpp"

#include <doctest/doctest.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <glob.h>
#include <grp.h>
#include <linux/capability.h>
#include <sstream>
#include <string>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace jailbuild::test {

/// A fresh directory under /tmp, /tmp/jb-TAG-XXXXXX, removed with its content afterwards (remove_all
/// follows no symlink). Mode 0755 by default: root-owned, it is a fine parent for a jail. Most tests
/// pass mkdtemp's own 0700, private to its owner, which no jail operation sets on a host directory.
struct TempDir {
  std::string path;
  explicit TempDir(const std::string& tag = "test", mode_t mode = 0755) {
    std::string pattern = "/tmp/jb-" + tag + "-XXXXXX";
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
    REQUIRE(::chmod(path.c_str(), mode) == 0);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& rel) const { return path + "/" + rel; }
};

/// Writes `content` to `path`, creating the directories above it; returns `path`.
inline std::string write_text(const std::string& path, const std::string& content) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  return path;
}

/// The whole content of a file; "" when it cannot be read.
inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

/// lstat() of a path that must exist.
inline struct stat lstat_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st;
}

/// Some checks need root (chown, device nodes, mounts); some expectations differ without it.
inline bool is_root() {
  return ::geteuid() == 0;
}

/// Whether this process may mount: root with CAP_SYS_ADMIN, and a kernel that lets it here. Asked
/// once (a bind mount of a temporary directory onto itself), while the test cases are registered, so
/// that a case that mounts is reported as skipped where it cannot, not as passed.
inline bool can_mount() {
  static const bool can = [] {
    if (!is_root()) return false;
    char dir[] = "/tmp/jb-mount-probe-XXXXXX";
    if (!::mkdtemp(dir)) return false;
    bool mounted = ::mount(dir, dir, nullptr, MS_BIND, nullptr) == 0;
    if (mounted) ::umount2(dir, MNT_DETACH);
    ::rmdir(dir);
    return mounted;
  }();
  return can;
}

/// Whether this machine has nginx and php-fpm installed (/usr/sbin/nginx, /usr/sbin/php-fpm*,
/// /etc/php): the cases that read the real host need them, and are reported as skipped without.
inline bool real_services_installed() {
  static const bool installed = [] {
    glob_t fpm{};
    bool found = ::glob("/usr/sbin/php-fpm*", 0, nullptr, &fpm) == 0 && fpm.gl_pathc > 0;
    ::globfree(&fpm);
    return found && ::access("/usr/sbin/nginx", F_OK) == 0 && ::access("/etc/php", F_OK) == 0;
  }();
  return installed;
}

/// Runs `operation` in a child process that cannot override file permissions (root without
/// CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH; a tester who is not root has neither), so that a mode-000
/// directory refuses it with EACCES as it refuses anyone, as root meets it on NFS with root_squash or
/// on a FUSE mount. Returns the text `operation` returned, or "exception: <what>".
inline std::string without_dac_override(const std::function<std::string()>& operation) {
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(fds[0]);
    std::string text;
    int status = 0;
    try {
      // capset(2) without libcap: the calling thread, the only one of a child just forked.
      __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
      __user_cap_data_struct caps[2] = {};
      if (::syscall(SYS_capget, &header, caps) != 0) ::_exit(3);
      for (unsigned cap : {CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH}) {
        caps[cap / 32].effective &= ~(1u << (cap % 32));
        caps[cap / 32].permitted &= ~(1u << (cap % 32));
      }
      if (::syscall(SYS_capset, &header, caps) != 0) ::_exit(4);
      text = operation();
    } catch (const std::exception& e) {
      text = std::string("exception: ") + e.what();
    } catch (...) {
      status = 5;
    }
    for (std::size_t done = 0; done < text.size();) {
      ssize_t put = ::write(fds[1], text.data() + done, text.size() - done);
      if (put <= 0) ::_exit(6);
      done += static_cast<std::size_t>(put);
    }
    ::_exit(status);
  }
  ::close(fds[1]);
  std::string text;
  char buffer[4096];
  for (ssize_t got; (got = ::read(fds[0], buffer, sizeof buffer)) != 0;) {
    if (got < 0 && errno == EINTR) continue;
    REQUIRE(got > 0);
    text.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(fds[0]);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  return text;
}

/// what() of the Error an operation throws; "" when it throws none.
inline std::string error_of(const std::function<void()>& operation) {
  try {
    operation();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// Runs `operation` with the address space capped at what the process maps now plus `headroom`:
/// code that allocates what a hostile file claims then fails at once with std::bad_alloc instead of
/// taking gigabytes from the machine (attack tests run against unfixed code too). Lifted afterwards,
/// whatever `operation` throws.
inline void with_memory_cap(std::size_t headroom, const std::function<void()>& operation) {
  struct rlimit old {};
  REQUIRE(::getrlimit(RLIMIT_AS, &old) == 0);
  unsigned long mapped_pages = 0;
  std::ifstream("/proc/self/statm") >> mapped_pages;
  REQUIRE(mapped_pages > 0);
  rlim_t cap = mapped_pages * static_cast<rlim_t>(::sysconf(_SC_PAGESIZE)) + headroom;
  if (old.rlim_cur != RLIM_INFINITY && old.rlim_cur < cap) cap = old.rlim_cur;
  struct rlimit capped = {cap, old.rlim_max};
  REQUIRE(::setrlimit(RLIMIT_AS, &capped) == 0);
  struct Restore {
    const struct rlimit& old;
    ~Restore() { ::setrlimit(RLIMIT_AS, &old); }
  } restore{old};
  operation();
}

/// Runs `operation` on a thread of its own and gives it `seconds`. Code that opens the FIFO `fifo`
/// without O_NONBLOCK blocks there forever: when time is up, the FIFO is opened for writing and
/// closed, again each second, which lets such an open (and the read after it, at end of file) return,
/// so that the test fails instead of hanging. True when it finished in time; rethrows what it threw.
inline bool finishes_within(int seconds, const std::string& fifo, const std::function<void()>& operation) {
  std::future<void> done = std::async(std::launch::async, operation);
  bool in_time = done.wait_for(std::chrono::seconds(seconds)) == std::future_status::ready;
  while (done.wait_for(std::chrono::seconds(1)) != std::future_status::ready) {
    int writer = ::open(fifo.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (writer >= 0) ::close(writer);
  }
  done.get();
  return in_time;
}

/// The attack on a path-based recursive removal (CVE-2022-21658, Boost before 1.79): a process that
/// waits until someone opens the directory `dir` (inotify IN_OPEN: a remover that looked at it and
/// found a directory now reads its names), then swaps it for the symlink `link` with one
/// renameat2(RENAME_EXCHANGE). A remover that then unlinks DIR/NAME by path unlinks NAME wherever the
/// link leads. The process runs as `uid` (a service user: the attack needs no privilege) and is
/// forked before anything else runs; the watch is set when the constructor returns.
class SwapOnOpen {
public:
  SwapOnOpen(const std::string& dir, const std::string& link, uid_t uid) {
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::close(ready[0]);
      if (::setgroups(0, nullptr) != 0 || ::setgid(uid) != 0 || ::setuid(uid) != 0) ::_exit(2);
      int watch = ::inotify_init1(IN_CLOEXEC);
      if (watch < 0 || ::inotify_add_watch(watch, dir.c_str(), IN_OPEN) < 0) ::_exit(3);
      if (::write(ready[1], "r", 1) != 1) ::_exit(4);
      char event[4096];
      if (::read(watch, event, sizeof event) <= 0) ::_exit(5);
      ::_exit(::renameat2(AT_FDCWD, dir.c_str(), AT_FDCWD, link.c_str(), RENAME_EXCHANGE) == 0 ? 0 : 6);
    }
    ::close(ready[1]);
    char byte = 0;
    bool set = ::read(ready[0], &byte, 1) == 1;
    ::close(ready[0]);
    REQUIRE_MESSAGE(set, "the swapping process could not watch " << dir);
  }
  ~SwapOnOpen() { (void)swapped(); }
  SwapOnOpen(const SwapOnOpen&) = delete;
  SwapOnOpen& operator=(const SwapOnOpen&) = delete;

  /// Whether the swap was made; a process still waiting (nobody opened `dir`) is stopped first.
  bool swapped() {
    if (pid_ > 0) {
      int status = 0;
      pid_t done = 0;
      for (int i = 0; i < 100 && (done = ::waitpid(pid_, &status, WNOHANG)) == 0; ++i)
        ::usleep(10000); // woken by the open, it may still be swapping
      if (done == 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
      }
      swapped_ = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      pid_ = -1;
    }
    return swapped_;
  }

private:
  pid_t pid_ = -1;
  bool swapped_ = false;
};

/// The fake host root the build compiles from tiny C sources (tests/fixtures/make-fakeroot.sh).
extern const std::string fixture_root; // tests/unit/test_paths.cpp

/// A key of the FIXTURE-INFO file make-fakeroot.sh writes ("triplet", "interpreter").
inline std::string fixture_info(const std::string& key) {
  std::ifstream in(fixture_root + "/FIXTURE-INFO");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + "=", 0) == 0) return line.substr(key.size() + 1);
  FAIL("FIXTURE-INFO has no " << key << " (was the fake root built?)");
  return {};
}

} // namespace jailbuild::test
