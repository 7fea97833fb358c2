/*  memd_transcript — agent transcripts (JSONL) into turns and records; see
    memd_transcript.h. */
#include "memd_transcript.h"
#include "memctl_json.h"
#include "memd_agent.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

char *
memd_transcript_content_text (json_t *content)
{
    if (json_is_string (content)) {
        const char *value = json_string_value (content);
        return *value ? strdup (value) : NULL;
    }
    char *text = NULL;
    size_t i;
    json_t *block;
    json_array_foreach (content, i, block) {
        const char *type = json_string_value (json_object_get (block, "type"));
        const char *part = json_string_value (json_object_get (block, "text"));
        if (!type || strcmp (type, "text") != 0 || !part || !*part)
            continue;
        char *joined = NULL;
        if (asprintf (&joined, "%s%s%s", text ? text : "", text ? "\n\n" : "", part) < 0)
            break;
        free (text);
        text = joined;
    }
    return text;
}

bool
memd_transcript_is_prompt (json_t *message)
{
    json_t *content = json_object_get (message, "content");
    if (json_is_string (content))
        return true;
    size_t i;
    json_t *block;
    json_array_foreach (content, i, block) {
        const char *type = json_string_value (json_object_get (block, "type"));
        if (type && strcmp (type, "tool_result") == 0)
            return false;
    }
    return json_array_size (content) > 0;
}

size_t
memd_transcript_cut_length (const char *text, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t cut = max;
    size_t floor = max > 4096 ? max - 4096 : 0;
    for (size_t at = cut; at > floor; at--)
        if (text[at] == ' ' || text[at] == '\n' || text[at] == '\t') {
            cut = at;
            break;
        }
    while (cut > 0 && ((unsigned char) text[cut] & 0xc0) == 0x80)
        cut--;
    return cut;
}

//  n decimal digits at p, or -1.
static int
s_digits (const char *p, int n)
{
    int value = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit ((unsigned char) p[i]))
            return -1;
        value = value * 10 + (p[i] - '0');
    }
    return value;
}

int64_t
memd_transcript_time_ms (const char *text)
{
    //  YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)
    if (!text || strlen (text) < 20 || text[4] != '-' || text[7] != '-'
        || (text[10] != 'T' && text[10] != 't' && text[10] != ' ') || text[13] != ':'
        || text[16] != ':')
        return 0;
    int year = s_digits (text, 4), month = s_digits (text + 5, 2), day = s_digits (text + 8, 2);
    int hour = s_digits (text + 11, 2), minute = s_digits (text + 14, 2);
    int second = s_digits (text + 17, 2);
    if (year < 1970 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23
        || minute < 0 || minute > 59 || second < 0 || second > 60)
        return 0;
    const char *p = text + 19;
    int ms = 0;
    if (*p == '.') {
        int digits = 0;
        for (p++; isdigit ((unsigned char) *p); p++, digits++)
            if (digits < 3)
                ms = ms * 10 + (*p - '0');
        if (digits == 0)
            return 0;
        for (; digits < 3; digits++)
            ms *= 10;
    }
    int64_t offset_s = 0;
    if (*p == 'Z' || *p == 'z')
        p++;
    else if ((*p == '+' || *p == '-') && p[3] == ':') {
        int oh = s_digits (p + 1, 2), om = s_digits (p + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return 0;
        offset_s = (int64_t) (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
        p += 6;
    }
    else
        return 0;
    if (*p)
        return 0;
    struct tm tm;
    memset (&tm, 0, sizeof tm);
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    int64_t seconds = (int64_t) timegm (&tm) - offset_s;
    return seconds > 0 ? seconds * 1000 + ms : 0;
}

//  Texts Claude Code writes as user turns that nobody typed: slash
//  commands and their output, interruption markers.
static bool
s_is_noise (const char *text)
{
    static const char *prefixes[] = {"<command-", "<local-command-", "[Request interrupted"};
    while (*text == ' ' || *text == '\n' || *text == '\t' || *text == '\r')
        text++;
    if (!*text)
        return true;
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp (text, prefixes[i], strlen (prefixes[i])) == 0)
            return true;
    return false;
}

const char *
memd_transcript_cwd (json_t *entry)
{
    const char *cwd = json_string_value (json_object_get (entry, "cwd"));
    return cwd && *cwd == '/' ? cwd : NULL;
}

int
memd_transcript_turn (json_t *entry, memd_transcript_turn_t *turn)
{
    memset (turn, 0, sizeof *turn);
    const char *type = json_string_value (json_object_get (entry, "type"));
    if (!type)
        return 0;
    turn->session = json_string_value (json_object_get (entry, "sessionId"));
    turn->cwd = memd_transcript_cwd (entry);
    turn->uuid = json_string_value (json_object_get (entry, "uuid"));
    turn->created_at_ms
        = memd_transcript_time_ms (json_string_value (json_object_get (entry, "timestamp")));
    turn->sidechain = json_is_true (json_object_get (entry, "isSidechain"));
    turn->kind = MEMD__V1__KIND__EPISODIC;
    if (strcmp (type, "summary") == 0) {
        const char *summary = json_string_value (json_object_get (entry, "summary"));
        if (!summary || s_is_noise (summary) || !(turn->text = strdup (summary)))
            return 0;
        turn->role = "summary";
        turn->kind = MEMD__V1__KIND__SUMMARY;
        return 1;
    }
    bool user = strcmp (type, "user") == 0;
    if ((!user && strcmp (type, "assistant") != 0)
        || json_is_true (json_object_get (entry, "isMeta")))
        return 0;
    json_t *message = json_object_get (entry, "message");
    if (user && !memd_transcript_is_prompt (message))
        return 0;   //  tool results
    char *text = memd_transcript_content_text (json_object_get (message, "content"));
    if (!text || s_is_noise (text)) {
        free (text);
        return 0;
    }
    turn->text = text;
    turn->role = user ? "user" : "assistant";
    if (json_is_true (json_object_get (entry, "isCompactSummary")))
        turn->kind = MEMD__V1__KIND__SUMMARY;
    return 1;
}

//  Whether record has a metadata key.
static bool
s_has_metadata (const Memd__V1__Record *record, const char *key)
{
    for (size_t i = 0; i < record->n_metadata; i++)
        if (strcmp (record->metadata[i]->key, key) == 0)
            return true;
    return false;
}

//  Cuts record's text to max bytes (metadata truncated=true). 0 or -1.
static int
s_cut_text (Memd__V1__Record *record, size_t max)
{
    size_t len = strlen (record->text);
    size_t keep = memd_transcript_cut_length (record->text, len, max);
    if (keep == len)
        return 0;
    record->text[keep] = 0;
    return memctl_record_add_metadata (record, "truncated", "true");
}

//  A line in `memctl capture -` form ("text" and friends).
static int
s_generic_record (json_t *entry, const memd_transcript_file_t *file, Memd__V1__Record **out,
                  char *err, size_t err_size)
{
    memctl_defaults_t defaults = {.agent = file->agent, .session = file->session};
    Memd__V1__Record *record = memctl_record_from_object (entry, &defaults, err, err_size);
    if (!record)
        return -1;
    const char *role = json_string_value (json_object_get (entry, "role"));
    if (!role)
        role = json_string_value (json_object_get (entry, "speaker"));
    int rc = 0;
    if (role && *role && !s_has_metadata (record, "role"))
        rc = memctl_record_add_metadata (record, "role", role);
    if (!rc && !s_has_metadata (record, "source"))
        rc = memctl_record_add_metadata (record, "source", "transcript");
    if (!rc)
        rc = s_cut_text (record, file->max_text);
    if (rc) {
        memctl_errorf (err, err_size, "out of memory");
        memctl_record_destroy (&record);
        return -1;
    }
    *out = record;
    return 1;
}

int
memd_transcript_record (json_t *entry, const memd_transcript_file_t *file,
                        Memd__V1__Record **out, char *err, size_t err_size)
{
    *out = NULL;
    if (!json_is_object (entry)) {
        memctl_errorf (err, err_size, "not a JSON object");
        return -1;
    }
    if (json_object_get (entry, "text"))
        return s_generic_record (entry, file, out, err, err_size);
    memd_transcript_turn_t turn;
    if (!memd_transcript_turn (entry, &turn))
        return 0;
    char session[MEMD_AGENT_MAX + 1] = "";
    if (turn.session && *turn.session)
        memd_agent_clean (turn.session, strlen (turn.session), session, sizeof session);
    const char *keys[5] = {"role", "source"}, *values[5] = {turn.role, "transcript"};
    size_t n = 2;
    if (turn.uuid && *turn.uuid && strlen (turn.uuid) <= 128) {
        keys[n] = "uuid";
        values[n++] = turn.uuid;
    }
    if (turn.sidechain) {
        keys[n] = "sidechain";
        values[n++] = "true";
    }
    memctl_defaults_t defaults = {.agent = file->agent,
                                  .session = turn.session && *session ? session : file->session,
                                  .kind = turn.kind,
                                  .meta_keys = keys,
                                  .meta_values = values,
                                  .n_meta = n,
                                  .created_at_ms = turn.created_at_ms};
    Memd__V1__Record *record = memctl_record_new (&defaults, turn.text);
    free (turn.text);
    if (!record || s_cut_text (record, file->max_text)) {
        memctl_record_destroy (&record);
        memctl_errorf (err, err_size, "out of memory");
        return -1;
    }
    *out = record;
    return 1;
}

//  --------------------------------------------------------------------------
//  Selftest

#undef NDEBUG
#include <assert.h>
#define streq(a, b) (strcmp ((a), (b)) == 0)

//  The metadata value of key, or NULL.
static const char *
s_meta (const Memd__V1__Record *record, const char *key)
{
    for (size_t i = 0; i < record->n_metadata; i++)
        if (strcmp (record->metadata[i]->key, key) == 0)
            return record->metadata[i]->value;
    return NULL;
}

//  The record of one line (asserting the outcome), or NULL.
static Memd__V1__Record *
s_line (const char *line, int expect, const memd_transcript_file_t *file)
{
    json_t *entry = json_loads (line, 0, NULL);
    char err[256];
    Memd__V1__Record *record = NULL;
    int rc = memd_transcript_record (entry, file, &record, err, sizeof err);
    json_decref (entry);
    assert (rc == expect);
    assert ((rc == 1) == (record != NULL));
    return record;
}

void
memd_transcript_test (bool verbose)
{
    printf (" * memd_transcript: ");
    //  Times.
    assert (memd_transcript_time_ms ("1970-01-01T00:00:01Z") == 1000);
    assert (memd_transcript_time_ms ("2025-06-26T10:11:12.345Z") == 1750932672345LL);
    assert (memd_transcript_time_ms ("2025-06-26T12:11:12.3+02:00") == 1750932672300LL);
    assert (memd_transcript_time_ms ("2025-06-26T10:11:12") == 0);          //  no zone
    assert (memd_transcript_time_ms ("2025-13-26T10:11:12Z") == 0);
    assert (memd_transcript_time_ms ("2025-06-26T10:11:12.Z") == 0);
    assert (memd_transcript_time_ms ("yesterday") == 0);
    assert (memd_transcript_time_ms (NULL) == 0);

    //  Cutting: at a space, never inside a character.
    assert (memd_transcript_cut_length ("short", 5, 10) == 5);
    assert (memd_transcript_cut_length ("hello world", 11, 8) == 5);
    const char *accents = "\xc3\xa9\xc3\xa9\xc3\xa9";   //  ééé, no space
    assert (memd_transcript_cut_length (accents, 6, 3) == 2);

    memd_transcript_file_t file = {.agent = "shop", .session = "file-stem", .max_text = 64};
    //  A prompt.
    Memd__V1__Record *r = s_line (
        "{\"type\":\"user\",\"sessionId\":\"s-1\",\"cwd\":\"/src/shop\",\"uuid\":\"u1\","
        "\"timestamp\":\"2025-06-26T10:11:12.345Z\",\"message\":{\"role\":\"user\","
        "\"content\":\"make the webhook retry configurable\"}}",
        1, &file);
    assert (streq (r->text, "make the webhook retry configurable"));
    assert (streq (r->agent_id, "shop") && streq (r->session_id, "s-1"));
    assert (r->kind == MEMD__V1__KIND__EPISODIC && r->created_at_ms == 1750932672345LL);
    assert (streq (s_meta (r, "role"), "user") && streq (s_meta (r, "source"), "transcript"));
    assert (streq (s_meta (r, "uuid"), "u1") && !s_meta (r, "sidechain"));
    memctl_record_destroy (&r);
    //  An assistant block, from a subagent.
    r = s_line ("{\"type\":\"assistant\",\"isSidechain\":true,\"message\":{\"id\":\"m1\","
                "\"content\":[{\"type\":\"thinking\",\"thinking\":\"hmm\"},"
                "{\"type\":\"text\",\"text\":\"Done.\"},"
                "{\"type\":\"text\",\"text\":\"Twice.\"}]}}",
                1, &file);
    assert (streq (r->text, "Done.\n\nTwice.") && streq (r->session_id, "file-stem"));
    assert (streq (s_meta (r, "role"), "assistant") && streq (s_meta (r, "sidechain"), "true"));
    memctl_record_destroy (&r);
    //  Summaries.
    r = s_line ("{\"type\":\"summary\",\"summary\":\"Webhook retries\",\"leafUuid\":\"x\"}", 1,
                &file);
    assert (r->kind == MEMD__V1__KIND__SUMMARY && streq (s_meta (r, "role"), "summary"));
    memctl_record_destroy (&r);
    //  Lines without conversation text.
    s_line ("{\"type\":\"user\",\"message\":{\"content\":[{\"type\":\"tool_result\","
            "\"content\":\"42\"}]}}",
            0, &file);
    s_line ("{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"tool_use\","
            "\"name\":\"Bash\"}]}}",
            0, &file);
    s_line ("{\"type\":\"user\",\"isMeta\":true,\"message\":{\"content\":\"Caveat: ...\"}}", 0,
            &file);
    s_line ("{\"type\":\"user\",\"message\":"
            "{\"content\":\"<command-name>/clear</command-name>\"}}",
            0, &file);
    s_line ("{\"type\":\"user\",\"message\":{\"content\":\"  \"}}", 0, &file);
    s_line ("{\"type\":\"file-history-snapshot\",\"snapshot\":{}}", 0, &file);
    s_line ("{\"no\":\"type\"}", 0, &file);
    s_line ("[1, 2]", -1, &file);
    //  A long text is cut at a space, and says so.
    r = s_line ("{\"type\":\"user\",\"message\":{\"content\":\"aaaa bbbb cccc dddd eeee ffff gggg "
                "hhhh iiii jjjj kkkk llll mmmm nnnn oooo pppp\"}}",
                1, &file);
    assert (strlen (r->text) <= 64 && r->text[strlen (r->text) - 1] != ' ');
    assert (streq (s_meta (r, "truncated"), "true"));
    memctl_record_destroy (&r);
    //  A memctl-style line: its own fields, a role, the file's defaults.
    r = s_line ("{\"text\":\"Deploys go out on Tuesdays\",\"kind\":\"fact\",\"speaker\":\"ops\","
                "\"tags\":[\"deploy\"]}",
                1, &file);
    assert (r->kind == MEMD__V1__KIND__FACT && streq (r->agent_id, "shop"));
    assert (streq (r->session_id, "file-stem") && r->n_tags == 1);
    assert (streq (s_meta (r, "role"), "ops") && streq (s_meta (r, "source"), "transcript"));
    memctl_record_destroy (&r);
    r = s_line ("{\"text\":\"elsewhere\",\"agent\":\"bob\",\"metadata\":{\"source\":\"wiki\"}}", 1,
                &file);
    assert (streq (r->agent_id, "bob") && streq (s_meta (r, "source"), "wiki"));
    memctl_record_destroy (&r);
    s_line ("{\"text\":\"\"}", -1, &file);
    s_line ("{\"text\":\"x\",\"kind\":\"opinion\"}", -1, &file);
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
