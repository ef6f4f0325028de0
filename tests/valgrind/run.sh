#!/bin/sh
# Runs integration tests with the server they start under valgrind's
# memcheck: any memory error or definite leak makes valgrind exit 1, which
# the test harness (tests/integration/fc.py, Server.stop) reports with the
# server's stderr, where valgrind's report is.
#
#   tests/valgrind/run.sh BUILD_DIR [TEST[.Class[.method]] ...]
#
# BUILD_DIR holds a build without sanitizers (`make valgrind-build`). With no
# TEST, the default list below (`make valgrind`). Suppressions, for
# third-party libraries only: tests/valgrind/framecast.supp.
set -u

if [ $# -lt 1 ]; then
    echo "usage: $0 BUILD_DIR [TEST[.Class[.method]] ...]" >&2
    exit 2
fi
build=$(cd "$1" && pwd)
shift
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)

# The tests whose servers exercise the most code without measuring time or
# rates: valgrind runs the server 20-50 times slower, its threads one at a
# time, so a test that wants 30 fps or a 100 ms model fails for want of
# speed, not of memory safety (left out: test_exec_bridge, whose counters
# trail its results under that slowness; test_predictors' real-footage
# cascade; test_ingest's pacing and freshness; test_limits, test_order,
# test_slow_client and the benchmarks, which measure).
[ $# -gt 0 ] || set -- test_basic test_ws_protocol test_publish test_auth test_history \
    test_deflate test_untrusted test_access test_ops test_tls \
    test_predictors.ExecTest test_predictors.PluginTest \
    test_ingest.IngestTest.test_every_frame_in_order test_ingest.IngestTest.test_hls_over_http \
    test_ingest.IngestTest.test_rtsp_reconnects test_ingest.IngestTest.test_bad_inputs

if [ ! -x "$build/framecast" ]; then
    echo "$0: $build/framecast not found (make valgrind-build)" >&2
    exit 2
fi
command -v valgrind >/dev/null || { echo "$0: valgrind not found (apt-get install valgrind)" >&2; exit 2; }

export FRAMECAST="$build/framecast"
export FRAMECAST_CLIENT="$build/framecast-client"
export FRAMECAST_RELEASE="$src/build/release/framecast"
export FC_SOURCE_DIR="$src"
export FC_BUILD_DIR="$build"
export FC_TESTDATA="$src/build/testdata"
export FRAMECAST_WRAPPER="valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite \
--errors-for-leak-kinds=definite --error-exitcode=1 --num-callers=30 \
--suppressions=$here/framecast.supp --gen-suppressions=all"
export FRAMECAST_SLOWDOWN=${FRAMECAST_SLOWDOWN:-8}

status=0
for t in "$@"; do
    file=${t%%.*}
    sel=""
    [ "$file" = "$t" ] || sel=${t#*.}
    echo "valgrind: $t"
    # shellcheck disable=SC2086 # sel is one word or none
    /usr/bin/python3 -u "$src/tests/integration/$file.py" $sel || { status=1; echo "valgrind: $t FAILED"; }
done
[ $status -eq 0 ] && echo "valgrind: all passed, no memory errors, no definite leaks"
exit $status
