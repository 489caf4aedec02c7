#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A real application as a site (issue #18): Debian's /usr/share/wordpress is copied into a jail by
# create --site, accepted as the site's baseline, and audited as one group instead of one finding per
# file. The attacks: a web shell planted in the uploads directory (high, file by file), a changed core
# file (the group reports it, --verbose names it), sync and audit never re-baselining what an intruder
# changed; and pack leaving wp-config.php, .env and a private key out of the archive, listing them,
# and giving them back to unpack only from the separate secrets archive.
set -u
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (chroot, chown); CI runs as root"; exit 77; }
[ -x /usr/sbin/nginx ] && ls /usr/sbin/php-fpm* >/dev/null 2>&1 ||
  { echo "SKIP: nginx and php-fpm are not installed (scripts/bootstrap.sh installs them)"; exit 77; }
[ -d /usr/share/wordpress ] || { echo "SKIP: wordpress is not installed (scripts/bootstrap.sh installs it)"; exit 77; }

tmp=$(mktemp -d /tmp/jb-sites.XXXXXX)
chmod 755 "$tmp"
jail=$tmp/jail
copy=$tmp/copy
blog=$jail/var/www/blog
trap 'rm -rf --one-file-system "$tmp"' EXIT
. "$here/lib/checks.sh"
opts=(--state-dir "$tmp/state" --config-dir "$tmp/config")

json_get() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

# The site's nginx vhost is the admin's own file (--file): planned, checked, kept by sync.
printf 'server {\n  listen 8080;\n  root /var/www/blog;\n}\n' >"$tmp/blog.vhost"
out=$("$JB" create "$jail" --with nginx,php-fpm --site /var/www/blog:root:/usr/share/wordpress \
  --writable /var/www/blog/wp-content/uploads --file "$tmp/blog.vhost:/etc/nginx/sites-enabled/blog" \
  "${opts[@]}" 2>&1)
check "create --site copies the site's source" '[ $? -eq 0 ] && echo "$out" | grep -q "site /var/www/blog: copied"' || echo "$out"
want=$(find /usr/share/wordpress ! -type d | wc -l)
check "every file and symlink of the source is in the site" '[ "$(find "$blog" ! -type d | wc -l)" -eq "$want" ]'
check "the code is root's, read-only to the service" '[ "$(stat -c %U "$blog/wp-includes/version.php")" = root ] &&
  ! runuser -u www-data -- sh -c "echo x >> \"$blog/wp-includes/version.php\"" 2>/dev/null'
check "the uploads directory is the service's" '[ "$(stat -c %U "$blog/wp-content/uploads")" = www-data ]'
check "the definition records the site" 'grep -q "^\[\[sites\]\]" "$tmp/config/jails/jail.toml" &&
  grep -q "^source = \"/usr/share/wordpress\"" "$tmp/config/jails/jail.toml"'
check "the manifest records the site" '[ "$(json_get "$jail/.jailbuild/manifest.json" "d[\"spec\"][\"sites\"][0][\"docroot\"]")" = /var/www/blog ]'

# The audit: one group, not thousands of findings, and fast.
start=$(date +%s%N)
"$JB" audit "$jail" --json --fail-on critical >"$tmp/a.json"
ms=$((($(date +%s%N) - start) / 1000000))
echo "audit of the jail with the WordPress site ($want files): ${ms} ms"
check "no file of the site is an unexpected finding" '[ "$(json_get "$tmp/a.json" "len([f for f in d[\"findings\"] if f[\"path\"].startswith(\"/var/www/blog/\")])")" = 0 ]'
check "one site finding, info, nothing changed" '[ "$(json_get "$tmp/a.json" "[(f[\"severity\"], \" 0 changed, 0 added, 0 removed\" in f[\"message\"]) for f in d[\"findings\"] if f[\"rule\"] == \"site\"]")" = "[('\''info'\'', True)]" ]'
# The audits below skip hardening (the ELF files are the plan's, checked above): the site is their point.
check "the vhost declared with --file is no finding" '[ "$(json_get "$tmp/a.json" "len([f for f in d[\"findings\"] if f[\"path\"].startswith(\"/etc/nginx/sites-enabled/\")])")" = 0 ]'
cp "$tmp/blog.vhost" "$jail/etc/nginx/sites-enabled/by-hand"
check "a vhost put there by hand is high, as before" '"$JB" audit "$jail" --no-hardening --json --fail-on critical | python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if [f[\"severity\"] for f in d[\"findings\"] if f[\"path\"] == \"/etc/nginx/sites-enabled/by-hand\"] == [\"high\"] else 1)"'
rm -f "$jail/etc/nginx/sites-enabled/by-hand"
check "the audit passes at medium" '"$JB" audit "$jail" >"$tmp/a.txt" || { cat "$tmp/a.txt"; false; }'

# The attacks: a web shell in uploads, a changed core file.
echo '<?php system($_GET["c"]);' >"$blog/wp-content/uploads/shell.php"
echo '/* changed */' >>"$blog/wp-includes/version.php"
"$JB" audit "$jail" --no-hardening --json >"$tmp/b.json"
rc=$?
check "audit fails on the planted shell" '[ $rc -eq 1 ]'
check "the shell in uploads is high, file by file" '[ "$(json_get "$tmp/b.json" "[f[\"severity\"] for f in d[\"findings\"] if f[\"path\"].endswith(\"/uploads/shell.php\") and f[\"rule\"] == \"site-code-in-writable\"]")" = "['\''high'\'']" ]'
check "the group reports the changed core file (medium)" '[ "$(json_get "$tmp/b.json" "[f[\"severity\"] for f in d[\"findings\"] if f[\"rule\"] == \"site\" and \" 1 changed\" in f[\"message\"]]")" = "['\''medium'\'']" ]'
check "the JSON lists it under the group" '[ "$(json_get "$tmp/b.json" "d[\"sites\"][0][\"changed\"]")" = "['\''/var/www/blog/wp-includes/version.php'\'']" ]'
check "only --verbose names it in the text" '"$JB" audit "$jail" --no-hardening --verbose | grep -q "changed: /var/www/blog/wp-includes/version.php" &&
  ! "$JB" audit "$jail" --no-hardening | grep -q "changed: /var/www/blog/wp-includes/version.php"'

# sync leaves site content alone, and never accepts what changed.
check "sync" '"$JB" sync jail "${opts[@]}" -q'
check "sync left the changed file and the shell as they were" 'grep -q "changed" "$blog/wp-includes/version.php" && [ -f "$blog/wp-content/uploads/shell.php" ]'
check "create NAME again copies nothing again, touches nothing of the site" '"$JB" create jail "${opts[@]}" >"$tmp/re.out" 2>&1;
  ! grep -q "^site /var/www/blog" "$tmp/re.out" && grep -q changed "$blog/wp-includes/version.php" && [ -f "$blog/wp-content/uploads/shell.php" ]'
check "after sync the audit still reports both" '"$JB" audit "$jail" --no-hardening --json >"$tmp/c.json"; [ "$(json_get "$tmp/c.json" "(len(d[\"sites\"][0][\"changed\"]), d[\"sites\"][0][\"code_in_writable\"])")" = "(1, ['\''/var/www/blog/wp-content/uploads/shell.php'\''])" ]'
check "site accept takes the change" '"$JB" site accept jail --config-dir "$tmp/config" | grep -q "1 changed, 0 added, 0 removed"'
check "accept never vouches for code in uploads" '"$JB" audit "$jail" --no-hardening --json >"$tmp/d.json"; [ "$(json_get "$tmp/d.json" "[f[\"rule\"] for f in d[\"findings\"] if f[\"severity\"] in (\"high\", \"medium\") and f[\"path\"].startswith(\"/var/www/blog\")]")" = "['\''site-code-in-writable'\'']" ]'
rm -f "$blog/wp-content/uploads/shell.php"

# Secrets: wp-config.php with the database password, an .env, a private key.
rm -f "$blog/wp-config.php"
printf "<?php\ndefine('DB_PASSWORD', 'hunter2-db');\n" >"$blog/wp-config.php"
printf 'DB_PASSWORD=hunter2-env\n' >"$blog/.env"
openssl genpkey -algorithm ed25519 -out "$blog/wp-content/site.key" 2>/dev/null || printf -- '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n' >"$blog/wp-content/site.key"
"$JB" site accept jail --config-dir "$tmp/config" -q
"$JB" pack "$jail" -o "$tmp/p.tar" --secrets-to "$tmp/secrets.tar" >/dev/null 2>"$tmp/pack.err"
check "pack" '[ $? -eq 0 ]' || cat "$tmp/pack.err"
for s in /var/www/blog/wp-config.php /var/www/blog/.env /var/www/blog/wp-content/site.key; do
  check "pack lists $s as left out" 'grep -q "^jailbuild: warning: $s: left out: secret" "$tmp/pack.err"'
  check "the archive does not hold $s" '! tar -tf "$tmp/p.tar" | grep -qx "${s#/}"'
done
check "no password in the archive" '! tar -xOf "$tmp/p.tar" 2>/dev/null | grep -aq hunter2'
check "the origin lists what was left out" '[ "$(tar -xOf "$tmp/p.tar" .jailbuild/origin.json | python3 -c "import json,sys; print(len(json.load(sys.stdin)[\"left_out_secrets\"]))")" = 3 ]'
check "the secrets archive is root's, 0600, and holds them" '[ "$(stat -c %a:%u "$tmp/secrets.tar")" = 600:0 ] &&
  [ "$(tar -tf "$tmp/secrets.tar" | sort | tr "\n" " ")" = "var/www/blog/.env var/www/blog/wp-config.php var/www/blog/wp-content/site.key " ]'

out=$("$JB" unpack "$tmp/p.tar" "$copy" --state-dir "$tmp/state2" --config-dir "$tmp/config2" 2>&1)
check "unpack" '[ $? -eq 0 ]' || echo "$out"
check "unpack says which secrets to restore" 'echo "$out" | grep -q "left out: secret: /var/www/blog/.env, /var/www/blog/wp-config.php"'
check "the unpacked site has no wp-config.php" '[ ! -e "$copy/var/www/blog/wp-config.php" ]'
check "the rest of the site is there" '[ -f "$copy/var/www/blog/wp-includes/version.php" ]'
rm -rf --one-file-system "$copy"
out=$("$JB" unpack "$tmp/p.tar" "$copy" --secrets "$tmp/secrets.tar" --state-dir "$tmp/state3" --config-dir "$tmp/config3" 2>&1)
check "unpack --secrets" '[ $? -eq 0 ]' || echo "$out"
check "unpack --secrets restores wp-config.php" 'cmp -s "$blog/wp-config.php" "$copy/var/www/blog/wp-config.php" && cmp -s "$blog/.env" "$copy/var/www/blog/.env"'
check "a restored secret is not readable by others" '[ "$(stat -c %a "$copy/var/www/blog/wp-config.php")" = 640 ] || [ "$(stat -c %a "$copy/var/www/blog/wp-config.php")" = 600 ]'

# A hostile secrets archive: a path pack did not leave out, a ../, a symlink: refused, nothing written.
python3 - "$tmp" <<'PY'
import io, sys, tarfile
tmp = sys.argv[1]
def archive(name, member, data=b"pwned\n", kind=tarfile.REGTYPE, link=""):
    with tarfile.open(f"{tmp}/{name}.tar", "w", format=tarfile.PAX_FORMAT) as t:
        info = tarfile.TarInfo(member)
        info.type, info.linkname, info.mode = kind, link, 0o644
        info.size = len(data) if kind == tarfile.REGTYPE else 0
        t.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
archive("evil1", "etc/passwd", b"root::0:0::/:/bin/sh\n")            # not a secret pack left out
archive("evil2", "var/www/blog/.env", kind=tarfile.SYMTYPE, link="/etc/shadow")  # a link
archive("evil3", "../../var/www/blog/wp-config.php")                 # out of the jail
PY
n=4
for evil in evil1 evil2 evil3; do
  rm -rf --one-file-system "$copy"
  out=$("$JB" unpack "$tmp/p.tar" "$copy" --secrets "$tmp/$evil.tar" --state-dir "$tmp/state$n" --config-dir "$tmp/config$n" 2>&1)
  check "a hostile secrets archive ($evil) is refused, the jail removed" '[ $? -eq 2 ] && echo "$out" | grep -q "$evil.tar" && [ ! -e "$copy/var" ]' || echo "$out"
  n=$((n + 1))
done
check "nothing was written through them" '[ "$(head -c 5 /etc/passwd)" = "root:" ] && ! grep -q pwned /etc/passwd'

# --- a site's source a service user can change while root copies it -----------------------------------
# Debian's /var/lib/wordpress/wp-content is www-data's on the host. Root copies a source path by path:
# whoever may write one of its directories can swap an entry for a link to /etc/shadow between root's
# look and root's copy, and the jail's www-data then reads it. Such a source is refused whole.
src=$tmp/src
mkdir -p "$src/code" "$src/uploads"
echo '<?php echo 1;' >"$src/code/index.php"
chmod 0755 "$src" "$src/code"
chown www-data "$src/uploads"
ln -s /etc/shadow "$src/uploads/leak" # what a swap would leave there, as a link: copied as a link
out=$("$JB" create "$tmp/j3" --with sh --site /var/www/s3:root:"$src" --state-dir "$tmp/state9" --config-dir "$tmp/config9" 2>&1)
check "a site source with a directory a service user owns is refused, nothing made" \
  '[ $? -eq 2 ] && echo "$out" | grep -q "$src/uploads.*owned by uid 33" && [ ! -e "$tmp/j3" ]' || echo "$out"
chown root "$src/uploads" && chmod 0777 "$src/uploads"
out=$("$JB" create "$tmp/j3" --with sh --site /var/www/s3:root:"$src" --state-dir "$tmp/state9" --config-dir "$tmp/config9" 2>&1)
check "so is one with a directory anyone may write" \
  '[ $? -eq 2 ] && echo "$out" | grep -q "$src/uploads.*writable by group or others" && [ ! -e "$tmp/j3" ]' || echo "$out"
chmod 0755 "$src/uploads"
out=$("$JB" create "$tmp/j3" --with sh --site /var/www/s3:root:"$src" --state-dir "$tmp/state9" --config-dir "$tmp/config9" 2>&1)
check "a root-only source is copied" '[ $? -eq 0 ] && [ -f "$tmp/j3/var/www/s3/code/index.php" ] && [ -L "$tmp/j3/var/www/s3/uploads/leak" ]' || echo "$out"
finish
