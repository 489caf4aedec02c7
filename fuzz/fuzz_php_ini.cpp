// SPDX-License-Identifier: MIT
// php-fpm discovery (src/discover_php.cpp: PHP's ini syntax, php.ini and its scan directory,
// php-fpm.conf, its includes and pools): create and every sync read them. The input holds four files
// of a fake host root with PHP 8.2: php.ini, conf.d/20-x.ini, php-fpm.conf and pool.d/www.conf (which
// php-fpm.conf can include) below /etc/php/8.2/fpm.
#include "fuzz_util.hpp"
#include "jailbuild/discover.hpp"
#include "jailbuild/hostfs.hpp"

using namespace jailbuild;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string root = [] {
    std::string dir = fuzz::scratch_dir() + "/php-root";
    // The binary holds its compiled-in extension_dir, as Debian's does.
    using namespace std::string_literals;
    fuzz::write_file(dir + "/usr/sbin/php-fpm8.2", "\x7f"
                                                   "ELF\0/usr/lib/php/20220829\0"s);
    fuzz::write_file(dir + "/usr/lib/php/20220829/opcache.so", "");
    fuzz::write_file(dir + "/usr/lib/php/20220829/mysqli.so", "");
    fuzz::write_file(dir + "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"
                                          "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n");
    fuzz::write_file(dir + "/etc/group", "root:x:0:\nwww-data:x:33:\n");
    return dir;
  }();
  const std::string etc = root + "/etc/php/8.2/fpm";
  std::vector<std::string> parts = fuzz::split_parts(data, size, 4);
  fuzz::write_file(etc + "/php.ini", parts[0]);
  fuzz::write_file(etc + "/conf.d/20-x.ini", parts[1]);
  fuzz::write_file(etc + "/php-fpm.conf", parts[2]);
  fuzz::write_file(etc + "/pool.d/www.conf", parts[3]);
  fuzz::only_errors("php_ini", [&] { (void)discover_php(HostRoot(root), std::nullopt); });
  return 0;
}
