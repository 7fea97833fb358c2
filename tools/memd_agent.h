/*  memd_agent — what the agent integrations (memd-mcp, `memctl hook`)
    share: which agent id a project gets, and whether memd is there at all.

    One project, one agent id, whoever asks: the Claude Code hooks and the
    MCP server of the same project must read and write the same memory, so
    both derive the id here, in this order:

        1. an explicit --agent flag
        2. $MEMD_AGENT
        3. the project directory: $CLAUDE_PROJECT_DIR (Claude Code sets it
           for hooks and the servers it starts), else the directory the
           caller names (a hook's "cwd"), else the working directory —
           taken up to the root of its git work tree (the nearest directory
           holding .git), and named by its last path component.

    So /home/ann/src/shop and /home/ann/src/shop/api both give "shop".
    Different projects with the same directory name share an agent: set
    MEMD_AGENT to tell them apart. An id is at most 256 bytes of UTF-8;
    other bytes and control characters become '_'; "/" gives "default".
*/
#ifndef MEMD_AGENT_H_INCLUDED
#define MEMD_AGENT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MEMD_AGENT_MAX 256   /* bytes of an agent id (memd's limit) */

/* name[0..len) made fit for an id: cut on a character boundary at
   MEMD_AGENT_MAX bytes (or size - 1), invalid UTF-8 and control
   characters as '_'. May be empty. */
void memd_agent_clean (const char *name, size_t len, char *out, size_t size);

/* The agent id of a project directory (step 3 above, dir given). */
void memd_agent_for_dir (const char *dir, char *out, size_t size);

/* The agent id by the rules above. flag and dir may be NULL. */
void memd_agent_resolve (const char *flag, const char *dir, char *out, size_t size);

/* True when endpoint is an ipc:// endpoint whose socket file does not
   exist: no memd listens there, so callers can say so at once instead of
   waiting out a timeout. False for anything else (which may still be down). */
bool memd_endpoint_absent (const char *endpoint);

/* ---- Recent captures -------------------------------------------------------
   SessionStart wants a project's latest memories, without a query; memd's
   Recall needs one and memd cannot list an agent's newest records yet. So
   the integrations keep the ids they capture, the last MEMD_RECENT_KEEP
   per agent and memd endpoint, in $XDG_STATE_HOME/memd/hooks/ (default
   ~/.local/state/memd/hooks/, created 0700): ids only, never text. */
#define MEMD_RECENT_KEEP 64

/* Remembers a captured id. 0, or -1 with errno (the caller goes on: it
   only costs session-start this id). */
int memd_recent_add (const char *endpoint, const char *agent, uint64_t id);

/* The last `max` distinct ids remembered, newest (largest) first. */
size_t memd_recent_read (const char *endpoint, const char *agent, uint64_t *ids, size_t max);

#endif
