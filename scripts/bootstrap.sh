#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Make a fresh Debian 12 machine ready to build and test jailbuild: installs every build, test and
# benchmark dependency with apt-get. Non-interactive and idempotent; returns at once when all is present.
set -euo pipefail

packages=(
  # build
  build-essential cmake pkg-config clang-format
  liblief-dev libarchive-dev libboost-filesystem-dev libcli11-dev doctest-dev
  libtomlplusplus-dev nlohmann-json3-dev libsimdjson-dev libssl-dev
  # end-to-end tests: the real services a jail must run
  nginx php-fpm php-intl php-gd php-curl php-mbstring php-sqlite3 php-xml curl
  # the TLS scenarios (a local CA and server certificate): without it they would only be skipped
  openssl
  # the real-application scenario (tests/scenario/wordpress.sh): Debian's WordPress with a theme (without
  # one it shows nothing), phpMyAdmin, a MariaDB server the test starts itself, the extensions they load
  # (php-imagick brings ImageMagick's libraries, coders and imagemagick-6-common), a sendmail for mail()
  wordpress wordpress-theme-twentytwentythree phpmyadmin mariadb-server php-mysql php-imagick msmtp-mta
  # test oracles and benchmark peers
  pax-utils python3-pyelftools jailkit hyperfine zstd xz-utils time
  # scenario_state_dirs traces every command for the paths it opens (without strace it skips those checks)
  strace
  # the fuzzers (scripts/fuzz.sh): clang, its libFuzzer and sanitizer runtimes
  clang libclang-rt-14-dev
  # systemd units: systemd as PID 1 in a container (tests/scenario/lib/nspawn.sh), systemd-analyze
  systemd-container
  # AppArmor profiles: compiled with apparmor_parser, matched with apparmor-utils' Python library
  apparmor apparmor-utils python3-apparmor
  # OCI export: Debian's container tools as oracles (runc: crun refuses this machine's cgroup layout)
  podman skopeo umoci runc
  # the Debian package, man pages and completion; tmux captures the progress display
  debhelper dpkg-dev lintian scdoc bash-completion tmux
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = installed ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "bootstrap: missing packages (${missing[*]}); run this script as root" >&2
  exit 1
fi
echo "bootstrap: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# phpMyAdmin asks whether to make its database (dbconfig-common) and which web server to configure:
# neither, so that it installs without a prompt and without a database server running.
debconf-set-selections <<'EOF'
phpmyadmin phpmyadmin/dbconfig-install boolean false
phpmyadmin phpmyadmin/reconfigure-webserver multiselect
EOF
# Services installed here must not start on the host behind our back (nginx on port 80, MariaDB on
# /run/mysqld) where we can help it: invoke-rc.d asks policy-rc.d, and 101 means "not allowed". A
# policy the machine already has is left alone. The tests start their own servers.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# bootstrap.sh: no service starts while it installs packages\nexit 101\n' >"$policy"
  chmod 0755 "$policy"
  trap 'rm -f "$policy"' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
