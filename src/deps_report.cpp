// SPDX-License-Identifier: MIT
#include "jailbuild/deps_report.hpp"
#include "jailbuild/json_text.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <set>
#include <sstream>

namespace jailbuild {

namespace {

std::string_view role_name(ObjectRole role) {
  switch (role) {
  case ObjectRole::root:
    return "root";
  case ObjectRole::interpreter:
    return "interpreter";
  case ObjectRole::library:
    return "library";
  case ObjectRole::hwcaps_variant:
    return "hwcaps-variant";
  }
  return "?";
}

std::string format_list(const WalkResult& r) {
  // Inputs first, then interpreters, then libraries in breadth-first order, like `lddtree -l`.
  std::ostringstream out;
  for (ObjectRole wanted :
       {ObjectRole::root, ObjectRole::interpreter, ObjectRole::library, ObjectRole::hwcaps_variant})
    for (const WalkObject& o : r.objects)
      if (o.role == wanted) out << o.path << '\n';
  return out.str();
}

std::string format_tree(const WalkResult& r) {
  std::vector<std::vector<const WalkEdge*>> children(r.objects.size());
  for (const WalkEdge& e : r.edges)
    children[e.from].push_back(&e);
  std::ostringstream out;
  std::set<size_t> expanded;
  std::function<void(size_t, int)> show = [&](size_t obj, int depth) {
    for (const WalkEdge* e : children[obj]) {
      out << std::string(static_cast<size_t>(depth) * 4, ' ') << e->name << " => ";
      if (!e->to) {
        out << "not found\n";
        continue;
      }
      const WalkObject& target = r.objects[*e->to];
      out << target.path;
      if (target.role == ObjectRole::hwcaps_variant) out << " (hwcaps variant)";
      if (e->found_in) out << " [" << to_string(*e->found_in) << "]";
      bool first = expanded.insert(*e->to).second;
      out << '\n';
      if (first) show(*e->to, depth + 1);
    }
  };
  for (size_t i = 0; i < r.objects.size(); ++i) {
    if (r.objects[i].role != ObjectRole::root) continue;
    out << r.objects[i].path;
    if (!r.objects[i].found_by.empty()) out << " (" << r.objects[i].found_by << ")";
    out << '\n';
    expanded.insert(i);
    show(i, 1);
  }
  return out.str();
}

nlohmann::ordered_json optional_json(const std::optional<std::string>& v) {
  return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json();
}

std::string format_json(const WalkResult& r) {
  nlohmann::ordered_json objects = nlohmann::ordered_json::array();
  for (size_t i = 0; i < r.objects.size(); ++i) {
    const WalkObject& o = r.objects[i];
    nlohmann::ordered_json links = nlohmann::ordered_json::array();
    for (const SymlinkHop& h : o.hops)
      links.push_back({{"path", h.path}, {"target", h.target}});
    nlohmann::ordered_json deps = nlohmann::ordered_json::array();
    for (const WalkEdge& e : r.edges) {
      if (e.from != i) continue;
      deps.push_back(
          {{"name", e.name},
           {"path", e.to ? nlohmann::ordered_json(r.objects[*e.to].path) : nlohmann::ordered_json()},
           {"found_in", e.found_in ? nlohmann::ordered_json(std::string(to_string(*e.found_in)))
                                   : nlohmann::ordered_json()}});
    }
    objects.push_back(
        {{"path", o.path},
         {"role", role_name(o.role)},
         {"opened_as", o.names},
         {"symlinks", links},
         {"class", o.elf.elf_class == ElfClass::elf64 ? 64 : 32},
         {"machine", o.elf.machine},
         {"soname", optional_json(o.elf.soname)},
         {"needed", o.elf.needed},
         {"rpath", optional_json(o.elf.rpath)},
         {"runpath", optional_json(o.elf.runpath)},
         {"nodeflib", o.elf.nodeflib},
         {"interpreter", optional_json(o.elf.interpreter)},
         {"found_by", o.found_by.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(o.found_by)},
         {"dependencies", deps}});
  }
  nlohmann::ordered_json unresolved = nlohmann::ordered_json::array();
  for (const Unresolved& u : r.unresolved)
    unresolved.push_back({{"name", u.name}, {"needed_by", u.needed_by}});
  nlohmann::ordered_json doc = {{"objects", objects}, {"unresolved", unresolved}};
  return json_report_text(doc, 2);
}

std::string dot_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string format_dot(const WalkResult& r) {
  std::ostringstream out;
  out << "digraph deps {\n  rankdir=LR;\n  node [shape=box];\n";
  for (const WalkObject& o : r.objects) {
    out << "  " << dot_quote(o.path);
    if (o.role == ObjectRole::root) out << " [style=bold]";
    if (o.role == ObjectRole::interpreter) out << " [shape=ellipse]";
    out << ";\n";
  }
  for (const WalkEdge& e : r.edges) {
    std::string target = e.to ? r.objects[*e.to].path : e.name;
    out << "  " << dot_quote(r.objects[e.from].path) << " -> " << dot_quote(target);
    if (!e.to) out << " [color=red]";
    out << ";\n";
  }
  for (const Unresolved& u : r.unresolved)
    out << "  " << dot_quote(u.name) << " [color=red, fontcolor=red];\n";
  out << "}\n";
  return out.str();
}

} // namespace

std::string format_deps(const WalkResult& result, DepsFormat format) {
  switch (format) {
  case DepsFormat::list:
    return format_list(result);
  case DepsFormat::tree:
    return format_tree(result);
  case DepsFormat::json:
    return format_json(result);
  case DepsFormat::dot:
    return format_dot(result);
  }
  return {};
}

std::string format_unresolved(const WalkResult& result) {
  std::ostringstream out;
  for (const Unresolved& u : result.unresolved) {
    out << "jailbuild: " << u.name << ": not found, needed by ";
    for (size_t i = 0; i < u.needed_by.size(); ++i)
      out << (i ? ", " : "") << u.needed_by[i];
    out << '\n';
  }
  return out.str();
}

} // namespace jailbuild
