// SPDX-License-Identifier: MIT
// `jailbuild destroy`: a jail taken away whole (its binds, its directory, its definition, its
// registration), never following a symlink inside it, never while a jailed process runs unless asked.
#pragma once
#include "jailbuild/jails.hpp"
#include "jailbuild/mounts.hpp"
#include "jailbuild/nginx_snippet.hpp"

#include <string>
#include <sys/types.h>
#include <vector>

namespace jailbuild {

/// Whether destroy goes on while processes run in the jail. It never kills them (that is the
/// service manager's job): with `yes` they go on running in a directory that is gone.
enum class WhileRunning { refuse, go_on };
/// Whether destroy keeps the jail's definition (to create the jail again from it later).
enum class KeepDefinition { no, yes };

struct DestroyOptions {
  std::string config_dir;
  std::string state_dir;
  WhileRunning running = WhileRunning::refuse;
  KeepDefinition keep_definition = KeepDefinition::no;
};

struct DestroyResult {
  std::string dir;
  std::vector<BindOutcome> unmounted;
  std::vector<pid_t> running; ///< processes found in the jail (only with WhileRunning::go_on)
  bool dir_was_missing = false;
  bool definition_removed = false;
  std::vector<SnippetFile> snippets_removed; ///< its nginx snippets (with --keep-definition too)
};

/// The processes whose root directory (/proc/PID/root), working directory (cwd) or executable
/// (exe) is `dir` or lies below it: chrooted services, a shell cd'ed into the jail, a program run
/// from it. Processes this one cannot inspect (gone meanwhile) are skipped.
std::vector<pid_t> processes_in(const std::string& dir);

/// Destroys a jail: refuses (Error listing the PIDs) while processes_in() finds one, unless
/// WhileRunning::go_on; unmounts the manifest's binds (umount_jail()), then, under the jail's lock,
/// refuses while anything is still mounted in it (a bind that could not be unmounted, a mount made
/// by hand); removes the directory through fds only (remove_tree_at(): no symlink inside it is
/// followed, no mount crossed), .jailbuild/ last so that a failed run can be run again; then the
/// registration and the definition. A failure throws Error saying what is left. A jail whose
/// directory is already gone only loses its definition and registration.
DestroyResult destroy_jail(const JailRef& jail, const DestroyOptions& options);

} // namespace jailbuild
