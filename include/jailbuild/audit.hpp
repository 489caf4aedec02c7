// SPDX-License-Identifier: MIT
// `jailbuild audit`: what makes a jail escapable or shows it was tampered with, on any directory,
// with or without a jailbuild manifest. Read-only: the audit never writes into the jail, never
// follows a symlink inside it and never walks into what is mounted below it.
#pragma once
#include "jailbuild/elf.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jailbuild {

/// How bad a finding is. The order is the order of the thresholds: --fail-on medium fails on
/// medium, high and critical findings.
enum class Severity : uint8_t { info, low, medium, high, critical };
std::string_view to_string(Severity severity);
std::optional<Severity> severity_from(std::string_view name);

/// One thing wrong with the jail.
struct Finding {
  std::string rule; ///< stable id, e.g. "setuid", "integrity-modified"
  Severity severity = Severity::info;
  std::string path;    ///< inside the jail ("/usr/bin/su"); "host:/srv" for a path outside it
  std::string message; ///< what is wrong and why it matters
  std::string fix;     ///< one line saying how to fix it

  bool operator==(const Finding&) const = default;
};

/// Whether the audit hashes every file the manifest records (the slow part of an audit).
enum class Integrity { check, skip };
/// Whether the audit reads every ELF file's hardening (program headers, dynamic segment, symbols).
enum class Hardening { check, skip };

struct AuditOptions {
  Integrity integrity = Integrity::check;
  Hardening hardening = Hardening::check;
  unsigned threads = 2; ///< hashing and ELF parsing run in parallel
  /// The mount table read for the mount rules; tests give a fake one.
  std::string mountinfo = "/proc/self/mountinfo";
  /// Bytes of ELF symbol tables the hardening pass reads in all (HardeningBudget); tests give less.
  std::uint64_t hardening_budget = audit_hardening_budget;
};

/// The hardening of one ELF file, as checksec reports it.
struct ElfAudit {
  enum class Type : uint8_t { executable, library, other };
  std::string path; ///< inside the jail
  Type type = Type::other;
  ElfHardening hardening;
  std::string error; ///< why it could not be parsed; empty when it was
};
std::string_view to_string(ElfAudit::Type type);

/// What the integrity check covered.
struct IntegrityStats {
  bool checked = false;
  std::string skipped_because; ///< "no manifest", "--no-integrity", "manifest not root's alone"
  std::size_t files = 0;       ///< files hashed
  std::uint64_t bytes = 0;     ///< bytes hashed
  std::size_t modified = 0, missing = 0, unexpected = 0;
};

/// A site of the jail (site.hpp) as the audit compared it with its accepted baseline: one group, so
/// that thousands of application files are one finding, not thousands.
struct SiteAudit {
  std::string docroot;
  bool accepted = false;   ///< a baseline was accepted (create copied the source, or `site accept`)
  int64_t accepted_at = 0; ///< unix time
  std::size_t files = 0;   ///< files (and symlinks) in the site now, its writable directories left out
  std::vector<std::string> changed, added, removed; ///< jail paths, sorted
  std::vector<std::string> code_in_writable;        ///< *.php, .htaccess, ... where the services write
};

struct AuditReport {
  std::string jail; ///< the jail directory as given, without trailing slashes
  bool has_manifest = false;
  std::size_t entries = 0;       ///< entries walked
  std::vector<Finding> findings; ///< most severe first, then by path and rule
  IntegrityStats integrity;
  bool hardening_checked = false;
  std::vector<ElfAudit> elves;  ///< every ELF file, sorted by path
  std::vector<SiteAudit> sites; ///< the manifest's sites, when integrity was checked
};

/// Audits the jail at `dir`. Problems of the jail are findings; a per-file failure (an unreadable
/// file) is an "audit-error" finding and the audit goes on. Throws Error only when the jail cannot be
/// audited at all (missing, not a directory, a corrupt manifest).
AuditReport audit_jail(const std::string& dir, const AuditOptions& options = {});

/// True when a finding is at or above the threshold: the audit fails (exit status 1).
bool audit_fails(const AuditReport& report, Severity threshold);

/// Findings grouped by severity with counts, each with its rule, path, message and fix; then the
/// integrity and checksec-style hardening summaries and the verdict against the threshold.
/// How much the text shows of a site's changes: counts, or every changed, added and removed path.
enum class AuditDetail { summary, verbose };

std::string format_audit_text(const AuditReport& report, Severity threshold,
                              AuditDetail detail = AuditDetail::summary);
/// The report as JSON; the schema is documented in audit_report.cpp and the README.
std::string format_audit_json(const AuditReport& report, Severity threshold);

} // namespace jailbuild
