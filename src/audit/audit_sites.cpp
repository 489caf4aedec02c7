// SPDX-License-Identifier: MIT
// The audit of a jail's sites (site.hpp): a site's code is compared, as one group, with the baseline
// root accepted, and code in the directories its services write is reported file by file. The site
// is the services' side: nothing here follows a symlink, opens anything but a regular file through
// JailFs, or reads a file whose size differs from the accepted one (a 10 GB sparse file planted there
// is "changed" or "added" by its status alone).
#include "audit_internal.hpp"

#include "jailbuild/digest.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/plan_builder.hpp"

#include <algorithm>
#include <ctime>
#include <unordered_map>

namespace jailbuild::audit {

namespace {

bool below(std::string_view path, std::string_view dir) {
  return path.size() > dir.size() && path.starts_with(dir) && path[dir.size()] == '/';
}

bool in_any(std::string_view path, const std::vector<std::string>& dirs) {
  return std::any_of(dirs.begin(), dirs.end(),
                     [&](const std::string& d) { return path == d || below(path, d); });
}

int64_t ns(const struct timespec& t) {
  return int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec;
}

std::string day_of(int64_t unix_time) {
  std::time_t t = static_cast<std::time_t>(unix_time);
  std::tm tm{};
  char buf[32];
  if (!::gmtime_r(&t, &tm) || std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm) == 0) return "?";
  return buf;
}

/// A file whose status moved but whose size did not: hashed to tell a touch from a change.
struct ToHash {
  std::size_t node;
  const SiteFile* accepted;
  bool changed = false;
};

} // namespace

std::vector<SiteScope> site_scopes(const Context& ctx) {
  std::vector<SiteScope> out;
  if (!ctx.manifest) return out;
  const JailSpec& spec = ctx.manifest->plan.spec;
  for (const SiteSpec& site : spec.sites) {
    if (refused_jail_path(site.docroot, JailPathUse::writable)) continue;
    out.push_back({&site, site_writable_dirs(spec, site)});
  }
  return out;
}

bool in_site_code(const std::vector<SiteScope>& scopes, std::string_view path) {
  return std::any_of(scopes.begin(), scopes.end(), [&](const SiteScope& s) {
    return below(path, s.site->docroot) && !in_any(path, s.writable);
  });
}

std::vector<SiteAudit> check_sites(Context& ctx, const std::vector<SiteScope>& scopes, unsigned threads) {
  std::vector<SiteAudit> out;
  for (const SiteScope& scope : scopes) {
    const std::string& docroot = scope.site->docroot;
    SiteAudit site;
    site.docroot = docroot;
    std::optional<SiteBaseline> baseline;
    try {
      baseline = read_site_baseline(ctx.jail, docroot);
    } catch (const Error& e) {
      ctx.add("audit-error", Severity::medium, site_baseline_path(docroot),
              "the site's baseline cannot be read: " + e.message(),
              "look at it; `jailbuild site accept " + ctx.jail.root() + " " + docroot + "` makes a new one");
    }
    std::unordered_map<std::string_view, const SiteFile*> accepted;
    if (baseline) {
      site.accepted = true;
      site.accepted_at = baseline->accepted;
      accepted.reserve(baseline->files.size());
      for (const SiteFile& f : baseline->files)
        accepted.emplace(f.path, &f);
    }
    std::vector<ToHash> to_hash;
    std::unordered_map<std::string_view, bool> seen;
    for (std::size_t i = 0; i < ctx.nodes.size(); ++i) {
      const Node& n = ctx.nodes[i];
      if (!below(n.path, docroot) || S_ISDIR(n.st.st_mode)) continue;
      if (in_any(n.path, scope.writable)) {
        // What the services may write is data; code there is what an upload hole or a compromised
        // plugin leaves behind to be run by the next request.
        if (is_site_code_name(base_name(n.path))) site.code_in_writable.push_back(n.path);
        continue;
      }
      ++site.files;
      if (!baseline) continue;
      std::string_view rel = std::string_view(n.path).substr(docroot.size() + 1);
      auto it = accepted.find(rel);
      if (it == accepted.end()) {
        site.added.push_back(n.path);
        continue;
      }
      seen.emplace(it->first, true);
      const SiteFile& a = *it->second;
      const uint32_t mode = n.st.st_mode & 07777;
      switch (a.type) {
      case SiteFile::Type::file:
        if (!S_ISREG(n.st.st_mode) || mode != a.mode || static_cast<uint64_t>(n.st.st_size) != a.size) {
          site.changed.push_back(n.path);
        } else if (n.st.st_ino != a.ino || ns(n.st.st_mtim) != a.mtime_ns || ns(n.st.st_ctim) != a.ctime_ns) {
          if (a.digest.empty())
            site.changed.push_back(n.path); // too big to hash: its status is all there is
          else
            to_hash.push_back({i, &a});
        }
        break;
      case SiteFile::Type::symlink:
        if (!S_ISLNK(n.st.st_mode) || n.link != a.link) site.changed.push_back(n.path);
        break;
      case SiteFile::Type::other:
        if (S_ISREG(n.st.st_mode) || S_ISLNK(n.st.st_mode) || mode != a.mode) site.changed.push_back(n.path);
        break;
      }
    }
    parallel_for(to_hash.size(), std::max(1u, threads), [&](std::size_t k) {
      ToHash& h = to_hash[k];
      try {
        UniqueFd fd(ctx.jail.open_read(ctx.nodes[h.node].path)); // a regular file, never through a symlink
        h.changed = sha256_fd(fd.get()) != h.accepted->digest;
      } catch (const Error&) {
        h.changed = true; // swapped for something else meanwhile: not the accepted file
      }
    });
    for (const ToHash& h : to_hash)
      if (h.changed) site.changed.push_back(ctx.nodes[h.node].path);
    if (baseline)
      for (const SiteFile& f : baseline->files)
        if (!seen.count(f.path)) site.removed.push_back(docroot + "/" + f.path);
    for (auto* list : {&site.changed, &site.added, &site.removed, &site.code_in_writable})
      std::sort(list->begin(), list->end());

    for (const std::string& path : site.code_in_writable)
      ctx.add("site-code-in-writable", Severity::high, path,
              "code (PHP or a server configuration) in a directory the site's services write: whoever can "
              "upload there can have it run",
              "find out how it came there (an upload hole, a compromised plugin), then remove it; serve that "
              "directory without PHP");
    if (!baseline) {
      if (site.files)
        ctx.add("site-unaccepted", Severity::low, docroot,
                "site " + docroot + ": " + std::to_string(site.files) +
                    " files, no accepted baseline: what changes in its code cannot be told",
                "look at the code, then `jailbuild site accept " + ctx.jail.root() + " " + docroot + "`");
      out.push_back(std::move(site));
      continue;
    }
    auto code = [](const std::vector<std::string>& paths) {
      return std::any_of(paths.begin(), paths.end(),
                         [](const std::string& p) { return is_site_code_name(base_name(p)); });
    };
    const bool any = !site.changed.empty() || !site.added.empty() || !site.removed.empty();
    const Severity severity = code(site.changed) || code(site.added) || code(site.removed) ? Severity::medium
                              : any                                                        ? Severity::low
                                                                                           : Severity::info;
    ctx.add("site", severity, docroot,
            "site " + docroot + ": " + std::to_string(site.files) + " files, " +
                std::to_string(site.changed.size()) + " changed, " + std::to_string(site.added.size()) +
                " added, " + std::to_string(site.removed.size()) + " removed since accepted " +
                day_of(site.accepted_at),
            any ? "see which with `jailbuild audit --verbose`; restore them, or accept them: `jailbuild site "
                  "accept " +
                      ctx.jail.root() + " " + docroot + "`"
                : "nothing");
    out.push_back(std::move(site));
  }
  return out;
}

} // namespace jailbuild::audit
