// SPDX-License-Identifier: MIT
// A jail's definition: what it was asked for, in CONFIG/jails/NAME.toml, outside the jail. The
// manifest inside the jail records what is installed; the definition records the admin's intent,
// and it is what root trusts: nothing inside a jail may choose what the next sync installs, binds or
// reads on the host. create writes it, an admin may edit it (and keep it in version control), sync
// reads it.
#pragma once
#include "jailbuild/plan.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jailbuild {

/// The default configuration directory (profiles.d and jails/ live there); --config-dir overrides it.
inline constexpr const char* default_config_dir = "/etc/jailbuild";

/// Why `name` cannot name a jail, or nullopt. A name is `[a-z0-9][a-z0-9_-]*`, at most 64 characters:
/// it becomes a file name (CONFIG/jails/NAME.toml) and, later, part of systemd unit names, so it
/// holds no '/', no '.', no upper case and nothing a shell or systemd would read specially.
std::optional<std::string> invalid_jail_name(std::string_view name);

/// The name a jail gets when none is given: its directory's base name, lower-cased, every character
/// but [a-z0-9_-] made '-' and what leads before a letter or digit dropped ("/var/www/Example.com":
/// "example-com"). Throws Error(dir, ...) when nothing valid is left (then --name is needed).
std::string default_jail_name(const std::string& dir);

/// One definition. `spec.name` is the name; `spec.profile_dirs` holds only the extra profile
/// directories the admin named (the built-in one and CONFIG/profiles.d are found again each run).
struct Definition {
  std::string dir;
  JailSpec spec;
  bool operator==(const Definition&) const = default;
};

/// The definition as TOML: a header comment saying what the file is, then the keys in a fixed order,
/// so that a definition kept in version control changes only where the jail's intent did.
std::string definition_to_toml(const Definition& definition);

/// Parses a definition's text; `file` names it in errors ("<file>: line N: <what>", as profile errors
/// do). Unknown keys are errors (a misspelt key would silently change nothing); so are a name that
/// differs from `expected_name` (the file's) and a dir that is not a clean absolute path.
Definition definition_from_toml(std::string_view text, const std::string& file,
                                std::string_view expected_name);

/// Whether a definition is written over one that differs.
enum class Rewrite { no, yes };

/// The definitions of a configuration directory (CONFIG/jails/*.toml).
class Definitions {
public:
  explicit Definitions(std::string config_dir = default_config_dir);
  const std::string& config_dir() const { return config_dir_; }
  /// CONFIG/jails
  std::string dir() const { return config_dir_ + "/jails"; }
  /// CONFIG/jails/NAME.toml
  std::string path_of(std::string_view name) const;

  /// NAME's definition, or nullopt when there is none. Throws Error with the reason for a definition
  /// root must not trust: the file or a directory above it is not root's or is writable by group or
  /// others (they could make root bind /etc into a jail, or copy /etc/shadow into it), the file is a
  /// symlink or not a regular file, or is over 1 MiB; and for a syntax error (file and line).
  std::optional<Definition> read(std::string_view name) const;
  /// Every definition, sorted by name. Throws Error for the first one read() refuses: a sync --all
  /// must not quietly skip a jail; the caller decides whether to go on.
  std::vector<std::string> names() const;
  /// Writes NAME's definition atomically, root's, 0644, making CONFIG and CONFIG/jails (0755) if
  /// needed. Rewrite::no leaves an existing definition alone if it differs (returns false); one that
  /// says the same, however written, is never rewritten (the admin's comments stay). Returns whether
  /// it wrote.
  bool write(const Definition& definition, Rewrite rewrite);
  /// Removes NAME's definition (absent is a no-op).
  void remove(std::string_view name);

private:
  std::string config_dir_;
};

} // namespace jailbuild
