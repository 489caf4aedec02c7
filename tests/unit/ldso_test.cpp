// SPDX-License-Identifier: MIT
// The dynamic linker's search rules as pure functions: hand-made objects, no files (except the
// ld.so.conf cases, which read a temporary host root). Each expectation is what glibc 2.36's ld.so
// does on Debian 12, checked against the real ld.so in tests/scenario/deps_oracle.sh where a file
// layout can show it.
#include "jailbuild/error.hpp"
#include "jailbuild/hostfs.hpp"
#include "jailbuild/ldso.hpp"

#include "test_util.hpp"

#include <doctest/doctest.h>

#include <elf.h>
#include <string>
#include <sys/stat.h>
#include <vector>

using namespace jailbuild;
using namespace jailbuild::test;

namespace {

ElfInfo elf_of_machine(uint16_t machine, ElfClass elf_class = ElfClass::elf64, uint32_t flags = 0) {
  ElfInfo info;
  info.machine = machine;
  info.elf_class = elf_class;
  info.flags = flags;
  return info;
}

Platform amd64() {
  return platform_for(elf_of_machine(EM_X86_64), "/usr/sbin/test");
}

LinkerObject object(std::string origin, std::optional<std::string> rpath = std::nullopt,
                    std::optional<std::string> runpath = std::nullopt, bool nodeflib = false) {
  return LinkerObject{std::move(origin), std::move(rpath), std::move(runpath), nodeflib};
}

/// search_dirs() with the platform's default directories appended to the expectation by the caller.
std::vector<SearchDir> defaults(const Platform& p) {
  std::vector<SearchDir> out;
  for (const std::string& d : p.default_dirs)
    out.push_back({d, SearchSource::default_dirs});
  return out;
}

std::vector<SearchDir> concat(std::vector<SearchDir> a, const std::vector<SearchDir>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

/// A list as one string, so that a failed CHECK shows both sides.
std::string show(const std::vector<std::string>& list) {
  std::string out = "[";
  for (const std::string& s : list)
    out += (out.size() > 1 ? " | " : "") + s;
  return out + "]";
}
std::string show(const std::vector<SearchDir>& dirs) {
  std::string out;
  for (const SearchDir& d : dirs)
    out += std::string(to_string(d.source)) + " " + d.dir + "\n";
  return out;
}

} // namespace

TEST_CASE("resolve: platform_for x86_64 is Debian's x86_64-linux-gnu with glibc-hwcaps levels") {
  Platform p = amd64();
  CHECK(p.triplet == "x86_64-linux-gnu");
  CHECK(p.lib == "lib/x86_64-linux-gnu");
  CHECK(p.platform == "x86_64");
  REQUIRE(p.hwcap_subdirs.size() >= 3);
  // glibc-hwcaps levels best first, before any legacy directory.
  CHECK(p.hwcap_subdirs[0] == "glibc-hwcaps/x86-64-v4");
  CHECK(p.hwcap_subdirs[1] == "glibc-hwcaps/x86-64-v3");
  CHECK(p.hwcap_subdirs[2] == "glibc-hwcaps/x86-64-v2");
  // What `ld.so --help` lists as the system search path on Debian 12.
  CHECK(show(p.default_dirs) ==
        show(std::vector<std::string>{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib",
                                      "/usr/lib"}));
}

TEST_CASE("resolve: platform_for other machines takes the triplet from machine, class and flags") {
  Platform arm64 = platform_for(elf_of_machine(EM_AARCH64), "/x");
  CHECK(arm64.triplet == "aarch64-linux-gnu");
  CHECK(arm64.lib == "lib/aarch64-linux-gnu");
  CHECK(arm64.platform == "aarch64");
  CHECK(arm64.default_dirs.front() == "/lib/aarch64-linux-gnu");

  Platform i386 = platform_for(elf_of_machine(EM_386, ElfClass::elf32), "/x");
  CHECK(i386.triplet == "i386-linux-gnu");
  CHECK(i386.platform == "i686");
  CHECK(i386.default_dirs[1] == "/usr/lib/i386-linux-gnu");

  // armhf and armel share EM_ARM; only the float ABI flag tells them apart.
  CHECK(platform_for(elf_of_machine(EM_ARM, ElfClass::elf32, EF_ARM_ABI_FLOAT_HARD), "/x").triplet ==
        "arm-linux-gnueabihf");
  CHECK(platform_for(elf_of_machine(EM_ARM, ElfClass::elf32, 0), "/x").triplet == "arm-linux-gnueabi");
}

TEST_CASE("resolve: platform_for an unknown machine is an Error naming the file") {
  try {
    platform_for(elf_of_machine(0x7777), "/opt/odd/libodd.so");
    FAIL("no Error for machine 0x7777");
  } catch (const Error& e) {
    CHECK(e.path() == "/opt/odd/libodd.so");
    CHECK(e.message().find(std::to_string(0x7777)) != std::string::npos);
  }
}

TEST_CASE("resolve: expand_search_list expands $ORIGIN, ${ORIGIN}, $LIB and $PLATFORM") {
  Platform p = amd64();
  CHECK(show(expand_search_list("$ORIGIN", "/opt/app/lib", p)) ==
        show(std::vector<std::string>{"/opt/app/lib"}));
  CHECK(show(expand_search_list("${ORIGIN}/plugins", "/opt/app/lib", p)) ==
        show(std::vector<std::string>{"/opt/app/lib/plugins"}));
  CHECK(show(expand_search_list("/opt/$LIB:/usr/${LIB}/extra", "/o", p)) ==
        show(std::vector<std::string>{"/opt/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu/extra"}));
  CHECK(show(expand_search_list("/opt/$PLATFORM/lib:/opt/${PLATFORM}", "/o", p)) ==
        show(std::vector<std::string>{"/opt/x86_64/lib", "/opt/x86_64"}));
  CHECK(show(expand_search_list("$ORIGIN:$ORIGIN/a:/b", "/o", p)) ==
        show(std::vector<std::string>{"/o", "/o/a", "/b"}));
}

TEST_CASE("resolve: expand_search_list keeps what is not a token verbatim") {
  Platform p = amd64();
  // A token ends where an identifier could not continue: $ORIGINAL is not $ORIGIN followed by "AL".
  CHECK(show(expand_search_list("/x/$ORIGINAL", "/o", p)) == show(std::vector<std::string>{"/x/$ORIGINAL"}));
  CHECK(show(expand_search_list("/x/$FOO/y", "/o", p)) == show(std::vector<std::string>{"/x/$FOO/y"}));
  CHECK(show(expand_search_list("/x/${ORIGIN", "/o", p)) == show(std::vector<std::string>{"/x/${ORIGIN"}));
}

TEST_CASE("resolve: expand_search_list makes empty and relative elements relative to the jail root") {
  Platform p = amd64();
  // ld.so opens them from the working directory; a chrooted daemon's is the jail root.
  CHECK(show(expand_search_list("", "/o", p)) == show(std::vector<std::string>{"/"}));
  CHECK(show(expand_search_list("/a::/b", "/o", p)) == show(std::vector<std::string>{"/a", "/", "/b"}));
  CHECK(show(expand_search_list(":", "/o", p)) == show(std::vector<std::string>{"/", "/"}));
  CHECK(show(expand_search_list("/a:", "/o", p)) == show(std::vector<std::string>{"/a", "/"}));
  CHECK(show(expand_search_list("opt/rel", "/o", p)) == show(std::vector<std::string>{"/opt/rel"}));
  CHECK(show(expand_search_list("/a/b/", "/o", p)) == show(std::vector<std::string>{"/a/b"}));
}

TEST_CASE("resolve: expand_search_list leaves '..' after $ORIGIN for the kernel to resolve") {
  // ld.so pastes $ORIGIN in as text and open(2) resolves "..": after following a symlinked
  // directory, so "/opt/plug/lib/../deps" is the deps directory beside the link's *target*.
  // Collapsing ".." here would name "/opt/plug/deps", which ld.so never opens (see the walk case
  // "$ORIGIN/.. through a symlinked directory").
  Platform p = amd64();
  CHECK(show(expand_search_list("$ORIGIN/../deps", "/opt/plug/lib", p)) ==
        show(std::vector<std::string>{"/opt/plug/lib/../deps"}));
}

TEST_CASE("resolve: origin_of a library is the directory it was opened by, of the program its real path") {
  CHECK(origin_of("/usr/lib/libx.so", "/opt/real/libx.so.1", OriginOf::library) == "/usr/lib");
  CHECK(origin_of("/usr/bin/app", "/opt/app/bin/app", OriginOf::main_executable) == "/opt/app/bin");
  // Opened through "..": ld.so keeps the name as it opened it; so must $ORIGIN.
  CHECK(origin_of("/opt/plug/lib/../deps/libd.so", "/srv/plug/deps/libd.so", OriginOf::library) ==
        "/opt/plug/lib/../deps");
}

TEST_CASE("resolve: DT_RPATH of the requester, then of each loader, then of the executable") {
  Platform p = amd64();
  LinkerObject req = object("/req", "/r1");
  LinkerObject mid = object("/mid", "/r2");
  LinkerObject exe = object("/exe", "/r3:$ORIGIN/lib");
  std::vector<SearchDir> rules = {{"/r1", SearchSource::rpath},
                                  {"/r2", SearchSource::rpath},
                                  {"/r3", SearchSource::rpath},
                                  {"/exe/lib", SearchSource::rpath},
                                  {"/conf", SearchSource::ld_so_conf}};
  // The chain normally ends with the executable: it is not searched twice.
  CHECK(show(search_dirs({&req, &mid, &exe}, exe, {"/conf"}, p)) == show(concat(rules, defaults(p))));
  // A module dlopen()ed in another program's namespace: the executable's DT_RPATH still comes last.
  CHECK(show(search_dirs({&req, &mid}, exe, {"/conf"}, p)) == show(concat(rules, defaults(p))));
}

TEST_CASE("resolve: $ORIGIN in a DT_RPATH is the origin of the object that carries it") {
  Platform p = amd64();
  LinkerObject req = object("/a", "$ORIGIN/lib");
  LinkerObject exe = object("/b", "$ORIGIN/lib");
  std::vector<SearchDir> expected = {{"/a/lib", SearchSource::rpath}, {"/b/lib", SearchSource::rpath}};
  CHECK(show(search_dirs({&req, &exe}, exe, {}, p)) == show(concat(expected, defaults(p))));
}

TEST_CASE("resolve: a requester with DT_RUNPATH ignores every DT_RPATH") {
  Platform p = amd64();
  LinkerObject req = object("/req", "/ignored", "/run");
  LinkerObject mid = object("/mid", "/r2");
  LinkerObject exe = object("/exe", "/r3");
  std::vector<SearchDir> expected = {{"/run", SearchSource::runpath}, {"/conf", SearchSource::ld_so_conf}};
  CHECK(show(search_dirs({&req, &mid, &exe}, exe, {"/conf"}, p)) == show(concat(expected, defaults(p))));
}

TEST_CASE("resolve: an object's DT_RPATH is ignored when it has DT_RUNPATH, the executable's too") {
  Platform p = amd64();
  LinkerObject req = object("/req", "/r1");
  LinkerObject mid = object("/mid", "/r2", "/run2");
  LinkerObject exe = object("/exe", "/r3", "/run3");
  std::vector<SearchDir> expected = {{"/r1", SearchSource::rpath}, {"/conf", SearchSource::ld_so_conf}};
  CHECK(show(search_dirs({&req, &mid, &exe}, exe, {"/conf"}, p)) == show(concat(expected, defaults(p))));
}

TEST_CASE("resolve: DT_RUNPATH is not transitive") {
  Platform p = amd64();
  LinkerObject req = object("/req");
  LinkerObject mid = object("/mid", std::nullopt, "/run2");
  LinkerObject exe = object("/exe", std::nullopt, "/run3");
  std::vector<SearchDir> expected = {{"/conf", SearchSource::ld_so_conf}};
  CHECK(show(search_dirs({&req, &mid, &exe}, exe, {"/conf"}, p)) == show(concat(expected, defaults(p))));
}

TEST_CASE("resolve: DF_1_NODEFLIB drops the default directories") {
  Platform p = amd64();
  LinkerObject req = object("/req", "/r1", std::nullopt, true);
  LinkerObject exe = object("/exe");
  std::vector<SearchDir> dirs = search_dirs({&req, &exe}, exe, {"/lib/x86_64-linux-gnu"}, p);
  REQUIRE_FALSE(dirs.empty());
  CHECK(dirs.front() == SearchDir{"/r1", SearchSource::rpath});
  for (const SearchDir& d : dirs) {
    INFO(d.dir);
    CHECK(d.source != SearchSource::default_dirs);
    // The ld.so.cache entries below a system directory are refused too.
    CHECK(d.dir != "/lib/x86_64-linux-gnu");
  }
  // Only the requester's flag counts: a loader with NODEFLIB changes nothing for its needs.
  LinkerObject plain = object("/plain");
  LinkerObject strict_loader = object("/strict", std::nullopt, std::nullopt, true);
  CHECK(show(search_dirs({&plain, &strict_loader}, strict_loader, {"/conf"}, p)) ==
        show(concat({{"/conf", SearchSource::ld_so_conf}}, defaults(p))));
}

TEST_CASE("resolve: DF_1_NODEFLIB keeps the ld.so.cache entries outside the system directories") {
  // glibc 2.36 elf/dl-load.c: with NODEFLIB the cache is still consulted, and only an entry whose
  // path starts with a system directory (/lib/<triplet>/, /usr/lib/<triplet>/, /lib/, /usr/lib/)
  // is refused. Checked against the real ld.so by the nodef-exe fixture in deps_oracle.sh.
  Platform p = amd64();
  LinkerObject req = object("/req", std::nullopt, "/run", true);
  LinkerObject exe = object("/exe");
  std::vector<std::string> conf = {"/usr/local/lib", "/lib/x86_64-linux-gnu",
                                   "/usr/lib/x86_64-linux-gnu/libfakeroot", "/opt/conf/lib", "/usr/lib32"};
  std::vector<SearchDir> expected = {{"/run", SearchSource::runpath},
                                     {"/usr/local/lib", SearchSource::ld_so_conf},
                                     {"/opt/conf/lib", SearchSource::ld_so_conf},
                                     {"/usr/lib32", SearchSource::ld_so_conf}};
  CHECK(show(search_dirs({&req, &exe}, exe, conf, p)) == show(expected));
}

TEST_CASE("resolve: a directory named twice is searched once, under its first source") {
  Platform p = amd64();
  LinkerObject req = object("/req", std::nullopt, "/usr/lib/x86_64-linux-gnu:/conf");
  LinkerObject exe = object("/exe");
  std::vector<SearchDir> expected = {{"/usr/lib/x86_64-linux-gnu", SearchSource::runpath},
                                     {"/conf", SearchSource::runpath},
                                     {"/lib/x86_64-linux-gnu", SearchSource::default_dirs},
                                     {"/lib", SearchSource::default_dirs},
                                     {"/usr/lib", SearchSource::default_dirs}};
  CHECK(show(search_dirs({&req, &exe}, exe, {"/conf"}, p)) == show(expected));
}

TEST_CASE("resolve: to_string names every search source") {
  CHECK(to_string(SearchSource::rpath) == "RPATH");
  CHECK(to_string(SearchSource::runpath) == "RUNPATH");
  CHECK(to_string(SearchSource::ld_so_conf) == "ld.so.conf");
  CHECK(to_string(SearchSource::default_dirs) == "default");
}

TEST_CASE("resolve: read_ld_so_conf follows include globs below the host root, in file order") {
  TempDir root("ldso", 0700);
  write_text(root / "etc/ld.so.conf", "# the main file\n"
                                      "include ld.so.conf.d/*.conf\n" // relative to /etc
                                      "/usr/local/lib\n"
                                      "  /opt/x   # a trailing comment\n"
                                      "hwcap 0 nosegneg\n" // obsolete: ignored
                                      "relative/dir\n"     // ldconfig refuses relative directories
                                      "/opt/old=libc6\n"   // the old dir=TYPE form
                                      "include /etc/extra/*.conf /etc/more.conf\n"
                                      "/usr/local/lib\n"); // a duplicate
  write_text(root / "etc/ld.so.conf.d/b.conf", "/opt/b\n");
  write_text(root / "etc/ld.so.conf.d/a.conf", "/opt/a\n/opt//a2/\n");
  write_text(root / "etc/ld.so.conf.d/c.txt", "/opt/not-a-conf-file\n");
  write_text(root / "etc/extra/x.conf", "/opt/extra\r\n");
  write_text(root / "etc/more.conf", "/opt/more\ninclude /etc/ld.so.conf\n"); // a loop
  HostRoot host(root.path);
  CHECK(show(read_ld_so_conf(host)) ==
        show(std::vector<std::string>{"/opt/a", "/opt/a2", "/opt/b", "/usr/local/lib", "/opt/x", "/opt/old",
                                      "/opt/extra", "/opt/more"}));
  // The host's own /etc never leaks in.
  CHECK(show(read_ld_so_conf(host, "/etc/extra/x.conf")) == show(std::vector<std::string>{"/opt/extra"}));
}

TEST_CASE("resolve: read_ld_so_conf of a missing file is empty") {
  TempDir root("ldso", 0700);
  CHECK(read_ld_so_conf(HostRoot(root.path)).empty());
}

TEST_CASE("resolve: read_ld_so_conf skips a FIFO among the included files instead of waiting on it") {
  // ldconfig would block on it too; the walk of create and sync must not.
  TempDir root("ldso", 0700);
  write_text(root / "etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n");
  write_text(root / "etc/ld.so.conf.d/a.conf", "/opt/a\n");
  REQUIRE(::mkfifo((root / "etc/ld.so.conf.d/b.conf").c_str(), 0644) == 0);
  write_text(root / "etc/ld.so.conf.d/c.conf", "/opt/c\n");
  std::vector<std::string> dirs;
  CHECK(finishes_within(5, root / "etc/ld.so.conf.d/b.conf",
                        [&] { dirs = read_ld_so_conf(HostRoot(root.path)); }));
  CHECK(show(dirs) == show(std::vector<std::string>{"/opt/a", "/opt/c"}));
}

TEST_CASE("resolve: read_ld_so_conf: an include it cannot read is an Error naming it, a missing one none") {
  TempDir root("ldso", 0700);
  write_text(root / "etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\ninclude /etc/missing.conf\n");
  write_text(root / "etc/ld.so.conf.d/a.conf", "/opt/a\n");
  write_text(root / "etc/ld.so.conf.d/b.conf", "/opt/b\n");
  CHECK(show(read_ld_so_conf(HostRoot(root.path))) == show(std::vector<std::string>{"/opt/a", "/opt/b"}));
  // Its directories would be missing from every walk: not to be taken for an absent file.
  REQUIRE(::chmod((root / "etc/ld.so.conf.d/b.conf").c_str(), 0) == 0);
  std::string err =
      without_dac_override([&] { return error_of([&] { read_ld_so_conf(HostRoot(root.path)); }); });
  CHECK(err == "/etc/ld.so.conf.d/b.conf: cannot open: Permission denied");
}
