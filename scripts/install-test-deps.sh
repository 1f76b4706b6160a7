#!/usr/bin/env bash
# Installs, with apt-get, the real parts the test suite drives: SoftHSM2 and OpenSC
# (PKCS#11), poppler-utils and qpdf (outside judges of the PDFs we write), openssl
# (OCSP responder, CMS checks), PostgreSQL 15 (the many-replica store), Chromium (web
# pages), zbar-tools (reads back the QR codes we draw), wrk (load), and curl and jq (the
# README's shell blocks, TestREADME). Does nothing when all are present.
set -euo pipefail
need=()
check() { command -v "$1" >/dev/null 2>&1 || need+=("$2"); }
check softhsm2-util softhsm2
check pkcs11-tool opensc
check pdfsig poppler-utils
check qpdf qpdf
check openssl openssl
check chromium chromium
check wrk wrk
check curl curl
check jq jq
check zbarimg zbar-tools
check systemd-analyze systemd
check /usr/bin/time time
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
echo "installing test dependencies: ${need[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
