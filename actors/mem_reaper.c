/*  mem_reaper — the job queue's actor (DESIGN §2 reaper; §3 lessons 5, 9, 10, 12).

    Serves the job operations the frontend routes here (Enqueue, Lease,
    Complete, Fail, Extend, Retry, Purge, List) from the queue in storage/
    (mem_jobs). Like the capture actor it group-commits: every request
    queued when it wakes is applied in one write transaction, together with
    handing due jobs to parked Lease requests, and answered after the
    commit (an acked Enqueue or Complete survives kill -9).

    Long-poll: a Lease that finds nothing due and may wait is parked here
    (never in the frontend) and answered the moment a job it can take comes
    due — after an Enqueue, a Complete that frees a concurrency slot or
    releases dependents, an expired lease, a wake from another actor's
    outbox, or the due time of a delayed job or retry — or empty when its
    wait ends.

    Idle means zero: the only timer is the earliest real deadline, computed
    from the store's indexes after every event (next lease expiry, next
    parked-lease timeout, next future due time of a kind a parked Lease
    wants); with none of those it blocks without a timeout. Nothing is kept
    in memory that the store does not have, so at boot every deadline is
    simply read back (expired leases are handled at once).

    Sockets: PAIR (bound) to the frontend for requests and replies, plus a
    one-frame snapshot of the parked count for status; PULL (bound) for
    wakes from other actors (mem_reaper_wake). Pipe commands: $TERM; DRAIN
    (answer parked leases with UNAVAILABLE, park no more; replies
    "DRAINED"). After each commit it publishes `job` events (enqueued,
    leased, completed, failed, dead; mem_job_events), best effort.
*/
#include "mem_actors.h"
#include "mem_jobs.h"
#include "mem_job_events.h"
#include "mem_log.h"
#include <sys/prctl.h>
#include <sys/random.h>

#define GROUP_MAX       256           //  requests applied in one transaction
#define EXPIRE_STEP     256           //  expired leases handled per transaction
#define REPLY_BYTES_MAX (8u << 20)    //  payload bytes in one Lease or List reply
#define LIST_DEFAULT    100
#define BULK_STEP       1000          //  dead letters retried or purged per request
#define STALL_MS        1000          //  pause after a failed background write
#define WAKE_HWM        16            //  wakes queued at most (one pending is enough)

//  A Lease request: being served in the current group, or parked.
typedef struct {
    zframe_t *identity;
    uint64_t request_id;
    char **kinds;
    uint32_t *limits;                 //  per kind, from jobs/limits
    size_t n_kinds;
    size_t max_jobs;
    int64_t lease_ms;
    int64_t wait_ms;
    char *worker;
    int64_t deadline_ms;              //  when parked: answer empty at this time
    Memd__V1__Job **jobs;             //  leased in the current transaction
    size_t n_jobs;
} s_waiter_t;

//  One request of the group and what became of it.
typedef struct {
    zframe_t *identity;
    Memd__V1__Request *req;           //  NULL: the bytes did not decode
    int rc;                           //  a refusal of this request (0: none)
    mem_job_enqueued_t enq;
    Memd__V1__Job *job;               //  Complete/Fail/Extend: the job after; a refusal: as it is
    s_waiter_t *lease;
    uint64_t count;                   //  retried or purged
    uint64_t *ids;                    //  missing (retry, purge) or listed ids
    size_t n_ids;
    bool more;
    Memd__V1__Job **list;
    size_t n_list;
} s_item_t;

typedef struct {
    zsock_t *pipe;
    zsock_t *frontend;                //  PAIR
    zsock_t *wake;                    //  PULL
    zsock_t *events;                  //  `job` events (NULL: none)
    uint64_t expired[EXPIRE_STEP];    //  leases expired by the last write
    size_t n_expired;
    zpoller_t *poller;
    mem_context_t *ctx;
    mem_jobs_policy_t policy;
    s_item_t items[GROUP_MAX];
    size_t n_items;
    s_waiter_t **waiting;             //  parked, oldest first
    size_t n_waiting;
    uint32_t waiting_told;            //  parked count last sent to the frontend
    uint32_t leased, leased_told;      //  1 if any job is leased (work in flight), and as last sent
    int64_t stalled_until;            //  after a failed background write: no retry before
    bool draining;
    bool terminated;
} self_t;

//  --------------------------------------------------------------------------
//  Kind sets: the kinds one pass over the parked leases has settled, so
//  that many leases waiting on the same kinds cost one lookup, not one each.

#define KIND_SET_MAX 256

typedef struct {
    const char *kinds[KIND_SET_MAX];
    size_t n;
} s_kind_set_t;

static bool
s_kind_set_has (const s_kind_set_t *set, const char *kind)
{
    for (size_t i = 0; i < set->n; i++)
        if (streq (set->kinds[i], kind))
            return true;
    return false;
}

//  Adds kind (borrowed) if there is room; a full set only costs lookups.
static void
s_kind_set_add (s_kind_set_t *set, const char *kind)
{
    if (set->n < KIND_SET_MAX && !s_kind_set_has (set, kind))
        set->kinds[set->n++] = kind;
}

//  --------------------------------------------------------------------------
//  Waiters

static void
s_waiter_free_jobs (s_waiter_t *w)
{
    while (w->n_jobs)
        memd__v1__job__free_unpacked (w->jobs[--w->n_jobs], NULL);
}

static void
s_waiter_destroy (s_waiter_t **w_p)
{
    s_waiter_t *w = *w_p;
    if (!w)
        return;
    s_waiter_free_jobs (w);
    zframe_destroy (&w->identity);
    for (size_t i = 0; i < w->n_kinds; i++)
        free (w->kinds[i]);
    free (w->kinds);
    free (w->limits);
    free (w->worker);
    free (w->jobs);
    free (w);
    *w_p = NULL;
}

//  A waiter from a (validated) Lease request; copies what it needs.
static s_waiter_t *
s_waiter_new (self_t *self, const Memd__V1__Request *req)
{
    const Memd__V1__JobLease *l = req->job_lease;
    s_waiter_t *w = calloc (1, sizeof *w);
    if (!w)
        return NULL;
    w->request_id = req->request_id;
    w->max_jobs = l->max_jobs ? l->max_jobs : 1;
    w->lease_ms = l->lease_ms ? l->lease_ms : self->ctx->jobs.lease_ms;
    w->wait_ms = l->wait_ms;
    w->worker = strdup (l->worker ? l->worker : "");
    w->kinds = calloc (l->n_kinds, sizeof *w->kinds);
    w->limits = calloc (l->n_kinds, sizeof *w->limits);
    w->jobs = calloc (w->max_jobs, sizeof *w->jobs);
    bool ok = w->worker && w->kinds && w->limits && w->jobs;
    for (size_t i = 0; ok && i < l->n_kinds; i++) {
        ok = (w->kinds[i] = strdup (l->kinds[i])) != NULL;
        w->limits[i] = mem_reaper_kind_limit (&self->ctx->jobs, l->kinds[i]);
        w->n_kinds += ok;
    }
    if (!ok)
        s_waiter_destroy (&w);
    return w;
}

//  Leases what the waiter can take now, inside txn.
static int
s_waiter_lease (self_t *self, MDB_txn *txn, s_waiter_t *w, int64_t now)
{
    mem_job_lease_t req = {(const char *const *) w->kinds, w->n_kinds, w->limits, w->max_jobs,
                           REPLY_BYTES_MAX, w->lease_ms, w->worker};
    return mem_jobs_lease (self->ctx->store, txn, &req, now, w->jobs, &w->n_jobs);
}

//  --------------------------------------------------------------------------
//  Replies

//  Sends [identity][reply] to the frontend; takes both.
static void
s_send (self_t *self, zframe_t **identity_p, zframe_t *reply)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_append (msg, identity_p);
    if (reply)
        zmsg_append (msg, &reply);
    else {
        mem_log_error ("reaper: cannot pack a reply");
        zmsg_addmem (msg, NULL, 0);
    }
    zmsg_send (&msg, self->frontend);
}

//  Packs an OK reply around one result, set by the caller in reply.
static zframe_t *
s_pack_ok (Memd__V1__Reply *reply, uint64_t request_id, Memd__V1__Status *status)
{
    reply->request_id = request_id;
    reply->status = status;
    return mem_codec_pack (&reply->base);
}

//  Answers a waiter with the jobs it holds (maybe none) and destroys it.
static void
s_waiter_answer (self_t *self, s_waiter_t **w_p)
{
    s_waiter_t *w = *w_p;
    Memd__V1__JobLeaseResult result = MEMD__V1__JOB_LEASE_RESULT__INIT;
    result.jobs = w->jobs;
    result.n_jobs = w->n_jobs;
    Memd__V1__Status status = MEMD__V1__STATUS__INIT;
    Memd__V1__Reply reply = MEMD__V1__REPLY__INIT;
    reply.result_case = MEMD__V1__REPLY__RESULT_JOB_LEASE;
    reply.job_lease = &result;
    s_send (self, &w->identity, s_pack_ok (&reply, w->request_id, &status));
    for (size_t i = 0; i < w->n_jobs; i++)
        mem_job_events_changed (self->events, w->jobs[i]);
    s_waiter_destroy (w_p);
}

//  Tells the frontend, when it changed, how many Lease requests are parked
//  (for status) and whether any job is leased (work in flight, which holds
//  the daemon awake): one frame of two u32.
static void
s_tell_waiting (self_t *self)
{
    uint32_t told[2] = {(uint32_t) self->n_waiting, self->leased};
    if (told[0] == self->waiting_told && told[1] == self->leased_told)
        return;
    zframe_t *frame = zframe_new (told, sizeof told);
    if (zframe_send (&frame, self->frontend, ZFRAME_DONTWAIT) == 0) {
        self->waiting_told = told[0];
        self->leased_told = told[1];
    }
    else
        zframe_destroy (&frame);
}

//  Answers and unparks every waiter that got jobs in the last transaction.
static void
s_answer_served (self_t *self)
{
    size_t kept = 0;
    for (size_t i = 0; i < self->n_waiting; i++) {
        if (self->waiting[i]->n_jobs)
            s_waiter_answer (self, &self->waiting[i]);
        else
            self->waiting[kept++] = self->waiting[i];
    }
    self->n_waiting = kept;
}

//  After a failed transaction nothing was leased: the waiters keep waiting.
static void
s_forget_served (self_t *self)
{
    for (size_t i = 0; i < self->n_waiting; i++)
        s_waiter_free_jobs (self->waiting[i]);
}

//  --------------------------------------------------------------------------
//  The group: apply, dispatch, commit, answer

static bool
s_is_refusal (int rc)
{
    return rc == MDB_NOTFOUND || rc == MEM_JOBS_STALE || rc == MEM_JOBS_KINDS_FULL
        || rc == MEM_JOBS_DEDUPE_TAKEN || rc == EINVAL;
}

static void
s_item_reset (s_item_t *item)
{
    item->rc = 0;
    memset (&item->enq, 0, sizeof item->enq);
    if (item->job)
        memd__v1__job__free_unpacked (item->job, NULL);
    item->job = NULL;
    if (item->lease)
        s_waiter_free_jobs (item->lease);
    free (item->ids);
    item->ids = NULL;
    item->n_ids = 0;
    item->count = 0;
    item->more = false;
    while (item->n_list)
        memd__v1__job__free_unpacked (item->list[--item->n_list], NULL);
    free (item->list);
    item->list = NULL;
}

static void
s_item_clear (s_item_t *item)
{
    s_item_reset (item);
    s_waiter_destroy (&item->lease);
    zframe_destroy (&item->identity);
    if (item->req)
        memd__v1__request__free_unpacked (item->req, NULL);
    memset (item, 0, sizeof *item);
}

//  After a refusal: the job as it is, for the error message.
static int
s_describe (self_t *self, MDB_txn *txn, s_item_t *item, uint64_t id)
{
    int rc = mem_jobs_get (self->ctx->store, txn, id, &item->job);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

//  Retry or Purge of dead letters: the ids given, or a bounded step of all
//  (of kind). Refused ids go to item->ids.
static int
s_apply_bulk (self_t *self, MDB_txn *txn, s_item_t *item, int64_t now, bool retry)
{
    mem_store_t *store = self->ctx->store;
    const uint64_t *given = retry ? item->req->job_retry->ids : item->req->job_purge->ids;
    size_t n = retry ? item->req->job_retry->n_ids : item->req->job_purge->n_ids;
    const char *kind = retry ? item->req->job_retry->kind : item->req->job_purge->kind;
    uint64_t *ids = NULL;
    int rc = 0;
    if (n == 0) {
        ids = calloc (BULK_STEP, sizeof *ids);
        if (!ids)
            return ENOMEM;
        rc = mem_jobs_list_ids (store, txn, MEMD__V1__JOB_STATE__JOB_DEAD, kind, 0, BULK_STEP, ids,
                                &n, &item->more);
        given = ids;
    }
    item->ids = calloc (n ? n : 1, sizeof *item->ids);
    if (!item->ids)
        rc = ENOMEM;
    for (size_t i = 0; i < n && !rc; i++) {
        int one = retry ? mem_jobs_retry (store, txn, given[i], now)
                        : mem_jobs_purge (store, txn, given[i], now);
        if (one == 0)
            item->count++;
        else if (s_is_refusal (one))
            item->ids[item->n_ids++] = given[i];
        else
            rc = one;
    }
    free (ids);
    return rc;
}

//  Lists jobs (with payloads, up to REPLY_BYTES_MAX).
static int
s_apply_list (self_t *self, MDB_txn *txn, s_item_t *item)
{
    const Memd__V1__JobList *l = item->req->job_list;
    size_t limit = l->limit ? l->limit : LIST_DEFAULT;
    item->ids = calloc (limit, sizeof *item->ids);
    item->list = calloc (limit, sizeof *item->list);
    if (!item->ids || !item->list)
        return ENOMEM;
    size_t n;
    int rc = mem_jobs_list_ids (self->ctx->store, txn, l->state, l->kind, l->after_id, limit,
                                item->ids, &n, &item->more);
    size_t bytes = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (bytes >= REPLY_BYTES_MAX) {
            item->more = true;
            break;
        }
        rc = mem_jobs_get (self->ctx->store, txn, item->ids[i], &item->list[item->n_list]);
        if (rc == MDB_NOTFOUND)
            rc = MDB_CORRUPTED;   //  listed by the index, not in the table
        if (!rc)
            bytes += item->list[item->n_list++]->payload.len + 64;
    }
    return rc;
}

//  Applies one request in txn. Returns an LMDB code that must abort the
//  whole group, or 0 (the request's own refusal is in item->rc).
static int
s_apply (self_t *self, MDB_txn *txn, s_item_t *item, int64_t now)
{
    mem_store_t *store = self->ctx->store;
    const Memd__V1__Request *req = item->req;
    mem_jobs_config_t *jobs = &self->ctx->jobs;
    int rc = 0;
    switch (req->op_case) {
    case MEMD__V1__REQUEST__OP_JOB_ENQUEUE: {
        const Memd__V1__JobEnqueue *e = req->job_enqueue;
        mem_job_spec_t spec = {e->kind,           e->payload.data,
                               e->payload.len,    e->dedupe_key,
                               e->max_attempts ? e->max_attempts : jobs->max_attempts,
                               e->delay_ms,       e->depends_on,
                               e->n_depends_on};
        rc = mem_jobs_enqueue (store, txn, &spec, now, &item->enq);
        break;
    }
    case MEMD__V1__REQUEST__OP_JOB_LEASE:
        if (!item->lease && !(item->lease = s_waiter_new (self, req)))
            return ENOMEM;
        rc = s_waiter_lease (self, txn, item->lease, now);
        break;
    case MEMD__V1__REQUEST__OP_JOB_COMPLETE:
        rc = mem_jobs_complete (store, txn, req->job_complete->id, req->job_complete->fence, now,
                                &self->policy, &item->job);
        if (rc == MEM_JOBS_STALE && s_describe (self, txn, item, req->job_complete->id))
            return MDB_CORRUPTED;
        break;
    case MEMD__V1__REQUEST__OP_JOB_FAIL: {
        const Memd__V1__JobFail *f = req->job_fail;
        rc = mem_jobs_fail (store, txn, f->id, f->fence, f->fatal, f->error, f->retry_after_ms,
                            now, &self->policy, &item->job);
        if (rc == MEM_JOBS_STALE && s_describe (self, txn, item, f->id))
            return MDB_CORRUPTED;
        break;
    }
    case MEMD__V1__REQUEST__OP_JOB_EXTEND: {
        const Memd__V1__JobExtend *x = req->job_extend;
        int64_t lease_ms = x->lease_ms ? x->lease_ms : jobs->lease_ms;
        rc = mem_jobs_extend (store, txn, x->id, x->fence, lease_ms, now, &item->job);
        if (rc == MEM_JOBS_STALE && s_describe (self, txn, item, x->id))
            return MDB_CORRUPTED;
        break;
    }
    case MEMD__V1__REQUEST__OP_JOB_RETRY:
        return s_apply_bulk (self, txn, item, now, true);
    case MEMD__V1__REQUEST__OP_JOB_PURGE:
        return s_apply_bulk (self, txn, item, now, false);
    case MEMD__V1__REQUEST__OP_JOB_LIST:
        return s_apply_list (self, txn, item);
    default:
        item->rc = EINVAL;   //  not a job operation: the frontend misrouted it
        return 0;
    }
    if (s_is_refusal (rc)) {
        item->rc = rc;
        return 0;
    }
    return rc;
}

//  Hands due jobs to parked leases (oldest first), then to this group's
//  leases that found nothing and will otherwise park.
static int
s_dispatch (self_t *self, MDB_txn *txn, int64_t now)
{
    //  A lease that got fewer jobs than it asked for drained its kinds (or
    //  they are at their limits) for the rest of this transaction.
    s_kind_set_t drained = {{NULL}, 0};
    int rc = 0;
    size_t n = self->n_waiting + self->n_items;
    for (size_t i = 0; i < n && !rc; i++) {
        s_waiter_t *w = i < self->n_waiting ? self->waiting[i]
                                            : self->items[i - self->n_waiting].lease;
        if (!w || w->n_jobs || (i >= self->n_waiting && (w->wait_ms == 0 || self->draining)))
            continue;
        size_t k = 0;
        while (k < w->n_kinds && s_kind_set_has (&drained, w->kinds[k]))
            k++;
        if (k == w->n_kinds)
            continue;
        rc = s_waiter_lease (self, txn, w, now);
        if (!rc && w->n_jobs < w->max_jobs)
            for (k = 0; k < w->n_kinds; k++)
                s_kind_set_add (&drained, w->kinds[k]);
    }
    return rc;
}

typedef struct {
    self_t *self;
    bool expire, more;
} s_write_arg_t;

//  The group's requests (if any), expired leases (if expire) and the
//  dispatch, inside one transaction (redone from scratch after a growth).
static int
s_write_work (MDB_txn *txn, void *arg)
{
    s_write_arg_t *w = arg;
    self_t *self = w->self;
    mem_store_t *store = self->ctx->store;
    w->more = false;
    self->n_expired = 0;
    for (size_t i = 0; i < self->n_items; i++)
        s_item_reset (&self->items[i]);
    s_forget_served (self);
    int64_t now = mem_now_ms ();
    int rc = 0;
    for (size_t i = 0; i < self->n_items && !rc; i++)
        if (self->items[i].req)
            rc = s_apply (self, txn, &self->items[i], now);
    if (!rc && w->expire) {
        size_t n;
        rc = mem_jobs_expire (store, txn, now, EXPIRE_STEP, &self->policy, &n, &w->more,
                              self->expired);
        self->n_expired = rc ? 0 : n;
        if (!rc && n)
            mem_log_debug ("reaper: %zu expired lease(s)", n);
    }
    if (!rc)
        rc = s_dispatch (self, txn, now);
    return rc;
}

//  One write transaction for the group, expiry and dispatch. Returns 0 or
//  the code that failed it. *more: expired leases remain.
static int
s_write (self_t *self, bool expire, bool *more)
{
    s_write_arg_t w = {self, expire, false};
    int rc = mem_store_write (self->ctx->store, s_write_work, &w);
    *more = w.more;
    return rc;
}

//  The reply to one request of a committed group.
static zframe_t *
s_item_reply (self_t *self, s_item_t *item)
{
    const Memd__V1__Request *req = item->req;
    uint64_t request_id = req->request_id;
    Memd__V1__Job *job = item->job;
    if (item->rc == MEM_JOBS_STALE) {
        int op = req->op_case;
        uint64_t fence = op == MEMD__V1__REQUEST__OP_JOB_COMPLETE ? req->job_complete->fence
                       : op == MEMD__V1__REQUEST__OP_JOB_FAIL     ? req->job_fail->fence
                                                                  : req->job_extend->fence;
        const ProtobufCEnumValue *state = job ? protobuf_c_enum_descriptor_get_value (
                                                    &memd__v1__job_state__descriptor, job->state)
                                              : NULL;
        return mem_codec_error_reply (
            request_id, MEM_PERMISSION_DENIED,
            "stale fence: job %llu is not leased with fence %llu (it is %s, fence %llu); "
            "the lease was lost, drop this result",
            (unsigned long long) (job ? job->id : 0), (unsigned long long) fence,
            state ? state->name : "gone", (unsigned long long) (job ? job->fence : 0));
    }
    if (item->rc == MDB_NOTFOUND && req->op_case == MEMD__V1__REQUEST__OP_JOB_ENQUEUE)
        return mem_codec_error_reply (request_id, MEM_NOT_FOUND,
                                      "depends_on: job %llu does not exist",
                                      (unsigned long long) item->enq.bad_dependency);
    if (item->rc == MDB_NOTFOUND) {
        uint64_t id = req->op_case == MEMD__V1__REQUEST__OP_JOB_COMPLETE ? req->job_complete->id
                    : req->op_case == MEMD__V1__REQUEST__OP_JOB_FAIL   ? req->job_fail->id
                                                                       : req->job_extend->id;
        return mem_codec_error_reply (request_id, MEM_NOT_FOUND, "job %llu not found",
                                      (unsigned long long) id);
    }
    if (item->rc == MEM_JOBS_KINDS_FULL)
        return mem_codec_error_reply (request_id, MEM_RESOURCE_EXHAUSTED,
                                      "too many job kinds (at most %d)", MEM_JOBS_MAX_KINDS);
    if (item->rc)
        return mem_codec_error_reply (request_id, MEM_INVALID_ARGUMENT,
                                      "invalid job request (operation %d)", req->op_case);

    char message[160] = "";
    Memd__V1__Status status = MEMD__V1__STATUS__INIT;
    status.message = message;
    Memd__V1__Reply reply = MEMD__V1__REPLY__INIT;
    switch (req->op_case) {
    case MEMD__V1__REQUEST__OP_JOB_ENQUEUE: {
        Memd__V1__JobEnqueueResult result = MEMD__V1__JOB_ENQUEUE_RESULT__INIT;
        result.id = item->enq.id;
        result.duplicate = item->enq.duplicate;
        reply.result_case = MEMD__V1__REPLY__RESULT_JOB_ENQUEUE;
        reply.job_enqueue = &result;
        return s_pack_ok (&reply, request_id, &status);
    }
    case MEMD__V1__REQUEST__OP_JOB_COMPLETE:
    case MEMD__V1__REQUEST__OP_JOB_FAIL:
    case MEMD__V1__REQUEST__OP_JOB_EXTEND: {
        Memd__V1__JobResult result = MEMD__V1__JOB_RESULT__INIT;
        result.job = job;
        reply.result_case = MEMD__V1__REPLY__RESULT_JOB;
        reply.job = &result;
        return s_pack_ok (&reply, request_id, &status);
    }
    case MEMD__V1__REQUEST__OP_JOB_RETRY:
    case MEMD__V1__REQUEST__OP_JOB_PURGE: {
        bool retry = req->op_case == MEMD__V1__REQUEST__OP_JOB_RETRY;
        Memd__V1__JobRetryResult r = MEMD__V1__JOB_RETRY_RESULT__INIT;
        Memd__V1__JobPurgeResult p = MEMD__V1__JOB_PURGE_RESULT__INIT;
        r.retried = p.purged = item->count;
        r.missing = p.missing = item->ids;
        r.n_missing = p.n_missing = item->n_ids;
        r.more = p.more = item->more;
        if (item->n_ids) {
            bool given = retry ? req->job_retry->n_ids : req->job_purge->n_ids;
            status.code = given ? MEM_NOT_FOUND : MEM_OK;
            snprintf (message, sizeof message, "%zu job(s) %s: not dead letters%s", item->n_ids,
                      retry ? "not retried" : "not purged",
                      retry ? ", or their dedupe key is held by an unfinished job" : "");
        }
        if (retry) {
            reply.result_case = MEMD__V1__REPLY__RESULT_JOB_RETRY;
            reply.job_retry = &r;
        }
        else {
            reply.result_case = MEMD__V1__REPLY__RESULT_JOB_PURGE;
            reply.job_purge = &p;
        }
        return s_pack_ok (&reply, request_id, &status);
    }
    case MEMD__V1__REQUEST__OP_JOB_LIST: {
        Memd__V1__JobListResult result = MEMD__V1__JOB_LIST_RESULT__INIT;
        result.jobs = item->list;
        result.n_jobs = item->n_list;
        result.more = item->more;
        reply.result_case = MEMD__V1__REPLY__RESULT_JOB_LIST;
        reply.job_list = &result;
        return s_pack_ok (&reply, request_id, &status);
    }
    default:
        return mem_codec_error_reply (request_id, MEM_INTERNAL, "reaper: no reply for op %d",
                                      req->op_case);
    }
}

//  Answers every request of the group (rc: the transaction's fate), parks
//  the leases that found nothing and may wait, and clears the group.
static void
s_group_reply (self_t *self, int rc, int64_t now)
{
    for (size_t i = 0; i < self->n_items; i++) {
        s_item_t *item = &self->items[i];
        s_waiter_t *w = item->lease;
        zframe_t *reply;
        if (!item->req)
            reply = mem_codec_error_reply (0, MEM_INTERNAL, "reaper: request did not decode");
        else if (rc)
            reply = mem_codec_error_reply (item->req->request_id, mem_code_from_store (rc),
                                           "job store write failed, nothing was changed: %s",
                                           rc == ENOSPC ? "the disk is full" : mdb_strerror (rc));
        else if (w && w->n_jobs == 0 && w->wait_ms > 0 && !self->draining) {
            if (self->n_waiting < self->ctx->jobs.max_waiting) {
                w->identity = item->identity;
                item->identity = NULL;
                w->deadline_ms = now + w->wait_ms;
                self->waiting[self->n_waiting++] = w;
                item->lease = NULL;
                s_item_clear (item);
                continue;
            }
            reply = mem_codec_error_reply (item->req->request_id, MEM_RESOURCE_EXHAUSTED,
                                           "%zu Lease requests are waiting already; retry later",
                                           self->n_waiting);
        }
        else if (w) {
            w->identity = item->identity;
            item->identity = NULL;
            item->lease = NULL;
            s_waiter_answer (self, &w);
            s_item_clear (item);
            continue;
        }
        else {
            reply = s_item_reply (self, item);
            if (item->rc == 0 && item->req->op_case == MEMD__V1__REQUEST__OP_JOB_ENQUEUE)
                mem_job_events_enqueued (self->events, item->req->job_enqueue, &item->enq);
            else if (item->rc == 0 && item->req->op_case != MEMD__V1__REQUEST__OP_JOB_EXTEND)
                mem_job_events_changed (self->events, item->job);   //  Complete, Fail
        }
        s_send (self, &item->identity, reply);
        s_item_clear (item);
    }
    self->n_items = 0;
    if (rc)
        s_forget_served (self);
    else
        s_answer_served (self);
}

//  Takes one request off the frontend socket into the group.
static void
s_take (self_t *self)
{
    zmsg_t *msg = zmsg_recv (self->frontend);
    if (!msg)
        return;
    s_item_t *item = &self->items[self->n_items++];
    memset (item, 0, sizeof *item);
    item->identity = zmsg_pop (msg);
    zframe_t *bytes = zmsg_pop (msg);
    if (bytes)
        item->req = mem_codec_request_decode (zframe_data (bytes), zframe_size (bytes));
    zframe_destroy (&bytes);
    zmsg_destroy (&msg);
}

//  Group commit of everything queued now.
static void
s_self_handle_frontend (self_t *self)
{
    s_take (self);
    while (self->n_items < GROUP_MAX && (zsock_events (self->frontend) & ZMQ_POLLIN))
        s_take (self);
    bool more;
    int rc = s_write (self, false, &more);
    if (rc)
        mem_log_error ("reaper: write of %zu job requests failed: %s", self->n_items,
                       mdb_strerror (rc));
    s_group_reply (self, rc, mem_now_ms ());
}

//  --------------------------------------------------------------------------
//  Deadlines and wakes

//  True if a parked lease could take a job now (checked read-only, so that
//  a wake with nothing for anyone costs no write transaction).
static bool
s_dispatch_possible (self_t *self, int64_t now)
{
    if (self->n_waiting == 0)
        return false;
    MDB_txn *txn;
    if (mem_store_read_begin (self->ctx->store, &txn))
        return true;   //  unknown is not "nothing": let the write find out
    bool possible = false;
    s_kind_set_t checked = {{NULL}, 0};
    for (size_t i = 0; i < self->n_waiting && !possible; i++) {
        s_waiter_t *w = self->waiting[i];
        for (size_t k = 0; k < w->n_kinds && !possible; k++) {
            if (s_kind_set_has (&checked, w->kinds[k]))
                continue;   //  same kind, same limit: same answer
            int64_t due;
            uint64_t leased;
            if (mem_jobs_next_due (self->ctx->store, txn, w->kinds[k], &due, &leased))
                possible = true;
            else
                possible = due && due <= now && (!w->limits[k] || leased < w->limits[k]);
            s_kind_set_add (&checked, w->kinds[k]);
        }
    }
    mem_store_read_end (self->ctx->store, &txn);
    return possible;
}

//  A background step (expired leases and/or dispatch) in its own transaction.
static void
s_background (self_t *self, bool expire)
{
    bool more = false;
    int rc = s_write (self, expire, &more);
    if (rc) {
        //  Unknown is not "nothing to do": try again, but not in a tight loop.
        mem_log_error ("reaper: %s failed: %s; retrying in %d ms",
                       expire ? "expiring leases" : "dispatching jobs", mdb_strerror (rc),
                       STALL_MS);
        self->stalled_until = mem_now_ms () + STALL_MS;
        s_forget_served (self);
    }
    else {
        mem_job_events_expired (self->events, self->ctx->store, self->expired, self->n_expired);
        s_answer_served (self);
    }
}

//  Everything due at now: expired leases (one bounded step; the next poll
//  returns at once if more remain), parked leases that can be served, and
//  parked leases whose wait is over.
static void
s_deadlines (self_t *self)
{
    int64_t now = mem_now_ms ();
    int64_t expiry = 0;
    MDB_txn *txn;
    if (mem_store_read_begin (self->ctx->store, &txn) == 0) {
        if (mem_jobs_next_expiry (self->ctx->store, txn, &expiry))
            expiry = 0;
        mem_store_read_end (self->ctx->store, &txn);
    }
    self->leased = expiry != 0;   //  every leased job has a lease expiry
    if (now < self->stalled_until)
        ;   //  the last background write failed: wait before the next
    else if (expiry && expiry <= now)
        s_background (self, true);
    else if (s_dispatch_possible (self, now))
        s_background (self, false);
    size_t kept = 0;
    for (size_t i = 0; i < self->n_waiting; i++) {
        if (self->waiting[i]->deadline_ms <= now)
            s_waiter_answer (self, &self->waiting[i]);   //  empty: the wait is over
        else
            self->waiting[kept++] = self->waiting[i];
    }
    self->n_waiting = kept;
}

//  Milliseconds until the earliest real deadline, or -1 for none.
static int
s_timeout (self_t *self)
{
    int64_t now = mem_now_ms (), next = INT64_MAX;
    for (size_t i = 0; i < self->n_waiting; i++)
        if (self->waiting[i]->deadline_ms < next)
            next = self->waiting[i]->deadline_ms;
    MDB_txn *txn;
    if (mem_store_read_begin (self->ctx->store, &txn) == 0) {
        int64_t expiry;
        if (mem_jobs_next_expiry (self->ctx->store, txn, &expiry) == 0 && expiry && expiry < next)
            next = expiry;
        //  A delayed job or a retry matters only to a parked lease that wants its kind.
        s_kind_set_t checked = {{NULL}, 0};
        for (size_t i = 0; i < self->n_waiting; i++) {
            s_waiter_t *w = self->waiting[i];
            for (size_t k = 0; k < w->n_kinds; k++) {
                if (s_kind_set_has (&checked, w->kinds[k]))
                    continue;
                s_kind_set_add (&checked, w->kinds[k]);
                int64_t due;
                uint64_t leased;
                if (mem_jobs_next_due (self->ctx->store, txn, w->kinds[k], &due, &leased) == 0
                    && due > now && due < next)
                    next = due;
            }
        }
        mem_store_read_end (self->ctx->store, &txn);
    }
    else
        next = now + 1000;   //  cannot read the store: look again soon, say why
    if (next == INT64_MAX)
        return -1;
    if (next < self->stalled_until)
        next = self->stalled_until;
    int64_t wait = next - now;
    return wait <= 0 ? 0 : wait > INT32_MAX ? INT32_MAX : (int) wait;
}

//  Wakes from other actors: take them all, then look at the store once.
static void
s_self_handle_wake (self_t *self)
{
    while (zsock_events (self->wake) & ZMQ_POLLIN) {
        zframe_t *frame = zframe_recv (self->wake);
        zframe_destroy (&frame);
    }
    //  s_deadlines, run after every event, serves the parked leases.
}

//  --------------------------------------------------------------------------
//  The actor

static void
s_drain (self_t *self)
{
    self->draining = true;
    for (size_t i = 0; i < self->n_waiting; i++) {
        s_waiter_t *w = self->waiting[i];
        s_send (self, &w->identity,
                mem_codec_error_reply (w->request_id, MEM_UNAVAILABLE, "memd is shutting down"));
        s_waiter_destroy (&self->waiting[i]);
    }
    self->n_waiting = 0;
}

static void
s_self_handle_pipe (self_t *self)
{
    char *command = zstr_recv (self->pipe);
    if (!command || streq (command, "$TERM"))
        self->terminated = true;
    else if (streq (command, "DRAIN")) {
        s_drain (self);
        zstr_send (self->pipe, "DRAINED");
    }
    else
        mem_log_error ("reaper: unknown command %s", command);
    zstr_free (&command);
}

static int
s_self_start (self_t *self, char *err, size_t err_size)
{
    mem_context_t *ctx = self->ctx;
    self->waiting = calloc (ctx->jobs.max_waiting, sizeof *self->waiting);
    self->frontend = zsock_new (ZMQ_PAIR);
    self->wake = zsock_new (ZMQ_PULL);
    if (!self->waiting || !self->frontend || !self->wake) {
        snprintf (err, err_size, "reaper: out of memory");
        return -1;
    }
    zsock_set_rcvhwm (self->frontend, (int) ctx->jobs.queue);
    zsock_set_sndhwm (self->frontend, 0);
    zsock_set_rcvhwm (self->wake, WAKE_HWM);
    if (zsock_bind (self->frontend, MEM_INPROC_REAPER) < 0
        || zsock_bind (self->wake, MEM_INPROC_REAPER_WAKE) < 0) {
        snprintf (err, err_size, "reaper: cannot bind: %s", zmq_strerror (zmq_errno ()));
        return -1;
    }
    self->poller = zpoller_new (self->pipe, self->frontend, self->wake, NULL);
    self->events = mem_events_new ();   //  none is no failure: events are best effort
    uint64_t seed;
    if (getrandom (&seed, sizeof seed, 0) != sizeof seed)
        seed = (uint64_t) mem_now_ms () ^ ((uint64_t) getpid () << 32);
    self->policy = (mem_jobs_policy_t){ctx->jobs.backoff_ms, ctx->jobs.backoff_max_ms,
                                       ctx->jobs.history, seed | 1};

    //  Boot: the deadlines are the store's indexes; say what is waiting.
    MDB_txn *txn;
    mem_job_kind_stats_t *kinds = NULL;
    size_t n_kinds = 0;
    int64_t expiry = 0;
    if (mem_store_read_begin (ctx->store, &txn) == 0) {
        mem_jobs_stats (ctx->store, txn, mem_now_ms (), &kinds, &n_kinds);
        mem_jobs_next_expiry (ctx->store, txn, &expiry);
        mem_store_read_end (ctx->store, &txn);
    }
    uint64_t queued = 0, leased = 0, dead = 0;
    for (size_t i = 0; i < n_kinds; i++) {
        queued += kinds[i].count[MEMD__V1__JOB_STATE__JOB_QUEUED]
                + kinds[i].count[MEMD__V1__JOB_STATE__JOB_FAILED]
                + kinds[i].count[MEMD__V1__JOB_STATE__JOB_BLOCKED];
        leased += kinds[i].count[MEMD__V1__JOB_STATE__JOB_LEASED];
        dead += kinds[i].count[MEMD__V1__JOB_STATE__JOB_DEAD];
    }
    free (kinds);
    if (queued || leased || dead)
        mem_log_info ("reaper: %llu job(s) waiting, %llu leased (next expiry in %lld ms), "
                      "%llu dead",
                      (unsigned long long) queued, (unsigned long long) leased,
                      (long long) (expiry ? expiry - mem_now_ms () : 0),
                      (unsigned long long) dead);
    return 0;
}

void
mem_reaper_actor (zsock_t *pipe, void *args)
{
    //  A name the idle test (and top -H) can find this thread by.
    prctl (PR_SET_NAME, "memd-reaper", 0, 0, 0);
    self_t *self = calloc (1, sizeof *self);
    self->pipe = pipe;
    self->ctx = args;
    zsock_signal (pipe, 0);

    char *command = zstr_recv (pipe);
    char err[256] = "reaper: no START";
    bool started
        = command && streq (command, "START") && s_self_start (self, err, sizeof err) == 0;
    zstr_free (&command);
    zstr_send (pipe, started ? "OK" : err);
    while (started && !self->terminated) {
        s_deadlines (self);
        s_tell_waiting (self);
        void *which = zpoller_wait (self->poller, s_timeout (self));
        if (which == self->pipe)
            s_self_handle_pipe (self);
        else if (which == self->frontend)
            s_self_handle_frontend (self);
        else if (which == self->wake)
            s_self_handle_wake (self);
        else if (zpoller_terminated (self->poller))
            break;
    }
    for (size_t i = 0; i < self->n_waiting; i++)
        s_waiter_destroy (&self->waiting[i]);
    for (size_t i = 0; i < self->n_items; i++)
        s_item_clear (&self->items[i]);
    free (self->waiting);
    zpoller_destroy (&self->poller);
    zsock_destroy (&self->frontend);
    zsock_destroy (&self->wake);
    zsock_destroy (&self->events);
    free (self);
}

//  --------------------------------------------------------------------------
//  Helpers for other actors

uint32_t
mem_reaper_kind_limit (const mem_jobs_config_t *jobs, const char *kind)
{
    for (size_t i = 0; i < jobs->n_limits; i++)
        if (streq (jobs->limits[i].kind, kind))
            return jobs->limits[i].limit;
    return 0;
}

zsock_t *
mem_reaper_waker_new (void)
{
    return mem_wake_line_new (MEM_INPROC_REAPER_WAKE);
}

void
mem_reaper_wake (zsock_t *waker)
{
    mem_wake_line_send (waker);
}

//  --------------------------------------------------------------------------
//  Selftest: the reaper in-process, with this thread as its frontend and as
//  an actor that enqueues in its own transactions (the outbox) and wakes it.

#undef NDEBUG
#include <assert.h>

//  Sends [identity][Lease] on the frontend socket.
static void
s_test_send_lease (zsock_t *frontend, const char *identity, const char *kind, int64_t wait_ms)
{
    char *kinds[] = {(char *) kind};
    Memd__V1__JobLease lease = MEMD__V1__JOB_LEASE__INIT;
    lease.kinds = kinds;
    lease.n_kinds = 1;
    lease.wait_ms = wait_ms;
    Memd__V1__Request req = MEMD__V1__REQUEST__INIT;
    req.request_id = 7;
    req.op_case = MEMD__V1__REQUEST__OP_JOB_LEASE;
    req.job_lease = &lease;
    zframe_t *bytes = mem_codec_pack (&req.base);
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, identity);
    zmsg_append (msg, &bytes);
    zmsg_send (&msg, frontend);
}

//  The next message from the reaper within timeout_ms: a reply (decoded into
//  *reply) or a waiting-count snapshot (*waiting). False on timeout.
static bool
s_test_recv (zsock_t *frontend, int timeout_ms, Memd__V1__Reply **reply, int *waiting)
{
    *reply = NULL;
    *waiting = -1;
    zsock_set_rcvtimeo (frontend, timeout_ms);
    zmsg_t *msg = zmsg_recv (frontend);
    if (!msg)
        return false;
    zframe_t *last = zmsg_last (msg);
    if (zmsg_size (msg) == 1) {
        uint32_t told[2];
        assert (zframe_size (last) == sizeof told);
        memcpy (told, zframe_data (last), sizeof told);
        *waiting = (int) told[0];
    }
    else
        *reply = memd__v1__reply__unpack (NULL, zframe_size (last), zframe_data (last));
    zmsg_destroy (&msg);
    return true;
}

//  Waits for the next reply, skipping snapshots.
static Memd__V1__Reply *
s_test_reply (zsock_t *frontend, int timeout_ms)
{
    int64_t deadline = mem_mono_ms () + timeout_ms;
    Memd__V1__Reply *reply = NULL;
    int waiting;
    while (!reply && mem_mono_ms () < deadline)
        if (!s_test_recv (frontend, (int) (deadline - mem_mono_ms ()), &reply, &waiting))
            break;
    return reply;
}

//  Waits until the reaper says n leases are parked.
static void
s_test_wait_parked (zsock_t *frontend, int n)
{
    Memd__V1__Reply *reply;
    int waiting = -1;
    while (waiting != n) {
        assert (s_test_recv (frontend, 10000, &reply, &waiting));
        assert (!reply);
    }
}

void
mem_reaper_test (bool verbose)
{
    printf (" * mem_reaper: ");
    char dir[] = "/tmp/mem_reaper_test.XXXXXX";
    assert (mkdtemp (dir));
    char err[512];
    mem_store_options_t opts;
    mem_store_options_default (&opts);
    opts.dir = dir;
    opts.sync = MEM_SYNC_NONE;
    mem_context_t ctx;
    memset (&ctx, 0, sizeof ctx);
    ctx.store = mem_store_open (&opts, err, sizeof err);
    assert (ctx.store);
    mem_limits_default (&ctx.limits);
    ctx.jobs = (mem_jobs_config_t){.lease_ms = 30000, .max_attempts = 3, .backoff_ms = 100,
                                   .backoff_max_ms = 1000, .history = 10, .queue = 100,
                                   .max_waiting = 10};
    zactor_t *reaper = mem_actor_start (mem_reaper_actor, &ctx, err, sizeof err);
    assert (reaper);
    zsock_t *frontend = zsock_new (ZMQ_PAIR);
    assert (zsock_connect (frontend, MEM_INPROC_REAPER) == 0);
    zsock_t *waker = mem_reaper_waker_new ();
    assert (waker);

    //  A parked lease is not answered by a job committed behind the
    //  reaper's back (nothing told it) ...
    s_test_send_lease (frontend, "worker-1", "outbox", 20000);
    s_test_wait_parked (frontend, 1);
    MDB_txn *txn;
    assert (mem_store_write_begin (ctx.store, &txn) == 0);
    mem_job_spec_t spec = {"outbox", "follow-up", 9, NULL, 0, 0, NULL, 0};
    mem_job_enqueued_t out;
    assert (mem_jobs_enqueue (ctx.store, txn, &spec, mem_now_ms (), &out) == 0);
    assert (mem_store_write_commit (ctx.store, &txn) == 0);
    assert (s_test_reply (frontend, 300) == NULL);

    //  ... but at once after a wake, and a storm of wakes never blocks.
    int64_t woke = mem_mono_ms ();
    for (int i = 0; i < 100; i++)
        mem_reaper_wake (waker);
    Memd__V1__Reply *reply = s_test_reply (frontend, 10000);
    int64_t latency = mem_mono_ms () - woke;
    assert (reply && reply->result_case == MEMD__V1__REPLY__RESULT_JOB_LEASE);
    assert (reply->job_lease->n_jobs == 1 && reply->job_lease->jobs[0]->id == out.id);
    memd__v1__reply__free_unpacked (reply, NULL);

    //  A wake while the reaper is busy with requests (of another kind) is
    //  not lost: a lease parked, then a group of requests, then a job and
    //  its wake.
    s_test_send_lease (frontend, "worker-2", "outbox", 20000);
    s_test_wait_parked (frontend, 1);
    for (int i = 0; i < 20; i++)
        s_test_send_lease (frontend, "busy", "other", 0);
    assert (mem_store_write_begin (ctx.store, &txn) == 0);
    assert (mem_jobs_enqueue (ctx.store, txn, &spec, mem_now_ms (), &out) == 0);
    assert (mem_store_write_commit (ctx.store, &txn) == 0);
    mem_reaper_wake (waker);
    bool served = false;
    for (int i = 0; i < 21; i++) {
        reply = s_test_reply (frontend, 10000);
        assert (reply && reply->result_case == MEMD__V1__REPLY__RESULT_JOB_LEASE);
        served |= reply->job_lease->n_jobs == 1 && reply->job_lease->jobs[0]->id == out.id;
        memd__v1__reply__free_unpacked (reply, NULL);
    }
    assert (served);

    //  Regression: a wake soon after a burst of wakes was lost when ZeroMQ
    //  still counted the burst as unread (the reader's acknowledgements are
    //  processed by a send only now and then), and the parked lease then
    //  waited for its timeout. Bursts, then single wakes, many times.
    for (int round = 0; round < 40; round++) {
        char identity[32];
        snprintf (identity, sizeof identity, "round-%d", round);
        s_test_send_lease (frontend, identity, "outbox", 20000);
        s_test_wait_parked (frontend, 1);
        assert (mem_store_write_begin (ctx.store, &txn) == 0);
        assert (mem_jobs_enqueue (ctx.store, txn, &spec, mem_now_ms (), &out) == 0);
        assert (mem_store_write_commit (ctx.store, &txn) == 0);
        for (int i = 0; i < (round % 2 ? 1 : 64); i++)
            mem_reaper_wake (waker);
        reply = s_test_reply (frontend, 10000);
        assert (reply && reply->result_case == MEMD__V1__REPLY__RESULT_JOB_LEASE);
        assert (reply->job_lease->n_jobs == 1 && reply->job_lease->jobs[0]->id == out.id);
        memd__v1__reply__free_unpacked (reply, NULL);
    }

    //  DRAIN answers parked leases with UNAVAILABLE.
    s_test_send_lease (frontend, "worker-3", "outbox", 20000);
    s_test_wait_parked (frontend, 1);
    zstr_send (reaper, "DRAIN");
    char *drained = zstr_recv (reaper);
    assert (drained && streq (drained, "DRAINED"));
    zstr_free (&drained);
    reply = s_test_reply (frontend, 10000);
    assert (reply && reply->status && reply->status->code == MEM_UNAVAILABLE);
    memd__v1__reply__free_unpacked (reply, NULL);

    zsock_destroy (&waker);
    zsock_destroy (&frontend);
    zactor_destroy (&reaper);
    mem_store_destroy (&ctx.store);
    char cmd[256];
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    assert (system (cmd) == 0);
    if (verbose)
        printf ("(wake to lease reply %lld ms) ", (long long) latency);
    printf ("OK\n");
}
