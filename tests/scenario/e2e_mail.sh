#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The mail profile end to end (issue #18): a jail made --with nginx,php-fpm,mail runs PHP's mail(),
# which runs /usr/sbin/sendmail (msmtp) through the jail's /bin/sh; msmtp hands the message to an
# SMTP listener on loopback standing in for the host's MTA. audit reports the shell as info, there for
# mail; a jail without the profile has no shell.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../scripts/lib/serve.sh"

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (chroot, chown, mknod); CI runs as root"; exit 77; }
[ -x /usr/sbin/nginx ] && ls /usr/sbin/php-fpm* >/dev/null 2>&1 ||
  { echo "SKIP: nginx and php-fpm are not installed (scripts/bootstrap.sh installs them)"; exit 77; }
[ -x /usr/bin/msmtp ] || { echo "SKIP: msmtp is not installed (scripts/bootstrap.sh installs msmtp-mta)"; exit 77; }

tmp=$(mktemp -d /tmp/jb-mail.XXXXXX)
jail=$tmp/jail
port=$((20000 + RANDOM % 20000))
sink_pid=""
cleanup() {
  jail_stop "$jail"
  [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null
  rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
. "$(dirname "$0")/lib/checks.sh"
opts=(--state-dir "$tmp/state" --config-dir "$tmp/config")

# The host's MTA, played by a few lines of Python on a free loopback port: it answers SMTP and
# appends each message, envelope first, to a file.
cat > "$tmp/sink.py" <<'PY'
import os, socket, sys
out, portfile = sys.argv[1], sys.argv[2]
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(5)
s.settimeout(300)
with open(portfile + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
os.rename(portfile + ".tmp", portfile)
while True:
    try:
        c, _ = s.accept()
    except socket.timeout:
        break
    f = c.makefile("rwb")
    def say(text):
        f.write(text.encode() + b"\r\n")
        f.flush()
    say("220 sink ESMTP")
    data, lines = False, []
    for raw in f:
        line = raw.decode(errors="replace").rstrip("\r\n")
        if data:
            if line == ".":
                data = False
                with open(out, "a") as o:
                    o.write("\n".join(lines) + "\n.\n")
                lines = []
                say("250 queued")
            else:
                lines.append(line)
            continue
        word = line.split(" ")[0].upper()
        if word in ("MAIL", "RCPT"):
            lines.append(line)
        if word == "DATA":
            data = True
            say("354 go on")
        elif word == "QUIT":
            say("221 bye")
            break
        else:
            say("250 ok")
    c.close()
PY
python3 "$tmp/sink.py" "$tmp/mail.txt" "$tmp/sink.port" &
sink_pid=$!
for _ in $(seq 1 50); do [ -s "$tmp/sink.port" ] && break; sleep 0.1; done
smtp_port=$(cat "$tmp/sink.port" 2>/dev/null) || { flunk "the SMTP listener did not start"; finish; }

check "the profile's msmtprc relays to 127.0.0.1:25" \
  '"$JB" profiles show mail | grep -qx "host 127.0.0.1" && "$JB" profiles show mail | grep -qx "port 25"'

# The admin's own msmtprc (--file) takes the generated one's place: here it points msmtp at the
# listener's port; on a real host, another relay, a sender, a password (0640 root:www-data).
"$JB" profiles show mail | sed -n '/^defaults$/,/^account default/p' | sed "s/^port 25\$/port $smtp_port/" > "$tmp/msmtprc"
"$JB" create "$jail" --with nginx,php-fpm,mail --file "$tmp/msmtprc:/etc/msmtprc" "${opts[@]}" -q 2> "$tmp/err" ||
  { flunk "create --with nginx,php-fpm,mail ($(cat "$tmp/err"))"; finish; }
check "the jail has /bin/sh, dash" '[ "$(readlink "$jail/usr/bin/sh")" = dash ] && [ -x "$jail/usr/bin/dash" ]'
check "/usr/sbin/sendmail is msmtp" '[ "$(readlink "$jail/usr/sbin/sendmail")" = ../bin/msmtp ] && [ -x "$jail/usr/bin/msmtp" ]'
check "no other program a shell script would use (coreutils)" '[ ! -e "$jail/usr/bin/cat" ] && [ ! -e "$jail/usr/bin/ls" ]'
check "the admin's msmtprc is the jail's" 'cmp -s "$tmp/msmtprc" "$jail/etc/msmtprc"'
"$JB" sync "$jail" "${opts[@]}" -q
check "sync keeps it" 'cmp -s "$tmp/msmtprc" "$jail/etc/msmtprc"'

jail_write_site "$jail" "$port" || exit 1
cat > "$jail/var/www/site/mail.php" <<'PHP'
<?php
header('Content-Type: text/plain');
$ok = mail('admin@example.org', 'jailbuild mail test', "sent from the jail\n", 'From: site@example.org');
echo $ok ? "sent\n" : "mail() failed\n";
PHP
jail_start "$jail" "$port" || { cat "$jail"/var/log/nginx/*.log "$jail"/var/log/php*-fpm.log 2>/dev/null; exit 1; }
page=$(curl -fsS "http://127.0.0.1:$port/mail.php") || { flunk "fetching mail.php"; finish; }
check "mail() returns true ($page)" '[ "$page" = sent ]'
for _ in $(seq 1 50); do [ -s "$tmp/mail.txt" ] && break; sleep 0.1; done
check "the message reached the host's MTA" \
  'grep -q "^RCPT TO:<admin@example.org>" "$tmp/mail.txt" && grep -q "^Subject: jailbuild mail test" "$tmp/mail.txt" && grep -q "^sent from the jail" "$tmp/mail.txt"'
check "the envelope sender is the pool's user (from %U@%H)" 'grep -q "^MAIL FROM:<www-data@" "$tmp/mail.txt"'
[ "$fail" -eq 0 ] || cat "$tmp/mail.txt" 2>/dev/null

"$JB" audit "$jail" "${opts[@]}" --json > "$tmp/audit.json"
check "audit: what mail brings is at most info, the admin's msmtprc no finding" 'python3 - "$tmp/audit.json" <<'"'"'PY'"'"'
import json, sys
r = json.load(open(sys.argv[1]))
mail = ("/etc/msmtprc", "/usr/bin/msmtp", "/usr/sbin/sendmail", "/usr/bin/dash", "/usr/bin/sh")
bad = [f for f in r["findings"] if f["path"] in mail and (f["severity"] != "info" or f["path"] == "/etc/msmtprc")]
print("\n".join(f["severity"] + " " + f["path"] + ": " + f["message"] for f in bad))
sys.exit(bool(bad))
PY'
check "audit: the shell is an info finding, there for mail" 'python3 - "$tmp/audit.json" <<'"'"'PY'"'"'
import json, sys
r = json.load(open(sys.argv[1]))
hits = [f for f in r["findings"] if f["path"] == "/usr/bin/dash"]
sys.exit(not (len(hits) == 1 and hits[0]["severity"] == "info" and "mail profile" in hits[0]["message"]))
PY'

# Without the profile: no shell, no sendmail (the plan alone tells).
"$JB" create "$tmp/plain" --with nginx,php-fpm "${opts[@]}" --dry-run --json > "$tmp/plain.json" 2> "$tmp/err" ||
  flunk "create --dry-run --with nginx,php-fpm ($(cat "$tmp/err"))"
check "a jail without mail has no shell and no sendmail" \
  '! grep -q "\"/usr/bin/dash\"\|\"/usr/bin/sh\"\|\"/usr/sbin/sendmail\"" "$tmp/plain.json" && grep -q "\"/usr/sbin/nginx\"" "$tmp/plain.json"'
finish
