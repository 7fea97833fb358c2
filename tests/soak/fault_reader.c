/*  fault_reader — holds a read transaction on a memd store until killed,
    for the stale-reader test (tests/integration/test_fault_reader.sh).

        fault_reader DATA_DIR

    Opens the LMDB environment in DATA_DIR read-only beside the memd that
    serves it, begins a read transaction (which takes a slot in lock.mdb's
    reader table and pins its snapshot), prints "reading PID" and sleeps.
    Killed with -9, it leaves the slot behind: a stale reader, which only
    mdb_reader_check clears. */
#include <lmdb.h>
#include <stdio.h>
#include <unistd.h>

int
main (int argc, char *argv[])
{
    if (argc != 2) {
        fprintf (stderr, "usage: fault_reader DATA_DIR\n");
        return 2;
    }
    MDB_env *env;
    MDB_txn *txn;
    int rc = mdb_env_create (&env);
    if (!rc)
        rc = mdb_env_set_maxdbs (env, 64);
    if (!rc)
        rc = mdb_env_open (env, argv[1], MDB_RDONLY | MDB_NOTLS, 0600);
    if (!rc)
        rc = mdb_txn_begin (env, NULL, MDB_RDONLY, &txn);
    if (rc) {
        fprintf (stderr, "fault_reader: %s: %s\n", argv[1], mdb_strerror (rc));
        return 1;
    }
    printf ("reading %d\n", (int) getpid ());
    fflush (stdout);
    for (;;)
        pause ();
}
