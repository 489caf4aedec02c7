// SPDX-License-Identifier: MIT
// pack.hpp without libarchive in the executable: pack_jail() and unpack_jail() call into the
// libarchive module, loaded on first use (module.hpp says why); the rules that need no archive code
// live here.
#include "jailbuild/pack.hpp"
#include "pack_module.hpp"

#include "jailbuild/jail_lock.hpp"

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

bool device_allowed(DeviceType type, unsigned major_number, unsigned minor_number) {
  if (type != DeviceType::character) return false;
  if (major_number == 1)
    return minor_number == 3 || minor_number == 5 || minor_number == 7 || minor_number == 8 ||
           minor_number == 9;
  return major_number == 5 && minor_number == 0;
}

} // namespace jailbuild
