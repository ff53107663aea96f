#!/usr/bin/env bash
# Akt peer adapter: run-one.sh <workload> [N] [--flag ...] -> one BENCH line on
# stdout (peer label akt). Without N, the README's default N for the workload.
# Extra flags go to the program, e.g. `run-one.sh skynet 1000000 --in-pre-start`.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${BUILD_DIR:-/tmp/peers-build}/akt/bench
[ $# -ge 1 ] || { echo "usage: $0 <workload> [N] [--flag ...]" >&2; exit 2; }
W=$1; shift

default_n() {
  case "$1" in
    pingpong) echo 5000000 ;;
    fanin) echo 10000000 ;;
    ring) echo 4000000 ;;
    skynet) echo 1000000 ;;
    idle_memory) echo 100000 ;;
    ask_latency) echo 100000 ;;
    remote_tell) echo 1000000 ;;
    remote_ask) echo 30000 ;;
    *) echo "" ;;
  esac
}

DEF=$(default_n "$W")
[ -n "$DEF" ] || { echo "unknown workload: $W" >&2; exit 2; }

N=$DEF
if [ $# -ge 1 ] && [[ $1 != --* ]]; then N=$1; shift; fi
EXE="$BIN/akt_bench_$W"
[ -x "$EXE" ] || { echo "not built: $EXE (run $HERE/build.sh)" >&2; exit 2; }
exec "$EXE" "$N" "$@"
