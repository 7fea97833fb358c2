/*  mem_graph_link — linking new records; see mem_graph_link.h. */
#include "mem_graph_link.h"
#include "mem_graph.h"
#include "mem_graph_store.h"
#include "mem_jobs.h"
#include "mem_log.h"
#include "mem_records.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINK_DEDUPE     "pending"   //  one unfinished link job at a time
#define LEXICAL_K_MAX   64
#define NEIGHBOURS_MAX  128         //  edges looked at to assign a community
#define JOBS_PER_STEP   64

void
mem_graph_link_config_default (mem_graph_link_config_t *config)
{
    config->lexical_k = 5;
    config->lexical_min = 0.2;
    config->lexical_terms = 12;
    config->job_history = 1000;
}

int
mem_graph_link_enqueue (mem_store_t *store, MDB_txn *txn, uint64_t first_id, uint64_t last_id,
                        int64_t now_ms)
{
    char payload[96];
    int len = snprintf (payload, sizeof payload, "{\"first_id\":%llu,\"last_id\":%llu}",
                        (unsigned long long) first_id, (unsigned long long) last_id);
    mem_job_spec_t spec = {.kind = MEM_GRAPH_LINK_KIND, .payload = payload,
                           .payload_len = (size_t) len, .dedupe_key = LINK_DEDUPE};
    mem_job_enqueued_t out;
    int rc = mem_jobs_enqueue (store, txn, &spec, now_ms, &out);
    if (rc == MEM_JOBS_KINDS_FULL) {
        //  The cursor links the records all the same: the job is a trigger.
        mem_log_warn ("graph: cannot queue a %s job (too many job kinds); linking goes on",
                      MEM_GRAPH_LINK_KIND);
        return 0;
    }
    return rc;
}

uint64_t
mem_graph_unlinked (mem_store_t *store, MDB_txn *txn)
{
    uint64_t next = mem_store_counter_get (txn, store, "next_id");
    uint64_t linked = mem_store_counter_get (txn, store, MEM_GRAPH_LINKED);
    return next > linked ? next - linked : 0;
}

typedef struct {
    uint64_t id;                 //  the record being linked: only older ones qualify
} s_older_t;

static bool
s_older (uint64_t id, void *arg)
{
    return id <= ((s_older_t *) arg)->id;
}

//  LEXICAL edges from rec to its most similar older records.
static int
s_link_lexical (mem_store_t *store, MDB_txn *txn, const mem_graph_link_config_t *config,
                uint32_t agent, const Memd__V1__Record *rec, unsigned *edges)
{
    unsigned k = config->lexical_k < LEXICAL_K_MAX ? config->lexical_k : LEXICAL_K_MAX;
    if (k == 0)
        return 0;
    mem_hit_t hits[LEXICAL_K_MAX + 1];
    unsigned n = 0;
    s_older_t older = {rec->id};
    int rc = mem_index_search_salient (store, txn, agent, rec->text, strlen (rec->text),
                                       config->lexical_terms, k + 1, s_older, &older, hits, &n);
    if (rc || n == 0)
        return rc;
    //  The record's own score is the scale: another record as similar as it
    //  is to itself scores 1.
    double self = hits[0].score;
    for (unsigned i = 0; i < n; i++)
        if (hits[i].id == rec->id)
            self = hits[i].score;
    if (self <= 0)
        return 0;
    for (unsigned i = 0; i < n && !rc; i++) {
        if (hits[i].id == rec->id)
            continue;
        double similarity = hits[i].score / self;
        if (similarity > 1)
            similarity = 1;
        if (similarity < config->lexical_min)
            continue;
        mem_edge_t edge = {rec->id, hits[i].id, MEM_EDGE_LEXICAL, (float) similarity};
        rc = mem_edges_put (store, txn, &edge);
        (*edges) += rc == 0;
    }
    return rc;
}

//  SEMANTIC edges: the seam for embeddings. Capture refuses embeddings
//  today; when records carry them (the recall issue's embedder), this is
//  where the top-k by cosine among the agent's older records becomes
//  edges, like s_link_lexical.
static int
s_link_semantic (mem_store_t *store, MDB_txn *txn, uint32_t agent, const Memd__V1__Record *rec,
                 unsigned *edges)
{
    return 0;
}

//  The community weighing most in id's edges (0: none assigned), from the
//  node rows of the agent's active slot.
static int
s_best_community (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint8_t slot, uint64_t id,
                  uint64_t *best)
{
    mem_edge_t edges[NEIGHBOURS_MAX];
    size_t n_out = 0, n_in = 0;
    int rc = mem_edges_list (store, txn, id, true, 0, edges, NEIGHBOURS_MAX / 2, &n_out);
    if (!rc)
        rc = mem_edges_list (store, txn, id, false, 0, edges + n_out, NEIGHBOURS_MAX / 2, &n_in);
    if (rc)
        return rc;
    uint64_t comms[NEIGHBOURS_MAX];
    double weight[NEIGHBOURS_MAX];
    size_t n_comms = 0;
    *best = 0;
    double best_weight = 0;
    for (size_t e = 0; e < n_out + n_in; e++) {
        uint64_t other = edges[e].src == id ? edges[e].dst : edges[e].src;
        mem_graph_node_t node;
        rc = mem_graph_node_get (store, txn, agent, slot, other, &node);
        if (rc == MDB_NOTFOUND || (!rc && !node.community))
            continue;
        if (rc)
            return rc;
        double w = mem_graph_edge_weight (&edges[e]);
        size_t c = 0;
        while (c < n_comms && comms[c] != node.community)
            c++;
        if (c == n_comms) {
            comms[n_comms] = node.community;
            weight[n_comms++] = 0;
        }
        weight[c] += w;
        if (weight[c] > best_weight || (weight[c] == best_weight && comms[c] < *best)) {
            best_weight = weight[c];
            *best = comms[c];
        }
    }
    return 0;
}

//  Links one live record: its edges, then its node row and the agent's
//  counts of what changed since the build.
static int
s_link_record (mem_store_t *store, MDB_txn *txn, const mem_graph_link_config_t *config,
               uint32_t agent, uint64_t id, unsigned *edges)
{
    Memd__V1__Record *rec;
    int rc = mem_records_get_any (store, txn, id, &rec);
    if (rc)
        return rc;
    *edges = 0;
    if (rec->session_id && *rec->session_id) {
        uint64_t prev;
        rc = mem_records_session_prev (store, txn, agent, rec->session_id, id, &prev);
        if (rc == 0) {
            mem_edge_t edge = {prev, id, MEM_EDGE_TEMPORAL, 1.0f};
            rc = mem_edges_put (store, txn, &edge);
            (*edges) += rc == 0;
        }
        else if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    if (!rc)
        rc = s_link_lexical (store, txn, config, agent, rec, edges);
    if (!rc)
        rc = s_link_semantic (store, txn, agent, rec, edges);
    memd__v1__record__free_unpacked (rec, NULL);

    mem_graph_meta_t meta;
    if (!rc)
        rc = mem_graph_meta_get (store, txn, agent, &meta);
    uint64_t community = 0;
    if (!rc && meta.generation > 0) {
        //  Between builds: the neighbours' community, else one of its own.
        rc = s_best_community (store, txn, agent, meta.slot, id, &community);
        if (!rc && !community) {
            community = id;
            meta.communities_added++;
        }
    }
    if (rc)
        return rc;
    uint64_t nodes = meta.nodes + meta.added + 1;
    mem_graph_node_t node = {community, (float) (1.0 / (double) nodes), 0};
    meta.added++;
    meta.edges_added += *edges;
    rc = mem_graph_node_put (store, txn, agent, meta.slot, id, &node);
    if (!rc)
        rc = mem_graph_meta_put (store, txn, agent, &meta);
    return rc;
}

//  Leases and completes the pending link jobs: the cursor has caught up,
//  so every one of them is done (the writer cannot add records while this
//  transaction holds the write lock).
static int
s_complete_jobs (mem_store_t *store, MDB_txn *txn, const mem_graph_link_config_t *config,
                 int64_t now_ms)
{
    const char *kinds[] = {MEM_GRAPH_LINK_KIND};
    mem_job_lease_t lease = {.kinds = kinds, .n_kinds = 1, .max_jobs = JOBS_PER_STEP,
                             .lease_ms = 60000, .owner = "memd-graph"};
    mem_jobs_policy_t policy = {1000, 300000, config->job_history, 1};
    for (;;) {
        Memd__V1__Job *jobs[JOBS_PER_STEP];
        size_t n = 0;
        int rc = mem_jobs_lease (store, txn, &lease, now_ms, jobs, &n);
        for (size_t i = 0; i < n; i++) {
            if (!rc)
                rc = mem_jobs_complete (store, txn, jobs[i]->id, jobs[i]->fence, now_ms, &policy,
                                        NULL);
            memd__v1__job__free_unpacked (jobs[i], NULL);
        }
        if (rc || n < JOBS_PER_STEP)
            return rc;
    }
}

static void
s_touch_agent (mem_graph_link_result_t *result, uint32_t agent)
{
    for (size_t i = 0; i < result->n_agents; i++)
        if (result->agents[i] == agent)
            return;
    if (result->n_agents < MEM_GRAPH_LINK_AGENTS)
        result->agents[result->n_agents++] = agent;
    else
        result->more_agents = true;
}

int
mem_graph_link_step (mem_store_t *store, MDB_txn *txn, const mem_graph_link_config_t *config,
                     size_t max, int64_t deadline_us, int64_t now_ms,
                     mem_graph_link_result_t *result)
{
    memset (result, 0, sizeof *result);
    uint64_t start = mem_store_counter_get (txn, store, MEM_GRAPH_LINKED);
    uint64_t next = mem_store_counter_get (txn, store, "next_id");
    uint64_t cursor = start;
    int rc = 0;
    while (cursor < next && !rc) {
        if (cursor > start && (cursor - start >= max || mem_graph_now_us () >= deadline_us))
            break;
        uint64_t id = cursor + 1;
        mem_docmeta_t meta;
        rc = mem_records_docmeta (store, txn, id, &meta);
        if (rc == MDB_NOTFOUND || (!rc && (meta.flags & MEM_DOC_TOMBSTONED)))
            rc = 0;   //  purged, or forgotten already: not a node
        else if (!rc) {
            unsigned edges;
            rc = s_link_record (store, txn, config, meta.agent, id, &edges);
            result->records++;
            result->edges += edges;
            s_touch_agent (result, meta.agent);
        }
        if (!rc)
            cursor = id;
    }
    if (!rc && cursor != start)
        rc = mem_store_counter_add (txn, store, MEM_GRAPH_LINKED, (int64_t) (cursor - start));
    result->cursor = cursor;
    result->done = !rc && cursor >= next;
    if (result->done)
        rc = s_complete_jobs (store, txn, config, now_ms);
    return rc;
}

//  --------------------------------------------------------------------------
//  Selftest

#undef NDEBUG
#include <assert.h>

//  Captures texts (one session each, or none) for agent in one txn.
static void
s_test_capture (mem_store_t *store, mem_index_writer_t *index, const char *agent,
                const char **texts, const char **sessions, size_t n, uint64_t *ids)
{
    MDB_txn *txn;
    assert (mem_store_write_begin (store, &txn) == 0);
    mem_capture_batch_t batch;
    assert (mem_capture_batch_begin (&batch, store, txn, index) == 0);
    for (size_t i = 0; i < n; i++) {
        Memd__V1__Record rec = MEMD__V1__RECORD__INIT;
        rec.text = (char *) texts[i];
        rec.session_id = sessions ? (char *) sessions[i] : "";
        bool dup;
        assert (mem_records_capture (&batch, &rec, agent, 1000, &ids[i], &dup) == 0 && !dup);
    }
    uint64_t first = batch.first_id + 1, last = batch.next_id;
    assert (mem_capture_batch_finish (&batch) == 0);
    assert (mem_index_writer_flush (index, txn) == 0);
    assert (mem_graph_link_enqueue (store, txn, first, last, 1000) == 0);
    assert (mem_store_write_commit (store, &txn) == 0);
}

static size_t
s_test_edges (mem_store_t *store, MDB_txn *txn, uint64_t id, bool out, mem_edge_type_t type,
              mem_edge_t *edges)
{
    size_t n;
    assert (mem_edges_list (store, txn, id, out, type, edges, 16, &n) == 0);
    return n;
}

void
mem_graph_link_test (bool verbose)
{
    printf (" * mem_graph_link: ");
    char dir[] = "/tmp/memd-graph-link-test-XXXXXX";
    assert (mkdtemp (dir));
    mem_store_options_t opts;
    mem_store_options_default (&opts);
    opts.dir = dir;
    opts.sync = MEM_SYNC_NONE;
    char err[256];
    mem_store_t *store = mem_store_open (&opts, err, sizeof err);
    assert (store);
    mem_index_writer_t *index = mem_index_writer_new (store);
    mem_graph_link_config_t config;
    mem_graph_link_config_default (&config);

    const char *texts[] = {"the lmdb store keeps every record durable",
                           "we chose lmdb because readers never block the writer",
                           "dinner plans: pasta with basil on friday",
                           "lmdb readers never block, the writer appends pages",
                           "fresh basil for the pasta on friday"};
    const char *sessions[] = {"s1", "s1", "s2", "s1", "s2"};
    uint64_t ids[5];
    s_test_capture (store, index, "a", texts, sessions, 5, ids);
    //  Another agent's near-identical text never links across agents.
    uint64_t other;
    s_test_capture (store, index, "b", texts + 1, NULL, 1, &other);

    MDB_txn *txn;
    assert (mem_store_read_begin (store, &txn) == 0);
    assert (mem_graph_unlinked (store, txn) == 6);
    mem_job_kind_stats_t *kinds;
    size_t n_kinds;
    assert (mem_jobs_stats (store, txn, 1000, &kinds, &n_kinds) == 0);
    //  Two captures, one pending job: the second enqueue was a duplicate.
    assert (n_kinds == 1 && kinds[0].count[MEMD__V1__JOB_STATE__JOB_QUEUED] == 1);
    free (kinds);
    mem_store_read_end (store, &txn);

    //  Link in steps of two records: three steps, the last completes the job.
    mem_graph_link_result_t result;
    int steps = 0;
    do {
        assert (mem_store_write_begin (store, &txn) == 0);
        assert (mem_graph_link_step (store, txn, &config, 2, INT64_MAX, 2000, &result) == 0);
        assert (mem_store_write_commit (store, &txn) == 0);
        steps++;
    } while (!result.done);
    assert (steps == 3 && result.cursor == other);

    assert (mem_store_read_begin (store, &txn) == 0);
    assert (mem_graph_unlinked (store, txn) == 0);
    mem_edge_t edges[16];
    //  TEMPORAL: 1 → 2 → 4 in s1, 3 → 5 in s2.
    size_t n = s_test_edges (store, txn, ids[1], true, MEM_EDGE_TEMPORAL, edges);
    assert (n == 1 && edges[0].dst == ids[3]);
    n = s_test_edges (store, txn, ids[0], true, MEM_EDGE_TEMPORAL, edges);
    assert (n == 1 && edges[0].dst == ids[1]);
    n = s_test_edges (store, txn, ids[2], true, MEM_EDGE_TEMPORAL, edges);
    assert (n == 1 && edges[0].dst == ids[4]);
    //  LEXICAL from newer to older: 4 → 2 (readers never block writer), and
    //  5 → 3 (basil); 3 (pasta) has no older match.
    n = s_test_edges (store, txn, ids[3], true, MEM_EDGE_LEXICAL, edges);
    bool to_2 = false;
    for (size_t i = 0; i < n; i++) {
        assert (edges[i].dst < ids[3] && edges[i].weight > 0 && edges[i].weight <= 1);
        to_2 = to_2 || edges[i].dst == ids[1];
    }
    assert (to_2);
    n = s_test_edges (store, txn, ids[4], true, MEM_EDGE_LEXICAL, edges);
    if (verbose)
        for (size_t i = 0; i < n; i++)
            printf ("%llu->%llu %.3f ", (unsigned long long) edges[i].src,
                    (unsigned long long) edges[i].dst, edges[i].weight);
    assert (n == 1 && edges[0].dst == ids[2]);
    assert (s_test_edges (store, txn, ids[2], true, MEM_EDGE_LEXICAL, edges) == 0);
    //  Agent b's record links to nothing of a's.
    assert (s_test_edges (store, txn, other, true, 0, edges) == 0);
    //  Never built: every linked record has a node row, no community yet.
    uint32_t agent;
    assert (mem_agents_lookup (store, txn, "a", false, &agent) == 0);
    mem_graph_meta_t meta;
    assert (mem_graph_meta_get (store, txn, agent, &meta) == 0);
    assert (meta.added == 5 && meta.generation == 0 && meta.edges_added >= 5);
    mem_graph_node_t node;
    assert (mem_graph_node_get (store, txn, agent, 0, ids[4], &node) == 0 && node.community == 0);
    //  The job was leased and completed in the last step.
    assert (mem_jobs_stats (store, txn, 3000, &kinds, &n_kinds) == 0);
    assert (kinds[0].count[MEMD__V1__JOB_STATE__JOB_QUEUED] == 0
            && kinds[0].count[MEMD__V1__JOB_STATE__JOB_LEASED] == 0
            && kinds[0].count[MEMD__V1__JOB_STATE__JOB_DONE] == 1);
    free (kinds);
    mem_store_read_end (store, &txn);

    //  After a build (generation 1, slot 1, two communities), a new record
    //  joins the community its edges point into; a forgotten one is skipped.
    assert (mem_store_write_begin (store, &txn) == 0);
    meta.generation = 1;
    meta.slot = 1;
    meta.nodes = 5;
    meta.added = 0;
    meta.edges_added = 0;
    assert (mem_graph_meta_put (store, txn, agent, &meta) == 0);
    for (int i = 0; i < 5; i++) {
        mem_graph_node_t built = {i == 2 || i == 4 ? ids[2] : ids[0], 0.2f, 0};
        assert (mem_graph_node_put (store, txn, agent, 1, ids[i], &built) == 0);
    }
    assert (mem_store_write_commit (store, &txn) == 0);
    const char *more[] = {"basil pesto needs fresh basil leaves", "a note nobody links to",
                          "zebra quokka xylophone"};
    const char *more_sessions[] = {"s3", "s3", "s4"};
    uint64_t more_ids[3];
    s_test_capture (store, index, "a", more, more_sessions, 3, more_ids);
    assert (mem_store_write_begin (store, &txn) == 0);
    assert (mem_records_forget (store, txn, agent, more_ids[1], 3000) == 0);
    assert (mem_graph_link_step (store, txn, &config, 100, INT64_MAX, 3000, &result) == 0);
    assert (result.done && result.records == 2 && result.n_agents == 1);
    assert (mem_graph_node_get (store, txn, agent, 1, more_ids[0], &node) == 0);
    assert (node.community == ids[2]);
    assert (mem_graph_node_get (store, txn, agent, 1, more_ids[1], &node) == MDB_NOTFOUND);
    assert (mem_graph_node_get (store, txn, agent, 1, more_ids[2], &node) == 0);
    assert (node.community == more_ids[2]);   //  no neighbours: a community of its own
    assert (mem_graph_meta_get (store, txn, agent, &meta) == 0);
    assert (meta.added == 2 && meta.communities_added == 1);
    uint64_t size;
    assert (mem_graph_community_size (store, txn, agent, 1, ids[2], &size) == 0 && size == 3);
    mem_store_write_commit (store, &txn);

    mem_index_writer_destroy (&index);
    mem_store_destroy (&store);
    char cmd[300];
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    assert (system (cmd) == 0);
    if (verbose)
        printf ("(%d steps) ", steps);
    printf ("OK\n");
}
