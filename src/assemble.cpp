// SPDX-License-Identifier: MIT
#include "jailbuild/assemble.hpp"

#include "jailbuild/digest.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/hostfs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <map>
#include <mutex>
#include <thread>

namespace jailbuild {

namespace {

/// Places where a jail must never be built: the system itself would be rewritten.
bool is_system_dir(const std::string& path) {
  static const char* const exact[] = {
      "/",        "/bin",         "/boot",      "/dev",      "/etc",     "/home",      "/lib",
      "/lib32",   "/lib64",       "/libx32",    "/media",    "/mnt",     "/opt",       "/proc",
      "/root",    "/run",         "/sbin",      "/srv",      "/sys",     "/tmp",       "/usr",
      "/var",     "/var/lib",     "/var/cache", "/var/log",  "/var/tmp", "/var/spool", "/var/mail",
      "/var/www", "/var/backups", "/var/opt",   "/var/local"};
  for (const char* e : exact)
    if (path == e) return true;
  // Whole trees that belong to the system or the kernel.
  for (const char* tree : {"/usr/", "/etc/", "/boot/", "/proc/", "/sys/", "/dev/", "/run/", "/bin/", "/sbin/",
                           "/lib/", "/lib64/", "/var/lib/", "/var/cache/", "/var/log/", "/var/spool/"})
    if (path.rfind(tree, 0) == 0) return true;
  return false;
}

} // namespace

bool directory_is_empty(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (!d) throw system_error(path, "cannot read directory", errno);
  bool empty = true;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") {
      empty = false;
      break;
    }
  }
  ::closedir(d);
  return empty;
}

std::string check_jail_location(const std::string& dir) {
  if (dir.empty() || dir.front() != '/') throw Error(dir, "the jail directory must be an absolute path");
  std::string path = normalize_path(dir);
  if (is_system_dir(path)) throw Error(path, "refusing to build a jail in a system directory");
  // Every existing ancestor must be a root-owned directory no one else can write to: otherwise its
  // owner could swap the jail for a symlink between our checks and our writes.
  for (std::string p = dirname_of(path);; p = dirname_of(p)) {
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0) throw system_error(p, "parent of the jail", errno);
    if (S_ISLNK(st.st_mode)) throw Error(p, "parent of the jail is a symlink: give the real path");
    if (!S_ISDIR(st.st_mode)) throw Error(p, "parent of the jail is not a directory");
    if (st.st_uid != 0) throw Error(p, "parent of the jail is not owned by root");
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
      throw Error(p, "parent of the jail is writable by group or others without the sticky bit");
    if (p == "/") break;
  }
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (S_ISLNK(st.st_mode)) throw Error(path, "is a symlink: give the real path of the jail");
    if (!S_ISDIR(st.st_mode)) throw Error(path, "exists and is not a directory");
    struct stat mst;
    bool ours =
        ::lstat((path + "/" + manifest_dir).c_str(), &mst) == 0 && S_ISDIR(mst.st_mode) && mst.st_uid == 0;
    if (!ours && !directory_is_empty(path))
      throw Error(path, "exists, is not empty and was not made by jailbuild (no " +
                            std::string(manifest_dir) + "/)");
  } else if (errno != ENOENT) {
    throw system_error(path, "cannot inspect", errno);
  }
  return path;
}

namespace {

std::string rel_of(const std::string& jail_path) {
  return jail_path.size() > 1 ? jail_path.substr(1) : "";
}

/// True when the jail still holds exactly the file `prev` recorded (same inode, size, mtime and
/// ctime), with the plan's mode and owner.
bool jail_file_matches(const JailFs& jail, const PlanEntry& entry, const PlanEntry& prev) {
  auto st = jail.lstat(rel_of(entry.path));
  return st && S_ISREG(st->st_mode) && stamp_of(*st) == prev.jail_stamp &&
         (st->st_mode & 07777) == entry.mode && st->st_uid == entry.uid && st->st_gid == entry.gid &&
         st->st_nlink == 1 && !prev.digest.empty();
}

FileStamp jail_stamp_of(const JailFs& jail, const PlanEntry& entry) {
  auto st = jail.lstat(rel_of(entry.path));
  return st ? stamp_of(*st) : FileStamp{};
}

} // namespace

AssembleReport assemble(JailFs& jail, const HostRoot& host, Plan& plan, const Manifest* previous,
                        const AssembleOptions& options) {
  std::map<std::string, const PlanEntry*> before;
  if (previous)
    for (const PlanEntry& e : previous->plan.entries)
      before.emplace(e.path, &e);
  auto previous_of = [&](const PlanEntry& e) -> const PlanEntry* {
    auto it = before.find(e.path);
    return it == before.end() || it->second->kind != e.kind ? nullptr : it->second;
  };

  AssembleReport report;
  size_t total = plan.entries.size();
  std::atomic<size_t> done{0};
  auto tick = [&] {
    size_t d = ++done;
    if (options.progress && (d % 64 == 0 || d == total)) options.progress(d, total);
  };

  // Pass 1, in path order (parents first): everything but file contents.
  std::vector<PlanEntry*> files;
  for (PlanEntry& e : plan.entries) {
    std::string rel = rel_of(e.path);
    switch (e.kind) {
    case EntryKind::directory:
      jail.make_dir(rel, e.mode, e.uid, e.gid);
      break;
    case EntryKind::symlink:
      jail.make_symlink(rel, e.source);
      break;
    case EntryKind::device:
      jail.make_device(rel, e.device_type == DeviceType::block ? DeviceKind::block : DeviceKind::character,
                       e.major, e.minor, e.mode, e.uid, e.gid);
      break;
    case EntryKind::bind: {
      // Only the mount point, and only when it is missing: `jailbuild mount` does the mounting, and
      // once it has, this path shows the host source, whose owner and mode are not ours to change.
      if (jail.lstat(rel)) break;
      struct stat st;
      bool dir = ::stat(host.real(e.source).c_str(), &st) != 0 || S_ISDIR(st.st_mode);
      if (dir)
        jail.make_dir(rel, 0755, 0, 0);
      else
        jail.write_file(rel, "", 0644, 0, 0);
      break;
    }
    case EntryKind::generated:
    case EntryKind::file:
      files.push_back(&e);
      continue;
    }
    ++report.written;
    tick();
  }

  // Pass 2: contents, in parallel; each file appears only complete (JailFs writes a temporary file
  // and renames it).
  std::atomic<size_t> next{0};
  std::atomic<size_t> written{0}, unchanged{0};
  std::atomic<uint64_t> bytes{0};
  std::mutex error_lock;
  std::optional<Error> first_error;
  auto worker = [&] {
    for (;;) {
      size_t i = next++;
      if (i >= files.size()) return;
      {
        std::lock_guard lock(error_lock);
        if (first_error) return;
      }
      PlanEntry& e = *files[i];
      std::string rel = rel_of(e.path);
      try {
        const PlanEntry* prev = previous_of(e);
        if (e.kind == EntryKind::generated) {
          if (prev && prev->digest == e.digest && jail_file_matches(jail, e, *prev)) {
            e.jail_stamp = prev->jail_stamp;
            ++unchanged;
          } else {
            jail.write_file(rel, e.content, e.mode, e.uid, e.gid);
            e.jail_stamp = jail_stamp_of(jail, e);
            ++written;
            bytes += e.content.size();
          }
        } else if (prev && jail_file_matches(jail, e, *prev) &&
                   (prev->source_stamp == e.source_stamp ||
                    sha256_file(host.real(e.source)) == prev->digest)) {
          // The jail holds what was installed, and the host's file is the same one or has the same
          // content (its stamp also moves when something else hardlinks it or touches it).
          e.digest = prev->digest;
          e.jail_stamp = prev->jail_stamp;
          ++unchanged;
        } else {
          CopyResult r = jail.copy_file(rel, host.real(e.source), e.mode, e.uid, e.gid, options.copy);
          e.digest = r.digest;
          e.jail_stamp = jail_stamp_of(jail, e);
          ++written;
          bytes += r.size;
        }
      } catch (const Error& err) {
        std::lock_guard lock(error_lock);
        if (!first_error) first_error = err;
        return;
      }
      tick();
    }
  };
  unsigned n = std::max(1u, options.threads);
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < n; ++t)
    pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool)
    t.join();
  if (first_error) throw *first_error;
  report.written += written;
  report.unchanged += unchanged;
  report.bytes += bytes;
  return report;
}

} // namespace jailbuild
