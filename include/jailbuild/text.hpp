// SPDX-License-Identifier: MIT
// Splitting and joining text at a separator: command-line lists, passwd fields, mountinfo lines.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace jailbuild {

/// The fields of `text` between each `sep`, empty ones included: "a,,b" gives {"a", "", "b"}, ""
/// gives {""}. Views into `text`, which must outlive them.
std::vector<std::string_view> split_view(std::string_view text, char sep);

/// split_view() as strings.
std::vector<std::string> split(std::string_view text, char sep);

/// The parts with `sep` between each: the inverse of split().
std::string join(const std::vector<std::string>& parts, std::string_view sep);

} // namespace jailbuild
