// SPDX-License-Identifier: MIT
// Small helpers shared by the unit tests.
#pragma once
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/stat.h>

namespace jailbuild::test {

/// A fresh directory under /tmp, /tmp/jb-TAG-XXXXXX (mode 0755), removed with its content afterwards.
struct TempDir {
  std::string path;
  explicit TempDir(const std::string& tag = "test") {
    std::string pattern = "/tmp/jb-" + tag + "-XXXXXX";
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
    REQUIRE(::chmod(path.c_str(), 0755) == 0);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& rel) const { return path + "/" + rel; }
};

/// Writes `content` to `path`, creating the directories above it.
inline void write_text(const std::string& path, const std::string& content) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

} // namespace jailbuild::test
