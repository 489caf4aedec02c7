// SPDX-License-Identifier: MIT
// The audit's walk of a jail. Each directory is opened beneath its parent's fd with O_NOFOLLOW and
// its entries are lstat'ed with fstatat(AT_SYMLINK_NOFOLLOW), so a symlink planted anywhere in the jail
// is reported as a symlink and never followed to the host. Mount points (from mountinfo, or a change
// of device) are reported, not entered: what is mounted is the host's. The directories are shared out
// to the threads one at a time: a jail's tree is mostly lstat() calls, and two cores make them twice
// as fast whatever the shape of the tree.
#include "audit_internal.hpp"

#include "jailbuild/fd.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <dirent.h>
#include <fcntl.h>
#include <mutex>
#include <sys/syscall.h>
#include <sys/xattr.h>

namespace jailbuild::audit {

namespace {

/// Deeper than this, a tree is a trap (or a bug).
constexpr int max_depth = 256;

/// One directory's share of the walk: what lies below it, down to the directories that were handed
/// to the queue as tasks of their own.
struct WalkTask {
  Node top;
  UniqueFd fd; ///< open (O_RDONLY) until walked
  int depth = 0;
  std::vector<Node> nodes; ///< nodes[0] is top; parents are indices into this list
  std::vector<Finding> findings;
  std::vector<std::pair<std::size_t, std::size_t>> children; ///< (node, task) of the directories handed on
};

/// The directories waiting to be walked, shared by the threads: a jail's tree is mostly lstat()
/// calls, and two cores make them twice as fast whatever the shape of the tree.
class WalkQueue {
public:
  /// Queues a directory and takes its fd; npos when max_open directories are already held open
  /// (the caller keeps the fd and walks it on the spot).
  std::size_t add(const Node& top, UniqueFd&& fd, int depth) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (open_ >= max_open) return std::string::npos;
    ++open_;
    ++pending_;
    tasks_.push_back({top, std::move(fd), depth, {}, {}, {}}); // a deque: earlier tasks stay put
    ready_.notify_one();
    return tasks_.size() - 1;
  }
  /// The next task; nullptr once every task is done.
  WalkTask* next() {
    std::unique_lock<std::mutex> lock(mutex_);
    ready_.wait(lock, [&] { return next_ < tasks_.size() || pending_ == 0; });
    return next_ < tasks_.size() ? &tasks_[next_++] : nullptr;
  }
  void finished(WalkTask& task) {
    task.fd.reset();
    std::lock_guard<std::mutex> lock(mutex_);
    --open_;
    if (--pending_ == 0) ready_.notify_all();
  }
  WalkTask& operator[](std::size_t id) { return tasks_[id]; }

private:
  static constexpr std::size_t max_open = 256;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<WalkTask> tasks_;
  std::size_t next_ = 0, pending_ = 0, open_ = 0;
};

/// Walks one task's directory: lists it, lstat()s every entry, and hands each subdirectory to the
/// queue (or walks it on the spot when the queue is full).
class Walker {
public:
  /// read_links: read every symlink's text as it is met (the integrity check compares them all);
  /// otherwise audit_jail reads only the few the rules look at.
  Walker(const JailFs& jail, const std::set<std::string>& mount_points, bool read_links, WalkQueue& queue)
      : jail_(jail), mount_points_(mount_points), read_links_(read_links), queue_(queue) {
    // xattrs are read by path through /proc/self/fd/<dir>/<name>: the directory is the one we hold
    // open, and the l-variant does not follow the last component.
    proc_fd_ = ::access("/proc/self/fd", X_OK) == 0;
  }

  void run(WalkTask& task) {
    task_ = &task;
    task.nodes.push_back(task.top);
    task.nodes.back().parent = -1;
    walk(task.fd.get(), 0, task.depth);
  }

private:
  void walk(int dir_fd, std::size_t index, int depth) {
    std::vector<Node>& nodes = task_->nodes;
    // The names first: the buffer is then free for the subdirectories walked on the spot. Their
    // order does not matter: the findings are sorted at the end.
    std::vector<std::string> names;
    for (;;) {
      long got = ::syscall(SYS_getdents64, dir_fd, buffer_.data(), buffer_.size());
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) {
        error(nodes[index].path, "cannot list the directory", errno);
        return;
      }
      if (got == 0) break;
      for (long at = 0; at < got;) {
        // glibc's dirent64 has the kernel's linux_dirent64 layout (readdir64 hands these out as they are).
        const auto* entry = reinterpret_cast<const struct dirent64*>(buffer_.data() + at);
        if (std::strcmp(entry->d_name, ".") != 0 && std::strcmp(entry->d_name, "..") != 0)
          names.emplace_back(entry->d_name);
        at += entry->d_reclen;
      }
    }
    for (const std::string& name : names) {
      Node node;
      const std::string& parent_path = nodes[index].path;
      node.path = (parent_path == "/" ? "" : parent_path) + "/" + name;
      node.parent = static_cast<int>(index);
      if (::fstatat(dir_fd, name.c_str(), &node.st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno != ENOENT) error(node.path, "cannot read its status", errno);
        continue; // removed while we walked
      }
      if (S_ISLNK(node.st.st_mode) && read_links_) node.link = read_link(dir_fd, name);
      if (S_ISREG(node.st.st_mode)) node.capability = has_capability(dir_fd, name, node.path, node.st);
      node.mount = mount_points_.count(node.path) != 0 ||
                   (S_ISDIR(node.st.st_mode) && node.st.st_dev != nodes[index].st.st_dev);
      std::size_t child = nodes.size();
      nodes.push_back(std::move(node));
      const Node& added = nodes[child];
      if (!S_ISDIR(added.st.st_mode) || added.mount) continue;
      if (depth + 1 >= max_depth) {
        task_->findings.push_back(
            {"audit-error", Severity::high, added.path,
             "more than " + std::to_string(max_depth) + " levels deep: not walked further",
             "flatten the tree"});
        continue;
      }
      // O_RDONLY, not O_PATH: the same fd lists the directory. O_DIRECTORY and O_NOFOLLOW refuse
      // anything swapped in since the fstatat, and opening a directory acts on nothing.
      UniqueFd sub(::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      struct stat st {};
      if (sub.get() < 0 || ::fstat(sub.get(), &st) != 0) {
        if (errno != ENOENT) error(added.path, "cannot open the directory", errno);
        continue;
      }
      if (st.st_dev != added.st.st_dev || st.st_ino != added.st.st_ino) {
        task_->findings.push_back(
            {"audit-error", Severity::high, added.path, "was replaced while the audit read it",
             "audit again; if it keeps happening, something in the jail is racing the audit"});
        continue;
      }
      std::size_t id = queue_.add(added, std::move(sub), depth + 1);
      if (id != std::string::npos)
        task_->children.emplace_back(child, id);
      else
        walk(sub.get(), child, depth + 1); // add() refused it: `sub` still holds the fd
    }
  }

  void error(const std::string& path, const std::string& what, int err) {
    task_->findings.push_back({"audit-error", Severity::medium, path,
                               what + ": " + std::strerror(err) + "; not checked", "run the audit as root"});
  }

  /// The text of a symlink; "" when it cannot be read (it went meanwhile).
  static std::string read_link(int dir_fd, const std::string& name) {
    return read_link_at(dir_fd, name.c_str()).value_or("");
  }

  /// Only a file that can be executed, or whose owner could make it executable, is asked: exec()
  /// is what grants file capabilities, and a write by anyone but root removes them. That spares
  /// the path lookup for the hundreds of 0644 libraries of a PHP jail.
  bool has_capability(int dir_fd, const std::string& name, const std::string& path, const struct stat& st) {
    if (!(st.st_mode & 0111) && st.st_uid == 0) return false;
    std::string where = proc_fd_ ? "/proc/self/fd/" + std::to_string(dir_fd) + "/" + name : jail_.path(path);
    if (::lgetxattr(where.c_str(), "security.capability", nullptr, 0) >= 0) return true;
    if (errno != ENODATA && errno != ENOTSUP && errno != ENOENT) error(path, "cannot read its xattrs", errno);
    return false;
  }

  std::vector<char> buffer_ = std::vector<char>(64 * 1024);
  const JailFs& jail_;
  const std::set<std::string>& mount_points_;
  bool read_links_ = true;
  WalkQueue& queue_;
  WalkTask* task_ = nullptr;
  bool proc_fd_ = false;
};

/// Appends a walked task and, after it, the tasks it handed on to ctx: parents before children.
void collect(Context& ctx, WalkQueue& queue, std::size_t id, std::size_t top) {
  WalkTask& task = queue[id];
  std::vector<std::size_t> global(task.nodes.size());
  global[0] = top;
  for (std::size_t i = 1; i < task.nodes.size(); ++i) {
    Node& n = task.nodes[i];
    n.parent = static_cast<int>(global[static_cast<std::size_t>(n.parent)]);
    global[i] = ctx.nodes.size();
    ctx.nodes.push_back(std::move(n));
  }
  for (Finding& f : task.findings)
    ctx.findings.push_back(std::move(f));
  for (const auto& [node, child] : task.children)
    collect(ctx, queue, child, global[node]);
}

} // namespace

void walk_jail(Context& ctx, UniqueFd root_fd, const Node& root, const std::set<std::string>& mount_points,
               bool read_links, unsigned threads) {
  WalkQueue queue;
  ctx.nodes.push_back(root);
  queue.add(root, std::move(root_fd), 0);
  parallel_for(threads, threads, [&](std::size_t) {
    Walker walker(ctx.jail, mount_points, read_links, queue);
    while (WalkTask* task = queue.next()) {
      walker.run(*task);
      queue.finished(*task);
    }
  });
  collect(ctx, queue, 0, 0);
}

} // namespace jailbuild::audit
