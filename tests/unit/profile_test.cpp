// SPDX-License-Identifier: MIT
#include "jailbuild/profile.hpp"

#include "test_util.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

using namespace jailbuild;
using namespace jailbuild::test;

namespace {

std::vector<std::string> names_of(const std::vector<const Profile*>& profiles) {
  std::vector<std::string> out;
  for (const Profile* p : profiles)
    out.push_back(p->name);
  return out;
}

} // namespace

TEST_CASE("profile: every field is parsed") {
  TempDir tmp("profile", 0700);
  std::string file = write_text(tmp / "builtin/web.toml", R"(description = "a web server"
include = []
package = "nginx"
requires = ["/usr/sbin/nginx"]
discover = "php-fpm"
users = ["www-data"]
groups = ["adm", "33"]

[[dirs]]
path = "/tmp"
mode = "1777"
owner = "www-data"
group = 33

[[dirs]]
path = "/var/lib/x"

[[files]]
path = "/etc/nginx"
recursive = true
optional = true
dest = "/etc/web"
mode = "0640"
owner = "root"
group = "www-data"

[[files]]
path = "/usr/lib/$TRIPLET/gconv/*.so"

[[symlinks]]
path = "/lib"
target = "usr/lib"

[[devices]]
path = "/dev/sda"
type = "block"
major = 8
minor = 0
mode = "0660"

[[devices]]
path = "/dev/null"
type = "char"
major = 1
minor = 3

[[elf]]
paths = ["/usr/sbin/nginx", "/etc/php/$PHP/x/*.so"]
optional = true

[[elf]]
paths = ["/bin/true"]

[[generate]]
path = "/etc/nsswitch.conf"
content = """
passwd: files
"""

[[binds]]
source = "/run/mysqld"
access = "rw"
noexec = true

[[binds]]
source = "/proc"
dest = "/hostproc"
)");
  ProfileSet set = ProfileSet::load({tmp / "builtin"});
  const Profile* p = set.find("web");
  REQUIRE(p != nullptr);
  CHECK(p->name == "web");
  CHECK(p->sources == std::vector<std::string>{file});
  CHECK(p->description == "a web server");
  CHECK(p->includes.empty());
  CHECK(p->package == "nginx");
  CHECK(p->required_paths == std::vector<std::string>{"/usr/sbin/nginx"});
  CHECK(p->discover == Discovery::php_fpm);
  CHECK(to_string(p->discover) == "php-fpm");
  CHECK(p->users == std::vector<std::string>{"www-data"});
  CHECK(p->groups == std::vector<std::string>{"adm", "33"});

  REQUIRE(p->dirs.size() == 2);
  CHECK(p->dirs[0].path == "/tmp");
  CHECK(p->dirs[0].mode == 01777);
  CHECK(p->dirs[0].owner == "www-data");
  CHECK(p->dirs[0].group == "33");
  CHECK(p->dirs[0].written_at.file == file);
  CHECK(p->dirs[0].written_at.line == 9);
  CHECK(p->dirs[1].mode == 0755);
  CHECK(p->dirs[1].owner == "root");
  CHECK(p->dirs[1].group == "root");

  REQUIRE(p->files.size() == 2);
  CHECK(p->files[0].path == "/etc/nginx");
  CHECK(p->files[0].dest == "/etc/web");
  CHECK(p->files[0].recursive == Recursive::yes);
  CHECK(p->files[0].presence == Presence::optional);
  CHECK(p->files[0].mode == 0640u);
  CHECK(p->files[0].owner == "root");
  CHECK(p->files[0].group == "www-data");
  CHECK(p->files[1].path == "/usr/lib/$TRIPLET/gconv/*.so");
  CHECK(p->files[1].dest == p->files[1].path);
  CHECK(p->files[1].recursive == Recursive::no);
  CHECK(p->files[1].presence == Presence::required);
  CHECK_FALSE(p->files[1].mode.has_value());
  CHECK_FALSE(p->files[1].owner.has_value()); // the host file's owner and group, mapped to the jail's
  CHECK_FALSE(p->files[1].group.has_value());

  REQUIRE(p->symlinks.size() == 1);
  CHECK(p->symlinks[0].path == "/lib");
  CHECK(p->symlinks[0].target == "usr/lib");

  REQUIRE(p->devices.size() == 2);
  CHECK(p->devices[0].type == DeviceSpec::Type::block);
  CHECK(p->devices[0].major == 8);
  CHECK(p->devices[0].minor == 0);
  CHECK(p->devices[0].mode == 0660);
  CHECK(p->devices[1].type == DeviceSpec::Type::character);
  CHECK(p->devices[1].mode == 0600);

  REQUIRE(p->elf.size() == 2);
  CHECK(p->elf[0].paths == std::vector<std::string>{"/usr/sbin/nginx", "/etc/php/$PHP/x/*.so"});
  CHECK(p->elf[0].presence == Presence::optional);
  CHECK(p->elf[1].presence == Presence::required);

  REQUIRE(p->generate.size() == 1);
  CHECK(p->generate[0].path == "/etc/nsswitch.conf");
  CHECK(p->generate[0].mode == 0644);
  CHECK(p->generate[0].content == "passwd: files\n");

  REQUIRE(p->binds.size() == 2);
  CHECK(p->binds[0].source == "/run/mysqld");
  CHECK(p->binds[0].dest == "/run/mysqld");
  CHECK(p->binds[0].access == BindAccess::read_write);
  CHECK(p->binds[0].noexec == NoExec::yes);
  CHECK(p->binds[1].dest == "/hostproc");
  CHECK(p->binds[1].access == BindAccess::read_only);
  CHECK(p->binds[1].noexec == NoExec::no);

  CHECK(set.names() == std::vector<std::string>{"web"});
  CHECK(set.source_text("web").rfind("# " + file + "\ndescription = \"a web server\"\n", 0) == 0);
}

TEST_CASE("profile: includes are expanded depth-first, includes first, each once") {
  TempDir tmp("profile", 0700);
  write_text(tmp / "p/base.toml", "");
  write_text(tmp / "p/nss.toml", "include = [\"base\"]\n");
  write_text(tmp / "p/dns.toml", "include = [\"base\", \"nss\"]\n");
  write_text(tmp / "p/web.toml", "include = [\"nss\", \"dns\", \"base\"]\n");
  write_text(tmp / "p/extra.toml", "");
  ProfileSet set = ProfileSet::load({tmp / "p"});
  CHECK(names_of(set.expand({"web"})) == std::vector<std::string>{"base", "nss", "dns", "web"});
  CHECK(names_of(set.expand({"extra", "web", "nss", "extra"})) ==
        std::vector<std::string>{"extra", "base", "nss", "dns", "web"});
  CHECK(set.expand({}).empty());
}

TEST_CASE("profile: an include cycle is an error naming the file and line") {
  TempDir tmp("profile", 0700);
  write_text(tmp / "p/a.toml", "include = [\"b\"]\n");
  std::string b = write_text(tmp / "p/b.toml", "description = \"b\"\ninclude = [\"a\"]\n");
  CHECK(error_of([&] { ProfileSet::load({tmp / "p"}); }) == b + ": line 2: include cycle: a -> b -> a");

  std::string self = write_text(tmp / "q/self.toml", "include = [\"self\"]\n");
  CHECK(error_of([&] { ProfileSet::load({tmp / "q"}); }) == self + ": line 1: include cycle: self -> self");
}

TEST_CASE("profile: including an unknown profile is an error naming the file") {
  TempDir tmp("profile", 0700);
  std::string a = write_text(tmp / "p/a.toml", "include = [\n  \"nope\",\n]\n");
  CHECK(error_of([&] { ProfileSet::load({tmp / "p"}); }) == a + ": line 2: include 'nope': no such profile");
}

TEST_CASE("profile: an unknown key is an error naming the file and line") {
  TempDir tmp("profile", 0700);
  std::string top = write_text(tmp / "p/top.toml", "description = \"x\"\n\nfrobnicate = 1\n");
  CHECK(error_of([&] { ProfileSet::load({tmp / "p"}); }) == top + ": line 3: unknown key 'frobnicate'");

  std::string dirs =
      write_text(tmp / "q/dirs.toml", "[[dirs]]\npath = \"/x\"\nowner = \"root\"\nmdoe = \"0755\"\n");
  CHECK(error_of([&] { ProfileSet::load({tmp / "q"}); }) ==
        dirs + ": line 4: unknown key 'mdoe' in [[dirs]]");
}

TEST_CASE("profile: wrong types and bad values name the file and line") {
  TempDir tmp("profile", 0700);
  auto load_one = [&](const std::string& text) {
    std::string dir = tmp / "case";
    std::filesystem::remove_all(dir);
    std::string file = write_text(tmp / "case/x.toml", text);
    std::string message = error_of([&] { ProfileSet::load({dir}); });
    REQUIRE(message.rfind(file + ": ", 0) == 0);
    return message.substr(file.size() + 2);
  };
  CHECK(load_one("[[dirs]]\npath = \"/x\"\nmode = \"0855\"\n") ==
        "line 3: mode '0855' must be an octal string like \"0755\"");
  CHECK(load_one("[[dirs]]\npath = \"/x\"\nmode = \"75\"\n") ==
        "line 3: mode '75' must be an octal string like \"0755\"");
  CHECK(load_one("[[dirs]]\npath = \"/x\"\nmode = 755\n") ==
        "line 3: mode must be an octal string like \"0755\", not an integer");
  CHECK(load_one("[[files]]\npath = \"/x\"\nrecursive = \"yes\"\n") ==
        "line 3: 'recursive' must be true or false, not a string");
  CHECK(load_one("users = \"www-data\"\n") == "line 1: 'users' must be an array of strings, not a string");
  CHECK(load_one("[[devices]]\npath = \"/dev/x\"\ntype = \"pipe\"\nmajor = 1\nminor = 1\n") ==
        "line 3: device type 'pipe' must be 'char' or 'block'");
  CHECK(load_one("[[devices]]\npath = \"/dev/x\"\ntype = \"char\"\nmajor = -1\nminor = 1\n") ==
        "line 4: 'major' is out of range: -1");
  CHECK(load_one("[[binds]]\nsource = \"/x\"\naccess = \"wr\"\n") ==
        "line 3: bind access 'wr' must be 'ro' or 'rw'");
  CHECK(load_one("[[files]]\npath = \"/x\"\ngroup = \"www data\"\n") ==
        "line 3: 'group' is not a valid name: 'www data'");
  CHECK(load_one("[[files]]\npath = \"/x\"\nowner = true\n") ==
        "line 3: 'owner' must be a name or a number, not a boolean");
  CHECK(load_one("discover = \"apache\"\n") ==
        "line 1: unknown discovery hook 'apache' (known: nginx, php-fpm, php-runtime)");
  CHECK(load_one("[[files]]\npath = \"etc/x\"\n") == "line 2: path 'etc/x' must be absolute");
  CHECK(load_one("[[files]]\npath = \"/etc/*.conf\"\ndest = \"/x\"\n") ==
        "line 3: 'dest' cannot be used with a glob path");
  CHECK(load_one("[[symlinks]]\npath = \"/../etc/x\"\ntarget = \"y\"\n") ==
        "line 2: jail path '/../etc/x' may not contain '..'");
  CHECK(load_one("[[elf]]\npaths = [\n  \"/usr/lib/$ARCH/x.so\",\n]\n") ==
        "line 3: unknown variable '$ARCH' in '/usr/lib/$ARCH/x.so' (known: $TRIPLET, $PHP)");
  CHECK(load_one("[[elf]]\noptional = true\n") == "line 1: [[elf]] needs a non-empty 'paths'");
  CHECK(load_one("dirs = \"/x\"\n") == "line 1: 'dirs' must be an array of tables, written [[dirs]]");
  CHECK(load_one("description = \"x\"\n\nfiles = [[\n").rfind("line 3: ", 0) == 0); // a TOML syntax error
}

TEST_CASE("profile: a later directory replaces a profile of the same name") {
  TempDir tmp("profile", 0700);
  write_text(tmp / "builtin/web.toml",
             "description = \"built-in\"\nusers = [\"www-data\"]\n[[dirs]]\npath = \"/a\"\n");
  write_text(tmp / "builtin/other.toml", "");
  std::string user = write_text(tmp / "user/web.toml", "description = \"mine\"\n[[dirs]]\npath = \"/b\"\n");
  write_text(tmp / "user/README", "not a profile");
  write_text(tmp / "user/.#web.toml", "not = a profile");
  ProfileSet set = ProfileSet::load({tmp / "builtin", tmp / "user", tmp / "missing"});
  const Profile* web = set.find("web");
  REQUIRE(web != nullptr);
  CHECK(web->description == "mine");
  CHECK(web->users.empty());
  REQUIRE(web->dirs.size() == 1);
  CHECK(web->dirs[0].path == "/b");
  CHECK(web->sources == std::vector<std::string>{user});
  CHECK(set.names() == std::vector<std::string>{"other", "web"});
}

TEST_CASE("profile: extend = true appends lists and overrides the scalars it sets") {
  TempDir tmp("profile", 0700);
  std::string builtin = write_text(tmp / "builtin/web.toml", R"(description = "built-in"
package = "nginx"
include = ["base"]
users = ["www-data"]
[[dirs]]
path = "/a"
)");
  write_text(tmp / "builtin/base.toml", "");
  write_text(tmp / "builtin/sh.toml", "");
  std::string user = write_text(tmp / "user/web.toml", R"(extend = true
description = "extended"
include = ["sh", "base"]
users = ["www-data", "backup"]
[[dirs]]
path = "/b"
)");
  ProfileSet set = ProfileSet::load({tmp / "builtin", tmp / "user"});
  const Profile* web = set.find("web");
  REQUIRE(web != nullptr);
  CHECK(web->description == "extended");
  CHECK(web->package == "nginx");
  CHECK(web->includes == std::vector<std::string>{"base", "sh"});
  CHECK(web->users == std::vector<std::string>{"www-data", "backup"});
  REQUIRE(web->dirs.size() == 2);
  CHECK(web->dirs[0].path == "/a");
  CHECK(web->dirs[1].path == "/b");
  CHECK(web->dirs[1].written_at.file == user);
  CHECK(web->sources == std::vector<std::string>{builtin, user});
  CHECK(names_of(set.expand({"web"})) == std::vector<std::string>{"base", "sh", "web"});

  std::string text = set.source_text("web");
  CHECK(text.find("# " + builtin + "\n") == 0);
  CHECK(text.find("\n# " + user + "\nextend = true\n") != std::string::npos);

  std::string orphan = write_text(tmp / "user2/nothing.toml", "description = \"x\"\nextend = true\n");
  CHECK(error_of([&] {
          ProfileSet::load({tmp / "builtin", tmp / "user2"});
        }) == orphan + ": line 2: extend = true, but no earlier directory has a profile 'nothing'");
}

TEST_CASE("profile: an unknown name lists the available profiles") {
  TempDir tmp("profile", 0700);
  write_text(tmp / "p/b.toml", "");
  write_text(tmp / "p/a.toml", "");
  write_text(tmp / "p/c.toml", "");
  ProfileSet set = ProfileSet::load({tmp / "p"});
  CHECK(error_of([&] { set.expand({"a", "zz"}); }) == "--with: unknown profile 'zz'; available: a, b, c");
  CHECK(error_of([&] { set.source_text("zz"); }) ==
        "profiles show: unknown profile 'zz'; available: a, b, c");
  CHECK(set.find("zz") == nullptr);
}

TEST_CASE("profile: the built-in directory must exist, user directories need not") {
  TempDir tmp("profile", 0700);
  std::string missing = tmp / "missing";
  CHECK(error_of([&] {
          ProfileSet::load({missing});
        }).rfind(missing + ": cannot read profile directory", 0) == 0);
  write_text(tmp / "p/a.toml", "");
  CHECK(ProfileSet::load({tmp / "p", missing}).names() == std::vector<std::string>{"a"});
}

TEST_CASE("profile: every built-in profile loads and expands") {
  ProfileSet set = ProfileSet::load({JB_SOURCE_DIR "/profiles"});
  std::vector<std::string> names = set.names();
  for (const char* expected :
       {"base", "nss", "dns", "tzdata", "gconv", "locale", "ca-certificates", "libgcc_s", "nginx", "php-fpm",
        "sh", "mail", "mysql-socket", "devlog", "proc"}) {
    CAPTURE(expected);
    CHECK(set.find(expected) != nullptr);
  }
  for (const std::string& name : names) {
    CAPTURE(name);
    std::vector<const Profile*> expanded = set.expand({name});
    REQUIRE_FALSE(expanded.empty());
    CHECK(expanded.back()->name == name);
    CHECK_FALSE(set.find(name)->description.empty());
  }
  CHECK(names_of(set.expand({"php-fpm"})) == std::vector<std::string>{"base", "nss", "dns", "tzdata", "gconv",
                                                                      "locale", "ca-certificates", "libgcc_s",
                                                                      "php-fpm"});
  CHECK(set.find("nginx")->discover == Discovery::nginx);
  CHECK(set.find("php-fpm")->discover == Discovery::php_fpm);
  // PHP's mail() runs sendmail through /bin/sh -c: the mail profile brings the shell, and nothing
  // else that a shell script would use.
  CHECK(names_of(set.expand({"mail"})) == std::vector<std::string>{"sh", "mail"});
  // nss-systemd would hand the jail a root user that its /etc/passwd does not have.
  const Profile* nss = set.find("nss");
  REQUIRE(nss->generate.size() == 1);
  CHECK(nss->generate[0].content.find("systemd") == std::string::npos);
}

TEST_CASE("builtin_profile_dir: a program of the build tree reads the source tree's profiles") {
  CHECK(builtin_profile_dir() == JB_SOURCE_DIR "/profiles");
}

TEST_CASE("profile_dir_problem: only directories no one else can write, never inside a jail") {
  TempDir tmp("profile-dirs", 0755);
  std::filesystem::create_directories(tmp / "ok");
  CHECK_FALSE(profile_dir_problem(tmp / "ok"));
  CHECK_FALSE(profile_dir_problem(tmp / "ok/missing")); // as /etc/jailbuild/profiles.d usually is
  CHECK_FALSE(profile_dir_problem("/etc/jailbuild/profiles.d"));

  CHECK(profile_dir_problem("relative") == "not a normalised absolute path");
  CHECK(profile_dir_problem(tmp / "ok/../ok") == "not a normalised absolute path");
  CHECK(profile_dir_problem(tmp / "ok/") == "not a normalised absolute path");

  std::filesystem::create_directories(tmp / "open");
  REQUIRE(::chmod((tmp / "open").c_str(), 0777) == 0);
  CHECK(profile_dir_problem(tmp / "open") == tmp / "open is writable by group or others");
  // Below it, anyone could swap or make the directory.
  std::filesystem::create_directories(tmp / "open/sub");
  CHECK(profile_dir_problem(tmp / "open/sub") ==
        tmp / "open is writable by group or others without the sticky bit");
  REQUIRE(::chmod((tmp / "open").c_str(), 01777) == 0); // like /tmp: the sticky bit keeps what is there
  CHECK_FALSE(profile_dir_problem(tmp / "open/sub"));
  // ... but not what is not there yet.
  CHECK(profile_dir_problem(tmp / "open/missing") ==
        tmp / "open is writable by group or others, who could make " + tmp / "open/missing");

  std::filesystem::create_symlink(tmp / "ok", tmp / "link");
  CHECK(profile_dir_problem(tmp / "link") == tmp / "link is a symlink: give the real path");
  write_text(tmp / "file", "");
  CHECK(profile_dir_problem(tmp / "file") == tmp / "file is not a directory");

  // Inside a jail: any directory on the way holding .jailbuild/.
  std::filesystem::create_directories(tmp / "jail/.jailbuild");
  std::filesystem::create_directories(tmp / "jail/opt/profiles");
  CHECK(profile_dir_problem(tmp / "jail/opt/profiles") ==
        tmp / "jail is a jail (it holds .jailbuild/): profiles are never read from inside one");
  CHECK(profile_dir_problem(tmp / "jail").has_value());
}

// Giving a directory to another user needs root.
TEST_CASE("profile_dir_problem: a directory of another user than root" * doctest::skip(!is_root())) {
  TempDir tmp("profile-dirs", 0755);
  std::filesystem::create_directories(tmp / "theirs");
  REQUIRE(::chown((tmp / "theirs").c_str(), 33, 33) == 0);
  CHECK(profile_dir_problem(tmp / "theirs") == tmp / "theirs is owned by uid 33, not root");
  CHECK_FALSE(profile_dir_problem(tmp / "theirs", 33)); // the owner of the executable, for its own
}

TEST_CASE("host_profile_dirs / recorded_profile_dirs: the host's, checked; recorded extras checked again") {
  TempDir tmp("profile-dirs", 0755);
  std::filesystem::create_directories(tmp / "extra");
  CHECK(host_profile_dirs({tmp / "extra"}) ==
        std::vector<std::string>{JB_SOURCE_DIR "/profiles", "/etc/jailbuild/profiles.d", tmp / "extra"});
  std::filesystem::create_directories(tmp / "open");
  REQUIRE(::chmod((tmp / "open").c_str(), 0775) == 0);
  CHECK(error_of([&] { host_profile_dirs({tmp / "open"}); }) ==
        tmp / "open: refusing to read profiles here: " + tmp / "open is writable by group or others");

  // A manifest's first two are the packing host's built-in and /etc ones: replaced by this host's.
  // Later ones were given on a create command line: kept while they pass, else left out.
  std::filesystem::create_directories(tmp / "jail/.jailbuild");
  std::filesystem::create_directories(tmp / "jail/evil");
  std::vector<std::string> warnings;
  std::vector<std::string> dirs = recorded_profile_dirs(
      {"/elsewhere/profiles", "/etc/jailbuild/profiles.d", tmp / "extra", tmp / "open", tmp / "jail/evil"},
      warnings);
  CHECK(dirs ==
        std::vector<std::string>{JB_SOURCE_DIR "/profiles", "/etc/jailbuild/profiles.d", tmp / "extra"});
  REQUIRE(warnings.size() == 2);
  CHECK(warnings[0].starts_with(tmp / "open: profile directory recorded in the manifest left out: "));
  CHECK(contains(warnings[1], "is a jail"));
}
