// SPDX-License-Identifier: MIT
// `jailbuild sync`: re-plans a jail from the spec in its manifest against the host as it is now,
// compares with the manifest and with what is really in the jail, and applies the difference
// atomically (temporary file + rename, symlinks swapped, manifest last), keeping local changes to
// configuration as dpkg does with conffiles.
#pragma once
#include <string>
#include <vector>

namespace jailbuild {

enum class ChangeKind {
  added,      ///< new in the plan, installed
  updated,    ///< changed on the host (content, mode, owner, link target), replaced
  removed,    ///< no longer in the plan, taken away
  restored,   ///< missing from the jail (or tampered with, under --force), installed again
  kept_local, ///< configuration edited in the jail and unchanged on the host: the jail's stays
  conflict,   ///< edited on both sides: the jail's stays, the host's is written as FILE.jailbuild-new
  tampered,   ///< an installed executable, library or data file differs from what was installed
};
std::string_view to_string(ChangeKind kind);

struct SyncChange {
  ChangeKind kind;
  std::string path; ///< inside the jail
  std::string detail;
};

enum class SyncMode { apply, dry_run };
enum class Force { no, yes };

struct SyncOptions {
  SyncMode mode = SyncMode::apply;
  Force force = Force::no; ///< replace tampered executables and libraries too
  unsigned threads = 2;
  /// Fault injection for the tests only (hidden --test-kill-after N): SIGKILL after N applied actions,
  /// to prove that a sync killed at any point leaves a working jail and the next one converges.
  size_t kill_after_actions = 0;
};

struct SyncReport {
  std::string dir;
  std::vector<SyncChange> changes;
  std::vector<std::string> warnings;
  bool manifest_written = false;
  /// False when nothing the last plan was made from had changed on the host, so the plan was reused
  /// (inputs.hpp) and only the jail was compared with it.
  bool planned = true;
  size_t count(ChangeKind kind) const;
  /// True when something needs a human: a conflict, or tampering left in place.
  bool needs_attention() const;
};

/// Syncs one jail. Throws Error for a directory without a manifest, a jail another sync holds the
/// lock of, or anything that stops the plan from being built (the jail is then left as it is).
SyncReport sync_jail(const std::string& dir, const SyncOptions& options);

/// The report as text (one line per change, then a summary line) or JSON.
std::string format_sync_text(const SyncReport& report);
std::string format_sync_json(const std::vector<SyncReport>& reports);

} // namespace jailbuild
