/*  bench_spine — memd's spine benchmark.

    On one deterministic synthetic corpus (bench_corpus) and one set of
    queries, in one run, measures:

    - memd: capture throughput (records/s, batches through the C client,
      acked only once durable) and recall latency (top-10, one query at a
      time over ipc), against a real `memd` this program starts on fresh
      temporary directories and stops at the end;
    - SQLite FTS5, in-process: insert throughput (same batches, one
      transaction each, WAL + synchronous=FULL on a file database) and
      bm25() top-10 query latency (the query words OR-joined);
    - the floor: a bare ZeroMQ ipc round trip (DEALER to a ROUTER echo
      thread) with request and reply sizes equal to memd's measured mean
      recall request and reply (64 / 2048 bytes when memd is not run).

    With --hybrid, every record is captured with an embedding (bench_embed:
    hashed character n-grams, a stand-in any machine computes) and memd's
    recall is measured a second time with the query's embedding too (the
    hybrid mode: BM25 and the int8 vector scan, fused), against the same
    FTS5 numbers. With --clients, recall throughput is measured with 1, 2,
    4 … concurrent clients (bench_clients).

    It prints a table of the ratios against the project's targets and
    writes every raw number to a JSON file (bench/results/spine.json).
    See docs/benchmarks.md.
*/
#include <czmq.h>
#include <zmq.h>
#include <sqlite3.h>
#include "memd_client.h"
#include "bench_corpus.h"
#include "bench_daemon.h"
#include "bench_clients.h"
#include "bench_embed.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define S_AGENT         "bench"
#define S_K             10     //  recall depth, both engines
#define S_WARMUP        50     //  queries run before measuring, both engines
#define S_CALL_MS       120000 //  client timeout for capture and recall calls
#define S_FLOOR_REQUEST 64     //  floor sizes when memd is not run
#define S_FLOOR_REPLY   2048

//  Targets from the project issue: memd against FTS5 and against the floor
#define S_TARGET_CAPTURE 2.5 //  memd capture rate >= 2.5x FTS5's
#define S_TARGET_P50     0.3 //  memd recall p50 <= 0.3x FTS5's
#define S_TARGET_P99     0.1 //  memd recall p99 <= 0.1x FTS5's
#define S_TARGET_FLOOR   2.5 //  memd recall p50 <= 2.5x the bare round trip

#define S_NO_HIT UINT32_MAX

typedef struct {
    size_t records;
    size_t queries;
    size_t batch;
    size_t vocab;
    uint64_t seed;
    const char *memd; //  memd binary; NULL = next to this one
    const char *json;
    bool no_memd;
    bool no_fts;
    bool verbose;
    bool hybrid;            //  embeddings at capture, and a hybrid recall run
    size_t dims;            //  their dimension
    size_t clients[8];      //  concurrency levels to measure (0 = none)
    size_t n_clients;
} s_opts_t;

//  Latency summary, microseconds
typedef struct {
    size_t n;
    double p50, p99, mean, min, max;
} s_stats_t;

//  What one engine (memd or FTS5) measured
typedef struct {
    bool ran;
    double capture_s; //  wall time of the whole capture
    double capture_rps;
    s_stats_t batch; //  per-batch capture latency
    s_stats_t recall;
    double hit_fraction; //  queries with >= 1 hit
    double mean_hits;
    uint32_t *top;        //  queries x S_K corpus indices (S_NO_HIT = none)
    uint32_t *hits;       //  hits per query (<= S_K)
    uint64_t store_bytes; //  on-disk size after capture
    //  memd only
    double ready_ms;      //  spawn to first successful ping
    double request_bytes; //  mean packed recall request
    double reply_bytes;   //  mean packed recall reply
    uint64_t records_live;
    char version[64];
    int exit_status; //  memd's exit code, or -signal
    s_stats_t hybrid; //  memd --hybrid: recall with the query embedding too
    double hybrid_hit_fraction;
    bench_clients_result_t throughput[8][2];   //  per --clients level: lexical, hybrid
} s_engine_t;

typedef struct {
    bool ran;
    size_t request_bytes;
    size_t reply_bytes;
    s_stats_t rt;
} s_floor_t;

typedef struct {
    s_opts_t opts;
    bench_corpus_t *corpus;
    const char *const *records;
    size_t n_records;
    const char *const *queries;
    size_t n_queries;
    float *query_embeddings;   //  n_queries x dims (--hybrid)
    char base[64];  //  temporary directory for everything; "" = none
    bench_daemon_t *daemon; //  memd while it runs
    s_engine_t memd;
    s_engine_t fts;
    s_floor_t floor;
    double overlap; //  mean top-10 overlap memd vs FTS5; NAN = n/a
} s_bench_t;

static volatile sig_atomic_t s_interrupted = 0;

//  --------------------------------------------------------------------------
//  Small helpers

static double s_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int s_double_compare (const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

//  Nearest-rank percentiles of n samples (sorted in place)
static void s_stats_compute (s_stats_t *stats, double *samples, size_t n)
{
    memset (stats, 0, sizeof (*stats));
    stats->n = n;
    if (n == 0) {
        stats->p50 = stats->p99 = stats->mean = stats->min = stats->max = NAN;
        return;
    }
    qsort (samples, n, sizeof (double), s_double_compare);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += samples[i];
    size_t r50 = (size_t)ceil (0.50 * (double)n);
    size_t r99 = (size_t)ceil (0.99 * (double)n);
    stats->p50 = samples[(r50 ? r50 : 1) - 1];
    stats->p99 = samples[(r99 ? r99 : 1) - 1];
    stats->mean = sum / (double)n;
    stats->min = samples[0];
    stats->max = samples[n - 1];
}

//  Creates every missing directory of path's parent (mkdir -p dirname)
static int s_mkdirs_for (const char *path)
{
    char dir[PATH_MAX];
    if (snprintf (dir, sizeof (dir), "%s", path) >= (int)sizeof (dir))
        return -1;
    char *slash = strrchr (dir, '/');
    if (!slash)
        return 0;
    *slash = 0;
    for (char *at = dir + 1; *at; at++) {
        if (*at != '/')
            continue;
        *at = 0;
        if (mkdir (dir, 0755) && errno != EEXIST)
            return -1;
        *at = '/';
    }
    if (*dir && mkdir (dir, 0755) && errno != EEXIST)
        return -1;
    return 0;
}

static uint64_t s_file_size (const char *path)
{
    struct stat st;
    return stat (path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static void s_progress (const char *phase, size_t done, size_t total, double start_us)
{
    double elapsed = (s_now_us () - start_us) / 1e6;
    fprintf (stderr, "bench_spine: %s %zu/%zu (%.1f s, %.0f/s)\n", phase, done, total, elapsed,
             elapsed > 0 ? (double)done / elapsed : 0);
}

//  True every tenth of total, for progress lines
static bool s_tenth (size_t done, size_t total, size_t step)
{
    size_t tenth = total / 10 ? total / 10 : 1;
    return done / tenth != (done - step) / tenth || done == total;
}

//  --------------------------------------------------------------------------
//  memd: start, capture, recall, stop

//  Stops memd, keeping its exit status
static void s_memd_stop (s_bench_t *self)
{
    if (self->daemon)
        self->memd.exit_status = bench_daemon_stop (&self->daemon);
}

typedef struct {
    uint64_t id;
    uint32_t index;
} s_id_map_t;

static int s_id_map_compare (const void *a, const void *b)
{
    uint64_t x = ((const s_id_map_t *)a)->id, y = ((const s_id_map_t *)b)->id;
    return x < y ? -1 : x > y;
}

//  Captures the corpus in batches; fills map (memd id -> corpus index)
static int s_memd_capture (s_bench_t *self, memd_client_t *client, s_id_map_t *map)
{
    int rc = -1;
    size_t batch = self->opts.batch;
    size_t n = self->n_records;
    size_t batches = (n + batch - 1) / batch;
    Memd__V1__Record *records = calloc (batch, sizeof (Memd__V1__Record));
    Memd__V1__Record **pointers = calloc (batch, sizeof (Memd__V1__Record *));
    char (*sessions)[32] = calloc (batch, 32);
    uint64_t *ids = calloc (n, sizeof (uint64_t));
    double *latency = calloc (batches, sizeof (double));
    size_t dims = self->opts.hybrid ? self->opts.dims : 0;
    float *vectors = dims ? malloc (batch * dims * sizeof (float)) : NULL;
    if (!records || !pointers || !sessions || !ids || !latency || (dims && !vectors))
        goto done;

    memd_client_set_timeout (client, S_CALL_MS);
    double start = s_now_us ();
    size_t b = 0;
    for (size_t i = 0; i < n; i += batch, b++) {
        size_t count = n - i < batch ? n - i : batch;
        for (size_t j = 0; j < count; j++) {
            memd__v1__record__init (&records[j]);
            snprintf (sessions[j], sizeof (sessions[j]), "s%zu", (i + j) / 100);
            records[j].agent_id = (char *)S_AGENT;
            records[j].session_id = sessions[j];
            records[j].kind = MEMD__V1__KIND__EPISODIC;
            records[j].text = (char *)self->records[i + j];
            if (dims) {
                records[j].embedding = vectors + j * dims;
                records[j].n_embedding = dims;
                bench_embed (records[j].text, records[j].embedding, dims);
            }
            pointers[j] = &records[j];
        }
        double sent = s_now_us ();
        if (memd_client_capture (client, S_AGENT, pointers, count, ids + i, NULL)) {
            fprintf (stderr, "bench_spine: memd capture of records %zu..%zu failed: %s\n", i,
                     i + count - 1, memd_client_error (client));
            goto done;
        }
        latency[b] = s_now_us () - sent;
        if (s_interrupted)
            goto done;
        if (s_tenth (i + count, n, count))
            s_progress ("memd capture", i + count, n, start);
    }
    double elapsed = s_now_us () - start;
    self->memd.capture_s = elapsed / 1e6;
    self->memd.capture_rps = (double)n / (elapsed / 1e6);
    s_stats_compute (&self->memd.batch, latency, batches);
    for (size_t i = 0; i < n; i++) {
        map[i].id = ids[i];
        map[i].index = (uint32_t)i;
    }
    qsort (map, n, sizeof (s_id_map_t), s_id_map_compare);
    rc = 0;
done:
    free (records);
    free (pointers);
    free (sessions);
    free (ids);
    free (latency);
    free (vectors);
    return rc;
}

//  Runs the warm-up and the measured recall queries, one at a time
static int s_memd_recall (s_bench_t *self, memd_client_t *client, const s_id_map_t *map)
{
    size_t q = self->n_queries;
    double *latency = calloc (q, sizeof (double));
    if (!latency)
        return -1;
    size_t with_hits = 0, hits_total = 0;
    double request_bytes = 0, reply_bytes = 0;
    double start = s_now_us ();
    for (size_t i = 0; i < S_WARMUP + q; i++) {
        bool measured = i >= S_WARMUP;
        size_t qi = measured ? i - S_WARMUP : i % q;
        if (i == S_WARMUP)
            start = s_now_us (); //  progress rates count measured queries only
        Memd__V1__Recall recall = MEMD__V1__RECALL__INIT;
        recall.query = (char *)self->queries[qi];
        recall.k = S_K;
        double sent = s_now_us ();
        Memd__V1__Reply *reply = memd_client_recall (client, S_AGENT, &recall);
        double took = s_now_us () - sent;
        if (!reply) {
            fprintf (stderr, "bench_spine: memd recall of \"%s\" failed: %s\n", recall.query,
                     memd_client_error (client));
            free (latency);
            return -1;
        }
        if (measured) {
            latency[qi] = took;
            size_t n_hits = reply->recall ? reply->recall->n_hits : 0;
            with_hits += n_hits > 0;
            hits_total += n_hits;
            self->memd.hits[qi] = (uint32_t)(n_hits < S_K ? n_hits : S_K);
            for (size_t h = 0; h < self->memd.hits[qi]; h++) {
                Memd__V1__Record *record = reply->recall->hits[h]->record;
                s_id_map_t key = {record ? record->id : 0, 0};
                s_id_map_t *found =
                    bsearch (&key, map, self->n_records, sizeof (s_id_map_t), s_id_map_compare);
                self->memd.top[qi * S_K + h] = found ? found->index : S_NO_HIT;
            }
            //  Wire sizes, for the floor: the envelope the client sends
            Memd__V1__Request request = MEMD__V1__REQUEST__INIT;
            request.request_id = reply->request_id;
            request.protocol_version = 1;
            request.agent_id = (char *)S_AGENT;
            request.op_case = MEMD__V1__REQUEST__OP_RECALL;
            request.recall = &recall;
            request_bytes += (double)memd__v1__request__get_packed_size (&request);
            reply_bytes += (double)memd__v1__reply__get_packed_size (reply);
        }
        memd_client_reply_free (&reply);
        if (s_interrupted) {
            free (latency);
            return -1;
        }
        if (measured && s_tenth (qi + 1, q, 1))
            s_progress ("memd recall", qi + 1, q, start);
    }
    s_stats_compute (&self->memd.recall, latency, q);
    self->memd.hit_fraction = (double)with_hits / (double)q;
    self->memd.mean_hits = (double)hits_total / (double)q;
    self->memd.request_bytes = request_bytes / (double)q;
    self->memd.reply_bytes = reply_bytes / (double)q;
    free (latency);
    return 0;
}

//  The hybrid mode: the same queries with their embeddings, one at a time
static int s_memd_recall_hybrid (s_bench_t *self, memd_client_t *client)
{
    size_t q = self->n_queries, with_hits = 0;
    double *latency = calloc (q, sizeof (double));
    if (!latency)
        return -1;
    double start = s_now_us ();
    for (size_t i = 0; i < S_WARMUP + q; i++) {
        bool measured = i >= S_WARMUP;
        size_t qi = measured ? i - S_WARMUP : i % q;
        Memd__V1__Recall recall = MEMD__V1__RECALL__INIT;
        recall.query = (char *)self->queries[qi];
        recall.k = S_K;
        recall.query_embedding = self->query_embeddings + qi * self->opts.dims;
        recall.n_query_embedding = self->opts.dims;
        double sent = s_now_us ();
        Memd__V1__Reply *reply = memd_client_recall (client, S_AGENT, &recall);
        double took = s_now_us () - sent;
        if (!reply) {
            fprintf (stderr, "bench_spine: memd hybrid recall failed: %s\n",
                     memd_client_error (client));
            free (latency);
            return -1;
        }
        if (measured) {
            latency[qi] = took;
            with_hits += reply->recall && reply->recall->n_hits > 0;
            if (s_tenth (qi + 1, q, 1))
                s_progress ("memd hybrid recall", qi + 1, q, start);
        }
        memd_client_reply_free (&reply);
        if (s_interrupted) {
            free (latency);
            return -1;
        }
    }
    s_stats_compute (&self->memd.hybrid, latency, q);
    self->memd.hybrid_hit_fraction = (double)with_hits / (double)q;
    free (latency);
    return 0;
}

//  Throughput with each --clients level, lexical (and hybrid with --hybrid)
static int s_memd_throughput (s_bench_t *self)
{
    for (size_t l = 0; l < self->opts.n_clients; l++)
        for (int mode = 0; mode < (self->opts.hybrid ? 2 : 1); mode++) {
            bench_clients_result_t *r = &self->memd.throughput[l][mode];
            size_t clients = self->opts.clients[l];
            if (bench_clients_run (bench_daemon_endpoint (self->daemon), S_AGENT, self->queries,
                                   mode ? self->query_embeddings : NULL, self->opts.dims,
                                   self->n_queries, self->n_queries, clients, S_K, r))
                return -1;
            fprintf (stderr, "bench_spine: %s recall, %zu client(s): %.0f queries/s, p50 %.0f us, "
                             "p99 %.0f us\n",
                     mode ? "hybrid" : "lexical", clients, r->qps, r->p50_us, r->p99_us);
            if (s_interrupted)
                return -1;
        }
    return 0;
}

//  The whole memd side: start, wait, capture, status, recall, stop
static int s_memd_run (s_bench_t *self)
{
    int rc = -1;
    memd_client_t *client = NULL;
    s_id_map_t *map = calloc (self->n_records, sizeof (s_id_map_t));
    if (!map)
        goto done;
    self->daemon = bench_daemon_start (self->opts.memd, self->base, "bench_spine", &s_interrupted);
    if (!self->daemon)
        goto done;
    self->memd.ready_ms = bench_daemon_ready_ms (self->daemon);
    client = memd_client_new (bench_daemon_endpoint (self->daemon), 200);
    if (!client) {
        fprintf (stderr, "bench_spine: cannot create a memd client for %s\n",
                 bench_daemon_endpoint (self->daemon));
        goto done;
    }
    fprintf (stderr, "bench_spine: memd answered after %.1f ms\n", self->memd.ready_ms);

    if (s_memd_capture (self, client, map))
        goto done;
    Memd__V1__Reply *status = memd_client_status (client);
    if (status && status->status_result) {
        Memd__V1__StatusResult *result = status->status_result;
        snprintf (self->memd.version, sizeof (self->memd.version), "%s",
                  result->version ? result->version : "");
        self->memd.records_live = result->records_live;
        self->memd.store_bytes = result->store_bytes;
        if (result->records_live != self->n_records)
            fprintf (stderr,
                     "bench_spine: warning: memd reports %llu live records, "
                     "captured %zu\n",
                     (unsigned long long)result->records_live, self->n_records);
    } else
        fprintf (stderr, "bench_spine: warning: memd status failed: %s\n",
                 memd_client_error (client));
    memd_client_reply_free (&status);

    if (s_memd_recall (self, client, map))
        goto done;
    if (self->opts.hybrid && s_memd_recall_hybrid (self, client))
        goto done;
    if (self->opts.n_clients && s_memd_throughput (self))
        goto done;
    self->memd.ran = true;
    rc = 0;
done:
    memd_client_destroy (&client);
    s_memd_stop (self);
    free (map);
    return rc;
}

//  --------------------------------------------------------------------------
//  SQLite FTS5, in-process

static int s_sql_exec (sqlite3 *db, const char *sql)
{
    char *error = NULL;
    if (sqlite3_exec (db, sql, NULL, NULL, &error) != SQLITE_OK) {
        fprintf (stderr, "bench_spine: sqlite: %s: %s\n", sql, error ? error : "?");
        sqlite3_free (error);
        return -1;
    }
    return 0;
}

//  Builds the FTS5 query for a query: each word double-quoted, OR-joined
static char *s_fts_query (const char *words)
{
    size_t len = strlen (words);
    char *query = malloc (len * 6 + 3); //  per space: "\" OR \"" (6 bytes)
    if (!query)
        return NULL;
    char *out = query;
    *out++ = '"';
    for (const char *at = words; *at; at++) {
        if (*at == ' ')
            out += sprintf (out, "\" OR \"");
        else
            *out++ = *at;
    }
    *out++ = '"';
    *out = 0;
    return query;
}

static int s_fts_insert (s_bench_t *self, sqlite3 *db)
{
    int rc = -1;
    size_t batch = self->opts.batch;
    size_t n = self->n_records;
    size_t batches = (n + batch - 1) / batch;
    sqlite3_stmt *insert = NULL;
    double *latency = calloc (batches, sizeof (double));
    if (!latency)
        goto done;
    if (sqlite3_prepare_v2 (db, "INSERT INTO docs (rowid, text) VALUES (?1, ?2)", -1, &insert,
                            NULL) != SQLITE_OK) {
        fprintf (stderr, "bench_spine: sqlite prepare insert: %s\n", sqlite3_errmsg (db));
        goto done;
    }
    double start = s_now_us ();
    size_t b = 0;
    for (size_t i = 0; i < n; i += batch, b++) {
        size_t count = n - i < batch ? n - i : batch;
        double sent = s_now_us ();
        if (s_sql_exec (db, "BEGIN"))
            goto done;
        for (size_t j = 0; j < count; j++) {
            sqlite3_bind_int64 (insert, 1, (sqlite3_int64)(i + j + 1));
            sqlite3_bind_text (insert, 2, self->records[i + j], -1, SQLITE_STATIC);
            if (sqlite3_step (insert) != SQLITE_DONE) {
                fprintf (stderr, "bench_spine: sqlite insert: %s\n", sqlite3_errmsg (db));
                s_sql_exec (db, "ROLLBACK");
                goto done;
            }
            sqlite3_reset (insert);
        }
        if (s_sql_exec (db, "COMMIT"))
            goto done;
        latency[b] = s_now_us () - sent;
        if (s_interrupted)
            goto done;
        if (s_tenth (i + count, n, count))
            s_progress ("fts5 insert", i + count, n, start);
    }
    double elapsed = s_now_us () - start;
    self->fts.capture_s = elapsed / 1e6;
    self->fts.capture_rps = (double)n / (elapsed / 1e6);
    s_stats_compute (&self->fts.batch, latency, batches);
    rc = 0;
done:
    sqlite3_finalize (insert);
    free (latency);
    return rc;
}

static int s_fts_query_all (s_bench_t *self, sqlite3 *db)
{
    int rc = -1;
    size_t q = self->n_queries;
    sqlite3_stmt *select = NULL;
    double *latency = calloc (q, sizeof (double));
    char **match = calloc (q, sizeof (char *));
    if (!latency || !match)
        goto done;
    for (size_t i = 0; i < q; i++)
        if (!(match[i] = s_fts_query (self->queries[i])))
            goto done;
    if (sqlite3_prepare_v2 (db,
                            "SELECT rowid, bm25(docs) FROM docs WHERE docs MATCH ?1 "
                            "ORDER BY bm25(docs) LIMIT 10",
                            -1, &select, NULL) != SQLITE_OK) {
        fprintf (stderr, "bench_spine: sqlite prepare select: %s\n", sqlite3_errmsg (db));
        goto done;
    }
    size_t with_hits = 0, hits_total = 0;
    double start = s_now_us ();
    for (size_t i = 0; i < S_WARMUP + q; i++) {
        bool measured = i >= S_WARMUP;
        size_t qi = measured ? i - S_WARMUP : i % q;
        if (i == S_WARMUP)
            start = s_now_us (); //  progress rates count measured queries only
        double sent = s_now_us ();
        sqlite3_bind_text (select, 1, match[qi], -1, SQLITE_STATIC);
        size_t hits = 0;
        uint32_t top[S_K];
        int step;
        while ((step = sqlite3_step (select)) == SQLITE_ROW) {
            sqlite3_int64 rowid = sqlite3_column_int64 (select, 0);
            volatile double score = sqlite3_column_double (select, 1);
            (void)score;
            if (hits < S_K)
                top[hits] = (uint32_t)(rowid - 1);
            hits++;
        }
        sqlite3_reset (select);
        double took = s_now_us () - sent;
        if (step != SQLITE_DONE) {
            fprintf (stderr, "bench_spine: sqlite query %s: %s\n", match[qi], sqlite3_errmsg (db));
            goto done;
        }
        if (measured) {
            latency[qi] = took;
            with_hits += hits > 0;
            hits_total += hits;
            self->fts.hits[qi] = (uint32_t)(hits < S_K ? hits : S_K);
            memcpy (self->fts.top + qi * S_K, top, self->fts.hits[qi] * sizeof (uint32_t));
        }
        if (s_interrupted)
            goto done;
        if (measured && s_tenth (qi + 1, q, 1))
            s_progress ("fts5 query", qi + 1, q, start);
    }
    s_stats_compute (&self->fts.recall, latency, q);
    self->fts.hit_fraction = (double)with_hits / (double)q;
    self->fts.mean_hits = (double)hits_total / (double)q;
    rc = 0;
done:
    sqlite3_finalize (select);
    if (match)
        for (size_t i = 0; i < q; i++)
            free (match[i]);
    free (match);
    free (latency);
    return rc;
}

//  The whole FTS5 side on a file database in base/fts.db
static int s_fts_run (s_bench_t *self)
{
    if (!sqlite3_compileoption_used ("ENABLE_FTS5")) {
        fprintf (stderr,
                 "bench_spine: this SQLite (%s) was built without FTS5 "
                 "(SQLITE_ENABLE_FTS5); cannot run the FTS5 side (--no-fts skips it)\n",
                 sqlite3_libversion ());
        return -1;
    }
    char path[PATH_MAX];
    snprintf (path, sizeof (path), "%s/fts.db", self->base);
    int rc = -1;
    sqlite3 *db = NULL;
    sqlite3_stmt *pragma = NULL;
    if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        fprintf (stderr, "bench_spine: sqlite open %s: %s\n", path,
                 db ? sqlite3_errmsg (db) : "out of memory");
        goto done;
    }
    //  Durable like memd: WAL, fsync on every commit
    if (sqlite3_prepare_v2 (db, "PRAGMA journal_mode=WAL", -1, &pragma, NULL) != SQLITE_OK ||
        sqlite3_step (pragma) != SQLITE_ROW ||
        strcmp ((const char *)sqlite3_column_text (pragma, 0), "wal") != 0) {
        fprintf (stderr, "bench_spine: sqlite: cannot switch %s to WAL: %s\n", path,
                 sqlite3_errmsg (db));
        goto done;
    }
    sqlite3_finalize (pragma);
    pragma = NULL;
    if (s_sql_exec (db, "PRAGMA synchronous=FULL") ||
        s_sql_exec (db, "CREATE VIRTUAL TABLE docs USING fts5(text, "
                        "tokenize='porter unicode61')"))
        goto done;
    if (s_fts_insert (self, db))
        goto done;
    char wal[PATH_MAX + 8];
    snprintf (wal, sizeof (wal), "%s-wal", path);
    self->fts.store_bytes = s_file_size (path) + s_file_size (wal);
    if (s_fts_query_all (self, db))
        goto done;
    self->fts.ran = true;
    rc = 0;
done:
    sqlite3_finalize (pragma);
    sqlite3_close (db);
    return rc;
}

//  --------------------------------------------------------------------------
//  The floor: a bare ZeroMQ ipc round trip, DEALER to a ROUTER echo thread

typedef struct {
    void *router; //  bound by main, used only by the thread
    size_t reply_bytes;
} s_echo_t;

//  Answers every [identity][empty][request] with [identity][empty][reply]
//  until the context is shut down
static void *s_floor_echo (void *arg)
{
    s_echo_t *echo = arg;
    char *reply = calloc (1, echo->reply_bytes ? echo->reply_bytes : 1);
    zmq_msg_t identity, delimiter, request;
    zmq_msg_init (&identity);
    zmq_msg_init (&delimiter);
    zmq_msg_init (&request);
    memset (reply, 'r', echo->reply_bytes);
    while (reply) {
        if (zmq_msg_recv (&identity, echo->router, 0) < 0 ||
            zmq_msg_recv (&delimiter, echo->router, 0) < 0 ||
            zmq_msg_recv (&request, echo->router, 0) < 0) {
            if (errno == EINTR)
                continue;
            break; //  ETERM: the bench is done
        }
        if (zmq_msg_send (&identity, echo->router, ZMQ_SNDMORE) < 0 ||
            zmq_send (echo->router, "", 0, ZMQ_SNDMORE) < 0 ||
            zmq_send (echo->router, reply, echo->reply_bytes, 0) < 0)
            break;
    }
    zmq_msg_close (&identity);
    zmq_msg_close (&delimiter);
    zmq_msg_close (&request);
    zmq_close (echo->router);
    free (reply);
    return NULL;
}

//  One round trip on the DEALER; -1 on failure
static int s_floor_round_trip (void *dealer, const char *request, size_t size, zmq_msg_t *reply)
{
    if (zmq_send (dealer, "", 0, ZMQ_SNDMORE) < 0 || zmq_send (dealer, request, size, 0) < 0)
        return -1;
    int more = 1;
    size_t frames = 0;
    while (more) {
        if (zmq_msg_recv (reply, dealer, 0) < 0)
            return -1;
        more = zmq_msg_more (reply);
        frames++;
    }
    return frames == 2 ? 0 : -1;
}

static int s_floor_run (s_bench_t *self)
{
    s_floor_t *result = &self->floor;
    result->request_bytes =
        self->memd.ran ? (size_t)lround (self->memd.request_bytes) : S_FLOOR_REQUEST;
    result->reply_bytes = self->memd.ran ? (size_t)lround (self->memd.reply_bytes) : S_FLOOR_REPLY;
    char endpoint[PATH_MAX];
    snprintf (endpoint, sizeof (endpoint), "ipc://%s/floor.sock", self->base);

    int rc = -1;
    bool threaded = false;
    pthread_t thread;
    void *dealer = NULL;
    size_t q = self->n_queries;
    char *request = calloc (1, result->request_bytes + 1);
    double *latency = calloc (q, sizeof (double));
    void *ctx = zmq_ctx_new ();
    s_echo_t echo = {NULL, result->reply_bytes};
    zmq_msg_t reply;
    zmq_msg_init (&reply);
    if (!request || !latency || !ctx)
        goto done;
    memset (request, 'q', result->request_bytes);
    int linger = 0;
    echo.router = zmq_socket (ctx, ZMQ_ROUTER);
    if (!echo.router || zmq_bind (echo.router, endpoint)) {
        fprintf (stderr, "bench_spine: floor bind %s: %s\n", endpoint, zmq_strerror (errno));
        if (echo.router)
            zmq_close (echo.router);
        goto done;
    }
    zmq_setsockopt (echo.router, ZMQ_LINGER, &linger, sizeof (linger));
    //  pthread_create is a full barrier: the thread owns the socket from here
    if (pthread_create (&thread, NULL, s_floor_echo, &echo)) {
        zmq_close (echo.router);
        goto done;
    }
    threaded = true;
    dealer = zmq_socket (ctx, ZMQ_DEALER);
    if (!dealer || zmq_connect (dealer, endpoint)) {
        fprintf (stderr, "bench_spine: floor connect %s: %s\n", endpoint, zmq_strerror (errno));
        goto done;
    }
    zmq_setsockopt (dealer, ZMQ_LINGER, &linger, sizeof (linger));
    for (size_t i = 0; i < S_WARMUP + q; i++) {
        double sent = s_now_us ();
        if (s_floor_round_trip (dealer, request, result->request_bytes, &reply)) {
            fprintf (stderr, "bench_spine: floor round trip failed: %s\n",
                     s_interrupted ? "interrupted" : zmq_strerror (errno));
            goto done;
        }
        double took = s_now_us () - sent;
        if (zmq_msg_size (&reply) != result->reply_bytes) {
            fprintf (stderr, "bench_spine: floor reply of %zu bytes, expected %zu\n",
                     zmq_msg_size (&reply), result->reply_bytes);
            goto done;
        }
        if (i >= S_WARMUP)
            latency[i - S_WARMUP] = took;
    }
    s_stats_compute (&result->rt, latency, q);
    result->ran = true;
    rc = 0;
done:
    zmq_msg_close (&reply);
    if (dealer)
        zmq_close (dealer);
    if (ctx) {
        zmq_ctx_shutdown (ctx);
        if (threaded)
            pthread_join (thread, NULL);
        zmq_ctx_term (ctx);
    }
    free (request);
    free (latency);
    return rc;
}

//  --------------------------------------------------------------------------
//  Results: overlap, ratios, table, JSON

//  Mean over queries of |memd top-10 ∩ FTS5 top-10| / max(sizes): how far
//  the two rankers agree (ties and BM25 parameters make 1.0 unlikely)
static double s_overlap (s_bench_t *self)
{
    if (!self->memd.ran || !self->fts.ran)
        return NAN;
    double sum = 0;
    for (size_t qi = 0; qi < self->n_queries; qi++) {
        const uint32_t *a = self->memd.top + qi * S_K, *b = self->fts.top + qi * S_K;
        size_t na = self->memd.hits[qi], nb = self->fts.hits[qi];
        size_t common = 0;
        for (size_t i = 0; i < na; i++)
            for (size_t j = 0; j < nb; j++)
                if (a[i] != S_NO_HIT && a[i] == b[j]) {
                    common++;
                    break;
                }
        size_t most = na > nb ? na : nb;
        sum += most ? (double)common / (double)most : 1.0;
    }
    return sum / (double)self->n_queries;
}

typedef struct {
    const char *key; //  JSON key
    double ratio;    //  NAN when a side did not run
    double target;
    bool at_least; //  ratio >= target passes (else <=)
} s_ratio_t;

static void s_ratios (s_bench_t *self, s_ratio_t ratios[4])
{
    bool both = self->memd.ran && self->fts.ran;
    ratios[0] = (s_ratio_t){"capture", both ? self->memd.capture_rps / self->fts.capture_rps : NAN,
                            S_TARGET_CAPTURE, true};
    ratios[1] =
        (s_ratio_t){"recall_p50", both ? self->memd.recall.p50 / self->fts.recall.p50 : NAN,
                    S_TARGET_P50, false};
    ratios[2] =
        (s_ratio_t){"recall_p99", both ? self->memd.recall.p99 / self->fts.recall.p99 : NAN,
                    S_TARGET_P99, false};
    ratios[3] = (s_ratio_t){
        "recall_p50_vs_floor",
        self->memd.ran && self->floor.ran ? self->memd.recall.p50 / self->floor.rt.p50 : NAN,
        S_TARGET_FLOOR, false};
}

static bool s_ratio_pass (const s_ratio_t *ratio)
{
    return ratio->at_least ? ratio->ratio >= ratio->target : ratio->ratio <= ratio->target;
}

//  Formats value with decimals, or "-" when it is not a number
static const char *s_fmt (char *buf, size_t size, double value, int decimals, const char *suffix)
{
    if (isnan (value))
        snprintf (buf, size, "-");
    else
        snprintf (buf, size, "%.*f%s", decimals, value, suffix);
    return buf;
}

static void s_row (const char *metric, const char *memd, const char *fts, const s_ratio_t *ratio)
{
    char r[32] = "", t[32] = "";
    const char *verdict = "";
    if (ratio) {
        s_fmt (r, sizeof (r), ratio->ratio, 2, "x");
        snprintf (t, sizeof (t), "%s %.1fx", ratio->at_least ? ">=" : "<=", ratio->target);
        verdict = isnan (ratio->ratio) ? "n/a" : s_ratio_pass (ratio) ? "PASS" : "MISS";
    }
    char line[160];
    snprintf (line, sizeof (line), "%-28s %12s %12s %9s %9s  %s", metric, memd, fts, r, t,
              verdict);
    size_t len = strlen (line);
    while (len && line[len - 1] == ' ')
        line[--len] = 0;
    printf ("%s\n", line);
}

static void s_print_table (s_bench_t *self, const s_ratio_t ratios[4])
{
    char a[32], b[32];
    s_engine_t *m = &self->memd, *f = &self->fts;
    double nan = NAN;
    printf ("\nmemd spine benchmark: %zu records, vocab %zu, batch %zu, %zu queries, seed %llu\n",
            self->n_records, self->opts.vocab, self->opts.batch, self->n_queries,
            (unsigned long long)self->opts.seed);
    printf ("%-28s %12s %12s %9s %9s\n", "metric", "memd", "fts5", "ratio", "target");
    s_row ("capture records/s", s_fmt (a, 32, m->ran ? m->capture_rps : nan, 0, ""),
           s_fmt (b, 32, f->ran ? f->capture_rps : nan, 0, ""), &ratios[0]);
    s_row ("recall p50 (us)", s_fmt (a, 32, m->ran ? m->recall.p50 : nan, 1, ""),
           s_fmt (b, 32, f->ran ? f->recall.p50 : nan, 1, ""), &ratios[1]);
    s_row ("recall p99 (us)", s_fmt (a, 32, m->ran ? m->recall.p99 : nan, 1, ""),
           s_fmt (b, 32, f->ran ? f->recall.p99 : nan, 1, ""), &ratios[2]);
    char floor_text[40] = "-";
    if (self->floor.ran)
        snprintf (floor_text, sizeof (floor_text), "floor %.1f", self->floor.rt.p50);
    s_row ("recall p50 vs zmq floor", s_fmt (a, 32, m->ran ? m->recall.p50 : nan, 1, ""),
           floor_text, &ratios[3]);
    printf ("--\n");
    s_row ("recall mean (us)", s_fmt (a, 32, m->ran ? m->recall.mean : nan, 1, ""),
           s_fmt (b, 32, f->ran ? f->recall.mean : nan, 1, ""), NULL);
    s_row ("capture batch p50 (ms)", s_fmt (a, 32, m->ran ? m->batch.p50 / 1e3 : nan, 2, ""),
           s_fmt (b, 32, f->ran ? f->batch.p50 / 1e3 : nan, 2, ""), NULL);
    s_row ("capture batch p99 (ms)", s_fmt (a, 32, m->ran ? m->batch.p99 / 1e3 : nan, 2, ""),
           s_fmt (b, 32, f->ran ? f->batch.p99 / 1e3 : nan, 2, ""), NULL);
    s_row ("queries with >= 1 hit", s_fmt (a, 32, m->ran ? m->hit_fraction : nan, 3, ""),
           s_fmt (b, 32, f->ran ? f->hit_fraction : nan, 3, ""), NULL);
    s_row ("mean hits per query", s_fmt (a, 32, m->ran ? m->mean_hits : nan, 2, ""),
           s_fmt (b, 32, f->ran ? f->mean_hits : nan, 2, ""), NULL);
    s_row ("store size (MB)", s_fmt (a, 32, m->ran ? (double)m->store_bytes / 1e6 : nan, 1, ""),
           s_fmt (b, 32, f->ran ? (double)f->store_bytes / 1e6 : nan, 1, ""), NULL);
    s_row ("top-10 overlap memd/fts5", s_fmt (a, 32, self->overlap, 3, ""), "", NULL);
    if (self->opts.hybrid && m->ran) {
        printf ("-- hybrid: BM25 + %zu-d embeddings (hashed character n-grams), fused\n",
                self->opts.dims);
        bool both = f->ran;
        s_ratio_t p50 = {"hybrid_p50", both ? m->hybrid.p50 / f->recall.p50 : NAN, S_TARGET_P50,
                         false};
        s_ratio_t p99 = {"hybrid_p99", both ? m->hybrid.p99 / f->recall.p99 : NAN, S_TARGET_P99,
                         false};
        s_row ("hybrid recall p50 (us)", s_fmt (a, 32, m->hybrid.p50, 1, ""),
               s_fmt (b, 32, f->ran ? f->recall.p50 : nan, 1, ""), &p50);
        s_row ("hybrid recall p99 (us)", s_fmt (a, 32, m->hybrid.p99, 1, ""),
               s_fmt (b, 32, f->ran ? f->recall.p99 : nan, 1, ""), &p99);
        s_row ("hybrid queries with >= 1 hit", s_fmt (a, 32, m->hybrid_hit_fraction, 3, ""), "",
               NULL);
    }
    if (self->opts.n_clients && m->ran) {
        printf ("-- throughput (queries/s; p50 / p99 us), %u recall workers\n",
                (unsigned)sysconf (_SC_NPROCESSORS_ONLN));
        for (size_t l = 0; l < self->opts.n_clients; l++)
            for (int mode = 0; mode < (self->opts.hybrid ? 2 : 1); mode++) {
                const bench_clients_result_t *r = &m->throughput[l][mode];
                char label[64], lat[32];
                snprintf (label, sizeof (label), "%s, %zu client%s", mode ? "hybrid" : "lexical",
                          r->clients, r->clients == 1 ? "" : "s");
                snprintf (lat, sizeof (lat), "%.0f/%.0f", r->p50_us, r->p99_us);
                s_row (label, s_fmt (a, 32, r->qps, 0, ""), lat, NULL);
            }
    }
    if (self->floor.ran)
        printf ("zmq floor: %zu B request, %zu B reply, p50 %.1f us, p99 %.1f us\n",
                self->floor.request_bytes, self->floor.reply_bytes, self->floor.rt.p50,
                self->floor.rt.p99);
    for (int i = 0; i < 2; i++) {
        s_engine_t *engine = i ? f : m;
        if (engine->ran && engine->hit_fraction < 0.99)
            printf ("warning: %s returned no hits for %.1f%% of the queries\n",
                    i ? "fts5" : "memd", 100 * (1 - engine->hit_fraction));
    }
}

static void s_json_number (FILE *file, double value, int decimals)
{
    if (isnan (value) || isinf (value))
        fprintf (file, "null");
    else
        fprintf (file, "%.*f", decimals, value);
}

//  Writes s as a JSON string (our strings are ASCII; escape the rest)
static void s_json_string (FILE *file, const char *s)
{
    fputc ('"', file);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf (file, "\\%c", c);
        else if (c < 0x20)
            fprintf (file, "\\u%04x", c);
        else
            fputc (c, file);
    }
    fputc ('"', file);
}

static void s_json_stats (FILE *file, const char *key, const s_stats_t *stats, bool ran)
{
    fprintf (file, "\"%s\": {\"n\": %zu, \"p50_us\": ", key, ran ? stats->n : 0);
    s_json_number (file, ran ? stats->p50 : NAN, 2);
    fprintf (file, ", \"p99_us\": ");
    s_json_number (file, ran ? stats->p99 : NAN, 2);
    fprintf (file, ", \"mean_us\": ");
    s_json_number (file, ran ? stats->mean : NAN, 2);
    fprintf (file, ", \"min_us\": ");
    s_json_number (file, ran ? stats->min : NAN, 2);
    fprintf (file, ", \"max_us\": ");
    s_json_number (file, ran ? stats->max : NAN, 2);
    fprintf (file, "}");
}

static void s_json_engine (FILE *file, const char *key, const s_engine_t *engine, bool memd)
{
    bool ran = engine->ran;
    fprintf (file, "  \"%s\": {\n    \"ran\": %s,\n    \"capture\": {\"seconds\": ", key,
             ran ? "true" : "false");
    s_json_number (file, ran ? engine->capture_s : NAN, 6);
    fprintf (file, ", \"records_per_s\": ");
    s_json_number (file, ran ? engine->capture_rps : NAN, 1);
    fprintf (file, ", ");
    s_json_stats (file, "batch", &engine->batch, ran);
    fprintf (file, "},\n    ");
    s_json_stats (file, "recall", &engine->recall, ran);
    fprintf (file, ",\n    \"hit_fraction\": ");
    s_json_number (file, ran ? engine->hit_fraction : NAN, 4);
    fprintf (file, ", \"mean_hits\": ");
    s_json_number (file, ran ? engine->mean_hits : NAN, 3);
    fprintf (file, ",\n    \"store_bytes\": ");
    s_json_number (file, ran ? (double)engine->store_bytes : NAN, 0);
    if (memd) {
        fprintf (file, ",\n    \"version\": ");
        s_json_string (file, engine->version);
        fprintf (file, ", \"ready_ms\": ");
        s_json_number (file, ran ? engine->ready_ms : NAN, 2);
        fprintf (file, ", \"records_live\": ");
        s_json_number (file, ran ? (double)engine->records_live : NAN, 0);
        fprintf (file, ", \"exit_status\": %d", engine->exit_status);
        fprintf (file, ",\n    \"recall_request_bytes_mean\": ");
        s_json_number (file, ran ? engine->request_bytes : NAN, 1);
        fprintf (file, ", \"recall_reply_bytes_mean\": ");
        s_json_number (file, ran ? engine->reply_bytes : NAN, 1);
    } else
        fprintf (file,
                 ",\n    \"version\": \"%s\", \"pragmas\": [\"journal_mode=WAL\", "
                 "\"synchronous=FULL\"], \"tokenize\": \"porter unicode61\"",
                 sqlite3_libversion ());
    fprintf (file, "\n  },\n");
}

//  First "model name" line of /proc/cpuinfo, or ""
static void s_cpu_model (char *buf, size_t size)
{
    *buf = 0;
    FILE *file = fopen ("/proc/cpuinfo", "r");
    if (!file)
        return;
    char line[512];
    while (fgets (line, sizeof (line), file)) {
        char *colon = strchr (line, ':');
        if (strncmp (line, "model name", 10) == 0 && colon) {
            snprintf (buf, size, "%s", colon + 2);
            buf[strcspn (buf, "\n")] = 0;
            break;
        }
    }
    fclose (file);
}

static int s_write_json (s_bench_t *self, const s_ratio_t ratios[4])
{
    const char *path = self->opts.json;
    if (s_mkdirs_for (path)) {
        fprintf (stderr, "bench_spine: cannot create the directory of %s: %s\n", path,
                 strerror (errno));
        return -1;
    }
    FILE *file = fopen (path, "w");
    if (!file) {
        fprintf (stderr, "bench_spine: cannot write %s: %s\n", path, strerror (errno));
        return -1;
    }
    char stamp[32], cpu[256];
    time_t now = time (NULL);
    struct tm tm;
    strftime (stamp, sizeof (stamp), "%Y-%m-%dT%H:%M:%SZ", gmtime_r (&now, &tm));
    struct utsname uts;
    if (uname (&uts))
        memset (&uts, 0, sizeof (uts));
    s_cpu_model (cpu, sizeof (cpu));
    int zmaj, zmin, zpatch;
    zmq_version (&zmaj, &zmin, &zpatch);

    fprintf (file, "{\n  \"benchmark\": \"spine\",\n  \"timestamp\": \"%s\",\n", stamp);
    fprintf (file,
             "  \"params\": {\"records\": %zu, \"vocab\": %zu, \"batch\": %zu, "
             "\"queries\": %zu, \"seed\": %llu, \"warmup\": %d, \"k\": %d, "
             "\"zipf_s\": %.2f, \"words_per_record\": [%d, %d], "
             "\"words_per_query\": [%d, %d]},\n",
             self->n_records, self->opts.vocab, self->opts.batch, self->n_queries,
             (unsigned long long)self->opts.seed, S_WARMUP, S_K, BENCH_CORPUS_ZIPF_S,
             BENCH_CORPUS_WORDS_MIN, BENCH_CORPUS_WORDS_MAX, BENCH_CORPUS_QWORDS_MIN,
             BENCH_CORPUS_QWORDS_MAX);
    fprintf (file, "  \"corpus\": {\"words\": %zu, \"bytes\": %zu, \"hash\": \"%016llx\"},\n",
             bench_corpus_words (self->corpus), bench_corpus_bytes (self->corpus),
             (unsigned long long)bench_corpus_hash (self->corpus));
    fprintf (file,
             "  \"machine\": {\"nproc\": %ld, \"sysname\": ", sysconf (_SC_NPROCESSORS_ONLN));
    s_json_string (file, uts.sysname);
    fprintf (file, ", \"kernel\": ");
    s_json_string (file, uts.release);
    fprintf (file, ", \"arch\": ");
    s_json_string (file, uts.machine);
    fprintf (file, ", \"cpu\": ");
    s_json_string (file, cpu);
    fprintf (file, ", \"libzmq\": \"%d.%d.%d\", \"czmq\": \"%d.%d.%d\"},\n", zmaj, zmin, zpatch,
             CZMQ_VERSION_MAJOR, CZMQ_VERSION_MINOR, CZMQ_VERSION_PATCH);
    s_json_engine (file, "memd", &self->memd, true);
    s_json_engine (file, "fts5", &self->fts, false);
    fprintf (file, "  \"floor\": {\"ran\": %s, \"request_bytes\": %zu, \"reply_bytes\": %zu, ",
             self->floor.ran ? "true" : "false", self->floor.request_bytes,
             self->floor.reply_bytes);
    s_json_stats (file, "round_trip", &self->floor.rt, self->floor.ran);
    fprintf (file, "},\n  \"hybrid\": {\"ran\": %s, \"dims\": %zu, \"embedding\": "
                   "\"hashed character n-grams (bench_embed)\", ",
             self->opts.hybrid && self->memd.ran ? "true" : "false", self->opts.dims);
    s_json_stats (file, "recall", &self->memd.hybrid, self->opts.hybrid && self->memd.ran);
    fprintf (file, ", \"ratio_p50\": ");
    s_json_number (file, self->memd.hybrid.p50 / self->fts.recall.p50, 4);
    fprintf (file, ", \"ratio_p99\": ");
    s_json_number (file, self->memd.hybrid.p99 / self->fts.recall.p99, 4);
    fprintf (file, "},\n  \"throughput\": [");
    for (size_t l = 0; l < self->opts.n_clients && self->memd.ran; l++)
        for (int mode = 0; mode < (self->opts.hybrid ? 2 : 1); mode++) {
            const bench_clients_result_t *r = &self->memd.throughput[l][mode];
            fprintf (file, "%s{\"mode\": \"%s\", \"clients\": %zu, \"calls\": %zu, "
                           "\"queries_per_s\": %.1f, \"p50_us\": %.1f, \"p99_us\": %.1f}",
                     l || mode ? ", " : "", mode ? "hybrid" : "lexical", r->clients, r->calls,
                     r->qps, r->p50_us, r->p99_us);
        }
    fprintf (file, "],\n  \"top10_overlap\": ");
    s_json_number (file, self->overlap, 4);
    fprintf (file, ",\n  \"ratios\": {");
    for (int i = 0; i < 4; i++) {
        fprintf (file, "%s\"%s\": ", i ? ", " : "", ratios[i].key);
        s_json_number (file, ratios[i].ratio, 4);
    }
    fprintf (file, "},\n  \"targets\": {");
    for (int i = 0; i < 4; i++)
        fprintf (file, "%s\"%s\": {\"%s\": %.2f}", i ? ", " : "", ratios[i].key,
                 ratios[i].at_least ? "min" : "max", ratios[i].target);
    fprintf (file, "},\n  \"pass\": {");
    for (int i = 0; i < 4; i++)
        fprintf (file, "%s\"%s\": %s", i ? ", " : "", ratios[i].key,
                 isnan (ratios[i].ratio)     ? "null"
                 : s_ratio_pass (&ratios[i]) ? "true"
                                             : "false");
    fprintf (file, "}\n}\n");
    if (fclose (file)) {
        fprintf (stderr, "bench_spine: writing %s: %s\n", path, strerror (errno));
        return -1;
    }
    fprintf (stderr, "bench_spine: wrote %s\n", path);
    return 0;
}

//  --------------------------------------------------------------------------
//  Command line

static void s_usage (FILE *file)
{
    fprintf (file, "usage: bench_spine [OPTIONS]\n"
                   "Measures memd capture and recall against SQLite FTS5 and a bare ZeroMQ\n"
                   "round trip on one synthetic corpus; prints a table, writes JSON.\n\n"
                   "  --records N    records in the corpus (default 100000)\n"
                   "  --queries Q    recall queries (default 1000)\n"
                   "  --batch B      records per capture batch / transaction (default 500)\n"
                   "  --vocab V      vocabulary size (default 50000)\n"
                   "  --seed S       corpus seed (default 42)\n"
                   "  --quick        10000 records, 200 queries (a smoke run)\n"
                   "  --memd PATH    memd binary (default: next to bench_spine)\n"
                   "  --json PATH    results file (default bench/results/spine.json)\n"
                   "  --no-memd      skip memd (FTS5 and the floor only)\n"
                   "  --no-fts       skip SQLite FTS5\n"
                   "  --hybrid       capture embeddings too, and measure hybrid recall\n"
                   "  --dims N       embedding dimension with --hybrid (default 256)\n"
                   "  --clients LIST throughput with these numbers of concurrent clients,\n"
                   "                 e.g. 1,2,4\n"
                   "  --selftest     check the corpus generator and exit\n"
                   "  --verbose      more detail on stderr\n");
}

static int s_parse_size (const char *name, const char *text, size_t min, size_t max, size_t *value)
{
    char *end;
    errno = 0;
    unsigned long long number = strtoull (text, &end, 10);
    if (errno || end == text || *end || *text == '-' || number < min || number > max) {
        fprintf (stderr, "bench_spine: --%s wants an integer in %zu..%zu, not \"%s\"\n", name, min,
                 max, text);
        return -1;
    }
    *value = (size_t)number;
    return 0;
}

//  Parses argv into opts; returns 0, 1 for --help, -1 on error
static int s_parse_args (int argc, char **argv, s_opts_t *opts)
{
    enum {
        O_RECORDS = 256,
        O_QUERIES,
        O_BATCH,
        O_VOCAB,
        O_SEED,
        O_QUICK,
        O_MEMD,
        O_JSON,
        O_NO_MEMD,
        O_NO_FTS,
        O_SELFTEST,
        O_VERBOSE,
        O_HYBRID,
        O_DIMS,
        O_CLIENTS
    };
    static const struct option options[] = {{"records", required_argument, NULL, O_RECORDS},
                                            {"queries", required_argument, NULL, O_QUERIES},
                                            {"batch", required_argument, NULL, O_BATCH},
                                            {"vocab", required_argument, NULL, O_VOCAB},
                                            {"seed", required_argument, NULL, O_SEED},
                                            {"quick", no_argument, NULL, O_QUICK},
                                            {"memd", required_argument, NULL, O_MEMD},
                                            {"json", required_argument, NULL, O_JSON},
                                            {"no-memd", no_argument, NULL, O_NO_MEMD},
                                            {"no-fts", no_argument, NULL, O_NO_FTS},
                                            {"selftest", no_argument, NULL, O_SELFTEST},
                                            {"verbose", no_argument, NULL, O_VERBOSE},
                                            {"hybrid", no_argument, NULL, O_HYBRID},
                                            {"dims", required_argument, NULL, O_DIMS},
                                            {"clients", required_argument, NULL, O_CLIENTS},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    size_t records = 0, queries = 0, seed = 42;
    bool quick = false, selftest = false;
    opts->batch = 500;
    opts->vocab = 50000;
    opts->dims = BENCH_EMBED_DIMS;
    opts->json = "bench/results/spine.json";
    int option;
    while ((option = getopt_long (argc, argv, "h", options, NULL)) != -1) {
        switch (option) {
        case O_RECORDS:
            if (s_parse_size ("records", optarg, 1, UINT32_MAX - 1, &records))
                return -1;
            break;
        case O_QUERIES:
            if (s_parse_size ("queries", optarg, 1, 100000000, &queries))
                return -1;
            break;
        case O_BATCH:
            if (s_parse_size ("batch", optarg, 1, 10000, &opts->batch))
                return -1;
            break;
        case O_VOCAB:
            if (s_parse_size ("vocab", optarg, BENCH_CORPUS_VOCAB_MIN, BENCH_CORPUS_VOCAB_MAX,
                              &opts->vocab))
                return -1;
            break;
        case O_SEED:
            if (s_parse_size ("seed", optarg, 0, SIZE_MAX, &seed))
                return -1;
            break;
        case O_QUICK:
            quick = true;
            break;
        case O_MEMD:
            opts->memd = optarg;
            break;
        case O_JSON:
            opts->json = optarg;
            break;
        case O_NO_MEMD:
            opts->no_memd = true;
            break;
        case O_NO_FTS:
            opts->no_fts = true;
            break;
        case O_SELFTEST:
            selftest = true;
            break;
        case O_VERBOSE:
            opts->verbose = true;
            break;
        case O_HYBRID:
            opts->hybrid = true;
            break;
        case O_DIMS:
            if (s_parse_size ("dims", optarg, 2, 4096, &opts->dims))
                return -1;
            break;
        case O_CLIENTS: {
            opts->n_clients = 0;
            char *copy = strdup (optarg), *save = NULL;
            for (char *item = copy ? strtok_r (copy, ",", &save) : NULL; item;
                 item = strtok_r (NULL, ",", &save)) {
                if (opts->n_clients == 8
                    || s_parse_size ("clients", item, 1, 64, &opts->clients[opts->n_clients++])) {
                    free (copy);
                    return -1;
                }
            }
            free (copy);
            break;
        }
        case 'h':
            s_usage (stdout);
            return 1;
        default:
            s_usage (stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "bench_spine: unexpected argument \"%s\"\n", argv[optind]);
        s_usage (stderr);
        return -1;
    }
    //  Explicit sizes win over --quick, whatever the order
    opts->records = records ? records : quick ? 10000 : 100000;
    opts->queries = queries ? queries : quick ? 200 : 1000;
    opts->seed = seed;
    return selftest ? 2 : 0;
}

//  --------------------------------------------------------------------------
//  main: corpus, memd, FTS5, floor, report; always stops memd and cleans up

int main (int argc, char **argv)
{
    bench_daemon_catch_signals (&s_interrupted);

    s_bench_t bench;
    s_bench_t *self = &bench;
    memset (self, 0, sizeof (*self));
    self->overlap = NAN;
    int parsed = s_parse_args (argc, argv, &self->opts);
    if (parsed == 1)
        return 0;
    if (parsed < 0)
        return 2;
    if (parsed == 2) {
        int rc = bench_corpus_test (self->opts.verbose);
        printf ("bench_corpus selftest: %s\n", rc ? "FAILED" : "OK");
        return rc ? 1 : 0;
    }

    int rc = 1;
    double start = s_now_us ();
    fprintf (stderr,
             "bench_spine: building corpus: %zu records, vocab %zu, %zu queries, "
             "seed %llu\n",
             self->opts.records, self->opts.vocab, self->opts.queries,
             (unsigned long long)self->opts.seed);
    self->corpus = bench_corpus_new (self->opts.records, self->opts.vocab, self->opts.queries,
                                     self->opts.seed);
    if (!self->corpus) {
        fprintf (stderr, "bench_spine: cannot build the corpus (out of memory?)\n");
        goto done;
    }
    self->records = bench_corpus_records (self->corpus, &self->n_records);
    self->queries = bench_corpus_queries (self->corpus, &self->n_queries);
    fprintf (stderr, "bench_spine: corpus: %zu words, %.1f MB, hash %016llx (%.2f s)\n",
             bench_corpus_words (self->corpus), (double)bench_corpus_bytes (self->corpus) / 1e6,
             (unsigned long long)bench_corpus_hash (self->corpus), (s_now_us () - start) / 1e6);
    if (self->opts.verbose)
        fprintf (stderr, "bench_spine: first query \"%s\", first record \"%.60s...\"\n",
                 self->queries[0], self->records[0]);

    if (self->opts.hybrid) {
        self->query_embeddings = malloc (self->n_queries * self->opts.dims * sizeof (float));
        if (!self->query_embeddings)
            goto done;
        for (size_t q = 0; q < self->n_queries; q++)
            bench_embed (self->queries[q], self->query_embeddings + q * self->opts.dims,
                         self->opts.dims);
    }
    size_t slots = self->n_queries * S_K;
    self->memd.top = malloc (slots * sizeof (uint32_t));
    self->fts.top = malloc (slots * sizeof (uint32_t));
    self->memd.hits = calloc (self->n_queries, sizeof (uint32_t));
    self->fts.hits = calloc (self->n_queries, sizeof (uint32_t));
    if (!self->memd.top || !self->fts.top || !self->memd.hits || !self->fts.hits)
        goto done;

    snprintf (self->base, sizeof (self->base), "/tmp/memd-bench-XXXXXX");
    if (!mkdtemp (self->base)) {
        fprintf (stderr, "bench_spine: mkdtemp %s: %s\n", self->base, strerror (errno));
        *self->base = 0;
        goto done;
    }
    if (!self->opts.no_memd && s_memd_run (self))
        goto done;
    if (!self->opts.no_fts && !s_interrupted) {
        fprintf (stderr, "bench_spine: SQLite %s FTS5 in %s\n", sqlite3_libversion (), self->base);
        if (s_fts_run (self))
            goto done;
    }
    if (!s_interrupted) {
        fprintf (stderr, "bench_spine: zmq floor, %zu round trips\n", self->n_queries);
        if (s_floor_run (self))
            goto done;
    }
    if (s_interrupted)
        goto done;

    self->overlap = s_overlap (self);
    s_ratio_t ratios[4];
    s_ratios (self, ratios);
    s_print_table (self, ratios);
    fflush (stdout);
    if (s_write_json (self, ratios) == 0)
        rc = 0;
done:
    if (s_interrupted)
        fprintf (stderr, "bench_spine: interrupted\n");
    s_memd_stop (self);
    if (*self->base)
        bench_daemon_remove_tree (self->base);
    free (self->memd.top);
    free (self->fts.top);
    free (self->memd.hits);
    free (self->fts.hits);
    free (self->query_embeddings);
    bench_corpus_destroy (&self->corpus);
    return s_interrupted ? 130 : rc;
}
