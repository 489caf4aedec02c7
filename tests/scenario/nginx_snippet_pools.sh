#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# One site, one pool, one jail: the host has pools blog and shop; `create --pool blog` makes a jail
# with blog's pool file and user only; its php-fpm runs inside (chroot), and the host's nginx serves it
# through the snippet `jailbuild nginx-snippet` prints, without "Primary script unknown". A pool added
# on the host later does not enter the jail at the next create; an unknown pool lists the host's.
# create keeps the snippet in CONFIG/nginx/blog.conf (the host's nginx here includes that one), a no-op
# sync leaves it alone, a pool whose socket moved makes sync rewrite it and say "reload nginx", and
# destroy removes it.
#
# The pools live in a temporary pool.d mounted over the host's in a mount namespace of jailbuild's
# own: the host's configuration never changes. blog runs as www-data, shop as nobody (no user is
# added to the host).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../scripts/lib/serve.sh" # stop_pid
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (chroot, chown, mknod, mount namespace); CI runs as root"; exit 77; }
fpm=$(ls /usr/sbin/php-fpm* 2>/dev/null | head -n1)
[ -x /usr/sbin/nginx ] && [ -n "$fpm" ] ||
  { echo "SKIP: nginx and php-fpm are not installed (scripts/bootstrap.sh installs them)"; exit 77; }
command -v unshare >/dev/null || { echo "SKIP: unshare is not installed"; exit 77; }
php=${fpm#/usr/sbin/php-fpm}

tmp=$(mktemp -d /tmp/jb-pools.XXXXXX)
chmod 755 "$tmp"
jail=$tmp/blog
port=$((20000 + RANDOM % 20000))
cleanup() {
  stop_pid "$tmp/nginx.pid"
  stop_pid "$jail/run/php/php$php-fpm.pid"
  rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
. "$here/lib/checks.sh"

mkdir -p "$tmp/pool.d"
cat > "$tmp/pool.d/blog.conf" <<EOF2
[blog]
user = www-data
group = www-data
listen = /run/php/blog.sock
listen.owner = www-data
listen.group = www-data
pm = static
pm.max_children = 1
chdir = /var/www/blog
EOF2
cat > "$tmp/pool.d/shop.conf" <<EOF2
[shop]
user = nobody
group = nogroup
listen = /run/php-shop/shop.sock
pm = static
pm.max_children = 1
php_admin_value[session.save_path] = /var/lib/php/sessions-shop
EOF2
jb() {
  unshare -m --propagation private sh -c 'mount --bind "$1" "/etc/php/$2/fpm/pool.d" && shift 2 && exec "$@"' \
    sh "$tmp/pool.d" "$php" "$JB" "$@"
}

out=$(jb create "$jail" --with php-fpm --pool nope --state-dir "$tmp/state" --config-dir "$tmp/state.config" 2>&1)
check "an unknown pool lists the host's" '[ $? -eq 2 ] && grep -q "the host.s pools: blog, shop" <<<"$out"'
out=$(jb create "$jail" --with php-fpm --pool blog --state-dir "$tmp/state" --config-dir "$tmp/state.config" -q 2>&1)
check "create --pool blog" '[ $? -eq 0 ] || { echo "$out"; false; }'
check "blog's pool file is there" '[ -f "$jail/etc/php/$php/fpm/pool.d/blog.conf" ]'
check "no file of shop's pool" '[ -z "$(ls "$jail/etc/php/$php/fpm/pool.d" | grep -v "^blog.conf$")" ] && [ ! -e "$jail/run/php-shop" ] && [ ! -e "$jail/var/lib/php/sessions-shop" ]'
check "shop's user is not in the jail" '! grep -q "^nobody:" "$jail/etc/passwd" && ! grep -q "^nogroup:" "$jail/etc/group"'
snippet=$tmp/state.config/nginx/blog.conf
check "create keeps the nginx snippet" '[ "$(stat -c %a:%U "$snippet")" = 644:root ] && [ "$(stat -c %a:%U "${snippet%/*}")" = 755:root ] && grep -q "fastcgi_pass unix:$jail/run/php/blog.sock;" "$snippet"'
check "the manifest records the pool" 'python3 -c "import json,sys; sys.exit(0 if json.load(open(\"$jail/.jailbuild/manifest.json\"))[\"spec\"][\"pools\"] == [\"blog\"] else 1)"'

cat > "$tmp/pool.d/later.conf" <<EOF2
[later]
user = nobody
listen = /run/php/later.sock
EOF2
out=$(jb create "$jail" --with php-fpm --pool blog --state-dir "$tmp/state" --config-dir "$tmp/state.config" -q 2>&1)
check "a pool added on the host does not enter" '[ ! -e "$jail/etc/php/$php/fpm/pool.d/later.conf" ]'

mkdir -p "$jail/var/www/blog"
printf '<?php echo "blog ", $_SERVER["SCRIPT_FILENAME"], " ", $_SERVER["DOCUMENT_ROOT"], "\\n";\n' > "$jail/var/www/blog/index.php"
jb nginx-snippet "$jail" --config-dir "$tmp/state.config" -o "$tmp/blog.conf"
check "nginx-snippet" '[ $? -eq 0 ] && grep -q "fastcgi_pass unix:$jail/run/php/blog.sock;" "$tmp/blog.conf"'
before=$(stat -c %y "$snippet")
out=$(jb sync blog --state-dir "$tmp/state" --config-dir "$tmp/state.config" 2>&1)
check "a no-op sync leaves the snippet alone" '[ -f "$snippet" ] && [ "$(stat -c %y "$snippet")" = "$before" ] && ! grep -q "nginx snippet" <<<"$out" || { echo "$out"; false; }'
host_nginx_conf "$tmp" > "$tmp/nginx.conf" <<EOF2
  server { listen 127.0.0.1:$port; include $snippet; }
EOF2
check "nginx -t with the snippet" '/usr/sbin/nginx -t -c "$tmp/nginx.conf" 2>/dev/null'
chroot "$jail" "/usr/sbin/php-fpm$php" --fpm-config "/etc/php/$php/fpm/php-fpm.conf"
/usr/sbin/nginx -c "$tmp/nginx.conf"
for i in $(seq 1 50); do
  [ -S "$jail/run/php/blog.sock" ] && break
  sleep 0.1
done
page=$(curl -sS "http://127.0.0.1:$port/index.php")
echo "$page"
check "the host's nginx serves the jailed pool's PHP" '[ "$page" = "blog /var/www/blog/index.php /var/www/blog" ]'
check "no 'Primary script unknown'" '! grep -q "Primary script unknown" "$tmp/nginx-error.log" "$jail/var/log/php$php-fpm.log" 2>/dev/null'
[ "$fail" -eq 0 ] || cat "$tmp/nginx-error.log" "$jail/var/log/php$php-fpm.log" 2>/dev/null

# The host's pool moves its socket: sync rewrites the snippet and says nginx needs a reload.
stop_pid "$tmp/nginx.pid"
stop_pid "$jail/run/php/php$php-fpm.pid"
sed -i 's|^listen = /run/php/blog.sock$|listen = /run/php/blog-2.sock|' "$tmp/pool.d/blog.conf"
out=$(jb sync blog --state-dir "$tmp/state" --config-dir "$tmp/state.config" 2>&1)
check "a moved socket: sync rewrites the snippet and says so" 'grep -q "nginx snippet $snippet changed: reload nginx" <<<"$out" && grep -q "fastcgi_pass unix:$jail/run/php/blog-2.sock;" "$snippet" || { echo "$out"; false; }'
out=$(jb destroy blog --state-dir "$tmp/state" --config-dir "$tmp/state.config" 2>&1)
check "destroy removes the snippet" '[ ! -e "$snippet" ] && grep -q "nginx snippet $snippet removed" <<<"$out" || { echo "$out"; false; }'
finish
