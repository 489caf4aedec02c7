#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A pack or unpack killed part-way (SIGKILL: no handler runs) leaves its temporary archive or a
# half-made jail; the next run of the same command removes what the killed run left, and only that,
# and says so. Nothing else is ever removed: another file beside the archive, a directory of the
# admin's, a jail that was unpacked completely.
set -u
: "${JB:?JB must name the jailbuild binary}"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (create, unpack); CI runs as root"; exit 77; }

tmp=$(mktemp -d /tmp/jb-killed.XXXXXX)
trap 'rm -rf --one-file-system "$tmp"' EXIT
. "$(dirname "$0")/lib/checks.sh"

# A small real jail with 400 MB of site content, so that pack and unpack take a while.
jail=$tmp/jail
"$JB" create "$jail" --with sh --state-dir "$tmp/state" --config-dir "$tmp/state.config" -q || { flunk "create"; finish; }
mkdir -p "$jail/var/www"
head -c 400M /dev/urandom >"$jail/var/www/big.bin"
mkdir "$tmp/out"
echo "keep" >"$tmp/out/.web.tar.zst.jbtmp.notours" # looks alike, but is not a name pack makes
echo "keep" >"$tmp/out/notes.txt"

# kill_when CONDITION CMD...: runs CMD in the background and SIGKILLs it as soon as CONDITION holds
# (polled every 5 ms); fails when CMD ends first.
kill_when() {
  local condition=$1
  shift
  "$@" >/dev/null 2>&1 &
  local pid=$! i
  for ((i = 0; i < 6000; i++)); do
    if eval "$condition"; then
      kill -9 "$pid"
      wait "$pid" 2>/dev/null
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.005
  done
  wait "$pid"
  return 1
}
leftovers() { find "$tmp/out" -name '*.jbtmp.*' ! -name '.web.tar.zst.jbtmp.notours' | wc -l; }

# --- pack ----------------------------------------------------------------------------------------
if kill_when '[ "$(leftovers)" -gt 0 ] && [ "$(find "$tmp/out" -name "*.jbtmp.*" -size +1M | wc -l)" -gt 0 ]' \
  "$JB" pack "$jail" -o "$tmp/out/web.tar.zst"; then
  check "a killed pack leaves its temporary archive" '[ "$(leftovers)" -eq 1 ] && [ ! -e "$tmp/out/web.tar.zst" ]'
  "$JB" pack "$jail" -o "$tmp/out/web.tar.zst" -q >/dev/null 2>"$tmp/pack.err"
  check "the next pack removes it and says so" \
    '[ "$(leftovers)" -eq 0 ] && grep -q "^jailbuild: warning: .*/out/\.web\.tar\.zst\.jbtmp\..*: removed, left by an interrupted jailbuild pack" "$tmp/pack.err"'
  check "... and nothing else" '[ "$(cat "$tmp/out/notes.txt" "$tmp/out/.web.tar.zst.jbtmp.notours")" = "keep
keep" ]'
  check "... and its archive verifies" '(cd "$tmp/out" && sha256sum -c --quiet web.tar.zst.sha256)'
else
  flunk "pack ended before it could be killed"
fi

# --- unpack --------------------------------------------------------------------------------------
copy=$tmp/copy
if kill_when '[ -e "$copy/var/www" ]' "$JB" unpack "$tmp/out/web.tar.zst" "$copy" --state-dir "$tmp/ustate" --config-dir "$tmp/ustate.config"; then
  check "a killed unpack leaves a half-made jail, not registered" '[ -d "$copy/usr" ] && [ ! -e "$copy/.jailbuild/manifest.json" ] && ! grep -qs "$copy" "$tmp/ustate/jails"'
  "$JB" unpack "$tmp/out/web.tar.zst" "$copy" --state-dir "$tmp/ustate" --config-dir "$tmp/ustate.config" -q 2>"$tmp/unpack.err"
  rc=$?
  check "the next unpack removes it, says so and unpacks" \
    '[ $rc -eq 0 ] && grep -q "^jailbuild: warning: $copy: removed what an interrupted unpack left" "$tmp/unpack.err" && cmp -s "$jail/var/www/big.bin" "$copy/var/www/big.bin" && grep -qx "$copy" "$tmp/ustate/jails"'
  check "... and leaves no mark of it" '[ ! -e "$copy/.jailbuild/unpacking" ]'
else
  flunk "unpack ended before it could be killed"
fi
"$JB" unpack "$tmp/out/web.tar.zst" "$copy" --state-dir "$tmp/ustate" --config-dir "$tmp/ustate.config" -q 2>"$tmp/again.err"
rc=$?
check "a complete unpacked jail is never removed: unpack into it is refused" '[ $rc -eq 2 ] && grep -q "not empty" "$tmp/again.err" && [ -e "$copy/var/www/big.bin" ]'
mkdir "$tmp/admins"
echo "mine" >"$tmp/admins/file"
"$JB" unpack "$tmp/out/web.tar.zst" "$tmp/admins" --state-dir "$tmp/ustate" --config-dir "$tmp/ustate.config" -q 2>"$tmp/admins.err"
rc=$?
check "nor is a directory of the admin's" '[ $rc -eq 2 ] && grep -q "not empty" "$tmp/admins.err" && [ "$(cat "$tmp/admins/file")" = mine ]'
finish
