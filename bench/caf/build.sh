#!/usr/bin/env bash
# Builds bench/caf/*.cpp — our own CAF 0.17 programs for workloads the shared
# harness does not have (issue 13's plain-thread fan-out) — into
# ${BUILD_DIR:-build/caf}, as the shared harness builds its CAF peer
# (g++ -O2 -DNDEBUG -std=c++17, Debian's libcaf-dev).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${BUILD_DIR:-$HERE/../../build/caf}
mkdir -p "$OUT"
for src in "$HERE"/*.cpp; do
  name=$(basename "$src" .cpp)
  g++ -O2 -DNDEBUG -std=c++17 -o "$OUT/caf_$name" "$src" -lcaf_core -lpthread
done
