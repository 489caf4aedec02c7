// SPDX-License-Identifier: MIT
// The plan: what a jail should hold, as pure data. Built from profiles, discovery and the walk
// (plan_builder.hpp); printed by --dry-run; applied by the assembler; recorded in the manifest;
// compared by sync. Nothing here touches a file.
#pragma once
#include "jailbuild/walk.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace jailbuild {

enum class EntryKind : uint8_t { directory, file, symlink, device, generated, bind };
std::string_view to_string(EntryKind kind);
std::optional<EntryKind> entry_kind_from(std::string_view name);

enum class DeviceType : uint8_t { character, block };

/// What an entry is for: sync treats configuration like dpkg treats conffiles, audit reports a
/// changed executable or library as tampering.
enum class EntryRole : uint8_t { system, executable, library, config, data, state };
std::string_view to_string(EntryRole role);
std::optional<EntryRole> entry_role_from(std::string_view name);

/// One thing in the jail.
struct PlanEntry {
  EntryKind kind = EntryKind::file;
  EntryRole role = EntryRole::data;
  std::string path;  ///< absolute path inside the jail, canonical (no symlink of the plan on the way)
  uint32_t mode = 0; ///< permission bits, sticky bit included; never setuid or setgid
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string source;     ///< file: host path; symlink: link text; bind: host path
  std::string content;    ///< generated: the content
  std::string digest;     ///< sha256 of the content (file, generated); empty until known
  FileStamp source_stamp; ///< file: (dev, inode, size, mtime, ctime) of the host source when planned
  /// file, generated: (dev, inode, size, mtime, ctime) of the copy in the jail when it was installed, so that
  /// sync and audit can tell an untouched file by lstat() alone, without hashing it.
  FileStamp jail_stamp;
  DeviceType device_type = DeviceType::character;
  uint32_t major = 0;
  uint32_t minor = 0;
  bool read_only = true; ///< bind
  bool noexec = false;   ///< bind
  /// Which profile, discovery or walk asked for it (for humans); JSON "origin" in manifests and
  /// plans, its name there since the first ones (keys are only ever added).
  std::string requested_by;
  /// file: a private key or password (an admin's secret --file, a TLS key nginx names): installed
  /// readable by root only unless asked otherwise, left out of archives unless pack --include-secrets.
  bool secret = false;
  /// A conffile the admin deleted in the jail: kept in the manifest so that no later run restores it
  /// (dpkg keeps a removed conffile removed). Set by the applier in what it records (decide.hpp:
  /// kept_absent()); a fresh plan never has it, a sync that reuses its recorded plan does.
  bool kept_absent = false;

  bool operator==(const PlanEntry&) const = default;
};

/// A bind mount asked for on the command line or by a profile.
struct BindSpec {
  std::string source;
  std::string dest;
  bool read_only = true;
  bool noexec = false;
  bool operator==(const BindSpec&) const = default;
};

/// A directory the site may write to (uploads, sqlite databases), owned by a service user.
struct WritableSpec {
  std::string path;
  std::string owner;
  std::string group;
  bool operator==(const WritableSpec&) const = default;
};

/// What the user asked for: enough to build the same plan again (sync needs no arguments).
/// A file the admin names (--file SRC:DEST, a definition's [[files]]), e.g. a vhost or a certificate.
struct OwnFileSpec {
  std::string source;  ///< host path, read through the host root: root's own choice, never an archive's
  std::string dest;    ///< jail path
  bool secret = false; ///< a private key or password: see PlanEntry::secret
  bool operator==(const OwnFileSpec&) const = default;
};

/// A site the jail serves (site.hpp): its code lives in the jail below `docroot`, is the admin's (never
/// planned, never touched by sync) and is audited as one group against a baseline root accepted.
struct SiteSpec {
  std::string docroot;               ///< jail path of the site's code
  std::string owner = "root";        ///< owns the code; root: read-only to every service
  std::vector<std::string> writable; ///< directories below docroot (relative) the services may write
  std::string writer = "www-data";   ///< the service user owning the writable directories
  std::string source;                ///< host directory copied in once by create when docroot is empty
  bool operator==(const SiteSpec&) const = default;
};

struct JailSpec {
  std::string name; ///< the jail's name (its definition's file name); empty for a jail made before names
  std::vector<std::string> services;
  std::optional<std::string> php_version;
  std::vector<BindSpec> binds;
  std::vector<WritableSpec> writable;
  std::string host_root = "/";
  std::vector<std::string> profile_dirs; ///< where profiles were read, in precedence order
  std::vector<std::string> pools;        ///< php-fpm pools taken from the host's pool.d; empty: all
  std::vector<std::string> excludes;     ///< jail paths or globs never installed
  std::vector<OwnFileSpec> files;        ///< the admin's own files
  std::vector<SiteSpec> sites;           ///< the sites whose code the jail holds
  std::vector<std::string> secrets;      ///< jail paths pack leaves out (beside the known ones)
  bool operator==(const JailSpec&) const = default;
};

struct Plan {
  JailSpec spec;
  std::vector<PlanEntry> entries; ///< sorted by path components: parents before children
  std::vector<std::string> users; ///< user names in the jail's passwd
  std::vector<std::string> warnings;
  /// ELF facts of every walked object, keyed by host path and stamp, for sync's "parse once" cache.
  std::vector<WalkObject> objects;
  /// php-runtime: the `chroot =` of the chosen pools, which must be the jail's directory (create and
  /// sync check); empty for every other jail. Not in the manifest: planned again from the host.
  std::string php_chroot;
};

/// Orders paths component by component ("/usr" < "/usr/lib" < "/usr-x"), so parents come first.
bool path_less(const std::string& a, const std::string& b);

/// Whether a jail path lies in (or is) a tree that holds what the jail runs with or what root reads:
/// /etc, /usr, /bin, /sbin, /lib*, /dev, /proc, /sys, /boot, /root, /.jailbuild. No service owns or
/// writes anything there, whatever a manifest says of it: a manifest may come from an archive, and
/// its roles and modes must not make /usr/lib a "state directory" whose files audit lets pass, nor a
/// place where an archive vouches for files (origin extra_digests).
bool in_jail_system_tree(std::string_view path);

/// Entries being collected for a plan, indexed by path.
class EntrySet {
public:
  /// Adds an entry, merging an identical duplicate; a conflicting one (a file and a directory at one
  /// path, two different files) throws Error naming the jail path and who asked for each.
  void add(PlanEntry entry);
  bool contains(const std::string& path) const { return index_.count(path) != 0; }
  /// The entries sorted with path_less, missing parent directories added (0755 root:root); throws
  /// Error when a parent is planned as something other than a directory.
  std::vector<PlanEntry> finish() &&;

private:
  std::vector<PlanEntry> entries_;
  std::unordered_map<std::string, size_t> index_;
};

/// A human summary count of a plan.
struct PlanSummary {
  size_t objects = 0, files = 0, directories = 0, symlinks = 0, devices = 0, generated = 0, binds = 0;
  uint64_t bytes = 0;
  size_t users = 0;
};
PlanSummary summarize(const Plan& plan);

} // namespace jailbuild
