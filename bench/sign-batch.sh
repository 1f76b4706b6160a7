#!/usr/bin/env bash
# Batch benchmark: 600 small PDFs signed by `kyso sign --out-dir --workers 2` with a
# SoftHSM2 key, against the raw signature rate of the same key with 2 workers, in
# one run. Usage: bench/sign-batch.sh [COUNT]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-600}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SOFTHSM2_CONF="$work/softhsm2.conf"
mkdir -p "$work/tokens" "$work/in"
echo "directories.tokendir = $work/tokens" > "$SOFTHSM2_CONF"
module=/usr/lib/softhsm/libsofthsm2.so
softhsm2-util --init-token --free --label bench --pin 123456 --so-pin 12345678 > /dev/null
openssl pkcs8 -topk8 -nocrypt -in certs-testdata/org.key -outform DER -out "$work/key.der"
openssl x509 -in certs-testdata/org.pem -outform DER -out "$work/cert.der"
pkcs11-tool --module $module --login --pin 123456 --token-label bench --write-object "$work/key.der" --type privkey --label org --id 01 > /dev/null
pkcs11-tool --module $module --login --pin 123456 --token-label bench --write-object "$work/cert.der" --type cert --label org --id 01 > /dev/null
uri="pkcs11:token=bench;object=org?module-path=$module&pin-value=123456"
go build -o "$work/kyso" ./cmd/kyso
go build -o "$work/rawsign" ./bench/rawsign
go build -o "$work/genpdf" ./bench/genpdf
for i in $(seq 1 "$count"); do "$work/genpdf" -kib 20 -o "$work/in/doc$i.pdf"; done
sync # the inputs on disk before anything is measured
# Five rounds, the raw rate and the batch one right after the other in each, since
# the machine is shared and its speed drifts; every round is printed, and the
# summary is the median of the rounds' ratios. Each round writes into a fresh
# directory: deleting thousands of files just before creating thousands more makes
# ext4 scan past the recently freed inodes, a cost of the benchmark, not of Kyso.
rounds=${ROUNDS:-5}
ratios=()
for r in $(seq 1 "$rounds"); do
  raw=$("$work/rawsign" -key "$uri" -n "$count" -workers 2)
  mkdir "$work/out$r"
  t0=$(date +%s.%N)
  "$work/kyso" sign --key "$uri" --chain certs-testdata/chain.pem --workers 2 --out-dir "$work/out$r" "$work"/in/*.pdf 2> "$work/summary.txt"
  t1=$(date +%s.%N)
  rate=$(echo "$count / ($t1 - $t0)" | bc -l)
  ratio=$(echo "100 * $rate / $raw" | bc -l)
  ratios+=("$ratio")
  printf 'round %d: raw %.1f signatures/s, kyso sign --out-dir %.1f documents/s = %.1f%% of raw (%s)\n' \
    "$r" "$raw" "$rate" "$ratio" "$(tail -1 "$work/summary.txt")"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
printf 'documents: %d (20 KiB each), key: SoftHSM2 RSA-3072, 2 workers\nmedian of %d rounds: %.1f%% of the raw rate\n' "$count" "$rounds" "$median"
pdfsig -nocert "$work/out1/doc1.pdf" | grep -E "Signature is Valid" | sed 's/^/pdfsig doc1: /'
