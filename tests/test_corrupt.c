/*  test_corrupt — damages a copy of a store on purpose, behind memd's back,
    for tests/integration/test_portability.sh: deletes every postings entry
    of one term (with plain LMDB calls, as a bug or a bad disk might), so
    the records holding that term lose postings that verify must miss.

        test_corrupt DATA_DIR TERM     prints how many entries it deleted

    Never run it on a store you care about. */
#include "mem_store.h"
#include <stdio.h>
#include <string.h>

int
main (int argc, char *argv[])
{
    if (argc != 3) {
        fprintf (stderr, "usage: test_corrupt DATA_DIR TERM\n");
        return 2;
    }
    mem_store_options_t opts;
    mem_store_options_default (&opts);
    opts.dir = argv[1];
    char err[512];
    mem_store_t *store = mem_store_open (&opts, err, sizeof err);
    if (!store) {
        fprintf (stderr, "test_corrupt: %s\n", err);
        return 1;
    }
    //  Postings keys are segment (u32 BE) + term.
    size_t len = strlen (argv[2]);
    MDB_txn *txn = NULL;
    MDB_cursor *cursor;
    int deleted = 0, rc = mem_store_write_begin (store, &txn);
    if (!rc)
        rc = mdb_cursor_open (txn, mem_store_dbi (store, MEM_DB_POSTINGS), &cursor);
    MDB_val key, val;
    while (!rc && mdb_cursor_get (cursor, &key, &val, MDB_NEXT) == 0)
        if (key.mv_size == 4 + len && memcmp ((char *) key.mv_data + 4, argv[2], len) == 0) {
            rc = mdb_cursor_del (cursor, 0);
            deleted++;
        }
    if (txn)
        rc = rc ? (mem_store_write_abort (store, &txn), rc) : mem_store_write_commit (store, &txn);
    mem_store_destroy (&store);
    if (rc) {
        fprintf (stderr, "test_corrupt: %s\n", mdb_strerror (rc));
        return 1;
    }
    printf ("%d\n", deleted);
    return 0;
}
