// SPDX-License-Identifier: MIT
// Every rule by which create and sync change a jail. Nothing here reads or writes a file: the
// listing says what the jail holds, and the actions say what the applier must do.
#include "jailbuild/decide.hpp"

#include "jailbuild/hostfs.hpp"

#include <algorithm>
#include <sys/sysmacros.h>

namespace jailbuild {

void JailListing::add(std::string_view path, const struct stat& st, std::string link) {
  std::string p(path);
  Dir& dir = dirs[dirname_of(p)];
  dir.state = Dir::State::present;
  std::string name = p.substr(p.rfind('/') + 1);
  dir.entries.insert_or_assign(name, JailFs::Listed{name, st, std::move(link)});
}

Seen seen(const JailListing& jail, std::string_view path) {
  static const JailFs::Listed root_entry{};
  Seen out;
  if (path == "/") {
    out.state = Seen::State::present;
    out.entry = &root_entry; // only the caller's jail.root matters for "/"
    return out;
  }
  std::size_t slash = path.rfind('/');
  auto d = jail.dirs.find(slash == 0 ? std::string_view("/") : path.substr(0, slash));
  if (d == jail.dirs.end() || d->second.state == JailListing::Dir::State::absent) return out;
  switch (d->second.state) {
  case JailListing::Dir::State::behind_symlink:
    out.state = Seen::State::behind_symlink;
    return out;
  case JailListing::Dir::State::behind_non_directory:
    out.state = Seen::State::behind_non_directory;
    return out;
  case JailListing::Dir::State::absent: // returned above
  case JailListing::Dir::State::present:
    break;
  }
  auto e = d->second.entries.find(path.substr(slash + 1));
  if (e == d->second.entries.end()) return out;
  out.state = Seen::State::present;
  out.entry = &e->second;
  return out;
}

bool unchanged_since_recorded(const PlanEntry& recorded, const struct stat& st) {
  return (recorded.kind == EntryKind::file || recorded.kind == EntryKind::generated) && S_ISREG(st.st_mode) &&
         st.st_nlink == 1 && !recorded.digest.empty() && recorded.jail_stamp == stamp_of(st);
}

namespace {

/// Directories and bind mount points are both directories in the jail.
bool is_dir_kind(EntryKind kind) {
  return kind == EntryKind::directory || kind == EntryKind::bind;
}

class Decider {
public:
  Decider(const Plan& recorded, const Plan& desired, const JailListing& jail, Differences differences)
      : recorded_plan_(recorded), desired_(desired), jail_(jail), differences_(differences) {
    recorded_.reserve(recorded.entries.size());
    for (const PlanEntry& e : recorded.entries)
      recorded_.emplace(e.path, &e);
  }

  Decision run() {
    std::unordered_map<std::string_view, const PlanEntry*> wanted;
    wanted.reserve(desired_.entries.size());
    for (std::size_t i = 0; i < desired_.entries.size(); ++i) {
      const PlanEntry& e = desired_.entries[i];
      wanted.emplace(e.path, &e);
      auto it = recorded_.find(e.path);
      const PlanEntry* rec = it != recorded_.end() && it->second->kind == e.kind ? it->second : nullptr;
      switch (e.kind) {
      case EntryKind::file:
      case EntryKind::generated:
        decide_file(i, rec);
        break;
      case EntryKind::directory:
        decide_dir(i, rec);
        break;
      case EntryKind::symlink:
        decide_symlink(i, rec);
        break;
      case EntryKind::device:
        decide_device(i, rec);
        break;
      case EntryKind::bind:
        // Only the mount point, and only when it is missing: `jailbuild mount` does the mounting,
        // and once it has, this path shows the host source, whose owner and mode are not ours.
        if (seen(jail_, e.path).state == Seen::State::absent) add(Action::Op::mount_point, i, rec);
        break;
      }
    }
    // Entries nobody wants any more, children before their directories. A recorded file, symlink or
    // device whose path the plan now wants as something else is not removed: the new entry replaces
    // it atomically, and removing it after that would remove the new one.
    for (auto it = recorded_plan_.entries.rbegin(); it != recorded_plan_.entries.rend(); ++it) {
      auto w = wanted.find(it->path);
      if (w == wanted.end() || (is_dir_kind(it->kind) && !is_dir_kind(w->second->kind))) decide_removal(*it);
    }
    for (const std::string& path : jail_.leftovers) {
      out_.actions.push_back(
          {Action::Op::remove_leftover, Phase::directories, path, Action::none, nullptr, {}});
      change(ChangeKind::removed, path, "left by an interrupted jailbuild run");
    }
    std::stable_sort(out_.actions.begin(), out_.actions.end(),
                     [](const Action& x, const Action& y) { return x.phase < y.phase; });
    return std::move(out_);
  }

private:
  const PlanEntry& entry(std::size_t i) const { return desired_.entries[i]; }

  void change(ChangeKind kind, const std::string& path, std::string detail = {}) {
    out_.changes.push_back({kind, path, std::move(detail)});
  }

  Phase phase_of(Action::Op op, std::size_t i) const {
    switch (op) {
    case Action::Op::make_dir:
    case Action::Op::replace_by_dir:
    case Action::Op::mount_point:
    case Action::Op::remove_leftover:
      return Phase::directories;
    case Action::Op::install:
    case Action::Op::install_beside:
    case Action::Op::device:
      return entry(i).role == EntryRole::executable ? Phase::programs : Phase::contents;
    case Action::Op::symlink:
      return Phase::links;
    case Action::Op::remove:
    case Action::Op::remove_dir:
      return Phase::removals;
    case Action::Op::record:
    case Action::Op::keep_absent:
      return Phase::records;
    }
    return Phase::records;
  }

  void add(Action::Op op, std::size_t i, const PlanEntry* rec, FileStamp stamp = {}) {
    out_.actions.push_back({op, phase_of(op, i), entry(i).path, i, rec, stamp});
  }

  /// The manifest keeps `stamp` for entry i; an action only when that changes what it holds.
  void record(std::size_t i, const FileStamp& stamp) {
    if (!(entry(i).jail_stamp == stamp)) add(Action::Op::record, i, nullptr, stamp);
  }

  /// The digest of the regular file the jail holds at `path`; `rec` is the recorded entry there.
  std::string_view jail_digest(const std::string& path, const PlanEntry* rec, const struct stat& st) const {
    if (rec && unchanged_since_recorded(*rec, st)) return rec->digest;
    auto it = jail_.digests.find(path);
    return it == jail_.digests.end() ? std::string_view() : std::string_view(it->second);
  }

  /// `s` itself; nullptr, reported as tampering, when a parent of `path` is a symlink (never
  /// followed: it may lead anywhere on the host) or something else than a directory.
  const Seen* unless_blocked(const Seen& s, const std::string& path) {
    switch (s.state) {
    case Seen::State::absent:
    case Seen::State::present:
      return &s;
    case Seen::State::behind_symlink:
      change(ChangeKind::tampered, path, "a parent is a symlink; left in place");
      return nullptr;
    case Seen::State::behind_non_directory:
      change(ChangeKind::tampered, path, "a parent is not a directory; left in place");
      return nullptr;
    }
    return nullptr;
  }

  /// The end of a "left in place" detail: what would replace it.
  std::string left_in_place() const {
    switch (differences_) {
    case Differences::report:
      return "; left in place (--force replaces it)";
    case Differences::replace:
      return "; left in place";
    case Differences::enforce:
      return "; jailbuild never writes through it: remove it, then run create again";
    }
    return "";
  }

  void decide_file(std::size_t i, const PlanEntry* rec) {
    const PlanEntry& e = entry(i);
    Seen s = seen(jail_, e.path);
    if (!unless_blocked(s, e.path)) return;
    if (s.state == Seen::State::absent) {
      if (rec && is_conffile(e) && is_conffile(*rec)) {
        keep_deleted(i, *rec);
        return;
      }
      add(Action::Op::install, i, rec);
      change(rec ? ChangeKind::restored : ChangeKind::added, e.path, rec ? "was missing from the jail" : "");
      return;
    }
    const struct stat& st = s.entry->st;
    if (S_ISDIR(st.st_mode)) {
      change(ChangeKind::tampered, e.path, "a directory stands where a file should be; left in place");
      return;
    }
    if (S_ISREG(st.st_mode)) {
      std::string_view actual = jail_digest(e.path, rec, st);
      if (rec && kept_absent(*rec) && actual != e.digest && differences_ != Differences::enforce) {
        // The admin put a file of their own where they had deleted ours: a local edit from now on
        // (the manifest vouches for no stamp of it), no longer kept absent.
        add(Action::Op::record, i, nullptr, FileStamp{});
        change(ChangeKind::kept_local, e.path, "put back in the jail with content of its own");
        return;
      }
      if (!actual.empty() && actual == e.digest) {
        // Already what the host wants (also after a run that was killed before its manifest).
        drop_stale_beside(e);
        if ((st.st_mode & 07777) != e.mode || st.st_uid != e.uid || st.st_gid != e.gid) {
          add(Action::Op::install, i, rec);
          change(ChangeKind::updated, e.path, "mode or owner");
        } else {
          record(i, stamp_of(st));
        }
        return;
      }
      if (rec && actual == rec->digest) { // untouched since installed: the host changed it
        drop_stale_beside(e);
        add(Action::Op::install, i, rec);
        change(ChangeKind::updated, e.path);
        return;
      }
      // The jail holds something we did not install: a local edit, or tampering.
      if (e.role == EntryRole::config && differences_ != Differences::enforce) {
        if (rec && rec->digest == e.digest) {
          record(i, rec->jail_stamp);
          // The host's version, written beside it by an earlier run, still waits: the conflict is
          // not resolved until the admin takes it or removes it, and every run says so (exit 1).
          if (regular_beside(e))
            change(ChangeKind::conflict, e.path,
                   "unresolved: the host's version waits in " + e.path + ".jailbuild-new; take it (mv " +
                       e.path + ".jailbuild-new " + e.path + ") or remove it");
          else
            change(ChangeKind::kept_local, e.path, "edited in the jail, unchanged on the host");
        } else {
          add(Action::Op::install_beside, i, rec, rec ? rec->jail_stamp : FileStamp{});
          change(ChangeKind::conflict, e.path,
                 "edited in the jail and changed on the host: the host's version is " + e.path +
                     ".jailbuild-new");
        }
        return;
      }
    }
    if (differences_ != Differences::report) {
      if (e.role == EntryRole::config) drop_stale_beside(e);
      add(Action::Op::install, i, rec);
      change(ChangeKind::restored, e.path,
             differences_ == Differences::replace ? "differed from what was installed; replaced (--force)"
                                                  : "differed from what was installed; replaced");
      return;
    }
    if (rec) record(i, rec->jail_stamp);
    change(ChangeKind::tampered, e.path,
           S_ISREG(st.st_mode) ? "differs from what was installed" + left_in_place()
                               : "is " + type_name(st.st_mode) + ", not a regular file" + left_in_place());
  }

  /// The FILE.jailbuild-new an earlier conflict wrote beside a configuration entry, when it is
  /// still there as a regular file (the listing of the entry's directory holds it: no extra read).
  const JailFs::Listed* regular_beside(const PlanEntry& e) const {
    if (e.role != EntryRole::config) return nullptr;
    Seen s = seen(jail_, e.path + ".jailbuild-new");
    return s.state == Seen::State::present && S_ISREG(s.entry->st.st_mode) ? s.entry : nullptr;
  }

  /// The jail's file becomes (or already is) the host's version: a FILE.jailbuild-new beside it is
  /// stale, the conflict resolved (the admin took it with cp, or create re-installed FILE). Removed
  /// when it is root's single-link file, as jailbuild wrote it: it only ever held a host file's
  /// copy, nothing of the admin's is lost. Anything else there is left alone (and audit names it).
  void drop_stale_beside(const PlanEntry& e) {
    const JailFs::Listed* beside = regular_beside(e);
    if (!beside || beside->st.st_uid != 0 || beside->st.st_nlink != 1) return;
    std::string path = e.path + ".jailbuild-new";
    out_.actions.push_back({Action::Op::remove, Phase::removals, path, Action::none, nullptr, {}});
    change(ChangeKind::removed, path, "stale: " + e.path + " holds the host's version now");
  }

  /// A conffile recorded as installed is gone from the jail: the admin deleted it. dpkg keeps a
  /// removed conffile removed through every upgrade (only --force-confmiss brings it back), and
  /// admins rely on it (rm sites-enabled/default); so do we, under --force and create too. Said when
  /// first seen and when the host's version changes, then silent: a no-op sync stays a no-op.
  void keep_deleted(std::size_t i, const PlanEntry& rec) {
    const PlanEntry& e = entry(i);
    const bool link = e.kind == EntryKind::symlink;
    const bool host_changed = link ? rec.source != e.source : !(rec.source_stamp == e.source_stamp);
    if (!rec.kept_absent)
      change(ChangeKind::removed_local, e.path,
             "deleted in the jail; kept deleted, as dpkg keeps a removed conffile (" +
                 (link ? "ln -s " + e.source + " " + e.path : "copy the host's " + e.source + " there") +
                 " to have it back)");
    else if (host_changed)
      change(ChangeKind::removed_local, e.path, "changed on the host; still kept deleted in the jail");
    if (!e.kept_absent) add(Action::Op::keep_absent, i, &rec);
  }

  void decide_dir(std::size_t i, const PlanEntry* rec) {
    const PlanEntry& e = entry(i);
    Seen s = seen(jail_, e.path);
    if (!unless_blocked(s, e.path)) return;
    if (s.state == Seen::State::absent) {
      add(Action::Op::make_dir, i, rec);
      change(rec ? ChangeKind::restored : ChangeKind::added, e.path);
      return;
    }
    const struct stat& st = e.path == "/" ? jail_.root : s.entry->st;
    if (!S_ISDIR(st.st_mode)) {
      // A jailed process replaced a directory it owned by a symlink (to /etc, say): never follow it.
      if (differences_ == Differences::replace) {
        add(Action::Op::replace_by_dir, i, rec);
        change(ChangeKind::restored, e.path, "was " + type_name(st.st_mode) + "; replaced (--force)");
      } else {
        change(ChangeKind::tampered, e.path,
               "should be a directory but is " + type_name(st.st_mode) + left_in_place());
      }
    } else if ((st.st_mode & 07777) != e.mode || st.st_uid != e.uid || st.st_gid != e.gid) {
      add(Action::Op::make_dir, i, rec);
      change(ChangeKind::updated, e.path, "mode or owner");
    }
  }

  void decide_symlink(std::size_t i, const PlanEntry* rec) {
    const PlanEntry& e = entry(i);
    Seen s = seen(jail_, e.path);
    if (!unless_blocked(s, e.path)) return;
    if (s.state == Seen::State::absent && rec && is_conffile(e) && is_conffile(*rec)) {
      keep_deleted(i, *rec); // a2dissite's work: sites-enabled/default stays gone
      return;
    }
    if (s.state == Seen::State::present) {
      const JailFs::Listed& l = *s.entry;
      if (S_ISLNK(l.st.st_mode) && l.link == e.source) {
        if (e.kept_absent) add(Action::Op::record, i, nullptr); // put back by the admin: ours again
        return;
      }
      if (S_ISDIR(l.st.st_mode)) {
        change(ChangeKind::tampered, e.path, "a directory stands where a symlink should be; left in place");
        return;
      }
    }
    add(Action::Op::symlink, i, rec);
    if (s.state == Seen::State::absent)
      change(rec ? ChangeKind::restored : ChangeKind::added, e.path, "-> " + e.source);
    else
      change(ChangeKind::updated, e.path, "-> " + e.source);
  }

  void decide_device(std::size_t i, const PlanEntry* rec) {
    const PlanEntry& e = entry(i);
    Seen s = seen(jail_, e.path);
    if (!unless_blocked(s, e.path)) return;
    if (s.state == Seen::State::present) {
      const struct stat& st = s.entry->st;
      bool right = (e.device_type == DeviceType::block ? S_ISBLK(st.st_mode) : S_ISCHR(st.st_mode)) &&
                   major(st.st_rdev) == e.major && minor(st.st_rdev) == e.minor &&
                   (st.st_mode & 07777) == e.mode && st.st_uid == e.uid && st.st_gid == e.gid &&
                   st.st_nlink == 1;
      if (right) return;
      if (S_ISDIR(st.st_mode)) {
        change(ChangeKind::tampered, e.path,
               "a directory stands where a device node should be; left in place");
        return;
      }
    }
    add(Action::Op::device, i, rec);
    change(s.state == Seen::State::present ? ChangeKind::updated
                                           : (rec ? ChangeKind::restored : ChangeKind::added),
           e.path);
  }

  void decide_removal(const PlanEntry& e) {
    Seen s = seen(jail_, e.path);
    if (s.state != Seen::State::present) return; // absent, or under a planted symlink: nothing of ours
    const struct stat& st = e.path == "/" ? jail_.root : s.entry->st;
    auto remove = [&](Action::Op op) {
      out_.actions.push_back({op, Phase::removals, e.path, Action::none, &e, {}});
      change(ChangeKind::removed, e.path);
    };
    switch (e.kind) {
    case EntryKind::file:
    case EntryKind::generated:
      if (S_ISREG(st.st_mode) && jail_digest(e.path, &e, st) == e.digest)
        remove(Action::Op::remove);
      else
        change(ChangeKind::conflict, e.path, "no longer needed, but changed in the jail; left in place");
      break;
    case EntryKind::symlink:
      if (S_ISLNK(st.st_mode)) remove(Action::Op::remove);
      break;
    case EntryKind::device:
      if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) remove(Action::Op::remove);
      break;
    case EntryKind::directory:
    case EntryKind::bind:
      if (S_ISDIR(st.st_mode) && e.path != "/") remove(Action::Op::remove_dir);
      break;
    }
  }

  const Plan& recorded_plan_;
  const Plan& desired_;
  const JailListing& jail_;
  Differences differences_;
  std::unordered_map<std::string_view, const PlanEntry*> recorded_;
  Decision out_;
};

} // namespace

bool is_conffile(const PlanEntry& e) {
  if (e.secret) return false;
  if (e.kind == EntryKind::file) return e.role == EntryRole::config;
  if (e.kind != EntryKind::symlink || !e.path.starts_with("/etc/")) return false;
  // Where the link leads, lexically (the jail's own tree is never looked at here).
  const std::string target = e.source.starts_with("/")
                                 ? normalize_path(e.source)
                                 : normalize_path(e.path.substr(0, e.path.rfind('/') + 1) + e.source);
  return target.starts_with("/etc/");
}

std::string_view to_string(ChangeKind kind) {
  switch (kind) {
  case ChangeKind::added:
    return "added";
  case ChangeKind::updated:
    return "updated";
  case ChangeKind::removed:
    return "removed";
  case ChangeKind::restored:
    return "restored";
  case ChangeKind::kept_local:
    return "kept-local";
  case ChangeKind::conflict:
    return "conflict";
  case ChangeKind::tampered:
    return "tampered";
  case ChangeKind::removed_local:
    return "removed-local";
  }
  return "?";
}

Decision decide(const Plan& recorded, const Plan& desired, const JailListing& jail, Differences differences) {
  return Decider(recorded, desired, jail, differences).run();
}

} // namespace jailbuild
