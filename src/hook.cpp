// SPDX-License-Identifier: MIT
#include "jailbuild/hook.hpp"

#include "jailbuild/error.hpp"
#include "jailbuild/fd.hpp"

#include <cerrno>
#include <sys/stat.h>
#include <unistd.h>

namespace jailbuild {

namespace {

std::string under(const std::string& root, const std::string& path) {
  return (root == "/" || root.empty()) ? path : root + path;
}

/// apt and systemd read these files at any time: each appears whole or not at all.
void write_atomically(const std::string& path, const std::string& content) {
  AtomicFile file(path, 0644);
  file.write(content);
  file.commit();
}

/// Single-quoted for the shell.
std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s)
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

} // namespace

HookFiles hook_files(const std::string& root) {
  return {under(root, "/etc/apt/apt.conf.d/90jailbuild-sync"),
          under(root, "/etc/systemd/system/jailbuild-sync.service"),
          under(root, "/etc/systemd/system/jailbuild-sync.timer")};
}

std::vector<std::string> install_hook(const std::string& root, const std::string& program,
                                      const std::string& state_dir) {
  if (program.empty() || program.front() != '/')
    throw Error(program, "the hook needs jailbuild's absolute path");
  HookFiles f = hook_files(root);
  for (const std::string& dir : {under(root, "/etc/apt/apt.conf.d"), under(root, "/etc/systemd/system")}) {
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      throw Error(dir, "missing: is this a Debian host?");
  }
  std::string command = quoted(program) + " sync --all --quiet --state-dir " + quoted(state_dir);
  // apt.conf strings cannot hold a double quote; the command never has one (quoted() uses single quotes).
  if (command.find('"') != std::string::npos)
    throw Error(program, "path holds a double quote: cannot go in apt.conf");
  write_atomically(
      f.apt_conf,
      "// Installed by `jailbuild hook install`: keep jailbuild jails in step with the host's packages.\n"
      "DPkg::Post-Invoke { \"if [ -x " +
          quoted(program) + " ]; then " + command +
          " || echo 'jailbuild: sync after dpkg found conflicts, tampering or errors (see above)' >&2; "
          "fi\"; };\n");
  write_atomically(f.systemd_service, "# Installed by `jailbuild hook install`.\n"
                                      "[Unit]\nDescription=Sync jailbuild jails with the host's packages\n"
                                      "ConditionPathExists=" +
                                          state_dir +
                                          "/jails\n\n"
                                          "[Service]\nType=oneshot\nExecStart=" +
                                          command + "\n");
  write_atomically(f.systemd_timer, "# Installed by `jailbuild hook install`.\n"
                                    "[Unit]\nDescription=Daily sync of jailbuild jails\n\n"
                                    "[Timer]\nOnCalendar=daily\nPersistent=true\nRandomizedDelaySec=1h\n\n"
                                    "[Install]\nWantedBy=timers.target\n");
  return {f.apt_conf, f.systemd_service, f.systemd_timer};
}

std::vector<std::string> remove_hook(const std::string& root) {
  HookFiles f = hook_files(root);
  std::vector<std::string> removed;
  for (const std::string& p : {f.apt_conf, f.systemd_timer, f.systemd_service}) {
    if (::unlink(p.c_str()) == 0)
      removed.push_back(p);
    else if (errno != ENOENT)
      throw system_error(p, "cannot remove", errno);
  }
  return removed;
}

} // namespace jailbuild
