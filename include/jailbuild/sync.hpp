// SPDX-License-Identifier: MIT
// `jailbuild sync`: re-plans a jail from its definition (or, for a jail made before definitions, the
// spec in its manifest) against the host as it is now,
// compares with the manifest and with what is really in the jail, and applies the difference
// atomically (temporary file + rename, symlinks swapped, manifest last), keeping local changes to
// configuration as dpkg does with conffiles.
#pragma once
#include "jailbuild/assemble.hpp"
#include "jailbuild/decide.hpp"
#include "jailbuild/nginx_snippet.hpp"

#include <optional>
#include <string>
#include <vector>

namespace jailbuild {

enum class SyncMode { apply, dry_run };
enum class Force { no, yes };

struct SyncOptions {
  SyncMode mode = SyncMode::apply;
  Force force = Force::no; ///< replace tampered executables and libraries too
  unsigned threads = 2;    ///< file contents are copied on this many threads
  /// Called after each action that changes the jail. The tests' build of the command line uses it to
  /// kill a sync part-way (tests/CMakeLists.txt); the shipped one has no such option.
  Progress progress;
  /// The spec to apply: the jail's definition's (jails.hpp spec_to_apply(): what root trusts), or
  /// nullopt for a jail without one (made before definitions, synced in a dry run before its
  /// definition is written), whose manifest's spec is applied as it always was.
  std::optional<JailSpec> definition;
  /// Where CONFIG/profiles.d is, for a jail synced from its manifest's spec.
  std::string config_dir = "/etc/jailbuild";
};

struct SyncReport {
  std::string dir;
  std::vector<Change> changes; ///< decide.hpp: create and sync decide alike
  std::vector<std::string> warnings;
  bool manifest_written = false;
  /// False when nothing the last plan was made from had changed on the host, so the plan was reused
  /// (inputs.hpp) and only the jail was compared with it.
  bool planned = true;
  /// The nginx snippets this sync wrote, changed or removed (keep_nginx_snippets()): a host nginx
  /// needs a reload only when this is not empty. Kept only for a jail with a definition.
  std::vector<SnippetFile> snippets;
  size_t count(ChangeKind kind) const;
  /// True when something needs a human: a conflict, or tampering left in place.
  bool needs_attention() const;
};

/// Syncs one jail: a three-way decide() (decide.hpp) between the manifest, a plan of the host as it
/// is now (or the recorded one, when nothing it was made from changed) and the jail, then the
/// assembler's apply(), then the manifest, then (with a definition) the nginx snippets, a snippet
/// that cannot be kept being a warning. Removes the temporary files of killed runs it meets. Throws
/// Error for a directory without a manifest, a jail another jailbuild holds the lock of (after a
/// minute), or anything that stops the plan from being built (the jail is then left as it is).
SyncReport sync_jail(const std::string& dir, const SyncOptions& options);

/// The report as text (one line per change, then a summary line) or JSON.
std::string format_sync_text(const SyncReport& report);
std::string format_sync_json(const std::vector<SyncReport>& reports);
/// Only what needs a human (conflicts, tampering), one line each naming the jail: what --quiet
/// still says, on stderr, so that the apt hook's "see above" points at something.
std::string format_sync_attention(const SyncReport& report);

} // namespace jailbuild
