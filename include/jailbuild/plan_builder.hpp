// SPDX-License-Identifier: MIT
// Builds a plan from what the user asked (a JailSpec), the profiles, discovery of the services'
// configuration and the dependency walk. Reads the host, writes nothing.
#pragma once
#include "jailbuild/inputs.hpp"
#include "jailbuild/plan.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace jailbuild {

class HostRoot;
class ProfileSet;

/// Whether file digests are computed while planning (--dry-run shows them) or left to the
/// assembler, which hashes while it copies so that every byte is read once.
enum class Digests { now, while_copying };

/// What a jail path named by a spec is for; it decides what the path may not be.
enum class JailPathUse { bind_point, writable };

/// Why a jail path of a spec (or of a manifest, which may come from an archive) may not be used so,
/// or nullopt. Every such path is absolute, written cleanly (no empty, "." or ".." component, no
/// trailing slash), free of control characters, not the jail root and not in /.jailbuild, the
/// manifest directory root reads. A writable directory is also not a system directory of the jail
/// nor below one (/etc, /usr, /bin, /sbin, /lib*, /dev, /proc, /sys, /boot, /root), nor one of /var,
/// /var/lib, /var/log, /var/cache, /var/spool, /var/tmp, /tmp, /run as a whole: the service owning
/// it could replace what the jail runs with, or what root writes there.
std::optional<std::string> refused_jail_path(std::string_view path, JailPathUse use);

/// A bind mount as `--bind SRC:DEST[:ro|rw][,noexec]` writes it: both paths absolute, read-only unless
/// "rw" is given. Throws Error naming the argument for anything else; check_spec() judges the paths.
BindSpec parse_bind(std::string_view arg);

/// A writable directory as `--writable PATH[:USER[:GROUP]]` writes it: an absolute path, owned by
/// USER (www-data when not given) and GROUP (USER's when not given). Throws Error naming the argument
/// for anything else; check_spec() judges the path.
WritableSpec parse_writable(std::string_view arg);

/// Refuses, before anything is planned, a spec whose writable directories or bind mount points
/// refused_jail_path() refuses, a writable directory declared twice, nested in or holding another,
/// or at, in or around a bind mount point, and a bind source that is not a clean absolute path or
/// that refused_bind_source() refuses. Throws Error naming the path.
void check_spec(const JailSpec& spec);

/// Refuses a bind that a spec or a profile asks for (`requested_by` says which, for the message): a mount
/// point refused_jail_path() refuses, a source that is not a clean absolute path (no "..", no control
/// character) or that refused_bind_source() refuses. Throws Error naming the path.
void check_bind_spec(const BindSpec& bind, const std::string& requested_by);
/// Refuses a writable directory at, below or around a bind mount point: once mounted, the point is
/// the host's directory, and root would make the writable directory there, for the service to own.
void check_writable_beside_bind(const WritableSpec& writable, const std::string& point,
                                const std::string& requested_by);

/// An own file as `--file SRC:DEST[:secret]` writes it: both paths absolute. Throws Error naming the
/// argument for anything else; check_spec() judges the paths.
OwnFileSpec parse_own_file(std::string_view arg);

/// Refuses an own file whose source is not an absolute path free of control characters, or whose
/// destination refused_jail_path() refuses (not absolute or clean, the jail root, in /.jailbuild).
void check_own_file(const OwnFileSpec& file);

/// Whether a text holds a PEM private key ("-----BEGIN ... PRIVATE KEY-----": RSA, EC, encrypted...).
bool is_private_key_text(std::string_view text);

/// Refuses an --exclude pattern that is not an absolute, cleanly written jail path or glob (no
/// empty, "." or ".." part, no trailing slash, no control character), or that names the whole jail.
/// Throws Error naming the pattern.
void check_exclude(std::string_view pattern);

/// Whether a jail path is left out by an --exclude pattern: fnmatch() with FNM_PATHNAME ("*" never
/// crosses a "/") against the path or any of its parent directories (a directory excludes what is
/// below it).
bool excluded_by(std::string_view path, std::string_view pattern);

/// The entries no exclude matches. Throws Error naming the exclude when it matches what the jail needs
/// to run (a program, a library, a device node, a bind mount point, the accounts jailbuild writes);
/// an exclude matching nothing adds a warning (a typo leaves out nothing).
std::vector<PlanEntry> without_excluded(std::vector<PlanEntry> entries,
                                        const std::vector<std::string>& excludes,
                                        std::vector<std::string>& warnings);

/// The plan for a spec. Throws Error, before anything is written, for what check_spec() refuses, an
/// unknown profile, a service missing on the host (naming the Debian package), a bad profile entry
/// (file and line), a bind source open_bind_source() refuses, a writable directory holding an entry
/// of the plan or a bind of a profile, unresolved libraries (all of them at once) and conflicting
/// entries.
/// `reader` serves the ELF facts of the walk (sync passes one backed by the manifest's cache).
Plan build_plan(const HostRoot& host, const ProfileSet& profiles, const JailSpec& spec, Digests digests,
                const ElfReader& reader = read_elf_for_walk);

/// A plan and what it was made from (inputs.hpp), as create and sync keep them in the manifest.
struct RecordedPlan {
  Plan plan;
  PlanInputs inputs;
};

/// Loads the spec's profiles and builds its plan, recording every look at the host and at jailbuild's
/// own files (its executable and libraries, the profiles) on the way. Throws as build_plan().
RecordedPlan build_recorded_plan(HostRoot& host, const JailSpec& spec, Digests digests,
                                 const ElfReader& reader = read_elf_for_walk);

} // namespace jailbuild
