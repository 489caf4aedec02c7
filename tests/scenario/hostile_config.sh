#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Host configuration that would stop or crash the planner, through the CLI, on a fake host root: a
# FIFO in php-fpm's conf.d (create and sync used to wait on it forever), a FIFO that nginx includes,
# an nginx.conf with 200,000 nested blocks (a stack overflow), and a 10 GiB sparse php.ini (slurped
# whole). Each run is capped in time and address space, so that a regression fails instead of hanging.
set -u
: "${JB:?JB must name the jailbuild binary}"
: "${JB_FIXTURE_ROOT:?JB_FIXTURE_ROOT must name the fake host root}"
[ -f "$JB_FIXTURE_ROOT/.complete" ] || { echo "FAIL: $JB_FIXTURE_ROOT is not a complete fake root"; exit 1; }
command -v prlimit >/dev/null || { echo "SKIP: prlimit (util-linux) is not installed"; exit 77; }

tmp=$(mktemp -d /tmp/jb-hostile-config.XXXXXX)
trap 'rm -rf --one-file-system "$tmp"' EXIT
. "$(dirname "$0")/lib/checks.sh"

# A fake host: the fixture root (an ELF program and its libraries) with php-fpm 8.2 and nginx laid
# out as Debian does, their binaries stood in by the fixture's hello program. Profiles that take
# only what discovery finds, so that the host needs nothing else.
host=$tmp/host
cp -a "$JB_FIXTURE_ROOT" "$host"
fpm=$host/etc/php/8.2/fpm
mkdir -p "$host/usr/sbin" "$host/usr/lib/php/20220829" "$fpm/conf.d" "$fpm/pool.d" "$host/etc/nginx/sites-enabled"
cp "$host/usr/bin/hello" "$host/usr/sbin/php-fpm8.2"
cp "$host/usr/bin/hello" "$host/usr/sbin/nginx"
printf 'extension_dir = /usr/lib/php/20220829\n' >"$fpm/php.ini"
printf '[global]\ninclude=/etc/php/8.2/fpm/pool.d/*.conf\n' >"$fpm/php-fpm.conf"
printf '[www]\nuser = www-data\nlisten = /run/php/php8.2-fpm.sock\n' >"$fpm/pool.d/www.conf"
printf 'user www-data;\nevents {}\nhttp { include /etc/nginx/sites-enabled/*; }\n' >"$host/etc/nginx/nginx.conf"
printf 'root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n' >"$host/etc/passwd"
printf 'root:x:0:\nwww-data:x:33:\n' >"$host/etc/group"
mkdir "$tmp/profiles"
printf 'description = "php-fpm as discovered"\ndiscover = "php-fpm"\nusers = ["www-data"]\n' >"$tmp/profiles/fpm.toml"
printf 'description = "nginx as discovered"\ndiscover = "nginx"\n' >"$tmp/profiles/web.toml"

# plan WITH: create --dry-run on the fake host, within 30 s and 1 GiB; exit code in $rc.
plan() {
  timeout 30 prlimit --as=$((1 << 30)) "$JB" create "$tmp/jail" --with "$1" --profiles-dir "$tmp/profiles" \
    --host-root "$host" --state-dir "$tmp/state" --config-dir "$tmp/state.config" --dry-run >"$tmp/out" 2>"$tmp/err"
  rc=$?
}
stderr_is() { [ "$(cat "$tmp/err")" = "$1" ] || { echo "    stderr: $(head -c 300 "$tmp/err")"; false; }; }

echo "== a FIFO in php-fpm's conf.d"
plan fpm
check "the fake host plans (exit 0)" '[ $rc -eq 0 ]'
mkfifo "$fpm/conf.d/99-x.ini"
plan fpm
check "create skips it as PHP does, with a warning, instead of waiting (exit 0, not 124)" \
  '[ $rc -eq 0 ] && grep -qx "warning: /etc/php/8.2/fpm/conf.d/99-x.ini: not a regular file: PHP skips it" "$tmp/out"'
rm "$fpm/conf.d/99-x.ini"

echo "== a FIFO that nginx includes"
mkfifo "$host/etc/nginx/sites-enabled/default"
plan web
check "create refuses it, naming it (exit 2, not 124)" \
  '[ $rc -eq 2 ] && stderr_is "jailbuild: /etc/nginx/sites-enabled/default: not a regular file"'
rm "$host/etc/nginx/sites-enabled/default"

echo "== nginx.conf with 200,000 nested blocks"
cp "$host/etc/nginx/nginx.conf" "$tmp/nginx.conf.good"
python3 -c 'import sys; sys.stdout.write("events {}\n" + "http {" * 200000 + "}" * 200000 + "\n")' >"$host/etc/nginx/nginx.conf"
plan web
check "create refuses it, naming file and line (exit 2, not 139)" \
  '[ $rc -eq 2 ] && stderr_is "jailbuild: /etc/nginx/nginx.conf: line 2: blocks nested more than 64 deep"'
cp "$tmp/nginx.conf.good" "$host/etc/nginx/nginx.conf"

echo "== a 10 GiB sparse php.ini in conf.d"
truncate -s 10G "$fpm/conf.d/99-big.ini"
plan fpm
check "create refuses it unread (exit 2, not std::bad_alloc)" \
  '[ $rc -eq 2 ] && stderr_is "jailbuild: /etc/php/8.2/fpm/conf.d/99-big.ini: larger than 64 MiB: not read"'
rm "$fpm/conf.d/99-big.ini"

echo "== sync after a FIFO appeared in conf.d"
if [ "$(id -u)" -ne 0 ]; then
  skip 2 "sync after a FIFO: it needs a real jail, which needs root (create sets owners)"
else
  "$JB" create "$tmp/jail" --with fpm --profiles-dir "$tmp/profiles" --host-root "$host" \
    --state-dir "$tmp/state" --config-dir "$tmp/state.config" --no-audit -q >"$tmp/out" 2>"$tmp/err"
  check "a jail of the fake host is made" '[ $? -eq 0 ] || { cat "$tmp/err"; false; }'
  mkfifo "$fpm/conf.d/99-x.ini"
  timeout 30 "$JB" sync "$tmp/jail" --state-dir "$tmp/state" --config-dir "$tmp/state.config" --json >"$tmp/out" 2>"$tmp/err"
  rc=$?
  check "sync plans again and skips it (exit 0, not 124)" \
    '[ $rc -eq 0 ] && grep -q "\"planned\": *true" "$tmp/out" || { echo "    rc $rc: $(head -c 300 "$tmp/err")"; false; }'
fi

finish
