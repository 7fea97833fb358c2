/*  bench_vectors — embeddings computed by a real model outside the bench,
    read from a file (bench/embedder writes it).

    memd takes embeddings from its clients; the model is theirs. The
    benchmarks are C, the models worth trying run elsewhere (Node here), so
    a bench lists its texts (bench_vectors_write_texts, JSONL
    {"text": ...}), the embedder turns them into a vector file, and the
    bench looks each text up again when it captures or asks.

    The vector file, little-endian: "MEMDEMB1", u32 dims, u32 count, then
    count times (u32 length, the text's bytes, dims float32).
*/
#ifndef BENCH_VECTORS_H_INCLUDED
#define BENCH_VECTORS_H_INCLUDED

#include <stddef.h>
#include <stdio.h>

typedef struct bench_vectors_t bench_vectors_t;

/* Reads a vector file; NULL with a message on stderr when it cannot. */
bench_vectors_t *bench_vectors_load (const char *path);

void bench_vectors_destroy (bench_vectors_t **self_p);

size_t bench_vectors_dims (const bench_vectors_t *self);

/* The vector of text, or NULL when the file has none. */
const float *bench_vectors_find (const bench_vectors_t *self, const char *text);

/* Writes one JSONL line {"text": text}; 0 or -1. */
int bench_vectors_write_text (FILE *file, const char *text);

#endif
