// SPDX-License-Identifier: MIT
// The per-jail lock that create, sync, mount, umount and pack share: an flock on DIR/.jailbuild/lock.
#pragma once
#include "jailbuild/fd.hpp"

#include <chrono>
#include <string>

namespace jailbuild {

/// What the holder of a jail's lock will do with the jail.
enum class LockFor {
  change, ///< create, sync, mount, umount: exclusive
  look,   ///< a dry run, pack: shared. The lock file is neither created nor opened for writing, so
          ///< that a read-only jail can be looked at; a jail without one has no lock to take.
};

/// One jailbuild at a time changes a jail: the apt hook's `sync --all`, the daily timer and an admin's
/// `create` may meet. Held for the life of the object.
class JailLock {
public:
  /// Takes DIR's lock (DIR/.jailbuild/lock; neither .jailbuild nor the lock file is followed if a
  /// symlink), waiting up to `wait` for another jailbuild. Throws Error(dir, "another jailbuild holds
  /// the jail's lock (...)") after that, Error(dir, "not a jailbuild jail: ...") without .jailbuild,
  /// and Error(dir, "... removed ...") when the jail was removed (a create that failed) while this
  /// one waited.
  explicit JailLock(const std::string& dir, LockFor intent = LockFor::change,
                    std::chrono::milliseconds wait = std::chrono::seconds(60));

private:
  UniqueFd fd_;
};

} // namespace jailbuild
