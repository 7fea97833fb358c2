/*  mem_config — every setting of memd, with its default, in one table.

    Values come from, in rising precedence: the defaults, a ZPL config file
    (czmq zconfig; keys are paths such as store/sync), the environment
    (MEMD_DATA_DIR, MEMD_RUN_DIR, MEMD_ENDPOINT), and flags (--data-dir,
    --run-dir, --endpoint, --set KEY=VALUE). Every value is validated when
    it is set; an unknown key or a bad value is an error with a message.
    `memd --help-config` prints the table.
*/
#ifndef MEM_CONFIG_H_INCLUDED
#define MEM_CONFIG_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct _mem_config_t mem_config_t;

mem_config_t *mem_config_new (void);
void mem_config_destroy (mem_config_t **self_p);

/* Loads a ZPL file. Returns 0, or -1 with a message in err. */
int mem_config_load_file (mem_config_t *self, const char *path, char *err, size_t err_size);

/* Applies MEMD_DATA_DIR, MEMD_RUN_DIR and MEMD_ENDPOINT where set. */
int mem_config_load_env (mem_config_t *self, char *err, size_t err_size);

/* Sets one key ("KEY=VALUE" when value is NULL). Returns 0 or -1 with err. */
int mem_config_set (mem_config_t *self, const char *key, const char *value, char *err,
                    size_t err_size);

/* The value of a key; derived defaults (data dir, run dir, endpoint) are
   resolved here. Asking for an unknown key is a caller bug (assert). */
const char *mem_config_get (mem_config_t *self, const char *key);
int64_t mem_config_int (mem_config_t *self, const char *key);

/* One entry of jobs/limits: at most `limit` jobs of `kind` leased at once. */
typedef struct {
    char kind[65];
    uint32_t limit;
} mem_job_limit_t;

/* Parses a jobs/limits value, "kind=N[,kind=N]…" (spaces allowed around
   items; "" or "none" for no limits), into out (room for max). Returns the
   count, or -1 with a message in err. */
int mem_config_parse_limits (const char *text, mem_job_limit_t *out, size_t max, char *err,
                             size_t err_size);

/* Parses an api/allow_uids value, "UID[,UID]…" (numbers; spaces allowed;
   "" or "none" for none), into out (room for max). Returns the count, or
   -1 with a message in err. */
#define MEM_ALLOW_UIDS_MAX 64
int mem_config_parse_uids (const char *text, uint32_t *out, size_t max, char *err,
                           size_t err_size);

/* Prints every key, its default and what it does. */
void mem_config_print_help (FILE *out);

void mem_config_test (bool verbose);

#endif
