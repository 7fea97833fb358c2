/*  bench_embed — hashed character n-grams; see bench_embed.h. */
#include "bench_embed.h"
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_WORD_MAX 48
#define BENCH_EMBED_PIN 125.367812   //  selftest: sum of (i + 1) x v[i] for "hobbies"   //  longer words are cut (their n-grams still count)

static const char s_stopwords[] =
    " a about above after again against all also am an and any are arent as at be because been"
    " before being below between both but by can cant could couldnt did didnt do does doesnt"
    " doing dont down during each few for from further had hadnt has hasnt have havent having"
    " he her here heres hers herself hes him himself his how hows i if im in into is isnt it"
    " its itself ive just me more most my myself no nor not now of off on once only or other"
    " our ours ourselves out over own same she shes should shouldnt so some such than that"
    " thats the their theirs them themselves then there theres these they theyd theyll"
    " theyre theyve this those through to too under until up very was wasnt we were werent"
    " weve what whats when where wheres which while who whom whos why will with wont would"
    " wouldnt you youd youll youre yours yourself yourselves youve ";

bool
bench_stopword (const char *word, size_t len)
{
    char key[24];
    if (len + 2 >= sizeof key)
        return false;
    key[0] = ' ';
    memcpy (key + 1, word, len);
    key[len + 1] = ' ';
    key[len + 2] = 0;
    return strstr (s_stopwords, key) != NULL;
}

static uint64_t
s_fnv (const char *s, size_t len, uint64_t seed)
{
    uint64_t h = 14695981039346656037ull ^ seed;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t) s[i]) * 1099511628211ull;
    return h;
}

static void
s_feature (float *counts, size_t dims, const char *s, size_t len, uint64_t seed, float weight)
{
    uint64_t h = s_fnv (s, len, seed);
    counts[(h >> 1) % dims] += (h & 1) ? weight : -weight;
}

//  One word's features: "<word>" n-grams (3..5) and the whole word.
static void
s_word (float *counts, size_t dims, const char *word, size_t len)
{
    char framed[S_WORD_MAX + 2];
    framed[0] = '<';
    memcpy (framed + 1, word, len);
    framed[len + 1] = '>';
    size_t flen = len + 2;
    for (size_t n = 3; n <= 5; n++)
        for (size_t i = 0; i + n <= flen; i++)
            s_feature (counts, dims, framed + i, n, n, 1);
    s_feature (counts, dims, word, len, 99, 2);
}

void
bench_embed (const char *text, float *v, size_t dims)
{
    memset (v, 0, dims * sizeof *v);
    char word[S_WORD_MAX];
    size_t len = 0;
    for (const unsigned char *p = (const unsigned char *) text;; p++) {
        int c = *p;
        if (c == '\'' && len)
            continue;   //  "don't" -> "dont", as memd's tokenizer does
        if (c && (isalnum (c) || c >= 0x80)) {
            if (len < S_WORD_MAX)
                word[len++] = (char) tolower (c);
            continue;
        }
        if (len && !bench_stopword (word, len))
            s_word (v, dims, word, len);
        len = 0;
        if (!c)
            break;
    }
    double norm = 0;
    for (size_t i = 0; i < dims; i++) {
        //  Damped counts: sign kept, magnitude square-rooted.
        v[i] = v[i] < 0 ? -sqrtf (-v[i]) : sqrtf (v[i]);
        norm += (double) v[i] * v[i];
    }
    if (norm == 0) {
        v[0] = 1;
        return;
    }
    norm = sqrt (norm);
    for (size_t i = 0; i < dims; i++)
        v[i] = (float) (v[i] / norm);
}

static double
s_cos (const float *a, const float *b, size_t dims)
{
    double dot = 0;
    for (size_t i = 0; i < dims; i++)
        dot += (double) a[i] * b[i];
    return dot;
}

int
bench_embed_selftest (void)
{
    enum { D = BENCH_EMBED_DIMS };
    float a[D], b[D], c[D], d[D];
    bench_embed ("Caroline went to the LGBTQ support group", a, D);
    bench_embed ("Caroline went to the LGBTQ support group", b, D);
    if (memcmp (a, b, sizeof a) || fabs (s_cos (a, a, D) - 1) > 1e-5)
        return -1;
    bench_embed ("What support groups has Caroline joined?", c, D);
    bench_embed ("The marathon in Boston was exhausting", d, D);
    if (!(s_cos (a, c, D) > s_cos (a, d, D) + 0.1))
        return -1;
    bench_embed ("the of and", d, D);   //  no word: a fixed unit vector
    if (d[0] != 1 || fabs (s_cos (d, d, D) - 1) > 1e-6)
        return -1;
    //  Pinned: the same vector on every machine.
    bench_embed ("hobbies", d, D);
    double sum = 0;
    for (size_t i = 0; i < D; i++)
        sum += d[i] * (double) (i + 1);
    if (fabs (sum - BENCH_EMBED_PIN) > 1e-3) {
        fprintf (stderr, "bench_embed: pinned sum %.6f, expected %.6f\n", sum, BENCH_EMBED_PIN);
        return -1;
    }
    return 0;
}
