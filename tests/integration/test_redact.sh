#!/usr/bin/env bash
# Secrets never reach the store: captured through memctl (one record and
# JSONL), through the MCP server and through the Claude Code hook, they
# come back as [REDACTED:type] placeholders with a redaction count, and a
# raw grep of the LMDB data file finds none of their bytes. Extra patterns
# from redact/patterns work; a bad patterns file stops memd at start with
# the file and line; with redact/enabled=0 the same grep does find the
# secret (so the grep can see what it looks for).
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || { echo "jq is needed (make deps installs it)" >&2; exit 1; }
export XDG_STATE_HOME="$T/state"

# Test secrets, built from pieces so that no scanner takes this file for a leak.
AWS="AKIA""Q3EXAMPLEZZ7KEY2"
GH="gh""p_Zq8Xw2Lm4Np6Rt0Vy3Bc5Df7Gh9Jk1Ms2Pu4"
SLACK="xox""b-4410987654321-TESTslackTOKENvalue"
PW="Pw""d-Correct-Horse-77"
JWT="eyJ""hbGciOiJIUzI1NiJ9.eyJ""zdWIiOiJ0ZXN0LXVzZXIifQ.c2lnbmF0dXJlLXRlc3Qtb25seQ"
KEYBODY="MIIEvQIBADANBgkqhkiG9w0BAQEFAASC""testkeybodyTESTKEYBODY"
PRIV="home address 12 Quince Lane"
ANT="sk-""ant-api03-TESTtestTESTtestTESTtest-123"
SECRETS=("$AWS" "$GH" "$SLACK" "$PW" "$JWT" "$KEYBODY" "$PRIV" "$ANT")

start_memd
text="deploy with $AWS and $GH, password=$PW, jwt $JWT, slack $SLACK, <private>$PRIV</private>
-----BEGIN PRIVATE KEY-----
$KEYBODY
-----END PRIVATE KEY-----
done"
id1=$("$MEMCTL" capture --agent redact --meta "cmd=export ANTHROPIC_API_KEY=$ANT" "$text")
"$MEMCTL" --json get --agent redact "$id1" > "$T/get1.json"
stored=$(jq -r '.records[0].text' "$T/get1.json")
check "memctl capture: every secret is a typed placeholder" [ "$stored" = "deploy with [REDACTED:aws_access_key] and [REDACTED:github_token], password=[REDACTED:secret], jwt [REDACTED:jwt], slack [REDACTED:slack_token], [REDACTED:private]
[REDACTED:private_key]
done" ]
check "... and the metadata value too" \
    [ "$(jq -r '.records[0].metadata.cmd' "$T/get1.json")" = "export ANTHROPIC_API_KEY=[REDACTED:anthropic_key]" ]
check "the record counts its redactions (8), never the secrets" \
    [ "$(jq -r '.records[0].metadata.redactions' "$T/get1.json")" = 8 ]
check "recall by a secret's words finds nothing" \
    [ -z "$("$MEMCTL" recall --agent redact Quince Lane)" ]

printf '%s\n' "{\"text\": \"line one token=$PW\", \"agent\": \"redact\"}" \
    "{\"text\": \"line two $GH\", \"agent\": \"redact\", \"metadata\": {\"note\": \"$AWS\"}}" \
    | "$MEMCTL" capture - > "$T/ids"
"$MEMCTL" --json get --agent redact $(cat "$T/ids") > "$T/get2.json"
check "capture - (JSONL): redacted, counted per record" \
    [ "$(jq -r '[.records[] | "\(.text)|\(.metadata.redactions)"] | join(";")' "$T/get2.json")" \
      = "line one token=[REDACTED:secret]|1;line two [REDACTED:github_token]|2" ]

# The same text differing only in its secret is the same record once redacted.
id_a=$("$MEMCTL" capture --agent redact "rotate key $AWS today")
id_b=$("$MEMCTL" capture --agent redact "rotate key AKIA""ZZZZZZZZZZZZZZZZ today")
check "dedupe is on the redacted text" [ "$id_a" = "$id_b" ]

printf '%s\n' \
    '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}' \
    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"memory_capture\",\"arguments\":{\"text\":\"mcp: $SLACK and secret: $PW\"}}}" \
    | "$BIN/memd-mcp" --agent redact > "$T/mcp.out"
mcp_id=$(jq -r 'select(.id == 2) | .result.structuredContent.id' "$T/mcp.out")
check "MCP capture reports 2 redactions" \
    [ "$(jq -r 'select(.id == 2) | .result.structuredContent.redactions' "$T/mcp.out")" = 2 ]
check "MCP capture: stored redacted" \
    [ "$("$MEMCTL" --json get --agent redact "$mcp_id" | jq -r '.records[0].text')" = "mcp: [REDACTED:slack_token] and secret: [REDACTED:secret]" ]

printf '%s' "{\"session_id\":\"s\",\"cwd\":\"$T\",\"prompt\":\"use $ANT for the bot\"}" \
    | "$MEMCTL" hook user-prompt --agent redact
check "hook capture: stored redacted" \
    bash -c "'$MEMCTL' recall --agent redact bot | grep -qF 'use [REDACTED:anthropic_key] for the bot'"

check "SIGTERM stops memd" stop_memd
for secret in "${SECRETS[@]}"; do
    check "data.mdb has no trace of secret ${secret:0:6}..." bash -c '! grep -aqF -- "$1" "$2"' _ "$secret" "$DATA/data.mdb"
done
for secret in "${SECRETS[@]}"; do
    check "memd's log has no trace of secret ${secret:0:6}..." bash -c '! grep -aqF -- "$1" "$2"' _ "$secret" "$T/memd.log"
done
check "data.mdb does hold the placeholders (the grep sees stored text)" grep -aqF "[REDACTED:github_token]" "$DATA/data.mdb"

# --- extra patterns, a bad patterns file ---------------------------------------------
printf '# our ticket system\nticket_pin\t(?i)ticket pin:? ([0-9]{6})\ninternal_host\t\\bsrv-[a-z]+-[0-9]{2}\\.corp\\b\n' > "$T/patterns"
start_memd --set "redact/patterns=$T/patterns"
id=$("$MEMCTL" capture --agent redact "Ticket PIN 482913 for srv-billing-07.corp and password=$PW")
check "extra patterns redact with their own names, built-in ones still apply" \
    [ "$("$MEMCTL" --json get --agent redact "$id" | jq -r '.records[0] | "\(.text)|\(.metadata.redactions)"')" \
      = "Ticket PIN [REDACTED:ticket_pin] for [REDACTED:internal_host] and password=[REDACTED:secret]|3" ]
stop_memd
printf 'fine\tabc[0-9]+\n\nbroken\t(unclosed\n' > "$T/bad-patterns"
rc=0
"$MEMD" --data-dir "$DATA" --run-dir "$RUN" --set "redact/patterns=$T/bad-patterns" > "$T/bad.log" 2>&1 || rc=$?
check "a bad patterns file stops memd at start" [ "$rc" != 0 ]
check "... naming the file, the line and the pattern" grep -qF "$T/bad-patterns:3: pattern 'broken'" "$T/bad.log"
check "memd --help-config lists redact/enabled and redact/patterns" \
    bash -c "'$MEMD' --help-config | grep -q '^  redact/enabled' && '$MEMD' --help-config | grep -q '^  redact/patterns'"

# --- disabled: the secret is stored, and the same grep finds it ------------------------
rm -rf "$DATA"
start_memd --set redact/enabled=0
"$MEMCTL" capture --agent redact "kept as sent: $GH" > /dev/null
stop_memd
check "redact/enabled=0 stores the text as sent (grep finds it)" grep -aqF "$GH" "$DATA/data.mdb"
finish
