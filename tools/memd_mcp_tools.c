/*  memd_mcp_tools — the memory tools of memd-mcp: their definitions
    (names, descriptions, input and output JSON schemas, annotations) and
    what each does over the C client. See memd_mcp.h for how errors are
    split between tool results and JSON-RPC errors.

    Every tool works on one agent, the server's (memd_agent.h says how it
    is chosen), so a model cannot read or write another project's memory.
    Arguments are checked against the same rules as the schemas: unknown
    names, wrong types and values out of range are Invalid params errors
    that say which argument is wrong.
*/
#include "memd_mcp.h"
#include "memctl_json.h"
#include "memd_context.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_RECALL_DEFAULT_K 10
#define S_RECALL_MAX_K     100
#define S_RECALL_TEXT_MAX  2000      //  bytes of one hit's text in the text result
#define S_FORGET_MAX_IDS   10000     //  memd's limit

//  --------------------------------------------------------------------------
//  Definitions (MCP 2025-06-18 Tool objects)

static const char s_tools_json[] = "["
    "{\"name\": \"memory_capture\","
    " \"title\": \"Remember\","
    " \"description\": \"Store something worth remembering in this project's long-term memory "
    "(memd), so that it can be recalled in later sessions: a decision and why it was made, a "
    "preference of the user, a fact about the code or its environment, a procedure that worked, "
    "a problem and its fix. Write one self-contained statement per call, in plain words, with "
    "the names and identifiers someone would search for later, and enough context to be "
    "understood without this conversation. Secrets (API keys, tokens, passwords, private keys, "
    "<private>...</private> spans) are redacted before anything is stored. Storing a text that "
    "is already stored returns the existing id.\","
    " \"inputSchema\": {\"type\": \"object\", \"properties\": {"
    "   \"text\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 1048576,"
    "     \"description\": \"The memory itself: one self-contained statement.\"},"
    "   \"kind\": {\"type\": \"string\", \"enum\": [\"fact\", \"episodic\", \"procedure\", "
    "\"summary\", \"note\"], \"default\": \"fact\","
    "     \"description\": \"fact (default): durable knowledge or a decision; episodic: something "
    "that happened; procedure: how to do something; summary: a digest of other memories; note: "
    "anything else.\"},"
    "   \"session\": {\"type\": \"string\", \"maxLength\": 256,"
    "     \"description\": \"Groups memories of one working session (optional).\"},"
    "   \"tags\": {\"type\": \"array\", \"items\": {\"type\": \"string\", \"minLength\": 1},"
    "     \"maxItems\": 64, \"description\": \"Labels to filter recall by, e.g. [\\\"db\\\", "
    "\\\"decision\\\"].\"},"
    "   \"metadata\": {\"type\": \"object\", \"additionalProperties\": {\"type\": \"string\"},"
    "     \"description\": \"Extra string fields kept with the memory, e.g. {\\\"file\\\": "
    "\\\"src/db.c\\\"}.\"}},"
    "  \"required\": [\"text\"], \"additionalProperties\": false},"
    " \"outputSchema\": {\"type\": \"object\", \"properties\": {"
    "   \"id\": {\"type\": \"integer\"}, \"duplicate\": {\"type\": \"boolean\"},"
    "   \"redactions\": {\"type\": \"integer\"}}, \"required\": [\"id\", \"duplicate\"]},"
    " \"annotations\": {\"title\": \"Remember\", \"readOnlyHint\": false, "
    "\"destructiveHint\": false, \"idempotentHint\": true, \"openWorldHint\": false}},"

    "{\"name\": \"memory_recall\","
    " \"title\": \"Search memory\","
    " \"description\": \"Search this project's long-term memory. Ranking is by shared words "
    "(BM25 with stemming), not by meaning: ask with the specific words a memory would contain "
    "(names, identifiers, error messages, topics) rather than a question. Returns the best hits "
    "with their ids, dates, sessions and scores. To get a compact block to read before a task, "
    "use memory_context instead.\","
    " \"inputSchema\": {\"type\": \"object\", \"properties\": {"
    "   \"query\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 65536,"
    "     \"description\": \"Keywords to search for.\"},"
    "   \"k\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 100, \"default\": 10,"
    "     \"description\": \"Number of hits.\"},"
    "   \"session\": {\"type\": \"string\", \"description\": \"Only memories of this session.\"},"
    "   \"kind\": {\"type\": \"string\", \"enum\": [\"fact\", \"episodic\", \"procedure\", "
    "\"summary\", \"note\"], \"description\": \"Only memories of this kind.\"},"
    "   \"tags\": {\"type\": \"array\", \"items\": {\"type\": \"string\", \"minLength\": 1},"
    "     \"maxItems\": 64, \"description\": \"Only memories with all of these tags.\"},"
    "   \"since_ms\": {\"type\": \"integer\", \"minimum\": 0,"
    "     \"description\": \"Only memories created at or after this time (ms since the "
    "epoch).\"},"
    "   \"until_ms\": {\"type\": \"integer\", \"minimum\": 0,"
    "     \"description\": \"Only memories created before this time (ms since the epoch).\"}},"
    "  \"required\": [\"query\"], \"additionalProperties\": false},"
    " \"outputSchema\": {\"type\": \"object\", \"properties\": {\"hits\": {\"type\": \"array\","
    "   \"items\": {\"type\": \"object\", \"properties\": {\"id\": {\"type\": \"integer\"},"
    "   \"score\": {\"type\": \"number\"}, \"text\": {\"type\": \"string\"},"
    "   \"session\": {\"type\": \"string\"}, \"kind\": {\"type\": \"string\"},"
    "   \"tags\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}},"
    "   \"metadata\": {\"type\": \"object\"}, \"created_at_ms\": {\"type\": \"integer\"}},"
    "   \"required\": [\"id\", \"score\", \"text\"]}}}, \"required\": [\"hits\"]},"
    " \"annotations\": {\"title\": \"Search memory\", \"readOnlyHint\": true, "
    "\"openWorldHint\": false}},"

    "{\"name\": \"memory_context\","
    " \"title\": \"Memory briefing\","
    " \"description\": \"Get a compact block of the memories most relevant to a task, within a "
    "token budget, ready to read before you start: one line per memory with its id, date and "
    "session, best first. Call it at the start of a task with the task's key words (names, "
    "files, components). Cite memories by their #id.\","
    " \"inputSchema\": {\"type\": \"object\", \"properties\": {"
    "   \"query\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 65536,"
    "     \"description\": \"Keywords of the task.\"},"
    "   \"budget_tokens\": {\"type\": \"integer\", \"minimum\": 50, \"maximum\": 32000,"
    "     \"description\": \"Most tokens the block may take (a token is counted as 4 bytes); "
    "default: the server's --budget, 1000 unless set.\"},"
    "   \"session\": {\"type\": \"string\", \"description\": \"Only memories of this session.\"},"
    "   \"kind\": {\"type\": \"string\", \"enum\": [\"fact\", \"episodic\", \"procedure\", "
    "\"summary\", \"note\"], \"description\": \"Only memories of this kind.\"}},"
    "  \"required\": [\"query\"], \"additionalProperties\": false},"
    " \"outputSchema\": {\"type\": \"object\", \"properties\": {"
    "   \"context\": {\"type\": \"string\"},"
    "   \"ids\": {\"type\": \"array\", \"items\": {\"type\": \"integer\"}},"
    "   \"approx_tokens\": {\"type\": \"integer\"}},"
    "  \"required\": [\"context\", \"ids\", \"approx_tokens\"]},"
    " \"annotations\": {\"title\": \"Memory briefing\", \"readOnlyHint\": true, "
    "\"openWorldHint\": false}},"

    "{\"name\": \"memory_forget\","
    " \"title\": \"Forget\","
    " \"description\": \"Remove memories from this project's memory: by id (as shown by "
    "memory_recall and memory_context), or every memory of a session. Use it when a memory is "
    "wrong or outdated, or when the user asks to forget something. Forgotten memories are no "
    "longer recalled. Give either ids or session, not both.\","
    " \"inputSchema\": {\"type\": \"object\", \"properties\": {"
    "   \"ids\": {\"type\": \"array\", \"items\": {\"type\": \"integer\", \"minimum\": 1},"
    "     \"minItems\": 1, \"maxItems\": 10000, \"description\": \"Ids of the memories to "
    "forget.\"},"
    "   \"session\": {\"type\": \"string\", \"minLength\": 1,"
    "     \"description\": \"Forget every memory of this session.\"}},"
    "  \"additionalProperties\": false},"
    " \"outputSchema\": {\"type\": \"object\", \"properties\": {"
    "   \"forgotten\": {\"type\": \"integer\"}}, \"required\": [\"forgotten\"]},"
    " \"annotations\": {\"title\": \"Forget\", \"readOnlyHint\": false, "
    "\"destructiveHint\": true, \"idempotentHint\": true, \"openWorldHint\": false}},"

    "{\"name\": \"memory_status\","
    " \"title\": \"Memory status\","
    " \"description\": \"Check that the memory daemon (memd) is running, and see its state, "
    "uptime and record counts, and the agent (project scope) this server reads and writes.\","
    " \"inputSchema\": {\"type\": \"object\", \"properties\": {}, "
    "\"additionalProperties\": false},"
    " \"outputSchema\": {\"type\": \"object\", \"properties\": {"
    "   \"agent\": {\"type\": \"string\"}, \"endpoint\": {\"type\": \"string\"},"
    "   \"version\": {\"type\": \"string\"}, \"state\": {\"type\": \"string\"},"
    "   \"uptime_ms\": {\"type\": \"integer\"}, \"records\": {\"type\": \"object\"}},"
    "  \"required\": [\"agent\", \"endpoint\", \"version\", \"state\"]},"
    " \"annotations\": {\"title\": \"Memory status\", \"readOnlyHint\": true, "
    "\"openWorldHint\": false}}"
    "]";

json_t *
mcp_tools_list (void)
{
    json_error_t error;
    json_t *tools = json_loads (s_tools_json, 0, &error);
    if (!tools)   //  a typo above; the integration test lists the tools
        fprintf (stderr, "memd-mcp: tool definitions, line %d: %s\n", error.line, error.text);
    return tools ? tools : json_array ();
}

//  --------------------------------------------------------------------------
//  Results

static json_t *s_result (json_t *structured, bool is_error, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

//  A CallToolResult with one text item (and structured, taken, if not NULL).
static json_t *
s_result (json_t *structured, bool is_error, const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    char *text = NULL;
    if (vasprintf (&text, fmt, args) < 0)
        text = NULL;
    va_end (args);
    json_t *item = json_object ();
    json_object_set_new (item, "type", json_string ("text"));
    json_object_set_new (item, "text", memctl_json_string (text ? text : "out of memory"));
    free (text);
    json_t *result = json_object ();
    json_object_set_new (result, "content", json_pack ("[o]", item));
    if (structured)
        json_object_set_new (result, "structuredContent", structured);
    json_object_set_new (result, "isError", json_boolean (is_error));
    return result;
}

//  A CallToolResult with a long text (taken; NULL means out of memory).
static json_t *
s_result_text (json_t *structured, char *text)
{
    json_t *result = s_result (structured, text == NULL, "%s", text ? text : "out of memory");
    free (text);
    return result;
}

//  The client's last error as a tool error, for the model and its user.
static json_t *
s_memd_error (mcp_server_t *server, const char *doing)
{
    int code = memd_client_code (server->client);
    if (code == MEMD__V1__CODE__UNAVAILABLE)
        return s_result (NULL, true,
                         "memd did not answer within %d ms at %s while %s: is memd running? "
                         "(%s)",
                         server->timeout_ms, server->endpoint, doing,
                         memd_client_error (server->client));
    const ProtobufCEnumValue *name
        = protobuf_c_enum_descriptor_get_value (&memd__v1__code__descriptor, code);
    return s_result (NULL, true, "memd refused %s: %s: %s", doing, name ? name->name : "ERROR",
                     memd_client_error (server->client));
}

//  Connects on first use. NULL when ready, else the tool error to return.
static json_t *
s_connect (mcp_server_t *server)
{
    if (memd_endpoint_absent (server->endpoint))
        return s_result (NULL, true,
                         "memd is not running: there is no socket at %s. Start memd (for "
                         "example `memd &`, or its systemd user service) and try again.",
                         server->endpoint + 6);
    if (!server->client)
        server->client = memd_client_new (server->endpoint, server->timeout_ms);
    if (!server->client)
        return s_result (NULL, true, "cannot use memd's endpoint %s", server->endpoint);
    return NULL;
}

//  --------------------------------------------------------------------------
//  Arguments

//  Every argument is one of allowed (NULL-terminated). 0 or -1 with err.
static int
s_check_names (json_t *args, const char *const *allowed, const char *tool, char *err,
               size_t err_size)
{
    const char *key;
    json_t *value;
    json_object_foreach (args, key, value) {
        size_t i = 0;
        while (allowed[i] && strcmp (allowed[i], key) != 0)
            i++;
        if (!allowed[i]) {
            memctl_errorf (err, err_size, "%s has no argument '%.64s'", tool, key);
            return -1;
        }
    }
    return 0;
}

//  A string argument; *out stays NULL when absent (or null). 0 or -1.
static int
s_string_arg (json_t *args, const char *name, bool required, const char **out, char *err,
              size_t err_size)
{
    json_t *value = json_object_get (args, name);
    *out = NULL;
    if (!value || json_is_null (value)) {
        if (required)
            memctl_errorf (err, err_size, "missing required argument '%s'", name);
        return required ? -1 : 0;
    }
    if (!json_is_string (value) || (required && json_string_length (value) == 0)) {
        memctl_errorf (err, err_size, "'%s' must be a%s string", name, required ? " non-empty" : "");
        return -1;
    }
    *out = json_string_value (value);
    return 0;
}

//  An integer argument in [min, max]; *out keeps its value when absent.
static int
s_int_arg (json_t *args, const char *name, json_int_t min, json_int_t max, json_int_t *out,
           char *err, size_t err_size)
{
    json_t *value = json_object_get (args, name);
    if (!value || json_is_null (value))
        return 0;
    //  A whole number sent as 5.0 is still a whole number.
    double real = json_is_real (value) ? json_real_value (value) : 0;
    if (json_is_real (value) && real == (double) (json_int_t) real)
        *out = (json_int_t) real;
    else if (json_is_integer (value))
        *out = json_integer_value (value);
    else {
        memctl_errorf (err, err_size, "'%s' must be an integer", name);
        return -1;
    }
    if (*out < min || *out > max) {
        memctl_errorf (err, err_size, "'%s' must be from %lld to %lld", name, (long long) min,
               (long long) max);
        return -1;
    }
    return 0;
}

//  A kind argument; *kind stays as it is when absent.
static int
s_kind_arg (json_t *args, Memd__V1__Kind *kind, char *err, size_t err_size)
{
    const char *name;
    if (s_string_arg (args, "kind", false, &name, err, err_size))
        return -1;
    if (!name)
        return 0;
    int value = memctl_kind_parse (name);
    if (value < 0) {
        memctl_errorf (err, err_size, "'kind' must be one of fact, episodic, procedure, summary, note");
        return -1;
    }
    *kind = (Memd__V1__Kind) value;
    return 0;
}

//  --------------------------------------------------------------------------
//  memory_capture

static json_t *
s_capture (mcp_server_t *server, json_t *args, char *err, size_t err_size)
{
    static const char *const names[] = {"text", "kind", "session", "tags", "metadata", NULL};
    const char *text;
    if (s_check_names (args, names, "memory_capture", err, err_size)
        || s_string_arg (args, "text", true, &text, err, err_size))
        return NULL;
    memctl_defaults_t defaults = {.agent = server->agent,
                                  .session = server->session,
                                  .kind = MEMD__V1__KIND__FACT};
    Memd__V1__Record *record = memctl_record_from_object (args, &defaults, err, err_size);
    if (!record)
        return NULL;
    bool has_source = false;
    for (size_t i = 0; i < record->n_metadata; i++)
        has_source |= strcmp (record->metadata[i]->key, "source") == 0;
    if (!has_source && memctl_record_add_metadata (record, "source", "mcp")) {
        memctl_record_destroy (&record);
        return s_result (NULL, true, "out of memory");
    }
    json_t *failed = s_connect (server);
    if (failed) {
        memctl_record_destroy (&record);
        return failed;
    }
    uint64_t id = 0;
    bool dup = false;
    int rc = memd_client_capture (server->client, server->agent, &record, 1, &id, &dup);
    memctl_record_destroy (&record);
    if (rc)
        return s_memd_error (server, "to store the memory");
    if (!dup && memd_recent_add (server->endpoint, server->agent, id) && server->verbose)
        fprintf (stderr, "memd-mcp: cannot keep #%llu for session-start: %s\n",
                 (unsigned long long) id, strerror (errno));

    //  Tell the model when memd took secrets out of what it sent.
    long redactions = 0;
    Memd__V1__Reply *reply = dup ? NULL : memd_client_get (server->client, server->agent, &id, 1);
    if (reply && reply->get && reply->get->n_records == 1) {
        const Memd__V1__Record *stored = reply->get->records[0];
        for (size_t i = 0; i < stored->n_metadata; i++)
            if (strcmp (stored->metadata[i]->key, "redactions") == 0)
                redactions = strtol (stored->metadata[i]->value, NULL, 10);
    }
    memd_client_reply_free (&reply);
    json_t *structured = json_pack ("{s:o, s:b, s:I}", "id", memctl_json_u64 (id), "duplicate",
                                    dup, "redactions", (json_int_t) redactions);
    if (dup)
        return s_result (structured, false,
                         "Already in memory as #%llu (the same text); nothing new was stored.",
                         (unsigned long long) id);
    if (redactions)
        return s_result (structured, false,
                         "Remembered as #%llu (agent %s). %ld secret%s redacted before storing.",
                         (unsigned long long) id, server->agent, redactions,
                         redactions == 1 ? " was" : "s were");
    return s_result (structured, false, "Remembered as #%llu (agent %s).",
                     (unsigned long long) id, server->agent);
}

//  --------------------------------------------------------------------------
//  memory_recall

//  The tags argument as a NULL-free array of borrowed strings (*n of them).
static int
s_tags_arg (json_t *args, char ***tags, size_t *n, char *err, size_t err_size)
{
    json_t *value = json_object_get (args, "tags");
    *tags = NULL;
    *n = 0;
    if (!value || json_is_null (value))
        return 0;
    size_t count = json_is_array (value) ? json_array_size (value) : 0;
    bool ok = json_is_array (value) && count <= 64;
    *tags = calloc (count ? count : 1, sizeof (char *));
    for (size_t i = 0; ok && *tags && i < count; i++) {
        const char *tag = json_string_value (json_array_get (value, i));
        ok = tag && *tag;
        (*tags)[i] = (char *) tag;
    }
    if (!ok || !*tags) {
        free (*tags);
        *tags = NULL;
        memctl_errorf (err, err_size, "'tags' must be an array of at most 64 non-empty strings");
        return -1;
    }
    *n = count;
    return 0;
}

static json_t *
s_recall (mcp_server_t *server, json_t *args, char *err, size_t err_size)
{
    static const char *const names[] = {"query", "k",        "session",  "kind",
                                        "tags",  "since_ms", "until_ms", NULL};
    Memd__V1__Recall recall = MEMD__V1__RECALL__INIT;
    const char *query, *session;
    json_int_t k = S_RECALL_DEFAULT_K, since = 0, until = 0;
    char **tags = NULL;
    size_t n_tags = 0;
    if (s_check_names (args, names, "memory_recall", err, err_size)
        || s_string_arg (args, "query", true, &query, err, err_size)
        || s_string_arg (args, "session", false, &session, err, err_size)
        || s_int_arg (args, "k", 1, S_RECALL_MAX_K, &k, err, err_size)
        || s_int_arg (args, "since_ms", 0, INT64_MAX, &since, err, err_size)
        || s_int_arg (args, "until_ms", 0, INT64_MAX, &until, err, err_size)
        || s_kind_arg (args, &recall.kind, err, err_size)
        || s_tags_arg (args, &tags, &n_tags, err, err_size))
        return NULL;
    json_t *failed = s_connect (server);
    if (failed) {
        free (tags);
        return failed;
    }
    recall.query = (char *) query;
    recall.k = (uint32_t) k;
    recall.session_id = session ? (char *) session : "";
    recall.since_ms = since;
    recall.until_ms = until;
    recall.tags = tags;
    recall.n_tags = n_tags;
    Memd__V1__Reply *reply = memd_client_recall (server->client, server->agent, &recall);
    free (tags);
    if (!reply)
        return s_memd_error (server, "the search");

    const Memd__V1__RecallResult *result = reply->recall;
    json_t *hits = json_array ();
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    if (out && result->n_hits == 0)
        fprintf (out,
                 "No memories of agent %s match \"%s\". Recall ranks by shared words: try "
                 "other keywords (names, identifiers, error messages).",
                 server->agent, query);
    else if (out)
        fprintf (out, "%zu memor%s of agent %s for \"%s\", best first:\n", result->n_hits,
                 result->n_hits == 1 ? "y" : "ies", server->agent, query);
    for (size_t i = 0; i < result->n_hits; i++) {
        const Memd__V1__Hit *hit = result->hits[i];
        json_array_append_new (hits, memctl_json_hit (hit));
        char *line = hit->record ? memd_context_describe (hit->record, S_RECALL_TEXT_MAX) : NULL;
        if (out && line)
            fprintf (out, "- %s (score %.3f)\n", line, hit->score);
        free (line);
    }
    if (out)
        fclose (out);
    memd_client_reply_free (&reply);
    return s_result_text (json_pack ("{s:o}", "hits", hits), out ? text : NULL);
}

//  --------------------------------------------------------------------------
//  memory_context

static json_t *
s_context (mcp_server_t *server, json_t *args, char *err, size_t err_size)
{
    static const char *const names[] = {"query", "budget_tokens", "session", "kind", NULL};
    memd_context_query_t query = {.budget_tokens = server->budget_tokens};
    json_int_t budget = server->budget_tokens;
    if (s_check_names (args, names, "memory_context", err, err_size)
        || s_string_arg (args, "query", true, &query.query, err, err_size)
        || s_string_arg (args, "session", false, &query.session, err, err_size)
        || s_int_arg (args, "budget_tokens", MEMD_CONTEXT_MIN_BUDGET, MEMD_CONTEXT_MAX_BUDGET,
                      &budget, err, err_size)
        || s_kind_arg (args, &query.kind, err, err_size))
        return NULL;
    query.budget_tokens = (int) budget;
    json_t *failed = s_connect (server);
    if (failed)
        return failed;
    memd_context_t context;
    if (memd_context_build (server->client, server->agent, &query, &context))
        return s_memd_error (server, "the search");
    json_t *ids = json_array ();
    for (size_t i = 0; i < context.n_ids; i++)
        json_array_append_new (ids, memctl_json_u64 (context.ids[i]));
    json_int_t tokens = (json_int_t) ((context.bytes + MEMD_CONTEXT_BYTES_PER_TOKEN - 1)
                                      / MEMD_CONTEXT_BYTES_PER_TOKEN);
    json_t *structured = json_pack ("{s:o, s:o, s:I}", "context",
                                    memctl_json_string (context.text), "ids", ids,
                                    "approx_tokens", tokens);
    json_t *result = context.n_ids
                         ? s_result (structured, false, "%s", context.text)
                         : s_result (structured, false,
                                     "No memories of agent %s are relevant to \"%s\".",
                                     server->agent, query.query);
    memd_context_clear (&context);
    return result;
}

//  --------------------------------------------------------------------------
//  memory_forget

static json_t *
s_forget (mcp_server_t *server, json_t *args, char *err, size_t err_size)
{
    static const char *const names[] = {"ids", "session", NULL};
    const char *session;
    json_t *ids_arg = json_object_get (args, "ids");
    if (json_is_null (ids_arg))
        ids_arg = NULL;
    if (s_check_names (args, names, "memory_forget", err, err_size)
        || s_string_arg (args, "session", false, &session, err, err_size))
        return NULL;
    if (session && !*session) {
        memctl_errorf (err, err_size, "'session' must be a non-empty string");
        return NULL;
    }
    if (!ids_arg == !session) {
        memctl_errorf (err, err_size, "give either 'ids' or 'session'");
        return NULL;
    }
    size_t n = ids_arg ? json_array_size (ids_arg) : 0;
    if (ids_arg && (!json_is_array (ids_arg) || n == 0 || n > S_FORGET_MAX_IDS)) {
        memctl_errorf (err, err_size, "'ids' must be an array of 1 to %d record ids", S_FORGET_MAX_IDS);
        return NULL;
    }
    uint64_t *ids = calloc (n ? n : 1, sizeof *ids);
    if (!ids)
        return s_result (NULL, true, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_int_t id = 0;
        json_t *one = json_pack ("{s:O}", "id", json_array_get (ids_arg, i));
        int rc = s_int_arg (one, "id", 1, INT64_MAX, &id, err, err_size);
        json_decref (one);
        if (rc) {
            memctl_errorf (err, err_size, "'ids'[%zu] must be a record id (an integer from 1)", i);
            free (ids);
            return NULL;
        }
        ids[i] = (uint64_t) id;
    }
    json_t *failed = s_connect (server);
    if (failed) {
        free (ids);
        return failed;
    }
    uint64_t forgotten = 0;
    int rc = memd_client_forget (server->client, server->agent, ids, n, session, &forgotten);
    free (ids);
    if (rc && memd_client_code (server->client) == MEMD__V1__CODE__NOT_FOUND)
        return s_result (NULL, true, "Forgot %llu memor%s. Not found: %s",
                         (unsigned long long) forgotten, forgotten == 1 ? "y" : "ies",
                         memd_client_error (server->client));
    if (rc)
        return s_memd_error (server, "to forget");
    json_t *structured = json_pack ("{s:o}", "forgotten", memctl_json_u64 (forgotten));
    if (session)
        return s_result (structured, false, "Forgot %llu memor%s of session %s.",
                         (unsigned long long) forgotten, forgotten == 1 ? "y" : "ies", session);
    return s_result (structured, false, "Forgot %llu memor%s.", (unsigned long long) forgotten,
                     forgotten == 1 ? "y" : "ies");
}

//  --------------------------------------------------------------------------
//  memory_status

static json_t *
s_status (mcp_server_t *server, json_t *args, char *err, size_t err_size)
{
    static const char *const names[] = {NULL};
    if (s_check_names (args, names, "memory_status", err, err_size))
        return NULL;
    json_t *failed = s_connect (server);
    if (failed)
        return failed;
    Memd__V1__Reply *reply = memd_client_status (server->client);
    if (!reply)
        return s_memd_error (server, "the status request");
    const Memd__V1__StatusResult *st = reply->status_result;
    json_t *structured = memctl_json_status (st);
    json_object_set_new (structured, "agent", json_string (server->agent));
    json_object_set_new (structured, "endpoint", memctl_json_string (server->endpoint));
    json_t *result = s_result (structured, false,
                               "memd %s is running (pid %u, state %s, up %lld s) at %s; "
                               "%llu live and %llu forgotten records over all agents. This "
                               "server reads and writes agent %s.",
                               st->version, st->pid, st->state, (long long) st->uptime_ms / 1000,
                               server->endpoint, (unsigned long long) st->records_live,
                               (unsigned long long) st->records_tombstoned, server->agent);
    memd_client_reply_free (&reply);
    return result;
}

//  --------------------------------------------------------------------------
//  Dispatch

json_t *
mcp_tools_call (mcp_server_t *server, const char *name, json_t *args, char *err,
                size_t err_size)
{
    static const struct {
        const char *name;
        json_t *(*fn) (mcp_server_t *, json_t *, char *, size_t);
    } tools[] = {
        {"memory_capture", s_capture}, {"memory_recall", s_recall}, {"memory_context", s_context},
        {"memory_forget", s_forget},   {"memory_status", s_status},
    };
    for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++)
        if (strcmp (tools[i].name, name) == 0)
            return tools[i].fn (server, args, err, err_size);
    memctl_errorf (err, err_size, "Unknown tool: %.100s", name);
    return NULL;
}
