#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmarks jailbuild against the tools it replaces, on this machine's nginx and php-fpm. Not a test:
# it prints timings, ratios and the bars of the issue with PASS/FAIL, and exits 1 when a bar fails.
#
#   scripts/bench.sh [--only SECTION] [--runs N]
#
# Bootstraps (scripts/bootstrap.sh), builds a Release jailbuild into build-release, then runs every
# section, or only SECTION. Idempotent: a re-run rebuilds only what changed and overwrites the results
# in build-release/bench/. A section is a function bench_<name> listed in `sections`; later commands
# (create, audit, sync, pack) add theirs the same way.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=$here/build-release
results=$build/bench
sections=(deps create sync pack audit sites)
only=""
runs=20
python=/usr/bin/python3

usage() {
  echo "usage: scripts/bench.sh [--only SECTION] [--runs N]   (sections: ${sections[*]})" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case $1 in
    --only) [ $# -ge 2 ] || usage; only=$2; shift 2 ;;
    --runs) [ $# -ge 2 ] || usage; runs=$2; shift 2 ;;
    -h | --help) usage ;;
    *) usage ;;
  esac
done
if [ -n "$only" ] && [[ " ${sections[*]} " != *" $only "* ]]; then
  echo "bench: no section '$only' (sections: ${sections[*]})" >&2
  exit 2
fi

bar_failures=0
# bar WHAT VALUE LIMIT UNIT: PASS when VALUE <= LIMIT.
bar() {
  local what=$1 value=$2 limit=$3 unit=$4 verdict
  if "$python" -c "import sys; sys.exit(0 if float(sys.argv[1]) <= float(sys.argv[2]) else 1)" "$value" "$limit"; then
    verdict=PASS
  else
    verdict=FAIL
    bar_failures=$((bar_failures + 1))
  fi
  printf '  %-4s %s: %s %s (bar: <= %s %s)\n' "$verdict" "$what" "$value" "$unit" "$limit" "$unit"
}

# can_build_jails: whether this machine can build the nginx + php-fpm jail the sections measure (root,
# and both services installed); says why it skips when not.
can_build_jails() {
  if [ "$(id -u)" -ne 0 ] || [ ! -x /usr/sbin/nginx ] || ! ls /usr/sbin/php-fpm* >/dev/null 2>&1; then
    echo "  skipped: needs root, nginx and php-fpm (to build the jail)"
    return 1
  fi
}

# q ARGS...: the arguments quoted for a shell command line (hyperfine runs commands through sh).
q() { printf '%q ' "$@"; }

# median_ms JSON INDEX: the median wall time of hyperfine's INDEXth command, in milliseconds.
median_ms() {
  "$python" -c 'import json, sys; r = json.load(open(sys.argv[1]))["results"][int(sys.argv[2])]; print("%.1f" % (r["median"] * 1000))' "$1" "$2"
}
ratio() { "$python" -c 'import sys; print("%.3f" % (float(sys.argv[1]) / float(sys.argv[2])))' "$1" "$2"; }

# peak_rss_mb COMMAND...: the largest maximum resident set size of three runs, in MB.
peak_rss_mb() {
  local kb max=0
  for _ in 1 2 3; do
    kb=$(/usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -n1)
    [ "$kb" -gt "$max" ] && max=$kb
  done
  "$python" -c 'import sys; print("%.1f" % (int(sys.argv[1]) / 1024))' "$max"
}

# --- deps: the shared-library closure of nginx, php-fpm and every PHP extension ----------------------
bench_deps() {
  echo "== deps: jailbuild deps vs an ldd loop vs lddtree -l"
  local files=() f
  for f in /usr/sbin/nginx /usr/sbin/php-fpm* /usr/lib/php/*/*.so; do
    [ -f "$f" ] && files+=("$f")
  done
  if [ ! -x /usr/sbin/nginx ] || [ ${#files[@]} -lt 3 ]; then
    echo "  skipped: nginx and php-fpm are not installed"
    return
  fi
  echo "  ${#files[@]} files: nginx, php-fpm and $((${#files[@]} - 2)) PHP extensions; $runs runs each"

  # The same file list for every tool. hyperfine starts each command through sh -c and subtracts that
  # shell's start-up; the ldd loop needs a shell of its own (ldd itself is a shell script).
  local ldd_loop=$results/deps-ldd-loop.sh
  echo "for f in $(printf '%q ' "${files[@]}"); do ldd \"\$f\"; done" >"$ldd_loop"
  local jb_cmd ldd_cmd lddtree_cmd
  jb_cmd=$(printf '%q ' "$build/jailbuild" deps "${files[@]}")
  ldd_cmd=$(printf '%q ' bash "$ldd_loop")
  lddtree_cmd=$(printf '%q ' /usr/bin/python3 /usr/bin/lddtree -l "${files[@]}")
  # jailbuild must succeed (exit 0: everything resolved) for its time to mean anything.
  if ! "$build/jailbuild" deps "${files[@]}" >/dev/null 2>"$results/deps-jailbuild.err"; then
    echo "  FAIL jailbuild deps did not resolve everything: $(head -n3 "$results/deps-jailbuild.err")"
    bar_failures=$((bar_failures + 1))
    return
  fi

  local json=$results/deps.json
  hyperfine --style none --warmup 3 --runs "$runs" --export-json "$json" \
    --command-name "jailbuild deps" "$jb_cmd" \
    --command-name "ldd loop" "$ldd_cmd" \
    --command-name "lddtree -l" "$lddtree_cmd" >"$results/deps-hyperfine.txt"
  local jb_ms ldd_ms lddtree_ms
  jb_ms=$(median_ms "$json" 0)
  ldd_ms=$(median_ms "$json" 1)
  lddtree_ms=$(median_ms "$json" 2)
  printf '  median wall time: jailbuild deps %s ms, ldd loop %s ms, lddtree -l %s ms\n' "$jb_ms" "$ldd_ms" "$lddtree_ms"
  local vs_ldd vs_lddtree rss
  vs_ldd=$(ratio "$jb_ms" "$ldd_ms")
  vs_lddtree=$(ratio "$jb_ms" "$lddtree_ms")
  printf '  ratios: jailbuild/ldd %s, jailbuild/lddtree %s\n' "$vs_ldd" "$vs_lddtree"
  rss=$(peak_rss_mb "$build/jailbuild" deps "${files[@]}")
  printf '  peak RSS of jailbuild deps: %s MB\n' "$rss"
  bar "jailbuild deps / ldd loop" "$vs_ldd" 0.5 "x"
  bar "jailbuild deps peak RSS" "$rss" 150 "MB"
}

# An ini section for jailkit holding what jailbuild puts into an nginx + php-fpm jail, so that both
# tools build the same thing: jk_init copies the paths and the libraries ldd names for them.
write_jailkit_ini() {
  local ini=$1 php paths
  php=$(basename /usr/sbin/php-fpm* | head -1 | sed 's/^php-fpm//')
  paths=$(printf '%s, ' /usr/sbin/nginx "/usr/sbin/php-fpm$php" /usr/lib/php/20*/ /etc/nginx "/etc/php/$php" \
    /usr/share/zoneinfo "/usr/lib/$(gcc -print-multiarch)/gconv" /etc/ssl/certs /usr/share/ca-certificates \
    /usr/lib/locale/C.utf8 /etc/hosts /etc/services /etc/protocols "/lib/$(gcc -print-multiarch)/libgcc_s.so.1")
  cat >"$ini" <<INI
[web]
comment = nginx + php-fpm, as jailbuild builds it
paths = ${paths%, }
devices = /dev/null, /dev/zero, /dev/full, /dev/random, /dev/urandom
users = www-data
groups = www-data
INI
}

# --- create: jailbuild create vs jk_init vs cp -a of jailbuild's own output --------------------------
bench_create() {
  echo "== create: jailbuild create vs jk_init (same contents) vs cp -a of jailbuild's jail"
  can_build_jails || return 0
  local work
  # jk_init refuses a jail below a world-writable directory, sticky bit or not: not /tmp.
  work=$(mktemp -d /srv/jb-bench-create.XXXXXX)
  "$build/jailbuild" create "$work/ref" --with nginx,php-fpm --state-dir "$work/state" --config-dir "$work/config" -q
  write_jailkit_ini "$work/jk_init.ini"
  printf '  jail: %s files, %s\n' "$(find "$work/ref" -type f | wc -l)" "$(du -sh "$work/ref" | cut -f1)"
  local create_runs=$((runs < 10 ? runs : 10)) json=$results/create.json
  hyperfine --style none --warmup 1 --runs "$create_runs" --export-json "$json" \
    --prepare "rm -rf $(q "$work/jb" "$work/cp" "$work/jk") && mkdir -m 0755 $(q "$work/jk")" \
    --command-name "jailbuild create" "$(q "$build/jailbuild" create "$work/jb" --with nginx,php-fpm --state-dir "$work/state" --config-dir "$work/config" -q)" \
    --command-name "cp -a" "$(q cp -a "$work/ref" "$work/cp")" \
    --command-name "jk_init" "$(q jk_init -c "$work/jk_init.ini" -j "$work/jk" web) >/dev/null 2>&1" \
    >"$results/create-hyperfine.txt"
  local jb_ms cp_ms jk_ms vs_cp vs_jk rss
  jb_ms=$(median_ms "$json" 0)
  cp_ms=$(median_ms "$json" 1)
  jk_ms=$(median_ms "$json" 2)
  vs_cp=$(ratio "$jb_ms" "$cp_ms")
  vs_jk=$(ratio "$jb_ms" "$jk_ms")
  printf '  median wall time: jailbuild create %s ms, cp -a %s ms, jk_init %s ms\n' "$jb_ms" "$cp_ms" "$jk_ms"
  printf '  ratios: jailbuild/cp -a %s, jailbuild/jk_init %s\n' "$vs_cp" "$vs_jk"
  rm -rf "$work/jb"
  rss=$(peak_rss_mb "$build/jailbuild" create "$work/jb" --with nginx,php-fpm --state-dir "$work/state" --config-dir "$work/config" -q)
  printf '  peak RSS of jailbuild create: %s MB\n' "$rss"
  rm -rf "$work"
  bar "jailbuild create / cp -a" "$vs_cp" 1.5 "x"
  bar "jailbuild create peak RSS" "$rss" 150 "MB"
}

# --- sync: no-op and one library changed, vs jk_update on the equivalent jailkit jail -----------------
bench_sync() {
  echo "== sync: jailbuild sync (nothing changed; one library changed) vs jk_update"
  can_build_jails || return 0
  local work
  work=$(mktemp -d /srv/jb-bench-sync.XXXXXX) # not /tmp: see bench_create
  # One library of our own beside the services, so that "one library changed" changes a real file
  # without touching the host's libraries: two builds of it swapped in before each timed run.
  mkdir -p "$work/profiles" /opt/jailbuild-bench/lib
  echo 'int bench_version(void) { return VERSION; }' >"$work/v.c"
  gcc -shared -fPIC -DVERSION=1 -o "$work/libbench.so.1.v1" -Wl,-soname,libbench.so.1 "$work/v.c"
  gcc -shared -fPIC -DVERSION=2 -o "$work/libbench.so.1.v2" -Wl,-soname,libbench.so.1 "$work/v.c"
  cp "$work/libbench.so.1.v1" /opt/jailbuild-bench/lib/libbench.so.1
  printf 'description = "benchmark library"\n[[elf]]\npaths = ["/opt/jailbuild-bench/lib/libbench.so.1"]\n' >"$work/profiles/bench.toml"
  "$build/jailbuild" create "$work/jb" --with nginx,php-fpm,bench --profiles-dir "$work/profiles" --state-dir "$work/state" --config-dir "$work/config" -q
  write_jailkit_ini "$work/jk_init.ini"
  mkdir -m 0755 "$work/jk"
  jk_init -c "$work/jk_init.ini" -j "$work/jk" web >"$results/sync-jk_init.log" 2>&1
  "$build/jailbuild" sync "$work/jb" --state-dir "$work/state" --config-dir "$work/config" -q # settle
  local json=$results/sync.json swap
  local lib=/opt/jailbuild-bench/lib/libbench.so.1
  # Alternate the two builds: every timed sync meets a library whose content changed.
  swap="if cmp -s $(q "$work/libbench.so.1.v1") $lib; then cp $(q "$work/libbench.so.1.v2") $lib.tmp; else cp $(q "$work/libbench.so.1.v1") $lib.tmp; fi && mv $lib.tmp $lib"
  hyperfine --style none --warmup 3 --runs "$runs" --export-json "$json" \
    --command-name "jailbuild sync (no-op)" "$(q "$build/jailbuild" sync "$work/jb" --state-dir "$work/state" --config-dir "$work/config" -q)" \
    --command-name "jk_update (no-op)" "$(q jk_update -j "$work/jk") >/dev/null 2>&1" \
    >"$results/sync-hyperfine.txt"
  hyperfine --style none --warmup 1 --runs "$runs" --export-json "$results/sync-changed.json" \
    --prepare "$swap" \
    --command-name "jailbuild sync (one library changed)" "$(q "$build/jailbuild" sync "$work/jb" --state-dir "$work/state" --config-dir "$work/config" -q)" \
    >"$results/sync-changed-hyperfine.txt"
  local noop_ms jk_ms changed_ms speedup
  noop_ms=$(median_ms "$json" 0)
  jk_ms=$(median_ms "$json" 1)
  changed_ms=$(median_ms "$results/sync-changed.json" 0)
  speedup=$(ratio "$jk_ms" "$noop_ms")
  printf '  median wall time: sync no-op %s ms, sync with one library changed %s ms, jk_update no-op %s ms\n' \
    "$noop_ms" "$changed_ms" "$jk_ms"
  printf '  jk_update / jailbuild sync (no-op): %sx\n' "$speedup"
  rm -rf "$work" /opt/jailbuild-bench
  bar "jailbuild sync no-op" "$noop_ms" 30 "ms"
  "$python" -c "import sys; sys.exit(0 if float(sys.argv[1]) >= 10 else 1)" "$speedup" &&
    echo "  PASS jk_update / jailbuild sync no-op: ${speedup}x (bar: >= 10x)" ||
    { echo "  FAIL jk_update / jailbuild sync no-op: ${speedup}x (bar: >= 10x)"; bar_failures=$((bar_failures + 1)); }
}

# --- pack: jailbuild pack/unpack vs tar + zstd on the same nginx + php-fpm jail ---------------------
# alternating_runs JSON RUNS PREPARE NAME_A CMD_A NAME_B CMD_B: times A and B in turns (A B A B ...)
# after one warm-up each, PREPARE (untimed) before every run, and writes hyperfine-style JSON for
# median_ms. In turns, both commands meet the same load: a machine shared with compilers and other
# benchmarks drifts, and hyperfine's "all of A, then all of B" turns that drift into a ratio.
alternating_runs() {
  "$python" - "$@" <<'PY'
import json, statistics, subprocess, sys, time
out, runs, prepare, name_a, cmd_a, name_b, cmd_b = sys.argv[1:8]
commands = [(name_a, cmd_a), (name_b, cmd_b)]
times = {name: [] for name, _ in commands}
for round in range(int(runs) + 1):
    for name, cmd in commands:
        subprocess.run(prepare, shell=True, check=True)
        start = time.perf_counter()
        subprocess.run(cmd, shell=True, check=True, stdout=subprocess.DEVNULL)
        if round > 0:  # round 0 warms the page cache and the binaries
            times[name].append(time.perf_counter() - start)
results = [{"command": name, "times": times[name], "median": statistics.median(times[name])} for name, _ in commands]
json.dump({"results": results}, open(out, "w"), indent=1)
PY
}

bench_pack() {
  echo "== pack: jailbuild pack vs tar -cf - | zstd -T0; jailbuild unpack vs tar -xf"
  can_build_jails || return 0
  # A root-owned private place: jailbuild refuses a jail below a directory others can write.
  local work jail
  work=$(mktemp -d /tmp/jb-bench-pack.XXXXXX)
  jail=$work/jail
  "$build/jailbuild" create "$jail" --with nginx,php-fpm --state-dir "$work/state" --config-dir "$work/config" -q
  printf '  jail: %s files, %s; %s runs each, in turns\n' "$(find "$jail" -type f | wc -l)" \
    "$(du -sh "$jail" | cut -f1)" "$runs"

  # Same compressor and level on both sides: zstd level 3 (the default of both) on every CPU.
  local json=$results/pack.json jb_ms tar_ms pack_ratio unpack_ratio
  alternating_runs "$json" "$runs" "true" \
    "jailbuild pack" "$(q "$build/jailbuild" pack "$jail" -o "$work/jb.tar.zst" -q)" \
    "tar | zstd -T0" "tar -cf - -C $(q "$jail") . | zstd -T0 -q -f -o $(q "$work/tar.tar.zst")"
  jb_ms=$(median_ms "$json" 0)
  tar_ms=$(median_ms "$json" 1)
  pack_ratio=$(ratio "$jb_ms" "$tar_ms")
  printf '  pack median: jailbuild %s ms, tar | zstd %s ms; ratio %s; sizes: %s vs %s bytes\n' "$jb_ms" "$tar_ms" \
    "$pack_ratio" "$(stat -c %s "$work/jb.tar.zst")" "$(stat -c %s "$work/tar.tar.zst")"

  # Each run unpacks into a fresh directory; removing the previous one is not timed. The targets
  # are on a tmpfs of their own: on ext4, a file created within 30 s of thousands of deletions waits
  # while the allocator skips every recently freed inode (recently_deleted()), which makes a loop
  # of unpack-and-remove measure that, at random, for either tool. tmpfs leaves the tools' own work.
  local into=$work/into where="tmpfs"
  mkdir "$into"
  if mount -t tmpfs -o size=2g,mode=0755 jb-bench-unpack "$into" 2>/dev/null; then
    trap 'umount "$into" 2>/dev/null; rm -rf "$work"' EXIT # a failed run must not leave the mount
  else
    where="ext4 (tmpfs mount failed)"
  fi
  json=$results/unpack.json
  alternating_runs "$json" "$runs" "rm -rf $(q "$into/u" "$into/t" "$work/ustate")" \
    "jailbuild unpack" "$(q "$build/jailbuild" unpack "$work/jb.tar.zst" "$into/u" --state-dir "$work/ustate" --config-dir "$work/config" -q)" \
    "tar -xf" "mkdir $(q "$into/t") && tar -xf $(q "$work/tar.tar.zst") -C $(q "$into/t")"
  jb_ms=$(median_ms "$json" 0)
  tar_ms=$(median_ms "$json" 1)
  unpack_ratio=$(ratio "$jb_ms" "$tar_ms")
  printf '  unpack median (into %s): jailbuild %s ms, tar -xf %s ms; ratio %s\n' "$where" "$jb_ms" "$tar_ms" \
    "$unpack_ratio"
  if mountpoint -q "$into"; then umount "$into"; fi
  trap - EXIT
  rm -rf "$work"
  bar "jailbuild pack / tar | zstd -T0" "$pack_ratio" 1.2 "x"
  bar "jailbuild unpack / tar -xf" "$unpack_ratio" 1.5 "x"
}

# --- audit: jailbuild audit vs a find -perm walk and jk_check; integrity hashing vs sha256sum ----------
bench_audit() {
  echo "== audit: jailbuild audit vs find -perm (same tree) and jk_check (jailkit jail); integrity vs sha256sum"
  can_build_jails || return 0
  local work jail
  work=$(mktemp -d /srv/jb-bench-audit.XXXXXX) # not /tmp: jk_init refuses it (see bench_create)
  jail=$work/jb
  "$build/jailbuild" create "$jail" --with nginx,php-fpm --state-dir "$work/state" --config-dir "$work/config" -q
  # The equivalent jailkit jail, and a jk_check configuration naming it (-c: /etc/jailkit is left alone).
  write_jailkit_ini "$work/jk_init.ini"
  mkdir -m 0755 "$work/jk"
  jk_init -c "$work/jk_init.ini" -j "$work/jk" web >"$results/audit-jk_init.log" 2>&1
  printf '[%s]\n' "$work/jk" >"$work/jk_check.ini"
  # The files the integrity check hashes, for sha256sum: every regular file but the manifest.
  find "$jail" -type f ! -path "$jail/.jailbuild/*" -print0 >"$work/files"
  printf '  jail: %s entries, %s files, %s\n' "$(find "$jail" | wc -l)" "$(tr -cd '\0' <"$work/files" | wc -c)" \
    "$(du -sh "$jail" | cut -f1)"
  if ! "$build/jailbuild" audit "$jail" >"$results/audit-report.txt"; then
    echo "  FAIL a fresh jail does not audit clean: $(grep -m3 -A1 '^[A-Z]* (' "$results/audit-report.txt")"
    bar_failures=$((bar_failures + 1))
  fi

  # What find -perm checks of the tree: setuid/setgid, world-writable, devices, writable dirs without +t.
  local find_cmd json=$results/audit.json
  find_cmd="find $(q "$jail") -xdev \\( -perm /6000 -o -perm -0002 -o -type b -o -type c -o \\( -type d -perm /0022 ! -perm -1000 \\) \\) -print"
  hyperfine --style none --warmup 5 --runs "$runs" --export-json "$json" \
    --command-name "find -perm" "$find_cmd >/dev/null" \
    --command-name "audit --no-integrity --no-hardening" "$(q "$build/jailbuild" audit "$jail" --no-integrity --no-hardening) >/dev/null" \
    --command-name "audit --no-integrity" "$(q "$build/jailbuild" audit "$jail" --no-integrity) >/dev/null" \
    --command-name "audit --no-hardening" "$(q "$build/jailbuild" audit "$jail" --no-hardening) >/dev/null" \
    --command-name "sha256sum" "xargs -0 -a $(q "$work/files") sha256sum >/dev/null" \
    --command-name "audit (everything)" "$(q "$build/jailbuild" audit "$jail") >/dev/null" \
    --command-name "jk_check" "$(q jk_check -c "$work/jk_check.ini" "$work/jk") >/dev/null 2>&1 || true" \
    >"$results/audit-hyperfine.txt"
  local find_ms rules_ms hardening_ms integrity_ms sha_ms full_ms jk_ms
  find_ms=$(median_ms "$json" 0)
  rules_ms=$(median_ms "$json" 1)
  hardening_ms=$(median_ms "$json" 2)
  integrity_ms=$(median_ms "$json" 3)
  sha_ms=$(median_ms "$json" 4)
  full_ms=$(median_ms "$json" 5)
  jk_ms=$(median_ms "$json" 6)
  printf '  median wall time: find -perm %s ms; audit without integrity (and hardening) %s ms\n' "$find_ms" "$rules_ms"
  printf '  integrity: audit --no-hardening %s ms (hashing alone ~%s ms) vs sha256sum of the same files %s ms\n' \
    "$integrity_ms" "$("$python" -c 'import sys; print("%.1f" % (float(sys.argv[1]) - float(sys.argv[2])))' "$integrity_ms" "$rules_ms")" "$sha_ms"
  printf '  hardening (LIEF, every ELF file): audit --no-integrity %s ms\n' "$hardening_ms"
  printf '  everything: jailbuild audit %s ms; jk_check on the jailkit jail %s ms (ratio %s)\n' "$full_ms" "$jk_ms" \
    "$(ratio "$full_ms" "$jk_ms")"
  rm -rf "$work"
  bar "audit without integrity / find -perm walk" "$(ratio "$rules_ms" "$find_ms")" 2 "x"
  bar "audit with integrity / sha256sum" "$(ratio "$integrity_ms" "$sha_ms")" 1.5 "x"
}

# --- sites: one jail per site (issue #12): a per-site php-fpm jail and the runtime-only jail -------------
# jail_size DIR: "N files, B bytes" (du -sb: the bytes of the files, not the blocks).
jail_size() {
  printf '%s files, %s bytes' "$(find "$1" -type f | wc -l)" "$(du -sb "$1" | cut -f1)"
}

bench_sites() {
  echo "== sites: create of the full nginx + php-fpm jail vs a php-fpm --pool jail vs the php-runtime jail"
  can_build_jails || return 0
  local work fpm php pool
  work=$(mktemp -d /srv/jb-bench-sites.XXXXXX) # not /tmp: see bench_create
  chmod 755 "$work"
  fpm=$(ls /usr/sbin/php-fpm* | head -n1)
  php=${fpm#/usr/sbin/php-fpm}
  # The host's first pool without chroot: what a per-site jail takes.
  pool=$( (grep -L '^[[:space:]]*chroot[[:space:]]*=' /etc/php/"$php"/fpm/pool.d/*.conf 2>/dev/null || true) | head -n1)
  [ -z "$pool" ] || pool=$(sed -n 's/^[[:space:]]*\[\([^]]*\)\].*/\1/p' "$pool" | head -n1)
  if [ -z "$pool" ]; then
    echo "  skipped: the host's php-fpm $php has no pool without chroot"
    rm -rf "$work"
    return 0
  fi
  # The runtime-only jail needs a host pool whose workers chroot into it. The host's configuration never
  # changes: jailbuild runs in a mount namespace of its own with a private pool.d (the host's pools and
  # one with chroot) over the real one. unshare and the bind mount are inside the timed command (~2 ms).
  mkdir -p "$work/pool.d"
  cp /etc/php/"$php"/fpm/pool.d/*.conf "$work/pool.d/"
  printf '[rt]\nuser = www-data\ngroup = www-data\nlisten = /run/php/jb-bench-rt.sock\npm = static\npm.max_children = 1\nchroot = %s\n' \
    "$work/rt" >"$work/pool.d/zz-jb-bench-rt.conf"
  local ns
  ns="unshare -m --propagation private sh -c $(q 'mount --bind "$1" "/etc/php/$2/fpm/pool.d" && shift 2 && exec "$@"') sh $(q "$work/pool.d" "$php")"
  local common=(--state-dir "$work/state" --config-dir "$work/config" -q)
  local json=$results/sites.json create_runs=$((runs < 10 ? runs : 10))
  hyperfine --style none --warmup 1 --runs "$create_runs" --export-json "$json" \
    --prepare "rm -rf $(q "$work/full" "$work/pool" "$work/rt")" \
    --command-name "create --with nginx,php-fpm" "$(q "$build/jailbuild" create "$work/full" --with nginx,php-fpm "${common[@]}")" \
    --command-name "create --with php-fpm --pool $pool" "$(q "$build/jailbuild" create "$work/pool" --with php-fpm --pool "$pool" "${common[@]}")" \
    --command-name "create --with php-runtime --pool rt" "$ns $(q "$build/jailbuild" create "$work/rt" --with php-runtime --pool rt "${common[@]}")" \
    >"$results/sites-hyperfine.txt"
  # --prepare removed the last timed run's jails: made once more to measure them.
  "$build/jailbuild" create "$work/full" --with nginx,php-fpm "${common[@]}"
  "$build/jailbuild" create "$work/pool" --with php-fpm --pool "$pool" "${common[@]}"
  sh -c "$ns $(q "$build/jailbuild" create "$work/rt" --with php-runtime --pool rt "${common[@]}")"
  local full_ms pool_ms rt_ms
  full_ms=$(median_ms "$json" 0)
  pool_ms=$(median_ms "$json" 1)
  rt_ms=$(median_ms "$json" 2)
  printf '  %-34s create %8s ms, %s\n' "full nginx + php-fpm jail:" "$full_ms" "$(jail_size "$work/full")"
  printf '  %-34s create %8s ms, %s (%sx the full jail'"'"'s time)\n' "php-fpm --pool $pool:" "$pool_ms" \
    "$(jail_size "$work/pool")" "$(ratio "$pool_ms" "$full_ms")"
  printf '  %-34s create %8s ms, %s (%sx the full jail'"'"'s time)\n' "php-runtime (pool rt, chroot):" "$rt_ms" \
    "$(jail_size "$work/rt")" "$(ratio "$rt_ms" "$full_ms")"
  rm -rf --one-file-system "$work"
}

# --- Setup: the tools, and a Release build -----------------------------------------------------------
"$here/scripts/bootstrap.sh"
mkdir -p "$results"
if ! { cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF &&
  cmake --build "$build" --target jailbuild -j"$(nproc)"; } >"$results/build.log" 2>&1; then
  tail -n 30 "$results/build.log" >&2
  echo "bench: the Release build failed (log: $results/build.log)" >&2
  exit 1
fi
echo "bench: $("$build/jailbuild" --version 2>/dev/null || echo jailbuild) (Release), $(nproc) CPUs, $(uname -r)"

for section in "${sections[@]}"; do
  [ -z "$only" ] || [ "$only" = "$section" ] || continue
  "bench_$section"
done

if [ "$bar_failures" -ne 0 ]; then
  echo "bench: $bar_failures bar(s) failed"
  exit 1
fi
echo "bench: every bar passed"
