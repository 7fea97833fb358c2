/*  memctl_context — `memctl context`: a prompt-ready block of memories for
    a query within a token budget (memd's Context operation), and the
    ranking options it shares with `memctl recall` (--embedding, --weights,
    --fusion).
*/
#include "memctl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

command_fn memctl_cmd_context;

const char memctl_context_usage[] =
    "Usage: memctl context [OPTIONS] QUERY...\n"
    "\n"
    "Prints a block of the memories most relevant to QUERY (its words joined by\n"
    "spaces), ready to paste into a prompt: a heading, then one line per memory,\n"
    "most relevant first, with its id, date (UTC) and session:\n"
    "  - [#12 | 2026-11-24 14:02 UTC | session s1] We chose LMDB because ...\n"
    "The block stays within the budget, a token taken as 4 bytes; near-duplicate\n"
    "memories appear once.\n"
    "\n"
    "Options:\n"
    "  -a, --agent A        agent (default: default)\n"
    "  -b, --budget TOKENS  size of the block (default 1000, at most 100000)\n"
    "  -k, --k N            candidates considered (default 50)\n"
    "  -s, --session S      only this session\n"
    "      --kind K         only this kind (episodic, fact, summary, procedure, note)\n"
    "      --tag T          only records with this tag (repeatable: all must match)\n"
    "      --since MS       only records created at or after MS (ms since the epoch)\n"
    "      --until MS       only records created before MS\n"
    "      --no-header      no heading line\n" MEMCTL_RANKING_HELP
    "\n"
    "JSON: {\"text\", \"ids\": [...], \"tokens\", \"budget_tokens\", \"omitted\"}\n";

int
memctl_parse_embedding (ctx_t *ctx, const char *text, Memd__V1__Recall *query)
{
    json_error_t error;
    json_t *doc = json_loads (text, JSON_DECODE_ANY, &error);
    size_t n = json_is_array (doc) ? json_array_size (doc) : 0;
    float *values = n ? calloc (n, sizeof *values) : NULL;
    int rc = n && values ? -1 : memctl_usage_error (ctx, "--embedding wants a JSON array of "
                                                         "numbers, like [0.1, -0.2, 0.3]");
    for (size_t i = 0; i < n && rc < 0; i++) {
        json_t *v = json_array_get (doc, i);
        double x = json_is_number (v) ? json_number_value (v) : NAN;
        if (!isfinite (x) || !isfinite ((float) x))
            rc = memctl_usage_error (ctx, "--embedding[%zu] is not a finite float", i);
        values[i] = (float) x;
    }
    json_decref (doc);
    if (rc >= 0) {
        free (values);
        return rc;
    }
    free (query->query_embedding);
    query->query_embedding = values;
    query->n_query_embedding = n;
    return -1;
}

int
memctl_parse_weights (ctx_t *ctx, const char *text, Memd__V1__RankWeights *weights)
{
    char *copy = strdup (text);
    if (!copy)
        return memctl_fail (ctx, MEMD__V1__CODE__RESOURCE_EXHAUSTED, "out of memory");
    int rc = -1;
    char *save = NULL;
    for (char *item = strtok_r (copy, ",", &save); item && rc < 0;
         item = strtok_r (NULL, ",", &save)) {
        char *eq = strchr (item, '=');
        char *end = NULL;
        double value = eq ? strtod (eq + 1, &end) : NAN;
        if (!eq || end == eq + 1 || *end || !isfinite (value) || value < 0) {
            rc = memctl_usage_error (ctx, "--weights wants SIGNAL=NUMBER,... , not '%s'", item);
            break;
        }
        *eq = 0;
        if (strcmp (item, "lexical") == 0)
            weights->lexical = (float) value;
        else if (strcmp (item, "vector") == 0)
            weights->vector = (float) value;
        else if (strcmp (item, "recency") == 0)
            weights->recency = (float) value;
        else if (strcmp (item, "salience") == 0)
            weights->salience = (float) value;
        else if (strcmp (item, "graph") == 0)
            weights->graph = (float) value;
        else
            rc = memctl_usage_error (ctx, "--weights: unknown signal '%s' (lexical, vector, "
                                          "recency, salience, graph)", item);
    }
    free (copy);
    return rc;
}

int
memctl_parse_fusion (ctx_t *ctx, const char *text, Memd__V1__Fusion *fusion)
{
    if (strcmp (text, "rrf") == 0)
        *fusion = MEMD__V1__FUSION__FUSION_RRF;
    else if (strcmp (text, "weighted") == 0)
        *fusion = MEMD__V1__FUSION__FUSION_WEIGHTED;
    else
        return memctl_usage_error (ctx, "--fusion wants rrf or weighted, not '%s'", text);
    return -1;
}

int
memctl_recall_option (ctx_t *ctx, int c, Memd__V1__Recall *query,
                      Memd__V1__RankWeights *weights)
{
    switch (c) {
    case 's':
        query->session_id = optarg;
        return -1;
    case MEMCTL_OPT_KIND:
        return memctl_parse_kind (ctx, optarg, &query->kind);
    case MEMCTL_OPT_TAG:
        query->tags[query->n_tags++] = optarg;
        return -1;
    case MEMCTL_OPT_SINCE:
        if (memctl_parse_ms (optarg, &query->since_ms))
            return memctl_usage_error (ctx, "--since wants milliseconds since the epoch, not '%s'",
                                       optarg);
        return -1;
    case MEMCTL_OPT_UNTIL:
        if (memctl_parse_ms (optarg, &query->until_ms))
            return memctl_usage_error (ctx, "--until wants milliseconds since the epoch, not '%s'",
                                       optarg);
        return -1;
    case MEMCTL_OPT_EMBEDDING:
        return memctl_parse_embedding (ctx, optarg, query);
    case MEMCTL_OPT_WEIGHTS:
        query->weights = weights;
        return memctl_parse_weights (ctx, optarg, weights);
    case MEMCTL_OPT_FUSION:
        return memctl_parse_fusion (ctx, optarg, &query->fusion);
    case MEMCTL_OPT_NO_STATS:
        query->no_stats = true;
        return -1;
    case MEMCTL_OPT_GRAPH:
        query->graph = MEMD__V1__RECALL_GRAPH__RECALL_GRAPH_ON;
        return -1;
    case MEMCTL_OPT_NO_GRAPH:
        query->graph = MEMD__V1__RECALL_GRAPH__RECALL_GRAPH_OFF;
        return -1;
    case MEMCTL_OPT_DIVERSIFY:
        query->graph_diversify = true;
        return -1;
    default:
        return -2;
    }
}

int
memctl_cmd_context (ctx_t *ctx, int argc, char **argv)
{
    enum { OPT_NO_HEADER = 256 };
    static const struct option options[] = {
        COMMON_LONG,
        {"agent", required_argument, NULL, 'a'},
        {"budget", required_argument, NULL, 'b'},
        {"k", required_argument, NULL, 'k'},
        {"no-header", no_argument, NULL, OPT_NO_HEADER},
        MEMCTL_RECALL_LONG,
        {NULL, 0, NULL, 0}};
    const char *agent = "default";
    Memd__V1__Recall query = MEMD__V1__RECALL__INIT;
    Memd__V1__RankWeights weights = MEMD__V1__RANK_WEIGHTS__INIT;
    Memd__V1__Context context = MEMD__V1__CONTEXT__INIT;
    context.recall = &query;
    char **tags = calloc ((size_t) argc + 1, sizeof (char *));
    query.tags = tags;
    uint64_t number;
    int c, rc = tags ? -1 : memctl_fail (ctx, MEMD__V1__CODE__RESOURCE_EXHAUSTED, "out of memory");
    while (rc < 0
           && (c = getopt_long (argc, argv, COMMON_SHORT "a:b:k:s:", options, NULL)) != -1) {
        switch (c) {
        case 'a':
            if (!*optarg)
                rc = memctl_usage_error (ctx, "--agent is empty");
            agent = optarg;
            break;
        case 'b':
            if (memctl_parse_u64 (optarg, &number) || number == 0 || number > 100000)
                rc = memctl_usage_error (ctx, "--budget wants 1 to 100000 tokens, not '%s'",
                                         optarg);
            context.budget_tokens = (uint32_t) number;
            break;
        case 'k':
            if (memctl_parse_u64 (optarg, &number) || number == 0 || number > UINT32_MAX)
                rc = memctl_usage_error (ctx, "-k wants a positive number, not '%s'", optarg);
            query.k = (uint32_t) number;
            break;
        case OPT_NO_HEADER:
            context.no_header = true;
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
    Memd__V1__Reply *reply = NULL;
    if (rc < 0) {
        query.query = text;
        reply = memd_client_context (ctx->client, agent, &context);
        rc = reply ? 0 : memctl_fail_client (ctx);
    }
    if (reply) {
        const Memd__V1__ContextResult *r = reply->context;
        if (ctx->json) {
            json_t *ids = json_array ();
            for (size_t i = 0; i < r->n_ids; i++)
                json_array_append_new (ids, memctl_json_u64 (r->ids[i]));
            memctl_json_print (json_pack ("{s:o, s:o, s:i, s:i, s:i}", "text",
                                          memctl_json_string (r->text), "ids", ids, "tokens",
                                          (int) r->tokens, "budget_tokens", (int) r->budget_tokens,
                                          "omitted", (int) r->omitted));
        }
        else {
            fputs (r->text, stdout);
            if (r->n_ids == 0 && isatty (STDOUT_FILENO))
                fprintf (stderr, "memctl: no memories\n");
        }
    }
    memd_client_reply_free (&reply);
    free (text);
    free (tags);
    free (query.query_embedding);
    return rc;
}
