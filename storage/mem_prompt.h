/*  mem_prompt — the Context block: ranked records as prompt-ready lines
    within a token budget.

        Memories relevant to "storage engine" (best first; cite as #id):
        - [#12 | 2026-11-24 14:02 UTC | session s1] We chose LMDB because readers never block
        - [#31 | 2026-11-25 09:40 UTC] Caroline: Backups run nightly at 02:00

    One line per record, in the order given (most relevant first): its id,
    creation date (UTC), session when it has one, then the text, with the
    record's speaker (metadata "speaker") in front when it has one. Line
    breaks and other control characters in a text become spaces; one line's
    text is cut at MEM_PROMPT_LINE_MAX bytes (on a character boundary, with
    "…").

    Tokens are estimated as bytes / 4, rounded up: a fair average for
    English prose and code with the usual BPE tokenizers, and an
    over-estimate for most other scripts, so a block sized here fits the
    budget of a real tokenizer more often than not. The block (heading,
    lines, newlines) never exceeds budget x 4 bytes.

    Never a record twice, and no near-duplicate either: a record whose text
    is 80 % or more the same as a line already in the block (Jaccard of
    word 3-grams, mem_minhash) is left out. A record that does not fit is
    left out, and the next (shorter) ones are still tried; the first one
    that does not fit whole is cut to the room left when that is at least
    MEM_PROMPT_CUT_MIN bytes.
*/
#ifndef MEM_PROMPT_H_INCLUDED
#define MEM_PROMPT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "memd.pb-c.h"

#define MEM_PROMPT_BYTES_PER_TOKEN 4
#define MEM_PROMPT_DEFAULT_BUDGET  1000
#define MEM_PROMPT_LINE_MAX        1200   /* bytes of one record's text */
#define MEM_PROMPT_CUT_MIN         80     /* room worth cutting a text into */
#define MEM_PROMPT_NEAR_DUPLICATE  0.8    /* Jaccard at which a line repeats another */

typedef struct {
    char *text;                  /* the block ("" when no record fits) */
    uint64_t *ids;               /* records in the block, in order */
    size_t n_ids;
    unsigned tokens;             /* estimated tokens of text */
    unsigned omitted;            /* records left out: near-duplicates, over budget */
} mem_prompt_t;

/* Estimated tokens of bytes of text. */
unsigned mem_prompt_tokens (size_t bytes);

/* Builds the block of records[0..n) for query (the heading quotes it;
   header false: no heading) within budget_tokens. 0, or -1 out of memory.
   Free with mem_prompt_clear. */
int mem_prompt_build (const Memd__V1__Record *const *records, size_t n, const char *query,
                      unsigned budget_tokens, bool header, mem_prompt_t *out);

void mem_prompt_clear (mem_prompt_t *prompt);

void mem_prompt_test (bool verbose);

#endif
