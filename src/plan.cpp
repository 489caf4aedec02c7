// SPDX-License-Identifier: MIT
#include "jailbuild/plan.hpp"

#include "jailbuild/error.hpp"
#include "jailbuild/hostfs.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace jailbuild {

std::string_view to_string(EntryKind kind) {
  switch (kind) {
  case EntryKind::directory:
    return "directory";
  case EntryKind::file:
    return "file";
  case EntryKind::symlink:
    return "symlink";
  case EntryKind::device:
    return "device";
  case EntryKind::generated:
    return "generated";
  case EntryKind::bind:
    return "bind";
  }
  return "?";
}

std::optional<EntryKind> entry_kind_from(std::string_view name) {
  for (EntryKind k : {EntryKind::directory, EntryKind::file, EntryKind::symlink, EntryKind::device,
                      EntryKind::generated, EntryKind::bind})
    if (to_string(k) == name) return k;
  return std::nullopt;
}

std::string_view to_string(EntryRole role) {
  switch (role) {
  case EntryRole::system:
    return "system";
  case EntryRole::executable:
    return "executable";
  case EntryRole::library:
    return "library";
  case EntryRole::config:
    return "config";
  case EntryRole::data:
    return "data";
  case EntryRole::state:
    return "state";
  }
  return "?";
}

std::optional<EntryRole> entry_role_from(std::string_view name) {
  for (EntryRole r : {EntryRole::system, EntryRole::executable, EntryRole::library, EntryRole::config,
                      EntryRole::data, EntryRole::state})
    if (to_string(r) == name) return r;
  return std::nullopt;
}

bool path_less(const std::string& a, const std::string& b) {
  // Compare as if '/' sorted before every other byte.
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (a[i] == b[i]) continue;
    if (a[i] == '/') return true;
    if (b[i] == '/') return false;
    return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[i]);
  }
  return a.size() < b.size();
}

bool in_jail_system_tree(std::string_view path) {
  auto inside = [&](std::string_view tree) {
    return path.starts_with(tree) && (path.size() == tree.size() || path[tree.size()] == '/');
  };
  // /lib, /lib32, /lib64, /libx32 and whatever else a distribution names /lib*.
  if (path.starts_with("/lib")) return true;
  for (std::string_view tree :
       {"/etc", "/usr", "/bin", "/sbin", "/dev", "/proc", "/sys", "/boot", "/root", "/.jailbuild"})
    if (inside(tree)) return true;
  return false;
}

namespace {

bool same_content(const PlanEntry& a, const PlanEntry& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
  case EntryKind::directory:
    return true; // the stricter mode/owner is chosen by the caller's order
  case EntryKind::file:
    return a.source_stamp.dev == b.source_stamp.dev && a.source_stamp.ino == b.source_stamp.ino;
  case EntryKind::symlink:
    return a.source == b.source;
  case EntryKind::device:
    return a.device_type == b.device_type && a.major == b.major && a.minor == b.minor;
  case EntryKind::generated:
    return a.content == b.content;
  case EntryKind::bind:
    return a.source == b.source;
  }
  return false;
}

} // namespace

void EntrySet::add(PlanEntry entry) {
  entry.path = normalize_path(entry.path);
  auto [it, fresh] = index_.try_emplace(entry.path, entries_.size());
  if (fresh) {
    entries_.push_back(std::move(entry));
    return;
  }
  {
    PlanEntry& e = entries_[it->second];
    if (!same_content(e, entry))
      throw Error(entry.path, "planned twice with different content (by " + e.requested_by + " and by " +
                                  entry.requested_by + ")");
    // A later, more specific request (a state directory's owner) wins over a skeleton default.
    if (entry.kind == EntryKind::directory && entry.requested_by != "parent") {
      if (e.requested_by == "parent" || entry.mode != 0755 || entry.uid != 0 || entry.gid != 0) {
        e.mode = entry.mode;
        e.uid = entry.uid;
        e.gid = entry.gid;
        e.role = entry.role;
        e.requested_by = entry.requested_by;
      }
    }
  }
}

std::vector<PlanEntry> EntrySet::finish() && {
  std::vector<PlanEntry>& entries = entries_;
  std::set<std::string> present;
  for (const PlanEntry& e : entries)
    present.insert(e.path);
  std::vector<PlanEntry> parents;
  for (const PlanEntry& e : entries) {
    for (std::string dir = dirname_of(e.path); dir != "/"; dir = dirname_of(dir)) {
      if (!present.insert(dir).second) break;
      PlanEntry p;
      p.kind = EntryKind::directory;
      p.role = EntryRole::system;
      p.path = dir;
      p.mode = 0755;
      p.requested_by = "parent";
      parents.push_back(std::move(p));
    }
  }
  for (PlanEntry& p : parents)
    entries.push_back(std::move(p));
  std::sort(entries.begin(), entries.end(),
            [](const PlanEntry& a, const PlanEntry& b) { return path_less(a.path, b.path); });
  // A parent that the plan makes a symlink or a file would carry its children outside their place.
  std::map<std::string, EntryKind> kinds;
  for (const PlanEntry& e : entries)
    kinds[e.path] = e.kind;
  for (const PlanEntry& e : entries) {
    std::string dir = dirname_of(e.path);
    if (dir == "/") continue;
    auto it = kinds.find(dir);
    if (it != kinds.end() && it->second != EntryKind::directory)
      throw Error(e.path, "its parent " + dir + " is planned as a " + std::string(to_string(it->second)) +
                              ", not a directory (by " + e.requested_by + ")");
  }
  return std::move(entries_);
}

PlanSummary summarize(const Plan& plan) {
  PlanSummary s;
  s.objects = plan.objects.size();
  s.users = plan.users.size();
  for (const PlanEntry& e : plan.entries) {
    switch (e.kind) {
    case EntryKind::directory:
      ++s.directories;
      break;
    case EntryKind::file:
      ++s.files;
      s.bytes += static_cast<uint64_t>(e.source_stamp.size);
      break;
    case EntryKind::symlink:
      ++s.symlinks;
      break;
    case EntryKind::device:
      ++s.devices;
      break;
    case EntryKind::generated:
      ++s.generated;
      s.bytes += e.content.size();
      break;
    case EntryKind::bind:
      ++s.binds;
      break;
    }
  }
  return s;
}

} // namespace jailbuild
