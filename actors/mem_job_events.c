/*  mem_job_events — `job` events for the reaper; see mem_job_events.h. */
#include "mem_job_events.h"

static void
s_send (zsock_t *events, Memd__V1__JobEvent *body)
{
    Memd__V1__Event event = MEMD__V1__EVENT__INIT;
    event.topic = "job";
    event.body_case = MEMD__V1__EVENT__BODY_JOB;
    event.job = body;
    mem_events_send (events, &event);
}

void
mem_job_events_changed (zsock_t *events, const Memd__V1__Job *job)
{
    if (!events || !job)
        return;
    Memd__V1__JobEvent body = MEMD__V1__JOB_EVENT__INIT;
    switch (job->state) {
    case MEMD__V1__JOB_STATE__JOB_LEASED:
        body.action = MEMD__V1__JOB_EVENT__ACTION__LEASED;
        break;
    case MEMD__V1__JOB_STATE__JOB_DONE:
        body.action = MEMD__V1__JOB_EVENT__ACTION__COMPLETED;
        break;
    case MEMD__V1__JOB_STATE__JOB_FAILED:
        body.action = MEMD__V1__JOB_EVENT__ACTION__FAILED;
        break;
    case MEMD__V1__JOB_STATE__JOB_DEAD:
        body.action = MEMD__V1__JOB_EVENT__ACTION__DEAD;
        break;
    default:
        return;   //  not a change these events report (an Extend)
    }
    body.id = job->id;
    body.kind = job->kind;
    body.state = job->state;
    body.attempts = job->attempts;
    body.max_attempts = job->max_attempts;
    body.fence = job->fence;
    body.worker = job->lease_owner;
    bool failed = job->state == MEMD__V1__JOB_STATE__JOB_FAILED;
    if (failed || job->state == MEMD__V1__JOB_STATE__JOB_DEAD)
        body.error = job->last_error;
    if (failed)
        body.next_run_at_ms = job->next_run_at_ms;
    s_send (events, &body);
}

void
mem_job_events_enqueued (zsock_t *events, const Memd__V1__JobEnqueue *request,
                         const mem_job_enqueued_t *enqueued)
{
    if (!events || enqueued->duplicate)
        return;
    Memd__V1__JobEvent body = MEMD__V1__JOB_EVENT__INIT;
    body.action = MEMD__V1__JOB_EVENT__ACTION__ENQUEUED;
    body.id = enqueued->id;
    body.kind = request->kind;
    body.state = enqueued->state;
    body.max_attempts = enqueued->max_attempts;
    body.next_run_at_ms = enqueued->next_run_at_ms;
    s_send (events, &body);
}

void
mem_job_events_expired (zsock_t *events, mem_store_t *store, const uint64_t *ids, size_t n)
{
    MDB_txn *txn;
    if (!events || n == 0 || mem_store_read_begin (store, &txn))
        return;
    for (size_t i = 0; i < n; i++) {
        Memd__V1__Job *job;
        if (mem_jobs_get (store, txn, ids[i], &job) == 0) {
            mem_job_events_changed (events, job);
            memd__v1__job__free_unpacked (job, NULL);
        }
    }
    mem_store_read_end (store, &txn);
}
