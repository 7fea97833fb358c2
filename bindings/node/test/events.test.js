/*  Events from Node (client.events): another client's captures, forgets and
    jobs arrive as event objects; sleep/wake show as state events; the
    stream's timeouts, topics and cleanup. Also sleep(), wake(), verify()
    and the traffic numbers of status(). */
"use strict";

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const memd = require("..");
const { MemdProcess, assertCleanExit, rejectsWith } = require("./helpers");

let server;
let c;
before(async () => {
    server = await MemdProcess.start();
    c = server.client({ agent: "js-events" });
});
after(async () => {
    c.close();
    try { await assertCleanExit(server); } finally { await server.cleanup(); }
});

/** The next event matching pred within timeoutMs (others skipped). */
async function nextEvent(events, pred = () => true, timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const event = await events.get({ timeoutMs: Math.max(0, deadline - Date.now()) });
        if (!event) throw new Error(`no matching event within ${timeoutMs} ms`);
        if (pred(event)) return event;
    }
}

test("JobAction matches the proto", () => {
    const protobuf = require("protobufjs");
    const values = { ...protobuf.loadSync(memd.PROTO_PATH).lookupEnum("memd.v1.JobEvent.Action")
        .values };
    values.UNSPECIFIED = values.ACTION_UNSPECIFIED;
    delete values.ACTION_UNSPECIFIED;
    assert.deepEqual({ ...memd.JobAction }, values);
    assert.deepEqual([...memd.TOPICS], ["captured", "forgotten", "state", "job", "graph"]);
});

test("a capture by another client arrives as a captured event", async () => {
    const events = await c.events("captured");
    const other = server.client({ agent: "js-ev-other" });
    try {
        assert.deepEqual(events.topics, ["captured"]);
        const ids = (await other.captureMany(["events: one", "events: two"])).map((x) => x.id);
        await other.capture("events: one"); // a duplicate: nothing new, no event
        let ev = await nextEvent(events, (e) => e.agent === "js-ev-other");
        assert.equal(ev.topic, "captured");
        assert.deepEqual(ev.ids, ids);
        assert.equal(ev.count, 2);
        assert.ok(Math.abs(ev.atMs - Date.now()) < 60000);
        const { id } = await other.capture("events: three", { session: "s3" });
        ev = await nextEvent(events, (e) => e.agent === "js-ev-other");
        assert.deepEqual(ev.ids, [id]);
    } finally {
        other.close();
        events.close();
    }
    assert.equal(events.closed, true);
    assert.equal(await events.get({ timeoutMs: 0 }), null);
});

test("forgotten events, by id and by session", async () => {
    const events = await c.events(["forgotten"]);
    try {
        const a = (await c.capture("forget me", { session: "gone" })).id;
        await c.capture("forget me too", { session: "gone" });
        await c.forget(a);
        let ev = await nextEvent(events, (e) => e.agent === "js-events");
        assert.deepEqual([ev.topic, ev.ids, ev.count], ["forgotten", [a], 1]);
        await c.forget({ session: "gone" });
        ev = await nextEvent(events, (e) => e.agent === "js-events");
        assert.deepEqual([ev.session, ev.count, ev.ids], ["gone", 1, []]);
    } finally {
        events.close();
    }
});

test("job events: enqueued, leased, failed, dead, completed", async () => {
    const kind = "js-ev-job";
    const mine = (e) => e.kind === kind;
    const events = await c.events("job");
    try {
        const { id } = await c.enqueue(kind, "p", { maxAttempts: 2 });
        let ev = await nextEvent(events, mine);
        assert.deepEqual([ev.topic, ev.action, ev.id, ev.state, ev.maxAttempts],
            ["job", memd.JobAction.ENQUEUED, id, memd.JobState.QUEUED, 2]);
        let [job] = await c.lease(kind, { worker: "js-ev-worker" });
        ev = await nextEvent(events, mine);
        assert.deepEqual([ev.action, ev.fence, ev.worker, ev.attempts],
            [memd.JobAction.LEASED, job.fence, "js-ev-worker", 1]);
        await c.fail(job, { error: "not yet", retryAfterMs: 10 });
        ev = await nextEvent(events, mine);
        assert.deepEqual([ev.action, ev.state, ev.error],
            [memd.JobAction.FAILED, memd.JobState.FAILED, "not yet"]);
        assert.ok(ev.nextRunAtMs > 0);
        [job] = await c.lease(kind, { waitMs: 2000 });
        assert.equal((await nextEvent(events, mine)).action, memd.JobAction.LEASED);
        await c.fail(job, { fatal: true, error: "broken" });
        ev = await nextEvent(events, mine);
        assert.deepEqual([ev.action, ev.state, ev.error, ev.attempts],
            [memd.JobAction.DEAD, memd.JobState.DEAD, "broken", 2]);
        const done = await c.enqueue(kind, "q");
        await nextEvent(events, (e) => mine(e) && e.id === done.id);
        await c.complete((await c.lease(kind))[0]);
        ev = await nextEvent(events, (e) => mine(e) && e.action !== memd.JobAction.LEASED);
        assert.deepEqual([ev.action, ev.id, ev.state],
            [memd.JobAction.COMPLETED, done.id, memd.JobState.DONE]);
    } finally {
        events.close();
    }
});

test("state events for sleep and wake (own memd)", async () => {
    const own = await MemdProcess.start();
    const oc = own.client();
    try {
        const events = await oc.events("state");
        await oc.capture("a record so that the cycle has something to look at");
        const asleep = await oc.sleep();
        assert.ok(["SLEEP", "HIBERNATE"].includes(asleep.state));
        assert.equal(asleep.lastTransition.fromState, "WAKE");
        let ev = await nextEvent(events);
        assert.deepEqual([ev.topic, ev.fromState, ev.toState], ["state", "WAKE", "SLEEP"]);
        assert.ok(ev.reason);
        ev = await nextEvent(events);
        assert.deepEqual([ev.fromState, ev.toState], ["SLEEP", "HIBERNATE"]);
        const awake = await oc.wake();
        assert.equal(awake.state, "WAKE");
        ev = await nextEvent(events);
        assert.deepEqual([ev.fromState, ev.toState], ["HIBERNATE", "WAKE"]);
        events.close();
    } finally {
        oc.close();
        await assertCleanExit(own);
        await own.cleanup();
    }
});

test("for await over every topic; idleTimeoutMs ends a quiet stream", async () => {
    const events = await c.events(null, { idleTimeoutMs: 300 });
    assert.deepEqual(events.topics, []);
    const { id } = await c.capture("iterate over me");
    await c.forget(id);
    await c.enqueue("js-ev-iter", "x");
    const seen = [];
    for await (const e of events) seen.push([e.topic, e.ids || e.kind]);
    assert.deepEqual(seen.filter(([t]) => t !== "state"),
        [["captured", [id]], ["forgotten", [id]], ["job", "js-ev-iter"]]);
    events.close();
});

test("break out of for await closes the stream", async () => {
    const events = await c.events("captured");
    await c.capture("one event then break");
    for await (const e of events) {
        assert.equal(e.topic, "captured");
        break;
    }
    assert.equal(events.closed, true);
});

test("get with a timeout; close wakes a pending get", async () => {
    const events = await c.events("graph"); // nothing publishes graph events yet
    const t0 = Date.now();
    assert.equal(await events.get({ timeoutMs: 200 }), null);
    assert.ok(Date.now() - t0 >= 150 && Date.now() - t0 < 2000);
    const pending = events.get(); // no limit
    setTimeout(() => events.close(), 50);
    assert.equal(await pending, null);
    events.close(); // idempotent
});

test("unknown topics, no events endpoint, memd down", async () => {
    await assert.rejects(c.events("captures"), (e) => e instanceof TypeError &&
        /unknown event topic/.test(e.message));
    const quiet = await MemdProcess.start(["--set", "api/events_endpoint=none"]);
    const qc = quiet.client();
    try {
        assert.equal((await qc.status()).eventsEndpoint, "");
        await rejectsWith(qc.events(), memd.Unavailable, memd.Code.UNAVAILABLE, /no events/);
    } finally {
        qc.close();
        await quiet.cleanup();
    }
    const down = new memd.Client({ endpoint: "ipc:///tmp/memd-js-none/none.sock", timeoutMs: 300 });
    try {
        await rejectsWith(down.events(), memd.Unavailable, memd.Code.UNAVAILABLE, /not running/);
    } finally {
        down.close();
    }
});

test("verify, and the traffic numbers in status", async () => {
    const before = await c.status();
    await c.capture("traffic: lmdb readers");
    for (let i = 0; i < 3; i++) await c.recall("lmdb");
    const v = await c.verify();
    assert.deepEqual([v.ok, v.problemCount, v.problems], [true, 0, []]);
    assert.ok(v.records >= 1);
    const st = await c.status();
    assert.equal(st.requestsByKind.recall, (before.requestsByKind.recall || 0) + 3);
    assert.ok(st.requestsByKind.capture >= 1 && st.requestsByKind.verify === 1);
    assert.ok(st.recallWindowCount >= 3);
    assert.ok(st.recallP50Us > 0 && st.recallP50Us <= st.recallP99Us);
    assert.ok(st.recallWindowMs >= 0 && st.recallWindowMs <= 20000);
    assert.match(st.eventsEndpoint, /memd-events\.sock$/);
    assert.equal(typeof st.consolidation.phase, "string");
});
