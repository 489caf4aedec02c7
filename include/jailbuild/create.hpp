// SPDX-License-Identifier: MIT
// `jailbuild create`: check the place, plan, then a sync against the previous manifest (or none):
// look at the jail, decide, apply (assemble.hpp), record the manifest, audit, register.
#pragma once
#include "jailbuild/assemble.hpp"
#include "jailbuild/audit.hpp"
#include "jailbuild/nginx_snippet.hpp"
#include "jailbuild/plan.hpp"
#include "jailbuild/site.hpp"

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
  Severity audit_fail_on = Severity::high; ///< a finding this severe fails the create
  /// Where the jail's definition is written (CONFIG/jails/NAME.toml, NAME = spec.name).
  std::string config_dir = "/etc/jailbuild";
};

/// What create did with the jail's definition.
enum class DefinitionWrite { none, written, rewritten, unchanged };

/// Whether the jail is in the registry that `sync --all` (the apt hook) reads.
enum class Registered { no, yes };

struct CreateResult {
  std::string dir;
  Plan plan;
  AssembleReport report;
  std::optional<AuditReport> audit; ///< the audit of the new jail, unless AuditAfter::no or a dry run
  /// no after a dry run, and when the audit failed: root's apt hook must not keep syncing a jail
  /// that fails its audit (one whose root a service user owns could feed it a manifest).
  Registered registered = Registered::no;
  bool audit_failed = false;                          ///< the audit found something at or above audit_fail_on
  DefinitionWrite definition = DefinitionWrite::none; ///< none after a dry run
  std::string definition_path;
  /// The nginx snippets of CONFIG/nginx this create wrote, changed or removed (keep_nginx_snippets()).
  std::vector<SnippetFile> snippets;
  std::vector<SiteInstalled> sites; ///< the sites whose source this create copied in
};

/// Creates (or brings up to date) the jail at options.dir: a sync against the previous manifest,
/// or an empty one, that makes the jail exactly what the plan says (Differences::enforce) and so
/// removes what an earlier create put there and the plan no longer has. Everything that can be wrong
/// with the input is found before anything is written, and so is a symlink planted on the way; the
/// jail's lock is held throughout (jail_lock.hpp). A failure leaves nothing half-written: a jail
/// directory this call made is removed again, an existing jail keeps its previous manifest and
/// stays a working jail the next run converges from, and no failed jail is registered. The jail's
/// definition (definition.hpp; spec.name names it, spec.profile_dirs are complete and only those
/// after the first two are written) is written once the manifest is, also when the audit fails (for
/// the admin to fix and `sync NAME`); a name or a dir another jail has is refused before anything.
/// Then its nginx snippets (keep_nginx_snippets(); one that cannot be kept is a warning: the jail stands).
CreateResult create_jail(const CreateOptions& options);

} // namespace jailbuild
