/*  memd-client — the Node client for memd, the local memory daemon for AI agents.

    const { Client } = require("memd-client");
    const client = new Client();                       // default endpoint, 5 s per call
    const { id } = await client.capture("the sky is blue", { session: "s1" });
    for (const hit of await client.recall("sky")) console.log(hit.score, hit.record.text);
    client.close();

    One ZeroMQ DEALER socket (the `zeromq` v6 package) per Client, framed as
    the C client frames it (docs/protocol.md): [empty][Request] out,
    [empty][Reply] back. The socket connects with ZMQ_IMMEDIATE, so a request
    is never queued for a memd that is not there: a call that cannot be sent
    before its deadline rejects with Unavailable; one sent but not answered in
    time rejects with Timeout. Messages come from messages/memd.proto, loaded
    at run time with protobufjs (nothing generated is committed).

    Several calls may be in flight on one Client (a parked lease does not hold
    up a capture): each carries its own request_id and replies are matched by
    it; a reply that arrives after its call timed out is dropped. A Client
    keeps the process alive only while calls are in flight; close() it when done.
*/
"use strict";

const fs = require("fs");
const os = require("os");
const path = require("path");
const protobuf = require("protobufjs");
const zmq = require("zeromq");

const PROTOCOL_VERSION = 1;
const DEFAULT_TIMEOUT_MS = 5000;
const IPC_PATH_MAX = 107; // sun_path minus its terminating NUL
const BIG_REQUEST_BYTES = 16 << 20; // memd's default api/max_message_bytes

// ---------------------------------------------------------------------------
// The protocol, loaded from the repo's messages/memd.proto (or MEMD_PROTO).

const PROTO_PATH =
    process.env.MEMD_PROTO || path.join(__dirname, "..", "..", "messages", "memd.proto");
let proto = null;

function pb() {
    if (!proto) {
        if (!fs.existsSync(PROTO_PATH))
            throw new Error(`memd-client: ${PROTO_PATH} not found (set MEMD_PROTO to memd.proto)`);
        const root = protobuf.loadSync(PROTO_PATH);
        proto = {
            Request: root.lookupType("memd.v1.Request"),
            Reply: root.lookupType("memd.v1.Reply"),
            Event: root.lookupType("memd.v1.Event"),
            Code: root.lookupEnum("memd.v1.Code").values,
            Kind: root.lookupEnum("memd.v1.Kind").values,
            JobState: root.lookupEnum("memd.v1.JobState").values,
        };
    }
    return proto;
}

/** memd.v1.Code */
const Code = Object.freeze({
    OK: 0, INVALID_ARGUMENT: 1, NOT_FOUND: 2, TOO_LARGE: 3, RESOURCE_EXHAUSTED: 4,
    STORE_FULL: 5, UNAVAILABLE: 6, PERMISSION_DENIED: 7, INTERNAL: 8,
});
/** memd.v1.Kind (KIND_UNSPECIFIED is UNSPECIFIED) */
const Kind = Object.freeze({
    UNSPECIFIED: 0, EPISODIC: 1, FACT: 2, SUMMARY: 3, PROCEDURE: 4, NOTE: 5,
});
/** memd.v1.JobState without its JOB_ prefix */
const JobState = Object.freeze({
    UNSPECIFIED: 0, QUEUED: 1, LEASED: 2, DONE: 3, FAILED: 4, DEAD: 5, BLOCKED: 6,
});
/** memd.v1.JobEvent.Action: what happened to a job (a `job` event) */
const JobAction = Object.freeze({
    UNSPECIFIED: 0, ENQUEUED: 1, LEASED: 2, COMPLETED: 3, FAILED: 4, DEAD: 5,
});
/** The events' topics. */
const TOPICS = Object.freeze(["captured", "forgotten", "state", "job", "graph"]);
/** memd's confirmation of a subscription (messages/mem_codec.h). */
const EVENTS_READY = Buffer.concat([Buffer.from([0xff]), Buffer.from("memd.ready")]);
const codeName = (code) => Object.keys(Code).find((k) => Code[k] === code) || String(code);

// ---------------------------------------------------------------------------
// Errors: one class per Code, each with .code, .codeName and memd's .message.

class MemdError extends Error {
    constructor(message, code = Code.INTERNAL, requestId = 0) {
        super(message);
        this.name = this.constructor.name;
        this.code = code;
        this.codeName = codeName(code);
        this.requestId = requestId;
    }
}
class InvalidArgument extends MemdError {}
/** Some ids were not found; Get and Forget did the rest: .missing, and
    .records (Get), .forgotten (Forget) or .count (retryJobs/purgeJobs). */
class NotFound extends MemdError {}
class TooLarge extends MemdError {}
class ResourceExhausted extends MemdError {}
class StoreFull extends MemdError {}
/** memd is down, unreachable or shutting down. */
class Unavailable extends MemdError {}
/** The request went out and no reply came back within the timeout. */
class Timeout extends Unavailable {}
class PermissionDenied extends MemdError {}
class Internal extends MemdError {}

const ERROR_CLASSES = {
    [Code.INVALID_ARGUMENT]: InvalidArgument, [Code.NOT_FOUND]: NotFound,
    [Code.TOO_LARGE]: TooLarge, [Code.RESOURCE_EXHAUSTED]: ResourceExhausted,
    [Code.STORE_FULL]: StoreFull, [Code.UNAVAILABLE]: Unavailable,
    [Code.PERMISSION_DENIED]: PermissionDenied, [Code.INTERNAL]: Internal,
};

/** The error for a non-OK status (a code from a newer memd: a plain MemdError). */
function errorFor(code, message, requestId = 0) {
    const Cls = ERROR_CLASSES[code] || MemdError;
    return new Cls(message || `memd answered ${codeName(code)}`, code, requestId);
}

// ---------------------------------------------------------------------------
// Default endpoint, as memd derives it.

/** $XDG_RUNTIME_DIR/memd, else /tmp/memd-$UID. */
function defaultRunDir() {
    const xdg = process.env.XDG_RUNTIME_DIR;
    return xdg ? path.join(xdg, "memd") : `/tmp/memd-${os.userInfo().uid}`;
}

/** $MEMD_ENDPOINT, else ipc://$MEMD_RUN_DIR/memd.sock, else ipc://<defaultRunDir()>/memd.sock. */
function defaultEndpoint() {
    if (process.env.MEMD_ENDPOINT) return process.env.MEMD_ENDPOINT;
    return `ipc://${process.env.MEMD_RUN_DIR || defaultRunDir()}/memd.sock`;
}

// ---------------------------------------------------------------------------
// Conversions between the API's plain objects and protobufjs messages.

// u64/i64 fields arrive as numbers or Long objects: ids, counters and times
// (exact below 2^53) become numbers; hashes become BigInts.
const num = (v) => (v === undefined || v === null ? 0
    : typeof v === "object" && v.toNumber ? v.toNumber() : Number(v));
const big = (v) => BigInt(v === undefined || v === null ? 0 : v.toString()); // hashes

function enumValue(table, value, what) {
    if (value === undefined || value === null) return 0;
    if (typeof value === "number") return value;
    const v = table[String(value).toUpperCase()];
    if (v === undefined) throw new TypeError(`unknown ${what} ${JSON.stringify(value)}`);
    return v;
}

function recordToPb(rec) {
    if (typeof rec === "string") rec = { text: rec };
    return {
        text: rec.text, agentId: rec.agent || "", sessionId: rec.session || "",
        kind: enumValue(Kind, rec.kind, "kind"), tags: rec.tags || [],
        metadata: rec.metadata || {}, createdAtMs: rec.createdAtMs || 0,
        salience: rec.salience || 0,
    };
}

function recordFromPb(r) {
    return {
        id: num(r.id), text: r.text || "", agent: r.agentId || "", session: r.sessionId || "",
        kind: r.kind || 0, tags: r.tags || [], metadata: { ...(r.metadata || {}) },
        createdAtMs: num(r.createdAtMs), salience: r.salience || 0,
        uid: Buffer.from(r.uid || []), contentHash: big(r.contentHash),
        tombstonedAtMs: num(r.tombstonedAtMs), mergedInto: num(r.mergedInto),
        recallCount: r.recallCount || 0, lastRecalledMs: num(r.lastRecalledMs),
    };
}

function jobFromPb(j) {
    return {
        id: num(j.id), kind: j.kind || "", payload: Buffer.from(j.payload || []),
        dedupeKey: j.dedupeKey || "", state: j.state || 0, attempts: j.attempts || 0,
        maxAttempts: j.maxAttempts || 0, nextRunAtMs: num(j.nextRunAtMs),
        leaseOwner: j.leaseOwner || "", leaseExpiresAtMs: num(j.leaseExpiresAtMs),
        fence: num(j.fence), lastError: j.lastError || "",
        dependsOn: (j.dependsOn || []).map(num), createdAtMs: num(j.createdAtMs),
        updatedAtMs: num(j.updatedAtMs), waitingFor: j.waitingFor || 0,
    };
}

const STAT_FIELDS = ["queued", "leased", "dead", "retrying", "blocked", "done",
    "oldestDueAgeMs"];

function jobStatsFromPb(s) {
    s = s || {};
    const out = {};
    for (const f of [...STAT_FIELDS, "nextDeadlineMs", "waitingWorkers"]) out[f] = num(s[f]);
    out.kinds = (s.kinds || []).map((k) => {
        const o = { kind: k.kind || "" };
        for (const f of [...STAT_FIELDS, "nextDueAtMs", "limit"]) o[f] = num(k[f]);
        return o;
    });
    return out;
}

function transitionFromPb(t) {
    t = t || {};
    return { fromState: t.fromState || "", toState: t.toState || "", atMs: num(t.atMs),
        reason: t.reason || "" };
}

const CONSOLIDATION_FIELDS = ["cycle", "cycleStartedMs", "cycleDoneMs", "steps",
    "duplicatesMerged", "digestsWritten", "recordsDecayed", "recordsPurged"];

function consolidationFromPb(c) {
    if (!c) return null;
    const out = { phase: c.phase || "", lastError: c.lastError || "" };
    for (const f of CONSOLIDATION_FIELDS) out[f] = num(c[f]);
    return out;
}

function statusFromPb(r) {
    const t = r.lastTransition || {};
    const byKind = {};
    for (const [k, v] of Object.entries(r.requestsByKind || {})) byKind[k] = num(v);
    return {
        version: r.version || "", pid: r.pid || 0, state: r.state || "",
        uptimeMs: num(r.uptimeMs),
        lastTransition: { fromState: t.fromState || "", toState: t.toState || "",
            atMs: num(t.atMs), reason: t.reason || "" },
        recordsLive: num(r.recordsLive), recordsTombstoned: num(r.recordsTombstoned),
        rssBytes: num(r.rssBytes), fds: r.fds || 0, threads: r.threads || 0,
        recallWorkers: r.recallWorkers || 0, requests: num(r.requests),
        requestsRejected: num(r.requestsRejected), dataDir: r.dataDir || "",
        endpoint: r.endpoint || "", storeBytes: num(r.storeBytes), mapBytes: num(r.mapBytes),
        jobs: jobStatsFromPb(r.jobs), consolidation: consolidationFromPb(r.consolidation),
        eventsEndpoint: r.eventsEndpoint || "", requestsByKind: byKind,
        recallP50Us: num(r.recallP50Us), recallP99Us: num(r.recallP99Us),
        recallWindowCount: num(r.recallWindowCount), recallWindowMs: num(r.recallWindowMs),
    };
}

/** A plain event object from a decoded memd.v1.Event. */
function eventFromPb(e) {
    const base = { topic: e.topic || "", atMs: num(e.atMs) };
    switch (e.body) {
    case "captured":
    case "forgotten": {
        const r = e[e.body];
        return { ...base, agent: r.agentId || "", ids: (r.ids || []).map(num),
            session: r.sessionId || "", count: num(r.count) };
    }
    case "state":
        return { ...base, ...transitionFromPb(e.state), atMs: base.atMs };
    case "job": {
        const j = e.job;
        return { ...base, action: j.action || 0, id: num(j.id), kind: j.kind || "",
            state: j.state || 0, attempts: j.attempts || 0, maxAttempts: j.maxAttempts || 0,
            fence: num(j.fence), worker: j.worker || "", error: j.error || "",
            nextRunAtMs: num(j.nextRunAtMs) };
    }
    default:
        return { ...base, message: e };
    }
}

// ---------------------------------------------------------------------------
// The events stream

/**
 * memd's live events on a SUB socket of its own (client.events() makes one):
 * an async iterator of plain event objects, with get({timeoutMs}) for one
 * event and close(). memd confirms the subscription (it answers a
 * subscription to its marker topic, sent last), and client.events()
 * resolves only then: every event published afterwards is delivered, unless
 * the reader falls more than 10,000 events behind (memd never waits).
 */
class EventStream {
    constructor(endpoint, topics, { idleTimeoutMs } = {}) {
        this.endpoint = endpoint;
        this.topics = topics;
        this.idleTimeoutMs = idleTimeoutMs > 0 ? idleTimeoutMs : undefined;
        this._early = [];
        this._reading = Promise.resolve();
        this._closed = false;
        this._sock = new zmq.Subscriber({ linger: 0, receiveHighWaterMark: 10000 });
        this._sock.connect(endpoint);
        if (topics.length) this._sock.subscribe(...topics);
        else this._sock.subscribe();
        this._sock.subscribe(EVENTS_READY); // last: memd answers it once the others are in
    }

    /** Waits for memd's confirmation; rejects with Timeout after timeoutMs. */
    async _ready(timeoutMs) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
            const frames = await this._receive(deadline - Date.now());
            if (!frames) {
                this.close();
                throw new Timeout(`memd did not confirm the events subscription at ` +
                    `${this.endpoint} within ${timeoutMs} ms`, Code.UNAVAILABLE);
            }
            if (frames.length === 1 && frames[0].equals(EVENTS_READY)) return;
            const event = this._decode(frames);
            if (event) this._early.push(event);
        }
    }

    /** The next message's frames within ms (undefined: no limit), or null. */
    async _receive(ms) {
        if (this._closed) return null;
        if (ms !== undefined && ms <= 0) ms = 0;
        this._sock.receiveTimeout = ms === undefined ? -1 : Math.ceil(ms);
        try {
            return await this._sock.receive();
        } catch (e) {
            return null; // EAGAIN (timeout), or the socket was closed
        }
    }

    _decode(frames) {
        if (frames.length !== 2) return null;
        const topic = frames[0].toString("utf8");
        if (this.topics.length && !this.topics.includes(topic)) return null;
        try {
            return eventFromPb(pb().Event.decode(frames[1]));
        } catch (e) {
            return null;
        }
    }

    /** The next event within timeoutMs (undefined: as long as it takes), or
        null when none came in time or the stream is closed. */
    get({ timeoutMs } = {}) {
        // One receive at a time: calls wait their turn.
        const turn = this._reading.then(() => this._get(timeoutMs));
        this._reading = turn.catch(() => {});
        return turn;
    }

    async _get(timeoutMs) {
        if (this._early.length) return this._early.shift();
        const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
        for (;;) {
            const frames = await this._receive(deadline === undefined ? undefined
                : deadline - Date.now());
            if (!frames) return null;
            const event = this._decode(frames);
            if (event) return event;
        }
    }

    /** Async iteration: the next event (done after idleTimeoutMs of quiet, or once closed). */
    async next() {
        const value = await this.get({ timeoutMs: this.idleTimeoutMs });
        return value ? { value, done: false } : { value: undefined, done: true };
    }

    /** Leaving a for-await loop (break, throw) closes the stream. */
    async return() {
        this.close();
        return { value: undefined, done: true };
    }

    [Symbol.asyncIterator]() { return this; }

    get closed() { return this._closed; }

    /** Closes the socket; a pending get() resolves null. Idempotent. */
    close() {
        if (this._closed) return;
        this._closed = true;
        this._sock.close();
    }

    [Symbol.dispose || Symbol.for("Symbol.dispose")]() { this.close(); }
}

const toIds = (ids) => (Array.isArray(ids) ? ids : [ids]).map((i) => Number(i));

function jobRef(job, fence) {
    if (job !== null && typeof job === "object")
        return [num(job.id), fence === undefined || fence === null ? num(job.fence) : num(fence)];
    if (fence === undefined || fence === null)
        throw new TypeError("a job id needs its fence (or pass the job itself)");
    return [Number(job), Number(fence)];
}

function toBuffer(payload) {
    if (payload === undefined || payload === null) return Buffer.alloc(0);
    if (typeof payload === "string") return Buffer.from(payload, "utf8");
    return Buffer.from(payload);
}

function seedRequestId() {
    // 48 random bits, non-zero: exact as a JS number; memd answers an
    // undecodable request with request_id 0.
    return Number(require("crypto").randomBytes(6).readUIntLE(0, 6)) || 1;
}

// ---------------------------------------------------------------------------
// The client

class Client {
    /**
     * @param {object} [options]
     * @param {string} [options.endpoint] default: defaultEndpoint()
     * @param {number} [options.timeoutMs] per call (default 5000)
     * @param {string} [options.agent] agent scope of data-plane calls (default "default")
     * @param {string} [options.worker] lease owner name (default "node-PID")
     */
    constructor(options = {}) {
        if (typeof options === "string") options = { endpoint: options };
        this.endpoint = options.endpoint || defaultEndpoint();
        if (this.endpoint.startsWith("ipc://") &&
            Buffer.byteLength(this.endpoint.slice(6)) > IPC_PATH_MAX)
            throw new RangeError(`ipc path is longer than ${IPC_PATH_MAX} bytes: ${this.endpoint}`);
        this.timeoutMs = options.timeoutMs > 0 ? options.timeoutMs : DEFAULT_TIMEOUT_MS;
        this.agent = options.agent || "default";
        this.worker = options.worker || `node-${process.pid}`;
        pb(); // load the .proto now: a missing file fails here, not on the first call
        this._nextId = seedRequestId();
        this._pending = new Map(); // request_id → {resolve, reject, timer, size}
        this._sending = Promise.resolve(); // zeromq allows one send at a time
        this._receiving = false;
        this._closed = false;
        // Options first: immediate only applies to connections made after it.
        this._sock = new zmq.Dealer({
            linger: 0, immediate: true, sendHighWaterMark: 100, receiveHighWaterMark: 1000,
            reconnectInterval: 50, reconnectMaxInterval: 500,
        });
        this._sock.connect(this.endpoint);
    }

    /** Closes the socket; calls in flight reject. Idempotent. */
    close() {
        if (this._closed) return;
        this._closed = true;
        this._failAll(new Error("memd client closed"));
        this._sock.close();
    }

    /** For `using client = new Client()` (explicit resource management). */
    [Symbol.dispose || Symbol.for("Symbol.dispose")]() {
        this.close();
    }

    // -- the call ------------------------------------------------------------

    /** Sends {op: message} and resolves with the Reply (any status). */
    _call(op, message, { agent, timeoutMs, extraWaitMs = 0 } = {}) {
        if (this._closed) return Promise.reject(new Error("memd client is closed"));
        const budget = (timeoutMs > 0 ? timeoutMs : this.timeoutMs) + Math.max(0, extraWaitMs);
        const deadline = Date.now() + budget;
        const requestId = this._nextId;
        this._nextId = this._nextId >= 2 ** 53 - 1 ? 1 : this._nextId + 1;
        const { Request } = pb();
        const fields = { requestId, protocolVersion: PROTOCOL_VERSION, [op]: message };
        if (agent !== undefined) fields.agentId = agent;
        const err = Request.verify(fields);
        if (err) return Promise.reject(new TypeError(`memd-client: bad ${op} request: ${err}`));
        const data = Buffer.from(Request.encode(Request.fromObject(fields)).finish());

        return new Promise((resolve, reject) => {
            const entry = { resolve, reject, size: data.length, sent: false, timer: null, deadline,
                budget };
            entry.timer = setTimeout(() => {
                if (this._pending.get(requestId) !== entry) return;
                this._pending.delete(requestId);
                reject(entry.sent ? this._timeoutError(budget, data.length)
                    : this._unreachable(budget));
            }, budget);
            this._pending.set(requestId, entry);
            // _send settles its call itself; the chain only orders the sends.
            this._sending = this._sending
                .then(() => this._send(requestId, entry, data, deadline))
                .catch(() => {});
        });
    }

    async _send(requestId, entry, data, deadline) {
        if (this._pending.get(requestId) !== entry || this._closed) return; // timed out queued
        try {
            this._sock.sendTimeout = Math.max(0, deadline - Date.now());
            await this._sock.send([Buffer.alloc(0), data]);
            entry.sent = true;
            this._pump();
        } catch (e) {
            if (this._pending.get(requestId) !== entry) return;
            this._pending.delete(requestId);
            clearTimeout(entry.timer);
            entry.reject(e.code === "EAGAIN" ? this._unreachable(entry.budget)
                : new Unavailable(`sending to memd at ${this.endpoint} failed: ${e.message}`,
                    Code.UNAVAILABLE));
        }
    }

    /** Receives while calls are in flight, handing each reply to its call. */
    async _pump() {
        if (this._receiving) return;
        this._receiving = true;
        try {
            while (!this._closed && this._pending.size > 0) {
                // Wake up no later than the last deadline in flight, so that an
                // idle client holds no pending receive (and the process can exit).
                let last = 0;
                for (const p of this._pending.values()) last = Math.max(last, p.deadline);
                this._sock.receiveTimeout = Math.max(1, last - Date.now());
                let frames;
                try {
                    frames = await this._sock.receive();
                } catch (e) {
                    if (e.code === "EAGAIN") continue;
                    if (this._closed) return;
                    this._failAll(new Unavailable(
                        `receiving from memd at ${this.endpoint} failed: ${e.message}`,
                        Code.UNAVAILABLE));
                    return;
                }
                this._dispatch(frames);
            }
        } finally {
            this._receiving = false;
        }
    }

    _failAll(err) {
        for (const [id, p] of this._pending) {
            clearTimeout(p.timer);
            this._pending.delete(id);
            p.reject(err);
        }
    }

    _dispatch(frames) {
        const { Reply } = pb();
        let reply = null;
        if (frames.length === 2 && frames[0].length === 0) {
            try {
                reply = Reply.decode(frames[1]);
            } catch (e) {
                reply = null;
            }
        }
        if (!reply) return; // not a memd.v1 Reply: nothing to match it with
        const code = reply.status ? reply.status.code : Code.OK;
        let id = num(reply.requestId);
        if (id === 0 && code !== Code.OK) id = this._attributeUndecoded(reply);
        const entry = this._pending.get(id);
        if (!entry) return; // a late reply to a call that timed out
        this._pending.delete(id);
        clearTimeout(entry.timer);
        entry.resolve(reply);
    }

    /** memd answers a request it did not decode (e.g. over max_message_bytes)
        with request_id 0: it is the only call in flight, or the one whose size
        the message names. */
    _attributeUndecoded(reply) {
        const sent = [...this._pending].filter(([, p]) => p.sent);
        if (sent.length === 1) return sent[0][0];
        const m = /request of (\d+) bytes/.exec(reply.status.message || "");
        const match = m && sent.find(([, p]) => p.size === Number(m[1]));
        return match ? match[0] : 0;
    }

    _unreachable(budgetMs) {
        const ep = this.endpoint;
        if (ep.startsWith("ipc://") && !fs.existsSync(ep.slice(6)))
            return new Unavailable(`memd is not running (no socket at ${ep.slice(6)})`,
                Code.UNAVAILABLE);
        return new Unavailable(`could not connect to memd at ${ep} within ${budgetMs} ms`,
            Code.UNAVAILABLE);
    }

    _timeoutError(budgetMs, size) {
        const hint = size > BIG_REQUEST_BYTES
            ? ` (a ${size}-byte request may be over memd's api/max_message_bytes)`
            : " (is memd running?)";
        return new Timeout(`no reply from memd at ${this.endpoint} within ${budgetMs} ms${hint}`,
            Code.UNAVAILABLE);
    }

    /** Throws the reply's error, with partial results attached to NotFound. */
    static _check(reply, partial = {}) {
        const code = reply.status ? reply.status.code : Code.OK;
        if (code === Code.OK) return;
        const err = errorFor(code, reply.status.message, num(reply.requestId));
        if (err instanceof NotFound) Object.assign(err, partial);
        throw err;
    }

    static _expect(reply, result) {
        Client._check(reply);
        if (reply.result !== result)
            throw new Internal(`memd's reply carries no ${result} result`, Code.INTERNAL);
        return reply[result];
    }

    // -- control plane ---------------------------------------------------------

    /** memd's version, pid and uptime (control plane: never activity). */
    async ping({ timeoutMs } = {}) {
        const r = Client._expect(await this._call("ping", {}, { timeoutMs }), "ping");
        return { version: r.version || "", pid: r.pid || 0, uptimeMs: num(r.uptimeMs) };
    }

    /** A status snapshot: state, counts, resources, job queue numbers. */
    async status({ timeoutMs } = {}) {
        return statusFromPb(Client._expect(await this._call("status", {}, { timeoutMs }),
            "statusResult"));
    }

    // -- memory -------------------------------------------------------------------

    /** Captures one record; resolves once durable with {id, duplicate}. */
    async capture(text, { session, kind, tags, metadata, createdAtMs, salience, agent,
        timeoutMs } = {}) {
        const [one] = await this.captureMany(
            [{ text, session, kind, tags, metadata, createdAtMs, salience }],
            { agent, timeoutMs });
        return one;
    }

    /** Captures a batch in one durable transaction, all or nothing. Items are
        texts or record objects; results in input order. */
    async captureMany(records, { agent, timeoutMs } = {}) {
        const list = records.map(recordToPb);
        const r = Client._expect(await this._call("capture", { records: list },
            { agent: agent || this.agent, timeoutMs }), "capture");
        const ids = r.ids || [];
        if (ids.length !== list.length)
            throw new Internal(`memd acknowledged a capture of ${list.length} records with ` +
                `${ids.length} ids`, Code.INTERNAL);
        return ids.map((id, i) => ({ id: num(id), duplicate: !!(r.duplicate || [])[i] }));
    }

    /** The agent's records ranked for query (BM25), best first. */
    async recall(query, { k, session, kind, tags, sinceMs, untilMs, explain, agent,
        timeoutMs } = {}) {
        const msg = {
            query, k: k || 0, sessionId: session || "", kind: enumValue(Kind, kind, "kind"),
            tags: tags || [], sinceMs: sinceMs || 0, untilMs: untilMs || 0,
            explain: !!explain,
        };
        const r = Client._expect(await this._call("recall", msg,
            { agent: agent || this.agent, timeoutMs }), "recall");
        return (r.hits || []).map((h) => ({
            record: recordFromPb(h.record || {}), score: h.score || 0, explain: h.explain || "",
        }));
    }

    /** Records by id, in request order. Missing ids reject with NotFound
        (.records found, .missing). */
    async get(ids, { agent, timeoutMs } = {}) {
        const reply = await this._call("get", { ids: toIds(ids) },
            { agent: agent || this.agent, timeoutMs });
        const g = reply.get || {};
        const records = (g.records || []).map(recordFromPb);
        Client._check(reply, { records, missing: (g.missing || []).map(num) });
        if (reply.result !== "get")
            throw new Internal("memd's reply carries no get result", Code.INTERNAL);
        return records;
    }

    /** Tombstones records: forget(ids) or forget({session}). Resolves with the
        count; unknown ids reject with NotFound (.forgotten, .missing). */
    async forget(idsOrOptions, { agent, timeoutMs } = {}) {
        let msg;
        if (idsOrOptions !== null && typeof idsOrOptions === "object" &&
            !Array.isArray(idsOrOptions)) {
            msg = { ids: idsOrOptions.ids ? toIds(idsOrOptions.ids) : [],
                sessionId: idsOrOptions.session || "" };
            agent = agent || idsOrOptions.agent;
            timeoutMs = timeoutMs || idsOrOptions.timeoutMs;
        } else {
            msg = { ids: idsOrOptions === undefined ? [] : toIds(idsOrOptions) };
        }
        const reply = await this._call("forget", msg, { agent: agent || this.agent, timeoutMs });
        const f = reply.forget || {};
        Client._check(reply, { forgotten: num(f.forgotten), missing: (f.missing || []).map(num) });
        if (reply.result !== "forget")
            throw new Internal("memd's reply carries no forget result", Code.INTERNAL);
        return num(f.forgotten);
    }

    // -- jobs (not agent-scoped) --------------------------------------------------

    /** Queues a job; resolves with {id, duplicate}. */
    async enqueue(kind, payload, { dedupeKey, maxAttempts, delayMs, dependsOn,
        timeoutMs } = {}) {
        const msg = {
            kind, payload: toBuffer(payload), dedupeKey: dedupeKey || "",
            maxAttempts: maxAttempts || 0, delayMs: delayMs || 0,
            dependsOn: dependsOn ? toIds(dependsOn) : [],
        };
        const r = Client._expect(await this._call("jobEnqueue", msg, { timeoutMs }),
            "jobEnqueue");
        return { id: num(r.id), duplicate: !!r.duplicate };
    }

    /** Leases up to maxJobs due jobs of the kinds. With waitMs memd parks the
        call until a job is due (long-poll) or the wait ends (then []); the
        call's timeout is extended by waitMs. */
    async lease(kinds, { maxJobs, leaseMs, waitMs, worker, timeoutMs } = {}) {
        const msg = {
            kinds: Array.isArray(kinds) ? kinds : [kinds], maxJobs: maxJobs || 0,
            leaseMs: leaseMs || 0, waitMs: waitMs || 0, worker: worker || this.worker,
        };
        const r = Client._expect(await this._call("jobLease", msg,
            { timeoutMs, extraWaitMs: waitMs || 0 }), "jobLease");
        return (r.jobs || []).map(jobFromPb);
    }

    /** Completes a leased job (the job object, or id and fence). A stale
        fence rejects with PermissionDenied: drop the result. */
    async complete(job, fence, { timeoutMs } = {}) {
        if (fence !== null && typeof fence === "object") [fence, { timeoutMs } = {}] =
            [undefined, fence];
        const [id, f] = jobRef(job, fence);
        return jobFromPb(Client._expect(await this._call("jobComplete", { id, fence: f },
            { timeoutMs }), "job").job);
    }

    /** Fails a leased job: retried later, or a dead letter when fatal. */
    async fail(job, fence, { fatal, error, retryAfterMs, timeoutMs } = {}) {
        if (fence !== null && typeof fence === "object") [fence, { fatal, error, retryAfterMs,
            timeoutMs } = {}] = [undefined, fence];
        const [id, f] = jobRef(job, fence);
        const msg = { id, fence: f, fatal: !!fatal, error: error || "",
            retryAfterMs: retryAfterMs || 0 };
        return jobFromPb(Client._expect(await this._call("jobFail", msg, { timeoutMs }),
            "job").job);
    }

    /** Extends a lease by leaseMs from now (0: memd's jobs/lease_ms). */
    async extend(job, fence, { leaseMs, timeoutMs } = {}) {
        if (fence !== null && typeof fence === "object") [fence, { leaseMs, timeoutMs } = {}] =
            [undefined, fence];
        const [id, f] = jobRef(job, fence);
        return jobFromPb(Client._expect(await this._call("jobExtend",
            { id, fence: f, leaseMs: leaseMs || 0 }, { timeoutMs }), "job").job);
    }

    /** Jobs by id, filtered by state and kind: {jobs, more}. */
    async listJobs({ state, kind, limit, afterId, timeoutMs } = {}) {
        const msg = { state: enumValue(JobState, state, "job state"), kind: kind || "",
            limit: limit || 0, afterId: afterId || 0 };
        const r = Client._expect(await this._call("jobList", msg, { timeoutMs }), "jobList");
        return { jobs: (r.jobs || []).map(jobFromPb), more: !!r.more };
    }

    /** Queue numbers, in total and per kind. */
    async jobStats({ timeoutMs } = {}) {
        return jobStatsFromPb(Client._expect(await this._call("jobStats", {}, { timeoutMs }),
            "jobStats"));
    }

    /** Dead letters back to the queue: the ids, or with none every dead letter (of kind). */
    retryJobs(ids, { kind, timeoutMs } = {}) {
        return this._bulk("jobRetry", "retried", ids, kind, timeoutMs);
    }

    /** Deletes dead letters: the ids, or with none every dead letter (of kind). */
    purgeJobs(ids, { kind, timeoutMs } = {}) {
        return this._bulk("jobPurge", "purged", ids, kind, timeoutMs);
    }

    async _bulk(op, counter, ids, kind, timeoutMs) {
        if (ids !== null && typeof ids === "object" && !Array.isArray(ids))
            ({ ids, kind, timeoutMs } = ids);
        const list = ids === undefined || ids === null ? [] : toIds(ids);
        let total = 0;
        for (;;) {
            const reply = await this._call(op, { ids: list, kind: kind || "" }, { timeoutMs });
            const r = reply[op] || {};
            const done = num(r[counter]);
            total += done;
            Client._check(reply, { count: total, missing: (r.missing || []).map(num) });
            if (reply.result !== op)
                throw new Internal(`memd's reply carries no ${op} result`, Code.INTERNAL);
            // memd works in bounded steps: without ids, ask again while it says
            // there is more and a step made progress.
            if (list.length || !r.more || done === 0) return total;
        }
    }

    // -- the sleep cycle and the store's check ------------------------------------

    /** Puts memd to SLEEP now (consolidation, then HIBERNATE): {state, lastTransition}. */
    async sleep({ timeoutMs } = {}) {
        return this._lifecycle("sleep", timeoutMs);
    }

    /** Returns memd to WAKE: {state, lastTransition}. */
    async wake({ timeoutMs } = {}) {
        return this._lifecycle("wake", timeoutMs);
    }

    async _lifecycle(op, timeoutMs) {
        const r = Client._expect(await this._call(op, {}, { timeoutMs }), "lifecycle");
        return { state: r.state || "", lastTransition: transitionFromPb(r.lastTransition) };
    }

    /** Checks the whole store in one snapshot: {ok, records, problemCount,
        problems}. Problems reject with Internal whose .result lists them. */
    async verify({ timeoutMs } = {}) {
        const reply = await this._call("verify", {}, { timeoutMs });
        const v = reply.verify || {};
        const result = { ok: !!v.ok, records: num(v.records), problemCount: num(v.problemCount),
            problems: v.problems || [] };
        const code = reply.status ? reply.status.code : Code.OK;
        if (code !== Code.OK) {
            const err = errorFor(code, reply.status.message, num(reply.requestId));
            err.result = result;
            throw err;
        }
        if (reply.result !== "verify")
            throw new Internal("memd's reply carries no verify result", Code.INTERNAL);
        return result;
    }

    // -- events ---------------------------------------------------------------------

    /**
     * The live event stream: resolves with an EventStream (an async iterator
     * of events) once memd has confirmed the subscription, within timeoutMs
     * (default the client's; else Timeout). topics: one or several of
     * "captured", "forgotten", "state", "job", "graph" (none: all). Rejects
     * with Unavailable when memd has no events endpoint.
     */
    async events(topics, { idleTimeoutMs, timeoutMs } = {}) {
        if (topics !== null && typeof topics === "object" && !Array.isArray(topics))
            ({ topics, idleTimeoutMs, timeoutMs } = topics);
        const list = topics === undefined || topics === null ? []
            : Array.isArray(topics) ? [...topics] : [topics];
        for (const t of list)
            if (!TOPICS.includes(t))
                throw new TypeError(`unknown event topic ${JSON.stringify(t)} ` +
                    `(one of ${TOPICS.join(", ")})`);
        const budget = timeoutMs > 0 ? timeoutMs : this.timeoutMs;
        const { eventsEndpoint } = await this.status({ timeoutMs: budget });
        if (!eventsEndpoint)
            throw new Unavailable("memd publishes no events (its api/events_endpoint is none)",
                Code.UNAVAILABLE);
        const stream = new EventStream(eventsEndpoint, list, { idleTimeoutMs });
        await stream._ready(budget);
        return stream;
    }
}

module.exports = {
    Client, EventStream, defaultEndpoint, defaultRunDir, errorFor, Code, Kind, JobState,
    JobAction, TOPICS,
    MemdError, InvalidArgument, NotFound, TooLarge, ResourceExhausted, StoreFull,
    Unavailable, Timeout, PermissionDenied, Internal, PROTO_PATH,
};
