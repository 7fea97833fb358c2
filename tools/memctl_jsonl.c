/*  memctl_jsonl — export/import lines; see memctl_jsonl.h. */
#include "memctl_jsonl.h"
#include "memctl_json.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UID_BYTES 16

//  --------------------------------------------------------------------------
//  Out

static json_t *
s_hex (const uint8_t *data, size_t len)
{
    char text[2 * 64 + 1];
    if (len > 64)
        len = 64;
    for (size_t i = 0; i < len; i++)
        snprintf (text + 2 * i, 3, "%02x", data[i]);
    text[2 * len] = 0;
    return json_string (text);
}

char *
memctl_jsonl_format (const Memd__V1__Record *r)
{
    json_t *tags = json_array (), *meta = json_object ();
    for (size_t i = 0; i < r->n_tags; i++)
        json_array_append_new (tags, memctl_json_string (r->tags[i]));
    for (size_t i = 0; i < r->n_metadata; i++)
        json_object_set_new (meta, r->metadata[i]->key ? r->metadata[i]->key : "",
                             memctl_json_string (r->metadata[i]->value));
    uint8_t hash[8];
    for (int i = 0; i < 8; i++)
        hash[i] = (uint8_t) (r->content_hash >> (56 - 8 * i));
    json_t *doc = json_object ();
    json_object_set_new (doc, "id", memctl_json_u64 (r->id));
    json_object_set_new (doc, "uid", s_hex (r->uid.data, r->uid.len));
    json_object_set_new (doc, "agent", memctl_json_string (r->agent_id));
    json_object_set_new (doc, "session", memctl_json_string (r->session_id));
    json_object_set_new (doc, "kind", json_string (memctl_kind_name (r->kind)));
    json_object_set_new (doc, "text", memctl_json_string (r->text));
    json_object_set_new (doc, "tags", tags);
    json_object_set_new (doc, "metadata", meta);
    json_object_set_new (doc, "created_at_ms", json_integer (r->created_at_ms));
    json_object_set_new (doc, "salience", json_real (r->salience));
    json_object_set_new (doc, "salience_base", json_real (r->salience_base));
    json_object_set_new (doc, "tombstoned_at_ms", json_integer (r->tombstoned_at_ms));
    json_object_set_new (doc, "merged_into", memctl_json_u64 (r->merged_into));
    json_object_set_new (doc, "recall_count", json_integer (r->recall_count));
    json_object_set_new (doc, "last_recalled_ms", json_integer (r->last_recalled_ms));
    json_object_set_new (doc, "content_hash", s_hex (hash, 8));
    if (r->n_embedding) {
        json_t *embedding = json_array ();
        for (size_t i = 0; i < r->n_embedding; i++)
            json_array_append_new (embedding, json_real (r->embedding[i]));
        json_object_set_new (doc, "embedding", embedding);
    }
    char *line = json_dumps (doc, JSON_COMPACT | JSON_REAL_PRECISION (9));
    json_decref (doc);
    return line;
}

//  --------------------------------------------------------------------------
//  In

void
memctl_jsonl_free (Memd__V1__Record **record_p)
{
    Memd__V1__Record *r = *record_p;
    if (!r)
        return;
    free (r->text);
    free (r->agent_id);
    free (r->session_id);
    for (size_t i = 0; i < r->n_tags; i++)
        free (r->tags[i]);
    free (r->tags);
    for (size_t i = 0; i < r->n_metadata; i++) {
        free (r->metadata[i]->key);
        free (r->metadata[i]->value);
        free (r->metadata[i]);
    }
    free (r->metadata);
    free (r->uid.data);
    free (r->embedding);
    free (r);
    *record_p = NULL;
}

//  An unsigned integer field (absent: 0). 0 or -1.
static int
s_u64 (json_t *doc, const char *name, uint64_t max, uint64_t *out, char *err, size_t err_size)
{
    json_t *v = json_object_get (doc, name);
    *out = 0;
    if (!v || json_is_null (v))
        return 0;
    if (!json_is_integer (v) || json_integer_value (v) < 0
        || (uint64_t) json_integer_value (v) > max) {
        snprintf (err, err_size, "\"%s\" must be an integer from 0 to %llu", name,
                  (unsigned long long) max);
        return -1;
    }
    *out = (uint64_t) json_integer_value (v);
    return 0;
}

//  A string field (absent: NULL, or a copy of fallback). 0 or -1.
static int
s_string (json_t *doc, const char *name, const char *fallback, char **out, char *err,
          size_t err_size)
{
    json_t *v = json_object_get (doc, name);
    *out = NULL;
    if (v && !json_is_null (v) && !json_is_string (v)) {
        snprintf (err, err_size, "\"%s\" must be a string", name);
        return -1;
    }
    const char *text = v && json_is_string (v) ? json_string_value (v) : fallback;
    if (text && !(*out = strdup (text))) {
        snprintf (err, err_size, "out of memory");
        return -1;
    }
    return 0;
}

//  A number in 0..1 that a float holds (absent: 0). 0 or -1.
static int
s_unit (json_t *doc, const char *name, float *out, char *err, size_t err_size)
{
    json_t *v = json_object_get (doc, name);
    *out = 0;
    if (!v || json_is_null (v))
        return 0;
    double d = json_number_value (v);
    if (!json_is_number (v) || !(d >= 0 && d <= 1)) {
        snprintf (err, err_size, "\"%s\" must be a number from 0 to 1", name);
        return -1;
    }
    *out = (float) d;
    return 0;
}

static int
s_hex_digit (char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

//  The fields, into r (allocated, zeroed by the caller). 0 or -1.
static int
s_fill (Memd__V1__Record *r, json_t *doc, const char *default_agent, char *err, size_t err_size)
{
    uint64_t value;
    if (s_u64 (doc, "id", UINT64_MAX >> 1, &r->id, err, err_size))
        return -1;
    json_t *uid = json_object_get (doc, "uid");
    const char *hex = json_is_string (uid) ? json_string_value (uid) : NULL;
    if (!hex || json_string_length (uid) != 2 * UID_BYTES) {
        snprintf (err, err_size, "\"uid\" must be %d hex digits", 2 * UID_BYTES);
        return -1;
    }
    if (!(r->uid.data = malloc (UID_BYTES))) {
        snprintf (err, err_size, "out of memory");
        return -1;
    }
    r->uid.len = UID_BYTES;
    for (int i = 0; i < UID_BYTES; i++) {
        int hi = s_hex_digit (hex[2 * i]), lo = s_hex_digit (hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            snprintf (err, err_size, "\"uid\" must be %d hex digits", 2 * UID_BYTES);
            return -1;
        }
        r->uid.data[i] = (uint8_t) (hi << 4 | lo);
    }
    if (s_string (doc, "text", NULL, &r->text, err, err_size))
        return -1;
    if (!r->text || !*r->text) {
        snprintf (err, err_size, "\"text\" is required");
        return -1;
    }
    if (s_string (doc, "agent", default_agent ? default_agent : "default", &r->agent_id, err,
                  err_size)
        || s_string (doc, "session", "", &r->session_id, err, err_size))
        return -1;
    json_t *kind = json_object_get (doc, "kind");
    if (kind && !json_is_null (kind)) {
        const char *name = json_is_string (kind) ? json_string_value (kind) : NULL;
        int k = !name ? -1 : strcmp (name, "unspecified") == 0 ? 0 : memctl_kind_parse (name);
        if (k < 0) {
            snprintf (err, err_size, "\"kind\" must be episodic, fact, summary, procedure or note");
            return -1;
        }
        r->kind = (Memd__V1__Kind) k;
    }
    json_t *tags = json_object_get (doc, "tags");
    if (tags && !json_is_null (tags)) {
        if (!json_is_array (tags)) {
            snprintf (err, err_size, "\"tags\" must be an array of strings");
            return -1;
        }
        size_t n = json_array_size (tags);
        if (!(r->tags = calloc (n ? n : 1, sizeof *r->tags))) {
            snprintf (err, err_size, "out of memory");
            return -1;
        }
        for (size_t i = 0; i < n; i++) {
            json_t *tag = json_array_get (tags, i);
            if (!json_is_string (tag)) {
                snprintf (err, err_size, "\"tags\" must be an array of strings");
                return -1;
            }
            if (!(r->tags[r->n_tags] = strdup (json_string_value (tag)))) {
                snprintf (err, err_size, "out of memory");
                return -1;
            }
            r->n_tags++;
        }
    }
    json_t *meta = json_object_get (doc, "metadata");
    if (meta && !json_is_null (meta)) {
        if (!json_is_object (meta)) {
            snprintf (err, err_size, "\"metadata\" must be an object of strings");
            return -1;
        }
        size_t n = json_object_size (meta);
        if (!(r->metadata = calloc (n ? n : 1, sizeof *r->metadata))) {
            snprintf (err, err_size, "out of memory");
            return -1;
        }
        const char *key;
        json_t *v;
        json_object_foreach (meta, key, v) {
            if (!json_is_string (v)) {
                snprintf (err, err_size, "\"metadata\" must be an object of strings");
                return -1;
            }
            Memd__V1__Record__MetadataEntry *entry = malloc (sizeof *entry);
            if (!entry) {
                snprintf (err, err_size, "out of memory");
                return -1;
            }
            memd__v1__record__metadata_entry__init (entry);
            r->metadata[r->n_metadata++] = entry;
            entry->key = strdup (key);
            entry->value = strdup (json_string_value (v));
            if (!entry->key || !entry->value) {
                snprintf (err, err_size, "out of memory");
                return -1;
            }
        }
    }
    const uint64_t ms_max = (uint64_t) INT64_MAX;
    if (s_u64 (doc, "created_at_ms", ms_max, &value, err, err_size))
        return -1;
    r->created_at_ms = (int64_t) value;
    if (s_u64 (doc, "tombstoned_at_ms", ms_max, &value, err, err_size))
        return -1;
    r->tombstoned_at_ms = (int64_t) value;
    if (s_u64 (doc, "last_recalled_ms", ms_max, &value, err, err_size))
        return -1;
    r->last_recalled_ms = (int64_t) value;
    if (s_u64 (doc, "merged_into", UINT64_MAX >> 1, &r->merged_into, err, err_size))
        return -1;
    if (s_u64 (doc, "recall_count", UINT32_MAX, &value, err, err_size))
        return -1;
    r->recall_count = (uint32_t) value;
    if (s_unit (doc, "salience", &r->salience, err, err_size)
        || s_unit (doc, "salience_base", &r->salience_base, err, err_size))
        return -1;
    json_t *embedding = json_object_get (doc, "embedding");
    if (embedding && !json_is_null (embedding)) {
        size_t n = json_is_array (embedding) ? json_array_size (embedding) : 0;
        if (!json_is_array (embedding)) {
            snprintf (err, err_size, "\"embedding\" must be an array of numbers");
            return -1;
        }
        if (n && !(r->embedding = calloc (n, sizeof *r->embedding))) {
            snprintf (err, err_size, "out of memory");
            return -1;
        }
        for (size_t i = 0; i < n; i++) {
            json_t *x = json_array_get (embedding, i);
            double d = json_number_value (x);
            if (!json_is_number (x) || !(fabs (d) <= FLT_MAX)) {
                snprintf (err, err_size, "\"embedding\" must be an array of finite numbers");
                return -1;
            }
            r->embedding[r->n_embedding++] = (float) d;
        }
    }
    return 0;
}

Memd__V1__Record *
memctl_jsonl_parse (const char *line, size_t len, const char *default_agent, char *err,
                    size_t err_size)
{
    json_error_t jerr;
    json_t *doc = json_loadb (line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        snprintf (err, err_size, "not JSON: %s (column %d)", jerr.text, jerr.column);
        return NULL;
    }
    Memd__V1__Record *r = NULL;
    if (!json_is_object (doc))
        snprintf (err, err_size, "not a JSON object");
    else if ((r = malloc (sizeof *r))) {
        memd__v1__record__init (r);
        //  init points strings at protobuf-c's static "": ours are malloc'd or NULL.
        r->text = r->agent_id = r->session_id = NULL;
        if (s_fill (r, doc, default_agent, err, err_size))
            memctl_jsonl_free (&r);
    }
    else
        snprintf (err, err_size, "out of memory");
    json_decref (doc);
    return r;
}
