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
# rates, one FILE[.Class[.method]] a line. Valgrind runs the server 20-50
# times slower, its threads one at a time, so a test that wants 30 fps, a
# 100 ms model or a client slower than the server fails for want of speed,
# not of memory safety. Left out for that: test_exec_bridge (its counters
# trail its results), test_predictors' real-footage cascade, test_ingest's
# pacing and freshness, test_tls' stalled client, test_history's long
# resume (wants the server faster than its client), and test_limits, test_order,
# test_slow_client and the benchmarks, which measure. test_ops' LogTest
# parses the server's stderr, where valgrind writes too. test_subscribe's
# reconnect test wants the client to catch up with a restarted server
# within 40 results, and test_cluster's TLS test a NATS TLS handshake
# within nats.c's connect timeout: both too fast for valgrind.
DEFAULT="
test_basic
test_ws_protocol
test_publish
test_auth
test_access
test_untrusted
test_history.ClientResumeTest
test_history.RingTest
test_history.ResumeTest.test_reconnects_get_exactly_what_they_missed
test_history.ResumeTest.test_the_missed_results_come_first_then_live_ones
test_history.ResumeTest.test_resets_say_what_was_lost
test_history.ResumeTest.test_bad_since_is_400
test_history.ResumeTest.test_last_gives_the_newest_result_at_once
test_history.ResumeTest.test_a_resume_slower_than_the_ring_says_overrun
test_deflate.ClientMessages
test_deflate.Options
test_deflate.Negotiation.test_python_websockets_gets_byte_identical_json
test_deflate.Negotiation.test_one_compressed_frame_for_every_client
test_deflate.Negotiation.test_previews_are_never_compressed
test_deflate.Negotiation.test_offers
test_ops.HealthTest
test_ops.DrainTest
test_ops.MetricsTest
test_tls.TlsTest.test_wss_clients_receive_consecutive_results
test_tls.TlsTest.test_sighup_reloads_the_certificate_while_clients_stay
test_tls.TlsTest.test_framecast_client_over_wss_checks_the_certificate
test_tls.TlsTest.test_bad_certificate_files_are_usage_errors
test_tls.TlsTest.test_plain_text_and_broken_handshakes_cost_nothing
test_predictors.ExecTest
test_predictors.PluginTest
test_ingest.IngestTest.test_every_frame_in_order
test_ingest.IngestTest.test_hls_over_http
test_ingest.IngestTest.test_rtsp_reconnects
test_ingest.IngestTest.test_bad_inputs
test_config
test_reload
test_dnn
test_model_kit.KitThroughFramecastTest
test_cluster.TestCluster
test_cluster.TestOutages
test_cluster.TestIngestRestart
test_cluster.TestSecurity.test_bad_nats_options_are_refused_at_start
"
# shellcheck disable=SC2086 # one spec a word
[ $# -gt 0 ] || set -- $DEFAULT

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
