"""The job queue from Python: enqueue → lease → extend → complete, failures
and dead letters, dedupe, the long-poll, and the example worker."""
import json
import os
import subprocess
import sys
import threading
import time

import memd

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "..", "examples", "summarize_worker.py")


def test_enqueue_lease_extend_complete(client):
    kind = "py-basic"
    e = client.enqueue(kind, "record 7", max_attempts=3)
    assert isinstance(e, memd.Enqueued) and e.id > 0 and not e.duplicate
    [job] = client.lease(kind, lease_ms=10000, worker="py-test")
    assert (job.id, job.kind, job.payload, job.text) == (e.id, kind, b"record 7", "record 7")
    assert job.state == memd.JobState.LEASED and job.fence == 1 and job.attempts == 1
    assert job.lease_owner == "py-test" and job.max_attempts == 3
    extended = client.extend(job, lease_ms=60000)
    assert extended.lease_expires_at_ms > job.lease_expires_at_ms
    done = client.complete(job)
    assert done.state == memd.JobState.DONE and done.id == job.id
    assert client.lease(kind) == []
    listed = client.list_jobs(state="done", kind=kind)
    assert [j.id for j in listed.jobs] == [job.id] and not listed.more
    kinds = {k.kind: k for k in client.job_stats().kinds}
    assert kinds[kind].done == 1 and kinds[kind].queued == 0


def test_dedupe_key(client):
    a = client.enqueue("py-dedupe", b"one", dedupe_key="s1")
    b = client.enqueue("py-dedupe", b"two", dedupe_key="s1")
    assert b == memd.Enqueued(id=a.id, duplicate=True)
    assert client.enqueue("py-dedupe", b"three", dedupe_key="s2").id != a.id


def test_fail_dead_letter_retry_purge(client):
    kind = "py-dead"
    first = client.enqueue(kind, b"bad input").id
    [job] = client.lease(kind)
    failed = client.fail(job, fatal=True, error="cannot parse")
    assert failed.state == memd.JobState.DEAD and failed.last_error == "cannot parse"
    assert client.retry_jobs(first) == 1
    [job] = client.lease(kind)
    assert job.attempts == 1          # attempts start again after a retry
    retry_later = client.fail(job, error="flaky", retry_after_ms=60000)
    assert retry_later.state == memd.JobState.FAILED
    assert client.list_jobs(state=memd.JobState.FAILED, kind=kind).jobs[0].id == first
    second = client.enqueue(kind, b"also bad").id
    [job] = client.lease(kind)
    assert job.id == second
    client.fail(job.id, job.fence, fatal=True)
    assert client.purge_jobs(kind=kind) == 1
    assert client.list_jobs(state="dead", kind=kind).jobs == []
    # Retrying what is not a dead letter says which ids.
    try:
        client.retry_jobs([first])
        raise AssertionError("expected NotFound")
    except memd.NotFound as e:
        assert e.missing == [first] and e.count == 0


def test_lease_long_poll_returns_when_another_client_enqueues(server):
    """A Lease parked in memd is answered as soon as another client enqueues,
    long before its wait ends; the worker never polls."""
    kind = "py-longpoll"

    def enqueue_later():
        time.sleep(0.3)
        with server.client() as producer:
            producer.enqueue(kind, b"wake up")

    with server.client(timeout=2) as worker:
        t = threading.Thread(target=enqueue_later)
        t0 = time.monotonic()
        t.start()
        jobs = worker.lease(kind, wait_ms=8000)   # beyond the 2 s client timeout on purpose
        elapsed = time.monotonic() - t0
        t.join()
        assert [j.payload for j in jobs] == [b"wake up"]
        assert 0.25 <= elapsed < 4, elapsed
        worker.complete(jobs[0])
        # With nothing enqueued the wait ends empty, after wait_ms.
        t0 = time.monotonic()
        assert worker.lease(kind, wait_ms=300) == []
        assert 0.25 <= time.monotonic() - t0 < 3


def test_summarize_worker_example(server):
    """examples/summarize_worker.py leases a summarize job, captures a summary
    of the records it names and completes the job; a bad payload is failed
    fatally (a dead letter)."""
    agent = "py-worker-agent"
    with server.client(agent=agent) as c:
        ids = [x.id for x in c.capture_many([
            "The deploy on Tuesday failed because the migration timed out.",
            "We rolled back and will split the migration into smaller steps.",
        ], agent=agent)]
        good = c.enqueue("summarize", json.dumps({"agent": agent, "session": "s1",
                                                  "ids": ids})).id
        bad = c.enqueue("summarize", b"not json").id
        env = dict(os.environ, MEMD_ENDPOINT=server.endpoint)
        out = subprocess.run([sys.executable, WORKER, "--count", "2", "--wait-ms", "3000"],
                             env=env, capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        done = {j.id: j for j in c.list_jobs(kind="summarize").jobs}
        assert done[good].state == memd.JobState.DONE
        assert done[bad].state == memd.JobState.DEAD and "payload" in done[bad].last_error
        [hit] = c.recall("migration", kind="summary")
        assert hit.record.session == "s1" and "summary" in hit.record.tags
        assert hit.record.metadata["sources"] == ",".join(map(str, ids))
        assert "deploy on Tuesday failed" in hit.record.text
