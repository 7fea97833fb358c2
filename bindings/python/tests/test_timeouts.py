"""Timeouts: memd down (Unavailable within the timeout), memd silent
(Timeout), per-call timeouts, and late replies that must not be taken for
the next call's."""
import os
import socket
import tempfile
import time

import pytest

import memd


def test_no_memd_is_unavailable_within_the_timeout():
    with memd.Client("ipc:///tmp/memd-py-nonexistent-%d/memd.sock" % os.getpid(),
                     timeout=0.3) as c:
        t0 = time.monotonic()
        with pytest.raises(memd.Unavailable, match="memd is not running") as e:
            c.ping()
        elapsed = time.monotonic() - t0
    assert e.value.code == memd.Code.UNAVAILABLE
    assert 0.25 <= elapsed < 1.0, elapsed


def test_a_dead_socket_file_is_unavailable():
    """A socket file left behind by a memd that died: nothing accepts."""
    d = tempfile.mkdtemp(prefix="memd-py.", dir="/tmp")
    path = os.path.join(d, "memd.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.close()           # the file stays, nobody listens
    try:
        with memd.Client("ipc://" + path, timeout=0.3) as c:
            t0 = time.monotonic()
            with pytest.raises(memd.Unavailable, match="could not connect"):
                c.status()
            assert time.monotonic() - t0 < 1.0
    finally:
        os.unlink(path)
        os.rmdir(d)


def test_silent_memd_times_out_and_late_replies_are_dropped(spawn):
    """memd stopped (SIGSTOP) after the connection is up: the request goes
    out and no reply comes, so the call raises Timeout (also a TimeoutError)
    within the per-call timeout. Once memd runs again it answers that late
    ping; the next call must get its own reply, not the stale one."""
    server = spawn()
    with server.client(timeout=30) as c:
        c.ping()
        server.freeze()
        try:
            t0 = time.monotonic()
            with pytest.raises(memd.Timeout, match="no reply from memd") as e:
                c.ping(timeout=0.3)
            elapsed = time.monotonic() - t0
            assert isinstance(e.value, TimeoutError) and isinstance(e.value, memd.Unavailable)
            assert 0.25 <= elapsed < 1.5, elapsed
        finally:
            server.thaw()
        st = c.status(timeout=5)
        assert isinstance(st, memd.DaemonStatus) and st.pid == server.pid
        assert c.ping().pid == server.pid


def test_client_timeout_applies_to_every_call(spawn):
    server = spawn()
    with server.client(timeout=0.2) as c:
        c.capture("ready")
        server.freeze()
        try:
            for call in (lambda: c.recall("ready"), lambda: c.get(1), c.job_stats):
                t0 = time.monotonic()
                with pytest.raises(memd.Timeout):
                    call()
                assert time.monotonic() - t0 < 1.0
        finally:
            server.thaw()
        assert c.recall("ready", timeout=5)[0].record.text == "ready"


def test_memd_restart_is_survived(spawn):
    """A client outlives a memd restart on the same endpoint (it reconnects)."""
    server = spawn()
    with server.client(timeout=3) as c:
        first = c.ping().pid
        assert server.stop() == 0
        with pytest.raises(memd.Unavailable):
            c.ping(timeout=0.2)
        server.start()
        assert c.ping().pid != first
