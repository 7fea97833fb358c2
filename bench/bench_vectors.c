/*  bench_vectors — embeddings from a file written by an external model.
    See bench_vectors.h.
*/
#include "bench_vectors.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define S_MAGIC    "MEMDEMB1"
#define S_MAX_DIMS 4096

typedef struct {
    char *text;
    float *vector;
} s_entry_t;

struct bench_vectors_t {
    size_t dims, count;
    s_entry_t *slots; //  open addressing, power-of-two size, text NULL = empty
    size_t mask;
};

static uint64_t s_hash (const char *text)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *) text; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h;
}

static int s_read (FILE *file, void *data, size_t size)
{
    return fread (data, 1, size, file) == size ? 0 : -1;
}

static int s_read_u32 (FILE *file, uint32_t *value)
{
    unsigned char b[4];
    if (s_read (file, b, 4))
        return -1;
    *value = (uint32_t) b[0] | (uint32_t) b[1] << 8 | (uint32_t) b[2] << 16 | (uint32_t) b[3] << 24;
    return 0;
}

//  Reads one entry into slot-less memory; -1 on a short or broken file.
static int s_read_entry (FILE *file, size_t dims, char **text, float **vector)
{
    uint32_t length;
    if (s_read_u32 (file, &length) || length > (1u << 24))
        return -1;
    *text = malloc (length + 1);
    *vector = malloc (dims * sizeof (float));
    if (!*text || !*vector || s_read (file, *text, length) || memchr (*text, 0, length)
        || s_read (file, *vector, dims * sizeof (float)))
        return -1;
    (*text)[length] = 0;
    for (size_t d = 0; d < dims; d++)
        if (!isfinite ((*vector)[d]))
            return -1;
    return 0;
}

bench_vectors_t *bench_vectors_load (const char *path)
{
    FILE *file = fopen (path, "rb");
    if (!file) {
        fprintf (stderr, "%s: %s\n", path, strerror (errno));
        return NULL;
    }
    bench_vectors_t *self = calloc (1, sizeof (*self));
    char magic[8];
    uint32_t dims = 0, count = 0;
    const char *problem = NULL;
    if (!self || s_read (file, magic, 8) || memcmp (magic, S_MAGIC, 8) || s_read_u32 (file, &dims)
        || s_read_u32 (file, &count))
        problem = "not a vector file (" S_MAGIC " header)";
    else if (dims < 2 || dims > S_MAX_DIMS)
        problem = "dimension out of range (2 to 4096)";
    if (!problem) {
        self->dims = dims;
        size_t size = 16;
        while (size < 2 * (size_t) count)
            size *= 2;
        self->mask = size - 1;
        self->slots = calloc (size, sizeof (s_entry_t));
        if (!self->slots)
            problem = "out of memory";
    }
    for (uint32_t i = 0; !problem && i < count; i++) {
        char *text = NULL;
        float *vector = NULL;
        if (s_read_entry (file, dims, &text, &vector)) {
            free (text);
            free (vector);
            problem = "truncated or broken entry (or a NaN/Inf value)";
            break;
        }
        size_t slot = s_hash (text) & self->mask;
        while (self->slots[slot].text && strcmp (self->slots[slot].text, text))
            slot = (slot + 1) & self->mask;
        if (self->slots[slot].text) { //  the same text twice: keep the first
            free (text);
            free (vector);
            continue;
        }
        self->slots[slot] = (s_entry_t){text, vector};
        self->count++;
    }
    fclose (file);
    if (problem) {
        fprintf (stderr, "%s: %s\n", path, problem);
        bench_vectors_destroy (&self);
    }
    return self;
}

void bench_vectors_destroy (bench_vectors_t **self_p)
{
    bench_vectors_t *self = *self_p;
    if (!self)
        return;
    if (self->slots)
        for (size_t i = 0; i <= self->mask; i++) {
            free (self->slots[i].text);
            free (self->slots[i].vector);
        }
    free (self->slots);
    free (self);
    *self_p = NULL;
}

size_t bench_vectors_dims (const bench_vectors_t *self)
{
    return self->dims;
}

const float *bench_vectors_find (const bench_vectors_t *self, const char *text)
{
    size_t slot = s_hash (text) & self->mask;
    while (self->slots[slot].text) {
        if (!strcmp (self->slots[slot].text, text))
            return self->slots[slot].vector;
        slot = (slot + 1) & self->mask;
    }
    return NULL;
}

int bench_vectors_write_text (FILE *file, const char *text)
{
    json_t *line = json_pack ("{s:s}", "text", text);
    char *dumped = line ? json_dumps (line, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    int rc = dumped && fprintf (file, "%s\n", dumped) > 0 ? 0 : -1;
    free (dumped);
    json_decref (line);
    return rc;
}
