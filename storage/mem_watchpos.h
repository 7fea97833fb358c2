/*  mem_watchpos — how far transcript watching has read each file (issue 9;
    actors/mem_watch.c).

    One entry per watched file in the meta table, keyed "watch/" + 16 hex
    digits of a 64-bit hash of the file's path (no table of its own: the
    schema does not change). The value holds the path itself, so a hash
    collision reads as "not found" instead of another file's position;
    the inode the offset belongs to (a new inode at the path is a rotated
    or replaced file: read from 0); the offset of the first byte not yet
    ingested (always just after a newline); the lines ingested; and a hash
    of the file's first head_len bytes (at most MEM_WATCHPOS_HEAD), which
    tells a file rewritten in place from one that only grew.

    The watch actor never writes. It sends the new positions, encoded by
    mem_watchpos_encode, to the writer beside the records they produced,
    and the writer applies them in the same transaction
    (mem_watchpos_apply): a restart neither skips nor repeats a line.
*/
#ifndef MEM_WATCHPOS_H_INCLUDED
#define MEM_WATCHPOS_H_INCLUDED

#include "mem_store.h"

#define MEM_WATCHPOS_PREFIX   "watch/"
#define MEM_WATCHPOS_HEAD     256      /* bytes of a file's start that are fingerprinted */
#define MEM_WATCHPOS_PATH_MAX 4096     /* longest path, in bytes */

typedef struct {
    uint64_t ino;          /* inode of the file the offset belongs to */
    uint64_t offset;       /* first byte not yet ingested */
    uint64_t lines;        /* complete lines ingested from this file */
    uint64_t head_hash;    /* mem_watchpos_hash of the first head_len bytes */
    uint32_t head_len;
} mem_watchpos_t;

/* The fingerprint hash (64-bit FNV-1a). */
uint64_t mem_watchpos_hash (const void *data, size_t len);

/* The stored position of path. 0, MDB_NOTFOUND (none, or a corrupt or
   colliding entry), or an LMDB code. */
int mem_watchpos_get (mem_store_t *store, MDB_txn *txn, const char *path, mem_watchpos_t *pos);

/* Encodes one update (remove: drop the entry, pos unused) into buf.
   Returns the bytes it takes, whether or not they fit in size; updates
   are concatenated into one frame. 0 if path is empty or too long. */
size_t mem_watchpos_encode (const char *path, const mem_watchpos_t *pos, bool remove,
                            uint8_t *buf, size_t size);

/* 0 if data holds well-formed updates (at least one), else -2. */
int mem_watchpos_check (const void *data, size_t size);

/* Applies the updates in data inside the writer's txn. 0, -2 for
   malformed data (nothing applied), or an LMDB code. */
int mem_watchpos_apply (mem_store_t *store, MDB_txn *txn, const void *data, size_t size);

void mem_watchpos_test (bool verbose);

#endif
