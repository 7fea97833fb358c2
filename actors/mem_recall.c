/*  mem_recall — one worker of the read pool (DESIGN §2).

    Serves Recall, Get, Verify, Neighbors and Community (mem_graph_api)
    from LMDB read transactions; never writes. Each
    worker tells the frontend it is READY, and then every reply it sends
    means it is free again, so the frontend hands work only to idle workers
    and a slow query never holds up the next one.

    Filters (session, kind, time, tags) are checked only for records whose
    score would put them in the top k, from the small docmeta entry (tags
    need the record itself). Agents are a hard boundary: the index is keyed
    by agent, so another agent's records are never even read.
*/
#include "mem_actors.h"
#include "mem_log.h"
#include "mem_records.h"
#include "mem_verify.h"
#include "mem_graph_recall.h"

#define DEFAULT_K 10

typedef struct {
    zsock_t *pipe;
    zsock_t *frontend;        //  DEALER to the frontend's recall ROUTER
    zpoller_t *poller;
    mem_context_t *ctx;
    mem_reader_t reader;
    mem_hit_t *hits;
    size_t hits_cap;
    bool terminated;
} self_t;

typedef struct {
    self_t *self;
    const Memd__V1__Recall *query;
    uint64_t session_hash;    //  0: any session
} s_filter_t;

static bool
s_has_tag (const Memd__V1__Record *rec, const char *tag)
{
    for (size_t i = 0; i < rec->n_tags; i++)
        if (streq (rec->tags[i], tag))
            return true;
    return false;
}

//  Checks what docmeta cannot: the exact session and the tags.
static bool
s_record_matches (const Memd__V1__Record *rec, const Memd__V1__Recall *q)
{
    if (q->session_id && *q->session_id && !streq (rec->session_id, q->session_id))
        return false;
    for (size_t i = 0; i < q->n_tags; i++)
        if (!s_has_tag (rec, q->tags[i]))
            return false;
    return true;
}

//  True when the record passes every filter of the query.
static bool
s_filter (uint64_t id, void *arg)
{
    s_filter_t *filter = arg;
    const Memd__V1__Recall *q = filter->query;
    mem_docmeta_t meta;
    if (mem_records_docmeta (filter->self->ctx->store, filter->self->reader.txn, id, &meta))
        return false;
    if (meta.flags & MEM_DOC_TOMBSTONED)
        return false;
    if (q->kind && meta.kind != (uint8_t) q->kind)
        return false;
    if (filter->session_hash && meta.session_hash != filter->session_hash)
        return false;
    if (q->since_ms && meta.created_at_ms < q->since_ms)
        return false;
    if (q->until_ms && meta.created_at_ms >= q->until_ms)
        return false;
    if (!filter->session_hash && q->n_tags == 0)
        return true;
    //  The exact session (the hash only narrowed it) and the tags need the record.
    Memd__V1__Record *rec;
    if (mem_records_get (filter->self->ctx->store, filter->self->reader.txn, meta.agent, id, &rec))
        return false;
    bool matches = s_record_matches (rec, q);
    memd__v1__record__free_unpacked (rec, NULL);
    return matches;
}

static zframe_t *
s_recall (self_t *self, const Memd__V1__Request *req)
{
    const Memd__V1__Recall *q = req->recall;
    mem_store_t *store = self->ctx->store;
    if (!q->query || !*q->query)
        return mem_codec_error_reply (req->request_id, MEM_INVALID_ARGUMENT, "query is empty");
    unsigned want = q->k ? q->k : DEFAULT_K;
    if (want > self->hits_cap) {
        mem_hit_t *hits = realloc (self->hits, want * sizeof *hits);
        if (!hits)
            return mem_codec_error_reply (req->request_id, MEM_RESOURCE_EXHAUSTED,
                                          "out of memory for %u hits", want);
        self->hits = hits;
        self->hits_cap = want;
    }
    Memd__V1__RecallResult result = MEMD__V1__RECALL_RESULT__INIT;
    Memd__V1__Hit hit_msgs[want];
    Memd__V1__Hit *hit_ptrs[want];
    Memd__V1__Record *records[want];
    char *explains[want];
    size_t n_out = 0;
    uint32_t agent;
    int rc = mem_agents_lookup (store, self->reader.txn, req->agent_id, false, &agent);
    if (rc == 0) {
        bool filtered = q->kind || (q->session_id && *q->session_id) || q->since_ms || q->until_ms
                     || q->n_tags;
        s_filter_t filter = {self, q,
                             q->session_id && *q->session_id
                                 ? mem_hash64 (q->session_id, strlen (q->session_id))
                                 : 0};
        unsigned n_hits = 0;
        rc = mem_index_search (store, self->reader.txn, agent, q->query, strlen (q->query), want,
                               filtered ? s_filter : NULL, &filter, self->hits, &n_hits);
        bool graph = q->graph == MEMD__V1__RECALL_GRAPH__RECALL_GRAPH_ON
                  || (q->graph == MEMD__V1__RECALL_GRAPH__RECALL_GRAPH_DEFAULT
                      && self->ctx->recall_graph);
        if (!rc && graph)   //  one hop along the memory graph (docs/graph.md)
            rc = mem_graph_recall (store, self->reader.txn, agent, q->graph_diversify,
                                   filtered ? s_filter : NULL, &filter, self->hits, &n_hits, want);
        for (unsigned i = 0; i < n_hits && !rc; i++) {
            Memd__V1__Record *rec;
            rc = mem_records_get (store, self->reader.txn, agent, self->hits[i].id, &rec);
            if (rc == MDB_NOTFOUND) {
                rc = 0;   //  postings without a live record: verify will report it
                continue;
            }
            if (rc)
                break;
            memd__v1__hit__init (&hit_msgs[n_out]);
            hit_msgs[n_out].record = rec;
            hit_msgs[n_out].score = self->hits[i].score;
            explains[n_out] = NULL;
            if (q->explain) {
                explains[n_out] = malloc (1024);
                if (explains[n_out]
                    && mem_index_explain (store, self->reader.txn, agent, q->query,
                                          strlen (q->query), rec->id, explains[n_out], 1024)
                           == 0)
                    hit_msgs[n_out].explain = explains[n_out];
            }
            records[n_out] = rec;
            hit_ptrs[n_out] = &hit_msgs[n_out];
            n_out++;
        }
    }
    else if (rc == MDB_NOTFOUND)
        rc = 0;   //  an agent with no records yet: no hits
    zframe_t *reply;
    if (rc)
        reply = mem_codec_error_reply (req->request_id, mem_code_from_store (rc),
                                       "recall failed: %s", mdb_strerror (rc));
    else {
        result.hits = hit_ptrs;
        result.n_hits = n_out;
        Memd__V1__Status status = MEMD__V1__STATUS__INIT;
        Memd__V1__Reply msg = MEMD__V1__REPLY__INIT;
        msg.request_id = req->request_id;
        msg.status = &status;
        msg.result_case = MEMD__V1__REPLY__RESULT_RECALL;
        msg.recall = &result;
        reply = mem_codec_pack (&msg.base);
    }
    for (size_t i = 0; i < n_out; i++) {
        memd__v1__record__free_unpacked (records[i], NULL);
        free (explains[i]);
    }
    return reply;
}

static zframe_t *
s_get (self_t *self, const Memd__V1__Request *req)
{
    const Memd__V1__Get *get = req->get;
    mem_store_t *store = self->ctx->store;
    Memd__V1__Record **records = calloc (get->n_ids, sizeof *records);
    uint64_t *missing = calloc (get->n_ids, sizeof *missing);
    if (!records || !missing) {
        free (records);
        free (missing);
        return mem_codec_error_reply (req->request_id, MEM_RESOURCE_EXHAUSTED, "out of memory");
    }
    Memd__V1__GetResult result = MEMD__V1__GET_RESULT__INIT;
    uint32_t agent;
    int rc = mem_agents_lookup (store, self->reader.txn, req->agent_id, false, &agent);
    bool known_agent = rc == 0;
    if (rc == MDB_NOTFOUND)
        rc = 0;
    for (size_t i = 0; i < get->n_ids && !rc; i++) {
        rc = known_agent ? mem_records_get (store, self->reader.txn, agent, get->ids[i],
                                            &records[result.n_records])
                         : MDB_NOTFOUND;
        if (rc == 0)
            result.n_records++;
        else if (rc == MDB_NOTFOUND) {
            missing[result.n_missing++] = get->ids[i];
            rc = 0;
        }
    }
    zframe_t *reply;
    if (rc)
        reply = mem_codec_error_reply (req->request_id, mem_code_from_store (rc),
                                       "get failed: %s", mdb_strerror (rc));
    else {
        char message[128] = "";
        Memd__V1__Status status = MEMD__V1__STATUS__INIT;
        if (result.n_missing) {
            status.code = MEM_NOT_FOUND;
            snprintf (message, sizeof message, "%zu of %zu records not found for agent %s",
                      result.n_missing, get->n_ids, req->agent_id);
        }
        status.message = message;
        result.records = records;
        result.missing = missing;
        Memd__V1__Reply msg = MEMD__V1__REPLY__INIT;
        msg.request_id = req->request_id;
        msg.status = &status;
        msg.result_case = MEMD__V1__REPLY__RESULT_GET;
        msg.get = &result;
        reply = mem_codec_pack (&msg.base);
    }
    for (size_t i = 0; i < result.n_records; i++)
        memd__v1__record__free_unpacked (records[i], NULL);
    free (records);
    free (missing);
    return reply;
}

//  Verify: the whole store in this worker's read transaction.
static zframe_t *
s_verify (self_t *self, const Memd__V1__Request *req)
{
    mem_verify_report_t report;
    int rc = mem_verify (self->ctx->store, self->reader.txn, &report);
    zframe_t *reply;
    if (rc)
        reply = mem_codec_error_reply (req->request_id, mem_code_from_store (rc),
                                       "verify could not read the store: %s", mdb_strerror (rc));
    else {
        Memd__V1__VerifyResult result = MEMD__V1__VERIFY_RESULT__INIT;
        result.ok = report.problem_count == 0;
        result.records = report.records;
        result.problem_count = report.problem_count;
        result.problems = report.problems;
        result.n_problems = report.n_problems;
        char message[96] = "";
        Memd__V1__Status status = MEMD__V1__STATUS__INIT;
        if (report.problem_count) {
            status.code = MEM_INTERNAL;
            snprintf (message, sizeof message, "the store has %llu inconsistencies",
                      (unsigned long long) report.problem_count);
        }
        status.message = message;
        Memd__V1__Reply msg = MEMD__V1__REPLY__INIT;
        msg.request_id = req->request_id;
        msg.status = &status;
        msg.result_case = MEMD__V1__REPLY__RESULT_VERIFY;
        msg.verify = &result;
        reply = mem_codec_pack (&msg.base);
    }
    mem_verify_report_clear (&report);
    return reply;
}

//  [identity][request bytes] → [identity][reply bytes]
static void
s_self_handle_frontend (self_t *self)
{
    zmsg_t *msg = zmsg_recv (self->frontend);
    if (!msg)
        return;
    zframe_t *identity = zmsg_pop (msg);
    zframe_t *bytes = zmsg_pop (msg);
    zmsg_destroy (&msg);
    Memd__V1__Request *req
        = bytes ? mem_codec_request_decode (zframe_data (bytes), zframe_size (bytes)) : NULL;
    zframe_destroy (&bytes);
    zframe_t *reply;
    int rc;
    if (!req)
        reply = mem_codec_error_reply (0, MEM_INTERNAL, "recall: request did not decode");
    else if ((rc = mem_reader_begin (&self->reader)))
        reply = mem_codec_error_reply (req->request_id, mem_code_from_store (rc),
                                       "cannot read the store: %s", mdb_strerror (rc));
    else {
        if (req->op_case == MEMD__V1__REQUEST__OP_RECALL)
            reply = s_recall (self, req);
        else if (req->op_case == MEMD__V1__REQUEST__OP_GET)
            reply = s_get (self, req);
        else if (req->op_case == MEMD__V1__REQUEST__OP_VERIFY)
            reply = s_verify (self, req);
        else if (req->op_case == MEMD__V1__REQUEST__OP_NEIGHBORS)
            reply = mem_graph_neighbors_reply (self->ctx, self->reader.txn, req);
        else if (req->op_case == MEMD__V1__REQUEST__OP_COMMUNITY)
            reply = mem_graph_community_reply (self->ctx, self->reader.txn, req);
        else
            reply = mem_codec_error_reply (req->request_id, MEM_INTERNAL,
                                           "recall: operation %d is not mine", req->op_case);
        mem_reader_end (&self->reader);
    }
    if (req)
        memd__v1__request__free_unpacked (req, NULL);
    zmsg_t *out = zmsg_new ();
    zmsg_append (out, &identity);
    if (reply)
        zmsg_append (out, &reply);
    else
        zmsg_addmem (out, NULL, 0);
    zmsg_send (&out, self->frontend);
}

void
mem_recall_actor (zsock_t *pipe, void *args)
{
    self_t *self = calloc (1, sizeof *self);
    self->pipe = pipe;
    self->ctx = args;
    mem_reader_init (&self->reader, self->ctx->store);
    zsock_signal (pipe, 0);

    char *command = zstr_recv (pipe);
    bool started = false;
    if (command && streq (command, "START")) {
        self->frontend = zsock_new (ZMQ_DEALER);
        if (self->frontend) {
            zsock_set_sndhwm (self->frontend, 0);
            zsock_set_rcvhwm (self->frontend, 0);
            started = zsock_connect (self->frontend, MEM_INPROC_RECALL) == 0;
        }
    }
    zstr_free (&command);
    zstr_send (pipe, started ? "OK" : "recall: cannot connect " MEM_INPROC_RECALL);
    if (started) {
        self->poller = zpoller_new (self->pipe, self->frontend, NULL);
        zstr_send (self->frontend, "READY");
    }
    while (started && !self->terminated) {
        void *which = zpoller_wait (self->poller, -1);
        if (which == self->pipe) {
            char *cmd = zstr_recv (self->pipe);
            self->terminated = !cmd || streq (cmd, "$TERM");
            zstr_free (&cmd);
        }
        else if (which == self->frontend)
            s_self_handle_frontend (self);
        else if (zpoller_terminated (self->poller))
            break;
    }
    mem_reader_close (&self->reader);
    zpoller_destroy (&self->poller);
    zsock_destroy (&self->frontend);
    free (self->hits);
    free (self);
}
