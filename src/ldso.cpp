// SPDX-License-Identifier: MIT
#include "jailbuild/ldso.hpp"

#include "jailbuild/error.hpp"
#include "jailbuild/hostfs.hpp"

#include <elf.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace jailbuild {

namespace {

/// glibc-hwcaps levels per architecture, best first (glibc 2.36 sysdeps/*/dl-hwcaps-subdirs.c).
std::vector<std::string> hwcaps_levels(const ElfInfo& info) {
  switch (info.machine) {
  case EM_X86_64:
    if (info.elf_class == ElfClass::elf64) return {"x86-64-v4", "x86-64-v3", "x86-64-v2"};
    return {};
  case EM_PPC64:
    if (info.endian == Endian::little) return {"power10", "power9"};
    return {};
  case EM_S390:
    return {"z16", "z15", "z14", "z13"};
  default:
    return {};
  }
}

/// The AT_PLATFORM string the kernel reports. It is CPU-dependent on a few architectures; we take
/// the common value (the CPU decides at run time, which is why every hwcaps variant is recorded).
std::string platform_string(const ElfInfo& info, const std::string& triplet) {
  switch (info.machine) {
  case EM_X86_64:
    return "x86_64";
  case EM_386:
    return "i686";
  case EM_ARM:
    return "v7l";
  case EM_PPC64:
    return info.endian == Endian::little ? "power8" : "power7";
  default:
    return triplet.substr(0, triplet.find('-'));
  }
}

void add_unique(std::vector<std::string>& list, std::string value) {
  if (std::find(list.begin(), list.end(), value) == list.end()) list.push_back(std::move(value));
}

} // namespace

std::string expand_tokens(std::string_view element, const std::string& origin, const Platform& platform) {
  std::string out;
  size_t i = 0;
  while (i < element.size()) {
    if (element[i] != '$') {
      out += element[i++];
      continue;
    }
    std::string_view rest = element.substr(i + 1);
    auto take = [&](std::string_view name) -> bool {
      bool braced = rest.size() > name.size() + 1 && rest.front() == '{' &&
                    rest.substr(1, name.size()) == name && rest[name.size() + 1] == '}';
      // An unbraced token ends where a name character could not continue it.
      bool plain =
          rest.substr(0, name.size()) == name &&
          (rest.size() == name.size() ||
           !(std::isalnum(static_cast<unsigned char>(rest[name.size()])) || rest[name.size()] == '_'));
      if (!braced && !plain) return false;
      i += 1 + name.size() + (braced ? 2 : 0);
      return true;
    };
    if (take("ORIGIN"))
      out += origin;
    else if (take("LIB"))
      out += platform.lib;
    else if (take("PLATFORM"))
      out += platform.platform;
    else
      out += element[i++]; // not a token ld.so knows: kept verbatim
  }
  return out;
}

Platform platform_for(const ElfInfo& info, const std::string& path) {
  std::optional<std::string> triplet = multiarch_triplet(info);
  if (!triplet) throw Error(path, "unsupported ELF machine " + std::to_string(info.machine));
  Platform p;
  p.triplet = *triplet;
  p.lib = "lib/" + *triplet;
  p.platform = platform_string(info, *triplet);
  for (const std::string& level : hwcaps_levels(info))
    p.hwcap_subdirs.push_back("glibc-hwcaps/" + level);
  // Legacy hwcaps directories, still searched by glibc 2.36 (removed in 2.37).
  for (std::string legacy : {"tls/" + p.platform + "/" + p.platform, "tls/" + p.platform, std::string("tls"),
                             p.platform + "/" + p.platform, p.platform})
    add_unique(p.hwcap_subdirs, legacy);
  p.default_dirs = {"/lib/" + *triplet, "/usr/lib/" + *triplet, "/lib", "/usr/lib"};
  return p;
}

std::string origin_of(const std::string& opened_as, const std::string& resolved, OriginOf kind) {
  // ld.so strips the last component of the name as opened, nothing more: "/a/link/../x.so" keeps its "..".
  const std::string& path = kind == OriginOf::main_executable ? resolved : opened_as;
  size_t slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? std::string("/") : path.substr(0, slash);
}

std::vector<std::string> expand_search_list(std::string_view list, const std::string& origin,
                                            const Platform& platform) {
  std::vector<std::string> dirs;
  size_t i = 0;
  for (;;) {
    size_t colon = list.find(':', i);
    std::string_view element =
        list.substr(i, colon == std::string_view::npos ? std::string_view::npos : colon - i);
    std::string dir = expand_tokens(element, origin, platform);
    // Relative to the working directory: the jail root. ".." stays for the kernel to resolve.
    dirs.push_back(clean_path("/" + dir));
    if (colon == std::string_view::npos) break;
    i = colon + 1;
  }
  return dirs;
}

std::string_view to_string(SearchSource source) {
  switch (source) {
  case SearchSource::rpath:
    return "RPATH";
  case SearchSource::runpath:
    return "RUNPATH";
  case SearchSource::ld_so_conf:
    return "ld.so.conf";
  case SearchSource::default_dirs:
    return "default";
  }
  return "?";
}

std::vector<SearchDir> search_dirs(const std::vector<const LinkerObject*>& chain,
                                   const LinkerObject& executable,
                                   const std::vector<std::string>& ld_so_conf_dirs,
                                   const Platform& platform) {
  std::vector<SearchDir> out;
  std::set<std::string> seen;
  auto add = [&](const std::string& dir, SearchSource source) {
    if (seen.insert(dir).second) out.push_back({dir, source});
  };
  auto add_rpath_of = [&](const LinkerObject& obj) {
    if (obj.runpath || !obj.rpath) return; // DT_RPATH is ignored when DT_RUNPATH is present
    for (const std::string& d : expand_search_list(*obj.rpath, obj.origin, platform))
      add(d, SearchSource::rpath);
  };
  const LinkerObject& requester = *chain.front();
  if (!requester.runpath) {
    for (const LinkerObject* obj : chain)
      add_rpath_of(*obj);
    add_rpath_of(executable);
  }
  if (requester.runpath)
    for (const std::string& d : expand_search_list(*requester.runpath, requester.origin, platform))
      add(d, SearchSource::runpath);
  // With DF_1_NODEFLIB ld.so still consults ld.so.cache, but drops entries under a system directory.
  auto in_system_dir = [&](const std::string& d) {
    for (const std::string& sys : platform.default_dirs)
      if (d == sys || d.rfind(sys + "/", 0) == 0) return true;
    return false;
  };
  for (const std::string& d : ld_so_conf_dirs)
    if (!requester.nodeflib || !in_system_dir(d)) add(d, SearchSource::ld_so_conf);
  if (requester.nodeflib) return out;
  for (const std::string& d : platform.default_dirs)
    add(d, SearchSource::default_dirs);
  return out;
}

namespace {

void read_conf_file(const HostRoot& host, const std::string& file, std::vector<std::string>& dirs,
                    std::set<std::string>& visited) {
  if (!visited.insert(file).second) return; // an include loop: ldconfig would recurse forever
  // A missing ld.so.conf or include is no error for ld.so either; a FIFO is skipped, not waited on
  // (ldconfig would block on it). An unreadable one is an error: its directories would be missing.
  std::optional<std::string> read = host.read_file_if_regular(file);
  if (!read) return;
  const std::string& text = *read;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? text.size() + 1 : nl + 1;
    if (size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
    while (!line.empty() && is_space(line.back()))
      line.pop_back();
    size_t start = 0;
    while (start < line.size() && is_space(line[start]))
      ++start;
    line.erase(0, start);
    if (line.empty()) continue;
    if (line.rfind("include", 0) == 0 && line.size() > 7 && is_space(line[7])) {
      std::string rest = line.substr(8);
      size_t i = 0;
      while (i < rest.size()) {
        while (i < rest.size() && is_space(rest[i]))
          ++i;
        size_t j = i;
        while (j < rest.size() && !is_space(rest[j]))
          ++j;
        if (j > i) {
          std::string pattern = join_path(dirname_of(file), rest.substr(i, j - i));
          for (const std::string& inc : host.glob(pattern))
            read_conf_file(host, inc, dirs, visited);
        }
        i = j;
      }
      continue;
    }
    if (line.rfind("hwcap", 0) == 0 && line.size() > 5 && is_space(line[5])) continue; // obsolete
    if (size_t eq = line.find('='); eq != std::string::npos) line.resize(eq); // old "dir=TYPE" syntax
    if (line.empty() || line.front() != '/') continue; // ldconfig ignores relative directories
    add_unique(dirs, normalize_path(line));
  }
}

} // namespace

std::vector<std::string> read_ld_so_conf(const HostRoot& host, const std::string& conf) {
  std::vector<std::string> dirs;
  std::set<std::string> visited;
  read_conf_file(host, conf, dirs, visited);
  return dirs;
}

} // namespace jailbuild
