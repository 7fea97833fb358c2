/*  mem_edges — the memory graph's edges; see mem_edges.h. */
#include "mem_edges.h"
#include <stdlib.h>
#include <string.h>

#define EDGE_KEY 17   //  node (u64 BE) + type (u8) + other node (u64 BE)
#define EDGE_VAL 12   //  weight (float) + time (i64 BE); 4 bytes without the time

static void
s_key (uint8_t *k, uint64_t node, mem_edge_type_t type, uint64_t other)
{
    mem_put_u64be (k, node);
    k[8] = (uint8_t) type;
    mem_put_u64be (k + 9, other);
}

int
mem_edges_put (mem_store_t *store, MDB_txn *txn, const mem_edge_t *edge)
{
    return mem_edges_put_at (store, txn, edge, 0);
}

int
mem_edges_put_at (mem_store_t *store, MDB_txn *txn, const mem_edge_t *edge, int64_t at_ms)
{
    uint8_t k[EDGE_KEY], v[EDGE_VAL];
    memcpy (v, &edge->weight, sizeof edge->weight);
    mem_put_u64be (v + sizeof edge->weight, (uint64_t) at_ms);
    MDB_val val = {at_ms ? EDGE_VAL : sizeof edge->weight, v};
    s_key (k, edge->src, edge->type, edge->dst);
    MDB_val key = {EDGE_KEY, k};
    int rc = MEM_MDB (mdb_put (txn, mem_store_dbi (store, MEM_DB_EDGES), &key, &val, 0));
    if (rc)
        return rc;
    s_key (k, edge->dst, edge->type, edge->src);
    return MEM_MDB (mdb_put (txn, mem_store_dbi (store, MEM_DB_EDGES_IN), &key, &val, 0));
}

//  Calls fn for each edge of id in one direction's table, in key order.
typedef int(s_edge_fn) (MDB_cursor *cursor, const mem_edge_t *edge, void *arg);

static int
s_walk (mem_store_t *store, MDB_txn *txn, uint64_t id, bool out, mem_edge_type_t type,
        s_edge_fn *fn, void *arg)
{
    MDB_cursor *cursor;
    int rc = MEM_MDB (mdb_cursor_open (
        txn, mem_store_dbi (store, out ? MEM_DB_EDGES : MEM_DB_EDGES_IN), &cursor));
    if (rc)
        return rc;
    uint8_t k[EDGE_KEY];
    s_key (k, id, type, 0);
    MDB_val key = {type ? 9 : 8, k}, val;
    size_t prefix = key.mv_size;
    for (rc = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT)) {
        if (key.mv_size != EDGE_KEY || memcmp (key.mv_data, k, prefix) != 0)
            break;
        const uint8_t *p = key.mv_data;
        uint64_t other = mem_get_u64be (p + 9);
        mem_edge_t edge = {out ? id : other, out ? other : id, (mem_edge_type_t) p[8], 0};
        if (val.mv_size >= sizeof edge.weight)
            memcpy (&edge.weight, val.mv_data, sizeof edge.weight);
        if ((rc = fn (cursor, &edge, arg)))
            break;
    }
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int
mem_edges_get (mem_store_t *store, MDB_txn *txn, mem_edge_t *edge, int64_t *at_ms)
{
    uint8_t k[EDGE_KEY];
    s_key (k, edge->src, edge->type, edge->dst);
    MDB_val key = {EDGE_KEY, k}, val;
    int rc = MEM_MDB (mdb_get (txn, mem_store_dbi (store, MEM_DB_EDGES), &key, &val));
    if (rc)
        return rc;
    edge->weight = 0;
    *at_ms = 0;
    if (val.mv_size >= sizeof edge->weight)
        memcpy (&edge->weight, val.mv_data, sizeof edge->weight);
    if (val.mv_size >= EDGE_VAL)
        *at_ms = (int64_t) mem_get_u64be ((const uint8_t *) val.mv_data + sizeof edge->weight);
    return 0;
}

int
mem_edges_remove (mem_store_t *store, MDB_txn *txn, const mem_edge_t *edge)
{
    uint8_t k[EDGE_KEY];
    s_key (k, edge->src, edge->type, edge->dst);
    MDB_val key = {EDGE_KEY, k};
    int rc = MEM_MDB (mdb_del (txn, mem_store_dbi (store, MEM_DB_EDGES), &key, NULL));
    if (rc)
        return rc;
    s_key (k, edge->dst, edge->type, edge->src);
    rc = MEM_MDB (mdb_del (txn, mem_store_dbi (store, MEM_DB_EDGES_IN), &key, NULL));
    return rc == MDB_NOTFOUND ? 0 : rc;   //  a missing mirror is verify's to report
}

typedef struct {
    mem_edge_t *edges;
    size_t max, n;
} s_list_t;

static int
s_list_one (MDB_cursor *cursor, const mem_edge_t *edge, void *arg)
{
    s_list_t *list = arg;
    if (list->n == list->max)
        return MDB_NOTFOUND;   //  full: stop (reported as success)
    list->edges[list->n++] = *edge;
    return 0;
}

int
mem_edges_list (mem_store_t *store, MDB_txn *txn, uint64_t id, bool out, mem_edge_type_t type,
                mem_edge_t *edges, size_t max, size_t *n)
{
    s_list_t list = {edges, max, 0};
    int rc = s_walk (store, txn, id, out, type, s_list_one, &list);
    *n = list.n;
    return rc;
}

typedef struct {
    mem_edge_fn *fn;
    void *arg;
} s_each_t;

static int
s_each_one (MDB_cursor *cursor, const mem_edge_t *edge, void *arg)
{
    s_each_t *each = arg;
    return each->fn (edge, each->arg);
}

int
mem_edges_each (mem_store_t *store, MDB_txn *txn, uint64_t id, bool out, mem_edge_type_t type,
                mem_edge_fn *fn, void *arg)
{
    s_each_t each = {fn, arg};
    return s_walk (store, txn, id, out, type, s_each_one, &each);
}

typedef struct {
    mem_store_t *store;
    MDB_txn *txn;
    bool out;
    size_t removed;
} s_remove_t;

//  Deletes the edge under the cursor and its mirror in the other table.
static int
s_remove_one (MDB_cursor *cursor, const mem_edge_t *edge, void *arg)
{
    s_remove_t *r = arg;
    uint8_t k[EDGE_KEY];
    if (r->out)
        s_key (k, edge->dst, edge->type, edge->src);
    else
        s_key (k, edge->src, edge->type, edge->dst);
    MDB_val key = {EDGE_KEY, k};
    int rc = MEM_MDB (
        mdb_del (r->txn, mem_store_dbi (r->store, r->out ? MEM_DB_EDGES_IN : MEM_DB_EDGES), &key,
                 NULL));
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    r->removed++;
    return MEM_MDB (mdb_cursor_del (cursor, 0));
}

int
mem_edges_remove_node (mem_store_t *store, MDB_txn *txn, uint64_t id, size_t *removed)
{
    //  After a cursor delete LMDB's cursor already points at the next key,
    //  and MDB_NEXT skips it; so walk again until nothing is left.
    s_remove_t r = {store, txn, true, 0};
    int rc = 0;
    for (size_t before = SIZE_MAX; !rc && r.removed != before;) {
        before = r.removed;
        r.out = true;
        rc = s_walk (store, txn, id, true, 0, s_remove_one, &r);
        r.out = false;
        if (!rc)
            rc = s_walk (store, txn, id, false, 0, s_remove_one, &r);
    }
    if (removed)
        *removed = r.removed;
    return rc;
}

const char *
mem_edge_type_name (mem_edge_type_t type)
{
    static const char *names[] = {"?",       "TEMPORAL",  "LEXICAL",  "SEMANTIC",
                                  "DERIVED", "DUPLICATE", "CO_RECALL"};
    return type >= 1 && type <= MEM_EDGE_CO_RECALL ? names[type] : names[0];
}

//  --------------------------------------------------------------------------
//  Selftest

#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <unistd.h>

void
mem_edges_test (bool verbose)
{
    printf (" * mem_edges: ");
    char dir[] = "/tmp/memd-edges-test-XXXXXX";
    mem_store_t *store = mem_store_test_new (dir);
    MDB_txn *txn;
    assert (mem_store_write_begin (store, &txn) == 0);
    //  7 → {3, 9} DERIVED, 7 → 3 DUPLICATE, 5 → 7 TEMPORAL.
    mem_edge_t put[] = {{7, 3, MEM_EDGE_DERIVED, 1}, {7, 9, MEM_EDGE_DERIVED, 0.5f},
                        {7, 3, MEM_EDGE_DUPLICATE, 1}, {5, 7, MEM_EDGE_TEMPORAL, 1}};
    for (size_t i = 0; i < 4; i++)
        assert (mem_edges_put (store, txn, &put[i]) == 0);
    mem_edge_t edges[8];
    size_t n;
    assert (mem_edges_list (store, txn, 7, true, 0, edges, 8, &n) == 0 && n == 3);
    assert (mem_edges_list (store, txn, 7, true, MEM_EDGE_DERIVED, edges, 8, &n) == 0 && n == 2);
    assert (edges[0].dst == 3 && edges[1].dst == 9 && edges[1].weight == 0.5f);
    assert (mem_edges_list (store, txn, 3, false, 0, edges, 8, &n) == 0 && n == 2);
    assert (edges[0].src == 7 && edges[0].dst == 3);
    assert (mem_edges_list (store, txn, 7, false, 0, edges, 8, &n) == 0 && n == 1);
    assert (edges[0].src == 5 && edges[0].type == MEM_EDGE_TEMPORAL);
    assert (mem_edges_list (store, txn, 7, true, 0, edges, 1, &n) == 0 && n == 1);
    //  A time kept after the weight; one edge looked up and removed, both ways.
    mem_edge_t co = {2, 9, MEM_EDGE_CO_RECALL, 3}, got = {2, 9, MEM_EDGE_CO_RECALL, 0};
    int64_t at;
    assert (mem_edges_put_at (store, txn, &co, 123456789012LL) == 0);
    assert (mem_edges_get (store, txn, &got, &at) == 0 && got.weight == 3 && at == 123456789012LL);
    assert (mem_edges_list (store, txn, 9, false, MEM_EDGE_CO_RECALL, edges, 8, &n) == 0);
    assert (n == 1 && edges[0].src == 2 && edges[0].weight == 3);
    got = put[1];
    assert (mem_edges_get (store, txn, &got, &at) == 0 && got.weight == 0.5f && at == 0);
    assert (mem_edges_remove (store, txn, &co) == 0);
    assert (mem_edges_remove (store, txn, &co) == MDB_NOTFOUND);
    assert (mem_edges_get (store, txn, &got, &at) == 0);
    got = co;
    assert (mem_edges_get (store, txn, &got, &at) == MDB_NOTFOUND);
    assert (mem_edges_list (store, txn, 9, false, MEM_EDGE_CO_RECALL, edges, 8, &n) == 0);
    assert (n == 0);
    //  Removing 7 takes all four edges, in both tables; 3, 5 and 9 keep none.
    size_t removed;
    assert (mem_edges_remove_node (store, txn, 7, &removed) == 0 && removed == 4);
    uint64_t nodes[] = {3, 5, 7, 9};
    for (size_t i = 0; i < 4; i++) {
        assert (mem_edges_list (store, txn, nodes[i], true, 0, edges, 8, &n) == 0 && n == 0);
        assert (mem_edges_list (store, txn, nodes[i], false, 0, edges, 8, &n) == 0 && n == 0);
    }
    assert (mem_edges_remove_node (store, txn, 7, &removed) == 0 && removed == 0);
    assert (strcmp (mem_edge_type_name (MEM_EDGE_DUPLICATE), "DUPLICATE") == 0);
    mem_store_write_abort (store, &txn);
    mem_store_test_remove (&store, dir);
    printf ("OK\n");
}
