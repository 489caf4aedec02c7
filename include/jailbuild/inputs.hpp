// SPDX-License-Identifier: MIT
// What a plan was made from. A plan is a pure function of the spec, the profiles, the jailbuild that
// made it and the host paths the planner looked at. While planning, HostRoot records every look in an
// InputLog (the path and what lstat(2) or stat(2) saw); the manifest keeps the record, and sync plans
// again only when a second look at one of those paths would see something else. After an apt run
// something always differs (dpkg renames files into place: new inodes, new directory times), so a sync
// from the apt hook still plans; a sync from the daily timer, with nothing changed, does not.
#pragma once
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

struct stat;

namespace jailbuild {

/// What one look at a path saw. mode 0: nothing there.
struct InputStamp {
  uint32_t mode = 0;
  uint32_t uid = 0, gid = 0;
  uint64_t dev = 0, ino = 0;
  int64_t size = 0, mtime_ns = 0, ctime_ns = 0;
  bool operator==(const InputStamp&) const = default;
};

InputStamp input_stamp_of(const struct stat& st);

/// How closely a path was looked at, and so what a later look must find unchanged.
enum class Scrutiny : uint8_t {
  /// Walked through, or asked what it is: the same inode with the same type, mode and owner (and, for
  /// a symlink, the same text: its ctime and size). A directory's entries may change.
  passed = 0,
  /// Read or listed: all of the above and the same size, mtime and ctime (a file's content, a
  /// directory's entries).
  whole = 1,
};

struct Input {
  std::string path; ///< a host path (below --host-root), or a real path for jailbuild's own inputs
  Scrutiny scrutiny = Scrutiny::passed;
  bool follow = false; ///< looked at with stat(2), symlinks followed; lstat(2) otherwise
  InputStamp seen;
  bool operator==(const Input&) const = default;
};

/// The record a manifest keeps. Empty (planned_at_ns 0) for a plan made without one: sync then plans.
struct PlanInputs {
  int64_t planned_at_ns = 0; ///< CLOCK_REALTIME when planning began
  std::vector<Input> host;   ///< host paths, sorted
  std::vector<Input> tool;   ///< the jailbuild executable and its profile files, real paths, sorted
  bool empty() const { return planned_at_ns == 0; }
  bool operator==(const PlanInputs&) const = default;
};

/// Collects the looks of one planning run. HostRoot records into it (HostRoot::set_input_log); the
/// planner runs on one thread today, but HostRoot is shared by const reference, so the log locks.
class InputLog {
public:
  /// `host_root` as HostRoot has it ("" for "/"): the log looks at parent directories itself.
  explicit InputLog(std::string host_root);

  /// A host path was looked at; `st` nullptr: it was not there (ENOENT, ENOTDIR). A missing path
  /// depends on its directory's entries, so the directory (followed) is recorded instead of the path.
  void saw(std::string_view host_path, const struct stat* st, Scrutiny scrutiny, bool follow);
  /// jailbuild's own inputs: its executable and the shared libraries loaded now (a new build may
  /// plan differently), and the profile directories with every file in them.
  void saw_tool(const std::vector<std::string>& profile_dirs);

  /// The record, sorted. Empty when a path was seen twice with different stamps (the host changed
  /// while planning): the plan may mix both states, so the next sync must plan again.
  PlanInputs finish() &&;

private:
  void note(std::unordered_map<std::string, Input>& into, std::string_view path, const InputStamp& seen,
            Scrutiny scrutiny, bool follow);
  std::string root_;
  int64_t started_ns_;
  std::mutex mutex_;
  std::unordered_map<std::string, Input> host_, tool_;
  bool unstable_ = false;
};

/// Whether every recorded input still looks as it did, and none of them is racy: file times are
/// coarse (a clock tick, 2 s on FAT), so a change made within two seconds before planning began may
/// not show in them. `host_root` as HostRoot has it. False for an empty record, and for one without
/// host paths or without jailbuild's own (a real plan always has both).
bool inputs_unchanged(const PlanInputs& inputs, const std::string& host_root);

} // namespace jailbuild
