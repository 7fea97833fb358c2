/*  crash_loop — the crash suite (issue 10 item 3): SIGKILL memd at random
    moments under a mixed load, restart it, and check that it kept every
    acknowledged write.

        crash_loop [--seconds S] [--cycles N] [--seed N] [--memd PATH]
                   [--json FILE] [--keep] [--verbose]

    One process, one store, many cycles. Each cycle starts memd on the same
    data directory and first checks it:

      - Verify (every table and cross-reference) reports no problem;
      - every capture memd acknowledged is a live record with its own text
        (texts are distinct random words, so consolidation never merges one
        into another, and retention is the default 7 days, so nothing is
        purged);
      - every record whose Forget was acknowledged is gone (NOT_FOUND);
      - every acknowledged job enqueue exists, and every acknowledged
        Complete left its job DONE.

    Then load threads run, each with its own client: captures in batches
    into sessions that close as they go, forgets by id and by closed
    session, job enqueue/lease/complete/fail, recalls, and `sleep` requests
    (short lifecycle thresholds, a 2 ms step budget and digests after
    300 ms, so consolidation steps are always under way). In half the cycles
    the data-plane threads go quiet part-way, so the sleep cycle runs
    undisturbed when the kill comes; one cycle in twenty kills memd right
    after its start instead (index recovery, reader check). memd is killed
    with SIGKILL at a random moment between 0.2 and 1.5 s.

    A call that got no answer before the kill is "unsure" (it may or may not
    have been committed) and is never held against memd either way. Any
    other error reply is unexpected and fails the run.

    The acknowledged ids and the forgotten ids are also appended to
    acked.log and forgotten.log in the run's directory (kept with --keep).

    Exit 0 when nothing was lost, nothing reappeared and no check failed;
    1 otherwise; 2 on bad usage. CI size: --seconds 40 (ctest crash_loop);
    longer by hand: --seconds 600, or MEMD_CRASH_SECONDS=600.
*/
#include <czmq.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include "bench_daemon.h"
#include "memd_client.h"
#include "soak_rand.h"

#define CALL_TIMEOUT_MS   1000     //  a load call without an answer by then is unsure
#define CHECK_TIMEOUT_MS  60000    //  verify and the checks: memd may be slow (sanitizers)
#define CAPTURE_THREADS   3
#define MAX_THREADS       8
#define WORDS_PER_TEXT    12

typedef enum { R_LIVE, R_FORGETTING, R_FORGOTTEN, R_UNSURE } rec_state_t;
typedef enum { J_QUEUED, J_DONE, J_UNSURE } job_state_t;

typedef struct {
    uint64_t id;
    char *text;
    uint32_t session;          //  index in s_sessions
    uint8_t state;             //  rec_state_t
} rec_t;

typedef struct {
    char name[48];
    bool closed;               //  its thread moved on: nothing more is captured into it
    bool forgotten;            //  a session Forget was sent for it
} session_t;

typedef struct {
    uint64_t id;
    uint8_t state;             //  job_state_t
} job_t;

//  Everything the threads learn, under one lock (the calls dominate).
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static rec_t *s_recs;
static size_t s_n_recs, s_cap_recs;
static session_t *s_sessions;
static size_t s_n_sessions, s_cap_sessions;
static job_t *s_jobs;
static size_t s_n_jobs, s_cap_jobs;
static FILE *s_acked_log, *s_forgotten_log;

static struct {
    uint64_t captures_acked, captures_unsure, forgets_acked, forgets_unsure, session_forgets;
    uint64_t jobs_enqueued, jobs_done, jobs_failed, jobs_unsure, sleeps, recalls;
    uint64_t timeouts_before_kill, unexpected;
} s_count;
static char s_unexpected[10][300];

static const char *s_endpoint;
static atomic_int s_stop;      //  load threads: finish now
static atomic_int s_quiet;     //  data-plane threads: pause
static atomic_int s_killed;    //  memd was killed: failures from now on are expected
static uint32_t s_cycle;
static bool s_verbose;
static volatile sig_atomic_t s_interrupted;

static int64_t
s_now_ms (void)
{
    return zclock_mono ();
}

static void
s_sleep_ms (int ms)
{
    zclock_sleep (ms);
}

//  Records an error reply nobody should see.
static void
s_unexpected_error (const char *what, memd_client_t *client)
{
    pthread_mutex_lock (&s_lock);
    if (s_count.unexpected < 10)
        snprintf (s_unexpected[s_count.unexpected], sizeof s_unexpected[0],
                  "cycle %u: %s: %s", s_cycle, what, memd_client_error (client));
    s_count.unexpected++;
    pthread_mutex_unlock (&s_lock);
}

typedef enum { OUT_OK, OUT_UNSURE, OUT_ERROR } outcome_t;

//  What the last call's result means: OK; unsure (no answer: memd was
//  killed, or slow); or an error reply (the caller decides if expected).
static outcome_t
s_outcome (memd_client_t *client, int rc)
{
    if (rc == 0)
        return OUT_OK;
    if (memd_client_code (client) == MEMD__V1__CODE__UNAVAILABLE) {
        if (!atomic_load (&s_killed)) {
            pthread_mutex_lock (&s_lock);
            s_count.timeouts_before_kill++;
            pthread_mutex_unlock (&s_lock);
        }
        return OUT_UNSURE;
    }
    return OUT_ERROR;
}

static void *
s_grow (void *array, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return array;
    size_t grown = *cap ? *cap * 2 : 1024;
    void *bigger = realloc (array, grown * size);
    if (!bigger) {
        fprintf (stderr, "crash_loop: out of memory\n");
        exit (1);
    }
    *cap = grown;
    return bigger;
}

//  A new session of a capture thread (under the lock).
static uint32_t
s_session_new (int thread, uint32_t k)
{
    s_sessions = s_grow (s_sessions, &s_cap_sessions, s_n_sessions, sizeof *s_sessions);
    session_t *session = &s_sessions[s_n_sessions];
    memset (session, 0, sizeof *session);
    snprintf (session->name, sizeof session->name, "c%u-t%d-s%u", s_cycle, thread, k);
    return (uint32_t) s_n_sessions++;
}

//  ---------------------------------------------------------------------------
//  The load threads

typedef struct {
    int index;
    uint64_t rng;
    pthread_t thread;
} worker_t;

//  Captures batches of distinct random texts into sessions of 10-30 records.
static void *
s_capture_thread (void *arg)
{
    worker_t *w = arg;
    memd_client_t *client = memd_client_new (s_endpoint, CALL_TIMEOUT_MS);
    pthread_mutex_lock (&s_lock);
    uint32_t k = 0, session = s_session_new (w->index, k);
    pthread_mutex_unlock (&s_lock);
    int left_in_session = 10 + (int) (soak_rand (&w->rng) % 21);
    uint64_t seq = 0;
    while (client && !atomic_load (&s_stop)) {
        if (atomic_load (&s_quiet)) {
            s_sleep_ms (5);
            continue;
        }
        s_sleep_ms ((int) (soak_rand (&w->rng) % 4));
        size_t n = 1 + soak_rand (&w->rng) % 16;
        Memd__V1__Record records[16], *ptrs[16];
        char texts[16][256];
        uint64_t ids[16];
        bool dup[16];
        char session_name[48];    //  a copy: s_sessions moves when it grows
        pthread_mutex_lock (&s_lock);
        memcpy (session_name, s_sessions[session].name, sizeof session_name);
        pthread_mutex_unlock (&s_lock);
        for (size_t i = 0; i < n; i++) {
            int len = snprintf (texts[i], sizeof texts[i], "crash c%u t%d n%llu:", s_cycle,
                                w->index, (unsigned long long) seq++);
            for (int j = 0; j < WORDS_PER_TEXT; j++)
                len += snprintf (texts[i] + len, sizeof texts[i] - (size_t) len, " w%u",
                                 (unsigned) (soak_rand (&w->rng) % 200000));
            memd__v1__record__init (&records[i]);
            records[i].text = texts[i];
            records[i].session_id = session_name;
            ptrs[i] = &records[i];
        }
        int rc = memd_client_capture (client, "default", ptrs, n, ids, dup);
        outcome_t out = s_outcome (client, rc);
        pthread_mutex_lock (&s_lock);
        if (out == OUT_OK) {
            for (size_t i = 0; i < n; i++) {
                if (dup[i]) {
                    if (s_count.unexpected < 10)
                        snprintf (s_unexpected[s_count.unexpected], sizeof s_unexpected[0],
                                  "cycle %u: capture of a new text answered as a duplicate "
                                  "of #%llu",
                                  s_cycle, (unsigned long long) ids[i]);
                    s_count.unexpected++;
                    continue;
                }
                s_recs = s_grow (s_recs, &s_cap_recs, s_n_recs, sizeof *s_recs);
                s_recs[s_n_recs++] = (rec_t){ids[i], strdup (texts[i]), session, R_LIVE};
                fprintf (s_acked_log, "%llu\t%s\n", (unsigned long long) ids[i], texts[i]);
            }
            s_count.captures_acked += n;
        }
        else if (out == OUT_UNSURE)
            s_count.captures_unsure += n;
        if (out == OUT_OK && (left_in_session -= (int) n) <= 0) {
            //  The session is complete: it may be forgotten as a whole now.
            s_sessions[session].closed = true;
            session = s_session_new (w->index, ++k);
            left_in_session = 10 + (int) (soak_rand (&w->rng) % 21);
        }
        pthread_mutex_unlock (&s_lock);
        if (out == OUT_ERROR)
            s_unexpected_error ("capture", client);
        if (out == OUT_UNSURE && atomic_load (&s_killed))
            break;
    }
    memd_client_destroy (&client);
    return NULL;
}

//  Forgets one live record by id, or (one time in 15) a closed session.
static void *
s_forget_thread (void *arg)
{
    worker_t *w = arg;
    memd_client_t *client = memd_client_new (s_endpoint, CALL_TIMEOUT_MS);
    while (client && !atomic_load (&s_stop)) {
        s_sleep_ms (2 + (int) (soak_rand (&w->rng) % 8));
        if (atomic_load (&s_quiet))
            continue;
        pthread_mutex_lock (&s_lock);
        //  A closed session not forgotten yet, with no record being forgotten.
        long session = -1;
        size_t live_in_session = 0;
        if (s_n_sessions && soak_rand (&w->rng) % 15 == 0) {
            uint32_t pick = (uint32_t) (soak_rand (&w->rng) % s_n_sessions);
            if (s_sessions[pick].closed && !s_sessions[pick].forgotten) {
                session = pick;
                for (size_t i = 0; i < s_n_recs; i++)
                    if (s_recs[i].session == pick && s_recs[i].state == R_LIVE)
                        live_in_session++;
                s_sessions[pick].forgotten = true;
            }
        }
        long pick = -1;
        if (session < 0 && s_n_recs) {
            for (int tries = 0; tries < 8 && pick < 0; tries++) {
                size_t i = soak_rand (&w->rng) % s_n_recs;
                if (s_recs[i].state == R_LIVE && !s_sessions[s_recs[i].session].forgotten)
                    pick = (long) i;
            }
            if (pick >= 0)
                s_recs[pick].state = R_FORGETTING;
        }
        uint64_t id = pick >= 0 ? s_recs[pick].id : 0;
        char name[48] = "";
        if (session >= 0)
            memcpy (name, s_sessions[session].name, sizeof name);
        pthread_mutex_unlock (&s_lock);
        if (session < 0 && pick < 0)
            continue;

        uint64_t forgotten = 0;
        int rc = session >= 0 ? memd_client_forget (client, "default", NULL, 0, name, &forgotten)
                              : memd_client_forget (client, "default", &id, 1, NULL, &forgotten);
        outcome_t out = s_outcome (client, rc);
        pthread_mutex_lock (&s_lock);
        if (session >= 0) {
            for (size_t i = 0; i < s_n_recs; i++) {
                if (s_recs[i].session != (uint32_t) session || s_recs[i].state != R_LIVE)
                    continue;
                s_recs[i].state = out == OUT_OK ? R_FORGOTTEN : R_UNSURE;
                if (out == OUT_OK)
                    fprintf (s_forgotten_log, "%llu\n", (unsigned long long) s_recs[i].id);
            }
            if (out == OUT_OK) {
                s_count.session_forgets++;
                s_count.forgets_acked += live_in_session;
            }
            else
                s_count.forgets_unsure += live_in_session;
        }
        else if (out == OUT_OK) {
            s_recs[pick].state = R_FORGOTTEN;
            s_count.forgets_acked++;
            fprintf (s_forgotten_log, "%llu\n", (unsigned long long) id);
        }
        else {
            s_recs[pick].state = R_UNSURE;
            s_count.forgets_unsure++;
        }
        pthread_mutex_unlock (&s_lock);
        if (out == OUT_ERROR) {
            //  NOT_FOUND for a record memd acknowledged and nobody forgot: lost.
            char what[96];
            snprintf (what, sizeof what, "forget %s %s%llu", session >= 0 ? "session" : "id",
                      session >= 0 ? name : "#", session >= 0 ? 0ULL : (unsigned long long) id);
            s_unexpected_error (what, client);
        }
        else if (out == OUT_OK && session >= 0 && forgotten < live_in_session) {
            pthread_mutex_lock (&s_lock);
            if (s_count.unexpected < 10)
                snprintf (s_unexpected[s_count.unexpected], sizeof s_unexpected[0],
                          "cycle %u: forget session %s forgot %llu records, %zu acked ones "
                          "were live",
                          s_cycle, name, (unsigned long long) forgotten, live_in_session);
            s_count.unexpected++;
            pthread_mutex_unlock (&s_lock);
        }
        if (out == OUT_UNSURE && atomic_load (&s_killed))
            break;
    }
    memd_client_destroy (&client);
    return NULL;
}

//  Enqueues jobs of kind "crash", leases them and completes most (fails
//  some, retryably).
static void *
s_job_thread (void *arg)
{
    worker_t *w = arg;
    memd_client_t *client = memd_client_new (s_endpoint, CALL_TIMEOUT_MS);
    uint64_t seq = 0;
    while (client && !atomic_load (&s_stop)) {
        s_sleep_ms (2 + (int) (soak_rand (&w->rng) % 6));
        if (atomic_load (&s_quiet))
            continue;
        char payload[64], key[64];
        snprintf (payload, sizeof payload, "job c%u n%llu", s_cycle, (unsigned long long) seq);
        snprintf (key, sizeof key, "c%u-k%llu", s_cycle, (unsigned long long) seq++);
        Memd__V1__JobEnqueue job = MEMD__V1__JOB_ENQUEUE__INIT;
        job.kind = "crash";
        job.payload.data = (uint8_t *) payload;
        job.payload.len = strlen (payload);
        if (seq % 3 == 0)
            job.dedupe_key = key;
        uint64_t id = 0;
        bool duplicate = false;
        int rc = memd_client_job_enqueue (client, &job, &id, &duplicate);
        outcome_t out = s_outcome (client, rc);
        pthread_mutex_lock (&s_lock);
        if (out == OUT_OK) {
            s_jobs = s_grow (s_jobs, &s_cap_jobs, s_n_jobs, sizeof *s_jobs);
            s_jobs[s_n_jobs++] = (job_t){id, J_QUEUED};
            s_count.jobs_enqueued++;
        }
        pthread_mutex_unlock (&s_lock);
        if (out == OUT_ERROR)
            s_unexpected_error ("job enqueue", client);
        if (out != OUT_OK) {
            if (atomic_load (&s_killed) || out == OUT_ERROR)
                break;
            continue;
        }

        Memd__V1__JobLease lease = MEMD__V1__JOB_LEASE__INIT;
        char *kinds[] = {"crash"};
        lease.kinds = kinds;
        lease.n_kinds = 1;
        lease.max_jobs = 4;
        lease.lease_ms = 5000;
        lease.worker = "crash_loop";
        Memd__V1__Reply *reply = memd_client_job_lease (client, &lease);
        out = s_outcome (client, reply ? 0 : -1);
        if (out == OUT_ERROR)
            s_unexpected_error ("job lease", client);
        for (size_t i = 0; reply && i < reply->job_lease->n_jobs; i++) {
            Memd__V1__Job *leased = reply->job_lease->jobs[i];
            bool fail = soak_rand (&w->rng) % 5 == 0;
            rc = fail ? memd_client_job_fail (client, leased->id, leased->fence, false,
                                              "crash_loop: retry", 50, NULL)
                      : memd_client_job_complete (client, leased->id, leased->fence, NULL);
            out = s_outcome (client, rc);
            pthread_mutex_lock (&s_lock);
            for (size_t j = s_n_jobs; j-- > 0;) {
                if (s_jobs[j].id != leased->id)
                    continue;
                if (out == OUT_OK && !fail)
                    s_jobs[j].state = J_DONE;
                else if (out == OUT_UNSURE)
                    s_jobs[j].state = J_UNSURE;
                break;
            }
            if (out == OUT_OK)
                fail ? s_count.jobs_failed++ : s_count.jobs_done++;
            else if (out == OUT_UNSURE)
                s_count.jobs_unsure++;
            pthread_mutex_unlock (&s_lock);
            if (out == OUT_ERROR)
                s_unexpected_error (fail ? "job fail" : "job complete", client);
            if (out != OUT_OK)
                break;
        }
        memd_client_reply_free (&reply);
        if (out == OUT_UNSURE && atomic_load (&s_killed))
            break;
    }
    memd_client_destroy (&client);
    return NULL;
}

//  Recalls two random words every few milliseconds.
static void *
s_recall_thread (void *arg)
{
    worker_t *w = arg;
    memd_client_t *client = memd_client_new (s_endpoint, CALL_TIMEOUT_MS);
    while (client && !atomic_load (&s_stop)) {
        s_sleep_ms (3 + (int) (soak_rand (&w->rng) % 10));
        if (atomic_load (&s_quiet))
            continue;
        char query[64];
        snprintf (query, sizeof query, "w%u w%u", (unsigned) (soak_rand (&w->rng) % 200000),
                  (unsigned) (soak_rand (&w->rng) % 200000));
        Memd__V1__Recall recall = MEMD__V1__RECALL__INIT;
        recall.query = query;
        recall.k = 5;
        Memd__V1__Reply *reply = memd_client_recall (client, "default", &recall);
        outcome_t out = s_outcome (client, reply ? 0 : -1);
        memd_client_reply_free (&reply);
        if (out == OUT_OK) {
            pthread_mutex_lock (&s_lock);
            s_count.recalls++;
            pthread_mutex_unlock (&s_lock);
        }
        else if (out == OUT_ERROR)
            s_unexpected_error ("recall", client);
        else if (atomic_load (&s_killed))
            break;
    }
    memd_client_destroy (&client);
    return NULL;
}

//  Asks memd to sleep (consolidate) every 100-400 ms, quiet or not.
static void *
s_sleep_thread (void *arg)
{
    worker_t *w = arg;
    memd_client_t *client = memd_client_new (s_endpoint, CALL_TIMEOUT_MS);
    while (client && !atomic_load (&s_stop)) {
        Memd__V1__Reply *reply = memd_client_sleep (client, false);
        outcome_t out = s_outcome (client, reply ? 0 : -1);
        memd_client_reply_free (&reply);
        if (out == OUT_OK) {
            pthread_mutex_lock (&s_lock);
            s_count.sleeps++;
            pthread_mutex_unlock (&s_lock);
        }
        else if (out == OUT_ERROR)
            s_unexpected_error ("sleep", client);
        else if (atomic_load (&s_killed))
            break;
        for (int ms = 100 + (int) (soak_rand (&w->rng) % 300); ms > 0 && !atomic_load (&s_stop);
             ms -= 10)
            s_sleep_ms (10);
    }
    memd_client_destroy (&client);
    return NULL;
}

//  ---------------------------------------------------------------------------
//  The checks after each restart

typedef struct {
    uint64_t verify_failures, lost, changed, reappeared, jobs_lost, jobs_not_done;
    uint64_t checked_live, checked_forgotten, checked_jobs;
    uint64_t steps;                          //  consolidation steps run, summed over the runs
    uint64_t cycles, digests, merged, decayed;  //  the store's totals at the last check
} s_result_t;

//  Consolidation as memd reports it: steps since this start (summed into
//  result->steps when add_steps), and the store's totals.
static void
s_consolidation (const char *endpoint, int timeout_ms, s_result_t *result, bool add_steps)
{
    memd_client_t *client = memd_client_new (endpoint, timeout_ms);
    Memd__V1__Reply *reply = client ? memd_client_status (client) : NULL;
    if (reply && reply->status_result && reply->status_result->consolidation) {
        Memd__V1__Consolidation *c = reply->status_result->consolidation;
        if (add_steps)
            result->steps += c->steps;
        result->cycles = c->cycle;
        result->digests = c->digests_written;
        result->merged = c->duplicates_merged;
        result->decayed = c->records_decayed;
    }
    memd_client_reply_free (&reply);
    memd_client_destroy (&client);
}

static int
s_by_id (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

//  Verify: every table and cross-reference.
static void
s_check_verify (memd_client_t *client, s_result_t *result)
{
    Memd__V1__Reply *reply = memd_client_verify (client);
    if (reply && reply->verify && reply->verify->ok
        && memd_client_code (client) == MEMD__V1__CODE__OK) {
        memd_client_reply_free (&reply);
        return;
    }
    result->verify_failures++;
    fprintf (stderr, "crash_loop: cycle %u: verify failed: %s\n", s_cycle,
             memd_client_error (client));
    for (size_t i = 0; reply && reply->verify && i < reply->verify->n_problems; i++)
        fprintf (stderr, "    %s\n", reply->verify->problems[i]);
    memd_client_reply_free (&reply);
}

//  Acked records: present with their text; forgotten ones: gone.
static void
s_check_records (memd_client_t *client, s_result_t *result)
{
    enum { BATCH = 500 };
    size_t n_ids = 0;
    uint64_t ids[BATCH];
    uint8_t want[BATCH];          //  R_LIVE or R_FORGOTTEN
    const char *texts[BATCH];
    for (size_t next = 0; next <= s_n_recs; next++) {
        if (next < s_n_recs
            && (s_recs[next].state == R_LIVE || s_recs[next].state == R_FORGOTTEN)) {
            ids[n_ids] = s_recs[next].id;
            want[n_ids] = s_recs[next].state;
            texts[n_ids++] = s_recs[next].text;
        }
        if (n_ids < BATCH && next < s_n_recs)
            continue;
        if (n_ids == 0)
            break;
        Memd__V1__Reply *reply = memd_client_get (client, "default", ids, n_ids);
        if (!reply || !reply->get) {
            fprintf (stderr, "crash_loop: cycle %u: get failed: %s\n", s_cycle,
                     memd_client_error (client));
            result->lost += n_ids;   //  cannot tell: count it against memd
            memd_client_reply_free (&reply);
            n_ids = 0;
            continue;
        }
        //  Found records come in request order; match them by id.
        Memd__V1__GetResult *got = reply->get;
        for (size_t i = 0, r = 0; i < n_ids; i++) {
            Memd__V1__Record *record = r < got->n_records && got->records[r]->id == ids[i]
                                         ? got->records[r++]
                                         : NULL;
            if (want[i] == R_FORGOTTEN) {
                result->checked_forgotten++;
                if (record) {
                    result->reappeared++;
                    fprintf (stderr, "crash_loop: cycle %u: forgotten record #%llu is back\n",
                             s_cycle, (unsigned long long) ids[i]);
                }
                continue;
            }
            result->checked_live++;
            if (!record) {
                result->lost++;
                if (result->lost <= 10)
                    fprintf (stderr, "crash_loop: cycle %u: acked record #%llu is missing (%s)\n",
                             s_cycle, (unsigned long long) ids[i], texts[i]);
            }
            else if (!record->text || strcmp (record->text, texts[i])) {
                result->changed++;
                fprintf (stderr, "crash_loop: cycle %u: record #%llu holds another text\n",
                         s_cycle, (unsigned long long) ids[i]);
            }
        }
        memd_client_reply_free (&reply);
        n_ids = 0;
    }
}

//  Acked enqueues exist; acked completes are DONE.
static void
s_check_jobs (memd_client_t *client, s_result_t *result)
{
    size_t n = 0, cap = 0;
    uint64_t *found = NULL;        //  pairs: id, state
    uint64_t after = 0;
    for (;;) {
        Memd__V1__JobList list = MEMD__V1__JOB_LIST__INIT;
        list.kind = "crash";
        list.limit = 1000;
        list.after_id = after;
        Memd__V1__Reply *reply = memd_client_job_list (client, &list);
        if (!reply || !reply->job_list) {
            fprintf (stderr, "crash_loop: cycle %u: job list failed: %s\n", s_cycle,
                     memd_client_error (client));
            result->jobs_lost += s_n_jobs;
            memd_client_reply_free (&reply);
            free (found);
            return;
        }
        for (size_t i = 0; i < reply->job_list->n_jobs; i++) {
            found = s_grow (found, &cap, n + 1, 2 * sizeof *found);
            found[2 * n] = reply->job_list->jobs[i]->id;
            found[2 * n + 1] = reply->job_list->jobs[i]->state;
            n++;
            after = reply->job_list->jobs[i]->id;
        }
        bool more = reply->job_list->more && reply->job_list->n_jobs;
        memd_client_reply_free (&reply);
        if (!more)
            break;
    }
    if (n)
        qsort (found, n, 2 * sizeof *found, s_by_id);
    for (size_t i = 0; i < s_n_jobs; i++) {
        if (s_jobs[i].state == J_UNSURE)
            continue;
        result->checked_jobs++;
        uint64_t *hit = n ? bsearch (&s_jobs[i].id, found, n, 2 * sizeof *found, s_by_id) : NULL;
        if (!hit) {
            result->jobs_lost++;
            fprintf (stderr, "crash_loop: cycle %u: acked job #%llu is missing\n", s_cycle,
                     (unsigned long long) s_jobs[i].id);
        }
        else if (s_jobs[i].state == J_DONE && hit[1] != MEMD__V1__JOB_STATE__JOB_DONE) {
            result->jobs_not_done++;
            fprintf (stderr, "crash_loop: cycle %u: completed job #%llu is in state %llu\n",
                     s_cycle, (unsigned long long) s_jobs[i].id, (unsigned long long) hit[1]);
        }
    }
    free (found);
}

static void
s_check (const char *endpoint, s_result_t *result)
{
    memd_client_t *client = memd_client_new (endpoint, CHECK_TIMEOUT_MS);
    if (!client) {
        result->verify_failures++;
        return;
    }
    s_check_verify (client, result);
    s_check_records (client, result);
    s_check_jobs (client, result);
    memd_client_destroy (&client);
}

//  ---------------------------------------------------------------------------

static void
s_usage (FILE *out)
{
    fprintf (out,
             "usage: crash_loop [--seconds S] [--cycles N] [--seed N] [--memd PATH]\n"
             "                  [--json FILE] [--keep] [--verbose]\n"
             "  --seconds S   start no new cycle after S seconds (default 40, env\n"
             "                MEMD_CRASH_SECONDS)\n"
             "  --cycles N    stop after N cycles (default: as many as fit)\n"
             "  --seed N      random seed (default: time); printed for a rerun\n"
             "  --memd PATH   the memd binary (default: next to this one)\n"
             "  --json FILE   write the summary as JSON\n"
             "  --keep        keep the run's directory (store, memd.log, acked.log)\n");
}

int
main (int argc, char *argv[])
{
    static const struct option options[] = {
        {"seconds", required_argument, NULL, 's'}, {"cycles", required_argument, NULL, 'n'},
        {"seed", required_argument, NULL, 'S'},    {"memd", required_argument, NULL, 'm'},
        {"json", required_argument, NULL, 'j'},    {"keep", no_argument, NULL, 'k'},
        {"verbose", no_argument, NULL, 'v'},       {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    double seconds = getenv ("MEMD_CRASH_SECONDS") ? atof (getenv ("MEMD_CRASH_SECONDS")) : 40;
    long max_cycles = 0;
    uint64_t seed = (uint64_t) time (NULL) ^ (uint64_t) getpid () << 20;
    const char *memd = NULL, *json = NULL;
    bool keep = false;
    int opt;
    while ((opt = getopt_long (argc, argv, "s:n:S:m:j:kvh", options, NULL)) != -1) {
        switch (opt) {
        case 's':
            seconds = atof (optarg);
            break;
        case 'n':
            max_cycles = atol (optarg);
            break;
        case 'S':
            seed = strtoull (optarg, NULL, 10);
            break;
        case 'm':
            memd = optarg;
            break;
        case 'j':
            json = optarg;
            break;
        case 'k':
            keep = true;
            break;
        case 'v':
            s_verbose = true;
            break;
        case 'h':
            s_usage (stdout);
            return 0;
        default:
            s_usage (stderr);
            return 2;
        }
    }
    if (seconds <= 0 || max_cycles < 0 || optind < argc) {
        s_usage (stderr);
        return 2;
    }
    bench_daemon_catch_signals (&s_interrupted);
    uint64_t rng = seed ? seed : 1;
    char base[] = "/tmp/memd-crash.XXXXXX";
    if (!mkdtemp (base)) {
        perror ("crash_loop: mkdtemp");
        return 1;
    }
    char path[sizeof base + 32];
    snprintf (path, sizeof path, "%s/acked.log", base);
    s_acked_log = fopen (path, "w");
    snprintf (path, sizeof path, "%s/forgotten.log", base);
    s_forgotten_log = fopen (path, "w");
    if (!s_acked_log || !s_forgotten_log) {
        perror ("crash_loop: log files");
        return 1;
    }
    printf ("crash_loop: seed %llu, %.0f s, in %s\n", (unsigned long long) seed, seconds, base);
    fflush (stdout);

    //  Short lifecycle thresholds: consolidation is always under way. The
    //  default retention (7 days) purges nothing; a 4 MiB map grows under it.
    const char *const memd_args[] = {
        "--set", "lifecycle/drowsy_after_ms=200",   "--set", "lifecycle/sleep_after_ms=200",
        "--set", "lifecycle/digest_after_ms=300",   "--set", "lifecycle/step_budget_ms=2",
        "--set", "lifecycle/summarize_jobs=1",      "--set", "lifecycle/decay_interval_ms=500",
        "--set", "jobs/history=100000000",          "--set", "jobs/lease_ms=5000",
        "--set", "store/map_size_mb=4",             "--set", "recall/workers=2",
        NULL};
    s_result_t result = {0};
    int64_t t0 = s_now_ms ();
    uint32_t kills = 0, early_kills = 0, quiet_kills = 0;
    bool failed_start = false;
    for (s_cycle = 1; !s_interrupted; s_cycle++) {
        if ((max_cycles && s_cycle > (uint32_t) max_cycles)
            || (!max_cycles && s_now_ms () - t0 >= seconds * 1000))
            break;
        bench_daemon_t *daemon =
            bench_daemon_start_with (memd, base, "crash_loop", &s_interrupted, memd_args);
        if (!daemon) {
            failed_start = true;
            break;
        }
        s_endpoint = bench_daemon_endpoint (daemon);
        if (soak_rand (&rng) % 20 == 0) {
            //  Killed as soon as it answers: index recovery, reader check.
            zclock_sleep ((int) (soak_rand (&rng) % 30));
            bench_daemon_kill (&daemon);
            kills++, early_kills++;
            continue;
        }
        s_check (s_endpoint, &result);
        fflush (s_acked_log);
        fflush (s_forgotten_log);

        int kill_at = 200 + (int) (soak_rand (&rng) % 1300);
        int quiet_at = soak_rand (&rng) % 2 ? (int) (soak_rand (&rng) % (uint64_t) kill_at) : -1;
        worker_t workers[MAX_THREADS];
        void *(*bodies[]) (void *) = {s_capture_thread, s_capture_thread, s_capture_thread,
                                      s_forget_thread,  s_job_thread,     s_recall_thread,
                                      s_sleep_thread};
        int n_workers = (int) (sizeof bodies / sizeof bodies[0]);
        for (int i = 0; i < n_workers; i++) {
            workers[i].index = i;
            workers[i].rng = soak_rand (&rng) | 1;
            pthread_create (&workers[i].thread, NULL, bodies[i], &workers[i]);
        }
        int64_t started = s_now_ms ();
        while (s_now_ms () - started < kill_at && !s_interrupted) {
            if (quiet_at >= 0 && s_now_ms () - started >= quiet_at)
                atomic_store (&s_quiet, 1);
            s_sleep_ms (5);
        }
        s_consolidation (s_endpoint, 200, &result, true);
        atomic_store (&s_killed, 1);
        bench_daemon_kill (&daemon);
        kills++;
        quiet_kills += quiet_at >= 0;
        atomic_store (&s_stop, 1);
        for (int i = 0; i < n_workers; i++)
            pthread_join (workers[i].thread, NULL);
        atomic_store (&s_stop, 0);
        atomic_store (&s_quiet, 0);
        atomic_store (&s_killed, 0);
        //  Sessions a kill left open can never be complete: close them.
        for (size_t i = 0; i < s_n_sessions; i++)
            s_sessions[i].closed = true;
        if (s_verbose)
            printf ("cycle %u: killed at %d ms%s; %llu acked so far\n", s_cycle, kill_at,
                    quiet_at >= 0 ? " (quiet)" : "",
                    (unsigned long long) s_count.captures_acked);
    }
    uint32_t cycles = s_cycle - 1;

    //  The last start: check, then an orderly stop that must exit 0.
    int stop_status = -1;
    if (!failed_start) {
        bench_daemon_t *daemon =
            bench_daemon_start_with (memd, base, "crash_loop", &s_interrupted, memd_args);
        if (daemon) {
            s_check (bench_daemon_endpoint (daemon), &result);
            s_consolidation (bench_daemon_endpoint (daemon), CHECK_TIMEOUT_MS, &result, false);
            stop_status = bench_daemon_stop (&daemon);
        }
    }
    double elapsed = (double) (s_now_ms () - t0) / 1000.0;
    uint64_t lost = result.lost + result.changed + result.jobs_lost;
    bool ok = !failed_start && stop_status == 0 && lost == 0 && result.reappeared == 0
           && result.verify_failures == 0 && result.jobs_not_done == 0
           && s_count.unexpected == 0 && !s_interrupted;

    printf ("crash_loop: %u cycles (%u kills under load, %u of them during a quiet sleep cycle, "
            "%u right after start) in %.1f s\n",
            cycles, kills - early_kills, quiet_kills, early_kills, elapsed);
    printf ("  captures  %llu acked, %llu unsure (no answer before the kill)\n",
            (unsigned long long) s_count.captures_acked,
            (unsigned long long) s_count.captures_unsure);
    printf ("  forgets   %llu acked (%llu by session), %llu unsure\n",
            (unsigned long long) s_count.forgets_acked,
            (unsigned long long) s_count.session_forgets,
            (unsigned long long) s_count.forgets_unsure);
    printf ("  jobs      %llu enqueued, %llu completed, %llu failed (retry), %llu unsure\n",
            (unsigned long long) s_count.jobs_enqueued, (unsigned long long) s_count.jobs_done,
            (unsigned long long) s_count.jobs_failed, (unsigned long long) s_count.jobs_unsure);
    printf ("  other     %llu recalls, %llu sleep requests, %llu calls slower than %d ms "
            "before a kill\n",
            (unsigned long long) s_count.recalls, (unsigned long long) s_count.sleeps,
            (unsigned long long) s_count.timeouts_before_kill, CALL_TIMEOUT_MS);
    printf ("  sleep     %llu consolidation steps run, %llu cycles started, %llu digests, "
            "%llu records decayed, %llu near-duplicates merged\n",
            (unsigned long long) result.steps, (unsigned long long) result.cycles,
            (unsigned long long) result.digests, (unsigned long long) result.decayed,
            (unsigned long long) result.merged);
    printf ("  checked   %llu live, %llu forgotten, %llu jobs (summed over %u restarts)\n",
            (unsigned long long) result.checked_live,
            (unsigned long long) result.checked_forgotten,
            (unsigned long long) result.checked_jobs, cycles - early_kills + 1);
    printf ("  lost %llu, changed %llu, reappeared %llu, jobs lost %llu, jobs not done %llu, "
            "verify failures %llu, unexpected errors %llu, final stop status %d\n",
            (unsigned long long) result.lost, (unsigned long long) result.changed,
            (unsigned long long) result.reappeared, (unsigned long long) result.jobs_lost,
            (unsigned long long) result.jobs_not_done,
            (unsigned long long) result.verify_failures,
            (unsigned long long) s_count.unexpected, stop_status);
    for (uint64_t i = 0; i < s_count.unexpected && i < 10; i++)
        printf ("  unexpected: %s\n", s_unexpected[i]);
    if (json) {
        FILE *file = fopen (json, "w");
        if (file) {
            fprintf (file,
                     "{\"seed\": %llu, \"seconds\": %.1f, \"cycles\": %u, \"kills\": %u, "
                     "\"quiet_kills\": %u, \"early_kills\": %u, \"captures_acked\": %llu, "
                     "\"captures_unsure\": %llu, \"forgets_acked\": %llu, "
                     "\"forgets_unsure\": %llu, \"jobs_enqueued\": %llu, \"jobs_done\": %llu, "
                     "\"recalls\": %llu, \"sleeps\": %llu, \"consolidation_steps\": %llu, "
                     "\"digests\": %llu, \"lost\": %llu, \"changed\": %llu, "
                     "\"reappeared\": %llu, \"jobs_lost\": %llu, \"jobs_not_done\": %llu, "
                     "\"verify_failures\": %llu, \"unexpected\": %llu, \"ok\": %s}\n",
                     (unsigned long long) seed, elapsed, cycles, kills, quiet_kills,
                     early_kills, (unsigned long long) s_count.captures_acked,
                     (unsigned long long) s_count.captures_unsure,
                     (unsigned long long) s_count.forgets_acked,
                     (unsigned long long) s_count.forgets_unsure,
                     (unsigned long long) s_count.jobs_enqueued,
                     (unsigned long long) s_count.jobs_done,
                     (unsigned long long) s_count.recalls, (unsigned long long) s_count.sleeps,
                     (unsigned long long) result.steps, (unsigned long long) result.digests,
                     (unsigned long long) result.lost, (unsigned long long) result.changed,
                     (unsigned long long) result.reappeared,
                     (unsigned long long) result.jobs_lost,
                     (unsigned long long) result.jobs_not_done,
                     (unsigned long long) result.verify_failures,
                     (unsigned long long) s_count.unexpected, ok ? "true" : "false");
            fclose (file);
        }
    }
    printf ("crash_loop: %s (seed %llu)\n", ok ? "PASS: nothing acked lost" : "FAIL",
            (unsigned long long) seed);
    fclose (s_acked_log);
    fclose (s_forgotten_log);
    for (size_t i = 0; i < s_n_recs; i++)
        free (s_recs[i].text);
    free (s_recs);
    free (s_sessions);
    free (s_jobs);
    if (keep || !ok)
        printf ("crash_loop: the run's directory is kept: %s\n", base);
    else
        bench_daemon_remove_tree (base);
    return ok ? 0 : 1;
}
