// SPDX-License-Identifier: MIT
// The temporary files of killed runs: JailFs's names recognised exactly, and removed only when they
// are root's regular files. Create and sync use this where they list the jail (decide_test.cpp,
// sync_test.cpp); tests/scenario/sync_fakeroot.sh kills real runs.
#include "jailbuild/jailfs.hpp"

#include "test_util.hpp"

#include <doctest/doctest.h>

#include <string>
#include <sys/stat.h>
#include <unistd.h>

using namespace jailbuild;
using namespace jailbuild::test;

TEST_CASE("is_temp_name: exactly the names JailFs gives its temporary files") {
  CHECK(is_temp_name(".libc.so.6.jbtmp.0123456789abcdef"));
  CHECK(is_temp_name(".x.jbtmp.ffffffffffffffff"));
  CHECK(is_temp_name("..jbtmp.0123456789abcdef.jbtmp.0123456789abcdef"));
  CHECK_FALSE(is_temp_name("libc.so.6.jbtmp.0123456789abcdef")); // no leading dot
  CHECK_FALSE(is_temp_name("..jbtmp.0123456789abcdef"));         // no final name
  CHECK_FALSE(is_temp_name(".x.jbtmp.0123456789ABCDEF"));        // upper case: not ours
  CHECK_FALSE(is_temp_name(".x.jbtmp.0123456789abcdeg"));        // not hex
  CHECK_FALSE(is_temp_name(".x.jbtmp.0123456789abcde"));         // 15 digits
  CHECK_FALSE(is_temp_name(".x.jbtmp.0123456789abcdef0"));       // 17 digits
  CHECK_FALSE(is_temp_name(".x.jbtmp-0123456789abcdef"));
  CHECK_FALSE(is_temp_name(".x.jbtmp.0123456789abcdef.swp"));
  CHECK_FALSE(is_temp_name(""));
}

TEST_CASE("JailFs::remove_leftover: only a root-owned regular file under a temporary name" *
          doctest::skip(!is_root())) {
  TempDir jail_dir("leftover", 0755);
  JailFs jail(jail_dir.path);
  const std::string ours = ".data.jbtmp.0123456789abcdef";
  write_text(jail_dir / ours, "half a file");
  CHECK(jail.remove_leftover(ours));
  CHECK(::access((jail_dir / ours).c_str(), F_OK) != 0);
  CHECK_FALSE(jail.remove_leftover(ours)); // gone: nothing to do

  // A service user's file under such a name: its own business.
  write_text(jail_dir / ours, "a service's");
  REQUIRE(::chown((jail_dir / ours).c_str(), 33, 33) == 0);
  CHECK_FALSE(jail.remove_leftover(ours));
  CHECK(read_text(jail_dir / ours) == "a service's");
  REQUIRE(::unlink((jail_dir / ours).c_str()) == 0);

  // Not a regular file: a symlink (never followed), a FIFO, a directory.
  write_text(jail_dir / "target", "kept");
  REQUIRE(::symlink("target", (jail_dir / ours).c_str()) == 0);
  CHECK_FALSE(jail.remove_leftover(ours));
  REQUIRE(::unlink((jail_dir / ours).c_str()) == 0);
  REQUIRE(::mkfifo((jail_dir / ours).c_str(), 0600) == 0);
  CHECK_FALSE(jail.remove_leftover(ours));
  REQUIRE(::unlink((jail_dir / ours).c_str()) == 0);
  REQUIRE(::mkdir((jail_dir / ours).c_str(), 0700) == 0);
  CHECK_FALSE(jail.remove_leftover(ours));
  REQUIRE(::rmdir((jail_dir / ours).c_str()) == 0);

  // Not the exact name: a root file that only looks alike.
  write_text(jail_dir / "data.jbtmp.0123456789abcdef", "x");
  CHECK_FALSE(jail.remove_leftover("data.jbtmp.0123456789abcdef"));
  CHECK(read_text(jail_dir / "target") == "kept");

  // Below a symlink planted in the jail: refused, never followed.
  TempDir outside("outside", 0700);
  write_text(outside / ours, "host");
  REQUIRE(::symlink(outside.path.c_str(), (jail_dir / "link").c_str()) == 0);
  CHECK(contains(error_of([&] { jail.remove_leftover("link/" + ours); }), "symlink"));
  CHECK(read_text(outside / ours) == "host");
}
