// SPDX-License-Identifier: MIT
// The jail location checks, the assembler (a plan applied to a directory: create's sync against the
// previous manifest) and create_jail through a fake host root (fake_host.hpp). The decisions have
// tests of their own (decide_test.cpp); the CLI is driven by tests/scenario/create_cli.sh.
#include "jailbuild/assemble.hpp"
#include "jailbuild/create.hpp"
#include "jailbuild/digest.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/hostfs.hpp"
#include "jailbuild/jailfs.hpp"
#include "jailbuild/manifest.hpp"
#include "jailbuild/registry.hpp"

#include "fake_host.hpp"
#include "test_util.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

using namespace jailbuild;
using namespace jailbuild::test;
namespace fs = std::filesystem;

// Temporary directories keep mkdtemp's 0700 (root-owned when we are root); the location checks put
// a parent back to that mode after each change.

TEST_CASE("check_jail_location: refuses / and system directories") {
  for (const char* dir : {"/", "/usr", "/etc", "/var", "/home", "/usr/lib/x", "/etc/nginx/jail", "/var/lib/x",
                          "/usr/", "//usr", "/tmp/../usr/local", "/proc/1", "/dev/shm/jail", "/boot"}) {
    CAPTURE(dir);
    CHECK(contains(error_of([&] { check_jail_location(dir); }), "system directory"));
  }
}

TEST_CASE("check_jail_location: refuses a relative path") {
  CHECK(contains(error_of([] { check_jail_location("jail"); }), "absolute path"));
  CHECK(contains(error_of([] { check_jail_location("./var/www/chroot"); }), "absolute path"));
  CHECK(contains(error_of([] { check_jail_location(""); }), "absolute path"));
}

TEST_CASE("check_jail_location: a parent owned by another user") {
  TempDir parent("location", 0700);
  const std::string jail = parent / "jail";
  // As root, give the parent away; otherwise it is the tester's already.
  if (is_root()) REQUIRE(::chown(parent.path.c_str(), 65534, 65534) == 0);
  std::string err = error_of([&] { check_jail_location(jail); });
  CHECK(contains(err, parent.path + ": parent of the jail is not owned by root"));
}

// chown needs root, and only root's directories are accepted.
TEST_CASE("check_jail_location: root's parents, unless writable by others without sticky bit" *
          doctest::skip(!is_root())) {
  TempDir parent("location", 0700);
  const std::string jail = parent / "jail";
  CHECK(check_jail_location(jail) == jail);

  REQUIRE(::chmod(parent.path.c_str(), 0777) == 0);
  CHECK(contains(error_of([&] { check_jail_location(jail); }),
                 "writable by group or others without the sticky bit"));
  REQUIRE(::chmod(parent.path.c_str(), 0775) == 0);
  CHECK(contains(error_of([&] { check_jail_location(jail); }), "writable by group or others"));
  // Sticky, as /tmp: not enough for the jail's own parent (red team 05: anyone may take the jail's
  // name while it is not there), enough for a parent further up.
  REQUIRE(::chmod(parent.path.c_str(), 01777) == 0);
  CHECK(contains(error_of([&] { check_jail_location(jail); }),
                 "writable by group or others (sticky, as /tmp)"));
  REQUIRE(::mkdir((parent / "safe").c_str(), 0755) == 0);
  CHECK(check_jail_location(parent / "safe/jail") == parent / "safe/jail");
  REQUIRE(::rmdir((parent / "safe").c_str()) == 0);
  REQUIRE(::chmod(parent.path.c_str(), 0700) == 0);

  // A grandparent counts as well.
  REQUIRE(::mkdir((parent / "sub").c_str(), 0755) == 0);
  REQUIRE(::chown(parent.path.c_str(), 65534, 65534) == 0);
  CHECK(contains(error_of([&] { check_jail_location(parent / "sub/jail"); }), "not owned by root"));
  REQUIRE(::chown(parent.path.c_str(), 0, 0) == 0);
}

TEST_CASE("check_jail_location: refuses a symlink, a file and a foreign non-empty directory" *
          doctest::skip(!is_root())) {
  TempDir parent("location", 0700);
  REQUIRE(::mkdir((parent / "real").c_str(), 0755) == 0);
  REQUIRE(::symlink((parent / "real").c_str(), (parent / "link").c_str()) == 0);
  CHECK(contains(error_of([&] { check_jail_location(parent / "link"); }), "is a symlink"));
  // A symlink as a parent of the jail too.
  CHECK(contains(error_of([&] { check_jail_location(parent / "link/jail"); }), "is a symlink"));

  write_text(parent / "file", "x");
  CHECK(contains(error_of([&] { check_jail_location(parent / "file"); }), "not a directory"));

  // Empty: accepted. Non-empty without .jailbuild/: refused. With it: a jailbuild jail, accepted.
  CHECK(check_jail_location(parent / "real") == parent / "real");
  CHECK(check_jail_location(parent / "real/") == parent / "real");
  write_text(parent / "real/index.html", "site");
  std::string err = error_of([&] { check_jail_location(parent / "real"); });
  CHECK(contains(err, "not empty"));
  CHECK(contains(err, ".jailbuild"));
  REQUIRE(::mkdir((parent / "real/.jailbuild").c_str(), 0700) == 0);
  CHECK(check_jail_location(parent / "real") == parent / "real");
  // A .jailbuild that a user could have made does not count: it is named (red team 05).
  REQUIRE(::chown((parent / "real/.jailbuild").c_str(), 65534, 65534) == 0);
  CHECK(contains(error_of([&] { check_jail_location(parent / "real"); }),
                 parent / "real/.jailbuild: is owned by uid 65534, not root"));
  REQUIRE(::chown((parent / "real/.jailbuild").c_str(), 0, 0) == 0);
  // The jail directory itself must be root's alone (red team, observation: create and unpack
  // chowned another user's directory to root only after it could have planted a lock or a tree).
  REQUIRE(::chown((parent / "real").c_str(), 33, 33) == 0);
  CHECK(contains(error_of([&] { check_jail_location(parent / "real"); }), "owned by uid 33, not root"));
  REQUIRE(::chown((parent / "real").c_str(), 0, 0) == 0);
  REQUIRE(::chmod((parent / "real").c_str(), 0777) == 0);
  CHECK(contains(error_of([&] { check_jail_location(parent / "real"); }), "writable by group or others"));
}

namespace {

/// A small host tree and a plan with one entry of each kind over it.
struct AssembleFixture {
  TempDir host_dir{"host", 0700};
  TempDir parent{"jail", 0700};
  std::string jail_dir = parent / "jail";
  HostRoot host{host_dir.path};
  Plan plan;

  AssembleFixture() {
    fs::create_directories(host_dir / "usr/bin");
    fs::create_directories(host_dir / "srv/data");
    write_text(host_dir / "usr/bin/tool", "#!/bin/false\nbinary\n");
    REQUIRE(::chmod((host_dir / "usr/bin/tool").c_str(), 04755) == 0); // setuid on the host
    write_text(host_dir / "usr/bin/data.txt", "data");
    REQUIRE(::chmod((host_dir / "usr/bin/data.txt").c_str(), 0640) == 0);
    REQUIRE(::mkdir(jail_dir.c_str(), 0755) == 0);

    add_dir("/usr", 0755);
    add_dir("/usr/bin", 0755);
    add_file("/usr/bin/tool", "/usr/bin/tool", 0755);
    add_file("/usr/bin/data.txt", "/usr/bin/data.txt", 0640);
    add_dir("/tmp", 01777);
    add_dir("/dev", 0755);
    add_device("/dev/null", 1, 3);
    add_device("/dev/urandom", 1, 9);
    add_device("/dev/big", 240, 300000); // a minor far above 255
    PlanEntry link;
    link.kind = EntryKind::symlink;
    link.path = "/bin";
    link.mode = 0777;
    link.source = "usr/bin";
    plan.entries.push_back(link);
    add_dir("/etc", 0755);
    PlanEntry passwd;
    passwd.kind = EntryKind::generated;
    passwd.path = "/etc/passwd";
    passwd.mode = 0644;
    passwd.content = "www-data:x:33:33::/var/www:/usr/sbin/nologin\n";
    passwd.digest = sha256_hex(passwd.content); // as the plan builder sets it
    plan.entries.push_back(passwd);
    add_dir("/mnt", 0755);
    PlanEntry bind;
    bind.kind = EntryKind::bind;
    bind.path = "/mnt/data";
    bind.mode = 0755;
    bind.source = "/srv/data";
    plan.entries.push_back(bind);
  }

  void add_dir(const std::string& path, uint32_t mode) {
    PlanEntry e;
    e.kind = EntryKind::directory;
    e.path = path;
    e.mode = mode;
    plan.entries.push_back(e);
  }
  void add_file(const std::string& path, const std::string& source, uint32_t mode) {
    struct stat st = lstat_of(host.real(source));
    PlanEntry e;
    e.kind = EntryKind::file;
    e.path = path;
    e.mode = mode;
    e.source = source;
    e.source_stamp = {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
                      static_cast<int64_t>(st.st_size),
                      static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
    plan.entries.push_back(e);
  }
  void add_device(const std::string& path, uint32_t major, uint32_t minor) {
    PlanEntry e;
    e.kind = EntryKind::device;
    e.path = path;
    e.mode = 0666;
    e.major = major;
    e.minor = minor;
    plan.entries.push_back(e);
  }
};

} // namespace

TEST_CASE("assemble: applies every kind of entry; no setuid bit, no shared inode, exact device numbers" *
          doctest::skip(!is_root())) {
  AssembleFixture f;
  JailFs jail(f.jail_dir);
  AssembleReport report = assemble(jail, f.host, f.plan, nullptr, AssembleOptions{});
  CHECK(report.written == f.plan.entries.size());
  CHECK(report.unchanged == 0);

  const std::string j = f.jail_dir;
  struct stat tool = lstat_of(j + "/usr/bin/tool");
  struct stat host_tool = lstat_of(f.host.real("/usr/bin/tool"));
  CHECK(S_ISREG(tool.st_mode));
  CHECK((tool.st_mode & 07777) == 0755);
  CHECK((tool.st_mode & (S_ISUID | S_ISGID)) == 0);
  CHECK(tool.st_ino != host_tool.st_ino); // a copy, never a hardlink
  CHECK(tool.st_nlink == 1);
  CHECK(read_text(j + "/usr/bin/tool") == "#!/bin/false\nbinary\n");
  CHECK((lstat_of(j + "/usr/bin/data.txt").st_mode & 07777) == 0640);
  CHECK(lstat_of(j + "/usr/bin/data.txt").st_uid == 0);

  CHECK((lstat_of(j + "/tmp").st_mode & 07777) == 01777);
  struct stat null_dev = lstat_of(j + "/dev/null");
  CHECK(S_ISCHR(null_dev.st_mode));
  CHECK(major(null_dev.st_rdev) == 1);
  CHECK(minor(null_dev.st_rdev) == 3);
  CHECK((null_dev.st_mode & 07777) == 0666);
  CHECK(minor(lstat_of(j + "/dev/urandom").st_rdev) == 9);
  struct stat big = lstat_of(j + "/dev/big");
  CHECK(major(big.st_rdev) == 240);
  CHECK(minor(big.st_rdev) == 300000);

  CHECK(fs::read_symlink(j + "/bin") == "usr/bin");
  CHECK(read_text(j + "/etc/passwd") == f.plan.entries[11].content);
  // The bind's mount point only; mounting is `jailbuild mount`'s business.
  CHECK(S_ISDIR(lstat_of(j + "/mnt/data").st_mode));
  CHECK(fs::is_empty(j + "/mnt/data"));

  // Digests were filled in as the files were copied.
  for (const PlanEntry& e : f.plan.entries)
    if (e.kind == EntryKind::file || e.kind == EntryKind::generated) CHECK(e.digest.size() == 64);
}

TEST_CASE("assemble: a re-run over the previous manifest writes nothing" * doctest::skip(!is_root())) {
  AssembleFixture f;
  JailFs jail(f.jail_dir);
  Plan first = f.plan;
  assemble(jail, f.host, first, nullptr, AssembleOptions{});
  Manifest previous;
  previous.plan = first;

  Plan again = f.plan;
  AssembleReport report = assemble(jail, f.host, again, &previous, AssembleOptions{});
  CHECK(report.bytes == 0);
  CHECK(report.unchanged == 3); // two files and the generated passwd
  CHECK(again.entries == first.entries);

  // A jail file changed behind our back is written again.
  write_text(f.jail_dir + "/usr/bin/data.txt", "tampered, longer");
  Plan third = f.plan;
  report = assemble(jail, f.host, third, &previous, AssembleOptions{});
  CHECK(report.unchanged == 2);
  CHECK(report.bytes == 4);
  CHECK(read_text(f.jail_dir + "/usr/bin/data.txt") == "data");

  // The host's file gains a hardlink (jk_init -k does that): its ctime moves, its content does not.
  // Hashed, found the same, and left alone.
  previous.plan = third;
  fs::create_hard_link(f.host_dir / "usr/bin/data.txt", f.host_dir / "srv/data/link");
  auto restamped = [&] {
    Plan p = f.plan;
    for (PlanEntry& e : p.entries)
      if (e.kind == EntryKind::file) e.source_stamp = stamp_of(lstat_of(f.host.real(e.source)));
    return p;
  };
  Plan fourth = restamped();
  report = assemble(jail, f.host, fourth, &previous, AssembleOptions{});
  CHECK(report.bytes == 0);
  CHECK(report.unchanged == 3);

  // Its content changes: copied.
  write_text(f.host_dir / "usr/bin/data.txt", "DATA");
  previous.plan = fourth;
  Plan fifth = restamped();
  report = assemble(jail, f.host, fifth, &previous, AssembleOptions{});
  CHECK(report.bytes == 4);
  CHECK(read_text(f.jail_dir + "/usr/bin/data.txt") == "DATA");
}

TEST_CASE("assemble: a bind of a non-directory gets an empty file as mount point" *
          doctest::skip(!is_root())) {
  AssembleFixture f;
  // A socket, as /dev/log is.
  fs::create_directories(f.host_dir / "dev");
  int sock = ::socket(AF_UNIX, SOCK_DGRAM, 0);
  REQUIRE(sock >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string sock_path = f.host_dir / "dev/log";
  REQUIRE(sock_path.size() < sizeof addr.sun_path);
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock_path.c_str());
  REQUIRE(::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  ::close(sock);
  PlanEntry bind;
  bind.kind = EntryKind::bind;
  bind.path = "/dev/log";
  bind.mode = 0755;
  bind.source = "/dev/log";
  f.plan.entries.push_back(bind);

  JailFs jail(f.jail_dir);
  assemble(jail, f.host, f.plan, nullptr, AssembleOptions{});
  struct stat st = lstat_of(f.jail_dir + "/dev/log");
  CHECK(S_ISREG(st.st_mode));
  CHECK(st.st_size == 0);
}

TEST_CASE("assemble: never writes through a symlink planted in the jail" * doctest::skip(!is_root())) {
  AssembleFixture f;
  TempDir outside("outside", 0700);
  JailFs jail(f.jail_dir);
  assemble(jail, f.host, f.plan, nullptr, AssembleOptions{});
  // A process in the jail replaces /etc by a link to a host directory.
  fs::remove_all(f.jail_dir + "/etc");
  REQUIRE(::symlink(outside.path.c_str(), (f.jail_dir + "/etc").c_str()) == 0);
  Plan again = f.plan;
  std::string err = error_of([&] { assemble(jail, f.host, again, nullptr, AssembleOptions{}); });
  CHECK(contains(err, "symlink"));
  CHECK(fs::is_empty(outside.path));
}

TEST_CASE("assemble: leaves an existing bind mount point alone (it may show the host source)" *
          doctest::skip(!is_root())) {
  AssembleFixture f;
  // As after `jailbuild mount`: the mount point shows the source, owned by a service user.
  fs::create_directories(f.jail_dir + "/mnt/data");
  REQUIRE(::chown((f.jail_dir + "/mnt/data").c_str(), 65534, 65534) == 0);
  REQUIRE(::chmod((f.jail_dir + "/mnt/data").c_str(), 0750) == 0);
  JailFs jail(f.jail_dir);
  assemble(jail, f.host, f.plan, nullptr, AssembleOptions{});
  struct stat st = lstat_of(f.jail_dir + "/mnt/data");
  CHECK(st.st_uid == 65534);
  CHECK((st.st_mode & 07777) == 0750);
}

TEST_CASE("assemble: a re-run removes what the previous manifest had and the plan no longer has" *
          doctest::skip(!is_root())) {
  AssembleFixture f;
  JailFs jail(f.jail_dir);
  Plan first = f.plan;
  assemble(jail, f.host, first, nullptr, AssembleOptions{});
  Manifest previous;
  previous.plan = first;
  // The plan loses /usr/bin/data.txt and /dev/big; /usr/bin/tool stays.
  Plan less = f.plan;
  std::erase_if(less.entries,
                [](const PlanEntry& e) { return e.path == "/usr/bin/data.txt" || e.path == "/dev/big"; });
  AssembleReport report = assemble(jail, f.host, less, &previous, AssembleOptions{});
  CHECK(report.removed == 2);
  CHECK(report.written == 0);
  CHECK_FALSE(fs::exists(fs::symlink_status(f.jail_dir + "/usr/bin/data.txt")));
  CHECK_FALSE(fs::exists(fs::symlink_status(f.jail_dir + "/dev/big")));
  CHECK(fs::exists(f.jail_dir + "/usr/bin/tool"));
}

namespace {

bool registered(const FakeHost& h) {
  std::vector<std::string> jails = Registry(h.state).list();
  return std::find(jails.begin(), jails.end(), h.jail) != jails.end();
}

} // namespace

TEST_CASE("create_jail: through a fake host root; a re-run writes nothing" * doctest::skip(!is_root())) {
  FakeHost h;
  CreateResult r = create_jail(h.create_options());
  CHECK(r.dir == h.jail);
  CHECK(r.report.written > 10);
  CHECK(r.report.bytes > 0);
  CHECK(read_text(h.jail + "/etc/app/app.conf") == "setting=1\n");
  CHECK(lstat_of(h.jail + "/var/lib/app").st_uid == 33);
  CHECK(fs::is_symlink(h.jail + "/lib64"));
  Manifest m = read_manifest(h.jail);
  CHECK(m.plan.entries == r.plan.entries);
  for (const PlanEntry& e : m.plan.entries)
    if (e.kind == EntryKind::file) CHECK(e.digest.size() == 64); // hashed while copied
  CHECK(registered(h));
  CHECK(r.registered == Registered::yes);

  CreateResult again = create_jail(h.create_options());
  CHECK(again.report.bytes == 0);
  CHECK(again.report.written == 0);
  CHECK(again.report.removed == 0);
  CHECK(read_manifest(h.jail).plan.entries == m.plan.entries);
}

TEST_CASE("create_jail: a re-run asked for less removes what is no longer asked for" *
          doctest::skip(!is_root())) {
  FakeHost h;
  create_jail(h.create_options({"app", "extra"}));
  REQUIRE(fs::exists(h.jail + "/etc/app/extra.conf"));
  CreateResult r = create_jail(h.create_options({"app"}));
  CHECK(r.report.removed == 1);
  CHECK_FALSE(fs::exists(h.jail + "/etc/app/extra.conf"));
  CHECK(fs::exists(h.jail + "/etc/app/app.conf"));
  Manifest m = read_manifest(h.jail);
  CHECK(std::none_of(m.plan.entries.begin(), m.plan.entries.end(),
                     [](const PlanEntry& e) { return e.path == "/etc/app/extra.conf"; }));
}

TEST_CASE("create_jail: a failure leaves nothing half-written" * doctest::skip(!is_root())) {
  FakeHost h;
  // The registry cannot be written (its directory is a file): the last step fails.
  write_text(h.state, "not a directory");
  CHECK_FALSE(error_of([&] { create_jail(h.create_options()); }).empty());
  CHECK_FALSE(fs::exists(h.jail)); // the directory it made is gone again

  // Over an existing jail, it stays, with its manifest: the next run converges from there.
  fs::remove(h.state);
  create_jail(h.create_options());
  const std::string manifest = read_text(h.jail + "/.jailbuild/manifest.json");
  fs::remove(h.state + "/lock");
  fs::create_directory(h.state + "/lock"); // the registry's lock: a directory cannot be locked
  CHECK_FALSE(error_of([&] { create_jail(h.create_options({"app", "extra"})); }).empty());
  CHECK(fs::exists(h.jail + "/usr/bin/hello"));
  CHECK(fs::exists(h.jail + "/etc/app/extra.conf"));                  // applied...
  CHECK(read_text(h.jail + "/.jailbuild/manifest.json") != manifest); // ...and recorded, not registered
  fs::remove(h.state + "/lock");
  CreateResult r = create_jail(h.create_options({"app", "extra"}));
  CHECK(r.report.written == 0);
  CHECK(registered(h));
}

TEST_CASE("create_jail: a symlink planted in the jail is refused before anything is written" *
          doctest::skip(!is_root())) {
  FakeHost h;
  create_jail(h.create_options());
  const std::string manifest = read_text(h.jail + "/.jailbuild/manifest.json");
  TempDir outside("outside", 0700);
  fs::remove_all(h.jail + "/etc/app");
  fs::create_directory_symlink(outside.path, h.jail + "/etc/app");
  fs::remove(h.jail + "/usr/bin/hello"); // something to restore, were it to go on
  std::string err = error_of([&] { create_jail(h.create_options({"app", "extra"})); });
  CHECK(contains(err, h.jail + "/etc/app: should be a directory but is a symlink"));
  CHECK(fs::is_empty(outside.path));
  CHECK_FALSE(fs::exists(h.jail + "/usr/bin/hello")); // nothing written
  CHECK(read_text(h.jail + "/.jailbuild/manifest.json") == manifest);
}

TEST_CASE("create_jail: removes the temporary files a killed run left" * doctest::skip(!is_root())) {
  FakeHost h;
  create_jail(h.create_options());
  const std::string left = h.jail + "/etc/app/.app.conf.jbtmp.00112233445566ff";
  write_text(left, "half");
  CreateResult r = create_jail(h.create_options());
  CHECK(r.report.removed == 1);
  CHECK_FALSE(fs::exists(left));
}

TEST_CASE("create_jail: a jail whose audit fails stays for the user to see, unregistered" *
          doctest::skip(!is_root())) {
  FakeHost h;
  h.profile("loose", R"(description = "test: a directory anyone can write, without the sticky bit"
[[dirs]]
path = "/var/lib/loose"
mode = "0777"
)");
  CreateResult r = create_jail(h.create_options({"app", "loose"}));
  CHECK(r.audit_failed);
  CHECK(r.registered == Registered::no);
  CHECK(fs::exists(h.jail + "/var/lib/loose"));
  CHECK_FALSE(registered(h));
  // Fixed, it is registered; broken again, it is taken out of the registry.
  r = create_jail(h.create_options({"app"}));
  CHECK_FALSE(r.audit_failed);
  CHECK(registered(h));
  r = create_jail(h.create_options({"app", "loose"}));
  CHECK_FALSE(registered(h));
  // The threshold is the caller's.
  CreateOptions lenient = h.create_options({"app", "loose"});
  lenient.audit_fail_on = Severity::critical;
  r = create_jail(lenient);
  CHECK_FALSE(r.audit_failed);
  CHECK(registered(h));
}
