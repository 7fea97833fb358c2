/*  memctl.h — what memctl's command files share.

    memctl.c holds main and the command table; each command group lives in
    a file of its own (memctl_records.c, memctl_jobs.c, …) and defines, for
    each of its commands NAME, a function memctl_cmd_NAME (a command_fn) and
    its help text memctl_NAME_usage. The helpers below (memctl_common.c) are
    what keeps the commands alike: the same options, errors and exit codes.

    A new command group is a new file, its commands' lines in COMMANDS and
    in s_global_usage (memctl.c), and the file in the memctl sources of
    CMakeLists.txt; nothing else needs to change.

    A command parses its own arguments with getopt_long (COMMON_SHORT and
    COMMON_LONG first, other letters after them), hands every option it does
    not know to memctl_common_option, and returns an exit code. Helpers that
    may stop a command return -1 to go on, or the exit code to return.
*/
#ifndef MEMCTL_H_INCLUDED
#define MEMCTL_H_INCLUDED

#include "memd_client.h"
#include "memctl_json.h"

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EXIT_REFUSED       1
#define EXIT_USAGE         2
#define EXIT_UNAVAILABLE   3
#define EXIT_INTERRUPTED   130

#define DEFAULT_TIMEOUT_MS 5000
#define DEFAULT_BATCH      500
#define MAX_BATCH          10000                  //  memd's max_batch
#define MAX_BATCH_BYTES    (8u << 20)             //  half of memd's max_message_bytes
#define MAX_LINE_BYTES     (32u << 20)
#define IDLE_FLUSH_MS      20     //  send a partial batch when input pauses this long
#define TTY_TEXT_CHARS     160    //  recall text width on a terminal

//  Options every command accepts, before or after its name.
#define COMMON_SHORT ":e:jt:h"
#define COMMON_LONG                                                                      \
    {"endpoint", required_argument, NULL, 'e'}, {"json", no_argument, NULL, 'j'},        \
        {"timeout", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'}

typedef struct {
    const char *command;        //  running command, for messages
    const char *usage;          //  its help text
    const char *endpoint;       //  NULL = memd_default_endpoint
    bool json;
    int timeout_ms;
    memd_client_t *client;
} ctx_t;

//  A command: argv[0] is its name; getopt starts over (optind is 0).
//  Returns the exit code.
typedef int (command_fn) (ctx_t *ctx, int argc, char **argv);

//  --------------------------------------------------------------------------
//  Reporting

//  "NOT_FOUND" for a status code, from the generated enum descriptor.
const char *memctl_code_name (int code);

//  Prints an error the way the output mode wants it; returns the exit code.
int memctl_fail (ctx_t *ctx, int code, const char *message);

//  The client's last error.
int memctl_fail_client (ctx_t *ctx);

//  Exit code for the client's last error, for commands that print their own
//  JSON document with an "error" member.
int memctl_exit_code (int code);

//  A usage error: a message and a hint on stderr (and, with --json, the
//  error document on stdout). Returns EXIT_USAGE.
int memctl_usage_error (ctx_t *ctx, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

//  getopt's complaint, in our words (opterr is off).
int memctl_getopt_error (ctx_t *ctx, int c, char **argv);

//  --------------------------------------------------------------------------
//  Parsing

//  Strict decimal unsigned: digits only, no sign, no spaces, no overflow.
//  0 or -1.
int memctl_parse_u64 (const char *text, uint64_t *value);

//  A milliseconds value for a signed 64-bit field. 0 or -1.
int memctl_parse_ms (const char *text, int64_t *value);

//  A record id as printed by memctl ("12" or "#12"); ids start at 1. 0 or -1.
int memctl_parse_id (const char *text, uint64_t *id);

//  Handles the options every command takes. Returns -1 to go on parsing,
//  or an exit code (0 after --help).
int memctl_common_option (ctx_t *ctx, int c, char **argv);

//  A --kind value. Returns -1, or an exit code.
int memctl_parse_kind (ctx_t *ctx, const char *name, Memd__V1__Kind *kind);

//  Joins argv[0..argc) with spaces; NULL if out of memory. Caller frees.
char *memctl_join (int argc, char **argv);

//  Parses the ids of get and forget. Returns -1, or an exit code.
int memctl_parse_ids (ctx_t *ctx, int argc, char **argv, uint64_t *ids);

//  Connects the client; returns -1, or an exit code.
int memctl_connect (ctx_t *ctx);

//  The start of a command that takes only the common options: parses them,
//  refuses arguments, connects. Returns -1 to go on, or an exit code.
int memctl_start_plain (ctx_t *ctx, int argc, char **argv);

//  --------------------------------------------------------------------------
//  The options recall and context share: filters and ranking
//  (memctl_context.c). -s/--session needs "s:" in the command's short options.

#define MEMCTL_OPT_EMBEDDING 400
#define MEMCTL_OPT_WEIGHTS   401
#define MEMCTL_OPT_FUSION    402
#define MEMCTL_OPT_NO_STATS  403
#define MEMCTL_OPT_KIND      404
#define MEMCTL_OPT_TAG       405
#define MEMCTL_OPT_SINCE     406
#define MEMCTL_OPT_UNTIL     407
#define MEMCTL_OPT_GRAPH     408
#define MEMCTL_OPT_NO_GRAPH  409
#define MEMCTL_OPT_DIVERSIFY 410
#define MEMCTL_RECALL_LONG                                                               \
    {"session", required_argument, NULL, 's'},                                           \
        {"kind", required_argument, NULL, MEMCTL_OPT_KIND},                              \
        {"tag", required_argument, NULL, MEMCTL_OPT_TAG},                                \
        {"since", required_argument, NULL, MEMCTL_OPT_SINCE},                            \
        {"until", required_argument, NULL, MEMCTL_OPT_UNTIL},                            \
        {"embedding", required_argument, NULL, MEMCTL_OPT_EMBEDDING},                    \
        {"weights", required_argument, NULL, MEMCTL_OPT_WEIGHTS},                        \
        {"fusion", required_argument, NULL, MEMCTL_OPT_FUSION},                          \
        {"no-stats", no_argument, NULL, MEMCTL_OPT_NO_STATS},                            \
        {"graph", no_argument, NULL, MEMCTL_OPT_GRAPH},                                  \
        {"no-graph", no_argument, NULL, MEMCTL_OPT_NO_GRAPH},                            \
        {"diversify", no_argument, NULL, MEMCTL_OPT_DIVERSIFY}
#define MEMCTL_RANKING_HELP                                                              \
    "      --embedding JSON query embedding, a JSON array of floats (the agent's\n"      \
    "                       dimension): adds the vector signal\n"                       \
    "      --weights W      signal weights, e.g. lexical=1,vector=0.5,recency=0,\n"      \
    "                       salience=0.1 (default lexical=1,vector=1,recency=0.1,\n"     \
    "                       salience=0.1,graph=1)\n"                                     \
    "      --fusion F       rrf (reciprocal rank fusion, the default) or weighted\n"     \
    "      --no-stats       do not count this as a recall in the records' statistics\n"    \
    "      --graph          also one hop along the memory graph (neighbours of the top\n"  \
    "                       hits, a mild boost for central records; docs/graph.md);\n"    \
    "                       memd's default (setting recall/graph) when neither is given\n" \
    "      --no-graph       without the graph signal\n"                                  \
    "      --diversify      with the graph: spread the hits over communities\n"

//  Handles a filter or ranking option c for query (query->tags must have
//  room for every tag; weights is where --weights goes). Returns -1 to go
//  on, -2 when c is none of them, or an exit code.
int memctl_recall_option (ctx_t *ctx, int c, Memd__V1__Recall *query,
                          Memd__V1__RankWeights *weights);

//  A JSON array of finite floats into query->query_embedding (malloc'ed;
//  the caller frees it). Returns -1, or an exit code.
int memctl_parse_embedding (ctx_t *ctx, const char *text, Memd__V1__Recall *query);

//  "lexical=1,vector=0.5": returns -1, or an exit code.
int memctl_parse_weights (ctx_t *ctx, const char *text, Memd__V1__RankWeights *weights);

//  "rrf" or "weighted": returns -1, or an exit code.
int memctl_parse_fusion (ctx_t *ctx, const char *text, Memd__V1__Fusion *fusion);

//  --------------------------------------------------------------------------
//  Human output

//  Local date and time of ms since the epoch; "-" for 0.
void memctl_format_time (int64_t ms, char *buf, size_t size);

//  "250 ms", "1.5s", "3m 07s", "2h 05m", "4d 03h".
void memctl_format_duration (int64_t ms, char *buf, size_t size);

//  "512 B", "1.5 MiB", …
void memctl_format_bytes (uint64_t bytes, char *buf, size_t size);

//  A latency: "850 µs", "1.25 ms", "2.40 s"; "-" for 0 (memctl_top.c).
void memctl_format_latency (uint64_t us, char *buf, size_t size);

//  Prints text on one line: control characters become spaces, and with
//  max_chars > 0 it is cut (on a character boundary) to that many characters.
void memctl_print_one_line (const char *text, size_t max_chars);

//  Prints text with every line after the first indented.
void memctl_print_indented (const char *text, const char *indent);

//  The block `memctl get` prints for one record.
void memctl_print_record (const Memd__V1__Record *r);

//  The one-line summary of the job queue (status and jobs stats).
void memctl_print_job_totals (const Memd__V1__JobStatsResult *j, const char *prefix);

#endif
