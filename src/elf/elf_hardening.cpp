// SPDX-License-Identifier: MIT
// Hardening facts (PIE, RELRO, NX stack, stack canary, FORTIFY), read the way the walk's reader reads:
// by offset, each table checked against the file and a cap before it is allocated (elf_internal.hpp).
//
// Why not LIEF, which did this before: the audit runs as root over every ELF file of a jail, and the
// files in its writable directories are written by the jail's service users. LIEF 0.9 (Debian's) reads
// and models a whole file: a 3 GiB sparse file with an ELF header, planted in a session directory,
// cost 6 GB of memory and a minute; every table of a crafted file is parsed by a large old parser
// that was never meant for hostile input. A parse in a forked child under RLIMIT_AS and RLIMIT_CPU
// would bound the memory and the time but would still run that parser as root on the attacker's
// bytes, and pay a fork per file. What checksec needs is small: the program headers, the dynamic
// segment and the dynamic symbols' names, all found by offset. So this reads exactly that, a few
// pread() calls per file, and never touches the rest; LIEF stays the reference the tests hold it to
// on every object of a real nginx + php-fpm closure and on the fixtures (tests/unit/elf_test.cpp).
#include "jailbuild/elf.hpp"

#include "elf_internal.hpp"
#include "jailbuild/error.hpp"

#include <elf.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace jailbuild {

namespace {

using namespace elf;

/// Thrown when the budget cannot pay for a table just read: it aborts the one file's parse, which
/// read_elf_hardening() turns into nullopt (never seen outside this file).
struct BudgetSpent {};

/// Pays for `bytes` of tables just read (each read is capped, so a file overdraws by one table at
/// most); nullptr: no budget, for the callers that read one file.
void pay(HardeningBudget* budget, uint64_t bytes) {
  if (budget && !budget->take(bytes)) throw BudgetSpent{};
}

/// Where the dynamic symbols and their names lie in the file.
struct SymbolTables {
  uint64_t symbols_at = 0, count = 0;
  uint64_t strings_at = 0, strings_size = 0;
};

/// The dynamic segment's entries that say where the symbols are.
struct DynamicTables {
  std::optional<uint64_t> symtab, strtab, hash, gnu_hash;
  uint64_t strsz = 0;
};

/// The count of symbols DT_GNU_HASH covers: one past the end of the chain that starts in the highest
/// bucket. The symbols below symoffset (the undefined ones among them) are not hashed but counted.
template <typename T>
uint64_t gnu_hash_count(const InputFile& file, uint64_t at, bool swap, HardeningBudget* budget) {
  auto sw = [swap](auto v) { return swap_if(v, swap); };
  std::vector<uint32_t> head = file.read_array<uint32_t>(4, at, "DT_GNU_HASH", max_table_bytes);
  const uint64_t nbuckets = sw(head[0]), symoffset = sw(head[1]), bloom_words = sw(head[2]);
  const uint64_t buckets_at = at + 16 + bloom_words * sizeof(typename T::Addr); // < 2^37 past at
  std::vector<uint32_t> buckets =
      file.read_array<uint32_t>(nbuckets, buckets_at, "DT_GNU_HASH buckets", max_table_bytes);
  pay(budget, nbuckets * 4);
  uint64_t last = 0;
  for (uint32_t b : buckets)
    last = std::max<uint64_t>(last, sw(b));
  if (last < symoffset) return symoffset;
  // Walk the last chain to its end bit, a block at a time, never past what the cap allows.
  const uint64_t chains_at = buckets_at + nbuckets * 4;
  const uint64_t max_symbols = max_table_bytes / sizeof(typename T::Sym);
  for (uint64_t i = last; i < max_symbols;) {
    const uint64_t chain_at = chains_at + (i - symoffset) * 4;
    uint64_t block = std::min<uint64_t>(1024, max_symbols - i);
    if (chain_at < file.size()) block = std::min(block, (file.size() - chain_at) / 4);
    std::vector<uint32_t> chain = file.read_array<uint32_t>(std::max<uint64_t>(block, 1), chain_at,
                                                            "DT_GNU_HASH chains", max_table_bytes);
    pay(budget, chain.size() * 4);
    for (uint64_t k = 0; k < block; ++k)
      if (sw(chain[k]) & 1) return i + k + 1;
    i += block;
  }
  throw Error(file.path(), "corrupt ELF: dynamic symbol table is larger than " + size_text(max_table_bytes));
}

/// The dynamic symbol table and its strings: from the section headers when the file has them (strip
/// keeps them: readelf --dyn-syms reads them too), else from DT_SYMTAB and DT_STRTAB with the count
/// of DT_HASH or DT_GNU_HASH. nullopt when the file has no dynamic symbols.
template <typename T>
std::optional<SymbolTables> symbol_tables(const InputFile& file, const typename T::Ehdr& eh,
                                          const std::vector<typename T::Phdr>& phdrs,
                                          const DynamicTables& dyn, bool swap, HardeningBudget* budget) {
  using Shdr = typename T::Shdr;
  using Sym = typename T::Sym;
  auto sw = [swap](auto v) { return swap_if(v, swap); };
  if (uint64_t shoff = sw(eh.e_shoff); shoff != 0 && sw(eh.e_shentsize) == sizeof(Shdr)) {
    uint64_t shnum = sw(eh.e_shnum);
    if (shnum == 0) { // SHN_UNDEF: the real count lives in section header 0's sh_size
      Shdr sh0;
      file.read_exact(&sh0, sizeof sh0, shoff, "section header 0");
      shnum = sw(sh0.sh_size);
    }
    std::vector<Shdr> sections = file.read_array<Shdr>(shnum, shoff, "section header table", max_table_bytes);
    pay(budget, shnum * sizeof(Shdr));
    for (const Shdr& sh : sections) {
      if (sw(sh.sh_type) != SHT_DYNSYM) continue;
      if (sw(sh.sh_entsize) != sizeof(Sym)) throw Error(file.path(), "corrupt ELF: unexpected symbol size");
      uint64_t link = sw(sh.sh_link);
      if (link >= sections.size() || sw(sections[link].sh_type) != SHT_STRTAB)
        throw Error(file.path(), "corrupt ELF: the dynamic symbols' string table is not a string table");
      return SymbolTables{sw(sh.sh_offset), sw(sh.sh_size) / sizeof(Sym), sw(sections[link].sh_offset),
                          sw(sections[link].sh_size)};
    }
    return std::nullopt;
  }
  if (!dyn.symtab || !dyn.strtab) return std::nullopt;
  std::optional<FileSpan> symbols = file_span_of(phdrs, *dyn.symtab, swap);
  std::optional<FileSpan> strings = file_span_of(phdrs, *dyn.strtab, swap);
  if (!symbols || !strings)
    throw Error(file.path(), "corrupt ELF: DT_SYMTAB or DT_STRTAB is not inside a loadable segment");
  uint64_t count = 0;
  if (std::optional<FileSpan> hash = dyn.hash ? file_span_of(phdrs, *dyn.hash, swap) : std::nullopt)
    count = sw(file.read_array<uint32_t>(2, hash->offset, "DT_HASH", max_table_bytes)[1]); // nchain
  else if (std::optional<FileSpan> gnu =
               dyn.gnu_hash ? file_span_of(phdrs, *dyn.gnu_hash, swap) : std::nullopt)
    count = gnu_hash_count<T>(file, gnu->offset, swap, budget);
  return SymbolTables{symbols->offset, count, strings->offset, std::min(dyn.strsz, strings->available)};
}

/// Calls `seen(name)` for every undefined dynamic symbol: what the object imports. (LIEF counts only
/// those typed as functions or objects: on the 2,863 ELF files of a Debian host that differs for two
/// valgrind preloads, whose untyped __printf_chk imports make them FORTIFY users here, rightly.)
template <typename T, class Seen>
void for_each_import(const InputFile& file, const SymbolTables& tables, bool swap, HardeningBudget* budget,
                     Seen&& seen) {
  using Sym = typename T::Sym;
  auto sw = [swap](auto v) { return swap_if(v, swap); };
  std::vector<Sym> symbols =
      file.read_array<Sym>(tables.count, tables.symbols_at, "dynamic symbol table", max_table_bytes);
  std::string strings =
      file.read_bytes(tables.strings_at, tables.strings_size, "dynamic string table", max_table_bytes);
  pay(budget, tables.count * sizeof(Sym) + tables.strings_size);
  for (const Sym& sym : symbols) {
    uint64_t name = sw(sym.st_name);
    if (sw(sym.st_shndx) != SHN_UNDEF || name == 0 || name >= strings.size()) continue;
    const char* start = strings.data() + name;
    const void* end = std::memchr(start, '\0', strings.size() - name);
    if (!end) continue; // unterminated: no name any linker would match
    seen(std::string_view(start, static_cast<const char*>(end) - start));
  }
}

template <typename T>
ElfHardening hardening_typed(const InputFile& file, bool swap, HardeningBudget* budget) {
  using Phdr = typename T::Phdr;
  auto sw = [swap](auto v) { return swap_if(v, swap); };
  typename T::Ehdr eh;
  file.read_exact(&eh, sizeof eh, 0, "ELF header");
  const std::vector<Phdr> phdrs = program_headers<T>(file, eh, swap);

  ElfHardening h;
  bool interpreter = false, relro = false;
  const Phdr* dynamic = nullptr;
  for (const Phdr& ph : phdrs) {
    switch (sw(ph.p_type)) {
    case PT_INTERP: {
      std::string text = file.read_bytes(sw(ph.p_offset), sw(ph.p_filesz), "PT_INTERP", max_interp_bytes);
      interpreter = !text.empty() && text.front() != '\0';
      break;
    }
    case PT_GNU_RELRO:
      relro = true;
      break;
    case PT_GNU_STACK: // without one, the stack is executable on most architectures
      h.nx_stack = (sw(ph.p_flags) & PF_X) == 0;
      break;
    case PT_DYNAMIC:
      if (!dynamic) dynamic = &ph;
      break;
    default:
      break;
    }
  }

  bool bind_now = false, pie_flag = false;
  DynamicTables dyn;
  if (dynamic) {
    for (const DynEntry& d : dynamic_entries<T>(file, *dynamic, swap)) {
      switch (d.tag) {
      case DT_BIND_NOW:
        bind_now = true;
        break;
      case DT_FLAGS:
        bind_now = bind_now || (d.value & DF_BIND_NOW);
        break;
      case DT_FLAGS_1:
        bind_now = bind_now || (d.value & DF_1_NOW);
        pie_flag = pie_flag || (d.value & DF_1_PIE);
        break;
      case DT_SYMTAB:
        dyn.symtab = d.value;
        break;
      case DT_STRTAB:
        dyn.strtab = d.value;
        break;
      case DT_STRSZ:
        dyn.strsz = d.value;
        break;
      case DT_HASH:
        dyn.hash = d.value;
        break;
      case DT_GNU_HASH:
        dyn.gnu_hash = d.value;
        break;
      default:
        break;
      }
    }
  }
  h.pie = sw(eh.e_type) == ET_DYN && (pie_flag || interpreter);
  h.relro = !relro     ? ElfHardening::Relro::none
            : bind_now ? ElfHardening::Relro::full
                       : ElfHardening::Relro::partial;

  if (std::optional<SymbolTables> tables = symbol_tables<T>(file, eh, phdrs, dyn, swap, budget)) {
    for_each_import<T>(file, *tables, swap, budget, [&h](std::string_view name) {
      if (name == "__stack_chk_fail" || name == "__stack_chk_guard") h.canary = true;
      // __memcpy_chk, __printf_chk, ...: what _FORTIFY_SOURCE calls instead.
      if (name.size() > 6 && name.starts_with("__") && name.ends_with("_chk") && name != "__stack_chk_fail")
        h.fortify = true;
    });
  }
  return h;
}

} // namespace

bool HardeningBudget::take(std::uint64_t bytes) {
  std::uint64_t left = left_.load(std::memory_order_relaxed);
  do {
    if (bytes > left) {
      left_.store(0, std::memory_order_relaxed);
      spent_.store(true, std::memory_order_relaxed);
      return false;
    }
  } while (!left_.compare_exchange_weak(left, left - bytes, std::memory_order_relaxed));
  return true;
}

ElfHardening read_elf_hardening(const std::string& path) {
  return with_elf_class(InputFile(path), [&]<class Types>(const InputFile& file, bool swap, Types) {
    return hardening_typed<Types>(file, swap, nullptr);
  });
}

ElfHardening read_elf_hardening(int fd, const std::string& path) {
  return with_elf_class(InputFile(fd, path), [&]<class Types>(const InputFile& file, bool swap, Types) {
    return hardening_typed<Types>(file, swap, nullptr);
  });
}

std::optional<ElfHardening> read_elf_hardening(int fd, const std::string& path, HardeningBudget& budget) {
  if (budget.spent()) return std::nullopt;
  try {
    return with_elf_class(InputFile(fd, path), [&]<class Types>(const InputFile& file, bool swap, Types) {
      return hardening_typed<Types>(file, swap, &budget);
    });
  } catch (const BudgetSpent&) {
    return std::nullopt;
  }
}

} // namespace jailbuild
