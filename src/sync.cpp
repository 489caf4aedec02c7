// SPDX-License-Identifier: MIT
// Three states meet here: what the manifest says was installed (recorded), what the host says should
// be there now (desired, a fresh plan), and what the jail really holds (actual). Every decision
// compares the three; every change goes through JailFs, so nothing written here follows a symlink a
// jailed process may have planted, and nothing is rewritten in place (a running nginx or php-fpm that
// maps a library would get SIGBUS): replacements are new files renamed over the old names.
#include "jailbuild/sync.hpp"

#include "jailbuild/create.hpp"
#include "jailbuild/digest.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/fd.hpp"
#include "jailbuild/hostfs.hpp"
#include "jailbuild/inputs.hpp"
#include "jailbuild/jailfs.hpp"
#include "jailbuild/manifest.hpp"
#include "jailbuild/origin.hpp"
#include "jailbuild/plan_builder.hpp"
#include "jailbuild/profile.hpp"

#include <cerrno>
#include <csignal>
#include <ctime>
#include <fcntl.h>
#include <map>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <tuple>
#include <unistd.h>
#include <unordered_map>

#include <algorithm>
#include <chrono>
#include <future>
#include <thread>

namespace jailbuild {

namespace {

std::string rel_of(const std::string& jail_path) {
  return jail_path.size() > 1 ? jail_path.substr(1) : "";
}

/// One sync at a time per jail: an flock on .jailbuild/lock, waited for up to a minute (the apt
/// hook and the timer may meet).
class JailLock {
public:
  explicit JailLock(const std::string& dir) {
    std::string meta = dir + "/" + manifest_dir;
    UniqueFd dir_fd(::open(meta.c_str(), O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_PATH));
    if (!dir_fd) throw system_error(meta, "cannot open", errno);
    fd_.reset(::openat(dir_fd.get(), "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd_) throw system_error(meta + "/lock", "cannot open", errno);
    for (int i = 0; ::flock(fd_.get(), LOCK_EX | LOCK_NB) != 0; ++i) {
      if (errno != EWOULDBLOCK || i >= 600)
        throw Error(dir, "another jailbuild holds the jail's lock (" + meta + "/lock)");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

private:
  UniqueFd fd_;
};

/// What the jail really holds at a path, for a file entry.
struct Actual {
  enum class Kind { absent, file, other } kind = Kind::absent;
  std::string digest; ///< for a file: known without hashing when its stamp is the recorded one
  FileStamp stamp;
  uint32_t mode = 0, uid = 0, gid = 0;
};

/// One thing to do, decided before anything is done (so --dry-run shows exactly what would happen).
struct Action {
  enum class Op {
    install,
    install_beside,
    remove,
    remove_dir,
    fix_dir,
    symlink,
    device,
    mount_point,
    record
  } op;
  PlanEntry* entry = nullptr;     ///< desired (install, symlink, device, fix_dir, record)
  const PlanEntry* old = nullptr; ///< recorded (remove)
};

class Syncer {
public:
  Syncer(const std::string& dir, const SyncOptions& options) : options_(options), jail_(dir) {
    report_.dir = dir;
  }

  SyncReport run() {
    if (!jail_.lstat(manifest_file))
      throw Error(report_.dir, "not a jailbuild jail: no " + std::string(manifest_file));
    JailLock lock(report_.dir);
    Manifest old = read_manifest(report_.dir);
    JailSpec spec = old.plan.spec;
    // The built-in profiles are wherever this jailbuild has them now; the user's, checked again.
    spec.profile_dirs = recorded_profile_dirs(spec.profile_dirs, report_.warnings);
    HostRoot host(spec.host_root);
    // An unpacked jail whose packages this host does not have in the same versions: refreshing some
    // files from here would mix two versions of one package. Say so instead.
    if (std::optional<std::string> mismatch = package_mismatch(old, host))
      throw Error(report_.dir,
                  *mismatch + "; rebuild the jail here with `jailbuild create`, or unpack a fresh archive");
    // Nothing the last plan was made from changed (the timer's daily sync): it stands. Otherwise
    // (after apt) plan again, recording what this plan is made from.
    // Two independent looks, one per core: the host's inputs, and the jail's directories as the last
    // plan made them (listed once here, read by every decision below).
    std::future<bool> unchanged =
        std::async(std::launch::async, [&] { return inputs_unchanged(old.inputs, host.root()); });
    list_dirs_of(old.plan);
    report_.planned = spec.profile_dirs != old.plan.spec.profile_dirs || !unchanged.get();
    // Reused, the recorded plan is the desired one: recorded and desired entries are then the same
    // objects, and only the jail stamps decide() refreshes can differ from the manifest.
    Plan fresh;
    PlanInputs inputs;
    if (report_.planned)
      std::tie(fresh, inputs) = plan_again(host, spec, old.plan);
    else
      inputs = old.inputs;
    Plan& plan = report_.planned ? fresh : old.plan;
    std::vector<FileStamp> stamps_before;
    if (!report_.planned)
      for (const PlanEntry& e : plan.entries)
        stamps_before.push_back(e.jail_stamp);
    report_.warnings.insert(report_.warnings.end(), plan.warnings.begin(), plan.warnings.end());

    std::unordered_map<std::string_view, const PlanEntry*> recorded;
    recorded.reserve(old.plan.entries.size());
    for (const PlanEntry& e : old.plan.entries)
      recorded.emplace(e.path, &e);
    fill_digests(host, plan, recorded);
    decide(plan, recorded, old);
    if (options_.mode == SyncMode::dry_run) return std::move(report_);

    bool entries_changed = report_.planned ? !same_entries(plan, old.plan) || !(inputs == old.inputs) ||
                                                 plan.spec.profile_dirs != old.plan.spec.profile_dirs
                                           : !same_stamps(plan, stamps_before);
    bool changed = apply(host) || entries_changed;
    if (changed) {
      Manifest next;
      next.tool = std::string("jailbuild ") + JB_VERSION;
      next.created = old.created;
      next.updated = static_cast<int64_t>(std::time(nullptr));
      next.origin = old.origin;
      next.plan = std::move(plan);
      next.inputs = std::move(inputs);
      write_manifest(jail_, next);
      report_.manifest_written = true;
    }
    return std::move(report_);
  }

private:
  /// A fresh plan from the host as it is now, and what it was made from.
  static std::pair<Plan, PlanInputs> plan_again(HostRoot& host, const JailSpec& spec, const Plan& old) {
    // ELF facts of unchanged files come from the manifest: an unchanged file is never parsed again.
    std::map<FileStamp, const ElfInfo*> cache;
    for (const WalkObject& o : old.objects)
      cache[o.stamp] = &o.elf;
    ElfReader reader = [&](const std::string& real_path, const FileStamp& s) {
      auto it = cache.find(s);
      return it != cache.end() ? *it->second : read_elf_dynamic(real_path);
    };
    RecordedPlan planned = build_recorded_plan(host, spec, Digests::while_copying, reader);
    return {std::move(planned.plan), std::move(planned.inputs)};
  }

  /// Desired files whose source did not change keep their recorded digest; the others are hashed now.
  void fill_digests(const HostRoot& host, Plan& plan,
                    const std::unordered_map<std::string_view, const PlanEntry*>& recorded) {
    for (PlanEntry& e : plan.entries) {
      if (e.kind != EntryKind::file) continue;
      auto it = recorded.find(e.path);
      if (it != recorded.end() && it->second->kind == EntryKind::file &&
          it->second->source_stamp == e.source_stamp && !it->second->digest.empty())
        e.digest = it->second->digest;
      else
        e.digest = sha256_file(host.real(e.source));
    }
  }

  struct Listing {
    bool present = false, blocked = false;
    std::unordered_map<std::string, JailFs::Listed> entries;
  };

  /// Lists every jail directory holding an entry of `plan` (seen() would, one at a time).
  void list_dirs_of(const Plan& plan) {
    std::string last;
    for (const PlanEntry& e : plan.entries) {
      if (e.path == "/") continue;
      std::string dir = dirname_of(e.path);
      if (dir == last) continue;
      listing_of(dir);
      last = std::move(dir);
    }
  }

  /// What the jail holds at a path, from one listing per directory (read once, during decide).
  struct Seen {
    enum class State { absent, present, blocked } state = State::absent; ///< blocked: a parent is a symlink
    struct stat st {};
    std::string link;
  };
  const Listing& listing_of(const std::string& dir) {
    auto it = listings_.find(dir);
    if (it == listings_.end()) {
      Listing listing;
      try {
        if (auto entries = jail_.list_dir(rel_of(dir))) {
          listing.present = true;
          for (JailFs::Listed& l : *entries)
            listing.entries.emplace(l.name, std::move(l));
        }
      } catch (const Error&) {
        listing.blocked = true; // a symlink where a directory should be: hostile, never followed
      }
      it = listings_.emplace(dir, std::move(listing)).first;
    }
    return it->second;
  }

  Seen seen(const std::string& path) {
    Seen out;
    if (path == "/") {
      out.state = Seen::State::present;
      out.st = *jail_.lstat("");
      return out;
    }
    const Listing& listing = listing_of(dirname_of(path));
    if (listing.blocked) {
      out.state = Seen::State::blocked;
      return out;
    }
    auto e = listing.entries.find(path.substr(path.rfind('/') + 1));
    if (e == listing.entries.end()) return out;
    out.state = Seen::State::present;
    out.st = e->second.st;
    out.link = e->second.link;
    return out;
  }

  Actual actual_file(const std::string& path, const PlanEntry* rec) {
    Actual a;
    Seen s = seen(path);
    if (s.state == Seen::State::blocked) {
      a.kind = Actual::Kind::other;
      return a;
    }
    if (s.state == Seen::State::absent) return a;
    std::optional<struct stat> st = s.st;
    if (!S_ISREG(st->st_mode)) {
      a.kind = Actual::Kind::other;
      return a;
    }
    a.kind = Actual::Kind::file;
    a.stamp = stamp_of(*st);
    a.mode = st->st_mode & 07777;
    a.uid = st->st_uid;
    a.gid = st->st_gid;
    // Untouched since we installed it: the recorded digest holds, no need to read 100 MB again.
    if (rec && st->st_nlink == 1 && !rec->digest.empty() && rec->jail_stamp == a.stamp) {
      a.digest = rec->digest;
      return a;
    }
    int fd = jail_.open_read(rel_of(path));
    try {
      a.digest = sha256_fd(fd);
    } catch (...) {
      ::close(fd);
      throw;
    }
    ::close(fd);
    if (st->st_nlink != 1) a.digest += "+hardlinked"; // shared with something else: never "ours"
    return a;
  }

  void change(ChangeKind kind, const std::string& path, std::string detail = {}) {
    report_.changes.push_back({kind, path, std::move(detail)});
  }

  void decide(Plan& plan, const std::unordered_map<std::string_view, const PlanEntry*>& recorded,
              const Manifest& old) {
    std::unordered_map<std::string_view, const PlanEntry*> desired;
    desired.reserve(plan.entries.size());
    for (PlanEntry& e : plan.entries) {
      desired.emplace(e.path, &e);
      auto it = recorded.find(e.path);
      const PlanEntry* rec = it != recorded.end() && it->second->kind == e.kind ? it->second : nullptr;
      switch (e.kind) {
      case EntryKind::file:
      case EntryKind::generated:
        decide_file(e, rec);
        break;
      case EntryKind::directory:
        decide_dir(e, rec);
        break;
      case EntryKind::symlink:
        decide_symlink(e, rec);
        break;
      case EntryKind::device:
        decide_device(e, rec);
        break;
      case EntryKind::bind:
        if (seen(e.path).state == Seen::State::absent)
          actions_.push_back({Action::Op::mount_point, &e, nullptr});
        break;
      }
    }
    // Entries nobody wants any more, children before their directories.
    std::vector<const PlanEntry*> gone;
    for (const PlanEntry& e : old.plan.entries) {
      auto it = desired.find(e.path);
      if (it == desired.end() || it->second->kind != e.kind) gone.push_back(&e);
    }
    std::reverse(gone.begin(), gone.end());
    for (const PlanEntry* e : gone)
      decide_removal(*e);
    order_actions();
  }

  /// The jail must work after every single step (a sync may be killed anywhere): directories first,
  /// then new contents (libraries before the programs that may need them), then the symlinks that
  /// may point at them, and only then what is no longer needed.
  void order_actions() {
    auto phase = [](const Action& a) {
      switch (a.op) {
      case Action::Op::fix_dir:
      case Action::Op::mount_point:
        return 0;
      case Action::Op::install:
      case Action::Op::install_beside:
      case Action::Op::device:
        return a.entry->role == EntryRole::executable ? 2 : 1;
      case Action::Op::symlink:
        return 3;
      case Action::Op::remove:
      case Action::Op::remove_dir:
        return a.entry ? 0 : 4; // a remove paired with fix_dir (--force) stays first
      case Action::Op::record:
        return 5;
      }
      return 5;
    };
    std::stable_sort(actions_.begin(), actions_.end(),
                     [&](const Action& x, const Action& y) { return phase(x) < phase(y); });
  }

  void decide_file(PlanEntry& e, const PlanEntry* rec) {
    Actual a = actual_file(e.path, rec);
    bool meta_ok = a.mode == e.mode && a.uid == e.uid && a.gid == e.gid;
    if (a.kind == Actual::Kind::file && a.digest == e.digest) {
      // Already what the host wants (also after a sync that was killed before its manifest).
      e.jail_stamp = a.stamp;
      if (!meta_ok) {
        actions_.push_back({Action::Op::install, &e, rec});
        change(ChangeKind::updated, e.path, "mode or owner");
      }
      return;
    }
    bool untouched = rec && a.kind == Actual::Kind::file && a.digest == rec->digest;
    if (a.kind == Actual::Kind::absent) {
      actions_.push_back({Action::Op::install, &e, rec});
      change(rec ? ChangeKind::restored : ChangeKind::added, e.path, rec ? "was missing from the jail" : "");
      return;
    }
    if (untouched) {
      actions_.push_back({Action::Op::install, &e, rec});
      change(ChangeKind::updated, e.path);
      return;
    }
    // The jail holds something we did not install: a local edit, or tampering.
    if (e.role == EntryRole::config && a.kind == Actual::Kind::file) {
      if (rec && rec->digest == e.digest) {
        e.jail_stamp = rec->jail_stamp;
        change(ChangeKind::kept_local, e.path, "edited in the jail, unchanged on the host");
      } else {
        actions_.push_back({Action::Op::install_beside, &e, rec});
        change(ChangeKind::conflict, e.path,
               "edited in the jail and changed on the host: the host's version is " + e.path +
                   ".jailbuild-new");
      }
      return;
    }
    if (options_.force == Force::yes) {
      actions_.push_back({Action::Op::install, &e, rec});
      change(ChangeKind::restored, e.path, "differed from what was installed; replaced (--force)");
    } else {
      if (rec) e.jail_stamp = rec->jail_stamp;
      change(ChangeKind::tampered, e.path,
             a.kind == Actual::Kind::file
                 ? "differs from what was installed; left in place (--force replaces it)"
                 : "is not a regular file; left in place (--force replaces it)");
    }
  }

  /// What the jail holds at an entry's path; nullopt, reported as tampering, when a parent is a
  /// symlink (never followed: it may lead anywhere on the host).
  std::optional<Seen> seen_unless_blocked(const PlanEntry& e) {
    Seen s = seen(e.path);
    if (s.state != Seen::State::blocked) return s;
    change(ChangeKind::tampered, e.path, "a parent is a symlink; left in place");
    return std::nullopt;
  }
  static std::optional<struct stat> status_of(const Seen& s) {
    if (s.state != Seen::State::present) return std::nullopt;
    return s.st;
  }

  void decide_dir(PlanEntry& e, const PlanEntry* rec) {
    std::optional<Seen> s = seen_unless_blocked(e);
    if (!s) return;
    std::optional<struct stat> st = status_of(*s);
    if (!st) {
      actions_.push_back({Action::Op::fix_dir, &e, rec});
      change(rec ? ChangeKind::restored : ChangeKind::added, e.path);
    } else if (!S_ISDIR(st->st_mode)) {
      // A jailed process replaced a directory it owned by a symlink (to /etc, say): never follow it.
      if (options_.force == Force::yes) {
        actions_.push_back({Action::Op::remove, &e, &e}); // entry set: stays before its fix_dir
        actions_.push_back({Action::Op::fix_dir, &e, rec});
        change(ChangeKind::restored, e.path, "was not a directory; replaced (--force)");
      } else {
        change(ChangeKind::tampered, e.path,
               "should be a directory but is not; left in place (--force replaces it)");
      }
    } else if ((st->st_mode & 07777) != e.mode || st->st_uid != e.uid || st->st_gid != e.gid) {
      actions_.push_back({Action::Op::fix_dir, &e, rec});
      change(ChangeKind::updated, e.path, "mode or owner");
    }
  }

  void decide_symlink(PlanEntry& e, const PlanEntry* rec) {
    std::optional<Seen> s = seen_unless_blocked(e);
    if (!s) return;
    std::optional<struct stat> st = status_of(*s);
    if (st && S_ISLNK(st->st_mode) && s->link == e.source) return;
    if (st && S_ISDIR(st->st_mode)) {
      change(ChangeKind::tampered, e.path, "a directory stands where a symlink should be; left in place");
      return;
    }
    actions_.push_back({Action::Op::symlink, &e, rec});
    if (!st)
      change(rec ? ChangeKind::restored : ChangeKind::added, e.path, "-> " + e.source);
    else
      change(ChangeKind::updated, e.path, "-> " + e.source);
  }

  void decide_device(PlanEntry& e, const PlanEntry* rec) {
    std::optional<Seen> s = seen_unless_blocked(e);
    if (!s) return;
    std::optional<struct stat> st = status_of(*s);
    bool right = st && (e.device_type == DeviceType::block ? S_ISBLK(st->st_mode) : S_ISCHR(st->st_mode)) &&
                 major(st->st_rdev) == e.major && minor(st->st_rdev) == e.minor &&
                 (st->st_mode & 07777) == e.mode && st->st_uid == e.uid && st->st_gid == e.gid &&
                 st->st_nlink == 1;
    if (right) return;
    actions_.push_back({Action::Op::device, &e, rec});
    change(st ? ChangeKind::updated : (rec ? ChangeKind::restored : ChangeKind::added), e.path);
  }

  void decide_removal(const PlanEntry& e) {
    Seen s = seen(e.path);
    if (s.state != Seen::State::present) return; // absent, or under a planted symlink: nothing of ours
    std::optional<struct stat> st = s.st;
    switch (e.kind) {
    case EntryKind::file:
    case EntryKind::generated: {
      Actual a = actual_file(e.path, &e);
      if (a.kind == Actual::Kind::file && a.digest == e.digest) {
        actions_.push_back({Action::Op::remove, nullptr, &e});
        change(ChangeKind::removed, e.path);
      } else {
        change(ChangeKind::conflict, e.path, "no longer needed, but changed in the jail; left in place");
      }
      break;
    }
    case EntryKind::symlink:
      if (S_ISLNK(st->st_mode)) {
        actions_.push_back({Action::Op::remove, nullptr, &e});
        change(ChangeKind::removed, e.path);
      }
      break;
    case EntryKind::device:
      if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
        actions_.push_back({Action::Op::remove, nullptr, &e});
        change(ChangeKind::removed, e.path);
      }
      break;
    case EntryKind::directory:
    case EntryKind::bind:
      if (S_ISDIR(st->st_mode)) {
        actions_.push_back({Action::Op::remove_dir, nullptr, &e});
        change(ChangeKind::removed, e.path);
      }
      break;
    }
  }

  /// Performs the actions in their order; returns whether anything was done.
  bool apply(const HostRoot& host) {
    size_t applied = 0;
    for (const Action& a : actions_) {
      if (options_.kill_after_actions && applied++ == options_.kill_after_actions) ::raise(SIGKILL);
      switch (a.op) {
      case Action::Op::fix_dir:
        jail_.make_dir(rel_of(a.entry->path), a.entry->mode, a.entry->uid, a.entry->gid);
        break;
      case Action::Op::symlink:
        jail_.make_symlink(rel_of(a.entry->path), a.entry->source);
        break;
      case Action::Op::device:
        jail_.make_device(rel_of(a.entry->path),
                          a.entry->device_type == DeviceType::block ? DeviceKind::block
                                                                    : DeviceKind::character,
                          a.entry->major, a.entry->minor, a.entry->mode, a.entry->uid, a.entry->gid);
        break;
      case Action::Op::mount_point: {
        struct stat st;
        bool dir = ::stat(host.real(a.entry->source).c_str(), &st) != 0 || S_ISDIR(st.st_mode);
        if (dir)
          jail_.make_dir(rel_of(a.entry->path), 0755, 0, 0);
        else
          jail_.write_file(rel_of(a.entry->path), "", 0644, 0, 0);
        break;
      }
      case Action::Op::install:
        install(host, *a.entry, a.entry->path);
        break;
      case Action::Op::install_beside: {
        PlanEntry beside = *a.entry;
        install(host, beside, a.entry->path + ".jailbuild-new");
        if (a.old) a.entry->jail_stamp = a.old->jail_stamp;
        break;
      }
      case Action::Op::remove:
        jail_.remove(rel_of(a.old->path));
        break;
      case Action::Op::remove_dir:
        try {
          jail_.remove_dir(rel_of(a.old->path));
        } catch (const Error&) {
          // Not empty: site files or logs live there. Leave it; it is no longer ours.
          report_.warnings.push_back(a.old->path + ": no longer needed but not empty; left in place");
        }
        break;
      case Action::Op::record:
        break;
      }
    }
    return !actions_.empty();
  }

  void install(const HostRoot& host, PlanEntry& e, const std::string& where) {
    std::string rel = rel_of(where);
    if (e.kind == EntryKind::generated) {
      jail_.write_file(rel, e.content, e.mode, e.uid, e.gid);
    } else {
      CopyResult r = jail_.copy_file(rel, host.real(e.source), e.mode, e.uid, e.gid, CopyMethod::copy);
      if (r.digest != e.digest) throw Error(e.source, "changed on the host while syncing; run sync again");
    }
    if (auto st = jail_.lstat(rel)) e.jail_stamp = stamp_of(*st);
  }

  static bool same_stamps(const Plan& plan, const std::vector<FileStamp>& before) {
    for (size_t i = 0; i < plan.entries.size(); ++i)
      if (!(plan.entries[i].jail_stamp == before[i])) return false;
    return true;
  }

  static bool same_entries(const Plan& a, const Plan& b) {
    if (a.entries.size() != b.entries.size()) return false;
    for (size_t i = 0; i < a.entries.size(); ++i)
      if (!(a.entries[i] == b.entries[i])) return false;
    return a.users == b.users;
  }

  std::unordered_map<std::string, Listing> listings_;
  SyncOptions options_;
  JailFs jail_;
  SyncReport report_;
  std::vector<Action> actions_;
};

} // namespace

SyncReport sync_jail(const std::string& dir, const SyncOptions& options) {
  std::string path = normalize_path(dir);
  return Syncer(path, options).run();
}

} // namespace jailbuild
