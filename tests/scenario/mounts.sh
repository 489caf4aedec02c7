#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `jailbuild mount` / `umount`: the binds of the manifest are applied once however often mount runs,
# read-only, nosuid, nodev; a symlink planted at a mount point makes mount fail without mounting
# anything on the symlink's target; umount is idempotent.
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

cleanup() {
  # Unmount before removing anything: rm in a bind mount removes the source's files.
  "$JB" umount "$jail" -q >/dev/null 2>&1
  awk -v t="$tmp/" 'index($5, t) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m"; done
  # Should the symlink check ever fail, our source could sit on /etc: take it off again.
  mounts_at /etc | awk -v s="$src" '$4 == s' | grep -q . && umount -l /etc
  rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
fail=0
check() { if eval "$2"; then echo "ok $1"; else echo "FAIL $1"; fail=1; fi; }

"$JB" create "$jail" --with nginx,php-fpm,proc --bind "$src:/mnt/data:ro" --state-dir "$tmp/state" -q ||
  { echo "FAIL create"; exit 1; }
check "mount point made by create" '[ -d "$jail/mnt/data" ] && [ -z "$(ls -A "$jail/mnt/data")" ] && [ -d "$jail/proc" ]'
check "nothing mounted by create" '[ "$(count_at "$jail/mnt/data")" = 0 ] && [ "$(count_at "$jail/proc")" = 0 ]'

check "mount" '"$JB" mount "$jail"'
check "mount again (idempotent)" '"$JB" mount "$jail" | grep -q "^unchanged $jail/mnt/data"'
check "one mount at /mnt/data" '[ "$(count_at "$jail/mnt/data")" = 1 ]'
check "one mount at /proc" '[ "$(count_at "$jail/proc")" = 1 ]'
opts=$(options_at "$jail/mnt/data")
check "bind is ro,nosuid,nodev ($opts)" 'grep -qw ro <<<"${opts//,/ }" && grep -qw nosuid <<<"${opts//,/ }" && grep -qw nodev <<<"${opts//,/ }"'
check "bind is not noexec unless asked" '! grep -qw noexec <<<"${opts//,/ }"'
popts=$(options_at "$jail/proc")
check "proc is ro,nosuid,nodev,noexec ($popts)" 'for o in ro nosuid nodev noexec; do grep -qw $o <<<"${popts//,/ }" || exit 1; done'
check "bind shows the source" '[ "$(cat "$jail/mnt/data/hello.txt")" = hello ]'
check "bind is read-only, even for root" '! touch "$jail/mnt/data/new" 2>/dev/null && [ ! -e "$src/new" ]'
check "proc bound from the host" '[ -e "$jail/proc/self/status" ]'

# Re-running create while the binds are mounted must not chown or chmod the sources through them.
check "create re-run while mounted" '"$JB" create "$jail" --with nginx,php-fpm,proc --bind "$src:/mnt/data:ro" --state-dir "$tmp/state" -q'
check "the bind source keeps its mode" '[ "$(stat -c %a "$src")" = 750 ]'
check "the host /proc keeps its mode" '[ "$(stat -c %a /proc)" = 555 ]'

# Flags changed by hand are put back by the next mount.
mount -o remount,bind,rw "$jail/mnt/data"
check "mount fixes flags changed by hand" '"$JB" mount "$jail" | grep -q "^remounted $jail/mnt/data" && grep -qw ro <<<"$(options_at "$jail/mnt/data" | tr , " ")" && [ "$(count_at "$jail/mnt/data")" = 1 ]'

check "umount" '"$JB" umount "$jail"'
check "nothing mounted after umount" '[ "$(count_at "$jail/mnt/data")" = 0 ] && [ "$(count_at "$jail/proc")" = 0 ]'
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

exit $fail
