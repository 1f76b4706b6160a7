#!/usr/bin/env bash
# Runs every fuzz target of the module for a short smoke (default 30s each).
#
# Go's fuzzing coordinator sometimes ends a run with "context deadline exceeded" when
# its time runs out while a worker is still inside a slow input; no failing input is
# written then, because nothing failed. Such a run is tried once more; a crash, a
# watchdog failure (the targets fail inputs that take over 10 s) or a second deadline
# fails the smoke.
set -euo pipefail
t=${1:-30s}
cd "$(dirname "$0")/.."
n=0
run() {
  local pkg=$1 f=$2 out
  out=$(mktemp)
  if go test -run '^$' -fuzz "^$f\$" -fuzztime "$t" "$pkg" < /dev/null > "$out" 2>&1; then
    grep -v '^fuzz: elapsed' "$out"; rm -f "$out"; return 0
  fi
  grep -v '^fuzz: elapsed' "$out"
  if grep -q 'context deadline exceeded' "$out" && ! grep -q 'Failing input written' "$out"; then
    rm -f "$out"; return 2
  fi
  rm -f "$out"; return 1
}
while read -r dir pkg; do
  targets=$(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' || true)
  for f in $targets; do
    echo "fuzz $pkg $f ($t)"
    rc=0; run "$pkg" "$f" || rc=$?
    if [ "$rc" -eq 2 ]; then
      echo "fuzz-smoke: $f ran out of time inside an input without failing; trying once more"
      rc=0; run "$pkg" "$f" || rc=$?
    fi
    [ "$rc" -eq 0 ] || { echo "fuzz-smoke: $pkg $f failed" >&2; exit 1; }
    n=$((n + 1))
  done
done < <(go list -f '{{.Dir}} {{.ImportPath}}' ./...)
if [ "$n" -eq 0 ]; then
  echo "fuzz-smoke: no fuzz target found" >&2
  exit 1
fi
echo "fuzz-smoke: $n targets, $t each, no failure"
