#!/usr/bin/env bash
# The sleep cycle's state machine (issue 5): status probes never keep memd
# awake, real requests do; in HIBERNATE, with an idle client connected,
# memd's threads do not run at all (no context switch, no CPU tick) — with
# transcript watching configured on an idle directory (issue 9), whose
# thread blocks on its inotify descriptor; a line appended to a transcript
# is work in flight that wakes memd, which then goes back to sleep.
source "$(dirname "$0")/lib.sh"

state () { "$MEMCTL" --json status | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['state'])"; }
wait_state () {  # wait_state STATE SECONDS
    for _ in $(seq 1 $(( $2 * 20 ))); do
        [ "$(state)" = "$1" ] && return 0
        sleep 0.05
    done
    return 1
}

W="$T/transcripts"
mkdir -p "$W/project"
for i in 1 2 3; do
    echo "{\"type\":\"user\",\"sessionId\":\"t$i\",\"message\":{\"content\":\"transcript turn $i\"}}"
done > "$W/project/session.jsonl"
start_memd --set lifecycle/drowsy_after_ms=2000 --set lifecycle/sleep_after_ms=1000 \
           --set watch/dirs="$W"
for i in $(seq 1 200); do echo "{\"text\": \"note $i about topic$((i % 7))\", \"session\": \"s$((i % 5))\"}"; done \
    | "$MEMCTL" capture - > /dev/null

# A status probe every 100 ms for 10 s: memd still goes to sleep and hibernates.
seen=""
for _ in $(seq 1 100); do
    seen="$seen $(state)"
    sleep 0.1
done
check "status probes do not keep memd awake (it reached HIBERNATE)" grep -q HIBERNATE <<< "$seen"
# (SLEEP lasts a few ms here, too short to sample; the events below show it.)
check "it went through DROWSY" grep -q DROWSY <<< "$seen"
check "and stays in HIBERNATE under probes" [ "$(state)" = HIBERNATE ]

# A recall every 100 ms for 10 s: memd stays awake the whole time. The
# recalls run on their own, so the sampling of the state cannot slow them.
"$MEMCTL" recall topic3 > /dev/null
check "a recall wakes memd" [ "$(state)" = WAKE ]
( for _ in $(seq 1 100); do "$MEMCTL" recall topic3 > /dev/null; sleep 0.1; done ) &
recalls=$!
seen=""
while kill -0 $recalls 2>/dev/null; do
    seen="$seen $(state)"
    sleep 0.2
done
wait $recalls
if grep -qE 'DROWSY|SLEEP|HIBERNATE' <<< "$seen"; then
    fail "recalls every 100 ms keep memd in WAKE (states seen:$seen)"
else
    pass "recalls every 100 ms keep memd in WAKE"
fi

# A storm of requests is a few coalesced reports, not one message each.
reports () { "$MEMCTL" --json status | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['activity_reports'])"; }
r0=$(reports)
for i in $(seq 1 300); do echo "{\"text\": \"storm $i\"}"; done | "$MEMCTL" capture --batch 1 - > /dev/null
sleep 0.6   # the last coalescing window (a quarter of drowsy_after) ends with its report
r1=$(reports)
check "300 captures made $((r1 - r0)) activity reports (coalesced)" [ $((r1 - r0)) -ge 1 -a $((r1 - r0)) -lt 60 ]
"$MEMCTL" --json status > "$T/status.json"
check "status says why: the last transition was activity" \
      /usr/bin/python3 -c "import json; t = json.load(open('$T/status.json'))['last_transition']; assert t['to'] == 'WAKE' and t['reason'].startswith('activity'), t"

# Events: a subscriber sees the state changes.
listen events --json -n 3 state || fail "memctl events did not subscribe"
check "memd hibernates again" wait_state HIBERNATE 10
done_within "$events_pid" 60 || true
check "memctl events printed the transitions" \
      /usr/bin/python3 -c "
import json; e = [json.loads(l) for l in open('$T/events.out')]
assert [x['to'] for x in e] == ['DROWSY', 'SLEEP', 'HIBERNATE'], e"

# HIBERNATE for 10 s with one idle client connected: no thread runs.
"$MEMCTL" events > /dev/null &   # holds an API and an events connection open
idle_pid=$!
sleep 0.5
check "still hibernating with a client connected" [ "$(state)" = HIBERNATE ]
sleep 0.3   # the status reply above is the last thing memd does
switches () { cat /proc/$MEMD_PID/task/*/status | awk '/ctxt_switches/ { n += $2 } END { print n }'; }
ticks () { awk '{ print $14 + $15 }' /proc/$MEMD_PID/stat; }
s0=$(switches); t0=$(ticks)
sleep 10
s1=$(switches); t1=$(ticks)
check "zero context switches in 10 s of HIBERNATE ($s0 -> $s1)" [ "$s0" = "$s1" ]
check "zero CPU ticks in 10 s of HIBERNATE ($t0 -> $t1)" [ "$t0" = "$t1" ]
kill $idle_pid 2>/dev/null || true
wait $idle_pid 2>/dev/null || true

# The measurement is live: a request makes the counters move.
"$MEMCTL" recall topic1 > /dev/null
check "a request moves the counters" [ "$(switches)" -gt "$s1" ]

# Transcript watching: the idle directory's lines were ingested at start; a
# new line is ingested (work in flight wakes memd), then memd sleeps again.
watched () { "$MEMCTL" --json status | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['watch']['lines'])"; }
check "the watched transcript's 3 lines were ingested" [ "$(watched)" = 3 ]
check "memd hibernates" wait_state HIBERNATE 10
listen wake_event --json -n 1 state || fail "memctl events did not subscribe"
echo '{"type":"user","sessionId":"t4","message":{"content":"a new turn while asleep"}}' >> "$W/project/session.jsonl"
wakes () { [ "$(watched)" = 4 ]; }
for _ in $(seq 1 40); do wakes && break; sleep 0.05; done
check "an appended line is ingested in HIBERNATE" [ "$(watched)" = 4 ]
done_within "$wake_event_pid" 60 || true
check "and woke memd as work in flight" /usr/bin/python3 -c "
import json; e = json.loads(open('$T/wake_event.out').read())
assert e['to'] == 'WAKE' and e['reason'] == 'work in flight', e"
check "memd hibernates again after ingesting" wait_state HIBERNATE 10
check "memd exits cleanly" stop_memd
finish
