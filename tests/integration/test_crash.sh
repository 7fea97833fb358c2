#!/usr/bin/env bash
# kill -9 in the middle of a stream of captures, three times: after each
# restart every id memctl printed (an ack) is present with its own text.
source "$(dirname "$0")/lib.sh"
N=200000
awk -v n=$N 'BEGIN { for (i = 1; i <= n; i++)
    printf "{\"text\": \"crash test line %d with marker crash%d\"}\n", i, i }' > "$T/in.jsonl"

for cycle in 1 2 3; do
    start_memd
    "$MEMCTL" capture --batch 100 - < "$T/in.jsonl" > "$T/ids.$cycle" 2>"$T/memctl.$cycle" &
    CAP=$!
    # Wait until some acks are out, then kill in the middle of the stream.
    for _ in $(seq 1 400); do
        [ "$(wc -l < "$T/ids.$cycle")" -ge $((cycle * 300)) ] && break
        sleep 0.01
    done
    sleep 0.0$((RANDOM % 9 + 1))
    kill9_memd
    rc=0; wait $CAP || rc=$?
    acked=$(wc -l < "$T/ids.$cycle")
    check "cycle $cycle: memctl failed after the kill (rc $rc) having acked $acked" \
        [ "$rc" -ne 0 -a "$acked" -gt 0 -a "$acked" -lt $N ]

    start_memd
    # Every acked id must be there; ids are printed in input order, so line i
    # of the ids is line i of the input (each cycle restarts from line 1, and
    # dedupe gives the lines captured before the same ids again).
    missing=0
    split -l 5000 "$T/ids.$cycle" "$T/chunk.$cycle."
    for f in "$T"/chunk.$cycle.*; do
        "$MEMCTL" get $(cat "$f") > /dev/null 2>"$T/get.err" || { missing=1; cat "$T/get.err" >&2; }
    done
    check "cycle $cycle: all $acked acked ids are present after restart" [ $missing -eq 0 ]
    last=$(tail -1 "$T/ids.$cycle")
    text=$("$MEMCTL" --json get "$last" | sed -E 's/.*"text":"([^"]*)".*/\1/')
    check "cycle $cycle: the last acked id holds line $acked's text" \
        [ "$text" = "crash test line $acked with marker crash$acked" ]
    stop_memd
done
finish
