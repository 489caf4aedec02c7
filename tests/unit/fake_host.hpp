// SPDX-License-Identifier: MIT
// A host of its own for the tests of create, sync and the planner: a copy of the fake host root the
// build compiles (tests/fixtures/make-fakeroot.sh: a program, its library behind version links, the
// real libc and ld.so) that a test may change as apt would, plus accounts, a configuration
// directory and a profile "app" over them. Like ninja's VirtualFileSystem, it lets the whole path of
// a command run in a unit test; unlike it, the files are real, because JailFs's safety is in the
// system calls.
#pragma once
#include "jailbuild/create.hpp"
#include "jailbuild/plan.hpp"
#include "jailbuild/profile.hpp"

#include "test_util.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace jailbuild::test {

struct FakeHost {
  TempDir dir{"host", 0755};
  std::string root = dir / "root";
  std::string profiles = dir / "profiles";
  std::string state = dir / "state";
  /// --config-dir: the jails' definitions (the profiles stay the default's, as the sync tests expect)
  std::string config = dir / "config";
  std::string jail = dir / "jails/jail"; ///< its parent is root's and 0755 (when the test runs as root)
  std::string lib_dir = root + "/usr/lib/" + fixture_info("triplet");

  FakeHost() {
    namespace fs = std::filesystem;
    fs::copy(fixture_root, root, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    write_text(root + "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"
                                     "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n");
    write_text(root + "/etc/group", "root:x:0:\nwww-data:x:33:\n");
    write_text(root + "/etc/app/app.conf", "setting=1\n");
    write_text(root + "/etc/app/extra.conf", "extra=1\n");
    profile("app", R"(description = "test: a program with its library, its configuration, a state directory"
users = ["www-data"]
[[elf]]
paths = ["/usr/bin/hello"]
[[files]]
path = "/etc/app/app.conf"
[[dirs]]
path = "/var/lib/app"
owner = "www-data"
group = "www-data"
mode = "0750"
)");
    profile("extra", R"(description = "test: one more configuration file"
[[files]]
path = "/etc/app/extra.conf"
)");
    fs::create_directories(dir / "jails");
    REQUIRE(::chmod((dir / "jails").c_str(), 0755) == 0);
  }

  void profile(const std::string& name, const std::string& toml) {
    write_text(profiles + "/" + name + ".toml", toml);
  }

  /// What `jailbuild create JAIL --with SERVICES --host-root ROOT --profiles-dir PROFILES` asks for.
  CreateOptions create_options(std::vector<std::string> services = {"app"}) const {
    CreateOptions o;
    o.dir = jail;
    o.spec.services = std::move(services);
    o.spec.host_root = root;
    o.spec.profile_dirs = host_profile_dirs({profiles});
    o.state_dir = state;
    o.config_dir = config;
    return o;
  }

  /// A new version of a library's content: the same ELF file with a byte more at its end.
  void rebuild(const std::string& from, const std::string& to) const {
    std::string bytes = read_text(from);
    write_text(to, bytes + "\n");
    REQUIRE(::chmod(to.c_str(), 0755) == 0);
  }
};

} // namespace jailbuild::test
