/*  mem_graph_recall — recall along the memory graph (docs/graph.md).

    Recall ranks with mem_search; the graph is one of its signals, through
    its seam (mem_graph_signal): the fused best hits are the seeds, and
    what they reach, in the recall worker's read transaction, is ranked by:

      spreading activation  each of the top hits passes a share of its
                            score along its edges (one hop), weighted by
                            the edge's type and weight; a record reached
                            from several hits gathers from each, and a
                            record no query word matched can enter (the
                            next turn of a conversation, a digest's member);
                            a record the query matched gets a quarter of
                            what reaches it, so the graph reorders the
                            direct hits only a little;
      centrality            a mild boost by PageRank relative to the
                            agent's average (at most +10 %);
      diversify (optional)  the results are spread over communities: each
                            further hit from a community already shown
                            counts a little less.

    Only live records of the agent that pass the recall's filters are
    added. Without a build yet the edges still spread; centrality and
    communities need one.
*/
#ifndef MEM_GRAPH_RECALL_H_INCLUDED
#define MEM_GRAPH_RECALL_H_INCLUDED

#include "mem_index.h"

/* Tuned on LoCoMo (bench_locomo, docs/benchmarks.md): more spread lifts
   recall@10–25 until it starts to push weak neighbours over the top hit. */
#define MEM_GRAPH_SPREAD      0.5    /* share of a hit's score passed along an edge of weight 1 */
#define MEM_GRAPH_MATCHED     0.25   /* of that, what a record the query matched takes */
/* A hit's session neighbours already take a share of its score in recall
   (mem_search's session context); along TEMPORAL edges, the same
   neighbours, the graph passes only this much more. At 1 the two counted
   twice and the graph cost LoCoMo recall@10 (0.729 -> 0.716). */
#define MEM_GRAPH_TEMPORAL    0.3
#define MEM_GRAPH_SEEDS       10     /* hits that spread */
#define MEM_GRAPH_FANOUT      32     /* edges followed from each seed, each way */
#define MEM_GRAPH_CENTRALITY  0.1    /* the most PageRank can add, as a fraction of a score */
#define MEM_GRAPH_DIVERSITY   0.7    /* factor per hit already shown from the same community */

/* Re-ranks hits (n of them, best first, room for cap) in place: *n gets
   the new count (at most cap). filter (may be NULL) decides whether a
   record reached by the graph may be returned, as in mem_index_search.
   Returns 0 or an LMDB code (or ENOMEM). */
int mem_graph_recall (mem_store_t *store, MDB_txn *txn, uint32_t agent, bool diversify,
                      mem_filter_fn *filter, void *filter_arg, mem_hit_t *hits, unsigned *n,
                      unsigned cap);

/* The graph signal of hybrid recall (mem_search's seam, mem_graph_fn):
   the records the seeds' edges reach (seeds left out), ranked and scored
   as mem_graph_recall scores them from the seeds' scores, up to max;
   mem_search places them among its hits. Filtering is the caller's.
   mem_graph_signal is the seam's shape, with the store as arg. */
int mem_graph_related (mem_store_t *store, MDB_txn *txn, uint32_t agent, const mem_hit_t *seeds,
                       unsigned n_seeds, mem_hit_t *out, unsigned max, unsigned *n_out);
int mem_graph_signal (MDB_txn *txn, uint32_t agent, const mem_hit_t *seeds, unsigned n_seeds,
                      mem_hit_t *out, unsigned max, unsigned *n_out, void *arg);

/* Reorders hits (best first) so that they spread over the communities of
   the agent's last build (Recall.graph_diversify); scores are discounted
   as in mem_graph_recall. 0 or an LMDB code (or ENOMEM). */
int mem_graph_diversify (mem_store_t *store, MDB_txn *txn, uint32_t agent, mem_hit_t *hits,
                         unsigned n);

void mem_graph_recall_test (bool verbose);

#endif
