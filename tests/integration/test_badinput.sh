#!/usr/bin/env bash
# Hostile and broken requests get error replies; memd keeps serving.
source "$(dirname "$0")/lib.sh"
start_memd
check "bad-input suite" "$BIN/test_badinput" "$MEMD_ENDPOINT"
check "memd still serves afterwards" "$MEMCTL" ping
check "memd exits cleanly" stop_memd
finish
