// SPDX-License-Identifier: MIT
#include "jailbuild/text.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace jailbuild;

using Strings = std::vector<std::string>;

TEST_CASE("split: every field between separators, empty ones included") {
  CHECK(split("nginx,php-fpm", ',') == Strings{"nginx", "php-fpm"});
  CHECK(split("a,,b,", ',') == Strings{"a", "", "b", ""});
  CHECK(split(",a", ',') == Strings{"", "a"});
  CHECK(split("", ',') == Strings{""});
  CHECK(split("no separator", ',') == Strings{"no separator"});
  CHECK(split("/srv/site:/var/www:ro,noexec", ':') == Strings{"/srv/site", "/var/www", "ro,noexec"});
}

TEST_CASE("split_view: the same fields, as views into the text") {
  const std::string text = "www-data:x:33:33::/var/www:/usr/sbin/nologin";
  std::vector<std::string_view> fields = split_view(text, ':');
  REQUIRE(fields.size() == 7);
  CHECK(fields[2] == "33");
  CHECK(fields[4].empty());
  CHECK(fields[6] == "/usr/sbin/nologin");
  CHECK(fields[0].data() == text.data()); // no copy
}

TEST_CASE("join: the parts with the separator between each, the inverse of split") {
  CHECK(join({"a", "b", "c"}, ", ") == "a, b, c");
  CHECK(join({}, ",") == "");
  CHECK(join({"only"}, ",") == "only");
  CHECK(join({"", "b"}, ",") == ",b"); // an empty first part keeps its separator
  for (const char* text : {"a,,b,", "", ",", "x"})
    CHECK(join(split(text, ','), ",") == text);
}
