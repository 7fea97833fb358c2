"""Runs `memctl top` on a pseudo-terminal, as a person in a terminal would,
and checks what it draws and that it leaves the terminal as it found it.

    pty_top.py MEMCTL HOW     HOW: q (the key), ctrl-c, or sigterm

Exit status 0 when every check holds; the failures are printed otherwise.
Stdlib only (run with /usr/bin/python3 or any python3)."""
import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time

LEAVE = b"\x1b[?25h\x1b[?1049l"   # cursor shown, normal screen
ENTER = b"\x1b[?1049h\x1b[?25l"


def read_for(master, seconds, until=None):
    """Reads what the terminal shows for `seconds` (or until `until` appears)."""
    out = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            continue
        try:
            chunk = os.read(master, 65536)
        except OSError:   # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
        if until and until in out:
            break
    return out


def main():
    memctl, how = sys.argv[1], sys.argv[2]
    failures = []

    def check(what, ok):
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            failures.append(what)

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 110, 0, 0))
    before = termios.tcgetattr(slave)

    def controlling_terminal():
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)   # after setsid: Ctrl-C sends SIGINT

    child = subprocess.Popen([memctl, "top", "--interval", "200"], stdin=slave, stdout=slave,
                             stderr=slave, start_new_session=True,
                             preexec_fn=controlling_terminal, close_fds=True)
    # Two seconds of frames (about ten): the state line, refreshed.
    shown = read_for(master, 2.0)
    text = shown.decode("utf-8", "replace")
    check("top switched to the alternate screen and hid the cursor", ENTER in shown)
    check("top shows the state line (state WAKE ...)", "state      WAKE since" in text)
    check("top shows records, requests, recall latency, jobs, graph and resources",
          all(s in text for s in ("records    ", "requests   ", "recall     p50",
                                  "jobs       ", "graph      generation -", "resources  ")))
    check("top refreshes (several frames drawn)", text.count("\x1b[H") >= 4)
    check("a later frame has request rates by kind", "status " in text and "/s" in text)
    check("top is still running", child.poll() is None)
    during = termios.tcgetattr(slave)
    check("while it runs, the terminal is in non-canonical mode without echo",
          not (during[3] & termios.ICANON) and not (during[3] & termios.ECHO))

    if how == "q":
        os.write(master, b"q")
        expected = 0
    elif how == "ctrl-c":
        os.write(master, b"\x03")
        expected = 0
    else:
        child.send_signal(signal.SIGTERM)
        expected = 128 + signal.SIGTERM
    tail = read_for(master, 5.0, until=LEAVE)
    try:
        rc = child.wait(5)
    except subprocess.TimeoutExpired:
        child.kill()
        rc = child.wait()
    tail += read_for(master, 0.2)
    check("top exits with status %d after %s (got %s)" % (expected, how, rc), rc == expected)
    check("top restores the screen and the cursor on the way out", LEAVE in tail)
    after = termios.tcgetattr(slave)
    check("the terminal's settings are exactly as before", after == before)
    os.close(slave)
    os.close(master)
    if failures:
        print("--- what the terminal showed ---")
        print((shown + tail).decode("utf-8", "replace")[-3000:])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
