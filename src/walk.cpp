// SPDX-License-Identifier: MIT
#include "jailbuild/walk.hpp"

#include "jailbuild/error.hpp"
#include "jailbuild/inputs.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <deque>
#include <map>
#include <set>
#include <tuple>

namespace jailbuild {

namespace {

std::string basename_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

/// A file found on the host: the path it was opened by and where it really is.
struct Located {
  std::string opened_as;
  ResolvedPath resolved;
  FileStamp stamp;
};

/// One process's view, as ld.so keeps it: the objects loaded, who loaded each, and every name
/// (paths opened, names requested, sonames) an object answers to.
struct Namespace {
  size_t executable = 0;
  ElfIdentity identity{};
  std::map<std::string, size_t> by_name;
  std::map<std::pair<uint64_t, uint64_t>, size_t> by_file;
  std::map<size_t, std::optional<size_t>> loader;
  std::map<size_t, LinkerObject> linker;
};

} // namespace

class Walker {
public:
  Walker(const HostRoot& host, const ElfReader& reader)
      : host_(host), reader_(reader), conf_dirs_(read_ld_so_conf(host)) {}

  void add(const std::vector<WalkRoot>& roots) {
    for (const WalkRoot& root : roots) {
      std::string path = clean_path(root.path);
      size_t obj = 0;
      if (root.loaded_by.empty()) {
        obj = namespace_for(path).executable;
      } else {
        Namespace& ns = namespace_for(clean_path(root.loaded_by));
        obj = dlopen(ns, path);
      }
      if (result_.objects[obj].found_by.empty()) result_.objects[obj].found_by = root.found_by;
    }
  }

  const WalkResult& so_far() const { return result_; }

  std::vector<std::string> namespaces_holding(size_t index) const {
    std::vector<std::string> out;
    for (const auto& [program, ns] : namespaces_)
      if (ns.linker.count(index)) out.push_back(program);
    return out;
  }

  WalkResult finish() && {
    for (auto& [name, users] : unresolved_)
      result_.unresolved.push_back({name, users});
    return std::move(result_);
  }

private:
  /// The namespace of a program, created (program, interpreter and startup closure loaded) on first use.
  Namespace& namespace_for(const std::string& program) {
    if (auto it = namespaces_.find(program); it != namespaces_.end()) return it->second;
    Located loc = locate_root(program);
    Namespace& ns = namespaces_[program];
    std::optional<ElfIdentity> id = probe_elf(host_.real(loc.resolved.path));
    if (!id) throw Error(program, "not an ELF file");
    ns.identity = *id;
    size_t exe = intern(loc, ObjectRole::root);
    ns.executable = exe;
    admit(ns, exe, loc, std::nullopt, OriginOf::main_executable);
    // ld.so itself comes first: libc's DT_NEEDED on ld-linux-x86-64.so.2 is answered by its soname.
    // A copy: intern() below grows result_.objects.
    if (std::optional<std::string> interp = result_.objects[exe].elf.interpreter) {
      std::optional<Located> iloc = locate(*interp);
      if (!iloc) {
        record_edge(exe, *interp, std::nullopt, std::nullopt);
      } else {
        size_t i = intern(*iloc, ObjectRole::interpreter);
        admit(ns, i, *iloc, exe, OriginOf::library);
        record_edge(exe, *interp, i, std::nullopt);
      }
    }
    load_closure(ns, exe);
    return ns;
  }

  size_t dlopen(Namespace& ns, const std::string& path) {
    if (auto it = ns.by_name.find(path); it != ns.by_name.end()) return it->second;
    Located loc = locate_root(path);
    size_t obj = intern(loc, ObjectRole::root);
    if (ns.linker.count(obj)) return obj;
    admit(ns, obj, loc, ns.executable, OriginOf::library);
    load_closure(ns, obj);
    return obj;
  }

  Located locate_root(const std::string& path) {
    std::optional<Located> loc = locate(path);
    if (loc) return *loc;
    // Something is there but is no program (a device, a FIFO, a directory): say so.
    if (std::optional<ResolvedPath> there = resolver_.resolve(path))
      if (std::optional<struct stat> st = host_.stat(there->path, Scrutiny::passed);
          st && !S_ISREG(st->st_mode))
        throw Error(path, "not a regular file");
    throw Error(path, "no such file");
  }

  /// Breadth-first over DT_NEEDED, as _dl_map_object_deps does.
  void load_closure(Namespace& ns, size_t start) {
    std::deque<size_t> queue{start};
    while (!queue.empty()) {
      size_t obj = queue.front();
      queue.pop_front();
      std::vector<std::string> needed = result_.objects[obj].elf.needed;
      for (const std::string& name : needed) {
        if (auto it = ns.by_name.find(name); it != ns.by_name.end()) {
          record_edge(obj, name, it->second, std::nullopt);
          continue;
        }
        Search found = search(ns, obj, name);
        for (const Located& variant : found.variants) {
          size_t v = intern(variant, ObjectRole::hwcaps_variant);
          if (!ns.linker.count(v)) {
            admit(ns, v, variant, obj, OriginOf::library);
            queue.push_back(v);
          }
          record_edge(obj, name, v, found.source);
        }
        if (!found.base) {
          if (found.variants.empty()) record_edge(obj, name, std::nullopt, std::nullopt);
          continue;
        }
        size_t lib = intern(*found.base, ObjectRole::library);
        auto key = std::make_pair(found.base->stamp.dev, found.base->stamp.ino);
        if (auto it = ns.by_file.find(key); it != ns.by_file.end()) {
          ns.by_name.emplace(name, it->second); // same file under another name: reused
        } else {
          admit(ns, lib, *found.base, obj, OriginOf::library);
          queue.push_back(lib);
        }
        ns.by_name.emplace(name, lib);
        record_edge(obj, name, lib, found.source);
      }
    }
  }

  struct Search {
    std::optional<Located> base;
    std::vector<Located> variants; ///< glibc-hwcaps and legacy hwcaps copies the CPU may prefer
    std::optional<SearchSource> source;
  };

  Search search(const Namespace& ns, size_t requester, const std::string& needed) {
    Search out;
    // ld.so expands $ORIGIN, $LIB and $PLATFORM in DT_NEEDED names too.
    std::string name = needed.find('$') == std::string::npos
                           ? needed
                           : expand_tokens(needed, ns.linker.at(requester).origin, platform_of(requester));
    if (name.find('/') != std::string::npos) {
      // A name with a slash is opened as it is; a relative one from the working directory (the jail root).
      out.base = locate_matching(ns, clean_path(name.front() == '/' ? name : "/" + name), nullptr);
      return out;
    }
    std::vector<const LinkerObject*> chain;
    for (std::optional<size_t> o = requester; o; o = ns.loader.at(*o))
      chain.push_back(&ns.linker.at(*o));
    const Platform& platform = platform_of(requester);
    for (const SearchDir& dir : search_dirs(chain, ns.linker.at(ns.executable), conf_dirs_, platform)) {
      std::vector<Located> variants;
      for (const std::string& sub : platform.hwcap_subdirs)
        if (auto v = locate_matching(ns, dir.dir + "/" + sub + "/" + name, nullptr)) variants.push_back(*v);
      // ld.so.cache only knows a file by its soname (ldconfig's links): emulate that for its directories.
      const std::string* cache_name = dir.source == SearchSource::ld_so_conf ? &name : nullptr;
      std::optional<Located> base = locate_matching(ns, clean_path(dir.dir + "/" + name), cache_name);
      out.variants.insert(out.variants.end(), variants.begin(), variants.end());
      if (base) {
        out.base = base;
        out.source = dir.source;
        return out;
      }
      if (!variants.empty() && !out.source) out.source = dir.source;
    }
    return out;
  }

  /// A candidate file, if it exists and has the namespace's class and machine; other candidates are
  /// skipped silently, as ld.so does. A candidate that is not ELF at all stops ld.so with an error.
  std::optional<Located> locate_matching(const Namespace& ns, const std::string& path,
                                         const std::string* cache_name) {
    std::optional<Located> loc = locate(path);
    if (!loc) return std::nullopt;
    std::optional<ElfIdentity> id = probe_elf(host_.real(loc->resolved.path));
    if (!id) throw Error(path, "invalid ELF header (the dynamic linker would stop here)");
    if (!(*id == ns.identity)) return std::nullopt;
    if (cache_name) {
      const ElfInfo& info = elf_of(*loc);
      std::string known_as = info.soname ? *info.soname : basename_of(path);
      if (known_as != *cache_name) return std::nullopt;
    }
    return loc;
  }

  /// Finds a host path below the root: directories are resolved once and cached, the last component
  /// is resolved on its own, and every hop is kept.
  std::optional<Located> locate(const std::string& host_path) {
    std::string path = clean_path(host_path);
    std::string dir = path.substr(0, std::max<size_t>(1, path.rfind('/')));
    const std::optional<ResolvedPath>& resolved_dir = resolver_.resolve_dir(dir);
    if (!resolved_dir) return std::nullopt;
    const ResolvedPath& rdir = *resolved_dir;
    std::string base = basename_of(path);
    if (base == "..") return std::nullopt; // a directory, never a library
    std::string candidate = join_path(rdir.path, base);
    // Seen whole: a file found here is read (its ELF facts), a symlink's text followed.
    std::optional<struct stat> st = host_.lstat(candidate, Scrutiny::whole);
    if (!st) return std::nullopt;
    Located loc;
    loc.opened_as = path;
    loc.resolved.hops = rdir.hops;
    if (S_ISLNK(st->st_mode)) {
      std::optional<ResolvedPath> rest = resolver_.resolve(candidate);
      if (!rest) return std::nullopt;
      loc.resolved.path = rest->path;
      loc.resolved.hops.insert(loc.resolved.hops.end(), rest->hops.begin(), rest->hops.end());
      st = host_.stat(rest->path, Scrutiny::whole);
      if (!st) return std::nullopt;
    } else {
      loc.resolved.path = candidate;
    }
    if (!S_ISREG(st->st_mode)) return std::nullopt;
    loc.stamp = stamp_of(*st);
    return loc;
  }

  /// The global object for a located file, read once per (device, inode).
  size_t intern(const Located& loc, ObjectRole role) {
    auto key = std::make_pair(loc.stamp.dev, loc.stamp.ino);
    auto [it, fresh] = objects_by_file_.try_emplace(key, result_.objects.size());
    if (fresh) {
      WalkObject obj;
      obj.path = loc.resolved.path;
      obj.role = role;
      obj.stamp = loc.stamp;
      obj.elf = elf_of(loc);
      if (role != ObjectRole::root && !obj.elf.has_dynamic)
        throw Error(loc.opened_as, "object file has no dynamic section");
      result_.objects.push_back(std::move(obj));
    } else if (role == ObjectRole::root || role == ObjectRole::interpreter) {
      // A stronger role wins: a library also given as a root is reported as a root.
      ObjectRole& current = result_.objects[it->second].role;
      if (current == ObjectRole::library || current == ObjectRole::hwcaps_variant) current = role;
    }
    WalkObject& obj = result_.objects[it->second];
    if (std::find(obj.names.begin(), obj.names.end(), loc.opened_as) == obj.names.end())
      obj.names.push_back(loc.opened_as);
    for (const SymlinkHop& hop : loc.resolved.hops)
      if (std::find(obj.hops.begin(), obj.hops.end(), hop) == obj.hops.end()) obj.hops.push_back(hop);
    return it->second;
  }

  /// The ELF facts of a located file, read once per (device, inode).
  const ElfInfo& elf_of(const Located& loc) {
    auto [it, fresh] = elf_cache_.try_emplace(std::make_pair(loc.stamp.dev, loc.stamp.ino));
    if (fresh) {
      try {
        it->second = reader_(host_.real(loc.resolved.path), loc.stamp);
      } catch (const Error& e) {
        elf_cache_.erase(it);
        // Name the file as the user knows it: its host path, not where --host-root put it here.
        throw Error(loc.resolved.path, e.message(), e.kind(), e.code());
      }
    }
    return it->second;
  }

  /// Makes an object part of a namespace: the names it answers to and its linker view.
  void admit(Namespace& ns, size_t obj, const Located& loc, std::optional<size_t> loader, OriginOf origin) {
    const WalkObject& o = result_.objects[obj];
    ns.by_file.emplace(std::make_pair(o.stamp.dev, o.stamp.ino), obj);
    ns.by_name.emplace(loc.opened_as, obj);
    if (o.elf.soname) ns.by_name.emplace(*o.elf.soname, obj);
    ns.loader.emplace(obj, loader);
    ns.linker.emplace(obj, LinkerObject{origin_of(loc.opened_as, loc.resolved.path, origin), o.elf.rpath,
                                        o.elf.runpath, o.elf.nodeflib});
  }

  const Platform& platform_of(size_t obj) {
    auto [it, fresh] = platforms_.try_emplace(obj);
    if (fresh) it->second = platform_for(result_.objects[obj].elf, result_.objects[obj].path);
    return it->second;
  }

  void record_edge(size_t from, const std::string& name, std::optional<size_t> to,
                   std::optional<SearchSource> how) {
    if (!edges_seen_.emplace(from, name, to ? *to + 1 : 0).second) return;
    result_.edges.push_back(WalkEdge{from, name, to, how});
    if (!to) {
      auto& users = unresolved_[name];
      const std::string& who = result_.objects[from].path;
      if (std::find(users.begin(), users.end(), who) == users.end()) users.push_back(who);
    }
  }

  const HostRoot& host_;
  const ElfReader& reader_;
  std::vector<std::string> conf_dirs_;
  WalkResult result_;
  std::map<std::pair<uint64_t, uint64_t>, size_t> objects_by_file_;
  std::map<std::pair<uint64_t, uint64_t>, ElfInfo> elf_cache_;
  std::set<std::tuple<size_t, std::string, size_t>> edges_seen_;
  ResolveCache resolver_{host_};
  std::map<std::string, Namespace> namespaces_;
  std::map<size_t, Platform> platforms_;
  std::map<std::string, std::vector<std::string>> unresolved_;
};

FileStamp stamp_of(const struct stat& st) {
  return {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
          static_cast<int64_t>(st.st_size),
          static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
          static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec};
}

ElfInfo read_elf_for_walk(const std::string& real_path, const FileStamp&) {
  return read_elf_dynamic(real_path);
}

Walk::Walk(const HostRoot& host, const ElfReader& reader) : walker_(std::make_unique<Walker>(host, reader)) {}
Walk::~Walk() = default;
void Walk::add(const std::vector<WalkRoot>& roots) {
  walker_->add(roots);
}
const WalkResult& Walk::so_far() const {
  return walker_->so_far();
}
std::vector<std::string> Walk::namespaces_holding(size_t index) const {
  return walker_->namespaces_holding(index);
}
WalkResult Walk::finish() && {
  return std::move(*walker_).finish();
}

WalkResult walk(const HostRoot& host, const std::vector<WalkRoot>& roots, const ElfReader& reader) {
  Walker walker(host, reader);
  walker.add(roots);
  return std::move(walker).finish();
}

} // namespace jailbuild
