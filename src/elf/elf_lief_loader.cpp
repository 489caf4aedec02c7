// SPDX-License-Identifier: MIT
// read_elf_lief() and read_elf_hardening_lief() without LIEF in the executable: they call into the LIEF
// module, loaded on first use (module.hpp says why).
#include "elf_lief_module.hpp"
#include "jailbuild/elf.hpp"

// Weak: defined only where the module's code is linked in (the unit tests), null in the executable.
extern "C" __attribute__((weak)) const jailbuild::LiefModule jailbuild_lief_module;

namespace jailbuild {

namespace {

const LiefModule& lief() {
  return module_table(&jailbuild_lief_module, "libjailbuild-lief.so", "jailbuild_lief_module", "LIEF");
}

} // namespace

void load_lief_module() {
  lief();
}

ElfInfo read_elf_lief(const std::string& path) {
  ElfInfo info;
  ModuleFailure failure;
  if (!lief().read_info(path.c_str(), &info, &failure)) rethrow(failure);
  return info;
}

ElfHardening read_elf_hardening_lief(const std::string& path) {
  ElfHardening hardening;
  ModuleFailure failure;
  if (!lief().read_hardening(path.c_str(), &hardening, &failure)) rethrow(failure);
  return hardening;
}

} // namespace jailbuild
