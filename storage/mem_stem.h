/*  mem_stem — the Porter stemmer (M.F. Porter, 1980) for lowercase ASCII
    words. Used by mem_tokenizer; stems in place. */
#ifndef MEM_STEM_H_INCLUDED
#define MEM_STEM_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

/* Stems the lowercase ASCII word in place (word[len] need not be NUL) and
   returns the stem's length (<= len). Words of 1–2 letters are unchanged. */
size_t mem_stem (char *word, size_t len);

void mem_stem_test (bool verbose);

#endif
