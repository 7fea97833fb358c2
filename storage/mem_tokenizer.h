/*  mem_tokenizer — turns text into index terms for the lexical index.

    UTF-8 aware: the text is decoded into code points, split on anything
    that is not a letter or digit, lowercased (ASCII, Latin-1, Latin
    Extended-A, Greek, Cyrillic), English stopwords dropped, and pure-ASCII
    words stemmed with the Porter stemmer (mem_stem). The same function
    runs at capture and at query time, so both sides see the same terms.
    Invalid UTF-8 bytes are treated as separators (never a crash).
*/
#ifndef MEM_TOKENIZER_H_INCLUDED
#define MEM_TOKENIZER_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#define MEM_TERM_MAX 64   /* bytes; longer words are cut at a code-point boundary */

/* Called once per index term, in text order. term is NUL-terminated and
   valid only during the call; position counts words, stopwords included. */
typedef void(mem_token_fn) (const char *term, size_t len, unsigned position, void *arg);

/* Tokenizes text (len bytes) and calls fn for each term. Returns the number
   of terms emitted. */
unsigned mem_tokenize (const char *text, size_t len, mem_token_fn *fn, void *arg);

/* The words of text as mem_tokenize splits and lowercases them, but with
   every word kept whole: no stopword dropped, nothing stemmed (a query's
   prefixes, `stor*`, match the beginnings of indexed terms). */
unsigned mem_tokenize_raw (const char *text, size_t len, mem_token_fn *fn, void *arg);

/* True if the lowercase word is an English stopword. */
bool mem_tokenizer_is_stopword (const char *word, size_t len);

void mem_tokenizer_test (bool verbose);

#endif
