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
mkdir -p "$work/tokens" "$work/in" "$work/out"
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
raw=$("$work/rawsign" -key "$uri" -n "$count" -workers 2)
t0=$(date +%s.%N)
"$work/kyso" sign --key "$uri" --chain certs-testdata/chain.pem --workers 2 --out-dir "$work/out" "$work"/in/*.pdf 2> "$work/summary.txt"
t1=$(date +%s.%N)
rate=$(echo "$count / ($t1 - $t0)" | bc -l)
printf 'documents: %d (20 KiB each), key: SoftHSM2 RSA-3072\nraw signature rate, 2 workers: %.1f/s\nkyso sign --out-dir, 2 workers: %.1f documents/s (%.0f%% of raw)\n' \
  "$count" "$raw" "$rate" "$(echo "100 * $rate / $raw" | bc -l)"
tail -1 "$work/summary.txt"
pdfsig -nocert "$work/out/doc1.pdf" | grep -E "Signature is Valid" | sed 's/^/pdfsig doc1: /'
