// SPDX-License-Identifier: MIT
#include "jailbuild/nginx_snippet.hpp"

#include "jailbuild/error.hpp"

#include "test_util.hpp"

#include <doctest/doctest.h>

using namespace jailbuild;
using namespace jailbuild::test;

namespace {

SnippetSite blog() {
  return {"blog", "/var/www/jails/blog", "blog", "/run/php/blog.sock", SocketPlace::in_jail, "/var/www/html"};
}

} // namespace

TEST_CASE("nginx_snippet: a host nginx reaches the socket through the jail, php-fpm sees its own paths") {
  std::string text = nginx_snippet(blog(), NginxSide::host);
  CHECK(contains(text, "root /var/www/jails/blog/var/www/html;\n"));
  CHECK(contains(text, "fastcgi_param SCRIPT_FILENAME /var/www/html$fastcgi_script_name;\n"));
  CHECK(contains(text, "fastcgi_param DOCUMENT_ROOT /var/www/html;\n"));
  CHECK(contains(text, "fastcgi_pass unix:/var/www/jails/blog/run/php/blog.sock;\n"));
  // The site's user owns links it plants; the host's nginx must not follow them out of the jail.
  CHECK(contains(text, "disable_symlinks if_not_owner from=/var/www/jails/blog/var/www/html;\n"));
}

TEST_CASE(
    "nginx_snippet: a jailed nginx uses the paths inside; the runtime-only jail's socket is the host's") {
  std::string text = nginx_snippet(blog(), NginxSide::jail);
  CHECK(contains(text, "root /var/www/html;\n"));
  CHECK(contains(text, "fastcgi_pass unix:/run/php/blog.sock;\n"));

  SnippetSite runtime{"chr", "/srv/chr", "chr", "/run/php/chr.sock", SocketPlace::on_host, "/"};
  text = nginx_snippet(runtime, NginxSide::host);
  CHECK(contains(text, "root /srv/chr;\n"));
  CHECK(contains(text, "fastcgi_param SCRIPT_FILENAME $fastcgi_script_name;\n"));
  CHECK(contains(text, "fastcgi_pass unix:/run/php/chr.sock;\n"));
  CHECK_THROWS_WITH_AS(nginx_snippet(runtime, NginxSide::jail), doctest::Contains("cannot reach it"), Error);
}

TEST_CASE("nginx_snippet: a path that would be nginx syntax is refused, never written") {
  for (const char* bad : {"/run/php/x.sock;include /etc/shadow", "/run/php/x sock", "/run/php/$x",
                          "/run/php/x}", "/run/php/x\n", "/run/php/../x", "run/x", "/run/php/x#"}) {
    SnippetSite site = blog();
    site.socket = bad;
    CHECK_THROWS_AS(nginx_snippet(site, NginxSide::host), Error);
    site = blog();
    site.docroot = bad;
    CHECK_THROWS_AS(nginx_snippet(site, NginxSide::host), Error);
  }
}
