/*  mem_consolidate — the sleep cycle's consolidation pipeline; see
    mem_consolidate.h. */
#include "mem_consolidate.h"
#include "mem_digest.h"
#include "mem_edges.h"
#include "mem_graph_store.h"
#include "mem_jobs.h"
#include "mem_log.h"
#include "mem_minhash.h"
#include "mem_records.h"
#include "mem_recstats.h"
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STATE_KEY        "consolidate"
#define DIGEST_KEY       "consolidate/digest_key"   //  DIGEST: last dirty session done
#define BATCH_RECORDS    256      //  records one DEDUPE or DECAY step reads at most
#define BAND_CANDIDATES  32       //  candidates confirmed per record at most
#define DIGEST_MEMBERS   1000     //  newest members a digest reads
#define DIGEST_SENTENCES 6
#define DIGEST_CHARS     1200
#define SESSION_KEY_MAX  (4 + 1024)
#define SALIENCE_EPSILON 0.005f   //  smaller salience changes are not written

struct _mem_consolidate_t {
    mem_store_t *store;
    mem_index_writer_t *index;
    mem_consolidate_config_t config;
};

void
mem_consolidate_config_default (mem_consolidate_config_t *config)
{
    config->duplicate_jaccard = 0.8;
    config->digest_after_ms = 30 * 60 * 1000;
    config->digest_min_records = 3;
    config->summarize_jobs = false;
    config->decay_half_life_ms = 30LL * 24 * 3600 * 1000;
    config->decay_floor = 0.05f;
    config->decay_interval_ms = 6LL * 3600 * 1000;
    config->co_recall_half_life_ms = 30LL * 24 * 3600 * 1000;
    config->co_recall_floor = 0.1f;
    config->retention_ms = 7LL * 24 * 3600 * 1000;
    config->step_budget_ms = 20;
}

mem_consolidate_t *
mem_consolidate_new (mem_store_t *store, mem_index_writer_t *index,
                     const mem_consolidate_config_t *config)
{
    mem_consolidate_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->store = store;
    self->index = index;
    self->config = *config;
    return self;
}

void
mem_consolidate_destroy (mem_consolidate_t **self_p)
{
    free (*self_p);
    *self_p = NULL;
}

const char *
mem_phase_name (mem_phase_t phase)
{
    static const char *names[] = {"DEDUPE", "DIGEST", "DECAY", "VACUUM",
                                  "PURGE",  "MAINTAIN", "DONE"};
    return phase <= MEM_PHASE_DONE ? names[phase] : "?";
}

static int64_t
s_mono_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  --------------------------------------------------------------------------
//  Persisted state

static int
s_meta_get (mem_store_t *store, MDB_txn *txn, const char *name, MDB_val *val)
{
    MDB_val key = {strlen (name), (void *) name};
    return MEM_MDB (mdb_get (txn, mem_store_dbi (store, MEM_DB_META), &key, val));
}

static int
s_meta_put (mem_store_t *store, MDB_txn *txn, const char *name, const void *data, size_t size)
{
    MDB_val key = {strlen (name), (void *) name}, val = {size, (void *) data};
    return MEM_MDB (mdb_put (txn, mem_store_dbi (store, MEM_DB_META), &key, &val, 0));
}

int
mem_consolidate_state (mem_store_t *store, MDB_txn *txn, mem_consolidate_state_t *state)
{
    memset (state, 0, sizeof *state);
    state->phase = MEM_PHASE_DONE;
    MDB_val val;
    int rc = s_meta_get (store, txn, STATE_KEY, &val);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (val.mv_size != sizeof *state)
        return MDB_CORRUPTED;
    memcpy (state, val.mv_data, sizeof *state);
    if (state->phase > MEM_PHASE_DONE)
        return MDB_CORRUPTED;
    return 0;
}

//  Moves to the next phase, its position back at the start.
static void
s_next_phase (mem_consolidate_state_t *state)
{
    state->phase++;
    state->pos = 0;
}

//  --------------------------------------------------------------------------
//  Small helpers over the tables

static size_t
s_session_key (uint8_t *k, uint32_t agent, const char *session)
{
    size_t len = strlen (session);
    if (len > SESSION_KEY_MAX - 4)
        len = SESSION_KEY_MAX - 4;
    mem_put_u32be (k, agent);
    memcpy (k + 4, session, len);
    return 4 + len;
}

//  Up to max record ids after `after`, in order; *end: the table has no more.
static int
s_next_ids (mem_store_t *store, MDB_txn *txn, uint64_t after, uint64_t *ids, size_t max,
            size_t *n, bool *end)
{
    MDB_cursor *cursor;
    int rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, MEM_DB_DOCMETA), &cursor));
    if (rc)
        return rc;
    uint8_t k[8];
    mem_put_u64be (k, after + 1);
    MDB_val key = {8, k}, val;
    *n = 0;
    for (rc = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE); rc == 0 && *n < max;
         rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT))
        ids[(*n)++] = mem_get_u64be (key.mv_data);
    mdb_cursor_close (cursor);
    *end = rc == MDB_NOTFOUND;
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : MEM_MDB (rc);
}

static void
s_band_key (uint8_t *k, uint32_t agent, unsigned band, uint64_t value)
{
    mem_put_u32be (k, agent);
    k[4] = (uint8_t) band;
    mem_put_u64be (k + 5, value);
}

//  Adds (or, with remove, deletes) id under each of its signature's bands.
static int
s_bands_write (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint64_t id,
               const mem_minhash_t *sig, bool remove)
{
    MDB_dbi dbi = mem_store_dbi (store, MEM_DB_BANDS);
    uint8_t idk[8];
    mem_put_u64be (idk, id);
    for (unsigned b = 0; b < MEM_MINHASH_BANDS; b++) {
        uint8_t k[13];
        s_band_key (k, agent, b, mem_minhash_band (sig, b));
        MDB_val key = {13, k}, val = {8, idk};
        int rc = remove ? mdb_del (txn, dbi, &key, &val)
                        : mdb_put (txn, dbi, &key, &val, MDB_NODUPDATA);
        if (rc && rc != MDB_KEYEXIST && rc != MDB_NOTFOUND)
            return MEM_MDB (rc);
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  DEDUPE

//  Finds an older live record of agent that rec near-duplicates: *into
//  gets its id (0: none), *similarity the exact Jaccard.
static int
s_find_original (mem_consolidate_t *self, MDB_txn *txn, uint32_t agent,
                 const Memd__V1__Record *rec, const mem_minhash_t *sig, uint64_t *into,
                 double *similarity)
{
    mem_store_t *store = self->store;
    uint64_t seen[BAND_CANDIDATES];
    size_t n_seen = 0;
    *into = 0;
    MDB_cursor *cursor;
    int rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, MEM_DB_BANDS), &cursor));
    for (unsigned b = 0; b < MEM_MINHASH_BANDS && !rc && !*into; b++) {
        uint8_t k[13];
        s_band_key (k, agent, b, mem_minhash_band (sig, b));
        MDB_val key = {13, k}, val;
        int r;
        for (r = mdb_cursor_get (cursor, &key, &val, MDB_SET_KEY); r == 0 && !*into;
             r = mdb_cursor_get (cursor, &key, &val, MDB_NEXT_DUP)) {
            uint64_t candidate = mem_get_u64be (val.mv_data);
            bool known = candidate >= rec->id;
            for (size_t i = 0; i < n_seen && !known; i++)
                known = seen[i] == candidate;
            if (known)
                continue;
            if (n_seen == BAND_CANDIDATES)
                break;
            seen[n_seen++] = candidate;
            mem_docmeta_t meta;
            Memd__V1__Record *other;
            if (mem_records_docmeta (store, txn, candidate, &meta) != 0
                || (meta.flags & MEM_DOC_TOMBSTONED) || meta.agent != agent
                || mem_records_get_any (store, txn, candidate, &other) != 0)
                continue;   //  bands of tombstones linger until purge
            double j = mem_minhash_jaccard (rec->text, strlen (rec->text), other->text,
                                            strlen (other->text));
            memd__v1__record__free_unpacked (other, NULL);
            if (j >= self->config.duplicate_jaccard) {
                *into = candidate;
                *similarity = j;
            }
        }
        if (r && r != MDB_NOTFOUND)
            rc = MEM_MDB (r);
    }
    mdb_cursor_close (cursor);
    return rc;
}

static int
s_dedupe_record (mem_consolidate_t *self, MDB_txn *txn, uint64_t id, int64_t now,
                 mem_consolidate_state_t *state)
{
    mem_store_t *store = self->store;
    mem_docmeta_t meta;
    int rc = mem_records_docmeta (store, txn, id, &meta);
    if (rc == MDB_NOTFOUND)
        return 0;   //  purged
    if (rc || (meta.flags & MEM_DOC_TOMBSTONED))
        return rc;
    Memd__V1__Record *rec;
    if ((rc = mem_records_get_any (store, txn, id, &rec)))
        return rc;
    //  Its session changed: the digest phase looks at it.
    if (rec->session_id && *rec->session_id) {
        uint8_t k[SESSION_KEY_MAX];
        MDB_val key = {s_session_key (k, meta.agent, rec->session_id), k}, val = {0, NULL};
        rc = MEM_MDB (mdb_put (txn, mem_store_dbi (store, MEM_DB_DIRTY), &key, &val, 0));
    }
    if (!rc && rec->kind != MEMD__V1__KIND__SUMMARY) {
        mem_minhash_t sig;
        mem_minhash_compute (rec->text, strlen (rec->text), &sig);
        uint64_t into = 0;
        double similarity = 0;
        if (sig.n_shingles)
            rc = s_find_original (self, txn, meta.agent, rec, &sig, &into, &similarity);
        if (!rc && into) {
            rc = mem_records_tombstone (store, txn, meta.agent, id, now, into);
            mem_edge_t edge = {id, into, MEM_EDGE_DUPLICATE, (float) similarity};
            if (!rc)
                rc = mem_edges_put (store, txn, &edge);
            state->merged++;
        }
        else if (!rc && sig.n_shingles)
            rc = s_bands_write (store, txn, meta.agent, id, &sig, false);
    }
    memd__v1__record__free_unpacked (rec, NULL);
    return rc;
}

static int
s_dedupe_step (mem_consolidate_t *self, MDB_txn *txn, int64_t now, int64_t deadline,
               mem_consolidate_state_t *state)
{
    uint64_t ids[BATCH_RECORDS];
    size_t n;
    bool end;
    int rc = s_next_ids (self->store, txn, state->dedupe_mark, ids, BATCH_RECORDS, &n, &end);
    size_t i;
    for (i = 0; i < n && !rc; i++) {
        rc = s_dedupe_record (self, txn, ids[i], now, state);
        state->dedupe_mark = ids[i];
        if (s_mono_ms () >= deadline)
            break;
    }
    if (!rc && end && i >= n)
        s_next_phase (state);
    return rc;
}

//  --------------------------------------------------------------------------
//  DIGEST

typedef struct {
    Memd__V1__Record **records;   //  the session's live non-digest members, by id
    size_t n;
    int64_t last_created;
    uint64_t last_id;
} s_members_t;

static void
s_members_free (s_members_t *m)
{
    for (size_t i = 0; i < m->n; i++)
        memd__v1__record__free_unpacked (m->records[i], NULL);
    free (m->records);
    memset (m, 0, sizeof *m);
}

//  The newest DIGEST_MEMBERS live members of a session, digests excluded.
static int
s_members_load (mem_store_t *store, MDB_txn *txn, uint32_t agent, const char *session,
                s_members_t *m)
{
    memset (m, 0, sizeof *m);
    uint64_t *ids;
    size_t n;
    int rc = mem_records_session_ids (store, txn, agent, session, &ids, &n);
    if (rc)
        return rc;
    rc = 0;
    size_t first = n > DIGEST_MEMBERS ? n - DIGEST_MEMBERS : 0;
    m->records = calloc (n - first + 1, sizeof *m->records);
    if (!m->records)
        rc = ENOMEM;
    for (size_t i = first; i < n && !rc; i++) {
        Memd__V1__Record *rec;
        if ((rc = mem_records_get_any (store, txn, ids[i], &rec)))
            break;
        if (rec->kind == MEMD__V1__KIND__SUMMARY || rec->tombstoned_at_ms) {
            memd__v1__record__free_unpacked (rec, NULL);
            continue;
        }
        m->records[m->n++] = rec;
        if (rec->created_at_ms > m->last_created)
            m->last_created = rec->created_at_ms;
        if (rec->id > m->last_id)
            m->last_id = rec->id;
    }
    free (ids);
    if (rc)
        s_members_free (m);
    return rc;
}

static void
s_format_day (int64_t ms, char *buf, size_t size)
{
    time_t secs = (time_t) (ms / 1000);
    struct tm tm;
    if (!gmtime_r (&secs, &tm) || !strftime (buf, size, "%Y-%m-%d", &tm))
        snprintf (buf, size, "?");
}

//  The digest's text: a header line, then the extractive sentences.
static char *
s_digest_text (const char *session, const s_members_t *m)
{
    mem_digest_member_t *in = calloc (m->n, sizeof *in);
    if (!in)
        return NULL;
    int64_t first = INT64_MAX;
    for (size_t i = 0; i < m->n; i++) {
        in[i] = (mem_digest_member_t){m->records[i]->text, strlen (m->records[i]->text),
                                      m->records[i]->id, m->records[i]->created_at_ms};
        if (m->records[i]->created_at_ms < first)
            first = m->records[i]->created_at_ms;
    }
    size_t picked = 0;
    char *body = mem_digest_build (in, m->n, DIGEST_SENTENCES, DIGEST_CHARS, &picked);
    free (in);
    if (!body)
        return NULL;
    char from[32], to[32];
    s_format_day (first, from, sizeof from);
    s_format_day (m->last_created, to, sizeof to);
    char *text = NULL;
    if (asprintf (&text, "Session %.200s, %zu records, %s to %s:\n%s", session, m->n, from, to,
                  body)
        < 0)
        text = NULL;
    free (body);
    return text;
}

static int
s_enqueue_summarize (mem_store_t *store, MDB_txn *txn, const char *agent, const char *session,
                     uint64_t digest, const s_members_t *m, int64_t now, uint64_t *jobs)
{
    json_t *ids = json_array ();
    for (size_t i = 0; i < m->n; i++)
        json_array_append_new (ids, json_integer ((json_int_t) m->records[i]->id));
    json_t *doc = json_pack ("{s:s, s:s, s:I, s:o}", "agent_id", agent, "session_id", session,
                             "digest_id", (json_int_t) digest, "record_ids", ids);
    char *payload = doc ? json_dumps (doc, JSON_COMPACT) : NULL;
    json_decref (doc);
    if (!payload)
        return ENOMEM;
    char dedupe[64];
    snprintf (dedupe, sizeof dedupe, "digest:%llu", (unsigned long long) digest);
    mem_job_spec_t spec = {.kind = "summarize", .payload = payload,
                           .payload_len = strlen (payload), .dedupe_key = dedupe};
    mem_job_enqueued_t out;
    int rc = mem_jobs_enqueue (store, txn, &spec, now, &out);
    free (payload);
    if (rc == 0 && !out.duplicate)
        (*jobs)++;
    return rc;
}

//  Writes the digest of one session (replacing its older digest).
static int
s_digest_write (mem_consolidate_t *self, MDB_txn *txn, uint32_t agent, const char *session,
                const MDB_val *session_key, const s_members_t *m, uint64_t old_digest,
                int64_t now, mem_consolidate_state_t *state, mem_step_result_t *result)
{
    mem_store_t *store = self->store;
    const char *agent_name = m->records[m->n - 1]->agent_id;
    char *text = s_digest_text (session, m);
    if (!text)
        return ENOMEM;
    int rc = 0;
    if (old_digest) {
        rc = mem_records_forget (store, txn, agent, old_digest, now);
        rc = rc == MDB_NOTFOUND ? 0 : rc;
    }
    Memd__V1__Record rec = MEMD__V1__RECORD__INIT;
    rec.agent_id = (char *) agent_name;
    rec.session_id = (char *) session;
    rec.kind = MEMD__V1__KIND__SUMMARY;
    rec.text = text;
    rec.created_at_ms = m->last_created;
    char *tags[] = {"digest"};
    rec.tags = tags;
    rec.n_tags = 1;
    mem_capture_batch_t batch;
    uint64_t id = 0;
    bool duplicate = false;
    if (!rc)
        rc = mem_capture_batch_begin (&batch, store, txn, self->index);
    if (!rc)
        rc = mem_records_capture (&batch, &rec, agent_name, now, &id, &duplicate);
    if (!rc)
        rc = mem_capture_batch_finish (&batch);
    if (!rc)
        rc = mem_index_writer_flush (self->index, txn);
    free (text);
    for (size_t i = 0; i < m->n && !rc; i++) {
        mem_edge_t edge = {id, m->records[i]->id, MEM_EDGE_DERIVED, 1};
        rc = mem_edges_put (store, txn, &edge);
    }
    if (!rc) {
        uint8_t v[16];
        mem_put_u64be (v, id);
        mem_put_u64be (v + 8, m->last_id);
        MDB_val key = *session_key, val = {16, v};
        rc = MEM_MDB (mdb_put (txn, mem_store_dbi (store, MEM_DB_DIGESTS), &key, &val, 0));
    }
    if (!rc && self->config.summarize_jobs)
        rc = s_enqueue_summarize (store, txn, agent_name, session, id, m, now, &result->jobs);
    if (!rc)
        state->digests++;
    return rc;
}

//  One marked session: digest it if quiet and changed; unmark it unless it
//  must wait to be quiet. *wait: it stays marked.
static int
s_digest_session (mem_consolidate_t *self, MDB_txn *txn, const MDB_val *session_key, int64_t now,
                  mem_consolidate_state_t *state, mem_step_result_t *result, bool *wait)
{
    mem_store_t *store = self->store;
    *wait = false;
    if (session_key->mv_size <= 4)
        return 0;
    uint32_t agent = mem_get_u32be (session_key->mv_data);
    char session[SESSION_KEY_MAX];
    memcpy (session, (uint8_t *) session_key->mv_data + 4, session_key->mv_size - 4);
    session[session_key->mv_size - 4] = 0;

    s_members_t m;
    int rc = s_members_load (store, txn, agent, session, &m);
    if (rc)
        return rc;
    uint64_t old_digest = 0, old_last = 0;
    MDB_val key = *session_key, val;
    rc = MEM_MDB (mdb_get (txn, mem_store_dbi (store, MEM_DB_DIGESTS), &key, &val));
    if (rc == 0 && val.mv_size == 16) {
        old_digest = mem_get_u64be (val.mv_data);
        old_last = mem_get_u64be ((uint8_t *) val.mv_data + 8);
    }
    rc = rc == MDB_NOTFOUND ? 0 : rc;
    if (!rc && m.n >= self->config.digest_min_records && m.last_id != old_last) {
        if (now - m.last_created < self->config.digest_after_ms)
            *wait = true;
        else
            rc = s_digest_write (self, txn, agent, session, session_key, &m, old_digest, now,
                                 state, result);
    }
    s_members_free (&m);
    return rc;
}

static int
s_digest_step (mem_consolidate_t *self, MDB_txn *txn, int64_t now, int64_t deadline,
               mem_consolidate_state_t *state, mem_step_result_t *result)
{
    mem_store_t *store = self->store;
    //  Resume after the last session done in this cycle (pos 0: from the start).
    uint8_t last[SESSION_KEY_MAX];
    size_t last_len = 0;
    MDB_val val;
    if (state->pos && s_meta_get (store, txn, DIGEST_KEY, &val) == 0
        && val.mv_size <= sizeof last) {
        memcpy (last, val.mv_data, val.mv_size);
        last_len = val.mv_size;
    }
    int rc = 0;
    bool end = false;
    while (!rc && !end && s_mono_ms () < deadline) {
        //  One session per lookup: digesting writes the tables a cursor would read.
        MDB_cursor *cursor;
        if ((rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, MEM_DB_DIRTY), &cursor))))
            break;
        MDB_val key = {last_len, last}, v;
        int r = last_len ? mdb_cursor_get (cursor, &key, &v, MDB_SET_RANGE)
                         : mdb_cursor_get (cursor, &key, &v, MDB_FIRST);
        if (r == 0 && last_len && key.mv_size == last_len && memcmp (key.mv_data, last, last_len) == 0)
            r = mdb_cursor_get (cursor, &key, &v, MDB_NEXT);   //  the one done last time stays marked
        if (r == 0 && key.mv_size <= sizeof last) {
            memcpy (last, key.mv_data, key.mv_size);
            last_len = key.mv_size;
        }
        mdb_cursor_close (cursor);
        if (r == MDB_NOTFOUND) {
            end = true;
            break;
        }
        if (r) {
            rc = MEM_MDB (r);
            break;
        }
        MDB_val session_key = {last_len, last};
        bool wait;
        rc = s_digest_session (self, txn, &session_key, now, state, result, &wait);
        if (!rc && !wait)
            rc = MEM_MDB (mdb_del (txn, mem_store_dbi (store, MEM_DB_DIRTY), &session_key, NULL));
        state->pos = 1;   //  from now on, resume after `last`
    }
    if (!rc && last_len)
        rc = s_meta_put (store, txn, DIGEST_KEY, last, last_len);
    if (!rc && end)
        s_next_phase (state);
    return rc;
}

//  --------------------------------------------------------------------------
//  DECAY

//  Salience from the base, halving every half-life since the record was
//  captured or last recalled, never under the floor (nor over the base).
static float
s_decayed (const mem_consolidate_config_t *config, const Memd__V1__Record *rec, int64_t now)
{
    float base = rec->salience_base > 0 ? rec->salience_base : rec->salience;
    if (base <= config->decay_floor || config->decay_half_life_ms <= 0)
        return base;
    int64_t since = rec->last_recalled_ms > rec->created_at_ms ? rec->last_recalled_ms
                                                               : rec->created_at_ms;
    double age = now > since ? (double) (now - since) : 0;
    double factor = exp2 (-age / (double) config->decay_half_life_ms);
    return config->decay_floor + (float) ((base - config->decay_floor) * factor);
}

//  Decays the CO_RECALL edges leaving id (each edge leaves one record, so
//  a pass over the records sees each once). An edge keeps its count n
//  (weighing n / (n + 1)) and the time it was last reinforced or halved:
//  each whole half-life since that time halves n and moves the time on
//  by as many half-lives. The result depends only on (n, time, now), like
//  salience on (base, last recall, now): a redone or repeated pass changes
//  nothing, and two passes give what one later pass would. No schema
//  change: the time rides after the weight in the edge's value. An edge
//  from before times were kept starts its clock now; an edge weighing
//  under the floor is removed, both directions. Not counted as a graph
//  change (neither is a reinforcement): recall reads edges as they are,
//  and the next build sees it.
static int
s_decay_co_recall (mem_consolidate_t *self, MDB_txn *txn, uint64_t id, int64_t now)
{
    int64_t half_life = self->config.co_recall_half_life_ms;
    if (half_life <= 0)
        return 0;
    //  Listed first, then changed (no writes under a walking cursor). Recall
    //  statistics give a record at most MEM_RECSTATS_DEGREE of them.
    mem_edge_t edges[MEM_RECSTATS_DEGREE + 1];
    size_t n;
    int rc = mem_edges_list (self->store, txn, id, true, MEM_EDGE_CO_RECALL, edges,
                             MEM_RECSTATS_DEGREE + 1, &n);
    if (!rc && n > MEM_RECSTATS_DEGREE)
        mem_log_warn ("consolidation: record %llu has more than %d CO_RECALL edges: only "
                      "%zu decay", (unsigned long long) id, MEM_RECSTATS_DEGREE, n);
    for (size_t i = 0; i < n && !rc; i++) {
        mem_edge_t edge = edges[i];
        int64_t at;
        if ((rc = mem_edges_get (self->store, txn, &edge, &at)))
            break;
        int64_t halvings = at > 0 && now > at ? (now - at) / half_life : 0;
        float count = halvings < 64 ? ldexpf (edge.weight, -(int) halvings) : 0.0f;
        if (!(count > 0) || count / (count + 1.0f) < self->config.co_recall_floor)
            rc = mem_edges_remove (self->store, txn, &edge);
        else if (at <= 0 || halvings > 0) {
            edge.weight = count;
            int64_t moved = at > 0 ? at + halvings * half_life : now;
            rc = mem_edges_put_at (self->store, txn, &edge, moved);
        }
    }
    return rc;
}

static int
s_decay_step (mem_consolidate_t *self, MDB_txn *txn, int64_t now, int64_t deadline,
              mem_consolidate_state_t *state)
{
    if (state->pos == 0 && state->decay_pass_ms
        && now - state->decay_pass_ms < self->config.decay_interval_ms) {
        s_next_phase (state);   //  not due
        return 0;
    }
    uint64_t ids[BATCH_RECORDS];
    size_t n;
    bool end;
    int rc = s_next_ids (self->store, txn, state->pos, ids, BATCH_RECORDS, &n, &end);
    size_t i;
    for (i = 0; i < n && !rc; i++) {
        Memd__V1__Record *rec;
        if ((rc = mem_records_get_any (self->store, txn, ids[i], &rec)))
            break;
        if (!rec->tombstoned_at_ms) {
            float salience = s_decayed (&self->config, rec, now);
            if (fabsf (salience - rec->salience) >= SALIENCE_EPSILON) {
                if (rec->salience_base <= 0)
                    rec->salience_base = rec->salience;
                rec->salience = salience;
                rc = mem_records_update (self->store, txn, rec);
                state->decayed++;
            }
        }
        memd__v1__record__free_unpacked (rec, NULL);
        if (!rc)
            rc = s_decay_co_recall (self, txn, ids[i], now);
        state->pos = ids[i];
        if (s_mono_ms () >= deadline) {
            i++;
            break;
        }
    }
    if (!rc && end && i >= n) {
        state->decay_pass_ms = state->cycle_started_ms;
        s_next_phase (state);
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  VACUUM, PURGE, MAINTAIN

static int
s_vacuum_step (mem_consolidate_t *self, MDB_txn *txn, int64_t deadline,
               mem_consolidate_state_t *state)
{
    bool worked = true;
    int rc = 0;
    while (!rc && worked && s_mono_ms () < deadline)
        rc = mem_index_vacuum_step (self->index, txn, &worked);
    if (!rc && !worked)
        s_next_phase (state);
    return rc;
}

static bool
s_is_deleted (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint64_t id)
{
    uint8_t k[12];
    mem_put_u32be (k, agent);
    mem_put_u64be (k + 4, id);
    MDB_val key = {12, k}, val;
    return mdb_get (txn, mem_store_dbi (store, MEM_DB_DELETED), &key, &val) == 0;
}

//  Removes one tombstone for good, with everything that points at it.
static int
s_purge_record (mem_consolidate_t *self, MDB_txn *txn, uint64_t id, bool *purged)
{
    mem_store_t *store = self->store;
    *purged = false;
    mem_docmeta_t meta;
    Memd__V1__Record *rec;
    int rc = mem_records_docmeta (store, txn, id, &meta);
    if (!rc)
        rc = mem_records_get_any (store, txn, id, &rec);
    if (rc)
        return rc;
    if (s_is_deleted (store, txn, meta.agent, id)) {
        //  Its postings are still in the index: vacuum first (next cycle).
        memd__v1__record__free_unpacked (rec, NULL);
        return 0;
    }
    if (rec->kind != MEMD__V1__KIND__SUMMARY) {
        mem_minhash_t sig;
        mem_minhash_compute (rec->text, strlen (rec->text), &sig);
        if (sig.n_shingles)
            rc = s_bands_write (store, txn, meta.agent, id, &sig, true);
    }
    else if (rec->session_id && *rec->session_id) {
        uint8_t k[SESSION_KEY_MAX];
        MDB_val key = {s_session_key (k, meta.agent, rec->session_id), k}, val;
        int r = mdb_get (txn, mem_store_dbi (store, MEM_DB_DIGESTS), &key, &val);
        if (r == 0 && val.mv_size == 16 && mem_get_u64be (val.mv_data) == id)
            rc = MEM_MDB (mdb_del (txn, mem_store_dbi (store, MEM_DB_DIGESTS), &key, NULL));
    }
    memd__v1__record__free_unpacked (rec, NULL);
    if (!rc)
        rc = mem_edges_remove_node (store, txn, id, NULL);
    if (!rc)
        rc = mem_graph_remove_node (store, txn, meta.agent, id);
    if (!rc)
        rc = mem_records_purge (store, txn, id);
    *purged = !rc;
    return rc;
}

static int
s_purge_step (mem_consolidate_t *self, MDB_txn *txn, int64_t now, int64_t deadline,
              mem_consolidate_state_t *state)
{
    mem_store_t *store = self->store;
    int64_t cutoff = now - self->config.retention_ms;
    //  Oldest first; state->pos counts the tombstones left for a later
    //  cycle (still in the index), which are skipped.
    uint64_t ids[BATCH_RECORDS];
    size_t n = 0;
    MDB_cursor *cursor;
    int rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, MEM_DB_TOMBSTONES), &cursor));
    if (rc)
        return rc;
    MDB_val key, val;
    uint64_t skip = state->pos;
    for (rc = mdb_cursor_get (cursor, &key, &val, MDB_FIRST); rc == 0 && n < BATCH_RECORDS;
         rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT)) {
        if (key.mv_size != 16 || (int64_t) mem_get_u64be (key.mv_data) > cutoff)
            break;
        if (skip) {
            skip--;
            continue;
        }
        ids[n++] = mem_get_u64be ((uint8_t *) key.mv_data + 8);
    }
    mdb_cursor_close (cursor);
    if (rc && rc != MDB_NOTFOUND)
        return MEM_MDB (rc);
    rc = 0;
    size_t i;
    for (i = 0; i < n && !rc; i++) {
        bool purged;
        rc = s_purge_record (self, txn, ids[i], &purged);
        if (!rc && purged)
            state->purged++;
        else if (!rc)
            state->pos++;
        if (s_mono_ms () >= deadline) {
            i++;
            break;
        }
    }
    if (!rc && n == 0)
        s_next_phase (state);
    return rc;
}

static int
s_maintain_step (mem_consolidate_t *self, MDB_txn *txn, int64_t now,
                 mem_consolidate_state_t *state)
{
    mem_store_t *store = self->store;
    int dead = mem_store_reader_check (store);
    if (dead > 0)
        mem_log_info ("consolidation: cleared %d stale reader slot(s)", dead);
    //  The tombstone count is a counter; recount it from its table.
    MDB_stat st;
    int rc = MEM_MDB (mdb_stat (txn, mem_store_dbi (store, MEM_DB_TOMBSTONES), &st));
    uint64_t counted = rc ? 0 : st.ms_entries;
    uint64_t counter = mem_store_counter_get (txn, store, "records_tombstoned");
    if (!rc && counted != counter) {
        mem_log_warn ("consolidation: tombstone count was %llu, the table holds %llu",
                      (unsigned long long) counter, (unsigned long long) counted);
        rc = mem_store_counter_add (txn, store, "records_tombstoned",
                                    (int64_t) counted - (int64_t) counter);
    }
    if (rc)
        return rc;
    state->phase = MEM_PHASE_DONE;
    state->pos = 0;
    state->cycle_done_ms = now;
    state->seen_next_id = mem_store_counter_get (txn, store, "next_id");
    state->seen_delete_seq = mem_store_counter_get (txn, store, "delete_seq");
    return 0;
}

//  --------------------------------------------------------------------------
//  The cycle

//  Whether a new cycle has anything to do: writes since the last one, or
//  work that time made due.
static int
s_cycle_due (mem_consolidate_t *self, MDB_txn *txn, int64_t now,
             const mem_consolidate_state_t *state, bool *due)
{
    mem_store_t *store = self->store;
    uint64_t next_id = mem_store_counter_get (txn, store, "next_id");
    *due = state->cycle == 0 ? next_id > 0
         : next_id != state->seen_next_id
               || mem_store_counter_get (txn, store, "delete_seq") != state->seen_delete_seq;
    if (!*due && next_id && now - state->decay_pass_ms >= self->config.decay_interval_ms)
        *due = true;
    MDB_cursor *cursor;
    MDB_val key, val;
    for (mem_db_t db = MEM_DB_TOMBSTONES; !*due && db <= MEM_DB_DIRTY; db += MEM_DB_DIRTY - MEM_DB_TOMBSTONES) {
        int rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, db), &cursor));
        if (rc)
            return rc;
        rc = mdb_cursor_get (cursor, &key, &val, MDB_FIRST);
        mdb_cursor_close (cursor);
        if (rc && rc != MDB_NOTFOUND)
            return MEM_MDB (rc);
        if (rc == 0 && db == MEM_DB_TOMBSTONES)
            *due = key.mv_size == 16
                && (int64_t) mem_get_u64be (key.mv_data) <= now - self->config.retention_ms;
        else if (rc == 0)
            *due = true;   //  a marked session may be quiet by now
    }
    return 0;
}

int
mem_consolidate_step (mem_consolidate_t *self, MDB_txn *txn, int64_t now_ms,
                      mem_step_result_t *result)
{
    memset (result, 0, sizeof *result);
    mem_consolidate_state_t state;
    int rc = mem_consolidate_state (self->store, txn, &state);
    if (rc)
        return rc;
    if (state.phase == MEM_PHASE_DONE) {
        bool due;
        if ((rc = s_cycle_due (self, txn, now_ms, &state, &due)))
            return rc;
        if (!due) {
            result->phase = MEM_PHASE_DONE;
            result->done = true;
            return 0;
        }
        state.phase = MEM_PHASE_DEDUPE;
        state.pos = 0;
        state.cycle++;
        state.cycle_started_ms = now_ms;
        state.cycle_done_ms = 0;
        result->started = true;
    }
    int64_t deadline = s_mono_ms () + self->config.step_budget_ms;
    result->phase = state.phase;
    switch (state.phase) {
    case MEM_PHASE_DEDUPE:
        rc = s_dedupe_step (self, txn, now_ms, deadline, &state);
        break;
    case MEM_PHASE_DIGEST:
        rc = s_digest_step (self, txn, now_ms, deadline, &state, result);
        break;
    case MEM_PHASE_DECAY:
        rc = s_decay_step (self, txn, now_ms, deadline, &state);
        break;
    case MEM_PHASE_VACUUM:
        rc = s_vacuum_step (self, txn, deadline, &state);
        break;
    case MEM_PHASE_PURGE:
        rc = s_purge_step (self, txn, now_ms, deadline, &state);
        break;
    default:
        rc = s_maintain_step (self, txn, now_ms, &state);
        break;
    }
    if (!rc)
        rc = s_meta_put (self->store, txn, STATE_KEY, &state, sizeof state);
    result->done = !rc && state.phase == MEM_PHASE_DONE;
    return rc;
}

//  --------------------------------------------------------------------------
//  Selftest

#undef NDEBUG
#include "mem_verify.h"
#include <assert.h>
#include <stdio.h>

static uint64_t
s_test_capture (mem_store_t *store, mem_index_writer_t *index, const char *session,
                const char *text, int64_t created)
{
    MDB_txn *txn;
    assert (mem_store_write_begin (store, &txn) == 0);
    mem_capture_batch_t batch;
    assert (mem_capture_batch_begin (&batch, store, txn, index) == 0);
    Memd__V1__Record rec = MEMD__V1__RECORD__INIT;
    rec.text = (char *) text;
    rec.session_id = (char *) session;
    rec.created_at_ms = created;
    uint64_t id;
    bool dup;
    assert (mem_records_capture (&batch, &rec, "agent", created, &id, &dup) == 0 && !dup);
    assert (mem_capture_batch_finish (&batch) == 0);
    assert (mem_index_writer_flush (index, txn) == 0);
    assert (mem_store_write_commit (store, &txn) == 0);
    return id;
}

static void
s_test_verify (mem_store_t *store)
{
    MDB_txn *txn;
    assert (mem_store_read_begin (store, &txn) == 0);
    mem_verify_report_t report;
    assert (mem_verify (store, txn, &report) == 0);
    for (size_t i = 0; i < report.n_problems; i++)
        printf ("\n   problem: %s", report.problems[i]);
    assert (report.problem_count == 0);
    mem_verify_report_clear (&report);
    mem_store_read_end (store, &txn);
}

//  Runs steps to the end of the cycle; each step is first run and aborted
//  (a crash before the commit), then run and committed: the result must
//  be the same as without the aborted runs. Returns the steps committed.
static unsigned
s_test_cycle (mem_consolidate_t *c, mem_store_t *store, mem_index_writer_t *index, int64_t now)
{
    unsigned steps = 0;
    for (;;) {
        MDB_txn *txn;
        mem_step_result_t result;
        assert (mem_store_write_begin (store, &txn) == 0);
        assert (mem_consolidate_step (c, txn, now, &result) == 0);
        mem_store_write_abort (store, &txn);
        mem_index_writer_reset (index);
        assert (mem_store_write_begin (store, &txn) == 0);
        assert (mem_consolidate_step (c, txn, now, &result) == 0);
        assert (mem_store_write_commit (store, &txn) == 0);
        s_test_verify (store);
        if (result.done)
            return steps;
        steps++;
        assert (steps < 10000);
    }
}

//  A CO_RECALL edge's count and time as stored; count -1 if it is gone
//  (checked in both tables).
static float
s_test_co_recall (mem_store_t *store, uint64_t src, uint64_t dst, int64_t *at)
{
    MDB_txn *txn;
    assert (mem_store_read_begin (store, &txn) == 0);
    mem_edge_t edge = {src, dst, MEM_EDGE_CO_RECALL, 0}, in[8];
    size_t n;
    float count = mem_edges_get (store, txn, &edge, at) == 0 ? edge.weight : -1;
    assert (mem_edges_list (store, txn, dst, false, MEM_EDGE_CO_RECALL, in, 8, &n) == 0);
    bool mirrored = false;
    for (size_t i = 0; i < n; i++)
        mirrored |= in[i].src == src && in[i].weight == edge.weight;
    assert (mirrored == (count >= 0));
    mem_store_read_end (store, &txn);
    return count;
}

//  CO_RECALL edges decay in the DECAY pass: whole half-lives halve the
//  count, under the floor the edge goes, a fresh edge is left alone, and a
//  second pass at the same time changes nothing.
static void
s_test_co_recall_decay (bool verbose)
{
    char dir[] = "/tmp/memd-corecall-test-XXXXXX";
    mem_store_t *store = mem_store_test_new (dir);
    mem_index_writer_t *index = mem_index_writer_new (store);
    mem_consolidate_config_t config;
    mem_consolidate_config_default (&config);
    config.co_recall_half_life_ms = 1000;
    config.co_recall_floor = 0.1f;   //  counts under 1/9 go
    config.decay_interval_ms = 5000;
    config.step_budget_ms = 1000;
    mem_consolidate_t *c = mem_consolidate_new (store, index, &config);
    int64_t t0 = 1000000;
    const char *texts[] = {"The red kite circles over the barn.", "Invoices go out on Fridays.",
                           "Mina prefers tea without sugar.", "The staging server runs Debian.",
                           "Our standup moved to half past nine."};
    uint64_t ids[5];
    for (int i = 0; i < 5; i++)
        ids[i] = s_test_capture (store, index, "", texts[i], t0);
    //  (src, dst, count, reinforced at): at 0 is an edge from before times were kept.
    struct {
        int src, dst;
        float count;
        int64_t at;
    } put[] = {{0, 1, 64, t0},          //  2.5 half-lives: 64 → 16, time t0 + 2000
               {0, 2, 1, t0},           //  1 → 0.25 (weighs 0.2): kept
               {1, 2, 1, t0 - 2000},    //  4 half-lives: 1 → 1/16 (weighs 0.06): removed
               {2, 3, 3, t0 + 2000},    //  reinforced 500 ms ago: untouched
               {3, 4, 16, 0}};          //  no time: the clock starts now, count kept
    MDB_txn *txn;
    assert (mem_store_write_begin (store, &txn) == 0);
    for (size_t i = 0; i < sizeof put / sizeof put[0]; i++) {
        mem_edge_t edge = {ids[put[i].src], ids[put[i].dst], MEM_EDGE_CO_RECALL, put[i].count};
        assert (mem_edges_put_at (store, txn, &edge, put[i].at) == 0);
    }
    mem_edge_t temporal = {ids[0], ids[1], MEM_EDGE_TEMPORAL, 1};
    assert (mem_edges_put (store, txn, &temporal) == 0);
    assert (mem_store_write_commit (store, &txn) == 0);

    //  A whole cycle (each step aborted once, then redone) 2.5 half-lives on.
    int64_t now = t0 + 2500, at;
    s_test_cycle (c, store, index, now);
    assert (s_test_co_recall (store, ids[0], ids[1], &at) == 16 && at == t0 + 2000);
    assert (s_test_co_recall (store, ids[0], ids[2], &at) == 0.25f && at == t0 + 2000);
    assert (s_test_co_recall (store, ids[1], ids[2], &at) == -1);
    assert (s_test_co_recall (store, ids[2], ids[3], &at) == 3 && at == t0 + 2000);
    assert (s_test_co_recall (store, ids[3], ids[4], &at) == 16 && at == now);
    assert (mem_store_read_begin (store, &txn) == 0);
    mem_edge_t edge = temporal;
    assert (mem_edges_get (store, txn, &edge, &at) == 0 && edge.weight == 1 && at == 0);
    mem_store_read_end (store, &txn);

    //  The pass again, at the same time: nothing changes.
    assert (mem_store_write_begin (store, &txn) == 0);
    for (int i = 0; i < 5; i++)
        assert (s_decay_co_recall (c, txn, ids[i], now) == 0);
    assert (mem_store_write_commit (store, &txn) == 0);
    assert (s_test_co_recall (store, ids[0], ids[1], &at) == 16 && at == t0 + 2000);
    assert (s_test_co_recall (store, ids[0], ids[2], &at) == 0.25f && at == t0 + 2000);
    assert (s_test_co_recall (store, ids[1], ids[2], &at) == -1);
    assert (s_test_co_recall (store, ids[2], ids[3], &at) == 3 && at == t0 + 2000);
    assert (s_test_co_recall (store, ids[3], ids[4], &at) == 16 && at == now);

    //  The next cycle, 5 s on: the same as one pass from the start would give
    //  (64 at t0, 7.5 half-lives: 0.5 at t0 + 7000); 0.25 and 3 fall under the floor.
    now += 5000;
    s_test_cycle (c, store, index, now);
    assert (s_test_co_recall (store, ids[0], ids[1], &at) == 0.5f && at == t0 + 7000);
    assert (s_test_co_recall (store, ids[0], ids[2], &at) == -1);
    assert (s_test_co_recall (store, ids[2], ids[3], &at) == -1);
    assert (s_test_co_recall (store, ids[3], ids[4], &at) == 0.5f && at == now);
    if (verbose)
        printf ("(co-recall decay) ");

    mem_consolidate_destroy (&c);
    mem_index_writer_destroy (&index);
    mem_store_test_remove (&store, dir);
}

void
mem_consolidate_test (bool verbose)
{
    printf (" * mem_consolidate: ");
    s_test_co_recall_decay (verbose);
    char dir[] = "/tmp/memd-consolidate-test-XXXXXX";
    mem_store_t *store = mem_store_test_new (dir);
    mem_index_writer_t *index = mem_index_writer_new (store);
    mem_index_writer_set_merge_budget (index, 256);   //  vacuum in many small steps
    mem_consolidate_config_t config;
    mem_consolidate_config_default (&config);
    config.digest_after_ms = 1000;
    config.retention_ms = 500;
    config.decay_half_life_ms = 1000;
    config.decay_interval_ms = 5000;   //  due in each cycle below, not right after one
    config.step_budget_ms = 1000;
    mem_consolidate_t *c = mem_consolidate_new (store, index, &config);

    //  Nothing stored: nothing to do.
    MDB_txn *txn;
    mem_step_result_t result;
    assert (mem_store_write_begin (store, &txn) == 0);
    assert (mem_consolidate_step (c, txn, 1000, &result) == 0 && result.done && !result.started);
    mem_store_write_abort (store, &txn);

    int64_t t0 = 1000000;
    const char *s1[] = {"We planned the trip to Lisbon for the spring holidays.",
                        "Alice booked the flights and a hotel near the river.",
                        "The budget for the whole trip is two thousand euros.",
                        "Bob wants to visit the old tram museum on Monday.",
                        "Remember to renew the passport before the trip."};
    uint64_t ids[5];
    for (int i = 0; i < 5; i++)
        ids[i] = s_test_capture (store, index, "s1", s1[i], t0 + i);
    s_test_capture (store, index, "s2", "A short session with one thing.", t0);
    s_test_capture (store, index, "s2", "And a second thing.", t0);
    //  A near-duplicate (case and punctuation) of s1's second record.
    uint64_t dup = s_test_capture (store, index, "s3",
                                   "alice booked the flights, and a HOTEL near the river",
                                   t0 + 10);
    //  A forgotten record.
    uint64_t gone = s_test_capture (store, index, "s2", "This one is forgotten soon.", t0);
    assert (mem_store_write_begin (store, &txn) == 0);
    uint32_t agent;
    assert (mem_agents_lookup (store, txn, "agent", false, &agent) == 0);
    assert (mem_records_forget (store, txn, agent, gone, t0 + 20) == 0);
    assert (mem_store_write_commit (store, &txn) == 0);

    //  The whole cycle, 10 s later: every step redone after an abort.
    int64_t now = t0 + 10000;
    unsigned steps = s_test_cycle (c, store, index, now);
    if (verbose)
        printf ("(%u steps) ", steps);
    mem_consolidate_state_t st;
    assert (mem_store_read_begin (store, &txn) == 0);
    assert (mem_consolidate_state (store, txn, &st) == 0);
    assert (st.phase == MEM_PHASE_DONE && st.cycle == 1 && st.cycle_done_ms == now);
    assert (st.merged == 1);
    assert (st.digests == 1);          //  s1 only: s2 has 2 live records, s3 none
    assert (st.purged == 1);           //  the forgotten record (the duplicate is too young)
    assert (st.decayed >= 5);
    //  The forgotten record is gone for good; the duplicate is a tombstone
    //  merged into the original, with a DUPLICATE edge.
    Memd__V1__Record *rec;
    assert (mem_records_get_any (store, txn, gone, &rec) == MDB_NOTFOUND);
    assert (mem_records_get_any (store, txn, dup, &rec) == 0);
    assert (rec->tombstoned_at_ms == now && rec->merged_into == ids[1]);
    memd__v1__record__free_unpacked (rec, NULL);
    mem_edge_t edges[8];
    size_t n;
    assert (mem_edges_list (store, txn, ids[1], false, MEM_EDGE_DUPLICATE, edges, 8, &n) == 0);
    assert (n == 1 && edges[0].src == dup);
    //  Salience decayed toward the floor (10 half-lives).
    assert (mem_records_get_any (store, txn, ids[0], &rec) == 0);
    assert (rec->salience < 0.06f && rec->salience >= config.decay_floor);
    assert (rec->salience_base == MEM_SALIENCE_DEFAULT);
    memd__v1__record__free_unpacked (rec, NULL);
    //  The digest: a SUMMARY of s1 with DERIVED edges to its 5 members, searchable.
    uint64_t digest = 0;
    assert (mem_edges_list (store, txn, ids[0], false, MEM_EDGE_DERIVED, edges, 8, &n) == 0);
    assert (n == 1);
    digest = edges[0].src;
    assert (mem_edges_list (store, txn, digest, true, MEM_EDGE_DERIVED, edges, 8, &n) == 0);
    assert (n == 5);
    assert (mem_records_get_any (store, txn, digest, &rec) == 0);
    assert (rec->kind == MEMD__V1__KIND__SUMMARY && strcmp (rec->session_id, "s1") == 0);
    assert (strstr (rec->text, "Session s1, 5 records"));
    if (verbose)
        printf ("\n   digest: %s\n", rec->text);
    memd__v1__record__free_unpacked (rec, NULL);
    mem_hit_t hits[4];
    unsigned n_hits;
    assert (mem_index_search (store, txn, agent, "Lisbon", 6, 4, NULL, NULL, hits, &n_hits) == 0);
    assert (n_hits == 2);   //  the record and its digest
    //  Vacuum: no forgotten postings remain.
    mem_agent_stats_t stats;
    assert (mem_index_stats (store, txn, agent, &stats) == 0 && stats.pending == 0);
    mem_store_read_end (store, &txn);

    //  Nothing changed: the next SLEEP has nothing to do (no cycle).
    assert (mem_store_write_begin (store, &txn) == 0);
    assert (mem_consolidate_step (c, txn, now + 1, &result) == 0);
    assert (result.done && !result.started);
    mem_store_write_abort (store, &txn);

    //  A new record in s1: the next cycle replaces the digest, once.
    uint64_t more = s_test_capture (store, index, "s1", "Carol joins the trip in May.", t0 + 20000);
    now = t0 + 30000;
    s_test_cycle (c, store, index, now);
    assert (mem_store_read_begin (store, &txn) == 0);
    assert (mem_consolidate_state (store, txn, &st) == 0);
    assert (st.cycle == 2 && st.digests == 2 && st.merged == 1);
    assert (st.purged == 2);   //  now the duplicate too, with its edge
    assert (mem_records_get_any (store, txn, dup, &rec) == MDB_NOTFOUND);
    assert (mem_edges_list (store, txn, ids[1], false, MEM_EDGE_DUPLICATE, edges, 8, &n) == 0);
    assert (n == 0);
    assert (mem_edges_list (store, txn, more, false, MEM_EDGE_DERIVED, edges, 8, &n) == 0);
    assert (n == 1 && edges[0].src != digest);
    //  The old digest was tombstoned when replaced (purged in a later cycle).
    assert (mem_records_get_any (store, txn, digest, &rec) == 0 && rec->tombstoned_at_ms == now);
    memd__v1__record__free_unpacked (rec, NULL);
    mem_store_read_end (store, &txn);

    mem_consolidate_destroy (&c);
    mem_index_writer_destroy (&index);
    mem_store_test_remove (&store, dir);
    printf ("OK\n");
}
