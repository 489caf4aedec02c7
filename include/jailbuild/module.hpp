// SPDX-License-Identifier: MIT
// jailbuild's own loadable modules: code that needs a heavy library, kept out of the executable and
// loaded with dlopen() on first use. libjailbuild-lief.so holds elf_lief.cpp (LIEF: read_elf_lief, the
// reference reader the tests hold ours to; no command uses it, and it is not installed),
// libjailbuild-crypto.so digest_openssl.cpp (OpenSSL's libcrypto, for the
// first SHA-256), libjailbuild-archive.so pack and unpack (libarchive and the dozen compression, XML
// and crypto libraries it drags in). Linked into the executable they made every run, `--version`
// included, spend most of its time in the dynamic linker and in LIEF's static initialisers
// (ARCHITECTURE.md has the numbers).
//
// A module exports one extern "C" entry table whose first member is a ModuleTable. No exception
// crosses the boundary: the module has its own hidden copy of Error, whose typeinfo is not the
// executable's, so it catches everything into a ModuleFailure and the loader throws it again. Both
// sides are built together with the same compiler and libstdc++, so std::string and our structs cross
// by pointer; the table carries the version it was built for, and a module of another version is
// refused.
#pragma once
#include "jailbuild/error.hpp"

#include <exception>
#include <string>

namespace jailbuild {

/// The first member of every module's entry table.
struct ModuleTable {
  const char* version; ///< the jailbuild version the module was built for (JB_VERSION)
};

/// What a call into a module threw: an Error (path, message, kind and errno), or another exception
/// (its what()).
struct ModuleFailure {
  bool is_error = false;
  std::string path;
  std::string message;
  ErrorKind kind = ErrorKind::other;
  int code = 0;
};

/// Module side: runs `f`; true when it returns, false with `*failure` filled when it throws.
template <class F> bool catch_into(ModuleFailure* failure, F&& f) noexcept {
  try {
    f();
    return true;
  } catch (const Error& e) {
    *failure = {true, e.path(), e.message(), e.kind(), e.code()};
  } catch (const std::exception& e) {
    *failure = {false, {}, e.what()};
  } catch (...) {
    *failure = {false, {}, "unknown exception"};
  }
  return false;
}

/// Loader side: throws again what the module caught, as the same Error or std::runtime_error.
[[noreturn]] void rethrow(const ModuleFailure& failure);

/// Loads the module `file` ("libjailbuild-lief.so") and returns its entry table, the extern "C"
/// object `symbol`. The module is looked for next to the running executable (the build tree), then
/// in the installed module directory relative to it (`<prefix>/lib/jailbuild` for `<prefix>/sbin`);
/// never on LD_LIBRARY_PATH or in the current directory. Throws Error("<module path>", "cannot load
/// the <what> module: <why>"). Loads again on each call: callers keep the table.
const ModuleTable* load_module(const std::string& file, const char* symbol, const std::string& what);

/// A module's entry table: `linked_in` when the module's code is linked into this program (the unit
/// tests: a weak reference, null in the executable), else the module loaded on first use by
/// whichever thread comes first (a failed load is tried again by the next call).
template <class Table>
const Table& module_table(const Table* linked_in, const char* file, const char* symbol, const char* what) {
  if (linked_in) return *linked_in;
  static const Table& loaded = *reinterpret_cast<const Table*>(load_module(file, symbol, what));
  return loaded;
}

} // namespace jailbuild
