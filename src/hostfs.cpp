// SPDX-License-Identifier: MIT
#include "jailbuild/hostfs.hpp"

#include "jailbuild/error.hpp"
#include "jailbuild/fd.hpp"
#include "jailbuild/inputs.hpp"

#include <cerrno>
#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

namespace jailbuild {

namespace {

std::vector<std::string> split_components(std::string_view path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) out.emplace_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

std::string join_components(const std::vector<std::string>& parts) {
  if (parts.empty()) return "/";
  std::string out;
  for (const auto& p : parts)
    out += "/" + p;
  return out;
}

} // namespace

namespace {

/// True when the path is absolute and has no empty, "." or ".." component and no trailing slash:
/// normalising it would change nothing (the walk and the plan call this hundreds of thousands of times).
bool is_normal(std::string_view path) {
  if (path.empty() || path.front() != '/') return false;
  if (path.size() == 1) return true;
  if (path.back() == '/') return false;
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] != '/') continue;
    std::string_view rest = path.substr(i + 1);
    if (rest.empty() || rest.front() == '/') return false;
    if (rest.front() == '.') {
      if (rest.size() == 1 || rest[1] == '/') return false;
      if (rest[1] == '.' && (rest.size() == 2 || rest[2] == '/')) return false;
    }
  }
  return true;
}

} // namespace

std::string normalize_path(std::string_view path) {
  if (is_normal(path)) return std::string(path);
  std::vector<std::string> out;
  for (auto& c : split_components(path)) {
    if (c == ".") continue;
    if (c == "..") {
      if (!out.empty()) out.pop_back();
      continue;
    }
    out.push_back(std::move(c));
  }
  return join_components(out);
}

std::string clean_path(std::string_view path) {
  if (is_normal(path)) return std::string(path);
  std::vector<std::string> out;
  for (auto& c : split_components(path)) {
    if (c == ".") continue;
    if (c == ".." && out.empty()) continue; // ".." of the root is the root
    out.push_back(std::move(c));
  }
  return join_components(out);
}

std::string dirname_of(std::string_view path) {
  if (is_normal(path)) {
    size_t slash = path.rfind('/');
    return slash == 0 ? std::string("/") : std::string(path.substr(0, slash));
  }
  std::string norm = normalize_path(path);
  size_t slash = norm.rfind('/');
  if (slash == 0 || slash == std::string::npos) return "/";
  return norm.substr(0, slash);
}

std::string join_path(std::string_view dir, std::string_view name) {
  if (!name.empty() && name.front() == '/') return normalize_path(name);
  bool simple_name = !name.empty() && name.find('/') == std::string_view::npos && name != "." && name != "..";
  if (simple_name && is_normal(dir)) {
    std::string s(dir);
    if (s.size() > 1) s += '/';
    s += name;
    return s;
  }
  std::string s(dir);
  s += "/";
  s += name;
  return normalize_path(s);
}

HostRoot::HostRoot(std::string root) {
  while (root.size() > 1 && root.back() == '/')
    root.pop_back();
  root_ = (root == "/" || root.empty()) ? std::string() : std::move(root);
}

std::string HostRoot::real(std::string_view host_path) const {
  std::string out = root_;
  if (host_path.empty() || host_path.front() != '/') out += "/";
  out += host_path;
  return out;
}

std::optional<ResolvedPath> HostRoot::resolve(std::string_view host_path) const {
  ResolvedPath result;
  // Components still to walk, reversed so the next one is at the back.
  std::vector<std::string> todo = split_components(host_path);
  std::reverse(todo.begin(), todo.end());
  std::vector<std::string> done;
  int links_followed = 0;
  while (!todo.empty()) {
    std::string comp = std::move(todo.back());
    todo.pop_back();
    if (comp == ".") continue;
    if (comp == "..") {
      if (!done.empty()) done.pop_back(); // never above the root, as after chroot(2)
      continue;
    }
    done.push_back(comp);
    std::string here = join_components(done);
    std::optional<struct stat> st = lstat(here, Scrutiny::passed);
    if (!st) return std::nullopt;
    if (S_ISLNK(st->st_mode)) {
      if (++links_followed > 40) return std::nullopt; // ELOOP, as the kernel counts
      std::optional<std::string> link = readlink(here);
      if (!link) return std::nullopt;
      std::string target = std::move(*link);
      result.hops.push_back({here, target});
      done.pop_back();
      if (!target.empty() && target.front() == '/') done.clear();
      std::vector<std::string> more = split_components(target);
      for (auto it = more.rbegin(); it != more.rend(); ++it)
        todo.push_back(*it);
    } else if (!todo.empty() && !S_ISDIR(st->st_mode)) {
      return std::nullopt; // ENOTDIR
    }
  }
  result.path = join_components(done);
  return result;
}

std::string HostRoot::read_file(std::string_view host_path) const {
  const char* why = nullptr;
  std::optional<std::string> data = read_regular(host_path, why);
  if (!data) throw Error(std::string(host_path), why);
  return std::move(*data);
}

std::optional<std::string> HostRoot::read_file_if_regular(std::string_view host_path) const {
  const char* why = nullptr;
  return read_regular(host_path, why);
}

std::optional<std::string> HostRoot::read_regular(std::string_view host_path, const char*& why) const {
  std::string p(host_path);
  auto resolved = resolve(p);
  if (!resolved) return why = "no such file", std::nullopt;
  return read_opened(p, resolved->path, max_read_size, why, 0);
}

std::optional<std::string> HostRoot::read_resolved_file(std::string_view resolved_path,
                                                        std::uint64_t max_size) const {
  const char* why = nullptr;
  std::string p(resolved_path);
  return read_opened(p, p, std::min(max_size, max_read_size), why, O_NOFOLLOW);
}

std::optional<std::string> HostRoot::read_opened(const std::string& shown, const std::string& resolved,
                                                 std::uint64_t max_size, const char*& why, int flags) const {
  // O_NONBLOCK: opening a FIFO would wait for a writer, and the apt hook's sync with it, forever.
  // fstat() then refuses it and anything else that is not a regular file (a device, a socket).
  UniqueFd fd(::open(real(resolved).c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | flags));
  if (!fd && (flags & O_NOFOLLOW) && (errno == ENOENT || errno == ELOOP)) {
    if (log_) log_->saw(resolved, nullptr, Scrutiny::whole, false);
    return why = "no such file", std::nullopt; // gone, or a symlink: not the resolved file asked for
  }
  if (!fd) throw system_error(shown, "cannot open", errno);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) throw system_error(shown, "cannot stat", errno);
  if (log_) log_->saw(resolved, &st, Scrutiny::whole, false);
  if (!S_ISREG(st.st_mode)) return why = "not a regular file", std::nullopt;
  const std::string too_big = "larger than " + std::to_string(max_size >> 20) + " MiB: not read";
  if (static_cast<std::uint64_t>(st.st_size) > max_size) throw Error(shown, too_big);
  std::string data = read_all(fd.get(), shown, max_size + 1);
  if (data.size() > max_size) throw Error(shown, too_big); // it grew while we read
  return data;
}

namespace {

// glob(3) calls these instead of opendir/lstat/stat (GLOB_ALTDIRFUNC), so that what it looked at is
// recorded: the directories it listed, the names it checked. glob has no user pointer: the HostRoot
// globbing on this thread is passed on the side.
thread_local const HostRoot* globbing = nullptr;

std::string host_path_of(const char* real_path) {
  std::string_view p = real_path;
  p.remove_prefix(std::min(p.size(), globbing->root().size()));
  return p.empty() ? std::string("/") : clean_path(p);
}
void* glob_opendir(const char* path) {
  globbing->stat(host_path_of(path), Scrutiny::whole); // its entries are what glob reads
  return ::opendir(path);
}
dirent* glob_readdir(void* dir) {
  return ::readdir(static_cast<DIR*>(dir));
}
void glob_closedir(void* dir) {
  ::closedir(static_cast<DIR*>(dir));
}
int glob_lstat(const char* path, struct stat* st) {
  std::optional<struct stat> seen = globbing->lstat(host_path_of(path), Scrutiny::passed);
  if (!seen) return errno = ENOENT, -1;
  *st = *seen;
  return 0;
}
int glob_stat(const char* path, struct stat* st) {
  std::optional<struct stat> seen = globbing->stat(host_path_of(path), Scrutiny::passed);
  if (!seen) return errno = ENOENT, -1;
  *st = *seen;
  return 0;
}

} // namespace

std::vector<std::string> HostRoot::glob(std::string_view pattern) const {
  std::string real_pattern = real(pattern);
  glob_t g{};
  g.gl_opendir = glob_opendir;
  g.gl_readdir = glob_readdir;
  g.gl_closedir = glob_closedir;
  g.gl_lstat = glob_lstat;
  g.gl_stat = glob_stat;
  std::vector<std::string> out;
  const HostRoot* outer = globbing;
  globbing = this;
  int rc = ::glob(real_pattern.c_str(), GLOB_ALTDIRFUNC, nullptr, &g);
  globbing = outer;
  if (rc == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) {
      std::string_view hit = g.gl_pathv[i];
      hit.remove_prefix(root_.size());
      out.emplace_back(hit);
    }
  }
  ::globfree(&g);
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<struct stat> HostRoot::look(std::string_view host_path, Scrutiny scrutiny, bool follow) const {
  struct stat st;
  std::string path = real(host_path);
  bool found = (follow ? ::stat(path.c_str(), &st) : ::lstat(path.c_str(), &st)) == 0;
  if (log_) log_->saw(host_path, found ? &st : nullptr, scrutiny, follow);
  if (!found) return std::nullopt;
  return st;
}

std::optional<struct stat> HostRoot::lstat(std::string_view host_path, Scrutiny scrutiny) const {
  return look(host_path, scrutiny, false);
}

std::optional<struct stat> HostRoot::stat(std::string_view host_path, Scrutiny scrutiny) const {
  return look(host_path, scrutiny, true);
}

std::optional<std::string> HostRoot::readlink(std::string_view host_path) const {
  return read_link_at(AT_FDCWD, real(host_path).c_str());
}

std::vector<std::string> HostRoot::list_dir(std::string_view host_path) const {
  std::vector<std::string> out;
  std::string real_path = real(host_path);
  stat(host_path, Scrutiny::whole);
  DIR* d = ::opendir(real_path.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name != "." && name != "..") out.emplace_back(name);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

bool HostRoot::exists(std::string_view host_path) const {
  return resolve(host_path).has_value();
}

std::optional<ResolvedPath> ResolveCache::resolve(std::string_view host_path) {
  int links_left = 40; // ELOOP, as the kernel counts
  return resolve_in(host_path, links_left);
}

const std::optional<ResolvedPath>& ResolveCache::resolve_dir(std::string_view dir) {
  int links_left = 40;
  return resolve_dir_in(clean_path(dir), links_left);
}

const std::optional<ResolvedPath>& ResolveCache::resolve_dir_in(const std::string& dir, int& links_left) {
  auto it = dirs_.find(dir);
  if (it != dirs_.end()) return it->second;
  std::optional<ResolvedPath> rdir = resolve_in(dir, links_left);
  if (rdir && rdir->path != "/") {
    std::optional<struct stat> st = host_.stat(rdir->path, Scrutiny::passed);
    if (!st || !S_ISDIR(st->st_mode)) rdir.reset();
  }
  return dirs_.emplace(dir, std::move(rdir)).first->second;
}

std::optional<ResolvedPath> ResolveCache::resolve_in(std::string_view host_path, int& links_left) {
  std::string path = clean_path(host_path);
  if (path == "/") return ResolvedPath{"/", {}};
  // ".." goes to the parent of what the path before it really is (symlinks followed), as in the kernel.
  if (size_t dots = (path + "/").find("/../"); dots != std::string::npos) {
    const std::optional<ResolvedPath>& before =
        resolve_dir_in(dots == 0 ? std::string("/") : path.substr(0, dots), links_left);
    if (!before) return std::nullopt;
    std::string rest = path.substr(std::min(path.size(), dots + 3));
    std::optional<ResolvedPath> after = resolve_in(dirname_of(before->path) + rest, links_left);
    if (!after) return std::nullopt;
    after->hops.insert(after->hops.begin(), before->hops.begin(), before->hops.end());
    return after;
  }
  std::string dir = dirname_of(path);
  std::string base = path.substr(path.rfind('/') + 1);
  // The directory part, memoised (its own symlinks resolved once for every file below it).
  const std::optional<ResolvedPath>& rdir = resolve_dir_in(dir, links_left);
  if (!rdir) return std::nullopt;
  ResolvedPath out = *rdir;
  std::string here = join_path(out.path, base);
  std::optional<struct stat> st = host_.lstat(here, Scrutiny::passed);
  if (!st) return std::nullopt;
  if (!S_ISLNK(st->st_mode)) {
    out.path = here;
    return out;
  }
  if (--links_left < 0) return std::nullopt;
  std::optional<std::string> link = host_.readlink(here);
  if (!link) return std::nullopt;
  std::string target = std::move(*link);
  out.hops.push_back({here, target});
  // Relative targets are relative to the link's (resolved) directory; ".." never climbs above the root.
  std::optional<ResolvedPath> rest =
      resolve_in(!target.empty() && target.front() == '/' ? target : out.path + "/" + target, links_left);
  if (!rest) return std::nullopt;
  out.path = rest->path;
  out.hops.insert(out.hops.end(), rest->hops.begin(), rest->hops.end());
  return out;
}

} // namespace jailbuild
