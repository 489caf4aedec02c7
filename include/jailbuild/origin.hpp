// SPDX-License-Identifier: MIT
// Where a jail's files came from, and whether a host can run them: the packing host's package state
// (recorded by pack in the manifest's origin, compared by sync), and the target-host checks of
// unpack. Pure reading of host files; the archive code lives in pack.hpp.
#pragma once
#include "jailbuild/elf.hpp"
#include "jailbuild/manifest.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jailbuild {

class HostRoot;

/// The installed Debian packages owning the host sources of the plan's files, read from dpkg's
/// info/*.list and status below the host root, sorted by name. Sources no package owns are skipped;
/// no dpkg database gives an empty list.
std::vector<PackagePin> owning_packages(const Plan& plan, const HostRoot& host);

/// sha256 of "name version\n" per package, in the given order: PackOrigin::packages_digest.
std::string packages_digest(const std::vector<PackagePin>& packages);

/// For sync, before it refreshes files from the host. nullopt when the jail was built here (its
/// manifest has no origin) or when every package its files came from is installed here in the same
/// version. Otherwise a message naming each difference, e.g. "this jail was packed on web1, whose
/// packages differ from this host's: libc6:amd64 2.36-9+deb12u4 there, 2.36-9+deb12u7 here;
/// php8.2-fpm 8.2.20-1~deb12u1 there, not installed here". Sync should then refuse to refresh
/// (copying some libraries from this host would mix two versions of one package in the jail).
std::optional<std::string> package_mismatch(const Manifest& manifest, const HostRoot& host);

/// What unpack needs to know about the host it runs on. this_host() reads it; tests make their own.
struct HostFacts {
  ElfIdentity identity{ElfClass::elf64, Endian::little, 0}; ///< of the running jailbuild
  std::string kernel_release;                               ///< uname -r: "6.1.0-18-amd64"
  std::vector<std::string> cpu_flags;                       ///< /proc/cpuinfo "flags" (x86)
  std::string passwd;                                       ///< the content of /etc/passwd
};
HostFacts this_host();

/// The outcome of check_host: errors mean the jail cannot run here; warnings are worth a look.
struct HostCheck {
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
};

/// Checks a manifest against a host: the ELF machine, class and byte order of the jail's objects;
/// the kernel against origin->min_kernel; the CPU against every glibc-hwcaps level the jail relies
/// on. Warns when a jail uid has another name on this host (host tools would show, and act as,
/// another user on the jail's files).
HostCheck check_host(const Manifest& manifest, const HostFacts& host);

/// The glibc-hwcaps levels (e.g. "x86-64-v3") holding a library with no copy in the directory
/// above glibc-hwcaps/: the jail can only load it on a CPU with that level. Sorted, unique.
std::vector<std::string> required_hwcaps(const Plan& plan);

/// Whether CPU flags (as /proc/cpuinfo names them) meet a glibc-hwcaps level; nullopt for a level
/// this check does not know (not x86-64-v2/v3/v4).
std::optional<bool> cpu_meets(std::string_view level, const std::vector<std::string>& cpu_flags);

/// Whether a kernel release ("6.1.0-18-amd64") is at least a version ("3.2.0"); missing parts are 0.
bool kernel_at_least(std::string_view release, std::string_view minimum);

} // namespace jailbuild
