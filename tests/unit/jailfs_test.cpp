// SPDX-License-Identifier: MIT
#include "jailbuild/digest.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/fd.hpp"
#include "jailbuild/jailfs.hpp"

#include "test_util.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <fcntl.h>
#include <filesystem>
#include <functional>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <string>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

using namespace jailbuild;
using namespace jailbuild::test;
namespace fs = std::filesystem;

// Temporary directories keep mkdtemp's 0700: a jail operation that changed one outside the jail would
// show.

namespace {

constexpr const char* symlink_refusal = "refusing to follow a symlink inside the jail";

/// A host file holding `content`, with exactly `mode`.
void write_host(const std::string& path, const std::string& content, mode_t mode = 0644) {
  write_text(path, content);
  REQUIRE(::chmod(path.c_str(), mode) == 0);
}

/// The names in a directory tree, relative to it, sorted.
std::vector<std::string> tree(const std::string& dir) {
  std::vector<std::string> names;
  for (const fs::directory_entry& entry : fs::recursive_directory_iterator(dir))
    names.push_back(entry.path().lexically_relative(dir).string());
  std::sort(names.begin(), names.end());
  return names;
}

bool has_temp_entry(const std::string& dir) {
  for (const std::string& name : tree(dir))
    if (name.find(".jbtmp.") != std::string::npos) return true;
  return false;
}

/// Owner ids a test may give: other ids as root, our own otherwise.
uid_t test_uid() {
  return is_root() ? 1234 : ::geteuid();
}
gid_t test_gid() {
  return is_root() ? 5678 : ::getegid();
}

/// Whether a process may install a seccomp filter here (a child tries one that allows everything).
/// Asked once, while the test cases are registered, so that the case that needs one is reported as
/// skipped where it cannot, not as passed.
bool can_filter_syscalls() {
  static const bool can = [] {
    pid_t child = ::fork();
    if (child < 0) return false;
    if (child == 0) {
      sock_filter allow[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
      sock_fprog program{1, allow};
      bool ok = ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
                ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) == 0;
      ::_exit(ok ? 0 : 2);
    }
    int status = 0;
    return ::waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }();
  return can;
}

} // namespace

TEST_CASE("jailfs: the root must be a real directory") {
  TempDir dir("jailfs", 0700);
  REQUIRE(::mkdir((dir / "real").c_str(), 0755) == 0);
  REQUIRE(::symlink((dir / "real").c_str(), (dir / "link").c_str()) == 0);
  CHECK_NOTHROW(JailFs(dir / "real"));
  CHECK_NOTHROW(JailFs(dir / "real/"));
  CHECK(contains(error_of([&] { JailFs jail(dir / "link"); }), "is a symlink"));
  CHECK(contains(error_of([&] { JailFs jail(dir / "missing"); }), dir / "missing"));
}

TEST_CASE("jailfs: make_dir applies mode exactly, sticky and setgid included, and fixes existing ones") {
  TempDir dir("jailfs", 0700);
  JailFs jail(dir.path);
  const mode_t old_umask = ::umask(022);
  jail.make_dir("tmp", 01777, test_uid(), test_gid());
  jail.make_dir("/var", 0755, test_uid(), test_gid());
  jail.make_dir("var/lib", 02750, test_uid(), test_gid());
  ::umask(old_umask);

  struct stat st = lstat_of(dir / "tmp");
  CHECK(S_ISDIR(st.st_mode));
  CHECK((st.st_mode & 07777) == 01777);
  CHECK(st.st_uid == test_uid());
  CHECK(st.st_gid == test_gid());
  CHECK((lstat_of(dir / "var/lib").st_mode & 07777) == 02750);

  jail.make_dir("var/lib", 0711, test_uid(), test_gid());
  CHECK((lstat_of(dir / "var/lib").st_mode & 07777) == 0711);
  jail.make_dir("", 0755, static_cast<uid_t>(-1), static_cast<gid_t>(-1));
  CHECK((lstat_of(dir.path).st_mode & 07777) == 0755);

  CHECK(contains(error_of([&] { jail.make_dir("no/such/parent", 0755, test_uid(), test_gid()); }),
                 dir / "no/such/parent: opening the parent directory"));
  CHECK(contains(error_of([&] { jail.make_dir("var/../etc", 0755, 0, 0); }), "'..' is not allowed"));
}

TEST_CASE("jailfs: make_dir refuses a symlink or a file where the directory should be") {
  TempDir dir("jailfs", 0700);
  TempDir outside("outside", 0700);
  REQUIRE(::chmod(outside.path.c_str(), 0700) == 0);
  REQUIRE(::symlink(outside.path.c_str(), (dir / "etc").c_str()) == 0);
  write_host(dir / "file", "x");
  JailFs jail(dir.path);

  std::string error = error_of([&] { jail.make_dir("etc", 0777, test_uid(), test_gid()); });
  CHECK(contains(error, dir / "etc: "));
  CHECK(contains(error, symlink_refusal));
  CHECK((lstat_of(outside.path).st_mode & 07777) == 0700);
  CHECK(S_ISLNK(lstat_of(dir / "etc").st_mode)); // reported, not silently deleted
  CHECK(contains(error_of([&] { jail.make_dir("file", 0755, test_uid(), test_gid()); }), "not a directory"));
}

TEST_CASE("jailfs: copy_file gives content, mode, owner and digest, and strips setuid and setgid") {
  TempDir host("host", 0700);
  TempDir dir("jailfs", 0700);
  std::string content;
  for (int i = 0; content.size() < 600 * 1024; ++i)
    content += "line " + std::to_string(i) + "\n";
  write_host(host / "php-fpm", content, 06755);
  JailFs jail(dir.path);
  jail.make_dir("usr", 0755, test_uid(), test_gid());

  for (CopyMethod method : {CopyMethod::copy, CopyMethod::reflink}) {
    CAPTURE(static_cast<int>(method));
    CopyResult result =
        jail.copy_file("usr/php-fpm", host / "php-fpm", 06755, test_uid(), test_gid(), method);
    CHECK(result.digest == sha256_hex(content));
    CHECK(result.size == content.size());
    CHECK(read_text(dir / "usr/php-fpm") == content);
    struct stat st = lstat_of(dir / "usr/php-fpm");
    CHECK(S_ISREG(st.st_mode));
    CHECK((st.st_mode & 07777) == 0755);
    CHECK(st.st_uid == test_uid());
    CHECK(st.st_gid == test_gid());
    CHECK(st.st_nlink == 1);
  }

  // A pseudo-file, whose size says 0: copy_file_range sees nothing in it, read(2) does.
  for (CopyMethod method : {CopyMethod::copy, CopyMethod::reflink}) {
    CopyResult version = jail.copy_file("usr/version", "/proc/version", 0644, test_uid(), test_gid(), method);
    CHECK(version.size > 0);
    CHECK(version.digest == sha256_file("/proc/version"));
    CHECK(version.digest == sha256_file(dir / "usr/version"));
  }

  write_host(host / "empty", "");
  CopyResult empty =
      jail.copy_file("usr/empty", host / "empty", 0644, test_uid(), test_gid(), CopyMethod::copy, Fsync::yes);
  CHECK(empty.digest == sha256_hex(""));
  CHECK(empty.size == 0);
  CHECK(contains(error_of([&] {
                   jail.copy_file("usr/null", "/dev/null", 0644, test_uid(), test_gid(), CopyMethod::copy);
                 }),
                 "is not a regular file"));
  CHECK(!has_temp_entry(dir.path));
}

TEST_CASE("jailfs: write_file writes content atomically with mode, owner and digest") {
  TempDir dir("jailfs", 0700);
  JailFs jail(dir.path);
  jail.make_dir("etc", 0755, test_uid(), test_gid());
  CHECK(jail.write_file("etc/passwd", "root:x:0:0::/:/bin/false\n", 0644, test_uid(), test_gid()) ==
        sha256_hex("root:x:0:0::/:/bin/false\n"));
  CHECK(jail.write_file("etc/passwd", "abc", 04640, test_uid(), test_gid(), Fsync::yes) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(read_text(dir / "etc/passwd") == "abc");
  struct stat st = lstat_of(dir / "etc/passwd");
  CHECK((st.st_mode & 07777) == 0640);
  CHECK(st.st_uid == test_uid());
  CHECK(tree(dir.path) == std::vector<std::string>{"etc", "etc/passwd"});
  CHECK(contains(error_of([&] { jail.write_file("etc", "x", 0644, test_uid(), test_gid()); }),
                 "refusing to replace a directory"));
}

TEST_CASE("jailfs: a symlink planted as a parent component is refused and nothing is written outside") {
  TempDir dir("jailfs", 0700);
  TempDir outside("outside", 0700);
  write_host(outside / "victim", "host data", 0600);
  REQUIRE(::mkdir((outside / "sub").c_str(), 0700) == 0);
  JailFs jail(dir.path);
  jail.make_dir("var", 0755, test_uid(), test_gid());
  jail.make_dir("var/lib", 0755, test_uid(), test_gid());
  REQUIRE(::symlink(outside.path.c_str(), (dir / "var/lib/x").c_str()) == 0);
  // A relative link climbing out, and a link as the first component.
  REQUIRE(::symlink("../../..", (dir / "var/lib/up").c_str()) == 0);
  REQUIRE(::symlink(outside.path.c_str(), (dir / "top").c_str()) == 0);
  write_host(dir / "host-source", "new content");

  for (const std::string& base : std::vector<std::string>{"var/lib/x", "var/lib/up" + outside.path, "top"}) {
    CAPTURE(base);
    const std::vector<std::pair<const char*, std::function<void()>>> operations = {
        {"make_dir", [&] { jail.make_dir(base + "/d", 0777, test_uid(), test_gid()); }},
        {"make_dir existing", [&] { jail.make_dir(base + "/sub", 0777, test_uid(), test_gid()); }},
        {"copy_file",
         [&] { jail.copy_file(base + "/victim", dir / "host-source", 0666, 0, 0, CopyMethod::copy); }},
        {"write_file", [&] { jail.write_file(base + "/victim", "pwned", 0666, 0, 0); }},
        {"make_symlink", [&] { jail.make_symlink(base + "/victim", "/bin/sh"); }},
        {"make_device", [&] { jail.make_device(base + "/victim", DeviceKind::character, 1, 3, 0666, 0, 0); }},
        {"remove", [&] { jail.remove(base + "/victim"); }},
        {"remove_dir", [&] { jail.remove_dir(base + "/sub"); }},
        {"lstat", [&] { (void)jail.lstat(base + "/victim"); }},
        {"read_link", [&] { (void)jail.read_link(base + "/victim"); }},
        {"open_read", [&] { ::close(jail.open_read(base + "/victim")); }},
    };
    for (const auto& [name, operation] : operations) {
      CAPTURE(name);
      std::string error = error_of(operation);
      CHECK(contains(error, symlink_refusal));
      CHECK(contains(error, dir / base + "/"));
    }
  }
  CHECK(tree(outside.path) == std::vector<std::string>{"sub", "victim"});
  CHECK(read_text(outside / "victim") == "host data");
  CHECK((lstat_of(outside / "victim").st_mode & 07777) == 0600);
  CHECK((lstat_of(outside / "sub").st_mode & 07777) == 0700);
  CHECK(!has_temp_entry(dir.path));
}

TEST_CASE("jailfs: a symlink or hardlink at the final name is replaced, never written through") {
  TempDir dir("jailfs", 0700);
  TempDir outside("outside", 0700);
  write_host(outside / "shadow", "secret", 0600);
  write_host(outside / "hosts", "linked", 0600);
  write_host(dir / "host-source", "copied");
  JailFs jail(dir.path);
  jail.make_dir("etc", 0755, test_uid(), test_gid());
  REQUIRE(::symlink((outside / "shadow").c_str(), (dir / "etc/shadow").c_str()) == 0);
  REQUIRE(::symlink((outside / "shadow").c_str(), (dir / "etc/copied").c_str()) == 0);
  REQUIRE(::link((outside / "hosts").c_str(), (dir / "etc/hosts").c_str()) == 0);

  jail.write_file("etc/shadow", "jail", 0640, test_uid(), test_gid());
  jail.copy_file("etc/copied", dir / "host-source", 0644, test_uid(), test_gid(), CopyMethod::copy);
  jail.write_file("etc/hosts", "jail hosts", 0644, test_uid(), test_gid());

  CHECK(S_ISREG(lstat_of(dir / "etc/shadow").st_mode));
  CHECK(read_text(dir / "etc/shadow") == "jail");
  CHECK(read_text(dir / "etc/copied") == "copied");
  CHECK(read_text(dir / "etc/hosts") == "jail hosts");
  CHECK(read_text(outside / "shadow") == "secret");
  CHECK(read_text(outside / "hosts") == "linked");
  struct stat host_file = lstat_of(outside / "hosts");
  CHECK((host_file.st_mode & 07777) == 0600);
  CHECK(host_file.st_nlink == 1);
  CHECK(host_file.st_uid == ::geteuid());
}

// Creating device nodes needs root (CAP_MKNOD).
TEST_CASE("jailfs: a device made where a symlink is replaces it; its target keeps its mode" *
          doctest::skip(!is_root())) {
  TempDir dir("jailfs", 0700);
  TempDir outside("outside", 0700);
  write_host(outside / "shadow", "secret", 0600);
  JailFs jail(dir.path);
  jail.make_dir("etc", 0755, test_uid(), test_gid());
  REQUIRE(::symlink((outside / "shadow").c_str(), (dir / "etc/null").c_str()) == 0);
  jail.make_device("etc/null", DeviceKind::character, 1, 3, 0666, 0, 0);
  CHECK(S_ISCHR(lstat_of(dir / "etc/null").st_mode));
  CHECK((lstat_of(outside / "shadow").st_mode & 07777) == 0600);
  CHECK(read_text(outside / "shadow") == "secret");
}

TEST_CASE("jailfs: make_symlink is idempotent, replaces atomically, and refuses a directory") {
  TempDir dir("jailfs", 0700);
  JailFs jail(dir.path);
  jail.make_dir("lib", 0755, test_uid(), test_gid());
  jail.make_symlink("lib/libc.so", "libc.so.6");
  CHECK(jail.read_link("lib/libc.so") == "libc.so.6");
  const ino_t first = lstat_of(dir / "lib/libc.so").st_ino;

  jail.make_symlink("lib/libc.so", "libc.so.6");
  CHECK(lstat_of(dir / "lib/libc.so").st_ino == first); // untouched

  jail.make_symlink("lib/libc.so", "/lib/x86_64-linux-gnu/libc.so.6");
  CHECK(jail.read_link("lib/libc.so") == "/lib/x86_64-linux-gnu/libc.so.6");

  write_host(dir / "lib/file", "x");
  std::string long_target;
  while (long_target.size() < 600)
    long_target += "../long/";
  jail.make_symlink("lib/file", long_target);
  CHECK(jail.read_link("lib/file") == long_target);

  CHECK(contains(error_of([&] { jail.make_symlink("lib", "usr/lib"); }), "refusing to replace a directory"));
  CHECK(tree(dir.path) == std::vector<std::string>{"lib", "lib/file", "lib/libc.so"});
}

// Creating device nodes needs root (CAP_MKNOD).
TEST_CASE("jailfs: make_device gives the device number, including minors above 255" *
          doctest::skip(!is_root())) {
  TempDir dir("jailfs", 0700);
  JailFs jail(dir.path);
  jail.make_dir("dev", 0755, 0, 0);
  jail.make_device("dev/odd", DeviceKind::character, 4, 300, 0620, 0, 5);
  struct stat st = lstat_of(dir / "dev/odd");
  CHECK(S_ISCHR(st.st_mode));
  CHECK(st.st_rdev == makedev(4, 300));
  CHECK(major(st.st_rdev) == 4);
  CHECK(minor(st.st_rdev) == 300);
  CHECK((st.st_mode & 07777) == 0620);
  CHECK(st.st_gid == 5);

  // An identical node only has its mode and owner fixed.
  jail.make_device("dev/odd", DeviceKind::character, 4, 300, 04666, 1234, 5678);
  struct stat fixed = lstat_of(dir / "dev/odd");
  CHECK(fixed.st_ino == st.st_ino);
  CHECK((fixed.st_mode & 07777) == 0666);
  CHECK(fixed.st_uid == 1234);
  CHECK(fixed.st_gid == 5678);

  // A different node is replaced.
  jail.make_device("dev/odd", DeviceKind::block, 7, 1000, 0600, 0, 0);
  struct stat replaced = lstat_of(dir / "dev/odd");
  CHECK(S_ISBLK(replaced.st_mode));
  CHECK(replaced.st_rdev == makedev(7, 1000));
  CHECK(!has_temp_entry(dir.path));
}

TEST_CASE("jailfs: no temporary file remains after a failure") {
  TempDir dir("jailfs", 0700);
  JailFs jail(dir.path);
  jail.make_dir("bin", 0755, test_uid(), test_gid());
  write_host(dir / "bin/old", "old");

  std::string error = error_of(
      [&] { jail.copy_file("bin/old", dir / "missing", 0755, test_uid(), test_gid(), CopyMethod::copy); });
  CHECK(contains(error, dir / "bin/old: opening source " + dir / "missing"));
  // /proc/self/mem is a regular file whose first page cannot be read: the copy fails midway.
  for (CopyMethod method : {CopyMethod::copy, CopyMethod::reflink}) {
    CAPTURE(static_cast<int>(method));
    error =
        error_of([&] { jail.copy_file("bin/old", "/proc/self/mem", 0755, test_uid(), test_gid(), method); });
    CHECK(contains(error, dir / "bin/old: reading source /proc/self/mem"));
  }
  CHECK(tree(dir.path) == std::vector<std::string>{"bin", "bin/old"});
  CHECK(read_text(dir / "bin/old") == "old");
}

TEST_CASE("jailfs: remove and remove_dir never follow and treat absence as done") {
  TempDir dir("jailfs", 0700);
  TempDir outside("outside", 0700);
  write_host(outside / "target", "keep");
  JailFs jail(dir.path);
  jail.make_dir("tmp", 01777, test_uid(), test_gid());
  jail.make_dir("tmp/sub", 0755, test_uid(), test_gid());
  REQUIRE(::symlink((outside / "target").c_str(), (dir / "tmp/link").c_str()) == 0);
  REQUIRE(::symlink(outside.path.c_str(), (dir / "tmp/dirlink").c_str()) == 0);

  jail.remove("tmp/link");
  CHECK(!jail.lstat("tmp/link"));
  CHECK(read_text(outside / "target") == "keep");
  jail.remove("tmp/link");
  jail.remove("no/such/dir/file");
  CHECK(jail.remove_dir("no/such/dir") == RemovedDir::absent);

  CHECK(contains(error_of([&] { jail.remove_dir("tmp/dirlink"); }), "Not a directory"));
  CHECK(fs::exists(outside.path));
  CHECK(contains(error_of([&] { jail.remove("tmp/sub"); }), "is a directory"));
  CHECK(jail.remove_dir("tmp") == RemovedDir::not_empty);
  CHECK(jail.remove_dir("tmp/sub") == RemovedDir::removed);
  CHECK(!jail.lstat("tmp/sub"));
}

TEST_CASE("remove_tree: removes a whole tree and nothing a symlink in it leads to") {
  TempDir dir("jailfs", 0700);
  TempDir outside("outside", 0700);
  write_host(outside / "target", "keep");
  write_host(outside / "sub/file", "keep");
  JailFs jail(dir.path);
  jail.make_dir("var", 0755, test_uid(), test_gid());
  jail.make_dir("var/a", 0755, test_uid(), test_gid());
  jail.make_dir("var/a/b", 01777, test_uid(), test_gid());
  jail.write_file("var/a/b/file", "x", 0644, test_uid(), test_gid());
  REQUIRE(::mkfifo((dir / "var/a/fifo").c_str(), 0600) == 0);
  REQUIRE(::symlink((outside / "target").c_str(), (dir / "var/a/link").c_str()) == 0);
  REQUIRE(::symlink(outside.path.c_str(), (dir / "var/a/b/dirlink").c_str()) == 0);
  jail.make_dir("etc", 0755, test_uid(), test_gid());

  jail.remove_tree("var");
  CHECK(!jail.lstat("var"));
  CHECK(jail.lstat("etc"));
  CHECK(read_text(outside / "target") == "keep");
  CHECK(read_text(outside / "sub/file") == "keep");
  jail.remove_tree("var"); // absent: done
  jail.remove_tree("no/such/dir");

  // A symlink where a directory is expected is removed itself, its target never entered.
  REQUIRE(::symlink(outside.path.c_str(), (dir / "var").c_str()) == 0);
  jail.remove_tree("var");
  CHECK(!jail.lstat("var"));
  CHECK(read_text(outside / "sub/file") == "keep");
  // On the way to it, a symlink is refused as everywhere in JailFs.
  REQUIRE(::symlink(outside.path.c_str(), (dir / "lnk").c_str()) == 0);
  CHECK(contains(error_of([&] { jail.remove_tree("lnk/sub"); }), symlink_refusal));
  CHECK(read_text(outside / "sub/file") == "keep");

  // "" empties the root, which stays.
  jail.remove_tree("");
  CHECK(tree(dir.path).empty());
  CHECK(fs::is_directory(dir.path));
  CHECK(read_text(outside / "target") == "keep");
}

TEST_CASE("remove_tree: a tree 1,000 levels deep goes with a bounded number of fds") {
  TempDir dir("jailfs", 0700);
  JailFs jail(dir.path);
  jail.make_dir("tmp", 01777, test_uid(), test_gid());
  UniqueFd at(::open((dir / "tmp").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(at);
  for (int level = 0; level < 1000; ++level) {
    REQUIRE(::mkdirat(at.get(), "d", 0755) == 0);
    if (level % 100 == 0) write_host("/proc/self/fd/" + std::to_string(at.get()) + "/f", "x");
    at.reset(::openat(at.get(), "d", O_PATH | O_DIRECTORY | O_CLOEXEC));
    REQUIRE(at);
  }
  at.reset();
  struct rlimit before {};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &before) == 0);
  struct rlimit few = before;
  few.rlim_cur = 256; // the default is 1024; the removal must not need one fd per level
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &few) == 0);
  std::string error = error_of([&] { jail.remove_tree("tmp"); });
  ::setrlimit(RLIMIT_NOFILE, &before);
  CHECK(error == "");
  CHECK(!jail.lstat("tmp"));
}

TEST_CASE("remove_tree: never removes anything across a mount" * doctest::skip(!is_root())) {
  TempDir dir("jailfs", 0755);
  TempDir host("host-data", 0755);
  write_host(host / "precious", "keep");
  JailFs jail(dir.path);
  jail.make_dir("srv", 0755, 0, 0);
  jail.make_dir("srv/data", 0755, 0, 0);
  jail.write_file("srv/own", "x", 0644, 0, 0);
  REQUIRE(::mount(host.path.c_str(), (dir / "srv/data").c_str(), nullptr, MS_BIND, nullptr) == 0);
  std::string error = error_of([&] { jail.remove_tree("srv"); });
  CHECK(contains(error, dir / "srv/data: is a mount point"));
  CHECK(read_text(host / "precious") == "keep");
  CHECK(read_text(dir / "srv/data/precious") == "keep");
  // The mount point itself, given as the tree to remove, is refused as well.
  CHECK(contains(error_of([&] { jail.remove_tree("srv/data"); }), "mount point"));
  CHECK(read_text(host / "precious") == "keep");
  REQUIRE(::umount2((dir / "srv/data").c_str(), MNT_DETACH) == 0);
  jail.remove_tree("srv");
  CHECK(!jail.lstat("srv"));
}

TEST_CASE("jailfs: lstat, read_link and open_read look without following") {
  TempDir dir("jailfs", 0700);
  JailFs jail(dir.path);
  jail.make_dir("etc", 0755, test_uid(), test_gid());
  jail.write_file("etc/hosts", "127.0.0.1 localhost\n", 0644, test_uid(), test_gid());
  jail.make_symlink("etc/localtime", "/usr/share/zoneinfo/UTC");
  REQUIRE(::mkfifo((dir / "etc/fifo").c_str(), 0644) == 0);

  CHECK(!jail.lstat("etc/missing"));
  CHECK(!jail.lstat("missing/dir/file"));
  CHECK(S_ISDIR(jail.lstat("")->st_mode));
  CHECK(S_ISLNK(jail.lstat("etc/localtime")->st_mode));
  CHECK(jail.lstat("/etc/hosts")->st_size == 20);

  CHECK(jail.read_link("etc/localtime") == "/usr/share/zoneinfo/UTC");
  CHECK(!jail.read_link("etc/hosts"));
  CHECK(!jail.read_link("etc/missing"));

  int fd = jail.open_read("etc/hosts");
  CHECK(sha256_fd(fd) == sha256_hex("127.0.0.1 localhost\n"));
  ::close(fd);
  CHECK(contains(error_of([&] { ::close(jail.open_read("etc/localtime")); }), symlink_refusal));
  CHECK(contains(error_of([&] { ::close(jail.open_read("etc/fifo")); }), "is not a regular file"));
  CHECK(contains(error_of([&] { ::close(jail.open_read("etc")); }), "is not a regular file"));
}

TEST_CASE("jailfs: without openat2, the component walk works and refuses symlinks alike" *
          doctest::skip(!can_filter_syscalls())) {
  TempDir dir("jailfs", 0700);
  TempDir outside("outside", 0700);
  JailFs jail(dir.path);
  jail.make_dir("var", 0755, test_uid(), test_gid());
  REQUIRE(::symlink(outside.path.c_str(), (dir / "var/x").c_str()) == 0);

  // In a child, make openat2 fail with ENOSYS as on kernels before 5.6, then report by exit status.
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog program{static_cast<unsigned short>(std::size(filter)), filter};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0)
      ::_exit(2);
    int failures = 0;
    try {
      jail.make_dir("var/lib", 0750, test_uid(), test_gid());
      jail.write_file("var/lib/file", "walked", 0644, test_uid(), test_gid());
      failures += jail.lstat("var/lib/file")->st_size == 6 ? 0 : 1;
      failures += jail.lstat("var/none/file") ? 1 : 0;
      failures +=
          contains(error_of([&] { jail.write_file("var/x/file", "no", 0644, 0, 0); }), symlink_refusal) ? 0
                                                                                                        : 1;
      failures +=
          contains(error_of([&] { jail.make_dir("var/x/sub", 0755, 0, 0); }), symlink_refusal) ? 0 : 1;
      failures += contains(error_of([&] { (void)jail.lstat("var/x/a/b"); }), symlink_refusal) ? 0 : 1;
      failures +=
          contains(error_of([&] { jail.make_dir("var/lib/file/sub", 0755, 0, 0); }), "Not a directory") ? 0
                                                                                                        : 1;
    } catch (...) {
      ::_exit(3);
    }
    ::_exit(failures == 0 ? 0 : 4);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(read_text(dir / "var/lib/file") == "walked");
  CHECK(tree(outside.path).empty());
}

TEST_CASE("jailfs: list_dir says what stands in the way: nothing, a symlink, a file") {
  TempDir dir("jailfs", 0700);
  TempDir outside("outside", 0700);
  JailFs jail(dir.path);
  jail.make_dir("var", 0755, test_uid(), test_gid());
  jail.make_dir("var/lib", 0755, test_uid(), test_gid());
  write_host(dir / "var/file", "x");
  REQUIRE(::symlink(outside.path.c_str(), (dir / "var/link").c_str()) == 0);
  write_host(outside / "secret", "host");

  JailFs::Listing var = jail.list_dir("var");
  REQUIRE(var.state == JailFs::Listing::State::present);
  std::vector<std::string> names;
  for (const JailFs::Listed& l : var.entries)
    names.push_back(l.name);
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"file", "lib", "link"});
  CHECK(jail.list_dir("var/lib").entries.empty());
  CHECK(jail.list_dir("var/missing").state == JailFs::Listing::State::absent);
  CHECK(jail.list_dir("var/missing/below").state == JailFs::Listing::State::absent);
  // What a jailed process can plant where a directory was: never followed, said for what it is.
  CHECK(jail.list_dir("var/link").state == JailFs::Listing::State::symlink);
  CHECK(jail.list_dir("var/link/below").state == JailFs::Listing::State::symlink);
  CHECK(jail.list_dir("var/link").entries.empty());
  CHECK(jail.list_dir("var/file").state == JailFs::Listing::State::not_directory);
  CHECK(jail.list_dir("var/file/below").state == JailFs::Listing::State::not_directory);
}

TEST_CASE("jailfs: list_dir of a directory it cannot read is an Error naming it, not a state") {
  TempDir dir("jailfs", 0700);
  JailFs jail(dir.path);
  jail.make_dir("var", 0755, test_uid(), test_gid());
  jail.make_dir("var/lib", 0, test_uid(), test_gid());
  std::string listed = without_dac_override([&] { return error_of([&] { jail.list_dir("var/lib"); }); });
  CHECK(listed == dir / "var/lib: opening directory: Permission denied");
  std::string below = without_dac_override([&] { return error_of([&] { jail.list_dir("var/lib/sub"); }); });
  CHECK(below == dir / "var/lib/sub: opening var/lib/sub: Permission denied");
}

TEST_CASE("jailfs: remove_dir says why a directory stays; EACCES is an Error") {
  TempDir dir("jailfs", 0700);
  JailFs jail(dir.path);
  jail.make_dir("var", 0755, test_uid(), test_gid());
  jail.make_dir("var/full", 0755, test_uid(), test_gid());
  write_host(dir / "var/full/site.php", "<?php");
  jail.make_dir("var/empty", 0755, test_uid(), test_gid());
  CHECK(jail.remove_dir("var/full") == RemovedDir::not_empty);
  CHECK(fs::exists(dir / "var/full/site.php"));
  CHECK(jail.remove_dir("var/missing") == RemovedDir::absent);
  // A directory whose parent it may not write: an error, neither "not empty" nor done.
  REQUIRE(::chmod((dir / "var").c_str(), 0555) == 0);
  std::string denied = without_dac_override([&] { return error_of([&] { jail.remove_dir("var/empty"); }); });
  CHECK(denied == dir / "var/empty: removing directory: Permission denied");
  REQUIRE(::chmod((dir / "var").c_str(), 0755) == 0);
  CHECK(jail.remove_dir("var/empty") == RemovedDir::removed);
  CHECK_FALSE(fs::exists(dir / "var/empty"));
}

TEST_CASE("jailfs: remove_dir of a mount point says so, and leaves the mount" * doctest::skip(!can_mount())) {
  TempDir dir("jailfs", 0700);
  TempDir source("bindsrc", 0700);
  JailFs jail(dir.path);
  jail.make_dir("mnt", 0755, 0, 0);
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{dir / "mnt"};
  REQUIRE(::mount(source.path.c_str(), (dir / "mnt").c_str(), nullptr, MS_BIND, nullptr) == 0);
  CHECK(jail.remove_dir("mnt") == RemovedDir::mount_point); // empty, but EBUSY
  CHECK(fs::exists(dir / "mnt"));
}
