/*  mem_graph_recall — recall along the graph; see mem_graph_recall.h. */
#include "mem_graph_recall.h"
#include "mem_graph_store.h"
#include "mem_records.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t id;
    double base;                 //  its lexical score (0: reached by the graph only)
    double activation;           //  what the seeds passed to it
    double score;                //  the final score
    uint64_t community;
} s_cand_t;

typedef struct {
    mem_store_t *store;
    MDB_txn *txn;
    uint32_t agent;
    mem_filter_fn *filter;
    void *filter_arg;
    s_cand_t *cands;
    size_t n, cap;
    uint64_t seed;
    double seed_score;
    unsigned taken;              //  edges followed from this seed this way
} s_spread_t;

static s_cand_t *
s_find (s_spread_t *sp, uint64_t id)
{
    for (size_t i = 0; i < sp->n; i++)
        if (sp->cands[i].id == id)
            return &sp->cands[i];
    return NULL;
}

//  One edge of the seed: activation for the record at its other end.
static int
s_spread_edge (const mem_edge_t *edge, void *arg)
{
    s_spread_t *sp = arg;
    if (sp->taken++ == MEM_GRAPH_FANOUT)
        return MDB_NOTFOUND;   //  enough from this seed (stops the walk, not an error)
    uint64_t other = edge->src == sp->seed ? edge->dst : edge->src;
    double passed = MEM_GRAPH_SPREAD * sp->seed_score * mem_graph_edge_weight (edge)
                    * (edge->type == MEM_EDGE_TEMPORAL ? MEM_GRAPH_TEMPORAL : 1.0);
    if (other == sp->seed || !(passed > 0))
        return 0;
    s_cand_t *cand = s_find (sp, other);
    if (!cand) {
        mem_docmeta_t meta;
        int rc = mem_records_docmeta (sp->store, sp->txn, other, &meta);
        if (rc == MDB_NOTFOUND || (!rc && (meta.agent != sp->agent
                                           || (meta.flags & MEM_DOC_TOMBSTONED))))
            return 0;
        if (rc)
            return rc;
        if (sp->filter && !sp->filter (other, sp->filter_arg))
            return 0;
        if (sp->n == sp->cap) {
            size_t cap = sp->cap * 2;
            s_cand_t *grown = realloc (sp->cands, cap * sizeof *grown);
            if (!grown)
                return ENOMEM;
            sp->cands = grown;
            sp->cap = cap;
        }
        cand = &sp->cands[sp->n++];
        memset (cand, 0, sizeof *cand);
        cand->id = other;
    }
    cand->activation += passed;
    return 0;
}

static int
s_score_cmp (const void *a, const void *b)
{
    const s_cand_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->id > y->id ? -1 : x->id < y->id;   //  as recall: newer first on ties
}

//  A community's key: records without one are each a community of their own.
static uint64_t
s_group (const s_cand_t *c)
{
    return c->community ? c->community : c->id | (1ull << 63);
}

static int
s_group_cmp (const void *a, const void *b)
{
    const s_cand_t *x = a, *y = b;
    uint64_t gx = s_group (x), gy = s_group (y);
    if (gx != gy)
        return gx < gy ? -1 : 1;
    return s_score_cmp (a, b);
}

//  Greedy: each place goes to the best score discounted by how many of its
//  community are placed already (MEM_GRAPH_DIVERSITY per one). Candidates
//  are grouped by community, best first, so a place costs one look per
//  community. Returns how many were placed.
static unsigned
s_diversify (s_spread_t *sp, mem_hit_t *hits, unsigned cap)
{
    qsort (sp->cands, sp->n, sizeof *sp->cands, s_group_cmp);
    //  Per group: its next candidate (index), its end, and how many are placed.
    size_t *next = malloc (sp->n * 3 * sizeof *next);
    unsigned out = 0;
    if (!next) {
        //  No memory to diversify: the plain order (sorted by score) stands.
        qsort (sp->cands, sp->n, sizeof *sp->cands, s_score_cmp);
        for (; out < cap && out < sp->n; out++)
            hits[out] = (mem_hit_t){sp->cands[out].id, sp->cands[out].score};
        return out;
    }
    size_t *end = next + sp->n, *placed = end + sp->n, groups = 0;
    for (size_t i = 0; i < sp->n; i++)
        if (i == 0 || s_group (&sp->cands[i]) != s_group (&sp->cands[i - 1])) {
            next[groups] = i;
            placed[groups] = 0;
            if (groups)
                end[groups - 1] = i;
            groups++;
        }
    end[groups - 1] = sp->n;
    for (; out < cap && out < sp->n; out++) {
        size_t best = SIZE_MAX;
        double best_score = -1;
        for (size_t g = 0; g < groups; g++) {
            if (next[g] == end[g])
                continue;
            double score = sp->cands[next[g]].score * pow (MEM_GRAPH_DIVERSITY, (double) placed[g]);
            if (score > best_score) {
                best = g;
                best_score = score;
            }
        }
        hits[out] = (mem_hit_t){sp->cands[next[best]].id, best_score};
        next[best]++;
        placed[best]++;
    }
    free (next);
    return out;
}

static int s_spread_score (s_spread_t *sp, const mem_hit_t *seeds, unsigned n_seeds);

int
mem_graph_recall (mem_store_t *store, MDB_txn *txn, uint32_t agent, bool diversify,
                  mem_filter_fn *filter, void *filter_arg, mem_hit_t *hits, unsigned *n,
                  unsigned cap)
{
    if (*n == 0 || cap == 0)
        return 0;
    s_spread_t sp = {.store = store, .txn = txn, .agent = agent, .filter = filter,
                     .filter_arg = filter_arg, .cap = *n + 64};
    sp.cands = malloc (sp.cap * sizeof *sp.cands);
    if (!sp.cands)
        return ENOMEM;
    for (unsigned i = 0; i < *n; i++)
        sp.cands[sp.n++] = (s_cand_t){hits[i].id, hits[i].score, 0, 0, 0};
    unsigned seeds = *n < MEM_GRAPH_SEEDS ? *n : MEM_GRAPH_SEEDS;
    int rc = s_spread_score (&sp, hits, seeds);
    if (!rc) {
        qsort (sp.cands, sp.n, sizeof *sp.cands, s_score_cmp);
        unsigned out = 0;
        if (!diversify)
            for (; out < cap && out < sp.n; out++)
                hits[out] = (mem_hit_t){sp.cands[out].id, sp.cands[out].score};
        else
            out = s_diversify (&sp, hits, cap);
        *n = out;
    }
    free (sp.cands);
    return rc;
}

//  Spreads from the seeds into sp (the hits are candidates with their
//  scores as base), then scores every candidate: base plus what reached it
//  (a quarter of it for a matched hit), times the centrality boost.
static int
s_spread_score (s_spread_t *sp, const mem_hit_t *seeds, unsigned n_seeds)
{
    int rc = 0;
    for (unsigned s = 0; s < n_seeds && !rc; s++) {
        sp->seed = seeds[s].id;
        sp->seed_score = seeds[s].score;
        for (int out = 1; out >= 0 && !rc; out--) {
            sp->taken = 0;
            rc = mem_edges_each (sp->store, sp->txn, sp->seed, out, 0, s_spread_edge, sp);
        }
    }
    mem_graph_meta_t meta;
    if (!rc)
        rc = mem_graph_meta_get (sp->store, sp->txn, sp->agent, &meta);
    double nodes = rc ? 0 : (double) (meta.nodes + meta.added);
    for (size_t i = 0; i < sp->n && !rc; i++) {
        s_cand_t *c = &sp->cands[i];
        //  A record the query matched keeps its rank mostly to itself: only
        //  a share of what the graph passes it counts (LoCoMo: R@1 holds).
        c->score = c->base + (c->base > 0 ? MEM_GRAPH_MATCHED : 1.0) * c->activation;
        mem_graph_node_t node;
        int r = meta.generation ? mem_graph_node_get (sp->store, sp->txn, sp->agent, meta.slot,
                                                      c->id, &node)
                                : MDB_NOTFOUND;
        if (r == 0) {
            double relative = node.pagerank * nodes;   //  1 = as central as the average
            c->score *= 1 + MEM_GRAPH_CENTRALITY * relative / (1 + relative);
            c->community = node.community;
        }
        else if (r != MDB_NOTFOUND)
            rc = r;
    }
    return rc;
}

int
mem_graph_related (mem_store_t *store, MDB_txn *txn, uint32_t agent, const mem_hit_t *seeds,
                   unsigned n_seeds, mem_hit_t *out, unsigned max, unsigned *n_out)
{
    *n_out = 0;
    if (n_seeds == 0 || max == 0)
        return 0;
    unsigned cap = max + n_seeds;   //  the seeds come back too
    mem_hit_t *ranked = malloc (cap * sizeof *ranked);
    if (!ranked)
        return ENOMEM;
    unsigned n = n_seeds;
    memcpy (ranked, seeds, n * sizeof *ranked);
    int rc = mem_graph_recall (store, txn, agent, false, NULL, NULL, ranked, &n, cap);
    if (!rc) {
        //  What the seeds reach, best first; the seeds keep their places in
        //  the caller's ranking (LoCoMo's R@1 drops when the graph reorders
        //  them).
        unsigned out_n = 0;
        for (unsigned i = 0; i < n && out_n < max; i++) {
            bool seed = false;
            for (unsigned j = 0; j < n_seeds && !seed; j++)
                seed = seeds[j].id == ranked[i].id;
            if (!seed)
                out[out_n++] = ranked[i];
        }
        *n_out = out_n;
    }
    free (ranked);
    return rc;
}

int
mem_graph_signal (MDB_txn *txn, uint32_t agent, const mem_hit_t *seeds, unsigned n_seeds,
                  mem_hit_t *out, unsigned max, unsigned *n_out, void *arg)
{
    return mem_graph_related ((mem_store_t *) arg, txn, agent, seeds, n_seeds, out, max, n_out);
}

int
mem_graph_diversify (mem_store_t *store, MDB_txn *txn, uint32_t agent, mem_hit_t *hits,
                     unsigned n)
{
    if (n < 2)
        return 0;
    s_spread_t sp = {.store = store, .txn = txn, .agent = agent, .cap = n};
    sp.cands = malloc (sp.cap * sizeof *sp.cands);
    if (!sp.cands)
        return ENOMEM;
    mem_graph_meta_t meta;
    int rc = mem_graph_meta_get (store, txn, agent, &meta);
    for (unsigned i = 0; i < n && !rc; i++) {
        s_cand_t *c = &sp.cands[sp.n++];
        *c = (s_cand_t){hits[i].id, hits[i].score, 0, hits[i].score, 0};
        mem_graph_node_t node;
        int r = meta.generation ? mem_graph_node_get (store, txn, agent, meta.slot, c->id, &node)
                                : MDB_NOTFOUND;
        if (r == 0)
            c->community = node.community;
        else if (r != MDB_NOTFOUND)
            rc = r;
    }
    if (!rc)
        s_diversify (&sp, hits, n);
    free (sp.cands);
    return rc;
}

//  --------------------------------------------------------------------------
//  Selftest

#undef NDEBUG
#include <assert.h>
#include <stdio.h>

static bool
s_test_not_7 (uint64_t id, void *arg)
{
    return id != 7;
}

void
mem_graph_recall_test (bool verbose)
{
    printf (" * mem_graph_recall: ");
    char dir[] = "/tmp/memd-graph-recall-test-XXXXXX";
    assert (mkdtemp (dir));
    mem_store_options_t opts;
    mem_store_options_default (&opts);
    opts.dir = dir;
    opts.sync = MEM_SYNC_NONE;
    char err[256];
    mem_store_t *store = mem_store_open (&opts, err, sizeof err);
    assert (store);
    mem_index_writer_t *index = mem_index_writer_new (store);
    MDB_txn *txn;
    assert (mem_store_write_begin (store, &txn) == 0);
    mem_capture_batch_t batch;
    assert (mem_capture_batch_begin (&batch, store, txn, index) == 0);
    uint64_t ids[8];
    for (int i = 0; i < 8; i++) {
        char text[32];
        snprintf (text, sizeof text, "record number %d", i);
        Memd__V1__Record rec = MEMD__V1__RECORD__INIT;
        rec.text = text;
        bool dup;
        assert (mem_records_capture (&batch, &rec, "a", 1000, &ids[i], &dup) == 0);
    }
    assert (mem_capture_batch_finish (&batch) == 0);
    assert (mem_index_writer_flush (index, txn) == 0);
    uint32_t agent;
    assert (mem_agents_lookup (store, txn, "a", false, &agent) == 0);
    //  1 → 5 (lexical), 2 → 5 (lexical 0.5), 1 → 6 (derived), 2 → 7
    //  (temporal), 3 → 8 (8 is forgotten), 1 → 3 (temporal).
    mem_edge_t edges[] = {{1, 5, MEM_EDGE_LEXICAL, 1}, {2, 5, MEM_EDGE_LEXICAL, 0.5f},
                          {1, 6, MEM_EDGE_DERIVED, 1},  {2, 7, MEM_EDGE_TEMPORAL, 1},
                          {3, 8, MEM_EDGE_TEMPORAL, 1}, {1, 3, MEM_EDGE_TEMPORAL, 1}};
    for (size_t i = 0; i < 6; i++)
        assert (mem_edges_put (store, txn, &edges[i]) == 0);
    assert (mem_records_forget (store, txn, agent, 8, 2000) == 0);

    //  Hits 1 (10), 2 (8), 3 (1). 5 gathers from 1 and 2: 0.5 × (10 + 4)
    //  = 7; 6 gets 0.5 × 10 × 0.5 = 2.5; 7 is filtered out; 8 is not
    //  live. The hits 1 and 3, matched by the query, take a quarter of what
    //  they pass each other along their TEMPORAL edge (T = MEM_GRAPH_TEMPORAL
    //  of it): 1 gets 0.25 × 0.5 × 1 × T, 3 gets 0.25 × 0.5 × 10 × T.
    mem_hit_t hits[6] = {{1, 10}, {2, 8}, {3, 1}};
    unsigned n = 3;
    assert (mem_graph_recall (store, txn, agent, false, s_test_not_7, NULL, hits, &n, 6) == 0);
    assert (n == 5);
    uint64_t order[] = {1, 2, 5, 6, 3};
    double scores[] = {10 + 0.125 * MEM_GRAPH_TEMPORAL, 8, 7, 2.5, 1 + 1.25 * MEM_GRAPH_TEMPORAL};
    for (unsigned i = 0; i < n; i++)
        assert (hits[i].id == order[i] && fabs (hits[i].score - scores[i]) < 1e-6);
    //  Room for fewer: the best stay.
    hits[0] = (mem_hit_t){1, 10};
    hits[1] = (mem_hit_t){2, 8};
    n = 2;
    assert (mem_graph_recall (store, txn, agent, false, NULL, NULL, hits, &n, 3) == 0);
    assert (n == 3 && hits[2].id == 5);

    //  As mem_search's graph signal: what the seeds reach, seeds left out,
    //  unfiltered (the seam filters): 5 (7), 6 (2.5), 7 (0.5 × 8 × T);
    //  8 is not live.
    mem_hit_t seeds[3] = {{1, 10}, {2, 8}, {3, 1}}, related[8];
    unsigned n_related;
    assert (mem_graph_signal (txn, agent, seeds, 3, related, 8, &n_related, store) == 0);
    uint64_t related_order[] = {5, 6, 7};
    double related_scores[] = {7, 2.5, 4 * MEM_GRAPH_TEMPORAL};
    assert (n_related == 3);
    for (unsigned i = 0; i < n_related; i++)
        assert (related[i].id == related_order[i]
                && fabs (related[i].score - related_scores[i]) < 1e-6);
    assert (mem_graph_related (store, txn, agent, seeds, 3, related, 2, &n_related) == 0);
    assert (n_related == 2 && related[0].id == 5 && related[1].id == 6);

    //  After a build: communities {1, 2, 3} and {5, 6, 7}; central 5 is
    //  boosted, and diversify puts it ahead of 2.
    mem_graph_meta_t meta = {0};
    meta.generation = 1;
    meta.nodes = 8;
    meta.slot = 0;
    assert (mem_graph_meta_put (store, txn, agent, &meta) == 0);
    for (uint64_t id = 1; id <= 7; id++) {
        mem_graph_node_t node = {id <= 3 ? 1 : 5, id == 5 ? 0.5f : 0.0f, 0};
        assert (mem_graph_node_put (store, txn, agent, 0, id, &node) == 0);
    }
    hits[0] = (mem_hit_t){1, 10};
    hits[1] = (mem_hit_t){2, 8};
    hits[2] = (mem_hit_t){3, 1};
    n = 3;
    assert (mem_graph_recall (store, txn, agent, false, s_test_not_7, NULL, hits, &n, 6) == 0);
    //  5: relative centrality 4, boost 1 + 0.1 × 4/5 = 1.08 → 7.56.
    assert (hits[2].id == 5 && fabs (hits[2].score - 7 * 1.08) < 1e-5);
    hits[0] = (mem_hit_t){1, 10};
    hits[1] = (mem_hit_t){2, 8};
    hits[2] = (mem_hit_t){3, 1};
    n = 3;
    assert (mem_graph_recall (store, txn, agent, true, s_test_not_7, NULL, hits, &n, 3) == 0);
    //  Diversified: 1, then 5 (7.56) before 2 (8 × 0.7 = 5.6, a second of
    //  community 1), then 2.
    assert (n == 3 && hits[0].id == 1 && hits[1].id == 5 && hits[2].id == 2);
    assert (fabs (hits[2].score - 5.6) < 1e-6);
    if (verbose)
        printf ("(diversified third %.3f) ", hits[2].score);

    mem_store_write_abort (store, &txn);
    mem_index_writer_destroy (&index);
    mem_store_destroy (&store);
    char cmd[300];
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    assert (system (cmd) == 0);
    printf ("OK\n");
}
