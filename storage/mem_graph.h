/*  mem_graph — the graph algorithms of the memory graph (DESIGN §4 Community),
    pure: no store, no sockets, only memory.

    The graph is undirected and weighted, held as CSR (compressed sparse
    rows): node i's neighbours are adj[off[i] .. off[i+1]), each with its
    weight; every undirected edge appears in both rows. A node may also
    carry a self-loop weight (loop[i], counted as in A_ii), which only the
    coarse graphs of Louvain have.

    Community detection is Louvain (Blondel et al. 2008: local moving, then
    aggregation, level after level, maximising modularity); centrality is
    weighted PageRank. Both are resumable: each _step does work until a
    deadline (monotonic µs) and returns, so the graph actor can answer its
    socket between steps and a build never starves anything (DESIGN §3
    lesson 2). Given the same graph they give the same answer (nodes are
    visited in order; no randomness).

        mem_csr_t *g = mem_csr_new (n, edges, n_edges);
        mem_louvain_t *lv = mem_louvain_new (g);
        while (mem_louvain_step (lv, mem_graph_now_us () + 10000) == 0)
            ;   //  answer the socket here
        const uint32_t *community = mem_louvain_communities (lv, &n_communities);
*/
#ifndef MEM_GRAPH_H_INCLUDED
#define MEM_GRAPH_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One undirected edge between node indexes (u != v; parallel edges add up). */
typedef struct {
    uint32_t u, v;
    float w;
} mem_wedge_t;

typedef struct {
    uint32_t n;          /* nodes */
    uint64_t m;          /* adjacency entries: twice the edges */
    uint64_t *off;       /* n + 1 row offsets */
    uint32_t *adj;       /* m neighbour indexes */
    float *w;            /* m weights */
    double *loop;        /* n self-loop weights (A_ii), or NULL for none */
    double *degree;      /* n weighted degrees: the row's weights plus loop */
    double total;        /* sum of the degrees (2 × the edge weight) */
} mem_csr_t;

/* The monotonic clock in microseconds (deadlines of the _step functions). */
int64_t mem_graph_now_us (void);

/* Builds the CSR of n nodes from n_edges edges (self-loops and edges with
   an index >= n are skipped). NULL if out of memory. */
mem_csr_t *mem_csr_new (uint32_t n, const mem_wedge_t *edges, size_t n_edges);
void mem_csr_destroy (mem_csr_t **self_p);

/* Bytes the CSR holds (for the benchmark's memory figures). */
size_t mem_csr_bytes (const mem_csr_t *self);

/* Newman's modularity of a partition (community[i] for node i, numbered
   below n_communities). */
double mem_graph_modularity (const mem_csr_t *graph, const uint32_t *community,
                             uint32_t n_communities);

/* ---- Louvain ------------------------------------------------------------ */

typedef struct _mem_louvain_t mem_louvain_t;

/* Starts community detection on graph (borrowed: keep it until destroy). */
mem_louvain_t *mem_louvain_new (const mem_csr_t *graph);
void mem_louvain_destroy (mem_louvain_t **self_p);

/* Works until deadline_us (mem_graph_now_us). Returns 1 when finished, 0
   when there is more to do, -1 if out of memory. */
int mem_louvain_step (mem_louvain_t *self, int64_t deadline_us);

/* After the last step: the community of each node of the graph, numbered
   0 .. *n_communities - 1 in order of first appearance (borrowed). */
const uint32_t *mem_louvain_communities (mem_louvain_t *self, uint32_t *n_communities);

/* Levels aggregated and local-moving passes run (for the benchmark). */
void mem_louvain_counts (mem_louvain_t *self, unsigned *levels, unsigned *passes);

/* Bytes held now and at the most (for the benchmark's memory figures). */
size_t mem_louvain_peak_bytes (mem_louvain_t *self);

/* ---- PageRank ----------------------------------------------------------- */

typedef struct _mem_pagerank_t mem_pagerank_t;

#define MEM_PAGERANK_DAMPING 0.85
#define MEM_PAGERANK_TOL     1e-7    /* L1 change per iteration at which it stops */
#define MEM_PAGERANK_ITER    100     /* iterations at most */

/* Weighted PageRank (a walker follows an edge in proportion to its
   weight; a node without edges sends its rank everywhere alike), the
   ranks summing to 1. graph is borrowed. */
mem_pagerank_t *mem_pagerank_new (const mem_csr_t *graph, double damping, double tol,
                                  unsigned max_iter);
void mem_pagerank_destroy (mem_pagerank_t **self_p);

/* As mem_louvain_step. */
int mem_pagerank_step (mem_pagerank_t *self, int64_t deadline_us);

/* The ranks (borrowed), and how many iterations it took. */
const double *mem_pagerank_ranks (mem_pagerank_t *self, unsigned *iterations);

void mem_graph_test (bool verbose);

#endif
