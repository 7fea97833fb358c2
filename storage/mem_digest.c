/*  mem_digest — an extractive session digest. See mem_digest.h for the
    contract: how sentences are split, scored and picked.

    One pass splits every member into sentences and feeds each sentence to
    mem_tokenize; terms go into a hash table (a dense array of terms, id =
    index, plus an open-addressing index of 64-bit term hashes), and each
    sentence keeps the sorted distinct ids of its terms in one shared array.
    Then weights, scores, one sort, and a greedy pick: the near-duplicate
    test is a merge of two sorted id lists, against at most
    MEM_DIGEST_SENTENCES_MAX picked sentences, so the whole is
    O(text + sentences * picks * terms per sentence) and never quadratic
    in the text. Sentences are spans of the members' texts; nothing is
    copied until the digest is written.
*/
#include "mem_digest.h"
#include "mem_tokenizer.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#undef NDEBUG
#include <assert.h>

#define S_MIN_TERMS  2              //  sentences with fewer terms are not picked
#define S_NEAR_DUP   0.8            //  term-set Jaccard that makes a repeat
#define S_SEPARATOR  "\n"           //  between sentences
#define S_ELLIPSIS   "\xe2\x80\xa6" //  U+2026, ends a sentence cut to fit
#define S_FIXED      1048576.0      //  weights are summed in fixed point (2^20)

//  A term of the session
typedef struct {
    uint64_t key;                   //  hash of the term's bytes
    uint32_t tf;                    //  occurrences in the session
    uint32_t df;                    //  members it occurs in
    size_t last;                    //  last member it occurred in, + 1
    uint64_t weight;                //  in units of 1 / S_FIXED
} s_term_t;

//  A sentence: a span of one member's text
typedef struct {
    size_t member;
    size_t off, len;                //  trimmed span in the member's text
    size_t clean_len;               //  bytes once invalid UTF-8 and controls are dropped
    size_t ids_at, n_ids;           //  its distinct term ids, sorted, in ids[]
    size_t n_terms;                 //  term occurrences
    double score;                   //  < 0: never picked
} s_sentence_t;

typedef struct {
    s_term_t *terms;
    size_t n_terms, terms_cap;
    uint32_t *slots;                //  term id + 1 by hash; 0 = free
    size_t slots_cap;               //  a power of two, over twice n_terms
    uint32_t *ids;
    size_t n_ids, ids_cap;
    s_sentence_t *sents;
    size_t n_sents, sents_cap;
    size_t member;                  //  the member being read, + 1
    bool oom;
} s_digest_t;

//  A candidate in score order
typedef struct {
    double score;
    size_t sentence;
} s_rank_t;

//  Grows *items (of size bytes each) to hold at least need; 0 or -1.
static int
s_grow (void **items, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 64;
    while (n < need)
        n *= 2;
    if (n > SIZE_MAX / size)
        return -1;
    void *grown = realloc (*items, n * size);
    if (!grown)
        return -1;
    *items = grown;
    *cap = n;
    return 0;
}

//  --------------------------------------------------------------------------
//  Sentences

static inline bool
s_is_space (unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static inline bool
s_is_alpha (unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool
s_is_alnum (unsigned char c)
{
    return s_is_alpha (c) || (c >= '0' && c <= '9');
}

//  Lowercase abbreviations after which a period does not end a sentence.
//  "etc." and "no." are left out: they end sentences as often as not.
static const char *s_abbreviations[] = {
    "approx", "cf", "dept", "dr", "fig", "incl", "jr", "mr", "mrs", "ms", "prof", "sr", "st", "vs",
};

//  True if the period at t[dot] (whose run of terminators and closers ends
//  at after, before whitespace or the end) ends the sentence that began at
//  begin.
static bool
s_period_ends (const unsigned char *t, size_t len, size_t begin, size_t dot, size_t after)
{
    size_t word = dot;
    while (word > begin && s_is_alnum (t[word - 1]))
        word--;
    size_t wlen = dot - word;
    if (wlen == 1 && s_is_alpha (t[word])
        && (word == begin || s_is_space (t[word - 1]) || t[word - 1] == '.'
            || t[word - 1] == '('))
        return false;           //  initials, "e.g.", "i.e.", "U.S."
    if (wlen >= 2 && wlen <= 6) {
        char lower[8];
        for (size_t i = 0; i < wlen; i++)
            lower[i] = (char) (t[word + i] | (s_is_alpha (t[word + i]) ? 0x20 : 0));
        for (size_t i = 0; i < sizeof s_abbreviations / sizeof s_abbreviations[0]; i++)
            if (strlen (s_abbreviations[i]) == wlen
                && memcmp (s_abbreviations[i], lower, wlen) == 0)
                return false;
    }
    size_t next = after;
    while (next < len && (t[next] == ' ' || t[next] == '\t'))
        next++;
    return !(next < len && t[next] >= 'a' && t[next] <= 'z');
}

//  Where to cut a sentence that reached limit = begin + the byte limit:
//  after the last whitespace in its second half, else at a character
//  boundary (t[limit] exists).
static size_t
s_sentence_cut (const unsigned char *t, size_t begin, size_t limit)
{
    for (size_t at = limit; at > begin + MEM_DIGEST_SENTENCE_BYTES / 2; at--)
        if (s_is_space (t[at - 1]))
            return at;
    size_t at = limit;
    while (at > limit - 3 && (t[at] & 0xC0) == 0x80)
        at--;
    return at;
}

//  End (exclusive) of the sentence that starts at begin (not whitespace).
static size_t
s_sentence_end (const unsigned char *t, size_t len, size_t begin)
{
    size_t i = begin;
    while (i < len) {
        if (i - begin >= MEM_DIGEST_SENTENCE_BYTES)
            return s_sentence_cut (t, begin, begin + MEM_DIGEST_SENTENCE_BYTES);
        unsigned char c = t[i];
        if (c == '\n' || c == '\r')
            return i + 1;
        if (c == '.' || c == '!' || c == '?') {
            bool strong = c != '.';
            size_t j = i + 1;
            for (; j < len && (t[j] == '.' || t[j] == '!' || t[j] == '?'); j++)
                strong |= t[j] != '.';
            while (j < len && (t[j] == '"' || t[j] == '\'' || t[j] == ')' || t[j] == ']'))
                j++;
            if ((j == len || s_is_space (t[j]))
                && (strong || s_period_ends (t, len, begin, i, j)))
                return j;
            i = j;
            continue;
        }
        if (i + 2 < len
            && ((c == 0xE3 && t[i + 1] == 0x80 && t[i + 2] == 0x82)        //  U+3002
                || (c == 0xEF && t[i + 1] == 0xBC
                    && (t[i + 2] == 0x81 || t[i + 2] == 0x9F))))           //  U+FF01, U+FF1F
            return i + 3;
        i++;
    }
    return len;
}

//  Finds the next non-empty sentence of t[0..len) from *at: its trimmed
//  span in *off, *slen. Returns false at the end.
static bool
s_sentence_next (const unsigned char *t, size_t len, size_t *at, size_t *off, size_t *slen)
{
    size_t begin = *at;
    while (true) {
        while (begin < len && s_is_space (t[begin]))
            begin++;
        if (begin >= len) {
            *at = len;
            return false;
        }
        size_t end = s_sentence_end (t, len, begin);
        size_t last = end;
        while (last > begin && s_is_space (t[last - 1]))
            last--;
        *at = end;
        if (last > begin) {
            *off = begin;
            *slen = last - begin;
            return true;
        }
        begin = end;
    }
}

//  Length of the well-formed UTF-8 sequence at p (1 to 4), or 0. The
//  second byte's range depends on the first (Unicode table 3-7): this
//  rules out overlongs, surrogates and code points above U+10FFFF.
static size_t
s_utf8_at (const unsigned char *p, size_t avail)
{
    unsigned char b = p[0];
    if (b < 0x80)
        return 1;
    unsigned char lo = 0x80, hi = 0xBF;
    size_t n;
    if (b >= 0xC2 && b <= 0xDF)
        n = 2;
    else if (b >= 0xE0 && b <= 0xEF) {
        n = 3;
        lo = b == 0xE0 ? 0xA0 : lo;
        hi = b == 0xED ? 0x9F : hi;
    }
    else if (b >= 0xF0 && b <= 0xF4) {
        n = 4;
        lo = b == 0xF0 ? 0x90 : lo;
        hi = b == 0xF4 ? 0x8F : hi;
    }
    else
        return 0;
    if (avail < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

//  Copies src[0..len) to out (if not NULL) without invalid UTF-8 and
//  control characters (a NUL would end the digest early), each run of
//  spaces and tabs made one space, none at either end; returns the bytes
//  kept.
static size_t
s_clean (const unsigned char *src, size_t len, char *out)
{
    size_t kept = 0;
    bool space = false;         //  a space is due before the next character
    for (size_t i = 0; i < len;) {
        size_t n = s_utf8_at (src + i, len - i);
        if (n == 0 || (src[i] < 0x20 && src[i] != '\t') || src[i] == 0x7F) {
            i++;
            continue;
        }
        if (src[i] == ' ' || src[i] == '\t') {
            space = kept > 0;
            i++;
            continue;
        }
        if (space) {
            if (out)
                out[kept] = ' ';
            kept++;
            space = false;
        }
        if (out)
            memcpy (out + kept, src + i, n);
        kept += n;
        i += n;
    }
    return kept;
}

//  --------------------------------------------------------------------------
//  Terms

static uint64_t
s_term_key (const char *term, size_t len)
{
    uint64_t h = 0xCBF29CE484222325ull;         //  FNV-1a, then mixed
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char) term[i]) * 0x100000001B3ull;
    h = (h ^ (h >> 33)) * 0xFF51AFD7ED558CCDull;
    return h ^ (h >> 33);
}

//  Rebuilds the hash index with cap slots.
static int
s_rehash (s_digest_t *self, size_t cap)
{
    uint32_t *slots = calloc (cap, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < self->n_terms; i++) {
        size_t at = self->terms[i].key & (cap - 1);
        while (slots[at])
            at = (at + 1) & (cap - 1);
        slots[at] = (uint32_t) i + 1;
    }
    free (self->slots);
    self->slots = slots;
    self->slots_cap = cap;
    return 0;
}

//  Finds or adds the term with this key; its id in *id. 0 or -1.
static int
s_term_id (s_digest_t *self, uint64_t key, uint32_t *id)
{
    if (2 * (self->n_terms + 1) > self->slots_cap
        && s_rehash (self, self->slots_cap ? 2 * self->slots_cap : 1024))
        return -1;
    size_t mask = self->slots_cap - 1;
    size_t at = key & mask;
    for (; self->slots[at]; at = (at + 1) & mask)
        if (self->terms[self->slots[at] - 1].key == key) {
            *id = self->slots[at] - 1;
            return 0;
        }
    if (self->n_terms >= UINT32_MAX - 1
        || s_grow ((void **) &self->terms, &self->terms_cap, self->n_terms + 1,
                   sizeof *self->terms))
        return -1;
    self->terms[self->n_terms] = (s_term_t) {.key = key};
    *id = (uint32_t) self->n_terms++;
    self->slots[at] = *id + 1;
    return 0;
}

//  mem_tokenize callback: counts the term and appends its id to the
//  current sentence's.
static void
s_on_term (const char *term, size_t len, unsigned position, void *arg)
{
    s_digest_t *self = (s_digest_t *) arg;
    (void) position;
    uint32_t id;
    if (self->oom || s_term_id (self, s_term_key (term, len), &id)
        || s_grow ((void **) &self->ids, &self->ids_cap, self->n_ids + 1, sizeof *self->ids)) {
        self->oom = true;
        return;
    }
    s_term_t *t = &self->terms[id];
    t->tf++;
    if (t->last != self->member) {
        t->last = self->member;
        t->df++;
    }
    self->ids[self->n_ids++] = id;
}

static int
s_cmp_u32 (const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
    return (x > y) - (x < y);
}

//  Splits one member into sentences and reads their terms; 0 or -1.
static int
s_read_member (s_digest_t *self, const mem_digest_member_t *member, size_t index)
{
    const unsigned char *text = (const unsigned char *) member->text;
    size_t len = text ? member->len : 0;
    size_t at = 0, off, slen;
    self->member = index + 1;
    while (s_sentence_next (text, len, &at, &off, &slen)) {
        size_t ids_at = self->n_ids;
        mem_tokenize ((const char *) text + off, slen, s_on_term, self);
        if (self->oom
            || s_grow ((void **) &self->sents, &self->sents_cap, self->n_sents + 1,
                       sizeof *self->sents))
            return -1;
        uint32_t *ids = self->ids + ids_at;
        size_t n_terms = self->n_ids - ids_at, distinct = 0;
        qsort (ids, n_terms, sizeof *ids, s_cmp_u32);
        for (size_t i = 0; i < n_terms; i++)
            if (distinct == 0 || ids[i] != ids[distinct - 1])
                ids[distinct++] = ids[i];
        self->n_ids = ids_at + distinct;
        self->sents[self->n_sents++] = (s_sentence_t) {
            .member = index,
            .off = off,
            .len = slen,
            .clean_len = s_clean (text + off, slen, NULL),
            .ids_at = ids_at,
            .n_ids = distinct,
            .n_terms = n_terms,
        };
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Scoring and picking

//  Weighs the terms and scores the sentences (see mem_digest.h). Weights
//  are summed as integers, so two sentences with the same terms score the
//  same whatever the order of the sum.
static void
s_score (s_digest_t *self)
{
    size_t active = 0;          //  members with any term
    size_t seen = 0;
    for (size_t s = 0; s < self->n_sents; s++)
        if (self->sents[s].n_terms > 0 && self->sents[s].member + 1 != seen) {
            seen = self->sents[s].member + 1;
            active++;
        }
    for (size_t i = 0; i < self->n_terms; i++) {
        s_term_t *t = &self->terms[i];
        double weight = (1 + log ((double) t->tf)) * log (1 + (double) active / t->df);
        t->weight = (uint64_t) llround (weight * S_FIXED);
    }
    for (size_t s = 0; s < self->n_sents; s++) {
        s_sentence_t *sent = &self->sents[s];
        sent->score = -1;
        if (sent->n_terms < S_MIN_TERMS || sent->clean_len == 0)
            continue;
        uint64_t sum = 0;
        for (size_t i = 0; i < sent->n_ids; i++)
            sum += self->terms[self->ids[sent->ids_at + i]].weight;
        sent->score = (double) sum / S_FIXED / sqrt ((double) sent->n_terms);
    }
}

static int
s_cmp_rank (const void *a, const void *b)
{
    const s_rank_t *x = (const s_rank_t *) a, *y = (const s_rank_t *) b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return (x->sentence > y->sentence) - (x->sentence < y->sentence);
}

static int
s_cmp_size (const void *a, const void *b)
{
    size_t x = *(const size_t *) a, y = *(const size_t *) b;
    return (x > y) - (x < y);
}

//  True if the two sentences' term sets are near-duplicates.
static bool
s_near_dup (const s_digest_t *self, const s_sentence_t *a, const s_sentence_t *b)
{
    const uint32_t *x = self->ids + a->ids_at, *y = self->ids + b->ids_at;
    size_t i = 0, j = 0, common = 0;
    while (i < a->n_ids && j < b->n_ids) {
        if (x[i] < y[j])
            i++;
        else if (x[i] > y[j])
            j++;
        else {
            common++;
            i++;
            j++;
        }
    }
    size_t all = a->n_ids + b->n_ids - common;
    return all > 0 && (double) common >= S_NEAR_DUP * (double) all;
}

//  The best sentence alone, cut to max_chars: at a character boundary, at
//  a space if one is in the second half, then "…" if it fits.
static char *
s_cut_one (const unsigned char *text, const s_sentence_t *sent, size_t max_chars,
           size_t *picked)
{
    char *out = malloc (sent->clean_len + sizeof S_ELLIPSIS);
    if (!out)
        return NULL;
    s_clean (text + sent->off, sent->len, out);
    bool ellipsis = max_chars > sizeof S_ELLIPSIS;      //  room for it and a character
    size_t cut = ellipsis ? max_chars - (sizeof S_ELLIPSIS - 1) : max_chars;
    //  cut < clean_len, since the whole sentence did not fit
    while (cut > 0 && ((unsigned char) out[cut] & 0xC0) == 0x80)
        cut--;
    for (size_t at = cut; at > cut / 2; at--)
        if (out[at - 1] == ' ') {
            cut = at;
            break;
        }
    while (cut > 0 && out[cut - 1] == ' ')
        cut--;
    if (cut > 0 && ellipsis) {
        memcpy (out + cut, S_ELLIPSIS, sizeof S_ELLIPSIS - 1);
        cut += sizeof S_ELLIPSIS - 1;
    }
    out[cut] = '\0';
    *picked = cut > 0;
    return out;
}

char *
mem_digest_build (const mem_digest_member_t *members, size_t n, size_t max_sentences,
                  size_t max_chars, size_t *picked)
{
    assert (members || n == 0);
    size_t dummy;
    if (!picked)
        picked = &dummy;
    *picked = 0;
    if (max_sentences > MEM_DIGEST_SENTENCES_MAX)
        max_sentences = MEM_DIGEST_SENTENCES_MAX;
    if (max_sentences == 0 || max_chars == 0)
        n = 0;

    s_digest_t self = {0};
    s_rank_t *ranks = NULL;
    char *digest = NULL;
    size_t chosen[MEM_DIGEST_SENTENCES_MAX];
    size_t n_chosen = 0, used = 0, too_long = SIZE_MAX;

    for (size_t m = 0; m < n; m++)
        if (s_read_member (&self, &members[m], m))
            goto cleanup;
    s_score (&self);

    size_t n_ranks = 0;
    ranks = malloc ((self.n_sents + 1) * sizeof *ranks);
    if (!ranks)
        goto cleanup;
    for (size_t s = 0; s < self.n_sents; s++)
        if (self.sents[s].score >= 0)
            ranks[n_ranks++] = (s_rank_t) {self.sents[s].score, s};
    qsort (ranks, n_ranks, sizeof *ranks, s_cmp_rank);

    for (size_t r = 0; r < n_ranks && n_chosen < max_sentences; r++) {
        const s_sentence_t *sent = &self.sents[ranks[r].sentence];
        size_t need = sent->clean_len + (n_chosen ? sizeof S_SEPARATOR - 1 : 0);
        if (need > max_chars - used) {
            if (too_long == SIZE_MAX)
                too_long = ranks[r].sentence;
            continue;
        }
        bool repeat = false;
        for (size_t c = 0; c < n_chosen && !repeat; c++)
            repeat = s_near_dup (&self, sent, &self.sents[chosen[c]]);
        if (repeat)
            continue;
        chosen[n_chosen++] = ranks[r].sentence;
        used += need;
    }

    if (n_chosen == 0 && too_long != SIZE_MAX) {
        const s_sentence_t *sent = &self.sents[too_long];
        digest = s_cut_one ((const unsigned char *) members[sent->member].text, sent, max_chars,
                            picked);
        goto cleanup;
    }
    qsort (chosen, n_chosen, sizeof *chosen, s_cmp_size);
    digest = malloc (used + 1);
    if (!digest)
        goto cleanup;
    size_t at = 0;
    for (size_t c = 0; c < n_chosen; c++) {
        const s_sentence_t *sent = &self.sents[chosen[c]];
        if (c > 0) {
            memcpy (digest + at, S_SEPARATOR, sizeof S_SEPARATOR - 1);
            at += sizeof S_SEPARATOR - 1;
        }
        at += s_clean ((const unsigned char *) members[sent->member].text + sent->off, sent->len,
                       digest + at);
    }
    assert (at == used);
    digest[at] = '\0';
    *picked = n_chosen;

cleanup:
    free (ranks);
    free (self.terms);
    free (self.slots);
    free (self.ids);
    free (self.sents);
    return digest;
}

//  --------------------------------------------------------------------------
//  Selftest

//  True if s[0..len) is well-formed UTF-8 without control characters but
//  newline, and no space at the start or end of a line.
static bool
s_valid (const char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        size_t n = s_utf8_at ((const unsigned char *) s + i, len - i);
        if (n == 0 || ((unsigned char) s[i] < 0x20 && s[i] != '\n'))
            return false;
        if (s[i] == ' ' && (i == 0 || i + 1 == len || s[i - 1] == '\n' || s[i + 1] == '\n'))
            return false;
        i += n;
    }
    return true;
}

//  Digests NUL-terminated texts and checks the result's invariants.
static char *
s_digest (const char **texts, size_t n, size_t max_sentences, size_t max_chars, size_t *picked,
          bool verbose)
{
    mem_digest_member_t members[16];
    assert (n <= 16);
    for (size_t i = 0; i < n; i++)
        members[i] = (mem_digest_member_t) {texts[i], strlen (texts[i]), i + 1,
                                            1700000000000 + (int64_t) i};
    char *digest = mem_digest_build (members, n, max_sentences, max_chars, picked);
    assert (digest);
    size_t len = strlen (digest);
    if (verbose)
        printf ("    [%zu sentences, %zu bytes]\n%s\n", *picked, len, digest);
    assert (len <= max_chars);
    assert (*picked <= max_sentences);
    assert (s_valid (digest, len));
    return digest;
}

static void
s_check (const char **texts, size_t n, size_t max_sentences, size_t max_chars, const char *want,
         size_t want_picked, bool verbose)
{
    size_t picked;
    char *digest = s_digest (texts, n, max_sentences, max_chars, &picked, verbose);
    if (strcmp (digest, want) != 0)
        printf ("    got:\n%s\n    want:\n%s\n", digest, want);
    assert (strcmp (digest, want) == 0);
    assert (picked == want_picked);
    free (digest);
}

//  Checks the sentences s_sentence_next finds in text (NULL-ended want).
static void
s_check_split (const char *text, const char **want)
{
    size_t at = 0, off, len, i = 0;
    while (s_sentence_next ((const unsigned char *) text, strlen (text), &at, &off, &len)) {
        assert (want[i]);
        if (strlen (want[i]) != len || memcmp (want[i], text + off, len) != 0)
            printf ("    sentence %zu: got '%.*s', want '%s'\n", i, (int) len, text + off,
                    want[i]);
        assert (strlen (want[i]) == len && memcmp (want[i], text + off, len) == 0);
        i++;
    }
    assert (want[i] == NULL);
}

static double
s_seconds (void)
{
    struct timespec ts;
    timespec_get (&ts, TIME_UTC);   //  C11; a test timer, wall clock is fine
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

void
mem_digest_test (bool verbose)
{
    printf (" * mem_digest: ");
    if (verbose)
        printf ("\n");

    //  Sentence splitting
    s_check_split ("One. Two! Three? Four", (const char *[]) {"One.", "Two!", "Three?", "Four",
                                                            NULL});
    s_check_split ("Use a cache, e.g. Redis, for speed. Pi is 3.14 today.\nNext line",
                   (const char *[]) {"Use a cache, e.g. Redis, for speed.", "Pi is 3.14 today.",
                                     "Next line", NULL});
    s_check_split ("Ask Dr. Smith vs. Mr. Jones. J. R. R. Tolkien wrote it. See example.com now.",
                   (const char *[]) {"Ask Dr. Smith vs. Mr. Jones.", "J. R. R. Tolkien wrote it.",
                                     "See example.com now.", NULL});
    s_check_split ("Really?! Yes... \"Quoted.\" (Aside.) approx. five items",
                   (const char *[]) {"Really?!", "Yes...", "\"Quoted.\"",
                                     "(Aside.) approx. five items", NULL});
    s_check_split ("It was 5 p.m. when it broke. Then it worked, i.e. someone fixed it.",
                   (const char *[]) {"It was 5 p.m. when it broke.",
                                     "Then it worked, i.e. someone fixed it.", NULL});
    s_check_split ("  \n\n  \r\n ", (const char *[]) {NULL});
    s_check_split ("line one\r\nline two\n\n- item", (const char *[]) {"line one", "line two",
                                                                      "- item", NULL});
    //  CJK full stop and full-width ! ? end a sentence without a space
    s_check_split ("\xe8\xa8\x98\xe6\x86\xb6\xe3\x80\x82\xe3\x83\x86\xef\xbc\x81\xe3\x83\x86",
                   (const char *[]) {"\xe8\xa8\x98\xe6\x86\xb6\xe3\x80\x82",
                                     "\xe3\x83\x86\xef\xbc\x81", "\xe3\x83\x86", NULL});

    //  A session where the informative sentences are obvious
    const char *session[] = {
        "Hi there. Let's look at the build.",
        "OK. The build fails because libczmq is missing on the CI runner.",
        "Thanks!",
        "We fixed the build by installing libczmq in the CI image. Great.",
        "Sounds good.",
    };
    s_check (session, 5, 2, 1000,
             "The build fails because libczmq is missing on the CI runner.\n"
             "We fixed the build by installing libczmq in the CI image.",
             2, verbose);
    //  Fewer sentences allowed: the best one (ties: the earlier)
    s_check (session, 5, 1, 1000,
             "The build fails because libczmq is missing on the CI runner.", 1, verbose);
    //  A budget that fits one sentence: the one that fits
    s_check (session, 5, 5, 58, "We fixed the build by installing libczmq in the CI image.", 1,
             verbose);
    //  More sentences allowed than are worth picking: no "OK.", "Thanks!"
    {
        size_t picked;
        char *digest = s_digest (session, 5, 10, 1000, &picked, verbose);
        assert (picked == 4);
        assert (!strstr (digest, "OK") && !strstr (digest, "Thanks") && !strstr (digest, "Hi"));
        assert (strncmp (digest, "Let's look at the build.\n", 25) == 0);
        free (digest);
    }

    //  Order is the original one, whichever scores higher
    {
        const char *texts[] = {
            "Postgres stores the records.",
            "Postgres backups run nightly; Postgres backups go to S3 with Postgres WAL.",
            "Lunch?",
        };
        size_t picked;
        char *digest = s_digest (texts, 3, 2, 1000, &picked, verbose);
        assert (picked == 2);
        char *first = strstr (digest, "Postgres stores");
        char *second = strstr (digest, "Postgres backups");
        assert (first && second && first < second);
        free (digest);
    }

    //  Duplicates are not repeated: the same member twice, a restatement
    {
        const char *texts[] = {
            "The deploy key lives in the vault under ops/deploy.",
            "The deploy key lives in the vault under ops/deploy.",
            "Rotate the deploy key every ninety days.",
            "the deploy key lives in the vault, under ops/deploy!",
        };
        s_check (texts, 4, 5, 1000,
                 "The deploy key lives in the vault under ops/deploy.\n"
                 "Rotate the deploy key every ninety days.",
                 2, verbose);
    }

    //  Empty sessions, empty members, one member, zero limits
    s_check (NULL, 0, 5, 1000, "", 0, verbose);
    s_check ((const char *[]) {""}, 1, 5, 1000, "", 0, verbose);
    s_check ((const char *[]) {"", "  \n "}, 2, 5, 1000, "", 0, verbose);
    s_check ((const char *[]) {"OK. Thanks!"}, 1, 5, 1000, "", 0, verbose);
    s_check ((const char *[]) {"The cache uses Redis."}, 1, 5, 1000, "The cache uses Redis.", 1,
             verbose);
    s_check ((const char *[]) {"The cache uses Redis."}, 1, 0, 1000, "", 0, verbose);
    s_check ((const char *[]) {"The cache uses Redis."}, 1, 5, 0, "", 0, verbose);
    {
        mem_digest_member_t none = {NULL, 0, 1, 0};
        char *digest = mem_digest_build (&none, 1, 5, 100, NULL);
        assert (digest && *digest == '\0');
        free (digest);
    }

    //  Nothing fits: the best sentence cut at a word, with "…"
    s_check ((const char *[]) {"The cache uses Redis with a long eviction policy."}, 1, 5, 24,
             "The cache uses Redis\xe2\x80\xa6", 1, verbose);
    //  ...at a character boundary when there is no space: every limit from 1
    //  to past the end gives valid UTF-8 within the budget
    {
        const char *text = "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82\xd1\x81\xd1\x82"
                           "\xd0\xb2\xd0\xb8\xd0\xb5\xe2\x82\xac\xf0\x9f\x98\x80"
                           "\xd0\xbc\xd0\xb8\xd1\x80\xd0\xb0\xd0\xbc\xd0\xb8\xd1\x80 "
                           "\xd0\xb4\xd0\xbe\xd0\xbc.";
        for (size_t max = 1; max <= strlen (text) + 1; max++) {
            size_t picked;
            char *digest = s_digest (&text, 1, 3, max, &picked, false);
            assert (picked == (*digest != '\0'));
            free (digest);
        }
    }

    //  Hostile input: invalid UTF-8 and control bytes are dropped
    {
        const char *texts[] = {
            "Broken \xff\xfe bytes \xc0\xaf in the \xed\xa0\x80 middle of a sentence.",
            "Truncated at the end \t\xe2\x82",
            "A NUL-free control \x01\x02 mess\x7f here.",
        };
        size_t picked;
        char *digest = s_digest (texts, 3, 5, 1000, &picked, verbose);
        assert (picked == 3);
        assert (strstr (digest, "Broken bytes in the middle of a sentence.\n"
                                "Truncated at the end\n"
                                "A NUL-free control mess here."));
        free (digest);
        //  Embedded NUL bytes
        mem_digest_member_t member = {"Zero\0byte inside the text.", 26, 1, 0};
        digest = mem_digest_build (&member, 1, 5, 100, &picked);
        assert (digest && strcmp (digest, "Zerobyte inside the text.") == 0 && picked == 1);
        free (digest);
    }
    //  1 MiB without punctuation, 1 MiB of one letter, 1 MiB of noise:
    //  bounded time, budget kept
    {
        size_t size = 1024 * 1024;
        char *text = malloc (size);
        assert (text);
        uint64_t rng = 0x9E3779B97F4A7C15ull;
        for (unsigned kind = 0; kind < 3; kind++) {
            size_t len = 0;
            while (len < size) {
                rng = rng * 6364136223846793005ull + 1442695040888963407ull;
                unsigned r = (unsigned) (rng >> 33);
                if (kind == 0)
                    text[len++] = r % 7 == 0 ? ' ' : (char) ('a' + r % 26);
                else if (kind == 1)
                    text[len++] = 'a';
                else
                    text[len++] = (char) r;
            }
            mem_digest_member_t members[3] = {
                {text, size, 1, 0},
                {text, size / 2, 2, 1},
                {"A short normal sentence.", 24, 3, 2},
            };
            double start = s_seconds ();
            size_t picked;
            char *digest = mem_digest_build (members, 3, 20, 2000, &picked);
            double took = s_seconds () - start;
            assert (digest);
            size_t len_out = strlen (digest);
            if (verbose)
                printf ("    hostile %u: %zu sentences, %zu bytes, %.3f s\n", kind, picked,
                        len_out, took);
            assert (len_out <= 2000 && picked <= 20);
            assert (s_valid (digest, len_out));
            assert (took < 10);
            if (kind == 0)
                assert (picked > 1);
            free (digest);
        }
        free (text);
    }
    printf ("OK\n");
}
