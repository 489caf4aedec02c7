#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A profile's [[files]] keep their host owner and group, mapped by name to the jail's accounts
# (issue #18: phpMyAdmin's 0640 root:www-data config-db.php was copied root:root and became unreadable
# by the pool). An account the jail lacks is refused when the mode gives it access, nothing written;
# the owner/group keys override; setuid/setgid never kept; audit takes the kept group as planned;
# sync keeps it; an admin's --file keeps its group too, its owner is root.
set -u
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (create sets owners)"; exit 77; }

tmp=$(mktemp -d /tmp/jb-owners.XXXXXX)
trap 'rm -rf --one-file-system "$tmp"' EXIT
host=$tmp/host pdir=$tmp/profiles state=$tmp/state config=$tmp/config
. "$(dirname "$0")/lib/checks.sh"
jb() { "$JB" "$@" --state-dir "$state" --config-dir "$config"; }

# --- a fake host: its accounts, and files owned as Debian's packages own them
mkdir -p "$host"/etc/{app/private,other} "$host/srv" "$pdir"
# The planner tells the architecture from the host's C library, which is all of the host's ELF here.
libc=$(ls /usr/lib/*/libc.so.6 | head -n 1)
mkdir -p "$host/usr/lib/$(basename "$(dirname "$libc")")"
cp "$libc" "$host/usr/lib/$(basename "$(dirname "$libc")")/"
cat > "$host/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/bash
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
alice:x:1000:1000:Alice:/home/alice:/bin/bash
EOF
cat > "$host/etc/group" <<'EOF'
root:x:0:
mail:x:8:
www-data:x:33:
alice:x:1000:
web:x:1234:www-data
EOF
put() { # put PATH MODE OWNER:GROUP
  echo "content of $1" > "$host$1"
  chown "$3" "$host$1"
  chmod "$2" "$host$1"
}
put /etc/app/config-db.php 0640 0:1234  # root:web, the pool reads it through the group
put /etc/app/pool.conf 0640 0:33        # root:www-data, the pool user's primary group
put /etc/app/public.conf 0644 0:8       # root:mail, whose group bits give nothing beyond others'
put /etc/app/tool 2755 0:1234           # setgid web
put /etc/app/helper 4755 0:0            # setuid root
put /etc/app/private/key.php 0640 0:1234
chown 0:1234 "$host/etc/app/private" && chmod 0750 "$host/etc/app/private" # a directory only web may enter
put /etc/other/mail.conf 0640 0:8       # root:mail, readable by a group the jail lacks
put /etc/other/alice.conf 0600 1000:1000
put /srv/site.conf 0640 0:33
put /srv/mail.conf 0640 0:8

cat > "$pdir/app.toml" <<'TOML'
users = ["www-data"]
groups = ["web"]
[[files]]
path = "/etc/app"
recursive = true
TOML
cat > "$pdir/badgroup.toml" <<'TOML'
users = ["www-data"]
[[files]]
path = "/etc/other/mail.conf"
TOML
cat > "$pdir/badowner.toml" <<'TOML'
[[files]]
path = "/etc/other/alice.conf"
TOML
cat > "$pdir/override.toml" <<'TOML'
users = ["www-data"]
[[files]]
path = "/etc/other/mail.conf"
group = "www-data"
[[files]]
path = "/etc/other/alice.conf"
owner = "root"
group = "root"
TOML

owner_of() { stat -c '%u:%g %a' "$1"; }
jail_gid() { awk -F: -v n="$2" '$1 == n { print $3 }' "$1/etc/group"; }

# --- kept, mapped by name
jail=$tmp/jail
jb create "$jail" --with app --host-root "$host" --profiles-dir "$pdir" -q 2> "$tmp/err" ||
  { flunk "create --with app ($(cat "$tmp/err"))"; finish; }
web=$(jail_gid "$jail" web)
check "the jail has the group web" '[ -n "$web" ]'
check "0640 root:web stays root:web with the jail's gid of web ($(owner_of "$jail/etc/app/config-db.php"))" \
  '[ "$(owner_of "$jail/etc/app/config-db.php")" = "0:$web 640" ]'
check "0640 root:www-data stays root:www-data ($(owner_of "$jail/etc/app/pool.conf"))" \
  '[ "$(owner_of "$jail/etc/app/pool.conf")" = "0:$(jail_gid "$jail" www-data) 640" ]'
check "a group the jail lacks, which the mode gives nothing more, becomes root ($(owner_of "$jail/etc/app/public.conf"))" \
  '[ "$(owner_of "$jail/etc/app/public.conf")" = "0:0 644" ]'
check "setgid is not kept ($(owner_of "$jail/etc/app/tool"))" '[ "$(owner_of "$jail/etc/app/tool")" = "0:$web 755" ]'
check "setuid is not kept ($(owner_of "$jail/etc/app/helper"))" '[ "$(owner_of "$jail/etc/app/helper")" = "0:0 755" ]'
check "a 0750 root:web directory stays root:web ($(owner_of "$jail/etc/app/private"))" \
  '[ "$(owner_of "$jail/etc/app/private")" = "0:$web 750" ]'
check "... and its directory copied whole, root's ($(owner_of "$jail/etc/app"))" '[ "$(owner_of "$jail/etc/app")" = "0:0 755" ]'
jb audit "$jail" --json > "$tmp/audit.json"
check "audit finds nothing about the kept owners" '! grep -q "/etc/app/" "$tmp/audit.json"'

# --- sync keeps it; a host chgrp reaches the jail
sleep 2.1 # a record made within two seconds of the host's writes is racy (inputs.hpp)
jb sync "$jail" -q
check "sync keeps root:web" '[ "$(owner_of "$jail/etc/app/config-db.php")" = "0:$web 640" ]'
check "a no-op sync changes nothing" \
  'jb sync "$jail" --json | python3 -c "import json,sys; sys.exit(len(json.load(sys.stdin)[0][\"changes\"]))"'
chgrp 33 "$host/etc/app/config-db.php"
jb sync "$jail" -q
check "a host chgrp to www-data reaches the jail" \
  '[ "$(owner_of "$jail/etc/app/config-db.php")" = "0:$(jail_gid "$jail" www-data) 640" ]'

# --- refused: an account the jail lacks, which the mode gives access
err=$(jb create "$tmp/bad1" --with badgroup --host-root "$host" --profiles-dir "$pdir" -q 2>&1)
rc=$?
check "a group the jail lacks is refused, naming file and group (exit $rc: $err)" \
  '[ $rc -eq 2 ] && grep -q "/etc/other/mail.conf" <<<"$err" && grep -q "group mail" <<<"$err"'
check "nothing written" '[ ! -e "$tmp/bad1" ] && [ ! -e "$config/jails/bad1.toml" ]'
err=$(jb create "$tmp/bad2" --with badowner --host-root "$host" --profiles-dir "$pdir" -q 2>&1)
rc=$?
check "an owner the jail lacks is refused, naming file and user (exit $rc: $err)" \
  '[ $rc -eq 2 ] && grep -q "/etc/other/alice.conf" <<<"$err" && grep -q "user alice" <<<"$err"'
check "nothing written" '[ ! -e "$tmp/bad2" ] && [ ! -e "$config/jails/bad2.toml" ]'

# --- the profile says otherwise
jb create "$tmp/over" --with override --host-root "$host" --profiles-dir "$pdir" -q 2> "$tmp/err" ||
  flunk "create --with override ($(cat "$tmp/err"))"
check "group = \"www-data\" ($(owner_of "$tmp/over/etc/other/mail.conf"))" \
  '[ "$(owner_of "$tmp/over/etc/other/mail.conf")" = "0:$(jail_gid "$tmp/over" www-data) 640" ]'
check "owner = \"root\", group = \"root\" ($(owner_of "$tmp/over/etc/other/alice.conf"))" \
  '[ "$(owner_of "$tmp/over/etc/other/alice.conf")" = "0:0 600" ]'
check "the override's accounts only: alice is not in the jail" '! grep -q "^alice:" "$tmp/over/etc/passwd"'

# --- an admin's --file: root's, in its host group when the jail has it
jb create "$tmp/own" --with app --host-root "$host" --profiles-dir "$pdir" --file /srv/site.conf:/etc/site.conf -q \
  2> "$tmp/err" || flunk "create --file ($(cat "$tmp/err"))"
check "--file keeps root:www-data 0640 ($(owner_of "$tmp/own/etc/site.conf"))" \
  '[ "$(owner_of "$tmp/own/etc/site.conf")" = "0:$(jail_gid "$tmp/own" www-data) 640" ]'
err=$(jb create "$tmp/own2" --with app --host-root "$host" --profiles-dir "$pdir" --file /srv/mail.conf:/etc/mail.conf -q 2>&1)
rc=$?
check "--file with a group the jail lacks is refused (exit $rc: $err)" \
  '[ $rc -eq 2 ] && grep -q "/srv/mail.conf" <<<"$err" && grep -q "group mail" <<<"$err" && [ ! -e "$tmp/own2" ]'

finish
