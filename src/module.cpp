// SPDX-License-Identifier: MIT
// Finding and loading jailbuild's own modules (module.hpp says what they are and why).
//
// jailbuild runs as root, from apt hooks and timers: a module is only ever loaded by absolute path
// from the executable's own directory or the installed module directory beside it, places exactly as
// trusted as the executable itself. dlopen() with a bare name would search LD_LIBRARY_PATH and the
// like, letting whoever sets the environment run code as root; the current directory is never
// searched either. (A module's own libraries, libLIEF.so.0 and the like, are found the way the
// executable's are at start-up: nothing is trusted that was not trusted already.)
#include "jailbuild/module.hpp"

#include "jailbuild/fd.hpp"

#include <cerrno>
#include <climits>
#include <cstring>
#include <dlfcn.h>
#include <filesystem>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace jailbuild {

namespace {

/// The directory of the running executable: the build tree, or `<prefix>/sbin`.
std::string executable_dir() {
  std::string exe = executable_path();
  return exe.substr(0, exe.rfind('/'));
}

/// Where a module may be, in order: beside the executable (a build tree), then where CMake's install()
/// puts it (JB_MODULE_DIR_FROM_EXE is that directory relative to the installed executable's). The
/// executable's directory has no symlink in it, so ".." can be resolved by hand.
std::vector<std::string> module_candidates(const std::string& file) {
  std::string dir = executable_dir();
  std::string installed =
      std::filesystem::path(dir + "/" JB_MODULE_DIR_FROM_EXE "/" + file).lexically_normal();
  return {dir + "/" + file, installed};
}

} // namespace

void rethrow(const ModuleFailure& failure) {
  if (failure.is_error) throw Error(failure.path, failure.message, failure.kind, failure.code);
  throw std::runtime_error(failure.message);
}

const ModuleTable* load_module(const std::string& file, const char* symbol, const std::string& what) {
  std::vector<std::string> candidates = module_candidates(file);
  std::string path = candidates.back(); // named in the error when the module is nowhere
  for (const std::string& candidate : candidates) {
    struct stat st;
    if (::stat(candidate.c_str(), &st) == 0) {
      path = candidate;
      break;
    }
  }
  const std::string cannot = "cannot load the " + what + " module: ";
  // RTLD_NOW: a missing symbol is this error now, not a crash in the middle of an operation.
  // RTLD_LOCAL: the module's symbols (LIEF's, libarchive's) stay out of everybody else's way.
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) throw Error(path, cannot + ::dlerror());
  const auto* table = static_cast<const ModuleTable*>(::dlsym(handle, symbol));
  if (!table) {
    std::string why = ::dlerror();
    ::dlclose(handle);
    throw Error(path, cannot + why);
  }
  if (std::strcmp(table->version, JB_VERSION) != 0) {
    std::string built_for = table->version;
    ::dlclose(handle);
    throw Error(path, cannot + "it was built for jailbuild " + built_for + ", this is " + JB_VERSION);
  }
  return table; // never closed: its code is in use until the process ends
}

} // namespace jailbuild
