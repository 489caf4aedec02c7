#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# TLS files named by nginx's configuration come into the jail, and the private key is root's alone
# there whatever its mode on the host: nginx's master reads it as root before dropping privileges, its
# workers never need it, and a compromised worker (or PHP) running as the service user must not read
# it. The attack: the service user reads the key in the jail.
#
# The host's /etc/nginx is covered, in a mount namespace of jailbuild's own, by a copy with a TLS site
# whose key an admin left 0644: the host's configuration never changes.
set -u
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (chown, mknod, mount namespace); CI runs as root"; exit 77; }
[ -x /usr/sbin/nginx ] || { echo "SKIP: nginx is not installed (scripts/bootstrap.sh installs it)"; exit 77; }
for tool in openssl unshare runuser; do
  command -v $tool >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done

tmp=$(mktemp -d /tmp/jb-tls.XXXXXX)
chmod 755 "$tmp"
jail=$tmp/jail
trap 'rm -rf --one-file-system "$tmp"' EXIT
. "$here/lib/checks.sh"

cp -a /etc/nginx "$tmp/etc-nginx"
mkdir -p "$tmp/etc-nginx/ssl"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=blog.example" \
  -keyout "$tmp/etc-nginx/ssl/blog.key" -out "$tmp/etc-nginx/ssl/blog.pem" 2>/dev/null
chmod 644 "$tmp/etc-nginx/ssl/blog.key" "$tmp/etc-nginx/ssl/blog.pem"
rm -f "$tmp/etc-nginx/sites-enabled/"*
cat > "$tmp/etc-nginx/sites-enabled/blog" <<'EOF2'
server {
  listen 443 ssl;
  server_name blog.example;
  ssl_certificate ssl/blog.pem;
  ssl_certificate_key /etc/nginx/ssl/blog.key;
}
EOF2
out=$(unshare -m --propagation private sh -c 'mount --bind "$1" /etc/nginx && shift && exec "$@"' \
  sh "$tmp/etc-nginx" "$JB" create "$jail" --with nginx --state-dir "$tmp/state" --config-dir "$tmp/state.config" -q 2>&1)
check "create --with nginx" '[ $? -eq 0 ] || { echo "$out"; false; }'
check "the certificate is in the jail" '[ -f "$jail/etc/nginx/ssl/blog.pem" ]'
check "the key is in the jail, 0600 root" '[ "$(stat -c %a:%u:%g "$jail/etc/nginx/ssl/blog.key" 2>&1)" = 600:0:0 ]'
check "the service user cannot read the key" '! runuser -u www-data -- cat "$jail/etc/nginx/ssl/blog.key" >/dev/null 2>&1'
check "the manifest marks the key secret" 'python3 -c "
import json, sys
m = json.load(open(\"$jail/.jailbuild/manifest.json\"))
e = [e for e in m[\"entries\"] if e[\"path\"] == \"/etc/nginx/ssl/blog.key\"]
sys.exit(0 if e and e[0].get(\"secret\") else 1)"'
check "nginx -t in the jail (as root, the key read)" 'chroot "$jail" /usr/sbin/nginx -t -q'
finish
