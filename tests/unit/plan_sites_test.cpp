// SPDX-License-Identifier: MIT
// The planner for multi-site hosting (issue #12): per-site php-fpm pools, the runtime-only jail of
// chrooted workers, and TLS files nginx names. A fake host (fake_host.hpp) whose php-fpm and nginx are
// the fixture's program under their names: read, never executed.
#include "jailbuild/error.hpp"
#include "jailbuild/hostfs.hpp"
#include "jailbuild/plan_builder.hpp"
#include "jailbuild/profile.hpp"

#include "fake_host.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>

using namespace jailbuild;
using namespace jailbuild::test;
namespace fs = std::filesystem;

namespace {

struct SitesHost : FakeHost {
  SitesHost() {
    fs::create_directories(root + "/usr/sbin");
    fs::copy_file(root + "/usr/bin/hello", root + "/usr/sbin/php-fpm8.2");
    fs::create_directories(root + "/usr/lib/php/20220829");
    write_text(root + "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"
                                     "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n"
                                     "blog:x:1001:1001::/srv/blog:/usr/sbin/nologin\n"
                                     "shop:x:1002:1002::/srv/shop:/usr/sbin/nologin\n"
                                     "chr:x:1003:1003::/srv/chr:/usr/sbin/nologin\n");
    write_text(root + "/etc/group", "root:x:0:\nwww-data:x:33:\nblog:x:1001:\nshop:x:1002:\nchr:x:1003:\n");
    write_text(root + "/etc/php/8.2/fpm/php.ini", "[PHP]\n");
    write_text(root + "/etc/php/8.2/fpm/php-fpm.conf",
               "[global]\npid = /run/php/php8.2-fpm.pid\ninclude=/etc/php/8.2/fpm/pool.d/*.conf\n");
    pool("blog", "listen = /run/php/blog.sock\nlisten.owner = www-data\n"
                 "php_admin_value[session.save_path] = /var/lib/php/sessions-blog\n");
    pool("shop", "listen = /run/php-shop/fpm.sock\n");
    profile("php", "discover = \"php-fpm\"\n[[files]]\npath = \"/etc/php/$PHP\"\nrecursive = true\n");
    profile("php-rt", "discover = \"php-runtime\"\n[[elf]]\npaths = [\"/usr/lib/$TRIPLET/libc.so.6\"]\n");
  }
  void pool(const std::string& name, const std::string& rest) {
    write_text(root + "/etc/php/8.2/fpm/pool.d/" + name + ".conf",
               "[" + name + "]\nuser = " + (name == "chroot" ? std::string("chr") : name) + "\n" + rest);
  }
  Plan plan(std::vector<std::string> services, std::vector<std::string> pools = {}) const {
    JailSpec spec = create_options(std::move(services)).spec;
    spec.pools = std::move(pools);
    return build_plan(HostRoot(root), ProfileSet::load(spec.profile_dirs), spec, Digests::while_copying);
  }
};

const PlanEntry* find(const Plan& plan, const std::string& path) {
  for (const PlanEntry& e : plan.entries)
    if (e.path == path) return &e;
  return nullptr;
}

const PlanEntry& get(const Plan& plan, const std::string& path) {
  const PlanEntry* e = find(plan, path);
  INFO(path);
  REQUIRE(e != nullptr);
  return *e;
}

bool has_warning(const Plan& plan, const std::string& part) {
  return std::any_of(plan.warnings.begin(), plan.warnings.end(),
                     [&](const std::string& w) { return w.find(part) != std::string::npos; });
}

} // namespace

TEST_CASE("build_plan: --pool blog holds nothing of the shop pool: no file, no user, no socket dir") {
  SitesHost h;
  Plan plan = h.plan({"php"}, {"blog"});
  CHECK(find(plan, "/etc/php/8.2/fpm/pool.d/blog.conf"));
  CHECK(!find(plan, "/etc/php/8.2/fpm/pool.d/shop.conf"));
  CHECK(!find(plan, "/run/php-shop"));
  CHECK(find(plan, "/var/lib/php/sessions-blog"));
  CHECK(plan.users == std::vector<std::string>{"www-data", "blog"}); // by uid; www-data: listen.owner
  CHECK(!contains(get(plan, "/etc/passwd").content, "shop"));
  CHECK(!contains(get(plan, "/etc/group").content, "shop"));
  CHECK(plan.spec.pools == std::vector<std::string>{"blog"});
}

TEST_CASE("build_plan: without --pool the host's pools are taken and recorded, with a warning") {
  SitesHost h;
  Plan plan = h.plan({"php"});
  CHECK(plan.spec.pools == std::vector<std::string>{"blog", "shop"});
  CHECK(has_warning(plan, "the host has 2 pools and no --pool was given: this jail takes blog, shop"));
  // A pool the host gains later does not enter: sync plans from the recorded spec.
  h.pool("later", "listen = /run/php/later.sock\n");
  Plan again = h.plan({"php"}, plan.spec.pools);
  CHECK(!find(again, "/etc/php/8.2/fpm/pool.d/later.conf"));
}

TEST_CASE("build_plan: a pool with chroot is refused in a full jail and pointed to the runtime-only jail") {
  SitesHost h;
  h.pool("chroot", "listen = /run/php/chr.sock\nchroot = /srv/chr\n");
  CHECK_THROWS_WITH_AS(h.plan({"php"}, {"chroot"}),
                       doctest::Contains("jailbuild create /srv/chr --with php-runtime --pool chroot"),
                       Error);
  Plan plan = h.plan({"php"}); // by default it is left out, and said so
  CHECK(plan.spec.pools == std::vector<std::string>{"blog", "shop"});
  CHECK(has_warning(plan, "pool 'chroot' sets chroot = /srv/chr: left out"));
  CHECK(!find(plan, "/etc/php/8.2/fpm/pool.d/chroot.conf"));
  CHECK_THROWS_WITH_AS(h.plan({"php"}, {"nope"}), doctest::Contains("the host's pools: blog, chroot, shop"),
                       Error);
  fs::remove(h.root + "/etc/php/8.2/fpm/pool.d/blog.conf");
  fs::remove(h.root + "/etc/php/8.2/fpm/pool.d/shop.conf");
  CHECK_THROWS_WITH_AS(h.plan({"php"}), doctest::Contains("every pool of the host sets chroot"), Error);
}

TEST_CASE("build_plan: the runtime-only jail holds the chrooted workers' needs, no php-fpm, no config") {
  SitesHost h;
  h.pool("chroot", "listen = /run/php/chr.sock\nchroot = /srv/chr\nchdir = /site/public\n"
                   "php_admin_value[upload_tmp_dir] = /tmp/uploads\n");
  Plan plan = h.plan({"php-rt"});
  CHECK(plan.php_chroot == "/srv/chr");
  CHECK(plan.spec.pools == std::vector<std::string>{"chroot"});
  CHECK(!find(plan, "/usr/sbin/php-fpm8.2"));
  CHECK(!find(plan, "/etc/php/8.2/fpm/php-fpm.conf"));
  CHECK(!find(plan, "/run/php"));
  CHECK(plan.users == std::vector<std::string>{"chr"});
  const PlanEntry& sessions = get(plan, "/var/lib/php/sessions");
  CHECK(sessions.uid == 1003);
  CHECK(sessions.mode == 0700);
  CHECK(get(plan, "/tmp/uploads").uid == 1003);
  const PlanEntry& docroot = get(plan, "/site/public");
  CHECK(docroot.kind == EntryKind::directory);
  CHECK(docroot.uid == 0);
  CHECK_THROWS_WITH_AS(h.plan({"php-rt"}, {"blog"}), doctest::Contains("sets no chroot"), Error);
  CHECK_THROWS_WITH_AS(h.plan({"php-rt", "php"}), doctest::Contains("does not go with php-fpm"), Error);
}

TEST_CASE("build_plan: a jail of libraries and data only takes the host's libc's architecture") {
  SitesHost h;
  h.profile("data", "[[elf]]\npaths = [\"/usr/lib/$TRIPLET/libc.so.6\"]\n");
  Plan plan = h.plan({"data"});
  CHECK(find(plan, "/usr/lib/" + fixture_info("triplet") + "/libc.so.6"));
}

TEST_CASE("build_plan: TLS files nginx names are copied, keys root's alone and secret") {
  SitesHost h;
  fs::copy_file(h.root + "/usr/bin/hello", h.root + "/usr/sbin/nginx");
  write_text(h.root + "/etc/nginx/nginx.conf",
             "user www-data;\nevents {}\nhttp { server { listen 443 ssl;\n"
             "ssl_certificate /etc/letsencrypt/live/blog/fullchain.pem;\n"
             "ssl_certificate_key /etc/letsencrypt/live/blog/privkey.pem;\n"
             "ssl_password_file /etc/keys/pass;\nssl_dhparam /etc/ssl/missing.pem; } }\n");
  write_text(h.root + "/etc/letsencrypt/archive/blog/fullchain1.pem", "CERT\n");
  write_text(h.root + "/etc/letsencrypt/archive/blog/privkey1.pem", "KEY\n");
  REQUIRE(::chmod((h.root + "/etc/letsencrypt/archive/blog/privkey1.pem").c_str(), 0644) == 0);
  fs::create_directories(h.root + "/etc/letsencrypt/live/blog");
  fs::create_symlink("../../archive/blog/fullchain1.pem",
                     h.root + "/etc/letsencrypt/live/blog/fullchain.pem");
  fs::create_symlink("../../archive/blog/privkey1.pem", h.root + "/etc/letsencrypt/live/blog/privkey.pem");
  write_text(h.root + "/etc/keys/pass", "secret\n");
  h.profile("web", "discover = \"nginx\"\n[[files]]\npath = \"/etc/nginx\"\nrecursive = true\n");
  Plan plan = h.plan({"web"});
  CHECK(get(plan, "/etc/letsencrypt/live/blog/privkey.pem").kind == EntryKind::symlink);
  const PlanEntry& key = get(plan, "/etc/letsencrypt/archive/blog/privkey1.pem");
  CHECK(key.secret);
  CHECK(key.mode == 0600); // 0644 on the host: a worker or PHP would read it
  CHECK(key.uid == 0);
  CHECK(get(plan, "/etc/keys/pass").secret);
  const PlanEntry& cert = get(plan, "/etc/letsencrypt/archive/blog/fullchain1.pem");
  CHECK(!cert.secret);
  CHECK(has_warning(plan, "/etc/ssl/missing.pem: named by nginx's TLS configuration but missing"));
}
