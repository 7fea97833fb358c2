/*  mem_edges — the memory graph's edges (DESIGN §4 Edge).

    An edge (src, type, dst, weight) is stored twice, under src in `edges`
    and under dst in `edges_in`, so both directions are one range scan and
    a purged record takes all its edges with it. Written in the same
    transaction as whatever made them. The graph builder (communities,
    centrality) builds on this table; consolidation writes DUPLICATE and
    DERIVED edges, and decays CO_RECALL edges.

    The value is the weight (float), optionally followed by a time (i64 BE,
    ms): a CO_RECALL edge's count keeps when it was last reinforced or
    halved (mem_edges_put_at). An edge written without one (every other
    type, and CO_RECALL edges from before times were kept) has 4 bytes.
    Readers take the weight from the first 4 bytes of either (a memd from
    before times were kept reads a timed edge as weight 0: it carries nothing).
*/
#ifndef MEM_EDGES_H_INCLUDED
#define MEM_EDGES_H_INCLUDED

#include "mem_store.h"

typedef enum {
    MEM_EDGE_TEMPORAL = 1,    /* consecutive records of a session */
    MEM_EDGE_LEXICAL = 2,     /* similar by BM25 over salient terms */
    MEM_EDGE_SEMANTIC = 3,    /* similar by embedding */
    MEM_EDGE_DERIVED = 4,     /* digest → member */
    MEM_EDGE_DUPLICATE = 5,   /* duplicate → the record it was merged into */
    MEM_EDGE_CO_RECALL = 6    /* recalled and used together */
} mem_edge_type_t;

typedef struct {
    uint64_t src, dst;
    mem_edge_type_t type;
    float weight;
} mem_edge_t;

/* Adds or updates an edge (both directions). */
int mem_edges_put (mem_store_t *store, MDB_txn *txn, const mem_edge_t *edge);

/* The same, with a time kept after the weight (at_ms 0: none kept). */
int mem_edges_put_at (mem_store_t *store, MDB_txn *txn, const mem_edge_t *edge, int64_t at_ms);

/* One edge's weight and time (0 if it keeps none), looked up by src, type
   and dst in edge. MDB_NOTFOUND if there is no such edge. */
int mem_edges_get (mem_store_t *store, MDB_txn *txn, mem_edge_t *edge, int64_t *at_ms);

/* Removes one edge (src, type, dst), both directions. MDB_NOTFOUND if absent. */
int mem_edges_remove (mem_store_t *store, MDB_txn *txn, const mem_edge_t *edge);

/* The edges leaving id (out) or arriving at it (!out), of one type or of
   any (type 0), up to max; *n gets how many were written to edges. */
int mem_edges_list (mem_store_t *store, MDB_txn *txn, uint64_t id, bool out,
                    mem_edge_type_t type, mem_edge_t *edges, size_t max, size_t *n);

/* Calls fn for each edge leaving id (out) or arriving at it (!out), of one
   type or of any (type 0), in key order, however many there are; stops
   when fn returns non-zero, and returns that. */
typedef int(mem_edge_fn) (const mem_edge_t *edge, void *arg);
int mem_edges_each (mem_store_t *store, MDB_txn *txn, uint64_t id, bool out,
                    mem_edge_type_t type, mem_edge_fn *fn, void *arg);

/* Removes every edge of id, both directions (purge). *removed may be NULL. */
int mem_edges_remove_node (mem_store_t *store, MDB_txn *txn, uint64_t id, size_t *removed);

const char *mem_edge_type_name (mem_edge_type_t type);

void mem_edges_test (bool verbose);

#endif
