#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Modules a library dlopen()s from a directory of its own (issue #18: ImageMagick's coders), found
# from the host's dpkg database read as files: on the fake host root (tests/fixtures/make-fakeroot.sh:
# libimgcore of package libmagickcore-6.q16-6 loads coders/png.so, which needs libpngfake; its lists
# also name a .la without its module, a missing module, a symlink out of the library tree, /root/secret and a
# malformed line). create brings the modules, their closure and their configuration; deps --tree and
# the manifest say which rule found them; a module the package drops is removed by sync.
set -u
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (create sets owners; chroot runs the jailed program)"; exit 77; }
: "${JB_FIXTURE_ROOT:?JB_FIXTURE_ROOT must name the fake host root}"
. "$(dirname "$0")/lib/checks.sh"

tmp=$(mktemp -d /tmp/jb-modules.XXXXXX)
trap 'rm -rf --one-file-system "$tmp"' EXIT
host=$tmp/host jail=$tmp/jail pdir=$tmp/profiles state=$tmp/state
cp -a "$JB_FIXTURE_ROOT" "$host"
mkdir -p "$pdir"
printf 'root:x:0:0:root:/root:/bin/bash\n' >"$host/etc/passwd"
printf 'root:x:0:\n' >"$host/etc/group"
cat >"$pdir/img.toml" <<'TOML'
description = "test: a program whose library loads coders at run time"
[[elf]]
paths = ["/usr/bin/img-exe"]
TOML
L=/usr/lib/$(sed -n 's/^triplet=//p' "$host/FIXTURE-INFO")
im=$L/ImageMagick-6.9.11
jb_sync() { "$JB" sync "$jail" --state-dir "$state" --config-dir "$state.config" "$@"; }

"$JB" create "$jail" --with img --host-root "$host" --profiles-dir "$pdir" --state-dir "$state" \
  --config-dir "$state.config" -q || { flunk "create"; finish; }
check "the coder its library loads is in the jail" '[ -f "$jail/$im/modules-Q16/coders/png.so" ]'
check "so is the filter of the same package" '[ -f "$jail/$im/modules-Q16/filters/analyze.so" ]'
check "the coder's own closure is in the jail (libpngfake)" '[ -f "$jail/$L/libpngfake.so.16" ]'
check "the jailed program loads the coder" '[ "$(chroot "$jail" /usr/bin/img-exe png 2>&1)" = "png: png-coder" ]'
check "the modules' configuration (same package)" '[ -f "$jail/$im/config-Q16/configure.xml" ]'
check "the modules' configuration (same source, -common)" '[ "$(cat "$jail/etc/ImageMagick-6/policy.xml")" = "<policymap/>" ]'
check "the coder's .la (libltdl opens it), no .la without its module" \
  '[ -f "$jail/$im/modules-Q16/coders/png.la" ] && [ ! -e "$jail/$im/modules-Q16/coders/orphan.la" ]'
check "no path outside the library and configuration trees" '[ ! -e "$jail/root/secret" ] && [ ! -e "$jail/root" ]'
check "no symlink that leaves the library tree" '[ ! -e "$jail/$im/modules-Q16/coders/evil.so" ] && [ ! -L "$jail/$im/modules-Q16/coders/evil.so" ]'
check "no docs" '[ ! -e "$jail/usr/share/doc" ]'
manifest=$jail/.jailbuild/manifest.json
check "the manifest says which rule found the coder" \
  'python3 -c "import json,sys; m=json.load(open(sys.argv[1])); e=[x for x in m[\"entries\"] if x[\"path\"].endswith(\"/coders/png.so\")]; sys.exit(not e or e[0][\"origin\"] != \"module dir of libmagickcore-6.q16-6 (dpkg)\")" "$manifest"'
check "and which found its configuration" \
  'python3 -c "import json,sys; m=json.load(open(sys.argv[1])); e=[x for x in m[\"entries\"] if x[\"path\"] == \"/etc/ImageMagick-6/policy.xml\"]; sys.exit(not e or e[0][\"origin\"] != \"module config of imagemagick-6-common (dpkg)\")" "$manifest"'

"$JB" deps --tree --host-root "$host" /usr/bin/img-exe >"$tmp/tree.txt" 2>"$tmp/tree.err"
check "deps --tree names the rule that found the coder" \
  'grep -qx "$im/modules-Q16/coders/png.so (module dir of libmagickcore-6.q16-6 (dpkg))" "$tmp/tree.txt"'
check "deps --tree shows the coder's own needs" 'grep -q "libpngfake.so.16 => $L/libpngfake.so.16" "$tmp/tree.txt"'
"$JB" deps --json --host-root "$host" /usr/bin/img-exe >"$tmp/deps.json"
check "deps --json says found_by" \
  'python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(not any(o[\"found_by\"] == \"module dir of libmagickcore-6.q16-6 (dpkg)\" and o[\"path\"].endswith(\"/filters/analyze.so\") for o in d[\"objects\"]))" "$tmp/deps.json"'

# --- an upgrade of the package drops the filter: dpkg removes the file and rewrites the list
sleep 2.1 # the record of a host written within two seconds is racy (inputs.hpp)
rm "$host/$im/modules-Q16/filters/analyze.so"
list="$host/var/lib/dpkg/info/libmagickcore-6.q16-6:amd64.list"
grep -v '/filters' "$list" >"$list.new" && mv "$list.new" "$list"
jb_sync -q || flunk "sync after the package dropped a module"
check "sync removes the module the package dropped" '[ ! -e "$jail/$im/modules-Q16/filters/analyze.so" ]'
check "and keeps the others" '[ -f "$jail/$im/modules-Q16/coders/png.so" ]'
check "the jailed program still loads its coder" '[ "$(chroot "$jail" /usr/bin/img-exe png 2>&1)" = "png: png-coder" ]'

# --- an admin's edit of the modules' configuration in the jail is kept, as for any /etc file
echo '<policymap><policy domain="coder" rights="none" pattern="PS"/></policymap>' >"$jail/etc/ImageMagick-6/policy.xml"
touch "$host/etc/ImageMagick-6/policy.xml" # the host changed too: sync plans again
jb_sync -q
check "an edited module configuration is kept by sync" 'grep -q "rights=\"none\"" "$jail/etc/ImageMagick-6/policy.xml"'

# --- a hostile size: a 2 GiB "list" is refused with a clear error, nothing read
truncate -s 2G "$host/var/lib/dpkg/info/imgtool:amd64.list"
if "$JB" deps --host-root "$host" /usr/bin/img-exe >/dev/null 2>"$tmp/big.err"; then
  flunk "a 2 GiB dpkg list is refused"
else
  check "a 2 GiB dpkg list is refused, naming the file" 'grep -q "imgtool:amd64.list: larger than 32 MiB: not read" "$tmp/big.err"'
fi
finish
