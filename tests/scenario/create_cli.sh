#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `jailbuild create` from the command line: the dry run, errors found before anything is written,
# and (as root) what a real jail holds: no setuid bit, no inode shared with the host, exact devices,
# an idempotent re-run, and a failed create that leaves nothing behind.
set -u
: "${JB:?JB must name the jailbuild binary}"

tmp=$(mktemp -d /tmp/jb-create-cli.XXXXXX)
chmod 755 "$tmp"
# A jail path that does not exist, in a directory only root writes, passes the location check even
# without root (a dry run writes nothing). Directly under /tmp it no longer does: anyone could take
# the name while the jail is not there.
dry=$tmp/dry
for d in /srv /opt /mnt /home; do
  if [ -d "$d" ] && [ ! -L "$d" ] && [ "$(stat -c %u "$d")" = 0 ] && [ -z "$(find "$d" -maxdepth 0 -perm /022)" ]; then
    dry=$d/jb-create-dry.$$.$RANDOM
    break
  fi
done
cleanup() { rm -rf --one-file-system "$tmp" "$dry"; }
trap cleanup EXIT
. "$(dirname "$0")/lib/checks.sh"

# run NAME CMD...: runs CMD, keeping its exit status, stdout and stderr in $rc, $out, $err.
run() {
  "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  out=$(cat "$tmp/out")
  err=$(cat "$tmp/err")
}

# A small profile: the base skeleton and passwd, which is setuid root on the host.
mkdir -p "$tmp/profiles"
cat >"$tmp/profiles/suidtest.toml" <<'EOF'
description = "test: the skeleton and /usr/bin/passwd, setuid on the host"
include = ["base"]

[[elf]]
paths = ["/usr/bin/passwd"]
EOF
have_passwd=0
[ -u /usr/bin/passwd ] && have_passwd=1

# --- the dry run ---------------------------------------------------------------------------
if [ $have_passwd = 1 ]; then
  run "$JB" create "$dry" --with suidtest --profiles-dir "$tmp/profiles" --dry-run --state-dir "$tmp/state" --config-dir "$tmp/state.config"
  check "dry run succeeds" '[ $rc -eq 0 ]'
  check "dry run prints the plan" 'grep -q "^device 0666 0:0 /dev/null char 1,3$" <<<"$out" && grep -q "^file .* /usr/bin/passwd <- /usr/bin/passwd sha256:[0-9a-f]\{64\}$" <<<"$out"'
  check "dry run plans passwd without its setuid bit" 'grep -q "^file 0755 0:0 /usr/bin/passwd " <<<"$out"'
  check "dry run writes nothing" '[ ! -e "$dry" ] && [ ! -e "$tmp/state" ]'

  run "$JB" create "$dry" --with suidtest --profiles-dir "$tmp/profiles" --dry-run --json --state-dir "$tmp/state" --config-dir "$tmp/state.config"
  check "dry run --json succeeds" '[ $rc -eq 0 ]'
  check "dry run --json is JSON with entries" 'python3 -c "
import json, sys
d = json.loads(sys.argv[1])
kinds = {e[\"kind\"] for e in d[\"entries\"]}
assert {\"directory\", \"file\", \"symlink\", \"device\", \"generated\"} <= kinds, kinds
assert all(e[\"path\"].startswith(\"/\") for e in d[\"entries\"])
" "$out"'
  check "dry run --json writes nothing" '[ ! -e "$dry" ]'
else
  skip 7 "the dry-run checks: /usr/bin/passwd is missing or not setuid here"
fi

# --- errors found before anything is written ----------------------------------------------
run "$JB" create "$dry" --with nginx,foo --dry-run --state-dir "$tmp/state" --config-dir "$tmp/state.config"
check "unknown --with: exit 2" '[ $rc -eq 2 ]'
check "unknown --with: names it and lists the profiles" 'grep -q "unknown profile .foo." <<<"$err" && grep -q "available: .*nginx" <<<"$err" && grep -q "php-fpm" <<<"$err"'

# A host without nginx: everything nginx's included profiles require is there, nginx is not.
fake=$tmp/fakehost
mkdir -p "$fake/usr/share/zoneinfo" "$fake/etc" "$fake/usr/sbin"
for args in "--dry-run" ""; do
  run "$JB" create "$dry" --with nginx --host-root "$fake" --state-dir "$tmp/state" --config-dir "$tmp/state.config" $args
  check "missing service${args:+ ($args)}: exit 2" '[ $rc -eq 2 ]'
  check "missing service${args:+ ($args)}: names the path and the Debian package" 'grep -q "/usr/sbin/nginx is missing" <<<"$err" && grep -q "install the Debian package nginx" <<<"$err"'
  check "missing service${args:+ ($args)}: nothing written" '[ ! -e "$dry" ] && [ ! -e "$tmp/state" ]'
done

mkdir -p "$tmp/badprofiles"
printf 'description = "broken"\ninclude = ["base"]\nfiles = [\n' >"$tmp/badprofiles/broken.toml"
run "$JB" create "$dry" --with nginx --profiles-dir "$tmp/badprofiles" --dry-run --state-dir "$tmp/state" --config-dir "$tmp/state.config"
check "broken profile: exit 2" '[ $rc -eq 2 ]'
check "broken profile: names the file and the line" 'grep -q "$tmp/badprofiles/broken.toml: line [0-9]" <<<"$err"'
printf 'description = "typo"\n\nusers = ["www-data"]\nfilez = []\n' >"$tmp/badprofiles/broken.toml"
run "$JB" create "$dry" --with nginx --profiles-dir "$tmp/badprofiles" --dry-run --state-dir "$tmp/state" --config-dir "$tmp/state.config"
check "unknown profile key: names the file and line 4" 'grep -q "$tmp/badprofiles/broken.toml: line 4: unknown key .filez." <<<"$err"'

for refused in /usr / /etc/jail /var relative/jail; do
  run "$JB" create "$refused" --with nginx --dry-run --state-dir "$tmp/state" --config-dir "$tmp/state.config"
  check "jail path $refused refused with exit 2" '[ $rc -eq 2 ] && [ -n "$err" ]'
done
check "a system directory is named as such" '"$JB" create /usr --with nginx --dry-run 2>&1 | grep -q "^jailbuild: /usr: refusing to build a jail in a system directory"'

# --- a real jail (root) --------------------------------------------------------------------
# The checks below, as many as a run as root makes.
real_jail_checks=83
if [ "$(id -u)" -ne 0 ]; then
  skip $real_jail_checks "the real jail: it needs root (chown, mknod); CI runs as root"
  finish 77
fi
if [ $have_passwd = 0 ]; then
  skip $real_jail_checks "the real jail: /usr/bin/passwd is missing or not setuid, and the setuid checks need it"
  finish 77
fi

jail=$tmp/jail
run "$JB" create "$jail" --with suidtest --profiles-dir "$tmp/profiles" --state-dir "$tmp/state" --config-dir "$tmp/state.config" --json
check "create succeeds" '[ $rc -eq 0 ]'
[ $rc -eq 0 ] || echo "$err"
check "create --json reports bytes written" 'python3 -c "import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d[\"bytes_written\"] > 0 else 1)" "$out"'

check "passwd copied without setuid or setgid bit" '[ -f "$jail/usr/bin/passwd" ] && [ ! -u "$jail/usr/bin/passwd" ] && [ ! -g "$jail/usr/bin/passwd" ]'
check "passwd is a copy, not a hardlink" '[ "$(stat -c %d:%i /usr/bin/passwd)" != "$(stat -c %d:%i "$jail/usr/bin/passwd")" ] && [ "$(stat -c %h "$jail/usr/bin/passwd")" = 1 ]'
check "passwd content identical" 'cmp -s /usr/bin/passwd "$jail/usr/bin/passwd"'
check "no setuid or setgid file anywhere" '[ -z "$(find "$jail" -xdev -type f -perm /6000)" ]'
check "no file capability" '! command -v getcap >/dev/null || [ -z "$(getcap -r "$jail" 2>/dev/null)" ]'

shared=0 compared=0
while IFS= read -r -d '' f; do
  rel=${f#"$jail"}
  [ -e "$rel" ] || continue
  compared=$((compared + 1))
  [ "$(stat -L -c %d:%i "$rel")" = "$(stat -c %d:%i "$f")" ] && { echo "  shares an inode with the host: $rel"; shared=1; }
done < <(find "$jail" -xdev -type f -print0)
check "no file shares an inode with the host ($compared compared)" '[ $compared -gt 3 ] && [ $shared -eq 0 ]'
libc=$(find "$jail/usr/lib" -name 'libc.so.6' | head -1)
check "libc is in the jail, a separate inode" '[ -n "$libc" ] && [ "$(stat -L -c %i "/${libc#"$jail"/}")" != "$(stat -c %i "$libc")" ]'

for dev in null:1,3 zero:1,5 full:1,7 random:1,8 urandom:1,9; do
  name=${dev%%:*} want=${dev#*:}
  check "/dev/$name is a character device $want, 0666" '[ -c "$jail/dev/$name" ] && [ "$(stat -c %t,%T "$jail/dev/$name")" = "$want" ] && [ "$(stat -c %a "$jail/dev/$name")" = 666 ]'
done
check "/tmp is 1777" '[ "$(stat -c %a "$jail/tmp")" = 1777 ]'
check "merged-/usr links" '[ "$(readlink "$jail/lib64")" = usr/lib64 ] && [ "$(readlink "$jail/bin")" = usr/bin ]'
check "no uid 0 entry in passwd" '! awk -F: "\$3 == 0" "$jail/etc/passwd" | grep -q .'
check "manifest root-only" '[ "$(stat -c %a:%u "$jail/.jailbuild")" = 700:0 ] && [ "$(stat -c %a "$jail/.jailbuild/manifest.json")" = 600 ]'
check "jail registered" 'grep -qx "$jail" "$tmp/state/jails"'

run "$JB" create "$jail" --with suidtest --profiles-dir "$tmp/profiles" --state-dir "$tmp/state" --config-dir "$tmp/state.config" --json
check "re-run succeeds" '[ $rc -eq 0 ]'
check "re-run writes 0 bytes" 'python3 -c "import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d[\"bytes_written\"] == 0 else 1)" "$out"'

# A jail file changed behind jailbuild's back is restored by the next run.
printf 'tampered' >"$jail/etc/passwd"
run "$JB" create "$jail" --with suidtest --profiles-dir "$tmp/profiles" --state-dir "$tmp/state" --config-dir "$tmp/state.config" -q
check "re-run restores a tampered file" '[ $rc -eq 0 ] && ! grep -q tampered "$jail/etc/passwd"'

# A non-empty directory jailbuild did not make is refused.
mkdir "$tmp/foreign" && echo site >"$tmp/foreign/index.html"
run "$JB" create "$tmp/foreign" --with suidtest --profiles-dir "$tmp/profiles" --state-dir "$tmp/state" --config-dir "$tmp/state.config"
check "foreign non-empty directory refused, left as it was" '[ $rc -eq 2 ] && grep -q "not empty" <<<"$err" && [ "$(ls -A "$tmp/foreign")" = index.html ]'

# A failure while assembling: /proc/sys/vm/drop_caches is a regular file that even root cannot
# read (mode 0200). The plan is fine; the copy fails; the new directory must go again.
if [ -f /proc/sys/vm/drop_caches ] && ! head -c1 /proc/sys/vm/drop_caches >/dev/null 2>&1; then
  cat >"$tmp/profiles/unreadable.toml" <<'EOF'
description = "test: a file that cannot be read"
include = ["suidtest"]

[[files]]
path = "/proc/sys/vm/drop_caches"
dest = "/etc/unreadable"
EOF
  run "$JB" create "$tmp/failed" --with unreadable --profiles-dir "$tmp/profiles" --state-dir "$tmp/state2" --config-dir "$tmp/state2.config"
  check "failing assembly: exit 2, naming the file" '[ $rc -eq 2 ] && grep -q "drop_caches" <<<"$err"'
  check "failing assembly: the new directory is removed" '[ ! -e "$tmp/failed" ]'
  check "failing assembly: not registered" '! grep -qs "$tmp/failed" "$tmp/state2/jails"'
  # Into an existing jailbuild jail: the jail stays (it is not ours to remove), nothing is lost.
  run "$JB" create "$jail" --with unreadable --profiles-dir "$tmp/profiles" --state-dir "$tmp/state" --config-dir "$tmp/state.config"
  check "failing assembly into an existing jail keeps it" '[ $rc -eq 2 ] && [ -f "$jail/usr/bin/passwd" ] && [ -d "$jail/.jailbuild" ]'
else
  skip 4 "the failing-assembly checks: /proc/sys/vm/drop_caches is missing or readable here"
fi

# --- issue #10: writable directories and binds refused before anything is written -------------
# refused NAME SHOWN ARGS...: create exits 2 with "jailbuild: SHOWN: <why>" and leaves no jail
# directory and no registry entry behind (the validation runs before the jail directory is made).
rjail=$tmp/refused-jail
refused() {
  local name=$1 shown=$2
  shift 2
  run "$JB" create "$rjail" --with suidtest --profiles-dir "$tmp/profiles" --state-dir "$tmp/state3" --config-dir "$tmp/state3.config" "$@"
  check "$name: exit 2 (got $rc)" '[ $rc -eq 2 ]'
  check "$name: jailbuild: $shown: <why> (got: $err)" 'grep -qF "jailbuild: $shown: " <<<"$err"'
  check "$name: no jail directory, nothing registered" '[ ! -e "$rjail" ] && ! grep -qs refused-jail "$tmp/state3/jails"'
  rm -rf --one-file-system "$rjail" "$tmp/state3" # each case on its own, even when one fails
}
bsrc=$tmp/bind-source
mkdir -p "$bsrc"
refused "--writable /:www-data" / --writable /:www-data
refused "--writable /etc" /etc --writable /etc:www-data
refused "--writable /usr/lib/x" /usr/lib/x --writable /usr/lib/x
refused "--writable /x/../../etc" /x/../../etc --writable /x/../../etc
refused "--writable /.jailbuild" /.jailbuild --writable /.jailbuild
refused "--writable nested in another" /data/up --writable /data --writable /data/up
refused "--writable containing another" /data/up --writable /data/up --writable /data
refused "--writable a bind mount point" /mnt/data --bind "$bsrc:/mnt/data" --writable /mnt/data
refused "--writable below a bind mount point" /mnt/data/up --bind "$bsrc:/mnt/data" --writable /mnt/data/up
refused "--writable /x:nosuchuser" nosuchuser --writable /x:nosuchuser
check "--writable /x:nosuchuser says no such user" 'grep -q "no such user" <<<"$err"'
refused "--bind SRC:/" / --bind "$bsrc:/"
refused "--bind SRC:/.jailbuild" /.jailbuild --bind "$bsrc:/.jailbuild"
refused "--bind SRC:/.jailbuild/x" /.jailbuild/x --bind "$bsrc:/.jailbuild/x"
refused "--bind / (the host's root)" / --bind /:/mnt/host
refused "--bind /etc" /etc --bind /etc:/mnt/etc
refused "--writable with a newline" $'/data\nx' --writable $'/data\nx'
refused "--bind with a newline" $'/mnt/a\n/b' --bind "$bsrc:"$'/mnt/a\n/b'

# A newline in the jail's own path would split its line in the registry.
njail=$tmp/new$'\n'line
run "$JB" create "$njail" --with suidtest --profiles-dir "$tmp/profiles" --state-dir "$tmp/state3" --config-dir "$tmp/state3.config"
check "a newline in the jail path: exit 2 (got $rc)" '[ $rc -eq 2 ] && grep -q "control character" <<<"$err"'
check "a newline in the jail path: no jail, nothing registered" '[ ! -e "$njail" ] && ! grep -qs line "$tmp/state3/jails"'
rm -rf --one-file-system "$njail" "$tmp/state3"

# Profile entries under /.jailbuild: the manifest directory is jailbuild's alone.
mkdir -p "$tmp/dotprofiles"
cat >"$tmp/dotprofiles/forge.toml" <<'EOF'
description = "test: a profile writing jailbuild's own manifest"
include = ["suidtest"]

[[generate]]
path = "/.jailbuild/manifest.json"
content = "{}"
EOF
run "$JB" create "$rjail" --with forge --profiles-dir "$tmp/profiles" --profiles-dir "$tmp/dotprofiles" --state-dir "$tmp/state3" --config-dir "$tmp/state3.config"
check "a profile entry under /.jailbuild: exit 2, naming the file and line (got: $err)" '[ $rc -eq 2 ] && grep -q "^jailbuild: $tmp/dotprofiles/forge.toml: line 5: .*/.jailbuild" <<<"$err"'
check "a profile entry under /.jailbuild: nothing written" '[ ! -e "$rjail" ]'

finish
