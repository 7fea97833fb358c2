/*  memctl_admin — data portability and safety: export, import, backup.

    export streams the store as JSONL (memctl_jsonl.h) in pages, each read
    by memd in one read transaction, with progress on stderr. import sends
    the lines back in batches; memd skips every record whose uid it knows,
    so an import run twice adds nothing. backup asks memd for a hot,
    compacted copy made by a thread of its own, which memd then opens and
    verifies.
*/
#include "memctl.h"
#include "memctl_jsonl.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

command_fn memctl_cmd_export, memctl_cmd_import, memctl_cmd_backup;

#define PROGRESS_MS 500              //  at most one progress line this often
#define BACKUP_TIMEOUT_MS 3600000    //  a backup's default wait: it takes what the disk takes

const char memctl_export_usage[] =
    "Usage: memctl export [--agent A] [--page N] [--quiet] [-o FILE]\n"
    "\n"
    "Writes every record of the store (or of agent A) as JSONL, one record per line\n"
    "with every field memd keeps: id, uid, agent, session, kind, text, tags,\n"
    "metadata, created_at_ms, salience, salience_base, tombstoned_at_ms (forgotten\n"
    "records are included), merged_into, recall_count, last_recalled_ms and\n"
    "content_hash. Records come in id order, in pages of N (default 1000); each\n"
    "page is one consistent snapshot, and memd keeps serving meanwhile. Progress\n"
    "goes to stderr.\n"
    "\n"
    "Options:\n"
    "  -a, --agent A      only this agent's records (default: every agent)\n"
    "      --page N       records per request (1 to 10000)\n"
    "  -o, --output FILE  write to FILE (created 0600) instead of stdout\n"
    "  -q, --quiet        no progress\n";

const char memctl_import_usage[] =
    "Usage: memctl import [--keep-ids] [--agent A] [--batch N] [FILE|-]\n"
    "\n"
    "Stores the records of an export (FILE, or stdin) with every field kept.\n"
    "memd skips a record whose uid it already has (or had: a record purged after\n"
    "being forgotten does not come back), so importing the same file twice adds\n"
    "nothing. A live record whose text the agent already has live is a duplicate,\n"
    "as for capture. Records get new ids, and memctl prints how ids map, one line\n"
    "per record: OLD NEW added|known|duplicate. merged_into is mapped the same way.\n"
    "\n"
    "Options:\n"
    "      --keep-ids     keep every record's id (only into an empty store)\n"
    "  -a, --agent A      agent of lines without one (default: default)\n"
    "      --batch N      records per request (default 500, at most 10000)\n"
    "  -q, --quiet        no progress, no id map (the summary still prints)\n"
    "\n"
    "JSON: {\"records\", \"added\", \"known\", \"duplicate\", \"map\": [[old, new], ...]}\n";

const char memctl_backup_usage[] =
    "Usage: memctl backup DIR\n"
    "\n"
    "memd writes a hot, consistent, compacted copy of its store to DIR/data.mdb\n"
    "(DIR is created 0700; it must not hold a data.mdb), from one snapshot and in a\n"
    "thread of its own, so it keeps serving. memd then opens the copy read-only and\n"
    "verifies it; the copy is in place only once written whole. DIR is a path on\n"
    "memd's machine (a relative one is made absolute here). To restore, stop memd and\n"
    "start it with --data-dir DIR (or copy DIR/data.mdb into an empty data directory).\n"
    "Waits up to an hour unless --timeout says otherwise.\n"
    "\n"
    "JSON: {\"path\", \"bytes\", \"duration_ms\", \"verify\": {\"ok\", \"records\",\n"
    "      \"problem_count\", \"problems\"}}\n";

//  Progress on stderr: in place on a terminal, else a line now and then.
typedef struct {
    bool quiet, tty;
    int64_t last_ms;
} s_progress_t;

static void
s_progress (s_progress_t *p, bool last, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));

static void
s_progress (s_progress_t *p, bool last, const char *fmt, ...)
{
    if (p->quiet)
        return;
    int64_t now = zclock_mono ();
    if (!last && now - p->last_ms < PROGRESS_MS)
        return;
    p->last_ms = now;
    va_list args;
    va_start (args, fmt);
    fputs (p->tty ? "\r" : "", stderr);
    vfprintf (stderr, fmt, args);
    fputs (p->tty && !last ? "\033[K" : "\n", stderr);
    va_end (args);
    fflush (stderr);
}

//  --------------------------------------------------------------------------
//  export

int
memctl_cmd_export (ctx_t *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        COMMON_LONG,
        {"agent", required_argument, NULL, 'a'},
        {"page", required_argument, NULL, 'P'},
        {"output", required_argument, NULL, 'o'},
        {"quiet", no_argument, NULL, 'q'},
        {NULL, 0, NULL, 0}};
    const char *agent = NULL, *output = NULL;
    uint64_t page = 0;
    s_progress_t progress = {false, isatty (2) != 0, zclock_mono ()};
    int c, rc;
    while ((c = getopt_long (argc, argv, COMMON_SHORT "a:o:q", options, NULL)) != -1) {
        if (c == 'a')
            agent = optarg;
        else if (c == 'P') {
            if (memctl_parse_u64 (optarg, &page) || page == 0 || page > 10000)
                return memctl_usage_error (ctx, "--page wants 1 to 10000, not '%s'", optarg);
        }
        else if (c == 'o')
            output = optarg;
        else if (c == 'q')
            progress.quiet = true;
        else if ((rc = memctl_common_option (ctx, c, argv)) >= 0)
            return rc;
    }
    if (optind < argc)
        return memctl_usage_error (ctx, "unexpected argument '%s'", argv[optind]);
    if ((rc = memctl_connect (ctx)) >= 0)
        return rc;
    FILE *out = stdout;
    if (output) {
        int fd = open (output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || !(out = fdopen (fd, "w"))) {
            fprintf (stderr, "memctl: cannot write %s: %s\n", output, strerror (errno));
            if (fd >= 0)
                close (fd);
            return EXIT_REFUSED;
        }
    }
    Memd__V1__Export exp = MEMD__V1__EXPORT__INIT;
    exp.all_agents = agent == NULL;
    exp.limit = (uint32_t) page;
    Memd__V1__Request req = MEMD__V1__REQUEST__INIT;
    req.agent_id = agent ? (char *) agent : "";
    req.op_case = MEMD__V1__REQUEST__OP_EXPORT_RECORDS;
    req.export_records = &exp;
    uint64_t written = 0, scanned = 0, total = 0;
    bool more = true;
    rc = 0;
    while (more && !rc) {
        Memd__V1__Reply *reply = memd_client_call (ctx->client, &req, false);
        if (!reply) {
            rc = memctl_fail_client (ctx);
            break;
        }
        const Memd__V1__ExportResult *r = reply->export_records;
        if (!r || reply->result_case != MEMD__V1__REPLY__RESULT_EXPORT_RECORDS) {
            memd_client_reply_free (&reply);
            rc = memctl_fail (ctx, MEMD__V1__CODE__INTERNAL, "memd sent no export page");
            break;
        }
        for (size_t i = 0; i < r->n_records && !rc; i++) {
            char *line = memctl_jsonl_format (r->records[i]);
            if (!line || fputs (line, out) == EOF || fputc ('\n', out) == EOF) {
                fprintf (stderr, "memctl: writing %s: %s\n", output ? output : "stdout",
                         line ? strerror (errno) : "out of memory");
                rc = EXIT_REFUSED;
            }
            free (line);
        }
        written += r->n_records;
        scanned += r->scanned;
        total = r->store_records;
        more = r->more;
        exp.after_id = r->next_after_id;
        memd_client_reply_free (&reply);
        s_progress (&progress, false, "export: %llu records written, %llu of about %llu looked at",
                    (unsigned long long) written, (unsigned long long) scanned,
                    (unsigned long long) total);
    }
    if ((output && fclose (out)) || (!output && fflush (out))) {
        fprintf (stderr, "memctl: writing %s: %s\n", output ? output : "stdout", strerror (errno));
        rc = rc ? rc : EXIT_REFUSED;
    }
    if (!rc)
        s_progress (&progress, true, "export: %llu records written%s%s",
                    (unsigned long long) written, agent ? " for agent " : "", agent ? agent : "");
    return rc;
}

//  --------------------------------------------------------------------------
//  import

//  Old id → new id, for the map and for merged_into.
typedef struct {
    uint64_t (*pairs)[2];
    size_t n, cap;
    bool sorted;
} s_idmap_t;

static int
s_idmap_add (s_idmap_t *map, uint64_t from, uint64_t to)
{
    if (map->n == map->cap) {
        size_t cap = map->cap ? map->cap * 2 : 1024;
        void *grown = realloc (map->pairs, cap * sizeof *map->pairs);
        if (!grown)
            return -1;
        map->pairs = grown;
        map->cap = cap;
    }
    if (map->n && map->pairs[map->n - 1][0] >= from)
        map->sorted = false;
    map->pairs[map->n][0] = from;
    map->pairs[map->n][1] = to;
    map->n++;
    return 0;
}

//  The new id of from; 0 when unknown.
static uint64_t
s_idmap_get (const s_idmap_t *map, uint64_t from)
{
    if (map->sorted) {
        size_t lo = 0, hi = map->n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (map->pairs[mid][0] < from)
                lo = mid + 1;
            else
                hi = mid;
        }
        return lo < map->n && map->pairs[lo][0] == from ? map->pairs[lo][1] : 0;
    }
    for (size_t i = 0; i < map->n; i++)
        if (map->pairs[i][0] == from)
            return map->pairs[i][1];
    return 0;
}

typedef struct {
    ctx_t *ctx;
    bool keep_ids, quiet;
    Memd__V1__Record *batch[MAX_BATCH];
    size_t n, bytes, max;
    uint64_t first_line;          //  line number of batch[0]
    uint64_t records, added, known, duplicate;
    s_idmap_t map;
    json_t *json_map;
    s_progress_t progress;
} s_import_t;

static const char *
s_outcome_name (int outcome)
{
    return outcome == MEMD__V1__IMPORT_OUTCOME__IMPORT_ADDED       ? "added"
         : outcome == MEMD__V1__IMPORT_OUTCOME__IMPORT_KNOWN       ? "known"
         : outcome == MEMD__V1__IMPORT_OUTCOME__IMPORT_DUPLICATE ? "duplicate"
                                                                 : "?";
}

//  Sends the batch; returns 0 or an exit code (the error printed).
static int
s_import_flush (s_import_t *im)
{
    if (!im->n)
        return 0;
    Memd__V1__Import msg = MEMD__V1__IMPORT__INIT;
    msg.records = im->batch;
    msg.n_records = im->n;
    msg.keep_ids = im->keep_ids;
    Memd__V1__Request req = MEMD__V1__REQUEST__INIT;
    req.op_case = MEMD__V1__REQUEST__OP_IMPORT_RECORDS;
    req.import_records = &msg;
    Memd__V1__Reply *reply = memd_client_call (im->ctx->client, &req, false);
    int rc = 0;
    if (!reply) {
        char why[1200];
        snprintf (why, sizeof why, "lines %llu-%llu: %s", (unsigned long long) im->first_line,
                  (unsigned long long) (im->first_line + im->n - 1),
                  memd_client_error (im->ctx->client));
        rc = memctl_fail (im->ctx, memd_client_code (im->ctx->client), why);
    }
    else if (!reply->import_records || reply->import_records->n_ids != im->n
             || reply->import_records->n_outcomes != im->n) {
        rc = memctl_fail (im->ctx, MEMD__V1__CODE__INTERNAL, "memd's import reply does not match");
    }
    else {
        const Memd__V1__ImportResult *r = reply->import_records;
        for (size_t i = 0; i < im->n; i++) {
            uint64_t from = im->batch[i]->id, to = r->ids[i];
            int outcome = r->outcomes[i];
            im->added += outcome == MEMD__V1__IMPORT_OUTCOME__IMPORT_ADDED;
            im->known += outcome == MEMD__V1__IMPORT_OUTCOME__IMPORT_KNOWN;
            im->duplicate += outcome == MEMD__V1__IMPORT_OUTCOME__IMPORT_DUPLICATE;
            if (from && s_idmap_add (&im->map, from, to)) {
                rc = memctl_fail (im->ctx, MEMD__V1__CODE__RESOURCE_EXHAUSTED, "out of memory");
                break;
            }
            if (im->keep_ids || im->quiet)
                continue;
            if (im->json_map)
                json_array_append_new (im->json_map, json_pack ("[o, o]", memctl_json_u64 (from),
                                                                memctl_json_u64 (to)));
            else
                printf ("%llu %llu %s\n", (unsigned long long) from, (unsigned long long) to,
                        s_outcome_name (outcome));
        }
        im->records += im->n;
    }
    memd_client_reply_free (&reply);
    for (size_t i = 0; i < im->n; i++)
        memctl_jsonl_free (&im->batch[i]);
    im->first_line += im->n;
    im->n = 0;
    im->bytes = 0;
    if (!rc)
        s_progress (&im->progress, false, "import: %llu records, %llu added",
                    (unsigned long long) im->records, (unsigned long long) im->added);
    return rc;
}

int
memctl_cmd_import (ctx_t *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        COMMON_LONG,
        {"keep-ids", no_argument, NULL, 'K'},
        {"agent", required_argument, NULL, 'a'},
        {"batch", required_argument, NULL, 'b'},
        {"quiet", no_argument, NULL, 'q'},
        {NULL, 0, NULL, 0}};
    static s_import_t im;   //  the batch array is large: not on the stack
    memset (&im, 0, sizeof im);
    im.ctx = ctx;
    im.max = DEFAULT_BATCH;
    im.map.sorted = true;
    im.progress.tty = isatty (2) != 0;
    im.progress.last_ms = zclock_mono ();
    const char *agent = NULL;
    uint64_t batch = 0;
    int c, rc;
    while ((c = getopt_long (argc, argv, COMMON_SHORT "a:q", options, NULL)) != -1) {
        if (c == 'K')
            im.keep_ids = true;
        else if (c == 'a')
            agent = optarg;
        else if (c == 'b') {
            if (memctl_parse_u64 (optarg, &batch) || batch == 0 || batch > MAX_BATCH)
                return memctl_usage_error (ctx, "--batch wants 1 to %d, not '%s'", MAX_BATCH,
                                           optarg);
            im.max = (size_t) batch;
        }
        else if (c == 'q')
            im.quiet = im.progress.quiet = true;
        else if ((rc = memctl_common_option (ctx, c, argv)) >= 0)
            return rc;
    }
    if (argc - optind > 1)
        return memctl_usage_error (ctx, "unexpected argument '%s'", argv[optind + 1]);
    const char *path = optind < argc ? argv[optind] : "-";
    FILE *in = streq (path, "-") ? stdin : fopen (path, "r");
    if (!in) {
        fprintf (stderr, "memctl: cannot read %s: %s\n", path, strerror (errno));
        return EXIT_REFUSED;
    }
    if ((rc = memctl_connect (ctx)) >= 0) {
        if (in != stdin)
            fclose (in);
        return rc;
    }
    rc = 0;
    if (im.keep_ids) {
        //  Ids are the store's own: keeping them is safe only where none exist.
        Memd__V1__Reply *reply = memd_client_status (ctx->client);
        if (!reply)
            rc = memctl_fail_client (ctx);
        else if (reply->status_result->records_live + reply->status_result->records_tombstoned)
            rc = memctl_usage_error (
                ctx, "--keep-ids imports only into an empty store (this one has %llu records); "
                     "import without it to give the records new ids",
                (unsigned long long) (reply->status_result->records_live
                                      + reply->status_result->records_tombstoned));
        memd_client_reply_free (&reply);
    }
    if (ctx->json && !im.keep_ids && !im.quiet)
        im.json_map = json_array ();
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    uint64_t lineno = 0;
    im.first_line = 1;
    while (!rc && (len = getline (&line, &cap, in)) != -1) {
        lineno++;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        if (strspn (line, " \t") == (size_t) len) {
            if (!im.n)
                im.first_line = lineno + 1;
            continue;
        }
        char err[256];
        Memd__V1__Record *rec = memctl_jsonl_parse (line, (size_t) len, agent, err, sizeof err);
        if (!rec) {
            rc = s_import_flush (&im);
            if (!rc) {
                char why[320];
                snprintf (why, sizeof why, "line %llu: %s", (unsigned long long) lineno, err);
                rc = memctl_fail (ctx, MEMD__V1__CODE__INVALID_ARGUMENT, why);
            }
            break;
        }
        if (!im.keep_ids && rec->merged_into) {
            //  merged_into names an older record: map it to its new id (its
            //  line came first; if it is in this batch, send the batch now).
            uint64_t to = s_idmap_get (&im.map, rec->merged_into);
            bool pending = false;
            for (size_t i = 0; i < im.n && !pending && !to; i++)
                pending = im.batch[i]->id == rec->merged_into;
            if (pending && (rc = s_import_flush (&im))) {
                memctl_jsonl_free (&rec);
                break;
            }
            rec->merged_into = pending ? s_idmap_get (&im.map, rec->merged_into) : to;
        }
        size_t size = memd__v1__record__get_packed_size (rec);
        if (im.n && (im.n == im.max || im.bytes + size > MAX_BATCH_BYTES)
            && (rc = s_import_flush (&im))) {
            memctl_jsonl_free (&rec);
            break;
        }
        if (!im.n)
            im.first_line = lineno;
        im.batch[im.n++] = rec;
        im.bytes += size;
    }
    if (!rc && ferror (in)) {
        fprintf (stderr, "memctl: reading %s: %s\n", path, strerror (errno));
        rc = EXIT_REFUSED;
    }
    if (!rc)
        rc = s_import_flush (&im);
    for (size_t i = 0; i < im.n; i++)
        memctl_jsonl_free (&im.batch[i]);
    free (line);
    if (in != stdin)
        fclose (in);
    if (!rc) {
        s_progress (&im.progress, true, "import: %llu records, %llu added", (unsigned long long) im.records,
                    (unsigned long long) im.added);
        if (ctx->json) {
            json_t *doc = json_pack ("{s:o, s:o, s:o, s:o}", "records", memctl_json_u64 (im.records),
                                     "added", memctl_json_u64 (im.added), "known",
                                     memctl_json_u64 (im.known), "duplicate",
                                     memctl_json_u64 (im.duplicate));
            if (im.json_map)
                json_object_set_new (doc, "map", im.json_map);
            im.json_map = NULL;
            memctl_json_print (doc);
        }
        else
            printf ("imported %llu records: %llu added, %llu already known, %llu duplicates\n",
                    (unsigned long long) im.records, (unsigned long long) im.added,
                    (unsigned long long) im.known, (unsigned long long) im.duplicate);
    }
    json_decref (im.json_map);
    free (im.map.pairs);
    return rc;
}

//  --------------------------------------------------------------------------
//  backup

int
memctl_cmd_backup (ctx_t *ctx, int argc, char **argv)
{
    static const struct option options[] = {COMMON_LONG, {NULL, 0, NULL, 0}};
    int c, rc;
    bool timeout_given = false;
    while ((c = getopt_long (argc, argv, COMMON_SHORT, options, NULL)) != -1) {
        timeout_given = timeout_given || c == 't';
        if ((rc = memctl_common_option (ctx, c, argv)) >= 0)
            return rc;
    }
    if (argc - optind != 1)
        return memctl_usage_error (ctx, argc == optind ? "missing DIR"
                                                       : "unexpected argument '%s'",
                                   argv[optind + 1]);
    char dir[PATH_MAX + 1];
    const char *arg = argv[optind];
    if (arg[0] == '/')
        snprintf (dir, sizeof dir, "%s", arg);
    else {
        char cwd[PATH_MAX];
        if (!getcwd (cwd, sizeof cwd))
            return memctl_usage_error (ctx, "cannot tell the current directory: %s",
                                       strerror (errno));
        snprintf (dir, sizeof dir, "%s/%s", cwd, arg);
    }
    if (!timeout_given && ctx->timeout_ms == DEFAULT_TIMEOUT_MS)
        ctx->timeout_ms = BACKUP_TIMEOUT_MS;
    if ((rc = memctl_connect (ctx)) >= 0)
        return rc;
    Memd__V1__Backup backup = MEMD__V1__BACKUP__INIT;
    backup.dir = dir;
    Memd__V1__Request req = MEMD__V1__REQUEST__INIT;
    req.op_case = MEMD__V1__REQUEST__OP_BACKUP;
    req.backup = &backup;
    Memd__V1__Reply *reply = memd_client_call (ctx->client, &req, true);
    if (!reply || !reply->backup)
        rc = memctl_fail_client (ctx);
    else {
        const Memd__V1__BackupResult *b = reply->backup;
        const Memd__V1__VerifyResult *v = b->verify;
        bool ok = v && v->ok;
        if (ctx->json) {
            json_t *problems = json_array ();
            for (size_t i = 0; v && i < v->n_problems; i++)
                json_array_append_new (problems, memctl_json_string (v->problems[i]));
            memctl_json_print (json_pack (
                "{s:o, s:o, s:I, s:{s:b, s:o, s:o, s:o}}", "path", memctl_json_string (b->path),
                "bytes", memctl_json_u64 (b->bytes), "duration_ms", (json_int_t) b->duration_ms,
                "verify", "ok", ok, "records", memctl_json_u64 (v ? v->records : 0),
                "problem_count", memctl_json_u64 (v ? v->problem_count : 0), "problems",
                problems));
        }
        else {
            char size[32];
            memctl_format_bytes (b->bytes, size, sizeof size);
            for (size_t i = 0; v && i < v->n_problems; i++)
                printf ("problem: %s\n", v->problems[i]);
            printf ("backup %s: %s, %llu records, %lld ms, %s\n", b->path, size,
                    (unsigned long long) (v ? v->records : 0), (long long) b->duration_ms,
                    ok ? "verified" : "INCONSISTENT");
        }
        rc = ok ? 0 : EXIT_REFUSED;
    }
    memd_client_reply_free (&reply);
    return rc;
}
