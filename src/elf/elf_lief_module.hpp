// SPDX-License-Identifier: MIT
// The entry table of the LIEF module, libjailbuild-lief.so (elf_lief.cpp), which elf_lief_loader.cpp
// loads on first use. module.hpp says why it is a module and how errors cross.
#pragma once
#include "jailbuild/elf.hpp"
#include "jailbuild/module.hpp"

namespace jailbuild {

struct LiefModule {
  ModuleTable header;
  /// read_elf_lief(): true with *info filled, or false with *failure.
  bool (*read_info)(const char* path, ElfInfo* info, ModuleFailure* failure) noexcept;
  /// read_elf_hardening_lief(): true with *hardening filled, or false with *failure.
  bool (*read_hardening)(const char* path, ElfHardening* hardening, ModuleFailure* failure) noexcept;
};

} // namespace jailbuild

/// The module's one exported symbol. Also linked straight into the unit tests, which then use it
/// without dlopen() (elf_lief_loader.cpp declares it weak).
extern "C" __attribute__((visibility("default"))) const jailbuild::LiefModule jailbuild_lief_module;
