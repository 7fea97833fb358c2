/*  memctl — the operator's command line for memd (DESIGN §8).

    A thin client on libmemd_client: each command parses its options, makes
    one or a few calls, and prints either for people or, with --json, one
    JSON document for scripts (memctl_json.c holds the shapes). Every call
    is bounded by --timeout, and the exit status says what went wrong:

        0  success
        1  memd answered with an error (NOT_FOUND, INVALID_ARGUMENT, …)
        2  usage error
        3  memd unavailable (not running, or no reply within the timeout)

    This file holds the global help, the command table and main. The
    commands live in one file per group (memctl_records.c: ping, status,
    capture, recall, get, forget; memctl_jobs.c: jobs), on the helpers of
    memctl_common.c (memctl.h says how a command is written).
*/
#include "memctl.h"

#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#ifndef MEMD_VERSION
#define MEMD_VERSION "0.0.0"
#endif

//  --------------------------------------------------------------------------
//  Global help

static const char s_global_usage[] =
    "Usage: memctl [--endpoint EP] [--json] [--timeout MS] COMMAND [ARGS...]\n"
    "\n"
    "memctl talks to a running memd over its API socket.\n"
    "\n"
    "Commands:\n"
    "  ping       check that memd answers\n"
    "  status     state, uptime, record counts, resources\n"
    "  capture    store a memory, or JSONL records from stdin ('capture -')\n"
    "  recall     ranked memories for a query\n"
    "  context    a prompt-ready block of the memories relevant to a query\n"
    "  get        records by id\n"
    "  forget     tombstone records by id, or a whole session\n"
    "  jobs       the job queue: enqueue, lease, complete, fail, extend, list, stats,\n"
    "             retry and purge dead letters ('memctl jobs --help')\n"
    "  sleep      consolidate now, then hibernate\n"
    "  wake       back to WAKE\n"
    "  verify     check the store's consistency while memd serves (or offline:\n"
    "             'memctl verify --data-dir DIR')\n"
    "  export     every record as JSONL, streamed in pages\n"
    "  import     records from an export (idempotent: known uids are skipped)\n"
    "  backup     a hot, compacted, verified copy of the store into a directory\n"
    "  events     print memd's events live (captured, forgotten, state, job, graph)\n"
    "  hook       Claude Code hooks: session-start, user-prompt, stop, and install\n"
    "             to add them to Claude Code's settings ('memctl hook --help')\n"
    "  top        a live view: state, traffic, recall latency, jobs, resources\n"
    "  graph      the memory graph: stats, neighbors, community, export\n"
    "             ('memctl graph --help')\n"
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

//  --------------------------------------------------------------------------
//  Command table

//  The commands, in the order of the global usage. Each NAME is defined by
//  its group's file as memctl_cmd_NAME with its help text memctl_NAME_usage;
//  a new command is one line here (and its line in s_global_usage).
#define COMMANDS(X)                                                                      \
    X (ping)                                                                             \
    X (status)                                                                           \
    X (capture)                                                                          \
    X (recall)                                                                           \
    X (context)                                                                          \
    X (get)                                                                              \
    X (forget)                                                                           \
    X (jobs)                                                                             \
    X (sleep)                                                                            \
    X (wake)                                                                             \
    X (verify)                                                                           \
    X (export)                                                                           \
    X (import)                                                                           \
    X (backup)                                                                           \
    X (events)                                                                           \
    X (hook)                                                                             \
    X (top)                                                                              \
    X (graph)

#define DECLARE_COMMAND(name)                                                            \
    command_fn memctl_cmd_##name;                                                        \
    extern const char memctl_##name##_usage[];
COMMANDS (DECLARE_COMMAND)

static int s_cmd_help (ctx_t *ctx, int argc, char **argv);

#define COMMAND_ENTRY(name) {#name, memctl_cmd_##name, memctl_##name##_usage},
static const struct {
    const char *name;
    command_fn *fn;
    const char *usage;
} s_commands[] = {
    COMMANDS (COMMAND_ENTRY)
    {"help", s_cmd_help, s_global_usage},
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
        return memctl_usage_error (ctx, "unknown command '%s'", argv[1]);
    fputs (s_commands[index].usage, stdout);
    return 0;
}

//  --------------------------------------------------------------------------
//  main

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
            rc = memctl_common_option (&ctx, c, argv);
    }
    if (rc < 0 && optind == argc)
        rc = memctl_usage_error (&ctx, "missing COMMAND");
    if (rc >= 0)
        return rc;

    int index = s_find_command (argv[optind]);
    if (index < 0)
        return memctl_usage_error (&ctx, "unknown command '%s'", argv[optind]);
    ctx.command = s_commands[index].name;
    ctx.usage = s_commands[index].usage;
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
