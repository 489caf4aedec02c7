// SPDX-License-Identifier: MIT
// Sites (site.hpp): declared in a definition, recorded in the manifest, accepted as a baseline, and
// audited as one group. A site's files are the services' side: the hostile cases (a symlink to
// /etc/shadow, a FIFO, a 10 GB sparse file, a name with newlines) go through audit_jail and
// accept_sites, the entry points root runs on them.
#include "jailbuild/audit.hpp"
#include "jailbuild/definition.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/jailfs.hpp"
#include "jailbuild/manifest.hpp"
#include "jailbuild/plan_builder.hpp"
#include "jailbuild/provenance.hpp"
#include "jailbuild/site.hpp"
#include "test_util.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <fcntl.h>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace jailbuild;
using namespace jailbuild::test;

namespace {

/// A jail with a manifest that declares the site /var/www/blog (uploads writable) and its code.
struct SiteJail {
  TempDir tmp{"site"};
  std::string root = tmp.path + "/jail";
  std::string blog = root + "/var/www/blog";
  std::string mountinfo = tmp.path + "/mountinfo";

  SiteJail() {
    for (const char* d : {"", "/etc", "/var", "/var/www", "/var/www/blog", "/var/www/blog/wp-includes",
                          "/var/www/blog/wp-content", "/var/www/blog/wp-content/uploads"})
      REQUIRE(::mkdir((root + d).c_str(), 0755) == 0);
    write_text(root + "/etc/passwd", "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n");
    write_text(root + "/etc/group", "www-data:x:33:\n");
    write_text(blog + "/index.php", "<?php require 'wp-includes/version.php';\n");
    write_text(blog + "/wp-includes/version.php", "<?php $wp_version = '6.1';\n");
    write_text(blog + "/readme.html", "<p>readme</p>\n");
    REQUIRE(::symlink("../../../php/getid3/getid3.php", (blog + "/wp-includes/getid3.php").c_str()) == 0);
    write_text(mountinfo, "");
    Manifest m;
    m.plan.users = {"www-data"};
    m.plan.spec.services = {"php-fpm"};
    SiteSpec site;
    site.docroot = "/var/www/blog";
    site.writable = {"wp-content/uploads"};
    m.plan.spec.sites = {site};
    JailFs jail(root);
    write_manifest(jail, m);
  }

  AuditReport audit() const {
    AuditOptions options;
    options.hardening = Hardening::skip;
    options.mountinfo = mountinfo;
    return audit_jail(root, options);
  }
};

const Finding* find(const AuditReport& r, const std::string& rule, const std::string& path) {
  for (const Finding& f : r.findings)
    if (f.rule == rule && f.path == path) return &f;
  return nullptr;
}

bool lists(const std::vector<std::string>& paths, const std::string& path) {
  return std::find(paths.begin(), paths.end(), path) != paths.end();
}

} // namespace

TEST_CASE("definition: [[sites]] and secrets round-trip, and a site's secrets are below its docroot") {
  const std::string text = R"(name = "blog"
dir = "/var/www/blog-jail"
services = ["nginx", "php-fpm"]
secrets = ["/etc/wordpress/config-blog.php"]

[[sites]]
docroot = "/var/www/blog"
writable = ["wp-content/uploads"]
source = "/usr/share/wordpress"
secrets = ["wp-config.php"]
)";
  Definition d = definition_from_toml(text, "blog.toml", "blog");
  REQUIRE(d.spec.sites.size() == 1);
  CHECK(d.spec.sites[0].docroot == "/var/www/blog");
  CHECK(d.spec.sites[0].owner == "root");
  CHECK(d.spec.sites[0].writer == "www-data");
  CHECK(d.spec.sites[0].source == "/usr/share/wordpress");
  CHECK(d.spec.secrets ==
        std::vector<std::string>{"/etc/wordpress/config-blog.php", "/var/www/blog/wp-config.php"});
  CHECK(definition_from_toml(definition_to_toml(d), "again.toml", "blog") == d);
  Manifest m;
  m.plan.spec = d.spec;
  CHECK(manifest_from_json(manifest_to_json(m), "manifest.json").plan.spec == d.spec);
  CHECK_THROWS(
      definition_from_toml(text + "\n[[sites]]\ndocroot = \"/var/www/x\"\nsecrets = [\"../../etc/shadow\"]\n",
                           "bad.toml", "blog"));
}

TEST_CASE("check_spec: a site never covers a system tree, nor writes outside its docroot") {
  auto spec_with = [](SiteSpec site) {
    JailSpec s;
    s.services = {"php-fpm"};
    s.sites = {std::move(site)};
    return s;
  };
  CHECK(contains(error_of([&] { check_spec(spec_with({"/usr/lib", "root", {}, "www-data", ""})); }), "site"));
  CHECK(contains(error_of([&] { check_spec(spec_with({"/var", "root", {}, "www-data", ""})); }), "site"));
  CHECK(contains(error_of([&] {
                   check_spec(spec_with({"/var/www/b", "root", {"../../etc"}, "www-data", ""}));
                 }),
                 "relative"));
  CHECK_NOTHROW(check_spec(spec_with({"/var/www/b", "root", {"wp-content/uploads"}, "www-data", ""})));
  CHECK(site_writable(spec_with({"/var/www/b", "root", {"up"}, "www-data", ""})).front().path ==
        "/var/www/b/up");
  CHECK(parse_site("/var/www/b:blog:/usr/share/wordpress") ==
        SiteSpec{"/var/www/b", "blog", {}, "www-data", "/usr/share/wordpress"});
  CHECK_THROWS(parse_site("var/www/b"));
}

TEST_CASE("site_baseline_text: any name round-trips; a corrupt baseline is an error naming it") {
  SiteBaseline b;
  b.docroot = "/var/www/blog";
  b.accepted = 1764783000;
  SiteFile f;
  f.path = "evil\nname with spaces\\and\x01.php";
  f.mode = 0644;
  f.size = 12;
  f.digest = std::string(64, 'a');
  SiteFile l;
  l.path = "link";
  l.type = SiteFile::Type::symlink;
  l.link = "/etc/shadow";
  b.files = {f, l};
  std::sort(b.files.begin(), b.files.end(), [](auto& x, auto& y) { return x.path < y.path; });
  const std::string text = site_baseline_text(b);
  CHECK(std::count(text.begin(), text.end(), '\n') == 5);
  CHECK(site_baseline_from_text(text, "b") == b);
  CHECK(contains(error_of([] { site_baseline_from_text("jailbuild-site-baseline 1\nf x\n", "the-file"); }),
                 "the-file"));
  CHECK_THROWS(site_baseline_from_text("something else\n", "b"));
}

TEST_CASE("is_site_code_name: what PHP or the web server runs") {
  for (const char* name : {"shell.php", "x.PHP", "a.phtml", "a.phar", "a.php7", ".htaccess", ".user.ini"})
    CHECK_MESSAGE(is_site_code_name(name), name);
  for (const char* name : {"photo.png", "php", "notes.txt", "a.php9"})
    CHECK_MESSAGE(!is_site_code_name(name), name);
}

TEST_CASE("audit: a site is one group against its accepted baseline; planted files are neither followed, "
          "opened nor read" *
          doctest::skip(!is_root())) {
  SiteJail j;
  SUBCASE("without a baseline: one low finding, no file-by-file noise") {
    AuditReport r = j.audit();
    const Finding* f = find(r, "site-unaccepted", "/var/www/blog");
    REQUIRE(f);
    CHECK(f->severity == Severity::low);
    for (const Finding& x : r.findings)
      CHECK_MESSAGE(!(x.rule == "integrity-unexpected" && x.path.starts_with("/var/www/blog/")), x.path);
  }
  std::vector<SiteAccepted> accepted = accept_sites(j.root, std::nullopt);
  REQUIRE(accepted.size() == 1);
  CHECK(accepted[0].files == 4);
  {
    AuditReport r = j.audit();
    const Finding* f = find(r, "site", "/var/www/blog");
    REQUIRE(f);
    CHECK(f->severity == Severity::info);
    CHECK(contains(f->message, "4 files, 0 changed, 0 added, 0 removed"));
  }

  // The attack: what a compromised PHP process (www-data, writing where it may) or an intruder leaves.
  const std::string fifo = j.blog + "/wp-includes/fifo.php";
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  REQUIRE(::symlink("/etc/shadow", (j.blog + "/wp-includes/shadow.php").c_str()) == 0);
  {
    int fd = ::open((j.blog + "/wp-includes/big.php").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    REQUIRE(fd >= 0);
    REQUIRE(::ftruncate(fd, off_t{10} << 30) == 0); // 10 GB, sparse
    ::close(fd);
  }
  const std::string newline_name = j.blog + "/wp-includes/x\nCRITICAL setuid /usr/bin/su.php";
  write_text(newline_name, "<?php\n");
  // The same size, new content: only the digest tells.
  write_text(j.blog + "/wp-includes/version.php", "<?php $wp_version = '6.6';\n");
  ::unlink((j.blog + "/readme.html").c_str());
  write_text(j.blog + "/wp-content/uploads/shell.php", "<?php system($_GET['c']);\n");
  write_text(j.blog + "/wp-content/uploads/photo.png", "png");

  AuditReport r;
  auto started = std::chrono::steady_clock::now();
  CHECK(finishes_within(20, fifo, [&] { r = j.audit(); }));
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(10)); // 10 GB never read
  const Finding* group = find(r, "site", "/var/www/blog");
  REQUIRE(group);
  CHECK(group->severity == Severity::medium); // PHP code changed and added
  CHECK(contains(group->message, "7 files, 1 changed, 4 added, 1 removed"));
  REQUIRE(r.sites.size() == 1);
  const SiteAudit& site = r.sites[0];
  CHECK(lists(site.changed, "/var/www/blog/wp-includes/version.php"));
  CHECK(lists(site.added, "/var/www/blog/wp-includes/shadow.php"));
  CHECK(lists(site.added, "/var/www/blog/wp-includes/fifo.php"));
  CHECK(lists(site.added, "/var/www/blog/wp-includes/big.php"));
  CHECK(lists(site.added, "/var/www/blog/wp-includes/x\nCRITICAL setuid /usr/bin/su.php"));
  CHECK(lists(site.removed, "/var/www/blog/readme.html"));
  const Finding* shell = find(r, "site-code-in-writable", "/var/www/blog/wp-content/uploads/shell.php");
  REQUIRE(shell);
  CHECK(shell->severity == Severity::high);
  CHECK(!find(r, "site-code-in-writable", "/var/www/blog/wp-content/uploads/photo.png"));
  for (const Finding& x : r.findings)
    CHECK_MESSAGE(!(x.rule == "integrity-unexpected" && x.path.starts_with("/var/www/blog/wp-includes")),
                  x.path);
  // The text names the planted name escaped: it cannot forge a line of the report.
  const std::string text = format_audit_text(r, Severity::medium, AuditDetail::verbose);
  CHECK(contains(text, "added: /var/www/blog/wp-includes/x\\x0aCRITICAL setuid /usr/bin/su.php"));
  CHECK(!contains(format_audit_text(r, Severity::medium), "added: "));
  CHECK(contains(format_audit_json(r, Severity::medium), "\"code_in_writable\""));

  // Accepting them is root's explicit act; it too neither hangs on the FIFO nor reads 10 GB.
  std::vector<SiteAccepted> again;
  started = std::chrono::steady_clock::now();
  CHECK(finishes_within(20, fifo, [&] { again = accept_sites(j.root, std::string("/var/www/blog")); }));
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(10));
  REQUIRE(again.size() == 1);
  CHECK(again[0].changes.changed.size() == 1);
  CHECK(again[0].changes.added.size() == 4);
  const Finding* after = find(j.audit(), "site", "/var/www/blog");
  REQUIRE(after);
  CHECK(after->severity == Severity::info);
  // The baseline never vouches for code where the services write.
  CHECK(find(j.audit(), "site-code-in-writable", "/var/www/blog/wp-content/uploads/shell.php"));
  CHECK_THROWS(accept_sites(j.root, std::string("/var/www/other")));
}

TEST_CASE("adopt_archive_spec: an archive's site never names what root copies from this host") {
  Manifest m;
  m.plan.spec.services = {"nginx"};
  // The attack: an empty docroot whose source is root's home; the next `create NAME` would copy it in.
  m.plan.spec.sites = {{"/var/www/blog", "root", {"uploads"}, "www-data", "/root"},
                       {"/usr/lib", "root", {}, "www-data", ""}};
  AdoptedSpec adopted = adopt_archive_spec(m, {"nginx"}, {"/usr/share/jailbuild/profiles"}, "/srv/x");
  CHECK(adopted.errors.empty());
  REQUIRE(m.plan.spec.sites.size() == 1);
  CHECK(m.plan.spec.sites[0].source.empty());
  CHECK(m.plan.spec.sites[0].writable == std::vector<std::string>{"uploads"});
  std::string warnings;
  for (const std::string& w : adopted.warnings)
    warnings += w + "\n";
  CHECK(contains(warnings, "/root"));
  CHECK(contains(warnings, "/usr/lib dropped"));
}
