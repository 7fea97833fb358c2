#!/usr/bin/env bash
# Transcript watching (issue 9): memd ingests JSONL transcripts as they grow,
# through one inotify descriptor whatever the number of files; appended lines
# reach recall within a second; a restart (clean or kill -9) resumes at the
# committed offsets with nothing skipped and nothing read twice; partial last
# lines wait for their newline; truncated and rotated files are read again.
source "$(dirname "$0")/lib.sh"

W="$T/transcripts"          # the watched directory
SRC="$T/src/shop"           # the project the transcripts name (cwd)
mkdir -p "$W" "$SRC/.git"
N_PROJECTS=20
PER_PROJECT=100             # 2,000 files

# line SESSION TEXT: one Claude Code user turn.
line () {
    printf '{"type":"user","sessionId":"%s","cwd":"%s/api","timestamp":"2025-06-26T10:11:12.345Z","uuid":"u-%s","message":{"role":"user","content":"%s"}}\n' \
        "$1" "$SRC" "$RANDOM" "$2"
}
# An assistant turn with a tool call only (no text: a line without a record).
tool_line () {
    printf '{"type":"assistant","sessionId":"%s","message":{"id":"m","role":"assistant","content":[{"type":"tool_use","name":"Bash","input":{}}]}}\n' "$1"
}
wstat () { "$MEMCTL" --json status | jq -r ".watch.$1"; }
live () { "$MEMCTL" --json status | jq -r .records.live; }
fds () { ls "/proc/$MEMD_PID/fd" | wc -l; }
inotify_fds () { ls -l "/proc/$MEMD_PID/fd" | grep -c 'anon_inode:inotify' || true; }
wait_for () {  # wait_for SECONDS COMMAND...: until the command succeeds
    local limit=$(( $1 * 20 )); shift
    for _ in $(seq 1 $limit); do "$@" && return 0; sleep 0.05; done
    return 1
}
lines_at_least () { [ "$(wstat lines)" -ge "$1" ] && [ "$(wstat pending_files)" = 0 ]; }
found () { "$MEMCTL" recall --agent shop -k 1 "$1" 2>/dev/null | grep -q "$1"; }

# A transcript that exists before memd starts, and one with a secret.
mkdir -p "$W/early"
{ line early "the early bird note"; tool_line early; } > "$W/early/early.jsonl"
line secret "deploy with ghp_abcdefghijklmnopqrstuvwxyz0123456789AB now" > "$W/early/secret.jsonl"

start_memd --set watch/dirs="$W" --set watch/chunk_kb=16 --set watch/max_line_kb=64 \
           --set lifecycle/drowsy_after_ms=600000
check "lines written before the start are ingested" wait_for 5 found "early bird"
check "a transcript's agent is its project (git root of cwd): shop" found "early bird"
check "the line without text counts as ingested, without a record" \
      bash -c "[ \"\$(\"$MEMCTL\" --json status | jq -r '.watch.lines, .watch.records' | tr '\n' ' ')\" = '3 2 ' ]"
check "a secret in a transcript is redacted" \
      bash -c "\"$MEMCTL\" recall --agent shop deploy | grep -q 'REDACTED:github_token'"
check "and is not in the store" bash -c "! grep -qa ghp_abcdefghijklmnop '$DATA/data.mdb'"
"$MEMCTL" --json get --agent shop 1 > "$T/get.json"
check "agent, session, role, source and timestamp are mapped" /usr/bin/python3 -c "
import json; r = json.load(open('$T/get.json'))['records'][0]
assert r['agent'] == 'shop' and r['session'] == 'early', r
assert r['metadata']['role'] == 'user' and r['metadata']['source'] == 'transcript', r
assert r['created_at_ms'] == 1750932672345, r"
check "exactly one inotify descriptor" [ "$(inotify_fds)" = 1 ]

# 2,000 files in 20 new project directories, created and appended while
# memd runs. Its descriptor count does not move (a sample may catch the one
# file being read, never more).
sleep 0.3
base=$(fds)
max=$base
t0=$(date +%s%N)
for p in $(seq 1 $N_PROJECTS); do
    mkdir "$W/p$p"
    for f in $(seq 1 $PER_PROJECT); do
        line "s$p-$f" "first turn of file p${p}f${f}" > "$W/p$p/s$f.jsonl"
    done
    n=$(fds); [ "$n" -gt "$max" ] && max=$n
done
for p in $(seq 1 $N_PROJECTS); do
    for f in $(seq 1 $PER_PROJECT); do
        { tool_line "s$p-$f"; line "s$p-$f" "second turn zq${p}x${f}"; } >> "$W/p$p/s$f.jsonl"
    done
    n=$(fds); [ "$n" -gt "$max" ] && max=$n
done
expected=$(( 3 + N_PROJECTS * PER_PROJECT * 3 ))
check "all $expected lines of 2,000 files ingested" wait_for 30 lines_at_least $expected
t1=$(date +%s%N)
echo "     2,000 files created, appended and ingested in $(( (t1 - t0) / 1000000 )) ms"
check "records: 2 + 4,000 ($(live))" [ "$(live)" = $(( 2 + N_PROJECTS * PER_PROJECT * 2 )) ]
check "status: 2,002 files in 22 directories" \
      bash -c "[ \"\$(\"$MEMCTL\" --json status | jq -r '.watch.files, .watch.directories' | tr '\n' ' ')\" = '2002 22 ' ]"
sleep 0.3
after=$(fds)
check "fd count constant over 2,000 files: $base before, $after after, at most $max while writing" \
      [ "$after" = "$base" -a "$max" -le $(( base + 1 )) ]
check "still one inotify descriptor" [ "$(inotify_fds)" = 1 ]
check "a second turn is recalled in its session" \
      bash -c "\"$MEMCTL\" recall --agent shop --session s7-42 zq7x42 | grep -q zq7x42"

# Latency: an appended line is in recall within a second.
line s1-1 "latency probe kw$$" >> "$W/p1/s1.jsonl"
t0=$(date +%s%N)
wait_for 2 found "kw$$"
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
check "an appended line reached recall in $ms ms (< 1000)" [ "$ms" -lt 1000 ]

# A partial last line waits for its newline, and is ingested once.
before=$(wstat lines)
printf '{"type":"user","sessionId":"s1-2","message":{"content":"half written pqr' >> "$W/p1/s2.jsonl"
sleep 0.3
check "a partial line is not ingested" [ "$(wstat lines)" = "$before" ]
printf 'stu done"}}\n' >> "$W/p1/s2.jsonl"
check "its rest arrives: ingested once" wait_for 2 found pqrstu
check "as one line" [ "$(wstat lines)" = $(( before + 1 )) ]

# Truncation: the file is read again from the start.
: > "$W/p2/s1.jsonl"
line s2-1 "after truncation trq" >> "$W/p2/s1.jsonl"
check "a truncated file's new line is ingested" wait_for 2 found trq
# Rotation: a new file at the path, longer than the old offset.
mv "$W/p2/s2.jsonl" "$W/p2/s2.jsonl.1"
{ for i in 1 2 3 4; do line s2-2 "rotated turn number rtn$i of a longer file"; done; } > "$W/p2/new.tmp"
mv "$W/p2/new.tmp" "$W/p2/s2.jsonl"
check "a rotated file is read from its start" wait_for 2 found rtn1
check "to its end" wait_for 2 found rtn4
# Rewritten in place (same inode), longer than before: its first bytes changed.
{ for i in 1 2 3 4; do line s2-3 "rewritten in place rwp$i"; done; } > "$T/rewrite"
cat "$T/rewrite" > "$W/p2/s3.jsonl"
check "a file rewritten in place is read again" wait_for 2 found rwp4
check "no watch error" [ "$(wstat last_error)" = "" ]

# A line over watch/max_line_kb (64 KiB here) is skipped; the next is not.
skipped=$(wstat skipped_lines)
line s2-4 "huge $(head -c 100000 /dev/zero | tr '\0' x)" >> "$W/p2/s4.jsonl"
line s2-4 "after the huge line ahl" >> "$W/p2/s4.jsonl"
check "the line after a too-long line is ingested" wait_for 2 found ahl
check "the too-long line is counted as skipped" [ "$(wstat skipped_lines)" -gt "$skipped" ]
check "and named in last_error" bash -c "'$MEMCTL' --json status | jq -r .watch.last_error | grep -q 'KiB at byte'"

# Restart (SIGTERM): lines written while memd is down, in old and new files
# and a new directory, are ingested at start; none is read twice.
records=$(live)
check "memd stops" stop_memd
for f in $(seq 1 10); do line "s3-$f" "written while down wwd$f" >> "$W/p3/s$f.jsonl"; done
mkdir "$W/p99"
for f in 1 2 3; do line "s99-$f" "new file while down nfd$f" > "$W/p99/s$f.jsonl"; done
start_memd --set watch/dirs="$W" --set lifecycle/drowsy_after_ms=600000
check "after a restart, 13 new lines are ingested" wait_for 10 lines_at_least 13
sleep 0.3
check "exactly 13 lines were read ($(wstat lines)), none again" [ "$(wstat lines)" = 13 ]
check "no duplicates ($(wstat duplicates))" [ "$(wstat duplicates)" = 0 ]
check "13 new records" [ "$(live)" = $(( records + 13 )) ]
check "a line written while down is recalled" found wwd7

# kill -9 in the middle of catching up: the next start goes on from the last
# commit, with no line skipped and none read twice.
records=$(live)
check "memd stops again" stop_memd
for f in $(seq 1 8); do
    for i in $(seq 1 1500); do line "big-$f" "bulk line f${f}n${i} filler words for size"; done > "$W/p4/big$f.jsonl"
done
start_memd --set watch/dirs="$W" --set watch/chunk_kb=16 --set lifecycle/drowsy_after_ms=600000
some_lines () { [ "$(wstat lines)" -gt 0 ]; }
wait_for 10 some_lines || true
partial=$(wstat lines)
kill9_memd
start_memd --set watch/dirs="$W" --set lifecycle/drowsy_after_ms=600000
all_stored () { [ "$(live)" = $(( records + 12000 )) ] && [ "$(wstat pending_files)" = 0 ]; }
check "after kill -9 (at $partial of 12000 lines), every bulk line is stored" wait_for 30 all_stored
check "the rest was read once: $(wstat lines) lines, no duplicates ($(wstat duplicates))" \
      [ "$(wstat duplicates)" = 0 -a "$(wstat lines)" -le $(( 12000 - partial )) ]

# A deleted file's position is dropped; a file created again at its path is new.
rm "$W/p5/s1.jsonl"
line s5-1 "born again bag" > "$W/p5/s1.jsonl"
check "a file recreated at a deleted path is read from its start" wait_for 2 found bag

# An inotify queue overflow (memd stopped while more events queue up than
# the kernel keeps): every directory is scanned again and no line is lost.
queue=$(cat /proc/sys/fs/inotify/max_queued_events)
if [ "$queue" -le 100000 ]; then
    n=$(( queue / 2 + 500 ))   # an append is two events: modify, close_write
    before=$(wstat lines)
    kill -STOP "$MEMD_PID"
    for i in $(seq 1 "$n"); do line s6-1 "overflow line ovl$i" >> "$W/p6/s1.jsonl"; done
    kill -CONT "$MEMD_PID"
    check "after an inotify queue overflow all $n lines are ingested" \
          wait_for 20 lines_at_least $(( before + n ))
    check "status says the queue overflowed" bash -c "'$MEMCTL' --json status | jq -r .watch.last_error | grep -q overflowed"
    check "the last overflow line is recalled" found "ovl$n"
fi

check "memd exits cleanly" stop_memd
finish
