/*  mem_config — settings table, ZPL loading and validation; see mem_config.h. */
#include <czmq.h>
#include "mem_config.h"
#include "memd_client.h"
#include "mem_codec.h"
#include <errno.h>

typedef enum { S_STRING, S_INT, S_ENUM, S_LIMITS, S_UIDS } s_type_t;

typedef struct {
    const char *key;
    s_type_t type;
    const char *fallback;    //  default; "" for derived defaults
    int64_t min, max;        //  S_INT bounds
    const char *choices;     //  S_ENUM: "a|b|c"
    const char *help;
} s_setting_t;

static const s_setting_t s_settings[] = {
    {"store/data_dir", S_STRING, "", 0, 0, NULL,
     "data directory (LMDB store, lock file); default $XDG_DATA_HOME/memd or "
     "~/.local/share/memd; env MEMD_DATA_DIR; flag --data-dir"},
    {"store/map_size_mb", S_INT, "1024", 1, 1 << 24, NULL,
     "initial LMDB map size in MiB; the map doubles when full"},
    {"store/sync", S_ENUM, "full", 0, 0, "full|batch|none",
     "full: every acked write is fsynced; batch: data synced, meta not (a crash may "
     "roll back the last writes); none: the OS decides (fast, not durable)"},
    {"api/run_dir", S_STRING, "", 0, 0, NULL,
     "run directory for sockets, created 0700; default $XDG_RUNTIME_DIR/memd or "
     "/tmp/memd-$UID; env MEMD_RUN_DIR; flag --run-dir"},
    {"api/endpoint", S_STRING, "", 0, 0, NULL,
     "API endpoint; default ipc://RUN_DIR/memd.sock; env MEMD_ENDPOINT; flag --endpoint"},
    {"api/events_endpoint", S_STRING, "", 0, 0, NULL,
     "events endpoint (PUB: topics state, captured, forgotten, job); default: the API endpoint "
     "with .sock replaced by -events.sock (ipc only); \"none\" = no events"},
    {"api/max_message_bytes", S_INT, "16777216", 1024, 1 << 30, NULL,
     "largest request accepted, in bytes"},
    {"api/allow_uids", S_UIDS, "none", 0, 0, NULL,
     "other users (numeric uids, \"1001,1002\") whose ipc connections are accepted besides "
     "memd's own uid; they also need access to the run directory and socket (an ACL)"},
    {"api/ipc_uid_filter", S_INT, "1", 0, 1, NULL,
     "1 = also refuse other uids in libzmq's accept path (ZMQ_IPC_FILTER_UID) before the ZAP "
     "handler sees them; 0 = the ZAP handler alone (it logs the refused uid and pid)"},
    {"api/allow_tcp", S_INT, "0", 0, 1, NULL,
     "1 = accept a tcp:// API or events endpoint; tcp peers are NOT authenticated (anyone who "
     "can reach the port has the whole store); 0 = refuse to start with one"},
    {"capture/max_batch", S_INT, "10000", 1, 1000000, NULL,
     "most records in one Capture request"},
    {"capture/max_text_bytes", S_INT, "1048576", 16, 1 << 26, NULL,
     "largest text of one record, in bytes"},
    {"capture/queue", S_INT, "10000", 1, 1000000, NULL,
     "capture requests queued for the writer before new ones get RESOURCE_EXHAUSTED"},
    {"recall/workers", S_INT, "0", 0, 256, NULL,
     "recall worker threads; 0 = one per core"},
    {"recall/graph", S_ENUM, "on", 0, 0, "on|off",
     "on: a Recall that does not say follows the memory graph one hop from its top hits "
     "(docs/graph.md; it helps on LoCoMo); off: lexical ranking alone"},
    {"recall/queue", S_INT, "10000", 1, 1000000, NULL,
     "recall requests waiting for a free worker before new ones get RESOURCE_EXHAUSTED"},
    {"jobs/lease_ms", S_INT, "30000", 1, 86400000, NULL,
     "lease time of a job when the Lease or Extend request does not say; a worker that "
     "neither completes nor extends in time loses the job (a failed attempt)"},
    {"jobs/max_attempts", S_INT, "5", 1, 1000, NULL,
     "attempts of a job (leases) before it becomes a dead letter, when Enqueue does not say"},
    {"jobs/backoff_ms", S_INT, "1000", 1, 86400000, NULL,
     "delay before the first retry of a failed job; doubles per attempt, with jitter "
     "(a random delay between half and all of it)"},
    {"jobs/backoff_max_ms", S_INT, "300000", 1, 86400000, NULL,
     "longest delay between retries"},
    {"jobs/limits", S_LIMITS, "none", 0, 0, NULL,
     "per-kind concurrency: most jobs of a kind leased at once, as \"kind=N,kind=N\" "
     "(e.g. \"llm=1,embed=4\"); kinds not listed have no limit"},
    {"jobs/history", S_INT, "1000", 0, 100000000, NULL,
     "done jobs kept per kind (without their payload) for listing; the oldest go first"},
    {"jobs/max_payload_bytes", S_INT, "1048576", 0, 1 << 24, NULL,
     "largest job payload accepted, in bytes"},
    {"jobs/queue", S_INT, "10000", 1, 1000000, NULL,
     "job requests queued for the reaper before new ones get RESOURCE_EXHAUSTED"},
    {"jobs/max_waiting", S_INT, "10000", 1, 1000000, NULL,
     "Lease requests parked at once (long-poll) before new ones get RESOURCE_EXHAUSTED"},
    {"lifecycle/drowsy_after_ms", S_INT, "60000", 1, 86400000LL * 365, NULL,
     "WAKE → DROWSY after this long without data-plane requests or work in flight "
     "(status probes, pings and idle connections never count)"},
    {"lifecycle/sleep_after_ms", S_INT, "240000", 1, 86400000LL * 365, NULL,
     "DROWSY → SLEEP (consolidation) after this long in DROWSY"},
    {"lifecycle/step_budget_ms", S_INT, "20", 1, 10000, NULL,
     "a consolidation step stops after about this long (one write transaction each; a "
     "capture waits at most one step)"},
    {"lifecycle/duplicate_percent", S_INT, "80", 1, 100, NULL,
     "records of an agent whose word 3-gram Jaccard similarity is at least this percent are "
     "near-duplicates: the newer is tombstoned, merged into the older"},
    {"lifecycle/digest_after_ms", S_INT, "300000", 0, 86400000LL * 365, NULL,
     "a session whose newest record is older than this gets an extractive digest "
     "(a SUMMARY record) in the next sleep cycle"},
    {"lifecycle/digest_min_records", S_INT, "3", 1, 1000000, NULL,
     "sessions with fewer live records get no digest"},
    {"lifecycle/summarize_jobs", S_INT, "0", 0, 1, NULL,
     "1 = with each digest, enqueue a `summarize` job (payload: JSON with agent_id, "
     "session_id, digest_id, record_ids) for an external LLM worker"},
    {"lifecycle/decay_half_life_ms", S_INT, "2592000000", 0, 86400000LL * 3650, NULL,
     "salience of a record not recalled halves over this long (0 = no decay)"},
    {"lifecycle/decay_floor_percent", S_INT, "5", 0, 100, NULL,
     "salience never decays below this percent"},
    {"lifecycle/decay_interval_ms", S_INT, "21600000", 0, 86400000LL * 365, NULL,
     "a decay pass over the records runs at most this often"},
    {"lifecycle/co_recall_half_life_ms", S_INT, "2592000000", 0, 86400000LL * 3650, NULL,
     "a CO_RECALL edge's count (times recalled together) halves for each whole half-life "
     "since the pair was last recalled together, in the decay pass (0 = no decay)"},
    {"lifecycle/co_recall_floor_percent", S_INT, "10", 0, 100, NULL,
     "a CO_RECALL edge whose weight (count n as n / (n + 1)) falls below this percent is "
     "removed in the decay pass"},
    {"lifecycle/retention_ms", S_INT, "604800000", 0, 86400000LL * 3650, NULL,
     "forgotten (tombstoned) records are purged for good after this long"},
    {"graph/lexical_k", S_INT, "5", 0, 64, NULL,
     "LEXICAL edges from each new record to its most similar older records, at most "
     "(0 = none)"},
    {"graph/lexical_min_percent", S_INT, "20", 1, 100, NULL,
     "a LEXICAL edge needs a similarity of at least this percent (BM25 over the new "
     "record's salient terms, relative to its score against itself)"},
    {"graph/lexical_terms", S_INT, "12", 1, 64, NULL,
     "salient terms (the rarest) of a new record that make its similarity query"},
    {"graph/rebuild_percent", S_INT, "20", 0, 100000, NULL,
     "in WAKE, an agent's communities and PageRank are rebuilt once records and edges "
     "added or removed since the last build reach this percent of its graph …"},
    {"graph/rebuild_min_changes", S_INT, "100", 1, 1000000000, NULL,
     "… and at least this many (in SLEEP, any change is rebuilt before hibernating)"},
    {"graph/max_age_ms", S_INT, "86400000", 0, 86400000LL * 3650, NULL,
     "a changed graph older than this is rebuilt in WAKE too (checked when records are "
     "linked, never by a timer; 0 = never by age)"},
    {"graph/step_budget_ms", S_INT, "10", 1, 10000, NULL,
     "one link or build step of the graph actor works about this long (a write "
     "transaction of linking holds the writer at most this long)"},
    {"log/verbose", S_INT, "0", 0, 1, NULL, "1 = debug logging (same as --verbose)"},
    {"redact/jit", S_INT, "1", 0, 1, NULL,
     "0 = match the redaction patterns with PCRE2's interpreter instead of its JIT (slower; "
     "for valgrind, which reports the JIT's by-design reads past the end of a text)"},
    {"redact/enabled", S_INT, "1", 0, 1, NULL,
     "1 = secrets (tokens, keys, password= values, <private> spans) are replaced by "
     "[REDACTED:type] in every captured text and metadata value before it is stored; "
     "0 = texts are stored as sent"},
    {"redact/patterns", S_STRING, "none", 0, 0, NULL,
     "file of extra secret patterns, one \"name<TAB>regex\" (PCRE2) a line, # for comments; "
     "checked at start; none = the built-in patterns only (docs/agents.md)"},
    {"watch/dirs", S_STRING, "none", 0, 0, NULL,
     "directories whose JSONL transcripts (*.jsonl) memd ingests as they grow, separated by "
     "':'; a leading ~/ is $HOME; e.g. ~/.claude/projects (Claude Code); none = no watching "
     "(docs/agents.md)"},
    {"watch/depth", S_INT, "3", 0, 16, NULL,
     "levels of subdirectories watched below each of watch/dirs (Claude Code: one directory "
     "per project, subagent transcripts deeper)"},
    {"watch/chunk_kb", S_INT, "256", 4, 65536, NULL,
     "most bytes of one file ingested per write; a larger backlog goes in several, files in "
     "turn"},
    {"watch/max_line_kb", S_INT, "16384", 64, 1048576, NULL,
     "longer transcript lines are skipped (counted in status)"},
    {"watch/max_files", S_INT, "100000", 1, 100000000, NULL,
     "transcript files tracked at once; more are not ingested (an error in status)"},
};
#define S_COUNT (sizeof s_settings / sizeof s_settings[0])

struct _mem_config_t {
    char *values[S_COUNT];           //  NULL = default
    char derived[4][4096];           //  resolved data dir, run dir, endpoint, events endpoint
};

static int
s_find (const char *key)
{
    for (size_t i = 0; i < S_COUNT; i++)
        if (streq (s_settings[i].key, key))
            return (int) i;
    return -1;
}

mem_config_t *
mem_config_new (void)
{
    return calloc (1, sizeof (mem_config_t));
}

void
mem_config_destroy (mem_config_t **self_p)
{
    mem_config_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < S_COUNT; i++)
        free (self->values[i]);
    free (self);
    *self_p = NULL;
}

static int
s_validate (const s_setting_t *s, const char *value, char *err, size_t err_size)
{
    if (s->type == S_INT) {
        errno = 0;
        char *end;
        long long n = strtoll (value, &end, 10);
        if (errno || end == value || *end || n < s->min || n > s->max) {
            snprintf (err, err_size, "%s: '%s' is not a whole number from %lld to %lld", s->key,
                      value, (long long) s->min, (long long) s->max);
            return -1;
        }
    }
    else if (s->type == S_ENUM) {
        const char *p = s->choices;
        size_t len = strlen (value);
        while (p) {
            const char *bar = strchr (p, '|');
            size_t n = bar ? (size_t) (bar - p) : strlen (p);
            if (n == len && strncmp (p, value, n) == 0)
                return 0;
            p = bar ? bar + 1 : NULL;
        }
        snprintf (err, err_size, "%s: '%s' is not one of %s", s->key, value, s->choices);
        return -1;
    }
    else if (s->type == S_LIMITS) {
        mem_job_limit_t limits[64];
        char why[256];
        if (mem_config_parse_limits (value, limits, 64, why, sizeof why) < 0) {
            snprintf (err, err_size, "%s: %s", s->key, why);
            return -1;
        }
    }
    else if (s->type == S_UIDS) {
        uint32_t uids[MEM_ALLOW_UIDS_MAX];
        char why[256];
        if (mem_config_parse_uids (value, uids, MEM_ALLOW_UIDS_MAX, why, sizeof why) < 0) {
            snprintf (err, err_size, "%s: %s", s->key, why);
            return -1;
        }
    }
    else if (!*value) {
        snprintf (err, err_size, "%s: empty value", s->key);
        return -1;
    }
    return 0;
}

int
mem_config_parse_limits (const char *text, mem_job_limit_t *out, size_t max, char *err,
                         size_t err_size)
{
    while (*text == ' ')
        text++;
    if (!*text || streq (text, "none"))
        return 0;
    size_t n = 0;
    const char *p = text;
    while (*p) {
        const char *end = strchr (p, ',');
        size_t len = end ? (size_t) (end - p) : strlen (p);
        char item[128];
        if (len >= sizeof item) {
            snprintf (err, err_size, "'%.*s…' is too long", 40, p);
            return -1;
        }
        memcpy (item, p, len);
        item[len] = 0;
        char *start = item, *stop = item + len;
        while (*start == ' ')
            start++;
        while (stop > start && stop[-1] == ' ')
            *--stop = 0;
        char *eq = strchr (start, '=');
        char *digits_end = NULL;
        long long limit = -1;
        if (eq) {
            *eq = 0;
            char *number = eq + 1;
            while (*number == ' ')
                number++;
            char *kind_end = eq;
            while (kind_end > start && kind_end[-1] == ' ')
                *--kind_end = 0;
            errno = 0;
            limit = *number ? strtoll (number, &digits_end, 10) : -1;
            if (errno || (digits_end && *digits_end))
                limit = -1;
        }
        if (!eq || !mem_codec_job_kind_valid (start) || limit < 1 || limit > 1000000) {
            snprintf (err, err_size,
                      "'%s' is not kind=N (a kind of A-Z a-z 0-9 _ . : - and N from 1 to "
                      "1000000); write e.g. \"llm=1,embed=4\"",
                      len ? start : "(empty)");
            return -1;
        }
        for (size_t i = 0; i < n; i++)
            if (streq (out[i].kind, start)) {
                snprintf (err, err_size, "kind '%s' is listed twice", start);
                return -1;
            }
        if (n == max) {
            snprintf (err, err_size, "more than %zu kinds", max);
            return -1;
        }
        memcpy (out[n].kind, start, strlen (start) + 1);   //  valid kinds fit (64 bytes)
        out[n++].limit = (uint32_t) limit;
        p = end ? end + 1 : p + len;
    }
    return (int) n;
}

int
mem_config_parse_uids (const char *text, uint32_t *out, size_t max, char *err, size_t err_size)
{
    while (*text == ' ')
        text++;
    if (!*text || streq (text, "none"))
        return 0;
    size_t n = 0;
    const char *p = text;
    while (true) {
        while (*p == ' ')
            p++;
        char *end = NULL;
        errno = 0;
        unsigned long long uid = isdigit ((unsigned char) *p) ? strtoull (p, &end, 10) : 0;
        if (!end || errno || uid >= UINT32_MAX) {
            snprintf (err, err_size, "'%s' is not a list of numeric uids (e.g. \"1001,1002\")",
                      text);
            return -1;
        }
        if (n == max) {
            snprintf (err, err_size, "more than %zu uids", max);
            return -1;
        }
        out[n++] = (uint32_t) uid;
        p = end;
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        if (*p++ != ',') {
            snprintf (err, err_size, "'%s' is not a list of numeric uids (e.g. \"1001,1002\")",
                      text);
            return -1;
        }
    }
    return (int) n;
}

int
mem_config_set (mem_config_t *self, const char *key, const char *value, char *err,
                size_t err_size)
{
    char name[256];
    if (!value) {
        const char *eq = strchr (key, '=');
        if (!eq || eq == key || (size_t) (eq - key) >= sizeof name) {
            snprintf (err, err_size, "'%s' is not KEY=VALUE", key);
            return -1;
        }
        memcpy (name, key, (size_t) (eq - key));
        name[eq - key] = 0;
        key = name;
        value = eq + 1;
    }
    int i = s_find (key);
    if (i < 0) {
        snprintf (err, err_size, "unknown setting '%s' (memd --help-config lists them)", key);
        return -1;
    }
    if (s_validate (&s_settings[i], value, err, err_size))
        return -1;
    free (self->values[i]);
    self->values[i] = strdup (value);
    return 0;
}

//  Walks a zconfig tree; leaves with values are settings named by their path.
static int
s_load_tree (mem_config_t *self, zconfig_t *node, const char *prefix, const char *path,
             char *err, size_t err_size)
{
    for (zconfig_t *child = zconfig_child (node); child; child = zconfig_next (child)) {
        char key[256];
        snprintf (key, sizeof key, "%s%s%s", prefix, *prefix ? "/" : "", zconfig_name (child));
        const char *value = zconfig_value (child);
        if (value && *value) {
            char why[256];
            if (mem_config_set (self, key, value, why, sizeof why)) {
                snprintf (err, err_size, "%s: %s", path, why);
                return -1;
            }
        }
        if (s_load_tree (self, child, key, path, err, err_size))
            return -1;
    }
    return 0;
}

#define S_CONFIG_FILE_MAX (1024 * 1024)   //  bytes; a config file is a few hundred

int
mem_config_load_file (mem_config_t *self, const char *path, char *err, size_t err_size)
{
    //  The file is read here and parsed with zconfig_chunk_load rather than
    //  zconfig_load, which in czmq 4.2.1 leaks its zfile whenever the text is
    //  not valid ZPL (found by tests/fuzz/fuzz_config).
    FILE *file = fopen (path, "r");
    if (!file) {
        snprintf (err, err_size, "cannot read config file %s: %s", path, strerror (errno));
        return -1;
    }
    zchunk_t *chunk = zchunk_new (NULL, 0);
    char buffer[4096];
    size_t got;
    while ((got = fread (buffer, 1, sizeof buffer, file)) > 0
           && zchunk_size (chunk) <= S_CONFIG_FILE_MAX)
        zchunk_extend (chunk, buffer, got);
    bool failed = ferror (file) != 0;
    fclose (file);
    if (failed || zchunk_size (chunk) > S_CONFIG_FILE_MAX) {
        snprintf (err, err_size, "cannot read config file %s: %s", path,
                  failed ? "read error" : "larger than 1 MiB");
        zchunk_destroy (&chunk);
        return -1;
    }
    zconfig_t *root = zconfig_chunk_load (chunk);
    zchunk_destroy (&chunk);
    if (!root) {
        snprintf (err, err_size, "config file %s is not valid ZPL", path);
        return -1;
    }
    int rc = s_load_tree (self, root, "", path, err, err_size);
    zconfig_destroy (&root);
    return rc;
}

int
mem_config_load_env (mem_config_t *self, char *err, size_t err_size)
{
    static const char *vars[][2] = {{"MEMD_DATA_DIR", "store/data_dir"},
                                    {"MEMD_RUN_DIR", "api/run_dir"},
                                    {"MEMD_ENDPOINT", "api/endpoint"}};
    for (size_t i = 0; i < 3; i++) {
        const char *value = getenv (vars[i][0]);
        if (value && *value && mem_config_set (self, vars[i][1], value, err, err_size))
            return -1;
    }
    return 0;
}

const char *
mem_config_get (mem_config_t *self, const char *key)
{
    int i = s_find (key);
    assert (i >= 0);
    if (self->values[i])
        return self->values[i];
    if (*s_settings[i].fallback)
        return s_settings[i].fallback;
    //  Derived defaults (DESIGN §6).
    if (streq (key, "store/data_dir")) {
        const char *xdg = getenv ("XDG_DATA_HOME"), *home = getenv ("HOME");
        if (xdg && *xdg)
            snprintf (self->derived[0], sizeof self->derived[0], "%s/memd", xdg);
        else
            snprintf (self->derived[0], sizeof self->derived[0], "%s/.local/share/memd",
                      home && *home ? home : "/tmp");
        return self->derived[0];
    }
    if (streq (key, "api/run_dir")) {
        if (memd_default_run_dir (self->derived[1], sizeof self->derived[1]))
            snprintf (self->derived[1], sizeof self->derived[1], "/tmp/memd-%u",
                      (unsigned) getuid ());
        return self->derived[1];
    }
    if (streq (key, "api/endpoint")) {
        snprintf (self->derived[2], sizeof self->derived[2], "ipc://%s/memd.sock",
                  mem_config_get (self, "api/run_dir"));
        return self->derived[2];
    }
    if (streq (key, "api/events_endpoint")) {
        const char *api = mem_config_get (self, "api/endpoint");
        size_t len = strlen (api);
        if (strncmp (api, "ipc://", 6) != 0)
            return "none";   //  only ipc has a natural neighbour
        if (len > 5 && streq (api + len - 5, ".sock"))
            len -= 5;
        snprintf (self->derived[3], sizeof self->derived[3], "%.*s-events.sock", (int) len, api);
        return self->derived[3];
    }
    return "";
}

int64_t
mem_config_int (mem_config_t *self, const char *key)
{
    return strtoll (mem_config_get (self, key), NULL, 10);
}

void
mem_config_print_help (FILE *out)
{
    fprintf (out, "memd settings (config file keys; --set KEY=VALUE overrides any):\n\n");
    for (size_t i = 0; i < S_COUNT; i++) {
        const s_setting_t *s = &s_settings[i];
        fprintf (out, "  %-24s default %s\n", s->key, *s->fallback ? s->fallback : "(derived)");
        fprintf (out, "      %s\n", s->help);
    }
    fprintf (out, "\nConfig file format: ZPL (czmq zconfig), for example:\n\n"
                  "  store\n      sync = full\n  recall\n      workers = 4\n");
}

//  --------------------------------------------------------------------------
//  Selftest

#undef NDEBUG
#include <assert.h>

void
mem_config_test (bool verbose)
{
    printf (" * mem_config: ");
    mem_config_t *config = mem_config_new ();
    char err[256];
    assert (streq (mem_config_get (config, "store/sync"), "full"));
    assert (mem_config_int (config, "store/map_size_mb") == 1024);
    assert (mem_config_set (config, "store/sync=batch", NULL, err, sizeof err) == 0);
    assert (streq (mem_config_get (config, "store/sync"), "batch"));
    assert (mem_config_set (config, "store/sync=sometimes", NULL, err, sizeof err) == -1);
    assert (strstr (err, "full|batch|none"));
    assert (mem_config_set (config, "recall/workers=-1", NULL, err, sizeof err) == -1);
    assert (mem_config_set (config, "recall/workers=12x", NULL, err, sizeof err) == -1);
    assert (mem_config_set (config, "no/such=1", NULL, err, sizeof err) == -1);
    assert (strstr (err, "unknown setting"));
    assert (mem_config_set (config, "noequals", NULL, err, sizeof err) == -1);
    assert (mem_config_set (config, "api/run_dir=/tmp/rd", NULL, err, sizeof err) == 0);
    assert (streq (mem_config_get (config, "api/endpoint"), "ipc:///tmp/rd/memd.sock"));

    char path[] = "/tmp/mem_config_test.XXXXXX";
    int fd = mkstemp (path);
    assert (fd >= 0);
    const char *zpl = "store\n    sync = none\n    map_size_mb = 64\nrecall\n    workers = 3\n";
    assert (write (fd, zpl, strlen (zpl)) == (ssize_t) strlen (zpl));
    close (fd);
    assert (mem_config_load_file (config, path, err, sizeof err) == 0);
    assert (streq (mem_config_get (config, "store/sync"), "none"));
    assert (mem_config_int (config, "recall/workers") == 3);
    fd = open (path, O_WRONLY | O_TRUNC);
    const char *bad = "store\n    colour = blue\n";
    assert (write (fd, bad, strlen (bad)) == (ssize_t) strlen (bad));
    close (fd);
    assert (mem_config_load_file (config, path, err, sizeof err) == -1);
    assert (strstr (err, "store/colour"));
    //  Regression (fuzz_config): text that is not ZPL is an error, and leaks
    //  nothing (czmq's zconfig_load leaked its zfile here; check-sanitize).
    fd = open (path, O_WRONLY | O_TRUNC);
    const char *not_zpl = "a\n    b = \"x \\\" y\"\n";
    assert (write (fd, not_zpl, strlen (not_zpl)) == (ssize_t) strlen (not_zpl));
    close (fd);
    assert (mem_config_load_file (config, path, err, sizeof err) == -1);
    assert (strstr (err, "not valid ZPL"));
    unlink (path);
    assert (mem_config_load_file (config, "/nonexistent/memd.cfg", err, sizeof err) == -1);

    //  jobs/limits: kind=N pairs, checked when set.
    mem_job_limit_t limits[8];
    assert (mem_config_parse_limits ("none", limits, 8, err, sizeof err) == 0);
    assert (mem_config_parse_limits (" llm = 1 , embed=4", limits, 8, err, sizeof err) == 2);
    assert (streq (limits[0].kind, "llm") && limits[0].limit == 1);
    assert (streq (limits[1].kind, "embed") && limits[1].limit == 4);
    assert (mem_config_parse_limits ("llm=0", limits, 8, err, sizeof err) == -1);
    assert (mem_config_parse_limits ("llm=1,llm=2", limits, 8, err, sizeof err) == -1);
    assert (mem_config_parse_limits ("llm", limits, 8, err, sizeof err) == -1);
    assert (mem_config_parse_limits ("l m=1", limits, 8, err, sizeof err) == -1);
    assert (mem_config_parse_limits ("a=1,", limits, 8, err, sizeof err) == 1);
    assert (mem_config_parse_limits ("a=1,,b=2", limits, 8, err, sizeof err) == -1);
    assert (mem_config_set (config, "jobs/limits=llm=x", NULL, err, sizeof err) == -1);
    assert (strstr (err, "jobs/limits"));
    assert (mem_config_set (config, "jobs/limits=llm=1", NULL, err, sizeof err) == 0);
    assert (streq (mem_config_get (config, "jobs/limits"), "llm=1"));
    //  api/allow_uids: numbers, checked when set.
    uint32_t uids[4];
    assert (mem_config_parse_uids ("none", uids, 4, err, sizeof err) == 0);
    assert (mem_config_parse_uids (" 1001 , 0,42", uids, 4, err, sizeof err) == 3);
    assert (uids[0] == 1001 && uids[1] == 0 && uids[2] == 42);
    assert (mem_config_parse_uids ("1001,", uids, 4, err, sizeof err) == -1);
    assert (mem_config_parse_uids ("bob", uids, 4, err, sizeof err) == -1);
    assert (mem_config_parse_uids ("-1", uids, 4, err, sizeof err) == -1);
    assert (mem_config_parse_uids ("1,2,3,4,5", uids, 4, err, sizeof err) == -1);
    assert (mem_config_set (config, "api/allow_uids=1001 2", NULL, err, sizeof err) == -1);
    assert (mem_config_set (config, "api/allow_uids=1001,2", NULL, err, sizeof err) == 0);
    mem_config_destroy (&config);
    assert (config == NULL);
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
