// SPDX-License-Identifier: MIT
// Private to the discover module: what its two halves, php-fpm (discover_php.cpp) and nginx
// (discover_nginx.cpp), both need. Not installed, not included anywhere else.
#pragma once
#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

namespace jailbuild::discover {

/// Appends `item` unless `list` holds it: a path named by several directives is one entry in the jail.
inline void add_unique(std::vector<std::string>& list, const std::string& item) {
  if (std::find(list.begin(), list.end(), item) == list.end()) list.push_back(item);
}

/// "file:line", the place a warning names.
inline std::string where(const std::string& file, std::size_t line) {
  return file + ":" + std::to_string(line);
}

} // namespace jailbuild::discover
