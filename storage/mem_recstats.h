/*  mem_recstats — recall statistics, gathered from the readers and written
    by the writer (DESIGN §2: the read path never writes).

    A recall worker sends the ids it returned (Recall hits, Context lines)
    to the capture actor as one message:
        [at_ms (i64)][group (u32)][n (u32)][ids (u64) × n]    host order
    where the first `group` ids were recalled together. The capture actor
    adds each message here and, MEM_RECSTATS_DELAY_MS after the first one
    it holds, writes them all in one transaction:
    - each live record: recall_count + the times it was recalled,
      last_recalled_ms the latest, and salience back to salience_base (the
      sleep cycle decays salience from there again: docs/lifecycle.md);
    - each group: every pair of its records gets a CO_RECALL edge, or one
      more unit of weight on the edge it has (stored once, from the lower
      id to the higher), with the time of the recall kept on the edge: the
      sleep cycle halves the count every half-life after it and removes
      edges under a floor (docs/lifecycle.md, DECAY). A record takes part in at most
      MEM_RECSTATS_DEGREE such edges: past that, new pairs are not linked.
    Coalesced and bounded: ids past MEM_RECSTATS_IDS distinct and groups
    past MEM_RECSTATS_GROUPS wait for no one: they are dropped and counted.
    Statistics are best effort: a write that fails is logged and dropped,
    never retried into a loop.
*/
#ifndef MEM_RECSTATS_H_INCLUDED
#define MEM_RECSTATS_H_INCLUDED

#include "mem_store.h"

#define MEM_RECSTATS_GROUP    5      /* hits of one recall that are linked together */
#define MEM_RECSTATS_IDS      4096   /* distinct ids held between writes */
#define MEM_RECSTATS_GROUPS   256    /* groups held between writes */
#define MEM_RECSTATS_DEGREE   32     /* CO_RECALL edges of one record, at most */
#define MEM_RECSTATS_DELAY_MS 200    /* how long the first pending id waits for company */

typedef struct _mem_recstats_t mem_recstats_t;

mem_recstats_t *mem_recstats_new (void);
void mem_recstats_destroy (mem_recstats_t **self_p);

/* Builds one message (malloc'ed; *size gets its length) for ids, the
   first min (n, MEM_RECSTATS_GROUP) of them a group. NULL if out of memory. */
void *mem_recstats_message (int64_t at_ms, const uint64_t *ids, size_t n, size_t *size);

/* Adds one message. Returns 0, or -1 if it is malformed (ignored). */
int mem_recstats_add (mem_recstats_t *self, const void *data, size_t size);

/* True when something waits to be written. */
bool mem_recstats_pending (mem_recstats_t *self);

/* Ids and groups dropped at the bounds since the start. */
uint64_t mem_recstats_dropped (mem_recstats_t *self);

/* Writes what is pending inside txn (can be redone after a map growth:
   it changes nothing here). *updated gets the records updated. Returns 0
   or an LMDB code. */
int mem_recstats_apply (mem_recstats_t *self, mem_store_t *store, MDB_txn *txn,
                        uint64_t *updated);

/* Forgets what is pending (after the write committed, or failed). */
void mem_recstats_clear (mem_recstats_t *self);

void mem_recstats_test (bool verbose);

#endif
