#!/bin/sh
# The side-by-side benchmark of mana-auth and Better Auth in one command
# (see README.md). Flags go to bench-betterauth, e.g.
#   bench/betterauth/run.sh -duration=10s -rounds=3 -out=/tmp/vs.md
set -eu
cd "$(dirname "$0")/../.."
exec go run ./bench/betterauth/cmd/bench-betterauth "$@"
