#!/usr/bin/env bash
# Runs the test suites (all of them, or those named) and ends with the line
# "N passed, N failed". Each database suite gets its own throwaway cluster,
# started by scripts/pgcluster.py and removed afterwards, even on failure.
set -uo pipefail
cd "$(dirname "$0")/.."

suites=("$@")
[[ ${#suites[@]} -eq 0 ]] && suites=(regress pgtap unit integration)

HARNESS=(/usr/bin/python3 scripts/pgcluster.py exec)
BINDIR=$(pg_config --bindir)
PGXS_DIR=$(dirname "$(pg_config --pgxs)")
# Each run keeps its logs in a folder of its own (runs may overlap);
# build/test-results/latest points at the newest.
OUT=build/test-results/run-$(date +%Y%m%d-%H%M%S)-$$
mkdir -p "$OUT"
ln -sfn "$(basename "$OUT")" build/test-results/latest

total_pass=0
total_fail=0
summary=()

record() { # suite passed failed
  total_pass=$((total_pass + $2))
  total_fail=$((total_fail + $3))
  summary+=("$(printf '%-12s %4d passed, %d failed' "$1:" "$2" "$3")")
}

run_regress() {
  # Every test file must be in a schedule, or it would silently never run.
  local missing=0
  for f in test/regress/sql/*.sql; do
    local t
    t=$(basename "$f" .sql)
    if ! grep -qE "^test:.*\b${t}\b" test/regress/schedule test/regress/schedule_after_restart; then
      echo "regress: $f is not in test/regress/schedule or schedule_after_restart" >&2
      missing=$((missing + 1))
    fi
  done
  # The schedule, then a server restart, then schedule_after_restart in the
  # same database: what must survive a restart (quota states) is checked by
  # SQL on both sides of a real one.
  "${HARNESS[@]}" -- bash -c '
    regress() { "$1" --bindir="$2" --inputdir=test/regress --outputdir="$3" --dbname=schemahost_regress "${@:4}"; }
    regress "$0" "$1" "$2" --schedule=test/regress/schedule &&
    /usr/bin/python3 scripts/pgcluster.py restart --dir "$SCHEMAHOST_TEST_CLUSTER" &&
    regress "$0" "$1" "$2-after-restart" --use-existing --schedule=test/regress/schedule_after_restart' \
    "$PGXS_DIR/../test/regress/pg_regress" "$BINDIR" "$OUT/regress" \
    2>&1 | tee "$OUT/regress.log"
  local rc=${PIPESTATUS[0]}
  local pass fail
  pass=$(grep -cE '\.\.\. ok' "$OUT/regress.log")
  fail=$(grep -cE '\.\.\. FAILED|\.\.\. failed' "$OUT/regress.log")
  fail=$((fail + missing))
  [[ $rc -ne 0 && $fail -eq 0 ]] && fail=1
  if [[ $fail -gt 0 ]]; then
    for d in "$OUT/regress" "$OUT/regress-after-restart"; do
      [[ -f "$d/regression.diffs" ]] && cat "$d/regression.diffs"
    done
  fi
  record regress "$pass" "$fail"
}

run_pgtap() {
  "${HARNESS[@]}" -- bash -c '
    psql -X -q -c "CREATE DATABASE schemahost_pgtap" &&
    psql -X -q -d schemahost_pgtap -c "CREATE EXTENSION pgtap" &&
    pg_prove --verbose --failures -d schemahost_pgtap test/pgtap/*.sql' \
    2>&1 | tee "$OUT/pgtap.log"
  local rc=${PIPESTATUS[0]}
  local pass fail
  pass=$(grep -cE '^\s*ok [0-9]+' "$OUT/pgtap.log")
  fail=$(grep -cE '^\s*not ok [0-9]+' "$OUT/pgtap.log")
  [[ $rc -ne 0 && $fail -eq 0 ]] && fail=1
  record pgtap "$pass" "$fail"
}

run_unit() {
  ctest --test-dir build/daemon --output-on-failure -L unit 2>&1 | tee "$OUT/unit.log"
  local rc=${PIPESTATUS[0]}
  local line pass fail
  line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$OUT/unit.log" | tail -n1)
  fail=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$line")
  total=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\2/' <<<"$line")
  [[ -z "$line" ]] && { fail=1; total=1; }
  pass=$((total - fail))
  [[ $rc -ne 0 && $fail -eq 0 ]] && fail=1
  record unit "$pass" "$fail"
}

run_integration() {
  /usr/bin/python3 test/integration/run.py 2>&1 | tee "$OUT/integration.log"
  local rc=${PIPESTATUS[0]}
  local line pass fail
  line=$(grep -E '^integration: [0-9]+ passed, [0-9]+ failed' "$OUT/integration.log" | tail -n1)
  pass=$(sed -E 's/^integration: ([0-9]+) passed.*/\1/' <<<"$line")
  fail=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
  [[ -z "$line" ]] && { pass=0; fail=1; }
  [[ $rc -ne 0 && $fail -eq 0 ]] && fail=1
  record integration "$pass" "$fail"
}

for s in "${suites[@]}"; do
  echo "==== suite: $s"
  "run_$s"
done

echo
echo "==== summary"
printf '%s\n' "${summary[@]}"
echo "${total_pass} passed, ${total_fail} failed"
[[ $total_fail -eq 0 ]]
