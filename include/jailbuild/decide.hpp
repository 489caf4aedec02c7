// SPDX-License-Identifier: MIT
// The decision: what to do to a jail, from three states that meet here — what the manifest says
// was installed (recorded), what the plan says should be there (desired) and what the jail really
// holds (a listing). decide() is a pure function: the listing step (assemble.hpp) did the reading,
// the applier does the writing. So create and sync decide by the same rules, `--dry-run` shows exactly
// what would be done, and every rule is tested without a jail (tests/unit/decide_test.cpp).
#pragma once
#include "jailbuild/jailfs.hpp"
#include "jailbuild/plan.hpp"

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <unordered_map>
#include <vector>

namespace jailbuild {

/// One line of what create or sync did (or, dry-running, would do) to a jail.
enum class ChangeKind {
  added,      ///< new in the plan, installed
  updated,    ///< changed on the host (content, mode, owner, link target), replaced
  removed,    ///< no longer in the plan (or left by a killed run), taken away
  restored,   ///< missing from the jail (or tampered with, under --force), installed again
  kept_local, ///< configuration edited in the jail and unchanged on the host: the jail's stays
  conflict,   ///< edited on both sides: the jail's stays, the host's is written as FILE.jailbuild-new
  tampered,   ///< an installed executable, library or data file differs from what was installed
  /// a conffile the admin deleted in the jail: it stays deleted, as dpkg keeps a removed conffile
  /// removed (reported when first seen and when the host's version changes, never restored)
  removed_local,
};
std::string_view to_string(ChangeKind kind);

struct Change {
  ChangeKind kind;
  std::string path; ///< inside the jail
  std::string detail;
};

/// A hash that lets a map keyed by std::string be searched with a std::string_view, without building
/// a string for every lookup (decide() makes thousands).
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
template <class T> using StringMap = std::unordered_map<std::string, T, StringHash, std::equal_to<>>;

/// What the listing step saw of the jail: every directory that holds an entry of either plan, read
/// once, and the digests that only reading a file could tell.
struct JailListing {
  /// One directory of the jail.
  struct Dir {
    /// behind_symlink, behind_non_directory: a symlink, or something else than a directory, stands
    /// at it or on the way (what a jailed process can plant); never followed.
    enum class State : uint8_t {
      absent,
      present,
      behind_symlink,
      behind_non_directory
    } state = State::absent;
    StringMap<JailFs::Listed> entries; ///< by name
  };
  struct stat root {};                ///< the jail root's own status
  StringMap<Dir> dirs;                ///< by jail path: "/", "/usr/lib"
  StringMap<std::string> digests;     ///< jail path -> sha256 of the regular file there, where the
                                      ///< record cannot vouch for it
  std::vector<std::string> leftovers; ///< jail paths of temporary files a killed jailbuild run left

  /// Notes an entry as present (marking its directory present): for tests and hand-made listings.
  void add(std::string_view path, const struct stat& st, std::string link = {});
};

/// What is at one jail path, as the listing saw it.
struct Seen {
  /// behind_symlink, behind_non_directory: its directory is (JailListing::Dir).
  enum class State : uint8_t { absent, present, behind_symlink, behind_non_directory } state = State::absent;
  const JailFs::Listed* entry = nullptr; ///< when present (for "/", only st is meaningful)
};
Seen seen(const JailListing& jail, std::string_view path);

/// Whether a jail file is, by its own status, still the one `recorded` installed: the same stamp,
/// one link, a known digest. Its digest is then the recorded one, without reading 100 MB again.
bool unchanged_since_recorded(const PlanEntry& recorded, const struct stat& st);

/// Whether the admin may delete an entry in the jail for good, as dpkg keeps a removed conffile
/// removed: a file copied from the host's configuration, or a configuration symlink, one in /etc that
/// leads into /etc (`sites-enabled/default`, php's `conf.d/20-x.ini`: what a2dissite or phpdismod
/// removes, and no upgrade brings back). Not what jailbuild writes itself (passwd, group: generated),
/// not executables, libraries and data, not a link that leads out of /etc (`/etc/alternatives/*`,
/// `/etc/localtime`: programs need those), not a secret (a key pack leaves out of archives: its
/// absence after an unpack is not the admin's intent; the admin drops it from the definition).
bool is_conffile(const PlanEntry& entry);

/// Whether a manifest entry is such an entry the admin deleted (marked kept_absent), which no run
/// restores. Anything else is restored whatever a manifest says, so an archive's manifest cannot use
/// the mark to leave a jail without its libraries.
inline bool kept_absent(const PlanEntry& recorded) {
  return recorded.kept_absent && is_conffile(recorded);
}

/// Whose side decide() takes where the jail holds something jailbuild did not put there.
enum class Differences : uint8_t {
  report,  ///< sync: configuration edits are kept by dpkg's conffile rules; tampering is reported
           ///< and left in place
  replace, ///< sync --force: tampered files (and a non-directory where a directory belongs) are
           ///< replaced too; configuration still follows the conffile rules
  enforce, ///< create: every file is made what the plan says, configuration included; what cannot be
           ///< replaced safely (a symlink on the way, a directory in the way) is reported as tampered,
           ///< which create refuses before writing anything
};

/// When an action runs: the jail must work after every single step, because a run may be killed
/// anywhere. Directories first, then new contents (libraries before the programs that may need
/// them), then the symlinks that may point at them, and only then what is no longer needed.
enum class Phase : uint8_t { directories, contents, programs, links, removals, records };

/// One thing to do, decided before anything is done.
struct Action {
  enum class Op : uint8_t {
    make_dir,        ///< create a directory or fix its mode and owner
    replace_by_dir,  ///< remove the non-directory there (never following it), then make_dir
    mount_point,     ///< an empty directory or file for a bind that lacks one
    install,         ///< copy or write a file, atomically replacing what is there
    install_beside,  ///< write the host's version as PATH.jailbuild-new (a conffile conflict)
    device,          ///< make a device node
    symlink,         ///< make or repoint a symlink
    remove,          ///< a recorded file, symlink or device node no longer planned
    remove_dir,      ///< a recorded directory no longer planned, if it is empty
    remove_leftover, ///< a temporary file of a killed jailbuild run
    record,          ///< nothing to write: the manifest records the jail's stamp for the entry (and
                     ///< that it is no longer kept absent)
    keep_absent,     ///< nothing to write: the manifest records the entry as a conffile the admin deleted
  };
  static constexpr std::size_t none = std::numeric_limits<std::size_t>::max();

  Op op;
  Phase phase;
  std::string path;                    ///< the jail path acted on
  std::size_t entry = none;            ///< index of the desired entry in desired.entries
  const PlanEntry* recorded = nullptr; ///< the recorded entry at the path, if any
  FileStamp stamp;                     ///< record, install_beside: the jail stamp the manifest keeps
};

struct Decision {
  std::vector<Action> actions; ///< in the order they must be applied
  std::vector<Change> changes; ///< what a report shows: the desired entries in plan order, then removals
};

/// Compares recorded, desired and the jail, and says what to do. Pure: no I/O. Preconditions, which
/// the listing step (assemble.hpp) establishes: `jail` lists every directory holding an entry of
/// either plan; a regular file at the path of a file entry of either plan has its digest in
/// jail.digests unless unchanged_since_recorded(); a desired file whose path holds a regular file
/// has its digest. `recorded` may be empty (a new jail) or the very object `desired` is (a sync that
/// reused its plan).
Decision decide(const Plan& recorded, const Plan& desired, const JailListing& jail, Differences differences);

} // namespace jailbuild
