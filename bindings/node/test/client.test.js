/*  The Node client against a real memd: memory calls, typed results,
    endpoint resolution, several calls in flight on one client. */
"use strict";

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const os = require("node:os");
const protobuf = require("protobufjs");
const memd = require("..");
const { MemdProcess, assertCleanExit, waitForParkedLeases } = require("./helpers");

let server;
before(async () => { server = await MemdProcess.start(); });
after(async () => {
    try { await assertCleanExit(server); } finally { await server.cleanup(); }
});

/** A client whose default agent is unique to the test. */
function clientFor(agent, options = {}) {
    return server.client({ agent: `js-${agent}`, ...options });
}

test("enums match the proto", () => {
    const root = protobuf.loadSync(memd.PROTO_PATH);
    assert.deepEqual({ ...memd.Code }, { ...root.lookupEnum("memd.v1.Code").values });
    const kind = { ...root.lookupEnum("memd.v1.Kind").values };
    kind.UNSPECIFIED = kind.KIND_UNSPECIFIED;
    delete kind.KIND_UNSPECIFIED;
    assert.deepEqual({ ...memd.Kind }, kind);
    const states = {};
    for (const [k, v] of Object.entries(root.lookupEnum("memd.v1.JobState").values))
        states[k === "JOB_STATE_UNSPECIFIED" ? "UNSPECIFIED" : k.replace(/^JOB_/, "")] = v;
    assert.deepEqual({ ...memd.JobState }, states);
});

test("the default endpoint follows memd's rules", () => {
    const vars = ["MEMD_ENDPOINT", "MEMD_RUN_DIR", "XDG_RUNTIME_DIR"];
    const saved = vars.map((v) => process.env[v]);
    try {
        for (const v of vars) delete process.env[v];
        assert.equal(memd.defaultEndpoint(), `ipc:///tmp/memd-${os.userInfo().uid}/memd.sock`);
        process.env.XDG_RUNTIME_DIR = "/run/user/42";
        assert.equal(memd.defaultEndpoint(), "ipc:///run/user/42/memd/memd.sock");
        process.env.MEMD_RUN_DIR = server.runDir;
        assert.equal(memd.defaultEndpoint(), server.endpoint);
        const c = new memd.Client();
        assert.equal(c.endpoint, server.endpoint);
        c.close();
        process.env.MEMD_ENDPOINT = "ipc:///tmp/x.sock";
        assert.equal(memd.defaultEndpoint(), "ipc:///tmp/x.sock");
    } finally {
        vars.forEach((v, i) => {
            if (saved[i] === undefined) delete process.env[v];
            else process.env[v] = saved[i];
        });
    }
    assert.throws(() => new memd.Client({ endpoint: "ipc:///tmp/" + "x".repeat(120) }),
        /longer than 107/);
});

test("ping and status", async () => {
    const c = clientFor("status");
    try {
        const pong = await c.ping();
        assert.equal(pong.pid, server.pid);
        assert.ok(pong.version && pong.uptimeMs >= 0);
        const before = await c.status();
        await c.capture("status counts this record");
        const st = await c.status();
        assert.equal(st.pid, server.pid);
        assert.equal(st.state, "WAKE");
        assert.equal(st.endpoint, server.endpoint);
        assert.equal(st.dataDir, server.dataDir);
        assert.equal(st.recordsLive, before.recordsLive + 1);
        assert.equal(st.lastTransition.toState, "WAKE");
        assert.equal(typeof st.jobs.waitingWorkers, "number");
    } finally {
        c.close();
    }
});

test("capture → recall round trip", async () => {
    const c = clientFor("roundtrip");
    try {
        const cap = await c.capture(
            "We chose LMDB for storage because readers never block the writer",
            { session: "s1", kind: "fact", tags: ["db", "storage"],
                metadata: { source: "chat" }, salience: 0.75 });
        assert.ok(cap.id > 0);
        assert.equal(cap.duplicate, false);
        const other = await c.capture("The user prefers dark mode and short answers",
            { session: "s2" });
        const hits = await c.recall("storage writer", { explain: true });
        assert.deepEqual(hits.map((h) => h.record.id), [cap.id]);
        const [hit] = hits;
        assert.ok(hit.score > 0);
        assert.match(hit.explain, /bm25/);
        const r = hit.record;
        assert.equal(r.agent, "js-roundtrip");
        assert.equal(r.session, "s1");
        assert.equal(r.kind, memd.Kind.FACT);
        assert.deepEqual(r.tags, ["db", "storage"]);
        assert.deepEqual(r.metadata, { source: "chat" });
        assert.equal(r.salience, 0.75);
        assert.ok(r.createdAtMs > 0 && r.uid.length === 16);
        assert.equal(typeof r.contentHash, "bigint");
        // Filters.
        assert.deepEqual(await c.recall("storage", { kind: memd.Kind.EPISODIC }), []);
        assert.equal((await c.recall("storage", { tags: ["db"], session: "s1" }))[0].record.id,
            cap.id);
        assert.deepEqual(await c.recall("storage", { session: "s2" }), []);
        assert.equal((await c.recall("dark mode"))[0].record.id, other.id);
        // The same text again is the same record.
        assert.deepEqual(await c.capture("The user prefers dark mode and short answers"),
            { id: other.id, duplicate: true });
    } finally {
        c.close();
    }
});

test("captureMany keeps input order; get returns request order", async () => {
    const c = clientFor("batch");
    try {
        const out = await c.captureMany([
            "first of the batch",
            { text: "second of the batch", kind: memd.Kind.NOTE, tags: ["t"] },
            { text: "third of the batch", session: "b", createdAtMs: 1700000000000 },
            "first of the batch",
        ]);
        assert.deepEqual(out.map((x) => x.duplicate), [false, false, false, true]);
        assert.equal(out[3].id, out[0].id);
        const got = await c.get([out[2].id, out[0].id, out[1].id]);
        assert.deepEqual(got.map((r) => r.text),
            ["third of the batch", "first of the batch", "second of the batch"]);
        assert.equal(got[0].createdAtMs, 1700000000000);
        assert.equal(got[2].kind, memd.Kind.NOTE);
    } finally {
        c.close();
    }
});

test("agents are isolated", async () => {
    const alice = clientFor("alice");
    try {
        const { id } = await alice.capture("only alice knows the vault code");
        assert.deepEqual(await alice.recall("vault", { agent: "js-bob" }), []);
        await assert.rejects(alice.get(id, { agent: "js-bob" }), memd.NotFound);
        assert.equal((await alice.get(id))[0].text, "only alice knows the vault code");
    } finally {
        alice.close();
    }
});

test("get and forget", async () => {
    const c = clientFor("forget");
    try {
        const [a, b, v] = (await c.captureMany([
            { text: "apples are red", session: "fruit" },
            { text: "bananas are yellow", session: "fruit" },
            { text: "carrots are orange", session: "veg" },
        ])).map((x) => x.id);
        assert.equal(await c.forget([a]), 1);
        await assert.rejects(c.get([a, b]), (e) => {
            assert.ok(e instanceof memd.NotFound);
            assert.deepEqual(e.missing, [a]);
            assert.deepEqual(e.records.map((r) => r.id), [b]);
            assert.match(e.message, /1 of 2 records not found/);
            return true;
        });
        await assert.rejects(c.forget([b, a]), (e) => {
            assert.ok(e instanceof memd.NotFound);
            assert.equal(e.forgotten, 1);
            assert.deepEqual(e.missing, [a]);
            return true;
        });
        assert.deepEqual(await c.recall("bananas"), []);
        assert.equal(await c.forget({ session: "veg" }), 1);
        assert.equal(await c.forget({ session: "veg" }), 0);
        await assert.rejects(c.get(v), memd.NotFound);
    } finally {
        c.close();
    }
});

test("calls in flight on one client do not wait for a parked lease", async () => {
    const c = clientFor("inflight");
    const watcher = clientFor("inflight-watch");
    try {
        const parked = c.lease("js-inflight", { waitMs: 5000 });
        await waitForParkedLeases(watcher, 1);
        const t0 = Date.now();
        const [pong, cap] = await Promise.all([
            c.ping(), c.capture("answered while a lease is parked")]);
        const hits = await c.recall("parked");
        assert.ok(Date.now() - t0 < 2000);
        assert.equal(pong.pid, server.pid);
        assert.deepEqual(hits.map((h) => h.record.id), [cap.id]);
        await watcher.enqueue("js-inflight", "go");
        const [job] = await parked;
        assert.equal(job.payload.toString(), "go");
        await c.complete(job);
    } finally {
        c.close();
        watcher.close();
    }
});

test("a closed client rejects calls", async () => {
    const c = clientFor("closed");
    await c.ping();
    c.close();
    c.close();
    await assert.rejects(c.ping(), /closed/);
});
