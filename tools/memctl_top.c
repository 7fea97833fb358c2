/*  memctl top: a live view of memd in a plain terminal (DESIGN §8, issue 8).

    Every interval (default 1 s) it asks memd for a Status (control plane:
    never activity, so watching memd does not keep it awake) and draws one
    frame: state and last transition, records, requests per second by kind
    (the difference of memd's per-kind counters between two frames, over
    memd's own uptime clock), recall p50/p99, the job queue, graph
    generation, RSS, file descriptors and threads.

    On a terminal it redraws in place with plain ANSI escapes (alternate
    screen, cursor home, clear to end of line), reads keys in non-canonical
    mode through termios (q quits, space refreshes), and restores the
    terminal on every way out: q, Ctrl-C, SIGTERM, SIGHUP, and around
    Ctrl-Z. Nothing beyond libc: it works over ssh in any VT100-like
    terminal. When stdin or stdout is not a terminal it prints the frames
    one after another, like top -b.
*/
#include "memctl.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

command_fn memctl_cmd_top;

const char memctl_top_usage[] =
    "Usage: memctl top [--interval MS] [--iterations N]\n"
    "\n"
    "A live view of memd, refreshed every second: state and last transition,\n"
    "records, requests per second by kind, recall latency (p50/p99 over the last\n"
    "10-20 s), the job queue, graph generation, RSS, file descriptors, threads.\n"
    "Watching is control plane: it never keeps memd awake.\n"
    "\n"
    "Keys: q quits (so does Ctrl-C); space refreshes now.\n"
    "On a terminal the view redraws in place and the terminal is restored on exit;\n"
    "when stdin or stdout is not a terminal, frames are printed one after another.\n"
    "If memd stops answering, the view says so and keeps trying.\n"
    "\n"
    "Options:\n"
    "  -d, --interval MS    refresh every MS milliseconds (default 1000, at least 100)\n"
    "  -n, --iterations N   stop after N frames\n";

#define DEFAULT_INTERVAL_MS 1000
#define MIN_INTERVAL_MS     100
#define CALL_TIMEOUT_MS     2000   //  at most, so that q is never ignored for long
#define MAX_KINDS           64

//  --------------------------------------------------------------------------
//  The terminal

static struct termios s_saved;          //  the terminal as we found it
static volatile sig_atomic_t s_raw;     //  1 while our mode is set
static volatile sig_atomic_t s_signal;  //  a signal that ends top
static volatile sig_atomic_t s_stop;    //  Ctrl-Z
static volatile sig_atomic_t s_resized;

#define ENTER_SCREEN "\033[?1049h\033[?25l"   //  alternate screen, hide the cursor
#define LEAVE_SCREEN "\033[?25h\033[?1049l"

//  Puts the terminal back as it was (idempotent; safe in a signal handler).
static void
s_term_restore (void)
{
    if (!s_raw)
        return;
    s_raw = 0;
    ssize_t rc = write (STDOUT_FILENO, LEAVE_SCREEN, sizeof LEAVE_SCREEN - 1);
    (void) rc;
    tcsetattr (STDIN_FILENO, TCSAFLUSH, &s_saved);
}

//  Keys one at a time, no echo; signals (Ctrl-C, Ctrl-Z) and output
//  processing stay as they are.
static int
s_term_raw (void)
{
    struct termios raw = s_saved;
    raw.c_lflag &= (tcflag_t) ~(ICANON | ECHO);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    if (tcsetattr (STDIN_FILENO, TCSAFLUSH, &raw))
        return -1;
    s_raw = 1;
    ssize_t rc = write (STDOUT_FILENO, ENTER_SCREEN, sizeof ENTER_SCREEN - 1);
    (void) rc;
    return 0;
}

static void
s_on_signal (int signo)
{
    if (signo == SIGWINCH)
        s_resized = 1;
    else if (signo == SIGTSTP)
        s_stop = 1;
    else
        s_signal = signo;
}

static void
s_signals (bool interactive)
{
    struct sigaction sa;
    memset (&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset (&sa.sa_mask);   //  no SA_RESTART: a signal cuts poll short
    sigaction (SIGINT, &sa, NULL);
    sigaction (SIGTERM, &sa, NULL);
    sigaction (SIGHUP, &sa, NULL);
    if (interactive) {
        sigaction (SIGWINCH, &sa, NULL);
        sigaction (SIGTSTP, &sa, NULL);
    }
}

//  Ctrl-Z: the terminal back to normal, stop; raw again when continued.
static void
s_suspend (void)
{
    s_stop = 0;
    s_term_restore ();
    signal (SIGTSTP, SIG_DFL);
    raise (SIGTSTP);   //  stops here until SIGCONT
    s_signals (true);
    s_term_raw ();
}

static int
s_columns (bool interactive)
{
    struct winsize ws;
    if (interactive && ioctl (STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return interactive ? 80 : 0;   //  0: no limit
}

static int
s_rows (bool interactive)
{
    struct winsize ws;
    if (interactive && ioctl (STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0)
        return ws.ws_row;
    return interactive ? 24 : 0;
}

//  --------------------------------------------------------------------------
//  Formatting

void
memctl_format_latency (uint64_t us, char *buf, size_t size)
{
    if (us == 0)
        snprintf (buf, size, "-");
    else if (us < 1000)
        snprintf (buf, size, "%llu µs", (unsigned long long) us);
    else if (us < 1000000)
        snprintf (buf, size, "%.2f ms", us / 1000.0);
    else
        snprintf (buf, size, "%.2f s", us / 1e6);
}

static void
s_rate (double per_s, char *buf, size_t size)
{
    if (per_s < 0)
        snprintf (buf, size, "-");
    else if (per_s < 10)
        snprintf (buf, size, "%.1f/s", per_s);
    else
        snprintf (buf, size, "%.0f/s", per_s);
}

//  A frame: lines cut to the terminal's width (in characters, not bytes).
typedef struct {
    char *text;
    size_t size;
    FILE *out;
    int columns;              //  0: no limit
    int rows, lines;          //  rows: 0 = no limit
    bool interactive;
} s_frame_t;

static void s_line (s_frame_t *f, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static void
s_line (s_frame_t *f, const char *fmt, ...)
{
    if (f->rows && f->lines >= f->rows - 1)
        return;   //  keep the last row free: no scrolling
    char line[1024];
    va_list args;
    va_start (args, fmt);
    vsnprintf (line, sizeof line, fmt, args);
    va_end (args);
    int chars = 0;
    char *p = line;
    for (; *p; p++) {
        if (((unsigned char) *p & 0xC0) != 0x80 && f->columns && chars++ == f->columns)
            break;
        if ((unsigned char) *p < 0x20)
            *p = ' ';
    }
    *p = 0;
    fprintf (f->out, "%s%s\n", line, f->interactive ? "\033[K" : "");
    f->lines++;
}

//  --------------------------------------------------------------------------
//  One frame

typedef struct {
    char kind[64];
    uint64_t count;
} s_count_t;

//  The counters of the last frame, for rates.
typedef struct {
    bool valid;
    uint32_t pid;
    int64_t uptime_ms;
    uint64_t requests;
    s_count_t kinds[MAX_KINDS];
    size_t n_kinds;
} s_last_t;

static uint64_t
s_last_count (const s_last_t *last, const char *kind)
{
    for (size_t i = 0; i < last->n_kinds; i++)
        if (strcmp (last->kinds[i].kind, kind) == 0)
            return last->kinds[i].count;
    return 0;
}

typedef struct {
    const char *kind;
    double rate;
} s_rate_t;

static int
s_by_rate (const void *a, const void *b)
{
    const s_rate_t *x = a, *y = b;
    return x->rate < y->rate ? 1 : x->rate > y->rate ? -1 : strcmp (x->kind, y->kind);
}

static void
s_draw_requests (s_frame_t *f, const Memd__V1__StatusResult *st, const s_last_t *last)
{
    bool rates = last->valid && last->pid == st->pid && st->uptime_ms > last->uptime_ms;
    double seconds = rates ? (st->uptime_ms - last->uptime_ms) / 1000.0 : 0;
    s_rate_t by_kind[MAX_KINDS];
    size_t n = 0;
    for (size_t i = 0; i < st->n_requests_by_kind && n < MAX_KINDS; i++) {
        const Memd__V1__StatusResult__RequestsByKindEntry *e = st->requests_by_kind[i];
        double rate = rates ? (e->value - s_last_count (last, e->key)) / seconds : -1;
        if (!rates || rate > 0)
            by_kind[n++] = (s_rate_t){e->key, rate};
    }
    qsort (by_kind, n, sizeof *by_kind, s_by_rate);
    char total[32], list[768] = "", one[32];
    s_rate (rates ? (st->requests - last->requests) / seconds : -1, total, sizeof total);
    size_t used = 0;
    for (size_t i = 0; i < n && used < sizeof list - 100; i++) {
        s_rate (by_kind[i].rate, one, sizeof one);
        used += (size_t) snprintf (list + used, sizeof list - used, "%s%s %s",
                                   i ? ", " : "", by_kind[i].kind, one);
    }
    s_line (f, "requests   %s%s%s   (%llu received, %llu rejected)", total, n ? ": " : "", list,
            (unsigned long long) st->requests, (unsigned long long) st->requests_rejected);
}

static void
s_draw (s_frame_t *f, const Memd__V1__StatusResult *st, const s_last_t *last)
{
    char a[64], b[64], c[64];
    memctl_format_duration (st->uptime_ms, a, sizeof a);
    s_line (f, "memd %s   pid %u   up %s   %s", st->version, st->pid, a,
            f->interactive ? "(q quits)" : "");

    const Memd__V1__Transition *t = st->last_transition;
    if (t && *t->to_state) {
        memctl_format_time (t->at_ms, a, sizeof a);
        int64_t ago = (int64_t) time (NULL) * 1000 - t->at_ms;
        memctl_format_duration (ago > 0 ? ago : 0, b, sizeof b);
        s_line (f, "state      %s since %s (%s ago), from %s: %s", st->state, a, b,
                *t->from_state ? t->from_state : "(start)", *t->reason ? t->reason : "-");
    }
    else
        s_line (f, "state      %s", st->state);

    memctl_format_bytes (st->store_bytes, a, sizeof a);
    memctl_format_bytes (st->map_bytes, b, sizeof b);
    s_line (f, "records    %llu live, %llu tombstoned   (store %s, map %s)",
            (unsigned long long) st->records_live, (unsigned long long) st->records_tombstoned,
            a, b);
    s_draw_requests (f, st, last);
    if (st->recall_window_count) {
        memctl_format_latency (st->recall_p50_us, a, sizeof a);
        memctl_format_latency (st->recall_p99_us, b, sizeof b);
        memctl_format_duration (st->recall_window_ms, c, sizeof c);
        s_line (f, "recall     p50 %s   p99 %s   (%llu recalls in the last %s)", a, b,
                (unsigned long long) st->recall_window_count, c);
    }
    else
        s_line (f, "recall     p50 -   p99 -   (no recall lately)");

    const Memd__V1__JobStatsResult *j = st->jobs;
    if (j) {
        s_line (f, "jobs       %llu queued, %llu leased, %llu dead (%llu retrying, %llu blocked); "
                   "%u worker(s) waiting",
                (unsigned long long) j->queued, (unsigned long long) j->leased,
                (unsigned long long) j->dead, (unsigned long long) j->retrying,
                (unsigned long long) j->blocked, j->waiting_workers);
        for (size_t i = 0; i < j->n_kinds; i++) {
            const Memd__V1__JobKindStats *k = j->kinds[i];
            if (!k->queued && !k->leased && !k->dead)
                continue;   //  only kinds with something to wait for or look at
            memctl_format_duration (k->oldest_due_age_ms, a, sizeof a);
            s_line (f, "  %-20s %6llu queued %4llu leased %4llu dead%s%s", k->kind,
                    (unsigned long long) k->queued, (unsigned long long) k->leased,
                    (unsigned long long) k->dead, k->oldest_due_age_ms ? ", oldest due " : "",
                    k->oldest_due_age_ms ? a : "");
        }
    }
    else
        s_line (f, "jobs       -");
    //  memd has no graph subsystem yet; its Status will carry the generation.
    s_line (f, "graph      generation -");
    memctl_format_bytes (st->rss_bytes, a, sizeof a);
    s_line (f, "resources  %s RSS, %u fds, %u threads, %u recall workers", a, st->fds,
            st->threads, st->recall_workers);
    const Memd__V1__Consolidation *cs = st->consolidation;
    if (cs)
        s_line (f, "consolidation  cycle %llu, %s%s%s", (unsigned long long) cs->cycle,
                strcmp (cs->phase, "DONE") == 0 ? "done" : "next phase ",
                strcmp (cs->phase, "DONE") == 0 ? "" : cs->phase,
                *cs->last_error ? " (a step is failing)" : "");
}

static void
s_remember (s_last_t *last, const Memd__V1__StatusResult *st)
{
    last->valid = true;
    last->pid = st->pid;
    last->uptime_ms = st->uptime_ms;
    last->requests = st->requests;
    last->n_kinds = 0;
    for (size_t i = 0; i < st->n_requests_by_kind && last->n_kinds < MAX_KINDS; i++) {
        s_count_t *k = &last->kinds[last->n_kinds++];
        snprintf (k->kind, sizeof k->kind, "%s", st->requests_by_kind[i]->key);
        k->count = st->requests_by_kind[i]->value;
    }
}

//  Asks memd and writes one whole frame at once (no flicker). Returns
//  whether memd answered.
static bool
s_frame (ctx_t *ctx, bool interactive, s_last_t *last)
{
    s_frame_t f = {NULL, 0, NULL, s_columns (interactive), s_rows (interactive), 0, interactive};
    f.out = open_memstream (&f.text, &f.size);
    if (!f.out)
        return false;
    if (interactive)
        fputs ("\033[H", f.out);
    Memd__V1__Reply *reply = memd_client_status (ctx->client);
    bool answered = reply != NULL;
    char now[64];
    memctl_format_time ((int64_t) time (NULL) * 1000, now, sizeof now);
    if (reply) {
        s_draw (&f, reply->status_result, last);
        s_remember (last, reply->status_result);
        memd_client_reply_free (&reply);
    }
    else {
        s_line (&f, "memd at %s", memd_client_endpoint (ctx->client));
        s_line (&f, "%s: %s", memctl_code_name (memd_client_code (ctx->client)),
                memd_client_error (ctx->client));
        s_line (&f, "(trying again every interval%s)", interactive ? "; q quits" : "");
        last->valid = false;
    }
    s_line (&f, "%s", now);
    fputs (interactive ? "\033[J" : "\n", f.out);
    fclose (f.out);
    fwrite (f.text, 1, f.size, stdout);
    fflush (stdout);
    free (f.text);
    return answered;
}

//  --------------------------------------------------------------------------
//  The command

//  Waits until the deadline (monotonic ms) for a key; returns the key, 0 for
//  none, or -1 when stdin is gone.
static int
s_wait_key (bool interactive, int64_t deadline)
{
    while (!s_signal && !s_stop && !s_resized) {
        struct timespec ts;
        clock_gettime (CLOCK_MONOTONIC, &ts);
        int64_t left = deadline - ((int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
        if (left <= 0)
            return 0;
        struct pollfd p = {STDIN_FILENO, POLLIN, 0};
        int rc = poll (&p, interactive ? 1 : 0, (int) left);
        if (rc < 0 && errno != EINTR)
            return -1;
        if (rc > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL)))
            return -1;
        if (rc > 0 && (p.revents & POLLIN)) {
            unsigned char key;
            ssize_t got = read (STDIN_FILENO, &key, 1);
            if (got == 1)
                return key;
            if (got == 0)
                return -1;
        }
    }
    return 0;
}

int
memctl_cmd_top (ctx_t *ctx, int argc, char **argv)
{
    static const struct option options[] = {COMMON_LONG,
                                            {"interval", required_argument, NULL, 'd'},
                                            {"iterations", required_argument, NULL, 'n'},
                                            {NULL, 0, NULL, 0}};
    uint64_t interval = DEFAULT_INTERVAL_MS, iterations = 0;
    int c, rc;
    while ((c = getopt_long (argc, argv, COMMON_SHORT "d:n:", options, NULL)) != -1) {
        if (c == 'd') {
            if (memctl_parse_u64 (optarg, &interval) || interval < MIN_INTERVAL_MS
                || interval > 3600000)
                return memctl_usage_error (ctx, "--interval wants milliseconds (100 to 3600000), "
                                                "not '%s'",
                                           optarg);
        }
        else if (c == 'n') {
            if (memctl_parse_u64 (optarg, &iterations) || iterations == 0)
                return memctl_usage_error (ctx, "--iterations wants a number (1 or more), not '%s'",
                                           optarg);
        }
        else if ((rc = memctl_common_option (ctx, c, argv)) >= 0)
            return rc;
    }
    if (optind < argc)
        return memctl_usage_error (ctx, "unexpected argument '%s'", argv[optind]);
    if (ctx->json)
        return memctl_usage_error (ctx, "top has no JSON form ('memctl --json status' has the "
                                        "same numbers)");
    if ((rc = memctl_connect (ctx)) >= 0)
        return rc;
    memd_client_set_timeout (ctx->client, ctx->timeout_ms < CALL_TIMEOUT_MS ? ctx->timeout_ms
                                                                            : CALL_TIMEOUT_MS);

    bool interactive = isatty (STDIN_FILENO) && isatty (STDOUT_FILENO)
                    && tcgetattr (STDIN_FILENO, &s_saved) == 0;
    s_signals (interactive);
    if (interactive) {
        atexit (s_term_restore);
        if (s_term_raw ()) {
            fprintf (stderr, "memctl: cannot set up the terminal: %s\n", strerror (errno));
            return EXIT_REFUSED;
        }
    }
    s_last_t last;
    memset (&last, 0, sizeof last);
    bool quit = false, answered = true;
    for (uint64_t frame = 0; !quit && !s_signal && (!iterations || frame < iterations);) {
        if (s_stop)
            s_suspend ();
        s_resized = 0;
        answered = s_frame (ctx, interactive, &last);
        frame++;
        if (iterations && frame == iterations)
            break;
        struct timespec ts;
        clock_gettime (CLOCK_MONOTONIC, &ts);
        int64_t deadline = (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + (int64_t) interval;
        //  Keys until the next frame: q quits, space draws now, others wait.
        while (!quit) {
            int key = s_wait_key (interactive, deadline);
            if (key == 'q' || key == 'Q' || key < 0)
                quit = true;
            else if (key == 0 || key == ' ')
                break;
        }
    }
    if (interactive)
        s_term_restore ();
    //  q and Ctrl-C are the ways to leave: success; SIGTERM and SIGHUP say so.
    //  Printed frames (a script's) end with the last answer's exit code.
    if (s_signal && s_signal != SIGINT)
        return 128 + s_signal;
    return interactive || answered ? 0 : memctl_exit_code (memd_client_code (ctx->client));
}
