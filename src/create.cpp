// SPDX-License-Identifier: MIT
#include "jailbuild/create.hpp"

#include "jailbuild/error.hpp"
#include "jailbuild/hostfs.hpp"
#include "jailbuild/plan_builder.hpp"
#include "jailbuild/registry.hpp"

#include <boost/filesystem.hpp>

#include <cerrno>
#include <ctime>
#include <sys/stat.h>
#include <unistd.h>

namespace jailbuild {

CreateResult create_jail(const CreateOptions& options) {
  CreateResult result;
  result.dir = check_jail_location(options.dir);
  HostRoot host(options.spec.host_root);
  // Every look of the planner is recorded: a sync with nothing changed on the host need not plan again.
  Digests digests = options.dry_run == DryRun::yes ? Digests::now : Digests::while_copying;
  RecordedPlan planned = build_recorded_plan(host, options.spec, digests);
  result.plan = std::move(planned.plan);
  if (options.dry_run == DryRun::yes) return result;

  if (::geteuid() != 0)
    throw Error(result.dir,
                "creating a jail needs root (owners, device nodes); try --dry-run to see the plan");

  bool made_here = false;
  if (::mkdir(result.dir.c_str(), 0755) == 0) {
    made_here = true;
    if (::chown(result.dir.c_str(), 0, 0) != 0 || ::chmod(result.dir.c_str(), 0755) != 0)
      throw system_error(result.dir, "cannot set owner and mode", errno);
  } else if (errno != EEXIST) {
    throw system_error(result.dir, "cannot create", errno);
  }
  try {
    JailFs jail(result.dir);
    jail.make_dir("", 0755, 0, 0);
    // Marks the directory as ours before anything else lands, so a re-run after a failure may go on.
    jail.make_dir(manifest_dir, 0700, 0, 0);
    std::optional<Manifest> previous;
    if (jail.lstat(manifest_file)) previous = read_manifest(result.dir);
    result.report = assemble(jail, host, result.plan, previous ? &*previous : nullptr, options.assemble);
    Manifest manifest;
    manifest.tool = std::string("jailbuild ") + JB_VERSION;
    manifest.updated = static_cast<int64_t>(std::time(nullptr));
    manifest.created = previous ? previous->created : manifest.updated;
    manifest.plan = result.plan;
    manifest.inputs = std::move(planned.inputs);
    write_manifest(jail, manifest);
    Registry(options.state_dir).add(result.dir);
  } catch (...) {
    if (made_here) {
      boost::system::error_code ignored;
      boost::filesystem::remove_all(result.dir, ignored); // never follows symlinks
    }
    throw;
  }
  // Audit what was made, outside the try: a finding leaves the jail in place for the user to see.
  // The rules only: every file was hashed as it was copied, and hardening is for `jailbuild audit`.
  if (options.audit == AuditAfter::yes)
    result.audit = audit_jail(result.dir, {Integrity::skip, Hardening::skip});
  return result;
}

} // namespace jailbuild
