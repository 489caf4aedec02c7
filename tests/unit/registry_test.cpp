// SPDX-License-Identifier: MIT
#include "jailbuild/registry.hpp"

#include "test_util.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

using namespace jailbuild;
using namespace jailbuild::test;

using Strings = std::vector<std::string>;

TEST_CASE("Registry: add, list sorted and without duplicates, remove; no newline in a path") {
  TempDir tmp("registry", 0700);
  Registry registry(tmp / "state/");
  CHECK(registry.list().empty());
  registry.add("/srv/b");
  registry.add("/srv/a");
  registry.add("/srv/b");
  CHECK(registry.list() == Strings{"/srv/a", "/srv/b"});
  CHECK(read_text(tmp / "state/jails") == "/srv/a\n/srv/b\n");
  registry.remove("/srv/a");
  registry.remove("/srv/missing");
  CHECK(registry.list() == Strings{"/srv/b"});
  CHECK(contains(error_of([&] { registry.add("/srv/new\nline"); }), "control character"));
  CHECK(contains(error_of([&] { registry.add("relative"); }), "absolute path"));
  CHECK(registry.list() == Strings{"/srv/b"});
}

TEST_CASE("registered_jails: a jail deleted by hand is set apart and, unless a dry run, unregistered") {
  TempDir tmp("registry", 0700);
  std::filesystem::create_directories(tmp / "jails/kept");
  Registry registry(tmp / "state");
  registry.add(tmp / "jails/kept");
  registry.add(tmp / "jails/deleted");

  RegisteredJails dry = registered_jails(registry, Unregister::none);
  CHECK(dry.present == Strings{tmp / "jails/kept"});
  CHECK(dry.gone == Strings{tmp / "jails/deleted"});
  CHECK(registry.list().size() == 2); // a dry run writes nothing

  RegisteredJails pruned = registered_jails(registry, Unregister::gone);
  CHECK(pruned.present == dry.present);
  CHECK(pruned.gone == dry.gone);
  CHECK(registry.list() == Strings{tmp / "jails/kept"});
  CHECK(registered_jails(registry, Unregister::gone).gone.empty());
}

TEST_CASE("registered_jails: only a jail that is certainly gone is left out") {
  TempDir tmp("registry", 0700);
  std::filesystem::create_directories(tmp / "jails");
  std::filesystem::create_symlink(tmp / "nowhere", tmp / "jails/dangling"); // lstat sees the link
  write_text(tmp / "jails/file", "");
  Registry registry(tmp / "state");
  registry.add(tmp / "jails/dangling");
  registry.add(tmp / "jails/file/below"); // ENOTDIR: not known to be gone; sync reports it
  RegisteredJails jails = registered_jails(registry, Unregister::gone);
  CHECK(jails.present == Strings{tmp / "jails/dangling", tmp / "jails/file/below"});
  CHECK(jails.gone.empty());
  CHECK(registry.list().size() == 2);
}
