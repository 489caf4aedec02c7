// SPDX-License-Identifier: MIT
// The dependency walk: from root files, the whole closure ld.so would load, interpreter included,
// with every symlink hop on the way, read below a host root and never executed.
#pragma once
#include "jailbuild/elf.hpp"
#include "jailbuild/hostfs.hpp"
#include "jailbuild/ldso.hpp"

#include <compare>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <utility>
#include <vector>

namespace jailbuild {

/// A file the walk starts from.
struct WalkRoot {
  WalkRoot() = default;
  WalkRoot(std::string path_, std::string loaded_by_ = {}, std::string found_by_ = {})
      : path(std::move(path_)), loaded_by(std::move(loaded_by_)), found_by(std::move(found_by_)) {}
  std::string path; ///< absolute host path
  /// The program that dlopen()s this root at run time (a PHP extension and php-fpm): the root is
  /// then resolved in that program's namespace, with it as loader and executable. Empty: the root
  /// is a program (or a library inspected) of its own.
  std::string loaded_by;
  /// Why it is a root, for humans (`deps --tree`, the plan's requested_by): "module dir of PKG (dpkg)".
  /// Empty: given by the caller as it is.
  std::string found_by;
};

/// The identity of a file version, for caches: (device, inode, size, mtime, ctime). The ctime, which
/// no one can set back, catches an edit in place that kept the size and restored the mtime.
struct FileStamp {
  uint64_t dev = 0;
  uint64_t ino = 0;
  int64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0; ///< 0 in manifests written before it was recorded: never matches a file
  auto operator<=>(const FileStamp&) const = default;
};

/// The stamp of a file from its status.
FileStamp stamp_of(const struct stat& st);

enum class ObjectRole : uint8_t { root, interpreter, library, hwcaps_variant };

/// One object of the closure, deduplicated by (device, inode).
struct WalkObject {
  std::string path;               ///< canonical host path (every symlink resolved)
  std::vector<std::string> names; ///< host paths it was opened by, first one first
  std::vector<SymlinkHop> hops;   ///< every symlink met on those paths, in order
  ObjectRole role = ObjectRole::library;
  FileStamp stamp;
  ElfInfo elf;
  std::string found_by; ///< the WalkRoot::found_by of the first root that brought it in, if any
};

/// One DT_NEEDED (or PT_INTERP) edge: `from` needed `name`, found as object `to` (or not found).
struct WalkEdge {
  size_t from = 0;
  std::string name;
  std::optional<size_t> to;
  std::optional<SearchSource> found_in; ///< which rule found it; nullopt for a direct path or reuse
};

/// A name nobody could find, with every object that needed it.
struct Unresolved {
  std::string name;
  std::vector<std::string> needed_by; ///< canonical host paths
};

struct WalkResult {
  std::vector<WalkObject>
      objects; ///< in discovery order: each root, its interpreter, then its libraries breadth-first
  std::vector<WalkEdge> edges;
  std::vector<Unresolved> unresolved;
};

/// Reads the ELF facts of a file; the walk calls it once per (device, inode). Replaceable so that
/// sync can serve unchanged files from its cache instead of reading them again.
using ElfReader = std::function<ElfInfo(const std::string& real_path, const FileStamp& stamp)>;

/// The default reader: read_elf_dynamic().
ElfInfo read_elf_for_walk(const std::string& real_path, const FileStamp& stamp);

class Walker;

/// A walk that takes more roots after its result so far has been looked at: modules that libraries of
/// the closure dlopen() are found from the closure itself (package_db.hpp). `host` and `reader` must
/// outlive it.
class Walk {
public:
  Walk(const HostRoot& host, const ElfReader& reader);
  ~Walk();
  Walk(const Walk&) = delete;
  Walk& operator=(const Walk&) = delete;
  /// Walks the closure of more roots; throws as walk() does.
  void add(const std::vector<WalkRoot>& roots);
  /// The objects and edges so far (`unresolved` is filled by finish()).
  const WalkResult& so_far() const;
  /// The programs (their namespaces' keys: a root's path) whose namespace holds object `index`: the
  /// processes a module dlopen()ed by that object is loaded into.
  std::vector<std::string> namespaces_holding(size_t index) const;
  WalkResult finish() &&;

private:
  std::unique_ptr<Walker> walker_;
};

/// Walks the closure of `roots` below `host`. Throws Error for a missing, non-ELF or corrupt root or
/// library; names nobody could find are returned in `unresolved`, all of them.
WalkResult walk(const HostRoot& host, const std::vector<WalkRoot>& roots,
                const ElfReader& reader = read_elf_for_walk);

} // namespace jailbuild
