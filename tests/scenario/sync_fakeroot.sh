#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# sync against a fake host root built here from tiny C sources: soname bump, a new DT_NEEDED, a
# disabled extension, every conffile case, a planted symlink, kill -9 in the middle, the lock; and
# what create shares with it: a killed create or sync and the temporary files it leaves, a re-run of
# create with less asked for, the per-jail lock of create, mount, umount and pack, a dry run of a
# read-only jail, and the test seam that only the tests' build has.
set -u
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (create sets owners; chroot runs the jailed program)"; exit 77; }
command -v gcc >/dev/null || { echo "SKIP: gcc is not installed"; exit 77; }

tmp=$(mktemp -d /tmp/jb-sync.XXXXXX)
ro_mount=""
cleanup() {
  [ -n "$ro_mount" ] && umount -l "$ro_mount" 2>/dev/null
  rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
host=$tmp/host jail=$tmp/jail pdir=$tmp/profiles state=$tmp/state src=$tmp/src
triplet=$(gcc -print-multiarch)
. "$(dirname "$0")/lib/checks.sh"
. "$(dirname "$0")/lib/fakehost.sh"
jb_sync() { "$JB" sync "$jail" --state-dir "$state" --config-dir "$state.config" "$@"; }

# --- a fake host: merged /usr, the real libc and dynamic linker, an app with a library and a plugin
fake_host "$host" "$triplet"
mkdir -p "$host"/etc/app "$host"/opt/app/{bin,lib,plugins} "$src" "$pdir"
echo "setting=1" > "$host/etc/app/app.conf"
echo "other=1" > "$host/etc/app/other.conf"

cat > "$src/foo.c" <<'C'
#include <stdio.h>
#ifdef WITH_BAR
int bar(void);
#endif
const char* foo(void) {
#ifdef WITH_BAR
  return bar() ? VERSION "+bar" : VERSION;
#else
  return VERSION;
#endif
}
C
echo 'int bar(void) { return 1; }' > "$src/bar.c"
echo 'int priv(void) { return 7; }' > "$src/priv.c"
echo 'int priv(void); int ext(void) { return priv(); }' > "$src/ext.c"
cat > "$src/app.c" <<'C'
#include <stdio.h>
const char* foo(void);
int main(void) { printf("foo %s\n", foo()); return 0; }
C
lib=$host/opt/app/lib
build_foo() { # build_foo VERSION [extra flags...]
  local v=$1; shift
  gcc -shared -fPIC -o "$lib/libfoo.so.$v" -Wl,-soname,libfoo.so.1 -DVERSION="\"$v\"" "$src/foo.c" "$@"
}
build_foo 1.0.0
ln -s libfoo.so.1.0.0 "$lib/libfoo.so.1"
gcc -shared -fPIC -o "$lib/libpriv.so.1" -Wl,-soname,libpriv.so.1 "$src/priv.c"
gcc -shared -fPIC -o "$host/opt/app/plugins/ext.so" "$src/ext.c" -L"$lib" -l:libpriv.so.1 -Wl,--enable-new-dtags,-rpath,/opt/app/lib
gcc -o "$host/opt/app/bin/app" "$src/app.c" -L"$lib" -l:libfoo.so.1 -Wl,--enable-new-dtags,-rpath,/opt/app/lib

cat > "$pdir/app.toml" <<'TOML'
description = "test application"
users = ["www-data"]
[[elf]]
paths = ["/opt/app/bin/app"]
[[elf]]
paths = ["/opt/app/plugins/*.so"]
optional = true
[[files]]
path = "/etc/app"
recursive = true
[[dirs]]
path = "/var/lib/app"
owner = "www-data"
group = "www-data"
mode = "0750"
[[dirs]]
path = "/var/lib/app/cache"
[[generate]]
path = "/var/lib/app/cache/README"
content = "planned\n"
TOML

"$JB" create "$jail" --with app --host-root "$host" --profiles-dir "$pdir" --state-dir "$state" --config-dir "$state.config" -q ||
  { flunk "create"; finish; }
check "the jailed app runs" '[ "$(chroot "$jail" /opt/app/bin/app)" = "foo 1.0.0" ]'
# The fake host was written a moment ago: a record of it made within two seconds of those writes is
# racy (file times are coarse, see inputs.hpp), so the first syncs may plan again and rewrite it.
sleep 2.1
check "no-op sync changes nothing" 'jb_sync --json | python3 -c "import json,sys; sys.exit(len(json.load(sys.stdin)[0][\"changes\"]))"'
check "no-op sync leaves the manifest alone" '! jb_sync --json | grep -q "\"manifest_written\": true"'
check "no-op sync does not plan again: nothing it was made from changed" 'jb_sync --json | grep -q "\"planned\": false"'
touch "$host/etc/app/app.conf"
check "a host file it read was touched: sync plans again, and finds nothing to change" \
  'jb_sync --json | python3 -c "import json,sys; r=json.load(sys.stdin)[0]; sys.exit(not (r[\"planned\"] and not r[\"changes\"]))"'
# An edit in place that keeps the size and sets the mtime back: only the ctime tells.
stamp=$(stat -c %y "$host/etc/app/app.conf")
echo "setting=9" > "$host/etc/app/app.conf"
touch -d "$stamp" "$host/etc/app/app.conf"
jb_sync -q
check "an edit in place with the same size and mtime still reaches the jail" '[ "$(cat "$jail/etc/app/app.conf")" = "setting=9" ]'

# --- soname bump: 1.0.0 -> 1.0.1, the link repointed, the old target gone
build_foo 1.0.1
ln -sfn libfoo.so.1.0.1 "$lib/libfoo.so.1"
rm "$lib/libfoo.so.1.0.0"
jb_sync --dry-run > "$tmp/dry.txt"
check "dry-run lists the bump" 'grep -q "libfoo.so.1.0.1" "$tmp/dry.txt" && grep -q "removed /opt/app/lib/libfoo.so.1.0.0" "$tmp/dry.txt"'
check "dry-run writes nothing" '[ ! -e "$jail/opt/app/lib/libfoo.so.1.0.1" ]'
jb_sync -q
check "soname bump: new target copied" '[ -f "$jail/opt/app/lib/libfoo.so.1.0.1" ]'
check "soname bump: link repointed" '[ "$(readlink "$jail/opt/app/lib/libfoo.so.1")" = libfoo.so.1.0.1 ]'
check "soname bump: old target removed" '[ ! -e "$jail/opt/app/lib/libfoo.so.1.0.0" ]'
check "nothing dangles" '[ -z "$(find "$jail" -xtype l)" ]'
check "the jailed app runs the new library" '[ "$(chroot "$jail" /opt/app/bin/app)" = "foo 1.0.1" ]'

# --- a library that gains a DT_NEEDED
gcc -shared -fPIC -o "$lib/libbar.so.1" -Wl,-soname,libbar.so.1 "$src/bar.c"
build_foo 1.0.1 -DWITH_BAR -L"$lib" -l:libbar.so.1 -Wl,--enable-new-dtags,-rpath,/opt/app/lib
jb_sync -q
check "new DT_NEEDED: libbar copied" '[ -f "$jail/opt/app/lib/libbar.so.1" ]'
check "the jailed app uses it" '[ "$(chroot "$jail" /opt/app/bin/app)" = "foo 1.0.1+bar" ]'

# --- a disabled extension: it and its private library go
rm "$host/opt/app/plugins/ext.so"
jb_sync -q
check "disabled extension removed" '[ ! -e "$jail/opt/app/plugins/ext.so" ]'
check "its private library removed" '[ ! -e "$jail/opt/app/lib/libpriv.so.1" ]'

# --- conffiles
echo "local=1" >> "$jail/etc/app/app.conf"
jb_sync > "$tmp/out.txt"
check "edited in the jail only: kept" 'grep -q "local=1" "$jail/etc/app/app.conf" && grep -q "kept-local /etc/app/app.conf" "$tmp/out.txt"'
echo "setting=2" > "$host/etc/app/app.conf"
jb_sync > "$tmp/out.txt"; rc=$?
check "edited on both sides: the jail's stays" 'grep -q "local=1" "$jail/etc/app/app.conf"'
check "edited on both sides: the host's beside it" '[ "$(cat "$jail/etc/app/app.conf.jailbuild-new")" = "setting=2" ]'
check "edited on both sides: conflict reported, exit 1" 'grep -q "conflict /etc/app/app.conf" "$tmp/out.txt" && [ $rc -eq 1 ]'
# The conflict stays reported until the admin resolves it (admin_intent.sh): keep the jail's version.
rm "$jail/etc/app/app.conf.jailbuild-new"
echo "other=2" > "$host/etc/app/other.conf"
jb_sync -q
check "edited on the host only: updated" '[ "$(cat "$jail/etc/app/other.conf")" = "other=2" ]'

# --- a tampered library is reported, replaced only with --force
echo junk >> "$jail/opt/app/lib/libbar.so.1"
jb_sync > "$tmp/out.txt"; rc=$?
check "tampered library reported" 'grep -q "tampered /opt/app/lib/libbar.so.1" "$tmp/out.txt" && [ $rc -eq 1 ]'
check "tampered library left without --force" 'tail -c 5 "$jail/opt/app/lib/libbar.so.1" | grep -q junk'
jb_sync --force -q
check "--force restores it" 'cmp -s "$jail/opt/app/lib/libbar.so.1" "$lib/libbar.so.1"'

# --- a symlink planted in a service-writable directory is never followed
mkdir "$tmp/outside"
rm -rf "$jail/var/lib/app/cache"
ln -s "$tmp/outside" "$jail/var/lib/app/cache"
jb_sync > "$tmp/out.txt"; rc=$?
check "planted symlink reported" 'grep -q "tampered /var/lib/app/cache" "$tmp/out.txt" && [ $rc -eq 1 ]'
check "nothing written through it" '[ -z "$(ls -A "$tmp/outside")" ]'
rm "$jail/var/lib/app/cache"
jb_sync -q
check "after removing it, sync restores the directory" '[ -d "$jail/var/lib/app/cache" ] && [ -f "$jail/var/lib/app/cache/README" ]'

# --- kill -9 in the middle, then a rerun converges (the seam is in the tests' build only, JB_SEAMS)
build_foo 1.0.2
ln -sfn libfoo.so.1.0.2 "$lib/libfoo.so.1"
rm "$lib/libfoo.so.1.0.1"
for n in 1 2; do
  cp -a "$jail" "$tmp/jail-copy"
  "$JB_SEAMS" sync "$jail" --state-dir "$state" --config-dir "$state.config" -q --test-kill-after "$n"; rc=$?
  check "killed after $n actions (SIGKILL)" '[ $rc -eq 137 ]'
  check "the jail still works after the kill" 'chroot "$jail" /opt/app/bin/app | grep -q "^foo 1.0."'
  rm -rf "$jail"; mv "$tmp/jail-copy" "$jail"
done
"$JB_SEAMS" sync "$jail" --state-dir "$state" --config-dir "$state.config" -q --test-kill-after 2
jb_sync -q
check "rerun converged: the app has 1.0.2" '[ "$(chroot "$jail" /opt/app/bin/app)" = "foo 1.0.2" ]'
check "rerun converged: libbar, no longer needed, is gone" '[ ! -e "$jail/opt/app/lib/libbar.so.1" ]'
check "rerun converged: the next sync has nothing to do (the kept local edit aside)" 'jb_sync --json | python3 -c "import json,sys; sys.exit(len([c for c in json.load(sys.stdin)[0][\"changes\"] if c[\"kind\"] != \"kept-local\"]))"'
check "nothing dangles after the kill" '[ -z "$(find "$jail" -xtype l)" ]'

# --- the lock, and a directory that is not a jail
flock "$jail/.jailbuild/lock" sleep 3 &
sleep 0.3
timeout 1 "$JB" sync "$jail" --state-dir "$state" --config-dir "$state.config" -q; rc=$?
check "a second sync waits for the lock" '[ $rc -eq 124 ]'
wait
mkdir "$tmp/notajail"
out=$("$JB" sync "$tmp/notajail" --config-dir "$tmp/config" 2>&1); rc=$?
check "a directory without a manifest is refused" '[ $rc -eq 2 ] && grep -q "not a jailbuild jail" <<<"$out"'
check "sync --all finds the registered jail" '"$JB" sync --all --state-dir "$state" --config-dir "$state.config" | grep -q "sync $jail:"'
echo "$tmp/deleted-jail" >> "$state/jails"
out=$("$JB" sync --all --state-dir "$state" --config-dir "$state.config" -q 2>&1); rc=$?
check "sync --all drops a deleted jail from the registry, with a warning" '[ $rc -eq 0 ] && grep -q "no longer exists" <<<"$out" && ! grep -q deleted-jail "$state/jails"'
# --- the kill seam is the tests' build's alone: the shipped jailbuild refuses it
out=$("$JB" sync "$jail" --state-dir "$state" --config-dir "$state.config" -q --test-kill-after 1 2>&1); rc=$?
check "the shipped binary has no --test-kill-after" '[ $rc -eq 2 ] && grep -q "test-kill-after" <<<"$out"'
check "nor the code that raises SIGKILL" '! grep -q -a -- "--test-kill-after" "$JB"'

# --- one lock per jail for create, sync, mount, umount and pack: a run waits for the one holding it
flock "$jail/.jailbuild/lock" sleep 4 &
holder=$!
sleep 0.3
cp "$jail/.jailbuild/manifest.json" "$tmp/manifest.before"
for cmd in "create $jail --with app --host-root $host --profiles-dir $pdir --state-dir $state --config-dir $state.config -q" \
  "mount $jail -q" "umount $jail -q"; do
  timeout 1 "$JB" $cmd >/dev/null 2>&1; rc=$?
  check "${cmd%% *} waits while another jailbuild holds the jail's lock" '[ $rc -eq 124 ]'
done
check "the waiting create changed nothing" 'cmp -s "$jail/.jailbuild/manifest.json" "$tmp/manifest.before"'
wait "$holder"
check "with the lock free, create goes on" '"$JB" create "$jail" --with app --host-root "$host" --profiles-dir "$pdir" --state-dir "$state" --config-dir "$state.config" -q'

# --- a dry run writes nothing: not even the lock, so a read-only jail can be looked at
ro_dry_run() { # ro_dry_run WHAT: sync --dry-run with the jail mounted read-only
  mount --bind "$jail" "$jail" && ro_mount=$jail && mount -o remount,bind,ro "$jail"
  out=$("$JB" sync "$jail" --state-dir "$state" --config-dir "$state.config" --dry-run 2>&1); rc=$?
  umount "$jail" && ro_mount=""
  check "sync --dry-run of a read-only jail works ($1)" '[ $rc -eq 0 ] && grep -q "sync $jail:" <<<"$out"' || echo "$out"
}
ro_dry_run "with a lock file"
rm -f "$jail/.jailbuild/lock"
ro_dry_run "without one"
check "and made no lock file" '[ ! -e "$jail/.jailbuild/lock" ]'
"$JB" sync "$jail" --state-dir "$state" --config-dir "$state.config" -q
flock "$jail/.jailbuild/lock" sleep 3 &
holder=$!
sleep 0.3
timeout 1 "$JB" sync "$jail" --state-dir "$state" --config-dir "$state.config" --dry-run -q; rc=$?
check "a dry run waits for a sync holding the lock" '[ $rc -eq 124 ]'
wait "$holder"

# --- create is a sync against the previous manifest: asked for less, it removes the rest
mkdir -p "$host/aaa" "$host/usr/share/bulk"
head -c 64M /dev/zero | tr '\0' 'x' > "$host/aaa/blob.bin" # large: a copy is in flight when killed
echo "bulk data" > "$host/usr/share/bulk/readme"
cat > "$pdir/bulk.toml" <<'TOML'
description = "test: a large file, and one in a system directory"
[[files]]
path = "/aaa/blob.bin"
[[files]]
path = "/usr/share/bulk/readme"
TOML
jail2=$tmp/jail2
jb_create2() { "$JB" create "$jail2" --host-root "$host" --profiles-dir "$pdir" --state-dir "$state" --config-dir "$state.config" -q "$@"; }
jb_create2 --with app,bulk
check "create with bulk has its files" '[ -f "$jail2/aaa/blob.bin" ] && [ -f "$jail2/usr/share/bulk/readme" ]'
jb_create2 --with app --json > "$tmp/create.json"; rc=$?
check "create again without bulk: exit 0" '[ $rc -eq 0 ]'
check "create again without bulk: its files are removed" '[ ! -e "$jail2/aaa/blob.bin" ] && [ ! -e "$jail2/usr/share/bulk/readme" ]'
check "create again without bulk: and its directories" '[ ! -e "$jail2/aaa" ] && [ ! -e "$jail2/usr/share/bulk" ]'
check "create again without bulk: says how many it removed" 'python3 -c "import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))[\"removed\"] >= 4 else 1)" "$tmp/create.json"'
check "create again without bulk: the audit finds nothing left behind" '"$JB" audit "$jail2" --no-hardening --fail-on low >/dev/null'
# pack only reads, but not while a create or sync changes the jail (it shares the lock).
flock "$jail2/.jailbuild/lock" sleep 3 &
holder=$!
sleep 0.3
timeout 1 "$JB" pack "$jail2" -o "$tmp/locked.tar" -q >/dev/null 2>&1; rc=$?
check "pack waits while another jailbuild holds the jail's lock" '[ $rc -eq 124 ] && [ ! -e "$tmp/locked.tar" ]'
wait "$holder"
check "with the lock free, pack goes on" '"$JB" pack "$jail2" -o "$tmp/locked.tar" -q >/dev/null'

# --- a killed create or sync leaves temporary files; the next run removes them, audit says what they are
leftovers() { find "$1" -name '.*.jbtmp.*' -type f; }
# Directories first, then contents on two threads, /aaa/blob.bin first: kill when two other files are in.
dirs=$("$JB" create "$tmp/dry" --with app,bulk --host-root "$host" --profiles-dir "$pdir" --dry-run --json |
  python3 -c "import json,sys; print(sum(1 for e in json.load(sys.stdin)['entries'] if e['kind'] == 'directory' and e['path'] != '/'))")
rm -rf "$jail2"
"$JB_SEAMS" create "$jail2" --with app,bulk --host-root "$host" --profiles-dir "$pdir" --state-dir "$state" --config-dir "$state.config" -q \
  --test-kill-after $((dirs + 2)); rc=$?
check "create killed part-way (SIGKILL)" '[ $rc -eq 137 ]'
check "the killed create left a temporary file (the copy in flight)" '[ -n "$(leftovers "$jail2")" ]'
jb_create2 --with app,bulk
check "the next create removed it" '[ -z "$(leftovers "$jail2")" ]'
check "and the jail audits clean" '"$JB" audit "$jail2" --no-hardening --fail-on low >/dev/null'
head -c 64M /dev/zero | tr '\0' 'y' > "$host/aaa/blob.bin"
echo "bulk data 2" > "$host/usr/share/bulk/readme"
"$JB_SEAMS" sync "$jail2" --state-dir "$state" --config-dir "$state.config" -q --test-kill-after 1; rc=$?
check "sync killed part-way (SIGKILL)" '[ $rc -eq 137 ]'
check "the killed sync left a temporary file" '[ -n "$(leftovers "$jail2")" ]'
"$JB" audit "$jail2" --no-hardening --json > "$tmp/audit.json"; rc=$?
check "audit names the leftover for what it is (low), not tampering (high)" 'python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
left = [f for f in d[\"findings\"] if \".jbtmp.\" in f[\"path\"]]
assert left and all(f[\"severity\"] == \"low\" and \"interrupted jailbuild run\" in f[\"message\"] for f in left), left
assert not [f for f in d[\"findings\"] if f[\"severity\"] in (\"high\", \"critical\")], d[\"findings\"]
" "$tmp/audit.json"'
jb_sync2() { "$JB" sync "$jail2" --state-dir "$state" --config-dir "$state.config" "$@"; }
check "sync --dry-run lists the leftover as to be removed" 'jb_sync2 --dry-run | grep -q "removed /aaa/.blob.bin.jbtmp.[0-9a-f]*: left by an interrupted jailbuild run"'
jb_sync2 -q
check "the next sync removed it" '[ -z "$(leftovers "$jail2")" ]'
check "and converged" 'cmp -s "$jail2/aaa/blob.bin" "$host/aaa/blob.bin" && grep -q "data 2" "$jail2/usr/share/bulk/readme"'
check "and the jail audits clean" '"$JB" audit "$jail2" --no-hardening --fail-on low >/dev/null'
# Only jailbuild's own: a file of that name that root does not own, or that is not a regular file, stays.
chown 33:33 "$jail2/var/lib/app" # as a service could make such names in a directory it owns
touch "$jail2/var/lib/app/.x.jbtmp.0123456789abcdef" && chown 33:33 "$jail2/var/lib/app/.x.jbtmp.0123456789abcdef"
mkfifo "$jail2/aaa/.y.jbtmp.0123456789abcdef"
touch "$jail2/aaa/.z.jbtmp.0123456789abcdeg" # not the pattern: g is no hex digit
jb_sync2 -q
check "a service's file under such a name stays" '[ -e "$jail2/var/lib/app/.x.jbtmp.0123456789abcdef" ]'
check "a FIFO under such a name stays" '[ -p "$jail2/aaa/.y.jbtmp.0123456789abcdef" ]'
check "a name that does not match exactly stays" '[ -e "$jail2/aaa/.z.jbtmp.0123456789abcdeg" ]'
rm -f "$jail2/var/lib/app/.x.jbtmp.0123456789abcdef" "$jail2/aaa/.y.jbtmp.0123456789abcdef" "$jail2/aaa/.z.jbtmp.0123456789abcdeg"

# --- a create whose audit fails leaves the jail for the user to see, but not registered for the apt hook
cat > "$pdir/loose.toml" <<'TOML'
description = "test: a directory anyone can write, without the sticky bit (audit: high)"
[[dirs]]
path = "/var/lib/loose"
mode = "0777"
TOML
out=$("$JB" create "$tmp/jail3" --with app,loose --host-root "$host" --profiles-dir "$pdir" --state-dir "$state" --config-dir "$state.config" -q 2>&1); rc=$?
check "a create whose audit fails: exit 1, jail left in place" '[ $rc -eq 1 ] && [ -d "$tmp/jail3/var/lib/loose" ]'
check "a create whose audit fails: not registered" '! grep -qx "$tmp/jail3" "$state/jails"'
"$JB" create "$tmp/jail3" --with app --host-root "$host" --profiles-dir "$pdir" --state-dir "$state" --config-dir "$state.config" -q
check "fixed, it is registered" 'grep -qx "$tmp/jail3" "$state/jails"'
"$JB" create "$tmp/jail3" --with app,loose --host-root "$host" --profiles-dir "$pdir" --state-dir "$state" --config-dir "$state.config" -q 2>/dev/null
check "a re-run whose audit fails unregisters it" '! grep -qx "$tmp/jail3" "$state/jails"'

# --- relative paths on the command line mean the current directory, recorded as absolute paths
(cd "$tmp" && "$JB" create ./rel-jail --with app --host-root ./host --profiles-dir profiles/ --state-dir ./state --config-dir ./state.config -q)
check "create with relative paths records absolute ones" 'python3 -c "
import json, sys
spec = json.load(open(sys.argv[1]))[\"spec\"]
assert spec[\"host_root\"] == sys.argv[2], spec
assert sys.argv[3] in spec[\"profile_dirs\"], spec
" "$tmp/rel-jail/.jailbuild/manifest.json" "$host" "$pdir" && grep -qx "$tmp/rel-jail" "$state/jails"'
check "sync of a jail made with relative paths works from another directory" '(cd / && "$JB" sync "$tmp/rel-jail" --state-dir "$state" --config-dir "$state.config" -q)'
check "sync takes a relative jail path" '(cd "$tmp" && "$JB" sync ./rel-jail --state-dir ./state --config-dir ./state.config --json | grep -q "\"dir\": \"$tmp/rel-jail\"")'
[ -n "${KEEP:-}" ] && { trap - EXIT; echo "kept $tmp"; }
finish
