/*  memd_transcript — reading agent transcripts (JSONL), shared by the
    Claude Code stop hook (memctl_hook.c: the last assistant message) and
    memd's transcript watching (actors/mem_watch.c: every turn).

    A Claude Code transcript line is one JSON object. The fields used:
    "type" (user, assistant, summary; the other types carry no
    conversation), "message" {"role", "id", "content": a string, or an
    array of blocks (text, tool_use, tool_result, thinking, image)},
    "sessionId", "cwd", "timestamp" (ISO 8601), "uuid", "isSidechain" (a
    subagent's turn), "isMeta" (text Claude Code injected itself),
    "isCompactSummary" (the summary that continues a compacted session)
    and, on summary lines, "summary".

    Any other JSONL line with a "text" string is read as `memctl capture -`
    reads it (memctl_json.h: "agent", "session", "kind", "tags", "ts_ms",
    "metadata"), plus "role" or "speaker".
*/
#ifndef MEMD_TRANSCRIPT_H_INCLUDED
#define MEMD_TRANSCRIPT_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "memd.pb-c.h"

/* The text blocks of a message's content joined by blank lines (a string
   content as it is); NULL when there is none. The caller frees it. */
char *memd_transcript_content_text (json_t *content);

/* True for a user entry's message that is a prompt (not tool results). */
bool memd_transcript_is_prompt (json_t *message);

/* How much of text (len bytes) to keep so that at most max bytes remain:
   cut at a space or line break near the limit when there is one, so that
   no word (a secret above all: a secret cut short could escape its
   pattern) is split, and never inside a UTF-8 character. */
size_t memd_transcript_cut_length (const char *text, size_t len, size_t max);

/* Milliseconds since the epoch of an ISO 8601 time with a zone
   ("2025-06-26T10:11:12.345Z", "…+02:00"); 0 if text is not one. */
int64_t memd_transcript_time_ms (const char *text);

/* One conversation turn of a Claude Code transcript line. */
typedef struct {
    const char *role;        /* "user", "assistant" or "summary" */
    char *text;              /* malloc'd; the caller frees it */
    Memd__V1__Kind kind;     /* EPISODIC, or SUMMARY (summary lines, compact summaries) */
    const char *session;     /* "sessionId", or NULL (borrowed from the entry) */
    const char *cwd;         /* "cwd", or NULL (borrowed) */
    const char *uuid;        /* "uuid", or NULL (borrowed) */
    int64_t created_at_ms;   /* 0 when the line has no timestamp */
    bool sidechain;
} memd_transcript_turn_t;

/* The turn a Claude Code line holds: 1 (turn filled), or 0 for a line
   without conversation text (tool calls and results, thinking, injected
   and slash-command lines, snapshots, unknown types). */
int memd_transcript_turn (json_t *entry, memd_transcript_turn_t *turn);

/* The project directory a line names ("cwd"), or NULL (borrowed). */
const char *memd_transcript_cwd (json_t *entry);

/* What a watched file gives the records of its lines. */
typedef struct {
    const char *agent;       /* the file's project */
    const char *session;     /* for lines that name none (the file's stem) */
    size_t max_text;         /* longer texts are cut (metadata truncated=true) */
} memd_transcript_file_t;

/* The record of one transcript line (an object), built with
   memctl_record_new (free it with memctl_record_destroy): metadata role,
   source=transcript, uuid, sidechain=true, truncated=true as they apply.
   Returns 1 (*out set), 0 (the line holds no text to keep), or -1 with a
   message in err (a line that is neither a transcript entry nor a usable
   record, or out of memory). */
int memd_transcript_record (json_t *entry, const memd_transcript_file_t *file,
                            Memd__V1__Record **out, char *err, size_t err_size);

void memd_transcript_test (bool verbose);

#endif
