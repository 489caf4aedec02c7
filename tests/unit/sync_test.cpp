// SPDX-License-Identifier: MIT
// sync_jail() and the planner through a fake host root (fake_host.hpp), and the per-jail lock. The
// decisions have their own tests (decide_test.cpp); tests/scenario/sync_fakeroot.sh drives the CLI,
// kills runs part-way and runs the jailed program.
#include "jailbuild/create.hpp"
#include "jailbuild/hostfs.hpp"
#include "jailbuild/jail_lock.hpp"
#include "jailbuild/manifest.hpp"
#include "jailbuild/plan_builder.hpp"
#include "jailbuild/sync.hpp"

#include "fake_host.hpp"
#include "test_util.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <fcntl.h>
#include <filesystem>
#include <future>
#include <sys/file.h>
#include <unistd.h>

using namespace jailbuild;
using namespace jailbuild::test;
namespace fs = std::filesystem;

namespace {

const Change* find_change(const SyncReport& r, ChangeKind kind, const std::string& path) {
  auto it = std::find_if(r.changes.begin(), r.changes.end(),
                         [&](const Change& c) { return c.kind == kind && c.path == path; });
  return it == r.changes.end() ? nullptr : &*it;
}

const PlanEntry* entry_at(const Plan& plan, const std::string& path) {
  auto it = std::find_if(plan.entries.begin(), plan.entries.end(),
                         [&](const PlanEntry& e) { return e.path == path; });
  return it == plan.entries.end() ? nullptr : &*it;
}

/// The fake host's multiarch library directory, as a jail path.
std::string jail_lib() {
  return "/usr/lib/" + fixture_info("triplet");
}

SyncOptions sync_options(SyncMode mode, Force force = Force::no) {
  SyncOptions o;
  o.mode = mode;
  o.force = force;
  return o;
}

} // namespace

TEST_CASE("build_recorded_plan: a fake host's program, its version links, configuration and accounts") {
  FakeHost h;
  HostRoot host(h.root);
  CreateOptions o = h.create_options();
  RecordedPlan planned = build_recorded_plan(host, o.spec, Digests::now);
  const Plan& plan = planned.plan;
  const std::string lib = jail_lib();
  REQUIRE(entry_at(plan, "/usr/bin/hello"));
  CHECK(entry_at(plan, "/usr/bin/hello")->role == EntryRole::executable);
  // ld.so's own path to the library: the links as links, the file as a file.
  REQUIRE(entry_at(plan, lib + "/libhop.so.1"));
  CHECK(entry_at(plan, lib + "/libhop.so.1")->kind == EntryKind::symlink);
  CHECK(entry_at(plan, lib + "/libhop.so.1")->source == "libhop.so.1.0.0");
  REQUIRE(entry_at(plan, lib + "/libhop.so.1.0.0"));
  CHECK(entry_at(plan, lib + "/libhop.so.1.0.0")->role == EntryRole::library);
  CHECK(entry_at(plan, lib + "/libhop.so.1.0.0")->digest.size() == 64);
  REQUIRE(entry_at(plan, lib + "/libc.so.6"));
  REQUIRE(entry_at(plan, "/etc/app/app.conf"));
  CHECK(entry_at(plan, "/etc/app/app.conf")->role == EntryRole::config);
  REQUIRE(entry_at(plan, "/var/lib/app"));
  CHECK(entry_at(plan, "/var/lib/app")->uid == 33);
  REQUIRE(entry_at(plan, "/etc/passwd"));
  CHECK(entry_at(plan, "/etc/passwd")->kind == EntryKind::generated);
  CHECK_FALSE(contains(entry_at(plan, "/etc/passwd")->content, "root:"));
  CHECK(std::is_sorted(plan.entries.begin(), plan.entries.end(),
                       [](const PlanEntry& a, const PlanEntry& b) { return path_less(a.path, b.path); }));
  // What it was made from: the program, the profile, the passwd it read.
  CHECK_FALSE(planned.inputs == PlanInputs{});
  // Left to the copy, digests are empty: every byte is read once, while copied.
  RecordedPlan later = build_recorded_plan(host, o.spec, Digests::while_copying);
  CHECK(entry_at(later.plan, lib + "/libhop.so.1.0.0")->digest.empty());
}

TEST_CASE("sync_jail: a soname bump through a fake host root, dry run first" * doctest::skip(!is_root())) {
  FakeHost h;
  create_jail(h.create_options());
  const std::string lib = jail_lib();
  h.rebuild(h.lib_dir + "/libhop.so.1.0.0", h.lib_dir + "/libhop.so.1.0.1");
  fs::remove(h.lib_dir + "/libhop.so.1");
  fs::create_symlink("libhop.so.1.0.1", h.lib_dir + "/libhop.so.1");
  fs::remove(h.lib_dir + "/libhop.so.1.0.0");

  const std::string manifest = read_text(h.jail + "/.jailbuild/manifest.json");
  SyncReport dry = sync_jail(h.jail, sync_options(SyncMode::dry_run));
  CHECK(find_change(dry, ChangeKind::added, lib + "/libhop.so.1.0.1"));
  CHECK(find_change(dry, ChangeKind::updated, lib + "/libhop.so.1"));
  CHECK(find_change(dry, ChangeKind::removed, lib + "/libhop.so.1.0.0"));
  CHECK_FALSE(dry.manifest_written);
  CHECK(read_text(h.jail + "/.jailbuild/manifest.json") == manifest);
  CHECK_FALSE(fs::exists(h.jail + lib + "/libhop.so.1.0.1"));

  SyncReport done = sync_jail(h.jail, {});
  CHECK(done.changes.size() == dry.changes.size()); // the dry run showed exactly this
  CHECK(done.manifest_written);
  CHECK(read_text(h.jail + lib + "/libhop.so.1.0.1") == read_text(h.lib_dir + "/libhop.so.1.0.1"));
  CHECK(fs::read_symlink(h.jail + lib + "/libhop.so.1") == "libhop.so.1.0.1");
  CHECK_FALSE(fs::exists(fs::symlink_status(h.jail + lib + "/libhop.so.1.0.0")));
  Manifest m = read_manifest(h.jail);
  REQUIRE(entry_at(m.plan, lib + "/libhop.so.1.0.1"));
  CHECK(entry_at(m.plan, lib + "/libhop.so.1.0.1")->digest.size() == 64); // hashed while copied
  CHECK_FALSE(entry_at(m.plan, lib + "/libhop.so.1.0.0"));

  SyncReport again = sync_jail(h.jail, {});
  CHECK(again.changes.empty());
}

TEST_CASE("sync_jail: a configuration edited in the jail is kept, and a conflict is written beside it" *
          doctest::skip(!is_root())) {
  FakeHost h;
  create_jail(h.create_options());
  write_text(h.jail + "/etc/app/app.conf", "local=1\n");
  SyncReport r = sync_jail(h.jail, {});
  CHECK(find_change(r, ChangeKind::kept_local, "/etc/app/app.conf"));
  CHECK_FALSE(r.needs_attention());
  write_text(h.root + "/etc/app/app.conf", "setting=2\n");
  r = sync_jail(h.jail, {});
  CHECK(find_change(r, ChangeKind::conflict, "/etc/app/app.conf"));
  CHECK(r.needs_attention());
  CHECK(read_text(h.jail + "/etc/app/app.conf") == "local=1\n");
  CHECK(read_text(h.jail + "/etc/app/app.conf.jailbuild-new") == "setting=2\n");
}

TEST_CASE("sync_jail: a tampered library is reported, and replaced only with Force::yes" *
          doctest::skip(!is_root())) {
  FakeHost h;
  create_jail(h.create_options());
  const std::string so = jail_lib() + "/libhop.so.1.0.0";
  write_text(h.jail + so, "not a library");
  SyncReport r = sync_jail(h.jail, {});
  CHECK(find_change(r, ChangeKind::tampered, so));
  CHECK(read_text(h.jail + so) == "not a library");
  r = sync_jail(h.jail, sync_options(SyncMode::apply, Force::yes));
  CHECK(find_change(r, ChangeKind::restored, so));
  CHECK(read_text(h.jail + so) == read_text(h.lib_dir + "/libhop.so.1.0.0"));
}

TEST_CASE("sync_jail: the temporary files of a killed run are removed, and only those" *
          doctest::skip(!is_root())) {
  FakeHost h;
  create_jail(h.create_options());
  const std::string left = h.jail + "/usr/bin/.hello.jbtmp.0123456789abcdef";
  const std::string service = h.jail + "/var/lib/app/.x.jbtmp.0123456789abcdef";
  const std::string manifest_left = h.jail + "/.jailbuild/.manifest.json.jbtmp.0123456789abcdef";
  write_text(left, "half a program");
  write_text(manifest_left, "{ half a manifest");
  write_text(service, "a service's own");
  REQUIRE(::chown(service.c_str(), 33, 33) == 0);
  SyncReport dry = sync_jail(h.jail, sync_options(SyncMode::dry_run));
  CHECK(find_change(dry, ChangeKind::removed, "/usr/bin/.hello.jbtmp.0123456789abcdef"));
  CHECK(fs::exists(left));
  SyncReport r = sync_jail(h.jail, {});
  CHECK(find_change(r, ChangeKind::removed, "/usr/bin/.hello.jbtmp.0123456789abcdef"));
  CHECK_FALSE(fs::exists(left));
  CHECK_FALSE(fs::exists(manifest_left));
  CHECK(read_text(service) == "a service's own");
}

TEST_CASE("sync_jail: a manifest asking for a writable system directory is refused, plan reused or not" *
          doctest::skip(!is_root())) {
  // A jail made before --writable was checked (or a manifest edited by hand): the no-op path reuses the
  // recorded plan, which would keep /etc the service's for good.
  FakeHost h;
  create_jail(h.create_options());
  Manifest m = read_manifest(h.jail);
  m.plan.spec.writable.push_back({"/etc", "www-data", ""});
  write_text(h.jail + "/.jailbuild/manifest.json", manifest_to_json(m));
  std::string err = error_of([&] { sync_jail(h.jail, {}); });
  CHECK(contains(err, h.jail + ": its manifest asks for what jailbuild refuses: /etc: --writable"));
  CHECK(contains(error_of([&] { sync_jail(h.jail, sync_options(SyncMode::dry_run)); }), "refuses"));
}

TEST_CASE("JailLock: one holder at a time; a look neither creates the lock file nor needs to write") {
  TempDir jail("lock", 0755);
  CHECK(contains(error_of([&] { JailLock lock(jail.path); }), "not a jailbuild jail"));
  REQUIRE(::mkdir((jail / ".jailbuild").c_str(), 0700) == 0);
  {
    JailLock look(jail.path, LockFor::look);
    CHECK_FALSE(fs::exists(jail / ".jailbuild/lock"));
  }
  {
    JailLock change(jail.path, LockFor::change);
    CHECK(fs::exists(jail / ".jailbuild/lock"));
    std::string err =
        error_of([&] { JailLock second(jail.path, LockFor::change, std::chrono::milliseconds(0)); });
    CHECK(contains(err, "another jailbuild holds the jail's lock"));
    err = error_of([&] { JailLock look(jail.path, LockFor::look, std::chrono::milliseconds(0)); });
    CHECK(contains(err, "another jailbuild holds the jail's lock"));
  }
  JailLock look1(jail.path, LockFor::look);
  JailLock look2(jail.path, LockFor::look, std::chrono::milliseconds(0)); // lookers share it
  CHECK(contains(error_of([&] { JailLock change(jail.path, LockFor::change, std::chrono::milliseconds(0)); }),
                 "another jailbuild holds"));
}

TEST_CASE("JailLock: a jail removed while waiting for its lock (a create that failed) is an error") {
  TempDir jail("lock", 0755);
  REQUIRE(::mkdir((jail / ".jailbuild").c_str(), 0700) == 0);
  const std::string lock_file = jail / ".jailbuild/lock";
  int holder = ::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  REQUIRE(holder >= 0);
  REQUIRE(::flock(holder, LOCK_EX) == 0);
  auto waiter = std::async(std::launch::async, [&] {
    return error_of([&] { JailLock lock(jail.path, LockFor::change, std::chrono::seconds(10)); });
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  fs::remove_all(jail / ".jailbuild"); // as the failed create does, still holding the lock
  ::close(holder);
  CHECK(contains(waiter.get(), "was removed by another jailbuild"));
}

TEST_CASE("sync_jail: a jail directory root cannot read is an Error naming it, never tampering" *
          doctest::skip(!is_root())) {
  FakeHost h;
  create_jail(h.create_options());
  REQUIRE(::chmod((h.jail + "/etc/app").c_str(), 0) == 0);
  // Root as on NFS with root_squash: the listing fails with EACCES, which says nothing of the jail.
  std::string outcome = without_dac_override([&] {
    std::string text;
    try {
      for (const Change& c : sync_jail(h.jail, sync_options(SyncMode::dry_run)).changes)
        text += std::string(to_string(c.kind)) + " " + c.path + ": " + c.detail + "\n";
    } catch (const Error& e) {
      text = std::string("Error ") + e.what();
    }
    return text;
  });
  REQUIRE(::chmod((h.jail + "/etc/app").c_str(), 0755) == 0);
  CHECK(outcome == "Error " + h.jail + "/etc/app: opening directory: Permission denied");
}

TEST_CASE("sync_jail: a file where a directory of the jail was: what lay below it is behind a file" *
          doctest::skip(!is_root())) {
  FakeHost h;
  create_jail(h.create_options());
  fs::rename(h.jail + "/etc/app", h.jail + "/etc/app.away");
  write_text(h.jail + "/etc/app", "planted");
  SyncReport r = sync_jail(h.jail, sync_options(SyncMode::dry_run));
  REQUIRE(find_change(r, ChangeKind::tampered, "/etc/app/app.conf"));
  CHECK(find_change(r, ChangeKind::tampered, "/etc/app/app.conf")->detail ==
        "a parent is not a directory; left in place");
}
