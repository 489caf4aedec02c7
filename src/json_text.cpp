// SPDX-License-Identifier: MIT
#include "jailbuild/json_text.hpp"

#include <nlohmann/json.hpp>

namespace jailbuild {

namespace {

/// The length of the valid UTF-8 sequence at text[at], or 0: no overlong form, no surrogate, nothing
/// above U+10FFFF (what nlohmann's dump refuses with type_error 316).
std::size_t utf8_length(const std::string& text, std::size_t at) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char c = byte(at);
  if (c < 0x80) return 1;
  std::size_t n;
  unsigned char lo = 0x80, hi = 0xbf; // the range of the second byte
  if (c >= 0xc2 && c <= 0xdf)
    n = 2;
  else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
  } else
    return 0;
  if (at + n > text.size() || byte(at + 1) < lo || byte(at + 1) > hi) return 0;
  for (std::size_t i = 2; i < n; ++i)
    if (byte(at + i) < 0x80 || byte(at + i) > 0xbf) return 0;
  return n;
}

void escape_strings(nlohmann::ordered_json& j) {
  if (j.is_string()) {
    j = utf8_or_escaped(j.get_ref<const std::string&>());
  } else if (j.is_array()) {
    for (auto& item : j)
      escape_strings(item);
  } else if (j.is_object()) {
    nlohmann::ordered_json out = nlohmann::ordered_json::object();
    for (auto& [key, value] : j.items()) {
      escape_strings(value);
      out[utf8_or_escaped(key)] = std::move(value);
    }
    j = std::move(out);
  }
}

} // namespace

std::string utf8_or_escaped(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t at = 0; at < text.size();) {
    if (std::size_t n = utf8_length(text, at)) {
      out.append(text, at, n);
      at += n;
    } else {
      static constexpr char hex[] = "0123456789abcdef";
      const auto c = static_cast<unsigned char>(text[at++]);
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string json_report_text(const nlohmann::ordered_json& doc, int indent) {
  try {
    return doc.dump(indent) + "\n";
  } catch (const nlohmann::json::type_error& e) {
    if (e.id != 316) throw;
    // Rare (a name that is not UTF-8): only then is the document copied and its strings rewritten.
    nlohmann::ordered_json copy = doc;
    escape_strings(copy);
    return copy.dump(indent) + "\n";
  }
}

} // namespace jailbuild
