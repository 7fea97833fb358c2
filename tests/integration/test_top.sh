#!/usr/bin/env bash
# memctl top (issue 8): on a pseudo-terminal it draws the live view, refreshes
# it, and leaves on q, Ctrl-C or SIGTERM with the terminal exactly as it was
# (tests/integration/pty_top.py plays the terminal). Without a terminal it
# prints frames; the traffic numbers it shows are memd's own.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3

start_memd
for i in $(seq 1 20); do echo "{\"text\": \"top note $i about lmdb\"}"; done | "$MEMCTL" capture - > /dev/null
for _ in $(seq 1 10); do "$MEMCTL" recall lmdb > /dev/null; done

for how in q ctrl-c sigterm; do
    if $PY "$(dirname "$0")/pty_top.py" "$MEMCTL" "$how" > "$T/pty.$how" 2>&1; then
        pass "memctl top on a terminal, left with $how"
    else
        fail "memctl top on a terminal, left with $how:"; cat "$T/pty.$how" >&2
    fi
done

# Without a terminal: N frames, then exit 0; the second has rates by kind.
"$MEMCTL" top --iterations 2 --interval 200 > "$T/frames" < /dev/null
check "memctl top -n 2 prints two frames and exits 0" [ "$(grep -c '^state ' "$T/frames")" -eq 2 ]
check "no escape sequences when not on a terminal" bash -c "! grep -q $'\033' '$T/frames'"
check "the state line: $(grep '^state' "$T/frames" | head -1)" \
      grep -qE '^state      WAKE since .* from \(start\): started$' "$T/frames"
check "records: 20 live" grep -qE '^records    20 live, 0 tombstoned' "$T/frames"
check "recall latency from memd: $(grep '^recall' "$T/frames" | head -1)" \
      grep -qE '^recall     p50 [0-9.]+ (µs|ms)   p99 [0-9.]+ (µs|ms)   \(10 recalls in the last' "$T/frames"
check "the second frame has request rates (top's own status probes)" \
      grep -qE '^requests   [0-9.]+/s: status [0-9.]+/s' "$T/frames"

# The same numbers in status, for scripts.
"$MEMCTL" --json status > "$T/status.json"
check "status --json has requests by kind and the recall latency" $PY - "$T/status.json" <<'PY'
import json, sys
st = json.load(open(sys.argv[1]))
kinds, lat = st["requests_by_kind"], st["recall_latency"]
assert kinds["capture"] == 1 and kinds["recall"] == 10 and kinds["status"] >= 2, kinds
assert sum(kinds.values()) <= st["requests"], (kinds, st["requests"])
assert lat["count"] == 10 and 0 < lat["p50_us"] <= lat["p99_us"] < 5000000, lat
assert 0 <= lat["window_ms"] <= 20000, lat
PY

# memd down: the frame says so, and a script gets exit 3 (unavailable).
stop_memd
rc=0; "$MEMCTL" top -n 1 > "$T/down" < /dev/null || rc=$?
check "memctl top -n 1 with memd down exits 3" [ "$rc" -eq 3 ]
check "and says why" grep -q "UNAVAILABLE: memd is not running" "$T/down"
finish
