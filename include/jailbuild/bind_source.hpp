// SPDX-License-Identifier: MIT
// What root may bind into a jail, and how a bind source is opened. A bind source is a host path
// named by a spec (the command line, a profile) or by a manifest, which may come from an archive; it
// may also lie below a directory a service of the jail can write. Neither may steer root into binding
// the host's /, its configuration, its /proc or another jail: create refuses such a source while
// planning, `mount` again whatever the manifest says, and `audit` rates one critical.
#pragma once
#include "jailbuild/fd.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <vector>

namespace jailbuild {

class HostRoot;

/// Why a host path may never be the source of a bind mount into a jail ("refusing to bind ... into a
/// jail: why"), or nullopt when it may. `host_path` is absolute and normalised; check it as written
/// and with its symlinks resolved. Refused: `/`; system trees (/etc, /usr, /bin, /sbin, /lib*, /boot,
/// /root, /home, /sys, /dev but /dev/log, /run/systemd but the journal's log sockets, the D-Bus,
/// container runtimes, package, systemd and jailbuild state) and the host's /proc, a way out of any
/// chroot; whole directories such as /run, /var, /var/lib, /srv, /var/www, /tmp; anything holding one
/// of those. Site code under /srv/SITE or /var/www/SITE, data directories, /run/mysqld, /run/php and
/// /dev/log may be bound.
std::optional<std::string> refused_bind_source(std::string_view host_path);

/// A bind source, opened.
struct BindSource {
  UniqueFd fd;      ///< O_PATH: the source itself, which is what gets mounted
  std::string path; ///< its host path with every symlink resolved (below the host root)
  struct stat st {};
};

/// Opens a bind source below the host root one component at a time, never following a symlink that
/// anyone but root could have placed: a symlink is followed only when root owns it and every
/// directory on the way is root's and writable by no one else (so /dev/log still leads to the
/// journal's socket); below a directory anyone else may write (a service's own data), the first
/// symlink is refused, for the service could have swapped the source for a link to /etc. Also
/// refused: what refused_bind_source() names (as written and as resolved), "..", a source in a
/// directory holding `.jailbuild/` (another jail) or in or holding one of `jails` (host paths of
/// registered jails), and a non-directory with other hard links below a directory someone else may
/// write. Throws Error naming the source as written.
BindSource open_bind_source(const HostRoot& host, const std::string& source,
                            const std::vector<std::string>& jails = {});

} // namespace jailbuild
