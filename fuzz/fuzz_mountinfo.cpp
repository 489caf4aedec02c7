// SPDX-License-Identifier: MIT
// The mount table reader (src/mounts.cpp's parse_mountinfo): mount checks its binds in it and audit
// judges a jail's mounts by it. The kernel writes the table, but the mount points' names come from
// directories a jail's services may create and name as they like.
#include "fuzz_util.hpp"
#include "jailbuild/mounts.hpp"

using namespace jailbuild;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  fuzz::only_errors("mountinfo", [&] {
    PlanEntry bind;
    bind.kind = EntryKind::bind;
    bind.path = "/run/mysqld";
    bind.source = "/run/mysqld";
    for (const MountInfo& mount : parse_mountinfo(text)) {
      (void)mount.has_option("ro");
      (void)bind_options_match(mount, bind);
    }
  });
  return 0;
}
