#!/usr/bin/env bash
# Benchmark of the exogenous price generation (issue #2): ticks per second
# per thread for a one-regime and a three-regime scenario, 1 s ticks, 1 day,
# 1,000 paths, on 1 and 2 threads; best of REPEAT runs.
#
#   bash tests/bench/bench_price.sh [BUILD_DIR]      (default: build)
#
# Prints one line per (scenario, threads) and the 2-thread speed-up.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$here/build}
bin=$build/marginsim
repeat=${REPEAT:-3}
[ -x "$bin" ] || { echo "build first: cmake -S . -B build && cmake --build build" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

best_seconds() { # scenario threads
  local best=
  for _ in $(seq "$repeat"); do
    local t0 t1 s
    t0=$(date +%s.%N)
    "$bin" run "$1" -j "$2" -q -o "$out/b.h5"
    t1=$(date +%s.%N)
    s=$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b - a}')
    if [ -z "$best" ] || awk -v s="$s" -v b="$best" 'BEGIN{exit !(s < b)}'; then best=$s; fi
  done
  echo "$best"
}

printf "%-22s %7s %10s %12s %22s\n" scenario threads seconds "Mticks/s" "Mticks/s per thread"
for scen in price-1regime price-3regime; do
  f=$here/scenarios/bench/$scen.yaml
  ticks=$((1000 * 86400))
  s1=$(best_seconds "$f" 1)
  s2=$(best_seconds "$f" 2)
  for j in 1 2; do
    s=$([ $j = 1 ] && echo "$s1" || echo "$s2")
    rate=$(awk -v t="$ticks" -v s="$s" 'BEGIN{print t / s / 1e6}')
    printf "%-22s %7d %10.3f %12.1f %22.1f\n" "$scen" "$j" "$s" "$rate" "$(awk -v r="$rate" -v j="$j" 'BEGIN{print r / j}')"
  done
  printf "%-22s speed-up on 2 threads: %.2fx\n" "$scen" "$(awk -v a="$s1" -v b="$s2" 'BEGIN{print a / b}')"
done
