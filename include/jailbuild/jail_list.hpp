// SPDX-License-Identifier: MIT
// `jailbuild list`: every jail of this host (defined or registered), with what a dry-run sync says
// of it.
#pragma once
#include "jailbuild/jails.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace jailbuild {

/// A jail's state, the worst that applies, in this order.
enum class JailState {
  error,    ///< it could not be looked at (detail says why): not root's, no manifest, a bad definition
  missing,  ///< its directory is gone
  tampered, ///< a dry-run sync reports tampering (an installed executable, library or data file changed)
  conflict, ///< an unresolved FILE.jailbuild-new lies beside a configuration file
  drift,    ///< the definition or the host changed since the last sync: a sync would change the jail
  ok,
};
std::string_view to_string(JailState state);

struct JailStatus {
  std::string name; ///< "" for a jail without a definition
  std::string dir;
  std::vector<std::string> services;
  std::vector<std::string> pools;
  int64_t updated = 0; ///< the manifest's last sync (unix time); 0 when unknown
  JailState state = JailState::ok;
  std::string detail; ///< why, for error, tampered, conflict and drift
};

/// The status of every defined jail and every registered one without a definition, sorted by
/// directory. Each is looked at as `sync --dry-run` would (under its shared lock, writing nothing);
/// a definition root must not trust is listed as an error.
std::vector<JailStatus> list_jails(const Definitions& definitions, Registry& registry);

std::string format_jail_list_text(const std::vector<JailStatus>& jails);
/// {"format": 1, "jails": [{"name", "dir", "services", "pools", "updated", "state", "detail"}]}
std::string format_jail_list_json(const std::vector<JailStatus>& jails);

} // namespace jailbuild
