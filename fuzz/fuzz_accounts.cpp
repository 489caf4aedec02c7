// SPDX-License-Identifier: MIT
// passwd and group parsing (src/accounts.cpp): audit reads a jail's own /etc/passwd and /etc/group,
// which a compromised service may have rewritten. The first part of the input is a passwd file, the
// second a group file. What is parsed must render and parse again to the same entries: create writes
// the jail's files with the renderers, and audit reads them back with these parsers.
#include "fuzz_util.hpp"
#include "jailbuild/accounts.hpp"

using namespace jailbuild;

namespace {

bool same(const PasswdEntry& a, const PasswdEntry& b) {
  return a.name == b.name && a.uid == b.uid && a.gid == b.gid && a.gecos == b.gecos && a.home == b.home &&
         a.shell == b.shell;
}
bool same(const GroupEntry& a, const GroupEntry& b) {
  return a.name == b.name && a.gid == b.gid && a.members == b.members;
}

template <class Entry> bool same(const std::vector<Entry>& a, const std::vector<Entry>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!same(a[i], b[i])) return false;
  return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> parts = fuzz::split_parts(data, size, 2);
  fuzz::only_errors("accounts", [&] {
    JailAccounts accounts{parse_passwd(parts[0]), parse_group(parts[1])};
    if (!same(parse_passwd(render_passwd(accounts)), accounts.users))
      fuzz::finding("accounts", "passwd entries change when rendered and parsed again");
    if (!same(parse_group(render_group(accounts)), accounts.groups))
      fuzz::finding("accounts", "group entries change when rendered and parsed again");
    (void)render_shadow(accounts);
    (void)render_gshadow(accounts);
  });
  return 0;
}
