// SPDX-License-Identifier: MIT
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>

namespace jailbuild {

/// What an Error is, for the rare code that catches one and must tell failures apart: by this,
/// never by its text. Most code only lets an Error abort the operation.
enum class ErrorKind : std::uint8_t {
  other,   ///< no kind to tell apart: a parse error, a refusal whose reason is in the text
  system,  ///< a system call failed; code() is its errno
  symlink, ///< JailFs met a symlink inside the jail where it never follows one
};

/// An operation failed on one path. what() is "<path>: <message>", which the CLI prefixes with
/// "jailbuild: ". Thrown to abort an operation; normal outcomes (a library not found) are values.
class Error : public std::runtime_error {
public:
  Error(std::string path, std::string message, ErrorKind kind = ErrorKind::other, int code = 0);
  const std::string& path() const { return path_; }
  const std::string& message() const { return message_; }
  ErrorKind kind() const { return kind_; }
  /// The errno of a failed system call (ErrorKind::system); 0 otherwise.
  int code() const { return code_; }

private:
  std::string path_;
  std::string message_;
  ErrorKind kind_;
  int code_;
};

/// An Error of ErrorKind::system carrying errno's text: "<path>: <what>: <strerror(err)>".
Error system_error(const std::string& path, const std::string& what, int err);

} // namespace jailbuild
