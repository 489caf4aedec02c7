// SPDX-License-Identifier: MIT
#include "jailbuild/plan_report.hpp"
#include "jailbuild/json_text.hpp"

#include "jailbuild/manifest.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <sstream>

namespace jailbuild {

namespace {

std::string octal(uint32_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", mode);
  return buf;
}

std::string human_bytes(uint64_t n) {
  char buf[32];
  if (n >= 1024 * 1024)
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(n) / (1024.0 * 1024.0));
  else if (n >= 1024)
    std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(n) / 1024.0);
  else
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
  return buf;
}

} // namespace

std::string format_plan_text(const Plan& plan) {
  std::ostringstream out;
  for (const PlanEntry& e : plan.entries) {
    out << to_string(e.kind) << ' ' << octal(e.mode) << ' ' << e.uid << ':' << e.gid << ' ' << e.path;
    switch (e.kind) {
    case EntryKind::file:
      out << " <- " << e.source << " sha256:" << e.digest;
      break;
    case EntryKind::generated:
      out << " (generated) sha256:" << e.digest;
      break;
    case EntryKind::symlink:
      out << " -> " << e.source;
      break;
    case EntryKind::device:
      out << (e.device_type == DeviceType::block ? " block " : " char ") << e.major << ',' << e.minor;
      break;
    case EntryKind::bind:
      out << " <= " << e.source << (e.read_only ? " ro" : " rw") << (e.noexec ? ",noexec" : "");
      break;
    case EntryKind::directory:
      break;
    }
    out << '\n';
  }
  for (const std::string& w : plan.warnings)
    out << "warning: " << w << '\n';
  return out.str();
}

std::string format_plan_json(const Plan& plan) {
  nlohmann::ordered_json entries = nlohmann::ordered_json::array();
  for (const PlanEntry& e : plan.entries)
    entries.push_back(entry_to_json<nlohmann::ordered_json>(e, EntryStamps::size_only));
  nlohmann::ordered_json doc = {{"services", plan.spec.services},
                                {"users", plan.users},
                                {"warnings", plan.warnings},
                                {"entries", entries}};
  return json_report_text(doc, 2);
}

std::string format_summary(const std::string& dir, const Plan& plan, const AssembleReport& report) {
  PlanSummary s = summarize(plan);
  std::ostringstream out;
  out << "jail " << dir << ": " << s.objects << " ELF objects, " << s.files + s.generated << " files ("
      << human_bytes(s.bytes) << "), " << s.directories << " directories, " << s.symlinks << " symlinks, "
      << s.devices << " devices, " << s.users << " users, " << s.binds << " binds\n";
  out << "  " << report.written << " entries written (" << human_bytes(report.bytes) << "), "
      << report.unchanged << " unchanged";
  if (report.removed) out << ", " << report.removed << " removed";
  out << '\n';
  for (const std::string& w : plan.warnings)
    out << "warning: " << w << '\n';
  for (const std::string& w : report.warnings)
    out << "warning: " << w << '\n';
  return out.str();
}

std::string format_summary_json(const std::string& dir, const Plan& plan, const AssembleReport& report) {
  PlanSummary s = summarize(plan);
  std::vector<std::string> warnings = plan.warnings;
  warnings.insert(warnings.end(), report.warnings.begin(), report.warnings.end());
  nlohmann::ordered_json doc = {{"dir", dir},
                                {"objects", s.objects},
                                {"files", s.files + s.generated},
                                {"bytes", s.bytes},
                                {"directories", s.directories},
                                {"symlinks", s.symlinks},
                                {"devices", s.devices},
                                {"binds", s.binds},
                                {"users", plan.users},
                                {"written", report.written},
                                {"unchanged", report.unchanged},
                                {"bytes_written", report.bytes},
                                {"removed", report.removed},
                                {"warnings", warnings}};
  return json_report_text(doc, 2);
}

} // namespace jailbuild
