// SPDX-License-Identifier: MIT
// Three states meet in a sync: what the manifest says was installed (recorded), what the host says
// should be there now (desired: a fresh plan, or the recorded one when nothing it was made from
// changed), and what the jail really holds (the listing). decide() compares them; the assembler
// applies the result through JailFs, so that nothing written here follows a symlink a jailed process
// may have planted, and nothing is rewritten in place. The manifest is written last, once the jail
// matches it.
#include "jailbuild/sync.hpp"

#include "jailbuild/assemble.hpp"
#include "jailbuild/create.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/hostfs.hpp"
#include "jailbuild/inputs.hpp"
#include "jailbuild/jail_lock.hpp"
#include "jailbuild/jailfs.hpp"
#include "jailbuild/manifest.hpp"
#include "jailbuild/plan_builder.hpp"
#include "jailbuild/profile.hpp"
#include "jailbuild/provenance.hpp"

#include <ctime>
#include <future>
#include <map>
#include <tuple>

namespace jailbuild {

namespace {

/// A fresh plan from the host as it is now, and what it was made from.
std::pair<Plan, PlanInputs> plan_again(HostRoot& host, const JailSpec& spec, const Plan& old) {
  // ELF facts of unchanged files come from the manifest: an unchanged file is never parsed again.
  std::map<FileStamp, const ElfInfo*> cache;
  for (const WalkObject& o : old.objects)
    cache[o.stamp] = &o.elf;
  ElfReader reader = [&](const std::string& real_path, const FileStamp& s) {
    auto it = cache.find(s);
    return it != cache.end() ? *it->second : read_elf_dynamic(real_path);
  };
  RecordedPlan planned = build_recorded_plan(host, spec, Digests::while_copying, reader);
  return {std::move(planned.plan), std::move(planned.inputs)};
}

bool same_entries(const Plan& a, const Plan& b) {
  return a.entries == b.entries && a.users == b.users;
}

} // namespace

SyncReport sync_jail(const std::string& dir, const SyncOptions& options) {
  SyncReport report;
  // The place and the owners again, before the lock or the manifest is opened: a registered jail's
  // directory may have been removed and made again by someone else, with a manifest of its own.
  report.dir = check_jail_location(normalize_path(dir));
  JailFs jail(report.dir);
  if (std::optional<Error> why = untrusted_jail(jail)) throw *why;
  if (!jail.lstat(manifest_file))
    throw Error(report.dir, "not a jailbuild jail: no " + std::string(manifest_file));
  const bool dry_run = options.mode == SyncMode::dry_run;
  JailLock lock(report.dir, dry_run ? LockFor::look : LockFor::change);
  Manifest old = read_manifest(report.dir);
  // The definition is the admin's intent and what root trusts; the manifest's spec only for a jail
  // that has none yet.
  const bool defined = options.definition.has_value();
  JailSpec spec = defined ? *options.definition : old.plan.spec;
  // A definition that names no pools means the pools recorded when the jail was first planned (the
  // planner records every pool it took): a pool added on the host later enters no jail that did not
  // ask for it, and a no-op sync of such a definition does not plan again.
  if (defined && spec.pools.empty()) spec.pools = old.plan.spec.pools;
  // The spec is checked as the command line's is, also when the plan is reused: a jail made by an
  // older jailbuild may ask for a writable system directory or a bind that is refused now, and an
  // admin's edit of a definition is checked as the command line would be.
  try {
    check_spec(spec);
  } catch (const Error& e) {
    throw Error(report.dir, std::string(defined ? "its definition" : "its manifest") +
                                " asks for what jailbuild refuses: " + e.what() +
                                (defined ? "" : "; re-create the jail with what it needs"));
  }
  // The built-in profiles are wherever this jailbuild has them now; the user's, checked again.
  if (!defined)
    spec.profile_dirs = recorded_profile_dirs(spec.profile_dirs, report.warnings, options.config_dir);
  HostRoot host(spec.host_root);
  // An unpacked jail whose packages this host does not have in the same versions: refreshing some
  // files from here would mix two versions of one package. Say so instead.
  if (std::optional<std::string> mismatch = package_mismatch(old, host))
    throw Error(report.dir,
                *mismatch + "; rebuild the jail here with `jailbuild create`, or unpack a fresh archive");

  // Nothing the last plan was made from changed (the timer's daily sync): it stands. Otherwise
  // (after apt) plan again, recording what this plan is made from.
  // Two independent looks, one per core: the host's inputs, and the jail's directories as the last
  // plan made them.
  std::future<bool> unchanged =
      std::async(std::launch::async, [&] { return inputs_unchanged(old.inputs, host.root()); });
  JailListing listing;
  list_jail(jail, old.plan, listing);
  // A definition edited since the last sync (a service removed, a writable dir added) is planned
  // again whatever the host did.
  report.planned = spec != old.plan.spec || !unchanged.get();
  // Reused, the recorded plan is the desired one: recorded and desired entries are then the same
  // objects, and only the jail stamps that a record action refreshes can differ from the manifest.
  Plan fresh;
  PlanInputs inputs;
  if (report.planned) {
    std::tie(fresh, inputs) = plan_again(host, spec, old.plan);
    list_jail(jail, fresh, listing);
  } else {
    inputs = old.inputs;
  }
  Plan& desired = report.planned ? fresh : old.plan;
  report.warnings.insert(report.warnings.end(), desired.warnings.begin(), desired.warnings.end());
  look_closer(jail, host, old.plan, desired, listing);

  Differences differences = options.force == Force::yes ? Differences::replace : Differences::report;
  Decision decision = decide(old.plan, desired, listing, differences);
  report.changes = decision.changes;
  if (dry_run) return report;

  AssembleOptions apply_options;
  apply_options.threads = options.threads;
  apply_options.progress = options.progress;
  AssembleReport applied = apply(jail, host, desired, decision, apply_options);
  report.warnings.insert(report.warnings.end(), applied.warnings.begin(), applied.warnings.end());

  // Write the manifest when the jail was changed or the record would say something new (a stamp, a
  // re-planned entry, new inputs); a no-op sync leaves it alone.
  bool changed = !decision.actions.empty() ||
                 (report.planned && (!same_entries(desired, old.plan) || !(inputs == old.inputs) ||
                                     desired.spec != old.plan.spec));
  if (changed) {
    Manifest next;
    next.tool = std::string("jailbuild ") + JB_VERSION;
    next.created = old.created;
    next.updated = static_cast<int64_t>(std::time(nullptr));
    next.provenance = old.provenance;
    next.plan = std::move(desired);
    next.inputs = std::move(inputs);
    write_manifest(jail, next);
    report.manifest_written = true;
  }
  // The snippets follow the host's pools (a socket or a docroot changed) and the definition. Only a
  // definition's spec names files outside the jail: a manifest's name is the jail's to choose. A pool
  // file that changed on the host changes the jail's copy (a change); without one, or a changed
  // definition, the snippets stand and php-fpm's configuration (~150 ms) is not read again.
  if (defined) {
    const JailSpec& was = old.plan.spec;
    // Only what is sure to differ when the definition changes: a manifest records the pools and PHP
    // version it found, a definition may leave them to discovery; a real change changes the jail.
    const bool may_differ = !report.changes.empty() || spec.services != was.services ||
                            spec.host_root != was.host_root || spec.name != was.name;
    try {
      report.snippets = keep_nginx_snippets(options.config_dir, spec, report.dir,
                                            may_differ ? SnippetCheck::always : SnippetCheck::if_missing);
    } catch (const Error& e) {
      report.warnings.push_back(std::string("nginx snippet not kept: ") + e.what());
    }
  }
  return report;
}

} // namespace jailbuild
