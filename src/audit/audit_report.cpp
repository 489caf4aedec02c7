// SPDX-License-Identifier: MIT
// How an audit is shown: text for people, JSON for CI.
//
// The JSON schema, format 1 (a key is only ever added; anything incompatible bumps "format"):
// {
//   "format": 1,
//   "jail": "/srv/jail",              the directory as given
//   "manifest": true,                 a jailbuild manifest was found (integrity could be checked)
//   "entries": 2441,                  entries walked
//   "threshold": "medium",            --fail-on
//   "failed": false,                  a finding is at or above the threshold (exit status 1)
//   "counts": {"critical": 0, "high": 0, "medium": 0, "low": 0, "info": 0},
//   "findings": [                     most severe first, then by path and rule
//     {"rule": "setuid", "severity": "critical", "path": "/usr/bin/su",
//      "message": "...", "fix": "..."}  path is inside the jail; "host:/srv" for a path outside it
//   ],
//   "integrity": {"checked": true, "skipped_because": null | "no manifest" | "--no-integrity" |
//                 "manifest not root's alone",
//                 "files": 1517, "bytes": 140880308, "modified": 0, "missing": 0, "unexpected": 0},
//   "hardening": {"checked": true,
//                 "summary": {"elf": 392, "executables": 2, "libraries": 390, "other": 0, "errors": 0,
//                             "pie": 2, "relro_full": 380, "relro_partial": 12, "relro_none": 0,
//                             "nx": 392, "canary": 250, "fortify": 180},
//                 "files": [{"path": "/usr/sbin/nginx", "type": "executable" | "library" | "other",
//                            "pie": true, "relro": "full" | "partial" | "none", "nx": true,
//                            "canary": true, "fortify": true, "error": null | "..."}]},
//   "sites": [{"docroot": "/var/www/blog",  only when the manifest declares sites and integrity was checked
//              "accepted": 1764783000 | null, when the baseline was accepted (null: none)
//              "files": 2591, "changed": [...], "added": [...], "removed": [...],  jail paths
//              "code_in_writable": [...]}]       *.php, .htaccess, ... where the services write
// }
// "pie" counts executables only: a library is position-independent by nature.
#include "jailbuild/audit.hpp"
#include "jailbuild/json_text.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <sstream>

namespace jailbuild {

std::string_view to_string(Severity severity) {
  switch (severity) {
  case Severity::info:
    return "info";
  case Severity::low:
    return "low";
  case Severity::medium:
    return "medium";
  case Severity::high:
    return "high";
  case Severity::critical:
    return "critical";
  }
  return "?";
}

std::optional<Severity> severity_from(std::string_view name) {
  for (Severity s : {Severity::info, Severity::low, Severity::medium, Severity::high, Severity::critical})
    if (to_string(s) == name) return s;
  return std::nullopt;
}

std::string_view to_string(ElfAudit::Type type) {
  switch (type) {
  case ElfAudit::Type::executable:
    return "executable";
  case ElfAudit::Type::library:
    return "library";
  case ElfAudit::Type::other:
    return "other";
  }
  return "?";
}

namespace {

using ordered_json = nlohmann::ordered_json;

constexpr std::array<Severity, 5> most_severe_first = {Severity::critical, Severity::high, Severity::medium,
                                                       Severity::low, Severity::info};

std::string_view relro_name(ElfHardening::Relro relro) {
  switch (relro) {
  case ElfHardening::Relro::full:
    return "full";
  case ElfHardening::Relro::partial:
    return "partial";
  case ElfHardening::Relro::none:
    return "none";
  }
  return "?";
}

struct HardeningSummary {
  std::size_t elf = 0, executables = 0, libraries = 0, other = 0, errors = 0;
  std::size_t pie = 0, relro_full = 0, relro_partial = 0, relro_none = 0, nx = 0, canary = 0, fortify = 0;
};

HardeningSummary summarize(const std::vector<ElfAudit>& elves) {
  HardeningSummary s;
  for (const ElfAudit& e : elves) {
    ++s.elf;
    if (!e.error.empty()) {
      ++s.errors;
      continue;
    }
    const ElfHardening& h = e.hardening;
    if (e.type == ElfAudit::Type::executable)
      ++s.executables;
    else if (e.type == ElfAudit::Type::library)
      ++s.libraries;
    else
      ++s.other;
    if (e.type == ElfAudit::Type::executable && h.pie) ++s.pie;
    if (h.relro == ElfHardening::Relro::full)
      ++s.relro_full;
    else if (h.relro == ElfHardening::Relro::partial)
      ++s.relro_partial;
    else
      ++s.relro_none;
    s.nx += h.nx_stack;
    s.canary += h.canary;
    s.fortify += h.fortify;
  }
  return s;
}

std::string human_bytes(std::uint64_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(n) / (1024.0 * 1024.0));
  return buf;
}

std::size_t count(const AuditReport& report, Severity severity) {
  std::size_t n = 0;
  for (const Finding& f : report.findings)
    n += f.severity == severity;
  return n;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

} // namespace

/// A site's changed, added and removed paths under its finding (--verbose); a name a service chose is
/// printed with its control characters escaped, so that it cannot forge lines of the report.
void print_site_paths(std::ostringstream& out, const AuditReport& report, const std::string& docroot) {
  for (const SiteAudit& site : report.sites) {
    if (site.docroot != docroot) continue;
    for (const auto& [what, paths] : {std::pair{"changed", &site.changed}, std::pair{"added", &site.added},
                                      std::pair{"removed", &site.removed}})
      for (const std::string& p : *paths) {
        out << "      " << what << ": ";
        for (char c : p) {
          auto u = static_cast<unsigned char>(c);
          if (u < 0x20 || u == 0x7f || c == '\\') {
            char buf[5];
            std::snprintf(buf, sizeof buf, "\\x%02x", u);
            out << buf;
          } else {
            out << c;
          }
        }
        out << '\n';
      }
  }
}

std::string format_audit_text(const AuditReport& report, Severity threshold, AuditDetail detail) {
  std::ostringstream out;
  out << "audit of " << report.jail << ": " << report.findings.size() << " finding"
      << (report.findings.size() == 1 ? "" : "s");
  const char* sep = " (";
  for (Severity s : most_severe_first) {
    out << sep << count(report, s) << ' ' << to_string(s);
    sep = ", ";
  }
  out << ")\n";
  for (Severity s : most_severe_first) {
    std::size_t n = count(report, s);
    if (n == 0) continue;
    out << '\n' << upper(to_string(s)) << " (" << n << ")\n";
    for (const Finding& f : report.findings) {
      if (f.severity != s) continue;
      out << "  " << f.rule << "  " << f.path << "\n    " << f.message << "\n    fix: " << f.fix << '\n';
      if (f.rule == "site" && detail == AuditDetail::verbose) print_site_paths(out, report, f.path);
    }
  }
  out << '\n';
  const IntegrityStats& i = report.integrity;
  if (i.checked)
    out << "integrity: " << i.files << " files hashed (" << human_bytes(i.bytes) << "): " << i.modified
        << " modified, " << i.missing << " missing, " << i.unexpected << " unexpected\n";
  else
    out << "integrity: not checked (" << i.skipped_because << ")\n";
  if (report.hardening_checked) {
    HardeningSummary h = summarize(report.elves);
    std::size_t parsed = h.elf - h.errors;
    out << "hardening: " << h.elf << " ELF files (" << h.executables << " executables, " << h.libraries
        << " libraries" << (h.errors ? ", " + std::to_string(h.errors) + " unreadable" : std::string())
        << "): PIE " << h.pie << "/" << h.executables << ", RELRO full " << h.relro_full << " partial "
        << h.relro_partial << " none " << h.relro_none << ", NX " << h.nx << "/" << parsed << ", canary "
        << h.canary << "/" << parsed << ", FORTIFY " << h.fortify << "/" << parsed << '\n';
  } else {
    out << "hardening: not checked (--no-hardening)\n";
  }
  bool failed = audit_fails(report, threshold);
  out << (failed ? "FAIL" : "PASS") << ": " << (failed ? "findings" : "no finding") << " at or above "
      << to_string(threshold) << '\n';
  return out.str();
}

std::string format_audit_json(const AuditReport& report, Severity threshold) {
  ordered_json counts = ordered_json::object();
  for (Severity s : most_severe_first)
    counts[std::string(to_string(s))] = count(report, s);
  ordered_json findings = ordered_json::array();
  for (const Finding& f : report.findings)
    findings.push_back({{"rule", f.rule},
                        {"severity", to_string(f.severity)},
                        {"path", f.path},
                        {"message", f.message},
                        {"fix", f.fix}});
  const IntegrityStats& i = report.integrity;
  ordered_json integrity = {{"checked", i.checked},
                            {"skipped_because", i.checked ? ordered_json() : ordered_json(i.skipped_because)},
                            {"files", i.files},
                            {"bytes", i.bytes},
                            {"modified", i.modified},
                            {"missing", i.missing},
                            {"unexpected", i.unexpected}};
  HardeningSummary h = summarize(report.elves);
  ordered_json files = ordered_json::array();
  for (const ElfAudit& e : report.elves)
    files.push_back({{"path", e.path},
                     {"type", to_string(e.type)},
                     {"pie", e.hardening.pie},
                     {"relro", relro_name(e.hardening.relro)},
                     {"nx", e.hardening.nx_stack},
                     {"canary", e.hardening.canary},
                     {"fortify", e.hardening.fortify},
                     {"error", e.error.empty() ? ordered_json() : ordered_json(e.error)}});
  ordered_json hardening = {{"checked", report.hardening_checked},
                            {"summary",
                             {{"elf", h.elf},
                              {"executables", h.executables},
                              {"libraries", h.libraries},
                              {"other", h.other},
                              {"errors", h.errors},
                              {"pie", h.pie},
                              {"relro_full", h.relro_full},
                              {"relro_partial", h.relro_partial},
                              {"relro_none", h.relro_none},
                              {"nx", h.nx},
                              {"canary", h.canary},
                              {"fortify", h.fortify}}},
                            {"files", files}};
  ordered_json doc = {{"format", 1},
                      {"jail", report.jail},
                      {"manifest", report.has_manifest},
                      {"entries", report.entries},
                      {"threshold", to_string(threshold)},
                      {"failed", audit_fails(report, threshold)},
                      {"counts", counts},
                      {"findings", findings},
                      {"integrity", integrity},
                      {"hardening", hardening}};
  if (!report.sites.empty()) {
    ordered_json sites = ordered_json::array();
    for (const SiteAudit& site : report.sites)
      sites.push_back({{"docroot", site.docroot},
                       {"accepted", site.accepted ? ordered_json(site.accepted_at) : ordered_json()},
                       {"files", site.files},
                       {"changed", site.changed},
                       {"added", site.added},
                       {"removed", site.removed},
                       {"code_in_writable", site.code_in_writable}});
    doc["sites"] = sites;
  }
  return json_report_text(doc, 2);
}

} // namespace jailbuild
