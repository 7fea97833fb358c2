/*  mem_search — hybrid recall and its fusion; see mem_search.h. */
#include "mem_search.h"
#include "mem_records.h"
#include "mem_vectors.h"
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
mem_weights_default (mem_weights_t *weights)
{
    *weights = (mem_weights_t){1, 1, 0.1, 0.1, 1};
}

//  One candidate with every signal's part.
typedef struct {
    uint64_t id;
    Memd__V1__Record *record;
    double lex, vec, graph;
    double lex_own;              //  its own BM25 (lex may be its context's)
    uint64_t lex_from;           //  the record whose score lex is a share of (0: its own)
    unsigned lifted;             //  the context turn that last raised lex (0: none)
    unsigned lex_rank, vec_rank, graph_rank;
    bool has_vec;                //  vec holds a cosine (ranked or computed)
    double recency, salience;
    double fused;
    double strength;             //  normalised signals: the graph's score space
    double key;                  //  strength plus what the graph passed it
} s_cand_t;

typedef struct {
    mem_store_t *store;
    MDB_txn *txn;
    uint32_t agent;
    const mem_search_t *query;
    mem_query_t *parsed;
    s_cand_t *cands;
    size_t n, cap;
    double lex_floor;            //  the weakest BM25 of a full lexical pool (else 0)
} s_run_t;

//  Live records of the agent that pass the caller's filter; *meta gets
//  the record's docmeta.
static bool
s_admit (s_run_t *run, uint64_t id, mem_docmeta_t *meta)
{
    if (mem_records_docmeta (run->store, run->txn, id, meta) || meta->agent != run->agent
        || (meta->flags & MEM_DOC_TOMBSTONED))
        return false;
    return !run->query->filter || run->query->filter (id, run->query->filter_arg);
}

static bool
s_filter (uint64_t id, void *arg)
{
    mem_docmeta_t meta;
    return s_admit (arg, id, &meta);
}

static s_cand_t *
s_find (s_run_t *run, uint64_t id)
{
    for (size_t i = 0; i < run->n; i++)
        if (run->cands[i].id == id)
            return &run->cands[i];
    return NULL;
}

//  The candidate for id, added if new (with its record; NULL when the
//  record cannot be read: it is then left out).
static s_cand_t *
s_cand (s_run_t *run, uint64_t id, int *rc)
{
    s_cand_t *known = s_find (run, id);
    if (known)
        return known;
    if (run->n == run->cap) {
        size_t cap = run->cap ? run->cap * 2 : 128;
        s_cand_t *grown = realloc (run->cands, cap * sizeof *grown);
        if (!grown) {
            *rc = ENOMEM;
            return NULL;
        }
        run->cands = grown;
        run->cap = cap;
    }
    s_cand_t *c = &run->cands[run->n];
    memset (c, 0, sizeof *c);
    c->id = id;
    int r = mem_records_get (run->store, run->txn, run->agent, id, &c->record);
    if (r == MDB_NOTFOUND)
        return NULL;   //  postings without a live record: verify reports it
    if (r) {
        *rc = r;
        return NULL;
    }
    int64_t age = run->query->now_ms - c->record->created_at_ms;
    c->recency = exp2 (-(double) (age > 0 ? age : 0) / (double) MEM_SEARCH_HALF_LIFE);
    c->salience = c->record->salience;
    run->n++;
    return c;
}

static int
s_by_lex (const void *a, const void *b)
{
    const s_cand_t *x = a, *y = b;
    if (x->lex != y->lex)
        return x->lex > y->lex ? -1 : 1;
    return x->id > y->id ? -1 : x->id < y->id;
}

static int
s_by_fused (const void *a, const void *b)
{
    const s_cand_t *x = a, *y = b;
    if (x->fused != y->fused)
        return x->fused > y->fused ? -1 : 1;
    return x->id > y->id ? -1 : x->id < y->id;
}

//  Raises a candidate's lexical score to value, the share of a session
//  neighbour's (from, of that kind) it inherits, when that is more than it
//  has and it is of the same kind (a session's digest, a SUMMARY, neither
//  gives to nor takes from its turns).
static int
s_lift (s_run_t *run, uint64_t id, int kind, double value, uint64_t from, unsigned turn)
{
    if (!id)
        return 0;
    s_cand_t *c = s_find (run, id);
    int rc = 0;
    if (!c) {
        //  A new candidate only with a score that would have made the pool.
        mem_docmeta_t meta;
        if (value < run->lex_floor || !s_admit (run, id, &meta) || meta.kind != kind)
            return 0;
        c = s_cand (run, id, &rc);
    }
    if (c && (int) c->record->kind == kind && value > c->lex) {
        c->lex = value;
        c->lex_from = from;
        c->lifted = turn;
    }
    return rc;
}

typedef struct {
    uint64_t id;
    double lex;
    const char *session;         //  (the candidate's record holds it)
    int kind;
} s_source_t;

//  Session context: a turn often answers or goes on from its neighbour
//  ("Yes, I drew it myself" after "Did you paint that?"), so the words
//  that find one belong to both. A record's lexical score becomes the
//  most of its own BM25, MEM_SEARCH_CONTEXT_AFTER × the score of the
//  session's record before it and MEM_SEARCH_CONTEXT_BEFORE × the score
//  of the one after it, over MEM_SEARCH_CONTEXT_TURNS turns (each turn
//  passes on only what the last one raised). The maximum, not a sum: a
//  share below 1 never lifts a record above the one it inherits from,
//  and a record the query matches keeps at least its own score. A record
//  outside the BM25 pool joins the candidates when its share would have
//  put it in the pool (its own BM25, below the pool's, counts as 0).
//  On LoCoMo this took recall@10 from 0.642 to 0.729 (docs/benchmarks.md).
static int
s_context (s_run_t *run)
{
    double reach = fmax (MEM_SEARCH_CONTEXT_AFTER, MEM_SEARCH_CONTEXT_BEFORE);
    for (unsigned turn = 1; turn <= MEM_SEARCH_CONTEXT_TURNS; turn++) {
        //  This turn's sources, as they stood before it (lifts change them).
        s_source_t *sources = malloc ((run->n ? run->n : 1) * sizeof *sources);
        if (!sources)
            return ENOMEM;
        size_t n = 0;
        //  Every candidate scores at least the floor, so a record whose
        //  shares are below it can neither add nor raise one: skipped.
        for (size_t i = 0; i < run->n; i++) {
            const s_cand_t *c = &run->cands[i];
            if (c->lex > 0 && c->lifted + 1 == turn && c->record->session_id
                && *c->record->session_id && reach * c->lex >= run->lex_floor)
                sources[n++] = (s_source_t){c->id, c->lex, c->record->session_id,
                                            (int) c->record->kind};
        }
        int rc = 0;
        for (size_t i = 0; i < n && !rc; i++) {
            const s_source_t *src = &sources[i];
            uint64_t prev, next;
            rc = mem_records_session_neighbours (run->store, run->txn, run->agent, src->session,
                                                 src->id, &prev, &next);
            if (!rc)
                rc = s_lift (run, next, src->kind, MEM_SEARCH_CONTEXT_AFTER * src->lex, src->id,
                             turn);
            if (!rc)
                rc = s_lift (run, prev, src->kind, MEM_SEARCH_CONTEXT_BEFORE * src->lex, src->id,
                             turn);
        }
        free (sources);
        if (rc || n == 0)
            return rc;
    }
    return 0;
}

//  The lexical signal: BM25 top P, then phrase boosts, session context,
//  ranks.
static int
s_lexical (s_run_t *run, unsigned pool)
{
    mem_query_t *q = run->parsed;
    if (q->n_terms == 0 || run->query->weights.lexical <= 0)
        return 0;
    mem_hit_t *hits = malloc (pool * sizeof *hits);
    if (!hits)
        return ENOMEM;
    unsigned n = 0;
    int rc = mem_index_search_terms (run->store, run->txn, run->agent, q->terms, q->n_terms, pool,
                                     s_filter, run, hits, &n);
    for (unsigned i = 0; i < n && !rc; i++) {
        s_cand_t *c = s_cand (run, hits[i].id, &rc);
        if (!c)
            continue;
        c->lex = hits[i].score;
        //  A phrase the record holds word for word multiplies its score.
        unsigned held = 0;
        for (unsigned p = 0; p < q->n_phrases; p++)
            held += mem_query_phrase_in (&q->phrases[p], c->record->text, strlen (c->record->text));
        if (held)
            c->lex *= 1 + MEM_SEARCH_PHRASE_BOOST * held / q->n_phrases;
        c->lex_own = c->lex;
    }
    if (n == pool)
        run->lex_floor = hits[n - 1].score;
    free (hits);
    if (!rc)
        rc = s_context (run);
    if (rc)
        return rc;
    //  Ranks by the final score (the candidates so far are all lexical).
    if (run->n)
        qsort (run->cands, run->n, sizeof *run->cands, s_by_lex);
    for (size_t i = 0; i < run->n; i++)
        run->cands[i].lex_rank = (unsigned) i + 1;
    return 0;
}

//  The vector signal: cosine top P.
static int
s_vector (s_run_t *run, unsigned pool, char *err, size_t err_size)
{
    const mem_search_t *query = run->query;
    if (!query->embedding || query->dims == 0 || query->weights.vector <= 0)
        return 0;
    mem_hit_t *hits = malloc (pool * sizeof *hits);
    if (!hits)
        return ENOMEM;
    unsigned n = 0;
    int rc = mem_vectors_search (run->store, run->txn, run->agent, query->embedding, query->dims,
                                 pool, s_filter, run, hits, &n);
    if (rc == MEM_VECTORS_MISMATCH) {
        uint32_t dims = 0;
        mem_vectors_dims (run->store, run->txn, run->agent, &dims);
        snprintf (err, err_size,
                  "query_embedding has %u dimensions, but this agent's embeddings have %u",
                  query->dims, dims);
    }
    for (unsigned i = 0, rank = 0; i < n && !rc; i++) {
        s_cand_t *c = s_cand (run, hits[i].id, &rc);
        if (!c)
            continue;
        c->vec = hits[i].score;
        c->has_vec = true;
        c->vec_rank = ++rank;
    }
    free (hits);
    return rc;
}

//  Weighted fusion needs every candidate's cosine, not only the top P's.
static int
s_vector_fill (s_run_t *run)
{
    const mem_search_t *query = run->query;
    if (!query->embedding || query->dims == 0 || query->weights.vector <= 0)
        return 0;
    for (size_t i = 0; i < run->n; i++) {
        s_cand_t *c = &run->cands[i];
        if (c->has_vec)
            continue;
        int rc = mem_vectors_similarity (run->store, run->txn, c->id, query->embedding,
                                         query->dims, &c->vec);
        if (rc == 0)
            c->has_vec = true;
        else if (rc != MDB_NOTFOUND && rc != MEM_VECTORS_MISMATCH)
            return rc;
    }
    return 0;
}

//  The best BM25 and the best cosine among the candidates (the normalisers
//  of weighted fusion and of the strengths).
static void
s_bests (const s_run_t *run, double *best_lex, double *best_vec)
{
    *best_lex = *best_vec = 0;
    for (size_t i = 0; i < run->n; i++) {
        const s_cand_t *c = &run->cands[i];
        *best_lex = c->lex > *best_lex ? c->lex : *best_lex;
        *best_vec = c->has_vec && c->vec > *best_vec ? c->vec : *best_vec;
    }
}

//  Fused scores of every candidate (see mem_search.h).
static void
s_fuse (s_run_t *run)
{
    const mem_weights_t *w = &run->query->weights;
    double best_lex, best_vec;
    s_bests (run, &best_lex, &best_vec);
    for (size_t i = 0; i < run->n; i++) {
        s_cand_t *c = &run->cands[i];
        double priors = w->recency * c->recency + w->salience * c->salience;
        if (run->query->fusion == MEM_FUSION_WEIGHTED) {
            c->fused = priors;
            if (best_lex > 0)
                c->fused += w->lexical * c->lex / best_lex;
            if (best_vec > 0 && c->has_vec && c->vec > 0)
                c->fused += w->vector * c->vec / best_vec;
            continue;
        }
        c->fused = priors / (MEM_SEARCH_RRF_K + 1);
        if (c->lex_rank)
            c->fused += w->lexical / (MEM_SEARCH_RRF_K + c->lex_rank);
        if (c->vec_rank)
            c->fused += w->vector / (MEM_SEARCH_RRF_K + c->vec_rank);
    }
    if (run->n)   //  (qsort wants an array, even of nothing)
        qsort (run->cands, run->n, sizeof *run->cands, s_by_fused);
}

//  Each candidate's strength: its signals normalised by the best of each
//  and weighted as WEIGHTED fusion weighs them, priors left out, over the
//  weights of the signals in play (lexical alone: BM25 / the best BM25).
//  Unlike RRF's ranks, strengths fall as steeply as the scores do, so a
//  share of a seed's strength says where a neighbour belongs.
static void
s_strengths (s_run_t *run)
{
    const mem_weights_t *w = &run->query->weights;
    double best_lex, best_vec;
    s_bests (run, &best_lex, &best_vec);
    double total = (best_lex > 0 ? w->lexical : 0) + (best_vec > 0 ? w->vector : 0);
    for (size_t i = 0; i < run->n; i++) {
        s_cand_t *c = &run->cands[i];
        double sum = 0;
        if (best_lex > 0)
            sum += w->lexical * c->lex / best_lex;
        if (best_vec > 0 && c->has_vec && c->vec > 0)
            sum += w->vector * c->vec / best_vec;
        c->strength = total > 0 ? sum / total : 0;
    }
}

static int
s_by_key (const void *a, const void *b)
{
    const s_cand_t *x = *(s_cand_t *const *) a, *y = *(s_cand_t *const *) b;
    if (x->key != y->key)
        return x->key > y->key ? -1 : 1;
    return x->id > y->id ? -1 : x->id < y->id;
}

//  The records the graph reached join the fused ranking (the candidates,
//  fused order) by strength: the fused order stands among the others, and
//  a reached record is placed before the first of them it is stronger
//  than, its key being its own strength plus what the seeds passed it (a
//  share of it when the query matched it itself). The first
//  MEM_SEARCH_GRAPH_KEEP places are never taken. A placed record's fused
//  score is set between its neighbours' so scores still fall.
static int
s_graph_place (s_run_t *run)
{
    s_cand_t *placed = malloc (run->n * sizeof *placed);
    s_cand_t **ranked = malloc (run->n * sizeof *ranked);   //  the others, then the reached
    if (!placed || !ranked) {
        free (placed);
        free (ranked);
        return ENOMEM;
    }
    size_t n_others = 0, n_reached = 0;
    for (size_t i = 0; i < run->n; i++)
        if (!run->cands[i].graph_rank)
            ranked[n_others++] = &run->cands[i];
    s_cand_t **reached = ranked + n_others;
    for (size_t i = 0; i < run->n; i++) {
        s_cand_t *c = &run->cands[i];
        if (!c->graph_rank)
            continue;
        bool matched = c->lex_rank || c->vec_rank;
        c->key = c->strength + (matched ? MEM_SEARCH_GRAPH_MATCHED : 1.0) * c->graph;
        reached[n_reached++] = c;
    }
    if (n_reached)
        qsort (reached, n_reached, sizeof *reached, s_by_key);
    size_t out = 0, other = 0, r = 0;
    while (other < n_others || r < n_reached) {
        bool take_reached = r < n_reached
                            && (other == n_others
                                || (out >= MEM_SEARCH_GRAPH_KEEP
                                    && reached[r]->key > ranked[other]->strength));
        if (!take_reached) {
            placed[out++] = *ranked[other++];
            continue;
        }
        s_cand_t c = *reached[r++];
        double after = other < n_others ? ranked[other]->fused : 0;
        double before = out ? placed[out - 1].fused : after;
        c.fused = (before + after) / 2;
        placed[out++] = c;
    }
    memcpy (run->cands, placed, run->n * sizeof *placed);
    free (placed);
    free (ranked);
    return 0;
}

//  The graph seam: the fused best, with their strengths, as seeds; the
//  records they reach, scored in strength, placed into the ranking.
static int
s_graph (s_run_t *run, unsigned pool)
{
    const mem_search_t *query = run->query;
    if (!query->graph || query->weights.graph <= 0 || run->n == 0)
        return 0;
    s_strengths (run);
    unsigned n_seeds = run->n < MEM_SEARCH_SEEDS ? (unsigned) run->n : MEM_SEARCH_SEEDS;
    mem_hit_t seeds[MEM_SEARCH_SEEDS];
    for (unsigned i = 0; i < n_seeds; i++)
        seeds[i] = (mem_hit_t){run->cands[i].id, run->cands[i].strength};
    mem_hit_t *related = malloc (pool * sizeof *related);
    if (!related)
        return ENOMEM;
    unsigned n = 0;
    int rc = query->graph (run->txn, run->agent, seeds, n_seeds, related, pool, &n,
                           query->graph_arg);
    for (unsigned i = 0, rank = 0; i < n && !rc; i++) {
        if (!s_filter (related[i].id, run))   //  (the seeds are not among them: mem_graph_fn)
            continue;
        s_cand_t *c = s_cand (run, related[i].id, &rc);
        if (!c || c->graph_rank)
            continue;
        c->graph = query->weights.graph * related[i].score;
        c->graph_rank = ++rank;
    }
    free (related);
    return rc ? rc : s_graph_place (run);
}

//  "rrf 0.0327 = lexical #1 0.0164 (bm25 8.12) + vector #3 ... ; bm25 …"
static char *
s_explain (s_run_t *run, const s_cand_t *c)
{
    char *buf = malloc (MEM_SEARCH_EXPLAIN_MAX);
    if (!buf)
        return NULL;
    const mem_weights_t *w = &run->query->weights;
    bool rrf = run->query->fusion != MEM_FUSION_WEIGHTED;
    size_t size = MEM_SEARCH_EXPLAIN_MAX, used = 0;
#define S_PUT(...)                                                                         \
    do {                                                                                   \
        if (used < size)                                                                   \
            used += (size_t) snprintf (buf + used, size - used, __VA_ARGS__);             \
    } while (0)
    S_PUT ("%s %.4f =", rrf ? "rrf" : "weighted", c->fused);
    const char *plus = "";
    if (c->lex_from) {
        S_PUT ("%s lexical #%u (context %.3f from #%" PRIu64 ", bm25 %.3f)", plus, c->lex_rank,
               c->lex, c->lex_from, c->lex_own);
        plus = " +";
    } else if (c->lex_rank || (!rrf && c->lex > 0)) {
        S_PUT ("%s lexical #%u (bm25 %.3f)", plus, c->lex_rank, c->lex);
        plus = " +";
    }
    if (c->vec_rank || (!rrf && c->has_vec)) {
        S_PUT ("%s vector #%u (cos %.3f)", plus, c->vec_rank, c->vec);
        plus = " +";
    }
    if (c->graph_rank) {
        S_PUT ("%s graph #%u (%.3f, placed at strength %.3f)", plus, c->graph_rank, c->graph,
               c->key);
        plus = " +";
    }
    S_PUT ("%s recency %.3f x %.2f + salience %.2f x %.2f", plus, c->recency, w->recency,
           c->salience, w->salience);
    if (c->lex_own > 0 && used + 8 < size) {
        S_PUT ("; ");
        mem_index_explain_terms (run->store, run->txn, run->agent, run->parsed->terms,
                                 run->parsed->n_terms, c->id, buf + used, size - used);
    }
#undef S_PUT
    return buf;
}

int
mem_search_run (mem_store_t *store, MDB_txn *txn, uint32_t agent, const mem_search_t *query,
                mem_search_hit_t *hits, unsigned *n_hits, char *err, size_t err_size)
{
    *n_hits = 0;
    if (query->k == 0)
        return 0;
    s_run_t run = {store, txn, agent, query, malloc (sizeof (mem_query_t)), NULL, 0, 0, 0};
    if (!run.parsed)
        return ENOMEM;
    mem_query_parse (query->text ? query->text : "", query->text ? query->len : 0, run.parsed);
    unsigned pool = query->k > MEM_SEARCH_POOL ? query->k : MEM_SEARCH_POOL;
    int rc = s_lexical (&run, pool);
    if (!rc)
        rc = s_vector (&run, pool, err, err_size);
    if (!rc && query->fusion == MEM_FUSION_WEIGHTED)
        rc = s_vector_fill (&run);
    if (!rc)
        s_fuse (&run);
    if (!rc)
        rc = s_graph (&run, pool);
    unsigned n = 0;
    for (size_t i = 0; i < run.n; i++) {
        s_cand_t *c = &run.cands[i];
        if (rc || n == query->k) {
            memd__v1__record__free_unpacked (c->record, NULL);
            continue;
        }
        mem_search_hit_t *hit = &hits[n++];
        *hit = (mem_search_hit_t){c->id,         c->fused,      c->record,   c->lex_rank,
                                  c->vec_rank,   c->graph_rank, c->lex,      c->vec,
                                  c->graph,      c->recency,    c->salience, NULL};
        if (query->explain)
            hit->explain = s_explain (&run, c);
    }
    free (run.cands);
    free (run.parsed);
    if (rc) {
        mem_search_hits_free (hits, n);
        return rc;
    }
    *n_hits = n;
    return 0;
}

void
mem_search_hits_free (mem_search_hit_t *hits, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (hits[i].record)
            memd__v1__record__free_unpacked (hits[i].record, NULL);
        free (hits[i].explain);
        hits[i].record = NULL;
        hits[i].explain = NULL;
    }
}

//  --------------------------------------------------------------------------
//  Selftest: a small corpus where each signal's answer is known by hand.

#undef NDEBUG
#include <assert.h>

#define S_DAY (24LL * 3600 * 1000)
#define S_NOW (1000 * S_DAY)

typedef struct {
    const char *text;
    const char *speaker;         //  NULL: none
    float embedding[3];
    int64_t age_days;
    float salience;
} s_doc_t;

//  id 1..n in order
static const s_doc_t s_docs[] = {
    /* 1 */ {"We chose LMDB for storage because readers never block", NULL, {1, 0, 0}, 40, 0.5f},
    /* 2 */ {"Backups of the storage run nightly at two", NULL, {0, 1, 0}, 10, 0.5f},
    /* 3 */ {"The cat sleeps on the warm laptop", "Caroline", {0, 0, 1}, 1, 0.5f},
    /* 4 */ {"I went to the support group yesterday", "Caroline", {0.7f, 0.7f, 0}, 300, 0.9f},
    /* 5 */ {"Storage storage storage engines compared", NULL, {0.1f, 0, 1}, 5, 0.2f},
    /* 6 */ {"The king of the hill won the race", "Melanie", {0, 0.2f, 1}, 2, 0.5f},
    /* 7 */ {"the hill and the king went home", "Melanie", {0, 0.3f, 1}, 2, 0.5f},
};
#define S_DOCS (sizeof s_docs / sizeof s_docs[0])

//  Agent "talk": two sessions of a conversation, ids S_DOCS + 1 on.
static const struct {
    const char *session, *text;
} s_turns[] = {
    {"s1", "Hi Mel, how was your week?"},              //  8
    {"s1", "Did you paint that sunset yourself?"},     //  9
    {"s1", "Yes, I drew it last week with pastels"},   //  10
    {"s1", "Thanks, it hangs in the hall now"},        //  11
    {"s1", "See you at the gallery soon"},             //  12
    {"s2", "The sunset over the lake was orange"},     //  13
    {"s2", "We swam until dark"},                      //  14
    {"s2", "An evening by the water"},                 //  15, a SUMMARY
};
#define S_TURNS (sizeof s_turns / sizeof s_turns[0])

static const mem_search_hit_t *
s_hit (const mem_search_hit_t *hits, unsigned n, uint64_t id)
{
    for (unsigned i = 0; i < n; i++)
        if (hits[i].id == id)
            return &hits[i];
    return NULL;
}

static bool
s_not_10 (uint64_t id, void *arg)
{
    (void) arg;
    return id != 10;
}

static uint64_t
s_top (mem_store_t *store, MDB_txn *txn, uint32_t agent, mem_search_t *q, unsigned *n,
       mem_search_hit_t *hits)
{
    char err[256];
    assert (mem_search_run (store, txn, agent, q, hits, n, err, sizeof err) == 0);
    return *n ? hits[0].id : 0;
}

//  A fake graph: one record, reached with a given score.
typedef struct {
    int calls;
    mem_hit_t reached;
} s_test_graph_t;

static int
s_test_graph (MDB_txn *txn, uint32_t agent, const mem_hit_t *seeds, unsigned n_seeds,
              mem_hit_t *out, unsigned max, unsigned *n_out, void *arg)
{
    (void) txn, (void) agent, (void) max;
    s_test_graph_t *graph = arg;
    graph->calls++;
    assert (n_seeds > 0 && seeds[0].score == 1.0);   //  the best's strength is 1
    out[0] = graph->reached;
    *n_out = 1;
    return 0;
}

void
mem_search_test (bool verbose)
{
    printf (" * mem_search: ");
    char dir[] = "/tmp/mem_search_test.XXXXXX";
    assert (mkdtemp (dir));
    char err[256];
    mem_store_options_t opts;
    mem_store_options_default (&opts);
    opts.dir = dir;
    opts.sync = MEM_SYNC_NONE;
    mem_store_t *store = mem_store_open (&opts, err, sizeof err);
    assert (store);
    mem_index_writer_t *writer = mem_index_writer_new (store);
    MDB_txn *txn;
    assert (mem_store_write_begin (store, &txn) == 0);
    mem_capture_batch_t batch;
    assert (mem_capture_batch_begin (&batch, store, txn, writer) == 0);
    for (size_t i = 0; i < S_DOCS; i++) {
        Memd__V1__Record rec = MEMD__V1__RECORD__INIT;
        Memd__V1__Record__MetadataEntry entry = MEMD__V1__RECORD__METADATA_ENTRY__INIT;
        Memd__V1__Record__MetadataEntry *entries[] = {&entry};
        rec.text = (char *) s_docs[i].text;
        rec.created_at_ms = S_NOW - s_docs[i].age_days * S_DAY;
        rec.salience = s_docs[i].salience;
        rec.embedding = (float *) s_docs[i].embedding;
        rec.n_embedding = 3;
        if (s_docs[i].speaker) {
            entry.key = "speaker";
            entry.value = (char *) s_docs[i].speaker;
            rec.metadata = entries;
            rec.n_metadata = 1;
        }
        uint64_t id;
        bool dup;
        assert (mem_records_capture (&batch, &rec, "agent", S_NOW, &id, &dup) == 0);
        assert (id == i + 1 && !dup);
    }
    for (size_t i = 0; i < S_TURNS; i++) {
        Memd__V1__Record rec = MEMD__V1__RECORD__INIT;
        rec.text = (char *) s_turns[i].text;
        rec.session_id = (char *) s_turns[i].session;
        rec.created_at_ms = S_NOW;
        if (i == S_TURNS - 1)
            rec.kind = MEMD__V1__KIND__SUMMARY;
        uint64_t id;
        bool dup;
        assert (mem_records_capture (&batch, &rec, "talk", S_NOW, &id, &dup) == 0);
        assert (id == S_DOCS + i + 1 && !dup);
    }
    assert (mem_capture_batch_finish (&batch) == 0);
    assert (mem_index_writer_flush (writer, txn) == 0);
    assert (mem_store_write_commit (store, &txn) == 0);

    assert (mem_store_read_begin (store, &txn) == 0);
    uint32_t agent;
    assert (mem_agents_lookup (store, txn, "agent", false, &agent) == 0);
    mem_search_hit_t hits[8];
    unsigned n;
    mem_search_t q = {0};
    q.k = 8;
    q.now_ms = S_NOW;
    q.fusion = MEM_FUSION_RRF;

    //  Lexical alone: "storage" is in 1, 2 and 5; 5 says it three times.
    q.weights = (mem_weights_t){1, 0, 0, 0, 0};
    q.text = "storage";
    q.len = strlen (q.text);
    assert (s_top (store, txn, agent, &q, &n, hits) == 5);
    assert (n == 3 && hits[0].lex_rank == 1 && hits[1].lex_rank == 2 && hits[0].vec_rank == 0);
    assert (hits[0].score > hits[1].score && hits[1].score > hits[2].score);
    assert (fabs (hits[0].score - 1 / (MEM_SEARCH_RRF_K + 1)) < 1e-12);
    mem_search_hits_free (hits, n);
    //  The speaker field: Caroline said 3 and 4; her name is in no text.
    q.text = "what did Caroline say";
    q.len = strlen (q.text);
    s_top (store, txn, agent, &q, &n, hits);
    assert (n == 2 && (hits[0].id == 3 || hits[0].id == 4) && hits[0].score == 1 / 61.0);
    mem_search_hits_free (hits, n);
    //  A phrase: 6 holds "king of the hill"; 7 has the words, not the phrase.
    q.text = "\"king of the hill\"";
    q.len = strlen (q.text);
    s_top (store, txn, agent, &q, &n, hits);
    assert (n == 2 && hits[0].id == 6 && hits[1].id == 7);
    assert (fabs (hits[0].lex - 2 * hits[1].lex) < 0.5 * hits[1].lex);   //  boosted x2
    mem_search_hits_free (hits, n);
    //  Prefix and fuzzy: "stor*" finds the storage records, "storagez" too.
    q.text = "backu*";
    q.len = strlen (q.text);
    assert (s_top (store, txn, agent, &q, &n, hits) == 2 && n == 1);
    mem_search_hits_free (hits, n);
    q.text = "laptopz";
    q.len = strlen (q.text);
    assert (s_top (store, txn, agent, &q, &n, hits) == 3 && n == 1);
    mem_search_hits_free (hits, n);
    q.text = "what is it";   //  only stopwords: nothing lexical to go on
    q.len = strlen (q.text);
    assert (s_top (store, txn, agent, &q, &n, hits) == 0 && n == 0);

    //  Session context: "paint sunset" matches 9 and 13 (one word). 10
    //  answers 9 and takes 0.85 of its score, 11 0.85 of that (two turns;
    //  12 is three away), 8 before it 0.7; 14 takes 0.85 of 13's, and
    //  passes nothing on to 15, a SUMMARY (only records of one kind do).
    uint32_t talk;
    assert (mem_agents_lookup (store, txn, "talk", false, &talk) == 0);
    q.text = "paint sunset";
    q.len = strlen (q.text);
    q.explain = true;
    assert (s_top (store, txn, talk, &q, &n, hits) == 9 && n == 6 && !s_hit (hits, n, 12)
            && !s_hit (hits, n, 15));
    double s9 = hits[0].lex, s13 = s_hit (hits, n, 13)->lex;
    assert (s9 > s13 && s13 > 0);
    assert (fabs (s_hit (hits, n, 10)->lex - MEM_SEARCH_CONTEXT_AFTER * s9) < 1e-9);
    double after2 = MEM_SEARCH_CONTEXT_AFTER * MEM_SEARCH_CONTEXT_AFTER;
    assert (fabs (s_hit (hits, n, 11)->lex - after2 * s9) < 1e-9);
    assert (fabs (s_hit (hits, n, 8)->lex - MEM_SEARCH_CONTEXT_BEFORE * s9) < 1e-9);
    assert (fabs (s_hit (hits, n, 14)->lex - MEM_SEARCH_CONTEXT_AFTER * s13) < 1e-9);
    assert (hits[1].id == 10 && s_hit (hits, n, 10)->lex_rank == 2);
    assert (strstr (hits[1].explain, "context") && strstr (hits[1].explain, "from #9"));
    if (verbose)
        printf ("\n   %s\n   ", hits[1].explain);
    mem_search_hits_free (hits, n);
    //  A record the filter leaves out passes nothing on: without 10, no 11.
    q.filter = s_not_10;
    s_top (store, txn, talk, &q, &n, hits);
    assert (n == 4 && !s_hit (hits, n, 10) && !s_hit (hits, n, 11) && s_hit (hits, n, 8));
    mem_search_hits_free (hits, n);
    q.filter = NULL;
    q.explain = false;

    //  Vector alone: [1, 0.1, 0] is closest to 1, then 4 (0.7, 0.7).
    float e[3] = {1, 0.1f, 0};
    q.embedding = e;
    q.dims = 3;
    q.weights = (mem_weights_t){0, 1, 0, 0, 0};
    q.text = "";
    q.len = 0;
    assert (s_top (store, txn, agent, &q, &n, hits) == 1);
    assert (n == S_DOCS && hits[1].id == 4 && hits[0].vec > hits[1].vec);
    mem_search_hits_free (hits, n);
    q.dims = 2;
    assert (mem_search_run (store, txn, agent, &q, hits, &n, err, sizeof err)
            == MEM_VECTORS_MISMATCH);
    assert (strstr (err, "2 dimensions") && strstr (err, "have 3"));
    q.dims = 3;

    //  Recency alone ranks the newest first (3, a day old); salience alone
    //  the most salient (4).
    q.weights = (mem_weights_t){0.0001, 0, 1, 0, 0};
    q.text = "storage cat king support backups";
    q.len = strlen (q.text);
    q.embedding = NULL;
    assert (s_top (store, txn, agent, &q, &n, hits) == 3);
    assert (hits[0].recency > 0.97 && hits[n - 1].id == 4);
    mem_search_hits_free (hits, n);
    q.weights = (mem_weights_t){0.0001, 0, 0, 1, 0};
    assert (s_top (store, txn, agent, &q, &n, hits) == 4 && hits[0].salience > 0.89f);
    mem_search_hits_free (hits, n);

    //  Fusion: "storage" by text ranks 5, 2, 1 (5 says it three times; 2
    //  is shorter than 1); [0.1, 0, 1] by vector ranks 5, 3, 6, 7, 1, 4, 2.
    //  RRF: 5 = 1/61 + 1/61; 1 = 1/63 + 1/65 = 0.031258; 2 = 1/62 + 1/67 =
    //  0.031054; 3 = 1/62 (vector only).
    float e5[3] = {0.1f, 0, 1};
    q.embedding = e5;
    q.text = "storage";
    q.len = strlen (q.text);
    q.weights = (mem_weights_t){1, 1, 0, 0, 0};
    q.explain = true;
    assert (s_top (store, txn, agent, &q, &n, hits) == 5);
    assert (hits[0].lex_rank == 1 && hits[0].vec_rank == 1);
    assert (fabs (hits[0].score - 2 / 61.0) < 1e-12);
    assert (hits[1].id == 1 && fabs (hits[1].score - (1 / 63.0 + 1 / 65.0)) < 1e-12);
    assert (hits[2].id == 2 && fabs (hits[2].score - (1 / 62.0 + 1 / 67.0)) < 1e-12);
    assert (hits[3].id == 3 && hits[3].lex_rank == 0 && hits[3].vec_rank == 2);
    assert (strstr (hits[0].explain, "rrf ") && strstr (hits[0].explain, "lexical #1")
            && strstr (hits[0].explain, "vector #1") && strstr (hits[0].explain, "storag="));
    if (verbose)
        printf ("\n   %s\n   ", hits[0].explain);
    mem_search_hits_free (hits, n);
    //  Recency as a prior (worth rank 1 at 1.0): 2 is 10 days old (0.794),
    //  1 is 40 (0.397): 0.1 x 0.794 / 61 lifts 2 over 1.
    q.weights = (mem_weights_t){1, 1, 0.1, 0, 0};
    s_top (store, txn, agent, &q, &n, hits);
    assert (hits[0].id == 5 && hits[1].id == 2 && hits[2].id == 1);
    assert (fabs (hits[1].score - (1 / 62.0 + 1 / 67.0 + 0.1 * exp2 (-10 / 30.0) / 61)) < 1e-9);
    mem_search_hits_free (hits, n);
    //  Weighted: 5 = 1 + 1; 1 has bm25 below 5's and a cosine of 0.1.
    q.fusion = MEM_FUSION_WEIGHTED;
    assert (s_top (store, txn, agent, &q, &n, hits) == 5);
    assert (hits[0].score > 2 && strstr (hits[0].explain, "weighted"));
    for (unsigned i = 0; i < n; i++)
        if (hits[i].id == 1)
            assert (hits[i].vec > 0.09 && hits[i].vec < 0.11);   //  filled in
    mem_search_hits_free (hits, n);
    q.explain = false;

    //  The graph seam: "storage" ranks 5 (strength 1), then 1 and 2, both
    //  weaker than 0.9; the graph's record 6 goes before the first direct
    //  hit weaker than what reached it, never into the first place.
    s_test_graph_t graph = {0, {6, 0.9}};
    q.fusion = MEM_FUSION_RRF;
    q.graph = s_test_graph;
    q.graph_arg = &graph;
    q.weights = (mem_weights_t){1, 0, 0, 0, 1};
    q.text = "storage";
    q.len = strlen (q.text);
    q.embedding = NULL;
    q.explain = true;
    assert (s_top (store, txn, agent, &q, &n, hits) == 5 && graph.calls == 1);
    assert (n == 4 && hits[1].id == 6 && hits[1].graph_rank == 1 && hits[0].graph_rank == 0);
    assert (strstr (hits[1].explain, "graph #1"));
    for (unsigned i = 1; i < n; i++)
        assert (hits[i].score < hits[i - 1].score);
    mem_search_hits_free (hits, n);
    graph.reached.score = 50;   //  however strong, not the first place
    assert (s_top (store, txn, agent, &q, &n, hits) == 5 && hits[1].id == 6);
    mem_search_hits_free (hits, n);
    graph.reached.score = 0.01;   //  weaker than every direct hit: last
    assert (s_top (store, txn, agent, &q, &n, hits) == 5 && n == 4 && hits[3].id == 6);
    mem_search_hits_free (hits, n);
    q.weights.graph = 0;   //  weight 0: no graph
    assert (s_top (store, txn, agent, &q, &n, hits) == 5 && n == 3 && graph.calls == 3);
    mem_search_hits_free (hits, n);
    q.explain = false;
    mem_store_read_end (store, &txn);

    //  Forgotten records are never candidates, on any signal.
    assert (mem_store_write_begin (store, &txn) == 0);
    assert (mem_records_forget (store, txn, agent, 5, S_NOW) == 0);
    q.graph = NULL;
    q.weights = (mem_weights_t){1, 1, 0, 0, 0};
    q.embedding = e5;
    q.text = "storage";
    q.len = strlen (q.text);
    s_top (store, txn, agent, &q, &n, hits);
    for (unsigned i = 0; i < n; i++)
        assert (hits[i].id != 5);
    mem_search_hits_free (hits, n);
    mem_store_write_abort (store, &txn);

    mem_index_writer_destroy (&writer);
    mem_store_destroy (&store);
    char cmd[300];
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    assert (system (cmd) == 0);
    printf ("OK\n");
}
