/*  memd-mcp — memd as an MCP server (Model Context Protocol, 2025-06-18),
    so that an agent such as Claude Code can capture and recall memories
    with tools: memory_capture, memory_recall, memory_context,
    memory_forget and memory_status (memd_mcp_tools.c).

    Transport: stdio. Each JSON-RPC 2.0 message is one line of UTF-8 JSON
    on stdin; each reply is one line on stdout; stderr is for logs only.
    Requests are answered in order, one at a time. Methods: initialize,
    ping, tools/list, tools/call; notifications (notifications/initialized,
    notifications/cancelled, …) are accepted and never answered.

    Errors: a line that is not JSON gets -32700 (id null); a message that
    is not a request object (no "jsonrpc": "2.0", a bad id or method, a
    batch array — batches left JSON-RPC in MCP 2025-06-18) gets -32600; an
    unknown method -32601; bad params, an unknown tool or arguments that
    do not fit its schema -32602. Everything that goes wrong in memd (down,
    NOT_FOUND, …) is a tool result with isError true.

    Start-up does nothing but parse flags: memd is connected to on the
    first tool call (and a memd that is not running is reported then, not
    at start), so the server is ready in milliseconds.
*/
#include "memd_mcp.h"

#include <czmq.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef MEMD_VERSION
#define MEMD_VERSION "0.0.0"
#endif

#define S_PROTOCOL_VERSION "2025-06-18"
#define S_MAX_LINE         (64u << 20)     //  bytes of one message

#define S_PARSE_ERROR      -32700
#define S_INVALID_REQUEST  -32600
#define S_METHOD_NOT_FOUND -32601
#define S_INVALID_PARAMS   -32602

//  Versions this server speaks: a client asking for one of them gets it
//  back; any other gets S_PROTOCOL_VERSION (the client may then disconnect).
static const char *s_versions[] = {S_PROTOCOL_VERSION, "2025-03-26", "2024-11-05"};

static const char s_instructions[] =
    "Long-term memory for this project, kept by memd on this machine and shared with later "
    "sessions. At the start of a task, call memory_context with the task's key words. When you "
    "learn something worth keeping (a decision and its reason, a user preference, a fact about "
    "the code, a fix), store it with memory_capture as one self-contained statement. Search "
    "with memory_recall; remove wrong or outdated memories with memory_forget.";

static const char s_usage[] =
    "Usage: memd-mcp [OPTIONS]\n"
    "\n"
    "An MCP server (stdio, protocol " S_PROTOCOL_VERSION ") giving an agent memd's memory as\n"
    "tools: memory_capture, memory_recall, memory_context, memory_forget, memory_status.\n"
    "Claude Code: claude mcp add memd -- memd-mcp   (docs/agents.md)\n"
    "\n"
    "Options:\n"
    "  -a, --agent A        the agent (memory scope) every tool uses; default: $MEMD_AGENT,\n"
    "                       else the name of the project directory ($CLAUDE_PROJECT_DIR or\n"
    "                       the working directory, up to its git root)\n"
    "  -s, --session S      session of captures that name none (default: $MEMD_SESSION, else\n"
    "                       none)\n"
    "  -e, --endpoint EP    memd's API endpoint (default: $MEMD_ENDPOINT, else\n"
    "                       ipc://$MEMD_RUN_DIR/memd.sock, ipc://$XDG_RUNTIME_DIR/memd/memd.sock\n"
    "                       or ipc:///tmp/memd-$UID/memd.sock, as memctl)\n"
    "  -t, --timeout MS     give up on memd after MS milliseconds per call (default 5000)\n"
    "  -b, --budget TOKENS  memory_context's default budget (default 1000; a token = 4 bytes)\n"
    "  -v, --verbose        log each call (method, tool, outcome, time) on stderr\n"
    "  -h, --help           this help\n"
    "  -V, --version        the version\n";

//  --------------------------------------------------------------------------
//  Output

//  Writes one message as one line on stdout; takes the reference.
static void
s_send (json_t *message)
{
    char *line = message ? json_dumps (message, JSON_COMPACT) : NULL;
    json_decref (message);
    if (!line) {
        //  Only out of memory gets here; say so in a reply that needs no memory.
        fputs ("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32603,"
               "\"message\":\"out of memory\"}}\n",
               stdout);
    }
    else {
        fputs (line, stdout);
        fputc ('\n', stdout);
        free (line);
    }
    fflush (stdout);
}

//  A success reply; takes result.
static void
s_reply (json_t *id, json_t *result)
{
    s_send (json_pack ("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", result));
}

//  An error reply. id NULL means JSON null.
static void
s_error (json_t *id, int code, const char *message)
{
    json_t *doc = json_pack ("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id",
                             id ? id : json_null (), "error", "code", code, "message", message);
    s_send (doc);
}

//  --------------------------------------------------------------------------
//  Methods

//  An optional object member (params, arguments): the object itself; when
//  absent or null a new empty one, also put in *owned for the caller to
//  release; NULL when it is anything else.
static json_t *
s_object_or_empty (json_t *value, json_t **owned)
{
    *owned = NULL;
    if (!value || json_is_null (value))
        return *owned = json_object ();
    return json_is_object (value) ? value : NULL;
}

static void
s_initialize (json_t *id, json_t *params)
{
    const char *asked = json_string_value (json_object_get (params, "protocolVersion"));
    if (!asked) {
        s_error (id, S_INVALID_PARAMS, "initialize needs params.protocolVersion (a string)");
        return;
    }
    const char *version = S_PROTOCOL_VERSION;
    for (size_t i = 0; i < sizeof s_versions / sizeof s_versions[0]; i++)
        if (strcmp (asked, s_versions[i]) == 0)
            version = s_versions[i];
    s_reply (id, json_pack ("{s:s, s:{s:{s:b}}, s:{s:s, s:s, s:s}, s:s}", "protocolVersion",
                            version, "capabilities", "tools", "listChanged", 0, "serverInfo",
                            "name", "memd-mcp", "title", "memd memory", "version", MEMD_VERSION,
                            "instructions", s_instructions));
}

static void
s_tools_call (mcp_server_t *server, json_t *id, json_t *params)
{
    json_t *name = json_object_get (params, "name");
    json_t *args = json_object_get (params, "arguments");
    if (!json_is_string (name)) {
        s_error (id, S_INVALID_PARAMS, "tools/call needs params.name (a string)");
        return;
    }
    json_t *empty;
    if (!(args = s_object_or_empty (args, &empty))) {
        s_error (id, S_INVALID_PARAMS, "params.arguments must be an object");
        return;
    }
    char err[512] = "";
    int64_t t0 = zclock_mono ();
    json_t *result = mcp_tools_call (server, json_string_value (name), args, err, sizeof err);
    json_decref (empty);
    if (server->verbose)
        fprintf (stderr, "memd-mcp: %s: %s (%lld ms)\n", json_string_value (name),
                 !result ? "invalid params"
                 : json_is_true (json_object_get (result, "isError")) ? "tool error"
                                                                       : "ok",
                 (long long) (zclock_mono () - t0));
    if (result)
        s_reply (id, result);
    else
        s_error (id, S_INVALID_PARAMS, err);
}

//  Handles one parsed message.
static void
s_handle (mcp_server_t *server, json_t *msg)
{
    if (json_is_array (msg)) {
        s_error (NULL, S_INVALID_REQUEST,
                 "batches are not supported (MCP " S_PROTOCOL_VERSION " has none)");
        return;
    }
    if (!json_is_object (msg)) {
        s_error (NULL, S_INVALID_REQUEST, "a message must be a JSON object");
        return;
    }
    json_t *id = json_object_get (msg, "id");
    json_t *method = json_object_get (msg, "method");
    bool id_ok = id && (json_is_string (id) || json_is_integer (id) || json_is_real (id));
    if (!method && id_ok && (json_object_get (msg, "result") || json_object_get (msg, "error")))
        return;   //  a response: this server sends no requests, so nothing waits for it
    if (!json_is_string (json_object_get (msg, "jsonrpc"))
        || strcmp (json_string_value (json_object_get (msg, "jsonrpc")), "2.0") != 0) {
        s_error (id_ok ? id : NULL, S_INVALID_REQUEST, "\"jsonrpc\" must be \"2.0\"");
        return;
    }
    if (id && !id_ok) {
        s_error (NULL, S_INVALID_REQUEST, "\"id\" must be a string or a number");
        return;
    }
    if (!json_is_string (method)) {
        s_error (id, S_INVALID_REQUEST, "\"method\" must be a string");
        return;
    }
    const char *name = json_string_value (method);
    json_t *params = json_object_get (msg, "params");
    if (!id) {
        if (server->verbose)
            fprintf (stderr, "memd-mcp: notification %.100s\n", name);
        return;   //  notifications are never answered, known or not
    }
    bool known = strcmp (name, "initialize") == 0 || strcmp (name, "ping") == 0
              || strcmp (name, "tools/list") == 0 || strcmp (name, "tools/call") == 0;
    if (!known) {
        char message[160];
        snprintf (message, sizeof message, "Method not found: %.100s", name);
        s_error (id, S_METHOD_NOT_FOUND, message);
        return;
    }
    json_t *empty;
    if (!(params = s_object_or_empty (params, &empty))) {
        s_error (id, S_INVALID_PARAMS, "\"params\" must be an object");
        return;
    }
    if (server->verbose && strcmp (name, "tools/call") != 0)
        fprintf (stderr, "memd-mcp: %s\n", name);
    if (strcmp (name, "initialize") == 0)
        s_initialize (id, params);
    else if (strcmp (name, "ping") == 0)
        s_reply (id, json_object ());
    else if (strcmp (name, "tools/list") == 0)
        s_reply (id, json_pack ("{s:o}", "tools", mcp_tools_list ()));
    else
        s_tools_call (server, id, params);
    json_decref (empty);
}

//  --------------------------------------------------------------------------
//  main

int
main (int argc, char *argv[])
{
    zsys_handler_set (NULL);   //  default signals: EOF or SIGTERM ends the server
    static const struct option options[] = {
        {"agent", required_argument, NULL, 'a'},   {"session", required_argument, NULL, 's'},
        {"endpoint", required_argument, NULL, 'e'}, {"timeout", required_argument, NULL, 't'},
        {"budget", required_argument, NULL, 'b'},  {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},          {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    mcp_server_t server = {.timeout_ms = 5000, .budget_tokens = 1000};
    const char *agent = NULL;
    char endpoint[4200];
    int c;
    while ((c = getopt_long (argc, argv, "a:s:e:t:b:vhV", options, NULL)) != -1) {
        char *end = NULL;
        long value = 0;
        if (c == 't' || c == 'b') {
            errno = 0;
            value = strtol (optarg, &end, 10);
            if (errno || end == optarg || *end)
                value = -1;
        }
        switch (c) {
        case 'a':
            agent = optarg;
            break;
        case 's':
            server.session = optarg;
            break;
        case 'e':
            server.endpoint = optarg;
            break;
        case 't':
            if (value < 1 || value > 3600000) {
                fprintf (stderr, "memd-mcp: --timeout wants milliseconds, not '%s'\n", optarg);
                return 2;
            }
            server.timeout_ms = (int) value;
            break;
        case 'b':
            if (value < 50 || value > 32000) {
                fprintf (stderr, "memd-mcp: --budget wants 50 to 32000 tokens, not '%s'\n",
                         optarg);
                return 2;
            }
            server.budget_tokens = (int) value;
            break;
        case 'v':
            server.verbose = true;
            break;
        case 'h':
            fputs (s_usage, stdout);
            return 0;
        case 'V':
            printf ("memd-mcp %s (MCP %s)\n", MEMD_VERSION, S_PROTOCOL_VERSION);
            return 0;
        default:
            fputs (s_usage, stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "memd-mcp: unexpected argument '%s'\n%s", argv[optind], s_usage);
        return 2;
    }
    if (!server.endpoint) {
        if (memd_default_endpoint (endpoint, sizeof endpoint)) {
            fprintf (stderr, "memd-mcp: the default endpoint is too long; set --endpoint\n");
            return 2;
        }
        server.endpoint = endpoint;
    }
    if (!server.session) {
        const char *session = getenv ("MEMD_SESSION");
        server.session = session && *session ? session : NULL;
    }
    memd_agent_resolve (agent, NULL, server.agent, sizeof server.agent);
    signal (SIGPIPE, SIG_IGN);   //  a client gone mid-reply ends the loop at the next read
    if (server.verbose)
        fprintf (stderr, "memd-mcp %s: agent %s, memd at %s\n", MEMD_VERSION, server.agent,
                 server.endpoint);

    char *line = NULL;
    size_t size = 0;
    ssize_t len;
    while ((len = getline (&line, &size, stdin)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        size_t skip = strspn (line, " \t");
        if ((size_t) len == skip)
            continue;   //  blank lines between messages are harmless
        if ((size_t) len > S_MAX_LINE) {
            s_error (NULL, S_INVALID_REQUEST, "message too large");
            continue;
        }
        json_error_t error;
        json_t *msg = json_loadb (line, (size_t) len, 0, &error);
        if (!msg) {
            char message[256];
            snprintf (message, sizeof message, "Parse error: %s (column %d)", error.text,
                      error.column);
            s_error (NULL, S_PARSE_ERROR, message);
            continue;
        }
        s_handle (&server, msg);
        json_decref (msg);
        if (ferror (stdout))
            break;
    }
    free (line);
    memd_client_destroy (&server.client);
    return 0;
}
