// SPDX-License-Identifier: MIT
// The audit's rules. Each reads the walked tree (audit_internal.hpp) and appends findings; none touches
// the jail except through Context::read_text, which never follows a symlink inside it.
#include "audit_internal.hpp"

#include "jailbuild/hostfs.hpp"
#include "jailbuild/text.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <sstream>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace jailbuild::audit {

namespace {

std::string octal(unsigned mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", mode & 07777);
  return buf;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}
bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

/// The user or group name of an id in the jail's own files, else the number.
std::string user_name(const Context& ctx, uint32_t uid) {
  for (const PasswdEntry& u : ctx.passwd)
    if (u.uid == uid) return u.name;
  return uid == 0 ? "root" : std::to_string(uid);
}
std::string group_name(const Context& ctx, uint32_t gid) {
  for (const GroupEntry& g : ctx.groups)
    if (g.gid == gid) return g.name;
  return gid == 0 ? "root" : std::to_string(gid);
}

// --- the chroot golden rules ---------------------------------------------------------------------

/// One directory that must be root-owned and not writable by group or others. The sticky bit is
/// enough for a parent (others cannot rename or remove root's entry), never for the root itself
/// (anyone could add entries to the jail's top level).
void check_golden(Context& ctx, const struct stat& st, const std::string& shown, const std::string& host_path,
                  bool is_root) {
  const std::string what = is_root ? "the jail root" : "a parent of the jail";
  if (st.st_uid != 0)
    ctx.add("chroot-owner", Severity::high, shown,
            what + " is owned by uid " + std::to_string(st.st_uid) +
                ", not root: its owner can rename or replace what the chroot enters",
            "chown root:root " + host_path);
  bool writable = (st.st_mode & (S_IWGRP | S_IWOTH)) != 0;
  if (writable && (is_root || !(st.st_mode & S_ISVTX)))
    ctx.add("chroot-writable", Severity::high, shown,
            what + " is writable by group or others (mode " + octal(st.st_mode) +
                "): they can swap its entries for their own",
            "chmod go-w " + host_path);
}

// --- accounts ------------------------------------------------------------------------------------

bool is_nologin(const std::string& shell) {
  // An empty shell is not "no shell": login(1), su(1) and sshd run /bin/sh for it.
  return shell == "/usr/sbin/nologin" || shell == "/sbin/nologin" || shell == "/bin/false" ||
         shell == "/usr/bin/false";
}

/// A password field that can never match: "*", "!", "!!", "!*".
bool is_locked_without_hash(std::string_view field) {
  return !field.empty() && field.find_first_not_of("!*") == std::string_view::npos;
}

void check_password_fields(Context& ctx, const std::string& file, const std::string& text, bool shadow_file) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    size_t c1 = line.find(':');
    if (c1 == std::string::npos) continue;
    size_t c2 = line.find(':', c1 + 1);
    std::string name = line.substr(0, c1);
    std::string field = line.substr(c1 + 1, c2 == std::string::npos ? std::string::npos : c2 - c1 - 1);
    if (!shadow_file && field == "x") continue; // the hash, if any, is in shadow
    if (is_locked_without_hash(field)) continue;
    if (field.empty()) {
      ctx.add("account-empty-password", Severity::medium, file,
              "'" + name + "' has an empty password: anything that checks passwords lets anyone in as it",
              "set the field to '*' in " + ctx.host(file));
    } else {
      ctx.add("account-password-hash", Severity::high, file,
              "'" + name + "' has a password hash: a compromised service can read and crack it offline",
              "replace the hash with '*' in " + ctx.host(file) + " (jail accounts never log in)");
    }
  }
}

// --- entries -------------------------------------------------------------------------------------

/// The devices a jail may hold: they give no access to hardware, memory or other processes.
struct SafeDevice {
  const char* path;
  unsigned major, minor;
};
constexpr SafeDevice safe_devices[] = {{"/dev/null", 1, 3},   {"/dev/zero", 1, 5},    {"/dev/full", 1, 7},
                                       {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0}};

void check_device(Context& ctx, const Node& n) {
  unsigned maj = major(n.st.st_rdev), min = minor(n.st.st_rdev);
  bool block = S_ISBLK(n.st.st_mode);
  if (!block)
    for (const SafeDevice& d : safe_devices)
      if (n.path == d.path && maj == d.major && min == d.minor) return;
  std::string number = std::to_string(maj) + ":" + std::to_string(min);
  Severity severity = Severity::high;
  std::string why;
  if (block) {
    severity = Severity::critical;
    why =
        "a block device (" + number + "): raw access to a disk bypasses every permission of its file system";
  } else if (maj == 1 && (min == 1 || min == 2 || min == 4)) {
    severity = Severity::critical;
    why = std::string("character device ") + number + " (" +
          (min == 1   ? "mem"
           : min == 2 ? "kmem"
                      : "port") +
          "): direct access to the host's memory or I/O ports";
  } else {
    why = "character device " + number +
          " is not one of null, zero, full, random, urandom, tty: it gives "
          "the jail access to hardware or to the host";
  }
  ctx.add("device-node", severity, n.path, why, "rm " + ctx.host(n.path));
}

struct ToolKind {
  const char* kind;
  std::vector<std::string_view> names;
};

/// Programs that make exec() useful to an attacker, by name without a version suffix.
const std::vector<ToolKind>& tool_kinds() {
  static const std::vector<ToolKind> kinds = {
      {"shell",
       {"sh", "bash", "rbash", "dash", "ash", "zsh", "ksh", "mksh", "csh", "tcsh", "fish", "busybox",
        "toybox"}},
      {"interpreter",
       {"perl", "python", "ruby", "php", "php-cgi", "lua", "luajit", "node", "nodejs", "tclsh", "wish",
        "guile", "awk", "gawk", "mawk", "nawk", "expect"}},
      {"compiler",
       {"cc", "gcc", "g++", "c++", "cpp", "clang", "clang++", "tcc", "as", "ld", "ld.bfd", "ld.gold", "go",
        "rustc", "javac"}},
      {"package manager",
       {"apt", "apt-get", "aptitude", "dpkg", "rpm", "yum", "dnf", "apk", "pip", "pip3", "gem", "npm",
        "composer"}},
  };
  return kinds;
}

/// "python3.11" -> "python", "gcc-12" -> "gcc": the name without a trailing version.
std::string_view unversioned(std::string_view name) {
  size_t end = name.size();
  while (end > 0 && (std::isdigit(static_cast<unsigned char>(name[end - 1])) || name[end - 1] == '.'))
    --end;
  if (end > 0 && end < name.size() && name[end - 1] == '-') --end;
  return end == 0 ? name : name.substr(0, end);
}

const char* tool_kind(std::string_view name) {
  for (const ToolKind& k : tool_kinds())
    for (std::string_view n : k.names)
      if (n == name || n == unversioned(name)) return k.kind;
  return nullptr;
}

/// Whether the jail was made --with mail, which brings a shell on purpose (profiles/mail.toml).
bool asks_for_mail(const Context& ctx) {
  if (!ctx.manifest) return false;
  const std::vector<std::string>& services = ctx.manifest->plan.spec.services;
  return std::find(services.begin(), services.end(), "mail") != services.end();
}

/// The host path a symlink's target names, lexically (no symlink is followed), from the host.
std::string host_target(const Context& ctx, const Node& n) {
  if (!n.link.empty() && n.link.front() == '/') return normalize_path(n.link);
  return normalize_path(ctx.real_root + dirname_of(n.path) + "/" + n.link);
}

void check_node(Context& ctx, const Node& n) {
  const mode_t mode = n.st.st_mode;
  const std::string host = ctx.host(n.path);
  if (S_ISREG(mode)) {
    if (mode & S_ISUID)
      ctx.add("setuid", n.st.st_uid == 0 ? Severity::critical : Severity::high, n.path,
              "setuid " + user_name(ctx, n.st.st_uid) + ": runs as its owner whoever executes it" +
                  (n.st.st_uid == 0 ? "; root inside a chroot is an escape" : ""),
              "chmod u-s " + host + ", or remove it from the jail");
    if ((mode & S_ISGID) && (mode & S_IXGRP)) // setgid without group execute is mandatory locking
      ctx.add("setgid", n.st.st_gid == 0 ? Severity::critical : Severity::high, n.path,
              "setgid " + group_name(ctx, n.st.st_gid) + ": runs with its group whoever executes it",
              "chmod g-s " + host + ", or remove it from the jail");
    if (n.capability)
      ctx.add("file-capability", Severity::critical, n.path,
              "has file capabilities (security.capability): exec grants privileges as setuid would",
              "setcap -r " + host);
    if (mode & S_IXUSR || mode & S_IXGRP || mode & S_IXOTH)
      if (const char* kind = tool_kind(base_name(n.path))) {
        if (std::string_view(kind) == "shell" && asks_for_mail(ctx))
          ctx.add("exec-tool", Severity::info, n.path,
                  "a shell, there for the mail profile: PHP's mail() runs sendmail_path through /bin/sh -c; "
                  "code injected into a service can exec() it too",
                  "leave out the mail profile unless the application sends mail with mail()");
        else
          ctx.add("exec-tool", Severity::info, n.path,
                  std::string("a ") + kind + ": code injected into a service can exec() it to do anything",
                  "leave it out of the jail unless the application runs it");
      }
  }
  if ((S_ISREG(mode) || S_ISFIFO(mode)) && (mode & S_IWOTH))
    ctx.add("world-writable-file", Severity::high, n.path,
            "writable by everyone (mode " + octal(mode) + "): any process in the jail can change it",
            "chmod o-w " + host);
  if (S_ISDIR(mode) && (mode & (S_IWGRP | S_IWOTH)) && !(mode & S_ISVTX))
    ctx.add("writable-dir-no-sticky", (mode & S_IWOTH) ? Severity::high : Severity::medium, n.path,
            std::string("writable by ") + ((mode & S_IWOTH) ? "everyone" : "its group") +
                " without the sticky bit (mode " + octal(mode) +
                "): one user can delete or replace another's files there",
            "chmod +t " + host + ", or chmod go-w " + host);
  if (S_ISCHR(mode) || S_ISBLK(mode)) check_device(ctx, n);
  if (!S_ISLNK(mode) && in_system_area(n.path)) {
    if (ctx.service.uids.count(n.st.st_uid))
      ctx.add("service-writable-system", Severity::high, n.path,
              "owned by service user " + user_name(ctx, n.st.st_uid) +
                  ": a compromised service can change the programs, libraries or configuration it runs with",
              "chown root:root " + host);
    else if (ctx.service.may(n.st, 2))
      ctx.add("service-writable-system", Severity::high, n.path,
              "writable by a service user (mode " + octal(mode) + ", group " + group_name(ctx, n.st.st_gid) +
                  "): a compromised service can change what it runs",
              "chmod go-w " + host);
  }
  if (S_ISLNK(mode) && n.parent >= 0) {
    const Node& dir = ctx.nodes[static_cast<size_t>(n.parent)];
    std::string target = host_target(ctx, n);
    if (ctx.service.may(dir.st, 2) && !inside(target, ctx.real_root))
      ctx.add("symlink-escape", Severity::high, n.path,
              "points to " + target +
                  " outside the jail, in a directory a service can write: root on the "
                  "host following it (a cleanup, a backup) acts on the host file",
              "rm " + host);
  }
}

// --- name service --------------------------------------------------------------------------------

void check_nsswitch(Context& ctx, const std::string& text) {
  std::map<std::string, std::vector<std::string>> databases_by_service;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    line = line.substr(0, line.find('#'));
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::istringstream words(line.substr(colon + 1));
    std::string database = line.substr(0, colon);
    database.erase(0, database.find_first_not_of(" \t"));
    bool in_action = false;
    for (std::string w; words >> w;) {
      if (w.front() == '[') in_action = true;
      bool action = in_action;
      if (w.back() == ']') in_action = false;
      if (action || w == "files" || w == "dns") continue;
      databases_by_service[w].push_back(database);
    }
  }
  for (const auto& [service, databases] : databases_by_service) {
    const std::string list = join(databases, ", ");
    bool synthesises = service == "systemd" || service == "mymachines";
    ctx.add("nsswitch-service", synthesises ? Severity::high : Severity::medium, "/etc/nsswitch.conf",
            "uses '" + service + "' for " + list +
                (synthesises ? ": it synthesises users (root among them) that the jail's passwd does not have"
                             : ": a module and configuration the jail should not need"),
            "use only 'files' (and 'dns' for hosts) in " + ctx.host("/etc/nsswitch.conf"));
  }
}

} // namespace

bool Principals::may(const struct stat& st, unsigned perm) const {
  if (uids.count(st.st_uid) && ((st.st_mode >> 6) & perm)) return true;
  if (gids.count(st.st_gid) && ((st.st_mode >> 3) & perm)) return true;
  return (st.st_mode & perm) != 0;
}

bool in_system_area(std::string_view path) {
  for (std::string_view top : {"/usr", "/bin", "/sbin", "/etc"})
    if (inside(path, top)) return true;
  // /lib, /lib32, /lib64, /libx32 and whatever else a distribution calls /lib*.
  return starts_with(path, "/lib");
}

bool inside(std::string_view path, std::string_view root) {
  return root == "/" || path == root ||
         (starts_with(path, root) && path.size() > root.size() && path[root.size()] == '/');
}

std::string_view base_name(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

void check_chroot_rules(Context& ctx) {
  check_golden(ctx, ctx.nodes[0].st, "/", ctx.jail.root(), true);
  for (std::string p = dirname_of(ctx.real_root); ctx.real_root != "/"; p = dirname_of(p)) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) {
      ctx.add("audit-error", Severity::high, "host:" + p, "cannot read the status of a parent of the jail",
              "check the path");
    } else {
      check_golden(ctx, st, "host:" + p, p, false);
    }
    if (p == "/") break;
  }
}

void check_accounts(Context& ctx) {
  std::optional<std::string> passwd = ctx.read_text("/etc/passwd");
  std::optional<std::string> group = ctx.read_text("/etc/group");
  if (passwd) ctx.passwd = parse_passwd(*passwd);
  if (group) ctx.groups = parse_group(*group);
  for (const PasswdEntry& u : ctx.passwd) {
    if (u.uid != 0) ctx.service.uids.insert(u.uid);
    if (u.gid != 0) ctx.service.gids.insert(u.gid);
  }
  for (const GroupEntry& g : ctx.groups)
    if (g.gid != 0) ctx.service.gids.insert(g.gid);
  std::map<uint32_t, std::vector<std::string>> users_by_uid;
  for (const PasswdEntry& u : ctx.passwd) {
    users_by_uid[u.uid].push_back(u.name);
    const std::string fix = "remove '" + u.name + "' from " + ctx.host("/etc/passwd");
    if (u.uid == 0)
      ctx.add("account-uid0", Severity::critical, "/etc/passwd",
              "'" + u.name + "' has UID 0: whoever gains it is root, and root escapes a chroot", fix);
    else if (u.gid == 0)
      ctx.add("account-gid0", Severity::high, "/etc/passwd",
              "'" + u.name + "' has GID 0 as its group: it can use everything of the root group", fix);
    if (!is_nologin(u.shell))
      ctx.add("account-login-shell", Severity::medium, "/etc/passwd",
              "'" + u.name + "' has the login shell '" + (u.shell.empty() ? "(empty: /bin/sh)" : u.shell) +
                  "': a service account never needs one",
              "set its shell to /usr/sbin/nologin in " + ctx.host("/etc/passwd"));
  }
  std::map<uint32_t, std::vector<std::string>> groups_by_gid;
  for (const GroupEntry& g : ctx.groups) {
    groups_by_gid[g.gid].push_back(g.name);
    if (g.gid == 0)
      ctx.add("account-gid0", Severity::high, "/etc/group",
              "group '" + g.name + "' has GID 0: files of the root group become accessible to its members",
              "remove '" + g.name + "' from " + ctx.host("/etc/group"));
  }
  auto duplicates = [&](const std::map<uint32_t, std::vector<std::string>>& by_id, const char* file,
                        const char* kind) {
    for (const auto& [id, names] : by_id) {
      if (names.size() < 2) continue;
      const std::string list = join(names, ", ");
      ctx.add("account-duplicate-id", Severity::medium, file,
              std::string(kind) + " " + std::to_string(id) + " has several names (" + list +
                  "): one account hides behind another's name",
              std::string("give each name its own id in ") + ctx.host(file));
    }
  };
  duplicates(users_by_uid, "/etc/passwd", "UID");
  duplicates(groups_by_gid, "/etc/group", "GID");
  if (passwd) check_password_fields(ctx, "/etc/passwd", *passwd, false);
  if (group) check_password_fields(ctx, "/etc/group", *group, false);
  for (const char* file : {"/etc/shadow", "/etc/gshadow"})
    if (std::optional<std::string> text = ctx.read_text(file)) check_password_fields(ctx, file, *text, true);
  if (ctx.manifest)
    for (const std::string& name : ctx.manifest->plan.users)
      if (std::none_of(ctx.passwd.begin(), ctx.passwd.end(),
                       [&](const PasswdEntry& u) { return u.name == name; }))
        ctx.add("account-missing-user", Severity::medium, "/etc/passwd",
                "service user '" + name +
                    "' that the jail was made for is missing: its processes and files "
                    "show as bare numbers, and a reused id means another account",
                "jailbuild sync " + ctx.jail.root());
}

void check_entries(Context& ctx) {
  // Hardlinks: how many names each inode with several has inside the jail.
  std::map<std::pair<dev_t, ino_t>, nlink_t> names_inside;
  for (const Node& n : ctx.nodes)
    if (!n.mount && !S_ISDIR(n.st.st_mode) && n.st.st_nlink > 1) ++names_inside[{n.st.st_dev, n.st.st_ino}];
  for (const Node& n : ctx.nodes) {
    if (n.mount) continue; // what is mounted belongs to the host: check_mounts reports it
    check_node(ctx, n);
    if (S_ISDIR(n.st.st_mode) || n.st.st_nlink < 2) continue;
    nlink_t inside_count = names_inside[{n.st.st_dev, n.st.st_ino}];
    if (n.st.st_nlink > inside_count)
      ctx.add(
          "hardlink-outside", Severity::high, n.path,
          "has " + std::to_string(n.st.st_nlink) + " links but only " + std::to_string(inside_count) +
              " in the jail: it is the same file as one outside it, so a write on either side changes both",
          "replace it with a copy of its own (cp --remove-destination), or re-run jailbuild create");
  }
}

void check_name_service(Context& ctx) {
  if (std::optional<std::string> text = ctx.read_text("/etc/nsswitch.conf")) check_nsswitch(ctx, *text);
  for (const Node& n : ctx.nodes) {
    std::string_view name = base_name(n.path);
    if (!n.mount && (starts_with(name, "libnss_systemd.so") || starts_with(name, "libnss_mymachines.so")))
      ctx.add("nss-module", Severity::high, n.path,
              "an NSS module that synthesises users (root among them) absent from the jail's passwd",
              "rm " + ctx.host(n.path));
  }
  if (const Node* preload = ctx.find("/etc/ld.so.preload"))
    ctx.add("ld-so-preload", Severity::high, preload->path,
            "present: every program in the jail loads the libraries it names, before its own",
            "rm " + ctx.host(preload->path));
}

void check_secrets(Context& ctx) {
  for (const Node& n : ctx.nodes) {
    if (n.mount || !S_ISREG(n.st.st_mode) || n.parent < 0) continue;
    const Node& dir = ctx.nodes[static_cast<size_t>(n.parent)];
    bool readable = dir.service_reach && ctx.service.may(n.st, 4);
    if (!readable) continue;
    std::string_view name = base_name(n.path);
    if (n.path == "/etc/shadow" || n.path == "/etc/gshadow" || n.path == "/etc/shadow-" ||
        n.path == "/etc/gshadow-") {
      ctx.add("shadow-readable", Severity::high, n.path,
              "readable by a service user (mode " + octal(n.st.st_mode) +
                  "): it holds the accounts' password fields",
              "chmod 0600 " + ctx.host(n.path) + " && chown root:root " + ctx.host(n.path));
      continue;
    }
    // PKCS#12 bundles are binary: their name says enough. Other candidates must hold a PEM key.
    bool by_name_only = ends_with(name, ".p12") || ends_with(name, ".pfx");
    bool candidate = by_name_only || base_name(dir.path) == "private" || ends_with(name, ".key") ||
                     ends_with(name, ".pem") || starts_with(name, "id_rsa") || starts_with(name, "id_dsa") ||
                     starts_with(name, "id_ecdsa") || starts_with(name, "id_ed25519") ||
                     (starts_with(name, "ssh_host_") && ends_with(name, "_key"));
    if (!candidate || ends_with(name, ".pub")) continue;
    if (!by_name_only) {
      std::optional<std::string> head = ctx.read_text(n.path, 64 * 1024);
      if (!head || head->find("PRIVATE KEY-----") == std::string::npos) continue;
    }
    ctx.add("private-key-readable", Severity::high, n.path,
            "a private key readable by a service user (mode " + octal(n.st.st_mode) + ", owner " +
                user_name(ctx, n.st.st_uid) + ":" + group_name(ctx, n.st.st_gid) +
                "): a compromised service can steal it",
            "chmod 0600 " + ctx.host(n.path) + " && chown root:root " + ctx.host(n.path) +
                " (the master process reads it as root)");
  }
}

} // namespace jailbuild::audit
