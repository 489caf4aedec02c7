// SPDX-License-Identifier: MIT
// The manifest: what create installed into a jail (the spec, every entry with its digest, source and
// the source's stamp, and the ELF facts of every walked object), kept in DIR/.jailbuild/ (0700) so
// that sync needs no arguments, audit can check integrity and pack can verify content.
#pragma once
#include "jailbuild/plan.hpp"

#include <cstdint>
#include <string>

namespace jailbuild {

class JailFs;

/// The directory of the manifest inside a jail, and the file in it.
inline constexpr const char* manifest_dir = ".jailbuild";
inline constexpr const char* manifest_file = ".jailbuild/manifest.json";

struct Manifest {
  int format = 1;
  std::string tool;     ///< "jailbuild X.Y.Z"
  int64_t created = 0;  ///< unix time
  int64_t updated = 0;
  Plan plan;
};

std::string manifest_to_json(const Manifest& manifest);
/// Parses a manifest; throws Error naming `where` for anything malformed.
Manifest manifest_from_json(const std::string& text, const std::string& where);

/// Reads DIR's manifest; throws Error(DIR, "not a jailbuild jail: ...") when there is none.
Manifest read_manifest(const std::string& jail_dir);
/// Writes the manifest atomically into the jail, its directory root-only (0700).
void write_manifest(JailFs& jail, const Manifest& manifest);

} // namespace jailbuild
