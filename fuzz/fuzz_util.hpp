// SPDX-License-Identifier: MIT
// What the libFuzzer harnesses share: the rule that only jailbuild::Error may come out of a parser,
// a file in memory for readers that take a path, splitting one input into several files, and a
// scratch directory for the harnesses that need a fake host root or a jail.
#pragma once
#include "jailbuild/error.hpp"
#include "jailbuild/provenance.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <sys/mman.h>
#include <typeinfo>
#include <unistd.h>
#include <vector>

namespace jailbuild::fuzz {

/// Reports a finding and stops the run: libFuzzer keeps the input as a crash file.
[[noreturn]] inline void finding(const char* target, const std::string& what) {
  std::fprintf(stderr, "\n==fuzz_%s== FINDING: %s\n", target, what.c_str());
  std::abort();
}

/// Runs one input through a parser. An Error naming the file is what malformed input must give
/// (the CLI prints it as `jailbuild: <path>: <what>`, exit 2); any other exception is a finding: the
/// user would read `jailbuild: basic_string::substr` with no file named, and it shows a check that
/// is missing before some operation that the input can make fail. JB_FUZZ_DEBUG=1 prints the Errors
/// (is a seed accepted, or refused early?).
template <class F> void only_errors(const char* target, F&& parse) {
  try {
    parse();
  } catch (const Error& e) {
    if (std::getenv("JB_FUZZ_DEBUG")) std::fprintf(stderr, "fuzz_%s: %s\n", target, e.what());
  } catch (const std::exception& e) {
    finding(target, std::string("an exception other than jailbuild::Error escaped: ") + typeid(e).name() +
                        ": " + e.what());
  }
}

/// A file in memory (memfd), for readers that only take a path: /proc/self/fd/N opens it again
/// without touching a disk.
class MemFile {
public:
  MemFile() : fd_(::memfd_create("jailbuild-fuzz", MFD_CLOEXEC)) {
    if (fd_ < 0) finding("setup", "memfd_create failed");
  }
  ~MemFile() { ::close(fd_); }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;

  /// Replaces the content.
  void set(const uint8_t* data, size_t size) {
    if (::ftruncate(fd_, 0) != 0) finding("setup", "ftruncate failed");
    for (size_t done = 0; done < size;) {
      ssize_t n = ::pwrite(fd_, data + done, size - done, static_cast<off_t>(done));
      if (n <= 0) finding("setup", "writing the memfd failed");
      done += static_cast<size_t>(n);
    }
  }
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }

private:
  int fd_;
};

/// The separator of the files one input holds: a line "%%" (in the dictionaries, so that the
/// fuzzer can add files as easily as it adds directives).
inline constexpr std::string_view part_separator = "\n%%\n";

/// Splits an input into `count` texts at the separator lines; missing ones are empty, the last one
/// keeps any further separators.
inline std::vector<std::string> split_parts(const uint8_t* data, size_t size, size_t count) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> parts;
  while (parts.size() + 1 < count) {
    size_t at = rest.find(part_separator);
    if (at == std::string_view::npos) break;
    parts.emplace_back(rest.substr(0, at));
    rest.remove_prefix(at + part_separator.size());
  }
  parts.emplace_back(rest);
  parts.resize(count);
  return parts;
}

/// A directory of this process for fake host roots and jails: $JB_FUZZ_SCRATCH (scripts/fuzz.sh
/// gives each target its own and removes it afterwards, crash or not), else a new one under /tmp.
/// Removed on a normal exit (by an exit handler; the string is never destroyed, so it outlives it).
inline const std::string& scratch_dir() {
  static const std::string& dir = *new std::string([] {
    std::string path;
    if (const char* given = std::getenv("JB_FUZZ_SCRATCH"); given && *given) {
      path = given;
      std::filesystem::create_directories(path);
    } else {
      std::string pattern = "/tmp/jb-fuzz-XXXXXX";
      if (!::mkdtemp(pattern.data())) finding("setup", "cannot make a scratch directory under /tmp");
      path = pattern;
    }
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(scratch_dir(), ignored); // follows no symlink
    });
    return path;
  }());
  return dir;
}

/// An amd64 host with a Debian 12 kernel and an x86-64-v3 CPU, for the checks unpack makes against the
/// host before it writes anything (origin.hpp's check_host).
inline HostFacts sample_host() {
  HostFacts host;
  host.identity = {ElfClass::elf64, Endian::little, 62};
  host.kernel_release = "6.1.0-18-amd64";
  host.cpu_flags = {"sse3", "ssse3", "sse4_1", "sse4_2", "popcnt", "cx16", "lahf_lm", "avx",
                    "avx2", "bmi1",  "bmi2",   "fma",    "movbe",  "f16c", "abm",     "xsave"};
  host.passwd = "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n";
  return host;
}

/// Writes `content` to `path`, creating the directories above it.
inline void write_file(const std::string& path, std::string_view content) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  if (!out) finding("setup", "cannot write " + path);
}

} // namespace jailbuild::fuzz
