// SPDX-License-Identifier: MIT
// The manifest: what create installed into a jail (the spec, every entry with its digest, source and
// the source's stamp, and the ELF facts of every walked object), kept in DIR/.jailbuild/ (0700) so
// that sync needs no arguments, audit can check integrity and pack can verify content.
#pragma once
#include "jailbuild/error.hpp"
#include "jailbuild/inputs.hpp"
#include "jailbuild/plan.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

namespace jailbuild {

class JailFs;

/// The directory of the manifest inside a jail, and the file in it.
inline constexpr const char* manifest_dir = ".jailbuild";
inline constexpr const char* manifest_file = ".jailbuild/manifest.json";

/// A Debian package that owned some of the jail's source files on the host that packed the jail.
struct PackagePin {
  std::string name; ///< as dpkg names its file list: "libc6:amd64", "nginx-common"
  std::string version;
  bool operator==(const PackagePin&) const = default;
};

/// Where a packed jail's files came from (pack.hpp, provenance.hpp). `jailbuild pack` writes it into the
/// archive beside the jail's manifest (.jailbuild/origin.json); unpack puts it into the manifest and
/// stamps `unpacked`, so that sync can tell that the files came from another host's packages. Absent
/// in jails built on this host.
struct Provenance {
  std::string host;                 ///< the packing host's name
  int64_t packed = 0;               ///< the archive's timestamp: SOURCE_DATE_EPOCH or `updated`
  std::string packages_digest;      ///< sha256 of "name version\n" for each of `packages`
  std::vector<PackagePin> packages; ///< installed packages owning the jail's sources, sorted by name
  std::string min_kernel;           ///< from the ELF ABI note of the jail's libc ("3.2.0"); "" if none
  /// sha256 of each packed regular file the plan does not list in a directory the jail's services
  /// write (their data, kept state), by jail path: vouched for, as audit takes them.
  std::map<std::string, std::string> extra_digests;
  int64_t unpacked = 0;       ///< set by unpack: when; 0 in an archive
  std::string archive_sha256; ///< set by unpack: the archive it came from
  /// sha256 of each packed regular file the plan does not list anywhere else (site content put in
  /// place by hand, a file planted in /etc), by jail path. Carried and verified, never vouched for:
  /// audit reports them in the unpacked jail as it does in the packed one, so that packing a jail
  /// never launders what audit condemns.
  std::map<std::string, std::string> unverified_digests;
  /// The secrets pack left out (pack.hpp: wp-config.php, private keys, what the spec declares), by
  /// jail path, sorted: what the admin restores on the unpacking host (unpack --secrets).
  std::vector<std::string> left_out_secrets;
  bool operator==(const Provenance&) const = default;
};

struct Manifest {
  int format = 1;
  std::string tool;    ///< "jailbuild X.Y.Z"
  int64_t created = 0; ///< unix time
  int64_t updated = 0;
  Plan plan;
  /// Where the files came from, for a jail that was packed elsewhere. JSON "origin" (its name since
  /// the first manifests; keys are only ever added), optional: older manifests have none.
  std::optional<Provenance> provenance;
  /// What the plan was made from on this host (inputs.hpp), JSON "inputs"; empty when unknown (an
  /// older manifest, an unpacked jail): sync then plans.
  PlanInputs inputs;
};

/// What an entry's JSON tells of its files besides the plan's fields, the one way in which the
/// manifest's entries and `create --dry-run --json`'s differ.
enum class EntryStamps {
  recorded, ///< the source's and the jail file's stamps: sync and audit compare them (the manifest)
  size_only ///< the source's size, for the reader of a plan that installed nothing yet
};

/// One plan entry as JSON: kind, role, path, mode, owner, "origin" (requested_by), then what its kind adds
/// (source or target, digest, content, device numbers, bind options). The manifest and plan_report share it,
/// so that an entry reads the same in both. Instantiated for nlohmann::json (keys sorted: the manifest) and
/// nlohmann::ordered_json (keys in this order, kind first: the dry-run report). A template, not one type
/// converted into the other: other programs read both documents, so each keeps its key order byte for byte,
/// and the manifest's thousands of entries are not built twice.
template <class Json> Json entry_to_json(const PlanEntry& entry, EntryStamps stamps);

std::string manifest_to_json(const Manifest& manifest);
/// Parses a manifest; throws Error naming `where` for anything malformed.
Manifest manifest_from_json(const std::string& text, const std::string& where);

/// The most an origin.json may hold, and how deeply it may nest. A real one (nginx + php-fpm, 96
/// packages) is 7 KB and 3 levels deep; each file an archive vouches for (extra_digests) adds about
/// 140 bytes, so 8 MiB is room for some 60,000 session or upload files. unpack reads it from an archive
/// it must assume hostile, before anything is written.
inline constexpr std::size_t max_origin_size = std::size_t{8} << 20;
inline constexpr int max_origin_depth = 8;

/// A Provenance alone, as pack stores it in the archive.
std::string provenance_to_json(const Provenance& origin);
/// Parses what provenance_to_json wrote; throws Error naming `where` for anything malformed: more than
/// max_origin_size bytes or max_origin_depth levels, a key of extra_digests or unverified_digests
/// that is not a jail path as a manifest entry's, a digest that is not a sha256, a control character
/// in a text unpack and sync show (host, packages, min_kernel).
Provenance provenance_from_json(const std::string& text, const std::string& where);

/// Why root may not trust what a jail's .jailbuild/ holds, or nullopt: the jail root must be root's
/// and writable by no one else, .jailbuild/ root's alone (0700), the manifest root's and writable by
/// no one else (either may be absent: a jail not made yet). Whoever else owns one of them chooses the
/// manifest, which says what sync copies where and what mount binds: a registered jail whose
/// directory a service user made again after the admin removed it, say. Looked at through the
/// jail's root fd, never following a symlink. A value, not thrown: audit reports it, sync, mount,
/// umount, pack, create and unpack throw it.
std::optional<Error> untrusted_jail(const JailFs& jail);

/// Reads DIR's manifest; throws Error(DIR, "not a jailbuild jail: ...") when there is none.
Manifest read_manifest(const std::string& jail_dir);
/// Writes the manifest atomically into the jail, its directory root-only (0700).
void write_manifest(JailFs& jail, const Manifest& manifest);

} // namespace jailbuild
