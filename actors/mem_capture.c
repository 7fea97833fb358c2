/*  mem_capture — the one writer (DESIGN §2, §5).

    Takes Capture, Forget and Import requests from the frontend. Everything queued
    at the moment it wakes is written in one transaction (group commit),
    committed — synced per store/sync, fsync by default — and only then
    acknowledged: an ack means the write survives kill -9 and power loss.

    When the map is full the transaction is dropped, the map grown, and the
    whole group redone. A commit that fails (disk full: STORE_FULL) fails
    every request of the group and acknowledges none.

    Between groups it merges index segments (mem_index) in bounded steps,
    one transaction each: at least one step after every group so merging
    keeps up under load, and then more while no request waits. Once the
    writer has been quiet for QUIET_MS it also folds the small segments of
    a burst together (its only timer, armed only while that work exists).
    With no merge work left it blocks: an idle writer costs nothing.

    Transcript watching (mem_watch) sends its captures on a line of its
    own, each with one more frame: the positions of the files they were
    read from (mem_watchpos), stored in the same transaction as the
    records, so the watcher resumes exactly where the last commit ended.

    It also runs the sleep cycle's consolidation steps (mem_consolidate),
    one per STEP from the lifecycle actor, between groups: the writer is
    the one place where a digest can be indexed and segments rewritten.
    Client requests come first: the frontend socket is polled before the
    lifecycle's. After each commit it publishes `captured` and `forgotten`
    events (best effort).

    Recall statistics (mem_recstats) arrive from the recall workers on
    their own socket, polled last; they are counted as they come and
    written in one small transaction a moment later (best effort).
*/
#include "mem_actors.h"
#include "mem_log.h"
#include "mem_records.h"
#include "mem_consolidate.h"
#include "mem_recstats.h"
#include "mem_vectors.h"
#include "mem_watchpos.h"

#define GROUP_MAX_REQUESTS 256     //  requests in one commit
#define GROUP_MAX_RECORDS  20000   //  records in one commit (a request is never split)
#define QUIET_MS           200     //  no writes for this long: compact the index

typedef struct {
    zframe_t *identity;
    Memd__V1__Request *req;        //  NULL: the bytes did not decode
    Memd__V1__Reply reply;         //  built by the group
    Memd__V1__Status status;
    char message[256];
    Memd__V1__CaptureResult capture;
    Memd__V1__ForgetResult forget;
    uint64_t *ids;                 //  capture ids or forget's missing ids
    protobuf_c_boolean *dups;
    Memd__V1__ImportResult import;
    Memd__V1__ImportOutcome *outcomes;
    zsock_t *origin;               //  where the reply goes: the frontend or the watcher
    zframe_t *positions;           //  watched files' positions (mem_watchpos), or NULL
} s_item_t;

typedef struct {
    zsock_t *pipe;
    zsock_t *frontend;             //  PAIR
    zsock_t *watch;                //  PAIR: captures from transcript watching
    zsock_t *lifecycle;            //  PAIR: STEP requests of the sleep cycle
    zsock_t *events;               //  PUSH to the events stream
    zsock_t *waker;                //  the reaper's wake line (summarize jobs)
    zsock_t *graph_waker;          //  the graph actor's wake line (records to link)
    bool new_records;              //  the group captured records: a link job is queued
    zsock_t *recstats;             //  PULL: recalled ids from the recall workers
    mem_recstats_t *stats;         //  … counted until they are written
    int64_t stats_due;             //  monotonic time to write them (0: none pending)
    mem_consolidate_t *consolidate;
    zpoller_t *poller;
    mem_context_t *ctx;
    mem_index_writer_t *index;
    s_item_t items[GROUP_MAX_REQUESTS];
    size_t n_items;
    int64_t last_write_ms;         //  monotonic time of the last group
    bool terminated;
} self_t;

static void s_merge_some (self_t *self, bool quiet);

static void
s_item_clear (s_item_t *item)
{
    zframe_destroy (&item->identity);
    zframe_destroy (&item->positions);
    if (item->req)
        memd__v1__request__free_unpacked (item->req, NULL);
    free (item->ids);
    free (item->dups);
    free (item->outcomes);
    memset (item, 0, sizeof *item);
}

static void
s_item_fail (s_item_t *item, mem_code_t code, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

static void
s_item_fail (s_item_t *item, mem_code_t code, const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    vsnprintf (item->message, sizeof item->message, fmt, args);
    va_end (args);
    item->status.code = code;
    item->reply.result_case = MEMD__V1__REPLY__RESULT__NOT_SET;
}

//  Import (mem_records_import): exported records with every field kept.
//  All or nothing: with keep_ids the first id is checked before anything
//  is written (the ids increase, the codec checked that).
static int
s_apply_import (self_t *self, mem_capture_batch_t *batch, s_item_t *item, int64_t now)
{
    Memd__V1__Request *req = item->req;
    Memd__V1__Import *im = req->import_records;
    item->reply.result_case = MEMD__V1__REPLY__RESULT_IMPORT_RECORDS;
    item->reply.import_records = &item->import;
    for (size_t i = 0; im->keep_ids && i < im->n_records; i++) {
        //  The first record the store does not know decides (known ones are skipped).
        uint64_t known;
        int rc = mem_records_uid_lookup (self->ctx->store, batch->txn, im->records[i]->uid.data,
                                         &known);
        if (rc == 0)
            continue;
        if (rc != MDB_NOTFOUND)
            return rc;
        if (im->records[i]->id <= batch->next_id) {
            s_item_fail (item, MEM_INVALID_ARGUMENT,
                         "keep_ids: record id %llu is not above every id this store has "
                         "assigned (%llu); import without keep_ids to give the records new ids",
                         (unsigned long long) im->records[i]->id,
                         (unsigned long long) batch->next_id);
            return 0;
        }
        break;
    }
    item->ids = calloc (im->n_records, sizeof *item->ids);
    item->outcomes = calloc (im->n_records, sizeof *item->outcomes);
    if (!item->ids || !item->outcomes)
        return ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < im->n_records && !rc; i++) {
        mem_import_outcome_t outcome = 0;
        rc = mem_records_import (batch, im->records[i], req->agent_id, im->keep_ids, now,
                                 &item->ids[i], &outcome);
        if (!rc && outcome == MEM_IMPORT_ID_TAKEN)
            rc = MDB_KEYEXIST;   //  cannot happen after the check above: fail the group
        item->outcomes[i] = (Memd__V1__ImportOutcome) outcome;
        item->import.added += outcome == MEM_IMPORT_ADDED;
    }
    item->import.ids = item->ids;
    item->import.n_ids = im->n_records;
    item->import.outcomes = item->outcomes;
    item->import.n_outcomes = im->n_records;
    return rc;
}

//  Applies one request inside txn. Returns an LMDB code that must abort the
//  whole group (MAP_FULL, I/O), or 0 (the item's own outcome is in its reply).
static int
s_apply (self_t *self, MDB_txn *txn, mem_capture_batch_t *batch, s_item_t *item, int64_t now)
{
    mem_store_t *store = self->ctx->store;
    Memd__V1__Request *req = item->req;
    int rc = 0;
    if (req->op_case == MEMD__V1__REQUEST__OP_IMPORT_RECORDS)
        return s_apply_import (self, batch, item, now);
    if (req->op_case == MEMD__V1__REQUEST__OP_CAPTURE) {
        Memd__V1__Capture *cap = req->capture;
        //  Embeddings need their agents' dimensions (in the store): a
        //  mismatch refuses the whole request before anything is written.
        char why[256];
        rc = mem_vectors_check_capture (store, txn, cap, req->agent_id, why, sizeof why);
        if (rc == MEM_VECTORS_MISMATCH) {
            s_item_fail (item, MEM_INVALID_ARGUMENT, "%s", why);
            return 0;
        }
        if (rc)
            return rc;
        item->ids = calloc (cap->n_records + 1, sizeof *item->ids);
        item->dups = calloc (cap->n_records + 1, sizeof *item->dups);
        if (!item->ids || !item->dups)
            return ENOMEM;
        for (size_t i = 0; i < cap->n_records && !rc; i++) {
            bool dup = false;
            if (mem_redact_record (self->ctx->redact, cap->records[i]) < 0)
                return ENOMEM;   //  secrets out before anything is stored (mem_redact.h)
            rc = mem_records_capture (batch, cap->records[i], req->agent_id, now, &item->ids[i],
                                      &dup);
            item->dups[i] = dup;
        }
        item->capture.ids = item->ids;
        item->capture.n_ids = cap->n_records;
        item->capture.duplicate = item->dups;
        item->capture.n_duplicate = cap->n_records;
        item->reply.result_case = MEMD__V1__REPLY__RESULT_CAPTURE;
        item->reply.capture = &item->capture;
        if (!rc && item->positions)   //  checked in s_take
            rc = mem_watchpos_apply (store, txn, zframe_data (item->positions),
                                     zframe_size (item->positions));
        return rc;
    }
    //  Forget: postings captured earlier in this group must be in the index first.
    if ((rc = mem_index_writer_flush (self->index, txn)))
        return rc;
    Memd__V1__Forget *f = req->forget;
    item->reply.result_case = MEMD__V1__REPLY__RESULT_FORGET;
    item->reply.forget = &item->forget;
    uint32_t agent;
    rc = mem_agents_lookup (store, txn, req->agent_id, false, &agent);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    bool known_agent = rc == 0;
    if (f->session_id && *f->session_id) {
        if (known_agent)
            rc = mem_records_forget_session (store, txn, agent, f->session_id, now,
                                             &item->forget.forgotten);
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    item->ids = calloc (f->n_ids, sizeof *item->ids);
    if (!item->ids)
        return ENOMEM;
    for (size_t i = 0; i < f->n_ids; i++) {
        rc = known_agent ? mem_records_forget (store, txn, agent, f->ids[i], now) : MDB_NOTFOUND;
        if (rc == 0)
            item->forget.forgotten++;
        else if (rc == MDB_NOTFOUND)
            item->ids[item->forget.n_missing++] = f->ids[i];
        else
            return rc;
    }
    item->forget.missing = item->ids;
    if (item->forget.n_missing)
        s_item_fail (item, MEM_NOT_FOUND, "%zu of %zu records not found for agent %s",
                     item->forget.n_missing, f->n_ids, req->agent_id);
    item->reply.result_case = MEMD__V1__REPLY__RESULT_FORGET;   //  keep the counts
    return 0;
}

//  Resets the items' results so the group can be redone after MAP_FULL.
static void
s_group_reset (self_t *self)
{
    for (size_t i = 0; i < self->n_items; i++) {
        s_item_t *item = &self->items[i];
        free (item->ids);
        free (item->dups);
        free (item->outcomes);
        item->ids = NULL;
        item->dups = NULL;
        item->outcomes = NULL;
        memd__v1__import_result__init (&item->import);
        memset (&item->capture, 0, sizeof item->capture);
        memset (&item->forget, 0, sizeof item->forget);
        memd__v1__capture_result__init (&item->capture);
        memd__v1__forget_result__init (&item->forget);
        memd__v1__reply__init (&item->reply);
        memd__v1__status__init (&item->status);
        item->message[0] = 0;
    }
}

//  The group's writes, inside one transaction (redone from scratch after
//  a map growth).
static int
s_group_work (MDB_txn *txn, void *arg)
{
    self_t *self = arg;
    s_group_reset (self);
    mem_index_writer_reset (self->index);
    int64_t now = mem_now_ms ();
    mem_capture_batch_t batch;
    int rc = mem_capture_batch_begin (&batch, self->ctx->store, txn, self->index);
    for (size_t i = 0; i < self->n_items && !rc; i++)
        if (self->items[i].req)
            rc = s_apply (self, txn, &batch, &self->items[i], now);
    if (!rc)
        rc = mem_capture_batch_finish (&batch);
    if (!rc)
        rc = mem_index_writer_flush (self->index, txn);
    //  The outbox: the graph links the new records (docs/graph.md).
    self->new_records = batch.next_id > batch.first_id;
    if (!rc && self->new_records)
        rc = mem_graph_link_enqueue (self->ctx->store, txn, batch.first_id + 1, batch.next_id, now);
    return rc;
}

//  Writes the whole group in one transaction; returns 0 or the LMDB code
//  that failed it.
static int
s_group_write (self_t *self)
{
    return mem_store_write (self->ctx->store, s_group_work, self);
}

//  `captured` and `forgotten` events for what the group committed.
static void
s_group_events (self_t *self)
{
    for (size_t i = 0; i < self->n_items; i++) {
        s_item_t *item = &self->items[i];
        Memd__V1__Request *req = item->req;
        if (!req || (req->op_case == MEMD__V1__REQUEST__OP_CAPTURE && item->status.code != MEM_OK)
            || req->op_case == MEMD__V1__REQUEST__OP_IMPORT_RECORDS)
            continue;   //  a forget with missing ids still forgot the others
        Memd__V1__RecordsEvent body = MEMD__V1__RECORDS_EVENT__INIT;
        Memd__V1__Event event = MEMD__V1__EVENT__INIT;
        body.agent_id = req->agent_id;
        uint64_t *fresh = NULL;
        if (req->op_case == MEMD__V1__REQUEST__OP_CAPTURE) {
            fresh = malloc ((item->capture.n_ids + 1) * sizeof *fresh);
            if (!fresh)
                continue;
            for (size_t j = 0; j < item->capture.n_ids; j++)
                if (!item->dups[j])
                    fresh[body.n_ids++] = item->ids[j];
            if (!body.n_ids) {
                free (fresh);
                continue;
            }
            body.ids = fresh;
            body.count = body.n_ids;
            event.topic = "captured";
            event.body_case = MEMD__V1__EVENT__BODY_CAPTURED;
            event.captured = &body;
        }
        else {
            if (!item->forget.forgotten)
                continue;
            if (!req->forget->session_id || !*req->forget->session_id) {
                //  The ids asked for, less the missing ones (both in request order).
                fresh = malloc ((req->forget->n_ids + 1) * sizeof *fresh);
                if (!fresh)
                    continue;
                for (size_t j = 0, m = 0; j < req->forget->n_ids; j++) {
                    if (m < item->forget.n_missing && item->forget.missing[m] == req->forget->ids[j])
                        m++;
                    else
                        fresh[body.n_ids++] = req->forget->ids[j];
                }
                body.ids = fresh;
            }
            else
                body.session_id = req->forget->session_id;
            body.count = item->forget.forgotten;
            event.topic = "forgotten";
            event.body_case = MEMD__V1__EVENT__BODY_FORGOTTEN;
            event.forgotten = &body;
        }
        mem_events_send (self->events, &event);
        free (fresh);
    }
}

static void
s_group_reply (self_t *self, int rc)
{
    for (size_t i = 0; i < self->n_items; i++) {
        s_item_t *item = &self->items[i];
        uint64_t request_id = item->req ? item->req->request_id : 0;
        zframe_t *reply;
        if (!item->req)
            reply = mem_codec_error_reply (0, MEM_INTERNAL, "capture: request did not decode");
        else if (rc)
            reply = mem_codec_error_reply (request_id, mem_code_from_store (rc),
                                           "write failed, nothing was stored: %s",
                                           rc == ENOSPC ? "the disk is full" : mdb_strerror (rc));
        else {
            item->reply.request_id = request_id;
            item->status.message = item->message;
            item->reply.status = &item->status;
            reply = mem_codec_pack (&item->reply.base);
        }
        zmsg_t *msg = zmsg_new ();
        zmsg_append (msg, &item->identity);
        if (reply)
            zmsg_append (msg, &reply);
        else
            zmsg_addmem (msg, NULL, 0);
        if (zmsg_send (&msg, item->origin))
            zmsg_destroy (&msg);   //  the watcher is gone (shutdown): the write stands
        s_item_clear (item);
    }
    self->n_items = 0;
}

//  Takes one request off a socket into the group; returns its record count.
static size_t
s_take (self_t *self, zsock_t *from)
{
    zmsg_t *msg = zmsg_recv (from);
    if (!msg)
        return 0;
    s_item_t *item = &self->items[self->n_items++];
    memset (item, 0, sizeof *item);
    item->origin = from;
    item->identity = zmsg_pop (msg);
    zframe_t *bytes = zmsg_pop (msg);
    if (bytes)
        item->req = mem_codec_request_decode (zframe_data (bytes), zframe_size (bytes));
    zframe_destroy (&bytes);
    if (from == self->watch) {
        item->positions = zmsg_pop (msg);
        bool valid = item->req && item->req->op_case == MEMD__V1__REQUEST__OP_CAPTURE
                  && item->positions
                  && mem_watchpos_check (zframe_data (item->positions),
                                         zframe_size (item->positions)) == 0;
        if (!valid && item->req) {
            memd__v1__request__free_unpacked (item->req, NULL);
            item->req = NULL;   //  answered "did not decode"
        }
    }
    zmsg_destroy (&msg);
    if (item->req && item->req->op_case == MEMD__V1__REQUEST__OP_CAPTURE)
        return item->req->capture->n_records;
    if (item->req && item->req->op_case == MEMD__V1__REQUEST__OP_IMPORT_RECORDS)
        return item->req->import_records->n_records;
    return 1;
}

//  Group commit: everything queued now on either line, up to the bounds,
//  in one txn.
static void
s_self_handle_frontend (self_t *self, zsock_t *first)
{
    size_t records = s_take (self, first);
    bool more = true;
    while (more && self->n_items < GROUP_MAX_REQUESTS && records < GROUP_MAX_RECORDS) {
        more = false;
        if (zsock_events (self->frontend) & ZMQ_POLLIN) {
            records += s_take (self, self->frontend);
            more = true;
        }
        if (self->n_items < GROUP_MAX_REQUESTS && (zsock_events (self->watch) & ZMQ_POLLIN)) {
            records += s_take (self, self->watch);
            more = true;
        }
    }
    int rc = s_group_write (self);
    if (rc)
        mem_log_error ("capture: write of %zu requests failed: %s", self->n_items,
                       mdb_strerror (rc));
    else
        s_group_events (self);
    if (!rc && self->new_records)
        mem_graph_wake (self->graph_waker);   //  best effort, after the commit
    s_group_reply (self, rc);
    self->last_write_ms = mem_mono_ms ();
    s_merge_some (self, false);
}

typedef struct {
    self_t *self;
    bool idle, worked;
} s_merge_arg_t;

static int
s_merge_work (MDB_txn *txn, void *arg)
{
    s_merge_arg_t *m = arg;
    return mem_index_merge_step (m->self->index, txn, m->idle, &m->worked);
}

//  One merge step in its own transaction. Returns 0 or the LMDB code.
static int
s_merge_step (self_t *self, bool idle, bool *worked)
{
    s_merge_arg_t m = {self, idle, false};
    int rc = mem_store_write (self->ctx->store, s_merge_work, &m);
    *worked = m.worked;
    return rc;
}

//  Merges while work remains and no request waits (at least one step).
//  quiet: the writer has been idle for QUIET_MS, so compaction may run.
static void
s_merge_some (self_t *self, bool quiet)
{
    bool worked = true;
    for (int steps = 0; worked && mem_index_merge_pending (self->index); steps++) {
        if (steps > 0 && (zsock_events (self->frontend) & ZMQ_POLLIN))
            return;
        int rc = s_merge_step (self, quiet, &worked);
        if (rc) {
            mem_log_error ("capture: index merge failed: %s", mdb_strerror (rc));
            return;
        }
    }
}

typedef struct {
    self_t *self;
    mem_step_result_t result;
} s_step_arg_t;

static int
s_step_work (MDB_txn *txn, void *arg)
{
    s_step_arg_t *step = arg;
    mem_index_writer_reset (step->self->index);   //  redone from scratch after a map growth
    return mem_consolidate_step (step->self->consolidate, txn, mem_now_ms (), &step->result);
}

//  STEP from the lifecycle actor: one consolidation step, in its own
//  transaction; answers ["STEP", phase, done, error].
static void
s_self_handle_lifecycle (self_t *self)
{
    char *command = zstr_recv (self->lifecycle);
    if (!command)
        return;
    s_step_arg_t step = {self, {0}};
    int rc = mem_store_write (self->ctx->store, s_step_work, &step);
    if (rc)
        mem_index_writer_reset (self->index);
    else if (step.result.jobs)
        mem_reaper_wake (self->waker);
    if (!rc && step.result.started)
        mem_log_debug ("capture: consolidation cycle started");
    zstr_sendx (self->lifecycle, "STEP", mem_phase_name (step.result.phase),
                !rc && step.result.done ? "1" : "0", rc ? mdb_strerror (rc) : "", NULL);
    zstr_free (&command);
    self->last_write_ms = mem_mono_ms ();
}

//  Recalled ids from the recall workers: counted now, written together
//  MEM_RECSTATS_DELAY_MS after the first (a timer armed only while some
//  wait), so a burst of recalls costs one small commit.
static void
s_self_handle_recstats (self_t *self)
{
    for (int i = 0; i < 1000 && (zsock_events (self->recstats) & ZMQ_POLLIN); i++) {
        zframe_t *frame = zframe_recv (self->recstats);
        if (!frame)
            break;
        if (mem_recstats_add (self->stats, zframe_data (frame), zframe_size (frame)))
            mem_log_warn ("capture: a malformed recall statistics message");
        zframe_destroy (&frame);
    }
    if (!self->stats_due && mem_recstats_pending (self->stats))
        self->stats_due = mem_mono_ms () + MEM_RECSTATS_DELAY_MS;
}

static int
s_stats_work (MDB_txn *txn, void *arg)
{
    self_t *self = arg;
    uint64_t updated;
    return mem_recstats_apply (self->stats, self->ctx->store, txn, &updated);
}

//  Best effort: a failed write is logged and its statistics dropped.
static void
s_stats_flush (self_t *self)
{
    int rc = mem_store_write (self->ctx->store, s_stats_work, self);
    if (rc)
        mem_log_warn ("capture: recall statistics not written: %s", mdb_strerror (rc));
    mem_recstats_clear (self->stats);
    self->stats_due = 0;
}

static void
s_self_handle_pipe (self_t *self)
{
    char *command = zstr_recv (self->pipe);
    if (!command || streq (command, "$TERM"))
        self->terminated = true;
    else
        mem_log_error ("capture: unknown command %s", command);
    zstr_free (&command);
}

void
mem_capture_actor (zsock_t *pipe, void *args)
{
    self_t *self = calloc (1, sizeof *self);
    self->pipe = pipe;
    self->ctx = args;
    zsock_signal (pipe, 0);

    char *command = zstr_recv (pipe);
    bool started = false;
    const char *err = "capture: no START";
    if (command && streq (command, "START")) {
        self->index = mem_index_writer_new (self->ctx->store);
        self->consolidate = self->index ? mem_consolidate_new (self->ctx->store, self->index,
                                                               &self->ctx->lifecycle.consolidate)
                                        : NULL;
        self->lifecycle = zsock_new (ZMQ_PAIR);
        if (self->lifecycle)
            zsock_set_sndtimeo (self->lifecycle, 0);   //  at shutdown no one may be listening
        self->events = mem_events_new ();
        self->waker = mem_reaper_waker_new ();
        self->graph_waker = mem_graph_waker_new ();
        self->stats = mem_recstats_new ();
        self->recstats = zsock_new (ZMQ_PULL);
        if (self->recstats)
            zsock_set_rcvhwm (self->recstats, 1000);
        self->frontend = zsock_new (ZMQ_PAIR);
        if (self->frontend) {
            zsock_set_rcvhwm (self->frontend, (int) self->ctx->capture_queue);
            zsock_set_sndhwm (self->frontend, 0);
        }
        self->watch = zsock_new (ZMQ_PAIR);
        if (self->watch)
            zsock_set_sndtimeo (self->watch, 0);   //  a reply no one waits for is dropped
        if (!self->index || !self->frontend || !self->consolidate || !self->lifecycle
            || !self->events || !self->waker || !self->graph_waker || !self->stats
            || !self->recstats || !self->watch)
            err = "capture: out of memory";
        else if (zsock_bind (self->frontend, MEM_INPROC_CAPTURE) < 0)
            err = "capture: cannot bind " MEM_INPROC_CAPTURE;
        else if (zsock_bind (self->lifecycle, MEM_INPROC_CONSOLIDATE) < 0)
            err = "capture: cannot bind " MEM_INPROC_CONSOLIDATE;
        else if (zsock_bind (self->recstats, MEM_INPROC_RECSTATS) < 0)
            err = "capture: cannot bind " MEM_INPROC_RECSTATS;
        else if (zsock_bind (self->watch, MEM_INPROC_CAPTURE_WATCH) < 0)
            err = "capture: cannot bind " MEM_INPROC_CAPTURE_WATCH;
        else
            started = true;
        //  Merges interrupted by a stop or a crash resume from the store.
        MDB_txn *txn;
        if (started && mem_store_read_begin (self->ctx->store, &txn) == 0) {
            if (mem_index_writer_recover (self->index, txn))
                mem_log_warn ("capture: cannot list index segments; merging resumes on the "
                              "next capture");
            mem_store_read_end (self->ctx->store, &txn);
        }
    }
    zstr_free (&command);
    zstr_send (pipe, started ? "OK" : err);
    if (started) {
        self->poller = zpoller_new (self->pipe, self->frontend, self->lifecycle, self->recstats,
                                    self->watch, NULL);
        s_merge_some (self, false);
    }
    while (started && !self->terminated) {
        //  The deadlines: compaction once writes have been quiet a while, and
        //  pending recall statistics.
        int timeout = -1;
        int64_t now = mem_mono_ms ();
        if (mem_index_merge_pending (self->index)) {
            int64_t due = self->last_write_ms + QUIET_MS - now;
            timeout = due > 0 ? (int) due : 0;
        }
        if (self->stats_due) {
            int64_t due = self->stats_due - now;
            int stats_timeout = due > 0 ? (int) due : 0;
            timeout = timeout < 0 || stats_timeout < timeout ? stats_timeout : timeout;
        }
        void *which = zpoller_wait (self->poller, timeout);
        if (which == self->pipe)
            s_self_handle_pipe (self);
        else if (which == self->frontend || which == self->watch)
            s_self_handle_frontend (self, which);
        else if (which == self->lifecycle)
            s_self_handle_lifecycle (self);
        else if (which == self->recstats)
            s_self_handle_recstats (self);
        else if (zpoller_terminated (self->poller))
            break;
        else if (zpoller_expired (self->poller) && mem_index_merge_pending (self->index)
                 && mem_mono_ms () - self->last_write_ms >= QUIET_MS)
            s_merge_some (self, true);
        if (self->stats_due && mem_mono_ms () >= self->stats_due)
            s_stats_flush (self);
    }
    if (started && mem_recstats_pending (self->stats))
        s_stats_flush (self);   //  what the last recalls counted, before stopping
    zpoller_destroy (&self->poller);
    zsock_destroy (&self->frontend);
    zsock_destroy (&self->watch);
    zsock_destroy (&self->lifecycle);
    zsock_destroy (&self->events);
    zsock_destroy (&self->waker);
    zsock_destroy (&self->graph_waker);
    zsock_destroy (&self->recstats);
    mem_recstats_destroy (&self->stats);
    mem_consolidate_destroy (&self->consolidate);
    mem_index_writer_destroy (&self->index);
    free (self);
}
