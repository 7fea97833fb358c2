#!/usr/bin/env bash
# memd-mcp against a real memd: a scripted JSON-RPC session over stdin
# (initialize, tools/list, every tool), the JSON-RPC error codes, tool
# errors as isError results (NOT_FOUND, memd down), the agent a project
# gets, and a quick start.
source "$(dirname "$0")/lib.sh"
MCP="$BIN/memd-mcp"
command -v jq >/dev/null || { echo "jq is needed (make deps installs it)" >&2; exit 1; }
export MEMD_AGENT=mcp-test
start_memd

# Runs memd-mcp on the JSON-RPC lines given as arguments; replies go to $T/out.
mcp () {
    printf '%s\n' "$@" | "$MCP" "${MCP_ARGS[@]}" > "$T/out" 2> "$T/err"
}
MCP_ARGS=()
# The reply with id $1 (compact JSON), or nothing.
reply () { jq -c --argjson id "$1" 'select(.id == $id)' "$T/out"; }
# jq expression $2 on the reply with id $1, raw.
q () { reply "$1" | jq -r "$2"; }
init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"test","version":"1"}}}'
initialized='{"jsonrpc":"2.0","method":"notifications/initialized"}'
call () {  # call ID TOOL ARGS-JSON
    printf '{"jsonrpc":"2.0","id":%s,"method":"tools/call","params":{"name":"%s","arguments":%s}}' "$1" "$2" "$3"
}

# --- the session -------------------------------------------------------------
mcp "$init" "$initialized" \
    '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' \
    "$(call 3 memory_capture '{"text":"The build server deploys with rsync over ssh to bluefin","tags":["deploy"],"session":"s1"}')" \
    "$(call 4 memory_capture '{"text":"The build server deploys with rsync over ssh to bluefin"}')" \
    "$(call 5 memory_capture '{"text":"Releases are tagged on Thursdays after the freeze","kind":"procedure"}')" \
    "$(call 6 memory_recall '{"query":"deploy rsync bluefin"}')" \
    "$(call 7 memory_context '{"query":"deploy build server"}')" \
    "$(call 8 memory_context '{"query":"deploy releases thursdays build server","budget_tokens":50}')" \
    "$(call 9 memory_status '{}')" \
    '{"jsonrpc":"2.0","id":10,"method":"ping"}' \
    "$(call 11 memory_recall '{"query":"nothing matches zyzzyva"}')"

check "initialize answers protocol 2025-06-18" [ "$(q 1 .result.protocolVersion)" = 2025-06-18 ]
check "initialize names the server and offers tools" \
    [ "$(q 1 '.result.serverInfo.name + " " + (.result.capabilities.tools | type)')" = "memd-mcp object" ]
check "the notification got no reply (one line per request)" [ "$(wc -l < "$T/out")" -eq 11 ]
check "tools/list has the five tools" \
    [ "$(q 2 '[.result.tools[].name] | sort | join(",")')" = "memory_capture,memory_context,memory_forget,memory_recall,memory_status" ]
check "every tool has a description and an object inputSchema" \
    [ "$(q 2 '[.result.tools[] | select((.description | length) > 40 and .inputSchema.type == "object")] | length')" -eq 5 ]
check "memory_capture requires text" [ "$(q 2 '.result.tools[] | select(.name == "memory_capture") | .inputSchema.required | join(",")')" = text ]
id=$(q 3 .result.structuredContent.id)
check "capture returns an id (got '$id')" [ "$id" -ge 1 ]
check "capture is not an error and says so" [ "$(q 3 '.result.isError')" = false ] \
    && check "capture's text names the id" grep -q "Remembered as #$id" <(q 3 '.result.content[0].text')
check "the same text again is a duplicate with the same id" \
    [ "$(q 4 '.result.structuredContent | "\(.id) \(.duplicate)"')" = "$id true" ]
check "recall finds the captured memory first" [ "$(q 6 '.result.structuredContent.hits[0].id')" = "$id" ]
check "recall's hit keeps session and tags" \
    [ "$(q 6 '.result.structuredContent.hits[0] | .session + " " + (.tags | join(","))')" = "s1 deploy" ]
check "recall text lists the hit with its id" grep -q "#$id " <(q 6 '.result.content[0].text')
ctx=$(q 7 '.result.structuredContent.context')
check "context block has a heading and the memory with id, date and session" \
    grep -qE "^- \[#$id \| [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2} \| fact \| session s1\] The build server deploys" <<<"$ctx"
check "context names its records" [ "$(q 7 '.result.structuredContent.ids[0]')" = "$id" ]
check "context text is the block" [ "$(q 7 '.result.content[0].text')" = "$ctx" ]
small=$(q 8 '.result.structuredContent.context')
check "a 50-token budget keeps the block within 200 bytes (got ${#small})" [ "$(printf '%s' "$small" | wc -c)" -le 200 ]
check "approx_tokens is within the budget" [ "$(q 8 '.result.structuredContent.approx_tokens')" -le 50 ]
check "status names this server's agent" [ "$(q 9 '.result.structuredContent.agent')" = mcp-test ]
check "status counts the live records" [ "$(q 9 '.result.structuredContent.records.live')" -eq 2 ]
check "ping answers an empty result" [ "$(q 10 '.result | tostring')" = "{}" ]
check "no hits is not an error" [ "$(q 11 '"\(.result.isError) \(.result.structuredContent.hits | length)"')" = "false 0" ]
check "captures go to the server's agent" bash -c "'$MEMCTL' get --agent mcp-test $id | grep -q bluefin"
check "captures carry metadata source=mcp and kind fact" \
    bash -c "'$MEMCTL' --json get --agent mcp-test $id | jq -e '.records[0] | .metadata.source == \"mcp\" and .kind == \"fact\"' >/dev/null"

# --- forget ------------------------------------------------------------------
mcp "$init" "$(call 2 memory_forget "{\"ids\":[$id]}")" \
    "$(call 3 memory_recall '{"query":"deploy rsync bluefin"}')" \
    "$(call 4 memory_forget '{"ids":[999999]}')" \
    "$(call 5 memory_forget '{"session":"no-such-session"}')"
check "forget by id forgets one" [ "$(q 2 '.result.structuredContent.forgotten')" -eq 1 ]
check "a forgotten memory is not recalled" [ "$(q 3 '.result.structuredContent.hits | length')" -eq 0 ]
check "forgetting an unknown id is a tool error (isError)" [ "$(q 4 '.result.isError')" = true ]
check "... that says not found" grep -qi "not found" <(q 4 '.result.content[0].text')
check "forgetting an empty session is not an error" [ "$(q 5 '"\(.result.isError) \(.result.structuredContent.forgotten)"')" = "false 0" ]

# --- protocol errors ---------------------------------------------------------
mcp 'not json at all' \
    '[{"jsonrpc":"2.0","id":1,"method":"ping"}]' \
    '{"id":2,"method":"ping"}' \
    '{"jsonrpc":"2.0","id":3,"method":"resources/list"}' \
    '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"memory_teleport","arguments":{}}}' \
    "$(call 5 memory_capture '{"kind":"fact"}')" \
    "$(call 6 memory_capture '{"text":"x","colour":"blue"}')" \
    "$(call 7 memory_recall '{"query":"x","k":0}')" \
    '{"jsonrpc":"2.0","id":8,"method":"tools/call","params":[1,2]}' \
    '{"jsonrpc":"2.0","method":"notifications/whatever"}' \
    '{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}' \
    "$(call 9 memory_forget '{"ids":[1],"session":"s"}')" \
    '{"jsonrpc":"2.0","id":"str-10","method":"initialize","params":{"protocolVersion":"2024-11-05"}}' \
    '{"jsonrpc":"2.0","id":11,"method":"initialize","params":{"protocolVersion":"1999-01-01"}}' \
    '{"jsonrpc":"2.0","id":12,"method":"initialize","params":{}}'
first=$(head -1 "$T/out")
check "a line that is not JSON: -32700, id null" [ "$(jq -r '"\(.error.code) \(.id)"' <<<"$first")" = "-32700 null" ]
check "a batch array: -32600" [ "$(sed -n 2p "$T/out" | jq -r .error.code)" = -32600 ]
check "no jsonrpc member: -32600 with the id" [ "$(q 2 .error.code)" = -32600 ]
check "unknown method: -32601" [ "$(q 3 .error.code)" = -32601 ]
check "unknown tool: -32602 naming it" [ "$(q 4 '"\(.error.code) \(.error.message)"')" = "-32602 Unknown tool: memory_teleport" ]
check "capture without text: -32602" [ "$(q 5 .error.code)" = -32602 ]
check "an argument the schema does not have: -32602" grep -q colour <(q 6 .error.message)
check "k out of range: -32602" [ "$(q 7 .error.code)" = -32602 ]
check "params that are not an object: -32602" [ "$(q 8 .error.code)" = -32602 ]
check "an object id: -32600, id null" [ "$(jq -c 'select(.error.code == -32600 and .id == null and (.error.message | test("id")))' "$T/out" | wc -l)" -eq 1 ]
check "forget with ids and session: -32602" [ "$(q 9 .error.code)" = -32602 ]
check "an older client version is answered with it" [ "$(jq -r 'select(.id == "str-10") | .result.protocolVersion' "$T/out")" = 2024-11-05 ]
check "an unknown version is answered with 2025-06-18" [ "$(q 11 .result.protocolVersion)" = 2025-06-18 ]
check "initialize without protocolVersion: -32602" [ "$(q 12 .error.code)" = -32602 ]
check "one reply per request, none for the notification" [ "$(wc -l < "$T/out")" -eq 14 ]
check "every reply is JSON-RPC 2.0" [ "$(jq -r .jsonrpc "$T/out" | sort -u)" = 2.0 ]

# --- agent, start-up -------------------------------------------------------------
mkdir -p "$T/repo/.git" "$T/repo/src/deep" "$T/cpd/shop"
agent_of () {  # agent_of DIR [ENV...]: the agent memd-mcp reports when run in DIR
    (cd "$1" && shift && printf '%s\n' "$init" "$(call 2 memory_status '{}')" \
        | env -u MEMD_AGENT -u CLAUDE_PROJECT_DIR "$@" "$MCP" | jq -r 'select(.id == 2) | .result.structuredContent.agent')
}
check "agent = git root's name from a subdirectory" [ "$(agent_of "$T/repo/src/deep")" = repo ]
check "agent = \$CLAUDE_PROJECT_DIR's name" [ "$(agent_of "$T/repo" CLAUDE_PROJECT_DIR="$T/cpd/shop")" = shop ]
check "agent = \$MEMD_AGENT over the directory" [ "$(agent_of "$T/repo" MEMD_AGENT=explicit)" = explicit ]
check "agent = --agent over everything" \
    [ "$(cd "$T/repo" && printf '%s\n' "$(call 2 memory_status '{}')" | MEMD_AGENT=x "$MCP" --agent flagged | jq -r .result.structuredContent.agent)" = flagged ]
start_ms=$(date +%s%3N)
printf '%s\n' "$init" | "$MCP" > "$T/out"
check "initialize is answered within 500 ms of start ($(( $(date +%s%3N) - start_ms )) ms)" \
    [ $(( $(date +%s%3N) - start_ms )) -lt 500 ]

# --- memd down -------------------------------------------------------------------
check "SIGTERM stops memd" stop_memd
start_ms=$(date +%s%3N)
mcp "$init" "$(call 2 memory_capture '{"text":"while memd is down"}')" "$(call 3 memory_status '{}')"
check "memd down (no socket): capture is a tool error, not a crash" [ "$(q 2 .result.isError)" = true ]
check "... saying memd is not running" grep -q "memd is not running" <(q 2 '.result.content[0].text')
check "... status too" [ "$(q 3 .result.isError)" = true ]
check "... answered at once ($(( $(date +%s%3N) - start_ms )) ms)" [ $(( $(date +%s%3N) - start_ms )) -lt 1000 ]
start_memd
kill9_memd   # leaves its socket file behind: nobody answers
MCP_ARGS=(--timeout 300)
mcp "$init" "$(call 2 memory_recall '{"query":"anything"}')" "$(call 3 memory_context '{"query":"anything"}')"
check "memd killed (stale socket): recall is a tool error after the timeout" [ "$(q 2 .result.isError)" = true ]
check "... that says memd did not answer" grep -q "did not answer within 300 ms" <(q 2 '.result.content[0].text')
check "... context too" [ "$(q 3 .result.isError)" = true ]
check "memd-mcp exits 0 at end of input" "$MCP" < /dev/null
finish
