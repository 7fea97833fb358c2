/*  mem_jobs — the durable job queue; see mem_jobs.h for the contract.

    Every transition follows one pattern: load the job, take it out of the
    indexes of its current state (s_unindex), change it, and write it back
    with the indexes and counts of its new state (s_save). Checks that may
    refuse a call come before the first write.
*/
#include "mem_jobs.h"
#include "mem_codec.h"
#include "mem_log.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEDUPE_MAX        256                   //  bytes of a dedupe key (LMDB keys are short)
#define DEDUPE_KEY_SIZE   (4 + DEDUPE_MAX)
#define DUE_KEY_SIZE      20
#define LEASE_KEY_SIZE    16
#define STATE_KEY_SIZE    13
#define DEPS_KEY_SIZE     16
#define TRIM_PER_COMPLETE 8    //  history trimmed per completion: catches up after a config change

#define S_QUEUED  MEMD__V1__JOB_STATE__JOB_QUEUED
#define S_LEASED  MEMD__V1__JOB_STATE__JOB_LEASED
#define S_DONE    MEMD__V1__JOB_STATE__JOB_DONE
#define S_FAILED  MEMD__V1__JOB_STATE__JOB_FAILED
#define S_DEAD    MEMD__V1__JOB_STATE__JOB_DEAD
#define S_BLOCKED MEMD__V1__JOB_STATE__JOB_BLOCKED

//  --------------------------------------------------------------------------
//  Small helpers

bool
mem_jobs_kind_valid (const char *name)
{
    return mem_codec_job_kind_valid (name);   //  one definition, shared with the protocol
}

//  xorshift64*: jitter needs spread, not secrecy.
static uint64_t
s_rand (uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ULL;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dULL;
}

int64_t
mem_jobs_backoff_ms (const mem_jobs_policy_t *policy, uint32_t attempts, uint64_t *rng)
{
    int64_t max = policy->backoff_max_ms > 0 ? policy->backoff_max_ms : 1;
    int64_t delay = policy->backoff_base_ms > 0 ? policy->backoff_base_ms : 1;
    for (uint32_t i = 1; i < attempts && delay < max; i++)
        delay *= 2;
    if (delay > max)
        delay = max;
    int64_t half = delay / 2;
    return half + (int64_t) (s_rand (rng) % (uint64_t) (delay - half + 1));
}

static bool
s_unfinished (int state)
{
    return state == S_QUEUED || state == S_LEASED || state == S_FAILED || state == S_BLOCKED;
}

static bool
s_due_state (int state)
{
    return state == S_QUEUED || state == S_FAILED;
}

//  Replaces a string field of an unpacked job with a malloc'd copy, so
//  that free_unpacked frees it like the rest.
static int
s_set_string (char **field, const char *value)
{
    char *copy = strdup (value ? value : "");
    if (!copy)
        return ENOMEM;
    if (*field && *field != protobuf_c_empty_string)
        free (*field);
    *field = copy;
    return 0;
}

//  Copies at most max bytes of text, cut on a UTF-8 character boundary.
static int
s_set_error (Memd__V1__Job *job, const char *text)
{
    size_t len = text ? strlen (text) : 0;
    if (len > MEM_JOBS_ERROR_MAX) {
        len = MEM_JOBS_ERROR_MAX;
        while (len > 0 && ((unsigned char) text[len] & 0xC0) == 0x80)
            len--;
    }
    char *copy = malloc (len + 1);
    if (!copy)
        return ENOMEM;
    memcpy (copy, text ? text : "", len);
    copy[len] = 0;
    if (job->last_error && job->last_error != protobuf_c_empty_string)
        free (job->last_error);
    job->last_error = copy;
    return 0;
}

static void
s_free_job (Memd__V1__Job **job_p)
{
    if (*job_p) {
        memd__v1__job__free_unpacked (*job_p, NULL);
        *job_p = NULL;
    }
}

//  Puts an empty value under key (index entries carry no data).
static int
s_put_key (MDB_txn *txn, MDB_dbi dbi, const void *key, size_t size)
{
    MDB_val k = {size, (void *) key}, v = {0, NULL};
    return MEM_MDB (mdb_put (txn, dbi, &k, &v, 0));
}

//  Deletes key; a missing key is not an error.
static int
s_del_key (MDB_txn *txn, MDB_dbi dbi, const void *key, size_t size)
{
    MDB_val k = {size, (void *) key};
    int rc = MEM_MDB (mdb_del (txn, dbi, &k, NULL));
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static void
s_due_key (uint8_t *k, uint32_t kind, int64_t due, uint64_t id)
{
    mem_put_u32be (k, kind);
    mem_put_u64be (k + 4, due > 0 ? (uint64_t) due : 0);
    mem_put_u64be (k + 12, id);
}

static void
s_state_key (uint8_t *k, int state, uint32_t kind, uint64_t id)
{
    k[0] = (uint8_t) state;
    mem_put_u32be (k + 1, kind);
    mem_put_u64be (k + 5, id);
}

static size_t
s_dedupe_key (uint8_t *k, uint32_t kind, const char *key)
{
    size_t len = strlen (key);
    mem_put_u32be (k, kind);
    memcpy (k + 4, key, len);
    return 4 + len;
}

//  --------------------------------------------------------------------------
//  Kinds

static int
s_kind_get (mem_store_t *store, MDB_txn *txn, const char *name, mem_job_kind_t *kind)
{
    if (!name || !*name)
        return MDB_NOTFOUND;
    MDB_val key = {strlen (name), (void *) name}, val;
    int rc = MEM_MDB (mdb_get (txn, mem_store_dbi (store, MEM_DB_JOB_KINDS), &key, &val));
    if (rc)
        return rc;
    if (val.mv_size != sizeof *kind)
        return MDB_CORRUPTED;
    memcpy (kind, val.mv_data, sizeof *kind);
    return 0;
}

static int
s_kind_put (mem_store_t *store, MDB_txn *txn, const char *name, const mem_job_kind_t *kind)
{
    MDB_val key = {strlen (name), (void *) name}, val = {sizeof *kind, (void *) kind};
    return MEM_MDB (mdb_put (txn, mem_store_dbi (store, MEM_DB_JOB_KINDS), &key, &val, 0));
}

//  --------------------------------------------------------------------------
//  Jobs and their indexes

int
mem_jobs_get (mem_store_t *store, MDB_txn *txn, uint64_t id, Memd__V1__Job **out)
{
    uint8_t k[8];
    mem_put_u64be (k, id);
    MDB_val key = {8, k}, val;
    *out = NULL;
    int rc = MEM_MDB (mdb_get (txn, mem_store_dbi (store, MEM_DB_JOBS), &key, &val));
    if (rc)
        return rc;
    *out = memd__v1__job__unpack (NULL, val.mv_size, val.mv_data);
    if (!*out) {
        mem_log_error ("job %llu does not decode: the store is damaged", (unsigned long long) id);
        return MDB_CORRUPTED;
    }
    return 0;
}

static int
s_job_put (mem_store_t *store, MDB_txn *txn, const Memd__V1__Job *job)
{
    uint8_t k[8];
    mem_put_u64be (k, job->id);
    MDB_val key = {8, k}, val = {memd__v1__job__get_packed_size (job), NULL};
    int rc = MEM_MDB (mdb_put (txn, mem_store_dbi (store, MEM_DB_JOBS), &key, &val, MDB_RESERVE));
    if (rc)
        return rc;
    memd__v1__job__pack (job, val.mv_data);
    return 0;
}

//  Adds (or removes) the index entries of the job's current state.
static int
s_index (mem_store_t *store, MDB_txn *txn, const Memd__V1__Job *job, uint32_t kind, bool add)
{
    uint8_t sk[STATE_KEY_SIZE];
    s_state_key (sk, job->state, kind, job->id);
    MDB_dbi states = mem_store_dbi (store, MEM_DB_JOB_STATES);
    int rc = add ? s_put_key (txn, states, sk, sizeof sk) : s_del_key (txn, states, sk, sizeof sk);
    if (rc)
        return rc;
    if (s_due_state (job->state)) {
        uint8_t dk[DUE_KEY_SIZE];
        s_due_key (dk, kind, job->next_run_at_ms, job->id);
        MDB_dbi due = mem_store_dbi (store, MEM_DB_JOB_DUE);
        rc = add ? s_put_key (txn, due, dk, sizeof dk) : s_del_key (txn, due, dk, sizeof dk);
    }
    else if (job->state == S_LEASED) {
        uint8_t lk[LEASE_KEY_SIZE];
        mem_put_u64be (lk, job->lease_expires_at_ms > 0 ? (uint64_t) job->lease_expires_at_ms : 0);
        mem_put_u64be (lk + 8, job->id);
        MDB_dbi leases = mem_store_dbi (store, MEM_DB_JOB_LEASES);
        rc = add ? s_put_key (txn, leases, lk, sizeof lk) : s_del_key (txn, leases, lk, sizeof lk);
    }
    return rc;
}

//  Takes the job out of its state's indexes and counts (before a change).
static int
s_unindex (mem_store_t *store, MDB_txn *txn, const Memd__V1__Job *job)
{
    mem_job_kind_t kind;
    int rc = s_kind_get (store, txn, job->kind, &kind);
    if (rc)
        return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
    if ((rc = s_index (store, txn, job, kind.number, false)))
        return rc;
    if (job->state > 0 && job->state < MEM_JOBS_STATES && kind.count[job->state] > 0)
        kind.count[job->state]--;
    return s_kind_put (store, txn, job->kind, &kind);
}

//  Writes the job with the indexes and counts of its (new) state.
static int
s_save (mem_store_t *store, MDB_txn *txn, const Memd__V1__Job *job)
{
    mem_job_kind_t kind;
    int rc = s_kind_get (store, txn, job->kind, &kind);
    if (rc)
        return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
    if ((rc = s_index (store, txn, job, kind.number, true)) || (rc = s_job_put (store, txn, job)))
        return rc;
    if (job->state > 0 && job->state < MEM_JOBS_STATES)
        kind.count[job->state]++;
    return s_kind_put (store, txn, job->kind, &kind);
}

//  The id of the unfinished job holding (kind, key), or 0.
static int
s_dedupe_holder (mem_store_t *store, MDB_txn *txn, uint32_t kind, const char *key,
                 uint64_t *holder)
{
    *holder = 0;
    uint8_t k[DEDUPE_KEY_SIZE];
    MDB_val dkey = {s_dedupe_key (k, kind, key), k}, val;
    int rc = MEM_MDB (mdb_get (txn, mem_store_dbi (store, MEM_DB_JOB_DEDUPE), &dkey, &val));
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (val.mv_size != 8)
        return MDB_CORRUPTED;
    uint64_t id = mem_get_u64be (val.mv_data);
    Memd__V1__Job *job;
    rc = mem_jobs_get (store, txn, id, &job);
    if (rc == MDB_NOTFOUND)
        return 0;   //  a stale entry: the slot is free
    if (rc)
        return rc;
    if (s_unfinished (job->state) && strcmp (job->dedupe_key, key) == 0)
        *holder = id;
    s_free_job (&job);
    return 0;
}

static int
s_dedupe_claim (mem_store_t *store, MDB_txn *txn, const Memd__V1__Job *job, uint32_t kind)
{
    if (!job->dedupe_key || !*job->dedupe_key)
        return 0;
    uint8_t k[DEDUPE_KEY_SIZE], idk[8];
    mem_put_u64be (idk, job->id);
    MDB_val dkey = {s_dedupe_key (k, kind, job->dedupe_key), k}, val = {8, idk};
    return MEM_MDB (mdb_put (txn, mem_store_dbi (store, MEM_DB_JOB_DEDUPE), &dkey, &val, 0));
}

//  Frees the job's dedupe key if the job holds it (it is finished).
static int
s_dedupe_release (mem_store_t *store, MDB_txn *txn, const Memd__V1__Job *job)
{
    if (!job->dedupe_key || !*job->dedupe_key)
        return 0;
    mem_job_kind_t kind;
    int rc = s_kind_get (store, txn, job->kind, &kind);
    if (rc)
        return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
    uint8_t k[DEDUPE_KEY_SIZE];
    MDB_val dkey = {s_dedupe_key (k, kind.number, job->dedupe_key), k}, val;
    MDB_dbi dbi = mem_store_dbi (store, MEM_DB_JOB_DEDUPE);
    rc = MEM_MDB (mdb_get (txn, dbi, &dkey, &val));
    if (rc == 0 && val.mv_size == 8 && mem_get_u64be (val.mv_data) == job->id)
        rc = MEM_MDB (mdb_del (txn, dbi, &dkey, NULL));
    return rc == MDB_NOTFOUND ? 0 : rc;
}

//  The jobs waiting for dep_id, with their deps entries deleted. *ids is
//  malloc'd.
static int
s_take_waiters (mem_store_t *store, MDB_txn *txn, uint64_t dep_id, uint64_t **ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    MDB_dbi dbi = mem_store_dbi (store, MEM_DB_JOB_DEPS);
    MDB_cursor *cursor;
    int rc = MEM_MDB (mdb_cursor_open (txn, dbi, &cursor));
    if (rc)
        return rc;
    uint8_t k[DEPS_KEY_SIZE];
    mem_put_u64be (k, dep_id);
    mem_put_u64be (k + 8, 0);
    MDB_val key = {sizeof k, k}, val;
    size_t cap = 0;
    rc = MEM_MDB (mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE));
    while (rc == 0 && key.mv_size == DEPS_KEY_SIZE && mem_get_u64be (key.mv_data) == dep_id) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            uint64_t *grown = realloc (*ids, cap * sizeof **ids);
            if (!grown) {
                rc = ENOMEM;
                break;
            }
            *ids = grown;
        }
        (*ids)[(*n)++] = mem_get_u64be ((uint8_t *) key.mv_data + 8);
        rc = MEM_MDB (mdb_cursor_get (cursor, &key, &val, MDB_NEXT));
    }
    mdb_cursor_close (cursor);
    if (rc == MDB_NOTFOUND)
        rc = 0;
    //  Collected first, deleted after: no cursor walks a table it changes.
    for (size_t i = 0; i < *n && !rc; i++) {
        mem_put_u64be (k + 8, (*ids)[i]);
        rc = s_del_key (txn, dbi, k, sizeof k);
    }
    if (rc) {
        free (*ids);
        *ids = NULL;
        *n = 0;
    }
    return rc;
}

//  Tells the jobs waiting for dep_id that it is done (they run once all
//  their dependencies are) or gone for good (purge: they die with it).
static int
s_release_waiters (mem_store_t *store, MDB_txn *txn, uint64_t dep_id, bool dep_died,
                   int64_t now_ms)
{
    uint64_t *ids;
    size_t n;
    int rc = s_take_waiters (store, txn, dep_id, &ids, &n);
    for (size_t i = 0; i < n && !rc; i++) {
        Memd__V1__Job *job;
        rc = mem_jobs_get (store, txn, ids[i], &job);
        if (rc == MDB_NOTFOUND) {
            rc = 0;
            continue;
        }
        if (rc)
            break;
        if (job->state != S_BLOCKED) {
            s_free_job (&job);
            continue;
        }
        if (dep_died) {
            char error[128];
            snprintf (error, sizeof error, "dependency %llu was purged",
                      (unsigned long long) dep_id);
            if (!(rc = s_unindex (store, txn, job)) && !(rc = s_set_error (job, error))) {
                job->state = S_DEAD;
                job->updated_at_ms = now_ms;
                if (!(rc = s_save (store, txn, job)))
                    rc = s_dedupe_release (store, txn, job);
            }
        }
        else if (job->waiting_for > 1) {
            job->waiting_for--;
            rc = s_job_put (store, txn, job);
        }
        else if (!(rc = s_unindex (store, txn, job))) {
            job->waiting_for = 0;
            job->state = S_QUEUED;
            if (job->next_run_at_ms < now_ms)
                job->next_run_at_ms = now_ms;
            job->updated_at_ms = now_ms;
            rc = s_save (store, txn, job);
        }
        s_free_job (&job);
    }
    free (ids);
    return rc;
}

//  Counts the unfinished ones among deps; *unknown gets an id that was
//  never assigned (0 if none). A dependency that no longer exists finished.
static int
s_count_unfinished (mem_store_t *store, MDB_txn *txn, const uint64_t *deps, size_t n,
                    uint64_t last_id, uint32_t *waiting, uint64_t *unknown)
{
    *waiting = 0;
    *unknown = 0;
    for (size_t i = 0; i < n; i++) {
        if (deps[i] == 0 || deps[i] > last_id) {
            *unknown = deps[i];
            return MDB_NOTFOUND;
        }
        Memd__V1__Job *dep;
        int rc = mem_jobs_get (store, txn, deps[i], &dep);
        if (rc == MDB_NOTFOUND)
            continue;
        if (rc)
            return rc;
        if (dep->state != S_DONE)
            (*waiting)++;
        s_free_job (&dep);
    }
    return 0;
}

//  Registers job as a waiter of each unfinished dependency.
static int
s_add_waits (mem_store_t *store, MDB_txn *txn, const Memd__V1__Job *job)
{
    MDB_dbi dbi = mem_store_dbi (store, MEM_DB_JOB_DEPS);
    for (size_t i = 0; i < job->n_depends_on; i++) {
        Memd__V1__Job *dep;
        int rc = mem_jobs_get (store, txn, job->depends_on[i], &dep);
        if (rc == MDB_NOTFOUND)
            continue;
        if (rc)
            return rc;
        bool done = dep->state == S_DONE;
        s_free_job (&dep);
        if (done)
            continue;
        uint8_t k[DEPS_KEY_SIZE];
        mem_put_u64be (k, job->depends_on[i]);
        mem_put_u64be (k + 8, job->id);
        if ((rc = s_put_key (txn, dbi, k, sizeof k)))
            return rc;
    }
    return 0;
}

//  Trims the kind's DONE history down to policy->history (a few at a time).
static int
s_trim (mem_store_t *store, MDB_txn *txn, const char *name, const mem_jobs_policy_t *policy)
{
    for (int round = 0; round < TRIM_PER_COMPLETE; round++) {
        mem_job_kind_t kind;
        int rc = s_kind_get (store, txn, name, &kind);
        if (rc)
            return rc;
        if (kind.count[S_DONE] <= policy->history)
            return 0;
        uint8_t k[STATE_KEY_SIZE];
        s_state_key (k, S_DONE, kind.number, 0);
        MDB_cursor *cursor;
        if ((rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, MEM_DB_JOB_STATES),
                                            &cursor))))
            return rc;
        MDB_val key = {sizeof k, k}, val;
        rc = MEM_MDB (mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE));
        uint64_t id = 0;
        if (rc == 0 && key.mv_size == STATE_KEY_SIZE && memcmp (key.mv_data, k, 5) == 0)
            id = mem_get_u64be ((uint8_t *) key.mv_data + 5);
        mdb_cursor_close (cursor);
        if (rc && rc != MDB_NOTFOUND)
            return rc;
        if (id == 0)
            return 0;   //  counts and index disagree; nothing to trim by
        Memd__V1__Job *job;
        if ((rc = mem_jobs_get (store, txn, id, &job)))
            return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
        rc = s_unindex (store, txn, job);
        s_free_job (&job);
        uint8_t idk[8];
        mem_put_u64be (idk, id);
        if (rc || (rc = s_del_key (txn, mem_store_dbi (store, MEM_DB_JOBS), idk, 8)))
            return rc;
    }
    return 0;
}

//  Loads a job that the caller must hold by its lease (state LEASED, same fence).
static int
s_load_leased (mem_store_t *store, MDB_txn *txn, uint64_t id, uint64_t fence,
               Memd__V1__Job **job)
{
    int rc = mem_jobs_get (store, txn, id, job);
    if (rc)
        return rc;
    if ((*job)->state != S_LEASED || (*job)->fence != fence) {
        s_free_job (job);
        return MEM_JOBS_STALE;
    }
    return 0;
}

//  Hands the job to *out, or frees it.
static void
s_give (Memd__V1__Job **job_p, Memd__V1__Job **out)
{
    if (out)
        *out = *job_p;
    else
        s_free_job (job_p);
    *job_p = NULL;
}

//  --------------------------------------------------------------------------
//  Operations

int
mem_jobs_enqueue (mem_store_t *store, MDB_txn *txn, const mem_job_spec_t *spec, int64_t now_ms,
                  mem_job_enqueued_t *out)
{
    memset (out, 0, sizeof *out);
    const char *dedupe = spec->dedupe_key && *spec->dedupe_key ? spec->dedupe_key : NULL;
    if (!mem_jobs_kind_valid (spec->kind) || (dedupe && strlen (dedupe) > DEDUPE_MAX)
        || spec->n_depends > 1024 || spec->delay_ms < 0)
        return EINVAL;
    mem_job_kind_t kind;
    int rc = s_kind_get (store, txn, spec->kind, &kind);
    bool new_kind = rc == MDB_NOTFOUND;
    if (rc && !new_kind)
        return rc;
    if (!new_kind && dedupe) {
        uint64_t holder;
        if ((rc = s_dedupe_holder (store, txn, kind.number, dedupe, &holder)))
            return rc;
        if (holder) {
            out->id = holder;
            out->duplicate = true;
            return 0;
        }
    }
    uint64_t kinds = mem_store_counter_get (txn, store, "job_kinds");
    if (new_kind && kinds >= MEM_JOBS_MAX_KINDS)
        return MEM_JOBS_KINDS_FULL;

    //  Dependencies, each once; all checked before anything is written.
    uint64_t *deps = spec->n_depends ? calloc (spec->n_depends, sizeof *deps) : NULL;
    size_t n_deps = 0;
    if (spec->n_depends && !deps)
        return ENOMEM;
    for (size_t i = 0; i < spec->n_depends; i++) {
        bool seen = false;
        for (size_t j = 0; j < n_deps && !seen; j++)
            seen = deps[j] == spec->depends_on[i];
        if (!seen)
            deps[n_deps++] = spec->depends_on[i];
    }
    uint64_t last_id = mem_store_counter_get (txn, store, "next_job_id");
    uint32_t waiting;
    rc = s_count_unfinished (store, txn, deps, n_deps, last_id, &waiting, &out->bad_dependency);
    if (rc) {
        free (deps);
        return rc;
    }

    if (new_kind) {
        memset (&kind, 0, sizeof kind);
        kind.number = (uint32_t) kinds + 1;
        if ((rc = s_kind_put (store, txn, spec->kind, &kind))
            || (rc = mem_store_counter_add (txn, store, "job_kinds", 1))) {
            free (deps);
            return rc;
        }
    }
    Memd__V1__Job job = MEMD__V1__JOB__INIT;
    job.id = last_id + 1;
    job.kind = (char *) spec->kind;
    job.payload = (ProtobufCBinaryData){spec->payload_len, (uint8_t *) spec->payload};
    job.dedupe_key = (char *) (dedupe ? dedupe : "");
    job.state = waiting ? S_BLOCKED : S_QUEUED;
    job.max_attempts = spec->max_attempts ? spec->max_attempts : MEM_JOBS_MAX_ATTEMPTS_DEFAULT;
    job.next_run_at_ms = now_ms + spec->delay_ms;
    job.depends_on = deps;
    job.n_depends_on = n_deps;
    job.created_at_ms = now_ms;
    job.updated_at_ms = now_ms;
    job.waiting_for = waiting;
    if (!(rc = mem_store_counter_add (txn, store, "next_job_id", 1))
        && !(rc = (waiting ? s_add_waits (store, txn, &job) : 0))
        && !(rc = s_save (store, txn, &job)))
        rc = s_dedupe_claim (store, txn, &job, kind.number);
    free (deps);
    if (rc == 0) {
        out->id = job.id;
        out->state = job.state;
        out->max_attempts = job.max_attempts;
        out->next_run_at_ms = job.next_run_at_ms;
    }
    return rc;
}

//  The earliest due entry of a kind at or before now: its id and due time.
static int
s_first_due (MDB_cursor *cursor, uint32_t kind, int64_t *due, uint64_t *id)
{
    uint8_t k[DUE_KEY_SIZE];
    s_due_key (k, kind, 0, 0);
    MDB_val key = {sizeof k, k}, val;
    *id = 0;
    *due = 0;
    int rc = MEM_MDB (mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE));
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (key.mv_size == DUE_KEY_SIZE && mem_get_u32be (key.mv_data) == kind) {
        *due = (int64_t) mem_get_u64be ((uint8_t *) key.mv_data + 4);
        *id = mem_get_u64be ((uint8_t *) key.mv_data + 12);
    }
    return 0;
}

int
mem_jobs_lease (mem_store_t *store, MDB_txn *txn, const mem_job_lease_t *req, int64_t now_ms,
                Memd__V1__Job **out, size_t *n_out)
{
    *n_out = 0;
    if (req->n_kinds == 0 || req->max_jobs == 0)
        return 0;
    MDB_cursor *cursor;
    int rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, MEM_DB_JOB_DUE), &cursor));
    if (rc)
        return rc;
    size_t bytes = 0;
    while (*n_out < req->max_jobs && !rc && !(req->max_bytes && bytes >= req->max_bytes)) {
        //  The earliest due job among the kinds under their limits.
        size_t best = req->n_kinds;
        int64_t best_due = 0;
        uint64_t best_id = 0;
        for (size_t i = 0; i < req->n_kinds && !rc; i++) {
            mem_job_kind_t kind;
            rc = s_kind_get (store, txn, req->kinds[i], &kind);
            if (rc == MDB_NOTFOUND) {
                rc = 0;
                continue;
            }
            uint32_t limit = req->limits ? req->limits[i] : 0;
            if (rc || (limit && kind.count[S_LEASED] >= limit))
                continue;
            int64_t due;
            uint64_t id;
            rc = s_first_due (cursor, kind.number, &due, &id);
            if (!rc && id && due <= now_ms
                && (best == req->n_kinds || due < best_due || (due == best_due && id < best_id))) {
                best = i;
                best_due = due;
                best_id = id;
            }
        }
        if (rc || best == req->n_kinds)
            break;
        Memd__V1__Job *job;
        if ((rc = mem_jobs_get (store, txn, best_id, &job))) {
            if (rc == MDB_NOTFOUND)
                rc = MDB_CORRUPTED;   //  a due entry without its job
            break;
        }
        if (!(rc = s_unindex (store, txn, job)) && !(rc = s_set_string (&job->lease_owner,
                                                                          req->owner))) {
            job->state = S_LEASED;
            job->attempts++;
            job->fence++;
            job->lease_expires_at_ms = now_ms + req->lease_ms;
            job->updated_at_ms = now_ms;
            rc = s_save (store, txn, job);
        }
        if (rc)
            s_free_job (&job);
        else {
            bytes += job->payload.len + 64;
            out[(*n_out)++] = job;
        }
    }
    mdb_cursor_close (cursor);
    if (rc) {
        while (*n_out)
            s_free_job (&out[--*n_out]);
    }
    return rc;
}

int
mem_jobs_complete (mem_store_t *store, MDB_txn *txn, uint64_t id, uint64_t fence, int64_t now_ms,
                   mem_jobs_policy_t *policy, Memd__V1__Job **out)
{
    Memd__V1__Job *job;
    int rc = mem_jobs_get (store, txn, id, &job);
    if (rc)
        return rc;
    if (job->state == S_DONE && job->fence == fence) {
        s_give (&job, out);   //  completed already by this lease: say so again
        return 0;
    }
    if (job->state != S_LEASED || job->fence != fence) {
        s_free_job (&job);
        return MEM_JOBS_STALE;
    }
    if (!(rc = s_unindex (store, txn, job))) {
        job->state = S_DONE;
        free (job->payload.data);   //  history keeps what happened, not the work
        job->payload.data = NULL;
        job->payload.len = 0;
        job->lease_expires_at_ms = 0;
        job->updated_at_ms = now_ms;
        if (!(rc = s_save (store, txn, job)) && !(rc = s_dedupe_release (store, txn, job))
            && !(rc = s_release_waiters (store, txn, id, false, now_ms)))
            rc = s_trim (store, txn, job->kind, policy);
    }
    if (rc)
        s_free_job (&job);
    else
        s_give (&job, out);
    return rc;
}

//  After a failed attempt: dead letter when fatal or out of attempts,
//  else due again after the delay (or the backoff).
static int
s_attempt_failed (mem_store_t *store, MDB_txn *txn, Memd__V1__Job *job, bool fatal,
                  const char *error, int64_t retry_after_ms, int64_t now_ms,
                  mem_jobs_policy_t *policy)
{
    int rc = s_unindex (store, txn, job);
    if (rc || (rc = s_set_error (job, error)))
        return rc;
    job->lease_expires_at_ms = 0;
    job->updated_at_ms = now_ms;
    if (fatal || job->attempts >= job->max_attempts) {
        job->state = S_DEAD;
        if (!(rc = s_save (store, txn, job)))
            rc = s_dedupe_release (store, txn, job);
        return rc;
    }
    job->state = S_FAILED;
    int64_t delay = retry_after_ms > 0 ? retry_after_ms
                                       : mem_jobs_backoff_ms (policy, job->attempts, &policy->rng);
    job->next_run_at_ms = now_ms + delay;
    return s_save (store, txn, job);
}

int
mem_jobs_fail (mem_store_t *store, MDB_txn *txn, uint64_t id, uint64_t fence, bool fatal,
               const char *error, int64_t retry_after_ms, int64_t now_ms,
               mem_jobs_policy_t *policy, Memd__V1__Job **out)
{
    Memd__V1__Job *job;
    int rc = s_load_leased (store, txn, id, fence, &job);
    if (rc)
        return rc;
    rc = s_attempt_failed (store, txn, job, fatal, error && *error ? error : "failed",
                           retry_after_ms, now_ms, policy);
    if (rc)
        s_free_job (&job);
    else
        s_give (&job, out);
    return rc;
}

int
mem_jobs_extend (mem_store_t *store, MDB_txn *txn, uint64_t id, uint64_t fence, int64_t lease_ms,
                 int64_t now_ms, Memd__V1__Job **out)
{
    Memd__V1__Job *job;
    int rc = s_load_leased (store, txn, id, fence, &job);
    if (rc)
        return rc;
    if (!(rc = s_unindex (store, txn, job))) {
        job->lease_expires_at_ms = now_ms + lease_ms;
        job->updated_at_ms = now_ms;
        rc = s_save (store, txn, job);
    }
    if (rc)
        s_free_job (&job);
    else
        s_give (&job, out);
    return rc;
}

int
mem_jobs_expire (mem_store_t *store, MDB_txn *txn, int64_t now_ms, size_t max,
                 mem_jobs_policy_t *policy, size_t *n, bool *more, uint64_t *expired)
{
    *n = 0;
    *more = false;
    uint64_t ids[256];
    if (max > 256)
        max = 256;
    size_t found = 0;
    MDB_cursor *cursor;
    int rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, MEM_DB_JOB_LEASES), &cursor));
    if (rc)
        return rc;
    MDB_val key, val;
    rc = MEM_MDB (mdb_cursor_get (cursor, &key, &val, MDB_FIRST));
    while (rc == 0 && key.mv_size == LEASE_KEY_SIZE
           && (int64_t) mem_get_u64be (key.mv_data) <= now_ms) {
        if (found == max) {
            *more = true;
            break;
        }
        ids[found++] = mem_get_u64be ((uint8_t *) key.mv_data + 8);
        rc = MEM_MDB (mdb_cursor_get (cursor, &key, &val, MDB_NEXT));
    }
    mdb_cursor_close (cursor);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    rc = 0;
    for (size_t i = 0; i < found && !rc; i++) {
        Memd__V1__Job *job;
        rc = mem_jobs_get (store, txn, ids[i], &job);
        if (rc == MDB_NOTFOUND) {
            rc = MDB_CORRUPTED;   //  a lease entry without its job
            break;
        }
        if (rc)
            break;
        char error[256];
        snprintf (error, sizeof error, "lease expired (worker '%.64s', attempt %u of %u)",
                  job->lease_owner, job->attempts, job->max_attempts);
        rc = s_attempt_failed (store, txn, job, false, error, 0, now_ms, policy);
        s_free_job (&job);
        if (!rc && expired)
            expired[*n] = ids[i];
        if (!rc)
            (*n)++;
    }
    return rc;
}

int
mem_jobs_retry (mem_store_t *store, MDB_txn *txn, uint64_t id, int64_t now_ms)
{
    Memd__V1__Job *job;
    int rc = mem_jobs_get (store, txn, id, &job);
    if (rc)
        return rc;
    if (job->state != S_DEAD) {
        s_free_job (&job);
        return MDB_NOTFOUND;
    }
    mem_job_kind_t kind;
    uint64_t holder = 0, unknown;
    uint32_t waiting = 0;
    rc = s_kind_get (store, txn, job->kind, &kind);
    if (!rc && *job->dedupe_key)
        rc = s_dedupe_holder (store, txn, kind.number, job->dedupe_key, &holder);
    if (!rc && holder && holder != id)
        rc = MEM_JOBS_DEDUPE_TAKEN;
    if (!rc)
        rc = s_count_unfinished (store, txn, job->depends_on, job->n_depends_on, UINT64_MAX,
                                 &waiting, &unknown);
    if (!rc && !(rc = s_unindex (store, txn, job))) {
        job->state = waiting ? S_BLOCKED : S_QUEUED;
        job->waiting_for = waiting;
        job->attempts = 0;
        job->lease_expires_at_ms = 0;
        job->next_run_at_ms = now_ms;
        job->updated_at_ms = now_ms;
        if (!(rc = (waiting ? s_add_waits (store, txn, job) : 0))
            && !(rc = s_save (store, txn, job)))
            rc = s_dedupe_claim (store, txn, job, kind.number);
    }
    s_free_job (&job);
    return rc;
}

int
mem_jobs_purge (mem_store_t *store, MDB_txn *txn, uint64_t id, int64_t now_ms)
{
    Memd__V1__Job *job;
    int rc = mem_jobs_get (store, txn, id, &job);
    if (rc)
        return rc;
    if (job->state != S_DEAD) {
        s_free_job (&job);
        return MDB_NOTFOUND;
    }
    uint8_t k[DEPS_KEY_SIZE];
    mem_put_u64be (k, id);
    if (!(rc = s_unindex (store, txn, job)) && !(rc = s_dedupe_release (store, txn, job))
        && !(rc = s_del_key (txn, mem_store_dbi (store, MEM_DB_JOBS), k, 8))) {
        //  Its own waits (if it died while blocked), then the jobs waiting for it.
        MDB_dbi deps = mem_store_dbi (store, MEM_DB_JOB_DEPS);
        for (size_t i = 0; i < job->n_depends_on && !rc; i++) {
            mem_put_u64be (k, job->depends_on[i]);
            mem_put_u64be (k + 8, id);
            rc = s_del_key (txn, deps, k, sizeof k);
        }
        if (!rc)
            rc = s_release_waiters (store, txn, id, true, now_ms);
    }
    s_free_job (&job);
    return rc;
}

//  Collects up to limit + 1 ids above after_id from one (state, kind)
//  prefix of the states index.
static int
s_collect (MDB_cursor *cursor, int state, uint32_t kind, uint64_t after_id, size_t limit,
           uint64_t **ids, size_t *n, size_t *cap)
{
    uint8_t k[STATE_KEY_SIZE];
    s_state_key (k, state, kind, after_id + 1);
    MDB_val key = {sizeof k, k}, val;
    int rc = MEM_MDB (mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE));
    for (size_t taken = 0; rc == 0 && taken <= limit; taken++) {
        if (key.mv_size != STATE_KEY_SIZE || memcmp (key.mv_data, k, 5) != 0)
            break;
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 64;
            uint64_t *grown = realloc (*ids, *cap * sizeof **ids);
            if (!grown)
                return ENOMEM;
            *ids = grown;
        }
        (*ids)[(*n)++] = mem_get_u64be ((uint8_t *) key.mv_data + 5);
        rc = MEM_MDB (mdb_cursor_get (cursor, &key, &val, MDB_NEXT));
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int
s_u64_compare (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

int
mem_jobs_list_ids (mem_store_t *store, MDB_txn *txn, int state, const char *kind,
                   uint64_t after_id, size_t limit, uint64_t *ids, size_t *n, bool *more)
{
    *n = 0;
    *more = false;
    bool any_kind = !kind || !*kind;
    if (state == 0 && any_kind) {
        //  Everything: the jobs table is in id order.
        MDB_cursor *cursor;
        int rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, MEM_DB_JOBS), &cursor));
        if (rc)
            return rc;
        uint8_t k[8];
        mem_put_u64be (k, after_id + 1);
        MDB_val key = {8, k}, val;
        rc = MEM_MDB (mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE));
        while (rc == 0 && key.mv_size == 8) {
            if (*n == limit) {
                *more = true;
                break;
            }
            ids[(*n)++] = mem_get_u64be (key.mv_data);
            rc = MEM_MDB (mdb_cursor_get (cursor, &key, &val, MDB_NEXT));
        }
        mdb_cursor_close (cursor);
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    //  Otherwise the (state, kind) prefixes that match, merged by id.
    uint32_t numbers[MEM_JOBS_MAX_KINDS];
    size_t n_numbers = 0;
    int rc = 0;
    if (!any_kind) {
        mem_job_kind_t k;
        rc = s_kind_get (store, txn, kind, &k);
        if (rc)
            return rc == MDB_NOTFOUND ? 0 : rc;
        numbers[n_numbers++] = k.number;
    }
    else {
        MDB_cursor *cursor;
        if ((rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, MEM_DB_JOB_KINDS),
                                            &cursor))))
            return rc;
        MDB_val key, val;
        while (n_numbers < MEM_JOBS_MAX_KINDS
               && (rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT)) == 0)
            if (val.mv_size == sizeof (mem_job_kind_t)) {
                mem_job_kind_t k;
                memcpy (&k, val.mv_data, sizeof k);
                numbers[n_numbers++] = k.number;
            }
        mdb_cursor_close (cursor);
        if (rc && rc != MDB_NOTFOUND)
            return MEM_MDB (rc);
    }
    MDB_cursor *cursor;
    if ((rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, MEM_DB_JOB_STATES), &cursor))))
        return rc;
    uint64_t *found = NULL;
    size_t n_found = 0, cap = 0;
    rc = 0;
    for (int s = state ? state : 1; s <= (state ? state : MEM_JOBS_STATES - 1) && !rc; s++)
        for (size_t i = 0; i < n_numbers && !rc; i++)
            rc = s_collect (cursor, s, numbers[i], after_id, limit, &found, &n_found, &cap);
    mdb_cursor_close (cursor);
    if (!rc && n_found) {
        qsort (found, n_found, sizeof *found, s_u64_compare);
        *more = n_found > limit;
        *n = *more ? limit : n_found;
        memcpy (ids, found, *n * sizeof *ids);
    }
    free (found);
    return rc;
}

int
mem_jobs_stats (mem_store_t *store, MDB_txn *txn, int64_t now_ms, mem_job_kind_stats_t **kinds,
                size_t *n_kinds)
{
    *kinds = NULL;
    *n_kinds = 0;
    MDB_cursor *cursor, *due;
    int rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, MEM_DB_JOB_KINDS), &cursor));
    if (rc)
        return rc;
    if ((rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, MEM_DB_JOB_DUE), &due)))) {
        mdb_cursor_close (cursor);
        return rc;
    }
    size_t cap = 0;
    MDB_val key, val;
    while ((rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT)) == 0) {
        if (val.mv_size != sizeof (mem_job_kind_t) || key.mv_size > MEM_JOBS_KIND_MAX)
            continue;
        if (*n_kinds == cap) {
            cap = cap ? cap * 2 : 8;
            mem_job_kind_stats_t *grown = realloc (*kinds, cap * sizeof **kinds);
            if (!grown) {
                rc = ENOMEM;
                break;
            }
            *kinds = grown;
        }
        mem_job_kind_stats_t *st = &(*kinds)[(*n_kinds)++];
        memset (st, 0, sizeof *st);
        memcpy (st->kind, key.mv_data, key.mv_size);
        mem_job_kind_t kind;
        memcpy (&kind, val.mv_data, sizeof kind);
        memcpy (st->count, kind.count, sizeof st->count);
        int64_t first;
        uint64_t id;
        if ((rc = s_first_due (due, kind.number, &first, &id)))
            break;
        if (id && first > now_ms)
            st->next_due_ms = first;
        else if (id) {
            st->oldest_due_ms = first > 0 ? first : 1;
            //  The next one in the future, if any.
            uint8_t k[DUE_KEY_SIZE];
            s_due_key (k, kind.number, now_ms + 1, 0);
            MDB_val dkey = {sizeof k, k}, dval;
            rc = MEM_MDB (mdb_cursor_get (due, &dkey, &dval, MDB_SET_RANGE));
            if (rc == 0 && dkey.mv_size == DUE_KEY_SIZE
                && mem_get_u32be (dkey.mv_data) == kind.number)
                st->next_due_ms = (int64_t) mem_get_u64be ((uint8_t *) dkey.mv_data + 4);
            if (rc && rc != MDB_NOTFOUND)
                break;
            rc = 0;
        }
    }
    mdb_cursor_close (due);
    mdb_cursor_close (cursor);
    if (rc == MDB_NOTFOUND)
        rc = 0;
    if (rc) {
        free (*kinds);
        *kinds = NULL;
        *n_kinds = 0;
    }
    return MEM_MDB (rc);
}

int
mem_jobs_next_expiry (mem_store_t *store, MDB_txn *txn, int64_t *expiry_ms)
{
    *expiry_ms = 0;
    MDB_cursor *cursor;
    int rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, MEM_DB_JOB_LEASES), &cursor));
    if (rc)
        return rc;
    MDB_val key, val;
    rc = MEM_MDB (mdb_cursor_get (cursor, &key, &val, MDB_FIRST));
    if (rc == 0 && key.mv_size == LEASE_KEY_SIZE) {
        *expiry_ms = (int64_t) mem_get_u64be (key.mv_data);
        if (*expiry_ms == 0)
            *expiry_ms = 1;
    }
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int
mem_jobs_next_due (mem_store_t *store, MDB_txn *txn, const char *kind, int64_t *due_ms,
                   uint64_t *leased)
{
    *due_ms = 0;
    *leased = 0;
    mem_job_kind_t k;
    int rc = s_kind_get (store, txn, kind, &k);
    if (rc)
        return rc == MDB_NOTFOUND ? 0 : rc;
    *leased = k.count[S_LEASED];
    MDB_cursor *cursor;
    if ((rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, MEM_DB_JOB_DUE), &cursor))))
        return rc;
    uint64_t id;
    rc = s_first_due (cursor, k.number, due_ms, &id);
    mdb_cursor_close (cursor);
    if (!rc && id && *due_ms == 0)
        *due_ms = 1;   //  0 means "none"
    return rc;
}

//  --------------------------------------------------------------------------
//  Selftest

#undef NDEBUG
#include <assert.h>

#include "mem_records.h"

//  Runs one operation in its own write transaction, committed.
#define IN_TXN(store, txn, body)                                                     \
    do {                                                                             \
        assert (mem_store_write_begin ((store), &(txn)) == 0);                       \
        body;                                                                        \
        assert (mem_store_write_commit ((store), &(txn)) == 0);                      \
    } while (0)

static uint64_t
s_test_enqueue (mem_store_t *store, const char *kind, const char *payload, const char *dedupe,
                int64_t now, const uint64_t *deps, size_t n_deps, bool *dup)
{
    MDB_txn *txn;
    mem_job_spec_t spec = {kind, payload, payload ? strlen (payload) : 0, dedupe, 3, 0,
                           deps,  n_deps};
    mem_job_enqueued_t out;
    IN_TXN (store, txn, assert (mem_jobs_enqueue (store, txn, &spec, now, &out) == 0));
    assert (out.duplicate || n_deps || out.state == S_QUEUED);   //  deps may be done already
    if (dup)
        *dup = out.duplicate;
    return out.id;
}

//  Leases at most one job of kind; returns it (or NULL).
static Memd__V1__Job *
s_test_lease (mem_store_t *store, const char *kind, uint32_t limit, int64_t now)
{
    MDB_txn *txn;
    const char *kinds[] = {kind};
    uint32_t limits[] = {limit};
    mem_job_lease_t req = {kinds, 1, limits, 1, 0, 1000, "tester"};
    Memd__V1__Job *jobs[1];
    size_t n;
    IN_TXN (store, txn, assert (mem_jobs_lease (store, txn, &req, now, jobs, &n) == 0));
    return n ? jobs[0] : NULL;
}

static int
s_test_state (mem_store_t *store, uint64_t id)
{
    MDB_txn *txn;
    Memd__V1__Job *job;
    assert (mem_store_read_begin (store, &txn) == 0);
    int rc = mem_jobs_get (store, txn, id, &job);
    int state = rc == 0 ? (int) job->state : -1;
    if (rc == 0)
        memd__v1__job__free_unpacked (job, NULL);
    mem_store_read_end (store, &txn);
    return state;
}

static void
s_test_counts (mem_store_t *store, const char *kind, int64_t now, mem_job_kind_stats_t *out)
{
    MDB_txn *txn;
    mem_job_kind_stats_t *kinds;
    size_t n;
    assert (mem_store_read_begin (store, &txn) == 0);
    assert (mem_jobs_stats (store, txn, now, &kinds, &n) == 0);
    mem_store_read_end (store, &txn);
    memset (out, 0, sizeof *out);
    for (size_t i = 0; i < n; i++)
        if (strcmp (kinds[i].kind, kind) == 0)
            *out = kinds[i];
    free (kinds);
}

void
mem_jobs_test (bool verbose)
{
    printf (" * mem_jobs: ");
    char dir[] = "/tmp/mem_jobs_test.XXXXXX";
    assert (mkdtemp (dir));
    char err[512];
    mem_store_options_t opts;
    mem_store_options_default (&opts);
    opts.dir = dir;
    opts.sync = MEM_SYNC_NONE;
    opts.map_size = 256 << 10;   //  small: the outbox test below grows it
    mem_store_t *store = mem_store_open (&opts, err, sizeof err);
    assert (store);
    mem_jobs_policy_t policy = {1000, 60000, 2, 42};
    MDB_txn *txn;
    int64_t now = 1000000;

    //  Kind names and the backoff curve: doubling, capped, jittered in [d/2, d].
    assert (mem_jobs_kind_valid ("llm") && mem_jobs_kind_valid ("index.follow-up:v2"));
    assert (!mem_jobs_kind_valid ("") && !mem_jobs_kind_valid ("a b")
            && !mem_jobs_kind_valid ("x=1"));
    char long_kind[80];
    memset (long_kind, 'k', sizeof long_kind - 1);
    long_kind[sizeof long_kind - 1] = 0;
    assert (!mem_jobs_kind_valid (long_kind));
    uint64_t rng = 7;
    for (uint32_t attempt = 1; attempt <= 10; attempt++) {
        int64_t d = 1000LL << (attempt - 1);
        if (d > 60000)
            d = 60000;
        for (int i = 0; i < 50; i++) {
            int64_t b = mem_jobs_backoff_ms (&policy, attempt, &rng);
            assert (b >= d / 2 && b <= d);
        }
    }

    //  Enqueue → lease → complete; the fence is bumped per lease; the
    //  payload is gone from history; completing again with the same fence is
    //  a no-op, with another fence it is refused.
    uint64_t a = s_test_enqueue (store, "embed", "payload-a", NULL, now, NULL, 0, NULL);
    assert (a == 1 && s_test_state (store, a) == S_QUEUED);
    Memd__V1__Job *job = s_test_lease (store, "embed", 0, now);
    assert (job && job->id == a && job->fence == 1 && job->attempts == 1);
    assert (job->payload.len == 9 && memcmp (job->payload.data, "payload-a", 9) == 0);
    assert (strcmp (job->lease_owner, "tester") == 0 && job->lease_expires_at_ms == now + 1000);
    memd__v1__job__free_unpacked (job, NULL);
    assert (s_test_lease (store, "embed", 0, now) == NULL);   //  nothing else due
    assert (mem_store_write_begin (store, &txn) == 0);
    assert (mem_jobs_complete (store, txn, a, 2, now, &policy, NULL) == MEM_JOBS_STALE);
    assert (mem_jobs_complete (store, txn, 999, 1, now, &policy, NULL) == MDB_NOTFOUND);
    assert (mem_jobs_complete (store, txn, a, 1, now, &policy, &job) == 0);
    assert (job->state == S_DONE && job->payload.len == 0);
    memd__v1__job__free_unpacked (job, NULL);
    assert (mem_jobs_complete (store, txn, a, 1, now, &policy, NULL) == 0);
    assert (mem_jobs_fail (store, txn, a, 1, false, "x", 0, now, &policy, NULL)
            == MEM_JOBS_STALE);
    assert (mem_store_write_commit (store, &txn) == 0);

    //  Retryable failure: FAILED, due after the backoff, not before; max
    //  attempts (3) → DEAD; retry brings it back; purge removes it.
    uint64_t b = s_test_enqueue (store, "embed", "b", NULL, now, NULL, 0, NULL);
    for (uint32_t attempt = 1; attempt <= 3; attempt++) {
        job = s_test_lease (store, "embed", 0, now);
        assert (job && job->id == b && job->attempts == attempt);
        uint64_t fence = job->fence;
        memd__v1__job__free_unpacked (job, NULL);
        IN_TXN (store, txn,
                assert (mem_jobs_fail (store, txn, b, fence, false, "boom", 0, now, &policy, &job)
                        == 0));
        if (attempt < 3) {
            assert (job->state == S_FAILED && strcmp (job->last_error, "boom") == 0);
            int64_t delay = job->next_run_at_ms - now;
            int64_t d = 1000LL << (attempt - 1);
            assert (delay >= d / 2 && delay <= d);
            assert (s_test_lease (store, "embed", 0, now + delay - 1) == NULL);
            now += delay;
        }
        else
            assert (job->state == S_DEAD);
        memd__v1__job__free_unpacked (job, NULL);
    }
    mem_job_kind_stats_t st;
    s_test_counts (store, "embed", now, &st);
    assert (st.count[S_DEAD] == 1 && st.count[S_DONE] == 1 && st.count[S_QUEUED] == 0);
    IN_TXN (store, txn, assert (mem_jobs_retry (store, txn, b, now) == 0));
    assert (s_test_state (store, b) == S_QUEUED);
    job = s_test_lease (store, "embed", 0, now);
    assert (job && job->attempts == 1);   //  attempts start again
    uint64_t fence = job->fence;
    memd__v1__job__free_unpacked (job, NULL);
    IN_TXN (store, txn,
            assert (mem_jobs_fail (store, txn, b, fence, true, "fatal", 0, now, &policy, NULL)
                    == 0));
    assert (s_test_state (store, b) == S_DEAD);   //  fatal: at once
    assert (mem_store_write_begin (store, &txn) == 0);
    assert (mem_jobs_purge (store, txn, a, now) == MDB_NOTFOUND);   //  DONE is not dead
    assert (mem_jobs_purge (store, txn, b, now) == 0);
    assert (mem_jobs_retry (store, txn, b, now) == MDB_NOTFOUND);
    assert (mem_store_write_commit (store, &txn) == 0);
    assert (s_test_state (store, b) == -1);

    //  Lease expiry: a failed attempt with backoff; the old fence is refused
    //  after the job is leased again; extend moves the expiry.
    uint64_t c = s_test_enqueue (store, "llm", "c", NULL, now, NULL, 0, NULL);
    job = s_test_lease (store, "llm", 0, now);
    uint64_t old_fence = job->fence;
    memd__v1__job__free_unpacked (job, NULL);
    int64_t expiry;
    assert (mem_store_read_begin (store, &txn) == 0);
    assert (mem_jobs_next_expiry (store, txn, &expiry) == 0 && expiry == now + 1000);
    mem_store_read_end (store, &txn);
    IN_TXN (store, txn,
            assert (mem_jobs_extend (store, txn, c, old_fence, 5000, now + 500, NULL) == 0));
    size_t n;
    bool more;
    uint64_t expired[10] = {0};
    IN_TXN (store, txn,
            assert (mem_jobs_expire (store, txn, now + 5499, 10, &policy, &n, &more, NULL) == 0));
    assert (n == 0 && s_test_state (store, c) == S_LEASED);
    now += 5500;
    IN_TXN (store, txn,
            assert (mem_jobs_expire (store, txn, now, 10, &policy, &n, &more, expired) == 0));
    assert (n == 1 && !more && expired[0] == c && s_test_state (store, c) == S_FAILED);
    assert (mem_store_read_begin (store, &txn) == 0);
    assert (mem_jobs_next_expiry (store, txn, &expiry) == 0 && expiry == 0);
    mem_store_read_end (store, &txn);
    now += 1000;   //  past the first backoff
    job = s_test_lease (store, "llm", 0, now);
    assert (job && job->id == c && job->fence == old_fence + 1 && job->attempts == 2);
    assert (strstr (job->last_error, "lease expired"));
    uint64_t new_fence = job->fence;
    memd__v1__job__free_unpacked (job, NULL);
    assert (mem_store_write_begin (store, &txn) == 0);
    assert (mem_jobs_complete (store, txn, c, old_fence, now, &policy, NULL) == MEM_JOBS_STALE);
    assert (mem_jobs_extend (store, txn, c, old_fence, 1000, now, NULL) == MEM_JOBS_STALE);
    assert (mem_jobs_complete (store, txn, c, new_fence, now, &policy, NULL) == 0);
    assert (mem_store_write_commit (store, &txn) == 0);

    //  Per-kind limit: with limit 1 a second job waits until the first is done.
    uint64_t l1 = s_test_enqueue (store, "llm", "1", NULL, now, NULL, 0, NULL);
    uint64_t l2 = s_test_enqueue (store, "llm", "2", NULL, now, NULL, 0, NULL);
    job = s_test_lease (store, "llm", 1, now);
    assert (job && job->id == l1);
    fence = job->fence;
    memd__v1__job__free_unpacked (job, NULL);
    assert (s_test_lease (store, "llm", 1, now) == NULL);
    IN_TXN (store, txn,
            assert (mem_jobs_complete (store, txn, l1, fence, now, &policy, NULL) == 0));
    job = s_test_lease (store, "llm", 1, now);
    assert (job && job->id == l2);
    fence = job->fence;
    memd__v1__job__free_unpacked (job, NULL);
    IN_TXN (store, txn,
            assert (mem_jobs_complete (store, txn, l2, fence, now, &policy, NULL) == 0));

    //  History: only policy.history (2) DONE jobs of a kind are kept, oldest trimmed.
    s_test_counts (store, "llm", now, &st);
    assert (st.count[S_DONE] == 2 && s_test_state (store, c) == -1);

    //  Dedupe: an unfinished job with the same key is returned; once done, a
    //  new one is queued. Other kinds have their own keys.
    bool dup;
    uint64_t d1 = s_test_enqueue (store, "embed", "x", "rec-7", now, NULL, 0, &dup);
    assert (!dup);
    assert (s_test_enqueue (store, "embed", "y", "rec-7", now, NULL, 0, &dup) == d1 && dup);
    uint64_t other = s_test_enqueue (store, "llm", "y", "rec-7", now, NULL, 0, &dup);
    assert (!dup && other != d1);
    job = s_test_lease (store, "embed", 0, now);
    assert (job->id == d1);
    assert (s_test_enqueue (store, "embed", "z", "rec-7", now, NULL, 0, &dup) == d1 && dup);
    fence = job->fence;
    memd__v1__job__free_unpacked (job, NULL);
    IN_TXN (store, txn,
            assert (mem_jobs_complete (store, txn, d1, fence, now, &policy, NULL) == 0));
    uint64_t d2 = s_test_enqueue (store, "embed", "z", "rec-7", now, NULL, 0, &dup);
    assert (!dup && d2 != d1);

    //  Dependencies: e waits for d2 and other; it runs once both are done.
    uint64_t deps[] = {d2, other, d2};
    uint64_t e = s_test_enqueue (store, "graph", "e", NULL, now, deps, 3, NULL);
    assert (s_test_state (store, e) == S_BLOCKED);
    assert (s_test_lease (store, "graph", 0, now) == NULL);
    job = s_test_lease (store, "embed", 0, now);
    fence = job->fence;
    memd__v1__job__free_unpacked (job, NULL);
    IN_TXN (store, txn,
            assert (mem_jobs_complete (store, txn, d2, fence, now, &policy, NULL) == 0));
    assert (s_test_state (store, e) == S_BLOCKED);   //  still waits for `other`
    job = s_test_lease (store, "llm", 0, now);
    assert (job->id == other);
    fence = job->fence;
    memd__v1__job__free_unpacked (job, NULL);
    IN_TXN (store, txn,
            assert (mem_jobs_complete (store, txn, other, fence, now, &policy, NULL) == 0));
    assert (s_test_state (store, e) == S_QUEUED);
    //  A done dependency is no wait; an id never assigned is refused, with
    //  nothing written.
    uint64_t e2 = s_test_enqueue (store, "graph", "e2", NULL, now, deps, 1, NULL);
    assert (s_test_state (store, e2) == S_QUEUED);
    assert (mem_store_write_begin (store, &txn) == 0);
    uint64_t bad[] = {e, 424242};
    mem_job_spec_t spec = {"graph", "f", 1, NULL, 0, 0, bad, 2};
    mem_job_enqueued_t out;
    assert (mem_jobs_enqueue (store, txn, &spec, now, &out) == MDB_NOTFOUND);
    assert (out.bad_dependency == 424242);
    assert (mem_store_counter_get (txn, store, "next_job_id") == e2);
    mem_store_write_abort (store, &txn);

    //  Purging a dead dependency kills the jobs waiting for it.
    uint64_t root = s_test_enqueue (store, "root", "r", NULL, now, NULL, 0, NULL);
    uint64_t leaf = s_test_enqueue (store, "leaf", "l", NULL, now, &root, 1, NULL);
    job = s_test_lease (store, "root", 0, now);
    fence = job->fence;
    memd__v1__job__free_unpacked (job, NULL);
    IN_TXN (store, txn,
            assert (mem_jobs_fail (store, txn, root, fence, true, "no", 0, now, &policy, NULL)
                    == 0));
    assert (s_test_state (store, leaf) == S_BLOCKED);   //  waits for a retry of root
    IN_TXN (store, txn, assert (mem_jobs_purge (store, txn, root, now) == 0));
    assert (s_test_state (store, leaf) == S_DEAD);

    //  Delay: not due before its time; stats say when.
    uint64_t later = s_test_enqueue (store, "later", "x", NULL, now, NULL, 0, NULL);
    (void) later;
    mem_job_spec_t delayed = {"later", "y", 1, NULL, 0, 60000, NULL, 0};
    IN_TXN (store, txn, assert (mem_jobs_enqueue (store, txn, &delayed, now, &out) == 0));
    //  What enqueue tells about a new job (the reaper's job events).
    assert (!out.duplicate && out.state == S_QUEUED && out.next_run_at_ms == now + 60000
            && out.max_attempts == MEM_JOBS_MAX_ATTEMPTS_DEFAULT);
    job = s_test_lease (store, "later", 0, now);
    assert (job && job->id == later);
    memd__v1__job__free_unpacked (job, NULL);
    assert (s_test_lease (store, "later", 0, now + 59999) == NULL);
    s_test_counts (store, "later", now + 10, &st);
    assert (st.next_due_ms == now + 60000 && st.oldest_due_ms == 0);
    s_test_counts (store, "graph", now + 10, &st);
    assert (st.oldest_due_ms == now && st.count[S_QUEUED] == 2);

    //  Listing by state and kind, paged by id.
    uint64_t ids[8];
    assert (mem_store_read_begin (store, &txn) == 0);
    assert (mem_jobs_list_ids (store, txn, S_QUEUED, "graph", 0, 8, ids, &n, &more) == 0);
    assert (n == 2 && ids[0] == e && ids[1] == e2 && !more);
    assert (mem_jobs_list_ids (store, txn, S_QUEUED, NULL, 0, 1, ids, &n, &more) == 0);
    assert (n == 1 && ids[0] == e && more);
    assert (mem_jobs_list_ids (store, txn, S_QUEUED, NULL, e, 8, ids, &n, &more) == 0);
    assert (n == 2 && ids[0] == e2 && ids[1] == out.id);
    assert (mem_jobs_list_ids (store, txn, 0, NULL, 0, 3, ids, &n, &more) == 0);
    assert (n == 3 && more && ids[0] < ids[1] && ids[1] < ids[2]);
    assert (mem_jobs_list_ids (store, txn, 0, "leaf", 0, 8, ids, &n, &more) == 0);
    assert (n == 1 && ids[0] == leaf);
    assert (mem_jobs_list_ids (store, txn, S_DEAD, "nokind", 0, 8, ids, &n, &more) == 0 && !n);
    mem_store_read_end (store, &txn);

    //  The transactional outbox: jobs enqueued in the capture's transaction
    //  exist exactly when the records do (abort drops both); a map that
    //  fills up mid-batch is grown and the whole transaction redone.
    mem_index_writer_t *writer = mem_index_writer_new (store);
    bool aborted_once = false;
    for (int attempt = 0, committed = 0; !committed; attempt++) {
        assert (attempt < 10);
        assert (mem_store_write_begin (store, &txn) == 0);
        mem_capture_batch_t batch;
        int rc = mem_capture_batch_begin (&batch, store, txn, writer);
        char text[64], payload[32], big[2048];
        memset (big, 'p', sizeof big);
        for (int i = 0; i < 200 && !rc; i++) {
            Memd__V1__Record rec = MEMD__V1__RECORD__INIT;
            snprintf (text, sizeof text, "outbox record number %d", i);
            rec.text = text;
            uint64_t id;
            bool rdup;
            rc = mem_records_capture (&batch, &rec, "outbox", now, &id, &rdup);
            snprintf (payload, sizeof payload, "%llu", (unsigned long long) id);
            mem_job_spec_t follow = {"index", big, sizeof big, payload, 0, 0, NULL, 0};
            if (!rc)
                rc = mem_jobs_enqueue (store, txn, &follow, now, &out);
        }
        if (!rc)
            rc = mem_capture_batch_finish (&batch);
        if (!rc)
            rc = mem_index_writer_flush (writer, txn);
        if (rc || !aborted_once) {
            //  The first whole batch is aborted on purpose: neither side may remain.
            mem_store_write_abort (store, &txn);
            mem_index_writer_reset (writer);
            if (!rc) {
                aborted_once = true;
                s_test_counts (store, "index", now, &st);
                assert (st.count[S_QUEUED] == 0);
                uint64_t live, tombstoned;
                assert (mem_store_read_begin (store, &txn) == 0);
                assert (mem_records_counts (store, txn, &live, &tombstoned) == 0 && live == 0);
                mem_store_read_end (store, &txn);
                continue;
            }
        }
        else
            rc = mem_store_write_commit (store, &txn);
        if (rc == MDB_MAP_FULL) {
            assert (mem_store_grow (store) == 0);
            continue;
        }
        assert (rc == 0);
        committed = 1;
    }
    assert (aborted_once);
    assert (mem_store_grow (store) == 0 && mem_store_grow (store) == 0);   //  room for the rest
    mem_index_writer_destroy (&writer);
    s_test_counts (store, "index", now, &st);
    assert (st.count[S_QUEUED] == 200);
    uint64_t live, tombstoned;
    assert (mem_store_read_begin (store, &txn) == 0);
    assert (mem_records_counts (store, txn, &live, &tombstoned) == 0 && live == 200);
    mem_store_read_end (store, &txn);

    //  Many leases expire at once (these five and `later`'s): handled in bounded steps.
    for (int i = 0; i < 5; i++) {
        job = s_test_lease (store, "index", 0, now);
        assert (job);
        memd__v1__job__free_unpacked (job, NULL);
    }
    IN_TXN (store, txn,
            assert (mem_jobs_expire (store, txn, now + 2000, 3, &policy, &n, &more, NULL) == 0));
    assert (n == 3 && more);
    IN_TXN (store, txn,
            assert (mem_jobs_expire (store, txn, now + 2000, 3, &policy, &n, &more, NULL) == 0));
    assert (n == 3 && !more);
    s_test_counts (store, "index", now, &st);
    assert (st.count[S_FAILED] == 5 && st.count[S_LEASED] == 0);

    //  Persistence: everything is where it was after a reopen.
    mem_store_destroy (&store);
    store = mem_store_open (&opts, err, sizeof err);
    assert (store);
    assert (s_test_state (store, leaf) == S_DEAD && s_test_state (store, e) == S_QUEUED);
    s_test_counts (store, "index", now, &st);
    assert (st.count[S_FAILED] == 5 && st.count[S_QUEUED] == 195);
    mem_store_destroy (&store);

    char cmd[256];
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    assert (system (cmd) == 0);
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
