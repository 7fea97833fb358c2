/*  mem_daemon — start-up and orderly shutdown of memd; see mem_daemon.h.

    Start: the ZAP handler (before any public socket exists, DESIGN §11),
    store, reaper, graph, capture, recall pool, lifecycle, backup, frontend (binds
    the events endpoint, then the API), then transcript watching (when
    watch/dirs is set): it scans after memd serves.
    Stop: the reaper answers its parked leases, the frontend drains what is
    in flight, then every actor stops in reverse order of start. */
#include "mem_daemon.h"
#include "mem_actors.h"
#include "mem_log.h"
#include "mem_paths.h"
#include "mem_records.h"
#include <signal.h>
#include <stdatomic.h>

#define DRAIN_TIMEOUT_MS 10000
#define MAX_RECALL_WORKERS 256

struct _mem_daemon_t {
    mem_context_t ctx;
    char *data_dir;
    char *endpoint;
    int endpoint_lock;
    zactor_t *zap;
    zactor_t *backup;
    zactor_t *reaper;
    zactor_t *graph;
    zactor_t *capture;
    zactor_t *recall[MAX_RECALL_WORKERS];
    unsigned n_recall;
    zactor_t *lifecycle;
    zactor_t *frontend;
    zactor_t *watch;              //  NULL when watch/dirs is none
    char *events_endpoint;
    char *watch_dirs;
    atomic_bool failed;            //  the store failed a write: stopping
};

static mem_sync_t
s_sync_mode (const char *name)
{
    return streq (name, "none") ? MEM_SYNC_NONE : streq (name, "batch") ? MEM_SYNC_BATCH
                                                                        : MEM_SYNC_FULL;
}

//  The store failed a write (from the writing actor's thread): stop memd
//  the way SIGTERM does; main sees mem_daemon_failed and exits non-zero.
static void
s_on_store_failed (void *arg, int rc)
{
    mem_daemon_t *self = arg;
    atomic_store (&self->failed, true);
    kill (getpid (), SIGTERM);
}

bool
mem_daemon_failed (mem_daemon_t *self)
{
    return atomic_load (&self->failed);
}

mem_daemon_t *
mem_daemon_new (mem_config_t *config, char *err, size_t err_size)
{
    int64_t t0 = mem_mono_ms ();
    mem_daemon_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, err_size, "out of memory");
        return NULL;
    }
    self->endpoint_lock = -1;
    atomic_init (&self->failed, false);
    self->data_dir = strdup (mem_config_get (config, "store/data_dir"));
    self->endpoint = strdup (mem_config_get (config, "api/endpoint"));
    mem_context_t *ctx = &self->ctx;
    ctx->data_dir = self->data_dir;
    ctx->endpoint = self->endpoint;
    ctx->started_ms = mem_now_ms ();
    mem_limits_default (&ctx->limits);
    ctx->limits.max_message_bytes = (size_t) mem_config_int (config, "api/max_message_bytes");
    ctx->limits.max_batch = (size_t) mem_config_int (config, "capture/max_batch");
    ctx->limits.max_text_bytes = (size_t) mem_config_int (config, "capture/max_text_bytes");
    ctx->limits.max_payload_bytes = (size_t) mem_config_int (config, "jobs/max_payload_bytes");
    ctx->capture_queue = (size_t) mem_config_int (config, "capture/queue");
    mem_jobs_config_t *jobs = &ctx->jobs;
    jobs->lease_ms = mem_config_int (config, "jobs/lease_ms");
    jobs->max_attempts = (uint32_t) mem_config_int (config, "jobs/max_attempts");
    jobs->backoff_ms = mem_config_int (config, "jobs/backoff_ms");
    jobs->backoff_max_ms = mem_config_int (config, "jobs/backoff_max_ms");
    jobs->history = (uint64_t) mem_config_int (config, "jobs/history");
    jobs->queue = (size_t) mem_config_int (config, "jobs/queue");
    jobs->max_waiting = (size_t) mem_config_int (config, "jobs/max_waiting");
    int n_limits = mem_config_parse_limits (mem_config_get (config, "jobs/limits"), jobs->limits,
                                            sizeof jobs->limits / sizeof jobs->limits[0], err,
                                            err_size);
    if (n_limits < 0)
        goto failed;
    jobs->n_limits = (size_t) n_limits;
    mem_lifecycle_config_t *life = &ctx->lifecycle;
    life->drowsy_after_ms = mem_config_int (config, "lifecycle/drowsy_after_ms");
    life->sleep_after_ms = mem_config_int (config, "lifecycle/sleep_after_ms");
    mem_consolidate_config_t *cons = &life->consolidate;
    mem_consolidate_config_default (cons);
    cons->step_budget_ms = mem_config_int (config, "lifecycle/step_budget_ms");
    cons->duplicate_jaccard = mem_config_int (config, "lifecycle/duplicate_percent") / 100.0;
    cons->digest_after_ms = mem_config_int (config, "lifecycle/digest_after_ms");
    cons->digest_min_records = (unsigned) mem_config_int (config, "lifecycle/digest_min_records");
    cons->summarize_jobs = mem_config_int (config, "lifecycle/summarize_jobs") != 0;
    cons->decay_half_life_ms = mem_config_int (config, "lifecycle/decay_half_life_ms");
    cons->decay_floor = (float) mem_config_int (config, "lifecycle/decay_floor_percent") / 100.0f;
    cons->decay_interval_ms = mem_config_int (config, "lifecycle/decay_interval_ms");
    cons->co_recall_half_life_ms = mem_config_int (config, "lifecycle/co_recall_half_life_ms");
    cons->co_recall_floor =
        (float) mem_config_int (config, "lifecycle/co_recall_floor_percent") / 100.0f;
    cons->retention_ms = mem_config_int (config, "lifecycle/retention_ms");
    mem_graph_config_t *graph = &ctx->graph;
    mem_graph_link_config_default (&graph->link);
    graph->link.lexical_k = (unsigned) mem_config_int (config, "graph/lexical_k");
    graph->link.lexical_min = mem_config_int (config, "graph/lexical_min_percent") / 100.0;
    graph->link.lexical_terms = (unsigned) mem_config_int (config, "graph/lexical_terms");
    graph->link.job_history = jobs->history;
    graph->rebuild_fraction = mem_config_int (config, "graph/rebuild_percent") / 100.0;
    graph->rebuild_min_changes = (uint64_t) mem_config_int (config, "graph/rebuild_min_changes");
    graph->max_age_ms = mem_config_int (config, "graph/max_age_ms");
    graph->step_budget_ms = mem_config_int (config, "graph/step_budget_ms");
    const char *events = mem_config_get (config, "api/events_endpoint");
    if (!streq (events, "none")) {
        self->events_endpoint = strdup (events);
        ctx->events_endpoint = self->events_endpoint;
    }
    ctx->recall_queue = (size_t) mem_config_int (config, "recall/queue");
    ctx->recall_graph = streq (mem_config_get (config, "recall/graph"), "on");
    long workers = (long) mem_config_int (config, "recall/workers");
    if (workers == 0)
        workers = sysconf (_SC_NPROCESSORS_ONLN);
    ctx->recall_workers = (unsigned) (workers < 1 ? 1 : workers > MAX_RECALL_WORKERS
                                                            ? MAX_RECALL_WORKERS
                                                            : workers);

    const char *watch_dirs = mem_config_get (config, "watch/dirs");
    if (!streq (watch_dirs, "none")) {
        self->watch_dirs = strdup (watch_dirs);
        ctx->watch.dirs = self->watch_dirs;
    }
    ctx->watch.depth = (unsigned) mem_config_int (config, "watch/depth");
    ctx->watch.chunk_bytes = (size_t) mem_config_int (config, "watch/chunk_kb") << 10;
    ctx->watch.max_line_bytes = (size_t) mem_config_int (config, "watch/max_line_kb") << 10;
    ctx->watch.max_files = (size_t) mem_config_int (config, "watch/max_files");

    if (!(ctx->redact = mem_redact_from_config (config, err, err_size)))
        goto failed;

    int n_uids = mem_config_parse_uids (mem_config_get (config, "api/allow_uids"),
                                        ctx->allow_uids, MEM_ALLOW_UIDS_MAX, err, err_size);
    if (n_uids < 0)
        goto failed;
    ctx->n_allow_uids = (size_t) n_uids;
    ctx->allow_tcp = mem_config_int (config, "api/allow_tcp") != 0;
    ctx->ipc_uid_filter = mem_config_int (config, "api/ipc_uid_filter") != 0;

    self->endpoint_lock = mem_paths_claim_endpoint (self->endpoint, n_uids > 0, err, err_size);
    if (self->endpoint_lock == -1)
        goto failed;
    if (self->events_endpoint && strncmp (self->events_endpoint, "ipc://", 6) == 0) {
        char dir[4096];
        snprintf (dir, sizeof dir, "%s", self->events_endpoint + 6);
        char *slash = strrchr (dir, '/');
        if (slash && slash != dir) {
            *slash = 0;
            if (mem_paths_check_dir (dir, n_uids > 0, err, err_size))
                goto failed;
        }
    }
    //  Peers are authenticated from the first connection on: the handler
    //  exists before any public socket.
    if (!(self->zap = mem_actor_start (mem_zap_actor, ctx, err, err_size)))
        goto failed;

    mem_store_options_t opts;
    mem_store_options_default (&opts);
    opts.dir = self->data_dir;
    opts.map_size = (size_t) mem_config_int (config, "store/map_size_mb") << 20;
    opts.sync = s_sync_mode (mem_config_get (config, "store/sync"));
    opts.max_readers = ctx->recall_workers + 64;
    opts.on_fail = s_on_store_failed;
    opts.on_fail_arg = self;
    ctx->store = mem_store_open (&opts, err, err_size);
    if (!ctx->store)
        goto failed;

    //  The job queue (its wake line must exist before anyone enqueues), the
    //  writer and readers; the frontend binds the API last.
    if (!(self->reaper = mem_actor_start (mem_reaper_actor, ctx, err, err_size)))
        goto failed;
    //  The graph actor binds the lines the writer, lifecycle and frontend use.
    if (!(self->graph = mem_actor_start (mem_graph_actor, ctx, err, err_size)))
        goto failed;
    if (!(self->capture = mem_actor_start (mem_capture_actor, ctx, err, err_size)))
        goto failed;
    for (; self->n_recall < ctx->recall_workers; self->n_recall++)
        if (!(self->recall[self->n_recall]
              = mem_actor_start (mem_recall_actor, ctx, err, err_size)))
            goto failed;
    if (!(self->lifecycle = mem_actor_start (mem_lifecycle_actor, ctx, err, err_size)))
        goto failed;
    if (!(self->backup = mem_actor_start (mem_backup_actor, ctx, err, err_size)))
        goto failed;
    if (!(self->frontend = mem_actor_start (mem_frontend_actor, ctx, err, err_size)))
        goto failed;
    if (ctx->watch.dirs && !(self->watch = mem_actor_start (mem_watch_actor, ctx, err, err_size)))
        goto failed;

    uint64_t live = 0, tombstoned = 0;
    MDB_txn *txn;
    if (mem_store_read_begin (ctx->store, &txn) == 0) {
        mem_records_counts (ctx->store, txn, &live, &tombstoned);
        mem_store_read_end (ctx->store, &txn);
    }
    mem_log_info ("memd %s serving %s (data %s, %llu live records, %u recall workers) "
                  "after %lld ms",
                  MEMD_VERSION, self->endpoint, self->data_dir, (unsigned long long) live,
                  ctx->recall_workers, (long long) (mem_mono_ms () - t0));
    return self;

failed:
    mem_daemon_destroy (&self);
    return NULL;
}

void
mem_daemon_destroy (mem_daemon_t **self_p)
{
    mem_daemon_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy (&self->watch);   //  its writes in flight commit all the same
    if (self->reaper && self->frontend) {
        //  Parked Lease requests are answered now (UNAVAILABLE): they would
        //  otherwise hold the drain below for their whole wait.
        zstr_send (self->reaper, "DRAIN");
        zsock_set_rcvtimeo (zactor_sock (self->reaper), DRAIN_TIMEOUT_MS);
        char *reply = zstr_recv (self->reaper);
        if (!reply || !streq (reply, "DRAINED"))
            mem_log_warn ("shutdown: the reaper did not answer DRAIN");
        zstr_free (&reply);
    }
    if (self->frontend) {
        //  Let the writers finish and acknowledge what they have taken.
        zstr_send (self->frontend, "DRAIN");
        zsock_set_rcvtimeo (zactor_sock (self->frontend), DRAIN_TIMEOUT_MS);
        char *reply = zstr_recv (self->frontend);
        if (!reply || !streq (reply, "DRAINED"))
            mem_log_warn ("shutdown: requests still in flight after %d ms", DRAIN_TIMEOUT_MS);
        zstr_free (&reply);
        zactor_destroy (&self->frontend);
    }
    zactor_destroy (&self->backup);
    zactor_destroy (&self->lifecycle);
    while (self->n_recall)
        zactor_destroy (&self->recall[--self->n_recall]);
    zactor_destroy (&self->capture);
    zactor_destroy (&self->graph);
    zactor_destroy (&self->reaper);
    zactor_destroy (&self->zap);   //  last: no public socket is left
    mem_store_destroy (&self->ctx.store);
    mem_redact_destroy (&self->ctx.redact);
    if (self->endpoint_lock >= 0) {
        unlink (self->endpoint + 6);   //  the socket file, if the listener left it
        if (self->events_endpoint && strncmp (self->events_endpoint, "ipc://", 6) == 0)
            unlink (self->events_endpoint + 6);
        mem_paths_release_endpoint (self->endpoint, self->endpoint_lock);
    }
    free (self->data_dir);
    free (self->endpoint);
    free (self->events_endpoint);
    free (self->watch_dirs);
    free (self);
    *self_p = NULL;
}
