// SPDX-License-Identifier: MIT
// SHA-256 through the OpenSSL module, libjailbuild-crypto.so (digest_openssl.cpp), loaded when the
// first hash is made (digest_module.hpp says why).
#include "jailbuild/digest.hpp"

#include "digest_module.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/fd.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

// Weak: defined only where the module's code is linked in (the unit tests), null in the executable.
extern "C" __attribute__((weak)) const jailbuild::CryptoModule jailbuild_crypto_module;

namespace jailbuild {

namespace {

const CryptoModule& crypto() {
  return module_table(&jailbuild_crypto_module, "libjailbuild-crypto.so", "jailbuild_crypto_module",
                      "OpenSSL");
}

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
void check(const char* failed_call) {
  if (failed_call) throw Error("SHA-256", std::string("OpenSSL ") + failed_call + " failed");
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
  crypto().sha256_free(ctx);
}

Sha256::Sha256() {
  evp_md_ctx_st* ctx = nullptr;
  const char* failed = crypto().sha256_new(&ctx);
  ctx_.reset(ctx);
  check(failed);
}

void Sha256::update(const void* data, std::size_t size) {
  if (size != 0) check(crypto().sha256_update(ctx_.get(), data, size));
}

std::string Sha256::finish() {
  unsigned char digest[sha256_size];
  check(crypto().sha256_finish(ctx_.get(), digest));
  return to_hex(digest, sha256_size);
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
  // O_NONBLOCK: a FIFO found where a file was expected must not hang the hash; it is refused below.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd) throw system_error(path, "opening", errno);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) throw system_error(path, "reading status", errno);
  if (!S_ISREG(st.st_mode)) throw Error(path, "not a regular file");
  return hash_fd(fd.get(), path);
}

} // namespace jailbuild
