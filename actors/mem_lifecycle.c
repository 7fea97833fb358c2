/*  mem_lifecycle — the sleep cycle (DESIGN §3, §7; docs/lifecycle.md).

        WAKE ──quiet drowsy_after──▶ DROWSY ──sleep_after──▶ SLEEP ──done──▶ HIBERNATE
          ▲                            │                       │               │
          └────── activity, work in flight, Wake request ──────┴───────────────┘

    The frontend tells this actor about real activity only (data-plane
    requests, coalesced: a storm is one message), about work in flight (a
    capture backlog, leased jobs: BUSY 1/0 on change) and passes on Sleep
    and Wake requests. Transcript watching reports its own work in flight
    (writes of ingested lines) the same way, on a line of its own. Nothing
    else reaches it, so a status probe can never keep memd awake.

    Its only timer is the next transition (WAKE → DROWSY, DROWSY → SLEEP)
    or a retry after a failed step; in SLEEP the next step is asked when the
    last one is answered, and in HIBERNATE it arms nothing at all.

    Consolidation runs in the writer (the capture actor), one step at a
    time: STEP goes out, the answer comes back, and only then is the next
    asked, so activity stops the pipeline after the current step. The
    cursor is in the store, so the next SLEEP resumes where this stopped.

    When the pipeline is done, SETTLE goes to the graph actor, which links
    what waits and rebuilds the graphs that changed; only its SETTLED
    (without an error) lets memd hibernate. The graph's own work in flight
    (BUSY graph) holds WAKE like the others but never wakes memd: in SLEEP
    it is SLEEP's own work, and its reports may arrive after SETTLED.

    To the frontend, for status and the `state` event:
        ["STATE", Transition]
        ["PROGRESS", steps (u64), last error]
        ["REPLY", identity, reply bytes]      (Sleep, Wake)
*/
#include "mem_actors.h"
#include "mem_log.h"

typedef enum { S_WAKE, S_DROWSY, S_SLEEP, S_HIBERNATE } s_state_t;

static const char *s_state_names[] = {"WAKE", "DROWSY", "SLEEP", "HIBERNATE"};

#define RETRY_MIN_MS 1000      //  after a failed step
#define RETRY_MAX_MS 300000

typedef struct {
    zsock_t *pipe;
    zsock_t *frontend;         //  PAIR (bound)
    zsock_t *writer;           //  PAIR to the capture actor (it binds)
    zsock_t *graph;            //  PAIR to the graph actor (it binds): SETTLE
    zsock_t *busy_in;          //  PULL: ["BUSY", source, "1"|"0"] from other actors (watch)
    zpoller_t *poller;
    mem_context_t *ctx;
    s_state_t state;
    int64_t since_ms;          //  monotonic: entered the state, or last activity in WAKE
    bool busy_capture, busy_jobs, busy_watch, busy_graph;
    bool settle_out;           //  a SETTLE is with the graph actor
    bool settle_again;         //  the pipeline finished again meanwhile: settle once more
    bool forced;               //  SLEEP by request: work in flight does not end it
    bool step_out;             //  a STEP is with the writer
    int64_t retry_at_ms;       //  monotonic; 0 = none (after a failed step)
    int64_t retry_ms;
    uint64_t steps;
    char last_error[256];
    //  The last transition, for status.
    char from[16], to[16], reason[128];
    int64_t at_ms;
    bool terminated;
} self_t;

static bool
s_busy (self_t *self)
{
    return self->busy_capture || self->busy_jobs || self->busy_watch || self->busy_graph;
}

//  Work in flight that wakes memd: all but the graph's own.
static bool
s_working (self_t *self)
{
    return self->busy_capture || self->busy_jobs || self->busy_watch;
}

//  When the state changes next without activity (monotonic), or 0.
static int64_t
s_next_deadline (self_t *self)
{
    if (self->state == S_WAKE && !s_busy (self))
        return self->since_ms + self->ctx->lifecycle.drowsy_after_ms;
    if (self->state == S_DROWSY)
        return self->since_ms + self->ctx->lifecycle.sleep_after_ms;
    if (self->state == S_SLEEP && !self->step_out && self->retry_at_ms)
        return self->retry_at_ms;
    return 0;
}

static void
s_tell_state (self_t *self)
{
    Memd__V1__Transition t = MEMD__V1__TRANSITION__INIT;
    t.from_state = self->from;
    t.to_state = self->to;
    t.at_ms = self->at_ms;
    t.reason = self->reason;
    zframe_t *frame = mem_codec_pack (&t.base);
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "STATE");
    zmsg_append (msg, &frame);
    zmsg_send (&msg, self->frontend);
}

static void
s_tell_progress (self_t *self)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "PROGRESS");
    zmsg_addmem (msg, &self->steps, sizeof self->steps);
    zmsg_addstr (msg, self->last_error);
    zmsg_send (&msg, self->frontend);
}

static void s_ask_step (self_t *self);

//  Moves to state. Only WAKE is entered again from itself: activity there
//  restarts the quiet period.
static void
s_enter (self_t *self, s_state_t state, const char *reason)
{
    bool changed = state != self->state;
    if (!changed && state != S_WAKE)
        return;
    if (changed) {
        snprintf (self->from, sizeof self->from, "%s", s_state_names[self->state]);
        snprintf (self->to, sizeof self->to, "%s", s_state_names[state]);
        snprintf (self->reason, sizeof self->reason, "%s", reason);
        self->at_ms = mem_now_ms ();
        mem_log_debug ("lifecycle: %s → %s (%s)", self->from, self->to, reason);
    }
    self->state = state;
    self->since_ms = mem_mono_ms ();
    if (state != S_SLEEP) {
        self->forced = false;
        self->retry_at_ms = 0;
    }
    if (changed)
        s_tell_state (self);
    if (state == S_SLEEP)
        s_ask_step (self);
}

static void
s_ask_step (self_t *self)
{
    if (self->step_out || self->state != S_SLEEP)
        return;
    if (self->retry_at_ms && mem_mono_ms () < self->retry_at_ms)
        return;
    if (zstr_send (self->writer, "STEP") == 0)
        self->step_out = true;
    else
        mem_log_warn ("lifecycle: the writer does not take a step now");
}

//  The pipeline is done: the graph brings itself up to date, then SETTLED.
static void
s_settle (self_t *self)
{
    if (self->settle_out) {
        self->settle_again = true;
        return;
    }
    if (zstr_send (self->graph, "SETTLE") == 0)
        self->settle_out = true;
    else
        mem_log_warn ("lifecycle: the graph actor does not take a SETTLE now");
}

//  ["SETTLED", error or ""] from the graph actor.
static void
s_self_handle_graph (self_t *self)
{
    char *command = NULL, *error = NULL;
    if (zstr_recvx (self->graph, &command, &error, NULL) < 2 || !streq (command, "SETTLED")) {
        mem_log_error ("lifecycle: malformed answer from the graph actor");
        zstr_free (&command);
        zstr_free (&error);
        return;
    }
    self->settle_out = false;
    bool again = self->settle_again;
    self->settle_again = false;
    if (self->state == S_SLEEP && *error) {
        //  As a failed step: retried later, and status says why.
        snprintf (self->last_error, sizeof self->last_error, "GRAPH: %s", error);
        self->retry_ms = self->retry_ms ? self->retry_ms * 2 : RETRY_MIN_MS;
        if (self->retry_ms > RETRY_MAX_MS)
            self->retry_ms = RETRY_MAX_MS;
        self->retry_at_ms = mem_mono_ms () + self->retry_ms;
        s_tell_progress (self);
    }
    else if (self->state == S_SLEEP && again)
        s_settle (self);
    else if (self->state == S_SLEEP)
        s_enter (self, S_HIBERNATE, "consolidation done");
    zstr_free (&command);
    zstr_free (&error);
}

//  ["STEP", phase, done "1"/"0", error or ""] from the writer.
static void
s_self_handle_writer (self_t *self)
{
    zmsg_t *msg = zmsg_recv (self->writer);
    if (!msg)
        return;
    char *command = zmsg_popstr (msg);
    char *phase = zmsg_popstr (msg);
    char *done = zmsg_popstr (msg);
    char *error = zmsg_popstr (msg);
    zmsg_destroy (&msg);
    self->step_out = false;
    if (command && streq (command, "STEP") && phase && done && error) {
        self->steps++;
        if (*error) {
            //  Unknown is not empty: a failed step is retried, and says why.
            snprintf (self->last_error, sizeof self->last_error, "%s: %s", phase, error);
            self->retry_ms = self->retry_ms ? self->retry_ms * 2 : RETRY_MIN_MS;
            if (self->retry_ms > RETRY_MAX_MS)
                self->retry_ms = RETRY_MAX_MS;
            self->retry_at_ms = mem_mono_ms () + self->retry_ms;
            mem_log_error ("lifecycle: consolidation step failed (%s); retry in %lld ms",
                           self->last_error, (long long) self->retry_ms);
        }
        else {
            self->last_error[0] = 0;
            self->retry_ms = 0;
            self->retry_at_ms = 0;
        }
        s_tell_progress (self);
        if (self->state == S_SLEEP && !*error && streq (done, "1"))
            s_settle (self);
        else if (self->state == S_SLEEP)
            s_ask_step (self);
    }
    else
        mem_log_error ("lifecycle: malformed answer from the writer");
    zstr_free (&command);
    zstr_free (&phase);
    zstr_free (&done);
    zstr_free (&error);
}

//  Sleep or Wake: [identity][request bytes]; answers with the new state.
static void
s_self_handle_request (self_t *self, zmsg_t *msg)
{
    zframe_t *identity = zmsg_pop (msg);
    zframe_t *bytes = zmsg_pop (msg);
    Memd__V1__Request *req
        = bytes ? mem_codec_request_decode (zframe_data (bytes), zframe_size (bytes)) : NULL;
    zframe_destroy (&bytes);
    zframe_t *reply;
    if (!req)
        reply = mem_codec_error_reply (0, MEM_INTERNAL, "lifecycle: request did not decode");
    else {
        if (req->op_case == MEMD__V1__REQUEST__OP_SLEEP) {
            s_enter (self, S_SLEEP, "sleep request");
            self->forced = true;   //  an explicit sleep is honoured over work in flight
        }
        else
            s_enter (self, S_WAKE, "wake request");
        Memd__V1__Transition t = MEMD__V1__TRANSITION__INIT;
        t.from_state = self->from;
        t.to_state = self->to;
        t.at_ms = self->at_ms;
        t.reason = self->reason;
        Memd__V1__LifecycleResult result = MEMD__V1__LIFECYCLE_RESULT__INIT;
        result.state = (char *) s_state_names[self->state];
        result.last_transition = &t;
        Memd__V1__Status status = MEMD__V1__STATUS__INIT;
        Memd__V1__Reply r = MEMD__V1__REPLY__INIT;
        r.request_id = req->request_id;
        r.status = &status;
        r.result_case = MEMD__V1__REPLY__RESULT_LIFECYCLE;
        r.lifecycle = &result;
        reply = mem_codec_pack (&r.base);
        memd__v1__request__free_unpacked (req, NULL);
    }
    zmsg_t *out = zmsg_new ();
    zmsg_addstr (out, "REPLY");
    zmsg_append (out, &identity);
    if (reply)
        zmsg_append (out, &reply);
    else
        zmsg_addmem (out, NULL, 0);
    zmsg_send (&out, self->frontend);
}

//  Work in flight started or ended: [source, "1"|"0"] (after "BUSY").
static void
s_busy_change (self_t *self, zmsg_t *msg)
{
    char *source = zmsg_popstr (msg);
    char *flag = zmsg_popstr (msg);
    bool busy = flag && streq (flag, "1");
    bool was = s_busy (self), was_working = s_working (self);
    if (source && streq (source, "capture"))
        self->busy_capture = busy;
    else if (source && streq (source, "jobs"))
        self->busy_jobs = busy;
    else if (source && streq (source, "watch"))
        self->busy_watch = busy;
    else if (source && streq (source, "graph"))
        self->busy_graph = busy;
    //  The graph's own work keeps SLEEP from ending but does not wake memd,
    //  nor keep other work from waking it (the graph may tell first: its
    //  word comes through the frontend, the watcher's through busy_in).
    if (s_working (self) && !was_working && !(self->state == S_SLEEP && self->forced))
        s_enter (self, S_WAKE, "work in flight");
    else if (!s_busy (self) && was && self->state == S_WAKE)
        self->since_ms = mem_mono_ms ();   //  quiet from the end of the work
    zstr_free (&source);
    zstr_free (&flag);
}

//  ["BUSY", source, flag] from another actor.
static void
s_self_handle_busy (self_t *self)
{
    zmsg_t *msg = zmsg_recv (self->busy_in);
    char *command = msg ? zmsg_popstr (msg) : NULL;
    if (command && streq (command, "BUSY"))
        s_busy_change (self, msg);
    zstr_free (&command);
    zmsg_destroy (&msg);
}

//  ["ACTIVITY", what] | ["BUSY", "capture"|"jobs"|"graph", "1"|"0"] | ["REQUEST", identity, bytes]
static void
s_self_handle_frontend (self_t *self)
{
    zmsg_t *msg = zmsg_recv (self->frontend);
    if (!msg)
        return;
    char *command = zmsg_popstr (msg);
    if (command && streq (command, "ACTIVITY")) {
        char *what = zmsg_popstr (msg);
        char reason[128];
        snprintf (reason, sizeof reason, "activity: %s", what ? what : "request");
        s_enter (self, S_WAKE, reason);   //  in WAKE: the quiet period restarts
        zstr_free (&what);
    }
    else if (command && streq (command, "BUSY"))
        s_busy_change (self, msg);
    else if (command && streq (command, "REQUEST"))
        s_self_handle_request (self, msg);
    else
        mem_log_error ("lifecycle: unknown message %s", command ? command : "(none)");
    zstr_free (&command);
    zmsg_destroy (&msg);
}

//  The timer: the next transition is due.
static void
s_self_handle_timer (self_t *self)
{
    if (self->state == S_WAKE && !s_busy (self))
        s_enter (self, S_DROWSY, "quiet");
    else if (self->state == S_DROWSY)
        s_enter (self, S_SLEEP, "quiet");
    else if (self->state == S_SLEEP)
        s_ask_step (self);   //  retry after a failed step
}

static void
s_self_handle_pipe (self_t *self)
{
    char *command = zstr_recv (self->pipe);
    if (!command || streq (command, "$TERM"))
        self->terminated = true;
    else
        mem_log_error ("lifecycle: unknown command %s", command);
    zstr_free (&command);
}

void
mem_lifecycle_actor (zsock_t *pipe, void *args)
{
    self_t *self = calloc (1, sizeof *self);
    self->pipe = pipe;
    self->ctx = args;
    zsock_signal (pipe, 0);

    char *command = zstr_recv (pipe);
    const char *err = "lifecycle: no START";
    bool started = false;
    if (command && streq (command, "START")) {
        self->frontend = zsock_new (ZMQ_PAIR);
        self->writer = zsock_new (ZMQ_PAIR);
        self->graph = zsock_new (ZMQ_PAIR);
        self->busy_in = zsock_new (ZMQ_PULL);
        if (!self->frontend || !self->writer || !self->graph || !self->busy_in)
            err = "lifecycle: cannot create sockets";
        else if (zsock_bind (self->frontend, MEM_INPROC_LIFECYCLE) < 0)
            err = "lifecycle: cannot bind " MEM_INPROC_LIFECYCLE;
        else if (zsock_connect (self->writer, MEM_INPROC_CONSOLIDATE) < 0)
            err = "lifecycle: cannot reach the writer";
        else if (zsock_connect (self->graph, MEM_INPROC_GRAPH_SETTLE) < 0)
            err = "lifecycle: cannot reach the graph actor";
        else if (zsock_bind (self->busy_in, MEM_INPROC_LIFECYCLE_BUSY) < 0)
            err = "lifecycle: cannot bind " MEM_INPROC_LIFECYCLE_BUSY;
        else
            started = true;
    }
    zstr_free (&command);
    zstr_send (pipe, started ? "OK" : err);
    if (started) {
        zsock_set_sndhwm (self->frontend, 0);
        //  Never block on a peer that is gone (shutdown stops the frontend first).
        zsock_set_sndtimeo (self->frontend, 0);
        zsock_set_sndtimeo (self->writer, 0);
        zsock_set_sndtimeo (self->graph, 0);
        self->poller = zpoller_new (self->pipe, self->frontend, self->writer, self->graph,
                                    self->busy_in, NULL);
        self->state = S_WAKE;
        self->since_ms = mem_mono_ms ();
        snprintf (self->from, sizeof self->from, "%s", "");
        snprintf (self->to, sizeof self->to, "%s", "WAKE");
        snprintf (self->reason, sizeof self->reason, "%s", "started");
        self->at_ms = mem_now_ms ();   //  the frontend starts with the same snapshot
    }
    while (started && !self->terminated) {
        int64_t next = s_next_deadline (self);
        int timeout = -1;
        if (next) {
            int64_t wait = next - mem_mono_ms ();
            timeout = wait <= 0 ? 0 : wait > INT32_MAX ? INT32_MAX : (int) wait;
        }
        void *which = zpoller_wait (self->poller, timeout);
        if (which == self->pipe)
            s_self_handle_pipe (self);
        else if (which == self->frontend)
            s_self_handle_frontend (self);
        else if (which == self->writer)
            s_self_handle_writer (self);
        else if (which == self->graph)
            s_self_handle_graph (self);
        else if (which == self->busy_in)
            s_self_handle_busy (self);
        else if (zpoller_terminated (self->poller))
            break;
        else if (zpoller_expired (self->poller))
            s_self_handle_timer (self);
    }
    zpoller_destroy (&self->poller);
    zsock_destroy (&self->frontend);
    zsock_destroy (&self->writer);
    zsock_destroy (&self->graph);
    zsock_destroy (&self->busy_in);
    free (self);
}

//  --------------------------------------------------------------------------
//  Selftest: the actor played against stand-ins for its peers.

#undef NDEBUG
#include <assert.h>

//  Waits for a transition to state on the frontend (PROGRESS skipped);
//  true with reason (when not NULL) as its reason.
static bool
s_test_transition (zsock_t *frontend, const char *state, const char *reason, int timeout_ms)
{
    zsock_set_rcvtimeo (frontend, timeout_ms);
    bool seen = false;
    zmsg_t *msg;
    while (!seen && (msg = zmsg_recv (frontend))) {
        char *command = zmsg_popstr (msg);
        zframe_t *frame = zmsg_first (msg);
        if (command && streq (command, "STATE") && frame) {
            Memd__V1__Transition *t
                = memd__v1__transition__unpack (NULL, zframe_size (frame), zframe_data (frame));
            assert (t);
            seen = streq (t->to_state, state) && (!reason || streq (t->reason, reason));
            memd__v1__transition__free_unpacked (t, NULL);
        }
        zstr_free (&command);
        zmsg_destroy (&msg);
    }
    return seen;
}

void
mem_lifecycle_test (bool verbose)
{
    (void) verbose;
    printf (" * mem_lifecycle: ");
    mem_context_t ctx = {0};
    ctx.lifecycle.drowsy_after_ms = 200;   //  time to connect the frontend first
    ctx.lifecycle.sleep_after_ms = 10;
    zsock_t *writer = zsock_new_pair ("@" MEM_INPROC_CONSOLIDATE);
    zsock_t *graph = zsock_new_pair ("@" MEM_INPROC_GRAPH_SETTLE);
    assert (writer && graph);
    char err[256];
    zactor_t *actor = mem_actor_start (mem_lifecycle_actor, &ctx, err, sizeof err);
    assert (actor);
    zsock_t *frontend = zsock_new_pair (">" MEM_INPROC_LIFECYCLE);
    zsock_t *busy = zsock_new_push (">" MEM_INPROC_LIFECYCLE_BUSY);
    assert (frontend && busy);

    //  Quiet: DROWSY, SLEEP, one consolidation step that is the last, the
    //  graph settled: HIBERNATE.
    assert (s_test_transition (frontend, "DROWSY", "quiet", 5000));
    assert (s_test_transition (frontend, "SLEEP", "quiet", 5000));
    char *command = zstr_recv (writer);
    assert (command && streq (command, "STEP"));
    zstr_free (&command);
    zstr_sendx (writer, "STEP", "DONE", "1", "", NULL);
    command = zstr_recv (graph);
    assert (command && streq (command, "SETTLE"));
    zstr_free (&command);
    zstr_sendx (graph, "SETTLED", "", NULL);
    assert (s_test_transition (frontend, "HIBERNATE", "consolidation done", 5000));

    //  The graph's own work does not wake memd; the watcher's, told after
    //  it (its record reached the graph first), does.
    zstr_sendx (frontend, "BUSY", "graph", "1", NULL);
    assert (!s_test_transition (frontend, "WAKE", NULL, 100));
    zstr_sendx (busy, "BUSY", "watch", "1", NULL);
    assert (s_test_transition (frontend, "WAKE", "work in flight", 5000));

    zactor_destroy (&actor);
    zsock_destroy (&busy);
    zsock_destroy (&frontend);
    zsock_destroy (&graph);
    zsock_destroy (&writer);
    printf ("OK\n");
}
