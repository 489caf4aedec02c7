#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The fuzzers' text seeds and ELF seeds, written at build time (seeds are never committed):
#   make-seeds.sh OUTDIR FAKEROOT PROFILES_DIR
# writes OUTDIR/{elf,accounts,mountinfo,profile,nginx,php_ini}/. ELF seeds are the small objects of the
# tests' fake host root (tests/fixtures); the rest are real-looking files written here, and this
# machine's own mount table and service configuration where there is one. Several files of one input
# are separated by a line "%%" (fuzz/fuzz_util.hpp).
set -euo pipefail

out=${1:?usage: make-seeds.sh OUTDIR FAKEROOT PROFILES_DIR}
fakeroot=${2:?usage: make-seeds.sh OUTDIR FAKEROOT PROFILES_DIR}
profiles=${3:?usage: make-seeds.sh OUTDIR FAKEROOT PROFILES_DIR}
mkdir -p "$out"/{elf,accounts,mountinfo,profile,nginx,php_ini}

# parts FILE PART...: one seed holding several files.
parts() {
  local file=$1 first=1
  shift
  for part in "$@"; do
    [ $first -eq 1 ] || printf '\n%%%%\n'
    first=0
    printf '%s' "$part"
  done >"$file"
}

# --- elf: the fixtures' programs and libraries (libc and ld.so are too large to be useful seeds) ---
n=0
while IFS= read -r -d '' f; do
  [ "$(head -c4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ] || continue
  [ "$(stat -c %s "$f")" -le 65536 ] || continue
  n=$((n + 1))
  cp "$f" "$out/elf/$n-$(basename "$f")"
done < <(find "$fakeroot" -type f -print0 | sort -z)
[ "$n" -gt 0 ] || { echo "make-seeds: no ELF file below $fakeroot" >&2; exit 1; }

# --- accounts: passwd %% group ---------------------------------------------------------------------
passwd='root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
_apt:x:42:65534::/nonexistent:/usr/sbin/nologin
mysql:x:101:102:MySQL Server,,,:/nonexistent:/bin/false
'
group='root:x:0:
daemon:x:1:
adm:x:4:syslog,alice
www-data:x:33:
nogroup:x:65534:
mysql:x:102:
'
parts "$out/accounts/debian" "$passwd" "$group"
parts "$out/accounts/odd" '# comment
+nisuser::::::
-excluded
toor:x:0:0::/root:/bin/sh
broken:x:notanumber:1::/:/bin/sh
big:x:4294967295:4294967296::/:/bin/sh
short:x:1
' 'wheel:x:10:a,,b,
empty::11:
'

# --- mountinfo: this machine's, and one with a jail's binds and escaped names ---------------------
if [ -r /proc/self/mountinfo ]; then cp /proc/self/mountinfo "$out/mountinfo/this-host"; fi
cat >"$out/mountinfo/jail" <<'EOF'
22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,errors=remount-ro
23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
24 22 0:5 / /dev rw,nosuid,relatime shared:2 - devtmpfs udev rw,size=4038288k,nr_inodes=1009572,mode=755
25 22 0:23 / /run rw,nosuid,nodev,noexec,relatime shared:5 - tmpfs tmpfs rw,size=814560k,mode=755
101 22 0:21 / /var/www/chroot/proc ro,nosuid,nodev,noexec,relatime - proc proc rw
102 22 0:23 /mysqld /var/www/chroot/run/mysqld ro,nosuid,nodev master:5 - tmpfs tmpfs rw,mode=755
103 22 254:1 /srv/data /var/www/chroot/data rw,nosuid,nodev,noexec - ext4 /dev/vda1 rw
104 22 254:1 /srv/my\040dir\011x\134y /var/www/chroot/odd\040name rw - ext4 /dev/vda1 rw
105 22 0:44 / /var/www/chroot/sys ro,nosuid,nodev,noexec - sysfs sysfs ro
EOF

# --- profile: each built-in profile, and a set that includes and extends ---------------------------
for f in "$profiles"/*.toml; do
  cp "$f" "$out/profile/$(basename "$f" .toml)"
done
parts "$out/profile/include-extend" 'description = "site"
include = ["b"]
users = ["www-data"]
[[dirs]]
path = "/var/www/uploads"
mode = "0750"
owner = "www-data"
group = "33"
[[files]]
path = "/etc/ssl/certs/*.pem"
optional = true
[[elf]]
paths = ["/usr/lib/$TRIPLET/libz.so.1"]
[[binds]]
source = "/run/mysqld"
access = "rw"
noexec = true
' 'description = "base"
[[symlinks]]
path = "/lib"
target = "usr/lib"
[[devices]]
path = "/dev/null"
type = "char"
major = 1
minor = 3
mode = "0666"
[[generate]]
path = "/etc/hostname"
content = "jail\n"
' 'extend = true
package = "nginx"
requires = ["/usr/sbin/nginx"]
discover = "nginx"
[[files]]
path = "/etc/php/$PHP/fpm"
recursive = true
dest = "/etc/php/$PHP/fpm"
mode = "0644"
'

# --- nginx: nginx.conf %% conf.d/site.conf %% snippets/x.conf -------------------------------------
nginx_conf='user www-data;
worker_processes auto;
pid /run/nginx.pid;
error_log /var/log/nginx/error.log;
include /etc/nginx/modules-enabled/*.conf;
load_module modules/ngx_stream_module.so;

events {
	worker_connections 768;
}

http {
	sendfile on;
	tcp_nopush on;
	types_hash_max_size 2048;
	include /etc/nginx/mime.types;
	default_type application/octet-stream;
	ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;
	access_log /var/log/nginx/access.log;
	client_body_temp_path /var/cache/nginx/body 1 2;
	fastcgi_cache_path /var/cache/nginx/fcgi levels=1:2 keys_zone=php:10m;
	gzip on;
	map $http_upgrade $connection_upgrade {
		default upgrade;
		"" close;
	}
	include /etc/nginx/conf.d/*.conf;
	include /etc/nginx/sites-enabled/*;
}
'
site_conf='upstream php {
	server unix:/run/php/php8.2-fpm.sock;
	server 127.0.0.1:9000 backup;
}
server {
	listen 80 default_server;
	listen unix:/run/nginx/site.sock;
	root /var/www/html;
	index index.php index.html;
	server_name _;
	location / {
		try_files $uri $uri/ =404;
	}
	location ~ \.php$ {
		include snippets/x.conf;
		fastcgi_pass unix:/run/php/php8.2-fpm.sock;
		fastcgi_param SCRIPT_FILENAME "$document_root$fastcgi_script_name";
	}
	location ~ /\.ht {
		deny all;
	}
	access_log /var/log/nginx/site-$host.log;
	error_log syslog:server=unix:/dev/log;
}
'
snippet_conf='# regex to split $uri to $fastcgi_script_name and $fastcgi_path
fastcgi_split_path_info ^(.+?\.php)(/.*)$;
try_files $fastcgi_script_name =404;
set $path_info $fastcgi_path_info;
fastcgi_param PATH_INFO $path_info;
fastcgi_index index.php;
include fastcgi_params;
'
parts "$out/nginx/debian" "$nginx_conf" "$site_conf" "$snippet_conf"
parts "$out/nginx/quoting" 'http { include conf.d/*.conf; log_format main '"'"'$remote_addr "$request"'"'"'; }
error_log "/var/log/nginx/quoted \"x\".log" warn;
# comment { not a block
http{server{location /a{return 200 "}";}}}
' '' ''
# Blocks nested 16,000 deep (issue #10: 200k of them made the recursive parser overflow the stack);
# within the harness's -max_len, so that the fuzzer keeps trying that depth.
printf 'a{%.0s' $(seq 16000) >"$out/nginx/deep-nesting"
if [ -r /etc/nginx/nginx.conf ]; then
  site=""
  [ -r /etc/nginx/sites-available/default ] && site=$(grep -v '^[[:space:]]*#' /etc/nginx/sites-available/default)
  parts "$out/nginx/this-host" "$(cat /etc/nginx/nginx.conf)" "$site" ""
fi

# --- php_ini: php.ini %% conf.d/20-x.ini %% php-fpm.conf %% pool.d/www.conf ------------------------
php_ini='[PHP]
engine = On
short_open_tag = Off
memory_limit = 128M
error_log = /var/log/php/error.log
upload_tmp_dir = "/var/lib/php/uploads"
extension_dir = "/usr/lib/php/20220829"
zend_extension=opcache
extension=mysqli
extension = "pdo_mysql.so" ; comment
extension=/usr/lib/php/20220829/intl.so
extension=php_gd2.dll
[Session]
session.save_handler = files
session.save_path = "2;0600;/var/lib/php/sessions"
[PATH=/var/www/html]
extension=ignored
[HOST=example.org]
upload_tmp_dir = none
doc_root = ${HOME}/www
'
fpm_conf='[global]
pid = /run/php/php8.2-fpm.pid
error_log = /var/log/php8.2-fpm.log
include=/etc/php/8.2/fpm/pool.d/*.conf
'
pool_conf='[www]
user = www-data
group = www-data
listen = /run/php/php8.2-fpm.sock
listen.owner = www-data
listen.group = www-data
listen.mode = 0660
pm = dynamic
pm.max_children = 5
access.log = /var/log/php/$pool.access.log
slowlog = log/$pool.slow.log
php_admin_value[error_log] = /var/log/fpm-php.www.log
php_admin_value[extension] = sodium
php_value[session.save_path] = /var/lib/php/sessions/www
chroot = /var/www
[api]
prefix = /srv/api
user = 33
listen = 127.0.0.1:9001
php_value[upload_tmp_dir] = tmp
'
parts "$out/php_ini/debian" "$php_ini" 'extension=mysqli.so
zend_extension = opcache.so' "$fpm_conf" "$pool_conf"
for ini in /etc/php/*/fpm/php.ini; do
  [ -r "$ini" ] || continue
  # Without its comments: the settings are what the parser meets, and the seed stays small.
  parts "$out/php_ini/this-host" "$(grep -v '^;' "$ini" | grep -v '^$')" "" "$fpm_conf" "$pool_conf"
  break
done
