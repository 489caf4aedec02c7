#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End to end: a real nginx + php-fpm jail serves requests while a PHP extension is installed on the
# host with apt and the jail is synced: zero failed requests; after a php-fpm reload the extension is
# loaded in the jail; purged on the host and synced again, it is gone.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../scripts/lib/serve.sh"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (apt, chroot); CI runs as root"; exit 77; }
[ -x /usr/sbin/nginx ] && ls /usr/sbin/php-fpm* >/dev/null 2>&1 ||
  { echo "SKIP: nginx and php-fpm are not installed (scripts/bootstrap.sh installs them)"; exit 77; }
php=$(basename /usr/sbin/php-fpm* | head -1 | sed 's/^php-fpm//')
pkg=php$php-bcmath
export DEBIAN_FRONTEND=noninteractive
# Start from a host without the extension.
dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null | grep -qx installed && apt-get purge -y -qq "$pkg" >/dev/null
apt-get install -y -qq --download-only "$pkg" >/dev/null 2>&1 ||
  { echo "SKIP: $pkg cannot be downloaded from the Debian archive here"; exit 77; }

tmp=$(mktemp -d /tmp/jb-e2e-sync.XXXXXX)
jail=$tmp/jail
port=$((20000 + RANDOM % 20000))
cleanup() {
  jail_stop "$jail"
  dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null | grep -qx installed && apt-get purge -y -qq "$pkg" >/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
. "$(dirname "$0")/lib/checks.sh"

"$JB" create "$jail" --with nginx,php-fpm --state-dir "$tmp/state" --config-dir "$tmp/state.config" -q || { flunk "create"; finish; }
jail_write_site "$jail" "$port"
echo '<?php echo extension_loaded("bcmath") ? "bcmath yes\n" : "bcmath no\n";' > "$jail/var/www/site/ext.php"
jail_start "$jail" "$port" || exit 1
check "before: bcmath not loaded" '[ "$(curl -fsS "http://127.0.0.1:$port/ext.php")" = "bcmath no" ]'

# Requests all along, PHP and static, counted.
load() {
  local ok=0 bad=0
  while [ ! -e "$tmp/stop" ]; do
    for u in ext.php ping.txt; do
      if curl -fsS -o /dev/null --max-time 5 "http://127.0.0.1:$port/$u"; then ok=$((ok + 1)); else bad=$((bad + 1)); fi
    done
  done
  echo "$ok $bad" > "$tmp/load"
}
load &
loader=$!
apt-get install -y -qq "$pkg" >/dev/null || { flunk "apt-get install $pkg"; }
"$JB" sync "$jail" --state-dir "$tmp/state" --config-dir "$tmp/state.config" > "$tmp/sync.txt"; rc=$?
cat "$tmp/sync.txt"
sleep 1
touch "$tmp/stop"; wait "$loader"
read -r ok bad < "$tmp/load"
echo "requests during install and sync: $ok answered, $bad failed"
check "sync succeeded" '[ $rc -eq 0 ]'
check "sync added bcmath.so" 'grep -q "added .*bcmath.so" "$tmp/sync.txt"'
check "zero failed requests while syncing" '[ "$bad" -eq 0 ] && [ "$ok" -gt 0 ]'
kill -USR2 "$(cat "$jail/run/php/php$php-fpm.pid")"
sleep 2
check "after a php-fpm reload: bcmath loaded in the jail" '[ "$(curl -fsS "http://127.0.0.1:$port/ext.php")" = "bcmath yes" ]'

apt-get purge -y -qq "$pkg" >/dev/null || { flunk "apt-get purge $pkg"; }
"$JB" sync "$jail" --state-dir "$tmp/state" --config-dir "$tmp/state.config" > "$tmp/sync.txt"; rc=$?
cat "$tmp/sync.txt"
check "after purge: sync removed bcmath.so" 'grep -q "removed .*bcmath.so" "$tmp/sync.txt" && [ -z "$(find "$jail" -name bcmath.so)" ]'
kill -USR2 "$(cat "$jail/run/php/php$php-fpm.pid")"
sleep 2
check "after purge and reload: bcmath not loaded" '[ "$(curl -fsS "http://127.0.0.1:$port/ext.php")" = "bcmath no" ]'
# A link may dangle only where it dangles on the host too (Debian's /usr/share/nginx/modules without modules).
dangling_here_only() { local l; find "$jail" -xtype l | while read -r l; do [ -e "${l#$jail}" ] && echo "$l"; done; }
check "nothing dangles that does not dangle on the host" '[ -z "$(dangling_here_only)" ]'
finish
