/*  memctl_jsonl — the JSONL of `memctl export` and `memctl import`: one
    record per line with every field memd stores, so that an export
    imported into an empty store and exported again gives the same lines.

        {"id":1,"uid":"0194f1…(32 hex digits)","agent":"default","session":"s1",
         "kind":"episodic","text":"…","tags":["a"],"metadata":{"k":"v"},
         "created_at_ms":1700000000000,"salience":0.5,"salience_base":0.5,
         "tombstoned_at_ms":0,"merged_into":0,"recall_count":0,"last_recalled_ms":0,
         "content_hash":"89abcdef01234567"}

    "embedding" (an array of numbers) appears when a record has one.
    content_hash is informative: memd recomputes it from the text.

    The parser is strict about what it reads (types, ranges, the uid's
    form) and ignores fields it does not know; it is fuzzed by
    tests/fuzz/fuzz_jsonl.c, which also checks that what it accepts
    formats and parses back to the same record.
*/
#ifndef MEMCTL_JSONL_H_INCLUDED
#define MEMCTL_JSONL_H_INCLUDED

#include <stddef.h>
#include "memd.pb-c.h"

/* The line for a record, without a newline; NULL if out of memory.
   Caller frees. */
char *memctl_jsonl_format (const Memd__V1__Record *record);

/* A record from one line. Required: "uid" and "text"; "agent" defaults to
   default_agent (NULL: "default"). NULL with a message in err if the line
   is not such an object. Free with memctl_jsonl_free. */
Memd__V1__Record *memctl_jsonl_parse (const char *line, size_t len, const char *default_agent,
                                      char *err, size_t err_size);

void memctl_jsonl_free (Memd__V1__Record **record_p);

#endif
