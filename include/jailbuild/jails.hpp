// SPDX-License-Identifier: MIT
// The host's jails as commands name them: NAME or DIR resolved through the definitions
// (definition.hpp), the jails made before definitions (in the registry only) given one, and the set
// `sync --all` goes through.
#pragma once
#include "jailbuild/definition.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/registry.hpp"

#include <optional>
#include <string>
#include <vector>

namespace jailbuild {

/// A jail as a command named it.
struct JailRef {
  std::string dir;
  /// Its definition; nullopt for a jail made before definitions (or, for audit, not by jailbuild).
  std::optional<Definition> definition;
};

/// What a command's jail argument means. One with a '/' is a DIR (absolute: the command line made it
/// so): the jail whose definition names that dir, or a jail without a definition. Anything else is
/// a NAME: its definition, or Error(name, "no jail called ...") when there is none. Throws Error for a
/// definition root must not trust (definition.hpp) met on the way: a DIR is looked up in every
/// definition, and one that cannot be read might be this jail's.
JailRef resolve_jail(const Definitions& definitions, const std::string& arg);

/// The spec a sync applies for a definition: its own, with the profile directories complete
/// (built-in, CONFIG/profiles.d, then the definition's, each checked by host_profile_dirs()).
JailSpec spec_to_apply(const Definition& definition, const std::string& config_dir);

/// Refuses a definition for `dir` called `name` that would share a name or a dir with another jail:
/// NAME's definition names another dir, or another definition names `dir`. Throws Error.
void check_unique(const Definitions& definitions, const std::string& name, const std::string& dir);

/// Writes the definition of a jail made before definitions (or just unpacked) from its manifest's
/// spec: after check_jail_location(), untrusted_jail(), check_spec() and the profile-directory checks
/// (recorded_profile_dirs(); the ones left out are added to `warnings`), so that it holds only what
/// sync would have applied anyway. `name` empty: the directory's base name. Never overwrites a
/// definition (check_unique()). Returns it.
Definition define_from_manifest(Definitions& definitions, const std::string& dir, std::string name,
                                std::vector<std::string>& warnings);

/// What `sync --all` goes through: every registered jail, with its definition when it has one.
/// A defined jail that is not registered (its last create failed its audit) is left out: root's apt
/// hook never syncs a jail that failed its audit. `gone` lists registered jails deleted by hand.
/// A definition root must not trust is never obeyed: it is in `refused`, for the caller to report
/// while the other jails are synced (a registered jail it may have been for then has no definition:
/// its migration meets the refused file, under its name, and stops there, or it is synced from its
/// manifest as before definitions existed).
struct AllJails {
  std::vector<JailRef> jails;
  std::vector<std::string> gone;
  std::vector<std::string> unregistered; ///< names of defined jails that are not registered
  std::vector<Error> refused;
};
AllJails jails_to_sync(const Definitions& definitions, Registry& registry, Unregister unregister);

} // namespace jailbuild
