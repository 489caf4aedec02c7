// SPDX-License-Identifier: MIT
// The command line: parses arguments with CLI11, calls the library, turns errors into
// "jailbuild: <path>: <what>" and exit codes. Nothing else lives here.
#include "jailbuild/create.hpp"
#include "jailbuild/deps_report.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/plan_report.hpp"
#include "jailbuild/profile.hpp"
#include "jailbuild/registry.hpp"
#include "jailbuild/walk.hpp"

#include <CLI/CLI.hpp>

#include <iostream>
#include <unistd.h>

namespace {

using namespace jailbuild;

constexpr int exit_error = 2;

struct DepsOptions {
  std::string host_root = "/";
  std::vector<std::string> files;
  bool tree = false, json = false, dot = false;
};

int run_deps(const DepsOptions& o) {
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
  DepsFormat format = o.tree ? DepsFormat::tree : o.json ? DepsFormat::json : o.dot ? DepsFormat::dot : DepsFormat::list;
  std::cout << format_deps(result, format);
  std::cerr << format_unresolved(result);
  return result.unresolved.empty() ? 0 : 1;
}

struct CreateCli {
  std::string dir;
  std::string with;
  std::string php;
  std::string host_root = "/";
  std::string state_dir = default_state_dir;
  std::vector<std::string> binds, writable, profile_dirs;
  bool dry_run = false, json = false, quiet = false, reflink = false;
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t i = 0;
  for (;;) {
    size_t j = s.find(sep, i);
    out.push_back(s.substr(i, j == std::string::npos ? std::string::npos : j - i));
    if (j == std::string::npos) return out;
    i = j + 1;
  }
}

/// --bind SRC:DEST[:ro|rw][,noexec]
BindSpec parse_bind(const std::string& arg) {
  std::vector<std::string> parts = split(arg, ':');
  if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || parts[1].empty() || parts[0][0] != '/' ||
      parts[1][0] != '/')
    throw Error(arg, "--bind wants SRC:DEST[:ro|rw][,noexec] with absolute paths");
  BindSpec b{parts[0], parts[1], true, false};
  if (parts.size() == 3) {
    for (const std::string& opt : split(parts[2], ',')) {
      if (opt == "ro") b.read_only = true;
      else if (opt == "rw") b.read_only = false;
      else if (opt == "noexec") b.noexec = true;
      else throw Error(arg, "--bind option '" + opt + "' is not ro, rw or noexec");
    }
  }
  return b;
}

/// --writable PATH[:USER[:GROUP]]
WritableSpec parse_writable(const std::string& arg) {
  std::vector<std::string> parts = split(arg, ':');
  if (parts.empty() || parts.size() > 3 || parts[0].empty() || parts[0][0] != '/')
    throw Error(arg, "--writable wants PATH[:USER[:GROUP]] with an absolute path");
  return {parts[0], parts.size() > 1 && !parts[1].empty() ? parts[1] : "www-data", parts.size() > 2 ? parts[2] : ""};
}

int run_create(const CreateCli& c) {
  CreateOptions o;
  o.dir = c.dir;
  for (const std::string& s : split(c.with, ','))
    if (!s.empty()) o.spec.services.push_back(s);
  if (!c.php.empty()) o.spec.php_version = c.php;
  for (const std::string& b : c.binds) o.spec.binds.push_back(parse_bind(b));
  for (const std::string& w : c.writable) o.spec.writable.push_back(parse_writable(w));
  o.spec.host_root = c.host_root;
  o.spec.profile_dirs = profile_dirs(c.profile_dirs);
  o.state_dir = c.state_dir;
  o.dry_run = c.dry_run ? DryRun::yes : DryRun::no;
  o.assemble.copy = c.reflink ? CopyMethod::reflink : CopyMethod::copy;
  bool bar = !c.quiet && ::isatty(STDERR_FILENO);
  if (bar)
    o.assemble.progress = [](size_t done, size_t total) {
      int width = 40;
      int filled = total ? static_cast<int>(static_cast<double>(done) / static_cast<double>(total) * width) : width;
      std::cerr << "\r[" << std::string(static_cast<size_t>(filled), '#') << std::string(static_cast<size_t>(width - filled), ' ')
                << "] " << done << "/" << total << (done == total ? "\n" : "") << std::flush;
    };
  CreateResult r = create_jail(o);
  if (c.dry_run) {
    std::cout << (c.json ? format_plan_json(r.plan) : format_plan_text(r.plan));
    return 0;
  }
  if (c.json) std::cout << format_summary_json(r.dir, r.plan, r.report);
  else if (!c.quiet) std::cout << format_summary(r.dir, r.plan, r.report);
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"jailbuild: build, sync, audit and pack minimal chroot jails for web services"};
  app.require_subcommand(1);
  app.set_version_flag("--version", JB_VERSION_STRING);

  DepsOptions deps;
  CLI::App* deps_cmd = app.add_subcommand("deps", "Print the shared-library closure of ELF files, as ld.so would load it");
  deps_cmd->add_option("--host-root", deps.host_root, "Read every path below this directory")->check(CLI::ExistingDirectory);
  auto* tree = deps_cmd->add_flag("--tree", deps.tree, "Show who needs what");
  auto* json = deps_cmd->add_flag("--json", deps.json, "Every object with its dynamic facts, as JSON");
  auto* dot = deps_cmd->add_flag("--dot", deps.dot, "A Graphviz graph");
  tree->excludes(json, dot);
  json->excludes(dot);
  deps_cmd->add_option("FILE", deps.files, "ELF executables or libraries")->required();

  CreateCli create;
  CLI::App* create_cmd = app.add_subcommand("create", "Build (or bring up to date) a jail for the given services");
  create_cmd->add_option("DIR", create.dir, "The jail directory, e.g. /var/www/chroot")->required();
  create_cmd->add_option("--with", create.with, "Comma-separated profiles: nginx,php-fpm[,sh,...]")->required();
  create_cmd->add_option("--php", create.php, "PHP version (X.Y) when several are installed");
  create_cmd->add_option("--bind", create.binds, "SRC:DEST[:ro|rw][,noexec] bind mount (repeatable; ro by default)");
  create_cmd->add_option("--writable", create.writable, "PATH[:USER[:GROUP]] a directory the site may write (default user www-data)");
  create_cmd->add_option("--host-root", create.host_root, "Read the host below this directory")->check(CLI::ExistingDirectory);
  create_cmd->add_option("--profiles-dir", create.profile_dirs, "Extra profile directory (highest precedence; repeatable)");
  create_cmd->add_option("--state-dir", create.state_dir, "Where jails are registered for sync --all")->capture_default_str();
  create_cmd->add_flag("--dry-run", create.dry_run, "Print the plan and touch nothing");
  create_cmd->add_flag("--json", create.json, "JSON output");
  create_cmd->add_flag("--quiet,-q", create.quiet, "Print nothing but errors");
  create_cmd->add_flag("--reflink", create.reflink, "Share file extents with the host where the file system can (never hardlinks)");

  std::vector<std::string> profiles_extra;
  std::string show_name;
  CLI::App* profiles_cmd = app.add_subcommand("profiles", "List the available profiles");
  profiles_cmd->add_option("--profiles-dir", profiles_extra, "Extra profile directory (repeatable)");
  CLI::App* show_cmd = profiles_cmd->add_subcommand("show", "Print one profile");
  show_cmd->add_option("NAME", show_name, "Profile name")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : exit_error;
  }
  try {
    if (deps_cmd->parsed()) return run_deps(deps);
    if (create_cmd->parsed()) return run_create(create);
    if (profiles_cmd->parsed()) {
      ProfileSet set = ProfileSet::load(profile_dirs(profiles_extra));
      if (show_cmd->parsed()) {
        std::cout << set.source_text(show_name);
      } else {
        for (const std::string& name : set.names()) {
          const Profile* p = set.find(name);
          std::cout << name << std::string(name.size() < 16 ? 16 - name.size() : 1, ' ') << p->description << '\n';
        }
      }
      return 0;
    }
  } catch (const Error& e) {
    std::cerr << "jailbuild: " << e.what() << '\n';
    return exit_error;
  } catch (const std::exception& e) {
    std::cerr << "jailbuild: " << e.what() << '\n';
    return exit_error;
  }
  return 0;
}
