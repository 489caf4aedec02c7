// SPDX-License-Identifier: MIT
#include "jailbuild/error.hpp"

#include <cstring>

namespace jailbuild {

Error::Error(std::string path, std::string message, ErrorKind kind, int code)
    : std::runtime_error(path + ": " + message), path_(std::move(path)), message_(std::move(message)),
      kind_(kind), code_(code) {}

Error system_error(const std::string& path, const std::string& what, int err) {
  return Error(path, what + ": " + std::strerror(err), ErrorKind::system, err);
}

} // namespace jailbuild
