/*  Every status code memd can return, provoked for real, rejects with its
    error class carrying the code and memd's message. */
"use strict";

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const memd = require("..");
const { Code } = memd;
const { MemdProcess, assertCleanExit, waitForParkedLeases, rejectsWith, unshareWorks } =
    require("./helpers");

let server;
let c;
before(async () => {
    server = await MemdProcess.start(["--set", "jobs/backoff_ms=20",
        "--set", "jobs/backoff_max_ms=40"]);
    c = server.client({ agent: "js-errors" });
});
after(async () => {
    c.close();
    try { await assertCleanExit(server); } finally { await server.cleanup(); }
});

test("INVALID_ARGUMENT → InvalidArgument", async () => {
    const IA = memd.InvalidArgument;
    await rejectsWith(c.capture(""), IA, Code.INVALID_ARGUMENT, /record 0: text is empty/);
    await rejectsWith(c.recall(""), IA, Code.INVALID_ARGUMENT, /query is empty/);
    await rejectsWith(c.recall("x", { k: 5000 }), IA, Code.INVALID_ARGUMENT, /k = 5000 is over/);
    await rejectsWith(c.forget([]), IA, Code.INVALID_ARGUMENT, /ids or a session_id/);
    await rejectsWith(c.enqueue("bad kind with spaces"), IA, Code.INVALID_ARGUMENT, /kind/);
});

test("NOT_FOUND → NotFound", async () => {
    await rejectsWith(c.get(987654321), memd.NotFound, Code.NOT_FOUND, /1 of 1 records not found/);
    await rejectsWith(c.complete(987654321, 1), memd.NotFound, Code.NOT_FOUND,
        /job 987654321 not found/);
    await rejectsWith(c.enqueue("js-deps", "", { dependsOn: [987654321] }), memd.NotFound,
        Code.NOT_FOUND, /depends_on: job 987654321 does not exist/);
});

test("TOO_LARGE → TooLarge, also for a frame memd did not decode", async () => {
    await rejectsWith(c.capture("x".repeat(2 << 20)), memd.TooLarge, Code.TOO_LARGE,
        /record 0: text is 2097152 bytes/);
    const many = Array.from({ length: 10001 }, (_, i) => `r${i}`);
    await rejectsWith(c.captureMany(many), memd.TooLarge, Code.TOO_LARGE,
        /10001 records is over the batch limit/);
    // Over api/max_message_bytes (16 MiB): refused before decoding, so the
    // reply's request_id is 0; with another call in flight it still finds its call.
    const big = Array.from({ length: 17 }, (_, i) => `${i}` + "y".repeat((1 << 20) - 16));
    const [tooBig, pong] = await Promise.allSettled([
        c.captureMany(big, { timeoutMs: 20000 }), c.ping()]);
    assert.equal(pong.status, "fulfilled");
    assert.equal(tooBig.status, "rejected");
    assert.ok(tooBig.reason instanceof memd.TooLarge, String(tooBig.reason));
    assert.match(tooBig.reason.message, /over the limit of 16777216 bytes/);
    assert.equal(tooBig.reason.requestId, 0);
    await c.ping();
});

test("PERMISSION_DENIED → PermissionDenied for a lost lease", async () => {
    await c.enqueue("js-fence", "slow work");
    const [first] = await c.lease("js-fence", { leaseMs: 50 });
    assert.equal(first.fence, 1);
    const [second] = await c.lease("js-fence", { waitMs: 5000 }); // due again after expiry
    assert.equal(second.id, first.id);
    assert.equal(second.fence, 2);
    await rejectsWith(c.complete(first), memd.PermissionDenied, Code.PERMISSION_DENIED,
        /stale fence/);
    await rejectsWith(c.extend(first), memd.PermissionDenied, Code.PERMISSION_DENIED,
        /stale fence/);
    assert.equal((await c.complete(second)).state, memd.JobState.DONE);
});

test("RESOURCE_EXHAUSTED → ResourceExhausted when too many leases wait", async () => {
    const s = await MemdProcess.start(["--set", "jobs/max_waiting=1"]);
    const a = s.client();
    const b = s.client();
    try {
        const parked = a.lease("js-full", { waitMs: 5000 });
        await waitForParkedLeases(b, 1);
        await rejectsWith(b.lease("js-full", { waitMs: 5000 }), memd.ResourceExhausted,
            Code.RESOURCE_EXHAUSTED, /1 Lease requests are waiting already/);
        await b.enqueue("js-full", "unblock");
        assert.equal((await parked)[0].payload.toString(), "unblock");
    } finally {
        a.close();
        b.close();
        await s.cleanup();
    }
});

test("UNAVAILABLE → Unavailable (not Timeout) when memd shuts down", async () => {
    const s = await MemdProcess.start();
    const a = s.client();
    const watcher = s.client();
    try {
        const t0 = Date.now();
        const parked = a.lease("js-stop", { waitMs: 20000 });
        await waitForParkedLeases(watcher, 1);
        const stopped = s.stop();
        await assert.rejects(parked, (e) => {
            assert.equal(e.constructor, memd.Unavailable);
            assert.equal(e.code, Code.UNAVAILABLE);
            assert.match(e.message, /shutting down/);
            return true;
        });
        assert.ok(Date.now() - t0 < 10000);
        assert.equal(await stopped, 0);
    } finally {
        a.close();
        watcher.close();
        await s.cleanup();
    }
});

test("STORE_FULL → StoreFull when the disk is full", { skip: !unshareWorks() &&
    "needs unshare -rm (user+mount namespaces)" }, async () => {
    // memd's data directory on a 4 MiB tmpfs in a private mount namespace,
    // filled up behind its back through /proc/PID/root.
    const tmp = fs.mkdtempSync("/tmp/memd-js-full.");
    const data = path.join(tmp, "data");
    fs.mkdirSync(data);
    const s = await MemdProcess.start([], { dataDir: data, wrap: ["unshare", "-rm", "sh", "-c",
        'mount -t tmpfs -o size=4m tmpfs "$0" && exec "$@"', data] });
    const w = s.client();
    try {
        const kept = (await w.capture("written before the disk filled up")).id;
        const ballast = `/proc/${s.pid}/root${data}/ballast`;
        const fd = fs.openSync(ballast, "w");
        assert.throws(() => { for (;;) fs.writeSync(fd, Buffer.alloc(65536)); }, /ENOSPC/);
        fs.closeSync(fd);
        await rejectsWith(w.capture("this one does not fit ".repeat(200)), memd.StoreFull,
            Code.STORE_FULL, /the disk is full/);
        assert.equal((await w.get(kept))[0].id, kept);
        fs.unlinkSync(ballast);
        assert.ok((await w.capture("this one does not fit ".repeat(200))).id > kept);
    } finally {
        w.close();
        await s.cleanup();
        fs.rmSync(tmp, { recursive: true, force: true });
    }
});

test("INTERNAL → Internal when the store cannot be written", async () => {
    // data.mdb may not grow past 600 KiB (ulimit -f, SIGXFSZ ignored): the
    // write fails with EFBIG, which LMDB reports as EIO.
    const s = await MemdProcess.start([], { wrap: ["bash", "-c",
        'ulimit -f 600 && trap "" XFSZ && exec "$@"', "memd"] });
    const w = s.client();
    try {
        const kept = (await w.capture("small and stored")).id;
        await rejectsWith((async () => {
            for (let i = 0; i < 10; i++) await w.capture(`chunk ${i} `.repeat(40000));
        })(), memd.Internal, Code.INTERNAL, /write failed, nothing was stored/);
        assert.equal((await w.get(kept))[0].text, "small and stored");
    } finally {
        w.close();
        await s.cleanup();
    }
});

test("an unknown code from a newer memd keeps its number", () => {
    const e = memd.errorFor(42, "from a newer memd");
    assert.equal(e.constructor, memd.MemdError);
    assert.equal(e.code, 42);
});
