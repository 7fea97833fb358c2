/*  mem_verify — consistency check of the whole store; see mem_verify.h. */
#include "mem_verify.h"
#include "mem_edges.h"
#include "mem_graph_store.h"
#include "mem_index.h"
#include "mem_records.h"
#include <errno.h>
#include "mem_vectors.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void s_problem (mem_verify_report_t *r, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

static void
s_problem (mem_verify_report_t *r, const char *fmt, ...)
{
    r->problem_count++;
    if (r->n_problems == MEM_VERIFY_MAX_PROBLEMS)
        return;
    va_list args;
    va_start (args, fmt);
    char *text = NULL;
    if (vasprintf (&text, fmt, args) >= 0)
        r->problems[r->n_problems++] = text;
    va_end (args);
}

static void
s_index_problem (void *arg, const char *text)
{
    s_problem (arg, "index: %s", text);
}

static void
s_graph_problem (void *arg, const char *text)
{
    s_problem (arg, "%s", text);
}

static void
s_vectors_problem (void *arg, const char *text)
{
    s_problem (arg, "vectors: %s", text);
}

void
mem_verify_report_clear (mem_verify_report_t *report)
{
    for (size_t i = 0; i < report->n_problems; i++)
        free (report->problems[i]);
    memset (report, 0, sizeof *report);
}

//  Per-agent live count and length, summed from the records.
typedef struct {
    uint32_t agent;
    uint64_t docs, total_len;
} s_agent_sum_t;

typedef struct {
    s_agent_sum_t *items;
    size_t n, cap;
} s_sums_t;

//  A live record and what its postings add up to (records → postings).
typedef struct {
    uint64_t id;
    uint32_t agent;
    uint16_t doc_len;
    uint8_t inexact;         //  some of its postings were in an agent mid-merge
    uint8_t bad_dl;          //  a posting carried another document length
    uint64_t postings, tf;
} s_live_t;

typedef struct {
    s_live_t *items;         //  in id order (the records table's order)
    size_t n, cap;
} s_lives_t;

static bool
s_lives_add (s_lives_t *lives, uint64_t id, uint32_t agent, uint16_t doc_len)
{
    if (lives->n == lives->cap) {
        size_t cap = lives->cap ? lives->cap * 2 : 1024;
        s_live_t *grown = realloc (lives->items, cap * sizeof *grown);
        if (!grown)
            return false;
        lives->items = grown;
        lives->cap = cap;
    }
    lives->items[lives->n++] = (s_live_t){id, agent, doc_len, 0, 0, 0, 0};
    return true;
}

//  From mem_index_verify_docs: one posting, added to its live record.
static void
s_lives_posting (void *arg, uint32_t agent, uint64_t id, unsigned tf, unsigned dl, bool exact)
{
    s_lives_t *lives = arg;
    size_t lo = 0, hi = lives->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (lives->items[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == lives->n || lives->items[lo].id != id || lives->items[lo].agent != agent)
        return;   //  not live (or another agent's): mem_index_verify judges those
    s_live_t *live = &lives->items[lo];
    live->postings++;
    live->tf += tf;
    live->inexact |= !exact;
    live->bad_dl |= dl != live->doc_len;
}

//  Every live record is in the index: as many term occurrences as its
//  length (exactly, unless a merge is in progress or the length is capped).
static int
s_check_lives (mem_store_t *store, MDB_txn *txn, mem_verify_report_t *r, s_lives_t *lives)
{
    int rc = mem_index_verify_docs (store, txn, s_lives_posting, lives);
    if (rc)
        return rc;
    for (size_t i = 0; i < lives->n; i++) {
        const s_live_t *live = &lives->items[i];
        unsigned long long id = (unsigned long long) live->id;
        if (live->doc_len && !live->postings)
            s_problem (r, "live record %llu of %u terms has no postings", id, live->doc_len);
        else if (live->bad_dl)
            s_problem (r, "live record %llu: a posting says another length than its docmeta (%u)",
                       id, live->doc_len);
        else if (!live->inexact && live->doc_len < 0xFFFF && live->tf != live->doc_len)
            s_problem (r, "live record %llu: its postings hold %llu of its %u terms", id,
                       (unsigned long long) live->tf, live->doc_len);
    }
    return 0;
}

static s_agent_sum_t *
s_sum_for (s_sums_t *sums, uint32_t agent)
{
    for (size_t i = 0; i < sums->n; i++)
        if (sums->items[i].agent == agent)
            return &sums->items[i];
    if (sums->n == sums->cap) {
        size_t cap = sums->cap ? sums->cap * 2 : 16;
        s_agent_sum_t *grown = realloc (sums->items, cap * sizeof *grown);
        if (!grown)
            return NULL;
        sums->items = grown;
        sums->cap = cap;
    }
    sums->items[sums->n] = (s_agent_sum_t){agent, 0, 0};
    return &sums->items[sums->n++];
}

static bool
s_exists (mem_store_t *store, MDB_txn *txn, mem_db_t db, const void *k, size_t klen,
          const void *v, size_t vlen)
{
    MDB_cursor *cursor;
    if (mdb_cursor_open (txn, mem_store_dbi (store, db), &cursor))
        return false;
    MDB_val key = {klen, (void *) k}, val = {vlen, (void *) v};
    int rc = mdb_cursor_get (cursor, &key, &val, v ? MDB_GET_BOTH : MDB_SET_KEY);
    mdb_cursor_close (cursor);
    return rc == 0;
}

//  Records and docmeta, and from each record the entries that must exist.
static int
s_check_records (mem_store_t *store, MDB_txn *txn, mem_verify_report_t *r, s_sums_t *sums,
                 s_lives_t *lives, uint64_t *max_id, uint64_t *tombstones)
{
    MDB_cursor *cursor;
    int rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, MEM_DB_RECORDS), &cursor));
    if (rc)
        return rc;
    MDB_val key, val;
    while ((rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT)) == 0) {
        r->records++;
        uint64_t id = key.mv_size == 8 ? mem_get_u64be (key.mv_data) : 0;
        *max_id = id > *max_id ? id : *max_id;
        Memd__V1__Record *rec = memd__v1__record__unpack (NULL, val.mv_size, val.mv_data);
        if (!rec || rec->id != id) {
            s_problem (r, "record %llu does not decode or holds another id",
                       (unsigned long long) id);
            if (rec)
                memd__v1__record__free_unpacked (rec, NULL);
            continue;
        }
        mem_docmeta_t meta;
        uint32_t agent = 0;
        if (mem_records_docmeta (store, txn, id, &meta)) {
            s_problem (r, "record %llu has no docmeta", (unsigned long long) id);
            memd__v1__record__free_unpacked (rec, NULL);
            continue;
        }
        if (mem_agents_lookup (store, txn, rec->agent_id, false, &agent) || agent != meta.agent)
            s_problem (r, "record %llu: agent '%s' does not match its docmeta",
                       (unsigned long long) id, rec->agent_id);
        uint64_t by_uid = 0;
        if (rec->uid.len != 16)
            s_problem (r, "record %llu has no uid", (unsigned long long) id);
        else if (mem_records_uid_lookup (store, txn, rec->uid.data, &by_uid) || by_uid != id)
            s_problem (r, "record %llu is missing from the uid index", (unsigned long long) id);
        bool tombstoned = rec->tombstoned_at_ms != 0;
        if (tombstoned != ((meta.flags & MEM_DOC_TOMBSTONED) != 0))
            s_problem (r, "record %llu: tombstone flag differs from its docmeta",
                       (unsigned long long) id);
        uint8_t k[4 + 1024 + 16];
        uint8_t idk[8];
        mem_put_u64be (idk, id);
        if (tombstoned) {
            (*tombstones)++;
            mem_put_u64be (k, (uint64_t) rec->tombstoned_at_ms);
            mem_put_u64be (k + 8, id);
            if (!s_exists (store, txn, MEM_DB_TOMBSTONES, k, 16, NULL, 0))
                s_problem (r, "record %llu is tombstoned but not in the tombstones table",
                           (unsigned long long) id);
        }
        else {
            if (!s_lives_add (lives, id, meta.agent, meta.doc_len)) {
                memd__v1__record__free_unpacked (rec, NULL);
                mdb_cursor_close (cursor);
                return ENOMEM;
            }
            s_agent_sum_t *sum = s_sum_for (sums, meta.agent);
            if (sum) {
                sum->docs++;
                sum->total_len += meta.doc_len;
            }
            mem_put_u32be (k, meta.agent);
            mem_put_u64be (k + 4, rec->content_hash);
            if (!s_exists (store, txn, MEM_DB_HASHES, k, 12, NULL, 0))
                s_problem (r, "live record %llu has no dedupe hash entry",
                           (unsigned long long) id);
            size_t slen = rec->session_id ? strlen (rec->session_id) : 0;
            if (slen && slen <= 1024) {
                mem_put_u32be (k, meta.agent);
                memcpy (k + 4, rec->session_id, slen);
                if (!s_exists (store, txn, MEM_DB_SESSIONS, k, 4 + slen, idk, 8))
                    s_problem (r, "live record %llu is missing from its session's index",
                               (unsigned long long) id);
            }
        }
        memd__v1__record__free_unpacked (rec, NULL);
    }
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND ? 0 : MEM_MDB (rc);
}

//  A table whose entries each name a record id that must exist (and, with
//  live, be live): the id is at id_at in the key, or the value (dupsort).
static int
s_check_refs (mem_store_t *store, MDB_txn *txn, mem_verify_report_t *r, mem_db_t db,
              const char *name, int id_at, bool in_value, int live)
{
    MDB_cursor *cursor;
    int rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, db), &cursor));
    if (rc)
        return rc;
    MDB_val key, val;
    while ((rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT)) == 0) {
        const MDB_val *from = in_value ? &val : &key;
        if (from->mv_size < (size_t) id_at + 8) {
            s_problem (r, "%s: an entry of %zu bytes", name, from->mv_size);
            continue;
        }
        uint64_t id = mem_get_u64be ((uint8_t *) from->mv_data + id_at);
        mem_docmeta_t meta;
        if (mem_records_docmeta (store, txn, id, &meta))
            s_problem (r, "%s: record %llu does not exist", name, (unsigned long long) id);
        else if (live == 1 && (meta.flags & MEM_DOC_TOMBSTONED))
            s_problem (r, "%s: record %llu is not live", name, (unsigned long long) id);
        else if (live == 0 && !(meta.flags & MEM_DOC_TOMBSTONED))
            s_problem (r, "%s: record %llu is not tombstoned", name, (unsigned long long) id);
        else if (db != MEM_DB_TOMBSTONES && key.mv_size >= 4
                 && mem_get_u32be (key.mv_data) != meta.agent)
            s_problem (r, "%s: record %llu belongs to another agent", name,
                       (unsigned long long) id);
    }
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND ? 0 : MEM_MDB (rc);
}

static int
s_check_stats (mem_store_t *store, MDB_txn *txn, mem_verify_report_t *r, s_sums_t *sums)
{
    for (size_t i = 0; i < sums->n; i++) {
        mem_agent_stats_t stats;
        int rc = mem_index_stats (store, txn, sums->items[i].agent, &stats);
        if (rc && rc != MDB_NOTFOUND)
            return rc;
        if (stats.docs != sums->items[i].docs || stats.total_len != sums->items[i].total_len)
            s_problem (r,
                       "agent %u: index statistics say %llu live records of %llu terms, the "
                       "records %llu of %llu",
                       sums->items[i].agent, (unsigned long long) stats.docs,
                       (unsigned long long) stats.total_len,
                       (unsigned long long) sums->items[i].docs,
                       (unsigned long long) sums->items[i].total_len);
    }
    return 0;
}

//  Both edge tables mirror each other and join existing records.
static int
s_check_edges (mem_store_t *store, MDB_txn *txn, mem_verify_report_t *r, mem_db_t db,
               mem_db_t mirror)
{
    MDB_cursor *cursor;
    int rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, db), &cursor));
    if (rc)
        return rc;
    MDB_val key, val;
    while ((rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT)) == 0) {
        if (key.mv_size != 17) {
            s_problem (r, "edges: an entry of %zu bytes", key.mv_size);
            continue;
        }
        if (db == MEM_DB_EDGES)
            r->edges++;
        const uint8_t *k = key.mv_data;
        uint64_t a = mem_get_u64be (k), b = mem_get_u64be (k + 9);
        uint8_t m[17];
        mem_put_u64be (m, b);
        m[8] = k[8];
        mem_put_u64be (m + 9, a);
        mem_docmeta_t meta;
        if (!s_exists (store, txn, mirror, m, 17, NULL, 0))
            s_problem (r, "edge %llu-%s-%llu has no mirror entry", (unsigned long long) a,
                       mem_edge_type_name (k[8]), (unsigned long long) b);
        if (mem_records_docmeta (store, txn, a, &meta) || mem_records_docmeta (store, txn, b, &meta))
            s_problem (r, "edge %llu-%s-%llu joins a record that does not exist",
                       (unsigned long long) a, mem_edge_type_name (k[8]), (unsigned long long) b);
    }
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND ? 0 : MEM_MDB (rc);
}

int
mem_verify (mem_store_t *store, MDB_txn *txn, mem_verify_report_t *report)
{
    memset (report, 0, sizeof *report);
    s_sums_t sums = {NULL, 0, 0};
    s_lives_t lives = {NULL, 0, 0};
    uint64_t max_id = 0, tombstones = 0;
    int rc = s_check_records (store, txn, report, &sums, &lives, &max_id, &tombstones);
    if (!rc)
        rc = s_check_stats (store, txn, report, &sums);
    if (!rc)
        rc = s_check_lives (store, txn, report, &lives);
    free (sums.items);
    free (lives.items);
    //  The uid index holds every record once (and the purged as 0).
    if (!rc) {
        MDB_cursor *cursor;
        rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, MEM_DB_UIDS), &cursor));
        MDB_val key, val;
        uint64_t mapped = 0;
        bool open = rc == 0;
        while (open && (rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT)) == 0) {
            if (key.mv_size != 16 || val.mv_size != 8) {
                s_problem (report, "uids: an entry of %zu → %zu bytes", key.mv_size,
                           val.mv_size);
                continue;
            }
            uint64_t id = mem_get_u64be (val.mv_data);
            mem_docmeta_t meta;
            if (id && mem_records_docmeta (store, txn, id, &meta))
                s_problem (report, "uids: record %llu does not exist", (unsigned long long) id);
            mapped += id != 0;
        }
        if (open) {
            mdb_cursor_close (cursor);
            rc = rc == MDB_NOTFOUND ? 0 : MEM_MDB (rc);
        }
        if (!rc) {
            if (mapped != report->records)
                s_problem (report, "the uid index maps %llu records, the store has %llu",
                           (unsigned long long) mapped, (unsigned long long) report->records);
        }
    }
    //  Every docmeta has its record.
    if (!rc) {
        MDB_stat a, b;
        rc = MEM_MDB (mdb_stat (txn, mem_store_dbi (store, MEM_DB_DOCMETA), &a));
        if (!rc)
            rc = MEM_MDB (mdb_stat (txn, mem_store_dbi (store, MEM_DB_RECORDS), &b));
        if (!rc && a.ms_entries != b.ms_entries)
            s_problem (report, "docmeta has %zu entries, records %zu", a.ms_entries, b.ms_entries);
    }
    if (!rc)
        rc = s_check_refs (store, txn, report, MEM_DB_HASHES, "dedupe hashes", 0, true, 1);
    if (!rc)
        rc = s_check_refs (store, txn, report, MEM_DB_SESSIONS, "sessions", 0, true, 1);
    if (!rc)
        rc = s_check_refs (store, txn, report, MEM_DB_TOMBSTONES, "tombstones", 8, false, 0);
    if (!rc)
        rc = s_check_refs (store, txn, report, MEM_DB_DELETED, "deleted set", 4, false, 0);
    if (!rc)
        rc = s_check_refs (store, txn, report, MEM_DB_BANDS, "near-duplicate bands", 0, true, -1);
    if (!rc)
        rc = s_check_refs (store, txn, report, MEM_DB_DIGESTS, "digests", 0, true, -1);
    if (!rc)
        rc = s_check_edges (store, txn, report, MEM_DB_EDGES, MEM_DB_EDGES_IN);
    if (!rc)
        rc = s_check_edges (store, txn, report, MEM_DB_EDGES_IN, MEM_DB_EDGES);
    if (!rc)
        rc = mem_index_verify (store, txn, s_index_problem, report, &report->postings);
    if (!rc)
        rc = mem_graph_verify (store, txn, s_graph_problem, report, &report->graph_nodes);
    if (!rc)
        rc = mem_vectors_verify (store, txn, s_vectors_problem, report, &report->vectors);
    if (!rc) {
        uint64_t counted = mem_store_counter_get (txn, store, "records_tombstoned");
        if (counted != tombstones)
            s_problem (report, "the tombstone counter says %llu, the records %llu",
                       (unsigned long long) counted, (unsigned long long) tombstones);
        if (mem_store_counter_get (txn, store, "next_id") < max_id)
            s_problem (report, "next_id is below the largest record id %llu",
                       (unsigned long long) max_id);
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  Selftest: a clean store verifies; each kind of damage is reported.

#undef NDEBUG
#include <assert.h>

void
mem_verify_test (bool verbose)
{
    printf (" * mem_verify: ");
    char dir[] = "/tmp/memd-verify-test-XXXXXX";
    mem_store_t *store = mem_store_test_new (dir);
    mem_index_writer_t *index = mem_index_writer_new (store);
    MDB_txn *txn;
    assert (mem_store_write_begin (store, &txn) == 0);
    mem_capture_batch_t batch;
    assert (mem_capture_batch_begin (&batch, store, txn, index) == 0);
    const char *texts[] = {"the cat sat on the mat", "dogs chase cats", "a bird in the hand"};
    uint64_t ids[3];
    float embedding[2] = {1, 2};
    for (int i = 0; i < 3; i++) {
        Memd__V1__Record rec = MEMD__V1__RECORD__INIT;
        rec.text = (char *) texts[i];
        rec.session_id = "s1";
        rec.embedding = embedding;
        rec.n_embedding = i == 1 ? 0 : 2;
        bool dup;
        assert (mem_records_capture (&batch, &rec, "agent", 1000, &ids[i], &dup) == 0);
    }
    assert (mem_capture_batch_finish (&batch) == 0);
    assert (mem_index_writer_flush (index, txn) == 0);
    uint32_t agent;
    assert (mem_agents_lookup (store, txn, "agent", false, &agent) == 0);
    assert (mem_records_forget (store, txn, agent, ids[1], 2000) == 0);
    mem_edge_t edge = {ids[0], ids[2], MEM_EDGE_TEMPORAL, 1};
    assert (mem_edges_put (store, txn, &edge) == 0);

    mem_verify_report_t report;
    assert (mem_verify (store, txn, &report) == 0);
    if (verbose)
        for (size_t i = 0; i < report.n_problems; i++)
            printf ("\n   %s", report.problems[i]);
    assert (report.problem_count == 0);
    assert (report.records == 3 && report.edges == 1 && report.postings > 0);
    assert (report.vectors == 2);
    mem_verify_report_clear (&report);

    //  Damage: a mirror edge gone, a session entry gone, a stray tombstone.
    uint8_t k[17];
    mem_put_u64be (k, ids[2]);
    k[8] = MEM_EDGE_TEMPORAL;
    mem_put_u64be (k + 9, ids[0]);
    MDB_val key = {17, k};
    assert (mdb_del (txn, mem_store_dbi (store, MEM_DB_EDGES_IN), &key, NULL) == 0);
    uint8_t sk[6], idk[8];
    mem_put_u32be (sk, agent);
    memcpy (sk + 4, "s1", 2);
    mem_put_u64be (idk, ids[0]);
    MDB_val skey = {6, sk}, sval = {8, idk};
    assert (mdb_del (txn, mem_store_dbi (store, MEM_DB_SESSIONS), &skey, &sval) == 0);
    uint8_t tk[16];
    mem_put_u64be (tk, 5);
    mem_put_u64be (tk + 8, ids[2]);
    MDB_val tkey = {16, tk}, tval = {0, NULL};
    assert (mdb_put (txn, mem_store_dbi (store, MEM_DB_TOMBSTONES), &tkey, &tval, 0) == 0);
    //  And postings deleted behind a live record's back: "bird" of ids[2].
    MDB_cursor *cursor;
    assert (mdb_cursor_open (txn, mem_store_dbi (store, MEM_DB_POSTINGS), &cursor) == 0);
    MDB_val pkey, pval;
    int deleted = 0;
    while (mdb_cursor_get (cursor, &pkey, &pval, MDB_NEXT) == 0)
        if (pkey.mv_size == 8 && memcmp ((char *) pkey.mv_data + 4, "bird", 4) == 0) {
            assert (mdb_cursor_del (cursor, 0) == 0);
            deleted++;
        }
    mdb_cursor_close (cursor);
    assert (deleted == 1);
    //  … and an embedding whose block slot is gone.
    uint8_t vk[8];
    mem_put_u64be (vk, ids[2]);
    MDB_val vkey = {8, vk}, vval;
    assert (mdb_get (txn, mem_store_dbi (store, MEM_DB_VECTORS), &vkey, &vval) == 0);
    uint8_t *vcopy = malloc (vval.mv_size);
    memcpy (vcopy, vval.mv_data, vval.mv_size);
    vcopy[4] = 9;   //  block 9 (the second u32 of its place)
    vval.mv_data = vcopy;
    assert (mdb_put (txn, mem_store_dbi (store, MEM_DB_VECTORS), &vkey, &vval, 0) == 0);
    free (vcopy);
    assert (mem_verify (store, txn, &report) == 0);
    if (verbose)
        for (size_t i = 0; i < report.n_problems; i++)
            printf ("\n   %s", report.problems[i]);
    assert (report.problem_count == 6);   //  the vector slot is wrong both ways
    bool mirror = false, session = false, stray = false, postings = false, vectors = false;
    for (size_t i = 0; i < report.n_problems; i++) {
        vectors = vectors || strstr (report.problems[i], "vectors: embedding of record");
        mirror = mirror || strstr (report.problems[i], "no mirror");
        session = session || strstr (report.problems[i], "session");
        stray = stray || strstr (report.problems[i], "not tombstoned");
        postings = postings || strstr (report.problems[i], "postings hold 1 of its 2 terms");
    }
    assert (mirror && session && stray && postings && vectors);
    mem_verify_report_clear (&report);

    mem_store_write_abort (store, &txn);
    mem_index_writer_destroy (&index);
    mem_store_test_remove (&store, dir);
    printf ("OK\n");
}
