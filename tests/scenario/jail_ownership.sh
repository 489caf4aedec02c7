#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A registered jail whose place someone else has taken (red team 05). create accepted a jail directly
# below a sticky world-writable directory (/tmp/jail); after the admin removed it, it stayed
# registered, and www-data made the directory again with a manifest of its own: one entry copying
# /etc/shadow to a file www-data owns, and an input record that made sync reuse that plan. The next
# `sync --all` (the apt hook's) did it as root. Every command that reads a jail's manifest as root
# (sync, mount, umount, pack; audit's integrity check) must refuse a jail whose directory,
# .jailbuild/ or manifest is not root's alone, or whose place is no longer safe, saying why.
# Also: create and unpack refused an existing directory not owned by root only after chowning it.
set -u
: "${JB:?JB must name the jailbuild binary}"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (jails are root's, and the attacker is www-data)"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 is needed to write the attacker's manifest"; exit 77; }

tmp=$(mktemp -d /tmp/jb-ownership.XXXXXX)
chmod 755 "$tmp"
cleanup() { rm -rf --one-file-system "$tmp"; }
trap cleanup EXIT
fail=0
check() { if eval "$2"; then echo "ok $1"; else echo "FAIL $1"; fail=1; fi; }
run() {
  "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  out=$(cat "$tmp/out")
  err=$(cat "$tmp/err")
}
as_www() { setpriv --reuid=33 --regid=33 --clear-groups "$@"; }
state=$tmp/state

# A real jail, whose manifest the attacker takes as a template.
"$JB" create "$tmp/real" --with sh --state-dir "$tmp/real-state" --config-dir "$tmp/real-state.config" -q || { echo "FAIL create"; exit 1; }
# evil_manifest OUT: one entry, /loot <- /etc/shadow, owned by www-data; a plan that claims to be
# unchanged (an input record without paths).
evil_manifest() {
  python3 - "$tmp/real/.jailbuild/manifest.json" "$1" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
tmpl = next(e for e in m["entries"] if e["kind"] == "file")
m["entries"] = [dict(tmpl, path="/loot", source="/etc/shadow", digest="", uid=33, gid=33, mode="0600",
                     role="data", origin="walk")]
m["elf_cache"] = []
m["inputs"] = {"planned_at_ns": 1, "host": [], "tool": []}
json.dump(m, open(sys.argv[2], "w"))
PY
}
evil_manifest "$tmp/evil.json"
chmod 644 "$tmp/evil.json"
stolen() { [ -e "$1/loot" ]; }

# --- 1. Directly below a sticky world-writable directory ------------------------------------------
mkdir -m 1777 "$tmp/sticky" # stands for /tmp or /var/tmp
run "$JB" create "$tmp/sticky/jail" --with sh --state-dir "$state" --config-dir "$state.config" -q
check "create refuses a jail directly below a directory anyone can write (sticky or not)" \
  '[ $rc -eq 2 ] && grep -q "sticky: parent of the jail is writable by group or others (sticky" <<<"$err" && [ ! -e "$tmp/sticky/jail" ]'
# Registered there by an older jailbuild, removed by the admin, made again by www-data.
rm -rf --one-file-system "$tmp/sticky/jail"
mkdir -p "$state" && echo "$tmp/sticky/jail" >"$state/jails"
as_www sh -c "mkdir -p $tmp/sticky/jail/.jailbuild && cp $tmp/evil.json $tmp/sticky/jail/.jailbuild/manifest.json"
run "$JB" sync --all --state-dir "$state" --config-dir "$state.config"
check "sync --all refuses the re-occupied jail, saying why" '[ $rc -eq 2 ] && grep -q "sticky" <<<"$err"'
check "sync --all copied nothing for www-data" '! stolen "$tmp/sticky/jail"'
rm -rf --one-file-system "$tmp/sticky/jail"

# --- 2. A safe place, but .jailbuild/ or the manifest not root's alone -----------------------------
# (A jail made when --writable / was accepted gave www-data the root; or an admin's chown -R.)
mkdir -m 755 "$tmp/safe"
attack_in() { # DIR: www-data's .jailbuild and manifest in a root-owned DIR
  mkdir -m 755 "$1"
  install -d -o 33 -g 33 -m 700 "$1/.jailbuild"
  as_www cp "$tmp/evil.json" "$1/.jailbuild/manifest.json"
  echo "$1" >>"$state/jails"
}
attack_in "$tmp/safe/j1"
run "$JB" sync --all --state-dir "$state" --config-dir "$state.config"
check "sync refuses a .jailbuild/ that www-data owns" '[ $rc -eq 2 ] && grep -q "j1.*not root" <<<"$err"'
check "sync copied nothing for www-data (j1)" '! stolen "$tmp/safe/j1"'
for cmd in mount umount; do
  run "$JB" $cmd "$tmp/safe/j1"
  check "$cmd refuses it" '[ $rc -eq 2 ] && grep -q "not root" <<<"$err"'
done
run "$JB" pack "$tmp/safe/j1" -o "$tmp/j1.tar.zst"
check "pack refuses it" '[ $rc -eq 2 ] && grep -q "not root" <<<"$err" && [ ! -e "$tmp/j1.tar.zst" ]'
run "$JB" audit "$tmp/safe/j1" --json
check "audit reports it and does not take its manifest's word" \
  'grep -q "\"manifest-untrusted\"" <<<"$out" && grep -q "not root" <<<"$out"'
check "nothing of j1 was chowned to root" '[ "$(stat -c %u "$tmp/safe/j1/.jailbuild")" = 33 ]'

# A root-owned .jailbuild/ holding www-data's manifest, or a manifest anyone may write.
mkdir -m 755 "$tmp/safe/j2" && mkdir -m 700 "$tmp/safe/j2/.jailbuild"
cp "$tmp/evil.json" "$tmp/safe/j2/.jailbuild/manifest.json" && chown 33:33 "$tmp/safe/j2/.jailbuild/manifest.json"
mkdir -m 755 "$tmp/safe/j3" && mkdir -m 700 "$tmp/safe/j3/.jailbuild"
cp "$tmp/evil.json" "$tmp/safe/j3/.jailbuild/manifest.json" && chmod 666 "$tmp/safe/j3/.jailbuild/manifest.json"
mkdir -m 777 "$tmp/safe/j4" && mkdir -m 700 "$tmp/safe/j4/.jailbuild"
cp "$tmp/evil.json" "$tmp/safe/j4/.jailbuild/manifest.json"
for j in j2 j3 j4; do
  run "$JB" sync "$tmp/safe/$j" --config-dir "$tmp/config"
  check "sync refuses $j" '[ $rc -eq 2 ] && grep -q "$j" <<<"$err"'
  check "sync copied nothing for www-data ($j)" '! stolen "$tmp/safe/$j"'
done

# --- 3. An input record without paths is no proof that nothing changed ----------------------------
# Root's own jail, whose record someone emptied: sync plans again instead of trusting the entries.
"$JB" create "$tmp/safe/j5" --with sh --state-dir "$state" --config-dir "$state.config" -q
python3 - "$tmp/safe/j5/.jailbuild/manifest.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["inputs"] = {"planned_at_ns": 1, "host": [], "tool": []}
json.dump(m, open(sys.argv[1], "w"))
PY
run "$JB" sync "$tmp/safe/j5" --config-dir "$tmp/config" --json
check "an empty input record makes sync plan" '[ $rc -eq 0 ] && grep -q "\"planned\": true" <<<"$out"'

# --- 4. create and unpack into an existing directory that is not root's ---------------------------
for owner in 33:33; do
  install -d -o 33 -g 33 -m 755 "$tmp/safe/theirs"
  run "$JB" create "$tmp/safe/theirs" --with sh --state-dir "$state" --config-dir "$state.config" -q
  check "create refuses an existing directory www-data owns, touching nothing" \
    '[ $rc -eq 2 ] && grep -q "theirs.*uid 33" <<<"$err" && [ "$(stat -c %u:%g "$tmp/safe/theirs")" = "$owner" ] && [ -z "$(ls -A "$tmp/safe/theirs")" ]'
  "$JB" pack "$tmp/real" -o "$tmp/real.tar.zst" -q >/dev/null
  run "$JB" unpack "$tmp/real.tar.zst" "$tmp/safe/theirs" --state-dir "$state" --config-dir "$state.config"
  check "unpack refuses it too" \
    '[ $rc -eq 2 ] && grep -q "theirs.*uid 33" <<<"$err" && [ "$(stat -c %u:%g "$tmp/safe/theirs")" = "$owner" ] && [ -z "$(ls -A "$tmp/safe/theirs")" ]'
done
install -d -m 777 "$tmp/safe/open"
run "$JB" create "$tmp/safe/open" --with sh --state-dir "$state" --config-dir "$state.config" -q
check "create refuses an existing directory anyone can write" '[ $rc -eq 2 ] && grep -q "open.*writable" <<<"$err"'

exit $fail
