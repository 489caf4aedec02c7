// SPDX-License-Identifier: MIT
// The dynamic linker's search rules (glibc 2.36, Debian multiarch), as pure functions: which
// directories ld.so tries, in which order, for a DT_NEEDED name. No file is touched here except
// ld.so.conf; the walk (walk.hpp) tries the candidates on the host.
#pragma once
#include "jailbuild/elf.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jailbuild {

class HostRoot;

/// What the rules need to know about the target platform of an ELF object.
struct Platform {
  std::string triplet;  ///< "x86_64-linux-gnu"
  std::string lib;      ///< the expansion of $LIB: "lib/x86_64-linux-gnu" on Debian
  std::string platform; ///< the expansion of $PLATFORM (AT_PLATFORM): "x86_64"
  /// Subdirectories tried in each search directory before the directory itself, in ld.so's order:
  /// glibc-hwcaps levels, then the legacy hwcaps directories (tls, $PLATFORM) glibc 2.36 still tries.
  std::vector<std::string> hwcap_subdirs;
  /// The system search path compiled into Debian's ld.so.
  std::vector<std::string> default_dirs;
};

/// The platform of an ELF object, from its machine, class, byte order and flags (never hard-coded).
/// Throws Error naming `path` for a machine without a known Debian triplet.
Platform platform_for(const ElfInfo& info, const std::string& path);

/// An object as the search rules see it.
struct LinkerObject {
  std::string origin;                 ///< the expansion of $ORIGIN for this object
  std::optional<std::string> rpath;   ///< raw DT_RPATH
  std::optional<std::string> runpath; ///< raw DT_RUNPATH
  bool nodeflib = false;
};

/// The $ORIGIN of an object: the directory of the path it was opened by, symlinks not resolved;
/// for the main executable ld.so asks the kernel (/proc/self/exe), which resolves them.
enum class OriginOf { library, main_executable };
std::string origin_of(const std::string& opened_as, const std::string& resolved, OriginOf kind);

/// Splits a DT_RPATH/DT_RUNPATH string on ':' (LIEF's paths() mangles empty elements) and expands
/// $ORIGIN, $LIB, $PLATFORM (and their ${} forms). An empty or relative element is relative to the
/// working directory at run time; for a chrooted daemon that is the jail root, so it becomes "/".
std::vector<std::string> expand_search_list(std::string_view list, const std::string& origin,
                                            const Platform& platform);

/// Expands $ORIGIN, $LIB, $PLATFORM (and ${...}) in one string, nothing else: ld.so does this for
/// DT_NEEDED names too ("$ORIGIN/../lib/libx.so").
std::string expand_tokens(std::string_view text, const std::string& origin, const Platform& platform);

/// Where a search directory came from, for --tree and --json and for error messages.
enum class SearchSource { rpath, runpath, ld_so_conf, default_dirs };
std::string_view to_string(SearchSource source);

struct SearchDir {
  std::string dir;
  SearchSource source;
  bool operator==(const SearchDir&) const = default;
};

/// The directories ld.so searches for a DT_NEEDED name without '/', in order.
/// `chain` is the requester first, then the object that loaded it, and so on up to the first object
/// loaded (the executable, or the program that dlopen()ed a module); `executable` is the main program.
/// - DT_RPATH of every object in the chain, then of the executable, only if the requester has no
///   DT_RUNPATH (an object's own DT_RPATH is ignored when it has a DT_RUNPATH);
/// - DT_RUNPATH of the requester only: it is not transitive;
/// - the ld.so.conf directories (what /etc/ld.so.cache holds), then the default directories,
///   both skipped when the requester has DF_1_NODEFLIB.
std::vector<SearchDir> search_dirs(const std::vector<const LinkerObject*>& chain,
                                   const LinkerObject& executable,
                                   const std::vector<std::string>& ld_so_conf_dirs, const Platform& platform);

/// The directories of /etc/ld.so.conf read below the host root, following `include` globs
/// (relative to the including file's directory), in file order, without duplicates.
std::vector<std::string> read_ld_so_conf(const HostRoot& host, const std::string& conf = "/etc/ld.so.conf");

} // namespace jailbuild
