// SPDX-License-Identifier: MIT
// `jailbuild pack`: the jail as a reproducible pax tarball. The steps: read the manifest; walk the
// jail without following symlinks, leaving runtime state out; check that the jail is what its
// manifest says (so that the archive will unpack); record the provenance; write the archive to a
// temporary file, verifying every planned file's digest as it streams; rename it into place.
// Built, with pack_scan.cpp and unpack.cpp, as the module libjailbuild-archive.so, loaded on first
// use (module.hpp says why); its entry table is at the end.
#include "jailbuild/pack.hpp"

#include "jailbuild/digest.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/fd.hpp"
#include "jailbuild/hostfs.hpp"
#include "jailbuild/jailfs.hpp"
#include "jailbuild/manifest.hpp"
#include "jailbuild/provenance.hpp"
#include "pack_internal.hpp"
#include "pack_module.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <dirent.h>
#include <fcntl.h>
#include <future>
#include <map>
#include <memory>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <thread>
#include <unistd.h>
#include <unordered_map>
#include <utility>

namespace jailbuild {

namespace {

/// Blocks read from jail files and written to the archive file: large, so that big files cost few
/// system calls and the compressor's threads get long runs.
constexpr std::size_t pack_buffer_size = std::size_t{1} << 20;

int64_t archive_time(const PackOptions& options, const Manifest& manifest) {
  if (options.source_date_epoch) return *options.source_date_epoch;
  const char* env = std::getenv("SOURCE_DATE_EPOCH");
  if (!env || !*env) return manifest.updated;
  char* end = nullptr;
  errno = 0;
  long long value = std::strtoll(env, &end, 10);
  if (errno != 0 || *end != '\0' || value < 0)
    throw Error("SOURCE_DATE_EPOCH", std::string("not a number of seconds: '") + env + "'");
  return value;
}

/// The archive file being written: an AtomicFile (a temporary file beside the final name, flock()ed:
/// one nobody holds locked is the leftover of a killed pack, which the next one removes), filled
/// through a large buffer and hashed on the way. The archive holds the jail's private files (its
/// shadow, 0700 directories): root-only, whatever the umask.
class OutputFile {
public:
  explicit OutputFile(const std::string& final_path)
      : file_(final_path, 0600), buffer_(std::make_unique_for_overwrite<char[]>(pack_buffer_size)) {}

  void write(const void* data, std::size_t size) {
    hash_.update(data, size);
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      std::size_t n = std::min(size, pack_buffer_size - used_);
      std::copy_n(p, n, buffer_.get() + used_);
      used_ += n, p += n, size -= n;
      if (used_ == pack_buffer_size) flush();
    }
  }
  void flush() {
    file_.write(buffer_.get(), used_);
    written_ += used_;
    used_ = 0;
    // Start writing back what is written, without waiting: ext4 would otherwise allocate and flush
    // the whole file inside the final rename (its replace-by-rename safeguard), after the work is done.
    ::sync_file_range(file_.fd(), 0, static_cast<off_t>(written_), SYNC_FILE_RANGE_WRITE);
  }
  /// Flushes, renames into place; returns the sha256 of the archive.
  std::string commit() {
    flush();
    file_.commit();
    return hash_.finish();
  }
  const std::string& path() const { return file_.path(); }

private:
  AtomicFile file_;
  std::unique_ptr<char[]> buffer_;
  std::size_t used_ = 0;
  uint64_t written_ = 0;
  Sha256 hash_;
};

/// A libarchive write handle for a pax archive into an OutputFile.
class ArchiveWriter {
public:
  ArchiveWriter(OutputFile& out, Compression compression) : out_(out), a_(archive_write_new()) {
    if (!a_) throw Error(out.path(), "libarchive: out of memory");
    // Restricted pax: ustar headers, with a pax extended header only where ustar cannot say it (long
    // names, large ids or sizes), which is what every tar reads. BINARY: names are stored as the
    // bytes they are, whatever the locale, so that the archive does not depend on LANG.
    check(archive_write_set_format_pax_restricted(a_), "setting the format");
    // Threads for the compressors; at least 1 for zstd and 2 for xz, so that the multi-threaded
    // encoder (whose output does not depend on the number of threads) is used on every host.
    unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
    switch (compression) {
    case Compression::none:
      check(archive_write_add_filter_none(a_), "setting the filter");
      break;
    case Compression::gzip:
      check(archive_write_add_filter_gzip(a_), "adding gzip");
      check(archive_write_set_filter_option(a_, "gzip", "timestamp", nullptr), "dropping the gzip timestamp");
      break;
    case Compression::xz:
      check(archive_write_add_filter_xz(a_), "adding xz");
      check(archive_write_set_filter_option(a_, "xz", "threads", std::to_string(std::max(2u, cpus)).c_str()),
            "setting xz threads");
      break;
    case Compression::zstd:
      check(archive_write_add_filter_zstd(a_), "adding zstd");
      check(archive_write_set_filter_option(a_, "zstd", "compression-level", "3"), "setting the zstd level");
      check(archive_write_set_filter_option(a_, "zstd", "threads", std::to_string(cpus).c_str()),
            "setting zstd threads");
      break;
    }
    check(archive_write_set_bytes_per_block(a_, 10240), "setting the block size");
    // A compressed stream ends where the compressor ends it, not padded to a tar block.
    if (compression != Compression::none)
      check(archive_write_set_bytes_in_last_block(a_, 1), "setting padding");
    check(archive_write_open2(a_, this, nullptr, &ArchiveWriter::write_cb, nullptr, nullptr), "opening");
    entry_ = archive_entry_new();
    if (!entry_) throw Error(out.path(), "libarchive: out of memory");
  }
  ~ArchiveWriter() {
    archive_entry_free(entry_);
    archive_write_free(a_);
  }
  ArchiveWriter(const ArchiveWriter&) = delete;
  ArchiveWriter& operator=(const ArchiveWriter&) = delete;

  /// A fresh entry: only what we set is written (no names, no atime or ctime, no xattrs).
  archive_entry* entry(const std::string& rel, mode_t type, mode_t perm, uid_t uid, gid_t gid,
                       int64_t mtime) {
    archive_entry_clear(entry_);
    archive_entry_copy_pathname(entry_, rel.c_str()); // UTF-8, as is the locale (ScopedUtf8Locale)
    archive_entry_set_filetype(entry_, type);
    archive_entry_set_perm(entry_, perm);
    archive_entry_set_uid(entry_, uid);
    archive_entry_set_gid(entry_, gid);
    archive_entry_set_mtime(entry_, static_cast<time_t>(mtime), 0);
    return entry_;
  }
  void write_header(const std::string& rel) { check(archive_write_header(a_, entry_), rel); }
  void write_data(const void* data, std::size_t size, const std::string& rel) {
    la_ssize_t put = archive_write_data(a_, data, size);
    if (put < 0 || static_cast<std::size_t>(put) != size) throw Error(out_.path(), rel + ": " + error_text());
  }
  /// A root-only file (0600) with the given content.
  void write_file(const std::string& rel, const std::string& content, int64_t mtime) {
    archive_entry_set_size(entry(rel, AE_IFREG, 0600, 0, 0, mtime), static_cast<la_int64_t>(content.size()));
    write_header(rel);
    write_data(content.data(), content.size(), rel);
  }
  void close() { check(archive_write_close(a_), "finishing the archive"); }

private:
  static la_ssize_t write_cb(archive* a, void* self, const void* data, size_t size) {
    auto* writer = static_cast<ArchiveWriter*>(self);
    try {
      writer->out_.write(data, size);
      return static_cast<la_ssize_t>(size);
    } catch (const Error& e) {
      archive_set_error(a, e.code() ? e.code() : EIO, "%s", e.what());
      return -1;
    }
  }
  std::string error_text() const {
    const char* text = archive_error_string(a_);
    return text ? text : "libarchive failed";
  }
  void check(int status, const std::string& what) {
    // A warning too: it means libarchive wrote something other than what was asked.
    if (status != ARCHIVE_OK) throw Error(out_.path(), what + ": " + error_text());
  }

  OutputFile& out_;
  archive* a_;
  archive_entry* entry_ = nullptr;
};

/// Streams one jail file into the archive, hashing it; returns the digest, or nullopt when the
/// file still has the stamp (device, inode, size, mtime) its manifest recorded with the digest: then
/// it is untouched since, as sync and audit also assume, and hashing it again would only cost time
/// (unpack verifies every file anyway). The size in the header is that of the opened file: a file
/// that changes meanwhile is an error.
std::optional<std::string> pack_file(ArchiveWriter& writer, const JailFs& jail, const PackItem& item,
                                     const PlanEntry* planned, int64_t mtime, char* buffer, uint64_t& bytes) {
  const std::string rel = archive_name(item.path);
  UniqueFd fd(jail.open_read(rel));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw system_error(jail.path(rel), "reading status", errno);
  const FileStamp stamp = stamp_of(st);
  const bool verify =
      !planned || planned->digest.empty() || st.st_nlink != 1 || !(planned->jail_stamp == stamp);
  ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  archive_entry* e = writer.entry(rel, AE_IFREG, st.st_mode & 07777, st.st_uid, st.st_gid, mtime);
  archive_entry_set_size(e, st.st_size);
  writer.write_header(rel);
  Sha256 hash;
  uint64_t left = static_cast<uint64_t>(st.st_size);
  while (left > 0) {
    ssize_t got = ::read(fd.get(), buffer, std::min<uint64_t>(left, pack_buffer_size));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw system_error(jail.path(rel), "reading", errno);
    if (got == 0) throw Error(jail.path(rel), "shrank while being packed");
    if (verify) hash.update(buffer, static_cast<std::size_t>(got));
    writer.write_data(buffer, static_cast<std::size_t>(got), rel);
    left -= static_cast<uint64_t>(got);
  }
  char probe;
  if (::read(fd.get(), &probe, 1) > 0) throw Error(jail.path(rel), "grew while being packed");
  bytes += static_cast<uint64_t>(st.st_size);
  if (!verify) return std::nullopt;
  return hash.finish();
}

/// The plan's entries by jail path.
using PlanIndex = std::unordered_map<std::string, const PlanEntry*>;

PlanIndex index_of(const Plan& plan) {
  PlanIndex index;
  for (const PlanEntry& e : plan.entries)
    index.emplace(e.path, &e);
  return index;
}

/// The digest the manifest gives a planned file, or nullptr.
const std::string* planned_digest(const PlanIndex& plan, const std::string& path) {
  auto it = plan.find(path);
  if (it == plan.end()) return nullptr;
  const PlanEntry& e = *it->second;
  return (e.kind == EntryKind::file || e.kind == EntryKind::generated) ? &e.digest : nullptr;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines)
    text += "\n  " + line;
  return text;
}

/// "HEX  NAME\n", as sha256sum writes it, atomically.
void write_checksum_file(const std::string& archive, const std::string& sha256) {
  AtomicFile file(archive + ".sha256", 0644);
  file.write(sha256 + "  " + archive.substr(archive.rfind('/') + 1) + "\n");
  file.commit();
}

bool is_ascii(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

/// The manifest file's bytes, read without following a symlink in the jail.
std::string read_manifest_text(const JailFs& jail) {
  if (!jail.lstat(manifest_file))
    throw Error(jail.root(), "not a jailbuild jail: no " + std::string(manifest_file));
  UniqueFd fd(jail.open_read(manifest_file));
  return read_all(fd.get(), jail.path(manifest_file));
}

/// Whether `name` is one of the temporary files a pack to `base` makes (AtomicFile's): ".BASE.jbtmp.XXXXXX"
/// (the archive) or ".BASE.sha256.jbtmp.XXXXXX" (its checksum; "BASE.sha256.jbtmp.XXXXXX" as an
/// older jailbuild named it), XXXXXX as mkstemp fills it.
bool is_temp_of(std::string_view name, std::string_view base) {
  auto random_tail = [](std::string_view tail) {
    return tail.size() == 6 && std::all_of(tail.begin(), tail.end(), [](char c) {
             return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
           });
  };
  for (const std::string& prefix :
       {"." + std::string(base) + ".jbtmp.", "." + std::string(base) + ".sha256.jbtmp.",
        std::string(base) + ".sha256.jbtmp."})
    if (name.starts_with(prefix) && random_tail(name.substr(prefix.size()))) return true;
  return false;
}

/// Removes the temporary files a killed pack to the same archive left beside it: its own names
/// only (is_temp_of), regular files of ours that no running pack holds locked, the same inode as
/// the one locked. A pack killed by SIGKILL or a power cut runs no cleanup of its own.
void remove_leftovers(const std::string& output, std::vector<std::string>& warnings) {
  std::string dir = output.find('/') == std::string::npos ? "." : output.substr(0, output.rfind('/'));
  if (dir.empty()) dir = "/";
  const std::string base = output.substr(output.rfind('/') + 1);
  UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd) return; // creating the archive will say what is wrong
  std::vector<std::string> names;
  {
    UniqueFd copy(::fcntl(dir_fd.get(), F_DUPFD_CLOEXEC, 0));
    DIR* listing = copy ? ::fdopendir(copy.get()) : nullptr;
    if (!listing) return;
    (void)copy.release();
    std::unique_ptr<DIR, int (*)(DIR*)> closer(listing, ::closedir);
    while (dirent* d = ::readdir(listing))
      if (is_temp_of(d->d_name, base)) names.emplace_back(d->d_name);
  }
  for (const std::string& name : names) {
    UniqueFd fd(::openat(dir_fd.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    struct stat held {
    }, now{};
    if (!fd || ::fstat(fd.get(), &held) != 0 || !S_ISREG(held.st_mode) || held.st_uid != ::geteuid())
      continue;
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) continue; // a pack at work
    if (::fstatat(dir_fd.get(), name.c_str(), &now, AT_SYMLINK_NOFOLLOW) != 0 || now.st_dev != held.st_dev ||
        now.st_ino != held.st_ino)
      continue;
    if (::unlinkat(dir_fd.get(), name.c_str(), 0) == 0)
      warnings.push_back(dir + "/" + name + ": removed, left by an interrupted jailbuild pack");
  }
}

/// The archive must not be inside the jail it packs: it would be walked while being written.
void refuse_output_inside(const PackOptions& options) {
  const std::string& output = options.output;
  std::string out_dir = output.find('/') == std::string::npos ? "." : output.substr(0, output.rfind('/'));
  if (out_dir.empty()) out_dir = "/";
  char out_real[PATH_MAX], jail_real[PATH_MAX];
  if (!::realpath(out_dir.c_str(), out_real)) throw system_error(output, "its directory", errno);
  if (!::realpath(options.dir.c_str(), jail_real)) throw system_error(options.dir, "resolving", errno);
  if ((std::string(out_real) + "/").starts_with(std::string(jail_real) + "/"))
    throw Error(output, "refusing to write the archive inside the jail it packs");
}

/// Hardlinks: the first name in archive order carries the content, later ones link to it.
void mark_hardlinks(std::vector<PackItem>& items) {
  std::map<std::pair<dev_t, ino_t>, std::string> first_name;
  for (PackItem& item : items) {
    if (!S_ISREG(item.st.st_mode) || item.st.st_nlink < 2) continue;
    auto [it, fresh] = first_name.emplace(std::pair(item.st.st_dev, item.st.st_ino), item.path);
    if (!fresh) item.hardlink_to = it->second;
  }
}

/// The digest the provenance gives a file the plan does not list.
const std::string& unplanned_digest(const Provenance& provenance, const std::string& path) {
  auto it = provenance.extra_digests.find(path);
  return it != provenance.extra_digests.end() ? it->second : provenance.unverified_digests.at(path);
}

/// The origin of the archive's manifest: the packing host and its packages (kept from the manifest
/// when the jail was itself unpacked: its files still come from that host's packages), the kernel
/// the jail's libc needs, and the digest of each file the plan does not list (hashed here, before
/// the manifest is written; the plan's files are verified as they stream). Such a file is vouched
/// for only in a directory the services write; anywhere else (a configuration file placed by hand
/// in /etc, which audit rates high) it goes unverified, with a warning.
Provenance provenance_for(const Manifest& manifest, const JailFs& jail, const std::vector<PackItem>& items,
                          const PlanIndex& plan, std::future<std::vector<PackagePin>>& packages,
                          int64_t mtime, std::vector<std::string>& warnings) {
  Provenance provenance;
  if (manifest.provenance) {
    provenance.host = manifest.provenance->host;
    provenance.packages = manifest.provenance->packages;
  } else {
    struct utsname uts {};
    provenance.host = ::uname(&uts) == 0 ? uts.nodename : "";
    provenance.packages = packages.get();
  }
  provenance.packages_digest = packages_digest(provenance.packages);
  provenance.packed = mtime;
  provenance.min_kernel = min_kernel_of(jail, manifest.plan, warnings);
  const std::vector<std::string> writable = service_dirs(manifest.plan);
  std::vector<std::string> problems, unverified;
  for (const PackItem& item : items) {
    if (!S_ISREG(item.st.st_mode)) continue;
    const std::string* own = planned_digest(plan, item.path);
    std::string digest;
    if (item.hardlink_to.empty()) {
      if (own) continue;
      UniqueFd fd(jail.open_read(item.path));
      digest = sha256_fd(fd.get());
    } else {
      const std::string* target = planned_digest(plan, item.hardlink_to);
      digest = target ? *target : unplanned_digest(provenance, item.hardlink_to);
    }
    if (own) {
      if (*own != digest)
        problems.push_back(item.path + " is a hardlink of " + item.hardlink_to +
                           ", whose content the manifest gives otherwise");
    } else if (inside_any(item.path, writable)) {
      provenance.extra_digests[item.path] = digest;
    } else {
      provenance.unverified_digests[item.path] = digest;
      unverified.push_back(item.path);
    }
  }
  if (!problems.empty()) throw Error(jail.root(), "cannot pack this jail:" + joined(problems));
  if (!unverified.empty()) {
    std::string some;
    for (std::size_t i = 0; i < unverified.size() && i < 10; ++i)
      some += (i ? ", " : "") + unverified[i];
    warnings.push_back(std::to_string(unverified.size()) +
                       " files not in the manifest, outside the directories the jail's services write, "
                       "are packed unverified: the unpacked jail's audit reports them as this jail's does (" +
                       some + (unverified.size() > 10 ? ", ...)" : ")"));
  }
  return provenance;
}

/// An entry without content of its own: directory, symlink, device node, or a hardlink.
void write_non_file(ArchiveWriter& writer, const PackItem& item, int64_t mtime) {
  const std::string rel = archive_name(item.path);
  const mode_t type = item.st.st_mode & S_IFMT;
  archive_entry* e = writer.entry(rel, type, item.st.st_mode & 07777, item.st.st_uid, item.st.st_gid, mtime);
  if (type == S_IFREG) {
    archive_entry_copy_hardlink(e, archive_name(item.hardlink_to).c_str());
    archive_entry_set_size(e, 0);
  } else if (type == S_IFLNK) {
    archive_entry_copy_symlink(e, item.link_target.c_str());
  } else if (type == S_IFCHR) {
    archive_entry_set_rdevmajor(e, major(item.st.st_rdev));
    archive_entry_set_rdevminor(e, minor(item.st.st_rdev));
  }
  writer.write_header(rel);
}

} // namespace

std::vector<std::string> service_dirs(const Plan& plan) {
  // Never the jail root nor a system tree: a manifest from an archive chooses roles, modes and owners.
  auto may_be = [](const std::string& dir) { return dir != "/" && !in_jail_system_tree(dir); };
  std::vector<std::string> dirs;
  for (const WritableSpec& w : plan.spec.writable)
    if (may_be(w.path)) dirs.push_back(w.path);
  for (const PlanEntry& e : plan.entries)
    if (e.kind == EntryKind::directory && (e.role == EntryRole::state || (e.mode & S_IWOTH) || e.uid != 0) &&
        may_be(e.path))
      dirs.push_back(e.path);
  return dirs;
}

bool inside_any(const std::string& path, const std::vector<std::string>& dirs) {
  return std::any_of(dirs.begin(), dirs.end(), [&](const std::string& d) {
    return d == "/" || (path.size() > d.size() && path.starts_with(d) && path[d.size()] == '/');
  });
}

PackResult pack_with_libarchive(const PackOptions& options) {
  PackResult result;
  result.archive = options.output;
  JailFs jail(options.dir);
  // The manifest's bytes go into the archive as they are; the parsed copy drives the pack.
  std::string manifest_text = read_manifest_text(jail);
  Manifest manifest = manifest_from_json(manifest_text, jail.path(manifest_file));
  const int64_t mtime = archive_time(options, manifest);
  refuse_output_inside(options);
  remove_leftovers(options.output, result.warnings);
  if (!options.secrets_to.empty()) {
    if (options.secrets == Secrets::include)
      throw Error(options.secrets_to,
                  "--secrets-to keeps apart what pack leaves out; --include-secrets leaves out nothing");
    if (options.secrets_to == options.output)
      throw Error(options.secrets_to, "the secrets archive must be another file");
    PackOptions apart = options;
    apart.output = options.secrets_to;
    refuse_output_inside(apart);
    remove_leftovers(options.secrets_to, result.warnings);
  }
  // dpkg's file lists take as long to read as the jail takes to walk: read them meanwhile.
  std::future<std::vector<PackagePin>> packages;
  if (!manifest.provenance)
    packages = std::async(std::launch::async, [&manifest] {
      return owning_packages(manifest.plan, HostRoot(manifest.plan.spec.host_root));
    });

  // Walk the jail, and check it is what the manifest says.
  JailScan scan = scan_jail(jail.root(), manifest.plan, options.state);
  result.left_out = scan.left_out;
  result.warnings.insert(result.warnings.end(), scan.warnings.begin(), scan.warnings.end());
  if (std::vector<std::string> problems = check_against_plan(scan.items, manifest.plan); !problems.empty())
    throw Error(options.dir, "cannot pack this jail:" + joined(problems));
  // Private keys never leave the host by accident: left out, listed, and marked secret in the
  // archive's manifest (which is then written anew, else byte for byte) so that unpack says the
  // jail needs them instead of refusing an incomplete archive.
  std::vector<LeftOutSecret> left_out;
  if (options.secrets == Secrets::leave_out) {
    left_out = take_out_secrets(jail, scan.items, manifest.plan);
    for (const LeftOutSecret& secret : left_out) {
      result.secrets.push_back(secret.path);
      result.warnings.push_back(secret.path + ": left out: secret (" + secret.why +
                                "); --include-secrets packs it, --secrets-to FILE keeps it apart");
    }
    if (!left_out.empty()) manifest_text = manifest_to_json(manifest);
  }
  mark_hardlinks(scan.items);

  // Record where the files came from, and the digest of every file the plan does not list.
  const PlanIndex plan = index_of(manifest.plan);
  Provenance provenance = provenance_for(manifest, jail, scan.items, plan, packages, mtime, result.warnings);
  // Which files the admin must restore on the other host: unpack lists them ("left out: secret").
  provenance.left_out_secrets = result.secrets;
  std::sort(provenance.left_out_secrets.begin(), provenance.left_out_secrets.end());

  // Write the manifest and the provenance first, then every item, verifying each file as it streams.
  ScopedUtf8Locale utf8;
  if (!utf8.active())
    for (const PackItem& item : scan.items)
      if (!is_ascii(item.path) || !is_ascii(item.link_target))
        throw Error(jail.path(item.path),
                    "a non-ASCII name needs the C.UTF-8 locale, which this system lacks");
  OutputFile out(options.output);
  ArchiveWriter writer(out, compression_for(options.output));
  writer.entry(manifest_dir, AE_IFDIR, 0700, 0, 0, mtime);
  writer.write_header(manifest_dir);
  writer.write_file(manifest_file, manifest_text, mtime);
  writer.write_file(provenance_file, provenance_to_json(provenance), mtime);
  result.entries = 3;
  std::vector<std::string> problems;
  auto buffer = std::make_unique_for_overwrite<char[]>(pack_buffer_size);
  for (const PackItem& item : scan.items) {
    ++result.entries;
    if (!S_ISREG(item.st.st_mode) || !item.hardlink_to.empty()) {
      write_non_file(writer, item, mtime);
      continue;
    }
    auto it = plan.find(item.path);
    const PlanEntry* entry = it == plan.end() ? nullptr : it->second;
    const std::string* planned = planned_digest(plan, item.path);
    std::optional<std::string> digest =
        pack_file(writer, jail, item, planned ? entry : nullptr, mtime, buffer.get(), result.bytes);
    if (digest && *digest != (planned ? *planned : unplanned_digest(provenance, item.path)))
      problems.push_back(item.path + (planned ? " differs from its manifest digest (run jailbuild audit)"
                                              : " changed while being packed"));
  }
  if (!problems.empty()) throw Error(options.dir, "cannot pack this jail:" + joined(problems));
  writer.close();

  // The secrets apart, written whole before the archive is published, renamed into place after it.
  std::optional<OutputFile> secrets_out;
  if (!options.secrets_to.empty()) {
    secrets_out.emplace(options.secrets_to);
    ArchiveWriter secrets(*secrets_out, compression_for(options.secrets_to));
    uint64_t ignored = 0;
    for (const LeftOutSecret& secret : left_out)
      pack_file(secrets, jail, PackItem{secret.path, {}, {}, {}}, nullptr, mtime, buffer.get(), ignored);
    secrets.close();
  }

  // Publish: rename into place, then FILE.sha256.
  result.sha256 = out.commit();
  write_checksum_file(options.output, result.sha256);
  if (secrets_out) secrets_out->commit();
  return result;
}

namespace {

bool pack_entry(const PackOptions* options, PackResult* result, ModuleFailure* failure) noexcept {
  return catch_into(failure, [&] { *result = pack_with_libarchive(*options); });
}

bool unpack_entry(const UnpackOptions* options, UnpackResult* result, ModuleFailure* failure) noexcept {
  return catch_into(failure, [&] { *result = unpack_with_libarchive(*options); });
}

} // namespace

} // namespace jailbuild

// The entry table: extern "C" and exported, as pack_module.hpp declares it.
const jailbuild::ArchiveModule jailbuild_archive_module = {
    .header = {JB_VERSION},
    .pack = jailbuild::pack_entry,
    .unpack = jailbuild::unpack_entry,
};
