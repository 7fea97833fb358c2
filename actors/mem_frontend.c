/*  mem_frontend — the public face of memd (DESIGN §2, §6).

    Binds the API ROUTER last, after the actors behind it are up. Every
    request is framed-checked, decoded and validated here; bad ones get an
    error reply at once. Ping, Status and JobStats are answered here from
    the store and /proc, so the control plane never waits on a busy actor.
    Captures and forgets go to the capture actor (the one record writer);
    job operations to the reaper (which parks long-poll Leases itself, so
    nothing waits here); recalls and gets go to the recall pool, balanced
    by readiness: a worker gets a request only when it said it is free, and
    requests wait here (bounded) when every worker is busy.

    Sleep and Wake go to the lifecycle actor; Verify and Export to the
    recall pool; Import to the writer; Backup to the backup actor.
    GraphStats is answered here from the store (the graph actor is never
    waited for: a build in progress shows the last generation); its refresh
    goes on to the graph actor as a note. Neighbors and Community are read
    by the recall pool.

    Access control (mem_zap.c): both public sockets get a ZAP domain with
    enforcement and the ipc uid filter before they bind, and a monitor
    whose refused connections are counted in status. Replies never block:
    the API socket is ROUTER_MANDATORY and replies go out with DONTWAIT, so
    one to a client that has gone or stopped reading is dropped and
    counted (replies_dropped) instead of stalling the frontend.

    The frontend is the lifecycle's only source: it reports real activity
    (data-plane requests; never Ping, Status or an idle connection), at
    most once per coalescing window (a quarter of drowsy_after, at most
    1 s) with a trailing report for what the window held, and work in
    flight: a capture backlog (piggybacked on the activity report, with a
    "BUSY capture 0" when it ends) and leased jobs (from the reaper's
    snapshots). Its only timer is that trailing report, armed only while
    requests flow.

    It owns the events PUB endpoint (an XPUB: it answers a subscription to
    MEM_EVENTS_READY with that marker, so a subscriber knows when it is in
    place): actors push [topic][Event] to an inproc PULL and it publishes
    them as they are; the lifecycle's STATE messages become `state` events.

    Traffic for status (memctl top): requests by operation, and the latency
    of recalls from arrival to the relay of the reply (a ring of arrival
    times beside the recall queue, one slot per worker; no allocation per
    request, no timer).

    Pipe commands: $TERM; DRAIN (stop taking data-plane work, answer
    "DRAINED" once every forwarded request has been answered).
*/
#include "mem_actors.h"
#include "mem_log.h"
#include "mem_proc.h"
#include "mem_jobs.h"
#include "mem_records.h"
#include "mem_consolidate.h"
#include "mem_latency.h"

#define S_OPS          80       //  request op_cases counted (field numbers of Request.op)
#define S_LATENCY_SLOT 10000    //  recall latency: percentiles over the last 10 to 20 s

//  A recall worker and the arrival time of the recall it is serving.
typedef struct {
    uint8_t id[16];           //  its ROUTER identity
    size_t id_size;           //  0: slot free
    int64_t since_us;         //  0: not serving a recall
} s_worker_t;

typedef struct {
    zsock_t *pipe;
    zsock_t *api;             //  ROUTER, public
    zsock_t *capture;         //  PAIR to the capture actor
    zsock_t *reaper;          //  PAIR to the reaper (job queue)
    zsock_t *recall;          //  ROUTER the recall workers connect to
    zsock_t *lifecycle;       //  PAIR to the lifecycle actor
    zsock_t *events_in;       //  PULL: events from every actor
    zsock_t *events;          //  XPUB, public (NULL: no events endpoint)
    zsock_t *backup;          //  PAIR to the backup actor
    zsock_t *api_monitor;     //  PAIR: refused connections on the API socket
    zsock_t *events_monitor;  //  PAIR: the same on the events socket (NULL: none)
    uint64_t refused;         //  connections refused (both public sockets)
    uint64_t dropped;         //  replies dropped: the client had gone or was not reading
    zsock_t *graph;           //  PAIR to the graph actor
    zpoller_t *poller;
    mem_context_t *ctx;
    zlist_t *idle_workers;    //  zframe_t * worker identities, ready for work
    zlist_t *waiting;         //  zmsg_t * [identity][bytes] for the recall pool
    size_t in_flight;         //  forwarded, not yet answered
    uint64_t requests, rejected;
    uint64_t by_op[S_OPS];    //  decoded requests by op_case
    mem_latency_t recall_latency;
    int64_t *arrived;         //  ring beside `waiting`: a recall's arrival (µs), 0 for others
    size_t arrived_head;
    s_worker_t *workers;      //  one per recall worker
    uint32_t jobs_waiting;    //  Lease requests parked in the reaper (its last snapshot)
    uint32_t jobs_leased;     //  1 if any job is leased (its last snapshot)
    //  Lifecycle: its last STATE and PROGRESS, and activity accounting.
    char state[16], from[16], to[16], reason[128];
    int64_t transition_ms;
    uint64_t steps;
    char step_error[256];
    size_t writes_in_flight;  //  captures and forgets with the writer
    bool busy_told;           //  the lifecycle was told the writer is busy
    bool activity_pending;    //  data-plane requests not yet reported
    const char *activity_what;
    int64_t activity_told_ms; //  monotonic
    int64_t coalesce_ms;
    bool graph_busy, graph_building;   //  the graph actor's last report
    char graph_error[256];
    uint64_t activity_reports;
    int64_t last_reply_ms;    //  monotonic: when the last reply went out
    zframe_t *watch_status;   //  transcript watching's last WatchStatus (packed), or NULL
    bool draining;
    bool terminated;
} self_t;

//  A client loses a reply that reaches it together with the end of its
//  connection (libzmq drops what its session holds when the peer goes), so
//  at shutdown the API socket stays open this long after the last reply.
#define LAST_REPLY_GRACE_MS 100

static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (!self)
        return;
    int64_t since = mem_mono_ms () - self->last_reply_ms;
    if (self->api && self->last_reply_ms && since < LAST_REPLY_GRACE_MS)
        zclock_sleep ((int) (LAST_REPLY_GRACE_MS - since));
    zpoller_destroy (&self->poller);
    zsock_destroy (&self->api);
    zsock_destroy (&self->capture);
    zsock_destroy (&self->reaper);
    zsock_destroy (&self->recall);
    zsock_destroy (&self->lifecycle);
    zsock_destroy (&self->events_in);
    zsock_destroy (&self->events);
    zsock_destroy (&self->graph);
    zsock_destroy (&self->backup);
    zsock_destroy (&self->api_monitor);
    zsock_destroy (&self->events_monitor);
    zframe_destroy (&self->watch_status);
    if (self->idle_workers) {
        zframe_t *frame;
        while ((frame = zlist_pop (self->idle_workers)))
            zframe_destroy (&frame);
        zlist_destroy (&self->idle_workers);
    }
    if (self->waiting) {
        zmsg_t *msg;
        while ((msg = zlist_pop (self->waiting)))
            zmsg_destroy (&msg);
        zlist_destroy (&self->waiting);
    }
    free (self->arrived);
    free (self->workers);
    free (self);
    *self_p = NULL;
}

//  Sends [identity][empty][reply] to a client; takes both frames.
static void
s_reply (self_t *self, zframe_t **identity_p, zframe_t **reply_p)
{
    if (!*reply_p) {
        mem_log_error ("frontend: cannot pack a reply");
        zframe_destroy (identity_p);
        return;
    }
    //  ROUTER_MANDATORY: the first frame fails at once (EHOSTUNREACH: the
    //  client has gone; EAGAIN: its queue is full) and nothing is sent.
    //  Once it is in, the other frames of the message follow it.
    if (zframe_send (identity_p, self->api, ZFRAME_MORE | ZFRAME_DONTWAIT) == 0
        && zmq_send (zsock_resolve (self->api), "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) == 0
        && zframe_send (reply_p, self->api, ZFRAME_DONTWAIT) == 0) {
        self->last_reply_ms = mem_mono_ms ();
        return;
    }
    self->dropped++;
    zframe_destroy (identity_p);
    zframe_destroy (reply_p);
}

static void
s_reject (self_t *self, zframe_t **identity_p, uint64_t request_id, mem_code_t code,
          const char *message)
{
    self->rejected++;
    zframe_t *reply = mem_codec_error_reply (request_id, code, "%s", message);
    s_reply (self, identity_p, &reply);
}

//  The job queue's numbers, with the arrays the message points into.
typedef struct {
    Memd__V1__JobStatsResult result;
    Memd__V1__JobKindStats *kinds;
    Memd__V1__JobKindStats **ptrs;
    mem_job_kind_stats_t *raw;
} s_job_stats_t;

static void
s_job_stats_free (s_job_stats_t *st)
{
    free (st->kinds);
    free (st->ptrs);
    free (st->raw);
}

//  Reads the job numbers from the store in txn (never waits on the reaper).
static int
s_job_stats (self_t *self, MDB_txn *txn, s_job_stats_t *st)
{
    memset (st, 0, sizeof *st);
    memd__v1__job_stats_result__init (&st->result);
    int64_t now = mem_now_ms (), expiry = 0;
    size_t n = 0;
    int rc = mem_jobs_stats (self->ctx->store, txn, now, &st->raw, &n);
    if (!rc)
        rc = mem_jobs_next_expiry (self->ctx->store, txn, &expiry);
    if (rc)
        return rc;
    st->kinds = calloc (n ? n : 1, sizeof *st->kinds);
    st->ptrs = calloc (n ? n : 1, sizeof *st->ptrs);
    if (!st->kinds || !st->ptrs)
        return ENOMEM;
    Memd__V1__JobStatsResult *r = &st->result;
    int64_t next = expiry;
    for (size_t i = 0; i < n; i++) {
        const mem_job_kind_stats_t *raw = &st->raw[i];
        Memd__V1__JobKindStats *k = &st->kinds[i];
        memd__v1__job_kind_stats__init (k);
        k->kind = (char *) raw->kind;
        //  "queued": every job waiting to run, whatever it waits for.
        k->queued = raw->count[MEMD__V1__JOB_STATE__JOB_QUEUED]
                  + raw->count[MEMD__V1__JOB_STATE__JOB_FAILED]
                  + raw->count[MEMD__V1__JOB_STATE__JOB_BLOCKED];
        k->leased = raw->count[MEMD__V1__JOB_STATE__JOB_LEASED];
        k->dead = raw->count[MEMD__V1__JOB_STATE__JOB_DEAD];
        k->retrying = raw->count[MEMD__V1__JOB_STATE__JOB_FAILED];
        k->blocked = raw->count[MEMD__V1__JOB_STATE__JOB_BLOCKED];
        k->done = raw->count[MEMD__V1__JOB_STATE__JOB_DONE];
        k->oldest_due_age_ms = raw->oldest_due_ms ? now - raw->oldest_due_ms : 0;
        k->next_due_at_ms = raw->next_due_ms;
        k->limit = mem_reaper_kind_limit (&self->ctx->jobs, raw->kind);
        st->ptrs[i] = k;
        r->queued += k->queued;
        r->leased += k->leased;
        r->dead += k->dead;
        r->retrying += k->retrying;
        r->blocked += k->blocked;
        r->done += k->done;
        if (k->oldest_due_age_ms > r->oldest_due_age_ms)
            r->oldest_due_age_ms = k->oldest_due_age_ms;
        if (raw->next_due_ms && (!next || raw->next_due_ms < next))
            next = raw->next_due_ms;
    }
    r->next_deadline_ms = next;
    r->kinds = st->ptrs;
    r->n_kinds = n;
    r->waiting_workers = self->jobs_waiting;
    return 0;
}

static zframe_t *
s_job_stats_reply (self_t *self, const Memd__V1__Request *req)
{
    MDB_txn *txn;
    s_job_stats_t st;
    memset (&st, 0, sizeof st);
    int rc = mem_store_read_begin (self->ctx->store, &txn);
    if (rc == 0) {
        rc = s_job_stats (self, txn, &st);
        mem_store_read_end (self->ctx->store, &txn);
    }
    zframe_t *frame;
    if (rc)
        frame = mem_codec_error_reply (req->request_id, mem_code_from_store (rc),
                                       "cannot read job stats: %s", mdb_strerror (rc));
    else {
        Memd__V1__Status status = MEMD__V1__STATUS__INIT;
        Memd__V1__Reply reply = MEMD__V1__REPLY__INIT;
        reply.request_id = req->request_id;
        reply.status = &status;
        reply.result_case = MEMD__V1__REPLY__RESULT_JOB_STATS;
        reply.job_stats = &st.result;
        frame = mem_codec_pack (&reply.base);
    }
    s_job_stats_free (&st);
    return frame;
}

//  Status from the store (a read never waits on the writer) and /proc.
static zframe_t *
s_status_reply (self_t *self, const Memd__V1__Request *req)
{
    mem_context_t *ctx = self->ctx;
    Memd__V1__StatusResult result = MEMD__V1__STATUS_RESULT__INIT;
    Memd__V1__Transition transition = MEMD__V1__TRANSITION__INIT;
    result.version = MEMD_VERSION;
    result.pid = (uint32_t) getpid ();
    result.state = self->state;
    result.uptime_ms = mem_now_ms () - ctx->started_ms;
    transition.from_state = self->from;
    transition.to_state = self->to;
    transition.at_ms = self->transition_ms;
    transition.reason = self->reason;
    result.last_transition = &transition;
    result.events_endpoint = ctx->events_endpoint ? (char *) ctx->events_endpoint : "";
    result.activity_reports = self->activity_reports;
    MDB_txn *txn;
    s_job_stats_t jobs;
    memset (&jobs, 0, sizeof jobs);
    mem_consolidate_state_t cs;
    Memd__V1__GraphStatsResult graph = MEMD__V1__GRAPH_STATS_RESULT__INIT;
    graph.building = self->graph_building;
    graph.last_error = self->graph_error;
    result.graph = &graph;
    int rc = mem_store_read_begin (ctx->store, &txn);
    if (rc == 0) {
        rc = mem_records_counts (ctx->store, txn, &result.records_live, &result.records_tombstoned);
        result.embeddings = mem_store_counter_get (txn, ctx->store, "embeddings");
        if (!rc)
            rc = s_job_stats (self, txn, &jobs);
        if (!rc)
            rc = mem_consolidate_state (ctx->store, txn, &cs);
        if (!rc)
            rc = mem_graph_totals (ctx, txn, &graph);
        mem_store_read_end (ctx->store, &txn);
    }
    Memd__V1__Consolidation consolidation = MEMD__V1__CONSOLIDATION__INIT;
    if (!rc) {
        consolidation.phase = (char *) mem_phase_name (cs.phase);
        consolidation.cycle = cs.cycle;
        consolidation.cycle_started_ms = cs.cycle_started_ms;
        consolidation.cycle_done_ms = cs.cycle_done_ms;
        consolidation.steps = self->steps;
        consolidation.duplicates_merged = cs.merged;
        consolidation.digests_written = cs.digests;
        consolidation.records_decayed = cs.decayed;
        consolidation.records_purged = cs.purged;
        consolidation.last_error = self->step_error;
        result.consolidation = &consolidation;
    }
    if (rc) {
        s_job_stats_free (&jobs);
        return mem_codec_error_reply (req->request_id, mem_code_from_store (rc),
                                      "cannot read record and job counts: %s", mdb_strerror (rc));
    }
    result.jobs = &jobs.result;
    result.watch = self->watch_status ? memd__v1__watch_status__unpack (
                       NULL, zframe_size (self->watch_status), zframe_data (self->watch_status))
                                      : NULL;
    mem_proc_usage_t usage;
    mem_proc_usage (&usage);
    result.rss_bytes = usage.rss_bytes;
    result.fds = usage.fds;
    result.threads = usage.threads;
    result.recall_workers = ctx->recall_workers;
    result.requests = self->requests;
    result.requests_rejected = self->rejected;
    result.connections_refused = self->refused;
    result.replies_dropped = self->dropped;
    result.data_dir = (char *) ctx->data_dir;
    result.endpoint = (char *) ctx->endpoint;
    mem_store_sizes (ctx->store, &result.map_bytes, &result.store_bytes);
    Memd__V1__StatusResult__RequestsByKindEntry by_kind[S_OPS], *by_kind_p[S_OPS];
    for (int op = 1; op < S_OPS; op++) {
        const ProtobufCFieldDescriptor *field
            = protobuf_c_message_descriptor_get_field (&memd__v1__request__descriptor, op);
        if (!self->by_op[op] || !field)
            continue;
        Memd__V1__StatusResult__RequestsByKindEntry *e = &by_kind[result.n_requests_by_kind];
        memd__v1__status_result__requests_by_kind_entry__init (e);
        e->key = (char *) field->name;
        e->value = self->by_op[op];
        by_kind_p[result.n_requests_by_kind++] = e;
    }
    result.requests_by_kind = by_kind_p;
    mem_latency_summary_t latency;
    mem_latency_summary (&self->recall_latency, mem_mono_ms (), &latency);
    result.recall_p50_us = latency.p50_us;
    result.recall_p99_us = latency.p99_us;
    result.recall_window_count = latency.count;
    result.recall_window_ms = latency.window_ms;

    Memd__V1__Status status = MEMD__V1__STATUS__INIT;
    Memd__V1__Reply reply = MEMD__V1__REPLY__INIT;
    reply.request_id = req->request_id;
    reply.status = &status;
    reply.result_case = MEMD__V1__REPLY__RESULT_STATUS_RESULT;
    reply.status_result = &result;
    zframe_t *frame = mem_codec_pack (&reply.base);
    s_job_stats_free (&jobs);
    if (result.watch)
        memd__v1__watch_status__free_unpacked (result.watch, NULL);
    return frame;
}

//  GraphStats from the store; a refresh is passed on to the graph actor.
static zframe_t *
s_graph_stats_reply (self_t *self, const Memd__V1__Request *req)
{
    MDB_txn *txn;
    int rc = mem_store_read_begin (self->ctx->store, &txn);
    if (rc)
        return mem_codec_error_reply (req->request_id, mem_code_from_store (rc),
                                      "cannot read the graph: %s", mdb_strerror (rc));
    zframe_t *reply = mem_graph_stats_reply (self->ctx, txn, req, self->graph_building,
                                             self->graph_error);
    mem_store_read_end (self->ctx->store, &txn);
    if (req->graph_stats->refresh)
        zstr_sendx (self->graph, "REFRESH", req->agent_id, NULL);
    return reply;
}

//  From the graph actor: ["STATE", busy, building, last error]. Busy is
//  work in flight for the lifecycle.
static void
s_self_handle_graph (self_t *self)
{
    zmsg_t *msg = zmsg_recv (self->graph);
    char *command = msg ? zmsg_popstr (msg) : NULL;
    char *busy = msg ? zmsg_popstr (msg) : NULL;
    char *building = msg ? zmsg_popstr (msg) : NULL;
    char *error = msg ? zmsg_popstr (msg) : NULL;
    if (command && streq (command, "STATE") && busy && building && error) {
        bool now_busy = streq (busy, "1");
        if (now_busy != self->graph_busy)
            zstr_sendx (self->lifecycle, "BUSY", "graph", now_busy ? "1" : "0", NULL);
        self->graph_busy = now_busy;
        self->graph_building = streq (building, "1");
        snprintf (self->graph_error, sizeof self->graph_error, "%s", error);
    }
    else
        mem_log_error ("frontend: malformed message from the graph actor");
    zstr_free (&command);
    zstr_free (&busy);
    zstr_free (&building);
    zstr_free (&error);
    zmsg_destroy (&msg);
}

static zframe_t *
s_ping_reply (self_t *self, const Memd__V1__Request *req)
{
    Memd__V1__PingResult result = MEMD__V1__PING_RESULT__INIT;
    result.version = MEMD_VERSION;
    result.pid = (uint32_t) getpid ();
    result.uptime_ms = mem_now_ms () - self->ctx->started_ms;
    Memd__V1__Status status = MEMD__V1__STATUS__INIT;
    Memd__V1__Reply reply = MEMD__V1__REPLY__INIT;
    reply.request_id = req->request_id;
    reply.status = &status;
    reply.result_case = MEMD__V1__REPLY__RESULT_PING;
    reply.ping = &result;
    return mem_codec_pack (&reply.base);
}

static void s_relay (self_t *self, zmsg_t *msg);

//  A short name of a data-plane operation, for the lifecycle's reason.
static const char *
s_op_name (int op)
{
    switch (op) {
    case MEMD__V1__REQUEST__OP_CAPTURE: return "capture";
    case MEMD__V1__REQUEST__OP_RECALL: return "recall";
    case MEMD__V1__REQUEST__OP_CONTEXT: return "context";
    case MEMD__V1__REQUEST__OP_GET: return "get";
    case MEMD__V1__REQUEST__OP_FORGET: return "forget";
    case MEMD__V1__REQUEST__OP_JOB_ENQUEUE: return "job enqueue";
    case MEMD__V1__REQUEST__OP_EXPORT_RECORDS: return "export";
    case MEMD__V1__REQUEST__OP_IMPORT_RECORDS: return "import";
    case MEMD__V1__REQUEST__OP_NEIGHBORS: return "neighbors";
    case MEMD__V1__REQUEST__OP_COMMUNITY: return "community";
    default: return "job";
    }
}

//  Tells the lifecycle about activity: at once when nothing was told in
//  the last coalescing window, else at the window's end (s_activity_flush).
static void
s_activity_tell (self_t *self)
{
    bool busy = self->writes_in_flight > 0;
    zstr_sendx (self->lifecycle, "ACTIVITY", self->activity_what, NULL);
    //  The lifecycle enters WAKE on every ACTIVITY: status says so from
    //  now, not once its STATE is back (a Status sent right after this
    //  request's reply could be answered first, with the state before).
    //  The transition itself is the lifecycle's word, when it comes.
    snprintf (self->state, sizeof self->state, "%s", "WAKE");
    self->activity_reports++;
    if (busy && !self->busy_told)
        zstr_sendx (self->lifecycle, "BUSY", "capture", "1", NULL);
    self->busy_told = self->busy_told || busy;
    self->activity_told_ms = mem_mono_ms ();
    self->activity_pending = false;
}

static void
s_activity (self_t *self, const char *what)
{
    self->activity_what = what;
    bool asleep = !streq (self->state, "WAKE");
    if (asleep || mem_mono_ms () - self->activity_told_ms >= self->coalesce_ms)
        s_activity_tell (self);
    else
        self->activity_pending = true;
}

//  The poller timeout: the end of the coalescing window, if a report waits.
static int
s_activity_timeout (self_t *self)
{
    if (!self->activity_pending)
        return -1;
    int64_t wait = self->activity_told_ms + self->coalesce_ms - mem_mono_ms ();
    return wait > 0 ? (int) wait : 0;
}

//  From the lifecycle: ["STATE", Transition], ["PROGRESS", steps, error]
//  or ["REPLY", identity, reply].
static void
s_self_handle_lifecycle (self_t *self)
{
    zmsg_t *msg = zmsg_recv (self->lifecycle);
    if (!msg)
        return;
    char *command = zmsg_popstr (msg);
    if (command && streq (command, "STATE")) {
        zframe_t *frame = zmsg_first (msg);
        Memd__V1__Transition *t
            = frame ? memd__v1__transition__unpack (NULL, zframe_size (frame), zframe_data (frame))
                    : NULL;
        if (t) {
            snprintf (self->state, sizeof self->state, "%s", t->to_state);
            snprintf (self->from, sizeof self->from, "%s", t->from_state);
            snprintf (self->to, sizeof self->to, "%s", t->to_state);
            snprintf (self->reason, sizeof self->reason, "%s", t->reason);
            self->transition_ms = t->at_ms;
            Memd__V1__Event event = MEMD__V1__EVENT__INIT;
            event.topic = "state";
            event.body_case = MEMD__V1__EVENT__BODY_STATE;
            event.state = t;
            event.at_ms = mem_now_ms ();
            zframe_t *bytes = self->events ? mem_codec_pack (&event.base) : NULL;
            if (bytes) {
                zmsg_t *out = zmsg_new ();
                zmsg_addstr (out, "state");
                zmsg_append (out, &bytes);
                zmsg_send (&out, self->events);
            }
            memd__v1__transition__free_unpacked (t, NULL);
            //  Requests that came while the lifecycle decided to doze count now.
            if (self->activity_pending && !streq (self->state, "WAKE"))
                s_activity_tell (self);
        }
    }
    else if (command && streq (command, "PROGRESS") && zmsg_size (msg) == 2) {
        zframe_t *steps = zmsg_first (msg);
        if (zframe_size (steps) == sizeof self->steps)
            memcpy (&self->steps, zframe_data (steps), sizeof self->steps);
        char *error = zframe_strdup (zmsg_next (msg));
        snprintf (self->step_error, sizeof self->step_error, "%s", error ? error : "");
        free (error);
    }
    else if (command && streq (command, "REPLY"))
        s_relay (self, msg), msg = NULL;
    else
        mem_log_error ("frontend: unknown message from the lifecycle");
    zstr_free (&command);
    zmsg_destroy (&msg);
}

//  Events from the actors, [topic][Event], published as they are.
static void
s_self_handle_events (self_t *self)
{
    zmsg_t *msg = zmsg_recv (self->events_in);
    if (msg && zmsg_size (msg) == 2 && zframe_streq (zmsg_first (msg), MEM_STATUS_WATCH)) {
        zframe_destroy (&self->watch_status);   //  kept for Status, never published
        self->watch_status = zmsg_last (msg);
        zmsg_remove (msg, self->watch_status);
    }
    else if (msg && self->events && zmsg_size (msg) == 2)
        zmsg_send (&msg, self->events);   //  PUB never blocks: slow subscribers lose events
    zmsg_destroy (&msg);
}

//  Subscriptions on the events XPUB (verbose: every one, repeats too). A
//  subscription to MEM_EVENTS_READY comes after the subscriber's others, so
//  publishing the marker then tells it they are in place.
static void
s_self_handle_subscriptions (self_t *self)
{
    zframe_t *frame = zframe_recv (self->events);
    size_t size = sizeof MEM_EVENTS_READY - 1;
    if (frame && zframe_size (frame) == 1 + size && zframe_data (frame)[0] == 1
        && memcmp (zframe_data (frame) + 1, MEM_EVENTS_READY, size) == 0)
        zstr_send (self->events, MEM_EVENTS_READY);
    zframe_destroy (&frame);
}

//  The slot of a recall worker (by its identity), or NULL.
static s_worker_t *
s_worker (self_t *self, zframe_t *identity)
{
    size_t size = zframe_size (identity);
    for (unsigned i = 0; i < self->ctx->recall_workers && size <= sizeof self->workers->id; i++) {
        s_worker_t *w = &self->workers[i];
        if (w->id_size == 0) {
            memcpy (w->id, zframe_data (identity), size);
            w->id_size = size;
        }
        if (w->id_size == size && memcmp (w->id, zframe_data (identity), size) == 0)
            return w;
    }
    return NULL;
}

//  Gives waiting recall requests to idle workers.
static void
s_dispatch_recall (self_t *self)
{
    while (zlist_size (self->waiting) && zlist_size (self->idle_workers)) {
        zmsg_t *msg = zlist_pop (self->waiting);
        zframe_t *worker = zlist_pop (self->idle_workers);
        s_worker_t *slot = s_worker (self, worker);
        if (slot)
            slot->since_us = self->arrived[self->arrived_head];
        self->arrived_head = (self->arrived_head + 1) % self->ctx->recall_queue;
        zmsg_prepend (msg, &worker);
        zmsg_send (&msg, self->recall);
    }
}

//  The operations the reaper serves (JobStats is answered here).
static bool
s_is_job_op (int op)
{
    return op == MEMD__V1__REQUEST__OP_JOB_ENQUEUE || op == MEMD__V1__REQUEST__OP_JOB_LEASE
        || op == MEMD__V1__REQUEST__OP_JOB_COMPLETE || op == MEMD__V1__REQUEST__OP_JOB_FAIL
        || op == MEMD__V1__REQUEST__OP_JOB_EXTEND || op == MEMD__V1__REQUEST__OP_JOB_RETRY
        || op == MEMD__V1__REQUEST__OP_JOB_PURGE || op == MEMD__V1__REQUEST__OP_JOB_LIST;
}

static void
s_self_handle_api (self_t *self)
{
    zmsg_t *msg = zmsg_recv (self->api);
    if (!msg)
        return;
    int64_t arrived_us = mem_mono_us ();
    self->requests++;
    zframe_t *identity = zmsg_pop (msg);
    //  [identity][empty][payload] from REQ, or from a DEALER that sends the delimiter.
    size_t frames = zmsg_size (msg);
    zframe_t *delimiter = zmsg_first (msg);
    if (frames != 2 || zframe_size (delimiter) != 0) {
        zmsg_destroy (&msg);
        s_reject (self, &identity, 0, MEM_INVALID_ARGUMENT,
                  frames < 2 ? "malformed envelope: expected an empty delimiter frame "
                               "then one request frame"
                             : "malformed envelope: extra frames after the request");
        return;
    }
    zframe_t *payload = zmsg_last (msg);
    if (zframe_size (payload) > self->ctx->limits.max_message_bytes) {
        char why[128];
        snprintf (why, sizeof why, "request of %zu bytes is over the limit of %zu bytes",
                  zframe_size (payload), self->ctx->limits.max_message_bytes);
        zmsg_destroy (&msg);
        s_reject (self, &identity, 0, MEM_TOO_LARGE, why);
        return;
    }
    Memd__V1__Request *req
        = mem_codec_request_decode (zframe_data (payload), zframe_size (payload));
    if (!req) {
        zmsg_destroy (&msg);
        s_reject (self, &identity, 0, MEM_INVALID_ARGUMENT,
                  "request does not decode as a memd.v1.Request");
        return;
    }
    if ((unsigned) req->op_case < S_OPS)
        self->by_op[req->op_case]++;
    char err[512];
    mem_code_t code = mem_codec_request_validate (req, &self->ctx->limits, err, sizeof err);
    if (code != MEM_OK) {
        zmsg_destroy (&msg);
        s_reject (self, &identity, req->request_id, code, err);
        memd__v1__request__free_unpacked (req, NULL);
        return;
    }
    zframe_t *reply = NULL;
    switch (req->op_case) {
    case MEMD__V1__REQUEST__OP_PING:
        reply = s_ping_reply (self, req);
        break;
    case MEMD__V1__REQUEST__OP_STATUS:
        reply = s_status_reply (self, req);
        break;
    case MEMD__V1__REQUEST__OP_JOB_STATS:
        reply = s_job_stats_reply (self, req);
        break;
    case MEMD__V1__REQUEST__OP_GRAPH_STATS:
        reply = s_graph_stats_reply (self, req);
        break;
    default:
        break;
    }
    if (reply) {
        s_reply (self, &identity, &reply);
        zmsg_destroy (&msg);
        memd__v1__request__free_unpacked (req, NULL);
        return;
    }
    if (self->draining) {
        zmsg_destroy (&msg);
        s_reject (self, &identity, req->request_id, MEM_UNAVAILABLE, "memd is shutting down");
        memd__v1__request__free_unpacked (req, NULL);
        return;
    }
    if (mem_codec_is_data_plane (req))
        s_activity (self, s_op_name (req->op_case));
    if (req->op_case == MEMD__V1__REQUEST__OP_SLEEP || req->op_case == MEMD__V1__REQUEST__OP_WAKE) {
        //  Activity not yet reported came before this request: report it
        //  first, or its trailing report would undo a Sleep.
        if (self->activity_pending)
            s_activity_tell (self);
        zframe_t *bytes = zmsg_last (msg);
        zmsg_remove (msg, bytes);
        zmsg_destroy (&msg);
        memd__v1__request__free_unpacked (req, NULL);
        zmsg_t *out = zmsg_new ();
        zmsg_addstr (out, "REQUEST");
        zmsg_append (out, &identity);
        zmsg_append (out, &bytes);
        zmsg_send (&out, self->lifecycle);
        self->in_flight++;
        return;
    }
    //  Data plane: [identity][bytes] to the owning actor.
    zframe_t *bytes = zmsg_last (msg);
    zmsg_remove (msg, bytes);
    zmsg_destroy (&msg);
    zmsg_t *out = zmsg_new ();
    zmsg_append (out, &identity);
    zmsg_append (out, &bytes);
    bool to_writer = req->op_case == MEMD__V1__REQUEST__OP_CAPTURE
                  || req->op_case == MEMD__V1__REQUEST__OP_FORGET
                  || req->op_case == MEMD__V1__REQUEST__OP_IMPORT_RECORDS;
    bool to_reaper = s_is_job_op (req->op_case);
    bool is_recall = req->op_case == MEMD__V1__REQUEST__OP_RECALL;
    bool to_backup = req->op_case == MEMD__V1__REQUEST__OP_BACKUP;
    uint64_t request_id = req->request_id;
    memd__v1__request__free_unpacked (req, NULL);
    if (to_writer || to_reaper || to_backup) {
        //  Never block the control plane on a full queue: refuse.
        zsock_t *actor = to_writer ? self->capture : to_reaper ? self->reaper : self->backup;
        if (zsock_events (actor) & ZMQ_POLLOUT) {
            zmsg_send (&out, actor);
            self->in_flight++;
            if (to_writer)
                self->writes_in_flight++;
            return;
        }
        identity = zmsg_pop (out);
        zmsg_destroy (&out);
        s_reject (self, &identity, request_id, MEM_RESOURCE_EXHAUSTED,
                  to_writer   ? "capture queue is full; retry later"
                  : to_backup ? "backups are already running or waiting; retry later"
                              : "job queue requests are backed up; retry later");
        return;
    }
    if (zlist_size (self->waiting) >= self->ctx->recall_queue) {
        identity = zmsg_pop (out);
        zmsg_destroy (&out);
        s_reject (self, &identity, request_id, MEM_RESOURCE_EXHAUSTED,
                  "recall queue is full; retry later");
        return;
    }
    size_t tail = (self->arrived_head + zlist_size (self->waiting)) % self->ctx->recall_queue;
    self->arrived[tail] = is_recall ? arrived_us : 0;
    zlist_append (self->waiting, out);
    self->in_flight++;
    s_dispatch_recall (self);
}

//  A reply from an actor: [identity][reply bytes] → the client.
static void
s_relay (self_t *self, zmsg_t *msg)
{
    zframe_t *identity = zmsg_pop (msg);
    zframe_t *reply = zmsg_pop (msg);
    zmsg_destroy (&msg);
    if (!identity || !reply) {
        mem_log_error ("frontend: malformed reply from an actor");
        zframe_destroy (&identity);
        zframe_destroy (&reply);
        return;
    }
    if (self->in_flight)
        self->in_flight--;
    s_reply (self, &identity, &reply);
}

static void
s_self_handle_capture (self_t *self)
{
    zmsg_t *msg = zmsg_recv (self->capture);
    if (!msg)
        return;
    s_relay (self, msg);
    if (self->writes_in_flight && --self->writes_in_flight == 0 && self->busy_told) {
        zstr_sendx (self->lifecycle, "BUSY", "capture", "0", NULL);
        self->busy_told = false;
    }
}

//  From the reaper: [identity][reply], or one frame with the number of
//  parked Lease requests (for status) and whether any job is leased.
static void
s_self_handle_reaper (self_t *self)
{
    zmsg_t *msg = zmsg_recv (self->reaper);
    if (!msg)
        return;
    if (zmsg_size (msg) == 1) {
        zframe_t *frame = zmsg_first (msg);
        uint32_t told[2];
        if (zframe_size (frame) == sizeof told) {
            memcpy (told, zframe_data (frame), sizeof told);
            self->jobs_waiting = told[0];
            if (told[1] != self->jobs_leased)
                zstr_sendx (self->lifecycle, "BUSY", "jobs", told[1] ? "1" : "0", NULL);
            self->jobs_leased = told[1];
        }
        zmsg_destroy (&msg);
        return;
    }
    s_relay (self, msg);
}

//  From the backup actor: [identity][reply].
static void
s_self_handle_backup (self_t *self)
{
    zmsg_t *msg = zmsg_recv (self->backup);
    if (msg)
        s_relay (self, msg);
}

//  A monitor event of a public socket: count the refused connections.
static void
s_self_handle_monitor (self_t *self, zsock_t *monitor)
{
    self->refused += mem_zap_monitor_recv (monitor);
}

//  From a recall worker: [worker]["READY"] or [worker][identity][reply].
static void
s_self_handle_recall (self_t *self)
{
    zmsg_t *msg = zmsg_recv (self->recall);
    if (!msg)
        return;
    zframe_t *worker = zmsg_pop (msg);
    s_worker_t *slot = worker ? s_worker (self, worker) : NULL;
    zlist_append (self->idle_workers, worker);
    if (zmsg_size (msg) == 1)
        zmsg_destroy (&msg);   //  READY
    else {
        s_relay (self, msg);
        if (slot && slot->since_us)
            mem_latency_record (&self->recall_latency, mem_mono_ms (),
                                (uint64_t) (mem_mono_us () - slot->since_us));
    }
    if (slot)
        slot->since_us = 0;
    s_dispatch_recall (self);
}

static int
s_self_start (self_t *self, char *err, size_t err_size)
{
    mem_context_t *ctx = self->ctx;
    self->capture = zsock_new (ZMQ_PAIR);
    self->reaper = zsock_new (ZMQ_PAIR);
    self->recall = zsock_new (ZMQ_ROUTER);
    self->api = zsock_new (ZMQ_ROUTER);
    if (!self->capture || !self->reaper || !self->recall || !self->api) {
        snprintf (err, err_size, "cannot create sockets: %s", zmq_strerror (zmq_errno ()));
        return -1;
    }
    zsock_set_sndhwm (self->capture, (int) ctx->capture_queue);
    zsock_set_rcvhwm (self->capture, 0);
    zsock_set_sndhwm (self->reaper, (int) ctx->jobs.queue);
    zsock_set_rcvhwm (self->reaper, 0);
    zsock_set_sndhwm (self->recall, 0);
    zsock_set_rcvhwm (self->recall, 0);
    if (zsock_connect (self->capture, MEM_INPROC_CAPTURE)
        || zsock_connect (self->reaper, MEM_INPROC_REAPER)
        || zsock_bind (self->recall, MEM_INPROC_RECALL) < 0) {
        snprintf (err, err_size, "cannot reach the actors: %s", zmq_strerror (zmq_errno ()));
        return -1;
    }
    //  The lifecycle and events lines; the events endpoint before the API.
    self->lifecycle = zsock_new (ZMQ_PAIR);
    self->events_in = zsock_new (ZMQ_PULL);
    self->graph = zsock_new (ZMQ_PAIR);
    if (!self->lifecycle || !self->events_in || !self->graph) {
        snprintf (err, err_size, "cannot create sockets: %s", zmq_strerror (zmq_errno ()));
        return -1;
    }
    zsock_set_sndhwm (self->lifecycle, 0);
    zsock_set_rcvhwm (self->lifecycle, 0);
    zsock_set_sndhwm (self->graph, 0);
    if (zsock_connect (self->lifecycle, MEM_INPROC_LIFECYCLE)
        || zsock_connect (self->graph, MEM_INPROC_GRAPH)
        || zsock_bind (self->events_in, MEM_INPROC_EVENTS) < 0) {
        snprintf (err, err_size, "cannot reach the lifecycle: %s", zmq_strerror (zmq_errno ()));
        return -1;
    }
    self->backup = zsock_new (ZMQ_PAIR);
    if (self->backup)
        zsock_set_sndhwm (self->backup, 4);   //  Backup requests waiting, with the actor's 4
    if (!self->backup || zsock_connect (self->backup, MEM_INPROC_BACKUP)) {
        snprintf (err, err_size, "cannot reach the backup actor");
        return -1;
    }
    if (ctx->events_endpoint) {
        self->events = zsock_new (ZMQ_XPUB);
        if (!self->events) {
            snprintf (err, err_size, "cannot create the events socket");
            return -1;
        }
        zsock_set_xpub_verbose (self->events, 1);
        zsock_set_sndhwm (self->events, 10000);
        zsock_set_linger (self->events, 0);
        //  Subscribers send only subscriptions (topic prefixes): small.
        zsock_set_maxmsgsize (self->events, 4096);
        if (mem_zap_secure (self->events, ctx->events_endpoint, ctx, MEM_INPROC_EVENTS_MONITOR,
                            err, err_size)
            || !(self->events_monitor = mem_zap_monitor_new (MEM_INPROC_EVENTS_MONITOR)))
            return -1;
        if (zsock_bind (self->events, "%s", ctx->events_endpoint) < 0) {
            snprintf (err, err_size, "cannot bind the events endpoint %s: %s",
                      ctx->events_endpoint, zmq_strerror (zmq_errno ()));
            return -1;
        }
    }
    int64_t coalesce = ctx->lifecycle.drowsy_after_ms / 4;
    self->coalesce_ms = coalesce < 1 ? 1 : coalesce > 1000 ? 1000 : coalesce;
    snprintf (self->state, sizeof self->state, "WAKE");
    snprintf (self->to, sizeof self->to, "WAKE");
    snprintf (self->reason, sizeof self->reason, "started");
    self->transition_ms = ctx->started_ms;

    //  The public socket, bound last: nothing is accepted before it can be served.
    //  Requests over the limit get a TOO_LARGE reply; only past four times
    //  the limit does ZeroMQ cut the connection, so no client can make
    //  memd buffer without bound.
    zsock_set_maxmsgsize (self->api, (int64_t) ctx->limits.max_message_bytes * 4);
    zsock_set_sndhwm (self->api, 100000);
    zsock_set_rcvhwm (self->api, 100000);
    zsock_set_linger (self->api, 1000);   //  let the last acks out at shutdown
    zsock_set_router_mandatory (self->api, 1);
    if (mem_zap_secure (self->api, ctx->endpoint, ctx, MEM_INPROC_API_MONITOR, err, err_size))
        return -1;
    if (!(self->api_monitor = mem_zap_monitor_new (MEM_INPROC_API_MONITOR))) {
        snprintf (err, err_size, "cannot read the API socket's monitor");
        return -1;
    }
    if (zsock_bind (self->api, "%s", ctx->endpoint) < 0) {
        snprintf (err, err_size, "cannot bind %s: %s", ctx->endpoint, zmq_strerror (zmq_errno ()));
        return -1;
    }
    self->poller = zpoller_new (self->pipe, self->api, self->capture, self->reaper, self->recall,
                                self->lifecycle, self->events_in, self->backup,
                                self->api_monitor, self->graph, NULL);
    if (self->events)
        zpoller_add (self->poller, self->events);
    if (self->events_monitor)
        zpoller_add (self->poller, self->events_monitor);
    self->idle_workers = zlist_new ();
    self->waiting = zlist_new ();
    self->arrived = calloc (ctx->recall_queue, sizeof *self->arrived);
    self->workers = calloc (ctx->recall_workers, sizeof *self->workers);
    if (!self->arrived || !self->workers) {
        snprintf (err, err_size, "frontend: out of memory");
        return -1;
    }
    mem_latency_init (&self->recall_latency, S_LATENCY_SLOT);
    return 0;
}

static void
s_self_handle_pipe (self_t *self)
{
    char *command = zstr_recv (self->pipe);
    if (!command) {
        self->terminated = true;
        return;
    }
    if (streq (command, "$TERM"))
        self->terminated = true;
    else if (streq (command, "DRAIN"))
        self->draining = true;
    else
        mem_log_error ("frontend: unknown command %s", command);
    zstr_free (&command);
}

void
mem_frontend_actor (zsock_t *pipe, void *args)
{
    self_t *self = calloc (1, sizeof *self);
    self->pipe = pipe;
    self->ctx = args;
    zsock_signal (pipe, 0);

    char *command = zstr_recv (pipe);   //  START
    char err[512] = "";
    bool started = command && streq (command, "START") && s_self_start (self, err, sizeof err) == 0;
    zstr_free (&command);
    zstr_send (pipe, started ? "OK" : (*err ? err : "frontend: no START"));
    bool drained_told = false;
    while (started && !self->terminated) {
        void *which = zpoller_wait (self->poller, s_activity_timeout (self));
        if (which == self->pipe)
            s_self_handle_pipe (self);
        else if (which == self->lifecycle)
            s_self_handle_lifecycle (self);
        else if (which == self->events_in)
            s_self_handle_events (self);
        else if (which == self->events && self->events)
            s_self_handle_subscriptions (self);
        else if (which == self->api)
            s_self_handle_api (self);
        else if (which == self->capture)
            s_self_handle_capture (self);
        else if (which == self->reaper)
            s_self_handle_reaper (self);
        else if (which == self->recall)
            s_self_handle_recall (self);
        else if (which == self->graph)
            s_self_handle_graph (self);
        else if (which == self->backup)
            s_self_handle_backup (self);
        else if (which && (which == self->api_monitor || which == self->events_monitor))
            s_self_handle_monitor (self, which);
        else if (zpoller_terminated (self->poller))
            break;
        if (self->activity_pending && s_activity_timeout (self) == 0)
            s_activity_tell (self);   //  the trailing report of the window
        if (self->draining && !drained_told && self->in_flight == 0) {
            zstr_send (self->pipe, "DRAINED");
            drained_told = true;
        }
    }
    s_self_destroy (&self);
}
