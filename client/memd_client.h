/*  memd_client — the C client library for memd (libmemd_client).

    A client holds one ZeroMQ DEALER socket connected to memd's API
    endpoint and makes one call at a time (a client is not thread-safe:
    use one per thread). Every call has a timeout; a reply that arrives
    after its call timed out is recognised by its request_id and dropped.

    Results are the protocol's own protobuf-c messages (memd.pb-c.h, from
    messages/memd.proto): a call that returns a Memd__V1__Reply * hands it
    to the caller, who frees it with memd_client_reply_free.

    Errors: every call returns 0 (or a non-NULL reply) on success and -1
    (or NULL) on failure; memd_client_code and memd_client_error then say
    why, with the daemon's status code and message, or UNAVAILABLE when
    memd did not answer in time.

        memd_client_t *client = memd_client_new (NULL, 2000);
        uint64_t id;
        if (memd_client_capture_text (client, "default", "s1", "the sky is blue", &id))
            fprintf (stderr, "%s\n", memd_client_error (client));
        memd_client_destroy (&client);
*/
#ifndef MEMD_CLIENT_H_INCLUDED
#define MEMD_CLIENT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "memd.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _memd_client_t memd_client_t;

/* Writes memd's default API endpoint into buf, as memd itself derives it:
   $MEMD_ENDPOINT if set, else ipc://$MEMD_RUN_DIR/memd.sock, else
   ipc://$XDG_RUNTIME_DIR/memd/memd.sock, else ipc:///tmp/memd-$UID/memd.sock.
   Returns 0, or -1 if it does not fit. */
int memd_default_endpoint (char *buf, size_t size);

/* Same, for the run directory alone ($XDG_RUNTIME_DIR/memd or /tmp/memd-$UID). */
int memd_default_run_dir (char *buf, size_t size);

/* Connects to endpoint (NULL = memd_default_endpoint). timeout_ms bounds
   every call (<= 0: 5000). Connecting never blocks: a memd that is down
   shows as UNAVAILABLE on the first call. NULL on failure. */
memd_client_t *memd_client_new (const char *endpoint, int timeout_ms);
void memd_client_destroy (memd_client_t **self_p);

void memd_client_set_timeout (memd_client_t *self, int timeout_ms);

/* Status code (Memd__V1__Code) and message of the last failed call. Every
   call clears them first, so after a success they read OK and "". */
int memd_client_code (memd_client_t *self);
const char *memd_client_error (memd_client_t *self);

/* The endpoint this client connects to (borrowed). */
const char *memd_client_endpoint (memd_client_t *self);

/* Sends req (request_id and protocol_version are filled in) and waits for
   its reply. Returns the reply when its status is OK; otherwise records the
   error, and returns NULL — or, when keep_failed is set, the failed reply
   too (Get returns the found records with NOT_FOUND). */
Memd__V1__Reply *memd_client_call (memd_client_t *self, Memd__V1__Request *req, bool keep_failed);
void memd_client_reply_free (Memd__V1__Reply **reply_p);

int memd_client_ping (memd_client_t *self);

/* Ping, keeping the answer (result: reply->ping: version, pid, uptime_ms). */
Memd__V1__Reply *memd_client_ping_reply (memd_client_t *self);

/* In the data-plane calls below, agent NULL or "" means "default". */

/* Status snapshot; free with memd_client_reply_free (result: reply->status_result). */
Memd__V1__Reply *memd_client_status (memd_client_t *self);

/* The sleep cycle: Sleep (wake false) starts consolidation now; Wake
   returns to WAKE (result: reply->lifecycle: state, last_transition). */
Memd__V1__Reply *memd_client_sleep (memd_client_t *self, bool wake);

/* Checks the whole store (result: reply->verify). Inconsistencies fail the
   call with INTERNAL, and the reply is still returned with the problems. */
Memd__V1__Reply *memd_client_verify (memd_client_t *self);

/* The events stream (DESIGN §6; memd.proto Event): frames [topic][Event]
   on memd's events endpoint (status_result->events_endpoint), topics
   "captured", "forgotten", "state", "job" and "graph". Best effort: an
   event published while a subscriber lags more than 10,000 behind is lost.

       memd_events_t *events = memd_client_events (client, "captured");
       Memd__V1__Event *event = memd_events_next (events, 1000);

   memd_client_events asks memd for its events endpoint, subscribes to one
   topic (NULL or "" = all) and waits, within the client's timeout, until
   memd confirms the subscription: every event published after it returns
   is delivered. NULL on failure, with memd_client_code/error set. */
typedef struct _memd_events_t memd_events_t;
memd_events_t *memd_client_events (memd_client_t *self, const char *topic);

/* The same in steps: a SUB socket on endpoint, subscribed to topic (NULL or
   "" = all), returned at once; then memd_events_ready waits for memd's
   confirmation (0, or -1 after timeout_ms, -1 = no limit, or an interrupt).
   Events that arrive meanwhile are kept for memd_events_next. */
memd_events_t *memd_events_new (const char *endpoint, const char *topic);
int memd_events_ready (memd_events_t *self, int timeout_ms);
void memd_events_destroy (memd_events_t **self_p);

/* The next event within timeout_ms (-1 = wait), or NULL (timeout, or an
   interrupt). Free with memd__v1__event__free_unpacked. */
Memd__V1__Event *memd_events_next (memd_events_t *self, int timeout_ms);

/* The underlying ZeroMQ socket, to poll it with others. When it is
   readable, and once after memd_events_ready (which may have kept some),
   take events with memd_events_next (events, 0) until it returns NULL: a
   readable socket may hold only memd's confirmation, which is no event. */
void *memd_events_socket (memd_events_t *self);

/* Captures n records in one durable batch. Records without agent_id get
   agent. On success ids[i] is record i's id (an existing id for a
   duplicate); dup may be NULL. */
int memd_client_capture (memd_client_t *self, const char *agent, Memd__V1__Record **records,
                         size_t n, uint64_t *ids, bool *dup);

/* Captures one EPISODIC text record. session may be NULL. */
int memd_client_capture_text (memd_client_t *self, const char *agent, const char *session,
                              const char *text, uint64_t *id);

/* Ranked recall (result: reply->recall->hits). query->query is the text;
   query->query_embedding (optional) adds the vector signal. */
Memd__V1__Reply *memd_client_recall (memd_client_t *self, const char *agent,
                                     const Memd__V1__Recall *query);

/* A prompt-ready block of the memories most relevant to context->recall,
   within context->budget_tokens (result: reply->context: text, ids,
   tokens). */
Memd__V1__Reply *memd_client_context (memd_client_t *self, const char *agent,
                                      const Memd__V1__Context *context);

/* Records by id (result: reply->get). Missing ids fail with NOT_FOUND; the
   reply is still returned with the found records and reply->get->missing. */
Memd__V1__Reply *memd_client_get (memd_client_t *self, const char *agent, const uint64_t *ids,
                                  size_t n);

/* Tombstones records by id, or (n == 0) every live record of session.
   *forgotten (may be NULL) gets the count. Unknown ids fail with NOT_FOUND
   after the known ones are forgotten. */
int memd_client_forget (memd_client_t *self, const char *agent, const uint64_t *ids, size_t n,
                        const char *session, uint64_t *forgotten);

/* ---- The memory graph (docs/graph.md) --------------------------------------
   Read from the last build, at once, also while one runs. */

/* The agent's graph (result: reply->graph_stats). refresh: memd rebuilds it
   in the background if it changed since its last build; top: list that
   many of the largest communities. */
Memd__V1__Reply *memd_client_graph_stats (memd_client_t *self, const char *agent, bool refresh,
                                          uint32_t top);

/* The edges of records, both ways, and the community and PageRank of each
   record reached (result: reply->neighbors). type 0: any; limit 0: 100 per
   record. Ids that are not live records fail with NOT_FOUND; the reply is
   still returned, with reply->neighbors->missing. */
Memd__V1__Reply *memd_client_neighbors (memd_client_t *self, const char *agent,
                                        const uint64_t *ids, size_t n, Memd__V1__EdgeType type,
                                        uint32_t limit);

/* Members of the community of record id, or of community (by its id), or
   (both 0) every node of the agent's graph; paged by record id after
   after_id, limit 0: 1,000 (result: reply->community, ->more). */
Memd__V1__Reply *memd_client_community (memd_client_t *self, const char *agent, uint64_t id,
                                        uint64_t community, uint64_t after_id, uint32_t limit);

/* ---- The job queue (jobs are not agent-scoped) ----------------------------
   A worker in any language does what these calls do:

       loop:
           reply = Lease (kinds, wait)       parked by memd until a job is due
           for each job: do the work, Extend (id, fence) while it runs,
               then Complete (id, fence) or Fail (id, fence, fatal?, error)

   A Complete/Fail/Extend with a stale fence (the lease expired and the job
   went to someone else) fails with PERMISSION_DENIED: drop the result. */

/* Queues a job (kind and payload required; other fields optional; see
   memd.proto JobEnqueue). *id gets its id, or the id of the unfinished job
   with the same dedupe key (then *duplicate, which may be NULL, is true). */
int memd_client_job_enqueue (memd_client_t *self, const Memd__V1__JobEnqueue *job, uint64_t *id,
                             bool *duplicate);

/* Leases jobs (result: reply->job_lease->jobs, maybe none). With
   lease->wait_ms > 0 memd holds the call until a job is due or the wait
   ends; this call's timeout is the client's timeout plus wait_ms. */
Memd__V1__Reply *memd_client_job_lease (memd_client_t *self, const Memd__V1__JobLease *lease);

/* Finishes or heartbeats a leased job; *job_out (may be NULL) gets a reply
   holding the job after the change (reply->job->job), to free with
   memd_client_reply_free. */
int memd_client_job_complete (memd_client_t *self, uint64_t id, uint64_t fence,
                              Memd__V1__Reply **job_out);
int memd_client_job_fail (memd_client_t *self, uint64_t id, uint64_t fence, bool fatal,
                          const char *error, int64_t retry_after_ms, Memd__V1__Reply **job_out);
/* lease_ms 0: memd's default lease time, counted from now. */
int memd_client_job_extend (memd_client_t *self, uint64_t id, uint64_t fence, int64_t lease_ms,
                            Memd__V1__Reply **job_out);

/* Dead letters: back to the queue (retry), or away (purge). n == 0 means
   every dead letter (of kind, if not NULL), in steps: the call loops until
   done. *count (may be NULL) gets how many. Ids that are not dead letters
   fail the call with NOT_FOUND after the others are done. */
int memd_client_job_retry (memd_client_t *self, const uint64_t *ids, size_t n, const char *kind,
                           uint64_t *count);
int memd_client_job_purge (memd_client_t *self, const uint64_t *ids, size_t n, const char *kind,
                           uint64_t *count);

/* Jobs by state/kind, paged by id (result: reply->job_list). */
Memd__V1__Reply *memd_client_job_list (memd_client_t *self, const Memd__V1__JobList *query);

/* Queue numbers (result: reply->job_stats). */
Memd__V1__Reply *memd_client_job_stats (memd_client_t *self);

#ifdef __cplusplus
}
#endif
#endif
