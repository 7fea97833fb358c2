/*  mem_index — the lexical index in LMDB: postings, document lengths and
    per-agent collection statistics, written in the same transaction as the
    records they index, so a cold start serves recall at once.

    Layout: a log-structured index inside LMDB. Each flush of the writer
    (one group commit) adds one immutable segment per agent: keys
    agent (u32 BE) + segment (u32 BE) + term, each value the term's
    postings in that segment, an array of 12-byte entries sorted by id:
    record id (u64 BE), tf (u16), dl (u16). A commit therefore writes a
    contiguous run of keys instead of touching one B-tree page per distinct
    term, which is what made capture slow. Segments cover disjoint,
    increasing id ranges; small neighbours are merged in bounded,
    resumable steps (mem_index_merge_step) so an agent keeps only a
    logarithmic number of them.

    Forget is lazy for postings: the record's id goes into a deleted set,
    statistics drop it at once, search skips it, and the next merge of its
    segment drops its postings.

    Search is BM25 over document-at-a-time iterators (each term's runs
    across segments, in id order) with MaxScore pruning: a record that
    cannot enter the top k is skipped without being scored.
*/
#ifndef MEM_INDEX_H_INCLUDED
#define MEM_INDEX_H_INCLUDED

#include "mem_store.h"
#include "mem_tokenizer.h"

/* BM25 parameters: k1 0.9 and b 0.4 (Anserini's defaults) rather than
   Lucene's 1.2 / 0.75. Memories are short, and strong length
   normalisation favours the shortest, content-poor ones ("Thanks, Mel!").
   On LoCoMo (bench_locomo) recall@10 went 0.607 -> 0.624, better in every
   category; k1 and b are read at query time, so existing stores get it at
   once (docs/benchmarks.md). */
#define MEM_BM25_K1 0.9
#define MEM_BM25_B  0.4

/* Per-agent collection statistics (live records only). */
typedef struct {
    uint64_t docs;           /* live records */
    uint64_t total_len;      /* sum of their lengths (terms) */
    uint64_t pending;        /* forgotten records whose postings await a merge */
} mem_agent_stats_t;

typedef struct _mem_index_writer_t mem_index_writer_t;

mem_index_writer_t *mem_index_writer_new (mem_store_t *store);
void mem_index_writer_destroy (mem_index_writer_t **self_p);

/* Tokenizes a new record's text and buffers its postings. Ids must be
   added in increasing order. *doc_len gets the record's length in terms
   (capped at 65535, as stored). Returns 0 or -1 (out of memory). */
int mem_index_writer_add (mem_index_writer_t *self, uint32_t agent, uint64_t id,
                          const char *text, size_t len, unsigned *doc_len);

/* Field terms: a record's speaker (metadata "speaker") and tags are
   indexed beside its text as terms that start with a marker byte, which
   no text term can (the tokenizer emits no control characters), so a
   query can weigh a name said by the speaker apart from a name in the
   text. They do not count in the record's length, and score without
   length normalisation (b = 0): a field is a few words. */
#define MEM_FIELD_SPEAKER 0x01
#define MEM_FIELD_TAG     0x02

/* Indexes text as field terms of the record just added (same agent and
   id, right after mem_index_writer_add). Returns 0 or -1 (out of memory). */
int mem_index_writer_add_field (mem_index_writer_t *self, uint32_t agent, uint64_t id,
                                uint8_t field, const char *text, size_t len);

/* Writes everything buffered into txn as one new segment per agent and
   empties the buffer. Returns 0 or an LMDB code (MDB_MAP_FULL: grow and
   redo the txn). */
int mem_index_writer_flush (mem_index_writer_t *self, MDB_txn *txn);

/* Drops the buffer (after an aborted txn). */
void mem_index_writer_reset (mem_index_writer_t *self);

/* Removes a live record from the index (forget): out of the statistics
   and search at once, its postings dropped by the next merge. doc_len is
   what mem_index_writer_add reported. Flush the writer first if it holds
   this transaction's postings. */
int mem_index_remove (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint64_t id,
                      unsigned doc_len);

/* True while some agent's segments may need merging. */
bool mem_index_merge_pending (mem_index_writer_t *self);

/* Does one bounded step of segment merging inside txn (a few MiB of
   postings at most), persisting where it stopped so a crash resumes.
   idle: nothing waits for the writer, so the small segments of a burst
   may be folded together too. *worked: whether there was anything to do
   (when not idle, agents may stay pending with nothing to do yet).
   Returns 0 or an LMDB code. */
int mem_index_merge_step (mem_index_writer_t *self, MDB_txn *txn, bool idle, bool *worked);

/* One bounded step of vacuum (the sleep cycle): rewrites a segment that
   still holds postings of forgotten records, without them, so they leave
   the store for good. *worked: false once no agent has any left (among
   the first 64 agents that have some; the next call sees the rest). */
int mem_index_vacuum_step (mem_index_writer_t *self, MDB_txn *txn, bool *worked);

/* Bytes of postings one merge step may write (default 4 MiB); tests use a
   tiny budget to stop merges midway. */
void mem_index_writer_set_merge_budget (mem_index_writer_t *self, size_t bytes);

/* After a restart: finds the agents whose segments need merging. */
int mem_index_writer_recover (mem_index_writer_t *self, MDB_txn *txn);

/* Segments of an agent (for status and tests). */
int mem_index_segment_count (mem_store_t *store, MDB_txn *txn, uint32_t agent, unsigned *count);

int mem_index_stats (mem_store_t *store, MDB_txn *txn, uint32_t agent, mem_agent_stats_t *stats);

typedef struct {
    uint64_t id;
    double score;
} mem_hit_t;

/* The best-k heap of the searches (lexical here, vectors in mem_vectors):
   a min-heap whose root is the weakest hit, a lower score or, at equal
   scores, the older record. mem_hits_push adds a hit (replacing the root
   once k are held: check mem_hit_less against it first); mem_hits_sort
   turns the heap into a list, best first. */
static inline bool
mem_hit_less (const mem_hit_t *a, const mem_hit_t *b)
{
    return a->score < b->score || (a->score == b->score && a->id < b->id);
}
void mem_hits_push (mem_hit_t *heap, unsigned *n, unsigned k, mem_hit_t hit);
void mem_hits_sort (mem_hit_t *heap, unsigned n);

/* Decides whether a candidate may be returned (filters); called only for
   records whose score would put them in the top k. */
typedef bool(mem_filter_fn) (uint64_t id, void *arg);

/* BM25 top-k for query within agent's records; hits sorted by descending
   score (ties: newer first). hits has room for k. Returns 0 or an LMDB code. */
int mem_index_search (mem_store_t *store, MDB_txn *txn, uint32_t agent, const char *query,
                      size_t len, unsigned k, mem_filter_fn *filter, void *filter_arg,
                      mem_hit_t *hits, unsigned *n_hits);

/* The records most like a text (the graph's LEXICAL edges): BM25 as in
   mem_index_search, with only the text's max_terms most salient terms as
   the query (the highest idf: the rarest, what the text is about), each
   weighted by its count in the text. */
int mem_index_search_salient (mem_store_t *store, MDB_txn *txn, uint32_t agent, const char *text,
                              size_t len, unsigned max_terms, unsigned k, mem_filter_fn *filter,
                              void *filter_arg, mem_hit_t *hits, unsigned *n_hits);

/* Writes a one-line account of id's score for query into buf: each matching
   term's tf, idf and contribution, the document length. */
int mem_index_explain (mem_store_t *store, MDB_txn *txn, uint32_t agent, const char *query,
                       size_t len, uint64_t id, char *buf, size_t size);

/* A query term as the search takes it (mem_query builds them from text):
   the term's bytes as indexed (a field term starts with its marker) and
   its weight in the score. */
#define MEM_QTERM_PREFIX 0x01   /* match every indexed term starting with these bytes */
#define MEM_QTERM_FUZZY  0x02   /* unknown to the agent's index: try its first bytes as a prefix */
#define MEM_QTERM_MAX    192    /* query terms used (words with their field terms); the rest are ignored */
#define MEM_PREFIX_TERMS 16     /* indexed terms a prefix expands to (the most frequent) */
#define MEM_PREFIX_MIN   2      /* shortest prefix, in bytes */
#define MEM_FUZZY_MIN    5      /* shortest unknown term retried as a prefix */
#define MEM_FUZZY_WEIGHT 0.5    /* weight of such a retry, relative to the term */

typedef struct {
    char term[MEM_TERM_MAX];
    uint8_t len;
    uint8_t flags;
    float weight;
} mem_qterm_t;

/* Fills terms (room for max) from text as mem_index_search reads it:
   tokenized, one per distinct term, weighted by its count. */
unsigned mem_index_qterms (const char *text, size_t len, mem_qterm_t *terms, unsigned max);

/* mem_index_search and mem_index_explain for terms already parsed. */
int mem_index_search_terms (mem_store_t *store, MDB_txn *txn, uint32_t agent,
                            const mem_qterm_t *terms, unsigned n_terms, unsigned k,
                            mem_filter_fn *filter, void *filter_arg, mem_hit_t *hits,
                            unsigned *n_hits);
int mem_index_explain_terms (mem_store_t *store, MDB_txn *txn, uint32_t agent,
                             const mem_qterm_t *terms, unsigned n_terms, uint64_t id, char *buf,
                             size_t size);

/* What verify needs of a record's docmeta (mem_records owns its layout
   and implements this). */
typedef struct {
    uint32_t agent;
    bool tombstoned;
} mem_docmeta_view_t;
int mem_index_docmeta_view (mem_store_t *store, MDB_txn *txn, uint64_t id,
                            mem_docmeta_view_t *view);

/* Checks every posting (order, segment range, record exists for the same
   agent, forgotten ones are in the deleted set) and that no postings lie
   outside the catalog; each problem goes to problem(). *postings gets the
   count checked. Returns 0 or an LMDB code. */
typedef void(mem_index_problem_fn) (void *arg, const char *text);
int mem_index_verify (mem_store_t *store, MDB_txn *txn, mem_index_problem_fn *problem, void *arg,
                      uint64_t *postings);

/* Calls fn for every posting of every catalogued segment: the agent, the
   record id, its tf and dl. exact is false for an agent with a merge in
   progress, whose terms may then be counted in two segments. Lets verify
   check records against their postings (a record with none, or fewer
   than its length says). Returns 0 or an LMDB code. */
typedef void(mem_index_doc_fn) (void *arg, uint32_t agent, uint64_t id, unsigned tf, unsigned dl,
                                bool exact);
int mem_index_verify_docs (mem_store_t *store, MDB_txn *txn, mem_index_doc_fn *fn, void *arg);

void mem_index_test (bool verbose);

#endif
