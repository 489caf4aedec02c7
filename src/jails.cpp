// SPDX-License-Identifier: MIT
#include "jailbuild/jails.hpp"

#include "jailbuild/assemble.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/hostfs.hpp"
#include "jailbuild/jailfs.hpp"
#include "jailbuild/manifest.hpp"
#include "jailbuild/plan_builder.hpp"
#include "jailbuild/profile.hpp"

#include <algorithm>
#include <map>

namespace jailbuild {

namespace {

/// The definition whose dir is `dir`, trying the one named after its base name first (the usual
/// case: one file read), then every other.
std::optional<Definition> definition_of_dir(const Definitions& definitions, const std::string& dir) {
  std::string base = dir.substr(dir.rfind('/') + 1);
  if (!invalid_jail_name(base))
    if (std::optional<Definition> d = definitions.read(base); d && d->dir == dir) return d;
  for (const std::string& name : definitions.names()) {
    if (name == base) continue;
    if (std::optional<Definition> d = definitions.read(name); d && d->dir == dir) return d;
  }
  return std::nullopt;
}

} // namespace

JailRef resolve_jail(const Definitions& definitions, const std::string& arg) {
  if (arg.find('/') != std::string::npos) {
    std::string dir = normalize_path(arg);
    return {dir, definition_of_dir(definitions, dir)};
  }
  if (std::optional<std::string> why = invalid_jail_name(arg))
    throw Error(arg, "neither a jail name nor a directory (a directory has a '/'): " + *why);
  std::optional<Definition> d = definitions.read(arg);
  if (!d) throw Error(arg, "no jail called so: no " + definitions.path_of(arg));
  return {d->dir, std::move(d)};
}

JailSpec spec_to_apply(const Definition& definition, const std::string& config_dir) {
  JailSpec spec = definition.spec;
  spec.profile_dirs = host_profile_dirs(definition.spec.profile_dirs, config_dir);
  return spec;
}

void check_unique(const Definitions& definitions, const std::string& name, const std::string& dir) {
  if (std::optional<Definition> same_name = definitions.read(name); same_name && same_name->dir != dir)
    throw Error(dir, "the name '" + name + "' is the jail " + same_name->dir + "'s (" +
                         definitions.path_of(name) + "); give another with --name");
  if (std::optional<Definition> same_dir = definition_of_dir(definitions, dir);
      same_dir && same_dir->spec.name != name)
    throw Error(dir, "already defined as the jail '" + same_dir->spec.name + "' (" +
                         definitions.path_of(same_dir->spec.name) + "); use that name");
}

Definition define_from_manifest(Definitions& definitions, const std::string& dir_arg, std::string name,
                                std::vector<std::string>& warnings) {
  const std::string dir = check_jail_location(normalize_path(dir_arg));
  if (name.empty()) name = default_jail_name(dir);
  if (std::optional<std::string> why = invalid_jail_name(name)) throw Error(name, *why);
  JailFs jail(dir);
  if (std::optional<Error> why = untrusted_jail(jail)) throw *why;
  Manifest manifest = read_manifest(dir);
  Definition d;
  d.dir = dir;
  d.spec = manifest.plan.spec;
  try {
    check_spec(d.spec);
  } catch (const Error& e) {
    throw Error(dir, std::string("its manifest asks for what jailbuild refuses: ") + e.what() +
                         "; re-create the jail with what it needs");
  }
  // Only the extra profile directories that still pass are kept, as sync would use them; the first
  // two (built-in, CONFIG/profiles.d) are found again on every run.
  std::vector<std::string> dirs =
      recorded_profile_dirs(d.spec.profile_dirs, warnings, definitions.config_dir());
  d.spec.profile_dirs.assign(dirs.begin() + std::min<std::ptrdiff_t>(2, std::ssize(dirs)), dirs.end());
  d.spec.name = name;
  check_unique(definitions, name, dir);
  definitions.write(d, Rewrite::no);
  return d;
}

AllJails jails_to_sync(const Definitions& definitions, Registry& registry, Unregister unregister) {
  AllJails out;
  RegisteredJails registered = registered_jails(registry, unregister);
  out.gone = std::move(registered.gone);
  std::map<std::string, Definition> by_dir;
  for (const std::string& name : definitions.names()) {
    try {
      if (std::optional<Definition> d = definitions.read(name)) by_dir.emplace(d->dir, std::move(*d));
    } catch (const Error& e) {
      // Never obeyed, and one bad file must not stop the other jails' upgrade: reported instead.
      out.refused.push_back(e);
    }
  }
  for (std::string& dir : registered.present) {
    auto it = by_dir.find(dir);
    if (it == by_dir.end()) {
      out.jails.push_back({std::move(dir), std::nullopt});
    } else {
      out.jails.push_back({std::move(dir), std::move(it->second)});
      by_dir.erase(it);
    }
  }
  for (auto& [dir, d] : by_dir)
    out.unregistered.push_back(d.spec.name);
  return out;
}

} // namespace jailbuild
