# SPDX-License-Identifier: MIT
# Sourced by tests/scenario/wordpress.sh: what the WordPress + phpMyAdmin scenario puts around a jail
# (a private MariaDB, the admin's files, the test's probes and HTTP clients), kept apart from the
# scenario's steps so that those read as the README's commands do. Every function uses $tmp.

# phase NAME: prints how long the previous phase took ("time <phase>: N ms") and starts NAME.
phase_started=$(date +%s%N)
phase_name=""
phase() {
  local now
  now=$(date +%s%N)
  [ -z "$phase_name" ] || echo "time $phase_name: $(((now - phase_started) / 1000000)) ms"
  phase_name=$1
  phase_started=$now
  [ -z "$1" ] || echo "--- $1"
}

# free_ports: two consecutive free loopback TCP ports (WordPress, phpMyAdmin), as "PORT PORT+1".
free_ports() {
  local p i
  for i in $(seq 1 50); do
    p=$((20000 + RANDOM % 20000))
    ss -ltnH "( sport = :$p or sport = :$((p + 1)) )" 2>/dev/null | grep -q . || { echo "$p $((p + 1))"; return 0; }
  done
  return 1
}

# --- the private MariaDB: its own datadir and socket in $tmp, no network, gone with the test ----------
db_sock() { echo "$tmp/mysqld/mysqld.sock"; }
db_sql() { mariadb --no-defaults -S "$(db_sock)" -u root "$@"; }

# db_start: installs a data directory and starts mariadbd as mysql on a socket in $tmp/mysqld (the
# directory the jail binds as /run/mysqld); waits until it answers. --no-defaults: nothing of the
# host's /etc/mysql (its socket in /run/mysqld, its data directory) is used or touched.
db_start() {
  local i
  mkdir -p "$tmp/db" "$tmp/mysqld"
  chown mysql:mysql "$tmp/db" "$tmp/mysqld"
  chmod 0755 "$tmp/mysqld"
  mariadb-install-db --no-defaults --datadir="$tmp/db" --user=mysql --skip-test-db \
    --auth-root-authentication-method=socket >"$tmp/db-install.log" 2>&1 ||
    { cat "$tmp/db-install.log"; return 1; }
  mariadbd --no-defaults --datadir="$tmp/db" --socket="$(db_sock)" --pid-file="$tmp/mysqld/mysqld.pid" \
    --skip-networking --user=mysql --log-error="$tmp/db/error.log" --innodb-buffer-pool-size=32M &
  db_pid=$!
  for i in $(seq 1 300); do
    [ -S "$(db_sock)" ] && mariadb-admin --no-defaults -S "$(db_sock)" -u root ping >/dev/null 2>&1 && return 0
    kill -0 "$db_pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$tmp/db/error.log" 2>/dev/null
  return 1
}

# db_stop: a clean shutdown, then TERM/KILL by pid if it did not go.
db_stop() {
  [ -n "${db_pid:-}" ] || return 0
  mariadb-admin --no-defaults -S "$(db_sock)" -u root shutdown >/dev/null 2>&1
  echo "$db_pid" >"$tmp/db.pid"
  stop_pid "$tmp/db.pid"
  wait "$db_pid" 2>/dev/null
  db_pid=""
}

# --- what the admin writes on the host -------------------------------------------------------------

# phpmyadmin_profile: Debian's phpMyAdmin as a profile of the admin's own (/etc/jailbuild/profiles.d in
# the README): its code, the PHP libraries Debian unbundles into /usr/share/php, its configuration with
# the 0640 root:www-data config-db.php and blowfish secret, and a generated conf.d file that points its
# server at the socket the jail binds (Debian's config-db.php says tcp as soon as it has a port).
phpmyadmin_profile() {
  cat <<'TOML'
description = "phpMyAdmin from Debian's package, talking to MariaDB over /run/mysqld/mysqld.sock"
package = "phpmyadmin"
requires = ["/usr/share/phpmyadmin/index.php"]
users = ["www-data"]

[[files]]
path = "/usr/share/phpmyadmin"
recursive = true

# Debian unbundles phpMyAdmin's libraries (PhpMyAdmin\SqlParser, Symfony, Twig, ...).
[[files]]
path = "/usr/share/php"
recursive = true

# The browser's scripts and styles, which /usr/share/phpmyadmin links to.
[[files]]
path = "/usr/share/javascript"
recursive = true
optional = true

[[files]]
path = "/etc/phpmyadmin"
recursive = true

[[dirs]]
path = "/var/lib/phpmyadmin"

[[files]]
path = "/var/lib/phpmyadmin/blowfish_secret.inc.php"
optional = true

[[generate]]
path = "/etc/phpmyadmin/conf.d/50-jail-socket.php"
content = """<?php
// Written by the phpmyadmin profile: the database is reached through the socket bound into the jail.
$cfg['Servers'][1]['auth_type'] = 'cookie';
$cfg['Servers'][1]['host'] = 'localhost';
$cfg['Servers'][1]['connect_type'] = 'socket';
$cfg['Servers'][1]['socket'] = '/run/mysqld/mysqld.sock';
$cfg['Servers'][1]['AllowNoPassword'] = false;
"""
TOML
}

# wordpress_config HOST DBPASS: /etc/wordpress/config-HOST.php as Debian's wp-config.php loads it
# (chosen by the request's Host), for the code copied to /var/www/wordpress and the content in Debian's
# /var/lib/wordpress/wp-content; MariaDB through the bound socket.
wordpress_config() {
  local key i
  echo "<?php"
  echo "// Debian's /usr/share/wordpress/wp-config.php loads this by the request's Host name."
  echo "define('DB_NAME', 'wordpress');"
  echo "define('DB_USER', 'wordpress');"
  echo "define('DB_PASSWORD', '$2');"
  echo "define('DB_HOST', 'localhost:/run/mysqld/mysqld.sock');"
  echo "define('ABSPATH', '/var/www/wordpress/');"
  echo "define('WP_CONTENT_DIR', '/var/lib/wordpress/wp-content');"
  echo "define('FS_METHOD', 'direct');"
  echo "// The test machine may have no internet: refuse external requests at once instead of after"
  echo "// timeouts (requests to the site itself, the loopback ones, are still made)."
  echo "define('WP_HTTP_BLOCK_EXTERNAL', true);"
  for key in AUTH_KEY SECURE_AUTH_KEY LOGGED_IN_KEY NONCE_KEY AUTH_SALT SECURE_AUTH_SALT LOGGED_IN_SALT NONCE_SALT; do
    echo "define('$key', '$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')');"
  done
}

# nginx_config PHP PORT PMA_PORT: the jail's nginx: WordPress (Debian's layout: /wp-content from
# /var/lib/wordpress, never PHP from there) and phpMyAdmin on a port of its own.
nginx_config() {
  cat <<NGINX
# The admin's nginx configuration for the jail (jailbuild create --file ...:/etc/nginx/jailbuild-site.conf).
user www-data;
include /etc/nginx/modules-enabled/*.conf;
pid /run/nginx-site.pid;
error_log /var/log/nginx/site-error.log;
worker_processes 2;
events { worker_connections 256; }
http {
  include /etc/nginx/mime.types;
  access_log /var/log/nginx/site-access.log;
  client_max_body_size 32m;
  server {
    listen 127.0.0.1:$2;
    server_name 127.0.0.1;
    root /var/www/wordpress;
    index index.php;
    location /wp-content/ {
      alias /var/lib/wordpress/wp-content/;
      # Uploads are written by www-data: nothing there is ever run as PHP.
      location ~ \.php\$ { deny all; }
    }
    location / { try_files \$uri \$uri/ /index.php?\$args; }
    location ~ \.php\$ {
      include snippets/fastcgi-php.conf;
      fastcgi_pass unix:/run/php/php$1-fpm.sock;
    }
  }
  server {
    listen 127.0.0.1:$3;
    server_name 127.0.0.1;
    root /usr/share/phpmyadmin;
    index index.php;
    location ~ \.php\$ {
      include snippets/fastcgi-php.conf;
      fastcgi_pass unix:/run/php/php$1-fpm.sock;
    }
  }
}
NGINX
}

# --- the site's code: how it enters the jail ------------------------------------------------

# install_site_code JAIL: WordPress's code (/usr/share/wordpress, its symlinks into /usr/share/php,
# /usr/share/javascript and /etc/wordpress resolved) copied into the docroot /var/www/wordpress, and
# Debian's wp-content (themes, plugins; not the host's uploads) into /var/lib/wordpress/wp-content,
# root's and read-only to the site; uploads are the --writable directory create made.
# Not a site's `source`: that copies Debian's symlinks as links, which would dangle in the jail.
install_site_code() {
  local jail=$1
  mkdir -p "$jail/var/www/wordpress" "$jail/var/lib/wordpress/wp-content"
  # --no-overwrite-dir, --no-same-owner: the directories jailbuild made keep their owner and the code is
  # root's (Debian's wp-content, themes and plugins are www-data's on the host, so that WordPress can
  # install code; in the jail only uploads is the site's).
  tar -C /usr/share/wordpress -chf - . | tar -C "$jail/var/www/wordpress" --no-overwrite-dir --no-same-owner -xf - || return 1
  tar -C /var/lib/wordpress/wp-content -chf - --exclude=./uploads . |
    tar -C "$jail/var/lib/wordpress/wp-content" --no-overwrite-dir --no-same-owner -xf - || return 1
  echo pong >"$jail/var/www/wordpress/ping.txt" # serve.sh's jail_start waits for it
}

# site_digest JAIL: one line per file of the site's code and uploads (path, mode, owner, SHA-256).
site_digest() {
  (cd "$1" && find var/www/wordpress var/lib/wordpress -xdev \( -type f -o -type d -o -type l \) \
    -printf '%p %m %u:%g\n' | sort && find var/www/wordpress var/lib/wordpress -xdev -type f -print0 |
    sort -z | xargs -0 sha256sum)
}

# --- the test's probes, PHP files in the docroot that ask WordPress itself ---------------------------
probe_dir=/var/www/wordpress/jb-probe

# write_probes JAIL: runtime.php (the extensions, the image editor WordPress chooses and ImageMagick's
# PNG coder, a loopback request) and health.php (Site Health's tests as the admin, one line each:
# "STATUS NAME: LABEL").
write_probes() {
  mkdir -p "$1$probe_dir"
  cat >"$1$probe_dir/runtime.php" <<'PHP'
<?php
require __DIR__ . '/../wp-load.php';
header('Content-Type: text/plain');
foreach (['mysqli', 'imagick', 'gd', 'intl', 'mbstring', 'xml', 'curl', 'calendar'] as $e)
  echo "ext $e ", extension_loaded($e) ? 1 : 0, "\n";
echo 'editor ', var_export(_wp_image_editor_choose(['mime_type' => 'image/png', 'methods' => ['resize', 'save']]), true), "\n";
echo 'imagick-png ', class_exists('Imagick') ? count(Imagick::queryFormats('PNG')) : -1, "\n";
$r = wp_remote_get(home_url('/ping.txt'), ['timeout' => 5]);
echo 'loopback ', is_wp_error($r) ? $r->get_error_message() : wp_remote_retrieve_response_code($r) . ' ' . trim(wp_remote_retrieve_body($r)), "\n";
echo 'config-db-readable ', is_readable('/etc/phpmyadmin/config-db.php') ? 1 : 0, "\n";
echo 'blowfish-readable ', is_readable('/var/lib/phpmyadmin/blowfish_secret.inc.php') ? 1 : 0, "\n";
echo 'pma-tmp-writable ', is_writable('/var/lib/phpmyadmin/tmp') ? 1 : 0, "\n";
echo 'uploads-writable ', is_writable(WP_CONTENT_DIR . '/uploads') ? 1 : 0, "\n";
echo 'code-writable ', (is_writable(ABSPATH) || is_writable(ABSPATH . 'wp-login.php') || is_writable(WP_CONTENT_DIR . '/themes')) ? 1 : 0, "\n";
PHP
  cat >"$1$probe_dir/health.php" <<'PHP'
<?php
require __DIR__ . '/../wp-load.php';
require_once ABSPATH . 'wp-admin/includes/admin.php';
require_once ABSPATH . 'wp-admin/includes/class-wp-site-health.php';
header('Content-Type: text/plain');
// The test's request carries the admin's login cookie: the REST and loopback tests pass it on.
if (!is_user_logged_in()) wp_set_current_user(1);
$health = WP_Site_Health::get_instance();
foreach (WP_Site_Health::get_tests() as $kind => $tests) {
  foreach ($tests as $name => $test) {
    if (!empty($test['async_direct_test']) && is_callable($test['async_direct_test'])) $r = call_user_func($test['async_direct_test']);
    elseif (is_string($test['test']) && method_exists($health, 'get_test_' . $test['test'])) $r = $health->{'get_test_' . $test['test']}();
    elseif (method_exists($health, 'get_test_' . $name)) $r = $health->{'get_test_' . $name}();
    elseif (is_callable($test['test'])) $r = call_user_func($test['test']);
    else { echo "unrun $name: no direct way to run it\n"; continue; }
    if (empty($r['status'])) $r['status'] = 'none';
    echo $r['status'], ' ', $name, ': ', trim(preg_replace('/\s+/', ' ', wp_strip_all_tags($r['label']))), "\n";
    if ($r['status'] !== 'good')
      echo '  ', trim(preg_replace('/\s+/', ' ', wp_strip_all_tags($r['description']))), "\n";
  }
}
PHP
}

# png FILE W H: a W x H RGB gradient PNG, written without any image library.
png() {
  python3 - "$@" <<'PY'
import struct, sys, zlib
path, w, h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = bytearray()
for y in range(h):
    rows.append(0)
    rows.extend(bytes(v for x in range(w) for v in (x * 255 // w, y * 255 // h, 128)))
def chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
with open(path, 'wb') as f:
    f.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0))
            + chunk(b'IDAT', zlib.compress(bytes(rows), 6)) + chunk(b'IEND', b''))
PY
}

# xmlrpc URL USER PASSWORD ACTION ARGS...: WordPress's XML-RPC API, as a desktop client uses it.
#   newpost TITLE BODY   -> the post's id
#   upload FILE          -> "ID URL"
#   media ID             -> the attachment's metadata as JSON
xmlrpc() {
  python3 - "$@" <<'PY'
import json, sys, xmlrpc.client
url, user, password, action, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
wp = xmlrpc.client.ServerProxy(url + '/xmlrpc.php')
if action == 'newpost':
    print(wp.metaWeblog.newPost(1, user, password, {'title': args[0], 'description': args[1]}, True))
elif action == 'upload':
    with open(args[0], 'rb') as f:
        r = wp.wp.uploadFile(1, user, password, {'name': args[0].rsplit('/', 1)[-1], 'type': 'image/png',
                                                 'bits': xmlrpc.client.Binary(f.read()), 'overwrite': True})
    print(r['id'], r['url'])
elif action == 'media':
    print(json.dumps(wp.wp.getMediaItem(1, user, password, int(args[0]))['metadata']))
PY
}
