// SPDX-License-Identifier: MIT
// The host's Debian package database, read as files below a host root (var/lib/dpkg/status and
// var/lib/dpkg/info/*.list), never by running dpkg: which package ships a library of a closure, and
// what that package ships that the library loads at run time without any DT_NEEDED naming it (module
// directories: ImageMagick's coders, OpenSSL's providers, SASL and krb5 plugins, PKCS#11 modules) and
// the configuration those modules read. The walk with that rule applied is walk_with_modules().
#pragma once
#include "jailbuild/hostfs.hpp"
#include "jailbuild/walk.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace jailbuild {

/// One package of dpkg's status file, with the fields the module rule uses.
struct DpkgPackage {
  std::string name;                 ///< "libmagickcore-6.q16-6"
  std::string arch;                 ///< "amd64", "all"; empty when the paragraph has none
  std::string source;               ///< the source package's name (no version); the name when absent
  std::string version;              ///< "8:6.9.11.60+dfsg-1.6+deb12u16"
  std::string multi_arch;           ///< "same", "foreign", ...; empty when the paragraph has none
  std::vector<std::string> depends; ///< names in Pre-Depends, Depends, Recommends (every alternative)
  /// Its files are on disk in its version (Status: installed, and the states an apt run in progress
  /// leaves for a moment: triggers-pending, triggers-awaited, half-configured, unpacked).
  bool installed = false;
  bool operator==(const DpkgPackage&) const = default;
};

/// The packages of a status file's text, in order; paragraphs without a Package field are skipped.
std::vector<DpkgPackage> parse_dpkg_status(std::string_view text);

/// The paths of a dpkg file list (info/PKG.list), one per line, in order. A line that is not a clean
/// absolute path (relative, a "." or ".." or empty component, a control character, longer than
/// PATH_MAX) is skipped and counted: the list is the host's, but nothing it says is used unchecked.
struct DpkgList {
  std::vector<std::string_view> paths; ///< views into the text given
  size_t skipped = 0;
};
DpkgList parse_dpkg_list(std::string_view text);

/// A module file or configuration path the rule takes for a library, and the package whose list
/// names it.
struct RuntimeFile {
  std::string path;    ///< host path as the package's list names it
  std::string package; ///< dpkg's package name (no architecture)
};

/// The host's package database, read once per plan through HostRoot (so the plan's input record
/// notes every file read, and sync plans again after apt changed a package).
class PackageDb {
public:
  /// A real list is a few MiB at most (this host's largest ~1 MiB, all ~930 of them ~10 MiB).
  static constexpr std::uint64_t max_list_size = std::uint64_t{32} << 20;
  /// What all lists together may hold.
  static constexpr std::uint64_t max_lists_size = std::uint64_t{512} << 20;

  /// Reads the database below `host`; nullopt when there is none (no var/lib/dpkg/status: a fake or a
  /// non-Debian root), so that a jail is planned as before. Throws Error naming the file for an
  /// unreadable one or one over the limits. `host` must outlive the database.
  static std::optional<PackageDb> load(const HostRoot& host);
  PackageDb(PackageDb&&) = default;
  PackageDb(const PackageDb&) = delete; // the index holds views into the lists' text
  PackageDb& operator=(const PackageDb&) = delete;

  /// The installed package whose list names `host_path` (as it is, or through Debian's merged /usr:
  /// /lib/x/libz.so.1 for /usr/lib/x/libz.so.1); nullptr when none does.
  const DpkgPackage* owner_of(std::string_view host_path) const;

  /// What the library's package brings that the library loads at run time. The packages looked at:
  /// the owner and, transitively, each installed package it Depends, Pre-Depends on or Recommends that
  /// is built from the same source (Debian ships a library's data, configuration and plugins as
  /// sibling binary packages of its source: imagemagick-6-common, libsasl2-modules-db). From their
  /// lists: every shared object in a known module directory (module_dir_patterns), and, only when a
  /// module was found, every path below /etc or a known configuration directory. Only paths that
  /// exist on the host below /usr/lib, /lib, /usr/lib64, /lib64, /usr/share or /etc, resolved there
  /// too, regular files (and directories for configuration); a .la file only beside its module.
  struct Finds {
    std::vector<RuntimeFile> modules;
    std::vector<RuntimeFile> config;
    std::vector<RuntimeFile> libtool; ///< NAME.la beside each module NAME.so: libltdl opens it
  };
  Finds runtime_files_of(const DpkgPackage& owner) const;

  /// Patterns (fnmatch, FNM_PATHNAME, merged-/usr form) of directories whose shared objects a library
  /// dlopen()s by its own search rather than ld.so's.
  static const std::vector<std::string_view>& module_dir_patterns();

private:
  explicit PackageDb(const HostRoot& host) : host_(&host), resolver_(std::make_unique<ResolveCache>(host)) {}
  const DpkgPackage* find(std::string_view name, std::string_view arch) const;
  bool usable(const std::string& path, bool directory_ok) const;

  const HostRoot* host_;
  std::unique_ptr<ResolveCache> resolver_; ///< one plan's: the host does not change meanwhile
  std::vector<DpkgPackage> packages_;
  std::unordered_map<std::string, size_t> by_key_; ///< "name:arch" and "name" -> packages_ index
  std::vector<std::string> lists_;                 ///< each package's list text, by packages_ index
  std::unordered_map<std::string_view, size_t> shared_objects_; ///< list path of a .so -> package
};

/// A walk (see walk()) with the module rule applied until it finds nothing new: the module files
/// of every object's package are walked as roots dlopen()ed in each namespace that holds the object.
/// Names only module files need and the host lacks are warnings (the host's own program would fail
/// to load that module as well), not unresolved.
struct ModuleWalk {
  WalkResult result;
  std::vector<RuntimeFile> config;   ///< configuration of the packages whose modules were taken
  std::vector<RuntimeFile> libtool;  ///< the .la of each module, for loaders through libltdl
  std::vector<std::string> warnings; ///< for humans
};
ModuleWalk walk_with_modules(const HostRoot& host, const std::vector<WalkRoot>& roots,
                             const ElfReader& reader);

} // namespace jailbuild
