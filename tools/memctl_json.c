/*  memctl_json — JSON in and out for memctl (see memctl_json.h).

    Everything memctl prints with --json is built here, so the shapes that
    scripts rely on (DESIGN §8) live in one file. The JSONL reader is strict:
    a field of the wrong type is an error naming the field, never a silent
    default, because an import that quietly drops tags is worse than one
    that stops.
*/
#include "memctl_json.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *s_kind_names[] = {"unspecified", "episodic",  "fact",
                                     "summary",     "procedure", "note"};
#define KIND_COUNT ((int) (sizeof s_kind_names / sizeof s_kind_names[0]))

const char *
memctl_kind_name (int kind)
{
    return kind > 0 && kind < KIND_COUNT ? s_kind_names[kind] : s_kind_names[0];
}

int
memctl_kind_parse (const char *name)
{
    for (int kind = 1; kind < KIND_COUNT; kind++)
        if (strcasecmp (name, s_kind_names[kind]) == 0)
            return kind;
    return -1;
}

//  --------------------------------------------------------------------------
//  Output

size_t
memctl_utf8_len (const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    size_t len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
               : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (len == 0 || (size_t) (end - p) < len)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f)
        || (c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f))
        return 0;
    return len;
}

json_t *
memctl_json_string (const char *s)
{
    if (!s)
        return json_string ("");
    size_t len = strlen (s);
    json_t *value = json_stringn (s, len);
    if (value)
        return value;
    //  Not UTF-8 (memd validates what it stores, so this is a safety net).
    char *clean = (char *) malloc (len * 3 + 1);
    if (!clean)
        return NULL;
    const unsigned char *p = (const unsigned char *) s, *end = p + len;
    size_t out = 0;
    while (p < end) {
        size_t n = memctl_utf8_len (p, end);
        if (n) {
            memcpy (clean + out, p, n);
            out += n;
            p += n;
        }
        else {
            memcpy (clean + out, "\xef\xbf\xbd", 3);
            out += 3;
            p++;
        }
    }
    value = json_stringn (clean, out);
    free (clean);
    return value;
}

json_t *
memctl_json_u64 (uint64_t value)
{
    //  jansson integers are signed 64-bit; memd's ids count up from 1 and
    //  never get near 2^63, but do not print a wrapped negative if one did.
    if (value > (uint64_t) INT64_MAX)
        return json_real ((double) value);
    return json_integer ((json_int_t) value);
}

json_t *
memctl_json_record (const Memd__V1__Record *record)
{
    json_t *tags = json_array ();
    for (size_t i = 0; i < record->n_tags; i++)
        json_array_append_new (tags, memctl_json_string (record->tags[i]));
    json_t *metadata = json_object ();
    for (size_t i = 0; i < record->n_metadata; i++) {
        const Memd__V1__Record__MetadataEntry *entry = record->metadata[i];
        //  Keys go through the UTF-8 safety net too: an object key must be UTF-8.
        json_t *key = memctl_json_string (entry->key);
        if (key)
            json_object_set_new (metadata, json_string_value (key),
                                 memctl_json_string (entry->value));
        json_decref (key);
    }
    json_t *doc = json_object ();
    json_object_set_new (doc, "id", memctl_json_u64 (record->id));
    json_object_set_new (doc, "text", memctl_json_string (record->text));
    json_object_set_new (doc, "agent", memctl_json_string (record->agent_id));
    json_object_set_new (doc, "session", memctl_json_string (record->session_id));
    json_object_set_new (doc, "kind", json_string (memctl_kind_name (record->kind)));
    json_object_set_new (doc, "tags", tags);
    json_object_set_new (doc, "metadata", metadata);
    json_object_set_new (doc, "created_at_ms", json_integer (record->created_at_ms));
    //  Recall statistics and salience (written by memd's writer after recalls).
    json_object_set_new (doc, "salience", json_real (record->salience));
    json_object_set_new (doc, "recall_count", json_integer (record->recall_count));
    json_object_set_new (doc, "last_recalled_ms", json_integer (record->last_recalled_ms));
    if (record->n_embedding) {
        json_t *embedding = json_array ();
        for (size_t i = 0; i < record->n_embedding; i++)
            json_array_append_new (embedding, json_real (record->embedding[i]));
        json_object_set_new (doc, "embedding", embedding);
    }
    return doc;
}

json_t *
memctl_json_hit (const Memd__V1__Hit *hit)
{
    json_t *doc;
    if (hit->record)
        doc = memctl_json_record (hit->record);
    else
        doc = json_object ();
    //  "score" after "id", where a reader looks for it.
    json_t *ordered = json_object ();
    const char *key;
    json_t *value;
    json_object_set (ordered, "id", json_object_get (doc, "id"));
    json_object_set_new (ordered, "score", json_real (hit->score));
    json_object_foreach (doc, key, value)
        json_object_set (ordered, key, value);
    json_decref (doc);
    if (hit->explain && *hit->explain)
        json_object_set_new (ordered, "explain", memctl_json_string (hit->explain));
    return ordered;
}

json_t *
memctl_json_consolidation (const Memd__V1__Consolidation *c)
{
    return json_pack ("{s:o, s:o, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o}", "phase",
                      memctl_json_string (c->phase), "cycle", memctl_json_u64 (c->cycle),
                      "cycle_started_ms", (json_int_t) c->cycle_started_ms, "cycle_done_ms",
                      (json_int_t) c->cycle_done_ms, "steps", memctl_json_u64 (c->steps),
                      "duplicates_merged", memctl_json_u64 (c->duplicates_merged),
                      "digests_written", memctl_json_u64 (c->digests_written),
                      "records_decayed", memctl_json_u64 (c->records_decayed),
                      "records_purged", memctl_json_u64 (c->records_purged), "last_error",
                      memctl_json_string (c->last_error));
}

json_t *
memctl_json_watch (const Memd__V1__WatchStatus *w)
{
    json_t *dirs = json_array ();
    for (size_t i = 0; i < w->n_dirs; i++)
        json_array_append_new (dirs, memctl_json_string (w->dirs[i]));
    json_t *doc = json_object ();
    json_object_set_new (doc, "dirs", dirs);
    json_object_set_new (doc, "directories", json_integer (w->directories));
    json_object_set_new (doc, "files", memctl_json_u64 (w->files));
    json_object_set_new (doc, "lines", memctl_json_u64 (w->lines));
    json_object_set_new (doc, "records", memctl_json_u64 (w->records));
    json_object_set_new (doc, "duplicates", memctl_json_u64 (w->duplicates));
    json_object_set_new (doc, "skipped_lines", memctl_json_u64 (w->skipped_lines));
    json_object_set_new (doc, "bytes", memctl_json_u64 (w->bytes));
    json_object_set_new (doc, "pending_files", json_integer (w->pending_files));
    json_object_set_new (doc, "last_error", memctl_json_string (w->last_error));
    json_object_set_new (doc, "last_error_ms", json_integer (w->last_error_ms));
    json_object_set_new (doc, "last_ingest_ms", json_integer (w->last_ingest_ms));
    return doc;
}

json_t *
memctl_json_status (const Memd__V1__StatusResult *st)
{
    json_t *doc = json_object ();
    json_object_set_new (doc, "version", memctl_json_string (st->version));
    json_object_set_new (doc, "pid", json_integer (st->pid));
    json_object_set_new (doc, "state", memctl_json_string (st->state));
    json_object_set_new (doc, "uptime_ms", json_integer (st->uptime_ms));
    if (st->last_transition) {
        const Memd__V1__Transition *t = st->last_transition;
        json_object_set_new (doc, "last_transition",
                             json_pack ("{s:o, s:o, s:I, s:o}",
                                        "from", memctl_json_string (t->from_state),
                                        "to", memctl_json_string (t->to_state),
                                        "at_ms", (json_int_t) t->at_ms,
                                        "reason", memctl_json_string (t->reason)));
    }
    else
        json_object_set_new (doc, "last_transition", json_null ());
    json_object_set_new (doc, "records",
                         json_pack ("{s:o, s:o, s:o}", "live", memctl_json_u64 (st->records_live),
                                    "tombstoned", memctl_json_u64 (st->records_tombstoned),
                                    "embeddings", memctl_json_u64 (st->embeddings)));
    //  null from a memd that predates the job queue or the graph: "no such
    //  subsystem", where zeros would claim an empty one.
    json_object_set_new (doc, "jobs", st->jobs ? memctl_json_job_stats (st->jobs) : json_null ());
    json_object_set_new (doc, "graph",
                         st->graph ? memctl_json_graph_stats (st->graph) : json_null ());
    json_object_set_new (doc, "resources",
                         json_pack ("{s:o, s:i, s:i}", "rss_bytes",
                                    memctl_json_u64 (st->rss_bytes), "fds", (int) st->fds,
                                    "threads", (int) st->threads));
    json_object_set_new (doc, "recall_workers", json_integer (st->recall_workers));
    json_object_set_new (doc, "requests", memctl_json_u64 (st->requests));
    json_object_set_new (doc, "requests_rejected", memctl_json_u64 (st->requests_rejected));
    json_t *by_kind = json_object ();
    for (size_t i = 0; i < st->n_requests_by_kind; i++)
        json_object_set_new (by_kind, st->requests_by_kind[i]->key,
                             memctl_json_u64 (st->requests_by_kind[i]->value));
    json_object_set_new (doc, "requests_by_kind", by_kind);
    json_object_set_new (doc, "recall_latency",
                         json_pack ("{s:o, s:o, s:o, s:I}", "p50_us",
                                    memctl_json_u64 (st->recall_p50_us), "p99_us",
                                    memctl_json_u64 (st->recall_p99_us), "count",
                                    memctl_json_u64 (st->recall_window_count), "window_ms",
                                    (json_int_t) st->recall_window_ms));
    json_object_set_new (doc, "connections_refused", memctl_json_u64 (st->connections_refused));
    json_object_set_new (doc, "replies_dropped", memctl_json_u64 (st->replies_dropped));
    json_object_set_new (doc, "data_dir", memctl_json_string (st->data_dir));
    json_object_set_new (doc, "endpoint", memctl_json_string (st->endpoint));
    json_object_set_new (doc, "store_bytes", memctl_json_u64 (st->store_bytes));
    json_object_set_new (doc, "map_bytes", memctl_json_u64 (st->map_bytes));
    json_object_set_new (doc, "events_endpoint", memctl_json_string (st->events_endpoint));
    json_object_set_new (doc, "activity_reports", memctl_json_u64 (st->activity_reports));
    json_object_set_new (doc, "consolidation",
                         st->consolidation ? memctl_json_consolidation (st->consolidation)
                                           : json_null ());
    json_object_set_new (doc, "watch", st->watch ? memctl_json_watch (st->watch) : json_null ());
    return doc;
}

json_t *
memctl_json_graph_stats (const Memd__V1__GraphStatsResult *g)
{
    json_t *top = json_array ();
    for (size_t i = 0; i < g->n_top; i++)
        json_array_append_new (top, json_pack ("{s:o, s:o}", "id", memctl_json_u64 (g->top[i]->id),
                                               "size", memctl_json_u64 (g->top[i]->size)));
    json_t *doc = json_pack (
        "{s:o, s:o, s:o, s:o, s:I, s:I, s:f, s:o, s:b, s:o, s:o, s:o, s:o}", "generation",
        memctl_json_u64 (g->generation), "nodes", memctl_json_u64 (g->nodes), "edges",
        memctl_json_u64 (g->edges), "communities", memctl_json_u64 (g->communities), "built_at_ms",
        (json_int_t) g->built_at_ms, "build_ms", (json_int_t) g->build_ms, "modularity",
        g->modularity, "changes", memctl_json_u64 (g->changes), "building", g->building,
        "unlinked", memctl_json_u64 (g->unlinked), "nodes_built", memctl_json_u64 (g->nodes_built),
        "edges_built", memctl_json_u64 (g->edges_built), "last_error",
        memctl_json_string (g->last_error));
    if (g->n_top)
        json_object_set_new (doc, "top", top);
    else
        json_decref (top);
    return doc;
}

static const char *s_state_names[] = {"any",  "queued", "leased", "done",
                                      "failed", "dead",   "blocked"};
#define STATE_COUNT ((int) (sizeof s_state_names / sizeof s_state_names[0]))

const char *
memctl_job_state_name (int state)
{
    return state > 0 && state < STATE_COUNT ? s_state_names[state] : s_state_names[0];
}

int
memctl_job_state_parse (const char *name)
{
    for (int state = 1; state < STATE_COUNT; state++)
        if (strcasecmp (name, s_state_names[state]) == 0)
            return state;
    if (strcasecmp (name, "retrying") == 0)
        return MEMD__V1__JOB_STATE__JOB_FAILED;
    return -1;
}

json_t *
memctl_json_job (const Memd__V1__Job *job)
{
    json_t *doc = json_object ();
    json_object_set_new (doc, "id", memctl_json_u64 (job->id));
    json_object_set_new (doc, "kind", memctl_json_string (job->kind));
    json_object_set_new (doc, "state", json_string (memctl_job_state_name (job->state)));
    json_object_set_new (doc, "fence", memctl_json_u64 (job->fence));
    //  Payloads are bytes; shown as text (invalid UTF-8 becomes U+FFFD).
    char *payload = (char *) malloc (job->payload.len + 1);
    if (payload) {
        if (job->payload.len)
            memcpy (payload, job->payload.data, job->payload.len);
        payload[job->payload.len] = 0;
        json_t *text = json_stringn (payload, job->payload.len);
        json_object_set_new (doc, "payload", text ? text : memctl_json_string (payload));
        free (payload);
    }
    json_object_set_new (doc, "attempts", json_integer (job->attempts));
    json_object_set_new (doc, "max_attempts", json_integer (job->max_attempts));
    json_object_set_new (doc, "dedupe_key", memctl_json_string (job->dedupe_key));
    json_object_set_new (doc, "next_run_at_ms", json_integer (job->next_run_at_ms));
    json_object_set_new (doc, "lease_owner", memctl_json_string (job->lease_owner));
    json_object_set_new (doc, "lease_expires_at_ms", json_integer (job->lease_expires_at_ms));
    json_object_set_new (doc, "last_error", memctl_json_string (job->last_error));
    json_object_set_new (doc, "depends_on", memctl_json_ids (job->depends_on, job->n_depends_on));
    json_object_set_new (doc, "created_at_ms", json_integer (job->created_at_ms));
    json_object_set_new (doc, "updated_at_ms", json_integer (job->updated_at_ms));
    return doc;
}

json_t *
memctl_json_job_stats (const Memd__V1__JobStatsResult *st)
{
    json_t *kinds = json_array ();
    for (size_t i = 0; i < st->n_kinds; i++) {
        const Memd__V1__JobKindStats *k = st->kinds[i];
        json_t *kind = json_object ();
        json_object_set_new (kind, "kind", memctl_json_string (k->kind));
        json_object_set_new (kind, "queued", memctl_json_u64 (k->queued));
        json_object_set_new (kind, "leased", memctl_json_u64 (k->leased));
        json_object_set_new (kind, "dead", memctl_json_u64 (k->dead));
        json_object_set_new (kind, "retrying", memctl_json_u64 (k->retrying));
        json_object_set_new (kind, "blocked", memctl_json_u64 (k->blocked));
        json_object_set_new (kind, "done", memctl_json_u64 (k->done));
        json_object_set_new (kind, "oldest_due_age_ms", json_integer (k->oldest_due_age_ms));
        json_object_set_new (kind, "next_due_at_ms", json_integer (k->next_due_at_ms));
        json_object_set_new (kind, "limit", json_integer (k->limit));
        json_array_append_new (kinds, kind);
    }
    json_t *doc = json_object ();
    json_object_set_new (doc, "queued", memctl_json_u64 (st->queued));
    json_object_set_new (doc, "leased", memctl_json_u64 (st->leased));
    json_object_set_new (doc, "dead", memctl_json_u64 (st->dead));
    json_object_set_new (doc, "retrying", memctl_json_u64 (st->retrying));
    json_object_set_new (doc, "blocked", memctl_json_u64 (st->blocked));
    json_object_set_new (doc, "done", memctl_json_u64 (st->done));
    json_object_set_new (doc, "oldest_due_age_ms", json_integer (st->oldest_due_age_ms));
    json_object_set_new (doc, "next_deadline_ms", json_integer (st->next_deadline_ms));
    json_object_set_new (doc, "waiting_workers", json_integer (st->waiting_workers));
    json_object_set_new (doc, "kinds", kinds);
    return doc;
}

json_t *
memctl_json_ids (const uint64_t *ids, size_t n)
{
    json_t *array = json_array ();
    for (size_t i = 0; i < n; i++)
        json_array_append_new (array, memctl_json_u64 (ids[i]));
    return array;
}

json_t *
memctl_json_error (const char *code, const char *message)
{
    return json_pack ("{s:s, s:o}", "code", code, "message", memctl_json_string (message));
}

int
memctl_json_print (json_t *doc)
{
    if (!doc)
        return -1;
    //  12 significant digits: scores print as 0.333333333333, not 0.33333333333333331.
    int rc = json_dumpf (doc, stdout, JSON_COMPACT | JSON_REAL_PRECISION (12));
    json_decref (doc);
    if (rc == 0 && (fputc ('\n', stdout) == EOF || fflush (stdout)))
        rc = -1;
    return rc;
}

//  --------------------------------------------------------------------------
//  Records built by memctl

static void
s_free_string (char *s)
{
    if (s && s != protobuf_c_empty_string)
        free (s);
}

//  Replaces *field with a copy of value. -1 if out of memory.
static int
s_set_string (char **field, const char *value)
{
    char *copy = strdup (value ? value : "");
    if (!copy)
        return -1;
    s_free_string (*field);
    *field = copy;
    return 0;
}

static void
s_clear_tags (Memd__V1__Record *record)
{
    for (size_t i = 0; i < record->n_tags; i++)
        free (record->tags[i]);
    free (record->tags);
    record->tags = NULL;
    record->n_tags = 0;
}

static void
s_clear_metadata (Memd__V1__Record *record)
{
    for (size_t i = 0; i < record->n_metadata; i++) {
        s_free_string (record->metadata[i]->key);
        s_free_string (record->metadata[i]->value);
        free (record->metadata[i]);
    }
    free (record->metadata);
    record->metadata = NULL;
    record->n_metadata = 0;
}

//  Sets the record's tags to a copy of tags[0..n). -1 if out of memory.
static int
s_set_tags (Memd__V1__Record *record, const char **tags, size_t n)
{
    s_clear_tags (record);
    if (n == 0)
        return 0;
    record->tags = (char **) calloc (n, sizeof (char *));
    if (!record->tags)
        return -1;
    for (size_t i = 0; i < n; i++) {
        record->tags[i] = strdup (tags[i]);
        if (!record->tags[i])
            return -1;
        record->n_tags++;
    }
    return 0;
}

//  Appends one metadata entry. -1 if out of memory.
static int
s_add_metadata (Memd__V1__Record *record, const char *key, const char *value)
{
    Memd__V1__Record__MetadataEntry **entries = (Memd__V1__Record__MetadataEntry **) realloc (
        record->metadata, (record->n_metadata + 1) * sizeof (*entries));
    if (!entries)
        return -1;
    record->metadata = entries;
    Memd__V1__Record__MetadataEntry *entry =
        (Memd__V1__Record__MetadataEntry *) malloc (sizeof (*entry));
    if (!entry)
        return -1;
    memd__v1__record__metadata_entry__init (entry);
    entries[record->n_metadata++] = entry;
    if (s_set_string (&entry->key, key) || s_set_string (&entry->value, value))
        return -1;
    return 0;
}

Memd__V1__Record *
memctl_record_new (const memctl_defaults_t *defaults, const char *text)
{
    Memd__V1__Record *record = (Memd__V1__Record *) malloc (sizeof (Memd__V1__Record));
    if (!record)
        return NULL;
    memd__v1__record__init (record);
    record->kind = defaults->kind;
    record->created_at_ms = defaults->created_at_ms;
    bool ok = s_set_string (&record->text, text) == 0
           && s_set_string (&record->agent_id, defaults->agent ? defaults->agent : "default") == 0
           && (!defaults->session || s_set_string (&record->session_id, defaults->session) == 0)
           && s_set_tags (record, defaults->tags, defaults->n_tags) == 0;
    for (size_t i = 0; ok && i < defaults->n_meta; i++)
        ok = s_add_metadata (record, defaults->meta_keys[i], defaults->meta_values[i]) == 0;
    if (!ok)
        memctl_record_destroy (&record);
    return record;
}

void
memctl_record_destroy (Memd__V1__Record **record_p)
{
    if (*record_p) {
        Memd__V1__Record *record = *record_p;
        s_free_string (record->agent_id);
        s_free_string (record->session_id);
        s_free_string (record->text);
        s_clear_tags (record);
        s_clear_metadata (record);
        free (record->embedding);
        free (record);
        *record_p = NULL;
    }
}

//  --------------------------------------------------------------------------
//  JSONL input

void
memctl_errorf (char *err, size_t err_size, const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    vsnprintf (err, err_size, fmt, args);
    va_end (args);
}

//  A field of the line, NULL when absent or null (null means "use the default").
static json_t *
s_field (json_t *object, const char *name)
{
    json_t *value = json_object_get (object, name);
    return value && !json_is_null (value) ? value : NULL;
}

//  Applies the line's fields to record (which holds the defaults). Returns
//  0, -1 with a message for a bad field, -2 if out of memory.
static int
s_apply_fields (Memd__V1__Record *record, json_t *doc, char *err, size_t err_size)
{
    json_t *value;
    if ((value = s_field (doc, "agent"))) {
        if (!json_is_string (value) || json_string_length (value) == 0) {
            memctl_errorf (err, err_size, "\"agent\" must be a non-empty string");
            return -1;
        }
        if (s_set_string (&record->agent_id, json_string_value (value)))
            return -2;
    }
    if ((value = s_field (doc, "session"))) {
        if (!json_is_string (value)) {
            memctl_errorf (err, err_size, "\"session\" must be a string");
            return -1;
        }
        if (s_set_string (&record->session_id, json_string_value (value)))
            return -2;
    }
    if ((value = s_field (doc, "kind"))) {
        int kind = json_is_string (value) ? memctl_kind_parse (json_string_value (value)) : -1;
        if (kind < 0) {
            memctl_errorf (err, err_size,
                     "\"kind\" must be one of episodic, fact, summary, procedure, note");
            return -1;
        }
        record->kind = (Memd__V1__Kind) kind;
    }
    if ((value = s_field (doc, "tags"))) {
        size_t n = json_is_array (value) ? json_array_size (value) : 0;
        const char **tags = (const char **) calloc (n ? n : 1, sizeof (char *));
        if (!tags)
            return -2;
        bool ok = json_is_array (value);
        for (size_t i = 0; ok && i < n; i++) {
            tags[i] = json_string_value (json_array_get (value, i));
            ok = tags[i] && *tags[i];
        }
        int rc = ok ? (s_set_tags (record, tags, n) ? -2 : 0) : -1;
        free (tags);
        if (rc == -1)
            memctl_errorf (err, err_size, "\"tags\" must be an array of non-empty strings");
        if (rc)
            return rc;
    }
    json_t *ts = s_field (doc, "ts_ms");
    const char *ts_name = "ts_ms";
    if (!ts) {
        ts = s_field (doc, "created_at_ms");
        ts_name = "created_at_ms";
    }
    if (ts) {
        if (!json_is_integer (ts) || json_integer_value (ts) < 0) {
            memctl_errorf (err, err_size, "\"%s\" must be a non-negative integer (milliseconds)",
                     ts_name);
            return -1;
        }
        record->created_at_ms = json_integer_value (ts);
    }
    if ((value = s_field (doc, "embedding"))) {
        size_t n = json_is_array (value) ? json_array_size (value) : 0;
        if (!json_is_array (value) || n == 0) {
            memctl_errorf (err, err_size, "\"embedding\" must be a non-empty array of numbers");
            return -1;
        }
        float *floats = (float *) malloc (n * sizeof (float));
        if (!floats)
            return -2;
        for (size_t i = 0; i < n; i++) {
            json_t *number = json_array_get (value, i);
            double x = json_number_value (number);
            if (!json_is_number (number) || !isfinite (x) || fabs (x) > FLT_MAX) {
                free (floats);
                memctl_errorf (err, err_size, "\"embedding\"[%zu] is not a finite float", i);
                return -1;
            }
            floats[i] = (float) x;
        }
        free (record->embedding);
        record->embedding = floats;
        record->n_embedding = n;
    }
    if ((value = s_field (doc, "metadata"))) {
        if (!json_is_object (value)) {
            memctl_errorf (err, err_size, "\"metadata\" must be an object of strings");
            return -1;
        }
        s_clear_metadata (record);
        const char *key;
        json_t *entry;
        json_object_foreach (value, key, entry) {
            if (!json_is_string (entry)) {
                memctl_errorf (err, err_size, "\"metadata\".\"%.64s\" must be a string", key);
                return -1;
            }
            if (s_add_metadata (record, key, json_string_value (entry)))
                return -2;
        }
    }
    return 0;
}

Memd__V1__Record *
memctl_record_from_json (const char *line, size_t len, const memctl_defaults_t *defaults,
                         char *err, size_t err_size)
{
    json_error_t jerr;
    json_t *doc = json_loadb (line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        memctl_errorf (err, err_size, "invalid JSON at column %d: %s", jerr.column, jerr.text);
        return NULL;
    }
    Memd__V1__Record *record = memctl_record_from_object (doc, defaults, err, err_size);
    json_decref (doc);
    return record;
}

Memd__V1__Record *
memctl_record_from_object (json_t *doc, const memctl_defaults_t *defaults, char *err,
                           size_t err_size)
{
    Memd__V1__Record *record = NULL;
    json_t *text = json_object_get (doc, "text");
    if (!json_is_object (doc))
        memctl_errorf (err, err_size, "not a JSON object");
    else if (!json_is_string (text))
        memctl_errorf (err, err_size, "\"text\" is %s", text ? "not a string" : "missing");
    else if (json_string_length (text) == 0)
        memctl_errorf (err, err_size, "\"text\" is empty");
    else if (!(record = memctl_record_new (defaults, json_string_value (text))))
        memctl_errorf (err, err_size, "out of memory");
    else {
        int rc = s_apply_fields (record, doc, err, err_size);
        if (rc == -2)
            memctl_errorf (err, err_size, "out of memory");
        if (rc)
            memctl_record_destroy (&record);
    }
    return record;
}

int
memctl_record_add_metadata (Memd__V1__Record *record, const char *key, const char *value)
{
    return s_add_metadata (record, key, value);
}
