/*  memd_context — a prompt-ready block of memories within a token budget,
    for the agent integrations (memd-mcp's memory_context, the SessionStart
    hook).

    A block is a heading line, then one line per memory, best first:

        Memories from memd relevant to "storage engine" (agent shop; best first; cite as #id):
        - [#12 | 2026-11-24 14:02 | session s1] We chose LMDB because readers never block
        - [#31 | 2026-11-25 09:40 | fact] Backups run nightly at 02:00 with mdb_copy
        - [#40 | 2026-11-25 10:12 | session 7f3c…] user: why is the writer single-threaded?

    The date is local time; "fact", "summary", "procedure" or "note" is
    shown for records that are not episodic; a record's metadata "role"
    (user, assistant) prefixes its text. Line breaks in a text become
    spaces, and one memory takes at most MEMD_CONTEXT_LINE_MAX bytes.

    Budget: a token is taken as 4 bytes of UTF-8 (a fair average for
    English prose and code with the usual tokenizers; over-counts for
    CJK). The whole block — heading, lines, newlines — stays within
    budget × 4 bytes; the last memory that does not fit whole is cut (on
    a character boundary, with "…") when at least 80 bytes are left.

    memd_context_build ranks with Recall and formats here. The daemon's
    Context operation (storage/mem_prompt.h) builds a similar block but
    shows a record's speaker, not its role, and drops near-duplicates;
    switching the agent integrations to it (with role lines there) is the
    one place to change.
*/
#ifndef MEMD_CONTEXT_H_INCLUDED
#define MEMD_CONTEXT_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include "memd_client.h"

#define MEMD_CONTEXT_DEFAULT_BUDGET 1000     /* tokens */
#define MEMD_CONTEXT_MIN_BUDGET     50
#define MEMD_CONTEXT_MAX_BUDGET     32000
#define MEMD_CONTEXT_BYTES_PER_TOKEN 4
#define MEMD_CONTEXT_LINE_MAX       1200     /* bytes of one memory in a block */
#define MEMD_CONTEXT_CANDIDATES     40       /* recall hits considered */

typedef struct {
    const char *query;          /* required */
    int budget_tokens;          /* <= 0: MEMD_CONTEXT_DEFAULT_BUDGET */
    const char *session;        /* filter; NULL or "" = any */
    Memd__V1__Kind kind;        /* filter; KIND_UNSPECIFIED = any */
} memd_context_query_t;

typedef struct {
    char *text;                 /* the block; "" when no memory matched */
    uint64_t *ids;              /* the records in the block, in order */
    size_t n_ids;
    size_t bytes;               /* strlen (text) */
} memd_context_t;

/* The block of the agent's memories most relevant to query->query. 0, or
   -1 with the client's error (memd_client_code / memd_client_error). out
   is filled on success; free it with memd_context_clear. */
int memd_context_build (memd_client_t *client, const char *agent,
                        const memd_context_query_t *query, memd_context_t *out);

/* A block of the given records, in the given order, under heading (one
   line, no newline). 0, or -1 if out of memory. */
int memd_context_format (const Memd__V1__Record *const *records, size_t n, const char *heading,
                         int budget_tokens, memd_context_t *out);

/* One memory as a block line without its "- " ("[#12 | date | …] text"),
   its text cut to max_text bytes (0: no cut). The caller frees it; NULL if
   out of memory. */
char *memd_context_describe (const Memd__V1__Record *record, size_t max_text);

void memd_context_clear (memd_context_t *context);

#endif
