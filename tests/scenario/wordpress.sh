#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Real PHP applications in a jail (issue #18 item 2), as README's "Running WordPress in a jail" does it:
# Debian's WordPress and phpMyAdmin in one nginx + php-fpm jail, MariaDB (a private server of the test's
# own) over the socket bound into the jail, driven over HTTP as a user would: WordPress's install, a
# login, a post (XML-RPC), a comment, a PNG upload resized by ImageMagick, the post and the image viewed,
# Site Health without jail-caused failures, loopback requests from the jail; phpMyAdmin's cookie login
# over the socket and a query. Then `audit` clean, a `sync` after an extension appears on the host
# leaves the site's code and uploads untouched, and `pack` -> `unpack` to a second path serves the site
# again without its secrets, which come back from a separate file.
#
# Nothing of the host changes: the database, the jails, state and
# definitions live in a temp dir; the extension "added on the host" is missing only in a mount
# namespace of the test's own at create.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../scripts/lib/serve.sh" # jail_start, jail_stop, stop_pid, jail_php_version
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (chroot, chown, mknod, mount, mariadbd --user); CI runs as root"; exit 77; }
for pkg in nginx php-fpm wordpress wordpress-theme-twentytwentythree phpmyadmin mariadb-server php-mysql \
  php-imagick php-gd php-intl php-mbstring php-xml php-curl curl; do
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" = installed ] ||
    { echo "SKIP: package $pkg is not installed (scripts/bootstrap.sh installs it)"; exit 77; }
done
for tool in python3 unshare ss mariadbd mariadb-install-db; do
  command -v $tool >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
fpm=$(ls /usr/sbin/php-fpm* 2>/dev/null | head -n1)
php=${fpm#/usr/sbin/php-fpm}

tmp=$(mktemp -d /tmp/jb-wp.XXXXXX)
chmod 755 "$tmp" # mysql and nginx's workers (www-data) reach the socket and the sites below it
jail=$tmp/jail jail2=$tmp/jail2 own=$tmp/own
cleanup() {
  local j m
  jail_stop "$jail"
  jail_stop "$jail2"
  for j in "$jail" "$jail2"; do
    [ -d "$j/.jailbuild" ] && "$JB" umount "$j" --state-dir "$tmp/state" --config-dir "$tmp/config" -q >/dev/null 2>&1
  done
  # Whatever is still mounted below $tmp (a failed umount, a half-made run): lazily, deepest first.
  findmnt -rn -o TARGET | grep "^$tmp/" | sort -r | while read -r m; do umount -l "$m"; done
  db_stop
  rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
. "$here/lib/checks.sh"
. "$here/lib/wordpress.sh"
read -r port pma_port < <(free_ports) || { echo "no free port"; exit 1; }
host=127.0.0.1 # the Host WordPress's config is chosen by: /etc/wordpress/config-127.0.0.1.php
wp=http://$host:$port pma=http://$host:$pma_port
title="Jailed blog $RANDOM"
wp_pass=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
db_pass=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
# jailbuild as the admin types it, with the test's own state and definitions.
jbs() { "$JB" "$@" --state-dir "$tmp/state" --config-dir "$tmp/config"; }

# --- the database ------------------------------------------------------------------------------------
phase "database"
db_start || { flunk "MariaDB starts on $tmp/mysqld"; finish; }
db_sql -e "CREATE DATABASE wordpress DEFAULT CHARACTER SET utf8mb4;
  CREATE USER 'wordpress'@'localhost' IDENTIFIED BY '$db_pass';
  GRANT ALL ON wordpress.* TO 'wordpress'@'localhost';"
check "database and user created" '[ $? -eq 0 ]'

# --- the admin's files on the host: phpMyAdmin's profile, WordPress's config, nginx's config ------------
phase "create"
mkdir -p "$tmp/profiles" "$own"
phpmyadmin_profile >"$tmp/profiles/phpmyadmin.toml"
wordpress_config "$host" "$db_pass" >"$own/config-$host.php"
chown root:www-data "$own/config-$host.php"
chmod 0640 "$own/config-$host.php" # the database password: root's, readable by the site's group only
nginx_config "$php" "$port" "$pma_port" >"$own/nginx-site.conf"
# One jail: nginx, php-fpm with every extension the host enables (mysqli, imagick, gd, intl, mbstring,
# xml, curl), phpMyAdmin's profile, MariaDB's socket directory bound read-write (the mysql-socket
# profile binds the host's /run/mysqld; the test's server has its own), the upload directories.
create_args=(--with "nginx,php-fpm,phpmyadmin" --profiles-dir "$tmp/profiles"
  --bind "$tmp/mysqld:/run/mysqld:rw,noexec"
  --site /var/www/wordpress --site /var/lib/wordpress/wp-content
  --writable /var/lib/wordpress/wp-content/uploads:www-data --writable /var/lib/phpmyadmin/tmp:www-data
  --file "$own/config-$host.php:/etc/wordpress/config-$host.php"
  --file "$own/nginx-site.conf:/etc/nginx/jailbuild-site.conf")
# The extension the host "adds" later: at create it is missing from php-fpm's conf.d, in a mount
# namespace of the test's own (the host's conf.d never changes; nothing to restore).
added_ext=calendar
if [ -e "/etc/php/$php/fpm/conf.d/20-$added_ext.ini" ]; then
  mkdir "$tmp/conf.d"
  cp -a "/etc/php/$php/fpm/conf.d/." "$tmp/conf.d/"
  rm "$tmp/conf.d/20-$added_ext.ini"
  without_ext() {
    unshare -m --propagation private sh -c 'mount --bind "$1" "/etc/php/$2/fpm/conf.d" && shift 2 && exec "$@"' \
      sh "$tmp/conf.d" "$php" "$@"
  }
else
  added_ext=""
  without_ext() { "$@"; }
fi
out=$(without_ext "$JB" create "$jail" "${create_args[@]}" --state-dir "$tmp/state" --config-dir "$tmp/config" -q 2>&1)
check "create the jail (nginx, php-fpm, phpmyadmin, the socket bind, upload dirs, the admin's files)" \
  '[ $? -eq 0 ] || { echo "$out"; false; }'
[ -d "$jail/.jailbuild" ] || finish
echo "$out"
check "WordPress's extensions are in the jail" \
  'for e in mysqli imagick gd intl mbstring xml curl; do ls "$jail"/etc/php/$php/fpm/conf.d/*-$e.ini >/dev/null || exit 1; done'
# The two sites' code is the admin's to place: Debian's WordPress links into /usr/share/php,
# /usr/share/javascript and /etc/wordpress, which a site's `source` copies as links (they would dangle in
# the jail), so the admin copies it resolved and accepts it as the baseline audit compares with.
install_site_code "$jail"
check "WordPress's code copied into the jail's docroot" '[ -f "$jail/var/www/wordpress/wp-login.php" ] && [ -f "$jail/var/lib/wordpress/wp-content/themes/twentytwentythree/theme.json" ]'
out=$("$JB" site accept "$jail" --state-dir "$tmp/state" --config-dir "$tmp/config" 2>&1)
check "site accept records both sites' code as the baseline" '[ $? -eq 0 ] && [ -n "$(ls "$jail/.jailbuild/sites/")" ] || { echo "$out"; false; }'

# --- the socket bind and the services ------------------------------------------------------------------
phase "mount and start"
out=$(jbs mount "$jail" 2>&1)
check "jailbuild mount binds MariaDB's socket directory" '[ -S "$jail/run/mysqld/mysqld.sock" ] || { echo "$out"; false; }'
# www-data must read its configuration: 0640 root:www-data on the host.
cfg=$jail/etc/wordpress/config-$host.php
check "WordPress's config in the jail keeps its group (www-data reads it, others do not)" \
  '[ "$(stat -c %a:%U:%G "$cfg")" = 640:root:www-data ] || { stat -c %a:%U:%G "$cfg"; false; }'
write_probes "$jail"
jail_start "$jail" "$port" || { flunk "nginx and php-fpm start in the jail"; cat "$jail"/var/log/nginx/*.log "$jail"/var/log/php*-fpm.log; finish; }
pass "nginx and php-fpm start in the jail"

# --- WordPress: install, log in, post, comment ----------------------------------------------------------
phase "wordpress install, login, post"
out=$(curl -sS "$wp/wp-admin/install.php?step=2" --data-urlencode "weblog_title=$title" -d user_name=admin \
  --data-urlencode "admin_password=$wp_pass" --data-urlencode "admin_password2=$wp_pass" -d pw_weak=1 \
  -d admin_email=admin@example.org -d blog_public=0 -d language= 2>&1)
check "WordPress installs (install.php?step=2)" 'grep -q "Success!" <<<"$out" || { echo "$out" | tail -20; false; }'
jar=$tmp/wp.cookies
curl -sS -c "$jar" -b "$jar" -o /dev/null "$wp/wp-login.php"
out=$(curl -sS -c "$jar" -b "$jar" -o /dev/null -w '%{http_code} %{redirect_url}' -d log=admin \
  --data-urlencode "pwd=$wp_pass" -d wp-submit=Log+In -d testcookie=1 --data-urlencode "redirect_to=$wp/wp-admin/" "$wp/wp-login.php")
check "log in (wp-login.php): redirected to wp-admin with a login cookie" \
  '[[ "$out" == "302 $wp/wp-admin/" ]] && grep -q wordpress_logged_in_ "$jar" || { echo "$out"; false; }'
out=$(curl -sS -b "$jar" "$wp/wp-admin/")
check "the dashboard shows with the cookie" 'grep -q "<title>Dashboard" <<<"$out"'
nonce=$(curl -sS -b "$jar" "$wp/wp-admin/admin-ajax.php?action=rest-nonce")
check "REST with cookie and nonce knows the admin" \
  'curl -sS -b "$jar" -H "X-WP-Nonce: $nonce" "$wp/?rest_route=/wp/v2/users/me" | grep -q "\"slug\":\"admin\""'
post_id=$(xmlrpc "$wp" admin "$wp_pass" newpost "Post from a jail" "Written over XML-RPC into jail $RANDOM." 2>&1)
check "publish a post (XML-RPC metaWeblog.newPost)" '[[ "$post_id" =~ ^[0-9]+$ ]] || { echo "$post_id"; false; }'
comment="A comment from the jail test $RANDOM"
out=$(curl -sS -b "$jar" -o /dev/null -w '%{http_code}' -d "comment_post_ID=$post_id" --data-urlencode "comment=$comment" \
  -d submit=Post+Comment "$wp/wp-comments-post.php")
check "comment on it (wp-comments-post.php)" '[ "$out" = 302 ] || { echo "$out"; false; }'

# --- an image: uploaded, resized by ImageMagick, viewed ----------------------------------------------
phase "image upload"
png "$tmp/jb-photo.png" 1200 900
read -r media_id media_url < <(xmlrpc "$wp" admin "$wp_pass" upload "$tmp/jb-photo.png" 2>&1)
check "upload a PNG (XML-RPC wp.uploadFile)" '[[ "$media_id" =~ ^[0-9]+$ ]] || { echo "$media_id $media_url"; false; }'
meta=$(xmlrpc "$wp" admin "$wp_pass" media "$media_id" 2>&1)
sizes=$(python3 -c 'import json,sys; m=json.loads(sys.argv[1]); print(" ".join(sorted(v["file"] for v in m.get("sizes", {}).values())))' "$meta" 2>&1)
dir=$(dirname "${media_url#"$wp"/wp-content/}")
check "its sub-sizes were made (thumbnail, medium, medium_large, large)" \
  '[ "$(wc -w <<<"$sizes")" -ge 4 ] || { echo "sizes: $sizes"; false; }'
missing=""
for f in $sizes; do
  [ -s "$jail/var/lib/wordpress/wp-content/$dir/$f" ] || missing+=" $f"
  [ "$(curl -sS -o /dev/null -w '%{http_code} %{content_type}' "$wp/wp-content/$dir/$f")" = "200 image/png" ] || missing+=" (http)$f"
done
check "every sub-size is in the upload directory and served" '[ -n "$sizes" ] && [ -z "$missing" ] || { echo "missing:$missing"; false; }'
check "the image is served" '[ "$(curl -sS -o /dev/null -w "%{http_code} %{content_type}" "$media_url")" = "200 image/png" ]'
runtime=$(curl -sS "$wp/jb-probe/runtime.php")
echo "$runtime"
check "php-fpm in the jail loads WordPress's extensions" \
  'for e in mysqli imagick gd intl mbstring xml curl; do grep -qx "ext $e 1" <<<"$runtime" || exit 1; done'
check "the site (www-data) writes its uploads, not its code" 'grep -qx "uploads-writable 1" <<<"$runtime" && grep -qx "code-writable 0" <<<"$runtime"'
check "ImageMagick reads PNG in the jail (Imagick::queryFormats('PNG'))" \
  'grep -Eq "^imagick-png [1-9]" <<<"$runtime"'
check "WordPress chose ImageMagick for the resizing (WP_Image_Editor_Imagick)" \
  'grep -qx "editor '\''WP_Image_Editor_Imagick'\''" <<<"$runtime"'

# --- the post and the comment, as a reader sees them -----------------------------------------------------
phase "view"
page=$(curl -sSL -w '\n%{http_code}' "$wp/?p=$post_id") # -L: WordPress redirects to the permalink
check "the post is served with its title and comment (the theme renders)" \
  '[ "$(tail -n1 <<<"$page")" = 200 ] && grep -q "Post from a jail" <<<"$page" && grep -qF "$comment" <<<"$page" || { tail -n 20 <<<"$page"; false; }'
out=$(curl -sS "$wp/")
check "the front page lists the post" 'grep -q "Post from a jail" <<<"$out"'

# --- Site Health and loopback requests ------------------------------------------------------------------
phase "site health"
check "a loopback request from the jail reaches the site" 'grep -qx "loopback 200 pong" <<<"$runtime"'
health=$(curl -sS -b "$jar" "$wp/jb-probe/health.php") # as the admin: the REST test passes the cookie on
echo "$health"
# Critical results that are not the jail's doing: allowed, each for its reason. Anything else critical fails.
#   http_requests, dotorg_communication: the test blocks external HTTP (WP_HTTP_BLOCK_EXTERNAL): CI may
#     have no internet, and WordPress.org is not the jail's business.
#   https_status: the test serves plain HTTP on loopback.
#   background_updates: Debian's package disables WordPress's own updates (apt updates it).
allowed="http_requests dotorg_communication https_status background_updates"
critical=$(awk '$1 == "critical" { sub(":", "", $2); print $2 }' <<<"$health")
jail_caused=""
for t in $critical; do [[ " $allowed " == *" $t "* ]] || jail_caused+=" $t"; done
check "Site Health ran its tests" 'grep -Eq "^good (php_extensions|sql_server)" <<<"$health"'
check "Site Health: no critical result but the allowed ones (${critical:-none})" '[ -z "$jail_caused" ] || { echo "critical:$jail_caused"; false; }'
check "Site Health: loopback requests work" 'grep -q "^good loopback_requests" <<<"$health"'
check "Site Health: the REST API answers" 'grep -q "^good rest_availability" <<<"$health"'

# --- phpMyAdmin: cookie login over the socket, a query ---------------------------------------------------
phase "phpmyadmin"
check "phpMyAdmin's config-db.php is readable by www-data in the jail (0640 root:www-data)" \
  'grep -qx "config-db-readable 1" <<<"$runtime" || { stat -c "%a %U:%G %n" "$jail/etc/phpmyadmin/config-db.php"; false; }'
check "phpMyAdmin's blowfish secret is readable by www-data in the jail" 'grep -qx "blowfish-readable 1" <<<"$runtime"'
check "phpMyAdmin's temp directory is writable by www-data" 'grep -qx "pma-tmp-writable 1" <<<"$runtime"'
pjar=$tmp/pma.cookies
login=$(curl -sS -c "$pjar" -b "$pjar" "$pma/index.php")
token=$(grep -o 'name="token" value="[^"]*"' <<<"$login" | head -n1 | sed 's/.*value="//; s/"$//')
check "phpMyAdmin's login page (with its token)" '[ -n "$token" ] || { echo "$login" | tail -20; false; }'
home=$(curl -sS -L -c "$pjar" -b "$pjar" -d route=/ -d server=1 -d "token=$token" -d pma_username=wordpress \
  --data-urlencode "pma_password=$db_pass" "$pma/index.php?route=/")
token=$(grep -o 'name="token" value="[^"]*"' <<<"$home" | head -n1 | sed 's/.*value="//; s/"$//')
check "phpMyAdmin: cookie login as the database user (over the socket)" \
  'grep -q "Localhost via UNIX socket" <<<"$home" && [ -n "$token" ] || { grep -io "<div class=\"alert[^<]*<[^<]*" <<<"$home" | head; false; }'
result=$(curl -sS -c "$pjar" -b "$pjar" -d ajax_request=true -d server=1 -d "token=$token" -d db=wordpress \
  --data-urlencode "sql_query=SELECT CONCAT('jb:', option_value) AS v FROM wp_options WHERE option_name = 'blogname'" \
  "$pma/index.php?route=/sql")
check "phpMyAdmin: a query returns WordPress's blog name" 'grep -qF "jb:$title" <<<"$result" || { head -c 600 <<<"$result"; false; }'

# --- audit --------------------------------------------------------------------------------------------
phase "audit"
rm -rf "${jail:?}$probe_dir" # the test's probes are not the site's
# --no-hardening: hardening is reported, never judged, and the 2,600 site files would only slow it down.
jbs audit "$jail" --json --no-hardening >"$tmp/audit.json" 2>"$tmp/audit.err"
summary=$(python3 -c '
import collections, json, sys
d = json.load(open(sys.argv[1]))
print("counts", " ".join("%s=%d" % kv for kv in d["counts"].items()))
groups = collections.Counter((f["severity"], f["rule"]) for f in d["findings"])
for (sev, rule), n in sorted(groups.items()):
    ex = [f["path"] for f in d["findings"] if f["rule"] == rule and f["severity"] == sev][:3]
    print("  %-8s %-24s %5d  e.g. %s" % (sev, rule, n, " ".join(ex)))
' "$tmp/audit.json" 2>&1 || cat "$tmp/audit.err")
echo "$summary"
check "audit: no high or critical finding" 'grep -Eq "^counts critical=0 high=0 " <<<"$summary"'
check "audit: the sites' files are two groups, not thousands of unexpected files" \
  '! grep -Eq "integrity-unexpected +[0-9]+  e.g. /var/(www/wordpress|lib/wordpress)/" <<<"$summary" &&
   [ "$(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(len(d[\"sites\"]))" "$tmp/audit.json")" = 2 ]'

# --- sync after an extension appears on the host: site code and uploads untouched ----------------------
phase "sync"
before=$(site_digest "$jail")
if [ -n "$added_ext" ]; then
  out=$(jbs sync "$jail" 2>&1)
  rc=$?
  echo "$out"
  check "sync adds the extension the host enabled ($added_ext)" \
    '[ $rc -eq 0 ] && [ -e "$jail/etc/php/$php/fpm/conf.d/20-$added_ext.ini" ] || { echo "rc $rc"; false; }'
else
  skip 1 "no 20-calendar.ini on this host to add"
  jbs sync "$jail" -q
fi
after=$(site_digest "$jail")
check "sync left the site's code and uploads untouched (paths, modes, owners, SHA-256)" \
  '[ "$before" = "$after" ] || { diff <(echo "$before") <(echo "$after") | head; false; }'
out=$(curl -sSL "$wp/?p=$post_id")
check "the site still serves after sync" 'grep -q "Post from a jail" <<<"$out" || { stat -c "%a %U:%G %n" "$cfg"; false; }'

# --- pack without secrets, unpack on a second path, secrets back from a separate file -------------------
phase "pack and unpack"
secrets=("etc/wordpress/config-$host.php" etc/phpmyadmin/config-db.php var/lib/phpmyadmin/blowfish_secret.inc.php)
# The secrets go into a separate archive of the admin's (pack --secrets-to), kept apart from the backup.
out=$(jbs pack "$jail" -o "$tmp/wp.tar.zst" --secrets-to "$tmp/secrets.tar" 2>&1)
check "pack the jail, its secrets kept apart" '[ $? -eq 0 ] && [ "$(stat -c %a "$tmp/secrets.tar")" = 600 ] || { echo "$out"; false; }'
check "the secrets archive holds the secrets" \
  'for s in "${secrets[@]}"; do tar -tf "$tmp/secrets.tar" | grep -qx "\(\./\)\?$s" || exit 1; done'
cut -c1-300 <<<"$out" # what pack left out, and why
listing=$(tar --zstd -tf "$tmp/wp.tar.zst")
for s in "${secrets[@]}"; do
  check "the archive leaves out the secret /$s" '! grep -qx "\(\./\)\?$s" <<<"$listing"'
done
check "the archive holds the site's upload" 'grep -q "var/lib/wordpress/wp-content/$dir/jb-photo.png" <<<"$listing"'
out=$(jbs unpack "$tmp/wp.tar.zst" "$jail2" --name wp2 --profiles-dir "$tmp/profiles" --secrets "$tmp/secrets.tar" 2>&1)
check "unpack on a second path" '[ $? -eq 0 ] || { echo "$out"; false; }'
echo "$out"
sed 's/^/  /' "$tmp/config/jails/wp2.toml"
jail_stop "$jail"
jbs umount "$jail" -q
# What the archive does not bring, declared on the new host as its admin would: the bind (unpack lists
# it), the admin's own files (unpack names them: not copied until declared), WordPress's config taken
# from the separate secrets file. Then sync and mount.
mkdir -m 0700 "$tmp/restored"
tar -C "$tmp/restored" -xpf "$tmp/secrets.tar" "etc/wordpress/config-$host.php"
cat >>"$tmp/config/jails/wp2.toml" <<EOF

[[binds]]
source = "$tmp/mysqld"
dest = "/run/mysqld"
access = "rw"
noexec = true

[[files]]
source = "$own/nginx-site.conf"
dest = "/etc/nginx/jailbuild-site.conf"

[[files]]
source = "$tmp/restored/etc/wordpress/config-$host.php"
dest = "/etc/wordpress/config-$host.php"
EOF
out=$(jbs sync wp2 2>&1 && jbs mount wp2 2>&1)
check "the second jail declares the bind and the admin's files (definition, sync, mount)" \
  '[ -S "$jail2/run/mysqld/mysqld.sock" ] && [ -f "$jail2/etc/nginx/jailbuild-site.conf" ] || { echo "$out"; false; }'
echo "$out"
# phpMyAdmin's secrets are files of its package: sync copies them from this host (by hand if not).
for s in "${secrets[@]}"; do
  [ -e "$jail2/$s" ] || { echo "restored by hand: /$s"; tar -C "$jail2" -xpf "$tmp/secrets.tar" "$s"; }
done
check "the secrets are back" 'for s in "${secrets[@]}"; do [ -e "$jail2/$s" ] || exit 1; done'
jail_start "$jail2" "$port" || flunk "nginx and php-fpm start in the second jail"
out=$(curl -sSL "$wp/?p=$post_id")
check "the second jail serves the post" 'grep -q "Post from a jail" <<<"$out" || { head -c 600 <<<"$out"; for s in "${secrets[@]}" var/www/wordpress/wp-config.php; do stat -c "%a %U:%G %n" "$jail2/$s"; done; tail -5 "$jail2"/var/log/php*-fpm.log; false; }'
check "the second jail serves the uploaded image" '[ "$(curl -sS -o /dev/null -w "%{http_code}" "$media_url")" = 200 ]'
phase ""
finish
