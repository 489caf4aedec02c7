// SPDX-License-Identifier: MIT
// The record of what a plan was made from: every look goes into the log, and any change a second
// look would see (a file edited in place or replaced, a name appearing where one was missing, a
// symlink retargeted, a listed directory gaining an entry) makes inputs_unchanged() say so.
#include "jailbuild/hostfs.hpp"
#include "jailbuild/inputs.hpp"
#include "jailbuild/manifest.hpp"

#include "test_util.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sys/stat.h>
#include <unistd.h>

using namespace jailbuild;
using namespace jailbuild::test;
namespace fs = std::filesystem;

namespace {

/// A fake host with a few files, and a record of looking at it the way the planner does.
struct Host {
  TempDir dir{"inputs"};
  HostRoot host{dir.path};
  Host() {
    write_text(dir / "etc/php/php.ini", "extension=foo\n");
    write_text(dir / "etc/php/conf.d/10-foo.ini", "extension=foo\n");
    write_text(dir / "usr/lib/libfoo.so.1.0", "ELF pretend");
    fs::create_symlink("libfoo.so.1.0", dir / "usr/lib/libfoo.so.1");
    fs::create_directories(dir / "usr/local/lib");
    fs::create_directories(dir / "var/empty");
  }

  /// Looks as a plan would: reads a file, globs a directory, resolves a symlink, probes a missing
  /// library name, passes through a directory. The record is then moved past the racy window, as if
  /// planning had begun three seconds after these files were made.
  PlanInputs record(const std::function<void(const HostRoot&)>& extra = {}) {
    InputLog log(host.root());
    host.set_input_log(&log);
    host.read_file("/etc/php/php.ini");
    host.glob("/etc/php/conf.d/*.ini");
    ResolveCache cache(host);
    cache.resolve("/usr/lib/libfoo.so.1");
    host.lstat("/usr/local/lib/libfoo.so.1", Scrutiny::whole);
    host.exists("/var/empty");
    if (extra) extra(host);
    host.set_input_log(nullptr);
    log.saw_tool({}); // as every plan does: a record without jailbuild's own inputs never passes
    PlanInputs inputs = std::move(log).finish();
    inputs.planned_at_ns += 3'000'000'000;
    return inputs;
  }
  bool unchanged(const PlanInputs& inputs) const { return inputs_unchanged(inputs, host.root()); }
};

const Input* find(const PlanInputs& inputs, const std::string& path) {
  for (const Input& in : inputs.host)
    if (in.path == path) return &in;
  return nullptr;
}

} // namespace

TEST_CASE("inputs: the log records what was read whole, what was passed, and directories for missing names") {
  Host h;
  PlanInputs inputs = h.record();
  REQUIRE_FALSE(inputs.empty());
  REQUIRE(find(inputs, "/etc/php/php.ini"));
  CHECK(find(inputs, "/etc/php/php.ini")->scrutiny == Scrutiny::whole);
  REQUIRE(find(inputs, "/etc/php/conf.d"));
  CHECK(find(inputs, "/etc/php/conf.d")->scrutiny == Scrutiny::whole); // glob listed it
  REQUIRE(find(inputs, "/etc"));
  CHECK(find(inputs, "/etc")->scrutiny == Scrutiny::passed); // only walked through
  REQUIRE(find(inputs, "/usr/lib/libfoo.so.1"));
  CHECK(S_ISLNK(find(inputs, "/usr/lib/libfoo.so.1")->seen.mode));
  // The missing name is not recorded itself: its directory is, whole (its entries).
  CHECK_FALSE(find(inputs, "/usr/local/lib/libfoo.so.1"));
  REQUIRE(find(inputs, "/usr/local/lib"));
  CHECK(find(inputs, "/usr/local/lib")->scrutiny == Scrutiny::whole);
  CHECK(h.unchanged(inputs));
}

TEST_CASE("inputs: every change a second look would see is seen") {
  Host h;
  PlanInputs inputs = h.record();
  REQUIRE(h.unchanged(inputs));

  SUBCASE("a file read is edited in place") {
    std::ofstream(h.dir / "etc/php/php.ini", std::ios::app) << "extension=bar\n";
  }
  SUBCASE("a file read is replaced by rename, same size") {
    write_text(h.dir / "etc/php/php.ini.new", "extension=baz\n");
    fs::rename(h.dir / "etc/php/php.ini.new", h.dir / "etc/php/php.ini");
  }
  SUBCASE("a file read changes mode") {
    fs::permissions(h.dir / "etc/php/php.ini", fs::perms::owner_read);
  }
  SUBCASE("a globbed directory gains a match") {
    write_text(h.dir / "etc/php/conf.d/20-bar.ini", "");
  }
  SUBCASE("a library appears where it was probed and missing") {
    write_text(h.dir / "usr/local/lib/libfoo.so.1", "");
  }
  SUBCASE("a symlink is retargeted") {
    fs::remove(h.dir / "usr/lib/libfoo.so.1");
    write_text(h.dir / "usr/lib/libfoo.so.1.1", "ELF newer");
    fs::create_symlink("libfoo.so.1.1", h.dir / "usr/lib/libfoo.so.1");
  }
  SUBCASE("a directory walked through becomes a symlink") {
    fs::rename(h.dir / "var/empty", h.dir / "var/elsewhere");
    fs::create_directory_symlink("elsewhere", h.dir / "var/empty");
  }
  SUBCASE("a directory walked through changes mode") {
    fs::permissions(h.dir / "etc", fs::perms::owner_all);
  }
  SUBCASE("a file read is edited in place, same size, its mtime set back") {
    struct stat before;
    REQUIRE(::stat((h.dir / "etc/php/php.ini").c_str(), &before) == 0);
    std::ofstream(h.dir / "etc/php/php.ini", std::ios::binary | std::ios::trunc) << "extension=bar\n";
    struct timespec times[2] = {before.st_atim, before.st_mtim};
    REQUIRE(::utimensat(AT_FDCWD, (h.dir / "etc/php/php.ini").c_str(), times, 0) == 0);
  }
  CHECK_FALSE(h.unchanged(inputs));
}

TEST_CASE("inputs: changes that cannot change the plan are not reasons to plan again") {
  Host h;
  PlanInputs inputs = h.record();
  // /etc and /var/empty were only walked through: new entries in them change nothing looked at.
  write_text(h.dir / "etc/motd", "hello\n");
  write_text(h.dir / "var/empty/file", "");
  CHECK(h.unchanged(inputs));
}

TEST_CASE("inputs: a record made within two seconds of a change it saw is racy, and plans again") {
  Host h;
  InputLog log(h.host.root());
  h.host.set_input_log(&log);
  h.host.read_file("/etc/php/php.ini"); // written just now by Host()
  h.host.set_input_log(nullptr);
  log.saw_tool({});
  PlanInputs inputs = std::move(log).finish();
  CHECK_FALSE(h.unchanged(inputs));
  inputs.planned_at_ns += 3'000'000'000;
  CHECK(h.unchanged(inputs));
}

TEST_CASE(
    "inputs: a path seen twice with different stamps (the host changed while planning) leaves no record") {
  Host h;
  InputLog log(h.host.root());
  h.host.set_input_log(&log);
  h.host.read_file("/etc/php/php.ini");
  std::ofstream(h.dir / "etc/php/php.ini", std::ios::app) << "more\n";
  h.host.read_file("/etc/php/php.ini");
  h.host.set_input_log(nullptr);
  PlanInputs inputs = std::move(log).finish();
  CHECK(inputs.empty());
  CHECK_FALSE(h.unchanged(inputs));
}

TEST_CASE("inputs: jailbuild's own inputs, its executable and profile files, are recorded and checked") {
  Host h;
  TempDir profiles{"inputs-profiles"};
  write_text(profiles / "web.toml", "description = \"web\"\n");
  std::string missing = profiles / "not-there";
  InputLog log(h.host.root());
  log.saw_tool({profiles.path, missing});
  h.host.set_input_log(&log); // and a host path, as every plan has
  h.host.exists("/var/empty");
  h.host.set_input_log(nullptr);
  PlanInputs inputs = std::move(log).finish();
  inputs.planned_at_ns += 3'000'000'000;
  auto recorded = [&](const std::string& path) {
    return std::any_of(inputs.tool.begin(), inputs.tool.end(),
                       [&](const Input& in) { return in.path == path; });
  };
  CHECK(recorded("/proc/self/exe"));
  CHECK(recorded(profiles.path));
  CHECK(recorded(missing));
  CHECK(recorded(profiles / "web.toml"));
  // The shared libraries this process runs with, libc among them.
  CHECK(std::any_of(inputs.tool.begin(), inputs.tool.end(),
                    [](const Input& in) { return in.path.find("/libc.so.6") != std::string::npos; }));
  CHECK(inputs_unchanged(inputs, h.host.root()));
  SUBCASE("a profile is edited") {
    std::ofstream(profiles / "web.toml", std::ios::app) << "# more\n";
  }
  SUBCASE("a profile is added") {
    write_text(profiles / "db.toml", "");
  }
  SUBCASE("a missing profile directory appears") {
    fs::create_directory(missing);
  }
  CHECK_FALSE(inputs_unchanged(inputs, h.host.root()));
}

TEST_CASE("inputs: an empty record never passes") {
  CHECK_FALSE(inputs_unchanged(PlanInputs{}, ""));
}

TEST_CASE("inputs: a record without host paths or without jailbuild's own never passes (red team 05)") {
  // A manifest someone else wrote said {"planned_at_ns": 1, "host": [], "tool": []}, and sync
  // reused its one entry: /etc/shadow copied to a file www-data owned.
  PlanInputs forged;
  forged.planned_at_ns = 1;
  CHECK_FALSE(inputs_unchanged(forged, "/"));
  Host h;
  PlanInputs real = h.record();
  REQUIRE(h.unchanged(real));
  PlanInputs no_tool = real;
  no_tool.tool.clear();
  CHECK_FALSE(h.unchanged(no_tool));
  PlanInputs no_host = real;
  no_host.host.clear();
  CHECK_FALSE(h.unchanged(no_host));
}

TEST_CASE("inputs: the manifest keeps the record exactly") {
  Host h;
  Manifest m;
  m.tool = "jailbuild test";
  m.inputs = h.record();
  REQUIRE(m.inputs.host.size() > 5);
  Manifest back = manifest_from_json(manifest_to_json(m), "test");
  CHECK(back.inputs == m.inputs);
  Manifest none;
  CHECK(manifest_from_json(manifest_to_json(none), "test").inputs.empty());
}

TEST_CASE("inputs: dpkg's database files are one record, their directory, which dpkg's renames change") {
  Host h;
  write_text(h.dir / "var/lib/dpkg/info/libfoo1.list", "/usr/lib/libfoo.so.1.0\n");
  write_text(h.dir / "var/lib/dpkg/info/libbar1.list", "/usr/lib/libbar.so.1\n");
  PlanInputs inputs = h.record([](const HostRoot& host) {
    host.read_file("/var/lib/dpkg/info/libfoo1.list");
    host.read_file("/var/lib/dpkg/info/libbar1.list");
  });
  CHECK_FALSE(find(inputs, "/var/lib/dpkg/info/libfoo1.list"));
  CHECK_FALSE(find(inputs, "/var/lib/dpkg/info/libbar1.list"));
  CHECK(std::any_of(inputs.host.begin(), inputs.host.end(), [](const Input& in) {
    return in.path == "/var/lib/dpkg/info" && in.scrutiny == Scrutiny::whole;
  }));
  CHECK(h.unchanged(inputs));
  // An upgrade as dpkg does it: the new list written beside the old, then renamed over it.
  write_text(h.dir / "var/lib/dpkg/info/libfoo1.list-new", "/usr/lib/libfoo.so.2.0\n");
  fs::rename(h.dir / "var/lib/dpkg/info/libfoo1.list-new", h.dir / "var/lib/dpkg/info/libfoo1.list");
  CHECK_FALSE(h.unchanged(inputs));
}
