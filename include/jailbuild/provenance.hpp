// SPDX-License-Identifier: MIT
// Where a jail's files came from, and whether a host can run them: the packing host's package state
// (recorded by pack in the manifest's provenance, compared by sync), and the target-host checks of
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

/// sha256 of "name version\n" per package, in the given order: Provenance::packages_digest.
std::string packages_digest(const std::vector<PackagePin>& packages);

/// What is wrong with the package record of a packed jail, or nullopt: a provenance that lists no
/// packages, or whose packages_digest is not that of its list, cannot tell sync whether this host
/// may refresh the jail's files, so it is a refusal (at unpack and at sync), never a pass.
std::optional<std::string> provenance_problem(const Provenance& provenance);

/// For sync, before it refreshes files from the host. nullopt when the jail was built here (its
/// manifest has no provenance) or when every package its files came from is installed here in the same
/// version. Otherwise a message naming each difference, e.g. "this jail was packed on web1, whose
/// packages differ from this host's: libc6:amd64 2.36-9+deb12u4 there, 2.36-9+deb12u7 here;
/// php8.2-fpm 8.2.20-1~deb12u1 there, not installed here", or provenance_problem()'s. Sync should then
/// refuse to refresh (copying some libraries from this host would mix two versions of one package).
std::optional<std::string> package_mismatch(const Manifest& manifest, const HostRoot& host);

/// What adopt_archive_spec() made of an archive's spec: errors refuse the archive, warnings are
/// for the admin.
struct AdoptedSpec {
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
};

/// Rebuilds an archive's spec from what this host allows, in place, before unpack writes anything:
/// an archive names host paths (profile directories, the host root, bind sources) and every later
/// sync and mount would act on them as root. Services must name profiles this host has
/// (`known_profiles`; an error naming each other one); the profile directories become this host's
/// (`host_dirs`; those of the archive are dropped with a warning); the host root becomes "/"; every
/// bind is removed from the spec and the plan, with a warning giving the --bind options that
/// declare it on this host (profiles' binds come back with the first sync, from this host's
/// profiles); a --writable directory that is not a plain jail directory of its own ("/", "..", a
/// system directory, one inside another) is dropped with a warning, and so is a site check_sites()
/// refuses; a site's source (a host path create copies in) is dropped. What the plan was made from
/// (inputs) and the packing host's file stamps are dropped too: the first sync plans again from
/// this host, and no recorded digest or ELF fact stands in for a file of this host. `jail_dir`
/// names the jail in the commands the warnings suggest.
AdoptedSpec adopt_archive_spec(Manifest& manifest, const std::vector<std::string>& known_profiles,
                               const std::vector<std::string>& host_dirs, const std::string& jail_dir);

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
/// the kernel against provenance->min_kernel; the CPU against every glibc-hwcaps level the jail relies
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
