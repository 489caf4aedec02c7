// SPDX-License-Identifier: MIT
// Discovery: what a static profile cannot say about the host's php-fpm and nginx, read from their
// configuration files below a HostRoot. Nothing is ever executed (no `php -i`, no `nginx -T`): the
// jail must describe the host as its files are, and a fake host root must be enough for the tests.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace jailbuild {

class HostRoot;

/// How a php-fpm pool listens: php-fpm treats a value with ':' or only digits as TCP.
enum class ListenKind { unix_socket, tcp };

/// One php-fpm pool (a [name] section of php-fpm.conf or of a file it includes).
struct PhpPool {
  std::string name;
  std::string user;   ///< empty when unset: the pool then runs as the master (root), which php-fpm refuses
  std::string group;  ///< when unset, the primary group of `user` in the host's /etc/passwd
  std::string listen; ///< a unix socket path (absolute, after prefix and $pool) or a TCP address
  ListenKind listen_kind = ListenKind::unix_socket;
  std::string listen_owner; ///< when unset, php-fpm leaves the socket to the master: "root"
  std::string listen_group; ///< when unset, the primary group of listen_owner ("root" for root)
  std::string listen_mode = "0660";
  std::string chroot; ///< `chroot =`: the directory its workers chroot into; empty when unset
  std::string chdir;  ///< `chdir =`, as the workers see it (inside `chroot`); empty when unset
  std::string where;  ///< "file:line" of the pool's first section, for messages
};

/// The php-fpm of one PHP version as its configuration enables it.
struct PhpDiscovery {
  std::string version;                     ///< "8.2"
  std::string fpm_binary;                  ///< "/usr/sbin/php-fpm8.2"
  std::vector<std::string> ini_files;      ///< php.ini, then the conf.d scan dir, in PHP's order
  std::vector<std::string> fpm_conf_files; ///< php-fpm.conf and every file its `include=` reached
  std::string extension_dir;
  /// Enabled extensions whose file exists, as absolute host paths, in load order: PHP loads every
  /// zend_extension before any extension, then the pools' php_admin_value[extension].
  std::vector<std::string> extensions;
  std::vector<PhpPool> pools;          ///< the chosen pools only (see discover_php)
  std::vector<std::string> host_pools; ///< every pool of the host's configuration, chosen or not
  /// Pool files (as included, and resolved) that define only pools not chosen: never copied into a
  /// jail, so that one site's jail holds nothing of another site's pool.
  std::vector<std::string> left_out_files;
  std::vector<std::string> socket_dirs;  ///< directories of the pools' unix sockets, to create in the jail
  std::string pid_file;                  ///< empty when php-fpm.conf sets none
  std::vector<std::string> log_files;    ///< php-fpm's error_log, pools' access.log/slowlog, PHP's error_log
  std::vector<std::string> session_dirs; ///< session.save_path of each pool using the "files" handler
  std::vector<std::string> upload_dirs;  ///< upload_tmp_dir where set (unset means the system temp dir)
  std::vector<std::string> warnings;     ///< "<file>: <what>", for the user to read; discovery went on
};

/// Which pools discover_php() takes when a jail names none (--pool).
enum class DefaultPools {
  unchrooted, ///< every pool without `chroot =` (a full jail: php-fpm runs inside it)
  chrooted,   ///< every pool with `chroot =` (the runtime-only jail of chrooted workers)
};

/// Discovers the host's php-fpm. `version` ("8.2") is required only when several are installed.
/// `pools` names the pools a jail takes (case-insensitively, as php-fpm matches them); only their
/// users, sockets, session and upload directories, logs and extensions are reported; empty takes
/// the pools `default_pools` says, with a warning naming those left out. Throws Error when php-fpm
/// is not installed, the version is ambiguous or absent, the extension directory cannot be found,
/// a pool named is not the host's (listing the host's), or one file defines pools both chosen and
/// not (a file is copied whole or not at all).
PhpDiscovery discover_php(const HostRoot& host, std::optional<std::string> version,
                          const std::vector<std::string>& pools = {},
                          DefaultPools default_pools = DefaultPools::unchrooted);

/// The host's nginx as its configuration sets it up.
struct NginxDiscovery {
  std::string binary;                  ///< "/usr/sbin/nginx"
  std::vector<std::string> conf_files; ///< nginx.conf and every file an `include` reached, as named there
  std::vector<std::string> modules;    ///< load_module paths, absolute, symlinks not resolved
  std::string user;                    ///< the `user` directive, else nginx's compiled default "nobody"
  std::string group;                   ///< its second word, else the user's name; "nogroup" by default
  std::string pid_file;                ///< the `pid` directive, else Debian's compiled /run/nginx.pid
  std::vector<std::string> log_files;  ///< error_log and access_log files (not off, stderr, syslog:)
  /// Directories nginx writes temporary and cache files to: the *_temp_path directives, Debian's
  /// compiled defaults under /var/lib/nginx when http{} does not override them, *_cache_path.
  std::vector<std::string> temp_dirs;
  std::vector<std::string> fastcgi_sockets; ///< unix: sockets of fastcgi_pass and of upstream servers
  std::vector<std::string> listen_sockets;  ///< unix: sockets nginx itself listens on
  std::vector<std::string> socket_dirs;     ///< directories of all the sockets above
  /// Files of TLS nginx reads (certificates, CA bundles, CRLs, DH parameters, stapling responses), as
  /// absolute host paths; a path holding a variable cannot be known before a request and is left out.
  std::vector<std::string> tls_files;
  /// Private keys, key password files and session ticket keys: secret in the plan (root's alone in the
  /// jail, left out of archives).
  std::vector<std::string> tls_secrets;
  std::vector<std::string> warnings; ///< "<file>: <what>", for the user to read; discovery went on
};

/// Discovers the host's nginx from /etc/nginx/nginx.conf. Throws Error when nginx is not installed
/// or a configuration file is malformed (nginx itself would refuse to start).
NginxDiscovery discover_nginx(const HostRoot& host);

} // namespace jailbuild
