// SPDX-License-Identifier: MIT
// nginx discovery (src/discover_nginx.cpp: the lexer, the block parser, the walk through includes):
// create and every sync read the host's nginx configuration. The input holds three files of a fake
// host root: /etc/nginx/nginx.conf, /etc/nginx/conf.d/site.conf and /etc/nginx/snippets/x.conf, which
// the first can include.
#include "fuzz_util.hpp"
#include "jailbuild/discover.hpp"
#include "jailbuild/hostfs.hpp"

using namespace jailbuild;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string root = [] {
    std::string dir = fuzz::scratch_dir() + "/nginx-root";
    fuzz::write_file(dir + "/usr/sbin/nginx", "");
    fuzz::write_file(dir + "/usr/lib/nginx/modules/ngx_stream_module.so", "");
    fuzz::write_file(dir + "/etc/nginx/mime.types", "types {\n    text/html html;\n}\n");
    fuzz::write_file(dir + "/etc/nginx/fastcgi_params", "fastcgi_param QUERY_STRING $query_string;\n");
    return dir;
  }();
  std::vector<std::string> parts = fuzz::split_parts(data, size, 3);
  fuzz::write_file(root + "/etc/nginx/nginx.conf", parts[0]);
  fuzz::write_file(root + "/etc/nginx/conf.d/site.conf", parts[1]);
  fuzz::write_file(root + "/etc/nginx/snippets/x.conf", parts[2]);
  fuzz::only_errors("nginx", [&] { (void)discover_nginx(HostRoot(root)); });
  return 0;
}
