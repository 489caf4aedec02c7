// SPDX-License-Identifier: MIT
// Private to the elf module: reading an ELF file that may be hostile, by offset and with bounds. The
// walk's reader (elf_dynamic.cpp) and the hardening reader (elf_hardening.cpp) share it. Not
// installed, not included anywhere else.
#pragma once
#include "jailbuild/error.hpp"
#include "jailbuild/fd.hpp"

#include <cerrno>
#include <cstring>
#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace jailbuild::elf {

/// The most that is read of any one table. Every size, offset and count in an ELF file is its
/// writer's word, and root reads files a jail's service user wrote (audit) or that nobody checked
/// (deps): each is checked against the file's size and against these caps before anything of that
/// size is allocated. The caps are far above real objects: the largest dynamic string table on a
/// Debian host is node's 5.3 MB, its dynamic symbol table 1.8 MB; the kernel refuses a PT_INTERP
/// longer than PATH_MAX and more than 64 KiB of program headers.
inline constexpr uint64_t max_program_headers_bytes = uint64_t{1} << 20;
inline constexpr uint64_t max_interp_bytes = 4096;
inline constexpr uint64_t max_dynamic_bytes = uint64_t{1} << 20;
inline constexpr uint64_t max_table_bytes = uint64_t{32} << 20;
inline constexpr uint64_t max_note_bytes = uint64_t{1} << 20;

inline std::string size_text(uint64_t bytes) {
  if (bytes >= (uint64_t{1} << 20) && bytes % (uint64_t{1} << 20) == 0)
    return std::to_string(bytes >> 20) + " MiB";
  return std::to_string(bytes) + " bytes";
}

/// A regular file read at offsets, whose size bounds every read: opened here (closed on every
/// path out) or borrowed from the caller.
class InputFile {
public:
  explicit InputFile(const std::string& path) : path_(path) {
    // O_NONBLOCK: opening a FIFO would wait for a writer. fstat() then refuses it, and anything
    // else that is not a regular file.
    owned_.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
    if (!owned_) throw system_error(path, "cannot open", errno);
    init(owned_.get());
  }
  /// Reads through `fd`, which stays the caller's; `path` names the file in errors.
  InputFile(int fd, const std::string& path) : path_(path) { init(fd); }

  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

  /// Throws unless `len` bytes at `offset` lie inside the file and `len` is at most `cap`.
  void check_range(uint64_t offset, uint64_t len, const char* what, uint64_t cap) const {
    if (offset > size_ || len > size_ - offset)
      throw Error(path_, std::string("truncated or corrupt ELF: ") + what + " lies outside the file");
    if (len > cap)
      throw Error(path_, std::string("corrupt ELF: ") + what + " is larger than " + size_text(cap));
  }

  /// Exactly `len` bytes at `offset`, checked by check_range() first.
  std::string read_bytes(uint64_t offset, uint64_t len, const char* what, uint64_t cap) const {
    check_range(offset, len, what, cap);
    std::string bytes(len, '\0');
    read_exact(bytes.data(), len, offset, what);
    return bytes;
  }

  /// `count` records of type T at `offset`, checked by check_range() first (the count is compared
  /// with the file's size before it is multiplied, so that it cannot overflow).
  template <typename T>
  std::vector<T> read_array(uint64_t count, uint64_t offset, const char* what, uint64_t cap) const {
    if (count > size_ / sizeof(T))
      throw Error(path_, std::string("truncated or corrupt ELF: ") + what + " lies outside the file");
    check_range(offset, count * sizeof(T), what, cap);
    std::vector<T> records(count);
    read_exact(records.data(), count * sizeof(T), offset, what);
    return records;
  }

  /// Exactly `len` bytes at `offset` into `buf`, or an Error saying the file is truncated.
  void read_exact(void* buf, uint64_t len, uint64_t offset, const char* what) const {
    if (offset > size_ || len > size_ - offset)
      throw Error(path_, std::string("truncated or corrupt ELF: ") + what + " lies outside the file");
    auto* p = static_cast<char*>(buf);
    while (len > 0) {
      ssize_t n = ::pread(fd_, p, len, static_cast<off_t>(offset));
      if (n < 0) {
        if (errno == EINTR) continue;
        throw system_error(path_, "cannot read", errno);
      }
      if (n == 0) throw Error(path_, std::string("truncated ELF: ") + what + " lies outside the file");
      p += n;
      len -= static_cast<uint64_t>(n);
      offset += static_cast<uint64_t>(n);
    }
  }

private:
  void init(int fd) {
    fd_ = fd;
    struct stat st;
    if (::fstat(fd, &st) != 0) throw system_error(path_, "cannot stat", errno);
    if (!S_ISREG(st.st_mode)) throw Error(path_, "not a regular file");
    size_ = static_cast<uint64_t>(st.st_size);
  }

  std::string path_;
  UniqueFd owned_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

template <typename T> T swap_if(T v, bool swap) {
  if (!swap) return v;
  if constexpr (sizeof(T) == 1)
    return v;
  else if constexpr (sizeof(T) == 2)
    return static_cast<T>(__builtin_bswap16(static_cast<uint16_t>(v)));
  else if constexpr (sizeof(T) == 4)
    return static_cast<T>(__builtin_bswap32(static_cast<uint32_t>(v)));
  else
    return static_cast<T>(__builtin_bswap64(static_cast<uint64_t>(v)));
}

struct Elf32Types {
  using Ehdr = Elf32_Ehdr;
  using Phdr = Elf32_Phdr;
  using Shdr = Elf32_Shdr;
  using Dyn = Elf32_Dyn;
  using Sym = Elf32_Sym;
  using Addr = Elf32_Addr;
};
struct Elf64Types {
  using Ehdr = Elf64_Ehdr;
  using Phdr = Elf64_Phdr;
  using Shdr = Elf64_Shdr;
  using Dyn = Elf64_Dyn;
  using Sym = Elf64_Sym;
  using Addr = Elf64_Addr;
};

inline bool host_is_little() {
  return std::endian::native == std::endian::little;
}

/// The program header table; its count comes from section header 0 when e_phnum is PN_XNUM. Empty
/// when there is none.
template <typename T>
std::vector<typename T::Phdr> program_headers(const InputFile& file, const typename T::Ehdr& eh, bool swap) {
  using Phdr = typename T::Phdr;
  auto sw = [swap](auto v) { return swap_if(v, swap); };
  uint64_t phnum = sw(eh.e_phnum);
  if (phnum == PN_XNUM) {
    typename T::Shdr sh0;
    file.read_exact(&sh0, sizeof sh0, sw(eh.e_shoff), "section header 0");
    phnum = sw(sh0.sh_info);
  }
  if (phnum == 0) return {};
  if (sw(eh.e_phentsize) != sizeof(Phdr))
    throw Error(file.path(), "corrupt ELF: unexpected program header size");
  return file.read_array<Phdr>(phnum, sw(eh.e_phoff), "program header table", max_program_headers_bytes);
}

/// One dynamic entry, byte order fixed.
struct DynEntry {
  int64_t tag;
  uint64_t value;
};

/// The entries of the dynamic segment before its DT_NULL: ld.so stops at the first one too, and
/// padding follows it. A segment without one is corrupt.
template <typename T>
std::vector<DynEntry> dynamic_entries(const InputFile& file, const typename T::Phdr& dynamic, bool swap) {
  using Dyn = typename T::Dyn;
  auto sw = [swap](auto v) { return swap_if(v, swap); };
  std::vector<Dyn> dyns = file.read_array<Dyn>(sw(dynamic.p_filesz) / sizeof(Dyn), sw(dynamic.p_offset),
                                               "dynamic segment", max_dynamic_bytes);
  std::vector<DynEntry> out;
  for (const Dyn& d : dyns) {
    auto tag = static_cast<int64_t>(sw(d.d_tag));
    if (tag == DT_NULL) return out;
    out.push_back({tag, static_cast<uint64_t>(sw(d.d_un.d_val))});
  }
  throw Error(file.path(), "corrupt ELF: dynamic segment has no DT_NULL terminator");
}

/// Where a virtual address lies in the file, through the PT_LOAD segment holding it, and how many
/// bytes of that segment follow it there; nullopt when no segment holds it.
struct FileSpan {
  uint64_t offset, available;
};
template <typename Phdr>
std::optional<FileSpan> file_span_of(const std::vector<Phdr>& phdrs, uint64_t addr, bool swap) {
  auto sw = [swap](auto v) { return swap_if(v, swap); };
  for (const Phdr& ph : phdrs) {
    if (sw(ph.p_type) != PT_LOAD) continue;
    uint64_t vaddr = sw(ph.p_vaddr), filesz = sw(ph.p_filesz), offset = sw(ph.p_offset);
    // Differences, not sums: a hostile vaddr + filesz may wrap around.
    if (addr < vaddr || addr - vaddr >= filesz) continue;
    uint64_t delta = addr - vaddr;
    if (delta > UINT64_MAX - offset) return std::nullopt;
    return FileSpan{offset + delta, filesz - delta};
  }
  return std::nullopt;
}

/// Checks an ELF file's identification and calls `read(file, swap, Elf32Types{})` or the same with
/// Elf64Types, as its class says: every reader starts the same way.
template <class Read> auto with_elf_class(const InputFile& file, Read&& read) {
  const std::string& path = file.path();
  unsigned char ident[EI_NIDENT];
  if (file.size() < EI_NIDENT) throw Error(path, "not an ELF file");
  file.read_exact(ident, EI_NIDENT, 0, "ELF identification");
  if (std::memcmp(ident, ELFMAG, SELFMAG) != 0) throw Error(path, "not an ELF file");
  bool big = ident[EI_DATA] == ELFDATA2MSB;
  if (!big && ident[EI_DATA] != ELFDATA2LSB) throw Error(path, "corrupt ELF: unknown byte order");
  bool swap = big == host_is_little();
  switch (ident[EI_CLASS]) {
  case ELFCLASS32:
    return read(file, swap, Elf32Types{});
  case ELFCLASS64:
    return read(file, swap, Elf64Types{});
  default:
    throw Error(path, "corrupt ELF: unknown class");
  }
}

} // namespace jailbuild::elf
