"""memd.Client — one ZeroMQ DEALER socket to memd's API endpoint.

Framing is the C client's (client/memd_client.c, docs/protocol.md): each
request goes out as [empty][Request] and its reply comes back as
[empty][Reply]. The socket is connected with ZMQ_IMMEDIATE, so a request is
never queued for a memd that is not there: the send waits for a live
connection until the call's deadline, then the call raises Unavailable.
Every call carries a fresh request_id; a reply with another id (a late
answer to a call that timed out) is dropped.

Thread safety: a Client is NOT thread-safe (ZeroMQ sockets are not). Use
one Client per thread; they are cheap (one socket each, one shared ZeroMQ
context). A Client used from two threads at once raises RuntimeError rather
than mixing up replies.
"""
import math
import os
import threading
import time
from typing import Iterable, List, Mapping, Optional, Sequence, Union

import zmq

from ._closable import Closable
from ._pb import pb
from .errors import Internal, NotFound, Timeout, Unavailable, error_for
from .events import Events, check_topics
from .types import (
    Captured,
    Code,
    Consolidation,
    DaemonStatus,
    Enqueued,
    Hit,
    Job,
    JobKindStats,
    JobList,
    JobState,
    JobStats,
    Kind,
    Lifecycle,
    Pong,
    Record,
    Transition,
    VerifyResult,
)

PROTOCOL_VERSION = 1
DEFAULT_TIMEOUT = 5.0        # seconds, per call
IPC_PATH_MAX = 107           # sun_path minus its terminating NUL
BIG_REQUEST_BYTES = 16 << 20  # memd's default api/max_message_bytes

Ids = Union[int, Iterable[int]]


def default_run_dir() -> str:
    """memd's default run directory: $XDG_RUNTIME_DIR/memd, else /tmp/memd-$UID."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    return os.path.join(xdg, "memd") if xdg else "/tmp/memd-%d" % os.getuid()


def default_endpoint() -> str:
    """memd's API endpoint as memd itself derives it: $MEMD_ENDPOINT, else
    ipc://$MEMD_RUN_DIR/memd.sock, else ipc://<default_run_dir()>/memd.sock."""
    env = os.environ.get("MEMD_ENDPOINT")
    if env:
        return env
    run_dir = os.environ.get("MEMD_RUN_DIR") or default_run_dir()
    return "ipc://%s/memd.sock" % run_dir


def _ids(ids: Ids) -> List[int]:
    if isinstance(ids, int):
        return [ids]
    return [int(i) for i in ids]


def _record_from_pb(r) -> Record:
    return Record(
        text=r.text, agent=r.agent_id, session=r.session_id, kind=Kind(r.kind),
        tags=list(r.tags), metadata=dict(r.metadata), created_at_ms=r.created_at_ms,
        salience=r.salience, id=r.id, uid=r.uid, content_hash=r.content_hash,
        tombstoned_at_ms=r.tombstoned_at_ms, merged_into=r.merged_into,
        recall_count=r.recall_count, last_recalled_ms=r.last_recalled_ms)


def _job_from_pb(j) -> Job:
    return Job(
        id=j.id, kind=j.kind, payload=j.payload, dedupe_key=j.dedupe_key,
        state=JobState(j.state), attempts=j.attempts, max_attempts=j.max_attempts,
        next_run_at_ms=j.next_run_at_ms, lease_owner=j.lease_owner,
        lease_expires_at_ms=j.lease_expires_at_ms, fence=j.fence, last_error=j.last_error,
        depends_on=list(j.depends_on), created_at_ms=j.created_at_ms,
        updated_at_ms=j.updated_at_ms, waiting_for=j.waiting_for)


def _fields(message, cls, **override):
    """A dataclass from the proto message's fields of the same names."""
    names = [f for f in cls.__dataclass_fields__ if f not in override]
    values = {name: getattr(message, name) for name in names}
    values.update(override)
    return cls(**values)


def _job_stats_from_pb(s) -> JobStats:
    return _fields(s, JobStats, kinds=[_fields(k, JobKindStats) for k in s.kinds])


def _fill_record(dst, rec: Union[str, Record, Mapping]) -> None:
    """Copies a record to capture (a text, a Record, or a mapping of Record's
    fields) into the protobuf dst."""
    if isinstance(rec, str):
        rec = Record(text=rec)
    elif isinstance(rec, Mapping):
        rec = Record(**rec)
    elif not isinstance(rec, Record):
        raise TypeError("a record to capture is a str, a memd.Record or a mapping, not %s"
                        % type(rec).__name__)
    dst.text = rec.text
    dst.agent_id = rec.agent
    dst.session_id = rec.session
    dst.kind = Kind.coerce(rec.kind)
    dst.tags.extend(rec.tags)
    dst.metadata.update(rec.metadata)
    dst.created_at_ms = rec.created_at_ms
    dst.salience = rec.salience


def _job_ref(job: Union[Job, int], fence: Optional[int]):
    if isinstance(job, Job):
        return job.id, job.fence if fence is None else fence
    if fence is None:
        raise TypeError("a job id needs its fence (or pass the Job itself)")
    return int(job), int(fence)


class Client(Closable):
    """A connection to memd. Every call has a timeout (seconds: the client's
    `timeout`, or the call's own `timeout=`), raises a MemdError subclass on
    failure, and returns typed results (memd.types).

        with memd.Client(timeout=2.0) as client:
            client.ping()

    `endpoint` None means default_endpoint(). `agent` is the agent scope of
    data-plane calls that do not name one ("default", as in memctl).
    Connecting never blocks: a memd that is down shows as Unavailable on
    the first call. Not thread-safe: one Client per thread.
    """

    def __init__(self, endpoint: Optional[str] = None, *, timeout: float = DEFAULT_TIMEOUT,
                 agent: str = "default", worker: Optional[str] = None,
                 context: Optional[zmq.Context] = None):
        self.endpoint = endpoint or default_endpoint()
        if self.endpoint.startswith("ipc://") and \
                len(self.endpoint[6:].encode()) > IPC_PATH_MAX:
            raise ValueError("ipc path is longer than %d bytes: %s"
                             % (IPC_PATH_MAX, self.endpoint))
        if timeout is None or timeout <= 0:
            raise ValueError("timeout must be a positive number of seconds")
        self.timeout = float(timeout)
        self.agent = agent or "default"
        self.worker = worker or "python-%d" % os.getpid()
        self._lock = threading.Lock()
        self._next_id = int.from_bytes(os.urandom(6), "little") | 1   # 48 bits, non-zero
        self._sock = None
        self._context = ctx = context or zmq.Context.instance()
        sock = ctx.socket(zmq.DEALER)
        try:
            # Options first: IMMEDIATE only applies to connections made after it.
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.IMMEDIATE, 1)
            sock.setsockopt(zmq.SNDHWM, 100)
            sock.setsockopt(zmq.RCVHWM, 1000)
            sock.setsockopt(zmq.RECONNECT_IVL, 50)
            sock.setsockopt(zmq.RECONNECT_IVL_MAX, 500)
            sock.connect(self.endpoint)
        except zmq.ZMQError as e:
            sock.close(0)
            raise ValueError("cannot connect to %s: %s" % (self.endpoint, e)) from None
        self._sock = sock

    # -- lifecycle ----------------------------------------------------------

    def close(self) -> None:
        """Closes the socket (idempotent). Calls after close raise RuntimeError."""
        if self._sock is not None:
            self._sock.close(0)
            self._sock = None


    def __repr__(self):
        return "memd.Client(%r, timeout=%g)" % (self.endpoint, self.timeout)

    # -- the call -----------------------------------------------------------

    def _call(self, op: str, message, *, agent: Optional[str] = None,
              timeout: Optional[float] = None, extra_wait: float = 0.0):
        """Sends a Request with `message` as its operation `op` and returns the
        Reply, whatever its status (callers raise with _raise_for)."""
        if self._sock is None:
            raise RuntimeError("memd.Client is closed")
        if not self._lock.acquire(blocking=False):
            raise RuntimeError("memd.Client is not thread-safe: another thread is in a call on "
                               "this client (use one Client per thread)")
        try:
            budget = (self.timeout if timeout is None else float(timeout)) + extra_wait
            deadline = time.monotonic() + budget
            req = pb.Request(protocol_version=PROTOCOL_VERSION)
            req.request_id = request_id = self._next_id
            self._next_id = (self._next_id + 1) & 0xFFFFFFFFFFFFFFFF or 1
            if agent is not None:
                req.agent_id = agent
            getattr(req, op).CopyFrom(message)
            data = req.SerializeToString()
            if not self._send([b"", data], deadline):
                raise self._unreachable(budget)
            return self._receive(request_id, deadline, budget, len(data))
        finally:
            self._lock.release()

    @staticmethod
    def _wait_ms(deadline: float) -> int:
        return max(0, math.ceil((deadline - time.monotonic()) * 1000))

    def _send(self, frames, deadline: float) -> bool:
        while True:
            try:
                # The first frame goes in or nothing does; the rest follow atomically.
                self._sock.send_multipart(frames, flags=zmq.NOBLOCK)
                return True
            except zmq.Again:
                pass
            wait = self._wait_ms(deadline)
            if wait == 0:
                return False
            self._sock.poll(wait, zmq.POLLOUT)

    def _unreachable(self, budget: float) -> Unavailable:
        ep = self.endpoint
        if ep.startswith("ipc://") and not os.path.exists(ep[6:]):
            return Unavailable("memd is not running (no socket at %s)" % ep[6:])
        return Unavailable("could not connect to memd at %s within %g s" % (ep, budget))

    def _receive(self, request_id: int, deadline: float, budget: float, size: int):
        while True:
            wait = self._wait_ms(deadline)
            if wait == 0 or not self._sock.poll(wait, zmq.POLLIN):
                hint = " (is memd running?)"
                if size > BIG_REQUEST_BYTES:
                    hint = (" (a %d-byte request may be over memd's api/max_message_bytes: "
                            "past 4x that limit memd drops the connection)" % size)
                raise Timeout("no reply from memd at %s within %g s%s"
                              % (self.endpoint, budget, hint))
            frames = self._sock.recv_multipart(zmq.NOBLOCK)
            reply = pb.Reply()
            try:
                if len(frames) != 2 or frames[0]:
                    raise ValueError("framing")
                reply.ParseFromString(frames[1])
            except Exception:
                raise Internal("memd at %s sent a message that is not a memd.v1 Reply"
                               % self.endpoint) from None
            code = reply.status.code
            # memd answers a request it could not decode with request_id 0;
            # with one call at a time, such an error is this call's.
            if reply.request_id == request_id or (reply.request_id == 0 and code != Code.OK):
                return reply
            # Otherwise a late reply to a call that timed out: drop it.

    @staticmethod
    def _raise_for(reply, **partial) -> None:
        """Raises the reply's error (if any), with partial results attached
        (to NotFound; to Internal from Verify)."""
        if reply.status.code != Code.OK:
            err = error_for(reply.status.code, reply.status.message, reply.request_id)
            if isinstance(err, (NotFound, Internal)):
                for name, value in partial.items():
                    setattr(err, name, value)
            raise err

    def _expect(self, reply, result: str):
        self._raise_for(reply)
        if reply.WhichOneof("result") != result:
            raise Internal("memd's reply carries no %s result" % result)
        return getattr(reply, result)

    # -- control plane ------------------------------------------------------

    def ping(self, *, timeout: Optional[float] = None) -> Pong:
        """memd's version, pid and uptime. Control plane: never counts as activity."""
        r = self._expect(self._call("ping", pb.Ping(), timeout=timeout), "ping")
        return Pong(version=r.version, pid=r.pid, uptime_ms=r.uptime_ms)

    def status(self, *, timeout: Optional[float] = None) -> DaemonStatus:
        """A status snapshot: state, counts, resources, job queue numbers."""
        r = self._expect(self._call("status", pb.StatusRequest(), timeout=timeout),
                         "status_result")
        return _fields(r, DaemonStatus,
                       last_transition=_fields(r.last_transition, Transition),
                       jobs=_job_stats_from_pb(r.jobs),
                       consolidation=(_fields(r.consolidation, Consolidation)
                                      if r.HasField("consolidation") else None),
                       requests_by_kind=dict(r.requests_by_kind))

    # -- the sleep cycle and the store's check ------------------------------------

    def sleep(self, *, timeout: Optional[float] = None) -> Lifecycle:
        """Puts memd to SLEEP now: consolidation runs, then memd hibernates
        (work in flight does not hold it off). Returns the new state."""
        return self._lifecycle("sleep", pb.Sleep(), timeout)

    def wake(self, *, timeout: Optional[float] = None) -> Lifecycle:
        """Returns memd to WAKE (consolidation stops after its current step)."""
        return self._lifecycle("wake", pb.Wake(), timeout)

    def _lifecycle(self, op, message, timeout) -> Lifecycle:
        r = self._expect(self._call(op, message, timeout=timeout), "lifecycle")
        return Lifecycle(state=r.state, last_transition=_fields(r.last_transition, Transition))

    def verify(self, *, timeout: Optional[float] = None) -> VerifyResult:
        """Checks the whole store in one consistent snapshot while memd serves.
        A consistent store returns VerifyResult(ok=True, ...); problems raise
        Internal whose .result is the VerifyResult listing them."""
        reply = self._call("verify", pb.Verify(), timeout=timeout)
        v = reply.verify
        result = VerifyResult(ok=v.ok, records=v.records, problem_count=v.problem_count,
                              problems=list(v.problems))
        self._raise_for(reply, result=result)
        if reply.WhichOneof("result") != "verify":
            raise Internal("memd's reply carries no verify result")
        return result

    # -- memory ---------------------------------------------------------------

    def capture(self, text: str, *, session: str = "", kind=None, tags: Sequence[str] = (),
                metadata: Optional[Mapping[str, str]] = None, created_at_ms: int = 0,
                salience: float = 0.0, agent: Optional[str] = None,
                timeout: Optional[float] = None) -> Captured:
        """Captures one record; returns once it is durable. The same text for
        the same agent returns the existing record (duplicate=True)."""
        rec = Record(text=text, session=session, kind=Kind.coerce(kind), tags=list(tags),
                     metadata=dict(metadata or {}), created_at_ms=created_at_ms,
                     salience=salience)
        return self.capture_many([rec], agent=agent, timeout=timeout)[0]

    def capture_many(self, records: Iterable[Union[str, Record, Mapping]], *,
                     agent: Optional[str] = None,
                     timeout: Optional[float] = None) -> List[Captured]:
        """Captures a batch in one durable transaction, all or nothing (one
        invalid record refuses the whole batch). Each item is a text, a
        Record or a mapping of Record's fields; a record without an agent
        gets `agent` (default: the client's). Results are in input order."""
        capture = pb.Capture()
        for rec in records:
            _fill_record(capture.records.add(), rec)
        n = len(capture.records)
        r = self._expect(self._call("capture", capture, agent=agent or self.agent,
                                    timeout=timeout), "capture")
        if len(r.ids) != n:
            raise Internal("memd acknowledged a capture of %d records with %d ids"
                           % (n, len(r.ids)))
        return [Captured(id=i, duplicate=k < len(r.duplicate) and r.duplicate[k])
                for k, i in enumerate(r.ids)]

    def recall(self, query: str, *, k: int = 0, session: str = "", kind=None,
               tags: Sequence[str] = (), since_ms: int = 0, until_ms: int = 0,
               explain: bool = False, agent: Optional[str] = None,
               timeout: Optional[float] = None) -> List[Hit]:
        """The agent's records ranked for query (BM25), best first; k = 0
        means 10. Filters: session, kind, every tag, since_ms <= created < until_ms."""
        msg = pb.Recall(query=query, k=k, session_id=session, kind=Kind.coerce(kind),
                        tags=list(tags), since_ms=since_ms, until_ms=until_ms, explain=explain)
        r = self._expect(self._call("recall", msg, agent=agent or self.agent,
                                    timeout=timeout), "recall")
        return [Hit(record=_record_from_pb(h.record), score=h.score, explain=h.explain)
                for h in r.hits]

    def get(self, ids: Ids, *, agent: Optional[str] = None,
            timeout: Optional[float] = None) -> List[Record]:
        """Records by id, in request order. If any id is not a live record of
        the agent, raises NotFound with .records (those found) and .missing."""
        reply = self._call("get", pb.Get(ids=_ids(ids)), agent=agent or self.agent,
                           timeout=timeout)
        records = [_record_from_pb(r) for r in reply.get.records]
        self._raise_for(reply, records=records, missing=list(reply.get.missing))
        if reply.WhichOneof("result") != "get":
            raise Internal("memd's reply carries no get result")
        return records

    def forget(self, ids: Optional[Ids] = None, *, session: Optional[str] = None,
               agent: Optional[str] = None, timeout: Optional[float] = None) -> int:
        """Tombstones records by id, or every live record of a session (give
        one of the two); returns how many were forgotten. Unknown ids raise
        NotFound (.forgotten, .missing) after the others are forgotten."""
        msg = pb.Forget(ids=_ids(ids) if ids is not None else [], session_id=session or "")
        reply = self._call("forget", msg, agent=agent or self.agent, timeout=timeout)
        self._raise_for(reply, forgotten=reply.forget.forgotten,
                        missing=list(reply.forget.missing))
        if reply.WhichOneof("result") != "forget":
            raise Internal("memd's reply carries no forget result")
        return reply.forget.forgotten

    # -- jobs (not agent-scoped) --------------------------------------------

    def enqueue(self, kind: str, payload: Union[bytes, str] = b"", *, dedupe_key: str = "",
                max_attempts: int = 0, delay_ms: int = 0, depends_on: Sequence[int] = (),
                timeout: Optional[float] = None) -> Enqueued:
        """Queues a job (payload: bytes, or str sent as UTF-8). With a
        dedupe_key, an unfinished job of the same kind and key is returned
        instead (duplicate=True)."""
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        msg = pb.JobEnqueue(kind=kind, payload=payload, dedupe_key=dedupe_key,
                            max_attempts=max_attempts, delay_ms=delay_ms,
                            depends_on=list(depends_on))
        r = self._expect(self._call("job_enqueue", msg, timeout=timeout), "job_enqueue")
        return Enqueued(id=r.id, duplicate=r.duplicate)

    def lease(self, kinds: Union[str, Sequence[str]], *, max_jobs: int = 1, lease_ms: int = 0,
              wait_ms: int = 0, worker: Optional[str] = None,
              timeout: Optional[float] = None) -> List[Job]:
        """Leases up to max_jobs due jobs of the kinds. With wait_ms > 0 memd
        parks the request until a job is due (long-poll) or the wait ends
        (then the list is empty); the call's timeout is extended by the wait.
        lease_ms 0: memd's jobs/lease_ms."""
        if isinstance(kinds, str):
            kinds = [kinds]
        msg = pb.JobLease(kinds=list(kinds), max_jobs=max_jobs, lease_ms=lease_ms,
                          wait_ms=wait_ms, worker=worker or self.worker)
        r = self._expect(self._call("job_lease", msg, timeout=timeout,
                                    extra_wait=max(wait_ms, 0) / 1000.0), "job_lease")
        return [_job_from_pb(j) for j in r.jobs]

    def complete(self, job: Union[Job, int], fence: Optional[int] = None, *,
                 timeout: Optional[float] = None) -> Job:
        """Completes a leased job (a Job, or an id and its fence). A stale
        fence raises PermissionDenied: the lease was lost, drop the result."""
        job_id, fence = _job_ref(job, fence)
        msg = pb.JobComplete(id=job_id, fence=fence)
        return _job_from_pb(self._expect(self._call("job_complete", msg, timeout=timeout),
                                         "job").job)

    def fail(self, job: Union[Job, int], fence: Optional[int] = None, *, fatal: bool = False,
             error: str = "", retry_after_ms: int = 0,
             timeout: Optional[float] = None) -> Job:
        """Fails a leased job: retried later (after retry_after_ms, or memd's
        backoff), or a dead letter at once when fatal."""
        job_id, fence = _job_ref(job, fence)
        msg = pb.JobFail(id=job_id, fence=fence, fatal=fatal, error=error,
                         retry_after_ms=retry_after_ms)
        return _job_from_pb(self._expect(self._call("job_fail", msg, timeout=timeout),
                                         "job").job)

    def extend(self, job: Union[Job, int], fence: Optional[int] = None, *, lease_ms: int = 0,
               timeout: Optional[float] = None) -> Job:
        """Extends a lease by lease_ms from now (0: memd's jobs/lease_ms): the
        heartbeat of a long job."""
        job_id, fence = _job_ref(job, fence)
        msg = pb.JobExtend(id=job_id, fence=fence, lease_ms=lease_ms)
        return _job_from_pb(self._expect(self._call("job_extend", msg, timeout=timeout),
                                         "job").job)

    def list_jobs(self, *, state=None, kind: str = "", limit: int = 0, after_id: int = 0,
                  timeout: Optional[float] = None) -> JobList:
        """Jobs by id, filtered by state (a JobState or name) and kind; limit
        0 means 100. Page with after_id = the last id while .more."""
        msg = pb.JobList(state=JobState.coerce(state), kind=kind, limit=limit,
                         after_id=after_id)
        r = self._expect(self._call("job_list", msg, timeout=timeout), "job_list")
        return JobList(jobs=[_job_from_pb(j) for j in r.jobs], more=r.more)

    def job_stats(self, *, timeout: Optional[float] = None) -> JobStats:
        """Queue numbers, in total and per kind."""
        return _job_stats_from_pb(self._expect(
            self._call("job_stats", pb.JobStatsRequest(), timeout=timeout), "job_stats"))

    def retry_jobs(self, ids: Optional[Ids] = None, *, kind: str = "",
                   timeout: Optional[float] = None) -> int:
        """Puts dead letters back in the queue (attempts reset): the ids, or
        with none every dead letter (of kind). Returns how many."""
        return self._bulk("job_retry", pb.JobRetry, "retried", ids, kind, timeout)

    def purge_jobs(self, ids: Optional[Ids] = None, *, kind: str = "",
                   timeout: Optional[float] = None) -> int:
        """Deletes dead letters: the ids, or with none every dead letter (of kind)."""
        return self._bulk("job_purge", pb.JobPurge, "purged", ids, kind, timeout)

    def _bulk(self, op, cls, counter, ids, kind, timeout) -> int:
        ids = _ids(ids) if ids is not None else []
        msg = cls(ids=ids, kind=kind)
        total = 0
        while True:
            reply = self._call(op, msg, timeout=timeout)
            result = getattr(reply, op)
            done = getattr(result, counter)
            total += done
            self._raise_for(reply, count=total, missing=list(result.missing))
            if reply.WhichOneof("result") != op:
                raise Internal("memd's reply carries no %s result" % op)
            # memd works in bounded steps: without ids, ask again while it
            # says there is more and a step made progress.
            if ids or not result.more or done == 0:
                return total

    # -- events ---------------------------------------------------------------

    def events(self, topics: Optional[Union[str, Iterable[str]]] = None, *,
               idle_timeout: Optional[float] = None,
               timeout: Optional[float] = None) -> Events:
        """The live event stream: an iterator of typed events (CapturedEvent,
        ForgottenEvent, StateEvent, JobEvent; UnknownEvent for others) on
        its own SUB socket (memd.events). `topics`: one topic or several of
        "captured", "forgotten", "state", "job", "graph" (None: all).

        Returns once memd has confirmed the subscription (within `timeout`,
        default the client's, else Timeout): every event published after
        that is delivered. Iteration blocks for the next event; with
        idle_timeout (seconds) it ends after that long without one.
        Events.get(timeout) waits for one event. close() the stream (or use
        `with`) when done. Raises Unavailable when memd has no events
        endpoint."""
        check_topics(topics)   # before asking memd: a typo is no memd matter
        budget = self.timeout if timeout is None else float(timeout)
        endpoint = self.status(timeout=budget).events_endpoint
        if not endpoint:
            raise Unavailable("memd publishes no events (its api/events_endpoint is none)")
        return Events(endpoint, topics, timeout=budget, idle_timeout=idle_timeout,
                      context=self._context)


__all__ = ["Client", "default_endpoint", "default_run_dir"]
