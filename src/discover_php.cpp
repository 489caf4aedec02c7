// SPDX-License-Identifier: MIT
// php-fpm's half of discovery: php.ini and its scan directory, php-fpm.conf and the files it
// includes, the pools. Each is read the way PHP and php-fpm read it, so that the jail gets what
// they will open, and nothing else.
#include "jailbuild/discover.hpp"

#include "discover_internal.hpp"
#include "jailbuild/accounts.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/hostfs.hpp"
#include "jailbuild/inputs.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <string_view>
#include <sys/stat.h>

namespace jailbuild {

namespace {

using discover::add_unique;
using discover::where;

std::string_view trim(std::string_view s) {
  constexpr std::string_view space = " \t\r\n";
  size_t begin = s.find_first_not_of(space);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(space) - begin + 1);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The primary group of `user` (a name or a uid), which php-fpm takes from getpwnam(3) at run time
// when a pool names no group: by name from the host's /etc/group, else the bare gid (chown(2) takes it).
std::optional<std::string> primary_group(const HostRoot& host, const std::string& user) {
  auto read = [&](const char* path) { return host.exists(path) ? host.read_file(path) : std::string(); };
  for (const PasswdEntry& account : parse_passwd(read("/etc/passwd"))) {
    if (account.name != user && std::to_string(account.uid) != user) continue;
    for (const GroupEntry& group : parse_group(read("/etc/group")))
      if (group.gid == account.gid) return group.name;
    return std::to_string(account.gid);
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// PHP's ini syntax (php.ini, conf.d, and php-fpm.conf, which php-fpm parses with the same scanner).

struct IniLine {
  enum class Kind { section, entry } kind;
  std::string name; ///< section name, or entry key
  std::string value;
  size_t line;
  bool has_variable; ///< the value holds ${...}, which PHP fills from the environment at startup
};

// The value of `key = value` as PHP's normal scanner reads it: "double quotes" (\" \\ \$ escaped),
// 'raw single quotes', and bare text, which a ';' ends. The bare words PHP turns into booleans
// become "1" or "", so that `upload_tmp_dir = none` reads as unset, as it does in PHP.
std::string ini_value(std::string_view raw) {
  std::string out;
  size_t bare_end = 0; // trailing whitespace of bare text is not part of the value
  bool quoted_anything = false;
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == ';') break;
    if (c == '"' || c == '\'') {
      quoted_anything = true;
      for (++i; i < raw.size() && raw[i] != c; ++i) {
        if (c == '"' && raw[i] == '\\' && i + 1 < raw.size() &&
            (raw[i + 1] == '"' || raw[i + 1] == '\\' || raw[i + 1] == '$'))
          ++i;
        out += raw[i];
      }
      bare_end = out.size();
      continue;
    }
    if (out.empty() && (c == ' ' || c == '\t')) continue;
    out += c;
    if (c != ' ' && c != '\t' && c != '\r') bare_end = out.size();
  }
  out.resize(bare_end);
  if (!quoted_anything) {
    std::string word = lower(out);
    if (word == "none" || word == "null" || word == "off" || word == "no" || word == "false") return "";
    if (word == "on" || word == "yes" || word == "true") return "1";
  }
  return out;
}

std::vector<IniLine> parse_ini(std::string_view text) {
  std::vector<IniLine> lines;
  size_t number = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = std::min(text.find('\n', pos), text.size());
    std::string_view line = trim(text.substr(pos, eol - pos));
    pos = eol + 1;
    ++number;
    if (line.empty() || line.front() == ';') continue;
    if (line.front() == '[') {
      size_t close = line.find(']');
      std::string_view name =
          line.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1);
      lines.push_back({IniLine::Kind::section, std::string(trim(name)), "", number, false});
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue; // a bare key sets nothing we look at
    std::string_view raw_value = line.substr(eq + 1);
    lines.push_back({IniLine::Kind::entry, std::string(trim(line.substr(0, eq))), ini_value(raw_value),
                     number, raw_value.find("${") != std::string_view::npos});
  }
  return lines;
}

// ---------------------------------------------------------------------------------------------
// php-fpm

constexpr std::string_view fpm_binary_stem = "/usr/sbin/php-fpm";
constexpr std::string_view debian_session_dir = "/var/lib/php/sessions"; // Debian's patched default
constexpr std::string_view fpm_install_prefix = "/usr";                  // php-fpm's prefix without -p
constexpr std::string_view fpm_localstate_dir = "/var"; // relative pid and error_log start here

bool is_php_version(std::string_view v) {
  size_t dot = v.find('.');
  return dot != std::string_view::npos && all_digits(v.substr(0, dot)) && all_digits(v.substr(dot + 1));
}

// "8.10" sorts after "8.9", as the user reads versions.
bool version_less(const std::string& a, const std::string& b) {
  auto key = [](const std::string& v) {
    size_t dot = v.find('.');
    return std::pair(std::stoi(v.substr(0, dot)), std::stoi(v.substr(dot + 1)));
  };
  return key(a) < key(b);
}

std::string choose_php_version(const HostRoot& host, const std::optional<std::string>& wanted) {
  std::vector<std::string> installed;
  for (const std::string& binary : host.glob(std::string(fpm_binary_stem) + "*")) {
    std::string version = binary.substr(fpm_binary_stem.size());
    if (is_php_version(version) && host.exists("/etc/php/" + version + "/fpm")) installed.push_back(version);
  }
  std::sort(installed.begin(), installed.end(), version_less);
  if (installed.empty())
    throw Error("php-fpm", "not installed on the host: install the Debian package php-fpm");
  std::string list;
  for (const auto& v : installed)
    list += (list.empty() ? "" : ", ") + v;
  if (wanted) {
    if (std::find(installed.begin(), installed.end(), *wanted) == installed.end())
      throw Error("php-fpm", "PHP " + *wanted + " is not installed on the host (installed: " + list + ")");
    return *wanted;
  }
  if (installed.size() > 1)
    throw Error("php-fpm", "several PHP versions are installed (" + list + "): choose one with --php X.Y");
  return installed.front();
}

// PHP's compiled-in extension_dir, found without running PHP: Debian builds it as
// /usr/lib/php/<Zend API date>, and the string sits in the binary's read-only data.
std::string compiled_extension_dir(const HostRoot& host, const std::string& binary) {
  constexpr std::string_view stem = "/usr/lib/php/";
  const std::string bytes = host.read_file(binary);
  for (size_t at = bytes.find(stem); at != std::string::npos; at = bytes.find(stem, at + 1)) {
    size_t end = at + stem.size() + 8;
    if (end > bytes.size() || !all_digits(std::string_view(bytes).substr(at + stem.size(), 8))) continue;
    if (end < bytes.size() && ((bytes[end] >= '0' && bytes[end] <= '9') || bytes[end] == '/')) continue;
    return bytes.substr(at, end - at);
  }
  std::vector<std::string> dirs;
  for (const std::string& dir : host.glob("/usr/lib/php/*"))
    if (all_digits(dir.substr(stem.size())) && dir.size() == stem.size() + 8) dirs.push_back(dir);
  if (dirs.size() == 1) return dirs.front();
  throw Error(binary, dirs.empty() ? "cannot find its extension directory (/usr/lib/php/<API date>): "
                                     "set extension_dir in php.ini"
                                   : "cannot tell which /usr/lib/php/<API date> directory is its own: "
                                     "set extension_dir in php.ini");
}

// An extension= or zend_extension= request as PHP resolves it: an absolute path is used as is;
// anything else is looked up in extension_dir, first as written, then with ".so" appended.
// (PHP itself takes a relative `extension=` holding a '/' from the working directory; we keep it
// in extension_dir, where a packaged module can only be.)
std::string extension_path(const HostRoot& host, const std::string& dir, const std::string& value) {
  if (value.front() == '/') return normalize_path(value);
  std::string as_written = join_path(dir, value);
  if (value.ends_with(".so") || host.exists(as_written)) return as_written;
  return as_written + ".so";
}

struct ExtensionRequest {
  std::string value;
  std::string where; ///< "file:line", for warnings
};

// The php.ini settings discovery needs, last assignment winning as in PHP.
struct PhpIni {
  std::vector<ExtensionRequest> zend_extensions;
  std::vector<ExtensionRequest> extensions;
  std::map<std::string, std::string> settings;
};

PhpIni read_php_ini(const HostRoot& host, const std::string& etc, PhpDiscovery& out) {
  PhpIni ini;
  std::string main_ini = etc + "/php.ini";
  if (host.exists(main_ini))
    out.ini_files.push_back(main_ini);
  else
    out.warnings.push_back(main_ini + ": missing: php-fpm runs with PHP's built-in defaults");
  // PHP reads the scan directory's *.ini in alphabetical order and skips what it cannot stat, and
  // what is not a regular file (php_ini.c): a FIFO there is never opened, here either.
  for (const std::string& file : host.glob(etc + "/conf.d/*.ini")) {
    std::optional<ResolvedPath> resolved = host.resolve(file);
    std::optional<struct stat> st = resolved ? host.lstat(resolved->path, Scrutiny::passed) : std::nullopt;
    if (!st)
      out.warnings.push_back(file + ": dangling symlink: PHP skips it");
    else if (!S_ISREG(st->st_mode))
      out.warnings.push_back(file + ": not a regular file: PHP skips it");
    else
      out.ini_files.push_back(file);
  }
  for (const std::string& file : out.ini_files) {
    // [PATH=...] and [HOST=...] sections apply per request; PHP loads no extension from them.
    bool special = false;
    for (const IniLine& line : parse_ini(host.read_file(file))) {
      if (line.kind == IniLine::Kind::section) {
        std::string name = lower(line.name);
        special = name.starts_with("path=") || name.starts_with("host=");
        continue;
      }
      if (special) continue;
      if (line.has_variable)
        out.warnings.push_back(where(file, line.line) + ": " + line.name +
                               " uses ${...}, which PHP takes from its environment: kept verbatim");
      std::string key = lower(line.name);
      if (key == "extension" || key == "zend_extension") {
        if (line.value.empty()) continue;
        (key == "extension" ? ini.extensions : ini.zend_extensions)
            .push_back({line.value, where(file, line.line)});
      } else {
        ini.settings[line.name] = line.value;
      }
    }
  }
  return ini;
}

struct PoolConf {
  std::string name;
  std::string where;                                                 ///< where the section starts
  std::map<std::string, std::pair<std::string, std::string>> values; ///< key -> (value, "file:line")
  std::vector<ExtensionRequest> extensions; ///< php_value[extension], php_admin_value[extension]
  bool chosen = true;                       ///< taken into the jail (discover_php's `pools`)
};

struct FpmConf {
  std::map<std::string, std::string> global;
  std::vector<PoolConf> pools;
  std::set<std::string> parsed; ///< resolved paths, so that an include loop ends
  /// The pools (indexes) each file opens or continues, by the name it was included as.
  std::map<std::string, std::set<size_t>> pools_of_file;
};

constexpr size_t no_pool = static_cast<size_t>(-1);

/// Deeper than this, php-fpm.conf's includes are a trap or a bug: Debian's go one deep (pool.d).
constexpr size_t max_fpm_include_depth = 16;

// Reads one php-fpm configuration file, `depth` includes below php-fpm.conf; `current` is the index
// of the pool being defined, which an included file continues and may change, as in php-fpm.
void read_fpm_conf(const HostRoot& host, const std::string& file, FpmConf& conf, size_t& current,
                   PhpDiscovery& out, size_t depth = 0) {
  auto resolved = host.resolve(file);
  if (!resolved) throw Error(file, "no such file: php-fpm would not start");
  add_unique(out.fpm_conf_files, file);
  if (!conf.parsed.insert(resolved->path).second) return;
  for (const IniLine& line : parse_ini(host.read_file(file))) {
    if (line.kind == IniLine::Kind::section) {
      // php-fpm reopens a pool whose name (case-insensitively) was seen before.
      current = no_pool;
      if (lower(line.name) == "global") continue;
      for (size_t i = 0; i < conf.pools.size(); ++i)
        if (lower(conf.pools[i].name) == lower(line.name)) current = i;
      if (current == no_pool) {
        conf.pools.push_back({line.name, where(file, line.line), {}, {}, true});
        current = conf.pools.size() - 1;
      }
      conf.pools_of_file[file].insert(current);
      continue;
    }
    std::string key = lower(line.name);
    if (key == "include") {
      if (depth >= max_fpm_include_depth)
        throw Error(file, "line " + std::to_string(line.line) + ": includes nested more than " +
                              std::to_string(max_fpm_include_depth) + " deep");
      std::string pattern = join_path(fpm_install_prefix, line.value);
      std::vector<std::string> matches = host.glob(pattern);
      if (matches.empty())
        out.warnings.push_back(where(file, line.line) + ": include " + pattern + " matches nothing");
      for (const std::string& match : matches)
        read_fpm_conf(host, match, conf, current, out, depth + 1);
      continue;
    }
    if (line.has_variable)
      out.warnings.push_back(where(file, line.line) + ": " + line.name +
                             " uses ${...}, which php-fpm takes from its environment: kept verbatim");
    if (current != no_pool) conf.pools_of_file[file].insert(current); // an include may continue a pool
    if (current == no_pool) {
      conf.global[key] = line.value;
    } else if ((key == "php_value[extension]" || key == "php_admin_value[extension]") &&
               !line.value.empty()) {
      conf.pools[current].extensions.push_back({line.value, where(file, line.line)});
    } else {
      // php_value[...] keeps the ini directive's case; php-fpm's own keys are case-insensitive.
      std::string stored = key.starts_with("php_") ? line.name : key;
      conf.pools[current].values[stored] = {line.value, where(file, line.line)};
    }
  }
}

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

// Resolves each pool's settings, applies php-fpm's defaults, and collects the paths they name.
void finish_pools(const HostRoot& host, FpmConf& conf, const PhpIni& ini, PhpDiscovery& out) {
  for (PoolConf& pool : conf.pools) {
    if (!pool.chosen) continue; // nothing of another site's pool enters the jail
    // php-fpm replaces $pool in every value with the pool's name.
    auto get = [&](const std::string& key) -> std::optional<std::string> {
      auto it = pool.values.find(key);
      if (it == pool.values.end()) return std::nullopt;
      return replace_all(it->second.first, "$pool", pool.name);
    };
    // A PHP setting as this pool's workers see it: php_admin_value, php_value, then php.ini.
    auto php_setting = [&](const std::string& key) {
      auto value = get("php_admin_value[" + key + "]");
      if (!value) value = get("php_value[" + key + "]");
      if (auto it = ini.settings.find(key); !value && it != ini.settings.end()) value = it->second;
      return value.value_or("");
    };
    // Relative paths start at the pool's prefix, itself relative to php-fpm's install prefix.
    const std::string prefix = join_path(fpm_install_prefix, get("prefix").value_or(""));
    auto pool_path = [&](const std::string& value) { return join_path(prefix, value); };
    auto warn = [&](const std::string& where, const std::string& what) {
      out.warnings.push_back(where + ": pool '" + pool.name + "' " + what);
    };

    PhpPool result;
    result.name = pool.name;
    result.user = get("user").value_or("");
    if (result.user.empty()) warn(pool.where, "sets no user: php-fpm refuses to run it as root");
    result.group = get("group").value_or("");
    if (result.group.empty() && !result.user.empty()) {
      result.group = primary_group(host, result.user).value_or("");
      if (result.group.empty()) warn(pool.where, "runs as " + result.user + ", who is not in /etc/passwd");
    }
    std::string listen = get("listen").value_or("");
    if (listen.empty()) warn(pool.where, "has no listen address");
    bool tcp = listen.find(':') != std::string::npos || all_digits(listen);
    result.listen_kind = tcp ? ListenKind::tcp : ListenKind::unix_socket;
    result.listen = (tcp || listen.empty()) ? listen : pool_path(listen);
    if (!tcp && !listen.empty()) add_unique(out.socket_dirs, dirname_of(result.listen));
    result.listen_owner = get("listen.owner").value_or("root");
    result.listen_group = get("listen.group").value_or(primary_group(host, result.listen_owner).value_or(""));
    result.listen_mode = get("listen.mode").value_or("0660");
    result.where = pool.where;
    // Kept as written: php-fpm takes chroot as an absolute path and chdir inside it.
    result.chroot = get("chroot").value_or("");
    result.chdir = get("chdir").value_or("");
    for (const char* key : {"access.log", "slowlog"})
      if (auto log = get(key); log && !log->empty()) add_unique(out.log_files, pool_path(*log));

    // The PHP settings naming directories and files the workers write to.
    std::string handler = php_setting("session.save_handler");
    if (handler.empty() || handler == "files") {
      std::string save_path = php_setting("session.save_path");
      if (save_path.empty()) save_path = debian_session_dir;
      // "N;/path" and "N;MODE;/path" spread sessions below /path.
      add_unique(out.session_dirs, pool_path(save_path.substr(save_path.rfind(';') + 1)));
    }
    if (std::string dir = php_setting("upload_tmp_dir"); !dir.empty())
      add_unique(out.upload_dirs, pool_path(dir));
    if (std::string log = php_setting("error_log"); !log.empty() && log != "syslog")
      add_unique(out.log_files, pool_path(log));
    out.pools.push_back(std::move(result));
  }
}

// Marks the pools a jail takes (`wanted`, or the default) and sorts the configuration files into
// those copied and those left out: a file is copied whole or not at all, so one defining pools of
// both kinds cannot be split and is refused.
void choose_pools(const HostRoot& host, FpmConf& conf, const std::vector<std::string>& wanted,
                  DefaultPools default_pools, const std::string& main_file, PhpDiscovery& out) {
  auto chroot_of = [](const PoolConf& pool) {
    auto it = pool.values.find("chroot");
    return it == pool.values.end() ? std::string() : it->second.first;
  };
  for (const PoolConf& pool : conf.pools)
    out.host_pools.push_back(pool.name);
  if (wanted.empty()) {
    const bool want_chrooted = default_pools == DefaultPools::chrooted;
    for (PoolConf& pool : conf.pools) {
      pool.chosen = chroot_of(pool).empty() != want_chrooted;
      if (!pool.chosen && !want_chrooted)
        out.warnings.push_back(pool.values["chroot"].second + ": pool '" + pool.name +
                               "' sets chroot = " + chroot_of(pool) +
                               ": left out (inside a jail php-fpm would chroot a second time and "
                               "SCRIPT_FILENAME from nginx would not exist, \"Primary script unknown\"); "
                               "its workers' own jail is `jailbuild create " +
                               chroot_of(pool) + " --with php-runtime --pool " + pool.name + "`");
    }
  } else {
    for (PoolConf& pool : conf.pools)
      pool.chosen = false;
    for (const std::string& name : wanted) {
      auto it = std::find_if(conf.pools.begin(), conf.pools.end(),
                             [&](const PoolConf& pool) { return lower(pool.name) == lower(name); });
      if (it == conf.pools.end()) {
        std::string list;
        for (const std::string& p : out.host_pools)
          list += (list.empty() ? "" : ", ") + p;
        throw Error("--pool",
                    "no pool '" + name + "' in " + main_file +
                        (list.empty() ? " (it defines none)" : " (the host's pools: " + list + ")"));
      }
      it->chosen = true;
    }
  }
  std::vector<std::string> kept;
  for (const std::string& file : out.fpm_conf_files) {
    auto touched = conf.pools_of_file.find(file);
    size_t chosen = 0, others = 0;
    std::string other_name;
    if (touched != conf.pools_of_file.end())
      for (size_t index : touched->second) {
        if (conf.pools[index].chosen) {
          ++chosen;
        } else {
          ++others;
          other_name = conf.pools[index].name;
        }
      }
    if (others == 0) {
      kept.push_back(file);
      continue;
    }
    if (chosen > 0 || file == main_file)
      throw Error(file, "defines pool '" + other_name +
                            "', which this jail does not take, beside what it takes: jailbuild copies a "
                            "configuration file whole, so give each pool a file of its own in pool.d");
    out.left_out_files.push_back(file);
    if (auto resolved = host.resolve(file); resolved && resolved->path != file)
      out.left_out_files.push_back(resolved->path);
  }
  out.fpm_conf_files = std::move(kept);
}

} // namespace

PhpDiscovery discover_php(const HostRoot& host, std::optional<std::string> version,
                          const std::vector<std::string>& pools, DefaultPools default_pools) {
  if (version && !is_php_version(*version)) throw Error("--php", "expected a PHP version such as 8.2");
  PhpDiscovery out;
  out.version = choose_php_version(host, version);
  out.fpm_binary = std::string(fpm_binary_stem) + out.version;
  const std::string etc = "/etc/php/" + out.version + "/fpm";

  // php-fpm reads its own php.ini and scan directory, compiled in as /etc/php/X.Y/fpm.
  PhpIni ini = read_php_ini(host, etc, out);
  auto dir = ini.settings.find("extension_dir");
  if (dir != ini.settings.end() && !dir->second.empty()) {
    if (dir->second.front() != '/')
      out.warnings.push_back(etc + "/php.ini: extension_dir " + dir->second +
                             " is relative to php-fpm's working directory: taken from /");
    out.extension_dir = normalize_path("/" + dir->second);
  } else {
    out.extension_dir = compiled_extension_dir(host, out.fpm_binary);
  }

  // Its own configuration, pools included.
  FpmConf conf;
  size_t current = no_pool;
  read_fpm_conf(host, etc + "/php-fpm.conf", conf, current, out);
  std::string pid = conf.global["pid"];
  if (!pid.empty()) out.pid_file = join_path(fpm_localstate_dir, pid);
  std::string error_log = conf.global.count("error_log") ? conf.global["error_log"] : "log/php-fpm.log";
  if (!error_log.empty() && error_log != "syslog")
    add_unique(out.log_files, join_path(fpm_localstate_dir, error_log));
  if (conf.pools.empty())
    out.warnings.push_back(etc + "/php-fpm.conf: no pool is defined: php-fpm will not start");
  choose_pools(host, conf, pools, default_pools, etc + "/php-fpm.conf", out);
  finish_pools(host, conf, ini, out);

  // Extensions in load order: PHP loads every zend_extension first.
  std::vector<ExtensionRequest> requests = ini.zend_extensions;
  requests.insert(requests.end(), ini.extensions.begin(), ini.extensions.end());
  for (const PoolConf& pool : conf.pools)
    if (pool.chosen) requests.insert(requests.end(), pool.extensions.begin(), pool.extensions.end());
  for (const ExtensionRequest& request : requests) {
    std::string path = extension_path(host, out.extension_dir, request.value);
    if (!host.exists(path)) {
      std::string hint = request.value.ends_with(".dll") ? " (a Windows file name)" : "";
      out.warnings.push_back(request.where + ": extension " + request.value + hint + " is enabled but " +
                             path + " does not exist: PHP starts without it");
    } else if (std::find(out.extensions.begin(), out.extensions.end(), path) != out.extensions.end()) {
      out.warnings.push_back(request.where + ": extension " + request.value +
                             " is enabled twice: PHP warns \"already loaded\"");
    } else {
      out.extensions.push_back(path);
    }
  }
  return out;
}

} // namespace jailbuild
