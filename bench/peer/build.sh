#!/usr/bin/env bash
# Akt peer: configure and build the benchmark programs (Release, Ninja; no
# tests, no examples) into $BUILD_DIR/akt.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=${BUILD_DIR:-/tmp/peers-build}/akt
cmake -S "$REPO" -B "$OUT" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release \
  -DAKT_BUILD_TESTS=OFF -DAKT_BUILD_EXAMPLES=OFF -DAKT_BUILD_BENCH=ON
cmake --build "$OUT" --parallel "$(nproc)"
