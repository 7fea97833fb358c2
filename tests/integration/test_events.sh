#!/usr/bin/env bash
# The events stream (DESIGN §6, issue 8): `memctl events` shows what other
# clients do as it happens (captures, forgets, jobs), subscribed before they
# act (memd confirms a subscription: memctl says "listening" only then).
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3

start_memd --set jobs/backoff_ms=10 --set jobs/backoff_max_ms=20

check "memctl events refuses an unknown topic (usage, exit 2)" \
      bash -c "'$MEMCTL' events nonsense 2>/dev/null; [ \$? -eq 2 ]"

# Every topic, as JSONL, from another client's captures, forget and jobs.
check "memctl events subscribes (and says so on stderr)" listen all --json -n 10
ids=$(printf '%s\n' '{"text": "events: the first note", "session": "ev"}' \
                    '{"text": "events: the second note", "session": "ev"}' | "$MEMCTL" capture -)
"$MEMCTL" capture "events: the first note" > /dev/null              # a duplicate: no event
first=$(head -1 <<<"$ids"); second=$(tail -1 <<<"$ids")
"$MEMCTL" forget "$first" > /dev/null
job=$("$MEMCTL" jobs enqueue ev-work --payload p)
fence=$("$MEMCTL" --json jobs lease ev-work | $PY -c "import json,sys; print(json.load(sys.stdin)['jobs'][0]['fence'])")
"$MEMCTL" jobs complete "$job" --fence "$fence" > /dev/null
job2=$("$MEMCTL" jobs enqueue ev-fragile --max-attempts 2)
fence=$("$MEMCTL" --json jobs lease ev-fragile | $PY -c "import json,sys; print(json.load(sys.stdin)['jobs'][0]['fence'])")
"$MEMCTL" jobs fail "$job2" --fence "$fence" --error "try again" > /dev/null
sleep 0.1                                                             # past the 10 ms backoff
fence=$("$MEMCTL" --json jobs lease ev-fragile --lease 100 | $PY -c "import json,sys; print(json.load(sys.stdin)['jobs'][0]['fence'])")
# ... and that lease expires: the job is out of attempts, a dead letter.
check "memctl events got all 10 events and stopped (-n 10)" done_within "$all_pid" 10
check "the events are what the other clients did, in order" $PY - "$T/all.out" "$first" "$second" "$job" "$job2" <<'PY'
import json, sys
path, first, second, job, job2 = sys.argv[1], *map(int, sys.argv[2:])
events = [json.loads(line) for line in open(path)]
topics = [e["topic"] for e in events]
want = ["captured", "forgotten"] + ["job"] * 8
assert topics == want, topics
assert events[0]["ids"] == [first, second] and events[0]["agent"] == "default", events[0]
assert events[0]["count"] == 2 and events[0]["at_ms"] > 0, events[0]
assert events[1]["ids"] == [first] and events[1]["count"] == 1, events[1]
jobs = [(e["id"], e["action"], e["state"]) for e in events[2:]]
assert jobs == [(job, "enqueued", "queued"), (job, "leased", "leased"), (job, "completed", "done"),
                (job2, "enqueued", "queued"), (job2, "leased", "leased"),
                (job2, "failed", "failed"), (job2, "leased", "leased"),
                (job2, "dead", "dead")], jobs
failed, dead = events[7], events[9]
assert failed["error"] == "try again" and failed["attempts"] == 1 and failed["next_run_at_ms"] > 0
assert dead["error"].startswith("lease expired") and dead["attempts"] == 2, dead
assert events[3]["fence"] >= 1 and events[3]["worker"].startswith("memctl-"), events[3]
PY

# One topic, printed for people: a capture by another client (agent bob).
check "memctl events captured subscribes" listen cap captured -n 1
id=$("$MEMCTL" capture --agent bob --session s9 "bob's note")
check "memctl events shows bob's capture and stops" done_within "$cap_pid" 10
check "the line names the topic, the agent and the id: $(cat "$T/cap.out")" \
      grep -qE "^[0-9-]+ [0-9:]+  captured  agent bob, 1 record\(s\): #$id\$" "$T/cap.out"

# A topic filters: a job subscriber sees no capture, only the job.
check "memctl events job subscribes" listen jobonly job -n 1
"$MEMCTL" capture "not a job" > /dev/null
jid=$("$MEMCTL" jobs enqueue ev-only --payload x)
check "memctl events job shows only the job" done_within "$jobonly_pid" 10
check "the line says what happened to which job: $(cat "$T/jobonly.out")" \
      grep -qE "  job       #$jid ev-only enqueued \(queued\), due .*, 5 attempts\$" "$T/jobonly.out"

# Events never hold a write up: a subscriber that stopped reading (SIGSTOP,
# once subscribed) does not slow captures down.
check "a subscriber that will stop reading subscribes" listen stopped
kill -STOP "$stopped_pid"
for i in $(seq 1 200); do echo "{\"text\": \"burst $i\"}"; done |
    "$MEMCTL" --timeout 2000 capture --batch 1 - > "$T/burst"
check "200 captures acked while a subscriber is stopped" [ "$(wc -l < "$T/burst")" -eq 200 ]
kill -CONT "$stopped_pid"; kill "$stopped_pid"; wait "$stopped_pid" 2>/dev/null || true

# The C client's events (tests/test_events.c), last: it puts memd to sleep.
check "the C client: captures, every job action, polling, timeouts, confirmation, sleep/wake" \
      "$BIN/test_events" "$MEMD_ENDPOINT" "$MEMD_PID"

check "memd stops cleanly" stop_memd
finish
