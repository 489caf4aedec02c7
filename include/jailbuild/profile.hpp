// SPDX-License-Identifier: MIT
#pragma once
// Profiles: declarative TOML files saying what a service needs inside its jail.
//
// A profile is one file, NAME.toml, and is named NAME. Every top-level key is optional; any other
// key is an error naming the file and line, as is a value of the wrong type.
//
//   description = "one line"              # shown by `jailbuild profiles list`
//   include  = ["base", "nss"]            # profiles expanded before this one
//   package  = "nginx"                    # Debian package to suggest when `requires` is not met
//   requires = ["/usr/sbin/nginx"]        # host paths that must exist for the profile to be usable
//   discover = "nginx"                    # discovery hook to run: "nginx", "php-fpm" or "php-runtime"
//   users    = ["www-data"]               # host users carried into the jail
//   groups   = []                         # host groups carried into the jail
//   extend   = false                      # see "Precedence" below
//
//   [[dirs]]      # a directory created in the jail
//   path = "/tmp"   mode = "1777"   owner = "root"   group = "root"
//                   # mode: octal string, default "0755"; owner/group: name or number, default root
//   [[files]]     # host files copied in; path may be a glob
//   path = "/etc/nginx"   recursive = false   optional = false   dest = "/etc/nginx"   mode = "0644"
//                   # dest: jail path, default path (not allowed with a glob: each match keeps its
//                   # own path); mode: overrides the host's mode; optional: a missing path (or a
//                   # glob matching nothing) is not an error
//   owner = "root"   group = "www-data"
//                   # default: the host file's owner and group, mapped by name to the jail's
//                   # accounts (refused when the jail lacks one the mode gives access); a name or
//                   # number here replaces that and brings the account into the jail as [[dirs]] do
//   [[symlinks]]  # a symlink created in the jail, target stored verbatim
//   path = "/lib"   target = "usr/lib"
//   [[devices]]   # a device node created in the jail
//   path = "/dev/null"   type = "char"   major = 1   minor = 3   mode = "0666"
//                   # type: "char" or "block"; mode default "0600", so access is opened explicitly
//   [[elf]]       # ELF files copied in with the closure of their shared libraries; globs allowed
//   paths = ["/usr/sbin/nginx"]   optional = false      # optional: as for [[files]]
//   [[generate]]  # a file whose content is written by jailbuild, not copied from the host
//   path = "/etc/nsswitch.conf"   mode = "0644"   content = "..."      # mode default "0644"
//   [[binds]]     # a bind mount set up when the jail is entered
//   source = "/run/mysqld"   dest = "/run/mysqld"   access = "ro"   noexec = false
//                   # dest default source; access "ro" (default) or "rw"
//
// Paths are absolute. Jail-side paths (dirs, files.dest, symlinks.path, devices, generate,
// binds.dest) may not contain "..", so no profile can name a place outside the jail.
//
// Variables: path strings (not content) may contain $TRIPLET, the multiarch triplet
// ("x86_64-linux-gnu"), and $PHP, the PHP version ("8.2"). They are stored verbatim here and
// substituted when the plan is made; any other "$NAME" is an error.
//
// Precedence: ProfileSet::load reads directories in increasing precedence, the built-in directory
// first. A later NAME.toml replaces an earlier one, unless it says `extend = true`: then its lists
// are appended to the earlier profile's and the scalars it sets (description, package, discover)
// override.
#include "jailbuild/error.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace jailbuild {

/// Where a profile entry was written, so that a later step can name the file and line in an error.
struct SourceLine {
  std::string file;
  std::uint32_t line = 0;
};

/// An Error pointing at a profile entry: "<file>: line N: <what>".
Error profile_error(const SourceLine& at, const std::string& what);

/// Whether a missing host path is an error.
enum class Presence { required, optional };
/// Whether a directory is copied with everything below it.
enum class Recursive { no, yes };
enum class BindAccess { read_only, read_write };
/// Whether a bind mount forbids executing its files.
enum class NoExec { no, yes };
/// The discovery hook a profile asks for; the hooks themselves live in the discovery module.
/// php_runtime: the pools of php-fpm whose workers chroot (`chroot =`) into the jail, without php-fpm.
enum class Discovery { none, nginx, php_fpm, php_runtime };

/// The name a profile uses for a discovery hook ("nginx", "php-fpm", "php-runtime"; "" for none).
std::string_view to_string(Discovery discovery);

struct DirSpec {
  std::string path;
  std::uint32_t mode = 0755;
  std::string owner = "root"; ///< a user name, or a number as decimal digits
  std::string group = "root"; ///< a group name, or a number as decimal digits
  SourceLine written_at;
};

struct FileSpec {
  std::string path; ///< host path or glob
  std::string dest; ///< jail path; equal to path when not given (always so for a glob)
  Recursive recursive = Recursive::no;
  Presence presence = Presence::required;
  std::optional<std::uint32_t> mode; ///< replaces the host's permission bits when set
  std::optional<std::string> owner;  ///< replaces the host's owner when set (a name, or decimal digits)
  std::optional<std::string> group;  ///< replaces the host's group when set (a name, or decimal digits)
  SourceLine written_at;
};

struct SymlinkSpec {
  std::string path;
  std::string target; ///< link text, verbatim
  SourceLine written_at;
};

struct DeviceSpec {
  // Nested: plan.hpp and jailfs.hpp each have a namespace-level device enum of their own.
  enum class Type { character, block };
  std::string path;
  Type type = Type::character;
  std::uint32_t major = 0;
  std::uint32_t minor = 0;
  std::uint32_t mode = 0600;
  SourceLine written_at;
};

struct ElfSpec {
  std::vector<std::string> paths; ///< host paths or globs
  Presence presence = Presence::required;
  SourceLine written_at;
};

struct GeneratedSpec {
  std::string path;
  std::uint32_t mode = 0644;
  std::string content;
  SourceLine written_at;
};

/// A bind mount a profile asks for (plan.hpp's BindSpec is the plan's, without a source line).
struct BindMountSpec {
  std::string source; ///< host path
  std::string dest;   ///< jail path; equal to source when not given
  BindAccess access = BindAccess::read_only;
  NoExec noexec = NoExec::no;
  SourceLine written_at;
};

/// One profile after precedence is applied: a replaced profile is gone, an extended one holds the
/// lists of every file that extended it.
struct Profile {
  std::string name;
  std::vector<std::string> sources; ///< files read, in order: the defining file, then extensions
  std::string description;
  std::vector<std::string> includes;
  std::string package;                     ///< "" when not given
  std::vector<std::string> required_paths; ///< `requires` in the file (a C++ keyword)
  Discovery discover = Discovery::none;
  std::vector<std::string> users;
  std::vector<std::string> groups;
  std::vector<DirSpec> dirs;
  std::vector<FileSpec> files;
  std::vector<SymlinkSpec> symlinks;
  std::vector<DeviceSpec> devices;
  std::vector<ElfSpec> elf;
  std::vector<GeneratedSpec> generate;
  std::vector<BindMountSpec> binds;
};

/// The profile directory that comes with this jailbuild, found from the running executable as its
/// modules are (module.hpp): `<prefix>/share/jailbuild/profiles` for `<prefix>/sbin/jailbuild`, or
/// the source tree's `profiles/` for a program of its build tree. Never a directory that merely
/// exists: an installed jailbuild run by root from the apt hook must not read a source tree that a
/// developer left behind.
std::string builtin_profile_dir();

/// Why root may not read profiles from `dir`, or nullopt when it may. A profile says which host
/// files root copies into a jail and which devices it makes, so only the host's administrators may
/// write one: `dir` must be a normalised absolute path; it and every directory above it must be a
/// real directory (no symlink) owned by root, by the user running jailbuild or by `also_trusted`
/// (the owner of the executable, for its built-in profiles), and not writable by group or others
/// (above `dir` a sticky bit will do; a missing `dir` needs an existing parent no one else may write,
/// or anyone could make it); and none of them may hold a `.jailbuild/` directory, which every jail
/// jailbuild makes or unpacks has from the start: nothing inside a jail chooses what root reads.
std::optional<std::string> profile_dir_problem(const std::string& dir, uid_t also_trusted = 0);

/// Where profiles are read from, in increasing precedence: builtin_profile_dir(),
/// CONFIG/profiles.d (--config-dir, /etc/jailbuild by default), then `extra` (--profiles-dir given on
/// this host's command line or in a jail's definition). Throws Error(dir, ...) for the first that
/// profile_dir_problem() refuses.
std::vector<std::string> host_profile_dirs(const std::vector<std::string>& extra,
                                           const std::string& config_dir = "/etc/jailbuild");

/// For sync: host_profile_dirs(), then the extra directories a manifest recorded after its first
/// two (given on the create command line of this host), each checked again: one that no longer
/// passes (made writable, moved into a jail, or written into the manifest by an archive) is left
/// out with a warning. They are trusted at all only because root named them on this host.
std::vector<std::string> recorded_profile_dirs(const std::vector<std::string>& recorded,
                                               std::vector<std::string>& warnings,
                                               const std::string& config_dir = "/etc/jailbuild");

/// Every profile found in a list of directories. Checked as a whole when loaded (syntax, types,
/// includes naming existing profiles, no include cycles), so later steps can trust it.
class ProfileSet {
public:
  /// Reads NAME.toml from each directory, in increasing precedence. The first (built-in) directory
  /// must exist; a later one may be missing, as /etc/jailbuild/profiles.d usually is. Throws Error.
  static ProfileSet load(const std::vector<std::string>& dirs);

  /// Every profile name, sorted.
  std::vector<std::string> names() const;
  /// The profile called name, or nullptr.
  const Profile* find(std::string_view name) const;
  /// The profiles to apply for `--with names`: each included profile before the one including it,
  /// each profile once, in a deterministic order. Throws Error("--with", ...) for an unknown name.
  /// The pointers live as long as this set.
  std::vector<const Profile*> expand(const std::vector<std::string>& names) const;
  /// The text of a profile as read, for `jailbuild profiles show`: each source file preceded by a
  /// "# <path>" line. Throws Error("profiles show", ...) for an unknown name.
  std::string source_text(std::string_view name) const;

private:
  struct Entry {
    Profile profile;
    std::string text; // every source file, with its header line
  };
  const Entry& entry_or_throw(std::string_view name, const std::string& what_asked) const;

  std::map<std::string, Entry, std::less<>> entries_;
};

} // namespace jailbuild
