// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

struct stat;

namespace jailbuild {

class InputLog;
enum class Scrutiny : uint8_t;

/// One symlink met while resolving a path: its absolute host path and its link text, verbatim,
/// so that a jail can reproduce the hop exactly.
struct SymlinkHop {
  std::string path;
  std::string target;
  bool operator==(const SymlinkHop&) const = default;
};

/// A host path with every symlink resolved, and the hops taken on the way, in order.
struct ResolvedPath {
  std::string path;
  std::vector<SymlinkHop> hops;
};

/// The host file system seen from a root directory (--host-root). Every absolute path, including
/// absolute symlink targets and "..", stays below the root, as it would after chroot(2): a fake host
/// root in a test can never leak to the real /usr.
class HostRoot {
public:
  explicit HostRoot(std::string root = "/");

  const std::string& root() const { return root_; }
  /// The path on this machine of an absolute host path; nothing is resolved.
  std::string real(std::string_view host_path) const;
  /// Resolves every symlink of an absolute host path below the root. nullopt when a component is
  /// missing, a loop is met, or a non-directory is used as one.
  std::optional<ResolvedPath> resolve(std::string_view host_path) const;
  /// The most read_file() reads: configuration, /etc/passwd, dpkg's status and php-fpm's binary are
  /// far smaller, and a 10 GB "php.ini" must not be slurped.
  static constexpr std::uint64_t max_read_size = std::uint64_t{64} << 20;
  /// The whole content of a host file; throws Error naming the host path when it is missing, not a
  /// regular file (a FIFO is refused, never waited on) or larger than max_read_size.
  std::string read_file(std::string_view host_path) const;
  /// read_file() of a file that may be missing or not a regular file (an ld.so.conf include): nullopt
  /// then. Any other failure (EACCES, EIO, too large) throws as read_file() does.
  std::optional<std::string> read_file_if_regular(std::string_view host_path) const;
  /// read_file_if_regular() of a path already resolved (in a directory listed): no resolving again,
  /// a symlink there is nullopt, as a missing file. At most `max_size` bytes (and max_read_size):
  /// more throws Error naming the path before anything is read. For many files of one directory
  /// (dpkg's ~930 file lists), which resolving one by one would cost a lstat() per component each.
  std::optional<std::string> read_resolved_file(std::string_view resolved_path, std::uint64_t max_size) const;
  /// Host paths matching a glob pattern (absolute, host-relative), sorted.
  std::vector<std::string> glob(std::string_view pattern) const;
  /// True when the host path exists (symlinks followed below the root).
  bool exists(std::string_view host_path) const;

  // The primitives every host look of a plan goes through, so that an InputLog sees them all.
  /// lstat(2) of a host path whose directories hold no symlink (a resolved path); nullopt when it is
  /// missing. `scrutiny`: whole when its content or entries will be used, passed when only what it is.
  std::optional<struct stat> lstat(std::string_view host_path, Scrutiny scrutiny) const;
  /// stat(2), symlinks followed by the kernel: only for a path resolved below the root.
  std::optional<struct stat> stat(std::string_view host_path, Scrutiny scrutiny) const;
  /// The text of a symlink (the lstat() before it recorded what matters); nullopt when unreadable.
  std::optional<std::string> readlink(std::string_view host_path) const;
  /// The names in a host directory (resolved path), sorted, "." and ".." left out; empty when it is
  /// not a readable directory.
  std::vector<std::string> list_dir(std::string_view host_path) const;

  /// Records every look from now on into `log` (nullptr: stop). The log must outlive the looks.
  void set_input_log(InputLog* log) { log_ = log; }

private:
  /// The content of a regular file, or nullopt with `why` ("no such file", "not a regular file").
  std::optional<std::string> read_regular(std::string_view host_path, const char*& why) const;
  /// The reading of both: open (with `flags`), fstat, record, bound, read.
  std::optional<std::string> read_opened(const std::string& shown, const std::string& resolved,
                                         std::uint64_t max_size, const char*& why, int flags) const;
  /// lstat(2) or, following symlinks, stat(2) of a host path, recorded.
  std::optional<struct stat> look(std::string_view host_path, Scrutiny scrutiny, bool follow) const;
  std::string root_; // without trailing slash; "" for "/"
  InputLog* log_ = nullptr;
};

/// HostRoot::resolve() with the directories met memoised, for one run over a host that does not change
/// meanwhile (a plan, a walk): resolving thousands of paths below /usr then costs one lstat() each
/// instead of one per component.
class ResolveCache {
public:
  explicit ResolveCache(const HostRoot& host) : host_(host) {}
  std::optional<ResolvedPath> resolve(std::string_view host_path);
  /// A directory, resolved once and remembered (nullopt: missing or not a directory).
  const std::optional<ResolvedPath>& resolve_dir(std::string_view dir);
  const HostRoot& host() const { return host_; }

private:
  std::optional<ResolvedPath> resolve_in(std::string_view host_path, int& links_left);
  const std::optional<ResolvedPath>& resolve_dir_in(const std::string& dir, int& links_left);
  const HostRoot& host_;
  std::unordered_map<std::string, std::optional<ResolvedPath>> dirs_;
};

/// Lexical normalisation of an absolute path: collapses "//", "." and "..", never above "/".
std::string normalize_path(std::string_view path);
/// Collapses "//" and "." and a trailing slash but keeps "..": the kernel resolves ".." physically,
/// after the symlinks before it (a/link/.. is link's target's parent, not a), so only a resolver may.
std::string clean_path(std::string_view path);
/// The directory part of an absolute path ("/a/b" -> "/a", "/a" -> "/").
std::string dirname_of(std::string_view path);
/// Joins an absolute directory and a relative name, then normalises.
std::string join_path(std::string_view dir, std::string_view name);

} // namespace jailbuild
