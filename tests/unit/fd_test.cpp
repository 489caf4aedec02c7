// SPDX-License-Identifier: MIT
#include "jailbuild/error.hpp"
#include "jailbuild/fd.hpp"

#include "test_util.hpp"

#include <doctest/doctest.h>

#include <cerrno>
#include <climits>
#include <fcntl.h>
#include <filesystem>
#include <string>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace jailbuild;
using namespace jailbuild::test;
namespace fs = std::filesystem;

namespace {

UniqueFd open_read(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  REQUIRE(fd);
  return fd;
}

} // namespace

TEST_CASE("read_all: the whole file, a limit, padding behind it, a file that reports no size") {
  TempDir tmp("fd", 0700);
  std::string big(300000, 'x');
  big[123456] = 'y';
  write_text(tmp / "big", big);
  CHECK(read_all(open_read(tmp / "big").get(), "big") == big);
  CHECK(read_all(open_read(tmp / "big").get(), "big", 10) == std::string(10, 'x'));
  std::string padded = read_all(open_read(tmp / "big").get(), "big", SIZE_MAX, 64);
  CHECK(padded == big);
  CHECK(padded.capacity() >= padded.size() + 64);
  write_text(tmp / "empty", "");
  CHECK(read_all(open_read(tmp / "empty").get(), "empty").empty());
  // /proc files say they are empty: read on until the end all the same.
  std::string status = read_all(open_read("/proc/self/status").get(), "/proc/self/status");
  CHECK(contains(status, "\nPid:\t"));
  // Where it is: reading goes on from the file offset.
  UniqueFd fd = open_read(tmp / "big");
  REQUIRE(::lseek(fd.get(), 299990, SEEK_SET) == 299990);
  CHECK(read_all(fd.get(), "big") == std::string(10, 'x'));
}

TEST_CASE("read_all: a read that fails is an Error naming the path, with its errno") {
  TempDir tmp("fd", 0700);
  UniqueFd dir(::open(tmp.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(dir);
  try {
    read_all(dir.get(), tmp.path);
    FAIL("no Error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) == tmp.path + ": cannot read: Is a directory");
    CHECK(e.code() == EISDIR);
  }
}

TEST_CASE("read_link_at: short and long link texts, absent, not a symlink, the link an O_PATH fd holds") {
  TempDir tmp("fd", 0700);
  REQUIRE(::symlink("target", (tmp / "short").c_str()) == 0);
  std::string long_target(PATH_MAX - 1, 'l'); // the longest the kernel makes
  REQUIRE(::symlink(long_target.c_str(), (tmp / "long").c_str()) == 0);
  write_text(tmp / "file", "x");
  UniqueFd dir(::open(tmp.path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(dir);
  CHECK(read_link_at(dir.get(), "short") == "target");
  CHECK(read_link_at(dir.get(), "long") == long_target);
  CHECK(read_link_at(AT_FDCWD, (tmp / "short").c_str()) == "target");
  CHECK_FALSE(read_link_at(dir.get(), "missing"));
  CHECK(errno == ENOENT);
  CHECK_FALSE(read_link_at(dir.get(), "file"));
  CHECK(errno == EINVAL);
  UniqueFd link(::openat(dir.get(), "short", O_PATH | O_NOFOLLOW | O_CLOEXEC));
  REQUIRE(link);
  CHECK(read_link_at(link.get(), "") == "target");
}

TEST_CASE("AtomicFile: whole or not at all, its mode, nothing written through a planted name") {
  TempDir tmp("fd", 0700);
  write_text(tmp / "conf", "old\n");
  {
    AtomicFile file(tmp / "conf", 0644);
    file.write("new ");
    CHECK(read_text(tmp / "conf") == "old\n"); // not yet
    // Its temporary file is hidden, private, and locked while it is written.
    std::string temp;
    for (const fs::directory_entry& e : fs::directory_iterator(tmp.path))
      if (e.path().filename().string().starts_with(".conf.jbtmp.")) temp = e.path();
    REQUIRE_FALSE(temp.empty());
    CHECK((lstat_of(temp).st_mode & 07777) == 0600);
    UniqueFd other(::open(temp.c_str(), O_RDONLY | O_CLOEXEC));
    CHECK(::flock(other.get(), LOCK_EX | LOCK_NB) != 0);
    file.write(std::string("content\n"));
    file.commit();
  }
  CHECK(read_text(tmp / "conf") == "new content\n");
  CHECK((lstat_of(tmp / "conf").st_mode & 07777) == 0644);
  // Without a commit, the final name keeps what it had and nothing is left beside it.
  {
    AtomicFile file(tmp / "conf", 0600);
    file.write("half");
  }
  CHECK(read_text(tmp / "conf") == "new content\n");
  CHECK(std::distance(fs::directory_iterator(tmp.path), fs::directory_iterator()) == 1);
  // A symlink at the final name is replaced, its target untouched.
  write_text(tmp / "target", "keep");
  fs::remove(tmp / "conf");
  fs::create_symlink(tmp / "target", tmp / "conf");
  AtomicFile file(tmp / "conf", 0644);
  file.write("mine");
  file.commit();
  CHECK(read_text(tmp / "target") == "keep");
  CHECK_FALSE(fs::is_symlink(tmp / "conf"));
  CHECK(contains(error_of([&] { AtomicFile(tmp / "missing/conf", 0644); }),
                 tmp / "missing/conf: creating a temporary file: No such file or directory"));
}

TEST_CASE("executable_path: the running program, by the kernel's name for it") {
  std::string exe = executable_path();
  CHECK(exe.front() == '/');
  CHECK(exe == fs::canonical("/proc/self/exe").string());
}
