#!/usr/bin/env bash
# Our scrypt against Bun's (BoringSSL) at Better Auth's parameters (N=16384,
# r=16, p=1, 64-byte key), in one run: ROUNDS rounds (default 7), each
# timing HASHES hashes (default 20) with Bun (testdata/bun-scrypt.mjs),
# Node if present, the Go benchmarks (BenchmarkScryptKernel: every kernel
# this CPU runs, "go" being the pure-Go code that -tags purego builds;
# BenchmarkMemoryFloor) and BenchmarkXCryptoScrypt/serial, one after the
# other so that all see the same machine. Prints each round, then the
# median and best milliseconds per hash of each, as wall time and as the
# process's CPU time (on a busy machine the wall time also counts the
# time others held the core), and Bun's time over ours.
#
#	internal/scrypt/testdata/compare-bun.sh      # installs bun@1.4.5 from npm into a temp dir
#	BUN=/path/to/bun ROUNDS=11 HASHES=30 internal/scrypt/testdata/compare-bun.sh
#
# Needs go, and npm (or BUN). Nothing is installed outside the temp dir.
set -euo pipefail
cd "$(dirname "$0")/.." # internal/scrypt
ROUNDS=${ROUNDS:-7}
HASHES=${HASHES:-20}
BUN_VERSION=${BUN_VERSION:-1.4.5}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -z "${BUN:-}" ]; then
	(cd "$tmp" && npm install --silent --no-save --no-audit --no-fund --no-package-lock "bun@$BUN_VERSION" >/dev/null)
	BUN="$tmp/node_modules/.bin/bun"
fi
echo "$(date -u '+%Y-%m-%d %H:%M UTC'); bun $("$BUN" --version), node $(node --version 2>/dev/null || echo none), $(go version)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ //'), $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
go test -c -o "$tmp/scrypt.test" .

results="$tmp/results" # name wall-ms cpu-ms

gobench() { # benchmark regexp; prints "name wall-ms cpu-ms" lines
	"$tmp/scrypt.test" -test.run '^$' -test.bench "$1" -test.benchtime "${HASHES}x" |
		awk '/^Benchmark/ {
			name = $1; sub(/^Benchmark/, "", name); sub(/-[0-9]+$/, "", name)
			sub(/^ScryptKernel\//, "ours-", name); sub(/^XCryptoScrypt\/serial$/, "x/crypto", name)
			sub(/^MemoryFloor$/, "memory-floor", name)
			cpu = "-"; for (i = 4; i <= NF; i++) if ($i == "cpu-ms/op") cpu = $(i - 1)
			printf "%s %.3f %s\n", name, $3 / 1e6, cpu
		}'
}
for round in $(seq "$ROUNDS"); do
	{
		"$BUN" testdata/bun-scrypt.mjs "$HASHES"
		if command -v node >/dev/null; then node testdata/bun-scrypt.mjs "$HASHES"; fi
		gobench 'ScryptKernel|MemoryFloor'
		# x/crypto in a process of its own: its 32 MiB of garbage per
		# hash keeps the GC and the scavenger busy after it ends.
		gobench 'XCryptoScrypt/serial'
	} | tee -a "$results" | awk -v r="$round" '{ printf "round %s: %-13s wall %8.2f ms  cpu %8.2f ms\n", r, $1, $2, $3 }'
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"

summary() { # column (2 wall, 3 cpu), label
	echo
	echo "$2, ms per hash over $ROUNDS rounds of $HASHES hashes:"
	awk -v c="$1" '{ print $1, $c }' "$results" | sort -k1,1 -k2,2n | awk '
		{ v[$1, ++n[$1]] = $2 }
		END {
			for (k in n) {
				m = n[k]; med[k] = (m % 2) ? v[k, (m + 1) / 2] : (v[k, m / 2] + v[k, m / 2 + 1]) / 2
				best[k] = v[k, 1]
				printf "  %-14s median %8.2f  best %8.2f\n", k, med[k], best[k]
			}
			for (k in n) if (k ~ /^ours-/)
				printf "  bun / %-14s median %.2fx  best %.2fx\n", k, med["bun"] / med[k], best["bun"] / best[k]
		}' | sort
}
summary 2 "wall time"
summary 3 "CPU time"
