// SPDX-License-Identifier: MIT
#include "jailbuild/jail_list.hpp"

#include "jailbuild/error.hpp"
#include "jailbuild/jailfs.hpp"
#include "jailbuild/json_text.hpp"
#include "jailbuild/manifest.hpp"
#include "jailbuild/sync.hpp"
#include "jailbuild/text.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <map>
#include <sys/stat.h>

namespace jailbuild {

namespace {

/// The first unresolved FILE.jailbuild-new beside a configuration file the manifest records.
std::optional<std::string> unresolved_conflict(const std::string& dir, const Manifest& manifest) {
  JailFs jail(dir);
  for (const PlanEntry& e : manifest.plan.entries)
    if (e.role == EntryRole::config && (e.kind == EntryKind::file || e.kind == EntryKind::generated))
      if (jail.lstat(e.path + ".jailbuild-new")) return e.path + ".jailbuild-new";
  return std::nullopt;
}

void look_at(JailStatus& s, const std::optional<JailSpec>& definition) {
  struct stat st {};
  if (::lstat(s.dir.c_str(), &st) != 0 && errno == ENOENT) {
    s.state = JailState::missing;
    return;
  }
  SyncOptions o;
  o.mode = SyncMode::dry_run;
  o.definition = definition;
  SyncReport report = sync_jail(s.dir, o);
  Manifest manifest = read_manifest(s.dir);
  s.updated = manifest.updated;
  if (!definition) {
    s.services = manifest.plan.spec.services;
    s.pools = manifest.plan.spec.pools;
  }
  auto first = [&](ChangeKind kind) {
    return std::find_if(report.changes.begin(), report.changes.end(),
                        [&](const Change& c) { return c.kind == kind; });
  };
  if (auto t = first(ChangeKind::tampered); t != report.changes.end()) {
    s.state = JailState::tampered;
    s.detail = t->path + (t->detail.empty() ? "" : ": " + t->detail);
  } else if (std::optional<std::string> conflict = unresolved_conflict(s.dir, manifest)) {
    s.state = JailState::conflict;
    s.detail = *conflict;
  } else if (definition && *definition != manifest.plan.spec) {
    s.state = JailState::drift;
    s.detail = "its definition changed since the last sync";
  } else if (!report.changes.empty()) {
    // Only what sync would change in the jail is drift. A host file's times alone (a restore, a
    // hardlink, a chmod to the same mode) make sync plan again, and the new plan may well be the
    // jail as it is: that jail is in step.
    s.state = JailState::drift;
    s.detail = std::to_string(report.changes.size()) + " changes to sync";
  }
}

} // namespace

std::string_view to_string(JailState state) {
  switch (state) {
  case JailState::error:
    return "error";
  case JailState::missing:
    return "missing";
  case JailState::tampered:
    return "tampered";
  case JailState::conflict:
    return "conflict";
  case JailState::drift:
    return "drift";
  case JailState::ok:
    return "ok";
  }
  return "?";
}

std::vector<JailStatus> list_jails(const Definitions& definitions, Registry& registry) {
  std::map<std::string, std::pair<JailStatus, std::optional<JailSpec>>> by_dir;
  std::vector<JailStatus> refused;
  for (const std::string& name : definitions.names()) {
    JailStatus s;
    s.name = name;
    try {
      std::optional<Definition> d = definitions.read(name);
      if (!d) continue;
      s.dir = d->dir;
      s.services = d->spec.services;
      s.pools = d->spec.pools;
      by_dir[d->dir] = {std::move(s), spec_to_apply(*d, definitions.config_dir())};
    } catch (const Error& e) {
      s.state = JailState::error;
      s.detail = e.what();
      refused.push_back(std::move(s));
    }
  }
  for (const std::string& dir : registry.list())
    if (!by_dir.count(dir)) by_dir[dir].first.dir = dir;
  std::vector<JailStatus> out;
  for (auto& [dir, entry] : by_dir) {
    auto& [s, spec] = entry;
    try {
      look_at(s, spec);
    } catch (const Error& e) {
      s.state = JailState::error;
      s.detail = e.what();
    }
    out.push_back(std::move(s));
  }
  out.insert(out.end(), refused.begin(), refused.end());
  return out;
}

std::string format_jail_list_text(const std::vector<JailStatus>& jails) {
  std::string out;
  for (const JailStatus& s : jails) {
    std::string when = "-";
    if (s.updated) {
      std::time_t t = static_cast<std::time_t>(s.updated);
      char buf[32];
      std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", std::localtime(&t));
      when = buf;
    }
    out += (s.name.empty() ? "-" : s.name) + "  " + (s.dir.empty() ? "-" : s.dir) + "  " +
           (s.services.empty() ? "-" : join(s.services, ",")) +
           "  pools:" + (s.pools.empty() ? "all" : join(s.pools, ",")) + "  " + when + "  " +
           std::string(to_string(s.state)) + (s.detail.empty() ? "" : " (" + s.detail + ")") + "\n";
  }
  return out;
}

std::string format_jail_list_json(const std::vector<JailStatus>& jails) {
  nlohmann::ordered_json doc;
  doc["format"] = 1;
  doc["jails"] = nlohmann::ordered_json::array();
  for (const JailStatus& s : jails) {
    nlohmann::ordered_json j;
    j["name"] = s.name;
    j["dir"] = s.dir;
    j["services"] = s.services;
    j["pools"] = s.pools;
    j["updated"] = s.updated;
    j["state"] = to_string(s.state);
    j["detail"] = s.detail;
    doc["jails"].push_back(std::move(j));
  }
  return json_report_text(doc, 2);
}

} // namespace jailbuild
