#!/usr/bin/env bash
# API load benchmark: `kyso serve` with a SoftHSM2 key signs small PDFs over
# POST /v1/sign under wrk (32 connections, 60 s), measured in one run against the raw
# 2-worker signature rate of the same key; the server's RSS is sampled every 5 s.
# Usage: bench/api-load.sh [SECONDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
conns=${2:-32}
work=$(mktemp -d)
cleanup() { [ -n "${srv:-}" ] && kill "$srv" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
export SOFTHSM2_CONF="$work/softhsm2.conf"
mkdir -p "$work/tokens" "$work/data"
echo "directories.tokendir = $work/tokens" > "$SOFTHSM2_CONF"
module=/usr/lib/softhsm/libsofthsm2.so
softhsm2-util --init-token --free --label bench --pin 123456 --so-pin 12345678 > /dev/null
openssl pkcs8 -topk8 -nocrypt -in certs-testdata/org.key -outform DER -out "$work/key.der"
openssl x509 -in certs-testdata/org.pem -outform DER -out "$work/cert.der"
pkcs11-tool --module $module --login --pin 123456 --token-label bench --write-object "$work/key.der" --type privkey --label org --id 01 > /dev/null 2>&1
pkcs11-tool --module $module --login --pin 123456 --token-label bench --write-object "$work/cert.der" --type cert --label org --id 01 > /dev/null 2>&1
printf 123456 > "$work/pin"
go build -o "$work/kyso" ./cmd/kyso
go build -o "$work/rawsign" ./bench/rawsign
go run ./bench/genpdf -kib 20 -o "$work/doc.pdf"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/kyso.yaml" <<YAML
server:
  listen: 127.0.0.1:$port
store:
  data_dir: $work/data
pkcs11:
  allowed_modules: [$module]
keys:
  - name: org
    uri: "pkcs11:token=bench;object=org?module-path=$module&pin-source=$work/pin"
    chain: [$PWD/certs-testdata/chain.pem]
    allowed: ["role:admin"]
revocation:
  offline: true
log:
  format: json
  level: warn
YAML
raw=$("$work/rawsign" -key "pkcs11:token=bench;object=org?module-path=$module&pin-value=123456" -n 2000 -workers 2)
"$work/kyso" serve --config "$work/kyso.yaml" > "$work/stdout" 2> "$work/stderr" &
srv=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" > /dev/null && break; sleep 0.1; done
apikey=$(grep -o 'kyso_[A-Za-z0-9_-]*' "$work/stdout" | head -1)
cat > "$work/post.lua" <<'LUA'
local f = io.open(os.getenv("PDF"), "rb")
wrk.method = "POST"
wrk.body = f:read("*all")
f:close()
wrk.headers["Content-Type"] = "application/pdf"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("APIKEY")
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d non2xx=%d socket_errors=%d rps=%.1f p50_ms=%.1f p99_ms=%.1f\n",
    summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
LUA
# one request by hand: the answer must be a signed PDF
curl -sf -o "$work/one.pdf" -H "Authorization: Bearer $apikey" -H 'Content-Type: application/pdf' \
  --data-binary @"$work/doc.pdf" "http://127.0.0.1:$port/v1/sign?key=org"
pdfsig -nocert "$work/one.pdf" | grep -q "Signature is Valid" || { echo "api-load: the signed PDF does not verify" >&2; exit 1; }
( for _ in $(seq 1 $((secs / 5))); do sleep 5; awk '/VmRSS/ {print $2}' /proc/$srv/status; done ) > "$work/rss" &
PDF="$work/doc.pdf" APIKEY="$apikey" wrk -t2 -c"$conns" -d"${secs}s" --timeout 30s -s "$work/post.lua" \
  "http://127.0.0.1:$port/v1/sign?key=org" > "$work/wrk.txt"
wait %2 2>/dev/null || true
res=$(grep RESULT "$work/wrk.txt")
rps=$(echo "$res" | sed 's/.*rps=\([0-9.]*\).*/\1/')
printf 'raw signature rate, 2 workers: %.1f/s\nPOST /v1/sign, %d connections, %ds: %s\n= %.0f%% of raw\nserver RSS every 5 s (MiB): %s\n' \
  "$raw" "$conns" "$secs" "${res#RESULT }" "$(echo "100 * $rps / $raw" | bc -l)" \
  "$(awk '{printf "%d ", $1/1024}' "$work/rss")"
