// SPDX-License-Identifier: MIT
// The fast ELF reader for the dependency walk. LIEF reads and models whole files (a 30 MB libicudata
// costs as much as everything else together); the walk only needs the dynamic segment, so this reads
// the ELF header, the program headers, PT_INTERP, PT_DYNAMIC and the dynamic string table with a few
// pread() calls, each bounded (elf_internal.hpp). A test cross-checks it with LIEF on real files.
#include "jailbuild/elf.hpp"

#include "elf_internal.hpp"
#include "jailbuild/error.hpp"

#include <cstring>
#include <elf.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

namespace jailbuild {

namespace {

using namespace elf;

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

ElfInfo read_elf_dynamic(const std::string& path) {
  return with_elf_class(InputFile(path), [&]<class Types>(const InputFile& file, bool swap, Types) {
    return read_typed<Types>(file, path, swap);
  });
}

std::optional<ElfAbiTag> read_elf_abi_tag(const std::string& path) {
  return with_elf_class(InputFile(path), [&]<class Types>(const InputFile& file, bool swap, Types) {
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
