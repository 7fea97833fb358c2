/*  memd_client — the C client library for memd (see memd_client.h).

    One DEALER socket per client, connected with ZMQ_IMMEDIATE so that a
    request is never queued for a memd that is not there: a send waits (with
    zmq_poll on POLLOUT) for a live connection until the call's deadline,
    then the call fails with UNAVAILABLE. Requests go out as [empty][Request]
    so memd's ROUTER sees the same envelope as from a REQ socket; replies come
    back as [empty][Reply]. Each call carries a fresh request_id and replies
    with any other id (late answers to calls that timed out) are dropped.
*/
#include "memd_client.h"
#include "mem_codec.h"

#include <czmq.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT_MS 5000
#define IPC_PATH_MAX       107          //  sun_path minus its terminating NUL
#define BIG_REQUEST_BYTES  (16u << 20)  //  memd's default max_message_bytes

struct _memd_client_t {
    zsock_t *dealer;
    void *handle;               //  the libzmq socket behind dealer
    char *endpoint;
    int timeout_ms;
    uint64_t next_id;           //  request_id of the next call
    int code;                   //  Memd__V1__Code of the last call
    char error[1024];           //  its message ("" after a success)
};

//  --------------------------------------------------------------------------
//  Default paths (DESIGN §6); memd computes its own defaults with these too.

int
memd_default_run_dir (char *buf, size_t size)
{
    const char *xdg = getenv ("XDG_RUNTIME_DIR");
    int len;
    if (xdg && *xdg)
        len = snprintf (buf, size, "%s/memd", xdg);
    else
        len = snprintf (buf, size, "/tmp/memd-%u", (unsigned) getuid ());
    return len < 0 || (size_t) len >= size ? -1 : 0;
}

int
memd_default_endpoint (char *buf, size_t size)
{
    const char *env = getenv ("MEMD_ENDPOINT");
    const char *run_dir_env = getenv ("MEMD_RUN_DIR");
    int len;
    if (env && *env)
        len = snprintf (buf, size, "%s", env);
    else if (run_dir_env && *run_dir_env)
        len = snprintf (buf, size, "ipc://%s/memd.sock", run_dir_env);
    else {
        char run_dir[4096];
        if (memd_default_run_dir (run_dir, sizeof run_dir))
            return -1;
        len = snprintf (buf, size, "ipc://%s/memd.sock", run_dir);
    }
    return len < 0 || (size_t) len >= size ? -1 : 0;
}

//  --------------------------------------------------------------------------
//  Error recording

static void s_set_error (memd_client_t *self, int code, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

static void
s_set_error (memd_client_t *self, int code, const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    vsnprintf (self->error, sizeof self->error, fmt, args);
    va_end (args);
    self->code = code;
}

static void
s_clear_error (memd_client_t *self)
{
    self->code = MEMD__V1__CODE__OK;
    self->error[0] = 0;
}

//  A starting request_id that differs between clients and runs, so that a
//  reply meant for an earlier process on a reused connection cannot match.
static uint64_t
s_seed_request_id (void)
{
    uint64_t x = (uint64_t) zclock_usecs () ^ ((uint64_t) getpid () << 32)
               ^ (uint64_t) (uintptr_t) &x;
    //  splitmix64 finaliser
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    x ^= x >> 31;
    //  Keep ids within 48 bits (short varints, exact in JavaScript) and non-zero:
    //  memd answers an undecodable request with request_id 0.
    return (x & 0xffffffffffffULL) | 1;
}

//  --------------------------------------------------------------------------
//  Lifecycle

memd_client_t *
memd_client_new (const char *endpoint, int timeout_ms)
{
    char default_ep[4200];
    if (!endpoint) {
        if (memd_default_endpoint (default_ep, sizeof default_ep)) {
            errno = ENAMETOOLONG;
            return NULL;
        }
        endpoint = default_ep;
    }
    if (strncmp (endpoint, "ipc://", 6) == 0 && strlen (endpoint + 6) > IPC_PATH_MAX) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    memd_client_t *self = (memd_client_t *) zmalloc (sizeof (memd_client_t));
    if (!self)
        return NULL;
    self->endpoint = strdup (endpoint);
    self->timeout_ms = timeout_ms > 0 ? timeout_ms : DEFAULT_TIMEOUT_MS;
    self->next_id = s_seed_request_id ();

    //  Options first: ZMQ_IMMEDIATE only applies to connections made after it.
    self->dealer = zsock_new (ZMQ_DEALER);
    if (!self->endpoint || !self->dealer) {
        memd_client_destroy (&self);
        return NULL;
    }
    zsock_set_linger (self->dealer, 0);
    zsock_set_immediate (self->dealer, 1);
    zsock_set_sndhwm (self->dealer, 100);
    zsock_set_rcvhwm (self->dealer, 1000);
    zsock_set_reconnect_ivl (self->dealer, 50);
    zsock_set_reconnect_ivl_max (self->dealer, 500);
    if (zsock_connect (self->dealer, "%s", endpoint)) {
        int saved = errno;
        memd_client_destroy (&self);
        errno = saved;
        return NULL;
    }
    self->handle = zsock_resolve (self->dealer);
    return self;
}

void
memd_client_destroy (memd_client_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        memd_client_t *self = *self_p;
        zsock_destroy (&self->dealer);
        free (self->endpoint);
        free (self);
        *self_p = NULL;
    }
}

void
memd_client_set_timeout (memd_client_t *self, int timeout_ms)
{
    assert (self);
    self->timeout_ms = timeout_ms > 0 ? timeout_ms : DEFAULT_TIMEOUT_MS;
}

int
memd_client_code (memd_client_t *self)
{
    assert (self);
    return self->code;
}

const char *
memd_client_error (memd_client_t *self)
{
    assert (self);
    return self->error;
}

const char *
memd_client_endpoint (memd_client_t *self)
{
    assert (self);
    return self->endpoint;
}

//  --------------------------------------------------------------------------
//  The call: send, then wait for the matching reply

//  Milliseconds left until deadline (a zclock_mono value), never negative.
static int
s_remaining (int64_t deadline)
{
    int64_t left = deadline - zclock_mono ();
    return left > 0 ? (int) left : 0;
}

//  Waits up to the deadline for events on the socket; returns the revents
//  (0 on timeout). Signals do not cut the wait short.
static int
s_poll (memd_client_t *self, short events, int64_t deadline)
{
    while (true) {
        zmq_pollitem_t item = {self->handle, 0, events, 0};
        int rc = zmq_poll (&item, 1, s_remaining (deadline));
        if (rc > 0)
            return item.revents;
        if (rc == 0)
            return 0;
        if (errno != EINTR)
            return -1;
        if (s_remaining (deadline) == 0)
            return 0;
    }
}

//  Why nothing answered: names the likely cause for an ipc endpoint.
static void
s_set_unavailable (memd_client_t *self, bool sent, size_t request_size)
{
    const char *ep = self->endpoint;
    if (!sent && strncmp (ep, "ipc://", 6) == 0) {
        struct stat st;
        if (stat (ep + 6, &st) == -1 && errno == ENOENT) {
            s_set_error (self, MEMD__V1__CODE__UNAVAILABLE,
                         "memd is not running (no socket at %s)", ep + 6);
            return;
        }
        if (access (ep + 6, W_OK) == -1 && errno == EACCES) {
            s_set_error (self, MEMD__V1__CODE__PERMISSION_DENIED,
                         "permission denied on memd's socket %s: it is another user's memd "
                         "(memd serves only its own user unless api/allow_uids names others)",
                         ep + 6);
            return;
        }
    }
    if (!sent)
        s_set_error (self, MEMD__V1__CODE__UNAVAILABLE,
                     "could not connect to memd at %s within %d ms (is memd running?)", ep,
                     self->timeout_ms);
    else if (request_size > BIG_REQUEST_BYTES)
        s_set_error (self, MEMD__V1__CODE__UNAVAILABLE,
                     "no reply from memd at %s within %d ms (the request was %zu bytes: memd "
                     "drops messages over its max_message_bytes, 16 MiB by default)",
                     ep, self->timeout_ms, request_size);
    else
        s_set_error (self, MEMD__V1__CODE__UNAVAILABLE,
                     "no reply from memd at %s within %d ms (is memd running?)", ep,
                     self->timeout_ms);
}

//  Sends [empty][data] once a connection can take it. Returns 0, 1 if the
//  deadline passed first, or -1 on a socket error.
static int
s_send (memd_client_t *self, const void *data, size_t size, int64_t deadline)
{
    while (true) {
        if (zmq_send (self->handle, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) == 0) {
            //  The first part is in: the rest of a multipart message follows atomically.
            if (zmq_send (self->handle, data, size, ZMQ_DONTWAIT) == (int) size)
                return 0;
            return -1;
        }
        if (errno != EAGAIN && errno != EINTR)
            return -1;
        int revents = s_poll (self, ZMQ_POLLOUT, deadline);
        if (revents == -1)
            return -1;
        if (revents == 0)
            return 1;
    }
}

//  Receives one whole message (the socket is readable). Returns the unpacked
//  Reply, or NULL with *bad set when the message is not [empty][Reply].
static Memd__V1__Reply *
s_recv (memd_client_t *self, bool *bad)
{
    zmq_msg_t part[3];          //  delimiter, body, and a scratch for any extra
    int parts = 0;
    bool more = true;
    *bad = false;
    while (more) {
        zmq_msg_t *msg = &part[parts < 2 ? parts : 2];
        zmq_msg_init (msg);
        if (zmq_msg_recv (msg, self->handle, ZMQ_DONTWAIT) == -1) {
            zmq_msg_close (msg);
            *bad = parts > 0;   //  a multipart message always arrives whole
            break;
        }
        more = zmq_msg_more (msg);
        if (parts >= 2)
            zmq_msg_close (msg);
        parts++;
    }
    Memd__V1__Reply *reply = NULL;
    if (parts == 2 && !*bad && zmq_msg_size (&part[0]) == 0)
        reply = memd__v1__reply__unpack (NULL, zmq_msg_size (&part[1]),
                                         (const uint8_t *) zmq_msg_data (&part[1]));
    if (!reply && parts > 0)
        *bad = true;
    for (int i = 0; i < parts && i < 2; i++)
        zmq_msg_close (&part[i]);
    return reply;
}

Memd__V1__Reply *
memd_client_call (memd_client_t *self, Memd__V1__Request *req, bool keep_failed)
{
    assert (self);
    assert (req);
    s_clear_error (self);
    int64_t deadline = zclock_mono () + self->timeout_ms;

    uint64_t request_id = self->next_id++;
    if (self->next_id == 0)
        self->next_id = 1;
    req->request_id = request_id;
    req->protocol_version = MEM_PROTOCOL_VERSION;

    size_t size = memd__v1__request__get_packed_size (req);
    uint8_t *data = (uint8_t *) malloc (size ? size : 1);
    if (!data) {
        s_set_error (self, MEMD__V1__CODE__RESOURCE_EXHAUSTED,
                     "out of memory packing a %zu-byte request", size);
        return NULL;
    }
    if (memd__v1__request__pack (req, data) != size) {
        free (data);
        s_set_error (self, MEMD__V1__CODE__INTERNAL, "packing the request failed");
        return NULL;
    }
    int rc = s_send (self, data, size, deadline);
    free (data);
    if (rc == 1) {
        s_set_unavailable (self, false, size);
        return NULL;
    }
    if (rc == -1) {
        s_set_error (self, MEMD__V1__CODE__UNAVAILABLE, "sending to memd at %s failed: %s",
                     self->endpoint, zmq_strerror (zmq_errno ()));
        return NULL;
    }

    while (true) {
        int revents = s_poll (self, ZMQ_POLLIN, deadline);
        if (revents == -1) {
            s_set_error (self, MEMD__V1__CODE__UNAVAILABLE,
                         "receiving from memd at %s failed: %s", self->endpoint,
                         zmq_strerror (zmq_errno ()));
            return NULL;
        }
        if (revents == 0) {
            s_set_unavailable (self, true, size);
            return NULL;
        }
        bool bad;
        Memd__V1__Reply *reply = s_recv (self, &bad);
        if (bad) {
            s_set_error (self, MEMD__V1__CODE__INTERNAL,
                         "memd at %s sent a message that is not a memd.v1 Reply",
                         self->endpoint);
            return NULL;
        }
        if (!reply)
            continue;
        int code = reply->status ? (int) reply->status->code : MEMD__V1__CODE__OK;
        //  memd answers a request it could not decode with request_id 0; as
        //  there is one call at a time, such an error is this call's.
        bool ours = reply->request_id == request_id
                 || (reply->request_id == 0 && code != MEMD__V1__CODE__OK);
        if (!ours) {
            memd__v1__reply__free_unpacked (reply, NULL);
            continue;   //  a late reply to a call that timed out
        }
        if (code == MEMD__V1__CODE__OK)
            return reply;
        const char *message = reply->status->message;
        if (message && *message)
            s_set_error (self, code, "%s", message);
        else
            s_set_error (self, code, "memd answered %s", mem_code_name (code));
        if (!keep_failed)
            memd__v1__reply__free_unpacked (reply, NULL);
        return keep_failed ? reply : NULL;
    }
}

void
memd_client_reply_free (Memd__V1__Reply **reply_p)
{
    assert (reply_p);
    if (*reply_p) {
        memd__v1__reply__free_unpacked (*reply_p, NULL);
        *reply_p = NULL;
    }
}

//  --------------------------------------------------------------------------
//  Operations

//  Checks that a reply carries the result its operation promises, so callers
//  can dereference it; frees it and records INTERNAL otherwise.
static Memd__V1__Reply *
s_expect (memd_client_t *self, Memd__V1__Reply *reply, int result_case, const char *op)
{
    if (reply && (int) reply->result_case != result_case) {
        //  A failed reply kept for its result, without one: its error stands.
        bool failed = reply->status && reply->status->code != MEMD__V1__CODE__OK;
        memd__v1__reply__free_unpacked (reply, NULL);
        if (!failed)
            s_set_error (self, MEMD__V1__CODE__INTERNAL, "memd's reply to %s carries no result",
                         op);
        return NULL;
    }
    return reply;
}

//  Agent scope of a data-plane request: NULL or "" means "default".
static char *
s_agent (const char *agent)
{
    return (char *) (agent && *agent ? agent : "default");
}

int
memd_client_ping (memd_client_t *self)
{
    Memd__V1__Reply *reply = memd_client_ping_reply (self);
    memd_client_reply_free (&reply);
    return self->code == MEMD__V1__CODE__OK ? 0 : -1;
}

Memd__V1__Reply *
memd_client_ping_reply (memd_client_t *self)
{
    assert (self);
    Memd__V1__Ping ping = MEMD__V1__PING__INIT;
    Memd__V1__Request req = MEMD__V1__REQUEST__INIT;
    req.op_case = MEMD__V1__REQUEST__OP_PING;
    req.ping = &ping;
    return s_expect (self, memd_client_call (self, &req, false), MEMD__V1__REPLY__RESULT_PING,
                     "Ping");
}

Memd__V1__Reply *
memd_client_status (memd_client_t *self)
{
    assert (self);
    Memd__V1__StatusRequest status = MEMD__V1__STATUS_REQUEST__INIT;
    Memd__V1__Request req = MEMD__V1__REQUEST__INIT;
    req.op_case = MEMD__V1__REQUEST__OP_STATUS;
    req.status = &status;
    return s_expect (self, memd_client_call (self, &req, false),
                     MEMD__V1__REPLY__RESULT_STATUS_RESULT, "Status");
}

Memd__V1__Reply *
memd_client_sleep (memd_client_t *self, bool wake)
{
    assert (self);
    Memd__V1__Sleep sleep = MEMD__V1__SLEEP__INIT;
    Memd__V1__Wake wake_op = MEMD__V1__WAKE__INIT;
    Memd__V1__Request req = MEMD__V1__REQUEST__INIT;
    if (wake) {
        req.op_case = MEMD__V1__REQUEST__OP_WAKE;
        req.wake = &wake_op;
    }
    else {
        req.op_case = MEMD__V1__REQUEST__OP_SLEEP;
        req.sleep = &sleep;
    }
    return s_expect (self, memd_client_call (self, &req, false),
                     MEMD__V1__REPLY__RESULT_LIFECYCLE, wake ? "Wake" : "Sleep");
}

Memd__V1__Reply *
memd_client_verify (memd_client_t *self)
{
    assert (self);
    Memd__V1__Verify verify = MEMD__V1__VERIFY__INIT;
    Memd__V1__Request req = MEMD__V1__REQUEST__INIT;
    req.op_case = MEMD__V1__REQUEST__OP_VERIFY;
    req.verify = &verify;
    return s_expect (self, memd_client_call (self, &req, true), MEMD__V1__REPLY__RESULT_VERIFY,
                     "Verify");
}

Memd__V1__Reply *
memd_client_graph_stats (memd_client_t *self, const char *agent, bool refresh, uint32_t top)
{
    assert (self);
    Memd__V1__GraphStats stats = MEMD__V1__GRAPH_STATS__INIT;
    stats.refresh = refresh;
    stats.top = top;
    Memd__V1__Request req = MEMD__V1__REQUEST__INIT;
    req.agent_id = s_agent (agent);
    req.op_case = MEMD__V1__REQUEST__OP_GRAPH_STATS;
    req.graph_stats = &stats;
    return s_expect (self, memd_client_call (self, &req, false),
                     MEMD__V1__REPLY__RESULT_GRAPH_STATS, "GraphStats");
}

Memd__V1__Reply *
memd_client_neighbors (memd_client_t *self, const char *agent, const uint64_t *ids, size_t n,
                       Memd__V1__EdgeType type, uint32_t limit)
{
    assert (self);
    Memd__V1__Neighbors neighbors = MEMD__V1__NEIGHBORS__INIT;
    neighbors.ids = (uint64_t *) ids;
    neighbors.n_ids = n;
    neighbors.type = type;
    neighbors.limit = limit;
    Memd__V1__Request req = MEMD__V1__REQUEST__INIT;
    req.agent_id = s_agent (agent);
    req.op_case = MEMD__V1__REQUEST__OP_NEIGHBORS;
    req.neighbors = &neighbors;
    Memd__V1__Reply *reply = memd_client_call (self, &req, true);
    if (reply && self->code != MEMD__V1__CODE__OK && self->code != MEMD__V1__CODE__NOT_FOUND)
        memd_client_reply_free (&reply);
    //  As Get: on NOT_FOUND the error stays recorded and the reply is returned.
    return s_expect (self, reply, MEMD__V1__REPLY__RESULT_NEIGHBORS, "Neighbors");
}

Memd__V1__Reply *
memd_client_community (memd_client_t *self, const char *agent, uint64_t id, uint64_t community,
                       uint64_t after_id, uint32_t limit)
{
    assert (self);
    Memd__V1__Community query = MEMD__V1__COMMUNITY__INIT;
    query.id = id;
    query.community = community;
    query.all = !id && !community;
    query.after_id = after_id;
    query.limit = limit;
    Memd__V1__Request req = MEMD__V1__REQUEST__INIT;
    req.agent_id = s_agent (agent);
    req.op_case = MEMD__V1__REQUEST__OP_COMMUNITY;
    req.community = &query;
    return s_expect (self, memd_client_call (self, &req, false),
                     MEMD__V1__REPLY__RESULT_COMMUNITY, "Community");
}

struct _memd_events_t {
    zsock_t *sub;
    bool ready;                 //  memd confirmed the subscription
    zlist_t *early;             //  events that came while waiting for that
};

memd_events_t *
memd_events_new (const char *endpoint, const char *topic)
{
    memd_events_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->sub = zsock_new (ZMQ_SUB);
    self->early = zlist_new ();
    if (!self->sub || !self->early || zsock_connect (self->sub, "%s", endpoint)) {
        memd_events_destroy (&self);
        return NULL;
    }
    zsock_set_subscribe (self->sub, topic ? topic : "");
    zsock_set_subscribe (self->sub, MEM_EVENTS_READY);   //  last: see mem_codec.h
    return self;
}

void
memd_events_destroy (memd_events_t **self_p)
{
    memd_events_t *self = *self_p;
    if (!self)
        return;
    zsock_destroy (&self->sub);
    if (self->early) {
        Memd__V1__Event *event;
        while ((event = zlist_pop (self->early)))
            memd__v1__event__free_unpacked (event, NULL);
        zlist_destroy (&self->early);
    }
    free (self);
    *self_p = NULL;
}

//  Receives the next event or readiness marker until the deadline (-1:
//  none). Returns the event; NULL with *marker set for the marker; NULL on
//  timeout or interrupt. Other messages are skipped.
static Memd__V1__Event *
s_events_recv (memd_events_t *self, int64_t deadline, bool *marker)
{
    *marker = false;
    while (true) {
        int64_t left = deadline < 0 ? -1 : deadline - zclock_mono ();
        zsock_set_rcvtimeo (self->sub, deadline < 0 ? -1 : left > 0 ? (int) left : 0);
        zmsg_t *msg = zmsg_recv (self->sub);
        if (!msg)
            return NULL;
        zframe_t *first = zmsg_first (msg), *bytes = zmsg_last (msg);
        Memd__V1__Event *event = NULL;
        if (zmsg_size (msg) == 1)
            *marker = zframe_streq (first, MEM_EVENTS_READY);
        else if (zmsg_size (msg) == 2)
            event = memd__v1__event__unpack (NULL, zframe_size (bytes), zframe_data (bytes));
        zmsg_destroy (&msg);
        if (event || *marker)
            return event;
    }
}

int
memd_events_ready (memd_events_t *self, int timeout_ms)
{
    assert (self);
    int64_t deadline = timeout_ms < 0 ? -1 : zclock_mono () + timeout_ms;
    while (!self->ready) {
        bool marker;
        Memd__V1__Event *event = s_events_recv (self, deadline, &marker);
        if (marker)
            self->ready = true;
        else if (!event)
            return -1;
        else if (zlist_append (self->early, event))
            memd__v1__event__free_unpacked (event, NULL);
    }
    return 0;
}

Memd__V1__Event *
memd_events_next (memd_events_t *self, int timeout_ms)
{
    assert (self);
    Memd__V1__Event *event = zlist_pop (self->early);
    if (event)
        return event;
    int64_t deadline = timeout_ms < 0 ? -1 : zclock_mono () + timeout_ms;
    bool marker = true;
    while (!event && marker) {
        event = s_events_recv (self, deadline, &marker);
        self->ready |= marker;
    }
    return event;
}

memd_events_t *
memd_client_events (memd_client_t *self, const char *topic)
{
    assert (self);
    Memd__V1__Reply *reply = memd_client_status (self);
    if (!reply)
        return NULL;
    char *endpoint = strdup (reply->status_result->events_endpoint);
    memd_client_reply_free (&reply);
    memd_events_t *events = NULL;
    if (!endpoint)
        s_set_error (self, MEMD__V1__CODE__RESOURCE_EXHAUSTED, "out of memory");
    else if (!*endpoint)
        s_set_error (self, MEMD__V1__CODE__UNAVAILABLE,
                     "memd publishes no events (its api/events_endpoint is none)");
    else if (!(events = memd_events_new (endpoint, topic)))
        s_set_error (self, MEMD__V1__CODE__UNAVAILABLE, "cannot subscribe to memd's events at %s",
                     endpoint);
    else if (memd_events_ready (events, self->timeout_ms)) {
        s_set_error (self, MEMD__V1__CODE__UNAVAILABLE,
                     "memd did not confirm the events subscription at %s within %d ms", endpoint,
                     self->timeout_ms);
        memd_events_destroy (&events);
    }
    free (endpoint);
    return events;
}

void *
memd_events_socket (memd_events_t *self)
{
    return zsock_resolve (self->sub);
}

int
memd_client_capture (memd_client_t *self, const char *agent, Memd__V1__Record **records,
                     size_t n, uint64_t *ids, bool *dup)
{
    assert (self);
    assert (records || n == 0);
    assert (ids || n == 0);
    Memd__V1__Capture capture = MEMD__V1__CAPTURE__INIT;
    capture.n_records = n;
    capture.records = records;
    Memd__V1__Request req = MEMD__V1__REQUEST__INIT;
    req.agent_id = s_agent (agent);
    req.op_case = MEMD__V1__REQUEST__OP_CAPTURE;
    req.capture = &capture;
    Memd__V1__Reply *reply = s_expect (self, memd_client_call (self, &req, false),
                                       MEMD__V1__REPLY__RESULT_CAPTURE, "Capture");
    if (!reply)
        return -1;
    Memd__V1__CaptureResult *result = reply->capture;
    if (result->n_ids != n) {
        s_set_error (self, MEMD__V1__CODE__INTERNAL,
                     "memd acknowledged a capture of %zu records with %zu ids", n,
                     result->n_ids);
        memd_client_reply_free (&reply);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        ids[i] = result->ids[i];
        if (dup)
            dup[i] = i < result->n_duplicate && result->duplicate[i];
    }
    memd_client_reply_free (&reply);
    return 0;
}

int
memd_client_capture_text (memd_client_t *self, const char *agent, const char *session,
                          const char *text, uint64_t *id)
{
    assert (self);
    assert (text);
    Memd__V1__Record record = MEMD__V1__RECORD__INIT;
    record.kind = MEMD__V1__KIND__EPISODIC;
    record.text = (char *) text;
    if (session)
        record.session_id = (char *) session;
    Memd__V1__Record *records[1] = {&record};
    uint64_t ids[1];
    if (memd_client_capture (self, agent, records, 1, ids, NULL))
        return -1;
    if (id)
        *id = ids[0];
    return 0;
}

Memd__V1__Reply *
memd_client_recall (memd_client_t *self, const char *agent, const Memd__V1__Recall *query)
{
    assert (self);
    assert (query);
    Memd__V1__Request req = MEMD__V1__REQUEST__INIT;
    req.agent_id = s_agent (agent);
    req.op_case = MEMD__V1__REQUEST__OP_RECALL;
    req.recall = (Memd__V1__Recall *) query;   //  packing does not modify it
    return s_expect (self, memd_client_call (self, &req, false), MEMD__V1__REPLY__RESULT_RECALL,
                     "Recall");
}

Memd__V1__Reply *
memd_client_context (memd_client_t *self, const char *agent, const Memd__V1__Context *context)
{
    assert (self);
    assert (context);
    Memd__V1__Request req = MEMD__V1__REQUEST__INIT;
    req.agent_id = s_agent (agent);
    req.op_case = MEMD__V1__REQUEST__OP_CONTEXT;
    req.context = (Memd__V1__Context *) context;   //  packing does not modify it
    return s_expect (self, memd_client_call (self, &req, false), MEMD__V1__REPLY__RESULT_CONTEXT,
                     "Context");
}

Memd__V1__Reply *
memd_client_get (memd_client_t *self, const char *agent, const uint64_t *ids, size_t n)
{
    assert (self);
    assert (ids || n == 0);
    Memd__V1__Get get = MEMD__V1__GET__INIT;
    get.n_ids = n;
    get.ids = (uint64_t *) ids;
    Memd__V1__Request req = MEMD__V1__REQUEST__INIT;
    req.agent_id = s_agent (agent);
    req.op_case = MEMD__V1__REQUEST__OP_GET;
    req.get = &get;
    Memd__V1__Reply *reply = memd_client_call (self, &req, true);
    if (!reply)
        return NULL;
    int code = self->code;
    if (code != MEMD__V1__CODE__OK && code != MEMD__V1__CODE__NOT_FOUND) {
        memd_client_reply_free (&reply);
        return NULL;
    }
    //  On NOT_FOUND the error stays recorded: the reply is returned with it.
    return s_expect (self, reply, MEMD__V1__REPLY__RESULT_GET, "Get");
}

int
memd_client_forget (memd_client_t *self, const char *agent, const uint64_t *ids, size_t n,
                    const char *session, uint64_t *forgotten)
{
    assert (self);
    assert (ids || n == 0);
    if (forgotten)
        *forgotten = 0;
    Memd__V1__Forget forget = MEMD__V1__FORGET__INIT;
    forget.n_ids = n;
    forget.ids = (uint64_t *) ids;
    if (session)
        forget.session_id = (char *) session;
    Memd__V1__Request req = MEMD__V1__REQUEST__INIT;
    req.agent_id = s_agent (agent);
    req.op_case = MEMD__V1__REQUEST__OP_FORGET;
    req.forget = &forget;
    Memd__V1__Reply *reply = memd_client_call (self, &req, true);
    if (!reply)
        return -1;
    if (forgotten && reply->result_case == MEMD__V1__REPLY__RESULT_FORGET)
        *forgotten = reply->forget->forgotten;
    int rc = self->code == MEMD__V1__CODE__OK ? 0 : -1;
    if (rc == 0 && reply->result_case != MEMD__V1__REPLY__RESULT_FORGET) {
        s_set_error (self, MEMD__V1__CODE__INTERNAL, "memd's reply to Forget carries no result");
        rc = -1;
    }
    memd_client_reply_free (&reply);
    return rc;
}

//  --------------------------------------------------------------------------
//  The job queue

int
memd_client_job_enqueue (memd_client_t *self, const Memd__V1__JobEnqueue *job, uint64_t *id,
                         bool *duplicate)
{
    assert (self);
    assert (job);
    Memd__V1__Request req = MEMD__V1__REQUEST__INIT;
    req.op_case = MEMD__V1__REQUEST__OP_JOB_ENQUEUE;
    req.job_enqueue = (Memd__V1__JobEnqueue *) job;   //  packing does not modify it
    Memd__V1__Reply *reply = s_expect (self, memd_client_call (self, &req, false),
                                       MEMD__V1__REPLY__RESULT_JOB_ENQUEUE, "Enqueue");
    if (!reply)
        return -1;
    if (id)
        *id = reply->job_enqueue->id;
    if (duplicate)
        *duplicate = reply->job_enqueue->duplicate;
    memd_client_reply_free (&reply);
    return 0;
}

Memd__V1__Reply *
memd_client_job_lease (memd_client_t *self, const Memd__V1__JobLease *lease)
{
    assert (self);
    assert (lease);
    Memd__V1__Request req = MEMD__V1__REQUEST__INIT;
    req.op_case = MEMD__V1__REQUEST__OP_JOB_LEASE;
    req.job_lease = (Memd__V1__JobLease *) lease;
    //  memd holds a long-poll for up to wait_ms: wait that long on top.
    int timeout = self->timeout_ms;
    int64_t extended = (int64_t) timeout + (lease->wait_ms > 0 ? lease->wait_ms : 0);
    self->timeout_ms = extended > INT32_MAX ? INT32_MAX : (int) extended;
    Memd__V1__Reply *reply = memd_client_call (self, &req, false);
    self->timeout_ms = timeout;
    return s_expect (self, reply, MEMD__V1__REPLY__RESULT_JOB_LEASE, "Lease");
}

//  Complete, Fail and Extend share their reply: the job after the change.
static int
s_job_call (memd_client_t *self, Memd__V1__Request *req, const char *op, Memd__V1__Reply **out)
{
    if (out)
        *out = NULL;
    Memd__V1__Reply *reply
        = s_expect (self, memd_client_call (self, req, false), MEMD__V1__REPLY__RESULT_JOB, op);
    if (!reply)
        return -1;
    if (out)
        *out = reply;
    else
        memd_client_reply_free (&reply);
    return 0;
}

int
memd_client_job_complete (memd_client_t *self, uint64_t id, uint64_t fence,
                          Memd__V1__Reply **job_out)
{
    assert (self);
    Memd__V1__JobComplete complete = MEMD__V1__JOB_COMPLETE__INIT;
    complete.id = id;
    complete.fence = fence;
    Memd__V1__Request req = MEMD__V1__REQUEST__INIT;
    req.op_case = MEMD__V1__REQUEST__OP_JOB_COMPLETE;
    req.job_complete = &complete;
    return s_job_call (self, &req, "Complete", job_out);
}

int
memd_client_job_fail (memd_client_t *self, uint64_t id, uint64_t fence, bool fatal,
                      const char *error, int64_t retry_after_ms, Memd__V1__Reply **job_out)
{
    assert (self);
    Memd__V1__JobFail fail = MEMD__V1__JOB_FAIL__INIT;
    fail.id = id;
    fail.fence = fence;
    fail.fatal = fatal;
    if (error)
        fail.error = (char *) error;
    fail.retry_after_ms = retry_after_ms;
    Memd__V1__Request req = MEMD__V1__REQUEST__INIT;
    req.op_case = MEMD__V1__REQUEST__OP_JOB_FAIL;
    req.job_fail = &fail;
    return s_job_call (self, &req, "Fail", job_out);
}

int
memd_client_job_extend (memd_client_t *self, uint64_t id, uint64_t fence, int64_t lease_ms,
                        Memd__V1__Reply **job_out)
{
    assert (self);
    Memd__V1__JobExtend extend = MEMD__V1__JOB_EXTEND__INIT;
    extend.id = id;
    extend.fence = fence;
    extend.lease_ms = lease_ms;
    Memd__V1__Request req = MEMD__V1__REQUEST__INIT;
    req.op_case = MEMD__V1__REQUEST__OP_JOB_EXTEND;
    req.job_extend = &extend;
    return s_job_call (self, &req, "Extend", job_out);
}

//  Retry or Purge; all dead letters (n == 0) take as many steps as memd asks.
static int
s_job_bulk (memd_client_t *self, bool retry, const uint64_t *ids, size_t n, const char *kind,
            uint64_t *count)
{
    assert (self);
    assert (ids || n == 0);
    if (count)
        *count = 0;
    Memd__V1__JobRetry r = MEMD__V1__JOB_RETRY__INIT;
    Memd__V1__JobPurge p = MEMD__V1__JOB_PURGE__INIT;
    r.ids = p.ids = (uint64_t *) ids;
    r.n_ids = p.n_ids = n;
    if (kind)
        r.kind = p.kind = (char *) kind;
    Memd__V1__Request req = MEMD__V1__REQUEST__INIT;
    req.op_case = retry ? MEMD__V1__REQUEST__OP_JOB_RETRY : MEMD__V1__REQUEST__OP_JOB_PURGE;
    if (retry)
        req.job_retry = &r;
    else
        req.job_purge = &p;
    int expected = retry ? MEMD__V1__REPLY__RESULT_JOB_RETRY : MEMD__V1__REPLY__RESULT_JOB_PURGE;
    while (true) {
        Memd__V1__Reply *reply = memd_client_call (self, &req, true);
        if (!reply)
            return -1;
        if ((int) reply->result_case != expected) {
            int failed = self->code != MEMD__V1__CODE__OK;
            memd_client_reply_free (&reply);
            if (!failed)
                s_set_error (self, MEMD__V1__CODE__INTERNAL,
                             "memd's reply to %s carries no result", retry ? "Retry" : "Purge");
            return -1;
        }
        uint64_t done = retry ? reply->job_retry->retried : reply->job_purge->purged;
        bool more = retry ? reply->job_retry->more : reply->job_purge->more;
        if (count)
            *count += done;
        memd_client_reply_free (&reply);
        if (self->code != MEMD__V1__CODE__OK)
            return -1;
        //  Stop when memd has no more, or a step made no progress (every
        //  remaining dead letter refused a retry).
        if (n || !more || done == 0)
            return 0;
    }
}

int
memd_client_job_retry (memd_client_t *self, const uint64_t *ids, size_t n, const char *kind,
                       uint64_t *count)
{
    return s_job_bulk (self, true, ids, n, kind, count);
}

int
memd_client_job_purge (memd_client_t *self, const uint64_t *ids, size_t n, const char *kind,
                       uint64_t *count)
{
    return s_job_bulk (self, false, ids, n, kind, count);
}

Memd__V1__Reply *
memd_client_job_list (memd_client_t *self, const Memd__V1__JobList *query)
{
    assert (self);
    assert (query);
    Memd__V1__Request req = MEMD__V1__REQUEST__INIT;
    req.op_case = MEMD__V1__REQUEST__OP_JOB_LIST;
    req.job_list = (Memd__V1__JobList *) query;
    return s_expect (self, memd_client_call (self, &req, false),
                     MEMD__V1__REPLY__RESULT_JOB_LIST, "JobList");
}

Memd__V1__Reply *
memd_client_job_stats (memd_client_t *self)
{
    assert (self);
    Memd__V1__JobStatsRequest stats = MEMD__V1__JOB_STATS_REQUEST__INIT;
    Memd__V1__Request req = MEMD__V1__REQUEST__INIT;
    req.op_case = MEMD__V1__REQUEST__OP_JOB_STATS;
    req.job_stats = &stats;
    return s_expect (self, memd_client_call (self, &req, false),
                     MEMD__V1__REPLY__RESULT_JOB_STATS, "JobStats");
}
