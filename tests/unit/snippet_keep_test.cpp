// SPDX-License-Identifier: MIT
// The nginx snippets create and sync keep in CONFIG/nginx (issue #12 item 7): written when a jail has
// pools, rewritten only when the text changes (a host nginx reload is needed only then), removed by
// destroy; never named by what a jail's manifest says.
#include "jailbuild/create.hpp"
#include "jailbuild/definition.hpp"
#include "jailbuild/destroy.hpp"
#include "jailbuild/jailfs.hpp"
#include "jailbuild/jails.hpp"
#include "jailbuild/manifest.hpp"
#include "jailbuild/nginx_snippet.hpp"
#include "jailbuild/sync.hpp"

#include "fake_host.hpp"
#include "test_util.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

using namespace jailbuild;
using namespace jailbuild::test;
namespace fs = std::filesystem;

namespace {

/// A host with php-fpm 8.2 (the fixture's program under its name: read, never run) and two pools.
struct PoolsHost : FakeHost {
  PoolsHost() {
    fs::create_directories(root + "/usr/sbin");
    fs::copy_file(root + "/usr/bin/hello", root + "/usr/sbin/php-fpm8.2");
    fs::create_directories(root + "/usr/lib/php/20220829");
    write_text(root + "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"
                                     "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n");
    write_text(root + "/etc/group", "root:x:0:\nwww-data:x:33:\n");
    write_text(root + "/etc/php/8.2/fpm/php.ini", "[PHP]\n");
    write_text(root + "/etc/php/8.2/fpm/php-fpm.conf",
               "[global]\npid = /run/php/php8.2-fpm.pid\ninclude=/etc/php/8.2/fpm/pool.d/*.conf\n");
    pool("blog", "/run/php/blog.sock");
    pool("shop", "/run/php/shop.sock");
    profile("php-fpm", "discover = \"php-fpm\"\n[[files]]\npath = \"/etc/php/$PHP\"\nrecursive = true\n");
  }
  void pool(const std::string& name, const std::string& socket) {
    write_text(root + "/etc/php/8.2/fpm/pool.d/" + name + ".conf",
               "[" + name + "]\nuser = www-data\nlisten = " + socket + "\nchdir = /var/www/" + name + "\n");
  }
  CreateOptions php_jail(std::vector<std::string> pools) const {
    CreateOptions o = create_options({"php-fpm"});
    o.spec.pools = std::move(pools);
    o.audit = AuditAfter::no;
    return o;
  }
  SyncOptions sync_options() const {
    SyncOptions o;
    std::optional<Definition> d = Definitions(config).read("jail");
    REQUIRE(d);
    o.definition = spec_to_apply(*d, config);
    o.definition->profile_dirs = host_profile_dirs(d->spec.profile_dirs);
    o.config_dir = config;
    return o;
  }
  std::string snippet(const std::string& file = "jail.conf") const { return config + "/nginx/" + file; }
};

struct timespec mtime_of(const std::string& path) {
  return lstat_of(path).st_mtim;
}

bool same_time(const struct timespec& a, const struct timespec& b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

} // namespace

TEST_CASE("create_jail and sync_jail keep CONFIG/nginx/NAME.conf; destroy_jail removes it" *
          doctest::skip(!is_root())) {
  PoolsHost h;
  CreateResult r = create_jail(h.php_jail({"blog"}));
  REQUIRE(r.snippets.size() == 1);
  CHECK(r.snippets[0].path == h.snippet());
  CHECK(r.snippets[0].change == SnippetChange::written);
  struct stat st = lstat_of(h.snippet());
  CHECK((st.st_mode & 07777) == 0644);
  CHECK(st.st_uid == 0);
  CHECK((lstat_of(h.config + "/nginx").st_mode & 07777) == 0755);
  CHECK(contains(read_text(h.snippet()), "fastcgi_pass unix:" + h.jail + "/run/php/blog.sock;\n"));
  CHECK(contains(read_text(h.snippet()), "root " + h.jail + "/var/www/blog;\n"));

  // Nothing changed: the file is not touched (nginx needs no reload), and nothing is said.
  const struct timespec before = mtime_of(h.snippet());
  SyncReport same = sync_jail(h.jail, h.sync_options());
  CHECK(same.snippets.empty());
  CHECK(same_time(mtime_of(h.snippet()), before));
  CHECK(create_jail(h.php_jail({"blog"})).snippets.empty());

  // The host's pool moves its socket: the next sync rewrites the snippet and says so.
  h.pool("blog", "/run/php/blog-new.sock");
  SyncReport moved = sync_jail(h.jail, h.sync_options());
  REQUIRE(moved.snippets.size() == 1);
  CHECK(moved.snippets[0].change == SnippetChange::changed);
  CHECK(contains(read_text(h.snippet()), "fastcgi_pass unix:" + h.jail + "/run/php/blog-new.sock;\n"));
  CHECK(contains(format_snippet_changes(moved.snippets), h.snippet() + " changed: reload nginx"));

  // A dry run writes nothing.
  h.pool("blog", "/run/php/blog.sock");
  SyncOptions dry = h.sync_options();
  dry.mode = SyncMode::dry_run;
  CHECK(sync_jail(h.jail, dry).snippets.empty());
  CHECK(contains(read_text(h.snippet()), "blog-new.sock"));

  DestroyResult gone = destroy_jail(resolve_jail(Definitions(h.config), "jail"), {h.config, h.state});
  REQUIRE(gone.snippets_removed.size() == 1);
  CHECK_FALSE(fs::exists(h.snippet()));
}

TEST_CASE("keep_nginx_snippets: one file per pool when a jail has several; what is no longer wanted goes" *
          doctest::skip(!is_root())) {
  PoolsHost h;
  create_jail(h.php_jail({"blog", "shop"}));
  CHECK(fs::exists(h.snippet("jail.blog.conf")));
  CHECK(fs::exists(h.snippet("jail.shop.conf")));
  CHECK_FALSE(fs::exists(h.snippet()));
  // Another jail's file is never this jail's, whatever its name starts with.
  write_text(h.snippet("jail-other.conf"), "# another jail's\n");

  std::vector<SnippetFile> done = create_jail(h.php_jail({"blog"})).snippets;
  CHECK(done.size() == 3); // jail.conf written, the two per-pool files removed
  CHECK(fs::exists(h.snippet()));
  CHECK_FALSE(fs::exists(h.snippet("jail.blog.conf")));
  CHECK_FALSE(fs::exists(h.snippet("jail.shop.conf")));
  CHECK(fs::exists(h.snippet("jail-other.conf")));

  // An admin's edit is put back by the next create (a sync that changes nothing in the jail does not
  // read php-fpm's configuration again: its ~20 ms stay; it only writes a snippet that is missing).
  write_text(h.snippet(), "fastcgi_pass unix:/elsewhere.sock;\n");
  CHECK(sync_jail(h.jail, h.sync_options()).snippets.empty());
  fs::remove(h.snippet());
  done = sync_jail(h.jail, h.sync_options()).snippets;
  REQUIRE(done.size() == 1);
  CHECK(done[0].change == SnippetChange::written);
  write_text(h.snippet(), "fastcgi_pass unix:/elsewhere.sock;\n");
  done = create_jail(h.php_jail({"blog"})).snippets;
  REQUIRE(done.size() == 1);
  CHECK(done[0].change == SnippetChange::changed);
  CHECK(contains(read_text(h.snippet()), "blog.sock"));
}

TEST_CASE("keep_nginx_snippets: a jail without php-fpm keeps none; a bad name or directory is refused" *
          doctest::skip(!is_root())) {
  PoolsHost h;
  JailSpec spec = h.create_options({"app"}).spec;
  spec.name = "jail";
  CHECK(keep_nginx_snippets(h.config, spec, h.jail).empty());
  CHECK_FALSE(fs::exists(h.config + "/nginx"));

  spec = h.php_jail({"blog"}).spec;
  for (const char* bad : {"../../etc/cron.d/x", "", "x/y", ".."}) {
    spec.name = bad;
    CHECK_THROWS_AS(keep_nginx_snippets(h.config, spec, h.jail), Error);
  }
  CHECK_FALSE(fs::exists(h.config + "/nginx"));

  // A directory its owner does not hold alone: a host nginx (root) would include what others put there.
  spec.name = "jail";
  fs::create_directories(h.config + "/nginx");
  REQUIRE(::chmod((h.config + "/nginx").c_str(), 0777) == 0);
  CHECK(contains(error_of([&] { keep_nginx_snippets(h.config, spec, h.jail); }),
                 "refusing to keep nginx snippets here"));
  CHECK_FALSE(fs::exists(h.snippet()));
}

TEST_CASE("sync_jail: a jail's manifest never names a snippet file (only a definition does)" *
          doctest::skip(!is_root())) {
  PoolsHost h;
  create_jail(h.php_jail({"blog"}));
  fs::remove(h.snippet());
  // Without a definition (a jail made before them, or synced through the library) the spec is the
  // manifest's, which an archive may have chosen: its name would put root's file anywhere.
  Manifest m = read_manifest(h.jail);
  m.plan.spec.name = "../escape";
  JailFs jail(h.jail);
  write_manifest(jail, m);
  SyncOptions o;
  o.config_dir = h.config;
  try {
    CHECK(sync_jail(h.jail, o).snippets.empty());
  } catch (const Error&) {
    // Refusing the manifest altogether is as good.
  }
  CHECK_FALSE(fs::exists(h.snippet()));
  CHECK_FALSE(fs::exists(h.config + "/escape.conf"));
  CHECK_FALSE(fs::exists(h.config + "/nginx/../escape.conf"));
}
