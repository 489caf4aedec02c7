#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Two sites on one host, end to end (issue #12 item 9), as README's "Hosting several sites" does it:
# host pools blog and shop, each with a Unix user of its own; one jail per site (`create --pool`), its
# php-fpm started inside it with chroot(8); the host's nginx serving both through the snippets
# `jailbuild nginx-snippet --nginx host -o` wrote. Then what keeps a compromise of blog inside blog:
# blog's PHP cannot read shop's code or sessions (by the host's paths or the jail's) nor see shop's
# user, and blog's jail holds no file of shop's pool. And what keeps the admin's intent: a pool added
# on the host reaches neither jail after sync; a conffile deleted in the jail stays deleted through
# sync and a create re-run; an excluded path never appears; a file of the admin's own (`--file`,
# blog's php.ini settings) passes the audit and follows the host copy's edits into the running site.
#
# Nothing of the host changes: the pools, and the users blog and shop, exist only in a mount namespace
# of jailbuild's own where a temporary pool.d, passwd and group are mounted over the host's (they go
# with the namespace); the jails, nginx's configuration, state and definitions live in a temp dir.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../scripts/lib/serve.sh" # stop_pid
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (chroot, chown, mknod, mount namespace); CI runs as root"; exit 77; }
fpm=$(ls /usr/sbin/php-fpm* 2>/dev/null | head -n1)
[ -x /usr/sbin/nginx ] && [ -n "$fpm" ] ||
  { echo "SKIP: nginx and php-fpm are not installed (scripts/bootstrap.sh installs them)"; exit 77; }
for tool in curl unshare python3; do
  command -v $tool >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
php=${fpm#/usr/sbin/php-fpm}
blog_uid=64201 shop_uid=64202 # users of the namespace's passwd only; must be free on the host
awk -F: -v a=$blog_uid -v b=$shop_uid '$3 == a || $3 == b { found = 1 } END { exit !found }' /etc/passwd /etc/group &&
  { echo "SKIP: uid or gid $blog_uid or $shop_uid is taken on this host"; exit 77; }

tmp=$(mktemp -d /tmp/jb-sites.XXXXXX)
chmod 755 "$tmp" # nginx's workers (www-data) reach the sites and the sockets below it
blog=$tmp/blog shop=$tmp/shop own=$tmp/own
port_blog=$((20000 + RANDOM % 20000))
port_shop=$((port_blog + 1))
fpm_pid=/run/php/php$php-fpm.pid # php-fpm.conf's pid, inside each jail
cleanup() {
  stop_pid "$tmp/nginx.pid"
  stop_pid "$blog$fpm_pid"
  stop_pid "$shop$fpm_pid"
  rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
. "$here/lib/checks.sh"

# --- the host's side: two pools, their users, blog's own php settings --------------------------------
mkdir -p "$tmp/pool.d" "$tmp/etc" "$own"
cp /etc/passwd /etc/group "$tmp/etc/"
for site in blog shop; do
  uid=$blog_uid
  [ $site = shop ] && uid=$shop_uid
  echo "$site:x:$uid:$uid:$site:/var/www/$site:/usr/sbin/nologin" >> "$tmp/etc/passwd"
  echo "$site:x:$uid:" >> "$tmp/etc/group"
  cat > "$tmp/pool.d/$site.conf" <<EOF2
[$site]
user = $site
group = $site
listen = /run/php/$site.sock
listen.owner = www-data
listen.group = www-data
pm = static
pm.max_children = 1
chdir = /var/www/$site
php_admin_value[session.save_path] = /var/lib/php/sessions-$site
EOF2
done
echo "memory_limit = 77M" > "$own/blog.ini"
# jailbuild as the admin runs it on such a host; every command with the test's state and config
# (nginx-snippet keeps no state: --config-dir only).
jb() {
  local dirs=(--state-dir "$tmp/state" --config-dir "$tmp/config")
  [ "$1" = nginx-snippet ] && dirs=(--config-dir "$tmp/config")
  unshare -m --propagation private sh -c 'mount --bind "$1/pool.d" "/etc/php/$2/fpm/pool.d" &&
    mount --bind "$1/etc/passwd" /etc/passwd && mount --bind "$1/etc/group" /etc/group &&
    shift 2 && exec "$@"' sh "$tmp" "$php" "$JB" "$@" "${dirs[@]}"
}
create_blog() {
  jb create "$blog" --with php-fpm --pool blog --writable /var/www/blog/uploads:blog \
    --exclude '/etc/php/*/cli' --file "$own/blog.ini:/etc/php/$php/fpm/conf.d/99-blog.ini" "$@"
}
create_shop() { jb create "$shop" --with php-fpm --pool shop --writable /var/www/shop/uploads:shop --exclude '/etc/php/*/cli' "$@"; }

# --- one jail per site -------------------------------------------------------------------------------
out=$(create_blog -q 2>&1)
check "create blog --pool blog" '[ $? -eq 0 ] || { echo "$out"; false; }'
out=$(create_shop -q 2>&1)
check "create shop --pool shop" '[ $? -eq 0 ] || { echo "$out"; false; }'
[ "$fail" -eq 0 ] || finish
check "each jail has its own pool file only" '[ "$(ls "$blog/etc/php/$php/fpm/pool.d")" = blog.conf ] && [ "$(ls "$shop/etc/php/$php/fpm/pool.d")" = shop.conf ]'
found=$(find "$blog" -xdev -path "*shop*"; grep -rIl shop "$blog/etc" "$blog/run" "$blog/var")
check "blog's jail holds no file of shop's pool (no path, no text naming shop)" '[ -z "$found" ] || { echo "$found"; false; }'
check "shop's user is not in blog's jail, nor blog's in shop's" '! grep -q "^shop:" "$blog/etc/passwd" "$blog/etc/group" && ! grep -q "^blog:" "$shop/etc/passwd" "$shop/etc/group"'
check "the excluded path is not in either jail" '[ ! -e "$blog/etc/php/$php/cli" ] && [ ! -e "$shop/etc/php/$php/cli" ]'
check "blog's own file is there" 'cmp -s "$own/blog.ini" "$blog/etc/php/$php/fpm/conf.d/99-blog.ini"'

# --- the sites' code: shop keeps a secret in its code and its session; blog probes for them -------------
mkdir -p "$blog/var/www/blog" "$shop/var/www/shop"
cat > "$shop/var/www/shop/index.php" <<'PHP'
<?php
// SHOP-SECRET-CODE
session_start();
$_SESSION['card'] = 'SHOP-SECRET-SESSION';
echo "shop ", posix_getpwuid(posix_geteuid())['name'], " ", session_id(), "\n";
PHP
cat > "$blog/var/www/blog/index.php" <<PHP
<?php
// Each line: "ok <check>" or "FAIL <check>: <detail>".
function check(\$name, \$ok, \$detail = '') { echo (\$ok ? "ok \$name" : "FAIL \$name: \$detail"), "\n"; }
\$sid = preg_replace('/[^a-z0-9]/', '', \$_GET['sid'] ?? '');
check('blog-php', posix_getpwuid(posix_geteuid())['name'] === 'blog', posix_geteuid());
check('own-code-readable', strpos(file_get_contents(__FILE__), 'blog-php') !== false); // the probes below can read
foreach (['$shop/var/www/shop/index.php', '/var/www/shop/index.php', '../shop/index.php',
          '$shop/var/lib/php/sessions-shop/sess_' . \$sid, '/var/lib/php/sessions-shop/sess_' . \$sid] as \$p) {
  \$got = @file_get_contents(\$p);
  check("cannot-read \$p", \$got === false, substr((string)\$got, 0, 80));
}
foreach (['$shop', '$shop/var/www/shop', '/var/www/shop', '$shop/var/lib/php/sessions-shop', '/var/lib/php/sessions-shop'] as \$d)
  check("cannot-see \$d", !@file_exists(\$d) && @scandir(\$d) === false);
check('no-shop-user', posix_getpwnam('shop') === false && posix_getpwuid($shop_uid) === false && posix_getgrnam('shop') === false);
echo "memory_limit ", ini_get('memory_limit'), "\n";
PHP

# --- the host's nginx in front of both, through the generated snippets --------------------------------
mkdir -p "$tmp/nginx"
out=$(jb nginx-snippet blog --nginx host -o "$tmp/nginx/blog.conf" 2>&1 && jb nginx-snippet shop --nginx host -o "$tmp/nginx/shop.conf" 2>&1)
check "nginx-snippet blog and shop (by name)" '[ $? -eq 0 ] && grep -q "fastcgi_pass unix:$shop/run/php/shop.sock;" "$tmp/nginx/shop.conf" || { echo "$out"; false; }'
host_nginx_conf "$tmp" > "$tmp/nginx.conf" <<EOF2
  server { listen 127.0.0.1:$port_blog; include $tmp/nginx/blog.conf; }
  server { listen 127.0.0.1:$port_shop; include $tmp/nginx/shop.conf; }
EOF2
check "nginx -t with both snippets" '/usr/sbin/nginx -t -c "$tmp/nginx.conf" 2>/dev/null'
for jail in "$blog" "$shop"; do
  chroot "$jail" "/usr/sbin/php-fpm$php" --fpm-config "/etc/php/$php/fpm/php-fpm.conf" || flunk "php-fpm in $jail"
done
/usr/sbin/nginx -c "$tmp/nginx.conf" || flunk "the host's nginx"
for i in $(seq 1 50); do
  [ -S "$blog/run/php/blog.sock" ] && [ -S "$shop/run/php/shop.sock" ] && break
  sleep 0.1
done

shop_page=$(curl -sS "http://127.0.0.1:$port_shop/index.php")
sid=$(awk '{ print $3 }' <<<"$shop_page")
check "shop serves PHP as its user, with a session" '[[ "$shop_page" =~ ^shop\ shop\ [a-z0-9]+$ ]] && grep -qs SHOP-SECRET-SESSION "$shop/var/lib/php/sessions-shop/sess_$sid" || { echo "$shop_page"; false; }'
blog_page=$(curl -sS "http://127.0.0.1:$port_blog/index.php?sid=$sid")
echo "$blog_page"
check "blog serves PHP as its user" 'grep -qx "ok blog-php" <<<"$blog_page"'
check "blog's PHP cannot read shop's code or sessions (host and jail paths)" '[ "$(grep -c "^ok cannot-read" <<<"$blog_page")" -eq 5 ]'
check "blog's PHP cannot see shop's directories" '[ "$(grep -c "^ok cannot-see" <<<"$blog_page")" -eq 5 ]'
check "blog's PHP cannot see shop's user or group" 'grep -qx "ok no-shop-user" <<<"$blog_page"'
check "blog's page has no failure, and no secret of shop" '! grep -q "^FAIL\|SHOP-SECRET" <<<"$blog_page" && grep -q "^ok own-code-readable" <<<"$blog_page"'
check "blog's own php settings apply" 'grep -qx "memory_limit 77M" <<<"$blog_page"'
check "no 'Primary script unknown'" '! grep -qs "Primary script unknown" "$tmp/nginx-error.log" "$blog/var/log/php$php-fpm.log" "$shop/var/log/php$php-fpm.log"'

# --- a pool added on the host reaches neither jail ------------------------------------------------------
cat > "$tmp/pool.d/news.conf" <<EOF2
[news]
user = news
group = news
listen = /run/php/news.sock
php_admin_value[session.save_path] = /var/lib/php/sessions-news
EOF2
out=$(jb sync blog 2>&1 && jb sync shop 2>&1)
check "sync blog, sync shop after a pool was added on the host" '[ $? -eq 0 ] || { echo "$out"; false; }'
check "the new pool reaches neither jail" '(for j in "$blog" "$shop"; do [ ! -e "$j/etc/php/$php/fpm/pool.d/news.conf" ] && [ ! -e "$j/var/lib/php/sessions-news" ] && ! grep -q "^news:" "$j/etc/passwd" || exit 1; done)'
rm "$tmp/pool.d/news.conf"

# --- a conffile the admin deleted in the jail stays deleted ---------------------------------------------
# (A php-fpm jail has no sites-enabled/default: gai.conf, a plain conffile of libc's, stands in.)
rm "$blog/etc/gai.conf"
out=$(jb sync blog 2>&1)
check "sync: the deleted conffile is removed-local, not restored" '[ ! -e "$blog/etc/gai.conf" ] && grep -q "removed-local /etc/gai.conf" <<<"$out" || { echo "$out"; false; }'
out=$(create_blog -q 2>&1)
check "a create re-run (same command) does not restore it" '[ ! -e "$blog/etc/gai.conf" ] || { echo "$out"; false; }'
out=$(jb create blog -q 2>&1)
check "create NAME (the definition) does not restore it" '[ ! -e "$blog/etc/gai.conf" ] || { echo "$out"; false; }'
check "the excluded path never appeared" '[ ! -e "$blog/etc/php/$php/cli" ] && [ ! -e "$shop/etc/php/$php/cli" ]'

# --- the admin's own file: known to the audit, follows the host copy --------------------------------------
# (The site's code the test put in the docroot is not the manifest's: audit names it, low.)
out=$(jb audit blog 2>&1)
check "audit blog passes; the own file is known, no integrity finding on it" '[ $? -eq 0 ] && ! grep -q "integrity-.*99-blog.ini" <<<"$out" || { echo "$out"; false; }'
echo "memory_limit = 88M" > "$own/blog.ini"
out=$(jb sync blog 2>&1)
check "edited on the host: sync updates the jail copy" 'cmp -s "$own/blog.ini" "$blog/etc/php/$php/fpm/conf.d/99-blog.ini" || { echo "$out"; false; }'
out=$(jb audit blog 2>&1)
check "audit blog after the sync: passes, no integrity finding on it" '[ $? -eq 0 ] && ! grep -q "integrity-.*99-blog.ini" <<<"$out" || { echo "$out"; false; }'
kill -USR2 "$(cat "$blog$fpm_pid")" # php-fpm reloads its configuration
for i in $(seq 1 50); do
  blog_page=$(curl -sS "http://127.0.0.1:$port_blog/index.php" 2>/dev/null)
  grep -qx "memory_limit 88M" <<<"$blog_page" && break
  sleep 0.1
done
check "the running site sees the host's edit after a reload" 'grep -qx "memory_limit 88M" <<<"$blog_page" || { echo "$blog_page"; false; }'
[ "$fail" -eq 0 ] || cat "$tmp/nginx-error.log" "$blog/var/log/php$php-fpm.log" "$shop/var/log/php$php-fpm.log" 2>/dev/null
finish
