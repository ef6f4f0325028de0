#!/bin/sh
# Runs every benchmark scenario for framecast and its peers in one go and
# prints the figures side by side, with ratios against python-websockets'
# broadcast(). Called by `make bench` as: bench/run_all.sh build/release
#
#   SCENARIOS="S2 S3" bench/run_all.sh BUILD_DIR   only some scenarios (S1 S2 S3 MC)
#   BENCH_QUICK=1 ...                              short runs, to check the harness
#   BENCH_OUT=DIR ...                              where logs and results.json go
#                                                  (BUILD_DIR/bench-results/DATE)
#
# Needs: BUILD_DIR/framecast, framecast-client and framecast-bench; taskset;
# /usr/bin/python3 with python3-websockets; node with ws in node_modules; 2 cores.
# Servers run on core 0 (taskset -c 0), framecast-bench on core 1. The whole
# run is bounded (BENCH_BUDGET_S, default 560 s of measurements); an EXIT trap
# kills whatever it started.
set -eu

usage() { echo "usage: bench/run_all.sh BUILD_DIR   (e.g. build/release)" >&2; exit 2; }
[ $# -eq 1 ] || usage
BUILD=$1
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
cd "$ROOT"

missing=""
for b in framecast framecast-client framecast-bench; do
    [ -x "$BUILD/$b" ] || missing="$missing $BUILD/$b"
done
if [ -n "$missing" ]; then
    echo "bench/run_all.sh: not built:$missing (build with: make release, or cmake --build $BUILD)" >&2
    exit 1
fi
command -v taskset >/dev/null || { echo "bench/run_all.sh: taskset not found (util-linux)" >&2; exit 1; }
command -v node >/dev/null || { echo "bench/run_all.sh: node not found" >&2; exit 1; }
/usr/bin/python3 -c 'import websockets' 2>/dev/null ||
    { echo "bench/run_all.sh: /usr/bin/python3 cannot import websockets (apt install python3-websockets)" >&2; exit 1; }
[ -f node_modules/ws/package.json ] ||
    { echo "bench/run_all.sh: node_modules/ws missing (npm ci)" >&2; exit 1; }
if [ "$(nproc)" -lt 2 ]; then
    echo "bench/run_all.sh: needs 2 cores (server on core 0, load generator on core 1), have $(nproc)" >&2
    exit 1
fi
# 1000 clients on each side of the loopback.
ulimit -n 8192 2>/dev/null || true
[ "$(ulimit -n)" -ge 2100 ] ||
    { echo "bench/run_all.sh: open-file limit $(ulimit -n) too low (need >= 2100)" >&2; exit 1; }

OUT=${BENCH_OUT:-$BUILD/bench-results/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
: >"$OUT/pids"

runner=""
cleanup() {
    # The runner stops its servers itself; this catches what it could not
    # (killed runner): every pid it started, one by one.
    if [ -n "$runner" ] && kill -0 "$runner" 2>/dev/null; then
        kill -TERM "$runner" 2>/dev/null || true
        i=0
        while kill -0 "$runner" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        kill -KILL "$runner" 2>/dev/null || true
    fi
    # Only if the pid is still one of ours (a server or framecast-bench).
    while read -r pid; do
        if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'framecast\|bench/peers/'; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done <"$OUT/pids"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

/usr/bin/python3 "$HERE/run_bench.py" "$BUILD" --out "$OUT" &
runner=$!
wait "$runner"
