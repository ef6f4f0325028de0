#!/bin/sh
# Runs libFuzzer targets for a fixed time each, side by side.
#
#   tests/fuzz/run.sh BUILD_DIR SECONDS [ws|http|jwt|deflate ...]  (default: all four)
#
# Each target fuzzes a scratch copy of tests/fuzz/corpus/<target> in a temp
# directory, so the repository corpus is never modified. A crash, leak or
# timeout makes this script exit non-zero and print where the reproducer is;
# that temp directory is then kept. Reproduce with: BUILD_DIR/fuzz_<t> FILE
set -u

if [ $# -lt 2 ]; then
    echo "usage: $0 BUILD_DIR SECONDS [ws|http|jwt|deflate ...]" >&2
    exit 2
fi
build=$1
seconds=$2
shift 2
[ $# -gt 0 ] || set -- ws http jwt deflate

here=$(cd "$(dirname "$0")" && pwd)

# One target: fuzz a scratch copy of its corpus; 0 if nothing was found.
fuzz_one() {
    t=$1
    bin=$build/fuzz_$t
    if [ ! -x "$bin" ]; then
        echo "$0: $bin not found (configure with -DFC_FUZZ=ON and CC=clang)" >&2
        return 2
    fi
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/fc-fuzz-$t.XXXXXX") || return 2
    mkdir -p "$tmp/corpus" "$tmp/artifacts"
    if [ -d "$here/corpus/$t" ]; then
        cp -R "$here/corpus/$t/." "$tmp/corpus/"
    fi
    echo "fuzz_$t: ${seconds}s, corpus copy in $tmp/corpus"
    "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$tmp/artifacts/" -print_final_stats=1 \
        "$tmp/corpus" >"$tmp/log" 2>&1
    rc=$?
    found=$(find "$tmp/artifacts" -type f | head -n 1)
    if [ $rc -ne 0 ] || [ -n "$found" ]; then
        tail -n 60 "$tmp/log"
        echo "fuzz_$t: FAILED (exit $rc)"
        for f in $(find "$tmp/artifacts" -type f); do
            echo "fuzz_$t: artifact $f"
            echo "fuzz_$t: reproduce with: $bin $f"
        done
        echo "fuzz_$t: full log in $tmp/log"
        return 1
    fi
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ *DONE)' "$tmp/log"
    echo "fuzz_$t: ok"
    rm -rf "$tmp"
    return 0
}

# The targets run side by side (one core each); each one's output is kept
# apart and printed when it ends.
pids=""
for t in "$@"; do
    fuzz_one "$t" >"${TMPDIR:-/tmp}/fc-fuzz-$t-$$.out" 2>&1 &
    pids="$pids $!:$t"
done
status=0
for p in $pids; do
    pid=${p%%:*}
    t=${p#*:}
    wait "$pid" || status=1
    cat "${TMPDIR:-/tmp}/fc-fuzz-$t-$$.out"
    rm -f "${TMPDIR:-/tmp}/fc-fuzz-$t-$$.out"
done
exit $status
