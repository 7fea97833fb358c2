/*  test_jobs — the job queue against a real memd, over ipc.

        test_jobs ENDPOINT SCENARIO [FILE]

    Scenarios (test_jobs.sh starts memd with jobs/limits=llm=1 and a short
    backoff, and runs them in turn; test_jobs_restart.sh runs the last two
    around a kill -9):

        longpoll         a parked Lease returns right after an enqueue, and
                         empty at the end of its wait
        fencing          an expired lease goes to another worker; the first
                         worker's late Complete/Fail/Extend are refused
        concurrency      kind llm (limit 1) never runs twice at once with 8
                         workers; an unlimited kind does
        deps             a chain of dependencies runs in order
        badinput         unknown id, stale fence, empty kind, oversized
                         payload, … get clear errors; memd keeps serving
        restart-before   leaves jobs queued, leased, awaiting retry and
                         delayed, and writes their deadlines to FILE
        restart-after    after a restart: each runs at its deadline, once

    Timing bounds are generous ("happens at all") except the one the issue
    asks for: a parked Lease answers within 50 ms of an enqueue's ack. */
#undef NDEBUG   //  asserts here have side effects that must run
#include <czmq.h>
#include <pthread.h>
#include <time.h>
#include "mem_codec.h"
#include "memd_client.h"
#include "test_check.h"

static const char *s_endpoint;

static int64_t
s_wall_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
s_mono_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static memd_client_t *
s_client (void)
{
    memd_client_t *client = memd_client_new (s_endpoint, 10000);
    assert (client);
    return client;
}

//  Enqueues a job; returns its id (0 on failure, which is reported).
static uint64_t
s_enqueue (memd_client_t *client, const char *kind, const char *payload, int64_t delay_ms,
           const uint64_t *deps, size_t n_deps)
{
    Memd__V1__JobEnqueue job = MEMD__V1__JOB_ENQUEUE__INIT;
    job.kind = (char *) kind;
    job.payload.data = (uint8_t *) payload;
    job.payload.len = strlen (payload);
    job.delay_ms = delay_ms;
    job.depends_on = (uint64_t *) deps;
    job.n_depends_on = n_deps;
    uint64_t id = 0;
    int rc = memd_client_job_enqueue (client, &job, &id, NULL);
    CHECK (rc == 0, "enqueue %s: %s", kind, memd_client_error (client));
    return id;
}

//  Leases up to max jobs of one kind; the reply (NULL on failure, reported).
static Memd__V1__Reply *
s_lease (memd_client_t *client, const char *kind, uint32_t max, int64_t lease_ms,
         int64_t wait_ms, const char *worker)
{
    char *kinds[] = {(char *) kind};
    Memd__V1__JobLease lease = MEMD__V1__JOB_LEASE__INIT;
    lease.kinds = kinds;
    lease.n_kinds = 1;
    lease.max_jobs = max;
    lease.lease_ms = lease_ms;
    lease.wait_ms = wait_ms;
    lease.worker = (char *) worker;
    Memd__V1__Reply *reply = memd_client_job_lease (client, &lease);
    CHECK (reply, "lease %s: %s", kind, memd_client_error (client));
    return reply;
}

static size_t
s_n_jobs (Memd__V1__Reply *reply)
{
    return reply ? reply->job_lease->n_jobs : 0;
}

//  Waits (10 s at most) until n Lease requests are parked in memd.
static void
s_wait_parked (memd_client_t *client, uint32_t n)
{
    for (int i = 0; i < 1000; i++) {
        Memd__V1__Reply *reply = memd_client_job_stats (client);
        uint32_t waiting = reply ? reply->job_stats->waiting_workers : 0;
        memd_client_reply_free (&reply);
        if (waiting == n)
            return;
        zclock_sleep (10);
    }
    CHECK (false, "%u Lease request(s) never showed as parked", n);
}

static void
s_still_serving (const char *after)
{
    memd_client_t *client = s_client ();
    CHECK (memd_client_ping (client) == 0, "memd stopped serving after %s", after);
    memd_client_destroy (&client);
}

//  --------------------------------------------------------------------------
//  longpoll

typedef struct {
    const char *kind;
    int64_t wait_ms;
    int64_t returned_us;          //  monotonic
    int64_t returned_ms;          //  wall clock
    size_t n_jobs;
    uint64_t id, fence;
    uint32_t attempts;
} s_parked_t;

static void *
s_parked_lease (void *arg)
{
    s_parked_t *p = (s_parked_t *) arg;
    memd_client_t *client = s_client ();
    Memd__V1__Reply *reply = s_lease (client, p->kind, 1, 0, p->wait_ms, "parked");
    p->returned_us = s_mono_us ();
    p->returned_ms = s_wall_ms ();
    p->n_jobs = s_n_jobs (reply);
    if (p->n_jobs) {
        p->id = reply->job_lease->jobs[0]->id;
        p->fence = reply->job_lease->jobs[0]->fence;
        p->attempts = reply->job_lease->jobs[0]->attempts;
    }
    memd_client_reply_free (&reply);
    memd_client_destroy (&client);
    return NULL;
}

static void
s_longpoll (void)
{
    memd_client_t *client = s_client ();
    //  Empty queue, no wait: an empty answer at once.
    int64_t t0 = s_mono_us ();
    Memd__V1__Reply *reply = s_lease (client, "poll", 1, 0, 0, "now");
    CHECK (reply && s_n_jobs (reply) == 0, "a lease without wait on an empty queue got jobs");
    CHECK (s_mono_us () - t0 < 5000000, "a lease without wait took %lld us",
           (long long) (s_mono_us () - t0));
    memd_client_reply_free (&reply);

    //  Parked, then an enqueue: the lease returns with the job within 50 ms
    //  of the enqueue's ack (a broken long-poll answers at its 10 s timeout).
    for (int round = 0; round < 3; round++) {
        s_parked_t parked = {"poll", 10000, 0, 0, 0, 0, 0, 0};
        pthread_t thread;
        pthread_create (&thread, NULL, s_parked_lease, &parked);
        s_wait_parked (client, 1);
        uint64_t id = s_enqueue (client, "poll", "wake up", 0, NULL, 0);
        int64_t acked = s_mono_us ();
        pthread_join (thread, NULL);
        int64_t after_ack = parked.returned_us - acked;
        CHECK (parked.n_jobs == 1 && parked.id == id, "round %d: the parked lease got %zu jobs",
               round, parked.n_jobs);
        CHECK (after_ack < 50000, "round %d: the parked lease returned %lld us after the ack",
               round, (long long) after_ack);
        printf ("ok  longpoll round %d: lease returned %lld us after the enqueue ack\n", round,
                (long long) after_ack);
        CHECK (memd_client_job_complete (client, parked.id, parked.fence, NULL) == 0,
               "complete: %s", memd_client_error (client));
    }

    //  Nothing comes: empty at the end of the wait, not before.
    t0 = s_mono_us ();
    reply = s_lease (client, "never", 1, 0, 700, "timeout");
    int64_t waited = (s_mono_us () - t0) / 1000;
    CHECK (reply && s_n_jobs (reply) == 0, "a lease on an empty kind got jobs");
    CHECK (waited >= 650 && waited < 5000, "a 700 ms wait returned after %lld ms",
           (long long) waited);
    printf ("ok  longpoll: empty after %lld ms of a 700 ms wait\n", (long long) waited);
    memd_client_reply_free (&reply);
    memd_client_destroy (&client);
}

//  --------------------------------------------------------------------------
//  fencing

static void
s_fencing (void)
{
    memd_client_t *first = s_client (), *second = s_client ();
    uint64_t id = s_enqueue (first, "fence", "work", 0, NULL, 0);
    Memd__V1__Reply *reply = s_lease (first, "fence", 1, 300, 0, "first");
    CHECK (s_n_jobs (reply) == 1, "first worker got no job");
    uint64_t old_fence = s_n_jobs (reply) ? reply->job_lease->jobs[0]->fence : 0;
    memd_client_reply_free (&reply);

    //  The first worker goes silent; its lease expires and (after the
    //  backoff) the job goes to the second worker, parked meanwhile.
    reply = s_lease (second, "fence", 1, 10000, 10000, "second");
    CHECK (s_n_jobs (reply) == 1, "the expired lease was not re-leased");
    if (s_n_jobs (reply) == 1) {
        const Memd__V1__Job *job = reply->job_lease->jobs[0];
        CHECK (job->id == id && job->fence == old_fence + 1 && job->attempts == 2,
               "re-leased job %llu fence %llu attempts %u", (unsigned long long) job->id,
               (unsigned long long) job->fence, job->attempts);
        CHECK (strstr (job->last_error, "lease expired"), "last_error '%s'", job->last_error);
    }
    uint64_t new_fence = s_n_jobs (reply) ? reply->job_lease->jobs[0]->fence : 0;
    memd_client_reply_free (&reply);

    //  The first worker's late calls are refused; the second's count.
    CHECK (memd_client_job_complete (first, id, old_fence, NULL) == -1
               && memd_client_code (first) == MEM_PERMISSION_DENIED
               && strstr (memd_client_error (first), "stale fence"),
           "late complete: %s", memd_client_error (first));
    printf ("ok  late complete refused: %s\n", memd_client_error (first));
    CHECK (memd_client_job_extend (first, id, old_fence, 0, NULL) == -1
               && memd_client_code (first) == MEM_PERMISSION_DENIED,
           "late extend: %s", memd_client_error (first));
    CHECK (memd_client_job_fail (first, id, old_fence, true, "late", 0, NULL) == -1
               && memd_client_code (first) == MEM_PERMISSION_DENIED,
           "late fail: %s", memd_client_error (first));
    Memd__V1__Reply *done = NULL;
    CHECK (memd_client_job_complete (second, id, new_fence, &done) == 0, "complete: %s",
           memd_client_error (second));
    CHECK (done && done->job->job->state == MEMD__V1__JOB_STATE__JOB_DONE, "job is not done");
    memd_client_reply_free (&done);
    CHECK (memd_client_job_complete (first, id, old_fence, NULL) == -1
               && memd_client_code (first) == MEM_PERMISSION_DENIED,
           "late complete after done: %s", memd_client_error (first));
    CHECK (memd_client_job_complete (second, id, new_fence, NULL) == 0,
           "a repeated complete by the owner is not idempotent: %s", memd_client_error (second));
    memd_client_destroy (&first);
    memd_client_destroy (&second);
}

//  --------------------------------------------------------------------------
//  concurrency

typedef struct {
    const char *kind;
    int total;
    int inflight;                 //  jobs held by workers right now
    int max_inflight;
    int done;
    int seen[64];                 //  completions per job (index id - first)
    uint64_t first;
    pthread_mutex_t lock;
} s_pool_t;

static void *
s_worker (void *arg)
{
    s_pool_t *pool = (s_pool_t *) arg;
    memd_client_t *client = s_client ();
    while (true) {
        pthread_mutex_lock (&pool->lock);
        bool finished = pool->done >= pool->total;
        pthread_mutex_unlock (&pool->lock);
        if (finished)
            break;
        Memd__V1__Reply *reply = s_lease (client, pool->kind, 1, 30000, 500, "pool");
        if (!s_n_jobs (reply)) {
            memd_client_reply_free (&reply);
            continue;
        }
        const Memd__V1__Job *job = reply->job_lease->jobs[0];
        pthread_mutex_lock (&pool->lock);
        if (++pool->inflight > pool->max_inflight)
            pool->max_inflight = pool->inflight;
        pthread_mutex_unlock (&pool->lock);
        zclock_sleep (20);   //  the work
        pthread_mutex_lock (&pool->lock);
        pool->inflight--;
        pthread_mutex_unlock (&pool->lock);
        //  Counted before Complete: memd may hand the next job out at once.
        int rc = memd_client_job_complete (client, job->id, job->fence, NULL);
        CHECK (rc == 0, "complete %llu: %s", (unsigned long long) job->id,
               memd_client_error (client));
        pthread_mutex_lock (&pool->lock);
        pool->done++;
        if (job->id >= pool->first && job->id < pool->first + 64)
            pool->seen[job->id - pool->first]++;
        pthread_mutex_unlock (&pool->lock);
        memd_client_reply_free (&reply);
    }
    memd_client_destroy (&client);
    return NULL;
}

//  Runs `total` jobs of kind through 8 workers; returns the most held at once.
static int
s_run_pool (const char *kind, int total)
{
    memd_client_t *client = s_client ();
    s_pool_t pool;
    memset (&pool, 0, sizeof pool);
    pool.kind = kind;
    pool.total = total;
    pthread_mutex_init (&pool.lock, NULL);
    for (int i = 0; i < total; i++) {
        uint64_t id = s_enqueue (client, kind, "job", 0, NULL, 0);
        if (i == 0)
            pool.first = id;
    }
    pthread_t threads[8];
    for (int i = 0; i < 8; i++)
        pthread_create (&threads[i], NULL, s_worker, &pool);
    for (int i = 0; i < 8; i++)
        pthread_join (threads[i], NULL);
    for (int i = 0; i < total; i++)
        CHECK (pool.seen[i] == 1, "%s job %llu completed %d times", kind,
               (unsigned long long) (pool.first + (uint64_t) i), pool.seen[i]);
    pthread_mutex_destroy (&pool.lock);
    memd_client_destroy (&client);
    return pool.max_inflight;
}

static void
s_concurrency (void)
{
    int free_max = s_run_pool ("free", 24);
    int llm_max = s_run_pool ("llm", 24);
    printf ("ok  8 workers: at most %d 'free' jobs at once, %d 'llm' (limit 1)\n", free_max,
            llm_max);
    CHECK (llm_max == 1, "kind llm (limit 1) ran %d at once", llm_max);
    //  The harness can see overlap: without a limit, workers do overlap.
    CHECK (free_max > 1, "8 workers never held two unlimited jobs at once");
}

//  --------------------------------------------------------------------------
//  deps

//  Leases every due job of kind (no wait); returns how many, ids in *ids.
static size_t
s_lease_all (memd_client_t *client, const char *kind, uint64_t *ids, uint64_t *fences)
{
    Memd__V1__Reply *reply = s_lease (client, kind, 10, 30000, 0, "deps");
    size_t n = s_n_jobs (reply);
    for (size_t i = 0; i < n && i < 10; i++) {
        ids[i] = reply->job_lease->jobs[i]->id;
        fences[i] = reply->job_lease->jobs[i]->fence;
    }
    memd_client_reply_free (&reply);
    return n;
}

static void
s_deps (void)
{
    memd_client_t *client = s_client ();
    uint64_t a = s_enqueue (client, "dep", "a", 0, NULL, 0);
    uint64_t b = s_enqueue (client, "dep", "b", 0, &a, 1);
    uint64_t c = s_enqueue (client, "dep", "c", 0, &b, 1);
    uint64_t ac[] = {a, c};
    uint64_t d = s_enqueue (client, "dep2", "d", 0, ac, 2);
    uint64_t ids[10], fences[10];
    size_t n = s_lease_all (client, "dep", ids, fences);
    CHECK (n == 1 && ids[0] == a, "first lease: %zu jobs (expected only a)", n);
    CHECK (s_lease_all (client, "dep2", ids + 5, fences + 5) == 0, "d ran before a and c");
    memd_client_job_complete (client, a, fences[0], NULL);
    n = s_lease_all (client, "dep", ids, fences);
    CHECK (n == 1 && ids[0] == b, "after a: %zu jobs (expected only b)", n);
    CHECK (s_lease_all (client, "dep2", ids + 5, fences + 5) == 0, "d ran before c");
    //  b fails once: c keeps waiting until b is retried and done. (Were c
    //  released, this lease would get it too: it would be due before b's retry.)
    memd_client_job_fail (client, b, fences[0], false, "transient", 0, NULL);
    Memd__V1__Reply *reply = s_lease (client, "dep", 10, 30000, 10000, "deps");
    CHECK (s_n_jobs (reply) == 1 && reply->job_lease->jobs[0]->id == b,
           "after b failed: %zu jobs, the first %llu (expected b, retried, alone)",
           s_n_jobs (reply),
           (unsigned long long) (s_n_jobs (reply) ? reply->job_lease->jobs[0]->id : 0));
    uint64_t fence = s_n_jobs (reply) ? reply->job_lease->jobs[0]->fence : 0;
    memd_client_reply_free (&reply);
    memd_client_job_complete (client, b, fence, NULL);
    n = s_lease_all (client, "dep", ids, fences);
    CHECK (n == 1 && ids[0] == c, "after b: %zu jobs (expected only c)", n);
    memd_client_job_complete (client, c, fences[0], NULL);
    n = s_lease_all (client, "dep2", ids, fences);
    CHECK (n == 1 && ids[0] == d, "after a and c: d did not run");
    memd_client_job_complete (client, d, fences[0], NULL);
    //  A dependency that is done already is no wait.
    uint64_t e = s_enqueue (client, "dep", "e", 0, &a, 1);
    n = s_lease_all (client, "dep", ids, fences);
    CHECK (n == 1 && ids[0] == e, "a job depending on a done job did not run");
    memd_client_job_complete (client, e, fences[0], NULL);
    printf ("ok  dependencies a -> b -> c, (a, c) -> d ran in order\n");
    memd_client_destroy (&client);
}

//  --------------------------------------------------------------------------
//  badinput

static void
s_expect (memd_client_t *client, const char *what, int rc, int code, const char *needle)
{
    CHECK (rc != 0, "%s: succeeded", what);
    CHECK (memd_client_code (client) == code, "%s: code %s, expected %s (%s)", what,
           mem_code_name (memd_client_code (client)), mem_code_name (code),
           memd_client_error (client));
    CHECK (strstr (memd_client_error (client), needle), "%s: message '%s' lacks '%s'", what,
           memd_client_error (client), needle);
    printf ("ok  %-28s -> %s: %s\n", what, mem_code_name (memd_client_code (client)),
            memd_client_error (client));
    s_still_serving (what);
}

static void
s_badinput (void)
{
    memd_client_t *client = s_client ();
    s_expect (client, "complete unknown job",
              memd_client_job_complete (client, 987654321, 1, NULL), MEM_NOT_FOUND,
              "not found");
    s_expect (client, "fail unknown job",
              memd_client_job_fail (client, 987654321, 1, false, "x", 0, NULL), MEM_NOT_FOUND,
              "not found");
    uint64_t id = s_enqueue (client, "bad", "x", 0, NULL, 0);
    Memd__V1__Reply *reply = s_lease (client, "bad", 1, 0, 0, "bad");
    uint64_t fence = s_n_jobs (reply) ? reply->job_lease->jobs[0]->fence : 0;
    memd_client_reply_free (&reply);
    s_expect (client, "stale fence", memd_client_job_complete (client, id, fence + 1, NULL),
              MEM_PERMISSION_DENIED, "stale fence");
    s_expect (client, "extend with a stale fence",
              memd_client_job_extend (client, id, fence + 7, 0, NULL), MEM_PERMISSION_DENIED,
              "stale fence");
    memd_client_job_complete (client, id, fence, NULL);

    Memd__V1__JobEnqueue job = MEMD__V1__JOB_ENQUEUE__INIT;
    s_expect (client, "empty kind", memd_client_job_enqueue (client, &job, &id, NULL),
              MEM_INVALID_ARGUMENT, "kind is empty");
    job.kind = "two words";
    s_expect (client, "kind with a space", memd_client_job_enqueue (client, &job, &id, NULL),
              MEM_INVALID_ARGUMENT, "kind");
    job.kind = "bad";
    size_t big = (1u << 20) + 1;
    job.payload.data = (uint8_t *) calloc (1, big);
    job.payload.len = big;
    s_expect (client, "oversized payload", memd_client_job_enqueue (client, &job, &id, NULL),
              MEM_TOO_LARGE, "payload");
    free (job.payload.data);
    job.payload.data = NULL;
    job.payload.len = 0;
    char key[300];
    memset (key, 'k', sizeof key - 1);
    key[sizeof key - 1] = 0;
    job.dedupe_key = key;
    s_expect (client, "oversized dedupe key", memd_client_job_enqueue (client, &job, &id, NULL),
              MEM_TOO_LARGE, "dedupe_key");
    job.dedupe_key = NULL;
    uint64_t nowhere = 999999999;
    job.depends_on = &nowhere;
    job.n_depends_on = 1;
    s_expect (client, "unknown dependency", memd_client_job_enqueue (client, &job, &id, NULL),
              MEM_NOT_FOUND, "does not exist");
    job.depends_on = NULL;
    job.n_depends_on = 0;
    job.delay_ms = -5;
    s_expect (client, "negative delay", memd_client_job_enqueue (client, &job, &id, NULL),
              MEM_INVALID_ARGUMENT, "delay_ms");

    Memd__V1__JobLease lease = MEMD__V1__JOB_LEASE__INIT;
    reply = memd_client_job_lease (client, &lease);
    s_expect (client, "lease without kinds", reply ? 0 : -1, MEM_INVALID_ARGUMENT,
              "at least one kind");
    memd_client_reply_free (&reply);
    char *kinds[] = {"bad"};
    lease.kinds = kinds;
    lease.n_kinds = 1;
    lease.wait_ms = 24LL * 3600 * 1000;
    memd_client_set_timeout (client, 3000);
    reply = memd_client_job_lease (client, &lease);
    s_expect (client, "a day-long wait", reply ? 0 : -1, MEM_INVALID_ARGUMENT, "wait_ms");
    memd_client_reply_free (&reply);
    memd_client_set_timeout (client, 10000);

    uint64_t zero = 0;
    s_expect (client, "retry job 0", memd_client_job_retry (client, &zero, 1, NULL, NULL),
              MEM_INVALID_ARGUMENT, "id 0");
    s_expect (client, "retry a job that is not dead",
              memd_client_job_retry (client, &id, 1, NULL, NULL), MEM_NOT_FOUND,
              "not dead letters");
    Memd__V1__JobList list = MEMD__V1__JOB_LIST__INIT;
    list.state = 77;
    reply = memd_client_job_list (client, &list);
    s_expect (client, "list an unknown state", reply ? 0 : -1, MEM_INVALID_ARGUMENT, "state");
    memd_client_reply_free (&reply);
    memd_client_destroy (&client);
}

//  --------------------------------------------------------------------------
//  restart

static void
s_restart_before (const char *path)
{
    memd_client_t *client = s_client ();
    uint64_t q = s_enqueue (client, "rq", "queued", 0, NULL, 0);
    uint64_t l = s_enqueue (client, "rl", "leased", 0, NULL, 0);
    Memd__V1__Reply *reply = s_lease (client, "rl", 1, 6000, 0, "before");
    CHECK (s_n_jobs (reply) == 1, "no job to lease");
    uint64_t l_fence = s_n_jobs (reply) ? reply->job_lease->jobs[0]->fence : 0;
    int64_t l_expiry = s_n_jobs (reply) ? reply->job_lease->jobs[0]->lease_expires_at_ms : 0;
    memd_client_reply_free (&reply);
    uint64_t r = s_enqueue (client, "rr", "retry", 0, NULL, 0);
    reply = s_lease (client, "rr", 1, 30000, 0, "before");
    uint64_t r_fence = s_n_jobs (reply) ? reply->job_lease->jobs[0]->fence : 0;
    memd_client_reply_free (&reply);
    Memd__V1__Reply *failed = NULL;
    CHECK (memd_client_job_fail (client, r, r_fence, false, "try later", 0, &failed) == 0,
           "fail: %s", memd_client_error (client));
    int64_t r_due = failed ? failed->job->job->next_run_at_ms : 0;
    memd_client_reply_free (&failed);
    uint64_t d = s_enqueue (client, "rd", "delayed", 2500, NULL, 0);
    Memd__V1__JobList query = MEMD__V1__JOB_LIST__INIT;
    query.after_id = d - 1;
    query.limit = 1;
    reply = memd_client_job_list (client, &query);
    CHECK (reply && reply->job_list->n_jobs == 1, "list: %s", memd_client_error (client));
    int64_t d_due
        = reply && reply->job_list->n_jobs ? reply->job_list->jobs[0]->next_run_at_ms : 0;
    memd_client_reply_free (&reply);
    FILE *file = fopen (path, "w");
    assert (file);
    fprintf (file, "%llu %llu %llu %lld %llu %lld %llu %lld\n", (unsigned long long) q,
             (unsigned long long) l, (unsigned long long) l_fence, (long long) l_expiry,
             (unsigned long long) r, (long long) r_due, (unsigned long long) d,
             (long long) d_due);
    fclose (file);
    printf ("ok  before: queued %llu, leased %llu (expires in %lld ms), retry %llu (in %lld "
            "ms), delayed %llu\n",
            (unsigned long long) q, (unsigned long long) l, (long long) (l_expiry - s_wall_ms ()),
            (unsigned long long) r, (long long) (r_due - s_wall_ms ()), (unsigned long long) d);
    memd_client_destroy (&client);
}

static void
s_restart_after (const char *path)
{
    unsigned long long q, l, l_fence, r, d;
    long long l_expiry, r_due, d_due;
    FILE *file = fopen (path, "r");
    assert (file);
    assert (fscanf (file, "%llu %llu %llu %lld %llu %lld %llu %lld", &q, &l, &l_fence, &l_expiry,
                    &r, &r_due, &d, &d_due) == 8);
    fclose (file);
    int64_t booted = s_wall_ms ();
    memd_client_t *client = s_client ();

    //  Nothing lost: every job is where it was.
    Memd__V1__Reply *reply = memd_client_job_stats (client);
    CHECK (reply, "stats: %s", memd_client_error (client));
    if (reply) {
        const Memd__V1__JobStatsResult *st = reply->job_stats;
        CHECK (st->leased == 1 && st->retrying == 1 && st->queued == 3,
               "after restart: %llu queued, %llu leased, %llu retrying",
               (unsigned long long) st->queued, (unsigned long long) st->leased,
               (unsigned long long) st->retrying);
    }
    memd_client_reply_free (&reply);

    //  Parked leases for the three deadlines, the queued job at once.
    s_parked_t parked[3] = {{"rl", 15000, 0, 0, 0, 0, 0, 0},
                            {"rr", 15000, 0, 0, 0, 0, 0, 0},
                            {"rd", 15000, 0, 0, 0, 0, 0, 0}};
    pthread_t threads[3];
    for (int i = 0; i < 3; i++)
        pthread_create (&threads[i], NULL, s_parked_lease, &parked[i]);
    reply = s_lease (client, "rq", 1, 30000, 0, "after");
    CHECK (s_n_jobs (reply) == 1 && reply->job_lease->jobs[0]->id == q,
           "the queued job is not there");
    if (s_n_jobs (reply))
        memd_client_job_complete (client, q, reply->job_lease->jobs[0]->fence, NULL);
    memd_client_reply_free (&reply);
    for (int i = 0; i < 3; i++)
        pthread_join (threads[i], NULL);

    //  Each ran at its deadline (not before; within a generous 2 s after),
    //  the leased one only once its old lease had expired, with a new fence.
    int64_t dues[3] = {l_expiry, r_due, d_due};
    uint64_t ids[3] = {l, r, d};
    const char *names[3] = {"expired lease (re-leased after its backoff)", "retry",
                            "delayed job"};
    for (int i = 0; i < 3; i++) {
        int64_t expected = dues[i] > booted ? dues[i] : booted;
        CHECK (parked[i].n_jobs == 1 && parked[i].id == ids[i], "%s: job %llu not leased",
               names[i], (unsigned long long) ids[i]);
        CHECK (parked[i].returned_ms >= dues[i] - 5,
               "%s: leased %lld ms before its deadline", names[i],
               (long long) (dues[i] - parked[i].returned_ms));
        CHECK (parked[i].returned_ms <= expected + 2000, "%s: leased %lld ms after its deadline",
               names[i], (long long) (parked[i].returned_ms - expected));
        printf ("ok  after restart: %s fired %lld ms after its deadline\n", names[i],
                (long long) (parked[i].returned_ms - dues[i]));
    }
    CHECK (parked[0].fence == l_fence + 1, "the re-leased job has fence %llu, expected %llu",
           (unsigned long long) parked[0].fence, l_fence + 1);
    CHECK (memd_client_job_complete (client, l, l_fence, NULL) == -1
               && memd_client_code (client) == MEM_PERMISSION_DENIED,
           "the pre-restart lease holder could still complete: %s", memd_client_error (client));
    for (int i = 0; i < 3; i++)
        CHECK (memd_client_job_complete (client, parked[i].id, parked[i].fence, NULL) == 0,
               "complete %llu: %s", (unsigned long long) parked[i].id,
               memd_client_error (client));
    reply = memd_client_job_stats (client);
    if (reply) {
        const Memd__V1__JobStatsResult *st = reply->job_stats;
        CHECK (st->queued + st->leased == 0 && st->done == 4,
               "at the end: %llu done, %llu not done", (unsigned long long) st->done,
               (unsigned long long) (st->queued + st->leased));
    }
    memd_client_reply_free (&reply);
    memd_client_destroy (&client);
}

int
main (int argc, char *argv[])
{
    if (argc < 3) {
        fprintf (stderr, "usage: test_jobs ENDPOINT SCENARIO [FILE]\n");
        return 2;
    }
    s_endpoint = argv[1];
    const char *scenario = argv[2];
    zsys_init ();
    if (streq (scenario, "longpoll"))
        s_longpoll ();
    else if (streq (scenario, "fencing"))
        s_fencing ();
    else if (streq (scenario, "concurrency"))
        s_concurrency ();
    else if (streq (scenario, "deps"))
        s_deps ();
    else if (streq (scenario, "badinput"))
        s_badinput ();
    else if (streq (scenario, "restart-before") && argc == 4)
        s_restart_before (argv[3]);
    else if (streq (scenario, "restart-after") && argc == 4)
        s_restart_after (argv[3]);
    else {
        fprintf (stderr, "test_jobs: unknown scenario %s\n", scenario);
        return 2;
    }
    zsys_shutdown ();
    if (s_failures) {
        printf ("%s: %d check(s) failed\n", scenario, s_failures);
        return 1;
    }
    printf ("%s: all checks passed\n", scenario);
    return 0;
}
