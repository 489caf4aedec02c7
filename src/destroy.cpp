// SPDX-License-Identifier: MIT
#include "jailbuild/destroy.hpp"

#include "jailbuild/assemble.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/fd.hpp"
#include "jailbuild/jail_lock.hpp"
#include "jailbuild/jailfs.hpp"
#include "jailbuild/manifest.hpp"

#include <algorithm>
#include <cerrno>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace jailbuild {

namespace {

bool at_or_below(std::string_view path, const std::string& dir) {
  return path == dir || (path.size() > dir.size() && path.starts_with(dir) && path[dir.size()] == '/');
}

/// The mount points at or below `dir`.
std::vector<std::string> mounts_in(const std::string& dir) {
  std::vector<std::string> out;
  for (const MountInfo& m : read_mountinfo())
    if (at_or_below(m.mount_point, dir) && m.mount_point != dir) out.push_back(m.mount_point);
  return out;
}

std::string pid_list(const std::vector<pid_t>& pids) {
  std::string out;
  for (pid_t p : pids)
    out += (out.empty() ? "" : " ") + std::to_string(p);
  return out;
}

} // namespace

std::vector<pid_t> processes_in(const std::string& dir) {
  std::vector<pid_t> out;
  DIR* proc = ::opendir("/proc");
  if (!proc) throw system_error("/proc", "cannot list processes", errno);
  const pid_t self = ::getpid();
  while (const dirent* e = ::readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0 || pid == self) continue;
    const std::string base = std::string("/proc/") + e->d_name + "/";
    for (const char* link : {"root", "cwd", "exe"}) {
      // The kernel's path of the process's root, cwd or executable, as this process sees the tree.
      std::optional<std::string> target = read_link_at(AT_FDCWD, (base + link).c_str());
      if (!target) continue; // gone, a kernel thread, or not ours to see
      std::string path = *target;
      if (path.ends_with(" (deleted)")) path.resize(path.size() - 10);
      if (at_or_below(path, dir)) {
        out.push_back(static_cast<pid_t>(pid));
        break;
      }
    }
  }
  ::closedir(proc);
  std::sort(out.begin(), out.end());
  return out;
}

DestroyResult destroy_jail(const JailRef& jail, const DestroyOptions& options) {
  DestroyResult result;
  result.dir = jail.dir;
  Definitions definitions(options.config_dir);
  Registry registry(options.state_dir);
  auto forget = [&] {
    registry.remove(result.dir);
    if (jail.definition && options.keep_definition == KeepDefinition::no) {
      definitions.remove(jail.definition->spec.name);
      result.definition_removed = true;
    }
    // A snippet would point a host nginx at a socket and a docroot that are gone; the definition,
    // if kept, makes them again at the next create.
    if (jail.definition)
      result.snippets_removed = remove_nginx_snippets(options.config_dir, jail.definition->spec.name);
  };
  struct stat st {};
  if (::lstat(result.dir.c_str(), &st) != 0 && errno == ENOENT) {
    result.dir_was_missing = true;
    forget();
    return result;
  }
  if (::geteuid() != 0) throw Error(result.dir, "destroying a jail needs root");
  // Only a jail: a directory jailbuild made, in a place no one else controls, root's alone.
  result.dir = check_jail_location(result.dir);
  if (std::optional<Error> why = untrusted_jail(JailFs(result.dir))) throw *why;
  if (!JailFs(result.dir).lstat(manifest_dir))
    throw Error(result.dir, "not a jailbuild jail: no " + std::string(manifest_dir) + "/; not removed");

  // Before anything changes: a refused destroy leaves the jail as it was.
  std::vector<pid_t> running = processes_in(result.dir);
  if (!running.empty() && options.running == WhileRunning::refuse)
    throw Error(result.dir, "processes run in the jail (root, cwd or executable in it): " +
                                pid_list(running) + "; stop them first, or --force to remove it under them");
  result.running = running;

  // The binds the manifest declares, children first (umount_jail takes the lock itself).
  if (JailFs(result.dir).lstat(manifest_file)) result.unmounted = umount_jail(result.dir);

  JailLock lock(result.dir); // no create, sync or mount meanwhile
  // Whatever is still mounted in it (a bind that would not go, a mount made by hand) stays the
  // host's: removing through it would delete the host's files.
  if (std::vector<std::string> mounted = mounts_in(result.dir); !mounted.empty())
    throw Error(result.dir,
                "still mounted in the jail: " + mounted.front() +
                    (mounted.size() > 1 ? " and " + std::to_string(mounted.size() - 1) + " more" : "") +
                    "; unmount it first (nothing was removed)");

  // Through fds only: a symlink a jailed process planted (to /etc, to another jail) is removed as a
  // link, never followed. Everything but .jailbuild/ first, so that a run that fails half-way still
  // leaves a jail that check_jail_location() accepts and destroy can finish.
  UniqueFd root(::open(result.dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root) throw system_error(result.dir, "cannot open", errno);
  try {
    std::vector<std::string> names;
    {
      UniqueFd listing(::openat(root.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      DIR* d = listing ? ::fdopendir(listing.get()) : nullptr;
      if (!d) throw system_error(result.dir, "cannot list", errno);
      (void)listing.release();
      while (const dirent* e = ::readdir(d)) {
        std::string_view n = e->d_name;
        if (n != "." && n != ".." && n != manifest_dir) names.emplace_back(n);
      }
      ::closedir(d);
    }
    for (const std::string& name : names)
      remove_tree_at(root.get(), name, result.dir + "/" + name);
    remove_tree_at(root.get(), manifest_dir, result.dir + "/" + manifest_dir);
    root.reset();
    if (::rmdir(result.dir.c_str()) != 0)
      throw system_error(result.dir, "cannot remove the directory", errno);
  } catch (const Error& e) {
    throw Error(
        result.dir,
        std::string("removal stopped: ") + e.what() +
            "; what is left of the directory, its definition and registration stay: run destroy again");
  }
  forget();
  return result;
}

} // namespace jailbuild
