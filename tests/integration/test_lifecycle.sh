#!/usr/bin/env bash
# Start-up and shutdown: one memd per store and per endpoint, a stale lock
# is taken over after kill -9, SIGTERM leaves no socket file and acks what it
# took, bad settings are refused with clear messages.
source "$(dirname "$0")/lib.sh"
start_memd
first=$MEMD_PID

rc=0; timeout 10 "$MEMD" --data-dir "$DATA" --endpoint "ipc://$T/run2/memd.sock" >"$T/second.log" 2>&1 || rc=$?
check "a second memd on the same data dir is refused (exit $rc)" [ $rc -ne 0 ]
check "... with a clear message" grep -q "in use by another memd (pid $first)" "$T/second.log"
rc=0; timeout 10 "$MEMD" --data-dir "$T/data2" --run-dir "$RUN" >"$T/third.log" 2>&1 || rc=$?
check "a second memd on the same endpoint is refused (exit $rc)" [ $rc -ne 0 ]
check "... with a clear message" grep -q "endpoint .* is in use by another memd" "$T/third.log"
check "the first memd still serves" "$MEMCTL" ping
check "memctl finds memd through MEMD_RUN_DIR alone" \
    env MEMD_ENDPOINT= MEMD_RUN_DIR="$RUN" "$MEMCTL" --timeout 2000 ping

kill9_memd
check "kill -9 leaves the socket file behind" [ -S "$RUN/memd.sock" ]
start_memd
check "a new memd takes over the stale locks and socket" "$MEMCTL" ping

# SIGTERM during a capture stream: exit 0, every printed id durable.
awk 'BEGIN { for (i = 1; i <= 100000; i++) printf "{\"text\": \"term line %d\"}\n", i }' > "$T/in.jsonl"
"$MEMCTL" capture --batch 50 - < "$T/in.jsonl" > "$T/ids" 2>/dev/null &
CAP=$!
for _ in $(seq 1 300); do [ "$(wc -l < "$T/ids")" -ge 500 ] && break; sleep 0.01; done
rc=0; stop_memd || rc=$?
check "SIGTERM during captures: exit 0 (got $rc)" [ $rc -eq 0 ]
wait $CAP || true
check "no socket file left" [ ! -e "$RUN/memd.sock" ]
check "no endpoint lock file left" [ ! -e "$RUN/memd.sock.lock" ]
check "memd logged its stop" grep -q "memd info: stopped" "$T/memd.log"
start_memd
acked=$(wc -l < "$T/ids")
missing=0
split -l 5000 "$T/ids" "$T/chunk."
for f in "$T"/chunk.*; do "$MEMCTL" get $(cat "$f") >/dev/null 2>&1 || missing=1; done
check "all $acked ids acked before SIGTERM are present" [ $missing -eq 0 -a "$acked" -gt 0 ]
stop_memd

# SIGHUP (a closed terminal) drains and stops like SIGTERM.
start_memd
kill -HUP "$MEMD_PID"
rc=0; wait "$MEMD_PID" || rc=$?
MEMD_PID=""
check "SIGHUP stops memd cleanly (exit $rc)" [ $rc -eq 0 ]
check "... and removes the socket file" [ ! -e "$RUN/memd.sock" ]
check "... logging why" grep -q "SIGHUP: stopping" "$T/memd.log"

# Settings: clear errors, exit 2, nothing started.
long_run="/tmp/$(printf 'x%.0s' $(seq 1 120))"
rc=0; MEMD_ENDPOINT= timeout 10 "$MEMD" --data-dir "$DATA" --run-dir "$long_run" >"$T/long.log" 2>&1 || rc=$?
check "an ipc path over 107 bytes is refused" [ $rc -ne 0 ]
check "... saying why" grep -q "unix sockets allow at most 107" "$T/long.log"
rc=0; timeout 10 "$MEMD" --data-dir "$DATA" --set store/sync=sometimes >"$T/bad.log" 2>&1 || rc=$?
check "a bad setting value exits 2" [ $rc -eq 2 ]
check "... naming the choices" grep -q "full|batch|none" "$T/bad.log"
rc=0; timeout 10 "$MEMD" --set no/such=1 >"$T/bad2.log" 2>&1 || rc=$?
check "an unknown setting exits 2" [ $rc -eq 2 ]
printf 'store\n    sync = batch\n    map_size_mb = 8\n' > "$T/memd.cfg"
start_memd --config "$T/memd.cfg" --set recall/workers=3
check "config file and --set apply" bash -c '"$0" --json status | grep -q "\"recall_workers\":3"' "$MEMCTL"
stop_memd
check "memd --help-config lists every key" bash -c '"$0" --help-config | grep -q "store/sync"' "$MEMD"
finish
