#!/usr/bin/env bash
# `memctl hook` against a real memd: user-prompt captures the prompt;
# session-start injects a context holding it; stop captures the last
# assistant message of a transcript; bad input and memd down are a silent
# exit 0 within the time limit; install is idempotent and keeps every
# other setting.
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || { echo "jq is needed (make deps installs it)" >&2; exit 1; }
unset MEMD_AGENT CLAUDE_PROJECT_DIR MEMD_HOOK_TIMEOUT_MS CLAUDE_CONFIG_DIR
export XDG_STATE_HOME="$T/state"
PROJECT="$T/work/shop"
mkdir -p "$PROJECT/.git" "$PROJECT/src"
start_memd

# hook EVENT JSON [ARGS...]: runs the hook; stdout to $T/out, exit code to $T/rc.
hook () {
    local event=$1 input=$2; shift 2
    local rc=0
    printf '%s' "$input" | "$MEMCTL" hook "$event" "$@" > "$T/out" 2> "$T/err" || rc=$?
    echo "$rc" > "$T/rc"
}
ms () { date +%s%3N; }
empty_and_ok () { [ "$(cat "$T/rc")" = 0 ] && [ ! -s "$T/out" ]; }
# all 'COND' ...: every shell condition holds (evaluated in order).
all () { local c; for c in "$@"; do eval "$c" || return 1; done; }

# --- user-prompt -------------------------------------------------------------------
hook user-prompt "{\"session_id\":\"sess-1\",\"transcript_path\":\"$T/none.jsonl\",\"cwd\":\"$PROJECT/src\",\"hook_event_name\":\"UserPromptSubmit\",\"prompt\":\"Please make the kumquat exporter write CSV with a header row\"}"
check "user-prompt exits 0 with nothing on stdout" empty_and_ok
"$MEMCTL" --json recall --agent shop kumquat > "$T/recall.json"
check "the prompt is captured for the project's agent (git root name)" \
    [ "$(jq -r '.hits[0].text' "$T/recall.json")" = "Please make the kumquat exporter write CSV with a header row" ]
check "... in the hook's session, episodic, role user, source claude-code" \
    [ "$(jq -r '.hits[0] | "\(.session) \(.kind) \(.metadata.role) \(.metadata.source) \(.metadata.event)"' "$T/recall.json")" \
      = "sess-1 episodic user claude-code UserPromptSubmit" ]
prompt_id=$(jq -r '.hits[0].id' "$T/recall.json")

# --- session-start -----------------------------------------------------------------
hook session-start "{\"session_id\":\"sess-2\",\"cwd\":\"$PROJECT\",\"hook_event_name\":\"SessionStart\",\"source\":\"startup\"}"
check "session-start exits 0" [ "$(cat "$T/rc")" = 0 ]
check "session-start prints SessionStart hookSpecificOutput" \
    [ "$(jq -r .hookSpecificOutput.hookEventName "$T/out")" = SessionStart ]
context=$(jq -r .hookSpecificOutput.additionalContext "$T/out")
check "the injected context holds the captured prompt with its id and session" \
    grep -qE "^- \[#$prompt_id \| [0-9-]{10} [0-9:]{5} \| session sess-1\] user: Please make the kumquat exporter" <<<"$context"
check "stdout is one JSON document" [ "$(jq -s length "$T/out")" = 1 ]
# A fact stored through memd-mcp in the same project shows too, newest first.
printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"memory_capture","arguments":{"text":"Exports are UTF-8 with a BOM for Excel"}}}' \
    | CLAUDE_PROJECT_DIR="$PROJECT" "$BIN/memd-mcp" > /dev/null
hook session-start "{\"session_id\":\"sess-2\",\"cwd\":\"$PROJECT\"}"
context=$(jq -r .hookSpecificOutput.additionalContext "$T/out")
check "a memory captured with memd-mcp is in the next session's context, first" \
    [ "$(sed -n 2p <<<"$context" | sed -E 's/^- \[#[0-9]+ \| [^]]*\] //')" = "Exports are UTF-8 with a BOM for Excel" ]
check "... before the earlier prompt" grep -q "kumquat exporter" <(sed -n 3p <<<"$context")
hook session-start "{\"session_id\":\"sess-2\",\"cwd\":\"$T/elsewhere\"}"
check "another project's session-start shows nothing" empty_and_ok

# --- stop ---------------------------------------------------------------------------
cat > "$T/transcript.jsonl" <<'EOF'
{"type":"summary","summary":"earlier"}
{"isSidechain":false,"type":"user","message":{"role":"user","content":"fix the exporter"}}
{"isSidechain":false,"type":"assistant","message":{"id":"msg_a","role":"assistant","content":[{"type":"text","text":"Looking at the exporter first."}]}}
{"isSidechain":false,"type":"assistant","message":{"id":"msg_a","role":"assistant","content":[{"type":"tool_use","id":"t1","name":"Read","input":{}}]}}
{"isSidechain":false,"type":"user","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"..."}]}}
{"isSidechain":false,"type":"assistant","message":{"id":"msg_b","role":"assistant","content":[{"type":"text","text":"The kumquat exporter now writes a header row."}]}}
{"isSidechain":false,"type":"assistant","message":{"id":"msg_b","role":"assistant","content":[{"type":"text","text":"Tests are in tests/test_export.py."}]}}
{"isSidechain":true,"type":"assistant","message":{"id":"msg_c","role":"assistant","content":[{"type":"text","text":"a subagent's words"}]}}
{"type":"system","content":"hook ran"}
EOF
hook stop "{\"session_id\":\"sess-1\",\"transcript_path\":\"$T/transcript.jsonl\",\"cwd\":\"$PROJECT\",\"hook_event_name\":\"Stop\",\"stop_hook_active\":false}"
check "stop exits 0 with nothing on stdout" empty_and_ok
"$MEMCTL" --json recall --agent shop header row tests export > "$T/recall.json"
want=$'The kumquat exporter now writes a header row.\n\nTests are in tests/test_export.py.'
check "stop captured the last assistant message (both of its text blocks, nothing else)" \
    [ "$(jq -r '.hits[] | select(.metadata.role == "assistant") | .text' "$T/recall.json")" = "$want" ]
check "... with role assistant, event Stop, session sess-1" \
    [ "$(jq -r '.hits[] | select(.metadata.role == "assistant") | "\(.session) \(.metadata.event)"' "$T/recall.json")" = "sess-1 Stop" ]
hook stop "{\"session_id\":\"sess-3\",\"cwd\":\"$PROJECT\",\"last_assistant_message\":\"Given directly: the mango importer is done.\"}"
check "stop takes last_assistant_message when Claude Code sends it" \
    bash -c "'$MEMCTL' recall --agent shop mango importer | grep -q 'Given directly'"
# A 6 MiB transcript: only its end is read, and the answer is still found.
{ for _ in $(seq 1 3000); do printf '{"type":"user","message":{"role":"user","content":[{"type":"tool_result","content":"%02000d"}]}}\n' 0; done
  echo '{"type":"user","message":{"role":"user","content":"and the papaya?"}}'
  echo '{"type":"assistant","message":{"id":"m9","role":"assistant","content":[{"type":"text","text":"The papaya report is weekly."}]}}'; } > "$T/big.jsonl"
start=$(ms)
hook stop "{\"session_id\":\"sess-4\",\"transcript_path\":\"$T/big.jsonl\",\"cwd\":\"$PROJECT\"}"
check "a large transcript is read from its end ($(( $(ms) - start )) ms)" \
    bash -c "'$MEMCTL' recall --agent shop papaya weekly | grep -q 'The papaya report is weekly'"
hook stop "{\"session_id\":\"sess-5\",\"transcript_path\":\"$T/transcript-missing.jsonl\",\"cwd\":\"$PROJECT\"}"
check "a missing transcript: exit 0, nothing on stdout" empty_and_ok

# --- bad input --------------------------------------------------------------------------
for input in 'not json' '' '[1,2]' '{"prompt": 42}' '{"cwd": "/tmp"}'; do
    hook user-prompt "$input"
    check "user-prompt with input '$input': exit 0, nothing on stdout" empty_and_ok
    hook session-start "$input"
    check "session-start with input '$input': exit 0, nothing on stdout" empty_and_ok
done
hook user-prompt '{}' --no-such-flag
check "a wrong command line exits 1, never 2 (2 would block the prompt)" [ "$(cat "$T/rc")" = 1 ]
start=$(ms)
rc=0
"$MEMCTL" hook user-prompt --hook-timeout 300 < <(sleep 3) > "$T/out" || rc=$?
took=$(( $(ms) - start ))
check "stdin that never ends: exit 0 after the time limit ($took ms)" \
    all '[ "$rc" = 0 ]' '[ ! -s "$T/out" ]' '[ "$took" -lt 1500 ]'
live_before=$("$MEMCTL" --json status | jq .records.live)

# --- memd down --------------------------------------------------------------------------
input="{\"session_id\":\"sess-9\",\"cwd\":\"$PROJECT\",\"prompt\":\"captured while memd is down\"}"
check "SIGTERM stops memd" stop_memd
# quiet_within MS WHAT EVENT...: each hook exits 0, prints nothing, within MS.
quiet_within () {
    local limit=$1 what=$2 event start took; shift 2
    for event in "$@"; do
        start=$(ms)
        hook "$event" "$input"
        took=$(( $(ms) - start ))
        check "$what: $event exits 0 with nothing on stdout ($took ms, limit $limit)" \
            all empty_and_ok '[ "$took" -lt "$limit" ]'
    done
}
quiet_within 1000 "memd stopped" user-prompt session-start stop
hook user-prompt "$input" --verbose
check "--verbose says why on stderr" grep -q "memd is not running" "$T/err"
start_memd
kill9_memd   # its socket file stays: connecting works, nobody answers
quiet_within 2500 "memd killed (1500 ms hook limit)" user-prompt session-start
start=$(ms)
MEMD_HOOK_TIMEOUT_MS=300 hook user-prompt "$input"
took=$(( $(ms) - start ))
check "\$MEMD_HOOK_TIMEOUT_MS shortens the limit ($took ms)" all empty_and_ok '[ "$took" -lt 1200 ]'
start_memd
check "nothing was captured while memd was down" [ "$("$MEMCTL" --json status | jq .records.live)" = "$live_before" ]

# --- install --------------------------------------------------------------------------
S="$T/claude/settings.json"
mkdir -p "$T/claude"
cat > "$S" <<'EOF'
{
  "model": "opus",
  "permissions": {"allow": ["Bash(make test)"], "deny": []},
  "env": {"FOO": "bar"},
  "hooks": {
    "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "audit.sh"}]}],
    "Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}]
  }
}
EOF
chmod 640 "$S"
jq -S 'del(.hooks)' "$S" > "$T/others.json"
rc=0; "$MEMCTL" hook install --settings "$S" < /dev/null > "$T/out" 2>&1 || rc=$?
check "without --yes and no terminal, install refuses (exit 1)" [ "$rc" = 1 ]
check "... after showing the diff" grep -q '^+.*memctl hook session-start' "$T/out"
check "... and writes nothing" [ "$(jq -r '.hooks.SessionStart // "none"' "$S")" = none ]
"$MEMCTL" hook install --settings "$S" --yes > "$T/out"
for sub in session-start user-prompt stop; do
    check "install added 'hook $sub'" [ "$(grep -c "memctl hook $sub\"" "$S")" = 1 ]
done
check "every other setting is kept" cmp -s "$T/others.json" <(jq -S 'del(.hooks)' "$S")
check "other hooks are kept, on other events and on the same one" \
    [ "$(jq -r '[.hooks.PreToolUse[0].hooks[0].command, .hooks.Stop[0].hooks[0].command] | join(",")' "$S")" = "audit.sh,notify-send done" ]
check "the hooks run this memctl by its absolute path" \
    [ "$(jq -r '.hooks.UserPromptSubmit[0].hooks[0].command' "$S")" = "$(readlink -f "$MEMCTL") hook user-prompt" ]
check "the file keeps its mode" [ "$(stat -c %a "$S")" = 640 ]
cp "$S" "$T/after-first.json"
"$MEMCTL" hook install --settings "$S" --yes > "$T/out"
check "a second install changes nothing" cmp -s "$S" "$T/after-first.json"
check "... and says so" grep -q "nothing to change" "$T/out"
# memctl moved: the old command is pointed at the new path, not doubled.
sed -i 's#"[^"]*memctl hook stop"#"/old/place/memctl hook stop"#' "$S"
"$MEMCTL" hook install --settings "$S" --yes > /dev/null
check "a moved memctl is updated in place" \
    all '[ "$(jq "[.hooks.Stop[].hooks[] | select(.command | test(\"memctl hook stop\"))] | length" "$S")" = 1 ]' \
        '! grep -q /old/place "$S"'
# A settings file Claude Code could not read is left alone.
printf '{"hooks": [1, 2]}\n' > "$T/bad.json"
rc=0; "$MEMCTL" hook install --settings "$T/bad.json" --yes > /dev/null 2>&1 || rc=$?
check "settings of an unexpected shape: refused, untouched" \
    all '[ "$rc" != 0 ]' '[ "$(cat "$T/bad.json")" = "{\"hooks\": [1, 2]}" ]'
printf '{"model": ' > "$T/broken.json"
rc=0; "$MEMCTL" hook install --settings "$T/broken.json" --yes > /dev/null 2>&1 || rc=$?
check "settings that are not JSON: refused, untouched" \
    all '[ "$rc" != 0 ]' '[ "$(cat "$T/broken.json")" = "{\"model\": " ]'
# The default place, created with its directory; a symlink is followed.
HOME="$T/home" "$MEMCTL" hook install --yes > /dev/null
check "default settings: ~/.claude/settings.json is created" \
    [ "$(jq '.hooks | keys | length' "$T/home/.claude/settings.json")" = 3 ]
mkdir -p "$T/dotfiles" "$T/home2/.claude"
echo '{"model": "sonnet"}' > "$T/dotfiles/settings.json"
ln -s "$T/dotfiles/settings.json" "$T/home2/.claude/settings.json"
HOME="$T/home2" "$MEMCTL" hook install --yes > /dev/null
check "a symlinked settings.json stays a symlink, its target gets the hooks" \
    all '[ -L "$T/home2/.claude/settings.json" ]' \
        '[ "$(jq -r ".model + \" \" + (.hooks | keys | length | tostring)" "$T/dotfiles/settings.json")" = "sonnet 3" ]'
stop_memd
finish
