// SPDX-License-Identifier: MIT
// The assembler: applies a plan to a jail directory, through JailFs only (never following a symlink
// inside the jail), and records what it installed in the manifest.
#pragma once
#include "jailbuild/jailfs.hpp"
#include "jailbuild/manifest.hpp"
#include "jailbuild/plan.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace jailbuild {

class HostRoot;

/// Refuses a jail location that is unsafe or not ours: "/", system directories, a parent that is
/// not root-owned or is writable by group or others without the sticky bit, a symlink, and an existing
/// non-empty directory without a jailbuild manifest directory. Returns the normalised path.
std::string check_jail_location(const std::string& dir);

/// Whether a directory has no entry but "." and ".."; throws Error naming it when it cannot be read.
bool directory_is_empty(const std::string& path);

/// Progress of a long apply: entries done out of total.
using Progress = std::function<void(size_t done, size_t total)>;

struct AssembleOptions {
  CopyMethod copy = CopyMethod::copy;
  unsigned threads = 2; ///< file copies run in parallel; directories, links and devices come first
  Progress progress;
};

struct AssembleReport {
  size_t written = 0;   ///< entries created or replaced
  size_t unchanged = 0; ///< entries already right (a re-run of create)
  uint64_t bytes = 0;   ///< bytes copied or written
};

/// Applies `plan` to the jail: directories, symlinks and devices in order, then the files (digests
/// filled into the plan as they are copied). An entry that `previous` recorded and that is still
/// the same on the host and in the jail is left alone, so a re-run is cheap and idempotent.
AssembleReport assemble(JailFs& jail, const HostRoot& host, Plan& plan, const Manifest* previous,
                        const AssembleOptions& options);

} // namespace jailbuild
