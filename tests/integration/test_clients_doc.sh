#!/usr/bin/env bash
# The complete example programs of docs/clients.md (C, Python, Node), taken
# from the page itself, built and run against a real memd: the guide's code
# is what works.
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

start_memd
for f in quickstart.c quickstart.py quickstart.js; do
    check "docs/clients.md has the example $f" extract "$f"
done

# C: compiled as the guide says, warnings as errors, with the build's compiler
# and sanitizers (a sanitizer build's library needs their runtime).
cache () { sed -n "s/^$1:[A-Z]*=//p" "$BIN/CMakeCache.txt" 2>/dev/null; }
CC_BIN=$(cache CMAKE_C_COMPILER); SANITIZE=$(cache MEMD_SANITIZE)
# shellcheck disable=SC2046
if "${CC_BIN:-cc}" -std=c11 -Wall -Wextra -Werror ${SANITIZE:+-fsanitize=$SANITIZE} \
      "$T/quickstart.c" -I"$REPO/client" -I"$REPO/messages" -I"$BIN/gen" "$BIN/libmemd_client.a" \
      $(pkg-config --cflags --libs libczmq libzmq libprotobuf-c) -o "$T/quickstart" 2>"$T/cc.log"; then
    pass "the C example compiles"
    out=$("$T/quickstart" 2>&1) && check "the C example runs: $(tr '\n' '|' <<<"$out")" expect "$out" \
        || fail "the C example failed: $out"
else
    fail "the C example does not compile:"; cat "$T/cc.log" >&2
fi

out=$(PYTHONPATH="$REPO/bindings/python:$BIN/python" /usr/bin/python3 "$T/quickstart.py" 2>&1) &&
    check "the Python example runs: $(tr '\n' '|' <<<"$out")" expect "$out" ||
    fail "the Python example failed: $out"

# Node: "memd-client" resolves to bindings/node, as for a project that depends on it.
mkdir -p "$T/node_path"
ln -s "$REPO/bindings/node" "$T/node_path/memd-client"
out=$(NODE_PATH="$T/node_path" node "$T/quickstart.js" 2>&1) &&
    check "the Node example runs: $(tr '\n' '|' <<<"$out")" expect "$out" ||
    fail "the Node example failed: $out"

# Each example completed its own job.
stats=$("$MEMCTL" --json jobs stats)
check "three summarize jobs done, none left" grep -qE '"kind":"summarize","queued":0,"leased":0,.*"done":3' <<<"$stats"

check "memd stops cleanly" stop_memd
finish
