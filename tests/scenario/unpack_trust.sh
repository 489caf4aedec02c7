#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every archive is hostile: nothing in it may choose what root reads, mounts or writes on the host.
# A real jail is packed, its archive rewritten as an attacker would (a profile directory shipped in
# the archive that copies /etc/shadow and makes a block device, a bind of a host directory, the
# origin's package list emptied, an unknown service, a writable /etc, another host root), then
# unpacked, synced with `sync --all` (what the apt hook runs) and mounted. Bad input (corrupt
# manifests, devices out of place, decompression bombs, deep trees) fails with exit 2 and
# "jailbuild: <path>: <what>", leaving nothing behind.
set -u
: "${JB:?JB must name the jailbuild binary}"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (unpack writes owners and device nodes); CI runs as root"; exit 77; }
command -v zstd >/dev/null && command -v python3 >/dev/null ||
  { echo "SKIP: zstd and python3 are needed to write hostile archives"; exit 77; }

tmp=$(mktemp -d /tmp/jb-trust.XXXXXX) # root-owned, 0700: a fine parent for jails
cleanup() {
  # Whatever a failing run mounted below $tmp goes first; nothing is removed while a mount remains.
  local m
  for m in $(findmnt -rn -o TARGET | grep "^$tmp/" | sort -r); do umount -l "$m"; done
  if findmnt -rn -o TARGET | grep -q "^$tmp/"; then
    echo "FAIL mounts remain below $tmp; not removing it"
    return
  fi
  rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
. "$(dirname "$0")/lib/checks.sh"

# run CMD...: runs CMD, keeping its exit status, stdout and stderr in $rc, $out, $err.
run() {
  "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  out=$(cat "$tmp/out")
  err=$(cat "$tmp/err")
}

# rewrite SRC DST CHANGES: the archive SRC with its manifest and origin rewritten by the Python
# statements CHANGES (on `m`, the manifest, and `o`, the origin) and the entries `add(name, ...)`
# appends, written to DST (.tar.zst).
rewrite() {
  python3 - "$@" <<'PY'
import hashlib, io, json, subprocess, sys, tarfile
src, dst, changes = sys.argv[1:4]
raw = subprocess.run(["zstd", "-dc", src], capture_output=True, check=True).stdout
archive = tarfile.open(fileobj=io.BytesIO(raw))
members = archive.getmembers()
m = json.loads(archive.extractfile(".jailbuild/manifest.json").read())
o = json.loads(archive.extractfile(".jailbuild/origin.json").read())
added = []
def add(name, content=None, mode=0o755, kind=tarfile.DIRTYPE, devmajor=0, devminor=0):
    info = tarfile.TarInfo(name)
    info.type = tarfile.REGTYPE if content is not None else kind
    info.mode = mode
    info.devmajor, info.devminor = devmajor, devminor
    data = None
    if content is not None:
        data = content.encode()
        info.size = len(data)
        o["extra_digests"]["/" + name] = hashlib.sha256(data).hexdigest()
    added.append((info, data))
exec(changes)
out = io.BytesIO()
with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
    for member in members:
        if member.name == ".jailbuild/manifest.json":
            data = json.dumps(m).encode()
        elif member.name == ".jailbuild/origin.json":
            data = json.dumps(o).encode()
        else:
            data = archive.extractfile(member).read() if member.isfile() else None
        if data is not None:
            member.size = len(data)
        tar.addfile(member, io.BytesIO(data) if data is not None else None)
    for info, data in added:
        tar.addfile(info, io.BytesIO(data) if data is not None else None)
subprocess.run(["zstd", "-q", "-f", "-o", dst], input=out.getvalue(), check=True)
PY
}

# A real jail (dash and its libraries, from this host), packed.
jail=$tmp/jail
"$JB" create "$jail" --with sh --state-dir "$tmp/state" --config-dir "$tmp/state.config" -q || { flunk "create"; finish; }
"$JB" pack "$jail" -o "$tmp/jail.tar.zst" -q >/dev/null || { flunk "pack"; finish; }
mkdir -m 0755 "$tmp/host-data"
echo "host secret" >"$tmp/host-data/secret"

# The attacker's profile, shipped in the archive: it extends `sh` to copy the host's shadow file
# world-readable into the jail and to make a block device anyone may open.
evil_profile='extend = true
[[files]]
path = "/etc/shadow"
dest = "/etc/stolen"
mode = "0644"
[[devices]]
path = "/dev/sdz"
type = "block"
major = 8
minor = 0
mode = "0666"
'
# ATTACK(DIR): the spec the attacker writes, for an archive that will be unpacked into DIR.
attack() {
  cat <<PY
m["spec"]["profile_dirs"].append("$1/opt/evil")
m["spec"]["binds"].append({"source": "$tmp/host-data", "dest": "/mnt", "read_only": False, "noexec": False})
m["entries"].append({"kind": "bind", "role": "system", "path": "/mnt", "mode": "0755", "uid": 0, "gid": 0,
                     "origin": "--bind", "source": "$tmp/host-data", "read_only": False, "noexec": False})
m["spec"]["writable"].append({"path": "/etc", "owner": "www-data", "group": "www-data"})
m["spec"]["host_root"] = "//"
add("mnt")
add("opt")
add("opt/evil")
add("opt/evil/sh.toml", """$evil_profile""", mode=0o644)
PY
}
stolen() { [ -e "$1/etc/stolen" ] || [ -e "$1/dev/sdz" ]; }

# --- 1. The origin's package list emptied: the package check must not switch off -------------------
rewrite "$tmp/jail.tar.zst" "$tmp/nopkg.tar.zst" "$(attack "$tmp/nopkg")
o['packages'] = []"
run "$JB" unpack "$tmp/nopkg.tar.zst" "$tmp/nopkg" --state-dir "$tmp/state-nopkg" --config-dir "$tmp/state-nopkg.config" -q
check "no packages in the origin: unpack refuses (exit 2), DIR removed" \
  '[ $rc -eq 2 ] && grep -q "^jailbuild: $tmp/nopkg.tar.zst: .*lists no packages" "$tmp/err" && [ ! -e "$tmp/nopkg" ]'
run "$JB" sync --all --state-dir "$tmp/state-nopkg" --config-dir "$tmp/state-nopkg.config"
check "... and sync --all then has nothing to sync: no shadow, no device" '[ $rc -eq 0 ] && ! stolen "$tmp/nopkg"'
rewrite "$tmp/jail.tar.zst" "$tmp/baddigest.tar.zst" "o['packages_digest'] = '0' * 64"
run "$JB" unpack "$tmp/baddigest.tar.zst" "$tmp/baddigest" --state-dir "$tmp/state-nopkg" --config-dir "$tmp/state-nopkg.config" -q
check "a package digest that does not match the list: unpack refuses" \
  '[ $rc -eq 2 ] && grep -q "^jailbuild: $tmp/baddigest.tar.zst: .*packages_digest" "$tmp/err" && [ ! -e "$tmp/baddigest" ]'

# --- 2. A spec that points at the archive's own profiles, a host directory, another host root ---------
copy=$tmp/copy
rewrite "$tmp/jail.tar.zst" "$tmp/spec.tar.zst" "$(attack "$copy")"
run "$JB" unpack "$tmp/spec.tar.zst" "$copy" --state-dir "$tmp/state-copy" --config-dir "$tmp/state-copy.config" -q
check "a hostile spec: unpack goes on (exit 0)" '[ $rc -eq 0 ] || { echo "$err"; false; }'
check "... and warns that the archive's profile directory is dropped" \
  'grep -q "^jailbuild: warning: .*profile director.*$copy/opt/evil" <<<"$err"'
check "... that its bind is not mounted until declared, with the --bind to type" \
  'grep -q "^jailbuild: warning: .*--bind $tmp/host-data:/mnt:rw" <<<"$err"'
check "... and that the writable /etc is dropped" 'grep -q "^jailbuild: warning: .*--writable /etc.*dropped" <<<"$err"'
spec() { python3 -c 'import json, sys; m = json.load(open(sys.argv[1] + "/.jailbuild/manifest.json"))
s = m["spec"]; print(s["host_root"], s["binds"], s["writable"], [e["path"] for e in m["entries"] if e["kind"] == "bind"], "inputs" in m)' "$1"; }
check "the manifest: host root /, no binds, no writable /etc, no recorded inputs" '[ "$(spec "$copy")" = "/ [] [] [] False" ]'
check "... and this host's profile directories only (CONFIG/profiles.d of --config-dir)" \
  '! grep -q "$copy/opt/evil" "$copy/.jailbuild/manifest.json" && grep -q "\"profile_dirs\":\[\"$JB_SOURCE_DIR/profiles\",\"$tmp/state-copy.config/profiles.d\"\]" "$copy/.jailbuild/manifest.json"'
run "$JB" sync --all --state-dir "$tmp/state-copy" --config-dir "$tmp/state-copy.config"
check "sync --all plans from this host's profiles: no shadow, no block device in the jail" \
  '[ $rc -le 1 ] && ! stolen "$copy" || { echo "$out$err"; false; }'
run "$JB" mount "$copy"
check "mount mounts nothing the archive asked for" '[ $rc -eq 0 ] && ! mountpoint -q "$copy/mnt"'

# --- 2b. The admin's own files (--file) of an archive: host paths an archive never chooses ------------
# The spec names /etc/shadow as the source of /etc/x, and a manifest entry says the same (with a
# harmless copy archived, so that unpack accepts it): the next sync must copy nothing of /etc/shadow.
own=$tmp/own
rewrite "$tmp/jail.tar.zst" "$tmp/own.tar.zst" '
m["spec"]["files"] = [{"source": "/etc/shadow", "dest": "/etc/x", "secret": False}]
base = next(e for e in m["entries"] if e["kind"] == "file")
x = dict(base)
x.update(path="/etc/x", role="config", origin="--file", source="/etc/shadow",
         digest=hashlib.sha256(b"decoy\n").hexdigest())
m["entries"].append(x)
info = tarfile.TarInfo("etc/x")
info.mode = 0o644
info.size = 6
added.append((info, b"decoy\n"))'
run "$JB" unpack "$tmp/own.tar.zst" "$own" --state-dir "$tmp/state-own" --config-dir "$tmp/state-own.config" -q
check "an archive naming /etc/shadow as an own file: unpack goes on and warns" \
  '[ $rc -eq 0 ] && grep -q "^jailbuild: warning: .*file(s) of the admin.s own" <<<"$err" || { echo "$err"; false; }'
check "... and drops it from the spec" '! grep -q "/etc/shadow" <<<"$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[\"spec\"])" "$own/.jailbuild/manifest.json")"'
rm -f "$own/etc/x" # as if a jailed process could remove it: sync must not "restore" it from /etc/shadow
run "$JB" sync --all --state-dir "$tmp/state-own" --config-dir "$tmp/state-own.config"
shadow_line=$(head -1 /etc/shadow)
check "sync copies nothing of /etc/shadow into the jail" \
  '[ $rc -le 1 ] && ! grep -rqsF -- "$shadow_line" "$own/etc" && [ ! -e "$own/etc/x" ] || { echo "$out$err"; false; }'

# --- 2c. The marks that let an entry be missing (kept_absent: a conffile the admin deleted; secret: a
# key pack left out) cannot take a program or a library out of a jail: an archive without its libc,
# whose manifest marks it both, is refused as incomplete.
rewrite "$tmp/jail.tar.zst" "$tmp/nolibc.tar.zst" '
libc = next(e for e in m["entries"] if e["kind"] == "file" and e["path"].split("/")[-1].startswith("libc.so"))
libc["kept_absent"] = True
libc["secret"] = True
members[:] = [x for x in members if "/" + x.name != libc["path"]]'
run "$JB" unpack "$tmp/nolibc.tar.zst" "$tmp/nolibc" --state-dir "$tmp/state-nolibc" --config-dir "$tmp/state-nolibc.config" -q
check "an archive leaving out libc, marked kept absent and secret: refused as incomplete, DIR removed" \
  '[ $rc -eq 2 ] && grep -q "incomplete archive" <<<"$err" && [ ! -e "$tmp/nolibc" ] || { echo "$err"; false; }'

# --- 3. A service this host has no profile for ----------------------------------------------------
rewrite "$tmp/jail.tar.zst" "$tmp/unknown.tar.zst" "$(attack "$tmp/unknown")
m['spec']['services'].append('evil')"
run "$JB" unpack "$tmp/unknown.tar.zst" "$tmp/unknown" --state-dir "$tmp/state-unknown" --config-dir "$tmp/state-unknown.config" -q
check "an unknown service: unpack refuses naming it, DIR removed" \
  '[ $rc -eq 2 ] && grep -q "^jailbuild: $tmp/unknown.tar.zst: refusing the jail" "$tmp/err" &&
   grep -q "profile .evil., which this host does not have" "$tmp/err" && [ ! -e "$tmp/unknown" ]'

# --- 4. An unpacked jail whose manifest lost its origin's packages: sync refuses ------------------------
python3 - "$copy/.jailbuild/manifest.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["origin"]["packages"] = []
json.dump(m, open(sys.argv[1], "w"))
PY
run "$JB" sync "$copy" --config-dir "$tmp/config"
check "sync of an unpacked jail whose origin lists no packages: exit 2, a refusal" \
  '[ $rc -eq 2 ] && grep -q "^jailbuild: $copy: .*lists no packages" <<<"$err"'

# --- 5. An installed jailbuild reads the installed profiles, never the source tree it was built from -------
inst=$tmp/inst
mkdir -p "$inst/sbin" "$inst/lib/jailbuild" "$inst/share/jailbuild"
cp "$JB" "$inst/sbin/jailbuild"
cp "$(dirname "$JB")"/libjailbuild-*.so "$inst/lib/jailbuild/"
cp -r "$JB_SOURCE_DIR/profiles" "$inst/share/jailbuild/profiles"
printf 'description = "installed copy"\n' >"$inst/share/jailbuild/profiles/installed-marker.toml"
run "$inst/sbin/jailbuild" profiles
check "installed: profiles come from <prefix>/share/jailbuild/profiles" '[ $rc -eq 0 ] && grep -q "^installed-marker " <<<"$out"'
rm -r "$inst/share/jailbuild/profiles"
run "$inst/sbin/jailbuild" profiles
check "installed, profiles missing: an error naming the installed directory, not the source tree" \
  '[ $rc -eq 2 ] && grep -q "^jailbuild: $inst/share/jailbuild/profiles: " <<<"$err"'
# A profile directory others may write, or inside a jail, is refused.
mkdir -m 0777 "$tmp/open-profiles"
run "$JB" profiles --profiles-dir "$tmp/open-profiles"
check "a --profiles-dir writable by others is refused" '[ $rc -eq 2 ] && grep -q "^jailbuild: $tmp/open-profiles: .*writable" <<<"$err"'
mkdir -m 0755 "$jail/opt" "$jail/opt/profiles"
run "$JB" profiles --profiles-dir "$jail/opt/profiles"
check "a --profiles-dir inside a jail is refused" '[ $rc -eq 2 ] && grep -q "^jailbuild: $jail/opt/profiles: .*jail" <<<"$err"'

# --- 6. Bad input: exit 2, "jailbuild: <path>: <what>", nothing written -----------------------------------
rewrite "$tmp/jail.tar.zst" "$tmp/emptypath.tar.zst" "m['entries'][0]['path'] = ''"
run "$JB" unpack "$tmp/emptypath.tar.zst" "$tmp/emptypath" --state-dir "$tmp/state-bad" --config-dir "$tmp/state-bad.config" -q
check "a manifest entry with an empty path" \
  '[ $rc -eq 2 ] && grep -q "^jailbuild: $tmp/emptypath.tar.zst: .jailbuild/manifest.json: corrupt manifest: an entry.s path .. is not" <<<"$err" && [ ! -e "$tmp/emptypath" ]'
rewrite "$tmp/jail.tar.zst" "$tmp/tty.tar.zst" "add('etc/tty', mode=0o666, kind=tarfile.CHRTYPE, devmajor=5, devminor=0)"
run "$JB" unpack "$tmp/tty.tar.zst" "$tmp/tty" --state-dir "$tmp/state-bad" --config-dir "$tmp/state-bad.config" -q
check "a /dev/tty node at /etc/tty" \
  '[ $rc -eq 2 ] && grep -q "^jailbuild: $tmp/tty.tar.zst: etc/tty: character device 5,0 may only be /dev/tty" <<<"$err" && [ ! -e "$tmp/tty" ]'
cp -a "$jail" "$tmp/biguid"
python3 - "$tmp/biguid/.jailbuild/manifest.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["entries"][0]["uid"] = 4294967296
json.dump(m, open(sys.argv[1], "w"))
PY
before=$(sha256sum "$tmp/biguid/.jailbuild/manifest.json")
run "$JB" sync "$tmp/biguid" --config-dir "$tmp/config"
check "sync of a jail whose manifest has uid 4294967296" \
  '[ $rc -eq 2 ] && grep -q "^jailbuild: $tmp/biguid/.jailbuild/manifest.json: corrupt manifest: entry /.*: uid 4294967296 is out of range" <<<"$err" &&
   [ "$(sha256sum "$tmp/biguid/.jailbuild/manifest.json")" = "$before" ]'
# A decompression bomb: 4 GiB of zeros after the end of the archive, 200 KB of zstd frames.
head -c 1048576 /dev/zero | zstd -q -c >"$tmp/zeros.zst"
cp "$tmp/jail.tar.zst" "$tmp/bomb.tar.zst"
python3 -c 'import sys; z = open(sys.argv[1], "rb").read(); open(sys.argv[2], "ab").write(z * 4096)' "$tmp/zeros.zst" "$tmp/bomb.tar.zst"
limit=$(( $(zstd -dc "$tmp/jail.tar.zst" | wc -c) + 1048576 ))
run timeout 120 "$JB" unpack "$tmp/bomb.tar.zst" "$tmp/bomb" --state-dir "$tmp/state-bad" --config-dir "$tmp/state-bad.config" --max-bytes "$limit" -q
check "4 GiB of zeros after the end-of-archive marker stop at --max-bytes" \
  '[ $rc -eq 2 ] && grep -q "^jailbuild: $tmp/bomb.tar.zst: decompresses to more than $limit bytes" <<<"$err" && [ ! -e "$tmp/bomb" ]'
# A service's state 60,000 directories deep.
python3 - "$jail/tmp" <<'PY'
import os, sys
os.makedirs(sys.argv[1], exist_ok=True)
fd = os.open(sys.argv[1], os.O_RDONLY)
for _ in range(60000):
    os.mkdir("d", dir_fd=fd)
    fd, old = os.open("d", os.O_RDONLY, dir_fd=fd), fd
    os.close(old)
PY
run "$JB" pack "$jail" -o "$tmp/deep.tar.zst" -q
check "pack of a jail holding a 60,000-level tree in /tmp: no crash, left out with a warning" \
  '[ $rc -eq 0 ] && grep -q "^jailbuild: warning: /tmp/d/d/.*: left out: runtime state nested more than 256 levels deep" <<<"$err"'
run "$JB" pack "$jail" -o "$tmp/deep-state.tar.zst" --include-state -q
check "... and with --include-state a clear error" \
  '[ $rc -eq 2 ] && grep -q "^jailbuild: $jail/tmp/d/d/.*: holds directories nested more than 256 levels deep" <<<"$err" && [ ! -e "$tmp/deep-state.tar.zst" ]'

finish
