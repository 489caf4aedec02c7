// SPDX-License-Identifier: MIT
// The jail's users and groups: only the ones its services need, looked up in the host's files,
// and never an entry with UID 0 or GID 0 (a root user inside the jail is what an escape needs).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace jailbuild {

class HostRoot;

struct PasswdEntry {
  std::string name;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string gecos;
  std::string home;
  std::string shell;
};

struct GroupEntry {
  std::string name;
  uint32_t gid = 0;
  std::vector<std::string> members;
};

/// A parsed passwd or group database, in file order.
std::vector<PasswdEntry> parse_passwd(const std::string& text);
std::vector<GroupEntry> parse_group(const std::string& text);

struct JailAccounts {
  std::vector<PasswdEntry> users; ///< sorted by uid
  std::vector<GroupEntry> groups; ///< sorted by gid
};

/// Looks the needed users (with their primary groups) and extra groups up in the host's /etc/passwd
/// and /etc/group, read below the host root. Throws Error for a name the host does not know and for
/// anything resolving to UID 0 or GID 0. Shells become /usr/sbin/nologin.
JailAccounts resolve_accounts(const HostRoot& host, const std::vector<std::string>& users,
                              const std::vector<std::string>& groups);

/// The four account files of the jail; shadow and gshadow hold no password hash at all.
std::string render_passwd(const JailAccounts& accounts);
std::string render_group(const JailAccounts& accounts);
std::string render_shadow(const JailAccounts& accounts);
std::string render_gshadow(const JailAccounts& accounts);

} // namespace jailbuild
