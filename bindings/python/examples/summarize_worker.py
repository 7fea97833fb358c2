#!/usr/bin/env python3
"""summarize_worker — an example memd worker in Python: it leases `summarize`
jobs, writes a summary of the records each job names, and completes the job.

    summarize_worker.py [--endpoint EP] [--count N] [--wait-ms MS] [--lease-ms MS]

A job's payload is JSON: {"agent": "default", "session": "s1", "ids": [1, 2, 3]}.
For each job the worker reads those records (Get), builds a summary, captures
it as a SUMMARY record in the same agent and session (tag "summary", metadata
sources=<ids>), then completes the job. The summary here is extractive (the
first sentence of each record) so that the example runs anywhere: replace
summarize() with a call to your LLM.

The pattern every worker follows (docs/jobs.md):
  * Lease with a wait (long-poll): memd parks the request until a job is due,
    so the worker never polls.
  * Heartbeat long work with Extend every third of the lease. A Client is not
    thread-safe, so the heartbeat thread has its own Client.
  * Complete with the job's fence, or Fail: fatal for input that can never
    succeed (a dead letter), retryable otherwise.
  * PermissionDenied on Complete/Fail/Extend: the lease was lost and another
    worker has the job; drop the result. Unavailable: memd is restarting;
    wait and lease again.

Records are captured before the job completes; if the worker dies between
the two, the retried job captures the same text again, which memd dedupes.
SIGINT/SIGTERM stop the worker at once while it waits for work, else after
the job in hand. --count N stops after N jobs (for tests). Exit code 0.
"""
import argparse
import json
import os
import signal
import sys
import threading
import time

try:
    import memd
except ImportError:  # run from a source checkout: bindings/python and build/python
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:0] = [os.path.join(here, ".."), os.path.join(here, "..", "..", "..", "build",
                                                            "python")]
    import memd

KIND = "summarize"
stopping = threading.Event()
busy = False    # a job in hand: a signal stops the worker after it


def on_signal(signum, frame):
    """Waiting for work: leave at once (a job handed out at that very moment
    goes back to the queue when its lease expires). Working: finish first."""
    stopping.set()
    if not busy:
        raise SystemExit(0)


class BadJob(Exception):
    """The job's input can never succeed: fail it fatally."""


def summarize(records):
    """An extractive stand-in for an LLM: the first sentence of each record."""
    parts = []
    for r in records:
        first = r.text.strip().split(". ")[0].rstrip(".")
        parts.append(first[:200] + ".")
    return "Summary: " + " ".join(parts)


class Heartbeat:
    """Extends a job's lease every third of it, on a thread with its own Client."""

    def __init__(self, endpoint, job, lease_ms):
        self.job, self.lease_ms = job, lease_ms
        self.done = threading.Event()
        self.lost = False
        self.thread = threading.Thread(target=self._run, args=(endpoint,), daemon=True)

    def _run(self, endpoint):
        with memd.Client(endpoint, timeout=5) as client:
            while not self.done.wait(self.lease_ms / 3000.0):
                try:
                    client.extend(self.job, lease_ms=self.lease_ms)
                except memd.PermissionDenied:
                    self.lost = True
                    return
                except memd.Unavailable:
                    pass    # try again at the next beat

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()


def handle(client, job, lease_ms):
    """Does one job: reads the records, captures the summary, completes."""
    try:
        spec = json.loads(job.payload)
        agent = spec.get("agent") or "default"
        session = spec.get("session", "")
        ids = [int(i) for i in spec["ids"]]
        if not ids:
            raise ValueError("no ids")
    except (ValueError, KeyError, TypeError) as e:
        raise BadJob("bad payload (want JSON {agent, session, ids}): %s" % e) from None
    with Heartbeat(client.endpoint, job, lease_ms) as beat:
        try:
            records = client.get(ids, agent=agent)
        except memd.NotFound as e:
            raise BadJob("records not found: %s" % e.missing) from None
        text = summarize(records)
        client.capture(text, agent=agent, session=session, kind=memd.Kind.SUMMARY,
                       tags=["summary"],
                       metadata={"sources": ",".join(map(str, ids)), "job": str(job.id)})
    if beat.lost:
        raise memd.PermissionDenied("lease lost during the work")
    client.complete(job)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--endpoint", default=None, help="memd endpoint (default: as memd derives it)")
    ap.add_argument("--count", type=int, default=0, help="stop after N jobs (0: run until signalled)")
    ap.add_argument("--wait-ms", type=int, default=30000, help="long-poll wait per Lease")
    ap.add_argument("--lease-ms", type=int, default=30000, help="lease time per job")
    args = ap.parse_args()
    global busy
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)

    handled = 0
    with memd.Client(args.endpoint, timeout=5) as client:
        while not stopping.is_set() and (args.count == 0 or handled < args.count):
            try:
                jobs = client.lease(KIND, lease_ms=args.lease_ms, wait_ms=args.wait_ms)
            except memd.Unavailable as e:
                print("summarize_worker: %s; retrying" % e, file=sys.stderr)
                time.sleep(1)
                continue
            busy = True
            for job in jobs:
                try:
                    handle(client, job, args.lease_ms)
                    print("job %d done" % job.id)
                except BadJob as e:
                    client.fail(job, fatal=True, error=str(e))
                    print("job %d failed: %s" % (job.id, e), file=sys.stderr)
                except memd.PermissionDenied:
                    print("job %d: lease lost, result dropped" % job.id, file=sys.stderr)
                except memd.MemdError as e:
                    try:
                        client.fail(job, error=str(e))     # retryable
                    except memd.MemdError:
                        pass    # the lease expires and memd retries the job anyway
                    print("job %d will be retried: %s" % (job.id, e), file=sys.stderr)
                handled += 1
            busy = False
    return 0


if __name__ == "__main__":
    sys.exit(main())
