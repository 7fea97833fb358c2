/*  memctl_graph — `memctl graph SUBCOMMAND`: the memory graph of an agent
    (docs/graph.md): its numbers, a record's neighbours, a community, and an
    export for Graphviz (dot) or Gephi (GraphML).

    Everything is read from memd's last graph build, at once, also while a
    build runs; `stats --refresh` asks memd to bring the graph up to date in
    the background.
*/
#include "memctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

command_fn memctl_cmd_graph;

#define PAGE      10000     //  ids per Community, Neighbors and Get call (memd's limit)
#define TEXT_DOT  40        //  characters of text in an exported node's label

const char memctl_graph_usage[] =
    "Usage: memctl graph [--agent A] SUBCOMMAND [ARGS...]\n"
    "\n"
    "The memory graph of agent A (default: default): records are nodes, linked by\n"
    "edges (temporal: the next record of a session; lexical: similar words;\n"
    "derived: a digest and its records; duplicate; semantic; co_recall), grouped\n"
    "in communities, each record with its PageRank. Read from the last build.\n"
    "\n"
    "  graph stats [--refresh] [--top N]\n"
    "      generation, nodes, edges, communities, modularity, when built; --top lists\n"
    "      the N largest communities; --refresh rebuilds in the background if the\n"
    "      graph changed since its last build (the numbers printed are the old ones)\n"
    "      JSON: {\"generation\", \"nodes\", \"edges\", \"communities\", \"built_at_ms\", ...}\n"
    "  graph neighbors [--type T] [--limit N] ID...\n"
    "      the edges of records (both ways) and the records at their other end\n"
    "      JSON: {\"edges\": [{\"src\", \"dst\", \"type\", \"weight\"}],\n"
    "             \"nodes\": [{\"id\", \"community\", \"pagerank\"}], \"missing\": [...]}\n"
    "  graph community [--limit N] ID\n"
    "  graph community --community C [--limit N]\n"
    "      the community of record ID (or community C by its id), its most central\n"
    "      members first (N of them, default 20; all with --json)\n"
    "      JSON: {\"community\", \"size\", \"generation\", \"members\": [{\"id\", \"pagerank\"}]}\n"
    "  graph export [--format dot|graphml] [--no-text]\n"
    "      the whole graph on stdout, for Graphviz (dot -Tsvg) or Gephi (GraphML);\n"
    "      nodes carry their community, PageRank and (unless --no-text) text\n"
    "\n"
    "T: temporal, lexical, semantic, derived, duplicate, co_recall.\n";

//  --------------------------------------------------------------------------
//  Helpers

static const char *s_type_names[] = {"any",     "temporal",  "lexical",  "semantic",
                                     "derived", "duplicate", "co_recall"};
#define TYPE_COUNT ((int) (sizeof s_type_names / sizeof s_type_names[0]))

static const char *
s_type_name (int type)
{
    return type >= 0 && type < TYPE_COUNT ? s_type_names[type] : "unknown";
}

//  Parses this subcommand's options: --agent anywhere, and the extras in
//  `more` (short letters after the common ones) to handle(). Returns -1 to
//  go on, or an exit code.
typedef int (s_option_fn) (ctx_t *ctx, int c, void *arg);

static int
s_parse (ctx_t *ctx, int argc, char **argv, const char *letters, const struct option *extra,
         size_t n_extra, const char **agent, s_option_fn *handle, void *arg)
{
    struct option options[16] = {COMMON_LONG, {"agent", required_argument, NULL, 'a'}};
    size_t n = 5;
    for (size_t i = 0; i < n_extra && n < 15; i++)
        options[n++] = extra[i];
    options[n] = (struct option){NULL, 0, NULL, 0};
    char shorts[64];
    snprintf (shorts, sizeof shorts, "%sa:%s", COMMON_SHORT, letters);
    int c, rc = -1;
    while (rc < 0 && (c = getopt_long (argc, argv, shorts, options, NULL)) != -1) {
        if (c == 'a') {
            if (!*optarg)
                return memctl_usage_error (ctx, "--agent is empty");
            *agent = optarg;
        }
        else if (handle && (rc = handle (ctx, c, arg)) != -2)
            ;
        else
            rc = memctl_common_option (ctx, c, argv);
    }
    return rc;
}

//  One line of text: control characters as spaces, cut at max characters.
static void
s_print_text (const Memd__V1__Record *rec)
{
    if (rec)
        memctl_print_one_line (rec->text, 100);
}

//  The records of ids (for their texts), one Get per page; missing ones
//  are skipped. Returns the replies (free each), NULL-terminated.
static Memd__V1__Reply **
s_get_texts (ctx_t *ctx, const char *agent, const uint64_t *ids, size_t n)
{
    size_t pages = (n + PAGE - 1) / PAGE;
    Memd__V1__Reply **replies = calloc (pages + 1, sizeof *replies);
    for (size_t p = 0; replies && p < pages; p++) {
        size_t count = n - p * PAGE < PAGE ? n - p * PAGE : PAGE;
        replies[p] = memd_client_get (ctx->client, agent, ids + p * PAGE, count);
    }
    return replies;
}

static const Memd__V1__Record *
s_find_text (Memd__V1__Reply **replies, uint64_t id)
{
    for (size_t p = 0; replies && replies[p]; p++)
        for (size_t i = 0; replies[p]->get && i < replies[p]->get->n_records; i++)
            if (replies[p]->get->records[i]->id == id)
                return replies[p]->get->records[i];
    return NULL;
}

static void
s_free_texts (Memd__V1__Reply ***replies_p)
{
    Memd__V1__Reply **replies = *replies_p;
    for (size_t p = 0; replies && replies[p]; p++)
        memd_client_reply_free (&replies[p]);
    free (replies);
    *replies_p = NULL;
}

//  --------------------------------------------------------------------------
//  stats

typedef struct {
    bool refresh;
    uint64_t top;
} s_stats_opts_t;

static int
s_stats_option (ctx_t *ctx, int c, void *arg)
{
    s_stats_opts_t *o = arg;
    if (c == 'r')
        o->refresh = true;
    else if (c == 'n') {
        if (memctl_parse_u64 (optarg, &o->top) || o->top > PAGE)
            return memctl_usage_error (ctx, "--top wants a number up to %d, not '%s'", PAGE,
                                       optarg);
    }
    else
        return -2;
    return -1;
}

static int
s_graph_stats (ctx_t *ctx, int argc, char **argv, const char *agent)
{
    static const struct option extra[] = {{"refresh", no_argument, NULL, 'r'},
                                          {"top", required_argument, NULL, 'n'}};
    s_stats_opts_t o = {false, 0};
    int rc = s_parse (ctx, argc, argv, "rn:", extra, 2, &agent, s_stats_option, &o);
    if (rc >= 0)
        return rc;
    if (optind < argc)
        return memctl_usage_error (ctx, "unexpected argument '%s'", argv[optind]);
    if ((rc = memctl_connect (ctx)) >= 0)
        return rc;
    Memd__V1__Reply *reply = memd_client_graph_stats (ctx->client, agent, o.refresh,
                                                      (uint32_t) o.top);
    if (!reply)
        return memctl_fail_client (ctx);
    const Memd__V1__GraphStatsResult *g = reply->graph_stats;
    if (ctx->json)
        memctl_json_print (memctl_json_graph_stats (g));
    else {
        char built[64], took[32];
        memctl_format_time (g->built_at_ms, built, sizeof built);
        memctl_format_duration (g->build_ms, took, sizeof took);
        printf ("agent        %s\n", agent);
        if (g->generation)
            printf ("generation   %llu, built %s in %s\n", (unsigned long long) g->generation,
                    built, took);
        else
            printf ("generation   0 (never built)\n");
        printf ("nodes        %llu live records (%llu in the last build)\n",
                (unsigned long long) g->nodes, (unsigned long long) g->nodes_built);
        printf ("edges        %llu (%llu in the last build)\n", (unsigned long long) g->edges,
                (unsigned long long) g->edges_built);
        printf ("communities  %llu, modularity %.3f\n", (unsigned long long) g->communities,
                g->modularity);
        printf ("changes      %llu since the last build; %llu records not linked yet%s\n",
                (unsigned long long) g->changes, (unsigned long long) g->unlinked,
                g->building ? "; a build is running" : "");
        if (*g->last_error)
            printf ("last error   %s\n", g->last_error);
        for (size_t i = 0; i < g->n_top; i++)
            printf ("%s #%llu (%llu member%s)\n", i ? "            " : "largest     ",
                    (unsigned long long) g->top[i]->id, (unsigned long long) g->top[i]->size,
                    g->top[i]->size == 1 ? "" : "s");
        if (o.refresh)
            printf ("refresh      asked: memd rebuilds in the background if it changed\n");
    }
    memd_client_reply_free (&reply);
    return 0;
}

//  --------------------------------------------------------------------------
//  neighbors

typedef struct {
    int type;
    uint64_t limit;
} s_neighbors_opts_t;

static int
s_neighbors_option (ctx_t *ctx, int c, void *arg)
{
    s_neighbors_opts_t *o = arg;
    if (c == 'T') {
        o->type = -1;
        for (int t = 1; t < TYPE_COUNT; t++)
            if (strcasecmp (optarg, s_type_names[t]) == 0)
                o->type = t;
        if (o->type < 0)
            return memctl_usage_error (ctx, "unknown edge type '%s' (temporal, lexical, "
                                            "semantic, derived, duplicate, co_recall)",
                                       optarg);
    }
    else if (c == 'l') {
        if (memctl_parse_u64 (optarg, &o->limit) || o->limit == 0 || o->limit > PAGE)
            return memctl_usage_error (ctx, "--limit wants a number from 1 to %d, not '%s'",
                                       PAGE, optarg);
    }
    else
        return -2;
    return -1;
}

static json_t *
s_json_node (const Memd__V1__GraphNode *node)
{
    return json_pack ("{s:o, s:o, s:f}", "id", memctl_json_u64 (node->id), "community",
                      memctl_json_u64 (node->community), "pagerank", node->pagerank);
}

static const Memd__V1__GraphNode *
s_node (const Memd__V1__NeighborsResult *r, uint64_t id)
{
    for (size_t i = 0; i < r->n_nodes; i++)
        if (r->nodes[i]->id == id)
            return r->nodes[i];
    return NULL;
}

static int
s_graph_neighbors (ctx_t *ctx, int argc, char **argv, const char *agent)
{
    static const struct option extra[] = {{"type", required_argument, NULL, 'T'},
                                          {"limit", required_argument, NULL, 'l'}};
    s_neighbors_opts_t o = {0, 0};
    int rc = s_parse (ctx, argc, argv, "T:l:", extra, 2, &agent, s_neighbors_option, &o);
    if (rc >= 0)
        return rc;
    int n = argc - optind;
    if (n < 1)
        return memctl_usage_error (ctx, "missing ID");
    if (n > PAGE)
        return memctl_usage_error (ctx, "at most %d ids", PAGE);
    uint64_t *ids = calloc ((size_t) n, sizeof *ids);
    if (!ids)
        return memctl_fail (ctx, MEMD__V1__CODE__RESOURCE_EXHAUSTED, "out of memory");
    if ((rc = memctl_parse_ids (ctx, n, argv + optind, ids)) >= 0 || (rc = memctl_connect (ctx)) >= 0) {
        free (ids);
        return rc;
    }
    Memd__V1__Reply *reply = memd_client_neighbors (ctx->client, agent, ids, (size_t) n,
                                                    (Memd__V1__EdgeType) o.type,
                                                    (uint32_t) o.limit);
    if (!reply) {
        free (ids);
        return memctl_fail_client (ctx);
    }
    const Memd__V1__NeighborsResult *r = reply->neighbors;
    if (ctx->json) {
        json_t *edges = json_array (), *nodes = json_array ();
        for (size_t i = 0; i < r->n_edges; i++)
            json_array_append_new (
                edges, json_pack ("{s:o, s:o, s:s, s:f}", "src", memctl_json_u64 (r->edges[i]->src),
                                  "dst", memctl_json_u64 (r->edges[i]->dst), "type",
                                  s_type_name (r->edges[i]->type), "weight",
                                  (double) r->edges[i]->weight));
        for (size_t i = 0; i < r->n_nodes; i++)
            json_array_append_new (nodes, s_json_node (r->nodes[i]));
        memctl_json_print (json_pack ("{s:o, s:o, s:o, s:o}", "edges", edges, "nodes", nodes,
                                      "missing", memctl_json_ids (r->missing, r->n_missing),
                                      "generation", memctl_json_u64 (r->generation)));
    }
    else {
        uint64_t *all = calloc (r->n_nodes ? r->n_nodes : 1, sizeof *all);
        for (size_t i = 0; all && i < r->n_nodes; i++)
            all[i] = r->nodes[i]->id;
        Memd__V1__Reply **texts = all ? s_get_texts (ctx, agent, all, r->n_nodes) : NULL;
        for (int q = 0; q < n; q++) {
            const Memd__V1__GraphNode *self = s_node (r, ids[q]);
            if (!self)
                continue;
            printf ("#%llu  community #%llu  pagerank %.5f  ", (unsigned long long) self->id,
                    (unsigned long long) self->community, self->pagerank);
            s_print_text (s_find_text (texts, self->id));
            putchar ('\n');
            for (size_t i = 0; i < r->n_edges; i++) {
                const Memd__V1__GraphEdge *e = r->edges[i];
                if (e->src != ids[q] && e->dst != ids[q])
                    continue;
                bool out = e->src == ids[q];
                uint64_t other = out ? e->dst : e->src;
                printf ("  %s #%-8llu %-9s %.3f  ", out ? "->" : "<-", (unsigned long long) other,
                        s_type_name (e->type), e->weight);
                s_print_text (s_find_text (texts, other));
                putchar ('\n');
            }
        }
        s_free_texts (&texts);
        free (all);
        if (r->n_missing)
            fprintf (stderr, "memctl: %s\n", memd_client_error (ctx->client));
    }
    rc = r->n_missing ? EXIT_REFUSED : 0;
    memd_client_reply_free (&reply);
    free (ids);
    return rc;
}

//  --------------------------------------------------------------------------
//  community

typedef struct {
    uint64_t community, limit;
} s_community_opts_t;

static int
s_community_option (ctx_t *ctx, int c, void *arg)
{
    s_community_opts_t *o = arg;
    if (c == 'c') {
        if (memctl_parse_id (optarg, &o->community))
            return memctl_usage_error (ctx, "--community wants an id, not '%s'", optarg);
    }
    else if (c == 'l') {
        if (memctl_parse_u64 (optarg, &o->limit) || o->limit == 0)
            return memctl_usage_error (ctx, "--limit wants a number, not '%s'", optarg);
    }
    else
        return -2;
    return -1;
}

static int
s_rank_cmp (const void *a, const void *b)
{
    const Memd__V1__GraphNode *x = *(Memd__V1__GraphNode *const *) a;
    const Memd__V1__GraphNode *y = *(Memd__V1__GraphNode *const *) b;
    if (x->pagerank != y->pagerank)
        return x->pagerank > y->pagerank ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

//  Every page of a community (or, with id = community = 0, of the whole
//  graph): the replies, NULL-terminated, and the members in *nodes.
static Memd__V1__Reply **
s_pages (ctx_t *ctx, const char *agent, uint64_t id, uint64_t community,
         Memd__V1__GraphNode ***nodes, size_t *n)
{
    Memd__V1__Reply **pages = NULL;
    size_t n_pages = 0;
    uint64_t after = 0;
    *nodes = NULL;
    *n = 0;
    for (bool more = true; more;) {
        Memd__V1__Reply *reply = memd_client_community (ctx->client, agent, id, community, after,
                                                        PAGE);
        if (!reply)
            break;
        Memd__V1__Reply **grown = realloc (pages, (n_pages + 2) * sizeof *grown);
        Memd__V1__GraphNode **more_nodes
            = realloc (*nodes, (*n + reply->community->n_members + 1) * sizeof **nodes);
        if (!grown || !more_nodes) {
            free (grown ? grown : pages);
            free (more_nodes ? more_nodes : *nodes);
            memd_client_reply_free (&reply);
            *nodes = NULL;
            return NULL;
        }
        pages = grown;
        *nodes = more_nodes;
        pages[n_pages++] = reply;
        pages[n_pages] = NULL;
        const Memd__V1__CommunityResult *r = reply->community;
        for (size_t i = 0; i < r->n_members; i++)
            (*nodes)[(*n)++] = r->members[i];
        more = r->more;
        id = 0;   //  after the first page: the community by its id
        community = r->community;
        if (r->n_members)
            after = r->members[r->n_members - 1]->id;
        else
            more = false;
    }
    return pages;
}

static void
s_free_pages (Memd__V1__Reply ***pages_p, Memd__V1__GraphNode ***nodes)
{
    Memd__V1__Reply **pages = *pages_p;
    for (size_t p = 0; pages && pages[p]; p++)
        memd_client_reply_free (&pages[p]);
    free (pages);
    free (*nodes);
    *pages_p = NULL;
    *nodes = NULL;
}

static int
s_graph_community (ctx_t *ctx, int argc, char **argv, const char *agent)
{
    static const struct option extra[] = {{"community", required_argument, NULL, 'c'},
                                          {"limit", required_argument, NULL, 'l'}};
    s_community_opts_t o = {0, 20};
    int rc = s_parse (ctx, argc, argv, "c:l:", extra, 2, &agent, s_community_option, &o);
    if (rc >= 0)
        return rc;
    uint64_t id = 0;
    if (optind < argc && memctl_parse_id (argv[optind++], &id))
        return memctl_usage_error (ctx, "'%s' is not a record id", argv[optind - 1]);
    if (optind < argc)
        return memctl_usage_error (ctx, "unexpected argument '%s'", argv[optind]);
    if ((id == 0) == (o.community == 0))
        return memctl_usage_error (ctx, "give a record ID or --community C");
    if ((rc = memctl_connect (ctx)) >= 0)
        return rc;
    Memd__V1__GraphNode **members;
    size_t n;
    Memd__V1__Reply **pages = s_pages (ctx, agent, id, o.community, &members, &n);
    if (!pages)
        return memctl_fail_client (ctx);
    const Memd__V1__CommunityResult *first = pages[0]->community;
    qsort (members, n, sizeof *members, s_rank_cmp);
    if (ctx->json) {
        json_t *list = json_array ();
        for (size_t i = 0; i < n; i++)
            json_array_append_new (list, json_pack ("{s:o, s:f}", "id",
                                                    memctl_json_u64 (members[i]->id), "pagerank",
                                                    members[i]->pagerank));
        memctl_json_print (json_pack ("{s:o, s:o, s:o, s:o}", "community",
                                      memctl_json_u64 (first->community), "size",
                                      memctl_json_u64 (first->size), "generation",
                                      memctl_json_u64 (first->generation), "members", list));
    }
    else {
        size_t shown = n < o.limit ? n : o.limit;
        uint64_t *ids = calloc (shown ? shown : 1, sizeof *ids);
        for (size_t i = 0; ids && i < shown; i++)
            ids[i] = members[i]->id;
        Memd__V1__Reply **texts = ids && shown ? s_get_texts (ctx, agent, ids, shown) : NULL;
        printf ("community #%llu: %llu live members (generation %llu)%s\n",
                (unsigned long long) first->community, (unsigned long long) first->size,
                (unsigned long long) first->generation,
                shown < n ? ", the most central first:" : "");
        for (size_t i = 0; i < shown; i++) {
            printf ("#%-8llu %.5f  ", (unsigned long long) members[i]->id, members[i]->pagerank);
            s_print_text (s_find_text (texts, members[i]->id));
            putchar ('\n');
        }
        if (shown < n)
            printf ("... and %zu more (--limit N)\n", n - shown);
        s_free_texts (&texts);
        free (ids);
    }
    s_free_pages (&pages, &members);
    return 0;
}

//  --------------------------------------------------------------------------
//  export

typedef struct {
    bool graphml, no_text;
} s_export_opts_t;

static int
s_export_option (ctx_t *ctx, int c, void *arg)
{
    s_export_opts_t *o = arg;
    if (c == 'f') {
        if (strcmp (optarg, "dot") && strcmp (optarg, "graphml"))
            return memctl_usage_error (ctx, "--format is dot or graphml, not '%s'", optarg);
        o->graphml = strcmp (optarg, "graphml") == 0;
    }
    else if (c == 'N')
        o->no_text = true;
    else
        return -2;
    return -1;
}

//  Text for a quoted attribute: XML entities (graphml) or dot escapes,
//  control characters as spaces, cut at max characters (0: whole).
static void
s_print_escaped (const char *text, bool xml, size_t max)
{
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *) text; *p; p++) {
        if ((*p & 0xC0) != 0x80 && max && chars++ == max) {
            fputs ("...", stdout);
            return;
        }
        if (*p < 0x20 || *p == 0x7f)
            putchar (' ');
        else if (xml && *p == '<')
            fputs ("&lt;", stdout);
        else if (xml && *p == '>')
            fputs ("&gt;", stdout);
        else if (xml && *p == '&')
            fputs ("&amp;", stdout);
        else if (xml && *p == '"')
            fputs ("&quot;", stdout);
        else if (!xml && (*p == '"' || *p == '\\')) {
            putchar ('\\');
            putchar (*p);
        }
        else
            putchar (*p);
    }
}

static void
s_export_node (const Memd__V1__GraphNode *node, const Memd__V1__Record *rec, bool graphml)
{
    if (graphml) {
        printf ("    <node id=\"n%llu\"><data key=\"community\">%llu</data>"
                "<data key=\"pagerank\">%.8f</data>",
                (unsigned long long) node->id, (unsigned long long) node->community,
                node->pagerank);
        if (rec) {
            printf ("<data key=\"text\">");
            s_print_escaped (rec->text, true, 0);
            printf ("</data>");
        }
        printf ("</node>\n");
        return;
    }
    printf ("  \"%llu\" [label=\"#%llu", (unsigned long long) node->id,
            (unsigned long long) node->id);
    if (rec) {
        printf ("\\n");
        s_print_escaped (rec->text, false, TEXT_DOT);
    }
    //  A colour per community, from a 12-colour scheme.
    printf ("\", community=%llu, pagerank=%.8f, fillcolor=%llu];\n",
            (unsigned long long) node->community, node->pagerank,
            (unsigned long long) (node->community % 12) + 1);
}

static int
s_graph_export (ctx_t *ctx, int argc, char **argv, const char *agent)
{
    static const struct option extra[] = {{"format", required_argument, NULL, 'f'},
                                          {"no-text", no_argument, NULL, 'N'}};
    s_export_opts_t o = {false, false};
    int rc = s_parse (ctx, argc, argv, "f:N", extra, 2, &agent, s_export_option, &o);
    if (rc >= 0)
        return rc;
    if (optind < argc)
        return memctl_usage_error (ctx, "unexpected argument '%s'", argv[optind]);
    if ((rc = memctl_connect (ctx)) >= 0)
        return rc;
    Memd__V1__GraphNode **nodes;
    size_t n;
    Memd__V1__Reply **pages = s_pages (ctx, agent, 0, 0, &nodes, &n);
    if (!pages)
        return memctl_fail_client (ctx);
    if (o.graphml)
        printf ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                "<graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\">\n"
                "  <key id=\"community\" for=\"node\" attr.name=\"community\" attr.type=\"long\"/>\n"
                "  <key id=\"pagerank\" for=\"node\" attr.name=\"pagerank\" attr.type=\"double\"/>\n"
                "  <key id=\"text\" for=\"node\" attr.name=\"text\" attr.type=\"string\"/>\n"
                "  <key id=\"type\" for=\"edge\" attr.name=\"type\" attr.type=\"string\"/>\n"
                "  <key id=\"weight\" for=\"edge\" attr.name=\"weight\" attr.type=\"double\"/>\n"
                "  <graph id=\"memd\" edgedefault=\"directed\">\n");
    else
        printf ("digraph memd {\n  // agent %s, generation %llu: %zu nodes\n"
                "  node [shape=box, style=filled, colorscheme=set312];\n",
                agent, (unsigned long long) pages[0]->community->generation, n);
    //  Nodes and edges a page at a time: an edge is printed with the page
    //  of its source, once.
    for (size_t start = 0; start < n && rc < 0; start += PAGE) {
        size_t count = n - start < PAGE ? n - start : PAGE;
        uint64_t *ids = calloc (count, sizeof *ids);
        if (!ids) {
            rc = memctl_fail (ctx, MEMD__V1__CODE__RESOURCE_EXHAUSTED, "out of memory");
            break;
        }
        for (size_t i = 0; i < count; i++)
            ids[i] = nodes[start + i]->id;
        Memd__V1__Reply **texts = o.no_text ? NULL : s_get_texts (ctx, agent, ids, count);
        for (size_t i = 0; i < count; i++)
            s_export_node (nodes[start + i], s_find_text (texts, ids[i]), o.graphml);
        s_free_texts (&texts);
        Memd__V1__Reply *reply = memd_client_neighbors (ctx->client, agent, ids, count, 0, PAGE);
        if (!reply)
            rc = memctl_fail_client (ctx);
        for (size_t e = 0; reply && e < reply->neighbors->n_edges; e++) {
            const Memd__V1__GraphEdge *edge = reply->neighbors->edges[e];
            bool mine = false, first = true;
            for (size_t i = 0; i < count; i++)
                mine = mine || ids[i] == edge->src;
            for (size_t f = 0; f < e && mine && first; f++) {
                const Memd__V1__GraphEdge *before = reply->neighbors->edges[f];
                first = !(before->src == edge->src && before->dst == edge->dst
                          && before->type == edge->type);
            }
            if (!mine || !first)
                continue;
            if (o.graphml)
                printf ("    <edge source=\"n%llu\" target=\"n%llu\"><data key=\"type\">%s</data>"
                        "<data key=\"weight\">%.4f</data></edge>\n",
                        (unsigned long long) edge->src, (unsigned long long) edge->dst,
                        s_type_name (edge->type), edge->weight);
            else
                printf ("  \"%llu\" -> \"%llu\" [type=%s, strength=%.4f];\n",
                        (unsigned long long) edge->src, (unsigned long long) edge->dst,
                        s_type_name (edge->type), edge->weight);
        }
        memd_client_reply_free (&reply);
        free (ids);
    }
    printf (o.graphml ? "  </graph>\n</graphml>\n" : "}\n");
    s_free_pages (&pages, &nodes);
    return rc < 0 ? 0 : rc;
}

//  --------------------------------------------------------------------------
//  memctl graph

int
memctl_cmd_graph (ctx_t *ctx, int argc, char **argv)
{
    static const char *subcommands[] = {"stats", "neighbors", "community", "export"};
    //  Options before the subcommand (--agent, the common ones).
    const char *agent = "default";
    static const struct option options[] = {
        COMMON_LONG, {"agent", required_argument, NULL, 'a'}, {NULL, 0, NULL, 0}};
    int c, rc = -1;
    while (rc < 0 && (c = getopt_long (argc, argv, "+" COMMON_SHORT "a:", options, NULL)) != -1) {
        if (c == 'a')
            agent = optarg;
        else
            rc = memctl_common_option (ctx, c, argv);
    }
    if (rc >= 0)
        return rc;
    if (!*agent)
        return memctl_usage_error (ctx, "--agent is empty");
    if (optind >= argc)
        return memctl_usage_error (ctx, "missing SUBCOMMAND (stats, neighbors, community, export)");
    if (strcmp (argv[optind], "help") == 0) {
        fputs (memctl_graph_usage, stdout);
        return 0;
    }
    size_t i = 0;
    while (i < sizeof subcommands / sizeof subcommands[0] && strcmp (subcommands[i], argv[optind]))
        i++;
    if (i == sizeof subcommands / sizeof subcommands[0])
        return memctl_usage_error (ctx, "unknown subcommand '%s'", argv[optind]);
    argc -= optind;
    argv += optind;
    optind = 0;
    switch (i) {
    case 0:
        return s_graph_stats (ctx, argc, argv, agent);
    case 1:
        return s_graph_neighbors (ctx, argc, argv, agent);
    case 2:
        return s_graph_community (ctx, argc, argv, agent);
    default:
        return s_graph_export (ctx, argc, argv, agent);
    }
}
