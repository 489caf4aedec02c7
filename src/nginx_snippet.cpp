// SPDX-License-Identifier: MIT
#include "jailbuild/nginx_snippet.hpp"

#include "jailbuild/definition.hpp"
#include "jailbuild/discover.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/fd.hpp"
#include "jailbuild/hostfs.hpp"
#include "jailbuild/jailfs.hpp"
#include "jailbuild/manifest.hpp"
#include "jailbuild/plan.hpp"
#include "jailbuild/profile.hpp"

#include <algorithm>
#include <cerrno>
#include <dirent.h>
#include <fcntl.h>
#include <map>
#include <sys/stat.h>
#include <unistd.h>

namespace jailbuild {

namespace {

enum class MakeDir { no, yes };

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

/// CONFIG/nginx, made root's 0755 if missing, and refused when someone else could change what the
/// host's nginx (root) includes from it.
std::string snippet_dir(const std::string& config_dir, MakeDir make) {
  const std::string dir = config_dir + "/nginx";
  if (make == MakeDir::yes)
    for (const std::string& d : {config_dir, dir}) {
      if (::mkdir(d.c_str(), 0755) == 0) {
        if (::chown(d.c_str(), 0, 0) != 0 && ::geteuid() == 0)
          throw system_error(d, "cannot give it to root", errno);
      } else if (errno != EEXIST) {
        throw system_error(d, "cannot create", errno);
      }
    }
  if (std::optional<std::string> why = profile_dir_problem(dir))
    throw Error(dir, "refusing to keep nginx snippets here: " + *why);
  return dir;
}

/// A pool's name as part of a file name: php-fpm takes any section name, a file name must not hold
/// a '/' or start with a dot (nginx's `include *.conf` would not see it).
bool file_name_part(const std::string& pool) {
  if (pool.empty() || pool.front() == '.') return false;
  return std::all_of(pool.begin(), pool.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

/// The files of CONFIG/nginx that are the jail `name`'s: NAME.conf and NAME.*.conf. A jail's name holds
/// no '.', so no other jail's file matches.
std::vector<std::string> files_of(const std::string& dir, std::string_view name) {
  std::vector<std::string> found;
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    if (errno == ENOENT) return found;
    throw system_error(dir, "cannot list", errno);
  }
  const std::string prefix = std::string(name) + ".";
  while (const dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n.size() >= prefix.size() + 4 && n.starts_with(prefix) && n.ends_with(".conf")) found.emplace_back(n);
  }
  ::closedir(d);
  return found;
}

/// Whether `path` is root's 0644 regular file holding exactly `text` (never following a link).
bool holds(const std::string& path, const std::string& text) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
      (st.st_mode & 07777) != 0644 || static_cast<std::size_t>(st.st_size) != text.size())
    return false;
  return read_all(fd.get(), path, text.size()) == text;
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

std::vector<SnippetFile> keep_nginx_snippets(const std::string& config_dir, const JailSpec& spec,
                                             const std::string& jail_dir, SnippetCheck check) {
  if (std::optional<std::string> why = invalid_jail_name(spec.name)) throw Error(spec.name, *why);
  if (check == SnippetCheck::if_missing && !files_of(config_dir + "/nginx", spec.name).empty()) return {};
  std::map<std::string, std::string> wanted; // file name -> text
  const bool php = std::any_of(spec.services.begin(), spec.services.end(),
                               [](const std::string& s) { return s == "php-fpm" || s == "php-runtime"; });
  if (php) {
    // From the host's php-fpm configuration (root's) and the definition, never from the jail.
    std::vector<SnippetSite> sites = snippet_sites(HostRoot(spec.host_root), spec, jail_dir, "");
    for (const SnippetSite& site : sites) {
      if (sites.size() > 1 && !file_name_part(site.pool))
        throw Error(jail_dir, "pool '" + site.pool + "' cannot name a file: no nginx snippet kept for it");
      std::string file = sites.size() == 1 ? spec.name + ".conf" : spec.name + "." + site.pool + ".conf";
      wanted[file] = "# Kept by `jailbuild create` and `jailbuild sync`: an edit here is overwritten.\n" +
                     nginx_snippet(site, NginxSide::host);
    }
  }
  std::vector<SnippetFile> done;
  const std::string dir = snippet_dir(config_dir, wanted.empty() ? MakeDir::no : MakeDir::yes);
  for (const auto& [file, text] : wanted) {
    const std::string path = dir + "/" + file;
    if (holds(path, text)) continue; // nginx needs no reload
    const bool existed = ::access(path.c_str(), F_OK) == 0;
    // nginx may reload at any moment: it reads the old snippet or the new one, never half.
    AtomicFile out(path, 0644);
    out.write(text);
    out.commit();
    done.push_back({path, existed ? SnippetChange::changed : SnippetChange::written});
  }
  for (const std::string& file : files_of(dir, spec.name))
    if (!wanted.contains(file)) {
      const std::string path = dir + "/" + file;
      if (::unlink(path.c_str()) != 0) throw system_error(path, "cannot remove", errno);
      done.push_back({path, SnippetChange::removed});
    }
  return done;
}

std::vector<SnippetFile> remove_nginx_snippets(const std::string& config_dir, std::string_view name) {
  if (std::optional<std::string> why = invalid_jail_name(name)) throw Error(std::string(name), *why);
  std::vector<SnippetFile> done;
  const std::string dir = config_dir + "/nginx";
  for (const std::string& file : files_of(dir, name)) {
    const std::string path = dir + "/" + file;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw system_error(path, "cannot remove", errno);
    done.push_back({path, SnippetChange::removed});
  }
  return done;
}

std::string format_snippet_changes(const std::vector<SnippetFile>& files) {
  std::string out;
  for (const SnippetFile& f : files)
    switch (f.change) {
    case SnippetChange::written:
      out += "nginx snippet " + f.path + " written: include it in the site's server {} and reload nginx\n";
      break;
    case SnippetChange::changed:
      out += "nginx snippet " + f.path + " changed: reload nginx\n";
      break;
    case SnippetChange::removed:
      out += "nginx snippet " + f.path + " removed: take its include out of nginx's configuration\n";
      break;
    }
  return out;
}

} // namespace jailbuild
