#!/usr/bin/env bash
# 10,000 records captured from JSONL are recalled by their distinctive
# words; after a restart they still are (durable); capturing the same lines
# again returns the same ids (dedupe) and adds nothing.
source "$(dirname "$0")/lib.sh"
N=10000
start_memd

awk -v n=$N 'BEGIN { srand(7); split("river mountain coffee garden harbor violin winter orchard", w, " ");
    for (i = 1; i <= n; i++)
        printf "{\"text\": \"note %d about the %s and the %s, marker uniq%d\", \"session\": \"s%d\", \"tags\": [\"t%d\"]}\n",
            i, w[1 + int(rand() * 8)], w[1 + int(rand() * 8)], i, int(i / 100), i % 3 }' > "$T/in.jsonl"

"$MEMCTL" capture --batch 1000 - < "$T/in.jsonl" > "$T/ids.txt"
check "capture printed one id per line" [ "$(wc -l < "$T/ids.txt")" -eq $N ]
check "ids are distinct" [ "$(sort -u "$T/ids.txt" | wc -l)" -eq $N ]
live=$("$MEMCTL" --json status | sed -E 's/.*"live":([0-9]+).*/\1/')
check "status counts $N live records (saw $live)" [ "$live" -eq $N ]

# Recall a sample by their distinctive word: the top hit is that record.
recall_sample () {
    local bad=0
    for i in $(seq 1 97 $N); do
        want=$(sed -n "${i}p" "$T/ids.txt")
        got=$("$MEMCTL" --json recall -k 3 "uniq$i" | sed -E 's/^\{"hits":\[\{"id":([0-9]+).*/\1/')
        if [ "$got" != "$want" ]; then
            echo "  uniq$i: expected id $want, got '$got'" >&2; bad=$((bad + 1))
        fi
    done
    [ $bad -eq 0 ]
}
check "recall finds sampled records by their marker" recall_sample
check "filters: session s3 + tag t1 only" bash -c '
    out=$("$0" --json recall -k 50 --session s3 --tag t1 "river mountain coffee garden harbor violin winter orchard")
    [ -n "$out" ] && ! echo "$out" | grep -q "\"session\":\"s[^3]" && ! echo "$out" | grep -q "\"tags\":\[\"t[02]\"\]" \
        && echo "$out" | grep -q "\"session\":\"s3\""' "$MEMCTL"

check "SIGTERM stops memd with exit 0" stop_memd
start_memd
check "recall after restart (durable)" recall_sample
"$MEMCTL" capture --batch 1000 - < "$T/in.jsonl" > "$T/ids2.txt"
check "capturing the same lines again returns the same ids" cmp -s "$T/ids.txt" "$T/ids2.txt"
live=$("$MEMCTL" --json status | sed -E 's/.*"live":([0-9]+).*/\1/')
check "dedupe added nothing (live $live)" [ "$live" -eq $N ]
stop_memd
finish
