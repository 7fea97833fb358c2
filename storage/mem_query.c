/*  mem_query — query parsing: words, prefixes, phrases; see mem_query.h. */
#include "mem_query.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Adds weight to term (with flags), or appends it; false when full.
static bool
s_add (mem_query_t *q, const char *term, size_t len, uint8_t flags, float weight)
{
    for (unsigned i = 0; i < q->n_terms; i++) {
        mem_qterm_t *t = &q->terms[i];
        if (t->len == len && t->flags == flags && memcmp (t->term, term, len) == 0) {
            t->weight += weight;
            return true;
        }
    }
    if (q->n_terms == MEM_QUERY_TERMS || len >= MEM_TERM_MAX)
        return false;
    mem_qterm_t *t = &q->terms[q->n_terms++];
    memcpy (t->term, term, len);
    t->term[len] = 0;
    t->len = (uint8_t) len;
    t->flags = flags;
    t->weight = weight;
    return true;
}

//  Tokenizer callback for words (outside and inside phrases).
static void
s_word (const char *term, size_t len, unsigned position, void *arg)
{
    mem_query_t *q = arg;
    for (unsigned i = 0; i < q->n_terms; i++)
        if (q->terms[i].len == len && !(q->terms[i].flags & MEM_QTERM_PREFIX)
            && memcmp (q->terms[i].term, term, len) == 0) {
            q->terms[i].weight += 1;
            return;
        }
    if (q->n_words == MEM_QUERY_WORDS)
        return;
    //  Multi-byte words (CJK characters are one term each) are never fuzzy.
    bool ascii = true;
    for (size_t i = 0; i < len; i++)
        ascii = ascii && (unsigned char) term[i] < 0x80;
    if (s_add (q, term, len, ascii && len >= MEM_FUZZY_MIN ? MEM_QTERM_FUZZY : 0, 1))
        q->n_words++;
}

//  Tokenizer callback for a phrase's words.
static void
s_phrase_word (const char *term, size_t len, unsigned position, void *arg)
{
    mem_phrase_t *phrase = arg;
    if (phrase->n == MEM_QUERY_PHRASE_WORDS)
        return;
    memcpy (phrase->terms[phrase->n], term, len);
    phrase->terms[phrase->n][len] = 0;
    phrase->lens[phrase->n] = (uint8_t) len;
    phrase->offsets[phrase->n] = position;
    phrase->n++;
}

//  Tokenizer callback for a prefix word (raw: lowercased, whole).
static void
s_prefix_word (const char *term, size_t len, unsigned position, void *arg)
{
    mem_query_t *q = arg;
    if (len >= MEM_PREFIX_MIN && s_add (q, term, len, MEM_QTERM_PREFIX, 1))
        q->n_prefixes++;
}

static bool
s_space (char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

//  Plain text (outside quotes): `word*` are prefixes, the rest words.
static void
s_plain (mem_query_t *q, const char *text, size_t len)
{
    char *words = malloc (len + 1);
    if (!words) {
        mem_tokenize (text, len, s_word, q);   //  no prefixes then, but an answer
        return;
    }
    memcpy (words, text, len);
    words[len] = 0;
    for (size_t i = 0; i < len; i++) {
        if (words[i] != '*')
            continue;
        //  The run of non-space bytes before the star is the prefix.
        size_t start = i;
        while (start > 0 && !s_space (words[start - 1]) && words[start - 1] != '*')
            start--;
        if (start < i)
            mem_tokenize_raw (text + start, i - start, s_prefix_word, q);
        memset (words + start, ' ', i + 1 - start);
    }
    mem_tokenize (words, len, s_word, q);
    free (words);
}

void
mem_query_parse (const char *text, size_t len, mem_query_t *q)
{
    memset (q, 0, sizeof *q);
    size_t at = 0;
    while (at < len) {
        const char *open = memchr (text + at, '"', len - at);
        const char *close = open ? memchr (open + 1, '"', len - (size_t) (open + 1 - text)) : NULL;
        if (!open || !close) {
            s_plain (q, text + at, len - at);   //  no phrase left (a lone quote is text)
            break;
        }
        s_plain (q, text + at, (size_t) (open - (text + at)));
        const char *inner = open + 1;
        size_t inner_len = (size_t) (close - inner);
        mem_tokenize (inner, inner_len, s_word, q);
        if (q->n_phrases < MEM_QUERY_PHRASES) {
            mem_phrase_t *phrase = &q->phrases[q->n_phrases];
            mem_tokenize (inner, inner_len, s_phrase_word, phrase);
            for (unsigned i = phrase->n; i-- > 0;)
                phrase->offsets[i] -= phrase->offsets[0];
            //  One word is no phrase: the word itself already counts.
            if (phrase->n >= 2)
                q->n_phrases++;
            else
                memset (phrase, 0, sizeof *phrase);
        }
        at = (size_t) (close + 1 - text);
    }
    //  Words first, then prefixes, then field terms: past the iterator
    //  bound (mem_index), what is kept is what the text said.
    mem_qterm_t sorted[MEM_QUERY_TERMS];
    unsigned n = 0;
    for (int pass = 0; pass < 2; pass++)
        for (unsigned i = 0; i < q->n_terms; i++)
            if (!(q->terms[i].flags & MEM_QTERM_PREFIX) == (pass == 0))
                sorted[n++] = q->terms[i];
    memcpy (q->terms, sorted, n * sizeof *sorted);
    unsigned words = q->n_terms;
    for (unsigned i = 0; i < words; i++) {
        if (q->terms[i].flags & MEM_QTERM_PREFIX || q->terms[i].len + 1 >= MEM_TERM_MAX)
            continue;
        char field[MEM_TERM_MAX];
        memcpy (field + 1, q->terms[i].term, q->terms[i].len);
        float weight = q->terms[i].weight;
        field[0] = MEM_FIELD_SPEAKER;
        s_add (q, field, q->terms[i].len + 1u, 0, weight * MEM_QUERY_SPEAKER);
        field[0] = MEM_FIELD_TAG;
        s_add (q, field, q->terms[i].len + 1u, 0, weight * MEM_QUERY_TAG);
    }
}

typedef struct {
    const mem_phrase_t *phrase;
    unsigned *positions[MEM_QUERY_PHRASE_WORDS];   //  where each phrase word occurs
    size_t n_pos[MEM_QUERY_PHRASE_WORDS], cap_pos[MEM_QUERY_PHRASE_WORDS];
    bool oom;
} s_match_t;

static void
s_match_term (const char *term, size_t len, unsigned position, void *arg)
{
    s_match_t *m = arg;
    for (unsigned w = 0; w < m->phrase->n; w++) {
        if (m->phrase->lens[w] != len || memcmp (m->phrase->terms[w], term, len) != 0)
            continue;
        if (m->n_pos[w] == m->cap_pos[w]) {
            size_t cap = m->cap_pos[w] ? m->cap_pos[w] * 2 : 16;
            unsigned *grown = realloc (m->positions[w], cap * sizeof *grown);
            if (!grown) {
                m->oom = true;
                return;
            }
            m->positions[w] = grown;
            m->cap_pos[w] = cap;
        }
        m->positions[w][m->n_pos[w]++] = position;
    }
}

static bool
s_has (const unsigned *sorted, size_t n, unsigned value)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (sorted[mid] < value)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && sorted[lo] == value;
}

bool
mem_query_phrase_in (const mem_phrase_t *phrase, const char *text, size_t len)
{
    if (phrase->n == 0)
        return true;
    s_match_t m;
    memset (&m, 0, sizeof m);
    m.phrase = phrase;
    mem_tokenize (text, len, s_match_term, &m);
    bool found = false;
    //  Positions arrive in text order, so each list is sorted.
    for (size_t i = 0; i < m.n_pos[0] && !found && !m.oom; i++) {
        unsigned start = m.positions[0][i];
        found = true;
        for (unsigned w = 1; w < phrase->n && found; w++)
            found = s_has (m.positions[w], m.n_pos[w], start + phrase->offsets[w]);
    }
    for (unsigned w = 0; w < MEM_QUERY_PHRASE_WORDS; w++)
        free (m.positions[w]);
    return found && !m.oom;
}

//  --------------------------------------------------------------------------
//  Selftest

#undef NDEBUG
#include <assert.h>

static const mem_qterm_t *
s_find (const mem_query_t *q, const char *term, uint8_t flags)
{
    for (unsigned i = 0; i < q->n_terms; i++)
        if (strcmp (q->terms[i].term, term) == 0 && q->terms[i].flags == flags)
            return &q->terms[i];
    return NULL;
}

void
mem_query_test (bool verbose)
{
    printf (" * mem_query: ");
    mem_query_t *q = malloc (sizeof *q);
    assert (q);

    //  Words: stemmed, stopwords gone, counted; each with its field terms.
    const char *text = "Where did the databases go? databases stor* \"king of the hill\" x";
    mem_query_parse (text, strlen (text), q);
    const mem_qterm_t *t = s_find (q, "databas", MEM_QTERM_FUZZY);
    assert (t && t->weight == 2);
    assert (s_find (q, "go", 0) && !s_find (q, "where", 0) && !s_find (q, "the", 0));
    assert (s_find (q, "stor", MEM_QTERM_PREFIX) && !s_find (q, "stor", 0));
    assert (s_find (q, "king", 0) && s_find (q, "hill", 0));
    assert (q->n_words == 4 && q->n_prefixes == 1);
    assert (strcmp (q->terms[0].term, "databas") == 0);   //  text order, fields last
    char field[16] = {MEM_FIELD_SPEAKER, 'k', 'i', 'n', 'g', 0};
    t = s_find (q, field, 0);
    assert (t && t->weight == MEM_QUERY_SPEAKER);
    field[0] = MEM_FIELD_TAG;
    assert (s_find (q, field, 0));
    assert (q->n_terms == 5 + 2 * 4);
    //  The phrase keeps its words' distance, stopwords included.
    assert (q->n_phrases == 1 && q->phrases[0].n == 2);
    assert (q->phrases[0].offsets[0] == 0 && q->phrases[0].offsets[1] == 3);
    assert (mem_query_phrase_in (&q->phrases[0], "He is KING of the Hill!", 23));
    assert (!mem_query_phrase_in (&q->phrases[0], "the hill king", 13));
    assert (!mem_query_phrase_in (&q->phrases[0], "king of hill", 12));
    assert (!mem_query_phrase_in (&q->phrases[0], "king of a big hill", 18));
    assert (mem_query_phrase_in (&q->phrases[0], "kings of the hills, king of the hill", 36));

    //  A quote left open is text; one word in quotes is just a word.
    text = "When did Joanna first watch \"Eternal Sunshine \"x\" of the Mind?";
    mem_query_parse (text, strlen (text), q);
    assert (q->n_phrases == 1 && q->phrases[0].n == 2);   //  "Eternal Sunshine "
    assert (s_find (q, "mind", 0) && s_find (q, "joanna", MEM_QTERM_FUZZY));
    text = "the \"LGBTQ\" group said \"the of\"";
    mem_query_parse (text, strlen (text), q);
    assert (q->n_phrases == 0 && s_find (q, "lgbtq", MEM_QTERM_FUZZY));

    //  Only stopwords: no words; prefixes keep stopwords and are not stemmed.
    mem_query_parse ("what is it?", 11, q);
    assert (q->n_words == 0 && q->n_terms == 0);
    mem_query_parse ("the* Running* a* *", 18, q);
    assert (q->n_words == 0 && q->n_prefixes == 2);
    assert (s_find (q, "the", MEM_QTERM_PREFIX) && s_find (q, "running", MEM_QTERM_PREFIX));
    mem_query_parse ("", 0, q);
    assert (q->n_terms == 0 && q->n_phrases == 0);
    free (q);
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
