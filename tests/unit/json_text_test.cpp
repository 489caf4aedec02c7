// SPDX-License-Identifier: MIT
#include "jailbuild/json_text.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

using namespace jailbuild;

TEST_CASE("utf8_or_escaped: valid UTF-8 is unchanged, each invalid byte is \\xNN") {
  CHECK(utf8_or_escaped("/tmp/sess_abc") == "/tmp/sess_abc");
  CHECK(utf8_or_escaped("/tmp/caf\xc3\xa9 \xf0\x9f\x90\xa7") == "/tmp/caf\xc3\xa9 \xf0\x9f\x90\xa7");
  CHECK(utf8_or_escaped("/tmp/\xff\xfex") == "/tmp/\\xff\\xfex");
  CHECK(utf8_or_escaped("\xc0\xaf") == "\\xc0\\xaf");                   // an overlong '/'
  CHECK(utf8_or_escaped("\xed\xa0\x80") == "\\xed\\xa0\\x80");          // a surrogate
  CHECK(utf8_or_escaped("\xf4\x90\x80\x80") == "\\xf4\\x90\\x80\\x80"); // above U+10FFFF
  CHECK(utf8_or_escaped("a\xe2\x82") == "a\\xe2\\x82");                 // cut short at the end
}

TEST_CASE("json_report_text: a name that is not UTF-8, as value or key, is escaped instead of fatal") {
  nlohmann::ordered_json doc = {{"path", "/tmp/\xff\xfex"}, {"list", {"ok", "\x80"}}};
  doc["by_path"]["/tmp/\xfe"] = 1;
  CHECK(json_report_text(doc, 2) ==
        nlohmann::ordered_json(
            {{"path", "/tmp/\\xff\\xfex"}, {"list", {"ok", "\\x80"}}, {"by_path", {{"/tmp/\\xfe", 1}}}})
                .dump(2) +
            "\n");
  nlohmann::ordered_json plain = {{"path", "/tmp/caf\xc3\xa9"}};
  CHECK(json_report_text(plain, 2) == plain.dump(2) + "\n");
}
