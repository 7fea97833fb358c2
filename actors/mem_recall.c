/*  mem_recall — one worker of the read pool (DESIGN §2).

    Serves Recall, Context, Get, Verify, Export pages, Neighbors and
    Community (mem_graph_api) from LMDB read transactions; never writes. Each worker tells the frontend it is READY,
    and then every reply it sends means it is free again, so the frontend
    hands work only to idle workers and a slow query never holds up the next
    one.

    Recall and Context rank with mem_search (lexical, vector, recency,
    salience; the graph through its seam); Context then lays the best
    candidates out as a block within a token budget (mem_prompt). The ids
    they return go to the capture actor as recall statistics, which it
    writes when it gets to them: the read path never writes.

    Filters (session, kind, time, tags) are checked only for records whose
    score would put them among the candidates, from the small docmeta entry
    (tags need the record itself). Agents are a hard boundary: the index is
    keyed by agent, so another agent's records are never even read.
*/
#include "mem_actors.h"
#include "mem_log.h"
#include "mem_prompt.h"
#include "mem_records.h"
#include "mem_recstats.h"
#include "mem_search.h"
#include "mem_vectors.h"
#include "mem_verify.h"
#include "mem_export.h"
#include "mem_graph_recall.h"

#define DEFAULT_K 10
#define DEFAULT_CONTEXT_CANDIDATES 50

typedef struct {
    zsock_t *pipe;
    zsock_t *frontend;        //  DEALER to the frontend's recall ROUTER
    zpoller_t *poller;
    mem_context_t *ctx;
    zsock_t *stats;           //  PUSH to the capture actor: recalled ids
    mem_reader_t reader;
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

//  Recall statistics are the writer's (DESIGN §2): the ids go to the
//  capture actor (mem_recstats has the format), best effort.
static void
s_send_stats (self_t *self, const Memd__V1__Recall *q, const uint64_t *ids, size_t n)
{
    if (!self->stats || q->no_stats || n == 0)
        return;
    size_t size;
    void *data = mem_recstats_message (mem_now_ms (), ids, n, &size);
    zframe_t *frame = data ? zframe_new (data, size) : NULL;
    free (data);
    //  Never waits: a writer that is behind loses statistics, not recalls.
    if (frame && zframe_send (&frame, self->stats, ZFRAME_DONTWAIT))
        zframe_destroy (&frame);
}

//  The request's ranking parameters, defaults where it says nothing.
static void
s_search_params (const Memd__V1__Recall *q, mem_search_t *search)
{
    memset (search, 0, sizeof *search);
    search->text = q->query ? q->query : "";
    search->len = strlen (search->text);
    search->embedding = q->n_query_embedding ? q->query_embedding : NULL;
    search->dims = (uint32_t) q->n_query_embedding;
    mem_weights_default (&search->weights);
    const Memd__V1__RankWeights *w = q->weights;
    if (w && (w->lexical || w->vector || w->recency || w->salience || w->graph))
        search->weights = (mem_weights_t){w->lexical, w->vector, w->recency, w->salience,
                                          w->graph};
    search->fusion = q->fusion == MEMD__V1__FUSION__FUSION_WEIGHTED ? MEM_FUSION_WEIGHTED
                                                                    : MEM_FUSION_RRF;
    search->now_ms = mem_now_ms ();
    search->explain = q->explain;
}

//  Spreads the hits over the graph's communities (Recall.graph_diversify).
static int
s_diversify (mem_store_t *store, MDB_txn *txn, uint32_t agent, mem_search_hit_t *hits,
             unsigned n)
{
    mem_hit_t *order = malloc (n * sizeof *order);
    mem_search_hit_t *copy = malloc (n * sizeof *copy);
    int rc = order && copy ? 0 : ENOMEM;
    for (unsigned i = 0; i < n && !rc; i++)
        order[i] = (mem_hit_t){hits[i].id, hits[i].score};
    if (!rc)
        rc = mem_graph_diversify (store, txn, agent, order, n);
    if (!rc) {
        memcpy (copy, hits, n * sizeof *copy);
        for (unsigned i = 0; i < n; i++)
            for (unsigned j = 0; j < n; j++)
                if (copy[j].id == order[i].id) {
                    hits[i] = copy[j];
                    hits[i].score = order[i].score;
                    break;
                }
    }
    free (order);
    free (copy);
    return rc;
}

//  Runs the hybrid search for q with k hits; the caller frees the hits
//  (mem_search_hits_free, then free). On failure returns an error reply.
static zframe_t *
s_search (self_t *self, const Memd__V1__Request *req, const Memd__V1__Recall *q, unsigned k,
          mem_search_hit_t **hits_p, unsigned *n_hits)
{
    *n_hits = 0;
    *hits_p = NULL;
    mem_store_t *store = self->ctx->store;
    uint32_t agent;
    int rc = mem_agents_lookup (store, self->reader.txn, req->agent_id, false, &agent);
    if (rc == MDB_NOTFOUND)
        return NULL;   //  an agent with no records yet: no hits
    if (rc)
        return mem_codec_error_reply (req->request_id, mem_code_from_store (rc),
                                      "recall failed: %s", mdb_strerror (rc));
    mem_search_hit_t *hits = calloc (k ? k : 1, sizeof *hits);
    if (!hits)
        return mem_codec_error_reply (req->request_id, MEM_RESOURCE_EXHAUSTED,
                                      "out of memory for %u hits", k);
    mem_search_t search;
    s_search_params (q, &search);
    search.k = k;
    bool filtered = q->kind || (q->session_id && *q->session_id) || q->since_ms || q->until_ms
                 || q->n_tags;
    s_filter_t filter = {self, q,
                         q->session_id && *q->session_id
                             ? mem_hash64 (q->session_id, strlen (q->session_id))
                             : 0};
    search.filter = filtered ? s_filter : NULL;
    search.filter_arg = &filter;
    //  One hop along the memory graph (docs/graph.md), as a ranked signal.
    bool graph = q->graph == MEMD__V1__RECALL_GRAPH__RECALL_GRAPH_ON
              || (q->graph == MEMD__V1__RECALL_GRAPH__RECALL_GRAPH_DEFAULT && self->ctx->recall_graph);
    if (graph) {
        search.graph = mem_graph_signal;
        search.graph_arg = store;
    }
    char err[256] = "";
    rc = mem_search_run (store, self->reader.txn, agent, &search, hits, n_hits, err, sizeof err);
    if (!rc && graph && q->graph_diversify && *n_hits > 1
        && (rc = s_diversify (store, self->reader.txn, agent, hits, *n_hits))) {
        mem_search_hits_free (hits, *n_hits);
        *n_hits = 0;
    }
    if (rc) {
        free (hits);
        if (rc == MEM_VECTORS_MISMATCH)
            return mem_codec_error_reply (req->request_id, MEM_INVALID_ARGUMENT, "%s", err);
        return mem_codec_error_reply (req->request_id, mem_code_from_store (rc),
                                      "recall failed: %s",
                                      rc == ENOMEM ? "out of memory" : mdb_strerror (rc));
    }
    *hits_p = hits;
    return NULL;
}

static zframe_t *
s_recall (self_t *self, const Memd__V1__Request *req)
{
    const Memd__V1__Recall *q = req->recall;
    unsigned want = q->k ? q->k : DEFAULT_K;
    mem_search_hit_t *hits;
    unsigned n_hits;
    zframe_t *reply = s_search (self, req, q, want, &hits, &n_hits);
    if (reply)
        return reply;
    Memd__V1__RecallResult result = MEMD__V1__RECALL_RESULT__INIT;
    Memd__V1__Hit *hit_msgs = calloc (n_hits + 1, sizeof *hit_msgs);
    Memd__V1__Hit **hit_ptrs = calloc (n_hits + 1, sizeof *hit_ptrs);
    uint64_t *ids = calloc (n_hits + 1, sizeof *ids);
    if (!hit_msgs || !hit_ptrs || !ids)
        reply = mem_codec_error_reply (req->request_id, MEM_RESOURCE_EXHAUSTED, "out of memory");
    else {
        for (unsigned i = 0; i < n_hits; i++) {
            memd__v1__hit__init (&hit_msgs[i]);
            hit_msgs[i].record = hits[i].record;
            hit_msgs[i].score = hits[i].score;
            if (hits[i].explain)
                hit_msgs[i].explain = hits[i].explain;
            hit_ptrs[i] = &hit_msgs[i];
            ids[i] = hits[i].id;
        }
        result.hits = hit_ptrs;
        result.n_hits = n_hits;
        Memd__V1__Status status = MEMD__V1__STATUS__INIT;
        Memd__V1__Reply msg = MEMD__V1__REPLY__INIT;
        msg.request_id = req->request_id;
        msg.status = &status;
        msg.result_case = MEMD__V1__REPLY__RESULT_RECALL;
        msg.recall = &result;
        reply = mem_codec_pack (&msg.base);
        s_send_stats (self, q, ids, n_hits);
    }
    if (hits)
        mem_search_hits_free (hits, n_hits);
    free (hits);
    free (hit_msgs);
    free (hit_ptrs);
    free (ids);
    return reply;
}

static const Memd__V1__Record *const *
s_records (const Memd__V1__Record **records, const mem_search_hit_t *hits, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        records[i] = hits[i].record;
    return records;
}

//  Context: the recall's best candidates as a block within the budget.
static zframe_t *
s_context (self_t *self, const Memd__V1__Request *req)
{
    const Memd__V1__Context *c = req->context;
    const Memd__V1__Recall *q = c->recall;
    unsigned candidates = q->k ? q->k : DEFAULT_CONTEXT_CANDIDATES;
    unsigned budget = c->budget_tokens ? c->budget_tokens : MEM_PROMPT_DEFAULT_BUDGET;
    mem_search_hit_t *hits;
    unsigned n_hits;
    zframe_t *reply = s_search (self, req, q, candidates, &hits, &n_hits);
    if (reply)
        return reply;
    const Memd__V1__Record **records = calloc (n_hits + 1, sizeof *records);
    mem_prompt_t prompt = {0};
    if (!records
        || mem_prompt_build (s_records (records, hits, n_hits), n_hits, q->query, budget,
                             !c->no_header, &prompt))
        reply = mem_codec_error_reply (req->request_id, MEM_RESOURCE_EXHAUSTED, "out of memory");
    else {
        Memd__V1__ContextResult result = MEMD__V1__CONTEXT_RESULT__INIT;
        result.text = prompt.text;
        result.ids = prompt.ids;
        result.n_ids = prompt.n_ids;
        result.tokens = prompt.tokens;
        result.budget_tokens = budget;
        result.omitted = prompt.omitted;
        Memd__V1__Status status = MEMD__V1__STATUS__INIT;
        Memd__V1__Reply msg = MEMD__V1__REPLY__INIT;
        msg.request_id = req->request_id;
        msg.status = &status;
        msg.result_case = MEMD__V1__REPLY__RESULT_CONTEXT;
        msg.context = &result;
        reply = mem_codec_pack (&msg.base);
        s_send_stats (self, q, prompt.ids, prompt.n_ids);
    }
    mem_prompt_clear (&prompt);
    free (records);
    if (hits)
        mem_search_hits_free (hits, n_hits);
    free (hits);
    return reply;
}

//  Get returns a record with its embedding (kept beside the record).
static int
s_get_embedding (mem_store_t *store, MDB_txn *txn, Memd__V1__Record *rec)
{
    uint32_t dims = 0;
    float none;
    int rc = mem_vectors_get (store, txn, rec->id, &none, 0, &dims);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != ENOSPC)
        return rc;
    //  protobuf-c frees repeated fields with free(): malloc it.
    float *values = malloc (dims * sizeof *values);
    if (!values)
        return ENOMEM;
    if ((rc = mem_vectors_get (store, txn, rec->id, values, dims, &dims))) {
        free (values);
        return rc;
    }
    rec->embedding = values;
    rec->n_embedding = dims;
    return 0;
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
            rc = s_get_embedding (store, self->reader.txn, records[result.n_records++]);
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

//  Export: one page of records in id order (mem_export_page).
static zframe_t *
s_export (self_t *self, const Memd__V1__Request *req)
{
    const Memd__V1__Export *e = req->export_records;
    mem_store_t *store = self->ctx->store;
    uint32_t agent = 0;
    mem_export_page_t page;
    memset (&page, 0, sizeof page);
    int rc = e->all_agents ? 0
                           : mem_agents_lookup (store, self->reader.txn, req->agent_id, false,
                                                &agent);
    bool unknown_agent = rc == MDB_NOTFOUND;
    if (!rc)
        rc = mem_export_page (store, self->reader.txn, e->all_agents, agent, e->after_id,
                              e->limit ? e->limit : MEM_EXPORT_DEFAULT_LIMIT, &page);
    zframe_t *reply;
    if (rc && !unknown_agent)
        reply = mem_codec_error_reply (req->request_id, mem_code_from_store (rc),
                                       "export failed: %s", mdb_strerror (rc));
    else {
        //  An agent with no records yet exports nothing.
        Memd__V1__ExportResult result = MEMD__V1__EXPORT_RESULT__INIT;
        result.records = page.records;
        result.n_records = page.n_records;
        result.next_after_id = page.next_after_id;
        result.more = page.more;
        result.scanned = page.scanned;
        result.store_records = page.store_records;
        Memd__V1__Status status = MEMD__V1__STATUS__INIT;
        Memd__V1__Reply msg = MEMD__V1__REPLY__INIT;
        msg.request_id = req->request_id;
        msg.status = &status;
        msg.result_case = MEMD__V1__REPLY__RESULT_EXPORT_RECORDS;
        msg.export_records = &result;
        reply = mem_codec_pack (&msg.base);
    }
    mem_export_page_clear (&page);
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
        else if (req->op_case == MEMD__V1__REQUEST__OP_CONTEXT)
            reply = s_context (self, req);
        else if (req->op_case == MEMD__V1__REQUEST__OP_GET)
            reply = s_get (self, req);
        else if (req->op_case == MEMD__V1__REQUEST__OP_VERIFY)
            reply = s_verify (self, req);
        else if (req->op_case == MEMD__V1__REQUEST__OP_NEIGHBORS)
            reply = mem_graph_neighbors_reply (self->ctx, self->reader.txn, req);
        else if (req->op_case == MEMD__V1__REQUEST__OP_COMMUNITY)
            reply = mem_graph_community_reply (self->ctx, self->reader.txn, req);
        else if (req->op_case == MEMD__V1__REQUEST__OP_EXPORT_RECORDS)
            reply = s_export (self, req);
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
    //  Statistics are best effort: without this line recall still works.
    self->stats = started ? mem_recstats_sender_new () : NULL;
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
    zsock_destroy (&self->stats);
    free (self);
}
