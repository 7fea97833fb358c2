/*  bench_corpus — a deterministic synthetic corpus for the benchmarks.

    Builds, from one 64-bit seed, a vocabulary of pronounceable synthetic
    words, a set of records (20–80 words each, words drawn from a Zipf
    distribution over the vocabulary) and a set of queries (2–4 distinct
    words taken from a randomly chosen record, so every query has matches).
    The same seed and sizes give byte-identical output on every machine
    (integer PRNG, no libc rand, no locale), so runs can be compared.

    Words are plain lowercase ASCII letters, at least five long, built from
    consonant–vowel syllables and ending in 'k', 'p' or 'b'. No English
    stopword has that shape, and no Porter-stemmer rule matches a word ending
    in those letters, so every word is its own stem: a word-level tokenizer
    with or without stemming (memd's, SQLite's 'porter unicode61') sees
    exactly the vocabulary, with no two words folded together.

        bench_corpus_t *corpus = bench_corpus_new (100000, 50000, 1000, 42);
        size_t n;
        const char *const *texts = bench_corpus_records (corpus, &n);
        ...
        bench_corpus_destroy (&corpus);
*/
#ifndef BENCH_CORPUS_H_INCLUDED
#define BENCH_CORPUS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_CORPUS_ZIPF_S     1.0 /* Zipf exponent of word sampling */
#define BENCH_CORPUS_WORDS_MIN  20  /* words per record, inclusive range */
#define BENCH_CORPUS_WORDS_MAX  80
#define BENCH_CORPUS_QWORDS_MIN 2 /* words per query, inclusive range */
#define BENCH_CORPUS_QWORDS_MAX 4
#define BENCH_CORPUS_VOCAB_MIN  100
#define BENCH_CORPUS_VOCAB_MAX  10000000

typedef struct _bench_corpus_t bench_corpus_t;

/* Builds a corpus of `records` records and `queries` queries over a
   vocabulary of `vocab` words (BENCH_CORPUS_VOCAB_MIN..MAX). records and
   queries must be >= 1. NULL on bad arguments or out of memory. */
bench_corpus_t *bench_corpus_new (size_t records, size_t vocab, size_t queries, uint64_t seed);
void bench_corpus_destroy (bench_corpus_t **self_p);

/* The records' texts (words joined by single spaces), NUL-terminated;
 *count gets their number. Borrowed: valid until the corpus is destroyed. */
const char *const *bench_corpus_records (bench_corpus_t *self, size_t *count);

/* The queries (2–4 distinct words joined by single spaces). */
const char *const *bench_corpus_queries (bench_corpus_t *self, size_t *count);

/* The vocabulary, most frequent word first (Zipf rank order). */
const char *const *bench_corpus_vocab (bench_corpus_t *self, size_t *count);

/* Total words and text bytes (without NULs) over all records. */
size_t bench_corpus_words (bench_corpus_t *self);
size_t bench_corpus_bytes (bench_corpus_t *self);

/* FNV-1a 64 over every record and query: a fingerprint of the corpus, so
   two runs can confirm they measured the same input. */
uint64_t bench_corpus_hash (bench_corpus_t *self);

/* Self test: determinism, word shape and distinctness, record and query
   shapes. Returns 0 on success, -1 (with a message on stderr) on failure. */
int bench_corpus_test (bool verbose);

#endif
