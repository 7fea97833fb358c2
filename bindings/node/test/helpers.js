/*  Test helpers: a real memd on temporary directories (as
    tests/integration/lib.sh starts one), reached over ipc. ctest sets
    MEMD_BINARY to the built memd; by hand it defaults to build/memd. */
"use strict";

const assert = require("node:assert/strict");
const { spawn, spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");
const memd = require("..");

const REPO = path.resolve(__dirname, "..", "..", "..");
const MEMD_BINARY = process.env.MEMD_BINARY || path.join(REPO, "build", "memd");

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

class MemdProcess {
    /** Starts memd (args: extra flags; wrap: a command line prefix such as
        unshare; dataDir: a directory of the caller's) and waits for a ping. */
    static async start(args = [], { wrap = [], dataDir } = {}) {
        const self = new MemdProcess();
        self.tmp = fs.mkdtempSync("/tmp/memd-js.");
        self.dataDir = dataDir || path.join(self.tmp, "data");
        self.runDir = path.join(self.tmp, "run");
        self.endpoint = `ipc://${self.runDir}/memd.sock`;
        self.logPath = path.join(self.tmp, "memd.log");
        fs.mkdirSync(self.dataDir, { recursive: true });
        self.cmd = [...wrap, MEMD_BINARY, "--data-dir", self.dataDir, "--run-dir", self.runDir,
            ...args];
        await self.start();
        return self;
    }

    async start() {
        const log = fs.openSync(this.logPath, "a");
        this.proc = spawn(this.cmd[0], this.cmd.slice(1), { stdio: ["ignore", log, log] });
        fs.closeSync(log);
        this.exited = new Promise((resolve) => this.proc.on("exit", (code, signal) =>
            resolve(code === null ? signal : code)));
        this.running = true;
        this.exited.then(() => { this.running = false; });
        const probe = new memd.Client({ endpoint: this.endpoint, timeoutMs: 200 });
        try {
            const deadline = Date.now() + 10000;
            while (Date.now() < deadline) {
                if (!this.running) throw new Error(`memd died at start:\n${this.log()}`);
                try {
                    await probe.ping();
                    return;
                } catch (e) {
                    if (!(e instanceof memd.Unavailable)) throw e;
                    await sleep(20);
                }
            }
            throw new Error(`memd did not answer within 10 s:\n${this.log()}`);
        } finally {
            probe.close();
        }
    }

    get pid() { return this.proc.pid; }

    client(options = {}) {
        return new memd.Client({ endpoint: this.endpoint, timeoutMs: 5000, ...options });
    }

    log() { return fs.readFileSync(this.logPath, "utf8"); }

    /** SIGTERM; resolves with the exit code. */
    async stop() {
        if (this.running) this.proc.kill("SIGTERM");
        return this.exited;
    }

    /** SIGSTOP, and wait until every thread is stopped (one busy on the other
        core could otherwise still answer for a moment). */
    async freeze() {
        process.kill(this.pid, "SIGSTOP");
        const taskDir = `/proc/${this.pid}/task`;
        const deadline = Date.now() + 5000;
        while (Date.now() < deadline) {
            const states = fs.readdirSync(taskDir).map((tid) => {
                try {
                    const stat = fs.readFileSync(path.join(taskDir, tid, "stat"), "utf8");
                    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
                } catch (e) {
                    return "T";
                }
            });
            if (states.every((s) => s === "T" || s === "t")) return;
            await sleep(5);
        }
        throw new Error("memd did not stop on SIGSTOP");
    }

    thaw() { process.kill(this.pid, "SIGCONT"); }

    async cleanup() {
        if (this.running) {
            process.kill(this.pid, "SIGCONT");
            this.proc.kill("SIGKILL");
            await this.exited;
        }
        fs.rmSync(this.tmp, { recursive: true, force: true });
    }
}

/** memd stops on SIGTERM with exit code 0 and no dangling sockets. */
async function assertCleanExit(server) {
    const rc = await server.stop();
    const log = server.log();
    assert.equal(rc, 0, `memd exited ${rc}:\n${log.slice(-3000)}`);
    assert.ok(!log.includes("dangling"), log.slice(-3000));
}

/** Waits until memd has n Lease requests parked. */
async function waitForParkedLeases(client, n) {
    const deadline = Date.now() + 5000;
    while ((await client.jobStats()).waitingWorkers !== n) {
        if (Date.now() > deadline) throw new Error(`no ${n} parked lease(s) within 5 s`);
        await sleep(10);
    }
}

/** Asserts that promise rejects with an instance of cls carrying code, whose message matches re. */
async function rejectsWith(promise, cls, code, re) {
    await assert.rejects(promise, (e) => {
        assert.ok(e instanceof cls, `expected ${cls.name}, got ${e && e.name}: ${e && e.message}`);
        assert.ok(e instanceof memd.MemdError);
        assert.equal(e.code, code);
        assert.match(e.message, re);
        return true;
    });
}

function unshareWorks() {
    const r = spawnSync("unshare", ["-rm", "true"], { timeout: 10000 });
    return !r.error && r.status === 0;
}

module.exports = { MemdProcess, assertCleanExit, waitForParkedLeases, rejectsWith, sleep,
    unshareWorks, REPO };
