// SPDX-License-Identifier: MIT
// unpack's reading of an archive we must assume hostile (src/pack/unpack_read.cpp: decompression,
// libarchive's tar parser, the names, the manifest and origin that must come first) and what
// src/pack/unpack.cpp makes of each entry, through the real entry point: unpack_jail() into a new
// directory, as root, as `jailbuild unpack` runs. The input is the archive file, any compression.
//
// Root extracting what a fuzzer invents: were there a way out of the jail, the fuzzer would find it
// by writing somewhere on this machine. So before the first input the process moves into a mount
// namespace of its own in which every mount is read-only but a private tmpfs for the jails and the
// directories libFuzzer itself writes to (the corpus, the artifacts, the working directory), and an
// unpack that meets "Read-only file system" is a finding: it tried to write outside its directory.
#include "fuzz_util.hpp"
#include "jailbuild/pack.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>

using namespace jailbuild;

namespace {

/// The directories libFuzzer writes to, from its command line: the first corpus directory (new
/// inputs go there; the others, seeds, are only read), where an -artifact_prefix or
/// -exact_artifact_path points, and the working directory (crash files by default, -jobs logs).
std::vector<std::string> fuzzer_outputs(int argc, char** argv) {
  namespace fs = std::filesystem;
  std::vector<std::string> dirs;
  if (fs::current_path() != "/") dirs.push_back(fs::current_path()); // "/" would leave everything writable
  auto add_dir_of = [&](std::string path) {
    fs::path p = fs::absolute(path);
    dirs.push_back(path.ends_with("/") ? p.string() : p.parent_path().string());
    fs::create_directories(dirs.back()); // libFuzzer would make it later, when it is read-only
  };
  bool corpus_seen = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.starts_with("-artifact_prefix=")) {
      add_dir_of(std::string(arg.substr(17)));
    } else if (arg.starts_with("-exact_artifact_path=")) {
      add_dir_of(std::string(arg.substr(21)));
    } else if (!arg.starts_with("-") && !corpus_seen && fs::is_directory(std::string(arg))) {
      dirs.push_back(fs::absolute(std::string(arg)).string());
      corpus_seen = true;
    }
  }
  return dirs;
}

void must(bool ok, const std::string& what) {
  if (!ok) fuzz::finding("unpack", "sandbox: " + what + ": " + std::strerror(errno));
}

/// Every mount read-only (in this process's own mount namespace), but `writable` and a fresh tmpfs
/// on `scratch`. Runs once: the processes libFuzzer starts (-jobs, -fork) inherit it.
void enter_sandbox(const std::vector<std::string>& writable, const std::string& scratch) {
  must(::unshare(CLONE_NEWNS) == 0, "unshare(CLONE_NEWNS)");
  // Nothing done here may reach the host's mount namespace.
  must(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0, "making / private");
  for (const std::string& dir : writable) // a mount of its own, to be made writable again below
    must(::mount(dir.c_str(), dir.c_str(), nullptr, MS_BIND | MS_REC, nullptr) == 0, "binding " + dir);
  mount_attr read_only{};
  read_only.attr_set = MOUNT_ATTR_RDONLY;
  must(::mount_setattr(AT_FDCWD, "/", AT_RECURSIVE, &read_only, sizeof read_only) == 0,
       "making every mount read-only");
  mount_attr read_write{};
  read_write.attr_clr = MOUNT_ATTR_RDONLY;
  for (const std::string& dir : writable)
    must(::mount_setattr(AT_FDCWD, dir.c_str(), AT_RECURSIVE, &read_write, sizeof read_write) == 0,
         "making " + dir + " writable");
  must(::mount("jailbuild-fuzz", scratch.c_str(), "tmpfs", MS_NOSUID, "mode=0755,size=512m") == 0,
       "mounting a tmpfs on " + scratch);
}

/// Sets the checksum of every 512-byte block that is a ustar header (magic "ustar" at 257): libarchive
/// refuses a header whose checksum is wrong, so without this nearly every mutation of a header (a
/// name, a type, a mode, an owner, a link target) stops in libarchive and never meets unpack's checks.
/// A block of file content that looks like a header is changed too: harmless, it was mutated anyway.
void fix_tar_checksums(uint8_t* data, size_t size) {
  constexpr size_t block = 512, checksum_at = 148, checksum_size = 8;
  for (size_t at = 0; at + block <= size; at += block) {
    uint8_t* header = data + at;
    if (std::memcmp(header + 257, "ustar", 5) != 0) continue;
    std::memset(header + checksum_at, ' ', checksum_size);
    unsigned sum = 0;
    for (size_t i = 0; i < block; ++i)
      sum += header[i];
    std::snprintf(reinterpret_cast<char*>(header + checksum_at), 7, "%06o", sum & 0777777);
    header[checksum_at + 6] = '\0';
    header[checksum_at + 7] = ' ';
  }
}

} // namespace

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

/// libFuzzer's own mutations, then the tar checksums made right again (uncompressed archives only:
/// compressed ones are left to the decompressors' checks).
extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int) {
  size = LLVMFuzzerMutate(data, size, max_size);
  fix_tar_checksums(data, size);
  return size;
}

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  // The tmpfs's mount point outlives the process (it cannot be removed from inside the namespace):
  // by default one beside the harness, which every run reuses, rather than a new one under /tmp.
  if (!std::getenv("JB_FUZZ_SCRATCH"))
    ::setenv("JB_FUZZ_SCRATCH",
             (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "fuzz-scratch-unpack").c_str(),
             1);
  const std::string& scratch = fuzz::scratch_dir();
  // Without root, unpack refuses before it writes anything: there is nothing to fence in.
  if (::geteuid() != 0 || std::getenv("JB_FUZZ_SANDBOXED")) return 0;
  enter_sandbox(fuzzer_outputs(*argc, *argv), scratch);
  ::setenv("JB_FUZZ_SANDBOXED", "1", 1); // for the processes libFuzzer starts: they are in it already
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& scratch = fuzz::scratch_dir();
  UnpackOptions options;
  options.archive = scratch + "/archive";
  options.dir = scratch + "/jail";
  options.state_dir = scratch + "/state";
  // Small limits: an input of a few KiB must not make the fuzzer write gigabytes.
  options.limits.max_entries = 2000;
  options.limits.max_bytes = uint64_t{16} << 20;
  fuzz::write_file(options.archive, {reinterpret_cast<const char*>(data), size});
  try {
    (void)unpack_jail(options);
  } catch (const Error& e) {
    if (std::getenv("JB_FUZZ_DEBUG")) std::fprintf(stderr, "fuzz_unpack: %s\n", e.what());
    // The directory itself refused (its place, its parents): no input could ever be unpacked here.
    if (e.path() == options.dir && ::geteuid() == 0)
      fuzz::finding("unpack", std::string("the harness's jail directory is refused: ") + e.what());
    if (std::string_view(e.what()).find(std::strerror(EROFS)) != std::string_view::npos)
      fuzz::finding("unpack", std::string("unpack wrote outside its directory: ") + e.what());
  } catch (const std::exception& e) {
    fuzz::finding("unpack", std::string("an exception other than jailbuild::Error escaped: ") + e.what());
  }
  std::error_code ignored;
  std::filesystem::remove_all(options.dir, ignored); // follows no symlink
  std::filesystem::remove_all(options.state_dir, ignored);
  return 0;
}
