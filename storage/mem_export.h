/*  mem_export — records out of and back into a store, and copies of it
    (DESIGN §1: export/import, backup; docs/operations.md).

    Export reads pages of records in id order from one read transaction
    each (a recall worker serves them while memd runs); every field is
    kept, tombstoned records included, so an export imported into an empty
    store (mem_records_import, keeping ids) gives the same records back.

    Backup makes a compacted copy of the live store with mdb_env_copy2
    (MDB_CP_COMPACT: one read snapshot, so it is consistent and never
    blocks the writer), opens the copy read-only, verifies it, and only
    then moves it into place: a data.mdb in the target is always whole.
*/
#ifndef MEM_EXPORT_H_INCLUDED
#define MEM_EXPORT_H_INCLUDED

#include "mem_store.h"
#include "mem_verify.h"
#include "memd.pb-c.h"

#define MEM_EXPORT_PAGE_BYTES (4u << 20)   /* packed records in one page, about */
#define MEM_EXPORT_SCAN_MAX   200000       /* records looked at for one page */

typedef struct {
    Memd__V1__Record **records;   /* unpacked; freed by mem_export_page_clear */
    size_t n_records;
    uint64_t next_after_id;       /* after_id of the next page */
    bool more;                    /* records with larger ids may follow */
    uint64_t scanned;             /* records looked at */
    uint64_t store_records;       /* records in the store */
} mem_export_page_t;

/* Up to limit records with ids above after_id: every agent's (all), or
   agent's. Returns 0 or an LMDB code. */
int mem_export_page (mem_store_t *store, MDB_txn *txn, bool all, uint32_t agent,
                     uint64_t after_id, size_t limit, mem_export_page_t *page);
void mem_export_page_clear (mem_export_page_t *page);

typedef struct {
    char path[4200];              /* the copy's data.mdb */
    uint64_t bytes;
    int64_t duration_ms;
    mem_verify_report_t verify;   /* of the copy; clear with mem_verify_report_clear */
} mem_backup_result_t;

/* Copies the store into dir (created 0700 if missing; it must not hold a
   data.mdb already), compacted, then verifies the copy. Returns 0 (the
   copy is in place, and result->verify says whether it is consistent) or
   -1 with a message in err. */
int mem_backup (mem_store_t *store, const char *dir, mem_backup_result_t *result, char *err,
                size_t err_size);

/* Verifies the store in dir, opened read-only: beside the memd that
   serves it, if one does (LMDB's reader table), else with no lock file at
   all, holding memd.lock so no memd starts meanwhile. Returns 0 with the
   report, or -1 with err filled. */
int mem_verify_dir (const char *dir, mem_verify_report_t *report, char *err, size_t err_size);

void mem_export_test (bool verbose);

#endif
