/*  fuzz_jsonl — libFuzzer target for the JSONL importer's line parser
    (tools/memctl_jsonl.c, what `memctl import` reads from a file).

    Any bytes go through memctl_jsonl_parse. A refusal must say why. A line
    it accepts must hold a 16-byte uid and a non-empty text, and must
    format (memctl_jsonl_format, what `memctl export` writes) and parse
    back to the same record, byte for byte once packed: export and import
    agree on every field. Run with `make fuzz` (docs/fuzzing.md).
*/
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "memctl_jsonl.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  The record packed (protobuf), for comparing two records; caller frees.
static uint8_t *
s_pack (const Memd__V1__Record *r, size_t *size)
{
    *size = memd__v1__record__get_packed_size (r);
    uint8_t *bytes = malloc (*size ? *size : 1);
    assert (bytes);
    assert (memd__v1__record__pack (r, bytes) == *size);
    return bytes;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char err[256] = "";
    Memd__V1__Record *r = memctl_jsonl_parse ((const char *) data, size, "fuzz", err, sizeof err);
    if (!r) {
        assert (*err);
        return 0;
    }
    assert (r->uid.len == 16 && r->text && *r->text && r->agent_id);
    char *line = memctl_jsonl_format (r);
    assert (line);
    char again_err[256] = "";
    Memd__V1__Record *again = memctl_jsonl_parse (line, strlen (line), "other", again_err,
                                                  sizeof again_err);
    assert (again);
    //  content_hash is informative (memd recomputes it): not read back.
    r->content_hash = 0;
    size_t a_size, b_size;
    uint8_t *a = s_pack (r, &a_size), *b = s_pack (again, &b_size);
    assert (a_size == b_size && memcmp (a, b, a_size) == 0);
    free (a);
    free (b);
    free (line);
    memctl_jsonl_free (&again);
    memctl_jsonl_free (&r);
    return 0;
}
