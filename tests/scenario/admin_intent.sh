#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The admin's intent against a fake host root (issue #12 items 3-5): a conffile deleted in the jail
# stays deleted through sync, sync --force and a create re-run (dpkg's removed conffile), while a
# missing library is still restored; a conflict stays visible (sync and audit, exit 1) until the
# admin removes or takes FILE.jailbuild-new, and --quiet never hides it.
set -u
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (create sets owners)"; exit 77; }
command -v gcc >/dev/null || { echo "SKIP: gcc is not installed"; exit 77; }

tmp=$(mktemp -d /tmp/jb-intent.XXXXXX)
trap 'rm -rf --one-file-system "$tmp"' EXIT
host=$tmp/host jail=$tmp/jail pdir=$tmp/profiles state=$tmp/state
triplet=$(gcc -print-multiarch)
. "$(dirname "$0")/lib/checks.sh"
. "$(dirname "$0")/lib/fakehost.sh"
jb_sync() { "$JB" sync "$jail" --state-dir "$state" --config-dir "$state.config" "$@"; }
jb_create() { "$JB" create "$jail" --with app --host-root "$host" --profiles-dir "$pdir" --state-dir "$state" --config-dir "$state.config" "$@"; }

# --- a fake host: the real libc and dynamic linker, a program and its configuration
fake_host "$host" "$triplet"
mkdir -p "$host"/etc/app/sites "$pdir"
echo 'int main(void) { return 0; }' > "$tmp/app.c"
gcc -o "$host/usr/bin/app" "$tmp/app.c"
echo "setting=1" > "$host/etc/app/app.conf"
echo "listen 80" > "$host/etc/app/sites/default"
echo "listen 8080" > "$host/etc/app/sites/blog"
cat > "$pdir/app.toml" <<'TOML'
description = "test application"
users = ["www-data"]
[[elf]]
paths = ["/usr/bin/app"]
[[files]]
path = "/etc/app"
recursive = true
TOML

jb_create -q || { flunk "create"; finish; }
sleep 2.1 # a record made within two seconds of the host's writes is racy (inputs.hpp): settle it
jb_sync -q

# --- deletions like dpkg: a conffile the admin deleted stays deleted, a library comes back
rm "$jail/etc/app/sites/default"
out=$(jb_sync 2>&1); rc=$?
check "a deleted conffile is reported as removed-local" 'grep -q "removed-local /etc/app/sites/default" <<<"$out" && [ $rc -eq 0 ]'
check "sync does not restore a deleted conffile" '[ ! -e "$jail/etc/app/sites/default" ]'
check "the manifest keeps it as kept_absent" 'grep -q "\"kept_absent\": *true" "$jail/.jailbuild/manifest.json"'
out=$(jb_sync 2>&1)
check "the next sync is quiet about it: nothing to do" '! grep -q "sites/default" <<<"$out"'
jb_sync --force -q
check "sync --force does not restore it either" '[ ! -e "$jail/etc/app/sites/default" ]'
jb_create -q
check "a create re-run does not restore it" '[ ! -e "$jail/etc/app/sites/default" ]'
echo "listen 81" > "$host/etc/app/sites/default"
out=$(jb_sync 2>&1)
check "changed on the host: still not restored, said once" '[ ! -e "$jail/etc/app/sites/default" ] && grep -q "removed-local /etc/app/sites/default" <<<"$out"'
out=$("$JB" audit "$jail" 2>&1); rc=$?
check "audit does not report the removed conffile as missing" '! grep -q "sites/default" <<<"$out"'
rm "$jail/usr/lib/$triplet/libc.so.6"
jb_sync -q
check "a library that went missing is restored" '[ -f "$jail/usr/lib/$triplet/libc.so.6" ]'
rm "$jail/etc/passwd"
jb_sync -q
check "the jail's own passwd (generated) is restored" '[ -f "$jail/etc/passwd" ]'
cp "$host/etc/app/sites/default" "$jail/etc/app/sites/default"
jb_sync -q
check "put back by the admin: tracked again" '! grep -q "\"kept_absent\"" "$jail/.jailbuild/manifest.json"'

# --- a conflict stays visible until the admin removes or takes FILE.jailbuild-new
conf=/etc/app/app.conf
echo "local=1" >> "$jail$conf"
echo "setting=2" > "$host$conf"
out=$(jb_sync 2>&1); rc=$?
check "edited on both sides: conflict, exit 1" 'grep -q "conflict $conf" <<<"$out" && [ $rc -eq 1 ] && [ -f "$jail$conf.jailbuild-new" ]'
out=$(jb_sync 2>&1); rc=$?
check "the next sync still reports the unresolved conflict, exit 1" 'grep -q "conflict $conf" <<<"$out" && ! grep -q "kept-local $conf" <<<"$out" && [ $rc -eq 1 ]'
out=$(jb_sync --quiet 2>&1 >/dev/null); rc=$?
check "--quiet does not hide it: on stderr, exit 1" 'grep -q "conflict $conf" <<<"$out" && [ $rc -eq 1 ]'
out=$("$JB" sync --all --quiet --state-dir "$state" --config-dir "$state.config" 2>&1 >/dev/null); rc=$?
check "sync --all --quiet (the apt hook) says it on stderr, exit 1" 'grep -q "conflict $conf" <<<"$out" && [ $rc -eq 1 ]'
out=$("$JB" audit "$jail" 2>&1); rc=$?
check "audit reports it as conffile-conflict, exit 1" 'grep -q "conffile-conflict" <<<"$out" && grep -q "$conf.jailbuild-new" <<<"$out" && [ $rc -eq 1 ]'
check "audit does not call it an unexpected file" '! grep "integrity-unexpected" <<<"$out" | grep -q jailbuild-new'
out=$(jb_sync --quiet 2>&1); rc=$?
mv "$jail$conf.jailbuild-new" "$jail$conf"
out=$(jb_sync 2>&1); rc=$?
check "taken (mv over FILE): resolved, exit 0" '! grep -q "^! conflict" <<<"$out" && [ $rc -eq 0 ] || { echo "$out"; false; }'
out=$("$JB" audit "$jail" 2>&1)
check "audit: resolved" '! grep -q "conffile-conflict" <<<"$out"'
echo "local=2" >> "$jail$conf"; echo "setting=3" > "$host$conf"
jb_sync -q 2>/dev/null
rm "$jail$conf.jailbuild-new"
out=$(jb_sync 2>&1); rc=$?
check "removed by the admin: resolved, the jail's edit kept, exit 0" '! grep -q "^! conflict" <<<"$out" && grep -q "local=2" "$jail$conf" && [ $rc -eq 0 ] || { echo "$out"; false; }'
echo "local=3" >> "$jail$conf"; echo "setting=4" > "$host$conf"
jb_sync -q 2>/dev/null
cp "$jail$conf.jailbuild-new" "$jail$conf"
out=$(jb_sync 2>&1); rc=$?
check "taken by a copy: resolved, the stale FILE.jailbuild-new removed" '[ $rc -eq 0 ] && ! grep -q "^! conflict" <<<"$out" && [ ! -e "$jail$conf.jailbuild-new" ] || { echo "$out"; false; }'
out=$(jb_sync --quiet 2>&1); rc=$?
check "--quiet: nothing to say, nothing printed" '[ -z "$out" ] && [ $rc -eq 0 ]'

# --- --exclude: never installed; refused where it would break the jail; removed by a re-run
jail2=$tmp/jail2
jb_create2() { "$JB" create "$jail2" --with app --host-root "$host" --profiles-dir "$pdir" --state-dir "$state" --config-dir "$state.config" "$@"; }
out=$(jb_create2 -q --exclude /etc/app/sites/default --exclude '/etc/app/*.conf' 2>&1); rc=$?
check "create --exclude: accepted" '[ $rc -eq 0 ]'
check "an excluded path is never installed" '[ ! -e "$jail2/etc/app/sites/default" ] && [ ! -e "$jail2/etc/app/app.conf" ] && [ -f "$jail2/etc/app/sites/blog" ]'
check "the manifest keeps the excludes" 'grep -q "\"excludes\"" "$jail2/.jailbuild/manifest.json"'
echo "listen 82" > "$host/etc/app/sites/default"; touch "$host/etc/app/new.conf"
"$JB" sync "$jail2" --state-dir "$state" --config-dir "$state.config" -q
check "sync after host changes: still never installed (globs too)" '[ ! -e "$jail2/etc/app/sites/default" ] && [ ! -e "$jail2/etc/app/new.conf" ]'
rm -f "$host/etc/app/new.conf"
out=$(jb_create2 -q --exclude "/usr/lib/$triplet/libc.so.6" 2>&1); rc=$?
check "excluding a library the program needs is refused, with the reason" '[ $rc -eq 2 ] && grep -q "library" <<<"$out" && [ -f "$jail2/usr/lib/$triplet/libc.so.6" ]'
out=$(jb_create2 -q --exclude /etc/passwd 2>&1); rc=$?
check "excluding the jail's accounts is refused" '[ $rc -eq 2 ] && grep -q "accounts" <<<"$out"'
out=$(jb_create2 -q --exclude ../etc 2>&1); rc=$?
check "a relative or unclean exclude is refused" '[ $rc -eq 2 ]'
jb_create2 -q
check "a re-run without the excludes installs them" '[ -f "$jail2/etc/app/sites/blog" ] && [ -f "$jail2/etc/app/app.conf" ]'
echo "mine" >> "$jail2/etc/app/sites/blog"
out=$(jb_create2 --exclude /etc/app/sites 2>&1); rc=$?
check "a directory excluded later: its untouched files go" '[ ! -e "$jail2/etc/app/sites/default" ]'
check "a file the admin changed there is left, and reported" '[ -f "$jail2/etc/app/sites/blog" ] && grep -q "/etc/app/sites/blog" <<<"$out"'
out=$(jb_create2 --exclude /etc/app/nothing-here 2>&1); rc=$?
check "an exclude matching nothing is a warning" 'grep -q "matches nothing" <<<"$out" || { echo "$out"; false; }'

# --- the admin's own files: --file SRC:DEST[:secret]
jail3=$tmp/jail3 own=$host/srv/own # SRC is read below the host root, as every host path of a plan
mkdir -p -m 0700 "$own"
echo "server { listen 8443; }" > "$own/blog.conf"
printf -- '-----BEGIN PRIVATE KEY-----\nMIIfake\n-----END PRIVATE KEY-----\n' > "$own/blog.key"; chmod 0640 "$own/blog.key"
echo "not a key, but the admin says secret" > "$own/token"
jb_create3() { "$JB" create "$jail3" --with app --host-root "$host" --profiles-dir "$pdir" --state-dir "$state" --config-dir "$state.config" "$@"; }
out=$(jb_create3 -q --file "/srv/own/blog.conf:/etc/app/sites/blog.conf" --file "/srv/own/blog.key:/etc/app/ssl/blog.key" \
  --file "/srv/own/token:/etc/app/token:secret" 2>&1); rc=$?
check "create --file: accepted, audit passes (the files are known)" '[ $rc -eq 0 ] || { echo "$out"; false; }'
check "an own file is copied" 'cmp -s "$own/blog.conf" "$jail3/etc/app/sites/blog.conf"'
check "a PEM private key is a secret: root only, 0600" '[ "$(stat -c %a:%u "$jail3/etc/app/ssl/blog.key")" = 600:0 ]'
check "a file declared secret: 0600" '[ "$(stat -c %a "$jail3/etc/app/token")" = 600 ]'
check "the manifest marks the secrets" '[ "$(grep -o "\"secret\": *true" "$jail3/.jailbuild/manifest.json" | wc -l)" -ge 2 ]'
out=$("$JB" audit "$jail3" 2>&1)
check "audit: no integrity-unexpected for own files" '! grep -q "integrity-unexpected.*/etc/app/\(sites/blog.conf\|ssl\|token\)" <<<"$out"'
sleep 2.1
echo "server { listen 9443; }" > "$own/blog.conf"
"$JB" sync "$jail3" --state-dir "$state" --config-dir "$state.config" -q
check "sync follows the host copy" 'cmp -s "$own/blog.conf" "$jail3/etc/app/sites/blog.conf"'
echo "# mine" >> "$jail3/etc/app/sites/blog.conf"
out=$("$JB" sync "$jail3" --state-dir "$state" --config-dir "$state.config" 2>&1)
check "an edit in the jail is kept as for any conffile" 'grep -q "kept-local /etc/app/sites/blog.conf" <<<"$out" && grep -q "# mine" "$jail3/etc/app/sites/blog.conf"'
mkfifo "$own/fifo"
out=$(timeout 10 "$JB" create "$tmp/jail4" --with app --host-root "$host" --profiles-dir "$pdir" --state-dir "$state" --config-dir "$state.config" -q --file "/srv/own/fifo:/etc/app/fifo" 2>&1); rc=$?
check "a FIFO as SRC is refused, never opened" '[ $rc -eq 2 ] && grep -q "not a regular file" <<<"$out"'
out=$(jb_create3 -q --file "/srv/own/blog.conf:/.jailbuild/manifest.json" 2>&1); rc=$?
check "a DEST in /.jailbuild is refused" '[ $rc -eq 2 ] && grep -q ".jailbuild" <<<"$out"'
out=$(jb_create3 -q --file "/srv/own/blog.conf:/etc/../x" 2>&1); rc=$?
check "a DEST with .. is refused" '[ $rc -eq 2 ]'

# --- secrets in archives: pack leaves them out and says so; unpack warns; audit explains
if command -v zstd >/dev/null; then
  real=$tmp/real unpacked=$tmp/unpacked
  "$JB" create "$real" --with sh --state-dir "$state" --config-dir "$state.config" -q --file "$own/blog.key:/etc/ssl/private/blog.key" \
    --file "$own/token:/etc/token:secret" --file "$own/blog.conf:/etc/blog.conf" || flunk "create a jail of this host"
  out=$("$JB" pack "$real" -o "$tmp/real.tar.zst" -q 2>&1 >/dev/null); rc=$?
  check "pack leaves the secrets out and lists them" '[ $rc -eq 0 ] && grep -q "/etc/ssl/private/blog.key: left out: secret (marked secret)" <<<"$out" && grep -q "/etc/token: left out: secret (marked secret)" <<<"$out"'
  check "the archive holds no private key and no declared secret" '! zstd -dc "$tmp/real.tar.zst" | grep -aq "MIIfake\|the admin says secret"'
  check "the archive holds the other own files" 'zstd -dc "$tmp/real.tar.zst" | tar -t | grep -q "^etc/blog.conf$"'
  "$JB" pack "$real" -o "$tmp/real-all.tar.zst" -q --include-secrets >/dev/null 2>&1
  check "pack --include-secrets packs them" 'zstd -dc "$tmp/real-all.tar.zst" | grep -aq MIIfake'
  out=$("$JB" unpack "$tmp/real.tar.zst" "$unpacked" --state-dir "$state" --config-dir "$state.config" -q 2>&1); rc=$?
  check "unpack accepts it and warns that the jail needs its secrets" '[ $rc -eq 0 ] && grep -q "left out 2 secret" <<<"$out" || { echo "$out"; false; }'
  out=$("$JB" audit "$unpacked" 2>&1)
  check "audit explains the missing secret" 'grep -q "integrity-missing.*/etc/ssl/private/blog.key" <<<"$out" && grep -q "include-secrets" <<<"$out"'
else
  skip 7 "zstd is not installed (needed to read the archive)"
fi

finish
