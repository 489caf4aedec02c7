#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End to end, the runtime-only jail (article 001): the host's php-fpm master, started here with a
# configuration of its own, runs a pool with `chroot = JAIL`; `jailbuild create JAIL --with php-runtime`
# built what its workers need and nothing else; the host's nginx, configured here with the snippet
# `jailbuild nginx-snippet` prints, serves the probe page the full jail's test uses (timezone, iconv,
# DNS, sessions, curl over HTTPS verified against a CA of the test's own, put into the jail's trust
# store with a profile, as an admin would). Then the attack a host nginx invites: the site's user
# plants a symlink out of the jail in its upload directory, and nginx must not follow it.
#
# The pool must be in the host's pool.d for jailbuild to discover it: jailbuild runs in a mount
# namespace of its own where a temporary pool.d is mounted over the real one, so that nothing of the
# host's configuration changes and every mount goes when the namespace does.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../scripts/lib/serve.sh"

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (chroot, chown, mknod, mount namespace); CI runs as root"; exit 77; }
fpm=$(ls /usr/sbin/php-fpm* 2>/dev/null | head -n1)
[ -x /usr/sbin/nginx ] && [ -n "$fpm" ] ||
  { echo "SKIP: nginx and php-fpm are not installed (scripts/bootstrap.sh installs them)"; exit 77; }
for tool in openssl curl unshare; do
  command -v $tool >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
php=${fpm#/usr/sbin/php-fpm}

tmp=$(mktemp -d /tmp/jb-rt.XXXXXX)
chmod 755 "$tmp" # nginx's workers (www-data) reach the site and the socket below it
jail=$tmp/jail
port=$((20000 + RANDOM % 20000))
tls_port=$((port + 1))
cleanup() {
  stop_pid "$tmp/nginx.pid"
  stop_pid "$tmp/fpm.pid"
  rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
. "$here/lib/checks.sh"

# --- the host's side: a pool whose workers chroot into the jail, a CA and a server certificate -----
mkdir -p "$tmp/pool.d" "$tmp/sock" "$tmp/profiles" "$tmp/tls/www" "$tmp/outside"
cat > "$tmp/pool.d/site.conf" <<EOF2
[site]
user = www-data
group = www-data
listen = $tmp/sock/site.sock
listen.owner = www-data
listen.group = www-data
pm = static
pm.max_children = 2
chroot = $jail
chdir = /
catch_workers_output = yes
php_admin_value[session.save_path] = /var/lib/php/sessions
php_admin_value[upload_tmp_dir] = /var/tmp/uploads
EOF2
cat > "$tmp/php-fpm.conf" <<EOF2
[global]
pid = $tmp/fpm.pid
error_log = $tmp/fpm.log
include = $tmp/pool.d/*.conf
EOF2
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=jailbuild test CA" \
  -keyout "$tmp/tls/ca.key" -out "$tmp/tls/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$tmp/tls/server.key" \
  -out "$tmp/tls/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$tmp/tls/san.ext"
openssl x509 -req -in "$tmp/tls/server.csr" -CA "$tmp/tls/ca.pem" -CAkey "$tmp/tls/ca.key" \
  -CAcreateserial -days 2 -extfile "$tmp/tls/san.ext" -out "$tmp/tls/server.pem" 2>/dev/null
echo pong > "$tmp/tls/www/ping.txt"
echo "the host's secret" > "$tmp/outside/secret.txt"
chmod 644 "$tmp/outside/secret.txt"
# The admin's trust store for the jail: the host's CAs and the test's own, as a profile that replaces
# the built-in ca-certificates.
cat /etc/ssl/certs/ca-certificates.crt "$tmp/tls/ca.pem" > "$tmp/tls/bundle.crt"
cat > "$tmp/profiles/ca-certificates.toml" <<EOF2
description = "test: the host's CAs and the test's own CA"
[[files]]
path = "$tmp/tls/bundle.crt"
dest = "/etc/ssl/certs/ca-certificates.crt"
[[symlinks]]
path = "/usr/lib/ssl/cert.pem"
target = "/etc/ssl/certs/ca-certificates.crt"
EOF2

# jailbuild ARGS...: run with the test's pool.d over the host's, in a mount namespace of its own.
jb() {
  unshare -m --propagation private sh -c 'mount --bind "$1" "/etc/php/$2/fpm/pool.d" && shift 2 && exec "$@"' \
    sh "$tmp/pool.d" "$php" "$JB" "$@"
}
# The master's own configuration includes the same pool.d; the real pool.d gets a site.conf only in
# the namespace, so the master (outside) is given it by its --fpm-config.

# --- the jail ------------------------------------------------------------------------------------
out=$(jb create "$jail" --with php-runtime --writable /var/www/site/uploads:www-data --writable /var/www/data:www-data \
  --profiles-dir "$tmp/profiles" --state-dir "$tmp/state" --config-dir "$tmp/state.config" -q 2>&1)
check "create --with php-runtime" '[ $? -eq 0 ] || { echo "$out"; false; }'
check "no php-fpm in the jail" '[ -z "$(find "$jail" -name "php-fpm*" -print -quit)" ]'
check "no PHP configuration in the jail" '[ ! -e "$jail/etc/php" ]'
check "no shell in the jail" '[ ! -e "$jail/bin/sh" ] && [ ! -e "$jail/usr/bin/sh" ] && [ ! -e "$jail/usr/bin/bash" ]'
check "no extension in the jail" '[ -z "$(find "$jail" -path "*/usr/lib/php/*" -print -quit)" ]'
check "sessions dir the pool user's alone" '[ "$(stat -c %a:%U "$jail/var/lib/php/sessions")" = "700:www-data" ]'
check "upload tmp dir the pool user's" '[ "$(stat -c %U "$jail/var/tmp/uploads")" = www-data ]'
check "zoneinfo, gconv and the CA bundle" '[ -e "$jail/usr/share/zoneinfo/Europe/Paris" ] && [ -n "$(ls "$jail"/usr/lib/*/gconv/CP1252.so)" ] && grep -q "$(sed -n 2p "$tmp/tls/ca.pem")" "$jail/etc/ssl/certs/ca-certificates.crt"'
check "passwd holds the pool user only" '[ "$(cut -d: -f1 "$jail/etc/passwd")" = www-data ]'
check "a second create changes nothing" '[ "$(jb create "$jail" --with php-runtime --writable /var/www/site/uploads:www-data --writable /var/www/data:www-data --profiles-dir "$tmp/profiles" --state-dir "$tmp/state" --config-dir "$tmp/state.config" --json | python3 -c "import json,sys; print(json.load(sys.stdin)[\"bytes_written\"])")" = 0 ]'
out=$(jb create "$tmp/elsewhere" --with php-runtime --profiles-dir "$tmp/profiles" --state-dir "$tmp/state" --config-dir "$tmp/state.config" 2>&1)
check "a jail elsewhere than the pool's chroot is refused" '[ $? -eq 2 ] && grep -q "chroot into $jail" <<<"$out"'

# --- the site, php-fpm's master on the host, nginx on the host with the snippet ------------------
mkdir -p "$jail/var/www/site"
echo pong > "$jail/var/www/site/ping.txt"
probe_page "$port" "https://127.0.0.1:$tls_port/ping.txt" > "$jail/var/www/site/index.php"
# What a compromised site does: a link out of the jail in a directory it may write.
cat > "$jail/var/www/site/plant.php" <<'PHP'
<?php @unlink('/var/www/site/uploads/leak.txt');
echo symlink($_GET['to'], '/var/www/site/uploads/leak.txt') ? "planted\n" : "refused\n";
PHP
jb nginx-snippet "$jail" --config-dir "$tmp/state.config" --docroot /var/www/site > "$tmp/site.conf"
check "nginx-snippet" '[ $? -eq 0 ] && grep -q "fastcgi_pass unix:$tmp/sock/site.sock;" "$tmp/site.conf"'
cat "$tmp/site.conf"
host_nginx_conf "$tmp" > "$tmp/nginx.conf" <<EOF2
  server {
    listen 127.0.0.1:$port;
    include $tmp/site.conf;
  }
  server {
    listen 127.0.0.1:$tls_port ssl;
    ssl_certificate $tmp/tls/server.pem;
    ssl_certificate_key $tmp/tls/server.key;
    root $tmp/tls/www;
  }
EOF2
check "nginx -t with the snippet" '/usr/sbin/nginx -t -c "$tmp/nginx.conf" 2>/dev/null'
"$fpm" --fpm-config "$tmp/php-fpm.conf" --nodaemonize &
/usr/sbin/nginx -c "$tmp/nginx.conf"
for i in $(seq 1 50); do
  [ -S "$tmp/sock/site.sock" ] && curl -fsS -o /dev/null "http://127.0.0.1:$port/ping.txt" 2>/dev/null && break
  sleep 0.1
done
page=$(curl -sS "http://127.0.0.1:$port/index.php")
echo "$page"
for want in tzdata date iconv dns worker-user no-uid-0 session sqlite intl gd curl curl-tls no-shell mbstring xml; do
  check "page: $want" 'grep -qx "ok $want" <<<"$page"'
done
check "page has no failure" '! grep -q "^FAIL" <<<"$page"'
check "no 'Primary script unknown'" '! grep -q "Primary script unknown" "$tmp/nginx-error.log" "$tmp/fpm.log" 2>/dev/null'
check "PATH_INFO and a missing script" '[ "$(curl -s -o /dev/null -w %{http_code} "http://127.0.0.1:$port/nope.php")" = 404 ]'

# --- the attack: a link the site planted must not make the host's nginx serve a host file ---------
planted=$(curl -sS "http://127.0.0.1:$port/plant.php?to=$tmp/outside/secret.txt")
check "the site planted its link" '[ "$planted" = planted ]'
leak=$(curl -sS -w ' %{http_code}' "http://127.0.0.1:$port/uploads/leak.txt")
echo "GET /uploads/leak.txt: $leak"
check "the host's nginx does not follow the site's link out of the jail" '! grep -q "host.s secret" <<<"$leak" && [ "${leak##* }" = 403 ]'
[ "$fail" -eq 0 ] || cat "$tmp/fpm.log" "$tmp/nginx-error.log" 2>/dev/null
finish
