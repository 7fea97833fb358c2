/*  mem_graph_build — a full build in bounded steps; see mem_graph_build.h. */
#include "mem_graph_build.h"
#include "mem_graph.h"
#include "mem_graph_store.h"
#include "mem_records.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOAD_BATCH   4096     //  node ids read per call
#define CHECK_EVERY  64       //  items between two looks at the clock
#define CLEAR_MAX    4096     //  rows deleted per clearing call

typedef enum {
    B_START, B_LOAD_NODES, B_LOAD_EDGES, B_CSR, B_LOUVAIN, B_PAGERANK, B_SUMMARY, B_CLEAR,
    B_WRITE_NODES, B_WRITE_MEMBERS, B_WRITE_COMMS, B_FLIP, B_CLEANUP, B_DONE
} s_phase_t;

static const char *s_phase_names[] = {"start",         "load nodes",  "load edges", "csr",
                                      "louvain",       "pagerank",    "summary",    "clear",
                                      "write nodes",   "write members", "write communities",
                                      "flip",          "cleanup",     "done"};

typedef struct {
    uint64_t community, id;
} s_member_t;

struct _mem_graph_build_t {
    mem_store_t *store;
    uint32_t agent;
    s_phase_t phase;
    uint8_t active, target;       //  the slot readers use; the one being written
    uint64_t *ids;                //  live nodes, ascending
    size_t n_ids, cap_ids;
    uint64_t after;               //  node load cursor (record id)
    size_t cursor;                //  index into ids / members / communities
    mem_wedge_t *wedges;
    size_t n_wedges, cap_wedges;
    mem_csr_t *csr;
    mem_louvain_t *louvain;
    mem_pagerank_t *pagerank;
    const uint32_t *comm;         //  Louvain's community of each node
    const double *ranks;
    uint64_t *comm_id;            //  per Louvain community: its id (a record id)
    uint64_t *comm_size;
    s_member_t *members;          //  (community id, node id), sorted
    s_member_t *comms;            //  (community id, size), sorted by id
    int64_t started_us, phase_us;
    mem_graph_build_stats_t stats;
};

mem_graph_build_t *
mem_graph_build_new (mem_store_t *store, uint32_t agent)
{
    mem_graph_build_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->store = store;
    self->agent = agent;
    self->phase = B_START;
    return self;
}

void
mem_graph_build_destroy (mem_graph_build_t **self_p)
{
    mem_graph_build_t *self = *self_p;
    if (!self)
        return;
    mem_louvain_destroy (&self->louvain);
    mem_pagerank_destroy (&self->pagerank);
    mem_csr_destroy (&self->csr);
    free (self->ids);
    free (self->wedges);
    free (self->comm_id);
    free (self->comm_size);
    free (self->members);
    free (self->comms);
    free (self);
    *self_p = NULL;
}

uint32_t
mem_graph_build_agent (mem_graph_build_t *self)
{
    return self->agent;
}

bool
mem_graph_build_writing (mem_graph_build_t *self)
{
    return self->phase >= B_CLEAR && self->phase < B_DONE;
}

const char *
mem_graph_build_phase (mem_graph_build_t *self)
{
    return s_phase_names[self->phase];
}

const mem_graph_build_stats_t *
mem_graph_build_stats (mem_graph_build_t *self)
{
    return &self->stats;
}

static void
s_peak (mem_graph_build_t *self, size_t bytes)
{
    if (bytes > self->stats.peak_bytes)
        self->stats.peak_bytes = bytes;
}

static bool
s_late (unsigned work, int64_t deadline_us)
{
    return work % CHECK_EVERY == CHECK_EVERY - 1 && mem_graph_now_us () >= deadline_us;
}

//  --------------------------------------------------------------------------
//  Load (read transactions)

//  Node ids of the active slot, keeping live records of the agent.
static int
s_load_nodes (mem_graph_build_t *self, MDB_txn *txn, int64_t deadline_us)
{
    uint64_t batch[LOAD_BATCH];
    for (unsigned work = 0;; work++) {
        size_t n;
        bool more;
        int rc = mem_graph_slot_nodes (self->store, txn, self->agent, self->active, self->after,
                                       LOAD_BATCH, batch, &n, &more);
        if (rc)
            return rc;
        if (self->n_ids + n > self->cap_ids) {
            size_t cap = self->cap_ids ? self->cap_ids * 2 : 4096;
            while (cap < self->n_ids + n)
                cap *= 2;
            uint64_t *grown = realloc (self->ids, cap * sizeof *grown);
            if (!grown)
                return ENOMEM;
            self->ids = grown;
            self->cap_ids = cap;
        }
        for (size_t i = 0; i < n; i++) {
            mem_docmeta_t meta;
            rc = mem_records_docmeta (self->store, txn, batch[i], &meta);
            if (rc == MDB_NOTFOUND)
                continue;
            if (rc)
                return rc;
            if (meta.agent == self->agent && !(meta.flags & MEM_DOC_TOMBSTONED))
                self->ids[self->n_ids++] = batch[i];
        }
        if (n)
            self->after = batch[n - 1];
        if (!more) {
            self->phase = B_LOAD_EDGES;
            self->cursor = 0;
            return 0;
        }
        if (mem_graph_now_us () >= deadline_us)
            return 0;
    }
}

static int
s_id_cmp (const void *key, const void *elem)
{
    uint64_t a = *(const uint64_t *) key, b = *(const uint64_t *) elem;
    return a < b ? -1 : a > b;
}

typedef struct {
    mem_graph_build_t *self;
    uint32_t u;
} s_edge_arg_t;

//  One stored edge from node u: kept when it reaches another live node.
static int
s_load_edge (const mem_edge_t *edge, void *arg)
{
    s_edge_arg_t *a = arg;
    mem_graph_build_t *self = a->self;
    const uint64_t *hit
        = bsearch (&edge->dst, self->ids, self->n_ids, sizeof *self->ids, s_id_cmp);
    float w = mem_graph_edge_weight (edge);
    if (!hit || *hit == edge->src || !(w > 0))
        return 0;
    if (self->n_wedges == self->cap_wedges) {
        size_t cap = self->cap_wedges ? self->cap_wedges * 2 : 8192;
        mem_wedge_t *grown = realloc (self->wedges, cap * sizeof *grown);
        if (!grown)
            return ENOMEM;
        self->wedges = grown;
        self->cap_wedges = cap;
    }
    self->wedges[self->n_wedges++] = (mem_wedge_t){a->u, (uint32_t) (hit - self->ids), w};
    return 0;
}

//  The edges leaving each node, in node order.
static int
s_load_edges (mem_graph_build_t *self, MDB_txn *txn, int64_t deadline_us)
{
    for (unsigned work = 0; self->cursor < self->n_ids; work++) {
        if (s_late (work, deadline_us))
            return 0;
        s_edge_arg_t arg = {self, (uint32_t) self->cursor};
        int rc = mem_edges_each (self->store, txn, self->ids[self->cursor], true, 0, s_load_edge,
                                 &arg);
        if (rc)
            return rc;
        self->cursor++;
    }
    self->stats.nodes = (uint32_t) self->n_ids;
    self->stats.edges = self->n_wedges;
    s_peak (self, self->cap_ids * sizeof *self->ids + self->cap_wedges * sizeof *self->wedges);
    self->phase = B_CSR;
    return 0;
}

//  --------------------------------------------------------------------------
//  Compute (memory only)

static int
s_member_cmp (const void *a, const void *b)
{
    const s_member_t *x = a, *y = b;
    if (x->community != y->community)
        return x->community < y->community ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

//  Names each community by its most central member, counts it, and lays
//  out the rows to write, sorted as their keys.
static int
s_summary (mem_graph_build_t *self)
{
    uint32_t nc = self->stats.communities;
    uint32_t *best = malloc ((nc ? nc : 1) * sizeof *best);
    self->comm_id = calloc (nc ? nc : 1, sizeof *self->comm_id);
    self->comm_size = calloc (nc ? nc : 1, sizeof *self->comm_size);
    self->members = malloc ((self->n_ids ? self->n_ids : 1) * sizeof *self->members);
    self->comms = malloc ((nc ? nc : 1) * sizeof *self->comms);
    if (!best || !self->comm_id || !self->comm_size || !self->members || !self->comms) {
        free (best);
        return ENOMEM;
    }
    memset (best, 0xff, (nc ? nc : 1) * sizeof *best);
    for (uint32_t i = 0; i < self->n_ids; i++) {
        uint32_t c = self->comm[i];
        self->comm_size[c]++;
        if (best[c] == UINT32_MAX || self->ranks[i] > self->ranks[best[c]])
            best[c] = i;   //  ids ascend: a tie keeps the lower id
    }
    for (uint32_t c = 0; c < nc; c++) {
        self->comm_id[c] = self->ids[best[c]];
        self->comms[c] = (s_member_t){self->comm_id[c], self->comm_size[c]};
    }
    free (best);
    for (uint32_t i = 0; i < self->n_ids; i++)
        self->members[i] = (s_member_t){self->comm_id[self->comm[i]], self->ids[i]};
    qsort (self->members, self->n_ids, sizeof *self->members, s_member_cmp);
    qsort (self->comms, nc, sizeof *self->comms, s_member_cmp);
    s_peak (self, mem_csr_bytes (self->csr) + self->n_ids * (sizeof *self->ids + sizeof (double) * 3
                                                             + sizeof *self->members));
    return 0;
}

//  --------------------------------------------------------------------------
//  Persist (short write transactions)

typedef struct {
    mem_graph_build_t *self;
    int64_t deadline_us;
    size_t end;               //  where the transaction got to (index)
    bool done;                //  clearing: the slot is empty
} s_write_t;

static int
s_clear_work (MDB_txn *txn, void *arg)
{
    s_write_t *w = arg;
    mem_graph_build_t *self = w->self;
    uint8_t slot = self->target;   //  the new slot before it is written; the old one after the flip
    w->done = false;
    int rc = 0;
    for (int calls = 0; !rc && !w->done && (!calls || mem_graph_now_us () < w->deadline_us);
         calls++)
        rc = mem_graph_clear_slot (self->store, txn, self->agent, slot, CLEAR_MAX / 8, &w->done);
    return rc;
}

//  One row of the phase being written: node, member or community row i.
static int
s_write_row (mem_graph_build_t *self, MDB_txn *txn, size_t i)
{
    if (self->phase == B_WRITE_NODES) {
        mem_graph_node_t node = {self->comm_id[self->comm[i]], (float) self->ranks[i], 0};
        return mem_graph_slot_put_node (self->store, txn, self->agent, self->target,
                                        self->ids[i], &node);
    }
    if (self->phase == B_WRITE_MEMBERS)
        return mem_graph_slot_put_member (self->store, txn, self->agent, self->target,
                                          self->members[i].community, self->members[i].id);
    return mem_graph_community_put (self->store, txn, self->agent, self->target,
                                    self->comms[i].community, self->comms[i].id);
}

//  Rows of the current write phase from the cursor, until the deadline
//  (at least one); w->end gets where it stopped.
static int
s_rows_work (MDB_txn *txn, void *arg)
{
    s_write_t *w = arg;
    mem_graph_build_t *self = w->self;
    size_t total = self->phase == B_WRITE_COMMS ? self->stats.communities : self->n_ids;
    int rc = 0;
    size_t i = self->cursor;
    for (unsigned work = 0; i < total && !rc; work++, i++) {
        if (work > 0 && s_late (work, w->deadline_us))
            break;
        rc = s_write_row (self, txn, i);
    }
    w->end = i;
    return rc;
}

typedef struct {
    mem_graph_build_t *self;
    int64_t now_ms;
} s_flip_t;

//  The new generation becomes the one readers see.
static int
s_flip_work (MDB_txn *txn, void *arg)
{
    s_flip_t *f = arg;
    mem_graph_build_t *self = f->self;
    mem_graph_meta_t meta;
    int rc = mem_graph_meta_get (self->store, txn, self->agent, &meta);
    if (rc)
        return rc;
    meta.generation++;
    meta.built_at_ms = f->now_ms;
    meta.build_ms = (mem_graph_now_us () - self->started_us) / 1000;
    meta.nodes = self->stats.nodes;
    meta.edges = self->stats.edges;
    meta.communities = self->stats.communities;
    meta.modularity = self->stats.modularity;
    meta.added = 0;
    meta.edges_added = 0;
    meta.communities_added = 0;
    meta.slot = self->target;
    self->stats.generation = meta.generation;
    return mem_graph_meta_put (self->store, txn, self->agent, &meta);
}

//  One write transaction of the current persist phase; moves on when the
//  phase's rows are all written.
static int
s_persist (mem_graph_build_t *self, int64_t deadline_us, int64_t now_ms)
{
    s_write_t w = {self, deadline_us, 0, false};
    int rc;
    switch (self->phase) {
    case B_CLEAR:
    case B_CLEANUP:
        rc = mem_store_write (self->store, s_clear_work, &w);
        if (!rc && w.done)
            self->phase = self->phase == B_CLEAR ? B_WRITE_NODES : B_DONE;
        self->cursor = 0;
        return rc;
    case B_WRITE_NODES:
    case B_WRITE_MEMBERS:
    case B_WRITE_COMMS:
        rc = mem_store_write (self->store, s_rows_work, &w);
        break;
    default: {
        s_flip_t f = {self, now_ms};
        rc = mem_store_write (self->store, s_flip_work, &f);
        if (!rc) {
            self->phase = B_CLEANUP;
            self->active = self->target;
            self->target = 1 - self->target;   //  the old slot: cleanup clears it
        }
        return rc;
    }
    }
    if (rc)
        return rc;
    self->cursor = w.end;
    size_t total = self->phase == B_WRITE_COMMS ? self->stats.communities : self->n_ids;
    if (self->cursor >= total) {
        self->cursor = 0;
        self->phase = self->phase == B_WRITE_NODES     ? B_WRITE_MEMBERS
                    : self->phase == B_WRITE_MEMBERS ? B_WRITE_COMMS
                                                     : B_FLIP;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  The state machine

//  Time spent in the phase group that just ended.
static void
s_clock (mem_graph_build_t *self, int64_t *bucket)
{
    int64_t now = mem_graph_now_us ();
    *bucket += now - self->phase_us;
    self->phase_us = now;
}

int
mem_graph_build_step (mem_graph_build_t *self, int64_t deadline_us, int64_t now_ms, bool *done)
{
    int rc = 0;
    self->phase_us = mem_graph_now_us ();
    //  At least one piece of work per call, however late: a build always
    //  moves on.
    while (!rc && self->phase != B_DONE) {
        s_phase_t phase = self->phase;
        if (phase <= B_LOAD_EDGES) {
            MDB_txn *txn;
            if ((rc = mem_store_read_begin (self->store, &txn)))
                break;
            if (phase == B_START) {
                mem_graph_meta_t meta;
                rc = mem_graph_meta_get (self->store, txn, self->agent, &meta);
                self->active = meta.slot;
                self->target = 1 - meta.slot;
                self->started_us = mem_graph_now_us ();
                self->phase = B_LOAD_NODES;
            }
            else if (phase == B_LOAD_NODES)
                rc = s_load_nodes (self, txn, deadline_us);
            else
                rc = s_load_edges (self, txn, deadline_us);
            mem_store_read_end (self->store, &txn);
            s_clock (self, &self->stats.load_us);
        }
        else if (phase == B_CSR) {
            self->csr = mem_csr_new ((uint32_t) self->n_ids, self->wedges, self->n_wedges);
            free (self->wedges);
            self->wedges = NULL;
            self->louvain = self->csr ? mem_louvain_new (self->csr) : NULL;
            self->pagerank = self->csr ? mem_pagerank_new (self->csr, MEM_PAGERANK_DAMPING,
                                                           MEM_PAGERANK_TOL, MEM_PAGERANK_ITER)
                                       : NULL;
            rc = self->louvain && self->pagerank ? 0 : ENOMEM;
            self->phase = B_LOUVAIN;
            s_clock (self, &self->stats.compute_us);
        }
        else if (phase == B_LOUVAIN || phase == B_PAGERANK) {
            int r = phase == B_LOUVAIN ? mem_louvain_step (self->louvain, deadline_us)
                                       : mem_pagerank_step (self->pagerank, deadline_us);
            if (r < 0)
                rc = ENOMEM;
            else if (r == 1 && phase == B_LOUVAIN) {
                self->comm = mem_louvain_communities (self->louvain, &self->stats.communities);
                self->stats.modularity
                    = mem_graph_modularity (self->csr, self->comm, self->stats.communities);
                mem_louvain_counts (self->louvain, &self->stats.levels, &self->stats.passes);
                s_peak (self, mem_csr_bytes (self->csr) + mem_louvain_peak_bytes (self->louvain)
                                  + self->cap_ids * sizeof *self->ids);
                self->phase = B_PAGERANK;
            }
            else if (r == 1) {
                self->ranks = mem_pagerank_ranks (self->pagerank, &self->stats.iterations);
                self->phase = B_SUMMARY;
            }
            s_clock (self, &self->stats.compute_us);
        }
        else if (phase == B_SUMMARY) {
            rc = s_summary (self);
            self->phase = B_CLEAR;
            s_clock (self, &self->stats.compute_us);
        }
        else {
            rc = s_persist (self, deadline_us, now_ms);
            s_clock (self, &self->stats.persist_us);
        }
        if (mem_graph_now_us () >= deadline_us)
            break;
    }
    *done = !rc && self->phase == B_DONE;
    if (*done) {
        //  The result is in the store: let the memory go now.
        mem_louvain_destroy (&self->louvain);
        mem_pagerank_destroy (&self->pagerank);
        mem_csr_destroy (&self->csr);
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  Selftest

#undef NDEBUG
#include <assert.h>
#include "mem_graph_link.h"
#define streq(a, b) (strcmp ((a), (b)) == 0)

//  Runs a build to the end in 1 ms slices.
static const mem_graph_build_stats_t *
s_test_build (mem_store_t *store, uint32_t agent, mem_graph_build_t **build_p)
{
    mem_graph_build_t *build = mem_graph_build_new (store, agent);
    bool done = false;
    int steps = 0;
    while (!done) {
        assert (mem_graph_build_step (build, mem_graph_now_us () + 1000, 5000, &done) == 0);
        steps++;
    }
    *build_p = build;
    return mem_graph_build_stats (build);
}

void
mem_graph_build_test (bool verbose)
{
    printf (" * mem_graph_build: ");
    char dir[] = "/tmp/memd-graph-build-test-XXXXXX";
    assert (mkdtemp (dir));
    mem_store_options_t opts;
    mem_store_options_default (&opts);
    opts.dir = dir;
    opts.sync = MEM_SYNC_NONE;
    char err[256];
    mem_store_t *store = mem_store_open (&opts, err, sizeof err);
    assert (store);
    mem_index_writer_t *index = mem_index_writer_new (store);

    //  Two "cliques" of records by words (cats, boats) in two sessions, a
    //  bridge record between them, and an unrelated record alone.
    const char *texts[] = {
        "cats purr softly cats nap", "cats chase mice cats purr", "cats nap cats purr mice",
        "cats mice purr nap", "boats sail harbour boats", "boats harbour anchor sail",
        "boats anchor sail harbour boats", "sail boats anchor harbour", "cats watch boats",
        "zebra quokka xylophone"};
    const char *sessions[] = {"c", "c", "c", "c", "b", "b", "b", "b", "", ""};
    uint64_t ids[10];
    MDB_txn *txn;
    assert (mem_store_write_begin (store, &txn) == 0);
    mem_capture_batch_t batch;
    assert (mem_capture_batch_begin (&batch, store, txn, index) == 0);
    for (int i = 0; i < 10; i++) {
        Memd__V1__Record rec = MEMD__V1__RECORD__INIT;
        rec.text = (char *) texts[i];
        rec.session_id = (char *) sessions[i];
        bool dup;
        assert (mem_records_capture (&batch, &rec, "a", 1000, &ids[i], &dup) == 0);
    }
    assert (mem_capture_batch_finish (&batch) == 0);
    assert (mem_index_writer_flush (index, txn) == 0);
    mem_graph_link_config_t config;
    mem_graph_link_config_default (&config);
    config.lexical_min = 0.05;
    mem_graph_link_result_t linked;
    assert (mem_graph_link_step (store, txn, &config, 100, INT64_MAX, 1000, &linked) == 0);
    assert (linked.done && linked.records == 10);
    uint32_t agent;
    assert (mem_agents_lookup (store, txn, "a", false, &agent) == 0);
    assert (mem_store_write_commit (store, &txn) == 0);

    //  The first build: every live record is a node; cats and boats apart.
    mem_graph_build_t *build;
    const mem_graph_build_stats_t *st = s_test_build (store, agent, &build);
    assert (st->nodes == 10 && st->generation == 1 && st->edges > 10);
    assert (st->communities >= 3 && st->modularity > 0.2);
    mem_graph_meta_t meta;
    assert (mem_store_read_begin (store, &txn) == 0);
    assert (mem_graph_meta_get (store, txn, agent, &meta) == 0);
    assert (meta.generation == 1 && meta.slot == 1 && meta.nodes == 10 && meta.added == 0);
    assert (meta.edges == st->edges && meta.communities == st->communities);
    mem_graph_node_t cats, boats, node;
    assert (mem_graph_node_get (store, txn, agent, 1, ids[0], &cats) == 0);
    assert (mem_graph_node_get (store, txn, agent, 1, ids[4], &boats) == 0);
    assert (cats.community && boats.community && cats.community != boats.community);
    for (int i = 0; i < 4; i++) {
        assert (mem_graph_node_get (store, txn, agent, 1, ids[i], &node) == 0);
        assert (node.community == cats.community && node.pagerank > 0);
        assert (mem_graph_node_get (store, txn, agent, 1, ids[4 + i], &node) == 0);
        assert (node.community == boats.community);
    }
    assert (mem_graph_node_get (store, txn, agent, 1, ids[9], &node) == 0);
    assert (node.community == ids[9]);   //  alone: its own community, named after it
    //  The old slot was cleared; the id of a community is one of its members.
    assert (mem_graph_node_get (store, txn, agent, 0, ids[0], &node) == MDB_NOTFOUND);
    uint64_t size;
    assert (mem_graph_community_size (store, txn, agent, 1, cats.community, &size) == 0);
    assert (size >= 4);
    assert (mem_graph_node_get (store, txn, agent, 1, cats.community, &node) == 0);
    assert (node.community == cats.community);
    mem_store_read_end (store, &txn);
    mem_graph_build_destroy (&build);

    //  Forget two records: the next build leaves them out (nodes = live
    //  records), and the previous generation served until the flip.
    assert (mem_store_write_begin (store, &txn) == 0);
    assert (mem_records_forget (store, txn, agent, ids[1], 2000) == 0);
    assert (mem_records_forget (store, txn, agent, ids[9], 2000) == 0);
    assert (mem_store_write_commit (store, &txn) == 0);
    build = mem_graph_build_new (store, agent);
    bool done = false;
    int steps = 0;
    while (!done) {
        assert (mem_store_read_begin (store, &txn) == 0);
        assert (mem_graph_meta_get (store, txn, agent, &meta) == 0);
        const char *phase = mem_graph_build_phase (build);
        bool flipped = streq (phase, "cleanup") || streq (phase, "done");
        assert (meta.generation == (flipped ? 2u : 1u));
        mem_store_read_end (store, &txn);
        //  Tiny deadlines: one small piece of work per step.
        assert (mem_graph_build_step (build, 0, 6000, &done) == 0);
        steps++;
    }
    st = mem_graph_build_stats (build);
    uint64_t live, tombstoned;
    assert (mem_store_read_begin (store, &txn) == 0);
    assert (mem_records_counts (store, txn, &live, &tombstoned) == 0);
    assert (st->nodes == live && live == 8 && st->generation == 2);
    assert (mem_graph_meta_get (store, txn, agent, &meta) == 0);
    assert (meta.slot == 0 && meta.nodes == 8);
    assert (mem_graph_node_get (store, txn, agent, 0, ids[1], &node) == MDB_NOTFOUND);
    assert (mem_graph_node_get (store, txn, agent, 0, ids[2], &node) == 0);
    assert (mem_graph_node_get (store, txn, agent, 1, ids[2], &node) == MDB_NOTFOUND);
    mem_store_read_end (store, &txn);
    mem_graph_build_destroy (&build);

    //  A failed build (abandoned half way) leaves the generation as it was,
    //  and the next build clears its leftovers.
    build = mem_graph_build_new (store, agent);
    done = false;
    while (strcmp (mem_graph_build_phase (build), "write communities") != 0)
        assert (mem_graph_build_step (build, 0, 7000, &done) == 0 && !done);
    mem_graph_build_destroy (&build);
    assert (mem_store_read_begin (store, &txn) == 0);
    assert (mem_graph_meta_get (store, txn, agent, &meta) == 0 && meta.generation == 2);
    mem_store_read_end (store, &txn);
    st = s_test_build (store, agent, &build);
    assert (st->generation == 3 && st->nodes == 8);
    mem_graph_build_destroy (&build);

    mem_index_writer_destroy (&index);
    mem_store_destroy (&store);
    char cmd[300];
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    assert (system (cmd) == 0);
    if (verbose)
        printf ("(%d steps with no time) ", steps);
    printf ("OK\n");
}
