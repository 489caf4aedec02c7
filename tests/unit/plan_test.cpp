// SPDX-License-Identifier: MIT
#include "jailbuild/error.hpp"
#include "jailbuild/plan.hpp"
#include "jailbuild/plan_builder.hpp"

#include "test_util.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

using namespace jailbuild;
using namespace jailbuild::test;

namespace {

PlanEntry dir_entry(const std::string& path, uint32_t mode = 0755, uint32_t uid = 0,
                    const std::string& requested_by = "test") {
  PlanEntry e;
  e.kind = EntryKind::directory;
  e.path = path;
  e.mode = mode;
  e.uid = uid;
  e.gid = uid;
  e.requested_by = requested_by;
  return e;
}

PlanEntry file_entry(const std::string& path, const std::string& source, uint64_t ino,
                     const std::string& requested_by = "test") {
  PlanEntry e;
  e.kind = EntryKind::file;
  e.path = path;
  e.mode = 0644;
  e.source = source;
  e.source_stamp = {1, ino, 10, 0};
  e.requested_by = requested_by;
  return e;
}

PlanEntry symlink_entry(const std::string& path, const std::string& target,
                        const std::string& requested_by = "test") {
  PlanEntry e;
  e.kind = EntryKind::symlink;
  e.path = path;
  e.mode = 0777;
  e.source = target;
  e.requested_by = requested_by;
  return e;
}

std::vector<std::string> paths_of(const std::vector<PlanEntry>& entries) {
  std::vector<std::string> paths;
  for (const PlanEntry& e : entries)
    paths.push_back(e.path);
  return paths;
}

const PlanEntry* find(const std::vector<PlanEntry>& entries, const std::string& path) {
  auto it = std::find_if(entries.begin(), entries.end(), [&](const PlanEntry& e) { return e.path == path; });
  return it == entries.end() ? nullptr : &*it;
}

} // namespace

TEST_CASE("path_less: parents first, component by component") {
  CHECK(path_less("/usr", "/usr/lib"));
  CHECK(path_less("/usr/lib", "/usr-x")); // plain byte order would put "/usr-x" first ('-' < '/')
  CHECK(path_less("/usr/lib/z", "/usr.d"));
  CHECK(path_less("/a/b", "/ab"));
  CHECK_FALSE(path_less("/usr/lib", "/usr"));
  CHECK_FALSE(path_less("/usr", "/usr"));
  CHECK(path_less("/etc/a", "/etc/b"));

  std::vector<std::string> paths{"/usr-x", "/usr/lib/x", "/usr", "/etc", "/usr/lib", "/", "/usr.conf"};
  std::sort(paths.begin(), paths.end(), path_less);
  CHECK(paths ==
        std::vector<std::string>{"/", "/etc", "/usr", "/usr/lib", "/usr/lib/x", "/usr-x", "/usr.conf"});
}

TEST_CASE("EntrySet::add: an identical entry merges, a conflicting one is an Error naming both requesters") {
  EntrySet set;
  set.add(file_entry("/usr/lib/libc.so.6", "/usr/lib/libc.so.6", 42, "walk"));
  CHECK_NOTHROW(set.add(file_entry("/usr/lib/libc.so.6", "/usr/lib/libc.so.6", 42, "profile base")));
  set.add(symlink_entry("/lib", "usr/lib", "base"));
  CHECK_NOTHROW(set.add(symlink_entry("/lib", "usr/lib", "walk")));
  set.add(dir_entry("/tmp", 01777));
  CHECK_NOTHROW(set.add(dir_entry("/tmp", 01777)));
  CHECK(set.contains("/usr/lib/libc.so.6"));

  // Two different files at one path.
  std::string err =
      error_of([&] { set.add(file_entry("/usr/lib/libc.so.6", "/other/libc.so.6", 43, "profile x")); });
  CHECK(contains(err, "/usr/lib/libc.so.6"));
  CHECK(contains(err, "walk"));
  CHECK(contains(err, "profile x"));
  // A file and a directory at one path.
  err = error_of([&] { set.add(dir_entry("/usr/lib/libc.so.6", 0755, 0, "profile y")); });
  CHECK(contains(err, "planned twice"));
  CHECK(contains(err, "profile y"));
  // Two different link texts.
  CHECK(contains(error_of([&] { set.add(symlink_entry("/lib", "/usr/lib", "z")); }), "/lib"));

  // Each path merged into one entry, which keeps who asked for it first.
  std::vector<PlanEntry> entries = std::move(set).finish();
  for (const char* path : {"/usr/lib/libc.so.6", "/lib", "/tmp"}) {
    CAPTURE(path);
    CHECK(std::count_if(entries.begin(), entries.end(), [&](const PlanEntry& e) { return e.path == path; }) ==
          1);
  }
  CHECK(find(entries, "/usr/lib/libc.so.6")->requested_by == "walk");
  CHECK(find(entries, "/lib")->requested_by == "base");
  CHECK(entries.size() == 5); // and "/usr", "/usr/lib": parents added by finish()
}

TEST_CASE("EntrySet::add: a specific directory request wins over a skeleton default") {
  EntrySet set;
  set.add(dir_entry("/var/lib/nginx", 0755, 0, "base"));
  set.add(dir_entry("/var/lib/nginx", 0750, 33, "nginx discovery"));
  set.add(dir_entry("/var/lib/nginx", 0755, 0, "later default")); // a default does not undo it
  std::vector<PlanEntry> entries = std::move(set).finish();
  const PlanEntry* e = find(entries, "/var/lib/nginx");
  REQUIRE(e);
  CHECK(e->mode == 0750);
  CHECK(e->uid == 33);
  CHECK(e->requested_by == "nginx discovery");
}

TEST_CASE("EntrySet::finish: sorted, missing parents added as 0755 root directories") {
  EntrySet set;
  set.add(file_entry("/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6", 1));
  set.add(dir_entry("/tmp", 01777));
  set.add(file_entry("/etc/nginx/nginx.conf", "/etc/nginx/nginx.conf", 2));
  set.add(dir_entry("/usr", 0711)); // given: kept as given, not replaced by a default parent
  std::vector<PlanEntry> entries = std::move(set).finish();
  CHECK(paths_of(entries) == std::vector<std::string>{"/etc", "/etc/nginx", "/etc/nginx/nginx.conf", "/tmp",
                                                      "/usr", "/usr/lib", "/usr/lib/x86_64-linux-gnu",
                                                      "/usr/lib/x86_64-linux-gnu/libc.so.6"});
  for (const char* parent : {"/etc", "/etc/nginx", "/usr/lib", "/usr/lib/x86_64-linux-gnu"}) {
    const PlanEntry* e = find(entries, parent);
    REQUIRE(e);
    CHECK(e->kind == EntryKind::directory);
    CHECK(e->mode == 0755);
    CHECK(e->uid == 0);
    CHECK(e->gid == 0);
  }
  CHECK(find(entries, "/usr")->mode == 0711);
  CHECK(find(entries, "/tmp")->mode == 01777);
}

TEST_CASE("EntrySet::finish: refuses a child under a planned symlink or file") {
  {
    EntrySet set;
    set.add(symlink_entry("/lib", "usr/lib", "base"));
    set.add(file_entry("/lib/libc.so.6", "/lib/libc.so.6", 7, "profile p"));
    std::string err = error_of([&] { (void)std::move(set).finish(); });
    CHECK(contains(err, "/lib/libc.so.6"));
    CHECK(contains(err, "planned as a symlink"));
  }
  {
    // Deeper: the missing parent /lib/x would be added as a directory under the symlink.
    EntrySet set;
    set.add(symlink_entry("/lib", "usr/lib", "base"));
    set.add(file_entry("/lib/x/y.so", "/lib/x/y.so", 8, "profile p"));
    CHECK(contains(error_of([&] { (void)std::move(set).finish(); }), "planned as a symlink"));
  }
  {
    EntrySet set;
    set.add(file_entry("/etc/hosts", "/etc/hosts", 9, "dns"));
    set.add(file_entry("/etc/hosts/x", "/etc/hostname", 10, "p"));
    CHECK(contains(error_of([&] { (void)std::move(set).finish(); }), "planned as a file"));
  }
}

TEST_CASE("summarize: counts entries by kind and sums bytes") {
  Plan plan;
  plan.entries.push_back(dir_entry("/etc"));
  PlanEntry f = file_entry("/etc/a", "/etc/a", 1);
  f.source_stamp.size = 100;
  plan.entries.push_back(f);
  PlanEntry g;
  g.kind = EntryKind::generated;
  g.path = "/etc/passwd";
  g.content = "12345";
  plan.entries.push_back(g);
  PlanEntry b;
  b.kind = EntryKind::bind;
  b.path = "/proc";
  b.source = "/proc";
  plan.entries.push_back(b);
  plan.users = {"www-data"};
  PlanSummary s = summarize(plan);
  CHECK(s.directories == 1);
  CHECK(s.files == 1);
  CHECK(s.generated == 1);
  CHECK(s.binds == 1);
  CHECK(s.bytes == 105);
  CHECK(s.users == 1);
}

TEST_CASE(
    "refused_jail_path: clean absolute paths, never the root or /.jailbuild; writable never a system dir") {
  for (JailPathUse use : {JailPathUse::bind_point, JailPathUse::writable}) {
    CAPTURE(static_cast<int>(use));
    for (const char* bad : {"", "relative", "/", "/x/../../etc", "/x/..", "/x/./y", "/x//y", "/x/",
                            "/.jailbuild", "/.jailbuild/manifest.json", "/x\ny", "/x\ty", "/x\x7fy"}) {
      CAPTURE(bad);
      CHECK(refused_jail_path(bad, use));
    }
    for (const char* fine : {"/var/www/data", "/srv/uploads", "/var/lib/app", "/mnt/data", "/.jailbuild-x"}) {
      CAPTURE(fine);
      CHECK_FALSE(refused_jail_path(fine, use));
    }
  }
  // A bind may cover a jail's system directory (the admin's choice, inside the jail); a writable
  // directory may not: the service owning it would change what the jail runs with.
  for (const char* system :
       {"/etc", "/etc/app", "/usr/lib/x", "/usr/local", "/bin", "/lib64/x", "/lib/x", "/dev", "/proc", "/sys",
        "/boot", "/root", "/var", "/var/lib", "/var/log", "/tmp", "/run", "/var/tmp"}) {
    CAPTURE(system);
    CHECK(refused_jail_path(system, JailPathUse::writable));
    CHECK_FALSE(refused_jail_path(system, JailPathUse::bind_point));
  }
  CHECK(contains(*refused_jail_path("/", JailPathUse::writable), ".jailbuild"));
  CHECK(contains(*refused_jail_path("/x/../../etc", JailPathUse::writable), ".."));
  CHECK(contains(*refused_jail_path("/x//y/", JailPathUse::writable), "write it as /x/y"));
}

TEST_CASE("check_spec: nested writable directories, writable at or around a bind, bad binds") {
  auto spec_of = [](std::vector<WritableSpec> writable, std::vector<BindSpec> binds = {}) {
    JailSpec spec;
    spec.writable = std::move(writable);
    spec.binds = std::move(binds);
    return spec;
  };
  auto error = [](const JailSpec& spec) { return error_of([&] { check_spec(spec); }); };
  CHECK(error(spec_of({{"/var/www/data", "www-data", ""}, {"/srv/up", "www-data", ""}})).empty());
  CHECK(error(spec_of({{"/var/www/data", "www-data", ""}}, {{"/srv/site", "/var/www/site", true, false}}))
            .empty());

  CHECK(error(spec_of({{"/data", "www-data", ""}, {"/data/up", "www-data", ""}})).rfind("/data/up: ", 0) ==
        0);
  CHECK(error(spec_of({{"/data/up", "www-data", ""}, {"/data", "www-data", ""}})).rfind("/data/up: ", 0) ==
        0);
  CHECK(contains(error(spec_of({{"/data", "www-data", ""}, {"/data", "nobody", ""}})), "declared twice"));
  CHECK(contains(error(spec_of({{"/etc", "www-data", ""}})), "system directory"));
  CHECK(contains(error(spec_of({{"/", "www-data", ""}})), "jail root"));

  std::vector<BindSpec> bind{{"/srv/data", "/mnt/data", true, false}};
  CHECK(contains(error(spec_of({{"/mnt/data", "www-data", ""}}, bind)), "bind mount point"));
  CHECK(contains(error(spec_of({{"/mnt/data/up", "www-data", ""}}, bind)), "below the bind mount point"));
  CHECK(contains(error(spec_of({{"/mnt", "www-data", ""}}, bind)), "inside the writable directory"));

  CHECK(contains(error(spec_of({}, {{"/srv/data", "/", true, false}})), "jail root"));
  CHECK(contains(error(spec_of({}, {{"/srv/data", "/.jailbuild/x", true, false}})), "/.jailbuild"));
  CHECK(contains(error(spec_of({}, {{"/", "/mnt/host", true, false}})), "root file system"));
  CHECK(contains(error(spec_of({}, {{"/etc", "/mnt/etc", true, false}})), "configuration"));
  CHECK(contains(error(spec_of({}, {{"/proc", "/proc", true, true}})), "PID namespace"));
  CHECK(contains(error(spec_of({}, {{"/srv/../etc", "/mnt/x", true, false}})), "'..'"));
  CHECK(contains(error(spec_of({}, {{"srv", "/mnt/x", true, false}})), "absolute"));
}

TEST_CASE("parse_bind: SRC:DEST[:ro|rw][,noexec], read-only unless rw") {
  CHECK(parse_bind("/srv/site:/var/www") == BindSpec{"/srv/site", "/var/www", true, false});
  CHECK(parse_bind("/run/mysqld:/run/mysqld:rw") == BindSpec{"/run/mysqld", "/run/mysqld", false, false});
  CHECK(parse_bind("/srv/up:/up:rw,noexec") == BindSpec{"/srv/up", "/up", false, true});
  CHECK(parse_bind("/srv/up:/up:noexec") == BindSpec{"/srv/up", "/up", true, true});
  CHECK(parse_bind("/a:/b:rw,ro") == BindSpec{"/a", "/b", true, false}); // the last word wins
  const std::string usage = "--bind wants SRC:DEST[:ro|rw][,noexec] with absolute paths";
  for (const char* bad : {"/srv/site", "/a:/b:ro:x", "relative:/b", "/a:relative", ":/b", "/a:", ""}) {
    CAPTURE(bad);
    CHECK(error_of([&] { parse_bind(bad); }) == std::string(bad) + ": " + usage);
  }
  CHECK(error_of([] { parse_bind("/a:/b:ro,exec"); }) ==
        "/a:/b:ro,exec: --bind option 'exec' is not ro, rw or noexec");
  CHECK(error_of([] { parse_bind("/a:/b:"); }) == "/a:/b:: --bind option '' is not ro, rw or noexec");
}

TEST_CASE("parse_writable: PATH[:USER[:GROUP]], www-data unless a user is given") {
  CHECK(parse_writable("/var/www/data") == WritableSpec{"/var/www/data", "www-data", ""});
  CHECK(parse_writable("/var/www/data:") == WritableSpec{"/var/www/data", "www-data", ""});
  CHECK(parse_writable("/up:app") == WritableSpec{"/up", "app", ""});
  CHECK(parse_writable("/up:app:web") == WritableSpec{"/up", "app", "web"});
  CHECK(parse_writable("/up::web") == WritableSpec{"/up", "www-data", "web"});
  const std::string usage = "--writable wants PATH[:USER[:GROUP]] with an absolute path";
  for (const char* bad : {"", "relative", ":www-data", "/up:a:b:c"}) {
    CAPTURE(bad);
    CHECK(error_of([&] { parse_writable(bad); }) == std::string(bad) + ": " + usage);
  }
  // What the path may be is check_spec()'s to judge, after parsing.
  CHECK(parse_writable("/etc:www-data").path == "/etc");
}

TEST_CASE("excluded_by: a glob over jail paths, * stops at /, a directory covers what is below it") {
  CHECK(excluded_by("/etc/nginx/sites-enabled/default", "/etc/nginx/sites-enabled/default"));
  CHECK(excluded_by("/etc/nginx/sites-enabled/default", "/etc/nginx/sites-enabled/*"));
  CHECK(excluded_by("/etc/nginx/sites-enabled/default", "/etc/nginx/sites-enabled"));
  CHECK(excluded_by("/etc/php/8.2/fpm/pool.d/www.conf", "/etc/php/*/fpm/pool.d/www.conf"));
  CHECK_FALSE(excluded_by("/etc/nginx/sites-enabled/default", "/etc/*/default")); // * is one component
  CHECK_FALSE(excluded_by("/etc/nginx/sites-enabled-old", "/etc/nginx/sites-enabled"));
  CHECK_FALSE(excluded_by("/etc", "/etc/nginx"));
}

TEST_CASE("check_exclude: absolute, clean, not the whole jail") {
  check_exclude("/etc/nginx/sites-enabled/*");
  for (const char* bad :
       {"", "etc/x", "/", "/*", "/etc/", "/etc/../usr", "/etc//x", "/etc/./x", "/etc/\nx"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(check_exclude(bad), Error);
  }
}

TEST_CASE("without_excluded: leaves out what the admin excludes, refuses what the jail needs") {
  auto entry = [](const std::string& path, EntryKind kind, EntryRole role) {
    PlanEntry e;
    e.path = path;
    e.kind = kind;
    e.role = role;
    e.requested_by = "test";
    return e;
  };
  std::vector<PlanEntry> entries = {entry("/", EntryKind::directory, EntryRole::system),
                                    entry("/etc", EntryKind::directory, EntryRole::config),
                                    entry("/etc/app", EntryKind::directory, EntryRole::config),
                                    entry("/etc/app/a.conf", EntryKind::file, EntryRole::config),
                                    entry("/etc/app/b.conf", EntryKind::file, EntryRole::config),
                                    entry("/etc/passwd", EntryKind::generated, EntryRole::config),
                                    entry("/usr/lib/libc.so.6", EntryKind::file, EntryRole::library),
                                    entry("/usr/bin/app", EntryKind::file, EntryRole::executable),
                                    entry("/dev/null", EntryKind::device, EntryRole::system)};
  std::vector<std::string> warnings;
  std::vector<PlanEntry> kept = without_excluded(entries, {"/etc/app/a.conf"}, warnings);
  CHECK(kept.size() == entries.size() - 1);
  CHECK(
      std::none_of(kept.begin(), kept.end(), [](const PlanEntry& e) { return e.path == "/etc/app/a.conf"; }));
  CHECK(warnings.empty());
  kept = without_excluded(entries, {"/etc/app"}, warnings);
  CHECK(kept.size() == entries.size() - 3);
  without_excluded(entries, {"/etc/nothing"}, warnings);
  REQUIRE(warnings.size() == 1);
  CHECK(contains(warnings[0], "matches nothing"));
  for (const char* needed :
       {"/usr/lib/libc.so.6", "/usr/lib/*", "/usr", "/usr/bin/app", "/dev/null", "/etc/passwd"}) {
    CAPTURE(needed);
    CHECK_THROWS_AS(without_excluded(entries, {needed}, warnings), Error);
  }
}
