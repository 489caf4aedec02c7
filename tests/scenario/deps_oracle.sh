#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `jailbuild deps` against the real dynamic linker as the oracle: the same set of files (each
# realpath'ed; the vDSO, which has no file, aside) and the same names not found.
#
# 1. The fake host root (tests/fixtures/make-fakeroot.sh), each program started in a chroot of a
#    copy with LD_TRACE_LOADED_OBJECTS=1: what ld.so itself loads, rule by rule. Needs root, or an
#    unprivileged user namespace; skipped otherwise.
# 2. /usr/sbin/nginx, /usr/sbin/php-fpm* and every /usr/lib/php/*/*.so, each file on its own, against
#    ldd. Exit 77 (skipped) when nginx or php-fpm is not installed, after part 1 has passed.
# Each comparison is a check; the last line counts them, and those skipped.
set -u
: "${JB:?JB must name the jailbuild binary}"
root=${JB_FIXTURE_ROOT:-}
python=/usr/bin/python3
[ -x "$python" ] || python=python3

tmp=$(mktemp -d /tmp/jb-deps-oracle.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib/checks.sh"

# compare ORACLE_OUTPUT JB_JSON ROOT FILE: the files and missing names of ldd-style output against
# jailbuild's JSON. Paths of both are resolved below ROOT ("" for /), as in a chroot. A
# glibc-hwcaps variant and its base are interchangeable: ld.so picks one by CPU, jailbuild keeps both.
compare() {
  "$python" - "$@" <<'EOF'
import json, os, re, sys
oracle_file, json_file, root, what = sys.argv[1:5]
what = what.strip()

def resolve(path):
    """Every symlink of an absolute or root-relative path resolved below root, as after chroot(2)."""
    todo = [p for p in path.split("/") if p]
    done, links = [], 0
    while todo:
        c = todo.pop(0)
        if c == ".":
            continue
        if c == "..":
            if done:
                done.pop()
            continue
        done.append(c)
        here = root + "/" + "/".join(done)
        if os.path.islink(here):
            links += 1
            if links > 40:
                raise RuntimeError("symlink loop at " + here)
            target = os.readlink(here)
            done.pop()
            if target.startswith("/"):
                done = []
            todo = [p for p in target.split("/") if p] + todo
    return "/" + "/".join(done)

found, missing = {resolve(what)}, set()  # ldd does not list the file it is asked about
for line in open(oracle_file):
    line = line.strip()
    if not line or "statically linked" in line:
        continue
    if "=>" in line:
        name, rhs = (s.strip() for s in line.split("=>", 1))
        if rhs.startswith("not found"):
            missing.add(name)
            continue
        path = re.sub(r"\s*\(0x[0-9a-f]+\)$", "", rhs)
    else:
        path = re.sub(r"\s*\(0x[0-9a-f]+\)$", "", line)
    # Opened from the working directory ("/") when found through an empty DT_RPATH element: the name
    # alone, as the vDSO (linux-vdso.so.1), which is in the kernel, not a file.
    if "/" not in path and not os.path.lexists(root + "/" + path):
        continue
    found.add(resolve(path))

doc = json.load(open(json_file))
ours = {resolve(o["path"]) for o in doc["objects"]}
variants = {o["path"] for o in doc["objects"] if o["role"] == "hwcaps-variant"}
either = variants | {p for p in ours if os.path.basename(p) in {os.path.basename(v) for v in variants}}
ours_missing = {u["name"] for u in doc["unresolved"]}

problems = []
for p in sorted(found - ours):
    problems.append("ld.so loads %s, jailbuild does not list it" % p)
for p in sorted(ours - found - either):
    problems.append("jailbuild lists %s, ld.so does not load it" % p)
if missing != ours_missing:
    problems.append("not found: ld.so %s, jailbuild %s" % (sorted(missing), sorted(ours_missing)))
if problems:
    print("FAIL: %s%s" % ("fake root " if root else "", what))
    for p in problems:
        print("    " + p)
    sys.exit(1)
print("ok: %s%s: %d files%s" % ("fake root " if root else "", what, len(found), ", not found: " + " ".join(sorted(missing)) if missing else ""))
EOF
}

# jb_json FILE [ARGS...]: `jailbuild deps --json` into $tmp/jb.json; 0 or 1 are both answers.
# --no-modules: the oracle loads what a start loads, not the modules a library dlopen()s later.
jb_json() {
  "$JB" deps --json --no-modules "$@" >"$tmp/jb.json" 2>"$tmp/jb.err"
  local status=$?
  if [ "$status" -gt 1 ]; then
    flunk "jailbuild deps $* exited $status: $(cat "$tmp/jb.err")"
    return 1
  fi
}

echo "== 1. the fake root, with the real ld.so in a chroot"
if [ -z "$root" ] || [ ! -f "$root/.complete" ]; then
  skip 1 "part 1: no fake root (JB_FIXTURE_ROOT unset or incomplete)"
else
  copy=$tmp/root
  cp -a "$root" "$copy"
  mkdir -p "$copy/proc"
  # ld.so finds the ld.so.conf directories only through /etc/ld.so.cache; -X leaves the links alone.
  ldconfig -X -r "$copy" 2>"$tmp/ldconfig.err" || echo "note: ldconfig -r: $(cat "$tmp/ldconfig.err")"
  # A private /proc: ld.so reads /proc/self/exe to expand a program's $ORIGIN.
  isolate=(unshare --mount --pid --fork --mount-proc="$copy/proc")
  [ "$(id -u)" -eq 0 ] || isolate=(unshare --user --map-root-user --mount --pid --fork --mount-proc="$copy/proc")
  # The program is started directly in the chroot, not through `ld.so --list` or ldd (which take
  # $ORIGIN of the program from the name it is given instead of its real path).
  trace='import os, sys
os.chroot(sys.argv[1]); os.chdir("/")
os.execve(sys.argv[2], [sys.argv[2]], {"LD_TRACE_LOADED_OBJECTS": "1"})'
  if ! "${isolate[@]}" "$python" -c "$trace" "$copy" /usr/bin/hello >/dev/null 2>"$tmp/unshare.err"; then
    programs=("$copy"/usr/bin/*)
    skip ${#programs[@]} "part 1: cannot chroot here ($(head -n1 "$tmp/unshare.err")): needs root or user namespaces"
  else
    for program in "$copy"/usr/bin/*; do
      name=/usr/bin/$(basename "$program")
      if ! "${isolate[@]}" "$python" -c "$trace" "$copy" "$name" >"$tmp/oracle.txt" 2>&1; then
        flunk "$name: the traced run failed: $(head -n3 "$tmp/oracle.txt")"
        continue
      fi
      jb_json --host-root "$copy" "$name" || continue
      compare "$tmp/oracle.txt" "$tmp/jb.json" "$copy" "$name"
      tally $?
    done
  fi
fi

echo "== 2. nginx, php-fpm and the PHP extensions, against ldd"
fpm=(/usr/sbin/php-fpm*)
if [ ! -x /usr/sbin/nginx ] || [ ! -x "${fpm[0]}" ]; then
  skip 1 "part 2: /usr/sbin/nginx or /usr/sbin/php-fpm* is not installed (scripts/bootstrap.sh installs them)"
  finish 77
fi
files=(/usr/sbin/nginx "${fpm[@]}" /usr/lib/php/*/*.so)
for f in "${files[@]}"; do
  [ -f "$f" ] || continue
  if ! ldd "$f" >"$tmp/oracle.txt" 2>&1; then
    flunk "ldd $f failed: $(head -n3 "$tmp/oracle.txt")"
    continue
  fi
  jb_json "$f" || continue
  compare "$tmp/oracle.txt" "$tmp/jb.json" "" "$f"
  tally $?
done
finish
