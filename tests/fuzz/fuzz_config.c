/*  fuzz_config — libFuzzer target for configuration parsing.

    Any bytes are written to a temporary file and loaded as a ZPL config
    file (mem_config_load_file, which hands the file to czmq's zconfig),
    and passed as one KEY=VALUE string to mem_config_set. Errors are fine;
    a crash, leak or sanitizer report is not, and a refusal must say why.
    Run with `make fuzz` (docs/fuzzing.md).
*/
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "mem_config.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static char s_path[64];

//  Removes the temporary file at exit.
static void
s_cleanup (void)
{
    if (*s_path)
        unlink (s_path);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (!*s_path) {
        snprintf (s_path, sizeof s_path, "/tmp/memd-fuzz-config-XXXXXX");
        int fd = mkstemp (s_path);
        assert (fd >= 0);
        close (fd);
        atexit (s_cleanup);
    }
    FILE *file = fopen (s_path, "w");
    assert (file);
    assert (fwrite (data, 1, size, file) == size);
    fclose (file);

    char err[512] = "";
    mem_config_t *config = mem_config_new ();
    assert (config);
    if (mem_config_load_file (config, s_path, err, sizeof err))
        assert (*err);
    mem_config_destroy (&config);

    //  The same bytes as one --set KEY=VALUE argument (up to the first NUL).
    char *text = malloc (size + 1);
    assert (text);
    memcpy (text, data, size);
    text[size] = 0;
    config = mem_config_new ();
    assert (config);
    *err = 0;
    if (mem_config_set (config, text, NULL, err, sizeof err))
        assert (*err);
    mem_config_destroy (&config);
    free (text);
    return 0;
}
