// SPDX-License-Identifier: MIT
// The jails of this host: create and unpack register them, `sync --all` and the apt hook read them.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jailbuild {

/// The default state directory; tests and unusual setups pass --state-dir instead.
inline constexpr const char* default_state_dir = "/var/lib/jailbuild";

/// Why a path cannot name a jail, or nullopt: it must be absolute, and hold no control character (a
/// newline would split its line in the registry, and `sync --all` would read two other paths).
std::optional<std::string> unrecordable_path(std::string_view path);

/// A list of jail directories kept in STATE_DIR/jails, one absolute path per line, rewritten
/// atomically (temporary file + rename) under an exclusive lock.
class Registry {
public:
  explicit Registry(std::string state_dir = default_state_dir);
  /// Adds a jail (a no-op when present). Creates the state directory (0755 root) if needed. Throws
  /// Error for a path unrecordable_path() refuses.
  void add(const std::string& jail);
  /// Removes a jail (a no-op when absent).
  void remove(const std::string& jail);
  /// The registered jails, sorted; empty when the registry does not exist yet.
  std::vector<std::string> list() const;
  const std::string& state_dir() const { return dir_; }

private:
  void rewrite(const std::vector<std::string>& jails);
  std::string dir_;
};

/// Whether a registered jail that no longer exists is removed from the registry (a dry run keeps it).
enum class Unregister { gone, none };

/// The registered jails, for `sync --all`.
struct RegisteredJails {
  std::vector<std::string> present; ///< still there (or not known to be gone): to be synced
  std::vector<std::string> gone;    ///< deleted by hand (ENOENT), left out
};

/// The registered jails, those deleted by hand set apart and, with Unregister::gone, removed from the
/// registry: a jail deleted by hand must not make every later apt run report an error. Only a jail
/// that is certainly gone (ENOENT) is left out; any other failure to look is sync's to report.
RegisteredJails registered_jails(Registry& registry, Unregister unregister);

} // namespace jailbuild
