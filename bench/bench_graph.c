/*  bench_graph — the graph builder's benchmark (issue 6).

    In one process, on a fresh temporary store (store/sync none: the disk is
    not what is measured), with memd's own storage code:

    - records from the spine benchmark's synthetic corpus (bench_corpus:
      Zipf words, 20–80 a record), in sessions of 20, are captured in
      batches of 1,000 (the index merged after each, as memd's writer does)
      and linked: first --link-records of them with memd's defaults
      (graph/lexical_k 5, lexical_min_percent 20, lexical_terms 12), which
      gives the cost of linking one captured record (its TEMPORAL and
      LEXICAL edges and its community), averaged per batch, p50/p99 over
      the batches. Random Zipf texts share few rare words, so the defaults
      make about one edge a record; to reach a million edges in reasonable
      time the rest are linked densely (lexical_k 10, 5 %), about eleven;
    - whenever the graph reaches the next size (10k, 100k, 1M edges by
      default), a full build of it on one core: wall time by phase (load
      from LMDB, compute: CSR + Louvain + PageRank, persist into the other
      slot and flip), the memory the build held at its peak (its own
      accounting: ids, edges, CSR, Louvain's levels, ranks, rows) and the
      process's RSS high-water mark; and the same build again in 10 ms
      steps, as the graph actor runs it, to show what slicing costs.

    Prints a table and writes JSON (bench/results/graph.json).

        bench_graph [--sizes 10000,100000,1000000] [--link-records N]
                    [--json PATH] [--keep DIR]
*/
#include <czmq.h>
#include <jansson.h>
#include "bench_corpus.h"
#include "mem_graph.h"
#include "mem_graph_build.h"
#include "mem_graph_link.h"
#include "mem_graph_store.h"
#include "mem_records.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define S_NAME      "bench_graph"
#define S_BATCH     1000
#define S_SESSION   20
#define S_MAX_SIZES 8
#define S_STEP_US   10000

typedef struct {
    uint64_t target, edges, nodes;
    uint32_t communities;
    double modularity;
    double build_ms, load_ms, compute_ms, persist_ms;
    double sliced_ms;            //  the same build in 10 ms steps
    unsigned steps;
    size_t peak_bytes;
    long maxrss_kb;
    unsigned levels, passes, iterations;
} s_size_t;

static double
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static long
s_maxrss_kb (void)
{
    struct rusage ru;
    getrusage (RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static int
s_double_cmp (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

//  Captures records [from, to) of the corpus in one transaction.
static void
s_capture (mem_store_t *store, mem_index_writer_t *index, const char *const *texts, size_t from,
           size_t to)
{
    MDB_txn *txn;
    if (mem_store_write_begin (store, &txn))
        exit (1);
    mem_capture_batch_t batch;
    mem_capture_batch_begin (&batch, store, txn, index);
    for (size_t i = from; i < to; i++) {
        char session[32];
        snprintf (session, sizeof session, "s%zu", i / S_SESSION);
        Memd__V1__Record rec = MEMD__V1__RECORD__INIT;
        rec.text = (char *) texts[i];
        rec.session_id = session;
        uint64_t id;
        bool dup;
        if (mem_records_capture (&batch, &rec, "bench", 1000 + (int64_t) i, &id, &dup))
            exit (1);
    }
    uint64_t first = batch.first_id + 1, last = batch.next_id;
    if (mem_capture_batch_finish (&batch) || mem_index_writer_flush (index, txn)
        || mem_graph_link_enqueue (store, txn, first, last, 1000)
        || mem_store_write_commit (store, &txn)) {
        fprintf (stderr, "%s: capture failed\n", S_NAME);
        exit (1);
    }
    //  Segments merged as the writer merges them between groups.
    for (bool worked = true; worked && mem_index_merge_pending (index);) {
        if (mem_store_write_begin (store, &txn) || mem_index_merge_step (index, txn, true, &worked)
            || mem_store_write_commit (store, &txn)) {
            fprintf (stderr, "%s: index merge failed\n", S_NAME);
            exit (1);
        }
    }
}

typedef struct {
    mem_store_t *store;
    const mem_graph_link_config_t *config;
    mem_graph_link_result_t result;
} s_link_t;

static int
s_link_work (MDB_txn *txn, void *arg)
{
    s_link_t *link = arg;
    return mem_graph_link_step (link->store, txn, link->config, SIZE_MAX, INT64_MAX, 2000,
                                &link->result);
}

//  A full build to the end; deadline_us per step (INT64_MAX: one go).
static const mem_graph_build_stats_t *
s_build (mem_store_t *store, uint32_t agent, int64_t step_us, double *ms, unsigned *steps,
         mem_graph_build_stats_t *copy)
{
    mem_graph_build_t *build = mem_graph_build_new (store, agent);
    bool done = false;
    *steps = 0;
    double t0 = s_now_ms ();
    while (!done) {
        int64_t deadline = step_us == INT64_MAX ? INT64_MAX : mem_graph_now_us () + step_us;
        if (mem_graph_build_step (build, deadline, 5000, &done)) {
            fprintf (stderr, "%s: build failed\n", S_NAME);
            exit (1);
        }
        (*steps)++;
    }
    *ms = s_now_ms () - t0;
    *copy = *mem_graph_build_stats (build);
    mem_graph_build_destroy (&build);
    return copy;
}

static void
s_usage (FILE *out)
{
    fprintf (out, "usage: %s [--sizes N,N,...] [--link-records N] [--json PATH] [--keep DIR]\n"
                  "  --sizes   graph sizes in edges to build at (default 10000,100000,1000000)\n"
                  "  --link-records  records linked with memd's defaults (default 20000)\n"
                  "  --json    results file (default bench/results/graph.json)\n"
                  "  --keep    build the store in DIR and keep it (default: a temporary one)\n",
             S_NAME);
}

int
main (int argc, char *argv[])
{
    uint64_t sizes[S_MAX_SIZES] = {10000, 100000, 1000000};
    size_t n_sizes = 3;
    const char *json = "bench/results/graph.json", *keep = NULL;
    size_t link_records = 20000;
    static const struct option options[] = {{"sizes", required_argument, NULL, 's'},
                                            {"link-records", required_argument, NULL, 'l'},
                                            {"json", required_argument, NULL, 'j'},
                                            {"keep", required_argument, NULL, 'k'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long (argc, argv, "s:l:j:k:h", options, NULL)) != -1) {
        if (c == 's') {
            n_sizes = 0;
            for (char *p = optarg; *p && n_sizes < S_MAX_SIZES;) {
                char *end;
                sizes[n_sizes++] = strtoull (p, &end, 10);
                p = *end == ',' ? end + 1 : end;
                if (end == p && *p) {
                    s_usage (stderr);
                    return 2;
                }
            }
        }
        else if (c == 'l')
            link_records = strtoul (optarg, NULL, 10);
        else if (c == 'j')
            json = optarg;
        else if (c == 'k')
            keep = optarg;
        else {
            s_usage (c == 'h' ? stdout : stderr);
            return c == 'h' ? 0 : 2;
        }
    }
    zsys_init ();
    char dir[256];
    if (keep)
        snprintf (dir, sizeof dir, "%s", keep);
    else {
        snprintf (dir, sizeof dir, "/tmp/memd-bench-graph-XXXXXX");
        if (!mkdtemp (dir)) {
            fprintf (stderr, "%s: mkdtemp: %s\n", S_NAME, strerror (errno));
            return 1;
        }
    }
    mem_store_options_t opts;
    mem_store_options_default (&opts);
    opts.dir = dir;
    opts.sync = MEM_SYNC_NONE;
    opts.map_size = (size_t) 4 << 30;
    char err[512];
    mem_store_t *store = mem_store_open (&opts, err, sizeof err);
    if (!store) {
        fprintf (stderr, "%s: %s\n", S_NAME, err);
        return 1;
    }
    mem_index_writer_t *index = mem_index_writer_new (store);
    mem_graph_link_config_t config, dense;
    mem_graph_link_config_default (&config);
    dense = config;
    dense.lexical_k = 10;
    dense.lexical_min = 0.05;

    //  Enough records for the largest size (dense: about 11 edges a record).
    uint64_t largest = sizes[n_sizes - 1];
    size_t n_records = link_records + (size_t) (largest / 8) + S_BATCH;
    fprintf (stderr, "%s: corpus of %zu records ...\n", S_NAME, n_records);
    bench_corpus_t *corpus = bench_corpus_new (n_records, 50000, 1, 42);
    size_t n_texts;
    const char *const *texts = bench_corpus_records (corpus, &n_texts);

    s_size_t results[S_MAX_SIZES];
    memset (results, 0, sizeof results);
    double *batch_us = calloc (n_records / S_BATCH + 1, sizeof *batch_us);
    size_t n_batches = 0, captured = 0, next_size = 0;
    uint64_t edges = 0, linked = 0, dense_linked = 0, default_edges = 0;
    double link_ms = 0, capture_ms = 0, dense_ms = 0;
    uint32_t agent = 0;
    while (next_size < n_sizes && captured < n_texts) {
        size_t to = captured + S_BATCH < n_texts ? captured + S_BATCH : n_texts;
        double t0 = s_now_ms ();
        s_capture (store, index, texts, captured, to);
        capture_ms += s_now_ms () - t0;
        t0 = s_now_ms ();
        bool defaults = captured < link_records;
        s_link_t link = {store, defaults ? &config : &dense, {0}};
        if (mem_store_write (store, s_link_work, &link)) {
            fprintf (stderr, "%s: link failed\n", S_NAME);
            return 1;
        }
        double took = s_now_ms () - t0;
        if (defaults) {
            link_ms += took;
            batch_us[n_batches++] = took * 1e3 / (double) (to - captured);
            linked += link.result.records;
            default_edges += link.result.edges;
        }
        else {
            dense_ms += took;
            dense_linked += link.result.records;
        }
        edges += link.result.edges;
        captured = to;
        if (!agent) {
            MDB_txn *txn;
            mem_store_read_begin (store, &txn);
            mem_agents_lookup (store, txn, "bench", false, &agent);
            mem_store_read_end (store, &txn);
        }
        if (edges < sizes[next_size])
            continue;
        s_size_t *r = &results[next_size++];
        mem_graph_build_stats_t st;
        double ms;
        unsigned steps;
        fprintf (stderr, "%s: %llu edges among %zu records: building ...\n", S_NAME,
                 (unsigned long long) edges, captured);
        s_build (store, agent, INT64_MAX, &ms, &steps, &st);
        r->target = sizes[next_size - 1];
        r->edges = st.edges;
        r->nodes = st.nodes;
        r->communities = st.communities;
        r->modularity = st.modularity;
        r->build_ms = ms;
        r->load_ms = st.load_us / 1e3;
        r->compute_ms = st.compute_us / 1e3;
        r->persist_ms = st.persist_us / 1e3;
        r->peak_bytes = st.peak_bytes;
        r->maxrss_kb = s_maxrss_kb ();
        r->levels = st.levels;
        r->passes = st.passes;
        r->iterations = st.iterations;
        s_build (store, agent, S_STEP_US, &r->sliced_ms, &r->steps, &st);
    }
    qsort (batch_us, n_batches, sizeof *batch_us, s_double_cmp);
    double p50 = n_batches ? batch_us[n_batches / 2] : 0;
    double p99 = n_batches ? batch_us[(size_t) ((n_batches - 1) * 0.99)] : 0;
    double per_record = linked ? link_ms * 1e3 / (double) linked : 0;

    double dense_us = dense_linked ? dense_ms * 1e3 / (double) dense_linked : 0;
    printf ("\nmemd graph builder: %zu records (spine corpus, sessions of %d), %llu edges\n",
            captured, S_SESSION, (unsigned long long) edges);
    printf ("linking a captured record, memd's defaults (%llu records, %.2f edges each): mean "
            "%.1f us, p50 %.1f us, p99 %.1f us (per batch of %d)\n",
            (unsigned long long) linked, linked ? (double) default_edges / (double) linked : 0,
            per_record, p50, p99, S_BATCH);
    printf ("linking densely (lexical_k 10, 5 %%; %llu records): mean %.1f us; capture %.1f us a "
            "record\n\n",
            (unsigned long long) dense_linked, dense_us,
            capture_ms * 1e3 / (double) (captured ? captured : 1));
    printf ("%9s %9s %9s %6s %6s | %9s %8s %8s %8s | %10s %9s | %9s %6s\n", "edges", "nodes",
            "communit.", "Q", "levels", "build ms", "load", "compute", "persist", "peak MiB",
            "RSS MiB", "10ms-step", "steps");
    for (size_t i = 0; i < next_size; i++) {
        const s_size_t *r = &results[i];
        printf ("%9llu %9llu %9u %6.3f %6u | %9.1f %8.1f %8.1f %8.1f | %10.1f %9.1f | %9.1f %6u\n",
                (unsigned long long) r->edges, (unsigned long long) r->nodes, r->communities,
                r->modularity, r->levels, r->build_ms, r->load_ms, r->compute_ms, r->persist_ms,
                r->peak_bytes / 1048576.0, r->maxrss_kb / 1024.0, r->sliced_ms, r->steps);
    }

    json_t *list = json_array ();
    for (size_t i = 0; i < next_size; i++) {
        const s_size_t *r = &results[i];
        json_array_append_new (
            list, json_pack ("{s:I, s:I, s:I, s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:i, s:I, s:I, "
                             "s:i, s:i, s:i}",
                             "target_edges", (json_int_t) r->target, "edges", (json_int_t) r->edges,
                             "nodes", (json_int_t) r->nodes, "communities", (int) r->communities,
                             "modularity", r->modularity, "build_ms", r->build_ms, "load_ms",
                             r->load_ms, "compute_ms", r->compute_ms, "persist_ms", r->persist_ms,
                             "sliced_build_ms", r->sliced_ms, "sliced_steps", (int) r->steps,
                             "peak_bytes", (json_int_t) r->peak_bytes, "maxrss_bytes",
                             (json_int_t) r->maxrss_kb * 1024, "louvain_levels", (int) r->levels,
                             "louvain_passes", (int) r->passes, "pagerank_iterations",
                             (int) r->iterations));
    }
    json_t *doc = json_pack (
        "{s:s, s:I, s:I, s:{s:I, s:f, s:f, s:f, s:f}, s:{s:I, s:f}, s:f, s:o}", "bench", "graph",
        "records", (json_int_t) captured, "edges", (json_int_t) edges, "link_defaults_us",
        "records", (json_int_t) linked, "edges_per_record",
        linked ? (double) default_edges / (double) linked : 0.0, "mean", per_record, "p50", p50,
        "p99", p99, "link_dense_us", "records", (json_int_t) dense_linked, "mean", dense_us,
        "capture_us", capture_ms * 1e3 / (double) (captured ? captured : 1), "builds", list);
    char path[512];
    snprintf (path, sizeof path, "%s", json);
    for (char *slash = strchr (path + 1, '/'); slash; slash = strchr (slash + 1, '/')) {
        *slash = 0;   //  mkdir -p of the file's directory
        mkdir (path, 0755);
        *slash = '/';
    }
    if (json_dump_file (doc, json, JSON_INDENT (2)) == 0)
        fprintf (stderr, "%s: wrote %s\n", S_NAME, json);
    else
        fprintf (stderr, "%s: cannot write %s\n", S_NAME, json);
    json_decref (doc);
    free (batch_us);
    bench_corpus_destroy (&corpus);
    mem_index_writer_destroy (&index);
    mem_store_destroy (&store);
    if (!keep) {
        char cmd[300];
        snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
        if (system (cmd)) {
        }
    }
    return 0;
}
