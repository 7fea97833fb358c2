/*  mem_minhash — MinHash signatures and LSH band keys, so the sleep cycle
    can find near-duplicate memories without comparing every pair.

    A text's shingles are the 3-grams of its normalised words; two texts'
    Jaccard similarity (shared shingles / all shingles) is estimated by the
    fraction of equal values in their signatures. For candidate search the
    signature is cut into MEM_MINHASH_BANDS bands of 4 values, each reduced
    to one 64-bit key: texts that share any band key are candidates, which
    mem_minhash_jaccard then confirms exactly before anything is merged.
    With 16 bands of 4 rows the chance to share a band is 1 - (1 - J^4)^16:
    99.98 % at J = 0.8, 64 % at J = 0.5, 12 % at J = 0.3, 2.5 % at J = 0.2.

    Normalisation (words): text is decoded as UTF-8 (an invalid byte is a
    separator), split on anything that is not a letter or digit, lowercased
    (ASCII, Latin-1, Latin Extended-A and Additional, Greek, Cyrillic,
    Armenian), with an apostrophe inside a word dropped ("don't" = "dont");
    CJK ideographs, kana and Hangul are one word per character. The
    articles "a", "an" and "the" are dropped. Nothing else is: no stopword
    list and no stemming, unlike mem_tokenize. Near-duplicate detection
    decides merges, so a false match costs a memory: "not", "no", "before"
    and "after" are stopwords to the tokenizer, and dropping them would make
    "the user does not want telemetry" a duplicate of "the user does want
    telemetry". Stemming would likewise merge "organization" with "organ".
    Articles carry no such meaning, and short memories vary in them.

    Shingles: texts of 3 words or more use word 3-grams; texts of 1-2 words
    use the words themselves; a text with no word has no shingle. At most
    MEM_MINHASH_SHINGLES_MAX shingles are read per text (the first ones in
    text order, about that many words): the module is for memories, not
    documents, and the cap bounds time and stack (the exact Jaccard keeps
    two sets of 64-bit hashes on the stack, 64 KiB).

    Caveats:
    - Band keys are meant to be persisted. Any change to normalisation,
      hashing or the constants below changes them: bump MEM_MINHASH_VERSION
      so stored keys can be recomputed. The selftest pins one key.
    - Values are the same on every machine and run: integer arithmetic
      only, fixed seeds, no pointer or random input.
    - An empty signature (n_shingles == 0) estimates 0 against anything,
      but its band keys are one constant: do not index it.
    - "Exact" Jaccard compares 64-bit shingle hashes (a collision, about
      2^-64 a pair, would count as a shared shingle).
    - Every function is pure and thread-safe.
*/
#ifndef MEM_MINHASH_H_INCLUDED
#define MEM_MINHASH_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MEM_MINHASH_N             64     /* hash functions per signature */
#define MEM_MINHASH_BANDS         16     /* LSH bands of MEM_MINHASH_N / BANDS rows */
#define MEM_MINHASH_SHINGLES_MAX  4096   /* shingles read per text */
#define MEM_MINHASH_VERSION       1      /* of the normalisation and hashing */

typedef struct {
    uint32_t h[MEM_MINHASH_N];   /* minimum of each hash function over the shingles */
    uint32_t n_shingles;         /* distinct shingles (0: the text had no word) */
} mem_minhash_t;

/* Computes the signature of text (len bytes, need not be NUL-terminated;
   NULL with len 0 is an empty text). */
void mem_minhash_compute (const char *text, size_t len, mem_minhash_t *sig);

/* A 64-bit key for band (0 .. MEM_MINHASH_BANDS - 1): equal bands give
   equal keys; the band number is mixed in, so keys of different bands
   differ. */
uint64_t mem_minhash_band (const mem_minhash_t *sig, unsigned band);

/* Estimated Jaccard similarity: the fraction of equal hashes (0 if either
   signature is empty). */
double mem_minhash_estimate (const mem_minhash_t *a, const mem_minhash_t *b);

/* Exact Jaccard similarity of the two texts' shingle sets, 0 to 1 (0 if
   either text has no shingle). Used to confirm a candidate before merging. */
double mem_minhash_jaccard (const char *a, size_t alen, const char *b, size_t blen);

void mem_minhash_test (bool verbose);

#endif
