/*  fault_clients — many client connections at once against a real memd, for
    the file-descriptor exhaustion test (tests/integration/test_fault_fds.sh).

        fault_clients ENDPOINT N WAIT_MS

    1. One client connects first and pings ("old": it must keep working).
    2. N more connect at once, each sends a Ping, and all wait up to WAIT_MS
       together for their replies (ZeroMQ DEALERs polled as one set, so the
       wait does not grow with N).
    3. The old client pings again while the N are still connected.
    4. The N close; new clients ping until one answers (10 s at most).

    Prints one line of key=value pairs for the script to check:
        clients=N answered=A refused=R unanswered=U old_before=1 old_during=1
        recovered_ms=T
    refused counts replies with an error status; unanswered, connections memd
    never served within WAIT_MS (it could not accept them). recovered_ms is
    -1 when no new client was answered. Exit 0 unless the usage is wrong. */
#include <czmq.h>
#include <sys/resource.h>
#include "memd_client.h"

static int64_t
s_mono_ms (void)
{
    return zclock_mono ();
}

//  Sends one Ping on a DEALER as [empty][Request]; 0 or -1.
static int
s_send_ping (void *dealer, uint64_t request_id)
{
    Memd__V1__Ping ping = MEMD__V1__PING__INIT;
    Memd__V1__Request req = MEMD__V1__REQUEST__INIT;
    req.op_case = MEMD__V1__REQUEST__OP_PING;
    req.ping = &ping;
    req.request_id = request_id;
    req.protocol_version = 1;
    uint8_t buf[64];
    size_t size = memd__v1__request__get_packed_size (&req);
    if (size > sizeof buf || memd__v1__request__pack (&req, buf) != size)
        return -1;
    if (zmq_send (dealer, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) != 0)
        return -1;
    return zmq_send (dealer, buf, size, ZMQ_DONTWAIT) == (int) size ? 0 : -1;
}

//  Reads one reply; 1 = OK status, 0 = an error status, -1 = not a reply.
static int
s_recv_reply (void *dealer)
{
    zmq_msg_t part;
    zmq_msg_init (&part);
    int result = -1, parts = 0;
    while (zmq_msg_recv (&part, dealer, ZMQ_DONTWAIT) >= 0) {
        if (++parts == 2) {
            Memd__V1__Reply *reply = memd__v1__reply__unpack (
                NULL, zmq_msg_size (&part), (const uint8_t *) zmq_msg_data (&part));
            if (reply) {
                result = !reply->status || reply->status->code == MEMD__V1__CODE__OK;
                memd__v1__reply__free_unpacked (reply, NULL);
            }
        }
        if (!zmq_msg_more (&part))
            break;
    }
    zmq_msg_close (&part);
    return result;
}

int
main (int argc, char *argv[])
{
    if (argc != 4) {
        fprintf (stderr, "usage: fault_clients ENDPOINT N WAIT_MS\n");
        return 2;
    }
    const char *endpoint = argv[1];
    int n = atoi (argv[2]);
    int wait_ms = atoi (argv[3]);
    if (n < 1 || n > 100000 || wait_ms < 0) {
        fprintf (stderr, "fault_clients: bad N or WAIT_MS\n");
        return 2;
    }
    //  Our own side needs a descriptor per connection too.
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit (RLIMIT_NOFILE, &limit);
    }
    zsys_handler_set (NULL);
    void *ctx = zmq_ctx_new ();
    zmq_ctx_set (ctx, ZMQ_MAX_SOCKETS, n + 64);

    memd_client_t *old = memd_client_new (endpoint, 5000);
    int old_before = old && memd_client_ping (old) == 0;

    void **dealers = calloc ((size_t) n, sizeof *dealers);
    zmq_pollitem_t *items = calloc ((size_t) n, sizeof *items);
    int *state = calloc ((size_t) n, sizeof *state);   //  0 waiting, 1 ok, 2 refused
    int opened = 0;
    for (int i = 0; i < n; i++) {
        void *dealer = zmq_socket (ctx, ZMQ_DEALER);
        if (!dealer)
            break;
        int linger = 0;
        zmq_setsockopt (dealer, ZMQ_LINGER, &linger, sizeof linger);
        if (zmq_connect (dealer, endpoint) || s_send_ping (dealer, 1000 + (uint64_t) i)) {
            zmq_close (dealer);
            break;
        }
        dealers[opened] = dealer;
        items[opened] = (zmq_pollitem_t){dealer, 0, ZMQ_POLLIN, 0};
        opened++;
    }
    int answered = 0, refused = 0, pending = opened;
    int64_t deadline = s_mono_ms () + wait_ms;
    while (pending > 0) {
        int64_t left = deadline - s_mono_ms ();
        if (left <= 0 || zmq_poll (items, opened, (long) left) < 0)
            break;
        for (int i = 0; i < opened; i++) {
            if (state[i] || !(items[i].revents & ZMQ_POLLIN))
                continue;
            int r = s_recv_reply (dealers[i]);
            if (r < 0)
                continue;
            state[i] = r ? 1 : 2;
            items[i].events = 0;
            pending--;
            if (r)
                answered++;
            else
                refused++;
        }
    }
    int old_during = old && memd_client_ping (old) == 0;
    for (int i = 0; i < opened; i++)
        zmq_close (dealers[i]);

    //  Recovery: a fresh connection is served again.
    int64_t t0 = s_mono_ms ();
    long recovered_ms = -1;
    while (s_mono_ms () - t0 < 10000) {
        memd_client_t *fresh = memd_client_new (endpoint, 1000);
        int ok = fresh && memd_client_ping (fresh) == 0;
        memd_client_destroy (&fresh);
        if (ok) {
            recovered_ms = (long) (s_mono_ms () - t0);
            break;
        }
        zclock_sleep (100);
    }
    printf ("clients=%d opened=%d answered=%d refused=%d unanswered=%d old_before=%d "
            "old_during=%d recovered_ms=%ld\n",
            n, opened, answered, refused, opened - answered - refused, old_before, old_during,
            recovered_ms);
    memd_client_destroy (&old);
    free (dealers);
    free (items);
    free (state);
    zmq_ctx_term (ctx);
    return 0;
}
