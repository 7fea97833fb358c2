# Helpers of the fault-injection tests (test_fault_*.sh), on top of lib.sh.

# gen_records TAG N: N JSONL records with distinct texts (random words, so
# no two are near-duplicates), each naming TAG and its line number.
gen_records () {
    awk -v tag="$1" -v n="$2" 'BEGIN { srand(); for (i = 1; i <= n; i++) {
        s = "fault record " tag "-" i; for (k = 0; k < 24; k++) s = s " w" int(rand() * 1000000)
        printf "{\"text\": \"%s\"}\n", s } }'
}

# capture_batch JSONL IDS: captures the file in one batch, appending the ids
# and texts to IDS ("id<TAB>text" per acked record) only when memd acked it.
# Returns memctl's exit code; its stderr is in $T/capture.err.
capture_batch () {
    local rc=0
    "$MEMCTL" capture --batch 10000 - < "$1" > "$T/batch.ids" 2> "$T/capture.err" || rc=$?
    if [ $rc = 0 ]; then
        paste "$T/batch.ids" <(sed -E 's/.*"text": "([^"]*)".*/\1/' "$1") >> "$2"
    fi
    return $rc
}

# acked_present IDS: every acked id is a live record holding its own text.
acked_present () {
    [ -s "$1" ] || return 0
    rm -f "$T"/acked-chunk.* "$T"/acked-json.*
    cut -f1 "$1" | split -l 5000 - "$T/acked-chunk."
    local f ok=0
    for f in "$T"/acked-chunk.*; do
        "$MEMCTL" --timeout 60000 --json get $(cat "$f") > "$T/acked-json.${f##*.}" || ok=1
    done
    /usr/bin/python3 - "$1" "$T"/acked-json.* <<'PY' || ok=1
import json, sys
want = dict(line.rstrip("\n").split("\t", 1) for line in open(sys.argv[1]))
got = {}
for path in sys.argv[2:]:
    for r in json.load(open(path)).get("records", []):
        got[str(r["id"])] = r["text"]
bad = [i for i, text in want.items() if got.get(i) != text]
if bad:
    print(f"{len(bad)} of {len(want)} acked records missing or changed, e.g. {bad[:5]}",
          file=sys.stderr)
    sys.exit(1)
PY
    rm -f "$T"/acked-chunk.* "$T"/acked-json.*
    return $ok
}
