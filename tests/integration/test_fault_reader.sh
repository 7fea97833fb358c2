#!/usr/bin/env bash
# A stale reader (issue 10 item 4): another process holding a read
# transaction on memd's store is killed -9, leaving its slot in LMDB's reader
# table (and its snapshot pinned, so freed pages could never be reused).
# The sleep cycle's MAINTAIN phase clears it while memd runs, and memd's
# start clears one left while it was down.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fault_lib.sh"

# The pids in the store's reader table (mdb_stat -r: a header, then
# "pid thread txnid" per slot in use).
readers () { mdb_stat -r "$DATA" | awk 'NR > 2 && $1 ~ /^[0-9]+$/ { print $1 }'; }
# Starts fault_reader on the store (output in $T/reader.N) and sets READER
# to its pid once it holds a read transaction.
READERS=0
reader_start () {
    READERS=$((READERS + 1))
    local out="$T/reader.$READERS"
    "$BIN/fault_reader" "$DATA" > "$out" 2>&1 &
    READER=$!
    for _ in $(seq 1 100); do grep -qs reading "$out" && break; sleep 0.05; done
    grep -qs reading "$out" || { cat "$out" >&2; return 1; }
}
# A reader killed -9 in the middle of its transaction: a stale slot.
stale_reader () {
    reader_start
    kill -9 "$READER"; wait "$READER" 2>/dev/null || true
}
status_field () { "$MEMCTL" --json status | /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d' + sys.argv[1]))" "$1"; }

OPTS=(--set lifecycle/drowsy_after_ms=3600000 --set lifecycle/step_budget_ms=5)
start_memd "${OPTS[@]}"
gen_records first 300 > "$T/in.jsonl"
capture_batch "$T/in.jsonl" "$T/acked"

# While memd runs: the sleep cycle's MAINTAIN phase clears the slot.
stale_reader; pid=$READER
check "the killed reader ($pid) left its slot behind" grep -qx "$pid" <(readers)
"$MEMCTL" sleep > /dev/null
for _ in $(seq 1 200); do [ "$(status_field "['state']")" = HIBERNATE ] && break; sleep 0.05; done
check "the sleep cycle ran to the end" [ "$(status_field "['state']")" = HIBERNATE ]
check "MAINTAIN cleared the stale slot" bash -c "! grep -qx '$pid' <(mdb_stat -r '$DATA' | awk 'NR > 2 { print \$1 }')"
check "and logged it" grep -q "consolidation: cleared 1 stale reader slot" "$T/memd.log"
check "the store serves writes" capture_batch "$T/in.jsonl" "$T/acked"

# While memd is down. LMDB rebuilds the reader table when the first process
# opens the store, so a stale slot outlives memd only while another process
# (a backup, a reader) has it open: keep one reader alive throughout.
reader_start; alive=$READER
trap 'kill -9 "$alive" 2>/dev/null || true; cleanup' EXIT
stale_reader; pid=$READER
kill9_memd
check "a stale slot is left while memd is down" grep -qx "$pid" <(readers)
start_memd "${OPTS[@]}"
check "memd's start cleared it" bash -c "! grep -qx '$pid' <(mdb_stat -r '$DATA' | awk 'NR > 2 { print \$1 }')"
check "and logged it" grep -q "cleared 1 stale reader slot(s) left by dead processes" "$T/memd.log"
check "the live reader keeps its slot" grep -qx "$alive" <(readers)
kill -9 "$alive"; wait "$alive" 2>/dev/null || true
gen_records second 300 > "$T/in2.jsonl"
check "memd takes writes" capture_batch "$T/in2.jsonl" "$T/acked"
check "every acked record is present" acked_present "$T/acked"
check "the store verifies" "$MEMCTL" --timeout 120000 verify
check "memd exits cleanly" stop_memd
finish
