// SPDX-License-Identifier: MIT
// `jailbuild create`: check the place, plan, assemble, record the manifest.
#pragma once
#include "jailbuild/assemble.hpp"
#include "jailbuild/audit.hpp"
#include "jailbuild/plan.hpp"

#include <optional>
#include <string>
#include <vector>

namespace jailbuild {

enum class DryRun { no, yes };
/// Whether create audits the jail it has just made (--no-audit turns it off).
enum class AuditAfter { no, yes };

struct CreateOptions {
  std::string dir;
  JailSpec spec;
  DryRun dry_run = DryRun::no;
  AssembleOptions assemble;
  std::string state_dir; ///< where the jail is registered for `sync --all`
  AuditAfter audit = AuditAfter::yes;
};

struct CreateResult {
  std::string dir;
  Plan plan;
  AssembleReport report;
  std::optional<AuditReport> audit; ///< the audit of the new jail, unless AuditAfter::no or a dry run
};

/// Creates (or brings up to date) the jail at options.dir. Everything that can be wrong with the
/// input is found before anything is written; a jail directory this call made is removed again if
/// assembling fails half-way.
CreateResult create_jail(const CreateOptions& options);

} // namespace jailbuild
