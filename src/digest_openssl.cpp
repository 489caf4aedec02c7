// SPDX-License-Identifier: MIT
// The one source file that includes OpenSSL: SHA-256 for digest.cpp. Built as its own module,
// libjailbuild-crypto.so, loaded when the first hash is made (digest_module.hpp says why).
#include "digest_module.hpp"

#include <openssl/evp.h>

namespace jailbuild {

namespace {

const char* start(evp_md_ctx_st* ctx) noexcept {
  return EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 ? nullptr : "EVP_DigestInit_ex";
}

const char* sha256_new(evp_md_ctx_st** ctx) noexcept {
  *ctx = EVP_MD_CTX_new();
  return *ctx ? start(*ctx) : "EVP_MD_CTX_new";
}

void sha256_free(evp_md_ctx_st* ctx) noexcept {
  EVP_MD_CTX_free(ctx);
}

const char* sha256_update(evp_md_ctx_st* ctx, const void* data, std::size_t size) noexcept {
  return EVP_DigestUpdate(ctx, data, size) == 1 ? nullptr : "EVP_DigestUpdate";
}

const char* sha256_finish(evp_md_ctx_st* ctx, unsigned char* digest) noexcept {
  unsigned size = 0;
  if (EVP_DigestFinal_ex(ctx, digest, &size) != 1 || size != sha256_size) return "EVP_DigestFinal_ex";
  return start(ctx);
}

} // namespace

} // namespace jailbuild

// The entry table: extern "C" and exported, as digest_module.hpp declares it.
const jailbuild::CryptoModule jailbuild_crypto_module = {
    .header = {JB_VERSION},
    .sha256_new = jailbuild::sha256_new,
    .sha256_free = jailbuild::sha256_free,
    .sha256_update = jailbuild::sha256_update,
    .sha256_finish = jailbuild::sha256_finish,
};
