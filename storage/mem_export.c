/*  mem_export — export pages, backups and offline verify; see mem_export.h. */
#include "mem_export.h"
#include "mem_log.h"
#include "mem_records.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void
mem_export_page_clear (mem_export_page_t *page)
{
    for (size_t i = 0; i < page->n_records; i++)
        memd__v1__record__free_unpacked (page->records[i], NULL);
    free (page->records);
    memset (page, 0, sizeof *page);
}

int
mem_export_page (mem_store_t *store, MDB_txn *txn, bool all, uint32_t agent, uint64_t after_id,
                 size_t limit, mem_export_page_t *page)
{
    memset (page, 0, sizeof *page);
    page->next_after_id = after_id;
    MDB_stat stat;
    int rc = MEM_MDB (mdb_stat (txn, mem_store_dbi (store, MEM_DB_RECORDS), &stat));
    if (rc)
        return rc;
    page->store_records = stat.ms_entries;
    page->records = calloc (limit ? limit : 1, sizeof *page->records);
    if (!page->records)
        return ENOMEM;
    //  docmeta is small and fixed-size: the agent filter never decodes a record.
    MDB_cursor *cursor;
    if ((rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, MEM_DB_DOCMETA), &cursor))))
        return rc;
    uint8_t k[8];
    mem_put_u64be (k, after_id == UINT64_MAX ? after_id : after_id + 1);
    MDB_val key = {8, k}, val;
    size_t bytes = 0;
    rc = after_id == UINT64_MAX ? MDB_NOTFOUND : mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE);
    for (; rc == 0; rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT)) {
        if (page->n_records == limit || bytes >= MEM_EXPORT_PAGE_BYTES
            || page->scanned == MEM_EXPORT_SCAN_MAX)
            break;
        mem_docmeta_t meta;
        if (key.mv_size != 8 || val.mv_size != sizeof meta) {
            rc = MDB_CORRUPTED;
            break;
        }
        memcpy (&meta, val.mv_data, sizeof meta);
        uint64_t id = mem_get_u64be (key.mv_data);
        page->scanned++;
        page->next_after_id = id;
        if (!all && meta.agent != agent)
            continue;
        Memd__V1__Record *rec;
        if ((rc = mem_records_get_any (store, txn, id, &rec)))
            break;
        bytes += memd__v1__record__get_packed_size (rec);
        page->records[page->n_records++] = rec;
    }
    mdb_cursor_close (cursor);
    page->more = rc == 0;   //  stopped by a bound, not by the end of the table
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : MEM_MDB (rc);
}

//  --------------------------------------------------------------------------
//  Backup

//  fsync of a file or directory by path; 0 or -1.
static int
s_fsync_path (const char *path, bool directory)
{
    int fd = open (path, (directory ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync (fd);
    close (fd);
    return rc;
}

int
mem_verify_dir (const char *dir, mem_verify_report_t *report, char *err, size_t err_size)
{
    memset (report, 0, sizeof *report);
    //  A memd serving this store holds memd.lock: read beside it through
    //  LMDB's reader table, so its writer never reuses a page we read.
    //  Otherwise hold memd.lock ourselves (no memd starts meanwhile) and
    //  read with no lock file at all: a backup stays as it was.
    char lock[4200];
    snprintf (lock, sizeof lock, "%s/memd.lock", dir);
    int fd = open (lock, O_RDONLY | O_CLOEXEC);
    bool served = fd >= 0 && flock (fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    mem_store_options_t opts;
    mem_store_options_default (&opts);
    opts.dir = dir;
    opts.read_only = true;
    opts.no_lock = !served;
    opts.max_readers = 8;
    mem_store_t *store = mem_store_open (&opts, err, err_size);
    if (!store) {
        if (fd >= 0)
            close (fd);
        return -1;
    }
    MDB_txn *txn;
    int rc = mem_store_read_begin (store, &txn);
    if (!rc) {
        rc = mem_verify (store, txn, report);
        mem_store_read_end (store, &txn);
    }
    mem_store_destroy (&store);
    if (fd >= 0)
        close (fd);
    if (rc) {
        snprintf (err, err_size, "cannot read the store in %s: %s", dir, mdb_strerror (rc));
        mem_verify_report_clear (report);
        return -1;
    }
    return 0;
}

int
mem_backup (mem_store_t *store, const char *dir, mem_backup_result_t *result, char *err,
            size_t err_size)
{
    memset (result, 0, sizeof *result);
    struct timespec t0, t1;
    clock_gettime (CLOCK_MONOTONIC, &t0);
    if (mem_store_mkdirs (dir)) {
        snprintf (err, err_size, "cannot create %s: %s", dir, strerror (errno));
        return -1;
    }
    snprintf (result->path, sizeof result->path, "%s/data.mdb", dir);
    struct stat st;
    if (lstat (result->path, &st) == 0) {
        snprintf (err, err_size, "%s already exists: back up into a new or empty directory",
                  result->path);
        return -1;
    }
    //  The copy is made and checked in a private directory beside the target,
    //  and moved into place whole.
    char tmp[4200], tmp_file[4300];
    snprintf (tmp, sizeof tmp, "%s/.memd-backup-XXXXXX", dir);
    if (!mkdtemp (tmp)) {
        snprintf (err, err_size, "cannot write into %s: %s", dir, strerror (errno));
        return -1;
    }
    snprintf (tmp_file, sizeof tmp_file, "%s/data.mdb", tmp);
    int rc = mem_store_copy (store, tmp);
    if (rc) {
        snprintf (err, err_size, "copy failed: %s", rc == ENOSPC ? "the disk is full"
                                                                 : mdb_strerror (rc));
        goto failed;
    }
    if (chmod (tmp_file, 0600) || s_fsync_path (tmp_file, false)) {
        snprintf (err, err_size, "cannot sync %s: %s", tmp_file, strerror (errno));
        goto failed;
    }
    if (stat (tmp_file, &st) == 0)
        result->bytes = (uint64_t) st.st_size;
    char why[512];
    if (mem_verify_dir (tmp, &result->verify, why, sizeof why)) {
        snprintf (err, err_size, "the copy does not open: %s", why);
        goto failed;
    }
    if (rename (tmp_file, result->path)) {
        snprintf (err, err_size, "cannot move the copy to %s: %s", result->path,
                  strerror (errno));
        mem_verify_report_clear (&result->verify);
        goto failed;
    }
    rmdir (tmp);
    s_fsync_path (dir, true);
    clock_gettime (CLOCK_MONOTONIC, &t1);
    result->duration_ms
        = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    return 0;

failed:
    unlink (tmp_file);
    rmdir (tmp);
    return -1;
}

//  --------------------------------------------------------------------------
//  Selftest

#undef NDEBUG
#include <assert.h>

void
mem_export_test (bool verbose)
{
    printf (" * mem_export: ");
    char dir[] = "/tmp/memd-export-test-XXXXXX";
    assert (mkdtemp (dir));
    char data[128], copy[160], err[512];
    snprintf (data, sizeof data, "%s/data", dir);
    snprintf (copy, sizeof copy, "%s/copy/of/store", dir);
    mem_store_options_t opts;
    mem_store_options_default (&opts);
    opts.dir = data;
    opts.sync = MEM_SYNC_NONE;
    mem_store_t *store = mem_store_open (&opts, err, sizeof err);
    assert (store);
    mem_index_writer_t *index = mem_index_writer_new (store);

    //  Five records of two agents; one forgotten.
    MDB_txn *txn;
    assert (mem_store_write_begin (store, &txn) == 0);
    mem_capture_batch_t batch;
    assert (mem_capture_batch_begin (&batch, store, txn, index) == 0);
    const char *texts[] = {"red apples", "green pears", "blue plums", "black figs", "white grapes"};
    uint64_t ids[5];
    for (int i = 0; i < 5; i++) {
        Memd__V1__Record rec = MEMD__V1__RECORD__INIT;
        rec.text = (char *) texts[i];
        bool dup;
        assert (mem_records_capture (&batch, &rec, i % 2 ? "bob" : "alice", 1000 + i, &ids[i],
                                     &dup) == 0);
    }
    assert (mem_capture_batch_finish (&batch) == 0);
    assert (mem_index_writer_flush (index, txn) == 0);
    uint32_t alice;
    assert (mem_agents_lookup (store, txn, "alice", false, &alice) == 0);
    assert (mem_records_forget (store, txn, alice, ids[2], 5000) == 0);
    assert (mem_store_write_commit (store, &txn) == 0);

    //  A store of schema 2 gets its uid index at open (the 2 → 3 migration).
    MDB_val skey = {14, "schema_version"}, sval;
    uint32_t two = 2;
    assert (mem_store_write_begin (store, &txn) == 0);
    sval = (MDB_val){sizeof two, &two};
    assert (mdb_put (txn, mem_store_dbi (store, MEM_DB_META), &skey, &sval, 0) == 0);
    assert (mdb_drop (txn, mem_store_dbi (store, MEM_DB_UIDS), 0) == 0);
    assert (mem_store_write_commit (store, &txn) == 0);
    mem_index_writer_destroy (&index);
    mem_store_destroy (&store);
    assert ((store = mem_store_open (&opts, err, sizeof err)));
    index = mem_index_writer_new (store);
    assert (mem_store_read_begin (store, &txn) == 0);
    mem_verify_report_t migrated;
    assert (mem_verify (store, txn, &migrated) == 0 && migrated.problem_count == 0);
    mem_verify_report_clear (&migrated);
    mem_store_read_end (store, &txn);

    //  Pages: all agents, two at a time; then alice's only.
    assert (mem_store_read_begin (store, &txn) == 0);
    mem_export_page_t page;
    uint64_t after = 0, seen = 0;
    bool more = true;
    while (more) {
        assert (mem_export_page (store, txn, true, 0, after, 2, &page) == 0);
        assert (page.store_records == 5);
        seen += page.n_records;
        after = page.next_after_id;
        more = page.more;
        mem_export_page_clear (&page);
    }
    assert (seen == 5);
    assert (mem_export_page (store, txn, false, alice, 0, 100, &page) == 0);
    assert (page.n_records == 3 && !page.more && page.next_after_id == ids[4]);
    assert (page.records[1]->tombstoned_at_ms == 5000 && page.records[1]->uid.len == 16);
    mem_export_page_clear (&page);
    mem_store_read_end (store, &txn);

    //  Import into a second store keeping ids: the same records; twice: nothing new.
    char data2[128];
    snprintf (data2, sizeof data2, "%s/data2", dir);
    mem_store_options_t opts2 = opts;
    opts2.dir = data2;
    mem_store_t *store2 = mem_store_open (&opts2, err, sizeof err);
    assert (store2);
    mem_index_writer_t *index2 = mem_index_writer_new (store2);
    assert (mem_store_read_begin (store, &txn) == 0);
    assert (mem_export_page (store, txn, true, 0, 0, 100, &page) == 0);
    mem_store_read_end (store, &txn);
    for (int round = 0; round < 2; round++) {
        MDB_txn *wtxn;
        assert (mem_store_write_begin (store2, &wtxn) == 0);
        assert (mem_capture_batch_begin (&batch, store2, wtxn, index2) == 0);
        for (size_t i = 0; i < page.n_records; i++) {
            uint64_t id;
            mem_import_outcome_t outcome;
            assert (mem_records_import (&batch, page.records[i], "", true, 9999, &id, &outcome)
                    == 0);
            assert (outcome == (round ? MEM_IMPORT_KNOWN : MEM_IMPORT_ADDED));
            assert (id == page.records[i]->id);
        }
        assert (mem_capture_batch_finish (&batch) == 0);
        assert (mem_index_writer_flush (index2, wtxn) == 0);
        assert (mem_store_write_commit (store2, &wtxn) == 0);
    }
    assert (mem_store_read_begin (store2, &txn) == 0);
    mem_export_page_t again;
    assert (mem_export_page (store2, txn, true, 0, 0, 100, &again) == 0);
    assert (again.n_records == page.n_records);
    for (size_t i = 0; i < page.n_records; i++) {
        size_t a = memd__v1__record__get_packed_size (page.records[i]);
        size_t b = memd__v1__record__get_packed_size (again.records[i]);
        assert (a == b);
        uint8_t pa[256], pb[256];
        assert (a <= sizeof pa);
        memd__v1__record__pack (page.records[i], pa);
        memd__v1__record__pack (again.records[i], pb);
        assert (memcmp (pa, pb, a) == 0);
    }
    mem_export_page_clear (&again);
    mem_verify_report_t report;
    assert (mem_verify (store2, txn, &report) == 0);
    if (verbose)
        for (size_t i = 0; i < report.n_problems; i++)
            printf ("\n   %s", report.problems[i]);
    assert (report.problem_count == 0);
    mem_verify_report_clear (&report);
    mem_store_read_end (store2, &txn);
    mem_export_page_clear (&page);
    mem_index_writer_destroy (&index2);
    mem_store_destroy (&store2);

    //  Backup: a verified copy; the target must not hold one already.
    mem_backup_result_t result;
    assert (mem_backup (store, copy, &result, err, sizeof err) == 0);
    assert (result.bytes > 0 && result.verify.records == 5 && result.verify.problem_count == 0);
    mem_verify_report_clear (&result.verify);
    assert (mem_backup (store, copy, &result, err, sizeof err) == -1);
    assert (strstr (err, "already exists"));
    struct stat st;
    assert (stat (result.path, &st) == 0 && (st.st_mode & 077) == 0);
    //  The copy opens read-only, leaving no lock file behind with no_lock.
    assert (mem_verify_dir (copy, &report, err, sizeof err) == 0);
    assert (report.records == 5 && report.problem_count == 0);
    mem_verify_report_clear (&report);
    char lock[200];
    snprintf (lock, sizeof lock, "%s/lock.mdb", copy);
    assert (access (lock, F_OK) != 0);
    assert (mem_verify_dir ("/nonexistent/memd", &report, err, sizeof err) == -1);

    mem_index_writer_destroy (&index);
    mem_store_destroy (&store);
    char cmd[200];
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    assert (system (cmd) == 0);
    printf ("OK\n");
}
