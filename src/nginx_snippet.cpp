// SPDX-License-Identifier: MIT
#include "jailbuild/nginx_snippet.hpp"

#include "jailbuild/discover.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/hostfs.hpp"
#include "jailbuild/jailfs.hpp"
#include "jailbuild/manifest.hpp"
#include "jailbuild/plan.hpp"

#include <algorithm>

namespace jailbuild {

namespace {

// nginx reads a configuration as root (its master); a path written into it must stay one word.
// Anything that could close the directive (';'), open or close a block, quote, escape, start a
// comment or a variable is refused rather than quoted: no real socket or docroot needs it.
void check_word(const std::string& path, const std::string& what) {
  if (path.empty() || path.front() != '/' || normalize_path(path) != path)
    throw Error(path, what + ": not an absolute, clean path");
  for (char c : path) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == ' ' || c == ';' || c == '{' || c == '}' || c == '"' || c == '\'' ||
        c == '\\' || c == '$' || c == '#')
      throw Error(path, what + ": holds a character nginx's configuration would read as syntax");
  }
}

std::string on_host(const std::string& jail_dir, const std::string& path) {
  return path == "/" ? jail_dir : jail_dir + path;
}

} // namespace

std::string nginx_snippet(const SnippetSite& site, NginxSide side) {
  check_word(site.jail_dir, "the jail's directory");
  check_word(site.socket, "pool '" + site.pool + "' socket");
  check_word(site.docroot, "pool '" + site.pool + "' document root");
  if (site.socket_place == SocketPlace::on_host && side == NginxSide::jail)
    throw Error(site.socket,
                "pool '" + site.pool +
                    "' listens on the host (its master runs outside): a jailed nginx cannot reach it");
  std::string socket = site.socket_place == SocketPlace::in_jail && side == NginxSide::host
                           ? on_host(site.jail_dir, site.socket)
                           : site.socket;
  std::string root = side == NginxSide::host ? on_host(site.jail_dir, site.docroot) : site.docroot;
  // The script's name as php-fpm sees it: its own document root, never the host's path with the jail
  // in front (which does not exist inside: "Primary script unknown").
  std::string inside = site.docroot == "/" ? "" : site.docroot;
  std::string out;
  out += "# Written by jailbuild for jail " + site.jail_name + " (" + site.jail_dir + "), php-fpm pool " +
         site.pool + ".\n";
  out += "# Include it in the site's server {} block; `jailbuild nginx-snippet` writes it again.\n";
  out += "root " + root + ";\n";
  // A host nginx opens the jail's files on the host: a symlink the site's user planted in a directory
  // it may write would be followed out of the jail (the host's files, another site's). Only links
  // whose owner owns the target are followed, and none above the document root is looked at.
  if (side == NginxSide::host) out += "disable_symlinks if_not_owner from=" + root + ";\n";
  out += "index index.php index.html;\n";
  out += "location ~ [^/]\\.php(/|$) {\n";
  out += "    fastcgi_split_path_info ^(.+?\\.php)(/.*)$;\n";
  out += "    set $jailbuild_path_info $fastcgi_path_info; # try_files resets $fastcgi_path_info\n";
  // nginx checks the file on its side of the chroot; php-fpm then opens the same file on its own.
  out += "    try_files $fastcgi_script_name =404;\n";
  out += "    include /etc/nginx/fastcgi_params;\n";
  out += "    fastcgi_param SCRIPT_FILENAME " + inside + "$fastcgi_script_name;\n";
  out += "    fastcgi_param DOCUMENT_ROOT " + site.docroot + ";\n";
  out += "    fastcgi_param PATH_INFO $jailbuild_path_info;\n";
  out += "    fastcgi_pass unix:" + socket + ";\n";
  out += "}\n";
  return out;
}

std::vector<SnippetSite> snippet_sites(const HostRoot& host, const JailSpec& spec,
                                       const std::string& jail_dir, const std::string& docroot) {
  const bool full = std::find(spec.services.begin(), spec.services.end(), "php-fpm") != spec.services.end();
  const bool runtime =
      std::find(spec.services.begin(), spec.services.end(), "php-runtime") != spec.services.end();
  if (!full && !runtime) throw Error(jail_dir, "has no php-fpm (--with php-fpm or php-runtime)");
  PhpDiscovery php = discover_php(host, spec.php_version, spec.pools,
                                  runtime ? DefaultPools::chrooted : DefaultPools::unchrooted);
  std::vector<SnippetSite> sites;
  for (const PhpPool& pool : php.pools) {
    if (pool.listen_kind != ListenKind::unix_socket || pool.listen.empty()) continue;
    SnippetSite site;
    site.jail_name = spec.name.empty() ? jail_dir.substr(jail_dir.rfind('/') + 1) : spec.name;
    site.jail_dir = jail_dir;
    site.pool = pool.name;
    site.socket = pool.listen;
    site.socket_place = runtime ? SocketPlace::on_host : SocketPlace::in_jail;
    if (!docroot.empty())
      site.docroot = docroot;
    else if (!pool.chdir.empty())
      site.docroot = pool.chdir;
    else
      site.docroot = runtime ? "/" : "/var/www/html";
    sites.push_back(std::move(site));
  }
  return sites;
}

std::string jail_nginx_snippets(const std::string& jail_dir, const std::vector<std::string>& pools,
                                const std::string& docroot, NginxSide side) {
  JailFs jail(jail_dir);
  if (std::optional<Error> why = untrusted_jail(jail)) throw *why;
  JailSpec spec = read_manifest(jail_dir).plan.spec;
  for (const std::string& pool : pools)
    if (std::find(spec.pools.begin(), spec.pools.end(), pool) == spec.pools.end())
      throw Error(jail_dir, "has no pool '" + pool + "' (--pool when it was made)");
  if (!pools.empty()) spec.pools = pools;
  // The sockets and document roots come from the host's php-fpm configuration, root's own.
  HostRoot host(spec.host_root);
  std::string out;
  for (const SnippetSite& site : snippet_sites(host, spec, jail_dir, docroot))
    out += (out.empty() ? "" : "\n") + nginx_snippet(site, side);
  if (out.empty()) throw Error(jail_dir, "no pool of this jail listens on a unix socket");
  return out;
}

} // namespace jailbuild
