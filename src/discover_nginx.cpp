// SPDX-License-Identifier: MIT
// nginx's half of discovery: nginx.conf and the files its `include`s reach, tokenized and walked
// as nginx reads them, so that the jail gets the modules, logs, temporary directories and sockets
// nginx will open, and nothing else.
#include "jailbuild/discover.hpp"

#include "discover_internal.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/hostfs.hpp"

#include <algorithm>
#include <set>
#include <string_view>

namespace jailbuild {

namespace {

using discover::add_unique;
using discover::where;

constexpr std::string_view nginx_binary = "/usr/sbin/nginx";
constexpr std::string_view nginx_conf = "/etc/nginx/nginx.conf";
constexpr std::string_view nginx_conf_prefix = "/etc/nginx";  // relative includes start here
constexpr std::string_view nginx_prefix = "/usr/share/nginx"; // every other relative path starts here

// Deeper than these, a configuration is a trap (or a bug), not something nginx users write: a real
// one nests blocks five deep (http, server, location, location, if) and includes three deep
// (nginx.conf, sites-enabled, snippets, fastcgi.conf). Both are recursive here, as in nginx: 200,000
// nested blocks overflowed the stack.
constexpr size_t max_block_depth = 64;
constexpr size_t max_include_depth = 16;

struct NginxToken {
  enum class Kind { word, semicolon, open, close } kind;
  std::string text;
  size_t line;
};

// nginx's lexer (ngx_conf_read_token): '#' starts a comment only at the start of a word; quotes
// and backslashes escape; "${" does not open a block; a '}' inside a word belongs to the word.
std::vector<NginxToken> tokenize_nginx(std::string_view text, const std::string& file) {
  std::vector<NginxToken> tokens;
  size_t line = 1;
  size_t i = 0;
  auto unescape = [](char c) { return c == 't' ? '\t' : c == 'r' ? '\r' : c == 'n' ? '\n' : c; };
  auto escapable = [](char c) {
    return c == '"' || c == '\'' || c == '\\' || c == 't' || c == 'r' || c == 'n';
  };
  while (i < text.size()) {
    char c = text[i];
    if (c == '\n') ++line;
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      ++i;
    } else if (c == '#') {
      while (i < text.size() && text[i] != '\n')
        ++i;
    } else if (c == ';' || c == '{' || c == '}') {
      auto kind = c == ';'   ? NginxToken::Kind::semicolon
                  : c == '{' ? NginxToken::Kind::open
                             : NginxToken::Kind::close;
      tokens.push_back({kind, std::string(1, c), line});
      ++i;
    } else if (c == '"' || c == '\'') {
      size_t start_line = line;
      std::string word;
      for (++i; i < text.size() && text[i] != c; ++i) {
        if (text[i] == '\n') ++line;
        if (text[i] == '\\' && i + 1 < text.size() && escapable(text[i + 1])) {
          word += unescape(text[++i]);
          continue;
        }
        word += text[i];
      }
      if (i == text.size())
        throw Error(file, "line " + std::to_string(start_line) + ": unterminated quoted string");
      ++i;
      tokens.push_back({NginxToken::Kind::word, std::move(word), start_line});
    } else {
      std::string word;
      while (i < text.size()) {
        char w = text[i];
        if (w == ' ' || w == '\t' || w == '\r' || w == '\n' || w == ';') break;
        if (w == '{' && !(!word.empty() && word.back() == '$')) break;
        if (w == '\\' && i + 1 < text.size()) {
          if (escapable(text[i + 1]))
            word += unescape(text[i + 1]);
          else
            word.append(text.substr(i, 2));
          i += 2;
          continue;
        }
        word += w;
        ++i;
      }
      tokens.push_back({NginxToken::Kind::word, std::move(word), line});
    }
  }
  return tokens;
}

struct NginxDirective {
  std::vector<std::string> words;
  size_t line = 0;
  bool has_block = false;
  std::vector<NginxDirective> block;
};

/// The directives from tokens[at] to the end of the block (`depth` blocks deep, 0 for the file's top
/// level) or of the file.
std::vector<NginxDirective> parse_nginx_block(const std::vector<NginxToken>& tokens, size_t& at,
                                              const std::string& file, size_t depth) {
  const bool nested = depth > 0;
  std::vector<NginxDirective> list;
  NginxDirective current;
  auto fail = [&](size_t line, const std::string& what) {
    throw Error(file, "line " + std::to_string(line) + ": " + what);
  };
  while (at < tokens.size()) {
    const NginxToken& token = tokens[at++];
    switch (token.kind) {
    case NginxToken::Kind::word:
      if (current.words.empty()) current.line = token.line;
      current.words.push_back(token.text);
      break;
    case NginxToken::Kind::semicolon:
      if (current.words.empty()) fail(token.line, "unexpected \";\"");
      list.push_back(std::move(current));
      current = {};
      break;
    case NginxToken::Kind::open:
      if (current.words.empty()) fail(token.line, "unexpected \"{\"");
      if (depth + 1 > max_block_depth)
        fail(token.line, "blocks nested more than " + std::to_string(max_block_depth) + " deep");
      current.has_block = true;
      current.block = parse_nginx_block(tokens, at, file, depth + 1);
      list.push_back(std::move(current));
      current = {};
      break;
    case NginxToken::Kind::close:
      if (!nested || !current.words.empty()) fail(token.line, "unexpected \"}\"");
      return list;
    }
  }
  if (!current.words.empty()) fail(current.line, "unexpected end of file, expecting \";\" or \"}\"");
  if (nested) fail(tokens.empty() ? 1 : tokens.back().line, "unexpected end of file, expecting \"}\"");
  return list;
}

// Walks nginx's configuration as nginx applies it: includes are read in place, in the context of
// the including block.
class NginxWalk {
public:
  NginxWalk(const HostRoot& host, NginxDiscovery& out) : host_(host), out_(out) {}

  void read(const std::string& file) {
    auto resolved = host_.resolve(file);
    if (!resolved) throw Error(file, "no such file: nginx would not start");
    add_unique(out_.conf_files, file);
    // Each file is parsed once: an include loop ends, and snippets included in many locations
    // name the same paths every time.
    if (!parsed_.insert(resolved->path).second) return;
    std::vector<NginxToken> tokens = tokenize_nginx(host_.read_file(file), file);
    size_t at = 0;
    walk(parse_nginx_block(tokens, at, file, 0), file);
  }

  void finish() {
    if (!user_seen_) {
      out_.user = "nobody"; // nginx's compiled defaults, used when the master runs as root
      out_.group = "nogroup";
    }
    if (out_.pid_file.empty()) out_.pid_file = "/run/nginx.pid";
    if (http_seen_) {
      // Debian's --http-*-temp-path defaults; nginx creates them unless http{} moves them.
      for (const char* kind : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"}) {
        std::string directive = std::string(kind) + "_temp_path";
        if (http_set_.count(directive)) continue;
        add_unique(out_.temp_dirs,
                   std::string("/var/lib/nginx/") + (directive == "client_body_temp_path" ? "body" : kind));
      }
      if (!http_set_.count("access_log")) add_unique(out_.log_files, "/var/log/nginx/access.log");
    }
    // No default error log file: Debian builds nginx with --error-log-path=stderr.
    for (const auto* sockets : {&out_.fastcgi_sockets, &out_.listen_sockets})
      for (const std::string& socket : *sockets)
        add_unique(out_.socket_dirs, dirname_of(socket));
  }

private:
  void walk(const std::vector<NginxDirective>& list, const std::string& file) {
    for (const NginxDirective& d : list) {
      apply(d, file);
      if (d.has_block) {
        // Each file's blocks are limited by the parser; this limits them across includes.
        if (context_.size() + 1 > max_block_depth)
          throw Error(file, "line " + std::to_string(d.line) + ": blocks nested more than " +
                                std::to_string(max_block_depth) + " deep, counting the including files'");
        context_.push_back(d.words[0]);
        walk(d.block, file);
        context_.pop_back();
      }
    }
  }

  std::string path_of(const std::string& value, const std::string& file, size_t line) {
    if (value.find('$') != std::string::npos)
      out_.warnings.push_back(where(file, line) + ": " + value + " contains variables: kept verbatim");
    return join_path(nginx_prefix, value);
  }

  void add_socket(std::vector<std::string>& list, const std::string& address, const std::string& file,
                  size_t line) {
    if (address.starts_with("unix:")) add_unique(list, path_of(address.substr(5), file, line));
  }

  /// The TLS files of the ssl_* directives of http, stream and mail, and of the proxy_, grpc_ and
  /// uwsgi_ modules' upstream TLS: nginx resolves their relative paths from its configuration prefix.
  bool tls_file(const std::string& name, const std::vector<std::string>& args, const std::string& file,
                size_t line) {
    static constexpr std::string_view prefixes[] = {"", "proxy_", "grpc_", "uwsgi_"};
    static constexpr std::string_view plain[] = {"ssl_certificate",        "ssl_trusted_certificate",
                                                 "ssl_client_certificate", "ssl_dhparam",
                                                 "ssl_stapling_file",      "ssl_crl"};
    static constexpr std::string_view secret[] = {"ssl_certificate_key", "ssl_password_file",
                                                  "ssl_session_ticket_key"};
    std::vector<std::string>* list = nullptr;
    for (std::string_view prefix : prefixes) {
      if (!name.starts_with(prefix)) continue;
      std::string_view rest = std::string_view(name).substr(prefix.size());
      if (std::find(std::begin(plain), std::end(plain), rest) != std::end(plain)) list = &out_.tls_files;
      if (std::find(std::begin(secret), std::end(secret), rest) != std::end(secret)) list = &out_.tls_secrets;
    }
    if (!list) return false;
    for (size_t i = 1; i < args.size(); ++i) {
      const std::string& value = args[i];
      // Inline PEM ("data:") and keys held by an OpenSSL engine ("engine:") name no file; `off` turns a
      // directive off.
      if (value.starts_with("data:") || value.starts_with("engine:") || value == "off" || value.empty())
        continue;
      if (value.find('$') != std::string::npos) {
        out_.warnings.push_back(where(file, line) + ": " + name + " " + value +
                                " holds a variable, known only per request: not copied into the jail, "
                                "name the files with --file");
        continue;
      }
      add_unique(*list, join_path(nginx_conf_prefix, value));
    }
    return true;
  }

  void apply(const NginxDirective& d, const std::string& file) {
    const std::string& name = d.words[0];
    const std::vector<std::string>& args = d.words;
    const bool main = context_.empty();
    const bool http_level = context_.size() == 1 && context_[0] == "http";
    if (http_level) http_set_.insert(name);
    if (name == "http" && d.has_block) http_seen_ = true;
    if (name == "include" && args.size() >= 2) {
      if (include_depth_ >= max_include_depth)
        throw Error(file, "line " + std::to_string(d.line) + ": includes nested more than " +
                              std::to_string(max_include_depth) + " deep");
      struct Nest { // one level deeper while the included files are read
        size_t& depth;
        ~Nest() { --depth; }
      } nest{++include_depth_};
      std::string pattern = join_path(nginx_conf_prefix, args[1]);
      if (pattern.find_first_of("*?[") != std::string::npos) {
        for (const std::string& match : host_.glob(pattern))
          read(match);
      } else if (!host_.exists(pattern)) {
        throw Error(file,
                    "line " + std::to_string(d.line) + ": included file " + pattern + " does not exist");
      } else {
        read(pattern);
      }
      return;
    }
    // The entries of these blocks are data, not directives (`types { text/html html; }`).
    static constexpr std::string_view data_blocks[] = {"types",         "map",         "geo",
                                                       "split_clients", "charset_map", "match"};
    if (!context_.empty() &&
        std::find(std::begin(data_blocks), std::end(data_blocks), context_.back()) != std::end(data_blocks))
      return;
    if (args.size() < 2) return;
    if (tls_file(name, args, file, d.line)) return;
    const std::string& value = args[1];
    if (main && name == "user") {
      user_seen_ = true;
      out_.user = value;
      out_.group = args.size() >= 3 ? args[2] : value; // nginx looks up a group named as the user
    } else if (main && name == "pid") {
      out_.pid_file = path_of(value, file, d.line);
    } else if (main && name == "load_module") {
      std::string module = path_of(value, file, d.line);
      if (!host_.exists(module))
        out_.warnings.push_back(where(file, d.line) + ": module " + module + " does not exist");
      add_unique(out_.modules, module);
    } else if (name == "error_log") {
      if (value != "stderr" && !value.starts_with("syslog:") && !value.starts_with("memory:"))
        add_unique(out_.log_files, path_of(value, file, d.line));
    } else if (name == "access_log") {
      if (value != "off" && !value.starts_with("syslog:"))
        add_unique(out_.log_files, path_of(value, file, d.line));
    } else if (name.ends_with("_temp_path") || name.ends_with("_cache_path")) {
      add_unique(out_.temp_dirs, path_of(value, file, d.line));
    } else if (name == "listen") {
      add_socket(out_.listen_sockets, value, file, d.line);
    } else if (name == "fastcgi_pass" || (name == "server" && !main && context_.back() == "upstream")) {
      add_socket(out_.fastcgi_sockets, value, file, d.line);
    }
  }

  const HostRoot& host_;
  NginxDiscovery& out_;
  std::set<std::string> parsed_;
  std::vector<std::string> context_; ///< names of the enclosing blocks, outermost first
  size_t include_depth_ = 0;         ///< `include`s being read, one inside the other
  std::set<std::string> http_set_;   ///< directives set directly in http{}
  bool http_seen_ = false;
  bool user_seen_ = false;
};

} // namespace

NginxDiscovery discover_nginx(const HostRoot& host) {
  if (!host.exists(nginx_binary))
    throw Error("nginx", "not installed on the host: install the Debian package nginx");
  NginxDiscovery out;
  out.binary = nginx_binary;
  NginxWalk walk(host, out);
  walk.read(std::string(nginx_conf));
  walk.finish();
  return out;
}

} // namespace jailbuild
