#!/usr/bin/env bash
# Running memd as a service (issue 9): `make install` puts the programs, the
# man pages and the systemd user unit under DESTDIR/PREFIX; the unit names
# the installed memd and passes systemd-analyze; memd speaks systemd's
# Type=notify protocol (READY=1 once it serves, STOPPING=1 when it stops).
source "$(dirname "$0")/lib.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD_DIR=$(cd "$BIN" && pwd)

# make install DESTDIR=… PREFIX=/usr
DEST="$T/dest"
check "make install DESTDIR=\$tmp PREFIX=/usr succeeds" \
      bash -c "make -s -C '$SRC' install BUILD='$BUILD_DIR' DESTDIR='$DEST' PREFIX=/usr JOBS=2 > '$T/install.log' 2>&1"
for f in usr/bin/memd usr/bin/memctl usr/bin/memd-mcp; do
    check "$f is installed and executable" [ -x "$DEST/$f" ]
done
for f in usr/share/man/man1/memd.1 usr/share/man/man1/memctl.1 usr/lib/systemd/user/memd.service; do
    check "$f is installed" [ -s "$DEST/$f" ]
done
check "nothing else is installed" [ "$(find "$DEST" -type f | wc -l)" = 6 ]
check "the unit runs the installed memd" grep -qx 'ExecStart=/usr/bin/memd $MEMD_ARGS' "$DEST/usr/lib/systemd/user/memd.service"
check "the unit is Type=notify and wanted by default.target" \
      bash -c "grep -qx 'Type=notify' '$DEST/usr/lib/systemd/user/memd.service' && grep -qx 'WantedBy=default.target' '$DEST/usr/lib/systemd/user/memd.service'"
check "the installed memd runs" bash -c "'$DEST/usr/bin/memd' --version | grep -q '^memd '"
check "the installed memctl runs" bash -c "'$DEST/usr/bin/memctl' --version > /dev/null"
if command -v groff > /dev/null; then
    for page in memd memctl; do
        check "man page $page.1 renders without warnings" \
              bash -c "[ -z \"\$(groff -man -Tutf8 -ww -z '$DEST/usr/share/man/man1/$page.1' 2>&1)\" ]"
    done
fi

check "make uninstall DESTDIR=\$tmp removes them all" \
      bash -c "make -s -C '$SRC' uninstall BUILD='$BUILD_DIR' DESTDIR='$DEST' > /dev/null 2>&1 && [ -z \"\$(find '$DEST' -type f)\" ]"

# Another PREFIX, no DESTDIR: the unit follows the prefix, and systemd likes it.
PREFIX="$T/prefix"
check "make install PREFIX=\$tmp/prefix succeeds" \
      bash -c "make -s -C '$SRC' install BUILD='$BUILD_DIR' PREFIX='$PREFIX' JOBS=2 >> '$T/install.log' 2>&1"
check "the unit's ExecStart follows PREFIX" grep -qx "ExecStart=$PREFIX/bin/memd \$MEMD_ARGS" "$PREFIX/lib/systemd/user/memd.service"
if command -v systemd-analyze > /dev/null; then
    systemd-analyze verify --man=no "$PREFIX/lib/systemd/user/memd.service" > "$T/verify.log" 2>&1 || true
    check "systemd-analyze verify finds nothing to say" [ ! -s "$T/verify.log" ]
    [ -s "$T/verify.log" ] && cat "$T/verify.log" >&2
fi

# sd_notify: READY=1 once memd answers, STOPPING=1 at SIGTERM; a path and an
# abstract socket.
notify_test () {  # notify_test SOCKET_NAME (a path, or @name)
    local name=$1 bind=$1
    [ "${name:0:1}" = @ ] && bind="\\0${name:1}"
    /usr/bin/python3 -c "
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1].replace('\\\\0', '\\0', 1))
s.settimeout(15)
print('listening', flush=True)
for _ in range(2):
    print(s.recv(4096).decode().replace('\n', ' '), flush=True)
" "$bind" > "$T/notify.out" 2>&1 &
    local listener=$!
    # memd's notification is a datagram: the socket must be bound before it starts.
    for _ in $(seq 1 300); do grep -q listening "$T/notify.out" && break; sleep 0.05; done
    NOTIFY_SOCKET="$name" start_memd
    for _ in $(seq 1 100); do grep -q READY=1 "$T/notify.out" && break; sleep 0.05; done
    check "memd sent READY=1 to $name" grep -q 'READY=1' "$T/notify.out"
    check "memd stops" stop_memd
    wait $listener || true
    check "and STOPPING=1 when it stopped" grep -q 'STOPPING=1' "$T/notify.out"
}
notify_test "$T/notify.sock"
notify_test "@memd-test-notify-$$"
check "without NOTIFY_SOCKET memd starts as before" start_memd
check "memd stops" stop_memd
finish
