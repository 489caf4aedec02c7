// SPDX-License-Identifier: MIT
#include "jailbuild/text.hpp"

namespace jailbuild {

std::vector<std::string_view> split_view(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  for (size_t i = 0;;) {
    size_t j = text.find(sep, i);
    out.push_back(text.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i));
    if (j == std::string_view::npos) return out;
    i = j + 1;
  }
}

std::vector<std::string> split(std::string_view text, char sep) {
  std::vector<std::string> out;
  for (std::string_view field : split_view(text, sep))
    out.emplace_back(field);
  return out;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

} // namespace jailbuild
