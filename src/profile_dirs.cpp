// SPDX-License-Identifier: MIT
// Which profile directories root reads (profile.hpp): the host's own, checked, never one inside a
// jail or one an archive named. A profile decides which host files root copies into a jail and
// which device nodes it makes there, so whoever may write a profile directory owns the host. Kept
// apart from profile.cpp, the TOML reader, as discover keeps its two halves apart.
#include "jailbuild/profile.hpp"

#include "jailbuild/error.hpp"
#include "jailbuild/fd.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

namespace jailbuild {

namespace {

/// The directory each jail holds from its first moment (manifest.hpp's manifest_dir; the profile
/// module does not depend on the manifest's).
constexpr const char* jail_marker = ".jailbuild";

bool normalised_absolute(const std::string& path) {
  if (path.empty() || path.front() != '/') return false;
  if (path == "/") return true;
  if (path.back() == '/') return false;
  for (std::size_t at = 1; at <= path.size();) {
    std::size_t end = std::min(path.find('/', at), path.size());
    std::string_view part = std::string_view(path).substr(at, end - at);
    if (part.empty() || part == "." || part == "..") return false;
    at = end + 1;
  }
  return true;
}

/// "/", "/a", "/a/b" for "/a/b".
std::vector<std::string> prefixes_of(const std::string& path) {
  std::vector<std::string> out = {"/"};
  for (std::size_t at = path.find('/', 1); at != std::string::npos; at = path.find('/', at + 1))
    out.push_back(path.substr(0, at));
  if (path != "/") out.push_back(path);
  return out;
}

/// The owner of the running executable: its built-in profiles are exactly as trusted as it is (a
/// build tree's source profiles belong to whoever owns the build).
uid_t executable_owner() {
  struct stat st {};
  return ::stat("/proc/self/exe", &st) == 0 ? st.st_uid : 0;
}

} // namespace

std::string builtin_profile_dir() {
  const std::string exe = executable_path();
  const std::string dir = exe.substr(0, exe.rfind('/'));
  const std::string build = JB_BUILD_DIR;
  // A program of the build tree (jailbuild, the unit tests) reads the profiles it was built with.
  if (dir == build || dir.starts_with(build + "/")) return JB_SOURCE_PROFILES_DIR;
  return std::filesystem::path(dir + "/" JB_PROFILES_DIR_FROM_EXE).lexically_normal().string();
}

std::optional<std::string> profile_dir_problem(const std::string& dir, uid_t also_trusted) {
  if (!normalised_absolute(dir)) return "not a normalised absolute path";
  const uid_t me = ::geteuid();
  std::string deepest; // the deepest directory that exists
  for (const std::string& p : prefixes_of(dir)) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) {
      if (errno != ENOENT) return p + ": cannot inspect: " + std::strerror(errno);
      // Missing: whoever may write its parent may make it, sticky bit or not.
      struct stat parent {};
      if (::lstat(deepest.c_str(), &parent) == 0 && (parent.st_mode & (S_IWGRP | S_IWOTH)))
        return deepest + " is writable by group or others, who could make " + p;
      return std::nullopt;
    }
    if (S_ISLNK(st.st_mode)) return p + " is a symlink: give the real path";
    if (!S_ISDIR(st.st_mode)) return p + " is not a directory";
    if (st.st_uid != 0 && st.st_uid != me && st.st_uid != also_trusted)
      return p + " is owned by uid " + std::to_string(st.st_uid) + ", not root";
    const bool writable = (st.st_mode & (S_IWGRP | S_IWOTH)) != 0;
    if (writable && (p == dir || !(st.st_mode & S_ISVTX)))
      return p + " is writable by group or others" + (p == dir ? "" : " without the sticky bit");
    struct stat marker {};
    if (::lstat((p == "/" ? "/" + std::string(jail_marker) : p + "/" + jail_marker).c_str(), &marker) == 0)
      return p + " is a jail (it holds " + jail_marker + "/): profiles are never read from inside one";
    deepest = p;
  }
  return std::nullopt;
}

std::vector<std::string> host_profile_dirs(const std::vector<std::string>& extra,
                                           const std::string& config_dir) {
  // The administrators' own profiles live beside the jails' definitions, in the same trusted place.
  std::vector<std::string> dirs = {builtin_profile_dir(), config_dir + "/profiles.d"};
  dirs.insert(dirs.end(), extra.begin(), extra.end());
  const uid_t exe_owner = executable_owner();
  for (std::size_t i = 0; i < dirs.size(); ++i)
    if (std::optional<std::string> problem = profile_dir_problem(dirs[i], i == 0 ? exe_owner : 0))
      throw Error(dirs[i], "refusing to read profiles here: " + *problem);
  return dirs;
}

std::vector<std::string> recorded_profile_dirs(const std::vector<std::string>& recorded,
                                               std::vector<std::string>& warnings,
                                               const std::string& config_dir) {
  std::vector<std::string> dirs = host_profile_dirs({}, config_dir);
  for (std::size_t i = 2; i < recorded.size(); ++i) {
    if (std::find(dirs.begin(), dirs.end(), recorded[i]) != dirs.end()) continue;
    if (std::optional<std::string> problem = profile_dir_problem(recorded[i]))
      warnings.push_back(recorded[i] + ": profile directory recorded in the manifest left out: " + *problem);
    else
      dirs.push_back(recorded[i]);
  }
  return dirs;
}

} // namespace jailbuild
