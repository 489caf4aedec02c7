// SPDX-License-Identifier: MIT
#include "jailbuild/error.hpp"
#include "jailbuild/module.hpp"

#include <doctest/doctest.h>

#include <cerrno>
#include <stdexcept>
#include <string>

using namespace jailbuild;

TEST_CASE("Error: path, message, and the kind that code catching it looks at") {
  Error plain("/etc/x", "corrupt manifest");
  CHECK(std::string(plain.what()) == "/etc/x: corrupt manifest");
  CHECK(plain.kind() == ErrorKind::other);
  CHECK(plain.code() == 0);
  Error denied = system_error("/jail/etc", "opening directory", EACCES);
  CHECK(std::string(denied.what()) == "/jail/etc: opening directory: Permission denied");
  CHECK(denied.path() == "/jail/etc");
  CHECK(denied.message() == "opening directory: Permission denied");
  CHECK(denied.kind() == ErrorKind::system);
  CHECK(denied.code() == EACCES);
  CHECK(Error("/jail/a", "refusing", ErrorKind::symlink).kind() == ErrorKind::symlink);
}

TEST_CASE("catch_into / rethrow: an Error crosses a module boundary with its kind and errno") {
  ModuleFailure failure;
  CHECK_FALSE(catch_into(&failure, [] { throw system_error("/a", "reading", EIO); }));
  try {
    rethrow(failure);
    FAIL("rethrow returned");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) == "/a: reading: Input/output error");
    CHECK(e.kind() == ErrorKind::system);
    CHECK(e.code() == EIO);
  }
  CHECK_FALSE(catch_into(&failure, [] { throw std::runtime_error("other"); }));
  CHECK_THROWS_WITH_AS(rethrow(failure), "other", std::runtime_error);
  CHECK(catch_into(&failure, [] {}));
}
