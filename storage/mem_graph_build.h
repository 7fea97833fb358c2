/*  mem_graph_build — one agent's full graph build, in bounded steps
    (DESIGN §3 lessons 2–4; docs/graph.md).

    A build is a resumable state machine; each mem_graph_build_step works
    until a deadline and returns, so its caller (the graph actor) answers
    its socket between steps. Its phases:

      load      the agent's linked records from its node rows, keeping the
                live ones (docmeta), then their edges among themselves, in
                short read transactions (never one long one: a long reader
                would hold off the map growth that writers may need);
      compute   CSR, Louvain, PageRank (mem_graph), in memory;
      persist   the slot readers do not use is cleared and written in short
                write transactions; then one transaction flips the agent's
                meta to it (the new generation, its anchor), and the old
                slot is cleared.

    Until the flip, readers see the previous generation, whole; a build
    that fails at any point leaves it in place. Linking must not run for
    the agent between a build's start and its end (the graph actor does one
    or the other), or its new node rows would land in the old slot.

    A community's id is its most central member's record id (highest
    PageRank; ties to the lower id), so ids mean something to people.
*/
#ifndef MEM_GRAPH_BUILD_H_INCLUDED
#define MEM_GRAPH_BUILD_H_INCLUDED

#include "mem_store.h"

typedef struct {
    uint32_t nodes;              /* live records built */
    uint64_t edges;              /* edges between them */
    uint32_t communities;
    double modularity;
    unsigned levels, passes, iterations;   /* Louvain levels and passes, PageRank iterations */
    int64_t load_us, compute_us, persist_us;
    size_t peak_bytes;           /* the most memory the build held at once */
    uint64_t generation;         /* the generation it made */
} mem_graph_build_stats_t;

typedef struct _mem_graph_build_t mem_graph_build_t;

mem_graph_build_t *mem_graph_build_new (mem_store_t *store, uint32_t agent);
void mem_graph_build_destroy (mem_graph_build_t **self_p);

/* Works until deadline_us (mem_graph_now_us); *done once the new
   generation is in and the old one cleared. now_ms stamps the build.
   Returns 0, or the LMDB code or ENOMEM that failed the build (destroy it:
   the previous generation stands). */
int mem_graph_build_step (mem_graph_build_t *self, int64_t deadline_us, int64_t now_ms, bool *done);

uint32_t mem_graph_build_agent (mem_graph_build_t *self);

/* True while its steps write (clearing, writing rows, the flip): the
   caller leaves the writer's lock free a moment between two of them. */
bool mem_graph_build_writing (mem_graph_build_t *self);

/* The phase it is in ("load nodes", "louvain", "write nodes", …). */
const char *mem_graph_build_phase (mem_graph_build_t *self);
const mem_graph_build_stats_t *mem_graph_build_stats (mem_graph_build_t *self);

void mem_graph_build_test (bool verbose);

#endif
