#!/usr/bin/env bash
# Signs a large PDF (default 200 MiB) and measures, side by side in one run, the time
# of `openssl dgst -sha256` over the same file and Kyso's time and peak memory
# (/usr/bin/time -v). Usage: bench/sign-large.sh [MiB]
set -euo pipefail
cd "$(dirname "$0")/.."
mib=${1:-200}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/kyso" ./cmd/kyso
go run ./bench/genpdf -size "$mib" -o "$work/large.pdf"
key="softkey:path=$PWD/certs-testdata/org.key;cert=$PWD/certs-testdata/org.pem"
# The input was just written: put it on disk first, or the output's flush would wait
# for the input's 200 MiB too (ext4 commits ordered data with the journal).
sync
cat "$work/large.pdf" > /dev/null # warm the page cache for both
t0=$(date +%s.%N); openssl dgst -sha256 "$work/large.pdf" > /dev/null; t1=$(date +%s.%N)
/usr/bin/time -v "$work/kyso" sign --key "$key" --chain certs-testdata/chain.pem -o "$work/signed.pdf" "$work/large.pdf" 2> "$work/time.txt"
t2=$(date +%s.%N)
/usr/bin/time -v "$work/kyso" sign --key "$key" --chain certs-testdata/chain.pem --in-place "$work/large.pdf" 2> "$work/time-inplace.txt"
t3=$(date +%s.%N)
# -o writes a new 200 MiB file and waits until it is on disk; what that costs alone
# on this disk is the floor for -o, which openssl dgst does not pay.
t4=$(date +%s.%N); dd if="$work/large.pdf" of="$work/copy.pdf" bs=4M conv=fdatasync status=none; t5=$(date +%s.%N)
dgst=$(echo "$t1 - $t0" | bc); sign=$(echo "$t2 - $t1" | bc); inplace=$(echo "$t3 - $t2" | bc); disk=$(echo "$t5 - $t4" | bc)
rss=$(awk -F: '/Maximum resident/ {gsub(/ /,"",$2); print $2}' "$work/time.txt")
rss2=$(awk -F: '/Maximum resident/ {gsub(/ /,"",$2); print $2}' "$work/time-inplace.txt")
printf 'file: %s MiB\nopenssl dgst -sha256: %.2f s\nkyso sign --in-place: %.2f s (%.2fx), peak RSS %d MiB\nkyso sign -o:        %.2f s (%.2fx), peak RSS %d MiB; writing the file durably alone (dd conv=fdatasync): %.2f s\n' \
  "$mib" "$dgst" "$inplace" "$(echo "$inplace / $dgst" | bc -l)" "$((rss2 / 1024))" "$sign" "$(echo "$sign / $dgst" | bc -l)" "$((rss / 1024))" "$disk"
pdfsig -nocert "$work/signed.pdf" | grep -E "Signature is Valid|Total document" | sed 's/^/pdfsig: /'
