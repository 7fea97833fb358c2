#!/usr/bin/env bash
# The sleep cycle's consolidation on a store of a few thousand records
# (issue 5): near-duplicates merged, digests written, tombstones purged,
# recall right afterwards and the store consistent; a recall during SLEEP
# interrupts the pipeline and the next SLEEP resumes from the persisted
# cursor; kill -9 in the middle of consolidation loses nothing.
source "$(dirname "$0")/lib.sh"

SESSIONS=100 PER=30 DUPS=150
# Records: SESSIONS sessions of PER distinct turns; then DUPS near-duplicates
# (same words, other case and punctuation) of turns of session 0..; ids of
# the originals are kept to check what was merged into what.
gen () {
    awk -v S=$SESSIONS -v P=$PER 'BEGIN {
        for (s = 0; s < S; s++) for (p = 0; p < P; p++)
            printf "{\"text\": \"turn %d of session %d: the user mentioned item%d-%d and colour%d while planning trip%d\", \"session\": \"s%d\"}\n", p, s, s, p, (s*P+p)%17, s, s
    }'
}
gen_dups () {
    awk -v D=$DUPS -v P=$PER 'BEGIN {
        for (d = 0; d < D; d++) { s = int(d / P); p = d % P
            printf "{\"text\": \"TURN %d OF SESSION %d -- The user mentioned ITEM%d-%d and colour%d, while planning trip%d!\", \"session\": \"dup\"}\n", p, s, s, p, (s*P+p)%17, s }
    }'
}
status_field () { "$MEMCTL" --json status | /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d' + sys.argv[1]))" "$1"; }
wait_state () {  # wait_state STATE SECONDS
    for _ in $(seq 1 $(( $2 * 20 ))); do
        [ "$(status_field "['state']")" = "$1" ] && return 0
        sleep 0.05
    done
    return 1
}

OPTS="--set lifecycle/drowsy_after_ms=3600000 --set lifecycle/digest_after_ms=0
      --set lifecycle/retention_ms=0 --set lifecycle/step_budget_ms=2 --set lifecycle/summarize_jobs=1"
start_memd $OPTS
gen | "$MEMCTL" capture - > "$T/ids"
gen_dups | "$MEMCTL" capture - > "$T/dup_ids"
check "captured $((SESSIONS * PER)) records" [ "$(wc -l < "$T/ids")" = $((SESSIONS * PER)) ]
check "captured $DUPS near-duplicates as new records" [ "$(sort -u "$T/dup_ids" | wc -l)" = $DUPS ]
# Forget 40 records (ids 1001..1040): they must be purged (retention 0).
"$MEMCTL" forget $(seq 1001 1040) > /dev/null

# --- A recall during SLEEP interrupts; the next SLEEP resumes -----------------
"$MEMCTL" sleep > /dev/null
"$MEMCTL" recall "item3-4" > "$T/r1"
check "a recall during SLEEP is answered" grep -q "item3-4" "$T/r1"
check "the recall woke memd" [ "$(status_field "['state']")" = WAKE ]
phase=$(status_field "['consolidation']['phase']")
cycle=$(status_field "['consolidation']['cycle']")
check "the pipeline stopped mid-cycle (phase $phase)" [ "$phase" != DONE ]
check "a cycle had started" [ "$cycle" = 1 ]
sleep 0.3
check "it stays stopped while awake (phase $(status_field "['consolidation']['phase']"))" \
      [ "$(status_field "['consolidation']['phase']")" = "$phase" ]

# --- kill -9 in the middle of consolidation, several times -------------------
for delay in 0.02 0.08 0.15; do
    "$MEMCTL" sleep > /dev/null
    sleep $delay
    kill9_memd
    start_memd $OPTS
    "$MEMCTL" verify > "$T/verify" || { fail "verify after kill -9 at $delay s:"; cat "$T/verify" >&2; }
done
check "still the first cycle after the kills (resumed, not restarted)" \
      [ "$(status_field "['consolidation']['cycle']")" = 1 ]

# --- The full cycle to HIBERNATE ------------------------------------------------
"$MEMCTL" sleep > /dev/null
check "the cycle completes and memd hibernates" wait_state HIBERNATE 60
"$MEMCTL" --json status > "$T/status.json"
field () { /usr/bin/python3 -c "import json,sys; d=json.load(open('$T/status.json')); print(eval('d' + sys.argv[1]))" "$1"; }
check "one cycle in all: $(field "['consolidation']['cycle']")" [ "$(field "['consolidation']['cycle']")" = 1 ]
check "$DUPS near-duplicates merged: $(field "['consolidation']['duplicates_merged']")" \
      [ "$(field "['consolidation']['duplicates_merged']")" = $DUPS ]
# Every session gets a digest; "dup" is a session too, but all its records were merged.
check "$SESSIONS digests written: $(field "['consolidation']['digests_written']")" \
      [ "$(field "['consolidation']['digests_written']")" = $SESSIONS ]
check "40 forgotten + $DUPS merged purged: $(field "['consolidation']['records_purged']")" \
      [ "$(field "['consolidation']['records_purged']")" = $((40 + DUPS)) ]
check "no tombstones left" [ "$(field "['records']['tombstoned']")" = 0 ]
check "live records: originals - forgotten + digests" \
      [ "$(field "['records']['live']")" = $((SESSIONS * PER - 40 + SESSIONS)) ]
check "the store verifies after the cycle" "$MEMCTL" verify
"$MEMCTL" --json jobs stats > "$T/jobs.json"
check "one summarize job per digest, for an LLM worker" /usr/bin/python3 -c "
import json; k = {x['kind']: x for x in json.load(open('$T/jobs.json'))['kinds']}
assert k['summarize']['queued'] == $SESSIONS, k"
payload=$("$MEMCTL" --json jobs lease summarize | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['jobs'][0]['payload'])")
check "its payload names the digest and its records" /usr/bin/python3 -c "
import json,sys; p = json.loads(sys.argv[1]); assert p['digest_id'] and len(p['record_ids']) == $PER and p['session_id'].startswith('s'), p" "$payload"

# Recall is right afterwards: originals found, merged duplicates and
# forgotten records gone, digests searchable.
"$MEMCTL" --json recall -k 50 "item2-7 colour" > "$T/r2.json"
ids=$(/usr/bin/python3 -c "import json; print(' '.join(str(h['id']) for h in json.load(open('$T/r2.json'))['hits']))")
orig=$(sed -n "$((2 * PER + 7 + 1))p" "$T/ids")
check "the original of a merged duplicate is recalled (#$orig)" grep -qw "$orig" <<< "$ids"
for dup in $(head -5 "$T/dup_ids"); do
    check "merged duplicate #$dup is not recalled" bash -c "! grep -qw $dup <<< '$ids'"
done
check "a forgotten record is gone for good" bash -c "! '$MEMCTL' get 1005 >/dev/null 2>&1"
"$MEMCTL" --json recall --kind summary -k 5 "session 42 trip42" > "$T/r3.json"
check "the digest of session 42 is recalled" /usr/bin/python3 -c "
import json; h = json.load(open('$T/r3.json'))['hits']
assert h and h[0]['kind'].lower() == 'summary' and h[0]['session'] == 's42', h"

# Nothing new: the next SLEEP finds nothing to do and hibernates at once.
"$MEMCTL" wake > /dev/null
"$MEMCTL" sleep > /dev/null
check "an unchanged store hibernates without a new cycle" wait_state HIBERNATE 5
check "still one cycle" [ "$(status_field "['consolidation']['cycle']")" = 1 ]
check "memd exits cleanly" stop_memd
finish
