/*  mem_graph_link — links new records into the memory graph (DESIGN §4 Edge;
    docs/graph.md).

    Driven by the capture outbox: the writer enqueues a `memd.link` job in
    the same transaction as the records (mem_graph_link_enqueue; one
    unfinished job at a time, by its dedupe key, so a capture storm is one
    job) and wakes the graph actor after the commit. The graph actor links
    in bounded steps, each one write transaction that also moves the link
    cursor (meta MEM_GRAPH_LINKED: every id up to it is linked), and the
    step that catches up with the last id leases and completes the pending
    link jobs in the same transaction. The cursor, not the job, is the
    truth: records made without a job (consolidation's digests, a store
    from before the graph) are linked all the same, and a crash redoes at
    most one step.

    For each new live record:
      TEMPORAL  from the record before it in its session (if any);
      LEXICAL   to its top-k most similar older live records: BM25 with its
                salient terms as the query, the score divided by the
                record's own score (so 1 = as similar as itself), kept at
                or above a threshold, that similarity as the weight;
      SEMANTIC  the seam for embeddings (records carry none yet);
    and then its community: the one its new neighbours' edges weigh most
    into (incremental assignment between builds), or its own.
*/
#ifndef MEM_GRAPH_LINK_H_INCLUDED
#define MEM_GRAPH_LINK_H_INCLUDED

#include "mem_store.h"

#define MEM_GRAPH_LINK_KIND  "memd.link"   /* the outbox job (kinds memd.* are memd's own) */

typedef struct {
    unsigned lexical_k;          /* LEXICAL edges from a new record at most */
    double lexical_min;          /* similarity at or above which they are made (0..1) */
    unsigned lexical_terms;      /* salient terms in its query */
    uint64_t job_history;        /* DONE jobs kept per kind (jobs/history) */
} mem_graph_link_config_t;

void mem_graph_link_config_default (mem_graph_link_config_t *config);

/* In the capture's write transaction: records first_id..last_id are new.
   Queues the link job unless one is pending. Never fails the capture for
   the job's sake (a full kinds table is logged): only LMDB codes return. */
int mem_graph_link_enqueue (mem_store_t *store, MDB_txn *txn, uint64_t first_id, uint64_t last_id,
                            int64_t now_ms);

#define MEM_GRAPH_LINK_AGENTS 16

typedef struct {
    uint64_t records;            /* live records linked by the step */
    uint64_t edges;              /* edges it made */
    uint64_t cursor;             /* the link cursor after it */
    bool done;                   /* caught up: no record waits, link jobs completed */
    uint32_t agents[MEM_GRAPH_LINK_AGENTS];   /* agents it linked records of … */
    size_t n_agents;
    bool more_agents;            /* … and whether there were more than fit */
} mem_graph_link_result_t;

/* One link step in txn: records past the cursor, at most max of them or
   until deadline_us (mem_graph_now_us), at least one. Redo-safe: it starts
   from the cursor in txn. Returns 0 or an LMDB code. */
int mem_graph_link_step (mem_store_t *store, MDB_txn *txn, const mem_graph_link_config_t *config,
                         size_t max, int64_t deadline_us, int64_t now_ms,
                         mem_graph_link_result_t *result);

/* Records captured but not linked yet (all agents). */
uint64_t mem_graph_unlinked (mem_store_t *store, MDB_txn *txn);

void mem_graph_link_test (bool verbose);

#endif
