// SPDX-License-Identifier: MIT
// The one source file that includes LIEF: full ELF inspection, the reference the bounded readers
// (elf_dynamic.cpp, elf_hardening.cpp) are cross-checked against by the tests. Never given a file a
// jail's user could have written: elf_hardening.cpp says why. LIEF 0.9 parses a truncated file
// silently into zero dynamic entries, so the dynamic segment is checked against the file size here.
// Built as its own module, libjailbuild-lief.so, loaded on first use (module.hpp says why); its
// entry table is at the end.
#include "elf_lief_module.hpp"

#include "jailbuild/error.hpp"

#include <LIEF/ELF.hpp>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sys/stat.h>

namespace jailbuild {

namespace {

namespace LE = LIEF::ELF;

std::unique_ptr<LE::Binary> parse(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) throw system_error(path, "cannot open", errno);
  if (!S_ISREG(st.st_mode)) throw Error(path, "not a regular file");
  // LIEF zero-fills a header it cannot read: check identification and header size first.
  // (<elf.h> cannot be included here: its macros are LIEF's enumerator names.)
  constexpr size_t ident_size = 16, class_byte = 4;
  constexpr unsigned char class64 = 2;
  constexpr uint64_t header64 = 64, header32 = 52;
  unsigned char ident[ident_size] = {};
  {
    std::ifstream in(path, std::ios::binary);
    in.read(reinterpret_cast<char*>(ident), sizeof ident);
    if (in.gcount() < static_cast<std::streamsize>(sizeof ident) || std::memcmp(ident,
                                                                                "\x7f"
                                                                                "ELF",
                                                                                4) != 0)
      throw Error(path, "not an ELF file");
  }
  uint64_t header_size = ident[class_byte] == class64 ? header64 : header32;
  if (static_cast<uint64_t>(st.st_size) < header_size)
    throw Error(path, "truncated ELF: ELF header lies outside the file");
  std::unique_ptr<LE::Binary> bin;
  try {
    if (!LE::is_elf(path)) throw Error(path, "not an ELF file");
    bin = LE::Parser::parse(path);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(path, std::string("corrupt ELF: ") + e.what());
  }
  if (!bin) throw Error(path, "not an ELF file");
  // LIEF clamps what it cannot read and says nothing: check that the program header table and the
  // dynamic segment really lie inside the file.
  auto size = static_cast<uint64_t>(st.st_size);
  const LE::Header& hdr = bin->header();
  uint64_t ph_end =
      hdr.program_headers_offset() + uint64_t{hdr.numberof_segments()} * uint64_t{hdr.program_header_size()};
  if (ph_end > size)
    throw Error(path, "truncated or corrupt ELF: program header table lies outside the file");
  for (const LE::Segment& seg : bin->segments()) {
    if (seg.type() != LE::SEGMENT_TYPES::PT_DYNAMIC && seg.type() != LE::SEGMENT_TYPES::PT_INTERP) continue;
    if (seg.file_offset() > size || seg.physical_size() > size - seg.file_offset())
      throw Error(path, "truncated or corrupt ELF: dynamic segment lies outside the file");
  }
  return bin;
}

bool has_segment(const LE::Binary& bin, LE::SEGMENT_TYPES type) {
  for (const LE::Segment& seg : bin.segments())
    if (seg.type() == type) return true;
  return false;
}

ElfInfo read_info(const std::string& path) {
  std::unique_ptr<LE::Binary> bin = parse(path);
  const LE::Header& hdr = bin->header();
  ElfInfo info;
  info.elf_class = hdr.identity_class() == LE::ELF_CLASS::ELFCLASS64 ? ElfClass::elf64 : ElfClass::elf32;
  info.endian = hdr.identity_data() == LE::ELF_DATA::ELFDATA2MSB ? Endian::big : Endian::little;
  info.osabi = static_cast<uint8_t>(hdr.identity_os_abi());
  info.type = static_cast<uint16_t>(hdr.file_type());
  info.machine = static_cast<uint16_t>(hdr.machine_type());
  info.flags = hdr.processor_flag();
  info.has_dynamic = has_segment(*bin, LE::SEGMENT_TYPES::PT_DYNAMIC);
  if (bin->has_interpreter()) info.interpreter = bin->interpreter();
  for (const LE::DynamicEntry& entry : bin->dynamic_entries()) {
    switch (entry.tag()) {
    case LE::DYNAMIC_TAGS::DT_NULL:
      return info; // padding follows; ld.so stops at the first one too
    case LE::DYNAMIC_TAGS::DT_NEEDED:
      info.needed.push_back(static_cast<const LE::DynamicEntryLibrary&>(entry).name());
      break;
    case LE::DYNAMIC_TAGS::DT_SONAME:
      info.soname = static_cast<const LE::DynamicSharedObject&>(entry).name();
      break;
    case LE::DYNAMIC_TAGS::DT_RPATH:
      // rpath() is the raw string: paths() would mangle empty elements.
      info.rpath = static_cast<const LE::DynamicEntryRpath&>(entry).rpath();
      break;
    case LE::DYNAMIC_TAGS::DT_RUNPATH:
      info.runpath = static_cast<const LE::DynamicEntryRunPath&>(entry).runpath();
      break;
    case LE::DYNAMIC_TAGS::DT_FLAGS_1:
      info.nodeflib = (entry.value() & static_cast<uint64_t>(LE::DYNAMIC_FLAGS_1::DF_1_NODEFLIB)) != 0;
      break;
    default:
      break;
    }
  }
  return info;
}

ElfHardening read_hardening(const std::string& path) {
  std::unique_ptr<LE::Binary> bin = parse(path);
  ElfHardening h;
  bool bind_now = false;
  bool pie_flag = false;
  for (const LE::DynamicEntry& entry : bin->dynamic_entries()) {
    if (entry.tag() == LE::DYNAMIC_TAGS::DT_NULL) break;
    if (entry.tag() == LE::DYNAMIC_TAGS::DT_BIND_NOW) bind_now = true;
    if (entry.tag() == LE::DYNAMIC_TAGS::DT_FLAGS && (entry.value() & 0x8 /* DF_BIND_NOW */)) bind_now = true;
    if (entry.tag() == LE::DYNAMIC_TAGS::DT_FLAGS_1) {
      if (entry.value() & 0x1 /* DF_1_NOW */) bind_now = true;
      if (entry.value() & 0x08000000 /* DF_1_PIE */) pie_flag = true;
    }
  }
  h.pie = bin->header().file_type() == LE::E_TYPE::ET_DYN && (pie_flag || bin->has_interpreter());
  bool relro = has_segment(*bin, LE::SEGMENT_TYPES::PT_GNU_RELRO);
  h.relro = !relro ? ElfHardening::Relro::none
                   : (bind_now ? ElfHardening::Relro::full : ElfHardening::Relro::partial);
  // No PT_GNU_STACK means an executable stack on most architectures.
  for (const LE::Segment& seg : bin->segments())
    if (seg.type() == LE::SEGMENT_TYPES::PT_GNU_STACK) h.nx_stack = !seg.has(LE::ELF_SEGMENT_FLAGS::PF_X);
  for (const LE::Symbol& sym : bin->imported_symbols()) {
    const std::string& name = sym.name();
    if (name == "__stack_chk_fail" || name == "__stack_chk_guard") h.canary = true;
    if (name.size() > 6 && name.rfind("__", 0) == 0 && name.compare(name.size() - 4, 4, "_chk") == 0 &&
        name != "__stack_chk_fail")
      h.fortify = true;
  }
  return h;
}

/// Runs a reader; what LIEF throws after a successful parse (a table pointing nowhere) becomes an
/// Error naming the file too, like everything parse() finds.
template <class Reader> auto naming_path(const char* path, Reader reader) {
  try {
    return reader(path);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(path, std::string("corrupt ELF: ") + e.what());
  }
}

bool lief_read_info(const char* path, ElfInfo* info, ModuleFailure* failure) noexcept {
  return catch_into(failure, [&] { *info = naming_path(path, read_info); });
}

bool lief_read_hardening(const char* path, ElfHardening* hardening, ModuleFailure* failure) noexcept {
  return catch_into(failure, [&] { *hardening = naming_path(path, read_hardening); });
}

} // namespace

} // namespace jailbuild

// The entry table: extern "C" and exported, as elf_lief_module.hpp declares it.
const jailbuild::LiefModule jailbuild_lief_module = {
    .header = {JB_VERSION},
    .read_info = jailbuild::lief_read_info,
    .read_hardening = jailbuild::lief_read_hardening,
};
