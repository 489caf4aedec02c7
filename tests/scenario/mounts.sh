#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `jailbuild mount` / `umount`: the binds of the manifest are applied once however often mount runs,
# read-only, nosuid, nodev; a symlink planted at a mount point makes mount fail without mounting
# anything on the symlink's target; umount is idempotent. Then the attacks of issue #10 on what root
# mounts: a bind source swapped for a symlink by the service, binds of the host's /, /etc, /proc or
# another jail written into a manifest, and the chroot escape through a bound host /proc.
set -u
: "${JB:?JB must name the jailbuild binary}"

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (mount, chown, mknod); CI runs as root"; exit 77; }
[ -x /usr/sbin/nginx ] && ls /usr/sbin/php-fpm* >/dev/null 2>&1 ||
  { echo "SKIP: nginx and php-fpm are not installed (scripts/bootstrap.sh installs them)"; exit 77; }
probe=$(mktemp -d /tmp/jb-mount-probe.XXXXXX)
mkdir "$probe/a" "$probe/b"
if ! mount --bind "$probe/a" "$probe/b" 2>/dev/null; then
  rm -rf "$probe"
  echo "SKIP: this root may not mount (no CAP_SYS_ADMIN, or a container forbids it)"
  exit 77
fi
umount "$probe/b"
rm -rf "$probe"

tmp=$(mktemp -d /tmp/jb-mounts.XXXXXX)
chmod 755 "$tmp"
jail=$tmp/jail
src=$tmp/data
mkdir "$src" && echo hello >"$src/hello.txt"
chmod 0750 "$src" # not what create gives a mount point: a re-run must not "fix" it through the mount

# Mount points (field 5 of mountinfo, octal escapes left as they are: our paths have none).
mounts_at() { awk -v p="$1" '$5 == p' /proc/self/mountinfo; }
count_at() { mounts_at "$1" | wc -l; }
options_at() { mounts_at "$1" | awk '{print $6}' | head -1; }

sleeper=""
cleanup() {
  [ -z "$sleeper" ] || kill "$sleeper" 2>/dev/null
  # Unmount before removing anything: rm in a bind mount removes the source's files.
  "$JB" umount "$jail" -q >/dev/null 2>&1
  awk -v t="$tmp/" 'index($5, t) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m"; done
  # Should the symlink check ever fail, our source could sit on /etc: take it off again.
  mounts_at /etc | awk -v s="$src" '$4 == s' | grep -q . && umount -l /etc
  rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
. "$(dirname "$0")/lib/checks.sh"

"$JB" create "$jail" --with nginx,php-fpm --bind "$src:/mnt/data:ro" --state-dir "$tmp/state" --config-dir "$tmp/state.config" -q ||
  { flunk "create"; finish; }
check "mount point made by create" '[ -d "$jail/mnt/data" ] && [ -z "$(ls -A "$jail/mnt/data")" ]'
check "nothing mounted by create" '[ "$(count_at "$jail/mnt/data")" = 0 ]'

check "mount" '"$JB" mount "$jail"'
check "mount again (idempotent)" '"$JB" mount "$jail" | grep -q "^unchanged $jail/mnt/data"'
check "one mount at /mnt/data" '[ "$(count_at "$jail/mnt/data")" = 1 ]'
opts=$(options_at "$jail/mnt/data")
check "bind is ro,nosuid,nodev ($opts)" 'grep -qw ro <<<"${opts//,/ }" && grep -qw nosuid <<<"${opts//,/ }" && grep -qw nodev <<<"${opts//,/ }"'
check "bind is not noexec unless asked" '! grep -qw noexec <<<"${opts//,/ }"'
check "bind shows the source" '[ "$(cat "$jail/mnt/data/hello.txt")" = hello ]'
check "bind is read-only, even for root" '! touch "$jail/mnt/data/new" 2>/dev/null && [ ! -e "$src/new" ]'

# Re-running create while the binds are mounted must not chown or chmod the sources through them.
check "create re-run while mounted" '"$JB" create "$jail" --with nginx,php-fpm --bind "$src:/mnt/data:ro" --state-dir "$tmp/state" --config-dir "$tmp/state.config" -q'
check "the bind source keeps its mode" '[ "$(stat -c %a "$src")" = 750 ]'

# Flags changed by hand are put back by the next mount.
mount -o remount,bind,rw "$jail/mnt/data"
check "mount fixes flags changed by hand" '"$JB" mount "$jail" | grep -q "^remounted $jail/mnt/data" && grep -qw ro <<<"$(options_at "$jail/mnt/data" | tr , " ")" && [ "$(count_at "$jail/mnt/data")" = 1 ]'

check "umount" '"$JB" umount "$jail"'
check "nothing mounted after umount" '[ "$(count_at "$jail/mnt/data")" = 0 ]'
check "umount again (idempotent)" '"$JB" umount "$jail" | grep -q "^not mounted $jail/mnt/data"'
check "source untouched" '[ "$(cat "$src/hello.txt")" = hello ]'

# A process in the jail replaces the mount point by a symlink to /etc.
etc_before=$(count_at /etc)
rmdir "$jail/mnt/data"
ln -s /etc "$jail/mnt/data"
"$JB" mount "$jail" >"$tmp/out" 2>"$tmp/err"
rc=$?
check "mount through a symlink fails (exit $rc)" '[ $rc -eq 2 ]'
check "the error names the mount point and the symlink" 'grep -q "$jail/mnt/data" "$tmp/err" && grep -q "symlink" "$tmp/err"'
cat "$tmp/err"
check "nothing mounted on /etc" '[ "$(count_at /etc)" = "$etc_before" ]'
check "nothing mounted in the jail" '[ -z "$(awk -v t="$jail/" "index(\$5, t) == 1" /proc/self/mountinfo)" ]'
check "the symlink is left alone" '[ "$(readlink "$jail/mnt/data")" = /etc ]'
# A symlink is never a mount point: umount finds nothing there and never follows it.
check "umount with a symlink at the mount point touches nothing" '"$JB" umount "$jail" | grep -q "^not mounted $jail/mnt/data" && [ "$(count_at /etc)" = "$etc_before" ]'

# An absolute symlink as a parent of the mount point.
rm "$jail/mnt/data"
mv "$jail/mnt" "$jail/mnt.moved"
ln -s "$tmp/elsewhere" "$jail/mnt"
mkdir -p "$tmp/elsewhere/data"
check "mount through a symlinked parent fails" '! "$JB" mount "$jail" 2>/dev/null'
check "nothing mounted on the symlink target" '[ "$(count_at "$tmp/elsewhere/data")" = 0 ]'
check "umount through a symlinked parent is refused" '! "$JB" umount "$jail" 2>/dev/null'
check "umount twice after a clean state" 'rm "$jail/mnt" && mv "$jail/mnt.moved" "$jail/mnt" && mkdir "$jail/mnt/data" && "$JB" umount "$jail" -q && "$JB" umount "$jail" -q'


# run CMD...: runs CMD, keeping its exit status and stderr in $rc and $err, its stdout in $out.
run() {
  "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  out=$(cat "$tmp/out")
  err=$(cat "$tmp/err")
}
# jail_mounts JAIL: the mount points below JAIL.
jail_mounts() { awk -v t="$1/" 'index($5, t) == 1 {print $5}' /proc/self/mountinfo; }
# findings FILE: "severity rule path" lines of an audit's JSON.
findings() { python3 -c 'import json, sys
for f in json.load(open(sys.argv[1]))["findings"]: print(f["severity"], f["rule"], f["path"])' "$1"; }

# --- mount and umount need a jailbuild jail --------------------------------------------------
run "$JB" umount /
check "umount /: exit 2, / is not a jail ($err)" '[ $rc -eq 2 ] && grep -q "^jailbuild: /: .*not a jail" <<<"$err"'
mkdir "$tmp/plain"
run "$JB" mount "$tmp/plain"
check "mount of a directory without .jailbuild/: not a jailbuild jail ($err)" '[ $rc -eq 2 ] && grep -q "^jailbuild: $tmp/plain: not a jailbuild jail" <<<"$err"'

# --- issue #10 item 3: a bind source swapped for a symlink by the service ------------------
# /shared is the service's (www-data owns it, bound read-write); /sub is a bind of a directory in it.
# From inside the jail the service replaces sub by a symlink to /etc: the next mount must not bind
# the host's /etc. A root-owned symlink in root's own directories (as /dev/log is) is still followed,
# and the output names where it led.
x=$tmp/x
mkdir -p "$x/shared/sub" "$tmp/t/real"
echo site >"$x/shared/sub/page.html"
chown -R www-data:www-data "$x/shared"
ln -s real "$tmp/t/link"
jail3=$tmp/jail3
run "$JB" create "$jail3" --with nginx,php-fpm --bind "$x/shared:/shared:rw" --bind "$x/shared/sub:/sub" \
  --bind "$tmp/t/link:/linked" --state-dir "$tmp/state" --config-dir "$tmp/state.config" -q
check "create with a bind below a service-owned directory" '[ $rc -eq 0 ]'
[ $rc -eq 0 ] || echo "$err"
run "$JB" mount "$jail3"
check "the binds mount" '[ $rc -eq 0 ] && [ "$(cat "$jail3/sub/page.html")" = site ]'
check "the output names where a root-owned symlink led ($(grep linked <<<"$out"))" 'grep -q "^mounted $jail3/linked <- $tmp/t/link -> $tmp/t/real " <<<"$out"'
# The service, through its read-write /shared, swaps sub for a symlink to the host's /etc.
setpriv --reuid=www-data --regid=www-data --clear-groups sh -c 'mv "$1/sub" "$1/sub.old" && ln -s /etc "$1/sub"' - "$jail3/shared"
check "the service could swap sub for a symlink to /etc" '[ "$(readlink "$x/shared/sub")" = /etc ]'
"$JB" umount "$jail3" -q
run "$JB" mount "$jail3"
echo "$err"
check "mount refuses the swapped source (exit $rc)" '[ $rc -eq 2 ] && grep -q "^jailbuild: $x/shared/sub: .*symlink" <<<"$err"'
check "the host's /etc is not mounted at /sub" '[ "$(count_at "$jail3/sub")" = 0 ] && [ ! -e "$jail3/sub/passwd" ]'
check "nothing in the jail shows the host's /etc" '! jail_mounts "$jail3" | while read -r m; do [ -e "$m/passwd" ] && echo "$m"; done | grep -q .'
"$JB" umount "$jail3" -q
run "$JB" create "$tmp/jail3b" --with nginx,php-fpm --bind "$x/shared/sub:/sub" --state-dir "$tmp/state" --config-dir "$tmp/state.config" -q
check "create refuses the same source, before making the jail (exit $rc)" '[ $rc -eq 2 ] && grep -q "symlink" <<<"$err" && [ ! -e "$tmp/jail3b" ]'

# --- issue #10 item 2: binds that mount refuses whatever the manifest says ------------------
# "another jail": a directory holding a .jailbuild/ manifest directory.
other=$tmp/otherjail
mkdir -p "$other/.jailbuild" "$other/var/www"
chmod 700 "$other/.jailbuild"
cp "$jail/.jailbuild/manifest.json" "$tmp/manifest.orig"
# with_bind SOURCE DEST: the jail's manifest plus a bind entry, read-write, as an archive could carry.
with_bind() {
  python3 - "$tmp/manifest.orig" "$jail/.jailbuild/manifest.json" "$1" "$2" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
m["entries"].append({"kind": "bind", "role": "system", "path": sys.argv[4], "mode": "0755", "uid": 0,
                     "gid": 0, "origin": "archive", "source": sys.argv[3], "read_only": False, "noexec": False})
json.dump(m, open(sys.argv[2], "w"))
EOF
}
for pair in /:/mnt/hostroot /etc:/mnt/hostetc /usr/lib:/mnt/lib /proc:/proc /run:/mnt/run /var/lib:/mnt/varlib \
  "$other:/mnt/other" "$other/var/www:/mnt/otherwww" "$tmp:/mnt/parent"; do
  source=${pair%%:*} dest=${pair#*:}
  with_bind "$source" "$dest"
  run "$JB" mount "$jail"
  check "mount refuses a manifest bind of $source (exit $rc: $err)" '[ $rc -eq 2 ] && grep -q "^jailbuild: $source: " <<<"$err"'
  check "nothing mounted at $dest" '[ "$(count_at "$jail$dest")" = 0 ]'
  "$JB" umount "$jail" -q
  run "$JB" audit "$jail" --json --no-integrity --no-hardening
  echo "$out" >"$tmp/audit.json"
  check "audit rates the manifest's bind of $source critical" 'findings "$tmp/audit.json" | grep -qx "critical manifest-bind-source $dest"'
done
cp "$tmp/manifest.orig" "$jail/.jailbuild/manifest.json"
# Live mounts made by hand: audit judges what mountinfo shows.
for pair in /etc:/mnt/hostetc "$other:/mnt/other"; do
  source=${pair%%:*} dest=${pair#*:}
  mkdir -p "$jail$dest"
  mount --bind "$source" "$jail$dest" && mount -o remount,bind,ro "$jail$dest"
  run "$JB" audit "$jail" --json --no-integrity --no-hardening
  echo "$out" >"$tmp/audit.json"
  check "audit rates a live bind of $source critical" 'findings "$tmp/audit.json" | grep -q "^critical mount-host-sensitive $dest$"'
  umount "$jail$dest"
done

# --- issue #10 item 5: the host's /proc in a chroot is a way out ----------------------------
# The demonstration, with a bind made by hand as the proc profile made it (read-only even): a
# process chrooted as nobody reads and writes host files through /proc/PID/root of a host process
# that runs as nobody too. Then jailbuild must refuse to make such a jail, and audit rate it high.
jail5=$tmp/jail5
"$JB" create "$jail5" --with nginx,php-fpm,sh --state-dir "$tmp/state" --config-dir "$tmp/state.config" -q || echo "FAIL create with sh"
echo host-secret >"$tmp/marker"
mkdir "$tmp/nobody-dir" && chown nobody "$tmp/nobody-dir"
setpriv --reuid=nobody --regid=nogroup --clear-groups sleep 600 &
sleeper=$!
mkdir -p "$jail5/proc"
mount --bind /proc "$jail5/proc" && mount -o remount,bind,ro,nosuid,nodev,noexec "$jail5/proc"
sleep 0.2
escaped=$(chroot --userspec=65534:65534 "$jail5" /bin/sh -c \
  "read l </proc/$sleeper/root$tmp/marker && echo \$l && echo escaped >/proc/$sleeper/root$tmp/nobody-dir/file" 2>&1)
check "demonstration: a jailed nobody reads a host file through /proc/$sleeper/root ($escaped)" '[ "$escaped" = host-secret ]'
check "demonstration: and writes one on the host, /proc read-only though" '[ "$(cat "$tmp/nobody-dir/file" 2>/dev/null)" = escaped ]'
run "$JB" audit "$jail5" --json --no-integrity --no-hardening
echo "$out" >"$tmp/audit.json"
check "audit rates the host's /proc in the jail high" 'findings "$tmp/audit.json" | grep -qx "high mount-proc /proc"'
umount "$jail5/proc"
kill "$sleeper" 2>/dev/null
sleeper=""
run "$JB" create "$tmp/jail5p" --with nginx,php-fpm,proc --state-dir "$tmp/state" --config-dir "$tmp/state.config" -q
check "create --with proc is refused with the reason (exit $rc: $err)" '[ $rc -eq 2 ] && grep -q "^jailbuild: /proc: .*PID namespace" <<<"$err" && [ ! -e "$tmp/jail5p" ]'

finish
