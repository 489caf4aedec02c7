// SPDX-License-Identifier: MIT
// The entry table of the libarchive module, libjailbuild-archive.so (pack.cpp, pack_scan.cpp,
// unpack.cpp), which pack_loader.cpp loads on first use. module.hpp says why it is a module and how
// errors cross.
#pragma once
#include "jailbuild/module.hpp"
#include "jailbuild/pack.hpp"

namespace jailbuild {

struct ArchiveModule {
  ModuleTable header;
  /// pack_jail(): true with *result filled, or false with *failure.
  bool (*pack)(const PackOptions* options, PackResult* result, ModuleFailure* failure) noexcept;
  /// unpack_jail(): true with *result filled, or false with *failure.
  bool (*unpack)(const UnpackOptions* options, UnpackResult* result, ModuleFailure* failure) noexcept;
};

/// The implementations the table points to (pack.cpp, unpack.cpp).
PackResult pack_with_libarchive(const PackOptions& options);
UnpackResult unpack_with_libarchive(const UnpackOptions& options);

} // namespace jailbuild

/// The module's one exported symbol. Also linked straight into the unit tests, which then use it
/// without dlopen() (pack_loader.cpp declares it weak).
extern "C" __attribute__((visibility("default"))) const jailbuild::ArchiveModule jailbuild_archive_module;
