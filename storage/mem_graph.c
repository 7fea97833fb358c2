/*  mem_graph — Louvain and PageRank on a CSR graph; see mem_graph.h. */
#include "mem_graph.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#define CHECK_EVERY   256      //  units of work between two looks at the clock
#define MAX_PASSES    32       //  local-moving passes in one level at the most
#define MIN_GAIN      1e-6     //  a pass that gains less modularity (÷ 2) ends the level …
#define MIN_MOVED     1000     //  … and so does one that moves under 1 node in this many
#define UNSEEN        (-1.0)

int64_t
mem_graph_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

//  An empty CSR of n nodes with room for m adjacency entries.
static mem_csr_t *
s_csr_alloc (uint32_t n, uint64_t m, bool loops)
{
    mem_csr_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->n = n;
    self->off = calloc ((size_t) n + 1, sizeof *self->off);
    self->adj = malloc ((m ? m : 1) * sizeof *self->adj);
    self->w = malloc ((m ? m : 1) * sizeof *self->w);
    self->degree = calloc (n ? n : 1, sizeof *self->degree);
    self->loop = loops ? calloc (n ? n : 1, sizeof *self->loop) : NULL;
    if (!self->off || !self->adj || !self->w || !self->degree || (loops && !self->loop))
        mem_csr_destroy (&self);
    return self;
}

mem_csr_t *
mem_csr_new (uint32_t n, const mem_wedge_t *edges, size_t n_edges)
{
    uint64_t m = 0;
    for (size_t e = 0; e < n_edges; e++)
        if (edges[e].u != edges[e].v && edges[e].u < n && edges[e].v < n)
            m += 2;
    mem_csr_t *self = s_csr_alloc (n, m, false);
    if (!self)
        return NULL;
    //  Counting sort by row: degrees, offsets, then fill.
    for (size_t e = 0; e < n_edges; e++) {
        const mem_wedge_t *x = &edges[e];
        if (x->u == x->v || x->u >= n || x->v >= n)
            continue;
        self->off[x->u + 1]++;
        self->off[x->v + 1]++;
    }
    for (uint32_t i = 0; i < n; i++)
        self->off[i + 1] += self->off[i];
    uint64_t *fill = malloc (((size_t) n + 1) * sizeof *fill);
    if (!fill) {
        mem_csr_destroy (&self);
        return NULL;
    }
    memcpy (fill, self->off, ((size_t) n + 1) * sizeof *fill);
    for (size_t e = 0; e < n_edges; e++) {
        const mem_wedge_t *x = &edges[e];
        if (x->u == x->v || x->u >= n || x->v >= n)
            continue;
        uint64_t a = fill[x->u]++, b = fill[x->v]++;
        self->adj[a] = x->v;
        self->w[a] = x->w;
        self->adj[b] = x->u;
        self->w[b] = x->w;
        self->degree[x->u] += x->w;
        self->degree[x->v] += x->w;
        self->total += 2.0 * x->w;
    }
    free (fill);
    self->m = m;
    return self;
}

void
mem_csr_destroy (mem_csr_t **self_p)
{
    mem_csr_t *self = *self_p;
    if (!self)
        return;
    free (self->off);
    free (self->adj);
    free (self->w);
    free (self->loop);
    free (self->degree);
    free (self);
    *self_p = NULL;
}

size_t
mem_csr_bytes (const mem_csr_t *self)
{
    size_t n = self->n;
    return sizeof *self + (n + 1) * sizeof *self->off + self->m * (sizeof *self->adj + sizeof *self->w)
         + n * sizeof *self->degree + (self->loop ? n * sizeof *self->loop : 0);
}

double
mem_graph_modularity (const mem_csr_t *g, const uint32_t *community, uint32_t n_communities)
{
    if (g->total <= 0)
        return 0;
    double *in = calloc (n_communities ? n_communities : 1, sizeof *in);
    double *tot = calloc (n_communities ? n_communities : 1, sizeof *tot);
    double q = 0;
    if (in && tot) {
        for (uint32_t i = 0; i < g->n; i++) {
            uint32_t c = community[i];
            tot[c] += g->degree[i];
            if (g->loop)
                in[c] += g->loop[i];
            for (uint64_t e = g->off[i]; e < g->off[i + 1]; e++)
                if (community[g->adj[e]] == c)
                    in[c] += g->w[e];
        }
        for (uint32_t c = 0; c < n_communities; c++)
            q += in[c] / g->total - (tot[c] / g->total) * (tot[c] / g->total);
    }
    free (in);
    free (tot);
    return q;
}

//  --------------------------------------------------------------------------
//  Louvain

typedef enum { LV_MOVE, LV_AGG_PREP, LV_AGG_ROWS, LV_FINAL, LV_DONE } s_lv_phase_t;

struct _mem_louvain_t {
    const mem_csr_t *orig;
    mem_csr_t *level;             //  the graph being moved on (orig at level 0)
    uint32_t *comm;               //  level node → its community (a level node index)
    double *tot;                  //  per community: sum of its members' degrees
    uint32_t *map;                //  original node → level node
    double *neigh_w;              //  scratch: weight from the node to each community
    uint32_t *touched;            //  scratch: communities with a weight
    s_lv_phase_t phase;
    uint32_t cursor;              //  next node (MOVE) or community (AGG_ROWS)
    uint64_t moves;               //  in this pass
    double gain;                  //  modularity gained in this pass (× total)
    unsigned level_passes, levels, passes;
    bool level_moved;             //  any node moved at this level
    //  Aggregation: the coarse graph being written.
    uint32_t *renum;              //  community → coarse node
    uint32_t nc;
    uint32_t *members;            //  level nodes grouped by coarse node
    uint64_t *member_off;
    mem_csr_t *next;
    uint32_t *result;             //  original node → final community
    uint32_t n_result;
    size_t bytes, peak;
};

static void
s_lv_account (mem_louvain_t *self, ssize_t delta)
{
    self->bytes += delta;
    if (self->bytes > self->peak)
        self->peak = self->bytes;
}

//  Sets up moving on the current level: every node alone.
static int
s_lv_level_start (mem_louvain_t *self)
{
    uint32_t n = self->level->n;
    free (self->comm);
    free (self->tot);
    free (self->neigh_w);
    free (self->touched);
    self->comm = malloc ((n ? n : 1) * sizeof *self->comm);
    self->tot = malloc ((n ? n : 1) * sizeof *self->tot);
    self->neigh_w = malloc ((n ? n : 1) * sizeof *self->neigh_w);
    self->touched = malloc ((n ? n : 1) * sizeof *self->touched);
    if (!self->comm || !self->tot || !self->neigh_w || !self->touched)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        self->comm[i] = i;
        self->tot[i] = self->level->degree[i];
        self->neigh_w[i] = UNSEEN;
    }
    self->phase = LV_MOVE;
    self->cursor = 0;
    self->moves = 0;
    self->gain = 0;
    self->level_passes = 0;
    self->level_moved = false;
    return 0;
}

mem_louvain_t *
mem_louvain_new (const mem_csr_t *graph)
{
    mem_louvain_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->orig = graph;
    self->level = (mem_csr_t *) graph;
    self->map = malloc ((graph->n ? graph->n : 1) * sizeof *self->map);
    if (!self->map || s_lv_level_start (self)) {
        mem_louvain_destroy (&self);
        return NULL;
    }
    for (uint32_t v = 0; v < graph->n; v++)
        self->map[v] = v;
    s_lv_account (self, (ssize_t) graph->n * (2 * sizeof (uint32_t) + 2 * sizeof (double)
                                              + sizeof (uint32_t)));
    return self;
}

static void
s_lv_free_agg (mem_louvain_t *self)
{
    free (self->renum);
    free (self->members);
    free (self->member_off);
    self->renum = NULL;
    self->members = NULL;
    self->member_off = NULL;
    mem_csr_destroy (&self->next);
}

void
mem_louvain_destroy (mem_louvain_t **self_p)
{
    mem_louvain_t *self = *self_p;
    if (!self)
        return;
    if (self->level != self->orig)
        mem_csr_destroy (&self->level);
    s_lv_free_agg (self);
    free (self->comm);
    free (self->tot);
    free (self->map);
    free (self->neigh_w);
    free (self->touched);
    free (self->result);
    free (self);
    *self_p = NULL;
}

//  Moves node i to the neighbouring community that gains the most
//  modularity (staying put wins ties, so the result is deterministic).
static void
s_lv_move_node (mem_louvain_t *self, uint32_t i)
{
    const mem_csr_t *g = self->level;
    uint32_t n_touched = 0;
    for (uint64_t e = g->off[i]; e < g->off[i + 1]; e++) {
        uint32_t c = self->comm[g->adj[e]];
        if (self->neigh_w[c] == UNSEEN) {
            self->neigh_w[c] = 0;
            self->touched[n_touched++] = c;
        }
        self->neigh_w[c] += g->w[e];
    }
    uint32_t own = self->comm[i];
    double k = g->degree[i], scale = k / g->total;
    self->tot[own] -= k;
    double own_w = self->neigh_w[own] == UNSEEN ? 0 : self->neigh_w[own];
    double own_gain = own_w - self->tot[own] * scale;
    uint32_t best = own;
    double best_gain = own_gain;
    for (uint32_t t = 0; t < n_touched; t++) {
        uint32_t c = self->touched[t];
        double gain = self->neigh_w[c] - self->tot[c] * scale;
        if (gain > best_gain + 1e-12) {   //  ties: the first found (adjacency order)
            best = c;
            best_gain = gain;
        }
        self->neigh_w[c] = UNSEEN;
    }
    self->tot[best] += k;
    self->comm[i] = best;
    if (best != own) {
        self->moves++;
        self->gain += best_gain - own_gain;
    }
}

//  Renumbers the communities, groups the level's nodes by them, points the
//  original nodes at the coarse nodes, and allocates the coarse graph.
static int
s_lv_agg_prep (mem_louvain_t *self)
{
    const mem_csr_t *g = self->level;
    uint32_t n = g->n;
    self->renum = malloc ((n ? n : 1) * sizeof *self->renum);
    self->members = malloc ((n ? n : 1) * sizeof *self->members);
    self->member_off = calloc ((size_t) n + 1, sizeof *self->member_off);
    if (!self->renum || !self->members || !self->member_off)
        return -1;
    memset (self->renum, 0xff, (n ? n : 1) * sizeof *self->renum);
    self->nc = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t c = self->comm[i];
        if (self->renum[c] == UINT32_MAX)
            self->renum[c] = self->nc++;
        self->member_off[self->renum[c] + 1]++;
    }
    for (uint32_t c = 0; c < self->nc; c++)
        self->member_off[c + 1] += self->member_off[c];
    for (uint32_t i = 0; i < n; i++) {
        uint32_t c = self->renum[self->comm[i]];
        self->members[self->member_off[c]++] = i;
    }
    for (uint32_t c = self->nc; c > 0; c--)
        self->member_off[c] = self->member_off[c - 1];
    self->member_off[0] = 0;
    for (uint32_t v = 0; v < self->orig->n; v++)
        self->map[v] = self->renum[self->comm[self->map[v]]];
    self->next = s_csr_alloc (self->nc, g->m, true);
    if (!self->next)
        return -1;
    self->next->total = g->total;
    s_lv_account (self, (ssize_t) mem_csr_bytes (self->next) + (ssize_t) n * 3 * sizeof (uint32_t));
    self->cursor = 0;
    self->phase = LV_AGG_ROWS;
    return 0;
}

//  Writes coarse row c: the summed weights to every other community, and
//  the weight inside c as its self-loop.
static void
s_lv_agg_row (mem_louvain_t *self, uint32_t c)
{
    const mem_csr_t *g = self->level;
    mem_csr_t *next = self->next;
    uint32_t n_touched = 0;
    double loop = 0, degree = 0;
    for (uint64_t x = self->member_off[c]; x < self->member_off[c + 1]; x++) {
        uint32_t i = self->members[x];
        degree += g->degree[i];
        if (g->loop)
            loop += g->loop[i];
        for (uint64_t e = g->off[i]; e < g->off[i + 1]; e++) {
            uint32_t d = self->renum[self->comm[g->adj[e]]];
            if (d == c) {
                loop += g->w[e];
                continue;
            }
            if (self->neigh_w[d] == UNSEEN) {
                self->neigh_w[d] = 0;
                self->touched[n_touched++] = d;
            }
            self->neigh_w[d] += g->w[e];
        }
    }
    uint64_t at = next->off[c];
    for (uint32_t t = 0; t < n_touched; t++) {
        uint32_t d = self->touched[t];
        next->adj[at] = d;
        next->w[at] = (float) self->neigh_w[d];
        at++;
        self->neigh_w[d] = UNSEEN;
    }
    next->off[c + 1] = at;
    next->loop[c] = loop;
    next->degree[c] = degree;
}

//  The coarse graph is complete: it becomes the level to move on.
static int
s_lv_agg_done (mem_louvain_t *self)
{
    mem_csr_t *next = self->next;
    self->next = NULL;
    next->m = next->off[next->n];
    if (self->level != self->orig) {
        s_lv_account (self, -(ssize_t) mem_csr_bytes (self->level));
        mem_csr_destroy (&self->level);
    }
    self->level = next;
    free (self->renum);
    free (self->members);
    free (self->member_off);
    self->renum = NULL;
    self->members = NULL;
    self->member_off = NULL;
    self->levels++;
    return s_lv_level_start (self);
}

//  The final partition of the original nodes, numbered by first appearance.
static int
s_lv_final (mem_louvain_t *self)
{
    uint32_t n = self->orig->n, levels_n = self->level->n;
    self->result = malloc ((n ? n : 1) * sizeof *self->result);
    uint32_t *renum = malloc ((levels_n ? levels_n : 1) * sizeof *renum);
    if (!self->result || !renum) {
        free (renum);
        return -1;
    }
    memset (renum, 0xff, (levels_n ? levels_n : 1) * sizeof *renum);
    self->n_result = 0;
    for (uint32_t v = 0; v < n; v++) {
        uint32_t c = self->comm[self->map[v]];
        if (renum[c] == UINT32_MAX)
            renum[c] = self->n_result++;
        self->result[v] = renum[c];
    }
    free (renum);
    self->phase = LV_DONE;
    return 0;
}

int
mem_louvain_step (mem_louvain_t *self, int64_t deadline_us)
{
    for (unsigned work = 0;; work++) {
        if (self->phase == LV_DONE)
            return 1;
        if (work % CHECK_EVERY == CHECK_EVERY - 1 && mem_graph_now_us () >= deadline_us)
            return 0;
        switch (self->phase) {
        case LV_MOVE:
            if (self->cursor < self->level->n) {
                if (self->level->total > 0)
                    s_lv_move_node (self, self->cursor);
                self->cursor++;
                break;
            }
            //  A pass is over.
            self->passes++;
            self->level_passes++;
            self->level_moved = self->level_moved || self->moves > 0;
            //  The last passes of a level move a handful of nodes for almost
            //  no gain: stop there (the next level moves whole communities).
            if (self->moves > 0 && self->level_passes < MAX_PASSES
                && self->gain / (self->level->total ? self->level->total : 1) > MIN_GAIN
                && self->moves * MIN_MOVED >= self->level->n) {
                self->cursor = 0;
                self->moves = 0;
                self->gain = 0;
            }
            else if (self->level_moved)
                self->phase = LV_AGG_PREP;
            else
                self->phase = LV_FINAL;
            break;
        case LV_AGG_PREP:
            if (s_lv_agg_prep (self))
                return -1;
            break;
        case LV_AGG_ROWS:
            if (self->cursor < self->nc)
                s_lv_agg_row (self, self->cursor++);
            else if (s_lv_agg_done (self))
                return -1;
            break;
        case LV_FINAL:
            if (s_lv_final (self))
                return -1;
            break;
        case LV_DONE:
            return 1;
        }
    }
}

const uint32_t *
mem_louvain_communities (mem_louvain_t *self, uint32_t *n_communities)
{
    *n_communities = self->phase == LV_DONE ? self->n_result : 0;
    return self->phase == LV_DONE ? self->result : NULL;
}

void
mem_louvain_counts (mem_louvain_t *self, unsigned *levels, unsigned *passes)
{
    *levels = self->levels;
    *passes = self->passes;
}

size_t
mem_louvain_peak_bytes (mem_louvain_t *self)
{
    return self->peak;
}

//  --------------------------------------------------------------------------
//  PageRank

struct _mem_pagerank_t {
    const mem_csr_t *g;
    double damping, tol;
    unsigned max_iter, iter;
    double *rank, *next, *contrib;
    double base, diff;
    uint32_t cursor;
    bool in_iteration, done;
};

mem_pagerank_t *
mem_pagerank_new (const mem_csr_t *graph, double damping, double tol, unsigned max_iter)
{
    mem_pagerank_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    size_t n = graph->n ? graph->n : 1;
    self->g = graph;
    self->damping = damping;
    self->tol = tol;
    self->max_iter = max_iter;
    self->rank = malloc (n * sizeof *self->rank);
    self->next = malloc (n * sizeof *self->next);
    self->contrib = malloc (n * sizeof *self->contrib);
    if (!self->rank || !self->next || !self->contrib) {
        mem_pagerank_destroy (&self);
        return NULL;
    }
    for (uint32_t i = 0; i < graph->n; i++)
        self->rank[i] = 1.0 / graph->n;
    self->done = graph->n == 0;
    return self;
}

void
mem_pagerank_destroy (mem_pagerank_t **self_p)
{
    mem_pagerank_t *self = *self_p;
    if (!self)
        return;
    free (self->rank);
    free (self->next);
    free (self->contrib);
    free (self);
    *self_p = NULL;
}

//  What each node sends along each unit of edge weight, and what the
//  nodes without edges spread over all.
static void
s_pr_begin (mem_pagerank_t *self)
{
    const mem_csr_t *g = self->g;
    double dangling = 0;
    for (uint32_t i = 0; i < g->n; i++) {
        if (g->degree[i] > 0)
            self->contrib[i] = self->rank[i] / g->degree[i];
        else {
            self->contrib[i] = 0;
            dangling += self->rank[i];
        }
    }
    self->base = (1.0 - self->damping) / g->n + self->damping * dangling / g->n;
    self->diff = 0;
    self->cursor = 0;
    self->in_iteration = true;
}

int
mem_pagerank_step (mem_pagerank_t *self, int64_t deadline_us)
{
    const mem_csr_t *g = self->g;
    for (unsigned work = 0; !self->done; work++) {
        if (work % CHECK_EVERY == CHECK_EVERY - 1 && mem_graph_now_us () >= deadline_us)
            return 0;
        if (!self->in_iteration) {
            s_pr_begin (self);
            continue;
        }
        if (self->cursor < g->n) {
            uint32_t j = self->cursor++;
            double sum = g->loop ? g->loop[j] * self->contrib[j] : 0;
            for (uint64_t e = g->off[j]; e < g->off[j + 1]; e++)
                sum += self->contrib[g->adj[e]] * g->w[e];
            self->next[j] = self->base + self->damping * sum;
            self->diff += fabs (self->next[j] - self->rank[j]);
            continue;
        }
        double *t = self->rank;
        self->rank = self->next;
        self->next = t;
        self->iter++;
        self->in_iteration = false;
        if (self->diff < self->tol || self->iter >= self->max_iter)
            self->done = true;
    }
    return 1;
}

const double *
mem_pagerank_ranks (mem_pagerank_t *self, unsigned *iterations)
{
    if (iterations)
        *iterations = self->iter;
    return self->rank;
}

//  --------------------------------------------------------------------------
//  Selftest

#undef NDEBUG
#include <assert.h>
#include <stdio.h>

//  Runs Louvain to the end in small slices (exercising resumption).
static const uint32_t *
s_test_louvain (mem_louvain_t *lv, uint32_t *nc)
{
    int rc;
    while ((rc = mem_louvain_step (lv, 0)) == 0)
        ;
    assert (rc == 1);
    return mem_louvain_communities (lv, nc);
}

static const double *
s_test_pagerank (const mem_csr_t *g, double tol)
{
    static mem_pagerank_t *pr;
    mem_pagerank_destroy (&pr);
    if (!g)
        return NULL;
    pr = mem_pagerank_new (g, MEM_PAGERANK_DAMPING, tol, 1000);
    assert (pr);
    int rc;
    while ((rc = mem_pagerank_step (pr, 0)) == 0)
        ;
    assert (rc == 1);
    return mem_pagerank_ranks (pr, NULL);
}

//  Two cliques of size k joined by one bridge edge, nodes 0..k-1 and k..2k-1.
static mem_wedge_t *
s_test_two_cliques (uint32_t k, size_t *n_edges)
{
    mem_wedge_t *e = malloc ((size_t) k * k * sizeof *e + sizeof *e);
    size_t n = 0;
    for (uint32_t side = 0; side < 2; side++)
        for (uint32_t a = 0; a < k; a++)
            for (uint32_t b = a + 1; b < k; b++)
                e[n++] = (mem_wedge_t){side * k + a, side * k + b, 1.0f};
    e[n++] = (mem_wedge_t){k - 1, k, 1.0f};   //  the bridge
    *n_edges = n;
    return e;
}

void
mem_graph_test (bool verbose)
{
    printf (" * mem_graph: ");

    //  Two 5-cliques and a bridge: two communities, exactly the cliques.
    size_t n_edges;
    mem_wedge_t *edges = s_test_two_cliques (5, &n_edges);
    mem_csr_t *g = mem_csr_new (10, edges, n_edges);
    assert (g && g->m == 2 * n_edges && g->total == 2.0 * n_edges);
    mem_louvain_t *lv = mem_louvain_new (g);
    uint32_t nc;
    const uint32_t *comm = s_test_louvain (lv, &nc);
    assert (nc == 2);
    for (uint32_t i = 0; i < 10; i++)
        assert (comm[i] == (i < 5 ? 0 : 1));
    //  Modularity by hand: each side has 10 inner edges and degree sum 21
    //  of 42: Q = 2 × (20/42 − (21/42)²) = 0.452381.
    double q = mem_graph_modularity (g, comm, nc);
    assert (fabs (q - (2 * (20.0 / 42 - 0.25))) < 1e-9);
    if (verbose)
        printf ("cliques Q=%.6f ", q);
    mem_louvain_destroy (&lv);
    mem_csr_destroy (&g);
    free (edges);

    //  Four 8-cliques in a ring of bridges, plus an isolated node: four
    //  communities and a singleton; the coarse levels must not merge them.
    mem_wedge_t ring[4 * 28 + 4];
    size_t n = 0;
    for (uint32_t c = 0; c < 4; c++) {
        for (uint32_t a = 0; a < 8; a++)
            for (uint32_t b = a + 1; b < 8; b++)
                ring[n++] = (mem_wedge_t){c * 8 + a, c * 8 + b, 1.0f};
        ring[n++] = (mem_wedge_t){c * 8, ((c + 1) % 4) * 8 + 7, 0.5f};
    }
    g = mem_csr_new (33, ring, n);
    lv = mem_louvain_new (g);
    comm = s_test_louvain (lv, &nc);
    assert (nc == 5);
    for (uint32_t i = 0; i < 32; i++)
        assert (comm[i] == comm[(i / 8) * 8] && (i % 8 == 0 || comm[i] != comm[(i + 8) % 32]));
    assert (comm[32] == 4);
    mem_louvain_destroy (&lv);
    mem_csr_destroy (&g);

    //  PageRank, hand-computed (d = 0.85). Path a-b-c: by symmetry
    //  x = 0.05 + 0.425 y, y = 0.05 + 1.7 x, so x = 0.07125 / 0.2775.
    mem_wedge_t path[] = {{0, 1, 1.0f}, {1, 2, 1.0f}};
    g = mem_csr_new (3, path, 2);
    const double *pr = s_test_pagerank (g, 1e-12);
    double x = 0.07125 / 0.2775, y = 0.05 + 1.7 * x;
    assert (fabs (pr[0] - x) < 1e-9 && fabs (pr[2] - x) < 1e-9 && fabs (pr[1] - y) < 1e-9);
    assert (fabs (pr[0] - 0.256757) < 1e-6 && fabs (pr[1] - 0.486486) < 1e-6);
    mem_csr_destroy (&g);
    //  A star of 4 leaves (n = 5): centre y = 0.03 + 3.4 x, leaf
    //  x = 0.03 + 0.2125 y, so x = 0.036375 / 0.2775.
    mem_wedge_t star[] = {{0, 1, 1.0f}, {0, 2, 1.0f}, {0, 3, 1.0f}, {0, 4, 1.0f}};
    g = mem_csr_new (5, star, 4);
    pr = s_test_pagerank (g, 1e-12);
    x = 0.036375 / 0.2775;
    assert (fabs (pr[1] - x) < 1e-9 && fabs (pr[0] - (0.03 + 3.4 * x)) < 1e-9);
    assert (fabs (pr[0] - 0.475676) < 1e-6);
    mem_csr_destroy (&g);
    //  Weights count: a-b weight 3, b-c weight 1. b passes 3/4 of its rank
    //  to a. Solved by hand: a = 0.05 + 0.6375 b, c = 0.05 + 0.2125 b,
    //  b = 0.05 + 0.85 (a + c) → b = 0.135 / 0.2775.
    mem_wedge_t weighted[] = {{0, 1, 3.0f}, {1, 2, 1.0f}};
    g = mem_csr_new (3, weighted, 2);
    pr = s_test_pagerank (g, 1e-12);
    y = 0.135 / 0.2775;
    assert (fabs (pr[1] - y) < 1e-9 && fabs (pr[0] - (0.05 + 0.6375 * y)) < 1e-9);
    assert (fabs (pr[2] - (0.05 + 0.2125 * y)) < 1e-9);
    mem_csr_destroy (&g);
    //  An isolated node (dangling) and an edge: ranks still sum to 1, and
    //  by symmetry the two joined nodes share the rest equally.
    mem_wedge_t pair[] = {{0, 1, 1.0f}};
    g = mem_csr_new (3, pair, 1);
    pr = s_test_pagerank (g, 1e-12);
    assert (fabs (pr[0] + pr[1] + pr[2] - 1) < 1e-9 && fabs (pr[0] - pr[1]) < 1e-12);
    //  dangling z = 0.05 + 0.85 z / 3, so z = 0.05 / (1 - 0.85 / 3).
    assert (fabs (pr[2] - 0.05 / (1 - 0.85 / 3)) < 1e-9);
    mem_csr_destroy (&g);

    //  Edge cases: no nodes; nodes and no edges (each alone).
    g = mem_csr_new (0, NULL, 0);
    lv = mem_louvain_new (g);
    s_test_louvain (lv, &nc);
    assert (nc == 0);
    mem_louvain_destroy (&lv);
    mem_csr_destroy (&g);
    g = mem_csr_new (4, NULL, 0);
    lv = mem_louvain_new (g);
    comm = s_test_louvain (lv, &nc);
    assert (nc == 4 && comm[3] == 3);
    pr = s_test_pagerank (g, 1e-12);
    assert (fabs (pr[0] - 0.25) < 1e-12);
    mem_louvain_destroy (&lv);
    mem_csr_destroy (&g);
    s_test_pagerank (NULL, 0);

    //  A larger planted partition: 40 groups of 25, dense inside, sparse
    //  across; Louvain recovers the groups (the partition's modularity is
    //  matched or beaten).
    uint32_t groups = 40, size = 25, nodes = groups * size;
    size_t cap = (size_t) groups * size * size + 4096;
    mem_wedge_t *planted = malloc (cap * sizeof *planted);
    uint64_t rng = 42;
    n = 0;
    for (uint32_t a = 0; a < nodes; a++)
        for (uint32_t b = a + 1; b < nodes; b++) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            bool same = a / size == b / size;
            if ((same && rng % 100 < 40) || (!same && rng % 10000 < 5))
                planted[n++] = (mem_wedge_t){a, b, 1.0f};
        }
    g = mem_csr_new (nodes, planted, n);
    lv = mem_louvain_new (g);
    comm = s_test_louvain (lv, &nc);
    uint32_t truth[1000];
    for (uint32_t i = 0; i < nodes; i++)
        truth[i] = i / size;
    double found = mem_graph_modularity (g, comm, nc), planted_q = mem_graph_modularity (g, truth, groups);
    assert (found >= planted_q - 1e-9);
    uint32_t agree = 0;
    for (uint32_t i = 0; i < nodes; i++)
        agree += comm[i] == comm[(i / size) * size];
    assert (agree >= nodes * 99 / 100);
    unsigned levels, passes;
    mem_louvain_counts (lv, &levels, &passes);
    if (verbose)
        printf ("planted: %u communities, Q=%.4f (planted %.4f), %u levels, %u passes ", nc, found,
                planted_q, levels, passes);
    mem_louvain_destroy (&lv);
    mem_csr_destroy (&g);
    free (planted);
    printf ("OK\n");
}
