// SPDX-License-Identifier: MIT
// Builds a plan from what the user asked (a JailSpec), the profiles, discovery of the services'
// configuration and the dependency walk. Reads the host, writes nothing.
#pragma once
#include "jailbuild/inputs.hpp"
#include "jailbuild/plan.hpp"

namespace jailbuild {

class HostRoot;
class ProfileSet;

/// Whether file digests are computed while planning (--dry-run shows them) or left to the
/// assembler, which hashes while it copies so that every byte is read once.
enum class Digests { now, while_copying };

/// The plan for a spec. Throws Error, before anything is written, for an unknown profile, a service
/// missing on the host (naming the Debian package), a bad profile entry (file and line), unresolved
/// libraries (all of them at once) and conflicting entries.
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
