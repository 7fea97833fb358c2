/*  mem_zap — who may talk to memd (DESIGN §11): the ZAP handler and the
    hardening of memd's public sockets.

    The handler is an actor bound at inproc://zeromq.zap.01 (ZeroMQ's ZAP
    endpoint, RFC 27) before any public socket binds. Every connection to
    a socket with a ZAP domain is put to it before the peer may send a
    message. For ipc, libzmq (built with SO_PEERCRED, as Debian's is) puts
    the peer's credentials at the end of the request's address field,
    "…:uid:gid:pid"; the handler accepts memd's own uid and the uids of
    api/allow_uids, and refuses everything else, including a peer whose
    credentials are missing. tcp peers carry no credentials: they are
    accepted only when api/allow_tcp says so (memd refuses to bind tcp
    otherwise). The sockets set ZMQ_ZAP_ENFORCE_DOMAIN, so a connection
    that finds no handler fails closed.

    mem_zap_secure also sets ZMQ_IPC_FILTER_UID (a second layer: the
    kernel's accept path refuses other uids before ZAP sees them; libzmq
    marks it deprecated but 4.3 has it) and attaches a socket monitor that
    reports refused connections, which the frontend counts in status.
*/
#include "mem_actors.h"
#include "mem_log.h"
#include <errno.h>

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93   //  a DRAFT option in libzmq 4.3's zmq.h
#endif
#define LOG_EVERY_MS 10000          //  at most one "refused" line per this, with a count

typedef struct {
    zsock_t *pipe;
    zsock_t *handler;          //  REP at ZAP_ENDPOINT
    zpoller_t *poller;
    mem_context_t *ctx;
    uint64_t refused, unlogged;
    int64_t logged_ms;         //  monotonic time of the last log line
    bool terminated;
} self_t;

int
mem_zap_peer_uid (const char *address, uint32_t *uid, uint32_t *pid)
{
    //  The last three ':'-separated fields are decimal uid, gid and pid.
    const char *end = address + strlen (address);
    const char *fields[3];
    const char *p = end;
    for (int i = 2; i >= 0; i--) {
        while (p > address && p[-1] != ':')
            p--;
        if (p == address)
            return -1;   //  no ':' before this field: not credentials
        fields[i] = p;
        p--;              //  onto the ':'
    }
    uint64_t values[3];
    for (int i = 0; i < 3; i++) {
        const char *stop = i < 2 ? fields[i + 1] - 1 : end;
        if (stop == fields[i] || stop - fields[i] > 10)
            return -1;
        uint64_t v = 0;
        for (const char *c = fields[i]; c < stop; c++) {
            if (*c < '0' || *c > '9')
                return -1;
            v = v * 10 + (uint64_t) (*c - '0');
        }
        if (v > UINT32_MAX)
            return -1;
        values[i] = v;
    }
    *uid = (uint32_t) values[0];
    if (pid)
        *pid = (uint32_t) values[2];
    return 0;
}

bool
mem_zap_uid_allowed (const mem_context_t *ctx, uint32_t uid)
{
    if (uid == (uint32_t) geteuid ())
        return true;
    for (size_t i = 0; i < ctx->n_allow_uids; i++)
        if (ctx->allow_uids[i] == uid)
            return true;
    return false;
}

//  One refusal: counted, and logged at most once per LOG_EVERY_MS.
static void
s_refused (self_t *self, const char *domain, const char *why)
{
    self->refused++;
    self->unlogged++;
    int64_t now = mem_mono_ms ();
    if (self->logged_ms && now - self->logged_ms < LOG_EVERY_MS)
        return;
    if (self->unlogged > 1)
        mem_log_warn ("zap: refused a connection on %s: %s (and %llu more since the last report)",
                      domain, why, (unsigned long long) (self->unlogged - 1));
    else
        mem_log_warn ("zap: refused a connection on %s: %s", domain, why);
    self->unlogged = 0;
    self->logged_ms = now;
}

//  [version][request id][domain][address][routing id][mechanism][credentials…]
//  → [version][request id][status code][status text][user id][metadata]
static void
s_self_handle_request (self_t *self)
{
    zmsg_t *msg = zmsg_recv (self->handler);
    if (!msg)
        return;
    char *version = zmsg_popstr (msg);
    zframe_t *request_id = zmsg_pop (msg);
    char *domain = zmsg_popstr (msg);
    char *address = zmsg_popstr (msg);
    zframe_t *routing_id = zmsg_pop (msg);
    char *mechanism = zmsg_popstr (msg);
    zmsg_destroy (&msg);

    char why[160] = "";
    char user[32] = "";
    uint32_t uid = 0, pid = 0;
    if (!version || !streq (version, "1.0") || !request_id || !domain || !address || !mechanism)
        snprintf (why, sizeof why, "malformed ZAP request");
    else if (!streq (mechanism, "NULL"))
        snprintf (why, sizeof why, "mechanism %.32s is not offered", mechanism);
    else if (streq (domain, MEM_ZAP_DOMAIN_IPC)) {
        if (mem_zap_peer_uid (address, &uid, &pid))
            snprintf (why, sizeof why, "no peer credentials (address '%.64s')", address);
        else if (!mem_zap_uid_allowed (self->ctx, uid))
            snprintf (why, sizeof why, "uid %u (pid %u) is not memd's uid %u nor in "
                                       "api/allow_uids", uid, pid, (unsigned) geteuid ());
        else
            snprintf (user, sizeof user, "uid:%u", uid);
    }
    else if (streq (domain, MEM_ZAP_DOMAIN_TCP)) {
        if (self->ctx->allow_tcp)
            snprintf (user, sizeof user, "tcp");
        else
            snprintf (why, sizeof why, "tcp peer %.64s while api/allow_tcp is 0", address);
    }
    else
        snprintf (why, sizeof why, "unknown ZAP domain '%.32s'", domain);

    bool ok = *why == 0;
    if (!ok)
        s_refused (self, domain ? domain : "?", why);
    zmsg_t *reply = zmsg_new ();
    zmsg_addstr (reply, "1.0");
    if (request_id)
        zmsg_append (reply, &request_id);
    else
        zmsg_addmem (reply, NULL, 0);
    zmsg_addstr (reply, ok ? "200" : "400");
    zmsg_addstr (reply, ok ? "OK" : why);
    zmsg_addstr (reply, user);
    zmsg_addmem (reply, NULL, 0);
    zmsg_send (&reply, self->handler);
    zframe_destroy (&request_id);
    zframe_destroy (&routing_id);
    zstr_free (&version);
    zstr_free (&domain);
    zstr_free (&address);
    zstr_free (&mechanism);
}

void
mem_zap_actor (zsock_t *pipe, void *args)
{
    self_t *self = calloc (1, sizeof *self);
    self->pipe = pipe;
    self->ctx = args;
    zsock_signal (pipe, 0);

    char *command = zstr_recv (pipe);
    bool started = false;
    if (command && streq (command, "START")) {
        self->handler = zsock_new (ZMQ_REP);
        started = self->handler && zsock_bind (self->handler, ZAP_ENDPOINT) == 0;
    }
    zstr_free (&command);
    zstr_send (pipe, started ? "OK" : "zap: cannot bind " ZAP_ENDPOINT " (another handler?)");
    if (started)
        self->poller = zpoller_new (self->pipe, self->handler, NULL);
    while (started && !self->terminated) {
        void *which = zpoller_wait (self->poller, -1);
        if (which == self->pipe) {
            char *cmd = zstr_recv (self->pipe);
            self->terminated = !cmd || streq (cmd, "$TERM");
            zstr_free (&cmd);
        }
        else if (which == self->handler)
            s_self_handle_request (self);
        else if (zpoller_terminated (self->poller))
            break;
    }
    if (self->unlogged)
        mem_log_warn ("zap: refused %llu more connection(s) since the last report",
                      (unsigned long long) self->unlogged);
    zpoller_destroy (&self->poller);
    zsock_destroy (&self->handler);
    free (self);
}

//  --------------------------------------------------------------------------
//  Hardening a public socket

int
mem_zap_secure (zsock_t *sock, const char *endpoint, const mem_context_t *ctx,
                const char *monitor, char *err, size_t err_size)
{
    void *handle = zsock_resolve (sock);
    bool ipc = strncmp (endpoint, "ipc://", 6) == 0;
    bool tcp = strncmp (endpoint, "tcp://", 6) == 0;
    if (!ipc && !(tcp && ctx->allow_tcp)) {
        snprintf (err, err_size,
                  "endpoint %s: memd authenticates only ipc peers; a tcp:// endpoint needs "
                  "api/allow_tcp = 1 (and then anyone who can reach it has the store)",
                  endpoint);
        return -1;
    }
    if (tcp)
        mem_log_warn ("%s: tcp peers are not authenticated (api/allow_tcp = 1): anyone who can "
                      "reach this port can read and write every memory",
                      endpoint);
    zsock_set_zap_domain (sock, ipc ? MEM_ZAP_DOMAIN_IPC : MEM_ZAP_DOMAIN_TCP);
    int on = 1;
    if (zmq_setsockopt (handle, ZMQ_ZAP_ENFORCE_DOMAIN, &on, sizeof on))
        mem_log_warn ("this libzmq has no ZMQ_ZAP_ENFORCE_DOMAIN (%s): peers are still checked "
                      "by the ZAP handler, but would not be refused if it were missing",
                      zmq_strerror (zmq_errno ()));
    if (ipc && ctx->ipc_uid_filter) {
        uint32_t uids[MEM_ALLOW_UIDS_MAX + 1];
        size_t n = 0;
        uids[n++] = (uint32_t) geteuid ();
        for (size_t i = 0; i < ctx->n_allow_uids; i++)
            uids[n++] = ctx->allow_uids[i];
        for (size_t i = 0; i < n; i++) {
            int uid = (int) uids[i];
            if (zmq_setsockopt (handle, ZMQ_IPC_FILTER_UID, &uid, sizeof uid)) {
                mem_log_warn ("this libzmq has no ZMQ_IPC_FILTER_UID (%s): the ZAP handler "
                              "alone checks peers' uids",
                              zmq_strerror (zmq_errno ()));
                break;
            }
        }
    }
    if (monitor
        && zmq_socket_monitor (handle, monitor,
                               ZMQ_EVENT_ACCEPT_FAILED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)) {
        snprintf (err, err_size, "cannot monitor %s: %s", endpoint, zmq_strerror (zmq_errno ()));
        return -1;
    }
    return 0;
}

zsock_t *
mem_zap_monitor_new (const char *monitor)
{
    zsock_t *sock = zsock_new (ZMQ_PAIR);
    if (sock && zsock_connect (sock, "%s", monitor)) {
        zsock_destroy (&sock);
        return NULL;
    }
    return sock;
}

uint64_t
mem_zap_monitor_recv (zsock_t *monitor)
{
    //  [event (u16) + value (u32)][endpoint]
    zmsg_t *msg = zmsg_recv (monitor);
    if (!msg)
        return 0;
    zframe_t *frame = zmsg_first (msg);
    uint16_t event = 0;
    if (frame && zframe_size (frame) >= 2)
        memcpy (&event, zframe_data (frame), 2);
    zmsg_destroy (&msg);
    return event == ZMQ_EVENT_ACCEPT_FAILED || event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
}

//  --------------------------------------------------------------------------
//  Selftest

#undef NDEBUG
#include <assert.h>

//  A DEALER on endpoint sends "hi": does sock receive it within timeout_ms?
static bool
s_reaches (zsock_t *sock, const char *endpoint, int timeout_ms)
{
    zsock_t *dealer = zsock_new_dealer (endpoint);
    assert (dealer);
    zstr_send (dealer, "hi");
    zsock_set_rcvtimeo (sock, timeout_ms);
    zmsg_t *msg = zmsg_recv (sock);
    bool got = msg != NULL;
    zmsg_destroy (&msg);
    zsock_destroy (&dealer);
    return got;
}

//  A hand-made ZAP request: the handler's answer's status code.
static char *
s_ask (const char *domain, const char *address, const char *mechanism)
{
    zsock_t *req = zsock_new_req (ZAP_ENDPOINT);
    assert (req);
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "1.0");
    zmsg_addstr (msg, "7");
    zmsg_addstr (msg, domain);
    zmsg_addstr (msg, address);
    zmsg_addstr (msg, "");
    zmsg_addstr (msg, mechanism);
    zmsg_send (&msg, req);
    zsock_set_rcvtimeo (req, 2000);
    zmsg_t *reply = zmsg_recv (req);
    assert (reply && zmsg_size (reply) == 6);
    free (zmsg_popstr (reply));
    char *id = zmsg_popstr (reply);
    assert (streq (id, "7"));
    free (id);
    char *code = zmsg_popstr (reply);
    zmsg_destroy (&reply);
    zsock_destroy (&req);
    return code;
}

void
mem_zap_test (bool verbose)
{
    printf (" * mem_zap: ");
    uint32_t uid, pid;
    assert (mem_zap_peer_uid ("localhost:1000:100:4242", &uid, &pid) == 0);
    assert (uid == 1000 && pid == 4242);
    assert (mem_zap_peer_uid (":0:0:1", &uid, &pid) == 0 && uid == 0 && pid == 1);
    assert (mem_zap_peer_uid ("", &uid, &pid) == -1);
    assert (mem_zap_peer_uid ("localhost", &uid, &pid) == -1);
    assert (mem_zap_peer_uid ("127.0.0.1", &uid, &pid) == -1);
    assert (mem_zap_peer_uid ("a:1:2:", &uid, &pid) == -1);
    assert (mem_zap_peer_uid ("a:1:x:3", &uid, &pid) == -1);
    assert (mem_zap_peer_uid ("a:99999999999:1:3", &uid, &pid) == -1);
    assert (mem_zap_peer_uid ("1:2:3", &uid, &pid) == -1);   //  needs a ':' before the uid

    mem_context_t ctx;
    memset (&ctx, 0, sizeof ctx);
    ctx.allow_uids[ctx.n_allow_uids++] = 4242;
    ctx.ipc_uid_filter = true;
    assert (mem_zap_uid_allowed (&ctx, (uint32_t) geteuid ()));
    assert (mem_zap_uid_allowed (&ctx, 4242));
    assert (!mem_zap_uid_allowed (&ctx, 4243));

    char dir[] = "/tmp/memd-zap-test-XXXXXX";
    assert (mkdtemp (dir));
    char endpoint[128], monitor[] = "inproc://memd-zap-test-monitor";
    snprintf (endpoint, sizeof endpoint, "ipc://%s/s.sock", dir);
    char err[256];

    //  Without a handler, enforcement fails the connection closed.
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    assert (mem_zap_secure (router, endpoint, &ctx, monitor, err, sizeof err) == 0);
    zsock_t *events = mem_zap_monitor_new (monitor);
    assert (events);
    assert (zsock_bind (router, "%s", endpoint) == 0);
    assert (!s_reaches (router, endpoint, 300));
    zsock_destroy (&router);
    zsock_destroy (&events);

    //  With the handler: our own uid gets through.
    zactor_t *zap = mem_actor_start (mem_zap_actor, &ctx, err, sizeof err);
    assert (zap);
    router = zsock_new (ZMQ_ROUTER);
    assert (mem_zap_secure (router, endpoint, &ctx, NULL, err, sizeof err) == 0);
    assert (zsock_bind (router, "%s", endpoint) == 0);
    assert (s_reaches (router, endpoint, 2000));
    zsock_destroy (&router);

    //  The decisions, asked by hand.
    char address[64];
    snprintf (address, sizeof address, "localhost:%u:0:1", (unsigned) geteuid ());
    char *code;
    assert (streq (code = s_ask (MEM_ZAP_DOMAIN_IPC, address, "NULL"), "200"));
    free (code);
    assert (streq (code = s_ask (MEM_ZAP_DOMAIN_IPC, "localhost:4242:0:1", "NULL"), "200"));
    free (code);
    assert (streq (code = s_ask (MEM_ZAP_DOMAIN_IPC, "localhost:4243:0:1", "NULL"), "400"));
    free (code);
    assert (streq (code = s_ask (MEM_ZAP_DOMAIN_IPC, "", "NULL"), "400"));
    free (code);
    assert (streq (code = s_ask (MEM_ZAP_DOMAIN_IPC, address, "PLAIN"), "400"));
    free (code);
    assert (streq (code = s_ask (MEM_ZAP_DOMAIN_TCP, "127.0.0.1", "NULL"), "400"));
    free (code);
    assert (streq (code = s_ask ("other", address, "NULL"), "400"));
    free (code);
    zactor_destroy (&zap);

    //  tcp is refused unless allowed.
    router = zsock_new (ZMQ_ROUTER);
    assert (mem_zap_secure (router, "tcp://127.0.0.1:0", &ctx, NULL, err, sizeof err) == -1);
    assert (strstr (err, "api/allow_tcp"));
    zsock_destroy (&router);

    char cmd[128];
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    assert (system (cmd) == 0);
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
