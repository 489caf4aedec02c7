// SPDX-License-Identifier: MIT
#pragma once
#include <stdexcept>
#include <string>

namespace jailbuild {

/// An operation failed on one path. what() is "<path>: <message>", which the CLI prefixes with
/// "jailbuild: ". Thrown to abort an operation; normal outcomes (a library not found) are values.
class Error : public std::runtime_error {
public:
  Error(std::string path, std::string message);
  const std::string& path() const { return path_; }
  const std::string& message() const { return message_; }

private:
  std::string path_;
  std::string message_;
};

/// An Error carrying errno's text: "<path>: <what>: <strerror(err)>".
Error system_error(const std::string& path, const std::string& what, int err);

} // namespace jailbuild
