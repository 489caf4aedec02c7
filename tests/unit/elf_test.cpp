// SPDX-License-Identifier: MIT
// The bounded ELF readers (the walk's and the audit's hardening reader) and LIEF, the reference. They
// must agree on every fixture and on every object of the real nginx/php-fpm closure, and fail the same
// way, naming the file. Hostile files have their own cases (elf_hostile_test.cpp).
#include "jailbuild/elf.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/fd.hpp"
#include "jailbuild/hostfs.hpp"
#include "jailbuild/walk.hpp"

#include "test_util.hpp"

#include <doctest/doctest.h>

#include <bit>
#include <cstring>
#include <elf.h>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <unistd.h>
#include <vector>

using namespace jailbuild;
using namespace jailbuild::test;
namespace fs = std::filesystem;

namespace {

std::string fixture(const std::string& host_path) {
  return fixture_root + host_path;
}
std::string multiarch_lib() {
  return "/usr/lib/" + fixture_info("triplet");
}

using Reader = std::function<ElfInfo(const std::string&)>;
const std::vector<std::pair<std::string, Reader>> readers = {{"read_elf_dynamic", read_elf_dynamic},
                                                             {"read_elf_lief", read_elf_lief}};

/// The Error a reader throws for a file; a failed check (the case goes on) when it throws none.
std::optional<Error> error_of(const Reader& reader, const std::string& path) {
  try {
    reader(path);
  } catch (const Error& e) {
    return e;
  }
  FAIL_CHECK("no Error for " << path);
  return std::nullopt;
}

// --- A minimal ELF built in memory, for classes and byte orders no host compiler here produces ----

template <typename T> T to_order(T v, bool big) {
  bool host_big = std::endian::native == std::endian::big;
  if (big == host_big || sizeof(T) == 1) return v;
  if constexpr (sizeof(T) == 2)
    return static_cast<T>(__builtin_bswap16(static_cast<uint16_t>(v)));
  else if constexpr (sizeof(T) == 4)
    return static_cast<T>(__builtin_bswap32(static_cast<uint32_t>(v)));
  else
    return static_cast<T>(__builtin_bswap64(static_cast<uint64_t>(v)));
}

struct Elf32 {
  using Ehdr = Elf32_Ehdr;
  using Phdr = Elf32_Phdr;
  using Dyn = Elf32_Dyn;
  static constexpr unsigned char elf_class = ELFCLASS32;
};
struct Elf64 {
  using Ehdr = Elf64_Ehdr;
  using Phdr = Elf64_Phdr;
  using Dyn = Elf64_Dyn;
  static constexpr unsigned char elf_class = ELFCLASS64;
};

/// What to put into a hand-made ELF object.
struct ElfSpec {
  bool big = false;
  uint16_t machine = 0;
  uint32_t flags = 0;
  std::string interpreter; ///< empty: no PT_INTERP
  std::vector<std::string> needed;
  std::optional<std::string> soname, rpath, runpath;
  bool nodeflib = false;
};

/// Ehdr, then PT_LOAD (the whole file, vaddr == offset), PT_INTERP, PT_DYNAMIC, the interpreter,
/// the string table and the dynamic array: what ld.so and our reader look at, nothing more.
template <typename E> std::string make_elf(const ElfSpec& spec) {
  using Ehdr = typename E::Ehdr;
  using Phdr = typename E::Phdr;
  using Dyn = typename E::Dyn;
  auto o = [&](auto v) { return to_order(v, spec.big); };

  std::string strtab(1, '\0');
  auto add_string = [&](const std::string& s) {
    size_t off = strtab.size();
    strtab += s;
    strtab += '\0';
    return off;
  };
  std::vector<std::pair<int64_t, uint64_t>> dyn;
  for (const std::string& n : spec.needed)
    dyn.emplace_back(DT_NEEDED, add_string(n));
  if (spec.soname) dyn.emplace_back(DT_SONAME, add_string(*spec.soname));
  if (spec.rpath) dyn.emplace_back(DT_RPATH, add_string(*spec.rpath));
  if (spec.runpath) dyn.emplace_back(DT_RUNPATH, add_string(*spec.runpath));
  if (spec.nodeflib) dyn.emplace_back(DT_FLAGS_1, DF_1_NODEFLIB);

  const size_t phnum = 3;
  size_t interp_off = sizeof(Ehdr) + phnum * sizeof(Phdr);
  size_t interp_size = spec.interpreter.empty() ? 0 : spec.interpreter.size() + 1;
  size_t strtab_off = interp_off + interp_size;
  size_t dyn_off = (strtab_off + strtab.size() + 7) & ~size_t{7};
  dyn.emplace_back(DT_STRTAB, strtab_off);
  dyn.emplace_back(DT_STRSZ, strtab.size());
  dyn.emplace_back(DT_NULL, 0);
  size_t total = dyn_off + dyn.size() * sizeof(Dyn);

  std::string out(total, '\0');
  Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = E::elf_class;
  eh.e_ident[EI_DATA] = spec.big ? ELFDATA2MSB : ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_type = o(static_cast<uint16_t>(ET_DYN));
  eh.e_machine = o(spec.machine);
  eh.e_version = o(static_cast<uint32_t>(EV_CURRENT));
  eh.e_phoff = o(static_cast<decltype(eh.e_phoff)>(sizeof(Ehdr)));
  eh.e_flags = o(spec.flags);
  eh.e_ehsize = o(static_cast<uint16_t>(sizeof(Ehdr)));
  eh.e_phentsize = o(static_cast<uint16_t>(sizeof(Phdr)));
  eh.e_phnum = o(static_cast<uint16_t>(phnum));
  std::memcpy(out.data(), &eh, sizeof eh);

  auto phdr = [&](size_t index, uint32_t type, size_t offset, size_t size) {
    Phdr ph{};
    ph.p_type = o(type);
    ph.p_offset = o(static_cast<decltype(ph.p_offset)>(offset));
    ph.p_vaddr = o(static_cast<decltype(ph.p_vaddr)>(offset));
    ph.p_paddr = ph.p_vaddr;
    ph.p_filesz = o(static_cast<decltype(ph.p_filesz)>(size));
    ph.p_memsz = ph.p_filesz;
    ph.p_flags = o(static_cast<uint32_t>(PF_R));
    std::memcpy(out.data() + sizeof(Ehdr) + index * sizeof(Phdr), &ph, sizeof ph);
  };
  phdr(0, PT_LOAD, 0, total);
  // An unused PT_INTERP slot becomes PT_NULL, which every reader skips.
  phdr(1, spec.interpreter.empty() ? PT_NULL : PT_INTERP, interp_off, interp_size);
  phdr(2, PT_DYNAMIC, dyn_off, dyn.size() * sizeof(Dyn));

  std::memcpy(out.data() + interp_off, spec.interpreter.c_str(), interp_size);
  std::memcpy(out.data() + strtab_off, strtab.data(), strtab.size());
  for (size_t i = 0; i < dyn.size(); ++i) {
    Dyn d{};
    d.d_tag = o(static_cast<decltype(d.d_tag)>(dyn[i].first));
    d.d_un.d_val = o(static_cast<decltype(d.d_un.d_val)>(dyn[i].second));
    std::memcpy(out.data() + dyn_off + i * sizeof(Dyn), &d, sizeof d);
  }
  return out;
}

/// Checks that read_elf_dynamic() finds in a hand-made object what was put there.
void check_hand_made(const std::string& path, const ElfSpec& spec, ElfClass elf_class) {
  INFO(path);
  ElfInfo info = read_elf_dynamic(path);
  CHECK(info.elf_class == elf_class);
  CHECK(info.endian == (spec.big ? Endian::big : Endian::little));
  CHECK(info.machine == spec.machine);
  CHECK(info.flags == spec.flags);
  CHECK(info.type == ET_DYN);
  CHECK(info.has_dynamic);
  CHECK(info.interpreter == (spec.interpreter.empty() ? std::nullopt : std::optional(spec.interpreter)));
  CHECK(info.needed == spec.needed);
  CHECK(info.soname == spec.soname);
  CHECK(info.rpath == spec.rpath);
  CHECK(info.runpath == spec.runpath);
  CHECK(info.nodeflib == spec.nodeflib);
  std::optional<ElfIdentity> id = probe_elf(path);
  REQUIRE(id);
  CHECK(*id == ElfIdentity{elf_class, spec.big ? Endian::big : Endian::little, spec.machine});
  CHECK(read_elf_lief(path) == info);
}

} // namespace

namespace jailbuild {
// How doctest shows an ElfInfo in a failed CHECK (internal linkage: other test files may have theirs).
[[maybe_unused]] static std::ostream& operator<<(std::ostream& out, const ElfInfo& i) {
  auto opt = [](const std::optional<std::string>& v) { return v ? '"' + *v + '"' : std::string("none"); };
  out << "{class " << (i.elf_class == ElfClass::elf64 ? 64 : 32) << ", "
      << (i.endian == Endian::little ? "LE" : "BE") << ", machine " << i.machine << ", osabi " << int{i.osabi}
      << ", type " << i.type << ", flags " << i.flags << ", dynamic " << i.has_dynamic << ", interp "
      << opt(i.interpreter) << ", needed [";
  for (const std::string& n : i.needed)
    out << n << ' ';
  return out << "], soname " << opt(i.soname) << ", rpath " << opt(i.rpath) << ", runpath " << opt(i.runpath)
             << ", nodeflib " << i.nodeflib << '}';
}
} // namespace jailbuild

TEST_CASE("elf: read_elf_dynamic and read_elf_lief agree on every fixture") {
  int compared = 0;
  for (const fs::directory_entry& entry : fs::recursive_directory_iterator(fixture_root)) {
    if (!entry.is_regular_file() || entry.is_symlink()) continue;
    std::string path = entry.path().string();
    std::string host_path = path.substr(fixture_root.size());
    if (host_path.rfind("/opt/broken/", 0) == 0) continue; // the corrupt files have their own cases
    if (!probe_elf(path)) continue;
    INFO(host_path);
    CHECK(read_elf_dynamic(path) == read_elf_lief(path));
    ++compared;
  }
  CHECK(compared >= 30); // libc, ld.so and the fixture programs and libraries
}

TEST_CASE("elf: read_elf_dynamic reads each dynamic fact of the fixtures") {
  std::string lib = multiarch_lib();
  ElfInfo hello = read_elf_dynamic(fixture("/usr/bin/hello"));
  CHECK(hello.interpreter == fixture_info("interpreter"));
  CHECK(hello.needed == std::vector<std::string>{"libhop.so.1", "libc.so.6"});
  CHECK(hello.has_dynamic);
  CHECK_FALSE(hello.soname);
  CHECK(read_elf_dynamic(fixture(lib + "/libhop.so.1.0.0")).soname == "libhop.so.1");

  ElfInfo rpath = read_elf_dynamic(fixture("/usr/bin/rpath-exe"));
  CHECK(rpath.rpath == "/opt/rpath/a:/opt/rpath/b");
  CHECK_FALSE(rpath.runpath);
  ElfInfo runpath = read_elf_dynamic(fixture("/usr/bin/runpath-exe"));
  CHECK(runpath.runpath == "/opt/runpath/lib");
  CHECK_FALSE(runpath.rpath);
  // Raw strings: tokens unexpanded, empty elements kept.
  CHECK(read_elf_dynamic(fixture("/srv/plug/lib/libplug.so")).runpath == "$ORIGIN/../deps");
  CHECK(read_elf_dynamic(fixture("/usr/bin/cwd-exe")).rpath == ":opt/rel");
  CHECK(read_elf_dynamic(fixture("/usr/bin/slash-exe")).needed.front() == "opt/abs/libnoso.so");

  CHECK(read_elf_dynamic(fixture("/opt/nodef/lib/libnodef.so")).nodeflib);
  CHECK_FALSE(read_elf_dynamic(fixture("/usr/bin/nodef-exe")).nodeflib);

  ElfInfo libc = read_elf_dynamic(fixture(lib + "/libc.so.6"));
  CHECK(libc.type == ET_DYN);
  CHECK(multiarch_triplet(libc) == fixture_info("triplet"));
  ElfInfo decoy = read_elf_dynamic(fixture("/opt/decoy/lib/libdecoy.so.1"));
  CHECK(decoy.machine != libc.machine);
  CHECK(decoy.soname == "libdecoy.so.1");
}

TEST_CASE("elf: probe_elf gives the identity of an ELF file and nothing for anything else") {
  std::string lib = multiarch_lib();
  ElfInfo libc = read_elf_dynamic(fixture(lib + "/libc.so.6"));
  CHECK(probe_elf(fixture(lib + "/libc.so.6")) == ElfIdentity{libc.elf_class, libc.endian, libc.machine});
  std::optional<ElfIdentity> decoy = probe_elf(fixture("/opt/decoy/lib/libdecoy.so.1"));
  REQUIRE(decoy);
  CHECK(decoy->machine == (libc.machine == EM_AARCH64 ? EM_X86_64 : EM_AARCH64));
  CHECK_FALSE(probe_elf(fixture("/opt/text/libscript.so")));
  CHECK_FALSE(probe_elf(fixture("/no/such/file")));
}

TEST_CASE("elf: a truncated libc is an Error naming the file, from both readers") {
  // Cut at 8 KiB (PT_INTERP and PT_DYNAMIC beyond the end) and just before the dynamic segment.
  for (const char* name : {"/opt/broken/libc-8k.so.6", "/opt/broken/libc-nodynamic.so.6"}) {
    std::string path = fixture(name);
    for (const auto& [reader_name, reader] : readers) {
      INFO(reader_name << " on " << name);
      std::optional<Error> e = error_of(reader, path);
      if (!e) continue;
      CHECK(e->path() == path);
      CHECK(e->message().find("truncated") != std::string::npos);
      CHECK(std::string(e->what()) == path + ": " + e->message());
    }
  }
}

TEST_CASE("elf: a cut anywhere in a small program is an Error or the facts of the whole file") {
  // Every prefix that still holds the headers, PT_INTERP and the dynamic segment gives the same facts;
  // every shorter one an Error naming the file. Never a crash, never silently fewer facts: LIEF 0.9
  // zero-fills what it cannot read, so its reader must check sizes itself.
  TempDir tmp("elf", 0700);
  std::string whole = read_text(fixture("/usr/bin/hello"));
  ElfInfo expected = read_elf_dynamic(fixture("/usr/bin/hello"));
  std::vector<size_t> sizes;
  for (size_t size = 0; size < 128; ++size)
    sizes.push_back(size); // inside the ELF header, byte by byte
  for (size_t size = 128; size < whole.size(); size += 97)
    sizes.push_back(size);
  std::string wrong; // "<reader>@<size>" for every cut read without an Error into other facts
  for (size_t size : sizes) {
    std::string path = write_text(tmp / "cut", whole.substr(0, size));
    for (const auto& [reader_name, reader] : readers) {
      try {
        if (!(reader(path) == expected)) wrong += " " + reader_name + "@" + std::to_string(size);
      } catch (const Error& e) {
        CHECK(e.path() == path);
      }
    }
  }
  CHECK_MESSAGE(wrong.empty(), "cuts read as something else:" << wrong);
}

TEST_CASE("elf: a text file is not an ELF file, for both readers") {
  TempDir tmp("elf", 0700);
  std::vector<std::string> paths = {fixture("/opt/text/libscript.so"), write_text(tmp / "empty", ""),
                                    write_text(tmp / "short", "\x7f"
                                                              "ELF"),
                                    write_text(tmp / "script", "#!/bin/sh\necho hi\n")};
  for (const std::string& path : paths) {
    for (const auto& [reader_name, reader] : readers) {
      INFO(reader_name << " on " << path);
      std::optional<Error> e = error_of(reader, path);
      if (!e) continue;
      CHECK(e->path() == path);
      CHECK(e->message() == "not an ELF file");
    }
  }
}

TEST_CASE("elf: a missing file or a directory is an Error naming it, for both readers") {
  TempDir tmp("elf", 0700);
  std::string missing = tmp.path + "/missing.so";
  for (const auto& [reader_name, reader] : readers) {
    INFO(reader_name);
    if (std::optional<Error> e = error_of(reader, missing)) {
      CHECK(e->path() == missing);
      CHECK(e->message().rfind("cannot open", 0) == 0);
    }
    if (std::optional<Error> e = error_of(reader, tmp.path)) {
      CHECK(e->path() == tmp.path);
      CHECK(e->message() == "not a regular file");
    }
  }
}

TEST_CASE("elf: read_elf_dynamic reads 32- and 64-bit objects of either byte order") {
  TempDir tmp("elf", 0700);
  ElfSpec spec;
  spec.interpreter = "/lib/ld.so.1";
  spec.needed = {"libfoo.so.1", "libc.so.6"};
  spec.soname = "libbar.so.2";
  spec.rpath = "$ORIGIN/../lib::/opt/x";
  spec.runpath = "/opt/run";
  spec.nodeflib = true;

  spec.big = true;
  spec.machine = EM_PPC;
  check_hand_made(write_text(tmp / "ppc", make_elf<Elf32>(spec)), spec, ElfClass::elf32);
  spec.machine = EM_S390;
  check_hand_made(write_text(tmp / "s390x", make_elf<Elf64>(spec)), spec, ElfClass::elf64);
  spec.big = false;
  spec.machine = EM_ARM;
  spec.flags = EF_ARM_ABI_FLOAT_HARD | 0x05000000; // EABI version 5, hard float
  check_hand_made(write_text(tmp / "armhf", make_elf<Elf32>(spec)), spec, ElfClass::elf32);
  spec.flags = 0;
  spec.machine = EM_RISCV;
  spec.interpreter.clear();
  spec.soname.reset();
  check_hand_made(write_text(tmp / "riscv", make_elf<Elf64>(spec)), spec, ElfClass::elf64);
}

TEST_CASE("elf: multiarch_triplet spot checks") {
  auto triplet = [](uint16_t machine, ElfClass c, Endian e, uint32_t flags = 0) {
    ElfInfo info;
    info.machine = machine;
    info.elf_class = c;
    info.endian = e;
    info.flags = flags;
    return multiarch_triplet(info);
  };
  using enum ElfClass;
  using enum Endian;
  CHECK(triplet(EM_X86_64, elf64, little) == "x86_64-linux-gnu");
  CHECK(triplet(EM_X86_64, elf32, little) == "x86_64-linux-gnux32");
  CHECK(triplet(EM_386, elf32, little) == "i386-linux-gnu");
  CHECK(triplet(EM_AARCH64, elf64, little) == "aarch64-linux-gnu");
  CHECK(triplet(EM_ARM, elf32, little, EF_ARM_ABI_FLOAT_HARD) == "arm-linux-gnueabihf");
  CHECK(triplet(EM_ARM, elf32, little, 0) == "arm-linux-gnueabi");
  CHECK(triplet(EM_PPC64, elf64, little) == "powerpc64le-linux-gnu");
  CHECK(triplet(EM_PPC64, elf64, big) == "powerpc64-linux-gnu");
  CHECK(triplet(EM_S390, elf64, big) == "s390x-linux-gnu");
  CHECK(triplet(EM_MIPS, elf32, little) == "mipsel-linux-gnu");
  CHECK(triplet(EM_MIPS, elf64, little) == "mips64el-linux-gnuabi64");
  CHECK(triplet(EM_RISCV, elf64, little) == "riscv64-linux-gnu");
  CHECK_FALSE(triplet(0x7777, elf64, little));
  CHECK_FALSE(triplet(EM_NONE, elf64, little));
}

namespace {

/// The closure of the real host's nginx, php-fpm and PHP extensions.
WalkResult real_closure() {
  HostRoot host("/");
  std::vector<std::string> fpm = host.glob("/usr/sbin/php-fpm*");
  REQUIRE(!fpm.empty());
  std::vector<WalkRoot> roots = {{"/usr/sbin/nginx", {}}};
  for (const std::string& f : fpm)
    roots.push_back({f, {}});
  for (const std::string& ext : host.glob("/usr/lib/php/*/*.so"))
    roots.push_back({ext, fpm.front()});
  return walk(host, roots);
}

} // namespace

TEST_CASE("elf: read_elf_dynamic agrees with LIEF on every object of the real nginx and php-fpm closure" *
          doctest::skip(!real_services_installed())) {
  // The walk trusts the small reader; this holds it to LIEF on the files a real jail is made of.
  WalkResult result = real_closure();
  CHECK(result.objects.size() > 20);
  for (const WalkObject& o : result.objects) {
    INFO(o.path);
    CHECK(read_elf_lief(o.path) == read_elf_dynamic(o.path));
    CHECK(o.elf == read_elf_dynamic(o.path));
  }
}

namespace jailbuild {
[[maybe_unused]] static std::ostream& operator<<(std::ostream& out, const ElfHardening& h) {
  return out << "{pie " << h.pie << ", relro " << int(h.relro) << ", nx " << h.nx_stack << ", canary "
             << h.canary << ", fortify " << h.fortify << '}';
}
} // namespace jailbuild

namespace {

/// How many files had each hardening fact set.
struct HardeningSeen {
  int pie = 0, full_relro = 0, canary = 0, fortify = 0;
};

/// read_elf_hardening of each file, checked against LIEF's reading and against itself through an fd.
HardeningSeen check_hardening_against_lief(const std::vector<std::string>& paths) {
  HardeningSeen seen;
  for (const std::string& path : paths) {
    INFO(path);
    ElfHardening bounded = read_elf_hardening(path);
    CHECK(bounded == read_elf_hardening_lief(path));
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    REQUIRE(fd);
    CHECK(read_elf_hardening(fd.get(), path) == bounded);
    seen.pie += bounded.pie;
    seen.full_relro += bounded.relro == ElfHardening::Relro::full;
    seen.canary += bounded.canary;
    seen.fortify += bounded.fortify;
  }
  return seen;
}

} // namespace

TEST_CASE("elf: read_elf_hardening agrees with LIEF on every fixture") {
  // The audit reads hardening with the bounded reader only; LIEF is the reference it is held to.
  std::vector<std::string> paths;
  for (const fs::directory_entry& entry : fs::recursive_directory_iterator(fixture_root)) {
    std::string path = entry.path().string();
    if (entry.is_regular_file() && !entry.is_symlink() && !contains(path, "/opt/broken/") && probe_elf(path))
      paths.push_back(path);
  }
  CHECK(paths.size() >= 30);
  // The fixtures are built without canary, full RELRO or FORTIFY: the real closure has those.
  CHECK(check_hardening_against_lief(paths).pie > 0);
}

TEST_CASE("elf: read_elf_hardening agrees with LIEF on every object of the real closure" *
          doctest::skip(!real_services_installed())) {
  std::vector<std::string> paths;
  for (const WalkObject& o : real_closure().objects)
    paths.push_back(o.path);
  CHECK(paths.size() > 100);
  HardeningSeen seen = check_hardening_against_lief(paths);
  // Every fact was seen set somewhere, not only left at its default: Debian builds with all of them.
  CHECK(seen.pie > 0);
  CHECK(seen.full_relro > 0);
  CHECK(seen.canary > 0);
  CHECK(seen.fortify > 0);
}

TEST_CASE("elf: read_elf_hardening fails like read_elf_dynamic, naming the file") {
  TempDir tmp("elf", 0700);
  std::string cut = write_text(tmp / "cut", read_text(fixture("/usr/bin/hello")).substr(0, 100));
  CHECK(contains(error_of([&] { read_elf_hardening(cut); }), cut + ": truncated"));
  std::string text = fixture("/opt/text/libscript.so");
  CHECK(error_of([&] { read_elf_hardening(text); }) == text + ": not an ELF file");
  CHECK(error_of([&] { read_elf_hardening(tmp.path); }) == tmp.path + ": not a regular file");
}
