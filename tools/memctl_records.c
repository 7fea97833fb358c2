/*  memctl_records — the commands on records and on memd itself: ping,
    status, capture, recall, get and forget, with their help texts.

    `capture -` streams JSONL from stdin in batches and prints each batch's
    ids as soon as memd has acknowledged it (acknowledged means durable), so
    whatever was printed survives a crash of memd or of memctl.
*/
#include "memctl.h"

#include <czmq.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  What memctl.c's command table takes from this file (with the help texts).
command_fn memctl_cmd_ping, memctl_cmd_status, memctl_cmd_capture, memctl_cmd_recall,
    memctl_cmd_get, memctl_cmd_forget;

//  --------------------------------------------------------------------------
//  Help texts

const char memctl_ping_usage[] =
    "Usage: memctl ping\n"
    "\n"
    "Checks that memd answers; prints its version, pid and uptime.\n"
    "JSON: {\"version\", \"pid\", \"uptime_ms\"}\n";

const char memctl_status_usage[] =
    "Usage: memctl status\n"
    "\n"
    "memd's state, last lifecycle transition, record and job counts, resources.\n"
    "JSON: {\"version\", \"pid\", \"state\", \"uptime_ms\",\n"
    "      \"last_transition\": {\"from\", \"to\", \"at_ms\", \"reason\"},\n"
    "      \"records\": {\"live\", \"tombstoned\", \"embeddings\"}, \"jobs\", \"graph\",\n"
    "      \"resources\": {\"rss_bytes\", \"fds\", \"threads\"}, ...}\n"
    "      \"jobs\": {\"queued\", \"leased\", \"dead\", ...} as in 'memctl jobs stats'\n"
    "      \"consolidation\": {\"phase\", \"cycle\", \"cycle_done_ms\", \"steps\",\n"
    "      \"duplicates_merged\", \"digests_written\", \"records_decayed\",\n"
    "      \"records_purged\", \"last_error\", ...}, \"events_endpoint\",\n"
    "      \"requests_by_kind\": {\"capture\": N, \"recall\": N, ...} (since start),\n"
    "      \"recall_latency\": {\"p50_us\", \"p99_us\", \"count\", \"window_ms\"} (recent)\n"
    "      \"watch\": {\"dirs\", \"directories\", \"files\", \"lines\", \"records\",\n"
    "      \"duplicates\", \"skipped_lines\", \"pending_files\", \"last_error\", ...}\n"
    "      (transcript watching; null when watch/dirs is none)\n"
    "      (\"graph\" is null from a memd without the graph)\n";

const char memctl_capture_usage[] =
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

const char memctl_recall_usage[] =
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
    "      --explain      show how each score was made\n" MEMCTL_RANKING_HELP
    "\n"
    "QUERY may be left out when --embedding is given.\n"
    "\n"
    "JSON: {\"hits\": [{\"id\", \"score\", \"text\", \"agent\", \"session\", \"kind\", \"tags\",\n"
    "      \"metadata\", \"created_at_ms\", \"salience\", \"recall_count\",\n"
    "      \"last_recalled_ms\"}]} (\"explain\" with --explain)\n";

const char memctl_get_usage[] =
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

const char memctl_forget_usage[] =
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

//  --------------------------------------------------------------------------
//  ping

int
memctl_cmd_ping (ctx_t *ctx, int argc, char **argv)
{
    int rc = memctl_start_plain (ctx, argc, argv);
    if (rc >= 0)
        return rc;

    Memd__V1__Reply *reply = memd_client_ping_reply (ctx->client);
    if (!reply)
        return memctl_fail_client (ctx);
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
    memctl_format_duration (st->uptime_ms, up, sizeof up);
    printf ("memd %s, pid %u, %s, up %s\n", st->version, st->pid, st->state, up);
    const Memd__V1__Transition *t = st->last_transition;
    if (t && (*t->from_state || *t->to_state)) {
        char at[64];
        memctl_format_time (t->at_ms, at, sizeof at);
        printf ("last transition  %s -> %s at %s%s%s%s\n",
                *t->from_state ? t->from_state : "(start)", t->to_state, at,
                *t->reason ? " (" : "", t->reason, *t->reason ? ")" : "");
    }
    printf ("records          %llu live, %llu tombstoned",
            (unsigned long long) st->records_live, (unsigned long long) st->records_tombstoned);
    if (st->embeddings)
        printf (", %llu with an embedding", (unsigned long long) st->embeddings);
    putchar ('\n');
    if (st->jobs)
        memctl_print_job_totals (st->jobs, "jobs             ");
    const Memd__V1__Consolidation *c = st->consolidation;
    if (c) {
        char done[64];
        memctl_format_time (c->cycle_done_ms, done, sizeof done);
        printf ("consolidation    cycle %llu, %s%s%s; %llu duplicates merged, %llu digests, "
                "%llu decayed, %llu purged\n",
                (unsigned long long) c->cycle,
                streq (c->phase, "DONE") ? "done at " : "next phase ",
                streq (c->phase, "DONE") ? done : c->phase,
                *c->last_error ? " (failing)" : "", (unsigned long long) c->duplicates_merged,
                (unsigned long long) c->digests_written, (unsigned long long) c->records_decayed,
                (unsigned long long) c->records_purged);
        if (*c->last_error)
            printf ("last step error  %s\n", c->last_error);
    }
    const Memd__V1__GraphStatsResult *g = st->graph;
    if (g) {
        char built[64];
        memctl_format_time (g->built_at_ms, built, sizeof built);
        printf ("graph            generation %llu, %llu nodes, %llu edges, %llu communities, "
                "built %s%s\n",
                (unsigned long long) g->generation, (unsigned long long) g->nodes,
                (unsigned long long) g->edges, (unsigned long long) g->communities, built,
                g->building ? " (building now)" : "");
        if (*g->last_error)
            printf ("graph error      %s\n", g->last_error);
    }
    const Memd__V1__WatchStatus *w = st->watch;
    if (w) {
        printf ("watching         %u directories, %llu files: %llu lines, %llu records "
                "(%llu duplicates), %llu lines skipped%s\n",
                w->directories, (unsigned long long) w->files, (unsigned long long) w->lines,
                (unsigned long long) w->records, (unsigned long long) w->duplicates,
                (unsigned long long) w->skipped_lines, w->pending_files ? ", catching up" : "");
        for (size_t i = 0; i < w->n_dirs; i++)
            printf ("watch dir        %s\n", w->dirs[i]);
        if (*w->last_error)
            printf ("watch error      %s\n", w->last_error);
    }
    memctl_format_bytes (st->rss_bytes, a, sizeof a);
    printf ("resources        %s RSS, %u fds, %u threads, %u recall workers\n", a, st->fds,
            st->threads, st->recall_workers);
    printf ("requests         %llu received, %llu rejected",
            (unsigned long long) st->requests, (unsigned long long) st->requests_rejected);
    for (size_t i = 0; i < st->n_requests_by_kind; i++)
        printf ("%s%s %llu", i ? ", " : ": ", st->requests_by_kind[i]->key,
                (unsigned long long) st->requests_by_kind[i]->value);
    putchar ('\n');
    if (st->recall_window_count) {
        char p50[32], p99[32], window[32];
        memctl_format_latency (st->recall_p50_us, p50, sizeof p50);
        memctl_format_latency (st->recall_p99_us, p99, sizeof p99);
        memctl_format_duration (st->recall_window_ms, window, sizeof window);
        printf ("recall latency   p50 %s, p99 %s (%llu recalls in the last %s)\n", p50, p99,
                (unsigned long long) st->recall_window_count, window);
    }
    printf ("access           %llu connections refused, %llu replies dropped\n",
            (unsigned long long) st->connections_refused,
            (unsigned long long) st->replies_dropped);
    memctl_format_bytes (st->store_bytes, a, sizeof a);
    memctl_format_bytes (st->map_bytes, b, sizeof b);
    printf ("store            %s data file, %s map\n", a, b);
    if (*st->data_dir)
        printf ("data dir         %s\n", st->data_dir);
    if (*st->endpoint)
        printf ("endpoint         %s\n", st->endpoint);
    if (*st->events_endpoint)
        printf ("events           %s\n", st->events_endpoint);
}

int
memctl_cmd_status (ctx_t *ctx, int argc, char **argv)
{
    int rc = memctl_start_plain (ctx, argc, argv);
    if (rc >= 0)
        return rc;

    Memd__V1__Reply *reply = memd_client_status (ctx->client);
    if (!reply)
        return memctl_fail_client (ctx);
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
    int exit_code = memctl_exit_code (code);
    if (s_interrupted && code == MEMD__V1__CODE__OK) {
        snprintf (message, sizeof message, "interrupted after %zu records", st.total);
        exit_code = EXIT_INTERRUPTED;
    }
    sigaction (SIGINT, &old_int, NULL);
    sigaction (SIGTERM, &old_term, NULL);

    if (st.progress_shown)
        fprintf (stderr, "\rmemctl: captured %zu records\n", st.total);
    const char *name = exit_code == EXIT_INTERRUPTED ? "CANCELLED" : memctl_code_name (code);
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

int
memctl_cmd_capture (ctx_t *ctx, int argc, char **argv)
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
                rc = memctl_usage_error (ctx, "--agent is empty");
            defaults.agent = optarg;
            break;
        case 's':
            defaults.session = optarg;
            break;
        case OPT_KIND:
            rc = memctl_parse_kind (ctx, optarg, &defaults.kind);
            break;
        case OPT_TAG:
            if (!*optarg)
                rc = memctl_usage_error (ctx, "--tag is empty");
            tags[defaults.n_tags++] = optarg;
            break;
        case OPT_META:
            eq = strchr (optarg, '=');
            if (!eq || eq == optarg) {
                rc = memctl_usage_error (ctx, "--meta wants KEY=VALUE, not '%s'", optarg);
                break;
            }
            *eq = 0;   //  argv is ours to modify
            keys[defaults.n_meta] = optarg;
            values[defaults.n_meta++] = eq + 1;
            break;
        case OPT_TS:
            if (memctl_parse_ms (optarg, &defaults.created_at_ms))
                rc = memctl_usage_error (ctx, "--ts wants milliseconds since the epoch, not '%s'",
                                         optarg);
            break;
        case OPT_BATCH:
            if (memctl_parse_u64 (optarg, &batch) || batch == 0 || batch > MAX_BATCH)
                rc = memctl_usage_error (ctx, "--batch wants a number from 1 to %d, not '%s'",
                                         MAX_BATCH, optarg);
            break;
        default:
            rc = memctl_common_option (ctx, c, argv);
        }
    }
    if (rc < 0 && optind == argc)
        rc = memctl_usage_error (ctx, "missing TEXT (or '-' to read JSONL from stdin)");
    if (rc < 0)
        rc = memctl_connect (ctx);
    if (rc >= 0) {
        free (tags);
        free (keys);
        free (values);
        return rc;
    }

    if (argc - optind == 1 && strcmp (argv[optind], "-") == 0)
        rc = s_capture_stream (ctx, &defaults, (size_t) batch);
    else {
        char *text = memctl_join (argc - optind, argv + optind);
        Memd__V1__Record *record = text && *text ? memctl_record_new (&defaults, text) : NULL;
        uint64_t id;
        if (text && !*text)
            rc = memctl_usage_error (ctx, "TEXT is empty");
        else if (!record)
            rc = memctl_fail (ctx, MEMD__V1__CODE__RESOURCE_EXHAUSTED, "out of memory");
        else if (memd_client_capture (ctx->client, defaults.agent, &record, 1, &id, NULL))
            rc = memctl_fail_client (ctx);
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

int
memctl_cmd_recall (ctx_t *ctx, int argc, char **argv)
{
    enum { OPT_EXPLAIN = 256 };
    static const struct option options[] = {
        COMMON_LONG,
        {"agent", required_argument, NULL, 'a'},
        {"k", required_argument, NULL, 'k'},
        {"explain", no_argument, NULL, OPT_EXPLAIN},
        MEMCTL_RECALL_LONG,
        {NULL, 0, NULL, 0}};
    const char *agent = "default";
    Memd__V1__Recall query = MEMD__V1__RECALL__INIT;
    Memd__V1__RankWeights weights = MEMD__V1__RANK_WEIGHTS__INIT;
    char **tags = (char **) calloc ((size_t) argc, sizeof (char *));
    query.tags = tags;
    uint64_t k;
    int c, rc = -1;
    while (rc < 0 && (c = getopt_long (argc, argv, COMMON_SHORT "a:k:s:", options, NULL)) != -1) {
        switch (c) {
        case 'a':
            if (!*optarg)
                rc = memctl_usage_error (ctx, "--agent is empty");
            agent = optarg;
            break;
        case 'k':
            if (memctl_parse_u64 (optarg, &k) || k == 0 || k > UINT32_MAX)
                rc = memctl_usage_error (ctx, "-k wants a positive number of hits, not '%s'",
                                         optarg);
            query.k = (uint32_t) k;
            break;
        case OPT_EXPLAIN:
            query.explain = true;
            break;
        default:
            rc = memctl_recall_option (ctx, c, &query, &weights);
            if (rc == -2)
                rc = memctl_common_option (ctx, c, argv);
        }
    }
    if (rc < 0 && optind == argc && !query.n_query_embedding)
        rc = memctl_usage_error (ctx, "missing QUERY");
    if (rc < 0 && query.since_ms && query.until_ms && query.until_ms <= query.since_ms)
        rc = memctl_usage_error (ctx, "--until must be after --since");
    if (rc < 0)
        rc = memctl_connect (ctx);
    char *text = rc < 0 ? memctl_join (argc - optind, argv + optind) : NULL;
    if (rc < 0 && !text)
        rc = memctl_fail (ctx, MEMD__V1__CODE__RESOURCE_EXHAUSTED, "out of memory");
    if (rc >= 0) {
        free (tags);
        free (text);
        free (query.query_embedding);
        return rc;
    }

    query.query = text;
    Memd__V1__Reply *reply = memd_client_recall (ctx->client, agent, &query);
    free (text);
    free (tags);
    free (query.query_embedding);
    if (!reply)
        return memctl_fail_client (ctx);
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
            memctl_print_one_line (r ? r->text : "", width);
            putchar ('\n');
            if (*hit->explain) {
                printf ("    ");
                memctl_print_indented (hit->explain, "    ");
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

int
memctl_cmd_get (ctx_t *ctx, int argc, char **argv)
{
    static const struct option options[] = {
        COMMON_LONG, {"agent", required_argument, NULL, 'a'}, {NULL, 0, NULL, 0}};
    const char *agent = "default";
    int c, rc = -1;
    while (rc < 0 && (c = getopt_long (argc, argv, COMMON_SHORT "a:", options, NULL)) != -1) {
        if (c == 'a') {
            if (!*optarg)
                rc = memctl_usage_error (ctx, "--agent is empty");
            agent = optarg;
        }
        else
            rc = memctl_common_option (ctx, c, argv);
    }
    if (rc >= 0)
        return rc;
    size_t n = (size_t) (argc - optind);
    if (n == 0)
        return memctl_usage_error (ctx, "missing ID");
    uint64_t *ids = (uint64_t *) calloc (n, sizeof (uint64_t));
    if (!ids)
        return memctl_fail (ctx, MEMD__V1__CODE__RESOURCE_EXHAUSTED, "out of memory");
    if ((rc = memctl_parse_ids (ctx, (int) n, argv + optind, ids)) < 0)
        rc = memctl_connect (ctx);
    if (rc >= 0) {
        free (ids);
        return rc;
    }

    Memd__V1__Reply *reply = memd_client_get (ctx->client, agent, ids, n);
    free (ids);
    if (!reply)
        return memctl_fail_client (ctx);
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
                                 memctl_json_error (memctl_code_name (code),
                                                    memd_client_error (ctx->client)));
        }
        memctl_json_print (doc);
    }
    else {
        for (size_t i = 0; i < result->n_records; i++) {
            if (i)
                putchar ('\n');
            memctl_print_record (result->records[i]);
        }
        fflush (stdout);
        if (code != MEMD__V1__CODE__OK)
            fprintf (stderr, "memctl: %s: %s\n", memctl_code_name (code),
                     memd_client_error (ctx->client));
    }
    memd_client_reply_free (&reply);
    return memctl_exit_code (code);
}

//  --------------------------------------------------------------------------
//  forget

int
memctl_cmd_forget (ctx_t *ctx, int argc, char **argv)
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
                rc = memctl_usage_error (ctx, "--agent is empty");
            agent = optarg;
        }
        else if (c == 's') {
            if (!*optarg)
                rc = memctl_usage_error (ctx, "--session is empty");
            session = optarg;
        }
        else
            rc = memctl_common_option (ctx, c, argv);
    }
    if (rc >= 0)
        return rc;
    size_t n = (size_t) (argc - optind);
    if (n == 0 && !session)
        return memctl_usage_error (ctx, "missing ID (or --session S)");
    if (n > 0 && session)
        return memctl_usage_error (ctx, "give ids or --session, not both");
    uint64_t *ids = (uint64_t *) calloc (n ? n : 1, sizeof (uint64_t));
    if (!ids)
        return memctl_fail (ctx, MEMD__V1__CODE__RESOURCE_EXHAUSTED, "out of memory");
    if ((rc = memctl_parse_ids (ctx, (int) n, argv + optind, ids)) < 0)
        rc = memctl_connect (ctx);
    if (rc >= 0) {
        free (ids);
        return rc;
    }

    uint64_t forgotten = 0;
    rc = memd_client_forget (ctx->client, agent, ids, n, session, &forgotten);
    free (ids);
    int code = memd_client_code (ctx->client);
    if (rc && code != MEMD__V1__CODE__NOT_FOUND)
        return memctl_fail_client (ctx);
    if (ctx->json) {
        json_t *doc = json_pack ("{s:o}", "forgotten", memctl_json_u64 (forgotten));
        if (rc)
            json_object_set_new (doc, "error",
                                 memctl_json_error (memctl_code_name (code),
                                                    memd_client_error (ctx->client)));
        memctl_json_print (doc);
    }
    else {
        printf ("forgot %llu record%s\n", (unsigned long long) forgotten,
                forgotten == 1 ? "" : "s");
        fflush (stdout);
        if (rc)
            fprintf (stderr, "memctl: %s: %s\n", memctl_code_name (code),
                     memd_client_error (ctx->client));
    }
    return memctl_exit_code (code);
}
