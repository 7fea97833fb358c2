"""Typed results: enums mirroring memd.v1's and dataclasses for its messages.

Field names follow the protocol, except agent_id and session_id, which are
`agent` and `session` here (as in memctl's JSON). Times are milliseconds
since the Unix epoch (`*_ms`), as on the wire.
"""
import enum
from dataclasses import dataclass, field
from typing import Dict, List, Optional


def _coerce(cls, value, what):
    """An enum member from a member, an int, or a name in any case (None: 0)."""
    if value is None:
        return cls(0)
    if isinstance(value, str):
        try:
            return cls[value.upper()]
        except KeyError:
            raise ValueError("unknown %s %r (one of %s)" % (
                what, value, ", ".join(m.name.lower() for m in cls if m))) from None
    return cls(value)


class Code(enum.IntEnum):
    """memd.v1.Code: the status code of every reply."""

    OK = 0
    INVALID_ARGUMENT = 1
    NOT_FOUND = 2
    TOO_LARGE = 3
    RESOURCE_EXHAUSTED = 4
    STORE_FULL = 5
    UNAVAILABLE = 6
    PERMISSION_DENIED = 7
    INTERNAL = 8


class Kind(enum.IntEnum):
    """memd.v1.Kind. UNSPECIFIED is stored as EPISODIC by capture and means
    "any kind" in a recall filter."""

    UNSPECIFIED = 0
    EPISODIC = 1
    FACT = 2
    SUMMARY = 3
    PROCEDURE = 4
    NOTE = 5

    @classmethod
    def coerce(cls, value) -> "Kind":
        """A Kind from a Kind, an int, or a name such as "fact" (None: UNSPECIFIED)."""
        return _coerce(cls, value, "kind")


class JobState(enum.IntEnum):
    """memd.v1.JobState (without its JOB_ prefix). UNSPECIFIED: any state, in list_jobs."""

    UNSPECIFIED = 0
    QUEUED = 1
    LEASED = 2
    DONE = 3
    FAILED = 4
    DEAD = 5
    BLOCKED = 6

    @classmethod
    def coerce(cls, value) -> "JobState":
        """A JobState from a JobState, an int, or a name such as "dead" (None: UNSPECIFIED)."""
        return _coerce(cls, value, "job state")


class JobAction(enum.IntEnum):
    """memd.v1.JobEvent.Action: what happened to a job (a `job` event)."""

    UNSPECIFIED = 0
    ENQUEUED = 1
    LEASED = 2
    COMPLETED = 3
    FAILED = 4       # failed or its lease expired; retried at next_run_at_ms
    DEAD = 5         # a dead letter: failed fatally or out of attempts


@dataclass
class Record:
    """One memory. To capture, set text and any of agent, session, kind, tags,
    metadata, created_at_ms, salience; memd assigns the rest."""

    text: str = ""
    agent: str = ""
    session: str = ""
    kind: Kind = Kind.UNSPECIFIED
    tags: List[str] = field(default_factory=list)
    metadata: Dict[str, str] = field(default_factory=dict)
    created_at_ms: int = 0
    salience: float = 0.0
    id: int = 0
    uid: bytes = b""
    content_hash: int = 0
    tombstoned_at_ms: int = 0
    merged_into: int = 0
    recall_count: int = 0
    last_recalled_ms: int = 0


@dataclass
class Captured:
    """The outcome of capturing one record: its id, and whether the agent
    already had a live record with the same text (then id is that record's)."""

    id: int
    duplicate: bool = False


@dataclass
class Hit:
    record: Record
    score: float
    explain: str = ""


@dataclass
class Pong:
    version: str
    pid: int
    uptime_ms: int


@dataclass
class Transition:
    from_state: str = ""
    to_state: str = ""
    at_ms: int = 0
    reason: str = ""


@dataclass
class JobKindStats:
    kind: str
    queued: int = 0
    leased: int = 0
    dead: int = 0
    retrying: int = 0
    blocked: int = 0
    done: int = 0
    oldest_due_age_ms: int = 0
    next_due_at_ms: int = 0
    limit: int = 0


@dataclass
class JobStats:
    queued: int = 0
    leased: int = 0
    dead: int = 0
    retrying: int = 0
    blocked: int = 0
    done: int = 0
    oldest_due_age_ms: int = 0
    next_deadline_ms: int = 0
    kinds: List[JobKindStats] = field(default_factory=list)
    waiting_workers: int = 0


@dataclass
class Consolidation:
    """The sleep cycle's consolidation pipeline (docs/lifecycle.md)."""

    phase: str = ""
    cycle: int = 0
    cycle_started_ms: int = 0
    cycle_done_ms: int = 0
    steps: int = 0
    duplicates_merged: int = 0
    digests_written: int = 0
    records_decayed: int = 0
    records_purged: int = 0
    last_error: str = ""


@dataclass
class DaemonStatus:
    version: str = ""
    pid: int = 0
    state: str = ""
    uptime_ms: int = 0
    last_transition: Optional[Transition] = None
    records_live: int = 0
    records_tombstoned: int = 0
    rss_bytes: int = 0
    fds: int = 0
    threads: int = 0
    recall_workers: int = 0
    requests: int = 0
    requests_rejected: int = 0
    data_dir: str = ""
    endpoint: str = ""
    store_bytes: int = 0
    map_bytes: int = 0
    jobs: Optional[JobStats] = None
    consolidation: Optional[Consolidation] = None
    events_endpoint: str = ""
    requests_by_kind: Dict[str, int] = field(default_factory=dict)   # since start, both planes
    recall_p50_us: int = 0          # recall latency over the last recall_window_ms (10-20 s)
    recall_p99_us: int = 0
    recall_window_count: int = 0
    recall_window_ms: int = 0


@dataclass
class Job:
    """A job. Complete, Fail and Extend take the Job itself (its id and fence)."""

    id: int
    kind: str = ""
    payload: bytes = b""
    dedupe_key: str = ""
    state: JobState = JobState.UNSPECIFIED
    attempts: int = 0
    max_attempts: int = 0
    next_run_at_ms: int = 0
    lease_owner: str = ""
    lease_expires_at_ms: int = 0
    fence: int = 0
    last_error: str = ""
    depends_on: List[int] = field(default_factory=list)
    created_at_ms: int = 0
    updated_at_ms: int = 0
    waiting_for: int = 0

    @property
    def text(self) -> str:
        """The payload decoded as UTF-8 (invalid bytes replaced)."""
        return self.payload.decode("utf-8", "replace")


@dataclass
class JobList:
    jobs: List[Job]
    more: bool = False      # more jobs match after the last one: ask again with after_id


@dataclass
class Enqueued:
    """The outcome of enqueue: the job's id; duplicate when an unfinished job
    with the same kind and dedupe key already existed (id is that job's)."""

    id: int
    duplicate: bool = False


@dataclass
class Lifecycle:
    """The state after sleep() or wake(), and the transition that led there."""

    state: str
    last_transition: Optional[Transition] = None


@dataclass
class VerifyResult:
    """The store's consistency check: ok, records checked, the first problems."""

    ok: bool
    records: int = 0
    problem_count: int = 0
    problems: List[str] = field(default_factory=list)


# -- events (Client.events) ---------------------------------------------------


@dataclass
class Event:
    """Every event: its topic and when memd published it (ms since the epoch)."""

    topic: str
    at_ms: int


@dataclass
class RecordsEvent(Event):
    """Records of one agent: the fields of "captured" and "forgotten" events."""

    agent: str
    ids: List[int]
    session: str
    count: int


@dataclass
class CapturedEvent(RecordsEvent):
    """Records were captured (topic "captured"): the new ids of one batch of
    an agent (duplicates excluded)."""


@dataclass
class ForgottenEvent(RecordsEvent):
    """Records were forgotten (topic "forgotten"): by id (ids), or a whole
    session (session; ids empty)."""


@dataclass
class StateEvent(Event):
    """A lifecycle transition (topic "state"), e.g. WAKE -> DROWSY."""

    from_state: str
    to_state: str
    reason: str


@dataclass
class JobEvent(Event):
    """A job changed state (topic "job")."""

    action: JobAction
    id: int
    kind: str
    state: JobState
    attempts: int
    max_attempts: int
    fence: int
    worker: str
    error: str
    next_run_at_ms: int


@dataclass
class UnknownEvent(Event):
    """An event this client does not know (a newer memd's, or "graph"):
    `message` is the decoded memd.v1.Event."""

    message: object = None
