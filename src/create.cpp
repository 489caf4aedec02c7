// SPDX-License-Identifier: MIT
#include "jailbuild/create.hpp"

#include "jailbuild/definition.hpp"
#include "jailbuild/jails.hpp"

#include "jailbuild/error.hpp"
#include "jailbuild/hostfs.hpp"
#include "jailbuild/jail_lock.hpp"
#include "jailbuild/jailfs.hpp"
#include "jailbuild/nginx_snippet.hpp"
#include "jailbuild/plan_builder.hpp"
#include "jailbuild/registry.hpp"
#include "jailbuild/site.hpp"

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <sys/stat.h>
#include <unistd.h>

namespace jailbuild {

CreateResult create_jail(const CreateOptions& options) {
  CreateResult result;
  result.dir = check_jail_location(options.dir);
  JailSpec spec = options.spec;
  if (spec.name.empty()) spec.name = default_jail_name(result.dir);
  if (std::optional<std::string> why = invalid_jail_name(spec.name)) throw Error(result.dir, *why);
  Definitions definitions(options.config_dir);
  check_unique(definitions, spec.name, result.dir);
  HostRoot host(spec.host_root);
  // Every look of the planner is recorded: a sync with nothing changed on the host need not plan again.
  Digests digests = options.dry_run == DryRun::yes ? Digests::now : Digests::while_copying;
  RecordedPlan planned = build_recorded_plan(host, spec, digests);
  result.plan = std::move(planned.plan);
  // The runtime-only jail is where the pool's workers chroot: anywhere else it serves nothing.
  if (!result.plan.php_chroot.empty() && result.plan.php_chroot != result.dir)
    throw Error(result.dir, "the pools taken chroot into " + result.plan.php_chroot +
                                ": a php-runtime jail must be that directory");
  if (options.dry_run == DryRun::yes) return result;

  if (::geteuid() != 0)
    throw Error(result.dir,
                "creating a jail needs root (owners, device nodes); try --dry-run to see the plan");

  // A directory made here is removed again on failure; one that was there stays (it is a jail
  // jailbuild made before: it keeps its previous manifest, and the next run converges).
  bool made_here = false;
  if (::mkdir(result.dir.c_str(), 0755) == 0) {
    made_here = true;
    if (::chown(result.dir.c_str(), 0, 0) != 0 || ::chmod(result.dir.c_str(), 0755) != 0)
      throw system_error(result.dir, "cannot set owner and mode", errno);
  } else if (errno != EEXIST) {
    throw system_error(result.dir, "cannot create", errno);
  }
  // Held until create returns: no sync, mount or second create meanwhile.
  std::optional<JailLock> lock;
  try {
    JailFs jail(result.dir);
    // check_jail_location looked by path; this looks at what is open. Nothing is chowned or read
    // before: a directory someone else owns could hold a lock held forever or a manifest of theirs.
    if (std::optional<Error> why = untrusted_jail(jail)) throw *why;
    jail.make_dir("", 0755, 0, 0);
    // Marks the directory as ours before anything else lands, so a re-run after a failure may go on.
    jail.make_dir(manifest_dir, 0700, 0, 0);
    try {
      lock.emplace(result.dir, LockFor::change);
    } catch (...) {
      made_here = false; // another create came in between and holds it: the directory is its now
      throw;
    }
    std::optional<Manifest> previous;
    if (jail.lstat(manifest_file)) previous = read_manifest(result.dir);
    // A sync against the previous manifest (or none) that makes the jail what the plan says.
    result.report = assemble(jail, host, result.plan, previous ? &*previous : nullptr, options.assemble);
    // Each site's code, copied once from its source into its empty docroot and accepted there and
    // then as what audit compares the site with; sync never copies it again (site.hpp).
    result.sites = install_site_sources(jail, result.plan);
    Manifest manifest;
    manifest.tool = std::string("jailbuild ") + JB_VERSION;
    manifest.updated = static_cast<int64_t>(std::time(nullptr));
    manifest.created = previous ? previous->created : manifest.updated;
    manifest.plan = result.plan;
    manifest.inputs = std::move(planned.inputs);
    write_manifest(jail, manifest);

    // The admin's intent, outside the jail: what sync applies from now on. The built-in profile
    // directory and CONFIG/profiles.d are found again on every run; only the admin's extras are kept.
    Definition definition{result.dir, spec};
    // The pools the planner took when none were named: the definition says which, as the manifest does.
    definition.spec.pools = result.plan.spec.pools;
    const std::vector<std::string>& dirs = spec.profile_dirs;
    definition.spec.profile_dirs.assign(dirs.begin() + std::min<std::ptrdiff_t>(2, std::ssize(dirs)),
                                        dirs.end());
    result.definition_path = definitions.path_of(definition.spec.name);
    const bool existed = ::access(result.definition_path.c_str(), F_OK) == 0;
    result.definition = definitions.write(definition, Rewrite::yes)
                            ? (existed ? DefinitionWrite::rewritten : DefinitionWrite::written)
                            : DefinitionWrite::unchanged;
    // What a host nginx includes to serve the jail's pools, from the definition and the host's
    // php-fpm configuration. The jail is made: a snippet that cannot be kept does not undo it.
    try {
      result.snippets = keep_nginx_snippets(options.config_dir, definition.spec, result.dir);
    } catch (const Error& e) {
      result.report.warnings.push_back(std::string("nginx snippet not kept: ") + e.what());
    }

    // The rules only: every file was hashed as it was copied, and hardening is for `jailbuild audit`.
    // A finding is not an error: the jail stays for the user to see, but unregistered.
    if (options.audit == AuditAfter::yes) {
      result.audit = audit_jail(result.dir, {Integrity::skip, Hardening::skip});
      result.audit_failed = audit_fails(*result.audit, options.audit_fail_on);
    }
    // Only a jail that passed is synced by root's apt hook and timer: what the audit found may be
    // what lets a service steer root (a jail root that a service user owns, say).
    Registry registry(options.state_dir);
    if (result.audit_failed) {
      registry.remove(result.dir);
    } else {
      registry.add(result.dir);
      result.registered = Registered::yes;
    }
  } catch (...) {
    // Still under the lock: a create waiting for it then finds the jail gone and stops.
    // Through fds only (remove_tree_at), never a path-based remove_all: the jail's writable
    // directories were the services' while it was built.
    if (made_here) {
      try {
        remove_dir_tree(result.dir);
      } catch (const Error&) {
        // The first error is the one to report; the leftover is a directory the next create may reuse.
      }
    }
    throw;
  }
  return result;
}

} // namespace jailbuild
