// SPDX-License-Identifier: MIT
#include "jailbuild/accounts.hpp"

#include "jailbuild/error.hpp"
#include "jailbuild/hostfs.hpp"
#include "jailbuild/text.hpp"

#include <algorithm>
#include <charconv>
#include <sstream>

namespace jailbuild {

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line.front() != '#' && line.front() != '+' && line.front() != '-')
      out.push_back(line);
  return out;
}

bool parse_id(const std::string& s, uint32_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

} // namespace

std::vector<PasswdEntry> parse_passwd(const std::string& text) {
  std::vector<PasswdEntry> out;
  for (const std::string& line : lines_of(text)) {
    std::vector<std::string> f = split(line, ':');
    PasswdEntry e;
    if (f.size() < 7 || !parse_id(f[2], e.uid) || !parse_id(f[3], e.gid)) continue;
    e.name = f[0];
    e.gecos = f[4];
    e.home = f[5];
    e.shell = f[6];
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<GroupEntry> parse_group(const std::string& text) {
  std::vector<GroupEntry> out;
  for (const std::string& line : lines_of(text)) {
    std::vector<std::string> f = split(line, ':');
    GroupEntry e;
    if (f.size() < 4 || !parse_id(f[2], e.gid)) continue;
    e.name = f[0];
    if (!f[3].empty()) e.members = split(f[3], ',');
    out.push_back(std::move(e));
  }
  return out;
}

JailAccounts resolve_accounts(const HostRoot& host, const std::vector<std::string>& users,
                              const std::vector<std::string>& groups) {
  std::vector<PasswdEntry> host_users = parse_passwd(host.read_file("/etc/passwd"));
  std::vector<GroupEntry> host_groups = parse_group(host.read_file("/etc/group"));
  JailAccounts out;
  auto add_group = [&](const GroupEntry& g) {
    if (g.gid == 0) throw Error(g.name, "group has GID 0 on the host: a jail never holds a GID 0 entry");
    if (std::none_of(out.groups.begin(), out.groups.end(),
                     [&](const GroupEntry& x) { return x.gid == g.gid; }))
      out.groups.push_back({g.name, g.gid, {}});
  };
  auto find_group = [&](const std::string& name) -> const GroupEntry& {
    uint32_t gid;
    bool numeric = parse_id(name, gid);
    for (const GroupEntry& g : host_groups)
      if (g.name == name || (numeric && g.gid == gid)) return g;
    throw Error(name, "no such group on the host (/etc/group)");
  };
  for (const std::string& name : users) {
    uint32_t uid;
    bool numeric = parse_id(name, uid);
    auto it = std::find_if(host_users.begin(), host_users.end(),
                           [&](const PasswdEntry& u) { return u.name == name || (numeric && u.uid == uid); });
    if (it == host_users.end()) throw Error(name, "no such user on the host (/etc/passwd)");
    if (it->uid == 0 || it->gid == 0)
      throw Error(name, "user has UID 0 or GID 0 on the host: a jail never holds a root entry");
    if (std::none_of(out.users.begin(), out.users.end(),
                     [&](const PasswdEntry& x) { return x.uid == it->uid; })) {
      PasswdEntry e = *it;
      e.shell = "/usr/sbin/nologin";
      out.users.push_back(std::move(e));
    }
    auto primary = std::find_if(host_groups.begin(), host_groups.end(),
                                [&](const GroupEntry& g) { return g.gid == it->gid; });
    if (primary != host_groups.end())
      add_group(*primary);
    else
      add_group({it->name, it->gid, {}});
  }
  for (const std::string& name : groups)
    add_group(find_group(name));
  // Supplementary memberships, restricted to the users the jail holds.
  for (GroupEntry& g : out.groups) {
    auto host_g = std::find_if(host_groups.begin(), host_groups.end(),
                               [&](const GroupEntry& h) { return h.gid == g.gid; });
    if (host_g == host_groups.end()) continue;
    for (const std::string& member : host_g->members)
      if (std::any_of(out.users.begin(), out.users.end(),
                      [&](const PasswdEntry& u) { return u.name == member; }))
        g.members.push_back(member);
  }
  std::sort(out.users.begin(), out.users.end(), [](auto& a, auto& b) { return a.uid < b.uid; });
  std::sort(out.groups.begin(), out.groups.end(), [](auto& a, auto& b) { return a.gid < b.gid; });
  return out;
}

namespace {
std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i)
    out += (i ? "," : "") + names[i];
  return out;
}
} // namespace

std::string render_passwd(const JailAccounts& a) {
  std::ostringstream out;
  for (const PasswdEntry& u : a.users)
    out << u.name << ":x:" << u.uid << ':' << u.gid << ':' << u.gecos << ':' << u.home << ':' << u.shell
        << '\n';
  return out.str();
}

std::string render_group(const JailAccounts& a) {
  std::ostringstream out;
  for (const GroupEntry& g : a.groups)
    out << g.name << ":x:" << g.gid << ':' << join_names(g.members) << '\n';
  return out.str();
}

std::string render_shadow(const JailAccounts& a) {
  std::ostringstream out;
  // "*": no password can ever match; the accounts exist only to own processes and files.
  for (const PasswdEntry& u : a.users)
    out << u.name << ":*:0:0:99999:7:::\n";
  return out.str();
}

std::string render_gshadow(const JailAccounts& a) {
  std::ostringstream out;
  for (const GroupEntry& g : a.groups)
    out << g.name << ":*::" << join_names(g.members) << '\n';
  return out.str();
}

} // namespace jailbuild
