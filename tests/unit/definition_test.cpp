// SPDX-License-Identifier: MIT
// Jail definitions (definition.hpp) and how commands name jails (jails.hpp).
#include "jailbuild/definition.hpp"
#include "jailbuild/jails.hpp"

#include "test_util.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

using namespace jailbuild;
using namespace jailbuild::test;

namespace {

Definition sample(const std::string& name = "blog", const std::string& dir = "/var/www/blog") {
  Definition d;
  d.dir = dir;
  d.spec.name = name;
  d.spec.services = {"nginx", "php-fpm"};
  d.spec.php_version = "8.2";
  d.spec.pools = {"blog"};
  d.spec.excludes = {"/etc/nginx/sites-enabled/default"};
  d.spec.writable = {{"/var/www/blog/uploads", "blog", "blog"}};
  d.spec.binds = {{"/run/mysqld", "/run/mysqld", false, true}};
  d.spec.files = {{"/etc/ssl/blog.key", "/etc/ssl/private/blog.key", true}};
  d.spec.profile_dirs = {"/srv/profiles"};
  return d;
}

} // namespace

TEST_CASE("invalid_jail_name: [a-z0-9][a-z0-9_-]*, at most 64 characters") {
  for (const char* good : {"blog", "a", "0", "shop-2", "my_site"})
    CHECK_FALSE(invalid_jail_name(good));
  for (const char* bad : {"", "-blog", "_x", "Blog", "a.b", "a/b", "../x", "a b", "é"})
    CHECK(invalid_jail_name(bad));
  CHECK_FALSE(invalid_jail_name(std::string(64, 'a')));
  CHECK(invalid_jail_name(std::string(65, 'a')));
  CHECK(default_jail_name("/var/www/blog") == "blog");
  CHECK(default_jail_name("/var/www/Blog.example") == "blog-example");
  CHECK(default_jail_name("/srv/_x.y") == "x-y");
  CHECK(default_jail_name("/srv/_x.y") == "x-y");
  CHECK(contains(error_of([] { default_jail_name("/srv/___"); }), "--name"));
  CHECK(contains(error_of([] { default_jail_name(std::string("/srv/") + std::string(70, 'a')); }), "--name"));
}

TEST_CASE("definition_to_toml / definition_from_toml: a round trip, keys in a fixed order, a header") {
  Definition d = sample();
  std::string text = definition_to_toml(d);
  CHECK(text.starts_with("# jailbuild jail definition"));
  CHECK(text.find("name = ") < text.find("dir = "));
  CHECK(text.find("dir = ") < text.find("services = "));
  CHECK(definition_from_toml(text, "blog.toml", "blog") == d);
  // Quotes, backslashes and control characters in a value survive.
  d.spec.excludes = {"/etc/a\"b\\c", "/etc/tab\there"};
  CHECK(definition_from_toml(definition_to_toml(d), "blog.toml", "blog") == d);
  // Optional keys have their defaults: host root "/", writable owned by www-data.
  Definition small = definition_from_toml("name = \"x\"\ndir = \"/srv/x\"\nservices = [\"nginx\"]\n"
                                          "[[writable]]\npath = \"/var/www/up\"\n",
                                          "x.toml", "x");
  CHECK(small.spec.host_root == "/");
  CHECK(small.spec.writable.at(0).owner == "www-data");
  CHECK(small.spec.writable.at(0).group == "www-data");
}

TEST_CASE("definition_from_toml: errors name the file and line; unknown keys and other names refused") {
  auto error = [](const std::string& text, const char* name = "x") {
    return error_of([&] { definition_from_toml(text, "/etc/jailbuild/jails/x.toml", name); });
  };
  const std::string head = "name = \"x\"\ndir = \"/srv/x\"\nservices = [\"nginx\"]\n";
  CHECK(error(head + "servces = [\"php-fpm\"]\n") ==
        "/etc/jailbuild/jails/x.toml: line 4: unknown key 'servces'");
  CHECK(contains(error(head + "[[binds]]\nsource = \"/run\"\nmode = \"rw\"\n"),
                 "line 6: unknown key 'mode' in [[binds]]"));
  CHECK(contains(error(head + "[[binds]]\nsource = \"/run\"\naccess = \"rwx\"\n"), "line 6"));
  CHECK(contains(error("name = \"y\"\ndir = \"/srv/x\"\nservices = [\"nginx\"]\n"),
                 "line 1: the name \"y\" is not the file's"));
  CHECK(contains(error("name = \"x\"\ndir = \"srv/x\"\nservices = [\"nginx\"]\n"), "line 2"));
  CHECK(contains(error("name = \"x\"\ndir = \"/srv/../etc\"\nservices = [\"nginx\"]\n"),
                 "clean absolute path"));
  CHECK(contains(error("name = \"x\"\ndir = \"/srv/x\"\n"), "needs 'services'"));
  CHECK(contains(error("name = \"x\"\ndir = \"/srv/x\"\nservices = [\n"), "x.toml: line"));
}

TEST_CASE("Definitions: write, read, names; a rewrite only when asked; the same intent never rewritten") {
  TempDir tmp("definitions", 0755);
  Definitions defs(tmp / "config");
  CHECK(defs.names().empty());
  CHECK_FALSE(defs.read("blog"));
  Definition d = sample();
  CHECK(defs.write(d, Rewrite::yes));
  struct stat st = lstat_of(defs.path_of("blog"));
  CHECK((st.st_mode & 07777) == 0644);
  CHECK((lstat_of(defs.dir()).st_mode & 07777) == 0755);
  CHECK(defs.read("blog") == d);
  CHECK(defs.names() == std::vector<std::string>{"blog"});
  // An admin's comment stays when nothing the jail asks for changed.
  write_text(defs.path_of("blog"), "# mine\n" + read_text(defs.path_of("blog")));
  CHECK_FALSE(defs.write(d, Rewrite::yes));
  CHECK(read_text(defs.path_of("blog")).starts_with("# mine\n"));
  Definition other = d;
  other.spec.services = {"nginx"};
  CHECK_FALSE(defs.write(other, Rewrite::no));
  CHECK(defs.read("blog") == d);
  CHECK(defs.write(other, Rewrite::yes));
  CHECK(defs.read("blog") == other);
  // Not definitions: other suffixes, invalid names.
  write_text(defs.dir() + "/notes.txt", "");
  write_text(defs.dir() + "/Bad.toml", "");
  CHECK(defs.names() == std::vector<std::string>{"blog"});
  defs.remove("blog");
  defs.remove("blog");
  CHECK(defs.names().empty());
}

TEST_CASE("Definitions::read: a definition others may write, or in a directory they may write, is refused" *
          doctest::skip(!is_root())) {
  TempDir tmp("definitions", 0755);
  Definitions defs(tmp / "config");
  defs.write(sample(), Rewrite::yes);
  const std::string file = defs.path_of("blog");
  // Owned by a service user (www-data, 33): it could add a bind of /etc.
  REQUIRE(::chown(file.c_str(), 33, 33) == 0);
  CHECK(contains(error_of([&] { defs.read("blog"); }), "owned by uid 33, not root"));
  REQUIRE(::chown(file.c_str(), 0, 0) == 0);
  REQUIRE(::chmod(file.c_str(), 0666) == 0);
  CHECK(contains(error_of([&] { defs.read("blog"); }), "writable by group or others"));
  REQUIRE(::chmod(file.c_str(), 0644) == 0);
  REQUIRE(::chmod(defs.dir().c_str(), 0777) == 0);
  CHECK(contains(error_of([&] { defs.read("blog"); }), "refusing to read a jail definition here"));
  REQUIRE(::chmod(defs.dir().c_str(), 0755) == 0);
  REQUIRE(::chown((tmp / "config").c_str(), 33, 33) == 0);
  CHECK(contains(error_of([&] { defs.read("blog"); }), "owned by uid 33"));
  REQUIRE(::chown((tmp / "config").c_str(), 0, 0) == 0);
  // A symlink to a definition elsewhere is not one.
  std::filesystem::rename(file, tmp / "elsewhere.toml");
  std::filesystem::create_symlink(tmp / "elsewhere.toml", file);
  CHECK(contains(error_of([&] { defs.read("blog"); }), "symlink"));
}

TEST_CASE("resolve_jail: a '/' makes a DIR, anything else a NAME; check_unique: one name, one dir") {
  TempDir tmp("definitions", 0755);
  Definitions defs(tmp / "config");
  defs.write(sample("blog", "/var/www/blog"), Rewrite::yes);
  defs.write(sample("shop", "/srv/jails/www"), Rewrite::yes);
  CHECK(resolve_jail(defs, "blog").dir == "/var/www/blog");
  CHECK(resolve_jail(defs, "blog").definition->spec.name == "blog");
  // By dir: the one named after its base name, or any other that names it.
  CHECK(resolve_jail(defs, "/var/www/blog").definition->spec.name == "blog");
  CHECK(resolve_jail(defs, "/srv/jails/www/").definition->spec.name == "shop");
  // A dir no definition names: a jail made before definitions.
  JailRef legacy = resolve_jail(defs, "/srv/old");
  CHECK(legacy.dir == "/srv/old");
  CHECK_FALSE(legacy.definition);
  CHECK(contains(error_of([&] { resolve_jail(defs, "nosuch"); }), "no jail called so"));
  CHECK(contains(error_of([&] { resolve_jail(defs, "Blog.x"); }), "neither a jail name nor a directory"));
  CHECK(contains(error_of([&] { check_unique(defs, "blog", "/srv/other"); }), "is the jail /var/www/blog's"));
  CHECK(contains(error_of([&] { check_unique(defs, "www", "/srv/jails/www"); }),
                 "already defined as the jail 'shop'"));
  CHECK_NOTHROW(check_unique(defs, "blog", "/var/www/blog"));
  CHECK_NOTHROW(check_unique(defs, "new", "/srv/new"));
}

TEST_CASE("jails_to_sync: registered jails with their definitions; unregistered defined ones set apart") {
  TempDir tmp("definitions", 0755);
  std::filesystem::create_directories(tmp / "jails/blog");
  std::filesystem::create_directories(tmp / "jails/old");
  Definitions defs(tmp / "config");
  defs.write(sample("blog", tmp / "jails/blog"), Rewrite::yes);
  defs.write(sample("failed", tmp / "jails/failed"), Rewrite::yes);
  Registry registry(tmp / "state");
  registry.add(tmp / "jails/blog");
  registry.add(tmp / "jails/old");
  AllJails all = jails_to_sync(defs, registry, Unregister::none);
  REQUIRE(all.jails.size() == 2);
  CHECK(all.jails[0].definition->spec.name == "blog");
  CHECK_FALSE(all.jails[1].definition);
  CHECK(all.unregistered == std::vector<std::string>{"failed"});
  CHECK(all.refused.empty());
}
