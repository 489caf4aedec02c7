#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `jailbuild hook install|remove` below a fake root: the apt hook and the systemd units.
set -u
tmp=$(mktemp -d /tmp/jb-hook.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib/checks.sh"
mkdir -p "$tmp/etc/apt/apt.conf.d" "$tmp/etc/systemd/system"
"$JB" hook install --root "$tmp" --state-dir /var/lib/jailbuild-test > "$tmp/out.txt"
apt=$tmp/etc/apt/apt.conf.d/90jailbuild-sync
check "apt hook written" '[ -f "$apt" ]'
check "apt hook runs sync --all --quiet after dpkg" 'grep -q "DPkg::Post-Invoke" "$apt" && grep -q "sync --all --quiet" "$apt"'
check "apt hook names this jailbuild by absolute path" 'grep -qF "$(readlink -f "$JB")" "$apt"'
check "service runs the same command" 'grep -q "^ExecStart=.*sync --all --quiet --state-dir .*/var/lib/jailbuild-test" "$tmp/etc/systemd/system/jailbuild-sync.service"'
check "daily timer" 'grep -q "^OnCalendar=daily" "$tmp/etc/systemd/system/jailbuild-sync.timer"'
check "apt.conf syntax accepted by apt-config" 'apt-config -c "$apt" dump | grep -q "DPkg::Post-Invoke"'
"$JB" hook install --root "$tmp" >/dev/null
check "install twice is fine" '[ $(ls "$tmp/etc/apt/apt.conf.d" | wc -l) -eq 1 ]'
"$JB" hook remove --root "$tmp" > "$tmp/out.txt"
check "remove takes all three away" '[ -z "$(find "$tmp/etc" -type f)" ] && [ $(wc -l < "$tmp/out.txt") -eq 3 ]'
"$JB" hook remove --root "$tmp" > "$tmp/out.txt"; rc=$?
check "remove twice is fine" '[ $rc -eq 0 ]'
out=$("$JB" hook install --root "$tmp/missing" 2>&1); rc=$?
check "a root that does not exist is an error" '[ $rc -ne 0 ]'
finish
