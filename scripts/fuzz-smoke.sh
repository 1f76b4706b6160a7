#!/usr/bin/env bash
# Runs every fuzz target of the module for a short smoke (default 30s each).
set -euo pipefail
t=${1:-30s}
cd "$(dirname "$0")/.."
go list -f '{{.Dir}} {{.ImportPath}}' ./... | while read -r dir pkg; do
  grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | while read -r f; do
    echo "fuzz $pkg $f ($t)"
    go test -run '^$' -fuzz "^$f\$" -fuzztime "$t" "$pkg" < /dev/null
  done
done
