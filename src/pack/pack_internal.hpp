// SPDX-License-Identifier: MIT
// What pack.cpp, pack_scan.cpp and unpack.cpp share and nobody else needs.
#pragma once
#include "jailbuild/fd.hpp"
#include "jailbuild/pack.hpp"

#include <cstddef>
#include <locale.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace jailbuild {

/// Makes this thread's character type UTF-8 while it lives. libarchive converts names between
/// the archive's UTF-8 and the "current locale": under jailbuild's default "C" locale it cannot
/// convert a non-ASCII name (3.6.2 even crashes on one). A fixed C.UTF-8, whatever LANG says, also
/// keeps the archive's bytes independent of the environment.
class ScopedUtf8Locale {
public:
  ScopedUtf8Locale() : utf8_(::newlocale(LC_CTYPE_MASK, "C.UTF-8", nullptr)) {
    if (utf8_) previous_ = ::uselocale(utf8_);
  }
  ~ScopedUtf8Locale() {
    if (!utf8_) return;
    ::uselocale(previous_);
    ::freelocale(utf8_);
  }
  ScopedUtf8Locale(const ScopedUtf8Locale&) = delete;
  ScopedUtf8Locale& operator=(const ScopedUtf8Locale&) = delete;
  /// False when C.UTF-8 does not exist here: non-ASCII names then cannot be handled.
  bool active() const { return utf8_ != nullptr; }

private:
  locale_t utf8_;
  locale_t previous_ = nullptr;
};

class JailFs;

/// How deep a jail's tree may go, in path components, in an archive: jails need a dozen levels at
/// most, and a service can make its state a chain of thousands. Pack does not descend further,
/// unpack refuses deeper names (and whatever removes an unpacked tree then holds at most this
/// many directories open).
inline constexpr std::size_t max_jail_depth = 256;

/// A jail path's name in an archive: "usr/bin/nginx" for "/usr/bin/nginx". (JailFs takes jail paths as
/// they are.)
inline std::string archive_name(const std::string& jail_path) {
  return jail_path.substr(1);
}

/// One thing found in the jail, to be packed.
struct PackItem {
  std::string path; ///< jail path: "/usr/bin/nginx"
  struct stat st {};
  std::string link_target; ///< symlink text
  std::string hardlink_to; ///< jail path of an earlier regular file with the same inode
};

/// What scan_jail found: the items in archive order (path_less: names sorted in each directory,
/// parents first), and what was left out.
struct JailScan {
  std::vector<PackItem> items;
  std::vector<std::string> warnings;
  std::size_t left_out = 0; ///< sockets, FIFOs and (unless StateFiles::include) runtime state
};

/// Walks the jail at `root` without following any symlink. Leaves out sockets and FIFOs, and, unless
/// `state` says include, whatever the plan does not list below /run, /tmp, /var/tmp, /var/log and the
/// plan's state directories (directories are kept). Does not descend into bind mounts or other
/// file systems, nor into .jailbuild (the manifest is written from the manifest).
JailScan scan_jail(const std::string& root, const Plan& plan, StateFiles state);

/// Everything that would make the archive refuse to unpack, or unpack into something other than what
/// the manifest describes (missing or different entries, setuid files, devices, non-UTF-8 names).
std::vector<std::string> check_against_plan(const std::vector<PackItem>& items, const Plan& plan);

/// A secret pack left out, and why it is one (for the admin's list).
struct LeftOutSecret {
  std::string path; ///< jail path
  std::string why;  ///< "declared secret", "a PEM private key", "WordPress configuration", ...
};

/// Why a jail path names a secret by its name alone, or nullopt: .env anywhere, Debian's
/// /etc/wordpress/config-*.php, phpMyAdmin's /etc/phpmyadmin/config-db.php and
/// /var/lib/phpmyadmin/blowfish_secret.inc.php.
std::optional<std::string> secret_by_name(std::string_view path);

/// Why a file's first bytes make it a secret, or nullopt: a PEM private key, a PHP configuration
/// that sets phpMyAdmin's blowfish_secret to something, or a wp-config.php that holds the database
/// password or keys (Debian's, which only loads /etc/wordpress/config-HOST.php, does not).
std::optional<std::string> secret_by_content(std::string_view path, std::string_view head);

/// Takes the secrets out of `items`: files the plan marks secret or the spec declares (secrets, a
/// site's secrets), files secret_by_name() names, and files whose first 64 KiB secret_by_content()
/// recognises, except programs and libraries. Marks those the plan lists secret in `plan`, so that
/// the archive's manifest says they were left out (unpack then warns instead of refusing); the others
/// (a site's wp-config.php) are listed in the provenance's left_out_secrets by the caller.
std::vector<LeftOutSecret> take_out_secrets(const JailFs& jail, std::vector<PackItem>& items, Plan& plan);

/// The newest ELF ABI tag of the jail's libc, as "3.2.0"; "" when there is none.
std::string min_kernel_of(const JailFs& jail, const Plan& plan, std::vector<std::string>& warnings);

/// The directories where the jail's services put files of their own, as audit counts them: the
/// --writable ones, and every planned directory that is state, world-writable or not root's, but
/// never the jail root nor one in a system tree (in_jail_system_tree), whatever the plan says: pack vouches
/// for the files it finds there (origin extra_digests), and unpack takes an archive's word for them only
/// there.
std::vector<std::string> service_dirs(const Plan& plan);

/// Whether `path` lies below one of `dirs` ("/" holds everything).
bool inside_any(const std::string& path, const std::vector<std::string>& dirs);

} // namespace jailbuild
