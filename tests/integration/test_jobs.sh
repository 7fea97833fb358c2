#!/usr/bin/env bash
# The job queue through memctl and the C client: enqueue → lease → complete,
# retries with backoff, dead letters (fatal, out of attempts), retry and
# purge, dedupe, status, long-poll, fencing, concurrency limits,
# dependencies, bad input, and the example worker.
source "$(dirname "$0")/lib.sh"
start_memd --set jobs/limits=llm=1 --set jobs/backoff_ms=100 --set jobs/backoff_max_ms=400
J="$MEMCTL --json"
# field NAME: the value of "NAME" in the JSON on stdin (first match).
field () { sed -E "s/.*\"$1\":(\"[^\"]*\"|[0-9-]+|true|false).*/\1/" | tr -d '"'; }
# contains TEXT PATTERN…: every (grep -E) pattern occurs in TEXT.
contains () { local text=$1; shift; for p in "$@"; do grep -qE -- "$p" <<<"$text" || return 1; done; }
empty () { [ -z "$1" ]; }

# Enqueue → lease → complete.
id=$($J jobs enqueue embed --payload "record 7" | field id)
check "enqueue prints an id ($id)" [ "$id" -ge 1 ]
lease=$($J jobs lease embed)
check "lease returns the job with its payload" contains "$lease" "\"id\":$id," \
    '"payload":"record 7"'
check "... leased, attempt 1, fence 1" contains "$lease" '"state":"leased","fence":1,' \
    '"attempts":1,'
check "complete" "$MEMCTL" jobs complete "$id" --fence 1
check "the job is done" contains "$($J jobs list --state done)" "\"id\":$id,"
check "nothing left to lease" empty "$("$MEMCTL" jobs lease embed)"

# Human lease output: ID FENCE PAYLOAD.
id=$("$MEMCTL" jobs enqueue embed --payload "one line")
check "human lease prints 'ID FENCE PAYLOAD'" [ "$("$MEMCTL" jobs lease embed)" = "$id 1 one line" ]
"$MEMCTL" jobs complete "$id" --fence 1 >/dev/null

# A retryable failure is retried after the backoff (jobs/backoff_ms=100: the
# first retry 50-100 ms after the failure), not before: checked on memd's own
# clock, so a slow machine cannot make it flaky.
id=$($J jobs enqueue flaky --payload x --max-attempts 2 | field id)
"$MEMCTL" jobs lease flaky >/dev/null
check "fail (retryable)" "$MEMCTL" jobs fail "$id" --fence 1 --error "timeout talking to the model"
failed=$($J jobs list --state failed)
check "the job awaits its retry" contains "$failed" 'timeout talking to the model'
due=$(field next_run_at_ms <<<"$failed")
at=$(field updated_at_ms <<<"$failed")
check "its retry is 50-100 ms after the failure ($((due - at)) ms)" \
    [ $((due - at)) -ge 50 -a $((due - at)) -le 100 ]
lease=$($J jobs lease flaky --wait 5000)
check "leased again (attempt 2, fence 2)" contains "$lease" '"fence":2,' '"attempts":2,'
check "... not before its retry time" [ "$(field updated_at_ms <<<"$lease")" -ge "$due" ]
# Out of attempts: a dead letter.
"$MEMCTL" jobs fail "$id" --fence 2 --error "still failing" >/dev/null
check "out of attempts: dead" contains "$($J jobs list --state dead)" "\"id\":$id,"
# Fatal: dead at once.
id2=$($J jobs enqueue parse --payload "not json" | field id)
"$MEMCTL" jobs lease parse >/dev/null
"$MEMCTL" jobs fail "$id2" --fence 1 --fatal --error "bad input" >/dev/null
check "fatal: dead at once (attempt 1 of 5)" contains "$($J jobs list --state dead --kind parse)" \
    '"attempts":1,"max_attempts":5,'
check "stats count the dead letters" contains "$($J jobs stats)" '^\{"queued":0,"leased":0,"dead":2,'
# Retry one dead letter, then purge the rest.
check "retry a dead letter" [ "$($J jobs retry "$id2" | field retried)" = 1 ]
lease=$($J jobs lease parse)
check "the retried job runs again (fence 2, attempts reset)" contains "$lease" '"fence":2,' \
    '"attempts":1,'
"$MEMCTL" jobs complete "$id2" --fence 2 >/dev/null
check "purge the dead letters" [ "$($J jobs purge | field purged)" = 1 ]
check "no dead letters left" [ "$($J jobs stats | field dead)" = 0 ]
rc=0; "$MEMCTL" jobs retry "$id" >/dev/null 2>&1 || rc=$?
check "retry of a purged job fails (exit $rc)" [ $rc -eq 1 ]

# Dedupe: an unfinished job with the same key is not queued twice.
a=$($J jobs enqueue summarise --payload s1 --dedupe session-9 | field id)
b=$($J jobs enqueue summarise --payload s1-again --dedupe session-9)
check "the same dedupe key gives the same id" contains "$b" "\"id\":$a,\"duplicate\":true"
check "... and one job" contains "$($J jobs stats)" '"kind":"summarise","queued":1,'
"$MEMCTL" jobs lease summarise >/dev/null
c=$($J jobs enqueue summarise --dedupe session-9 | field id)
check "a leased job still holds its key" [ "$c" = "$a" ]
"$MEMCTL" jobs complete "$a" --fence 1 >/dev/null
c=$($J jobs enqueue summarise --dedupe session-9 | field id)
check "once done, the key queues a new job" [ "$c" != "$a" ]

# Status carries the queue: {"queued","leased","dead"} and per kind.
status=$($J status)
check "status has jobs.queued/leased/dead" contains "$status" \
    '"jobs":\{"queued":[0-9]+,"leased":[0-9]+,"dead":[0-9]+,'
check "status has per-kind detail" contains "$status" '"kinds":\[\{"kind":'
check "human status has a jobs line" contains "$("$MEMCTL" status)" '^jobs .*queued.*leased.*dead'

# Delay: not before its time.
$J jobs enqueue later --delay 60000 >/dev/null
check "a delayed job is not leasable yet" empty "$("$MEMCTL" jobs lease later)"
check "stats show when it is due" contains "$($J jobs stats)" \
    '"kind":"later","queued":1,[^}]*"next_due_at_ms":[1-9]'

# Stale fence, unknown id and bad kinds through memctl: clear errors, exit 1/2.
id=$($J jobs enqueue fenced | field id)
"$MEMCTL" jobs lease fenced >/dev/null
check "stale fence: PERMISSION_DENIED" contains "$($J jobs complete "$id" --fence 5)" \
    '"code":"PERMISSION_DENIED".*stale fence'
rc=0; "$MEMCTL" jobs complete 99999 --fence 1 2>/dev/null || rc=$?
check "unknown job: exit 1" [ $rc -eq 1 ]
rc=0; "$MEMCTL" jobs enqueue "no spaces" 2>"$T/err" || rc=$?
check "bad kind: exit 1 with a message" contains "$rc $(cat "$T/err")" '^1 .*INVALID_ARGUMENT'
rc=0; "$MEMCTL" jobs complete "$id" 2>/dev/null || rc=$?
check "complete without --fence is a usage error" [ $rc -eq 2 ]

# The C scenarios.
for scenario in longpoll fencing concurrency deps badinput; do
    check "scenario $scenario" "$BIN/test_jobs" "$MEMD_ENDPOINT" $scenario
done

# The example worker: runs a command per job, completes or fails it.
for i in 1 2 3; do "$MEMCTL" jobs enqueue shell --payload "payload $i" >/dev/null; done
"$MEMCTL" jobs enqueue shell --payload "fatal" >/dev/null
timeout 60 "$BIN/memd_worker" --count 4 --wait 5000 \
    --exec 'p=$(cat); [ "$p" = fatal ] && exit 65; echo "$p" > "'"$T"'/out.$MEMD_JOB_ID"' shell
check "the worker ran the three jobs" [ "$(cat "$T"/out.* | sort | tr '\n' ,)" = \
    "payload 1,payload 2,payload 3," ]
check "... completed them, and made the fatal one a dead letter" contains "$($J jobs stats)" \
    '"kind":"shell","queued":0,"leased":0,"dead":1,"retrying":0,"blocked":0,"done":3,'

check "memd still serves" "$MEMCTL" ping
check "memd exits cleanly" stop_memd
finish
