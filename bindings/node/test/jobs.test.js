/*  The job queue from Node: enqueue → lease → extend → complete, failures
    and dead letters, dedupe, and the long-poll. */
"use strict";

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const memd = require("..");
const { MemdProcess, assertCleanExit, sleep } = require("./helpers");

let server;
let c;
before(async () => {
    server = await MemdProcess.start();
    c = server.client();
});
after(async () => {
    c.close();
    try { await assertCleanExit(server); } finally { await server.cleanup(); }
});

test("a job enqueued, leased, extended and completed", async () => {
    const e = await c.enqueue("js-basic", "record 7", { maxAttempts: 3 });
    assert.ok(e.id > 0);
    assert.equal(e.duplicate, false);
    const [job] = await c.lease("js-basic", { leaseMs: 10000, worker: "js-test" });
    assert.equal(job.id, e.id);
    assert.equal(job.payload.toString(), "record 7");
    assert.equal(job.state, memd.JobState.LEASED);
    assert.equal(job.fence, 1);
    assert.equal(job.attempts, 1);
    assert.equal(job.leaseOwner, "js-test");
    assert.equal(job.maxAttempts, 3);
    const extended = await c.extend(job, { leaseMs: 60000 });
    assert.ok(extended.leaseExpiresAtMs > job.leaseExpiresAtMs);
    const done = await c.complete(job);
    assert.equal(done.state, memd.JobState.DONE);
    assert.deepEqual(await c.lease("js-basic"), []);
    const listed = await c.listJobs({ state: "done", kind: "js-basic" });
    assert.deepEqual(listed.jobs.map((j) => j.id), [job.id]);
    assert.equal(listed.more, false);
    const kind = (await c.jobStats()).kinds.find((k) => k.kind === "js-basic");
    assert.equal(kind.done, 1);
    assert.equal(kind.queued, 0);
});

test("dedupe key", async () => {
    const a = await c.enqueue("js-dedupe", Buffer.from("one"), { dedupeKey: "s1" });
    assert.deepEqual(await c.enqueue("js-dedupe", "two", { dedupeKey: "s1" }),
        { id: a.id, duplicate: true });
    assert.notEqual((await c.enqueue("js-dedupe", "three", { dedupeKey: "s2" })).id, a.id);
});

test("fail, dead letters, retry and purge", async () => {
    const kind = "js-dead";
    const first = (await c.enqueue(kind, "bad input")).id;
    let [job] = await c.lease(kind);
    const dead = await c.fail(job, { fatal: true, error: "cannot parse" });
    assert.equal(dead.state, memd.JobState.DEAD);
    assert.equal(dead.lastError, "cannot parse");
    assert.equal(await c.retryJobs([first]), 1);
    [job] = await c.lease(kind);
    assert.equal(job.attempts, 1);
    const later = await c.fail(job.id, job.fence, { error: "flaky", retryAfterMs: 60000 });
    assert.equal(later.state, memd.JobState.FAILED);
    const second = (await c.enqueue(kind, "also bad")).id;
    [job] = await c.lease(kind);
    assert.equal(job.id, second);
    await c.fail(job, { fatal: true });
    assert.equal(await c.purgeJobs({ kind }), 1);
    assert.deepEqual((await c.listJobs({ state: memd.JobState.DEAD, kind })).jobs, []);
    await assert.rejects(c.retryJobs([first]), (e) => {
        assert.ok(e instanceof memd.NotFound);
        assert.deepEqual(e.missing, [first]);
        assert.equal(e.count, 0);
        return true;
    });
});

test("lease long-poll returns when another client enqueues", async () => {
    const worker = server.client({ timeoutMs: 2000 });
    const producer = server.client();
    try {
        const t0 = Date.now();
        // Beyond the 2 s client timeout on purpose: the wait extends it.
        const parked = worker.lease("js-longpoll", { waitMs: 8000 });
        await sleep(300);
        await producer.enqueue("js-longpoll", "wake up");
        const jobs = await parked;
        const elapsed = Date.now() - t0;
        assert.deepEqual(jobs.map((j) => j.payload.toString()), ["wake up"]);
        assert.ok(elapsed >= 250 && elapsed < 4000, `${elapsed} ms`);
        await worker.complete(jobs[0]);
        // With nothing enqueued the wait ends empty, after waitMs.
        const t1 = Date.now();
        assert.deepEqual(await worker.lease("js-longpoll", { waitMs: 300 }), []);
        assert.ok(Date.now() - t1 >= 250);
    } finally {
        worker.close();
        producer.close();
    }
});
