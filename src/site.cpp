// SPDX-License-Identifier: MIT
// Sites (site.hpp): the spec's [[sites]], their baselines in .jailbuild/sites/, the one-time copy of a
// site's source at create, and `jailbuild site accept`.
#include "jailbuild/site.hpp"

#include "jailbuild/digest.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/fd.hpp"
#include "jailbuild/hostfs.hpp"
#include "jailbuild/jail_lock.hpp"
#include "jailbuild/jailfs.hpp"
#include "jailbuild/manifest.hpp"
#include "jailbuild/plan_builder.hpp"
#include "jailbuild/profile.hpp"
#include "jailbuild/text.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <memory>
#include <sys/stat.h>
#include <unistd.h>

namespace jailbuild {

namespace {

constexpr std::string_view baseline_header = "jailbuild-site-baseline 1";
constexpr std::size_t max_baseline_bytes = std::size_t{512} << 20;
constexpr std::size_t max_baseline_files = 2'000'000;

bool below(std::string_view path, std::string_view dir) {
  return dir == "/" ? path != "/"
                    : path.size() > dir.size() && path.starts_with(dir) && path[dir.size()] == '/';
}

/// Every byte that is not printable ASCII, and the backslash, as \xNN: a name with a newline or a
/// space stays one field of one line.
std::string escaped(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '\\') {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::string> unescaped(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out += s[i];
      continue;
    }
    unsigned value = 0;
    if (i + 3 >= s.size() || s[i + 1] != 'x') return std::nullopt;
    auto [end, ec] = std::from_chars(s.data() + i + 2, s.data() + i + 4, value, 16);
    if (ec != std::errc() || end != s.data() + i + 4) return std::nullopt;
    out += static_cast<char>(value);
    i += 3;
  }
  return out;
}

template <class Int> bool number(std::string_view field, Int& out, int base = 10) {
  auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), out, base);
  return ec == std::errc() && end == field.data() + field.size();
}

/// A relative path written cleanly: no empty, "." or ".." component, no control character.
bool clean_relative(std::string_view rel) {
  if (rel.empty() || rel.front() == '/' || rel.back() == '/') return false;
  for (std::string_view part : split_view(rel, '/'))
    if (part.empty() || part == "." || part == "..") return false;
  return std::none_of(rel.begin(), rel.end(),
                      [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

std::string docroot_join(const std::string& docroot, std::string_view rel) {
  return docroot == "/" ? "/" + std::string(rel) : docroot + "/" + std::string(rel);
}

} // namespace

SiteSpec parse_site(std::string_view arg) {
  std::vector<std::string> parts = split(arg, ':');
  if (parts.empty() || parts.size() > 3 || parts[0].empty() || parts[0][0] != '/' ||
      (parts.size() > 1 && parts[1].empty()))
    throw Error(std::string(arg), "--site wants DIR[:OWNER[:SOURCE]] with an absolute jail path DIR");
  SiteSpec site;
  site.docroot = parts[0];
  if (parts.size() > 1) site.owner = parts[1];
  if (parts.size() > 2) site.source = parts[2];
  return site;
}

void check_sites(const std::vector<SiteSpec>& sites) {
  for (const SiteSpec& s : sites) {
    // The docroot is judged as a writable directory is: its owner may be a service account, and audit
    // groups what lies below it, so it must never cover a system tree whose files it would hide.
    if (std::optional<std::string> why = refused_jail_path(s.docroot, JailPathUse::writable))
      throw Error(s.docroot, "site: " + *why);
    if (s.owner.empty() || s.writer.empty())
      throw Error(s.docroot, "site: the owner and the writer must name accounts");
    for (const std::string& w : s.writable)
      if (!clean_relative(w))
        throw Error(s.docroot + "/" + w,
                    "site: a writable directory is a clean path relative to the docroot (no '..', no leading "
                    "'/')");
    if (!s.source.empty() && (s.source.front() != '/' || normalize_path(s.source) != s.source ||
                              std::any_of(s.source.begin(), s.source.end(),
                                          [](char c) { return static_cast<unsigned char>(c) < 0x20; })))
      throw Error(s.source, "site: the source must be a clean absolute host path");
  }
  for (std::size_t i = 0; i < sites.size(); ++i)
    for (std::size_t j = 0; j < sites.size(); ++j)
      if (i != j && (sites[i].docroot == sites[j].docroot || below(sites[j].docroot, sites[i].docroot)))
        throw Error(sites[j].docroot, i < j && sites[i].docroot == sites[j].docroot
                                          ? "site: declared twice"
                                          : "site: inside the site " + sites[i].docroot);
}

std::vector<WritableSpec> site_writable(const JailSpec& spec) {
  std::vector<WritableSpec> out;
  for (const SiteSpec& s : spec.sites)
    for (const std::string& w : s.writable)
      out.push_back({docroot_join(s.docroot, w), s.writer, ""});
  return out;
}

std::vector<WritableSpec> all_writable(const JailSpec& spec) {
  std::vector<WritableSpec> out = spec.writable;
  std::vector<WritableSpec> sites = site_writable(spec);
  out.insert(out.end(), sites.begin(), sites.end());
  return out;
}

std::vector<std::string> site_writable_dirs(const JailSpec& spec, const SiteSpec& site) {
  std::vector<std::string> out;
  for (const std::string& w : site.writable)
    out.push_back(docroot_join(site.docroot, w));
  for (const WritableSpec& w : spec.writable)
    if (below(w.path, site.docroot)) out.push_back(w.path);
  return out;
}

bool is_site_code_name(std::string_view name) {
  if (name == ".htaccess" || name == ".user.ini") return true;
  std::size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return false;
  std::string ext;
  for (char c : name.substr(dot + 1))
    ext += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  // Apache's and many nginx configurations run every one of these as PHP.
  return ext == "php" || ext == "phtml" || ext == "pht" || ext == "phar" || ext == "phps" ||
         (ext.size() == 4 && ext.starts_with("php") && ext[3] >= '3' && ext[3] <= '8');
}

std::string site_baseline_path(std::string_view docroot) {
  // One file per site, named by its docroot: '/' becomes '-', and what is no plain character \xNN.
  std::string name;
  for (char c : docroot.substr(docroot.starts_with('/') ? 1 : 0)) {
    auto u = static_cast<unsigned char>(c);
    if (c == '/') {
      name += '-';
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
               c == '_') {
      name += c;
    } else {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      name += buf;
    }
  }
  return std::string(manifest_dir) + "/sites/" + (name.empty() ? "-" : name) + ".baseline";
}

std::string site_baseline_text(const SiteBaseline& b) {
  std::string out = std::string(baseline_header) + "\n";
  out += "docroot " + escaped(b.docroot) + "\n";
  out += "accepted " + std::to_string(b.accepted) + "\n";
  char mode[16];
  for (const SiteFile& f : b.files) {
    std::snprintf(mode, sizeof mode, "%o", f.mode);
    switch (f.type) {
    case SiteFile::Type::file:
      out += "f " + std::string(mode) + " " + std::to_string(f.size) + " " + std::to_string(f.ino) + " " +
             std::to_string(f.mtime_ns) + " " + std::to_string(f.ctime_ns) + " " +
             (f.digest.empty() ? "-" : f.digest) + " " + escaped(f.path) + "\n";
      break;
    case SiteFile::Type::symlink:
      out += "l " + escaped(f.link) + " " + escaped(f.path) + "\n";
      break;
    case SiteFile::Type::other:
      out += "o " + std::string(mode) + " " + escaped(f.path) + "\n";
      break;
    }
  }
  return out;
}

SiteBaseline site_baseline_from_text(std::string_view text, const std::string& shown) {
  SiteBaseline b;
  std::size_t line_no = 0;
  auto corrupt = [&](const std::string& why) {
    return Error(shown, "corrupt site baseline: line " + std::to_string(line_no) + ": " + why);
  };
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) throw corrupt("no newline at the end");
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    std::vector<std::string_view> f = split_view(line, ' ');
    if (line_no == 1) {
      if (line != baseline_header) throw corrupt("not a site baseline of this version");
      continue;
    }
    if (f.size() == 2 && f[0] == "docroot") {
      std::optional<std::string> d = unescaped(f[1]);
      if (!d) throw corrupt("a bad escape");
      b.docroot = *d;
      continue;
    }
    if (f.size() == 2 && f[0] == "accepted") {
      if (!number(f[1], b.accepted)) throw corrupt("a bad time");
      continue;
    }
    if (b.files.size() >= max_baseline_files)
      throw corrupt("more than " + std::to_string(max_baseline_files) + " files");
    SiteFile file;
    std::optional<std::string> path;
    if (f.size() == 8 && f[0] == "f") {
      file.type = SiteFile::Type::file;
      if (!number(f[1], file.mode, 8) || !number(f[2], file.size) || !number(f[3], file.ino) ||
          !number(f[4], file.mtime_ns) || !number(f[5], file.ctime_ns))
        throw corrupt("a bad number");
      if (f[6] != "-") {
        if (f[6].size() != 64) throw corrupt("a bad digest");
        file.digest = f[6];
      }
      path = unescaped(f[7]);
    } else if (f.size() == 3 && f[0] == "l") {
      file.type = SiteFile::Type::symlink;
      std::optional<std::string> link = unescaped(f[1]);
      if (!link) throw corrupt("a bad escape");
      file.link = *link;
      path = unescaped(f[2]);
    } else if (f.size() == 3 && f[0] == "o") {
      file.type = SiteFile::Type::other;
      if (!number(f[1], file.mode, 8)) throw corrupt("a bad mode");
      path = unescaped(f[2]);
    } else {
      throw corrupt("an unknown record");
    }
    if (!path || path->empty()) throw corrupt("a bad path");
    file.path = std::move(*path);
    b.files.push_back(std::move(file));
  }
  if (line_no == 0) throw corrupt("empty");
  std::sort(b.files.begin(), b.files.end(),
            [](const SiteFile& x, const SiteFile& y) { return x.path < y.path; });
  return b;
}

SiteBaseline scan_site(const JailFs& jail, const std::string& docroot,
                       const std::vector<std::string>& skip_dirs) {
  SiteBaseline b;
  b.docroot = docroot;
  b.accepted = static_cast<int64_t>(std::time(nullptr));
  std::optional<struct stat> top = jail.lstat(docroot);
  if (!top || !S_ISDIR(top->st_mode)) return b;
  // Iterative, so that a deep tree a service made cannot exhaust the stack.
  std::vector<std::string> todo{docroot};
  while (!todo.empty()) {
    std::string dir = std::move(todo.back());
    todo.pop_back();
    JailFs::Listing listing = jail.list_dir(dir);
    if (listing.state != JailFs::Listing::State::present) continue; // swapped meanwhile: not followed
    for (JailFs::Listed& e : listing.entries) {
      std::string path = dir == "/" ? "/" + e.name : dir + "/" + e.name;
      if (std::find(skip_dirs.begin(), skip_dirs.end(), path) != skip_dirs.end()) continue;
      SiteFile f;
      f.path = path.substr(docroot == "/" ? 1 : docroot.size() + 1);
      f.mode = e.st.st_mode & 07777;
      if (S_ISDIR(e.st.st_mode)) {
        if (e.st.st_dev == top->st_dev) todo.push_back(path); // never below a mount
        continue;
      }
      if (S_ISLNK(e.st.st_mode)) {
        f.type = SiteFile::Type::symlink;
        f.mode = 0;
        f.link = e.link;
      } else if (S_ISREG(e.st.st_mode)) {
        UniqueFd fd;
        try {
          fd = UniqueFd(jail.open_read(path)); // never a symlink, FIFO or device
        } catch (const Error& err) {
          if (err.kind() == ErrorKind::system && (err.code() == EACCES || err.code() == EIO)) throw;
          // Swapped for a link or a FIFO since it was listed: recorded as something else, not read.
          f.type = SiteFile::Type::other;
          b.files.push_back(std::move(f));
          continue;
        }
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0) throw system_error(jail.path(path), "cannot inspect", errno);
        f.mode = st.st_mode & 07777;
        f.size = static_cast<uint64_t>(st.st_size);
        f.ino = st.st_ino;
        f.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
        f.ctime_ns = int64_t{st.st_ctim.tv_sec} * 1'000'000'000 + st.st_ctim.tv_nsec;
        if (f.size <= site_hash_limit) f.digest = sha256_fd(fd.get());
      } else {
        f.type = SiteFile::Type::other;
      }
      b.files.push_back(std::move(f));
      if (b.files.size() > max_baseline_files)
        throw Error(jail.path(docroot), "more than " + std::to_string(max_baseline_files) +
                                            " files in the site: no baseline made");
    }
  }
  std::sort(b.files.begin(), b.files.end(),
            [](const SiteFile& x, const SiteFile& y) { return x.path < y.path; });
  return b;
}

void write_site_baseline(JailFs& jail, const SiteBaseline& baseline) {
  jail.make_dir(manifest_dir, 0700, 0, 0);
  jail.make_dir(std::string(manifest_dir) + "/sites", 0700, 0, 0);
  jail.write_file(site_baseline_path(baseline.docroot), site_baseline_text(baseline), 0600, 0, 0);
}

std::optional<SiteBaseline> read_site_baseline(const JailFs& jail, std::string_view docroot) {
  const std::string rel = site_baseline_path(docroot);
  if (!jail.lstat(rel)) return std::nullopt;
  UniqueFd fd(jail.open_read(rel));
  SiteBaseline b =
      site_baseline_from_text(read_all(fd.get(), jail.path(rel), max_baseline_bytes), jail.path(rel));
  if (b.docroot != docroot)
    throw Error(jail.path(rel), "site baseline of " + b.docroot + ", not of " + std::string(docroot));
  return b;
}

std::optional<SiteCopy> copy_site_source(JailFs& jail, const SiteSpec& site, const std::string& host_root,
                                         uint32_t uid, uint32_t gid, const std::set<std::string>& planned) {
  // Only into a docroot that holds nothing but what the plan put there: the code is copied once, and
  // never over what the admin (or an earlier copy) placed.
  std::vector<std::string> dirs{site.docroot};
  while (!dirs.empty()) {
    std::string dir = std::move(dirs.back());
    dirs.pop_back();
    JailFs::Listing listing = jail.list_dir(dir);
    if (listing.state == JailFs::Listing::State::absent) continue;
    if (listing.state != JailFs::Listing::State::present) return std::nullopt;
    for (const JailFs::Listed& e : listing.entries) {
      std::string path = dir + "/" + e.name;
      if (!planned.count(path)) return std::nullopt;
      if (S_ISDIR(e.st.st_mode)) dirs.push_back(path);
    }
  }
  const std::string root = host_root == "/" ? "" : host_root;
  const std::string source = root + site.source;
  // Root copies the source path by path: whoever may write one of its directories (Debian's
  // /var/lib/wordpress/wp-content is www-data's) could swap an entry for a link to /etc/shadow between
  // root's look and root's copy. So the source and the directories above it are a trusted place, as a
  // profile directory is, and so is every directory below it (checked as the walk meets them).
  if (std::optional<std::string> why = profile_dir_problem(source))
    throw Error(site.source, "refusing to copy a site's source from here: " + *why);
  auto untrusted_dir = [](const struct stat& st) -> std::optional<std::string> {
    if (st.st_uid != 0) return "owned by uid " + std::to_string(st.st_uid) + ", not root";
    if (st.st_mode & (S_IWGRP | S_IWOTH)) return std::string("writable by group or others");
    return std::nullopt;
  };
  SiteCopy copied;
  struct Todo {
    std::string host, jail;
  };
  std::vector<Todo> todo{{source, site.docroot}};
  while (!todo.empty()) {
    Todo t = std::move(todo.back());
    todo.pop_back();
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(t.host.c_str()), ::closedir);
    if (!d) throw system_error(t.host, "cannot read the site's source", errno);
    std::vector<std::string> names;
    while (const dirent* e = ::readdir(d.get())) {
      std::string_view n = e->d_name;
      if (n != "." && n != "..") names.emplace_back(n);
    }
    std::sort(names.begin(), names.end());
    for (const std::string& n : names) {
      const std::string host = t.host + "/" + n;
      const std::string dest = t.jail + "/" + n;
      struct stat st {};
      if (::lstat(host.c_str(), &st) != 0) throw system_error(host, "cannot inspect", errno);
      // The code is the owner's to write; group and others only read it, and nothing is setuid.
      const mode_t mode = st.st_mode & 0755;
      if (S_ISDIR(st.st_mode))
        if (std::optional<std::string> why = untrusted_dir(st))
          throw Error(host, "refusing to copy a site's source with a directory a service could change "
                            "while root copies it: " +
                                *why + " (copy the code yourself, then `jailbuild site accept`)");
      if (planned.count(dest)) {
        if (S_ISDIR(st.st_mode)) todo.push_back({host, dest});
        continue;
      }
      if (S_ISDIR(st.st_mode)) {
        jail.make_dir(dest, mode | 0700, uid, gid);
        ++copied.directories;
        todo.push_back({host, dest});
      } else if (S_ISREG(st.st_mode)) {
        CopyResult r = jail.copy_file(dest, host, mode, uid, gid, CopyMethod::copy);
        ++copied.files;
        copied.bytes += r.size;
      } else if (S_ISLNK(st.st_mode)) {
        std::optional<std::string> target = read_link_at(AT_FDCWD, host.c_str());
        if (!target) throw Error(host, "cannot read the symlink");
        jail.make_symlink(dest, *target);
        ++copied.symlinks;
      }
    }
  }
  return copied;
}

std::vector<SiteInstalled> install_site_sources(JailFs& jail, const Plan& plan) {
  std::vector<SiteInstalled> out;
  std::set<std::string> planned;
  for (const PlanEntry& e : plan.entries)
    planned.insert(e.path);
  for (const SiteSpec& site : plan.spec.sites) {
    if (site.source.empty()) continue;
    auto docroot = std::find_if(plan.entries.begin(), plan.entries.end(),
                                [&](const PlanEntry& e) { return e.path == site.docroot; });
    if (docroot == plan.entries.end()) throw Error(site.docroot, "site: its docroot is not in the plan");
    std::optional<SiteCopy> copied =
        copy_site_source(jail, site, plan.spec.host_root, docroot->uid, docroot->gid, planned);
    if (copied)
      write_site_baseline(jail, scan_site(jail, site.docroot, site_writable_dirs(plan.spec, site)));
    else if (jail.lstat(site_baseline_path(site.docroot)))
      continue; // copied (or accepted) before: nothing to say
    out.push_back({site.docroot, site.source, copied});
  }
  return out;
}

SiteChanges compare_site(const SiteBaseline& before, const SiteBaseline& now) {
  SiteChanges out;
  auto full = [&](const std::string& rel) { return docroot_join(before.docroot, rel); };
  std::size_t i = 0, j = 0;
  while (i < before.files.size() || j < now.files.size()) {
    if (j == now.files.size() || (i < before.files.size() && before.files[i].path < now.files[j].path)) {
      out.removed.push_back(full(before.files[i++].path));
    } else if (i == before.files.size() || now.files[j].path < before.files[i].path) {
      out.added.push_back(full(now.files[j++].path));
    } else {
      const SiteFile& a = before.files[i++];
      const SiteFile& b = now.files[j++];
      bool same =
          a.type == b.type && a.mode == b.mode && a.size == b.size && a.link == b.link &&
          a.digest == b.digest &&
          (!a.digest.empty() || (a.ino == b.ino && a.mtime_ns == b.mtime_ns && a.ctime_ns == b.ctime_ns));
      if (!same) out.changed.push_back(full(a.path));
    }
  }
  return out;
}

std::vector<SiteAccepted> accept_sites(const std::string& dir, const std::optional<std::string>& docroot) {
  JailFs jail(dir);
  if (std::optional<Error> why = untrusted_jail(jail)) throw *why;
  JailLock lock(jail.root());
  Manifest manifest = read_manifest(jail.root());
  const JailSpec& spec = manifest.plan.spec;
  std::vector<SiteAccepted> out;
  for (const SiteSpec& site : spec.sites) {
    if (docroot && site.docroot != *docroot) continue;
    if (in_jail_system_tree(site.docroot)) continue; // no site there: check_sites refuses it
    SiteAccepted a;
    a.docroot = site.docroot;
    std::optional<SiteBaseline> before = read_site_baseline(jail, site.docroot);
    SiteBaseline now = scan_site(jail, site.docroot, site_writable_dirs(spec, site));
    a.files = now.files.size();
    a.had_baseline = before.has_value();
    if (before) a.changes = compare_site(*before, now);
    write_site_baseline(jail, now);
    out.push_back(std::move(a));
  }
  if (out.empty())
    throw Error(jail.root(),
                docroot
                    ? *docroot + " is no site of this jail (its definition's [[sites]], create --site)"
                    : std::string("the jail declares no site (its definition's [[sites]], create --site)"));
  return out;
}

} // namespace jailbuild
