"""Events from Python (Client.events): another client's captures, forgets and
jobs arrive as typed events; sleep/wake show as state events; the stream's
timeouts, topics and cleanup. Also sleep(), wake(), verify() and the
traffic numbers of status()."""
import threading
import time

import pytest

import memd


def test_job_action_matches_the_proto():
    from memd._pb import pb
    ours = {("ACTION_UNSPECIFIED" if m.name == "UNSPECIFIED" else m.name): int(m)
            for m in memd.JobAction}
    assert ours == dict(pb.JobEvent.Action.items())


def next_event(events, pred=lambda e: True, timeout=5.0):
    """The next event matching pred within timeout seconds (others skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        event = events.get(timeout=max(left, 0))
        if event is None:
            raise AssertionError("no matching event within %g s" % timeout)
        if pred(event):
            return event


def test_captured_event_from_another_client(server, client):
    with client.events("captured") as events, server.client(agent="py-ev-other") as other:
        assert not events.closed and events.topics == ("captured",)
        ids = [c.id for c in other.capture_many(["events: one", "events: two"])]
        other.capture("events: one")              # a duplicate: no new record, no event
        event = next_event(events, lambda e: e.agent == "py-ev-other")
        assert isinstance(event, memd.CapturedEvent) and isinstance(event, memd.Event)
        assert event.topic == "captured" and event.ids == ids and event.count == 2
        assert abs(event.at_ms - time.time() * 1000) < 60000
        third = other.capture("events: three", session="s3").id
        event = next_event(events, lambda e: e.agent == "py-ev-other")
        assert event.ids == [third]
    assert events.closed


def test_forgotten_events(server, client):
    with client.events(["forgotten"]) as events:
        a = client.capture("forget me", session="gone").id
        b = client.capture("forget me too", session="gone").id
        assert client.forget(a) == 1
        event = next_event(events, lambda e: e.agent == client.agent)
        assert isinstance(event, memd.ForgottenEvent)
        assert (event.topic, event.ids, event.count) == ("forgotten", [a], 1)
        assert client.forget(session="gone") == 1
        event = next_event(events, lambda e: e.agent == client.agent)
        assert (event.session, event.count, event.ids) == ("gone", 1, [])   # b, by session


def test_job_events(client):
    kind = "py-ev-job"
    with client.events("job") as events:
        mine = lambda e: e.kind == kind   # noqa: E731
        e = client.enqueue(kind, "p", max_attempts=2)
        ev = next_event(events, mine)
        assert isinstance(ev, memd.JobEvent) and ev.topic == "job"
        assert (ev.action, ev.id, ev.state, ev.max_attempts) == \
            (memd.JobAction.ENQUEUED, e.id, memd.JobState.QUEUED, 2)
        [job] = client.lease(kind, worker="py-ev-worker")
        ev = next_event(events, mine)
        assert (ev.action, ev.id, ev.fence, ev.worker, ev.attempts) == \
            (memd.JobAction.LEASED, e.id, job.fence, "py-ev-worker", 1)
        client.fail(job, error="not yet", retry_after_ms=10)
        ev = next_event(events, mine)
        assert (ev.action, ev.state, ev.error) == \
            (memd.JobAction.FAILED, memd.JobState.FAILED, "not yet")
        assert ev.next_run_at_ms > 0
        [job] = client.lease(kind, wait_ms=2000)
        assert next_event(events, mine).action == memd.JobAction.LEASED
        client.fail(job, fatal=True, error="broken")
        ev = next_event(events, mine)
        assert (ev.action, ev.state, ev.error, ev.attempts) == \
            (memd.JobAction.DEAD, memd.JobState.DEAD, "broken", 2)
        done = client.enqueue(kind, "q")
        next_event(events, lambda x: mine(x) and x.id == done.id)
        client.complete(client.lease(kind)[0])
        ev = next_event(events, lambda x: mine(x) and x.action != memd.JobAction.LEASED)
        assert (ev.action, ev.id, ev.state) == \
            (memd.JobAction.COMPLETED, done.id, memd.JobState.DONE)


def test_state_events_for_sleep_and_wake(spawn):
    """Own memd: a sleep cycle must not consolidate the shared one's records."""
    server = spawn()
    with server.client() as c, c.events("state") as events:
        c.capture("a record so that the cycle has something to look at")
        asleep = c.sleep()
        assert isinstance(asleep, memd.Lifecycle) and asleep.state in ("SLEEP", "HIBERNATE")
        assert asleep.last_transition.from_state == "WAKE"
        ev = next_event(events)
        assert isinstance(ev, memd.StateEvent) and ev.topic == "state"
        assert (ev.from_state, ev.to_state) == ("WAKE", "SLEEP") and ev.reason
        ev = next_event(events)
        assert (ev.from_state, ev.to_state) == ("SLEEP", "HIBERNATE")
        awake = c.wake()
        assert awake.state == "WAKE" and awake.last_transition.to_state == "WAKE"
        ev = next_event(events)
        assert (ev.from_state, ev.to_state) == ("HIBERNATE", "WAKE")


def test_all_topics_and_iteration(server, client):
    """No topic: everything; iteration ends after idle_timeout of quiet."""
    with client.events(idle_timeout=0.3) as events:
        assert events.topics == ()
        rid = client.capture("iterate over me").id
        client.forget(rid)
        client.enqueue("py-ev-iter", "x")
        seen = [(e.topic, getattr(e, "ids", None) or getattr(e, "kind", None)) for e in events]
    assert ("captured", [rid]) in seen and ("forgotten", [rid]) in seen
    assert ("job", "py-ev-iter") in seen
    assert all(not t.startswith("\xff") for t, _ in seen)   # memd's marker is no event


def test_get_timeout_and_close(client):
    with client.events("graph") as events:       # nothing publishes graph events yet
        t0 = time.monotonic()
        assert events.get(timeout=0.2) is None
        assert 0.15 < time.monotonic() - t0 < 2
        events.close()
        events.close()                             # idempotent
        assert events.closed and events.get(timeout=0) is None
        assert list(events) == []


def test_events_in_another_thread(server, client):
    """A stream lives on its own socket: read in a thread while the client calls."""
    events = client.events("captured")
    got = []
    reader = threading.Thread(target=lambda: got.append(events.get(timeout=5)))
    reader.start()
    rid = client.capture("read in another thread").id
    reader.join(10)
    events.close()
    assert got and got[0].ids == [rid]


def test_unknown_topic(client):
    with pytest.raises(ValueError, match="unknown event topic"):
        client.events("captures")
    with memd.Client("ipc:///tmp/memd-py-none/none.sock", timeout=0.2) as down:
        with pytest.raises(ValueError):          # checked before memd is asked
            down.events(["state", "jobs"])


def test_events_when_memd_is_down_or_has_none(spawn, tmp_path):
    with memd.Client("ipc://%s/none.sock" % tmp_path, timeout=0.3) as c:
        with pytest.raises(memd.Unavailable, match="not running"):
            c.events()
    quiet = spawn("--set", "api/events_endpoint=none")
    with quiet.client() as c:
        assert c.status().events_endpoint == ""
        with pytest.raises(memd.Unavailable, match="no events"):
            c.events()


def test_subscription_timeout(spawn):
    """A memd that does not confirm (frozen) makes events() time out."""
    server = spawn()
    with server.client(timeout=0.5) as c:
        endpoint = c.status().events_endpoint
        server.freeze()
        try:
            t0 = time.monotonic()
            with pytest.raises(memd.Timeout, match="did not confirm"):
                memd.Events(endpoint, "state", timeout=0.3)
            assert time.monotonic() - t0 < 2
        finally:
            server.thaw()


def test_verify(client):
    client.capture("verify sees this record")
    result = client.verify()
    assert isinstance(result, memd.VerifyResult)
    assert result.ok and result.records >= 1 and result.problem_count == 0
    assert result.problems == []


def test_status_traffic(client):
    before = client.status()
    client.capture("traffic: lmdb readers")
    for _ in range(3):
        client.recall("lmdb")
    st = client.status()
    assert st.requests_by_kind["recall"] == before.requests_by_kind.get("recall", 0) + 3
    assert st.requests_by_kind["capture"] >= 1 and st.requests_by_kind["status"] >= 1
    assert st.recall_window_count >= 3 and 0 < st.recall_p50_us <= st.recall_p99_us
    assert 0 <= st.recall_window_ms <= 20000
    assert st.events_endpoint.endswith("memd-events.sock")
    assert isinstance(st.consolidation, memd.Consolidation)
