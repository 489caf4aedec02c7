// SPDX-License-Identifier: MIT
#include "jailbuild/error.hpp"
#include "jailbuild/jailfs.hpp"
#include "jailbuild/manifest.hpp"

#include "test_util.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <sys/stat.h>

using namespace jailbuild;
using namespace jailbuild::test;
namespace fs = std::filesystem;

namespace {

/// A manifest with one entry of every kind and every optional field set.
Manifest sample_manifest() {
  Manifest m;
  m.tool = "jailbuild 0.1.0";
  m.created = 1700000000;
  m.updated = 1700000100;
  Plan& p = m.plan;
  p.spec.services = {"nginx", "php-fpm"};
  p.spec.php_version = "8.2";
  p.spec.binds = {{"/srv/data", "/mnt/data", true, false}, {"/run/mysqld", "/run/mysqld", false, true}};
  p.spec.writable = {{"/var/www/data", "www-data", "www-data"}};
  p.spec.host_root = "/";
  p.spec.profile_dirs = {"/usr/share/jailbuild/profiles", "/etc/jailbuild/profiles.d"};
  p.spec.name = "blog";
  p.spec.pools = {"blog"};
  p.spec.excludes = {"/etc/nginx/sites-enabled/default", "/usr/share/zoneinfo/right/*"};
  p.spec.files = {{"/etc/ssl/blog.pem", "/etc/ssl/blog.pem", false},
                  {"/etc/ssl/blog.key", "/etc/ssl/blog.key", true}};

  PlanEntry dir;
  dir.kind = EntryKind::directory;
  dir.role = EntryRole::state;
  dir.path = "/tmp";
  dir.mode = 01777;
  dir.requested_by = "profile base";
  PlanEntry file;
  file.kind = EntryKind::file;
  file.role = EntryRole::library;
  file.path = "/usr/lib/x86_64-linux-gnu/libc.so.6";
  file.mode = 0755;
  file.source = "/usr/lib/x86_64-linux-gnu/libc.so.6";
  file.digest = std::string(64, 'a');
  file.source_stamp = {2049, 123456, 1922136, 1690000000123456789};
  file.requested_by = "walk";
  PlanEntry link;
  link.kind = EntryKind::symlink;
  link.role = EntryRole::system;
  link.path = "/lib64";
  link.mode = 0777;
  link.source = "usr/lib64";
  link.requested_by = "profile base";
  PlanEntry device;
  device.kind = EntryKind::device;
  device.role = EntryRole::system;
  device.path = "/dev/urandom";
  device.mode = 0666;
  device.device_type = DeviceType::character;
  device.major = 1;
  device.minor = 9;
  PlanEntry block = device;
  block.path = "/dev/loop300";
  block.device_type = DeviceType::block;
  block.major = 7;
  block.minor = 300; // above 255: split across the dev_t fields
  PlanEntry generated;
  generated.kind = EntryKind::generated;
  generated.role = EntryRole::config;
  generated.path = "/etc/passwd";
  generated.mode = 0644;
  generated.content = "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n\"quoted\" \\ and \xc3\xa9\n";
  generated.digest = std::string(64, 'b');
  PlanEntry bind;
  bind.kind = EntryKind::bind;
  bind.role = EntryRole::system;
  bind.path = "/run/mysqld";
  bind.mode = 0755;
  bind.source = "/run/mysqld";
  bind.read_only = false;
  bind.noexec = true;
  bind.requested_by = "profile mysql-socket";
  PlanEntry owned = dir;
  owned.path = "/var/lib/nginx";
  owned.mode = 0750;
  owned.uid = 33;
  owned.gid = 33;
  PlanEntry key = file;
  key.role = EntryRole::config;
  key.path = "/etc/ssl/blog.key";
  key.source = "/etc/ssl/blog.key";
  key.mode = 0600;
  key.secret = true;
  key.requested_by = "--file";
  PlanEntry removed = generated;
  removed.path = "/etc/nginx/sites-enabled/default";
  removed.kept_absent = true;
  p.entries = {dir, file, link, device, block, generated, bind, owned, key, removed};
  p.users = {"www-data"};
  p.warnings = {"php-fpm pool www: chroot= is set"};

  WalkObject o;
  o.path = "/usr/lib/x86_64-linux-gnu/libc.so.6";
  o.stamp = file.source_stamp;
  o.elf.machine = 62;
  o.elf.type = 3;
  o.elf.has_dynamic = true;
  o.elf.interpreter = "/lib64/ld-linux-x86-64.so.2";
  o.elf.needed = {"ld-linux-x86-64.so.2"};
  o.elf.soname = "libc.so.6";
  o.elf.runpath = "$ORIGIN/../lib";
  p.objects = {o};
  return m;
}

} // namespace

TEST_CASE("manifest_to_json / manifest_from_json: every entry kind round-trips") {
  Manifest m = sample_manifest();
  std::string text = manifest_to_json(m);
  Manifest back = manifest_from_json(text, "test.json");
  CHECK(back.format == 1);
  CHECK(back.tool == m.tool);
  CHECK(back.created == m.created);
  CHECK(back.updated == m.updated);
  CHECK(back.plan.spec == m.plan.spec);
  CHECK(back.plan.users == m.plan.users);
  CHECK(back.plan.warnings == m.plan.warnings);
  REQUIRE(back.plan.entries.size() == m.plan.entries.size());
  for (size_t i = 0; i < m.plan.entries.size(); ++i) {
    CAPTURE(m.plan.entries[i].path);
    CHECK(back.plan.entries[i] == m.plan.entries[i]);
  }
  REQUIRE(back.plan.objects.size() == 1);
  CHECK(back.plan.objects[0].path == m.plan.objects[0].path);
  CHECK(back.plan.objects[0].stamp == m.plan.objects[0].stamp);
  CHECK(back.plan.objects[0].elf == m.plan.objects[0].elf);
  // Deterministic: the same manifest gives the same bytes.
  CHECK(manifest_to_json(back) == text);
}

TEST_CASE("manifest_to_json: keys added for jail definitions are written only when they say something") {
  Manifest m = sample_manifest();
  m.plan.spec.name.clear();
  m.plan.spec.pools.clear();
  m.plan.spec.excludes.clear();
  m.plan.spec.files.clear();
  m.plan.entries.resize(8); // without the secret and the kept-absent entry
  const std::string text = manifest_to_json(m);
  // What an older jailbuild wrote, and reads: none of the new keys.
  for (const char* key :
       {"\"name\"", "\"pools\"", "\"excludes\"", "\"files\"", "\"secret\"", "\"kept_absent\""})
    CHECK_MESSAGE(text.find(key) == std::string::npos, key);
  Manifest back = manifest_from_json(text, "test.json");
  CHECK(back.plan.spec == m.plan.spec);
}

TEST_CASE("manifest_from_json: a corrupt manifest is an Error naming the file") {
  const std::string where = "/srv/jail/.jailbuild/manifest.json";
  std::string err = error_of([&] { manifest_from_json("{ \"format\": 1, ", where); });
  CHECK(err.rfind(where + ": ", 0) == 0);
  CHECK(contains(err, "corrupt manifest"));
  CHECK(contains(error_of([&] { manifest_from_json("[]", where); }), where));
  CHECK(contains(error_of([&] { manifest_from_json("{\"format\": 1}", where); }), where));

  // Well-formed JSON with wrong content, whatever the layout manifest_to_json chooses.
  const nlohmann::json good = nlohmann::json::parse(manifest_to_json(sample_manifest()));
  nlohmann::json future = good;
  future["format"] = 9;
  err = error_of([&] { manifest_from_json(future.dump(), where); });
  CHECK(contains(err, where));
  CHECK(contains(err, "unsupported manifest format 9"));

  nlohmann::json bad_mode = good;
  bad_mode["entries"][0]["mode"] = "17x7";
  err = error_of([&] { manifest_from_json(bad_mode.dump(), where); });
  CHECK(contains(err, where));
  CHECK(contains(err, "bad mode"));

  nlohmann::json bad_kind = good;
  bad_kind["entries"][0]["kind"] = "fifo";
  CHECK(contains(error_of([&] { manifest_from_json(bad_kind.dump(), where); }), where));

  nlohmann::json missing = good;
  missing["entries"][1].erase("source");
  CHECK(contains(error_of([&] { manifest_from_json(missing.dump(), where); }), where + ": corrupt manifest"));
}

TEST_CASE("read_manifest: no manifest and a corrupt manifest file are Errors naming the place") {
  TempDir dir("manifest", 0700);
  std::string err = error_of([&] { read_manifest(dir.path); });
  CHECK(contains(err, dir.path));
  CHECK(contains(err, "not a jailbuild jail"));

  fs::create_directory(dir.path + "/.jailbuild");
  write_text(dir.path + "/.jailbuild/manifest.json", "{ this is not json");
  err = error_of([&] { read_manifest(dir.path); });
  CHECK(contains(err, dir.path + "/.jailbuild/manifest.json: corrupt manifest"));
}

// write_manifest chowns to root, which needs root.
TEST_CASE("write_manifest: root-only directory and file, read back as written" * doctest::skip(!is_root())) {
  TempDir dir("manifest", 0700);
  JailFs jail(dir.path);
  Manifest m = sample_manifest();
  write_manifest(jail, m);
  struct stat st {};
  REQUIRE(::stat((dir.path + "/.jailbuild").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0700);
  CHECK(st.st_uid == 0);
  REQUIRE(::stat((dir.path + "/.jailbuild/manifest.json").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  Manifest back = read_manifest(dir.path);
  CHECK(back.plan.entries == m.plan.entries);
  CHECK(back.plan.spec == m.plan.spec);
}

TEST_CASE("entry_to_json: the manifest records the stamps, the dry-run report the size, else one shape") {
  const Plan plan = sample_manifest().plan;
  const PlanEntry& file = plan.entries[1];
  REQUIRE(file.kind == EntryKind::file);
  nlohmann::json recorded = entry_to_json<nlohmann::json>(file, EntryStamps::recorded);
  CHECK(recorded["source_stamp"]["ino"] == 123456);
  CHECK(recorded.contains("jail_stamp"));
  CHECK(!recorded.contains("size"));
  nlohmann::ordered_json shown = entry_to_json<nlohmann::ordered_json>(file, EntryStamps::size_only);
  CHECK(shown["size"] == 1922136);
  CHECK(!shown.contains("source_stamp"));
  CHECK(!shown.contains("jail_stamp"));
  CHECK(shown.begin().key() == "kind"); // people read the report: the kind comes first

  for (const PlanEntry& e : plan.entries) {
    CAPTURE(e.path);
    nlohmann::json manifest_entry = entry_to_json<nlohmann::json>(e, EntryStamps::recorded);
    nlohmann::json report_entry(entry_to_json<nlohmann::ordered_json>(e, EntryStamps::size_only));
    for (const char* key : {"source_stamp", "jail_stamp"})
      manifest_entry.erase(key);
    report_entry.erase("size");
    CHECK(manifest_entry == report_entry);
  }
}

TEST_CASE(
    "manifest_from_json: entry paths must be jail paths, ids 32 bits: a manifest may come from an archive") {
  const std::string where = "/srv/jail/.jailbuild/manifest.json";
  const nlohmann::json good = nlohmann::json::parse(manifest_to_json(sample_manifest()));
  for (const char* path :
       {"", "tmp", "/tmp/", "//tmp", "/tmp/./x", "/tmp/../etc", "/.jailbuild", "/.jailbuild/manifest.json"}) {
    CAPTURE(path);
    nlohmann::json bad = good;
    bad["entries"][0]["path"] = path;
    std::string err = error_of([&] { manifest_from_json(bad.dump(), where); });
    CHECK(err == where + ": corrupt manifest: an entry's path '" + path +
                     "' is not an absolute, normalised jail path outside /.jailbuild");
  }
  nlohmann::json nul = good;
  nul["entries"][0]["path"] = std::string("/tmp\0x", 6);
  CHECK(
      contains(error_of([&] { manifest_from_json(nul.dump(), where); }), "path '/tmp?x' is not an absolute"));
  nlohmann::json dotted = good;
  dotted["entries"][0]["path"] = "/.jailbuild-not/x"; // only jailbuild's own directory is reserved
  CHECK(error_of([&] { manifest_from_json(dotted.dump(), where); }).empty());

  for (const char* field : {"uid", "gid"})
    for (uint64_t id : {uint64_t{4294967296}, uint64_t{4294967295}}) {
      CAPTURE(field);
      nlohmann::json bad = good;
      bad["entries"][0][field] = id;
      CHECK(error_of([&] { manifest_from_json(bad.dump(), where); }) ==
            where + ": corrupt manifest: entry /tmp: " + field + " " + std::to_string(id) +
                " is out of range");
    }
  nlohmann::json negative = good;
  negative["entries"][0]["uid"] = -1;
  CHECK(
      contains(error_of([&] { manifest_from_json(negative.dump(), where); }), where + ": corrupt manifest"));
  nlohmann::json device = good;
  device["entries"][3]["device"]["major"] = uint64_t{1} << 40;
  CHECK(contains(error_of([&] { manifest_from_json(device.dump(), where); }), "entry /dev/urandom: major"));
}
