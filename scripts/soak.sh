#!/usr/bin/env bash
# `make soak`: the whole suite RUNS times in a row beside a busy core (a competing CPU
# load), so a race that only shows under load shows here. Prints how many runs passed;
# each run's output is kept in artifacts/soak/run-N.log.
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
mkdir -p artifacts/soak
python3 -c 'while True: pass' &
hog=$!
trap 'kill $hog 2>/dev/null' EXIT
passed=0
for run in $(seq 1 "$runs"); do
  start=$(date +%s)
  if "$@" > "artifacts/soak/run-$run.log" 2>&1; then
    passed=$((passed + 1)); verdict=passed
  else
    verdict="FAILED (artifacts/soak/run-$run.log)"
  fi
  echo "soak run $run/$runs: $verdict in $(( $(date +%s) - start )) s — $(tail -n 1 "artifacts/soak/run-$run.log")"
done
echo "soak: $passed/$runs runs passed beside a busy core"
[ "$passed" -eq "$runs" ]
