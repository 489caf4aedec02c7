// SPDX-License-Identifier: MIT
#include "jailbuild/bind_source.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/hostfs.hpp"
#include "jailbuild/jailfs.hpp"
#include "jailbuild/mounts.hpp"

#include "test_util.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace jailbuild;
using namespace jailbuild::test;
namespace fs = std::filesystem;

namespace {

/// Detaches whatever a test left mounted at these paths, before any TempDir is removed: removing a
/// directory tree with a bind mount in it would remove the bind source's files.
struct MountGuard {
  std::vector<std::string> paths;
  ~MountGuard() {
    for (const std::string& p : paths)
      for (int i = 0; i < 8 && ::umount2(p.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0; ++i) {
      }
  }
};

PlanEntry bind_entry(const std::string& path, const std::string& source, bool read_only = true,
                     bool noexec = false) {
  PlanEntry e;
  e.kind = EntryKind::bind;
  e.path = path;
  e.mode = 0755;
  e.source = source;
  e.read_only = read_only;
  e.noexec = noexec;
  return e;
}

/// The mounts whose mount point is `path`.
std::vector<MountInfo> mounts_at(const std::string& path) {
  std::vector<MountInfo> out;
  for (const MountInfo& m : read_mountinfo())
    if (m.mount_point == path) out.push_back(m);
  return out;
}

bool has_option(const MountInfo& m, const std::string& option) {
  return std::find(m.options.begin(), m.options.end(), option) != m.options.end();
}

} // namespace

TEST_CASE("parse_mountinfo: fields, optional fields, device numbers and octal escapes") {
  const char* text = "22 27 0:21 / /proc rw,relatime - proc proc rw\n"
                     "36 35 98:0 /mnt1 /mnt/with\\040space rw,nosuid,nodev,noexec shared:1 master:2 - ext3 "
                     "/dev/root rw,errors=continue\n"
                     "garbage line\n"
                     "39 22 no-device / /bad rw - ext4 /dev/vda rw\n"
                     "40 22 0:21 / /var/www/chroot/proc ro,nosuid,nodev,noexec,relatime - proc proc rw\n"
                     "41 27 254:0 /back\\134slash /tab\\011here rw - ext4 /dev/vda rw\n";
  std::vector<MountInfo> m = parse_mountinfo(text);
  REQUIRE(m.size() == 4);
  CHECK(m[0].id == 22);
  CHECK(m[0].parent == 27);
  CHECK(m[0].mount_point == "/proc");
  CHECK(m[0].fs_type == "proc");
  CHECK(m[0].major == 0);
  CHECK(m[0].minor == 21);
  CHECK(m[0].has_option("relatime"));
  CHECK_FALSE(m[0].has_option("ro"));
  CHECK(m[1].root == "/mnt1");
  CHECK(m[1].mount_point == "/mnt/with space");
  CHECK(m[1].options == std::vector<std::string>{"rw", "nosuid", "nodev", "noexec"});
  CHECK(m[1].major == 98);
  CHECK(m[1].minor == 0);
  CHECK(m[1].fs_type == "ext3");
  CHECK(m[1].source == "/dev/root");
  CHECK(m[2].mount_point == "/var/www/chroot/proc");
  CHECK(m[3].major == 254);
  CHECK(m[3].root == "/back\\slash");
  CHECK(m[3].mount_point == "/tab\there");
}

TEST_CASE("bind_options / bind_options_match: ro or rw, always nosuid and nodev, noexec when asked") {
  PlanEntry ro = bind_entry("/mnt/data", "/srv/data");
  PlanEntry rw_noexec = bind_entry("/run/mysqld", "/run/mysqld", false, true);
  CHECK(bind_options(ro) == std::vector<std::string>{"ro", "nosuid", "nodev"});
  CHECK(bind_options(rw_noexec) == std::vector<std::string>{"rw", "nosuid", "nodev", "noexec"});

  MountInfo m;
  m.options = {"ro", "nosuid", "nodev", "relatime"};
  CHECK(bind_options_match(m, ro));
  CHECK_FALSE(bind_options_match(m, rw_noexec));
  m.options = {"ro", "nosuid", "nodev", "noexec", "relatime"};
  CHECK_FALSE(bind_options_match(m, ro)); // noexec not asked: a difference to fix
  m.options = {"rw", "nosuid", "nodev", "noexec"};
  CHECK(bind_options_match(m, rw_noexec));
  m.options = {"rw", "nodev", "noexec"};
  CHECK_FALSE(bind_options_match(m, rw_noexec));
}

TEST_CASE("mount_bind / umount_bind: idempotent, flags as asked, both mount APIs" *
          doctest::skip(!can_mount())) {
  for (MountApi api : {MountApi::detached, MountApi::classic}) {
    CAPTURE(static_cast<int>(api));
    TempDir source("bindsrc", 0700);
    TempDir jail_dir("bindjail", 0700);
    MountGuard guard;
    write_text(source / "file.txt", "hello");
    JailFs jail(jail_dir.path);
    HostRoot host("/");
    PlanEntry bind = bind_entry("/mnt/data", source.path);
    const std::string point = jail_dir / "mnt/data";
    guard.paths.push_back(point);

    // Missing parents and mount point are created.
    CHECK(mount_bind(jail, host, bind, api).action == BindAction::mounted);
    std::vector<MountInfo> here = mounts_at(point);
    REQUIRE(here.size() == 1);
    CHECK(has_option(here[0], "ro"));
    CHECK(has_option(here[0], "nosuid"));
    CHECK(has_option(here[0], "nodev"));
    CHECK_FALSE(has_option(here[0], "noexec"));
    {
      std::ifstream in(point + "/file.txt"); // closed at once: an open file keeps the mount busy
      std::string word;
      in >> word;
      CHECK(word == "hello");
    }
    // Read-only: even root cannot create a file there.
    CHECK_FALSE(std::ofstream(point + "/new.txt").is_open());

    // Again: nothing to do, still one mount.
    CHECK(mount_bind(jail, host, bind, api).action == BindAction::unchanged);
    CHECK(mounts_at(point).size() == 1);

    // Other flags asked: only a remount.
    PlanEntry rw = bind_entry("/mnt/data", source.path, false, true);
    CHECK(mount_bind(jail, host, rw, api).action == BindAction::remounted);
    here = mounts_at(point);
    REQUIRE(here.size() == 1);
    CHECK(has_option(here[0], "rw"));
    CHECK(has_option(here[0], "noexec"));
    CHECK(has_option(here[0], "nosuid"));
    CHECK(mount_bind(jail, host, bind, api).action == BindAction::remounted);
    here = mounts_at(point);
    REQUIRE(here.size() == 1);
    CHECK(has_option(here[0], "ro"));
    CHECK_FALSE(has_option(here[0], "noexec"));

    CHECK(umount_bind(jail, bind) == BindAction::unmounted);
    CHECK(mounts_at(point).empty());
    CHECK(umount_bind(jail, bind) == BindAction::absent);
    CHECK(fs::exists(source / "file.txt"));
  }
}

TEST_CASE("mount_bind: a symlink at the mount point or on the way is refused, nothing is mounted" *
          doctest::skip(!can_mount())) {
  TempDir source("bindsrc", 0700);
  TempDir target("target", 0700); // stands for the host's /etc
  TempDir jail_dir("bindjail", 0700);
  MountGuard guard;
  guard.paths = {jail_dir / "mnt/data", target.path};
  JailFs jail(jail_dir.path);
  HostRoot host("/");
  fs::create_directory(jail_dir / "mnt");
  REQUIRE(::symlink(target.path.c_str(), (jail_dir / "mnt/data").c_str()) == 0);
  PlanEntry bind = bind_entry("/mnt/data", source.path);
  std::string err = error_of([&] { mount_bind(jail, host, bind); });
  CHECK(contains(err, jail_dir / "mnt/data"));
  CHECK(contains(err, "symlink"));
  CHECK(mounts_at(target.path).empty());
  CHECK(mounts_at(jail_dir / "mnt/data").empty());

  // An absolute link as a parent.
  fs::remove(jail_dir / "mnt/data");
  fs::remove(jail_dir / "mnt");
  REQUIRE(::symlink(target.path.c_str(), (jail_dir / "mnt").c_str()) == 0);
  CHECK(contains(error_of([&] { mount_bind(jail, host, bind); }), "symlink"));
  CHECK(mounts_at(target / "data").empty());
  CHECK_FALSE(fs::exists(target / "data"));
  // umount through the link is refused too, never acting on the host path.
  CHECK(contains(error_of([&] { umount_bind(jail, bind); }), "symlink"));
}

TEST_CASE("mount_bind: missing source, wrong mount point type, the jail root" * doctest::skip(!can_mount())) {
  TempDir source("bindsrc", 0700);
  TempDir jail_dir("bindjail", 0700);
  MountGuard guard;
  guard.paths = {jail_dir / "data", jail_dir / "file"};
  JailFs jail(jail_dir.path);
  HostRoot host("/");
  std::string err = error_of([&] { mount_bind(jail, host, bind_entry("/data", source / "missing")); });
  CHECK(contains(err, source / "missing"));
  CHECK(contains(err, "does not exist on the host"));
  CHECK_FALSE(fs::exists(jail_dir / "data"));

  write_text(jail_dir / "file", "");
  err = error_of([&] { mount_bind(jail, host, bind_entry("/file", source.path)); });
  CHECK(contains(err, "is not a directory"));
  CHECK(mounts_at(jail_dir / "file").empty());

  CHECK(contains(error_of([&] { mount_bind(jail, host, bind_entry("/", source.path)); }), "jail root"));
  fs::create_directory(jail_dir / "inner");
  CHECK(contains(error_of([&] { mount_bind(jail, host, bind_entry("/data", jail_dir / "inner")); }),
                 "inside the jail"));
  REQUIRE(::symlink((jail_dir / "inner").c_str(), (source / "to-jail").c_str()) == 0);
  CHECK(contains(error_of([&] { mount_bind(jail, host, bind_entry("/data", source / "to-jail")); }),
                 "inside the jail"));
  CHECK(mounts_at(jail_dir / "data").empty());

  // A file source gets an empty file as mount point.
  write_text(source / "f.txt", "content");
  PlanEntry file_bind = bind_entry("/data", source / "f.txt");
  CHECK(mount_bind(jail, host, file_bind).action == BindAction::mounted);
  CHECK(fs::is_regular_file(jail_dir / "data"));
  CHECK(fs::file_size(jail_dir / "data") == 7);
  CHECK(umount_bind(jail, file_bind) == BindAction::unmounted);
  CHECK(fs::file_size(jail_dir / "data") == 0);
}

TEST_CASE("refused_bind_source: /, system trees, whole shared directories; site code and sockets pass") {
  for (const char* refused : {"/",
                              "/etc",
                              "/etc/nginx",
                              "/usr",
                              "/usr/lib",
                              "/bin",
                              "/sbin",
                              "/lib",
                              "/lib64",
                              "/libx32/x",
                              "/boot",
                              "/root",
                              "/home",
                              "/home/alice/site",
                              "/proc",
                              "/proc/1",
                              "/sys",
                              "/sys/fs/cgroup",
                              "/dev",
                              "/dev/sda",
                              "/dev/shm",
                              "/run",
                              "/run/systemd",
                              "/run/systemd/private",
                              "/run/dbus/system_bus_socket",
                              "/run/docker.sock",
                              "/var/run/docker.sock",
                              "/var/run",
                              "/run/user/1000",
                              "/var",
                              "/var/lib",
                              "/var/lib/jailbuild",
                              "/var/lib/dpkg/status",
                              "/var/log",
                              "/var/cache",
                              "/var/www",
                              "/srv",
                              "/tmp",
                              "/opt"}) {
    CAPTURE(refused);
    std::optional<std::string> why = refused_bind_source(refused);
    REQUIRE(why);
    CHECK(contains(*why, "refusing to bind"));
  }
  for (const char* fine : {"/srv/site", "/srv/x/shared/sub", "/var/www/site", "/run/mysqld", "/run/php",
                           "/var/run/mysqld", "/dev/log", "/run/systemd/journal/dev-log", "/var/lib/mysql",
                           "/var/log/nginx", "/tmp/jb-x", "/data"}) {
    CAPTURE(fine);
    CHECK_FALSE(refused_bind_source(fine));
  }
  // /proc gets the reason: it is a way out of a chroot, whatever the mount flags.
  CHECK(contains(*refused_bind_source("/proc"), "/proc/PID/root"));
  CHECK(contains(*refused_bind_source("/proc"), "PID namespace"));
}

TEST_CASE("open_bind_source: '..', another jail, registered jails") {
  TempDir host("bindhost", 0755);
  HostRoot root(host.path);
  fs::create_directories(host / "srv/site");
  fs::create_directories(host / "srv/other/.jailbuild");
  fs::create_directories(host / "srv/other/var/www");
  fs::create_directories(host / "srv/jails/a");
  CHECK(contains(error_of([&] { open_bind_source(root, "/srv/site/../site"); }), "'..'"));
  CHECK(contains(error_of([&] { open_bind_source(root, "relative"); }), "absolute"));
  CHECK(contains(error_of([&] { open_bind_source(root, "/srv/missing"); }), "does not exist on the host"));
  CHECK(contains(error_of([&] { open_bind_source(root, "/srv/other/var/www"); }), "jailbuild jail"));
  CHECK(contains(error_of([&] { open_bind_source(root, "/srv/other"); }), "jailbuild jail"));
  CHECK(contains(error_of([&] { open_bind_source(root, "/srv/jails", {host / "srv/jails/a"}); }),
                 "holds the jail"));
  CHECK(contains(error_of([&] { open_bind_source(root, "/srv/jails/a", {host / "srv/jails/a"}); }),
                 "lies in the jail"));
  BindSource site = open_bind_source(root, "/srv/site");
  CHECK(site.path == "/srv/site");
  CHECK(S_ISDIR(site.st.st_mode));
}

// Not root, every directory here is the tester's, so no symlink is followed.
TEST_CASE("open_bind_source: what a root-owned symlink leads to" * doctest::skip(!is_root())) {
  TempDir host("bindhost", 0755);
  HostRoot root(host.path);
  fs::create_directories(host / "srv/site");
  // Root's symlinks in root's directories are followed, below the host root (absolute targets too).
  REQUIRE(::symlink("site", (host / "srv/relative").c_str()) == 0);
  REQUIRE(::symlink("/srv/site", (host / "srv/absolute").c_str()) == 0);
  CHECK(open_bind_source(root, "/srv/relative").path == "/srv/site");
  CHECK(open_bind_source(root, "/srv/absolute").path == "/srv/site");
  // ... and what they lead to is judged too.
  fs::create_directories(host / "etc");
  REQUIRE(::symlink("/etc", (host / "srv/to-etc").c_str()) == 0);
  std::string err = error_of([&] { open_bind_source(root, "/srv/to-etc"); });
  CHECK(contains(err, "the host's configuration"));
  CHECK(contains(err, "leads to /etc"));
  REQUIRE(::symlink("/", (host / "srv/to-root").c_str()) == 0);
  CHECK(contains(error_of([&] { open_bind_source(root, "/srv/to-root"); }), "root file system"));
}

// chown to a service uid needs root.
TEST_CASE("open_bind_source: no symlink is followed below a directory a service user may write" *
          doctest::skip(!is_root())) {
  TempDir host("bindhost", 0755);
  HostRoot root(host.path);
  fs::create_directories(host / "srv/x/shared/sub");
  fs::create_directories(host / "target");
  REQUIRE(::chown((host / "srv/x/shared").c_str(), 33, 33) == 0);
  // A real directory below the service's is fine: it can only bind what it could write anyway.
  CHECK(open_bind_source(root, "/srv/x/shared/sub").path == "/srv/x/shared/sub");
  // The service swaps sub for a symlink (its own, or one root made: the directory is the service's).
  fs::rename(host / "srv/x/shared/sub", host / "srv/x/shared/sub.old");
  REQUIRE(::symlink("/target", (host / "srv/x/shared/sub").c_str()) == 0);
  std::string err = error_of([&] { open_bind_source(root, "/srv/x/shared/sub"); });
  CHECK(contains(err, "is a symlink"));
  CHECK(contains(err, "uid 33"));
  // Anything below a symlinked component is refused the same way.
  fs::create_directories(host / "target/deeper");
  CHECK(contains(error_of([&] { open_bind_source(root, "/srv/x/shared/sub/deeper"); }), "is a symlink"));
  // A world-writable directory without the sticky bit is no better.
  fs::create_directories(host / "open");
  REQUIRE(::chmod((host / "open").c_str(), 0777) == 0);
  REQUIRE(::symlink("/target", (host / "open/link").c_str()) == 0);
  CHECK(contains(error_of([&] { open_bind_source(root, "/open/link"); }), "everyone"));
  // A second name of a host file, made in the service's directory, is no bind source either.
  write_text(host / "secret", "x");
  REQUIRE(::link((host / "secret").c_str(), (host / "srv/x/shared/sock").c_str()) == 0);
  CHECK(contains(error_of([&] { open_bind_source(root, "/srv/x/shared/sock"); }), "hard links"));
}

TEST_CASE("mount_bind: a source swapped for a symlink by the service that owns its directory is not bound" *
          doctest::skip(!can_mount())) {
  TempDir host("bindsrc", 0755);
  TempDir target("target", 0755); // stands for the host's /etc
  TempDir jail_dir("bindjail", 0755);
  MountGuard guard;
  guard.paths = {jail_dir / "sub", target.path};
  fs::create_directories(host / "shared/sub");
  write_text(target / "passwd", "root:x:0:0");
  REQUIRE(::chown((host / "shared").c_str(), 33, 33) == 0);
  JailFs jail(jail_dir.path);
  HostRoot root("/");
  PlanEntry bind = bind_entry("/sub", host / "shared/sub");
  BindResult first = mount_bind(jail, root, bind);
  CHECK(first.action == BindAction::mounted);
  CHECK(first.source == host / "shared/sub");
  CHECK(umount_bind(jail, bind) == BindAction::unmounted);

  fs::rename(host / "shared/sub", host / "shared/sub.old");
  REQUIRE(::symlink(target.path.c_str(), (host / "shared/sub").c_str()) == 0);
  for (MountApi api : {MountApi::detached, MountApi::classic}) {
    std::string err = error_of([&] { mount_bind(jail, root, bind, api); });
    CHECK(contains(err, host / "shared/sub"));
    CHECK(contains(err, "symlink"));
    CHECK(mounts_at(jail_dir / "sub").empty());
    CHECK_FALSE(fs::exists(jail_dir / "sub/passwd"));
  }
}

TEST_CASE("mount_bind: a manifest's bind of /, /etc, /proc or a jail is refused before anything is made" *
          doctest::skip(!can_mount())) {
  TempDir jail_dir("bindjail", 0755);
  MountGuard guard;
  JailFs jail(jail_dir.path);
  HostRoot root("/");
  for (const char* source : {"/", "/etc", "/proc", "/usr/lib", "/run", "/var/lib", "/dev"}) {
    CAPTURE(source);
    guard.paths.push_back(jail_dir / "mnt/x");
    std::string err = error_of([&] { mount_bind(jail, root, bind_entry("/mnt/x", source, false)); });
    CHECK(contains(err, "refusing to bind"));
    CHECK_FALSE(fs::exists(jail_dir / "mnt"));
  }
  // The jail's parent holds the jail: the service could rename the jail itself.
  TempDir parent("bindparent", 0755);
  fs::create_directories(parent / "jail");
  JailFs inner(parent / "jail");
  CHECK(contains(error_of([&] { mount_bind(inner, root, bind_entry("/mnt/up", parent.path)); }),
                 "holds the jail"));
  CHECK_FALSE(fs::exists(parent / "jail/mnt"));
  // Mount points that no spec may name.
  for (const char* point : {"/.jailbuild", "/.jailbuild/x", "/a/../b", "/a\nb"}) {
    CAPTURE(point);
    CHECK_FALSE(error_of([&] { mount_bind(jail, root, bind_entry(point, parent.path)); }).empty());
  }
}
