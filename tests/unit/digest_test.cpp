// SPDX-License-Identifier: MIT
#include "jailbuild/digest.hpp"
#include "jailbuild/error.hpp"

#include "test_util.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

using namespace jailbuild;
using namespace jailbuild::test;

namespace {

constexpr const char* sha256_empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr const char* sha256_abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

/// A file holding `content` (mode 0600) in a fresh temporary directory, removed with it.
struct TempFile {
  TempDir dir{"digest", 0700};
  std::string path = dir / "data";
  explicit TempFile(const std::string& content) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
    ::close(fd);
  }
};

/// Bytes that do not repeat with the buffer size, longer than several buffers.
std::string big_content() {
  std::string content;
  for (std::size_t i = 0; content.size() < 3 * io_buffer_size + 7; ++i)
    content += std::to_string(i * 2654435761u) + ",";
  return content;
}

} // namespace

TEST_CASE("digest: sha256_hex matches the FIPS 180-2 vectors") {
  CHECK(sha256_hex("") == sha256_empty);
  CHECK(sha256_hex("abc") == sha256_abc);
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("digest: Sha256 hashes in pieces as in one, and starts over after finish") {
  Sha256 hash;
  hash.update("a");
  hash.update("");
  hash.update("bc");
  CHECK(hash.finish() == sha256_abc);
  CHECK(hash.finish() == sha256_empty);
  hash.update("abc");
  CHECK(hash.finish() == sha256_abc);
}

TEST_CASE("digest: sha256_file and sha256_fd hash files larger than the buffer") {
  const std::string content = big_content();
  TempFile file(content);
  CHECK(sha256_file(file.path) == sha256_hex(content));

  int fd = ::open(file.path.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  REQUIRE(::lseek(fd, 5, SEEK_SET) == 5);
  CHECK(sha256_fd(fd) == sha256_hex(std::string_view(content).substr(5)));
  ::close(fd);
}

TEST_CASE("digest: sha256_file of a missing file names the path") {
  TempFile file("");
  const std::string missing = file.dir / "missing";
  try {
    sha256_file(missing);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.path() == missing);
    CHECK(std::string(e.what()).find("No such file") != std::string::npos);
  }
}

TEST_CASE("digest: sha256_file refuses a FIFO or a directory instead of hanging on it") {
  TempFile file("");
  const std::string fifo = file.dir / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0); // no writer: a blocking open would never return
  for (const std::string& path : {fifo, file.dir.path}) {
    try {
      sha256_file(path);
      FAIL("no error for " << path);
    } catch (const Error& e) {
      CHECK(e.path() == path);
      CHECK(e.message() == "not a regular file");
    }
  }
}
