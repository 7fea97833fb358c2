/*  mem_actors — what the actors share: their inproc endpoints, the frame
    layout between them, and the daemon context passed at start.

    Between the frontend and an actor every message is
        [client envelope][request or reply bytes]
    where the client envelope is one frame holding the ROUTER identity and
    the delimiter the client used (opaque to the actor: it copies it back).
*/
#ifndef MEM_ACTORS_H_INCLUDED
#define MEM_ACTORS_H_INCLUDED

#include <czmq.h>
#include "mem_codec.h"
#include "mem_config.h"
#include "mem_consolidate.h"
#include "mem_graph_link.h"
#include "mem_redact.h"
#include "mem_store.h"

#define MEM_INPROC_CAPTURE     "inproc://memd-capture"
#define MEM_INPROC_RECALL      "inproc://memd-recall"
#define MEM_INPROC_REAPER      "inproc://memd-reaper"
#define MEM_INPROC_REAPER_WAKE "inproc://memd-reaper-wake"
#define MEM_INPROC_LIFECYCLE   "inproc://memd-lifecycle"     /* frontend ↔ lifecycle */
#define MEM_INPROC_CONSOLIDATE "inproc://memd-consolidate"   /* lifecycle ↔ capture (steps) */
#define MEM_INPROC_EVENTS      "inproc://memd-events"        /* actors → frontend's PUB */
#define MEM_INPROC_GRAPH        "inproc://memd-graph"        /* frontend ↔ graph */
#define MEM_INPROC_GRAPH_WAKE   "inproc://memd-graph-wake"   /* writers → graph: records to link */
#define MEM_INPROC_GRAPH_SETTLE "inproc://memd-graph-settle" /* lifecycle ↔ graph (SLEEP) */
#define MEM_INPROC_BACKUP      "inproc://memd-backup"        /* frontend ↔ backup */
#define MEM_INPROC_API_MONITOR "inproc://memd-api-monitor"   /* the API socket's monitor */
#define MEM_INPROC_EVENTS_MONITOR "inproc://memd-events-monitor"

/* ZAP domains of the public sockets (mem_zap). */
#define MEM_ZAP_DOMAIN_IPC "memd.ipc"
#define MEM_ZAP_DOMAIN_TCP "memd.tcp"
#define MEM_INPROC_RECSTATS    "inproc://memd-recstats"      /* recall → capture: recalled ids */
#define MEM_INPROC_CAPTURE_WATCH  "inproc://memd-capture-watch"   /* watch ↔ capture */
#define MEM_INPROC_LIFECYCLE_BUSY "inproc://memd-lifecycle-busy"   /* work in flight → lifecycle */

/* Internal topic on the events line: a WatchStatus snapshot for Status,
   kept by the frontend and never published. */
#define MEM_STATUS_WATCH "$status/watch"

/* The job queue's settings (jobs/… in mem_config). */
typedef struct {
    int64_t lease_ms;            /* default lease time */
    uint32_t max_attempts;       /* default attempts before a dead letter */
    int64_t backoff_ms;          /* first retry delay */
    int64_t backoff_max_ms;
    uint64_t history;            /* DONE jobs kept per kind */
    size_t queue;                /* job requests queued for the reaper */
    size_t max_waiting;          /* parked Lease requests */
    mem_job_limit_t limits[64];  /* per-kind concurrency */
    size_t n_limits;
} mem_jobs_config_t;

/* The sleep cycle's settings (lifecycle/… in mem_config). */
typedef struct {
    int64_t drowsy_after_ms;
    int64_t sleep_after_ms;
    mem_consolidate_config_t consolidate;
} mem_lifecycle_config_t;

/* The graph's settings (graph/… in mem_config; docs/graph.md). */
typedef struct {
    mem_graph_link_config_t link;
    double rebuild_fraction;     /* in WAKE: rebuild when changes reach this part of the graph … */
    uint64_t rebuild_min_changes;   /* … and at least this many */
    int64_t max_age_ms;          /* or when a changed graph is older (0: never by age) */
    int64_t step_budget_ms;      /* one link or build step works about this long */
} mem_graph_config_t;
/* Transcript watching's settings (watch/… in mem_config). */
typedef struct {
    const char *dirs;            /* ':'-separated; NULL = no watching */
    unsigned depth;              /* subdirectory levels watched below each */
    size_t chunk_bytes;          /* most bytes of one file per write */
    size_t max_line_bytes;       /* longer lines are skipped */
    size_t max_files;            /* files tracked at once */
} mem_watch_config_t;

/* Everything an actor needs, owned by the daemon; actors only read it. */
typedef struct {
    mem_store_t *store;
    mem_limits_t limits;
    const char *endpoint;        /* public API endpoint */
    const char *data_dir;
    unsigned recall_workers;
    size_t capture_queue;        /* capture requests queued before RESOURCE_EXHAUSTED */
    size_t recall_queue;         /* recall requests waiting for a free worker */
    bool recall_graph;           /* a Recall that does not say follows the graph (recall/graph) */
    int64_t started_ms;          /* wall clock, for uptime */
    mem_jobs_config_t jobs;
    mem_lifecycle_config_t lifecycle;
    mem_graph_config_t graph;
    const char *events_endpoint; /* PUB for events; NULL = none */
    mem_redact_t *redact;        /* secrets out of captured records (thread-safe) */
    uint32_t allow_uids[MEM_ALLOW_UIDS_MAX];   /* accepted besides memd's own uid */
    size_t n_allow_uids;
    bool allow_tcp;              /* api/allow_tcp: tcp endpoints, unauthenticated */
    bool ipc_uid_filter;         /* api/ipc_uid_filter: ZMQ_IPC_FILTER_UID too */
    mem_watch_config_t watch;
} mem_context_t;

int64_t mem_now_ms (void);       /* wall clock, ms since the epoch */
int64_t mem_mono_ms (void);      /* monotonic clock, ms */
int64_t mem_mono_us (void);      /* monotonic clock, µs */

/* Starts an actor and waits for its START reply: "OK" or an error text.
   Returns the actor, or NULL (with err filled) if it failed to start. */
zactor_t *mem_actor_start (zactor_fn *fn, mem_context_t *ctx, char *err, size_t err_size);

/* Actor bodies (zactor_fn); args is the mem_context_t. */
void mem_frontend_actor (zsock_t *pipe, void *args);
void mem_capture_actor (zsock_t *pipe, void *args);
void mem_recall_actor (zsock_t *pipe, void *args);
void mem_reaper_actor (zsock_t *pipe, void *args);
void mem_lifecycle_actor (zsock_t *pipe, void *args);
void mem_graph_actor (zsock_t *pipe, void *args);
void mem_zap_actor (zsock_t *pipe, void *args);      /* the ZAP handler; start it first */
void mem_backup_actor (zsock_t *pipe, void *args);   /* Backup requests, one at a time */

/* Access control (mem_zap.c, DESIGN §11). Prepares a public socket before
   it binds: refuses a non-ipc endpoint unless allow_tcp, sets the ZAP
   domain with enforcement (no handler: refused), ZMQ_IPC_FILTER_UID for
   memd's uid and the allowed ones, and a monitor on the inproc endpoint
   monitor (NULL: none) reporting refused connections. 0 or -1 with err. */
int mem_zap_secure (zsock_t *sock, const char *endpoint, const mem_context_t *ctx,
                    const char *monitor, char *err, size_t err_size);
/* A PAIR reading that monitor; mem_zap_monitor_recv reads one event and
   returns 1 if it was a refused connection, else 0. */
zsock_t *mem_zap_monitor_new (const char *monitor);
uint64_t mem_zap_monitor_recv (zsock_t *monitor);
/* The uid (and pid) from a ZAP address "…:uid:gid:pid". 0 or -1. */
int mem_zap_peer_uid (const char *address, uint32_t *uid, uint32_t *pid);
bool mem_zap_uid_allowed (const mem_context_t *ctx, uint32_t uid);
void mem_zap_test (bool verbose);
void mem_watch_actor (zsock_t *pipe, void *args);

/* The concurrency limit of a job kind (0 = none). */
uint32_t mem_reaper_kind_limit (const mem_jobs_config_t *jobs, const char *kind);

/* The reaper's wake-up line, for any actor that enqueues jobs in its own
   transactions (the transactional outbox): create the waker in the thread
   that uses it, and after the commit call mem_reaper_wake. A wake never
   blocks and never fails the caller; one that cannot be queued finds
   another queued and unread, which is enough (the reaper reads the store
   after taking its wakes). */
zsock_t *mem_reaper_waker_new (void);
void mem_reaper_wake (zsock_t *waker);

/* What both wake lines are: a PUSH to endpoint with a small queue that
   never blocks; a send that finds it full is dropped (a wake is pending). */
zsock_t *mem_wake_line_new (const char *endpoint);
void mem_wake_line_send (zsock_t *line);

void mem_reaper_test (bool verbose);
void mem_lifecycle_test (bool verbose);

/* The graph actor's wake-up line, for writers that add records (the
   capture outbox): as the reaper's, best effort after the commit. */
zsock_t *mem_graph_waker_new (void);
void mem_graph_wake (zsock_t *waker);

/* Replies to the graph operations (actors/mem_graph_api.c), read from the
   store in the caller's read transaction: GraphStats in the frontend
   (building and last_error come from the graph actor's last report),
   Neighbors and Community in the recall pool. mem_graph_totals fills the
   status' graph summary over all agents. */
zframe_t *mem_graph_stats_reply (mem_context_t *ctx, MDB_txn *txn, const Memd__V1__Request *req,
                                 bool building, const char *last_error);
int mem_graph_totals (mem_context_t *ctx, MDB_txn *txn, Memd__V1__GraphStatsResult *totals);
zframe_t *mem_graph_neighbors_reply (mem_context_t *ctx, MDB_txn *txn,
                                     const Memd__V1__Request *req);
zframe_t *mem_graph_community_reply (mem_context_t *ctx, MDB_txn *txn,
                                     const Memd__V1__Request *req);

/* Events (DESIGN §6): any actor creates its own publisher line (in the
   thread that uses it) and sends an Event; the frontend publishes it on
   the PUB endpoint under its topic. Best effort (lesson 9): an event that
   cannot be queued at once is dropped, never waited for, and never fails
   the write it reports. */
zsock_t *mem_events_new (void);
void mem_events_send (zsock_t *events, Memd__V1__Event *event);

/* A recall worker's line to the capture actor for recall statistics
   (mem_recstats has the message format). Sends never wait: a full queue
   drops the message. NULL if it cannot be made. */
zsock_t *mem_recstats_sender_new (void);

/* Maps an LMDB or errno code from storage to a protocol status. */
mem_code_t mem_code_from_store (int rc);

#endif
