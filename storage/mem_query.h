/*  mem_query — what a recall query asks for, read without an LLM.

    The text is split into:
    - words, tokenized as records are (mem_tokenize: lowercased, English
      stopwords dropped, Porter-stemmed), one query term per distinct word,
      weighted by how often it occurs; each also asks the speaker field
      (a name said by its speaker counts as much as a name in the text:
      1.0 measured best on LoCoMo, docs/benchmarks.md) and the tags (0.5);
    - prefixes, `word*`: every indexed term that starts with the word
      (lowercased, not stemmed, stopwords kept: `the*` asks for "theatre");
    - phrases, `"two words"`: their words count as words, and a record that
      holds them in that order, the same number of words apart (stopwords
      count as words), is boosted by the search (mem_search). A quote left
      open is an ordinary character.
    Every word of five bytes or more is also marked fuzzy: when the agent's
    index does not hold it, its first bytes are tried as a prefix (a typo
    or an inflection Porter does not undo), at a lower weight.

    Pure functions: no store, no allocation.
*/
#ifndef MEM_QUERY_H_INCLUDED
#define MEM_QUERY_H_INCLUDED

#include "mem_index.h"

#define MEM_QUERY_WORDS        64     /* distinct words used (each with its field terms) */
#define MEM_QUERY_TERMS        (3 * MEM_QUERY_WORDS)
#define MEM_QUERY_PHRASES      8
#define MEM_QUERY_PHRASE_WORDS 16
#define MEM_QUERY_SPEAKER      1.0f   /* weight of a word in the speaker field */
#define MEM_QUERY_TAG          0.5f   /* weight of a word in the tags */

typedef struct {
    char terms[MEM_QUERY_PHRASE_WORDS][MEM_TERM_MAX];
    uint8_t lens[MEM_QUERY_PHRASE_WORDS];
    unsigned offsets[MEM_QUERY_PHRASE_WORDS];   /* word position after the first term's */
    unsigned n;
} mem_phrase_t;

typedef struct {
    mem_qterm_t terms[MEM_QUERY_TERMS];   /* words, then prefixes, then field terms */
    unsigned n_terms;
    unsigned n_words;                     /* distinct words (0: only stopwords or nothing) */
    unsigned n_prefixes;
    mem_phrase_t phrases[MEM_QUERY_PHRASES];
    unsigned n_phrases;
} mem_query_t;

/* Parses text (len bytes) into q. */
void mem_query_parse (const char *text, size_t len, mem_query_t *q);

/* True when text holds phrase (an empty phrase is in every text). */
bool mem_query_phrase_in (const mem_phrase_t *phrase, const char *text, size_t len);

void mem_query_test (bool verbose);

#endif
