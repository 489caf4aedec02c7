// SPDX-License-Identifier: MIT
// The audit's mount rules: what is mounted below the jail (from mountinfo) and what the manifest asks
// `jailbuild mount` to bind. A bind is judged by what `mount` refuses (bind_source.hpp): the host's /,
// a system directory, the host's /proc, another jail, or a directory holding this one.
#include "audit_internal.hpp"

#include "jailbuild/bind_source.hpp"
#include "jailbuild/error.hpp"
#include "jailbuild/fd.hpp"
#include "jailbuild/hostfs.hpp"
#include "jailbuild/plan_builder.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>

namespace jailbuild::audit {

namespace {

/// The jailbuild jail a host path lies in (a directory on the way holds `.jailbuild/`), or "".
/// Looked up on the host by path, following symlinks on the way: the audit only reads, and `mount`
/// itself refuses such a source through fds (bind_source.cpp).
std::string jail_holding(std::string_view host_path) {
  for (std::string p = normalize_path(host_path); p != "/"; p = dirname_of(p)) {
    struct stat st {};
    if (::lstat((p + "/.jailbuild").c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return p;
  }
  return "";
}

/// Why a bind of this host path into the jail (at ctx.real_root) lets it out, or "" when it does
/// not: what `mount` refuses (bind_source.hpp), this jail itself or a parent of it, another jail.
std::string escaping_source(const Context& ctx, const std::string& source) {
  if (std::optional<std::string> why = refused_bind_source(source)) return *why;
  if (inside(ctx.real_root, source))
    return "it holds this jail: a process in the jail could rename or replace the jail itself";
  std::string jail = jail_holding(source);
  if (jail == ctx.real_root) return "it lies in this jail, where a process in the jail could swap it";
  if (!jail.empty())
    return "it lies in the jailbuild jail " + jail + ": another jail's files are that jail's";
  return "";
}

/// The host path a mount shows: the mount of the same file system outside the jail whose root
/// contains this mount's root, plus the rest of the path. Empty when none is found.
std::string host_source(const Context& ctx, const MountInfo& m) {
  const MountInfo* best = nullptr;
  for (const MountInfo& o : ctx.mounts) {
    if (o.major != m.major || o.minor != m.minor || inside(o.mount_point, ctx.real_root)) continue;
    if (!(o.root == "/" || inside(m.root, o.root))) continue;
    if (!best || o.root.size() > best->root.size()) best = &o;
  }
  if (!best) return "";
  std::string rest = best->root == "/" ? m.root : m.root.substr(best->root.size());
  return normalize_path(best->mount_point + "/" + rest);
}

void check_mount(Context& ctx, const MountInfo& m, const MountInfo* host_root) {
  std::string path = m.mount_point == ctx.real_root ? "/" : m.mount_point.substr(ctx.real_root.size());
  bool rw = m.has_option("rw");
  const std::string access = rw ? "read-write" : "read-only";
  const std::string fix = "umount " + m.mount_point + " and remove what mounts it";
  if (m.fs_type == "proc") {
    // Read-only does not help: /proc/PID/root of a host process of the same uid is that process's
    // root directory, the host's /, with write access wherever the uid has it.
    if (rw)
      ctx.add("mount-proc-rw", Severity::critical, path,
              "the host's /proc mounted read-write: /proc/sys, /proc/sysrq-trigger and other processes' "
              "files are writable from the jail, and /proc/PID/root leads out of it",
              "umount " + m.mount_point + "; /proc belongs only in a jail with a PID namespace of its own");
    else
      ctx.add("mount-proc", Severity::high, path,
              "a /proc mounted in the jail: unless the jail has a PID namespace of its own, a jailed process "
              "reads and writes the host's files through /proc/PID/root of any host process of its uid",
              "umount " + m.mount_point + "; /proc belongs only in a jail with a PID namespace of its own");
    return;
  }
  static const char* const kernel_fs[] = {"sysfs",    "cgroup",     "cgroup2", "debugfs",
                                          "tracefs",  "securityfs", "bpf",     "configfs",
                                          "efivarfs", "pstore",     "fusectl", "binfmt_misc"};
  for (const char* fs : kernel_fs)
    if (m.fs_type == fs) {
      ctx.add("mount-kernel-fs", rw ? Severity::critical : Severity::high, path,
              std::string(fs) + " mounted " + access + ": kernel and host settings reachable from the jail",
              fix);
      return;
    }
  if (m.fs_type == "devtmpfs") {
    ctx.add("mount-devtmpfs", Severity::critical, path,
            "devtmpfs mounted: every device node of the host, disks included", fix);
    return;
  }
  std::string source = host_source(ctx, m);
  if ((host_root && m.major == host_root->major && m.minor == host_root->minor &&
       m.root == host_root->root) ||
      source == "/") {
    ctx.add("mount-host-root", Severity::critical, path,
            "the host's root file system mounted " + access + ": the jail sees the whole host", fix);
    return;
  }
  if (!source.empty()) {
    std::string why = escaping_source(ctx, source);
    if (!why.empty()) {
      ctx.add("mount-host-sensitive", Severity::critical, path,
              "host path " + source + " mounted " + access + ": " + why, fix);
      return;
    }
  }
  ctx.add("mount", Severity::info, path,
          (source.empty() ? m.fs_type + " " + m.source : source) + " mounted " + access +
              (m.has_option("nosuid") ? "" : ", setuid allowed"),
          "check that the jail needs it");
}

/// A jail file in one read (the manifest: a megabyte, read on every rules-only audit), through
/// JailFs, never through a symlink.
std::string read_whole(const JailFs& jail, const std::string& rel) {
  UniqueFd fd(jail.open_read(rel));
  return read_all(fd.get(), jail.path(rel));
}

/// The manifest's bind entries, mounted or not: a manifest may come from an archive, and what it
/// names is what `jailbuild mount` would be asked to bind.
void check_manifest_binds(Context& ctx) {
  if (!ctx.manifest) return;
  const Manifest* manifest = ctx.manifest;
  std::optional<Manifest> full;
  if (manifest->plan.entries.empty()) {
    // Without the integrity check the audit reads only the manifest's users (it is a megabyte of
    // JSON). Binds are rare: only a manifest that may name one is parsed whole. "\u" too: a hostile
    // manifest could spell the kind "\u0062ind".
    std::string text;
    try {
      text = read_whole(ctx.jail, manifest_file);
    } catch (const Error& e) {
      ctx.add("audit-error", Severity::high, std::string("/") + manifest_file,
              "cannot be read for its binds: " + e.message(), "check the manifest");
      return;
    }
    auto holds = [&](std::string_view part) {
      return ::memmem(text.data(), text.size(), part.data(), part.size()) != nullptr; // glibc's is fast
    };
    if (!holds("\"bind\"") && !holds("\\u")) return;
    try {
      full = read_manifest(ctx.jail.root());
    } catch (const Error& e) {
      ctx.add("audit-error", Severity::high, std::string("/") + manifest_file,
              "cannot be read for its binds: " + e.message(), "check the manifest");
      return;
    }
    manifest = &*full;
  }
  const std::string& host_root = manifest->plan.spec.host_root;
  const bool real_host = host_root.empty() || host_root == "/";
  for (const PlanEntry& e : manifest->plan.entries) {
    if (e.kind != EntryKind::bind) continue;
    std::string why;
    if (std::optional<std::string> bad_point = refused_jail_path(e.path, JailPathUse::bind_point)) {
      why = "its mount point is refused: " + *bad_point;
    } else if (e.source.empty() || e.source.front() != '/' ||
               std::any_of(e.source.begin(), e.source.end(),
                           [](char c) { return std::iscntrl(static_cast<unsigned char>(c)); }) ||
               normalize_path(e.source) != clean_path(e.source)) {
      why = "its source is not a clean absolute host path";
    } else {
      std::string source = HostRoot(host_root).real(normalize_path(e.source));
      why = escaping_source(ctx, real_host ? source : normalize_path(e.source));
      // What it leads to on this host, symlinks followed (the audit only reads).
      char resolved[PATH_MAX];
      if (why.empty() && real_host && ::realpath(source.c_str(), resolved) && source != resolved) {
        why = escaping_source(ctx, resolved);
        if (!why.empty()) why = source + " leads to " + resolved + ": " + why;
      }
    }
    if (!why.empty())
      ctx.add("manifest-bind-source", Severity::critical, e.path,
              "the manifest asks `jailbuild mount` to bind " + e.source + " here: " + why,
              "remove the bind from the jail's spec (jailbuild mount refuses it)");
  }
}

} // namespace

void check_mounts(Context& ctx) {
  check_manifest_binds(ctx);
  const MountInfo* host_root = nullptr;
  for (const MountInfo& m : ctx.mounts)
    if (m.mount_point == "/") host_root = &m; // the last one is on top
  for (const MountInfo& m : ctx.mounts)
    if (inside(m.mount_point, ctx.real_root) && m.mount_point != ctx.real_root)
      check_mount(ctx, m, host_root);
  // The jail root itself may be a mount (a tmpfs for the jail); only a mount of the host's / is wrong.
  for (const MountInfo& m : ctx.mounts)
    if (m.mount_point == ctx.real_root && host_root && m.major == host_root->major &&
        m.minor == host_root->minor && m.root == host_root->root)
      ctx.add("mount-host-root", Severity::critical, "/",
              "the host's root file system is mounted on the jail itself: the jail is the host",
              "umount " + m.mount_point);
}

} // namespace jailbuild::audit
