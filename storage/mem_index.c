/*  mem_index — postings, statistics and BM25 search; see mem_index.h. */
#include "mem_index.h"
#include "mem_log.h"
#include "mem_tokenizer.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POSTING_SIZE 12                  //  id (u64 BE), tf (u16), dl (u16)
#define KEY_MAX      (4 + MEM_TERM_MAX)  //  agent (u32 BE) + term
#define QUERY_TERMS  64                  //  distinct query terms used; the rest are ignored

static inline void
s_posting_make (uint8_t *p, uint64_t id, unsigned tf, unsigned dl)
{
    mem_put_u64be (p, id);
    uint16_t t = tf > 0xFFFF ? 0xFFFF : (uint16_t) tf;
    uint16_t d = dl > 0xFFFF ? 0xFFFF : (uint16_t) dl;
    memcpy (p + 8, &t, 2);
    memcpy (p + 10, &d, 2);
}

static inline uint64_t
s_posting_id (const uint8_t *p)
{
    uint64_t v;
    memcpy (&v, p, 8);
    return __builtin_bswap64 (v);
}

static inline unsigned
s_posting_tf (const uint8_t *p)
{
    uint16_t t;
    memcpy (&t, p + 8, 2);
    return t;
}

static inline unsigned
s_posting_dl (const uint8_t *p)
{
    uint16_t d;
    memcpy (&d, p + 10, 2);
    return d;
}

static uint32_t
s_hash (const uint8_t *key, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ key[i]) * 16777619u;
    return h;
}

//  --------------------------------------------------------------------------
//  The writer: a per-transaction hash table of terms, each with a linked
//  list of its new postings, written term by term at flush.

typedef struct {
    uint32_t hash;
    uint32_t key_off;       //  in the arena; 0 = empty slot (the arena starts at 1)
    uint32_t key_len;
    uint32_t first, last;   //  posting indexes (linked through next)
    uint32_t count;
    uint64_t last_id;       //  record that last added to this term (tf counting)
} s_term_t;

typedef struct {
    uint8_t value[POSTING_SIZE];
    uint32_t next;
} s_posting_t;

typedef struct {
    uint32_t agent;
    int64_t docs, len;
} s_stats_delta_t;

struct _mem_index_writer_t {
    mem_store_t *store;
    s_term_t *slots;
    uint32_t capacity;       //  power of two
    uint32_t *used;          //  slot indexes in use, in first-use order
    uint32_t n_used;
    uint8_t *arena;
    size_t arena_len, arena_cap;
    s_posting_t *postings;
    uint32_t n_postings;
    size_t postings_cap;
    uint8_t *gather;         //  one term's values, contiguous, for the cursor put
    size_t gather_cap;
    s_stats_delta_t *deltas;
    size_t n_deltas, deltas_cap;
    //  state of the record being added
    uint32_t cur_agent;
    uint64_t cur_id;
    bool oom;
};

static bool
s_grow (void **buf, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t cap2 = *cap ? *cap : 64;
    while (cap2 < need)
        cap2 *= 2;
    void *p = realloc (*buf, cap2 * elem);
    if (!p)
        return false;
    *buf = p;
    *cap = cap2;
    return true;
}

mem_index_writer_t *
mem_index_writer_new (mem_store_t *store)
{
    mem_index_writer_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->store = store;
    self->capacity = 1 << 14;
    self->slots = calloc (self->capacity, sizeof *self->slots);
    self->used = malloc (self->capacity * sizeof *self->used);
    self->arena_len = 1;
    if (!self->slots || !self->used || !s_grow ((void **) &self->arena, &self->arena_cap, 1 << 16, 1)) {
        mem_index_writer_destroy (&self);
        return NULL;
    }
    return self;
}

void
mem_index_writer_destroy (mem_index_writer_t **self_p)
{
    mem_index_writer_t *self = *self_p;
    if (!self)
        return;
    free (self->slots);
    free (self->used);
    free (self->arena);
    free (self->postings);
    free (self->gather);
    free (self->deltas);
    free (self);
    *self_p = NULL;
}

void
mem_index_writer_reset (mem_index_writer_t *self)
{
    for (uint32_t i = 0; i < self->n_used; i++)
        self->slots[self->used[i]].key_off = 0;
    self->n_used = 0;
    self->arena_len = 1;
    self->n_postings = 0;
    self->n_deltas = 0;
    self->oom = false;
}

static int
s_rehash (mem_index_writer_t *self)
{
    uint32_t capacity = self->capacity * 2;
    s_term_t *slots = calloc (capacity, sizeof *slots);
    uint32_t *used = malloc (capacity * sizeof *used);
    if (!slots || !used) {
        free (slots);
        free (used);
        return -1;
    }
    for (uint32_t i = 0; i < self->n_used; i++) {
        s_term_t *old = &self->slots[self->used[i]];
        uint32_t at = old->hash & (capacity - 1);
        while (slots[at].key_off)
            at = (at + 1) & (capacity - 1);
        slots[at] = *old;
        used[i] = at;
    }
    free (self->slots);
    free (self->used);
    self->slots = slots;
    self->used = used;
    self->capacity = capacity;
    return 0;
}

//  Tokenizer callback: counts the term for the current record.
static void
s_writer_term (const char *term, size_t len, unsigned position, void *arg)
{
    mem_index_writer_t *self = arg;
    if (self->oom)
        return;
    uint8_t key[KEY_MAX];
    mem_put_u32be (key, self->cur_agent);
    memcpy (key + 4, term, len);
    size_t key_len = 4 + len;
    uint32_t hash = s_hash (key, key_len);
    uint32_t at = hash & (self->capacity - 1);
    s_term_t *slot;
    while ((slot = &self->slots[at])->key_off) {
        if (slot->hash == hash && slot->key_len == key_len
            && memcmp (self->arena + slot->key_off, key, key_len) == 0)
            break;
        at = (at + 1) & (self->capacity - 1);
    }
    if (slot->key_off && slot->last_id == self->cur_id) {
        uint8_t *value = self->postings[slot->last].value;
        s_posting_make (value, self->cur_id, s_posting_tf (value) + 1, 0);
        return;
    }
    if (!s_grow ((void **) &self->postings, &self->postings_cap, self->n_postings + 1,
                 sizeof *self->postings)) {
        self->oom = true;
        return;
    }
    uint32_t index = self->n_postings++;
    s_posting_make (self->postings[index].value, self->cur_id, 1, 0);
    self->postings[index].next = UINT32_MAX;
    if (!slot->key_off) {
        if (!s_grow ((void **) &self->arena, &self->arena_cap, self->arena_len + key_len, 1)) {
            self->oom = true;
            return;
        }
        memcpy (self->arena + self->arena_len, key, key_len);
        *slot = (s_term_t){hash, (uint32_t) self->arena_len, (uint32_t) key_len, index, index, 1,
                           self->cur_id};
        self->arena_len += key_len;
        self->used[self->n_used++] = at;
        if (self->n_used * 2 > self->capacity && s_rehash (self))
            self->oom = true;
        return;
    }
    self->postings[slot->last].next = index;
    slot->last = index;
    slot->count++;
    slot->last_id = self->cur_id;
}

int
mem_index_writer_add (mem_index_writer_t *self, uint32_t agent, uint64_t id, const char *text,
                      size_t len)
{
    self->cur_agent = agent;
    self->cur_id = id;
    uint32_t start = self->n_postings;
    unsigned dl = mem_tokenize (text, len, s_writer_term, self);
    if (self->oom)
        return -1;
    //  The document length is known only now: patch it into this record's postings.
    for (uint32_t i = start; i < self->n_postings; i++) {
        uint8_t *value = self->postings[i].value;
        s_posting_make (value, id, s_posting_tf (value), dl);
    }
    size_t d = 0;
    while (d < self->n_deltas && self->deltas[d].agent != agent)
        d++;
    if (d == self->n_deltas) {
        if (!s_grow ((void **) &self->deltas, &self->deltas_cap, d + 1, sizeof *self->deltas))
            return -1;
        self->deltas[self->n_deltas++] = (s_stats_delta_t){agent, 0, 0};
    }
    self->deltas[d].docs++;
    self->deltas[d].len += dl > 0xFFFF ? 0xFFFF : dl;
    return 0;
}

static int
s_stats_add (mem_store_t *store, MDB_txn *txn, uint32_t agent, int64_t docs, int64_t len)
{
    mem_agent_stats_t stats;
    int rc = mem_index_stats (store, txn, agent, &stats);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    stats.docs += (uint64_t) docs;
    stats.total_len += (uint64_t) len;
    uint8_t k[4];
    mem_put_u32be (k, agent);
    MDB_val key = {4, k}, val = {sizeof stats, &stats};
    return MEM_MDB (mdb_put (txn, mem_store_dbi (store, MEM_DB_TERMSTATS), &key, &val, 0));
}

//  Orders term slots by key so the flush walks the B-tree in order.
static const uint8_t *s_sort_arena;
static const s_term_t *s_sort_slots;
static int
s_slot_cmp (const void *a, const void *b)
{
    const s_term_t *x = &s_sort_slots[*(const uint32_t *) a];
    const s_term_t *y = &s_sort_slots[*(const uint32_t *) b];
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp (s_sort_arena + x->key_off, s_sort_arena + y->key_off, n);
    return c ? c : (int) x->key_len - (int) y->key_len;
}

int
mem_index_writer_flush (mem_index_writer_t *self, MDB_txn *txn)
{
    if (self->oom)
        return ENOMEM;
    MDB_cursor *cursor;
    int rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (self->store, MEM_DB_POSTINGS), &cursor));
    if (rc)
        return rc;
    //  qsort has no context argument in C11; the writer is used by one thread.
    s_sort_arena = self->arena;
    s_sort_slots = self->slots;
    qsort (self->used, self->n_used, sizeof *self->used, s_slot_cmp);
    for (uint32_t u = 0; u < self->n_used && !rc; u++) {
        s_term_t *slot = &self->slots[self->used[u]];
        if (!s_grow ((void **) &self->gather, &self->gather_cap, (size_t) slot->count * POSTING_SIZE,
                     1)) {
            rc = ENOMEM;
            break;
        }
        uint8_t *out = self->gather;
        for (uint32_t p = slot->first; p != UINT32_MAX; p = self->postings[p].next, out += POSTING_SIZE)
            memcpy (out, self->postings[p].value, POSTING_SIZE);
        MDB_val key = {slot->key_len, self->arena + slot->key_off};
        MDB_val data[2] = {{POSTING_SIZE, self->gather}, {slot->count, NULL}};
        rc = MEM_MDB (mdb_cursor_put (cursor, &key, data, MDB_MULTIPLE));
    }
    mdb_cursor_close (cursor);
    for (size_t d = 0; d < self->n_deltas && !rc; d++)
        rc = s_stats_add (self->store, txn, self->deltas[d].agent, self->deltas[d].docs,
                          self->deltas[d].len);
    mem_index_writer_reset (self);
    return rc;
}

int
mem_index_stats (mem_store_t *store, MDB_txn *txn, uint32_t agent, mem_agent_stats_t *stats)
{
    uint8_t k[4];
    mem_put_u32be (k, agent);
    MDB_val key = {4, k}, val;
    memset (stats, 0, sizeof *stats);
    int rc = MEM_MDB (mdb_get (txn, mem_store_dbi (store, MEM_DB_TERMSTATS), &key, &val));
    if (rc == 0 && val.mv_size == sizeof *stats)
        memcpy (stats, val.mv_data, sizeof *stats);
    return rc;
}

//  --------------------------------------------------------------------------
//  Distinct terms of a text with their counts (query side and removal).

typedef struct {
    char term[MEM_TERM_MAX];
    uint8_t len;
    unsigned count;
} s_qterm_t;

typedef struct {
    s_qterm_t *terms;
    unsigned n, cap;
    unsigned total;          //  every term emitted (the document length)
    bool truncated;          //  more distinct terms than cap
} s_termset_t;

static void
s_termset_add (const char *term, size_t len, unsigned position, void *arg)
{
    s_termset_t *set = arg;
    set->total++;
    for (unsigned i = 0; i < set->n; i++)
        if (set->terms[i].len == len && memcmp (set->terms[i].term, term, len) == 0) {
            set->terms[i].count++;
            return;
        }
    if (set->n == set->cap) {
        set->truncated = true;
        return;
    }
    s_qterm_t *t = &set->terms[set->n++];
    memcpy (t->term, term, len);
    t->len = (uint8_t) len;
    t->count = 1;
}

int
mem_index_remove (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint64_t id,
                  const char *text, size_t len)
{
    //  A record may have many distinct terms: size the set from the text.
    s_termset_t set = {0};
    set.cap = (unsigned) (len / 2 + 1);
    set.terms = malloc ((size_t) set.cap * sizeof *set.terms);
    if (!set.terms)
        return ENOMEM;
    mem_tokenize (text, len, s_termset_add, &set);
    //  s_termset_add is quadratic in distinct terms; records are bounded
    //  (1 MiB) and forget is rare, so simplicity wins here.
    int rc = 0;
    MDB_dbi dbi = mem_store_dbi (store, MEM_DB_POSTINGS);
    for (unsigned i = 0; i < set.n && !rc; i++) {
        uint8_t k[KEY_MAX], v[POSTING_SIZE];
        mem_put_u32be (k, agent);
        memcpy (k + 4, set.terms[i].term, set.terms[i].len);
        s_posting_make (v, id, set.terms[i].count, set.total);
        MDB_val key = {4 + (size_t) set.terms[i].len, k}, val = {POSTING_SIZE, v};
        rc = MEM_MDB (mdb_del (txn, dbi, &key, &val));
        if (rc == MDB_NOTFOUND) {
            mem_log_warn ("record %llu: posting for '%.*s' was missing", (unsigned long long) id,
                          (int) set.terms[i].len, set.terms[i].term);
            rc = 0;
        }
    }
    free (set.terms);
    if (rc)
        return rc;
    unsigned dl = set.total > 0xFFFF ? 0xFFFF : set.total;
    return s_stats_add (store, txn, agent, -1, -(int64_t) dl);
}

//  --------------------------------------------------------------------------
//  Search: one cursor per query term, walked document at a time.

typedef struct {
    MDB_cursor *cursor;
    MDB_val key;
    const uint8_t *page;     //  current run of postings (a page, or the single value)
    size_t n, i;
    uint64_t doc;            //  current record id; UINT64_MAX when exhausted
    double idf, weight, ub;  //  ub: the most this term can add to a score
    uint8_t term[KEY_MAX];
} s_plist_t;

static inline void
s_plist_load (s_plist_t *l, MDB_val *data)
{
    l->page = data->mv_data;
    l->n = data->mv_size / POSTING_SIZE;
    l->i = 0;
    l->doc = l->n ? s_posting_id (l->page) : UINT64_MAX;
}

//  Positions at the first posting of the term; returns its document frequency.
static size_t
s_plist_open (s_plist_t *l, MDB_txn *txn, MDB_dbi dbi, int *rc)
{
    l->doc = UINT64_MAX;
    *rc = MEM_MDB (mdb_cursor_open (txn, dbi, &l->cursor));
    if (*rc)
        return 0;
    MDB_val data;
    int r = mdb_cursor_get (l->cursor, &l->key, &data, MDB_SET_KEY);
    if (r == MDB_NOTFOUND)
        return 0;
    if (r) {
        *rc = MEM_MDB (r);
        return 0;
    }
    size_t count = 0;
    mdb_cursor_count (l->cursor, &count);
    if (count > 1) {
        MDB_val page = {0, NULL};
        if ((*rc = MEM_MDB (mdb_cursor_get (l->cursor, &l->key, &page, MDB_GET_MULTIPLE))))
            return 0;
        s_plist_load (l, &page);
    }
    else
        s_plist_load (l, &data);   //  a single posting is not in a dup page
    return (size_t) count;
}

static inline void
s_plist_next (s_plist_t *l)
{
    if (++l->i < l->n) {
        l->doc = s_posting_id (l->page + l->i * POSTING_SIZE);
        return;
    }
    MDB_val data = {0, NULL};
    if (mdb_cursor_get (l->cursor, &l->key, &data, MDB_NEXT_MULTIPLE) || !data.mv_data)
        l->doc = UINT64_MAX;
    else
        s_plist_load (l, &data);
}

//  Moves to the first posting with id >= target.
static void
s_plist_seek (s_plist_t *l, uint64_t target)
{
    if (l->doc >= target)
        return;
    if (s_posting_id (l->page + (l->n - 1) * POSTING_SIZE) < target) {
        uint8_t probe[POSTING_SIZE] = {0};
        mem_put_u64be (probe, target);
        MDB_val data = {POSTING_SIZE, probe};
        if (mdb_cursor_get (l->cursor, &l->key, &data, MDB_GET_BOTH_RANGE)) {
            l->doc = UINT64_MAX;
            return;
        }
        MDB_val page = {0, NULL};
        if (mdb_cursor_get (l->cursor, &l->key, &page, MDB_GET_MULTIPLE) || !page.mv_data) {
            l->page = data.mv_data;   //  single value
            l->n = 1;
            l->i = 0;
            l->doc = s_posting_id (l->page);
            return;
        }
        s_plist_load (l, &page);
    }
    //  Binary search within the page for the first id >= target.
    size_t lo = l->i, hi = l->n - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s_posting_id (l->page + mid * POSTING_SIZE) < target)
            lo = mid + 1;
        else
            hi = mid;
    }
    l->i = lo;
    l->doc = s_posting_id (l->page + lo * POSTING_SIZE);
}

static inline double
s_plist_score (const s_plist_t *l, double avgdl)
{
    const uint8_t *p = l->page + l->i * POSTING_SIZE;
    double tf = s_posting_tf (p), dl = s_posting_dl (p);
    double norm = MEM_BM25_K1 * (1 - MEM_BM25_B + MEM_BM25_B * dl / avgdl);
    return l->weight * l->idf * tf * (MEM_BM25_K1 + 1) / (tf + norm);
}

//  Min-heap of the best k hits: the root is the weakest.
static inline bool
s_hit_less (const mem_hit_t *a, const mem_hit_t *b)
{
    return a->score < b->score || (a->score == b->score && a->id < b->id);
}

static void
s_heap_sift_down (mem_hit_t *heap, unsigned n, unsigned i)
{
    for (;;) {
        unsigned l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && s_hit_less (&heap[l], &heap[m]))
            m = l;
        if (r < n && s_hit_less (&heap[r], &heap[m]))
            m = r;
        if (m == i)
            return;
        mem_hit_t t = heap[i];
        heap[i] = heap[m];
        heap[m] = t;
        i = m;
    }
}

static void
s_heap_push (mem_hit_t *heap, unsigned *n, unsigned k, mem_hit_t hit)
{
    if (*n < k) {
        unsigned i = (*n)++;
        heap[i] = hit;
        while (i && s_hit_less (&heap[i], &heap[(i - 1) / 2])) {
            mem_hit_t t = heap[i];
            heap[i] = heap[(i - 1) / 2];
            heap[(i - 1) / 2] = t;
            i = (i - 1) / 2;
        }
    }
    else {
        heap[0] = hit;
        s_heap_sift_down (heap, k, 0);
    }
}

static int
s_ub_cmp (const void *a, const void *b)
{
    double x = ((const s_plist_t *) a)->ub, y = ((const s_plist_t *) b)->ub;
    return x < y ? -1 : x > y;
}

//  Opens a cursor per distinct query term found in the agent's index;
//  returns how many, sorted by ascending upper bound.
static unsigned
s_open_terms (mem_store_t *store, MDB_txn *txn, uint32_t agent, const char *query, size_t len,
              s_plist_t *lists, double *avgdl, int *rc)
{
    s_qterm_t qterms[QUERY_TERMS];
    s_termset_t set = {qterms, 0, QUERY_TERMS, 0, false};
    mem_tokenize (query, len, s_termset_add, &set);
    mem_agent_stats_t stats;
    *rc = mem_index_stats (store, txn, agent, &stats);
    if (*rc == MDB_NOTFOUND || (!*rc && stats.docs == 0)) {
        *rc = 0;
        return 0;
    }
    if (*rc)
        return 0;
    *avgdl = (double) stats.total_len / (double) stats.docs;
    if (*avgdl <= 0)
        *avgdl = 1;
    MDB_dbi dbi = mem_store_dbi (store, MEM_DB_POSTINGS);
    unsigned n = 0;
    for (unsigned i = 0; i < set.n; i++) {
        s_plist_t *l = &lists[n];
        mem_put_u32be (l->term, agent);
        memcpy (l->term + 4, qterms[i].term, qterms[i].len);
        l->key = (MDB_val){4 + (size_t) qterms[i].len, l->term};
        size_t df = s_plist_open (l, txn, dbi, rc);
        if (*rc) {
            mdb_cursor_close (l->cursor);
            break;
        }
        if (df == 0) {
            mdb_cursor_close (l->cursor);
            continue;
        }
        double N = (double) stats.docs;
        l->idf = log (1.0 + (N - (double) df + 0.5) / ((double) df + 0.5));
        l->weight = qterms[i].count;
        l->ub = l->weight * l->idf * (MEM_BM25_K1 + 1);
        n++;
    }
    if (*rc) {
        for (unsigned i = 0; i < n; i++)
            mdb_cursor_close (lists[i].cursor);
        return 0;
    }
    qsort (lists, n, sizeof *lists, s_ub_cmp);
    return n;
}

int
mem_index_search (mem_store_t *store, MDB_txn *txn, uint32_t agent, const char *query,
                  size_t len, unsigned k, mem_filter_fn *filter, void *filter_arg,
                  mem_hit_t *hits, unsigned *n_hits)
{
    *n_hits = 0;
    if (k == 0)
        return 0;
    s_plist_t lists[QUERY_TERMS];
    double avgdl = 1;
    int rc;
    unsigned n = s_open_terms (store, txn, agent, query, len, lists, &avgdl, &rc);
    if (rc || n == 0)
        return rc;

    //  cum[i]: the most lists 0..i can add together. Lists below `essential`
    //  cannot lift a record into the top k on their own, so only the others
    //  propose candidates; the rest are probed when the score could still win.
    double cum[QUERY_TERMS];
    for (unsigned i = 0; i < n; i++)
        cum[i] = lists[i].ub + (i ? cum[i - 1] : 0);
    unsigned essential = 0, heap_n = 0;
    double threshold = 0;

    for (;;) {
        uint64_t doc = UINT64_MAX;
        for (unsigned i = essential; i < n; i++)
            if (lists[i].doc < doc)
                doc = lists[i].doc;
        if (doc == UINT64_MAX)
            break;
        double score = 0;
        for (unsigned i = essential; i < n; i++)
            if (lists[i].doc == doc) {
                score += s_plist_score (&lists[i], avgdl);
                s_plist_next (&lists[i]);
            }
        bool viable = true;
        for (unsigned i = essential; i-- > 0;) {
            if (heap_n == k && score + cum[i] <= threshold) {
                viable = false;
                break;
            }
            s_plist_seek (&lists[i], doc);
            if (lists[i].doc == doc)
                score += s_plist_score (&lists[i], avgdl);
        }
        if (!viable)
            continue;
        mem_hit_t hit = {doc, score};
        if (heap_n == k && !s_hit_less (&hits[0], &hit))
            continue;
        if (filter && !filter (doc, filter_arg))
            continue;
        s_heap_push (hits, &heap_n, k, hit);
        if (heap_n == k) {
            threshold = hits[0].score;
            while (essential < n && cum[essential] <= threshold)
                essential++;
        }
    }
    for (unsigned i = 0; i < n; i++)
        mdb_cursor_close (lists[i].cursor);

    //  Heap order → best first.
    for (unsigned end = heap_n; end > 1; end--) {
        mem_hit_t t = hits[0];
        hits[0] = hits[end - 1];
        hits[end - 1] = t;
        s_heap_sift_down (hits, end - 1, 0);
    }
    *n_hits = heap_n;
    return 0;
}

int
mem_index_explain (mem_store_t *store, MDB_txn *txn, uint32_t agent, const char *query,
                   size_t len, uint64_t id, char *buf, size_t size)
{
    s_plist_t lists[QUERY_TERMS];
    double avgdl = 1;
    int rc;
    unsigned n = s_open_terms (store, txn, agent, query, len, lists, &avgdl, &rc);
    if (rc)
        return rc;
    size_t used = (size_t) snprintf (buf, size, "bm25");
    double total = 0;
    unsigned dl = 0;
    for (unsigned i = n; i-- > 0;) {
        s_plist_seek (&lists[i], id);
        if (lists[i].doc != id)
            continue;
        const uint8_t *p = lists[i].page + lists[i].i * POSTING_SIZE;
        double part = s_plist_score (&lists[i], avgdl);
        total += part;
        dl = s_posting_dl (p);
        if (used < size)
            used += (size_t) snprintf (buf + used, size - used, " %.*s=%.3f(tf=%u idf=%.2f)",
                                       (int) lists[i].key.mv_size - 4, lists[i].term + 4, part,
                                       s_posting_tf (p), lists[i].idf);
    }
    if (used < size)
        snprintf (buf + used, size - used, " total=%.3f dl=%u avgdl=%.1f", total, dl, avgdl);
    for (unsigned i = 0; i < n; i++)
        mdb_cursor_close (lists[i].cursor);
    return 0;
}

//  --------------------------------------------------------------------------
//  Selftest

#undef NDEBUG
#include <assert.h>

//  Writes records (agent, id, text) and commits.
static void
s_test_add (mem_store_t *store, mem_index_writer_t *writer, uint32_t agent, uint64_t first_id,
            const char **texts, size_t n)
{
    MDB_txn *txn;
    assert (mem_store_write_begin (store, &txn) == 0);
    for (size_t i = 0; i < n; i++)
        assert (mem_index_writer_add (writer, agent, first_id + i, texts[i], strlen (texts[i]))
                == 0);
    assert (mem_index_writer_flush (writer, txn) == 0);
    assert (mem_store_write_commit (store, &txn) == 0);
}

typedef struct {
    const char *terms[QUERY_TERMS];
    unsigned n;
    unsigned tf[QUERY_TERMS];
    unsigned dl;
} s_brute_t;

static void
s_brute_term (const char *term, size_t len, unsigned position, void *arg)
{
    s_brute_t *b = arg;
    b->dl++;
    for (unsigned i = 0; i < b->n; i++)
        if (strlen (b->terms[i]) == len && memcmp (b->terms[i], term, len) == 0)
            b->tf[i]++;
}

static bool
s_test_even_only (uint64_t id, void *arg)
{
    return id % 2 == 0;
}

void
mem_index_test (bool verbose)
{
    printf (" * mem_index: ");
    char dir[] = "/tmp/mem_index_test.XXXXXX";
    assert (mkdtemp (dir));
    char err[512];
    mem_store_options_t opts;
    mem_store_options_default (&opts);
    opts.dir = dir;
    opts.sync = MEM_SYNC_NONE;
    mem_store_t *store = mem_store_open (&opts, err, sizeof err);
    assert (store);
    mem_index_writer_t *writer = mem_index_writer_new (store);
    assert (writer);

    //  Hand-checked BM25 (k1 1.2, b 0.75): N = 3, avgdl = 8/3, df(cat) = df(fish) = 2,
    //  idf = ln (1 + 1.5/2.5) = 0.470004.
    //  cat: doc 1 (tf 1, dl 2) = 0.523548; doc 2 (tf 2, dl 3) = 0.624307.
    //  fish in doc 2 or 3 (tf 1, dl 3) = 0.447139.
    const char *docs[] = {"cat dog", "cat cat fish", "dog fish bird"};
    s_test_add (store, writer, 1, 1, docs, 3);
    //  Another agent's identical words never leak into agent 1.
    const char *other[] = {"cat cat cat cat", "cat fish"};
    s_test_add (store, writer, 2, 4, other, 2);

    MDB_txn *txn;
    assert (mem_store_read_begin (store, &txn) == 0);
    mem_agent_stats_t stats;
    assert (mem_index_stats (store, txn, 1, &stats) == 0);
    assert (stats.docs == 3 && stats.total_len == 8);
    mem_hit_t hits[10];
    unsigned n;
    assert (mem_index_search (store, txn, 1, "cat", 3, 10, NULL, NULL, hits, &n) == 0);
    assert (n == 2);
    assert (hits[0].id == 2 && fabs (hits[0].score - 0.624307) < 1e-4);
    assert (hits[1].id == 1 && fabs (hits[1].score - 0.523548) < 1e-4);
    assert (mem_index_search (store, txn, 1, "Cats, and FISH!", 15, 10, NULL, NULL, hits, &n)
            == 0);
    assert (n == 3);
    assert (hits[0].id == 2 && fabs (hits[0].score - (0.624307 + 0.447139)) < 1e-4);
    assert (hits[1].id == 1 && hits[2].id == 3);
    assert (fabs (hits[2].score - 0.447139) < 1e-4);
    //  k bounds the answer; a filter is applied to candidates.
    assert (mem_index_search (store, txn, 1, "cat fish", 8, 1, NULL, NULL, hits, &n) == 0);
    assert (n == 1 && hits[0].id == 2);
    assert (mem_index_search (store, txn, 1, "cat fish", 8, 10, s_test_even_only, NULL, hits, &n)
            == 0);
    assert (n == 1 && hits[0].id == 2);
    //  Unknown words, stopwords only, an agent with nothing: no hits, no error.
    assert (mem_index_search (store, txn, 1, "zebra", 5, 10, NULL, NULL, hits, &n) == 0 && !n);
    assert (mem_index_search (store, txn, 1, "the of and", 10, 10, NULL, NULL, hits, &n) == 0);
    assert (n == 0);
    assert (mem_index_search (store, txn, 9, "cat", 3, 10, NULL, NULL, hits, &n) == 0 && !n);
    char explain[512];
    assert (mem_index_explain (store, txn, 1, "cat fish", 8, 2, explain, sizeof explain) == 0);
    assert (strstr (explain, "cat=0.624(tf=2") && strstr (explain, "fish=0.447(tf=1"));
    mem_store_read_end (store, &txn);

    //  Removing a record takes its postings and statistics with it.
    assert (mem_store_write_begin (store, &txn) == 0);
    assert (mem_index_remove (store, txn, 1, 2, docs[1], strlen (docs[1])) == 0);
    assert (mem_store_write_commit (store, &txn) == 0);
    assert (mem_store_read_begin (store, &txn) == 0);
    assert (mem_index_stats (store, txn, 1, &stats) == 0);
    assert (stats.docs == 2 && stats.total_len == 5);
    assert (mem_index_search (store, txn, 1, "cat", 3, 10, NULL, NULL, hits, &n) == 0);
    assert (n == 1 && hits[0].id == 1);
    mem_store_read_end (store, &txn);

    //  MaxScore pruning returns exactly what scoring every record would: a
    //  random corpus over a skewed vocabulary, many postings per term (pages
    //  of dups), compared with a brute-force BM25 over the same records.
    static const char *vocab[] = {"alpha", "bravo", "charli", "delta", "echo", "foxtrot",
                                  "golf", "hotel", "india", "juliet", "kilo", "lima"};
    enum { N_DOCS = 3000, AGENT = 7 };
    char **texts = malloc (N_DOCS * sizeof *texts);
    uint64_t seed = 42;
    for (int d = 0; d < N_DOCS; d++) {
        texts[d] = malloc (256);
        texts[d][0] = 0;
        int words = 3 + (int) (seed % 12);
        for (int w = 0; w < words; w++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            unsigned r = (unsigned) (seed >> 33) % 78;   //  skewed: triangular over 12 words
            unsigned v = 0;
            while (r >= 12 - v && v < 11)
                r -= 12 - v++;
            strcat (texts[d], vocab[v]);
            strcat (texts[d], " ");
        }
    }
    for (int d = 0; d < N_DOCS; d += 500)
        s_test_add (store, writer, AGENT, 1000 + (uint64_t) d, (const char **) texts + d, 500);
    const char *queries[] = {"alpha lima", "kilo juliet india", "alpha bravo", "lima",
                             "hotel golf alpha kilo", "charli charli delta"};
    assert (mem_store_read_begin (store, &txn) == 0);
    assert (mem_index_stats (store, txn, AGENT, &stats) == 0);
    double avgdl = (double) stats.total_len / (double) stats.docs;
    for (size_t q = 0; q < sizeof queries / sizeof *queries; q++) {
        //  Brute force: score every record.
        s_termset_t set = {NULL, 0, QUERY_TERMS, 0, false};
        s_qterm_t qterms[QUERY_TERMS];
        set.terms = qterms;
        mem_tokenize (queries[q], strlen (queries[q]), s_termset_add, &set);
        char term_text[QUERY_TERMS][MEM_TERM_MAX];
        s_brute_t b = {{0}, set.n, {0}, 0};
        unsigned df[QUERY_TERMS] = {0};
        double *scores = calloc (N_DOCS, sizeof *scores);
        for (unsigned t = 0; t < set.n; t++) {
            memcpy (term_text[t], qterms[t].term, qterms[t].len);
            term_text[t][qterms[t].len] = 0;
            b.terms[t] = term_text[t];
        }
        s_brute_t per_doc[1];
        for (int pass = 0; pass < 2; pass++)
            for (int d = 0; d < N_DOCS; d++) {
                per_doc[0] = b;
                mem_tokenize (texts[d], strlen (texts[d]), s_brute_term, per_doc);
                for (unsigned t = 0; t < set.n; t++) {
                    if (pass == 0) {
                        df[t] += per_doc[0].tf[t] > 0;
                        continue;
                    }
                    if (!per_doc[0].tf[t])
                        continue;
                    double N = N_DOCS, idf = log (1.0 + (N - df[t] + 0.5) / (df[t] + 0.5));
                    double tf = per_doc[0].tf[t];
                    double norm = MEM_BM25_K1
                                * (1 - MEM_BM25_B + MEM_BM25_B * per_doc[0].dl / avgdl);
                    scores[d] += qterms[t].count * idf * tf * (MEM_BM25_K1 + 1) / (tf + norm);
                }
            }
        mem_hit_t top[10];
        assert (mem_index_search (store, txn, AGENT, queries[q], strlen (queries[q]), 10, NULL,
                                  NULL, top, &n)
                == 0);
        assert (n == 10);
        for (unsigned i = 0; i < n; i++) {
            //  Each returned score is the record's true score, and nothing
            //  outside the answer beats the last one returned.
            int d = (int) (top[i].id - 1000);
            assert (fabs (scores[d] - top[i].score) < 1e-9);
            assert (i == 0 || top[i - 1].score >= top[i].score);
        }
        int better = 0;
        for (int d = 0; d < N_DOCS; d++)
            better += scores[d] > top[n - 1].score + 1e-9;
        assert (better <= (int) n - 1);
        free (scores);
    }
    mem_store_read_end (store, &txn);
    for (int d = 0; d < N_DOCS; d++)
        free (texts[d]);
    free (texts);

    mem_index_writer_destroy (&writer);
    mem_store_destroy (&store);
    char cmd[256];
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    assert (system (cmd) == 0);
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
