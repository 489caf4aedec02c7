#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `jailbuild deps` from the command line, on the fake host root (tests/fixtures/make-fakeroot.sh):
# exit codes (0 all resolved, 1 unresolved names, 2 errors), the exact "jailbuild: <path>: <what>"
# form of errors, and the four output formats.
set -u
: "${JB:?JB must name the jailbuild binary}"
: "${JB_FIXTURE_ROOT:?JB_FIXTURE_ROOT must name the fake host root}"
root=$JB_FIXTURE_ROOT
[ -f "$root/.complete" ] || { echo "FAIL: $root is not a complete fake root (build the jb_fixtures target)"; exit 1; }
triplet=$(sed -n 's/^triplet=//p' "$root/FIXTURE-INFO")
L=/usr/lib/$triplet
python=/usr/bin/python3
[ -x "$python" ] || python=python3

tmp=$(mktemp -d /tmp/jb-deps-cli.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib/checks.sh"
ok() { pass "$*"; }
fail() { flunk "$*"; }

# deps ARGS...: runs `jailbuild deps ARGS`; leaves the exit code in $status, output in $tmp/out, $tmp/err.
deps() {
  "$JB" deps "$@" >"$tmp/out" 2>"$tmp/err"
  status=$?
}
expect_status() { # WHAT CODE
  if [ "$status" -eq "$2" ]; then
    ok "$1: exit $2"
  else
    fail "$1: exit $status, expected $2"
    sed 's/^/    stderr: /' "$tmp/err"
  fi
}
expect_stderr() { # WHAT TEXT: stderr is exactly TEXT
  local got
  got=$(cat "$tmp/err")
  if [ "$got" = "$2" ]; then ok "$1: stderr is exactly '$2'"; else fail "$1: stderr is '$got', expected '$2'"; fi
}
expect_stdout_line() { # WHAT LINE: stdout has LINE as a whole line
  if grep -qxF -- "$2" "$tmp/out"; then ok "$1: stdout has '$2'"; else fail "$1: stdout lacks the line '$2'"; fi
}
expect_stdout_has() { # WHAT TEXT: stdout contains TEXT
  if grep -qF -- "$2" "$tmp/out"; then ok "$1: stdout contains '$2'"; else fail "$1: stdout lacks '$2'"; fi
}

echo "== exit 0: everything resolved"
deps --host-root "$root" /usr/bin/hello
expect_status "hello" 0
expect_stderr "hello" ""
[ "$(head -n1 "$tmp/out")" = /usr/bin/hello ] && ok "hello: the root comes first" || fail "hello: first line is '$(head -n1 "$tmp/out")'"
expect_stdout_line "hello" "$L/libhop.so.1.0.0"
expect_stdout_line "hello" "$L/libc.so.6"
interp=$(sed -n 's/^interpreter=//p' "$root/FIXTURE-INFO")
expect_stdout_line "hello" "$L/$(basename "$interp")"

echo "== exit 1: unresolved names, all of them, each with all its needers"
deps --host-root "$root" /usr/bin/missing-exe
expect_status "missing-exe" 1
expect_stderr "missing-exe" "jailbuild: libgone1.so: not found, needed by $L/libneedy1.so, $L/libneedy2.so
jailbuild: libgone2.so: not found, needed by $L/libneedy1.so, $L/libneedy2.so"
expect_stdout_line "missing-exe (the walk went on)" "$L/libc.so.6"
deps --host-root "$root" /usr/bin/hello /usr/bin/runpath-exe
expect_status "hello and runpath-exe" 1
expect_stderr "hello and runpath-exe" "jailbuild: librunleaf.so: not found, needed by /opt/runpath/lib/librun.so"

echo "== exit 2: errors name the file the user gave"
deps --host-root "$root" /usr/bin/no-such-program
expect_status "a missing file" 2
expect_stderr "a missing file" "jailbuild: /usr/bin/no-such-program: no such file"
deps --host-root "$root" /opt/text/libscript.so
expect_status "a linker script" 2
expect_stderr "a linker script" "jailbuild: /opt/text/libscript.so: not an ELF file"
deps --host-root "$root" /usr/bin/hello /opt/broken/libc-nodynamic.so.6
expect_status "a truncated libc after a good file" 2
expect_stderr "a truncated libc after a good file" \
  "jailbuild: /opt/broken/libc-nodynamic.so.6: truncated or corrupt ELF: dynamic segment lies outside the file"
[ -s "$tmp/out" ] && fail "an error still printed a partial list" || ok "an error prints no partial list"

# The same without --host-root, on files of this machine.
cp "$root/opt/broken/libc-nodynamic.so.6" "$tmp/cut.so"
printf 'GROUP ( libc.so.6 )\n' >"$tmp/script.so"
deps "$tmp/cut.so"
expect_status "a truncated file on /" 2
expect_stderr "a truncated file on /" "jailbuild: $tmp/cut.so: truncated or corrupt ELF: dynamic segment lies outside the file"
deps "$tmp/script.so"
expect_status "a text file on /" 2
expect_stderr "a text file on /" "jailbuild: $tmp/script.so: not an ELF file"
deps "$tmp/missing.so"
expect_status "a missing file on /" 2
expect_stderr "a missing file on /" "jailbuild: $tmp/missing.so: no such file"

echo "== exit 2: what is not a regular file says so"
deps /dev/null
expect_status "/dev/null" 2
expect_stderr "/dev/null" "jailbuild: /dev/null: not a regular file"
deps "$tmp"
expect_status "a directory" 2
expect_stderr "a directory" "jailbuild: $tmp: not a regular file"
mkfifo "$tmp/fifo"
timeout 20 "$JB" deps "$tmp/fifo" >"$tmp/out" 2>"$tmp/err"
status=$?
expect_status "a FIFO (never opened: it would block)" 2
expect_stderr "a FIFO" "jailbuild: $tmp/fifo: not a regular file"

echo "== exit 2: hostile sizes in tiny ELF files, refused naming the file, within 1 GiB of address space"
# Written byte by byte: a 148-byte object whose one segment claims gigabytes, and a PN_XNUM header
# whose section 0 claims 100 million program headers. The old reader allocated what they claim
# before checking it against the file (6 GB, or "jailbuild: std::bad_alloc" with no file named).
"$python" - "$tmp" <<'EOF'
import struct, sys
d = sys.argv[1]
def ehdr(phnum, shoff=0):
    ident = b'\x7fELF' + bytes([2, 1, 1]) + bytes(9)  # ELF64, little-endian, version 1
    return ident + struct.pack('<HHIQQQIHHHHHH', 3, 62, 1, 0, 64, shoff, 0, 64, 56, phnum, 64, 0, 0)
def phdr(ptype, offset, size):
    return struct.pack('<IIQQQQQQ', ptype, 4, offset, 0, 0, size, size, 8)
for name, ptype, size in [('interp-6g', 3, 6 << 30), ('dynamic-6g', 2, 6 << 30),
                          ('interp-2e62', 3, 1 << 62), ('dynamic-2e62', 2, 1 << 62)]:
    open(d + '/' + name, 'wb').write(ehdr(1) + phdr(ptype, 120, size) + b'x' * 27 + b'\0')
sh0 = struct.pack('<IIQQQQIIQQ', 0, 0, 0, 0, 0, 0, 0, 100000000, 0, 0)  # sh_info = 1e8
open(d + '/xnum', 'wb').write(ehdr(0xffff, 64) + sh0)
EOF
for name in interp-6g dynamic-6g interp-2e62 dynamic-2e62 xnum; do
  timeout 60 prlimit --as=$((1 << 30)) "$JB" deps "$tmp/$name" >"$tmp/out" 2>"$tmp/err"
  status=$?
  expect_status "$name" 2
  if grep -q "^jailbuild: $tmp/$name: .*corrupt ELF" "$tmp/err"; then
    ok "$name: the error names the file"
  else
    fail "$name: stderr is '$(cat "$tmp/err")'"
  fi
done

echo "== exit 2: usage errors"
deps --host-root "$root"
expect_status "no FILE" 2
deps --host-root "$root" --tree --json /usr/bin/hello
expect_status "--tree with --json" 2
deps --host-root "$tmp/no-such-root" /usr/bin/hello
expect_status "a missing --host-root" 2

echo "== --json"
deps --host-root "$root" --json /usr/bin/hello /usr/bin/missing-exe
expect_status "--json with unresolved names" 1
if "$python" -m json.tool "$tmp/out" >/dev/null; then ok "--json: valid JSON"; else fail "--json: not valid JSON"; fi
if "$python" - "$tmp/out" "$L" "$interp" <<'EOF'; then ok "--json: objects, symlinks and unresolved as expected"; else fail "--json: content"; fi
import json, os, sys
doc = json.load(open(sys.argv[1]))
lib, interp = sys.argv[2], sys.argv[3]
bad = []
def expect(cond, what):
    if not cond:
        bad.append(what)
expect(isinstance(doc.get("objects"), list) and isinstance(doc.get("unresolved"), list), "objects and unresolved are lists")
objects = {o["path"]: o for o in doc.get("objects", [])}
hop = objects.get(lib + "/libhop.so.1.0.0")
expect(hop is not None, "libhop.so.1.0.0 is an object")
if hop:
    expect({"path": lib + "/libhop.so.1", "target": "libhop.so.1.0.0"} in hop["symlinks"], "libhop's version link")
    expect({"path": "/lib", "target": "usr/lib"} in hop["symlinks"], "merged /usr link on libhop's path")
    expect(hop["soname"] == "libhop.so.1", "libhop's soname")
ld = objects.get(lib + "/" + os.path.basename(interp))
expect(ld is not None and ld["role"] == "interpreter", "the interpreter, with its role")
if ld:
    expect({"path": "/usr" + interp, "target": "/lib/" + lib.split("/")[-1] + "/" + os.path.basename(interp)}
           in ld["symlinks"], "the interpreter's absolute link")
expect(objects.get("/usr/bin/hello", {}).get("role") == "root", "hello is a root")
gone = {u["name"]: u["needed_by"] for u in doc.get("unresolved", [])}
expect(set(gone) == {"libgone1.so", "libgone2.so"}, "unresolved names: %s" % sorted(gone))
for name, needers in gone.items():
    expect(needers == [lib + "/libneedy1.so", lib + "/libneedy2.so"], "needers of %s: %s" % (name, needers))
for what in bad:
    print("    json: expected " + what)
sys.exit(1 if bad else 0)
EOF

echo "== --tree and --dot"
deps --host-root "$root" --tree /usr/bin/hello /usr/bin/missing-exe
expect_status "--tree" 1
expect_stdout_line "--tree" "/usr/bin/hello"
expect_stdout_has "--tree" "libhop.so.1 => $L/libhop.so.1.0.0"
expect_stdout_has "--tree" "libgone1.so => not found"
deps --host-root "$root" --dot /usr/bin/hello
expect_status "--dot" 0
[ "$(head -n1 "$tmp/out")" = "digraph deps {" ] && ok "--dot: a digraph" || fail "--dot: first line '$(head -n1 "$tmp/out")'"
expect_stdout_has "--dot" "\"/usr/bin/hello\" -> \"$L/libhop.so.1.0.0\""
[ "$(tail -n1 "$tmp/out")" = "}" ] && ok "--dot: closed" || fail "--dot: last line '$(tail -n1 "$tmp/out")'"

finish
