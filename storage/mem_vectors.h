/*  mem_vectors — record embeddings: stored per agent, searched exactly.

    A record's embedding (float32; its dimension is fixed per agent by the
    agent's first embedding) is kept twice, both written in the capture's
    transaction:
    - exact, in `vectors` under the record id: the float values, for the
      final re-ranking and for Get;
    - quantised, in `vec_blocks`: an int8 copy (symmetric, one scale per
      vector) packed with the agent's other vectors into append-only blocks
      of at most MEM_VECTORS_BLOCK_BYTES, so a search reads an agent's
      vectors as a few contiguous arrays instead of one key per record.

    Search is brute force in two passes: int8 dot products over every block
    of the agent (vectorised loops) give each vector's approximate cosine
    similarity to the query; the best R of them (R = 2k, at least 64) are
    scored again with their float values, and the k best of those are
    returned by exact cosine. The filter sees only vectors that would enter
    the R best, and must reject what may not be returned: forgotten records
    stay in their block until purge clears their slot.

    Why no approximate index (yet): at 100,000 vectors of 256 dimensions the
    scan reads 27 MB in a few milliseconds, well inside the latency target;
    docs/vectors.md has the numbers and the design (IVF lists in LMDB) for
    the sizes where that stops being true.
*/
#ifndef MEM_VECTORS_H_INCLUDED
#define MEM_VECTORS_H_INCLUDED

#include "mem_index.h"
#include "memd.pb-c.h"

#define MEM_VECTORS_BLOCK_BYTES 32768   /* target size of one block of int8 copies */
#define MEM_VECTORS_MISMATCH    (-2)    /* a dimension is not the agent's */

/* The dimension of agent's embeddings; MDB_NOTFOUND if it has none yet. */
int mem_vectors_dims (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint32_t *dims);

/* Checks every embedding of a Capture against its agent's dimension: the
   stored one, or the one an earlier record of the same request fixes (the
   record's agent_id wins over req_agent, as in capture). Returns 0,
   MEM_VECTORS_MISMATCH with a message naming the record in err, or an LMDB
   code. Run it before writing anything of the request. */
int mem_vectors_check_capture (mem_store_t *store, MDB_txn *txn, const Memd__V1__Capture *cap,
                               const char *req_agent, char *err, size_t err_size);

/* Stores the embedding of record id (agent's, dims floats, finite and not
   all zero: the codec checked). The first embedding of an agent fixes its
   dimension; another dimension later returns MEM_VECTORS_MISMATCH (check
   the request first). Returns 0 or an LMDB code. */
int mem_vectors_put (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint64_t id,
                     const float *v, uint32_t dims);

/* Copies record id's embedding into out (room for max floats); *dims gets
   its dimension. MDB_NOTFOUND if it has none; ENOSPC if max is too small. */
int mem_vectors_get (mem_store_t *store, MDB_txn *txn, uint64_t id, float *out, size_t max,
                     uint32_t *dims);

/* Drops record id's embedding (purge). MDB_NOTFOUND if it has none. */
int mem_vectors_remove (mem_store_t *store, MDB_txn *txn, uint64_t id);

/* The k records of agent whose embeddings are most similar to q (cosine,
   -1..1), best first (ties: newer first). filter (may be NULL) decides
   whether a candidate may be returned. Returns 0 (no hits when the agent
   has no embeddings), MEM_VECTORS_MISMATCH when dims is not the agent's,
   ENOMEM or an LMDB code. */
int mem_vectors_search (mem_store_t *store, MDB_txn *txn, uint32_t agent, const float *q,
                        uint32_t dims, unsigned k, mem_filter_fn *filter, void *filter_arg,
                        mem_hit_t *hits, unsigned *n_hits);

/* Exact cosine similarity of q with record id's embedding (for the score
   of a record found by another signal). MDB_NOTFOUND if it has none,
   MEM_VECTORS_MISMATCH if dims differ. */
int mem_vectors_similarity (mem_store_t *store, MDB_txn *txn, uint64_t id, const float *q,
                            uint32_t dims, double *similarity);

/* Checks both tables against each other, the records (exist, same agent)
   and the agents' dimensions, and the `embeddings` counter; each problem
   goes to problem(). *vectors gets the count checked. */
int mem_vectors_verify (mem_store_t *store, MDB_txn *txn, mem_index_problem_fn *problem,
                        void *arg, uint64_t *vectors);

void mem_vectors_test (bool verbose);

#endif
