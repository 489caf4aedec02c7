#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The lazily loaded modules (include/jailbuild/module.hpp): the executable does not link LIEF, OpenSSL
# or libarchive; the modules are found next to it (the build tree) or in <prefix>/lib/jailbuild for
# <prefix>/sbin/jailbuild, never through LD_LIBRARY_PATH or the current directory; a missing or broken
# module is a clear error naming it; errors raised inside a module reach the CLI naming the file.
set -u
tmp=$(mktemp -d /tmp/jb-modules.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib/checks.sh"
build=$(dirname "$JB")
archive=$build/libjailbuild-archive.so
crypto=$build/libjailbuild-crypto.so

check "the modules are built next to the executable" '[ -f "$archive" ] && [ -f "$crypto" ]'
needed=$(readelf -d "$JB" | grep NEEDED)
check "the executable links neither LIEF, libcrypto nor libarchive" '! grep -qiE "lief|crypto|archive" <<<"$needed"'

# Something to audit: a directory holding an ELF executable, and one cut short.
mkdir -p "$tmp/dir/bin"
cp /bin/true "$tmp/dir/bin/true"
head -c 100 /bin/true >"$tmp/dir/bin/cut"
chmod 755 "$tmp/dir/bin/cut"
hardening() { python3 -c 'import json, sys
for f in json.load(open(sys.argv[1]))["hardening"]["files"]: print(f["path"], f["pie"], f["error"])' "$1"; }

"$JB" audit "$tmp/dir" --no-integrity --json --fail-on critical >"$tmp/audit.json"
check "build tree: audit reads hardening" 'hardening "$tmp/audit.json" | grep -q "^/bin/true True None$"'
check "a truncated ELF file is reported, saying why" 'hardening "$tmp/audit.json" | grep -q "^/bin/cut .*truncated"'
printf 'not an archive' >"$tmp/junk.tar.zst"
"$JB" unpack "$tmp/junk.tar.zst" "$tmp/unpacked" --config-dir "$tmp/config" -q 2>"$tmp/unpack.err"; rc=$?
check "build tree: the libarchive module's Error names the archive" \
  '[ $rc -eq 2 ] && grep -q "^jailbuild: $tmp/junk.tar.zst: " "$tmp/unpack.err" && ! grep -q "cannot load" "$tmp/unpack.err"'

# The executable alone: what needs no module still works, the rest names the missing module.
mkdir -p "$tmp/alone/sbin"
cp "$JB" "$tmp/alone/sbin/jailbuild"
check "alone: --version" '"$tmp/alone/sbin/jailbuild" --version >/dev/null'
check "alone: deps" '"$tmp/alone/sbin/jailbuild" deps /bin/true >/dev/null'
check "alone: audit without hardening" '"$tmp/alone/sbin/jailbuild" audit "$tmp/dir" --no-integrity --no-hardening --fail-on critical >/dev/null'
# Hardening is read without LIEF (src/elf/elf_hardening.cpp says why): no module needed.
"$tmp/alone/sbin/jailbuild" audit "$tmp/dir" --no-integrity --json --fail-on critical >"$tmp/alone.json"
check "alone: audit's hardening needs no module" 'hardening "$tmp/alone.json" | grep -q "^/bin/true True None$"'
# LD_LIBRARY_PATH and the current directory both hold the modules: neither may be searched.
(cd "$build" && LD_LIBRARY_PATH=$build "$tmp/alone/sbin/jailbuild" audit "$tmp/dir" >/dev/null 2>"$tmp/alone.err"); rc=$?
check "alone: audit names the missing OpenSSL module, once" \
  '[ $rc -eq 2 ] && [ $(wc -l <"$tmp/alone.err") -eq 1 ] && grep -q "^jailbuild: $tmp/alone/lib/jailbuild/libjailbuild-crypto.so: cannot load the OpenSSL module: " "$tmp/alone.err"'
(cd "$build" && LD_LIBRARY_PATH=$build "$tmp/alone/sbin/jailbuild" unpack "$tmp/junk.tar.zst" "$tmp/unpacked" 2>"$tmp/alone.err"); rc=$?
check "alone: unpack names the missing libarchive module" \
  '[ $rc -eq 2 ] && grep -q "^jailbuild: $tmp/alone/lib/jailbuild/libjailbuild-archive.so: cannot load the libarchive module: " "$tmp/alone.err"'

# The installed layout: <prefix>/sbin/jailbuild and <prefix>/lib/jailbuild/.
mkdir -p "$tmp/alone/lib/jailbuild"
cp "$archive" "$tmp/alone/lib/jailbuild/"
"$tmp/alone/sbin/jailbuild" unpack "$tmp/junk.tar.zst" "$tmp/unpacked" 2>"$tmp/alone.err"; rc=$?
check "alone: unpack (the archive module) names the missing OpenSSL module" \
  '[ $rc -eq 2 ] && grep -q "^jailbuild: $tmp/alone/lib/jailbuild/libjailbuild-crypto.so: cannot load the OpenSSL module: " "$tmp/alone.err"'
cp "$crypto" "$tmp/alone/lib/jailbuild/"
check "installed layout: the OpenSSL module is found in lib/jailbuild" \
  '"$tmp/alone/sbin/jailbuild" audit "$tmp/dir" --fail-on critical >/dev/null'
"$tmp/alone/sbin/jailbuild" unpack "$tmp/junk.tar.zst" "$tmp/unpacked" -q 2>"$tmp/unpack.err"
check "installed layout: the libarchive module is found in lib/jailbuild" 'grep -q "^jailbuild: $tmp/junk.tar.zst: " "$tmp/unpack.err"'

# A module that is there but broken is an error too, not a reason to look elsewhere.
printf 'garbage' >"$tmp/alone/sbin/libjailbuild-crypto.so"
"$tmp/alone/sbin/jailbuild" audit "$tmp/dir" >/dev/null 2>"$tmp/broken.err"; rc=$?
check "a broken module next to the executable is an error naming it" \
  '[ $rc -eq 2 ] && grep -q "^jailbuild: $tmp/alone/sbin/libjailbuild-crypto.so: cannot load the OpenSSL module: " "$tmp/broken.err"'
finish
