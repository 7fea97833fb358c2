#!/usr/bin/env bash
# kill -9 with jobs queued, leased, awaiting retry and delayed: after the
# restart every deadline fires at its time (the reaper rebuilds them from
# the store), nothing is lost, and the job leased before the crash goes to a
# new worker only after its lease expired (its old fence is refused).
source "$(dirname "$0")/lib.sh"
OPTS=(--set jobs/backoff_ms=1000 --set jobs/backoff_max_ms=1000)
start_memd "${OPTS[@]}"
check "jobs set up before the crash" "$BIN/test_jobs" "$MEMD_ENDPOINT" restart-before "$T/deadlines"
kill9_memd
start_memd "${OPTS[@]}"
check "memd says what it found at boot" grep -q "reaper: 3 job(s) waiting, 1 leased" "$T/memd.log"
check "after the restart each deadline fires once, at its time" \
    "$BIN/test_jobs" "$MEMD_ENDPOINT" restart-after "$T/deadlines"
check "memd exits cleanly" stop_memd
finish
