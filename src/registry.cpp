// SPDX-License-Identifier: MIT
#include "jailbuild/registry.hpp"

#include "jailbuild/error.hpp"
#include "jailbuild/fd.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <fcntl.h>
#include <fstream>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace jailbuild {

namespace {

/// An exclusive flock on STATE_DIR/lock for the life of the object.
class RegistryLock {
public:
  explicit RegistryLock(const std::string& dir) {
    std::string path = dir + "/lock";
    fd_.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd_) throw system_error(path, "cannot open lock", errno);
    if (::flock(fd_.get(), LOCK_EX) != 0) throw system_error(path, "cannot lock", errno);
  }

private:
  UniqueFd fd_;
};

} // namespace

std::optional<std::string> unrecordable_path(std::string_view path) {
  if (path.empty() || path.front() != '/') return "must be an absolute path";
  for (char c : path)
    if (std::iscntrl(static_cast<unsigned char>(c)))
      return "holds a control character: jailbuild keeps jail paths one per line, and a newline would "
             "make this one two other paths";
  return std::nullopt;
}

Registry::Registry(std::string state_dir) : dir_(std::move(state_dir)) {
  while (dir_.size() > 1 && dir_.back() == '/')
    dir_.pop_back();
}

std::vector<std::string> Registry::list() const {
  std::vector<std::string> jails;
  std::ifstream in(dir_ + "/jails");
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line.front() == '/') jails.push_back(line);
  std::sort(jails.begin(), jails.end());
  jails.erase(std::unique(jails.begin(), jails.end()), jails.end());
  return jails;
}

void Registry::rewrite(const std::vector<std::string>& jails) {
  std::string text;
  for (const std::string& j : jails)
    text += j + '\n';
  AtomicFile file(dir_ + "/jails", 0644);
  file.write(text);
  file.commit();
}

void Registry::add(const std::string& jail) {
  if (std::optional<std::string> why = unrecordable_path(jail)) throw Error(jail, *why);
  if (::mkdir(dir_.c_str(), 0755) != 0 && errno != EEXIST)
    throw system_error(dir_, "cannot create state directory", errno);
  RegistryLock lock(dir_);
  std::vector<std::string> jails = list();
  if (std::find(jails.begin(), jails.end(), jail) != jails.end()) return;
  jails.push_back(jail);
  std::sort(jails.begin(), jails.end());
  rewrite(jails);
}

void Registry::remove(const std::string& jail) {
  struct stat st;
  if (::stat(dir_.c_str(), &st) != 0) return;
  RegistryLock lock(dir_);
  std::vector<std::string> jails = list();
  auto it = std::find(jails.begin(), jails.end(), jail);
  if (it == jails.end()) return;
  jails.erase(it);
  rewrite(jails);
}

RegisteredJails registered_jails(Registry& registry, Unregister unregister) {
  RegisteredJails out;
  for (std::string& jail : registry.list()) {
    struct stat st;
    if (::lstat(jail.c_str(), &st) != 0 && errno == ENOENT) {
      if (unregister == Unregister::gone) registry.remove(jail);
      out.gone.push_back(std::move(jail));
    } else {
      out.present.push_back(std::move(jail));
    }
  }
  return out;
}

} // namespace jailbuild
