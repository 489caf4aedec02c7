// SPDX-License-Identifier: MIT
// Private to the audit module: the jail as walked (audit_walk.cpp), the rules that read it
// (audit_rules.cpp; audit_mounts.cpp for mounts and binds), and what the driver (audit.cpp) shares
// with them. Not installed, not included anywhere else.
#pragma once
#include "jailbuild/accounts.hpp"
#include "jailbuild/audit.hpp"
#include "jailbuild/fd.hpp"
#include "jailbuild/jailfs.hpp"
#include "jailbuild/manifest.hpp"
#include "jailbuild/mounts.hpp"
#include "jailbuild/site.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace jailbuild::audit {

/// Runs work(0) ... work(count - 1) on `threads` threads; work must not throw.
template <class Work> void parallel_for(std::size_t count, unsigned threads, Work&& work) {
  std::atomic<std::size_t> next{0};
  auto run = [&] {
    for (std::size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < count;)
      work(i);
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads && t < count; ++t)
    pool.emplace_back(run);
  run();
  for (std::thread& t : pool)
    t.join();
}

/// One entry of the jail, as lstat saw it during the walk.
struct Node {
  std::string path; ///< inside the jail: "/" for the root, "/usr/bin/php"
  struct stat st {};
  std::string link;           ///< a symlink's text, when read (see Walker::read_links)
  int parent = -1;            ///< index of the directory holding it; -1 for the root
  bool mount = false;         ///< something is mounted here: the mount rules report it, nothing walks it
  bool capability = false;    ///< carries a security.capability xattr
  bool service_reach = false; ///< a directory a service user can search, and reach from the jail root
};

/// The ids a compromised service may run as: every id but 0 in the jail's passwd and group. A
/// permission is granted when the owner, group or other class allows it to any of them; that
/// over-approximates (an owner denied by its owner bits still counts through "other"), which errs on
/// the side of reporting.
struct Principals {
  std::set<uint32_t> uids, gids;
  /// perm: 4 read, 2 write, 1 search or execute.
  bool may(const struct stat& st, unsigned perm) const;
  bool owns(const struct stat& st) const { return uids.count(st.st_uid) || gids.count(st.st_gid); }
};

/// What the rules read and where they put their findings.
struct Context {
  explicit Context(const JailFs& j) : jail(j) {}

  const JailFs& jail;
  std::string real_root;   ///< the jail's canonical host path, for mountinfo and for parents
  std::vector<Node> nodes; ///< parents before children; nodes[0] is the root
  std::unordered_map<std::string, std::size_t> index; ///< path -> node
  std::vector<MountInfo> mounts;                      ///< the whole mount table
  const Manifest* manifest = nullptr;                 ///< the jail's, if it has one
  std::vector<PasswdEntry> passwd;
  std::vector<GroupEntry> groups;
  Principals service;
  std::vector<Finding> findings;

  const Node* find(std::string_view path) const;
  /// The host path of a jail path, for fixes the user can paste.
  std::string host(std::string_view path) const { return jail.path(path); }
  void add(std::string rule, Severity severity, std::string path, std::string message, std::string fix);
  /// Reads up to `limit` bytes of a jail file through JailFs::open_read (never through a symlink);
  /// nullopt when it is absent. Anything else that stops the read becomes an audit-error finding.
  std::optional<std::string> read_text(const std::string& path, std::size_t limit = 1 << 20);
};

/// Under /usr, /lib*, /bin, /sbin or /etc: what a service must never be able to change.
bool in_system_area(std::string_view path);
/// True when `path` is `root` or below it ("/" holds everything).
bool inside(std::string_view path, std::string_view root);
/// "/usr/lib/x" -> "x".
std::string_view base_name(std::string_view path);

/// Walks the tree below the jail root (already open as root_fd, O_RDONLY) into ctx.nodes, parents first,
/// on `threads` threads, without following a symlink or entering a mount point. read_links: read
/// every symlink's text (the integrity check compares them all).
void walk_jail(Context& ctx, UniqueFd root_fd, const Node& root, const std::set<std::string>& mount_points,
               bool read_links, unsigned threads);

// The rules, each appending its findings to the context.
void check_chroot_rules(Context& ctx); ///< the jail root and its parents: root-owned, not writable
/// passwd, group, shadow, gshadow. Runs first: it also fills passwd, groups and the service
/// principals that the other rules use.
void check_accounts(Context& ctx);
void check_entries(Context& ctx); ///< one pass over every walked entry
/// Mounts below the jail that expose the host (mountinfo), and the manifest's bind entries whose
/// source is the host's /, a system directory, this jail or another one (audit_mounts.cpp).
void check_mounts(Context& ctx);
void check_name_service(Context& ctx); ///< nsswitch.conf, NSS modules, ld.so.preload
void check_secrets(Context& ctx);      ///< private keys and shadow files readable by a service

/// A site of the manifest's spec as the audit sees it (audit_sites.cpp).
struct SiteScope {
  const SiteSpec* site = nullptr;
  std::vector<std::string> writable; ///< jail paths where the services may write: data, not code
};
/// The manifest's sites, but none whose docroot covers a system tree: a manifest may come from an
/// archive, and a "site" at /usr would hide what changed there.
std::vector<SiteScope> site_scopes(const Context& ctx);
/// Whether a path is a site's code: below a docroot, not in one of its writable directories. Such
/// files are judged by check_sites(), as a group, not one by one as unexpected files.
bool in_site_code(const std::vector<SiteScope>& scopes, std::string_view path);
/// Compares each site with its baseline (hashing only files whose stamp moved and whose size did
/// not), one finding per site, and reports code (*.php, .htaccess, ...) in its writable directories
/// one by one. Never follows a symlink nor opens anything but regular files.
std::vector<SiteAudit> check_sites(Context& ctx, const std::vector<SiteScope>& scopes, unsigned threads);

} // namespace jailbuild::audit
