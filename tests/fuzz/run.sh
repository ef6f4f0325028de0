#!/bin/sh
# Runs libFuzzer targets for a fixed time each.
#
#   tests/fuzz/run.sh [-m] [-j N] [-r RUNS] BUILD_DIR SECONDS [TARGET ...]   (default: all)
#
# Each target fuzzes for SECONDS, or until it has run RUNS inputs when -r
# is given (SECONDS is then the cap). Each target fuzzes a scratch copy of tests/fuzz/corpus/<target> in a temp
# directory, with tests/fuzz/<target>.dict when there is one; N targets run
# at a time (default: the number of cores), each on one core.
#
# Without -m (`make test`) the repository is never modified: the stored
# corpus is replayed (every kept reproducer runs again) and fuzzed further.
# With -m (`make fuzz`) the stored corpus and what the run found are
# minimized (libFuzzer's -merge=1: the smallest inputs that keep all the
# coverage) back into tests/fuzz/corpus/<target>. Files named by hand there
# (seeds, reproducers of fixed crashes) are always kept; the merged ones are
# named by their SHA-1, as libFuzzer names them.
#
# A crash, leak or timeout makes this script exit non-zero and print where
# the reproducer is; that temp directory is then kept. Reproduce with:
# BUILD_DIR/fuzz_<t> FILE. Each target's figures are printed in one line:
#   fuzz_<t>: <executions> execs, cov <edges> ft <features>, corpus <files> files <bytes> bytes
set -u

ALL="ws http query jwt deflate exec preview publish client config nats"
merge=0
jobs=$(nproc 2>/dev/null || echo 2)
runs=-1
while [ $# -gt 0 ]; do
    case $1 in
    -m) merge=1; shift ;;
    -j) jobs=$2; shift 2 ;;
    -r) runs=$2; shift 2 ;;
    *) break ;;
    esac
done
if [ $# -lt 2 ]; then
    echo "usage: $0 [-m] [-j N] [-r RUNS] BUILD_DIR SECONDS [$(echo "$ALL" | tr ' ' '|') ...]" >&2
    exit 2
fi
build=$1
seconds=$2
shift 2
[ $# -gt 0 ] || set -- $ALL

here=$(cd "$(dirname "$0")" && pwd)

is_generated() { # a libFuzzer file name: 40 hex digits
    echo "$1" | grep -Eq '^[0-9a-f]{40}$'
}

# Minimizes the stored corpus plus $tmp/corpus back into the stored corpus.
merge_back() {
    t=$1 bin=$2 tmp=$3
    repo=$here/corpus/$t
    mkdir -p "$repo" "$tmp/merged"
    "$bin" -merge=1 -timeout=10 -rss_limit_mb=2048 "$tmp/merged" "$repo" "$tmp/corpus" \
        >"$tmp/merge.log" 2>&1 || { tail -n 20 "$tmp/merge.log"; return 1; }
    named=""
    for f in "$repo"/*; do
        [ -f "$f" ] || continue
        n=$(basename "$f")
        if is_generated "$n"; then rm -f "$f"; else named="$named $(sha1sum <"$f" | cut -c1-40)"; fi
    done
    for f in "$tmp/merged"/*; do
        [ -f "$f" ] || continue
        case " $named " in *" $(basename "$f") "*) continue ;; esac
        cp "$f" "$repo/"
    done
}

# One target; 0 if nothing was found.
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
    dict=""
    [ -f "$here/$t.dict" ] && dict="-dict=$here/$t.dict"
    echo "fuzz_$t: ${seconds}s, runs $runs, corpus copy in $tmp/corpus"
    # shellcheck disable=SC2086 # dict is one word or none
    "$bin" -max_total_time="$seconds" -runs="$runs" -timeout=10 -rss_limit_mb=2048 $dict \
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
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tmp/log")
    cov=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$tmp/log" | tail -n 1 | sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\).*/cov \1 ft \2/p')
    if [ $merge -eq 1 ]; then
        merge_back "$t" "$bin" "$tmp" || { echo "fuzz_$t: merge FAILED, log in $tmp"; return 1; }
        dir=$here/corpus/$t
    else
        dir=$tmp/corpus
    fi
    files=$(find "$dir" -type f | wc -l)
    bytes=$(find "$dir" -type f -exec cat {} + | wc -c)
    echo "fuzz_$t: $execs execs, $cov, corpus $files files $bytes bytes"
    echo "fuzz_$t: ok"
    rm -rf "$tmp"
    return 0
}

# Up to $jobs targets side by side (one core each); each one's output is
# kept apart and printed when its batch ends.
status=0
out=${TMPDIR:-/tmp}/fc-fuzz-$$
while [ $# -gt 0 ]; do
    pids=""
    i=0
    while [ $# -gt 0 ] && [ $i -lt "$jobs" ]; do
        fuzz_one "$1" >"$out-$1.out" 2>&1 &
        pids="$pids $!:$1"
        i=$((i + 1))
        shift
    done
    for p in $pids; do
        pid=${p%%:*}
        t=${p#*:}
        wait "$pid" || status=1
        cat "$out-$t.out"
        rm -f "$out-$t.out"
    done
done
exit $status
