// SPDX-License-Identifier: MIT
// `jailbuild unpack`: extraction of an archive we must assume hostile. libarchive only parses
// (unpack_read.cpp); every decision (which names, types, modes, links and devices are acceptable) is
// made here, and every write goes through JailFs, which never follows a symlink inside the jail: a
// symlink the archive made earlier cannot redirect a later write out of the jail. The steps: read and
// check the manifest, which must come first; check that this host can run the jail; create the
// directory; extract each entry, verifying content against the manifest's digests; check nothing
// listed is missing; write the manifest with the unpack recorded; register the jail.
#include "jailbuild/pack.hpp"

#include "jailbuild/assemble.hpp"
#include "jailbuild/decide.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/fd.hpp"
#include "jailbuild/jailfs.hpp"
#include "jailbuild/manifest.hpp"
#include "jailbuild/profile.hpp"
#include "jailbuild/provenance.hpp"
#include "jailbuild/registry.hpp"
#include "pack_internal.hpp"
#include "pack_module.hpp"
#include "unpack_internal.hpp"

#include <boost/filesystem.hpp>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <optional>
#include <set>
#include <sys/stat.h>
#include <unistd.h>
#include <unordered_map>
#include <unordered_set>

namespace jailbuild {

namespace {

std::string parent_of(const std::string& rel) {
  std::size_t slash = rel.rfind('/');
  return slash == std::string::npos ? "" : rel.substr(0, slash);
}

/// Where unpack marks the directory it is filling, before anything of the archive lands there:
/// inside .jailbuild/, which no archive entry may touch, root-only.
constexpr const char* unpacking_mark = ".jailbuild/unpacking";

/// Whether DIR holds what an unpack that was killed left: its mark, or (killed before it could
/// write the mark) nothing but an empty .jailbuild/ of root's. Only then does a new unpack remove
/// what is there; a jail unpacked completely has no mark, a directory of the admin's neither.
std::optional<bool> interrupted_unpack(const std::string& dir) {
  struct stat meta {
  }, mark{};
  const std::string meta_dir = dir + "/" + manifest_dir;
  if (::lstat(meta_dir.c_str(), &meta) != 0 || !S_ISDIR(meta.st_mode) || meta.st_uid != 0)
    return std::nullopt;
  const std::string mark_file = dir + "/" + unpacking_mark;
  if (::lstat(mark_file.c_str(), &mark) == 0 && S_ISREG(mark.st_mode) && mark.st_uid == 0) {
    std::ifstream in(mark_file);
    std::string made;
    in >> made;
    return made == "made"; // whether that unpack made DIR, so that a failure removes it
  }
  if (!directory_is_empty(meta_dir)) return std::nullopt;
  std::size_t entries = 0;
  for (boost::filesystem::directory_iterator it(dir), end; it != end; ++it)
    ++entries;
  if (entries == 1) return false;
  return std::nullopt;
}

/// The directory being unpacked into: created here (and removed on failure) or an existing empty
/// one (emptied again on failure), or what a killed unpack left, emptied first. Marked as being
/// unpacked until keep(), so that a killed unpack can be told from anything else.
class Target {
public:
  Target(const std::string& dir, std::vector<std::string>& warnings) : dir_(dir) {
    if (::mkdir(dir_.c_str(), 0755) == 0) {
      made_ = true;
      if (::chown(dir_.c_str(), 0, 0) != 0 || ::chmod(dir_.c_str(), 0755) != 0)
        throw system_error(dir_, "setting owner and mode", errno);
    } else if (errno != EEXIST) {
      throw system_error(dir_, "creating", errno);
    } else if (std::optional<Error> why = untrusted_jail(JailFs(dir_))) {
      throw *why; // not root's alone: nothing of it is emptied, chowned or read
    } else if (!directory_is_empty(dir_)) {
      std::optional<bool> made = interrupted_unpack(dir_);
      if (!made) throw Error(dir_, "exists and is not empty: unpack only into a new or empty directory");
      made_ = *made;
      empty();
      warnings.push_back(dir_ + ": removed what an interrupted unpack left, to start again");
    }
  }
  ~Target() {
    if (done_) return;
    try {
      if (made_)
        remove_dir_tree(dir_);
      else
        empty();
    } catch (const Error&) {
      // What is left keeps its mark: the next unpack into DIR removes it, or says why it cannot.
    }
  }
  Target(const Target&) = delete;
  Target& operator=(const Target&) = delete;

  /// Marks DIR as being unpacked, before anything else is written there.
  void mark(JailFs& jail) {
    jail.make_dir(manifest_dir, 0700, 0, 0);
    jail.write_file(unpacking_mark, made_ ? "made\n" : "emptied\n", 0600, 0, 0, Fsync::yes);
  }
  /// The jail is complete and registered: it stays, unmarked.
  void keep(JailFs& jail) {
    jail.remove(unpacking_mark);
    done_ = true;
  }

private:
  /// Removes everything in DIR, through fds only (remove_tree_at): the jail's /tmp was open to every
  /// local user while the archive was extracted, and a path-based removal (boost's remove_all) let
  /// one swap a directory for a symlink and have root delete host files through it.
  void empty() { JailFs(dir_).remove_tree(""); }

  std::string dir_;
  bool made_ = false;
  bool done_ = false;
};

/// The extraction of the entries after the manifest.
class Extractor {
public:
  Extractor(ArchiveReader& reader, JailFs& jail, Manifest& manifest, const UnpackLimits& limits,
            uint64_t entries)
      : reader_(reader), jail_(jail), manifest_(manifest), limits_(limits), entries_(entries) {
    for (PlanEntry& e : manifest.plan.entries)
      plan_.emplace(e.path, &e);
    dirs_.insert("");
  }

  void run() {
    while (archive_entry* e = reader_.next())
      extract(e);
    std::vector<std::string> missing;
    for (const PlanEntry& e : manifest_.plan.entries)
      // A conffile the packing host's admin deleted is not in the archive; only a conffile may be
      // marked so (kept_absent()), never a program or library the jail needs.
      if (e.path != "/" && !kept_absent(e) && !seen_.count(e.path.substr(1))) {
        // A secret pack left out (a private key): the jail needs it, but from this host, not the
        // archive. Only a file may be; its absence takes nothing the jail runs with from it.
        if (e.secret && e.kind == EntryKind::file && e.role != EntryRole::executable &&
            e.role != EntryRole::library)
          secrets_.push_back(e.path);
        else
          missing.push_back(e.path);
      }
    for (const auto* digests :
         {&manifest_.provenance->extra_digests, &manifest_.provenance->unverified_digests})
      for (const auto& [path, digest] : *digests)
        if (!seen_.count(path.substr(1))) missing.push_back(path);
    if (!missing.empty())
      throw Error(reader_.path(), "truncated or incomplete archive: " + std::to_string(missing.size()) +
                                      " entries of its manifest are missing, first " + missing.front());
  }

  uint64_t entries() const { return entries_; }
  /// The secrets the archive left out (pack without --include-secrets).
  const std::vector<std::string>& secrets() const { return secrets_; }
  uint64_t bytes() const { return bytes_; }

private:
  [[noreturn]] void refuse(const std::string& rel, const std::string& why) const {
    throw Error(reader_.path(), rel + ": " + why);
  }

  PlanEntry* planned(const std::string& rel) const {
    auto it = plan_.find("/" + rel);
    return it == plan_.end() ? nullptr : it->second;
  }

  /// The digest the manifest gives a regular file: the plan's, else the provenance's lists of the rest.
  const std::string& expected_digest(const std::string& rel) const {
    if (const PlanEntry* p = planned(rel);
        p && (p->kind == EntryKind::file || p->kind == EntryKind::generated))
      return p->digest;
    for (const auto* digests :
         {&manifest_.provenance->extra_digests, &manifest_.provenance->unverified_digests})
      if (auto it = digests->find("/" + rel); it != digests->end()) return it->second;
    refuse(rel, "a file its manifest does not list");
  }

  void expect_kind(const std::string& rel, EntryKind kind) const {
    const PlanEntry* p = planned(rel);
    if (!p) return;
    bool ok = p->kind == kind || (kind == EntryKind::file && p->kind == EntryKind::generated) ||
              (kind == EntryKind::directory && p->kind == EntryKind::bind);
    if (!ok) refuse(rel, "the manifest says this is a " + std::string(to_string(p->kind)));
  }

  void extract(archive_entry* e) {
    if (++entries_ > limits_.max_entries)
      refuse(archive_entry_pathname(e) ? archive_entry_pathname(e) : "?",
             "more than " + std::to_string(limits_.max_entries) +
                 " entries (raise --max-entries if this is expected)");
    const std::string rel = checked_name(reader_, archive_entry_pathname(e), "path");
    if (rel.empty()) return; // "./": the root, made by unpack itself
    if (rel == manifest_dir || rel.starts_with(std::string(manifest_dir) + "/"))
      refuse(rel, "reserved for the manifest, which came first");
    if (!seen_.insert(rel).second) refuse(rel, "appears twice in the archive");
    if (!dirs_.count(parent_of(rel))) refuse(rel, "its directory is not an earlier entry of the archive");

    const mode_t mode = archive_entry_mode(e);
    if (mode & (S_ISUID | S_ISGID)) refuse(rel, "setuid or setgid, which no jailbuild archive has");
    const mode_t perm = mode & 07777;
    const la_int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
    if (uid < 0 || gid < 0 || uid >= 0xffffffff || gid >= 0xffffffff) refuse(rel, "an owner out of range");
    const auto owner = static_cast<uid_t>(uid);
    const auto group = static_cast<gid_t>(gid);

    if (const char* link = archive_entry_hardlink(e)) return extract_hardlink(e, rel, link);
    switch (archive_entry_filetype(e)) {
    case AE_IFDIR:
      expect_kind(rel, EntryKind::directory);
      jail_.make_dir(rel, perm, owner, group);
      dirs_.insert(rel);
      return;
    case AE_IFREG:
      return extract_file(e, rel, perm, owner, group);
    case AE_IFLNK: {
      const char* target = archive_entry_symlink(e);
      if (!target || !*target) refuse(rel, "a symlink without a target");
      expect_kind(rel, EntryKind::symlink);
      if (const PlanEntry* p = planned(rel); p && p->source != target)
        refuse(rel, std::string("a symlink to ") + target + ", the manifest says " + p->source);
      // Stored as text and never resolved by jailbuild; inside the chroot it resolves in the jail.
      jail_.make_symlink(rel, target);
      return;
    }
    case AE_IFCHR: {
      auto major_number = static_cast<unsigned>(archive_entry_rdevmajor(e));
      auto minor_number = static_cast<unsigned>(archive_entry_rdevminor(e));
      if (!device_allowed("/" + rel, DeviceType::character, major_number, minor_number)) {
        const std::string numbers = std::to_string(major_number) + "," + std::to_string(minor_number);
        for (const char* name : {"null", "zero", "full", "random", "urandom", "tty"})
          if (device_allowed(std::string("/dev/") + name, DeviceType::character, major_number, minor_number))
            refuse(rel, "character device " + numbers + " may only be /dev/" + name);
        refuse(rel, "character device " + numbers +
                        " is not one a jail may hold (null, zero, full, random, urandom, tty)");
      }
      expect_kind(rel, EntryKind::device);
      if (const PlanEntry* p = planned(rel); p && (p->major != major_number || p->minor != minor_number))
        refuse(rel, "device numbers differ from the manifest's");
      jail_.make_device(rel, DeviceKind::character, major_number, minor_number, perm, owner, group);
      return;
    }
    case AE_IFBLK:
      refuse(rel, "a block device, which a jail never holds");
    default:
      refuse(rel, "a FIFO, socket or unknown entry type, which a jail archive never holds");
    }
  }

  void extract_file(archive_entry* e, const std::string& rel, mode_t perm, uid_t owner, gid_t group) {
    if (!archive_entry_size_is_set(e) || archive_entry_size(e) < 0) refuse(rel, "a file without a size");
    if (archive_entry_sparse_count(e) > 0) refuse(rel, "a sparse file, which pack never writes");
    const auto size = static_cast<uint64_t>(archive_entry_size(e));
    if (size > limits_.max_bytes - bytes_)
      refuse(rel, "the archive holds more than " + std::to_string(limits_.max_bytes) +
                      " bytes of files (raise --max-bytes if this is expected)");
    bytes_ += size;
    expect_kind(rel, EntryKind::file);
    const std::string& want = expected_digest(rel);
    uint64_t got = 0;
    auto next = [&]() -> std::string_view {
      std::string_view block = reader_.block(rel);
      got += block.size();
      if (got > size) refuse(rel, "more content than its header says");
      return block;
    };
    CopyResult written = jail_.write_stream(rel, next, perm, owner, group);
    if (written.size != size) refuse(rel, "truncated content");
    if (written.digest != want)
      refuse(rel, "content does not match the manifest's digest (corrupt or tampered archive)");
    struct stat st = *jail_.lstat(rel);
    files_[rel] = {st.st_dev, st.st_ino, written.digest};
    // The verified file's stamp, so that audit and sync know it untouched without hashing it again.
    if (PlanEntry* p = planned(rel))
      p->jail_stamp = {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
                       static_cast<int64_t>(st.st_size),
                       static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
  }

  void extract_hardlink(archive_entry* e, const std::string& rel, const char* raw_target) {
    const std::string target = checked_name(reader_, raw_target, "hardlink target");
    auto it = files_.find(target);
    if (it == files_.end())
      refuse(rel, "a hardlink to " + target + ", which is not an earlier file of the archive");
    if (archive_entry_size_is_set(e) && archive_entry_size(e) != 0) refuse(rel, "a hardlink with content");
    expect_kind(rel, EntryKind::file);
    if (expected_digest(rel) != it->second.digest)
      refuse(rel, "a hardlink whose content differs from the manifest's digest");
    // The target must still be the inode written from the archive, not something swapped in.
    std::optional<struct stat> now = jail_.lstat(target);
    if (!now || !S_ISREG(now->st_mode) || now->st_dev != it->second.dev || now->st_ino != it->second.ino)
      refuse(rel, "its hardlink target " + target + " changed during the unpack");
    jail_.make_hardlink(rel, target);
    files_[rel] = it->second;
  }

  struct Written {
    dev_t dev;
    ino_t ino;
    std::string digest;
  };

  ArchiveReader& reader_;
  JailFs& jail_;
  Manifest& manifest_;
  const UnpackLimits& limits_;
  uint64_t entries_ = 0;
  uint64_t bytes_ = 0;
  std::vector<std::string> secrets_;
  std::unordered_map<std::string, PlanEntry*> plan_;
  std::unordered_set<std::string> seen_; ///< relative paths extracted
  std::unordered_set<std::string> dirs_; ///< relative paths of directories extracted ("" the root)
  std::unordered_map<std::string, Written> files_;
};

std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines)
    text += "\n  " + line;
  return text;
}

/// Whether a directory is root's and writable by no one else, so that what root finds in it root put
/// there.
bool root_only(int dir_fd) {
  struct stat st {};
  return ::fstat(dir_fd, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == 0 &&
         !(st.st_mode & (S_IWGRP | S_IWOTH));
}

/// The sha256 ARCHIVE.sha256 gives, when root can trust it: a regular file of root's, writable by no
/// one else, in a directory only root writes (as `pack` leaves it beside the archive). Anyone else's
/// (an archive downloaded to /tmp) is ignored with a warning: it could only make a good archive fail,
/// and the real check is the archive's own, every file against its manifest's digests. Read with
/// O_NOFOLLOW and O_NONBLOCK (a FIFO there must not hang unpack), at most a line: whoever wrote it,
/// a sparse file of gigabytes is not read into memory.
std::optional<std::string> published_sha256(const std::string& archive, std::vector<std::string>& warnings) {
  const std::string path = archive + ".sha256";
  const std::size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd) throw system_error(dir, "opening", errno);
  UniqueFd fd(::openat(dir_fd.get(), path.substr(slash + 1).c_str(),
                       O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!fd && errno == ENOENT) return std::nullopt;
  struct stat st {};
  std::string why;
  if (!fd)
    why = std::string("cannot be opened (") + std::strerror(errno) + ")";
  else if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
    why = "is not a regular file";
  else if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)))
    why = "is not root's alone (uid " + std::to_string(st.st_uid) + ")";
  else if (!root_only(dir_fd.get()))
    why = "lies in a directory others can write";
  if (!why.empty()) {
    warnings.push_back(path + " " + why +
                       ": ignored (only a checksum root wrote where only root writes is "
                       "compared; every file is still checked against the manifest)");
    return std::nullopt;
  }
  char text[256];
  ssize_t got = ::read(fd.get(), text, sizeof text);
  if (got < 0) throw system_error(path, "reading", errno);
  std::string_view line(text, static_cast<std::size_t>(got));
  std::string_view digest = line.substr(0, line.find_first_of(" \t\n"));
  if (digest.size() != 64 || digest.find_first_not_of("0123456789abcdef") != std::string_view::npos)
    throw Error(path, "does not begin with a sha256 (64 lowercase hex digits)");
  return std::string(digest);
}

/// An archive vouches (origin extra_digests) only for files in the directories its jail's services
/// write, as pack does: their sessions, uploads, data. Anything else it lists there (an ini in /etc,
/// a program in /usr/bin, a library) is carried and verified like the rest, but kept unverified, so
/// that audit reports it as it reports a file placed by hand. The directories are judged on the
/// adopted spec and never include a system tree, whatever roles the archive's manifest gives.
void keep_unverified_outside_service_dirs(Manifest& manifest, std::vector<std::string>& warnings) {
  Provenance& origin = *manifest.provenance;
  const std::vector<std::string> dirs = service_dirs(manifest.plan);
  std::vector<std::string> moved;
  for (auto it = origin.extra_digests.begin(); it != origin.extra_digests.end();) {
    if (inside_any(it->first, dirs)) {
      ++it;
      continue;
    }
    moved.push_back(it->first);
    origin.unverified_digests.insert_or_assign(it->first, it->second);
    it = origin.extra_digests.erase(it);
  }
  if (moved.empty()) return;
  std::string some;
  for (std::size_t i = 0; i < moved.size() && i < 10; ++i)
    some += (i ? ", " : "") + moved[i];
  warnings.push_back("the archive vouches for " + std::to_string(moved.size()) +
                     " files outside the directories the jail's services write; they are kept unverified, "
                     "and audit reports them (" +
                     some + (moved.size() > 10 ? ", ...)" : ")"));
}

/// A secret is a configuration file or a key: far below this. A bigger entry is no secret pack kept.
constexpr int64_t max_secret_bytes = 16 << 20;

/// Puts back the secrets pack kept apart (pack --secrets-to) into the jail just unpacked. The file is
/// as hostile as any archive: only regular files, each at a path the archive listed as a left-out
/// secret and only once, nothing setuid, nothing over 16 MiB, names checked as unpack's, every
/// write through JailFs (no symlink followed, the parent the archive made). A secret the manifest
/// plans gets the manifest's owner and mode and must have its digest; any other (a site's
/// wp-config.php) is root's, with the file's group and at most 0640 (readable by the site's group,
/// writable by no service). Returns the paths it restored.
std::vector<std::string> restore_secrets(const std::string& file, JailFs& jail, const Manifest& manifest,
                                         const std::set<std::string>& left_out, const UnpackLimits& limits) {
  ArchiveReader reader(file, limits.max_bytes);
  std::unordered_map<std::string, const PlanEntry*> planned;
  for (const PlanEntry& e : manifest.plan.entries)
    planned.emplace(e.path, &e);
  std::set<std::string> restored;
  uint64_t entries = 0;
  while (archive_entry* e = reader.next()) {
    const std::string rel = checked_name(reader, archive_entry_pathname(e), "path");
    const std::string path = "/" + rel;
    auto refuse = [&](const std::string& why) -> Error { return Error(file, rel + ": " + why); };
    if (++entries > 10'000) throw refuse("more entries than a secrets archive has");
    if (!left_out.count(path)) throw refuse("not a secret the archive left out");
    if (restored.count(path)) throw refuse("given twice");
    if (archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e) || archive_entry_symlink(e))
      throw refuse("not a regular file");
    const mode_t perm = archive_entry_perm(e);
    if (perm & (S_ISUID | S_ISGID | S_ISVTX)) throw refuse("setuid, setgid or sticky");
    if (!archive_entry_size_is_set(e) || archive_entry_size(e) < 0 ||
        archive_entry_size(e) > max_secret_bytes)
      throw refuse("over 16 MiB, or of no size");
    const int64_t gid = archive_entry_gid(e);
    if (gid < 0 || gid > 0xfffffffe) throw refuse("a group id beyond 32 bits");
    auto it = planned.find(path);
    const PlanEntry* entry = it == planned.end() ? nullptr : it->second;
    if (entry && !(entry->kind == EntryKind::file && entry->secret))
      throw refuse("the manifest says it is no secret");
    // A file the manifest does not plan is written only where the services' own content lies (a
    // site, a state directory), never into a tree the jail runs with.
    if (!entry && in_jail_system_tree(path)) throw refuse("an unplanned secret in a system directory");
    const mode_t mode = entry ? entry->mode : perm & 0640;
    const uid_t uid = entry ? entry->uid : 0;
    const gid_t gid_out = entry ? entry->gid : static_cast<gid_t>(gid);
    CopyResult written = jail.write_stream(
        rel, [&] { return reader.block(rel); }, mode, uid, gid_out);
    if (entry && !entry->digest.empty() && written.digest != entry->digest) {
      jail.remove(rel);
      throw refuse("differs from the digest its manifest gives");
    }
    restored.insert(path);
  }
  reader.finish();
  return {restored.begin(), restored.end()};
}

} // namespace

UnpackResult unpack_with_libarchive(const UnpackOptions& options) {
  // Nothing is written before the manifest is read and the host is known to run the jail.
  UnpackResult result;
  result.dir = check_jail_location(options.dir);
  ScopedUtf8Locale utf8; // names come out as the UTF-8 the manifest records
  ArchiveReader reader(options.archive, options.limits.max_bytes);
  uint64_t entries = 0;
  Manifest manifest = read_leading_manifest(reader, entries);
  HostCheck host = check_host(manifest, this_host());
  if (!host.errors.empty()) {
    throw Error(options.archive, "this host cannot run the jail:" + joined(host.errors));
  }
  result.warnings = host.warnings;
  // Nothing of the archive chooses what root reads on this host: the provenance must say which packages
  // the files came from (sync compares them before it refreshes anything), and the spec is rebuilt
  // from this host's profiles, with no bind and no host path of the archive's.
  if (std::optional<std::string> problem = provenance_problem(*manifest.provenance))
    throw Error(options.archive, *problem + " (was it made by jailbuild pack, on a host with dpkg?)");
  const std::vector<std::string> profile_dirs = host_profile_dirs(options.profile_dirs, options.config_dir);
  AdoptedSpec adopted =
      adopt_archive_spec(manifest, ProfileSet::load(profile_dirs).names(), profile_dirs, result.dir);
  if (!adopted.errors.empty())
    throw Error(options.archive, "refusing the jail it holds:" + joined(adopted.errors));
  result.warnings.insert(result.warnings.end(), adopted.warnings.begin(), adopted.warnings.end());
  keep_unverified_outside_service_dirs(manifest, result.warnings);
  if (::geteuid() != 0) throw Error(result.dir, "unpacking a jail needs root (owners, device nodes)");
  const std::optional<std::string> published = published_sha256(options.archive, result.warnings);

  Target target(result.dir, result.warnings);
  JailFs jail(result.dir);
  jail.make_dir("", 0755, 0, 0);
  target.mark(jail);
  Extractor extractor(reader, jail, manifest, options.limits, entries);
  extractor.run();
  // What pack left out: the manifest's secrets and the others its origin lists (a site's
  // wp-config.php), which the admin restores from their own copy (unpack --secrets).
  std::set<std::string> left_out(extractor.secrets().begin(), extractor.secrets().end());
  left_out.insert(manifest.provenance->left_out_secrets.begin(), manifest.provenance->left_out_secrets.end());
  if (!options.secrets.empty()) {
    // Before anything is registered: a refused secrets file fails the unpack, which removes the jail.
    for (const std::string& p : restore_secrets(options.secrets, jail, manifest, left_out, options.limits))
      left_out.erase(p);
  }
  if (!left_out.empty()) {
    std::string paths;
    for (const std::string& p : left_out)
      paths += (paths.empty() ? "" : ", ") + p;
    result.secrets.assign(left_out.begin(), left_out.end());
    result.warnings.push_back(
        "the archive left out " + std::to_string(left_out.size()) +
        " secret(s) the jail needs (left out: secret: " + paths +
        "): restore them (unpack --secrets FILE from pack --secrets-to, create --file SRC:DEST, or "
        "copy them), "
        "then run `jailbuild sync " +
        result.dir + "`");
  }
  const std::string sha256 = reader.finish();
  if (published && *published != sha256)
    throw Error(options.archive,
                "its sha256 " + sha256 + " differs from the one in " + options.archive + ".sha256");

  manifest.provenance->unpacked = static_cast<int64_t>(std::time(nullptr));
  manifest.provenance->archive_sha256 = sha256;
  write_manifest(jail, manifest);
  Registry(options.state_dir).add(result.dir);
  target.keep(jail);
  result.entries = extractor.entries();
  result.bytes = extractor.bytes();
  return result;
}

} // namespace jailbuild
