#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# What an archive says besides its files, attacked as the red team did after issue #10: origin.json
# (its extra_digests, its size and nesting, its keys) and the strings unpack echoes back to the admin.
# Each attack is a real archive packed here and rewritten as an attacker would, given to the CLI.
set -u
: "${JB:?JB must name the jailbuild binary}"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (unpack writes owners and device nodes); CI runs as root"; exit 77; }
command -v zstd >/dev/null && command -v python3 >/dev/null ||
  { echo "SKIP: zstd and python3 are needed to write hostile archives"; exit 77; }

tmp=$(mktemp -d /tmp/jb-origin.XXXXXX) # root-owned, 0700: a fine parent for jails
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

# rewrite SRC DST PYTHON: the archive SRC with `manifest` and `origin` (dicts) and `members` (a list of
# [TarInfo, bytes|None]) changed by PYTHON; add_file(path, data, mode) appends a file, sha(b) hashes.
rewrite() {
  python3 - "$@" <<'PY'
import hashlib, io, json, subprocess, sys, tarfile
src, dst, code = sys.argv[1:4]
raw = subprocess.run(["zstd", "-dc", src], check=True, capture_output=True).stdout
tin = tarfile.open(fileobj=io.BytesIO(raw))
members = [[ti, tin.extractfile(ti).read() if ti.isreg() else None] for ti in tin.getmembers()]
manifest = json.loads(members[1][1]); origin = json.loads(members[2][1])
origin_text = None  # set to bytes to replace origin.json verbatim
def sha(b): return hashlib.sha256(b).hexdigest()
def add_file(path, data, mode=0o644):
    ti = tarfile.TarInfo(path); ti.size = len(data); ti.mode = mode; ti.mtime = members[0][0].mtime
    members.append([ti, data])
exec(code)
members[1][1] = json.dumps(manifest).encode()
members[2][1] = origin_text if origin_text is not None else json.dumps(origin).encode()
out = io.BytesIO()
with tarfile.open(fileobj=out, mode="w:", format=tarfile.PAX_FORMAT) as tout:
    for ti, data in members:
        if data is not None: ti.size = len(data)
        tout.addfile(ti, io.BytesIO(data) if data is not None else None)
subprocess.run(["zstd", "-q", "-f", "-o", dst], input=out.getvalue(), check=True)
PY
}
# findings JAIL PATTERN: the audit's findings (JSON) on paths matching PATTERN, as "severity path".
findings() {
  "$JB" audit "$1" --json | python3 -c '
import json, re, sys
for f in json.load(sys.stdin)["findings"]:
    if re.search(sys.argv[1], f["path"]): print(f["severity"], f["path"])' "$2"
}

# A real jail (dash and its libraries, from this host), packed.
jail=$tmp/jail
"$JB" create "$jail" --with sh --state-dir "$tmp/state" --config-dir "$tmp/state.config" -q || { echo "FAIL create"; exit 1; }
"$JB" pack "$jail" -o "$tmp/jail.tar.zst" -q >/dev/null || { echo "FAIL pack"; exit 1; }
libdir=$(cd "$jail" && dirname "$(find usr/lib -name 'libc.so.6' | head -1)")

# --- 01. extra_digests launders planted files; a system directory made a state directory ---------------
# extra_digests is for the services' own files (their data, kept state): the archive lists an ini in
# /etc, an executable in /usr/bin and a library there. And it marks the library directory as a state
# directory, so that a library it lists honestly as unverified would only be "info".
rewrite "$tmp/jail.tar.zst" "$tmp/launder.tar.zst" "
ini = b'auto_prepend_file=/tmp/x.php\n'
elf = open('/usr/bin/id', 'rb').read()
add_file('etc/zz.ini', ini)
add_file('usr/bin/backdoor', elf, 0o755)
add_file('$libdir/libzz.so.1', elf)
add_file('$libdir/libyy.so.1', elf)
origin['extra_digests']['/etc/zz.ini'] = sha(ini)
origin['extra_digests']['/usr/bin/backdoor'] = sha(elf)
origin['extra_digests']['/$libdir/libzz.so.1'] = sha(elf)
origin['unverified_digests']['/$libdir/libyy.so.1'] = sha(elf)
for e in manifest['entries']:
    if e['path'] == '/$libdir': e['role'] = 'state'
"
run "$JB" unpack "$tmp/launder.tar.zst" "$tmp/launder" --state-dir "$tmp/state-launder" --config-dir "$tmp/state-launder.config"
check "01: unpack keeps the planted files unverified, saying so" \
  '[ $rc -eq 0 ] && grep -q "^jailbuild: warning: .*outside the directories the jail.s services write.*/usr/bin/backdoor" <<<"$err"'
planted="zz.ini|backdoor|libzz|libyy"
check "01: audit right after unpack rates every planted file high" \
  '[ "$(findings "$tmp/launder" "$planted" | grep -c "^high ")" = 4 ]'
run "$JB" sync "$tmp/launder" --config-dir "$tmp/config"
check "01: sync keeps the origin" '[ $rc -le 1 ] && grep -q "\"unverified_digests\"" "$tmp/launder/.jailbuild/manifest.json"'
check "01: audit after sync still rates every planted file high" \
  '[ "$(findings "$tmp/launder" "$planted" | grep -c "^high ")" = 4 ]'
# An origin of before this fix, in a jail already unpacked: audit honours extra_digests only in the
# services' directories.
python3 - "$tmp/launder/.jailbuild/manifest.json" "$libdir" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
o = m["origin"]
o["extra_digests"].update(o["unverified_digests"]); o["unverified_digests"] = {}
for e in m["entries"]:
    if e["path"] == "/" + sys.argv[2]: e["role"] = "state"
json.dump(m, open(sys.argv[1], "w"))
PY
check "01: audit honours no extra digest outside the services' directories, whatever the manifest says" \
  '[ "$(findings "$tmp/launder" "$planted" | grep -c "^high ")" = 4 ]'

# --- 03. origin.json without a size or depth limit --------------------------------------------------
# 20 MB of '[' (a few KB of zstd) cost 1.5 GB of memory and 8 s to parse.
rewrite "$tmp/jail.tar.zst" "$tmp/nested.tar.zst" "origin_text = b'[' * 20000000 + b']' * 20000000"
run /usr/bin/time -f "%e s %M KB" "$JB" unpack "$tmp/nested.tar.zst" "$tmp/nested" --state-dir "$tmp/state-bad" --config-dir "$tmp/state-bad.config"
used=$(tail -1 "$tmp/err")
check "03: 20 MB of nesting: a clear error naming origin.json, at once, in little memory ($used)" \
  '[ $rc -eq 2 ] && grep -q "^jailbuild: $tmp/nested.tar.zst: .jailbuild/origin.json: too large" <<<"$err" &&
   [ "${used%% KB}" != "$used" ] && [ "$(awk "{print (\$1 < 2 && \$3 < 200000)}" <<<"$used")" = 1 ] && [ ! -e "$tmp/nested" ]'
# Small enough, but nested far deeper than an origin ever is.
rewrite "$tmp/jail.tar.zst" "$tmp/deep.tar.zst" "origin_text = b'{\"host\": ' + b'[' * 100000 + b']' * 100000 + b'}'"
run "$JB" unpack "$tmp/deep.tar.zst" "$tmp/deep" --state-dir "$tmp/state-bad" --config-dir "$tmp/state-bad.config"
check "03: 100,000 levels in 200 KB: refused for its nesting" \
  '[ $rc -eq 2 ] && grep -q "^jailbuild: $tmp/deep.tar.zst: .jailbuild/origin.json: corrupt origin: nested deeper than" <<<"$err" && [ ! -e "$tmp/deep" ]'

# --- 09. origin keys and values checked when origin.json is read -------------------------------------
# An empty key failed after extracting everything, with "basic_string::substr" and no file named.
for key in "" "etc/passwd" "/etc/../etc/x" "/etc/x/" "/.jailbuild/lock" "/"; do
  rewrite "$tmp/jail.tar.zst" "$tmp/key.tar.zst" "origin['extra_digests']['$key'] = '0' * 64"
  run "$JB" unpack "$tmp/key.tar.zst" "$tmp/key" --state-dir "$tmp/state-bad" --config-dir "$tmp/state-bad.config"
  check "09: extra_digests key '$key': refused naming origin.json, before anything is written" \
    '[ $rc -eq 2 ] && grep -q "^jailbuild: $tmp/key.tar.zst: .jailbuild/origin.json: corrupt origin: .*path" <<<"$err" && [ ! -e "$tmp/key" ]'
done
rewrite "$tmp/jail.tar.zst" "$tmp/digest.tar.zst" "origin['unverified_digests']['/etc/x'] = 'zz'"
run "$JB" unpack "$tmp/digest.tar.zst" "$tmp/digest" --state-dir "$tmp/state-bad" --config-dir "$tmp/state-bad.config"
check "09: a digest that is not 64 hex digits: refused naming origin.json" \
  '[ $rc -eq 2 ] && grep -q "^jailbuild: $tmp/digest.tar.zst: .jailbuild/origin.json: corrupt origin: .*/etc/x.*sha256" <<<"$err" && [ ! -e "$tmp/digest" ]'

# --- 07. archive strings echoed to the admin -----------------------------------------------------------
# The archive's bind source carries a command substitution, and unpack's warning invites the admin to
# paste "jailbuild create ... --bind SOURCE:DEST:ro" as root. Paste it (jailbuild a function here).
rewrite "$tmp/jail.tar.zst" "$tmp/paste.tar.zst" "
src = '/srv/x\$(id>$tmp/pwned)'
manifest['spec']['binds'] = [{'source': src, 'dest': '/mnt', 'read_only': True, 'noexec': False}]
b = dict(manifest['entries'][1]); b.update(kind='bind', path='/mnt', source=src, read_only=True, noexec=False, origin='--bind')
manifest['entries'].append(b); manifest['entries'].sort(key=lambda e: e['path'])"
run "$JB" unpack "$tmp/paste.tar.zst" "$tmp/paste" --state-dir "$tmp/state-bad" --config-dir "$tmp/state-bad.config"
suggested=$(grep -o 'To declare them: .*' <<<"$err" | sed 's/^To declare them: //')
pasted=$(bash -c 'jailbuild() { printf "%s\n" "$@"; }; '"$suggested" 2>&1)
check "07: the suggested command, pasted, runs nothing of the archive's and passes its bind as one word" \
  '[ $rc -eq 0 ] && [ -n "$suggested" ] && [ ! -e "$tmp/pwned" ] &&
   grep -qxF "/srv/x\$(id>$tmp/pwned):/mnt:ro" <<<"$pasted" && grep -qxF "$tmp/paste" <<<"$pasted"'
# Terminal escapes in a bind's origin: "erase the line, print a reassuring one".
rewrite "$tmp/jail.tar.zst" "$tmp/escape.tar.zst" "
b = dict(manifest['entries'][1]); b.update(kind='bind', path='/srv', source='/srv/y', read_only=True, noexec=False)
b['origin'] = '--bind\x1b[2K\r\x1b[1A\x1b[2Kjailbuild: all binds verified safe'
manifest['entries'].append(b); manifest['entries'].sort(key=lambda e: e['path'])"
run "$JB" unpack "$tmp/escape.tar.zst" "$tmp/escape" --state-dir "$tmp/state-bad" --config-dir "$tmp/state-bad.config"
check "07: a control character in a manifest string: refused naming manifest.json, none echoed, nothing written" \
  '[ $rc -eq 2 ] && grep -q "^jailbuild: $tmp/escape.tar.zst: .jailbuild/manifest.json: corrupt manifest: .*control character" <<<"$err" &&
   ! LC_ALL=C grep -q "[[:cntrl:]]" "$tmp/err" "$tmp/out" && [ ! -e "$tmp/escape" ]'
rewrite "$tmp/jail.tar.zst" "$tmp/host.tar.zst" "origin['host'] = 'web1\x1b]0;pwned\x07'"
run "$JB" unpack "$tmp/host.tar.zst" "$tmp/host" --state-dir "$tmp/state-bad" --config-dir "$tmp/state-bad.config"
check "07: a control character in origin.json's host: refused naming origin.json, none echoed" \
  '[ $rc -eq 2 ] && grep -q "^jailbuild: $tmp/host.tar.zst: .jailbuild/origin.json: corrupt origin: .*control character" <<<"$err" &&
   ! LC_ALL=C grep -q "[[:cntrl:]]" "$tmp/err" "$tmp/out" && [ ! -e "$tmp/host" ]'

exit $fail
