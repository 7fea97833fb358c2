/*  mem_jobs — the durable job queue in LMDB (DESIGN §4 Job, §3 lessons 7, 12).

    A job is stored as a packed memd.v1.Job under its id. Small indexes
    beside it make every operation O(log n) and spare the reaper any scan:

        due     kind + due time + id   QUEUED and FAILED jobs, earliest first per kind
        leases  expiry + id            LEASED jobs, earliest expiry first
        states  state + kind + id      every job: listing, dead letters, history
        deps    dependency + waiter    BLOCKED jobs waiting for a dependency
        dedupe  kind + key → id        the one unfinished job of a dedupe key
        kinds   name → number, counts by state (stats and concurrency limits)

    Life of a job: QUEUED (or BLOCKED until its dependencies are DONE) →
    LEASED (attempts + 1, fence + 1) → DONE, or FAILED (retried after a
    backoff with jitter) → … → DEAD once fatal or out of attempts. An expired
    lease counts as a failed attempt. DEAD jobs (dead letters) go back to
    the queue with mem_jobs_retry, or away with mem_jobs_purge; the jobs that
    wait for a purged job become DEAD too. DONE jobs lose their payload and
    are kept as bounded history (policy.history per kind, oldest trimmed).

    Every function works inside the caller's write (or read) transaction, so
    a job can be enqueued in the same transaction as the data that caused it
    (the transactional outbox). Refusals (unknown id, stale fence, …) are
    decided before anything is written: a refused call leaves the txn as it
    was, and the caller may go on using it.
*/
#ifndef MEM_JOBS_H_INCLUDED
#define MEM_JOBS_H_INCLUDED

#include "mem_store.h"
#include "memd.pb-c.h"

#define MEM_JOBS_STALE          (-1001)  /* the fence does not match, or the job is not leased */
#define MEM_JOBS_KINDS_FULL     (-1002)  /* MEM_JOBS_MAX_KINDS kinds exist already */
#define MEM_JOBS_DEDUPE_TAKEN   (-1003)  /* retry: an unfinished job holds the dedupe key */

#define MEM_JOBS_MAX_KINDS            1024
#define MEM_JOBS_KIND_MAX             64     /* bytes in a kind name */
#define MEM_JOBS_ERROR_MAX            4096   /* bytes of last_error kept */
#define MEM_JOBS_MAX_ATTEMPTS_DEFAULT 5
#define MEM_JOBS_STATES               7      /* Memd__V1__JobState values */

/* What the queue's transitions need to know; the reaper fills it from
   the configuration. */
typedef struct {
    int64_t backoff_base_ms;     /* delay before the first retry (before jitter) */
    int64_t backoff_max_ms;      /* cap of the exponential backoff */
    uint64_t history;            /* DONE jobs kept per kind */
    uint64_t rng;                /* jitter state (xorshift64*); any non-zero seed */
} mem_jobs_policy_t;

/* Per-kind record in the kinds table. */
typedef struct {
    uint32_t number;             /* the kind's key prefix in the indexes */
    uint32_t reserved;
    uint64_t count[MEM_JOBS_STATES];   /* jobs by state */
} mem_job_kind_t;

/* A job to enqueue. Strings and arrays are the caller's. */
typedef struct {
    const char *kind;            /* valid per mem_jobs_kind_valid */
    const void *payload;
    size_t payload_len;
    const char *dedupe_key;      /* NULL or "": no dedupe */
    uint32_t max_attempts;       /* 0: MEM_JOBS_MAX_ATTEMPTS_DEFAULT */
    int64_t delay_ms;            /* run no sooner than now + delay */
    const uint64_t *depends_on;
    size_t n_depends;
} mem_job_spec_t;

typedef struct {
    uint64_t id;                 /* the new job, or the unfinished duplicate */
    bool duplicate;
    uint64_t bad_dependency;     /* with MDB_NOTFOUND: the id that never existed */
    int state;                   /* a new job: JOB_QUEUED, or JOB_BLOCKED on dependencies */
    uint32_t max_attempts;       /* a new job's */
    int64_t next_run_at_ms;      /* a new job's due time */
} mem_job_enqueued_t;

/* What a worker asks for in a lease. */
typedef struct {
    const char *const *kinds;
    size_t n_kinds;
    const uint32_t *limits;      /* per kind, aligned with kinds: most leased at once (0: none) */
    size_t max_jobs;
    size_t max_bytes;            /* stop once the payloads leased reach this; 0 = no bound */
    int64_t lease_ms;
    const char *owner;           /* recorded as lease_owner; may be NULL */
} mem_job_lease_t;

/* One kind's numbers, for stats. */
typedef struct {
    char kind[MEM_JOBS_KIND_MAX + 1];
    uint64_t count[MEM_JOBS_STATES];
    int64_t oldest_due_ms;       /* due time of the longest-waiting due job; 0: none due */
    int64_t next_due_ms;         /* earliest due time after now; 0: none */
} mem_job_kind_stats_t;

/* True if name is 1-64 bytes of [A-Za-z0-9_.:-]. */
bool mem_jobs_kind_valid (const char *name);

/* Exponential backoff with jitter for the retry after attempt number
   `attempts` (1-based): d = min (max, base * 2^(attempts-1)), result in
   [d/2, d]. Advances *rng. */
int64_t mem_jobs_backoff_ms (const mem_jobs_policy_t *policy, uint32_t attempts, uint64_t *rng);

/* Queues a job (see mem_job_spec_t). With a dedupe key held by an
   unfinished job of the kind, returns that job (duplicate = true) and
   writes nothing. Dependencies that are DONE or no longer exist (trimmed
   history, purged) count as finished; an id never assigned is
   MDB_NOTFOUND with out->bad_dependency set. MEM_JOBS_KINDS_FULL when the
   kind is new and there are too many. Otherwise 0 or an LMDB code (which
   must abort the txn). */
int mem_jobs_enqueue (mem_store_t *store, MDB_txn *txn, const mem_job_spec_t *spec, int64_t now_ms,
                      mem_job_enqueued_t *out);

/* Leases up to req->max_jobs due jobs of the given kinds, earliest due
   first, within the per-kind limits (and req->max_bytes of payload, but
   always one job if one is due). out gets unpacked copies (free each
   with memd__v1__job__free_unpacked); *n_out how many (0 is fine). */
int mem_jobs_lease (mem_store_t *store, MDB_txn *txn, const mem_job_lease_t *req, int64_t now_ms,
                    Memd__V1__Job **out, size_t *n_out);

/* Marks a leased job DONE and releases the jobs waiting for it. Completing
   a DONE job again with its last fence is a no-op success. MDB_NOTFOUND for
   an unknown id; MEM_JOBS_STALE for another fence or a job not leased.
   *out (if not NULL) gets the job after the change. */
int mem_jobs_complete (mem_store_t *store, MDB_txn *txn, uint64_t id, uint64_t fence,
                       int64_t now_ms, mem_jobs_policy_t *policy, Memd__V1__Job **out);

/* Fails a leased job: DEAD if fatal or out of attempts, else FAILED and due
   again after retry_after_ms (> 0) or the backoff. Errors as for complete. */
int mem_jobs_fail (mem_store_t *store, MDB_txn *txn, uint64_t id, uint64_t fence, bool fatal,
                   const char *error, int64_t retry_after_ms, int64_t now_ms,
                   mem_jobs_policy_t *policy, Memd__V1__Job **out);

/* Moves a leased job's expiry to now + lease_ms. Errors as for complete. */
int mem_jobs_extend (mem_store_t *store, MDB_txn *txn, uint64_t id, uint64_t fence,
                     int64_t lease_ms, int64_t now_ms, Memd__V1__Job **out);

/* Handles up to max leases expired at now_ms, as failed attempts. *n gets
   how many, *more whether expired leases remain; ids (NULL, or room for
   max) gets the jobs' ids. */
int mem_jobs_expire (mem_store_t *store, MDB_txn *txn, int64_t now_ms, size_t max,
                     mem_jobs_policy_t *policy, size_t *n, bool *more, uint64_t *ids);

/* A dead letter back to the queue with attempts reset (BLOCKED again if a
   dependency is unfinished). MDB_NOTFOUND if id is not a dead letter;
   MEM_JOBS_DEDUPE_TAKEN if an unfinished job holds its dedupe key. */
int mem_jobs_retry (mem_store_t *store, MDB_txn *txn, uint64_t id, int64_t now_ms);

/* Deletes a dead letter; the jobs waiting for it become DEAD.
   MDB_NOTFOUND if id is not a dead letter. */
int mem_jobs_purge (mem_store_t *store, MDB_txn *txn, uint64_t id, int64_t now_ms);

/* One job (any state); MDB_NOTFOUND if unknown. Free with
   memd__v1__job__free_unpacked. */
int mem_jobs_get (mem_store_t *store, MDB_txn *txn, uint64_t id, Memd__V1__Job **out);

/* Ids of jobs in state (0 = any) of kind (NULL/"" = any) above after_id,
   ascending, at most limit; *more if others follow. ids has room for limit. */
int mem_jobs_list_ids (mem_store_t *store, MDB_txn *txn, int state, const char *kind,
                       uint64_t after_id, size_t limit, uint64_t *ids, size_t *n, bool *more);

/* Per-kind numbers at now_ms; *kinds is malloc'd (free it), *n_kinds long. */
int mem_jobs_stats (mem_store_t *store, MDB_txn *txn, int64_t now_ms,
                    mem_job_kind_stats_t **kinds, size_t *n_kinds);

/* The earliest lease expiry; 0 if nothing is leased. */
int mem_jobs_next_expiry (mem_store_t *store, MDB_txn *txn, int64_t *expiry_ms);

/* The earliest due time of a kind's QUEUED/FAILED jobs; 0 if none (or the
   kind is unknown). *leased gets the kind's leased count. */
int mem_jobs_next_due (mem_store_t *store, MDB_txn *txn, const char *kind, int64_t *due_ms,
                       uint64_t *leased);

void mem_jobs_test (bool verbose);

#endif
