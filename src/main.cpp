// SPDX-License-Identifier: MIT
// The command line: parses arguments with CLI11, calls the library, turns errors into
// "jailbuild: <path>: <what>" and exit codes. Nothing else lives here.
#include "jailbuild/deps_report.hpp"
#include "jailbuild/error.hpp"
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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : exit_error;
  }
  try {
    if (deps_cmd->parsed()) return run_deps(deps);
  } catch (const Error& e) {
    std::cerr << "jailbuild: " << e.what() << '\n';
    return exit_error;
  } catch (const std::exception& e) {
    std::cerr << "jailbuild: " << e.what() << '\n';
    return exit_error;
  }
  return 0;
}
