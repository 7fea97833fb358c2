#!/usr/bin/env bash
# Access control (DESIGN §11, docs/operations.md#access-control): a client
# running as another user is refused even when it can reach the socket,
# by the ipc uid filter and by the ZAP handler alone, and is accepted once
# api/allow_uids names it; refused connections are counted in status.
# Also: the run directory must be private and memd's own, tcp needs
# api/allow_tcp, and a reply to a client that has gone is dropped and
# counted. Needs root (to create the other user); exits 77 (skipped)
# otherwise.
source "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ]; then
    echo "skipped: this test creates a user and runs a client as it, which needs root"
    exit 77
fi
for tool in useradd userdel setpriv; do
    if ! command -v $tool >/dev/null; then
        echo "skipped: $tool is missing (Debian packages passwd, util-linux)"
        exit 77
    fi
done

OTHER="memdt$$"
useradd --system --no-create-home --shell /usr/sbin/nologin "$OTHER"
OTHER_UID=$(id -u "$OTHER")
trap 'userdel "$OTHER" 2>/dev/null || true; cleanup' EXIT

# The other user's memctl, where it can run it; the path to the socket
# made traversable (the run directory itself stays as memd checks it).
chmod 711 "$T"
mkdir -m 755 "$T/bin"
cp "$MEMCTL" "$T/bin/memctl"
as_other () {
    setpriv --reuid "$OTHER_UID" --regid "$(id -g "$OTHER")" --clear-groups \
        env -u MEMD_ENDPOINT "$T/bin/memctl" --endpoint "$MEMD_ENDPOINT" "$@"
}
status_field () {
    "$MEMCTL" --json status | sed -E "s/.*\"$1\":([0-9]+).*/\1/"
}

# --- 1. The default: the other uid is refused by the ipc uid filter ---------
start_memd --set store/sync=none
check "the run directory is created 0700" [ "$(stat -c %a "$RUN")" = 700 ]
# Loosen what the file system guards, as a mistake or another route might.
chmod 711 "$RUN"; chmod 666 "$RUN/memd.sock"
rc=0; as_other --timeout 1000 ping >/dev/null 2>"$T/other.err" || rc=$?
check "a client of uid $OTHER_UID is refused (exit $rc: $(head -c 120 "$T/other.err"))" [ $rc -eq 3 ]
refused=$(status_field connections_refused)
check "status counts the refused connections ($refused)" [ "$refused" -gt 0 ]
check "memd's own uid is still served" "$MEMCTL" --timeout 2000 --json ping
stop_memd

# --- 2. The ZAP handler alone (no ipc filter) refuses, and logs who -------------
chmod 700 "$RUN"
start_memd --set store/sync=none --set api/ipc_uid_filter=0
chmod 711 "$RUN"; chmod 666 "$RUN/memd.sock"
rc=0; as_other --timeout 1000 ping >/dev/null 2>&1 || rc=$?
check "without the ipc filter, the ZAP handler refuses uid $OTHER_UID (exit $rc)" [ $rc -eq 3 ]
check "status counts it ($(status_field connections_refused))" [ "$(status_field connections_refused)" -gt 0 ]
check "the log names the refused uid" grep -q "uid $OTHER_UID (pid [0-9]*) is not memd's uid" "$T/memd.log"
stop_memd

# --- 3. api/allow_uids lets that uid in ---------------------------------------
chmod 711 "$RUN"   # a shared run directory is accepted when other uids are allowed
start_memd --set store/sync=none --set api/allow_uids="$OTHER_UID"
check "a shared run directory is accepted with a warning" \
    grep -q "run directory $RUN has mode 0711" "$T/memd.log"
chmod 666 "$RUN/memd.sock"
check "with api/allow_uids=$OTHER_UID, that uid is served" as_other --timeout 3000 --json ping
id=$(as_other capture "written by another user")
check "and can capture (id $id)" [ -n "$id" ]
check "memd's own uid too" "$MEMCTL" --json get "$id"
check "nothing was refused" [ "$(status_field connections_refused)" -eq 0 ]
stop_memd

# --- 4. The run directory must be private and memd's own ------------------------
refused_with () {  # refused_with PATTERN MEMD-ARGS...: memd exits 1 saying PATTERN
    local pattern=$1; shift
    local rc=0
    "$MEMD" --data-dir "$DATA" "$@" >"$T/start.log" 2>&1 || rc=$?
    [ $rc -eq 1 ] && grep -q "$pattern" "$T/start.log"
}
check "a group/world-accessible run directory is refused" \
    refused_with "has mode 0711.*chmod 700" --run-dir "$RUN"
chmod 700 "$RUN"; chown "$OTHER" "$RUN"
check "a run directory of another user is refused" \
    refused_with "belongs to uid $OTHER_UID" --run-dir "$RUN"
chown root "$RUN"

# --- 5. tcp only when allowed ----------------------------------------------------
PORT=$((20000 + RANDOM % 20000))
check "a tcp endpoint is refused without api/allow_tcp" \
    refused_with "api/allow_tcp" --endpoint "tcp://127.0.0.1:$PORT"
"$MEMD" --data-dir "$DATA" --endpoint "tcp://127.0.0.1:$PORT" --set api/allow_tcp=1 \
    >>"$T/memd.log" 2>&1 &
MEMD_PID=$!
ok=1
for _ in $(seq 1 300); do
    "$MEMCTL" --endpoint "tcp://127.0.0.1:$PORT" --timeout 200 ping >/dev/null 2>&1 && { ok=0; break; }
    sleep 0.05
done
check "with api/allow_tcp=1 it serves tcp" [ $ok -eq 0 ]
check "and warns that tcp peers are not authenticated" grep -q "not authenticated" "$T/memd.log"
stop_memd

# --- 6. A reply to a client that has gone is dropped, not blocking -----------
start_memd --set store/sync=none
# (killed after 1 s, long enough for the Lease to reach memd on a loaded machine)
( timeout -s KILL 1 "$MEMCTL" jobs lease nothing --wait 2000 >/dev/null 2>&1 || true ) 2>/dev/null
sleep 1
for _ in $(seq 1 150); do
    [ "$(status_field replies_dropped)" -gt 0 ] && break
    sleep 0.1
done
check "the parked Lease's reply to a vanished client is dropped and counted" \
    [ "$(status_field replies_dropped)" -gt 0 ]
check "memd serves on" "$MEMCTL" --json ping
check "memd stops cleanly" stop_memd
finish
