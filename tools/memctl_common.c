/*  memctl_common — the helpers memctl's commands share (see memctl.h):
    reporting errors and choosing the exit code, parsing options and ids,
    connecting to memd, and the small pieces of human output that more than
    one command prints.
*/
#include "memctl.h"

#include <czmq.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

//  --------------------------------------------------------------------------
//  Reporting

//  "NOT_FOUND" for a status code, from the generated enum descriptor.
const char *
memctl_code_name (int code)
{
    const ProtobufCEnumValue *value =
        protobuf_c_enum_descriptor_get_value (&memd__v1__code__descriptor, code);
    return value ? value->name : "UNKNOWN";
}

//  Prints an error the way the output mode wants it; returns the exit code.
int
memctl_fail (ctx_t *ctx, int code, const char *message)
{
    const char *name = memctl_code_name (code);
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
int
memctl_fail_client (ctx_t *ctx)
{
    return memctl_fail (ctx, memd_client_code (ctx->client), memd_client_error (ctx->client));
}

//  Exit code for the client's last error, for commands that print their own
//  JSON document with an "error" member.
int
memctl_exit_code (int code)
{
    return code == MEMD__V1__CODE__OK            ? 0
         : code == MEMD__V1__CODE__UNAVAILABLE ? EXIT_UNAVAILABLE
                                                 : EXIT_REFUSED;
}

//  A usage error: a message and a hint on stderr (and, with --json, the
//  error document on stdout). Returns EXIT_USAGE.
int
memctl_usage_error (ctx_t *ctx, const char *fmt, ...)
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
int
memctl_getopt_error (ctx_t *ctx, int c, char **argv)
{
    const char *arg = argv[optind - 1];
    if (c == ':')
        return memctl_usage_error (ctx, "option '%s' needs a value", arg);
    if (optopt && (optopt < 0x80))
        return memctl_usage_error (ctx, "unknown option '-%c'", optopt);
    return memctl_usage_error (ctx, "unknown option '%s'", arg);
}

//  --------------------------------------------------------------------------
//  Parsing

//  Strict decimal unsigned: digits only, no sign, no spaces, no overflow.
int
memctl_parse_u64 (const char *text, uint64_t *value)
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
int
memctl_parse_ms (const char *text, int64_t *value)
{
    uint64_t x;
    if (memctl_parse_u64 (text, &x) || x > (uint64_t) INT64_MAX)
        return -1;
    *value = (int64_t) x;
    return 0;
}

//  A record id as printed by memctl ("12" or "#12"); ids start at 1.
int
memctl_parse_id (const char *text, uint64_t *id)
{
    if (text && *text == '#')
        text++;
    return memctl_parse_u64 (text, id) || *id == 0 ? -1 : 0;
}

//  Handles the options every command takes. Returns -1 to go on parsing,
//  or an exit code (0 after --help).
int
memctl_common_option (ctx_t *ctx, int c, char **argv)
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
        if (memctl_parse_u64 (optarg, &value) || value == 0 || value > INT32_MAX)
            return memctl_usage_error (ctx, "--timeout wants milliseconds (1 or more), not '%s'",
                                       optarg);
        ctx->timeout_ms = (int) value;
        return -1;
    case 'h':
        fputs (ctx->usage, stdout);
        return 0;
    default:
        return memctl_getopt_error (ctx, c, argv);
    }
}

int
memctl_parse_kind (ctx_t *ctx, const char *name, Memd__V1__Kind *kind)
{
    int value = memctl_kind_parse (name);
    if (value < 0)
        return memctl_usage_error (
            ctx, "unknown kind '%s' (episodic, fact, summary, procedure, note)", name);
    *kind = (Memd__V1__Kind) value;
    return -1;
}

//  Joins argv[0..argc) with spaces; NULL if out of memory.
char *
memctl_join (int argc, char **argv)
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
int
memctl_parse_ids (ctx_t *ctx, int argc, char **argv, uint64_t *ids)
{
    for (int i = 0; i < argc; i++)
        if (memctl_parse_id (argv[i], &ids[i]))
            return memctl_usage_error (ctx, "'%s' is not a record id", argv[i]);
    return -1;
}

//  Connects the client; returns -1, or an exit code.
int
memctl_connect (ctx_t *ctx)
{
    char endpoint[4200];
    if (!ctx->endpoint && memd_default_endpoint (endpoint, sizeof endpoint))
        return memctl_usage_error (ctx, "the default endpoint is too long; set --endpoint");
    const char *ep = ctx->endpoint ? ctx->endpoint : endpoint;
    ctx->client = memd_client_new (ep, ctx->timeout_ms);
    if (!ctx->client) {
        if (errno == ENAMETOOLONG)
            return memctl_usage_error (ctx,
                                       "endpoint '%s' is too long (ipc paths are limited to 107 "
                                       "bytes)",
                                       ep);
        return memctl_usage_error (ctx, "cannot use endpoint '%s': %s", ep, zmq_strerror (errno));
    }
    return -1;
}

//  --------------------------------------------------------------------------
//  Human output helpers

void
memctl_format_time (int64_t ms, char *buf, size_t size)
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

void
memctl_format_duration (int64_t ms, char *buf, size_t size)
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

void
memctl_format_bytes (uint64_t bytes, char *buf, size_t size)
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
void
memctl_print_one_line (const char *text, size_t max_chars)
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
void
memctl_print_indented (const char *text, const char *indent)
{
    for (const char *p = text; *p; p++) {
        putchar (*p);
        if (*p == '\n' && p[1])
            fputs (indent, stdout);
    }
    putchar ('\n');
}

//  The block `memctl get` prints for one record.
void
memctl_print_record (const Memd__V1__Record *r)
{
    char created[64];
    memctl_format_time (r->created_at_ms, created, sizeof created);
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
        memctl_print_indented (r->metadata[i]->value, "         ");
    }
    if (r->recall_count) {
        char last[64];
        memctl_format_time (r->last_recalled_ms, last, sizeof last);
        printf ("recalled %u times, last %s\n", r->recall_count, last);
    }
    if (r->n_embedding)
        printf ("vector   %zu dimensions\n", r->n_embedding);
    printf ("text     ");
    memctl_print_indented (r->text, "         ");
}

//  The one-line summary of the job queue (status and jobs stats).
void
memctl_print_job_totals (const Memd__V1__JobStatsResult *j, const char *prefix)
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
        memctl_format_duration (j->oldest_due_age_ms, age, sizeof age);
        printf (", oldest due %s ago", age);
    }
    if (j->next_deadline_ms) {
        int64_t in = j->next_deadline_ms - (int64_t) time (NULL) * 1000;
        memctl_format_duration (in > 0 ? in : 0, age, sizeof age);
        printf (", next deadline in %s", age);
    }
    putchar ('\n');
}

int
memctl_start_plain (ctx_t *ctx, int argc, char **argv)
{
    static const struct option options[] = {COMMON_LONG, {NULL, 0, NULL, 0}};
    int c, rc;
    while ((c = getopt_long (argc, argv, COMMON_SHORT, options, NULL)) != -1)
        if ((rc = memctl_common_option (ctx, c, argv)) >= 0)
            return rc;
    if (optind < argc)
        return memctl_usage_error (ctx, "unexpected argument '%s'", argv[optind]);
    return memctl_connect (ctx);
}
