#!/usr/bin/env bash
# The arm64 build of package scrypt (the NEON kernel, salsa_arm64.s), from
# any machine: `GOARCH=arm64 go vet` always (asmdecl checks the assembly's
# frame and argument names against salsa_arm64.go), and the package's tests
# under qemu user-mode emulation when qemu-aarch64-static or qemu-aarch64 is
# on PATH (Debian: apt-get install qemu-user-static). Prints what it ran and
# what it skipped.
#
#	internal/scrypt/testdata/arm64.sh
#
# Emulated timings say nothing about arm64 hardware: this checks results
# only.
set -euo pipefail
cd "$(dirname "$0")/../../.." # the module root

echo "== GOARCH=arm64 go vet ./internal/scrypt/"
GOARCH=arm64 go vet ./internal/scrypt/

qemu=""
for q in qemu-aarch64-static qemu-aarch64; do
	if command -v "$q" >/dev/null 2>&1; then
		qemu=$q
		break
	fi
done
if [ -z "$qemu" ]; then
	echo "== arm64 tests skipped: neither qemu-aarch64-static nor qemu-aarch64 is on PATH"
	exit 0
fi
echo "== GOARCH=arm64 go test -exec '$qemu' -count=1 ./internal/scrypt/"
GOARCH=arm64 go test -exec "$qemu" -count=1 ./internal/scrypt/
