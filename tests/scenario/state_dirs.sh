#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# --state-dir and --config-dir on every command that names a jail (issue #18): each accepts them,
# the registry and the definitions it reads or writes are the given ones, and no command so much as
# looks at /var/lib/jailbuild or /etc/jailbuild (strace watches every file system call; without
# strace those checks are skipped, the others still run).
set -u
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (create sets owners)"; exit 77; }

tmp=$(mktemp -d /tmp/jb-statedir.XXXXXX)
trap 'umount -l "$tmp/jail/mnt/data" 2>/dev/null; rm -rf --one-file-system "$tmp"' EXIT
pdir=$tmp/profiles state=$tmp/state config=$tmp/config
. "$(dirname "$0")/lib/checks.sh"

# The real host (unpack wants the packages a jail's files came from), one file of a package and a
# bind, so that mount and umount have something to do.
mkdir -p "$tmp/data" "$pdir"
cat > "$pdir/app.toml" <<'TOML'
users = ["www-data"]
[[files]]
path = "/etc/debian_version"
TOML

# traced N COMMAND...: runs jailbuild with --state-dir and --config-dir under strace; the trace of
# its file system calls (and its children's) is $tmp/trace.N, its output $tmp/out.N.
tracing=no
command -v strace >/dev/null && tracing=yes
traced() {
  local n=$1
  shift
  if [ $tracing = yes ]; then
    strace -f -qq -e trace=%file -o "$tmp/trace.$n" "$JB" "$@" --state-dir "$state" --config-dir "$config" \
      > "$tmp/out.$n" 2>&1
  else
    "$JB" "$@" --state-dir "$state" --config-dir "$config" > "$tmp/out.$n" 2>&1
  fi
}
# check_trace WHAT CONDITION: a check on a trace, skipped (and counted once at the end) without strace.
untraced=0
check_trace() {
  if [ $tracing = yes ]; then check "$1" "$2"; else untraced=$((untraced + 1)); fi
}
# never_default N: the trace shows no look at the default state or configuration directory.
never_default() {
  local trace=$tmp/trace.$1
  check_trace "$1: never looks at /var/lib/jailbuild or /etc/jailbuild" \
    "[ -s '$trace' ] && ! grep -q '\"/var/lib/jailbuild\\|\"/etc/jailbuild' '$trace'"
}
jail=$tmp/jail

traced create create "$jail" --name app --with app --profiles-dir "$pdir" --bind "$tmp/data:/mnt/data" -q
check "create succeeds ($(head -c 300 "$tmp/out.create"))" '[ -f "$jail/etc/debian_version" ]'
check "create registers the jail in the given state dir" 'grep -qx "$jail" "$state/jails"'
check "create writes the definition in the given config dir" '[ -f "$config/jails/app.toml" ]'
never_default create

traced sync sync app -q
check_trace "sync by name reads the given config dir ($(head -c 300 "$tmp/out.sync"))" 'grep -q "$config/jails/app.toml" "$tmp/trace.sync"'
never_default sync
traced sync-all sync --all -q
check_trace "sync --all reads the given registry ($(head -c 300 "$tmp/out.sync-all"))" 'grep -q "\"$state/jails\"" "$tmp/trace.sync-all"'
never_default sync-all

traced mount mount app -q
check "mount accepts them and mounts ($(head -c 300 "$tmp/out.mount"))" 'mountpoint -q "$jail/mnt/data"'
check_trace "mount reads the given registry (another jail is never bound in)" 'grep -q "\"$state/jails\"" "$tmp/trace.mount"'
never_default mount
traced umount umount app -q
check "umount accepts them and unmounts ($(head -c 300 "$tmp/out.umount"))" '! mountpoint -q "$jail/mnt/data"'
never_default umount

traced audit audit app --no-hardening
check "audit accepts them ($(head -c 300 "$tmp/out.audit"))" '! grep -q "not expected" "$tmp/out.audit" && grep -q "findings\|no finding" "$tmp/out.audit"'
check_trace "audit finds the jail by name in the given config dir" 'grep -q "$config/jails" "$tmp/trace.audit"'
never_default audit

traced pack pack app -o "$tmp/app.tar.gz" -q
check "pack accepts them ($(head -c 300 "$tmp/out.pack"))" '[ -s "$tmp/app.tar.gz" ]'
never_default pack

traced snippet nginx-snippet app
check "nginx-snippet accepts them ($(head -c 300 "$tmp/out.snippet"))" '! grep -q "not expected" "$tmp/out.snippet"'
never_default snippet

traced site site accept app -q
check "site accept accepts them ($(head -c 300 "$tmp/out.site"))" '! grep -q "not expected" "$tmp/out.site"'
never_default site

traced list list --json
check "list lists the jail of the given registry ($(head -c 300 "$tmp/out.list"))" 'grep -q "\"$jail\"" "$tmp/out.list"'
check_trace "list reads the given registry" 'grep -q "\"$state/jails\"" "$tmp/trace.list"'
never_default list

traced unpack unpack "$tmp/app.tar.gz" "$tmp/copy" --name copy --profiles-dir "$pdir"
check "unpack registers in the given state dir ($(head -c 300 "$tmp/out.unpack"))" 'grep -qx "$tmp/copy" "$state/jails"'
never_default unpack

traced destroy destroy copy
check "destroy removes the registration from the given state dir ($(head -c 300 "$tmp/out.destroy"))" \
  '! grep -qx "$tmp/copy" "$state/jails" && [ ! -e "$tmp/copy" ] && [ ! -e "$config/jails/copy.toml" ]'
never_default destroy

[ $untraced -eq 0 ] || skip $untraced "strace is not installed: what each command looks at is not watched"
finish
