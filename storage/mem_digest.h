/*  mem_digest — an extractive digest of a session, for the sleep cycle's
    consolidation: the session's most informative sentences, verbatim, in
    the order they were said. No model, no rewriting: what the digest says,
    a member said.

    Sentences: each member's text is split after '.', '!' or '?' (a run of
    them, then any closing quotes or brackets) when whitespace or the end
    follows, after the CJK full stop and full-width ! and ?, and at every
    newline. A period does not end a sentence after a single letter
    ("e.g.", "i.e.", "U.S.", "J. Smith"), after a few abbreviations ("Dr.",
    "vs.", "approx."…), or when the next word starts lowercase; periods
    inside a token ("3.14", "v1.2", "example.com") never split. Limits:
    "Plan A. Then…" stays one sentence, "…" does not end one, and other
    scripts' terminators are not known. A sentence longer than
    MEM_DIGEST_SENTENCE_BYTES is cut there (at the last whitespace in its
    second half if any, else at a character boundary), so text without
    punctuation still yields sentences and costs linear time.

    Scoring: terms are mem_tokenize's (stopwords dropped, stemmed). A term's
    weight is (1 + ln tf) * ln (1 + N / df), tf its occurrences in the whole
    session, df the members it occurs in, N the members with any term: the
    session's recurring subjects weigh most, and boilerplate repeated in
    every member is damped (sublinear tf keeps one word said fifty times
    from outweighing everything else). A sentence's score is the sum of its
    distinct terms' weights over the square root of its term count: a plain
    sum favours run-ons, a plain mean favours fragments. Sentences with
    fewer than 2 terms ("OK.", "Thanks!") are never picked.

    Selection: greedy by score (ties: earlier first); a sentence is skipped
    if it does not fit what is left of max_chars, or if its term set is a
    near-duplicate (Jaccard >= 0.8) of one already picked, so a repeated
    member or a restatement appears once. If no sentence fits at all, the
    best one is cut to max_chars at a character boundary (at a space when
    one is in the second half) and ends with "…". The picked sentences are
    joined by "\n" in their original order: each sentence on its own line,
    so a digest of digests splits them the same way again.

    The output is valid UTF-8 even when the input is not: invalid bytes and
    control characters are dropped from the sentences, and each run of
    spaces and tabs becomes one space.
    Weights use floating point (log, sqrt); the choice is the same on any
    IEEE 754 machine barring last-bit differences in libm at exact ties.
    Pure and thread-safe; memory is linear in the input.
*/
#ifndef MEM_DIGEST_H_INCLUDED
#define MEM_DIGEST_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MEM_DIGEST_SENTENCES_MAX  256   /* max_sentences above this counts as this */
#define MEM_DIGEST_SENTENCE_BYTES 512   /* longer sentences are cut into pieces */

/* One record of the session. text need not be NUL-terminated. */
typedef struct {
    const char *text;
    size_t len;
    uint64_t id;                 /* the record's (not used by the digest) */
    int64_t created_at_ms;       /* likewise; members come in chronological order */
} mem_digest_member_t;

/* Builds the digest of members[0..n) (chronological order): at most
   max_sentences sentences and max_chars bytes in all, sentences in their
   original order joined by "\n". Returns a malloc'd NUL-terminated string
   the caller frees ("" when nothing qualifies, n is 0 or a limit is 0), or
   NULL on out-of-memory. *picked (if not NULL) gets the number of
   sentences used. */
char *mem_digest_build (const mem_digest_member_t *members, size_t n, size_t max_sentences,
                        size_t max_chars, size_t *picked);

void mem_digest_test (bool verbose);

#endif
