// SPDX-License-Identifier: MIT
// The command line: a table of subcommands (name, help, options, runner), as ninja's. CLI11 parses the
// arguments; the runners call the library, print, and turn errors into "jailbuild: <path>: <what>" and
// exit codes. Nothing else lives here.
#include "jailbuild/audit.hpp"
#include "jailbuild/create.hpp"
#include "jailbuild/definition.hpp"
#include "jailbuild/deps_report.hpp"
#include "jailbuild/destroy.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/fd.hpp"
#include "jailbuild/hook.hpp"
#include "jailbuild/hostfs.hpp"
#include "jailbuild/jail_list.hpp"
#include "jailbuild/jails.hpp"
#include "jailbuild/mounts.hpp"
#include "jailbuild/nginx_snippet.hpp"
#include "jailbuild/pack.hpp"
#include "jailbuild/package_db.hpp"
#include "jailbuild/plan_builder.hpp"
#include "jailbuild/plan_report.hpp"
#include "jailbuild/profile.hpp"
#include "jailbuild/registry.hpp"
#include "jailbuild/site.hpp"
#include "jailbuild/sync.hpp"
#include "jailbuild/text.hpp"
#include "jailbuild/walk.hpp"

#include <CLI/CLI.hpp>

#include <csignal>
#include <functional>
#include <iostream>
#include <memory>
#include <unistd.h>

namespace {

using namespace jailbuild;

constexpr int exit_error = 2;

/// Paths on the command line are made absolute from the current directory here, once: a jail, host
/// root or profile directory recorded in a manifest or the registry must mean the same thing to the
/// next sync, which runs from anywhere (the apt hook, a timer). "." and ".." are collapsed; symlinks
/// are left for the commands to refuse or follow.
std::string absolute_from_cwd(std::string& path) {
  if (path.empty() || path.front() == '/') return {};
  char cwd[4096];
  if (!::getcwd(cwd, sizeof cwd)) return path + ": cannot tell the current directory";
  path = normalize_path(std::string(cwd) + "/" + path);
  return {};
}
const CLI::Validator absolute_path(absolute_from_cwd, "PATH");

/// A jail argument: NAME, or DIR when it holds a '/' (then made absolute as any path).
std::string jail_from_cwd(std::string& arg) {
  return arg.find('/') == std::string::npos ? std::string() : absolute_from_cwd(arg);
}
const CLI::Validator jail_argument(jail_from_cwd, "NAME|DIR");

/// --config-dir, which every command that names a jail takes: its definitions, CONFIG/profiles.d.
void add_config_dir(CLI::App& cmd, std::string& config_dir) {
  cmd.add_option("--config-dir", config_dir, "Jail definitions (jails/) and profiles (profiles.d/) live here")
      ->capture_default_str()
      ->transform(absolute_path);
}

/// --state-dir, which every command that names a jail takes: where jails are registered.
void add_state_dir(CLI::App& cmd, std::string& state_dir) {
  cmd.add_option("--state-dir", state_dir, "Where jails are registered for sync --all")
      ->capture_default_str()
      ->transform(absolute_path);
}

/// The directory of the jail an argument names (definition.hpp, jails.hpp: NAME or DIR).
std::string jail_dir(const std::string& config_dir, const std::string& arg) {
  return resolve_jail(Definitions(config_dir), arg).dir;
}

/// What a subcommand does once its arguments are parsed: its exit status.
using Runner = std::function<int()>;

/// One row of the command table (as ninja's kTools[]). `setup` adds the subcommand's options to its
/// CLI11 App, binding them to an options struct of its own, and returns the runner that reads them.
struct Command {
  const char* name;
  const char* help;
  Runner (*setup)(CLI::App& cmd);
};

/// The nginx snippets a command changed. A host nginx serves the old socket or docroot until it is
/// reloaded: that is said even under --quiet (the apt hook's sync) and --json, then on stderr.
void print_snippet_changes(const std::vector<SnippetFile>& files, bool to_stderr) {
  if (files.empty()) return;
  (to_stderr ? std::cerr : std::cout) << format_snippet_changes(files);
}

/// The values of --fail-on and --audit-fail-on.
std::vector<std::string> severities() {
  return {"info", "low", "medium", "high", "critical"};
}

// --- deps --------------------------------------------------------------------------------------

struct DepsCli {
  std::string host_root = "/";
  std::vector<std::string> files;
  bool tree = false, json = false, dot = false;
  bool no_modules = false;
};

int run_deps(const DepsCli& o) {
  HostRoot host(o.host_root);
  std::vector<WalkRoot> roots;
  for (const std::string& f : o.files) {
    std::string path = f;
    if (path.empty() || path.front() != '/') {
      // A relative path names a file of this machine: only meaningful with the real root.
      char cwd[4096];
      if (!::getcwd(cwd, sizeof cwd)) throw Error(f, "cannot resolve relative path");
      path = std::string(cwd) + "/" + f;
    }
    roots.push_back({path, {}});
  }
  // Modules the closure's libraries load at run time (from the host's packages) are part of it,
  // as in a jail; --no-modules: only what ld.so loads at start (the oracle test compares with ldd).
  const ElfReader reader = read_elf_for_walk;
  ModuleWalk walked;
  if (o.no_modules)
    walked.result = walk(host, roots, reader);
  else
    walked = walk_with_modules(host, roots, reader);
  for (const std::string& w : walked.warnings)
    std::cerr << "jailbuild: warning: " << w << '\n';
  const WalkResult& result = walked.result;
  DepsFormat format = o.tree   ? DepsFormat::tree
                      : o.json ? DepsFormat::json
                      : o.dot  ? DepsFormat::dot
                               : DepsFormat::list;
  std::cout << format_deps(result, format);
  std::cerr << format_unresolved(result);
  return result.unresolved.empty() ? 0 : 1;
}

Runner setup_deps(CLI::App& cmd) {
  auto deps = std::make_shared<DepsCli>();
  cmd.add_option("--host-root", deps->host_root, "Read every path below this directory")
      ->check(CLI::ExistingDirectory);
  auto* tree = cmd.add_flag("--tree", deps->tree, "Show who needs what");
  auto* json = cmd.add_flag("--json", deps->json, "Every object with its dynamic facts, as JSON");
  auto* dot = cmd.add_flag("--dot", deps->dot, "A Graphviz graph");
  cmd.add_flag("--no-modules", deps->no_modules,
               "Leave out the modules libraries load at run time from their packages' module directories");
  tree->excludes(json, dot);
  json->excludes(dot);
  cmd.add_option("FILE", deps->files, "ELF executables or libraries")->required();
  return [deps] { return run_deps(*deps); };
}

// --- create ------------------------------------------------------------------------------------

struct CreateCli {
  std::string jail, name;
  std::string config_dir = default_config_dir;
  std::string with;
  std::string php;
  std::string host_root = "/";
  std::string state_dir = default_state_dir;
  std::vector<std::string> binds, writable, profile_dirs, excludes, files, sites;
  std::vector<std::string> pools;
  bool dry_run = false, json = false, quiet = false, reflink = false;
  std::string audit_fail_on = "high";
  bool no_audit = false;
  size_t kill_after = 0; ///< test seam (JB_TEST_SEAMS builds only)
};

#ifdef JB_TEST_SEAMS
/// The tests' build only (tests/CMakeLists.txt builds it as jailbuild-test-seams; the shipped
/// jailbuild has no such option): SIGKILL after N actions that changed the jail, to prove that a run
/// killed at any point leaves a working jail, and that the next one cleans up and converges.
Progress kill_after(size_t actions, Progress inner) {
  if (actions == 0) return inner;
  return [actions, inner](size_t done, size_t total) {
    if (inner) inner(done, total);
    if (done >= actions) ::raise(SIGKILL);
  };
}
#endif

int run_create(const CreateCli& c) {
  CreateOptions o;
  JailRef ref = resolve_jail(Definitions(c.config_dir), c.jail);
  o.dir = ref.dir;
  o.config_dir = c.config_dir;
  if (c.with.empty()) {
    // `create NAME`: the definition as it is, enforced (a sync keeps local edits; create does not).
    if (!ref.definition)
      throw Error(ref.dir, "no definition in " + c.config_dir + "/jails: name the services with --with");
    if (!c.php.empty() || !c.pools.empty() || !c.binds.empty() || !c.writable.empty() ||
        !c.excludes.empty() || !c.files.empty() || !c.sites.empty() || !c.profile_dirs.empty() ||
        c.host_root != "/" || (!c.name.empty() && c.name != ref.definition->spec.name))
      throw Error(ref.dir, "options of the jail replace its whole definition: give --with as well");
    o.spec = spec_to_apply(*ref.definition, c.config_dir);
  } else {
    for (const std::string& s : split(c.with, ','))
      if (!s.empty()) o.spec.services.push_back(s);
    if (!c.php.empty()) o.spec.php_version = c.php;
    for (const std::string& b : c.binds)
      o.spec.binds.push_back(parse_bind(b));
    for (const std::string& w : c.writable)
      o.spec.writable.push_back(parse_writable(w));
    o.spec.pools = c.pools;
    o.spec.excludes = c.excludes; // checked with the rest of the spec (check_spec)
    for (const std::string& f : c.files)
      o.spec.files.push_back(parse_own_file(f));
    for (const std::string& site : c.sites)
      o.spec.sites.push_back(parse_site(site));
    o.spec.host_root = c.host_root;
    o.spec.profile_dirs = host_profile_dirs(c.profile_dirs, c.config_dir);
    // Empty: create_jail names it after its directory, once the place is checked.
    o.spec.name = !c.name.empty() ? c.name : ref.definition ? ref.definition->spec.name : "";
  }
  o.state_dir = c.state_dir;
  o.dry_run = c.dry_run ? DryRun::yes : DryRun::no;
  o.assemble.copy = c.reflink ? CopyMethod::reflink : CopyMethod::copy;
  o.audit = c.no_audit ? AuditAfter::no : AuditAfter::yes;
  o.audit_fail_on = *severity_from(c.audit_fail_on); // checked by CLI11
  bool bar = !c.quiet && ::isatty(STDERR_FILENO);
  if (bar)
    o.assemble.progress = [](size_t done, size_t total) {
      if (done % 64 != 0 && done != total) return;
      int width = 40;
      int filled =
          total ? static_cast<int>(static_cast<double>(done) / static_cast<double>(total) * width) : width;
      std::cerr << "\r[" << std::string(static_cast<size_t>(filled), '#')
                << std::string(static_cast<size_t>(width - filled), ' ') << "] " << done << "/" << total
                << (done == total ? "\n" : "") << std::flush;
    };
#ifdef JB_TEST_SEAMS
  o.assemble.progress = kill_after(c.kill_after, o.assemble.progress);
#endif
  CreateResult r = create_jail(o);
  if (c.dry_run) {
    std::cout << (c.json ? format_plan_json(r.plan) : format_plan_text(r.plan));
    return 0;
  }
  if (c.json)
    std::cout << format_summary_json(r.dir, r.plan, r.report);
  else if (!c.quiet)
    std::cout << format_summary(r.dir, r.plan, r.report);
  // The definition is the admin's file: a rewrite of one that said something else is always told.
  if (r.definition == DefinitionWrite::rewritten)
    std::cerr << "jailbuild: " << r.definition_path
              << ": rewritten: the jail's definition now says what this create asked for\n";
  else if (r.definition == DefinitionWrite::written && !c.quiet && !c.json)
    std::cout << "wrote the jail's definition " << r.definition_path << '\n';
  print_snippet_changes(r.snippets, c.quiet || c.json);
  if (!c.quiet && !c.json)
    for (const SiteInstalled& site : r.sites) {
      if (site.copied)
        std::cout << "site " << site.docroot << ": copied " << site.copied->files << " files, "
                  << site.copied->symlinks << " symlinks from " << site.source
                  << " and accepted them as its baseline\n";
      else
        std::cout << "site " << site.docroot << ": not copied from " << site.source
                  << ": its docroot holds files already (`jailbuild site accept` records them)\n";
    }
  if (r.audit && r.audit_failed) {
    std::cerr << format_audit_text(*r.audit, o.audit_fail_on) << "jailbuild: " << r.dir
              << ": the audit found problems at or above " << c.audit_fail_on
              << "; the jail is left in place, not registered for sync --all (--audit-fail-on or "
                 "--no-audit to go on)\n";
    return 1;
  }
  return 0;
}

Runner setup_create(CLI::App& cmd) {
  auto create = std::make_shared<CreateCli>();
  cmd.add_option(
         "JAIL", create->jail,
         "The jail directory, e.g. /var/www/blog, or the NAME of a defined jail (applies its definition)")
      ->required()
      ->transform(jail_argument);
  cmd.add_option("--name", create->name,
                 "The jail's name ([a-z0-9][a-z0-9_-]*; default: the directory's base name)");
  add_config_dir(cmd, create->config_dir);
  cmd.add_option(
      "--with", create->with,
      "Comma-separated profiles: nginx,php-fpm[,sh,...] (required for a jail without a definition)");
  cmd.add_option("--php", create->php, "PHP version (X.Y) when several are installed");
  cmd.add_option("--pool", create->pools,
                 "php-fpm pool to take from the host's pool.d (repeatable; default: every pool without "
                 "chroot, recorded)");
  cmd.add_option("--bind", create->binds, "SRC:DEST[:ro|rw][,noexec] bind mount (repeatable; ro by default)");
  cmd.add_option("--writable", create->writable,
                 "PATH[:USER[:GROUP]] a directory the site may write (default user www-data)");
  cmd.add_option(
      "--file", create->files,
      "SRC:DEST[:secret] a host file of the admin's (a vhost, a certificate, a key) kept in the jail "
      "(repeatable; a secret is installed 0600 and left out of archives)");
  cmd.add_option(
      "--site", create->sites,
      "DIR[:OWNER[:SOURCE]] a site's docroot in the jail, its code owned by OWNER (root: read-only "
      "to the services), copied once from the host directory SOURCE; audited as one group "
      "(repeatable; writable dirs and secrets in the definition's [[sites]])");
  cmd.add_option("--exclude", create->excludes,
                 "PATH|GLOB never installed in the jail (repeatable; * stops at /; a directory excludes what "
                 "is below it)");
  cmd.add_option("--host-root", create->host_root, "Read the host below this directory")
      ->check(CLI::ExistingDirectory)
      ->transform(absolute_path);
  cmd.add_option("--profiles-dir", create->profile_dirs,
                 "Extra profile directory (highest precedence; repeatable)")
      ->transform(absolute_path);
  add_state_dir(cmd, create->state_dir);
  cmd.add_flag("--dry-run", create->dry_run, "Print the plan and touch nothing");
  cmd.add_flag("--json", create->json, "JSON output");
  cmd.add_flag("--quiet,-q", create->quiet, "Print nothing but errors");
  cmd.add_flag("--reflink", create->reflink,
               "Share file extents with the host where the file system can (never hardlinks)");
  auto* audit_fail_on = cmd.add_option("--audit-fail-on", create->audit_fail_on,
                                       "Fail when the audit of the new jail finds this or worse")
                            ->check(CLI::IsMember(severities()))
                            ->capture_default_str();
  cmd.add_flag("--no-audit", create->no_audit, "Do not audit the new jail")->excludes(audit_fail_on);
#ifdef JB_TEST_SEAMS
  cmd.add_option("--test-kill-after", create->kill_after, "SIGKILL after N actions (tests only)");
#endif
  return [create] { return run_create(*create); };
}

// --- profiles ----------------------------------------------------------------------------------

struct ProfilesCli {
  std::vector<std::string> extra_dirs;
  std::string config_dir = default_config_dir;
  std::string show_name;
  const CLI::App* show = nullptr; ///< `profiles show NAME`, when parsed
};

int run_profiles(const ProfilesCli& c) {
  ProfileSet set = ProfileSet::load(host_profile_dirs(c.extra_dirs, c.config_dir));
  if (c.show->parsed()) {
    std::cout << set.source_text(c.show_name);
    return 0;
  }
  for (const std::string& name : set.names()) {
    const Profile* p = set.find(name);
    std::cout << name << std::string(name.size() < 16 ? 16 - name.size() : 1, ' ') << p->description << '\n';
  }
  return 0;
}

Runner setup_profiles(CLI::App& cmd) {
  auto profiles = std::make_shared<ProfilesCli>();
  CLI::App* show = cmd.add_subcommand("show", "Print one profile");
  cmd.add_option("--profiles-dir", profiles->extra_dirs, "Extra profile directory (repeatable)")
      ->transform(absolute_path);
  add_config_dir(cmd, profiles->config_dir);
  show->add_option("NAME", profiles->show_name, "Profile name")->required();
  profiles->show = show;
  return [profiles] { return run_profiles(*profiles); };
}

// --- pack, unpack --------------------------------------------------------------------------------

struct PackCli {
  std::string jail, output, secrets_to;
  std::string config_dir = default_config_dir, state_dir = default_state_dir;
  bool include_state = false, include_secrets = false, quiet = false;
};

int run_pack(const PackCli& c) {
  PackOptions o;
  o.dir = jail_dir(c.config_dir, c.jail);
  o.output = c.output;
  o.state = c.include_state ? StateFiles::include : StateFiles::leave_out;
  o.secrets = c.include_secrets ? Secrets::include : Secrets::leave_out;
  o.secrets_to = c.secrets_to;
  PackResult r = pack_jail(o);
  for (const std::string& w : r.warnings)
    std::cerr << "jailbuild: warning: " << w << '\n';
  std::cout << r.sha256 << "  " << r.archive << '\n';
  if (!c.quiet)
    std::cerr << "packed " << r.entries << " entries (" << r.bytes << " bytes of files), left out "
              << r.left_out << " runtime entries; sha256 in " << r.archive << ".sha256\n";
  return 0;
}

Runner setup_pack(CLI::App& cmd) {
  auto pack = std::make_shared<PackCli>();
  cmd.add_option("JAIL", pack->jail, "The jail: NAME or DIR")->required()->transform(jail_argument);
  add_config_dir(cmd, pack->config_dir);
  add_state_dir(cmd, pack->state_dir);
  cmd.add_option("-o,--output", pack->output,
                 "The archive: .tar, .tar.gz, .tar.xz, .tar.zst (zstd otherwise)")
      ->required();
  cmd.add_flag("--include-secrets", pack->include_secrets,
               "Also pack private keys and the files declared secret (left out by default)");
  cmd.add_option("--secrets-to", pack->secrets_to,
                 "Write the secrets left out into this separate archive (root's, 0600) for unpack --secrets")
      ->excludes("--include-secrets");
  cmd.add_flag("--include-state", pack->include_state,
               "Keep runtime state (/run, /tmp, /var/tmp, logs, sessions)");
  cmd.add_flag("--quiet,-q", pack->quiet, "Print only the archive's sha256");
  return [pack] { return run_pack(*pack); };
}

struct UnpackCli {
  std::string archive, dir, name;
  std::string config_dir = default_config_dir;
  std::string state_dir = default_state_dir;
  UnpackLimits limits;
  std::vector<std::string> profile_dirs;
  std::string secrets;
  bool quiet = false;
};

int run_unpack(const UnpackCli& c) {
  // The name is checked before anything is unpacked: a jail that cannot be defined is not made.
  Definitions definitions(c.config_dir);
  const std::string name = c.name.empty() ? default_jail_name(c.dir) : c.name;
  if (std::optional<std::string> why = invalid_jail_name(name)) throw Error(name, *why);
  check_unique(definitions, name, c.dir);
  UnpackResult r =
      unpack_jail({c.archive, c.dir, c.state_dir, c.limits, c.profile_dirs, c.config_dir, c.secrets});
  // Its definition from the spec unpack adopted (this host's, never the archive's own): from now on
  // sync applies that. Should this fail, the jail is one made before definitions, which the next
  // sync defines the same way.
  Definition d = define_from_manifest(definitions, r.dir, name, r.warnings);
  for (const std::string& w : r.warnings)
    std::cerr << "jailbuild: warning: " << w << '\n';
  if (!c.quiet) std::cout << "wrote the jail's definition " << definitions.path_of(d.spec.name) << '\n';
  if (!c.quiet)
    std::cout << "unpacked " << r.entries << " entries (" << r.bytes << " bytes of files) into " << r.dir
              << '\n';
  return 0;
}

Runner setup_unpack(CLI::App& cmd) {
  auto unpack = std::make_shared<UnpackCli>();
  cmd.add_option("FILE", unpack->archive, "The archive made by jailbuild pack")->required();
  cmd.add_option("DIR", unpack->dir, "The new jail directory (absent or empty)")
      ->required()
      ->transform(absolute_path);
  add_state_dir(cmd, unpack->state_dir);
  add_config_dir(cmd, unpack->config_dir);
  cmd.add_option("--name", unpack->name, "The new jail's name (default: the directory's base name)");
  cmd.add_option("--max-entries", unpack->limits.max_entries, "Refuse an archive with more entries")
      ->capture_default_str();
  cmd.add_option("--max-bytes", unpack->limits.max_bytes,
                 "Refuse an archive that decompresses to more bytes (everything in it counts)")
      ->capture_default_str();
  cmd.add_option("--profiles-dir", unpack->profile_dirs,
                 "Extra profile directory of this host (repeatable): where the jail's services are found")
      ->transform(absolute_path);
  cmd.add_option("--secrets", unpack->secrets,
                 "The secrets archive of pack --secrets-to: puts back the secrets the archive left out");
  cmd.add_flag("--quiet,-q", unpack->quiet, "Print nothing but warnings and errors");
  return [unpack] { return run_unpack(*unpack); };
}

// --- mount, umount -------------------------------------------------------------------------------

struct MountCli {
  std::string jail;
  std::string config_dir = default_config_dir, state_dir = default_state_dir;
  bool quiet = false;
};

/// The options mount and umount share.
std::shared_ptr<MountCli> setup_mount_options(CLI::App& cmd) {
  auto mount = std::make_shared<MountCli>();
  cmd.add_option("JAIL", mount->jail, "The jail: NAME or DIR")->required()->transform(jail_argument);
  add_config_dir(cmd, mount->config_dir);
  add_state_dir(cmd, mount->state_dir);
  cmd.add_flag("--quiet,-q", mount->quiet, "Print nothing but errors");
  return mount;
}

int print_bind_outcomes(const MountCli& c, const std::vector<BindOutcome>& done) {
  if (!c.quiet) std::cout << format_bind_outcomes(done);
  return 0;
}

Runner setup_mount(CLI::App& cmd) {
  return [mount = setup_mount_options(cmd)] {
    return print_bind_outcomes(*mount,
                               mount_jail(jail_dir(mount->config_dir, mount->jail), mount->state_dir));
  };
}

Runner setup_umount(CLI::App& cmd) {
  return [mount = setup_mount_options(cmd)] {
    return print_bind_outcomes(*mount, umount_jail(jail_dir(mount->config_dir, mount->jail)));
  };
}

// --- sync ----------------------------------------------------------------------------------------

struct SyncCli {
  std::vector<std::string> jails;
  std::string name, config_dir = default_config_dir;
  bool all = false, dry_run = false, json = false, quiet = false, force = false;
  std::string state_dir = default_state_dir;
  size_t kill_after = 0; ///< test seam (JB_TEST_SEAMS builds only)
};

int run_sync(const SyncCli& c) {
  if (c.all && !c.jails.empty())
    throw Error("sync", "--all syncs every registered jail; name no jail with it");
  if (!c.all && c.jails.empty()) throw Error("sync", "name a jail (NAME or DIR) or --all");
  if (!c.name.empty() && c.jails.size() != 1)
    throw Error("sync", "--name names one jail made before definitions: give exactly one");
  Definitions definitions(c.config_dir);
  std::vector<JailRef> jails;
  int rc = 0;
  if (c.all) {
    Registry registry(c.state_dir);
    AllJails all = jails_to_sync(definitions, registry, c.dry_run ? Unregister::none : Unregister::gone);
    for (const std::string& jail : all.gone)
      std::cerr << "jailbuild: " << jail << ": registered jail no longer exists; removed from the registry\n";
    for (const Error& e : all.refused) {
      std::cerr << "jailbuild: " << e.what() << '\n';
      rc = 2;
    }
    if (!c.quiet)
      for (const std::string& name : all.unregistered)
        std::cerr << "jailbuild: " << definitions.path_of(name)
                  << ": not registered (its last create failed its audit): left out; `jailbuild create "
                  << name << "` after fixing it\n";
    jails = std::move(all.jails);
    if (jails.empty()) {
      // Not an error: the apt hook runs this after every dpkg run, jails or not.
      if (!c.quiet && rc == 0) std::cout << "sync: no jail registered in " << c.state_dir << "/jails\n";
      return rc;
    }
  } else {
    for (const std::string& arg : c.jails) {
      try {
        jails.push_back(resolve_jail(definitions, arg));
      } catch (const Error& e) {
        std::cerr << "jailbuild: " << e.what() << '\n';
        rc = 2;
      }
    }
  }
  SyncOptions o;
  o.mode = c.dry_run ? SyncMode::dry_run : SyncMode::apply;
  o.force = c.force ? Force::yes : Force::no;
  o.config_dir = c.config_dir;
#ifdef JB_TEST_SEAMS
  o.progress = kill_after(c.kill_after, nullptr);
#endif
  std::vector<SyncReport> reports;
  for (JailRef& jail : jails) {
    try {
      // A jail made before definitions gets one, once, from its manifest's spec (checked as sync
      // checks it); from then on the definition is what sync applies. A dry run writes nothing.
      if (!jail.definition && !c.dry_run) {
        std::vector<std::string> warnings;
        jail.definition = define_from_manifest(definitions, jail.dir, c.name, warnings);
        for (const std::string& w : warnings)
          std::cerr << "jailbuild: warning: " << w << '\n';
        std::cerr << "jailbuild: " << jail.dir << ": made before jail definitions: wrote "
                  << definitions.path_of(jail.definition->spec.name)
                  << " from its manifest; sync applies that from now on\n";
      }
      o.definition.reset();
      if (jail.definition) o.definition = spec_to_apply(*jail.definition, c.config_dir);
      reports.push_back(sync_jail(jail.dir, o));
      if (!c.json && !c.quiet) std::cout << format_sync_text(reports.back());
      print_snippet_changes(reports.back().snippets, c.quiet || c.json);
      if (reports.back().needs_attention()) {
        rc = std::max(rc, 1);
        // --quiet silences success, never what needs a human (the apt hook runs sync --all --quiet).
        if (c.quiet) std::cerr << format_sync_attention(reports.back());
      }
    } catch (const Error& e) {
      // One broken jail must not keep the others from their upgrade.
      std::cerr << "jailbuild: " << e.what() << '\n';
      rc = 2;
    }
  }
  if (c.json) std::cout << format_sync_json(reports);
  return rc;
}

Runner setup_sync(CLI::App& cmd) {
  auto sync = std::make_shared<SyncCli>();
  cmd.add_option("JAIL", sync->jails, "Jails: NAME or DIR (a DIR has a '/')")->transform(jail_argument);
  cmd.add_flag("--all", sync->all, "Every jail registered by create and unpack");
  cmd.add_option("--name", sync->name,
                 "The name of a jail made before definitions, whose definition this sync writes");
  add_config_dir(cmd, sync->config_dir);
  cmd.add_flag("--dry-run", sync->dry_run, "Print the difference and write nothing");
  cmd.add_flag("--json", sync->json, "JSON output");
  cmd.add_flag("--quiet,-q", sync->quiet, "Print only conflicts, tampering and errors (on stderr)");
  cmd.add_flag("--force", sync->force, "Also replace executables and libraries that were tampered with");
  add_state_dir(cmd, sync->state_dir);
#ifdef JB_TEST_SEAMS
  cmd.add_option("--test-kill-after", sync->kill_after, "SIGKILL after N actions (tests only)");
#endif
  return [sync] { return run_sync(*sync); };
}

// --- hook ----------------------------------------------------------------------------------------

struct HookCli {
  std::string root = "/", state_dir = default_state_dir;
  const CLI::App* install = nullptr; ///< `hook install`, when parsed (else `hook remove`)
};

int run_hook(const HookCli& c) {
  if (c.install->parsed()) {
    for (const std::string& p : install_hook(c.root, executable_path(), c.state_dir))
      std::cout << "wrote " << p << '\n';
    if (c.root == "/")
      std::cout << "enable the timer with: systemctl daemon-reload && systemctl enable --now "
                   "jailbuild-sync.timer\n";
    return 0;
  }
  for (const std::string& p : remove_hook(c.root))
    std::cout << "removed " << p << '\n';
  return 0;
}

Runner setup_hook(CLI::App& cmd) {
  auto hook = std::make_shared<HookCli>();
  cmd.require_subcommand(1);
  CLI::App* install = cmd.add_subcommand("install", "Write the apt hook and the systemd service and timer");
  CLI::App* remove = cmd.add_subcommand("remove", "Remove them");
  for (CLI::App* sub : {install, remove})
    sub->add_option("--root", hook->root, "Install below this directory instead of /")
        ->check(CLI::ExistingDirectory)
        ->transform(absolute_path);
  install->add_option("--state-dir", hook->state_dir, "State directory the hook's sync uses")
      ->capture_default_str()
      ->transform(absolute_path);
  hook->install = install;
  return [hook] { return run_hook(*hook); };
}

// --- audit ---------------------------------------------------------------------------------------

struct AuditCli {
  std::string jail;
  std::string config_dir = default_config_dir, state_dir = default_state_dir;
  std::string fail_on = "medium";
  bool json = false, no_integrity = false, no_hardening = false, verbose = false;
};

int run_audit(const AuditCli& c) {
  AuditOptions o;
  o.integrity = c.no_integrity ? Integrity::skip : Integrity::check;
  o.hardening = c.no_hardening ? Hardening::skip : Hardening::check;
  AuditReport r = audit_jail(jail_dir(c.config_dir, c.jail), o);
  Severity threshold = *severity_from(c.fail_on); // checked by CLI11
  std::cout << (c.json ? format_audit_json(r, threshold)
                       : format_audit_text(r, threshold,
                                           c.verbose ? AuditDetail::verbose : AuditDetail::summary));
  return audit_fails(r, threshold) ? 1 : 0;
}

Runner setup_audit(CLI::App& cmd) {
  auto audit = std::make_shared<AuditCli>();
  cmd.add_option("JAIL", audit->jail, "The jail: NAME, or DIR (made by jailbuild or not)")
      ->required()
      ->transform(jail_argument);
  add_config_dir(cmd, audit->config_dir);
  add_state_dir(cmd, audit->state_dir);
  cmd.add_flag("--json", audit->json, "JSON output (schema in the README)");
  cmd.add_option("--fail-on", audit->fail_on, "Exit 1 when a finding is this severe or worse")
      ->check(CLI::IsMember(severities()))
      ->capture_default_str();
  cmd.add_flag("--no-integrity", audit->no_integrity, "Do not hash the files the manifest records");
  cmd.add_flag("--verbose,-v", audit->verbose,
               "List each site's changed, added and removed files (the JSON always has them)");
  cmd.add_flag("--no-hardening", audit->no_hardening,
               "Do not parse ELF files for PIE, RELRO, NX, canary, FORTIFY");
  return [audit] { return run_audit(*audit); };
}

// --- nginx-snippet -----------------------------------------------------------------------------

struct SnippetCli {
  std::string jail, docroot, nginx = "host", output;
  std::string config_dir = default_config_dir;
  std::string state_dir = default_state_dir; // no registry is read: taken as by every command naming a jail
  std::vector<std::string> pools;
};

Runner setup_nginx_snippet(CLI::App& cmd) {
  auto s = std::make_shared<SnippetCli>();
  cmd.add_option("JAIL", s->jail, "The jail: NAME or DIR")->required()->transform(jail_argument);
  add_config_dir(cmd, s->config_dir);
  // Accepted so that a script can give every command naming a jail the same --state-dir.
  add_state_dir(cmd, s->state_dir);
  cmd.add_option("--pool", s->pools, "Only this pool (repeatable; default: every pool of the jail)");
  cmd.add_option("--docroot", s->docroot,
                 "The site's document root as php-fpm sees it (default: the "
                 "pool's chdir, else /var/www/html; / for php-runtime)");
  cmd.add_option("--nginx", s->nginx, "Where nginx runs: host (paths with the jail in front) or jail")
      ->check(CLI::IsMember({"host", "jail"}))
      ->capture_default_str();
  cmd.add_option("-o,--output", s->output, "Write it to this file (whole or not at all) instead of stdout")
      ->transform(absolute_path);
  return [s] {
    const std::string dir = resolve_jail(Definitions(s->config_dir), s->jail).dir;
    std::string text = jail_nginx_snippets(dir, s->pools, s->docroot,
                                           s->nginx == "jail" ? NginxSide::jail : NginxSide::host);
    if (s->output.empty()) {
      std::cout << text;
      return 0;
    }
    // A running nginx may reload at any moment: it reads the old snippet or the new one, never half.
    AtomicFile file(s->output, 0644);
    file.write(text);
    file.commit();
    return 0;
  };
}

// --- list, destroy -------------------------------------------------------------------------------

struct ListCli {
  std::vector<std::string> jails; ///< a filter: NAME or DIR
  std::string config_dir = default_config_dir, state_dir = default_state_dir;
  bool json = false;
};

int run_list(const ListCli& c) {
  Definitions definitions(c.config_dir);
  Registry registry(c.state_dir);
  std::vector<JailStatus> jails = list_jails(definitions, registry);
  if (!c.jails.empty()) {
    std::vector<std::string> dirs;
    for (const std::string& arg : c.jails)
      dirs.push_back(arg.find('/') == std::string::npos ? resolve_jail(definitions, arg).dir
                                                        : normalize_path(arg));
    std::erase_if(
        jails, [&](const JailStatus& s) { return std::find(dirs.begin(), dirs.end(), s.dir) == dirs.end(); });
  }
  std::cout << (c.json ? format_jail_list_json(jails) : format_jail_list_text(jails));
  // Something needs a human: as sync, exit 1.
  bool attention = std::any_of(jails.begin(), jails.end(), [](const JailStatus& s) {
    return s.state != JailState::ok && s.state != JailState::drift;
  });
  return attention ? 1 : 0;
}

Runner setup_list(CLI::App& cmd) {
  auto list = std::make_shared<ListCli>();
  cmd.add_option("JAIL", list->jails, "Only these jails: NAME or DIR")->transform(jail_argument);
  cmd.add_flag("--json", list->json, "JSON output (\"format\": 1)");
  add_config_dir(cmd, list->config_dir);
  add_state_dir(cmd, list->state_dir);
  return [list] { return run_list(*list); };
}

struct DestroyCli {
  std::string jail;
  std::string config_dir = default_config_dir, state_dir = default_state_dir;
  bool force = false, keep_definition = false, quiet = false;
};

int run_destroy(const DestroyCli& c) {
  DestroyOptions o{c.config_dir, c.state_dir, c.force ? WhileRunning::go_on : WhileRunning::refuse,
                   c.keep_definition ? KeepDefinition::yes : KeepDefinition::no};
  DestroyResult r = destroy_jail(resolve_jail(Definitions(c.config_dir), c.jail), o);
  if (!r.running.empty())
    std::cerr << "jailbuild: warning: " << r.dir
              << ": removed under running processes (--force); they were not stopped\n";
  if (c.quiet) {
    print_snippet_changes(r.snippets_removed, true);
    return 0;
  }
  std::cout << format_bind_outcomes(r.unmounted);
  std::cout << (r.dir_was_missing ? "already gone: " : "removed ") << r.dir
            << (r.definition_removed ? " and its definition" : "") << '\n';
  print_snippet_changes(r.snippets_removed, false);
  return 0;
}

Runner setup_destroy(CLI::App& cmd) {
  auto destroy = std::make_shared<DestroyCli>();
  cmd.add_option("JAIL", destroy->jail, "The jail: NAME or DIR")->required()->transform(jail_argument);
  cmd.add_flag("--force", destroy->force,
               "Remove the jail even while processes run in it (they are not stopped)");
  cmd.add_flag("--keep-definition", destroy->keep_definition, "Keep CONFIG/jails/NAME.toml");
  cmd.add_flag("--quiet,-q", destroy->quiet, "Print nothing but errors");
  add_config_dir(cmd, destroy->config_dir);
  add_state_dir(cmd, destroy->state_dir);
  return [destroy] { return run_destroy(*destroy); };
}

// --- site ----------------------------------------------------------------------------------------

struct SiteCli {
  std::string jail, docroot;
  std::string config_dir = default_config_dir;
  std::string state_dir = default_state_dir; // accepted as by every command naming a jail; unused
  bool quiet = false;
};

/// `site accept`: an explicit act of root's, never a side effect of sync or audit, so that what an
/// intruder changed in a site's code stays reported until an admin has looked at it and says so.
int run_site_accept(const SiteCli& c) {
  std::optional<std::string> docroot;
  if (!c.docroot.empty()) docroot = c.docroot;
  for (const SiteAccepted& a : accept_sites(jail_dir(c.config_dir, c.jail), docroot)) {
    if (c.quiet) continue;
    std::cout << "site " << a.docroot << ": accepted " << a.files << " files";
    if (a.had_baseline)
      std::cout << " (" << a.changes.changed.size() << " changed, " << a.changes.added.size() << " added, "
                << a.changes.removed.size() << " removed since the last accept)";
    std::cout << '\n';
  }
  return 0;
}

Runner setup_site(CLI::App& cmd) {
  auto site = std::make_shared<SiteCli>();
  cmd.require_subcommand(1);
  CLI::App* accept = cmd.add_subcommand(
      "accept", "Record the sites' code as it is now as the baseline audit compares them with");
  accept->add_option("JAIL", site->jail, "The jail: NAME or DIR")->required()->transform(jail_argument);
  accept->add_option("DOCROOT", site->docroot, "Only this site (its docroot in the jail)");
  accept->add_flag("--quiet,-q", site->quiet, "Print nothing but errors");
  add_config_dir(*accept, site->config_dir);
  add_state_dir(*accept, site->state_dir);
  return [site] { return run_site_accept(*site); };
}

// The subcommands, in the order `jailbuild --help` lists them.
const Command commands[] = {
    {"deps", "Print the shared-library closure of ELF files, as ld.so would load it", setup_deps},
    {"create", "Build (or bring up to date) a jail for the given services", setup_create},
    {"profiles", "List the available profiles", setup_profiles},
    {"pack", "Pack a jail into a reproducible tarball for other hosts", setup_pack},
    {"unpack", "Unpack a jailbuild archive into a new jail, verifying everything", setup_unpack},
    {"mount", "Mount the jail's bind mounts (idempotent)", setup_mount},
    {"umount", "Unmount the jail's bind mounts (idempotent)", setup_umount},
    {"sync", "Bring jails up to date with the host after package upgrades", setup_sync},
    {"hook", "Run sync --all after every apt/dpkg run and daily", setup_hook},
    {"audit", "Find what makes a jail escapable or shows it was tampered with", setup_audit},
    {"site", "Accept a jail's site code as the baseline audit compares it with (site accept)", setup_site},
    {"nginx-snippet", "Print the nginx lines that serve a jail's PHP through its php-fpm socket",
     setup_nginx_snippet},
    {"list", "List the jails of this host and their state (ok, drift, conflict, tampered, missing)",
     setup_list},
    {"destroy", "Remove a jail: its binds, its directory, its definition and its registration",
     setup_destroy},
};

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"jailbuild: build, sync, audit and pack minimal chroot jails for web services"};
  app.require_subcommand(1);
  app.set_version_flag("--version", JB_VERSION_STRING);
  // Only the subcommand being run gets its options: CLI11 takes as long to set up every option of
  // every subcommand as the rest of start-up. The list of subcommands (`jailbuild --help`) needs none,
  // and CLI11 matches a subcommand's name exactly, so argv[1] names the one that can run.
  const std::string_view name = argc > 1 ? argv[1] : "";
  const CLI::App* running = nullptr;
  Runner run;
  for (const Command& command : commands) {
    CLI::App* cmd = app.add_subcommand(command.name, command.help);
    if (name == command.name) {
      running = cmd;
      run = command.setup(*cmd);
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : exit_error;
  }
  if (!running || !running->parsed()) return 0;
  try {
    return run();
  } catch (const Error& e) {
    std::cerr << "jailbuild: " << e.what() << '\n';
    return exit_error;
  } catch (const std::exception& e) {
    std::cerr << "jailbuild: " << e.what() << '\n';
    return exit_error;
  }
}
