/*  bench_embed — a deterministic local text embedding for the benchmarks:
    HASHED CHARACTER N-GRAMS, not a learned model.

    Any machine computes the same vector for the same text, with no model
    file and no network, so the benchmarks can measure memd's vector path
    and its hybrid ranking on data nobody here wrote. It captures spelling
    overlap (shared word pieces: "hobbies" ~ "hobby", "de-stress" ~
    "destress"), not meaning: real embedding models are plugged in by
    clients, and would do better on paraphrases.

    The text is lowercased (ASCII) and split into words at anything that
    is not a letter, a digit or a byte of a UTF-8 sequence; English
    stopwords are dropped. Each word, framed as "<word>", gives its
    character n-grams for n = 3, 4 and 5 and the whole word; each feature
    is hashed (64-bit FNV-1a) to a dimension and a sign (the hashing
    trick), counted, and the counts are damped (square root) so a repeated
    word does not drown the rest. The vector is L2-normalised; a text with
    no word gets a fixed unit vector (memd refuses all-zero vectors).
*/
#ifndef BENCH_EMBED_H_INCLUDED
#define BENCH_EMBED_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#define BENCH_EMBED_DIMS 256   /* the default dimension */

/* Fills v[0..dims) with the embedding of text. */
void bench_embed (const char *text, float *v, size_t dims);

/* True for an English stopword (lowercase, contractions without their
   apostrophe: "dont"). The benchmarks' own fixed list: the embedding drops
   these words, and bench_locomo's FTS5 baseline drops them from queries. */
bool bench_stopword (const char *word, size_t len);

/* Checks a few known properties (deterministic, normalised, similar texts
   closer than unrelated ones); 0 or -1. */
int bench_embed_selftest (void);

#endif
