#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the libFuzzer harnesses (fuzz/) with clang, AddressSanitizer and UndefinedBehaviorSanitizer
# in a build directory of their own, and runs each for SECONDS (default 60), one after the other.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]      TARGET: elf manifest origin accounts mountinfo profile
#                                              nginx php_ini unpack (default: all)
#
# Each fuzzer starts from the seeds the build generated (BUILD/fuzz-seeds/TARGET) and its corpus of
# earlier runs (BUILD/fuzz-corpus/TARGET, which it grows), with its dictionary (fuzz/dict). A finding
# (crash-*, leak-*, timeout-*, oom-* files) is kept in BUILD/fuzz-findings/TARGET, the fuzzer's output
# in BUILD/fuzz-logs/TARGET.log. One line per target, then "N passed, N failed"; exit 1 on any finding.
# Reproduce one with: BUILD/fuzz/fuzz_TARGET BUILD/fuzz-findings/TARGET/crash-...
# BUILD is $FUZZ_BUILD_DIR, default build-fuzz.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD_DIR:-$here/build-fuzz}
all_targets=(elf manifest origin accounts mountinfo profile nginx php_ini unpack)

seconds=60
if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then
  seconds=$1
  shift
fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  if [[ " ${all_targets[*]} " != *" $t "* ]]; then
    echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]   (targets: ${all_targets[*]})" >&2
    exit 2
  fi
done

# The largest input each fuzzer makes: a few times its largest seed, enough for every structure its
# reader knows, small enough to keep the runs fast.
declare -A max_len=([elf]=65536 [manifest]=65536 [origin]=16384 [accounts]=8192 [mountinfo]=16384
  [profile]=16384 [nginx]=32768 [php_ini]=32768 [unpack]=65536)
declare -A dict=([elf]=elf [manifest]=json [origin]=json [accounts]=accounts [mountinfo]=mountinfo
  [profile]=profile [nginx]=nginx [php_ini]=php_ini [unpack]=unpack)

"$here/scripts/bootstrap.sh"
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S "$here" -B "$build" -DJAILBUILD_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ "${launcher[@]}" >/dev/null
cmake --build "$build" --target fuzz -j"$(nproc)"

# The fake host roots and jails the harnesses write for every input: on a tmpfs where there is one.
scratch_base=$build/fuzz-scratch
if [ -d /dev/shm ] && [ -w /dev/shm ]; then scratch_base=/dev/shm/jailbuild-fuzz-$$; fi
trap 'rm -rf --one-file-system "$scratch_base"' EXIT

cd "$build" # libFuzzer's working directory, which the unpack harness keeps writable
passed=0
failed=0
for t in "${targets[@]}"; do
  corpus=$build/fuzz-corpus/$t
  findings=$build/fuzz-findings/$t
  scratch=$scratch_base/$t
  # unpack mounts a tmpfs of its own there, and a jail below /dev would be refused.
  [ "$t" != unpack ] || scratch=$build/fuzz-scratch/$t
  log=$build/fuzz-logs/$t.log
  mkdir -p "$corpus" "$findings" "$(dirname "$log")"
  rm -rf --one-file-system "$scratch"
  before=$(find "$findings" -type f | wc -l)
  status=0
  # -timeout: an input that takes seconds is a finding (a root process stuck on a crafted file).
  # -malloc_limit_mb: no reader needs 512 MiB at once for an input of at most 64 KiB; one that
  # allocates what the input claims before checking it is a finding ("out-of-memory (malloc(...))").
  JB_FUZZ_SCRATCH=$scratch UBSAN_OPTIONS=print_stacktrace=1 \
    "$build/fuzz/fuzz_$t" -max_total_time="$seconds" -max_len="${max_len[$t]}" -rss_limit_mb=2048 \
    -malloc_limit_mb=512 -timeout=10 -dict="$here/fuzz/dict/${dict[$t]}.dict" -artifact_prefix="$findings/" \
    -print_final_stats=1 "$corpus" "$build/fuzz-seeds/$t" >"$log" 2>&1 || status=$?
  rm -rf --one-file-system "$scratch"
  new=$(($(find "$findings" -type f | wc -l) - before))
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
  if [ "$status" -eq 0 ] && [ "$new" -eq 0 ]; then
    passed=$((passed + 1))
    printf 'fuzz_%s: passed, %s runs in %s s, corpus %s inputs\n' "$t" "${runs:-?}" "$seconds" \
      "$(find "$corpus" -type f | wc -l)"
  else
    failed=$((failed + 1))
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n1)
    what=$(grep -m1 -E '^==[0-9]+==ERROR|^SUMMARY|FINDING|runtime error|out-of-memory|timeout' "$log" || true)
    printf 'fuzz_%s: FAILED (exit %s): %s\n    input: %s\n    log: %s\n' "$t" "$status" "${what:-see the log}" \
      "${artifact:-none written}" "$log"
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
