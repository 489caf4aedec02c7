// SPDX-License-Identifier: MIT
#include "jailbuild/inputs.hpp"

#include "jailbuild/fd.hpp"
#include "jailbuild/hostfs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <link.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>

namespace jailbuild {

namespace {

/// A change this close before planning began may not show in a file's times (see inputs_unchanged):
/// the coarsest clock a Linux file system keeps times with (FAT's 2 s; ext4 and tmpfs use a tick).
constexpr int64_t racy_window_ns = 2'000'000'000;

/// Where dpkg keeps each package's file list, conffiles and scripts (see InputLog::saw).
constexpr std::string_view dpkg_info_dir = "/var/lib/dpkg/info";

int64_t ns_of(const struct timespec& t) {
  return static_cast<int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

std::string real_of(const std::string& root, std::string_view host_path) {
  std::string out = root;
  out += host_path;
  return out;
}

InputStamp look(const std::string& real_path, bool follow) {
  struct stat st;
  int rc = follow ? ::stat(real_path.c_str(), &st) : ::lstat(real_path.c_str(), &st);
  return rc == 0 ? input_stamp_of(st) : InputStamp{};
}

/// Whether `now` is what `recorded` saw, as closely as it was looked at.
bool same(const Input& recorded, const InputStamp& now) {
  const InputStamp& was = recorded.seen;
  if (was.mode == 0 || now.mode == 0) return was.mode == now.mode;
  if (was.dev != now.dev || was.ino != now.ino || was.mode != now.mode || was.uid != now.uid ||
      was.gid != now.gid)
    return false;
  if (recorded.scrutiny == Scrutiny::whole) return was == now;
  // A symlink's text cannot change in place: a new text is a new inode, or at least a new ctime.
  if (S_ISLNK(was.mode)) return was.ctime_ns == now.ctime_ns && was.size == now.size;
  return true;
}

std::vector<Input> sorted(std::unordered_map<std::string, Input>& map) {
  std::vector<Input> out;
  out.reserve(map.size());
  for (auto& [key, input] : map)
    out.push_back(std::move(input));
  std::sort(out.begin(), out.end(), [](const Input& a, const Input& b) {
    return a.path != b.path ? a.path < b.path : a.follow < b.follow;
  });
  return out;
}

/// Looks at paths the way lstat/stat would, from their directory opened once for all the names in it
/// (the inputs are sorted, so a directory's names come together): a short lookup instead of a walk
/// from "/" for each of thousands of paths.
class Looker {
public:
  explicit Looker(const std::string& root) : root_(root) {}

  InputStamp look_at(const Input& in) {
    size_t slash = in.path.rfind('/');
    if (slash == std::string::npos || slash + 1 == in.path.size())
      return look(real_of(root_, in.path), in.follow);
    std::string_view dir(in.path.data(), slash == 0 ? 1 : slash);
    if (dir != dir_) {
      dir_ = std::string(dir);
      // Symlinks in the directory part are followed, as by lstat(2) on the whole path.
      dir_fd_.reset(::open(real_of(root_, dir_).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    }
    if (!dir_fd_) return {};
    struct stat st;
    if (::fstatat(dir_fd_.get(), in.path.c_str() + slash + 1, &st, in.follow ? 0 : AT_SYMLINK_NOFOLLOW) != 0)
      return {};
    return input_stamp_of(st);
  }

private:
  const std::string& root_;
  std::string dir_;
  UniqueFd dir_fd_;
};

bool all_unchanged(const std::vector<Input>& inputs, const std::string& root, int64_t racy_from_ns) {
  Looker looker(root);
  for (const Input& in : inputs) {
    if (!same(in, looker.look_at(in))) return false;
    // Seen whole (or a symlink, whose text is known by its ctime) and changed just before planning
    // began: a second change in the same clock tick would leave the same times behind. Plan again; the
    // record made then is settled.
    bool timed = in.scrutiny == Scrutiny::whole || S_ISLNK(in.seen.mode);
    if (timed && in.seen.mode != 0 && std::max(in.seen.mtime_ns, in.seen.ctime_ns) >= racy_from_ns)
      return false;
  }
  return true;
}

} // namespace

InputStamp input_stamp_of(const struct stat& st) {
  InputStamp s;
  s.mode = st.st_mode;
  s.uid = st.st_uid;
  s.gid = st.st_gid;
  s.dev = st.st_dev;
  s.ino = st.st_ino;
  s.size = st.st_size;
  s.mtime_ns = ns_of(st.st_mtim);
  s.ctime_ns = ns_of(st.st_ctim);
  return s;
}

InputLog::InputLog(std::string host_root) : root_(std::move(host_root)) {
  struct timespec now;
  ::clock_gettime(CLOCK_REALTIME, &now);
  started_ns_ = ns_of(now);
}

void InputLog::note(std::unordered_map<std::string, Input>& into, std::string_view path,
                    const InputStamp& seen, Scrutiny scrutiny, bool follow) {
  std::string key(path);
  key += follow ? '\1' : '\0';
  auto [it, fresh] = into.try_emplace(std::move(key));
  Input& in = it->second;
  if (fresh) {
    in.path = std::string(path);
    in.follow = follow;
    in.seen = seen;
  } else if (!(in.seen == seen)) {
    unstable_ = true;
  }
  in.scrutiny = std::max(in.scrutiny, scrutiny);
}

void InputLog::saw(std::string_view host_path, const struct stat* st, Scrutiny scrutiny, bool follow) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (st && S_ISREG(st->st_mode) && host_path.size() > dpkg_info_dir.size() &&
      host_path.starts_with(dpkg_info_dir) && host_path[dpkg_info_dir.size()] == '/' &&
      host_path.find('/', dpkg_info_dir.size() + 1) == std::string_view::npos) {
    // dpkg's database files (a plan reads every package's file list) change only through dpkg,
    // which writes each as FILE-new and renames it into place: the directory's times say it. One
    // record instead of ~1,000, each of which a no-op sync would look at again.
    note(host_, dpkg_info_dir, look(real_of(root_, dpkg_info_dir), true), Scrutiny::whole, true);
    return;
  }
  if (st) {
    note(host_, host_path, input_stamp_of(*st), scrutiny, follow);
    return;
  }
  // Missing: it appears when its directory gains an entry, which changes the directory's times. One
  // record per directory instead of one per name probed (the walk probes thousands).
  std::string dir = dirname_of(host_path);
  if (dir == host_path) return; // "/" is always there
  auto it = host_.find(dir + '\1');
  if (it != host_.end() && it->second.scrutiny == Scrutiny::whole) return;
  note(host_, dir, look(real_of(root_, dir), true), Scrutiny::whole, true);
}

void InputLog::saw_tool(const std::vector<std::string>& profile_dirs) {
  std::lock_guard<std::mutex> lock(mutex_);
  note(tool_, "/proc/self/exe", look("/proc/self/exe", true), Scrutiny::whole, true);
  // The shared libraries jailbuild runs with (toml++ reads the profiles, libstdc++ sorts the plan):
  // an upgrade of one of them may plan differently too.
  std::vector<std::string> libraries;
  ::dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* out) {
        if (info->dlpi_name && info->dlpi_name[0] == '/')
          static_cast<std::vector<std::string>*>(out)->emplace_back(info->dlpi_name);
        return 0;
      },
      &libraries);
  for (const std::string& library : libraries)
    note(tool_, library, look(library, true), Scrutiny::whole, true);
  for (const std::string& dir : profile_dirs) {
    note(tool_, dir, look(dir, true), Scrutiny::whole, true);
    DIR* d = ::opendir(dir.c_str());
    if (!d) continue;
    while (dirent* e = ::readdir(d)) {
      std::string_view name = e->d_name;
      if (name == "." || name == "..") continue;
      std::string path = dir + "/" + std::string(name);
      note(tool_, path, look(path, true), Scrutiny::whole, true);
    }
    ::closedir(d);
  }
}

PlanInputs InputLog::finish() && {
  std::lock_guard<std::mutex> lock(mutex_);
  PlanInputs out;
  if (unstable_) return out;
  out.planned_at_ns = started_ns_;
  out.host = sorted(host_);
  out.tool = sorted(tool_);
  return out;
}

bool inputs_unchanged(const PlanInputs& inputs, const std::string& host_root) {
  // A record without paths says nothing about the host: every real plan reads host files, and the
  // tool record holds at least the executable. A manifest may come from elsewhere (an archive, a
  // directory someone else made): such a record must not make sync reuse its entries unplanned.
  if (inputs.empty() || inputs.host.empty() || inputs.tool.empty()) return false;
  int64_t racy_from = inputs.planned_at_ns - racy_window_ns;
  return all_unchanged(inputs.tool, "", racy_from) && all_unchanged(inputs.host, host_root, racy_from);
}

} // namespace jailbuild
