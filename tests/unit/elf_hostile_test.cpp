// SPDX-License-Identifier: MIT
// Hostile ELF files, written byte by byte: a root process reads files that a jail's service user
// wrote (audit) or that an admin points it at (deps). Every size, offset and count in them is a lie
// until checked against the file: each case must be an Error naming the file, reached without
// allocating what the lie asks for. The reads run under an address-space cap, so that the old code
// fails here with std::bad_alloc instead of taking gigabytes from the machine.
#include "jailbuild/elf.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/fd.hpp"

#include "test_util.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <elf.h>
#include <fcntl.h>
#include <fstream>
#include <functional>
#include <new>
#include <optional>
#include <string>
#include <unistd.h>

using namespace jailbuild;
using namespace jailbuild::test;

namespace {

constexpr uint64_t gib = uint64_t{1} << 30;

/// What a read of a hostile file ended with, run with 256 MiB of address space to spare:
/// "error: <what()>", "std::bad_alloc", or "no error".
std::string outcome(const std::function<void()>& read) {
  std::string result = "no error";
  with_memory_cap(std::size_t{256} << 20, [&] {
    try {
      read();
    } catch (const Error& e) {
      result = std::string("error: ") + e.what();
    } catch (const std::bad_alloc&) {
      result = "std::bad_alloc";
    } catch (const std::exception& e) {
      result = std::string("exception: ") + e.what();
    }
  });
  return result;
}

/// A little-endian ELF64 x86-64 shared object: the header and `phdrs`, then `tail` (at offset
/// 64 + 56 * phdrs.size()). Sizes and offsets are whatever the caller says.
std::string hostile_elf(const std::vector<Elf64_Phdr>& phdrs, const std::string& tail, uint16_t phnum = 0,
                        uint64_t shoff = 0, uint16_t shnum = 0) {
  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_type = ET_DYN;
  eh.e_machine = EM_X86_64;
  eh.e_version = EV_CURRENT;
  eh.e_phoff = sizeof(Elf64_Ehdr);
  eh.e_shoff = shoff;
  eh.e_ehsize = sizeof(Elf64_Ehdr);
  eh.e_phentsize = sizeof(Elf64_Phdr);
  eh.e_phnum = phnum ? phnum : static_cast<uint16_t>(phdrs.size());
  eh.e_shentsize = sizeof(Elf64_Shdr);
  eh.e_shnum = shnum;
  std::string out(reinterpret_cast<const char*>(&eh), sizeof eh);
  for (const Elf64_Phdr& ph : phdrs)
    out.append(reinterpret_cast<const char*>(&ph), sizeof ph);
  return out + tail;
}

Elf64_Phdr segment(uint32_t type, uint64_t offset, uint64_t filesz, uint64_t vaddr = 0) {
  Elf64_Phdr ph{};
  ph.p_type = type;
  ph.p_flags = PF_R;
  ph.p_offset = offset;
  ph.p_vaddr = vaddr;
  ph.p_paddr = vaddr;
  ph.p_filesz = filesz;
  ph.p_memsz = filesz;
  ph.p_align = 8;
  return ph;
}

std::string dyn_bytes(std::initializer_list<std::pair<int64_t, uint64_t>> entries) {
  std::string out;
  for (const auto& [tag, value] : entries) {
    Elf64_Dyn d{};
    d.d_tag = tag;
    d.d_un.d_val = value;
    out.append(reinterpret_cast<const char*>(&d), sizeof d);
  }
  return out;
}

/// The files: 148 bytes (header, one program header, 28 bytes after it) whose one segment
/// claims `size` bytes.
std::string one_segment_claiming(uint32_t type, uint64_t size) {
  return hostile_elf({segment(type, 120, size)}, std::string(27, 'x') + '\0');
}

/// Checks that reading `path` is an Error naming it whose message says `what`.
void check_refused(const std::string& path, const std::function<void()>& read, const std::string& what) {
  std::string got = outcome(read);
  CHECK_MESSAGE(got.rfind("error: " + path + ": ", 0) == 0, "got: " << got);
  CHECK_MESSAGE(contains(got, what), "got: " << got << "; expected it to say: " << what);
}

} // namespace

TEST_CASE("elf: a 148-byte file whose PT_INTERP or PT_DYNAMIC claims gigabytes is refused before any "
          "allocation") {
  TempDir tmp("elf-hostile", 0700);
  struct Case {
    const char* name;
    uint32_t type;
    uint64_t size;
    const char* what;
  };
  for (const Case& c : {Case{"interp-6g", PT_INTERP, 6 * gib, "PT_INTERP"},
                        Case{"dynamic-6g", PT_DYNAMIC, 6 * gib, "dynamic segment"},
                        Case{"interp-2^62", PT_INTERP, uint64_t{1} << 62, "PT_INTERP"},
                        Case{"dynamic-2^62", PT_DYNAMIC, uint64_t{1} << 62, "dynamic segment"}}) {
    INFO(std::string(c.name));
    std::string path = write_text(tmp / c.name, one_segment_claiming(c.type, c.size));
    REQUIRE(read_text(path).size() == 148);
    check_refused(
        path, [&] { read_elf_dynamic(path); }, c.what);
  }
}

TEST_CASE("elf: a PN_XNUM header whose section 0 claims 100 million program headers is refused") {
  // e_phnum = PN_XNUM sends the reader to section header 0's sh_info for the real count.
  TempDir tmp("elf-hostile", 0700);
  Elf64_Shdr sh0{};
  sh0.sh_info = 100'000'000;
  std::string bytes = hostile_elf({}, std::string(reinterpret_cast<const char*>(&sh0), sizeof sh0), PN_XNUM,
                                  sizeof(Elf64_Ehdr));
  std::string path = write_text(tmp / "xnum", bytes);
  check_refused(
      path, [&] { read_elf_dynamic(path); }, "program header table");
}

TEST_CASE("elf: a string table claimed gigabytes long through a loadable segment as long is refused") {
  // DT_STRSZ is clamped to the PT_LOAD segment holding DT_STRTAB: both lie.
  TempDir tmp("elf-hostile", 0700);
  const uint64_t dyn_at = 64 + 2 * 56;
  std::string dyn = dyn_bytes({{DT_NEEDED, 1}, {DT_STRTAB, 0}, {DT_STRSZ, 6 * gib}, {DT_NULL, 0}});
  std::string bytes =
      hostile_elf({segment(PT_LOAD, 0, 6 * gib), segment(PT_DYNAMIC, dyn_at, dyn.size())}, dyn);
  std::string path = write_text(tmp / "strtab-6g", bytes);
  check_refused(
      path, [&] { read_elf_dynamic(path); }, "string table");
}

TEST_CASE("elf: read_elf_abi_tag checks the program header table against the file first") {
  TempDir tmp("elf-hostile", 0700);
  // 65,534 program headers said, none there.
  std::string path = write_text(tmp / "phnum", hostile_elf({}, "", 0xfffe));
  check_refused(
      path, [&] { read_elf_abi_tag(path); }, "program header table");
  std::string note = write_text(tmp / "note-6g", one_segment_claiming(PT_NOTE, 6 * gib));
  check_refused(
      note, [&] { read_elf_abi_tag(note); }, "PT_NOTE");
}

namespace {

Elf64_Shdr section(uint32_t type, uint64_t offset, uint64_t size, uint32_t link = 0, uint64_t entsize = 0) {
  Elf64_Shdr sh{};
  sh.sh_type = type;
  sh.sh_offset = offset;
  sh.sh_size = size;
  sh.sh_link = link;
  sh.sh_entsize = entsize;
  return sh;
}

/// An object with no program headers and three sections right after its header: null, SHT_DYNSYM
/// claiming `symbols` bytes, and its string table. `file_size` makes it that long (sparse).
std::string write_dynsym_claiming(const std::string& path, uint64_t symbols, uint64_t file_size = 0) {
  std::string shdrs;
  for (const Elf64_Shdr& sh :
       {section(SHT_NULL, 0, 0), section(SHT_DYNSYM, 256, symbols, 2, sizeof(Elf64_Sym)),
        section(SHT_STRTAB, 256, 16)})
    shdrs.append(reinterpret_cast<const char*>(&sh), sizeof sh);
  write_text(path, hostile_elf({}, shdrs, 0, sizeof(Elf64_Ehdr), 3));
  if (file_size) REQUIRE(::truncate(path.c_str(), static_cast<off_t>(file_size)) == 0);
  return path;
}

} // namespace

TEST_CASE("elf: read_elf_hardening checks the symbol tables against the file and a cap before reading") {
  TempDir tmp("elf-hostile", 0700);
  std::string outside = write_dynsym_claiming(tmp / "dynsym-6g", 6 * gib);
  check_refused(
      outside, [&] { read_elf_hardening(outside); }, "dynamic symbol table lies outside the file");
  // Inside the (sparse) file, but far beyond any real object's: not read.
  std::string big = write_dynsym_claiming(tmp / "dynsym-64m", uint64_t{64} << 20, uint64_t{100} << 20);
  check_refused(
      big, [&] { read_elf_hardening(big); }, "dynamic symbol table is larger than 32 MiB");

  // e_shnum = 0 sends the reader to section header 0's sh_size for the real count.
  Elf64_Shdr sh0 = section(SHT_NULL, 0, 100'000'000);
  std::string xnum = write_text(
      tmp / "shnum", hostile_elf({}, std::string(reinterpret_cast<const char*>(&sh0), sizeof sh0), 0, 64, 0));
  check_refused(
      xnum, [&] { read_elf_hardening(xnum); }, "section header table lies outside the file");

  // No section headers: the count comes from DT_GNU_HASH, whose last chain never ends in a sparse
  // 64 MiB file. The walk along it stops at the cap.
  const uint64_t dyn_at = 64 + 2 * 56, hash_at = 4096;
  std::string dyn = dyn_bytes({{DT_SYMTAB, 0}, {DT_STRTAB, 0}, {DT_GNU_HASH, hash_at}, {DT_NULL, 0}});
  std::string gnu =
      hostile_elf({segment(PT_LOAD, 0, uint64_t{64} << 20), segment(PT_DYNAMIC, dyn_at, dyn.size())}, dyn);
  gnu.resize(hash_at, '\0');
  const uint32_t header[] = {1, 1, 1, 0}; // one bucket, symoffset 1, one bloom word
  gnu.append(reinterpret_cast<const char*>(header), sizeof header);
  gnu.append(8, '\0');       // the bloom word
  const uint32_t bucket = 1; // the chain starts at symbol 1 and has no end bit
  gnu.append(reinterpret_cast<const char*>(&bucket), sizeof bucket);
  std::string endless = write_text(tmp / "gnu-hash", gnu);
  REQUIRE(::truncate(endless.c_str(), off_t{64} << 20) == 0);
  check_refused(
      endless, [&] { read_elf_hardening(endless); }, "dynamic symbol table is larger than 32 MiB");

  // The 148-byte files: refused by the hardening reader too.
  std::string interp = write_text(tmp / "interp-6g", one_segment_claiming(PT_INTERP, 6 * gib));
  check_refused(
      interp, [&] { read_elf_hardening(interp); }, "PT_INTERP");
  std::string dynamic = write_text(tmp / "dynamic-2^62", one_segment_claiming(PT_DYNAMIC, uint64_t{1} << 62));
  check_refused(
      dynamic, [&] { read_elf_hardening(dynamic); }, "dynamic segment");
}

TEST_CASE("elf: one HardeningBudget bounds what read_elf_hardening reads over many files (red team 06)") {
  TempDir tmp("elf-hostile", 0700);
  // Within the per-file cap (24 MiB of symbols, sparse): each such file costs 24 MiB of reading.
  std::string planted = write_dynsym_claiming(tmp / "dynsym-24m", uint64_t{24} << 20, uint64_t{30} << 20);
  HardeningBudget budget(uint64_t{60} << 20);
  int judged = 0, unjudged = 0;
  for (int i = 0; i < 5; ++i) {
    UniqueFd fd(::open(planted.c_str(), O_RDONLY | O_CLOEXEC));
    REQUIRE(fd.get() >= 0);
    (read_elf_hardening(fd.get(), planted, budget) ? judged : unjudged)++;
  }
  CHECK(judged == 2); // 48 MiB paid; the third overdraws by one table, then nothing more is read
  CHECK(unjudged == 3);
  CHECK(budget.spent());

  // A real object costs a few KiB and reads the same with a budget as without.
  HardeningBudget plenty(audit_hardening_budget);
  UniqueFd fd(::open("/bin/true", O_RDONLY | O_CLOEXEC));
  REQUIRE(fd.get() >= 0);
  std::optional<ElfHardening> paid = read_elf_hardening(fd.get(), "/bin/true", plenty);
  REQUIRE(paid);
  CHECK(*paid == read_elf_hardening("/bin/true"));
  CHECK_FALSE(plenty.spent());
  CHECK(plenty.take(audit_hardening_budget - (uint64_t{1} << 20))); // it paid well under 1 MiB
}
