#!/usr/bin/env bash
# The graph under load (issue 6): status answers within 10 ms (99 % of the
# probes; every one within 100 ms) while a build
# over 200,000 edges runs; twenty concurrent GraphStats during a build are
# answered at once from the previous generation, and exactly one build runs
# (tests/test_graph.c). No build starts by itself here (rebuild_min_changes
# is huge): the test's refreshes start them.
source "$(dirname "$0")/lib.sh"
start_memd --set store/sync=none --set graph/lexical_k=10 --set graph/lexical_min_percent=1 \
           --set graph/rebuild_min_changes=1000000000
check "the load scenario" "$BIN/test_graph" "$MEMD_ENDPOINT" 21000
check "the store is consistent" "$MEMCTL" --timeout 60000 verify
check "memd exits cleanly" stop_memd
finish
