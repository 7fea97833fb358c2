"""The Python client against a real memd: memory calls, typed results,
endpoint resolution, the context manager and the thread guard."""
import os
import threading
import time

import pytest

import memd
from memd._pb import pb


def test_enums_match_the_proto():
    for enum_cls, proto_enum, prefix in ((memd.Code, pb.Code, ""), (memd.Kind, pb.Kind, ""),
                                         (memd.JobState, pb.JobState, "JOB_")):
        proto = {name: number for name, number in proto_enum.items()}
        ours = {}
        for member in enum_cls:
            name = member.name
            if enum_cls is memd.Kind and name == "UNSPECIFIED":
                name = "KIND_UNSPECIFIED"
            elif enum_cls is memd.JobState and name == "UNSPECIFIED":
                name = "JOB_STATE_UNSPECIFIED"
            else:
                name = prefix + name
            ours[name] = int(member)
        assert ours == proto, enum_cls


def test_default_endpoint_follows_memd(monkeypatch):
    for var in ("MEMD_ENDPOINT", "MEMD_RUN_DIR", "XDG_RUNTIME_DIR"):
        monkeypatch.delenv(var, raising=False)
    assert memd.default_endpoint() == "ipc:///tmp/memd-%d/memd.sock" % os.getuid()
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/42")
    assert memd.default_endpoint() == "ipc:///run/user/42/memd/memd.sock"
    monkeypatch.setenv("MEMD_RUN_DIR", "/tmp/rd")
    assert memd.default_endpoint() == "ipc:///tmp/rd/memd.sock"
    monkeypatch.setenv("MEMD_ENDPOINT", "ipc:///tmp/x.sock")
    assert memd.default_endpoint() == "ipc:///tmp/x.sock"
    with memd.Client() as c:
        assert c.endpoint == "ipc:///tmp/x.sock"


def test_default_endpoint_reaches_memd(server, monkeypatch):
    monkeypatch.delenv("MEMD_ENDPOINT", raising=False)
    monkeypatch.setenv("MEMD_RUN_DIR", server.run_dir)
    with memd.Client(timeout=2) as c:
        assert c.ping().pid == server.pid


def test_ipc_path_too_long():
    with pytest.raises(ValueError, match="longer than 107"):
        memd.Client("ipc:///tmp/" + "x" * 120)


def test_ping_and_status(server, client):
    pong = client.ping()
    assert pong.pid == server.pid
    assert pong.version and pong.uptime_ms >= 0
    before = client.status()
    client.capture("status counts this record")
    st = client.status()
    assert st.pid == server.pid and st.state == "WAKE"
    assert st.endpoint == server.endpoint and st.data_dir == server.data_dir
    assert st.records_live == before.records_live + 1
    assert st.requests > before.requests
    assert st.last_transition.to_state == "WAKE"
    assert isinstance(st.jobs, memd.JobStats)


def test_capture_recall_round_trip(client):
    c = client.capture("We chose LMDB for storage because readers never block the writer",
                       session="s1", kind="fact", tags=["db", "storage"],
                       metadata={"source": "chat"}, salience=0.8)
    assert isinstance(c, memd.Captured) and c.id > 0 and not c.duplicate
    other = client.capture("The user prefers dark mode and short answers", session="s2")
    hits = client.recall("storage writer", explain=True)
    assert [h.record.id for h in hits] == [c.id]
    hit = hits[0]
    assert hit.score > 0 and "bm25" in hit.explain
    r = hit.record
    assert r.text.startswith("We chose LMDB")
    assert (r.agent, r.session, r.kind) == (client.agent, "s1", memd.Kind.FACT)
    assert r.tags == ["db", "storage"] and r.metadata == {"source": "chat"}
    assert r.salience == pytest.approx(0.8)
    assert r.created_at_ms > 0 and len(r.uid) == 16 and r.content_hash != 0
    # Filters.
    assert client.recall("storage", kind=memd.Kind.EPISODIC) == []
    assert client.recall("storage", tags=["db"], session="s1")[0].record.id == c.id
    assert client.recall("storage", session="s2") == []
    assert client.recall("dark mode")[0].record.id == other.id
    # The same text again is the same record.
    again = client.capture("The user prefers dark mode and short answers", session="s9")
    assert again == memd.Captured(id=other.id, duplicate=True)


def test_capture_many_keeps_input_order(client):
    out = client.capture_many([
        "first of the batch",
        memd.Record(text="second of the batch", kind=memd.Kind.NOTE, tags=["t"]),
        {"text": "third of the batch", "session": "b", "created_at_ms": 1700000000000},
        "first of the batch",
    ])
    assert [c.duplicate for c in out] == [False, False, False, True]
    assert out[3].id == out[0].id and out[0].id < out[1].id < out[2].id
    got = client.get([c.id for c in out[:3]])
    assert [r.text for r in got] == ["first of the batch", "second of the batch",
                                     "third of the batch"]
    assert got[1].kind == memd.Kind.NOTE and got[2].created_at_ms == 1700000000000


def test_agents_are_isolated(client, server):
    mine = client.capture("only alice knows the vault code", agent="alice-py").id
    assert client.recall("vault", agent="bob-py") == []
    with pytest.raises(memd.NotFound):
        client.get(mine, agent="bob-py")
    with server.client(agent="alice-py") as alice:
        assert alice.get(mine)[0].text == "only alice knows the vault code"


def test_get_and_forget(client):
    a = client.capture("apples are red", session="fruit").id
    b = client.capture("bananas are yellow", session="fruit").id
    c = client.capture("carrots are orange", session="veg").id
    assert [r.id for r in client.get([b, a])] == [b, a]
    assert client.forget(a) == 1
    with pytest.raises(memd.NotFound) as e:
        client.get([a, b])
    assert e.value.missing == [a] and [r.id for r in e.value.records] == [b]
    assert e.value.code == memd.Code.NOT_FOUND
    assert "1 of 2 records not found" in str(e.value)
    # Forgetting a live and a missing id forgets the live one and says which is missing.
    with pytest.raises(memd.NotFound) as e:
        client.forget([b, a])
    assert e.value.forgotten == 1 and e.value.missing == [a]
    assert client.recall("bananas") == []
    # By session.
    assert client.forget(session="veg") == 1
    assert client.forget(session="veg") == 0
    assert client.recall("carrots") == []
    with pytest.raises(memd.NotFound):
        client.get(c)


def test_context_manager_closes(server):
    with server.client() as c:
        c.ping()
    with pytest.raises(RuntimeError, match="closed"):
        c.ping()
    c.close()  # idempotent


def test_a_client_refuses_a_second_thread(server):
    """A Client is not thread-safe: a call from another thread while one is
    in flight is refused instead of mixing up replies."""
    with server.client() as c:
        done = threading.Event()
        out = {}

        def park():
            out["jobs"] = c.lease("py-thread-guard", wait_ms=3000)
            done.set()

        t = threading.Thread(target=park)
        t.start()
        deadline = time.monotonic() + 3
        with server.client() as watcher:
            while watcher.job_stats().waiting_workers == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
        with pytest.raises(RuntimeError, match="not thread-safe"):
            c.ping()
        with server.client() as other:       # one client per thread is the way
            other.enqueue("py-thread-guard", b"wake")
        assert done.wait(5)
        t.join()
        assert [j.payload for j in out["jobs"]] == [b"wake"]
        c.complete(out["jobs"][0])
