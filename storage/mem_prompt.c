/*  mem_prompt — Context blocks within a token budget; see mem_prompt.h. */
#include "mem_prompt.h"
#include "mem_minhash.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_ELLIPSIS "\xe2\x80\xa6"   //  …

unsigned
mem_prompt_tokens (size_t bytes)
{
    return (unsigned) ((bytes + MEM_PROMPT_BYTES_PER_TOKEN - 1) / MEM_PROMPT_BYTES_PER_TOKEN);
}

//  The largest length <= max that does not split a UTF-8 sequence of s.
static size_t
s_utf8_cut (const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    while (max > 0 && ((unsigned char) s[max] & 0xC0) == 0x80)
        max--;
    return max;
}

//  The record's text as one line: control characters become spaces.
static char *
s_one_line (const Memd__V1__Record *rec)
{
    const char *speaker = NULL;
    for (size_t i = 0; i < rec->n_metadata; i++)
        if (rec->metadata[i]->key && strcmp (rec->metadata[i]->key, "speaker") == 0
            && rec->metadata[i]->value && *rec->metadata[i]->value)
            speaker = rec->metadata[i]->value;
    size_t text_len = strlen (rec->text);
    if (text_len > MEM_PROMPT_LINE_MAX)
        text_len = s_utf8_cut (rec->text, text_len, MEM_PROMPT_LINE_MAX);
    char *line = NULL;
    if (asprintf (&line, "%s%s%.*s%s", speaker ? speaker : "", speaker ? ": " : "",
                  (int) text_len, rec->text, text_len < strlen (rec->text) ? S_ELLIPSIS : "")
        < 0)
        return NULL;
    for (char *p = line; *p; p++)
        if ((unsigned char) *p < 0x20 || *p == 0x7F)
            *p = ' ';
    return line;
}

//  "- [#12 | 2026-11-24 14:02 UTC | session s1] "
static void
s_line_prefix (const Memd__V1__Record *rec, char *buf, size_t size)
{
    time_t secs = (time_t) (rec->created_at_ms / 1000);
    struct tm tm;
    char date[32] = "?";
    if (gmtime_r (&secs, &tm))
        strftime (date, sizeof date, "%Y-%m-%d %H:%M UTC", &tm);
    if (rec->session_id && *rec->session_id)
        snprintf (buf, size, "- [#%llu | %s | session %.200s] ", (unsigned long long) rec->id,
                  date, rec->session_id);
    else
        snprintf (buf, size, "- [#%llu | %s] ", (unsigned long long) rec->id, date);
    for (char *p = buf; *p; p++)
        if ((unsigned char) *p < 0x20)
            *p = ' ';
}

typedef struct {
    char *buf;
    size_t len, cap;
} s_text_t;

static int
s_append (s_text_t *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *grown = realloc (t->buf, cap);
        if (!grown)
            return -1;
        t->buf = grown;
        t->cap = cap;
    }
    memcpy (t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = 0;
    return 0;
}

//  True when line repeats (nearly) one already in the block.
static bool
s_repeats (const char *line, const mem_minhash_t *sig, char **kept, mem_minhash_t *sigs,
           size_t n_kept)
{
    for (size_t i = 0; i < n_kept; i++) {
        if (strcmp (line, kept[i]) == 0)
            return true;
        //  The estimate picks the pairs worth the exact (costlier) measure.
        if (mem_minhash_estimate (sig, &sigs[i]) >= MEM_PROMPT_NEAR_DUPLICATE - 0.2
            && mem_minhash_jaccard (line, strlen (line), kept[i], strlen (kept[i]))
                   >= MEM_PROMPT_NEAR_DUPLICATE)
            return true;
    }
    return false;
}

int
mem_prompt_build (const Memd__V1__Record *const *records, size_t n, const char *query,
                  unsigned budget_tokens, bool header, mem_prompt_t *out)
{
    memset (out, 0, sizeof *out);
    size_t room = (size_t) budget_tokens * MEM_PROMPT_BYTES_PER_TOKEN;
    s_text_t text = {NULL, 0, 0};
    char **kept = calloc (n ? n : 1, sizeof *kept);
    mem_minhash_t *sigs = malloc ((n ? n : 1) * sizeof *sigs);
    out->ids = malloc ((n ? n : 1) * sizeof *out->ids);
    int rc = kept && sigs && out->ids && s_append (&text, "", 0) == 0 ? 0 : -1;
    if (!rc && header) {
        char heading[256];
        const char *q = query ? query : "";
        size_t qlen = s_utf8_cut (q, strlen (q), 80);
        if (*q)
            snprintf (heading, sizeof heading,
                      "Memories relevant to \"%.*s%s\" (best first; cite as #id):\n", (int) qlen,
                      q, qlen < strlen (q) ? S_ELLIPSIS : "");
        else
            snprintf (heading, sizeof heading, "Memories (best first; cite as #id):\n");
        for (char *p = heading; p[1]; p++)
            if ((unsigned char) *p < 0x20)
                *p = ' ';
        if (strlen (heading) <= room)
            rc = s_append (&text, heading, strlen (heading));
    }
    bool cut_done = false;
    for (size_t i = 0; i < n && !rc; i++) {
        const Memd__V1__Record *rec = records[i];
        bool seen = false;
        for (size_t j = 0; j < out->n_ids && !seen; j++)
            seen = out->ids[j] == rec->id;
        char *line = seen ? NULL : s_one_line (rec);
        if (!line) {
            out->omitted++;
            if (!seen)
                rc = -1;
            continue;
        }
        mem_minhash_t sig;
        mem_minhash_compute (line, strlen (line), &sig);
        char prefix[320];
        s_line_prefix (rec, prefix, sizeof prefix);
        size_t plen = strlen (prefix), llen = strlen (line);
        size_t left = room - text.len;
        bool fits = plen + llen + 1 <= left;
        bool cut = !fits && !cut_done && left >= plen + MEM_PROMPT_CUT_MIN;
        if ((!fits && !cut) || s_repeats (line, &sig, kept, sigs, out->n_ids)) {
            out->omitted++;
            free (line);
            continue;
        }
        if (cut) {
            //  Fill the room left: the text's start, "…" and the newline.
            size_t keep = s_utf8_cut (line, llen, left - plen - strlen (S_ELLIPSIS) - 1);
            strcpy (line + keep, S_ELLIPSIS);
            llen = strlen (line);
            cut_done = true;
        }
        if (s_append (&text, prefix, plen) || s_append (&text, line, llen)
            || s_append (&text, "\n", 1)) {
            free (line);
            rc = -1;
            break;
        }
        kept[out->n_ids] = line;
        sigs[out->n_ids] = sig;
        out->ids[out->n_ids++] = rec->id;
    }
    for (size_t i = 0; i < out->n_ids; i++)
        free (kept[i]);
    free (kept);
    free (sigs);
    if (rc) {
        free (text.buf);
        free (out->ids);
        memset (out, 0, sizeof *out);
        return -1;
    }
    //  A heading alone says nothing: an empty block instead.
    if (out->n_ids == 0)
        text.len = 0, text.buf[0] = 0;
    out->text = text.buf;
    out->tokens = mem_prompt_tokens (text.len);
    return 0;
}

void
mem_prompt_clear (mem_prompt_t *prompt)
{
    free (prompt->text);
    free (prompt->ids);
    memset (prompt, 0, sizeof *prompt);
}

//  --------------------------------------------------------------------------
//  Selftest

#undef NDEBUG
#include <assert.h>

void
mem_prompt_test (bool verbose)
{
    printf (" * mem_prompt: ");
    enum { N = 40 };
    Memd__V1__Record recs[N];
    const Memd__V1__Record *ptrs[N];
    char texts[N][700];
    Memd__V1__Record__MetadataEntry speaker = MEMD__V1__RECORD__METADATA_ENTRY__INIT;
    Memd__V1__Record__MetadataEntry *meta[] = {&speaker};
    speaker.key = "speaker";
    speaker.value = "Caroline";
    for (int i = 0; i < N; i++) {
        memd__v1__record__init (&recs[i]);
        recs[i].id = 100 + i;
        recs[i].created_at_ms = 1683554160000LL + i * 60000LL;
        recs[i].session_id = i % 3 ? "s1" : "";
        //  Lengths from a few bytes to ~650; 5 repeats 4 nearly; 9 is 4 again.
        size_t len = 0;
        for (int w = 0; w < (i * 7) % 97 + 1 && len < 600; w++)
            len += (size_t) snprintf (texts[i] + len, sizeof texts[i] - len, "word%d_%d ", i, w);
        if (i == 5 || i == 9)
            snprintf (texts[i], sizeof texts[i], "%s", texts[4]);
        if (i == 5)
            texts[i][strlen (texts[i]) - 2] = 'X';   //  one word differs: near, not equal
        if (i == 7)
            snprintf (texts[i], sizeof texts[i], "line one\nline two\t\xc3\xa9t\xc3\xa9");
        recs[i].text = texts[i];
        if (i == 7) {
            recs[i].metadata = meta;
            recs[i].n_metadata = 1;
        }
        ptrs[i] = &recs[i];
    }
    //  Every budget: never over it, never a record twice, order kept.
    for (unsigned budget = 0; budget < 2500; budget += budget < 100 ? 7 : 97) {
        for (int header = 0; header < 2; header++) {
            mem_prompt_t p;
            assert (mem_prompt_build (ptrs, N, "storage \"engine\"\nx", budget, header, &p) == 0);
            assert (strlen (p.text) <= (size_t) budget * 4);
            assert (p.tokens == mem_prompt_tokens (strlen (p.text)) && p.tokens <= budget);
            for (size_t i = 0; i < p.n_ids; i++)
                for (size_t j = 0; j < i; j++)
                    assert (p.ids[i] != p.ids[j] && p.ids[j] < p.ids[i]);
            for (size_t i = 0; i < p.n_ids; i++)
                assert (p.ids[i] != 109 && p.ids[i] != 105);   //  repeats of 104
            assert (p.n_ids + p.omitted == N || p.n_ids == 0);
            //  Lines: one per record, no control characters inside.
            size_t lines = 0;
            for (const char *c = p.text; *c; c++) {
                lines += *c == '\n';
                assert ((unsigned char) *c >= 0x20 || *c == '\n');
            }
            bool heading = strncmp (p.text, "Memories", 8) == 0;
            assert (!heading || header);
            assert (lines == (p.n_ids ? p.n_ids + heading : 0));
            if (verbose && budget == 300 && header)
                printf ("\n%s", p.text);
            mem_prompt_clear (&p);
        }
    }
    //  A roomy budget holds every record but the two repeats, with the
    //  speaker, date and session, the heading quoting the query on one line.
    mem_prompt_t p;
    assert (mem_prompt_build (ptrs, N, "storage\nengine", 100000, true, &p) == 0);
    assert (p.n_ids == N - 2 && p.omitted == 2);
    assert (strncmp (p.text, "Memories relevant to \"storage engine\"", 37) == 0);
    assert (strstr (p.text, "- [#107 | 2023-05-08 14:03 UTC | session s1] Caroline: line one "
                            "line two \xc3\xa9t\xc3\xa9\n"));
    assert (strstr (p.text, "- [#100 | 2023-05-08 13:56 UTC] word0_0"));
    mem_prompt_clear (&p);
    //  A text over the line limit is cut, on a character boundary.
    char big[3000];
    memset (big, 'a', sizeof big);
    memcpy (big + MEM_PROMPT_LINE_MAX - 1, "\xc3\xa9", 2);
    big[sizeof big - 1] = 0;
    recs[0].text = big;
    assert (mem_prompt_build (ptrs, 1, "", 100000, false, &p) == 0);
    assert (strstr (p.text, "a" S_ELLIPSIS "\n") && !strstr (p.text, "\xc3" S_ELLIPSIS));
    mem_prompt_clear (&p);
    //  A budget too small for any line: an empty block.
    assert (mem_prompt_build (ptrs, N, "q", 5, true, &p) == 0);
    assert (p.n_ids == 0 && *p.text == 0 && p.tokens == 0);
    mem_prompt_clear (&p);
    printf ("OK\n");
}
