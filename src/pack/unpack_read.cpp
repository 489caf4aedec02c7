// SPDX-License-Identifier: MIT
// `jailbuild unpack`'s reading of the archive, which we must assume hostile: decompression on a
// thread of its own, libarchive's tar parser on its output, the names checked, and the manifest,
// which must come first. What to make of each entry is decided in unpack.cpp.
#include "jailbuild/digest.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/fd.hpp"
#include "jailbuild/pack.hpp"
#include "pack_internal.hpp"
#include "unpack_internal.hpp"

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <mutex>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <utility>

namespace jailbuild {

namespace {

constexpr std::size_t read_buffer_size = std::size_t{1} << 20;
/// A manifest is a few MiB for the largest jails; anything far beyond is not one.
constexpr int64_t max_manifest_size = int64_t{256} << 20;

} // namespace

/// Decompression on a thread of its own, as `tar -x` runs zstd in a process of its own: extraction
/// then only parses, verifies and writes. A libarchive reader of the "raw" format decodes the file
/// (zstd, gzip, xz, bzip2 or none, all built into libarchive: no external program ever runs on a
/// hostile file) into a bounded queue of blocks, hashing the file's bytes as it reads them, so the
/// archive's sha256 costs no second read.
///
/// Every decompressed byte counts against the limit, whoever asks for it: headers, content, the
/// data of entries that have none to speak of (a directory whose header claims 2 GiB is skipped
/// by reading through them), padding and whatever follows the end-of-archive marker. A few MB of
/// zstd decode to gigabytes of zeros; decoding stops at the first block beyond the limit.
class Decompressor {
public:
  Decompressor(const std::string& path, uint64_t limit)
      : path_(path), limit_(limit), fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
    if (!fd_) throw system_error(path, "opening", errno);
    struct stat st {};
    if (::fstat(fd_.get(), &st) != 0) throw system_error(path, "reading status", errno);
    if (!S_ISREG(st.st_mode)) throw Error(path, "is not a regular file");
    ::posix_fadvise(fd_.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
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
  /// Throws the limit's own error when decoding stopped there: it is no corruption.
  void throw_if_over_limit() {
    std::lock_guard lock(mutex_);
    if (over_limit_) throw Error(path_, limit_text());
  }
  /// Decompresses what is left (after the end-of-archive marker), then returns the sha256 of the
  /// file; throws when the rest is corrupt or too much.
  std::string finish() {
    for (std::string ignored; next(ignored);) {
    }
    throw_if_over_limit();
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
    uint64_t total = 0;
    for (;;) {
      const void* data = nullptr;
      size_t size = 0;
      la_int64_t offset = 0;
      int status = archive_read_data_block(a, &data, &size, &offset);
      if (status == ARCHIVE_EOF) break;
      if (status != ARCHIVE_OK) return failure();
      total += size;
      if (total > limit_) {
        std::lock_guard lock(mutex_);
        over_limit_ = true;
        return limit_text();
      }
      chunk.append(static_cast<const char*>(data), size);
      if (chunk.size() >= read_buffer_size && !push(chunk)) return "";
    }
    if (!chunk.empty()) push(chunk);
    return "";
  }

  std::string limit_text() const {
    return "decompresses to more than " + std::to_string(limit_) +
           " bytes (raise --max-bytes if this is expected)";
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
      ssize_t got = ::read(fd_.get(), buffer_.get(), read_buffer_size);
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
  uint64_t limit_; ///< of decompressed bytes
  UniqueFd fd_;
  std::unique_ptr<char[]> buffer_;
  Sha256 hash_; ///< only the thread touches it until finish() has joined it
  std::mutex mutex_;
  std::condition_variable ready_, space_;
  std::deque<std::string> queue_;
  bool done_ = false, cancelled_ = false, over_limit_ = false;
  std::string error_;
  std::thread thread_;
};

ArchiveReader::ArchiveReader(std::string path, uint64_t max_bytes)
    : path_(std::move(path)), decompressor_(std::make_unique<Decompressor>(path_, max_bytes)),
      owner_(archive_read_new(), archive_read_free) {
  a_ = owner_.get();
  if (!a_) throw Error(path_, "libarchive: out of memory");
  archive_read_support_format_tar(a_);
  archive_read_set_format_option(a_, "tar", "hdrcharset", "BINARY");
  if (archive_read_open2(a_, this, nullptr, &ArchiveReader::read_cb, nullptr, nullptr) != ARCHIVE_OK)
    fail("not a tar archive, or a corrupt or truncated one");
}

ArchiveReader::~ArchiveReader() = default;

archive_entry* ArchiveReader::next() {
  archive_entry* e = nullptr;
  int status = archive_read_next_header(a_, &e);
  if (status == ARCHIVE_EOF) return nullptr;
  if (status != ARCHIVE_OK) fail("corrupt or truncated archive");
  position_ = 0;
  return e;
}

std::string_view ArchiveReader::block(const std::string& name) {
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

std::string ArchiveReader::finish() {
  return decompressor_->finish();
}

void ArchiveReader::fail(const std::string& what) const {
  decompressor_->throw_if_over_limit(); // the reason libarchive saw no more data
  const char* detail = archive_error_string(a_);
  throw Error(path_, what + (detail ? std::string(": ") + detail : ""));
}

la_ssize_t ArchiveReader::read_cb(archive* a, void* self, const void** data) {
  auto* reader = static_cast<ArchiveReader*>(self);
  if (!reader->decompressor_->next(reader->current_)) {
    std::string why = reader->decompressor_->error();
    if (why.empty()) return 0;
    archive_set_error(a, EINVAL, "%s", why.c_str());
    return -1;
  }
  *data = reader->current_.data();
  return static_cast<la_ssize_t>(reader->current_.size());
}

std::string checked_name(const ArchiveReader& reader, const char* raw, const char* what) {
  if (!raw || !*raw) throw Error(reader.path(), std::string("an entry with an empty ") + what);
  std::string_view name = raw;
  if (name.front() == '/')
    throw Error(reader.path(), std::string(raw) + ": an absolute " + what + " is not accepted");
  std::string rel;
  std::size_t depth = 0;
  while (!name.empty()) {
    std::size_t slash = name.find('/');
    std::string_view part = name.substr(0, slash);
    name = slash == std::string_view::npos ? std::string_view() : name.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..")
      throw Error(reader.path(), std::string(raw) + ": a " + what + " with '..' is not accepted");
    // No jail needs it, and removing a tree this deep on failure would hold an fd per level.
    if (++depth > max_jail_depth)
      throw Error(reader.path(), rel.substr(0, 200) + "...: nested more than " +
                                     std::to_string(max_jail_depth) + " levels deep, which no jail needs");
    rel += (rel.empty() ? "" : "/") + std::string(part);
  }
  return rel;
}

namespace {

/// The content of the current entry, which must be a regular file named `name` of at most `limit`
/// bytes: refused by its header's size before anything is read, and again as it is read.
std::string read_small_file(ArchiveReader& reader, archive_entry* e, const char* name, int64_t limit) {
  const std::string too_large = std::string(name) + ": too large (over " + std::to_string(limit >> 20) +
                                " MiB, more than any jailbuild archive holds there)";
  if (archive_entry_size(e) > limit) throw Error(reader.path(), too_large);
  std::string text;
  for (std::string_view block = reader.block(name); !block.empty(); block = reader.block(name)) {
    if (text.size() + block.size() > static_cast<std::size_t>(limit)) throw Error(reader.path(), too_large);
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

/// Throws unless `text`, a string of the archive's manifest, is free of control characters.
void check_text(const std::string& where, const std::string& text, const char* what) {
  for (char c : text)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      std::string shown = text.substr(0, 200);
      for (char& s : shown)
        if (static_cast<unsigned char>(s) < 0x20 || s == 0x7f) s = '?';
      throw Error(where, std::string("corrupt manifest: ") + what + " '" + shown +
                             "' holds a control character, which no jail needs");
    }
}

/// Every string of an archive's manifest that unpack shows the admin or keeps in the jail's manifest
/// (which sync, audit and mount show later) is refused with a control character: escape sequences
/// from a hostile archive could rewrite what the admin's terminal shows, a newline forge a line.
void check_manifest_texts(const Manifest& m, const std::string& where) {
  const JailSpec& spec = m.plan.spec;
  for (const std::string& s : spec.services)
    check_text(where, s, "a service");
  if (spec.php_version) check_text(where, *spec.php_version, "the PHP version");
  for (const BindSpec& b : spec.binds) {
    check_text(where, b.source, "a bind's source");
    check_text(where, b.dest, "a bind's mount point");
  }
  for (const WritableSpec& w : spec.writable) {
    check_text(where, w.path, "a writable directory");
    check_text(where, w.owner, "a writable directory's owner");
    check_text(where, w.group, "a writable directory's group");
  }
  check_text(where, spec.host_root, "the host root");
  for (const std::string& d : spec.profile_dirs)
    check_text(where, d, "a profile directory");
  for (const std::string& u : m.plan.users)
    check_text(where, u, "a user");
  for (const PlanEntry& e : m.plan.entries) {
    check_text(where, e.path, "an entry's path");
    check_text(where, e.source, "an entry's source or target");
    check_text(where, e.requested_by, "an entry's origin");
  }
}

} // namespace

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
  Manifest manifest = manifest_from_json(read_small_file(reader, e, manifest_file, max_manifest_size),
                                         reader.path() + ": " + manifest_file);
  check_manifest_texts(manifest, reader.path() + ": " + manifest_file);
  if (!(e = next_named(reader, provenance_file, entries)))
    throw Error(reader.path(), std::string("no ") + provenance_file + " after the manifest" + not_ours);
  manifest.provenance =
      provenance_from_json(read_small_file(reader, e, provenance_file, static_cast<int64_t>(max_origin_size)),
                           reader.path() + ": " + provenance_file);
  return manifest;
}

} // namespace jailbuild
