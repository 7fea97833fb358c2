/*  mem_records — records, agents, dedupe and tombstones (DESIGN §4, §5).

    A record is stored as a packed memd.v1.Record under its id, with a small
    fixed-size docmeta entry beside it holding what recall filters need
    (created_at, kind, session hash, agent, live flag) so a filter never
    decodes a record. Agents are mapped to u32 numbers used as key prefixes:
    the agent is the isolation boundary of every table.

    "Live" has one definition: a record whose tombstoned_at_ms is 0. Only
    live records have dedupe hashes and session entries and count in the
    index statistics (a forgotten record's postings linger until the index
    merges them away, and search skips them); the live count is the sum of
    the index's per-agent document counts.
*/
#ifndef MEM_RECORDS_H_INCLUDED
#define MEM_RECORDS_H_INCLUDED

#include "mem_index.h"
#include "memd.pb-c.h"

#define MEM_DOC_TOMBSTONED 0x01
#define MEM_SALIENCE_DEFAULT 0.5f   /* a record captured without a salience */

typedef struct {
    int64_t created_at_ms;
    uint64_t session_hash;   /* mem_hash64 of session_id; 0 for none */
    uint32_t agent;
    uint8_t kind;
    uint8_t flags;           /* MEM_DOC_TOMBSTONED */
    uint16_t doc_len;        /* terms indexed (capped at 65535), as in the postings */
} mem_docmeta_t;

/* 64-bit FNV-1a; used for content dedupe and session filters (verified
   against the stored text or session before it decides anything). */
uint64_t mem_hash64 (const char *s, size_t len);

/* Agent name → number. With create, assigns the next number if new.
   Returns 0, MDB_NOTFOUND (unknown agent, !create) or an LMDB code. */
int mem_agents_lookup (mem_store_t *store, MDB_txn *txn, const char *name, bool create,
                       uint32_t *agent);

/* The name of agent number agent into buf (a scan of the agents: for
   events and logs, not hot paths). MDB_NOTFOUND if there is none. */
int mem_agents_name (mem_store_t *store, MDB_txn *txn, uint32_t agent, char *buf, size_t size);

/* What the captures of one write transaction share, so that neither the
   next id nor the agent costs a lookup per record. Begin it with the txn;
   finish it before the commit. */
typedef struct {
    mem_store_t *store;
    MDB_txn *txn;
    mem_index_writer_t *index;
    uint64_t next_id;        /* last id assigned */
    uint64_t first_id;       /* next_id when the batch began */
    uint32_t agent;          /* the last agent looked up … */
    char agent_name[1025];   /* … and its name ("" = none) */
} mem_capture_batch_t;

int mem_capture_batch_begin (mem_capture_batch_t *batch, mem_store_t *store, MDB_txn *txn,
                             mem_index_writer_t *index);
int mem_capture_batch_finish (mem_capture_batch_t *batch);

/* Stores one validated record for agent_name (the record's own agent_id
   wins if set). Returns an existing live record's id for the same text
   (duplicate = true). Buffers postings in the batch's index writer:
   flush it before commit. An embedding goes to mem_vectors (check the
   request with mem_vectors_check_capture first), not into the record. */
int mem_records_capture (mem_capture_batch_t *batch, const Memd__V1__Record *in,
                         const char *agent_name, int64_t now_ms, uint64_t *id, bool *duplicate);

/* The live record id of agent; MDB_NOTFOUND for unknown ids, other
   agents' records and tombstones. Free *out with
   memd__v1__record__free_unpacked. */
int mem_records_get (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint64_t id,
                     Memd__V1__Record **out);

/* The record as stored, whatever its agent or state (consolidation). */
int mem_records_get_any (mem_store_t *store, MDB_txn *txn, uint64_t id, Memd__V1__Record **out);

/* Rewrites a stored record in place (same id; the text, agent and session
   must not change: they are indexed). */
int mem_records_update (mem_store_t *store, MDB_txn *txn, const Memd__V1__Record *rec);

int mem_records_docmeta (mem_store_t *store, MDB_txn *txn, uint64_t id, mem_docmeta_t *meta);

/* Tombstones a live record of agent: gone from recall at once. Flush the
   index writer first if this txn captured records. MDB_NOTFOUND if it is
   not a live record of agent. */
int mem_records_forget (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint64_t id,
                        int64_t now_ms);

/* mem_records_forget, recording that the record was merged into another
   (near-duplicate consolidation); merged_into 0 = plain forget. */
int mem_records_tombstone (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint64_t id,
                           int64_t now_ms, uint64_t merged_into);

/* Physically removes a tombstoned record: its row, docmeta, embedding and
   tombstones entry (purge). Its postings must already be gone from the index, and its
   edges and bands are the caller's. MDB_NOTFOUND if id is not a tombstone. */
int mem_records_purge (mem_store_t *store, MDB_txn *txn, uint64_t id);

/* Fills the tombstones table from the records (schema 1 → 2 migration). */
int mem_records_index_tombstones (mem_store_t *store, MDB_txn *txn);

/* The live record ids of a session, ascending (*ids is malloc'd; free it). */
int mem_records_session_ids (mem_store_t *store, MDB_txn *txn, uint32_t agent, const char *session,
                             uint64_t **ids, size_t *n);

/* Tombstones every live record of a session; *count gets how many. */
int mem_records_forget_session (mem_store_t *store, MDB_txn *txn, uint32_t agent,
                                const char *session, int64_t now_ms, uint64_t *count);

/* The live record of agent's session that comes just before id (the
   graph's TEMPORAL edges); MDB_NOTFOUND when there is none. */
int mem_records_session_prev (mem_store_t *store, MDB_txn *txn, uint32_t agent,
                              const char *session, uint64_t id, uint64_t *prev);

/* The live records of agent's session just before and just after id
   (session context in recall); 0 where there is none, both 0 when id is
   not a live record of the session. Returns 0 or an LMDB code. */
int mem_records_session_neighbours (mem_store_t *store, MDB_txn *txn, uint32_t agent,
                                    const char *session, uint64_t id, uint64_t *prev,
                                    uint64_t *next);
/* What mem_records_import did with a record. */
typedef enum {
    MEM_IMPORT_ADDED = 1,      /* stored (*id is its id here) */
    MEM_IMPORT_KNOWN = 2,      /* the store has this uid (*id; 0 if it was purged) */
    MEM_IMPORT_DUPLICATE = 3,  /* a live record of the agent has the same text (*id) */
    MEM_IMPORT_ID_TAKEN = 4    /* keep_id, but the id is not above every id assigned */
} mem_import_outcome_t;

/* Stores a validated exported record with every field it carries (uid,
   times, salience, tombstone, recall statistics), under its own id
   (keep_id: it must be above every id assigned, and ids increase within a
   batch) or the next one. A uid the store knows is skipped, which makes
   import idempotent; a live record whose text the agent already has live
   is a duplicate, as in capture. Tombstoned records are stored without
   postings. Flush the batch's index writer before commit. */
int mem_records_import (mem_capture_batch_t *batch, const Memd__V1__Record *in,
                        const char *agent_name, bool keep_id, int64_t now_ms, uint64_t *id,
                        mem_import_outcome_t *outcome);

/* The id of the record with this uid: 0 if it was purged; MDB_NOTFOUND if
   the store never had it. */
int mem_records_uid_lookup (mem_store_t *store, MDB_txn *txn, const uint8_t uid[16], uint64_t *id);

/* Fills the uid index from the records (schema 2 → 3 migration). */
int mem_records_index_uids (mem_store_t *store, MDB_txn *txn);

/* Live and tombstoned record counts over all agents. */
int mem_records_counts (mem_store_t *store, MDB_txn *txn, uint64_t *live, uint64_t *tombstoned);

void mem_records_test (bool verbose);

#endif
