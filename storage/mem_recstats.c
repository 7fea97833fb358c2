/*  mem_recstats — recall statistics written by the writer; see mem_recstats.h. */
#include "mem_recstats.h"
#include "mem_edges.h"
#include "mem_records.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 8192   //  hash slots for the ids: a power of two, twice MEM_RECSTATS_IDS

typedef struct {
    uint64_t id;         //  0: empty slot
    uint32_t count;
    int64_t last_ms;
} s_entry_t;

typedef struct {
    uint64_t ids[MEM_RECSTATS_GROUP];
    unsigned n;
    int64_t at_ms;       //  when they were recalled together
} s_group_t;

struct _mem_recstats_t {
    s_entry_t *slots;
    uint32_t *used;      //  slot indexes in use, in arrival order
    size_t n_used;
    s_group_t *groups;
    size_t n_groups;
    uint64_t dropped;
};

mem_recstats_t *
mem_recstats_new (void)
{
    mem_recstats_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->slots = calloc (SLOTS, sizeof *self->slots);
    self->used = malloc (MEM_RECSTATS_IDS * sizeof *self->used);
    self->groups = malloc (MEM_RECSTATS_GROUPS * sizeof *self->groups);
    if (!self->slots || !self->used || !self->groups)
        mem_recstats_destroy (&self);
    return self;
}

void
mem_recstats_destroy (mem_recstats_t **self_p)
{
    mem_recstats_t *self = *self_p;
    if (!self)
        return;
    free (self->slots);
    free (self->used);
    free (self->groups);
    free (self);
    *self_p = NULL;
}

void *
mem_recstats_message (int64_t at_ms, const uint64_t *ids, size_t n, size_t *size)
{
    *size = 16 + n * sizeof *ids;
    uint8_t *p = malloc (*size);
    if (!p)
        return NULL;
    uint32_t group = n < MEM_RECSTATS_GROUP ? (uint32_t) n : MEM_RECSTATS_GROUP;
    uint32_t count = (uint32_t) n;
    memcpy (p, &at_ms, 8);
    memcpy (p + 8, &group, 4);
    memcpy (p + 12, &count, 4);
    if (n)
        memcpy (p + 16, ids, n * sizeof *ids);
    return p;
}

static void
s_count (mem_recstats_t *self, uint64_t id, int64_t at_ms)
{
    uint32_t at = (uint32_t) ((id * 0x9E3779B97F4A7C15ull) >> 51) & (SLOTS - 1);
    while (self->slots[at].id && self->slots[at].id != id)
        at = (at + 1) & (SLOTS - 1);
    s_entry_t *e = &self->slots[at];
    if (!e->id) {
        if (self->n_used == MEM_RECSTATS_IDS) {
            self->dropped++;
            return;
        }
        *e = (s_entry_t){id, 0, at_ms};
        self->used[self->n_used++] = at;
    }
    e->count++;
    if (at_ms > e->last_ms)
        e->last_ms = at_ms;
}

int
mem_recstats_add (mem_recstats_t *self, const void *data, size_t size)
{
    const uint8_t *p = data;
    int64_t at_ms;
    uint32_t group, n;
    if (size < 16)
        return -1;
    memcpy (&at_ms, p, 8);
    memcpy (&group, p + 8, 4);
    memcpy (&n, p + 12, 4);
    if (size != 16 + (size_t) n * 8 || group > n || group > MEM_RECSTATS_GROUP)
        return -1;
    uint64_t ids[MEM_RECSTATS_GROUP];
    for (uint32_t i = 0; i < n; i++) {
        uint64_t id;
        memcpy (&id, p + 16 + (size_t) i * 8, 8);
        if (id == 0)
            return -1;   //  checked before anything is counted below
        if (i < group)
            ids[i] = id;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint64_t id;
        memcpy (&id, p + 16 + (size_t) i * 8, 8);
        s_count (self, id, at_ms);
    }
    if (group >= 2) {
        if (self->n_groups == MEM_RECSTATS_GROUPS)
            self->dropped++;
        else {
            s_group_t *g = &self->groups[self->n_groups++];
            memcpy (g->ids, ids, group * sizeof *ids);
            g->n = group;
            g->at_ms = at_ms;
        }
    }
    return 0;
}

bool
mem_recstats_pending (mem_recstats_t *self)
{
    return self->n_used > 0 || self->n_groups > 0;
}

uint64_t
mem_recstats_dropped (mem_recstats_t *self)
{
    return self->dropped;
}

void
mem_recstats_clear (mem_recstats_t *self)
{
    for (size_t i = 0; i < self->n_used; i++)
        self->slots[self->used[i]].id = 0;
    self->n_used = 0;
    self->n_groups = 0;
}

//  True when id is a live record.
static bool
s_live (mem_store_t *store, MDB_txn *txn, uint64_t id, uint32_t *agent)
{
    mem_docmeta_t meta;
    if (mem_records_docmeta (store, txn, id, &meta) || (meta.flags & MEM_DOC_TOMBSTONED))
        return false;
    *agent = meta.agent;
    return true;
}

//  CO_RECALL edges of id, both ways; *weight gets the one to other (0: none).
static int
s_co_edges (mem_store_t *store, MDB_txn *txn, uint64_t id, uint64_t other, size_t *count,
            float *weight)
{
    mem_edge_t edges[MEM_RECSTATS_DEGREE + 1];
    *count = 0;
    for (int out = 0; out < 2; out++) {
        size_t n;
        int rc = mem_edges_list (store, txn, id, out, MEM_EDGE_CO_RECALL, edges,
                                 MEM_RECSTATS_DEGREE + 1, &n);
        if (rc)
            return rc;
        *count += n;
        for (size_t i = 0; i < n && weight; i++)
            if ((out ? edges[i].dst : edges[i].src) == other)
                *weight = edges[i].weight;
    }
    return 0;
}

//  One pair recalled together at at_ms: a new edge, or one more unit on its
//  edge; either way the edge keeps at_ms, from when consolidation decays it.
static int
s_link (mem_store_t *store, MDB_txn *txn, uint64_t a, uint64_t b, int64_t at_ms)
{
    if (a == b)
        return 0;
    uint64_t lo = a < b ? a : b, hi = a < b ? b : a;
    uint32_t agent_lo, agent_hi;
    if (!s_live (store, txn, lo, &agent_lo) || !s_live (store, txn, hi, &agent_hi)
        || agent_lo != agent_hi)
        return 0;
    size_t degree_lo, degree_hi;
    float weight = 0;
    int rc = s_co_edges (store, txn, lo, hi, &degree_lo, &weight);
    if (!rc && weight == 0)
        rc = s_co_edges (store, txn, hi, lo, &degree_hi, NULL);
    if (rc)
        return rc;
    if (weight == 0 && (degree_lo >= MEM_RECSTATS_DEGREE || degree_hi >= MEM_RECSTATS_DEGREE))
        return 0;   //  bounded: a record's co-recall edges stop growing in number
    mem_edge_t edge = {lo, hi, MEM_EDGE_CO_RECALL, 0};
    int64_t kept = 0;
    if (weight > 0 && (rc = mem_edges_get (store, txn, &edge, &kept)))
        return rc;
    edge.weight = weight + 1;
    //  Never back in time: a decay pass may have moved the time past a late message.
    return mem_edges_put_at (store, txn, &edge, at_ms > kept ? at_ms : kept);
}

int
mem_recstats_apply (mem_recstats_t *self, mem_store_t *store, MDB_txn *txn, uint64_t *updated)
{
    *updated = 0;
    int rc = 0;
    for (size_t i = 0; i < self->n_used && !rc; i++) {
        const s_entry_t *e = &self->slots[self->used[i]];
        Memd__V1__Record *rec;
        rc = mem_records_get_any (store, txn, e->id, &rec);
        if (rc == MDB_NOTFOUND) {
            rc = 0;   //  purged since: nothing to count
            continue;
        }
        if (rc)
            break;
        if (!rec->tombstoned_at_ms) {
            rec->recall_count += e->count;
            if (e->last_ms > rec->last_recalled_ms)
                rec->last_recalled_ms = e->last_ms;
            //  A recalled memory is fresh again: decay restarts from its base.
            if (rec->salience_base > rec->salience)
                rec->salience = rec->salience_base;
            rc = mem_records_update (store, txn, rec);
            (*updated)++;
        }
        memd__v1__record__free_unpacked (rec, NULL);
    }
    for (size_t g = 0; g < self->n_groups && !rc; g++) {
        const s_group_t *group = &self->groups[g];
        for (unsigned i = 0; i < group->n && !rc; i++)
            for (unsigned j = i + 1; j < group->n && !rc; j++)
                rc = s_link (store, txn, group->ids[i], group->ids[j], group->at_ms);
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  Selftest

#undef NDEBUG
#include <assert.h>

static void
s_test_add (mem_recstats_t *stats, int64_t at, const uint64_t *ids, size_t n)
{
    size_t size;
    void *msg = mem_recstats_message (at, ids, n, &size);
    assert (msg && mem_recstats_add (stats, msg, size) == 0);
    free (msg);
}

static float
s_test_weight (mem_store_t *store, MDB_txn *txn, uint64_t a, uint64_t b)
{
    size_t degree;
    float weight = 0;
    assert (s_co_edges (store, txn, a, b, &degree, &weight) == 0);
    return weight;
}

void
mem_recstats_test (bool verbose)
{
    printf (" * mem_recstats: ");
    char dir[] = "/tmp/mem_recstats_test.XXXXXX";
    assert (mkdtemp (dir));
    char err[256];
    mem_store_options_t opts;
    mem_store_options_default (&opts);
    opts.dir = dir;
    opts.sync = MEM_SYNC_NONE;
    mem_store_t *store = mem_store_open (&opts, err, sizeof err);
    assert (store);
    mem_index_writer_t *writer = mem_index_writer_new (store);
    MDB_txn *txn;
    assert (mem_store_write_begin (store, &txn) == 0);
    mem_capture_batch_t batch;
    assert (mem_capture_batch_begin (&batch, store, txn, writer) == 0);
    enum { N = 50 };
    for (int i = 0; i < N; i++) {
        char text[32];
        snprintf (text, sizeof text, "memory number %d", i);
        Memd__V1__Record rec = MEMD__V1__RECORD__INIT;
        rec.text = text;
        rec.salience = 0.8f;
        uint64_t id;
        bool dup;
        assert (mem_records_capture (&batch, &rec, i < N - 1 ? "a" : "b", 1000, &id, &dup) == 0);
    }
    assert (mem_capture_batch_finish (&batch) == 0);
    assert (mem_index_writer_flush (writer, txn) == 0);
    //  As if the sleep cycle had decayed record 1.
    Memd__V1__Record *rec;
    assert (mem_records_get_any (store, txn, 1, &rec) == 0);
    rec->salience = 0.3f;
    assert (mem_records_update (store, txn, rec) == 0);
    memd__v1__record__free_unpacked (rec, NULL);
    uint32_t agent;
    assert (mem_agents_lookup (store, txn, "a", false, &agent) == 0);
    assert (mem_records_forget (store, txn, agent, 7, 2000) == 0);
    assert (mem_store_write_commit (store, &txn) == 0);

    //  Malformed messages change nothing.
    mem_recstats_t *stats = mem_recstats_new ();
    assert (stats && !mem_recstats_pending (stats));
    assert (mem_recstats_add (stats, "short", 5) == -1);
    uint64_t zero[2] = {1, 0};
    size_t size;
    void *msg = mem_recstats_message (5000, zero, 2, &size);
    assert (mem_recstats_add (stats, msg, size - 1) == -1);
    assert (mem_recstats_add (stats, msg, size) == -1);   //  id 0
    free (msg);
    assert (!mem_recstats_pending (stats));

    //  Two recalls: 1 twice, then 1, 2, 3 together; 7 is forgotten, 50 is
    //  another agent's (never linked across agents).
    s_test_add (stats, 5000, (uint64_t[]){1, 2, 3, 7, 50}, 5);
    s_test_add (stats, 6000, (uint64_t[]){1, 2, 3}, 3);
    assert (mem_recstats_pending (stats));
    uint64_t updated;
    assert (mem_store_write_begin (store, &txn) == 0);
    assert (mem_recstats_apply (stats, store, txn, &updated) == 0);
    assert (updated == 4);   //  1, 2, 3 and 50; not 7
    assert (mem_store_write_commit (store, &txn) == 0);
    mem_recstats_clear (stats);
    assert (!mem_recstats_pending (stats));
    assert (mem_store_read_begin (store, &txn) == 0);
    assert (mem_records_get_any (store, txn, 1, &rec) == 0);
    assert (rec->recall_count == 2 && rec->last_recalled_ms == 6000);
    assert (rec->salience == 0.8f);   //  back to its base
    memd__v1__record__free_unpacked (rec, NULL);
    assert (mem_records_get_any (store, txn, 7, &rec) == 0);
    assert (rec->recall_count == 0);
    memd__v1__record__free_unpacked (rec, NULL);
    assert (s_test_weight (store, txn, 1, 2) == 2 && s_test_weight (store, txn, 2, 1) == 2);
    assert (s_test_weight (store, txn, 2, 3) == 2 && s_test_weight (store, txn, 1, 3) == 2);
    assert (s_test_weight (store, txn, 1, 7) == 0 && s_test_weight (store, txn, 1, 50) == 0);
    //  The edge keeps when it was last reinforced (the second recall).
    mem_edge_t co = {1, 2, MEM_EDGE_CO_RECALL, 0};
    int64_t at;
    assert (mem_edges_get (store, txn, &co, &at) == 0 && co.weight == 2 && at == 6000);
    mem_store_read_end (store, &txn);

    //  Bounded: record 1 links to at most MEM_RECSTATS_DEGREE others.
    for (uint64_t other = 8; other < N - 1; other++)
        s_test_add (stats, 7000, (uint64_t[]){1, other}, 2);
    assert (mem_store_write_begin (store, &txn) == 0);
    assert (mem_recstats_apply (stats, store, txn, &updated) == 0);
    size_t degree;
    assert (s_co_edges (store, txn, 1, 0, &degree, NULL) == 0);
    assert (degree == MEM_RECSTATS_DEGREE);
    mem_store_write_abort (store, &txn);
    mem_recstats_clear (stats);

    //  Bounded: ids past MEM_RECSTATS_IDS drop, and groups past MEM_RECSTATS_GROUPS.
    uint64_t many[1000];
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < 1000; i++)
            many[i] = 1000 + (uint64_t) round * 1000 + (uint64_t) i;
        s_test_add (stats, 8000, many, 1000);
    }
    assert (mem_recstats_dropped (stats) == 5000 - MEM_RECSTATS_IDS);
    mem_recstats_destroy (&stats);
    stats = mem_recstats_new ();
    for (int i = 0; i < MEM_RECSTATS_GROUPS + 3; i++)
        s_test_add (stats, 8000, (uint64_t[]){1, 2}, 2);
    assert (mem_recstats_dropped (stats) == 3);
    mem_recstats_destroy (&stats);

    mem_index_writer_destroy (&writer);
    mem_store_destroy (&store);
    char cmd[300];
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    assert (system (cmd) == 0);
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
