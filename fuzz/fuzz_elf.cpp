// SPDX-License-Identifier: MIT
// The fast ELF reader (src/elf/elf_dynamic.cpp): the walk reads every ELF file a jail's closure reaches
// with it, and pack reads the ABI note of the jail's libc, a file inside the jail. The input is the
// file, read through its path as the walk reads it.
#include "fuzz_util.hpp"
#include "jailbuild/elf.hpp"

using namespace jailbuild;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::MemFile file;
  file.set(data, size);
  const std::string path = file.path();
  std::optional<ElfIdentity> identity;
  fuzz::only_errors("elf", [&] { identity = probe_elf(path); });
  fuzz::only_errors("elf", [&] {
    ElfInfo info = read_elf_dynamic(path);
    if (!identity) fuzz::finding("elf", "read_elf_dynamic accepted a file probe_elf says is not ELF");
    (void)multiarch_triplet(info);
  });
  fuzz::only_errors("elf", [&] { (void)read_elf_abi_tag(path); });
  return 0;
}
