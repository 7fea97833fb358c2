#!/usr/bin/env bash
# File-descriptor exhaustion (issue 10 item 4): memd under a small
# RLIMIT_NOFILE, then far more client connections than it has descriptors.
# memd must not crash (libzmq 4.3 aborts on EMFILE in accept: memd's
# runtime/mem_accept.c closes the surplus connections instead), a client
# that was connected before keeps being served, the surplus clients get no
# answer (UNAVAILABLE at their timeout), and once they go, new clients are
# served again and memd's descriptors are back to where they were.
source "$(dirname "$0")/lib.sh"
LIMIT=96
# Under valgrind the top 12 descriptors of the limit are valgrind's own (its
# log, pipes): memd gets them on top of its 96 and they are not counted.
RESERVED=0
[ "${MEMD_VALGRIND:-0}" = 1 ] && RESERVED=12
fds () { ls "/proc/$MEMD_PID/fd" | awk -v top=$LIMIT '$1 < top' | wc -l; }

MEMD_WRAP=(prlimit "--nofile=$((LIMIT + RESERVED)):$((LIMIT + RESERVED))")
start_memd --set recall/workers=2
base=$(fds)
check "memd runs with $base of $LIMIT descriptors in use" [ "$base" -lt $((LIMIT - 20)) ]
"$MEMCTL" capture "a record captured before the storm" > /dev/null

out=$("$BIN/fault_clients" "$MEMD_ENDPOINT" 300 3000)
echo "$out"
val () { sed -E "s/.* $1=(-?[0-9]+).*/\1/" <<< " $out"; }
check "memd is still running after 300 connections" kill -0 "$MEMD_PID"
check "some of the 300 were served ($(val answered))" [ "$(val answered)" -gt 0 ]
check "the rest were not served: no descriptor for them ($(val unanswered))" \
      [ "$(val unanswered)" -gt 0 ]
check "no client got a wrong reply" [ "$(val refused)" = 0 ]
check "a client connected before the storm was served during it" [ "$(val old_during)" = 1 ]
check "a new client was served after the storm ($(val recovered_ms) ms)" \
      [ "$(val recovered_ms)" -ge 0 ]
check "memd logged the connections it closed" grep -q "out of file descriptors" "$T/memd.log"

# Descriptors come back to the baseline once the clients have gone.
for _ in $(seq 1 50); do [ "$(fds)" -le "$base" ] && break; sleep 0.1; done
check "descriptors back to the baseline ($(fds), was $base)" [ "$(fds)" -le "$base" ]
check "data-plane requests work again" "$MEMCTL" capture "a record captured after the storm"
check "the records are there" bash -c "[ \"\$('$MEMCTL' recall -k 5 storm | wc -l)\" = 2 ]"
check "the store verifies" "$MEMCTL" --timeout 120000 verify
check "memd exits cleanly" stop_memd
finish
