// SPDX-License-Identifier: MIT
// `jailbuild unpack`: extraction of an archive we must assume hostile. libarchive only parses; every
// decision (which names, types, modes, links and devices are acceptable) is made here, and every
// write goes through JailFs, which never follows a symlink inside the jail: a symlink the archive
// made earlier cannot redirect a later write out of the jail. The steps: read and check the
// manifest, which must come first; check that this host can run the jail; create the directory;
// extract each entry, verifying content against the manifest's digests; check nothing listed is
// missing; write the manifest with the unpack recorded; register the jail.
#include "jailbuild/pack.hpp"

#include "jailbuild/assemble.hpp"
#include "jailbuild/digest.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/hostfs.hpp"
#include "jailbuild/jailfs.hpp"
#include "jailbuild/manifest.hpp"
#include "jailbuild/origin.hpp"
#include "jailbuild/registry.hpp"
#include "pack_internal.hpp"
#include "pack_module.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <boost/filesystem.hpp>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <deque>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <unordered_map>
#include <unordered_set>

namespace jailbuild {

namespace {

constexpr std::size_t read_buffer_size = std::size_t{1} << 20;
/// A manifest is a few MiB for the largest jails; anything far beyond is not one.
constexpr int64_t max_manifest_size = int64_t{256} << 20;

/// Decompression on a thread of its own, as `tar -x` runs zstd in a process of its own: extraction
/// then only parses, verifies and writes. A libarchive reader of the "raw" format decodes the file
/// (zstd, gzip, xz, bzip2 or none, all built into libarchive: no external program ever runs on a
/// hostile file) into a bounded queue of blocks, hashing the file's bytes as it reads them, so the
/// archive's sha256 costs no second read.
class Decompressor {
public:
  explicit Decompressor(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw system_error(path, "opening", errno);
    struct stat st {};
    if (::fstat(fd_, &st) != 0) throw system_error(path, "reading status", errno);
    if (!S_ISREG(st.st_mode)) throw Error(path, "is not a regular file");
    ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
    buffer_ = std::make_unique_for_overwrite<char[]>(read_buffer_size);
    thread_ = std::thread([this] { run(); });
  }
  ~Decompressor() {
    {
      std::lock_guard lock(mutex_);
      cancelled_ = true;
    }
    space_.notify_all();
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;

  /// Replaces `block` with the next decompressed block; false at the end (error() says if it was
  /// the end of the data or a failure).
  bool next(std::string& block) {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [this] { return !queue_.empty() || done_; });
    if (queue_.empty()) return false;
    block = std::move(queue_.front());
    queue_.pop_front();
    space_.notify_one();
    return true;
  }
  /// Why the data ended early: "" when it did not.
  std::string error() {
    std::lock_guard lock(mutex_);
    return error_;
  }
  /// Decompresses what is left (after the end-of-archive marker), then returns the sha256 of the
  /// file; throws when the rest is corrupt.
  std::string finish() {
    for (std::string ignored; next(ignored);) {
    }
    if (std::string why = error(); !why.empty()) throw Error(path_, "corrupt or truncated archive: " + why);
    thread_.join();
    return hash_.finish();
  }

private:
  static constexpr std::size_t max_queued = 16; ///< blocks of about read_buffer_size

  void run() {
    archive* a = archive_read_new();
    std::string why;
    if (!a) {
      why = "libarchive: out of memory";
    } else {
      archive_read_support_format_raw(a);
      archive_read_support_filter_gzip(a);
      archive_read_support_filter_xz(a);
      archive_read_support_filter_zstd(a);
      archive_read_support_filter_bzip2(a);
      why = decompress(a);
      archive_read_free(a);
    }
    while (why.empty() && !cancelled() && read_more() > 0) { // hash what libarchive did not need
    }
    std::lock_guard lock(mutex_);
    error_ = why;
    done_ = true;
    ready_.notify_all();
  }

  /// Fills the queue; returns what went wrong, or "".
  std::string decompress(archive* a) {
    auto failure = [a] {
      const char* text = archive_error_string(a);
      return std::string(text ? text : "cannot decompress");
    };
    archive_entry* e = nullptr;
    if (archive_read_open2(a, this, nullptr, &Decompressor::read_cb, nullptr, nullptr) != ARCHIVE_OK ||
        archive_read_next_header(a, &e) != ARCHIVE_OK)
      return failure();
    std::string chunk;
    for (;;) {
      const void* data = nullptr;
      size_t size = 0;
      la_int64_t offset = 0;
      int status = archive_read_data_block(a, &data, &size, &offset);
      if (status == ARCHIVE_EOF) break;
      if (status != ARCHIVE_OK) return failure();
      chunk.append(static_cast<const char*>(data), size);
      if (chunk.size() >= read_buffer_size && !push(chunk)) return "";
    }
    if (!chunk.empty()) push(chunk);
    return "";
  }

  bool cancelled() {
    std::lock_guard lock(mutex_);
    return cancelled_;
  }

  /// Queues a block, waiting for room; false when the reader went away.
  bool push(std::string& chunk) {
    std::unique_lock lock(mutex_);
    space_.wait(lock, [this] { return queue_.size() < max_queued || cancelled_; });
    if (cancelled_) return false;
    queue_.push_back(std::move(chunk));
    chunk.clear();
    ready_.notify_one();
    return true;
  }

  la_ssize_t read_more() {
    for (;;) {
      ssize_t got = ::read(fd_, buffer_.get(), read_buffer_size);
      if (got < 0 && errno == EINTR) continue;
      if (got > 0) hash_.update(buffer_.get(), static_cast<std::size_t>(got));
      return got;
    }
  }
  static la_ssize_t read_cb(archive* a, void* self, const void** data) {
    auto* decompressor = static_cast<Decompressor*>(self);
    la_ssize_t got = decompressor->read_more();
    if (got < 0) {
      archive_set_error(a, errno, "reading the archive file: %s", std::strerror(errno));
      return -1;
    }
    *data = decompressor->buffer_.get();
    return got;
  }

  std::string path_;
  int fd_ = -1;
  std::unique_ptr<char[]> buffer_;
  Sha256 hash_; ///< only the thread touches it until finish() has joined it
  std::mutex mutex_;
  std::condition_variable ready_, space_;
  std::deque<std::string> queue_;
  bool done_ = false, cancelled_ = false;
  std::string error_;
  std::thread thread_;
};

/// The entries of the archive, parsed by libarchive from the Decompressor's output.
class ArchiveReader {
public:
  explicit ArchiveReader(std::string path)
      : path_(std::move(path)), decompressor_(path_), owner_(archive_read_new(), archive_read_free) {
    a_ = owner_.get();
    if (!a_) throw Error(path_, "libarchive: out of memory");
    archive_read_support_format_tar(a_);
    archive_read_set_format_option(a_, "tar", "hdrcharset", "BINARY");
    if (archive_read_open2(a_, this, nullptr, &ArchiveReader::read_cb, nullptr, nullptr) != ARCHIVE_OK)
      fail("not a tar archive, or a corrupt or truncated one");
  }
  ArchiveReader(const ArchiveReader&) = delete;
  ArchiveReader& operator=(const ArchiveReader&) = delete;

  const std::string& path() const { return path_; }

  /// The next entry's header, or nullptr at the end of the archive.
  archive_entry* next() {
    archive_entry* e = nullptr;
    int status = archive_read_next_header(a_, &e);
    if (status == ARCHIVE_EOF) return nullptr;
    if (status != ARCHIVE_OK) fail("corrupt or truncated archive");
    position_ = 0;
    return e;
  }

  /// The next block of the current entry's content; empty at its end.
  std::string_view block(const std::string& name) {
    const void* data = nullptr;
    size_t size = 0;
    la_int64_t offset = 0;
    for (;;) {
      int status = archive_read_data_block(a_, &data, &size, &offset);
      if (status == ARCHIVE_EOF) return {};
      if (status != ARCHIVE_OK) fail(name + ": corrupt or truncated archive");
      // Pack never writes sparse files: content must come in one piece, in order.
      if (offset != position_) throw Error(path_, name + ": sparse or out-of-order content is not accepted");
      position_ += static_cast<int64_t>(size);
      if (size > 0) return {static_cast<const char*>(data), size};
    }
  }

  /// Reads what is left after the end-of-archive marker; returns the sha256 of the file.
  std::string finish() { return decompressor_.finish(); }

  [[noreturn]] void fail(const std::string& what) const {
    const char* detail = archive_error_string(a_);
    throw Error(path_, what + (detail ? std::string(": ") + detail : ""));
  }

private:
  static la_ssize_t read_cb(archive* a, void* self, const void** data) {
    auto* reader = static_cast<ArchiveReader*>(self);
    if (!reader->decompressor_.next(reader->current_)) {
      std::string why = reader->decompressor_.error();
      if (why.empty()) return 0;
      archive_set_error(a, EINVAL, "%s", why.c_str());
      return -1;
    }
    *data = reader->current_.data();
    return static_cast<la_ssize_t>(reader->current_.size());
  }

  std::string path_;
  Decompressor decompressor_;
  std::unique_ptr<archive, int (*)(archive*)> owner_; // freed before the decompressor stops
  archive* a_ = nullptr;
  std::string current_; ///< the block libarchive is reading
  int64_t position_ = 0;
};

/// An archive path as a jail path relative to the root ("usr/bin/nginx"; "" for the root itself),
/// or an Error: absolute paths and ".." are refused, not "fixed", as a hostile archive should be.
std::string checked_name(const ArchiveReader& reader, const char* raw, const char* what) {
  if (!raw || !*raw) throw Error(reader.path(), std::string("an entry with an empty ") + what);
  std::string_view name = raw;
  if (name.front() == '/')
    throw Error(reader.path(), std::string(raw) + ": an absolute " + what + " is not accepted");
  std::string rel;
  while (!name.empty()) {
    std::size_t slash = name.find('/');
    std::string_view part = name.substr(0, slash);
    name = slash == std::string_view::npos ? std::string_view() : name.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..")
      throw Error(reader.path(), std::string(raw) + ": a " + what + " with '..' is not accepted");
    rel += (rel.empty() ? "" : "/") + std::string(part);
  }
  return rel;
}

std::string parent_of(const std::string& rel) {
  std::size_t slash = rel.rfind('/');
  return slash == std::string::npos ? "" : rel.substr(0, slash);
}

/// The content of the current entry, which must be a small regular file named `name`.
std::string read_small_file(ArchiveReader& reader, archive_entry* e, const char* name) {
  if (archive_entry_size(e) > max_manifest_size)
    throw Error(reader.path(), std::string(name) + ": too large");
  std::string text;
  for (std::string_view block = reader.block(name); !block.empty(); block = reader.block(name)) {
    if (text.size() + block.size() > static_cast<std::size_t>(max_manifest_size))
      throw Error(reader.path(), std::string(name) + ": too large");
    text.append(block);
  }
  return text;
}

/// The next entry, which must be the regular file `name`; nullptr when it is something else.
archive_entry* next_named(ArchiveReader& reader, const char* name, uint64_t& entries) {
  archive_entry* e = reader.next();
  if (!e || checked_name(reader, archive_entry_pathname(e), "path") != name ||
      archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e))
    return nullptr;
  ++entries;
  return e;
}

/// Reads the manifest and the origin, which must be the archive's first files (after their
/// directory), and puts the origin into the manifest.
Manifest read_leading_manifest(ArchiveReader& reader, uint64_t& entries) {
  const std::string not_ours = std::string(" (was it made by jailbuild pack?)");
  archive_entry* e = reader.next();
  if (!e || checked_name(reader, archive_entry_pathname(e), "path") != manifest_dir ||
      archive_entry_filetype(e) != AE_IFDIR)
    throw Error(reader.path(), std::string("no jailbuild manifest: the archive must begin with ") +
                                   manifest_dir + "/" + not_ours);
  ++entries;
  if (!(e = next_named(reader, manifest_file, entries)))
    throw Error(reader.path(),
                std::string("no jailbuild manifest: ") + manifest_file + " must come first" + not_ours);
  Manifest manifest =
      manifest_from_json(read_small_file(reader, e, manifest_file), reader.path() + ": " + manifest_file);
  if (!(e = next_named(reader, origin_file, entries)))
    throw Error(reader.path(), std::string("no ") + origin_file + " after the manifest" + not_ours);
  manifest.origin =
      origin_from_json(read_small_file(reader, e, origin_file), reader.path() + ": " + origin_file);
  return manifest;
}

bool directory_empty(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) throw system_error(dir, "reading directory", errno);
  bool empty = true;
  while (dirent* entry = ::readdir(d)) {
    std::string_view name = entry->d_name;
    if (name != "." && name != "..") {
      empty = false;
      break;
    }
  }
  ::closedir(d);
  return empty;
}

/// The directory being unpacked into: created here (and removed on failure) or an existing empty
/// one (emptied again on failure).
class Target {
public:
  explicit Target(const std::string& dir) : dir_(dir) {
    if (::mkdir(dir_.c_str(), 0755) == 0) {
      made_ = true;
      if (::chown(dir_.c_str(), 0, 0) != 0 || ::chmod(dir_.c_str(), 0755) != 0)
        throw system_error(dir_, "setting owner and mode", errno);
    } else if (errno != EEXIST) {
      throw system_error(dir_, "creating", errno);
    } else if (!directory_empty(dir_)) {
      throw Error(dir_, "exists and is not empty: unpack only into a new or empty directory");
    }
  }
  ~Target() {
    if (done_) return;
    // boost's remove_all never follows symlinks: whatever the archive made, only DIR's tree goes.
    boost::system::error_code ignored;
    if (made_) {
      boost::filesystem::remove_all(dir_, ignored);
      return;
    }
    for (boost::filesystem::directory_iterator it(dir_, ignored), end; !ignored && it != end;
         it.increment(ignored))
      boost::filesystem::remove_all(it->path(), ignored);
  }
  Target(const Target&) = delete;
  Target& operator=(const Target&) = delete;
  void keep() { done_ = true; }

private:
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
      if (e.path != "/" && !seen_.count(e.path.substr(1))) missing.push_back(e.path);
    for (const auto& [path, digest] : manifest_.origin->extra_digests)
      if (!seen_.count(path.substr(1))) missing.push_back(path);
    if (!missing.empty())
      throw Error(reader_.path(), "truncated or incomplete archive: " + std::to_string(missing.size()) +
                                      " entries of its manifest are missing, first " + missing.front());
  }

  uint64_t entries() const { return entries_; }
  uint64_t bytes() const { return bytes_; }

private:
  [[noreturn]] void refuse(const std::string& rel, const std::string& why) const {
    throw Error(reader_.path(), rel + ": " + why);
  }

  PlanEntry* planned(const std::string& rel) const {
    auto it = plan_.find("/" + rel);
    return it == plan_.end() ? nullptr : it->second;
  }

  /// The digest the manifest gives a regular file: the plan's, else the origin's list of the rest.
  const std::string& expected_digest(const std::string& rel) const {
    if (const PlanEntry* p = planned(rel);
        p && (p->kind == EntryKind::file || p->kind == EntryKind::generated))
      return p->digest;
    auto it = manifest_.origin->extra_digests.find("/" + rel);
    if (it == manifest_.origin->extra_digests.end()) refuse(rel, "a file its manifest does not list");
    return it->second;
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
      if (!device_allowed(DeviceType::character, major_number, minor_number))
        refuse(rel, "character device " + std::to_string(major_number) + "," + std::to_string(minor_number) +
                        " is not one a jail may hold (null, zero, full, random, urandom, tty)");
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
  std::unordered_map<std::string, PlanEntry*> plan_;
  std::unordered_set<std::string> seen_; ///< relative paths extracted
  std::unordered_set<std::string> dirs_; ///< relative paths of directories extracted ("" the root)
  std::unordered_map<std::string, Written> files_;
};

/// The sha256 FILE.sha256 gives, if that file exists.
std::optional<std::string> published_sha256(const std::string& archive) {
  std::ifstream in(archive + ".sha256");
  std::string digest;
  if (!(in >> digest)) return std::nullopt;
  return digest;
}

} // namespace

UnpackResult unpack_with_libarchive(const UnpackOptions& options) {
  // Nothing is written before the manifest is read and the host is known to run the jail.
  UnpackResult result;
  result.dir = check_jail_location(options.dir);
  ScopedUtf8Locale utf8; // names come out as the UTF-8 the manifest records
  ArchiveReader reader(options.archive);
  uint64_t entries = 0;
  Manifest manifest = read_leading_manifest(reader, entries);
  HostCheck host = check_host(manifest, this_host());
  if (!host.errors.empty()) {
    std::string text;
    for (const std::string& error : host.errors)
      text += "\n  " + error;
    throw Error(options.archive, "this host cannot run the jail:" + text);
  }
  result.warnings = host.warnings;
  if (::geteuid() != 0) throw Error(result.dir, "unpacking a jail needs root (owners, device nodes)");

  Target target(result.dir);
  JailFs jail(result.dir);
  jail.make_dir("", 0755, 0, 0);
  Extractor extractor(reader, jail, manifest, options.limits, entries);
  extractor.run();
  const std::string sha256 = reader.finish();
  if (std::optional<std::string> published = published_sha256(options.archive);
      published && *published != sha256)
    throw Error(options.archive,
                "its sha256 " + sha256 + " differs from the one in " + options.archive + ".sha256");

  manifest.origin->unpacked = static_cast<int64_t>(std::time(nullptr));
  manifest.origin->archive_sha256 = sha256;
  manifest.inputs = {}; // what the plan was made from was on the packing host
  write_manifest(jail, manifest);
  Registry(options.state_dir).add(result.dir);
  target.keep();
  result.entries = extractor.entries();
  result.bytes = extractor.bytes();
  return result;
}

} // namespace jailbuild
