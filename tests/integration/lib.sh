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
# MEMD_WRAP: a command a script puts before memd (e.g. prlimit --nofile=N:N).
# MEMD_VALGRIND=1 (make check-valgrind) runs every memd under valgrind's
# memcheck, each with its own log; finish fails the test on any report.
MEMD_WRAP=()
MEMD_VG=()
MEMD_VG_ARGS=()
MEMD_START_S=10
if [ "${MEMD_VALGRIND:-0}" = 1 ]; then
    MEMD_VG=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect,possible
             --show-leak-kinds=definite,indirect,possible --num-callers=30 --track-fds=no
             "--log-file=$T/valgrind.%p.log")
    [ -f "$(dirname "${BASH_SOURCE[0]}")/valgrind.supp" ] &&
        MEMD_VG+=("--suppressions=$(dirname "${BASH_SOURCE[0]}")/valgrind.supp")
    MEMD_START_S=60
    #  PCRE2's JIT reads past the end of a text by design (16-byte loads);
    #  memcheck reports each. The interpreter matches the same.
    MEMD_VG_ARGS=(--set redact/jit=0)
fi

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
    "${MEMD_WRAP[@]}" "${MEMD_VG[@]}" "$MEMD" --data-dir "$DATA" --run-dir "$RUN" "$@" "${MEMD_VG_ARGS[@]}" \
        >>"$T/memd.log" 2>&1 &
    MEMD_PID=$!
    for _ in $(seq 1 $((MEMD_START_S * 20))); do
        if "$MEMCTL" --timeout 200 ping >/dev/null 2>&1; then return 0; fi
        if ! kill -0 "$MEMD_PID" 2>/dev/null; then
            echo "memd died at start:" >&2; cat "$T/memd.log" >&2; return 1
        fi
        sleep 0.05
    done
    echo "memd did not answer within $MEMD_START_S s" >&2; cat "$T/memd.log" >&2; return 1
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

# listen NAME ARGS...: memctl events ARGS in the background ($NAME_pid; output
# in $T/NAME.out), back once memd has confirmed the subscription (memctl says
# "listening" only then; 10 s at most).
listen () {
    local name=$1; shift
    "$MEMCTL" events "$@" > "$T/$name.out" 2> "$T/$name.err" &
    eval "${name}_pid=$!"
    for _ in $(seq 1 200); do
        grep -q "listening" "$T/$name.err" && return 0
        sleep 0.05
    done
    echo "memctl events did not subscribe: $(cat "$T/$name.err")" >&2; return 1
}
# done_within PID SECONDS: the process ends by itself in time (status 0).
done_within () {
    for _ in $(seq 1 $(( $2 * 20 ))); do
        kill -0 "$1" 2>/dev/null || { wait "$1"; return $?; }
        sleep 0.05
    done
    kill "$1" 2>/dev/null; return 1
}

# Fails the test for every non-empty valgrind log (-q: only reports are written).
valgrind_check () {
    local log runs=0 bad=0
    for log in "$T"/valgrind.*.log; do
        [ -e "$log" ] || continue
        runs=$((runs + 1))
        [ -s "$log" ] || continue
        bad=$((bad + 1))
        fail "valgrind reported problems in memd ($(basename "$log")):"; cat "$log" >&2
    done
    echo "valgrind: $runs memd run(s) checked, $bad with reports"
    [ $runs -gt 0 ] || fail "MEMD_VALGRIND=1 but no memd ran under valgrind"
}

finish () {
    [ "${MEMD_VALGRIND:-0}" = 1 ] && valgrind_check
    if grep -q "dangling" "$T/memd.log" 2>/dev/null; then
        fail "czmq reported dangling sockets at exit:"; grep dangling "$T/memd.log" >&2
    fi
    if [ "$FAILURES" -gt 0 ]; then
        echo "--- memd log ---" >&2; tail -n 30 "$T"/memd*.log >&2
        echo "$FAILURES check(s) failed" >&2
        exit 1
    fi
    echo "all checks passed"
}
