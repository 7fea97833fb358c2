/*  Timeouts: memd down (Unavailable within the timeout), memd silent
    (Timeout), per-call timeouts, late replies dropped, restarts survived. */
"use strict";

const { test } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const memd = require("..");
const { MemdProcess } = require("./helpers");

/** Runs fn while memd is stopped (SIGSTOP): connected, but silent. */
async function whileFrozen(s, fn) {
    await s.freeze();
    try {
        await fn();
    } finally {
        s.thaw();
    }
}

test("no memd: Unavailable within the timeout", async () => {
    const c = new memd.Client({ endpoint: `ipc:///tmp/memd-js-none-${process.pid}/memd.sock`,
        timeoutMs: 300 });
    try {
        const t0 = Date.now();
        await assert.rejects(c.ping(), (e) => {
            assert.ok(e instanceof memd.Unavailable && !(e instanceof memd.Timeout));
            assert.equal(e.code, memd.Code.UNAVAILABLE);
            assert.match(e.message, /memd is not running/);
            return true;
        });
        const elapsed = Date.now() - t0;
        assert.ok(elapsed >= 250 && elapsed < 1000, `${elapsed} ms`);
    } finally {
        c.close();
    }
});

test("a stale socket path nobody listens on: Unavailable", async () => {
    // What a memd that died leaves behind: the path exists, nothing accepts.
    const dir = fs.mkdtempSync("/tmp/memd-js.");
    const sock = path.join(dir, "memd.sock");
    fs.writeFileSync(sock, "");
    const c = new memd.Client({ endpoint: `ipc://${sock}`, timeoutMs: 300 });
    try {
        const t0 = Date.now();
        await assert.rejects(c.status(), (e) => e instanceof memd.Unavailable &&
            /could not connect/.test(e.message));
        assert.ok(Date.now() - t0 < 1000);
    } finally {
        c.close();
        fs.rmSync(dir, { recursive: true, force: true });
    }
});

test("silent memd: Timeout, and the late reply is not taken for the next call", async () => {
    const s = await MemdProcess.start();
    const c = s.client({ timeoutMs: 30000 });
    try {
        await c.ping();
        await whileFrozen(s, async () => {
            const t0 = Date.now();
            await assert.rejects(c.ping({ timeoutMs: 300 }), (e) => {
                assert.ok(e instanceof memd.Timeout && e instanceof memd.Unavailable);
                assert.match(e.message, /no reply from memd/);
                return true;
            });
            const elapsed = Date.now() - t0;
            assert.ok(elapsed >= 250 && elapsed < 1500, `${elapsed} ms`);
        });
        const st = await c.status({ timeoutMs: 5000 });
        assert.equal(st.pid, s.pid);
        assert.equal(st.state, "WAKE");
        assert.equal((await c.ping()).pid, s.pid);
    } finally {
        c.close();
        await s.cleanup();
    }
});

test("the client timeout applies to every call", async () => {
    const s = await MemdProcess.start();
    const c = s.client({ timeoutMs: 200 });
    try {
        await c.capture("ready");
        await whileFrozen(s, async () => {
            for (const call of [() => c.recall("ready"), () => c.get(1), () => c.jobStats()]) {
                const t0 = Date.now();
                await assert.rejects(call(), memd.Timeout);
                assert.ok(Date.now() - t0 < 1000);
            }
        });
        assert.equal((await c.recall("ready", { timeoutMs: 5000 }))[0].record.text, "ready");
    } finally {
        c.close();
        await s.cleanup();
    }
});

test("a client survives a memd restart", async () => {
    const s = await MemdProcess.start();
    const c = s.client({ timeoutMs: 3000 });
    try {
        const first = (await c.ping()).pid;
        assert.equal(await s.stop(), 0);
        await assert.rejects(c.ping({ timeoutMs: 200 }), memd.Unavailable);
        await s.start();
        assert.notEqual((await c.ping()).pid, first);
    } finally {
        c.close();
        await s.cleanup();
    }
});
