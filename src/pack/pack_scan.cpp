// SPDX-License-Identifier: MIT
// What goes into an archive: the walk of the jail (never following a symlink, leaving runtime state
// out) and the checks that the jail is what its manifest says. No archive code here (pack.cpp).
#include "pack_internal.hpp"

#include "jailbuild/decide.hpp"
#include "jailbuild/elf.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/fd.hpp"
#include "jailbuild/hostfs.hpp"
#include "jailbuild/jailfs.hpp"
#include "jailbuild/manifest.hpp"
#include "jailbuild/mounts.hpp"
#include "jailbuild/plan_builder.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <dirent.h>
#include <fcntl.h>
#include <memory>
#include <optional>
#include <set>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <tuple>
#include <unistd.h>
#include <unordered_map>

namespace jailbuild {

namespace {

/// Jail directories whose content is runtime state: left out unless --include-state (the
/// directories themselves are kept, so the services find them).
constexpr const char* runtime_dirs[] = {"/run", "/tmp", "/var/tmp", "/var/log"};

bool is_temp_name(std::string_view name) {
  // JailFs's ".<name>.jbtmp.<16 hex>": the leftover of an interrupted write, never jail content.
  std::size_t at = name.rfind(".jbtmp.");
  return !name.empty() && name[0] == '.' && at != std::string_view::npos && name.size() - at == 7 + 16;
}

/// lstat() of dir_fd/name into `st`, and the mount id of what is there (0 when the kernel gives
/// none: before Linux 5.8); nullopt with errno on failure.
std::optional<uint64_t> status(int dir_fd, const char* name, int flags, struct stat& st) {
  struct statx x {};
  if (::statx(dir_fd, name, flags | AT_NO_AUTOMOUNT, STATX_BASIC_STATS | STATX_MNT_ID, &x) != 0)
    return std::nullopt;
  st = {};
  st.st_dev = makedev(x.stx_dev_major, x.stx_dev_minor);
  st.st_ino = x.stx_ino;
  st.st_mode = x.stx_mode;
  st.st_nlink = x.stx_nlink;
  st.st_uid = x.stx_uid;
  st.st_gid = x.stx_gid;
  st.st_rdev = makedev(x.stx_rdev_major, x.stx_rdev_minor);
  st.st_size = static_cast<off_t>(x.stx_size);
  st.st_blksize = x.stx_blksize;
  st.st_blocks = static_cast<blkcnt_t>(x.stx_blocks);
  st.st_atim = {x.stx_atime.tv_sec, x.stx_atime.tv_nsec};
  st.st_mtim = {x.stx_mtime.tv_sec, x.stx_mtime.tv_nsec};
  st.st_ctim = {x.stx_ctime.tv_sec, x.stx_ctime.tv_nsec};
  return (x.stx_mask & STATX_MNT_ID) ? x.stx_mnt_id : 0;
}

/// The jail paths of the mount points below a directory, from the mount table: what tells a bind
/// mount of the same file system where the kernel gives no mount ids.
std::set<std::string> mount_points_below(const std::string& dir) {
  char real[PATH_MAX];
  if (!::realpath(dir.c_str(), real)) throw system_error(dir, "resolving", errno);
  const std::string root = real;
  std::set<std::string> points;
  for (const MountInfo& m : read_mountinfo())
    if (m.mount_point.size() > root.size() && m.mount_point.starts_with(root) &&
        (root == "/" || m.mount_point[root.size()] == '/'))
      points.insert(root == "/" ? m.mount_point : m.mount_point.substr(root.size()));
  return points;
}

/// Walks the jail below an fd of its root, never following a symlink: each directory is opened
/// with O_NOFOLLOW beneath its parent's fd, each entry is lstat'ed through its directory's fd.
class JailWalk {
public:
  JailWalk(const std::string& root, const Plan& plan, StateFiles state) : root_(root), state_(state) {
    for (const PlanEntry& e : plan.entries)
      planned_.emplace(e.path, &e);
    state_dirs_.insert(std::begin(runtime_dirs), std::end(runtime_dirs));
    // A site's writable directories (uploads) hold the site's data, not runtime state: a backup
    // without them loses what the site's users uploaded.
    auto in_site = [&](const std::string& path) {
      return std::any_of(plan.spec.sites.begin(), plan.spec.sites.end(), [&](const SiteSpec& site) {
        return path == site.docroot || path.starts_with(site.docroot + "/");
      });
    };
    for (const PlanEntry& e : plan.entries)
      if (e.role == EntryRole::state && e.kind == EntryKind::directory && !in_site(e.path))
        state_dirs_.insert(e.path);
  }

  void run() {
    UniqueFd fd(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) throw system_error(root_, "opening the jail", errno);
    struct stat st {};
    std::optional<uint64_t> mount_id = status(fd.get(), "", AT_EMPTY_PATH, st);
    if (!mount_id) throw system_error(root_, "reading status", errno);
    root_dev_ = st.st_dev;
    root_mount_ = *mount_id;
    if (root_mount_ == 0) mount_points_ = mount_points_below(root_);
    walk(std::move(fd));
  }

  std::vector<PackItem> items; ///< in path_less order: names are sorted in each directory, parents first
  std::vector<std::string> warnings;
  std::size_t left_out = 0;

private:
  /// A directory being walked: its fd, its sorted names, and how far the walk got.
  struct Frame {
    UniqueFd fd;
    std::string prefix; ///< its jail path, "" for the root
    std::vector<std::string> names;
    std::size_t next = 0;
  };

  const PlanEntry* planned(const std::string& path) const {
    auto it = planned_.find(path);
    return it == planned_.end() ? nullptr : it->second;
  }

  bool in_state_dir(const std::string& path) const {
    for (std::string p = dirname_of(path); p != "/"; p = dirname_of(p))
      if (state_dirs_.count(p)) return true;
    return false;
  }

  /// The sorted names of a directory (byte order per directory = path_less order overall).
  std::vector<std::string> names_in(int dir_fd, const std::string& prefix) const {
    // fdopendir takes the fd it is given: it reads a duplicate, so the frame keeps its own.
    UniqueFd copy(::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0));
    if (!copy) throw system_error(root_ + prefix, "reading directory", errno);
    DIR* dir = ::fdopendir(copy.get());
    if (!dir) throw system_error(root_ + prefix, "reading directory", errno);
    (void)copy.release(); // closedir closes it
    std::unique_ptr<DIR, int (*)(DIR*)> closer(dir, ::closedir);
    std::vector<std::string> names;
    errno = 0;
    while (dirent* d = ::readdir(dir)) {
      std::string_view name = d->d_name;
      if (name != "." && name != "..") names.emplace_back(name);
    }
    if (errno != 0) throw system_error(root_ + prefix, "reading directory", errno);
    std::sort(names.begin(), names.end());
    return names;
  }

  /// Walks the tree depth first without recursion, one open directory per level: the depth of a
  /// jail's tree is chosen by whoever writes to it, its services included (a recursion 60,000
  /// levels deep overflowed the stack; one fd per level ran out of fds). A directory nested more
  /// than max_jail_depth levels deep holds nothing unpack would accept: below a state directory
  /// whose content is left out anyway it is left out with a warning, anywhere else it is an error.
  void walk(UniqueFd root_fd) {
    std::vector<Frame> stack;
    std::vector<std::string> top = names_in(root_fd.get(), "");
    stack.push_back({std::move(root_fd), "", std::move(top), 0});
    while (!stack.empty()) {
      Frame& frame = stack.back();
      if (frame.next == frame.names.size()) {
        stack.pop_back();
        continue;
      }
      const std::string& name = frame.names[frame.next++];
      if (std::optional<UniqueFd> child = visit(frame.fd.get(), frame.prefix, name)) {
        std::string prefix = frame.prefix + "/" + name;
        std::vector<std::string> names = names_in(child->get(), prefix);
        if (!names.empty() && stack.size() >= max_jail_depth) {
          if (state_ == StateFiles::leave_out && in_state_dir(prefix)) {
            warnings.push_back(prefix + ": left out: runtime state nested more than " +
                               std::to_string(max_jail_depth) + " levels deep");
            ++left_out;
            continue;
          }
          throw Error(root_ + prefix,
                      "holds directories nested more than " + std::to_string(max_jail_depth) +
                          " levels deep, which no jail needs and unpack refuses; remove them");
        }
        stack.push_back({std::move(*child), std::move(prefix), std::move(names), 0});
      }
    }
  }

  /// Looks at one entry of a directory: records it, unless left out; returns an fd of it when it is
  /// a directory to walk.
  std::optional<UniqueFd> visit(int dir_fd, const std::string& prefix, const std::string& name) {
    PackItem item;
    item.path = prefix + "/" + name;
    if (item.path == "/" + std::string(manifest_dir)) return std::nullopt; // written first, from the manifest
    if (is_temp_name(name)) {
      warnings.push_back(item.path + ": left out: a temporary file of an interrupted jailbuild run");
      return std::nullopt;
    }
    std::optional<uint64_t> mount_id = status(dir_fd, name.c_str(), AT_SYMLINK_NOFOLLOW, item.st);
    if (!mount_id) throw system_error(root_ + item.path, "reading status", errno);
    const PlanEntry* plan = planned(item.path);
    // A mount below the jail shows the host's files (a --bind, a profile's bind, a mount made by
    // hand), the same file system or not: pack never reads them. What the jail holds there is the
    // mount point the manifest describes, so that is what goes into the archive.
    if (item.st.st_dev != root_dev_ ||
        (root_mount_ != 0 ? *mount_id != root_mount_ : mount_points_.count(item.path))) {
      if (!plan || (plan->kind != EntryKind::bind && plan->kind != EntryKind::directory)) {
        warnings.push_back(item.path + ": a mount point the manifest does not list: left out, with what is "
                                       "mounted there");
        ++left_out;
        return std::nullopt;
      }
      if (plan->kind == EntryKind::directory)
        warnings.push_back(item.path + ": a mount point; what is mounted there is not packed");
      item.st.st_mode = S_IFDIR | plan->mode;
      item.st.st_uid = plan->uid;
      item.st.st_gid = plan->gid;
      items.push_back(item);
      return std::nullopt;
    }
    const mode_t type = item.st.st_mode & S_IFMT;
    if (type == S_IFSOCK || type == S_IFIFO) { // a live endpoint, meaningless in another place
      ++left_out;
      return std::nullopt;
    }
    if (!plan && type != S_IFDIR && state_ == StateFiles::leave_out && in_state_dir(item.path)) {
      ++left_out;
      return std::nullopt;
    }
    if (type == S_IFLNK) item.link_target = read_link(dir_fd, name, item.path);
    items.push_back(item);
    if (type != S_IFDIR) return std::nullopt;
    if (plan && plan->kind == EntryKind::bind) return std::nullopt; // host data is mounted there, later
    UniqueFd child(::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!child) throw system_error(root_ + item.path, "opening directory", errno);
    return child;
  }

  std::string read_link(int dir_fd, const std::string& name, const std::string& path) const {
    std::optional<std::string> text = read_link_at(dir_fd, name.c_str());
    if (!text) throw system_error(root_ + path, "reading symlink", errno);
    return std::move(*text);
  }

  std::string root_;
  StateFiles state_;
  dev_t root_dev_ = 0;
  uint64_t root_mount_ = 0;            ///< the mount id of the jail root; 0 when the kernel has none
  std::set<std::string> mount_points_; ///< jail paths of mount points, when there are no mount ids
  std::unordered_map<std::string, const PlanEntry*> planned_;
  std::set<std::string> state_dirs_;
};

/// "c 1,3": a device for messages.
std::string device_text(const struct stat& st) {
  return std::string(S_ISCHR(st.st_mode) ? "c " : "b ") + std::to_string(major(st.st_rdev)) + "," +
         std::to_string(minor(st.st_rdev));
}

bool kind_matches(EntryKind kind, mode_t type) {
  switch (kind) {
  case EntryKind::directory:
  case EntryKind::bind:
    return type == S_IFDIR;
  case EntryKind::file:
  case EntryKind::generated:
    return type == S_IFREG;
  case EntryKind::symlink:
    return type == S_IFLNK;
  case EntryKind::device:
    return type == S_IFCHR || type == S_IFBLK;
  }
  return false;
}

/// Whether a name is valid UTF-8: the manifest is JSON, which cannot record other bytes.
bool valid_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    auto byte = static_cast<unsigned char>(text[i]);
    std::size_t length = byte < 0x80           ? 1
                         : (byte >> 5) == 0x6  ? 2
                         : (byte >> 4) == 0xe  ? 3
                         : (byte >> 3) == 0x1e ? 4
                                               : 0;
    if (length == 0 || i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k)
      if ((static_cast<unsigned char>(text[i + k]) & 0xc0) != 0x80) return false;
    i += length;
  }
  return true;
}

} // namespace

JailScan scan_jail(const std::string& root, const Plan& plan, StateFiles state) {
  JailWalk walk(root, plan, state);
  walk.run();
  return {std::move(walk.items), std::move(walk.warnings), walk.left_out};
}

/// Everything that would make the archive refuse to unpack, or unpack into something other than
/// what the manifest describes, all at once.
std::vector<std::string> check_against_plan(const std::vector<PackItem>& items, const Plan& plan) {
  std::vector<std::string> problems;
  std::unordered_map<std::string, const PackItem*> found;
  for (const PackItem& item : items) {
    found.emplace(item.path, &item);
    if (!valid_utf8(item.path) || !valid_utf8(item.link_target))
      problems.push_back(item.path +
                         " has a name or target that is not UTF-8, which the manifest cannot record");
    if (item.st.st_mode & (S_ISUID | S_ISGID))
      problems.push_back(item.path +
                         " is setuid or setgid (jailbuild never installs one; run jailbuild audit)");
    if (S_ISBLK(item.st.st_mode) ||
        (S_ISCHR(item.st.st_mode) &&
         !device_allowed(item.path, DeviceType::character, major(item.st.st_rdev), minor(item.st.st_rdev))))
      problems.push_back(item.path + " is a device node (" + device_text(item.st) +
                         ") that unpack would refuse");
  }
  for (const PlanEntry& e : plan.entries) {
    if (e.path == "/") continue;
    auto it = found.find(e.path);
    if (it == found.end()) {
      if (kept_absent(e)) continue; // a conffile the admin deleted: the archive has none either
      problems.push_back(e.path + " is in the manifest but missing from the jail");
      continue;
    }
    const PackItem& item = *it->second;
    if (!kind_matches(e.kind, item.st.st_mode & S_IFMT))
      problems.push_back(e.path + " is not a " + std::string(to_string(e.kind)) + " as the manifest says");
    else if (e.kind == EntryKind::symlink && item.link_target != e.source)
      problems.push_back(e.path + " points to " + item.link_target + ", the manifest says " + e.source);
  }
  return problems;
}

std::optional<std::string> secret_by_name(std::string_view path) {
  std::string_view name = path.substr(path.rfind('/') + 1);
  if (name == ".env") return "an environment file (credentials)";
  if (path.starts_with("/etc/wordpress/") && name.starts_with("config-") && name.ends_with(".php") &&
      path.find('/', 15) == std::string_view::npos)
    return "Debian's WordPress configuration (database password, keys)";
  if (path == "/etc/phpmyadmin/config-db.php") return "phpMyAdmin's database credentials";
  if (path == "/var/lib/phpmyadmin/blowfish_secret.inc.php") return "phpMyAdmin's blowfish secret";
  return std::nullopt;
}

std::optional<std::string> secret_by_content(std::string_view path, std::string_view head) {
  if (is_private_key_text(head)) return "a PEM private key";
  // wp-config.php holds the database password and the keys, unless it only loads them from elsewhere
  // (Debian's loads /etc/wordpress/config-HOST.php, itself a secret by name): without it the archive
  // is no WordPress site. Only this name is looked at so: WordPress's own code names DB_PASSWORD too.
  if (path.substr(path.rfind('/') + 1) == "wp-config.php")
    for (std::string_view key :
         {"DB_PASSWORD", "AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY", "AUTH_SALT"})
      if (head.find(key) != std::string_view::npos)
        return "WordPress configuration (database password, keys)";
  // $cfg['blowfish_secret'] = '...': phpMyAdmin's cookie encryption key, when it is set to something.
  for (std::size_t at = head.find("blowfish_secret"); at != std::string_view::npos;
       at = head.find("blowfish_secret", at + 1)) {
    std::size_t i = at + 15;
    auto skip = [&](std::string_view chars) {
      while (i < head.size() && chars.find(head[i]) != std::string_view::npos)
        ++i;
    };
    skip("'\" \t]");
    if (i >= head.size() || head[i] != '=') continue;
    ++i;
    skip(" \t");
    if (i + 1 < head.size() && (head[i] == '\'' || head[i] == '"') && head[i + 1] != head[i])
      return "phpMyAdmin's blowfish secret";
  }
  return std::nullopt;
}

std::vector<LeftOutSecret> take_out_secrets(const JailFs& jail, std::vector<PackItem>& items, Plan& plan) {
  std::unordered_map<std::string_view, PlanEntry*> planned;
  for (PlanEntry& e : plan.entries)
    planned.emplace(e.path, &e);
  const std::set<std::string> declared(plan.spec.secrets.begin(), plan.spec.secrets.end());
  // Far above a PEM key or a configuration's secrets; of a larger file only that much is read, so a
  // 10 GB sparse file a service planted costs one read.
  constexpr std::size_t most = 64 << 10;
  std::vector<LeftOutSecret> secrets;
  std::string head;
  std::erase_if(items, [&](const PackItem& item) {
    if (!S_ISREG(item.st.st_mode)) return false;
    auto it = planned.find(item.path);
    PlanEntry* entry = it == planned.end() ? nullptr : it->second;
    // The programs and libraries the jail runs with are never "secrets": leaving one out would
    // make the archive a jail that does not run.
    if (entry && (entry->role == EntryRole::executable || entry->role == EntryRole::library)) return false;
    std::optional<std::string> why;
    if (entry && entry->secret)
      why = "marked secret";
    else if (declared.count(item.path))
      why = "declared secret";
    else
      why = secret_by_name(item.path);
    if (!why) {
      UniqueFd fd(jail.open_read(item.path)); // a regular file, never through a symlink
      head.resize(std::min(most, static_cast<std::size_t>(item.st.st_size)));
      ssize_t n = ::pread(fd.get(), head.data(), head.size(), 0);
      if (n < 0) throw system_error(jail.path(item.path), "cannot read", errno);
      head.resize(static_cast<std::size_t>(n));
      why = secret_by_content(item.path, head);
    }
    if (!why) return false;
    if (entry) entry->secret = true;
    secrets.push_back({item.path, *why});
    return true;
  });
  return secrets;
}

/// The newest ABI tag of the jail's libc, as "3.2.0"; "" when none can be read.
std::string min_kernel_of(const JailFs& jail, const Plan& plan, std::vector<std::string>& warnings) {
  std::optional<ElfAbiTag> newest;
  for (const PlanEntry& e : plan.entries) {
    std::string_view name = std::string_view(e.path).substr(e.path.rfind('/') + 1);
    if (e.kind != EntryKind::file || !name.starts_with("libc.so.")) continue;
    try {
      UniqueFd fd(jail.open_read(e.path));
      // The jail file through its fd: /proc/self/fd/N reopens the same inode, not a path.
      std::optional<ElfAbiTag> tag = read_elf_abi_tag("/proc/self/fd/" + std::to_string(fd.get()));
      auto key = [](const ElfAbiTag& t) { return std::tuple(t.major, t.minor, t.patch); };
      if (tag && tag->os == 0 && (!newest || key(*tag) > key(*newest))) newest = tag;
    } catch (const Error& err) {
      warnings.push_back(e.path + ": cannot read its ELF ABI note: " + err.message());
    }
  }
  if (!newest) return "";
  return std::to_string(newest->major) + "." + std::to_string(newest->minor) + "." +
         std::to_string(newest->patch);
}

} // namespace jailbuild
