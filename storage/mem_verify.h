/*  mem_verify — checks every table and every cross-reference of the store
    in one read transaction (a consistent snapshot, so it runs while memd
    serves): records ↔ docmeta ↔ dedupe hashes ↔ sessions ↔ tombstones ↔
    index statistics ↔ postings ↔ edges ↔ bands ↔ digests ↔ embeddings ↔
    the graph's nodes, communities and members, and counters.
    Used by `memctl verify` (the Verify request) and the crash tests.
*/
#ifndef MEM_VERIFY_H_INCLUDED
#define MEM_VERIFY_H_INCLUDED

#include "mem_store.h"

#define MEM_VERIFY_MAX_PROBLEMS 100   /* problems kept with their text */

typedef struct {
    uint64_t records, postings, edges, vectors;   /* checked */
    uint64_t graph_nodes;                 /* the graph's node rows checked */
    uint64_t problem_count;               /* found (all of them) */
    char *problems[MEM_VERIFY_MAX_PROBLEMS];
    size_t n_problems;                    /* kept */
} mem_verify_report_t;

/* Fills report. Returns 0, or an LMDB code if the walk itself failed
   (then the report is incomplete). Free with mem_verify_report_clear. */
int mem_verify (mem_store_t *store, MDB_txn *txn, mem_verify_report_t *report);
void mem_verify_report_clear (mem_verify_report_t *report);

void mem_verify_test (bool verbose);

#endif
