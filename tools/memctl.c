/*  memctl — the operator's command line for memd (DESIGN §8).

    A thin client on libmemd_client: each command parses its options, makes
    one or a few calls, and prints either for people or, with --json, one
    JSON document for scripts (memctl_json.c holds the shapes). Every call
    is bounded by --timeout, and the exit status says what went wrong:

        0  success
        1  memd answered with an error (NOT_FOUND, INVALID_ARGUMENT, …)
        2  usage error
        3  memd unavailable (not running, or no reply within the timeout)

    `capture -` streams JSONL from stdin in batches and prints each batch's
    ids as soon as memd has acknowledged it (acknowledged means durable), so
    whatever was printed survives a crash of memd or of memctl.
*/
#include "memd_client.h"
#include "memctl_json.h"

#include <czmq.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef MEMD_VERSION
#define MEMD_VERSION "0.0.0"
#endif

#define EXIT_REFUSED       1
#define EXIT_USAGE         2
#define EXIT_UNAVAILABLE   3
#define EXIT_INTERRUPTED   130

#define DEFAULT_TIMEOUT_MS 5000
#define DEFAULT_BATCH      500
#define MAX_BATCH          10000                  //  memd's max_batch
#define MAX_BATCH_BYTES    (8u << 20)             //  half of memd's max_message_bytes
#define MAX_LINE_BYTES     (32u << 20)
#define IDLE_FLUSH_MS      20     //  send a partial batch when input pauses this long
#define TTY_TEXT_CHARS     160    //  recall text width on a terminal

//  Options every command accepts, before or after its name.
#define COMMON_SHORT ":e:jt:h"
#define COMMON_LONG                                                                      \
    {"endpoint", required_argument, NULL, 'e'}, {"json", no_argument, NULL, 'j'},        \
        {"timeout", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'}

typedef struct {
    const char *command;        //  running command, for messages
    const char *usage;          //  its help text
    const char *endpoint;       //  NULL = memd_default_endpoint
    bool json;
    int timeout_ms;
    memd_client_t *client;
} ctx_t;

typedef int (command_fn) (ctx_t *ctx, int argc, char **argv);

//  --------------------------------------------------------------------------
//  Help texts

static const char *s_global_usage =
    "Usage: memctl [--endpoint EP] [--json] [--timeout MS] COMMAND [ARGS...]\n"
    "\n"
    "memctl talks to a running memd over its API socket.\n"
    "\n"
    "Commands:\n"
    "  ping       check that memd answers\n"
    "  status     state, uptime, record counts, resources\n"
    "  capture    store a memory, or JSONL records from stdin ('capture -')\n"
    "  recall     ranked memories for a query\n"
    "  get        records by id\n"
    "  forget     tombstone records by id, or a whole session\n"
    "  jobs       the job queue: enqueue, lease, complete, fail, extend, list, stats,\n"
    "             retry and purge dead letters ('memctl jobs --help')\n"
    "  help [COMMAND]\n"
    "\n"
    "Options (also accepted after the command name):\n"
    "  -e, --endpoint EP   memd's API endpoint (default: $MEMD_ENDPOINT, else\n"
    "                      ipc://$XDG_RUNTIME_DIR/memd/memd.sock, else\n"
    "                      ipc:///tmp/memd-$UID/memd.sock)\n"
    "  -j, --json          print one JSON document on stdout, errors included:\n"
    "                      {\"error\": {\"code\": \"NOT_FOUND\", \"message\": \"...\"}}\n"
    "  -t, --timeout MS    give up on memd after MS milliseconds per call (default 5000)\n"
    "  -h, --help          this help; 'memctl COMMAND --help' for a command\n"
    "  -V, --version       memctl's version\n"
    "\n"
    "Exit status:\n"
    "  0  success\n"
    "  1  memd answered with an error (NOT_FOUND, INVALID_ARGUMENT, ...)\n"
    "  2  usage error\n"
    "  3  memd unavailable (not running, or no reply within the timeout)\n";

static const char *s_ping_usage =
    "Usage: memctl ping\n"
    "\n"
    "Checks that memd answers; prints its version, pid and uptime.\n"
    "JSON: {\"version\", \"pid\", \"uptime_ms\"}\n";

static const char *s_status_usage =
    "Usage: memctl status\n"
    "\n"
    "memd's state, last lifecycle transition, record and job counts, resources.\n"
    "JSON: {\"version\", \"pid\", \"state\", \"uptime_ms\",\n"
    "      \"last_transition\": {\"from\", \"to\", \"at_ms\", \"reason\"},\n"
    "      \"records\": {\"live\", \"tombstoned\"}, \"jobs\", \"graph\",\n"
    "      \"resources\": {\"rss_bytes\", \"fds\", \"threads\"}, ...}\n"
    "      \"jobs\": {\"queued\", \"leased\", \"dead\", ...} as in 'memctl jobs stats'\n"
    "      (\"graph\" is null until memd has that subsystem)\n";

static const char *s_capture_usage =
    "Usage: memctl capture [OPTIONS] TEXT...\n"
    "       memctl capture [OPTIONS] [--batch N] -\n"
    "\n"
    "Stores one memory (the words of TEXT joined by spaces) and prints its id; an\n"
    "identical text already stored for the agent gives the existing id.\n"
    "\n"
    "With '-', reads JSONL from stdin, one record per line:\n"
    "  {\"text\": \"...\", \"agent\": \"...\", \"session\": \"...\", \"kind\": \"fact\",\n"
    "   \"tags\": [\"...\"], \"ts_ms\": 1700000000000, \"embedding\": [0.1, ...],\n"
    "   \"metadata\": {\"key\": \"value\"}}\n"
    "Only \"text\" is required (\"created_at_ms\" is accepted for \"ts_ms\"; other fields\n"
    "are ignored; blank lines are skipped). The options below are defaults for lines\n"
    "that lack the field. Records go to memd in batches; each batch's ids are printed,\n"
    "one per line in input order, once memd has stored it durably. A line memctl cannot\n"
    "parse stops the import after every line before it is captured. A record memd\n"
    "refuses fails its whole batch (a batch is one transaction); earlier batches stay.\n"
    "Either way the exit code is 1, the error names the line, and the ids printed are\n"
    "exactly the records stored.\n"
    "\n"
    "Options:\n"
    "  -a, --agent A        agent (default: default)\n"
    "  -s, --session S      session\n"
    "      --kind K         episodic (default), fact, summary, procedure or note\n"
    "      --tag T          a tag (repeatable)\n"
    "      --meta KEY=VALUE a metadata entry (repeatable)\n"
    "      --ts MS          creation time, milliseconds since the epoch (default: now)\n"
    "      --batch N        records per batch with '-' (default 500, at most 10000)\n"
    "\n"
    "JSON: {\"ids\": [...]}; on a failure, the ids stored so far and the error:\n"
    "      {\"ids\": [...], \"error\": {\"code\", \"message\"}}\n";

static const char *s_recall_usage =
    "Usage: memctl recall [OPTIONS] QUERY...\n"
    "\n"
    "Ranked memories for QUERY (its words joined by spaces); one hit per line:\n"
    "  #ID  SCORE  [session] text\n"
    "\n"
    "Options:\n"
    "  -a, --agent A      agent (default: default)\n"
    "  -k, --k N          number of hits (default: memd's, 10)\n"
    "  -s, --session S    only this session\n"
    "      --kind K       only this kind (episodic, fact, summary, procedure, note)\n"
    "      --tag T        only records with this tag (repeatable: all must match)\n"
    "      --since MS     only records created at or after MS (ms since the epoch)\n"
    "      --until MS     only records created before MS\n"
    "      --explain      show how each score was made\n"
    "\n"
    "JSON: {\"hits\": [{\"id\", \"score\", \"text\", \"agent\", \"session\", \"kind\", \"tags\",\n"
    "      \"metadata\", \"created_at_ms\"}]} (\"explain\" with --explain)\n";

static const char *s_get_usage =
    "Usage: memctl get [--agent A] ID...\n"
    "\n"
    "Prints the records with these ids. Ids that the agent does not have are an\n"
    "error (NOT_FOUND, exit 1) after the found records are printed.\n"
    "\n"
    "Options:\n"
    "  -a, --agent A      agent (default: default)\n"
    "\n"
    "JSON: {\"records\": [{\"id\", \"text\", \"agent\", \"session\", \"kind\", \"tags\",\n"
    "      \"metadata\", \"created_at_ms\"}]}, plus \"missing\": [...] and \"error\"\n"
    "      when ids were not found\n";

static const char *s_forget_usage =
    "Usage: memctl forget [--agent A] ID...\n"
    "       memctl forget [--agent A] --session S\n"
    "\n"
    "Tombstones records by id, or every live record of a session, and prints how\n"
    "many were forgotten. Unknown ids are an error (NOT_FOUND, exit 1); the known\n"
    "ones are forgotten all the same.\n"
    "\n"
    "Options:\n"
    "  -a, --agent A      agent (default: default)\n"
    "  -s, --session S    forget this whole session\n"
    "\n"
    "JSON: {\"forgotten\": N} (plus \"missing\" and \"error\" for unknown ids)\n";

static const char *s_jobs_usage =
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
//  Reporting

//  "NOT_FOUND" for a status code, from the generated enum descriptor.
static const char *
s_code_name (int code)
{
    const ProtobufCEnumValue *value =
        protobuf_c_enum_descriptor_get_value (&memd__v1__code__descriptor, code);
    return value ? value->name : "UNKNOWN";
}

//  Prints an error the way the output mode wants it; returns the exit code.
static int
s_fail (ctx_t *ctx, int code, const char *message)
{
    const char *name = s_code_name (code);
    if (ctx->json) {
        json_t *doc = json_object ();
        json_object_set_new (doc, "error", memctl_json_error (name, message));
        memctl_json_print (doc);
    }
    else
        fprintf (stderr, "memctl: %s: %s\n", name, message);
    return code == MEMD__V1__CODE__UNAVAILABLE ? EXIT_UNAVAILABLE : EXIT_REFUSED;
}

//  The client's last error.
static int
s_fail_client (ctx_t *ctx)
{
    return s_fail (ctx, memd_client_code (ctx->client), memd_client_error (ctx->client));
}

//  Exit code for the client's last error, for commands that print their own
//  JSON document with an "error" member.
static int
s_exit_code (int code)
{
    return code == MEMD__V1__CODE__OK            ? 0
         : code == MEMD__V1__CODE__UNAVAILABLE ? EXIT_UNAVAILABLE
                                                 : EXIT_REFUSED;
}

static int s_usage_error (ctx_t *ctx, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

//  A usage error: a message and a hint on stderr (and, with --json, the
//  error document on stdout). Returns EXIT_USAGE.
static int
s_usage_error (ctx_t *ctx, const char *fmt, ...)
{
    char message[512];
    va_list args;
    va_start (args, fmt);
    vsnprintf (message, sizeof message, fmt, args);
    va_end (args);
    if (ctx->command) {
        fprintf (stderr, "memctl %s: %s\n", ctx->command, message);
        fprintf (stderr, "Try 'memctl %s --help'.\n", ctx->command);
    }
    else {
        fprintf (stderr, "memctl: %s\n", message);
        fprintf (stderr, "Try 'memctl --help'.\n");
    }
    if (ctx->json) {
        json_t *doc = json_object ();
        json_object_set_new (doc, "error", memctl_json_error ("INVALID_ARGUMENT", message));
        memctl_json_print (doc);
    }
    return EXIT_USAGE;
}

//  getopt's complaint, in our words (opterr is off).
static int
s_getopt_error (ctx_t *ctx, int c, char **argv)
{
    const char *arg = argv[optind - 1];
    if (c == ':')
        return s_usage_error (ctx, "option '%s' needs a value", arg);
    if (optopt && (optopt < 0x80))
        return s_usage_error (ctx, "unknown option '-%c'", optopt);
    return s_usage_error (ctx, "unknown option '%s'", arg);
}

//  --------------------------------------------------------------------------
//  Parsing

//  Strict decimal unsigned: digits only, no sign, no spaces, no overflow.
static int
s_parse_u64 (const char *text, uint64_t *value)
{
    if (!text || *text < '0' || *text > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long long x = strtoull (text, &end, 10);
    if (errno || *end)
        return -1;
    *value = x;
    return 0;
}

//  A milliseconds value for a signed 64-bit field.
static int
s_parse_ms (const char *text, int64_t *value)
{
    uint64_t x;
    if (s_parse_u64 (text, &x) || x > (uint64_t) INT64_MAX)
        return -1;
    *value = (int64_t) x;
    return 0;
}

//  A record id as printed by memctl ("12" or "#12"); ids start at 1.
static int
s_parse_id (const char *text, uint64_t *id)
{
    if (text && *text == '#')
        text++;
    return s_parse_u64 (text, id) || *id == 0 ? -1 : 0;
}

//  Handles the options every command takes. Returns -1 to go on parsing,
//  or an exit code (0 after --help).
static int
s_common_option (ctx_t *ctx, int c, char **argv)
{
    uint64_t value;
    switch (c) {
    case 'e':
        ctx->endpoint = optarg;
        return -1;
    case 'j':
        ctx->json = true;
        return -1;
    case 't':
        if (s_parse_u64 (optarg, &value) || value == 0 || value > INT32_MAX)
            return s_usage_error (ctx, "--timeout wants milliseconds (1 or more), not '%s'",
                                  optarg);
        ctx->timeout_ms = (int) value;
        return -1;
    case 'h':
        fputs (ctx->usage, stdout);
        return 0;
    default:
        return s_getopt_error (ctx, c, argv);
    }
}

static int
s_parse_kind (ctx_t *ctx, const char *name, Memd__V1__Kind *kind)
{
    int value = memctl_kind_parse (name);
    if (value < 0)
        return s_usage_error (ctx, "unknown kind '%s' (episodic, fact, summary, procedure, note)",
                              name);
    *kind = (Memd__V1__Kind) value;
    return -1;
}

//  Joins argv[0..argc) with spaces; NULL if out of memory.
static char *
s_join (int argc, char **argv)
{
    size_t size = 1;
    for (int i = 0; i < argc; i++)
        size += strlen (argv[i]) + 1;
    char *text = (char *) malloc (size);
    if (!text)
        return NULL;
    char *p = text;
    for (int i = 0; i < argc; i++) {
        if (i)
            *p++ = ' ';
        size_t len = strlen (argv[i]);
        memcpy (p, argv[i], len);
        p += len;
    }
    *p = 0;
    return text;
}

//  Parses the ids of get and forget. Returns -1, or an exit code.
static int
s_parse_ids (ctx_t *ctx, int argc, char **argv, uint64_t *ids)
{
    for (int i = 0; i < argc; i++)
        if (s_parse_id (argv[i], &ids[i]))
            return s_usage_error (ctx, "'%s' is not a record id", argv[i]);
    return -1;
}

//  Connects the client; returns -1, or an exit code.
static int
s_connect (ctx_t *ctx)
{
    char endpoint[4200];
    if (!ctx->endpoint && memd_default_endpoint (endpoint, sizeof endpoint))
        return s_usage_error (ctx, "the default endpoint is too long; set --endpoint");
    const char *ep = ctx->endpoint ? ctx->endpoint : endpoint;
    ctx->client = memd_client_new (ep, ctx->timeout_ms);
    if (!ctx->client) {
        if (errno == ENAMETOOLONG)
            return s_usage_error (ctx, "endpoint '%s' is too long (ipc paths are limited to 107 "
                                       "bytes)", ep);
        return s_usage_error (ctx, "cannot use endpoint '%s': %s", ep, zmq_strerror (errno));
    }
    return -1;
}

//  --------------------------------------------------------------------------
//  Human output helpers

static void
s_format_time (int64_t ms, char *buf, size_t size)
{
    if (ms <= 0) {
        snprintf (buf, size, "-");
        return;
    }
    time_t secs = (time_t) (ms / 1000);
    struct tm tm;
    if (!localtime_r (&secs, &tm) || !strftime (buf, size, "%Y-%m-%d %H:%M:%S", &tm))
        snprintf (buf, size, "%lld ms", (long long) ms);
}

static void
s_format_duration (int64_t ms, char *buf, size_t size)
{
    int64_t s = ms / 1000;
    if (ms < 1000)
        snprintf (buf, size, "%lld ms", (long long) ms);
    else if (s < 60)
        snprintf (buf, size, "%.1fs", ms / 1000.0);
    else if (s < 3600)
        snprintf (buf, size, "%lldm %02llds", (long long) (s / 60), (long long) (s % 60));
    else if (s < 86400)
        snprintf (buf, size, "%lldh %02lldm", (long long) (s / 3600),
                  (long long) (s % 3600 / 60));
    else
        snprintf (buf, size, "%lldd %02lldh", (long long) (s / 86400),
                  (long long) (s % 86400 / 3600));
}

static void
s_format_bytes (uint64_t bytes, char *buf, size_t size)
{
    static const char *units[] = {"KiB", "MiB", "GiB", "TiB"};
    if (bytes < 1024) {
        snprintf (buf, size, "%llu B", (unsigned long long) bytes);
        return;
    }
    double value = bytes / 1024.0;
    int unit = 0;
    while (value >= 1024 && unit < 3) {
        value /= 1024;
        unit++;
    }
    snprintf (buf, size, "%.1f %s", value, units[unit]);
}

//  Prints text on one line: control characters become spaces, and with
//  max_chars > 0 it is cut (on a character boundary) to that many characters.
static void
s_print_one_line (const char *text, size_t max_chars)
{
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *) text; *p; p++) {
        bool lead = (*p & 0xc0) != 0x80;
        if (lead && max_chars && chars++ == max_chars) {
            fputs ("…", stdout);
            return;
        }
        putchar (*p < 0x20 || *p == 0x7f ? ' ' : *p);
    }
}

//  Prints text with every line after the first indented.
static void
s_print_indented (const char *text, const char *indent)
{
    for (const char *p = text; *p; p++) {
        putchar (*p);
        if (*p == '\n' && p[1])
            fputs (indent, stdout);
    }
    putchar ('\n');
}

//  The block `memctl get` prints for one record.
static void
s_print_record (const Memd__V1__Record *r)
{
    char created[64];
    s_format_time (r->created_at_ms, created, sizeof created);
    printf ("id       %llu\n", (unsigned long long) r->id);
    printf ("agent    %s\n", r->agent_id);
    printf ("session  %s\n", *r->session_id ? r->session_id : "-");
    printf ("kind     %s\n", memctl_kind_name (r->kind));
    printf ("created  %s (%lld)\n", created, (long long) r->created_at_ms);
    if (r->n_tags) {
        printf ("tags     ");
        for (size_t i = 0; i < r->n_tags; i++)
            printf ("%s%s", i ? ", " : "", r->tags[i]);
        putchar ('\n');
    }
    for (size_t i = 0; i < r->n_metadata; i++) {
        printf ("%s%s=", i ? "         " : "meta     ", r->metadata[i]->key);
        s_print_indented (r->metadata[i]->value, "         ");
    }
    printf ("text     ");
    s_print_indented (r->text, "         ");
}

//  The one-line summary of the job queue (status and jobs stats).
static void
s_print_job_totals (const Memd__V1__JobStatsResult *j, const char *prefix)
{
    printf ("%s%llu queued, %llu leased, %llu dead", prefix, (unsigned long long) j->queued,
            (unsigned long long) j->leased, (unsigned long long) j->dead);
    if (j->retrying || j->blocked)
        printf (" (of the queued: %llu awaiting retry, %llu blocked)",
                (unsigned long long) j->retrying, (unsigned long long) j->blocked);
    if (j->waiting_workers)
        printf (", %u worker%s waiting", j->waiting_workers, j->waiting_workers == 1 ? "" : "s");
    char age[32];
    if (j->oldest_due_age_ms) {
        s_format_duration (j->oldest_due_age_ms, age, sizeof age);
        printf (", oldest due %s ago", age);
    }
    if (j->next_deadline_ms) {
        int64_t in = j->next_deadline_ms - (int64_t) time (NULL) * 1000;
        s_format_duration (in > 0 ? in : 0, age, sizeof age);
        printf (", next deadline in %s", age);
    }
    putchar ('\n');
}

//  --------------------------------------------------------------------------
//  ping

static int
s_cmd_ping (ctx_t *ctx, int argc, char **argv)
{
    static const struct option options[] = {COMMON_LONG, {NULL, 0, NULL, 0}};
    int c, rc;
    while ((c = getopt_long (argc, argv, COMMON_SHORT, options, NULL)) != -1)
        if ((rc = s_common_option (ctx, c, argv)) >= 0)
            return rc;
    if (optind < argc)
        return s_usage_error (ctx, "unexpected argument '%s'", argv[optind]);
    if ((rc = s_connect (ctx)) >= 0)
        return rc;

    Memd__V1__Reply *reply = memd_client_ping_reply (ctx->client);
    if (!reply)
        return s_fail_client (ctx);
    Memd__V1__PingResult *ping = reply->ping;
    if (ctx->json)
        memctl_json_print (json_pack ("{s:o, s:i, s:I}", "version",
                                      memctl_json_string (ping->version), "pid", (int) ping->pid,
                                      "uptime_ms", (json_int_t) ping->uptime_ms));
    else
        printf ("pong (memd %s, pid %u, up %lld ms)\n", ping->version, ping->pid,
                (long long) ping->uptime_ms);
    memd_client_reply_free (&reply);
    return 0;
}

//  --------------------------------------------------------------------------
//  status

static void
s_print_status (const Memd__V1__StatusResult *st)
{
    char up[32], a[32], b[32];
    s_format_duration (st->uptime_ms, up, sizeof up);
    printf ("memd %s, pid %u, %s, up %s\n", st->version, st->pid, st->state, up);
    const Memd__V1__Transition *t = st->last_transition;
    if (t && (*t->from_state || *t->to_state)) {
        char at[64];
        s_format_time (t->at_ms, at, sizeof at);
        printf ("last transition  %s -> %s at %s%s%s%s\n",
                *t->from_state ? t->from_state : "(start)", t->to_state, at,
                *t->reason ? " (" : "", t->reason, *t->reason ? ")" : "");
    }
    printf ("records          %llu live, %llu tombstoned\n",
            (unsigned long long) st->records_live, (unsigned long long) st->records_tombstoned);
    if (st->jobs)
        s_print_job_totals (st->jobs, "jobs             ");
    s_format_bytes (st->rss_bytes, a, sizeof a);
    printf ("resources        %s RSS, %u fds, %u threads, %u recall workers\n", a, st->fds,
            st->threads, st->recall_workers);
    printf ("requests         %llu received, %llu rejected\n",
            (unsigned long long) st->requests, (unsigned long long) st->requests_rejected);
    s_format_bytes (st->store_bytes, a, sizeof a);
    s_format_bytes (st->map_bytes, b, sizeof b);
    printf ("store            %s data file, %s map\n", a, b);
    if (*st->data_dir)
        printf ("data dir         %s\n", st->data_dir);
    if (*st->endpoint)
        printf ("endpoint         %s\n", st->endpoint);
}

static int
s_cmd_status (ctx_t *ctx, int argc, char **argv)
{
    static const struct option options[] = {COMMON_LONG, {NULL, 0, NULL, 0}};
    int c, rc;
    while ((c = getopt_long (argc, argv, COMMON_SHORT, options, NULL)) != -1)
        if ((rc = s_common_option (ctx, c, argv)) >= 0)
            return rc;
    if (optind < argc)
        return s_usage_error (ctx, "unexpected argument '%s'", argv[optind]);
    if ((rc = s_connect (ctx)) >= 0)
        return rc;

    Memd__V1__Reply *reply = memd_client_status (ctx->client);
    if (!reply)
        return s_fail_client (ctx);
    if (ctx->json)
        memctl_json_print (memctl_json_status (reply->status_result));
    else
        s_print_status (reply->status_result);
    memd_client_reply_free (&reply);
    return 0;
}

//  --------------------------------------------------------------------------
//  capture

static volatile sig_atomic_t s_interrupted = 0;

static void
s_on_signal (int signum)
{
    s_interrupted = 1;
}

//  Buffered line reader over a file descriptor, so that we know when no
//  input is waiting (stdio cannot tell) and can send a partial batch then.
typedef struct {
    int fd;
    char *buf;
    size_t size;                //  allocated
    size_t start;               //  first unread byte
    size_t end;                 //  end of the data read
    bool eof;
} reader_t;

//  The next complete line in the buffer (without its newline), or the
//  unterminated rest at end of input; NULL if more must be read first.
static char *
s_reader_line (reader_t *r, size_t *len)
{
    if (r->start == r->end)
        return NULL;
    char *line = r->buf + r->start;
    char *nl = (char *) memchr (line, '\n', r->end - r->start);
    if (nl) {
        *len = (size_t) (nl - line);
        r->start += *len + 1;
        return line;
    }
    if (r->eof) {
        *len = r->end - r->start;
        r->start = r->end;
        return line;
    }
    return NULL;
}

//  Reads more input. Returns 0, -1 on a read error (errno), -2 if one line
//  is over MAX_LINE_BYTES, -3 if interrupted by a signal.
static int
s_reader_fill (reader_t *r)
{
    if (r->start > 0) {
        memmove (r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    if (r->end == r->size) {
        if (r->size >= MAX_LINE_BYTES)
            return -2;
        size_t size = r->size ? r->size * 2 : 64 * 1024;
        char *buf = (char *) realloc (r->buf, size);
        if (!buf)
            return -1;
        r->buf = buf;
        r->size = size;
    }
    while (true) {
        ssize_t n = read (r->fd, r->buf + r->end, r->size - r->end);
        if (n > 0)
            r->end += (size_t) n;
        else if (n == 0)
            r->eof = true;
        else if (errno == EINTR && !s_interrupted)
            continue;
        else
            return errno == EINTR ? -3 : -1;
        return 0;
    }
}

//  True if fd has input (or EOF) within timeout_ms.
static bool
s_input_ready (int fd, int timeout_ms)
{
    struct pollfd item = {fd, POLLIN, 0};
    return poll (&item, 1, timeout_ms) != 0;
}

//  One streaming import: the batch being filled and what was acked so far.
typedef struct {
    ctx_t *ctx;
    Memd__V1__Record **records; //  the batch, all of one agent
    size_t n;
    size_t max;                 //  --batch
    size_t bytes;               //  approximate packed size of the batch
    uint64_t *ids;              //  ids of the batch, once acked
    size_t *lines;              //  input line of each record of the batch
    json_t *acked;              //  with --json: every id acked so far
    size_t total;               //  records acked so far
    int64_t started;            //  for the progress line
    int64_t progress_at;        //  when the progress line is next due (0 = never)
    bool progress_shown;
    char located[1200];         //  memd's error about a batch, with line numbers
} stream_t;

static void
s_stream_clear (stream_t *st)
{
    for (size_t i = 0; i < st->n; i++)
        memctl_record_destroy (&st->records[i]);
    st->n = 0;
    st->bytes = 0;
}

//  Points memd's complaint about a batch at the input: "record 3: …"
//  becomes "line 17: record 3: …"; other complaints get the batch's lines.
static void
s_stream_locate (stream_t *st)
{
    ctx_t *ctx = st->ctx;
    int code = memd_client_code (ctx->client);
    const char *error = memd_client_error (ctx->client);
    if (code == MEMD__V1__CODE__UNAVAILABLE || st->n == 0)
        return;
    size_t index;
    char where[64];
    if (sscanf (error, "record %zu:", &index) == 1 && index < st->n)
        snprintf (where, sizeof where, "line %zu", st->lines[index]);
    else
        snprintf (where, sizeof where, "lines %zu-%zu", st->lines[0], st->lines[st->n - 1]);
    snprintf (st->located, sizeof st->located, "%s: %s", where, error);
}

//  Sends the batch and prints its ids once memd has stored it. 0 or -1.
static int
s_stream_flush (stream_t *st)
{
    if (st->n == 0)
        return 0;
    const char *agent = st->records[0]->agent_id;
    int rc = memd_client_capture (st->ctx->client, agent, st->records, st->n, st->ids, NULL);
    if (rc == 0) {
        for (size_t i = 0; i < st->n; i++) {
            if (st->acked)
                json_array_append_new (st->acked, memctl_json_u64 (st->ids[i]));
            else
                printf ("%llu\n", (unsigned long long) st->ids[i]);
        }
        fflush (stdout);
        st->total += st->n;
    }
    if (rc)
        s_stream_locate (st);
    s_stream_clear (st);
    if (rc == 0 && st->progress_at && zclock_mono () >= st->progress_at) {
        fprintf (stderr, "\rmemctl: captured %zu records", st->total);
        st->progress_shown = true;
        st->progress_at = zclock_mono () + 1000;
    }
    return rc;
}

//  Adds a record to the batch, sending the batch first when the record
//  would overflow it or belongs to another agent. 0 or -1.
static int
s_stream_add (stream_t *st, Memd__V1__Record *record, size_t line)
{
    size_t bytes = memd__v1__record__get_packed_size (record) + 8;
    if (st->n > 0
        && (st->n == st->max || st->bytes + bytes > MAX_BATCH_BYTES
            || strcmp (st->records[0]->agent_id, record->agent_id) != 0)
        && s_stream_flush (st)) {
        memctl_record_destroy (&record);
        return -1;
    }
    st->lines[st->n] = line;
    st->records[st->n++] = record;
    st->bytes += bytes;
    return 0;
}

//  A line with nothing but whitespace.
static bool
s_blank (const char *line, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
            return false;
    return true;
}

//  `capture -`: JSONL on stdin, batched. A failure keeps what was acked:
//  printed ids are durable, and with --json they are in the final document.
static int
s_capture_stream (ctx_t *ctx, const memctl_defaults_t *defaults, size_t batch)
{
    stream_t st = {.ctx = ctx, .max = batch};
    st.records = (Memd__V1__Record **) calloc (batch, sizeof (Memd__V1__Record *));
    st.ids = (uint64_t *) calloc (batch, sizeof (uint64_t));
    st.lines = (size_t *) calloc (batch, sizeof (size_t));
    st.acked = ctx->json ? json_array () : NULL;
    st.started = zclock_mono ();
    if (isatty (STDERR_FILENO) && !isatty (STDOUT_FILENO))
        st.progress_at = st.started + 1000;
    reader_t reader = {.fd = STDIN_FILENO};

    //  Ctrl-C stops the import cleanly (a second one kills memctl).
    struct sigaction action, old_int, old_term;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_on_signal;
    action.sa_flags = SA_RESETHAND;   //  no SA_RESTART: read() returns EINTR
    sigaction (SIGINT, &action, &old_int);
    sigaction (SIGTERM, &action, &old_term);

    int code = MEMD__V1__CODE__OK;   //  why the import stopped
    char message[1200] = "";
    size_t lineno = 0;
    bool failed = !st.records || !st.ids || !st.lines;
    if (failed) {
        code = MEMD__V1__CODE__RESOURCE_EXHAUSTED;
        snprintf (message, sizeof message, "out of memory");
    }
    while (!failed && !s_interrupted) {
        size_t len;
        char *line = s_reader_line (&reader, &len);
        if (line) {
            lineno++;
            if (lineno == 1 && len >= 3 && memcmp (line, "\xef\xbb\xbf", 3) == 0) {
                line += 3;   //  a UTF-8 byte order mark
                len -= 3;
            }
            if (s_blank (line, len))
                continue;
            char err[512];
            Memd__V1__Record *record =
                memctl_record_from_json (line, len, defaults, err, sizeof err);
            if (!record) {
                //  Everything before the bad line is captured, nothing after.
                if (s_stream_flush (&st) == 0) {
                    code = MEMD__V1__CODE__INVALID_ARGUMENT;
                    snprintf (message, sizeof message, "line %zu: %s", lineno, err);
                }
                failed = true;
            }
            else
                failed = s_stream_add (&st, record, lineno) != 0;
            continue;
        }
        if (reader.eof)
            break;
        //  Input paused: send what we have rather than sit on it.
        if (st.n > 0 && !s_input_ready (reader.fd, IDLE_FLUSH_MS) && s_stream_flush (&st)) {
            failed = true;
            continue;
        }
        int rc = s_reader_fill (&reader);
        if (rc == -1 || rc == -2) {
            //  As for a bad line: what came before is captured (unless that fails).
            int saved = errno;
            failed = true;
            if (s_stream_flush (&st))
                continue;
            if (rc == -2) {
                code = MEMD__V1__CODE__TOO_LARGE;
                snprintf (message, sizeof message, "line %zu: longer than %u MiB", lineno + 1,
                          MAX_LINE_BYTES >> 20);
            }
            else {
                code = MEMD__V1__CODE__INTERNAL;
                snprintf (message, sizeof message, "reading stdin: %s", strerror (saved));
            }
        }
    }
    if (!failed && !s_interrupted && s_stream_flush (&st))
        failed = true;
    if (failed && code == MEMD__V1__CODE__OK) {
        //  The failure came from memd (or from reaching it).
        code = memd_client_code (ctx->client);
        snprintf (message, sizeof message, "%s",
                  *st.located ? st.located : memd_client_error (ctx->client));
    }
    int exit_code = s_exit_code (code);
    if (s_interrupted && code == MEMD__V1__CODE__OK) {
        snprintf (message, sizeof message, "interrupted after %zu records", st.total);
        exit_code = EXIT_INTERRUPTED;
    }
    sigaction (SIGINT, &old_int, NULL);
    sigaction (SIGTERM, &old_term, NULL);

    if (st.progress_shown)
        fprintf (stderr, "\rmemctl: captured %zu records\n", st.total);
    const char *name = exit_code == EXIT_INTERRUPTED ? "CANCELLED" : s_code_name (code);
    if (ctx->json) {
        json_t *doc = json_object ();
        json_object_set_new (doc, "ids", st.acked);
        if (exit_code)
            json_object_set_new (doc, "error", memctl_json_error (name, message));
        memctl_json_print (doc);
    }
    else if (exit_code)
        fprintf (stderr, "memctl: %s: %s\n", name, message);
    s_stream_clear (&st);
    free (st.records);
    free (st.ids);
    free (st.lines);
    free (reader.buf);
    return exit_code;
}

static int
s_cmd_capture (ctx_t *ctx, int argc, char **argv)
{
    enum { OPT_KIND = 256, OPT_TAG, OPT_META, OPT_TS, OPT_BATCH };
    static const struct option options[] = {
        COMMON_LONG,
        {"agent", required_argument, NULL, 'a'},
        {"session", required_argument, NULL, 's'},
        {"kind", required_argument, NULL, OPT_KIND},
        {"tag", required_argument, NULL, OPT_TAG},
        {"meta", required_argument, NULL, OPT_META},
        {"ts", required_argument, NULL, OPT_TS},
        {"batch", required_argument, NULL, OPT_BATCH},
        {NULL, 0, NULL, 0}};
    memctl_defaults_t defaults = {.agent = "default"};
    //  At most one tag or metadata entry per argument.
    const char **tags = (const char **) calloc ((size_t) argc, sizeof (char *));
    const char **keys = (const char **) calloc ((size_t) argc, sizeof (char *));
    const char **values = (const char **) calloc ((size_t) argc, sizeof (char *));
    defaults.tags = tags;
    defaults.meta_keys = keys;
    defaults.meta_values = values;
    uint64_t batch = DEFAULT_BATCH;
    int c, rc = -1;
    while (rc < 0 && (c = getopt_long (argc, argv, COMMON_SHORT "a:s:", options, NULL)) != -1) {
        char *eq;
        switch (c) {
        case 'a':
            if (!*optarg)
                rc = s_usage_error (ctx, "--agent is empty");
            defaults.agent = optarg;
            break;
        case 's':
            defaults.session = optarg;
            break;
        case OPT_KIND:
            rc = s_parse_kind (ctx, optarg, &defaults.kind);
            break;
        case OPT_TAG:
            if (!*optarg)
                rc = s_usage_error (ctx, "--tag is empty");
            tags[defaults.n_tags++] = optarg;
            break;
        case OPT_META:
            eq = strchr (optarg, '=');
            if (!eq || eq == optarg) {
                rc = s_usage_error (ctx, "--meta wants KEY=VALUE, not '%s'", optarg);
                break;
            }
            *eq = 0;   //  argv is ours to modify
            keys[defaults.n_meta] = optarg;
            values[defaults.n_meta++] = eq + 1;
            break;
        case OPT_TS:
            if (s_parse_ms (optarg, &defaults.created_at_ms))
                rc = s_usage_error (ctx, "--ts wants milliseconds since the epoch, not '%s'",
                                    optarg);
            break;
        case OPT_BATCH:
            if (s_parse_u64 (optarg, &batch) || batch == 0 || batch > MAX_BATCH)
                rc = s_usage_error (ctx, "--batch wants a number from 1 to %d, not '%s'",
                                    MAX_BATCH, optarg);
            break;
        default:
            rc = s_common_option (ctx, c, argv);
        }
    }
    if (rc < 0 && optind == argc)
        rc = s_usage_error (ctx, "missing TEXT (or '-' to read JSONL from stdin)");
    if (rc < 0)
        rc = s_connect (ctx);
    if (rc >= 0) {
        free (tags);
        free (keys);
        free (values);
        return rc;
    }

    if (argc - optind == 1 && strcmp (argv[optind], "-") == 0)
        rc = s_capture_stream (ctx, &defaults, (size_t) batch);
    else {
        char *text = s_join (argc - optind, argv + optind);
        Memd__V1__Record *record = text && *text ? memctl_record_new (&defaults, text) : NULL;
        uint64_t id;
        if (text && !*text)
            rc = s_usage_error (ctx, "TEXT is empty");
        else if (!record)
            rc = s_fail (ctx, MEMD__V1__CODE__RESOURCE_EXHAUSTED, "out of memory");
        else if (memd_client_capture (ctx->client, defaults.agent, &record, 1, &id, NULL))
            rc = s_fail_client (ctx);
        else {
            if (ctx->json)
                memctl_json_print (json_pack ("{s:o}", "ids", memctl_json_ids (&id, 1)));
            else
                printf ("%llu\n", (unsigned long long) id);
            rc = 0;
        }
        memctl_record_destroy (&record);
        free (text);
    }
    free (tags);
    free (keys);
    free (values);
    return rc;
}

//  --------------------------------------------------------------------------
//  recall

static int
s_cmd_recall (ctx_t *ctx, int argc, char **argv)
{
    enum { OPT_KIND = 256, OPT_TAG, OPT_SINCE, OPT_UNTIL, OPT_EXPLAIN };
    static const struct option options[] = {
        COMMON_LONG,
        {"agent", required_argument, NULL, 'a'},
        {"k", required_argument, NULL, 'k'},
        {"session", required_argument, NULL, 's'},
        {"kind", required_argument, NULL, OPT_KIND},
        {"tag", required_argument, NULL, OPT_TAG},
        {"since", required_argument, NULL, OPT_SINCE},
        {"until", required_argument, NULL, OPT_UNTIL},
        {"explain", no_argument, NULL, OPT_EXPLAIN},
        {NULL, 0, NULL, 0}};
    const char *agent = "default";
    Memd__V1__Recall query = MEMD__V1__RECALL__INIT;
    char **tags = (char **) calloc ((size_t) argc, sizeof (char *));
    query.tags = tags;
    uint64_t k;
    int c, rc = -1;
    while (rc < 0 && (c = getopt_long (argc, argv, COMMON_SHORT "a:k:s:", options, NULL)) != -1) {
        switch (c) {
        case 'a':
            if (!*optarg)
                rc = s_usage_error (ctx, "--agent is empty");
            agent = optarg;
            break;
        case 'k':
            if (s_parse_u64 (optarg, &k) || k == 0 || k > UINT32_MAX)
                rc = s_usage_error (ctx, "-k wants a positive number of hits, not '%s'", optarg);
            query.k = (uint32_t) k;
            break;
        case 's':
            query.session_id = optarg;
            break;
        case OPT_KIND:
            rc = s_parse_kind (ctx, optarg, &query.kind);
            break;
        case OPT_TAG:
            tags[query.n_tags++] = optarg;
            break;
        case OPT_SINCE:
            if (s_parse_ms (optarg, &query.since_ms))
                rc = s_usage_error (ctx, "--since wants milliseconds since the epoch, not '%s'",
                                    optarg);
            break;
        case OPT_UNTIL:
            if (s_parse_ms (optarg, &query.until_ms))
                rc = s_usage_error (ctx, "--until wants milliseconds since the epoch, not '%s'",
                                    optarg);
            break;
        case OPT_EXPLAIN:
            query.explain = true;
            break;
        default:
            rc = s_common_option (ctx, c, argv);
        }
    }
    if (rc < 0 && optind == argc)
        rc = s_usage_error (ctx, "missing QUERY");
    if (rc < 0 && query.since_ms && query.until_ms && query.until_ms <= query.since_ms)
        rc = s_usage_error (ctx, "--until must be after --since");
    if (rc < 0)
        rc = s_connect (ctx);
    char *text = rc < 0 ? s_join (argc - optind, argv + optind) : NULL;
    if (rc < 0 && !text)
        rc = s_fail (ctx, MEMD__V1__CODE__RESOURCE_EXHAUSTED, "out of memory");
    if (rc >= 0) {
        free (tags);
        free (text);
        return rc;
    }

    query.query = text;
    Memd__V1__Reply *reply = memd_client_recall (ctx->client, agent, &query);
    free (text);
    free (tags);
    if (!reply)
        return s_fail_client (ctx);
    Memd__V1__RecallResult *result = reply->recall;
    if (ctx->json) {
        json_t *hits = json_array ();
        for (size_t i = 0; i < result->n_hits; i++)
            json_array_append_new (hits, memctl_json_hit (result->hits[i]));
        memctl_json_print (json_pack ("{s:o}", "hits", hits));
    }
    else {
        size_t width = isatty (STDOUT_FILENO) ? TTY_TEXT_CHARS : 0;
        for (size_t i = 0; i < result->n_hits; i++) {
            const Memd__V1__Hit *hit = result->hits[i];
            const Memd__V1__Record *r = hit->record;
            printf ("#%llu  %.3f  ", r ? (unsigned long long) r->id : 0ULL, hit->score);
            if (r && *r->session_id)
                printf ("[%s] ", r->session_id);
            s_print_one_line (r ? r->text : "", width);
            putchar ('\n');
            if (*hit->explain) {
                printf ("    ");
                s_print_indented (hit->explain, "    ");
            }
        }
        if (result->n_hits == 0 && isatty (STDOUT_FILENO))
            fprintf (stderr, "memctl: no hits\n");
    }
    memd_client_reply_free (&reply);
    return 0;
}

//  --------------------------------------------------------------------------
//  get

static int
s_cmd_get (ctx_t *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        COMMON_LONG, {"agent", required_argument, NULL, 'a'}, {NULL, 0, NULL, 0}};
    const char *agent = "default";
    int c, rc = -1;
    while (rc < 0 && (c = getopt_long (argc, argv, COMMON_SHORT "a:", options, NULL)) != -1) {
        if (c == 'a') {
            if (!*optarg)
                rc = s_usage_error (ctx, "--agent is empty");
            agent = optarg;
        }
        else
            rc = s_common_option (ctx, c, argv);
    }
    if (rc >= 0)
        return rc;
    size_t n = (size_t) (argc - optind);
    if (n == 0)
        return s_usage_error (ctx, "missing ID");
    uint64_t *ids = (uint64_t *) calloc (n, sizeof (uint64_t));
    if (!ids)
        return s_fail (ctx, MEMD__V1__CODE__RESOURCE_EXHAUSTED, "out of memory");
    if ((rc = s_parse_ids (ctx, (int) n, argv + optind, ids)) < 0)
        rc = s_connect (ctx);
    if (rc >= 0) {
        free (ids);
        return rc;
    }

    Memd__V1__Reply *reply = memd_client_get (ctx->client, agent, ids, n);
    free (ids);
    if (!reply)
        return s_fail_client (ctx);
    Memd__V1__GetResult *result = reply->get;
    int code = memd_client_code (ctx->client);
    if (ctx->json) {
        json_t *records = json_array ();
        for (size_t i = 0; i < result->n_records; i++)
            json_array_append_new (records, memctl_json_record (result->records[i]));
        json_t *doc = json_pack ("{s:o}", "records", records);
        if (code != MEMD__V1__CODE__OK) {
            json_object_set_new (doc, "missing",
                                 memctl_json_ids (result->missing, result->n_missing));
            json_object_set_new (doc, "error",
                                 memctl_json_error (s_code_name (code),
                                                    memd_client_error (ctx->client)));
        }
        memctl_json_print (doc);
    }
    else {
        for (size_t i = 0; i < result->n_records; i++) {
            if (i)
                putchar ('\n');
            s_print_record (result->records[i]);
        }
        fflush (stdout);
        if (code != MEMD__V1__CODE__OK)
            fprintf (stderr, "memctl: %s: %s\n", s_code_name (code),
                     memd_client_error (ctx->client));
    }
    memd_client_reply_free (&reply);
    return s_exit_code (code);
}

//  --------------------------------------------------------------------------
//  forget

static int
s_cmd_forget (ctx_t *ctx, int argc, char **argv)
{
    static const struct option options[] = {COMMON_LONG,
                                            {"agent", required_argument, NULL, 'a'},
                                            {"session", required_argument, NULL, 's'},
                                            {NULL, 0, NULL, 0}};
    const char *agent = "default";
    const char *session = NULL;
    int c, rc = -1;
    while (rc < 0 && (c = getopt_long (argc, argv, COMMON_SHORT "a:s:", options, NULL)) != -1) {
        if (c == 'a') {
            if (!*optarg)
                rc = s_usage_error (ctx, "--agent is empty");
            agent = optarg;
        }
        else if (c == 's') {
            if (!*optarg)
                rc = s_usage_error (ctx, "--session is empty");
            session = optarg;
        }
        else
            rc = s_common_option (ctx, c, argv);
    }
    if (rc >= 0)
        return rc;
    size_t n = (size_t) (argc - optind);
    if (n == 0 && !session)
        return s_usage_error (ctx, "missing ID (or --session S)");
    if (n > 0 && session)
        return s_usage_error (ctx, "give ids or --session, not both");
    uint64_t *ids = (uint64_t *) calloc (n ? n : 1, sizeof (uint64_t));
    if (!ids)
        return s_fail (ctx, MEMD__V1__CODE__RESOURCE_EXHAUSTED, "out of memory");
    if ((rc = s_parse_ids (ctx, (int) n, argv + optind, ids)) < 0)
        rc = s_connect (ctx);
    if (rc >= 0) {
        free (ids);
        return rc;
    }

    uint64_t forgotten = 0;
    rc = memd_client_forget (ctx->client, agent, ids, n, session, &forgotten);
    free (ids);
    int code = memd_client_code (ctx->client);
    if (rc && code != MEMD__V1__CODE__NOT_FOUND)
        return s_fail_client (ctx);
    if (ctx->json) {
        json_t *doc = json_pack ("{s:o}", "forgotten", memctl_json_u64 (forgotten));
        if (rc)
            json_object_set_new (doc, "error",
                                 memctl_json_error (s_code_name (code),
                                                    memd_client_error (ctx->client)));
        memctl_json_print (doc);
    }
    else {
        printf ("forgot %llu record%s\n", (unsigned long long) forgotten,
                forgotten == 1 ? "" : "s");
        fflush (stdout);
        if (rc)
            fprintf (stderr, "memctl: %s: %s\n", s_code_name (code),
                     memd_client_error (ctx->client));
    }
    return s_exit_code (code);
}

//  --------------------------------------------------------------------------
//  jobs

//  A job id or fence: a positive decimal.
static int
s_parse_job_number (ctx_t *ctx, const char *what, const char *text, uint64_t *value)
{
    if (s_parse_id (text, value))
        return s_usage_error (ctx, "%s wants a positive number, not '%s'", what, text);
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
            s_print_one_line (job->last_error, 80);
        }
        printf ("  payload: ");
    }
    s_print_one_line (payload ? payload : "", leased ? 0 : 60);
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
        return s_usage_error (ctx, "cannot read %s: %s", path, strerror (errno));
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
        return s_usage_error (ctx, "cannot read %s (too large, or a read error)", path);
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
    int c, rc = after ? -1 : s_fail (ctx, MEMD__V1__CODE__RESOURCE_EXHAUSTED, "out of memory");
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
            if (s_parse_ms (optarg, &job.delay_ms))
                rc = s_usage_error (ctx, "--delay wants milliseconds, not '%s'", optarg);
            break;
        case OPT_ATTEMPTS:
            if (s_parse_u64 (optarg, &value) || value == 0 || value > 1000)
                rc = s_usage_error (ctx, "--max-attempts wants 1 to 1000, not '%s'", optarg);
            job.max_attempts = (uint32_t) value;
            break;
        case OPT_AFTER:
            rc = s_parse_job_number (ctx, "--after", optarg, &after[job.n_depends_on]);
            job.n_depends_on++;
            break;
        default:
            rc = s_common_option (ctx, c, argv);
        }
    }
    if (rc < 0 && argc - optind != 1)
        rc = s_usage_error (ctx, argc == optind ? "missing KIND" : "one KIND only, not '%s'",
                            argv[argc - 1]);
    if (rc < 0)
        rc = s_connect (ctx);
    if (rc < 0) {
        job.kind = argv[optind];
        job.depends_on = after;
        uint64_t id;
        bool duplicate;
        if (memd_client_job_enqueue (ctx->client, &job, &id, &duplicate))
            rc = s_fail_client (ctx);
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
            if (s_parse_u64 (optarg, &value) || value == 0 || value > 1000)
                rc = s_usage_error (ctx, "--max wants 1 to 1000, not '%s'", optarg);
            lease.max_jobs = (uint32_t) value;
            break;
        case OPT_LEASE:
            if (s_parse_ms (optarg, &lease.lease_ms) || lease.lease_ms == 0)
                rc = s_usage_error (ctx, "--lease wants milliseconds, not '%s'", optarg);
            break;
        case OPT_WAIT:
            if (s_parse_ms (optarg, &lease.wait_ms))
                rc = s_usage_error (ctx, "--wait wants milliseconds, not '%s'", optarg);
            break;
        case OPT_WORKER:
            lease.worker = optarg;
            break;
        default:
            rc = s_common_option (ctx, c, argv);
        }
    }
    if (rc < 0 && optind == argc)
        rc = s_usage_error (ctx, "missing KIND");
    if (rc < 0)
        rc = s_connect (ctx);
    if (rc >= 0)
        return rc;
    lease.kinds = argv + optind;
    lease.n_kinds = (size_t) (argc - optind);
    Memd__V1__Reply *reply = memd_client_job_lease (ctx->client, &lease);
    if (!reply)
        return s_fail_client (ctx);
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
            rc = s_usage_error (ctx, "'%s' is an option of 'jobs fail'", argv[optind - 1]);
        else if (c == OPT_LEASE && !extend)
            rc = s_usage_error (ctx, "'%s' is an option of 'jobs extend'", argv[optind - 1]);
        else if (c == OPT_FENCE) {
            if (s_parse_u64 (optarg, &fence))
                rc = s_usage_error (ctx, "--fence wants a number, not '%s'", optarg);
            has_fence = true;
        }
        else if (c == OPT_FATAL)
            fatal = true;
        else if (c == OPT_ERROR)
            error = optarg;
        else if (c == OPT_RETRY_AFTER) {
            if (s_parse_ms (optarg, &retry_after))
                rc = s_usage_error (ctx, "--retry-after wants milliseconds, not '%s'", optarg);
        }
        else if (c == OPT_LEASE) {
            if (s_parse_ms (optarg, &lease_ms) || lease_ms == 0)
                rc = s_usage_error (ctx, "--lease wants milliseconds, not '%s'", optarg);
        }
        else
            rc = s_common_option (ctx, c, argv);
    }
    if (rc < 0 && argc - optind != 1)
        rc = s_usage_error (ctx, argc == optind ? "missing ID" : "one ID only");
    if (rc < 0)
        rc = s_parse_job_number (ctx, "ID", argv[optind], &id);
    if (rc < 0 && !has_fence)
        rc = s_usage_error (ctx, "missing --fence F (the fence of your lease)");
    if (rc < 0)
        rc = s_connect (ctx);
    if (rc >= 0)
        return rc;
    Memd__V1__Reply *reply = NULL;
    int failed = fail     ? memd_client_job_fail (ctx->client, id, fence, fatal, error,
                                                  retry_after, &reply)
               : extend ? memd_client_job_extend (ctx->client, id, fence, lease_ms, &reply)
                          : memd_client_job_complete (ctx->client, id, fence, &reply);
    if (failed)
        return s_fail_client (ctx);
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
                rc = s_usage_error (ctx, "unknown state '%s' (queued, leased, failed, blocked, "
                                         "dead, done)", optarg);
            query.state = (Memd__V1__JobState) (state < 0 ? 0 : state);
            break;
        }
        case OPT_KIND:
            query.kind = optarg;
            break;
        case OPT_LIMIT:
            if (s_parse_u64 (optarg, &value) || value == 0 || value > 10000)
                rc = s_usage_error (ctx, "--limit wants 1 to 10000, not '%s'", optarg);
            query.limit = (uint32_t) value;
            break;
        case OPT_AFTER:
            if (s_parse_u64 (optarg, &query.after_id))
                rc = s_usage_error (ctx, "--after wants a job id, not '%s'", optarg);
            break;
        default:
            rc = s_common_option (ctx, c, argv);
        }
    }
    if (rc < 0 && optind < argc)
        rc = s_usage_error (ctx, "unexpected argument '%s'", argv[optind]);
    if (rc < 0)
        rc = s_connect (ctx);
    if (rc >= 0)
        return rc;
    Memd__V1__Reply *reply = memd_client_job_list (ctx->client, &query);
    if (!reply)
        return s_fail_client (ctx);
    s_print_jobs (ctx, reply->job_list->jobs, reply->job_list->n_jobs, false,
                  reply->job_list->more);
    memd_client_reply_free (&reply);
    return 0;
}

static int
s_jobs_stats (ctx_t *ctx, int argc, char **argv)
{
    static const struct option options[] = {COMMON_LONG, {NULL, 0, NULL, 0}};
    int c, rc;
    while ((c = getopt_long (argc, argv, COMMON_SHORT, options, NULL)) != -1)
        if ((rc = s_common_option (ctx, c, argv)) >= 0)
            return rc;
    if (optind < argc)
        return s_usage_error (ctx, "unexpected argument '%s'", argv[optind]);
    if ((rc = s_connect (ctx)) >= 0)
        return rc;
    Memd__V1__Reply *reply = memd_client_job_stats (ctx->client);
    if (!reply)
        return s_fail_client (ctx);
    const Memd__V1__JobStatsResult *st = reply->job_stats;
    if (ctx->json)
        memctl_json_print (memctl_json_job_stats (st));
    else {
        s_print_job_totals (st, "");
        if (st->n_kinds)
            printf ("%-20s %8s %8s %8s %8s %8s %8s %6s %10s\n", "kind", "queued", "leased",
                    "retrying", "blocked", "dead", "done", "limit", "oldest due");
        for (size_t i = 0; i < st->n_kinds; i++) {
            const Memd__V1__JobKindStats *k = st->kinds[i];
            char age[32] = "-", limit[16] = "-";
            if (k->oldest_due_age_ms)
                s_format_duration (k->oldest_due_age_ms, age, sizeof age);
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
            rc = s_common_option (ctx, c, argv);
    }
    if (rc >= 0)
        return rc;
    size_t n = (size_t) (argc - optind);
    uint64_t *ids = (uint64_t *) calloc (n ? n : 1, sizeof (uint64_t));
    if (!ids)
        return s_fail (ctx, MEMD__V1__CODE__RESOURCE_EXHAUSTED, "out of memory");
    for (size_t i = 0; i < n && rc < 0; i++)
        rc = s_parse_job_number (ctx, "ID", argv[optind + (int) i], &ids[i]);
    if (rc < 0)
        rc = s_connect (ctx);
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
        return s_fail_client (ctx);
    if (ctx->json) {
        json_t *doc = json_pack ("{s:o}", retry ? "retried" : "purged", memctl_json_u64 (count));
        if (rc)
            json_object_set_new (doc, "error",
                                 memctl_json_error (s_code_name (code),
                                                    memd_client_error (ctx->client)));
        memctl_json_print (doc);
    }
    else {
        printf ("%s %llu dead letter%s\n", retry ? "retried" : "purged",
                (unsigned long long) count, count == 1 ? "" : "s");
        fflush (stdout);
        if (rc)
            fprintf (stderr, "memctl: %s: %s\n", s_code_name (code),
                     memd_client_error (ctx->client));
    }
    return s_exit_code (code);
}

//  `memctl jobs SUBCOMMAND …`
static int
s_cmd_jobs (ctx_t *ctx, int argc, char **argv)
{
    static const char *subcommands[]
        = {"enqueue", "lease", "complete", "fail", "extend", "list", "stats", "retry", "purge"};
    if (argc < 2 || strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0
        || strcmp (argv[1], "help") == 0) {
        if (argc < 2)
            return s_usage_error (ctx, "missing SUBCOMMAND (enqueue, lease, complete, fail, "
                                       "extend, list, stats, retry, purge)");
        fputs (s_jobs_usage, stdout);
        return 0;
    }
    const char *sub = argv[1];
    size_t i = 0;
    while (i < sizeof subcommands / sizeof subcommands[0] && strcmp (subcommands[i], sub))
        i++;
    if (i == sizeof subcommands / sizeof subcommands[0])
        return s_usage_error (ctx, "unknown subcommand '%s'", sub);
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

//  --------------------------------------------------------------------------
//  main

static int s_cmd_help (ctx_t *ctx, int argc, char **argv);

static const struct {
    const char *name;
    command_fn *fn;
    const char **usage;
} s_commands[] = {
    {"ping", s_cmd_ping, &s_ping_usage},
    {"status", s_cmd_status, &s_status_usage},
    {"capture", s_cmd_capture, &s_capture_usage},
    {"recall", s_cmd_recall, &s_recall_usage},
    {"get", s_cmd_get, &s_get_usage},
    {"forget", s_cmd_forget, &s_forget_usage},
    {"jobs", s_cmd_jobs, &s_jobs_usage},
    {"help", s_cmd_help, &s_global_usage},
};
#define COMMAND_COUNT (sizeof s_commands / sizeof s_commands[0])

static int
s_find_command (const char *name)
{
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        if (strcmp (s_commands[i].name, name) == 0)
            return (int) i;
    return -1;
}

//  `memctl help [COMMAND]`
static int
s_cmd_help (ctx_t *ctx, int argc, char **argv)
{
    if (argc < 2) {
        fputs (s_global_usage, stdout);
        return 0;
    }
    int index = s_find_command (argv[1]);
    if (index < 0)
        return s_usage_error (ctx, "unknown command '%s'", argv[1]);
    fputs (*s_commands[index].usage, stdout);
    return 0;
}

int
main (int argc, char *argv[])
{
    //  Default signal handling (Ctrl-C ends memctl), not czmq's; this must
    //  come before the first socket initialises czmq.
    zsys_handler_set (NULL);

    static const struct option options[] = {
        COMMON_LONG, {"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0}};
    ctx_t ctx = {.usage = s_global_usage, .timeout_ms = DEFAULT_TIMEOUT_MS};
    opterr = 0;
    int c, rc = -1;
    //  '+': global options stop at the command name.
    while (rc < 0 && (c = getopt_long (argc, argv, "+" COMMON_SHORT "V", options, NULL)) != -1) {
        if (c == 'V') {
            printf ("memctl %s\n", MEMD_VERSION);
            rc = 0;
        }
        else
            rc = s_common_option (&ctx, c, argv);
    }
    if (rc < 0 && optind == argc)
        rc = s_usage_error (&ctx, "missing COMMAND");
    if (rc >= 0)
        return rc;

    int index = s_find_command (argv[optind]);
    if (index < 0)
        return s_usage_error (&ctx, "unknown command '%s'", argv[optind]);
    ctx.command = s_commands[index].name;
    ctx.usage = *s_commands[index].usage;
    int cmd_argc = argc - optind;
    char **cmd_argv = argv + optind;
    optind = 0;   //  GNU getopt: start over on the command's own arguments
    rc = s_commands[index].fn (&ctx, cmd_argc, cmd_argv);
    memd_client_destroy (&ctx.client);
    if (fflush (stdout) || ferror (stdout)) {
        fprintf (stderr, "memctl: writing stdout: %s\n", strerror (errno));
        rc = rc ? rc : EXIT_REFUSED;
    }
    return rc;
}
