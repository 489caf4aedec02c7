#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Bootstrap, configure, build and run every test, then the fuzzers for a short time each. Nonzero on
# any failure or finding.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/bootstrap.sh"
# One checked-in style (.clang-format): a file that differs from it fails the run, as a test would.
(cd "$here" && git ls-files -z '*.cpp' '*.hpp' '*.c' '*.h' | xargs -0 clang-format --dry-run -Werror)
build=${BUILD_DIR:-$here/build}
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)"
cd "$build"
ctest --output-on-failure -j"$(nproc)" "$@"
# The fuzzers, a short time box each (scripts/fuzz.sh: their own clang build, then FUZZ_SECONDS per
# target, default 20, about 3 minutes for the nine plus the build); a finding fails the run.
# FUZZ_SECONDS=0 leaves them out, for a quick local run; CI sets nothing.
fuzz_seconds=${FUZZ_SECONDS:-20}
if [ "$fuzz_seconds" -gt 0 ]; then
  "$here/scripts/fuzz.sh" "$fuzz_seconds"
else
  echo "test: the fuzzers were left out (FUZZ_SECONDS=0)"
fi
