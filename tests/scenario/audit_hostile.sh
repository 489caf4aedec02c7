#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `jailbuild audit` against what a compromised service user can plant in a directory it owns (here a
# PHP session directory), through the CLI: a 3 GiB sparse ELF file and a 900 MiB one (the audit used
# to give each to LIEF whole: 6 GB of memory and a minute for the first), and directory trees 3,000
# and 60,000 levels deep (the walk must neither run out of fds nor crash). Every run is capped in
# address space and time, so that a regression fails here instead of taking the machine down.
set -u
: "${JB:?JB must name the jailbuild binary}"
command -v prlimit >/dev/null || { echo "SKIP: prlimit (util-linux) is not installed"; exit 77; }

# On tmpfs when there is one: ext4 takes minutes to make and remove 60,000 nested directories.
base=/tmp
[ -d /dev/shm ] && [ -w /dev/shm ] && base=/dev/shm
tmp=$(mktemp -d "$base/jb-audit-hostile.XXXXXX")
trap 'rm -rf --one-file-system "$tmp"' EXIT
. "$(dirname "$0")/lib/checks.sh"
# audit ARGS...: the audit under 1 GiB of address space and 120 s; exit code in $rc, peak RSS in KiB
# in $rss (0 when /usr/bin/time is missing), output in $tmp/out.json, errors in $tmp/err.
audit() {
  local time_out=$tmp/time
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -o "$time_out" -f %M timeout 120 prlimit --as=$((1 << 30)) "$JB" audit "$@" >"$tmp/out.json" 2>"$tmp/err"
    rc=$?
    rss=$(tail -n1 "$time_out")
  else
    timeout 120 prlimit --as=$((1 << 30)) "$JB" audit "$@" >"$tmp/out.json" 2>"$tmp/err"
    rc=$?
    rss=0
  fi
}
json() { python3 -c "import json, sys; d = json.load(open(sys.argv[1])); $1" "$tmp/out.json"; }

jail=$tmp/jail
sessions=$jail/var/lib/php/sessions
mkdir -p "$sessions" "$jail/etc"
printf 'www-data:x:33:33::/var/www:/usr/sbin/nologin\n' >"$jail/etc/passwd"
chmod 1733 "$sessions"

echo "== giant ELF files in a session directory"
cp /bin/true "$sessions/sess_giant"
truncate -s 3G "$sessions/sess_giant"
cp /bin/true "$sessions/sess_large"
truncate -s 900M "$sessions/sess_large"
audit "$jail" --json --no-integrity --fail-on critical
check "the audit finishes (exit 0 at --fail-on critical)" '[ $rc -eq 0 ]'
[ $rc -eq 0 ] || sed 's/^/    stderr: /' "$tmp/err"
check "the 3 GiB file is an audit-error finding (medium) saying why" 'json "
f = [f for f in d[\"findings\"] if f[\"path\"] == \"/var/lib/php/sessions/sess_giant\"]
assert [(x[\"rule\"], x[\"severity\"]) for x in f] == [(\"audit-error\", \"medium\")], f
assert \"3221225472 bytes, over the 1 GiB\" in f[0][\"message\"], f"'
check "its hardening entry says it was not parsed" 'json "
e = {f[\"path\"]: f for f in d[\"hardening\"][\"files\"]}[\"/var/lib/php/sessions/sess_giant\"]
assert \"not parsed\" in e[\"error\"], e"'
check "the 900 MiB file is read by offset: the hardening of /bin/true, no error" 'json "
e = {f[\"path\"]: f for f in d[\"hardening\"][\"files\"]}[\"/var/lib/php/sessions/sess_large\"]
assert e[\"error\"] is None and e[\"nx\"] and e[\"relro\"] != \"none\", e"'
if [ "$rss" -gt 0 ]; then
  check "peak memory below 200 MB (was 6.3 GB)" '[ "$rss" -lt 200000 ]'
else
  skip 1 "the peak memory check: /usr/bin/time is not installed"
fi
rm -f "$sessions/sess_giant" "$sessions/sess_large"

echo "== a file name that is not UTF-8, made by www-data (red team 08)"
# audit --json failed on it (exit 2, "[json.exception.type_error.316] invalid UTF-8 byte", no path):
# a monitoring job reading the JSON saw no findings at all. Setuid, so that a finding names it.
chmod 755 "$tmp"
setpriv --reuid=33 --regid=33 --clear-groups /usr/bin/python3 -c '
import os, sys
path = os.fsencode(sys.argv[1]) + b"/\xff\xfex"
os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o755)); os.chmod(path, 0o4755)' "$sessions"
audit "$jail" --json --no-integrity
check "08: audit --json succeeds (findings: exit 1), its JSON names the file with \\xNN escapes" \
  '[ $rc -eq 1 ] && json "
f = [x for x in d[\"findings\"] if x[\"path\"].endswith(\"/sessions/\\\\xff\\\\xfex\")]
assert f and f[0][\"severity\"] in (\"high\", \"critical\"), d[\"findings\"]"'
rm -f "$sessions"/$'\xff\xfe'x

echo "== sparse ELF files whose symbol tables claim the 32 MiB cap, made by www-data (red team 06)"
# Each file is 8 KiB on disk, but its section headers name a 32 MiB dynsym and a 32 MiB dynstr: the
# per-file cap let each cost 64 MiB of reading, any number of them (300 took the audit from 0.3 s to
# 71 s). An audit reads 256 MiB of tables in all, then says so once. 12 files: 768 MiB claimed.
python3 - "$tmp/evil.elf" <<'EOF'
import struct, sys
mb32 = 32 << 20
eh = b"\x7fELF\x02\x01\x01" + b"\0" * 9 + struct.pack("<HHIQQQIHHHHHH", 3, 62, 1, 0, 0, 64, 0, 64, 56, 0, 64, 2, 0)
dynsym = struct.pack("<IIQQQQIIQQ", 0, 11, 0, 0, 4096, (mb32 // 24) * 24, 1, 0, 8, 24)
dynstr = struct.pack("<IIQQQQIIQQ", 0, 3, 0, 0, 4096, mb32, 0, 0, 1, 0)
with open(sys.argv[1], "wb") as f:
    f.write(eh + dynsym + dynstr)
    f.truncate(4096 + mb32)
EOF
chmod 644 "$tmp/evil.elf"
mkdir "$jail/tmp" && chmod 1777 "$jail/tmp"
setpriv --reuid=33 --regid=33 --clear-groups sh -c \
  "mkdir '$jail/tmp/x' && for i in \$(seq 12); do cp --sparse=always '$tmp/evil.elf' '$jail/tmp/x/f'\$i; done"
audit "$jail" --json --no-integrity
check "06: one medium audit-error says the hardening of the files beyond the budget was not checked" 'json "
f = [x for x in d[\"findings\"] if \"symbol tables went beyond the 256 MiB\" in x[\"message\"]]
assert len(f) == 1 and f[0][\"severity\"] == \"medium\" and f[0][\"path\"].startswith(\"/tmp/x/f\"), f
n = int(f[0][\"message\"].split(\"the hardening of \")[1].split(\" \")[0])
assert 4 <= n <= 12, n"'
check "06: the files read within the budget were judged (no error), the rest say why not" 'json "
e = [x for x in d[\"hardening\"][\"files\"] if x[\"path\"].startswith(\"/tmp/x/\")]
assert len(e) == 12, len(e)
assert any(x[\"error\"] is None for x in e), e
assert all(x[\"error\"] is None or \"budget for symbol tables was spent\" in x[\"error\"] for x in e), e"'
rm -rf "$jail/tmp/x" "$tmp/evil.elf"

echo "== directory trees 3,000 and 60,000 levels deep in a session directory"
python3 - "$sessions/deep" <<'EOF'
import os, sys
os.makedirs(sys.argv[1])
for name, levels in (("a", 3000), ("b", 60000)):
    fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
    os.mkdir(name, dir_fd=fd)
    nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
    os.close(fd)
    fd = nfd
    for _ in range(levels):
        os.mkdir("d", dir_fd=fd)
        nfd = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    os.close(fd)
EOF
# 1024 open files: the usual default, which 3,000 levels held open at once would exceed.
(ulimit -n 1024 && audit "$jail" --json --no-integrity --no-hardening && echo "$rc $rss" >"$tmp/deep.rc")
read -r rc rss <"$tmp/deep.rc"
check "the audit finishes, failing on the high findings (exit 1, no crash)" '[ $rc -eq 1 ]'
[ $rc -eq 1 ] || sed 's/^/    stderr: /' "$tmp/err"
check "each tree is one high audit-error at 256 levels, not walked further" 'json "
f = [f for f in d[\"findings\"] if f[\"rule\"] == \"audit-error\"]
assert sorted(x[\"path\"].split(\"/\")[6] for x in f) == [\"a\", \"b\"], [x[\"path\"][:60] for x in f]
assert all(x[\"severity\"] == \"high\" and \"more than 256 levels deep\" in x[\"message\"] for x in f), f
assert d[\"entries\"] < 1000, d[\"entries\"]"'

finish
