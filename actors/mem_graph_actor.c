/*  mem_graph_actor — the graph actor (DESIGN §2 graph; §3 lessons 2–5, 7;
    docs/graph.md).

    Links new records into the memory graph and rebuilds the agents'
    communities and PageRank, one thing at a time: single-flight by
    construction, since this thread is the only one that links or builds.
    Everything it does is a bounded step (graph/step_budget_ms): a link
    step is one write transaction; a build is a resumable state machine
    (mem_graph_build). Between two steps it polls its sockets, so a wake, a
    refresh or a SETTLE is taken at once, and a `$TERM` stops a build in the
    middle (the previous generation stands). After a step that wrote, that
    poll waits a millisecond: LMDB's writer lock is not fair, and a thread
    that takes it again at once could keep the capture writer (waiting for
    it) out for a whole backlog of steps.

    What it works on, in this order:
      1. the running build;
      2. linking, while records wait (a wake from the writer's outbox, or
         found at start); linking never runs during a build, whose new slot
         would miss the records linked meanwhile;
      3. the next agent queued for a build: after linking, an agent whose
         graph changed beyond the freshness policy (graph/rebuild_percent
         of its nodes and edges and at least graph/rebuild_min_changes, or
         older than graph/max_age_ms with changes); a GraphStats refresh of
         a changed graph; in SLEEP, every changed graph;
      4. SETTLE from the lifecycle (the sleep cycle is done consolidating):
         link what waits, rebuild every agent that changed since its last
         build, then answer SETTLED, so memd hibernates with the graph up to
         date. An unchanged graph costs one look at each agent's counts.

    Triggers that arrive during a build coalesce: a refresh of the agent
    being built marks one follow-up, run after it only if the graph changed
    since the build read it. Requests for graph data never come here: they
    are read from the store (the frontend, the recall pool), so they get
    the last persisted generation at once, also mid-build.

    With nothing to do it blocks with no timeout (in HIBERNATE, no timer);
    the only timer is the retry after a failed link step. Its thread runs
    at a lower CPU priority (nice 5, thread memd-graph): on a busy machine a
    build gives way to the frontend, the writer and the recall workers.

    Sockets: PULL (bound) for wakes; PAIR (bound) to the frontend, which
    sends ["REFRESH", agent] and gets ["STATE", busy, building, last error]
    on every change (busy: any work in flight, which holds memd in WAKE);
    PAIR (bound) to the lifecycle: "SETTLE" in, ["SETTLED", error] out.
*/
#include "mem_actors.h"
#include "mem_graph.h"
#include "mem_graph_build.h"
#include "mem_graph_store.h"
#include "mem_log.h"
#include "mem_records.h"
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define QUEUE_MAX      1024       //  agents waiting for a build
#define RETRY_MIN_MS   1000       //  after a failed link step, doubling …
#define RETRY_MAX_MS   60000      //  … up to this
#define WAKE_HWM       16
#define NICE           5          //  a build yields the CPU to the threads that serve
#define WRITER_GAP_MS  1          //  between two write steps: the lock is free this long

typedef enum { SETTLE_NONE, SETTLE_LINKING, SETTLE_BUILDING } s_settle_t;

typedef struct {
    zsock_t *pipe;
    zsock_t *wake;                //  PULL: records to link
    zsock_t *frontend;            //  PAIR
    zsock_t *lifecycle;           //  PAIR
    zsock_t *events;              //  PUSH to the events stream
    zpoller_t *poller;
    mem_context_t *ctx;
    bool link_pending;
    int64_t retry_at_ms;          //  monotonic; 0 = none
    int64_t retry_ms;
    mem_graph_build_t *build;
    bool follow_up;               //  a refresh came for the agent being built
    uint32_t refreshed[16];       //  refreshes that came while records waited to be linked
    size_t n_refreshed;
    uint32_t queue[QUEUE_MAX];    //  agents waiting for a build, oldest first
    size_t n_queue;
    s_settle_t settle;
    char settle_error[256];
    bool told_busy, told_building;
    char told_error[256];
    char last_error[256];
    uint64_t builds;              //  finished since start
    bool wrote;                   //  the last step was a write transaction
    bool terminated;
} self_t;

static void
s_error (self_t *self, const char *what, int rc)
{
    snprintf (self->last_error, sizeof self->last_error, "%s: %s", what,
              rc == ENOMEM ? "out of memory" : mdb_strerror (rc));
    mem_log_error ("graph: %s", self->last_error);
}

//  Tells the frontend when busy, building or the last error change.
static void
s_tell (self_t *self)
{
    bool busy = self->link_pending || self->build || self->n_queue || self->settle;
    bool building = self->build != NULL;
    if (busy == self->told_busy && building == self->told_building
        && streq (self->last_error, self->told_error))
        return;
    //  Never waits: before the frontend is up, or after it is gone, the
    //  report stays untold and is tried again after the next step.
    if (zstr_sendx (self->frontend, "STATE", busy ? "1" : "0", building ? "1" : "0",
                    self->last_error, NULL))
        return;
    self->told_busy = busy;
    self->told_building = building;
    snprintf (self->told_error, sizeof self->told_error, "%s", self->last_error);
}

static void
s_queue (self_t *self, uint32_t agent)
{
    if (self->build && mem_graph_build_agent (self->build) == agent)
        return;
    for (size_t i = 0; i < self->n_queue; i++)
        if (self->queue[i] == agent)
            return;
    if (self->n_queue < QUEUE_MAX)
        self->queue[self->n_queue++] = agent;
}

//  Whether the agent's graph is due for a build. In WAKE by the freshness
//  policy; with any_change (SLEEP, refresh) whenever it changed at all.
static int
s_stale (self_t *self, MDB_txn *txn, uint32_t agent, bool any_change, bool *stale)
{
    const mem_graph_config_t *cfg = &self->ctx->graph;
    mem_graph_meta_t meta;
    mem_agent_stats_t stats = {0};
    int rc = mem_graph_meta_get (self->ctx->store, txn, agent, &meta);
    if (!rc)
        rc = mem_index_stats (self->ctx->store, txn, agent, &stats);
    if (rc == MDB_NOTFOUND)
        rc = 0;
    uint64_t changes = mem_graph_changes (&meta, stats.docs);
    *stale = false;
    if (rc || changes == 0)
        return rc;
    if (any_change)
        *stale = true;
    else if (changes >= cfg->rebuild_min_changes
             && (double) changes >= cfg->rebuild_fraction * (double) (meta.nodes + meta.edges))
        *stale = true;
    else if (cfg->max_age_ms && meta.generation
             && mem_now_ms () - meta.built_at_ms >= cfg->max_age_ms)
        *stale = true;
    return 0;
}

typedef struct {
    self_t *self;
    MDB_txn *txn;
    bool any_change;
} s_check_t;

static int
s_check_one (uint32_t agent, const mem_graph_meta_t *meta, void *arg)
{
    s_check_t *check = arg;
    bool stale;
    int rc = s_stale (check->self, check->txn, agent, check->any_change, &stale);
    if (!rc && stale)
        s_queue (check->self, agent);
    return rc;
}

//  Queues the agents due for a build: those listed, or (n_agents == 0)
//  every agent with a graph.
static void
s_check_agents (self_t *self, const uint32_t *agents, size_t n_agents, bool any_change)
{
    MDB_txn *txn;
    int rc = mem_store_read_begin (self->ctx->store, &txn);
    if (rc) {
        s_error (self, "cannot read the store", rc);
        return;
    }
    s_check_t check = {self, txn, any_change};
    if (n_agents == 0)
        rc = mem_graph_meta_each (self->ctx->store, txn, s_check_one, &check);
    for (size_t i = 0; i < n_agents && !rc; i++)
        rc = s_check_one (agents[i], NULL, &check);
    mem_store_read_end (self->ctx->store, &txn);
    if (rc)
        s_error (self, "cannot check the agents' graphs", rc);
}

typedef struct {
    self_t *self;
    mem_graph_link_result_t result;
} s_link_arg_t;

static int
s_link_work (MDB_txn *txn, void *arg)
{
    s_link_arg_t *link = arg;
    mem_context_t *ctx = link->self->ctx;
    int64_t deadline = mem_graph_now_us () + ctx->graph.step_budget_ms * 1000;
    return mem_graph_link_step (ctx->store, txn, &ctx->graph.link, SIZE_MAX, deadline,
                                mem_now_ms (), &link->result);
}

//  One link step (one write transaction); then the agents it touched are
//  checked against the freshness policy.
static void
s_link (self_t *self)
{
    s_link_arg_t link = {self, {0}};
    int rc = mem_store_write (self->ctx->store, s_link_work, &link);
    if (rc) {
        s_error (self, "link step failed", rc);
        self->retry_ms = self->retry_ms ? self->retry_ms * 2 : RETRY_MIN_MS;
        if (self->retry_ms > RETRY_MAX_MS)
            self->retry_ms = RETRY_MAX_MS;
        self->retry_at_ms = mem_mono_ms () + self->retry_ms;
        return;
    }
    self->retry_ms = 0;
    self->retry_at_ms = 0;
    if (link.result.done) {
        self->link_pending = false;
        self->last_error[0] = 0;
        //  Refreshes asked before these records were linked count them now.
        if (self->n_refreshed)
            s_check_agents (self, self->refreshed, self->n_refreshed, true);
        self->n_refreshed = 0;
    }
    if (link.result.more_agents)
        s_check_agents (self, NULL, 0, false);
    else if (link.result.n_agents)
        s_check_agents (self, link.result.agents, link.result.n_agents, false);
}

//  A `graph` event and a log line for a finished build.
static void
s_built (self_t *self)
{
    const mem_graph_build_stats_t *st = mem_graph_build_stats (self->build);
    uint32_t agent = mem_graph_build_agent (self->build);
    char name[1025] = "";
    MDB_txn *txn;
    if (mem_store_read_begin (self->ctx->store, &txn) == 0) {
        mem_agents_name (self->ctx->store, txn, agent, name, sizeof name);
        mem_store_read_end (self->ctx->store, &txn);
    }
    self->builds++;
    mem_log_info ("graph: %s generation %llu: %u nodes, %llu edges, %u communities (Q %.3f) in "
                  "%lld ms (load %lld, compute %lld, persist %lld)",
                  name, (unsigned long long) st->generation, st->nodes,
                  (unsigned long long) st->edges, st->communities, st->modularity,
                  (long long) (st->load_us + st->compute_us + st->persist_us) / 1000,
                  (long long) st->load_us / 1000, (long long) st->compute_us / 1000,
                  (long long) st->persist_us / 1000);
    Memd__V1__GraphStatsResult body = MEMD__V1__GRAPH_STATS_RESULT__INIT;
    body.agent_id = name;
    body.generation = st->generation;
    body.nodes = body.nodes_built = st->nodes;
    body.edges = body.edges_built = st->edges;
    body.communities = st->communities;
    body.modularity = st->modularity;
    body.built_at_ms = mem_now_ms ();
    body.build_ms = (st->load_us + st->compute_us + st->persist_us) / 1000;
    body.last_error = "";
    Memd__V1__Event event = MEMD__V1__EVENT__INIT;
    event.topic = "graph";
    event.body_case = MEMD__V1__EVENT__BODY_GRAPH;
    event.graph = &body;
    mem_events_send (self->events, &event);
}

//  One step of the running build.
static void
s_build_step (self_t *self)
{
    int64_t deadline = mem_graph_now_us () + self->ctx->graph.step_budget_ms * 1000;
    bool done = false;
    int rc = mem_graph_build_step (self->build, deadline, mem_now_ms (), &done);
    if (!rc && !done)
        return;
    uint32_t agent = mem_graph_build_agent (self->build);
    if (rc) {
        //  The previous generation stands; the next trigger tries again.
        s_error (self, "build failed", rc);
        if (self->settle)
            snprintf (self->settle_error, sizeof self->settle_error, "%s", self->last_error);
    }
    else {
        s_built (self);
        self->last_error[0] = 0;
    }
    mem_graph_build_destroy (&self->build);
    if (self->follow_up && !rc)
        s_check_agents (self, &agent, 1, true);
    self->follow_up = false;
}

//  Starts the build of the next queued agent.
static void
s_build_next (self_t *self)
{
    uint32_t agent = self->queue[0];
    memmove (self->queue, self->queue + 1, --self->n_queue * sizeof *self->queue);
    self->build = mem_graph_build_new (self->ctx->store, agent);
    if (!self->build)
        s_error (self, "cannot start a build", ENOMEM);
}

//  SETTLE: link, rebuild what changed, then answer (one round: what
//  changes after it is the next wake's business).
static void
s_settle (self_t *self)
{
    if (self->settle == SETTLE_LINKING) {
        s_check_agents (self, NULL, 0, true);
        self->settle = SETTLE_BUILDING;
        return;
    }
    zstr_sendx (self->lifecycle, "SETTLED", self->settle_error, NULL);
    self->settle = SETTLE_NONE;
    self->settle_error[0] = 0;
}

//  True when there is work to do now (the poll must not wait).
static bool
s_has_work (self_t *self)
{
    bool link_now = self->link_pending
                 && (!self->retry_at_ms || mem_mono_ms () >= self->retry_at_ms);
    return self->build || link_now || self->n_queue || (self->settle && !self->link_pending);
}

static void
s_work (self_t *self)
{
    self->wrote = false;
    if (self->build) {
        bool writing = mem_graph_build_writing (self->build);
        s_build_step (self);
        self->wrote = writing || (self->build && mem_graph_build_writing (self->build));
    }
    else if (self->link_pending && (!self->retry_at_ms || mem_mono_ms () >= self->retry_at_ms)) {
        self->wrote = true;
        s_link (self);
    }
    else if (self->n_queue)
        s_build_next (self);
    else if (self->settle && !self->link_pending)
        s_settle (self);
}

static void
s_self_handle_wake (self_t *self)
{
    zframe_t *frame = zframe_recv (self->wake);
    zframe_destroy (&frame);
    //  Take every wake queued now: one is as good as many.
    while (zsock_events (self->wake) & ZMQ_POLLIN) {
        frame = zframe_recv (self->wake);
        zframe_destroy (&frame);
    }
    self->link_pending = true;
}

//  ["REFRESH", agent]: rebuild the agent's graph if it changed since its
//  last build; a refresh during its build asks for one follow-up.
static void
s_self_handle_frontend (self_t *self)
{
    zmsg_t *msg = zmsg_recv (self->frontend);
    if (!msg)
        return;
    char *command = zmsg_popstr (msg);
    char *name = zmsg_popstr (msg);
    if (command && streq (command, "REFRESH") && name) {
        MDB_txn *txn;
        uint32_t agent = 0;
        int rc = mem_store_read_begin (self->ctx->store, &txn);
        if (!rc) {
            rc = mem_agents_lookup (self->ctx->store, txn, name, false, &agent);
            mem_store_read_end (self->ctx->store, &txn);
        }
        if (rc == 0 && self->build && mem_graph_build_agent (self->build) == agent)
            self->follow_up = true;
        else if (rc == 0)
            s_check_agents (self, &agent, 1, true);
        if (rc == 0 && self->link_pending) {
            size_t i = 0;
            while (i < self->n_refreshed && self->refreshed[i] != agent)
                i++;
            if (i == self->n_refreshed && i < sizeof self->refreshed / sizeof *self->refreshed)
                self->refreshed[self->n_refreshed++] = agent;
        }
    }
    else
        mem_log_error ("graph: unknown message %s from the frontend", command ? command : "(none)");
    zstr_free (&command);
    zstr_free (&name);
    zmsg_destroy (&msg);
}

static void
s_self_handle_lifecycle (self_t *self)
{
    char *command = zstr_recv (self->lifecycle);
    if (command && streq (command, "SETTLE")) {
        if (!self->settle) {
            self->settle = SETTLE_LINKING;
            self->link_pending = true;   //  consolidation's digests have no link job
            self->retry_at_ms = 0;
        }
    }
    else
        mem_log_error ("graph: unknown message %s from the lifecycle", command ? command : "(none)");
    zstr_free (&command);
}

static void
s_self_handle_pipe (self_t *self)
{
    char *command = zstr_recv (self->pipe);
    if (!command || streq (command, "$TERM"))
        self->terminated = true;
    else
        mem_log_error ("graph: unknown command %s", command);
    zstr_free (&command);
}

static const char *
s_self_start (self_t *self)
{
    self->wake = zsock_new (ZMQ_PULL);
    self->frontend = zsock_new (ZMQ_PAIR);
    self->lifecycle = zsock_new (ZMQ_PAIR);
    self->events = mem_events_new ();
    if (!self->wake || !self->frontend || !self->lifecycle || !self->events)
        return "graph: cannot create sockets";
    zsock_set_rcvhwm (self->wake, WAKE_HWM);
    zsock_set_sndhwm (self->frontend, 0);
    //  A PAIR without its peer blocks a send: the frontend and the
    //  lifecycle start after this actor and stop before it.
    zsock_set_sndtimeo (self->frontend, 0);
    zsock_set_sndtimeo (self->lifecycle, 0);
    if (zsock_bind (self->wake, MEM_INPROC_GRAPH_WAKE) < 0
        || zsock_bind (self->frontend, MEM_INPROC_GRAPH) < 0
        || zsock_bind (self->lifecycle, MEM_INPROC_GRAPH_SETTLE) < 0)
        return "graph: cannot bind its endpoints";
    self->poller = zpoller_new (self->pipe, self->wake, self->frontend, self->lifecycle, NULL);
    //  Records captured before a stop (or before the graph existed) wait
    //  behind the cursor: two counters, no scan.
    MDB_txn *txn;
    if (mem_store_read_begin (self->ctx->store, &txn) == 0) {
        self->link_pending = mem_graph_unlinked (self->ctx->store, txn) > 0;
        mem_store_read_end (self->ctx->store, &txn);
    }
    return NULL;
}

void
mem_graph_actor (zsock_t *pipe, void *args)
{
    self_t *self = calloc (1, sizeof *self);
    self->pipe = pipe;
    self->ctx = args;
    prctl (PR_SET_NAME, "memd-graph", 0, 0, 0);
    //  This thread only (Linux: a thread's nice is its own). Best effort.
    if (setpriority (PRIO_PROCESS, (id_t) syscall (SYS_gettid), NICE))
        mem_log_debug ("graph: cannot lower the thread's priority: %s", strerror (errno));
    zsock_signal (pipe, 0);

    char *command = zstr_recv (pipe);
    const char *err = command && streq (command, "START") ? s_self_start (self)
                                                           : "graph: no START";
    zstr_free (&command);
    zstr_send (pipe, err ? err : "OK");
    bool started = !err;
    while (started && !self->terminated) {
        int timeout = -1;
        if (s_has_work (self))
            timeout = self->wrote ? WRITER_GAP_MS : 0;
        else if (self->link_pending && self->retry_at_ms) {
            int64_t wait = self->retry_at_ms - mem_mono_ms ();
            timeout = wait > 0 ? (int) wait : 0;
        }
        void *which = zpoller_wait (self->poller, timeout);
        if (which == self->pipe)
            s_self_handle_pipe (self);
        else if (which == self->wake)
            s_self_handle_wake (self);
        else if (which == self->frontend)
            s_self_handle_frontend (self);
        else if (which == self->lifecycle)
            s_self_handle_lifecycle (self);
        else if (zpoller_terminated (self->poller))
            break;
        else if (s_has_work (self))
            s_work (self);
        s_tell (self);
    }
    if (self->build)
        mem_log_info ("graph: stopped during a build; the previous generation stands");
    mem_graph_build_destroy (&self->build);
    zpoller_destroy (&self->poller);
    zsock_destroy (&self->wake);
    zsock_destroy (&self->frontend);
    zsock_destroy (&self->lifecycle);
    zsock_destroy (&self->events);
    free (self);
}

zsock_t *
mem_graph_waker_new (void)
{
    return mem_wake_line_new (MEM_INPROC_GRAPH_WAKE);
}

void
mem_graph_wake (zsock_t *waker)
{
    mem_wake_line_send (waker);
}
