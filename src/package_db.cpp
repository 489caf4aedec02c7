// SPDX-License-Identifier: MIT
#include "jailbuild/package_db.hpp"

#include "jailbuild/error.hpp"
#include "jailbuild/inputs.hpp"

#include <fnmatch.h>
#include <limits.h>
#include <sys/stat.h>

#include <deque>
#include <map>
#include <set>

namespace jailbuild {

namespace {

constexpr std::string_view dpkg_status = "/var/lib/dpkg/status";
constexpr std::string_view dpkg_info = "/var/lib/dpkg/info";

bool has_prefix(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}
bool has_suffix(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

/// A shared object by its name: "png.so", "libsasldb.so.2", never "x.la" or "x.so.conf".
bool is_shared_object_name(std::string_view path) {
  std::string_view base = path.substr(path.rfind('/') + 1);
  if (has_suffix(base, ".so")) return true;
  size_t at = base.find(".so.");
  if (at == std::string_view::npos) return false;
  for (char c : base.substr(at + 4))
    if (c != '.' && (c < '0' || c > '9')) return false;
  return true;
}

/// The path as merged /usr has it: dpkg lists many libraries under /lib, which is /usr/lib now.
std::string merged(std::string_view path) {
  if (has_prefix(path, "/lib/") || has_prefix(path, "/lib64/") || has_prefix(path, "/lib32/"))
    return "/usr" + std::string(path);
  return std::string(path);
}

/// Where the rule may take anything from (merged form): the library and data trees and /etc. A list
/// naming /root/.ssh/id_rsa or /var/www/... gets nothing of it into a jail.
bool in_allowed_tree(std::string_view merged_path) {
  for (std::string_view dir : {"/usr/lib/", "/usr/lib64/", "/usr/lib32/", "/usr/share/", "/etc/"})
    if (has_prefix(merged_path, dir)) return true;
  return false;
}

bool matches(std::string_view pattern, const std::string& path) {
  return ::fnmatch(std::string(pattern).c_str(), path.c_str(), FNM_PATHNAME) == 0;
}

/// Directories whose files the modules read at run time besides /etc (ImageMagick's configure.xml
/// and locale messages, p11-kit's module registry).
const std::vector<std::string_view>& config_dir_patterns() {
  static const std::vector<std::string_view> patterns = {
      "/usr/lib/*/ImageMagick-*/config-*",  "/usr/share/ImageMagick-*",
      "/usr/lib/*/GraphicsMagick-*/config", "/usr/lib/GraphicsMagick-*/config",
      "/usr/share/GraphicsMagick-*",        "/usr/share/p11-kit/modules",
  };
  return patterns;
}

/// Whether a list path is configuration of the modules: below /etc (never /etc itself), or in (or
/// being) a configuration directory.
bool is_config_path(const std::string& merged_path) {
  if (has_prefix(merged_path, "/etc/")) return true;
  for (std::string p = merged_path; p.size() > 1; p.resize(p.rfind('/')))
    for (std::string_view pattern : config_dir_patterns())
      if (matches(pattern, p)) return true;
  return false;
}

bool in_module_dir(const std::string& merged_path) {
  std::string dir = merged_path.substr(0, merged_path.rfind('/'));
  for (std::string_view pattern : PackageDb::module_dir_patterns())
    if (matches(pattern, dir)) return true;
  return false;
}

/// The names of a relationship field: "a (>= 1) | b:any, c" -> a, b, c.
void add_relation_names(std::string_view value, std::vector<std::string>& out) {
  size_t start = 0;
  while (start <= value.size()) {
    size_t end = value.find_first_of(",|", start);
    if (end == std::string_view::npos) end = value.size();
    std::string_view item = trim(value.substr(start, end - start));
    size_t stop = item.find_first_of(" (:[<");
    std::string_view name = item.substr(0, stop);
    if (!name.empty()) out.emplace_back(name);
    start = end + 1;
  }
}

} // namespace

std::vector<DpkgPackage> parse_dpkg_status(std::string_view text) {
  std::vector<DpkgPackage> out;
  DpkgPackage current;
  bool has_source = false;
  auto flush = [&] {
    if (!current.name.empty()) {
      if (!has_source) current.source = current.name;
      out.push_back(std::move(current));
    }
    current = DpkgPackage{};
    has_source = false;
  };
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (trim(line).empty()) {
      flush();
      if (nl == text.size()) break;
      continue;
    }
    if (line.front() == ' ' || line.front() == '\t') continue; // a continuation (Description, Conffiles)
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view field = line.substr(0, colon);
    std::string_view value = trim(line.substr(colon + 1));
    if (field == "Package") {
      current.name = value;
    } else if (field == "Architecture") {
      current.arch = value;
    } else if (field == "Version") {
      current.version = value;
    } else if (field == "Multi-Arch") {
      current.multi_arch = value;
    } else if (field == "Source") {
      current.source = value.substr(0, value.find(' '));
      has_source = !current.source.empty();
    } else if (field == "Status") {
      // The last word says whether the files are there. An apt run in progress leaves packages
      // "triggers-pending" or "half-configured" for a moment: they must not look removed (a sync from
      // the apt hook would take their modules out of the jail).
      current.installed = false;
      for (std::string_view state :
           {" installed", " triggers-pending", " triggers-awaited", " half-configured", " unpacked"})
        current.installed = current.installed || has_suffix(value, state);
    } else if (field == "Depends" || field == "Pre-Depends" || field == "Recommends") {
      add_relation_names(value, current.depends);
    }
    if (nl == text.size()) {
      flush();
      break;
    }
  }
  return out;
}

DpkgList parse_dpkg_list(std::string_view text) {
  DpkgList out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.empty()) continue;
    bool clean = line.front() == '/' && line.size() < PATH_MAX && line.size() > 1;
    for (size_t i = 0; clean && i < line.size(); ++i) {
      auto c = static_cast<unsigned char>(line[i]);
      if (c < 0x20 || c == 0x7f) clean = false;
    }
    for (size_t start = 1; clean && start <= line.size();) {
      size_t end = line.find('/', start);
      if (end == std::string_view::npos) end = line.size();
      std::string_view part = line.substr(start, end - start);
      if (part.empty() || part == "." || part == "..") clean = false;
      start = end + 1;
    }
    if (clean)
      out.paths.push_back(line);
    else if (line != "/.") // every list starts with "/.", the package's root: nothing to take
      ++out.skipped;
  }
  return out;
}

const std::vector<std::string_view>& PackageDb::module_dir_patterns() {
  // The input of the rule, not what it copies: a directory counts only when a package's list on this
  // host names shared objects in it, and then only those are taken.
  static const std::vector<std::string_view> patterns = {
      "/usr/lib/*/ImageMagick-*/modules-*/coders",
      "/usr/lib/*/ImageMagick-*/modules-*/filters",
      "/usr/lib/*/GraphicsMagick-*/modules-*/coders",
      "/usr/lib/*/GraphicsMagick-*/modules-*/filters",
      "/usr/lib/GraphicsMagick-*/modules-*/coders",
      "/usr/lib/GraphicsMagick-*/modules-*/filters",
      "/usr/lib/*/ossl-modules",
      "/usr/lib/*/engines-3",
      "/usr/lib/*/engines-1.1",
      "/usr/lib/*/sasl2",
      "/usr/lib/sasl2",
      "/usr/lib/*/krb5/plugins/*",
      "/usr/lib/*/pkcs11",
  };
  return patterns;
}

std::optional<PackageDb> PackageDb::load(const HostRoot& host) {
  std::optional<std::string> status = host.read_file_if_regular(dpkg_status);
  if (!status) return std::nullopt;
  PackageDb db(host);
  db.packages_ = parse_dpkg_status(*status);
  for (size_t i = 0; i < db.packages_.size(); ++i) {
    const DpkgPackage& p = db.packages_[i];
    if (!p.arch.empty()) db.by_key_.try_emplace(p.name + ":" + p.arch, i);
    db.by_key_.try_emplace(p.name, i);
  }
  // Reserved once: the index below holds views into these strings, which must never move.
  db.lists_.resize(db.packages_.size());
  std::optional<ResolvedPath> info = host.resolve(dpkg_info);
  if (!info) return db;
  std::uint64_t total = 0;
  for (const std::string& name : host.list_dir(info->path)) {
    if (!has_suffix(name, ".list")) continue;
    // "libssl3:amd64.list" (Multi-Arch: same) or "imagemagick-6-common.list".
    auto it = db.by_key_.find(name.substr(0, name.size() - 5));
    if (it == db.by_key_.end() || !db.packages_[it->second].installed) continue;
    std::string path = info->path + "/" + name;
    // Bounded before anything is read: the database is the host's, but a 2 GiB "list" is no list.
    std::optional<std::string> text = host.read_resolved_file(path, max_list_size);
    if (!text) continue;
    total += text->size();
    if (total > max_lists_size)
      throw Error(info->path, "dpkg file lists larger than " + std::to_string(max_lists_size >> 20) +
                                  " MiB together: not read");
    db.lists_[it->second] = std::move(*text);
  }
  // The index of shared objects by the path a list names. No check of the lines here: only a lookup
  // of a closure's (clean, canonical) paths can match one, and what the rule takes is checked below.
  for (size_t i = 0; i < db.lists_.size(); ++i) {
    std::string_view text = db.lists_[i];
    while (!text.empty()) {
      size_t nl = text.find('\n');
      std::string_view line = text.substr(0, nl);
      text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
      if (line.find(".so") != std::string_view::npos && is_shared_object_name(line))
        db.shared_objects_.try_emplace(line, i);
    }
  }
  return db;
}

const DpkgPackage* PackageDb::find(std::string_view name, std::string_view arch) const {
  auto it = by_key_.find(std::string(name) + ":" + std::string(arch));
  if (it == by_key_.end()) it = by_key_.find(std::string(name));
  if (it == by_key_.end() || !packages_[it->second].installed) return nullptr;
  return &packages_[it->second];
}

const DpkgPackage* PackageDb::owner_of(std::string_view host_path) const {
  std::string alias =
      has_prefix(host_path, "/usr/") ? std::string(host_path.substr(4)) : "/usr" + std::string(host_path);
  for (std::string_view candidate : {host_path, std::string_view(alias)})
    if (auto it = shared_objects_.find(candidate); it != shared_objects_.end())
      if (packages_[it->second].installed) return &packages_[it->second];
  return nullptr;
}

bool PackageDb::usable(const std::string& path, bool directory_ok) const {
  if (!in_allowed_tree(merged(path))) return false;
  std::optional<ResolvedPath> resolved = resolver_->resolve(path);
  if (!resolved || !in_allowed_tree(merged(resolved->path))) return false;
  std::optional<struct stat> st = host_->stat(resolved->path, Scrutiny::passed);
  return st && (S_ISREG(st->st_mode) || (directory_ok && S_ISDIR(st->st_mode)));
}

PackageDb::Finds PackageDb::runtime_files_of(const DpkgPackage& owner) const {
  // The owner and its same-source dependencies, transitively.
  std::vector<const DpkgPackage*> group{&owner};
  std::set<std::string> seen{owner.name};
  for (size_t i = 0; i < group.size(); ++i)
    for (const std::string& dep : group[i]->depends) {
      const DpkgPackage* d = find(dep, group[i]->arch);
      if (d && d->source == owner.source && seen.insert(d->name).second) group.push_back(d);
    }
  Finds out;
  std::vector<RuntimeFile> config, libtool;
  for (const DpkgPackage* p : group) {
    const std::string& text = lists_[static_cast<size_t>(p - packages_.data())];
    for (std::string_view listed : parse_dpkg_list(text).paths) {
      std::string path(listed);
      std::string m = merged(path);
      if (has_suffix(m, ".la")) {
        if (in_module_dir(m)) libtool.push_back({path, p->name});
      } else if (is_shared_object_name(m) && in_module_dir(m)) {
        if (usable(path, false)) out.modules.push_back({path, p->name});
      } else if (is_config_path(m) && in_allowed_tree(m)) {
        config.push_back({path, p->name});
      }
    }
  }
  // A loader through libltdl (ImageMagick, GraphicsMagick) lists a module directory's "*.la" and
  // opens "NAME.la", which names NAME.so: without the .la the module does not exist for it. So the
  // .la of a module taken is taken too (text, never loaded as code); any other .la is left out.
  std::set<std::string> taken;
  for (const RuntimeFile& mod : out.modules)
    taken.insert(merged(mod.path));
  for (RuntimeFile& la : libtool) {
    std::string m = merged(la.path);
    if (taken.count(m.substr(0, m.size() - 3) + ".so") && usable(la.path, false))
      out.libtool.push_back(std::move(la));
  }
  // Configuration only for modules: a library package's /etc files are not the jail's business
  // unless what the rule brings in reads them.
  if (!out.modules.empty())
    for (RuntimeFile& c : config)
      if (usable(c.path, true)) out.config.push_back(std::move(c));
  return out;
}

ModuleWalk walk_with_modules(const HostRoot& host, const std::vector<WalkRoot>& roots,
                             const ElfReader& reader) {
  Walk walk(host, reader);
  walk.add(roots);
  ModuleWalk out;
  const size_t before_modules = walk.so_far().objects.size();
  std::optional<PackageDb> db = PackageDb::load(host);
  if (db) {
    std::map<std::string, PackageDb::Finds> finds;                // by package: each list is searched once
    std::set<std::pair<std::string, std::string>> done;           // (package, program)
    std::map<std::string, std::optional<ElfIdentity>> identities; // by module path
    std::set<std::string> config_seen;
    size_t looked = 0;
    // Modules have closures, whose libraries may have modules: until nothing new (a handful of rounds).
    for (int round = 0; round < 16; ++round) {
      std::vector<WalkRoot> more;
      const WalkResult& so_far = walk.so_far();
      for (; looked < so_far.objects.size(); ++looked) {
        const WalkObject& obj = so_far.objects[looked];
        const DpkgPackage* owner = db->owner_of(obj.path);
        for (size_t n = 0; !owner && n < obj.names.size(); ++n)
          owner = db->owner_of(obj.names[n]);
        if (!owner) continue;
        auto [it, fresh] = finds.try_emplace(owner->name);
        if (fresh) it->second = db->runtime_files_of(*owner);
        if (it->second.modules.empty()) continue;
        for (const RuntimeFile& c : it->second.config)
          if (config_seen.insert(c.path).second) out.config.push_back(c);
        for (const RuntimeFile& la : it->second.libtool)
          if (config_seen.insert(la.path).second) out.libtool.push_back(la);
        for (const std::string& program : walk.namespaces_holding(looked)) {
          // Once per package and process: its other libraries (and its modules, which it owns too)
          // would only name the same modules again.
          if (!done.emplace(owner->name, program).second) continue;
          for (const RuntimeFile& m : it->second.modules) {
            auto [id, unprobed] = identities.try_emplace(m.path);
            if (unprobed) {
              std::optional<ResolvedPath> at = host.resolve(m.path);
              if (at) id->second = probe_elf(host.real(at->path));
            }
            // As ld.so: an object of another class or machine is not loaded into this process.
            if (!id->second || id->second->elf_class != obj.elf.elf_class ||
                id->second->endian != obj.elf.endian || id->second->machine != obj.elf.machine)
              continue;
            more.push_back({m.path, program, "module dir of " + m.package + " (dpkg)"});
          }
        }
      }
      if (more.empty()) break;
      walk.add(more);
    }
  }
  out.result = std::move(walk).finish();
  // A name that only modules need and the host lacks: the host's own service cannot load that module
  // either; the jail is no worse. Reported, not fatal.
  std::set<std::string> module_objects;
  for (size_t i = before_modules; i < out.result.objects.size(); ++i)
    module_objects.insert(out.result.objects[i].path);
  std::vector<Unresolved> unresolved;
  for (Unresolved& u : out.result.unresolved) {
    bool modules_only = true;
    for (const std::string& who : u.needed_by)
      modules_only = modules_only && module_objects.count(who);
    if (!modules_only) {
      unresolved.push_back(std::move(u));
      continue;
    }
    std::string who;
    for (const std::string& w : u.needed_by)
      who += (who.empty() ? "" : ", ") + w;
    out.warnings.push_back(u.name + ": not found on the host, needed by the module(s) " + who +
                           ", which cannot be loaded there either");
  }
  out.result.unresolved = std::move(unresolved);
  return out;
}

} // namespace jailbuild
