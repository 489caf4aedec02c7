// SPDX-License-Identifier: MIT
// The command line: a table of subcommands (name, help, options, runner), as ninja's. CLI11 parses the
// arguments; the runners call the library, print, and turn errors into "jailbuild: <path>: <what>" and
// exit codes. Nothing else lives here.
#include "jailbuild/audit.hpp"
#include "jailbuild/create.hpp"
#include "jailbuild/deps_report.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/fd.hpp"
#include "jailbuild/hook.hpp"
#include "jailbuild/hostfs.hpp"
#include "jailbuild/mounts.hpp"
#include "jailbuild/pack.hpp"
#include "jailbuild/plan_builder.hpp"
#include "jailbuild/plan_report.hpp"
#include "jailbuild/profile.hpp"
#include "jailbuild/registry.hpp"
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

/// What a subcommand does once its arguments are parsed: its exit status.
using Runner = std::function<int()>;

/// One row of the command table (as ninja's kTools[]). `setup` adds the subcommand's options to its
/// CLI11 App, binding them to an options struct of its own, and returns the runner that reads them.
struct Command {
  const char* name;
  const char* help;
  Runner (*setup)(CLI::App& cmd);
};

/// The values of --fail-on and --audit-fail-on.
std::vector<std::string> severities() {
  return {"info", "low", "medium", "high", "critical"};
}

// --- deps --------------------------------------------------------------------------------------

struct DepsCli {
  std::string host_root = "/";
  std::vector<std::string> files;
  bool tree = false, json = false, dot = false;
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
  WalkResult result = walk(host, roots);
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
  tree->excludes(json, dot);
  json->excludes(dot);
  cmd.add_option("FILE", deps->files, "ELF executables or libraries")->required();
  return [deps] { return run_deps(*deps); };
}

// --- create ------------------------------------------------------------------------------------

struct CreateCli {
  std::string dir;
  std::string with;
  std::string php;
  std::string host_root = "/";
  std::string state_dir = default_state_dir;
  std::vector<std::string> binds, writable, profile_dirs, excludes, files;
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
  o.dir = c.dir;
  for (const std::string& s : split(c.with, ','))
    if (!s.empty()) o.spec.services.push_back(s);
  if (!c.php.empty()) o.spec.php_version = c.php;
  for (const std::string& b : c.binds)
    o.spec.binds.push_back(parse_bind(b));
  for (const std::string& w : c.writable)
    o.spec.writable.push_back(parse_writable(w));
  o.spec.excludes = c.excludes; // checked with the rest of the spec (check_spec)
  for (const std::string& f : c.files)
    o.spec.files.push_back(parse_own_file(f));
  o.spec.host_root = c.host_root;
  o.spec.profile_dirs = host_profile_dirs(c.profile_dirs);
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
  cmd.add_option("DIR", create->dir, "The jail directory, e.g. /var/www/chroot")
      ->required()
      ->transform(absolute_path);
  cmd.add_option("--with", create->with, "Comma-separated profiles: nginx,php-fpm[,sh,...]")->required();
  cmd.add_option("--php", create->php, "PHP version (X.Y) when several are installed");
  cmd.add_option("--bind", create->binds, "SRC:DEST[:ro|rw][,noexec] bind mount (repeatable; ro by default)");
  cmd.add_option("--writable", create->writable,
                 "PATH[:USER[:GROUP]] a directory the site may write (default user www-data)");
  cmd.add_option(
      "--file", create->files,
      "SRC:DEST[:secret] a host file of the admin's (a vhost, a certificate, a key) kept in the jail "
      "(repeatable; a secret is installed 0600 and left out of archives)");
  cmd.add_option("--exclude", create->excludes,
                 "PATH|GLOB never installed in the jail (repeatable; * stops at /; a directory excludes what "
                 "is below it)");
  cmd.add_option("--host-root", create->host_root, "Read the host below this directory")
      ->check(CLI::ExistingDirectory)
      ->transform(absolute_path);
  cmd.add_option("--profiles-dir", create->profile_dirs,
                 "Extra profile directory (highest precedence; repeatable)")
      ->transform(absolute_path);
  cmd.add_option("--state-dir", create->state_dir, "Where jails are registered for sync --all")
      ->capture_default_str()
      ->transform(absolute_path);
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
  std::string show_name;
  const CLI::App* show = nullptr; ///< `profiles show NAME`, when parsed
};

int run_profiles(const ProfilesCli& c) {
  ProfileSet set = ProfileSet::load(host_profile_dirs(c.extra_dirs));
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
  show->add_option("NAME", profiles->show_name, "Profile name")->required();
  profiles->show = show;
  return [profiles] { return run_profiles(*profiles); };
}

// --- pack, unpack --------------------------------------------------------------------------------

struct PackCli {
  std::string dir, output;
  bool include_state = false, include_secrets = false, quiet = false;
};

int run_pack(const PackCli& c) {
  PackOptions o;
  o.dir = c.dir;
  o.output = c.output;
  o.state = c.include_state ? StateFiles::include : StateFiles::leave_out;
  o.secrets = c.include_secrets ? Secrets::include : Secrets::leave_out;
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
  cmd.add_option("DIR", pack->dir, "The jail directory")->required()->transform(absolute_path);
  cmd.add_option("-o,--output", pack->output,
                 "The archive: .tar, .tar.gz, .tar.xz, .tar.zst (zstd otherwise)")
      ->required();
  cmd.add_flag("--include-secrets", pack->include_secrets,
               "Also pack private keys and the files declared secret (left out by default)");
  cmd.add_flag("--include-state", pack->include_state,
               "Keep runtime state (/run, /tmp, /var/tmp, logs, sessions)");
  cmd.add_flag("--quiet,-q", pack->quiet, "Print only the archive's sha256");
  return [pack] { return run_pack(*pack); };
}

struct UnpackCli {
  std::string archive, dir;
  std::string state_dir = default_state_dir;
  UnpackLimits limits;
  std::vector<std::string> profile_dirs;
  bool quiet = false;
};

int run_unpack(const UnpackCli& c) {
  UnpackResult r = unpack_jail({c.archive, c.dir, c.state_dir, c.limits, c.profile_dirs});
  for (const std::string& w : r.warnings)
    std::cerr << "jailbuild: warning: " << w << '\n';
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
  cmd.add_option("--state-dir", unpack->state_dir, "Where jails are registered for sync --all")
      ->capture_default_str()
      ->transform(absolute_path);
  cmd.add_option("--max-entries", unpack->limits.max_entries, "Refuse an archive with more entries")
      ->capture_default_str();
  cmd.add_option("--max-bytes", unpack->limits.max_bytes,
                 "Refuse an archive that decompresses to more bytes (everything in it counts)")
      ->capture_default_str();
  cmd.add_option("--profiles-dir", unpack->profile_dirs,
                 "Extra profile directory of this host (repeatable): where the jail's services are found")
      ->transform(absolute_path);
  cmd.add_flag("--quiet,-q", unpack->quiet, "Print nothing but warnings and errors");
  return [unpack] { return run_unpack(*unpack); };
}

// --- mount, umount -------------------------------------------------------------------------------

struct MountCli {
  std::string dir;
  bool quiet = false;
};

/// The options mount and umount share.
std::shared_ptr<MountCli> setup_mount_options(CLI::App& cmd) {
  auto mount = std::make_shared<MountCli>();
  cmd.add_option("DIR", mount->dir, "The jail directory")->required()->transform(absolute_path);
  cmd.add_flag("--quiet,-q", mount->quiet, "Print nothing but errors");
  return mount;
}

int print_bind_outcomes(const MountCli& c, const std::vector<BindOutcome>& done) {
  if (!c.quiet) std::cout << format_bind_outcomes(done);
  return 0;
}

Runner setup_mount(CLI::App& cmd) {
  return [mount = setup_mount_options(cmd)] { return print_bind_outcomes(*mount, mount_jail(mount->dir)); };
}

Runner setup_umount(CLI::App& cmd) {
  return [mount = setup_mount_options(cmd)] { return print_bind_outcomes(*mount, umount_jail(mount->dir)); };
}

// --- sync ----------------------------------------------------------------------------------------

struct SyncCli {
  std::vector<std::string> dirs;
  bool all = false, dry_run = false, json = false, quiet = false, force = false;
  std::string state_dir = default_state_dir;
  size_t kill_after = 0; ///< test seam (JB_TEST_SEAMS builds only)
};

int run_sync(const SyncCli& c) {
  std::vector<std::string> dirs = c.dirs;
  if (c.all) {
    Registry registry(c.state_dir);
    RegisteredJails jails = registered_jails(registry, c.dry_run ? Unregister::none : Unregister::gone);
    for (const std::string& jail : jails.gone)
      std::cerr << "jailbuild: " << jail << ": registered jail no longer exists; removed from the registry\n";
    dirs.insert(dirs.end(), jails.present.begin(), jails.present.end());
  }
  if (dirs.empty() && c.all) {
    // Not an error: the apt hook runs this after every dpkg run, jails or not.
    if (!c.quiet) std::cout << "sync: no jail registered in " << c.state_dir << "/jails\n";
    return 0;
  }
  if (dirs.empty()) throw Error("sync", "name a jail DIR or --all");
  SyncOptions o;
  o.mode = c.dry_run ? SyncMode::dry_run : SyncMode::apply;
  o.force = c.force ? Force::yes : Force::no;
#ifdef JB_TEST_SEAMS
  o.progress = kill_after(c.kill_after, nullptr);
#endif
  std::vector<SyncReport> reports;
  int rc = 0;
  for (const std::string& d : dirs) {
    try {
      reports.push_back(sync_jail(d, o));
      if (!c.json && !c.quiet) std::cout << format_sync_text(reports.back());
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
  cmd.add_option("DIR", sync->dirs, "Jail directories")->transform(absolute_path);
  cmd.add_flag("--all", sync->all, "Every jail registered by create and unpack");
  cmd.add_flag("--dry-run", sync->dry_run, "Print the difference and write nothing");
  cmd.add_flag("--json", sync->json, "JSON output");
  cmd.add_flag("--quiet,-q", sync->quiet, "Print only conflicts, tampering and errors (on stderr)");
  cmd.add_flag("--force", sync->force, "Also replace executables and libraries that were tampered with");
  cmd.add_option("--state-dir", sync->state_dir, "Where jails are registered")
      ->capture_default_str()
      ->transform(absolute_path);
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
  std::string dir;
  std::string fail_on = "medium";
  bool json = false, no_integrity = false, no_hardening = false;
};

int run_audit(const AuditCli& c) {
  AuditOptions o;
  o.integrity = c.no_integrity ? Integrity::skip : Integrity::check;
  o.hardening = c.no_hardening ? Hardening::skip : Hardening::check;
  AuditReport r = audit_jail(c.dir, o);
  Severity threshold = *severity_from(c.fail_on); // checked by CLI11
  std::cout << (c.json ? format_audit_json(r, threshold) : format_audit_text(r, threshold));
  return audit_fails(r, threshold) ? 1 : 0;
}

Runner setup_audit(CLI::App& cmd) {
  auto audit = std::make_shared<AuditCli>();
  cmd.add_option("DIR", audit->dir, "The jail directory (made by jailbuild or not)")
      ->required()
      ->transform(absolute_path);
  cmd.add_flag("--json", audit->json, "JSON output (schema in the README)");
  cmd.add_option("--fail-on", audit->fail_on, "Exit 1 when a finding is this severe or worse")
      ->check(CLI::IsMember(severities()))
      ->capture_default_str();
  cmd.add_flag("--no-integrity", audit->no_integrity, "Do not hash the files the manifest records");
  cmd.add_flag("--no-hardening", audit->no_hardening,
               "Do not parse ELF files for PIE, RELRO, NX, canary, FORTIFY");
  return [audit] { return run_audit(*audit); };
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
