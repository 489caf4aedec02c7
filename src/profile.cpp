// SPDX-License-Identifier: MIT
#include "jailbuild/profile.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <set>
#include <sstream>

namespace jailbuild {

namespace {

namespace fs = std::filesystem;

std::string in_quotes(std::string_view s) {
  return "'" + std::string(s) + "'";
}

std::string type_name(const toml::node& node) {
  switch (node.type()) {
  case toml::node_type::table:
    return "a table";
  case toml::node_type::array:
    return "an array";
  case toml::node_type::string:
    return "a string";
  case toml::node_type::integer:
    return "an integer";
  case toml::node_type::floating_point:
    return "a float";
  case toml::node_type::boolean:
    return "a boolean";
  case toml::node_type::date:
    return "a date";
  case toml::node_type::time:
    return "a time";
  case toml::node_type::date_time:
    return "a date-time";
  case toml::node_type::none:
    break;
  }
  return "nothing";
}

/// Whether a path names a place in the jail (checked for "..") or on the host (kept as written).
enum class Side { host, jail };

/// Reads one profile file, turning every problem into Error(file, "line N: ...").
class FileReader {
public:
  explicit FileReader(std::string file) : file_(std::move(file)) {}

  SourceLine line_of(const toml::node& node) const { return {file_, node.source().begin.line}; }
  Error error(const toml::node& node, const std::string& what) const {
    return profile_error(line_of(node), what);
  }

  /// Rejects any key not in allowed, naming the first one in the file; `where` is "" at the top.
  void check_keys(const toml::table& table, std::initializer_list<std::string_view> allowed,
                  std::string_view where) const {
    const toml::key* first = nullptr;
    for (const auto& [key, node] : table) {
      if (std::find(allowed.begin(), allowed.end(), key.str()) != allowed.end()) continue;
      if (!first || key.source().begin.line < first->source().begin.line) first = &key;
    }
    if (!first) return;
    std::string what = "unknown key " + in_quotes(first->str());
    if (!where.empty()) what += " in " + std::string(where);
    throw profile_error({file_, first->source().begin.line}, what);
  }

  std::optional<std::string> string(const toml::table& table, std::string_view key) const {
    const toml::node* node = table.get(key);
    if (!node) return std::nullopt;
    if (!node->is_string()) throw error(*node, in_quotes(key) + " must be a string, not " + type_name(*node));
    return node->as_string()->get();
  }

  std::optional<bool> boolean(const toml::table& table, std::string_view key) const {
    const toml::node* node = table.get(key);
    if (!node) return std::nullopt;
    if (!node->is_boolean())
      throw error(*node, in_quotes(key) + " must be true or false, not " + type_name(*node));
    return node->as_boolean()->get();
  }

  std::optional<std::uint32_t> number(const toml::table& table, std::string_view key) const {
    const toml::node* node = table.get(key);
    if (!node) return std::nullopt;
    if (!node->is_integer())
      throw error(*node, in_quotes(key) + " must be an integer, not " + type_name(*node));
    std::int64_t value = node->as_integer()->get();
    if (value < 0 || value > std::numeric_limits<std::uint32_t>::max())
      throw error(*node, in_quotes(key) + " is out of range: " + std::to_string(value));
    return static_cast<std::uint32_t>(value);
  }

  /// An array of strings, each with where it was written.
  std::vector<std::pair<std::string, SourceLine>> strings(const toml::table& table,
                                                          std::string_view key) const {
    std::vector<std::pair<std::string, SourceLine>> out;
    const toml::node* node = table.get(key);
    if (!node) return out;
    const toml::array* array = node->as_array();
    if (!array) throw error(*node, in_quotes(key) + " must be an array of strings, not " + type_name(*node));
    for (const toml::node& item : *array) {
      if (!item.is_string())
        throw error(item, in_quotes(key) + " must be an array of strings; found " + type_name(item));
      out.emplace_back(item.as_string()->get(), line_of(item));
    }
    return out;
  }

  /// The tables of an array of tables ([[key]] or key = [{...}]).
  std::vector<const toml::table*> tables(const toml::table& table, std::string_view key) const {
    std::vector<const toml::table*> out;
    const toml::node* node = table.get(key);
    if (!node) return out;
    const toml::array* array = node->as_array();
    std::string shape = in_quotes(key) + " must be an array of tables, written [[" + std::string(key) + "]]";
    if (!array) throw error(*node, shape);
    for (const toml::node& item : *array) {
      if (!item.is_table()) throw error(item, shape);
      out.push_back(item.as_table());
    }
    return out;
  }

  /// A mandatory string key of an entry table.
  std::string required_string(const toml::table& table, std::string_view key, std::string_view where) const {
    auto value = string(table, key);
    if (!value) throw error(table, std::string(where) + " needs " + in_quotes(key));
    return *value;
  }

  /// A path: absolute, only the known variables; for the jail side no "..", no control character,
  /// nothing in /.jailbuild (the manifest directory is jailbuild's alone: root reads it).
  void check_path(const SourceLine& at, std::string_view path, Side side) const {
    if (path.empty() || path.front() != '/')
      throw profile_error(at, "path " + in_quotes(path) + " must be absolute");
    check_variables(at, path);
    if (side == Side::host) return;
    if (has_dotdot(path)) throw profile_error(at, "jail path " + in_quotes(path) + " may not contain '..'");
    for (char c : path)
      if (std::iscntrl(static_cast<unsigned char>(c)))
        throw profile_error(at, "jail path " + in_quotes(path) + " may not hold a control character");
    if (first_component(path) == ".jailbuild")
      throw profile_error(
          at, "jail path " + in_quotes(path) +
                  " is in /.jailbuild, jailbuild's manifest directory: no profile entry goes there");
  }

  /// A symlink target: anything but empty; variables are allowed as in paths.
  void check_target(const SourceLine& at, std::string_view target) const {
    if (target.empty()) throw profile_error(at, "symlink target is empty");
    check_variables(at, target);
  }

  std::optional<std::uint32_t> mode(const toml::table& table, std::string_view key) const {
    const toml::node* node = table.get(key);
    if (!node) return std::nullopt;
    return parse_mode(*node);
  }

  /// An owner or group: a name, or a number (TOML integer or digits) kept as decimal digits.
  std::string id(const toml::table& table, std::string_view key) const {
    const toml::node* node = table.get(key);
    if (!node) return "root";
    if (node->is_integer()) return std::to_string(*number(table, key));
    if (!node->is_string())
      throw error(*node, in_quotes(key) + " must be a name or a number, not " + type_name(*node));
    const std::string& name = node->as_string()->get();
    bool bad = name.empty() || name.find_first_of(": \t\n/") != std::string::npos;
    if (bad) throw error(*node, in_quotes(key) + " is not a valid name: " + in_quotes(name));
    return name;
  }

private:
  // Only the octal string form: a TOML integer 755 would silently be decimal 755.
  std::uint32_t parse_mode(const toml::node& node) const {
    std::string example = " must be an octal string like \"0755\"";
    if (!node.is_string()) throw error(node, "mode" + example + ", not " + type_name(node));
    const std::string& text = node.as_string()->get();
    bool ok = text.size() == 3 || text.size() == 4;
    std::uint32_t value = 0;
    for (char c : text) {
      if (c < '0' || c > '7') ok = false;
      value = value * 8 + static_cast<std::uint32_t>(c - '0');
    }
    if (!ok) throw error(node, "mode " + in_quotes(text) + example);
    return value;
  }

  void check_variables(const SourceLine& at, std::string_view text) const {
    for (size_t i = text.find('$'); i != std::string_view::npos; i = text.find('$', i + 1)) {
      size_t end = i + 1;
      while (end < text.size() && (std::isupper(static_cast<unsigned char>(text[end])) ||
                                   std::isdigit(static_cast<unsigned char>(text[end])) || text[end] == '_'))
        ++end;
      std::string_view name = text.substr(i + 1, end - i - 1);
      if (name != "TRIPLET" && name != "PHP")
        throw profile_error(at, "unknown variable " + in_quotes(text.substr(i, end - i)) + " in " +
                                    in_quotes(text) + " (known: $TRIPLET, $PHP)");
    }
  }

  /// The first component that is not empty or ".": "//./.jailbuild/x" -> ".jailbuild".
  static std::string_view first_component(std::string_view path) {
    while (!path.empty()) {
      size_t j = path.find('/');
      std::string_view part = path.substr(0, j);
      if (!part.empty() && part != ".") return part;
      if (j == std::string_view::npos) break;
      path.remove_prefix(j + 1);
    }
    return {};
  }

  static bool has_dotdot(std::string_view path) {
    size_t i = 0;
    while (i <= path.size()) {
      size_t j = path.find('/', i);
      if (j == std::string_view::npos) j = path.size();
      if (path.substr(i, j - i) == "..") return true;
      i = j + 1;
    }
    return false;
  }

  std::string file_;
};

bool is_glob(std::string_view path) {
  return path.find_first_of("*?[") != std::string_view::npos;
}

/// One profile file as written, before precedence is applied.
struct ParsedFile {
  Profile profile;
  std::vector<SourceLine> include_lines; // parallel to profile.includes
  std::optional<SourceLine> extend;      // where `extend = true` was written
  bool sets_description = false;
  bool sets_package = false;
  bool sets_discover = false;
};

/// A profile being assembled from its files, with what is needed to check it as a whole.
struct Loaded {
  Profile profile;
  std::vector<SourceLine> include_lines;
  std::string text;
};

void parse_dirs(const FileReader& in, const toml::table& top, Profile& p) {
  for (const toml::table* t : in.tables(top, "dirs")) {
    in.check_keys(*t, {"path", "mode", "owner", "group"}, "[[dirs]]");
    DirSpec d;
    d.path = in.required_string(*t, "path", "[[dirs]]");
    in.check_path(in.line_of(*t->get("path")), d.path, Side::jail);
    d.mode = in.mode(*t, "mode").value_or(0755);
    d.owner = in.id(*t, "owner");
    d.group = in.id(*t, "group");
    d.written_at = in.line_of(*t);
    p.dirs.push_back(std::move(d));
  }
}

void parse_files(const FileReader& in, const toml::table& top, Profile& p) {
  for (const toml::table* t : in.tables(top, "files")) {
    in.check_keys(*t, {"path", "recursive", "optional", "dest", "mode", "owner", "group"}, "[[files]]");
    FileSpec f;
    f.path = in.required_string(*t, "path", "[[files]]");
    in.check_path(in.line_of(*t->get("path")), f.path, Side::host);
    f.dest = f.path;
    if (auto dest = in.string(*t, "dest")) {
      if (is_glob(f.path)) throw in.error(*t->get("dest"), "'dest' cannot be used with a glob path");
      f.dest = *dest;
    }
    in.check_path(in.line_of(t->get("dest") ? *t->get("dest") : *t->get("path")), f.dest, Side::jail);
    f.recursive = in.boolean(*t, "recursive").value_or(false) ? Recursive::yes : Recursive::no;
    f.presence = in.boolean(*t, "optional").value_or(false) ? Presence::optional : Presence::required;
    f.mode = in.mode(*t, "mode");
    if (t->get("owner")) f.owner = in.id(*t, "owner");
    if (t->get("group")) f.group = in.id(*t, "group");
    f.written_at = in.line_of(*t);
    p.files.push_back(std::move(f));
  }
}

void parse_symlinks(const FileReader& in, const toml::table& top, Profile& p) {
  for (const toml::table* t : in.tables(top, "symlinks")) {
    in.check_keys(*t, {"path", "target"}, "[[symlinks]]");
    SymlinkSpec s;
    s.path = in.required_string(*t, "path", "[[symlinks]]");
    in.check_path(in.line_of(*t->get("path")), s.path, Side::jail);
    s.target = in.required_string(*t, "target", "[[symlinks]]");
    in.check_target(in.line_of(*t->get("target")), s.target);
    s.written_at = in.line_of(*t);
    p.symlinks.push_back(std::move(s));
  }
}

void parse_devices(const FileReader& in, const toml::table& top, Profile& p) {
  for (const toml::table* t : in.tables(top, "devices")) {
    in.check_keys(*t, {"path", "type", "major", "minor", "mode"}, "[[devices]]");
    DeviceSpec d;
    d.path = in.required_string(*t, "path", "[[devices]]");
    in.check_path(in.line_of(*t->get("path")), d.path, Side::jail);
    std::string type = in.required_string(*t, "type", "[[devices]]");
    if (type == "char")
      d.type = DeviceSpec::Type::character;
    else if (type == "block")
      d.type = DeviceSpec::Type::block;
    else
      throw in.error(*t->get("type"), "device type " + in_quotes(type) + " must be 'char' or 'block'");
    auto major = in.number(*t, "major");
    auto minor = in.number(*t, "minor");
    if (!major || !minor) throw in.error(*t, "[[devices]] needs 'major' and 'minor'");
    d.major = *major;
    d.minor = *minor;
    d.mode = in.mode(*t, "mode").value_or(0600);
    d.written_at = in.line_of(*t);
    p.devices.push_back(std::move(d));
  }
}

void parse_elf(const FileReader& in, const toml::table& top, Profile& p) {
  for (const toml::table* t : in.tables(top, "elf")) {
    in.check_keys(*t, {"paths", "optional"}, "[[elf]]");
    ElfSpec e;
    for (auto& [path, at] : in.strings(*t, "paths")) {
      in.check_path(at, path, Side::host);
      e.paths.push_back(std::move(path));
    }
    if (e.paths.empty()) throw in.error(*t, "[[elf]] needs a non-empty 'paths'");
    e.presence = in.boolean(*t, "optional").value_or(false) ? Presence::optional : Presence::required;
    e.written_at = in.line_of(*t);
    p.elf.push_back(std::move(e));
  }
}

void parse_generate(const FileReader& in, const toml::table& top, Profile& p) {
  for (const toml::table* t : in.tables(top, "generate")) {
    in.check_keys(*t, {"path", "mode", "content"}, "[[generate]]");
    GeneratedSpec g;
    g.path = in.required_string(*t, "path", "[[generate]]");
    in.check_path(in.line_of(*t->get("path")), g.path, Side::jail);
    g.mode = in.mode(*t, "mode").value_or(0644);
    g.content = in.required_string(*t, "content", "[[generate]]");
    g.written_at = in.line_of(*t);
    p.generate.push_back(std::move(g));
  }
}

void parse_binds(const FileReader& in, const toml::table& top, Profile& p) {
  for (const toml::table* t : in.tables(top, "binds")) {
    in.check_keys(*t, {"source", "dest", "access", "noexec"}, "[[binds]]");
    BindMountSpec b;
    b.source = in.required_string(*t, "source", "[[binds]]");
    in.check_path(in.line_of(*t->get("source")), b.source, Side::host);
    b.dest = in.string(*t, "dest").value_or(b.source);
    in.check_path(in.line_of(t->get("dest") ? *t->get("dest") : *t->get("source")), b.dest, Side::jail);
    std::string access = in.string(*t, "access").value_or("ro");
    if (access == "ro")
      b.access = BindAccess::read_only;
    else if (access == "rw")
      b.access = BindAccess::read_write;
    else
      throw in.error(*t->get("access"), "bind access " + in_quotes(access) + " must be 'ro' or 'rw'");
    b.noexec = in.boolean(*t, "noexec").value_or(false) ? NoExec::yes : NoExec::no;
    b.written_at = in.line_of(*t);
    p.binds.push_back(std::move(b));
  }
}

ParsedFile parse_profile(const std::string& name, const std::string& file, const std::string& text) {
  toml::table top;
  try {
    top = toml::parse(text, file);
  } catch (const toml::parse_error& err) {
    throw profile_error({file, err.source().begin.line}, std::string(err.description()));
  }
  FileReader in(file);
  in.check_keys(top,
                {"description", "include", "package", "requires", "discover", "users", "groups", "extend",
                 "dirs", "files", "symlinks", "devices", "elf", "generate", "binds"},
                "");
  ParsedFile out;
  Profile& p = out.profile;
  p.name = name;
  p.sources = {file};
  if (auto description = in.string(top, "description")) {
    if (description->find('\n') != std::string::npos)
      throw in.error(*top.get("description"), "'description' must be one line");
    p.description = *description;
    out.sets_description = true;
  }
  for (auto& [include, at] : in.strings(top, "include")) {
    p.includes.push_back(std::move(include));
    out.include_lines.push_back(std::move(at));
  }
  if (auto package = in.string(top, "package")) {
    p.package = *package;
    out.sets_package = true;
  }
  for (auto& [path, at] : in.strings(top, "requires")) {
    in.check_path(at, path, Side::host);
    p.required_paths.push_back(std::move(path));
  }
  if (auto discover = in.string(top, "discover")) {
    if (*discover == "nginx")
      p.discover = Discovery::nginx;
    else if (*discover == "php-fpm")
      p.discover = Discovery::php_fpm;
    else if (*discover == "php-runtime")
      p.discover = Discovery::php_runtime;
    else
      throw in.error(*top.get("discover"), "unknown discovery hook " + in_quotes(*discover) +
                                               " (known: nginx, php-fpm, php-runtime)");
    out.sets_discover = true;
  }
  for (auto& [user, at] : in.strings(top, "users"))
    p.users.push_back(std::move(user));
  for (auto& [group, at] : in.strings(top, "groups"))
    p.groups.push_back(std::move(group));
  if (in.boolean(top, "extend").value_or(false)) out.extend = in.line_of(*top.get("extend"));
  parse_dirs(in, top, p);
  parse_files(in, top, p);
  parse_symlinks(in, top, p);
  parse_devices(in, top, p);
  parse_elf(in, top, p);
  parse_generate(in, top, p);
  parse_binds(in, top, p);
  return out;
}

template <typename T> void append(std::vector<T>& to, std::vector<T>& from) {
  std::move(from.begin(), from.end(), std::back_inserter(to));
}

// Names are sets in effect; an extension repeating one (users = ["www-data"]) adds nothing.
void append_unique(std::vector<std::string>& to, const std::vector<std::string>& from) {
  for (const auto& s : from)
    if (std::find(to.begin(), to.end(), s) == to.end()) to.push_back(s);
}

/// Applies an `extend = true` file to the profile it extends.
void extend_with(Loaded& base, ParsedFile& more) {
  Profile& to = base.profile;
  Profile& from = more.profile;
  to.sources.push_back(from.sources.front());
  if (more.sets_description) to.description = from.description;
  if (more.sets_package) to.package = from.package;
  if (more.sets_discover) to.discover = from.discover;
  for (size_t i = 0; i < from.includes.size(); ++i) {
    if (std::find(to.includes.begin(), to.includes.end(), from.includes[i]) != to.includes.end()) continue;
    to.includes.push_back(from.includes[i]);
    base.include_lines.push_back(more.include_lines[i]);
  }
  append_unique(to.required_paths, from.required_paths);
  append_unique(to.users, from.users);
  append_unique(to.groups, from.groups);
  append(to.dirs, from.dirs);
  append(to.files, from.files);
  append(to.symlinks, from.symlinks);
  append(to.devices, from.devices);
  append(to.elf, from.elf);
  append(to.generate, from.generate);
  append(to.binds, from.binds);
}

std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw system_error(file.string(), "cannot open", errno);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw system_error(file.string(), "cannot read", errno);
  return text.str();
}

bool valid_profile_name(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '+';
  });
}

/// The built-in directory comes with jailbuild, so its absence is a broken installation; a user
/// directory such as /etc/jailbuild/profiles.d exists only once someone writes a profile.
enum class DirKind { builtin, user };

/// The NAME.toml files of a directory, sorted so that loading does not depend on readdir order.
std::vector<fs::path> profile_files(const std::string& dir, DirKind kind) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec == std::errc::no_such_file_or_directory && kind == DirKind::user) return {};
  if (ec) throw Error(dir, "cannot read profile directory: " + ec.message());
  std::vector<fs::path> files;
  for (const fs::directory_entry& entry : it) {
    const fs::path& path = entry.path();
    std::string base = path.filename().string();
    // Hidden files are editors' and package managers' leftovers (.#nginx.toml), not profiles.
    if (path.extension() != ".toml" || base.front() == '.') continue;
    if (!entry.is_regular_file()) continue;
    files.push_back(path);
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names)
    out += (out.empty() ? "" : ", ") + n;
  return out;
}

/// Rejects includes of unknown profiles and include cycles, naming the include that closes it.
void check_includes(const std::map<std::string, Loaded, std::less<>>& all) {
  enum class Mark { unvisited, in_progress, done };
  std::map<std::string, Mark, std::less<>> marks;
  std::vector<std::string> stack;
  auto visit = [&](auto& self, const Loaded& at) -> void {
    marks[at.profile.name] = Mark::in_progress;
    stack.push_back(at.profile.name);
    for (size_t i = 0; i < at.profile.includes.size(); ++i) {
      const std::string& inc = at.profile.includes[i];
      auto found = all.find(inc);
      if (found == all.end())
        throw profile_error(at.include_lines[i], "include " + in_quotes(inc) + ": no such profile");
      Mark mark = marks[inc];
      if (mark == Mark::in_progress) {
        std::string cycle;
        for (auto it = std::find(stack.begin(), stack.end(), inc); it != stack.end(); ++it)
          cycle += *it + " -> ";
        throw profile_error(at.include_lines[i], "include cycle: " + cycle + inc);
      }
      if (mark == Mark::unvisited) self(self, found->second);
    }
    stack.pop_back();
    marks[at.profile.name] = Mark::done;
  };
  for (const auto& [name, loaded] : all)
    if (marks[name] == Mark::unvisited) visit(visit, loaded);
}

} // namespace

Error profile_error(const SourceLine& at, const std::string& what) {
  return Error(at.file, "line " + std::to_string(at.line) + ": " + what);
}

std::string_view to_string(Discovery discovery) {
  switch (discovery) {
  case Discovery::none:
    return "";
  case Discovery::nginx:
    return "nginx";
  case Discovery::php_fpm:
    return "php-fpm";
  case Discovery::php_runtime:
    return "php-runtime";
  }
  return "";
}

ProfileSet ProfileSet::load(const std::vector<std::string>& dirs) {
  if (dirs.empty()) throw Error("profiles", "no profile directory given");
  std::map<std::string, Loaded, std::less<>> all;
  for (size_t d = 0; d < dirs.size(); ++d) {
    for (const fs::path& path : profile_files(dirs[d], d == 0 ? DirKind::builtin : DirKind::user)) {
      std::string file = path.string();
      std::string name = path.stem().string();
      if (!valid_profile_name(name))
        throw Error(file, "profile name " + in_quotes(name) + " may use only letters, digits and - _ . +");
      std::string text = read_text(path);
      ParsedFile parsed = parse_profile(name, file, text);
      std::string shown = "# " + file + "\n" + text;
      if (shown.back() != '\n') shown += '\n';

      auto earlier = all.find(name);
      if (parsed.extend) {
        if (earlier == all.end())
          throw profile_error(*parsed.extend,
                              "extend = true, but no earlier directory has a profile " + in_quotes(name));
        extend_with(earlier->second, parsed);
        earlier->second.text += "\n" + shown;
      } else {
        all[name] = Loaded{std::move(parsed.profile), std::move(parsed.include_lines), std::move(shown)};
      }
    }
  }
  check_includes(all);

  ProfileSet set;
  for (auto& [name, loaded] : all)
    set.entries_.emplace(name, Entry{std::move(loaded.profile), std::move(loaded.text)});
  return set;
}

std::vector<std::string> ProfileSet::names() const {
  std::vector<std::string> out;
  for (const auto& [name, entry] : entries_)
    out.push_back(name);
  return out;
}

const Profile* ProfileSet::find(std::string_view name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : &it->second.profile;
}

const ProfileSet::Entry& ProfileSet::entry_or_throw(std::string_view name,
                                                    const std::string& what_asked) const {
  auto it = entries_.find(name);
  if (it == entries_.end())
    throw Error(what_asked, "unknown profile " + in_quotes(name) + "; available: " + joined(names()));
  return it->second;
}

std::vector<const Profile*> ProfileSet::expand(const std::vector<std::string>& names) const {
  std::vector<const Profile*> out;
  std::set<std::string, std::less<>> seen;
  // load() has rejected cycles and unknown includes, so a plain depth-first walk terminates.
  auto visit = [&](auto& self, const Profile& p) -> void {
    if (!seen.insert(p.name).second) return;
    for (const auto& inc : p.includes)
      self(self, *find(inc));
    out.push_back(&p);
  };
  for (const auto& name : names)
    visit(visit, entry_or_throw(name, "--with").profile);
  return out;
}

std::string ProfileSet::source_text(std::string_view name) const {
  return entry_or_throw(name, "profiles show").text;
}

} // namespace jailbuild
