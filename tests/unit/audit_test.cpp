// SPDX-License-Identifier: MIT
// Every audit rule, each on a small fake jail with its fault planted. Rules whose fault needs root
// (device nodes, other owners, file capabilities) are skipped, and counted as such, when the tests are
// not root.
#include "jailbuild/audit.hpp"
#include "jailbuild/digest.hpp"
#include "jailbuild/elf.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/manifest.hpp"

#include "test_util.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

using namespace jailbuild;
using namespace jailbuild::test;
namespace fs = std::filesystem;

namespace {

constexpr uint32_t www_data = 33;

/// A small jail as jailbuild would make it: a service user, no UID 0, nologin, no hash, files only.
struct FakeJail {
  TempDir tmp{"audit"}; // 0755 and root-owned: a fine parent for a jail
  std::string root = tmp.path + "/jail";
  std::string mountinfo = tmp.path + "/mountinfo";

  FakeJail() {
    dir("", 0755);
    for (const char* d : {"etc", "usr", "usr/bin", "usr/sbin", "usr/lib", "dev", "var", "var/lib"})
      dir(d, 0755);
    dir("tmp", 01777);
    file("etc/passwd", "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n");
    file("etc/group", "www-data:x:33:\n");
    file("etc/shadow", "www-data:*:0:0:99999:7:::\n", 0600);
    file("etc/gshadow", "www-data:*::\n", 0600);
    file("etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n");
    file("usr/sbin/service",
         "\x7f"
         "ELF not really",
         0755);
    write(mountinfo, "");
  }

  std::string operator/(const std::string& rel) const { return root + "/" + rel; }

  static void write(const std::string& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    REQUIRE(out.good());
  }
  void file(const std::string& rel, const std::string& content, mode_t mode = 0644) const {
    write(*this / rel, content);
    REQUIRE(::chmod((*this / rel).c_str(), mode) == 0);
  }
  void dir(const std::string& rel, mode_t mode) const {
    std::string path = rel.empty() ? root : *this / rel;
    ::mkdir(path.c_str(), 0700);
    REQUIRE(::chmod(path.c_str(), mode) == 0);
  }
  void symlink(const std::string& rel, const std::string& target) const {
    REQUIRE(::symlink(target.c_str(), (*this / rel).c_str()) == 0);
  }
  void chown(const std::string& rel, uid_t uid, gid_t gid) const {
    REQUIRE(::lchown((*this / rel).c_str(), uid, gid) == 0);
  }

  AuditReport audit(Integrity integrity = Integrity::check, Hardening hardening = Hardening::skip) const {
    AuditOptions options;
    options.integrity = integrity;
    options.hardening = hardening;
    options.mountinfo = mountinfo;
    return audit_jail(root, options);
  }
};

const Finding* find(const AuditReport& report, const std::string& rule, const std::string& path) {
  for (const Finding& f : report.findings)
    if (f.rule == rule && f.path == path) return &f;
  return nullptr;
}

bool has(const AuditReport& report, const std::string& rule, const std::string& path, Severity severity) {
  const Finding* f = find(report, rule, path);
  return f && f->severity == severity;
}

std::size_t count_rule(const AuditReport& report, const std::string& rule) {
  return static_cast<std::size_t>(std::count_if(report.findings.begin(), report.findings.end(),
                                                [&](const Finding& f) { return f.rule == rule; }));
}

std::string describe(const AuditReport& report) {
  std::string out;
  for (const Finding& f : report.findings)
    out += std::string(to_string(f.severity)) + " " + f.rule + " " + f.path + ": " + f.message + "\n";
  return out;
}

/// Every finding, except the ones a non-root run always has (the jail root is ours, not root's).
std::vector<Finding> real_findings(const AuditReport& report) {
  std::vector<Finding> out;
  for (const Finding& f : report.findings)
    if (is_root() || f.rule != "chroot-owner") out.push_back(f);
  return out;
}

/// Gives `path` cap_net_raw, effective and permitted; false when it cannot.
bool set_file_capability(const std::string& path) {
  // struct vfs_cap_data, revision 2, effective: cap_net_raw (13) permitted.
  uint32_t cap[5] = {0x02000001, 1u << 13, 0, 0, 0};
  return ::setxattr(path.c_str(), "security.capability", cap, sizeof cap, 0) == 0;
}

/// Whether a file under /tmp, where the test jails are, can be given a file capability: root with
/// CAP_SETFCAP, on a file system that takes security.capability. Asked once, while the test cases
/// are registered, so that a case that needs it is reported as skipped, not as passed.
bool tmp_takes_file_capabilities() {
  static const bool takes = [] {
    if (!is_root()) return false;
    char path[] = "/tmp/jb-fcap-probe-XXXXXX";
    int fd = ::mkstemp(path);
    if (fd < 0) return false;
    ::close(fd);
    bool ok = set_file_capability(path);
    ::unlink(path);
    return ok;
  }();
  return takes;
}

} // namespace

TEST_CASE("audit: severities round-trip and order the thresholds") {
  for (Severity s : {Severity::info, Severity::low, Severity::medium, Severity::high, Severity::critical})
    CHECK(severity_from(to_string(s)) == s);
  CHECK_FALSE(severity_from("severe"));
  AuditReport report;
  report.findings.push_back({"x", Severity::medium, "/", "m", "f"});
  CHECK(audit_fails(report, Severity::info));
  CHECK(audit_fails(report, Severity::low));
  CHECK(audit_fails(report, Severity::medium));
  CHECK_FALSE(audit_fails(report, Severity::high));
  CHECK_FALSE(audit_fails(report, Severity::critical));
  CHECK_FALSE(audit_fails(AuditReport{}, Severity::info));
}

// The temporary jail is root-owned only when the tests run as root.
TEST_CASE("audit: a jail as jailbuild makes it has no finding" * doctest::skip(!is_root())) {
  FakeJail jail;
  AuditReport report = jail.audit();
  INFO(describe(report));
  CHECK(report.findings.empty());
  CHECK_FALSE(report.has_manifest);
  CHECK_FALSE(report.integrity.checked);
  CHECK(report.integrity.skipped_because == "no manifest");
}

TEST_CASE("audit: a missing jail is an error, not a finding") {
  CHECK_THROWS_AS(audit_jail("/nonexistent/jail"), Error);
}

TEST_CASE("audit: setuid and setgid files of any owner") {
  FakeJail jail;
  jail.file("usr/bin/su", "x", 04755);
  jail.file("usr/bin/wall", "x", 02755);
  jail.file("usr/bin/mine", "x", 04755);
  if (is_root()) {
    jail.chown("usr/bin/su", 0, 0);
    jail.chown("usr/bin/wall", 0, 5);
    jail.chown("usr/bin/mine", www_data, www_data);
    // chown clears setuid and setgid, even root's.
    REQUIRE(::chmod((jail / "usr/bin/su").c_str(), 04755) == 0);
    REQUIRE(::chmod((jail / "usr/bin/wall").c_str(), 02755) == 0);
    REQUIRE(::chmod((jail / "usr/bin/mine").c_str(), 04755) == 0);
  }
  AuditReport report = jail.audit();
  INFO(describe(report));
  CHECK(has(report, "setuid", "/usr/bin/su", is_root() ? Severity::critical : Severity::high));
  CHECK(has(report, "setgid", "/usr/bin/wall", Severity::high));
  CHECK(has(report, "setuid", "/usr/bin/mine", Severity::high)); // not root's, still reported
  CHECK(audit_fails(report, Severity::high));
}

// Setting security.capability needs CAP_SETFCAP (root) and a file system that takes it.
TEST_CASE("audit: file capabilities" * doctest::skip(!tmp_takes_file_capabilities())) {
  FakeJail jail;
  jail.file("usr/bin/ping", "x", 0755);
  REQUIRE(set_file_capability(jail / "usr/bin/ping"));
  AuditReport report = jail.audit();
  CHECK(has(report, "file-capability", "/usr/bin/ping", Severity::critical));
  CHECK(audit_fails(report, Severity::critical));
}

TEST_CASE("audit: UID 0 and GID 0 under any name, duplicate ids, login shells") {
  FakeJail jail;
  jail.file("etc/passwd", "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n"
                          "toor:x:0:1000::/:/usr/sbin/nologin\n"
                          "backup:x:34:0::/:/bin/false\n"
                          "alias:x:33:33::/:/bin/bash\n"
                          "noshell:x:35:35::/:\n");
  jail.file("etc/group", "www-data:x:33:\nwheel:x:0:\nother:x:33:\n");
  AuditReport report = jail.audit();
  INFO(describe(report));
  CHECK(has(report, "account-uid0", "/etc/passwd", Severity::critical));
  CHECK(has(report, "account-gid0", "/etc/passwd", Severity::high));
  CHECK(has(report, "account-gid0", "/etc/group", Severity::high));
  CHECK(has(report, "account-duplicate-id", "/etc/passwd", Severity::medium));
  CHECK(has(report, "account-duplicate-id", "/etc/group", Severity::medium));
  CHECK(count_rule(report, "account-login-shell") == 2); // /bin/bash, and an empty shell (/bin/sh)
  CHECK(has(report, "account-login-shell", "/etc/passwd", Severity::medium));
}

TEST_CASE("audit: password hashes in shadow and gshadow, empty passwords") {
  FakeJail jail;
  jail.file("etc/shadow", "www-data:$6$salt$hash:0:0:99999:7:::\nlocked:!:1::::::\nstar:*:1::::::\n", 0600);
  jail.file("etc/gshadow", "www-data:!$y$j9T$abc::\n", 0600);
  jail.file("etc/passwd", "www-data:x:33:33::/:/usr/sbin/nologin\nopen::36:36::/:/usr/sbin/nologin\n");
  AuditReport report = jail.audit();
  INFO(describe(report));
  CHECK(has(report, "account-password-hash", "/etc/shadow", Severity::high));
  CHECK(has(report, "account-password-hash", "/etc/gshadow", Severity::high)); // locked, still crackable
  CHECK(count_rule(report, "account-password-hash") == 2);                     // "!" and "*" are fine
  CHECK(has(report, "account-empty-password", "/etc/passwd", Severity::medium));
}

TEST_CASE("audit: service users missing from passwd, from the manifest") {
  FakeJail jail;
  jail.dir(".jailbuild", 0700);
  Manifest manifest;
  manifest.plan.users = {"www-data", "nginx"};
  // Without the integrity check only "users" is read, by a scan that strings must not fool.
  PlanEntry tricky;
  tricky.kind = EntryKind::generated;
  tricky.path = "/etc/tricky";
  tricky.content = "}]}\\\" \"users\": [\"root\"] {[";
  manifest.plan.entries.push_back(tricky);
  jail.file(".jailbuild/manifest.json", manifest_to_json(manifest), 0600);
  for (Integrity integrity : {Integrity::skip, Integrity::check}) {
    AuditReport report = jail.audit(integrity);
    INFO(describe(report));
    CHECK(report.has_manifest);
    CHECK(has(report, "account-missing-user", "/etc/passwd", Severity::medium));
    CHECK(count_rule(report, "account-missing-user") == 1);
  }
  jail.file(".jailbuild/manifest.json", "{\"format\": 1, \"users\": [", 0600);
  CHECK_THROWS_AS(jail.audit(Integrity::skip), Error);
}

TEST_CASE("audit: the chroot golden rules, on the jail root and its parents") {
  FakeJail jail;
  jail.dir("", 0775);
  REQUIRE(::chmod(jail.tmp.path.c_str(), 0777) == 0);
  AuditReport report = jail.audit();
  INFO(describe(report));
  CHECK(has(report, "chroot-writable", "/", Severity::high));
  CHECK(has(report, "chroot-writable", "host:" + jail.tmp.path, Severity::high));
  // /tmp itself is world-writable but sticky: a parent may be, the root may not.
  CHECK_FALSE(find(report, "chroot-writable", "host:/tmp"));
  // A jail root not owned by root: as root, give it away; otherwise it is the tester's already.
  if (is_root()) REQUIRE(::chown(jail.root.c_str(), 1000, 0) == 0);
  report = jail.audit();
  CHECK(has(report, "chroot-owner", "/", Severity::high));
}

TEST_CASE("audit: world-writable files, writable directories without the sticky bit") {
  FakeJail jail;
  jail.dir("var/www", 0755);
  jail.file("var/www/index.php", "<?php", 0666);
  jail.dir("var/www/open", 0777);
  jail.dir("var/www/group", 0775);
  jail.dir("var/www/sticky", 01777);
  AuditReport report = jail.audit();
  INFO(describe(report));
  CHECK(has(report, "world-writable-file", "/var/www/index.php", Severity::high));
  CHECK(has(report, "writable-dir-no-sticky", "/var/www/open", Severity::high));
  CHECK(has(report, "writable-dir-no-sticky", "/var/www/group", Severity::medium));
  CHECK_FALSE(find(report, "writable-dir-no-sticky", "/var/www/sticky"));
  CHECK_FALSE(find(report, "writable-dir-no-sticky", "/tmp"));
}

TEST_CASE("audit: what anyone can write under /usr, /lib*, /bin, /sbin, /etc") {
  FakeJail jail;
  jail.file("etc/app.conf", "x", 0646);
  AuditReport report = jail.audit();
  CHECK(has(report, "service-writable-system", "/etc/app.conf", Severity::high));
}

// Giving files to the service user needs root.
TEST_CASE("audit: what a service user owns or can write under /usr, /lib*, /bin, /sbin, /etc" *
          doctest::skip(!is_root())) {
  FakeJail jail;
  jail.file("usr/bin/tool", "x", 0755);
  jail.chown("usr/bin/tool", www_data, 0);
  jail.dir("usr/lib/x86_64-linux-gnu", 0775);
  jail.chown("usr/lib/x86_64-linux-gnu", 0, www_data);
  jail.dir("var/lib/app", 0700);
  jail.chown("var/lib/app", www_data, www_data); // a state directory: fine
  AuditReport report = jail.audit();
  INFO(describe(report));
  CHECK(has(report, "service-writable-system", "/usr/bin/tool", Severity::high));
  CHECK(has(report, "service-writable-system", "/usr/lib/x86_64-linux-gnu", Severity::high));
  CHECK_FALSE(find(report, "service-writable-system", "/var/lib/app"));
}

// mknod needs root.
TEST_CASE("audit: device nodes other than null, zero, full, random, urandom, tty" *
          doctest::skip(!is_root())) {
  FakeJail jail;
  auto node = [&](const char* rel, mode_t type, unsigned maj, unsigned min) {
    REQUIRE(::mknod((jail / rel).c_str(), type | 0666, makedev(maj, min)) == 0);
  };
  node("dev/null", S_IFCHR, 1, 3);
  node("dev/urandom", S_IFCHR, 1, 9);
  node("dev/tty", S_IFCHR, 5, 0);
  node("dev/sda", S_IFBLK, 8, 0);
  node("dev/mem", S_IFCHR, 1, 1);
  node("dev/port", S_IFCHR, 1, 4);
  node("dev/tty0", S_IFCHR, 4, 0);
  node("dev/zero", S_IFCHR, 8, 0); // a disk's numbers under a harmless name
  node("tmp/null", S_IFCHR, 1, 3); // harmless numbers in the wrong place
  AuditReport report = jail.audit();
  INFO(describe(report));
  CHECK_FALSE(find(report, "device-node", "/dev/null"));
  CHECK_FALSE(find(report, "device-node", "/dev/urandom"));
  CHECK_FALSE(find(report, "device-node", "/dev/tty"));
  CHECK(has(report, "device-node", "/dev/sda", Severity::critical));
  CHECK(has(report, "device-node", "/dev/mem", Severity::critical));
  CHECK(has(report, "device-node", "/dev/port", Severity::critical));
  CHECK(has(report, "device-node", "/dev/tty0", Severity::high));
  CHECK(has(report, "device-node", "/dev/zero", Severity::high));
  CHECK(has(report, "device-node", "/tmp/null", Severity::high));
}

TEST_CASE("audit: hardlinks shared with files outside the jail") {
  FakeJail jail;
  FakeJail::write(jail.tmp.path + "/host-file", "shared");
  REQUIRE(::link((jail.tmp.path + "/host-file").c_str(), (jail / "usr/bin/linked").c_str()) == 0);
  jail.file("usr/bin/twice", "inside");
  REQUIRE(::link((jail / "usr/bin/twice").c_str(), (jail / "usr/sbin/twice").c_str()) == 0);
  AuditReport report = jail.audit();
  INFO(describe(report));
  CHECK(has(report, "hardlink-outside", "/usr/bin/linked", Severity::high));
  CHECK_FALSE(find(report, "hardlink-outside", "/usr/bin/twice")); // both names are in the jail
  CHECK_FALSE(find(report, "hardlink-outside", "/usr/sbin/twice"));
}

TEST_CASE("audit: symlinks leaving the jail, in directories a service can write") {
  FakeJail jail;
  jail.symlink("tmp/abs", "/etc/shadow");
  jail.symlink("tmp/climb", "../../../../etc");
  jail.symlink("tmp/inside", "../etc/passwd");
  jail.symlink("usr/lib/host", "/usr/share/zoneinfo"); // not writable by a service: the jail's business
  AuditReport report = jail.audit();
  INFO(describe(report));
  CHECK(has(report, "symlink-escape", "/tmp/abs", Severity::high));
  CHECK(has(report, "symlink-escape", "/tmp/climb", Severity::high));
  CHECK_FALSE(find(report, "symlink-escape", "/tmp/inside"));
  CHECK_FALSE(find(report, "symlink-escape", "/usr/lib/host"));
}

TEST_CASE("audit: the walk never follows a symlink, not even the jail's /usr to the host's") {
  FakeJail jail;
  fs::remove_all(jail / "usr");
  jail.symlink("usr", "/usr"); // the host's /usr holds setuid su and passwd
  jail.dir("tmp/deep", 0755);
  jail.symlink("tmp/deep/etc", "/etc");
  AuditReport report = jail.audit();
  INFO(describe(report));
  for (const Finding& f : report.findings) {
    CHECK(f.path.rfind("/usr/", 0) != 0);
    CHECK(f.path.rfind("/tmp/deep/etc/", 0) != 0);
  }
}

TEST_CASE("audit: the walk sees the same on one thread and on two, in wide and deep trees") {
  FakeJail jail;
  // More directories than the walk holds open at once, each with something to find.
  for (int i = 0; i < 300; ++i) {
    std::string d = "var/lib/d" + std::to_string(i);
    jail.dir(d, 0755);
    jail.dir(d + "/sub", 0755);
    jail.file(d + "/sub/tool", "x", i % 50 == 0 ? 04755 : 0755);
  }
  // Deeper than the walk goes: reported, not a crash or a silent stop.
  std::string deep = "var/deep";
  for (int i = 0; i < 260; ++i)
    deep += "/d";
  fs::create_directories(jail / deep);
  AuditOptions options;
  options.integrity = Integrity::skip;
  options.hardening = Hardening::skip;
  options.mountinfo = jail.mountinfo;
  options.threads = 1;
  AuditReport one = audit_jail(jail.root, options);
  options.threads = 2;
  AuditReport two = audit_jail(jail.root, options);
  CHECK(one.entries == two.entries);
  CHECK(one.entries > 900 + 250);
  CHECK(one.findings == two.findings);
  CHECK(count_rule(two, "setuid") == 6);
  REQUIRE(count_rule(two, "audit-error") == 1);
  auto error = std::find_if(two.findings.begin(), two.findings.end(),
                            [](const Finding& f) { return f.rule == "audit-error"; });
  CHECK(error->severity == Severity::high);
  CHECK(error->path.rfind("/var/deep/d/d/", 0) == 0);
}

TEST_CASE("audit: a FIFO or a symlink where passwd should be is reported, never opened") {
  FakeJail jail;
  REQUIRE(::unlink((jail / "etc/passwd").c_str()) == 0);
  REQUIRE(::mkfifo((jail / "etc/passwd").c_str(), 0644) == 0);
  REQUIRE(::unlink((jail / "etc/shadow").c_str()) == 0);
  jail.symlink("etc/shadow", "/etc/shadow");
  AuditReport report = jail.audit(); // would hang on the FIFO, or read the host's shadow
  INFO(describe(report));
  CHECK(has(report, "audit-error", "/etc/passwd", Severity::medium));
  CHECK(has(report, "audit-error", "/etc/shadow", Severity::medium));
  CHECK_FALSE(find(report, "account-password-hash", "/etc/shadow"));
}

TEST_CASE("audit: mounts below the jail that expose the host, from mountinfo") {
  FakeJail jail;
  for (const char* d : {"proc", "sys", "host", "run", "dev/log", "var/www", "cgroup", "devfs", "proc2",
                        "hostetc", "run/systemd"})
    jail.dir(d, 0755);
  jail.file("run/docker.sock", "");
  jail.file("proc/hidden-setuid", "x", 04755); // in a mount point: the host's, not walked
  const std::string j = jail.root;
  FakeJail::write(jail.mountinfo, "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
                                  "25 22 0:25 / /run rw,nosuid,nodev shared:5 - tmpfs tmpfs rw\n"
                                  "60 22 0:22 / " +
                                      j +
                                      "/proc rw,nosuid,nodev,noexec - proc proc rw\n"
                                      "61 22 0:21 / " +
                                      j +
                                      "/sys ro,nosuid - sysfs sysfs rw\n"
                                      "62 22 254:0 / " +
                                      j +
                                      "/host rw,relatime - ext4 /dev/vda rw\n"
                                      "63 22 0:25 /docker.sock " +
                                      j +
                                      "/run/docker.sock rw - tmpfs tmpfs rw\n"
                                      "64 22 0:25 /systemd/journal/dev-log " +
                                      j +
                                      "/dev/log rw,nosuid,nodev - tmpfs tmpfs rw\n"
                                      "65 22 254:0 /srv/site " +
                                      j +
                                      "/var/www ro,nosuid,nodev - ext4 /dev/vda rw\n"
                                      "66 22 0:26 / " +
                                      j +
                                      "/cgroup rw - cgroup2 cgroup2 rw\n"
                                      "67 22 0:5 / " +
                                      j +
                                      "/devfs rw,nosuid - devtmpfs udev rw\n"
                                      "68 22 0:23 / " +
                                      j +
                                      "/proc2 ro,nosuid,nodev,noexec - proc proc rw\n"
                                      "69 22 254:0 /etc " +
                                      j +
                                      "/hostetc ro,nosuid,nodev - ext4 /dev/vda rw\n"
                                      "70 22 0:25 /systemd " +
                                      j + "/run/systemd ro,nosuid,nodev - tmpfs tmpfs rw\n");
  AuditReport report = jail.audit();
  INFO(describe(report));
  CHECK(has(report, "mount-proc-rw", "/proc", Severity::critical));
  CHECK(has(report, "mount-kernel-fs", "/sys", Severity::high));
  CHECK(has(report, "mount-kernel-fs", "/cgroup", Severity::critical));
  CHECK(has(report, "mount-host-root", "/host", Severity::critical));
  CHECK(has(report, "mount-host-sensitive", "/run/docker.sock", Severity::critical));
  CHECK(has(report, "mount", "/dev/log", Severity::info)); // the journal's log socket only
  CHECK(has(report, "mount", "/var/www", Severity::info));
  CHECK(has(report, "mount-devtmpfs", "/devfs", Severity::critical));
  // Read-only or not, the host's /proc leads out of a chroot through /proc/PID/root.
  CHECK(has(report, "mount-proc", "/proc2", Severity::high));
  CHECK(has(report, "mount-host-sensitive", "/hostetc", Severity::critical));
  CHECK(has(report, "mount-host-sensitive", "/run/systemd", Severity::critical));
  CHECK_FALSE(find(report, "setuid", "/proc/hidden-setuid"));
  CHECK_FALSE(find(report, "world-writable-file", "/run/docker.sock"));
}

TEST_CASE("audit: nsswitch.conf, NSS modules that synthesise users, ld.so.preload") {
  FakeJail jail;
  jail.file("etc/nsswitch.conf", "# comment: systemd\npasswd: files systemd\n"
                                 "hosts: files mdns4_minimal [NOTFOUND=return] dns\n");
  jail.dir("usr/lib/x86_64-linux-gnu", 0755);
  jail.file("usr/lib/x86_64-linux-gnu/libnss_systemd.so.2", "x");
  jail.file("etc/ld.so.preload", "/usr/lib/libevil.so\n");
  AuditReport report = jail.audit();
  INFO(describe(report));
  CHECK(has(report, "nsswitch-service", "/etc/nsswitch.conf", Severity::high));
  CHECK(count_rule(report, "nsswitch-service") == 2); // systemd, mdns4_minimal; not the [action]
  CHECK(has(report, "nss-module", "/usr/lib/x86_64-linux-gnu/libnss_systemd.so.2", Severity::high));
  CHECK(has(report, "ld-so-preload", "/etc/ld.so.preload", Severity::high));
}

TEST_CASE("audit: private keys and shadow files readable by service users") {
  FakeJail jail;
  jail.dir("etc/ssl", 0755);
  jail.dir("etc/ssl/private", 0755);
  jail.file("etc/ssl/private/site.key", "-----BEGIN PRIVATE KEY-----\nMII...\n-----END PRIVATE KEY-----\n",
            0644);
  jail.file("etc/ssl/site.pem", "-----BEGIN CERTIFICATE-----\nMII...\n", 0644);
  jail.file("etc/ssl/other.pem", "-----BEGIN EC PRIVATE KEY-----\nMII...\n", 0600);
  jail.file("etc/shadow", "www-data:*:0:0:99999:7:::\n", 0644);
  AuditReport report = jail.audit();
  INFO(describe(report));
  CHECK(has(report, "private-key-readable", "/etc/ssl/private/site.key", Severity::high));
  CHECK_FALSE(find(report, "private-key-readable", "/etc/ssl/site.pem"));  // a certificate
  CHECK_FALSE(find(report, "private-key-readable", "/etc/ssl/other.pem")); // root-only
  CHECK(has(report, "shadow-readable", "/etc/shadow", Severity::high));
  // A key in a directory the services cannot enter is safe.
  REQUIRE(::chmod((jail / "etc/ssl/private").c_str(), 0700) == 0);
  report = jail.audit();
  CHECK_FALSE(find(report, "private-key-readable", "/etc/ssl/private/site.key"));
}

// Giving a file to the service's group needs root.
TEST_CASE("audit: a private key its group, a service's, may read" * doctest::skip(!is_root())) {
  FakeJail jail;
  jail.dir("etc/ssl", 0755);
  jail.file("etc/ssl/group.pem", "-----BEGIN RSA PRIVATE KEY-----\n", 0640);
  jail.chown("etc/ssl/group.pem", 0, www_data);
  REQUIRE(::chmod((jail / "etc/ssl/group.pem").c_str(), 0640) == 0);
  AuditReport report = jail.audit();
  CHECK(has(report, "private-key-readable", "/etc/ssl/group.pem", Severity::high));
}

TEST_CASE("audit: shells, interpreters, compilers and package managers are info") {
  FakeJail jail;
  jail.file("usr/bin/bash", "x", 0755);
  jail.file("usr/bin/python3.11", "x", 0755);
  jail.file("usr/bin/gcc-12", "x", 0755);
  jail.file("usr/bin/apt-get", "x", 0755);
  jail.file("usr/sbin/php-fpm8.2", "x", 0755);
  jail.file("usr/bin/sh", "not executable", 0644);
  AuditReport report = jail.audit();
  INFO(describe(report));
  for (const char* p : {"/usr/bin/bash", "/usr/bin/python3.11", "/usr/bin/gcc-12", "/usr/bin/apt-get"})
    CHECK(has(report, "exec-tool", p, Severity::info));
  CHECK_FALSE(find(report, "exec-tool", "/usr/sbin/php-fpm8.2"));
  CHECK_FALSE(find(report, "exec-tool", "/usr/bin/sh"));
  AuditReport real = report;
  real.findings = real_findings(report);
  CHECK(std::all_of(real.findings.begin(), real.findings.end(),
                    [](const Finding& f) { return f.severity == Severity::info; }));
  CHECK_FALSE(audit_fails(real, Severity::medium));
  CHECK(audit_fails(report, Severity::info));
}

namespace {

/// A jail with a manifest recording its files, as create leaves it.
struct ManifestJail : FakeJail {
  Manifest manifest;

  ManifestJail() {
    dir(".jailbuild", 0700);
    dir("usr/share", 0755);
    dir("var/lib/app", 01733);
    add_file("/usr/lib/libapp.so.1", "library bytes", EntryRole::library);
    add_file("/usr/sbin/app", "executable bytes", EntryRole::executable, 0755);
    add_file("/etc/app.conf", "setting = 1\n", EntryRole::config);
    add_file("/usr/share/data", "data", EntryRole::data);
    symlink("usr/lib/libapp.so", "libapp.so.1");
    PlanEntry link;
    link.kind = EntryKind::symlink;
    link.role = EntryRole::system;
    link.path = "/usr/lib/libapp.so";
    link.source = "libapp.so.1";
    manifest.plan.entries.push_back(link);
    PlanEntry state;
    state.kind = EntryKind::directory;
    state.role = EntryRole::state;
    state.path = "/var/lib/app";
    state.mode = 01733;
    manifest.plan.entries.push_back(state);
    for (const char* f : {"/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow", "/etc/nsswitch.conf",
                          "/usr/sbin/service"}) {
      PlanEntry e;
      e.kind = EntryKind::generated;
      e.role = EntryRole::config;
      e.path = f;
      e.digest = sha256_hex(read_text(root + f));
      manifest.plan.entries.push_back(e);
    }
    save();
  }

  void add_file(const std::string& path, const std::string& content, EntryRole role, mode_t mode = 0644) {
    file(path.substr(1), content, mode);
    PlanEntry e;
    e.kind = EntryKind::file;
    e.role = role;
    e.path = path;
    e.mode = mode;
    e.digest = sha256_hex(content);
    manifest.plan.entries.push_back(e);
  }
  void save() { file(".jailbuild/manifest.json", manifest_to_json(manifest), 0600); }
};

} // namespace

TEST_CASE("audit: the shell of a jail made --with mail is info, said to be there for mail()") {
  ManifestJail jail;
  jail.add_file("/usr/bin/dash", "a shell", EntryRole::executable, 0755);
  jail.save();
  AuditReport plain = jail.audit();
  const Finding* shell = find(plain, "exec-tool", "/usr/bin/dash");
  REQUIRE(shell);
  CHECK(shell->severity == Severity::info);
  CHECK_FALSE(contains(shell->message, "mail"));

  // PHP's mail() runs sendmail through /bin/sh -c: the mail profile brings the shell on purpose.
  jail.manifest.plan.spec.services = {"php-fpm", "mail"};
  jail.save();
  AuditReport report = jail.audit();
  INFO(describe(report));
  shell = find(report, "exec-tool", "/usr/bin/dash");
  REQUIRE(shell);
  CHECK(shell->severity == Severity::info);
  CHECK(contains(shell->message, "there for the mail profile"));
}

TEST_CASE("audit: integrity of a jail with a manifest") {
  ManifestJail jail;
  AuditReport clean = jail.audit();
  INFO(describe(clean));
  CHECK(clean.integrity.checked);
  CHECK(clean.integrity.files == 10);
  CHECK(clean.integrity.bytes > 0);
  CHECK(real_findings(clean).empty());

  jail.file("usr/lib/libapp.so.1", "library bytes, patched"); // modified library
  REQUIRE(::unlink((jail / "etc/app.conf").c_str()) == 0);    // missing config
  jail.file("usr/lib/libevil.so", "planted");                 // unexpected library
  jail.file("var/lib/app/sess_1", "session");                 // the service's own state
  jail.file("var/lib/app/dropped", "payload", 0755);          // even an executable there is info
  REQUIRE(::unlink((jail / "usr/sbin/app").c_str()) == 0);
  jail.symlink("usr/sbin/app", "/etc/passwd"); // a file replaced by a symlink
  REQUIRE(::unlink((jail / "usr/lib/libapp.so").c_str()) == 0);
  jail.symlink("usr/lib/libapp.so", "libevil.so"); // a redirected library link
  jail.file("usr/share/data", "changed data");
  jail.file("home-note", "stray file");
  AuditReport report = jail.audit();
  INFO(describe(report));
  CHECK(has(report, "integrity-modified", "/usr/lib/libapp.so.1", Severity::high));
  CHECK(has(report, "integrity-missing", "/etc/app.conf", Severity::high));
  CHECK(has(report, "integrity-unexpected", "/usr/lib/libevil.so", Severity::high));
  CHECK(has(report, "integrity-unexpected", "/var/lib/app/sess_1", Severity::info));
  CHECK(has(report, "integrity-unexpected", "/var/lib/app/dropped", Severity::info));
  CHECK(has(report, "integrity-modified", "/usr/sbin/app", Severity::high));
  CHECK(has(report, "integrity-modified", "/usr/lib/libapp.so", Severity::high));
  CHECK(has(report, "integrity-modified", "/usr/share/data", Severity::medium));
  CHECK(has(report, "integrity-unexpected", "/home-note", Severity::low));
  CHECK(report.integrity.modified == 4);
  CHECK(report.integrity.missing == 1);
  CHECK(report.integrity.unexpected == 4);
  CHECK(audit_fails(report, Severity::high));

  // --no-integrity: no hashing, no integrity finding.
  AuditReport skipped = jail.audit(Integrity::skip);
  CHECK_FALSE(skipped.integrity.checked);
  CHECK(skipped.integrity.skipped_because == "--no-integrity");
  for (const Finding& f : skipped.findings)
    CHECK(f.rule.rfind("integrity-", 0) != 0);
}

TEST_CASE("audit: hardening of every ELF file, checksec style") {
  FakeJail jail;
  jail.file("usr/sbin/fake", std::string("\x7f") + "ELF and nothing an ELF file holds behind it", 0755);
  const std::string host_true = fs::canonical("/bin/true").string();
  fs::copy_file(host_true, jail / "usr/bin/true");
  REQUIRE(::chmod((jail / "usr/bin/true").c_str(), 0755) == 0);
  AuditReport report = jail.audit(Integrity::check, Hardening::check);
  REQUIRE(report.hardening_checked);
  auto it = std::find_if(report.elves.begin(), report.elves.end(),
                         [](const ElfAudit& e) { return e.path == "/usr/bin/true"; });
  REQUIRE(it != report.elves.end());
  ElfHardening expected = read_elf_hardening_lief(host_true);
  CHECK(it->error.empty());
  CHECK(it->type == ElfAudit::Type::executable);
  CHECK(it->hardening.pie == expected.pie);
  CHECK(it->hardening.relro == expected.relro);
  CHECK(it->hardening.nx_stack == expected.nx_stack);
  CHECK(it->hardening.canary == expected.canary);
  CHECK(it->hardening.fortify == expected.fortify);
  // An ELF magic with nothing behind it is reported, not fatal.
  auto elf = [&](const std::string& path) {
    return std::find_if(report.elves.begin(), report.elves.end(),
                        [&](const ElfAudit& e) { return e.path == path; });
  };
  REQUIRE(elf("/usr/sbin/fake") != report.elves.end());
  CHECK_FALSE(elf("/usr/sbin/fake")->error.empty());
  // "\x7fELF not really" is shorter than an ELF header: not an ELF file at all.
  CHECK(elf("/usr/sbin/service") == report.elves.end());
  std::string text = format_audit_text(report, Severity::medium);
  CHECK(text.find("hardening: ") != std::string::npos);
  CHECK(text.find("PIE ") != std::string::npos);
  CHECK(jail.audit(Integrity::check, Hardening::skip).elves.empty());
}

TEST_CASE("audit: a planted 3 GiB ELF file is reported and not parsed; a 900 MiB one is read by offset") {
  // The attack: a service user writes /bin/true into files it owns in its session directory and
  // makes them sparse giants. The audit used to give each to LIEF whole: 6 GB of memory and a
  // minute for the 3 GiB one. Run with 1 GiB of address space to spare, so the old way fails here.
  FakeJail jail;
  jail.dir("var/lib/php", 0755);
  jail.dir("var/lib/php/sessions", 01733);
  const std::string host_true = fs::canonical("/bin/true").string();
  for (const auto& [name, size] :
       {std::pair{"sess_giant", off_t{3} << 30}, std::pair{"sess_large", off_t{900} << 20}}) {
    std::string planted = jail / ("var/lib/php/sessions/" + std::string(name));
    fs::copy_file(host_true, planted);
    REQUIRE(::truncate(planted.c_str(), size) == 0);
  }
  AuditReport report;
  std::string failure;
  with_memory_cap(std::size_t{1} << 30, [&] {
    try {
      report = jail.audit(Integrity::check, Hardening::check);
    } catch (const std::exception& e) {
      failure = e.what();
    }
  });
  REQUIRE(failure.empty());
  auto elf = [&](const std::string& path) {
    auto it = std::find_if(report.elves.begin(), report.elves.end(),
                           [&](const ElfAudit& e) { return e.path == path; });
    REQUIRE(it != report.elves.end());
    return *it;
  };
  const Finding* giant = find(report, "audit-error", "/var/lib/php/sessions/sess_giant");
  REQUIRE(giant != nullptr);
  CHECK(giant->severity == Severity::medium);
  CHECK(contains(giant->message, "3221225472 bytes, over the 1 GiB"));
  CHECK(contains(elf("/var/lib/php/sessions/sess_giant").error, "not parsed"));
  ElfAudit large = elf("/var/lib/php/sessions/sess_large");
  CHECK(large.error.empty());
  CHECK(large.hardening == read_elf_hardening_lief(host_true));
  CHECK(find(report, "audit-error", "/var/lib/php/sessions/sess_large") == nullptr);
}

TEST_CASE("audit: text groups findings by severity; JSON follows the documented schema") {
  FakeJail jail;
  jail.file("usr/bin/su", "x", 04755);
  jail.file("usr/bin/bash", "x", 0755);
  AuditReport report = jail.audit();
  std::string text = format_audit_text(report, Severity::medium);
  INFO(text);
  CHECK(text.find(is_root() ? "\nCRITICAL (1)\n  setuid  /usr/bin/su\n    setuid root: " : "\nHIGH (") !=
        std::string::npos);
  CHECK(text.find("\nINFO (1)\n  exec-tool  /usr/bin/bash\n") != std::string::npos);
  CHECK(text.find("fix: chmod u-s ") != std::string::npos);
  CHECK(text.find("FAIL: findings at or above medium") != std::string::npos);

  nlohmann::json doc = nlohmann::json::parse(format_audit_json(report, Severity::critical));
  CHECK(doc["format"] == 1);
  CHECK(doc["jail"] == jail.root);
  CHECK(doc["threshold"] == "critical");
  CHECK(doc["failed"] == audit_fails(report, Severity::critical));
  CHECK(doc["counts"]["info"] == 1);
  REQUIRE(doc["findings"].is_array());
  for (const auto& f : doc["findings"])
    for (const char* key : {"rule", "severity", "path", "message", "fix"})
      CHECK(f[key].is_string());
  CHECK(doc["integrity"]["checked"] == false);
  CHECK(doc["integrity"]["skipped_because"] == "no manifest");
  CHECK(doc["hardening"]["checked"] == false);
  CHECK(doc["hardening"]["files"].is_array());
  CHECK(doc["hardening"]["summary"]["elf"] == 0);
}

TEST_CASE("audit: the command's exit status is 0 below the threshold, 1 at it, 2 on errors") {
  FakeJail jail;
  jail.file("usr/bin/bash", "x", 0755); // info
  jail.file("etc/app.conf", "x", 0664); // nothing: group root
  auto run = [&](const std::string& args) {
    std::string command = std::string(JB_BINARY) + " audit " + args + " >/dev/null 2>&1";
    int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  // Not root, the jail root is the tester's: chroot-owner, high.
  CHECK(run(jail.root) == (is_root() ? 0 : 1));
  CHECK(run(jail.root + " --fail-on low") == (is_root() ? 0 : 1));
  CHECK(run(jail.root + " --fail-on info") == 1);
  CHECK(run("/nonexistent/jail") == 2);
  CHECK(run(jail.root + " --fail-on severe") == 2);
  jail.file("etc/app.conf", "x", 0666); // high
  CHECK(run(jail.root) == 1);
  CHECK(run(jail.root + " --fail-on critical --json") == 0);
}

TEST_CASE("audit: live binds of a system directory, another jail or this jail's parent are critical") {
  FakeJail jail;
  TempDir other("otherjail", 0755);
  fs::create_directories(other / ".jailbuild");
  fs::create_directories(other / "var/www");
  for (const char* d :
       {"mnt", "mnt/usr", "mnt/other", "mnt/otherwww", "mnt/parent", "mnt/site", "mnt/mysqld"})
    jail.dir(d, 0755);
  const std::string j = jail.root;
  // The host's / is one ext4 file system (254:0): a bind's root is its host path.
  auto bind = [&](int id, const std::string& host_path, const std::string& point) {
    return std::to_string(id) + " 22 254:0 " + host_path + " " + j + point +
           " ro,nosuid,nodev - ext4 /dev/vda rw\n";
  };
  FakeJail::write(jail.mountinfo,
                  "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n" +
                      bind(60, "/usr/lib", "/mnt/usr") + bind(61, other.path, "/mnt/other") +
                      bind(62, other / "var/www", "/mnt/otherwww") + bind(63, jail.tmp.path, "/mnt/parent") +
                      bind(64, "/srv/site", "/mnt/site") + bind(65, "/run/mysqld", "/mnt/mysqld"));
  AuditReport report = jail.audit();
  INFO(describe(report));
  CHECK(has(report, "mount-host-sensitive", "/mnt/usr", Severity::critical));
  CHECK(has(report, "mount-host-sensitive", "/mnt/other", Severity::critical));
  CHECK(has(report, "mount-host-sensitive", "/mnt/otherwww", Severity::critical));
  CHECK(contains(find(report, "mount-host-sensitive", "/mnt/otherwww")->message, "jailbuild jail"));
  CHECK(has(report, "mount-host-sensitive", "/mnt/parent", Severity::critical));
  CHECK(contains(find(report, "mount-host-sensitive", "/mnt/parent")->message, "holds this jail"));
  CHECK(has(report, "mount", "/mnt/site", Severity::info));
  CHECK(has(report, "mount", "/mnt/mysqld", Severity::info));
}

TEST_CASE("audit: a manifest's bind of /, a system directory, a jail, or onto /.jailbuild is critical") {
  TempDir other("otherjail", 0755);
  fs::create_directories(other / ".jailbuild");
  FakeJail jail;
  jail.dir(".jailbuild", 0700);
  Manifest manifest;
  manifest.plan.users = {"www-data"};
  auto add_bind = [&](const std::string& path, const std::string& source) {
    PlanEntry e;
    e.kind = EntryKind::bind;
    e.role = EntryRole::system;
    e.path = path;
    e.mode = 0755;
    e.source = source;
    e.read_only = false;
    manifest.plan.entries.push_back(e);
  };
  add_bind("/mnt/root", "/");
  add_bind("/mnt/etc", "/etc");
  add_bind("/proc", "/proc");
  add_bind("/mnt/run", "/run");
  add_bind("/mnt/other", other.path);
  add_bind("/mnt/parent", jail.tmp.path);
  add_bind("/mnt/dotdot", "/srv/../etc");
  add_bind("/mnt/site", "/srv/site");
  add_bind("/run/mysqld", "/run/mysqld");
  add_bind("/dev/log", "/dev/log");
  jail.file(".jailbuild/manifest.json", manifest_to_json(manifest), 0600);
  // Whether or not the whole manifest is read for the integrity check.
  for (Integrity integrity : {Integrity::skip, Integrity::check}) {
    AuditReport report = jail.audit(integrity);
    INFO(describe(report));
    for (const char* path :
         {"/mnt/root", "/mnt/etc", "/proc", "/mnt/run", "/mnt/other", "/mnt/parent", "/mnt/dotdot"}) {
      CAPTURE(path);
      CHECK(has(report, "manifest-bind-source", path, Severity::critical));
    }
    for (const char* path : {"/mnt/site", "/run/mysqld", "/dev/log"}) {
      CAPTURE(path);
      CHECK_FALSE(find(report, "manifest-bind-source", path));
    }
    CHECK(contains(find(report, "manifest-bind-source", "/proc")->message, "PID namespace"));
  }
  // A hostile manifest spells the kind with an escape: the rules-only audit reads it whole all the same.
  std::string text = manifest_to_json(manifest);
  for (size_t at; (at = text.find("\"kind\":\"bind\"")) != std::string::npos;)
    text.replace(at, 13, "\"kind\":\"\\u0062ind\"");
  REQUIRE_FALSE(contains(text, "\"bind\""));
  jail.file(".jailbuild/manifest.json", text, 0600);
  AuditReport escaped = jail.audit(Integrity::skip);
  INFO(describe(escaped));
  CHECK(has(escaped, "manifest-bind-source", "/mnt/root", Severity::critical));

  // A bind onto /.jailbuild makes the whole manifest unreadable (no entry may lie there): the rules
  // say so, high, instead of trusting any of it; the integrity check, which needs the manifest, stops.
  add_bind("/.jailbuild/x", "/srv/site");
  jail.file(".jailbuild/manifest.json", manifest_to_json(manifest), 0600);
  AuditReport rules = jail.audit(Integrity::skip);
  INFO(describe(rules));
  const Finding* error = find(rules, "audit-error", "/.jailbuild/manifest.json");
  REQUIRE(error);
  CHECK(error->severity >= Severity::high);
  CHECK(contains(error->message, "/.jailbuild/x"));
  CHECK(contains(error_of([&] { jail.audit(Integrity::check); }), "/.jailbuild/x"));
}
