// SPDX-License-Identifier: MIT
// What unpack.cpp and unpack_read.cpp share and nobody else needs: the archive being unpacked, read
// as a stream of entries (unpack_read.cpp) that unpack.cpp judges and writes into the jail. Reading
// decides nothing about an entry beyond its name; every other check is the extractor's.
#pragma once
#include "jailbuild/manifest.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace jailbuild {

class Decompressor;

/// The entries of an archive we must assume hostile, parsed by libarchive (tar only) from the file
/// as a Decompressor decodes it on a thread of its own.
class ArchiveReader {
public:
  /// Opens the file and reads up to the first header; Error when it is no tar archive. Decoding
  /// stops with an Error once the file decompresses to more than max_bytes (all of it counts).
  ArchiveReader(std::string path, uint64_t max_bytes);
  ~ArchiveReader();
  ArchiveReader(const ArchiveReader&) = delete; // libarchive holds its address
  ArchiveReader& operator=(const ArchiveReader&) = delete;

  const std::string& path() const { return path_; }

  /// The next entry's header, or nullptr at the end of the archive.
  archive_entry* next();
  /// The next block of the current entry's content; empty at its end. Sparse or out-of-order
  /// content is an Error naming `name`.
  std::string_view block(const std::string& name);
  /// Reads what is left after the end-of-archive marker; returns the sha256 of the file.
  std::string finish();
  /// Throws Error(path, what: libarchive's reason).
  [[noreturn]] void fail(const std::string& what) const;

private:
  static la_ssize_t read_cb(archive* a, void* self, const void** data);

  std::string path_;
  std::unique_ptr<Decompressor> decompressor_;
  std::unique_ptr<archive, int (*)(archive*)> owner_; // freed before the decompressor stops
  archive* a_ = nullptr;
  std::string current_; ///< the block libarchive is reading
  int64_t position_ = 0;
};

/// An archive path as a jail path relative to the root ("usr/bin/nginx"; "" for the root itself),
/// or an Error: absolute paths and ".." are refused, not "fixed", as a hostile archive should be.
/// `what` names the field for the message: "path", "hardlink target".
std::string checked_name(const ArchiveReader& reader, const char* raw, const char* what);

/// Reads the manifest and the provenance (origin.json), which must be the archive's first files (after
/// their directory), and puts the provenance into the manifest. `entries` counts the entries read.
Manifest read_leading_manifest(ArchiveReader& reader, uint64_t& entries);

} // namespace jailbuild
