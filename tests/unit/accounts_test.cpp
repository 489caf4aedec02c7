// SPDX-License-Identifier: MIT
#include "jailbuild/accounts.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/hostfs.hpp"

#include "test_util.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace jailbuild;
using namespace jailbuild::test;

namespace {

/// A fake host root holding only /etc/passwd and /etc/group.
struct FakeHost {
  TempDir dir{"accounts", 0700};
  std::string path = dir.path;
  FakeHost(const std::string& passwd, const std::string& group) {
    write_text(dir / "etc/passwd", passwd);
    write_text(dir / "etc/group", group);
  }
};

const char* const passwd_text = "root:x:0:0:root:/root:/bin/bash\n"
                                "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
                                "# a comment\n"
                                "www-data:x:33:33:www-data:/var/www:/bin/sh\n"
                                "broken line without fields\n"
                                "toor:x:0:1000:another root:/root:/bin/bash\n"
                                "rootgroup:x:1001:0:primary group root:/home/rg:/bin/bash\n"
                                "alice:$6$hash$:1000:1000:Alice:/home/alice:/bin/zsh\n"
                                "nginx:x:101:101::/nonexistent:/bin/false\n";
const char* const group_text = "root:x:0:\n"
                               "daemon:x:1:\n"
                               "www-data:x:33:nginx,alice\n"
                               "alice:x:1000:\n"
                               "nginx:x:101:\n"
                               "ssl-cert:x:110:www-data,alice\n"
                               "wheel:x:0:alice\n";

} // namespace

TEST_CASE("parse_passwd / parse_group: fields, comments and malformed lines") {
  std::vector<PasswdEntry> users = parse_passwd(passwd_text);
  REQUIRE(users.size() == 7);
  CHECK(users[2].name == "www-data");
  CHECK(users[2].uid == 33);
  CHECK(users[2].gid == 33);
  CHECK(users[2].home == "/var/www");
  CHECK(users[2].shell == "/bin/sh");
  std::vector<GroupEntry> groups = parse_group(group_text);
  REQUIRE(groups.size() == 7);
  CHECK(groups[2].members == std::vector<std::string>{"nginx", "alice"});
  CHECK(groups[0].members.empty());
}

TEST_CASE("resolve_accounts: picks the needed users and groups from the host's files") {
  FakeHost host_dir(passwd_text, group_text);
  HostRoot host(host_dir.path);
  JailAccounts a = resolve_accounts(host, {"www-data", "nginx", "www-data"}, {"ssl-cert"});
  REQUIRE(a.users.size() == 2);
  CHECK(a.users[0].name == "www-data"); // sorted by uid: 33 before 101
  CHECK(a.users[0].uid == 33);
  CHECK(a.users[1].name == "nginx");
  for (const PasswdEntry& u : a.users)
    CHECK(u.shell == "/usr/sbin/nologin");
  REQUIRE(a.groups.size() == 3); // the two primary groups and ssl-cert, sorted by gid
  CHECK(a.groups[0].name == "www-data");
  CHECK(a.groups[1].name == "nginx");
  CHECK(a.groups[2].name == "ssl-cert");
  // Memberships only of users the jail holds: alice is not in it.
  CHECK(a.groups[0].members == std::vector<std::string>{"nginx"});
  CHECK(a.groups[2].members == std::vector<std::string>{"www-data"});

  // By number too.
  JailAccounts by_id = resolve_accounts(host, {"33"}, {});
  REQUIRE(by_id.users.size() == 1);
  CHECK(by_id.users[0].name == "www-data");
}

TEST_CASE("resolve_accounts: refuses UID 0, GID 0 and names the host does not know") {
  FakeHost host_dir(passwd_text, group_text);
  HostRoot host(host_dir.path);
  CHECK(contains(error_of([&] { resolve_accounts(host, {"root"}, {}); }), "UID 0"));
  CHECK(contains(error_of([&] { resolve_accounts(host, {"toor"}, {}); }), "UID 0")); // another name for uid 0
  CHECK(contains(error_of([&] { resolve_accounts(host, {"0"}, {}); }), "UID 0"));
  CHECK(contains(error_of([&] { resolve_accounts(host, {"rootgroup"}, {}); }), "GID 0")); // primary group 0
  CHECK(contains(error_of([&] { resolve_accounts(host, {}, {"root"}); }), "GID 0"));
  CHECK(contains(error_of([&] { resolve_accounts(host, {}, {"wheel"}); }), "GID 0"));
  std::string err = error_of([&] { resolve_accounts(host, {"mallory"}, {}); });
  CHECK(contains(err, "mallory"));
  CHECK(contains(err, "no such user"));
  err = error_of([&] { resolve_accounts(host, {}, {"nogroup-here"}); });
  CHECK(contains(err, "nogroup-here"));
  CHECK(contains(err, "no such group"));
}

TEST_CASE("render_*: the four account files, no password hash, no UID or GID 0") {
  FakeHost host_dir(passwd_text, group_text);
  HostRoot host(host_dir.path);
  JailAccounts a = resolve_accounts(host, {"www-data", "alice"}, {});
  CHECK(render_passwd(a) == "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n"
                            "alice:x:1000:1000:Alice:/home/alice:/usr/sbin/nologin\n");
  CHECK(render_group(a) == "www-data:x:33:alice\nalice:x:1000:\n");
  std::string shadow = render_shadow(a);
  CHECK(shadow == "www-data:*:0:0:99999:7:::\nalice:*:0:0:99999:7:::\n");
  CHECK_FALSE(contains(shadow, "$6$")); // alice's host hash never reaches the jail
  CHECK_FALSE(contains(render_passwd(a), "$6$"));
  CHECK(render_gshadow(a) == "www-data:*::alice\nalice:*::\n");
}
