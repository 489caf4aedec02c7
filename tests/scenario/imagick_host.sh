#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# On the real host with php-imagick (issue #18): a jail --with nginx,php-fpm holds ImageMagick's PNG
# coder and /etc/ImageMagick-6/policy.xml, found from the host's dpkg database, and the jailed PHP
# decodes a PNG with Imagick (without them: "NoDecodeDelegateForThisImageFormat `PNG'").
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../scripts/lib/serve.sh"

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (chroot, chown, mknod); CI runs as root"; exit 77; }
[ -x /usr/sbin/nginx ] && ls /usr/sbin/php-fpm* >/dev/null 2>&1 ||
  { echo "SKIP: nginx and php-fpm are not installed (scripts/bootstrap.sh installs them)"; exit 77; }
ls /etc/php/*/fpm/conf.d/*imagick.ini >/dev/null 2>&1 ||
  { echo "SKIP: php-imagick is not installed and enabled for php-fpm (scripts/bootstrap.sh installs it)"; exit 77; }

tmp=$(mktemp -d /tmp/jb-imagick.XXXXXX)
jail=$tmp/jail
port=$((20000 + RANDOM % 20000))
cleanup() { jail_stop "$jail"; rm -rf --one-file-system "$tmp"; }
trap cleanup EXIT
. "$here/lib/checks.sh"

"$JB" create "$jail" --with nginx,php-fpm --state-dir "$tmp/state" --config-dir "$tmp/state.config" -q ||
  { flunk "create"; finish; }
check "the PNG coder is in the jail" 'ls "$jail"/usr/lib/*/ImageMagick-6.*/modules-Q16/coders/png.so >/dev/null 2>&1'
check "the PNG coder's .la, by which libltdl finds it" 'ls "$jail"/usr/lib/*/ImageMagick-6.*/modules-Q16/coders/png.la >/dev/null 2>&1'
check "/etc/ImageMagick-6/policy.xml is in the jail" '[ -f "$jail/etc/ImageMagick-6/policy.xml" ]'
check "the coder's libpng is in the jail" 'ls "$jail"/usr/lib/*/libpng16.so.16* >/dev/null 2>&1'
check "the manifest says the dpkg rule found the coder" \
  'grep -q "\"origin\":\"module dir of libmagickcore-6.q16-6 (dpkg)\"" "$jail/.jailbuild/manifest.json"'
jail_write_site "$jail" "$port" || exit 1
cat >"$jail/var/www/site/imagick.php" <<'PHP'
<?php
header('Content-Type: text/plain');
echo 'formats ', count(Imagick::queryFormats('PNG')), "\n";
try {
  $im = new Imagick();
  $im->newImage(4, 3, 'red');
  $im->setImageFormat('png');
  $blob = $im->getImageBlob();
  $back = new Imagick();
  $back->readImageBlob($blob);
  echo 'decoded ', $back->getImageWidth(), 'x', $back->getImageHeight(), "\n";
} catch (Throwable $e) {
  echo 'error ', $e->getMessage(), "\n";
}
PHP
jail_start "$jail" "$port" || { cat "$jail"/var/log/nginx/*.log "$jail"/var/log/php*-fpm.log 2>/dev/null; exit 1; }
page=$(curl -fsS "http://127.0.0.1:$port/imagick.php") || { flunk "fetching the page"; finish; }
echo "$page"
check "Imagick in the jail knows PNG" 'grep -qx "formats 1" <<<"$page"'
check "Imagick in the jail encodes and decodes a PNG" 'grep -qx "decoded 4x3" <<<"$page"'
finish
