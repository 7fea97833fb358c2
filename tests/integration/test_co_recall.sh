#!/usr/bin/env bash
# CO_RECALL edges (issue 6): records recalled together get an edge; the
# sleep cycle's DECAY keeps it while it is young, and removes it (both
# directions) once its count has halved under the floor.
source "$(dirname "$0")/lib.sh"
J="$MEMCTL --json"
py () { /usr/bin/python3 -c "$1"; }
state () { $J status | py "import json,sys; print(json.load(sys.stdin)['state'])"; }
wait_for () {  # wait_for SECONDS COMMAND...: until COMMAND succeeds
    local end=$((SECONDS + $1)); shift
    until "$@"; do [ $SECONDS -ge $end ] && return 1; sleep 0.05; done
}
hibernating () { [ "$(state)" = HIBERNATE ]; }
co_edges () {  # co_edges ID: its CO_RECALL edges, both directions
    $J graph neighbors "$1" | py "import json,sys
print(sum(1 for e in json.load(sys.stdin)['edges'] if e['type'] == 'co_recall'))"
}
co_edges_are () { [ "$(co_edges "$1")" = "$2" ]; }
# A decay pass in every cycle; the half-life is set per run below.
OPTS="--set lifecycle/drowsy_after_ms=600000 --set lifecycle/decay_interval_ms=0"

start_memd $OPTS
{
    echo '{"text": "the kiwi vine needs a frost-free wall"}'
    echo '{"text": "kiwi fruit ripen on the windowsill"}'
    echo '{"text": "a kiwi is also a flightless bird"}'
} | "$MEMCTL" capture - > "$T/ids"
a=$(sed -n 1p "$T/ids"); c=$(sed -n 3p "$T/ids")
"$MEMCTL" recall kiwi > /dev/null
check "recalled together: each record has two CO_RECALL edges" wait_for 10 co_edges_are "$a" 2
"$MEMCTL" sleep > /dev/null
check "the sleep cycle completes" wait_for 30 hibernating
check "a young edge survives DECAY (30-day half-life)" co_edges_are "$a" 2
check "memd exits cleanly" stop_memd

# The same store, a half-life of 1 ms: the next DECAY halves the counts
# far under the floor and removes the edges, in both tables.
start_memd $OPTS --set lifecycle/co_recall_half_life_ms=1
"$MEMCTL" sleep > /dev/null
check "the next sleep cycle completes" wait_for 30 hibernating
check "decayed under the floor: no CO_RECALL edge out of the first record" co_edges_are "$a" 0
check "... nor into the last" co_edges_are "$c" 0
check "the store verifies (no edge left without its mirror)" "$MEMCTL" verify
check "memd exits cleanly" stop_memd
finish
