/*  mem_index — the lexical index in LMDB: postings, document lengths and
    per-agent collection statistics, written in the same transaction as the
    records they index, so a cold start serves recall at once.

    Postings: key = agent (u32 BE) + term, dupsort/dupfixed values of
    12 bytes: record id (u64 BE, so values sort by id), tf (u16), dl (u16).
    Only live records have postings: forgetting a record removes them, so
    recall never sees a tombstone and the statistics count live records.

    Writing goes through a writer that buffers a transaction's postings and
    writes each term's new ids with one cursor put (ids only grow, so they
    append); search is BM25 over document-at-a-time posting cursors with
    MaxScore pruning: a record that cannot enter the top k is skipped
    without being scored.
*/
#ifndef MEM_INDEX_H_INCLUDED
#define MEM_INDEX_H_INCLUDED

#include "mem_store.h"

#define MEM_BM25_K1 1.2
#define MEM_BM25_B  0.75

/* Per-agent collection statistics (live records only). */
typedef struct {
    uint64_t docs;
    uint64_t total_len;
} mem_agent_stats_t;

typedef struct _mem_index_writer_t mem_index_writer_t;

mem_index_writer_t *mem_index_writer_new (mem_store_t *store);
void mem_index_writer_destroy (mem_index_writer_t **self_p);

/* Tokenizes a new record's text and buffers its postings. Ids must be
   added in increasing order. Returns 0 or -1 (out of memory). */
int mem_index_writer_add (mem_index_writer_t *self, uint32_t agent, uint64_t id,
                          const char *text, size_t len);

/* Writes everything buffered into txn and empties the buffer.
   Returns 0 or an LMDB code (MDB_MAP_FULL: grow and redo the txn). */
int mem_index_writer_flush (mem_index_writer_t *self, MDB_txn *txn);

/* Drops the buffer (after an aborted txn). */
void mem_index_writer_reset (mem_index_writer_t *self);

/* Removes a live record's postings and statistics (forget). Flush the
   writer first if it holds postings of this transaction. */
int mem_index_remove (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint64_t id,
                      const char *text, size_t len);

int mem_index_stats (mem_store_t *store, MDB_txn *txn, uint32_t agent, mem_agent_stats_t *stats);

typedef struct {
    uint64_t id;
    double score;
} mem_hit_t;

/* Decides whether a candidate may be returned (filters); called only for
   records whose score would put them in the top k. */
typedef bool(mem_filter_fn) (uint64_t id, void *arg);

/* BM25 top-k for query within agent's records; hits sorted by descending
   score (ties: newer first). hits has room for k. Returns 0 or an LMDB code. */
int mem_index_search (mem_store_t *store, MDB_txn *txn, uint32_t agent, const char *query,
                      size_t len, unsigned k, mem_filter_fn *filter, void *filter_arg,
                      mem_hit_t *hits, unsigned *n_hits);

/* Writes a one-line account of id's score for query into buf: each matching
   term's tf, idf and contribution, the document length. */
int mem_index_explain (mem_store_t *store, MDB_txn *txn, uint32_t agent, const char *query,
                       size_t len, uint64_t id, char *buf, size_t size);

void mem_index_test (bool verbose);

#endif
