// SPDX-License-Identifier: MIT
// The manifest reader (src/manifest.cpp): sync, audit, mount and pack read a jail's manifest, and
// unpack reads the one an archive carries. A manifest it accepts must also survive being written and
// read again, as sync does after every run: otherwise one sync leaves a jail no later one can read.
#include "fuzz_util.hpp"
#include "jailbuild/manifest.hpp"
#include "jailbuild/provenance.hpp"

using namespace jailbuild;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::only_errors("manifest", [&] {
    Manifest manifest = manifest_from_json(text, "fuzz.json");
    // What unpack does with an archive's manifest next: the host checks (ELF machines of the plan's
    // objects, the kernel, the glibc-hwcaps levels its paths rely on, its uids).
    (void)check_host(manifest, fuzz::sample_host());
    std::string written;
    try {
      written = manifest_to_json(manifest);
      (void)manifest_from_json(written, "written.json");
    } catch (const std::exception& e) {
      fuzz::finding("manifest",
                    std::string("a manifest that was read cannot be written and read again: ") + e.what());
    }
  });
  return 0;
}
