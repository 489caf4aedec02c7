#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Errors that say what failed (issue #11 item 4), through the CLI on a small real jail. What a
# jailed process can do to a directory it may write (a symlink or a file where a directory was) is
# reported as tampering, each for what it is; what root merely fails to read (EACCES, here root
# without CAP_DAC_OVERRIDE) is an error naming the directory, never "tampered", and an ld.so.conf
# include it cannot read is no "library not found". A directory that is no longer planned but has
# something mounted on it is said to be a mount point, not "not empty".
set -u
: "${JB:?JB must name the jailbuild binary}"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (create sets owners, mount); CI runs as root"; exit 77; }

tmp=$(mktemp -d /tmp/jb-named.XXXXXX)
chmod 755 "$tmp"
cleanup() {
  umount -l "$tmp/bound/mnt/data" 2>/dev/null
  rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
. "$(dirname "$0")/lib/checks.sh"

jail=$tmp/jail
"$JB" create "$jail" --with sh --state-dir "$tmp/state" --config-dir "$tmp/state.config" -q || { flunk "create"; finish; }
# Root that cannot override file permissions: what an unreadable directory is to it.
no_dac() { setpriv --bounding-set -dac_override,-dac_read_search "$@"; }

echo "== a jail directory root cannot read"
chmod 000 "$jail/etc"
no_dac "$JB" sync "$jail" --config-dir "$tmp/config" --dry-run >"$tmp/out" 2>"$tmp/err"
rc=$?
chmod 755 "$jail/etc"
check "sync --dry-run: exit 2, naming the directory and the reason (got $rc: $(cat "$tmp/err"))" \
  '[ $rc -eq 2 ] && grep -qx "jailbuild: $jail/etc: opening directory: Permission denied" "$tmp/err"'
check "... and nothing in it is called tampered (got: $(head -c 300 "$tmp/out"))" '! grep -q tampered "$tmp/out"'

echo "== a file where a directory of the jail was"
mv "$jail/etc" "$tmp/etc.away"
echo planted >"$jail/etc"
"$JB" sync "$jail" --config-dir "$tmp/config" --dry-run >"$tmp/out" 2>"$tmp/err"
rc=$?
rm "$jail/etc"
mv "$tmp/etc.away" "$jail/etc"
check "sync --dry-run reports it (exit 1)" '[ $rc -eq 1 ] && grep -q "tampered /etc: should be a directory but is a regular file" "$tmp/out"'
check "... and what lay below it as behind a file, not a symlink (got: $(grep /etc/passwd "$tmp/out"))" \
  'grep -qx "! tampered /etc/passwd: a parent is not a directory; left in place" "$tmp/out"'
echo "== a symlink where a directory of the jail was"
mv "$jail/etc" "$tmp/etc.away"
ln -s /etc "$jail/etc"
"$JB" sync "$jail" --config-dir "$tmp/config" --dry-run >"$tmp/out" 2>"$tmp/err"
rc=$?
rm "$jail/etc"
mv "$tmp/etc.away" "$jail/etc"
check "what lay below it is behind a symlink, never followed (exit $rc)" \
  '[ $rc -eq 1 ] && grep -qx "! tampered /etc/passwd: a parent is a symlink; left in place" "$tmp/out"'

echo "== an ld.so.conf include root cannot read"
if [ -z "${JB_FIXTURE_ROOT:-}" ] || [ ! -f "$JB_FIXTURE_ROOT/.complete" ]; then
  skip 1 "the ld.so.conf include: no fake root (JB_FIXTURE_ROOT unset or incomplete)"
else
  cp -a "$JB_FIXTURE_ROOT" "$tmp/host"
  chmod 000 "$tmp/host/etc/ld.so.conf.d/fixture.conf"
  no_dac "$JB" deps --host-root "$tmp/host" /usr/bin/conf-exe >"$tmp/out" 2>"$tmp/err"
  rc=$?
  check "deps: exit 2 naming the file, not 'libconf.so.1: not found' (got $rc: $(cat "$tmp/err"))" \
    '[ $rc -eq 2 ] && grep -qx "jailbuild: /etc/ld.so.conf.d/fixture.conf: cannot open: Permission denied" "$tmp/err"'
fi

echo "== a directory no longer planned with something mounted on it"
probe=$tmp/probe
mkdir -p "$probe/a" "$probe/b"
if ! mount --bind "$probe/a" "$probe/b" 2>/dev/null; then
  skip 2 "the mount point removal: this root may not mount (no CAP_SYS_ADMIN, or a container forbids it)"
else
  umount "$probe/b"
  mkdir -p "$tmp/src"
  bound=$tmp/bound
  "$JB" create "$bound" --with sh --bind "$tmp/src:/mnt/data" --state-dir "$tmp/state" --config-dir "$tmp/state.config" -q || flunk "create with a bind"
  "$JB" mount "$bound" -q || flunk "mount"
  # The bind is no longer asked for; its mount point stays mounted (umount knows the manifest's binds).
  "$JB" create "$bound" --with sh --state-dir "$tmp/state" --config-dir "$tmp/state.config" >"$tmp/out" 2>&1
  rc=$?
  check "create goes on (exit 0)" '[ $rc -eq 0 ]'
  check "and says the directory has something mounted on it (got: $(grep /mnt/data "$tmp/out"))" \
    'grep -qx "warning: /mnt/data: no longer needed but something is mounted on it; left in place" "$tmp/out"'
fi
finish
