#!/usr/bin/env bash
# Disk full (issue 10 item 4): memd's data directory on a 16 MiB tmpfs in a
# private mount namespace (unshare -rm; skipped where that is not allowed).
# A filler file takes the rest of the space: captures then fail with
# STORE_FULL (LMDB reports a write cut short by the full disk as EIO, which
# memd used to pass on as INTERNAL), memd keeps serving reads, and once the
# filler is gone captures work again. Nothing acked is lost, across a
# kill -9 and restart too.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fault_lib.sh"

MNT="$T/mnt"
mkdir -p "$MNT"
# A process that holds the namespace (and so the tmpfs) between memd runs.
unshare -rm sh -c 'mount -t tmpfs -o size=16m,mode=0700 memd-fault "$1" && echo mounted &&
                   exec sleep 3600' sh "$MNT" > "$T/holder.out" 2>&1 &
HOLDER=$!
trap 'kill "$HOLDER" 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 1 100); do
    grep -qs mounted "$T/holder.out" && break
    kill -0 "$HOLDER" 2>/dev/null || break
    sleep 0.05
done
if ! grep -q mounted "$T/holder.out"; then
    echo "SKIP: cannot mount a tmpfs in a private namespace here (unshare -rm): $(cat "$T/holder.out")"
    exit 77
fi
INSIDE="/proc/$HOLDER/root$MNT"   # the tmpfs, seen from outside the namespace
DATA="$MNT/data"
MEMD_WRAP=(nsenter -t "$HOLDER" -U -m --preserve-credentials)
OPTS=(--set store/map_size_mb=64 --set lifecycle/drowsy_after_ms=3600000)
ACKED="$T/acked"
: > "$ACKED"

start_memd "${OPTS[@]}"
for b in 1 2 3 4; do
    gen_records "before$b" 500 > "$T/in.jsonl"
    capture_batch "$T/in.jsonl" "$ACKED" || fail "capture before the disk filled: $(cat "$T/capture.err")"
done
check "2000 records captured on the small filesystem" [ "$(wc -l < "$ACKED")" = 2000 ]

# Fill the filesystem but for 100 KiB: the next batch's write is cut short
# part-way (LMDB: EIO, "short write, filesystem full?"), later ones find no
# space at all (ENOSPC). Both must be STORE_FULL.
avail_kb () { echo $(( $(stat -f -c '%a * %S' "$INSIDE") / 1024 )); }
# (The graph builder links the records in the background and may have used
# most of the space already: then there is nothing to fill.)
blocks=$(( ($(avail_kb) - 100) / 4 ))
if [ $blocks -gt 0 ]; then
    dd if=/dev/zero of="$INSIDE/filler" bs=4k count=$blocks 2>/dev/null || true
else
    : > "$INSIDE/filler"
fi
check "the filesystem is nearly full ($(avail_kb) KiB left)" [ "$(avail_kb)" -le 100 ]
full=0 other=0
for b in $(seq 1 8); do
    gen_records "full$b" 500 > "$T/in.jsonl"
    rc=0; capture_batch "$T/in.jsonl" "$ACKED" || rc=$?
    if [ $rc != 0 ]; then
        if grep -q "STORE_FULL" "$T/capture.err"; then full=$((full + 1))
        else other=$((other + 1)); cat "$T/capture.err" >&2; fi
    fi
done
check "captures on the full disk fail with STORE_FULL ($full of 8)" [ $full -ge 4 ]
check "and with no other error" [ $other = 0 ]
check "memd is still running" kill -0 "$MEMD_PID"
check "memd did not stop the store over a full disk" bash -c "! grep -q 'failed a write' '$T/memd.log'"
check "reads are served on the full disk" bash -c "'$MEMCTL' recall -k 3 before1 | grep -q before1"
check "the store verifies on the full disk" "$MEMCTL" --timeout 120000 verify
check "every acked record is present while the disk is full" acked_present "$ACKED"

# Space returns: captures work again at once.
rm -f "$INSIDE/filler"
ok=0
for b in 1 2 3; do
    gen_records "after$b" 500 > "$T/in.jsonl"
    capture_batch "$T/in.jsonl" "$ACKED" && ok=$((ok + 1))
done
check "captures succeed once space returns ($ok of 3)" [ $ok = 3 ]
check "every acked record is present" acked_present "$ACKED"

# Durable: kill -9, restart on the same filesystem, nothing acked lost.
kill9_memd
start_memd "${OPTS[@]}"
check "after kill -9 and restart every acked record ($(wc -l < "$ACKED")) is present" \
      acked_present "$ACKED"
check "the store verifies after the restart" "$MEMCTL" --timeout 120000 verify
check "memd exits cleanly" stop_memd
finish
