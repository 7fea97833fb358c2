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
//  Each postings value starts with one header entry of the same size:
//  the run's largest tf (u16) and smallest dl (u16), then 8 zero bytes.
//  They bound what the run can score, so MaxScore prunes on real bounds.
#define HEADER_SIZE  POSTING_SIZE
#define KEY_MAX      (4 + MEM_TERM_MAX)  //  agent (u32 BE) + term (the writer's term key)
#define SEG_KEY_MAX  (4 + MEM_TERM_MAX)  //  segment (u32 BE) + term
#define MERGE_WAYS   8                   //  segments of one size tier merged at once
#define MERGE_MAX    32                  //  most sources of one merge (idle tail compaction)
#define MERGE_BUDGET (4u << 20)          //  postings bytes one merge step may write
#define QUERY_TERMS  64                  //  distinct words of a text query; the rest are ignored

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

static inline void
s_header_make (uint8_t *h, unsigned max_tf, unsigned min_dl)
{
    memset (h, 0, HEADER_SIZE);
    uint16_t t = (uint16_t) max_tf, d = (uint16_t) min_dl;
    memcpy (h, &t, 2);
    memcpy (h + 2, &d, 2);
}

//  Largest tf and smallest dl over n postings.
static void
s_header_scan (const uint8_t *p, size_t n, unsigned *max_tf, unsigned *min_dl)
{
    for (size_t i = 0; i < n; i++, p += POSTING_SIZE) {
        unsigned tf = s_posting_tf (p), dl = s_posting_dl (p);
        if (tf > *max_tf)
            *max_tf = tf;
        if (dl < *min_dl)
            *min_dl = dl;
    }
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

//  What one flush adds for an agent: its new segment and statistics.
typedef struct {
    uint32_t agent;
    uint32_t segment;
    int64_t docs, len;
    uint64_t first_id, last_id;
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
    uint32_t *dirty;         //  agents whose segments may need merging
    size_t n_dirty, dirty_cap;
    uint8_t *merge_buf;      //  one term's merged postings
    size_t merge_cap;
    size_t merge_budget;     //  postings bytes per merge step
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
    self->merge_budget = MERGE_BUDGET;
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
    free (self->dirty);
    free (self->merge_buf);
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
                      size_t len, unsigned *doc_len)
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
        self->deltas[self->n_deltas++] = (s_stats_delta_t){agent, 0, 0, 0, id, id};
    }
    *doc_len = dl > 0xFFFF ? 0xFFFF : dl;
    self->deltas[d].docs++;
    self->deltas[d].len += *doc_len;
    self->deltas[d].last_id = id;
    return 0;
}

typedef struct {
    mem_index_writer_t *writer;
    uint8_t field;
    unsigned count;
} s_field_arg_t;

//  Tokenizer callback for a field: the term behind its marker byte.
static void
s_field_term (const char *term, size_t len, unsigned position, void *arg)
{
    s_field_arg_t *field = arg;
    char marked[MEM_TERM_MAX];
    if (len > MEM_TERM_MAX - 2)
        len = MEM_TERM_MAX - 2;   //  a byte cut is fine: the query side cuts the same way
    marked[0] = (char) field->field;
    memcpy (marked + 1, term, len);
    marked[len + 1] = 0;
    field->count++;
    s_writer_term (marked, len + 1, position, field->writer);
}

int
mem_index_writer_add_field (mem_index_writer_t *self, uint32_t agent, uint64_t id,
                            uint8_t field, const char *text, size_t len)
{
    if (self->cur_agent != agent || self->cur_id != id)
        return -1;   //  a caller bug: fields follow their record's text
    uint32_t start = self->n_postings;
    s_field_arg_t arg = {self, field, 0};
    mem_tokenize (text, len, s_field_term, &arg);
    if (self->oom)
        return -1;
    //  dl of a field posting: the field's length (scored without length norm).
    for (uint32_t i = start; i < self->n_postings; i++) {
        uint8_t *value = self->postings[i].value;
        s_posting_make (value, id, s_posting_tf (value), arg.count);
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Segment catalog: one entry per segment, keyed agent + segment number.
//  Segment numbers are global and only grow, so a new segment's postings
//  (keyed segment + term) always sort after every existing key.

enum { SEG_READY, SEG_MERGING, SEG_DROPPING };

typedef struct {
    uint64_t first_id, last_id;   //  id range the segment covers
    uint64_t docs;                //  records in it (for the merge policy)
    uint64_t delete_seq;          //  merging: deletes up to this one are dropped by it
    uint32_t state;               //  SEG_READY, or building from sources
    uint32_t n_sources;
    uint32_t sources[MERGE_MAX];  //  oldest first
    uint32_t cursor_len;          //  merging: terms up to cursor are merged (none if 0)
    uint8_t cursor[MEM_TERM_MAX];
} s_seg_info_t;

typedef struct {
    uint32_t id;
    s_seg_info_t info;
} s_seg_t;

static void
s_cat_key (uint8_t *k, uint32_t agent, uint32_t segment)
{
    mem_put_u32be (k, agent);
    mem_put_u32be (k + 4, segment);
}

//  segment (u32 BE) + term: a postings key; returns its length.
static size_t
s_post_key (uint8_t *k, uint32_t segment, const void *term, size_t len)
{
    mem_put_u32be (k, segment);
    memcpy (k + 4, term, len);
    return 4 + len;
}

static int
s_seg_put (mem_store_t *store, MDB_txn *txn, uint32_t agent, const s_seg_t *seg)
{
    uint8_t k[8];
    s_cat_key (k, agent, seg->id);
    MDB_val key = {8, k}, val = {sizeof seg->info, (void *) &seg->info};
    return MEM_MDB (mdb_put (txn, mem_store_dbi (store, MEM_DB_SEGMENTS), &key, &val, 0));
}

static int
s_seg_cmp (const void *a, const void *b)
{
    const s_seg_t *x = a, *y = b;
    if (x->info.first_id != y->info.first_id)
        return x->info.first_id < y->info.first_id ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

//  Loads an agent's segments ordered by id range (a segment being built
//  sorts right after its first source). *segs is malloc'ed; free it.
static int
s_catalog_load (mem_store_t *store, MDB_txn *txn, uint32_t agent, s_seg_t **segs, unsigned *n)
{
    *segs = NULL;
    *n = 0;
    MDB_cursor *cursor;
    int rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, MEM_DB_SEGMENTS), &cursor));
    if (rc)
        return rc;
    uint8_t k[8];
    s_cat_key (k, agent, 0);
    MDB_val key = {8, k}, val;
    size_t cap = 0;
    for (rc = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT)) {
        if (key.mv_size != 8 || mem_get_u32be (key.mv_data) != agent)
            break;
        if (val.mv_size != sizeof (s_seg_info_t)) {
            rc = MDB_CORRUPTED;
            break;
        }
        if (!s_grow ((void **) segs, &cap, *n + 1, sizeof **segs)) {
            rc = ENOMEM;
            break;
        }
        (*segs)[*n].id = mem_get_u32be ((uint8_t *) key.mv_data + 4);
        memcpy (&(*segs)[*n].info, val.mv_data, sizeof (s_seg_info_t));
        (*n)++;
    }
    mdb_cursor_close (cursor);
    if (rc == MDB_NOTFOUND)
        rc = 0;
    if (rc) {
        free (*segs);
        *segs = NULL;
        *n = 0;
        return MEM_MDB (rc);
    }
    qsort (*segs, *n, sizeof **segs, s_seg_cmp);
    return 0;
}

int
mem_index_segment_count (mem_store_t *store, MDB_txn *txn, uint32_t agent, unsigned *count)
{
    s_seg_t *segs;
    int rc = s_catalog_load (store, txn, agent, &segs, count);
    free (segs);
    return rc;
}

static int
s_term_cmp (const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    int c = memcmp (a, b, alen < blen ? alen : blen);
    return c ? c : (int) alen - (int) blen;
}

//  While a segment is built from sources, each term lives either in it
//  (merged: up to its cursor, or all of it once the sources are being
//  dropped) or in the sources, never both as far as readers can tell.
//  Returns which segments of the catalog a reader uses for term.
static void
s_catalog_pick (const s_seg_t *segs, unsigned n, const uint8_t *term, size_t len, bool *use)
{
    for (unsigned i = 0; i < n; i++)
        use[i] = true;
    for (unsigned i = 0; i < n; i++) {
        const s_seg_info_t *m = &segs[i].info;
        if (m->state == SEG_READY)
            continue;
        bool merged = m->state == SEG_DROPPING
                   || (m->cursor_len && s_term_cmp (term, len, m->cursor, m->cursor_len) <= 0);
        use[i] = merged;
        for (unsigned j = 0; j < n; j++)
            for (unsigned s = 0; s < m->n_sources; s++)
                if (segs[j].id == m->sources[s])
                    use[j] = !merged;
    }
}

static void
s_mark_dirty (mem_index_writer_t *self, uint32_t agent)
{
    for (size_t i = 0; i < self->n_dirty; i++)
        if (self->dirty[i] == agent)
            return;
    if (s_grow ((void **) &self->dirty, &self->dirty_cap, self->n_dirty + 1, sizeof *self->dirty))
        self->dirty[self->n_dirty++] = agent;
}

//  --------------------------------------------------------------------------
//  Statistics

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

static int
s_stats_add (mem_store_t *store, MDB_txn *txn, uint32_t agent, int64_t docs, int64_t len,
             int64_t pending)
{
    mem_agent_stats_t stats;
    int rc = mem_index_stats (store, txn, agent, &stats);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    stats.docs += (uint64_t) docs;
    stats.total_len += (uint64_t) len;
    stats.pending += (uint64_t) pending;
    uint8_t k[4];
    mem_put_u32be (k, agent);
    MDB_val key = {4, k}, val = {sizeof stats, &stats};
    return MEM_MDB (mdb_put (txn, mem_store_dbi (store, MEM_DB_TERMSTATS), &key, &val, 0));
}

static uint32_t
s_next_segment (mem_store_t *store, MDB_txn *txn, int *rc)
{
    uint32_t segment = (uint32_t) (mem_store_counter_get (txn, store, "next_segment") + 1);
    *rc = mem_store_counter_add (txn, store, "next_segment", 1);
    return segment;
}

//  Puts a postings value: appended when the key is the largest so far
//  (always for a flush; for a merge until a newer segment exists).
static int
s_post_put (MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *val, unsigned flags)
{
    int rc = mdb_put (txn, dbi, key, val, flags | MDB_APPEND);
    if (rc == MDB_KEYEXIST)
        rc = mdb_put (txn, dbi, key, val, flags);
    return MEM_MDB (rc);
}

//  --------------------------------------------------------------------------
//  Flush: the buffered postings become one new segment per agent.

//  Orders term slots by key (agent, term) so segments are written in order.
static const uint8_t *s_sort_arena;
static const s_term_t *s_sort_slots;
static int
s_slot_cmp (const void *a, const void *b)
{
    const s_term_t *x = &s_sort_slots[*(const uint32_t *) a];
    const s_term_t *y = &s_sort_slots[*(const uint32_t *) b];
    return s_term_cmp (s_sort_arena + x->key_off, x->key_len, s_sort_arena + y->key_off,
                       y->key_len);
}

static int
s_delta_cmp (const void *a, const void *b)
{
    uint32_t x = ((const s_stats_delta_t *) a)->agent, y = ((const s_stats_delta_t *) b)->agent;
    return x < y ? -1 : x > y;
}

int
mem_index_writer_flush (mem_index_writer_t *self, MDB_txn *txn)
{
    if (self->oom) {
        mem_index_writer_reset (self);
        return ENOMEM;
    }
    if (self->n_deltas == 0)
        return 0;   //  nothing buffered (a forget flushes before it reads)
    mem_store_t *store = self->store;
    int rc = 0;
    //  New segments in agent order, so keys ascend through the whole flush.
    qsort (self->deltas, self->n_deltas, sizeof *self->deltas, s_delta_cmp);
    for (size_t d = 0; d < self->n_deltas && !rc; d++)
        self->deltas[d].segment = s_next_segment (store, txn, &rc);
    //  qsort has no context argument in C11; the writer is used by one thread.
    s_sort_arena = self->arena;
    s_sort_slots = self->slots;
    qsort (self->used, self->n_used, sizeof *self->used, s_slot_cmp);
    MDB_dbi dbi = mem_store_dbi (store, MEM_DB_POSTINGS);
    size_t d = 0;
    for (uint32_t u = 0; u < self->n_used && !rc; u++) {
        s_term_t *slot = &self->slots[self->used[u]];
        const uint8_t *term_key = self->arena + slot->key_off;
        uint32_t agent = mem_get_u32be (term_key);
        while (self->deltas[d].agent != agent)
            d++;
        uint8_t k[SEG_KEY_MAX];
        MDB_val key = {s_post_key (k, self->deltas[d].segment, term_key + 4, slot->key_len - 4), k};
        MDB_val val = {HEADER_SIZE + (size_t) slot->count * POSTING_SIZE, NULL};
        if ((rc = MEM_MDB (mdb_put (txn, dbi, &key, &val, MDB_RESERVE | MDB_APPEND))))
            break;
        uint8_t *out = (uint8_t *) val.mv_data + HEADER_SIZE;
        unsigned max_tf = 0, min_dl = 0xFFFF;
        for (uint32_t p = slot->first; p != UINT32_MAX;
             p = self->postings[p].next, out += POSTING_SIZE) {
            memcpy (out, self->postings[p].value, POSTING_SIZE);
            s_header_scan (out, 1, &max_tf, &min_dl);
        }
        s_header_make (val.mv_data, max_tf, min_dl);
    }
    for (d = 0; d < self->n_deltas && !rc; d++) {
        s_stats_delta_t *delta = &self->deltas[d];
        s_seg_t seg = {delta->segment, {delta->first_id, delta->last_id, (uint64_t) delta->docs,
                                        0, SEG_READY, 0, {0}, 0, {0}}};
        if (!(rc = s_seg_put (store, txn, delta->agent, &seg)))
            rc = s_stats_add (store, txn, delta->agent, delta->docs, delta->len, 0);
        s_mark_dirty (self, delta->agent);
    }
    mem_index_writer_reset (self);
    return rc;
}

//  --------------------------------------------------------------------------
//  Forget and merge

int
mem_index_remove (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint64_t id,
                  unsigned doc_len)
{
    //  The sequence number tells a merge in progress which deletes it saw
    //  from its start (and so dropped from every term).
    uint64_t seq = mem_store_counter_get (txn, store, "delete_seq") + 1;
    int rc = mem_store_counter_add (txn, store, "delete_seq", 1);
    if (rc)
        return rc;
    uint8_t k[12];
    mem_put_u32be (k, agent);
    mem_put_u64be (k + 4, id);
    MDB_val key = {12, k}, val = {sizeof seq, &seq};
    rc = MEM_MDB (mdb_put (txn, mem_store_dbi (store, MEM_DB_DELETED), &key, &val, 0));
    if (rc)
        return rc;
    return s_stats_add (store, txn, agent, -1, -(int64_t) doc_len, 1);
}

//  Ids in the deleted set within [first, last] for agent, ascending, with
//  their delete sequence numbers.
static int
s_deleted_range (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint64_t first, uint64_t last,
                 uint64_t **ids, uint64_t **seqs, size_t *n)
{
    *ids = NULL;
    *seqs = NULL;
    *n = 0;
    size_t cap = 0, seq_cap = 0;
    MDB_cursor *cursor;
    int rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, MEM_DB_DELETED), &cursor));
    if (rc)
        return rc;
    uint8_t k[12];
    mem_put_u32be (k, agent);
    mem_put_u64be (k + 4, first);
    MDB_val key = {12, k}, val;
    for (rc = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT)) {
        if (key.mv_size != 12 || mem_get_u32be (key.mv_data) != agent)
            break;
        uint64_t id = mem_get_u64be ((uint8_t *) key.mv_data + 4);
        if (id > last)
            break;
        if (!s_grow ((void **) ids, &cap, *n + 1, sizeof **ids)
            || !s_grow ((void **) seqs, &seq_cap, *n + 1, sizeof **seqs)) {
            rc = ENOMEM;
            break;
        }
        uint64_t seq = 0;
        if (val.mv_size == sizeof seq)
            memcpy (&seq, val.mv_data, sizeof seq);
        (*seqs)[*n] = seq;
        (*ids)[(*n)++] = id;
    }
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND ? 0 : MEM_MDB (rc);
}

static bool
s_in_sorted (const uint64_t *ids, size_t n, uint64_t id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && ids[lo] == id;
}

//  Appends a stored value's postings to the merge buffer (after its
//  header slot), leaving out deleted ids.
static int
s_merge_append (mem_index_writer_t *self, size_t *used, const MDB_val *value,
                const uint64_t *deleted, size_t n_deleted)
{
    if (value->mv_size < HEADER_SIZE)
        return MDB_CORRUPTED;
    MDB_val run = {value->mv_size - HEADER_SIZE, (uint8_t *) value->mv_data + HEADER_SIZE};
    if (!s_grow ((void **) &self->merge_buf, &self->merge_cap, *used + run.mv_size, 1))
        return ENOMEM;
    const uint8_t *p = run.mv_data;
    size_t n = run.mv_size / POSTING_SIZE;
    if (!n_deleted) {
        memcpy (self->merge_buf + *used, p, run.mv_size);
        *used += run.mv_size;
        return 0;
    }
    for (size_t i = 0; i < n; i++, p += POSTING_SIZE)
        if (!s_in_sorted (deleted, n_deleted, s_posting_id (p))) {
            memcpy (self->merge_buf + *used, p, POSTING_SIZE);
            *used += POSTING_SIZE;
        }
    return 0;
}

//  A source's cursor, positioned at its next unmerged term. The term is
//  copied: a put may move bytes within a page this txn already dirtied.
typedef struct {
    MDB_cursor *cursor;
    uint32_t segment;
    uint8_t term[MEM_TERM_MAX];
    size_t len;
    bool done;
} s_source_t;

static int
s_source_check (s_source_t *src, int rc, const MDB_val *key)
{
    if (rc == 0 && (key->mv_size < 4 || key->mv_size - 4 > MEM_TERM_MAX
                    || mem_get_u32be (key->mv_data) != src->segment))
        rc = MDB_NOTFOUND;
    src->done = rc != 0;
    if (rc == 0) {
        src->len = key->mv_size - 4;
        memcpy (src->term, (uint8_t *) key->mv_data + 4, src->len);
    }
    return rc == MDB_NOTFOUND ? 0 : MEM_MDB (rc);
}

//  Positions at the first term after `after` (or the first term at all).
static int
s_source_open (s_source_t *src, MDB_txn *txn, MDB_dbi dbi, const uint8_t *after, size_t len)
{
    int rc = MEM_MDB (mdb_cursor_open (txn, dbi, &src->cursor));
    if (rc)
        return rc;
    uint8_t k[SEG_KEY_MAX + 1];
    size_t klen = s_post_key (k, src->segment, after, len);
    if (len)
        k[klen++] = 0;   //  terms hold no NUL: this sorts right after `after`
    MDB_val key = {klen, k}, val;
    return s_source_check (src, mdb_cursor_get (src->cursor, &key, &val, MDB_SET_RANGE), &key);
}

//  Builds seg from its sources, term by term in order, up to the budget.
static int
s_merge_terms (mem_index_writer_t *self, MDB_txn *txn, uint32_t agent, s_seg_t *seg)
{
    mem_store_t *store = self->store;
    MDB_dbi dbi = mem_store_dbi (store, MEM_DB_POSTINGS);
    uint64_t *deleted, *seqs;
    size_t n_deleted;
    int rc = s_deleted_range (store, txn, agent, seg->info.first_id, seg->info.last_id, &deleted,
                              &seqs, &n_deleted);
    free (seqs);
    if (rc)
        return rc;
    s_source_t src[MERGE_MAX] = {{0}};
    unsigned n = seg->info.n_sources;
    for (unsigned i = 0; i < n && !rc; i++) {
        src[i].segment = seg->info.sources[i];
        rc = s_source_open (&src[i], txn, dbi, seg->info.cursor, seg->info.cursor_len);
    }
    size_t written = 0;
    while (!rc && written < self->merge_budget) {
        //  The smallest next term among the sources.
        const uint8_t *term = NULL;
        size_t len = 0;
        for (unsigned i = 0; i < n; i++)
            if (!src[i].done && (!term || s_term_cmp (src[i].term, src[i].len, term, len) < 0)) {
                term = src[i].term;
                len = src[i].len;
            }
        if (!term) {
            seg->info.state = SEG_DROPPING;
            break;
        }
        uint8_t t[MEM_TERM_MAX];
        memcpy (t, term, len);
        //  Sources are oldest first, so their runs concatenate in id order.
        size_t used = HEADER_SIZE;
        if (!s_grow ((void **) &self->merge_buf, &self->merge_cap, HEADER_SIZE, 1))
            rc = ENOMEM;
        for (unsigned i = 0; i < n && !rc; i++) {
            if (src[i].done || s_term_cmp (src[i].term, src[i].len, t, len) != 0)
                continue;
            MDB_val key, val;
            rc = MEM_MDB (mdb_cursor_get (src[i].cursor, &key, &val, MDB_GET_CURRENT));
            if (!rc)
                rc = s_merge_append (self, &used, &val, deleted, n_deleted);
            if (!rc)
                rc = s_source_check (&src[i], mdb_cursor_get (src[i].cursor, &key, &val, MDB_NEXT),
                                     &key);
        }
        if (!rc && used > HEADER_SIZE) {
            unsigned max_tf = 0, min_dl = 0xFFFF;
            s_header_scan (self->merge_buf + HEADER_SIZE, (used - HEADER_SIZE) / POSTING_SIZE,
                           &max_tf, &min_dl);
            s_header_make (self->merge_buf, max_tf, min_dl);
            uint8_t k[SEG_KEY_MAX];
            MDB_val key = {s_post_key (k, seg->id, t, len), k}, val = {used, self->merge_buf};
            rc = s_post_put (txn, dbi, &key, &val, 0);
        }
        memcpy (seg->info.cursor, t, len);
        seg->info.cursor_len = (uint32_t) len;
        written += used + 64;   //  a key costs something even when its value is small
    }
    for (unsigned i = 0; i < n; i++)
        if (src[i].cursor)
            mdb_cursor_close (src[i].cursor);
    free (deleted);
    return rc;
}

//  Deletes the sources' postings, up to the budget; once they are gone,
//  their catalog entries and the deletes this merge saw from its first
//  step go too (later deletes stay pending for a later merge).
static int
s_merge_drop (mem_index_writer_t *self, MDB_txn *txn, uint32_t agent, s_seg_t *seg)
{
    mem_store_t *store = self->store;
    MDB_dbi dbi = mem_store_dbi (store, MEM_DB_POSTINGS);
    MDB_cursor *cursor;
    int rc = MEM_MDB (mdb_cursor_open (txn, dbi, &cursor));
    size_t budget = self->merge_budget / 64 + 1;   //  keys deleted in this step
    bool empty = true;
    for (unsigned i = 0; i < seg->info.n_sources && !rc; i++) {
        uint8_t k[4];
        mem_put_u32be (k, seg->info.sources[i]);
        for (;;) {
            MDB_val key = {4, k}, val;
            int r = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE);
            if (r == MDB_NOTFOUND || (r == 0 && memcmp (key.mv_data, k, 4) != 0))
                break;
            if (r || budget-- == 0) {
                rc = r ? MEM_MDB (r) : 0;
                empty = false;
                break;
            }
            if ((rc = MEM_MDB (mdb_cursor_del (cursor, 0))))
                break;
        }
        if (!empty)
            break;
    }
    mdb_cursor_close (cursor);
    if (rc || !empty)
        return rc;

    MDB_dbi segments = mem_store_dbi (store, MEM_DB_SEGMENTS);
    for (unsigned i = 0; i < seg->info.n_sources && !rc; i++) {
        uint8_t k[8];
        s_cat_key (k, agent, seg->info.sources[i]);
        MDB_val key = {8, k};
        rc = MEM_MDB (mdb_del (txn, segments, &key, NULL));
    }
    uint64_t *deleted, *seqs;
    size_t n_deleted, dropped = 0;
    if (!rc)
        rc = s_deleted_range (store, txn, agent, seg->info.first_id, seg->info.last_id, &deleted,
                              &seqs, &n_deleted);
    if (rc)
        return rc;
    MDB_dbi deleted_dbi = mem_store_dbi (store, MEM_DB_DELETED);
    for (size_t i = 0; i < n_deleted && !rc; i++) {
        if (seqs[i] > seg->info.delete_seq)
            continue;
        uint8_t k[12];
        mem_put_u32be (k, agent);
        mem_put_u64be (k + 4, deleted[i]);
        MDB_val key = {12, k};
        rc = MEM_MDB (mdb_del (txn, deleted_dbi, &key, NULL));
        dropped++;
    }
    free (deleted);
    free (seqs);
    if (!rc && dropped)
        rc = s_stats_add (store, txn, agent, 0, 0, -(int64_t) dropped);
    seg->info.state = SEG_READY;
    seg->info.n_sources = 0;
    seg->info.cursor_len = 0;
    seg->info.docs -= dropped < seg->info.docs ? dropped : seg->info.docs;
    return rc;
}

//  Size tier of a segment: merges combine MERGE_WAYS segments of one tier.
static unsigned
s_tier (uint64_t docs)
{
    unsigned tier = 0;
    while (docs >= MERGE_WAYS) {
        docs /= MERGE_WAYS;
        tier++;
    }
    return tier;
}

//  Sets up seg to be built from segs[from .. from+count), adjacent and oldest first.
static int
s_merge_start (mem_store_t *store, MDB_txn *txn, const s_seg_t *segs, unsigned from,
               unsigned count, s_seg_t *seg)
{
    int rc;
    memset (seg, 0, sizeof *seg);
    seg->id = s_next_segment (store, txn, &rc);
    seg->info.first_id = segs[from].info.first_id;
    seg->info.last_id = segs[from + count - 1].info.last_id;
    seg->info.delete_seq = mem_store_counter_get (txn, store, "delete_seq");
    seg->info.state = SEG_MERGING;
    seg->info.n_sources = count;
    for (unsigned i = 0; i < count; i++) {
        seg->info.sources[i] = segs[from + i].id;
        seg->info.docs += segs[from + i].info.docs;
    }
    return rc;
}

//  One merge step for agent: continue the merge in progress; or start one
//  when the newest MERGE_WAYS segments share a tier; or, when the writer is
//  idle, fold every segment below the largest tier into one, so a quiet
//  store answers each query term from few segments. *more: work remains.
static int
s_merge_agent (mem_index_writer_t *self, MDB_txn *txn, uint32_t agent, bool idle, bool *more)
{
    mem_store_t *store = self->store;
    s_seg_t *segs;
    unsigned n;
    int rc = s_catalog_load (store, txn, agent, &segs, &n);
    *more = false;
    if (rc)
        return rc;
    s_seg_t seg = {0};
    bool found = false;
    for (unsigned i = 0; i < n && !found; i++)
        if (segs[i].info.state != SEG_READY) {
            seg = segs[i];
            found = true;
        }
    if (!found && n >= 2) {
        //  Any MERGE_WAYS adjacent segments of one tier, newest first: new
        //  flushes keep arriving at the tail, so older tiers must not wait
        //  for the tail to be theirs.
        unsigned top = 0, tail = 0, end = n;
        while (end >= MERGE_WAYS && !found) {
            unsigned tier = s_tier (segs[end - 1].info.docs), run = 0;
            while (run < end && s_tier (segs[end - 1 - run].info.docs) == tier)
                run++;
            if (run >= MERGE_WAYS) {
                rc = s_merge_start (store, txn, segs, end - run, MERGE_WAYS, &seg);
                found = !rc;
            }
            end -= run;
        }
        for (unsigned i = 0; i < n; i++)
            if (s_tier (segs[i].info.docs) > top)
                top = s_tier (segs[i].info.docs);
        while (tail < n && s_tier (segs[n - 1 - tail].info.docs) < top)
            tail++;
        if (!found && !rc && idle && tail >= 2) {
            unsigned count = tail < MERGE_MAX ? tail : MERGE_MAX;
            rc = s_merge_start (store, txn, segs, n - tail, count, &seg);
            found = !rc;
        }
    }
    free (segs);
    if (!found)
        return rc;
    if (seg.info.state == SEG_MERGING)
        rc = s_merge_terms (self, txn, agent, &seg);
    else
        rc = s_merge_drop (self, txn, agent, &seg);
    if (!rc)
        rc = s_seg_put (store, txn, agent, &seg);
    *more = true;   //  done or not, the result may now merge with its tier
    return rc;
}

void
mem_index_writer_set_merge_budget (mem_index_writer_t *self, size_t bytes)
{
    self->merge_budget = bytes;
}

bool
mem_index_merge_pending (mem_index_writer_t *self)
{
    return self->n_dirty > 0;
}

int
mem_index_merge_step (mem_index_writer_t *self, MDB_txn *txn, bool idle, bool *worked)
{
    //  Each agent gets one look: work is done, or the agent is set aside
    //  (dropped when idle found nothing either; kept for later otherwise).
    *worked = false;
    for (size_t tries = self->n_dirty; tries > 0 && self->n_dirty; tries--) {
        uint32_t agent = self->dirty[0];
        bool more;
        int rc = s_merge_agent (self, txn, agent, idle, &more);
        if (more && !rc) {
            *worked = true;
            return 0;
        }
        memmove (self->dirty, self->dirty + 1, (self->n_dirty - 1) * sizeof *self->dirty);
        self->n_dirty--;
        if (rc)
            return rc;   //  its next flush marks it again
        if (!idle)
            self->dirty[self->n_dirty++] = agent;   //  back of the line, for an idle moment
    }
    return 0;
}

//  Vacuum for one agent: continue its merge in progress, else rewrite the
//  oldest segment that still holds forgotten postings (a merge of one
//  source, which drops them). *worked: a step was done.
static int
s_vacuum_agent (mem_index_writer_t *self, MDB_txn *txn, uint32_t agent, bool *worked)
{
    mem_store_t *store = self->store;
    s_seg_t *segs;
    unsigned n;
    int rc = s_catalog_load (store, txn, agent, &segs, &n);
    *worked = false;
    if (rc)
        return rc;
    s_seg_t seg = {0};
    bool found = false;
    for (unsigned i = 0; i < n && !found; i++)
        if (segs[i].info.state != SEG_READY) {
            seg = segs[i];
            found = true;
        }
    for (unsigned i = 0; i < n && !found && !rc; i++) {
        uint64_t *ids, *seqs;
        size_t n_ids;
        rc = s_deleted_range (store, txn, agent, segs[i].info.first_id, segs[i].info.last_id,
                              &ids, &seqs, &n_ids);
        free (ids);
        free (seqs);
        if (!rc && n_ids) {
            rc = s_merge_start (store, txn, segs, i, 1, &seg);
            found = !rc;
        }
    }
    free (segs);
    if (!found || rc)
        return rc;
    if (seg.info.state == SEG_MERGING)
        rc = s_merge_terms (self, txn, agent, &seg);
    else
        rc = s_merge_drop (self, txn, agent, &seg);
    if (!rc)
        rc = s_seg_put (store, txn, agent, &seg);
    if (!rc)
        s_mark_dirty (self, agent);   //  the rewritten segment may merge with its tier
    *worked = !rc;
    return rc;
}

int
mem_index_vacuum_step (mem_index_writer_t *self, MDB_txn *txn, bool *worked)
{
    *worked = false;
    MDB_cursor *cursor;
    int rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (self->store, MEM_DB_TERMSTATS), &cursor));
    if (rc)
        return rc;
    //  Agents with forgotten postings, collected first: the step writes
    //  termstats, which would invalidate this cursor.
    uint32_t agents[64];
    size_t n = 0;
    MDB_val key, val;
    while (n < 64 && (rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT)) == 0) {
        mem_agent_stats_t stats;
        if (key.mv_size != 4 || val.mv_size != sizeof stats)
            continue;
        memcpy (&stats, val.mv_data, sizeof stats);
        if (stats.pending)
            agents[n++] = mem_get_u32be (key.mv_data);
    }
    mdb_cursor_close (cursor);
    if (rc && rc != MDB_NOTFOUND)
        return MEM_MDB (rc);
    rc = 0;
    for (size_t i = 0; i < n && !*worked && !rc; i++)
        rc = s_vacuum_agent (self, txn, agents[i], worked);
    return rc;
}

static bool s_is_deleted (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint64_t id);

//  Verify: every posting of every catalogued segment, against docmeta and
//  the deleted set; postings of segments the catalog does not know.
static int
s_verify_segment (mem_store_t *store, MDB_txn *txn, uint32_t agent, const s_seg_t *seg,
                  mem_index_problem_fn *problem, void *arg, uint64_t *postings)
{
    MDB_cursor *cursor;
    int rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, MEM_DB_POSTINGS), &cursor));
    if (rc)
        return rc;
    uint8_t k[4];
    mem_put_u32be (k, seg->id);
    MDB_val key = {4, k}, val;
    char text[256];
    for (rc = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT)) {
        if (key.mv_size < 4 || memcmp (key.mv_data, k, 4) != 0)
            break;
        int term_len = (int) (key.mv_size - 4);
        const char *term = (const char *) key.mv_data + 4;
        if (val.mv_size < HEADER_SIZE || (val.mv_size - HEADER_SIZE) % POSTING_SIZE) {
            snprintf (text, sizeof text, "segment %u term '%.*s': postings of %zu bytes",
                      seg->id, term_len, term, val.mv_size);
            problem (arg, text);
            continue;
        }
        const uint8_t *p = (const uint8_t *) val.mv_data + HEADER_SIZE;
        size_t n = (val.mv_size - HEADER_SIZE) / POSTING_SIZE;
        uint64_t prev = 0;
        for (size_t i = 0; i < n; i++, p += POSTING_SIZE) {
            uint64_t id = s_posting_id (p);
            const char *wrong = NULL;
            mem_docmeta_view_t meta;
            if (id <= prev)
                wrong = "out of order";
            else if (id < seg->info.first_id || id > seg->info.last_id)
                wrong = "outside the segment's id range";
            else if (mem_index_docmeta_view (store, txn, id, &meta))
                wrong = "has no record";
            else if (meta.agent != agent)
                wrong = "belongs to another agent";
            else if (meta.tombstoned && !s_is_deleted (store, txn, agent, id))
                wrong = "is forgotten but not in the deleted set";
            if (wrong) {
                snprintf (text, sizeof text, "segment %u term '%.*s': posting for record %llu %s",
                          seg->id, term_len, term, (unsigned long long) id, wrong);
                problem (arg, text);
            }
            prev = id;
        }
        *postings += n;
    }
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : MEM_MDB (rc);
}

int
mem_index_verify (mem_store_t *store, MDB_txn *txn, mem_index_problem_fn *problem, void *arg,
                  uint64_t *postings)
{
    *postings = 0;
    MDB_cursor *cursor;
    int rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, MEM_DB_SEGMENTS), &cursor));
    if (rc)
        return rc;
    uint32_t *known = NULL;
    size_t n_known = 0, cap = 0;
    MDB_val key, val;
    while ((rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT)) == 0) {
        if (key.mv_size != 8 || val.mv_size != sizeof (s_seg_info_t)) {
            problem (arg, "segments: an entry of the wrong size");
            continue;
        }
        s_seg_t seg;
        seg.id = mem_get_u32be ((uint8_t *) key.mv_data + 4);
        memcpy (&seg.info, val.mv_data, sizeof seg.info);
        if (!s_grow ((void **) &known, &cap, n_known + 1, sizeof *known)) {
            rc = ENOMEM;
            break;
        }
        known[n_known++] = seg.id;
        //  A cursor of another table is unaffected: reads only.
        rc = s_verify_segment (store, txn, mem_get_u32be (key.mv_data), &seg, problem, arg,
                               postings);
        if (rc)
            break;
    }
    mdb_cursor_close (cursor);
    if (rc && rc != MDB_NOTFOUND) {
        free (known);
        return MEM_MDB (rc);
    }
    //  Postings whose segment is not in the catalog (one look per segment prefix).
    rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, MEM_DB_POSTINGS), &cursor));
    uint32_t segment = 0;
    for (int r = rc ? MDB_NOTFOUND : mdb_cursor_get (cursor, &key, &val, MDB_FIRST); r == 0;) {
        if (key.mv_size < 4)
            break;
        segment = mem_get_u32be (key.mv_data);
        bool found = false;
        for (size_t i = 0; i < n_known && !found; i++)
            found = known[i] == segment;
        if (!found) {
            char text[128];
            snprintf (text, sizeof text, "postings of segment %u, which no agent's catalog has",
                      segment);
            problem (arg, text);
        }
        if (segment == UINT32_MAX)
            break;
        uint8_t k[4];
        mem_put_u32be (k, segment + 1);
        key = (MDB_val){4, k};
        r = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE);
    }
    if (!rc)
        mdb_cursor_close (cursor);
    free (known);
    return rc;
}

int
mem_index_verify_docs (mem_store_t *store, MDB_txn *txn, mem_index_doc_fn *fn, void *arg)
{
    //  First the agents with a merge in progress: a term may then be in a
    //  source and in the merged segment at once, so counts are not exact.
    MDB_cursor *cat;
    int rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, MEM_DB_SEGMENTS), &cat));
    if (rc)
        return rc;
    uint32_t *merging = NULL;
    size_t n_merging = 0, cap = 0;
    MDB_val key, val;
    while ((rc = mdb_cursor_get (cat, &key, &val, MDB_NEXT)) == 0) {
        s_seg_info_t info;
        if (key.mv_size != 8 || val.mv_size != sizeof info)
            continue;   //  mem_index_verify reports these
        memcpy (&info, val.mv_data, sizeof info);
        if (info.state != SEG_READY) {
            if (!s_grow ((void **) &merging, &cap, n_merging + 1, sizeof *merging)) {
                rc = ENOMEM;
                break;
            }
            merging[n_merging++] = mem_get_u32be (key.mv_data);
        }
    }
    if (rc != MDB_NOTFOUND) {
        mdb_cursor_close (cat);
        free (merging);
        return MEM_MDB (rc);
    }
    MDB_cursor *cursor;
    rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, MEM_DB_POSTINGS), &cursor));
    for (int r = rc ? MDB_NOTFOUND : mdb_cursor_get (cat, &key, &val, MDB_FIRST); r == 0;
         r = mdb_cursor_get (cat, &key, &val, MDB_NEXT)) {
        if (key.mv_size != 8)
            continue;
        uint32_t agent = mem_get_u32be (key.mv_data);
        bool exact = true;
        for (size_t i = 0; i < n_merging; i++)
            exact = exact && merging[i] != agent;
        uint8_t k[4];
        memcpy (k, (uint8_t *) key.mv_data + 4, 4);
        MDB_val pkey = {4, k}, pval;
        for (r = mdb_cursor_get (cursor, &pkey, &pval, MDB_SET_RANGE);
             r == 0 && pkey.mv_size >= 4 && memcmp (pkey.mv_data, k, 4) == 0;
             r = mdb_cursor_get (cursor, &pkey, &pval, MDB_NEXT)) {
            if (pval.mv_size < HEADER_SIZE || (pval.mv_size - HEADER_SIZE) % POSTING_SIZE)
                continue;   //  mem_index_verify reports these
            if (pkey.mv_size > 4 && ((const uint8_t *) pkey.mv_data)[4] <= MEM_FIELD_TAG)
                continue;   //  a field's term (speaker, tag): not counted in the text's length
            const uint8_t *p = (const uint8_t *) pval.mv_data + HEADER_SIZE;
            size_t n = (pval.mv_size - HEADER_SIZE) / POSTING_SIZE;
            for (size_t i = 0; i < n; i++, p += POSTING_SIZE)
                fn (arg, agent, s_posting_id (p), s_posting_tf (p), s_posting_dl (p), exact);
        }
        if (r != 0 && r != MDB_NOTFOUND) {
            rc = MEM_MDB (r);
            break;
        }
    }
    if (!rc)
        mdb_cursor_close (cursor);
    mdb_cursor_close (cat);
    free (merging);
    return rc;
}

int
mem_index_writer_recover (mem_index_writer_t *self, MDB_txn *txn)
{
    //  Every agent with more than one segment is a candidate; the policy
    //  decides cheaply whether it has work.
    MDB_cursor *cursor;
    int rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (self->store, MEM_DB_SEGMENTS), &cursor));
    if (rc)
        return rc;
    MDB_val key, val;
    uint32_t last = 0;
    unsigned count = 0;
    while ((rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT)) == 0) {
        uint32_t agent = key.mv_size == 8 ? mem_get_u32be (key.mv_data) : 0;
        count = agent == last ? count + 1 : 1;
        last = agent;
        if (count == 2)
            s_mark_dirty (self, agent);
    }
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND ? 0 : MEM_MDB (rc);
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

//  --------------------------------------------------------------------------
//  Search: one iterator per query term over its runs (one per segment
//  holding the term, in id order), walked document at a time.

#define QUERY_LISTS 256   //  iterators: terms with their prefix expansions

typedef struct {
    const uint8_t *p;
    size_t n;
} s_run_t;

typedef struct {
    s_run_t *runs;           //  this term's runs, in id order
    unsigned n_runs, r;      //  current run
    size_t i;                //  current posting in the run
    uint64_t doc;            //  current record id; UINT64_MAX when exhausted
    double idf, weight, ub;  //  ub: the most this term can add to a score
    bool field;              //  a field term: no length normalisation
    uint8_t len, from_len;   //  from_len: the prefix it expands (0: none)
    char term[MEM_TERM_MAX];
} s_plist_t;

static inline const uint8_t *
s_plist_at (const s_plist_t *l)
{
    return l->runs[l->r].p + l->i * POSTING_SIZE;
}

static inline void
s_plist_next (s_plist_t *l)
{
    if (++l->i >= l->runs[l->r].n) {
        l->i = 0;
        if (++l->r >= l->n_runs) {
            l->doc = UINT64_MAX;
            return;
        }
    }
    l->doc = s_posting_id (s_plist_at (l));
}

//  Moves to the first posting with id >= target.
static void
s_plist_seek (s_plist_t *l, uint64_t target)
{
    if (l->doc >= target)
        return;
    while (s_posting_id (l->runs[l->r].p + (l->runs[l->r].n - 1) * POSTING_SIZE) < target) {
        l->i = 0;
        if (++l->r >= l->n_runs) {
            l->doc = UINT64_MAX;
            return;
        }
    }
    const uint8_t *p = l->runs[l->r].p;
    size_t lo = l->i, hi = l->runs[l->r].n - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s_posting_id (p + mid * POSTING_SIZE) < target)
            lo = mid + 1;
        else
            hi = mid;
    }
    l->i = lo;
    l->doc = s_posting_id (p + lo * POSTING_SIZE);
}

static inline double
s_bm25 (double weight, double idf, double tf, double dl, double avgdl, bool field)
{
    double norm = field ? MEM_BM25_K1 : MEM_BM25_K1 * (1 - MEM_BM25_B + MEM_BM25_B * dl / avgdl);
    return weight * idf * tf * (MEM_BM25_K1 + 1) / (tf + norm);
}

static inline double
s_plist_score (const s_plist_t *l, double avgdl)
{
    const uint8_t *p = s_plist_at (l);
    return s_bm25 (l->weight, l->idf, s_posting_tf (p), s_posting_dl (p), avgdl, l->field);
}

static void
s_heap_sift_down (mem_hit_t *heap, unsigned n, unsigned i)
{
    for (;;) {
        unsigned l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && mem_hit_less (&heap[l], &heap[m]))
            m = l;
        if (r < n && mem_hit_less (&heap[r], &heap[m]))
            m = r;
        if (m == i)
            return;
        mem_hit_t t = heap[i];
        heap[i] = heap[m];
        heap[m] = t;
        i = m;
    }
}

void
mem_hits_push (mem_hit_t *heap, unsigned *n, unsigned k, mem_hit_t hit)
{
    if (*n < k) {
        unsigned i = (*n)++;
        heap[i] = hit;
        while (i && mem_hit_less (&heap[i], &heap[(i - 1) / 2])) {
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

void
mem_hits_sort (mem_hit_t *heap, unsigned n)
{
    for (unsigned end = n; end > 1; end--) {
        mem_hit_t t = heap[0];
        heap[0] = heap[end - 1];
        heap[end - 1] = t;
        s_heap_sift_down (heap, end - 1, 0);
    }
}

static int
s_ub_cmp (const void *a, const void *b)
{
    double x = ((const s_plist_t *) a)->ub, y = ((const s_plist_t *) b)->ub;
    return x < y ? -1 : x > y;
}

//  A query's open term iterators; runs is one allocation for them all.
typedef struct {
    s_plist_t lists[QUERY_LISTS];
    unsigned n;
    s_run_t *runs;
    size_t runs_used, runs_cap;
    double avgdl;
    mem_agent_stats_t stats;
} s_query_t;

unsigned
mem_index_qterms (const char *text, size_t len, mem_qterm_t *terms, unsigned max)
{
    s_qterm_t counted[QUERY_TERMS];
    s_termset_t set = {counted, 0, max < QUERY_TERMS ? max : QUERY_TERMS, 0, false};
    mem_tokenize (text, len, s_termset_add, &set);
    for (unsigned i = 0; i < set.n; i++) {
        memcpy (terms[i].term, counted[i].term, counted[i].len);
        terms[i].len = counted[i].len;
        terms[i].flags = 0;
        terms[i].weight = (float) counted[i].count;
    }
    return set.n;
}

//  An indexed term found for a prefix, with its postings count.
typedef struct {
    char term[MEM_TERM_MAX];
    uint8_t len;
    size_t df;
} s_expansion_t;

static int
s_expansion_cmp (const void *a, const void *b)
{
    const s_expansion_t *x = a, *y = b;
    if (x->df != y->df)
        return x->df > y->df ? -1 : 1;
    return s_term_cmp ((const uint8_t *) x->term, x->len, (const uint8_t *) y->term, y->len);
}

//  The indexed terms of the agent's segments that start with prefix (the
//  most frequent MEM_PREFIX_TERMS of them, at most `scan` keys read per
//  segment so a short prefix stays cheap). *n gets how many.
static int
s_expand (mem_store_t *store, MDB_txn *txn, const s_seg_t *segs, unsigned n_segs,
          const char *prefix, size_t plen, s_expansion_t *out, unsigned *n)
{
    enum { SCAN = 2000, FOUND = 256 };
    s_expansion_t *found = malloc (FOUND * sizeof *found);
    if (!found)
        return ENOMEM;
    unsigned n_found = 0;
    MDB_cursor *cursor;
    int rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, MEM_DB_POSTINGS), &cursor));
    bool opened = rc == 0;
    for (unsigned s = 0; s < n_segs && !rc; s++) {
        uint8_t k[SEG_KEY_MAX];
        size_t klen = s_post_key (k, segs[s].id, prefix, plen);
        MDB_val key = {klen, k}, val;
        int r = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE);
        for (unsigned scanned = 0; r == 0 && scanned < SCAN; scanned++) {
            if (key.mv_size < klen || memcmp (key.mv_data, k, klen) != 0)
                break;
            const uint8_t *term = (const uint8_t *) key.mv_data + 4;
            size_t len = key.mv_size - 4;
            size_t df = val.mv_size > HEADER_SIZE ? (val.mv_size - HEADER_SIZE) / POSTING_SIZE : 0;
            unsigned f = 0;
            while (f < n_found && (found[f].len != len || memcmp (found[f].term, term, len)))
                f++;
            if (f < n_found)
                found[f].df += df;
            else if (n_found < FOUND && len < MEM_TERM_MAX) {
                memcpy (found[n_found].term, term, len);
                found[n_found].len = (uint8_t) len;
                found[n_found++].df = df;
            }
            r = mdb_cursor_get (cursor, &key, &val, MDB_NEXT);
        }
        if (r && r != MDB_NOTFOUND)
            rc = MEM_MDB (r);
    }
    if (opened)
        mdb_cursor_close (cursor);
    qsort (found, n_found, sizeof *found, s_expansion_cmp);
    *n = n_found < MEM_PREFIX_TERMS ? n_found : MEM_PREFIX_TERMS;
    memcpy (out, found, *n * sizeof *out);
    free (found);
    return rc;
}

//  Opens one iterator over term's runs; *found is false when the agent's
//  index does not hold it.
static int
s_query_add (mem_store_t *store, MDB_txn *txn, const s_seg_t *segs, unsigned n_segs,
             s_query_t *q, const char *term, size_t len, double weight, uint8_t from_len,
             bool *found)
{
    *found = false;
    if (q->n == QUERY_LISTS || q->runs_used + n_segs > q->runs_cap)
        return 0;   //  past the bound: ignored, like terms past MEM_QTERM_MAX
    s_plist_t *l = &q->lists[q->n];
    l->runs = q->runs + q->runs_used;
    l->n_runs = 0;
    size_t df = 0;
    unsigned tf_bound = 0, dl_bound = 0xFFFF;
    bool use[n_segs];
    s_catalog_pick (segs, n_segs, (const uint8_t *) term, len, use);
    MDB_dbi dbi = mem_store_dbi (store, MEM_DB_POSTINGS);
    for (unsigned s = 0; s < n_segs; s++) {
        if (!use[s])
            continue;
        uint8_t k[SEG_KEY_MAX];
        MDB_val key = {s_post_key (k, segs[s].id, term, len), k}, val;
        int r = mdb_get (txn, dbi, &key, &val);
        if (r == MDB_NOTFOUND)
            continue;
        if (r)
            return MEM_MDB (r);
        if (val.mv_size < HEADER_SIZE + POSTING_SIZE)
            continue;
        const uint8_t *h = val.mv_data;
        uint16_t max_tf, min_dl;
        memcpy (&max_tf, h, 2);
        memcpy (&min_dl, h + 2, 2);
        if (max_tf > tf_bound)
            tf_bound = max_tf;
        if (min_dl < dl_bound)
            dl_bound = min_dl;
        size_t n = (val.mv_size - HEADER_SIZE) / POSTING_SIZE;
        l->runs[l->n_runs++] = (s_run_t){h + HEADER_SIZE, n};
        df += n;
    }
    if (l->n_runs == 0)
        return 0;
    *found = true;
    q->runs_used += l->n_runs;
    //  df may still count forgotten records awaiting a merge: keep N - df sane.
    double N = (double) q->stats.docs, dfd = (double) df;
    double rest = N - dfd + 0.5 > 0.5 ? N - dfd + 0.5 : 0.5;
    l->idf = log (1.0 + rest / (dfd + 0.5));
    l->weight = weight;
    l->field = len > 0 && (uint8_t) term[0] < 0x20;
    //  The best any posting of this term can score: highest tf, shortest record
    //  (padded a hair so rounding can never prune a record that would win).
    l->ub = s_bm25 (weight, l->idf, tf_bound, dl_bound, q->avgdl, l->field) * (1 + 1e-9);
    l->len = (uint8_t) len;
    l->from_len = from_len;
    memcpy (l->term, term, len);
    l->r = 0;
    l->i = 0;
    l->doc = s_posting_id (l->runs[0].p);
    q->n++;
    return 0;
}

//  Adds an iterator for each indexed term that starts with prefix.
static int
s_query_add_prefix (mem_store_t *store, MDB_txn *txn, const s_seg_t *segs, unsigned n_segs,
                    s_query_t *q, const char *prefix, size_t plen, double weight)
{
    s_expansion_t expansions[MEM_PREFIX_TERMS];
    unsigned n;
    int rc = s_expand (store, txn, segs, n_segs, prefix, plen, expansions, &n);
    for (unsigned e = 0; e < n && !rc; e++) {
        bool found;
        rc = s_query_add (store, txn, segs, n_segs, q, expansions[e].term, expansions[e].len,
                          weight, (uint8_t) plen, &found);
    }
    return rc;
}

//  Finds each query term's runs in the agent's segments (prefixes and
//  unknown fuzzy terms expanded); keeps the terms that occur, sorted by
//  ascending upper bound.
static int
s_query_open (mem_store_t *store, MDB_txn *txn, uint32_t agent, const mem_qterm_t *terms,
              unsigned n_terms, s_query_t *q)
{
    q->n = 0;
    q->runs = NULL;
    q->runs_used = q->runs_cap = 0;
    if (n_terms > MEM_QTERM_MAX)
        n_terms = MEM_QTERM_MAX;
    int rc = mem_index_stats (store, txn, agent, &q->stats);
    if (rc == MDB_NOTFOUND || (!rc && q->stats.docs == 0) || n_terms == 0)
        return 0;
    if (rc)
        return rc;
    q->avgdl = (double) q->stats.total_len / (double) q->stats.docs;
    if (q->avgdl <= 0)
        q->avgdl = 1;
    s_seg_t *segs;
    unsigned n_segs;
    if ((rc = s_catalog_load (store, txn, agent, &segs, &n_segs)) || n_segs == 0) {
        free (segs);
        return rc;
    }
    //  Room for every term with its expansions, up to the iterator bound.
    size_t lists = 0;
    for (unsigned t = 0; t < n_terms; t++)
        lists += terms[t].flags & (MEM_QTERM_PREFIX | MEM_QTERM_FUZZY) ? MEM_PREFIX_TERMS + 1 : 1;
    q->runs_cap = (lists < QUERY_LISTS ? lists : QUERY_LISTS) * n_segs;
    q->runs = malloc (q->runs_cap * sizeof *q->runs);
    if (!q->runs) {
        free (segs);
        return ENOMEM;
    }
    for (unsigned t = 0; t < n_terms && !rc; t++) {
        const mem_qterm_t *term = &terms[t];
        if (term->weight <= 0 || term->len == 0)
            continue;
        if (term->flags & MEM_QTERM_PREFIX) {
            if (term->len >= MEM_PREFIX_MIN)
                rc = s_query_add_prefix (store, txn, segs, n_segs, q, term->term, term->len,
                                         term->weight);
            continue;
        }
        bool found;
        rc = s_query_add (store, txn, segs, n_segs, q, term->term, term->len, term->weight,
                          0, &found);
        //  A term the agent never used (a typo, an unusual inflection):
        //  its first bytes may still name what was meant.
        if (!rc && !found && (term->flags & MEM_QTERM_FUZZY) && term->len >= MEM_FUZZY_MIN) {
            size_t plen = term->len - 2 > 4 ? term->len - 2 : 4;
            rc = s_query_add_prefix (store, txn, segs, n_segs, q, term->term, plen,
                                     term->weight * MEM_FUZZY_WEIGHT);
        }
    }
    free (segs);
    if (rc) {
        free (q->runs);
        q->runs = NULL;
        q->n = 0;
        return rc;
    }
    qsort (q->lists, q->n, sizeof *q->lists, s_ub_cmp);
    return 0;
}

static bool
s_is_deleted (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint64_t id)
{
    uint8_t k[12];
    mem_put_u32be (k, agent);
    mem_put_u64be (k + 4, id);
    MDB_val key = {12, k}, val;
    return mdb_get (txn, mem_store_dbi (store, MEM_DB_DELETED), &key, &val) == 0;
}

static int
s_idf_cmp (const void *a, const void *b)
{
    double x = ((const s_plist_t *) a)->idf, y = ((const s_plist_t *) b)->idf;
    return x > y ? -1 : x < y;
}

//  Keeps the max_terms terms of highest idf (the rarest: what the text is
//  about), still sorted by ascending upper bound.
static void
s_query_keep_salient (s_query_t *q, unsigned max_terms)
{
    if (q->n <= max_terms)
        return;
    qsort (q->lists, q->n, sizeof *q->lists, s_idf_cmp);
    q->n = max_terms;
    qsort (q->lists, q->n, sizeof *q->lists, s_ub_cmp);
}

static int
s_search_terms (mem_store_t *store, MDB_txn *txn, uint32_t agent, const mem_qterm_t *terms,
                unsigned n_terms, unsigned max_terms, unsigned k, mem_filter_fn *filter,
                void *filter_arg, mem_hit_t *hits, unsigned *n_hits);

int
mem_index_search_terms (mem_store_t *store, MDB_txn *txn, uint32_t agent,
                        const mem_qterm_t *terms, unsigned n_terms, unsigned k,
                        mem_filter_fn *filter, void *filter_arg, mem_hit_t *hits,
                        unsigned *n_hits)
{
    return s_search_terms (store, txn, agent, terms, n_terms, QUERY_LISTS, k, filter, filter_arg,
                           hits, n_hits);
}

int
mem_index_search_salient (mem_store_t *store, MDB_txn *txn, uint32_t agent, const char *text,
                          size_t len, unsigned max_terms, unsigned k, mem_filter_fn *filter,
                          void *filter_arg, mem_hit_t *hits, unsigned *n_hits)
{
    mem_qterm_t terms[MEM_QTERM_MAX];
    unsigned n = mem_index_qterms (text, len, terms, MEM_QTERM_MAX);
    return s_search_terms (store, txn, agent, terms, n, max_terms ? max_terms : 1, k, filter,
                           filter_arg, hits, n_hits);
}

static int
s_search_terms (mem_store_t *store, MDB_txn *txn, uint32_t agent, const mem_qterm_t *terms,
                unsigned n_terms, unsigned max_terms, unsigned k, mem_filter_fn *filter,
                void *filter_arg, mem_hit_t *hits, unsigned *n_hits)
{
    *n_hits = 0;
    if (k == 0)
        return 0;
    s_query_t q;
    int rc = s_query_open (store, txn, agent, terms, n_terms, &q);
    if (rc || q.n == 0) {
        free (q.runs);
        return rc;
    }
    s_query_keep_salient (&q, max_terms);
    s_plist_t *lists = q.lists;
    unsigned n = q.n;
    bool deletes = q.stats.pending > 0;

    //  cum[i]: the most lists 0..i can add together. Lists below `essential`
    //  cannot lift a record into the top k on their own, so only the others
    //  propose candidates; the rest are probed when the score could still win.
    double cum[QUERY_LISTS];
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
                score += s_plist_score (&lists[i], q.avgdl);
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
                score += s_plist_score (&lists[i], q.avgdl);
        }
        if (!viable)
            continue;
        mem_hit_t hit = {doc, score};
        if (heap_n == k && !mem_hit_less (&hits[0], &hit))
            continue;
        if (deletes && s_is_deleted (store, txn, agent, doc))
            continue;
        if (filter && !filter (doc, filter_arg))
            continue;
        mem_hits_push (hits, &heap_n, k, hit);
        if (heap_n == k) {
            threshold = hits[0].score;
            while (essential < n && cum[essential] <= threshold)
                essential++;
        }
    }
    free (q.runs);

    mem_hits_sort (hits, heap_n);
    *n_hits = heap_n;
    return 0;
}

int
mem_index_search (mem_store_t *store, MDB_txn *txn, uint32_t agent, const char *query,
                  size_t len, unsigned k, mem_filter_fn *filter, void *filter_arg,
                  mem_hit_t *hits, unsigned *n_hits)
{
    mem_qterm_t terms[MEM_QTERM_MAX];
    unsigned n = mem_index_qterms (query, len, terms, MEM_QTERM_MAX);
    return mem_index_search_terms (store, txn, agent, terms, n, k, filter, filter_arg, hits,
                                   n_hits);
}

int
mem_index_explain_terms (mem_store_t *store, MDB_txn *txn, uint32_t agent,
                         const mem_qterm_t *terms, unsigned n_terms, uint64_t id, char *buf,
                         size_t size)
{
    s_query_t q;
    int rc = s_query_open (store, txn, agent, terms, n_terms, &q);
    if (rc) {
        free (q.runs);
        return rc;
    }
    size_t used = (size_t) snprintf (buf, size, "bm25");
    double total = 0;
    unsigned dl = 0;
    for (unsigned i = q.n; i-- > 0;) {
        s_plist_t *l = &q.lists[i];
        s_plist_seek (l, id);
        if (l->doc != id)
            continue;
        const uint8_t *p = s_plist_at (l);
        double part = s_plist_score (l, q.avgdl);
        total += part;
        if (!l->field)
            dl = s_posting_dl (p);
        //  speaker:carolin, tag:db, stor*:storag
        const char *field = !l->field ? "" : l->term[0] == MEM_FIELD_SPEAKER ? "speaker:" : "tag:";
        int skip = l->field ? 1 : 0;
        if (used < size && l->from_len)
            used += (size_t) snprintf (buf + used, size - used, " %s%.*s*:%.*s", field,
                                       (int) l->from_len - skip, l->term + skip,
                                       (int) l->len - skip, l->term + skip);
        else if (used < size)
            used += (size_t) snprintf (buf + used, size - used, " %s%.*s", field,
                                       (int) l->len - skip, l->term + skip);
        if (used < size)
            used += (size_t) snprintf (buf + used, size - used, "=%.3f(tf=%u idf=%.2f)", part,
                                       s_posting_tf (p), l->idf);
    }
    if (used < size)
        snprintf (buf + used, size - used, " total=%.3f dl=%u avgdl=%.1f", total, dl, q.avgdl);
    free (q.runs);
    return 0;
}

int
mem_index_explain (mem_store_t *store, MDB_txn *txn, uint32_t agent, const char *query,
                   size_t len, uint64_t id, char *buf, size_t size)
{
    mem_qterm_t terms[MEM_QTERM_MAX];
    unsigned n = mem_index_qterms (query, len, terms, MEM_QTERM_MAX);
    return mem_index_explain_terms (store, txn, agent, terms, n, id, buf, size);
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
    for (size_t i = 0; i < n; i++) {
        unsigned dl;
        assert (mem_index_writer_add (writer, agent, first_id + i, texts[i], strlen (texts[i]),
                                      &dl)
                == 0);
    }
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

//  Compares mem_index_search with BM25 computed by scoring every record.
static void
s_test_against_brute_force (mem_store_t *store, uint32_t agent, char **texts, int n_docs)
{
    MDB_txn *txn;
    unsigned n;
    mem_agent_stats_t stats;
    const char *queries[] = {"alpha lima", "kilo juliet india", "alpha bravo", "lima",
                             "hotel golf alpha kilo", "charli charli delta"};
    assert (mem_store_read_begin (store, &txn) == 0);
    assert (mem_index_stats (store, txn, agent, &stats) == 0);
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
        double *scores = calloc (n_docs, sizeof *scores);
        for (unsigned t = 0; t < set.n; t++) {
            memcpy (term_text[t], qterms[t].term, qterms[t].len);
            term_text[t][qterms[t].len] = 0;
            b.terms[t] = term_text[t];
        }
        s_brute_t per_doc[1];
        for (int pass = 0; pass < 2; pass++)
            for (int d = 0; d < n_docs; d++) {
                per_doc[0] = b;
                mem_tokenize (texts[d], strlen (texts[d]), s_brute_term, per_doc);
                for (unsigned t = 0; t < set.n; t++) {
                    if (pass == 0) {
                        df[t] += per_doc[0].tf[t] > 0;
                        continue;
                    }
                    if (!per_doc[0].tf[t])
                        continue;
                    double N = n_docs, idf = log (1.0 + (N - df[t] + 0.5) / (df[t] + 0.5));
                    double tf = per_doc[0].tf[t];
                    double norm = MEM_BM25_K1
                                * (1 - MEM_BM25_B + MEM_BM25_B * per_doc[0].dl / avgdl);
                    scores[d] += qterms[t].count * idf * tf * (MEM_BM25_K1 + 1) / (tf + norm);
                }
            }
        mem_hit_t top[10];
        assert (mem_index_search (store, txn, agent, queries[q], strlen (queries[q]), 10, NULL,
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
        for (int d = 0; d < n_docs; d++)
            better += scores[d] > top[n - 1].score + 1e-9;
        assert (better <= (int) n - 1);
        free (scores);
    }
    mem_store_read_end (store, &txn);
}

static void
s_test_merge_all (mem_store_t *store, mem_index_writer_t *writer)
{
    int steps = 0;
    bool worked;
    while (mem_index_merge_pending (writer)) {
        MDB_txn *txn;
        assert (mem_store_write_begin (store, &txn) == 0);
        assert (mem_index_merge_step (writer, txn, true, &worked) == 0);
        assert (mem_store_write_commit (store, &txn) == 0);
        assert (++steps < 1000);
    }
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

    //  Hand-checked BM25 (k1 0.9, b 0.4): N = 3, avgdl = 8/3, df(cat) = df(fish) = 2,
    //  idf = ln (1 + 1.5/2.5) = 0.470004.
    //  cat: doc 1 (tf 1, dl 2) = 0.493374; doc 2 (tf 2, dl 3) = 0.606456.
    //  fish in doc 2 or 3 (tf 1, dl 3) = 0.459130.
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
    assert (hits[0].id == 2 && fabs (hits[0].score - 0.606456) < 1e-4);
    assert (hits[1].id == 1 && fabs (hits[1].score - 0.493374) < 1e-4);
    assert (mem_index_search (store, txn, 1, "Cats, and FISH!", 15, 10, NULL, NULL, hits, &n)
            == 0);
    assert (n == 3);
    assert (hits[0].id == 2 && fabs (hits[0].score - (0.606456 + 0.459130)) < 1e-4);
    assert (hits[1].id == 1 && hits[2].id == 3);
    assert (fabs (hits[2].score - 0.459130) < 1e-4);
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
    assert (strstr (explain, "cat=0.606(tf=2") && strstr (explain, "fish=0.459(tf=1"));
    mem_store_read_end (store, &txn);

    //  Removing a record takes it out of statistics and search at once; its
    //  postings wait for a merge, which then drops them.
    assert (mem_store_write_begin (store, &txn) == 0);
    assert (mem_index_remove (store, txn, 1, 2, 3) == 0);
    assert (mem_store_write_commit (store, &txn) == 0);
    assert (mem_store_read_begin (store, &txn) == 0);
    assert (mem_index_stats (store, txn, 1, &stats) == 0);
    assert (stats.docs == 2 && stats.total_len == 5 && stats.pending == 1);
    assert (mem_index_search (store, txn, 1, "cat", 3, 10, NULL, NULL, hits, &n) == 0);
    assert (n == 1 && hits[0].id == 1);
    mem_store_read_end (store, &txn);
    //  Seven more small segments make eight of one tier: they merge into one.
    const char *more[] = {"cat bird", "owl", "emu", "yak", "gnu", "elk", "ape"};
    for (int i = 0; i < 7; i++)
        s_test_add (store, writer, 1, 10 + (uint64_t) i, more + i, 1);
    s_test_merge_all (store, writer);
    assert (mem_store_read_begin (store, &txn) == 0);
    unsigned segments;
    assert (mem_index_segment_count (store, txn, 1, &segments) == 0 && segments == 1);
    assert (mem_index_stats (store, txn, 1, &stats) == 0);
    assert (stats.docs == 9 && stats.pending == 0);
    assert (mem_index_search (store, txn, 1, "cat", 3, 10, NULL, NULL, hits, &n) == 0);
    assert (n == 2 && hits[0].id != 2 && hits[1].id != 2);
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
    for (int d = 0; d < N_DOCS; d += N_DOCS / 8)
        s_test_add (store, writer, AGENT, 1000 + (uint64_t) d, (const char **) texts + d,
                    N_DOCS / 8);
    s_test_against_brute_force (store, AGENT, texts, N_DOCS);
    assert (mem_store_read_begin (store, &txn) == 0);
    assert (mem_index_segment_count (store, txn, AGENT, &segments) == 0);
    unsigned before = segments;
    mem_store_read_end (store, &txn);
    //  Merging the eight flushes changes nothing a query sees, at any step:
    //  a budget of one byte stops every step after one term.
    mem_index_writer_set_merge_budget (writer, 1);
    int steps = 0;
    bool worked;
    while (mem_index_merge_pending (writer)) {
        assert (mem_store_write_begin (store, &txn) == 0);
        assert (mem_index_merge_step (writer, txn, true, &worked) == 0);
        assert (mem_store_write_commit (store, &txn) == 0);
        s_test_against_brute_force (store, AGENT, texts, N_DOCS);
        assert (++steps < 200);
    }
    assert (steps > 12);   //  one step per term (12 words), then the drop
    assert (mem_store_read_begin (store, &txn) == 0);
    assert (mem_index_segment_count (store, txn, AGENT, &segments) == 0);
    assert (before == 8 && segments == 1);
    mem_store_read_end (store, &txn);

    //  A forget that lands in the middle of a merge is never undone by it:
    //  the record stays out of search, and pending until a later merge.
    enum { AGENT2 = 8 };
    const char *small[] = {"alpha zulu", "bravo zulu", "charli zulu", "delta zulu",
                           "echo zulu",  "golf zulu",  "hotel zulu",  "india zulu"};
    for (int i = 0; i < 8; i++)
        s_test_add (store, writer, AGENT2, 9000 + (uint64_t) i, small + i, 1);
    assert (mem_store_write_begin (store, &txn) == 0);
    assert (mem_index_merge_step (writer, txn, true, &worked) == 0);   //  merges "alpha" only
    assert (mem_store_write_commit (store, &txn) == 0);
    assert (mem_store_write_begin (store, &txn) == 0);
    assert (mem_index_remove (store, txn, AGENT2, 9000, 2) == 0);   //  "alpha zulu"
    assert (mem_store_write_commit (store, &txn) == 0);
    s_test_merge_all (store, writer);
    assert (mem_store_read_begin (store, &txn) == 0);
    assert (mem_index_segment_count (store, txn, AGENT2, &segments) == 0 && segments == 1);
    assert (mem_index_stats (store, txn, AGENT2, &stats) == 0);
    assert (stats.docs == 7 && stats.pending == 1);
    assert (mem_index_search (store, txn, AGENT2, "alpha", 5, 10, NULL, NULL, hits, &n) == 0);
    assert (n == 0);
    assert (mem_index_search (store, txn, AGENT2, "zulu", 4, 10, NULL, NULL, hits, &n) == 0);
    assert (n == 7);
    for (unsigned i = 0; i < n; i++)
        assert (hits[i].id != 9000);
    mem_store_read_end (store, &txn);
    mem_index_writer_set_merge_budget (writer, 4u << 20);

    //  Regression: eight segments of one tier merge even while newer, smaller
    //  flushes sit at the tail (the newest tier used to be the only one
    //  considered, so under steady load older tiers piled up).
    enum { AGENT3 = 9 };
    const char *eight[8] = {"tier one", "tier two", "tier six", "tier ten",
                            "tier red", "tier tan", "tier sky", "tier sea"};
    for (int i = 0; i < 8; i++)
        s_test_add (store, writer, AGENT3, 20000 + (uint64_t) i * 8, eight, 8);
    const char *one[] = {"tail"};
    s_test_add (store, writer, AGENT3, 20100, one, 1);
    s_test_add (store, writer, AGENT3, 20101, one, 1);
    for (int guard = 0; guard < 100; guard++) {
        assert (mem_store_write_begin (store, &txn) == 0);
        assert (mem_index_merge_step (writer, txn, false, &worked) == 0);
        assert (mem_store_write_commit (store, &txn) == 0);
        if (!worked)
            break;
    }
    assert (mem_store_read_begin (store, &txn) == 0);
    assert (mem_index_segment_count (store, txn, AGENT3, &segments) == 0);
    assert (segments == 3);   //  the merged eight, and the two small ones
    assert (mem_index_search (store, txn, AGENT3, "tier", 4, 10, NULL, NULL, hits, &n) == 0);
    assert (n == 10);   //  the best 10 of the 64 matches, all still found after the merge
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
