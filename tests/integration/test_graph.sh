#!/usr/bin/env bash
# The graph builder (issue 6) through memctl: records are linked after
# capture, a build finds their communities, neighbours and communities
# leave out forgotten records at once, SLEEP rebuilds a changed graph (its
# node count is then the live record count) before hibernating, a wake with
# an unchanged graph builds nothing, the graph survives a restart, exports
# as dot and GraphML, and recall --graph follows edges.
source "$(dirname "$0")/lib.sh"
# No build by the freshness policy here: the test's refresh and SLEEP make them.
OPTS="--set lifecycle/drowsy_after_ms=600000 --set graph/rebuild_min_changes=100000"
start_memd $OPTS
J="$MEMCTL --json"
py () { /usr/bin/python3 -c "$1"; }
# gstat FIELD: a field of `graph stats --json`.
gstat () { $J graph stats | py "import json,sys; print(json.load(sys.stdin)['$1'])"; }
state () { $J status | py "import json,sys; print(json.load(sys.stdin)['state'])"; }
wait_for () {  # wait_for SECONDS COMMAND...: until COMMAND succeeds
    local end=$((SECONDS + $1)); shift
    until "$@"; do [ $SECONDS -ge $end ] && return 1; sleep 0.05; done
}
linked () { [ "$(gstat unlinked)" = 0 ]; }
hibernating () { [ "$(state)" = HIBERNATE ]; }
generation_is () { [ "$(gstat generation)" = "$1" ] && [ "$(gstat building)" = False ]; }

# Three topics in three sessions, and one record that shares no word.
{
    for i in $(seq 1 12); do echo "{\"text\": \"the garden tomatoes basil and peppers need water, day $i\", \"session\": \"garden\"}"; done
    for i in $(seq 1 12); do echo "{\"text\": \"the lmdb store readers never block the writer, note $i\", \"session\": \"db\"}"; done
    for i in $(seq 1 12); do echo "{\"text\": \"train tickets to lisbon and the hotel booking, item $i\", \"session\": \"trip\"}"; done
    echo '{"text": "quokka zebra xylophone"}'
} | "$MEMCTL" capture - > "$T/ids"
check "37 records captured" [ "$(wc -l < "$T/ids")" = 37 ]
check "every record is linked soon after its capture" wait_for 10 linked
check "... with edges, and no build yet (generation 0)" \
    py "import sys; sys.exit(0 if $(gstat edges) >= 36 and $(gstat generation) == 0 else 1)"
check "the link jobs are done (the outbox)" \
    bash -c "$J jobs list --kind memd.link --state done | grep -q '\"state\":\"done\"'"
rc=0; "$MEMCTL" jobs lease memd.link > /dev/null 2>&1 || rc=$?
check "clients cannot lease memd's own link jobs (exit $rc)" [ $rc = 1 ]

"$MEMCTL" graph stats --refresh > /dev/null
check "a refresh builds the graph (generation 1)" wait_for 10 generation_is 1
check "the build counted every live record" [ "$(gstat nodes_built)" = 37 ]
$J graph stats --top 5 > "$T/stats.json"
check "three communities of 12 and the loner" py "
import json; s = json.load(open('$T/stats.json'))
sizes = sorted(c['size'] for c in s['top'])
assert s['communities'] == 4 and sizes == [1, 12, 12, 12], s"
garden=$(sed -n 3p "$T/ids"); db=$(sed -n 15p "$T/ids"); loner=$(sed -n 37p "$T/ids")
$J graph community "$garden" > "$T/garden.json"
check "the garden record's community is the garden session" py "
import json; c = json.load(open('$T/garden.json'))
assert c['size'] == 12 and sorted(m['id'] for m in c['members']) == list(range(1, 13)), c"
$J graph neighbors "$garden" > "$T/nb.json"
check "its neighbours: the records before and after it (temporal), similar ones (lexical)" py "
import json; n = json.load(open('$T/nb.json'))
t = {(e['src'], e['dst']) for e in n['edges'] if e['type'] == 'temporal'}
assert ($garden - 1, $garden) in t and ($garden, $garden + 1) in t, t
assert any(e['type'] == 'lexical' for e in n['edges']), n"
check "the loner has a community of its own" \
    bash -c "$J graph community $loner | grep -q '\"community\":$loner,\"size\":1'"

# Forget: gone from neighbours and communities at once.
"$MEMCTL" forget $((garden + 1)) > /dev/null
$J graph neighbors "$garden" > "$T/nb2.json"
check "a forgotten record leaves its neighbours' edges at once" py "
import json; n = json.load(open('$T/nb2.json'))
assert all($garden + 1 not in (e['src'], e['dst']) for e in n['edges']), n
assert all(x['id'] != $garden + 1 for x in n['nodes'])"
$J graph community "$garden" > "$T/garden2.json"
check "... and its community" py "
import json; c = json.load(open('$T/garden2.json'))
assert c['size'] == 11 and $garden + 1 not in [m['id'] for m in c['members']], c"
rc=0; "$MEMCTL" graph neighbors $((garden + 1)) > /dev/null 2>&1 || rc=$?
check "neighbours of a forgotten record: not found (exit $rc)" [ $rc = 1 ]

# SLEEP brings the changed graph up to date, then hibernates.
"$MEMCTL" sleep > /dev/null
check "memd hibernates after the sleep cycle" wait_for 10 hibernating
check "SLEEP rebuilt the changed graph (generation 2)" generation_is 2
live=$($J status | py "import json,sys; print(json.load(sys.stdin)['records']['live'])")
check "the build's node count is the live record count ($live)" [ "$(gstat nodes_built)" = "$live" ]
$J status > "$T/status.json"
check "status shows the graph" py "
import json; g = json.load(open('$T/status.json'))['graph']
assert g['generation'] == 2 and g['nodes'] == 36 and g['communities'] == 4 and g['built_at_ms'] > 0, g"

# A wake with an unchanged graph builds nothing: by request, and by a recall.
builds=$(grep -c "memd info: graph:" "$T/memd.log")
"$MEMCTL" wake > /dev/null
"$MEMCTL" sleep > /dev/null
check "asleep again" wait_for 10 hibernating
"$MEMCTL" recall tomatoes > /dev/null
check "a recall woke memd" [ "$(state)" = WAKE ]
"$MEMCTL" sleep > /dev/null
check "... and asleep again" wait_for 10 hibernating
check "no build after wakes with an unchanged graph (generation 2)" generation_is 2
check "... none logged" [ "$(grep -c "memd info: graph:" "$T/memd.log")" = "$builds" ]

# recall --graph: a neighbour that shares no query word comes in.
$J recall --no-graph -k 3 lisbon hotel > "$T/plain.json"
$J recall -k 40 --graph lisbon hotel > "$T/graph.json"
check "recall --graph adds records reached along edges" py "
import json
plain = {h['id'] for h in json.load(open('$T/plain.json'))['hits']}
graph = json.load(open('$T/graph.json'))['hits']
assert len(graph) >= len(plain) and all(h['session'] == 'trip' for h in graph[:12]), graph"
check "recall --graph --diversify answers" "$MEMCTL" recall --diversify lisbon

# Export for Graphviz and Gephi.
"$MEMCTL" graph export --format dot > "$T/g.dot"
check "dot export: a digraph with every node and edge" py "
s = open('$T/g.dot').read()
assert s.startswith('digraph memd {') and s.rstrip().endswith('}')
assert s.count('[label=') == 36 and s.count(' -> ') >= 30, s[:500]"
"$MEMCTL" graph export --format graphml > "$T/g.graphml"
check "GraphML export parses, with every node" py "
import xml.etree.ElementTree as ET
ns = {'g': 'http://graphml.graphdrawing.org/xmlns'}
root = ET.parse('$T/g.graphml').getroot()
nodes = root.findall('.//g:node', ns); edges = root.findall('.//g:edge', ns)
assert len(nodes) == 36 and len(edges) >= 30, (len(nodes), len(edges))"

check "the store is consistent" "$MEMCTL" verify
# The graph is in the store: a restart serves the same generation at once.
stop_memd
start_memd $OPTS
check "after a restart the graph is served as it was (generation 2)" generation_is 2
check "memctl graph --help" bash -c '"$0" graph --help | grep -q "graph export"' "$MEMCTL"
check "memd exits cleanly" stop_memd
finish
