// SPDX-License-Identifier: MIT
// The dpkg database read as files (package_db.hpp): the list and status parsers on malformed and
// huge input, the limits, and the module rule through build_plan on the fake host root.
#include "jailbuild/package_db.hpp"
#include "jailbuild/plan_builder.hpp"
#include "jailbuild/profile.hpp"

#include "fake_host.hpp"
#include "test_util.hpp"

#include <doctest/doctest.h>

#include <algorithm>

using namespace jailbuild;
using namespace jailbuild::test;

TEST_CASE("parse_dpkg_list: clean absolute paths only; malformed lines skipped and counted") {
  DpkgList list = parse_dpkg_list("/.\n/usr\n/usr/lib/x/libz.so.1\n\nrelative/x\n/etc/../root/secret\n"
                                  "/usr//lib\n/usr/./lib\n/etc/a\tb\n/\n/usr/lib/last-without-newline");
  CHECK(list.paths ==
        std::vector<std::string_view>{"/usr", "/usr/lib/x/libz.so.1", "/usr/lib/last-without-newline"});
  CHECK(list.skipped == 6); // relative, "..", "//", ".", a tab, "/" alone ("/." is every list's first line)
}

TEST_CASE("parse_dpkg_list: a line longer than PATH_MAX is skipped, the next one still read") {
  std::string huge = "/" + std::string(1 << 20, 'a');
  std::string text = huge + "\n/usr/lib/ok.so\n"; // the views point into it
  DpkgList list = parse_dpkg_list(text);
  CHECK(list.paths == std::vector<std::string_view>{"/usr/lib/ok.so"});
  CHECK(list.skipped == 1);
  CHECK(parse_dpkg_list("").paths.empty());
}

TEST_CASE("parse_dpkg_status: fields, relationships, continuation lines, no trailing newline") {
  std::vector<DpkgPackage> pkgs = parse_dpkg_status(
      "Package: libmagickcore-6.q16-6\nStatus: install ok installed\nArchitecture: amd64\n"
      "Source: imagemagick (8:6.9.11)\nDepends: libc6 (>= 2.35), libx | liby:any, imagemagick-6-common\n"
      "Description: x\n Depends: not-a-field\nPre-Depends: dpkg (>= 1.17)\nRecommends: ghostscript\n\n"
      "garbage line without colon\n\nPackage: removed\nStatus: deinstall ok config-files\n"
      "Architecture: all\n\n\nPackage: last\nStatus: install ok installed");
  REQUIRE(pkgs.size() == 3);
  CHECK(pkgs[0].name == "libmagickcore-6.q16-6");
  CHECK(pkgs[0].source == "imagemagick");
  CHECK(pkgs[0].arch == "amd64");
  CHECK(pkgs[0].installed);
  CHECK(pkgs[0].depends ==
        std::vector<std::string>{"libc6", "libx", "liby", "imagemagick-6-common", "dpkg", "ghostscript"});
  CHECK(pkgs[1].name == "removed");
  CHECK(!pkgs[1].installed);
  CHECK(pkgs[1].source == "removed");
  CHECK(pkgs[2].name == "last");
  CHECK(pkgs[2].installed);
}

TEST_CASE("parse_dpkg_status: version, Multi-Arch, and files on disk while an apt run is in progress") {
  std::vector<DpkgPackage> pkgs = parse_dpkg_status(
      "Package: libssl3\nStatus: install ok triggers-pending\nArchitecture: amd64\nMulti-Arch: same\n"
      "Version: 3.0.17-1~deb12u2\n\nPackage: half\nStatus: install ok half-configured\n\n"
      "Package: unpacked\nStatus: install ok unpacked\n\nPackage: gone\nStatus: purge ok not-installed\n");
  REQUIRE(pkgs.size() == 4);
  CHECK(pkgs[0].version == "3.0.17-1~deb12u2");
  CHECK(pkgs[0].multi_arch == "same");
  // A sync from the apt hook must not take a package's modules out of the jail for a moment.
  CHECK(pkgs[0].installed);
  CHECK(pkgs[1].installed);
  CHECK(pkgs[2].installed);
  CHECK(!pkgs[3].installed);
}

TEST_CASE("PackageDb::load: no dpkg database is no rule, not an error") {
  TempDir root("pkgdb");
  CHECK(!PackageDb::load(HostRoot(root.path)).has_value());
}

TEST_CASE("PackageDb::load: a list over the limit is refused by its size, before it is read") {
  TempDir root("pkgdb");
  write_text(root / "var/lib/dpkg/status", "Package: big\nStatus: install ok installed\nArchitecture: all\n");
  std::string list = write_text(root / "var/lib/dpkg/info/big.list", "");
  REQUIRE(::truncate(list.c_str(), off_t{2} << 30) == 0); // sparse: 2 GiB claimed, nothing on disk
  std::string err;
  with_memory_cap(std::size_t{256} << 20,
                  [&] { err = error_of([&] { (void)PackageDb::load(HostRoot(root.path)); }); });
  CHECK(contains(err, "/var/lib/dpkg/info/big.list: larger than 32 MiB: not read"));
}

TEST_CASE("PackageDb::owner_of: through merged /usr, installed packages only, lists of others not read") {
  TempDir root("pkgdb");
  write_text(root / "var/lib/dpkg/status",
             "Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\n\n"
             "Package: gone\nStatus: deinstall ok config-files\nArchitecture: amd64\n");
  write_text(root / "var/lib/dpkg/info/zlib1g:amd64.list", "/.\n/lib/x86_64-linux-gnu/libz.so.1.2.13\n");
  write_text(root / "var/lib/dpkg/info/gone:amd64.list", "/.\n/usr/lib/x86_64-linux-gnu/libgone.so.1\n");
  write_text(root / "var/lib/dpkg/info/stray.list", "/.\n/usr/lib/x86_64-linux-gnu/libstray.so.1\n");
  HostRoot host(root.path);
  std::optional<PackageDb> db = PackageDb::load(host);
  REQUIRE(db);
  const DpkgPackage* z = db->owner_of("/usr/lib/x86_64-linux-gnu/libz.so.1.2.13");
  REQUIRE(z);
  CHECK(z->name == "zlib1g");
  CHECK(db->owner_of("/usr/lib/x86_64-linux-gnu/libgone.so.1") == nullptr);
  CHECK(db->owner_of("/usr/lib/x86_64-linux-gnu/libstray.so.1") == nullptr);
}

namespace {

const PlanEntry* entry_at(const Plan& plan, const std::string& path) {
  auto it = std::find_if(plan.entries.begin(), plan.entries.end(),
                         [&](const PlanEntry& e) { return e.path == path; });
  return it == plan.entries.end() ? nullptr : &*it;
}

} // namespace

TEST_CASE("build_plan: a library's modules, their closure and configuration come from its package's list") {
  FakeHost host;
  host.profile("img", "description = \"test\"\n[[elf]]\npaths = [\"/usr/bin/img-exe\"]\n");
  CreateOptions o = host.create_options({"img"});
  Plan plan =
      build_plan(HostRoot(host.root), ProfileSet::load(o.spec.profile_dirs), o.spec, Digests::while_copying);
  std::string lib = "/usr/lib/" + fixture_info("triplet");
  std::string im = lib + "/ImageMagick-6.9.11";
  const PlanEntry* png = entry_at(plan, im + "/modules-Q16/coders/png.so");
  REQUIRE(png);
  CHECK(png->requested_by == "module dir of libmagickcore-6.q16-6 (dpkg)");
  CHECK(png->role == EntryRole::library);
  REQUIRE(entry_at(plan, im + "/modules-Q16/filters/analyze.so"));
  REQUIRE(entry_at(plan, lib + "/libpngfake.so.16")); // the coder's own closure
  const PlanEntry* policy = entry_at(plan, "/etc/ImageMagick-6/policy.xml");
  REQUIRE(policy);
  CHECK(policy->role == EntryRole::config); // kept like a conffile when the admin edits it
  CHECK(policy->requested_by == "module config of imagemagick-6-common (dpkg)");
  CHECK(entry_at(plan, im + "/config-Q16/configure.xml"));
  // What the lists name but the rule never takes.
  const PlanEntry* la = entry_at(plan, im + "/modules-Q16/coders/png.la"); // libltdl opens it
  REQUIRE(la);
  CHECK(la->requested_by == "module dir of libmagickcore-6.q16-6 (dpkg)");
  CHECK(!entry_at(plan, im + "/modules-Q16/coders/orphan.la"));
  CHECK(!entry_at(plan, im + "/modules-Q16/coders/evil.so"));
  CHECK(!entry_at(plan, "/root/secret"));
  CHECK(!entry_at(plan, "/root"));
  CHECK(!entry_at(plan, "/usr/share/doc/libmagickcore-6.q16-6/copyright"));
}

TEST_CASE("build_plan: a jail whose closure has no module package is planned as before") {
  FakeHost host;
  CreateOptions o = host.create_options();
  Plan plan =
      build_plan(HostRoot(host.root), ProfileSet::load(o.spec.profile_dirs), o.spec, Digests::while_copying);
  for (const PlanEntry& e : plan.entries)
    CHECK(e.requested_by.find("(dpkg)") == std::string::npos);
}
