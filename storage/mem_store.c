/*  mem_store — the LMDB environment, its lock file, tables and schema.
    See mem_store.h for the contract. */
#include "mem_store.h"
#include "mem_records.h"   //  migrations rebuild record indexes
#include "mem_log.h"
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <stdatomic.h>
#include <unistd.h>

struct _mem_store_t {
    MDB_env *env;
    MDB_dbi dbi[MEM_DB_COUNT];
    char *dir;
    int lock_fd;                 //  holds the flock while the store is open
    bool read_only;              //  opened for reading only (mem_store_options_t)
    pthread_rwlock_t resize;     //  txns hold it shared; map growth exclusive
    atomic_int failed;           //  EIO or MDB_PANIC once the disk lost a write; else 0
    mem_store_fail_fn *on_fail;
    void *on_fail_arg;
};

static const struct {
    const char *name;
    unsigned flags;
} s_tables[MEM_DB_COUNT] = {
    [MEM_DB_META] = {"meta", 0},
    [MEM_DB_RECORDS] = {"records", 0},
    [MEM_DB_DOCMETA] = {"docmeta", 0},
    [MEM_DB_AGENTS] = {"agents", 0},
    [MEM_DB_HASHES] = {"hashes", 0},
    [MEM_DB_SESSIONS] = {"sessions", MDB_DUPSORT | MDB_DUPFIXED},
    [MEM_DB_POSTINGS] = {"postings", 0},
    [MEM_DB_SEGMENTS] = {"segments", 0},
    [MEM_DB_DELETED] = {"deleted", 0},
    [MEM_DB_TERMSTATS] = {"termstats", 0},
    [MEM_DB_JOBS] = {"jobs", 0},
    [MEM_DB_JOB_DUE] = {"job_due", 0},
    [MEM_DB_JOB_LEASES] = {"job_leases", 0},
    [MEM_DB_JOB_STATES] = {"job_states", 0},
    [MEM_DB_JOB_DEPS] = {"job_deps", 0},
    [MEM_DB_JOB_DEDUPE] = {"job_dedupe", 0},
    [MEM_DB_JOB_KINDS] = {"job_kinds", 0},
    [MEM_DB_TOMBSTONES] = {"tombstones", 0},
    [MEM_DB_EDGES] = {"edges", 0},
    [MEM_DB_EDGES_IN] = {"edges_in", 0},
    [MEM_DB_BANDS] = {"bands", MDB_DUPSORT | MDB_DUPFIXED},
    [MEM_DB_DIGESTS] = {"digests", 0},
    [MEM_DB_DIRTY] = {"dirty_sessions", 0},
    [MEM_DB_UIDS] = {"uids", 0},
    [MEM_DB_VECTORS] = {"vectors", 0},
    [MEM_DB_VEC_BLOCKS] = {"vec_blocks", 0},
    [MEM_DB_VEC_AGENTS] = {"vec_agents", 0},
    [MEM_DB_GRAPH] = {"graph", 0},
    [MEM_DB_GRAPH_NODES] = {"graph_nodes", 0},
    [MEM_DB_GRAPH_COMMS] = {"graph_communities", 0},
    [MEM_DB_GRAPH_MEMBERS] = {"graph_members", 0},
};

int
mem_store_check (int rc, const char *call, const char *file, int line)
{
    //  Not found is an answer, and a full map is handled by growing it.
    if (rc != 0 && rc != MDB_NOTFOUND && rc != MDB_MAP_FULL)
        mem_log_error ("%s:%d: %s: %s", file, line, call, mdb_strerror (rc));
    return rc;
}

void
mem_store_options_default (mem_store_options_t *opts)
{
    opts->dir = NULL;
    opts->map_size = (size_t) 1 << 30;
    opts->sync = MEM_SYNC_FULL;
    opts->max_readers = 256;
    opts->read_only = false;
    opts->no_lock = false;
    opts->on_fail = NULL;
    opts->on_fail_arg = NULL;
}

int
mem_store_mkdirs (const char *dir)
{
    char path[4096];
    if (snprintf (path, sizeof path, "%s", dir) >= (int) sizeof path)
        return -1;
    for (char *p = path + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir (path, 0700) && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    if (mkdir (path, 0700) && errno != EEXIST)
        return -1;
    return 0;
}

//  Takes the writer lock: one memd per store. flock is released by the
//  kernel when its owner dies, so a stale lock is taken over automatically.
static int
s_lock (mem_store_t *self, char *err, size_t err_size)
{
    char path[4200];
    snprintf (path, sizeof path, "%s/memd.lock", self->dir);
    self->lock_fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (self->lock_fd < 0) {
        snprintf (err, err_size, "cannot open lock file %s: %s", path, strerror (errno));
        return -1;
    }
    if (flock (self->lock_fd, LOCK_EX | LOCK_NB)) {
        char owner[32] = "";
        ssize_t n = pread (self->lock_fd, owner, sizeof owner - 1, 0);
        owner[n > 0 ? n : 0] = 0;
        owner[strcspn (owner, "\n")] = 0;
        if (errno == EWOULDBLOCK || errno == EAGAIN)
            snprintf (err, err_size,
                      "data directory %s is in use by another memd (pid %s); "
                      "stop it first or use another --data-dir",
                      self->dir, *owner ? owner : "unknown");
        else
            snprintf (err, err_size, "cannot lock %s: %s", path, strerror (errno));
        return -1;
    }
    char pid[32];
    int len = snprintf (pid, sizeof pid, "%d\n", (int) getpid ());
    if (ftruncate (self->lock_fd, 0) || pwrite (self->lock_fd, pid, len, 0) != len)
        mem_log_warn ("cannot write pid to %s: %s", path, strerror (errno));
    return 0;
}

//  Reads or writes the schema version; refuses a store newer than us.
static int
s_check_schema (mem_store_t *self, char *err, size_t err_size)
{
    MDB_txn *txn;
    int rc = MEM_MDB (mdb_txn_begin (self->env, NULL, self->read_only ? MDB_RDONLY : 0, &txn));
    if (rc) {
        snprintf (err, err_size, "cannot begin transaction: %s", mdb_strerror (rc));
        return -1;
    }
    MDB_val key = {14, "schema_version"}, val;
    rc = MEM_MDB (mdb_get (txn, self->dbi[MEM_DB_META], &key, &val));
    if (rc == MDB_NOTFOUND && self->read_only) {
        mdb_txn_abort (txn);
        snprintf (err, err_size, "the store in %s has no schema version: not a memd store",
                  self->dir);
        return -1;
    }
    if (rc == MDB_NOTFOUND) {
        uint32_t version = MEM_SCHEMA_VERSION;
        val = (MDB_val){sizeof version, &version};
        rc = MEM_MDB (mdb_put (txn, self->dbi[MEM_DB_META], &key, &val, 0));
        if (!rc)
            rc = MEM_MDB (mdb_txn_commit (txn));
        else
            mdb_txn_abort (txn);
        if (rc) {
            snprintf (err, err_size, "cannot write schema version: %s", mdb_strerror (rc));
            return -1;
        }
        return 0;
    }
    if (rc) {
        mdb_txn_abort (txn);
        snprintf (err, err_size, "cannot read schema version: %s", mdb_strerror (rc));
        return -1;
    }
    uint32_t version = 0;
    if (val.mv_size == sizeof version)
        memcpy (&version, val.mv_data, sizeof version);
    if (version == 0 || version > MEM_SCHEMA_VERSION) {
        mdb_txn_abort (txn);
        snprintf (err, err_size,
                  "the store in %s has schema version %u, which this memd (schema %d) "
                  "does not support: use a newer memd",
                  self->dir, version, MEM_SCHEMA_VERSION);
        return -1;
    }
    if (version == MEM_SCHEMA_VERSION) {
        mdb_txn_abort (txn);
        return 0;
    }
    if (self->read_only) {
        mdb_txn_abort (txn);
        snprintf (err, err_size,
                  "the store in %s has schema version %u; this memd reads only schema %d "
                  "read-only: start memd on it once (or on a copy) to migrate it",
                  self->dir, version, MEM_SCHEMA_VERSION);
        return -1;
    }
    //  1 → 2: the tables of the sleep cycle are new (and empty); only the
    //  tombstones index must be filled from the records. 2 → 3: the uid
    //  index is filled from the records. One pass each, once. 3 → 4: the
    //  embedding tables are new and start empty, so opening them was all.
    //  4 → 5: the graph's tables are new, created empty when the store
    //  opens; the graph actor links the existing records in the background
    //  (its cursor starts at 0), so nothing is computed here.
    mem_log_info ("migrating the store in %s from schema %u to %d", self->dir, version,
                  MEM_SCHEMA_VERSION);
    rc = version < 2 ? mem_records_index_tombstones (self, txn) : 0;
    if (!rc && version < 3)
        rc = mem_records_index_uids (self, txn);
    version = MEM_SCHEMA_VERSION;
    val = (MDB_val){sizeof version, &version};
    if (!rc)
        rc = MEM_MDB (mdb_put (txn, self->dbi[MEM_DB_META], &key, &val, 0));
    if (!rc)
        rc = MEM_MDB (mdb_txn_commit (txn));
    else
        mdb_txn_abort (txn);
    if (rc) {
        snprintf (err, err_size, "cannot migrate the store to schema %d: %s", MEM_SCHEMA_VERSION,
                  mdb_strerror (rc));
        return -1;
    }
    return 0;
}

mem_store_t *
mem_store_open (const mem_store_options_t *opts, char *err, size_t err_size)
{
    mem_store_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, err_size, "out of memory");
        return NULL;
    }
    self->lock_fd = -1;
    atomic_init (&self->failed, 0);
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init (&attr);
    pthread_rwlockattr_setkind_np (&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init (&self->resize, &attr);
    pthread_rwlockattr_destroy (&attr);
    self->dir = strdup (opts->dir);
    self->on_fail = opts->on_fail;
    self->on_fail_arg = opts->on_fail_arg;

    self->read_only = opts->read_only;
    if (self->read_only) {
        struct stat st;
        if (!self->dir || stat (self->dir, &st) || !S_ISDIR (st.st_mode)) {
            snprintf (err, err_size, "cannot open data directory %s: %s", opts->dir,
                      self->dir && errno ? strerror (errno) : "not a directory");
            goto failed;
        }
    }
    else if (!self->dir || mem_store_mkdirs (self->dir)) {
        snprintf (err, err_size, "cannot create data directory %s: %s", opts->dir,
                  strerror (errno));
        goto failed;
    }
    if (!self->read_only && s_lock (self, err, err_size))
        goto failed;

    unsigned flags = MDB_NOTLS;
    if (self->read_only)
        flags |= MDB_RDONLY | (opts->no_lock ? MDB_NOLOCK : 0);
    if (opts->sync == MEM_SYNC_BATCH)
        flags |= MDB_NOMETASYNC;
    else if (opts->sync == MEM_SYNC_NONE)
        flags |= MDB_NOSYNC;
    int rc;
    if ((rc = MEM_MDB (mdb_env_create (&self->env)))
        || (rc = MEM_MDB (mdb_env_set_maxdbs (self->env, MEM_DB_COUNT + 4)))
        || (rc = MEM_MDB (mdb_env_set_maxreaders (self->env, opts->max_readers)))
        || (rc = MEM_MDB (mdb_env_set_mapsize (self->env, opts->map_size)))
        || (rc = MEM_MDB (mdb_env_open (self->env, self->dir, flags, 0600)))) {
        snprintf (err, err_size, "cannot open the store in %s: %s", self->dir,
                  mdb_strerror (rc));
        goto failed;
    }
    int dead = 0;
    if (!self->read_only && MEM_MDB (mdb_reader_check (self->env, &dead)) == 0 && dead)
        mem_log_info ("cleared %d stale reader slot(s) left by dead processes", dead);

    MDB_txn *txn;
    if ((rc = MEM_MDB (mdb_txn_begin (self->env, NULL, self->read_only ? MDB_RDONLY : 0,
                                      &txn)))) {
        snprintf (err, err_size, "cannot open tables: %s", mdb_strerror (rc));
        goto failed;
    }
    for (int i = 0; i < MEM_DB_COUNT; i++) {
        unsigned create = self->read_only ? 0 : MDB_CREATE;
        rc = MEM_MDB (mdb_dbi_open (txn, s_tables[i].name, s_tables[i].flags | create,
                                    &self->dbi[i]));
        if (rc == MDB_NOTFOUND && self->read_only) {
            mdb_txn_abort (txn);
            snprintf (err, err_size,
                      "the store in %s has no table %s: it is not a memd store, or one of "
                      "an older schema (start memd on it once, or on a copy, to migrate it)",
                      self->dir, s_tables[i].name);
            goto failed;
        }
        if (rc) {
            mdb_txn_abort (txn);
            snprintf (err, err_size, "cannot open table %s: %s", s_tables[i].name,
                      mdb_strerror (rc));
            goto failed;
        }
    }
    if ((rc = MEM_MDB (mdb_txn_commit (txn)))) {
        snprintf (err, err_size, "cannot open tables: %s", mdb_strerror (rc));
        goto failed;
    }
    if (s_check_schema (self, err, err_size))
        goto failed;
    return self;

failed:
    mem_store_destroy (&self);
    return NULL;
}

void
mem_store_destroy (mem_store_t **self_p)
{
    mem_store_t *self = *self_p;
    if (!self)
        return;
    if (self->env)
        mdb_env_close (self->env);
    if (self->lock_fd >= 0)
        close (self->lock_fd);   //  releases the flock
    pthread_rwlock_destroy (&self->resize);
    free (self->dir);
    free (self);
    *self_p = NULL;
}

MDB_env *
mem_store_env (mem_store_t *self)
{
    return self->env;
}

MDB_dbi
mem_store_dbi (mem_store_t *self, mem_db_t db)
{
    return self->dbi[db];
}

const char *
mem_store_dir (mem_store_t *self)
{
    return self->dir;
}

int
mem_store_read_begin (mem_store_t *self, MDB_txn **txn_p)
{
    pthread_rwlock_rdlock (&self->resize);
    int rc = MEM_MDB (mdb_txn_begin (self->env, NULL, MDB_RDONLY, txn_p));
    if (rc)
        pthread_rwlock_unlock (&self->resize);
    return rc;
}

void
mem_store_read_end (mem_store_t *self, MDB_txn **txn_p)
{
    if (*txn_p) {
        mdb_txn_abort (*txn_p);
        *txn_p = NULL;
        pthread_rwlock_unlock (&self->resize);
    }
}

void
mem_reader_init (mem_reader_t *reader, mem_store_t *store)
{
    reader->store = store;
    reader->txn = NULL;
    reader->active = false;
}

int
mem_reader_begin (mem_reader_t *reader)
{
    pthread_rwlock_rdlock (&reader->store->resize);
    int rc = reader->txn ? MEM_MDB (mdb_txn_renew (reader->txn))
                         : MEM_MDB (mdb_txn_begin (reader->store->env, NULL, MDB_RDONLY,
                                                   &reader->txn));
    if (rc) {
        pthread_rwlock_unlock (&reader->store->resize);
        return rc;
    }
    reader->active = true;
    return 0;
}

void
mem_reader_end (mem_reader_t *reader)
{
    if (reader->active) {
        mdb_txn_reset (reader->txn);
        reader->active = false;
        pthread_rwlock_unlock (&reader->store->resize);
    }
}

void
mem_reader_close (mem_reader_t *reader)
{
    mem_reader_end (reader);
    if (reader->txn)
        mdb_txn_abort (reader->txn);
    reader->txn = NULL;
}

//  Marks the store failed (the first failure only) and tells the owner,
//  who stops memd: a store that lost a write is never written again.
//  Another writer can meet LMDB's MDB_PANIC before the thread whose write
//  failed gets here with the cause (EIO): the cause is logged as well.
static void
s_fail (mem_store_t *self, int rc)
{
    int expected = 0;
    bool first = atomic_compare_exchange_strong (&self->failed, &expected, rc);
    if (!first && !(expected == MDB_PANIC && rc != MDB_PANIC))
        return;
    mem_log_error ("the store in %s failed a write (%s): refusing further writes; memd must "
                   "restart on it (nothing acknowledged is lost)",
                   self->dir, mdb_strerror (rc));
    if (first && self->on_fail)
        self->on_fail (self->on_fail_arg, rc);
}

//  True when the data directory's filesystem is (nearly) out of space.
static bool
s_disk_full (mem_store_t *self)
{
    struct statvfs vfs;
    if (statvfs (self->dir, &vfs))
        return false;
    return (uint64_t) vfs.f_bavail * vfs.f_frsize < MEM_STORE_FULL_SLACK;
}

//  True when data.mdb has reached the process's file size limit
//  (RLIMIT_FSIZE): a write past it is cut short (EFBIG), the disk is fine.
static bool
s_file_limit_reached (mem_store_t *self)
{
    struct rlimit limit;
    if (getrlimit (RLIMIT_FSIZE, &limit) || limit.rlim_cur == RLIM_INFINITY)
        return false;
    char path[4200];
    snprintf (path, sizeof path, "%s/data.mdb", self->dir);
    struct stat st;
    return stat (path, &st) == 0 && (uint64_t) st.st_size + 65536 >= (uint64_t) limit.rlim_cur;
}

int
mem_store_failed (mem_store_t *self)
{
    return atomic_load (&self->failed);
}

int
mem_store_write_begin (mem_store_t *self, MDB_txn **txn_p)
{
    int rc = atomic_load (&self->failed);
    if (rc) {
        *txn_p = NULL;
        return rc;
    }
    pthread_rwlock_rdlock (&self->resize);
    rc = MEM_MDB (mdb_txn_begin (self->env, NULL, 0, txn_p));
    if (rc)
        pthread_rwlock_unlock (&self->resize);
    if (rc == MDB_PANIC)   //  LMDB itself gave up on the environment
        s_fail (self, rc);
    return rc;
}

int
mem_store_write_commit (mem_store_t *self, MDB_txn **txn_p)
{
    int rc = mdb_txn_commit (*txn_p);
    *txn_p = NULL;
    pthread_rwlock_unlock (&self->resize);
    //  mdb_page_flush turns a short pwrite (the disk filled up part-way)
    //  into EIO: with no space left, that is a full disk, not a lost write;
    //  at the file size limit, the file could not grow (EFBIG).
    if (rc == EIO && s_disk_full (self))
        rc = ENOSPC;
    else if (rc == EIO && s_file_limit_reached (self))
        rc = EFBIG;
    mem_store_check (rc, "mdb_txn_commit (*txn_p)", __FILE__, __LINE__);
    if (rc == EIO || rc == MDB_PANIC)
        s_fail (self, rc);
    return rc;
}

void
mem_store_write_abort (mem_store_t *self, MDB_txn **txn_p)
{
    if (*txn_p) {
        mdb_txn_abort (*txn_p);
        *txn_p = NULL;
        pthread_rwlock_unlock (&self->resize);
    }
}

int
mem_store_write (mem_store_t *self, mem_store_work_fn *work, void *arg)
{
    for (;;) {
        MDB_txn *txn;
        int rc = mem_store_write_begin (self, &txn);
        if (rc)
            return rc;
        rc = work (txn, arg);
        if (rc)
            mem_store_write_abort (self, &txn);
        else
            rc = mem_store_write_commit (self, &txn);
        if (rc != MDB_MAP_FULL)
            return rc;
        if ((rc = mem_store_grow (self)))
            return rc;
    }
}

int
mem_store_grow (mem_store_t *self)
{
    pthread_rwlock_wrlock (&self->resize);
    MDB_envinfo info;
    mdb_env_info (self->env, &info);
    size_t size = info.me_mapsize * 2;
    int rc = MEM_MDB (mdb_env_set_mapsize (self->env, size));
    pthread_rwlock_unlock (&self->resize);
    if (!rc)
        mem_log_info ("store map grown to %zu MiB", size >> 20);
    return rc;
}

int
mem_store_copy (mem_store_t *self, const char *dir)
{
    //  The copy's read transaction holds off map growth like any reader.
    pthread_rwlock_rdlock (&self->resize);
    int rc = MEM_MDB (mdb_env_copy2 (self->env, dir, MDB_CP_COMPACT));
    pthread_rwlock_unlock (&self->resize);
    return rc;
}

int
mem_store_reader_check (mem_store_t *self)
{
    int dead = 0;
    return MEM_MDB (mdb_reader_check (self->env, &dead)) ? -1 : dead;
}

uint64_t
mem_store_counter_get (MDB_txn *txn, mem_store_t *self, const char *name)
{
    MDB_val key = {strlen (name), (void *) name}, val;
    uint64_t value = 0;
    if (MEM_MDB (mdb_get (txn, self->dbi[MEM_DB_META], &key, &val)) == 0
        && val.mv_size == sizeof value)
        memcpy (&value, val.mv_data, sizeof value);
    return value;
}

int
mem_store_counter_add (MDB_txn *txn, mem_store_t *self, const char *name, int64_t delta)
{
    uint64_t value = mem_store_counter_get (txn, self, name) + (uint64_t) delta;
    MDB_val key = {strlen (name), (void *) name}, val = {sizeof value, &value};
    return MEM_MDB (mdb_put (txn, self->dbi[MEM_DB_META], &key, &val, 0));
}

void
mem_store_sizes (mem_store_t *self, uint64_t *map_bytes, uint64_t *file_bytes)
{
    MDB_envinfo info;
    mdb_env_info (self->env, &info);
    *map_bytes = info.me_mapsize;
    char path[4200];
    snprintf (path, sizeof path, "%s/data.mdb", self->dir);
    struct stat st;
    *file_bytes = stat (path, &st) == 0 ? (uint64_t) st.st_size : 0;
}

mem_store_t *
mem_store_test_new (char *dir)
{
    if (!mkdtemp (dir))
        abort ();
    mem_store_options_t opts;
    mem_store_options_default (&opts);
    opts.dir = dir;
    opts.sync = MEM_SYNC_NONE;
    char err[256];
    mem_store_t *store = mem_store_open (&opts, err, sizeof err);
    if (!store) {
        fprintf (stderr, "cannot open a test store in %s: %s\n", dir, err);
        abort ();
    }
    return store;
}

void
mem_store_test_remove (mem_store_t **store_p, const char *dir)
{
    mem_store_destroy (store_p);
    char cmd[PATH_MAX + 16];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system (cmd) != 0)
        fprintf (stderr, "cannot remove %s\n", dir);
}

//  --------------------------------------------------------------------------
//  Selftest

#undef NDEBUG
#include <assert.h>

void
mem_store_test (bool verbose)
{
    printf (" * mem_store: ");
    char dir[] = "/tmp/mem_store_test.XXXXXX";
    assert (mkdtemp (dir));
    char err[512];
    mem_store_options_t opts;
    mem_store_options_default (&opts);
    opts.dir = dir;
    opts.map_size = 64 << 10;   //  tiny: forces growth below
    mem_store_t *store = mem_store_open (&opts, err, sizeof err);
    assert (store);

    //  A second open of the same store is refused while the first holds it.
    mem_store_t *second = mem_store_open (&opts, err, sizeof err);
    assert (!second);
    assert (strstr (err, "in use by another memd"));

    //  Counters, and map growth on MDB_MAP_FULL.
    MDB_txn *txn;
    assert (mem_store_write_begin (store, &txn) == 0);
    assert (mem_store_counter_add (txn, store, "n", 5) == 0);
    assert (mem_store_counter_get (txn, store, "n") == 5);
    assert (mem_store_write_commit (store, &txn) == 0);
    uint64_t map_before, file_bytes;
    mem_store_sizes (store, &map_before, &file_bytes);
    char blob[4000];
    memset (blob, 'x', sizeof blob);
    int grown = 0;
    for (uint32_t i = 0; i < 200;) {
        assert (mem_store_write_begin (store, &txn) == 0);
        uint8_t k[8];
        mem_put_u64be (k, i);
        MDB_val key = {8, k}, val = {sizeof blob, blob};
        int rc = mdb_put (txn, mem_store_dbi (store, MEM_DB_RECORDS), &key, &val, 0);
        if (rc == 0)
            rc = mem_store_write_commit (store, &txn);
        else
            mem_store_write_abort (store, &txn);
        if (rc == MDB_MAP_FULL) {
            assert (mem_store_grow (store) == 0);
            grown++;
            continue;
        }
        assert (rc == 0);
        i++;
    }
    uint64_t map_after;
    mem_store_sizes (store, &map_after, &file_bytes);
    assert (grown > 0 && map_after > map_before);

    //  The reusable reader sees committed data.
    mem_reader_t reader;
    mem_reader_init (&reader, store);
    for (int round = 0; round < 2; round++) {
        assert (mem_reader_begin (&reader) == 0);
        assert (mem_store_counter_get (reader.txn, store, "n") == 5);
        mem_reader_end (&reader);
    }
    mem_reader_close (&reader);
    mem_store_destroy (&store);

    //  Reopen: the lock was released. A schema 2 store is migrated to the
    //  current schema (uids filled; the embedding and graph tables are new).
    store = mem_store_open (&opts, err, sizeof err);
    assert (store);
    uint32_t old_version = 2;
    MDB_val vkey = {14, "schema_version"}, vval = {sizeof old_version, &old_version};
    assert (mem_store_write_begin (store, &txn) == 0);
    assert (mdb_put (txn, mem_store_dbi (store, MEM_DB_META), &vkey, &vval, 0) == 0);
    assert (mem_store_write_commit (store, &txn) == 0);
    mem_store_destroy (&store);
    store = mem_store_open (&opts, err, sizeof err);
    assert (store);
    assert (mem_store_read_begin (store, &txn) == 0);
    assert (mdb_get (txn, mem_store_dbi (store, MEM_DB_META), &vkey, &vval) == 0);
    uint32_t new_version = 0;
    assert (vval.mv_size == 4);
    memcpy (&new_version, vval.mv_data, 4);
    assert (new_version == MEM_SCHEMA_VERSION);
    assert (mem_store_counter_get (txn, store, "n") == 5);
    mem_store_read_end (store, &txn);

    //  A newer schema is refused.
    assert (mem_store_write_begin (store, &txn) == 0);
    uint32_t future = MEM_SCHEMA_VERSION + 1;
    MDB_val key = {14, "schema_version"}, val = {sizeof future, &future};
    assert (mdb_put (txn, mem_store_dbi (store, MEM_DB_META), &key, &val, 0) == 0);
    assert (mem_store_write_commit (store, &txn) == 0);
    mem_store_destroy (&store);
    store = mem_store_open (&opts, err, sizeof err);
    assert (!store);
    assert (strstr (err, "schema version"));

    //  Older stores are migrated when opened, along the whole chain (1 → 5);
    //  4 → 5 only adds the graph's tables, empty.
    for (uint32_t old = 1; old < MEM_SCHEMA_VERSION; old++) {
        MDB_env *env;
        assert (mdb_env_create (&env) == 0 && mdb_env_set_maxdbs (env, MEM_DB_COUNT + 4) == 0);
        assert (mdb_env_open (env, dir, MDB_NOTLS, 0600) == 0);
        MDB_dbi meta;
        assert (mdb_txn_begin (env, NULL, 0, &txn) == 0);
        assert (mdb_dbi_open (txn, "meta", 0, &meta) == 0);
        val = (MDB_val){sizeof old, &old};
        assert (mdb_put (txn, meta, &key, &val, 0) == 0);
        assert (mdb_txn_commit (txn) == 0);
        mdb_env_close (env);
        store = mem_store_open (&opts, err, sizeof err);
        assert (store);
        assert (mem_store_read_begin (store, &txn) == 0);
        assert (mdb_get (txn, mem_store_dbi (store, MEM_DB_META), &key, &val) == 0);
        assert (val.mv_size == 4 && *(uint32_t *) val.mv_data == MEM_SCHEMA_VERSION);
        MDB_stat st;
        assert (mdb_stat (txn, mem_store_dbi (store, MEM_DB_GRAPH_MEMBERS), &st) == 0);
        assert (st.ms_entries == 0);
        mem_store_read_end (store, &txn);
        mem_store_destroy (&store);
    }

    char cmd[256];
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    assert (system (cmd) == 0);
    if (verbose)
        printf ("(map grew %d times) ", grown);
    printf ("OK\n");
}
