// SPDX-License-Identifier: MIT
// JSON text of the reports (audit, sync, create's plan, deps), whatever bytes the names in them hold.
#pragma once
#include <nlohmann/json_fwd.hpp>

#include <string>

namespace jailbuild {

/// `doc` as `dump(indent)` writes it, plus a newline. A string that is not UTF-8 (a file name a
/// service user chose in its jail, say) is not an error: each byte of it that is not part of a valid
/// UTF-8 sequence is written as the four characters \xNN, as `ls -b` shows it. Valid text is
/// unchanged, so the output of a jail whose names are all UTF-8 is the same byte for byte.
std::string json_report_text(const nlohmann::ordered_json& doc, int indent);

/// `text` with each byte that is not part of a valid UTF-8 sequence written as \xNN.
std::string utf8_or_escaped(const std::string& text);

} // namespace jailbuild
