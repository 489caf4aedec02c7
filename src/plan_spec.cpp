// SPDX-License-Identifier: MIT
// What a spec may ask for (plan_builder.hpp): the writable directories and bind mounts a command line,
// a profile or a manifest names, checked before anything is planned. A manifest may come from an
// archive, and a writable directory hands a jail path to a service user: neither may reach what root
// reads (/.jailbuild), what the jail runs with (/etc, /usr, ...), or the host through a mount.
#include "jailbuild/bind_source.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/hostfs.hpp"
#include "jailbuild/plan_builder.hpp"
#include "jailbuild/site.hpp"
#include "jailbuild/text.hpp"

#include <algorithm>
#include <cctype>

namespace jailbuild {

namespace {

bool starts_with_dir(const std::string& path, const std::string& dir) {
  return path == dir ||
         (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/');
}

/// Trees of the jail that hold what it runs with: a service owning any of them could change its own
/// programs, libraries or configuration, or plant what root reads (a manifest of its choosing).
constexpr std::string_view jail_system_trees[] = {"/etc",  "/usr", "/bin",  "/sbin", "/dev",
                                                  "/proc", "/sys", "/boot", "/root"};
/// Directories of the jail that jailbuild fills (state, logs, sockets, temporary files): a directory
/// below one may be writable, the whole never.
constexpr std::string_view jail_shared_dirs[] = {"/var",       "/var/lib", "/var/log", "/var/cache",
                                                 "/var/spool", "/var/tmp", "/tmp",     "/run"};

std::string error_label(JailPathUse use) {
  return use == JailPathUse::writable ? "--writable: " : "bind mount point: ";
}

/// A bind source as a spec may name it: clean, absolute, not one refused_bind_source() refuses.
void check_bind_source_text(const std::string& source, const std::string& requested_by) {
  if (source.empty() || source.front() != '/') throw Error(source, "a bind source must be an absolute path");
  if (std::any_of(source.begin(), source.end(),
                  [](char c) { return std::iscntrl(static_cast<unsigned char>(c)); }))
    throw Error(source, "a bind source may not hold a control character");
  for (size_t i = 0; i < source.size();) {
    size_t j = std::min(source.find('/', i), source.size());
    if (source.compare(i, j - i, "..") == 0) throw Error(source, "a bind source may not contain '..'");
    i = j + 1;
  }
  if (std::optional<std::string> why = refused_bind_source(normalize_path(source)))
    throw Error(source, *why + " (" + requested_by + ")");
}

void check_bind_point(const std::string& dest, const std::string& requested_by) {
  if (std::optional<std::string> why = refused_jail_path(dest, JailPathUse::bind_point))
    throw Error(dest, error_label(JailPathUse::bind_point) + *why + " (" + requested_by + ")");
}

} // namespace

BindSpec parse_bind(std::string_view arg) {
  std::vector<std::string> parts = split(arg, ':');
  if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || parts[1].empty() || parts[0][0] != '/' ||
      parts[1][0] != '/')
    throw Error(std::string(arg), "--bind wants SRC:DEST[:ro|rw][,noexec] with absolute paths");
  BindSpec b{parts[0], parts[1], true, false};
  if (parts.size() == 3) {
    for (std::string_view opt : split_view(parts[2], ',')) {
      if (opt == "ro")
        b.read_only = true;
      else if (opt == "rw")
        b.read_only = false;
      else if (opt == "noexec")
        b.noexec = true;
      else
        throw Error(std::string(arg), "--bind option '" + std::string(opt) + "' is not ro, rw or noexec");
    }
  }
  return b;
}

WritableSpec parse_writable(std::string_view arg) {
  std::vector<std::string> parts = split(arg, ':');
  if (parts.size() > 3 || parts[0].empty() || parts[0][0] != '/')
    throw Error(std::string(arg), "--writable wants PATH[:USER[:GROUP]] with an absolute path");
  return {parts[0], parts.size() > 1 && !parts[1].empty() ? parts[1] : "www-data",
          parts.size() > 2 ? parts[2] : ""};
}

std::optional<std::string> refused_jail_path(std::string_view path, JailPathUse use) {
  if (path.empty() || path.front() != '/') return "not an absolute path";
  if (std::any_of(path.begin(), path.end(),
                  [](char c) { return std::iscntrl(static_cast<unsigned char>(c)); }))
    return "holds a control character (a newline would split jailbuild's records)";
  if (path == "/")
    return use == JailPathUse::bind_point ? "a bind mount cannot cover the jail root (its manifest with it)"
                                          : "the jail root must stay root's: a service owning it could "
                                            "replace .jailbuild/ and feed root "
                                            "its own manifest";
  for (size_t i = 1; i <= path.size();) {
    size_t j = std::min(path.find('/', i), path.size());
    std::string_view part = path.substr(i, j - i);
    if (part == "..") return "'..' is not allowed in a jail path";
    if (part.empty() || part == ".") return "not written cleanly: write it as " + normalize_path(path);
    i = j + 1;
  }
  const std::string p(path);
  if (starts_with_dir(p, "/.jailbuild"))
    return "/.jailbuild is jailbuild's manifest directory, which root reads: nothing of a spec goes there";
  if (use == JailPathUse::bind_point) return std::nullopt;
  const size_t top_end = p.find('/', 1);
  if (p.compare(1, 3, "lib") == 0)
    return "a system directory of the jail (" + p.substr(0, top_end) +
           ") is never writable: a service owning it could change the libraries the jail runs with";
  for (std::string_view tree : jail_system_trees)
    if (starts_with_dir(p, std::string(tree)))
      return "a system directory of the jail (" + std::string(tree) +
             ") is never writable: a service owning it could change the programs, libraries or configuration "
             "the jail runs with";
  for (std::string_view dir : jail_shared_dirs)
    if (p == dir)
      return p + " as a whole is never writable: jailbuild puts state, logs and sockets there (make a "
                 "directory below it writable)";
  return std::nullopt;
}

void check_spec(const JailSpec& spec) {
  for (const std::string& x : spec.excludes)
    check_exclude(x);
  for (const OwnFileSpec& f : spec.files)
    check_own_file(f);
  check_sites(spec.sites);
  for (const std::string& s : spec.secrets)
    if (std::optional<std::string> why = refused_jail_path(s, JailPathUse::bind_point))
      throw Error(s, "secret: " + *why);
  // A site's writable directories are writable directories like --writable's, checked alike.
  const std::vector<WritableSpec> writable = all_writable(spec);
  for (const WritableSpec& w : writable)
    if (std::optional<std::string> why = refused_jail_path(w.path, JailPathUse::writable))
      throw Error(w.path, error_label(JailPathUse::writable) + *why);
  for (const BindSpec& b : spec.binds) {
    check_bind_spec(b, "--bind");
  }
  for (size_t i = 0; i < writable.size(); ++i)
    for (size_t j = 0; j < writable.size(); ++j) {
      const std::string& a = writable[i].path;
      const std::string& b = writable[j].path;
      if (i < j && a == b) throw Error(b, "--writable: declared twice");
      if (a != b && starts_with_dir(b, a))
        throw Error(b, "--writable: inside the writable directory " + a +
                           ": the service owning that one could replace this one before root makes it");
    }
  for (const WritableSpec& w : writable)
    for (const BindSpec& b : spec.binds)
      check_writable_beside_bind(w, b.dest, "--bind");
}

void check_bind_spec(const BindSpec& bind, const std::string& requested_by) {
  check_bind_point(bind.dest, requested_by);
  check_bind_source_text(bind.source, requested_by);
}

/// A bind mount point is the host's once mounted: a writable directory there or below it would be
/// made (and chowned to the service) in the host's source by a re-run while the bind is mounted; one
/// around it lets the service swap the mount point.
void check_writable_beside_bind(const WritableSpec& w, const std::string& point,
                                const std::string& requested_by) {
  if (w.path == point)
    throw Error(w.path, "--writable: also a bind mount point (" + requested_by +
                            "): once mounted it is the host's directory, which is not the service's to own");
  if (starts_with_dir(w.path, point))
    throw Error(w.path, "--writable: below the bind mount point " + point + " (" + requested_by +
                            "): root would make it in the host's directory through the mount");
  if (starts_with_dir(point, w.path))
    throw Error(point, "bind mount point (" + requested_by + ") inside the writable directory " + w.path +
                           ": the service owning that could replace it before it is mounted");
}

} // namespace jailbuild
