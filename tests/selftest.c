/*  memd_selftest — runs the class selftests: all, or those named.
        memd_selftest [-v] [--test NAME]...
    Each ctest entry runs one class so a failure names it. */
#include <czmq.h>
#include "mem_actors.h"
#include "mem_codec.h"
#include "mem_config.h"
#include "mem_consolidate.h"
#include "mem_digest.h"
#include "mem_edges.h"
#include "mem_graph.h"
#include "mem_graph_build.h"
#include "mem_graph_link.h"
#include "mem_graph_recall.h"
#include "mem_graph_store.h"
#include "mem_export.h"
#include "mem_index.h"
#include "mem_jobs.h"
#include "mem_latency.h"
#include "mem_minhash.h"
#include "mem_records.h"
#include "mem_redact.h"
#include "mem_recstats.h"
#include "mem_stem.h"
#include "mem_store.h"
#include "mem_tokenizer.h"
#include "mem_prompt.h"
#include "mem_query.h"
#include "mem_search.h"
#include "mem_vectors.h"
#include "mem_verify.h"
#include "mem_watchpos.h"
#include "memd_transcript.h"

static const struct {
    const char *name;
    void (*test) (bool verbose);
} s_tests[] = {
    {"mem_stem", mem_stem_test},       {"mem_tokenizer", mem_tokenizer_test},
    {"mem_minhash", mem_minhash_test}, {"mem_digest", mem_digest_test},
    {"mem_codec", mem_codec_test},     {"mem_config", mem_config_test},
    {"mem_store", mem_store_test},     {"mem_index", mem_index_test},
    {"mem_records", mem_records_test}, {"mem_jobs", mem_jobs_test},
    {"mem_reaper", mem_reaper_test},   {"mem_edges", mem_edges_test},
    {"mem_verify", mem_verify_test},   {"mem_consolidate", mem_consolidate_test},
    {"mem_graph", mem_graph_test},     {"mem_graph_store", mem_graph_store_test},
    {"mem_graph_link", mem_graph_link_test}, {"mem_graph_build", mem_graph_build_test},
    {"mem_graph_recall", mem_graph_recall_test},
    {"mem_redact", mem_redact_test},   {"mem_latency", mem_latency_test},
    {"mem_export", mem_export_test},   {"mem_zap", mem_zap_test},
    {"mem_vectors", mem_vectors_test}, {"mem_query", mem_query_test},
    {"mem_search", mem_search_test},   {"mem_prompt", mem_prompt_test},
    {"mem_recstats", mem_recstats_test}, {"mem_lifecycle", mem_lifecycle_test},
    {"mem_redact", mem_redact_test},   {"mem_watchpos", mem_watchpos_test},
    {"memd_transcript", memd_transcript_test},
};
#define N_TESTS (sizeof s_tests / sizeof s_tests[0])

int
main (int argc, char *argv[])
{
    bool verbose = false;
    const char *only[N_TESTS + 1];
    size_t n_only = 0;
    for (int i = 1; i < argc; i++) {
        if (streq (argv[i], "-v") || streq (argv[i], "--verbose"))
            verbose = true;
        else if (streq (argv[i], "--test") && i + 1 < argc && n_only < N_TESTS)
            only[n_only++] = argv[++i];
        else if (streq (argv[i], "--list")) {
            for (size_t t = 0; t < N_TESTS; t++)
                printf ("%s\n", s_tests[t].name);
            return 0;
        }
        else {
            fprintf (stderr, "usage: memd_selftest [-v] [--list] [--test NAME]...\n");
            return 2;
        }
    }
    zsys_init ();
    size_t ran = 0;
    for (size_t t = 0; t < N_TESTS; t++) {
        bool wanted = n_only == 0;
        for (size_t o = 0; o < n_only; o++)
            wanted |= streq (only[o], s_tests[t].name);
        if (wanted) {
            s_tests[t].test (verbose);
            ran++;
        }
    }
    if (ran == 0) {
        fprintf (stderr, "memd_selftest: no test by that name (--list lists them)\n");
        return 2;
    }
    zsys_shutdown ();
    return 0;
}
