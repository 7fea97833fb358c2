// Type declarations for memd-client (index.js). The wire contract is
// messages/memd.proto (memd.v1); field names here are camelCase, with
// agentId/sessionId as `agent`/`session`. Ids, counters and times (ms since
// the epoch) are numbers (exact below 2^53); contentHash is a bigint.

/// <reference types="node" />

export declare const Code: Readonly<{
    OK: 0; INVALID_ARGUMENT: 1; NOT_FOUND: 2; TOO_LARGE: 3; RESOURCE_EXHAUSTED: 4;
    STORE_FULL: 5; UNAVAILABLE: 6; PERMISSION_DENIED: 7; INTERNAL: 8;
}>;
export type Code = (typeof Code)[keyof typeof Code];

export declare const Kind: Readonly<{
    UNSPECIFIED: 0; EPISODIC: 1; FACT: 2; SUMMARY: 3; PROCEDURE: 4; NOTE: 5;
}>;
export type Kind = (typeof Kind)[keyof typeof Kind];
/** A Kind, or its name in any case ("fact"). */
export type KindLike = Kind | keyof typeof Kind | Lowercase<keyof typeof Kind>;

export declare const JobState: Readonly<{
    UNSPECIFIED: 0; QUEUED: 1; LEASED: 2; DONE: 3; FAILED: 4; DEAD: 5; BLOCKED: 6;
}>;
export type JobState = (typeof JobState)[keyof typeof JobState];
export type JobStateLike = JobState | keyof typeof JobState | Lowercase<keyof typeof JobState>;

/** memd.v1.JobEvent.Action (ACTION_UNSPECIFIED is UNSPECIFIED): what happened to a job. */
export declare const JobAction: Readonly<{
    UNSPECIFIED: 0; ENQUEUED: 1; LEASED: 2; COMPLETED: 3; FAILED: 4; DEAD: 5;
}>;
export type JobAction = (typeof JobAction)[keyof typeof JobAction];

/** The events' topics. */
export type EventTopic = "captured" | "forgotten" | "state" | "job" | "graph";
export declare const TOPICS: readonly EventTopic[];

/** Path of the memd.proto loaded at run time (MEMD_PROTO, else the repo's messages/memd.proto). */
export declare const PROTO_PATH: string;

// ---- errors ----------------------------------------------------------------

export declare class MemdError extends Error {
    constructor(message: string, code?: number, requestId?: number);
    /** The status code (a Code; another number if a newer memd sent it). */
    code: number;
    /** The code's name, e.g. "NOT_FOUND". */
    codeName: string;
    /** The reply's request_id (0 when memd could not decode the request). */
    requestId: number;
}
export declare class InvalidArgument extends MemdError {}
/** Some ids were not found; Get and Forget did the rest. */
export declare class NotFound extends MemdError {
    missing?: number[];
    /** get(): the records found. */
    records?: MemdRecord[];
    /** forget(): how many were forgotten. */
    forgotten?: number;
    /** retryJobs()/purgeJobs(): how many were done. */
    count?: number;
}
export declare class TooLarge extends MemdError {}
/** Worth retrying with backoff. */
export declare class ResourceExhausted extends MemdError {}
export declare class StoreFull extends MemdError {}
/** memd is down, unreachable, or shutting down. */
export declare class Unavailable extends MemdError {}
/** The request went out and no reply came back within the timeout. */
export declare class Timeout extends Unavailable {}
/** E.g. a stale job fence: the lease was lost, drop the result. */
export declare class PermissionDenied extends MemdError {}
export declare class Internal extends MemdError {
    /** verify(): the problems found. */
    result?: VerifyResult;
}

export declare function errorFor(code: number, message: string, requestId?: number): MemdError;

// ---- results -----------------------------------------------------------------

export interface MemdRecord {
    id: number;
    text: string;
    agent: string;
    session: string;
    kind: Kind;
    tags: string[];
    metadata: Record<string, string>;
    createdAtMs: number;
    salience: number;
    uid: Buffer;
    contentHash: bigint;
    tombstonedAtMs: number;
    mergedInto: number;
    recallCount: number;
    lastRecalledMs: number;
}

/** A record to capture: text, and optionally the rest. */
export interface NewRecord {
    text: string;
    agent?: string;
    session?: string;
    kind?: KindLike;
    tags?: string[];
    metadata?: Record<string, string>;
    createdAtMs?: number;
    salience?: number;
}

export interface Captured { id: number; duplicate: boolean; }
export interface Hit { record: MemdRecord; score: number; explain: string; }
export interface Pong { version: string; pid: number; uptimeMs: number; }

export interface JobKindStats {
    kind: string; queued: number; leased: number; dead: number; retrying: number;
    blocked: number; done: number; oldestDueAgeMs: number; nextDueAtMs: number; limit: number;
}
export interface JobStats {
    queued: number; leased: number; dead: number; retrying: number; blocked: number;
    done: number; oldestDueAgeMs: number; nextDeadlineMs: number; waitingWorkers: number;
    kinds: JobKindStats[];
}
export interface Transition { fromState: string; toState: string; atMs: number; reason: string; }
export interface Consolidation {
    phase: string; cycle: number; cycleStartedMs: number; cycleDoneMs: number; steps: number;
    duplicatesMerged: number; digestsWritten: number; recordsDecayed: number;
    recordsPurged: number; lastError: string;
}
export interface DaemonStatus {
    version: string; pid: number; state: string; uptimeMs: number;
    lastTransition: Transition;
    recordsLive: number; recordsTombstoned: number; rssBytes: number; fds: number;
    threads: number; recallWorkers: number; requests: number; requestsRejected: number;
    dataDir: string; endpoint: string; storeBytes: number; mapBytes: number; jobs: JobStats;
    /** null from a memd without the sleep cycle. */
    consolidation: Consolidation | null;
    /** "" when memd publishes no events. */
    eventsEndpoint: string;
    /** Requests received by operation ("capture", "recall", "status", ...) since start. */
    requestsByKind: Record<string, number>;
    /** Recall latency (arrival to reply) over the last recallWindowMs (10-20 s); 0: none. */
    recallP50Us: number;
    recallP99Us: number;
    recallWindowCount: number;
    recallWindowMs: number;
}
/** The state after sleep() or wake(). */
export interface Lifecycle { state: string; lastTransition: Transition; }
export interface VerifyResult { ok: boolean; records: number; problemCount: number; problems: string[]; }

// ---- events -------------------------------------------------------------------

interface EventBase {
    /** When memd published it (ms since the epoch). */
    atMs: number;
}
/** Records captured: one batch's new ids (duplicates excluded). */
export interface CapturedEvent extends EventBase {
    topic: "captured"; agent: string; ids: number[]; session: string; count: number;
}
/** Records forgotten: by id (ids), or a whole session (session, ids empty). */
export interface ForgottenEvent extends EventBase {
    topic: "forgotten"; agent: string; ids: number[]; session: string; count: number;
}
/** A lifecycle transition. */
export interface StateEvent extends EventBase {
    topic: "state"; fromState: string; toState: string; reason: string;
}
/** A job changed state. */
export interface JobEvent extends EventBase {
    topic: "job"; action: JobAction; id: number; kind: string; state: JobState;
    attempts: number; maxAttempts: number; fence: number; worker: string; error: string;
    /** ENQUEUED, FAILED: when it runs. */
    nextRunAtMs: number;
}
/** An event this client does not decode (a newer memd's, "graph"): the decoded memd.v1.Event. */
export interface UnknownEvent extends EventBase {
    topic: string; message: unknown;
}
export type MemdEvent = CapturedEvent | ForgottenEvent | StateEvent | JobEvent | UnknownEvent;

export interface EventsOptions extends CallOptions {
    /** Iteration ends after this long without an event (default: never). */
    idleTimeoutMs?: number;
}

/**
 * memd's live events on a SUB socket of its own, from client.events(): an
 * async iterator (`for await`; leaving the loop closes it). Every event
 * published after client.events() resolved is delivered unless the reader
 * falls more than 10,000 behind.
 */
export declare class EventStream implements AsyncIterableIterator<MemdEvent> {
    readonly endpoint: string;
    /** The topics subscribed to ([] = all). */
    readonly topics: EventTopic[];
    readonly closed: boolean;
    idleTimeoutMs?: number;
    /** The next event within timeoutMs (none: no limit), or null (timeout, closed). */
    get(options?: { timeoutMs?: number }): Promise<MemdEvent | null>;
    next(): Promise<IteratorResult<MemdEvent, undefined>>;
    return(): Promise<IteratorResult<MemdEvent, undefined>>;
    [Symbol.asyncIterator](): EventStream;
    /** Closes the socket; a pending get() resolves null. Idempotent. */
    close(): void;
}

export interface Job {
    id: number;
    kind: string;
    payload: Buffer;
    dedupeKey: string;
    state: JobState;
    attempts: number;
    maxAttempts: number;
    nextRunAtMs: number;
    leaseOwner: string;
    leaseExpiresAtMs: number;
    fence: number;
    lastError: string;
    dependsOn: number[];
    createdAtMs: number;
    updatedAtMs: number;
    waitingFor: number;
}
export interface Enqueued { id: number; duplicate: boolean; }
export interface JobList { jobs: Job[]; more: boolean; }

// ---- options -----------------------------------------------------------------

export interface ClientOptions {
    /** Default: defaultEndpoint(). */
    endpoint?: string;
    /** Every call's timeout unless the call says (default 5000). */
    timeoutMs?: number;
    /** Agent scope of data-plane calls that do not name one (default "default"). */
    agent?: string;
    /** Lease owner recorded by lease() (default "node-PID"). */
    worker?: string;
}
export interface CallOptions { timeoutMs?: number; }
export interface AgentCallOptions extends CallOptions { agent?: string; }
export interface CaptureOptions extends AgentCallOptions, Omit<NewRecord, "text" | "agent"> {}
export interface RecallOptions extends AgentCallOptions {
    /** Hits wanted (0: 10; at most 1000). */
    k?: number;
    session?: string;
    kind?: KindLike;
    /** Every tag listed must be present. */
    tags?: string[];
    /** created_at_ms >= sinceMs. */
    sinceMs?: number;
    /** created_at_ms < untilMs. */
    untilMs?: number;
    explain?: boolean;
}
export interface ForgetSelector extends AgentCallOptions { ids?: number[]; session?: string; }
export interface EnqueueOptions extends CallOptions {
    dedupeKey?: string;
    maxAttempts?: number;
    delayMs?: number;
    dependsOn?: number[];
}
export interface LeaseOptions extends CallOptions {
    maxJobs?: number;
    /** 0: memd's jobs/lease_ms. */
    leaseMs?: number;
    /** Long-poll: memd parks the call until a job is due or the wait ends. */
    waitMs?: number;
    worker?: string;
}
export interface FailOptions extends CallOptions {
    fatal?: boolean;
    error?: string;
    retryAfterMs?: number;
}
export interface ExtendOptions extends CallOptions { leaseMs?: number; }
export interface ListJobsOptions extends CallOptions {
    state?: JobStateLike;
    kind?: string;
    limit?: number;
    afterId?: number;
}
export interface DeadLetterOptions extends CallOptions { kind?: string; }

/** A job, or anything with its id and fence. */
export type JobRef = Pick<Job, "id" | "fence">;

// ---- the client ----------------------------------------------------------------

/** memd's run directory: $XDG_RUNTIME_DIR/memd, else /tmp/memd-$UID. */
export declare function defaultRunDir(): string;
/** $MEMD_ENDPOINT, else ipc://$MEMD_RUN_DIR/memd.sock, else ipc://<defaultRunDir()>/memd.sock. */
export declare function defaultEndpoint(): string;

/**
 * A connection to memd: one ZeroMQ DEALER socket. Several calls may be in
 * flight at once (replies are matched by request_id). Every call has a
 * timeout and rejects with a MemdError subclass. close() it when done.
 */
export declare class Client {
    constructor(options?: ClientOptions | string);
    readonly endpoint: string;
    timeoutMs: number;
    agent: string;
    worker: string;
    /** Closes the socket; calls in flight reject. Idempotent. */
    close(): void;

    ping(options?: CallOptions): Promise<Pong>;
    status(options?: CallOptions): Promise<DaemonStatus>;

    capture(text: string, options?: CaptureOptions): Promise<Captured>;
    captureMany(records: Array<string | NewRecord>, options?: AgentCallOptions):
        Promise<Captured[]>;
    recall(query: string, options?: RecallOptions): Promise<Hit[]>;
    get(ids: number | number[], options?: AgentCallOptions): Promise<MemdRecord[]>;
    forget(ids: number | number[], options?: AgentCallOptions): Promise<number>;
    forget(selector: ForgetSelector): Promise<number>;

    enqueue(kind: string, payload?: string | Uint8Array, options?: EnqueueOptions):
        Promise<Enqueued>;
    lease(kinds: string | string[], options?: LeaseOptions): Promise<Job[]>;
    complete(job: JobRef, fence?: number, options?: CallOptions): Promise<Job>;
    complete(id: number, fence: number, options?: CallOptions): Promise<Job>;
    fail(job: JobRef, options?: FailOptions): Promise<Job>;
    fail(job: JobRef | number, fence: number, options?: FailOptions): Promise<Job>;
    extend(job: JobRef, options?: ExtendOptions): Promise<Job>;
    extend(job: JobRef | number, fence: number, options?: ExtendOptions): Promise<Job>;
    listJobs(options?: ListJobsOptions): Promise<JobList>;
    jobStats(options?: CallOptions): Promise<JobStats>;
    retryJobs(ids?: number | number[] | null, options?: DeadLetterOptions): Promise<number>;
    retryJobs(options: DeadLetterOptions & { ids?: number[] }): Promise<number>;
    purgeJobs(ids?: number | number[] | null, options?: DeadLetterOptions): Promise<number>;
    purgeJobs(options: DeadLetterOptions & { ids?: number[] }): Promise<number>;

    /** Puts memd to SLEEP now (consolidation, then HIBERNATE). */
    sleep(options?: CallOptions): Promise<Lifecycle>;
    /** Back to WAKE. */
    wake(options?: CallOptions): Promise<Lifecycle>;
    /** The store's consistency check; problems reject with Internal (.result). */
    verify(options?: CallOptions): Promise<VerifyResult>;

    /**
     * The live event stream, once memd has confirmed the subscription
     * (within timeoutMs, else Timeout). topics: one or several (none: all).
     * Rejects with Unavailable when memd has no events endpoint.
     */
    events(topics?: EventTopic | EventTopic[] | null, options?: EventsOptions):
        Promise<EventStream>;
    events(options: EventsOptions & { topics?: EventTopic | EventTopic[] }): Promise<EventStream>;
}
