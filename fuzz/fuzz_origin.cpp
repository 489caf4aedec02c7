// SPDX-License-Identifier: MIT
// The origin reader (src/manifest.cpp's provenance_from_json, src/origin.cpp's host checks): an archive's
// .jailbuild/origin.json says where its files came from, and unpack checks this host against it (the
// kernel the jail's libc needs, the packages) before writing anything.
#include "fuzz_util.hpp"
#include "jailbuild/manifest.hpp"
#include "jailbuild/provenance.hpp"

using namespace jailbuild;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::only_errors("origin", [&] {
    Provenance origin = provenance_from_json(text, "origin.json");
    try {
      (void)provenance_from_json(provenance_to_json(origin), "written.json");
    } catch (const std::exception& e) {
      fuzz::finding("origin",
                    std::string("an origin that was read cannot be written and read again: ") + e.what());
    }
    // What unpack does with it next: the host checks, on a fixed host.
    Manifest manifest;
    manifest.provenance = std::move(origin);
    (void)check_host(manifest, fuzz::sample_host());
  });
  return 0;
}
