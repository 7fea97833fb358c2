#!/usr/bin/env bash
# The complete example programs of docs/clients.md (C, Python, Node: the
# quickstart and the events watcher), taken from the page itself, built and
# run against a real memd: the guide's code is what works.
source "$(dirname "$0")/lib.sh"
REPO=$(cd "$(dirname "$0")/../.." && pwd)
DOC="$REPO/docs/clients.md"

# extract NAME: the fenced block after "<!-- example: NAME -->" in the guide.
extract () {
    awk -v name="$1" '
        $0 == "<!-- example: " name " -->" { want = 1; next }
        want && /^```/ { if (inside) exit; inside = 1; next }
        inside { print }' "$DOC" > "$T/$1"
    [ -s "$T/$1" ]
}
# expect OUTPUT: the output every example prints.
expect () {
    local out=$1
    grep -qE '^captured [0-9]+$' <<<"$out" &&
    grep -qE '^recalled [0-9.]+ the sky is blue today$' <<<"$out" &&
    grep -qE '^get 999999: 1 of 1 records not found for agent default' <<<"$out" &&
    grep -qE '^leased job [0-9]+ session s1$' <<<"$out"
}

# expect_events OUTPUT: what every events example prints.
expect_events () {
    local out=$1
    grep -qE '^captured [0-9]+ for default$' <<<"$out" &&
    grep -qE '^job [0-9]+ embed ENQUEUED$' <<<"$out" &&
    grep -qE '^job [0-9]+ embed LEASED$' <<<"$out" &&
    grep -qE '^job [0-9]+ embed COMPLETED$' <<<"$out"
}

start_memd
for f in quickstart.c quickstart.py quickstart.js events.c events.py events.js; do
    check "docs/clients.md has the example $f" extract "$f"
done

# C: compiled as the guide says, warnings as errors, with the build's compiler
# and sanitizers (a sanitizer build's library needs their runtime).
cache () { sed -n "s/^$1:[A-Z]*=//p" "$BIN/CMakeCache.txt" 2>/dev/null; }
CC_BIN=$(cache CMAKE_C_COMPILER); SANITIZE=$(cache MEMD_SANITIZE)
mkdir -p "$T/node_path"
ln -s "$REPO/bindings/node" "$T/node_path/memd-client"
# run_examples NAME EXPECT: NAME.c, NAME.py and NAME.js, each checked by EXPECT.
run_examples () {
    local name=$1 expect=$2 out
    # shellcheck disable=SC2046
    if "${CC_BIN:-cc}" -std=c11 -Wall -Wextra -Werror ${SANITIZE:+-fsanitize=$SANITIZE} \
          "$T/$name.c" -I"$REPO/client" -I"$REPO/messages" -I"$BIN/gen" "$BIN/libmemd_client.a" \
          $(pkg-config --cflags --libs libczmq libzmq libprotobuf-c) -o "$T/$name" 2>"$T/cc.log"; then
        pass "the C example $name.c compiles"
        out=$("$T/$name" 2>&1) && check "the C example $name.c runs: $(tr '\n' '|' <<<"$out")" \
            "$expect" "$out" || fail "the C example $name.c failed: $out"
    else
        fail "the C example $name.c does not compile:"; cat "$T/cc.log" >&2
    fi

    out=$(PYTHONPATH="$REPO/bindings/python:$BIN/python" /usr/bin/python3 "$T/$name.py" 2>&1) &&
        check "the Python example $name.py runs: $(tr '\n' '|' <<<"$out")" "$expect" "$out" ||
        fail "the Python example $name.py failed: $out"

    # Node: "memd-client" resolves to bindings/node, as for a project that depends on it.
    out=$(NODE_PATH="$T/node_path" node "$T/$name.js" 2>&1) &&
        check "the Node example $name.js runs: $(tr '\n' '|' <<<"$out")" "$expect" "$out" ||
        fail "the Node example $name.js failed: $out"
}
run_examples quickstart expect
run_examples events expect_events

# Each example completed its own job.
stats=$("$MEMCTL" --json jobs stats)
check "three summarize jobs done, none left" grep -qE '"kind":"summarize","queued":0,"leased":0,.*"done":3' <<<"$stats"
check "three embed jobs (the events examples') done, none left" \
      grep -qE '"kind":"embed","queued":0,"leased":0,.*"done":3' <<<"$stats"

check "memd stops cleanly" stop_memd
finish
