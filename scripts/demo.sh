#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job, for real: install what is needed, build jailbuild, build a jail for nginx + php-fpm,
# start both services inside it on a loopback port, fetch a PHP page from it, stop them.
#   scripts/demo.sh [JAIL_DIR]     (default /var/www/chroot)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
jail=${1:-/var/www/chroot}
port=${PORT:-8089}

[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (chroot, device nodes, owners)" >&2; exit 1; }
"$here/scripts/bootstrap.sh"
cmake -S "$here" -B "$here/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$here/build" -j"$(nproc)" --target jailbuild >/dev/null
mkdir -p "$(dirname "$jail")"

. "$here/scripts/lib/serve.sh"
"$here/build/jailbuild" create "$jail" --with nginx,php-fpm --writable /var/www/data:www-data
jail_write_site "$jail" "$port"
trap 'jail_stop "$jail"' EXIT
jail_start "$jail" "$port"
echo "--- http://127.0.0.1:$port/index.php, served from $jail ---"
curl -fsS "http://127.0.0.1:$port/index.php"
