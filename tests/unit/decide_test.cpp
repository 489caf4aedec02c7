// SPDX-License-Identifier: MIT
// decide(): every rule by which create and sync change a jail, on hand-made plans and listings, no
// jail and no root needed. The listing step and the applier (assemble.cpp) are tested through
// create_jail and sync_jail (create_test.cpp, sync_test.cpp).
#include "jailbuild/decide.hpp"

#include "test_util.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <vector>

using namespace jailbuild;
using namespace jailbuild::test;
using Op = Action::Op;

namespace {

struct stat file_stat(uint64_t ino, mode_t mode = 0644, nlink_t links = 1) {
  struct stat st {};
  st.st_mode = S_IFREG | mode;
  st.st_ino = ino;
  st.st_dev = 7;
  st.st_nlink = links;
  st.st_size = 100;
  st.st_mtim.tv_sec = static_cast<time_t>(ino);
  st.st_ctim.tv_sec = static_cast<time_t>(ino);
  return st;
}

struct stat typed_stat(mode_t type, mode_t mode = 0755) {
  struct stat st {};
  st.st_mode = type | mode;
  st.st_nlink = 1;
  return st;
}

PlanEntry dir_entry(const std::string& path, uint32_t mode = 0755) {
  PlanEntry e;
  e.kind = EntryKind::directory;
  e.path = path;
  e.mode = mode;
  return e;
}

PlanEntry file_entry(const std::string& path, const std::string& digest, EntryRole role = EntryRole::data) {
  PlanEntry e;
  e.kind = EntryKind::file;
  e.role = role;
  e.path = path;
  e.mode = 0644;
  e.source = path;
  e.digest = digest;
  e.source_stamp = {1, std::hash<std::string>{}(path + digest), 100, 1, 1};
  return e;
}

PlanEntry link_entry(const std::string& path, const std::string& target) {
  PlanEntry e;
  e.kind = EntryKind::symlink;
  e.path = path;
  e.mode = 0777;
  e.source = target;
  return e;
}

PlanEntry device_entry(const std::string& path, uint32_t major_number, uint32_t minor_number) {
  PlanEntry e;
  e.kind = EntryKind::device;
  e.path = path;
  e.mode = 0666;
  e.major = major_number;
  e.minor = minor_number;
  return e;
}

/// A jail, the manifest that made it, and the plan of now.
struct World {
  Plan recorded, desired;
  JailListing jail;
  uint64_t next_ino = 100;

  World() {
    jail.root = typed_stat(S_IFDIR);
    jail.dirs["/"].state = JailListing::Dir::State::present;
  }

  /// An entry installed earlier: recorded, and in the jail as recorded (a file with its stamp).
  PlanEntry& installed(PlanEntry e) {
    switch (e.kind) {
    case EntryKind::file:
    case EntryKind::generated: {
      struct stat st = file_stat(next_ino++, e.mode);
      e.jail_stamp = stamp_of(st);
      jail.add(e.path, st);
      break;
    }
    case EntryKind::directory:
    case EntryKind::bind:
      jail.add(e.path, typed_stat(S_IFDIR, e.mode));
      jail.dirs[e.path].state = JailListing::Dir::State::present;
      break;
    case EntryKind::symlink:
      jail.add(e.path, typed_stat(S_IFLNK, 0777), e.source);
      break;
    case EntryKind::device: {
      struct stat st = typed_stat(S_IFCHR, e.mode);
      st.st_rdev = makedev(e.major, e.minor);
      jail.add(e.path, st);
      break;
    }
    }
    recorded.entries.push_back(e);
    return recorded.entries.back();
  }

  /// Installed earlier and still planned, unchanged on the host.
  void kept(const PlanEntry& e) { desired.entries.push_back(installed(e)); }

  /// The jail's file at `path` was rewritten (a new inode) with content of `digest`.
  void edit_in_jail(const std::string& path, const std::string& digest, mode_t mode = 0644) {
    jail.add(path, file_stat(next_ino++, mode));
    jail.digests[path] = digest;
  }

  Decision decide(Differences differences = Differences::report) const {
    return jailbuild::decide(recorded, desired, jail, differences);
  }
};

std::vector<Op> ops_at(const Decision& d, const std::string& path) {
  std::vector<Op> ops;
  for (const Action& a : d.actions)
    if (a.path == path) ops.push_back(a.op);
  return ops;
}

std::optional<Change> change_at(const Decision& d, const std::string& path) {
  for (const Change& c : d.changes)
    if (c.path == path) return c;
  return std::nullopt;
}

/// Where the first action on `path` is in the order of application.
std::size_t position(const Decision& d, const std::string& path) {
  auto it = std::find_if(d.actions.begin(), d.actions.end(), [&](const Action& a) { return a.path == path; });
  REQUIRE(it != d.actions.end());
  return static_cast<std::size_t>(it - d.actions.begin());
}

bool only_records(const Decision& d) {
  return std::all_of(d.actions.begin(), d.actions.end(), [](const Action& a) { return a.op == Op::record; });
}

} // namespace

TEST_CASE("decide: a new jail gets everything, directories first, programs after their libraries, "
          "symlinks last") {
  World w;
  w.desired.entries = {dir_entry("/dev"),
                       device_entry("/dev/null", 1, 3),
                       link_entry("/lib", "usr/lib"),
                       dir_entry("/usr"),
                       dir_entry("/usr/bin"),
                       file_entry("/usr/bin/prog", "p", EntryRole::executable),
                       dir_entry("/usr/lib"),
                       file_entry("/usr/lib/libc.so.6", "c", EntryRole::library)};
  PlanEntry bind;
  bind.kind = EntryKind::bind;
  bind.path = "/usr/mnt";
  bind.source = "/srv";
  w.desired.entries.push_back(bind);
  Decision d = w.decide(Differences::enforce);
  CHECK(d.changes.size() == w.desired.entries.size() - 1); // a mount point is no change to report
  for (const Change& c : d.changes)
    CHECK(c.kind == ChangeKind::added);
  CHECK(ops_at(d, "/usr/mnt") == std::vector<Op>{Op::mount_point});
  // Directories in path order (parents first), before any content.
  CHECK(position(d, "/dev") < position(d, "/usr"));
  CHECK(position(d, "/usr") < position(d, "/usr/bin"));
  CHECK(position(d, "/usr/lib") < position(d, "/dev/null"));
  CHECK(position(d, "/usr/lib/libc.so.6") < position(d, "/usr/bin/prog"));
  CHECK(position(d, "/usr/bin/prog") < position(d, "/lib"));
  CHECK(d.actions.back().path == "/lib");
  CHECK(std::is_sorted(d.actions.begin(), d.actions.end(),
                       [](const Action& x, const Action& y) { return x.phase < y.phase; }));
}

TEST_CASE("decide: a jail as recorded needs nothing, and no file is read to know it") {
  World w;
  w.kept(dir_entry("/etc"));
  w.kept(file_entry("/etc/app.conf", "a", EntryRole::config));
  w.kept(link_entry("/lib", "usr/lib"));
  w.kept(device_entry("/dev/null", 1, 3));
  w.jail.dirs["/dev"].state = JailListing::Dir::State::present;
  w.desired = w.recorded;
  CHECK(w.jail.digests.empty());
  for (Differences differences : {Differences::report, Differences::replace, Differences::enforce}) {
    Decision d = w.decide(differences);
    CHECK(d.actions.empty());
    CHECK(d.changes.empty());
  }
  // A sync that reused its plan: recorded and desired are one object.
  Decision d = jailbuild::decide(w.recorded, w.recorded, w.jail, Differences::report);
  CHECK(d.actions.empty());
}

TEST_CASE("decide: configuration follows dpkg's conffile rules") {
  World w;
  const std::string conf = "/etc/app.conf";
  PlanEntry& rec = w.installed(file_entry(conf, "old", EntryRole::config));
  const FileStamp recorded_stamp = rec.jail_stamp;
  PlanEntry now = file_entry(conf, "old", EntryRole::config);

  SUBCASE("untouched in the jail, unchanged on the host: nothing") {
    w.desired.entries = {now};
    w.desired.entries[0].jail_stamp = recorded_stamp;
    Decision d = w.decide();
    CHECK(d.actions.empty());
    CHECK(d.changes.empty());
  }
  SUBCASE("untouched in the jail, changed on the host: updated") {
    now.digest = "new";
    w.desired.entries = {now};
    Decision d = w.decide();
    CHECK(ops_at(d, conf) == std::vector<Op>{Op::install});
    CHECK(change_at(d, conf)->kind == ChangeKind::updated);
  }
  SUBCASE("edited in the jail, unchanged on the host: the jail's is kept") {
    w.edit_in_jail(conf, "local");
    w.desired.entries = {now};
    for (Differences differences : {Differences::report, Differences::replace}) {
      Decision d = w.decide(differences);
      CHECK(change_at(d, conf)->kind == ChangeKind::kept_local);
      // The manifest keeps the stamp of what was installed, so that the edit stays an edit.
      REQUIRE(ops_at(d, conf) == std::vector<Op>{Op::record});
      CHECK(d.actions[0].stamp == recorded_stamp);
    }
  }
  SUBCASE("edited in the jail, changed on the host: conflict, the host's beside it") {
    w.edit_in_jail(conf, "local");
    now.digest = "new";
    w.desired.entries = {now};
    Decision d = w.decide(Differences::replace); // --force does not override a local edit
    REQUIRE(ops_at(d, conf) == std::vector<Op>{Op::install_beside});
    CHECK(d.actions[0].stamp == recorded_stamp);
    CHECK(change_at(d, conf)->kind == ChangeKind::conflict);
    CHECK(contains(change_at(d, conf)->detail, conf + ".jailbuild-new"));
  }
  SUBCASE("edited in the jail into what the host now has: only recorded") {
    w.edit_in_jail(conf, "new");
    now.digest = "new";
    w.desired.entries = {now};
    Decision d = w.decide();
    CHECK(only_records(d));
    CHECK(d.changes.empty());
  }
  SUBCASE("deleted in the jail: kept deleted, as dpkg keeps a removed conffile") {
    w.jail.dirs["/etc"].entries.clear();
    w.desired.entries = {now};
    Decision d = w.decide();
    CHECK(ops_at(d, conf) == std::vector<Op>{Op::keep_absent});
    CHECK(change_at(d, conf)->kind == ChangeKind::removed_local);
  }
  SUBCASE("new on the host, a file of the jail's own already there: conflict") {
    w.recorded.entries.clear();
    w.edit_in_jail(conf, "local");
    w.desired.entries = {now};
    Decision d = w.decide();
    CHECK(ops_at(d, conf) == std::vector<Op>{Op::install_beside});
    CHECK(change_at(d, conf)->kind == ChangeKind::conflict);
  }
  SUBCASE("create makes the jail what the plan says: an edit is replaced") {
    w.edit_in_jail(conf, "local");
    w.desired.entries = {now};
    Decision d = w.decide(Differences::enforce);
    CHECK(ops_at(d, conf) == std::vector<Op>{Op::install});
    CHECK(change_at(d, conf)->kind == ChangeKind::restored);
  }
}

TEST_CASE("decide: a tampered library is reported and left, replaced under --force and by create") {
  World w;
  const std::string lib = "/usr/lib/libfoo.so.1";
  w.kept(file_entry(lib, "good", EntryRole::library));

  SUBCASE("changed content") {
    w.edit_in_jail(lib, "evil");
    Decision d = w.decide(Differences::report);
    CHECK(change_at(d, lib)->kind == ChangeKind::tampered);
    CHECK(contains(change_at(d, lib)->detail, "--force"));
    CHECK(only_records(d));
    for (Differences differences : {Differences::replace, Differences::enforce}) {
      d = w.decide(differences);
      CHECK(ops_at(d, lib) == std::vector<Op>{Op::install});
      CHECK(change_at(d, lib)->kind == ChangeKind::restored);
    }
  }
  SUBCASE("another link to it (a hardlink planted to a host file): never ours") {
    w.jail.add(lib, file_stat(999, 0644, 2));
    w.jail.digests[lib] = "good+hardlinked";
    Decision d = w.decide(Differences::report);
    CHECK(change_at(d, lib)->kind == ChangeKind::tampered);
    CHECK(ops_at(w.decide(Differences::replace), lib) == std::vector<Op>{Op::install});
  }
  SUBCASE("a symlink where the file was") {
    w.jail.add(lib, typed_stat(S_IFLNK, 0777), "/etc/shadow");
    Decision d = w.decide(Differences::report);
    CHECK(change_at(d, lib)->kind == ChangeKind::tampered);
    CHECK(contains(change_at(d, lib)->detail, "a symlink"));
    CHECK(ops_at(w.decide(Differences::replace), lib) == std::vector<Op>{Op::install});
  }
  SUBCASE("a directory where the file was: never replaced, whoever asks") {
    w.jail.add(lib, typed_stat(S_IFDIR));
    for (Differences differences : {Differences::report, Differences::replace, Differences::enforce}) {
      Decision d = w.decide(differences);
      CHECK(change_at(d, lib)->kind == ChangeKind::tampered);
      CHECK(d.actions.empty());
    }
  }
  SUBCASE("only its mode changed: put right") {
    w.jail.add(lib, file_stat(555, 0666));
    w.jail.digests[lib] = "good";
    Decision d = w.decide(Differences::report);
    CHECK(ops_at(d, lib) == std::vector<Op>{Op::install});
    CHECK(change_at(d, lib)->detail == "mode or owner");
  }
  SUBCASE("touched, same content: the manifest takes the new stamp") {
    w.jail.add(lib, file_stat(556));
    w.jail.digests[lib] = "good";
    Decision d = w.decide(Differences::report);
    REQUIRE(ops_at(d, lib) == std::vector<Op>{Op::record});
    CHECK(d.actions[0].stamp == stamp_of(file_stat(556)));
    CHECK(d.changes.empty());
  }
}

TEST_CASE("decide: a soname bump installs the new library, repoints the link, then removes the old") {
  World w;
  w.kept(dir_entry("/usr/lib", 0755));
  w.installed(file_entry("/usr/lib/libfoo.so.1.0.0", "v0", EntryRole::library));
  w.installed(link_entry("/usr/lib/libfoo.so.1", "libfoo.so.1.0.0"));
  w.desired.entries.push_back(file_entry("/usr/lib/libfoo.so.1.0.1", "v1", EntryRole::library));
  w.desired.entries.push_back(link_entry("/usr/lib/libfoo.so.1", "libfoo.so.1.0.1"));
  Decision d = w.decide();
  CHECK(change_at(d, "/usr/lib/libfoo.so.1.0.1")->kind == ChangeKind::added);
  CHECK(change_at(d, "/usr/lib/libfoo.so.1")->kind == ChangeKind::updated);
  CHECK(change_at(d, "/usr/lib/libfoo.so.1.0.0")->kind == ChangeKind::removed);
  // At no moment does the link dangle, whenever the run is killed.
  CHECK(position(d, "/usr/lib/libfoo.so.1.0.1") < position(d, "/usr/lib/libfoo.so.1"));
  CHECK(position(d, "/usr/lib/libfoo.so.1") < position(d, "/usr/lib/libfoo.so.1.0.0"));
  CHECK(ops_at(d, "/usr/lib/libfoo.so.1.0.0") == std::vector<Op>{Op::remove});
}

TEST_CASE("decide: what is no longer planned goes, children before their directory; an edited one stays") {
  World w;
  w.kept(dir_entry("/opt", 0755));
  w.installed(dir_entry("/opt/x", 0755));
  w.installed(file_entry("/opt/x/libx.so", "x", EntryRole::library));
  w.installed(link_entry("/opt/x/libx.so.1", "libx.so"));
  w.installed(file_entry("/opt/x/x.conf", "conf", EntryRole::config));
  w.installed(device_entry("/opt/x/null", 1, 3));
  w.edit_in_jail("/opt/x/x.conf", "edited");
  Decision d = w.decide();
  CHECK(ops_at(d, "/opt/x/libx.so") == std::vector<Op>{Op::remove});
  CHECK(ops_at(d, "/opt/x/libx.so.1") == std::vector<Op>{Op::remove});
  CHECK(ops_at(d, "/opt/x/null") == std::vector<Op>{Op::remove});
  CHECK(ops_at(d, "/opt/x") == std::vector<Op>{Op::remove_dir});
  CHECK(position(d, "/opt/x/libx.so") < position(d, "/opt/x"));
  CHECK(position(d, "/opt/x/libx.so.1") < position(d, "/opt/x"));
  CHECK(ops_at(d, "/opt/x/x.conf").empty());
  CHECK(change_at(d, "/opt/x/x.conf")->kind == ChangeKind::conflict);
  CHECK(ops_at(d, "/opt").empty());
  // Already gone from the jail: nothing to do, nothing to say.
  w.jail.dirs["/opt/x"].entries.erase("libx.so");
  CHECK_FALSE(change_at(w.decide(), "/opt/x/libx.so"));
}

TEST_CASE("decide: an entry that changes kind is replaced, never removed after its replacement") {
  World w;
  w.installed(file_entry("/lib", "a file"));
  w.desired.entries.push_back(link_entry("/lib", "usr/lib"));
  Decision d = w.decide();
  CHECK(ops_at(d, "/lib") == std::vector<Op>{Op::symlink});
  CHECK(change_at(d, "/lib")->kind == ChangeKind::updated);
}

TEST_CASE("decide: a symlink planted where a directory was is never followed") {
  World w;
  w.kept(dir_entry("/var", 0755));
  w.kept(dir_entry("/var/cache", 01733));
  w.kept(file_entry("/var/cache/README", "r"));
  // A jailed process replaced /var/cache by a link to /etc: listing through it was refused.
  w.jail.add("/var/cache", typed_stat(S_IFLNK, 0777), "/etc");
  w.jail.dirs["/var/cache"] = {JailListing::Dir::State::behind_symlink, {}};

  Decision d = w.decide(Differences::report);
  CHECK(change_at(d, "/var/cache")->kind == ChangeKind::tampered);
  CHECK(change_at(d, "/var/cache/README")->kind == ChangeKind::tampered);
  CHECK(contains(change_at(d, "/var/cache/README")->detail, "a parent is a symlink"));
  CHECK(d.actions.empty());

  d = w.decide(Differences::replace); // --force: the link itself is replaced, nothing written through
  CHECK(ops_at(d, "/var/cache") == std::vector<Op>{Op::replace_by_dir});
  CHECK(ops_at(d, "/var/cache/README").empty());

  d = w.decide(Differences::enforce); // create refuses it, before writing anything
  CHECK(change_at(d, "/var/cache")->kind == ChangeKind::tampered);
  CHECK(contains(change_at(d, "/var/cache")->detail, "a symlink"));
  CHECK(d.actions.empty());

  // Not removed either, when no longer planned: it is not ours.
  w.desired.entries.resize(1);
  d = w.decide(Differences::report);
  CHECK(ops_at(d, "/var/cache").empty());
  CHECK(ops_at(d, "/var/cache/README").empty());
}

TEST_CASE("decide: what went missing is restored") {
  World w;
  w.kept(dir_entry("/etc", 0755));
  PlanEntry passwd = file_entry("/etc/passwd", "p", EntryRole::config);
  passwd.kind = EntryKind::generated; // jailbuild's own: restored, never kept deleted like a conffile
  w.kept(passwd);
  w.kept(file_entry("/usr/lib/libc.so.6", "c", EntryRole::library));
  w.kept(link_entry("/bin", "usr/bin"));
  w.kept(device_entry("/dev/null", 1, 3));
  w.jail.dirs.clear();
  w.jail.dirs["/"].state = JailListing::Dir::State::present; // the jail root is empty
  Decision d = w.decide();
  for (const char* path : {"/etc", "/etc/passwd", "/usr/lib/libc.so.6", "/bin", "/dev/null"}) {
    CAPTURE(path);
    REQUIRE(change_at(d, path));
    CHECK(change_at(d, path)->kind == ChangeKind::restored);
  }
  CHECK(ops_at(d, "/etc") == std::vector<Op>{Op::make_dir});
  CHECK(position(d, "/etc") < position(d, "/etc/passwd"));
}

TEST_CASE("decide: directories and devices get their mode, owner and numbers back") {
  World w;
  w.kept(dir_entry("/tmp", 01777));
  w.kept(device_entry("/dev/null", 1, 3));
  w.jail.add("/tmp", typed_stat(S_IFDIR, 0777));
  struct stat wrong = typed_stat(S_IFCHR, 0666);
  wrong.st_rdev = makedev(8, 0); // a disk
  w.jail.add("/dev/null", wrong);
  Decision d = w.decide();
  CHECK(ops_at(d, "/tmp") == std::vector<Op>{Op::make_dir});
  CHECK(change_at(d, "/tmp")->detail == "mode or owner");
  CHECK(ops_at(d, "/dev/null") == std::vector<Op>{Op::device});
  CHECK(change_at(d, "/dev/null")->kind == ChangeKind::updated);
}

TEST_CASE("decide: a bind gets a mount point only when it has none") {
  World w;
  PlanEntry bind;
  bind.kind = EntryKind::bind;
  bind.path = "/data";
  bind.source = "/srv/data";
  w.desired.entries.push_back(bind);
  CHECK(ops_at(w.decide(), "/data") == std::vector<Op>{Op::mount_point});
  // Mounted, it shows the host's directory, owned by whoever: not ours to change.
  struct stat mounted = typed_stat(S_IFDIR, 0700);
  mounted.st_uid = 33;
  w.jail.add("/data", mounted);
  CHECK(w.decide().actions.empty());
}

TEST_CASE("decide: temporary files of a killed run are removed first, and reported") {
  World w;
  w.kept(file_entry("/big", "b"));
  w.jail.leftovers = {"/.big.jbtmp.0123456789abcdef", "/.jailbuild/.manifest.json.jbtmp.fedcba9876543210"};
  Decision d = w.decide();
  REQUIRE(d.actions.size() == 2);
  for (const Action& a : d.actions) {
    CHECK(a.op == Op::remove_leftover);
    CHECK(a.phase == Phase::directories);
  }
  CHECK(change_at(d, "/.big.jbtmp.0123456789abcdef")->kind == ChangeKind::removed);
  CHECK(contains(change_at(d, "/.big.jbtmp.0123456789abcdef")->detail, "interrupted"));
}

TEST_CASE("unchanged_since_recorded: the stamp, one link and a known digest") {
  PlanEntry rec = file_entry("/f", "d");
  struct stat st = file_stat(42);
  rec.jail_stamp = stamp_of(st);
  CHECK(unchanged_since_recorded(rec, st));
  CHECK_FALSE(unchanged_since_recorded(rec, file_stat(43)));
  CHECK_FALSE(unchanged_since_recorded(rec, file_stat(42, 0644, 2)));
  rec.digest.clear();
  CHECK_FALSE(unchanged_since_recorded(rec, st));
}

TEST_CASE("decide: a file planted where a directory was: what lay below it is behind a non-directory") {
  World w;
  w.kept(dir_entry("/var", 0755));
  w.kept(dir_entry("/var/cache", 01733));
  w.kept(file_entry("/var/cache/README", "r"));
  w.jail.add("/var/cache", typed_stat(S_IFREG, 0644));
  w.jail.dirs["/var/cache"] = {JailListing::Dir::State::behind_non_directory, {}};
  Decision d = w.decide(Differences::report);
  CHECK(change_at(d, "/var/cache")->kind == ChangeKind::tampered);
  REQUIRE(change_at(d, "/var/cache/README"));
  CHECK(change_at(d, "/var/cache/README")->kind == ChangeKind::tampered);
  CHECK(change_at(d, "/var/cache/README")->detail == "a parent is not a directory; left in place");
  CHECK(d.actions.empty());
}

TEST_CASE("decide: a conffile the admin deleted stays deleted, as dpkg keeps a removed conffile") {
  World w;
  const std::string conf = "/etc/nginx/sites-enabled/default";
  w.kept(dir_entry("/etc"));
  PlanEntry& rec = w.installed(file_entry(conf, "host", EntryRole::config));
  PlanEntry now = file_entry(conf, "host", EntryRole::config);
  w.jail.dirs["/etc/nginx/sites-enabled"].entries.clear(); // rm sites-enabled/default

  SUBCASE("first seen: reported once as removed-local, recorded as kept absent, never restored") {
    w.desired.entries = {now};
    for (Differences differences : {Differences::report, Differences::replace, Differences::enforce}) {
      CAPTURE(static_cast<int>(differences));
      Decision d = w.decide(differences); // sync, sync --force and a create re-run alike
      CHECK(ops_at(d, conf) == std::vector<Op>{Op::keep_absent});
      REQUIRE(change_at(d, conf));
      CHECK(change_at(d, conf)->kind == ChangeKind::removed_local);
      CHECK(to_string(change_at(d, conf)->kind) == "removed-local");
    }
  }
  SUBCASE("already kept absent, the plan reused: nothing to do, nothing to say") {
    rec.kept_absent = true;
    rec.jail_stamp = {};
    Decision d = jailbuild::decide(w.recorded, w.recorded, w.jail, Differences::report);
    CHECK(d.actions.empty());
    CHECK(d.changes.empty());
  }
  SUBCASE("already kept absent, planned again with the host unchanged: recorded again, silently") {
    rec.kept_absent = true;
    w.desired.entries = {now};
    Decision d = w.decide();
    CHECK(ops_at(d, conf) == std::vector<Op>{Op::keep_absent});
    CHECK(!change_at(d, conf));
  }
  SUBCASE("already kept absent, changed on the host: still not restored, said once") {
    rec.kept_absent = true;
    now.digest = "newer";
    now.source_stamp.mtime_ns += 60;
    w.desired.entries = {now};
    Decision d = w.decide(Differences::enforce);
    CHECK(ops_at(d, conf) == std::vector<Op>{Op::keep_absent});
    REQUIRE(change_at(d, conf));
    CHECK(change_at(d, conf)->kind == ChangeKind::removed_local);
    CHECK(contains(change_at(d, conf)->detail, "changed on the host"));
  }
  SUBCASE("put back by the admin as the host has it: tracked again") {
    rec.kept_absent = true;
    rec.jail_stamp = {};
    w.edit_in_jail(conf, "host");
    Decision d = jailbuild::decide(w.recorded, w.recorded, w.jail, Differences::report);
    CHECK(ops_at(d, conf) == std::vector<Op>{Op::record});
    CHECK(d.changes.empty());
  }
  SUBCASE("put back by the admin with content of their own: a local edit from now on") {
    rec.kept_absent = true;
    rec.jail_stamp = {};
    w.edit_in_jail(conf, "mine");
    Decision d = jailbuild::decide(w.recorded, w.recorded, w.jail, Differences::report);
    REQUIRE(ops_at(d, conf) == std::vector<Op>{Op::record});
    CHECK(d.actions[0].stamp == FileStamp{});
    CHECK(change_at(d, conf)->kind == ChangeKind::kept_local);
  }
  SUBCASE("no longer planned: nothing to remove") {
    rec.kept_absent = true;
    Decision d = w.decide();
    CHECK(ops_at(d, conf).empty());
    CHECK(!change_at(d, conf));
  }
}

TEST_CASE("decide: only conffiles are kept deleted; a manifest's mark on anything else is ignored") {
  World w;
  PlanEntry lib = file_entry("/usr/lib/libc.so.6", "c", EntryRole::library);
  lib.kept_absent = true; // an archive's manifest may say so: the jail needs its libc all the same
  PlanEntry passwd = file_entry("/etc/passwd", "p", EntryRole::config);
  passwd.kind = EntryKind::generated;
  passwd.kept_absent = true;
  w.recorded.entries = {lib, passwd};
  w.desired.entries = {file_entry("/usr/lib/libc.so.6", "c", EntryRole::library), passwd};
  w.desired.entries[1].kept_absent = false;
  CHECK(!kept_absent(lib));
  CHECK(!kept_absent(passwd));
  Decision d = w.decide();
  for (const char* path : {"/usr/lib/libc.so.6", "/etc/passwd"}) {
    CAPTURE(path);
    CHECK(ops_at(d, path) == std::vector<Op>{Op::install});
    CHECK(change_at(d, path)->kind == ChangeKind::restored);
  }
}

TEST_CASE("decide: a conflict stays reported until FILE.jailbuild-new is taken or removed") {
  World w;
  const std::string conf = "/etc/app.conf";
  const std::string beside = conf + ".jailbuild-new";
  // After the conflict: the manifest records the host's digest and the stamp of the jail's edit.
  PlanEntry& rec = w.installed(file_entry(conf, "host", EntryRole::config));
  rec.jail_stamp = {};
  w.edit_in_jail(conf, "local");
  w.desired.entries = {file_entry(conf, "host", EntryRole::config)};

  SUBCASE("still there: a conflict every run, nothing written") {
    w.jail.add(beside, file_stat(900));
    Decision d = w.decide();
    REQUIRE(change_at(d, conf));
    CHECK(change_at(d, conf)->kind == ChangeKind::conflict);
    CHECK(contains(change_at(d, conf)->detail, "unresolved"));
    CHECK(ops_at(d, beside).empty());
    CHECK(only_records(d));
  }
  SUBCASE("removed by the admin: the jail's edit is kept, no conflict") {
    Decision d = w.decide();
    CHECK(change_at(d, conf)->kind == ChangeKind::kept_local);
  }
  SUBCASE("taken by a copy: resolved, and the stale FILE.jailbuild-new of root's removed") {
    w.jail.add(beside, file_stat(900));
    w.edit_in_jail(conf, "host");
    Decision d = w.decide();
    CHECK(!change_at(d, conf));
    CHECK(ops_at(d, beside) == std::vector<Op>{Op::remove});
    CHECK(change_at(d, beside)->kind == ChangeKind::removed);
  }
  SUBCASE("a FILE.jailbuild-new that is not jailbuild's is never removed") {
    struct stat st = file_stat(900);
    st.st_uid = 33; // a service's
    w.jail.add(beside, st);
    w.edit_in_jail(conf, "host");
    Decision d = w.decide();
    CHECK(ops_at(d, beside).empty());
  }
  SUBCASE("changed on the host again: the host's new version is written beside it") {
    w.jail.add(beside, file_stat(900));
    w.desired.entries[0].digest = "newer";
    Decision d = w.decide();
    CHECK(ops_at(d, conf) == std::vector<Op>{Op::install_beside});
    CHECK(change_at(d, conf)->kind == ChangeKind::conflict);
  }
}

TEST_CASE("decide: a configuration symlink the admin deleted stays deleted; a link out of /etc is restored") {
  // sites-enabled/default on Debian is a symlink: rm (or a2dissite) must survive sync and create,
  // as for a conffile. A link that leads out of /etc (alternatives, localtime) is what programs use.
  World w;
  const std::string site = "/etc/nginx/sites-enabled/default", module = "/etc/php/8.2/fpm/conf.d/20-x.ini";
  const std::string alt = "/etc/alternatives/php", available = "/etc/nginx/sites-available/default";
  w.kept(dir_entry("/etc"));
  w.installed(link_entry(site, available));
  w.installed(link_entry(module, "../../mods-available/x.ini"));
  w.installed(link_entry(alt, "/usr/bin/php8.2"));
  auto recorded = [&](const std::string& path) -> PlanEntry& {
    return *std::find_if(w.recorded.entries.begin(), w.recorded.entries.end(),
                         [&](const PlanEntry& e) { return e.path == path; });
  };
  CHECK(is_conffile(recorded(site)));
  CHECK(is_conffile(recorded(module)));
  CHECK(!is_conffile(recorded(alt)));
  CHECK(!is_conffile(link_entry("/etc/x", "../usr/lib/x"))); // leads out of /etc
  CHECK(!is_conffile(link_entry("/usr/lib/libx.so", "libx.so.1")));
  w.jail.dirs["/etc/nginx/sites-enabled"].entries.clear(); // rm sites-enabled/default
  w.jail.dirs["/etc/php/8.2/fpm/conf.d"].entries.clear();
  w.jail.dirs["/etc/alternatives"].entries.clear();

  SUBCASE("kept deleted under sync, --force and create; the link out of /etc restored") {
    w.desired.entries = w.recorded.entries;
    for (Differences differences : {Differences::report, Differences::replace, Differences::enforce}) {
      CAPTURE(static_cast<int>(differences));
      Decision d = w.decide(differences);
      for (const std::string& path : {site, module}) {
        CAPTURE(path);
        CHECK(ops_at(d, path) == std::vector<Op>{Op::keep_absent});
        REQUIRE(change_at(d, path));
        CHECK(change_at(d, path)->kind == ChangeKind::removed_local);
      }
      CHECK(contains(change_at(d, site)->detail, "ln -s " + available + " " + site));
      CHECK(ops_at(d, alt) == std::vector<Op>{Op::symlink});
      REQUIRE(change_at(d, alt));
      CHECK(change_at(d, alt)->kind == ChangeKind::restored);
    }
  }
  SUBCASE("already kept absent: nothing to do; the host's link changed: said, still not made") {
    recorded(site).kept_absent = true;
    recorded(site).jail_stamp = {};
    Plan kept;
    kept.entries = {recorded(site)};
    Decision same = jailbuild::decide(kept, kept, w.jail, Differences::report);
    CHECK(same.actions.empty());
    CHECK(same.changes.empty());
    Plan moved_plan = kept;
    moved_plan.entries[0].source = available + "-new";
    moved_plan.entries[0].kept_absent = false;
    Decision moved = jailbuild::decide(kept, moved_plan, w.jail, Differences::enforce);
    CHECK(ops_at(moved, site) == std::vector<Op>{Op::keep_absent});
    REQUIRE(change_at(moved, site));
    CHECK(contains(change_at(moved, site)->detail, "changed on the host"));
  }
  SUBCASE("put back by the admin: tracked again") {
    recorded(site).kept_absent = true;
    w.jail.add(site, typed_stat(S_IFLNK, 0777), available);
    Plan kept;
    kept.entries = {recorded(site)};
    Decision d = jailbuild::decide(kept, kept, w.jail, Differences::report);
    CHECK(ops_at(d, site) == std::vector<Op>{Op::record});
    CHECK(d.changes.empty());
  }
}
