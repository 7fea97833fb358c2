/*  mem_search — hybrid recall: lexical, vector, recency, salience (and the
    graph, through a seam), fused into one ranking, in one read txn.

    1. Candidates: the BM25 top P of the parsed query (mem_query, over text,
       speaker and tags; quoted phrases boost the records that hold them),
       and, with a query embedding, the cosine top P (mem_vectors), where
       P = max (k, MEM_SEARCH_POOL). Only live records that pass the
       caller's filter are candidates.
       Session context: a record's lexical score is raised to a share of
       its session neighbours' when that is more (MEM_SEARCH_CONTEXT_AFTER
       of the record before it, MEM_SEARCH_CONTEXT_BEFORE of the one after,
       over MEM_SEARCH_CONTEXT_TURNS turns): a reply ("Yes, I drew it")
       rarely repeats the words of the turn it answers. Neighbours outside
       the pool join when their share would have made it; only records of
       the same kind pass to each other (not a digest to its turns).
    2. Priors for each candidate: recency = 2^(-age / 30 days) from
       created_at_ms, and the record's salience (0..1, kept by the sleep
       cycle: it decays from salience_base since the record was captured
       or last recalled).
    3. Fusion, per the request:
       - RRF (the default): score = Σ w_s / (60 + rank_s) over the ranked
         signals a candidate appears in (lexical, vector, graph), plus
         (w_recency · recency + w_salience · salience) / 61: a prior of 1 is
         worth what rank 1 of a ranked signal is worth. Rank-based, so no
         signal's scale needs calibrating.
       - WEIGHTED: score = Σ w_s · normalised value: BM25 / the best BM25
         among the candidates, cosine / the best cosine (negative cosines
         count 0; a lexical candidate gets its exact cosine even when it is
         not in the vector top P), recency and salience as they are.
    4. The graph seam: when a graph function is given, the best
       MEM_SEARCH_SEEDS of step 3 are handed to it with their strength
       (their signals normalised by the best of each and weighted as in
       WEIGHTED, priors left out: lexical alone, BM25 / the best BM25).
       The records it reaches from them (live and filtered like any
       candidate, new ones included), scored in that strength space, are
       placed into the fused ranking: the fused order stands among the
       others, and a reached record goes before the first one it is
       stronger than, with its strength plus the graph's score (times
       MEM_SEARCH_GRAPH_MATCHED when the query matched it) as its key.
       The first MEM_SEARCH_GRAPH_KEEP places are never taken. RRF's
       ranks are too flat for this (rank 10 scores 0.87 of rank 1): in
       strength a neighbour of a strong hit can pass weak direct hits.
    Ties: the newer record (higher id) first.

    Every hit can carry an explanation: each part's rank, value and share
    of the score, then the BM25 terms (mem_index_explain_terms).
*/
#ifndef MEM_SEARCH_H_INCLUDED
#define MEM_SEARCH_H_INCLUDED

#include "mem_query.h"
#include "memd.pb-c.h"

#define MEM_SEARCH_POOL        50                          /* candidates per signal, at least */
#define MEM_SEARCH_SEEDS       5                           /* fused hits handed to the graph */
#define MEM_SEARCH_RRF_K       60.0
#define MEM_SEARCH_HALF_LIFE   (30LL * 24 * 3600 * 1000)   /* recency halves in 30 days */
#define MEM_SEARCH_PHRASE_BOOST 1.0                        /* BM25 x (1 + this) with every phrase */
/* Session context (above): of a record's lexical score, what the next
   record of its session may take, what the one before it may take, and
   how many records away that reaches. */
#define MEM_SEARCH_CONTEXT_AFTER  0.85
#define MEM_SEARCH_CONTEXT_BEFORE 0.7
#define MEM_SEARCH_CONTEXT_TURNS  2
#define MEM_SEARCH_GRAPH_KEEP  1                           /* first places a graph record cannot take */
#define MEM_SEARCH_GRAPH_MATCHED 0.25                      /* of the graph's score, what a matched record takes */
#define MEM_SEARCH_EXPLAIN_MAX 1024

typedef struct {
    double lexical, vector, recency, salience, graph;
} mem_weights_t;

typedef enum {
    MEM_FUSION_RRF = 1,
    MEM_FUSION_WEIGHTED = 2
} mem_fusion_t;

/* The defaults: lexical 1, vector 1, recency 0.1, salience 0.1, graph 1. */
void mem_weights_default (mem_weights_t *weights);

/* The graph signal (the graph builder provides it): records related to
   the seeds (the fused ranking's best, best first, each with its
   strength), up to max, seeds left out, best first, each with what the
   seeds passed it in the seeds' strength. 0 or an LMDB code. */
typedef int(mem_graph_fn) (MDB_txn *txn, uint32_t agent, const mem_hit_t *seeds,
                           unsigned n_seeds, mem_hit_t *out, unsigned max, unsigned *n_out,
                           void *arg);

typedef struct {
    const char *text;            /* may be empty with an embedding */
    size_t len;
    const float *embedding;      /* NULL: no vector signal */
    uint32_t dims;
    unsigned k;
    mem_filter_fn *filter;       /* the caller's filters; NULL = none */
    void *filter_arg;
    mem_weights_t weights;
    mem_fusion_t fusion;
    int64_t now_ms;              /* for recency */
    bool explain;
    mem_graph_fn *graph;         /* NULL: no graph signal */
    void *graph_arg;
} mem_search_t;

typedef struct {
    uint64_t id;
    double score;                /* fused */
    Memd__V1__Record *record;    /* the live record (the caller frees it) */
    unsigned lex_rank, vec_rank, graph_rank;   /* 1-based; 0: not ranked by that signal */
    double lex, vec, graph;      /* BM25 (phrase boost, session context), cosine, graph score */
    double recency, salience;
    char *explain;               /* malloc'ed when asked; NULL otherwise */
} mem_search_hit_t;

/* Ranks agent's records for query into hits (room for query->k), best
   first; *n_hits gets how many. Returns 0, MEM_VECTORS_MISMATCH (err
   says why) when the embedding's dimension is not the agent's, ENOMEM or
   an LMDB code. An agent with no records is 0 hits. */
int mem_search_run (mem_store_t *store, MDB_txn *txn, uint32_t agent, const mem_search_t *query,
                    mem_search_hit_t *hits, unsigned *n_hits, char *err, size_t err_size);

/* Frees what the hits own (records, explanations). */
void mem_search_hits_free (mem_search_hit_t *hits, unsigned n);

void mem_search_test (bool verbose);

#endif
