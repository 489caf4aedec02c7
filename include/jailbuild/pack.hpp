// SPDX-License-Identifier: MIT
// `jailbuild pack` and `unpack`: a jail as a reproducible pax tarball for other hosts, and its safe
// extraction. The only module that uses libarchive (src/pack.cpp, src/unpack.cpp), which is why
// those are built as the loadable module libjailbuild-archive.so (module.hpp); pack_loader.cpp calls
// into it.
//
// The archive: `.jailbuild/`, `.jailbuild/manifest.json` (the jail's manifest, byte for byte) and
// `.jailbuild/origin.json` (a Provenance: the packing host and the packages the files came from, the
// kernel the jail's libc needs, the digest of every packed file the plan does not list, vouched for
// or not) first, then
// every other entry sorted by path components, parents first. Entries carry numeric owners only, no
// atime/ctime, and the mtime of the archive (SOURCE_DATE_EPOCH, else the manifest's `updated`), so
// the same jail always gives the same bytes.
#pragma once
#include "jailbuild/plan.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jailbuild {

/// The provenance's place in the archive, beside the manifest (unpack merges it into the manifest).
/// The file keeps the name it always had: archives are read by other versions of jailbuild.
inline constexpr const char* provenance_file = ".jailbuild/origin.json";

/// The compression of an archive, from its name.
enum class Compression { none, gzip, xz, zstd };
/// .tar: none; .tar.gz/.tgz: gzip; .tar.xz/.txz: xz; .tar.zst/.tzst and anything else: zstd.
Compression compression_for(const std::string& file);

/// Whether runtime state goes into the archive: by default it is left out (sockets always are).
enum class StateFiles { leave_out, include };

/// Whether secrets (PlanEntry::secret, files holding a PEM private key) go into the archive: by
/// default they are left out, listed, and marked secret in the archive's manifest.
enum class Secrets { leave_out, include };

struct PackOptions {
  std::string dir;    ///< the jail
  std::string output; ///< the archive; FILE.sha256 is written beside it
  StateFiles state = StateFiles::leave_out;
  /// The archive's timestamp; nullopt reads SOURCE_DATE_EPOCH, else uses the manifest's `updated`.
  std::optional<int64_t> source_date_epoch;
  Secrets secrets = Secrets::leave_out; ///< last: the tests initialise the others in order
  /// With Secrets::leave_out: a second archive (root's, 0600) that holds the secrets left out, for
  /// `unpack --secrets` on the other host; empty for none.
  std::string secrets_to = {};
};

struct PackResult {
  std::string archive;
  std::string sha256;               ///< of the archive file
  std::size_t entries = 0;          ///< archive entries written
  uint64_t bytes = 0;               ///< file content packed
  std::size_t left_out = 0;         ///< runtime state and sockets not packed
  std::vector<std::string> secrets; ///< jail paths of the secrets left out
  std::vector<std::string> warnings;
};

/// Packs a jail. Reads the jail only through fds opened beneath it without following symlinks, and
/// never follows one, nor crosses a mount (a bind's mount point is packed as the manifest says).
/// Files the plan does not list are vouched for only in directories the services write; the others
/// go unverified, with a warning (Provenance::unverified_digests). Leftovers of a killed pack to the
/// same archive are removed first, with a warning. Refuses (naming every problem) a jail that differs from
/// its manifest (a missing entry, a file whose content changed, a setuid file, a device node unpack would
/// refuse): the archive must unpack. A planned file whose stamp (device, inode, size, mtime) is still the one
/// the manifest recorded is not hashed again, as in sync and audit; unpack verifies every file in
/// any case. The archive is written to a temporary file renamed into place, so an error leaves
/// nothing under the final name.
PackResult pack_jail(const PackOptions& options);

/// Limits that keep a hostile archive from filling the disk or the inode table, or from keeping
/// unpack busy decompressing.
struct UnpackLimits {
  uint64_t max_entries = 200'000;
  /// The archive's size once decompressed, all of it: headers, file content, the data of any other
  /// entry, padding, and whatever follows the end-of-archive marker.
  uint64_t max_bytes = uint64_t{4} << 30;
};

struct UnpackOptions {
  std::string archive;
  std::string dir;       ///< must not exist, or be an empty directory
  std::string state_dir; ///< the registry the jail is added to
  UnpackLimits limits;
  /// Extra profile directories of this host (--profiles-dir), after the built-in ones and
  /// /etc/jailbuild/profiles.d: the jail's services must be profiles found there.
  std::vector<std::string> profile_dirs = {};
  /// The configuration directory whose profiles.d is this host's (--config-dir).
  std::string config_dir = "/etc/jailbuild";
  /// The archive of secrets pack left out (pack --secrets-to), put back where they were; empty: none.
  /// As hostile as the archive: only files the archive lists as left-out secrets.
  std::string secrets = {};
};

struct UnpackResult {
  std::string dir;
  std::size_t entries = 0;
  uint64_t bytes = 0;
  std::vector<std::string> secrets; ///< jail paths of the secrets the archive left out
  /// From the host checks (a uid with another name here) and from rebuilding the archive's spec
  /// (its profile directories, binds and writable directories that were not kept).
  std::vector<std::string> warnings;
};

/// Unpacks an archive made by pack_jail into a new jail, treating it as hostile until proven
/// otherwise: its manifest and provenance must come first, the provenance must record the packages the
/// jail came from, the host must be able to run the jail, and the jail's spec is rebuilt from what
/// this host allows (provenance.hpp: adopt_archive_spec), before anything is written; then every entry
/// must have a relative path without
/// "..", a parent directory made earlier by the archive, and a type and mode we accept (directory,
/// regular file, symlink, a hardlink to an earlier regular file, a device of device_allowed());
/// setuid and setgid are refused, not stripped, since no jailbuild archive has them. All writes go
/// through JailFs, so nothing is written through a symlink, even one the archive itself made. Every
/// file must match the digest its manifest gives, and every manifest entry must be present; when
/// FILE.sha256 exists, the archive must match it. On any error the directory is removed again
/// (emptied, if it existed). On success the manifest records the provenance and the unpack, and the
/// jail is registered. File times are not restored (they are the archive's time, which says
/// nothing). Errors name the archive: Error(archive, "<entry>: <why>").
UnpackResult unpack_jail(const UnpackOptions& options);

/// The device nodes a jail may hold, each only at its own path: /dev/null, /dev/zero, /dev/full,
/// /dev/random, /dev/urandom (character 1,3/5/7/8/9) and /dev/tty (character 5,0). Anything else in
/// a jail would give its services access to hardware; a harmless one elsewhere is a trap.
bool device_allowed(std::string_view jail_path, DeviceType type, unsigned major, unsigned minor);

} // namespace jailbuild
