# Shared helpers for integration tests: start a real memd on temporary
# directories, talk to it with memctl over ipc, stop it, assert things.
# Usage: BIN=<build dir> source lib.sh
set -euo pipefail

: "${BIN:?BIN must point at the build directory}"
MEMD="$BIN/memd"
MEMCTL="$BIN/memctl"
T=$(mktemp -d /tmp/memd-test.XXXXXX)
DATA="$T/data"
RUN="$T/run"
export MEMD_ENDPOINT="ipc://$RUN/memd.sock"
MEMD_PID=""
FAILURES=0

cleanup () {
    if [ -n "$MEMD_PID" ] && kill -0 "$MEMD_PID" 2>/dev/null; then
        kill -9 "$MEMD_PID" 2>/dev/null || true
    fi
    rm -rf "$T"
}
trap cleanup EXIT

fail () { echo "FAIL: $*" >&2; FAILURES=$((FAILURES + 1)); }
pass () { echo "ok   $*"; }
check () {  # check DESCRIPTION COMMAND...
    local what=$1; shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}

# Starts memd in the background (extra args are passed on) and waits until
# it answers a ping (10 s at most).
start_memd () {
    "$MEMD" --data-dir "$DATA" --run-dir "$RUN" "$@" >>"$T/memd.log" 2>&1 &
    MEMD_PID=$!
    for _ in $(seq 1 200); do
        if "$MEMCTL" --timeout 200 ping >/dev/null 2>&1; then return 0; fi
        if ! kill -0 "$MEMD_PID" 2>/dev/null; then
            echo "memd died at start:" >&2; cat "$T/memd.log" >&2; return 1
        fi
        sleep 0.05
    done
    echo "memd did not answer within 10 s" >&2; cat "$T/memd.log" >&2; return 1
}

# Stops memd with SIGTERM and returns its exit code.
stop_memd () {
    kill -TERM "$MEMD_PID"
    local rc=0
    wait "$MEMD_PID" || rc=$?
    MEMD_PID=""
    return $rc
}

kill9_memd () {
    kill -9 "$MEMD_PID"
    wait "$MEMD_PID" 2>/dev/null || true
    MEMD_PID=""
}

finish () {
    if grep -q "dangling" "$T/memd.log" 2>/dev/null; then
        fail "czmq reported dangling sockets at exit:"; grep dangling "$T/memd.log" >&2
    fi
    if [ "$FAILURES" -gt 0 ]; then
        echo "--- memd log ---" >&2; tail -30 "$T/memd.log" >&2
        echo "$FAILURES check(s) failed" >&2
        exit 1
    fi
    echo "all checks passed"
}
