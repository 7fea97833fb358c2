#!/usr/bin/env bash
# MDB_MAP_FULL (issue 10 item 4): memd starts with a 1 MiB map and takes far
# more than that, with recalls, job traffic and a sleep cycle's consolidation
# running at the same time (growth waits for every open transaction). The
# map grows instead of failing: every capture is acked, nothing acked is
# lost, the store verifies, and a restart starts from the data size.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fault_lib.sh"

OPTS=(--set store/map_size_mb=1 --set lifecycle/digest_after_ms=0 --set lifecycle/step_budget_ms=2)
start_memd "${OPTS[@]}"
ACKED="$T/acked"; : > "$ACKED"

# Readers and other writers while the map grows.
( while :; do "$MEMCTL" recall -k 5 "fault record" > /dev/null 2>&1
              "$MEMCTL" jobs enqueue grow > /dev/null 2>&1; done ) &
LOAD=$!
trap 'kill "$LOAD" 2>/dev/null || true; cleanup' EXIT
failed=0
for b in $(seq 1 12); do
    gen_records "map$b" 1000 | awk -v b=$b '{ sub(/^\{/, "{\"session\": \"s" b "\", "); print }' \
        > "$T/in.jsonl"
    capture_batch "$T/in.jsonl" "$ACKED" || { failed=$((failed + 1)); cat "$T/capture.err" >&2; }
    [ $b = 6 ] && "$MEMCTL" sleep > /dev/null
done
kill "$LOAD" 2>/dev/null; wait "$LOAD" 2>/dev/null || true
check "every capture was acked ($((12 - failed)) of 12 batches)" [ $failed = 0 ]
grown=$(grep -c "store map grown to" "$T/memd.log" || true)
check "the map grew ($grown times), from 1 MiB" [ "$grown" -ge 3 ]
check "no write failed for want of map" bash -c "! grep -q 'write of .* failed' '$T/memd.log'"
map=$("$MEMCTL" --json status | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['map_bytes'])")
check "status shows the grown map ($map bytes)" [ "$map" -gt $((4 << 20)) ]
check "every acked record ($(wc -l < "$ACKED")) is present" acked_present "$ACKED"
check "the store verifies" "$MEMCTL" --timeout 120000 verify

# A restart begins at least at the data size, so nothing needs to grow back.
kill9_memd
start_memd "${OPTS[@]}"
check "after kill -9 every acked record is present" acked_present "$ACKED"
check "the store verifies after the restart" "$MEMCTL" --timeout 120000 verify
check "memd exits cleanly" stop_memd
finish
