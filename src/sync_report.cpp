// SPDX-License-Identifier: MIT
// What a sync did, for people (one line per change and a summary per jail) and for programs (JSON).
#include "jailbuild/json_text.hpp"
#include "jailbuild/sync.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <sstream>

namespace jailbuild {

size_t SyncReport::count(ChangeKind kind) const {
  return static_cast<size_t>(
      std::count_if(changes.begin(), changes.end(), [&](const Change& c) { return c.kind == kind; }));
}

bool SyncReport::needs_attention() const {
  return count(ChangeKind::conflict) + count(ChangeKind::tampered) > 0;
}

std::string format_sync_attention(const SyncReport& r) {
  std::ostringstream out;
  for (const Change& c : r.changes)
    if (c.kind == ChangeKind::conflict || c.kind == ChangeKind::tampered) {
      out << "jailbuild: " << r.dir << ": " << to_string(c.kind) << ' ' << c.path;
      if (!c.detail.empty()) out << ": " << c.detail;
      out << '\n';
    }
  return out.str();
}

std::string format_sync_text(const SyncReport& r) {
  std::ostringstream out;
  for (const Change& c : r.changes) {
    char sign = '~';
    switch (c.kind) {
    case ChangeKind::added:
      sign = '+';
      break;
    case ChangeKind::removed:
    case ChangeKind::removed_local:
      sign = '-';
      break;
    case ChangeKind::restored:
      sign = '*';
      break;
    case ChangeKind::updated:
      sign = '~';
      break;
    case ChangeKind::kept_local:
      sign = '=';
      break;
    case ChangeKind::conflict:
    case ChangeKind::tampered:
      sign = '!';
      break;
    }
    out << sign << ' ' << to_string(c.kind) << ' ' << c.path;
    if (!c.detail.empty()) out << ": " << c.detail;
    out << '\n';
  }
  for (const std::string& w : r.warnings)
    out << "warning: " << w << '\n';
  out << "sync " << r.dir << ": " << r.count(ChangeKind::added) << " added, " << r.count(ChangeKind::updated)
      << " updated, " << r.count(ChangeKind::removed) << " removed, " << r.count(ChangeKind::restored)
      << " restored, " << r.count(ChangeKind::conflict) << " conflicts, " << r.count(ChangeKind::tampered)
      << " tampered, " << r.count(ChangeKind::kept_local) << " local changes kept";
  // Said only when there is something to say: scripts read the summary line as it always was.
  if (size_t deleted = r.count(ChangeKind::removed_local)) out << ", " << deleted << " kept deleted";
  out << '\n';
  return out.str();
}

std::string format_sync_json(const std::vector<SyncReport>& reports) {
  nlohmann::ordered_json all = nlohmann::ordered_json::array();
  for (const SyncReport& r : reports) {
    nlohmann::ordered_json changes = nlohmann::ordered_json::array();
    for (const Change& c : r.changes)
      changes.push_back({{"kind", to_string(c.kind)}, {"path", c.path}, {"detail", c.detail}});
    all.push_back({{"dir", r.dir},
                   {"changes", changes},
                   {"warnings", r.warnings},
                   {"manifest_written", r.manifest_written},
                   {"planned", r.planned}});
  }
  return json_report_text(all, 2);
}

} // namespace jailbuild
