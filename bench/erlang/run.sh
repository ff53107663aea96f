#!/usr/bin/env bash
# Builds and runs bench/erlang/bench_<workload>.erl — our own Erlang/OTP
# programs for workloads the shared harness does not have (issue 13's
# plain-thread fan-out): run.sh fanout [N]. Flags as the shared harness's
# Erlang peer runs its benchmarks (-noshell, default schedulers).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${BUILD_DIR:-$HERE/../../build/erlang}
mkdir -p "$OUT"
W=${1:?usage: run.sh <workload> [N]}
N=${2:-10000000}
erlc -o "$OUT" "$HERE/bench_$W.erl"
exec erl -noshell -pa "$OUT" -run "bench_$W" main "$N"
