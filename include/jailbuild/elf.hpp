// SPDX-License-Identifier: MIT
#pragma once
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace jailbuild {

enum class ElfClass : uint8_t { elf32 = 1, elf64 = 2 };
enum class Endian : uint8_t { little = 1, big = 2 };

/// What the dynamic linker needs to know about one ELF object, and nothing more.
struct ElfInfo {
  ElfClass elf_class = ElfClass::elf64;
  Endian endian = Endian::little;
  uint16_t machine = 0;     ///< e_machine (EM_X86_64 = 62, ...)
  uint8_t osabi = 0;        ///< e_ident[EI_OSABI]
  uint16_t type = 0;        ///< e_type (ET_EXEC = 2, ET_DYN = 3)
  uint32_t flags = 0;       ///< e_flags (ARM float ABI, MIPS ABI, ...)
  bool has_dynamic = false; ///< a PT_DYNAMIC segment exists
  std::optional<std::string> interpreter;
  std::vector<std::string> needed;
  std::optional<std::string> soname;
  std::optional<std::string> rpath;   ///< raw DT_RPATH string, not split
  std::optional<std::string> runpath; ///< raw DT_RUNPATH string, not split
  bool nodeflib = false;              ///< DF_1_NODEFLIB in DT_FLAGS_1

  bool operator==(const ElfInfo&) const = default;
};

/// The ELF identity of a file, for the linker's "wrong class or machine: skip silently" rule.
struct ElfIdentity {
  ElfClass elf_class;
  Endian endian;
  uint16_t machine;
  bool operator==(const ElfIdentity&) const = default;
};

/// Reads the first bytes of a file: its identity if it is ELF, nullopt if not (or unreadable).
std::optional<ElfIdentity> probe_elf(const std::string& path);

/// The fast reader used by the walk: reads only the ELF header, the program headers, the dynamic
/// segment and its string table (a few KiB), never the whole file. Every size, offset and count is
/// checked against the file's size and a cap before anything is allocated: the file may be hostile.
/// Throws Error naming the path for a missing file, anything but a regular file (a FIFO is never
/// waited on), a non-ELF file, or a truncated/corrupt one (dynamic segment outside the file, ...).
ElfInfo read_elf_dynamic(const std::string& path);

/// The NT_GNU_ABI_TAG note of an ELF object (glibc's .note.ABI-tag): the oldest kernel it runs on.
struct ElfAbiTag {
  uint32_t os = 0; ///< ELF_NOTE_OS_LINUX = 0, GNU = 1, ...
  uint32_t major = 0, minor = 0, patch = 0;
  bool operator==(const ElfAbiTag&) const = default;
};

/// Reads the ABI tag from the PT_NOTE segments, the way read_elf_dynamic() reads (a few pread()
/// calls); nullopt when there is none. Throws Error naming the path for a missing or corrupt file.
/// Pack records the jail libc's tag so that unpack can refuse a host whose kernel is older.
std::optional<ElfAbiTag> read_elf_abi_tag(const std::string& path);

/// The same facts read with LIEF (full parse). The reference reader; cross-checked against
/// read_elf_dynamic() by the tests. Throws Error like read_elf_dynamic(). LIEF lives in a module,
/// libjailbuild-lief.so, loaded on first use (module.hpp): a module that cannot be loaded is an
/// Error naming the module.
ElfInfo read_elf_lief(const std::string& path);

/// Security hardening of an executable or library, as checksec reports it.
struct ElfHardening {
  enum class Relro : uint8_t { none, partial, full };
  bool pie = false;
  Relro relro = Relro::none;
  bool nx_stack = false;
  bool canary = false;
  bool fortify = false;
  bool operator==(const ElfHardening&) const = default;
};

/// Hardening facts read as read_elf_dynamic() reads: the program headers, the dynamic segment and the
/// dynamic symbols' names, each checked against the file and a cap first; never the whole file. For
/// files a jail's users may have written (the audit). Throws Error naming the path like
/// read_elf_dynamic().
ElfHardening read_elf_hardening(const std::string& path);
/// The same through an open fd, which stays the caller's: the audit reads the very file it opened
/// through the jail layer, whatever is renamed over its path meanwhile. `path` names it in errors.
ElfHardening read_elf_hardening(int fd, const std::string& path);

/// The bytes of symbol, string, hash and section header tables that read_elf_hardening() may read
/// over many files: one audit's, shared by its threads. Each file's tables are capped (32 MiB), but
/// a service user can plant hundreds of sparse files whose tables claim the cap: 300 of them took an
/// audit from 0.3 s to 71 s. A real nginx + php-fpm jail's 392 ELF files hold 4.3 MB of such tables,
/// the largest (libicui18n) 0.8 MB.
class HardeningBudget {
public:
  explicit HardeningBudget(std::uint64_t bytes) : left_(bytes) {}
  /// Takes `bytes` from what is left; false when less was left (then nothing is left).
  bool take(std::uint64_t bytes);
  /// Whether a take() has failed.
  bool spent() const { return spent_.load(std::memory_order_relaxed); }

private:
  std::atomic<std::uint64_t> left_;
  std::atomic<bool> spent_{false};
};

/// The audit's budget: 256 MiB, some 60 times what a real jail needs.
inline constexpr std::uint64_t audit_hardening_budget = std::uint64_t{256} << 20;

/// read_elf_hardening(fd, path), paying for each table it reads from `budget`: nullopt, the file not
/// judged, once the budget is spent (the caller says so; a file beyond the budget is not corrupt).
std::optional<ElfHardening> read_elf_hardening(int fd, const std::string& path, HardeningBudget& budget);

/// Hardening facts from LIEF's full parse (symbols, segments, dynamic flags): the reference the tests
/// hold read_elf_hardening() to. Never given a jail's files. Throws Error like read_elf_lief().
ElfHardening read_elf_hardening_lief(const std::string& path);

/// Loads the LIEF module now rather than on first use, so that a caller about to read many files
/// fails once, naming the module, instead of once per file.
void load_lief_module();

/// Debian's multiarch triplet for an ELF identity ("x86_64-linux-gnu"), from e_machine, class,
/// byte order and flags; nullopt for a machine we do not know.
std::optional<std::string> multiarch_triplet(const ElfInfo& info);

} // namespace jailbuild
