/*  mem_consolidate — the sleep cycle's consolidation pipeline (DESIGN §7).

    A cycle runs these phases in order, as small steps. Each step is one
    write transaction that does a bounded piece of work AND moves the
    cursor persisted in `meta`, so a crash mid-step redoes that step (it
    is idempotent) and never doubles it; an interrupted cycle resumes
    where it stopped at the next SLEEP.

      DEDUPE    new records since the last cycle (ids past a persisted
                mark): near-duplicates within an agent (MinHash bands,
                confirmed by exact shingle Jaccard) are tombstoned with
                merged_into and a DUPLICATE edge to the older record;
                the record's session is marked for a digest.
      DIGEST    sessions marked and quiet for digest_after: an extractive
                digest record (kind SUMMARY, DERIVED edges to its members,
                replacing an older digest of the session) and optionally
                a `summarize` job for an external LLM worker.
      DECAY     at most every decay_interval: salience of each live record
                is recomputed from its base and the time since it was
                captured or last recalled (half-life, floor). Recomputing
                from the base makes a redone step harmless. In the same
                pass, each record's CO_RECALL edges lose half their count
                per whole co_recall half-life since they were last
                reinforced (or halved); under the floor they are removed.
      VACUUM    postings of forgotten records are dropped from the index
                (segments rewritten in bounded merge steps).
      PURGE     tombstones older than retention are removed for good:
                record, docmeta, bands, edges, digest entry.
      MAINTAIN  mdb_reader_check; the tombstone count is recounted.

    Nothing is redone without cause: a cycle starts only when something
    changed since the last one (new records, forgets) or time made work
    due (decay interval, a tombstone past retention, a marked session).

    Steps run in the writer's thread (the capture actor), because digests
    are indexed like any capture and vacuum shares the index merges.
*/
#ifndef MEM_CONSOLIDATE_H_INCLUDED
#define MEM_CONSOLIDATE_H_INCLUDED

#include "mem_index.h"

typedef enum {
    MEM_PHASE_DEDUPE,
    MEM_PHASE_DIGEST,
    MEM_PHASE_DECAY,
    MEM_PHASE_VACUUM,
    MEM_PHASE_PURGE,
    MEM_PHASE_MAINTAIN,
    MEM_PHASE_DONE
} mem_phase_t;

typedef struct {
    double duplicate_jaccard;    /* shingle Jaccard at or above: a near-duplicate */
    int64_t digest_after_ms;     /* a session quiet this long gets its digest */
    unsigned digest_min_records; /* smaller sessions get none */
    bool summarize_jobs;         /* enqueue a `summarize` job per digest */
    int64_t decay_half_life_ms;
    float decay_floor;
    int64_t decay_interval_ms;   /* a decay pass at most this often */
    int64_t co_recall_half_life_ms;   /* a CO_RECALL count halves over this long (0: never) */
    float co_recall_floor;       /* an edge weighing n / (n + 1) under this is removed */
    int64_t retention_ms;        /* tombstones older are purged */
    int64_t step_budget_ms;      /* a step stops after about this long */
} mem_consolidate_config_t;

void mem_consolidate_config_default (mem_consolidate_config_t *config);

/* The persisted cursor and totals (meta "consolidate"), for status. */
typedef struct {
    uint32_t phase;              /* mem_phase_t of the next step */
    uint32_t reserved;
    uint64_t pos;                /* the phase's position (last id done) */
    uint64_t cycle;              /* cycles started */
    int64_t cycle_started_ms;
    int64_t cycle_done_ms;       /* 0 while the cycle runs */
    uint64_t dedupe_mark;        /* records up to this id were checked for duplicates */
    int64_t decay_pass_ms;       /* when the last finished decay pass started */
    uint64_t seen_next_id;       /* next_id and delete_seq when the last cycle */
    uint64_t seen_delete_seq;    /*   finished: unchanged means nothing new */
    uint64_t merged, digests, decayed, purged;   /* totals */
} mem_consolidate_state_t;

typedef struct {
    mem_phase_t phase;           /* the phase the step worked in */
    bool done;                   /* the cycle is complete: nothing left to do */
    bool started;                /* this step started a new cycle */
    uint64_t jobs;               /* summarize jobs enqueued (wake the reaper) */
} mem_step_result_t;

typedef struct _mem_consolidate_t mem_consolidate_t;

/* index is the writer's (digests are indexed, vacuum merges segments). */
mem_consolidate_t *mem_consolidate_new (mem_store_t *store, mem_index_writer_t *index,
                                        const mem_consolidate_config_t *config);
void mem_consolidate_destroy (mem_consolidate_t **self_p);

/* One step in txn (begin a new cycle if one is due and none runs). The
   caller commits; on any error it aborts, and the step is redone later.
   Returns 0 or an LMDB code. */
int mem_consolidate_step (mem_consolidate_t *self, MDB_txn *txn, int64_t now_ms,
                          mem_step_result_t *result);

int mem_consolidate_state (mem_store_t *store, MDB_txn *txn, mem_consolidate_state_t *state);

const char *mem_phase_name (mem_phase_t phase);

void mem_consolidate_test (bool verbose);

#endif
