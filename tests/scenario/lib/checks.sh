# SPDX-License-Identifier: MIT
# Sourced by every scenario script (tests/CMakeLists.txt runs scenario/*.sh, not this folder).
# check and flunk count what a script proved, skip counts what it did not and says why, and finish
# prints the counts as the script's last line: a run that did only part of its work says so
# ("12 passed, 0 failed, 3 skipped: <why>") instead of looking like a full pass.
checks_passed=0
checks_failed=0
checks_skipped=0
checks_skip_reasons=""
fail=0 # 1 once a check failed; scripts may look at it

# check WHAT CONDITION: evaluates CONDITION; prints "ok WHAT" or "FAIL WHAT".
check() {
  if eval "$2"; then
    pass "$1"
  else
    flunk "$1"
  fi
}

# pass WHAT, flunk WHAT: a check that a script decided itself.
pass() {
  echo "ok $1"
  checks_passed=$((checks_passed + 1))
}
flunk() {
  echo "FAIL $1"
  checks_failed=$((checks_failed + 1))
  fail=1
}

# tally STATUS: a check that printed its own "ok"/"FAIL" line, counted by its exit status.
tally() {
  if [ "$1" -eq 0 ]; then
    checks_passed=$((checks_passed + 1))
  else
    checks_failed=$((checks_failed + 1))
    fail=1
  fi
}

# skip N WHY: N checks were not made (1 where they cannot be counted), for this reason.
skip() {
  echo "skip ($1 checks): $2"
  checks_skipped=$((checks_skipped + $1))
  checks_skip_reasons+="${checks_skip_reasons:+; }$2"
}

# finish [STATUS]: prints the counts and exits: 1 after a failure, else STATUS (0 unless given; 77
# tells ctest that the script was skipped).
finish() {
  local line="$checks_passed passed, $checks_failed failed, $checks_skipped skipped"
  [ -z "$checks_skip_reasons" ] || line+=": $checks_skip_reasons"
  echo "$line"
  [ "$checks_failed" -eq 0 ] || exit 1
  exit "${1:-0}"
}
