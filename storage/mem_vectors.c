/*  mem_vectors — record embeddings; see mem_vectors.h.

    Layouts (host byte order inside values: the store never leaves the
    machine; keys are big-endian so they sort):
    - vec_agents: agent → s_agent_t {dims, blocks, per_block, count}
    - vectors: id → s_place_t {agent, block, slot, dims} then dims floats
    - vec_blocks: agent + block → {count, dims} then count entries of
      STRIDE (dims) bytes: {id (u64), factor (f32), 0 (u32)} then the int8
      codes, zero-padded to a multiple of 16 so the dot product loop has a
      fixed shape. factor = scale / |v|, so for a query quantised with
      scale qs the approximate cosine is dot (codes) * qs / |q| * factor.
    Purge sets a slot's id to 0; blocks never shrink or move.
*/
#include "mem_vectors.h"
#include "mem_records.h"
#include "mem_log.h"
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENTRY_HEADER 16
#define BLOCK_HEADER 8
#define PER_BLOCK_MIN 8
#define PER_BLOCK_MAX 256
#define RERANK_MIN   64          //  candidates re-scored exactly: 2k, at least this
#define RERANK_MAX   4000
#define VNNI_MAX_PADDED 4096     //  s_dots_vnni's query buffer (the codec's dimension limit)

typedef struct {
    uint32_t dims;
    uint32_t blocks;             //  blocks written (the last may have room)
    uint32_t per_block;          //  entries per block, fixed with the dimension
    uint32_t reserved;
    uint64_t count;              //  vectors stored (slots with an id)
} s_agent_t;

typedef struct {
    uint32_t agent, block, slot, dims;
} s_place_t;

static size_t
s_padded (uint32_t dims)
{
    return ((size_t) dims + 15) & ~(size_t) 15;
}

static size_t
s_stride (uint32_t dims)
{
    return ENTRY_HEADER + s_padded (dims);
}

static void
s_block_key (uint8_t *k, uint32_t agent, uint32_t block)
{
    mem_put_u32be (k, agent);
    mem_put_u32be (k + 4, block);
}

static int
s_agent_get (mem_store_t *store, MDB_txn *txn, uint32_t agent, s_agent_t *state)
{
    uint8_t k[4];
    mem_put_u32be (k, agent);
    MDB_val key = {4, k}, val;
    int rc = MEM_MDB (mdb_get (txn, mem_store_dbi (store, MEM_DB_VEC_AGENTS), &key, &val));
    if (rc)
        return rc;
    if (val.mv_size != sizeof *state)
        return MDB_CORRUPTED;
    memcpy (state, val.mv_data, sizeof *state);
    return 0;
}

static int
s_agent_put (mem_store_t *store, MDB_txn *txn, uint32_t agent, const s_agent_t *state)
{
    uint8_t k[4];
    mem_put_u32be (k, agent);
    MDB_val key = {4, k}, val = {sizeof *state, (void *) state};
    return MEM_MDB (mdb_put (txn, mem_store_dbi (store, MEM_DB_VEC_AGENTS), &key, &val, 0));
}

int
mem_vectors_dims (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint32_t *dims)
{
    s_agent_t state;
    int rc = s_agent_get (store, txn, agent, &state);
    if (!rc)
        *dims = state.dims;
    return rc;
}

//  --------------------------------------------------------------------------
//  Capture

typedef struct {
    const char *agent;
    uint32_t dims;
} s_seen_t;

int
mem_vectors_check_capture (mem_store_t *store, MDB_txn *txn, const Memd__V1__Capture *cap,
                           const char *req_agent, char *err, size_t err_size)
{
    s_seen_t *seen = NULL;
    size_t n_seen = 0;
    int rc = 0;
    for (size_t i = 0; i < cap->n_records && !rc; i++) {
        const Memd__V1__Record *rec = cap->records[i];
        if (!rec->n_embedding)
            continue;
        const char *name = rec->agent_id && *rec->agent_id ? rec->agent_id : req_agent;
        size_t s = 0;
        while (s < n_seen && strcmp (seen[s].agent, name) != 0)
            s++;
        if (s == n_seen) {
            //  First embedding of this agent in the request: the store's
            //  dimension if it has one, else this record's.
            s_seen_t *grown = realloc (seen, (n_seen + 1) * sizeof *seen);
            if (!grown) {
                rc = ENOMEM;
                break;
            }
            seen = grown;
            seen[n_seen] = (s_seen_t){name, (uint32_t) rec->n_embedding};
            uint32_t agent, dims;
            rc = mem_agents_lookup (store, txn, name, false, &agent);
            if (!rc)
                rc = mem_vectors_dims (store, txn, agent, &dims);
            if (!rc)
                seen[n_seen].dims = dims;
            else if (rc != MDB_NOTFOUND)
                break;
            rc = 0;
            n_seen++;
        }
        if (rec->n_embedding != seen[s].dims) {
            snprintf (err, err_size,
                      "record %zu: embedding has %zu dimensions, but agent %s uses %u "
                      "(fixed by its first embedding)",
                      i, rec->n_embedding, name, seen[s].dims);
            rc = MEM_VECTORS_MISMATCH;
        }
    }
    free (seen);
    return rc;
}

//  Symmetric int8 quantisation: codes and the factor scale / |v|.
static void
s_quantize (const float *v, uint32_t dims, int8_t *codes, float *factor, double *norm_out)
{
    double norm = 0, max = 0;
    for (uint32_t i = 0; i < dims; i++) {
        norm += (double) v[i] * v[i];
        if (fabs (v[i]) > max)
            max = fabs (v[i]);
    }
    norm = sqrt (norm);
    double scale = max > 0 ? max / 127.0 : 1;
    for (uint32_t i = 0; i < dims; i++) {
        long c = lround (v[i] / scale);
        codes[i] = (int8_t) (c > 127 ? 127 : c < -127 ? -127 : c);
    }
    memset (codes + dims, 0, s_padded (dims) - dims);
    *factor = norm > 0 ? (float) (scale / norm) : 0;
    if (norm_out)
        *norm_out = norm;
}

int
mem_vectors_put (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint64_t id, const float *v,
                 uint32_t dims)
{
    s_agent_t state;
    int rc = s_agent_get (store, txn, agent, &state);
    if (rc == MDB_NOTFOUND) {
        size_t per = MEM_VECTORS_BLOCK_BYTES / s_stride (dims);
        per = per < PER_BLOCK_MIN ? PER_BLOCK_MIN : per > PER_BLOCK_MAX ? PER_BLOCK_MAX : per;
        state = (s_agent_t){dims, 0, (uint32_t) per, 0, 0};
        rc = 0;
    }
    if (rc)
        return rc;
    if (state.dims != dims)
        return MEM_VECTORS_MISMATCH;
    size_t stride = s_stride (dims);
    MDB_dbi blocks = mem_store_dbi (store, MEM_DB_VEC_BLOCKS);

    //  The last block, copied (a put may reuse the pages the old value is in).
    uint8_t k[8];
    uint32_t count = 0, block = state.blocks;
    MDB_val key = {8, k}, val;
    if (state.blocks) {
        s_block_key (k, agent, state.blocks - 1);
        rc = MEM_MDB (mdb_get (txn, blocks, &key, &val));
        if (rc)
            return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
        if (val.mv_size < BLOCK_HEADER)
            return MDB_CORRUPTED;
        memcpy (&count, val.mv_data, 4);
        if (count < state.per_block)
            block = state.blocks - 1;
        else
            count = 0;
    }
    size_t old_size = BLOCK_HEADER + count * stride;
    uint8_t *buf = malloc (old_size + stride);
    if (!buf)
        return ENOMEM;
    if (count) {
        if (val.mv_size != old_size) {
            free (buf);
            return MDB_CORRUPTED;
        }
        memcpy (buf, val.mv_data, old_size);
    }
    uint8_t *entry = buf + old_size;
    float factor;
    s_quantize (v, dims, (int8_t *) (entry + ENTRY_HEADER), &factor, NULL);
    uint32_t zero = 0, new_count = count + 1;
    memcpy (entry, &id, 8);
    memcpy (entry + 8, &factor, 4);
    memcpy (entry + 12, &zero, 4);
    memcpy (buf, &new_count, 4);
    memcpy (buf + 4, &dims, 4);
    s_block_key (k, agent, block);
    key = (MDB_val){8, k};
    val = (MDB_val){old_size + stride, buf};
    rc = MEM_MDB (mdb_put (txn, blocks, &key, &val, 0));
    free (buf);
    if (rc)
        return rc;

    //  The exact copy, with its place.
    uint8_t idk[8];
    mem_put_u64be (idk, id);
    s_place_t place = {agent, block, count, dims};
    key = (MDB_val){8, idk};
    val = (MDB_val){sizeof place + (size_t) dims * sizeof (float), NULL};
    MDB_dbi vectors = mem_store_dbi (store, MEM_DB_VECTORS);
    rc = MEM_MDB (mdb_put (txn, vectors, &key, &val, MDB_RESERVE | MDB_APPEND));
    if (rc == MDB_KEYEXIST)   //  ids only grow; APPEND is the common case's hint
        rc = MEM_MDB (mdb_put (txn, vectors, &key, &val, MDB_RESERVE));
    if (rc)
        return rc;
    memcpy (val.mv_data, &place, sizeof place);
    memcpy ((uint8_t *) val.mv_data + sizeof place, v, (size_t) dims * sizeof (float));

    if (block == state.blocks)
        state.blocks++;
    state.count++;
    if ((rc = s_agent_put (store, txn, agent, &state)))
        return rc;
    return mem_store_counter_add (txn, store, "embeddings", 1);
}

//  The place and exact values of id's embedding, viewed in the txn.
static int
s_view (mem_store_t *store, MDB_txn *txn, uint64_t id, s_place_t *place, const uint8_t **floats)
{
    uint8_t idk[8];
    mem_put_u64be (idk, id);
    MDB_val key = {8, idk}, val;
    int rc = MEM_MDB (mdb_get (txn, mem_store_dbi (store, MEM_DB_VECTORS), &key, &val));
    if (rc)
        return rc;
    if (val.mv_size < sizeof *place)
        return MDB_CORRUPTED;
    memcpy (place, val.mv_data, sizeof *place);
    if (val.mv_size != sizeof *place + (size_t) place->dims * sizeof (float))
        return MDB_CORRUPTED;
    *floats = (const uint8_t *) val.mv_data + sizeof *place;
    return 0;
}

int
mem_vectors_get (mem_store_t *store, MDB_txn *txn, uint64_t id, float *out, size_t max,
                 uint32_t *dims)
{
    s_place_t place;
    const uint8_t *floats;
    int rc = s_view (store, txn, id, &place, &floats);
    if (rc)
        return rc;
    *dims = place.dims;
    if (place.dims > max)
        return ENOSPC;
    memcpy (out, floats, (size_t) place.dims * sizeof (float));   //  values may be unaligned
    return 0;
}

int
mem_vectors_remove (mem_store_t *store, MDB_txn *txn, uint64_t id)
{
    s_place_t place;
    const uint8_t *floats;
    int rc = s_view (store, txn, id, &place, &floats);
    if (rc)
        return rc;
    uint8_t k[8];
    s_block_key (k, place.agent, place.block);
    MDB_val key = {8, k}, val;
    MDB_dbi blocks = mem_store_dbi (store, MEM_DB_VEC_BLOCKS);
    if ((rc = MEM_MDB (mdb_get (txn, blocks, &key, &val))))
        return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
    size_t stride = s_stride (place.dims);
    uint32_t count = 0;
    if (val.mv_size >= BLOCK_HEADER)
        memcpy (&count, val.mv_data, 4);
    if (place.slot >= count || val.mv_size != BLOCK_HEADER + count * stride)
        return MDB_CORRUPTED;
    uint8_t *buf = malloc (val.mv_size);
    if (!buf)
        return ENOMEM;
    memcpy (buf, val.mv_data, val.mv_size);
    memset (buf + BLOCK_HEADER + place.slot * stride, 0, 8);   //  id 0: an empty slot
    val.mv_data = buf;
    rc = MEM_MDB (mdb_put (txn, blocks, &key, &val, 0));
    free (buf);
    uint8_t idk[8];
    mem_put_u64be (idk, id);
    MDB_val vkey = {8, idk};
    if (!rc)
        rc = MEM_MDB (mdb_del (txn, mem_store_dbi (store, MEM_DB_VECTORS), &vkey, NULL));
    s_agent_t state;
    if (!rc)
        rc = s_agent_get (store, txn, place.agent, &state);
    if (!rc) {
        state.count = state.count ? state.count - 1 : 0;
        rc = s_agent_put (store, txn, place.agent, &state);
    }
    if (!rc)
        rc = mem_store_counter_add (txn, store, "embeddings", -1);
    return rc;
}

//  --------------------------------------------------------------------------
//  Search

//  int8 dot products of q with n entries. The loop's shape (a multiple of
//  16 bytes, no branches) is what compilers vectorise; clones for wider
//  registers are picked at load time where the compiler supports them.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) \
    && !defined(__SANITIZE_ADDRESS__)
#define S_X86_CLONES 1
#include <immintrin.h>
__attribute__ ((target_clones ("avx2", "default")))
#endif
static void
s_dots_plain (const uint8_t *entries, size_t n, size_t stride, const int8_t *q, size_t padded,
              int32_t *out)
{
    for (size_t e = 0; e < n; e++) {
        const int8_t *c = (const int8_t *) (entries + e * stride + ENTRY_HEADER);
        int32_t acc = 0;
        for (size_t i = 0; i < padded; i++)
            acc += (int16_t) q[i] * (int16_t) c[i];
        out[e] = acc;
    }
}

#ifdef S_X86_CLONES
//  The same with AVX-512 VNNI: vpdpbusd multiplies 64 byte pairs and adds
//  them into 16 int32 lanes in one instruction, where AVX2 needs several
//  per 16 pairs (perf: most of a hybrid recall's time). It wants one side
//  unsigned: the query is moved up by 128, and 128 × the sum of the codes
//  (a second vpdpbusd, against ones) is taken off again. Integers
//  throughout, so the results equal s_dots_plain's exactly.
__attribute__ ((target ("avx512f,avx512bw,avx512vnni")))
static void
s_dots_vnni (const uint8_t *entries, size_t n, size_t stride, const int8_t *q, size_t padded,
             int32_t *out)
{
    uint8_t shifted[VNNI_MAX_PADDED];
    for (size_t i = 0; i < padded; i++)
        shifted[i] = (uint8_t) (q[i] + 128);
    const __m512i ones = _mm512_set1_epi8 (1);
    size_t whole = padded & ~(size_t) 63;
    __mmask64 tail = padded > whole ? (__mmask64) -1 >> (64 - (padded - whole)) : 0;
    for (size_t e = 0; e < n; e++) {
        const uint8_t *c = entries + e * stride + ENTRY_HEADER;
        __m512i dot = _mm512_setzero_si512 (), sum = _mm512_setzero_si512 ();
        for (size_t i = 0; i < whole; i += 64) {
            __m512i codes = _mm512_loadu_si512 (c + i);
            dot = _mm512_dpbusd_epi32 (dot, _mm512_loadu_si512 (shifted + i), codes);
            sum = _mm512_dpbusd_epi32 (sum, ones, codes);
        }
        if (tail) {   //  the last 16, 32 or 48 bytes
            __m512i codes = _mm512_maskz_loadu_epi8 (tail, c + whole);
            dot = _mm512_dpbusd_epi32 (dot, _mm512_maskz_loadu_epi8 (tail, shifted + whole), codes);
            sum = _mm512_dpbusd_epi32 (sum, ones, codes);
        }
        out[e] = _mm512_reduce_add_epi32 (dot) - 128 * _mm512_reduce_add_epi32 (sum);
    }
}
#endif

static void
s_dots (const uint8_t *entries, size_t n, size_t stride, const int8_t *q, size_t padded,
        int32_t *out)
{
#ifdef S_X86_CLONES
    if (padded <= VNNI_MAX_PADDED && __builtin_cpu_supports ("avx512vnni")
        && __builtin_cpu_supports ("avx512bw")) {
        s_dots_vnni (entries, n, stride, q, padded, out);
        return;
    }
#endif
    s_dots_plain (entries, n, stride, q, padded, out);
}

static int
s_hit_cmp_desc (const void *a, const void *b)
{
    const mem_hit_t *x = a, *y = b;
    return mem_hit_less (x, y) ? 1 : mem_hit_less (y, x) ? -1 : 0;
}

//  Exact cosine of q (norm qn) with the stored floats: eight independent
//  float lanes, so the loop vectorises without reordering any one sum.
static double
s_cosine (const float *q, double qn, const uint8_t *floats, uint32_t dims)
{
    float dot[8] = {0}, norm[8] = {0};
    uint32_t i = 0;
    for (; i + 8 <= dims; i += 8)
        for (int l = 0; l < 8; l++) {
            float x;
            memcpy (&x, floats + (i + l) * sizeof (float), sizeof x);
            dot[l] += q[i + l] * x;
            norm[l] += x * x;
        }
    double d = 0, n = 0;
    for (int l = 0; l < 8; l++)
        d += dot[l], n += norm[l];
    for (; i < dims; i++) {
        float x;
        memcpy (&x, floats + i * sizeof (float), sizeof x);
        d += (double) q[i] * x;
        n += (double) x * x;
    }
    return n > 0 && qn > 0 ? d / (sqrt (n) * qn) : 0;
}

//  The int8 pass over every block of agent: the best cap approximate
//  scores (that pass filter, when given) into heap.
static int
s_scan (mem_store_t *store, MDB_txn *txn, uint32_t agent, const s_agent_t *state,
        const int8_t *qc, float qfactor, mem_filter_fn *filter, void *filter_arg, int32_t *dots,
        mem_hit_t *heap, unsigned cap, unsigned *n)
{
    uint32_t dims = state->dims;
    size_t padded = s_padded (dims), stride = s_stride (dims);
    MDB_cursor *cursor;
    int rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, MEM_DB_VEC_BLOCKS), &cursor));
    if (rc)
        return rc;
    uint8_t k0[8];
    s_block_key (k0, agent, 0);
    MDB_val key = {8, k0}, val;
    for (rc = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT)) {
        if (key.mv_size != 8 || mem_get_u32be (key.mv_data) != agent)
            break;
        uint32_t count = 0, bdims = 0;
        if (val.mv_size >= BLOCK_HEADER) {
            memcpy (&count, val.mv_data, 4);
            memcpy (&bdims, (uint8_t *) val.mv_data + 4, 4);
        }
        if (bdims != dims || count > state->per_block
            || val.mv_size != BLOCK_HEADER + count * stride) {
            mem_log_error ("vec_blocks: block of agent %u is damaged", agent);
            rc = MDB_CORRUPTED;
            break;
        }
        const uint8_t *entries = (const uint8_t *) val.mv_data + BLOCK_HEADER;
        s_dots (entries, count, stride, qc, padded, dots);
        for (uint32_t e = 0; e < count; e++) {
            const uint8_t *entry = entries + e * stride;
            mem_hit_t hit;
            float factor;
            memcpy (&hit.id, entry, 8);
            memcpy (&factor, entry + 8, 4);
            if (hit.id == 0)
                continue;   //  purged
            hit.score = (double) dots[e] * qfactor * factor;
            if (*n == cap && !mem_hit_less (&heap[0], &hit))
                continue;
            if (filter && !filter (hit.id, filter_arg))
                continue;
            mem_hits_push (heap, n, cap, hit);
        }
    }
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND ? 0 : rc ? MEM_MDB (rc) : 0;
}

int
mem_vectors_search (mem_store_t *store, MDB_txn *txn, uint32_t agent, const float *q,
                    uint32_t dims, unsigned k, mem_filter_fn *filter, void *filter_arg,
                    mem_hit_t *hits, unsigned *n_hits)
{
    *n_hits = 0;
    s_agent_t state;
    int rc = s_agent_get (store, txn, agent, &state);
    if (rc == MDB_NOTFOUND || (!rc && k == 0))
        return 0;
    if (rc)
        return rc;
    if (state.dims != dims)
        return MEM_VECTORS_MISMATCH;
    size_t padded = s_padded (dims);
    unsigned cap = k * 2 < RERANK_MIN ? RERANK_MIN : k * 2 > RERANK_MAX ? RERANK_MAX : k * 2;
    int8_t *qc = malloc (padded);
    mem_hit_t *heap = malloc (cap * sizeof *heap);
    int32_t *dots = malloc (state.per_block * sizeof *dots);
    if (!qc || !heap || !dots) {
        free (qc);
        free (heap);
        free (dots);
        return ENOMEM;
    }
    float qfactor;
    double qnorm;
    s_quantize (q, dims, qc, &qfactor, &qnorm);

    //  Pass 1: approximate cosine over every block of the agent. The
    //  filter costs a lookup per call: it sees the candidates once the
    //  scan is done, unless it turns down so many that the scan must be
    //  redone with the filter inside (restrictive filters).
    unsigned n = 0;
    rc = s_scan (store, txn, agent, &state, qc, qfactor, NULL, NULL, dots, heap, cap, &n);
    if (!rc && filter) {
        unsigned kept = 0;
        for (unsigned i = 0; i < n; i++)
            if (filter (heap[i].id, filter_arg))
                heap[kept++] = heap[i];
        if (kept < n && kept < cap / 2) {
            n = 0;
            rc = s_scan (store, txn, agent, &state, qc, qfactor, filter, filter_arg, dots, heap,
                         cap, &n);
        }
        else
            n = kept;   //  (no longer a heap: a set, sorted below)
    }

    //  Pass 2: exact cosine for the candidates.
    for (unsigned i = 0; i < n && !rc; i++) {
        s_place_t place;
        const uint8_t *floats;
        rc = s_view (store, txn, heap[i].id, &place, &floats);
        if (!rc && place.dims != dims)
            rc = MDB_CORRUPTED;
        if (!rc)
            heap[i].score = s_cosine (q, qnorm, floats, dims);
    }
    if (!rc) {
        qsort (heap, n, sizeof *heap, s_hit_cmp_desc);
        *n_hits = n < k ? n : k;
        memcpy (hits, heap, *n_hits * sizeof *hits);
    }
    free (qc);
    free (heap);
    free (dots);
    return rc;
}

int
mem_vectors_similarity (mem_store_t *store, MDB_txn *txn, uint64_t id, const float *q,
                        uint32_t dims, double *similarity)
{
    s_place_t place;
    const uint8_t *floats;
    int rc = s_view (store, txn, id, &place, &floats);
    if (rc)
        return rc;
    if (place.dims != dims)
        return MEM_VECTORS_MISMATCH;
    double qn = 0;
    for (uint32_t i = 0; i < dims; i++)
        qn += (double) q[i] * q[i];
    *similarity = s_cosine (q, sqrt (qn), floats, dims);
    return 0;
}

//  --------------------------------------------------------------------------
//  Verify

static void
s_report (mem_index_problem_fn *problem, void *arg, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

static void
s_report (mem_index_problem_fn *problem, void *arg, const char *fmt, ...)
{
    char text[256];
    va_list args;
    va_start (args, fmt);
    vsnprintf (text, sizeof text, fmt, args);
    va_end (args);
    problem (arg, text);
}

int
mem_vectors_verify (mem_store_t *store, MDB_txn *txn, mem_index_problem_fn *problem, void *arg,
                    uint64_t *vectors)
{
    *vectors = 0;
    //  Every exact copy: a record of the same agent, the agent's dimension,
    //  and its block slot holding its id.
    MDB_cursor *cursor;
    int rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, MEM_DB_VECTORS), &cursor));
    if (rc)
        return rc;
    MDB_val key, val;
    while ((rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT)) == 0) {
        (*vectors)++;
        uint64_t id = key.mv_size == 8 ? mem_get_u64be (key.mv_data) : 0;
        s_place_t place;
        if (val.mv_size < sizeof place) {
            s_report (problem, arg, "embedding of record %llu: a value of %zu bytes",
                      (unsigned long long) id, val.mv_size);
            continue;
        }
        memcpy (&place, val.mv_data, sizeof place);
        mem_docmeta_t meta;
        s_agent_t state;
        if (mem_records_docmeta (store, txn, id, &meta))
            s_report (problem, arg, "embedding of record %llu: the record does not exist",
                      (unsigned long long) id);
        else if (meta.agent != place.agent)
            s_report (problem, arg, "embedding of record %llu: filed under agent %u, the record "
                      "is agent %u's", (unsigned long long) id, place.agent, meta.agent);
        if (s_agent_get (store, txn, place.agent, &state) || state.dims != place.dims
            || val.mv_size != sizeof place + (size_t) place.dims * sizeof (float)) {
            s_report (problem, arg, "embedding of record %llu: %u dimensions, not its agent's",
                      (unsigned long long) id, place.dims);
            continue;
        }
        uint8_t k[8];
        s_block_key (k, place.agent, place.block);
        MDB_val bkey = {8, k}, bval;
        uint32_t count = 0;
        uint64_t slot_id = 0;
        size_t stride = s_stride (place.dims);
        if (mdb_get (txn, mem_store_dbi (store, MEM_DB_VEC_BLOCKS), &bkey, &bval) == 0
            && bval.mv_size >= BLOCK_HEADER) {
            memcpy (&count, bval.mv_data, 4);
            if (place.slot < count && bval.mv_size == BLOCK_HEADER + count * stride)
                memcpy (&slot_id, (uint8_t *) bval.mv_data + BLOCK_HEADER + place.slot * stride,
                        8);
        }
        if (slot_id != id)
            s_report (problem, arg, "embedding of record %llu: block %u slot %u does not hold it",
                      (unsigned long long) id, place.block, place.slot);
    }
    mdb_cursor_close (cursor);
    if (rc != MDB_NOTFOUND)
        return MEM_MDB (rc);

    //  Every block slot in use has its exact copy; blocks are counted.
    rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, MEM_DB_VEC_BLOCKS), &cursor));
    if (rc)
        return rc;
    while ((rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT)) == 0) {
        if (key.mv_size != 8 || val.mv_size < BLOCK_HEADER) {
            s_report (problem, arg, "vec_blocks: an entry of %zu bytes", val.mv_size);
            continue;
        }
        uint32_t agent = mem_get_u32be (key.mv_data), block = mem_get_u32be (key.mv_data + 4);
        uint32_t count, dims;
        memcpy (&count, val.mv_data, 4);
        memcpy (&dims, (uint8_t *) val.mv_data + 4, 4);
        s_agent_t state;
        size_t stride = s_stride (dims);
        if (s_agent_get (store, txn, agent, &state) || state.dims != dims
            || block >= state.blocks || count > state.per_block
            || val.mv_size != BLOCK_HEADER + count * stride) {
            s_report (problem, arg, "vec_blocks: block %u of agent %u does not fit its agent",
                      block, agent);
            continue;
        }
        for (uint32_t e = 0; e < count; e++) {
            uint64_t id;
            memcpy (&id, (uint8_t *) val.mv_data + BLOCK_HEADER + e * stride, 8);
            s_place_t place;
            const uint8_t *floats;
            if (id && (s_view (store, txn, id, &place, &floats) || place.block != block
                       || place.slot != e || place.agent != agent))
                s_report (problem, arg, "vec_blocks: block %u slot %u names record %llu, whose "
                          "embedding is elsewhere or gone", block, e, (unsigned long long) id);
        }
    }
    mdb_cursor_close (cursor);
    if (rc != MDB_NOTFOUND)
        return MEM_MDB (rc);
    uint64_t counted = mem_store_counter_get (txn, store, "embeddings");
    if (counted != *vectors)
        s_report (problem, arg, "the embeddings counter says %llu, the table holds %llu",
                  (unsigned long long) counted, (unsigned long long) *vectors);
    return 0;
}

//  --------------------------------------------------------------------------
//  Selftest

#undef NDEBUG
#include <assert.h>

static void
s_test_problem (void *arg, const char *text)
{
    (*(int *) arg)++;
    if (getenv ("MEMD_TEST_VERBOSE"))
        printf ("\n   %s", text);
}

//  A deterministic pseudo-random unit-ish vector.
//  Every dot product variant this CPU runs gives the plain loop's integers,
//  for every padding (whole 64-byte steps and each tail) and the extremes.
static void
s_test_dots (void)
{
    enum { N = 9, MAX_PADDED = 272 };
    size_t stride = ENTRY_HEADER + MAX_PADDED;
    uint8_t *entries = malloc (N * stride);
    int8_t q[MAX_PADDED];
    int32_t want[N], got[N];
    assert (entries);
    uint64_t x = 88172645463325252ULL;
    for (size_t i = 0; i < N * stride; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        entries[i] = (uint8_t) x;
    }
    for (size_t i = 0; i < MAX_PADDED; i++)
        q[i] = (int8_t) (i % 3 ? (int) (i * 37 % 255) - 127 : -127);
    memset (entries + ENTRY_HEADER, 0x81, MAX_PADDED);   //  entry 0: every code -127
    for (size_t padded = 16; padded <= MAX_PADDED; padded += 16) {
        for (size_t e = 0; e < N; e++) {
            const int8_t *c = (const int8_t *) (entries + e * stride + ENTRY_HEADER);
            want[e] = 0;
            for (size_t i = 0; i < padded; i++)
                want[e] += q[i] * c[i];
        }
        s_dots_plain (entries, N, stride, q, padded, got);
        assert (memcmp (want, got, sizeof want) == 0);
#ifdef S_X86_CLONES
        if (__builtin_cpu_supports ("avx512vnni") && __builtin_cpu_supports ("avx512bw")) {
            s_dots_vnni (entries, N, stride, q, padded, got);
            assert (memcmp (want, got, sizeof want) == 0);
        }
#endif
    }
    free (entries);
}

static void
s_test_vector (float *v, uint32_t dims, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (uint32_t i = 0; i < dims; i++) {
        x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
        v[i] = (float) ((double) (x * 0x2545F4914F6CDD1Dull >> 11) / 9007199254740992.0 - 0.5);
    }
}

static bool
s_test_odd (uint64_t id, void *arg)
{
    (void) arg;
    return id % 2 == 1;
}

void
mem_vectors_test (bool verbose)
{
    printf (" * mem_vectors: ");
    char dir[] = "/tmp/mem_vectors_test.XXXXXX";
    assert (mkdtemp (dir));
    char err[256];
    mem_store_options_t opts;
    mem_store_options_default (&opts);
    opts.dir = dir;
    opts.sync = MEM_SYNC_NONE;
    mem_store_t *store = mem_store_open (&opts, err, sizeof err);
    assert (store);

    //  A hand-checked case: cosine ranks [1,0,0] near [0.9,0.1,0] first.
    MDB_txn *txn;
    assert (mem_store_write_begin (store, &txn) == 0);
    float a[3] = {0.9f, 0.1f, 0}, b[3] = {0, 1, 0}, c[3] = {-1, 0, 0}, d[3] = {0.6f, 0.6f, 0};
    assert (mem_vectors_put (store, txn, 7, 1, a, 3) == 0);
    assert (mem_vectors_put (store, txn, 7, 2, b, 3) == 0);
    assert (mem_vectors_put (store, txn, 7, 3, c, 3) == 0);
    assert (mem_vectors_put (store, txn, 7, 4, d, 3) == 0);
    assert (mem_vectors_put (store, txn, 7, 5, a, 4) == MEM_VECTORS_MISMATCH);
    uint32_t dims;
    assert (mem_vectors_dims (store, txn, 7, &dims) == 0 && dims == 3);
    assert (mem_vectors_dims (store, txn, 8, &dims) == MDB_NOTFOUND);
    float q[3] = {1, 0, 0};
    mem_hit_t hits[8];
    unsigned n;
    assert (mem_vectors_search (store, txn, 7, q, 3, 4, NULL, NULL, hits, &n) == 0);
    assert (n == 4 && hits[0].id == 1 && hits[1].id == 4 && hits[2].id == 2 && hits[3].id == 3);
    assert (fabs (hits[0].score - 0.9 / sqrt (0.82)) < 1e-6);
    assert (fabs (hits[1].score - sqrt (0.5)) < 1e-6 && fabs (hits[3].score + 1) < 1e-6);
    assert (mem_vectors_search (store, txn, 7, q, 3, 2, s_test_odd, NULL, hits, &n) == 0);
    assert (n == 2 && hits[0].id == 1 && hits[1].id == 3);
    assert (mem_vectors_search (store, txn, 7, q, 2, 2, NULL, NULL, hits, &n)
            == MEM_VECTORS_MISMATCH);
    assert (mem_vectors_search (store, txn, 9, q, 3, 2, NULL, NULL, hits, &n) == 0 && n == 0);
    double sim;
    assert (mem_vectors_similarity (store, txn, 2, q, 3, &sim) == 0 && fabs (sim) < 1e-9);
    float back[4];
    assert (mem_vectors_get (store, txn, 4, back, 4, &dims) == 0 && dims == 3);
    assert (back[0] == 0.6f && back[1] == 0.6f && back[2] == 0);
    assert (mem_vectors_get (store, txn, 4, back, 2, &dims) == ENOSPC);
    assert (mem_vectors_get (store, txn, 99, back, 4, &dims) == MDB_NOTFOUND);
    assert (mem_store_write_commit (store, &txn) == 0);

    //  Many vectors over several blocks: the search equals brute force over
    //  the floats (the int8 pass only chooses candidates); removal works.
    enum { N = 700, DIMS = 100 };
    float *all = malloc ((size_t) N * DIMS * sizeof (float));
    assert (all);
    assert (mem_store_write_begin (store, &txn) == 0);
    for (uint64_t i = 0; i < N; i++) {
        s_test_vector (all + i * DIMS, DIMS, i);
        assert (mem_vectors_put (store, txn, 3, 100 + i, all + i * DIMS, DIMS) == 0);
    }
    assert (mem_store_write_commit (store, &txn) == 0);
    float query[DIMS];
    s_test_vector (query, DIMS, 4242);
    double best[3] = {-2, -2, -2};
    uint64_t best_id[3] = {0, 0, 0};
    for (uint64_t i = 0; i < N; i++) {
        double dot = 0, na = 0, nb = 0;
        for (int j = 0; j < DIMS; j++) {
            dot += (double) query[j] * all[i * DIMS + j];
            na += (double) query[j] * query[j];
            nb += (double) all[i * DIMS + j] * all[i * DIMS + j];
        }
        double cos = dot / sqrt (na * nb);
        for (int r = 0; r < 3; r++)
            if (cos > best[r]) {
                for (int s = 2; s > r; s--)
                    best[s] = best[s - 1], best_id[s] = best_id[s - 1];
                best[r] = cos, best_id[r] = 100 + i;
                break;
            }
    }
    assert (mem_store_read_begin (store, &txn) == 0);
    assert (mem_vectors_search (store, txn, 3, query, DIMS, 3, NULL, NULL, hits, &n) == 0);
    assert (n == 3);
    for (int r = 0; r < 3; r++)
        assert (hits[r].id == best_id[r] && fabs (hits[r].score - best[r]) < 1e-6);
    mem_store_read_end (store, &txn);
    assert (mem_store_write_begin (store, &txn) == 0);
    assert (mem_vectors_remove (store, txn, best_id[0]) == 0);
    assert (mem_vectors_remove (store, txn, best_id[0]) == MDB_NOTFOUND);
    assert (mem_vectors_search (store, txn, 3, query, DIMS, 1, NULL, NULL, hits, &n) == 0);
    assert (n == 1 && hits[0].id == best_id[1]);

    //  Verify: the vectors name records that do not exist (none were
    //  captured here): one problem per vector, nothing else.
    int problems = 0;
    uint64_t count;
    assert (mem_vectors_verify (store, txn, s_test_problem, &problems, &count) == 0);
    assert (count == N - 1 + 4 && problems == (int) count);
    assert (mem_store_counter_get (txn, store, "embeddings") == count);
    mem_store_write_abort (store, &txn);
    free (all);

    //  Capture check: the stored dimension, or the request's first.
    assert (mem_store_write_begin (store, &txn) == 0);
    uint32_t agent;
    assert (mem_agents_lookup (store, txn, "alice", true, &agent) == 0);
    assert (mem_vectors_put (store, txn, agent, 1000, a, 3) == 0);
    Memd__V1__Record r0 = MEMD__V1__RECORD__INIT, r1 = MEMD__V1__RECORD__INIT,
                     r2 = MEMD__V1__RECORD__INIT;
    Memd__V1__Record *recs[] = {&r0, &r1, &r2};
    Memd__V1__Capture cap = MEMD__V1__CAPTURE__INIT;
    cap.records = recs;
    cap.n_records = 3;
    r0.embedding = a, r0.n_embedding = 3;
    r1.agent_id = "bob", r1.embedding = a, r1.n_embedding = 2;
    r2.agent_id = "bob", r2.embedding = a, r2.n_embedding = 2;
    assert (mem_vectors_check_capture (store, txn, &cap, "alice", err, sizeof err) == 0);
    r2.n_embedding = 3;
    assert (mem_vectors_check_capture (store, txn, &cap, "alice", err, sizeof err)
            == MEM_VECTORS_MISMATCH);
    assert (strstr (err, "record 2: embedding has 3 dimensions, but agent bob uses 2"));
    r2.n_embedding = 0;
    r0.n_embedding = 2;
    assert (mem_vectors_check_capture (store, txn, &cap, "alice", err, sizeof err)
            == MEM_VECTORS_MISMATCH);
    assert (strstr (err, "record 0") && strstr (err, "alice uses 3"));
    mem_store_write_abort (store, &txn);

    mem_store_destroy (&store);
    char cmd[300];
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    assert (system (cmd) == 0);
    s_test_dots ();
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
