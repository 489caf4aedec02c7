#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `jailbuild audit` on real jails: a fresh nginx + php-fpm jail audits clean; a tampered library fails
# the audit with an integrity finding; --json parses; create refuses (exit 1, jail kept) a jail whose
# audit finds something high; and a jail made with jailkit's jk_init is reported for what it holds.
set -u

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (create chowns and makes device nodes); CI runs as root"; exit 77; }
[ -x /usr/sbin/nginx ] && ls /usr/sbin/php-fpm* >/dev/null 2>&1 ||
  { echo "SKIP: nginx and php-fpm are not installed (scripts/bootstrap.sh installs them)"; exit 77; }

tmp=$(mktemp -d /tmp/jb-audit.XXXXXX)
jk_parent=""
cleanup() {
  rm -rf "$tmp"
  [ -z "$jk_parent" ] || rm -rf "$jk_parent"
}
trap cleanup EXIT
jail=$tmp/jail
. "$(dirname "$0")/lib/checks.sh"
# findings JSON: "severity rule path" lines of an audit's JSON (grep without -q: no broken pipe).
findings() { python3 -c 'import json, sys
for f in json.load(open(sys.argv[1]))["findings"]: print(f["severity"], f["rule"], f["path"])' "$1"; }

# A fresh jail: create audits it itself, and it passes the default threshold of `audit` too.
"$JB" create "$jail" --with nginx,php-fpm --state-dir "$tmp/state" --config-dir "$tmp/state.config" -q || { flunk "create"; finish; }
"$JB" audit "$jail" >"$tmp/clean.txt"
rc=$?
cat "$tmp/clean.txt"
check "a fresh jail audits clean (exit 0)" '[ $rc -eq 0 ]'
check "text output has the verdict and the summaries" 'grep -q "^PASS: no finding at or above medium" "$tmp/clean.txt" &&
  grep -q "^integrity: [0-9]* files hashed" "$tmp/clean.txt" && grep -q "^hardening: [0-9]* ELF files" "$tmp/clean.txt"'
"$JB" audit "$jail" --json >"$tmp/clean.json"
check "--json parses and follows the schema" 'python3 -c "import json, sys
d = json.load(open(sys.argv[1]))
assert d[\"format\"] == 1 and d[\"failed\"] is False and d[\"manifest\"] is True, d
assert d[\"integrity\"][\"checked\"] and d[\"integrity\"][\"files\"] > 100 and d[\"integrity\"][\"modified\"] == 0
h = d[\"hardening\"]
assert h[\"checked\"] and h[\"summary\"][\"elf\"] == len(h[\"files\"]) > 10
assert any(f[\"path\"] == \"/usr/sbin/nginx\" and f[\"type\"] == \"executable\" and f[\"pie\"] and f[\"nx\"] for f in h[\"files\"])
assert set(d[\"counts\"]) == {\"critical\", \"high\", \"medium\", \"low\", \"info\"}
" "$tmp/clean.json"'

# Tamper with a library, as a compromised service with write access would.
lib=$(find "$jail/usr/lib" -name 'libz.so.*' -type f | head -n1)
[ -n "$lib" ] || lib=$(find "$jail/usr/lib" -name '*.so*' -type f | head -n1)
rel=${lib#"$jail"}
printf 'x' >>"$lib"
"$JB" audit "$jail" --json --no-hardening >"$tmp/tampered.json"
rc=$?
check "a tampered library fails the audit (exit 1)" '[ $rc -eq 1 ]'
check "the integrity finding names it, high" 'findings "$tmp/tampered.json" | grep -x "high integrity-modified $rel" >/dev/null'
"$JB" audit "$jail" --no-integrity --no-hardening >/dev/null
check "--no-integrity does not hash (exit 0)" '[ $? -eq 0 ]'
"$JB" audit "$jail" --fail-on critical --no-hardening >/dev/null
check "--fail-on critical passes a high finding" '[ $? -eq 0 ]'
"$JB" audit "$tmp/nonexistent" 2>"$tmp/err.txt" >/dev/null
rc=$?
check "a missing jail is an error (exit 2, jailbuild: <path>: ...)" '[ $rc -eq 2 ] && grep -q "^jailbuild: $tmp/nonexistent: " "$tmp/err.txt"'

# create audits what it made: a profile that lets a terminal device in is refused, the jail kept.
mkdir "$tmp/profiles"
cat >"$tmp/profiles/console.toml" <<'TOML'
description = "A console device (for the test: the audit must refuse it)"

[[devices]]
path = "/dev/tty0"
type = "char"
major = 4
minor = 0
mode = "0600"
TOML
"$JB" create "$tmp/bad" --with nginx,php-fpm,console --profiles-dir "$tmp/profiles" --state-dir "$tmp/state" --config-dir "$tmp/state.config" -q 2>"$tmp/bad.err"
rc=$?
cat "$tmp/bad.err"
check "create fails (exit 1) when its audit finds something high" '[ $rc -eq 1 ]'
check "create says the jail is left in place, and the jail is there" 'grep -q "left in place" "$tmp/bad.err" && [ -c "$tmp/bad/dev/tty0" ]'
check "create shows the finding" 'grep -q "device-node  /dev/tty0" "$tmp/bad.err"'
"$JB" create "$tmp/bad" --with nginx,php-fpm,console --profiles-dir "$tmp/profiles" --state-dir "$tmp/state" --config-dir "$tmp/state.config" -q --audit-fail-on critical
check "--audit-fail-on critical lets it pass" '[ $? -eq 0 ]'
"$JB" create "$tmp/bad" --with nginx,php-fpm,console --profiles-dir "$tmp/profiles" --state-dir "$tmp/state" --config-dir "$tmp/state.config" -q --no-audit
check "--no-audit lets it pass" '[ $? -eq 0 ]'

# A jailkit jail. jk_init refuses a jail below a world-writable directory such as /tmp, so this one
# lives below /var/lib.
if command -v jk_init >/dev/null && grep -q '^\[basicshell\]' /etc/jailkit/jk_init.ini 2>/dev/null; then
  jk_parent=$(mktemp -d /var/lib/jb-audit-jk.XXXXXX)
  chmod 755 "$jk_parent"
  jk_init -j "$jk_parent/jail" basicshell >"$tmp/jk_init.log" 2>&1 || { cat "$tmp/jk_init.log"; flunk "jk_init"; finish; }
  "$JB" audit "$jk_parent/jail" --json >"$tmp/jk.json"
  rc=$?
  findings "$tmp/jk.json"
  check "the jailkit jail fails the audit (exit 1)" '[ $rc -eq 1 ]'
  check "jailkit: root's UID 0 entry (critical)" 'findings "$tmp/jk.json" | grep -x "critical account-uid0 /etc/passwd" >/dev/null'
  check "jailkit: root's GID 0 group" 'findings "$tmp/jk.json" | grep -x "high account-gid0 /etc/group" >/dev/null'
  check "jailkit: root's login shell" 'findings "$tmp/jk.json" | grep -x "medium account-login-shell /etc/passwd" >/dev/null'
  check "jailkit: bash is there (info)" 'findings "$tmp/jk.json" | grep -x "info exec-tool /usr/bin/bash" >/dev/null'
  check "jailkit: no manifest, no integrity" 'python3 -c "import json, sys
d = json.load(open(sys.argv[1])); assert not d[\"manifest\"] and d[\"integrity\"][\"skipped_because\"] == \"no manifest\"" "$tmp/jk.json"'
  if grep -Eq '^(passwd|group):.*systemd' /etc/nsswitch.conf; then
    check "jailkit: the host's nsswitch.conf with systemd (high)" 'findings "$tmp/jk.json" | grep -x "high nsswitch-service /etc/nsswitch.conf" >/dev/null'
  else
    skip 1 "jailkit's nsswitch.conf: this host's names no systemd service"
  fi
  # -k hardlinks the host's files where it can: each shares its inode with the host.
  jk_init -k -j "$jk_parent/linked" basicshell >"$tmp/jk_init.log" 2>&1 || { cat "$tmp/jk_init.log"; flunk "jk_init -k"; finish; }
  if [ "$(stat -c %d "$jk_parent")" = "$(stat -c %d /usr/bin/bash)" ]; then
    "$JB" audit "$jk_parent/linked" --json --no-hardening >"$tmp/jk-linked.json"
    check "jailkit -k: hardlinks to host files (high)" 'findings "$tmp/jk-linked.json" | grep "^high hardlink-outside /" >/dev/null'
  else
    skip 1 "jailkit -k: /var/lib and /usr are on different file systems, so jk_init copied"
  fi
else
  skip 8 "the jailkit part: jk_init or its basicshell section is missing (apt-get install jailkit)"
fi
finish
