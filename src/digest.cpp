// SPDX-License-Identifier: MIT
#include "jailbuild/digest.hpp"

#include "jailbuild/error.hpp"

#include <cerrno>
#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

namespace jailbuild {

namespace {

std::string to_hex(const unsigned char* bytes, unsigned size) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string hex(std::size_t{size} * 2, '\0');
  for (unsigned i = 0; i < size; ++i) {
    hex[2 * i] = digits[bytes[i] >> 4];
    hex[2 * i + 1] = digits[bytes[i] & 0xf];
  }
  return hex;
}

// OpenSSL only fails here when out of memory or when a provider refuses SHA-256; there is no path
// to blame, so the error names the algorithm.
[[noreturn]] void openssl_failed(const char* call) {
  throw Error("SHA-256", std::string("OpenSSL ") + call + " failed");
}

void start(evp_md_ctx_st* ctx) {
  if (EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1) openssl_failed("EVP_DigestInit_ex");
}

// Hashes from the fd's offset to its end; `name` is what an error blames.
std::string hash_fd(int fd, const std::string& name) {
  auto buffer = std::make_unique_for_overwrite<char[]>(io_buffer_size);
  Sha256 hash;
  for (;;) {
    ssize_t got = ::read(fd, buffer.get(), io_buffer_size);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw system_error(name, "reading", errno);
    }
    if (got == 0) return hash.finish();
    hash.update(buffer.get(), static_cast<std::size_t>(got));
  }
}

} // namespace

void Sha256::FreeContext::operator()(evp_md_ctx_st* ctx) const noexcept {
  EVP_MD_CTX_free(ctx);
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_) openssl_failed("EVP_MD_CTX_new");
  start(ctx_.get());
}

void Sha256::update(const void* data, std::size_t size) {
  if (size != 0 && EVP_DigestUpdate(ctx_.get(), data, size) != 1) openssl_failed("EVP_DigestUpdate");
}

std::string Sha256::finish() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned size = 0;
  if (EVP_DigestFinal_ex(ctx_.get(), digest, &size) != 1) openssl_failed("EVP_DigestFinal_ex");
  start(ctx_.get());
  return to_hex(digest, size);
}

std::string sha256_hex(std::string_view data) {
  Sha256 hash;
  hash.update(data);
  return hash.finish();
}

std::string sha256_fd(int fd) {
  return hash_fd(fd, "fd " + std::to_string(fd));
}

std::string sha256_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw system_error(path, "opening", errno);
  try {
    std::string digest = hash_fd(fd, path);
    ::close(fd);
    return digest;
  } catch (...) {
    ::close(fd);
    throw;
  }
}

} // namespace jailbuild
