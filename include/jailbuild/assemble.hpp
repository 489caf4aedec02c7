// SPDX-License-Identifier: MIT
// The assembler: the I/O around decide() (decide.hpp). It looks at the jail (one listing per
// directory, hashing only what the record cannot vouch for), and applies a decision through JailFs
// only (never following a symlink inside the jail), in the order that keeps the jail working if the
// run is killed at any point. create and sync both apply plans this way; create is a sync against
// an empty (or the previous) manifest. Also: where a jail may be built at all.
#pragma once
#include "jailbuild/decide.hpp"
#include "jailbuild/jailfs.hpp"
#include "jailbuild/manifest.hpp"
#include "jailbuild/plan.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace jailbuild {

class HostRoot;

/// Refuses a jail location that is unsafe or not ours: "/", system directories, a parent that is
/// not root-owned or is writable by group or others without the sticky bit, a jail's own parent
/// writable by group or others even with it (below /tmp anyone may take the name while the jail is
/// not there), a symlink, an existing directory not root's or writable by group or others, and an
/// existing non-empty directory without a jailbuild manifest directory. create and unpack check the
/// place before anything is written, sync, mount, umount and pack again each time (a registered
/// jail's place may have changed hands). Returns the normalised path.
std::string check_jail_location(const std::string& dir);

/// Whether a directory has no entry but "." and ".."; throws Error naming it when it cannot be read.
bool directory_is_empty(const std::string& path);

/// Progress of a long apply: actions done out of total, called after each action that changes the
/// jail, one call at a time (never two threads at once).
using Progress = std::function<void(size_t done, size_t total)>;

struct AssembleOptions {
  CopyMethod copy = CopyMethod::copy;
  unsigned threads = 2; ///< file contents are copied on this many threads, a phase at a time
  Progress progress;
};

struct AssembleReport {
  size_t written = 0;   ///< entries created or replaced (directories whose mode was fixed included)
  size_t unchanged = 0; ///< files and generated files already right: not copied again
  size_t removed = 0;   ///< entries no longer planned, and temporary files of killed runs, taken away
  uint64_t bytes = 0;   ///< bytes copied or written
  std::vector<std::string> warnings; ///< what was left in place: a directory not empty, an edited file
};

/// The listing step, part one: lists every jail directory holding an entry of `plan` that `listing`
/// does not hold yet (one read per directory; a symlink or another non-directory on the way is noted,
/// never followed), the jail root's status, .jailbuild/, and the temporary files killed runs left in
/// them. A failure to read a directory (EACCES, EIO) is an Error, never taken for tampering.
void list_jail(const JailFs& jail, const Plan& plan, JailListing& listing);

/// The listing step, part two, once both plans are known: hashes the jail's regular files at the
/// file paths of both plans that the record cannot vouch for (unchanged_since_recorded), and fills in
/// the desired file digests decide() needs: the recorded one when the host file's stamp is unchanged,
/// else the host file's hash where the jail holds a file to compare it with. The others are hashed
/// while they are copied: every byte is read once.
void look_closer(const JailFs& jail, const HostRoot& host, const Plan& recorded, Plan& desired,
                 JailListing& listing);

/// Applies a decision to the jail: a phase at a time (decide.hpp's Phase), file contents on
/// options.threads threads; files appear only complete (JailFs: temporary file, then rename). Fills
/// the digests and jail stamps of what it installs into `desired`, whose entries decision.actions
/// name. Throws Error on the first failure, having waited for the other threads; what was done
/// stays done, in an order that leaves a working jail.
AssembleReport apply(JailFs& jail, const HostRoot& host, Plan& desired, const Decision& decision,
                     const AssembleOptions& options);

/// Throws Error naming the first thing decide() had to leave in place with Differences::enforce
/// (a planted symlink, a directory in the way), and how many more there are: create refuses them
/// before it writes anything.
void refuse_tampering(const JailFs& jail, const Decision& decision);

/// Makes the jail hold `plan`, what create does between planning and the manifest: looks at the jail,
/// decides with Differences::enforce against what `previous` recorded (nothing, for a new jail), and
/// applies. Entries `previous` recorded that the plan no longer has are removed; one that is still
/// the same on the host and in the jail is left alone, so a re-run is cheap and idempotent.
AssembleReport assemble(JailFs& jail, const HostRoot& host, Plan& plan, const Manifest* previous,
                        const AssembleOptions& options);

} // namespace jailbuild
