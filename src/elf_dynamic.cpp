// SPDX-License-Identifier: MIT
// The fast ELF reader for the dependency walk. LIEF reads and models whole files (a 30 MB libicudata
// costs as much as everything else together); the walk only needs the dynamic segment, so this reads
// the ELF header, the program headers, PT_INTERP, PT_DYNAMIC and the dynamic string table with a few
// pread() calls. LIEF stays the reader for full inspection; a test cross-checks both on real files.
#include "jailbuild/elf.hpp"

#include "jailbuild/error.hpp"
#include "jailbuild/fd.hpp"

#include <cerrno>
#include <cstring>
#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstdint>

namespace jailbuild {

namespace {

/// The most that is read of any one table. Every size, offset and count in an ELF file is its
/// writer's word, and root reads files a jail's service user wrote (audit) or that nobody checked
/// (deps): each is checked against the file's size and against these caps before anything of that
/// size is allocated. The caps are far above real objects: the largest dynamic string table on a
/// Debian host is node's 5.3 MB, its dynamic symbol table 1.8 MB; the kernel refuses a PT_INTERP
/// longer than PATH_MAX and more than 64 KiB of program headers.
constexpr uint64_t max_program_headers_bytes = uint64_t{1} << 20;
constexpr uint64_t max_interp_bytes = 4096;
constexpr uint64_t max_dynamic_bytes = uint64_t{1} << 20;
constexpr uint64_t max_table_bytes = uint64_t{32} << 20;
constexpr uint64_t max_note_bytes = uint64_t{1} << 20;

std::string size_text(uint64_t bytes) {
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
};
struct Elf64Types {
  using Ehdr = Elf64_Ehdr;
  using Phdr = Elf64_Phdr;
  using Shdr = Elf64_Shdr;
  using Dyn = Elf64_Dyn;
};

/// The dynamic string table and the lookup of one string in it.
class StringTable {
public:
  StringTable(std::string data, const std::string& path) : data_(std::move(data)), path_(path) {}
  std::string at(uint64_t offset) const {
    if (offset >= data_.size()) throw Error(path_, "corrupt ELF: string offset outside DT_STRTAB");
    size_t end = data_.find('\0', static_cast<size_t>(offset));
    if (end == std::string::npos) throw Error(path_, "corrupt ELF: unterminated string in DT_STRTAB");
    return data_.substr(static_cast<size_t>(offset), end - static_cast<size_t>(offset));
  }

private:
  std::string data_;
  const std::string& path_;
};

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

template <typename T> ElfInfo read_typed(const InputFile& file, const std::string& path, bool swap) {
  using Ehdr = typename T::Ehdr;
  using Phdr = typename T::Phdr;
  auto sw = [swap](auto v) { return swap_if(v, swap); };

  Ehdr eh;
  file.read_exact(&eh, sizeof eh, 0, "ELF header");
  ElfInfo info;
  info.elf_class = sizeof(Ehdr) == sizeof(Elf64_Ehdr) ? ElfClass::elf64 : ElfClass::elf32;
  info.endian = eh.e_ident[EI_DATA] == ELFDATA2MSB ? Endian::big : Endian::little;
  info.osabi = eh.e_ident[EI_OSABI];
  info.type = sw(eh.e_type);
  info.machine = sw(eh.e_machine);
  info.flags = sw(eh.e_flags);

  const std::vector<Phdr> phdrs = program_headers<T>(file, eh, swap);
  const Phdr* dynamic = nullptr;
  for (const Phdr& ph : phdrs) {
    uint32_t type = sw(ph.p_type);
    if (type == PT_INTERP) {
      std::string interp = file.read_bytes(sw(ph.p_offset), sw(ph.p_filesz), "PT_INTERP", max_interp_bytes);
      interp.resize(std::strlen(interp.c_str()));
      info.interpreter = interp;
    } else if (type == PT_DYNAMIC && !dynamic) {
      dynamic = &ph;
    }
  }
  if (!dynamic) return info;
  info.has_dynamic = true;

  std::vector<uint64_t> needed_offsets;
  std::optional<uint64_t> soname, rpath, runpath, strtab_addr;
  uint64_t strsz = 0;
  for (const DynEntry& d : dynamic_entries<T>(file, *dynamic, swap)) {
    switch (d.tag) {
    case DT_NEEDED:
      needed_offsets.push_back(d.value);
      break;
    case DT_SONAME:
      soname = d.value;
      break;
    case DT_RPATH:
      rpath = d.value;
      break;
    case DT_RUNPATH:
      runpath = d.value;
      break;
    case DT_STRTAB:
      strtab_addr = d.value;
      break;
    case DT_STRSZ:
      strsz = d.value;
      break;
    case DT_FLAGS_1:
      info.nodeflib = (d.value & DF_1_NODEFLIB) != 0;
      break;
    default:
      break;
    }
  }
  bool wants_strings = !needed_offsets.empty() || soname || rpath || runpath;
  if (!wants_strings) return info;
  if (!strtab_addr) throw Error(path, "corrupt ELF: dynamic segment has no DT_STRTAB");

  // DT_STRTAB is a virtual address: map it to a file offset through the PT_LOAD segments.
  std::optional<FileSpan> strtab = file_span_of(phdrs, *strtab_addr, swap);
  if (!strtab) throw Error(path, "corrupt ELF: DT_STRTAB is not inside a loadable segment");
  strsz = std::min(strsz, strtab->available);
  StringTable table(file.read_bytes(strtab->offset, strsz, "dynamic string table", max_table_bytes), path);

  for (uint64_t off : needed_offsets)
    info.needed.push_back(table.at(off));
  if (soname) info.soname = table.at(*soname);
  if (rpath) info.rpath = table.at(*rpath);
  if (runpath) info.runpath = table.at(*runpath);
  return info;
}

/// Walks the notes of every PT_NOTE segment for NT_GNU_ABI_TAG ("GNU", 4 words: os, major, minor,
/// patch). Segments are small (a few hundred bytes); a huge one is corrupt, not read.
template <typename T> std::optional<ElfAbiTag> abi_tag_typed(const InputFile& file, bool swap) {
  using Phdr = typename T::Phdr;
  auto sw = [swap](auto v) { return swap_if(v, swap); };
  typename T::Ehdr eh;
  file.read_exact(&eh, sizeof eh, 0, "ELF header");
  for (const Phdr& ph : program_headers<T>(file, eh, swap)) {
    if (sw(ph.p_type) != PT_NOTE) continue;
    std::string notes = file.read_bytes(sw(ph.p_offset), sw(ph.p_filesz), "PT_NOTE segment", max_note_bytes);
    const uint64_t size = notes.size();
    const uint64_t align = sw(ph.p_align) == 8 ? 8 : 4; // gABI: 4; .note.gnu.property uses 8
    auto padded = [align](uint64_t n) { return (n + align - 1) / align * align; };
    for (uint64_t at = 0; at + 12 <= size;) {
      uint32_t words[3];
      std::memcpy(words, notes.data() + at, sizeof words);
      uint64_t namesz = sw(words[0]), descsz = sw(words[1]), type = sw(words[2]);
      uint64_t name_at = at + 12;
      if (namesz > size - name_at) break; // a malformed tail: no tag there
      uint64_t desc_at = name_at + padded(namesz);
      if (desc_at > size || descsz > size - desc_at) break;
      if (type == NT_GNU_ABI_TAG && namesz == 4 && std::memcmp(notes.data() + name_at, "GNU", 4) == 0 &&
          descsz >= 16) {
        uint32_t tag[4];
        std::memcpy(tag, notes.data() + desc_at, sizeof tag);
        return ElfAbiTag{sw(tag[0]), sw(tag[1]), sw(tag[2]), sw(tag[3])};
      }
      at = desc_at + padded(descsz);
    }
  }
  return std::nullopt;
}

bool host_is_little() {
  return std::endian::native == std::endian::little;
}

} // namespace

std::optional<ElfIdentity> probe_elf(const std::string& path) {
  // O_NONBLOCK: a FIFO put where a library was expected must not stop the walk.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return std::nullopt;
  unsigned char ident[EI_NIDENT + 4];
  ssize_t n = ::pread(fd, ident, sizeof ident, 0);
  ::close(fd);
  if (n < static_cast<ssize_t>(sizeof ident) || std::memcmp(ident, ELFMAG, SELFMAG) != 0) return std::nullopt;
  if (ident[EI_CLASS] != ELFCLASS32 && ident[EI_CLASS] != ELFCLASS64) return std::nullopt;
  if (ident[EI_DATA] != ELFDATA2LSB && ident[EI_DATA] != ELFDATA2MSB) return std::nullopt;
  ElfIdentity id{ident[EI_CLASS] == ELFCLASS64 ? ElfClass::elf64 : ElfClass::elf32,
                 ident[EI_DATA] == ELFDATA2MSB ? Endian::big : Endian::little, 0};
  // e_machine follows e_ident (16 bytes) and e_type (2 bytes).
  uint16_t machine;
  std::memcpy(&machine, ident + EI_NIDENT + 2, 2);
  bool swap = (id.endian == Endian::little) != host_is_little();
  id.machine = swap_if(machine, swap);
  return id;
}

namespace {

/// Opens an ELF file, checks its identification and calls `read(file, swap, Elf32Types{})` or the
/// same with Elf64Types, as its class says: both readers start the same way.
template <class Read> auto with_elf_class(const std::string& path, Read&& read) {
  InputFile file(path);
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

} // namespace

ElfInfo read_elf_dynamic(const std::string& path) {
  return with_elf_class(path, [&]<class Types>(const InputFile& file, bool swap, Types) {
    return read_typed<Types>(file, path, swap);
  });
}

std::optional<ElfAbiTag> read_elf_abi_tag(const std::string& path) {
  return with_elf_class(path, [&]<class Types>(const InputFile& file, bool swap, Types) {
    return abi_tag_typed<Types>(file, swap);
  });
}

std::optional<std::string> multiarch_triplet(const ElfInfo& info) {
  bool is64 = info.elf_class == ElfClass::elf64;
  bool le = info.endian == Endian::little;
  switch (info.machine) {
  case EM_X86_64:
    return is64 ? "x86_64-linux-gnu" : "x86_64-linux-gnux32";
  case EM_386:
    return "i386-linux-gnu";
  case EM_AARCH64:
    return le ? "aarch64-linux-gnu" : "aarch64_be-linux-gnu";
  case EM_ARM:
    return (info.flags & EF_ARM_ABI_FLOAT_HARD) ? "arm-linux-gnueabihf" : "arm-linux-gnueabi";
  case EM_PPC64:
    return le ? "powerpc64le-linux-gnu" : "powerpc64-linux-gnu";
  case EM_PPC:
    return "powerpc-linux-gnu";
  case EM_S390:
    return is64 ? "s390x-linux-gnu" : "s390-linux-gnu";
  case EM_RISCV:
    return is64 ? "riscv64-linux-gnu" : "riscv32-linux-gnu";
  case EM_MIPS:
    if (is64) return le ? "mips64el-linux-gnuabi64" : "mips64-linux-gnuabi64";
    return le ? "mipsel-linux-gnu" : "mips-linux-gnu";
  case EM_LOONGARCH:
    return "loongarch64-linux-gnu";
  case EM_SPARCV9:
    return "sparc64-linux-gnu";
  case EM_68K:
    return "m68k-linux-gnu";
  case EM_SH:
    return "sh4-linux-gnu";
  case EM_ALPHA:
    return "alpha-linux-gnu";
  case EM_PARISC:
    return "hppa-linux-gnu";
  case EM_IA_64:
    return "ia64-linux-gnu";
  default:
    return std::nullopt;
  }
}

} // namespace jailbuild
