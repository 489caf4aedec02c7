// SPDX-License-Identifier: MIT
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

// OpenSSL's digest context, declared here so that OpenSSL's headers stay confined to
// digest_openssl.cpp (the OpenSSL module).
struct evp_md_ctx_st;

namespace jailbuild {

/// Incremental SHA-256, so that a copy can hash the bytes it moves instead of reading them twice.
class Sha256 {
public:
  /// Starts an empty hash.
  Sha256();
  /// Feeds more bytes.
  void update(const void* data, std::size_t size);
  /// Feeds more bytes.
  void update(std::string_view data) { update(data.data(), data.size()); }
  /// The lowercase hex digest of everything fed so far; the object then starts over, empty.
  std::string finish();

private:
  struct FreeContext {
    void operator()(evp_md_ctx_st* ctx) const noexcept;
  };
  std::unique_ptr<evp_md_ctx_st, FreeContext> ctx_;
};

/// Bytes read at a time when hashing or copying a file: large, so that big files cost few syscalls.
inline constexpr std::size_t io_buffer_size = 256 * 1024;

/// SHA-256 of a byte string, lowercase hex.
std::string sha256_hex(std::string_view data);
/// SHA-256 of what an open file holds from its current offset to its end, lowercase hex.
/// Throws Error naming "fd <n>" when reading fails.
std::string sha256_fd(int fd);
/// SHA-256 of a file's content, lowercase hex; symlinks are followed (host paths are trusted).
/// Throws Error naming the path, also when it is not a regular file (a FIFO or device never hangs it).
std::string sha256_file(const std::string& path);

} // namespace jailbuild
