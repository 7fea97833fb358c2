/*  mem_redact — secrets out of records before they are stored (DESIGN §11).

    The capture actor runs every record through mem_redact_record before
    it writes anything: well-known credential formats (cloud and forge
    tokens, API keys, private key blocks, JWTs, password= style values,
    <private>…</private> spans) and the operator's own patterns are each
    replaced by a typed placeholder, "[REDACTED:github_token]". The record
    keeps how many were replaced in its metadata ("redactions" = "3"),
    never what. Dedupe hashes and index postings are made afterwards, from
    the redacted text, so no trace of a secret reaches the store.

    Patterns are PCRE2 (UTF mode, invalid UTF-8 never matches and never
    fails), compiled and JIT-compiled once when memd starts; matching keeps
    its state per call, so one redactor serves every thread. A pattern's
    first capturing group that takes part in a match is the secret (the
    rest of the match is kept: "password=[REDACTED:secret]"); a pattern
    without groups replaces its whole match.

    Extra patterns (config redact/patterns) come from a file of
    "name<TAB>regex" lines; blank lines and lines starting with # are
    skipped; a name is 1-32 of [a-z0-9_]. A bad line stops memd at start
    with a message naming the file and line.

    If a text cannot be scanned (out of memory, a pattern past its match
    limit) it is not stored as it was: the whole text becomes
    "[REDACTED:unscanned]". Nothing here logs a text or a match.
*/
#ifndef MEM_REDACT_H_INCLUDED
#define MEM_REDACT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include "mem_config.h"
#include "memd.pb-c.h"

typedef struct _mem_redact_t mem_redact_t;

/* The metadata key that holds a record's redaction count. */
#define MEM_REDACT_COUNT_KEY "redactions"

/* A redactor with the built-in patterns, plus those of patterns_path when
   it is not NULL. NULL with a message in err (naming the file and line of
   a bad pattern) on failure. */
mem_redact_t *mem_redact_new (const char *patterns_path, char *err, size_t err_size);

/* The redactor config asks for: redact/enabled (0: one that changes
   nothing) and redact/patterns ("none" or a file). NULL with err. */
mem_redact_t *mem_redact_from_config (mem_config_t *config, char *err, size_t err_size);

void mem_redact_destroy (mem_redact_t **self_p);

/* Patterns in use (built-in and extra); 0 when disabled. */
size_t mem_redact_patterns (mem_redact_t *self);

/* Redacts text[0..len). Returns a new NUL-terminated text (the caller
   frees it) with every secret replaced, and their number in *count; or
   NULL with *count 0 when nothing matched (the common case costs no
   copy). A text that cannot be scanned gives "[REDACTED:unscanned]" with
   *count 1; NULL with *count 1 only when even that cannot be allocated. */
char *mem_redact_text (mem_redact_t *self, const char *text, size_t len, size_t *count);

/* Redacts a record in place: its text and metadata values. When anything
   was replaced, metadata MEM_REDACT_COUNT_KEY is set to the count. The
   record's strings and metadata must be heap-allocated the way
   protobuf-c's unpack (default allocator) makes them. Returns the count,
   or -1 when out of memory (the record must then not be stored). */
int mem_redact_record (mem_redact_t *self, Memd__V1__Record *record);

void mem_redact_test (bool verbose);

#endif
