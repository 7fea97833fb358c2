/*  memctl_jobs — `memctl jobs SUBCOMMAND`: the job queue from the command
    line (enqueue, lease, complete, fail, extend, list, stats, retry, purge),
    for operators and for shell workers.
*/
#include "memctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

//  What memctl.c's command table takes from this file (with the help text).
command_fn memctl_cmd_jobs;

//  --------------------------------------------------------------------------
//  Help text

const char memctl_jobs_usage[] =
    "Usage: memctl jobs SUBCOMMAND [ARGS...]\n"
    "\n"
    "The job queue. Workers lease jobs of a kind, do the work, and complete (or\n"
    "fail) each job with the fence its lease gave them; a lease that expires\n"
    "goes to another worker, and the late worker's complete is refused.\n"
    "\n"
    "  jobs enqueue KIND [--payload TEXT | --payload-file FILE] [--dedupe KEY]\n"
    "               [--delay MS] [--max-attempts N] [--after ID]...\n"
    "      queue a job; prints its id (an unfinished job with the same dedupe key\n"
    "      is not queued twice: its id is printed). --after: run only after job ID\n"
    "      is done (repeatable). --payload-file - reads stdin.\n"
    "      JSON: {\"id\", \"duplicate\"}\n"
    "  jobs lease KIND... [--max N] [--lease MS] [--wait MS] [--worker NAME]\n"
    "      lease due jobs of these kinds; with --wait, memd holds the call until a\n"
    "      job is due or MS have passed (long-poll). Prints one line per job:\n"
    "      ID FENCE PAYLOAD (the payload on one line). Nothing printed: no job.\n"
    "  jobs complete ID --fence F\n"
    "  jobs fail ID --fence F [--fatal] [--error TEXT] [--retry-after MS]\n"
    "      a retryable failure is retried after a backoff (or MS); --fatal, or the\n"
    "      last attempt, makes the job a dead letter\n"
    "  jobs extend ID --fence F [--lease MS]\n"
    "      heartbeat: the lease now ends MS (default: memd's jobs/lease_ms) from now\n"
    "  jobs list [--state S] [--kind K] [--limit N] [--after ID]\n"
    "      S: queued, leased, failed (awaiting retry), blocked, dead, done\n"
    "  jobs stats\n"
    "      counts per kind, oldest due age, next deadline, waiting workers\n"
    "  jobs retry [ID...] [--kind K]\n"
    "      dead letters back to the queue (all of them, of kind K, without IDs)\n"
    "  jobs purge [ID...] [--kind K]\n"
    "      delete dead letters (all of them, of kind K, without IDs); jobs that\n"
    "      depend on a purged job become dead letters too\n"
    "\n"
    "JSON: lease and list print {\"jobs\": [{\"id\", \"kind\", \"state\", \"fence\",\n"
    "      \"payload\", \"attempts\", ...}]} (list adds \"more\"); complete, fail and extend\n"
    "      print the job; retry {\"retried\"}, purge {\"purged\"}; stats as described\n"
    "      above. A stale fence is PERMISSION_DENIED (exit 1).\n";

//  --------------------------------------------------------------------------
//  Subcommands

//  A job id or fence: a positive decimal.
static int
s_parse_job_number (ctx_t *ctx, const char *what, const char *text, uint64_t *value)
{
    if (memctl_parse_id (text, value))
        return memctl_usage_error (ctx, "%s wants a positive number, not '%s'", what, text);
    return -1;
}

//  The human line of a leased or listed job.
static void
s_print_job_line (const Memd__V1__Job *job, bool leased)
{
    char *payload = (char *) malloc (job->payload.len + 1);
    if (payload) {
        if (job->payload.len)
            memcpy (payload, job->payload.data, job->payload.len);
        payload[job->payload.len] = 0;
    }
    if (leased)
        printf ("%llu %llu ", (unsigned long long) job->id, (unsigned long long) job->fence);
    else {
        printf ("#%llu  %-8s %-16s attempts %u/%u", (unsigned long long) job->id,
                memctl_job_state_name (job->state), job->kind, job->attempts, job->max_attempts);
        if (*job->last_error) {
            printf ("  error: ");
            memctl_print_one_line (job->last_error, 80);
        }
        printf ("  payload: ");
    }
    memctl_print_one_line (payload ? payload : "", leased ? 0 : 60);
    putchar ('\n');
    free (payload);
}

//  Prints the jobs of a lease or list reply.
static void
s_print_jobs (ctx_t *ctx, Memd__V1__Job **jobs, size_t n, bool leased, int more)
{
    if (ctx->json) {
        json_t *array = json_array ();
        for (size_t i = 0; i < n; i++)
            json_array_append_new (array, memctl_json_job (jobs[i]));
        json_t *doc = json_pack ("{s:o}", "jobs", array);
        if (more >= 0)
            json_object_set_new (doc, "more", json_boolean (more));
        memctl_json_print (doc);
        return;
    }
    for (size_t i = 0; i < n; i++)
        s_print_job_line (jobs[i], leased);
    if (more > 0)
        fprintf (stderr, "memctl: more jobs follow: --after %llu\n",
                 (unsigned long long) jobs[n - 1]->id);
}

//  Reads a whole file (or stdin for "-") for --payload-file.
static int
s_read_payload (ctx_t *ctx, const char *path, char **data, size_t *len)
{
    FILE *file = strcmp (path, "-") == 0 ? stdin : fopen (path, "rb");
    if (!file)
        return memctl_usage_error (ctx, "cannot read %s: %s", path, strerror (errno));
    size_t cap = 4096, n = 0;
    char *buf = (char *) malloc (cap);
    while (buf) {
        n += fread (buf + n, 1, cap - n, file);
        if (n < cap)
            break;
        char *grown = cap >= (64u << 20) ? NULL : (char *) realloc (buf, cap * 2);
        if (!grown) {
            free (buf);
            buf = NULL;
            break;
        }
        buf = grown;
        cap *= 2;
    }
    bool failed = ferror (file);
    if (file != stdin)
        fclose (file);
    if (!buf || failed) {
        free (buf);
        return memctl_usage_error (ctx, "cannot read %s (too large, or a read error)", path);
    }
    *data = buf;
    *len = n;
    return -1;
}

static int
s_jobs_enqueue (ctx_t *ctx, int argc, char **argv)
{
    enum { OPT_PAYLOAD = 256, OPT_PAYLOAD_FILE, OPT_DEDUPE, OPT_DELAY, OPT_ATTEMPTS, OPT_AFTER };
    static const struct option options[] = {
        COMMON_LONG,
        {"payload", required_argument, NULL, OPT_PAYLOAD},
        {"payload-file", required_argument, NULL, OPT_PAYLOAD_FILE},
        {"dedupe", required_argument, NULL, OPT_DEDUPE},
        {"delay", required_argument, NULL, OPT_DELAY},
        {"max-attempts", required_argument, NULL, OPT_ATTEMPTS},
        {"after", required_argument, NULL, OPT_AFTER},
        {NULL, 0, NULL, 0}};
    Memd__V1__JobEnqueue job = MEMD__V1__JOB_ENQUEUE__INIT;
    uint64_t *after = (uint64_t *) calloc ((size_t) argc, sizeof (uint64_t));
    char *file_data = NULL;
    uint64_t value;
    int c, rc = after ? -1
                      : memctl_fail (ctx, MEMD__V1__CODE__RESOURCE_EXHAUSTED, "out of memory");
    while (rc < 0 && (c = getopt_long (argc, argv, COMMON_SHORT, options, NULL)) != -1) {
        switch (c) {
        case OPT_PAYLOAD:
            job.payload.data = (uint8_t *) optarg;
            job.payload.len = strlen (optarg);
            break;
        case OPT_PAYLOAD_FILE:
            free (file_data);
            file_data = NULL;
            rc = s_read_payload (ctx, optarg, &file_data, &job.payload.len);
            job.payload.data = (uint8_t *) file_data;
            break;
        case OPT_DEDUPE:
            job.dedupe_key = optarg;
            break;
        case OPT_DELAY:
            if (memctl_parse_ms (optarg, &job.delay_ms))
                rc = memctl_usage_error (ctx, "--delay wants milliseconds, not '%s'", optarg);
            break;
        case OPT_ATTEMPTS:
            if (memctl_parse_u64 (optarg, &value) || value == 0 || value > 1000)
                rc = memctl_usage_error (ctx, "--max-attempts wants 1 to 1000, not '%s'", optarg);
            job.max_attempts = (uint32_t) value;
            break;
        case OPT_AFTER:
            rc = s_parse_job_number (ctx, "--after", optarg, &after[job.n_depends_on]);
            job.n_depends_on++;
            break;
        default:
            rc = memctl_common_option (ctx, c, argv);
        }
    }
    if (rc < 0 && argc - optind != 1)
        rc = memctl_usage_error (ctx, argc == optind ? "missing KIND" : "one KIND only, not '%s'",
                                 argv[argc - 1]);
    if (rc < 0)
        rc = memctl_connect (ctx);
    if (rc < 0) {
        job.kind = argv[optind];
        job.depends_on = after;
        uint64_t id;
        bool duplicate;
        if (memd_client_job_enqueue (ctx->client, &job, &id, &duplicate))
            rc = memctl_fail_client (ctx);
        else {
            if (ctx->json)
                memctl_json_print (json_pack ("{s:o, s:b}", "id", memctl_json_u64 (id),
                                              "duplicate", duplicate));
            else
                printf ("%llu%s\n", (unsigned long long) id, duplicate ? " (duplicate)" : "");
            rc = 0;
        }
    }
    free (after);
    free (file_data);
    return rc;
}

static int
s_jobs_lease (ctx_t *ctx, int argc, char **argv)
{
    enum { OPT_MAX = 256, OPT_LEASE, OPT_WAIT, OPT_WORKER };
    static const struct option options[] = {COMMON_LONG,
                                            {"max", required_argument, NULL, OPT_MAX},
                                            {"lease", required_argument, NULL, OPT_LEASE},
                                            {"wait", required_argument, NULL, OPT_WAIT},
                                            {"worker", required_argument, NULL, OPT_WORKER},
                                            {NULL, 0, NULL, 0}};
    Memd__V1__JobLease lease = MEMD__V1__JOB_LEASE__INIT;
    char worker[64];
    snprintf (worker, sizeof worker, "memctl-%d", (int) getpid ());
    lease.worker = worker;
    uint64_t value;
    int c, rc = -1;
    while (rc < 0 && (c = getopt_long (argc, argv, COMMON_SHORT, options, NULL)) != -1) {
        switch (c) {
        case OPT_MAX:
            if (memctl_parse_u64 (optarg, &value) || value == 0 || value > 1000)
                rc = memctl_usage_error (ctx, "--max wants 1 to 1000, not '%s'", optarg);
            lease.max_jobs = (uint32_t) value;
            break;
        case OPT_LEASE:
            if (memctl_parse_ms (optarg, &lease.lease_ms) || lease.lease_ms == 0)
                rc = memctl_usage_error (ctx, "--lease wants milliseconds, not '%s'", optarg);
            break;
        case OPT_WAIT:
            if (memctl_parse_ms (optarg, &lease.wait_ms))
                rc = memctl_usage_error (ctx, "--wait wants milliseconds, not '%s'", optarg);
            break;
        case OPT_WORKER:
            lease.worker = optarg;
            break;
        default:
            rc = memctl_common_option (ctx, c, argv);
        }
    }
    if (rc < 0 && optind == argc)
        rc = memctl_usage_error (ctx, "missing KIND");
    if (rc < 0)
        rc = memctl_connect (ctx);
    if (rc >= 0)
        return rc;
    lease.kinds = argv + optind;
    lease.n_kinds = (size_t) (argc - optind);
    Memd__V1__Reply *reply = memd_client_job_lease (ctx->client, &lease);
    if (!reply)
        return memctl_fail_client (ctx);
    s_print_jobs (ctx, reply->job_lease->jobs, reply->job_lease->n_jobs, true, -1);
    memd_client_reply_free (&reply);
    return 0;
}

//  complete, fail, extend: ID --fence F and a few options.
static int
s_jobs_finish (ctx_t *ctx, int argc, char **argv, const char *what)
{
    enum { OPT_FENCE = 256, OPT_FATAL, OPT_ERROR, OPT_RETRY_AFTER, OPT_LEASE };
    static const struct option options[] = {
        COMMON_LONG,
        {"fence", required_argument, NULL, OPT_FENCE},
        {"fatal", no_argument, NULL, OPT_FATAL},
        {"error", required_argument, NULL, OPT_ERROR},
        {"retry-after", required_argument, NULL, OPT_RETRY_AFTER},
        {"lease", required_argument, NULL, OPT_LEASE},
        {NULL, 0, NULL, 0}};
    bool fail = strcmp (what, "fail") == 0, extend = strcmp (what, "extend") == 0;
    uint64_t id = 0, fence = 0;
    bool fatal = false, has_fence = false;
    const char *error = NULL;
    int64_t retry_after = 0, lease_ms = 0;
    int c, rc = -1;
    while (rc < 0 && (c = getopt_long (argc, argv, COMMON_SHORT, options, NULL)) != -1) {
        if ((c == OPT_FATAL || c == OPT_ERROR || c == OPT_RETRY_AFTER) && !fail)
            rc = memctl_usage_error (ctx, "'%s' is an option of 'jobs fail'", argv[optind - 1]);
        else if (c == OPT_LEASE && !extend)
            rc = memctl_usage_error (ctx, "'%s' is an option of 'jobs extend'", argv[optind - 1]);
        else if (c == OPT_FENCE) {
            if (memctl_parse_u64 (optarg, &fence))
                rc = memctl_usage_error (ctx, "--fence wants a number, not '%s'", optarg);
            has_fence = true;
        }
        else if (c == OPT_FATAL)
            fatal = true;
        else if (c == OPT_ERROR)
            error = optarg;
        else if (c == OPT_RETRY_AFTER) {
            if (memctl_parse_ms (optarg, &retry_after))
                rc = memctl_usage_error (ctx, "--retry-after wants milliseconds, not '%s'",
                                         optarg);
        }
        else if (c == OPT_LEASE) {
            if (memctl_parse_ms (optarg, &lease_ms) || lease_ms == 0)
                rc = memctl_usage_error (ctx, "--lease wants milliseconds, not '%s'", optarg);
        }
        else
            rc = memctl_common_option (ctx, c, argv);
    }
    if (rc < 0 && argc - optind != 1)
        rc = memctl_usage_error (ctx, argc == optind ? "missing ID" : "one ID only");
    if (rc < 0)
        rc = s_parse_job_number (ctx, "ID", argv[optind], &id);
    if (rc < 0 && !has_fence)
        rc = memctl_usage_error (ctx, "missing --fence F (the fence of your lease)");
    if (rc < 0)
        rc = memctl_connect (ctx);
    if (rc >= 0)
        return rc;
    Memd__V1__Reply *reply = NULL;
    int failed = fail     ? memd_client_job_fail (ctx->client, id, fence, fatal, error,
                                                  retry_after, &reply)
               : extend ? memd_client_job_extend (ctx->client, id, fence, lease_ms, &reply)
                          : memd_client_job_complete (ctx->client, id, fence, &reply);
    if (failed)
        return memctl_fail_client (ctx);
    const Memd__V1__Job *job = reply->job->job;
    if (ctx->json)
        memctl_json_print (job ? memctl_json_job (job) : json_object ());
    else if (job && extend)
        printf ("job %llu leased until %lld\n", (unsigned long long) job->id,
                (long long) job->lease_expires_at_ms);
    else if (job)
        printf ("job %llu %s\n", (unsigned long long) job->id, memctl_job_state_name (job->state));
    memd_client_reply_free (&reply);
    return 0;
}

static int
s_jobs_list (ctx_t *ctx, int argc, char **argv)
{
    enum { OPT_STATE = 256, OPT_KIND, OPT_LIMIT, OPT_AFTER };
    static const struct option options[] = {COMMON_LONG,
                                            {"state", required_argument, NULL, OPT_STATE},
                                            {"kind", required_argument, NULL, OPT_KIND},
                                            {"limit", required_argument, NULL, OPT_LIMIT},
                                            {"after", required_argument, NULL, OPT_AFTER},
                                            {NULL, 0, NULL, 0}};
    Memd__V1__JobList query = MEMD__V1__JOB_LIST__INIT;
    uint64_t value;
    int c, rc = -1;
    while (rc < 0 && (c = getopt_long (argc, argv, COMMON_SHORT, options, NULL)) != -1) {
        switch (c) {
        case OPT_STATE: {
            int state = memctl_job_state_parse (optarg);
            if (state < 0)
                rc = memctl_usage_error (ctx,
                                         "unknown state '%s' (queued, leased, failed, blocked, "
                                         "dead, done)",
                                         optarg);
            query.state = (Memd__V1__JobState) (state < 0 ? 0 : state);
            break;
        }
        case OPT_KIND:
            query.kind = optarg;
            break;
        case OPT_LIMIT:
            if (memctl_parse_u64 (optarg, &value) || value == 0 || value > 10000)
                rc = memctl_usage_error (ctx, "--limit wants 1 to 10000, not '%s'", optarg);
            query.limit = (uint32_t) value;
            break;
        case OPT_AFTER:
            if (memctl_parse_u64 (optarg, &query.after_id))
                rc = memctl_usage_error (ctx, "--after wants a job id, not '%s'", optarg);
            break;
        default:
            rc = memctl_common_option (ctx, c, argv);
        }
    }
    if (rc < 0 && optind < argc)
        rc = memctl_usage_error (ctx, "unexpected argument '%s'", argv[optind]);
    if (rc < 0)
        rc = memctl_connect (ctx);
    if (rc >= 0)
        return rc;
    Memd__V1__Reply *reply = memd_client_job_list (ctx->client, &query);
    if (!reply)
        return memctl_fail_client (ctx);
    s_print_jobs (ctx, reply->job_list->jobs, reply->job_list->n_jobs, false,
                  reply->job_list->more);
    memd_client_reply_free (&reply);
    return 0;
}

static int
s_jobs_stats (ctx_t *ctx, int argc, char **argv)
{
    int rc = memctl_start_plain (ctx, argc, argv);
    if (rc >= 0)
        return rc;
    Memd__V1__Reply *reply = memd_client_job_stats (ctx->client);
    if (!reply)
        return memctl_fail_client (ctx);
    const Memd__V1__JobStatsResult *st = reply->job_stats;
    if (ctx->json)
        memctl_json_print (memctl_json_job_stats (st));
    else {
        memctl_print_job_totals (st, "");
        if (st->n_kinds)
            printf ("%-20s %8s %8s %8s %8s %8s %8s %6s %10s\n", "kind", "queued", "leased",
                    "retrying", "blocked", "dead", "done", "limit", "oldest due");
        for (size_t i = 0; i < st->n_kinds; i++) {
            const Memd__V1__JobKindStats *k = st->kinds[i];
            char age[32] = "-", limit[16] = "-";
            if (k->oldest_due_age_ms)
                memctl_format_duration (k->oldest_due_age_ms, age, sizeof age);
            if (k->limit)
                snprintf (limit, sizeof limit, "%u", k->limit);
            printf ("%-20s %8llu %8llu %8llu %8llu %8llu %8llu %6s %10s\n", k->kind,
                    (unsigned long long) k->queued, (unsigned long long) k->leased,
                    (unsigned long long) k->retrying, (unsigned long long) k->blocked,
                    (unsigned long long) k->dead, (unsigned long long) k->done, limit, age);
        }
    }
    memd_client_reply_free (&reply);
    return 0;
}

//  retry and purge: IDs, or every dead letter (of --kind).
static int
s_jobs_dead (ctx_t *ctx, int argc, char **argv, bool retry)
{
    enum { OPT_KIND = 256 };
    static const struct option options[] = {
        COMMON_LONG, {"kind", required_argument, NULL, OPT_KIND}, {NULL, 0, NULL, 0}};
    const char *kind = NULL;
    int c, rc = -1;
    while (rc < 0 && (c = getopt_long (argc, argv, COMMON_SHORT, options, NULL)) != -1) {
        if (c == OPT_KIND)
            kind = optarg;
        else
            rc = memctl_common_option (ctx, c, argv);
    }
    if (rc >= 0)
        return rc;
    size_t n = (size_t) (argc - optind);
    uint64_t *ids = (uint64_t *) calloc (n ? n : 1, sizeof (uint64_t));
    if (!ids)
        return memctl_fail (ctx, MEMD__V1__CODE__RESOURCE_EXHAUSTED, "out of memory");
    for (size_t i = 0; i < n && rc < 0; i++)
        rc = s_parse_job_number (ctx, "ID", argv[optind + (int) i], &ids[i]);
    if (rc < 0)
        rc = memctl_connect (ctx);
    if (rc >= 0) {
        free (ids);
        return rc;
    }
    uint64_t count = 0;
    rc = retry ? memd_client_job_retry (ctx->client, ids, n, kind, &count)
               : memd_client_job_purge (ctx->client, ids, n, kind, &count);
    free (ids);
    int code = memd_client_code (ctx->client);
    if (rc && code != MEMD__V1__CODE__NOT_FOUND)
        return memctl_fail_client (ctx);
    if (ctx->json) {
        json_t *doc = json_pack ("{s:o}", retry ? "retried" : "purged", memctl_json_u64 (count));
        if (rc)
            json_object_set_new (doc, "error",
                                 memctl_json_error (memctl_code_name (code),
                                                    memd_client_error (ctx->client)));
        memctl_json_print (doc);
    }
    else {
        printf ("%s %llu dead letter%s\n", retry ? "retried" : "purged",
                (unsigned long long) count, count == 1 ? "" : "s");
        fflush (stdout);
        if (rc)
            fprintf (stderr, "memctl: %s: %s\n", memctl_code_name (code),
                     memd_client_error (ctx->client));
    }
    return memctl_exit_code (code);
}

//  `memctl jobs SUBCOMMAND …`
int
memctl_cmd_jobs (ctx_t *ctx, int argc, char **argv)
{
    static const char *subcommands[]
        = {"enqueue", "lease", "complete", "fail", "extend", "list", "stats", "retry", "purge"};
    if (argc < 2 || strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0
        || strcmp (argv[1], "help") == 0) {
        if (argc < 2)
            return memctl_usage_error (ctx, "missing SUBCOMMAND (enqueue, lease, complete, fail, "
                                            "extend, list, stats, retry, purge)");
        fputs (memctl_jobs_usage, stdout);
        return 0;
    }
    const char *sub = argv[1];
    size_t i = 0;
    while (i < sizeof subcommands / sizeof subcommands[0] && strcmp (subcommands[i], sub))
        i++;
    if (i == sizeof subcommands / sizeof subcommands[0])
        return memctl_usage_error (ctx, "unknown subcommand '%s'", sub);
    argc--;
    argv++;
    optind = 0;
    switch (i) {
    case 0:
        return s_jobs_enqueue (ctx, argc, argv);
    case 1:
        return s_jobs_lease (ctx, argc, argv);
    case 2:
    case 3:
    case 4:
        return s_jobs_finish (ctx, argc, argv, sub);
    case 5:
        return s_jobs_list (ctx, argc, argv);
    case 6:
        return s_jobs_stats (ctx, argc, argv);
    default:
        return s_jobs_dead (ctx, argc, argv, i == 7);
    }
}
