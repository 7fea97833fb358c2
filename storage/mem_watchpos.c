/*  mem_watchpos — transcript watching's positions in the meta table; see
    mem_watchpos.h.

    An update, and a stored value, is
        version (u8 = 1) | flags (u8: 1 = remove) | path length (u32 BE) | path
        | ino | offset | lines | head hash (u64 BE each) | head length (u32 BE)
    The stored value is the update with flags 0. */
#include "mem_watchpos.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_VERSION 1
#define S_REMOVE  0x01
#define S_FIXED   (2 + 4)                 //  version, flags, path length
#define S_TAIL    (4 * 8 + 4)             //  ino, offset, lines, head hash, head length
#define S_KEY_LEN (sizeof MEM_WATCHPOS_PREFIX - 1 + 16)

uint64_t
mem_watchpos_hash (const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t hash = 14695981039346656037ULL;
    for (size_t i = 0; i < len; i++)
        hash = (hash ^ p[i]) * 1099511628211ULL;
    return hash;
}

//  "watch/" + 16 hex digits of the path's hash (not NUL-terminated).
static void
s_key (const char *path, size_t len, char key[S_KEY_LEN + 1])
{
    snprintf (key, S_KEY_LEN + 1, MEM_WATCHPOS_PREFIX "%016llx",
              (unsigned long long) mem_watchpos_hash (path, len));
}

size_t
mem_watchpos_encode (const char *path, const mem_watchpos_t *pos, bool remove, uint8_t *buf,
                     size_t size)
{
    size_t len = path ? strlen (path) : 0;
    if (len == 0 || len > MEM_WATCHPOS_PATH_MAX)
        return 0;
    size_t need = S_FIXED + len + S_TAIL;
    if (need > size)
        return need;
    mem_watchpos_t none;
    memset (&none, 0, sizeof none);
    if (remove || !pos)
        pos = &none;
    uint8_t *p = buf;
    *p++ = S_VERSION;
    *p++ = remove ? S_REMOVE : 0;
    mem_put_u32be (p, (uint32_t) len);
    memcpy (p + 4, path, len);
    p += 4 + len;
    mem_put_u64be (p, pos->ino);
    mem_put_u64be (p + 8, pos->offset);
    mem_put_u64be (p + 16, pos->lines);
    mem_put_u64be (p + 24, pos->head_hash);
    mem_put_u32be (p + 32, pos->head_len);
    return need;
}

//  One update, as decoded.
typedef struct {
    const char *path;          //  not NUL-terminated
    size_t path_len;
    bool remove;
    mem_watchpos_t pos;
} s_update_t;

//  Decodes the update at data (size bytes left). Returns its length, or 0
//  if it is malformed.
static size_t
s_decode (const uint8_t *data, size_t size, s_update_t *update)
{
    if (size < S_FIXED + S_TAIL || data[0] != S_VERSION || (data[1] & ~S_REMOVE))
        return 0;
    size_t len = mem_get_u32be (data + 2);
    if (len == 0 || len > MEM_WATCHPOS_PATH_MAX || size - S_FIXED - S_TAIL < len
        || memchr (data + S_FIXED, 0, len))
        return 0;
    update->path = (const char *) data + S_FIXED;
    update->path_len = len;
    update->remove = data[1] & S_REMOVE;
    const uint8_t *p = data + S_FIXED + len;
    mem_watchpos_t *pos = &update->pos;
    pos->ino = mem_get_u64be (p);
    pos->offset = mem_get_u64be (p + 8);
    pos->lines = mem_get_u64be (p + 16);
    pos->head_hash = mem_get_u64be (p + 24);
    pos->head_len = mem_get_u32be (p + 32);
    if (pos->head_len > MEM_WATCHPOS_HEAD || pos->head_len > pos->offset)
        return 0;
    return S_FIXED + len + S_TAIL;
}

int
mem_watchpos_get (mem_store_t *store, MDB_txn *txn, const char *path, mem_watchpos_t *pos)
{
    size_t len = strlen (path);
    char key_text[S_KEY_LEN + 1];
    s_key (path, len, key_text);
    MDB_val key = {S_KEY_LEN, key_text}, val;
    int rc = MEM_MDB (mdb_get (txn, mem_store_dbi (store, MEM_DB_META), &key, &val));
    if (rc)
        return rc;
    s_update_t stored;
    if (s_decode (val.mv_data, val.mv_size, &stored) != val.mv_size || stored.remove
        || stored.path_len != len || memcmp (stored.path, path, len) != 0)
        return MDB_NOTFOUND;   //  another path with the same hash, or a damaged entry
    *pos = stored.pos;
    return 0;
}

int
mem_watchpos_check (const void *data, size_t size)
{
    const uint8_t *p = data;
    s_update_t update;
    for (size_t used; p && size; p += used, size -= used)
        if (!(used = s_decode (p, size, &update)))
            return -2;
    return p && data != (const void *) p ? 0 : -2;
}

int
mem_watchpos_apply (mem_store_t *store, MDB_txn *txn, const void *data, size_t size)
{
    if (mem_watchpos_check (data, size))
        return -2;
    MDB_dbi dbi = mem_store_dbi (store, MEM_DB_META);
    const uint8_t *p = data;
    s_update_t update;
    for (size_t used; size; p += used, size -= used) {
        used = s_decode (p, size, &update);
        char key_text[S_KEY_LEN + 1];
        s_key (update.path, update.path_len, key_text);
        MDB_val key = {S_KEY_LEN, key_text}, val = {used, (void *) p};
        int rc;
        if (update.remove) {
            //  Only this path's own entry: a colliding path's stays.
            mem_watchpos_t old;
            char *copy = strndup (update.path, update.path_len);
            if (!copy)
                return ENOMEM;
            rc = mem_watchpos_get (store, txn, copy, &old);
            free (copy);
            if (rc == 0)
                rc = MEM_MDB (mdb_del (txn, dbi, &key, NULL));
            if (rc == MDB_NOTFOUND)
                rc = 0;
        }
        else
            rc = MEM_MDB (mdb_put (txn, dbi, &key, &val, 0));
        if (rc)
            return rc;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Selftest

#undef NDEBUG
#include <assert.h>

void
mem_watchpos_test (bool verbose)
{
    printf (" * mem_watchpos: ");
    char dir[] = "/tmp/mem_watchpos_test.XXXXXX";
    mem_store_t *store = mem_store_test_new (dir);
    uint8_t buf[3 * 256];
    mem_watchpos_t a = {.ino = 7, .offset = 120, .lines = 3, .head_hash = 99, .head_len = 120};
    mem_watchpos_t b = {.ino = 8, .offset = 10, .lines = 1, .head_hash = 5, .head_len = 10};
    size_t n = mem_watchpos_encode ("/t/a.jsonl", &a, false, buf, sizeof buf);
    n += mem_watchpos_encode ("/t/b.jsonl", &b, false, buf + n, sizeof buf - n);
    assert (n < sizeof buf && mem_watchpos_check (buf, n) == 0);
    //  Too small a buffer says how much it needs, and writes nothing.
    assert (mem_watchpos_encode ("/t/a.jsonl", &a, false, buf, 3) == n / 2);
    assert (mem_watchpos_encode ("", &a, false, buf, sizeof buf) == 0);

    MDB_txn *txn;
    assert (mem_store_write_begin (store, &txn) == 0);
    assert (mem_watchpos_apply (store, txn, buf, n) == 0);
    mem_watchpos_t got;
    assert (mem_watchpos_get (store, txn, "/t/a.jsonl", &got) == 0);
    assert (got.ino == 7 && got.offset == 120 && got.lines == 3 && got.head_hash == 99
            && got.head_len == 120);
    assert (mem_watchpos_get (store, txn, "/t/b.jsonl", &got) == 0 && got.offset == 10);
    assert (mem_watchpos_get (store, txn, "/t/c.jsonl", &got) == MDB_NOTFOUND);
    //  Malformed frames are refused whole: truncated, bad version, a head
    //  longer than the offset, trailing bytes.
    assert (mem_watchpos_check (buf, n - 1) == -2);
    assert (mem_watchpos_apply (store, txn, buf, n - 1) == -2);
    uint8_t bad[256];
    size_t m = mem_watchpos_encode ("/t/a.jsonl", &a, false, bad, sizeof bad);
    bad[0] = 2;
    assert (mem_watchpos_check (bad, m) == -2);
    mem_watchpos_t wrong = {.offset = 5, .head_len = 6};
    m = mem_watchpos_encode ("/t/a.jsonl", &wrong, false, bad, sizeof bad);
    assert (mem_watchpos_check (bad, m) == -2);
    assert (mem_watchpos_check (NULL, 0) == -2);
    //  Remove: the entry goes; removing it again is no error.
    m = mem_watchpos_encode ("/t/a.jsonl", NULL, true, bad, sizeof bad);
    assert (mem_watchpos_apply (store, txn, bad, m) == 0);
    assert (mem_watchpos_get (store, txn, "/t/a.jsonl", &got) == MDB_NOTFOUND);
    assert (mem_watchpos_apply (store, txn, bad, m) == 0);
    assert (mem_watchpos_get (store, txn, "/t/b.jsonl", &got) == 0);
    //  A value stored under a path's key for another path (a collision) is
    //  not that path's position.
    char key_text[S_KEY_LEN + 1];
    s_key ("/t/z.jsonl", 10, key_text);
    MDB_val key = {S_KEY_LEN, key_text};
    MDB_val val = {mem_watchpos_encode ("/t/y.jsonl", &b, false, bad, sizeof bad), bad};
    assert (mdb_put (txn, mem_store_dbi (store, MEM_DB_META), &key, &val, 0) == 0);
    assert (mem_watchpos_get (store, txn, "/t/z.jsonl", &got) == MDB_NOTFOUND);
    assert (mem_store_write_commit (store, &txn) == 0);
    mem_store_test_remove (&store, dir);
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
