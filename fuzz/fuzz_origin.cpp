// SPDX-License-Identifier: MIT
// The origin reader (src/manifest.cpp's origin_from_json, src/origin.cpp's host checks): an archive's
// .jailbuild/origin.json says where its files came from, and unpack checks this host against it (the
// kernel the jail's libc needs, the packages) before writing anything.
#include "fuzz_util.hpp"
#include "jailbuild/manifest.hpp"
#include "jailbuild/origin.hpp"

using namespace jailbuild;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::only_errors("origin", [&] {
    PackOrigin origin = origin_from_json(text, "origin.json");
    try {
      (void)origin_from_json(origin_to_json(origin), "written.json");
    } catch (const std::exception& e) {
      fuzz::finding("origin",
                    std::string("an origin that was read cannot be written and read again: ") + e.what());
    }
    // What unpack does with it next: the host checks, on a fixed host.
    Manifest manifest;
    manifest.origin = std::move(origin);
    HostFacts host;
    host.identity = {ElfClass::elf64, Endian::little, 62};
    host.kernel_release = "6.1.0-18-amd64";
    host.cpu_flags = {"sse3", "ssse3", "sse4_1", "sse4_2", "popcnt", "avx", "avx2", "bmi1", "bmi2", "fma"};
    host.passwd = "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n";
    (void)check_host(manifest, host);
  });
  return 0;
}
