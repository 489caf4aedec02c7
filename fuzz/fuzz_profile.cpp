// SPDX-License-Identifier: MIT
// The profile reader (src/profile.cpp, TOML through toml++): profiles come from the host's own
// directories, but a malformed one must give an error naming its file and line, not a crash of the
// apt hook. The input holds three files: a.toml and b.toml in the built-in directory, and a.toml in
// a user directory (which replaces or, with `extend = true`, extends the built-in one).
#include "fuzz_util.hpp"
#include "jailbuild/profile.hpp"

using namespace jailbuild;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string builtin = fuzz::scratch_dir() + "/builtin", user = fuzz::scratch_dir() + "/user";
  std::vector<std::string> parts = fuzz::split_parts(data, size, 3);
  fuzz::write_file(builtin + "/a.toml", parts[0]);
  fuzz::write_file(builtin + "/b.toml", parts[1]);
  fuzz::write_file(user + "/a.toml", parts[2]);
  fuzz::only_errors("profile", [&] {
    ProfileSet set = ProfileSet::load({builtin, user});
    for (const std::string& name : set.names()) {
      (void)set.expand({name});
      (void)set.source_text(name);
    }
  });
  return 0;
}
