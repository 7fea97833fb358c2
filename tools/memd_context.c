/*  memd_context — token-budgeted memory blocks; see memd_context.h. */
#include "memd_context.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_MIN_CUT 80               //  bytes left that are still worth a cut memory
#define S_ELLIPSIS "\xe2\x80\xa6"  //  U+2026, 3 bytes

static const char *s_kinds[] = {"", "", "fact", "summary", "procedure", "note"};

typedef struct {
    char *data;
    size_t len, size;
    bool failed;                   //  out of memory once: everything after is dropped
} s_text_t;

static void
s_add (s_text_t *t, const char *data, size_t len)
{
    if (t->failed)
        return;
    if (t->len + len + 1 > t->size) {
        size_t size = t->size ? t->size : 512;
        while (size < t->len + len + 1)
            size *= 2;
        char *grown = realloc (t->data, size);
        if (!grown) {
            t->failed = true;
            return;
        }
        t->data = grown;
        t->size = size;
    }
    memcpy (t->data + t->len, data, len);
    t->len += len;
    t->data[t->len] = 0;
}

static void s_addf (s_text_t *t, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static void
s_addf (s_text_t *t, const char *fmt, ...)
{
    char buf[512];
    va_list args;
    va_start (args, fmt);
    int n = vsnprintf (buf, sizeof buf, fmt, args);
    va_end (args);
    if (n > 0)
        s_add (t, buf, (size_t) n < sizeof buf ? (size_t) n : sizeof buf - 1);
}

//  How many of text's first max bytes end on a character boundary.
static size_t
s_utf8_cut (const char *text, size_t len, size_t max)
{
    if (len <= max)
        return len;
    while (max > 0 && ((unsigned char) text[max] & 0xc0) == 0x80)
        max--;
    return max;
}

//  Adds text on one line (runs of whitespace as one space), at most max
//  bytes of it (0: all), with an ellipsis when cut.
static void
s_add_one_line (s_text_t *t, const char *text, size_t max)
{
    size_t added = 0;
    bool space = false, cut = false;
    for (const char *p = text; *p; p++) {
        bool blank = *p == ' ' || *p == '\n' || *p == '\r' || *p == '\t' || *p == '\v'
                  || *p == '\f';
        if (blank) {
            space = added > 0;
            continue;
        }
        size_t run = 1;   //  the whole character, so a cut never splits one
        while (((unsigned char) p[run] & 0xc0) == 0x80)
            run++;
        if (max && added + space + run > max) {
            cut = true;
            break;
        }
        if (space)
            s_add (t, " ", 1);
        s_add (t, p, run);
        added += space + run;
        space = false;
        p += run - 1;
    }
    if (cut)
        s_add (t, S_ELLIPSIS, 3);
}

static const char *
s_metadata (const Memd__V1__Record *record, const char *key)
{
    for (size_t i = 0; i < record->n_metadata; i++)
        if (record->metadata[i]->key && strcmp (record->metadata[i]->key, key) == 0)
            return record->metadata[i]->value;
    return NULL;
}

char *
memd_context_describe (const Memd__V1__Record *record, size_t max_text)
{
    s_text_t t = {0};
    char date[32] = "";
    time_t secs = (time_t) (record->created_at_ms / 1000);
    struct tm tm;
    if (record->created_at_ms <= 0 || !localtime_r (&secs, &tm)
        || !strftime (date, sizeof date, "%Y-%m-%d %H:%M", &tm))
        snprintf (date, sizeof date, "-");
    s_addf (&t, "[#%llu | %s", (unsigned long long) record->id, date);
    if (record->kind > 1 && record->kind < (int) (sizeof s_kinds / sizeof s_kinds[0]))
        s_addf (&t, " | %s", s_kinds[record->kind]);
    if (record->session_id && *record->session_id) {
        s_addf (&t, " | session ");
        s_add_one_line (&t, record->session_id, 80);
    }
    s_add (&t, "] ", 2);
    const char *role = s_metadata (record, "role");
    if (role && *role) {
        s_add_one_line (&t, role, 32);
        s_add (&t, ": ", 2);
    }
    s_add_one_line (&t, record->text ? record->text : "", max_text);
    if (t.failed) {
        free (t.data);
        return NULL;
    }
    return t.data;
}

int
memd_context_format (const Memd__V1__Record *const *records, size_t n, const char *heading,
                     int budget_tokens, memd_context_t *out)
{
    memset (out, 0, sizeof *out);
    if (budget_tokens <= 0)
        budget_tokens = MEMD_CONTEXT_DEFAULT_BUDGET;
    size_t limit = (size_t) budget_tokens * MEMD_CONTEXT_BYTES_PER_TOKEN;
    s_text_t t = {0};
    s_add_one_line (&t, heading, limit / 2);
    s_add (&t, "\n", 1);
    out->ids = calloc (n ? n : 1, sizeof *out->ids);
    if (!out->ids)
        t.failed = true;
    for (size_t i = 0; i < n && !t.failed; i++) {
        char *line = memd_context_describe (records[i], MEMD_CONTEXT_LINE_MAX);
        if (!line) {
            t.failed = true;
            break;
        }
        size_t len = strlen (line);
        //  "- " + line + "\n" must fit; else a cut line if enough room is left.
        if (t.len + 2 + len + 1 <= limit) {
            s_add (&t, "- ", 2);
            s_add (&t, line, len);
            s_add (&t, "\n", 1);
            out->ids[out->n_ids++] = records[i]->id;
            free (line);
            continue;
        }
        size_t room = limit > t.len + 2 + 3 + 1 ? limit - t.len - 2 - 3 - 1 : 0;
        if (room >= S_MIN_CUT) {
            s_add (&t, "- ", 2);
            s_add (&t, line, s_utf8_cut (line, len, room));
            s_add (&t, S_ELLIPSIS "\n", 4);
            out->ids[out->n_ids++] = records[i]->id;
        }
        free (line);
        break;
    }
    if (t.failed) {
        free (t.data);
        memd_context_clear (out);
        return -1;
    }
    if (out->n_ids == 0) {
        free (t.data);
        out->text = strdup ("");
        if (!out->text) {
            memd_context_clear (out);
            return -1;
        }
        return 0;
    }
    out->text = t.data;
    out->bytes = t.len;
    return 0;
}

int
memd_context_build (memd_client_t *client, const char *agent, const memd_context_query_t *query,
                    memd_context_t *out)
{
    memset (out, 0, sizeof *out);
    Memd__V1__Recall recall = MEMD__V1__RECALL__INIT;
    recall.query = (char *) query->query;
    recall.k = MEMD_CONTEXT_CANDIDATES;
    recall.session_id = query->session && *query->session ? (char *) query->session : "";
    recall.kind = query->kind;
    Memd__V1__Reply *reply = memd_client_recall (client, agent, &recall);
    if (!reply)
        return -1;
    const Memd__V1__RecallResult *result = reply->recall;
    size_t n = 0;
    const Memd__V1__Record **records = calloc (result->n_hits ? result->n_hits : 1,
                                               sizeof *records);
    if (!records) {
        memd_client_reply_free (&reply);
        return -1;
    }
    for (size_t i = 0; i < result->n_hits; i++)
        if (result->hits[i]->record)
            records[n++] = result->hits[i]->record;

    //  The query in the heading is for the reader; a long one is cut.
    s_text_t heading = {0};
    s_addf (&heading, "Memories from memd relevant to \"");
    s_add_one_line (&heading, query->query, 80);
    s_addf (&heading, "\" (agent %s; best first; cite as #id):",
            agent && *agent ? agent : "default");
    int rc = heading.failed ? -1
                            : memd_context_format (records, n, heading.data, query->budget_tokens,
                                                   out);
    free (heading.data);
    free (records);
    memd_client_reply_free (&reply);
    return rc;
}

void
memd_context_clear (memd_context_t *context)
{
    free (context->text);
    free (context->ids);
    memset (context, 0, sizeof *context);
}
