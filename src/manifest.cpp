// SPDX-License-Identifier: MIT
#include "jailbuild/manifest.hpp"

#include "jailbuild/error.hpp"
#include "jailbuild/jailfs.hpp"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

namespace jailbuild {

namespace {

using nlohmann::json;

std::string octal(uint32_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", mode);
  return buf;
}

uint32_t parse_octal(const std::string& s, const std::string& where) {
  try {
    size_t used = 0;
    unsigned long v = std::stoul(s, &used, 8);
    if (used != s.size() || v > 07777) throw std::invalid_argument(s);
    return static_cast<uint32_t>(v);
  } catch (const std::exception&) {
    throw Error(where, "bad mode '" + s + "' in manifest");
  }
}

json stamp_json(const FileStamp& s) {
  return {{"dev", s.dev}, {"ino", s.ino}, {"size", s.size}, {"mtime_ns", s.mtime_ns}};
}
FileStamp stamp_from(const json& j) {
  return {j.at("dev").get<uint64_t>(), j.at("ino").get<uint64_t>(), j.at("size").get<int64_t>(),
          j.at("mtime_ns").get<int64_t>()};
}

json opt(const std::optional<std::string>& v) { return v ? json(*v) : json(); }
std::optional<std::string> opt_from(const json& j) {
  if (j.is_null()) return std::nullopt;
  return j.get<std::string>();
}

json entry_json(const PlanEntry& e) {
  json j = {{"kind", to_string(e.kind)}, {"role", to_string(e.role)}, {"path", e.path},
            {"mode", octal(e.mode)},     {"uid", e.uid},                {"gid", e.gid},
            {"origin", e.origin}};
  switch (e.kind) {
  case EntryKind::file:
    j["source"] = e.source;
    j["digest"] = e.digest;
    j["source_stamp"] = stamp_json(e.source_stamp);
    j["jail_stamp"] = stamp_json(e.jail_stamp);
    break;
  case EntryKind::generated:
    j["digest"] = e.digest;
    j["content"] = e.content;
    j["jail_stamp"] = stamp_json(e.jail_stamp);
    break;
  case EntryKind::symlink: j["target"] = e.source; break;
  case EntryKind::device:
    j["device"] = {{"type", e.device_type == DeviceType::block ? "block" : "char"}, {"major", e.major}, {"minor", e.minor}};
    break;
  case EntryKind::bind:
    j["source"] = e.source;
    j["read_only"] = e.read_only;
    j["noexec"] = e.noexec;
    break;
  case EntryKind::directory: break;
  }
  return j;
}

PlanEntry entry_from(const json& j, const std::string& where) {
  PlanEntry e;
  auto kind = entry_kind_from(j.at("kind").get<std::string>());
  auto role = entry_role_from(j.at("role").get<std::string>());
  if (!kind || !role) throw Error(where, "unknown entry kind or role in manifest");
  e.kind = *kind;
  e.role = *role;
  e.path = j.at("path").get<std::string>();
  e.mode = parse_octal(j.at("mode").get<std::string>(), where);
  e.uid = j.at("uid").get<uint32_t>();
  e.gid = j.at("gid").get<uint32_t>();
  e.origin = j.value("origin", "");
  switch (e.kind) {
  case EntryKind::file:
    e.source = j.at("source").get<std::string>();
    e.digest = j.at("digest").get<std::string>();
    e.source_stamp = stamp_from(j.at("source_stamp"));
    if (j.contains("jail_stamp")) e.jail_stamp = stamp_from(j.at("jail_stamp"));
    break;
  case EntryKind::generated:
    e.digest = j.at("digest").get<std::string>();
    e.content = j.at("content").get<std::string>();
    if (j.contains("jail_stamp")) e.jail_stamp = stamp_from(j.at("jail_stamp"));
    break;
  case EntryKind::symlink: e.source = j.at("target").get<std::string>(); break;
  case EntryKind::device: {
    const json& d = j.at("device");
    e.device_type = d.at("type").get<std::string>() == "block" ? DeviceType::block : DeviceType::character;
    e.major = d.at("major").get<uint32_t>();
    e.minor = d.at("minor").get<uint32_t>();
    break;
  }
  case EntryKind::bind:
    e.source = j.at("source").get<std::string>();
    e.read_only = j.at("read_only").get<bool>();
    e.noexec = j.at("noexec").get<bool>();
    break;
  case EntryKind::directory: break;
  }
  return e;
}

json spec_json(const JailSpec& s) {
  json binds = json::array();
  for (const BindSpec& b : s.binds)
    binds.push_back({{"source", b.source}, {"dest", b.dest}, {"read_only", b.read_only}, {"noexec", b.noexec}});
  json writable = json::array();
  for (const WritableSpec& w : s.writable)
    writable.push_back({{"path", w.path}, {"owner", w.owner}, {"group", w.group}});
  return {{"services", s.services}, {"php_version", opt(s.php_version)}, {"binds", binds},
          {"writable", writable},   {"host_root", s.host_root},          {"profile_dirs", s.profile_dirs}};
}

JailSpec spec_from(const json& j) {
  JailSpec s;
  s.services = j.at("services").get<std::vector<std::string>>();
  s.php_version = opt_from(j.at("php_version"));
  for (const json& b : j.at("binds"))
    s.binds.push_back({b.at("source").get<std::string>(), b.at("dest").get<std::string>(),
                       b.at("read_only").get<bool>(), b.at("noexec").get<bool>()});
  for (const json& w : j.at("writable"))
    s.writable.push_back({w.at("path").get<std::string>(), w.at("owner").get<std::string>(), w.at("group").get<std::string>()});
  s.host_root = j.at("host_root").get<std::string>();
  s.profile_dirs = j.at("profile_dirs").get<std::vector<std::string>>();
  return s;
}

json object_json(const WalkObject& o) {
  const ElfInfo& e = o.elf;
  return {{"path", o.path},
          {"stamp", stamp_json(o.stamp)},
          {"class", e.elf_class == ElfClass::elf64 ? 64 : 32},
          {"endian", e.endian == Endian::big ? "big" : "little"},
          {"machine", e.machine},
          {"osabi", e.osabi},
          {"type", e.type},
          {"flags", e.flags},
          {"has_dynamic", e.has_dynamic},
          {"interpreter", opt(e.interpreter)},
          {"needed", e.needed},
          {"soname", opt(e.soname)},
          {"rpath", opt(e.rpath)},
          {"runpath", opt(e.runpath)},
          {"nodeflib", e.nodeflib}};
}

WalkObject object_from(const json& j) {
  WalkObject o;
  o.path = j.at("path").get<std::string>();
  o.stamp = stamp_from(j.at("stamp"));
  ElfInfo& e = o.elf;
  e.elf_class = j.at("class").get<int>() == 64 ? ElfClass::elf64 : ElfClass::elf32;
  e.endian = j.at("endian").get<std::string>() == "big" ? Endian::big : Endian::little;
  e.machine = j.at("machine").get<uint16_t>();
  e.osabi = j.at("osabi").get<uint8_t>();
  e.type = j.at("type").get<uint16_t>();
  e.flags = j.at("flags").get<uint32_t>();
  e.has_dynamic = j.at("has_dynamic").get<bool>();
  e.interpreter = opt_from(j.at("interpreter"));
  e.needed = j.at("needed").get<std::vector<std::string>>();
  e.soname = opt_from(j.at("soname"));
  e.rpath = opt_from(j.at("rpath"));
  e.runpath = opt_from(j.at("runpath"));
  e.nodeflib = j.at("nodeflib").get<bool>();
  return o;
}

json origin_json(const PackOrigin& o) {
  json packages = json::array();
  for (const PackagePin& p : o.packages) packages.push_back({{"name", p.name}, {"version", p.version}});
  return {{"host", o.host},       {"packed", o.packed},         {"packages_digest", o.packages_digest},
          {"packages", packages}, {"min_kernel", o.min_kernel}, {"extra_digests", o.extra_digests},
          {"unpacked", o.unpacked}, {"archive_sha256", o.archive_sha256}};
}

PackOrigin origin_from(const json& j) {
  PackOrigin o;
  o.host = j.at("host").get<std::string>();
  o.packed = j.at("packed").get<int64_t>();
  o.packages_digest = j.at("packages_digest").get<std::string>();
  for (const json& p : j.at("packages"))
    o.packages.push_back({p.at("name").get<std::string>(), p.at("version").get<std::string>()});
  o.min_kernel = j.value("min_kernel", "");
  o.extra_digests = j.value("extra_digests", std::map<std::string, std::string>{});
  o.unpacked = j.value("unpacked", int64_t{0});
  o.archive_sha256 = j.value("archive_sha256", "");
  return o;
}

} // namespace

std::string manifest_to_json(const Manifest& m) {
  json entries = json::array();
  for (const PlanEntry& e : m.plan.entries) entries.push_back(entry_json(e));
  json objects = json::array();
  for (const WalkObject& o : m.plan.objects) objects.push_back(object_json(o));
  json doc = {{"format", m.format},     {"tool", m.tool},        {"created", m.created},
              {"updated", m.updated},   {"spec", spec_json(m.plan.spec)}, {"users", m.plan.users},
              {"warnings", m.plan.warnings}, {"entries", entries}, {"elf_cache", objects}};
  if (m.origin) doc["origin"] = origin_json(*m.origin);
  // Compact: sync reads this on every run (and a no-op sync has 30 ms); `jq .` shows it indented.
  return doc.dump() + "\n";
}

Manifest manifest_from_json(const std::string& text, const std::string& where) {
  try {
    json doc = json::parse(text);
    Manifest m;
    m.format = doc.at("format").get<int>();
    if (m.format != 1) throw Error(where, "unsupported manifest format " + std::to_string(m.format));
    m.tool = doc.at("tool").get<std::string>();
    m.created = doc.at("created").get<int64_t>();
    m.updated = doc.at("updated").get<int64_t>();
    m.plan.spec = spec_from(doc.at("spec"));
    m.plan.users = doc.at("users").get<std::vector<std::string>>();
    m.plan.warnings = doc.value("warnings", std::vector<std::string>{});
    for (const json& e : doc.at("entries")) m.plan.entries.push_back(entry_from(e, where));
    for (const json& o : doc.at("elf_cache")) m.plan.objects.push_back(object_from(o));
    if (doc.contains("origin")) m.origin = origin_from(doc.at("origin"));
    return m;
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(where, std::string("corrupt manifest: ") + e.what());
  }
}

Manifest read_manifest(const std::string& jail_dir) {
  JailFs jail(jail_dir);
  if (!jail.lstat(manifest_file)) throw Error(jail_dir, "not a jailbuild jail: no " + std::string(manifest_file));
  int fd = jail.open_read(manifest_file);
  std::string text;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      int err = errno;
      ::close(fd);
      throw system_error(jail_dir + "/" + manifest_file, "cannot read", err);
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return manifest_from_json(text, jail_dir + "/" + manifest_file);
}

void write_manifest(JailFs& jail, const Manifest& manifest) {
  // Root-only: the manifest names every file and its digest; services have no business reading it.
  jail.make_dir(manifest_dir, 0700, 0, 0);
  jail.write_file(manifest_file, manifest_to_json(manifest), 0600, 0, 0);
}

} // namespace jailbuild
