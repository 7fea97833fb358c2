/*  memctl sleep, wake, verify and events: the sleep cycle, the store's
    consistency check, and the live events stream. */
#include "memctl.h"

#include <czmq.h>
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

command_fn memctl_cmd_sleep, memctl_cmd_wake, memctl_cmd_verify, memctl_cmd_events;

const char memctl_sleep_usage[] =
    "Usage: memctl sleep\n"
    "\n"
    "Puts memd to SLEEP now: the consolidation pipeline runs (near-duplicates,\n"
    "digests, decay, purge) and memd then hibernates. Work in flight does not hold\n"
    "it off; any data-plane request wakes memd again. Prints the new state.\n"
    "JSON: {\"state\", \"last_transition\": {\"from\", \"to\", \"at_ms\", \"reason\"}}\n";

const char memctl_wake_usage[] =
    "Usage: memctl wake\n"
    "\n"
    "Returns memd to WAKE (consolidation stops after its current step).\n"
    "JSON: as 'memctl sleep'\n";

const char memctl_verify_usage[] =
    "Usage: memctl verify [--data-dir DIR]\n"
    "\n"
    "Checks every table of the store and every cross-reference (records, postings,\n"
    "index statistics, uids, sessions, tombstones, edges, digests) in one consistent\n"
    "snapshot, while memd serves. Exit 0 when consistent; 1 with the problems listed.\n"
    "\n"
    "With --data-dir, no memd is asked: the store in DIR (a backup, a copy, or a\n"
    "store a memd is serving) is opened read-only by 'memd --verify' (the memd\n"
    "beside memctl, else the one on PATH).\n"
    "JSON: {\"ok\", \"records\", \"problem_count\", \"problems\": [...]}\n";

const char memctl_events_usage[] =
    "Usage: memctl events [--count N] [TOPIC]\n"
    "\n"
    "Prints memd's events as they happen, one per line, until interrupted (or N\n"
    "events). TOPIC: captured, forgotten, state, job or graph (default: all).\n"
    "Once memd has confirmed the subscription, memctl says so on stderr\n"
    "(\"memctl: listening ...\"): every event after that is shown (events are best\n"
    "effort: one published before, or while memctl lags far behind, is not).\n"
    "\n"
    "Options:\n"
    "  -n, --count N   stop after N events\n"
    "\n"
    "JSON (--json): one object per line (JSONL):\n"
    "  {\"topic\", \"at_ms\", \"agent\", \"ids\", \"session\", \"count\"} (captured,\n"
    "  forgotten), {\"topic\": \"state\", \"at_ms\", \"from\", \"to\", \"reason\"} or\n"
    "  {\"topic\": \"job\", \"at_ms\", \"action\", \"id\", \"kind\", \"state\", \"attempts\",\n"
    "   \"max_attempts\", \"fence\", \"worker\", \"error\", \"next_run_at_ms\"};\n"
    "  action: enqueued, leased, completed, failed or dead\n";

//  Sleep or Wake.
static int
s_lifecycle (ctx_t *ctx, int argc, char **argv, bool wake)
{
    int rc = memctl_start_plain (ctx, argc, argv);
    if (rc >= 0)
        return rc;
    Memd__V1__Reply *reply = memd_client_sleep (ctx->client, wake);
    if (!reply)
        return memctl_fail_client (ctx);
    const Memd__V1__LifecycleResult *r = reply->lifecycle;
    const Memd__V1__Transition *t = r->last_transition;
    if (ctx->json)
        memctl_json_print (json_pack (
            "{s:o, s:o}", "state", memctl_json_string (r->state), "last_transition",
            t ? json_pack ("{s:o, s:o, s:I, s:o}", "from", memctl_json_string (t->from_state),
                           "to", memctl_json_string (t->to_state), "at_ms",
                           (json_int_t) t->at_ms, "reason", memctl_json_string (t->reason))
              : json_null ()));
    else
        printf ("%s%s%s%s\n", r->state, t && *t->reason ? " (" : "", t ? t->reason : "",
                t && *t->reason ? ")" : "");
    memd_client_reply_free (&reply);
    return 0;
}

int
memctl_cmd_sleep (ctx_t *ctx, int argc, char **argv)
{
    return s_lifecycle (ctx, argc, argv, false);
}

int
memctl_cmd_wake (ctx_t *ctx, int argc, char **argv)
{
    return s_lifecycle (ctx, argc, argv, true);
}

//  verify --data-dir: memd --verify does it (memctl itself has no LMDB).
static int
s_verify_offline (ctx_t *ctx, const char *dir)
{
    char memd[4200] = "memd";
    char self[4096];
    ssize_t n = readlink ("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = 0;
        char *slash = strrchr (self, '/');
        if (slash) {
            *slash = 0;
            snprintf (memd, sizeof memd, "%s/memd", self);
            if (access (memd, X_OK))
                snprintf (memd, sizeof memd, "memd");
        }
    }
    fflush (stdout);
    char *args[] = {memd, "--verify", "--data-dir", (char *) dir, ctx->json ? "--json" : NULL,
                    NULL};
    execvp (memd, args);
    return memctl_fail (ctx, MEMD__V1__CODE__UNAVAILABLE,
                        "cannot run memd --verify (memd is neither beside memctl nor on PATH)");
}

int
memctl_cmd_verify (ctx_t *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        COMMON_LONG, {"data-dir", required_argument, NULL, 'd'}, {NULL, 0, NULL, 0}};
    const char *data_dir = NULL;
    int c, rc;
    while ((c = getopt_long (argc, argv, COMMON_SHORT "d:", options, NULL)) != -1) {
        if (c == 'd')
            data_dir = optarg;
        else if ((rc = memctl_common_option (ctx, c, argv)) >= 0)
            return rc;
    }
    if (optind < argc)
        return memctl_usage_error (ctx, "unexpected argument '%s'", argv[optind]);
    if (data_dir)
        return s_verify_offline (ctx, data_dir);
    if ((rc = memctl_connect (ctx)) >= 0)
        return rc;
    Memd__V1__Reply *reply = memd_client_verify (ctx->client);
    if (!reply)
        return memctl_fail_client (ctx);
    const Memd__V1__VerifyResult *v = reply->verify;
    if (ctx->json) {
        json_t *problems = json_array ();
        for (size_t i = 0; i < v->n_problems; i++)
            json_array_append_new (problems, memctl_json_string (v->problems[i]));
        memctl_json_print (json_pack ("{s:b, s:o, s:o, s:o}", "ok", v->ok, "records",
                                      memctl_json_u64 (v->records), "problem_count",
                                      memctl_json_u64 (v->problem_count), "problems", problems));
    }
    else {
        for (size_t i = 0; i < v->n_problems; i++)
            printf ("problem: %s\n", v->problems[i]);
        if (v->problem_count > v->n_problems)
            printf ("... and %llu more\n",
                    (unsigned long long) (v->problem_count - v->n_problems));
        printf ("%s: %llu records checked, %llu problems\n", v->ok ? "consistent" : "INCONSISTENT",
                (unsigned long long) v->records, (unsigned long long) v->problem_count);
    }
    rc = v->ok ? 0 : EXIT_REFUSED;
    memd_client_reply_free (&reply);
    return rc;
}

//  "enqueued", "leased", … for a job event's action.
static const char *
s_job_action (int action)
{
    const ProtobufCEnumValue *v
        = protobuf_c_enum_descriptor_get_value (&memd__v1__job_event__action__descriptor, action);
    static char name[32];
    snprintf (name, sizeof name, "%s", v ? v->name : "unknown");
    for (char *c = name; *c; c++)
        *c = (char) tolower ((unsigned char) *c);
    return name;
}

//  "#12 summarize leased to worker w1, attempt 1 of 5, fence 3", …
static void
s_print_job_event (const Memd__V1__JobEvent *job)
{
    char at[64];
    memctl_format_time (job->next_run_at_ms, at, sizeof at);
    printf ("#%llu %s %s", (unsigned long long) job->id, job->kind, s_job_action (job->action));
    switch (job->action) {
    case MEMD__V1__JOB_EVENT__ACTION__ENQUEUED:
        printf (" (%s), due %s, %u attempts", memctl_job_state_name (job->state), at,
                job->max_attempts);
        break;
    case MEMD__V1__JOB_EVENT__ACTION__LEASED:
        printf (" to %s, attempt %u of %u, fence %llu", *job->worker ? job->worker : "-",
                job->attempts, job->max_attempts, (unsigned long long) job->fence);
        break;
    case MEMD__V1__JOB_EVENT__ACTION__FAILED:
        printf (", attempt %u of %u: %s; retry at %s", job->attempts, job->max_attempts,
                job->error, at);
        break;
    case MEMD__V1__JOB_EVENT__ACTION__DEAD:
        printf (" after attempt %u of %u: %s", job->attempts, job->max_attempts, job->error);
        break;
    default:
        printf (", attempt %u of %u", job->attempts, job->max_attempts);
    }
}

static void
s_print_event (ctx_t *ctx, const Memd__V1__Event *e)
{
    const Memd__V1__JobEvent *job = e->body_case == MEMD__V1__EVENT__BODY_JOB ? e->job : NULL;
    const Memd__V1__RecordsEvent *r
        = e->body_case == MEMD__V1__EVENT__BODY_CAPTURED    ? e->captured
        : e->body_case == MEMD__V1__EVENT__BODY_FORGOTTEN ? e->forgotten
                                                           : NULL;
    if (ctx->json) {
        json_t *doc = json_pack ("{s:o, s:I}", "topic", memctl_json_string (e->topic), "at_ms",
                                 (json_int_t) e->at_ms);
        if (r) {
            json_object_set_new (doc, "agent", memctl_json_string (r->agent_id));
            json_object_set_new (doc, "ids", memctl_json_ids (r->ids, r->n_ids));
            json_object_set_new (doc, "session", memctl_json_string (r->session_id));
            json_object_set_new (doc, "count", memctl_json_u64 (r->count));
        }
        else if (e->body_case == MEMD__V1__EVENT__BODY_STATE) {
            json_object_set_new (doc, "from", memctl_json_string (e->state->from_state));
            json_object_set_new (doc, "to", memctl_json_string (e->state->to_state));
            json_object_set_new (doc, "reason", memctl_json_string (e->state->reason));
        }
        else if (e->body_case == MEMD__V1__EVENT__BODY_GRAPH) {
            json_t *graph = memctl_json_graph_stats (e->graph);
            json_object_set_new (doc, "agent", memctl_json_string (e->graph->agent_id));
            json_object_update (doc, graph);
            json_decref (graph);
        }
        else if (job) {
            json_object_set_new (doc, "action", json_string (s_job_action (job->action)));
            json_object_set_new (doc, "id", memctl_json_u64 (job->id));
            json_object_set_new (doc, "kind", memctl_json_string (job->kind));
            json_object_set_new (doc, "state", json_string (memctl_job_state_name (job->state)));
            json_object_set_new (doc, "attempts", json_integer (job->attempts));
            json_object_set_new (doc, "max_attempts", json_integer (job->max_attempts));
            json_object_set_new (doc, "fence", memctl_json_u64 (job->fence));
            json_object_set_new (doc, "worker", memctl_json_string (job->worker));
            json_object_set_new (doc, "error", memctl_json_string (job->error));
            json_object_set_new (doc, "next_run_at_ms", json_integer (job->next_run_at_ms));
        }
        char *line = json_dumps (doc, JSON_COMPACT);
        if (line)
            puts (line);
        free (line);
        json_decref (doc);
    }
    else {
        char at[64];
        memctl_format_time (e->at_ms, at, sizeof at);
        printf ("%s  %-9s ", at, e->topic);
        if (r) {
            printf ("agent %s, %llu record(s)", r->agent_id, (unsigned long long) r->count);
            if (r->session_id && *r->session_id)
                printf (", session %s", r->session_id);
            for (size_t i = 0; i < r->n_ids && i < 20; i++)
                printf ("%s#%llu", i ? " " : ": ", (unsigned long long) r->ids[i]);
            if (r->n_ids > 20)
                printf (" …");
        }
        else if (e->body_case == MEMD__V1__EVENT__BODY_STATE)
            printf ("%s -> %s (%s)", *e->state->from_state ? e->state->from_state : "(start)",
                    e->state->to_state, e->state->reason);
        else if (e->body_case == MEMD__V1__EVENT__BODY_GRAPH)
            printf ("agent %s, generation %llu: %llu nodes, %llu edges, %llu communities in %lld ms",
                    e->graph->agent_id, (unsigned long long) e->graph->generation,
                    (unsigned long long) e->graph->nodes, (unsigned long long) e->graph->edges,
                    (unsigned long long) e->graph->communities, (long long) e->graph->build_ms);
        else if (job)
            s_print_job_event (job);
        putchar ('\n');
    }
    fflush (stdout);
}

int
memctl_cmd_events (ctx_t *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        COMMON_LONG, {"count", required_argument, NULL, 'n'}, {NULL, 0, NULL, 0}};
    uint64_t count = 0;
    int c, rc;
    while ((c = getopt_long (argc, argv, COMMON_SHORT "n:", options, NULL)) != -1) {
        if (c == 'n') {
            if (memctl_parse_u64 (optarg, &count) || count == 0)
                return memctl_usage_error (ctx, "--count wants a number (1 or more), not '%s'",
                                           optarg);
        }
        else if ((rc = memctl_common_option (ctx, c, argv)) >= 0)
            return rc;
    }
    if (argc - optind > 1)
        return memctl_usage_error (ctx, "unexpected argument '%s'", argv[optind + 1]);
    const char *topic = optind < argc ? argv[optind] : "";
    if (*topic && !streq (topic, "captured") && !streq (topic, "forgotten")
        && !streq (topic, "state") && !streq (topic, "job") && !streq (topic, "graph"))
        return memctl_usage_error (
            ctx, "unknown topic '%s' (captured, forgotten, state, job or graph)", topic);
    if ((rc = memctl_connect (ctx)) >= 0)
        return rc;
    //  The events endpoint is memd's to say; memd confirms the subscription.
    memd_events_t *events = memd_client_events (ctx->client, topic);
    if (!events)
        return memctl_fail_client (ctx);
    fprintf (stderr, "memctl: listening for %s events (Ctrl-C to stop)\n", *topic ? topic : "all");
    //  Ctrl-C ends the loop: the receive returns NULL when interrupted.
    zsys_handler_reset ();
    signal (SIGINT, SIG_DFL);
    for (uint64_t seen = 0; !count || seen < count;) {
        Memd__V1__Event *event = memd_events_next (events, -1);
        if (!event) {
            if (zsys_interrupted || errno == EINTR)
                break;
            continue;
        }
        s_print_event (ctx, event);
        memd__v1__event__free_unpacked (event, NULL);
        seen++;
    }
    memd_events_destroy (&events);
    return 0;
}
