// SPDX-License-Identifier: MIT
// The dependency walk on the fake host root of tests/fixtures/make-fakeroot.sh: each program there
// exercises one rule of ld.so, and each expectation here is what the real ld.so loads from that root
// (tests/scenario/deps_oracle.sh runs it in a chroot to show it).
#include "jailbuild/error.hpp"
#include "jailbuild/walk.hpp"

#include "test_util.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

using namespace jailbuild;
using namespace jailbuild::test;

namespace {

const std::string triplet = fixture_info("triplet");
const std::string lib_dir = "/usr/lib/" + triplet; ///< where Debian keeps libraries (canonical)
const std::string lib_link = "/lib/" + triplet;    ///< the name ld.so searches first (via /lib -> usr/lib)

/// The walk of some programs of the fake root, each a root of its own.
WalkResult walk_fixture(const std::vector<std::string>& programs) {
  std::vector<WalkRoot> roots;
  for (const std::string& p : programs)
    roots.push_back({p, {}});
  return walk(HostRoot(fixture_root), roots);
}

/// The index of the object at a canonical path; fails the test when there is none.
size_t index_of(const WalkResult& r, const std::string& path) {
  for (size_t i = 0; i < r.objects.size(); ++i)
    if (r.objects[i].path == path) return i;
  FAIL("no object " << path);
  return 0;
}

bool has_object(const WalkResult& r, const std::string& path) {
  return std::any_of(r.objects.begin(), r.objects.end(), [&](const WalkObject& o) { return o.path == path; });
}

/// The edges from the object at `from` for DT_NEEDED `name`.
std::vector<WalkEdge> edges_of(const WalkResult& r, const std::string& from, const std::string& name) {
  size_t f = index_of(r, from);
  std::vector<WalkEdge> out;
  for (const WalkEdge& e : r.edges)
    if (e.from == f && e.name == name) out.push_back(e);
  return out;
}

/// The single edge from `from` for `name`, resolved; its target's canonical path.
std::string target_of(const WalkResult& r, const std::string& from, const std::string& name) {
  std::vector<WalkEdge> edges = edges_of(r, from, name);
  REQUIRE_MESSAGE(edges.size() == 1, from << " needs " << name << ": " << edges.size() << " edges");
  REQUIRE_MESSAGE(edges[0].to, from << " needs " << name << ": not found");
  return r.objects[*edges[0].to].path;
}

std::optional<SearchSource> source_of(const WalkResult& r, const std::string& from, const std::string& name) {
  std::vector<WalkEdge> edges = edges_of(r, from, name);
  REQUIRE(edges.size() == 1);
  return edges[0].found_in;
}

const Unresolved* unresolved(const WalkResult& r, const std::string& name) {
  for (const Unresolved& u : r.unresolved)
    if (u.name == name) return &u;
  return nullptr;
}

bool has_hop(const WalkObject& o, const SymlinkHop& hop) {
  return std::find(o.hops.begin(), o.hops.end(), hop) != o.hops.end();
}

std::string basename_of(const std::string& path) {
  return path.substr(path.rfind('/') + 1);
}

} // namespace

TEST_CASE("walk: DT_RPATH is inherited from the executable by a library without DT_RUNPATH") {
  WalkResult r = walk_fixture({"/usr/bin/rpath-exe"});
  CHECK(target_of(r, "/usr/bin/rpath-exe", "librpa.so") == "/opt/rpath/a/librpa.so");
  // librpa.so has no search path of its own: /opt/rpath/b comes from the program's DT_RPATH.
  CHECK(target_of(r, "/opt/rpath/a/librpa.so", "librpb.so") == "/opt/rpath/b/librpb.so");
  CHECK(source_of(r, "/opt/rpath/a/librpa.so", "librpb.so") == SearchSource::rpath);
  CHECK(r.unresolved.empty());
}

TEST_CASE("walk: DT_RUNPATH is not transitive") {
  WalkResult r = walk_fixture({"/usr/bin/runpath-exe"});
  CHECK(target_of(r, "/usr/bin/runpath-exe", "librun.so") == "/opt/runpath/lib/librun.so");
  CHECK(source_of(r, "/usr/bin/runpath-exe", "librun.so") == SearchSource::runpath);
  // librunleaf.so lies beside librun.so, but only the program's DT_RUNPATH names that directory.
  std::vector<WalkEdge> leaf = edges_of(r, "/opt/runpath/lib/librun.so", "librunleaf.so");
  REQUIRE(leaf.size() == 1);
  CHECK_FALSE(leaf[0].to);
  CHECK_FALSE(has_object(r, "/opt/runpath/lib/librunleaf.so"));
  REQUIRE(r.unresolved.size() == 1);
  CHECK(r.unresolved[0].name == "librunleaf.so");
  CHECK(r.unresolved[0].needed_by == std::vector<std::string>{"/opt/runpath/lib/librun.so"});
}

TEST_CASE("walk: $ORIGIN of a library opened through a symlinked directory") {
  WalkResult r = walk_fixture({"/usr/bin/plug-exe"});
  // Opened as /opt/plug/lib/libplug.so; /opt/plug/lib -> ../../srv/plug/lib.
  size_t plug = index_of(r, "/srv/plug/lib/libplug.so");
  CHECK(r.objects[plug].names == std::vector<std::string>{"/opt/plug/lib/libplug.so"});
  CHECK(has_hop(r.objects[plug], {"/opt/plug/lib", "../../srv/plug/lib"}));
  // $ORIGIN is /opt/plug/lib, the directory as opened: ld.so's RUNPATH entry is the text
  // "/opt/plug/lib/../deps", and open(2) follows the link before "..", into /srv/plug. The real ld.so
  // loads the "physical" copy; the "lexical" one in /opt/plug/deps is never opened.
  CHECK(target_of(r, "/srv/plug/lib/libplug.so", "libplugdep.so") == "/srv/plug/deps/libplugdep.so");
  CHECK(source_of(r, "/srv/plug/lib/libplug.so", "libplugdep.so") == SearchSource::runpath);
  CHECK_FALSE(has_object(r, "/opt/plug/deps/libplugdep.so"));
}

TEST_CASE("walk: $ORIGIN of the program is where it really is, not the link it was started by") {
  // /usr/bin/origin-exe -> ../../opt/origapp/bin/origin-exe, DT_RPATH $ORIGIN/../lib. ld.so asks the
  // kernel (/proc/self/exe), so $ORIGIN is /opt/origapp/bin; /usr/lib/liborigin.so is a wrong copy.
  for (std::string started_as : {"/usr/bin/origin-exe", "/bin/origin-exe"}) {
    INFO(started_as);
    WalkResult r = walk_fixture({started_as});
    size_t exe = index_of(r, "/opt/origapp/bin/origin-exe");
    CHECK(r.objects[exe].role == ObjectRole::root);
    CHECK(r.objects[exe].names == std::vector<std::string>{started_as});
    CHECK(has_hop(r.objects[exe], {"/usr/bin/origin-exe", "../../opt/origapp/bin/origin-exe"}));
    CHECK(target_of(r, "/opt/origapp/bin/origin-exe", "liborigin.so") == "/opt/origapp/lib/liborigin.so");
    CHECK(source_of(r, "/opt/origapp/bin/origin-exe", "liborigin.so") == SearchSource::rpath);
    CHECK_FALSE(has_object(r, "/usr/lib/liborigin.so"));
  }
}

TEST_CASE("walk: DF_1_NODEFLIB skips the default directories, not ld.so.conf's") {
  WalkResult r = walk_fixture({"/usr/bin/nodef-exe"});
  const std::string nodef = "/opt/nodef/lib/libnodef.so";
  CHECK(r.objects[index_of(r, nodef)].elf.nodeflib);
  // libndleaf.so is only in the multiarch directory, a default directory: not found.
  const Unresolved* leaf = unresolved(r, "libndleaf.so");
  REQUIRE(leaf);
  CHECK(leaf->needed_by == std::vector<std::string>{nodef});
  CHECK_FALSE(has_object(r, lib_dir + "/libndleaf.so"));
  // libc.so.6 was loaded already (by the program, breadth-first): NODEFLIB does not matter for it.
  CHECK(target_of(r, nodef, "libc.so.6") == lib_dir + "/libc.so.6");
  // libndconf.so.1 is in /opt/conf/lib, listed in ld.so.conf: ld.so still takes it from its cache.
  REQUIRE_FALSE(unresolved(r, "libndconf.so.1"));
  CHECK(target_of(r, nodef, "libndconf.so.1") == "/opt/conf/lib/libndconf.so.1");
  CHECK(source_of(r, nodef, "libndconf.so.1") == SearchSource::ld_so_conf);
}

TEST_CASE("walk: a wrong-machine copy earlier in the search path is skipped") {
  WalkResult r = walk_fixture({"/usr/bin/decoy-exe"});
  // /opt/decoy/lib (the program's DT_RPATH) holds a copy patched to another e_machine.
  CHECK(target_of(r, "/usr/bin/decoy-exe", "libdecoy.so.1") == lib_dir + "/libdecoy.so.1");
  CHECK(source_of(r, "/usr/bin/decoy-exe", "libdecoy.so.1") == SearchSource::default_dirs);
  CHECK_FALSE(has_object(r, "/opt/decoy/lib/libdecoy.so.1"));
  CHECK(r.unresolved.empty());
}

TEST_CASE("walk: a DT_NEEDED name with a slash is opened as it is, from the jail root") {
  WalkResult r = walk_fixture({"/usr/bin/slash-exe"});
  CHECK(target_of(r, "/usr/bin/slash-exe", "opt/abs/libnoso.so") == "/opt/abs/libnoso.so");
  CHECK_FALSE(source_of(r, "/usr/bin/slash-exe", "opt/abs/libnoso.so"));
  CHECK(r.unresolved.empty());
}

TEST_CASE("walk: $ORIGIN in a DT_NEEDED name is expanded, as ld.so does") {
  // glibc expands dynamic string tokens in DT_NEEDED too (_dl_map_object_deps); the result has a
  // slash, so it is opened as it is: /usr/bin/../lib/dst/libdst.so.
  WalkResult r = walk_fixture({"/usr/bin/dst-exe"});
  CHECK(r.unresolved.empty());
  CHECK(has_object(r, "/usr/lib/dst/libdst.so"));
  if (!r.unresolved.empty()) return;
  CHECK(target_of(r, "/usr/bin/dst-exe", "$ORIGIN/../lib/dst/libdst.so") == "/usr/lib/dst/libdst.so");
  CHECK_FALSE(source_of(r, "/usr/bin/dst-exe", "$ORIGIN/../lib/dst/libdst.so"));
}

TEST_CASE("walk: empty and relative DT_RPATH elements are relative to the jail root") {
  WalkResult r = walk_fixture({"/usr/bin/cwd-exe"}); // DT_RPATH ":opt/rel"
  CHECK(target_of(r, "/usr/bin/cwd-exe", "libempty.so") == "/libempty.so");
  CHECK(source_of(r, "/usr/bin/cwd-exe", "libempty.so") == SearchSource::rpath);
  CHECK(target_of(r, "/usr/bin/cwd-exe", "librel.so") == "/opt/rel/librel.so");
  CHECK(r.unresolved.empty());
}

TEST_CASE("walk: ld.so.conf directories are read through an include glob") {
  WalkResult r = walk_fixture({"/usr/bin/conf-exe"});
  CHECK(target_of(r, "/usr/bin/conf-exe", "libconf.so.1") == "/opt/conf/lib/libconf.so.1");
  CHECK(source_of(r, "/usr/bin/conf-exe", "libconf.so.1") == SearchSource::ld_so_conf);
  CHECK(source_of(r, "/usr/bin/conf-exe", "libc.so.6") == SearchSource::default_dirs);
}

TEST_CASE("walk: an object loaded already answers to its SONAME") {
  // The program needs libsn.so, whose SONAME is libsn-real.so.1; libsnuser.so needs libsn-real.so.1,
  // a name no file has: ld.so gives it the object already loaded.
  WalkResult r = walk_fixture({"/usr/bin/soname-exe"});
  const std::string sn = lib_dir + "/libsn.so";
  CHECK(target_of(r, "/usr/bin/soname-exe", "libsn.so") == sn);
  CHECK(target_of(r, lib_dir + "/libsnuser.so", "libsn-real.so.1") == sn);
  CHECK_FALSE(source_of(r, lib_dir + "/libsnuser.so", "libsn-real.so.1")); // reused, not searched
  CHECK(std::count_if(r.objects.begin(), r.objects.end(),
                      [&](const WalkObject& o) { return o.path == sn; }) == 1);
  CHECK(r.unresolved.empty());
}

TEST_CASE("walk: symlink hops are recorded with their exact link text") {
  WalkResult r = walk_fixture({"/bin/hello"});
  const WalkObject& hello = r.objects[index_of(r, "/usr/bin/hello")];
  CHECK(hello.names == std::vector<std::string>{"/bin/hello"});
  CHECK(hello.hops == std::vector<SymlinkHop>{{"/bin", "usr/bin"}});

  // libhop.so.1 -> libhop.so.1.0.0, reached as /lib/<triplet>/libhop.so.1 (merged /usr).
  const WalkObject& hop = r.objects[index_of(r, lib_dir + "/libhop.so.1.0.0")];
  CHECK(hop.names == std::vector<std::string>{lib_link + "/libhop.so.1"});
  CHECK(hop.hops ==
        std::vector<SymlinkHop>{{"/lib", "usr/lib"}, {lib_dir + "/libhop.so.1", "libhop.so.1.0.0"}});

  // The interpreter, by its PT_INTERP path: Debian's absolute link, then merged /usr again.
  const std::string interp = fixture_info("interpreter");
  const WalkObject& ld = r.objects[index_of(r, lib_dir + "/" + basename_of(interp))];
  CHECK(ld.role == ObjectRole::interpreter);
  CHECK(ld.names.front() == interp);
  const SymlinkHop absolute{"/usr" + interp, lib_link + "/" + basename_of(interp)};
  if (interp.rfind("/lib64/", 0) == 0) {
    CHECK(ld.hops == std::vector<SymlinkHop>{{"/lib64", "usr/lib64"}, absolute, {"/lib", "usr/lib"}});
  } else {
    CHECK(has_hop(ld, absolute));
    CHECK(has_hop(ld, {"/lib", "usr/lib"}));
  }
}

TEST_CASE("walk: the interpreter answers libc's DT_NEEDED by its SONAME") {
  WalkResult r = walk_fixture({"/usr/bin/hello"});
  const std::string interp = fixture_info("interpreter");
  REQUIRE(r.objects.size() >= 2);
  CHECK(r.objects[1].role == ObjectRole::interpreter);
  CHECK(target_of(r, "/usr/bin/hello", interp) == r.objects[1].path);
  CHECK(target_of(r, lib_dir + "/libc.so.6", basename_of(interp)) == r.objects[1].path);
  CHECK_FALSE(source_of(r, lib_dir + "/libc.so.6", basename_of(interp)));
  CHECK(r.unresolved.empty());
}

TEST_CASE("walk: two names of one file give one object") {
  // libtwin-b.so is a hard link of libtwin-a.so, libtwin-c.so a symlink to it.
  WalkResult r = walk_fixture({"/usr/bin/twin-exe"});
  size_t twin = index_of(r, lib_dir + "/libtwin-a.so");
  CHECK(r.objects[twin].names == std::vector<std::string>{lib_link + "/libtwin-a.so",
                                                          lib_link + "/libtwin-b.so",
                                                          lib_link + "/libtwin-c.so"});
  for (const char* name : {"libtwin-a.so", "libtwin-b.so", "libtwin-c.so"}) {
    INFO(name);
    CHECK(target_of(r, "/usr/bin/twin-exe", name) == r.objects[twin].path);
  }
  std::set<std::pair<uint64_t, uint64_t>> files;
  for (const WalkObject& o : r.objects)
    CHECK(files.insert({o.stamp.dev, o.stamp.ino}).second);
  CHECK_FALSE(has_object(r, lib_dir + "/libtwin-b.so"));
}

TEST_CASE("walk: objects come breadth-first, as ld.so loads them") {
  // bfs-exe needs a and b; a needs c, b needs d. Depth-first would give a, c, b, d.
  WalkResult r = walk_fixture({"/usr/bin/bfs-exe"});
  REQUIRE(r.objects.size() >= 2);
  CHECK(r.objects[0].path == "/usr/bin/bfs-exe");
  CHECK(r.objects[0].role == ObjectRole::root);
  CHECK(r.objects[1].role == ObjectRole::interpreter);
  size_t a = index_of(r, lib_dir + "/libbfsa.so"), b = index_of(r, lib_dir + "/libbfsb.so");
  size_t c = index_of(r, lib_dir + "/libbfsc.so"), d = index_of(r, lib_dir + "/libbfsd.so");
  size_t libc = index_of(r, lib_dir + "/libc.so.6");
  CHECK(a < b);
  CHECK(b < libc); // the program's own needs, in DT_NEEDED order, before anything they need
  CHECK(libc < c);
  CHECK(c < d);
}

TEST_CASE("walk: every unresolved name is reported at once, with all its needers") {
  WalkResult r = walk_fixture({"/usr/bin/missing-exe"});
  REQUIRE(r.unresolved.size() == 2);
  for (const char* name : {"libgone1.so", "libgone2.so"}) {
    INFO(name);
    const Unresolved* u = unresolved(r, name);
    REQUIRE(u);
    CHECK(u->needed_by == std::vector<std::string>{lib_dir + "/libneedy1.so", lib_dir + "/libneedy2.so"});
  }
  // The walk went on past them: everything else is there.
  CHECK(has_object(r, lib_dir + "/libc.so.6"));
}

// The fixture has a glibc-hwcaps variant only on x86_64.
TEST_CASE("walk: a glibc-hwcaps variant is recorded beside its base" *
          doctest::skip(triplet != "x86_64-linux-gnu")) {
  WalkResult r = walk_fixture({"/usr/bin/hw-exe"});
  // The CPU decides at run time which one ld.so loads: the jail needs both.
  size_t variant = index_of(r, lib_dir + "/glibc-hwcaps/x86-64-v3/libhw.so.1");
  size_t base = index_of(r, lib_dir + "/libhw.so.1");
  CHECK(r.objects[variant].role == ObjectRole::hwcaps_variant);
  CHECK(r.objects[base].role == ObjectRole::library);
  std::set<size_t> targets;
  for (const WalkEdge& e : edges_of(r, "/usr/bin/hw-exe", "libhw.so.1"))
    if (e.to) targets.insert(*e.to);
  CHECK(targets == std::set<size_t>{variant, base});
  CHECK(r.unresolved.empty());
}

TEST_CASE("walk: a module is resolved in the namespace of the program that loads it") {
  // mod.so needs libhosthelper.so, found only through host-exe's DT_RPATH.
  HostRoot host(fixture_root);
  WalkResult loaded = walk(host, {{"/usr/bin/host-exe", {}}, {"/opt/mod/mod.so", "/usr/bin/host-exe"}});
  CHECK(loaded.objects[index_of(loaded, "/opt/mod/mod.so")].role == ObjectRole::root);
  CHECK(target_of(loaded, "/opt/mod/mod.so", "libhosthelper.so") == "/opt/host/lib/libhosthelper.so");
  CHECK(source_of(loaded, "/opt/mod/mod.so", "libhosthelper.so") == SearchSource::rpath);
  CHECK(loaded.unresolved.empty());
  // Inspected on its own, the module cannot find it.
  WalkResult alone = walk(host, {{"/opt/mod/mod.so", {}}});
  CHECK(unresolved(alone, "libhosthelper.so"));
}

TEST_CASE("walk: roots share their objects") {
  WalkResult r = walk_fixture({"/usr/bin/hello", "/usr/bin/conf-exe", "/usr/bin/bfs-exe"});
  CHECK(std::count_if(r.objects.begin(), r.objects.end(),
                      [](const WalkObject& o) { return o.role == ObjectRole::root; }) == 3);
  std::set<std::string> paths;
  for (const WalkObject& o : r.objects)
    CHECK(paths.insert(o.path).second);
  // Roots first, as given, then the interpreter.
  CHECK(r.objects[0].path == "/usr/bin/hello");
  CHECK(r.objects[1].role == ObjectRole::interpreter);
}

TEST_CASE("walk: the reader is called once per file, with the file's stamp") {
  std::map<std::string, int> calls;
  ElfReader counting = [&](const std::string& real_path, const FileStamp& stamp) {
    ++calls[real_path];
    CHECK(stamp.ino != 0);
    CHECK(stamp.size > 0);
    return read_elf_dynamic(real_path);
  };
  std::vector<WalkRoot> roots;
  for (const char* p : {"/usr/bin/hello", "/usr/bin/bfs-exe", "/usr/bin/twin-exe", "/usr/bin/soname-exe",
                        "/usr/bin/conf-exe", "/usr/bin/decoy-exe", "/usr/bin/plug-exe"})
    roots.push_back({p, {}});
  WalkResult r = walk(HostRoot(fixture_root), roots, counting);
  for (const auto& [path, n] : calls) {
    INFO(path);
    CHECK(n == 1);
  }
  // The wrong-machine decoy was probed, never read.
  CHECK(calls.count(fixture_root + "/opt/decoy/lib/libdecoy.so.1") == 0);
  for (const WalkObject& o : r.objects)
    CHECK(calls.count(fixture_root + o.path) == 1);
}

TEST_CASE("walk: a missing, non-ELF or truncated root is an Error naming it") {
  HostRoot host(fixture_root);
  auto error_of = [&](const std::string& path) -> std::optional<Error> {
    try {
      walk(host, {{path, {}}});
    } catch (const Error& e) {
      return e;
    }
    return std::nullopt;
  };
  std::optional<Error> missing = error_of("/usr/bin/no-such-program");
  REQUIRE(missing);
  CHECK(missing->path() == "/usr/bin/no-such-program");
  std::optional<Error> text = error_of("/opt/text/libscript.so");
  REQUIRE(text);
  CHECK(text->path() == "/opt/text/libscript.so");
  CHECK(text->message() == "not an ELF file");
  std::optional<Error> cut = error_of("/opt/broken/libc-nodynamic.so.6");
  REQUIRE(cut);
  CHECK(cut->path().find("/opt/broken/libc-nodynamic.so.6") != std::string::npos);
  CHECK(cut->message().find("truncated") != std::string::npos);
}
