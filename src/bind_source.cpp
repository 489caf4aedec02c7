// SPDX-License-Identifier: MIT
//
// Why a bind source is opened component by component: `--bind /srv/x/shared/sub:/sub` where the
// service owns /srv/x/shared. Resolved by path, as mount(2) would, the service decides what root
// binds: it replaces sub by a symlink to /etc, and the next `jailbuild mount` binds the host's /etc
// into the jail. So every component is opened with O_NOFOLLOW from the fd of the one before, and a
// symlink is followed only when nobody but root could have put it there: root owns it, and every
// directory on the way to it is root's and writable by no one else (or sticky, and the entry root's).
// The fd at the end is what gets mounted (mounts.cpp), so nothing can be swapped after the check.
#include "jailbuild/bind_source.hpp"

#include "jailbuild/error.hpp"
#include "jailbuild/fd.hpp"
#include "jailbuild/hostfs.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <deque>
#include <fcntl.h>
#include <unistd.h>

namespace jailbuild {

namespace {

bool inside(std::string_view path, std::string_view dir) {
  return dir == "/" || path == dir ||
         (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/');
}

struct Refused {
  std::string_view path;
  std::string_view what;
};

constexpr std::string_view proc_why =
    "with it, a jailed process reads and writes the host's files through /proc/PID/root of any host "
    "process of its uid, a way out of any chroot. /proc belongs only in a jail with a PID namespace of "
    "its own (a fresh procfs mounted there, or a systemd unit with ProtectProc=invisible and "
    "ProcSubset=pid for a uid that runs nothing outside the jail)";

/// Trees that belong to the system or the kernel: neither they nor anything below them is bound.
constexpr Refused refused_trees[] = {
    {"/etc", "the host's configuration"},
    {"/usr", "the host's programs and libraries"},
    {"/bin", "the host's programs"},
    {"/sbin", "the host's programs"},
    {"/boot", "the kernel and boot loader"},
    {"/root", "root's home"},
    {"/home", "users' homes (site code belongs under /srv or /var/www)"},
    {"/proc", "the host's /proc"},
    {"/sys", "the kernel's settings (/sys)"},
    {"/dev", "the host's device nodes"},
    {"/run/systemd", "systemd's sockets"},
    {"/run/dbus", "the D-Bus system bus"},
    {"/run/docker.sock", "Docker's socket, which is root on the host"},
    {"/run/docker", "Docker's state"},
    {"/run/containerd", "containerd's socket"},
    {"/run/podman", "Podman's socket"},
    {"/run/crio", "CRI-O's socket"},
    {"/run/libvirt", "libvirt's sockets"},
    {"/run/user", "users' runtime directories"},
    {"/run/sudo", "sudo's state"},
    {"/var/lib/jailbuild", "jailbuild's registry"},
    {"/var/lib/dpkg", "the package database"},
    {"/var/lib/apt", "apt's state"},
    {"/var/lib/systemd", "systemd's state"},
    {"/var/lib/docker", "Docker's storage"},
    {"/var/lib/containerd", "containerd's storage"},
    {"/var/lib/kubelet", "the kubelet's secrets"},
    {"/var/lib/lxd", "LXD's socket"},
    {"/var/spool/cron", "cron's tables"},
};

/// Directories refused as a whole; what lies below them may be bound (/run/mysqld, /srv/site).
constexpr Refused refused_whole[] = {
    {"/", "the host's root file system"},
    {"/run", "the host's /run"},
    {"/var", "the host's /var"},
    {"/var/lib", "the host's /var/lib"},
    {"/var/log", "the host's logs"},
    {"/var/cache", "the host's /var/cache"},
    {"/var/spool", "the host's spool"},
    {"/var/tmp", "the host's /var/tmp"},
    {"/var/mail", "the host's mail"},
    {"/var/backups", "the host's backups"},
    {"/var/www", "every site of the host"},
    {"/srv", "every site of the host"},
    {"/tmp", "the host's /tmp"},
    {"/mnt", "the host's /mnt"},
    {"/media", "the host's /media"},
    {"/opt", "the host's /opt"},
};

/// What may be bound although it lies in a refused tree: the system logger's sockets accept log
/// lines and nothing else (the devlog profile).
bool is_log_socket(std::string_view path) {
  return path == "/dev/log" || path == "/run/systemd/journal/dev-log" ||
         path == "/run/systemd/journal/socket" || path == "/run/systemd/journal/stdout";
}

std::string refusal(std::string_view what, std::string_view why = {}) {
  std::string out = "refusing to bind " + std::string(what) + " into a jail";
  if (!why.empty()) out += ": " + std::string(why);
  return out;
}

std::vector<std::string> components_of(std::string_view path) {
  std::vector<std::string> out;
  while (!path.empty()) {
    size_t slash = path.find('/');
    std::string_view part = path.substr(0, slash);
    if (!part.empty() && part != ".") out.emplace_back(part);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

/// True when only root can change which inode `name` means in a directory: the directory is root's
/// and nobody else may write it, or it is sticky (like /tmp) and the entry is root's too.
bool only_root_chooses(const struct stat& dir, const struct stat& entry) {
  if (dir.st_uid != 0) return false;
  if (!(dir.st_mode & (S_IWGRP | S_IWOTH))) return true;
  return (dir.st_mode & S_ISVTX) && entry.st_uid == 0;
}

/// Who may write a directory, for messages: "uid 33", "its group", "everyone".
std::string writers_of(const struct stat& dir) {
  if (dir.st_uid != 0) return "uid " + std::to_string(dir.st_uid);
  if (dir.st_mode & S_IWOTH) return "everyone";
  return "group " + std::to_string(dir.st_gid);
}

/// One directory on the way to the source.
struct Level {
  UniqueFd fd;
  struct stat st {};
  std::string path;    ///< host path
  bool by_root = true; ///< reached only through names nobody but root could have chosen
};

} // namespace

std::optional<std::string> refused_bind_source(std::string_view host_path) {
  // /var/run is a link to /run on every current distribution: judge what it leads to.
  if (inside(host_path, "/var/run")) return refused_bind_source("/run" + std::string(host_path.substr(8)));
  if (is_log_socket(host_path)) return std::nullopt;
  for (const Refused& r : refused_whole)
    if (host_path == r.path) return refusal(r.what, r.path == "/" ? "the jail would see the whole host" : "");
  // Any /lib* at the top: /lib, /lib32, /lib64, /libx32, whatever a distribution adds.
  if (host_path.substr(0, 4) == "/lib") {
    size_t end = host_path.find('/', 1);
    return refusal("the host's libraries (" + std::string(host_path.substr(0, end)) + ")");
  }
  for (const Refused& r : refused_trees) {
    if (inside(host_path, r.path))
      return r.path == "/proc" ? refusal(r.what, proc_why)
                               : refusal(std::string(r.what) + " (" + std::string(r.path) + ")");
    if (inside(r.path, host_path))
      return refusal(std::string(host_path) + ", which holds " + std::string(r.what));
  }
  return std::nullopt;
}

BindSource open_bind_source(const HostRoot& host, const std::string& source,
                            const std::vector<std::string>& jails) {
  if (source.empty() || source.front() != '/') throw Error(source, "a bind source must be an absolute path");
  for (const std::string& part : components_of(source))
    if (part == "..") throw Error(source, "a bind source may not contain '..'");
  if (std::optional<std::string> why = refused_bind_source(normalize_path(source))) throw Error(source, *why);

  const std::string root = host.root().empty() ? "/" : host.root();
  std::vector<Level> levels;
  {
    Level top;
    top.fd.reset(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!top.fd) throw system_error(root, "opening the host root", errno);
    if (::fstat(top.fd.get(), &top.st) != 0) throw system_error(root, "reading status", errno);
    top.path = "/";
    levels.push_back(std::move(top));
  }
  std::deque<std::string> todo;
  for (std::string& part : components_of(source))
    todo.push_back(std::move(part));
  int links = 0;
  while (!todo.empty()) {
    std::string name = std::move(todo.front());
    todo.pop_front();
    if (name == "..") { // only from a symlink's text, which root wrote
      if (levels.size() > 1) levels.pop_back();
      continue;
    }
    const Level& dir = levels.back();
    const std::string here = join_path(dir.path, name);
    if (!S_ISDIR(dir.st.st_mode)) throw Error(source, dir.path + " is not a directory");
    Level next;
    next.fd.reset(::openat(dir.fd.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!next.fd) {
      if (errno == ENOENT)
        throw Error(source, "bind source does not exist on the host" +
                                (here == source ? std::string() : " (" + here + " is missing)"));
      throw system_error(source, "opening " + here, errno);
    }
    if (::fstat(next.fd.get(), &next.st) != 0)
      throw system_error(source, "reading the status of " + here, errno);
    next.path = here;
    next.by_root = dir.by_root && only_root_chooses(dir.st, next.st);
    if (S_ISLNK(next.st.st_mode)) {
      if (!next.by_root || next.st.st_uid != 0)
        throw Error(source,
                    here + " is a symlink " +
                        (next.st.st_uid != 0 ? "owned by uid " + std::to_string(next.st.st_uid)
                                             : "below a directory " + writers_of(dir.st) + " may write") +
                        ": a bind source is never followed through it (it could have been swapped for a link "
                        "to /etc)");
      if (++links > 40) throw Error(source, "too many levels of symlinks");
      std::optional<std::string> link = read_link_at(next.fd.get(), "");
      if (!link) throw system_error(source, "reading the symlink " + here, errno);
      const std::string& target = *link;
      std::vector<std::string> parts = components_of(target);
      todo.insert(todo.begin(), parts.begin(), parts.end());
      if (!target.empty() && target.front() == '/') levels.resize(1);
      continue;
    }
    // Another jail's files are that jail's: its services could swap them, its manifest is root's.
    if (S_ISDIR(next.st.st_mode)) {
      struct stat manifest_dir {};
      if (::fstatat(next.fd.get(), ".jailbuild", &manifest_dir, AT_SYMLINK_NOFOLLOW) == 0)
        throw Error(source, "lies in the jailbuild jail " + host.real(here) +
                                ": another jail is never bound into a jail");
    }
    levels.push_back(std::move(next));
  }

  Level& found = levels.back();
  if (levels.size() == 1) throw Error(source, refusal("the host's root file system"));
  if (std::optional<std::string> why = refused_bind_source(found.path))
    throw Error(source, *why + " (" + source + " leads to " + found.path + ")");
  const std::string real = host.real(found.path);
  for (const std::string& jail : jails) {
    if (inside(real, jail))
      throw Error(source, "lies in the jail " + jail + ": another jail is never bound into a jail");
    if (inside(jail, real))
      throw Error(source, "holds the jail " + jail + ": its services could rename or replace it");
  }
  // A hard link's name says nothing of the inode: below a directory someone else may write, a
  // socket or file could be a second name of any host file its owner can link.
  if (!S_ISDIR(found.st.st_mode) && !found.by_root && found.st.st_nlink > 1)
    throw Error(source, "has " + std::to_string(found.st.st_nlink) +
                            " hard links and lies below a directory someone other than root may write: it "
                            "may be a host file's second name");
  return {std::move(found.fd), found.path, found.st};
}

} // namespace jailbuild
