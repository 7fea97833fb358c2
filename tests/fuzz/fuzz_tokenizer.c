/*  fuzz_tokenizer — libFuzzer target for the lexical tokenizer.

    Any bytes go through mem_utf8_valid and mem_tokenize. Every term handed
    to the callback must be non-empty, shorter than MEM_TERM_MAX bytes,
    NUL-terminated at len and valid UTF-8, whatever the input (invalid
    UTF-8 is a separator). Run with `make fuzz` (docs/fuzzing.md).
*/
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "mem_codec.h"
#include "mem_tokenizer.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  Checks one term; arg counts them.
static void
s_check_term (const char *term, size_t len, unsigned position, void *arg)
{
    assert (term);
    assert (len > 0 && len < MEM_TERM_MAX);
    assert (term[len] == 0 && strlen (term) == len);
    assert (mem_utf8_valid (term, len));
    (*(unsigned *) arg)++;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    (void) mem_utf8_valid ((const char *) data, size);
    unsigned seen = 0;
    unsigned emitted = mem_tokenize ((const char *) data, size, s_check_term, &seen);
    assert (emitted == seen);
    return 0;
}
