/*  mem_job_events — the reaper's `job` events (DESIGN §6; memd.proto JobEvent).

    The reaper publishes one event per job that changed state, after the
    transaction that changed it committed: enqueued, leased, completed,
    failed (a failure or an expired lease, to be retried) and dead. Best
    effort like every event (mem_events_send): a dropped event never fails
    or delays the job operation it reports.
*/
#ifndef MEM_JOB_EVENTS_H_INCLUDED
#define MEM_JOB_EVENTS_H_INCLUDED

#include "mem_actors.h"
#include "mem_jobs.h"

/* A job as it is after a lease, Complete, Fail or expiry; the action
   follows from its state (LEASED, DONE, FAILED, DEAD). */
void mem_job_events_changed (zsock_t *events, const Memd__V1__Job *job);

/* A new job (not a dedupe hit) from its Enqueue request and what the
   store said. */
void mem_job_events_enqueued (zsock_t *events, const Memd__V1__JobEnqueue *request,
                              const mem_job_enqueued_t *enqueued);

/* Jobs whose leases expired in a committed transaction: each as it now is
   (FAILED, or DEAD when out of attempts), read back from the store. */
void mem_job_events_expired (zsock_t *events, mem_store_t *store, const uint64_t *ids, size_t n);

#endif
