#!/usr/bin/env bash
# Data portability and safety (issue 10 item 2): export -> import into an
# empty store -> export gives identical records; importing twice adds
# nothing; an import into a store with records of its own remaps ids (and
# merged_into); a backup taken while captures stream in opens and verifies;
# verify (offline, on a copy) finds a record whose postings were deleted
# behind its back and exits non-zero.
source "$(dirname "$0")/lib.sh"

status_field () { "$MEMCTL" --json status | /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d' + sys.argv[1]))" "$1"; }
OPTS="--set store/sync=none --set lifecycle/drowsy_after_ms=3600000
      --set lifecycle/digest_after_ms=0 --set lifecycle/retention_ms=3600000"

# --- A store with every kind of field: agents, sessions, tags, metadata,
#     kinds, times, forgotten records, near-duplicates merged and digests
#     written by the sleep cycle.
start_memd $OPTS
awk 'BEGIN { for (i = 1; i <= 300; i++)
    printf "{\"text\": \"note %d about topic%d and colour%d\", \"agent\": \"a%d\", \"session\": \"s%d\", \"kind\": \"%s\", \"tags\": [\"t%d\"], \"metadata\": {\"n\": \"%d\"}, \"ts_ms\": %d}\n",
        i, i % 7, i % 5, i % 3, i % 4, (i % 2 ? "fact" : "note"), i % 6, i, 1700000000000 + i }' \
    | "$MEMCTL" capture - > "$T/ids"
"$MEMCTL" capture --agent a1 --session s9 "the quick brown fox jumps over the lazy dog today" >/dev/null
"$MEMCTL" capture --agent a1 --session s9 "The quick brown fox jumps over the lazy dog today!" >/dev/null
"$MEMCTL" capture --agent a2 "zebrafish" > "$T/zebra_id"
"$MEMCTL" forget --agent a1 $(sed -n '1p;4p;7p' "$T/ids") >/dev/null
"$MEMCTL" sleep >/dev/null
# The phase reads DONE before the first step too: wait for a finished cycle.
for _ in $(seq 1 600); do
    [ "$(status_field "['consolidation']['cycle_done_ms']")" -gt 0 ] && break
    sleep 0.1
done
check "the sleep cycle merged a near-duplicate" \
    [ "$(status_field "['consolidation']['duplicates_merged']")" -ge 1 ]
"$MEMCTL" wake >/dev/null
"$MEMCTL" export -o "$T/e1.jsonl" 2>"$T/export.err"
check "export wrote every record ($(wc -l < "$T/e1.jsonl") lines)" \
    [ "$(wc -l < "$T/e1.jsonl")" -eq "$(( $(status_field "['records']['live']") + $(status_field "['records']['tombstoned']") ))" ]
check "export reported progress on stderr" grep -q "export: .* records written" "$T/export.err"
check "the export holds forgotten records" grep -q '"tombstoned_at_ms":[1-9]' "$T/e1.jsonl"
check "the export holds merged records" grep -q '"merged_into":[1-9]' "$T/e1.jsonl"
check "the export holds digests" grep -q '"kind":"summary"' "$T/e1.jsonl"
check "the export file is private" [ "$(stat -c %a "$T/e1.jsonl")" = 600 ]
"$MEMCTL" export --agent a2 -q > "$T/a2.jsonl"
check "export --agent holds only that agent" \
    [ "$(grep -c '"agent":"a2"' "$T/a2.jsonl")" -eq "$(wc -l < "$T/a2.jsonl")" -a -s "$T/a2.jsonl" ]
stop_memd

# --- export -> import --keep-ids into an empty store -> export: identical ------
DATA_A=$DATA
DATA="$T/data-b"
start_memd $OPTS
"$MEMCTL" import --keep-ids -q "$T/e1.jsonl" > "$T/import1.out"
check "import --keep-ids added every record ($(cat "$T/import1.out"))" \
    grep -q "imported $(wc -l < "$T/e1.jsonl") records: $(wc -l < "$T/e1.jsonl") added" "$T/import1.out"
"$MEMCTL" export -q > "$T/e2.jsonl"
check "the second export is identical to the first" cmp "$T/e1.jsonl" "$T/e2.jsonl"
"$MEMCTL" import -q "$T/e1.jsonl" > "$T/import2.out"
check "importing the same file again adds nothing ($(cat "$T/import2.out"))" \
    grep -q " 0 added, $(wc -l < "$T/e1.jsonl") already known" "$T/import2.out"
"$MEMCTL" export -q > "$T/e3.jsonl"
check "and the store is unchanged" cmp "$T/e1.jsonl" "$T/e3.jsonl"
rc=0; "$MEMCTL" import --keep-ids -q "$T/e1.jsonl" >/dev/null 2>&1 || rc=$?
check "--keep-ids into a store with records is refused (exit $rc)" [ $rc -eq 2 ]
check "recall works on the imported store" \
    sh -c "'$MEMCTL' recall --agent a2 zebrafish | grep -q zebrafish"
check "the imported store verifies" sh -c "'$MEMCTL' verify >/dev/null"
stop_memd

# --- import into a store with records of its own: new ids, mapped -------------
DATA="$T/data-c"
start_memd $OPTS
"$MEMCTL" capture --agent a9 "a record of this store" >/dev/null
"$MEMCTL" import "$T/e1.jsonl" > "$T/map.out" 2>/dev/null
N=$(wc -l < "$T/e1.jsonl")
check "the id map has one line per record" [ "$(grep -c -E '^[0-9]+ [0-9]+ added$' "$T/map.out")" -eq "$N" ]
check "ids moved up by the one record already there" grep -q "^1 2 added$" "$T/map.out"
"$MEMCTL" export -q > "$T/c.jsonl"
check "every record arrived" [ "$(wc -l < "$T/c.jsonl")" -eq $((N + 1)) ]
set -- $(/usr/bin/python3 -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["merged_into"]:
        print(r["id"], r["merged_into"]); break
else:
    print(0, 0)' "$T/e1.jsonl")
new_rec=$(awk -v o="$1" '$1 == o { print $2 }' "$T/map.out")
new_target=$(awk -v o="$2" '$1 == o { print $2 }' "$T/map.out")
check "merged_into follows the remapped ids ($1->$2 became $new_rec->$new_target)" \
    grep -q "\"id\":$new_rec,.*\"merged_into\":$new_target," "$T/c.jsonl"
"$MEMCTL" import -q "$T/e1.jsonl" > "$T/import3.out"
check "a second import adds nothing here either" grep -q " 0 added" "$T/import3.out"
check "the store verifies" sh -c "'$MEMCTL' verify >/dev/null"
stop_memd

# --- backup under load ------------------------------------------------------
DATA=$DATA_A
start_memd $OPTS
awk 'BEGIN { for (i = 1; i <= 30000; i++) printf "{\"text\": \"load line %d of the backup test\"}\n", i }' \
    > "$T/load.jsonl"
"$MEMCTL" capture --batch 50 - < "$T/load.jsonl" > "$T/load.ids" 2>&1 &
LOAD=$!
for _ in $(seq 1 200); do
    [ "$(wc -l < "$T/load.ids")" -ge 2000 ] && break
    sleep 0.01
done
"$MEMCTL" backup "$T/backup" > "$T/backup.out"; rc=$?
during=$(wc -l < "$T/load.ids")
check "backup while captures stream in succeeds ($(cat "$T/backup.out"))" \
    [ $rc -eq 0 ] && grep -q "verified" "$T/backup.out"
check "captures were still streaming after the backup ($during acked then)" \
    kill -0 $LOAD
wait $LOAD
check "the load finished" [ "$(wc -l < "$T/load.ids")" -eq 30000 ]
check "the backup directory and copy are private" \
    [ "$(stat -c %a "$T/backup")" = 700 -a "$(stat -c %a "$T/backup/data.mdb")" = 600 ]
rc=0; "$MEMCTL" backup "$T/backup" >/dev/null 2>&1 || rc=$?
check "a second backup into the same directory is refused (exit $rc)" [ $rc -eq 1 ]
"$MEMCTL" verify --data-dir "$T/backup" > "$T/verify.out"
check "the copy verifies offline ($(cat "$T/verify.out"))" grep -q "^consistent" "$T/verify.out"
check "offline verify beside the live memd works too" \
    sh -c "'$MEMCTL' verify --data-dir '$DATA_A' | grep -q ^consistent"
stop_memd
check "no lock file was left in the backup" [ ! -e "$T/backup/lock.mdb" ]
# The copy serves: a memd on it recalls.
DATA="$T/backup"
start_memd $OPTS
check "a memd on the copy recalls" \
    sh -c "'$MEMCTL' recall --agent a2 zebrafish | grep -q zebrafish"
stop_memd

# --- verify finds postings deleted behind a record's back --------------------
# A copy of the backup, damaged with plain LMDB calls (tests/test_corrupt.c):
# every postings entry of the term "zebrafish", the whole text of a record.
mkdir -m 700 "$T/broken"
cp "$T/backup/data.mdb" "$T/broken/"
check "the damage deletes one postings entry" \
    [ "$("$BIN/test_corrupt" "$T/broken" zebrafish)" = 1 ]
rc=0; "$MEMD" --verify --data-dir "$T/broken" > "$T/broken.out" 2>&1 || rc=$?
check "memd --verify finds the record without postings and exits 1 (exit $rc)" \
    [ $rc -eq 1 ] && grep -q "live record $(cat "$T/zebra_id") of 1 terms has no postings" "$T/broken.out"
rc=0; "$MEMCTL" --json verify --data-dir "$T/broken" > "$T/broken.json" || rc=$?
check "memctl verify --data-dir too (exit $rc)" \
    [ $rc -eq 1 ] && grep -q '"ok":false' "$T/broken.json"
finish
