"""Fixtures: a real memd on temporary directories, as tests/integration/lib.sh
starts one, and clients talking to it over ipc.

ctest sets MEMD_BINARY (the built memd) and PYTHONPATH (bindings/python and
BUILD/python, where protoc put memd_pb2). Run by hand from the repo root:

    PYTHONPATH=bindings/python:build/python /usr/bin/python3 -m pytest bindings/python/tests
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
for path in (os.path.join(REPO, "bindings", "python"), os.path.join(REPO, "build", "python")):
    if path not in sys.path:
        sys.path.append(path)

import memd  # noqa: E402

MEMD_BINARY = os.environ.get("MEMD_BINARY") or os.path.join(REPO, "build", "memd")


class MemdProcess:
    """A memd on its own temporary data and run directories. `wrap` prefixes
    the command line (e.g. unshare); `preexec` runs in the child."""

    def __init__(self, *args, wrap=(), preexec=None, data_dir=None):
        self.tmp = tempfile.mkdtemp(prefix="memd-py.", dir="/tmp")
        self.data_dir = data_dir or os.path.join(self.tmp, "data")
        self.run_dir = os.path.join(self.tmp, "run")
        self.endpoint = "ipc://%s/memd.sock" % self.run_dir
        self.log_path = os.path.join(self.tmp, "memd.log")
        os.makedirs(self.data_dir, exist_ok=True)
        cmd = list(wrap) + [MEMD_BINARY, "--data-dir", self.data_dir, "--run-dir", self.run_dir]
        self.cmd = cmd + list(args)
        self.preexec = preexec
        self.start()

    def start(self):
        """Starts memd (again, on the same directories) and waits until it answers."""
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, preexec_fn=self.preexec)
        self._wait_ready()

    def _wait_ready(self):
        with memd.Client(self.endpoint, timeout=0.2) as probe:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError("memd died at start:\n" + self.log())
                try:
                    probe.ping()
                    return
                except memd.Unavailable:
                    time.sleep(0.02)
        self.kill()
        raise RuntimeError("memd did not answer within 10 s:\n" + self.log())

    @property
    def pid(self):
        return self.proc.pid

    def client(self, **kw):
        kw.setdefault("timeout", 5.0)
        return memd.Client(self.endpoint, **kw)

    def freeze(self):
        """SIGSTOP, and wait until every thread of memd is stopped (a thread
        busy on another core can otherwise still answer for a moment)."""
        os.kill(self.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 5
        task_dir = "/proc/%d/task" % self.pid
        while time.monotonic() < deadline:
            states = []
            for tid in os.listdir(task_dir):
                try:
                    with open(os.path.join(task_dir, tid, "stat")) as f:
                        states.append(f.read().rsplit(")", 1)[1].split()[0])
                except OSError:
                    pass
            if states and all(s in "Tt" for s in states):
                return
            time.sleep(0.005)
        raise RuntimeError("memd did not stop on SIGSTOP")

    def thaw(self):
        os.kill(self.pid, signal.SIGCONT)

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self, timeout=10):
        """SIGTERM, then the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait()

    def cleanup(self):
        self.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


def assert_clean_exit(server):
    """memd stops on SIGTERM with exit code 0 and no dangling sockets."""
    rc = server.stop()
    log = server.log()
    assert rc == 0, "memd exited %s:\n%s" % (rc, log[-3000:])
    assert "dangling" not in log, log[-3000:]


@pytest.fixture(scope="session")
def server():
    """One memd for the session (tests use their own agents and job kinds).
    Short retry backoff so that lease-expiry tests are fast."""
    s = MemdProcess("--set", "jobs/backoff_ms=20", "--set", "jobs/backoff_max_ms=40")
    try:
        yield s
        assert_clean_exit(s)
    finally:
        s.cleanup()


@pytest.fixture
def spawn():
    """Starts extra memd instances for one test (stopped afterwards)."""
    started = []

    def start(*args, **kw):
        s = MemdProcess(*args, **kw)
        started.append(s)
        return s

    yield start
    for s in started:
        s.cleanup()


@pytest.fixture
def client(server, request):
    """A client of the session memd whose default agent is the test's name."""
    with server.client(agent=request.node.name[:200]) as c:
        yield c
