"""memd.Events — the live event stream (DESIGN §6), from Client.events().

memd publishes [topic][Event] on its events endpoint (a PUB socket whose
address Status gives): topics "captured", "forgotten", "state", "job" and
"graph". An Events object is one ZeroMQ SUB socket of its own, so reading
events never disturbs the Client's request/reply calls.

Subscribing is confirmed: the stream subscribes to memd's marker topic
"\\xffmemd.ready" after its topics, and memd publishes that marker when the
subscription arrives, so once Client.events() returns, every event memd
publishes is delivered. Events are best effort: a reader that falls more
than 10,000 events behind loses the excess (memd never waits for it).

    with client.events("captured") as events:
        for event in events:              # blocks; idle_timeout= ends a quiet stream
            print(event.ids)

Thread safety: an Events object is not thread-safe; it may live in another
thread than the Client that made it.
"""
import math
import time
from typing import Iterable, Optional, Union

import zmq

from ._closable import Closable
from ._pb import pb
from .errors import Timeout
from .types import (
    CapturedEvent,
    Event,
    ForgottenEvent,
    JobAction,
    JobEvent,
    JobState,
    StateEvent,
    UnknownEvent,
)

READY = b"\xffmemd.ready"   # memd's confirmation marker (messages/mem_codec.h)
TOPICS = ("captured", "forgotten", "state", "job", "graph")


def check_topics(topics) -> tuple:
    """The topics as a tuple (None: all, ()); ValueError for one memd does not publish."""
    if isinstance(topics, str):
        topics = [topics]
    topics = tuple(topics) if topics else ()
    for t in topics:
        if t not in TOPICS:
            raise ValueError("unknown event topic %r (one of %s)" % (t, ", ".join(TOPICS)))
    return topics


def _event_from_pb(e) -> Event:
    body = e.WhichOneof("body")
    if body in ("captured", "forgotten"):
        r = getattr(e, body)
        cls = CapturedEvent if body == "captured" else ForgottenEvent
        return cls(topic=e.topic, at_ms=e.at_ms, agent=r.agent_id, ids=list(r.ids),
                   session=r.session_id, count=r.count)
    if body == "state":
        return StateEvent(topic=e.topic, at_ms=e.at_ms, from_state=e.state.from_state,
                          to_state=e.state.to_state, reason=e.state.reason)
    if body == "job":
        j = e.job
        return JobEvent(topic=e.topic, at_ms=e.at_ms, action=JobAction(j.action), id=j.id,
                        kind=j.kind, state=JobState(j.state), attempts=j.attempts,
                        max_attempts=j.max_attempts, fence=j.fence, worker=j.worker,
                        error=j.error, next_run_at_ms=j.next_run_at_ms)
    return UnknownEvent(topic=e.topic, at_ms=e.at_ms, message=e)


class Events(Closable):
    """An iterator over memd's events (see the module's doc). Made by
    Client.events(); close() it (or use `with`) when done."""

    def __init__(self, endpoint: str, topics: Optional[Union[str, Iterable[str]]] = None, *,
                 timeout: float = 5.0, idle_timeout: Optional[float] = None,
                 context: Optional[zmq.Context] = None):
        self.topics = check_topics(topics)
        self.endpoint = endpoint
        self.idle_timeout = idle_timeout
        self._early = []          # events that came while waiting for the confirmation
        self._sock = None
        sock = (context or zmq.Context.instance()).socket(zmq.SUB)
        try:
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.RCVHWM, 10000)
            sock.connect(endpoint)
            for t in self.topics or ("",):
                sock.setsockopt(zmq.SUBSCRIBE, t.encode())
            sock.setsockopt(zmq.SUBSCRIBE, READY)    # last: memd answers it when all are in
        except zmq.ZMQError as e:
            sock.close(0)
            raise ValueError("cannot subscribe to %s: %s" % (endpoint, e)) from None
        self._sock = sock
        deadline = time.monotonic() + timeout
        while True:
            frames = self._recv(deadline)
            if frames is None:
                self.close()
                raise Timeout("memd did not confirm the events subscription at %s within %g s"
                              % (endpoint, timeout))
            if frames == [READY]:
                break
            event = self._decode(frames)
            if event is not None:
                self._early.append(event)

    def _recv(self, deadline: Optional[float]):
        """The next message's frames by the deadline (None: no limit), or None."""
        if self._sock is None:
            return None
        if deadline is None:
            wait = -1
        else:
            wait = max(0, math.ceil((deadline - time.monotonic()) * 1000))
        if self._sock.poll(wait, zmq.POLLIN):
            return self._sock.recv_multipart(zmq.NOBLOCK)
        return None

    def _decode(self, frames) -> Optional[Event]:
        """An event from [topic][Event], or None for anything else (markers,
        other topics that share a prefix with ours, undecodable bytes)."""
        if len(frames) != 2:
            return None
        topic = frames[0].decode("utf-8", "replace")
        if self.topics and topic not in self.topics:
            return None
        e = pb.Event()
        try:
            e.ParseFromString(frames[1])
        except Exception:
            return None
        return _event_from_pb(e)

    def get(self, timeout: Optional[float] = None) -> Optional[Event]:
        """The next event, waiting at most `timeout` seconds (None: as long as
        it takes); None when none came in time or the stream is closed."""
        if self._early:
            return self._early.pop(0)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            frames = self._recv(deadline)
            if frames is None:
                return None
            event = self._decode(frames)
            if event is not None:
                return event

    def __iter__(self) -> "Events":
        return self

    def __next__(self) -> Event:
        event = self.get(self.idle_timeout)
        if event is None:
            raise StopIteration
        return event

    def close(self) -> None:
        """Closes the socket (idempotent); iteration then stops."""
        if self._sock is not None:
            self._sock.close(0)
            self._sock = None

    @property
    def closed(self) -> bool:
        return self._sock is None


    def __repr__(self):
        return "memd.Events(%r, topics=%r)" % (self.endpoint, self.topics or "all")


__all__ = ["Events", "TOPICS", "check_topics"]
