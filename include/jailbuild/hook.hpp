// SPDX-License-Identifier: MIT
// `jailbuild hook install|remove`: run `jailbuild sync --all --quiet` after every dpkg run (an apt
// hook) and once a day (a systemd service and timer), so jails follow the host's upgrades.
#pragma once
#include <string>
#include <vector>

namespace jailbuild {

/// The files the hook consists of, below `root` ("/" on a real host).
struct HookFiles {
  std::string apt_conf;        ///< /etc/apt/apt.conf.d/90jailbuild-sync
  std::string systemd_service; ///< /etc/systemd/system/jailbuild-sync.service
  std::string systemd_timer;   ///< /etc/systemd/system/jailbuild-sync.timer
};
HookFiles hook_files(const std::string& root);

/// Writes the three files atomically, running `program` (an absolute path) with `state_dir`.
/// Returns the paths written.
std::vector<std::string> install_hook(const std::string& root, const std::string& program,
                                      const std::string& state_dir);
/// Removes them; returns the paths removed (absent ones are skipped).
std::vector<std::string> remove_hook(const std::string& root);

} // namespace jailbuild
