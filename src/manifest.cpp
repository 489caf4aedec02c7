// SPDX-License-Identifier: MIT
#include "jailbuild/manifest.hpp"

#include "jailbuild/error.hpp"
#include "jailbuild/fd.hpp"
#include "jailbuild/jailfs.hpp"

#include <nlohmann/json.hpp>
#include <simdjson.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <fcntl.h>
#include <stdexcept>
#include <sys/stat.h>
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

template <class Json> Json stamp_json(const FileStamp& s) {
  return {
      {"dev", s.dev}, {"ino", s.ino}, {"size", s.size}, {"mtime_ns", s.mtime_ns}, {"ctime_ns", s.ctime_ns}};
}

json opt(const std::optional<std::string>& v) {
  return v ? json(*v) : json();
}
std::optional<std::string> opt_from(const json& j) {
  if (j.is_null()) return std::nullopt;
  return j.get<std::string>();
}

json spec_json(const JailSpec& s) {
  json binds = json::array();
  for (const BindSpec& b : s.binds)
    binds.push_back(
        {{"source", b.source}, {"dest", b.dest}, {"read_only", b.read_only}, {"noexec", b.noexec}});
  json writable = json::array();
  for (const WritableSpec& w : s.writable)
    writable.push_back({{"path", w.path}, {"owner", w.owner}, {"group", w.group}});
  json spec = {{"services", s.services},   {"php_version", opt(s.php_version)},
               {"binds", binds},           {"writable", writable},
               {"host_root", s.host_root}, {"profile_dirs", s.profile_dirs}};
  // Keys added later are written only when they say something, so that a jail without them keeps
  // the manifest an older jailbuild wrote and reads (keys are only ever added).
  if (!s.name.empty()) spec["name"] = s.name;
  if (!s.pools.empty()) spec["pools"] = s.pools;
  if (!s.excludes.empty()) spec["excludes"] = s.excludes;
  if (!s.files.empty()) {
    json files = json::array();
    for (const OwnFileSpec& f : s.files)
      files.push_back({{"source", f.source}, {"dest", f.dest}, {"secret", f.secret}});
    spec["files"] = files;
  }
  if (!s.sites.empty()) {
    json sites = json::array();
    for (const SiteSpec& site : s.sites)
      sites.push_back({{"docroot", site.docroot},
                       {"owner", site.owner},
                       {"writable", site.writable},
                       {"writer", site.writer},
                       {"source", site.source}});
    spec["sites"] = sites;
  }
  if (!s.secrets.empty()) spec["secrets"] = s.secrets;
  return spec;
}

JailSpec spec_from(const json& j) {
  JailSpec s;
  s.services = j.at("services").get<std::vector<std::string>>();
  s.php_version = opt_from(j.at("php_version"));
  for (const json& b : j.at("binds"))
    s.binds.push_back({b.at("source").get<std::string>(), b.at("dest").get<std::string>(),
                       b.at("read_only").get<bool>(), b.at("noexec").get<bool>()});
  for (const json& w : j.at("writable"))
    s.writable.push_back({w.at("path").get<std::string>(), w.at("owner").get<std::string>(),
                          w.at("group").get<std::string>()});
  s.host_root = j.at("host_root").get<std::string>();
  s.profile_dirs = j.at("profile_dirs").get<std::vector<std::string>>();
  if (j.contains("name")) s.name = j.at("name").get<std::string>();
  if (j.contains("pools")) s.pools = j.at("pools").get<std::vector<std::string>>();
  if (j.contains("excludes")) s.excludes = j.at("excludes").get<std::vector<std::string>>();
  if (j.contains("files"))
    for (const json& f : j.at("files"))
      s.files.push_back(
          {f.at("source").get<std::string>(), f.at("dest").get<std::string>(), f.at("secret").get<bool>()});
  if (j.contains("sites"))
    for (const json& site : j.at("sites"))
      s.sites.push_back({site.at("docroot").get<std::string>(), site.at("owner").get<std::string>(),
                         site.at("writable").get<std::vector<std::string>>(),
                         site.at("writer").get<std::string>(), site.at("source").get<std::string>()});
  if (j.contains("secrets")) s.secrets = j.at("secrets").get<std::vector<std::string>>();
  return s;
}

json object_json(const WalkObject& o) {
  const ElfInfo& e = o.elf;
  return {{"path", o.path},
          {"stamp", stamp_json<json>(o.stamp)},
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

json provenance_json(const Provenance& o) {
  json packages = json::array();
  for (const PackagePin& p : o.packages)
    packages.push_back({{"name", p.name}, {"version", p.version}});
  json out = {{"host", o.host},
              {"packed", o.packed},
              {"packages_digest", o.packages_digest},
              {"packages", packages},
              {"min_kernel", o.min_kernel},
              {"extra_digests", o.extra_digests},
              {"unpacked", o.unpacked},
              {"archive_sha256", o.archive_sha256},
              {"unverified_digests", o.unverified_digests}};
  // Added later: written only when there is one, so that other origins stay as they were.
  if (!o.left_out_secrets.empty()) out["left_out_secrets"] = o.left_out_secrets;
  return out;
}

/// A time stamp of an origin: a JSON integer. nlohmann's get<int64_t>() converts a float such as 1e30
/// with a cast whose result is undefined (found by fuzz_origin): the type is checked first.
int64_t time_of(const json& j) {
  if (!j.is_number_integer()) throw std::runtime_error("a time must be an integer");
  if (j.is_number_unsigned() && j.get<uint64_t>() > uint64_t(INT64_MAX))
    throw std::runtime_error("a time beyond 64 bits");
  return j.get<int64_t>();
}

bool valid_entry_path(std::string_view path);
std::string printable(std::string text);

/// A text of an origin that unpack and sync show the admin (a host name, a package, a version): no
/// control character, which could rewrite what a terminal shows (an archive wrote them).
std::string shown_text(const json& j, const char* what) {
  std::string text = j.get<std::string>();
  if (std::any_of(text.begin(), text.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }))
    throw std::runtime_error(std::string(what) + " '" + printable(text) + "' holds a control character");
  return text;
}

/// extra_digests or unverified_digests: each key a jail path as a manifest entry's (absolute,
/// normalised, not the root, not in /.jailbuild, no control character), each value a sha256. Checked
/// when the origin is read, before unpack writes anything: every key is later cut, joined and
/// compared as a path (an empty one made unpack fail, after extracting everything, in substr).
std::map<std::string, std::string> digests_from(const json& j, const char* what) {
  std::map<std::string, std::string> digests;
  if (j.is_null()) return digests;
  if (!j.is_object()) throw std::runtime_error(std::string(what) + " is not an object");
  for (const auto& [path, digest] : j.items()) {
    if (path == "/" || !valid_entry_path(path) ||
        std::any_of(path.begin(), path.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }))
      throw std::runtime_error(std::string(what) + ": '" + printable(path) +
                               "' is not an absolute, normalised jail path outside /" + manifest_dir);
    const std::string text = digest.is_string() ? digest.get<std::string>() : std::string();
    if (text.size() != 64 || text.find_first_not_of("0123456789abcdef") != std::string::npos)
      throw std::runtime_error(std::string(what) + ": " + path + ": not a sha256 (64 lowercase hex digits)");
    digests.emplace(path, text);
  }
  return digests;
}

Provenance provenance_from(const json& j) {
  Provenance o;
  o.host = shown_text(j.at("host"), "the host");
  o.packed = time_of(j.at("packed"));
  o.packages_digest = j.at("packages_digest").get<std::string>();
  for (const json& p : j.at("packages"))
    o.packages.push_back(
        {shown_text(p.at("name"), "a package name"), shown_text(p.at("version"), "a version")});
  o.min_kernel = j.contains("min_kernel") ? shown_text(j.at("min_kernel"), "min_kernel") : "";
  o.extra_digests = digests_from(j.value("extra_digests", json()), "extra_digests");
  o.unpacked = j.contains("unpacked") ? time_of(j.at("unpacked")) : 0;
  o.archive_sha256 = j.value("archive_sha256", "");
  o.unverified_digests = digests_from(j.value("unverified_digests", json()), "unverified_digests");
  // Paths unpack shows and unpack --secrets writes: jail paths as an entry's, checked here.
  if (j.contains("left_out_secrets"))
    for (const json& p : j.at("left_out_secrets")) {
      std::string path = p.get<std::string>();
      if (path == "/" || !valid_entry_path(path) ||
          std::any_of(path.begin(), path.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }))
        throw std::runtime_error("left_out_secrets: '" + printable(path) +
                                 "' is not an absolute, normalised jail path outside /" + manifest_dir);
      o.left_out_secrets.push_back(std::move(path));
    }
  std::sort(o.left_out_secrets.begin(), o.left_out_secrets.end());
  o.left_out_secrets.erase(std::unique(o.left_out_secrets.begin(), o.left_out_secrets.end()),
                           o.left_out_secrets.end());
  return o;
}

// An input is one array, [path, flags, mode, uid, gid, dev, ino, size, mtime_ns, ctime_ns]: a
// manifest holds thousands and sync reads them on every run. flags: 1 seen whole, 2 stat(2) followed.
json inputs_json(const std::vector<Input>& inputs) {
  json out = json::array();
  for (const Input& in : inputs) {
    int flags = (in.scrutiny == Scrutiny::whole ? 1 : 0) | (in.follow ? 2 : 0);
    const InputStamp& s = in.seen;
    out.push_back(
        json::array({in.path, flags, s.mode, s.uid, s.gid, s.dev, s.ino, s.size, s.mtime_ns, s.ctime_ns}));
  }
  return out;
}

} // namespace

template <class Json> Json entry_to_json(const PlanEntry& e, EntryStamps stamps) {
  Json j = {{"kind", to_string(e.kind)},
            {"role", to_string(e.role)},
            {"path", e.path},
            {"mode", octal(e.mode)},
            {"uid", e.uid},
            {"gid", e.gid},
            {"origin", e.requested_by}}; // the key's name since the first manifests
  const bool recorded = stamps == EntryStamps::recorded;
  if (e.secret) j["secret"] = true;
  if (e.kept_absent) j["kept_absent"] = true;
  switch (e.kind) {
  case EntryKind::file:
    j["source"] = e.source;
    j["digest"] = e.digest;
    if (recorded) {
      j["source_stamp"] = stamp_json<Json>(e.source_stamp);
      j["jail_stamp"] = stamp_json<Json>(e.jail_stamp);
    } else {
      j["size"] = e.source_stamp.size;
    }
    break;
  case EntryKind::generated:
    j["digest"] = e.digest;
    j["content"] = e.content;
    if (recorded) j["jail_stamp"] = stamp_json<Json>(e.jail_stamp);
    break;
  case EntryKind::symlink:
    j["target"] = e.source;
    break;
  case EntryKind::device:
    j["device"] = {{"type", e.device_type == DeviceType::block ? "block" : "char"},
                   {"major", e.major},
                   {"minor", e.minor}};
    break;
  case EntryKind::bind:
    j["source"] = e.source;
    j["read_only"] = e.read_only;
    j["noexec"] = e.noexec;
    break;
  case EntryKind::directory:
    break;
  }
  return j;
}

template nlohmann::json entry_to_json(const PlanEntry&, EntryStamps);
template nlohmann::ordered_json entry_to_json(const PlanEntry&, EntryStamps);

std::string manifest_to_json(const Manifest& m) {
  json entries = json::array();
  for (const PlanEntry& e : m.plan.entries)
    entries.push_back(entry_to_json<json>(e, EntryStamps::recorded));
  json objects = json::array();
  for (const WalkObject& o : m.plan.objects)
    objects.push_back(object_json(o));
  json doc = {{"format", m.format},
              {"tool", m.tool},
              {"created", m.created},
              {"updated", m.updated},
              {"spec", spec_json(m.plan.spec)},
              {"users", m.plan.users},
              {"warnings", m.plan.warnings},
              {"entries", entries},
              {"elf_cache", objects}};
  if (m.provenance) doc["origin"] = provenance_json(*m.provenance); // the key's name since the first
  if (!m.inputs.empty())
    doc["inputs"] = {{"planned_at_ns", m.inputs.planned_at_ns},
                     {"host", inputs_json(m.inputs.host)},
                     {"tool", inputs_json(m.inputs.tool)}};
  // Compact: sync reads this on every run (and a no-op sync has 30 ms); `jq .` shows it indented.
  return doc.dump() + "\n";
}

std::string provenance_to_json(const Provenance& provenance) {
  return provenance_json(provenance).dump(1) + "\n";
}

Provenance provenance_from_json(const std::string& text, const std::string& where) {
  if (text.size() > max_origin_size)
    throw Error(where, "too large: " + std::to_string(text.size()) + " bytes, over the " +
                           std::to_string(max_origin_size >> 20) + " MiB an origin may have");
  try {
    // The depth is checked as the parser goes: 20 MB of '[' cost 1.5 GB and 8 s parsed whole.
    auto depth_limit = [](int depth, json::parse_event_t, json&) {
      if (depth > max_origin_depth)
        throw std::runtime_error("nested deeper than " + std::to_string(max_origin_depth) +
                                 " levels, which no origin is");
      return true;
    };
    return provenance_from(json::parse(text, depth_limit));
  } catch (const std::exception& e) {
    throw Error(where, std::string("corrupt origin: ") + e.what());
  }
}

namespace {

// Reading is on sync's hot path: a no-op sync has 30 ms and the manifest of an nginx + php-fpm jail
// is about 1 MB. simdjson reads the two large arrays (entries, ELF cache) directly; the small
// sections go through the nlohmann code above, which also writes everything.
namespace sj = simdjson::dom;

std::string text_of(sj::element e) {
  return std::string(std::string_view(e));
}
std::optional<std::string> opt_text(sj::element e) {
  if (e.is_null()) return std::nullopt;
  return text_of(e);
}
FileStamp stamp_from(sj::element e) {
  FileStamp s{uint64_t(e["dev"]), uint64_t(e["ino"]), int64_t(e["size"]), int64_t(e["mtime_ns"]), 0};
  sj::element ctime;
  if (e["ctime_ns"].get(ctime) == simdjson::SUCCESS) s.ctime_ns = int64_t(ctime);
  return s;
}
json small_json(sj::element e) {
  return json::parse(simdjson::minify(e));
}

/// Whether a manifest path names a place in the jail the way a plan does: absolute, no empty, "."
/// or ".." component, no trailing "/", no NUL, and not in jailbuild's own directory. A manifest
/// may come from an archive: every path is later cut, joined and compared as if it were one.
bool valid_entry_path(std::string_view path) {
  if (path == "/") return true;
  if (path.empty() || path.front() != '/' || path.back() == '/' || path.find('\0') != std::string_view::npos)
    return false;
  for (std::size_t at = 1; at <= path.size();) {
    std::size_t end = std::min(path.find('/', at), path.size());
    std::string_view part = path.substr(at, end - at);
    if (part.empty() || part == "." || part == "..") return false;
    if (at == 1 && part == manifest_dir) return false;
    at = end + 1;
  }
  return true;
}

/// A path for a message: control characters (a NUL would end the message) shown as '?'.
std::string printable(std::string text) {
  for (char& c : text)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return text;
}

/// An id or device number: 32 bits, and not (uint32_t)-1, which chown(2) reads as "leave as is".
uint32_t id_from(sj::element value, const std::string& path, const char* what, const std::string& where) {
  uint64_t id = uint64_t(value);
  if (id >= 0xffffffff)
    throw Error(where, "corrupt manifest: entry " + path + ": " + what + " " + std::to_string(id) +
                           " is out of range");
  return static_cast<uint32_t>(id);
}

PlanEntry entry_from(sj::element j, const std::string& where) {
  PlanEntry e;
  auto kind = entry_kind_from(std::string_view(j["kind"]));
  auto role = entry_role_from(std::string_view(j["role"]));
  if (!kind || !role) throw Error(where, "unknown entry kind or role in manifest");
  e.kind = *kind;
  e.role = *role;
  e.path = text_of(j["path"]);
  if (!valid_entry_path(e.path))
    throw Error(where, "corrupt manifest: an entry's path '" + printable(e.path) +
                           "' is not an absolute, normalised jail path outside /" + manifest_dir);
  e.mode = parse_octal(text_of(j["mode"]), where);
  e.uid = id_from(j["uid"], e.path, "uid", where);
  e.gid = id_from(j["gid"], e.path, "gid", where);
  sj::element requested_by;
  if (j["origin"].get(requested_by) == simdjson::SUCCESS) e.requested_by = text_of(requested_by);
  bool flag = false;
  if (j["secret"].get(flag) == simdjson::SUCCESS) e.secret = flag;
  if (j["kept_absent"].get(flag) == simdjson::SUCCESS) e.kept_absent = flag;
  sj::element stamp;
  switch (e.kind) {
  case EntryKind::file:
    e.source = text_of(j["source"]);
    e.digest = text_of(j["digest"]);
    e.source_stamp = stamp_from(j["source_stamp"]);
    if (j["jail_stamp"].get(stamp) == simdjson::SUCCESS) e.jail_stamp = stamp_from(stamp);
    break;
  case EntryKind::generated:
    e.digest = text_of(j["digest"]);
    e.content = text_of(j["content"]);
    if (j["jail_stamp"].get(stamp) == simdjson::SUCCESS) e.jail_stamp = stamp_from(stamp);
    break;
  case EntryKind::symlink:
    e.source = text_of(j["target"]);
    break;
  case EntryKind::device: {
    sj::element d = j["device"];
    e.device_type = std::string_view(d["type"]) == "block" ? DeviceType::block : DeviceType::character;
    e.major = id_from(d["major"], e.path, "major", where);
    e.minor = id_from(d["minor"], e.path, "minor", where);
    break;
  }
  case EntryKind::bind:
    e.source = text_of(j["source"]);
    e.read_only = bool(j["read_only"]);
    e.noexec = bool(j["noexec"]);
    break;
  case EntryKind::directory:
    break;
  }
  return e;
}

WalkObject object_from(sj::element j) {
  WalkObject o;
  o.path = text_of(j["path"]);
  o.stamp = stamp_from(j["stamp"]);
  ElfInfo& e = o.elf;
  e.elf_class = int64_t(j["class"]) == 64 ? ElfClass::elf64 : ElfClass::elf32;
  e.endian = std::string_view(j["endian"]) == "big" ? Endian::big : Endian::little;
  e.machine = static_cast<uint16_t>(uint64_t(j["machine"]));
  e.osabi = static_cast<uint8_t>(uint64_t(j["osabi"]));
  e.type = static_cast<uint16_t>(uint64_t(j["type"]));
  e.flags = static_cast<uint32_t>(uint64_t(j["flags"]));
  e.has_dynamic = bool(j["has_dynamic"]);
  e.interpreter = opt_text(j["interpreter"]);
  for (sj::element n : sj::array(j["needed"]))
    e.needed.push_back(text_of(n));
  e.soname = opt_text(j["soname"]);
  e.rpath = opt_text(j["rpath"]);
  e.runpath = opt_text(j["runpath"]);
  e.nodeflib = bool(j["nodeflib"]);
  return o;
}

std::vector<Input> inputs_from(sj::element list, const std::string& where) {
  std::vector<Input> out;
  for (sj::element item : sj::array(list)) {
    sj::element field[10];
    size_t n = 0;
    for (sj::element f : sj::array(item)) {
      if (n == 10) break;
      field[n++] = f;
    }
    if (n != 10)
      throw Error(
          where,
          "corrupt manifest: an input is not [path, flags, mode, uid, gid, dev, ino, size, mtime, ctime]");
    auto at = [&](size_t i) { return field[i]; };
    Input in;
    in.path = text_of(at(0));
    uint64_t flags = at(1);
    in.scrutiny = flags & 1 ? Scrutiny::whole : Scrutiny::passed;
    in.follow = (flags & 2) != 0;
    in.seen.mode = static_cast<uint32_t>(uint64_t(at(2)));
    in.seen.uid = static_cast<uint32_t>(uint64_t(at(3)));
    in.seen.gid = static_cast<uint32_t>(uint64_t(at(4)));
    in.seen.dev = uint64_t(at(5));
    in.seen.ino = uint64_t(at(6));
    in.seen.size = int64_t(at(7));
    in.seen.mtime_ns = int64_t(at(8));
    in.seen.ctime_ns = int64_t(at(9));
    out.push_back(std::move(in));
  }
  return out;
}

} // namespace

Manifest manifest_from_json(const std::string& text, const std::string& where) {
  try {
    sj::parser parser;
    sj::element doc = parser.parse(text);
    Manifest m;
    m.format = static_cast<int>(int64_t(doc["format"]));
    if (m.format != 1) throw Error(where, "unsupported manifest format " + std::to_string(m.format));
    m.tool = text_of(doc["tool"]);
    m.created = int64_t(doc["created"]);
    m.updated = int64_t(doc["updated"]);
    m.plan.spec = spec_from(small_json(doc["spec"]));
    m.plan.users = small_json(doc["users"]).get<std::vector<std::string>>();
    sj::element extra;
    if (doc["warnings"].get(extra) == simdjson::SUCCESS)
      m.plan.warnings = small_json(extra).get<std::vector<std::string>>();
    for (sj::element e : sj::array(doc["entries"]))
      m.plan.entries.push_back(entry_from(e, where));
    for (sj::element o : sj::array(doc["elf_cache"]))
      m.plan.objects.push_back(object_from(o));
    if (doc["origin"].get(extra) == simdjson::SUCCESS && !extra.is_null())
      m.provenance = provenance_from(small_json(extra));
    if (doc["inputs"].get(extra) == simdjson::SUCCESS && !extra.is_null()) {
      m.inputs.planned_at_ns = int64_t(extra["planned_at_ns"]);
      m.inputs.host = inputs_from(extra["host"], where);
      m.inputs.tool = inputs_from(extra["tool"], where);
    }
    return m;
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(where, std::string("corrupt manifest: ") + e.what());
  }
}

std::optional<Error> untrusted_jail(const JailFs& jail) {
  auto octal_mode = [](mode_t mode) {
    char text[16];
    std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
    return std::string(text);
  };
  auto not_roots = [](const struct stat& st) {
    return "is owned by uid " + std::to_string(st.st_uid) +
           ", not root: its owner chooses the manifest root reads there (what sync copies where, what mount "
           "binds)";
  };
  std::optional<struct stat> root = jail.lstat("");
  if (root->st_uid != 0) return Error(jail.root(), not_roots(*root));
  if (root->st_mode & (S_IWGRP | S_IWOTH))
    return Error(jail.root(), "is writable by group or others (mode " + octal_mode(root->st_mode) +
                                  "): they could replace its " + manifest_dir + "/");
  std::optional<struct stat> meta = jail.lstat(manifest_dir);
  if (!meta) return std::nullopt;
  const std::string meta_path = jail.path(manifest_dir);
  if (!S_ISDIR(meta->st_mode)) return Error(meta_path, "is not a directory");
  if (meta->st_uid != 0) return Error(meta_path, not_roots(*meta));
  if (meta->st_mode & 077)
    return Error(meta_path, "must be root's alone (0700), not " + octal_mode(meta->st_mode));
  std::optional<struct stat> file = jail.lstat(manifest_file);
  if (!file) return std::nullopt;
  const std::string file_path = jail.path(manifest_file);
  if (!S_ISREG(file->st_mode)) return Error(file_path, "is not a regular file");
  if (file->st_uid != 0) return Error(file_path, not_roots(*file));
  if (file->st_mode & (S_IWGRP | S_IWOTH))
    return Error(file_path, "is writable by group or others (mode " + octal_mode(file->st_mode) + ")");
  return std::nullopt;
}

Manifest read_manifest(const std::string& jail_dir) {
  JailFs jail(jail_dir);
  if (!jail.lstat(manifest_file))
    throw Error(jail_dir, "not a jailbuild jail: no " + std::string(manifest_file));
  UniqueFd fd(jail.open_read(manifest_file));
  // Read straight into a buffer with simdjson's padding behind it: the parser then needs no copy.
  const std::string shown = jail_dir + "/" + manifest_file;
  std::string text = read_all(fd.get(), shown, SIZE_MAX, simdjson::SIMDJSON_PADDING);
  return manifest_from_json(text, shown);
}

void write_manifest(JailFs& jail, const Manifest& manifest) {
  // Root-only: the manifest names every file and its digest; services have no business reading it.
  jail.make_dir(manifest_dir, 0700, 0, 0);
  jail.write_file(manifest_file, manifest_to_json(manifest), 0600, 0, 0);
}

} // namespace jailbuild
