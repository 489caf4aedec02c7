// SPDX-License-Identifier: MIT
// How create shows a plan (--dry-run) and what it did (the summary), as text or JSON.
#pragma once
#include "jailbuild/assemble.hpp"
#include "jailbuild/plan.hpp"

#include <string>

namespace jailbuild {

/// One line per entry: kind, mode, owner, path, source or target, digest.
std::string format_plan_text(const Plan& plan);
/// The plan as JSON: spec, entries, users, warnings.
std::string format_plan_json(const Plan& plan);
/// The short human summary after create: objects, files, bytes, users, devices, binds, warnings.
std::string format_summary(const std::string& dir, const Plan& plan, const AssembleReport& report);
/// The same summary as JSON.
std::string format_summary_json(const std::string& dir, const Plan& plan, const AssembleReport& report);

} // namespace jailbuild
