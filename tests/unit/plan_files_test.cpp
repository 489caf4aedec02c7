// SPDX-License-Identifier: MIT
// A profile's host files and the admin's own in the plan (issue #18): who owns them in the jail (the
// host's owner and group mapped by name to the jail's accounts, an account the jail lacks refused
// when the mode gives it access, the [[files]] keys overriding; scenario/file_owners.sh drives the
// same through the CLI), and an own file in the place of a file a profile generates.
#include "jailbuild/error.hpp"
#include "jailbuild/hostfs.hpp"
#include "jailbuild/plan_builder.hpp"
#include "jailbuild/profile.hpp"

#include "fake_host.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <unistd.h>

using namespace jailbuild;
using namespace jailbuild::test;

namespace {

struct OwnersHost : FakeHost {
  OwnersHost() {
    write_text(root + "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"
                                     "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n"
                                     "alice:x:1000:1000::/home/alice:/bin/bash\n");
    write_text(root + "/etc/group", "root:x:0:\nmail:x:8:\nwww-data:x:33:\nalice:x:1000:\nweb:x:1234:\n");
  }
  /// A host file with its owner and mode.
  void file(const std::string& path, uid_t uid, gid_t gid, mode_t mode) const {
    std::string at = write_text(root + path, "x\n");
    REQUIRE(::chown(at.c_str(), uid, gid) == 0);
    REQUIRE(::chmod(at.c_str(), mode) == 0);
  }
  Plan plan(const std::string& service) const {
    JailSpec spec = create_options({service}).spec;
    return build_plan(HostRoot(root), ProfileSet::load(spec.profile_dirs), spec, Digests::while_copying);
  }
};

const PlanEntry& get(const Plan& plan, const std::string& path) {
  for (const PlanEntry& e : plan.entries)
    if (e.path == path) return e;
  FAIL("not planned: " << path);
  throw;
}

} // namespace

TEST_CASE("build_plan: a profile's file keeps its host owner and group as the jail's accounts" *
          doctest::skip(!is_root())) {
  OwnersHost h;
  h.file("/etc/pma/config-db.php", 0, 1234, 0640);
  h.file("/etc/pma/public.conf", 0, 8, 0644);
  h.file("/etc/pma/readonly.conf", 1000, 1000, 0444);
  h.file("/etc/pma/tool", 0, 1234, 02755);
  h.file("/etc/pma/private/blowfish.php", 0, 1234, 0640);
  REQUIRE(::chown((h.root + "/etc/pma/private").c_str(), 0, 1234) == 0);
  REQUIRE(::chmod((h.root + "/etc/pma/private").c_str(), 0750) == 0);
  h.profile("pma",
            "users = [\"www-data\"]\ngroups = [\"web\"]\n[[files]]\npath = \"/etc/pma\"\nrecursive = true\n");
  Plan plan = h.plan("pma");
  const PlanEntry& config = get(plan, "/etc/pma/config-db.php");
  CHECK(config.uid == 0u);
  CHECK(config.gid == 1234u);
  CHECK(config.mode == 0640u);
  // mail and alice are not in the jail, but 0644 and 0444 give them nothing the others lack: root's.
  CHECK(get(plan, "/etc/pma/public.conf").gid == 0u);
  CHECK(get(plan, "/etc/pma/readonly.conf").uid == 0u);
  CHECK(get(plan, "/etc/pma/readonly.conf").gid == 0u);
  const PlanEntry& tool = get(plan, "/etc/pma/tool");
  CHECK(tool.gid == 1234u);
  CHECK(tool.mode == 0755u);                            // never setgid
  const PlanEntry& dir = get(plan, "/etc/pma/private"); // a directory the entry copies: the same
  CHECK(dir.kind == EntryKind::directory);
  CHECK(dir.gid == 1234u);
  CHECK(dir.mode == 0750u);
}

TEST_CASE("build_plan: a profile's file of an account the jail lacks is refused, unless the entry says" *
          doctest::skip(!is_root())) {
  OwnersHost h;
  h.file("/etc/other/mail.conf", 0, 8, 0640);
  h.file("/etc/other/alice.conf", 1000, 1000, 0600);
  h.profile("group", "users = [\"www-data\"]\n[[files]]\npath = \"/etc/other/mail.conf\"\n");
  h.profile("owner", "[[files]]\npath = \"/etc/other/alice.conf\"\n");
  h.profile("keys", "[[files]]\npath = \"/etc/other/mail.conf\"\ngroup = \"www-data\"\n"
                    "[[files]]\npath = \"/etc/other/alice.conf\"\nowner = \"root\"\ngroup = \"0\"\n");
  h.profile("number", "[[files]]\npath = \"/etc/other/mail.conf\"\ngroup = \"8\"\n");

  std::string message = error_of([&] { h.plan("group"); });
  CHECK(message.find("group.toml: line ") != std::string::npos); // the [[files]] entry
  CHECK(message.find("/etc/other/mail.conf: its group on the host is group mail (gid 8), which is not in the "
                     "jail") != std::string::npos);
  message = error_of([&] { h.plan("owner"); });
  CHECK(message.find(
            "/etc/other/alice.conf: owned by user alice (uid 1000) on the host, who is not in the jail") !=
        std::string::npos);

  Plan plan = h.plan("keys");
  CHECK(get(plan, "/etc/other/mail.conf").gid == 33u); // the key brought www-data into the jail
  CHECK(get(plan, "/etc/other/alice.conf").uid == 0u);
  CHECK(get(plan, "/etc/other/alice.conf").gid == 0u);
  CHECK(std::find(plan.users.begin(), plan.users.end(), "alice") == plan.users.end());
  // A number must name root or an account of the jail: it brings none in.
  CHECK(error_of([&] { h.plan("number"); }).find("group = \"8\" is not a group of the jail") !=
        std::string::npos);
}

TEST_CASE("build_plan: an admin's own file takes the place of a file a profile generates" *
          doctest::skip(!is_root())) {
  OwnersHost h;
  h.file("/srv/msmtprc", 0, 33, 0640);
  h.profile("mailer",
            "users = [\"www-data\"]\n[[generate]]\npath = \"/etc/msmtprc\"\ncontent = \"port 25\\n\"\n");
  JailSpec spec = h.create_options({"mailer"}).spec;
  spec.files.push_back({"/srv/msmtprc", "/etc/msmtprc", false});
  Plan plan = build_plan(HostRoot(h.root), ProfileSet::load(spec.profile_dirs), spec, Digests::while_copying);
  const PlanEntry& e = get(plan, "/etc/msmtprc");
  CHECK(e.kind == EntryKind::file);
  CHECK(e.source == "/srv/msmtprc");
  CHECK(e.requested_by == "--file");
  CHECK(e.uid == 0u); // root's, in the host's group, which the jail has
  CHECK(e.gid == 33u);
  CHECK(e.mode == 0640u);

  // Never the accounts' files: those are no profile's to give away.
  spec.files = {{"/srv/msmtprc", "/etc/passwd", false}};
  CHECK_FALSE(error_of([&] {
                build_plan(HostRoot(h.root), ProfileSet::load(spec.profile_dirs), spec,
                           Digests::while_copying);
              }).empty());
}
