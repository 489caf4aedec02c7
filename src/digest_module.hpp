// SPDX-License-Identifier: MIT
// The entry table of the OpenSSL module, libjailbuild-crypto.so (digest_openssl.cpp), which digest.cpp
// loads when the first hash is made: commands that hash nothing (deps, audit --no-integrity, mount, a
// sync with nothing to do) never load libcrypto. module.hpp says how modules work.
#pragma once
#include "jailbuild/module.hpp"

#include <cstddef>

struct evp_md_ctx_st;

namespace jailbuild {

inline constexpr std::size_t sha256_size = 32;

/// OpenSSL cannot fail to hash but for want of memory or a provider refusing SHA-256: each call
/// returns nullptr, or the name of the OpenSSL call that failed.
struct CryptoModule {
  ModuleTable header;
  /// A new context, started on SHA-256 (*ctx null when the first call fails).
  const char* (*sha256_new)(evp_md_ctx_st** ctx) noexcept;
  void (*sha256_free)(evp_md_ctx_st* ctx) noexcept;
  const char* (*sha256_update)(evp_md_ctx_st* ctx, const void* data, std::size_t size) noexcept;
  /// The digest of everything fed so far; the context starts over.
  const char* (*sha256_finish)(evp_md_ctx_st* ctx, unsigned char* digest) noexcept;
};

} // namespace jailbuild

/// The module's one exported symbol. Also linked straight into the unit tests, which then use it
/// without dlopen() (digest.cpp declares it weak).
extern "C" __attribute__((visibility("default"))) const jailbuild::CryptoModule jailbuild_crypto_module;
