// SPDX-License-Identifier: MIT
// pack.hpp without libarchive in the executable: pack_jail() and unpack_jail() call into the
// libarchive module, loaded on first use (module.hpp says why); the rules that need no archive code
// live here.
#include "jailbuild/pack.hpp"
#include "pack_module.hpp"

#include "jailbuild/assemble.hpp"
#include "jailbuild/jail_lock.hpp"
#include "jailbuild/jailfs.hpp"
#include "jailbuild/manifest.hpp"

#include <string_view>

// Weak: defined only where the module's code is linked in (the unit tests), null in the executable.
extern "C" __attribute__((weak)) const jailbuild::ArchiveModule jailbuild_archive_module;

namespace jailbuild {

namespace {

const ArchiveModule& archive() {
  return module_table(&jailbuild_archive_module, "libjailbuild-archive.so", "jailbuild_archive_module",
                      "libarchive");
}

} // namespace

PackResult pack_jail(const PackOptions& options) {
  // Whose jail it is, before its lock or manifest is opened: pack reads the manifest as root.
  check_jail_location(options.dir);
  if (std::optional<Error> why = untrusted_jail(JailFs(options.dir))) throw *why;
  JailLock lock(options.dir, LockFor::look); // not while a create or sync changes the jail
  PackResult result;
  ModuleFailure failure;
  if (!archive().pack(&options, &result, &failure)) rethrow(failure);
  return result;
}

UnpackResult unpack_jail(const UnpackOptions& options) {
  UnpackResult result;
  ModuleFailure failure;
  if (!archive().unpack(&options, &result, &failure)) rethrow(failure);
  return result;
}

Compression compression_for(const std::string& file) {
  auto ends = [&](std::string_view suffix) { return std::string_view(file).ends_with(suffix); };
  if (ends(".tar")) return Compression::none;
  if (ends(".tar.gz") || ends(".tgz")) return Compression::gzip;
  if (ends(".tar.xz") || ends(".txz")) return Compression::xz;
  return Compression::zstd;
}

bool device_allowed(std::string_view jail_path, DeviceType type, unsigned major_number,
                    unsigned minor_number) {
  if (type != DeviceType::character) return false;
  // Each at its own name: the kernel's /dev/tty is the controlling terminal of whoever opens it, a
  // trap anywhere a tool would not expect one; /dev/null must be null, not zero or random.
  struct Harmless {
    const char* path;
    unsigned major, minor;
  };
  static constexpr Harmless harmless[] = {{"/dev/null", 1, 3},   {"/dev/zero", 1, 5},    {"/dev/full", 1, 7},
                                          {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0}};
  for (const Harmless& h : harmless)
    if (major_number == h.major && minor_number == h.minor) return jail_path == h.path;
  return false;
}

} // namespace jailbuild
