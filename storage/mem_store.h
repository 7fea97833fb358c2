/*  mem_store — the one LMDB environment of memd (DESIGN §5).

    Opens the data directory: takes the writer lock file (a second memd on
    the same store is refused; a dead owner's lock is released by the
    kernel), opens the environment and every table once, checks the schema
    version, and clears reader slots left by crashed processes.

    Transactions: readers and the writer begin and end theirs through this
    class, because growing the map (on MDB_MAP_FULL) is only safe while no
    transaction is active in the process; a writer-preferring rwlock makes
    growth wait for open transactions and hold off new ones.

    Every LMDB call in storage/ goes through MEM_MDB (), which logs the
    failing call with mdb_strerror, file and line.
*/
#ifndef MEM_STORE_H_INCLUDED
#define MEM_STORE_H_INCLUDED

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MEM_SCHEMA_VERSION 5   /* 2: tombstones, edges, bands, digests (the sleep cycle);
                                  3: uids (import is idempotent by record uid);
                                  4: embeddings (vectors, vec_blocks, vec_agents);
                                  5: the graph's builds (mem_graph_store) */

typedef enum {
    MEM_SYNC_FULL,   /* every commit is fsynced before it is acked (default) */
    MEM_SYNC_BATCH,  /* data synced, meta page not: a crash may roll back the last commits */
    MEM_SYNC_NONE    /* the OS decides: fast, loses recent writes on power loss */
} mem_sync_t;

/* Called once, from the writing thread, when the store can no longer be
   trusted (an I/O error on commit): see mem_store_write_commit. */
typedef void(mem_store_fail_fn) (void *arg, int rc);

typedef struct {
    const char *dir;         /* data directory; created 0700 if missing */
    size_t map_size;         /* initial map size in bytes; grows on demand */
    mem_sync_t sync;
    unsigned max_readers;
    bool read_only;          /* no writer lock, no writes, no migration: for verifying a
                                copy or a store another memd serves (LMDB readers share) */
    bool no_lock;            /* with read_only: no LMDB lock file either (MDB_NOLOCK), for
                                a copy nobody else opens */
    mem_store_fail_fn *on_fail;   /* may be NULL */
    void *on_fail_arg;
} mem_store_options_t;

/* Below this much free space on the data directory's filesystem, an EIO
   from a commit is taken for a short write on a full disk (see
   mem_store_write_commit). */
#define MEM_STORE_FULL_SLACK ((uint64_t) 1 << 20)

/* The named databases (tables). */
typedef enum {
    MEM_DB_META,        /* string key → value: schema version, counters, next id */
    MEM_DB_RECORDS,     /* id (u64 BE) → packed memd.v1.Record */
    MEM_DB_DOCMETA,     /* id (u64 BE) → mem_docmeta_t: what recall filters need */
    MEM_DB_AGENTS,      /* agent name → agent number (u32) */
    MEM_DB_HASHES,      /* agent (u32 BE) + content hash (u64 BE) → id: dedupe */
    MEM_DB_SESSIONS,    /* agent (u32 BE) + session → ids (dupsort, fixed u64 BE) */
    MEM_DB_POSTINGS,    /* agent (u32 BE) + segment (u32 BE) + term → postings array */
    MEM_DB_SEGMENTS,    /* agent (u32 BE) + segment (u32 BE) → segment catalog entry */
    MEM_DB_DELETED,     /* agent (u32 BE) + id (u64 BE) → (): forgotten, postings not yet merged away */
    MEM_DB_TERMSTATS,   /* agent (u32 BE) → mem_agent_stats_t: BM25 collection stats */
    MEM_DB_JOBS,        /* job id (u64 BE) → packed memd.v1.Job (mem_jobs) */
    MEM_DB_JOB_DUE,     /* kind (u32 BE) + due ms (u64 BE) + id (u64 BE) → (): QUEUED, FAILED */
    MEM_DB_JOB_LEASES,  /* lease expiry ms (u64 BE) + id (u64 BE) → (): LEASED */
    MEM_DB_JOB_STATES,  /* state (u8) + kind (u32 BE) + id (u64 BE) → (): every job */
    MEM_DB_JOB_DEPS,    /* dependency id (u64 BE) + waiting job id (u64 BE) → () */
    MEM_DB_JOB_DEDUPE,  /* kind (u32 BE) + dedupe key → id (u64 BE) of the unfinished job */
    MEM_DB_JOB_KINDS,   /* kind name → mem_job_kind_t: number and counts by state */
    MEM_DB_TOMBSTONES,  /* tombstoned_at ms (u64 BE) + id (u64 BE) → (): what purge frees */
    MEM_DB_EDGES,       /* src (u64 BE) + type (u8) + dst (u64 BE) → weight (float) [+ time] */
    MEM_DB_EDGES_IN,    /* dst (u64 BE) + type (u8) + src (u64 BE) → weight: the reverse */
    MEM_DB_BANDS,       /* agent (u32 BE) + band (u8) + key (u64 BE) → ids (dupsort): near-dupes */
    MEM_DB_DIGESTS,     /* agent (u32 BE) + session → digest id + last member id (2 × u64 BE) */
    MEM_DB_DIRTY,       /* agent (u32 BE) + session → (): sessions changed since their digest */
    MEM_DB_UIDS,        /* record uid (16 bytes) → id (u64 BE); 0 once the record is purged */
    MEM_DB_VECTORS,     /* id (u64 BE) → exact float32 embedding with its place (mem_vectors) */
    MEM_DB_VEC_BLOCKS,  /* agent (u32 BE) + block (u32 BE) → int8 copies of up to N embeddings */
    MEM_DB_VEC_AGENTS,  /* agent (u32 BE) → dimension and block count of its embeddings */
    MEM_DB_GRAPH,       /* agent (u32 BE) → mem_graph_meta_t: the agent's last build, its anchor */
    MEM_DB_GRAPH_NODES, /* agent (u32 BE) + slot (u8) + id (u64 BE) → community, PageRank */
    MEM_DB_GRAPH_COMMS, /* agent (u32 BE) + slot (u8) + community (u64 BE) → size */
    MEM_DB_GRAPH_MEMBERS, /* agent (u32 BE) + slot (u8) + community (u64 BE) + id (u64 BE) → () */
    MEM_DB_COUNT
} mem_db_t;

typedef struct _mem_store_t mem_store_t;

/* Logs a failed LMDB call (anything but MDB_NOTFOUND and MDB_MAP_FULL,
   which callers handle) and yields its code. */
#define MEM_MDB(call) mem_store_check ((call), #call, __FILE__, __LINE__)
int mem_store_check (int rc, const char *call, const char *file, int line);

void mem_store_options_default (mem_store_options_t *opts);

/* Creates dir (and parents) with mode 0700 where missing. 0 or -1 (errno). */
int mem_store_mkdirs (const char *dir);

/* Opens the store; NULL with a message in err on failure. */
mem_store_t *mem_store_open (const mem_store_options_t *opts, char *err, size_t err_size);
void mem_store_destroy (mem_store_t **self_p);

MDB_env *mem_store_env (mem_store_t *self);
MDB_dbi mem_store_dbi (mem_store_t *self, mem_db_t db);
const char *mem_store_dir (mem_store_t *self);

/* A read-only transaction. Keep it short: it pins a snapshot and holds off
   map growth. Returns 0 or an LMDB code. */
int mem_store_read_begin (mem_store_t *self, MDB_txn **txn_p);
void mem_store_read_end (mem_store_t *self, MDB_txn **txn_p);

/* Reusable read transaction for hot paths (no allocation per use). */
typedef struct {
    mem_store_t *store;
    MDB_txn *txn;        /* NULL until first use; reset between uses */
    bool active;
} mem_reader_t;
void mem_reader_init (mem_reader_t *reader, mem_store_t *store);
int mem_reader_begin (mem_reader_t *reader);
void mem_reader_end (mem_reader_t *reader);
void mem_reader_close (mem_reader_t *reader);

/* The write transaction (one writer at a time: the capture actor). */
int mem_store_write_begin (mem_store_t *self, MDB_txn **txn_p);
/* Commits (synced per the sync mode). The txn is gone either way.
   A full disk fails with ENOSPC (or EDQUOT) and the store goes on: LMDB
   wrote nothing the last good commit refers to. LMDB reports a write cut
   short by a full disk as EIO ("short write, filesystem full?"), so an
   EIO while the filesystem has less than MEM_STORE_FULL_SLACK free is
   returned as ENOSPC, and one with data.mdb at the process's file size
   limit (RLIMIT_FSIZE) as EFBIG. Any other EIO, and MDB_PANIC, mean the disk lost
   writes: the store is marked failed, on_fail is called once, and every
   later write_begin fails with that code (reads go on). */
int mem_store_write_commit (mem_store_t *self, MDB_txn **txn_p);
void mem_store_write_abort (mem_store_t *self, MDB_txn **txn_p);

/* Runs work (txn, arg) in a write transaction and commits it. When the
   map is full, the transaction is dropped, the map grown and work run
   again from the start, so work must begin by resetting whatever an
   earlier attempt built. Returns 0 or the code that failed: work's own
   (the txn is then aborted) or the commit's. */
typedef int(mem_store_work_fn) (MDB_txn *txn, void *arg);
int mem_store_write (mem_store_t *self, mem_store_work_fn *work, void *arg);

/* The code that failed the store (EIO, MDB_PANIC), or 0 while it is sound. */
int mem_store_failed (mem_store_t *self);

/* Doubles the map (after MDB_MAP_FULL, with the writer's txn aborted).
   Waits for open read transactions to end. Returns 0 or an LMDB code. */
int mem_store_grow (mem_store_t *self);

/* Writes a compacted copy of the store (one read snapshot) as dir/data.mdb
   (mdb_env_copy2 with MDB_CP_COMPACT; the file must not exist). Map
   growth waits for it, as for any reader. Returns 0 or an LMDB code. */
int mem_store_copy (mem_store_t *self, const char *dir);

/* Counters in the meta table (u64), updated inside the caller's txn. */
/* Clears reader slots left by dead processes; returns how many (or -1). */
int mem_store_reader_check (mem_store_t *self);

uint64_t mem_store_counter_get (MDB_txn *txn, mem_store_t *self, const char *name);
int mem_store_counter_add (MDB_txn *txn, mem_store_t *self, const char *name, int64_t delta);

/* Current map size and data file size, in bytes. */
void mem_store_sizes (mem_store_t *self, uint64_t *map_bytes, uint64_t *file_bytes);

/* Big-endian key helpers: integer keys sort in LMDB's byte order. */
static inline void
mem_put_u64be (uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t) v;
}
static inline uint64_t
mem_get_u64be (const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}
static inline void
mem_put_u32be (uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t) v;
}
static inline uint32_t
mem_get_u32be (const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

/* For selftests: a fresh unsynced store in a new temporary directory (dir
   is a mkdtemp template, filled in); mem_store_test_remove closes it and
   removes the directory. Both assert on failure. */
mem_store_t *mem_store_test_new (char *dir);
void mem_store_test_remove (mem_store_t **store_p, const char *dir);

void mem_store_test (bool verbose);

#endif
