/*  fuzz_redact — libFuzzer target for secret redaction (mem_redact).

    Any bytes (up to the first NUL, as memd's C strings end there) go
    through mem_redact_text with the built-in patterns. The result must be
    NULL exactly when nothing was replaced; otherwise a text holding at
    least one placeholder, and valid UTF-8 whenever the input was
    (placeholders go in on character boundaries). Redacting that result
    again must work the same way. No crash, no leak, no time-out (PCRE2
    runs under a match limit). Run with `make fuzz` (docs/fuzzing.md).
*/
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "mem_codec.h"
#include "mem_redact.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  Redacts text and checks the result; returns it (or NULL).
static char *
s_redact (mem_redact_t *redact, const char *text, size_t len)
{
    size_t count;
    char *clean = mem_redact_text (redact, text, len, &count);
    assert ((clean != NULL) == (count > 0));
    if (clean) {
        assert (strstr (clean, "[REDACTED:"));
        if (mem_utf8_valid (text, len))
            assert (mem_utf8_valid (clean, strlen (clean)));
    }
    return clean;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static mem_redact_t *redact = NULL;   //  built once, as memd does at start
    if (!redact) {
        char err[256];
        redact = mem_redact_new (NULL, err, sizeof err);
        assert (redact);
    }
    const char *text = (const char *) data;
    size_t len = strnlen (text, size);
    char *clean = s_redact (redact, text, len);
    if (clean)
        free (s_redact (redact, clean, strlen (clean)));
    free (clean);
    return 0;
}
