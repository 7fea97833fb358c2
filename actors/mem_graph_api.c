/*  mem_graph_api — replies to GraphStats, Neighbors and Community, read
    from the store in the caller's read transaction (docs/graph.md).

    The graph actor is never asked: whatever it is doing, these see the
    last persisted generation, whole (a build writes another slot and flips
    at the end). Only live records appear, by mem_records' definition: a
    record forgotten since the last build is skipped here at once.
*/
#include "mem_actors.h"
#include "mem_graph_store.h"
#include "mem_records.h"

#define NEIGHBORS_DEFAULT 100
#define MEMBERS_DEFAULT   1000
#define COUNT_BATCH       4096

//  The reply frame around a result (or an error when rc is set).
static zframe_t *
s_reply (const Memd__V1__Request *req, int rc, int result_case, void *result)
{
    if (rc)
        return mem_codec_error_reply (req->request_id, mem_code_from_store (rc),
                                      "cannot read the graph: %s",
                                      rc == ENOMEM ? "out of memory" : mdb_strerror (rc));
    Memd__V1__Status status = MEMD__V1__STATUS__INIT;
    Memd__V1__Reply reply = MEMD__V1__REPLY__INIT;
    reply.request_id = req->request_id;
    reply.status = &status;
    reply.result_case = result_case;
    if (result_case == MEMD__V1__REPLY__RESULT_GRAPH_STATS)
        reply.graph_stats = result;
    else if (result_case == MEMD__V1__REPLY__RESULT_NEIGHBORS)
        reply.neighbors = result;
    else
        reply.community = result;
    return mem_codec_pack (&reply.base);
}

//  True when id is a live record of agent.
static bool
s_live (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint64_t id)
{
    mem_docmeta_t meta;
    return mem_records_docmeta (store, txn, id, &meta) == 0 && meta.agent == agent
        && !(meta.flags & MEM_DOC_TOMBSTONED);
}

//  An agent's figures, as GraphStats and the status totals show them.
static int
s_agent_stats (mem_store_t *store, MDB_txn *txn, uint32_t agent, const mem_graph_meta_t *meta,
               Memd__V1__GraphStatsResult *r)
{
    mem_agent_stats_t stats = {0};
    int rc = mem_index_stats (store, txn, agent, &stats);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    r->generation += meta->generation;
    r->nodes += stats.docs;
    r->edges += meta->edges + meta->edges_added;
    r->communities += meta->communities + meta->communities_added;
    if (meta->built_at_ms > r->built_at_ms) {
        r->built_at_ms = meta->built_at_ms;
        r->build_ms = meta->build_ms;
    }
    r->changes += mem_graph_changes (meta, stats.docs);
    r->nodes_built += meta->nodes;
    r->edges_built += meta->edges;
    return 0;
}

zframe_t *
mem_graph_stats_reply (mem_context_t *ctx, MDB_txn *txn, const Memd__V1__Request *req,
                       bool building, const char *last_error)
{
    mem_store_t *store = ctx->store;
    Memd__V1__GraphStatsResult r = MEMD__V1__GRAPH_STATS_RESULT__INIT;
    r.building = building;
    r.last_error = (char *) last_error;
    r.agent_id = req->agent_id;
    r.unlinked = mem_graph_unlinked (store, txn);
    uint32_t agent;
    int rc = mem_agents_lookup (store, txn, req->agent_id, false, &agent);
    if (rc == MDB_NOTFOUND)
        return s_reply (req, 0, MEMD__V1__REPLY__RESULT_GRAPH_STATS, &r);   //  nothing yet
    mem_graph_meta_t meta;
    if (!rc)
        rc = mem_graph_meta_get (store, txn, agent, &meta);
    if (!rc)
        rc = s_agent_stats (store, txn, agent, &meta, &r);
    r.modularity = meta.modularity;
    size_t want = meta.generation ? req->graph_stats->top : 0, n = 0;
    mem_graph_community_t *top = calloc (want ? want : 1, sizeof *top);
    Memd__V1__CommunityInfo *infos = calloc (want ? want : 1, sizeof *infos);
    Memd__V1__CommunityInfo **ptrs = calloc (want ? want : 1, sizeof *ptrs);
    if (!rc && (!top || !infos || !ptrs))
        rc = ENOMEM;
    if (!rc && want)
        rc = mem_graph_top_communities (store, txn, agent, meta.slot, want, top, &n);
    for (size_t i = 0; i < n; i++) {
        memd__v1__community_info__init (&infos[i]);
        infos[i].id = top[i].id;
        infos[i].size = top[i].size;
        ptrs[i] = &infos[i];
    }
    r.top = ptrs;
    r.n_top = n;
    zframe_t *reply = s_reply (req, rc, MEMD__V1__REPLY__RESULT_GRAPH_STATS, &r);
    free (top);
    free (infos);
    free (ptrs);
    return reply;
}

typedef struct {
    mem_store_t *store;
    MDB_txn *txn;
    Memd__V1__GraphStatsResult *r;
} s_totals_t;

static int
s_totals_one (uint32_t agent, const mem_graph_meta_t *meta, void *arg)
{
    s_totals_t *t = arg;
    return s_agent_stats (t->store, t->txn, agent, meta, t->r);
}

int
mem_graph_totals (mem_context_t *ctx, MDB_txn *txn, Memd__V1__GraphStatsResult *totals)
{
    s_totals_t t = {ctx->store, txn, totals};
    totals->unlinked = mem_graph_unlinked (ctx->store, txn);
    return mem_graph_meta_each (ctx->store, txn, s_totals_one, &t);
}

//  --------------------------------------------------------------------------
//  Neighbors

typedef struct {
    mem_store_t *store;
    MDB_txn *txn;
    uint32_t agent;
    Memd__V1__EdgeType type;
    uint64_t id;
    size_t limit, taken;
    Memd__V1__GraphEdge *edges;
    size_t n_edges, cap_edges;
    uint64_t *nodes;             //  every record named or reached (sorted later)
    size_t n_nodes, cap_nodes;
} s_neighbors_t;

static bool
s_grow (void **buf, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t cap2 = *cap ? *cap * 2 : 256;
    while (cap2 < need)
        cap2 *= 2;
    void *grown = realloc (*buf, cap2 * elem);
    if (!grown)
        return false;
    *buf = grown;
    *cap = cap2;
    return true;
}

static int
s_add_node (s_neighbors_t *nb, uint64_t id)
{
    if (!s_grow ((void **) &nb->nodes, &nb->cap_nodes, nb->n_nodes + 1, sizeof *nb->nodes))
        return ENOMEM;
    nb->nodes[nb->n_nodes++] = id;
    return 0;
}

//  One edge of nb->id: kept when the other end is live and it fits.
static int
s_neighbor_edge (const mem_edge_t *edge, void *arg)
{
    s_neighbors_t *nb = arg;
    if (nb->taken == nb->limit)
        return MDB_NOTFOUND;   //  enough for this record (stops the walk, not an error)
    if (nb->type && (int) edge->type != (int) nb->type)
        return 0;
    uint64_t other = edge->src == nb->id ? edge->dst : edge->src;
    if (other == nb->id || !s_live (nb->store, nb->txn, nb->agent, other))
        return 0;
    if (!s_grow ((void **) &nb->edges, &nb->cap_edges, nb->n_edges + 1, sizeof *nb->edges))
        return ENOMEM;
    Memd__V1__GraphEdge *e = &nb->edges[nb->n_edges++];
    memd__v1__graph_edge__init (e);
    e->src = edge->src;
    e->dst = edge->dst;
    e->type = (Memd__V1__EdgeType) edge->type;
    e->weight = edge->weight;
    nb->taken++;
    return s_add_node (nb, other);
}

static int
s_u64_cmp (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

zframe_t *
mem_graph_neighbors_reply (mem_context_t *ctx, MDB_txn *txn, const Memd__V1__Request *req)
{
    const Memd__V1__Neighbors *q = req->neighbors;
    s_neighbors_t nb = {.store = ctx->store, .txn = txn, .type = q->type,
                        .limit = q->limit ? q->limit : NEIGHBORS_DEFAULT};
    Memd__V1__NeighborsResult r = MEMD__V1__NEIGHBORS_RESULT__INIT;
    uint64_t *missing = calloc (q->n_ids ? q->n_ids : 1, sizeof *missing);
    Memd__V1__GraphNode *nodes = NULL, **node_ptrs = NULL;
    Memd__V1__GraphEdge **edge_ptrs = NULL;
    int rc = missing ? mem_agents_lookup (ctx->store, txn, req->agent_id, false, &nb.agent)
                     : ENOMEM;
    bool known = rc == 0;
    if (rc == MDB_NOTFOUND)
        rc = 0;
    mem_graph_meta_t meta = {0};
    if (known && !rc)
        rc = mem_graph_meta_get (ctx->store, txn, nb.agent, &meta);
    for (size_t i = 0; i < q->n_ids && !rc; i++) {
        if (!known || !s_live (ctx->store, txn, nb.agent, q->ids[i])) {
            missing[r.n_missing++] = q->ids[i];
            continue;
        }
        nb.id = q->ids[i];
        nb.taken = 0;
        if ((rc = s_add_node (&nb, nb.id)))
            break;
        rc = mem_edges_each (ctx->store, txn, nb.id, true, 0, s_neighbor_edge, &nb);
        if (!rc)
            rc = mem_edges_each (ctx->store, txn, nb.id, false, 0, s_neighbor_edge, &nb);
    }
    //  Each record once, with its community and PageRank.
    size_t n_nodes = 0;
    if (!rc && nb.n_nodes) {
        qsort (nb.nodes, nb.n_nodes, sizeof *nb.nodes, s_u64_cmp);
        nodes = calloc (nb.n_nodes, sizeof *nodes);
        node_ptrs = calloc (nb.n_nodes, sizeof *node_ptrs);
        if (!nodes || !node_ptrs)
            rc = ENOMEM;
        for (size_t i = 0; i < nb.n_nodes && !rc; i++) {
            if (i && nb.nodes[i] == nb.nodes[i - 1])
                continue;
            Memd__V1__GraphNode *node = &nodes[n_nodes];
            memd__v1__graph_node__init (node);
            node->id = nb.nodes[i];
            mem_graph_node_t row;
            rc = mem_graph_node_get (ctx->store, txn, nb.agent, meta.slot, node->id, &row);
            if (rc == 0) {
                node->community = row.community;
                node->pagerank = row.pagerank;
            }
            else if (rc == MDB_NOTFOUND)
                rc = 0;   //  not linked yet
            node_ptrs[n_nodes++] = node;
        }
    }
    if (!rc && nb.n_edges) {
        edge_ptrs = calloc (nb.n_edges, sizeof *edge_ptrs);
        if (!edge_ptrs)
            rc = ENOMEM;
        for (size_t i = 0; i < nb.n_edges && !rc; i++)
            edge_ptrs[i] = &nb.edges[i];
    }
    r.edges = edge_ptrs;
    r.n_edges = nb.n_edges;
    r.nodes = node_ptrs;
    r.n_nodes = n_nodes;
    r.missing = missing;
    r.generation = meta.generation;
    zframe_t *reply;
    if (!rc && r.n_missing) {
        //  As Get: NOT_FOUND, with the result for the records found.
        Memd__V1__Status status = MEMD__V1__STATUS__INIT;
        char message[128];
        snprintf (message, sizeof message, "%zu of %zu records not found for agent %s",
                  r.n_missing, q->n_ids, req->agent_id);
        status.code = MEM_NOT_FOUND;
        status.message = message;
        Memd__V1__Reply msg = MEMD__V1__REPLY__INIT;
        msg.request_id = req->request_id;
        msg.status = &status;
        msg.result_case = MEMD__V1__REPLY__RESULT_NEIGHBORS;
        msg.neighbors = &r;
        reply = mem_codec_pack (&msg.base);
    }
    else
        reply = s_reply (req, rc, MEMD__V1__REPLY__RESULT_NEIGHBORS, &r);
    free (missing);
    free (nodes);
    free (node_ptrs);
    free (edge_ptrs);
    free (nb.edges);
    free (nb.nodes);
    return reply;
}

//  --------------------------------------------------------------------------
//  Community

//  Live members of a community, counted (its stored size lags forgets).
static int
s_count_live (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint8_t slot, uint64_t community,
              uint64_t *live)
{
    uint64_t *ids = malloc (COUNT_BATCH * sizeof *ids), after = 0;
    if (!ids)
        return ENOMEM;
    int rc = 0;
    bool more = true;
    *live = 0;
    while (more && !rc) {
        size_t n;
        rc = mem_graph_members (store, txn, agent, slot, community, after, COUNT_BATCH, ids, &n,
                                &more);
        for (size_t i = 0; i < n && !rc; i++)
            *live += s_live (store, txn, agent, ids[i]);
        if (n)
            after = ids[n - 1];
    }
    free (ids);
    return rc;
}

zframe_t *
mem_graph_community_reply (mem_context_t *ctx, MDB_txn *txn, const Memd__V1__Request *req)
{
    const Memd__V1__Community *q = req->community;
    mem_store_t *store = ctx->store;
    uint32_t agent;
    int rc = mem_agents_lookup (store, txn, req->agent_id, false, &agent);
    if (rc == MDB_NOTFOUND && q->all) {
        Memd__V1__CommunityResult empty = MEMD__V1__COMMUNITY_RESULT__INIT;
        return s_reply (req, 0, MEMD__V1__REPLY__RESULT_COMMUNITY, &empty);
    }
    if (rc == MDB_NOTFOUND || (!rc && q->id && !s_live (store, txn, agent, q->id)))
        return mem_codec_error_reply (req->request_id, MEM_NOT_FOUND,
                                      "record %llu is not a live record of agent %s",
                                      (unsigned long long) q->id, req->agent_id);
    mem_graph_meta_t meta;
    if (!rc)
        rc = mem_graph_meta_get (store, txn, agent, &meta);
    uint64_t community = q->all ? 0 : q->community;
    if (!rc && q->id) {
        mem_graph_node_t node = {0};
        rc = mem_graph_node_get (store, txn, agent, meta.slot, q->id, &node);
        if (rc == MDB_NOTFOUND || (!rc && !node.community))
            return mem_codec_error_reply (req->request_id, MEM_NOT_FOUND,
                                          "record %llu has no community yet (no graph build "
                                          "since it was linked)",
                                          (unsigned long long) q->id);
        community = node.community;
    }
    size_t limit = q->limit ? q->limit : MEMBERS_DEFAULT, n = 0, n_out = 0;
    uint64_t *ids = rc ? NULL : malloc (limit * sizeof *ids);
    Memd__V1__GraphNode *nodes = rc ? NULL : calloc (limit, sizeof *nodes);
    Memd__V1__GraphNode **ptrs = rc ? NULL : calloc (limit, sizeof *ptrs);
    if (!rc && (!ids || !nodes || !ptrs))
        rc = ENOMEM;
    Memd__V1__CommunityResult r = MEMD__V1__COMMUNITY_RESULT__INIT;
    r.community = community;
    r.generation = meta.generation;
    //  Pages of live members: forgotten ones are skipped, so read on until
    //  the page is full or nothing is left.
    bool more = true;
    for (uint64_t after = q->after_id; !rc && more && n_out < limit;) {
        if (q->all)
            rc = mem_graph_slot_nodes (store, txn, agent, meta.slot, after, limit - n_out, ids,
                                       &n, &more);
        else
            rc = mem_graph_members (store, txn, agent, meta.slot, community, after,
                                    limit - n_out, ids, &n, &more);
        for (size_t i = 0; i < n && !rc; i++) {
            after = ids[i];
            if (!s_live (store, txn, agent, ids[i]))
                continue;
            Memd__V1__GraphNode *node = &nodes[n_out];
            memd__v1__graph_node__init (node);
            node->id = ids[i];
            mem_graph_node_t row;
            if ((rc = mem_graph_node_get (store, txn, agent, meta.slot, ids[i], &row)) == 0) {
                node->pagerank = row.pagerank;
                node->community = row.community;
            }
            ptrs[n_out++] = node;
        }
        if (n == 0)
            more = false;
    }
    r.more = more;
    mem_agent_stats_t stats = {0};
    if (!rc && q->all) {
        rc = mem_index_stats (store, txn, agent, &stats);
        rc = rc == MDB_NOTFOUND ? 0 : rc;
        r.size = stats.docs;
    }
    else if (!rc)
        rc = s_count_live (store, txn, agent, meta.slot, community, &r.size);
    zframe_t *reply;
    if (!rc && r.size == 0 && !q->all)
        reply = mem_codec_error_reply (req->request_id, MEM_NOT_FOUND,
                                       "no community %llu with live members for agent %s",
                                       (unsigned long long) community, req->agent_id);
    else {
        r.members = ptrs;
        r.n_members = n_out;
        reply = s_reply (req, rc, MEMD__V1__REPLY__RESULT_COMMUNITY, &r);
    }
    free (ids);
    free (nodes);
    free (ptrs);
    return reply;
}
