// SPDX-License-Identifier: MIT
// Jail definitions (definition.hpp): CONFIG/jails/NAME.toml. toml++ reads them (as it reads profiles:
// the library is confined to profile.cpp and this file); they are written by hand, keys in a fixed
// order, so that the file stays readable and diffs well in an admin's version control.
#include "jailbuild/definition.hpp"

#include "jailbuild/error.hpp"
#include "jailbuild/fd.hpp"
#include "jailbuild/hostfs.hpp"
#include "jailbuild/profile.hpp"
#include "jailbuild/registry.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace jailbuild {

namespace {

/// A definition is a few hundred bytes; a bigger file is not one (and is not parsed).
constexpr std::size_t max_definition_bytes = 1 << 20;
constexpr std::string_view suffix = ".toml";

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + '"';
}

std::string string_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i)
    out += (i ? ", " : "") + quoted(items[i]);
  return out + "]";
}

/// Reads one definition file, turning every problem into Error(file, "line N: ...").
class Reader {
public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  Error error(const toml::node& node, const std::string& what) const {
    return profile_error({file_, node.source().begin.line}, what);
  }

  void check_keys(const toml::table& table, std::initializer_list<std::string_view> allowed,
                  std::string_view where) const {
    for (const auto& [key, node] : table)
      if (std::find(allowed.begin(), allowed.end(), key.str()) == allowed.end())
        throw profile_error({file_, key.source().begin.line},
                            "unknown key '" + std::string(key.str()) + "'" +
                                (where.empty() ? "" : " in " + std::string(where)));
  }

  std::optional<std::string> string(const toml::table& table, std::string_view key) const {
    const toml::node* node = table.get(key);
    if (!node) return std::nullopt;
    if (!node->is_string()) throw error(*node, "'" + std::string(key) + "' must be a string");
    return node->as_string()->get();
  }

  std::string required(const toml::table& table, std::string_view key, std::string_view where) const {
    std::optional<std::string> value = string(table, key);
    if (!value) throw error(table, std::string(where) + " needs '" + std::string(key) + "'");
    return *value;
  }

  bool boolean(const toml::table& table, std::string_view key) const {
    const toml::node* node = table.get(key);
    if (!node) return false;
    if (!node->is_boolean()) throw error(*node, "'" + std::string(key) + "' must be true or false");
    return node->as_boolean()->get();
  }

  std::vector<std::string> strings(const toml::table& table, std::string_view key) const {
    std::vector<std::string> out;
    const toml::node* node = table.get(key);
    if (!node) return out;
    const toml::array* array = node->as_array();
    if (!array) throw error(*node, "'" + std::string(key) + "' must be an array of strings");
    for (const toml::node& item : *array) {
      if (!item.is_string()) throw error(item, "'" + std::string(key) + "' must be an array of strings");
      out.push_back(item.as_string()->get());
    }
    return out;
  }

  std::vector<const toml::table*> tables(const toml::table& table, std::string_view key) const {
    std::vector<const toml::table*> out;
    const toml::node* node = table.get(key);
    if (!node) return out;
    const toml::array* array = node->as_array();
    if (!array) throw error(*node, "'" + std::string(key) + "' must be written [[" + std::string(key) + "]]");
    for (const toml::node& item : *array) {
      if (!item.is_table())
        throw error(item, "'" + std::string(key) + "' must be written [[" + std::string(key) + "]]");
      out.push_back(item.as_table());
    }
    return out;
  }

  /// An absolute, clean path (what the command line's paths become): a definition means the same
  /// thing to every later run.
  std::string path(const toml::table& table, std::string_view key, std::string_view where) const {
    std::string value = required(table, key, where);
    if (value.empty() || value.front() != '/' || normalize_path(value) != value)
      throw error(*table.get(key),
                  "'" + std::string(key) + "' must be a clean absolute path: " + quoted(value));
    if (std::optional<std::string> why = unrecordable_path(value))
      throw error(*table.get(key), value + ": " + *why);
    return value;
  }

private:
  std::string file_;
};

/// Why root may not trust the definition open at `fd`, or nullopt.
std::optional<std::string> untrusted_file(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return std::string("cannot inspect it");
  if (!S_ISREG(st.st_mode)) return "it is not a regular file";
  if (st.st_uid != 0 && st.st_uid != ::geteuid())
    return "it is owned by uid " + std::to_string(st.st_uid) + ", not root";
  if (st.st_mode & (S_IWGRP | S_IWOTH)) return std::string("it is writable by group or others");
  if (static_cast<std::size_t>(st.st_size) > max_definition_bytes) return std::string("it is over 1 MiB");
  return std::nullopt;
}

} // namespace

std::optional<std::string> invalid_jail_name(std::string_view name) {
  auto plain = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (name.empty()) return "a jail name may not be empty";
  if (name.size() > 64) return "a jail name is at most 64 characters";
  if (!plain(name.front())) return "a jail name starts with a lower-case letter or a digit";
  for (char c : name)
    if (!plain(c) && c != '_' && c != '-')
      return "a jail name holds only lower-case letters, digits, '_' and '-' ([a-z0-9][a-z0-9_-]*)";
  return std::nullopt;
}

std::string default_jail_name(const std::string& dir) {
  // /var/www/example.com is the usual place of a site: its jail is "example-com", not an error.
  std::string name;
  for (char c : dir.substr(dir.rfind('/') + 1)) {
    char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    bool plain =
        (lower >= 'a' && lower <= 'z') || (lower >= '0' && lower <= '9') || lower == '_' || lower == '-';
    if (name.empty() && !(plain && lower != '_' && lower != '-')) continue;
    name += plain ? lower : '-';
  }
  if (std::optional<std::string> why = invalid_jail_name(name))
    throw Error(dir, "its base name makes no jail name (" + *why + "); give one with --name");
  return name;
}

std::string definition_to_toml(const Definition& d) {
  const JailSpec& s = d.spec;
  std::string out =
      "# jailbuild jail definition: what the jail " + quoted(s.name) +
      " was asked for.\n"
      "# `jailbuild sync " +
      s.name +
      "` makes the jail match it (adding and removing); `jailbuild create` with options\n"
      "# rewrites it. It must stay root's and writable by no one else, or jailbuild refuses it.\n";
  out += "name = " + quoted(s.name) + "\n";
  out += "dir = " + quoted(d.dir) + "\n";
  out += "services = " + string_list(s.services) + "\n";
  if (s.php_version) out += "php = " + quoted(*s.php_version) + "\n";
  if (!s.pools.empty()) out += "pools = " + string_list(s.pools) + "\n";
  if (s.host_root != "/") out += "host_root = " + quoted(s.host_root) + "\n";
  if (!s.profile_dirs.empty()) out += "profile_dirs = " + string_list(s.profile_dirs) + "\n";
  if (!s.excludes.empty()) out += "excludes = " + string_list(s.excludes) + "\n";
  if (!s.secrets.empty()) out += "secrets = " + string_list(s.secrets) + "\n";
  for (const WritableSpec& w : s.writable)
    out += "\n[[writable]]\npath = " + quoted(w.path) + "\nuser = " + quoted(w.owner) +
           "\ngroup = " + quoted(w.group) + "\n";
  for (const BindSpec& b : s.binds) {
    out += "\n[[binds]]\nsource = " + quoted(b.source) + "\ndest = " + quoted(b.dest) +
           "\naccess = " + (b.read_only ? "\"ro\"" : "\"rw\"") + "\n";
    if (b.noexec) out += "noexec = true\n";
  }
  for (const OwnFileSpec& f : s.files) {
    out += "\n[[files]]\nsource = " + quoted(f.source) + "\ndest = " + quoted(f.dest) + "\n";
    if (f.secret) out += "secret = true\n";
  }
  for (const SiteSpec& site : s.sites) {
    out += "\n[[sites]]\ndocroot = " + quoted(site.docroot) + "\n";
    if (site.owner != "root") out += "owner = " + quoted(site.owner) + "\n";
    if (!site.writable.empty()) out += "writable = " + string_list(site.writable) + "\n";
    if (site.writer != "www-data") out += "writer = " + quoted(site.writer) + "\n";
    if (!site.source.empty()) out += "source = " + quoted(site.source) + "\n";
  }
  return out;
}

Definition definition_from_toml(std::string_view text, const std::string& file,
                                std::string_view expected_name) {
  toml::table top;
  try {
    top = toml::parse(text, file);
  } catch (const toml::parse_error& err) {
    throw profile_error({file, err.source().begin.line}, std::string(err.description()));
  }
  Reader in(file);
  in.check_keys(top,
                {"name", "dir", "services", "php", "pools", "host_root", "profile_dirs", "excludes",
                 "secrets", "writable", "binds", "files", "sites"},
                "");
  Definition d;
  JailSpec& s = d.spec;
  s.name = in.required(top, "name", "a definition");
  if (std::optional<std::string> why = invalid_jail_name(s.name)) throw in.error(*top.get("name"), *why);
  if (s.name != expected_name)
    throw in.error(*top.get("name"), "the name " + quoted(s.name) + " is not the file's (" +
                                         quoted(expected_name) + "): rename one of them");
  d.dir = in.path(top, "dir", "a definition");
  s.services = in.strings(top, "services");
  if (s.services.empty())
    throw in.error(top, "a definition needs 'services' (e.g. [\"nginx\", \"php-fpm\"])");
  s.php_version = in.string(top, "php");
  s.pools = in.strings(top, "pools");
  if (top.get("host_root")) s.host_root = in.path(top, "host_root", "a definition");
  s.profile_dirs = in.strings(top, "profile_dirs");
  s.excludes = in.strings(top, "excludes");
  s.secrets = in.strings(top, "secrets");
  for (const toml::table* t : in.tables(top, "writable")) {
    in.check_keys(*t, {"path", "user", "group"}, "[[writable]]");
    WritableSpec w;
    w.path = in.required(*t, "path", "[[writable]]");
    w.owner = in.string(*t, "user").value_or("www-data");
    w.group = in.string(*t, "group").value_or(w.owner);
    s.writable.push_back(std::move(w));
  }
  for (const toml::table* t : in.tables(top, "binds")) {
    in.check_keys(*t, {"source", "dest", "access", "noexec"}, "[[binds]]");
    BindSpec b;
    b.source = in.required(*t, "source", "[[binds]]");
    b.dest = in.string(*t, "dest").value_or(b.source);
    std::string access = in.string(*t, "access").value_or("ro");
    if (access != "ro" && access != "rw")
      throw in.error(*t->get("access"), "'access' must be \"ro\" or \"rw\"");
    b.read_only = access == "ro";
    b.noexec = in.boolean(*t, "noexec");
    s.binds.push_back(std::move(b));
  }
  for (const toml::table* t : in.tables(top, "files")) {
    in.check_keys(*t, {"source", "dest", "secret"}, "[[files]]");
    OwnFileSpec f;
    f.source = in.required(*t, "source", "[[files]]");
    f.dest = in.string(*t, "dest").value_or(f.source);
    f.secret = in.boolean(*t, "secret");
    s.files.push_back(std::move(f));
  }
  for (const toml::table* t : in.tables(top, "sites")) {
    in.check_keys(*t, {"docroot", "owner", "writable", "writer", "source", "secrets"}, "[[sites]]");
    SiteSpec site;
    site.docroot = in.path(*t, "docroot", "[[sites]]");
    site.owner = in.string(*t, "owner").value_or("root");
    site.writable = in.strings(*t, "writable");
    site.writer = in.string(*t, "writer").value_or("www-data");
    if (t->get("source")) site.source = in.path(*t, "source", "[[sites]]");
    // A site's secrets are relative to its docroot ("wp-config.php"): kept with the spec's secrets.
    for (const std::string& secret : in.strings(*t, "secrets")) {
      if (secret.empty() || secret.front() == '/' || normalize_path("/" + secret) != "/" + secret)
        throw in.error(*t->get("secrets"),
                       "a site's secrets are clean paths below its docroot: " + quoted(secret));
      s.secrets.push_back(site.docroot + "/" + secret);
    }
    s.sites.push_back(std::move(site));
  }
  return d;
}

Definitions::Definitions(std::string config_dir) : config_dir_(std::move(config_dir)) {
  while (config_dir_.size() > 1 && config_dir_.back() == '/')
    config_dir_.pop_back();
}

std::string Definitions::path_of(std::string_view name) const {
  return dir() + "/" + std::string(name) + std::string(suffix);
}

std::optional<Definition> Definitions::read(std::string_view name) const {
  if (std::optional<std::string> why = invalid_jail_name(name)) throw Error(std::string(name), *why);
  const std::string path = path_of(name);
  // Every directory from / down to CONFIG/jails as profile directories are checked: whoever may
  // write one of them may replace the definition, and with it what root copies, binds and reads.
  if (std::optional<std::string> why = profile_dir_problem(dir()))
    throw Error(path, "refusing to read a jail definition here: " + *why);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return std::nullopt;
    if (errno == ELOOP) throw Error(path, "refusing a jail definition that is a symlink");
    throw system_error(path, "cannot open the jail definition", errno);
  }
  if (std::optional<std::string> why = untrusted_file(fd.get()))
    throw Error(path, "refusing this jail definition: " + *why +
                          " (only root may write a definition: it chooses what root copies and binds)");
  return definition_from_toml(read_all(fd.get(), path, max_definition_bytes), path, name);
}

std::vector<std::string> Definitions::names() const {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir().c_str());
  if (!d) {
    if (errno == ENOENT) return out;
    throw system_error(dir(), "cannot list jail definitions", errno);
  }
  while (const dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n.size() <= suffix.size() || !n.ends_with(suffix)) continue;
    n.remove_suffix(suffix.size());
    // Editors' leftovers and other files are not definitions; only a valid name makes one.
    if (!invalid_jail_name(n)) out.emplace_back(n);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

bool Definitions::write(const Definition& definition, Rewrite rewrite) {
  const std::string& name = definition.spec.name;
  if (std::optional<std::string> why = invalid_jail_name(name)) throw Error(name, *why);
  for (const std::string& d : {config_dir_, dir()}) {
    if (::mkdir(d.c_str(), 0755) == 0) {
      if (::chown(d.c_str(), 0, 0) != 0 && ::geteuid() == 0)
        throw system_error(d, "cannot give it to root", errno);
    } else if (errno != EEXIST) {
      throw system_error(d, "cannot create", errno);
    }
  }
  if (std::optional<std::string> why = profile_dir_problem(dir()))
    throw Error(dir(), "refusing to write a jail definition here: " + *why);
  const std::string text = definition_to_toml(definition);
  const std::string path = path_of(name);
  UniqueFd old(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (old) {
    struct stat st {};
    if (::fstat(old.get(), &st) == 0 && S_ISREG(st.st_mode) &&
        static_cast<std::size_t>(st.st_size) <= max_definition_bytes) {
      std::string current = read_all(old.get(), path, max_definition_bytes);
      // The same intent, however the admin wrote it (comments, order): left as it is.
      try {
        if (current == text || definition_from_toml(current, path, name) == definition) return false;
      } catch (const Error&) {
        // Unreadable now: rewritten only if asked.
      }
      if (rewrite == Rewrite::no) return false;
    }
  }
  AtomicFile file(path, 0644);
  file.write(text);
  file.commit();
  return true;
}

void Definitions::remove(std::string_view name) {
  if (std::optional<std::string> why = invalid_jail_name(name)) throw Error(std::string(name), *why);
  const std::string path = path_of(name);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw system_error(path, "cannot remove", errno);
}

} // namespace jailbuild
