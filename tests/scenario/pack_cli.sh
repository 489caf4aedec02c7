#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# pack and unpack end to end: a real nginx + php-fpm jail is packed (twice, and again after touch:
# byte-identical), unpacked elsewhere (every file re-hashed against the manifest, audited as the
# packed jail is), and the PHP page is served from the unpacked copy. Runtime state of a
# jail that has served is left out; corrupt and hostile archives fail with exit 2 naming the file.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../scripts/lib/serve.sh"

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (chroot, chown, mknod); CI runs as root"; exit 77; }
[ -x /usr/sbin/nginx ] && ls /usr/sbin/php-fpm* >/dev/null 2>&1 ||
  { echo "SKIP: nginx and php-fpm are not installed (scripts/bootstrap.sh installs them)"; exit 77; }

tmp=$(mktemp -d /tmp/jb-pack.XXXXXX)
jail=$tmp/jail
copy=$tmp/copy
port=$((20000 + RANDOM % 20000))
cleanup() { jail_stop "$jail"; jail_stop "$copy"; rm -rf "$tmp"; }
trap cleanup EXIT
. "$(dirname "$0")/lib/checks.sh"

"$JB" create "$jail" --with nginx,php-fpm --writable /var/www/data:www-data --state-dir "$tmp/state" --config-dir "$tmp/state.config" -q || { flunk "create"; finish; }
jail_write_site "$jail" "$port" || exit 1

# Reproducible: the same jail packs to the same bytes, also after every file was touched.
check "pack" '"$JB" pack "$jail" -o "$tmp/a.tar.zst" -q >"$tmp/a.out"'
check "pack prints the sha256" '[ "$(cat "$tmp/a.out")" = "$(sha256sum "$tmp/a.tar.zst" | cut -d" " -f1)  $tmp/a.tar.zst" ]'
check "FILE.sha256 verifies" '(cd "$tmp" && sha256sum -c --quiet a.tar.zst.sha256)'
check "is zstd" '[ "$(head -c4 "$tmp/a.tar.zst" | od -An -tx1 | tr -d " ")" = "28b52ffd" ]'
"$JB" pack "$jail" -o "$tmp/b.tar.zst" -q >/dev/null
check "two packs are byte-identical" 'cmp -s "$tmp/a.tar.zst" "$tmp/b.tar.zst"'
find "$jail" -xdev ! -type l -exec touch -a -m {} +
"$JB" pack "$jail" -o "$tmp/c.tar.zst" -q >/dev/null
check "a pack after touch is byte-identical" 'cmp -s "$tmp/a.tar.zst" "$tmp/c.tar.zst"'
check "SOURCE_DATE_EPOCH sets every mtime" 'SOURCE_DATE_EPOCH=1000000000 "$JB" pack "$jail" -o "$tmp/e.tar" -q >/dev/null &&
  [ -z "$(tar --full-time -tvf "$tmp/e.tar" 2>/dev/null | grep -v " 2001-09-09 01:46:40 ")" ]'
check "numeric owners only" '! tar -tvf "$tmp/e.tar" | awk "{print \$2}" | grep -qv "^[0-9]*/[0-9]*$"'
check "GNU tar reads the gzip and xz packs" '"$JB" pack "$jail" -o "$tmp/g.tar.gz" -q >/dev/null && tar -tzf "$tmp/g.tar.gz" >/dev/null &&
  "$JB" pack "$jail" -o "$tmp/x.tar.xz" -q >/dev/null && tar -tJf "$tmp/x.tar.xz" >/dev/null'

# Runtime state of a jail that has served a page is left out, its directories kept.
if jail_start "$jail" "$port" && curl -fsS -o /dev/null "http://127.0.0.1:$port/index.php"; then
  "$JB" pack "$jail" -o "$tmp/live.tar" -q >/dev/null
  jail_stop "$jail"
  tar -tf "$tmp/live.tar" >"$tmp/live.list"
  check "sessions left out, their directory kept" '! grep -q "^var/lib/php/sessions/sess_" "$tmp/live.list" && grep -qx "var/lib/php/sessions/" "$tmp/live.list"'
  check "sockets and pid files left out" '! grep -qE "\.sock$|^run/.*\.pid$" "$tmp/live.list" && grep -qx "run/php/" "$tmp/live.list"'
  check "logs left out, log directories kept" '! grep -qE "^var/log/.+[^/]$" "$tmp/live.list" && grep -qx "var/log/nginx/" "$tmp/live.list"'
  "$JB" pack "$jail" -o "$tmp/state.tar" --include-state -q >/dev/null
  check "--include-state keeps sessions and logs" 'tar -tf "$tmp/state.tar" | grep -q "^var/lib/php/sessions/sess_" && tar -tf "$tmp/state.tar" | grep -q "^var/log/nginx/.*log$"'
else
  flunk "the source jail did not serve"
fi

# Unpack elsewhere: registered, origin recorded, every file verified again here, independently.
check "unpack" '"$JB" unpack "$tmp/a.tar.zst" "$copy" --state-dir "$tmp/state2" --config-dir "$tmp/state2.config" -q'
check "unpacked jail registered" 'grep -qx "$copy" "$tmp/state2/jails"'
check "manifest marks the unpack" 'python3 -c "import json,sys; o=json.load(open(sys.argv[1]))[\"origin\"]; sys.exit(0 if o[\"unpacked\"] > 0 and o[\"packages\"] and o[\"archive_sha256\"] else 1)" "$copy/.jailbuild/manifest.json"'
check "every manifest digest matches the unpacked files" 'python3 - "$copy" <<"PY"
import hashlib, json, sys
root = sys.argv[1]
m = json.load(open(root + "/.jailbuild/manifest.json"))
want = {e["path"]: e["digest"] for e in m["entries"] if e["kind"] in ("file", "generated")}
want.update(m["origin"]["extra_digests"])
want.update(m["origin"]["unverified_digests"])
bad = [p for p, d in want.items() if hashlib.sha256(open(root + p, "rb").read()).hexdigest() != d]
print("%d files checked" % len(want), *bad[:5])
sys.exit(1 if bad or len(want) < 100 else 0)
PY'
check "owners and modes restored" '[ "$(stat -c %a:%u "$copy/var/lib/php/sessions")" = "1733:0" ] && [ "$(stat -c %a:%u "$copy/.jailbuild")" = "700:0" ] &&
  [ "$(stat -c %u "$copy/var/www/data")" = "$(stat -c %u "$jail/var/www/data")" ]'
check "devices restored" '[ "$(stat -c %F:%t:%T "$copy/dev/null")" = "character special file:1:3" ]'
# Packing launders nothing: the site's nginx configuration, written into the jail's /etc by hand
# (serve.sh), is a high finding in the packed jail and stays one in the unpacked copy; the copy's
# audit finds at medium or above exactly what the packed jail's does.
serious() { "$JB" audit "$1" --json --no-hardening --fail-on critical | python3 -c 'import json, sys
for f in json.load(sys.stdin)["findings"]:
    if f["severity"] in ("medium", "high", "critical"): print(f["severity"], f["rule"], f["path"])' | sort; }
serious "$jail" >"$tmp/audit.jail"
serious "$copy" >"$tmp/audit.copy"
check "the unpacked jail's audit reports what the packed jail's does" 'cmp -s "$tmp/audit.jail" "$tmp/audit.copy" || { diff "$tmp/audit.jail" "$tmp/audit.copy"; false; }'
check "a configuration file placed by hand stays a high finding after pack and unpack" \
  'grep -qx "high integrity-unexpected /etc/nginx/jailbuild-site.conf" "$tmp/audit.copy"'

# The page is served from the unpacked copy.
if jail_start "$copy" "$port"; then
  page=$(curl -fsS "http://127.0.0.1:$port/index.php") || page="FAIL fetching the page"
  check "page from the unpacked jail has no failure" '! grep -q "^FAIL" <<<"$page" && grep -qx "ok session" <<<"$page"'
  [ $fail -eq 0 ] || echo "$page"
  jail_stop "$copy"
else
  flunk "the unpacked jail did not start"
fi

# Errors: exit 2 and "jailbuild: FILE: ..." naming the archive; nothing left behind.
head -c 100000 "$tmp/a.tar.zst" >"$tmp/cut.tar.zst"
"$JB" unpack "$tmp/cut.tar.zst" "$tmp/cut" --state-dir "$tmp/state2" --config-dir "$tmp/state2.config" 2>"$tmp/cut.err"; rc=$?
check "truncated archive: exit 2, message names the file" '[ $rc -eq 2 ] && grep -q "^jailbuild: $tmp/cut.tar.zst: .*truncated" "$tmp/cut.err" && [ ! -e "$tmp/cut" ]'
"$JB" unpack "$tmp/a.tar.zst" "$copy" --state-dir "$tmp/state2" --config-dir "$tmp/state2.config" 2>"$tmp/again.err"; rc=$?
check "unpack into a non-empty directory: exit 2" '[ $rc -eq 2 ] && grep -q "not empty" "$tmp/again.err"'
mkdir "$tmp/evil"
python3 - "$tmp/a.tar.zst" "$tmp/evil.tar" <<'PY'
# A hostile archive: the real manifest and origin, then a path that climbs out of DIR.
import io, subprocess, sys, tarfile
raw = subprocess.run(["zstd", "-dc", sys.argv[1]], capture_output=True, check=True).stdout
src = tarfile.open(fileobj=io.BytesIO(raw))
with tarfile.open(sys.argv[2], "w", format=tarfile.PAX_FORMAT) as out:
    for name in (".jailbuild", ".jailbuild/manifest.json", ".jailbuild/origin.json"):
        member = src.getmember(name)
        out.addfile(member, src.extractfile(member) if member.isfile() else None)
    evil = tarfile.TarInfo("../evil/escaped")
    evil.size = 5
    out.addfile(evil, io.BytesIO(b"owned"))
PY
"$JB" unpack "$tmp/evil.tar" "$tmp/victim" --state-dir "$tmp/state2" --config-dir "$tmp/state2.config" 2>"$tmp/evil.err"; rc=$?
check "hostile '..' archive refused, nothing written outside" '[ $rc -eq 2 ] && grep -q "^jailbuild: $tmp/evil.tar: ../evil/escaped: " "$tmp/evil.err" && [ -z "$(ls -A "$tmp/evil")" ] && [ ! -e "$tmp/victim" ]'
finish
