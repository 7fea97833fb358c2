#!/usr/bin/env bash
# Hybrid recall against a real memd (tests/test_recall.c): embeddings memd
# refuses and how, ranking per signal on a hand-checked corpus, Context
# budgets, recall statistics written after the recalls; then the same
# through memctl, and the store still verifies.
source "$(dirname "$0")/lib.sh"
start_memd
check "recall suite" "$BIN/test_recall" "$MEMD_ENDPOINT"
check "memctl capture takes embeddings of the agent's dimension" bash -c '
    printf "%s\n" "{\"text\": \"one\", \"embedding\": [1, 0]}" "{\"text\": \"two\", \"embedding\": [0, 1]}" \
        | "$0" capture --agent vec - >/dev/null' "$MEMCTL"
check "memctl refuses another dimension with the reason" bash -c '
    out=$(echo "{\"text\": \"three\", \"embedding\": [1, 0, 0]}" | "$0" capture --agent vec - 2>&1)
    [ $? -eq 1 ] && echo "$out" | grep -q "embedding has 3 dimensions, but agent vec uses 2"' "$MEMCTL"
check "memctl recall --embedding ranks by vector" bash -c '
    "$0" --json recall --agent vec --embedding "[0.1, 0.9]" | grep -q "^{\"hits\":\[{\"id\":[0-9]*,\"score\":[0-9.e-]*,\"text\":\"two\""' "$MEMCTL"
check "memctl get shows the embedding" bash -c '
    id=$("$0" --json recall --agent vec --embedding "[1, 0]" -k 1 | sed -E "s/.*\"id\":([0-9]+).*/\1/")
    "$0" --json get --agent vec "$id" | grep -q "\"embedding\":\[1\.0,0\.0\]"' "$MEMCTL"
check "memctl context stays within --budget" bash -c '
    for b in 10 25 60 200; do
        n=$("$0" context --agent context --budget $b garden | wc -c)
        [ "$n" -le $((b * 4)) ] || { echo "budget $b: $n bytes" >&2; exit 1; }
    done' "$MEMCTL"
check "memctl recall --explain shows the fused parts" bash -c '
    "$0" recall --agent ranking --explain storage | grep -q "rrf .* lexical #1 (bm25"' "$MEMCTL"
check "the store verifies" "$MEMCTL" verify
check "memd exits cleanly" stop_memd
finish
