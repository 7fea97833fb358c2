"""Every status code memd can return, provoked for real, surfaces as its
exception class carrying the code and memd's message."""
import os
import resource
import signal
import subprocess
import threading
import time

import pytest

import memd


def raises(cls, code, match):
    """pytest.raises for a memd error that must also carry its code."""
    class _Check:
        def __enter__(self):
            self.ctx = pytest.raises(cls, match=match)
            self.info = self.ctx.__enter__()
            return self.info

        def __exit__(self, *exc):
            handled = self.ctx.__exit__(*exc)
            assert self.info.value.code == code
            assert isinstance(self.info.value, memd.MemdError)
            return handled
    return _Check()


def test_invalid_argument(client):
    with raises(memd.InvalidArgument, memd.Code.INVALID_ARGUMENT, "record 0: text is empty"):
        client.capture("")
    with raises(memd.InvalidArgument, memd.Code.INVALID_ARGUMENT, "query is empty"):
        client.recall("")
    with raises(memd.InvalidArgument, memd.Code.INVALID_ARGUMENT, "k = 5000 is over"):
        client.recall("x", k=5000)
    with raises(memd.InvalidArgument, memd.Code.INVALID_ARGUMENT, "ids or a session_id"):
        client.forget()
    with raises(memd.InvalidArgument, memd.Code.INVALID_ARGUMENT, "not both"):
        client.forget([1], session="s")
    with raises(memd.InvalidArgument, memd.Code.INVALID_ARGUMENT, "kind"):
        client.enqueue("bad kind with spaces")
    # The natural Python error too.
    with pytest.raises(ValueError):
        client.capture("")


def test_not_found(client):
    with raises(memd.NotFound, memd.Code.NOT_FOUND, "1 of 1 records not found"):
        client.get(987654321)
    with raises(memd.NotFound, memd.Code.NOT_FOUND, "job 987654321 not found"):
        client.complete(987654321, 1)
    with raises(memd.NotFound, memd.Code.NOT_FOUND, "depends_on: job 987654321 does not exist"):
        client.enqueue("py-deps", depends_on=[987654321])
    with pytest.raises(LookupError):
        client.get(987654321)


def test_too_large(client):
    with raises(memd.TooLarge, memd.Code.TOO_LARGE, "record 0: text is 2097152 bytes"):
        client.capture("x" * (2 << 20))
    with raises(memd.TooLarge, memd.Code.TOO_LARGE, "10001 records is over the batch limit"):
        client.capture_many(["r%d" % i for i in range(10001)])
    # A request frame over api/max_message_bytes (16 MiB) is refused before it
    # is decoded: the reply has request_id 0 and is still this call's error.
    big = ["%d" % i + "y" * ((1 << 20) - 16) for i in range(17)]
    with raises(memd.TooLarge, memd.Code.TOO_LARGE, "over the limit of 16777216 bytes") as e:
        client.capture_many(big, timeout=20)
    assert e.value.request_id == 0
    client.ping()   # and the connection still works


def test_permission_denied_for_a_lost_lease(client):
    """A worker whose lease expired and went to another worker cannot
    complete the job: stale fence."""
    kind = "py-fence"
    client.enqueue(kind, b"slow work")
    [first] = client.lease(kind, lease_ms=50)
    assert first.fence == 1
    [second] = client.lease(kind, wait_ms=5000)       # due again after expiry + backoff
    assert second.id == first.id and second.fence == 2
    with raises(memd.PermissionDenied, memd.Code.PERMISSION_DENIED, "stale fence"):
        client.complete(first)
    with raises(memd.PermissionDenied, memd.Code.PERMISSION_DENIED, "stale fence"):
        client.extend(first)
    assert client.complete(second).state == memd.JobState.DONE


def test_resource_exhausted_when_too_many_leases_wait(spawn):
    server = spawn("--set", "jobs/max_waiting=1")
    with server.client() as a, server.client() as b:
        out = {}
        t = threading.Thread(target=lambda: out.update(jobs=a.lease("py-full", wait_ms=5000)))
        t.start()
        deadline = time.monotonic() + 5
        while b.job_stats().waiting_workers != 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        with raises(memd.ResourceExhausted, memd.Code.RESOURCE_EXHAUSTED,
                    "1 Lease requests are waiting already"):
            b.lease("py-full", wait_ms=5000)
        b.enqueue("py-full", b"unblock")
        t.join(10)
        assert [j.payload for j in out["jobs"]] == [b"unblock"]


def test_unavailable_when_memd_shuts_down(spawn):
    """A Lease parked in memd when it stops is answered UNAVAILABLE at once,
    not left to time out."""
    server = spawn()
    with server.client() as c, server.client() as watcher:
        out = {}

        def park():
            t0 = time.monotonic()
            try:
                c.lease("py-stop", wait_ms=20000)
            except memd.MemdError as e:
                out["error"] = e
            out["elapsed"] = time.monotonic() - t0

        t = threading.Thread(target=park)
        t.start()
        deadline = time.monotonic() + 5
        while watcher.job_stats().waiting_workers != 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.stop() == 0
        t.join(10)
    err = out["error"]
    assert type(err) is memd.Unavailable and err.code == memd.Code.UNAVAILABLE
    assert "shutting down" in str(err)
    assert out["elapsed"] < 10


def _unshare_works():
    try:
        return subprocess.run(["unshare", "-rm", "true"], capture_output=True,
                              timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.skipif(not _unshare_works(), reason="needs unshare -rm (user+mount namespaces)")
def test_store_full_when_the_disk_is_full(spawn, tmp_path):
    """memd's data directory on a 4 MiB tmpfs (in a private mount namespace),
    filled up behind its back: captures fail with STORE_FULL, nothing acked
    is lost, and memd recovers when space returns."""
    data = tmp_path / "data"
    data.mkdir()
    wrap = ["unshare", "-rm", "sh", "-c",
            'mount -t tmpfs -o size=4m tmpfs "$0" && exec "$@"', str(data)]
    server = spawn(wrap=wrap, data_dir=str(data))
    ballast = "/proc/%d/root%s/ballast" % (server.pid, data)
    with server.client() as c:
        kept = c.capture("written before the disk filled up").id
        with open(ballast, "wb") as f:
            with pytest.raises(OSError):
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
        with raises(memd.StoreFull, memd.Code.STORE_FULL, "the disk is full"):
            c.capture("this one does not fit " * 200)
        assert c.get(kept)[0].id == kept
        os.unlink(ballast)
        assert c.capture("this one does not fit " * 200).id > kept


def _limit_file_size():
    # data.mdb may not grow past 600 KiB: a write past it fails (EFBIG, which
    # LMDB reports as a short write: EIO) instead of killing memd (SIGXFSZ).
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (600 << 10, 600 << 10))


def test_internal_when_the_store_cannot_be_written(spawn):
    server = spawn(preexec=_limit_file_size)
    with server.client() as c:
        kept = c.capture("small and stored").id
        with raises(memd.Internal, memd.Code.INTERNAL, "write failed, nothing was stored"):
            for i in range(10):
                c.capture(("chunk %d " % i) * 40000)
        assert c.get(kept)[0].text == "small and stored"
        c.ping()


def test_unknown_codes_keep_their_number():
    err = memd.errors.error_for(42, "from a newer memd")
    assert type(err) is memd.MemdError and err.code == 42 and "from a newer memd" in str(err)
