// SPDX-License-Identifier: MIT
#include "jailbuild/discover.hpp"

#include "jailbuild/error.hpp"
#include "jailbuild/hostfs.hpp"

#include "test_util.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <new>
#include <sys/stat.h>
#include <unistd.h>

using namespace jailbuild;
using namespace jailbuild::test;
namespace fs = std::filesystem;

namespace {

// A fake host root in a fresh temporary directory, removed at the end of the test.
class FakeHost {
public:
  HostRoot host() const { return HostRoot(dir_.path); }

  void write(const std::string& host_path, const std::string& content) const {
    write_text(dir_.path + host_path, content);
  }
  /// Where a host path of the fake host is on this machine.
  std::string real(const std::string& host_path) const { return dir_.path + host_path; }
  void symlink(const std::string& host_path, const std::string& target) const {
    fs::path real = dir_.path + host_path;
    fs::create_directories(real.parent_path());
    fs::create_symlink(target, real);
  }

private:
  TempDir dir_{"discover", 0700};
};

bool has_warning(const std::vector<std::string>& warnings, const std::string& part) {
  for (const auto& w : warnings)
    if (w.find(part) != std::string::npos) return true;
  return false;
}

bool contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

const std::string ext_dir = "/usr/lib/php/20220829";

// The API directory hides among other bytes, NULs and look-alikes, as in a real binary.
std::string fake_fpm_binary(const std::string& api_dir) {
  std::string bytes = "\x7f"
                      "ELF\x02\x01";
  bytes += std::string(64, '\0');
  bytes += "/usr/lib/php/packaging";
  bytes += '\0';
  bytes += "/usr/lib/php/2022";
  bytes += '\0';
  bytes += "\xde\xad\xbe\xef junk /etc/php/8.2/fpm";
  bytes += '\0';
  bytes += api_dir;
  bytes += '\0';
  bytes += std::string(32, '\x90');
  return bytes;
}

// A host with php8.2-fpm as Debian lays it out, plus the odd cases discovery must handle.
void make_php_host(const FakeHost& fake) {
  fake.write("/usr/sbin/php-fpm8.2", fake_fpm_binary(ext_dir));
  for (const char* so : {"intl", "curl", "gd", "mbstring", "opcache", "xdebug", "sqlite3", "sub/relative"})
    fake.write(ext_dir + "/" + so + ".so", "ELF");
  fake.write("/opt/php/custom.so", "ELF");
  fake.write("/etc/passwd",
             "root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n"
             "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
  fake.write("/etc/group", "root:x:0:\nwww-data:x:33:\nnogroup:x:65534:\n");
  fake.write("/etc/php/8.2/fpm/php.ini", R"([PHP]
; extension=mysqli
;extension=ldap
engine = On
extension = intl          ; by name
extension="curl.so"
extension=/opt/php/custom.so
extension=sub/relative.so
extension=missing
zend_extension=opcache
session.save_path = "2;/var/lib/php/sessions"
upload_tmp_dir = /var/tmp/php-uploads

[PATH=/var/www/special]
extension=ignored
)");
  fake.write("/etc/php/8.2/fpm/conf.d/20-gd.ini", "; priority=20\nextension=gd.so\n");
  fake.write("/etc/php/8.2/fpm/conf.d/10-mbstring.ini", "extension = 'mbstring'\n");
  fake.write("/etc/php/8.2/fpm/conf.d/README", "extension=nope\n");
  fake.write("/etc/php/8.2/mods-available/xdebug.ini", "zend_extension=xdebug.so\n");
  fake.symlink("/etc/php/8.2/fpm/conf.d/30-xdebug.ini", "/etc/php/8.2/mods-available/xdebug.ini");
  fake.symlink("/etc/php/8.2/fpm/conf.d/40-gone.ini", "/etc/php/8.2/mods-available/gone.ini");
  fake.write("/etc/php/8.2/fpm/php-fpm.conf", R"(;;;;;
[global]
pid = /run/php/php8.2-fpm.pid
error_log = /var/log/php8.2-fpm.log
include=/etc/php/8.2/fpm/pool.d/*.conf
)");
  fake.write("/etc/php/8.2/fpm/pool.d/www.conf", R"([www]
user = www-data
listen = /run/php/php8.2-fpm.sock
listen.owner = www-data
listen.group = www-data
;listen.mode = 0660
pm = dynamic
)");
  fake.write("/etc/php/8.2/fpm/pool.d/api.conf", R"([api]
user = api
group = web
listen = /run/php-$pool/fpm.sock
listen.mode = 0666
chroot = /srv/api
access.log = log/$pool.access.log
slowlog = /var/log/php/${HOSTNAME}.slow
php_admin_value[session.save_path] = /var/lib/php/sessions-$pool
php_admin_value[extension] = sqlite3
)");
  fake.write("/etc/php/8.2/fpm/pool.d/tcp.conf", "[tcp]\nuser = nobody\nlisten = 127.0.0.1:9000\n");
}

} // namespace

TEST_CASE("discover: php extensions from php.ini and conf.d, in load order") {
  FakeHost fake;
  make_php_host(fake);
  PhpDiscovery php = discover_php(fake.host(), std::nullopt, {"api", "tcp", "www"}); // api loads sqlite3

  CHECK(php.version == "8.2");
  CHECK(php.fpm_binary == "/usr/sbin/php-fpm8.2");
  CHECK(php.extension_dir == ext_dir);
  // conf.d is read in alphabetical order, only *.ini, symlinks followed.
  CHECK(php.ini_files == std::vector<std::string>{
                             "/etc/php/8.2/fpm/php.ini", "/etc/php/8.2/fpm/conf.d/10-mbstring.ini",
                             "/etc/php/8.2/fpm/conf.d/20-gd.ini", "/etc/php/8.2/fpm/conf.d/30-xdebug.ini"});
  // Zend extensions load first, then extensions, then the pools' php_admin_value[extension].
  CHECK(php.extensions ==
        std::vector<std::string>{ext_dir + "/opcache.so", ext_dir + "/xdebug.so", ext_dir + "/intl.so",
                                 ext_dir + "/curl.so", "/opt/php/custom.so", ext_dir + "/sub/relative.so",
                                 ext_dir + "/mbstring.so", ext_dir + "/gd.so", ext_dir + "/sqlite3.so"});
  CHECK(has_warning(php.warnings, "php.ini:9: extension missing is enabled but " + ext_dir + "/missing.so"));
  CHECK(has_warning(php.warnings, "conf.d/40-gone.ini: dangling symlink"));
  for (const auto& ext : php.extensions) {
    CHECK(ext.find("mysqli") == std::string::npos);
    CHECK(ext.find("ldap") == std::string::npos);
    CHECK(ext.find("ignored") == std::string::npos); // [PATH=] sections load nothing
    CHECK(ext.find("nope") == std::string::npos);
  }
  CHECK(php.upload_dirs == std::vector<std::string>{"/var/tmp/php-uploads"});
}

TEST_CASE("discover: php extension_dir in php.ini wins over the compiled-in one") {
  FakeHost fake;
  make_php_host(fake);
  fake.write("/etc/php/8.2/fpm/conf.d/00-dir.ini", "extension_dir = \"/opt/php/ext/\"\n");
  fake.write("/opt/php/ext/intl.so", "ELF");
  PhpDiscovery php = discover_php(fake.host(), std::nullopt);
  CHECK(php.extension_dir == "/opt/php/ext");
  CHECK(contains(php.extensions, "/opt/php/ext/intl.so"));
  CHECK(!contains(php.extensions, ext_dir + "/intl.so"));
  CHECK(has_warning(php.warnings, "/opt/php/ext/gd.so does not exist"));
}

TEST_CASE("discover: php extension_dir falls back to the single API directory") {
  FakeHost fake;
  make_php_host(fake);
  fake.write("/usr/sbin/php-fpm8.2", "no path in here /usr/lib/php/2022");
  CHECK(discover_php(fake.host(), std::nullopt).extension_dir == ext_dir);

  fake.write("/usr/lib/php/20210902/intl.so", "ELF");
  CHECK_THROWS_AS(discover_php(fake.host(), std::nullopt), Error);
}

TEST_CASE("discover: php pools, sockets, logs and sessions") {
  FakeHost fake;
  make_php_host(fake);
  PhpDiscovery php = discover_php(fake.host(), "8.2", {"api", "tcp", "www"});

  CHECK(php.fpm_conf_files ==
        std::vector<std::string>{"/etc/php/8.2/fpm/php-fpm.conf", "/etc/php/8.2/fpm/pool.d/api.conf",
                                 "/etc/php/8.2/fpm/pool.d/tcp.conf", "/etc/php/8.2/fpm/pool.d/www.conf"});
  CHECK(php.pid_file == "/run/php/php8.2-fpm.pid");
  REQUIRE(php.pools.size() == 3);

  const PhpPool& api = php.pools[0];
  CHECK(api.name == "api");
  CHECK(api.user == "api");
  CHECK(api.group == "web");
  CHECK(api.listen == "/run/php-api/fpm.sock"); // $pool substituted
  CHECK(api.listen_kind == ListenKind::unix_socket);
  CHECK(api.listen_owner == "root");
  CHECK(api.listen_group == "root");
  CHECK(api.listen_mode == "0666");
  CHECK(api.chroot == "/srv/api");
  CHECK(api.where == "/etc/php/8.2/fpm/pool.d/api.conf:1");
  CHECK(has_warning(php.warnings, "api.conf:8: slowlog uses ${...}"));

  const PhpPool& tcp = php.pools[1];
  CHECK(tcp.listen == "127.0.0.1:9000");
  CHECK(tcp.listen_kind == ListenKind::tcp);
  CHECK(tcp.group == "nogroup"); // the user's primary group, not a group named as the user

  const PhpPool& www = php.pools[2];
  CHECK(www.user == "www-data");
  CHECK(www.group == "www-data"); // from the host's /etc/passwd and /etc/group
  CHECK(www.listen == "/run/php/php8.2-fpm.sock");
  CHECK(www.listen_owner == "www-data");
  CHECK(www.listen_group == "www-data");
  CHECK(www.listen_mode == "0660");

  CHECK(php.socket_dirs == std::vector<std::string>{"/run/php-api", "/run/php"});
  CHECK(php.log_files == std::vector<std::string>{"/var/log/php8.2-fpm.log", "/usr/log/api.access.log",
                                                  "/var/log/php/${HOSTNAME}.slow"});
  // "2;/path" spreads sessions below /path; the api pool keeps its own directory.
  CHECK(php.session_dirs == std::vector<std::string>{"/var/lib/php/sessions-api", "/var/lib/php/sessions"});
}

TEST_CASE("discover: php session dir defaults to Debian's, error_log and relative include") {
  FakeHost fake;
  make_php_host(fake);
  fake.write("/etc/php/8.2/fpm/php.ini", "extension=intl\n");
  fake.write("/etc/php/8.2/fpm/php-fpm.conf", "[global]\ninclude=../etc/fpm.d/*.conf\n");
  fake.write("/etc/fpm.d/one.conf", "[one]\nuser=www-data\nlisten=9000\n");
  PhpDiscovery php = discover_php(fake.host(), std::nullopt);
  REQUIRE(php.pools.size() == 1);
  CHECK(php.pools[0].listen_kind == ListenKind::tcp);
  CHECK(php.session_dirs == std::vector<std::string>{"/var/lib/php/sessions"});
  CHECK(php.log_files == std::vector<std::string>{"/var/log/php-fpm.log"});
  CHECK(php.pid_file.empty());
  CHECK(php.socket_dirs.empty());
}

TEST_CASE("discover: several PHP versions need --php") {
  FakeHost fake;
  make_php_host(fake);
  fake.write("/usr/sbin/php-fpm8.1", fake_fpm_binary("/usr/lib/php/20210902"));
  fake.write("/etc/php/8.1/fpm/php-fpm.conf", "[www]\nuser=www-data\nlisten=/run/php/php8.1-fpm.sock\n");
  fake.write("/usr/sbin/php-fpm7.4", "not configured: no /etc/php/7.4/fpm");

  try {
    discover_php(fake.host(), std::nullopt);
    FAIL("expected an error");
  } catch (const Error& e) {
    std::string what = e.what();
    CHECK(what.find("8.1, 8.2") != std::string::npos);
    CHECK(what.find("--php X.Y") != std::string::npos);
    CHECK(what.find("7.4") == std::string::npos);
  }
  PhpDiscovery php81 = discover_php(fake.host(), "8.1");
  CHECK(php81.extension_dir == "/usr/lib/php/20210902");
  CHECK(has_warning(php81.warnings, "/etc/php/8.1/fpm/php.ini: missing"));
  CHECK_THROWS_AS(discover_php(fake.host(), "7.4"), Error);
  CHECK_THROWS_AS(discover_php(fake.host(), "php8.2"), Error);
}

TEST_CASE("discover: php-fpm missing names the package") {
  FakeHost fake;
  fake.write("/etc/php/8.2/cli/php.ini", "");
  try {
    discover_php(fake.host(), std::nullopt);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.path() == "php-fpm");
    CHECK(std::string(e.what()).find("install the Debian package php-fpm") != std::string::npos);
  }
}

namespace {

void make_nginx_host(const FakeHost& fake) {
  fake.write("/usr/sbin/nginx", "ELF");
  fake.write("/usr/lib/nginx/modules/ngx_http_geoip_module.so", "ELF");
  fake.symlink("/usr/share/nginx/modules", "../../lib/nginx/modules");
  fake.write("/etc/nginx/nginx.conf", R"(# main context
user www-data web;
worker_processes auto;
pid /run/nginx-custom.pid;
error_log /var/log/nginx/error.log warn;
error_log stderr;
include modules-enabled/*.conf;
load_module /opt/nginx/ngx_abs_module.so;

events {
	worker_connections 768; # multi_accept on;
}

http {
	include mime.types;
	access_log "/var/log/nginx/access;weird.log" combined;
	access_log syslog:server=unix:/dev/log;
	client_body_temp_path /var/cache/nginx/body 1 2;
	fastcgi_temp_path '/var/cache/nginx/fastcgi';
	# fastcgi_pass unix:/commented.sock;
	include /etc/nginx/sites-enabled/*;
}
)");
  fake.write("/etc/nginx/modules-available/mod-geoip.conf",
             "load_module modules/ngx_http_geoip_module.so;\n");
  fake.symlink("/etc/nginx/modules-enabled/50-mod-geoip.conf", "/etc/nginx/modules-available/mod-geoip.conf");
  fake.write("/etc/nginx/mime.types", "types {\n  text/html html;\n  application/user user;\n}\n");
  fake.write("/etc/nginx/sites-available/default", R"(map $uri $unused {
	default 0;
	error_log 1; # data, not a directive
}
upstream php {
	server unix:/run/php/upstream.sock weight=1;
}
server {
	listen 80 default_server;
	listen unix:/run/nginx/frontend.sock;
	error_log logs/site-error.log;
	location ~ \.php$ {
		include snippets/fastcgi-php.conf;
		fastcgi_pass unix:/run/php/php8.2-fpm.sock;
	}
	location /x { return 200 "a;b{c} \"quoted\""; }
	location /y { set $a "${b}c"; if ($a ~ "^x") { return 404; } }
}
)");
  fake.symlink("/etc/nginx/sites-enabled/default", "/etc/nginx/sites-available/default");
  // Includes itself: read once.
  fake.write("/etc/nginx/snippets/fastcgi-php.conf",
             "include fastcgi.conf;\ninclude snippets/fastcgi-php.conf;\n");
  fake.write("/etc/nginx/fastcgi.conf",
             "fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;\n");
}

} // namespace

TEST_CASE("discover: nginx includes, modules, user, logs, temp paths and sockets") {
  FakeHost fake;
  make_nginx_host(fake);
  NginxDiscovery nginx = discover_nginx(fake.host());

  CHECK(nginx.binary == "/usr/sbin/nginx");
  CHECK(nginx.conf_files ==
        std::vector<std::string>{"/etc/nginx/nginx.conf", "/etc/nginx/modules-enabled/50-mod-geoip.conf",
                                 "/etc/nginx/mime.types", "/etc/nginx/sites-enabled/default",
                                 "/etc/nginx/snippets/fastcgi-php.conf", "/etc/nginx/fastcgi.conf"});
  CHECK(nginx.modules == std::vector<std::string>{"/usr/share/nginx/modules/ngx_http_geoip_module.so",
                                                  "/opt/nginx/ngx_abs_module.so"});
  CHECK(has_warning(nginx.warnings, "nginx.conf:8: module /opt/nginx/ngx_abs_module.so does not exist"));
  CHECK(nginx.user == "www-data");
  CHECK(nginx.group == "web");
  CHECK(nginx.pid_file == "/run/nginx-custom.pid");
  CHECK(nginx.log_files == std::vector<std::string>{"/var/log/nginx/error.log",
                                                    "/var/log/nginx/access;weird.log",
                                                    "/usr/share/nginx/logs/site-error.log"});
  CHECK(nginx.temp_dirs == std::vector<std::string>{"/var/cache/nginx/body", "/var/cache/nginx/fastcgi",
                                                    "/var/lib/nginx/proxy", "/var/lib/nginx/uwsgi",
                                                    "/var/lib/nginx/scgi"});
  CHECK(nginx.fastcgi_sockets ==
        std::vector<std::string>{"/run/php/upstream.sock", "/run/php/php8.2-fpm.sock"});
  CHECK(nginx.listen_sockets == std::vector<std::string>{"/run/nginx/frontend.sock"});
  CHECK(nginx.socket_dirs == std::vector<std::string>{"/run/php", "/run/nginx"});
}

TEST_CASE("discover: nginx compiled-in defaults") {
  FakeHost fake;
  fake.write("/usr/sbin/nginx", "ELF");
  fake.write("/etc/nginx/nginx.conf", "events {}\nhttp { server { listen 80; } }\n");
  NginxDiscovery nginx = discover_nginx(fake.host());
  CHECK(nginx.user == "nobody");
  CHECK(nginx.group == "nogroup");
  CHECK(nginx.pid_file == "/run/nginx.pid");
  CHECK(nginx.log_files == std::vector<std::string>{"/var/log/nginx/access.log"});
  CHECK(nginx.temp_dirs == std::vector<std::string>{"/var/lib/nginx/body", "/var/lib/nginx/proxy",
                                                    "/var/lib/nginx/fastcgi", "/var/lib/nginx/uwsgi",
                                                    "/var/lib/nginx/scgi"});
  CHECK(nginx.modules.empty());
  CHECK(nginx.warnings.empty());
}

TEST_CASE("discover: nginx errors") {
  FakeHost fake;
  try {
    discover_nginx(fake.host());
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.path() == "nginx");
    CHECK(std::string(e.what()).find("install the Debian package nginx") != std::string::npos);
  }
  fake.write("/usr/sbin/nginx", "ELF");
  fake.write("/etc/nginx/nginx.conf", "events {}\nhttp {\n  access_log \"/var/log/x.log;\n}\n");
  CHECK_THROWS_WITH_AS(discover_nginx(fake.host()), doctest::Contains("line 3: unterminated"), Error);
  fake.write("/etc/nginx/nginx.conf", "events {}\nhttp {\n  include missing.conf;\n}\n");
  CHECK_THROWS_WITH_AS(discover_nginx(fake.host()), doctest::Contains("/etc/nginx/missing.conf"), Error);
  fake.write("/etc/nginx/nginx.conf", "http {\n  server {}\n");
  CHECK_THROWS_WITH_AS(discover_nginx(fake.host()), doctest::Contains("expecting \"}\""), Error);
}

TEST_CASE("discover: a FIFO in php's conf.d is skipped, as PHP skips it, and never opened") {
  FakeHost fake;
  make_php_host(fake);
  const std::string fifo = fake.real("/etc/php/8.2/fpm/conf.d/99-x.ini");
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  PhpDiscovery php;
  CHECK(finishes_within(5, fifo, [&] { php = discover_php(fake.host(), std::nullopt); }));
  CHECK(has_warning(php.warnings, "/etc/php/8.2/fpm/conf.d/99-x.ini: not a regular file: PHP skips it"));
  CHECK_FALSE(contains(php.ini_files, "/etc/php/8.2/fpm/conf.d/99-x.ini"));
  CHECK(contains(php.extensions, ext_dir + "/gd.so")); // the regular files around it still count
}

TEST_CASE("discover: a FIFO that nginx includes is an Error naming it, and never opened") {
  FakeHost fake;
  make_nginx_host(fake);
  fake.write("/etc/nginx/sites-available/default", "");
  fs::remove(fake.real("/etc/nginx/sites-available/default"));
  const std::string fifo = fake.real("/etc/nginx/sites-available/default"); // sites-enabled links to it
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  std::string error;
  CHECK(finishes_within(5, fifo, [&] { error = error_of([&] { discover_nginx(fake.host()); }); }));
  CHECK(error == "/etc/nginx/sites-enabled/default: not a regular file");
}

TEST_CASE("discover: nginx blocks nested 200000 deep are an Error naming file and line, not a crash") {
  FakeHost fake;
  fake.write("/usr/sbin/nginx", "ELF");
  std::string deep = "events {}\n";
  for (int i = 0; i < 200'000; ++i)
    deep += "http {";
  deep += std::string(200'000, '}');
  fake.write("/etc/nginx/nginx.conf", deep);
  CHECK(error_of([&] { discover_nginx(fake.host()); }) ==
        "/etc/nginx/nginx.conf: line 2: blocks nested more than 64 deep");
  // 40 in a file included 40 deep: the limit counts the including files' blocks too.
  std::string forty_open, forty_close(40, '}');
  for (int i = 0; i < 40; ++i)
    forty_open += "location / {\n";
  fake.write("/etc/nginx/nginx.conf",
             "http {\n" + forty_open + "include inner.conf;\n" + forty_close + "}\n");
  fake.write("/etc/nginx/inner.conf", forty_open + "return 200;\n" + forty_close);
  CHECK(error_of([&] { discover_nginx(fake.host()); }) ==
        "/etc/nginx/inner.conf: line 24: blocks nested more than 64 deep, counting the including files'");
}

TEST_CASE("discover: includes nested more than 16 deep are an Error naming file and line") {
  FakeHost fake;
  fake.write("/usr/sbin/nginx", "ELF");
  fake.write("/etc/nginx/nginx.conf", "include c0.conf;\n");
  for (int i = 0; i < 20; ++i)
    fake.write("/etc/nginx/c" + std::to_string(i) + ".conf",
               "# level " + std::to_string(i) + "\ninclude c" + std::to_string(i + 1) + ".conf;\n");
  fake.write("/etc/nginx/c20.conf", "user nobody;\n");
  CHECK(error_of([&] { discover_nginx(fake.host()); }) ==
        "/etc/nginx/c15.conf: line 2: includes nested more than 16 deep");

  make_php_host(fake);
  fake.write("/etc/php/8.2/fpm/php-fpm.conf", "include=/etc/php/8.2/fpm/c0.conf\n");
  for (int i = 0; i < 20; ++i)
    fake.write("/etc/php/8.2/fpm/c" + std::to_string(i) + ".conf",
               "include=/etc/php/8.2/fpm/c" + std::to_string(i + 1) + ".conf\n");
  CHECK(error_of([&] { discover_php(fake.host(), std::nullopt); }) ==
        "/etc/php/8.2/fpm/c15.conf: line 1: includes nested more than 16 deep");
}

TEST_CASE("discover: a 10 GiB php.ini is refused without being read") {
  FakeHost fake;
  make_php_host(fake);
  fake.write("/etc/php/8.2/fpm/conf.d/99-big.ini", "extension=gd.so\n");
  REQUIRE(::truncate(fake.real("/etc/php/8.2/fpm/conf.d/99-big.ini").c_str(), off_t{10} << 30) == 0);
  std::string error;
  with_memory_cap(std::size_t{256} << 20, [&] {
    try {
      error = error_of([&] { discover_php(fake.host(), std::nullopt); });
    } catch (const std::bad_alloc&) {
      error = "std::bad_alloc";
    }
  });
  CHECK(error == "/etc/php/8.2/fpm/conf.d/99-big.ini: larger than 64 MiB: not read");
}

TEST_CASE("discover: the real host's php-fpm and nginx" * doctest::skip(!real_services_installed())) {
  HostRoot host("/");
  PhpDiscovery php = discover_php(host, std::nullopt);
  bool has_intl = std::any_of(php.extensions.begin(), php.extensions.end(),
                              [](const std::string& path) { return path.ends_with("/intl.so"); });
  CHECK(has_intl);
  CHECK(!php.pools.empty());
  NginxDiscovery nginx = discover_nginx(host);
  CHECK(nginx.user == "www-data");
  CHECK(contains(nginx.conf_files, "/etc/nginx/nginx.conf"));
}

TEST_CASE("discover: --pool takes only the pools named, their files, users, sockets and sessions") {
  FakeHost fake;
  make_php_host(fake);
  PhpDiscovery php = discover_php(fake.host(), "8.2", {"WWW"}); // matched as php-fpm does, any case
  REQUIRE(php.pools.size() == 1);
  CHECK(php.pools[0].name == "www");
  CHECK(php.host_pools == std::vector<std::string>{"api", "tcp", "www"});
  CHECK(php.fpm_conf_files ==
        std::vector<std::string>{"/etc/php/8.2/fpm/php-fpm.conf", "/etc/php/8.2/fpm/pool.d/www.conf"});
  CHECK(php.left_out_files ==
        std::vector<std::string>{"/etc/php/8.2/fpm/pool.d/api.conf", "/etc/php/8.2/fpm/pool.d/tcp.conf"});
  CHECK(php.socket_dirs == std::vector<std::string>{"/run/php"});
  CHECK(php.session_dirs == std::vector<std::string>{"/var/lib/php/sessions"});
  CHECK(php.log_files == std::vector<std::string>{"/var/log/php8.2-fpm.log"});
  CHECK(!contains(php.extensions, ext_dir + "/sqlite3.so")); // api's php_admin_value[extension]
}

TEST_CASE("discover: without --pool every pool but those with chroot, which are named in a warning") {
  FakeHost fake;
  make_php_host(fake);
  PhpDiscovery php = discover_php(fake.host(), "8.2");
  REQUIRE(php.pools.size() == 2);
  CHECK(php.pools[0].name == "tcp");
  CHECK(php.pools[1].name == "www");
  CHECK(php.left_out_files == std::vector<std::string>{"/etc/php/8.2/fpm/pool.d/api.conf"});
  CHECK(has_warning(php.warnings, "api.conf:6: pool 'api' sets chroot = /srv/api: left out"));
  CHECK(has_warning(php.warnings, "jailbuild create /srv/api --with php-runtime --pool api"));

  PhpDiscovery runtime = discover_php(fake.host(), "8.2", {}, DefaultPools::chrooted);
  REQUIRE(runtime.pools.size() == 1);
  CHECK(runtime.pools[0].name == "api");
  CHECK(runtime.session_dirs == std::vector<std::string>{"/var/lib/php/sessions-api"});
}

TEST_CASE("discover: an unknown --pool lists the host's; a file holding pools of both kinds is refused") {
  FakeHost fake;
  make_php_host(fake);
  CHECK_THROWS_WITH_AS(discover_php(fake.host(), "8.2", {"shop"}),
                       "--pool: no pool 'shop' in /etc/php/8.2/fpm/php-fpm.conf (the host's pools: api, "
                       "tcp, www)",
                       Error);
  fake.write("/etc/php/8.2/fpm/pool.d/www.conf", "[www]\nuser = www-data\nlisten = /run/php/www.sock\n"
                                                 "[shop]\nuser = www-data\nlisten = /run/php/shop.sock\n");
  CHECK_THROWS_WITH_AS(
      discover_php(fake.host(), "8.2", {"www"}),
      doctest::Contains("pool.d/www.conf: defines pool 'shop', which this jail does not take"), Error);
}

TEST_CASE("discover: nginx's TLS files and keys, relative to /etc/nginx; variables and data: left out") {
  FakeHost fake;
  fake.write("/usr/sbin/nginx", "ELF");
  fake.write("/etc/nginx/nginx.conf", R"(events {}
http {
  ssl_dhparam dhparam.pem;
  ssl_session_ticket_key /etc/nginx/ticket.key;
  server {
    listen 443 ssl;
    ssl_certificate /etc/letsencrypt/live/blog/fullchain.pem;
    ssl_certificate_key /etc/letsencrypt/live/blog/privkey.pem;
    ssl_certificate /etc/ssl/ecdsa.pem;
    ssl_certificate_key engine:pkcs11:id_1;
    ssl_password_file /etc/keys/pass.txt;
    ssl_trusted_certificate /etc/ssl/chain.pem;
    ssl_client_certificate clients.pem;
    ssl_stapling_file /var/cache/ocsp.der;
    ssl_crl /etc/ssl/crl.pem;
    proxy_ssl_certificate_key /etc/ssl/private/upstream.key;
    ssl_certificate data:-----BEGIN;
  }
  server { ssl_certificate /etc/ssl/$ssl_server_name.pem; ssl_certificate_key /k/$ssl_server_name.key; }
}
)");
  NginxDiscovery nginx = discover_nginx(fake.host());
  CHECK(nginx.tls_files ==
        std::vector<std::string>{"/etc/nginx/dhparam.pem", "/etc/letsencrypt/live/blog/fullchain.pem",
                                 "/etc/ssl/ecdsa.pem", "/etc/ssl/chain.pem", "/etc/nginx/clients.pem",
                                 "/var/cache/ocsp.der", "/etc/ssl/crl.pem"});
  CHECK(nginx.tls_secrets == std::vector<std::string>{"/etc/nginx/ticket.key",
                                                      "/etc/letsencrypt/live/blog/privkey.pem",
                                                      "/etc/keys/pass.txt", "/etc/ssl/private/upstream.key"});
  CHECK(has_warning(nginx.warnings, "nginx.conf:19: ssl_certificate /etc/ssl/$ssl_server_name.pem holds a "
                                    "variable"));
  CHECK(has_warning(nginx.warnings, "ssl_certificate_key /k/$ssl_server_name.key holds a variable"));
}
