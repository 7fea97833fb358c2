/*  memd_mcp.h — what the MCP server's two files share: memd_mcp.c (stdio,
    JSON-RPC 2.0, the MCP methods) and memd_mcp_tools.c (the memory tools).

    A tool call returns an MCP CallToolResult. Failures of the tool itself
    (memd down, NOT_FOUND, a refused capture) are results with isError
    true and a message meant for the model; arguments that do not fit the
    tool's inputSchema, and unknown tools, are JSON-RPC errors -32602
    (Invalid params), as the MCP 2025-06-18 specification has it.
*/
#ifndef MEMD_MCP_H_INCLUDED
#define MEMD_MCP_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include "memd_agent.h"
#include "memd_client.h"

typedef struct {
    const char *endpoint;           //  memd's API endpoint (resolved at start)
    char agent[MEMD_AGENT_MAX + 1]; //  every tool reads and writes this agent
    const char *session;            //  session of captures that name none; NULL = none
    int timeout_ms;                 //  per memd call
    int budget_tokens;              //  memory_context's default budget
    bool verbose;                   //  one line on stderr per call
    memd_client_t *client;          //  connected on the first tool call
} mcp_server_t;

/* The tools, as the "tools" array of a tools/list result (new reference). */
json_t *mcp_tools_list (void);

/* Runs tool name with args (an object, borrowed). Returns the
   CallToolResult (new reference), or NULL with a message in err for an
   Invalid params error (unknown tool, arguments that do not fit). */
json_t *mcp_tools_call (mcp_server_t *server, const char *name, json_t *args, char *err,
                        size_t err_size);

#endif
