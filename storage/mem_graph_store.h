/*  mem_graph_store — the memory graph as persisted (DESIGN §3 lessons 3–4,
    §4 Community; docs/graph.md).

    Per agent: a meta entry (the last build: generation, when, its validity
    anchor — live nodes and edges it counted — and what changed since), and
    the build's result in one of two slots: a node row per record
    (community, PageRank), community rows (size) and member rows
    (community + record, so a community lists in id order).

    Two slots, so a build never shows half-written: it writes the slot
    readers do not use, in bounded transactions, and then one small
    transaction flips meta.slot. A failed build leaves the previous
    generation as it was; its leftovers are cleared by the next build.
    Between builds, every newly linked record gets its node row in the
    active slot (incremental assignment), so every linked record of an agent
    is a node row there: the build enumerates its nodes from them.

    "Live" is mem_records' definition (docmeta not tombstoned). A tombstoned
    record keeps its rows until the next build drops it (or purge removes
    it), and every read here skips it: it is gone from neighbours and
    communities at once.
*/
#ifndef MEM_GRAPH_STORE_H_INCLUDED
#define MEM_GRAPH_STORE_H_INCLUDED

#include "mem_edges.h"
#include "mem_store.h"

/* The meta counter of the link cursor: every record id up to it is linked. */
#define MEM_GRAPH_LINKED "graph_linked"

/* The agent's last build and what happened since (meta table "graph"). */
typedef struct {
    uint64_t generation;         /* builds so far; 0 = never built */
    int64_t built_at_ms;         /* wall clock, end of the last build */
    int64_t build_ms;            /* its duration */
    uint64_t nodes;              /* the anchor: live records in the build … */
    uint64_t edges;              /* … and the edges between them */
    uint64_t communities;
    double modularity;
    uint64_t added;              /* records linked since the build */
    uint64_t edges_added;        /* edges linked since the build */
    uint64_t communities_added;  /* records assigned a community of their own since */
    uint8_t slot;                /* the slot readers use (0 or 1) */
    uint8_t reserved[7];
} mem_graph_meta_t;

/* A node row. */
typedef struct {
    uint64_t community;          /* the community's id (a record id); 0 = none yet */
    float pagerank;              /* sums to 1 over the agent's nodes at the build */
    uint32_t reserved;
} mem_graph_node_t;

/* How an edge type weighs in communities, PageRank and recall. */
float mem_graph_type_weight (mem_edge_type_t type);

/* What an edge weighs in communities, PageRank and recall: its type's
   weight times its own, within 0..1. A CO_RECALL edge's weight is a count
   (mem_recstats adds 1 each time the pair is recalled together, the sleep
   cycle's DECAY halves it per half-life since): n counts as n / (n + 1),
   so one co-recall is 0.5 and many approach 1. */
float mem_graph_edge_weight (const mem_edge_t *edge);

/* The agent's meta; a zeroed one (slot 0, never built) if it has none. */
int mem_graph_meta_get (mem_store_t *store, MDB_txn *txn, uint32_t agent, mem_graph_meta_t *meta);
int mem_graph_meta_put (mem_store_t *store, MDB_txn *txn, uint32_t agent,
                        const mem_graph_meta_t *meta);

/* Calls fn for every agent with a meta entry (for totals); stops early
   when fn returns non-zero (and returns that). */
typedef int(mem_graph_meta_fn) (uint32_t agent, const mem_graph_meta_t *meta, void *arg);
int mem_graph_meta_each (mem_store_t *store, MDB_txn *txn, mem_graph_meta_fn *fn, void *arg);

/* Records added or removed, and edges added, since the last build;
   live_now is the agent's live record count (mem_index_stats docs). */
uint64_t mem_graph_changes (const mem_graph_meta_t *meta, uint64_t live_now);

/* A node row of the agent's active slot (meta.slot). MDB_NOTFOUND if none. */
int mem_graph_node_get (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint8_t slot,
                        uint64_t id, mem_graph_node_t *node);

/* Writes a node row and, with a community, its member row; community_size
   +1 when the member is new (incremental assignment and builds). */
int mem_graph_node_put (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint8_t slot,
                        uint64_t id, const mem_graph_node_t *node);

/* A build's bulk writes into its cleared target slot: a node row, a
   member row, with no bookkeeping (mem_graph_community_put sets sizes). */
int mem_graph_slot_put_node (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint8_t slot,
                             uint64_t id, const mem_graph_node_t *node);
int mem_graph_slot_put_member (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint8_t slot,
                               uint64_t community, uint64_t id);

/* A community's size as stored (its members at the build plus those
   assigned since; tombstoned ones leave at the next build). 0 if none. */
int mem_graph_community_size (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint8_t slot,
                              uint64_t community, uint64_t *size);
int mem_graph_community_put (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint8_t slot,
                             uint64_t community, uint64_t size);

/* Members of a community above after_id, ascending, at most max (ids has
   room); *more if others follow. Tombstoned records are included: callers
   filter (they know their read's definition of live). */
int mem_graph_members (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint8_t slot,
                       uint64_t community, uint64_t after_id, size_t max, uint64_t *ids,
                       size_t *n, bool *more);

/* The largest communities of a slot, by stored size (at most max). */
typedef struct {
    uint64_t id, size;
} mem_graph_community_t;
int mem_graph_top_communities (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint8_t slot,
                               size_t max, mem_graph_community_t *top, size_t *n);

/* Node ids of a slot above after_id, ascending (the build's node list). */
int mem_graph_slot_nodes (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint8_t slot,
                          uint64_t after_id, size_t max, uint64_t *ids, size_t *n, bool *more);

/* Deletes up to max rows of a slot (nodes, communities, members); *done
   when it is empty. */
int mem_graph_clear_slot (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint8_t slot,
                          size_t max, bool *done);

/* Removes a record from both slots (purge; its edges are mem_edges'). */
int mem_graph_remove_node (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint64_t id);

/* Checks the graph tables against the records (for mem_verify): active
   node rows belong to existing records of their agent and agree with the
   member and community rows; every linked live record has its node row.
   Problems go to problem(); *nodes gets the node rows checked. */
typedef void(mem_graph_problem_fn) (void *arg, const char *text);
int mem_graph_verify (mem_store_t *store, MDB_txn *txn, mem_graph_problem_fn *problem, void *arg,
                      uint64_t *nodes);

void mem_graph_store_test (bool verbose);

#endif
