// SPDX-License-Identifier: MIT
// The structured seeds of the fuzzers, written at build time (seeds are never committed): manifests
// and origins as jailbuild writes them, with every kind of entry and every optional section, and
// archives made by the real pack code from a small jail, in each compression unpack reads.
//
//   jb_fuzz_seeds OUTDIR     writes OUTDIR/{manifest,origin,unpack}/
#include "jailbuild/digest.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/jailfs.hpp"
#include "jailbuild/manifest.hpp"
#include "jailbuild/pack.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

using namespace jailbuild;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& file, const std::string& content) {
  fs::create_directories(file.parent_path());
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw Error(file.string(), "cannot write");
}

PlanEntry entry(EntryKind kind, EntryRole role, const std::string& path, uint32_t mode) {
  PlanEntry e;
  e.kind = kind;
  e.role = role;
  e.path = path;
  e.mode = mode;
  e.requested_by = "profile base";
  return e;
}

Provenance sample_origin() {
  Provenance o;
  o.host = "web1";
  o.packed = 1700000000;
  o.packages = {{"libc6:amd64", "2.36-9+deb12u7"}, {"nginx-common", "1.22.1-9"}};
  o.packages_digest = sha256_hex("libc6:amd64 2.36-9+deb12u7\nnginx-common 1.22.1-9\n");
  o.min_kernel = "3.2.0";
  o.extra_digests = {{"/var/www/index.php", sha256_hex("<?php echo 1;")}};
  return o;
}

/// A manifest with every kind of entry, the ELF cache, the input record and an origin.
Manifest sample_manifest() {
  Manifest m;
  m.tool = "jailbuild 0.1.0";
  m.created = 1700000000;
  m.updated = 1700000100;
  JailSpec& spec = m.plan.spec;
  spec.services = {"nginx", "php-fpm"};
  spec.php_version = "8.2";
  spec.binds = {{"/srv/data", "/data", false, true}};
  spec.writable = {{"/var/www/uploads", "www-data", "www-data"}};
  spec.profile_dirs = {"/usr/share/jailbuild/profiles", "/etc/jailbuild/profiles.d"};
  m.plan.users = {"www-data"};
  m.plan.warnings = {"/etc/nginx/nginx.conf:12: $root contains variables: kept verbatim"};

  auto& entries = m.plan.entries;
  entries.push_back(entry(EntryKind::directory, EntryRole::system, "/", 0755));
  entries.push_back(entry(EntryKind::directory, EntryRole::system, "/dev", 0755));
  PlanEntry null = entry(EntryKind::device, EntryRole::system, "/dev/null", 0666);
  null.major = 1, null.minor = 3;
  entries.push_back(null);
  PlanEntry passwd = entry(EntryKind::generated, EntryRole::config, "/etc/passwd", 0644);
  passwd.content = "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n";
  passwd.digest = sha256_hex(passwd.content);
  passwd.jail_stamp = {2049, 1234, static_cast<int64_t>(passwd.content.size()), 1700000000000000000, 0};
  entries.push_back(passwd);
  PlanEntry data = entry(EntryKind::bind, EntryRole::data, "/data", 0755);
  data.source = "/srv/data";
  data.read_only = false;
  data.noexec = true;
  entries.push_back(data);
  PlanEntry libc = entry(EntryKind::file, EntryRole::library, "/usr/lib/x86_64-linux-gnu/libc.so.6", 0755);
  libc.source = "/usr/lib/x86_64-linux-gnu/libc.so.6";
  libc.digest = sha256_hex("libc");
  libc.source_stamp = {2049, 42, 1922136, 1700000000000000000, 1700000000000000000};
  libc.jail_stamp = {2049, 4242, 1922136, 1700000000000000000, 1700000000000000000};
  entries.push_back(libc);
  PlanEntry lib = entry(EntryKind::symlink, EntryRole::system, "/lib", 0777);
  lib.source = "usr/lib";
  entries.push_back(lib);
  PlanEntry sessions = entry(EntryKind::directory, EntryRole::state, "/var/lib/php/sessions", 01733);
  sessions.uid = sessions.gid = 33;
  entries.push_back(sessions);

  WalkObject nginx;
  nginx.path = "/usr/sbin/nginx";
  nginx.names = {"/usr/sbin/nginx"};
  nginx.hops = {{"/lib", "usr/lib"}};
  nginx.role = ObjectRole::root;
  nginx.stamp = {2049, 7, 1234, 1700000000000000000, 1700000000000000000};
  nginx.elf.machine = 62;
  nginx.elf.type = 3;
  nginx.elf.has_dynamic = true;
  nginx.elf.interpreter = "/lib64/ld-linux-x86-64.so.2";
  nginx.elf.needed = {"libc.so.6", "libpcre2-8.so.0"};
  nginx.elf.runpath = "$ORIGIN/../lib";
  m.plan.objects.push_back(nginx);

  m.inputs.planned_at_ns = 1700000000000000000;
  m.inputs.host = {{"/etc/nginx/nginx.conf", Scrutiny::whole, false, {0100644, 0, 0, 2049, 9, 1500, 1, 2}},
                   {"/usr/sbin", Scrutiny::passed, true, {040755, 0, 0, 2049, 10, 4096, 1, 2}}};
  m.inputs.tool = {{"/usr/sbin/jailbuild", Scrutiny::whole, false, {0100755, 0, 0, 2049, 11, 900000, 1, 2}}};
  m.provenance = sample_origin();
  return m;
}

/// A small jail as create leaves it, with site content the plan does not list; owned by whoever
/// runs the build (root for a device node).
void make_jail(const fs::path& dir, const fs::path& host_root) {
  fs::create_directories(host_root); // no dpkg database: pack records no packages
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms(0755));
  const uid_t uid = ::geteuid();
  const gid_t gid = ::getegid();
  JailFs jail(dir.string());
  Manifest m;
  m.tool = "jailbuild 0.1.0";
  m.created = m.updated = 1700000000;
  m.plan.spec.services = {"nginx"};
  m.plan.spec.host_root = host_root.string();
  auto add = [&](PlanEntry e) {
    e.uid = uid;
    e.gid = gid;
    m.plan.entries.push_back(std::move(e));
  };
  for (const char* d : {"dev", "etc", "usr", "usr/bin", "var", "var/www"}) {
    jail.make_dir(d, 0755, uid, gid);
    add(entry(EntryKind::directory, EntryRole::system, std::string("/") + d, 0755));
  }
  PlanEntry passwd = entry(EntryKind::generated, EntryRole::config, "/etc/passwd", 0644);
  passwd.content = "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n";
  passwd.digest = jail.write_file("etc/passwd", passwd.content, 0644, uid, gid);
  add(passwd);
  PlanEntry tool = entry(EntryKind::file, EntryRole::executable, "/usr/bin/tool", 0755);
  tool.source = "/usr/bin/true";
  tool.digest = jail.write_file("usr/bin/tool", "#!/bin/sh\nexit 0\n", 0755, uid, gid);
  add(tool);
  PlanEntry bin = entry(EntryKind::symlink, EntryRole::system, "/bin", 0777);
  bin.source = "usr/bin";
  jail.make_symlink("bin", "usr/bin");
  add(bin);
  if (uid == 0) {
    PlanEntry null = entry(EntryKind::device, EntryRole::system, "/dev/null", 0666);
    null.major = 1, null.minor = 3;
    jail.make_device("dev/null", DeviceKind::character, 1, 3, 0666, 0, 0);
    add(null);
  }
  write_manifest(jail, m);
  jail.write_file("var/www/index.php", "<?php echo 1;", 0644, uid, gid);
  jail.make_hardlink("var/www/copy.php", "var/www/index.php");
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: jb_fuzz_seeds OUTDIR\n");
    return 2;
  }
  const fs::path out = argv[1];
  try {
    fs::remove_all(out);
    const Manifest manifest = sample_manifest();
    write(out / "manifest/full.json", manifest_to_json(manifest));
    Manifest bare;
    bare.tool = "jailbuild 0.1.0";
    write(out / "manifest/empty.json", manifest_to_json(bare));
    write(out / "origin/full.json", provenance_to_json(*manifest.provenance));
    write(out / "origin/empty.json", provenance_to_json(Provenance{}));

    const fs::path work = out / ".work";
    make_jail(work / "jail", work / "host");
    std::ifstream packed_manifest(work / "jail" / manifest_file, std::ios::binary);
    write(out / "manifest/jail.json", std::string(std::istreambuf_iterator<char>(packed_manifest), {}));
    for (const char* name : {"jail.tar", "jail.tar.gz", "jail.tar.xz", "jail.tar.zst"}) {
      PackOptions options;
      options.dir = (work / "jail").string();
      options.output = (out / "unpack" / name).string();
      options.source_date_epoch = 1700000000;
      fs::create_directories(out / "unpack");
      pack_jail(options);
      fs::remove(options.output + ".sha256"); // not a seed
    }
    fs::remove_all(work);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "jb_fuzz_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
