// SPDX-License-Identifier: MIT
// The nginx lines that pass a site's PHP requests to its jailed php-fpm: the socket as nginx reaches it
// and SCRIPT_FILENAME/DOCUMENT_ROOT as php-fpm (or its chrooted workers) sees them, so that nginx
// serves the site without "Primary script unknown" and without a `../..` link in the jail.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace jailbuild {

class HostRoot;
struct JailSpec;

/// Where the nginx that serves the site runs: on the host (paths with the jail's directory in front)
/// or chrooted in the same jail as php-fpm (paths as they are inside).
enum class NginxSide { host, jail };

/// Where a pool's socket is: in the jail (a full jail: its php-fpm master runs inside), or on the
/// host (the runtime-only jail: the master stays outside and only its workers chroot).
enum class SocketPlace { in_jail, on_host };

/// One pool of a jail as nginx must reach it.
struct SnippetSite {
  std::string jail_name;
  std::string jail_dir; ///< absolute, on the host
  std::string pool;
  std::string socket; ///< the pool's unix socket as php-fpm names it
  SocketPlace socket_place = SocketPlace::in_jail;
  std::string docroot; ///< the site's document root as php-fpm's workers see it
};

/// The snippet for one site, to `include` in its `server {}` block. Throws Error naming a path that
/// cannot be written into nginx's configuration as one plain word (whitespace, quotes, `;`, braces,
/// `$`, `#`, a backslash or a control character: each could end the directive and start another),
/// or that is not absolute and clean.
std::string nginx_snippet(const SnippetSite& site, NginxSide side);

/// The sites of a jail from what the host's php-fpm says of the spec's pools (never from the jail:
/// a manifest may come from an archive); `docroot` replaces each pool's own (its chdir, else
/// /var/www/html, or / for the runtime-only jail) when not empty. Pools listening on TCP are left
/// out. Throws Error as discover_php(), and when the spec has no php-fpm.
std::vector<SnippetSite> snippet_sites(const HostRoot& host, const JailSpec& spec,
                                       const std::string& jail_dir, const std::string& docroot);

/// `jailbuild nginx-snippet`: the snippets of the jail at `jail_dir` (a jail made by jailbuild, checked
/// as every command checks one before reading its manifest), one per pool, for the pools named (all of
/// its own when empty; a name it has not is an Error).
std::string jail_nginx_snippets(const std::string& jail_dir, const std::vector<std::string>& pools,
                                const std::string& docroot, NginxSide side);

/// What keeping a jail's snippets did to one file of CONFIG/nginx (a file left as it was is not listed).
enum class SnippetChange { written, changed, removed };

struct SnippetFile {
  std::string path;
  SnippetChange change;
};

/// Whether keep_nginx_snippets() looks at the host's php-fpm again when the jail has snippets already:
/// `if_missing` for a sync that changed nothing in the jail (a pool file changed on the host would have
/// changed its copy there), whose ~20 ms must not grow by a php-fpm discovery.
enum class SnippetCheck { always, if_missing };

/// The snippets create and sync keep for a host nginx to `include`: CONFIG/nginx/NAME.conf for a jail
/// with one pool on a unix socket, NAME.POOL.conf each when it has several (one `root` per server {}),
/// none without php-fpm. Root's, 0644, in root's 0755 directory, written whole (AtomicFile) and only
/// when the text differs, so that nginx needs a reload only then; this jail's files that are no longer
/// wanted are removed. `spec` must be a definition's (what root trusts: spec.name names the files,
/// and a manifest's could be "../x"). Throws Error; the files are then as they were before or new.
std::vector<SnippetFile> keep_nginx_snippets(const std::string& config_dir, const JailSpec& spec,
                                             const std::string& jail_dir,
                                             SnippetCheck check = SnippetCheck::always);

/// Removes the snippets keep_nginx_snippets() wrote for the jail called `name` (destroy).
std::vector<SnippetFile> remove_nginx_snippets(const std::string& config_dir, std::string_view name);

/// One line per file for the admin: what changed and what nginx needs now ("reload nginx").
std::string format_snippet_changes(const std::vector<SnippetFile>& files);

} // namespace jailbuild
