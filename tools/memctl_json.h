/*  memctl_json — JSON in and out for memctl (jansson).

    Output: memd.v1 messages turned into the JSON shapes of DESIGN §8, which
    scripts rely on (fields may be added, never renamed). Input: one JSONL
    line of `memctl capture -` turned into a Record, with the command line's
    flags as defaults for the fields the line lacks.

    Records built here (memctl_record_new, memctl_record_from_json) own their
    strings and are freed with memctl_record_destroy, never with protobuf-c's
    free_unpacked.
*/
#ifndef MEMCTL_JSON_H_INCLUDED
#define MEMCTL_JSON_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "memd.pb-c.h"

/* What the command line says about records; every field may be empty. */
typedef struct {
    const char *agent;          /* NULL = "default" */
    const char *session;        /* NULL = none */
    Memd__V1__Kind kind;        /* KIND_UNSPECIFIED = memd's default (episodic) */
    const char **tags;
    size_t n_tags;
    const char **meta_keys;     /* n_meta pairs */
    const char **meta_values;
    size_t n_meta;
    int64_t created_at_ms;      /* 0 = when memd receives it */
} memctl_defaults_t;

/* "episodic", "fact", … for a kind; "unspecified" for 0 and unknown values. */
const char *memctl_kind_name (int kind);

/* Kind from its name, case-insensitive; -1 if unknown. */
int memctl_kind_parse (const char *name);

/* printf into err (an error message buffer of err_size bytes). */
void memctl_errorf (char *err, size_t err_size, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/* Length of the well-formed UTF-8 sequence at p (no overlongs, no
   surrogates, nothing above U+10FFFF), or 0 if it is not one. p < end. */
size_t memctl_utf8_len (const unsigned char *p, const unsigned char *end);

/* A JSON string that is never NULL for a non-NULL s: invalid UTF-8 bytes
   become U+FFFD. NULL s gives "". */
json_t *memctl_json_string (const char *s);

/* A 64-bit id or count as a JSON integer. */
json_t *memctl_json_u64 (uint64_t value);

/* {"id","text","agent","session","kind","tags","metadata","created_at_ms"} */
json_t *memctl_json_record (const Memd__V1__Record *record);

/* A record plus "score" (and "explain" when memd gave one). */
json_t *memctl_json_hit (const Memd__V1__Hit *hit);

/* The status document of DESIGN §8. */
json_t *memctl_json_consolidation (const Memd__V1__Consolidation *c);
json_t *memctl_json_status (const Memd__V1__StatusResult *status);

/* {"generation","nodes","edges","communities","built_at_ms", …}: the graph
   of an agent (graph stats), or over all agents (status). */
json_t *memctl_json_graph_stats (const Memd__V1__GraphStatsResult *graph);
/* Transcript watching: {"dirs", "directories", "files", "lines", "records",
   "duplicates", "skipped_lines", "bytes", "pending_files", "last_error",
   "last_error_ms", "last_ingest_ms"} */
json_t *memctl_json_watch (const Memd__V1__WatchStatus *watch);

/* "queued", "leased", … for a job state; "any" for 0 and unknown values. */
const char *memctl_job_state_name (int state);

/* Job state from its name, case-insensitive; -1 if unknown. */
int memctl_job_state_parse (const char *name);

/* {"id","kind","state","fence","payload","attempts", …} (DESIGN §8 plus
   the other Job fields). */
json_t *memctl_json_job (const Memd__V1__Job *job);

/* {"queued","leased","dead","retrying","blocked","done","oldest_due_age_ms",
   "next_deadline_ms","waiting_workers","kinds":[{"kind",…}]} */
json_t *memctl_json_job_stats (const Memd__V1__JobStatsResult *stats);

/* [id, …] */
json_t *memctl_json_ids (const uint64_t *ids, size_t n);

/* {"code", "message"} */
json_t *memctl_json_error (const char *code, const char *message);

/* Prints doc compactly on one line of stdout and flushes; takes the
   reference. Returns 0, or -1 if stdout failed. */
int memctl_json_print (json_t *doc);

/* A record with the defaults and text (copied). NULL if out of memory. */
Memd__V1__Record *memctl_record_new (const memctl_defaults_t *defaults, const char *text);

/* A record from one JSONL line: an object with "text" (required), "agent",
   "session", "kind", "tags", "ts_ms" (or "created_at_ms"), "embedding",
   "metadata"; other fields are ignored. NULL with a message in err if the
   line is not such an object. */
Memd__V1__Record *memctl_record_from_json (const char *line, size_t len,
                                           const memctl_defaults_t *defaults, char *err,
                                           size_t err_size);

/* The same from a parsed object (borrowed), for callers that already hold
   one (the MCP server's tool arguments). */
Memd__V1__Record *memctl_record_from_object (json_t *doc, const memctl_defaults_t *defaults,
                                             char *err, size_t err_size);

/* Adds one metadata entry (copied). 0, or -1 if out of memory. */
int memctl_record_add_metadata (Memd__V1__Record *record, const char *key, const char *value);

void memctl_record_destroy (Memd__V1__Record **record_p);

#endif
