/*  bench_corpus — a deterministic synthetic corpus for the benchmarks.

    See bench_corpus.h. Everything is drawn from xoshiro256** generators
    seeded through splitmix64, one independent stream each for the
    vocabulary, the records and the queries: changing --records leaves the
    vocabulary unchanged, and a smaller corpus is a prefix of a larger one
    with the same seed.

    Texts are kept in three arenas (one allocation each, plus a pointer
    array), so a 100,000-record corpus costs a handful of mallocs.
*/
#include "bench_corpus.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_WORD_SLOT 12 /* bytes per word while generating: 4 syllables + final + NUL */

//  Stream tags mixed into the seed, one per independent PRNG stream
#define S_STREAM_VOCAB   0x766f636162756c61ULL
#define S_STREAM_RECORDS 0x7265636f72647321ULL
#define S_STREAM_QUERIES 0x7175657269657321ULL

struct _bench_corpus_t {
    char *vocab_arena;  //  all words, NUL-separated
    const char **vocab; //  n_vocab pointers into vocab_arena, rank order
    size_t n_vocab;
    char *record_arena;
    const char **records;
    size_t n_records;
    char *query_arena;
    const char **queries;
    size_t n_queries;
    size_t words;  //  total words over all records
    size_t bytes;  //  total text bytes over all records
    uint64_t hash; //  FNV-1a of records and queries
};

//  --------------------------------------------------------------------------
//  PRNG: xoshiro256** (Blackman & Vigna), seeded by splitmix64

typedef struct {
    uint64_t s[4];
} s_rng_t;

static uint64_t s_splitmix64 (uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void s_rng_seed (s_rng_t *rng, uint64_t seed, uint64_t stream)
{
    uint64_t state = seed ^ stream;
    for (int i = 0; i < 4; i++)
        rng->s[i] = s_splitmix64 (&state);
}

static inline uint64_t s_rotl (uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t s_rng_next (s_rng_t *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = s_rotl (s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = s_rotl (s[3], 45);
    return result;
}

//  Uniform integer in [0, n); modulo bias is below n / 2^64, i.e. nil here
static uint64_t s_rng_below (s_rng_t *rng, uint64_t n)
{
    return s_rng_next (rng) % n;
}

//  Uniform integer in [lo, hi]
static uint64_t s_rng_range (s_rng_t *rng, uint64_t lo, uint64_t hi)
{
    return lo + s_rng_below (rng, hi - lo + 1);
}

//  Uniform double in [0, 1), 53 random bits
static double s_rng_unit (s_rng_t *rng)
{
    return (double)(s_rng_next (rng) >> 11) * 0x1.0p-53;
}

//  --------------------------------------------------------------------------
//  Growable byte arena; strings are addressed by offset until it stops moving

typedef struct {
    char *data;
    size_t size;
    size_t used;
} s_arena_t;

static int s_arena_reserve (s_arena_t *arena, size_t more)
{
    if (arena->used + more <= arena->size)
        return 0;
    size_t size = arena->size ? arena->size : 4096;
    while (size < arena->used + more)
        size *= 2;
    char *data = realloc (arena->data, size);
    if (!data)
        return -1;
    arena->data = data;
    arena->size = size;
    return 0;
}

static int s_arena_append (s_arena_t *arena, const char *text, size_t len)
{
    if (s_arena_reserve (arena, len))
        return -1;
    memcpy (arena->data + arena->used, text, len);
    arena->used += len;
    return 0;
}

//  Turns count offsets into pointers into the (now final) arena
static const char **s_arena_pointers (s_arena_t *arena, size_t *offsets, size_t count)
{
    const char **pointers = malloc ((count ? count : 1) * sizeof (char *));
    if (!pointers)
        return NULL;
    for (size_t i = 0; i < count; i++)
        pointers[i] = arena->data + offsets[i];
    return pointers;
}

static uint64_t s_fnv1a (uint64_t hash, const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        hash ^= (unsigned char)data[i];
        hash *= 0x100000001b3ULL;
    }
    return hash;
}

//  --------------------------------------------------------------------------
//  Vocabulary

static const char s_consonants[] = "bdfghjklmnprtvz";
static const char s_vowels[] = "aeiou";
static const char s_finals[] = "kpb"; //  no Porter rule or stopword ends so

//  Writes one random word into word (S_WORD_SLOT bytes); returns its length
static size_t s_word_make (s_rng_t *rng, char *word)
{
    //  2, 3 or 4 syllables with weights 3:5:2
    uint64_t pick = s_rng_below (rng, 10);
    int syllables = pick < 3 ? 2 : pick < 8 ? 3 : 4;
    size_t len = 0;
    for (int i = 0; i < syllables; i++) {
        word[len++] = s_consonants[s_rng_below (rng, sizeof (s_consonants) - 1)];
        word[len++] = s_vowels[s_rng_below (rng, sizeof (s_vowels) - 1)];
    }
    word[len++] = s_finals[s_rng_below (rng, sizeof (s_finals) - 1)];
    word[len] = 0;
    return len;
}

typedef struct {
    uint32_t index;
    uint32_t len;
} s_word_key_t;

//  Shorter words first, then in generation order: frequent words are short
static int s_word_key_compare (const void *a, const void *b)
{
    const s_word_key_t *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

//  Generates n distinct words into arena, in Zipf rank order
static int s_vocab_build (bench_corpus_t *self, size_t n, uint64_t seed)
{
    int rc = -1;
    s_arena_t arena = {0};
    size_t *offsets = NULL;
    s_word_key_t *keys = NULL;
    size_t slots = 1;
    while (slots < 2 * n)
        slots *= 2;
    char *words = malloc (n * S_WORD_SLOT);
    uint32_t *table = calloc (slots, sizeof (uint32_t)); //  index + 1; 0 = empty
    offsets = malloc (n * sizeof (size_t));
    keys = malloc (n * sizeof (s_word_key_t));
    if (!words || !table || !offsets || !keys)
        goto done;

    s_rng_t rng;
    s_rng_seed (&rng, seed, S_STREAM_VOCAB);
    size_t count = 0;
    while (count < n) {
        char *word = words + count * S_WORD_SLOT;
        size_t len = s_word_make (&rng, word);
        size_t slot = s_fnv1a (0xcbf29ce484222325ULL, word, len) & (slots - 1);
        bool seen = false;
        while (table[slot]) {
            if (strcmp (words + (table[slot] - 1) * S_WORD_SLOT, word) == 0) {
                seen = true;
                break;
            }
            slot = (slot + 1) & (slots - 1);
        }
        if (seen)
            continue;
        table[slot] = (uint32_t)count + 1;
        keys[count].index = (uint32_t)count;
        keys[count].len = (uint32_t)len;
        count++;
    }
    qsort (keys, n, sizeof (s_word_key_t), s_word_key_compare);
    for (size_t i = 0; i < n; i++) {
        offsets[i] = arena.used;
        if (s_arena_append (&arena, words + keys[i].index * S_WORD_SLOT, keys[i].len + 1))
            goto done;
    }
    self->vocab = s_arena_pointers (&arena, offsets, n);
    if (!self->vocab)
        goto done;
    self->vocab_arena = arena.data;
    arena.data = NULL;
    self->n_vocab = n;
    rc = 0;
done:
    free (arena.data);
    free (offsets);
    free (keys);
    free (table);
    free (words);
    return rc;
}

//  --------------------------------------------------------------------------
//  Records: Zipf-distributed words, BENCH_CORPUS_WORDS_MIN..MAX per record

//  Cumulative (unnormalised) Zipf weights, cdf[i] = sum over ranks <= i
static double *s_zipf_cdf (size_t n, double s)
{
    double *cdf = malloc (n * sizeof (double));
    if (!cdf)
        return NULL;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        //  1/(i+1) exactly for s = 1, so the table is the same everywhere
        sum += s == 1.0 ? 1.0 / (double)(i + 1) : pow ((double)(i + 1), -s);
        cdf[i] = sum;
    }
    return cdf;
}

//  Draws a rank: the first i with cdf[i] > u * total (binary search)
static size_t s_zipf_draw (s_rng_t *rng, const double *cdf, size_t n)
{
    double u = s_rng_unit (rng) * cdf[n - 1];
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cdf[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static int s_records_build (bench_corpus_t *self, size_t n, uint64_t seed)
{
    int rc = -1;
    s_arena_t arena = {0};
    size_t *offsets = malloc (n * sizeof (size_t));
    double *cdf = s_zipf_cdf (self->n_vocab, BENCH_CORPUS_ZIPF_S);
    if (!offsets || !cdf)
        goto done;

    s_rng_t rng;
    s_rng_seed (&rng, seed, S_STREAM_RECORDS);
    for (size_t i = 0; i < n; i++) {
        offsets[i] = arena.used;
        size_t words = s_rng_range (&rng, BENCH_CORPUS_WORDS_MIN, BENCH_CORPUS_WORDS_MAX);
        size_t start = arena.used;
        for (size_t w = 0; w < words; w++) {
            const char *word = self->vocab[s_zipf_draw (&rng, cdf, self->n_vocab)];
            if ((w && s_arena_append (&arena, " ", 1)) ||
                s_arena_append (&arena, word, strlen (word)))
                goto done;
        }
        self->words += words;
        self->bytes += arena.used - start;
        if (s_arena_append (&arena, "", 1))
            goto done;
    }
    self->records = s_arena_pointers (&arena, offsets, n);
    if (!self->records)
        goto done;
    self->record_arena = arena.data;
    arena.data = NULL;
    self->n_records = n;
    rc = 0;
done:
    free (arena.data);
    free (offsets);
    free (cdf);
    return rc;
}

//  --------------------------------------------------------------------------
//  Queries: 2–4 distinct words of one randomly chosen record

typedef struct {
    const char *start;
    size_t len;
} s_span_t;

//  Splits text on single spaces into at most max spans; returns the count
static size_t s_split (const char *text, s_span_t *spans, size_t max)
{
    size_t count = 0;
    while (*text && count < max) {
        const char *end = strchr (text, ' ');
        size_t len = end ? (size_t)(end - text) : strlen (text);
        spans[count].start = text;
        spans[count].len = len;
        count++;
        text += len + (end ? 1 : 0);
    }
    return count;
}

static bool s_span_equal (s_span_t a, s_span_t b)
{
    return a.len == b.len && memcmp (a.start, b.start, a.len) == 0;
}

static int s_queries_build (bench_corpus_t *self, size_t n, uint64_t seed)
{
    int rc = -1;
    s_arena_t arena = {0};
    size_t *offsets = malloc (n * sizeof (size_t));
    if (!offsets)
        goto done;

    s_rng_t rng;
    s_rng_seed (&rng, seed, S_STREAM_QUERIES);
    s_span_t words[BENCH_CORPUS_WORDS_MAX];
    s_span_t picked[BENCH_CORPUS_QWORDS_MAX];
    for (size_t i = 0; i < n; i++) {
        const char *record = self->records[s_rng_below (&rng, self->n_records)];
        size_t count = s_split (record, words, BENCH_CORPUS_WORDS_MAX);
        size_t want = s_rng_range (&rng, BENCH_CORPUS_QWORDS_MIN, BENCH_CORPUS_QWORDS_MAX);
        size_t have = 0;
        //  A record of 20+ Zipf words nearly always has 4 distinct ones; the
        //  attempt bound only guards against pathological tiny vocabularies
        for (int attempt = 0; have < want && attempt < 1000; attempt++) {
            s_span_t word = words[s_rng_below (&rng, count)];
            bool dup = false;
            for (size_t j = 0; j < have && !dup; j++)
                dup = s_span_equal (picked[j], word);
            if (!dup)
                picked[have++] = word;
        }
        offsets[i] = arena.used;
        for (size_t j = 0; j < have; j++)
            if ((j && s_arena_append (&arena, " ", 1)) ||
                s_arena_append (&arena, picked[j].start, picked[j].len))
                goto done;
        if (s_arena_append (&arena, "", 1))
            goto done;
    }
    self->queries = s_arena_pointers (&arena, offsets, n);
    if (!self->queries)
        goto done;
    self->query_arena = arena.data;
    arena.data = NULL;
    self->n_queries = n;
    rc = 0;
done:
    free (arena.data);
    free (offsets);
    return rc;
}

//  --------------------------------------------------------------------------
//  Builds a corpus; NULL on bad arguments or out of memory

bench_corpus_t *bench_corpus_new (size_t records, size_t vocab, size_t queries, uint64_t seed)
{
    if (records < 1 || queries < 1 || vocab < BENCH_CORPUS_VOCAB_MIN ||
        vocab > BENCH_CORPUS_VOCAB_MAX)
        return NULL;
    bench_corpus_t *self = calloc (1, sizeof (bench_corpus_t));
    if (!self)
        return NULL;
    if (s_vocab_build (self, vocab, seed) || s_records_build (self, records, seed) ||
        s_queries_build (self, queries, seed)) {
        bench_corpus_destroy (&self);
        return NULL;
    }
    uint64_t hash = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < self->n_records; i++)
        hash = s_fnv1a (hash, self->records[i], strlen (self->records[i]) + 1);
    for (size_t i = 0; i < self->n_queries; i++)
        hash = s_fnv1a (hash, self->queries[i], strlen (self->queries[i]) + 1);
    self->hash = hash;
    return self;
}

//  --------------------------------------------------------------------------
//  Destroys the corpus; idempotent

void bench_corpus_destroy (bench_corpus_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bench_corpus_t *self = *self_p;
    free (self->vocab);
    free (self->vocab_arena);
    free (self->records);
    free (self->record_arena);
    free (self->queries);
    free (self->query_arena);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  Accessors

const char *const *bench_corpus_records (bench_corpus_t *self, size_t *count)
{
    *count = self->n_records;
    return self->records;
}

const char *const *bench_corpus_queries (bench_corpus_t *self, size_t *count)
{
    *count = self->n_queries;
    return self->queries;
}

const char *const *bench_corpus_vocab (bench_corpus_t *self, size_t *count)
{
    *count = self->n_vocab;
    return self->vocab;
}

size_t bench_corpus_words (bench_corpus_t *self)
{
    return self->words;
}

size_t bench_corpus_bytes (bench_corpus_t *self)
{
    return self->bytes;
}

uint64_t bench_corpus_hash (bench_corpus_t *self)
{
    return self->hash;
}

//  --------------------------------------------------------------------------
//  Self test

#define S_CHECK(cond)                                                                             \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            fprintf (stderr, "bench_corpus_test: %s:%d: check failed: %s\n", __FILE__, __LINE__,  \
                     #cond);                                                                      \
            goto done;                                                                            \
        }                                                                                         \
    } while (0)

static int s_strcmp_p (const void *a, const void *b)
{
    return strcmp (*(const char *const *)a, *(const char *const *)b);
}

//  True if text contains word as a whole space-separated word
static bool s_has_word (const char *text, const char *word, size_t len)
{
    for (const char *at = strstr (text, word); at; at = strstr (at + 1, word)) {
        bool start = at == text || at[-1] == ' ';
        bool end = at[len] == 0 || at[len] == ' ';
        if (start && end)
            return true;
    }
    return false;
}

int bench_corpus_test (bool verbose)
{
    int rc = -1;
    const char **sorted = NULL;
    bench_corpus_t *a = bench_corpus_new (2000, 1000, 200, 7);
    bench_corpus_t *b = bench_corpus_new (2000, 1000, 200, 7);
    bench_corpus_t *c = bench_corpus_new (2000, 1000, 200, 8);
    bench_corpus_t *small = bench_corpus_new (1000, 1000, 10, 7);
    S_CHECK (a && b && c && small);
    S_CHECK (!bench_corpus_new (0, 1000, 10, 7));
    S_CHECK (!bench_corpus_new (10, 10, 10, 7));

    //  Determinism: same seed, same corpus; another seed, another corpus
    size_t nr, nq, nv, n2;
    const char *const *ra = bench_corpus_records (a, &nr);
    const char *const *rb = bench_corpus_records (b, &n2);
    S_CHECK (nr == 2000 && n2 == 2000);
    for (size_t i = 0; i < nr; i++)
        S_CHECK (strcmp (ra[i], rb[i]) == 0);
    S_CHECK (bench_corpus_hash (a) == bench_corpus_hash (b));
    S_CHECK (bench_corpus_hash (a) != bench_corpus_hash (c));

    //  A smaller corpus is a prefix of a larger one with the same seed
    const char *const *rs = bench_corpus_records (small, &n2);
    for (size_t i = 0; i < n2; i++)
        S_CHECK (strcmp (ra[i], rs[i]) == 0);

    //  Words: distinct, lowercase ASCII, >= 5 letters, ending in k/p/b
    const char *const *vocab = bench_corpus_vocab (a, &nv);
    S_CHECK (nv == 1000);
    sorted = malloc (nv * sizeof (char *));
    S_CHECK (sorted);
    memcpy (sorted, vocab, nv * sizeof (char *));
    qsort (sorted, nv, sizeof (char *), s_strcmp_p);
    for (size_t i = 0; i < nv; i++) {
        size_t len = strlen (sorted[i]);
        S_CHECK (len >= 5 && len < S_WORD_SLOT);
        S_CHECK (strspn (sorted[i], "abcdefghijklmnopqrstuvwxyz") == len);
        S_CHECK (strchr (s_finals, sorted[i][len - 1]));
        S_CHECK (i == 0 || strcmp (sorted[i - 1], sorted[i]) < 0);
    }
    for (size_t i = 1; i < nv; i++)
        S_CHECK (strlen (vocab[i - 1]) <= strlen (vocab[i]));

    //  Records: 20–80 vocabulary words; the top word near its Zipf share
    size_t top = 0, words = 0;
    s_span_t spans[BENCH_CORPUS_WORDS_MAX + 1];
    for (size_t i = 0; i < nr; i++) {
        size_t count = s_split (ra[i], spans, BENCH_CORPUS_WORDS_MAX + 1);
        S_CHECK (count >= BENCH_CORPUS_WORDS_MIN && count <= BENCH_CORPUS_WORDS_MAX);
        words += count;
        for (size_t w = 0; w < count; w++) {
            char word[S_WORD_SLOT];
            S_CHECK (spans[w].len > 0 && spans[w].len < S_WORD_SLOT);
            memcpy (word, spans[w].start, spans[w].len);
            word[spans[w].len] = 0;
            const char *key = word;
            S_CHECK (bsearch (&key, sorted, nv, sizeof (char *), s_strcmp_p));
            top += strcmp (word, vocab[0]) == 0;
        }
    }
    S_CHECK (words == bench_corpus_words (a));
    //  H(1000) = 7.485, so rank 1 has a 13.4% share
    double share = (double)top / (double)words;
    S_CHECK (share > 0.12 && share < 0.15);

    //  Queries: 2–4 distinct words, all in at least one common record
    const char *const *qa = bench_corpus_queries (a, &nq);
    S_CHECK (nq == 200);
    for (size_t i = 0; i < nq; i++) {
        size_t count = s_split (qa[i], spans, BENCH_CORPUS_QWORDS_MAX + 1);
        S_CHECK (count >= BENCH_CORPUS_QWORDS_MIN && count <= BENCH_CORPUS_QWORDS_MAX);
        char qwords[BENCH_CORPUS_QWORDS_MAX][S_WORD_SLOT];
        for (size_t j = 0; j < count; j++) {
            memcpy (qwords[j], spans[j].start, spans[j].len);
            qwords[j][spans[j].len] = 0;
            for (size_t k = 0; k < j; k++)
                S_CHECK (strcmp (qwords[j], qwords[k]) != 0);
        }
        bool found = false;
        for (size_t r = 0; r < nr && !found; r++) {
            found = true;
            for (size_t j = 0; j < count && found; j++)
                found = s_has_word (ra[r], qwords[j], strlen (qwords[j]));
        }
        S_CHECK (found);
    }
    if (verbose)
        fprintf (stderr,
                 "bench_corpus_test: %zu records, %zu words, top share %.3f, "
                 "hash %016llx, e.g. \"%s\"\n",
                 nr, words, share, (unsigned long long)bench_corpus_hash (a), qa[0]);
    rc = 0;
done:
    free (sorted);
    bench_corpus_destroy (&a);
    bench_corpus_destroy (&b);
    bench_corpus_destroy (&c);
    bench_corpus_destroy (&small);
    return rc;
}
