/*  memctl_hook — `memctl hook`: Claude Code hooks that give a project a
    memory (docs/agents.md).

        SessionStart      memctl hook session-start   prints the project's recent
                                                      memories as additionalContext
        UserPromptSubmit  memctl hook user-prompt     captures the prompt
        Stop              memctl hook stop            captures the last assistant message
        memctl hook install                           writes these into settings.json
                                                      (memctl_hook_install.c)

    A hook reads the JSON Claude Code sends on stdin. The fields used are
    session_id, transcript_path, cwd and hook_event_name (every event),
    prompt (UserPromptSubmit), and last_assistant_message (Stop, when the
    Claude Code version sends it; else the transcript is read). Records go
    to the project's agent (memd_agent.h: --agent, $MEMD_AGENT,
    $CLAUDE_PROJECT_DIR, the input's cwd), session = session_id, kind
    episodic, with metadata role (user or assistant), source
    (claude-code) and event.

    A hook must never hold up or break the agent, so:
    - everything, reading stdin included, runs under one hard limit
      (--hook-timeout, $MEMD_HOOK_TIMEOUT_MS, default 1500 ms): a timer
      ends the process with exit 0 when it runs out;
    - memd down, no memd socket, bad or missing input: exit 0 and nothing
      on stdout (a note on stderr with --verbose only);
    - a wrong command line exits 1, which Claude Code shows as a
      non-blocking error; never 2, which would block the prompt.

    SessionStart needs recent memories without a query, and memd's Recall
    needs one. Until memd can list an agent's latest records, the hooks
    and memd-mcp keep the ids they capture (memd_recent_add, memd_agent.h);
    session-start gets those records from memd (forgotten ones are
    skipped) and prints the newest first within the budget.
*/
#include "memctl.h"
#include "memd_agent.h"
#include "memd_context.h"
#include "memd_transcript.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

command_fn memctl_cmd_hook;
int memctl_hook_install (ctx_t *ctx, int argc, char **argv);   //  memctl_hook_install.c

#define HOOK_DEFAULT_TIMEOUT_MS 1500
#define HOOK_MAX_INPUT     (16u << 20)     //  bytes of hook JSON read from stdin
#define HOOK_MAX_TEXT      (64u << 10)     //  bytes of a prompt or reply captured
#define HOOK_TRANSCRIPT_TAIL (4u << 20)    //  bytes read from the end of a transcript
#define HOOK_TRANSCRIPT_LINES 2000         //  transcript lines looked at, from the end

const char memctl_hook_usage[] =
    "Usage: memctl hook session-start|user-prompt|stop [OPTIONS] < HOOK_JSON\n"
    "       memctl hook install [--settings PATH] [--yes] [--command PROGRAM]\n"
    "\n"
    "Claude Code hooks (docs/agents.md). Each reads the hook's JSON on stdin:\n"
    "  session-start  SessionStart: prints the project's recent memories as\n"
    "                 {\"hookSpecificOutput\": {\"hookEventName\": \"SessionStart\",\n"
    "                  \"additionalContext\": \"...\"}} (nothing when there are none)\n"
    "  user-prompt    UserPromptSubmit: captures \"prompt\" (role user)\n"
    "  stop           Stop: captures the last assistant message, from\n"
    "                 \"last_assistant_message\" or the end of \"transcript_path\"\n"
    "Records: agent = the project (see --agent), session = \"session_id\", kind\n"
    "episodic, metadata role, source=claude-code, event. Texts over 64 KiB are cut.\n"
    "\n"
    "A hook never blocks the agent: it stops at the time limit, and when memd is\n"
    "down or the input is bad it exits 0 with nothing on stdout. Only a wrong\n"
    "command line fails (exit 1, shown by Claude Code as a non-blocking error).\n"
    "\n"
    "Options:\n"
    "  -a, --agent A           agent; default $MEMD_AGENT, else the project directory's\n"
    "                          name ($CLAUDE_PROJECT_DIR or the input's cwd, up to its\n"
    "                          git root)\n"
    "      --budget TOKENS     session-start: most tokens of context (default 1000;\n"
    "                          a token = 4 bytes)\n"
    "      --hook-timeout MS   the hard limit for the whole hook (default\n"
    "                          $MEMD_HOOK_TIMEOUT_MS, else 1500)\n"
    "  -v, --verbose           say on stderr why nothing was done\n"
    "\n"
    "install writes the three hooks into Claude Code's settings (default\n"
    "$CLAUDE_CONFIG_DIR/settings.json, else ~/.claude/settings.json): it shows the\n"
    "change as a diff and asks first (--yes: do not ask), keeps every other setting,\n"
    "and changes nothing when the hooks are there already. --command: the program\n"
    "the hooks run (default: this memctl's absolute path). With --endpoint, the\n"
    "hooks get that --endpoint too.\n";

//  --------------------------------------------------------------------------
//  The hard limit

static volatile sig_atomic_t s_verbose_alarm = 0;

//  The time is up: leave at once, successfully, saying nothing on stdout.
static void
s_on_alarm (int signum)
{
    static const char note[] = "memctl hook: time limit reached, stopping\n";
    if (s_verbose_alarm) {
        ssize_t ignored = write (STDERR_FILENO, note, sizeof note - 1);
        (void) ignored;
    }
    _exit (0);
}

static void
s_arm_alarm (int timeout_ms, bool verbose)
{
    s_verbose_alarm = verbose;
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_on_alarm;
    sigemptyset (&action.sa_mask);
    sigaction (SIGALRM, &action, NULL);
    struct itimerval timer = {{0, 0}, {timeout_ms / 1000, (timeout_ms % 1000) * 1000}};
    setitimer (ITIMER_REAL, &timer, NULL);
}

//  Blocks the alarm, so that what goes to stdout goes whole.
static void
s_hold_alarm (void)
{
    sigset_t set;
    sigemptyset (&set);
    sigaddset (&set, SIGALRM);
    sigprocmask (SIG_BLOCK, &set, NULL);
}

//  --------------------------------------------------------------------------
//  One hook run

typedef struct {
    ctx_t *ctx;
    const char *name;              //  session-start, user-prompt, stop
    const char *agent_flag;
    int budget_tokens;
    int64_t deadline;              //  zclock_mono () at which the hook gives up
    bool verbose;
    json_t *input;                 //  the hook's JSON object
    char agent[MEMD_AGENT_MAX + 1];
    char endpoint[4200];
} hook_t;

static void s_note (hook_t *hook, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

//  A note on stderr, with --verbose only. Never a record's text.
static void
s_note (hook_t *hook, const char *fmt, ...)
{
    if (!hook->verbose)
        return;
    va_list args;
    va_start (args, fmt);
    fprintf (stderr, "memctl hook %s: ", hook->name);
    vfprintf (stderr, fmt, args);
    fputc ('\n', stderr);
    va_end (args);
}

static int
s_left_ms (hook_t *hook)
{
    int64_t left = hook->deadline - zclock_mono ();
    return left > 0 ? (int) left : 0;
}

//  Reads all of stdin before the deadline. NULL (with a note) if it is
//  too large, unreadable, or not all there in time.
static char *
s_read_input (hook_t *hook, size_t *len)
{
    size_t size = 64 * 1024, used = 0;
    char *data = malloc (size);
    while (data) {
        struct pollfd item = {STDIN_FILENO, POLLIN, 0};
        int left = s_left_ms (hook);
        if (left == 0 || poll (&item, 1, left) <= 0) {
            s_note (hook, "no complete input on stdin in time");
            break;
        }
        if (used + 1 == size) {
            char *grown = size < HOOK_MAX_INPUT ? realloc (data, size * 2) : NULL;
            if (!grown) {
                s_note (hook, "input over %u bytes", HOOK_MAX_INPUT);
                break;
            }
            data = grown;
            size *= 2;
        }
        ssize_t n = read (STDIN_FILENO, data + used, size - used - 1);
        if (n == 0) {
            data[used] = 0;
            *len = used;
            return data;
        }
        if (n < 0 && errno != EINTR && errno != EAGAIN) {
            s_note (hook, "cannot read stdin: %s", strerror (errno));
            break;
        }
        if (n > 0)
            used += (size_t) n;
    }
    free (data);
    return NULL;
}

//  A string field of the input, or NULL.
static const char *
s_input (hook_t *hook, const char *name)
{
    const char *value = json_string_value (json_object_get (hook->input, name));
    return value && *value ? value : NULL;
}

//  Connects to memd, unless it is plainly not running. -1 or an exit code.
static int
s_connect (hook_t *hook)
{
    if (memd_endpoint_absent (hook->endpoint)) {
        s_note (hook, "memd is not running (no socket at %s)", hook->endpoint + 6);
        return 0;
    }
    int left = s_left_ms (hook);
    hook->ctx->client = left > 0 ? memd_client_new (hook->endpoint, left) : NULL;
    if (!hook->ctx->client) {
        s_note (hook, "cannot use endpoint %s", hook->endpoint);
        return 0;
    }
    return -1;
}

//  Gives the next memd call what is left of the time.
static void
s_budget_call (hook_t *hook)
{
    int left = s_left_ms (hook);
    memd_client_set_timeout (hook->ctx->client, left > 0 ? left : 1);
}

//  --------------------------------------------------------------------------
//  Capture (user-prompt, stop)

//  Captures one turn of the conversation. Returns the exit code (0).
static int
s_capture_turn (hook_t *hook, const char *text, const char *role, const char *event)
{
    size_t len = strlen (text);
    if (strspn (text, " \t\r\n") == len) {
        s_note (hook, "nothing to capture");
        return 0;
    }
    size_t keep = memd_transcript_cut_length (text, len, HOOK_MAX_TEXT);
    char *cut = strndup (text, keep);
    const char *keys[] = {"role", "source", "event", "truncated"};
    const char *values[] = {role, "claude-code", event, "true"};
    memctl_defaults_t defaults = {.agent = hook->agent,
                                  .session = s_input (hook, "session_id"),
                                  .kind = MEMD__V1__KIND__EPISODIC,
                                  .meta_keys = keys,
                                  .meta_values = values,
                                  .n_meta = keep < len ? 4 : 3};
    Memd__V1__Record *record = cut ? memctl_record_new (&defaults, cut) : NULL;
    free (cut);
    if (!record) {
        s_note (hook, "out of memory");
        return 0;
    }
    int rc = s_connect (hook);
    if (rc < 0) {
        uint64_t id = 0;
        bool dup = false;
        s_budget_call (hook);
        if (memd_client_capture (hook->ctx->client, hook->agent, &record, 1, &id, &dup) == 0) {
            s_note (hook, "captured #%llu%s (agent %s)", (unsigned long long) id,
                    dup ? ", a duplicate" : "", hook->agent);
            if (memd_recent_add (hook->endpoint, hook->agent, id))
                s_note (hook, "cannot keep the id for session-start: %s", strerror (errno));
        }
        else
            s_note (hook, "memd: %s: %s", memctl_code_name (memd_client_code (hook->ctx->client)),
                    memd_client_error (hook->ctx->client));
        rc = 0;
    }
    memctl_record_destroy (&record);
    return rc;
}

static int
s_user_prompt (hook_t *hook)
{
    const char *prompt = json_string_value (json_object_get (hook->input, "prompt"));
    if (!prompt) {
        s_note (hook, "the input has no \"prompt\"");
        return 0;
    }
    return s_capture_turn (hook, prompt, "user", "UserPromptSubmit");
}

//  The text of the last assistant message of a Claude Code transcript
//  (JSONL), read from the last HOOK_TRANSCRIPT_TAIL bytes. One message may
//  span several lines (one per content block, same message.id). NULL if
//  the last turn has none.
static char *
s_last_assistant (hook_t *hook, const char *path)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat (fd, &st)) {
        s_note (hook, "cannot read the transcript: %s", strerror (errno));
        if (fd >= 0)
            close (fd);
        return NULL;
    }
    size_t size = st.st_size > (off_t) HOOK_TRANSCRIPT_TAIL ? HOOK_TRANSCRIPT_TAIL
                                                          : (size_t) st.st_size;
    off_t start = st.st_size - (off_t) size;
    char *tail = malloc (size + 1);
    ssize_t got = tail ? pread (fd, tail, size, start) : -1;
    close (fd);
    if (got < 0) {
        free (tail);
        return NULL;
    }
    tail[got] = 0;
    char *begin = tail;
    if (start > 0) {   //  the first line is cut: skip it
        char *nl = strchr (tail, '\n');
        begin = nl ? nl + 1 : tail + got;
    }
    char *text = NULL;       //  the message, built from its last block backwards
    char *message_id = NULL;
    char *end = tail + got;
    for (int lines = 0; end > begin && lines < HOOK_TRANSCRIPT_LINES; lines++) {
        char *line_end = end;
        char *line = line_end;
        while (line > begin && line[-1] != '\n')
            line--;
        end = line > begin ? line - 1 : begin;
        json_t *entry = json_loadb (line, (size_t) (line_end - line), 0, NULL);
        if (!entry)
            continue;
        const char *type = json_string_value (json_object_get (entry, "type"));
        json_t *message = json_object_get (entry, "message");
        const char *id = json_string_value (json_object_get (message, "id"));
        bool sidechain = json_is_true (json_object_get (entry, "isSidechain"));
        bool assistant = type && strcmp (type, "assistant") == 0 && !sidechain;
        bool stop = false;
        if (text && (!assistant || !id || !message_id || strcmp (id, message_id) != 0))
            stop = true;   //  past the first block of the message
        else if (assistant) {
            char *part = memd_transcript_content_text (json_object_get (message, "content"));
            if (part && *part) {
                char *joined = NULL;
                const char *gap = text ? "\n\n" : "";
                if (asprintf (&joined, "%s%s%s", part, gap, text ? text : "") >= 0) {
                    free (text);
                    text = joined;
                }
                if (!message_id && id)
                    message_id = strdup (id);
            }
            free (part);
        }
        else if (type && strcmp (type, "user") == 0 && !sidechain
                 && memd_transcript_is_prompt (message))
            stop = true;   //  the turn began here and had no assistant text
        json_decref (entry);
        if (stop)
            break;
    }
    free (message_id);
    free (tail);
    return text;
}

static int
s_stop (hook_t *hook)
{
    const char *given = s_input (hook, "last_assistant_message");
    const char *path = s_input (hook, "transcript_path");
    char *text = given ? strdup (given) : path ? s_last_assistant (hook, path) : NULL;
    if (!text) {
        s_note (hook, "no assistant message found (%s)",
                path ? "transcript" : "no transcript_path");
        return 0;
    }
    int rc = s_capture_turn (hook, text, "assistant", "Stop");
    free (text);
    return rc;
}

//  --------------------------------------------------------------------------
//  session-start

static int
s_session_start (hook_t *hook)
{
    uint64_t ids[MEMD_RECENT_KEEP];
    size_t n = memd_recent_read (hook->endpoint, hook->agent, ids, MEMD_RECENT_KEEP);
    if (n == 0) {
        s_note (hook, "no memories captured by the hooks yet for agent %s", hook->agent);
        return 0;
    }
    int rc = s_connect (hook);
    if (rc >= 0)
        return rc;
    s_budget_call (hook);
    Memd__V1__Reply *reply = memd_client_get (hook->ctx->client, hook->agent, ids, n);
    if (!reply || !reply->get) {
        s_note (hook, "memd: %s: %s", memctl_code_name (memd_client_code (hook->ctx->client)),
                memd_client_error (hook->ctx->client));
        memd_client_reply_free (&reply);
        return 0;
    }
    char heading[512];
    snprintf (heading, sizeof heading,
              "Recent memories of this project from memd (agent %s), newest first; cite them "
              "as #id:",
              hook->agent);
    memd_context_t context;
    rc = memd_context_format ((const Memd__V1__Record *const *) reply->get->records,
                              reply->get->n_records, heading, hook->budget_tokens, &context);
    memd_client_reply_free (&reply);
    size_t shown = context.n_ids;
    if (rc || shown == 0) {
        s_note (hook, "nothing to show");
        memd_context_clear (&context);
        return 0;
    }
    json_t *doc
        = json_pack ("{s:{s:s, s:o}}", "hookSpecificOutput", "hookEventName", "SessionStart",
                     "additionalContext", memctl_json_string (context.text));
    char *out = doc ? json_dumps (doc, JSON_COMPACT) : NULL;
    json_decref (doc);
    memd_context_clear (&context);
    if (out) {
        s_hold_alarm ();
        printf ("%s\n", out);
        fflush (stdout);
        s_note (hook, "%zu of %zu recent memories shown", shown, n);
        free (out);
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  The command

enum { OPT_BUDGET = 1000, OPT_HOOK_TIMEOUT };

//  Runs one hook event. Every failure after the command line is exit 0.
static int
s_run_event (ctx_t *ctx, int argc, char **argv)
{
    static const struct option options[] = {COMMON_LONG,
                                            {"agent", required_argument, NULL, 'a'},
                                            {"budget", required_argument, NULL, OPT_BUDGET},
                                            {"hook-timeout", required_argument, NULL,
                                             OPT_HOOK_TIMEOUT},
                                            {"verbose", no_argument, NULL, 'v'},
                                            {NULL, 0, NULL, 0}};
    hook_t hook = {.ctx = ctx, .name = argv[0], .budget_tokens = MEMD_CONTEXT_DEFAULT_BUDGET};
    int timeout_ms = HOOK_DEFAULT_TIMEOUT_MS;
    const char *env = getenv ("MEMD_HOOK_TIMEOUT_MS");
    uint64_t value;
    if (env && *env && memctl_parse_u64 (env, &value) == 0 && value > 0 && value <= 600000)
        timeout_ms = (int) value;
    int c, rc = -1;
    while (rc < 0 && (c = getopt_long (argc, argv, COMMON_SHORT "a:v", options, NULL)) != -1) {
        switch (c) {
        case 'a':
            hook.agent_flag = optarg;
            break;
        case 'v':
            hook.verbose = true;
            break;
        case OPT_BUDGET:
            if (memctl_parse_u64 (optarg, &value) || value < MEMD_CONTEXT_MIN_BUDGET
                || value > MEMD_CONTEXT_MAX_BUDGET)
                rc = memctl_usage_error (ctx, "--budget wants %d to %d tokens, not '%s'",
                                         MEMD_CONTEXT_MIN_BUDGET, MEMD_CONTEXT_MAX_BUDGET, optarg);
            else
                hook.budget_tokens = (int) value;
            break;
        case OPT_HOOK_TIMEOUT:
            if (memctl_parse_u64 (optarg, &value) || value == 0 || value > 600000)
                rc = memctl_usage_error (ctx, "--hook-timeout wants 1 to 600000 ms, not '%s'",
                                         optarg);
            else
                timeout_ms = (int) value;
            break;
        default:
            rc = memctl_common_option (ctx, c, argv);
        }
    }
    if (rc < 0 && optind < argc)
        rc = memctl_usage_error (ctx, "unexpected argument '%s'", argv[optind]);
    if (rc < 0 && !ctx->endpoint && memd_default_endpoint (hook.endpoint, sizeof hook.endpoint))
        rc = memctl_usage_error (ctx, "the default endpoint is too long; set --endpoint");
    if (rc >= 0)
        return rc == EXIT_USAGE ? EXIT_REFUSED : rc;   //  2 would block the prompt
    if (ctx->endpoint)
        snprintf (hook.endpoint, sizeof hook.endpoint, "%s", ctx->endpoint);

    s_arm_alarm (timeout_ms, hook.verbose);
    hook.deadline = zclock_mono () + timeout_ms;
    size_t len = 0;
    char *text = s_read_input (&hook, &len);
    if (!text)
        return 0;
    hook.input = json_loadb (text, len, 0, NULL);
    free (text);
    if (!json_is_object (hook.input)) {
        s_note (&hook, "the input is not a JSON object");
        json_decref (hook.input);
        return 0;
    }
    memd_agent_resolve (hook.agent_flag, s_input (&hook, "cwd"), hook.agent, sizeof hook.agent);
    if (strcmp (hook.name, "session-start") == 0)
        rc = s_session_start (&hook);
    else if (strcmp (hook.name, "user-prompt") == 0)
        rc = s_user_prompt (&hook);
    else
        rc = s_stop (&hook);
    json_decref (hook.input);
    return rc;
}

int
memctl_cmd_hook (ctx_t *ctx, int argc, char **argv)
{
    static const char *events[] = {"session-start", "user-prompt", "stop"};
    if (argc < 2) {
        memctl_usage_error (ctx, "missing SUBCOMMAND (session-start, user-prompt, stop, install)");
        return EXIT_REFUSED;
    }
    const char *sub = argv[1];
    if (strcmp (sub, "--help") == 0 || strcmp (sub, "-h") == 0 || strcmp (sub, "help") == 0) {
        fputs (memctl_hook_usage, stdout);
        return 0;
    }
    argc--;
    argv++;
    optind = 0;
    if (strcmp (sub, "install") == 0)
        return memctl_hook_install (ctx, argc, argv);
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++)
        if (strcmp (sub, events[i]) == 0)
            return s_run_event (ctx, argc, argv);
    memctl_usage_error (ctx, "unknown subcommand '%s'", sub);
    return EXIT_REFUSED;
}
