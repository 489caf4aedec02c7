// SPDX-License-Identifier: MIT
// pack and unpack on a small hand-made jail, the host checks, the package fingerprint, and hostile
// archives written here with libarchive: each must be refused with nothing written outside DIR and
// DIR gone. The real nginx + php-fpm round trip is tests/scenario/pack_cli.sh.
#include "jailbuild/audit.hpp"
#include "jailbuild/digest.hpp"
#include "jailbuild/elf.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/fd.hpp"
#include "jailbuild/hostfs.hpp"
#include "jailbuild/jailfs.hpp"
#include "jailbuild/manifest.hpp"
#include "jailbuild/pack.hpp"
#include "jailbuild/provenance.hpp"

#include "test_util.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include <cstdio>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <utime.h>
#include <vector>

using namespace jailbuild;
using namespace jailbuild::test;
namespace fs = std::filesystem;

namespace {

/// A small jail as create would leave it, with its manifest, plus site content and runtime state.
void make_jail(const std::string& dir) {
  REQUIRE(::mkdir(dir.c_str(), 0755) == 0);
  JailFs jail(dir);
  Manifest m;
  m.tool = "jailbuild test";
  m.created = m.updated = 1700000000;
  auto add = [&](PlanEntry e) { m.plan.entries.push_back(std::move(e)); };
  auto dir_entry = [&](const std::string& path, uint32_t mode, EntryRole role = EntryRole::system,
                       uint32_t uid = 0) {
    jail.make_dir(path, mode, uid, uid);
    PlanEntry e;
    e.kind = EntryKind::directory, e.role = role, e.path = "/" + path, e.mode = mode, e.uid = e.gid = uid;
    add(e);
  };
  for (const char* d :
       {"dev", "etc", "run", "tmp", "usr", "usr/bin", "var", "var/lib", "var/lib/php", "var/log"})
    dir_entry(d, std::string(d) == "tmp" ? 01777 : 0755);
  dir_entry("var/lib/php/sessions", 01733, EntryRole::state);
  dir_entry("var/lib/private", 0700, EntryRole::data, 33);

  PlanEntry passwd;
  passwd.kind = EntryKind::generated, passwd.role = EntryRole::config, passwd.path = "/etc/passwd",
  passwd.mode = 0644;
  passwd.content = "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n";
  passwd.digest = jail.write_file("etc/passwd", passwd.content, 0644, 0, 0);
  add(passwd);
  PlanEntry tool;
  tool.kind = EntryKind::file, tool.role = EntryRole::executable, tool.path = "/usr/bin/tool",
  tool.mode = 0755;
  tool.source = "/usr/bin/true";
  tool.digest = jail.write_file("usr/bin/tool", std::string(300000, 'x') + "tool", 0755, 0, 0);
  add(tool);
  PlanEntry secret;
  secret.kind = EntryKind::file, secret.role = EntryRole::data, secret.path = "/var/lib/private/key",
  secret.mode = 0600;
  secret.uid = secret.gid = 33, secret.source = "/etc/hostname";
  secret.digest = jail.write_file("var/lib/private/key", "k", 0600, 33, 33);
  add(secret);
  PlanEntry link;
  link.kind = EntryKind::symlink, link.path = "/bin", link.mode = 0777, link.source = "usr/bin";
  jail.make_symlink("bin", "usr/bin");
  add(link);
  PlanEntry null;
  null.kind = EntryKind::device, null.path = "/dev/null", null.mode = 0666, null.major = 1, null.minor = 3;
  jail.make_device("dev/null", DeviceKind::character, 1, 3, 0666, 0, 0);
  add(null);
  write_manifest(jail, m);

  // Not in the plan: site content (packed, with a hardlink), and runtime state (left out).
  write_text(dir + "/var/www/index.php", "<?php echo 1;");
  REQUIRE(::link((dir + "/var/www/index.php").c_str(), (dir + "/var/www/copy.php").c_str()) == 0);
  write_text(dir + "/run/nginx.pid", "123");
  write_text(dir + "/tmp/upload", "junk");
  write_text(dir + "/var/log/nginx/error.log", "log");
  write_text(dir + "/var/lib/php/sessions/sess_abc", "s");
}

struct ArchiveEntryFacts {
  std::string name;
  mode_t type = 0;
  mode_t perm = 0;
  int64_t mtime = 0;
  int64_t uid = 0;
  bool has_uname = false;
  std::string link, hardlink;
  int64_t size = 0;
};

/// The entries of an archive, read with libarchive.
std::vector<ArchiveEntryFacts> list_archive(const std::string& file) {
  archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  archive_read_support_filter_all(a);
  REQUIRE(archive_read_open_filename(a, file.c_str(), 65536) == ARCHIVE_OK);
  std::vector<ArchiveEntryFacts> entries;
  archive_entry* e = nullptr;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    ArchiveEntryFacts f;
    f.name = archive_entry_pathname(e);
    f.type = archive_entry_filetype(e);
    f.perm = archive_entry_perm(e);
    f.mtime = archive_entry_mtime(e);
    f.uid = archive_entry_uid(e);
    f.size = archive_entry_size(e);
    auto set = [](const char* name) { return name != nullptr && *name != '\0'; };
    f.has_uname = set(archive_entry_uname(e)) || set(archive_entry_gname(e)) ||
                  archive_entry_atime_is_set(e) || archive_entry_ctime_is_set(e);
    if (archive_entry_symlink(e)) f.link = archive_entry_symlink(e);
    if (archive_entry_hardlink(e)) f.hardlink = archive_entry_hardlink(e);
    entries.push_back(f);
  }
  archive_read_free(a);
  return entries;
}

std::vector<std::string> names_of(const std::vector<ArchiveEntryFacts>& entries) {
  std::vector<std::string> names;
  for (const auto& e : entries)
    names.push_back(e.name);
  return names;
}

/// The entry named `name`, which the archive must hold.
const ArchiveEntryFacts& entry_named(const std::vector<ArchiveEntryFacts>& entries, const std::string& name) {
  auto it = std::find_if(entries.begin(), entries.end(),
                         [&](const ArchiveEntryFacts& e) { return e.name == name; });
  REQUIRE_MESSAGE(it != entries.end(), "the archive has no entry " << name);
  return *it;
}

bool has(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

/// An archive written by hand, for hostile cases: a valid manifest first (unless told otherwise),
/// then whatever the test adds.
class HandArchive {
public:
  explicit HandArchive(const std::string& file) : a_(archive_write_new()), e_(archive_entry_new()) {
    archive_write_set_format_pax_restricted(a_);
    archive_write_add_filter_none(a_);
    REQUIRE(archive_write_open_filename(a_, file.c_str()) == ARCHIVE_OK);
  }
  ~HandArchive() {
    archive_entry_free(e_);
    archive_write_free(a_);
  }
  /// The manifest and the provenance (origin.json), listing `extra` files (path -> content) with their
  /// digests; `edit` may change the manifest's JSON text before it is written.
  void manifest(const std::map<std::string, std::string>& extra = {}, const std::vector<PlanEntry>& plan = {},
                const std::function<void(std::string&)>& edit = {}) {
    Manifest m;
    m.tool = "jailbuild test";
    m.plan.entries = plan;
    Provenance provenance;
    provenance.packages = {{"coreutils", "9.1-1"}};
    provenance.packages_digest = packages_digest(provenance.packages);
    for (const auto& [path, content] : extra)
      provenance.extra_digests["/" + path] = sha256_hex(content);
    std::string text = manifest_to_json(m);
    if (edit) edit(text);
    dir(".jailbuild", 0700);
    file(".jailbuild/manifest.json", text, 0600);
    file(".jailbuild/origin.json", provenance_to_json(provenance), 0600);
  }
  void dir(const std::string& name, mode_t perm = 0755) { header(name, AE_IFDIR, perm); }
  void file(const std::string& name, const std::string& content, mode_t perm = 0644) {
    archive_entry* e = header_entry(name, AE_IFREG, perm);
    archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
    REQUIRE(archive_write_header(a_, e) == ARCHIVE_OK);
    REQUIRE(archive_write_data(a_, content.data(), content.size()) ==
            static_cast<la_ssize_t>(content.size()));
  }
  void symlink(const std::string& name, const std::string& target) {
    archive_entry* e = header_entry(name, AE_IFLNK, 0777);
    archive_entry_copy_symlink(e, target.c_str());
    REQUIRE(archive_write_header(a_, e) == ARCHIVE_OK);
  }
  void hardlink(const std::string& name, const std::string& target) {
    archive_entry* e = header_entry(name, AE_IFREG, 0644);
    archive_entry_copy_hardlink(e, target.c_str());
    archive_entry_set_size(e, 0);
    REQUIRE(archive_write_header(a_, e) == ARCHIVE_OK);
  }
  void device(const std::string& name, mode_t type, unsigned major_number, unsigned minor_number) {
    archive_entry* e = header_entry(name, type, 0666);
    archive_entry_set_rdevmajor(e, major_number);
    archive_entry_set_rdevminor(e, minor_number);
    REQUIRE(archive_write_header(a_, e) == ARCHIVE_OK);
  }
  void close() { REQUIRE(archive_write_close(a_) == ARCHIVE_OK); }

private:
  archive_entry* header_entry(const std::string& name, mode_t type, mode_t perm) {
    archive_entry_clear(e_);
    archive_entry_copy_pathname(e_, name.c_str());
    archive_entry_set_filetype(e_, type);
    archive_entry_set_perm(e_, perm);
    return e_;
  }
  void header(const std::string& name, mode_t type, mode_t perm) {
    REQUIRE(archive_write_header(a_, header_entry(name, type, perm)) == ARCHIVE_OK);
  }
  archive* a_;
  archive_entry* e_;
};

/// A place for hostile unpacks: DIR (T/jail) beside a sentinel directory that must stay untouched.
struct HostileSetup {
  TempDir top{"unpack", 0700};
  std::string archive = top / "hostile.tar";
  std::string jail = top / "jail";
  std::string sentinel = top / "sentinel";
  HostileSetup() {
    REQUIRE(::mkdir(sentinel.c_str(), 0755) == 0);
    write_text(sentinel + "/keep", "keep");
  }
  /// Unpacks; returns the error text.
  std::string unpack(UnpackLimits limits = {}) {
    return error_of([&] { unpack_jail({archive, jail, top / "state", limits}); });
  }
  /// Nothing outside DIR changed, and DIR is gone.
  void check_clean() {
    CHECK(!fs::exists(fs::symlink_status(jail)));
    std::vector<std::string> in_sentinel;
    for (const auto& e : fs::directory_iterator(sentinel))
      in_sentinel.push_back(e.path().filename());
    CHECK(in_sentinel == std::vector<std::string>{"keep"});
    CHECK(read_text(sentinel + "/keep") == "keep");
    std::vector<std::string> in_top;
    for (const auto& e : fs::directory_iterator(top.path))
      in_top.push_back(e.path().filename());
    std::sort(in_top.begin(), in_top.end());
    CHECK(in_top == std::vector<std::string>{"hostile.tar", "sentinel"});
  }
};

} // namespace

TEST_CASE("compression_for: by extension, zstd otherwise") {
  CHECK(compression_for("a.tar") == Compression::none);
  CHECK(compression_for("/x/a.tar.gz") == Compression::gzip);
  CHECK(compression_for("a.tgz") == Compression::gzip);
  CHECK(compression_for("a.tar.xz") == Compression::xz);
  CHECK(compression_for("a.tar.zst") == Compression::zstd);
  CHECK(compression_for("a.jail") == Compression::zstd);
}

TEST_CASE("device_allowed: only the harmless character devices, each at its own /dev path") {
  CHECK(device_allowed("/dev/null", DeviceType::character, 1, 3));
  CHECK(device_allowed("/dev/zero", DeviceType::character, 1, 5));
  CHECK(device_allowed("/dev/full", DeviceType::character, 1, 7));
  CHECK(device_allowed("/dev/random", DeviceType::character, 1, 8));
  CHECK(device_allowed("/dev/urandom", DeviceType::character, 1, 9));
  CHECK(device_allowed("/dev/tty", DeviceType::character, 5, 0));
  CHECK_FALSE(device_allowed("/dev/mem", DeviceType::character, 1, 1));
  CHECK_FALSE(device_allowed("/dev/kmem", DeviceType::character, 1, 2));
  CHECK_FALSE(device_allowed("/dev/null", DeviceType::block, 1, 3));
  CHECK_FALSE(device_allowed("/dev/sda", DeviceType::block, 8, 0));
  // A harmless device under another name is refused: /var/www/tty would be the terminal of whoever
  // runs a tool there, /dev/zero named /dev/null is a trap.
  CHECK_FALSE(device_allowed("/var/www/tty", DeviceType::character, 5, 0));
  CHECK_FALSE(device_allowed("/dev/null", DeviceType::character, 1, 5));
  CHECK_FALSE(device_allowed("/tmp/null", DeviceType::character, 1, 3));
}

TEST_CASE("kernel_at_least: compares the leading numbers") {
  CHECK(kernel_at_least("6.1.0-18-amd64", "3.2.0"));
  CHECK(kernel_at_least("3.2.0", "3.2.0"));
  CHECK(kernel_at_least("4.19", "4.19.0"));
  CHECK_FALSE(kernel_at_least("3.1.99-foo", "3.2.0"));
  CHECK_FALSE(kernel_at_least("2.6.32", "3.2"));
}

TEST_CASE("cpu_meets: x86-64 levels from cpuinfo flags") {
  std::vector<std::string> v2 = {"cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3"};
  std::vector<std::string> v3 = v2;
  v3.insert(v3.end(), {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"});
  CHECK(cpu_meets("x86-64-v2", v2) == true);
  CHECK(cpu_meets("x86-64-v3", v2) == false);
  CHECK(cpu_meets("x86-64-v3", v3) == true);
  CHECK(cpu_meets("x86-64-v4", v3) == false);
  CHECK_FALSE(cpu_meets("power10", v3).has_value());
}

TEST_CASE("required_hwcaps: only levels without a base copy") {
  Plan plan;
  auto file = [&](const std::string& path) {
    PlanEntry e;
    e.path = path;
    plan.entries.push_back(e);
  };
  file("/usr/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3/libfast.so.1");
  file("/usr/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v2/libboth.so.1");
  file("/usr/lib/x86_64-linux-gnu/libboth.so.1");
  CHECK(required_hwcaps(plan) == std::vector<std::string>{"x86-64-v3"});
}

TEST_CASE("check_host: machine, kernel, hwcaps, and uids with another name") {
  Manifest m;
  m.provenance = Provenance{};
  m.provenance->min_kernel = "5.10.0";
  WalkObject nginx;
  nginx.elf.machine = 183; // aarch64
  m.plan.objects.push_back(nginx);
  PlanEntry passwd;
  passwd.kind = EntryKind::generated, passwd.path = "/etc/passwd";
  passwd.content = "www-data:x:33:33::/var/www:/usr/sbin/nologin\n";
  m.plan.entries.push_back(passwd);
  PlanEntry fast;
  fast.path = "/usr/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3/libfast.so.1";
  m.plan.entries.push_back(fast);

  HostFacts host;
  host.identity = {ElfClass::elf64, Endian::little, 62};
  host.kernel_release = "4.19.0-26-amd64";
  host.cpu_flags = {"sse2"};
  host.passwd = "root:x:0:0::/root:/bin/bash\nhttpd:x:33:33::/srv:/bin/false\n";
  HostCheck check = check_host(m, host);
  REQUIRE(check.errors.size() == 3);
  CHECK(contains(check.errors[0], "built for aarch64-linux-gnu; this host runs x86_64-linux-gnu"));
  CHECK(contains(check.errors[1], "needs Linux 5.10.0 or later; this host runs 4.19.0-26-amd64"));
  CHECK(contains(check.errors[2], "x86-64-v3"));
  REQUIRE(check.warnings.size() == 1);
  CHECK(contains(check.warnings[0], "jail user www-data has uid 33, which is httpd on this host"));

  m.plan.objects[0].elf.machine = 62;
  m.plan.entries.pop_back();
  host.kernel_release = "6.1.0";
  host.passwd = "www-data:x:33:33::/var/www:/usr/sbin/nologin\n";
  check = check_host(m, host);
  CHECK(check.errors.empty());
  CHECK(check.warnings.empty());
}

TEST_CASE("owning_packages and package_mismatch: from dpkg's database below the host root") {
  TempDir host("dpkg", 0700);
  write_text(host / "var/lib/dpkg/status",
             "Package: libc6\nStatus: install ok installed\nMulti-Arch: same\nArchitecture: amd64\nVersion: "
             "2.36-9\n\n"
             "Package: nginx\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.22.1-9\n\n"
             "Package: gone\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1\n");
  write_text(host / "var/lib/dpkg/info/libc6:amd64.list", "/.\n/lib\n/lib/x86_64-linux-gnu/libc.so.6\n");
  write_text(host / "var/lib/dpkg/info/nginx.list", "/usr/sbin/nginx\n");
  write_text(host / "var/lib/dpkg/info/unrelated.list", "/usr/bin/other\n");
  Plan plan;
  for (const char* source : {"/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/sbin/nginx", "/opt/unowned"}) {
    PlanEntry e;
    e.kind = EntryKind::file, e.path = source, e.source = source;
    plan.entries.push_back(e);
  }
  std::vector<PackagePin> pins = owning_packages(plan, HostRoot(host.path));
  CHECK(pins == std::vector<PackagePin>{{"libc6:amd64", "2.36-9"}, {"nginx", "1.22.1-9"}});

  Manifest m;
  m.plan = plan;
  CHECK_FALSE(package_mismatch(m, HostRoot(host.path))); // built here: no provenance
  m.provenance = Provenance{};
  m.provenance->host = "web1";
  m.provenance->packages = pins;
  m.provenance->packages_digest = packages_digest(pins);
  CHECK_FALSE(package_mismatch(m, HostRoot(host.path)));
  m.provenance->packages = {{"libc6:amd64", "2.36-8"}, {"nginx", "1.22.1-9"}, {"php8.2-fpm", "8.2.7"}};
  m.provenance->packages_digest = packages_digest(m.provenance->packages);
  std::optional<std::string> mismatch = package_mismatch(m, HostRoot(host.path));
  REQUIRE(mismatch);
  CHECK(*mismatch ==
        "this jail was packed on web1, whose packages differ from this host's: libc6:amd64 2.36-8 "
        "there, 2.36-9 here; php8.2-fpm 8.2.7 there, not installed here");

  // Missing provenance data is a refusal, not a pass: no packages, or a digest that is not theirs.
  m.provenance->packages = pins;
  mismatch = package_mismatch(m, HostRoot(host.path));
  REQUIRE(mismatch);
  CHECK(contains(*mismatch, "packages_digest"));
  m.provenance->packages = {};
  m.provenance->packages_digest = packages_digest({});
  mismatch = package_mismatch(m, HostRoot(host.path));
  REQUIRE(mismatch);
  CHECK(contains(*mismatch, "lists no packages"));
}

TEST_CASE("manifest: the origin round-trips and old manifests without one still read") {
  Manifest m;
  m.tool = "jailbuild test";
  CHECK_FALSE(manifest_from_json(manifest_to_json(m), "m").provenance);
  m.provenance = Provenance{"web1",
                            5,
                            "d",
                            {{"libc6:amd64", "2.36-9"}},
                            "3.2.0",
                            {{"/var/www/x", std::string(64, 'a')}},
                            7,
                            "cd",
                            {{"/etc/x.conf", std::string(64, 'e')}},
                            {"/var/www/wp-config.php"}};
  Manifest back = manifest_from_json(manifest_to_json(m), "m");
  REQUIRE(back.provenance);
  CHECK(*back.provenance == *m.provenance);
  CHECK(provenance_from_json(provenance_to_json(*m.provenance), "o") == *m.provenance);
  CHECK(contains(error_of([] { provenance_from_json("{}", "FILE: origin.json"); }),
                 "FILE: origin.json: corrupt origin"));
}

TEST_CASE("provenance_from_json: a time that is a float or beyond 64 bits is corrupt, not undefined") {
  // Found by fuzz_origin: nlohmann converts 1e30 to int64_t with a cast whose result is undefined.
  for (const char* packed : {"1e30", "1.5", "18446744073709551615"}) {
    CAPTURE(packed);
    std::string text =
        std::string(R"({"host":"h","packed":)") + packed + R"(,"packages_digest":"d","packages":[]})";
    CHECK(contains(error_of([&] { provenance_from_json(text, "o"); }), "o: corrupt origin: a time"));
  }
  std::string unpacked = R"({"host":"h","packed":1,"packages_digest":"d","packages":[],"unpacked":7.7e25})";
  CHECK(contains(error_of([&] { provenance_from_json(unpacked, "o"); }), "corrupt origin: a time"));
}

TEST_CASE("read_elf_abi_tag: glibc's ABI note gives the oldest kernel it runs on") {
  // Every glibc program carries the note (crt1.o brings it); so does libc itself.
  std::optional<ElfAbiTag> tag = read_elf_abi_tag("/proc/self/exe");
  REQUIRE(tag);
  CHECK(tag->os == 0);
  CHECK(tag->major >= 2);
  TempDir top("abi", 0700);
  write_text(top / "not-elf", "#!/bin/sh\n");
  CHECK(contains(error_of([&] { read_elf_abi_tag(top / "not-elf"); }), "not an ELF file"));
}

// Owners and device nodes in the test jail need root.
TEST_CASE("pack_jail: reproducible, sorted, clamped, numeric owners, state left out" *
          doctest::skip(!is_root())) {
  TempDir top("pack", 0700);
  make_jail(top / "jail");
  PackOptions options{top / "jail", top / "one.tar.zst", StateFiles::leave_out, 1600000000};
  PackResult first = pack_jail(options);
  CHECK(read_text(top / "one.tar.zst.sha256") == first.sha256 + "  one.tar.zst\n");
  CHECK(sha256_file(top / "one.tar.zst") == first.sha256);
  CHECK((fs::status(top / "one.tar.zst").permissions() & fs::perms::others_read) == fs::perms::none);

  // Touching every file changes nothing.
  for (const auto& e : fs::recursive_directory_iterator(top / "jail"))
    if (!e.is_symlink()) ::utime(e.path().c_str(), nullptr);
  options.output = top / "two.tar.zst";
  CHECK(pack_jail(options).sha256 == first.sha256);
  CHECK(read_text(top / "one.tar.zst") == read_text(top / "two.tar.zst"));

  std::vector<ArchiveEntryFacts> entries = list_archive(top / "one.tar.zst");
  std::vector<std::string> names = names_of(entries);
  REQUIRE(names.size() > 2);
  CHECK(names[0] == ".jailbuild/");
  CHECK(names[1] == ".jailbuild/manifest.json");
  CHECK(names[2] == ".jailbuild/origin.json");
  CHECK(read_text(top / "jail/.jailbuild/manifest.json").size() == static_cast<std::size_t>(entries[1].size));
  std::vector<std::string> rest(names.begin() + 3, names.end());
  CHECK(std::is_sorted(rest.begin(), rest.end(), [](const std::string& a, const std::string& b) {
    return path_less("/" + a, "/" + b);
  }));
  for (const ArchiveEntryFacts& e : entries) {
    CAPTURE(e.name);
    CHECK(e.mtime == 1600000000);
    CHECK_FALSE(e.has_uname);
  }
  // Runtime state is out, its directories are in; sessions are state; site content is in.
  CHECK(has(names, "run/"));
  CHECK(has(names, "var/log/nginx/"));
  CHECK(has(names, "var/lib/php/sessions/"));
  CHECK_FALSE(has(names, "run/nginx.pid"));
  CHECK_FALSE(has(names, "tmp/upload"));
  CHECK_FALSE(has(names, "var/log/nginx/error.log"));
  CHECK_FALSE(has(names, "var/lib/php/sessions/sess_abc"));
  CHECK(first.left_out == 4);
  CHECK(has(names, "var/www/index.php"));
  CHECK(entry_named(entries, "var/www/index.php").hardlink == "var/www/copy.php"); // copy.php sorts first
  CHECK(entry_named(entries, "bin").link == "usr/bin");
  CHECK(entry_named(entries, "dev/null").type == AE_IFCHR);
  CHECK(entry_named(entries, "var/lib/private/key").uid == 33);

  options.output = top / "all.tar";
  options.state = StateFiles::include;
  pack_jail(options);
  names = names_of(list_archive(top / "all.tar"));
  CHECK(has(names, "run/nginx.pid"));
  CHECK(has(names, "var/lib/php/sessions/sess_abc"));

  // Every compression is reproducible too.
  for (const char* ext : {".tar.gz", ".tar.xz", ".tar"}) {
    CAPTURE(ext);
    options.output = top / (std::string("a") + ext);
    std::string one = pack_jail(options).sha256;
    options.output = top / (std::string("b") + ext);
    CHECK(pack_jail(options).sha256 == one);
  }
}

TEST_CASE("pack_jail: refuses a jail that differs from its manifest, leaving no archive" *
          doctest::skip(!is_root())) {
  TempDir top("pack", 0700);
  make_jail(top / "jail");
  write_text(top / "jail/usr/bin/tool", "tampered");
  REQUIRE(::chmod((top / "jail/var/www/index.php").c_str(), 04755) == 0);
  std::string error = error_of([&] {
    pack_jail({top / "jail", top / "out.tar.zst", StateFiles::leave_out, 1});
  });
  CHECK(contains(error, "/var/www/index.php is setuid or setgid"));
  REQUIRE(::chmod((top / "jail/var/www/index.php").c_str(), 0644) == 0);
  error = error_of([&] { pack_jail({top / "jail", top / "out.tar.zst", StateFiles::leave_out, 1}); });
  CHECK(contains(error, "/usr/bin/tool differs from its manifest digest"));
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(top.path))
    left.push_back(e.path().filename());
  CHECK(left == std::vector<std::string>{"jail"});
  CHECK(contains(error_of([&] {
                   pack_jail({top / "jail", top / "jail/var/x.tar", StateFiles::leave_out, 1});
                 }),
                 "inside the jail"));
}

// Owners and device nodes need root.
TEST_CASE("unpack_jail: round trip restores content, owners, modes, links and devices" *
          doctest::skip(!is_root())) {
  TempDir top("roundtrip", 0700);
  make_jail(top / "jail");
  pack_jail({top / "jail", top / "j.tar.zst", StateFiles::leave_out, 1600000000});
  UnpackResult r = unpack_jail({top / "j.tar.zst", top / "copy", top / "state", {}});
  CHECK(r.dir == top / "copy");
  CHECK(read_text(top / "copy/usr/bin/tool") == read_text(top / "jail/usr/bin/tool"));
  struct stat st {};
  REQUIRE(::lstat((top / "copy/var/lib/private/key").c_str(), &st) == 0);
  CHECK(st.st_uid == 33);
  CHECK((st.st_mode & 07777) == 0600);
  REQUIRE(::lstat((top / "copy/var/lib/php/sessions").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 01733);
  REQUIRE(::lstat((top / "copy/dev/null").c_str(), &st) == 0);
  CHECK(S_ISCHR(st.st_mode));
  CHECK(st.st_rdev == makedev(1, 3));
  CHECK(fs::read_symlink(top / "copy/bin") == "usr/bin");
  struct stat a {
  }, b{};
  REQUIRE(::lstat((top / "copy/var/www/index.php").c_str(), &a) == 0);
  REQUIRE(::lstat((top / "copy/var/www/copy.php").c_str(), &b) == 0);
  CHECK(a.st_ino == b.st_ino);
  CHECK(fs::is_directory(top / "copy/var/log/nginx"));
  CHECK_FALSE(fs::exists(top / "copy/run/nginx.pid"));

  Manifest m = read_manifest(top / "copy");
  REQUIRE(m.provenance);
  CHECK(m.provenance->unpacked > 0);
  CHECK(m.provenance->archive_sha256 == sha256_file(top / "j.tar.zst"));
  CHECK(read_text(top / "state/jails") == top / "copy\n");

  // A second unpack into the now non-empty directory is refused and leaves it alone.
  CHECK(contains(error_of([&] {
                   unpack_jail({top / "j.tar.zst", top / "copy", top / "state", {}});
                 }),
                 "not empty"));
  CHECK(fs::exists(top / "copy/usr/bin/tool"));
}

// unpack writes owners and device nodes, which needs root.
TEST_CASE("unpack_jail: hostile archives are refused, nothing is written outside DIR, DIR is removed" *
          doctest::skip(!is_root())) {
  struct Case {
    const char* what;
    std::function<void(HandArchive&, const std::string& sentinel)> build;
    const char* error;
    UnpackLimits limits{};
  };
  const std::vector<Case> cases = {
      {"../ path",
       [](HandArchive& a, const std::string&) {
         a.manifest(); // listed in extra_digests, origin.json itself would be refused first (09)
         a.file("../sentinel/pwned", "x");
       },
       "'..' is not accepted"},
      {"../ inside a path",
       [](HandArchive& a, const std::string&) {
         a.manifest();
         a.dir("etc");
         a.file("etc/../../sentinel/pwned", "x");
       },
       "'..' is not accepted"},
      {"absolute path",
       [](HandArchive& a, const std::string& s) {
         a.manifest();
         a.file(s + "/pwned", "x");
       },
       "an absolute path is not accepted"},
      {"symlink then a file through it",
       [](HandArchive& a, const std::string& s) {
         a.manifest({{"out/pwned", "x"}});
         a.symlink("out", s);
         a.file("out/pwned", "x");
       },
       "its directory is not an earlier entry"},
      {"symlink then a directory through it",
       [](HandArchive& a, const std::string& s) {
         a.manifest();
         a.symlink("out", s);
         a.dir("out/sub");
       },
       "its directory is not an earlier entry"},
      {"symlink replacing a directory made earlier",
       [](HandArchive& a, const std::string& s) {
         a.manifest({{"etc/pwned", "x"}});
         a.dir("etc");
         a.symlink("etc", s);
         a.file("etc/pwned", "x");
       },
       "appears twice"},
      {"block device",
       [](HandArchive& a, const std::string&) {
         a.manifest();
         a.dir("dev");
         a.device("dev/sda", AE_IFBLK, 8, 0);
       },
       "a block device"},
      {"character device not allowed",
       [](HandArchive& a, const std::string&) {
         a.manifest();
         a.dir("dev");
         a.device("dev/mem", AE_IFCHR, 1, 1);
       },
       "character device 1,1 is not one a jail may hold"},
      {"setuid file",
       [](HandArchive& a, const std::string&) {
         a.manifest({{"su", "x"}});
         a.file("su", "x", 04755);
       },
       "setuid or setgid"},
      {"setgid directory",
       [](HandArchive& a, const std::string&) {
         a.manifest();
         a.dir("shared", 02775);
       },
       "setuid or setgid"},
      {"hardlink to outside",
       [](HandArchive& a, const std::string&) {
         a.manifest({{"pw", ""}});
         a.hardlink("pw", "../../../etc/passwd");
       },
       "'..' is not accepted"},
      {"hardlink to an absolute path",
       [](HandArchive& a, const std::string&) {
         a.manifest({{"pw", ""}});
         a.hardlink("pw", "/etc/passwd");
       },
       "an absolute hardlink target is not accepted"},
      {"hardlink to a file not in the archive",
       [](HandArchive& a, const std::string&) {
         a.manifest({{"pw", ""}});
         a.hardlink("pw", "etc/passwd");
       },
       "not an earlier file of the archive"},
      {"file not in the manifest",
       [](HandArchive& a, const std::string&) {
         a.manifest();
         a.file("x", "x");
       },
       "a file its manifest does not list"},
      {"content differs from the manifest",
       [](HandArchive& a, const std::string&) {
         a.manifest({{"x", "good"}});
         a.file("x", "evil");
       },
       "does not match the manifest's digest"},
      {"manifest without its origin",
       [](HandArchive& a, const std::string&) {
         a.dir(".jailbuild", 0700);
         a.file(".jailbuild/manifest.json", manifest_to_json(Manifest{}));
         a.file("x", "x");
       },
       "no .jailbuild/origin.json after the manifest"},
      {"no manifest",
       [](HandArchive& a, const std::string&) {
         a.dir("etc");
         a.file("etc/x", "x");
       },
       "no jailbuild manifest"},
      {"a second manifest",
       [](HandArchive& a, const std::string&) {
         a.manifest();
         a.file(".jailbuild/manifest.json", "{}");
       },
       "reserved for the manifest"},
      {"entry-count bomb",
       [](HandArchive& a, const std::string&) {
         a.manifest();
         for (int i = 0; i < 100; ++i)
           a.dir("d" + std::to_string(i));
       },
       "more than 10 entries", UnpackLimits{10, 1 << 20}},
      {"size bomb",
       [](HandArchive& a, const std::string&) {
         a.manifest({{"big", std::string(5000, 'x')}});
         a.file("big", std::string(5000, 'x'));
       },
       "more than 4096 bytes", UnpackLimits{1000, 4096}},
      {"a manifest uid beyond 32 bits",
       [](HandArchive& a, const std::string&) {
         PlanEntry etc;
         etc.kind = EntryKind::directory, etc.path = "/etc", etc.mode = 0755;
         a.manifest({}, {etc}, [](std::string& json) {
           std::size_t at = json.find("\"uid\":0");
           REQUIRE(at != std::string::npos);
           json.replace(at, 7, "\"uid\":4294967296");
         });
         a.dir("etc");
       },
       "corrupt manifest: entry /etc: uid 4294967296 is out of range"},
      {"a tty device outside /dev",
       [](HandArchive& a, const std::string&) {
         a.manifest();
         a.dir("etc");
         a.device("etc/tty", AE_IFCHR, 5, 0);
       },
       "character device 5,0 may only be /dev/tty"},
      {"directories nested 300 levels deep",
       [](HandArchive& a, const std::string&) {
         a.manifest();
         std::string path = "d";
         for (int i = 0; i < 300; ++i, path += "/d")
           a.dir(path);
       },
       "nested more than 256 levels deep"},
      {"a manifest entry with an empty path",
       [](HandArchive& a, const std::string&) {
         PlanEntry empty;
         empty.kind = EntryKind::directory, empty.path = "", empty.mode = 0755;
         a.manifest({}, {empty});
         a.dir("etc");
       },
       "corrupt manifest: an entry's path '' is not an absolute, normalised jail path"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    HostileSetup setup;
    {
      HandArchive archive(setup.archive);
      c.build(archive, setup.sentinel);
      archive.close();
    }
    std::string error = setup.unpack(c.limits);
    CHECK(contains(error, c.error));
    CHECK(error.starts_with(setup.archive + ": "));
    setup.check_clean();
  }
}

TEST_CASE("unpack_jail: a corrupt or truncated archive is a clear error naming the file" *
          doctest::skip(!is_root())) {
  TempDir top("corrupt", 0700);
  make_jail(top / "jail");
  pack_jail({top / "jail", top / "good.tar.zst", StateFiles::leave_out, 1});
  std::string bytes = read_text(top / "good.tar.zst");
  write_text(top / "cut.tar.zst", bytes.substr(0, bytes.size() / 2));
  std::string error = error_of([&] { unpack_jail({top / "cut.tar.zst", top / "a", top / "state", {}}); });
  CAPTURE(error);
  CHECK(error.starts_with(top / "cut.tar.zst: "));
  CHECK(contains(error, "truncated"));
  CHECK_FALSE(fs::exists(top / "a"));

  write_text(top / "junk.tar", std::string(4096, 'j'));
  error = error_of([&] { unpack_jail({top / "junk.tar", top / "b", top / "state", {}}); });
  CHECK(error.starts_with(top / "junk.tar: "));
  CHECK_FALSE(fs::exists(top / "b"));

  // A flipped byte in the middle of the compressed stream.
  std::string flipped = bytes;
  flipped[flipped.size() / 2] = static_cast<char>(flipped[flipped.size() / 2] ^ 0x55);
  write_text(top / "flip.tar.zst", flipped);
  error = error_of([&] { unpack_jail({top / "flip.tar.zst", top / "c", top / "state", {}}); });
  CHECK(error.starts_with(top / "flip.tar.zst: "));
  CHECK_FALSE(fs::exists(top / "c"));

  // An archive that does not match its published sha256.
  fs::copy_file(top / "good.tar.zst", top / "other.tar.zst");
  write_text(top / "other.tar.zst.sha256", std::string(64, '0') + "  other.tar.zst\n");
  error = error_of([&] { unpack_jail({top / "other.tar.zst", top / "d", top / "state", {}}); });
  CHECK(contains(error, "differs from the one in"));
  CHECK_FALSE(fs::exists(top / "d"));
}

TEST_CASE("pack_jail: a file that keeps its recorded stamp is not hashed again, one edited in place is, and "
          "unpack checks every digest anyway" *
          doctest::skip(!is_root())) {
  TempDir top("stamp", 0700);
  make_jail(top / "jail");
  JailFs jail(top / "jail");
  // Record the jail stamp of /usr/bin/tool, as create and sync do.
  auto record_stamp = [&] {
    Manifest m = read_manifest(top / "jail");
    struct stat now {};
    REQUIRE(::lstat((top / "jail/usr/bin/tool").c_str(), &now) == 0);
    for (PlanEntry& e : m.plan.entries)
      if (e.path == "/usr/bin/tool") e.jail_stamp = stamp_of(now);
    write_manifest(jail, m);
    return now;
  };
  struct stat st = record_stamp();
  pack_jail({top / "jail", top / "clean.tar", StateFiles::leave_out, 1});
  CHECK(unpack_jail({top / "clean.tar", top / "clean", top / "state", {}}).entries > 10);

  // Same inode, same size, same mtime, other bytes: the ctime moved, so pack hashes it and refuses.
  {
    std::fstream f(top / "jail/usr/bin/tool", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(10);
    f << "EVIL";
  }
  struct timespec times[2] = {st.st_atim, st.st_mtim};
  REQUIRE(::utimensat(AT_FDCWD, (top / "jail/usr/bin/tool").c_str(), times, 0) == 0);
  std::string error = error_of([&] {
    pack_jail({top / "jail", top / "tampered.tar", StateFiles::leave_out, 1});
  });
  CHECK(contains(error, "/usr/bin/tool differs from its manifest digest"));

  // A manifest whose stamp matches the tampered file: pack trusts it and does not hash; unpack does.
  record_stamp();
  pack_jail({top / "jail", top / "tampered.tar", StateFiles::leave_out, 1});
  error = error_of([&] { unpack_jail({top / "tampered.tar", top / "copy", top / "state", {}}); });
  CHECK(contains(error, "usr/bin/tool: content does not match the manifest's digest"));
  CHECK_FALSE(fs::exists(top / "copy"));
}

namespace {

/// One zstd frame holding `size` zero bytes (a few dozen bytes: zstd stores runs as RLE blocks).
/// Frames may be concatenated: a decoder reads them as one stream, which is how a small file
/// becomes gigabytes of decompressed data.
std::string zstd_frame_of_zeros(std::size_t size) {
  archive* a = archive_write_new();
  REQUIRE(archive_write_add_filter_zstd(a) == ARCHIVE_OK);
  REQUIRE(archive_write_set_format_raw(a) == ARCHIVE_OK);
  REQUIRE(archive_write_set_bytes_in_last_block(a, 1) == ARCHIVE_OK);
  std::string out(1 << 20, '\0');
  size_t used = 0;
  REQUIRE(archive_write_open_memory(a, out.data(), out.size(), &used) == ARCHIVE_OK);
  archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, "zeros");
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_size(e, static_cast<la_int64_t>(size));
  REQUIRE(archive_write_header(a, e) == ARCHIVE_OK);
  const std::string zeros(size, '\0');
  REQUIRE(archive_write_data(a, zeros.data(), zeros.size()) == static_cast<la_ssize_t>(size));
  REQUIRE(archive_write_close(a) == ARCHIVE_OK);
  archive_entry_free(e);
  archive_write_free(a);
  out.resize(used);
  return out;
}

/// `bytes` as zstd: one frame, compressed by libarchive.
std::string zstd_of(const std::string& bytes) {
  archive* a = archive_write_new();
  REQUIRE(archive_write_add_filter_zstd(a) == ARCHIVE_OK);
  REQUIRE(archive_write_set_format_raw(a) == ARCHIVE_OK);
  REQUIRE(archive_write_set_bytes_in_last_block(a, 1) == ARCHIVE_OK);
  std::string out(bytes.size() + (1 << 16), '\0');
  size_t used = 0;
  REQUIRE(archive_write_open_memory(a, out.data(), out.size(), &used) == ARCHIVE_OK);
  archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, "data");
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_size(e, static_cast<la_int64_t>(bytes.size()));
  REQUIRE(archive_write_header(a, e) == ARCHIVE_OK);
  REQUIRE(archive_write_data(a, bytes.data(), bytes.size()) == static_cast<la_ssize_t>(bytes.size()));
  REQUIRE(archive_write_close(a) == ARCHIVE_OK);
  archive_entry_free(e);
  archive_write_free(a);
  out.resize(used);
  return out;
}

/// A ustar header written by hand: libarchive will not write data for a directory, a hostile
/// archive does.
std::string ustar_header(const std::string& name, char type, uint64_t size, mode_t mode) {
  std::string h(512, '\0');
  auto put = [&](std::size_t at, const std::string& text) { h.replace(at, text.size(), text); };
  auto octal = [](uint64_t value, int digits) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%0*llo", digits, static_cast<unsigned long long>(value));
    return std::string(buffer);
  };
  put(0, name);
  put(100, octal(mode, 7));
  put(108, octal(0, 7));
  put(116, octal(0, 7));
  put(124, octal(size, 11));
  put(136, octal(1600000000, 11));
  h.replace(148, 8, 8, ' ');
  h[156] = type;
  put(257, std::string("ustar") + '\0');
  put(263, "00");
  unsigned sum = 0;
  for (unsigned char c : h)
    sum += c;
  put(148, octal(sum, 6) + '\0' + ' ');
  return h;
}

/// A ustar entry with content, padded to whole blocks.
std::string ustar_file(const std::string& name, const std::string& content, mode_t mode) {
  std::string out = ustar_header(name, '0', content.size(), mode) + content;
  out.resize((out.size() + 511) / 512 * 512, '\0');
  return out;
}

/// The decompressed size of a packed jail: that of the same jail packed without compression.
uint64_t tar_size_of(const std::string& jail, const std::string& scratch) {
  pack_jail({jail, scratch, StateFiles::leave_out, 1600000000});
  return static_cast<uint64_t>(lstat_of(scratch).st_size);
}

} // namespace

TEST_CASE("unpack_jail: 8 GiB of zeros after the end-of-archive marker stop at --max-bytes" *
          doctest::skip(!is_root())) {
  TempDir top("bomb", 0700);
  make_jail(top / "jail");
  pack_jail({top / "jail", top / "j.tar.zst", StateFiles::leave_out, 1600000000});
  ::unlink((top / "j.tar.zst.sha256").c_str()); // its digest would only be checked at the very end
  const uint64_t limit = tar_size_of(top / "jail", top / "plain.tar") + (uint64_t{1} << 20);
  // The jail's own archive unpacks within the limit.
  CHECK(unpack_jail({top / "j.tar.zst", top / "ok", top / "state", {200'000, limit}}).entries > 10);
  // Then 8 GiB of zeros after it: 8192 frames of 1 MiB, 1 MB on disk.
  {
    const std::string frame = zstd_frame_of_zeros(std::size_t{1} << 20);
    std::ofstream out(top / "j.tar.zst", std::ios::binary | std::ios::app);
    for (int i = 0; i < 8192; ++i)
      out << frame;
  }
  CHECK(lstat_of(top / "j.tar.zst").st_size < (2 << 20));
  std::string error = error_of([&] {
    unpack_jail({top / "j.tar.zst", top / "copy", top / "state", {200'000, limit}});
  });
  CAPTURE(error);
  CHECK(error.starts_with(top / "j.tar.zst: "));
  CHECK(contains(error, "decompresses to more than " + std::to_string(limit) + " bytes"));
  CHECK_FALSE(fs::exists(top / "copy"));
}

TEST_CASE("unpack_jail: a directory entry carrying 2 GiB of data stops at --max-bytes" *
          doctest::skip(!is_root())) {
  TempDir top("dirbomb", 0700);
  // A hostile archive written by hand: the manifest and origin.json, then "d/" whose header says 2 GiB.
  Manifest m;
  m.tool = "jailbuild test";
  Provenance provenance;
  provenance.packages = {{"coreutils", "9.1-1"}};
  provenance.packages_digest = packages_digest(provenance.packages);
  std::string tar = ustar_header(".jailbuild/", '5', 0, 0700) +
                    ustar_file(".jailbuild/manifest.json", manifest_to_json(m), 0600) +
                    ustar_file(".jailbuild/origin.json", provenance_to_json(provenance), 0600) +
                    ustar_header("d/", '5', uint64_t{2} << 30, 0755);
  {
    std::ofstream out(top / "dir.tar.zst", std::ios::binary);
    out << zstd_of(tar);
    const std::string frame = zstd_frame_of_zeros(std::size_t{1} << 20);
    for (int i = 0; i < 2048; ++i)
      out << frame;
    out << zstd_of(std::string(1024, '\0'));
  }
  CHECK(lstat_of(top / "dir.tar.zst").st_size < (1 << 20));
  std::string error = error_of([&] {
    unpack_jail({top / "dir.tar.zst", top / "copy", top / "state", {200'000, uint64_t{1} << 20}});
  });
  CAPTURE(error);
  CHECK(error.starts_with(top / "dir.tar.zst: "));
  CHECK(contains(error, "more than 1048576 bytes"));
  CHECK_FALSE(fs::exists(top / "copy"));
}

namespace {

/// DIR/d/d/d/... `depth` levels deep, owned by uid:uid, made through fds (the path soon exceeds
/// PATH_MAX), as a service user can make it in a directory it may write.
void make_chain(const std::string& dir, int depth, uid_t uid) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(fd);
  for (int i = 0; i < depth; ++i) {
    REQUIRE(::mkdirat(fd.get(), "d", 0755) == 0);
    REQUIRE(::fchownat(fd.get(), "d", uid, uid, AT_SYMLINK_NOFOLLOW) == 0);
    fd.reset(::openat(fd.get(), "d", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    REQUIRE(fd);
  }
}

/// Removes a chain make_chain made, one level at a time from the top (DIR/d/d moves up to DIR/x,
/// DIR/d goes, DIR/x becomes DIR/d): no path ever gets long, no fd is held per level.
void remove_chain(const std::string& dir) {
  UniqueFd top(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(top);
  for (;;) {
    UniqueFd first(::openat(top.get(), "d", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!first) return;
    if (::renameat(first.get(), "d", top.get(), "x") != 0) {
      REQUIRE(::unlinkat(top.get(), "d", AT_REMOVEDIR) == 0);
      return;
    }
    REQUIRE(::unlinkat(top.get(), "d", AT_REMOVEDIR) == 0);
    REQUIRE(::renameat(top.get(), "x", top.get(), "d") == 0);
  }
}

/// The soft limit of open files lowered to the usual default while it lives.
struct FewFds {
  struct rlimit before {};
  FewFds() {
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &before) == 0);
    struct rlimit low = before;
    low.rlim_cur = std::min<rlim_t>(before.rlim_cur, 1024);
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
  }
  ~FewFds() { ::setrlimit(RLIMIT_NOFILE, &before); }
};

} // namespace

TEST_CASE("pack_jail: a service's 3,000-level tree in a state directory is no crash, no fd exhaustion" *
          doctest::skip(!is_root())) {
  TempDir top("deep", 0700);
  make_jail(top / "jail");
  const std::string sessions = top / "jail/var/lib/php/sessions";
  make_chain(sessions, 3000, 33); // www-data may write the sessions directory
  struct Cleanup {
    std::string dir;
    ~Cleanup() { remove_chain(dir); }
  } cleanup{sessions};
  FewFds few;

  // Without --include-state the tree is state: what lies too deep is left out, with a warning.
  PackResult r;
  std::string error = error_of([&] {
    r = pack_jail({top / "jail", top / "j.tar", StateFiles::leave_out, 1});
  });
  REQUIRE(error == "");
  bool warned = false;
  for (const std::string& w : r.warnings)
    warned =
        warned || (w.starts_with("/var/lib/php/sessions/d/d/") && contains(w, "more than 256 levels deep"));
  CHECK(warned);
  std::size_t deepest = 0;
  for (const std::string& name : names_of(list_archive(top / "j.tar")))
    deepest = std::max<std::size_t>(deepest, std::count(name.begin(), name.end(), '/'));
  CHECK(deepest <= 256);

  // With --include-state it is part of the archive: a clear error naming the place.
  error = error_of([&] { pack_jail({top / "jail", top / "s.tar", StateFiles::include, 1}); });
  CAPTURE(error);
  CHECK(error.starts_with(top / "jail/var/lib/php/sessions/d/d/"));
  CHECK(contains(error, "nested more than 256 levels deep"));
  CHECK_FALSE(fs::exists(top / "s.tar"));
}

namespace {

/// The findings of a rule about a path.
std::vector<Finding> findings_at(const AuditReport& report, const std::string& rule,
                                 const std::string& path) {
  std::vector<Finding> found;
  for (const Finding& f : report.findings)
    if (f.rule == rule && f.path == path) found.push_back(f);
  return found;
}

/// Bind mounts made by a test, detached again whatever happens.
struct Mounts {
  std::vector<std::string> points;
  void bind(const std::string& source, const std::string& point) {
    REQUIRE(::mount(source.c_str(), point.c_str(), nullptr, MS_BIND, nullptr) == 0);
    points.push_back(point);
  }
  ~Mounts() {
    for (auto it = points.rbegin(); it != points.rend(); ++it)
      ::umount2(it->c_str(), MNT_DETACH);
  }
};

} // namespace

TEST_CASE("pack_jail: a configuration file placed by hand goes unverified: the unpacked jail's audit still "
          "reports it" *
          doctest::skip(!is_root())) {
  TempDir top("launder", 0700);
  make_jail(top / "jail");
  write_text(top / "jail/etc/evil.conf", "include /var/www/upload/*.conf\n");
  const AuditOptions rules_and_integrity{Integrity::check, Hardening::skip};
  std::vector<Finding> before =
      findings_at(audit_jail(top / "jail", rules_and_integrity), "integrity-unexpected", "/etc/evil.conf");
  REQUIRE(before.size() == 1);
  CHECK(before[0].severity == Severity::high);

  PackResult packed = pack_jail({top / "jail", top / "j.tar.zst", StateFiles::leave_out, 1600000000});
  bool warned = false;
  for (const std::string& w : packed.warnings)
    warned = warned || (contains(w, "not in the manifest") && contains(w, "/etc/evil.conf"));
  CHECK(warned);
  unpack_jail({top / "j.tar.zst", top / "copy", top / "state", {}});
  CHECK(read_text(top / "copy/etc/evil.conf") == read_text(top / "jail/etc/evil.conf"));
  std::vector<Finding> after =
      findings_at(audit_jail(top / "copy", rules_and_integrity), "integrity-unexpected", "/etc/evil.conf");
  REQUIRE(after.size() == 1);
  CHECK(after[0].severity == Severity::high);

  // Site content in a directory the service writes stays vouched for: a change there after the
  // unpack is still found.
  const std::string www_data_dir = top / "jail/var/lib/private";
  write_text(www_data_dir + "/upload.txt", "u");
  pack_jail({top / "jail", top / "k.tar.zst", StateFiles::leave_out, 1600000000});
  unpack_jail({top / "k.tar.zst", top / "copy2", top / "state", {}});
  CHECK(findings_at(audit_jail(top / "copy2", rules_and_integrity), "integrity-unexpected",
                    "/var/lib/private/upload.txt")
            .empty());
  write_text(top / "copy2/var/lib/private/upload.txt", "changed");
  CHECK(findings_at(audit_jail(top / "copy2", rules_and_integrity), "integrity-modified",
                    "/var/lib/private/upload.txt")
            .size() == 1);
}

// Mounting needs root allowed to mount.
TEST_CASE("pack_jail: never reads through a mount below the jail; a bind's mount point is packed as the "
          "manifest says" *
          doctest::skip(!can_mount())) {
  TempDir top("mounted", 0700);
  make_jail(top / "jail");
  // A bind entry, as --bind /srv/data:/mnt/data would make it, its mount point made by create.
  {
    Manifest m = read_manifest(top / "jail");
    PlanEntry mnt;
    mnt.kind = EntryKind::directory, mnt.role = EntryRole::system, mnt.path = "/mnt", mnt.mode = 0755;
    PlanEntry bind;
    bind.kind = EntryKind::bind, bind.role = EntryRole::system, bind.path = "/mnt/data", bind.mode = 0755;
    bind.source = top / "srv-data";
    m.plan.entries.push_back(mnt);
    m.plan.entries.push_back(bind);
    JailFs jail(top / "jail");
    jail.make_dir("mnt", 0755, 0, 0);
    jail.make_dir("mnt/data", 0755, 0, 0);
    write_manifest(jail, m);
  }
  // The host's data: owned by another user, on the same file system as the jail (st_dev alone
  // cannot tell the mount).
  write_text(top / "srv-data/customers.db", "host data");
  REQUIRE(::chown((top / "srv-data").c_str(), 1234, 1234) == 0);
  REQUIRE(::chmod((top / "srv-data").c_str(), 0700) == 0);
  write_text(top / "srv-other/private.key", "host key");
  REQUIRE(::mkdir((top / "jail/var/www/up").c_str(), 0755) == 0);
  Mounts mounts;
  mounts.bind(top / "srv-data", top / "jail/mnt/data");    // the manifest's bind, mounted
  mounts.bind(top / "srv-other", top / "jail/var/www/up"); // a mount nobody declared

  PackResult r = pack_jail({top / "jail", top / "j.tar", StateFiles::include, 1600000000});
  std::vector<ArchiveEntryFacts> entries = list_archive(top / "j.tar");
  std::vector<std::string> names = names_of(entries);
  CHECK_FALSE(has(names, "mnt/data/customers.db"));
  CHECK_FALSE(has(names, "var/www/up/private.key"));
  CHECK_FALSE(has(names, "var/www/up/"));
  const ArchiveEntryFacts& mount_point = entry_named(entries, "mnt/data/");
  CHECK(mount_point.uid == 0);
  CHECK(mount_point.perm == 0755);
  bool warned = false;
  for (const std::string& w : r.warnings)
    warned = warned || (w.starts_with("/var/www/up: ") && contains(w, "mount point"));
  CHECK(warned);
}

TEST_CASE("adopt_archive_spec: an archive's spec rebuilt from what this host allows") {
  Manifest m;
  JailSpec& spec = m.plan.spec;
  spec.services = {"nginx", "evil"};
  spec.profile_dirs = {"/usr/share/jailbuild/profiles", "/etc/jailbuild/profiles.d", "/srv/jail/opt/evil"};
  spec.host_root = "/srv/other";
  spec.binds = {{"/", "/mnt", false, false}};
  spec.writable = {{"/var/www/data", "www-data", ""},
                   {"/", "www-data", ""},
                   {"/etc", "www-data", ""},
                   {"/x/../etc", "www-data", ""},
                   {"/var/www/data/sub", "www-data", ""},
                   {"/var/www/up", "root", ""}};
  spec.files = {{"/etc/shadow", "/etc/nginx/shadow", false}};
  spec.name = "blog";
  spec.pools = {"blog"};
  spec.excludes = {"/etc/nginx/sites-enabled/default"};
  PlanEntry bind;
  bind.kind = EntryKind::bind, bind.path = "/mnt", bind.source = "/", bind.read_only = false;
  bind.requested_by = "--bind";
  PlanEntry socket = bind;
  socket.path = "/run/mysqld", socket.source = "/run/mysqld", socket.requested_by = "profile mysql-socket";
  PlanEntry file;
  file.kind = EntryKind::file, file.path = "/usr/bin/x", file.source = "/usr/bin/x";
  file.source_stamp = {1, 2, 3, 4, 5};
  m.plan.entries = {bind, file, socket};
  WalkObject object;
  object.stamp = {1, 2, 3, 4, 5};
  m.plan.objects = {object};
  m.inputs.host.push_back({});

  const std::vector<std::string> here = {"/opt/jb/share/jailbuild/profiles", "/etc/jailbuild/profiles.d",
                                         "/srv/site-profiles"};
  AdoptedSpec adopted = adopt_archive_spec(m, {"base", "nginx"}, here, "/srv/copy");
  REQUIRE(adopted.errors.size() == 1);
  CHECK(contains(adopted.errors[0], "profile 'evil', which this host does not have"));
  std::string warnings;
  for (const std::string& w : adopted.warnings)
    warnings += w + "\n";
  CAPTURE(warnings);
  CHECK(contains(warnings,
                 "the archive's profile directories are not used, this host's are: /srv/jail/opt/evil\n"));
  CHECK(contains(warnings, "host root /srv/other is not used"));
  for (const char* dropped :
       {"--writable /:www-data of the archive dropped: the jail's root",
        "--writable /etc:www-data of the archive dropped: a system directory",
        "--writable /x/../etc:www-data of the archive dropped: not a normalised absolute path",
        "--writable /var/www/data/sub:www-data of the archive dropped: inside the writable "
        "/var/www/data",
        "--writable /var/www/up:root of the archive dropped: owner 'root' is not a service user"})
    CHECK(contains(warnings, dropped));
  CHECK(contains(warnings, "/mnt <- / (rw)"));
  CHECK(
      contains(warnings, "/run/mysqld <- /run/mysqld (rw) from profile mysql-socket, which brings it back"));
  // The whole spec this host keeps, with this host's own extra profile directory (create must read the
  // same profiles), but never the archive's --file sources: those name host files for root to copy.
  CHECK(contains(warnings, "To declare them: jailbuild create /srv/copy --with nginx,evil --name blog "
                           "--profiles-dir /srv/site-profiles --pool blog --writable /var/www/data:www-data "
                           "--exclude /etc/nginx/sites-enabled/default --bind /:/mnt:rw (and the admin's own "
                           "files, each with --file SRC:DEST)"));
  CHECK(!contains(warnings, "/etc/shadow"));

  CHECK(contains(warnings, "the archive names 1 file(s) of the admin's own (--file), which are not copied"));
  CHECK(spec.files.empty());
  CHECK(spec.profile_dirs == here);
  CHECK(spec.host_root == "/");
  CHECK(spec.binds.empty());
  CHECK(spec.writable == std::vector<WritableSpec>{{"/var/www/data", "www-data", ""}});
  REQUIRE(m.plan.entries.size() == 1);
  CHECK(m.plan.entries[0].path == "/usr/bin/x");
  CHECK(m.plan.entries[0].source_stamp == FileStamp{});
  CHECK(m.plan.objects[0].stamp == FileStamp{});
  CHECK(m.inputs.empty());
}

TEST_CASE("pack_jail: removes the checksum's temporary file a killed pack left, under either name" *
          doctest::skip(!is_root())) {
  TempDir top("pack", 0700);
  make_jail(top / "jail");
  fs::create_directory(top / "out");
  write_text(top / "out/.web.tar.sha256.jbtmp.AbC123", "half"); // AtomicFile's name
  write_text(top / "out/web.tar.sha256.jbtmp.XyZ789", "half");  // an older jailbuild's
  write_text(top / "out/web.tar.sha256.jbtmp.notours", "keep"); // not a name mkstemp makes
  PackResult r = pack_jail({top / "jail", top / "out/web.tar", StateFiles::leave_out, 1600000000});
  CHECK_FALSE(fs::exists(top / "out/.web.tar.sha256.jbtmp.AbC123"));
  CHECK_FALSE(fs::exists(top / "out/web.tar.sha256.jbtmp.XyZ789"));
  CHECK(read_text(top / "out/web.tar.sha256.jbtmp.notours") == "keep");
  CHECK(std::count_if(r.warnings.begin(), r.warnings.end(), [](const std::string& w) {
          return contains(w, "left by an interrupted jailbuild pack");
        }) == 2);
  CHECK(read_text(top / "out/web.tar.sha256") == r.sha256 + "  web.tar\n");
  CHECK((lstat_of(top / "out/web.tar.sha256").st_mode & 07777) == 0644);
  CHECK((lstat_of(top / "out/web.tar").st_mode & 07777) == 0600);
}

TEST_CASE("unpack_jail: removing what a killed unpack left never follows a directory a service swaps for a "
          "symlink (red team 02)" *
          doctest::skip(!is_root())) {
  // A killed unpack left DIR with its mark and the jail's /tmp (1777, from the archive), where
  // www-data put x/d holding the names of a host directory. When the next unpack removes the
  // leftovers and opens x/d, www-data swaps x/d for a symlink to that host directory. The removal
  // must be under way when www-data wakes up: thousands of names, and a new try if it was faster.
  const int files = 1000;
  bool attacked = false;
  for (int attempt = 0; attempt < 4 && !attacked; ++attempt) {
    TempDir top("unpack-race", 0755);
    const std::string jail = top / "jail", sentinel = top / "sentinel", stage = top / "stage";
    REQUIRE(::mkdir(sentinel.c_str(), 0755) == 0);
    for (int i = 0; i < files; ++i)
      write_text(sentinel + "/file" + std::to_string(i), "host file");
    write_text(sentinel + "/victimdir/nested", "nested");
    REQUIRE(::mkdir(jail.c_str(), 0755) == 0);
    {
      JailFs j(jail);
      j.make_dir(".jailbuild", 0700, 0, 0);
      j.write_file(".jailbuild/unpacking", "emptied\n", 0600, 0, 0);
      j.make_dir("tmp", 01777, 0, 0);
      j.make_dir("usr", 0755, 0, 0);
      j.write_file("usr/left", "a file the killed unpack wrote", 0644, 0, 0);
    }
    const uid_t www = 33;
    REQUIRE(::mkdir(stage.c_str(), 0755) == 0);
    REQUIRE(::mkdir((jail + "/tmp/x").c_str(), 0755) == 0);
    REQUIRE(::mkdir((jail + "/tmp/x/d").c_str(), 0755) == 0);
    for (const auto& e : fs::directory_iterator(sentinel))
      write_text(jail + "/tmp/x/d/" + e.path().filename().string(), "");
    REQUIRE(::symlink(sentinel.c_str(), (stage + "/l").c_str()) == 0);
    for (const std::string& p : {stage, stage + "/l", jail + "/tmp/x", jail + "/tmp/x/d"})
      REQUIRE(::lchown(p.c_str(), www, www) == 0);
    for (const auto& e : fs::directory_iterator(jail + "/tmp/x/d"))
      REQUIRE(::lchown(e.path().c_str(), www, www) == 0);

    HandArchive archive(top / "a.tar");
    archive.manifest();
    archive.close();
    SwapOnOpen attacker(jail + "/tmp/x/d", stage + "/l", www);
    std::string error = error_of([&] { unpack_jail({top / "a.tar", jail, top / "state", {}}); });
    attacked = attacker.swapped();
    if (!attacked) continue;

    std::size_t left = 0;
    for (auto it = fs::recursive_directory_iterator(sentinel); it != fs::recursive_directory_iterator(); ++it)
      ++left;
    const std::size_t all = files + 2;
    CHECK_MESSAGE(left == all, "root deleted " << all - left << " of the host's " << all
                                               << " entries through the symlink");
    CHECK(fs::exists(sentinel + "/victimdir/nested"));
    CHECK(error == "");
    CHECK_FALSE(fs::exists(jail + "/usr/left"));
    CHECK_FALSE(fs::exists(fs::symlink_status(jail + "/tmp/x")));
  }
  CHECK_MESSAGE(attacked, "the removal was always over before the swap: the attack never happened");
}

TEST_CASE("unpack_jail: ARCHIVE.sha256 counts only when root wrote it where only root writes, and is read "
          "safely (red team 04)" *
          doctest::skip(!is_root())) {
  TempDir top("sha256", 0755);
  const std::string pub = top / "pub"; // stands for /tmp: anyone may put a .sha256 beside an archive
  REQUIRE(::mkdir(pub.c_str(), 01777) == 0);
  REQUIRE(::chmod(pub.c_str(), 01777) == 0);
  {
    HandArchive a(pub + "/a.tar");
    a.manifest();
    a.close();
  }
  const std::string sum = pub + "/a.tar.sha256";
  int n = 0;
  auto unpack = [&](const std::string& archive, UnpackResult& result) {
    return error_of([&] {
      result = unpack_jail({archive, top / ("jail" + std::to_string(++n)), top / "state", {}});
    });
  };
  auto warned = [](const UnpackResult& r, const std::string& part) {
    return std::any_of(r.warnings.begin(), r.warnings.end(),
                       [&](const std::string& w) { return contains(w, part); });
  };

  // www-data's 3 GiB sparse file: it was read whole into memory (4.2 GB).
  {
    UniqueFd fd(::open(sum.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    REQUIRE(fd);
    REQUIRE(::ftruncate(fd.get(), off_t{3} << 30) == 0);
    REQUIRE(::fchown(fd.get(), 33, 33) == 0);
  }
  UnpackResult r;
  std::string error;
  with_memory_cap(std::size_t{512} << 20, [&] { error = unpack(pub + "/a.tar", r); });
  CHECK(error == "");
  CHECK(warned(r, "a.tar.sha256"));
  REQUIRE(::unlink(sum.c_str()) == 0);

  // www-data's wrong digest: a benign archive was refused at the very end (and its half-made jail
  // removed by the racy cleanup of red team 02).
  write_text(sum, "0000000000000000000000000000000000000000000000000000000000000000  a.tar\n");
  REQUIRE(::chown(sum.c_str(), 33, 33) == 0);
  error = unpack(pub + "/a.tar", r);
  CHECK(error == "");
  CHECK(warned(r, "a.tar.sha256"));
  REQUIRE(::unlink(sum.c_str()) == 0);

  // A FIFO there hung unpack.
  REQUIRE(::mkfifo(sum.c_str(), 0666) == 0);
  CHECK(finishes_within(10, sum, [&] { error = unpack(pub + "/a.tar", r); }));
  CHECK(error == "");
  REQUIRE(::unlink(sum.c_str()) == 0);

  // Root's own, where only root writes, is compared: a wrong one refuses the archive before anything
  // is written, the right one passes.
  const std::string own = top / "own";
  REQUIRE(::mkdir(own.c_str(), 0755) == 0);
  fs::copy_file(pub + "/a.tar", own + "/a.tar");
  write_text(own + "/a.tar.sha256", std::string(64, 'a') + "  a.tar\n");
  error = unpack(own + "/a.tar", r);
  CHECK(contains(error, "differs from the one in " + own + "/a.tar.sha256"));
  CHECK_FALSE(fs::exists(top / ("jail" + std::to_string(n))));
  write_text(own + "/a.tar.sha256", sha256_file(own + "/a.tar") + "  a.tar\n");
  CHECK(unpack(own + "/a.tar", r) == "");
  CHECK_FALSE(warned(r, "sha256"));
  // Even root's is read a line at most: 3 GiB of zeros are no digest, said at once.
  write_text(own + "/a.tar.sha256", "");
  REQUIRE(::truncate((own + "/a.tar.sha256").c_str(), off_t{3} << 30) == 0);
  with_memory_cap(std::size_t{512} << 20, [&] { error = unpack(own + "/a.tar", r); });
  CHECK(contains(error, own + "/a.tar.sha256: does not begin with a sha256"));
}

TEST_CASE(
    "pack_jail: wp-config.php, .env, a blowfish secret and a key in a big file stay out of the archive, "
    "listed; --secrets-to keeps them apart, unpack --secrets puts back only those" *
    doctest::skip(!is_root())) {
  TempDir top("secrets", 0700);
  make_jail(top / "jail");
  // The attack is the leak itself: before, each of these went into the archive for anyone holding it.
  write_text(top / "jail/var/www/wp-config.php", "<?php define('DB_PASSWORD', 'hunter2');\n");
  write_text(top / "jail/var/www/.env", "DB_PASSWORD=hunter2\n");
  write_text(top / "jail/var/www/config.inc.php",
             "<?php $cfg['blowfish_secret'] = 'hunter2hunter2hunter2';\n");
  // A key at the head of a file far over 64 KiB: only the head is read, and it is enough.
  write_text(top / "jail/var/www/bundle.pem",
             "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n" +
                 std::string(1 << 20, '#'));
  write_text(top / "jail/var/www/harmless.php", "<?php $cfg['blowfish_secret'] = '';\n");
  // Debian's wp-config.php only loads /etc/wordpress/config-HOST.php (a secret by name): without it
  // the unpacked site would ask to be set up again.
  fs::create_directories(top / "jail/var/www/debian");
  write_text(top / "jail/var/www/debian/wp-config.php",
             "<?php require_once('/etc/wordpress/config-' . $host . '.php'); define('DB_NAME', 'wp');\n");
  PackOptions options{top / "jail", top / "j.tar", StateFiles::leave_out, 1600000000};
  options.secrets_to = top / "secrets.tar";
  PackResult packed = pack_jail(options);
  const std::set<std::string> secrets = {"/var/www/.env", "/var/www/bundle.pem", "/var/www/config.inc.php",
                                         "/var/www/wp-config.php"};
  CHECK(std::set<std::string>(packed.secrets.begin(), packed.secrets.end()) == secrets);
  std::set<std::string> in_archive, apart;
  for (const ArchiveEntryFacts& e : list_archive(top / "j.tar"))
    in_archive.insert("/" + e.name);
  for (const ArchiveEntryFacts& e : list_archive(top / "secrets.tar"))
    apart.insert("/" + e.name);
  for (const std::string& s : secrets)
    CHECK_MESSAGE(!in_archive.count(s), s);
  CHECK(in_archive.count("/var/www/harmless.php"));
  CHECK(in_archive.count("/var/www/debian/wp-config.php"));
  CHECK(apart == secrets);
  CHECK((lstat_of(top / "secrets.tar").st_mode & 07777) == 0600);

  // Without the secrets: the jail unpacks and says which files to restore.
  UnpackResult bare = unpack_jail({top / "j.tar", top / "bare", top / "state", {}});
  CHECK(std::set<std::string>(bare.secrets.begin(), bare.secrets.end()) == secrets);
  CHECK(!fs::exists(top / "bare/var/www/wp-config.php"));
  // With them: back in place, root's, no more than 0640.
  UnpackOptions with{top / "j.tar", top / "copy", top / "state", {}};
  with.secrets = top / "secrets.tar";
  UnpackResult restored = unpack_jail(with);
  CHECK(restored.secrets.empty());
  CHECK(read_text(top / "copy/var/www/wp-config.php") == read_text(top / "jail/var/www/wp-config.php"));
  CHECK((lstat_of(top / "copy/var/www/wp-config.php").st_mode & 0137) == 0);
  // A secrets archive holding a file pack did not leave out (the jail's passwd) is refused whole.
  write_text(top / "evil/etc/passwd", "root::0:0::/:/bin/sh\n");
  {
    archive* a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    REQUIRE(archive_write_open_filename(a, (top / "evil.tar").c_str()) == ARCHIVE_OK);
    archive_entry* e = archive_entry_new();
    const std::string body = read_text(top / "evil/etc/passwd");
    archive_entry_set_pathname(e, "etc/passwd");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, static_cast<la_int64_t>(body.size()));
    archive_write_header(a, e);
    archive_write_data(a, body.data(), body.size());
    archive_entry_free(e);
    archive_write_close(a);
    archive_write_free(a);
  }
  UnpackOptions evil{top / "j.tar", top / "evil-copy", top / "state", {}};
  evil.secrets = top / "evil.tar";
  CHECK(contains(error_of([&] { unpack_jail(evil); }), "etc/passwd: not a secret the archive left out"));
  CHECK(!fs::exists(top / "evil-copy/etc"));
}
