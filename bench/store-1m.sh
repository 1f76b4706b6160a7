#!/usr/bin/env bash
# Fills a SQLite store with 1,000,000 documents (91 agencies of a province, incoming and
# outgoing registers, ten years) and measures lookup latency by edXML identifier and by
# register number, p50 and p99, through pkg/store's benchmarks. The filled database is
# kept in $KYSO_BENCH_DIR (default /tmp/kyso-bench-1m) so a second run only measures.
#
#   bench/store-1m.sh              # fill (first run) and measure
#   DOCS=100000 bench/store-1m.sh  # a smaller store
#   LOOKUPS=50000 bench/store-1m.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export KYSO_BENCH_DOCS=${DOCS:-1000000}
export KYSO_BENCH_DIR=${KYSO_BENCH_DIR:-/tmp/kyso-bench-1m}
lookups=${LOOKUPS:-20000}
mkdir -p "$KYSO_BENCH_DIR"
echo "store: $KYSO_BENCH_DIR/bench.db, $KYSO_BENCH_DOCS documents, $lookups random lookups each"
start=$(date +%s)
go test -run '^$' -bench 'BenchmarkLookupBy(Identifier|Number)/sqlite' -benchtime "${lookups}x" -timeout 3h -v ./pkg/store |
  grep -E 'Benchmark|seeded|ok|FAIL'
echo "database size: $(du -h "$KYSO_BENCH_DIR/bench.db" | cut -f1), total $(( $(date +%s) - start )) s"
echo "import rate (CreateDocument, 64 KiB each, fsync'd):"
go test -run '^$' -bench 'BenchmarkImport/sqlite' -benchtime 500x ./pkg/store | grep -E 'Benchmark'
