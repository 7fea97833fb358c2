/*  mem_graph_store — the persisted graph; see mem_graph_store.h. */
#include "mem_graph_store.h"
#include "mem_records.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NODE_KEY    13      //  agent (u32 BE) + slot (u8) + id (u64 BE)
#define COMM_KEY    13      //  agent + slot + community (u64 BE)
#define MEMBER_KEY  21      //  agent + slot + community + id

float
mem_graph_type_weight (mem_edge_type_t type)
{
    //  A session's sequence and shared words are what memories are made of;
    //  a digest ties its members together more loosely (it is about all of
    //  them), and co-recall is a weaker hint than content.
    switch (type) {
    case MEM_EDGE_TEMPORAL: return 1.0f;
    case MEM_EDGE_LEXICAL: return 1.0f;
    case MEM_EDGE_SEMANTIC: return 1.0f;
    case MEM_EDGE_DERIVED: return 0.5f;
    case MEM_EDGE_DUPLICATE: return 1.0f;
    case MEM_EDGE_CO_RECALL: return 0.5f;
    default: return 0.0f;
    }
}

float
mem_graph_edge_weight (const mem_edge_t *edge)
{
    float w = edge->weight;
    if (!(w > 0))
        return 0.0f;   //  NaN and non-positive weights carry nothing
    if (edge->type == MEM_EDGE_CO_RECALL)
        w = w / (w + 1.0f);
    else if (w > 1.0f)
        w = 1.0f;
    return mem_graph_type_weight (edge->type) * w;
}

static void
s_agent_key (uint8_t *k, uint32_t agent)
{
    mem_put_u32be (k, agent);
}

//  agent + slot + a (+ b): the layout of nodes, communities and members.
static void
s_key (uint8_t *k, uint32_t agent, uint8_t slot, uint64_t a, uint64_t b)
{
    mem_put_u32be (k, agent);
    k[4] = slot;
    mem_put_u64be (k + 5, a);
    mem_put_u64be (k + 13, b);
}

int
mem_graph_meta_get (mem_store_t *store, MDB_txn *txn, uint32_t agent, mem_graph_meta_t *meta)
{
    uint8_t k[4];
    s_agent_key (k, agent);
    MDB_val key = {4, k}, val;
    memset (meta, 0, sizeof *meta);
    int rc = MEM_MDB (mdb_get (txn, mem_store_dbi (store, MEM_DB_GRAPH), &key, &val));
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (val.mv_size != sizeof *meta)
        return MDB_CORRUPTED;
    memcpy (meta, val.mv_data, sizeof *meta);
    return 0;
}

int
mem_graph_meta_put (mem_store_t *store, MDB_txn *txn, uint32_t agent, const mem_graph_meta_t *meta)
{
    uint8_t k[4];
    s_agent_key (k, agent);
    MDB_val key = {4, k}, val = {sizeof *meta, (void *) meta};
    return MEM_MDB (mdb_put (txn, mem_store_dbi (store, MEM_DB_GRAPH), &key, &val, 0));
}

int
mem_graph_meta_each (mem_store_t *store, MDB_txn *txn, mem_graph_meta_fn *fn, void *arg)
{
    MDB_cursor *cursor;
    int rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, MEM_DB_GRAPH), &cursor));
    if (rc)
        return rc;
    MDB_val key, val;
    while ((rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT)) == 0) {
        mem_graph_meta_t meta;
        if (key.mv_size != 4 || val.mv_size != sizeof meta) {
            rc = MDB_CORRUPTED;
            break;
        }
        memcpy (&meta, val.mv_data, sizeof meta);
        if ((rc = fn (mem_get_u32be (key.mv_data), &meta, arg)))
            break;
    }
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

uint64_t
mem_graph_changes (const mem_graph_meta_t *meta, uint64_t live_now)
{
    //  Live records now, against the build's plus those linked since: the
    //  difference is what was forgotten or merged (or, if negative, records
    //  not linked yet, which the linker counts when it gets to them).
    uint64_t expected = meta->nodes + meta->added;
    uint64_t removed = expected > live_now ? expected - live_now : 0;
    return meta->added + removed + meta->edges_added;
}

int
mem_graph_node_get (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint8_t slot, uint64_t id,
                    mem_graph_node_t *node)
{
    uint8_t k[MEMBER_KEY];
    s_key (k, agent, slot, id, 0);
    MDB_val key = {NODE_KEY, k}, val;
    int rc = MEM_MDB (mdb_get (txn, mem_store_dbi (store, MEM_DB_GRAPH_NODES), &key, &val));
    if (rc)
        return rc;
    if (val.mv_size != sizeof *node)
        return MDB_CORRUPTED;
    memcpy (node, val.mv_data, sizeof *node);
    return 0;
}

int
mem_graph_community_size (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint8_t slot,
                          uint64_t community, uint64_t *size)
{
    uint8_t k[MEMBER_KEY];
    s_key (k, agent, slot, community, 0);
    MDB_val key = {COMM_KEY, k}, val;
    *size = 0;
    int rc = MEM_MDB (mdb_get (txn, mem_store_dbi (store, MEM_DB_GRAPH_COMMS), &key, &val));
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (val.mv_size != sizeof *size)
        return MDB_CORRUPTED;
    memcpy (size, val.mv_data, sizeof *size);
    return 0;
}

int
mem_graph_community_put (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint8_t slot,
                         uint64_t community, uint64_t size)
{
    uint8_t k[MEMBER_KEY];
    s_key (k, agent, slot, community, 0);
    MDB_val key = {COMM_KEY, k}, val = {sizeof size, &size};
    MDB_dbi dbi = mem_store_dbi (store, MEM_DB_GRAPH_COMMS);
    if (size == 0) {
        int rc = MEM_MDB (mdb_del (txn, dbi, &key, NULL));
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    return MEM_MDB (mdb_put (txn, dbi, &key, &val, 0));
}

//  Adds delta to a community's size (removing the row at 0).
static int
s_community_add (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint8_t slot,
                 uint64_t community, int64_t delta)
{
    uint64_t size;
    int rc = mem_graph_community_size (store, txn, agent, slot, community, &size);
    if (rc)
        return rc;
    if (delta < 0 && size < (uint64_t) -delta)
        size = 0;
    else
        size += (uint64_t) delta;
    return mem_graph_community_put (store, txn, agent, slot, community, size);
}

//  Deletes a member row; *gone tells whether it was there.
static int
s_member_del (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint8_t slot, uint64_t community,
              uint64_t id, bool *gone)
{
    uint8_t k[MEMBER_KEY];
    s_key (k, agent, slot, community, id);
    MDB_val key = {MEMBER_KEY, k};
    int rc = MEM_MDB (mdb_del (txn, mem_store_dbi (store, MEM_DB_GRAPH_MEMBERS), &key, NULL));
    *gone = rc == 0;
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int
mem_graph_node_put (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint8_t slot, uint64_t id,
                    const mem_graph_node_t *node)
{
    mem_graph_node_t old;
    int rc = mem_graph_node_get (store, txn, agent, slot, id, &old);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    bool had = rc == 0;
    if (had && old.community && old.community != node->community) {
        bool gone;
        if ((rc = s_member_del (store, txn, agent, slot, old.community, id, &gone)))
            return rc;
        if (gone && (rc = s_community_add (store, txn, agent, slot, old.community, -1)))
            return rc;
    }
    uint8_t k[MEMBER_KEY];
    s_key (k, agent, slot, id, 0);
    MDB_val key = {NODE_KEY, k}, val = {sizeof *node, (void *) node};
    if ((rc = MEM_MDB (mdb_put (txn, mem_store_dbi (store, MEM_DB_GRAPH_NODES), &key, &val, 0))))
        return rc;
    if (!node->community || (had && old.community == node->community))
        return 0;
    s_key (k, agent, slot, node->community, id);
    key = (MDB_val){MEMBER_KEY, k};
    val = (MDB_val){0, NULL};
    rc = MEM_MDB (mdb_put (txn, mem_store_dbi (store, MEM_DB_GRAPH_MEMBERS), &key, &val,
                           MDB_NOOVERWRITE));
    if (rc == MDB_KEYEXIST)
        return 0;
    return rc ? rc : s_community_add (store, txn, agent, slot, node->community, 1);
}

int
mem_graph_slot_put_node (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint8_t slot,
                         uint64_t id, const mem_graph_node_t *node)
{
    uint8_t k[MEMBER_KEY];
    s_key (k, agent, slot, id, 0);
    MDB_val key = {NODE_KEY, k}, val = {sizeof *node, (void *) node};
    return MEM_MDB (mdb_put (txn, mem_store_dbi (store, MEM_DB_GRAPH_NODES), &key, &val, 0));
}

int
mem_graph_slot_put_member (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint8_t slot,
                           uint64_t community, uint64_t id)
{
    uint8_t k[MEMBER_KEY];
    s_key (k, agent, slot, community, id);
    MDB_val key = {MEMBER_KEY, k}, val = {0, NULL};
    return MEM_MDB (mdb_put (txn, mem_store_dbi (store, MEM_DB_GRAPH_MEMBERS), &key, &val, 0));
}

//  Walks keys of db from `from` (klen bytes) while their first `prefix`
//  bytes match; fn gets each key. Stops early when fn returns non-zero.
typedef int(s_key_fn) (const uint8_t *key, size_t len, void *arg);

static int
s_scan (mem_store_t *store, MDB_txn *txn, mem_db_t db, const uint8_t *from, size_t klen,
        size_t prefix, s_key_fn *fn, void *arg)
{
    MDB_cursor *cursor;
    int rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, db), &cursor));
    if (rc)
        return rc;
    MDB_val key = {klen, (void *) from}, val;
    for (rc = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT)) {
        if (key.mv_size < prefix || memcmp (key.mv_data, from, prefix) != 0)
            break;
        if ((rc = fn (key.mv_data, key.mv_size, arg)))
            break;
    }
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

//  Collects the u64 at `at` of each key, above `after`, up to max.
typedef struct {
    size_t at, max, n;
    uint64_t after;
    uint64_t *ids;
    bool more;
} s_collect_t;

static int
s_collect (const uint8_t *key, size_t len, void *arg)
{
    s_collect_t *c = arg;
    if (len < c->at + 8)
        return MDB_CORRUPTED;
    uint64_t id = mem_get_u64be (key + c->at);
    if (id <= c->after)
        return 0;
    if (c->n == c->max) {
        c->more = true;
        return MDB_NOTFOUND;   //  stop: reported as success
    }
    c->ids[c->n++] = id;
    return 0;
}

int
mem_graph_members (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint8_t slot,
                   uint64_t community, uint64_t after_id, size_t max, uint64_t *ids, size_t *n,
                   bool *more)
{
    uint8_t k[MEMBER_KEY];
    s_key (k, agent, slot, community, after_id + 1);
    s_collect_t c = {13, max, 0, after_id, ids, false};
    int rc = after_id == UINT64_MAX ? 0
                                    : s_scan (store, txn, MEM_DB_GRAPH_MEMBERS, k, MEMBER_KEY,
                                              COMM_KEY, s_collect, &c);
    *n = c.n;
    *more = c.more;
    return rc;
}

int
mem_graph_slot_nodes (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint8_t slot,
                      uint64_t after_id, size_t max, uint64_t *ids, size_t *n, bool *more)
{
    uint8_t k[MEMBER_KEY];
    s_key (k, agent, slot, after_id + 1, 0);
    s_collect_t c = {5, max, 0, after_id, ids, false};
    int rc = after_id == UINT64_MAX
               ? 0
               : s_scan (store, txn, MEM_DB_GRAPH_NODES, k, NODE_KEY, 5, s_collect, &c);
    *n = c.n;
    *more = c.more;
    return rc;
}

typedef struct {
    mem_store_t *store;
    MDB_txn *txn;
    mem_graph_community_t *top;
    size_t max, n;
} s_top_t;

//  Keeps the max largest communities, largest first (insertion: max is small).
static int
s_top_one (const uint8_t *key, size_t len, void *arg)
{
    s_top_t *t = arg;
    uint8_t k[COMM_KEY];
    memcpy (k, key, COMM_KEY);
    MDB_val kv = {COMM_KEY, k}, val;
    int rc = MEM_MDB (mdb_get (t->txn, mem_store_dbi (t->store, MEM_DB_GRAPH_COMMS), &kv, &val));
    if (rc)
        return rc;
    uint64_t size = 0;
    if (val.mv_size == sizeof size)
        memcpy (&size, val.mv_data, sizeof size);
    mem_graph_community_t c = {mem_get_u64be (key + 5), size};
    size_t at = t->n;
    while (at > 0 && t->top[at - 1].size < c.size)
        at--;
    if (at >= t->max)
        return 0;
    size_t keep = t->n < t->max ? t->n : t->max - 1;
    memmove (&t->top[at + 1], &t->top[at], (keep - at) * sizeof c);
    t->top[at] = c;
    if (t->n < t->max)
        t->n++;
    return 0;
}

int
mem_graph_top_communities (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint8_t slot,
                           size_t max, mem_graph_community_t *top, size_t *n)
{
    s_top_t t = {store, txn, top, max, 0};
    uint8_t k[MEMBER_KEY];
    s_key (k, agent, slot, 0, 0);
    int rc = max ? s_scan (store, txn, MEM_DB_GRAPH_COMMS, k, COMM_KEY, 5, s_top_one, &t) : 0;
    *n = t.n;
    return rc;
}

//  Deletes keys of db under the 5-byte prefix (agent + slot), up to *left.
static int
s_clear_db (mem_store_t *store, MDB_txn *txn, mem_db_t db, const uint8_t *prefix, size_t *left)
{
    MDB_cursor *cursor;
    int rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, db), &cursor));
    if (rc)
        return rc;
    while (*left > 0) {
        MDB_val key = {5, (void *) prefix}, val;
        rc = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE);
        if (rc || key.mv_size < 5 || memcmp (key.mv_data, prefix, 5) != 0)
            break;
        if ((rc = MEM_MDB (mdb_cursor_del (cursor, 0))))
            break;
        (*left)--;
    }
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int
mem_graph_clear_slot (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint8_t slot, size_t max,
                      bool *done)
{
    uint8_t prefix[5];
    mem_put_u32be (prefix, agent);
    prefix[4] = slot;
    size_t left = max;
    int rc = s_clear_db (store, txn, MEM_DB_GRAPH_MEMBERS, prefix, &left);
    if (!rc)
        rc = s_clear_db (store, txn, MEM_DB_GRAPH_NODES, prefix, &left);
    if (!rc)
        rc = s_clear_db (store, txn, MEM_DB_GRAPH_COMMS, prefix, &left);
    *done = left > 0;
    return rc;
}

int
mem_graph_remove_node (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint64_t id)
{
    for (uint8_t slot = 0; slot < 2; slot++) {
        mem_graph_node_t node;
        int rc = mem_graph_node_get (store, txn, agent, slot, id, &node);
        if (rc == MDB_NOTFOUND)
            continue;
        if (rc)
            return rc;
        if (node.community) {
            bool gone;
            if ((rc = s_member_del (store, txn, agent, slot, node.community, id, &gone)))
                return rc;
            if (gone && (rc = s_community_add (store, txn, agent, slot, node.community, -1)))
                return rc;
        }
        uint8_t k[MEMBER_KEY];
        s_key (k, agent, slot, id, 0);
        MDB_val key = {NODE_KEY, k};
        if ((rc = MEM_MDB (mdb_del (txn, mem_store_dbi (store, MEM_DB_GRAPH_NODES), &key, NULL))))
            return rc;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Verify

typedef struct {
    mem_store_t *store;
    MDB_txn *txn;
    mem_graph_problem_fn *problem;
    void *arg;
    uint64_t nodes;
} s_verify_t;

static void s_problem (s_verify_t *v, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static void
s_problem (s_verify_t *v, const char *fmt, ...)
{
    char text[256];
    va_list args;
    va_start (args, fmt);
    vsnprintf (text, sizeof text, fmt, args);
    va_end (args);
    v->problem (v->arg, text);
}

//  The active slot of an agent (from its meta).
static int
s_active_slot (s_verify_t *v, uint32_t agent, uint8_t *slot)
{
    mem_graph_meta_t meta;
    int rc = mem_graph_meta_get (v->store, v->txn, agent, &meta);
    *slot = meta.slot;
    return rc;
}

//  A node row: its record exists for its agent, and its member row too.
static int
s_verify_node (const uint8_t *key, size_t len, void *arg)
{
    s_verify_t *v = arg;
    uint32_t agent = mem_get_u32be (key);
    uint64_t id = mem_get_u64be (key + 5);
    uint8_t slot;
    int rc = s_active_slot (v, agent, &slot);
    if (rc || key[4] != slot)
        return rc;   //  an unfinished build's slot: the next build clears it
    v->nodes++;
    mem_docmeta_t meta;
    if (mem_records_docmeta (v->store, v->txn, id, &meta) || meta.agent != agent)
        s_problem (v, "graph: node %llu of agent %u is no record of that agent",
                   (unsigned long long) id, agent);
    mem_graph_node_t node;
    if ((rc = mem_graph_node_get (v->store, v->txn, agent, slot, id, &node)))
        return rc;
    if (node.community) {
        uint8_t k[MEMBER_KEY];
        s_key (k, agent, slot, node.community, id);
        MDB_val mk = {MEMBER_KEY, k}, val;
        if (mdb_get (v->txn, mem_store_dbi (v->store, MEM_DB_GRAPH_MEMBERS), &mk, &val))
            s_problem (v, "graph: node %llu is not a member of its community %llu",
                       (unsigned long long) id, (unsigned long long) node.community);
        uint64_t size;
        if ((rc = mem_graph_community_size (v->store, v->txn, agent, slot, node.community, &size)))
            return rc;
        if (size == 0)
            s_problem (v, "graph: community %llu of node %llu has no size",
                       (unsigned long long) node.community, (unsigned long long) id);
    }
    return 0;
}

//  A member row: its node row names the same community.
static int
s_verify_member (const uint8_t *key, size_t len, void *arg)
{
    s_verify_t *v = arg;
    uint32_t agent = mem_get_u32be (key);
    uint8_t slot;
    int rc = s_active_slot (v, agent, &slot);
    if (rc || key[4] != slot)
        return rc;
    uint64_t community = mem_get_u64be (key + 5), id = mem_get_u64be (key + 13);
    mem_graph_node_t node;
    rc = mem_graph_node_get (v->store, v->txn, agent, slot, id, &node);
    if (rc == MDB_NOTFOUND || (!rc && node.community != community))
        s_problem (v, "graph: member %llu of community %llu has no node row there",
                   (unsigned long long) id, (unsigned long long) community);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

//  Every linked live record has a node row in its agent's active slot.
static int
s_verify_linked (s_verify_t *v)
{
    uint64_t linked = mem_store_counter_get (v->txn, v->store, MEM_GRAPH_LINKED);
    if (linked > mem_store_counter_get (v->txn, v->store, "next_id"))
        s_problem (v, "graph: the link cursor %llu is past the last record id",
                   (unsigned long long) linked);
    MDB_cursor *cursor;
    int rc = MEM_MDB (mdb_cursor_open (v->txn, mem_store_dbi (v->store, MEM_DB_DOCMETA), &cursor));
    if (rc)
        return rc;
    MDB_val key, val;
    while ((rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT)) == 0) {
        mem_docmeta_t meta;
        if (key.mv_size != 8 || val.mv_size != sizeof meta)
            continue;   //  mem_verify reports those
        uint64_t id = mem_get_u64be (key.mv_data);
        if (id > linked)
            break;
        memcpy (&meta, val.mv_data, sizeof meta);
        if (meta.flags & MEM_DOC_TOMBSTONED)
            continue;
        uint8_t slot;
        mem_graph_node_t node;
        if ((rc = s_active_slot (v, meta.agent, &slot)))
            break;
        rc = mem_graph_node_get (v->store, v->txn, meta.agent, slot, id, &node);
        if (rc == MDB_NOTFOUND)
            s_problem (v, "graph: linked record %llu has no node row", (unsigned long long) id);
        else if (rc)
            break;
        rc = 0;
    }
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int
mem_graph_verify (mem_store_t *store, MDB_txn *txn, mem_graph_problem_fn *problem, void *arg,
                  uint64_t *nodes)
{
    s_verify_t v = {store, txn, problem, arg, 0};
    uint8_t zero[MEMBER_KEY] = {0};
    int rc = s_scan (store, txn, MEM_DB_GRAPH_NODES, zero, 1, 0, s_verify_node, &v);
    if (!rc)
        rc = s_scan (store, txn, MEM_DB_GRAPH_MEMBERS, zero, 1, 0, s_verify_member, &v);
    if (!rc)
        rc = s_verify_linked (&v);
    *nodes = v.nodes;
    return rc;
}

//  --------------------------------------------------------------------------
//  Selftest

#undef NDEBUG
#include <assert.h>

static void
s_test_problem (void *arg, const char *text)
{
    (*(int *) arg)++;
    if (getenv ("MEM_TEST_VERBOSE"))
        printf ("\n   %s", text);
}

void
mem_graph_store_test (bool verbose)
{
    printf (" * mem_graph_store: ");
    char dir[] = "/tmp/memd-graph-store-test-XXXXXX";
    assert (mkdtemp (dir));
    mem_store_options_t opts;
    mem_store_options_default (&opts);
    opts.dir = dir;
    opts.sync = MEM_SYNC_NONE;
    char err[256];
    mem_store_t *store = mem_store_open (&opts, err, sizeof err);
    assert (store);
    MDB_txn *txn;
    assert (mem_store_write_begin (store, &txn) == 0);

    //  Edge weights within 0..1; a CO_RECALL count n weighs n / (n + 1).
    mem_edge_t co = {1, 2, MEM_EDGE_CO_RECALL, 1};
    assert (fabsf (mem_graph_edge_weight (&co) - 0.25f) < 1e-6f);
    co.weight = 9;
    assert (fabsf (mem_graph_edge_weight (&co) - 0.45f) < 1e-6f);
    mem_edge_t lex = {1, 2, MEM_EDGE_LEXICAL, 0.5f};
    assert (mem_graph_edge_weight (&lex) == 0.5f);
    lex.weight = 3;
    assert (mem_graph_edge_weight (&lex) == 1.0f);

    //  No meta yet: never built, slot 0.
    mem_graph_meta_t meta;
    assert (mem_graph_meta_get (store, txn, 7, &meta) == 0);
    assert (meta.generation == 0 && meta.slot == 0);
    meta.nodes = 10;
    meta.added = 2;
    //  12 expected, 9 live: 3 removed, 2 added, 4 edges.
    meta.edges_added = 4;
    assert (mem_graph_changes (&meta, 9) == 9);
    assert (mem_graph_changes (&meta, 15) == 6);
    meta.generation = 3;
    meta.slot = 1;
    assert (mem_graph_meta_put (store, txn, 7, &meta) == 0);
    mem_graph_meta_t back;
    assert (mem_graph_meta_get (store, txn, 7, &back) == 0 && back.generation == 3);

    //  Nodes, members and sizes; moving a node moves its membership.
    for (uint64_t id = 1; id <= 5; id++) {
        mem_graph_node_t node = {id <= 3 ? 1 : 4, 0.2f, 0};
        assert (mem_graph_node_put (store, txn, 7, 1, id, &node) == 0);
    }
    mem_graph_node_t node = {1, 0.3f, 0};
    assert (mem_graph_node_put (store, txn, 7, 1, 2, &node) == 0);   //  rewrite: same community
    uint64_t size;
    assert (mem_graph_community_size (store, txn, 7, 1, 1, &size) == 0 && size == 3);
    node.community = 4;
    assert (mem_graph_node_put (store, txn, 7, 1, 3, &node) == 0);   //  3 moves to 4
    assert (mem_graph_community_size (store, txn, 7, 1, 1, &size) == 0 && size == 2);
    assert (mem_graph_community_size (store, txn, 7, 1, 4, &size) == 0 && size == 3);
    uint64_t ids[8];
    size_t n;
    bool more;
    assert (mem_graph_members (store, txn, 7, 1, 4, 0, 8, ids, &n, &more) == 0);
    assert (n == 3 && ids[0] == 3 && ids[2] == 5 && !more);
    assert (mem_graph_members (store, txn, 7, 1, 4, 3, 1, ids, &n, &more) == 0);
    assert (n == 1 && ids[0] == 4 && more);
    mem_graph_community_t top[2];
    assert (mem_graph_top_communities (store, txn, 7, 1, 2, top, &n) == 0);
    assert (n == 2 && top[0].id == 4 && top[0].size == 3 && top[1].id == 1);
    assert (mem_graph_slot_nodes (store, txn, 7, 1, 2, 8, ids, &n, &more) == 0);
    assert (n == 3 && ids[0] == 3);
    //  Another agent and the other slot are apart.
    assert (mem_graph_members (store, txn, 8, 1, 4, 0, 8, ids, &n, &more) == 0 && n == 0);
    assert (mem_graph_node_get (store, txn, 7, 0, 1, &node) == MDB_NOTFOUND);

    //  Purge takes a node out of its community; the last member takes the
    //  community row with it.
    assert (mem_graph_remove_node (store, txn, 7, 1) == 0);
    assert (mem_graph_remove_node (store, txn, 7, 2) == 0);
    assert (mem_graph_community_size (store, txn, 7, 1, 1, &size) == 0 && size == 0);
    assert (mem_graph_node_get (store, txn, 7, 1, 1, &node) == MDB_NOTFOUND);

    //  Clearing a slot in small steps.
    bool done = false;
    int steps = 0;
    while (!done) {
        assert (mem_graph_clear_slot (store, txn, 7, 1, 2, &done) == 0);
        steps++;
    }
    assert (steps >= 3);
    assert (mem_graph_slot_nodes (store, txn, 7, 1, 0, 8, ids, &n, &more) == 0 && n == 0);
    assert (mem_graph_top_communities (store, txn, 7, 1, 2, top, &n) == 0 && n == 0);

    //  Verify: a node row of a record that does not exist is a problem.
    node.community = 0;
    assert (mem_graph_node_put (store, txn, 7, 1, 99, &node) == 0);
    int problems = 0;
    uint64_t nodes;
    assert (mem_graph_verify (store, txn, s_test_problem, &problems, &nodes) == 0);
    assert (problems == 1 && nodes == 1);

    mem_store_write_abort (store, &txn);
    mem_store_destroy (&store);
    char cmd[300];
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    assert (system (cmd) == 0);
    if (verbose)
        printf ("(clear took %d steps) ", steps);
    printf ("OK\n");
}
