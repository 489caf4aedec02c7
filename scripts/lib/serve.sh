# SPDX-License-Identifier: MIT
# Shared by scripts/demo.sh and the end-to-end test: put a small PHP site into a jail, start the jail's
# own nginx and php-fpm inside it with chroot(8) on a loopback port, and stop them again by PID.
# Source it; every function takes the jail directory first.

# The PHP version whose php-fpm is in the jail (from the jail's /usr/sbin/php-fpmX.Y).
jail_php_version() {
  local f
  for f in "$1"/usr/sbin/php-fpm*; do
    [ -e "$f" ] && { basename "$f" | sed 's/^php-fpm//'; return 0; }
  done
  return 1
}

# probe_page PORT [TLS_URL]: the PHP page that proves what real sites need, one line per check; curl
# fetches http://127.0.0.1:PORT/ping.txt and, with TLS_URL, that HTTPS address verifying its
# certificate against the jail's trust store.
probe_page() {
  local port=$1 tls_url=${2:-}
  cat <<PHP
<?php
// Each line: "ok <check>" or "FAIL <check>: <detail>".
function check(\$name, \$ok, \$detail = '') { echo (\$ok ? "ok \$name" : "FAIL \$name: \$detail"), "\n"; }
header('Content-Type: text/plain');
\$d = new DateTime('2024-01-15 12:00:00', new DateTimeZone('Europe/Paris'));
check('tzdata', \$d->format('T P') === 'CET +01:00', \$d->format('T P'));
date_default_timezone_set('Europe/Paris');
check('date', date('e') === 'Europe/Paris', date('e T'));
\$cp = @iconv('UTF-8', 'CP1252', "\u{20AC}");
check('iconv', \$cp === "\x80", var_export(\$cp, true));
check('dns', gethostbyname('localhost') === '127.0.0.1', gethostbyname('localhost'));
\$me = posix_getpwuid(posix_geteuid());
check('worker-user', \$me !== false && \$me['name'] !== 'root' && posix_geteuid() !== 0, var_export(\$me, true));
check('no-uid-0', posix_getpwuid(0) === false && posix_getgrgid(0) === false, 'uid or gid 0 resolves');
session_start();
\$_SESSION['n'] = 42;
\$sid = session_id();
session_write_close();
check('session', is_file(session_save_path() . '/sess_' . \$sid), session_save_path());
try {
  \$db = new SQLite3('/var/www/data/test.sqlite');
  \$db->exec('CREATE TABLE IF NOT EXISTS t (v INTEGER)');
  \$db->exec('INSERT INTO t VALUES (7)');
  check('sqlite', \$db->querySingle('SELECT COUNT(*) FROM t') >= 1);
} catch (Throwable \$e) { check('sqlite', false, \$e->getMessage()); }
\$nf = new NumberFormatter('de_DE', NumberFormatter::DECIMAL);
check('intl', \$nf->format(1234.5) === '1.234,5', \$nf->format(1234.5));
\$img = imagecreatetruecolor(8, 8);
ob_start(); imagepng(\$img); \$png = ob_get_clean();
check('gd', substr(\$png, 1, 3) === 'PNG', strlen(\$png) . ' bytes');
\$ch = curl_init('http://127.0.0.1:$port/ping.txt');
curl_setopt(\$ch, CURLOPT_RETURNTRANSFER, true);
curl_setopt(\$ch, CURLOPT_TIMEOUT, 5);
\$body = curl_exec(\$ch);
check('curl', \$body === "pong\n", curl_error(\$ch));
\$out = @shell_exec('echo hi');
check('no-shell', !file_exists('/bin/sh') && \$out !== "hi\n", 'a shell ran: ' . var_export(\$out, true));
check('mbstring', mb_strtoupper('éa') === 'ÉA', mb_strtoupper('éa'));
\$xml = simplexml_load_string('<a><b>x</b></a>');
check('xml', \$xml !== false && (string)\$xml->b === 'x');
PHP
  [ -z "$tls_url" ] || cat <<PHP
\$ch = curl_init('$tls_url');
curl_setopt(\$ch, CURLOPT_RETURNTRANSFER, true);
curl_setopt(\$ch, CURLOPT_TIMEOUT, 5);
\$body = curl_exec(\$ch);
check('curl-tls', \$body === "pong\n", curl_error(\$ch));
PHP
}

# jail_write_site JAIL PORT: the test page, a static file, and an nginx configuration of its own.
jail_write_site() {
  local jail=$1 port=$2 php
  php=$(jail_php_version "$jail") || { echo "no php-fpm in $jail" >&2; return 1; }
  mkdir -p "$jail/var/www/site"
  echo pong > "$jail/var/www/site/ping.txt"
  probe_page "$port" > "$jail/var/www/site/index.php"
  cat > "$jail/etc/nginx/jailbuild-site.conf" <<NGINX
# Written by jailbuild's serve.sh: one loopback server for the demo and the end-to-end test.
user www-data;
include /etc/nginx/modules-enabled/*.conf;
pid /run/nginx-site.pid;
error_log /var/log/nginx/site-error.log;
worker_processes 2;
events { worker_connections 256; }
http {
  include /etc/nginx/mime.types;
  access_log /var/log/nginx/site-access.log;
  server {
    listen 127.0.0.1:$port;
    root /var/www/site;
    index index.php;
    location ~ \.php\$ {
      include snippets/fastcgi-php.conf;
      fastcgi_pass unix:/run/php/php$php-fpm.sock;
    }
  }
}
NGINX
}

# jail_start JAIL PORT: php-fpm then nginx, both inside the jail; waits until the port answers.
jail_start() {
  local jail=$1 port=$2 php i
  php=$(jail_php_version "$jail") || return 1
  chroot "$jail" "/usr/sbin/php-fpm$php" --fpm-config "/etc/php/$php/fpm/php-fpm.conf" || return 1
  chroot "$jail" /usr/sbin/nginx -c /etc/nginx/jailbuild-site.conf || return 1
  for i in $(seq 1 50); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/ping.txt" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "services in $jail did not answer on port $port" >&2
  return 1
}

# stop_pid PIDFILE: TERM to the process the file names, KILL after 5 s; nothing when there is none.
stop_pid() {
  local pid i
  [ -f "$1" ] || return 0
  pid=$(cat "$1")
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

# jail_stop JAIL: stops both services by the PIDs in their pid files.
jail_stop() {
  local jail=$1 php
  php=$(jail_php_version "$jail") || return 0
  stop_pid "$jail/run/nginx-site.pid"
  stop_pid "$jail/run/php/php$php-fpm.pid"
}

# host_nginx_conf DIR < SERVERS: an nginx configuration for a host nginx a test runs itself, its pid,
# error log and temp files in DIR, with the server blocks read from stdin. Print it to DIR/nginx.conf.
host_nginx_conf() {
  local dir=$1
  cat <<NGINX
user www-data;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log;
worker_processes 1;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $dir/nginx-body;
  fastcgi_temp_path $dir/nginx-fastcgi;
NGINX
  cat
  echo "}"
}
