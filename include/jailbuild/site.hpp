// SPDX-License-Identifier: MIT
// A jail's sites: the code of a web application (WordPress, phpMyAdmin) below a docroot in the
// jail. The code is the admin's, not the plan's: sync never touches it, and audit judges it as one
// group against a baseline that root accepted (`jailbuild site accept`, or create when it copied the
// site's source), instead of one "unexpected file" finding per file. The baseline lives in
// .jailbuild/sites/, root's; everything below a docroot is the services' side and read as hostile:
// never through a symlink, a FIFO never opened, a huge file never read whole.
#pragma once
#include "jailbuild/plan.hpp"

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace jailbuild {

class JailFs;

/// A site as `--site DIR[:OWNER[:SOURCE]]` writes it: DIR the docroot (a jail path), OWNER the
/// account owning the code (root when not given), SOURCE a host directory create copies in once.
/// Throws Error naming the argument for anything else; check_site() judges the paths.
SiteSpec parse_site(std::string_view arg);

/// Refuses a site whose docroot refused_jail_path() refuses as a writable directory (a system tree,
/// /var as a whole, /.jailbuild), whose writable directories are not clean relative paths below it,
/// whose source is not a clean absolute path, or which lies in or around another site. Throws Error
/// naming the path.
void check_sites(const std::vector<SiteSpec>& sites);

/// The writable directories of the spec's sites as --writable entries: docroot/DIR owned by the
/// site's writer, for the planner and the checks that every writable directory gets.
std::vector<WritableSpec> site_writable(const JailSpec& spec);
/// The spec's --writable entries and its sites' writable directories, in that order.
std::vector<WritableSpec> all_writable(const JailSpec& spec);
/// The jail paths below `site` where the services may write: its own writable directories and the
/// spec's --writable directories that lie below its docroot. Their content is data, not code.
std::vector<std::string> site_writable_dirs(const JailSpec& spec, const SiteSpec& site);

/// Whether a file name is code a web server or PHP runs or reads as configuration when it lies in
/// a served directory: *.php, *.php[3-8], *.phtml, *.pht, *.phar, *.phps, .htaccess, .user.ini.
bool is_site_code_name(std::string_view name);

/// One file of a site as it was accepted.
struct SiteFile {
  enum class Type : char { file = 'f', symlink = 'l', other = 'o' };
  std::string path; ///< below the docroot, without a leading "/" ("wp-includes/version.php")
  Type type = Type::file;
  uint32_t mode = 0; ///< permission bits
  uint64_t size = 0; ///< file: bytes
  uint64_t ino = 0;  ///< file: the stamp that spares hashing an unchanged file
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  std::string digest; ///< file: sha256; empty for a file over site_hash_limit (compared by stamp)
  std::string link;   ///< symlink: its text
  bool operator==(const SiteFile&) const = default;
};

/// A file bigger than this is not hashed for a baseline: it is compared by size and stamp alone, so
/// that a 10 GB sparse file a service planted costs nothing (no site's code is that big).
inline constexpr uint64_t site_hash_limit = uint64_t{256} << 20;

/// What root accepted of a site.
struct SiteBaseline {
  std::string docroot;
  int64_t accepted = 0;        ///< unix time
  std::vector<SiteFile> files; ///< sorted by path
  bool operator==(const SiteBaseline&) const = default;
};

/// Where a site's baseline lives in the jail: .jailbuild/sites/<docroot, '/' as '-', escaped>.baseline
std::string site_baseline_path(std::string_view docroot);

/// The baseline as text: a header line, then one line per file with every byte of a name that is not
/// printable ASCII (a newline, a space, a backslash) written \xNN.
std::string site_baseline_text(const SiteBaseline& baseline);
/// Parses site_baseline_text(); `shown` names the file in errors. At most 2,000,000 files.
SiteBaseline site_baseline_from_text(std::string_view text, const std::string& shown);

/// Lists the site in the jail as a baseline: every file below the docroot but those in `skip_dirs`
/// (its writable directories) and below a mount, without following a symlink (its text is recorded),
/// without opening anything but regular files (a FIFO is recorded as "other"), hashing files up to
/// site_hash_limit. A missing docroot is an empty site.
SiteBaseline scan_site(const JailFs& jail, const std::string& docroot,
                       const std::vector<std::string>& skip_dirs);

/// Writes a baseline into .jailbuild/sites/ (root's, 0600), replacing the previous one.
void write_site_baseline(JailFs& jail, const SiteBaseline& baseline);
/// The site's baseline, or nullopt when none was accepted. Read through JailFs, at most 512 MiB.
std::optional<SiteBaseline> read_site_baseline(const JailFs& jail, std::string_view docroot);

/// What copy_site_source() put into the jail.
struct SiteCopy {
  std::size_t files = 0, symlinks = 0, directories = 0;
  uint64_t bytes = 0;
};

/// Copies a site's source (a host directory below `host_root`, root's choice) into its docroot,
/// owned by uid:gid, group and other write bits dropped, setuid/setgid never kept; symlinks are copied
/// as symlinks (as cp -a does), other special files skipped. Entries already in the jail (the
/// planned docroot and writable directories) are left as they are. Done by create only while the
/// docroot holds nothing but `planned` paths; nullopt when it held more (the admin's code is there).
std::optional<SiteCopy> copy_site_source(JailFs& jail, const SiteSpec& site, const std::string& host_root,
                                         uint32_t uid, uint32_t gid, const std::set<std::string>& planned);

/// A site with a source, as create found it.
struct SiteInstalled {
  std::string docroot, source;
  std::optional<SiteCopy> copied; ///< nullopt: left alone, the docroot already held the admin's files
};

/// For each site of the plan's spec with a source: copies it (copy_site_source()) into its docroot,
/// owned as the plan's docroot entry, when the docroot holds nothing but the plan's entries, and
/// accepts what was copied as the site's baseline. A docroot that holds files and has no baseline (the
/// admin's code) is left alone, and returned without a copy; one copied or accepted before is not.
std::vector<SiteInstalled> install_site_sources(JailFs& jail, const Plan& plan);

/// What comparing a site with its baseline found.
struct SiteChanges {
  std::vector<std::string> changed, added, removed; ///< jail paths
};

/// What `jailbuild site accept` did for one site.
struct SiteAccepted {
  std::string docroot;
  std::size_t files = 0;
  bool had_baseline = false;
  SiteChanges changes; ///< against the previous baseline, which the new one replaces
};

/// Accepts the current content of the jail's sites (all of them, or the one whose docroot is
/// `docroot`) as their baseline, under the jail's lock. Throws Error for a jail whose manifest is not
/// root's alone, or a docroot that is no site of the jail.
std::vector<SiteAccepted> accept_sites(const std::string& dir, const std::optional<std::string>& docroot);

/// The differences between a baseline and a fresh scan (both sorted by path): added, removed, and
/// changed in type, mode, size, link text or digest (a file whose stamp did not move is not changed).
SiteChanges compare_site(const SiteBaseline& before, const SiteBaseline& now);

} // namespace jailbuild
