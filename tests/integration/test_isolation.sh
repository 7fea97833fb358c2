#!/usr/bin/env bash
# Agent A never sees agent B's records: not in recall, not by id, and
# cannot forget them.
source "$(dirname "$0")/lib.sh"
start_memd
a=$("$MEMCTL" capture --agent alice "the secret launch code is pelican")
b=$("$MEMCTL" capture --agent bob "bob's secret launch code is pelican too")
check "distinct ids" [ "$a" != "$b" ]
out=$("$MEMCTL" --json recall --agent alice -k 100 "secret launch code pelican")
check "alice's recall has her record" grep -q "\"id\":$a," <<<"$out"
check "alice's recall lacks bob's record" bash -c '! grep -q "\"id\":'"$b"'," <<<"$0"' "$out"
check "alice's recall hits are all hers" bash -c '! grep -q "\"agent\":\"bob\"" <<<"$0"' "$out"
check "alice cannot get bob's record" bash -c '! "$0" get --agent alice '"$b"' >/dev/null 2>&1' "$MEMCTL"
rc=0; "$MEMCTL" forget --agent alice "$b" >/dev/null 2>&1 || rc=$?
check "alice cannot forget bob's record (exit $rc)" [ $rc -eq 1 ]
check "bob's record survives" bash -c '"$0" get --agent bob '"$b"' >/dev/null' "$MEMCTL"
out=$("$MEMCTL" --json recall --agent carol "pelican")
check "an unknown agent sees nothing" [ "$out" = '{"hits":[]}' ]
stop_memd
finish
