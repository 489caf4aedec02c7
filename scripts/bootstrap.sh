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
  # test oracles and benchmark peers
  pax-utils python3-pyelftools jailkit hyperfine zstd xz-utils time
  # the fuzzers (scripts/fuzz.sh): clang, its libFuzzer and sanitizer runtimes
  clang libclang-rt-14-dev
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
apt-get update -qq
# Services installed here must not start on the host's port 80 behind our back where we can help it.
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
