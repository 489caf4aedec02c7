// SPDX-License-Identifier: MIT
// A jail's life through the library: create writes its definition, sync applies an edited one,
// destroy_jail removes it without following what a service planted (destroy.hpp, jails.hpp).
#include "jailbuild/create.hpp"
#include "jailbuild/definition.hpp"
#include "jailbuild/destroy.hpp"
#include "jailbuild/jails.hpp"
#include "jailbuild/manifest.hpp"
#include "jailbuild/sync.hpp"

#include "fake_host.hpp"
#include "test_util.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

using namespace jailbuild;
using namespace jailbuild::test;
namespace fs = std::filesystem;

TEST_CASE("create_jail writes the definition; sync_jail applies the definition as the admin edited it" *
          doctest::skip(!is_root())) {
  FakeHost h;
  CreateResult r = create_jail(h.create_options());
  CHECK(r.definition == DefinitionWrite::written);
  Definitions defs(h.config);
  std::optional<Definition> d = defs.read("jail");
  REQUIRE(d);
  CHECK(d->dir == h.jail);
  CHECK(d->spec.services == std::vector<std::string>{"app"});
  // Only the admin's extra profile directory: the built-in one and CONFIG/profiles.d are found anew.
  CHECK(d->spec.profile_dirs == std::vector<std::string>{h.profiles});
  CHECK(read_manifest(h.jail).plan.spec.name == "jail");
  CHECK(create_jail(h.create_options()).definition == DefinitionWrite::unchanged);

  // The admin adds a service and a writable directory; the next sync applies them.
  d->spec.services = {"app", "extra"};
  d->spec.writable = {{"/var/www/up", "www-data", "www-data"}};
  defs.write(*d, Rewrite::yes);
  SyncOptions o;
  JailRef ref = resolve_jail(defs, "jail");
  o.definition = ref.definition->spec;
  o.definition->profile_dirs = host_profile_dirs(ref.definition->spec.profile_dirs);
  SyncReport report = sync_jail(h.jail, o);
  CHECK(report.planned);
  CHECK(read_text(h.jail + "/etc/app/extra.conf") == "extra=1\n");
  CHECK(lstat_of(h.jail + "/var/www/up").st_uid == 33);
  CHECK(read_manifest(h.jail).plan.spec.services == std::vector<std::string>{"app", "extra"});
  // And takes a service out again.
  o.definition->services = {"app"};
  sync_jail(h.jail, o);
  CHECK_FALSE(fs::exists(h.jail + "/etc/app/extra.conf"));
}

TEST_CASE("define_from_manifest: a jail made before definitions gets one, once" * doctest::skip(!is_root())) {
  FakeHost h;
  CreateOptions o = h.create_options();
  o.config_dir = h.dir / "elsewhere";
  create_jail(o);
  Definitions defs(h.config);
  CHECK_FALSE(resolve_jail(defs, h.jail).definition);
  std::vector<std::string> warnings;
  Definition d = define_from_manifest(defs, h.jail, "", warnings);
  CHECK(d.spec.name == "jail");
  CHECK(d.spec.services == std::vector<std::string>{"app"});
  CHECK(d.spec.profile_dirs == std::vector<std::string>{h.profiles});
  CHECK(resolve_jail(defs, h.jail).definition == d);
  CHECK(contains(error_of([&] { define_from_manifest(defs, h.jail, "other", warnings); }),
                 "already defined as the jail 'jail'"));
}

TEST_CASE("processes_in: a process whose cwd is in the directory" * doctest::skip(!is_root())) {
  TempDir tmp("procs", 0755);
  fs::create_directories(tmp / "jail/sub");
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    if (::chdir((tmp / "jail/sub").c_str()) != 0) ::_exit(1);
    ::pause();
    ::_exit(0);
  }
  std::vector<pid_t> found;
  for (int i = 0; i < 100 && found.empty(); ++i) {
    ::usleep(10000);
    found = processes_in(tmp / "jail");
  }
  CHECK(found == std::vector<pid_t>{child});
  CHECK(processes_in(tmp / "jai").empty()); // a prefix of the name is not the directory
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  CHECK(processes_in(tmp / "jail").empty());
}

TEST_CASE("destroy_jail: a symlink planted in the jail is removed, not followed; then the definition" *
          doctest::skip(!is_root())) {
  FakeHost h;
  create_jail(h.create_options());
  TempDir outside("outside", 0755);
  write_text(outside / "file", "keep");
  fs::create_symlink(outside.path, h.jail + "/var/lib/app/escape");
  fs::create_symlink(outside / "file", h.jail + "/var/lib/app/escape-file");
  Definitions defs(h.config);
  DestroyResult r = destroy_jail(resolve_jail(defs, "jail"), {h.config, h.state});
  CHECK_FALSE(fs::exists(h.jail));
  CHECK(read_text(outside / "file") == "keep");
  CHECK(r.definition_removed);
  CHECK_FALSE(defs.read("jail"));
  CHECK(Registry(h.state).list().empty());
}
