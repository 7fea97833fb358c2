#!/usr/bin/env bash
# Idle means zero: with nothing to run (the queue empty after some work, a
# dead letter kept), the reaper thread is not woken once in 10 s. Its
# context switches are read from /proc/PID/task/*/status (the thread is
# named memd-reaper). A parked lease that times out then shows that the
# counters do move when the reaper works.
source "$(dirname "$0")/lib.sh"
start_memd --set jobs/backoff_ms=100

id=$("$MEMCTL" jobs enqueue idle --payload x)
"$MEMCTL" jobs lease idle >/dev/null
"$MEMCTL" jobs complete "$id" --fence 1 >/dev/null
id=$("$MEMCTL" jobs enqueue idle --payload y)
"$MEMCTL" jobs lease idle >/dev/null
"$MEMCTL" jobs fail "$id" --fence 1 --fatal --error "kept as a dead letter" >/dev/null
"$MEMCTL" jobs lease idle --wait 200 >/dev/null   # a long-poll that timed out

task=""
for t in /proc/$MEMD_PID/task/*; do
    if [ "$(cat "$t/comm" 2>/dev/null)" = "memd-reaper" ]; then task=$t; fi
done
check "the reaper thread is named memd-reaper" [ -n "$task" ]
switches () {
    awk '/^voluntary_ctxt_switches|^nonvoluntary_ctxt_switches/ { n += $2 } END { print n }' "$task/status"
}
sleep 0.5   # let the last replies settle
before=$(switches)
sleep 10
after=$(switches)
check "no reaper wakeups in 10 s idle ($before -> $after)" [ "$before" = "$after" ]

# The measurement is live: a lease that parks and times out wakes the reaper.
"$MEMCTL" jobs lease idle --wait 300 >/dev/null
sleep 0.2
moved=$(switches)
check "the counters move when the reaper works ($after -> $moved)" [ "$moved" -gt "$after" ]
check "memd exits cleanly" stop_memd
finish
