/*  test_badinput — hostile and broken requests against a real memd.

        test_badinput ENDPOINT

    Each case sends something wrong over ipc and expects an error reply with
    the right code, then checks memd still serves a ping. Raw sockets are
    used where the client library would refuse to send such a thing. */
#include <czmq.h>
#include "mem_codec.h"
#include "memd_client.h"
#include "test_check.h"

static const char *s_endpoint;

//  Sends frames on a fresh DEALER; returns the decoded reply (or NULL on
//  timeout / undecodable reply). The reply's delimiter frame is checked.
static Memd__V1__Reply *
s_raw (zmsg_t *msg)
{
    zsock_t *dealer = zsock_new_dealer (s_endpoint);
    assert (dealer);
    zsock_set_rcvtimeo (dealer, 3000);
    zmsg_send (&msg, dealer);
    zmsg_t *reply = zmsg_recv (dealer);
    zsock_destroy (&dealer);
    if (!reply)
        return NULL;
    Memd__V1__Reply *decoded = NULL;
    zframe_t *delimiter = zmsg_pop (reply);
    zframe_t *body = zmsg_pop (reply);
    if (delimiter && zframe_size (delimiter) == 0 && body)
        decoded = memd__v1__reply__unpack (NULL, zframe_size (body), zframe_data (body));
    zframe_destroy (&delimiter);
    zframe_destroy (&body);
    zmsg_destroy (&reply);
    return decoded;
}

//  [empty][payload]
static Memd__V1__Reply *
s_send_payload (const void *data, size_t size)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addmem (msg, NULL, 0);
    zmsg_addmem (msg, data, size);
    return s_raw (msg);
}

static Memd__V1__Reply *
s_send_request (Memd__V1__Request *req)
{
    zframe_t *frame = mem_codec_pack (&req->base);
    Memd__V1__Reply *reply = s_send_payload (zframe_data (frame), zframe_size (frame));
    zframe_destroy (&frame);
    return reply;
}

static void
s_expect (const char *what, Memd__V1__Reply *reply, int code, const char *needle)
{
    CHECK (reply, "%s: no reply", what);
    if (!reply)
        return;
    CHECK (reply->status && (int) reply->status->code == code, "%s: code %s, expected %s (%s)",
           what, reply->status ? mem_code_name (reply->status->code) : "none",
           mem_code_name (code), reply->status ? reply->status->message : "");
    if (needle && reply->status)
        CHECK (strstr (reply->status->message, needle), "%s: message '%s' lacks '%s'", what,
               reply->status->message, needle);
    printf ("ok  %-34s -> %s: %s\n", what, mem_code_name (reply->status->code),
            reply->status->message);
    memd__v1__reply__free_unpacked (reply, NULL);
}

static void
s_still_serving (const char *after)
{
    memd_client_t *client = memd_client_new (s_endpoint, 3000);
    CHECK (memd_client_ping (client) == 0, "memd stopped serving after %s: %s", after,
           memd_client_error (client));
    memd_client_destroy (&client);
}

static Memd__V1__Request *
s_capture_request (Memd__V1__Capture *cap, Memd__V1__Record **recs, size_t n)
{
    static Memd__V1__Request req;
    memd__v1__request__init (&req);
    memd__v1__capture__init (cap);
    cap->records = recs;
    cap->n_records = n;
    req.agent_id = "badinput";
    req.protocol_version = 1;
    req.request_id = 77;
    req.op_case = MEMD__V1__REQUEST__OP_CAPTURE;
    req.capture = cap;
    return &req;
}

int
main (int argc, char *argv[])
{
    if (argc != 2) {
        fprintf (stderr, "usage: test_badinput ENDPOINT\n");
        return 2;
    }
    s_endpoint = argv[1];
    zsys_init ();

    //  Random bytes, many times: each gets INVALID_ARGUMENT.
    uint64_t seed = 12345;
    for (int round = 0; round < 200; round++) {
        uint8_t junk[64];
        size_t size = 1 + round % 64;
        for (size_t i = 0; i < size; i++) {
            seed = seed * 6364136223846793005ull + 1;
            junk[i] = (uint8_t) (seed >> 56);
        }
        Memd__V1__Reply *reply = s_send_payload (junk, size);
        CHECK (reply, "random bytes round %d: no reply", round);
        if (reply) {
            //  Random bytes can decode as a valid empty-ish Request: then it has
            //  no operation, or unknown fields only; never OK with a result.
            CHECK (reply->status && reply->status->code != MEM_OK,
                   "random bytes round %d answered OK", round);
            memd__v1__reply__free_unpacked (reply, NULL);
        }
    }
    printf ("ok  200 random payloads                  -> errors\n");
    s_expect ("random bytes", s_send_payload ("\xff\xfe\xfd\xfc\x01\x02", 6),
              MEM_INVALID_ARGUMENT, "does not decode");
    s_still_serving ("random bytes");

    //  An empty payload frame: decodes as a request with no operation.
    s_expect ("empty frame", s_send_payload ("", 0), MEM_INVALID_ARGUMENT, "no operation");

    //  No delimiter (a DEALER that forgot it) and extra frames.
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "hello");
    s_expect ("missing delimiter", s_raw (msg), MEM_INVALID_ARGUMENT, "malformed envelope");
    msg = zmsg_new ();
    zmsg_addmem (msg, NULL, 0);
    zmsg_addstr (msg, "one");
    zmsg_addstr (msg, "two");
    s_expect ("extra frames", s_raw (msg), MEM_INVALID_ARGUMENT, "extra frames");
    s_still_serving ("framing errors");

    //  A valid envelope with no operation.
    Memd__V1__Request req = MEMD__V1__REQUEST__INIT;
    req.request_id = 5;
    req.agent_id = "badinput";
    Memd__V1__Reply *reply = s_send_request (&req);
    CHECK (reply && reply->request_id == 5, "no-op: request_id not echoed");
    s_expect ("no operation", reply, MEM_INVALID_ARGUMENT, "no operation");

    //  Empty text, invalid UTF-8, no agent, unknown kind.
    Memd__V1__Record rec = MEMD__V1__RECORD__INIT;
    Memd__V1__Record *recs[] = {&rec};
    Memd__V1__Capture cap;
    rec.text = "";
    s_expect ("empty text", s_send_request (s_capture_request (&cap, recs, 1)),
              MEM_INVALID_ARGUMENT, "text is empty");
    rec.text = "caf\xc3\x28 latte";
    s_expect ("invalid UTF-8 text", s_send_request (s_capture_request (&cap, recs, 1)),
              MEM_INVALID_ARGUMENT, "UTF-8");
    rec.text = "fine";
    rec.session_id = "\xed\xa0\x80";
    s_expect ("invalid UTF-8 session", s_send_request (s_capture_request (&cap, recs, 1)),
              MEM_INVALID_ARGUMENT, "UTF-8");
    rec.session_id = NULL;
    rec.kind = 99;
    s_expect ("unknown kind", s_send_request (s_capture_request (&cap, recs, 1)),
              MEM_INVALID_ARGUMENT, "kind");
    rec.kind = 0;
    Memd__V1__Request *noagent = s_capture_request (&cap, recs, 1);
    noagent->agent_id = "";
    s_expect ("no agent", s_send_request (noagent), MEM_INVALID_ARGUMENT, "agent_id");

    //  Ids longer than 256 bytes (they are LMDB key parts) are refused; ids of
    //  exactly 256 bytes are stored and found again.
    char long_id[302];
    memset (long_id, 'x', 301);
    long_id[301] = 0;
    rec.session_id = long_id;
    s_expect ("session id over 256 bytes", s_send_request (s_capture_request (&cap, recs, 1)),
              MEM_TOO_LARGE, "session_id");
    rec.session_id = NULL;
    Memd__V1__Request *long_agent = s_capture_request (&cap, recs, 1);
    long_agent->agent_id = long_id;
    s_expect ("agent id over 256 bytes", s_send_request (long_agent), MEM_TOO_LARGE, "agent_id");
    long_id[256] = 0;
    memd_client_t *client = memd_client_new (s_endpoint, 3000);
    uint64_t long_ok;
    CHECK (memd_client_capture_text (client, long_id, long_id, "a record with 256-byte ids",
                                     &long_ok)
               == 0,
           "256-byte agent and session ids: %s", memd_client_error (client));
    Memd__V1__Recall by_session = MEMD__V1__RECALL__INIT;
    by_session.query = "record";
    by_session.session_id = long_id;
    Memd__V1__Reply *found = memd_client_recall (client, long_id, &by_session);
    CHECK (found && found->recall->n_hits == 1 && found->recall->hits[0]->record->id == long_ok,
           "the record with 256-byte ids is not recalled by its session");
    memd_client_reply_free (&found);
    memd_client_destroy (&client);
    printf ("ok  256-byte agent and session ids      -> stored and recalled\n");

    //  A batch over the batch limit (default 10,000 records).
    size_t big = 10001;
    Memd__V1__Record **many = malloc (big * sizeof *many);
    for (size_t i = 0; i < big; i++)
        many[i] = &rec;
    s_expect ("batch over the limit", s_send_request (s_capture_request (&cap, many, big)),
              MEM_TOO_LARGE, "batch limit");
    free (many);

    //  A message over the size limit gets TOO_LARGE; one past four times the
    //  limit is cut off by ZMQ_MAXMSGSIZE (no reply); memd keeps serving.
    size_t over = (16u << 20) + 1024;
    char *huge = malloc ((size_t) (64u << 20) + 1024);
    memset (huge, 'x', (size_t) (64u << 20) + 1024);
    s_expect ("message over 16 MiB", s_send_payload (huge, over), MEM_TOO_LARGE,
              "over the limit of 16777216 bytes");
    msg = zmsg_new ();
    zmsg_addmem (msg, NULL, 0);
    zmsg_addmem (msg, huge, (size_t) (64u << 20) + 1024);
    free (huge);
    reply = s_raw (msg);
    CHECK (reply == NULL, "a message over 64 MiB got a reply (should be cut off)");
    if (reply)
        memd__v1__reply__free_unpacked (reply, NULL);
    printf ("ok  message over 64 MiB                 -> connection dropped, no reply\n");
    s_still_serving ("oversized messages");

    //  Recall with an empty query, k over the limit; get/forget with nothing.
    Memd__V1__Recall recall = MEMD__V1__RECALL__INIT;
    memd__v1__request__init (&req);
    req.agent_id = "badinput";
    req.op_case = MEMD__V1__REQUEST__OP_RECALL;
    req.recall = &recall;
    recall.query = "";
    s_expect ("empty query", s_send_request (&req), MEM_INVALID_ARGUMENT, "query is empty");
    recall.query = "x";
    recall.k = 100000;
    s_expect ("k over the limit", s_send_request (&req), MEM_INVALID_ARGUMENT, "k =");
    Memd__V1__Get get = MEMD__V1__GET__INIT;
    req.op_case = MEMD__V1__REQUEST__OP_GET;
    req.get = &get;
    s_expect ("get without ids", s_send_request (&req), MEM_INVALID_ARGUMENT, "at least one");
    uint64_t ids[] = {999999};
    get.ids = ids;
    get.n_ids = 1;
    s_expect ("get unknown id", s_send_request (&req), MEM_NOT_FOUND, "not found");
    Memd__V1__Forget forget = MEMD__V1__FORGET__INIT;
    req.op_case = MEMD__V1__REQUEST__OP_FORGET;
    req.forget = &forget;
    s_expect ("forget without ids", s_send_request (&req), MEM_INVALID_ARGUMENT, "ids or a");
    forget.ids = ids;
    forget.n_ids = 1;
    s_expect ("forget unknown id", s_send_request (&req), MEM_NOT_FOUND, "not found");

    s_still_serving ("all bad input");
    zsys_shutdown ();
    if (s_failures) {
        printf ("%d check(s) failed\n", s_failures);
        return 1;
    }
    printf ("all bad-input checks passed\n");
    return 0;
}
