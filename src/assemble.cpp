// SPDX-License-Identifier: MIT
// Why the order of apply(): the jail must work after every single step, because jailbuild may be
// killed anywhere (the apt hook runs it; a machine loses power). Directories come first; then new
// contents, each a new file renamed over the old name (a running nginx or php-fpm that maps a library
// would get SIGBUS from a file rewritten in place), libraries before the programs that may need them;
// then the symlinks that may point at them; removals last. The manifest is written by the caller
// once the jail matches it, so a killed run leaves the previous manifest, and the next run finds the
// jail between the two and converges.
#include "jailbuild/assemble.hpp"

#include "jailbuild/digest.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/fd.hpp"
#include "jailbuild/hostfs.hpp"
#include "jailbuild/registry.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>
#include <optional>
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
  // Refused here, before anything is built, rather than by the registry once the jail exists.
  if (std::optional<std::string> why = unrecordable_path(path)) throw Error(path, *why);
  // Every existing ancestor must be a root-owned directory no one else can write to: otherwise its
  // owner could swap the jail for a symlink between our checks and our writes. The sticky bit is
  // enough above the jail's own parent (no one else can rename or remove root's entry), not for that
  // parent: below /tmp anyone may take the jail's name whenever it is not there (before create, or
  // after the admin removed a jail that stayed registered) and fill it with a manifest of its own.
  const std::string parent = dirname_of(path);
  for (std::string p = parent;; p = dirname_of(p)) {
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0) throw system_error(p, "parent of the jail", errno);
    if (S_ISLNK(st.st_mode)) throw Error(p, "parent of the jail is a symlink: give the real path");
    if (!S_ISDIR(st.st_mode)) throw Error(p, "parent of the jail is not a directory");
    if (st.st_uid != 0) throw Error(p, "parent of the jail is not owned by root");
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
      throw Error(p, "parent of the jail is writable by group or others without the sticky bit");
    if (p == parent && (st.st_mode & (S_IWGRP | S_IWOTH)))
      throw Error(p,
                  "parent of the jail is writable by group or others (sticky, as /tmp): anyone could take "
                  "the jail's name whenever it is not there; put the jail in a directory only root writes");
    if (p == "/") break;
  }
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (S_ISLNK(st.st_mode)) throw Error(path, "is a symlink: give the real path of the jail");
    if (!S_ISDIR(st.st_mode)) throw Error(path, "exists and is not a directory");
    // Refused before anything is written or chowned: its owner could have planted .jailbuild/lock (a
    // lock held forever) or directories of its own for root to fill.
    if (st.st_uid != 0)
      throw Error(path, "exists and is owned by uid " + std::to_string(st.st_uid) +
                            ", not root: jailbuild uses only a new directory or one of root's");
    if (st.st_mode & (S_IWGRP | S_IWOTH))
      throw Error(path, "exists and is writable by group or others: jailbuild uses only a new directory or "
                        "one only root writes");
    struct stat mst;
    const std::string meta = path + "/" + manifest_dir;
    bool has_meta = ::lstat(meta.c_str(), &mst) == 0 && S_ISDIR(mst.st_mode);
    if (has_meta && mst.st_uid != 0)
      throw Error(meta, "is owned by uid " + std::to_string(mst.st_uid) +
                            ", not root: its owner chooses the manifest root reads there (what sync copies "
                            "where, what mount binds)");
    bool ours = has_meta;
    if (!ours && !directory_is_empty(path))
      throw Error(path, "exists, is not empty and was not made by jailbuild (no " +
                            std::string(manifest_dir) + "/)");
  } else if (errno != ENOENT) {
    throw system_error(path, "cannot inspect", errno);
  }
  return path;
}

namespace {

/// Lists one jail directory into `listing` (once): a symlink or another non-directory on the way is
/// what a jailed process can plant; the directory is then behind it, never followed, reported by
/// decide(). Leftovers of killed runs are set apart. A failure to read (EACCES, EIO) throws: it must
/// not pass for tampering.
void list_one(const JailFs& jail, const std::string& dir, JailListing& listing) {
  auto [it, inserted] = listing.dirs.try_emplace(dir);
  if (!inserted) return;
  JailListing::Dir& out = it->second;
  JailFs::Listing listed = jail.list_dir(dir);
  switch (listed.state) {
  case JailFs::Listing::State::absent:
    return;
  case JailFs::Listing::State::symlink:
    out.state = JailListing::Dir::State::behind_symlink;
    return;
  case JailFs::Listing::State::not_directory:
    out.state = JailListing::Dir::State::behind_non_directory;
    return;
  case JailFs::Listing::State::present:
    break;
  }
  out.state = JailListing::Dir::State::present;
  out.entries.reserve(listed.entries.size());
  for (JailFs::Listed& l : listed.entries) {
    if (is_temp_name(l.name) && S_ISREG(l.st.st_mode) && l.st.st_uid == 0) {
      listing.leftovers.push_back((dir == "/" ? "" : dir) + "/" + l.name);
      continue;
    }
    std::string name = l.name;
    out.entries.emplace(std::move(name), std::move(l));
  }
}

} // namespace

void list_jail(const JailFs& jail, const Plan& plan, JailListing& listing) {
  if (listing.dirs.empty()) {
    listing.root = *jail.lstat("");
    list_one(jail, "/", listing);
    // Where the manifest is written: a run killed then leaves its temporary file there.
    list_one(jail, std::string("/") + manifest_dir, listing);
  }
  std::string_view last;
  for (const PlanEntry& e : plan.entries) {
    if (e.path == "/") continue;
    std::string_view path = e.path;
    std::size_t slash = path.rfind('/');
    std::string_view dir = slash == 0 ? std::string_view("/") : path.substr(0, slash);
    if (dir == last) continue;
    last = dir;
    if (!listing.dirs.contains(dir)) list_one(jail, std::string(dir), listing);
  }
}

void look_closer(const JailFs& jail, const HostRoot& host, const Plan& recorded, Plan& desired,
                 JailListing& listing) {
  // The regular file the jail holds at `path`, hashed unless the record vouches for it.
  auto hash_jail_file = [&](const std::string& path, const PlanEntry* rec) {
    Seen s = seen(listing, path);
    if (s.state != Seen::State::present || path == "/" || !S_ISREG(s.entry->st.st_mode)) return;
    if ((rec && unchanged_since_recorded(*rec, s.entry->st)) || listing.digests.contains(path)) return;
    UniqueFd fd(jail.open_read(path));
    std::string digest = sha256_fd(fd.get());
    if (s.entry->st.st_nlink != 1) digest += "+hardlinked"; // shared with something else: never "ours"
    listing.digests.emplace(path, std::move(digest));
  };
  auto is_file = [](const PlanEntry& e) {
    return e.kind == EntryKind::file || e.kind == EntryKind::generated;
  };

  std::unordered_map<std::string_view, const PlanEntry*> by_path;
  by_path.reserve(recorded.entries.size());
  for (const PlanEntry& rec : recorded.entries) {
    by_path.emplace(rec.path, &rec);
    if (is_file(rec)) hash_jail_file(rec.path, &rec);
  }
  if (&desired == &recorded) return; // a reused plan: the record is the plan, digests and all
  for (PlanEntry& e : desired.entries) {
    if (!is_file(e)) continue;
    auto it = by_path.find(e.path);
    const PlanEntry* rec = it != by_path.end() && it->second->kind == e.kind ? it->second : nullptr;
    hash_jail_file(e.path, rec);
    if (e.kind != EntryKind::file) continue; // generated content carries its digest
    if (rec && rec->source_stamp == e.source_stamp && !rec->digest.empty()) {
      e.digest = rec->digest;
    } else if (e.digest.empty()) {
      Seen s = seen(listing, e.path);
      if (s.state == Seen::State::present && S_ISREG(s.entry->st.st_mode))
        e.digest = sha256_file(host.real(e.source));
    }
  }
}

namespace {

class Applier {
public:
  Applier(JailFs& jail, const HostRoot& host, Plan& desired, const AssembleOptions& options)
      : jail_(jail), host_(host), desired_(desired), options_(options) {}

  AssembleReport run(const Decision& decision) {
    const std::vector<Action>& actions = decision.actions;
    for (const Action& a : actions)
      if (a.op != Action::Op::record && a.op != Action::Op::keep_absent) ++total_;
    for (std::size_t begin = 0; begin < actions.size();) {
      std::size_t end = begin;
      while (end < actions.size() && actions[end].phase == actions[begin].phase)
        ++end;
      // A phase ends before the next begins: no program before its libraries, no link before its target.
      Phase phase = actions[begin].phase;
      if (phase == Phase::contents || phase == Phase::programs)
        in_parallel(actions, begin, end);
      else
        for (std::size_t i = begin; i < end; ++i)
          perform(actions[i]);
      begin = end;
    }
    AssembleReport report;
    report.written = written_;
    report.removed = removed_;
    report.bytes = bytes_;
    report.warnings = std::move(warnings_);
    std::size_t files = 0;
    for (PlanEntry& e : desired_.entries) {
      if (e.kind != EntryKind::file && e.kind != EntryKind::generated) continue;
      ++files;
      // Left in place (tampered, under a planted symlink): the manifest still records what the
      // host's file holds, so that audit and the next run compare against it.
      if (e.digest.empty() && e.kind == EntryKind::file) e.digest = sha256_file(host_.real(e.source));
    }
    report.unchanged = files - installed_;
    return report;
  }

private:
  /// Runs actions [begin, end) on options.threads threads; the first error stops them all.
  void in_parallel(const std::vector<Action>& actions, std::size_t begin, std::size_t end) {
    std::atomic<std::size_t> next{begin};
    std::mutex error_lock;
    std::optional<Error> first_error;
    auto worker = [&] {
      for (;;) {
        std::size_t i = next++;
        if (i >= end) return;
        {
          std::lock_guard lock(error_lock);
          if (first_error) return;
        }
        try {
          perform(actions[i]);
        } catch (const Error& err) {
          std::lock_guard lock(error_lock);
          if (!first_error) first_error = err;
          return;
        }
      }
    };
    unsigned n = std::max(1u, std::min<unsigned>(options_.threads, static_cast<unsigned>(end - begin)));
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < n; ++t)
      pool.emplace_back(worker);
    worker();
    for (std::thread& t : pool)
      t.join();
    if (first_error) throw *first_error;
  }

  void perform(const Action& a) {
    PlanEntry* e = a.entry == Action::none ? nullptr : &desired_.entries[a.entry];
    switch (a.op) {
    case Action::Op::make_dir:
      jail_.make_dir(a.path, e->mode, e->uid, e->gid);
      ++written_;
      break;
    case Action::Op::replace_by_dir:
      jail_.remove(a.path); // the symlink or file itself, never what it points to
      jail_.make_dir(a.path, e->mode, e->uid, e->gid);
      ++written_;
      break;
    case Action::Op::mount_point: {
      struct stat st;
      bool dir = ::stat(host_.real(e->source).c_str(), &st) != 0 || S_ISDIR(st.st_mode);
      if (dir)
        jail_.make_dir(a.path, 0755, 0, 0);
      else
        jail_.write_file(a.path, "", 0644, 0, 0);
      ++written_;
      break;
    }
    case Action::Op::install:
      e->kept_absent = false;
      install(*e, a.path);
      ++installed_;
      ++written_;
      break;
    case Action::Op::install_beside: {
      // The jail's edited file stays; the manifest keeps its recorded stamp, and the host's digest.
      e->kept_absent = false;
      PlanEntry beside = *e;
      install(beside, a.path + ".jailbuild-new");
      e->digest = beside.digest;
      e->jail_stamp = a.stamp;
      ++written_;
      break;
    }
    case Action::Op::device:
      jail_.make_device(a.path,
                        e->device_type == DeviceType::block ? DeviceKind::block : DeviceKind::character,
                        e->major, e->minor, e->mode, e->uid, e->gid);
      ++written_;
      break;
    case Action::Op::symlink:
      e->kept_absent = false;
      jail_.make_symlink(a.path, e->source);
      ++written_;
      break;
    case Action::Op::remove:
      jail_.remove(a.path);
      ++removed_;
      break;
    case Action::Op::remove_dir:
      switch (jail_.remove_dir(a.path)) {
      case RemovedDir::removed:
      case RemovedDir::absent:
        ++removed_;
        break;
      case RemovedDir::not_empty: {
        // Site files or logs live there. Leave it; it is no longer ours.
        std::lock_guard lock(progress_lock_);
        warnings_.push_back(a.path + ": no longer needed but not empty; left in place");
        break;
      }
      case RemovedDir::mount_point: {
        // Something is mounted there (a bind no longer asked for, perhaps): never unmounted here.
        std::lock_guard lock(progress_lock_);
        warnings_.push_back(a.path + ": no longer needed but something is mounted on it; left in place");
        break;
      }
      }
      break;
    case Action::Op::remove_leftover:
      if (jail_.remove_leftover(a.path)) ++removed_;
      break;
    case Action::Op::record:
      e->jail_stamp = a.stamp;
      e->kept_absent = false;
      return; // the jail is untouched: no progress to report
    case Action::Op::keep_absent:
      // The manifest keeps the entry (with the host's digest, filled in below) so that no later run
      // takes the deletion for a file gone missing; it vouches for no jail file.
      e->kept_absent = true;
      e->jail_stamp = {};
      return;
    }
    std::lock_guard lock(progress_lock_);
    ++done_;
    if (options_.progress) options_.progress(done_, total_);
  }

  /// Copies or writes an entry's content to `where`, filling in its digest and jail stamp.
  void install(PlanEntry& e, const std::string& where) {
    if (e.kind == EntryKind::generated) {
      e.digest = jail_.write_file(where, e.content, e.mode, e.uid, e.gid);
      bytes_ += e.content.size();
    } else {
      CopyResult r = jail_.copy_file(where, host_.real(e.source), e.mode, e.uid, e.gid, options_.copy);
      // The digest was taken before (to compare with the jail's file): the host file changed since.
      if (!e.digest.empty() && r.digest != e.digest)
        throw Error(e.source, "changed on the host while jailbuild copied it; run jailbuild again");
      e.digest = r.digest;
      bytes_ += r.size;
    }
    if (std::optional<struct stat> st = jail_.lstat(where)) e.jail_stamp = stamp_of(*st);
  }

  JailFs& jail_;
  const HostRoot& host_;
  Plan& desired_;
  const AssembleOptions& options_;
  std::atomic<std::size_t> written_{0}, removed_{0}, installed_{0};
  std::atomic<uint64_t> bytes_{0};
  std::mutex progress_lock_; // also guards warnings_
  std::size_t done_ = 0, total_ = 0;
  std::vector<std::string> warnings_;
};

} // namespace

AssembleReport apply(JailFs& jail, const HostRoot& host, Plan& desired, const Decision& decision,
                     const AssembleOptions& options) {
  return Applier(jail, host, desired, options).run(decision);
}

void refuse_tampering(const JailFs& jail, const Decision& decision) {
  const Change* first = nullptr;
  std::size_t count = 0;
  for (const Change& c : decision.changes)
    if (c.kind == ChangeKind::tampered && !count++) first = &c;
  if (!first) return;
  std::string more = count > 1 ? " (and " + std::to_string(count - 1) + " more left in place)" : "";
  throw Error(jail.path(first->path), first->detail + more);
}

AssembleReport assemble(JailFs& jail, const HostRoot& host, Plan& plan, const Manifest* previous,
                        const AssembleOptions& options) {
  const Plan nothing;
  const Plan& recorded = previous ? previous->plan : nothing;
  JailListing listing;
  list_jail(jail, recorded, listing);
  list_jail(jail, plan, listing);
  look_closer(jail, host, recorded, plan, listing);
  Decision decision = decide(recorded, plan, listing, Differences::enforce);
  refuse_tampering(jail, decision);
  AssembleReport report = apply(jail, host, plan, decision, options);
  for (const Change& c : decision.changes)
    if (c.kind == ChangeKind::conflict) report.warnings.push_back(c.path + ": " + c.detail);
  return report;
}

} // namespace jailbuild
