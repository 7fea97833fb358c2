/*  bench_locomo — turn-level retrieval quality on LoCoMo (issue 7 item 6).

    Reads a LoCoMo data file (the format is in shared/data/README.md),
    captures every turn of every conversation into a real memd started on
    temporary directories, asks every question of categories 1–4 within its
    conversation, and scores the ranked turns against the question's
    evidence dia_ids. The same turns and questions go through SQLite FTS5
    in the same run, built the way the data README's baseline describes
    (one row per turn, porter unicode61, the question's words minus
    stopwords OR-joined, bm25(), limited to the question's conversation).

    A turn becomes one EPISODIC record: agent = the conversation id
    (sample_id), session = "session_N", created_at_ms = the session's date
    (UTC), metadata speaker and dia_id. Record has no speaker field, and
    memd indexes only the text, so the text is the transcript line
    "Speaker: text" (--text-only leaves the speaker out), on both engines.
    dia_ids map back through the record ids memd returns on capture.

    Metrics (the LoCoMo repo's own): recall@k = the fraction of a
    question's evidence found in the top k, averaged over questions, for
    k = 1, 5, 10, 25; hit@10 = any evidence in the top 10; MRR over the top
    25. Questions without evidence and evidence ids that name no turn
    count as misses, never dropped. Overall = categories 1–4.

    The table has one column per retrieval system, all from the same
    capture: memd-lex (the question's text alone), +graph (the same with
    recall along the graph, Recall.graph, after every conversation's graph
    is linked and built; docs/graph.md), memd-hyb (the text and its
    embedding, fused), hyb+graph (that with the graph), memd-vec (the
    embedding alone), and FTS5. The memd columns without the graph ask with
    RECALL_GRAPH_OFF. The embeddings are bench_embed's HASHED CHARACTER
    N-GRAMS, computed here for every turn and question: a deterministic
    local stand-in any machine can compute, not a learned model. A real
    model's vectors come from a file (--texts lists what to embed,
    bench/embedder embeds it, --embeddings reads it; bench_vectors.h). See
    docs/benchmarks.md.
*/
#include <czmq.h>
#include <jansson.h>
#include <sqlite3.h>
#include "memd_client.h"
#include "bench_daemon.h"
#include "bench_embed.h"
#include "bench_vectors.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#undef NDEBUG
#include <assert.h>

#define S_NAME         "bench_locomo"
#define S_DEPTH        25    //  hits asked of each engine: the largest k
#define S_KS           4     //  recall@k for k in s_ks
#define S_CATS         5     //  0 = overall (categories 1-4), then 1..4
#define S_BATCH        1000  //  records per capture call
#define S_CALL_MS      60000 //  client timeout
#define S_DEFAULT_DATA "../shared/data/locomo-dev.json"
#define S_DEFAULT_JSON "bench/results/locomo.json"
#define S_STR(x)       S_STR_ (x)
#define S_STR_(x)      #x

static const unsigned s_ks[S_KS] = {1, 5, 10, 25};
static const char *s_cat_names[S_CATS] = {"all", "1 multi-hop", "2 temporal", "3 open-domain",
                                          "4 single-hop"};

//  The systems compared, one table column each
enum { SYS_MEMD_LEX, SYS_MEMD_GRAPH, SYS_MEMD_HYB, SYS_MEMD_HYBG, SYS_MEMD_VEC, SYS_FTS5,
       SYS_COUNT };
static const char *s_systems[SYS_COUNT] = {"memd-lex", "+graph", "memd-hyb", "hyb+graph",
                                           "memd-vec", "fts5"};
#define S_HAS_GRAPH(s) ((s) == SYS_MEMD_GRAPH || (s) == SYS_MEMD_HYBG)

typedef struct {
    const char *data;
    const char *json;
    const char *memd;     //  NULL = next to this binary
    size_t max_convs;     //  0 = all
    size_t max_questions; //  per conversation, 0 = all
    bool text_only;       //  leave the speaker out of the indexed text
    bool captions;        //  append image captions (blip_caption) to the text
    bool per_question;    //  per-question evidence ranks in the JSON
    size_t dims;          //  embedding dimension (bench_embed, or the file's)
    const char *texts;      //  write the texts to embed here and stop
    const char *embeddings; //  a real model's vectors (bench_vectors), not bench_embed
    float weights[5];     //  memd-hyb's RankWeights (lexical, vector, recency, salience, graph); 0s: memd's
    int fusion;           //  memd-hyb's Fusion (0: memd's default)
    bool run[SYS_COUNT];
    bool verbose;
} s_opts_t;

typedef struct {
    char *dia; //  "D3:5"
    char *speaker;
    char *text;       //  as indexed (see the layout options)
    char session[24]; //  "session_N"
    int64_t created_at_ms;
    size_t conv;
    uint64_t id; //  memd record id
} s_turn_t;

typedef struct {
    char *question;
    int category;    //  1..4
    char **evidence; //  as given; "" for a non-string entry
    size_t n_evidence;
    size_t conv;
} s_question_t;

typedef struct {
    char *id; //  sample_id: memd's agent
    size_t first_turn, n_turns;
} s_conv_t;

//  One question's score
typedef struct {
    double recall[S_KS];
    double hit10;
    double rr;
} s_qscore_t;

//  Sums over the questions of one category
typedef struct {
    size_t n;
    double recall[S_KS];
    double hit10;
    double mrr;
} s_metrics_t;

typedef struct {
    bool ran;
    int32_t *ranked;          //  n_questions x S_DEPTH turn indexes
    uint8_t *n_ranked;        //  per question
    double *latency_us;       //  per question
    s_metrics_t cats[S_CATS]; //  means once s_metrics_finish ran
    double p50_us, mean_us;
    size_t no_hits; //  questions that got no hit at all
} s_system_t;

typedef struct {
    s_opts_t opts;
    json_t *root;
    s_conv_t *convs;
    size_t n_convs;
    s_turn_t *turns;
    size_t n_turns;
    s_question_t *questions;
    size_t n_questions;
    size_t skipped_questions; //  category 5 (or none of 1-4)
    size_t no_evidence;       //  questions without evidence
    size_t unknown_evidence;  //  evidence ids that name no turn of the conversation
    size_t bad_dates;         //  sessions whose date did not parse
    size_t duplicates;        //  turns memd deduplicated onto an earlier turn's record
    size_t by_cat[S_CATS];
    uint64_t data_bytes;
    char base[64];
    char memd_version[64];
    s_system_t sys[SYS_COUNT];
    bench_vectors_t *vectors; //  --embeddings
} s_bench_t;

static volatile sig_atomic_t s_interrupted = 0;

static double s_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

//  --------------------------------------------------------------------------
//  Scoring

//  Scores one ranked list (dia ids, best first) against the evidence: the
//  share of evidence ids in the top k, whether any is in the top 10, and
//  the reciprocal rank of the first. No evidence scores 0 (a miss).
static void s_score_question (const char *const *ranked, size_t n_ranked,
                              const char *const *evidence, size_t n_evidence, s_qscore_t *out)
{
    memset (out, 0, sizeof (*out));
    size_t first = SIZE_MAX;
    for (size_t e = 0; e < n_evidence; e++) {
        size_t rank = SIZE_MAX;
        for (size_t r = 0; r < n_ranked && rank == SIZE_MAX; r++)
            if (*evidence[e] && strcmp (ranked[r], evidence[e]) == 0)
                rank = r;
        if (rank == SIZE_MAX)
            continue;
        for (size_t k = 0; k < S_KS; k++)
            if (rank < s_ks[k])
                out->recall[k] += 1.0 / (double)n_evidence;
        if (rank < first)
            first = rank;
    }
    out->hit10 = first < 10;
    out->rr = first == SIZE_MAX ? 0 : 1.0 / (double)(first + 1);
}

static void s_metrics_add (s_metrics_t *m, const s_qscore_t *score)
{
    m->n++;
    for (size_t k = 0; k < S_KS; k++)
        m->recall[k] += score->recall[k];
    m->hit10 += score->hit10;
    m->mrr += score->rr;
}

//  Sums to means
static void s_metrics_finish (s_metrics_t *m)
{
    double n = m->n ? (double)m->n : NAN;
    for (size_t k = 0; k < S_KS; k++)
        m->recall[k] /= n;
    m->hit10 /= n;
    m->mrr /= n;
}

static int s_double_compare (const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

//  Scores every question of a system that ran; checks what must hold of
//  any ranking (monotone recall, hit@10 >= recall@10, bounds). Returns -1
//  if something does not.
static int s_system_score (s_bench_t *self, s_system_t *sys, const char *name)
{
    memset (sys->cats, 0, sizeof (sys->cats));
    sys->no_hits = 0;
    for (size_t q = 0; q < self->n_questions; q++) {
        const s_question_t *question = &self->questions[q];
        const char *ranked[S_DEPTH];
        size_t n = sys->n_ranked[q];
        for (size_t r = 0; r < n; r++) {
            int32_t turn = sys->ranked[q * S_DEPTH + r];
            assert (turn >= 0 && (size_t)turn < self->n_turns);
            ranked[r] = self->turns[turn].dia;
        }
        s_qscore_t score;
        s_score_question (ranked, n, (const char *const *)question->evidence, question->n_evidence,
                          &score);
        for (size_t k = 0; k < S_KS; k++)
            if (score.recall[k] < -1e-12 || score.recall[k] > 1 + 1e-12 ||
                (k && score.recall[k] + 1e-12 < score.recall[k - 1])) {
                fprintf (stderr, "%s: %s: question %zu: bad recall@%u %f\n", S_NAME, name, q,
                         s_ks[k], score.recall[k]);
                return -1;
            }
        if (score.hit10 + 1e-12 < score.recall[2] || score.rr > 1) {
            fprintf (stderr, "%s: %s: question %zu: inconsistent scores\n", S_NAME, name, q);
            return -1;
        }
        s_metrics_add (&sys->cats[0], &score);
        s_metrics_add (&sys->cats[question->category], &score);
        sys->no_hits += n == 0;
    }
    for (size_t c = 0; c < S_CATS; c++)
        s_metrics_finish (&sys->cats[c]);
    double *sorted = malloc ((self->n_questions + 1) * sizeof (double));
    if (!sorted)
        return -1;
    double sum = 0;
    for (size_t q = 0; q < self->n_questions; q++)
        sum += sorted[q] = sys->latency_us[q];
    qsort (sorted, self->n_questions, sizeof (double), s_double_compare);
    size_t r50 = (size_t)ceil (0.5 * (double)self->n_questions);
    sys->p50_us = self->n_questions ? sorted[(r50 ? r50 : 1) - 1] : NAN;
    sys->mean_us = self->n_questions ? sum / (double)self->n_questions : NAN;
    free (sorted);
    return 0;
}

//  --------------------------------------------------------------------------
//  Loading the data

//  "1:56 pm on 8 May, 2023" -> ms since the epoch (UTC); -1 if it does not parse
static int64_t s_parse_date (const char *text)
{
    static const char *months[] = {"january",   "february", "march",    "april",
                                   "may",       "june",     "july",     "august",
                                   "september", "october",  "november", "december"};
    int hour, minute, day, year;
    char ampm[3], month[16];
    if (!text || sscanf (text, "%d:%d %2[apmAPM] on %d %15[A-Za-z], %d", &hour, &minute, ampm,
                         &day, month, &year) != 6)
        return -1;
    for (char *c = month; *c; c++)
        *c = (char)tolower ((unsigned char)*c);
    int mon = -1;
    for (int i = 0; i < 12; i++)
        if (strcmp (month, months[i]) == 0)
            mon = i;
    bool pm = tolower ((unsigned char)ampm[0]) == 'p';
    if (mon < 0 || hour < 1 || hour > 12 || minute < 0 || minute > 59 || day < 1 || day > 31)
        return -1;
    struct tm tm = {0};
    tm.tm_year = year - 1900;
    tm.tm_mon = mon;
    tm.tm_mday = day;
    tm.tm_hour = hour % 12 + (pm ? 12 : 0);
    tm.tm_min = minute;
    return (int64_t)timegm (&tm) * 1000;
}

static char *s_strdup_printf (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *s = NULL;
    if (vasprintf (&s, format, args) < 0)
        s = NULL;
    va_end (args);
    return s;
}

//  The session numbers of a conversation object, sorted
static size_t s_session_numbers (json_t *conversation, unsigned *numbers, size_t max)
{
    size_t n = 0;
    const char *key;
    json_t *value;
    json_object_foreach (conversation, key, value)
    {
        unsigned number;
        int used = 0;
        if (json_is_array (value) && sscanf (key, "session_%u%n", &number, &used) == 1 &&
            key[used] == 0 && n < max)
            numbers[n++] = number;
    }
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && numbers[j - 1] > numbers[j]; j--) {
            unsigned t = numbers[j];
            numbers[j] = numbers[j - 1];
            numbers[j - 1] = t;
        }
    return n;
}

static void *s_grow (void *array, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return array;
    size_t cap2 = *cap ? *cap * 2 : 64;
    while (cap2 < need)
        cap2 *= 2;
    void *grown = realloc (array, cap2 * size);
    if (grown)
        *cap = cap2;
    return grown;
}

//  Adds one turn object of conversation c; skips (and reports) a malformed one
static int s_load_turn (s_bench_t *self, json_t *turn, size_t c, const char *session,
                        int64_t created_at_ms, size_t *cap)
{
    const char *dia = json_string_value (json_object_get (turn, "dia_id"));
    const char *speaker = json_string_value (json_object_get (turn, "speaker"));
    const char *text = json_string_value (json_object_get (turn, "text"));
    const char *caption = json_string_value (json_object_get (turn, "blip_caption"));
    if (!dia || !text) {
        fprintf (stderr, "%s: %s %s: a turn without dia_id or text, skipped\n", S_NAME,
                 self->convs[c].id, session);
        return 0;
    }
    if (!speaker)
        speaker = "";
    s_turn_t *turns = s_grow (self->turns, cap, self->n_turns + 1, sizeof (s_turn_t));
    if (!turns)
        return -1;
    self->turns = turns;
    s_turn_t *t = &self->turns[self->n_turns];
    memset (t, 0, sizeof (*t));
    bool with_caption = self->opts.captions && caption && *caption;
    bool with_speaker = !self->opts.text_only && *speaker;
    t->dia = strdup (dia);
    t->speaker = strdup (speaker);
    t->text = s_strdup_printf ("%s%s%s%s%s", with_speaker ? speaker : "", with_speaker ? ": " : "",
                               text, with_caption ? " " : "", with_caption ? caption : "");
    snprintf (t->session, sizeof (t->session), "%s", session);
    t->created_at_ms = created_at_ms;
    t->conv = c;
    if (!t->dia || !t->speaker || !t->text)
        return -1;
    self->n_turns++;
    return 0;
}

//  Adds one qa object of conversation c (categories 1-4 only)
static int s_load_question (s_bench_t *self, json_t *qa, size_t c, size_t *cap)
{
    json_int_t category = json_integer_value (json_object_get (qa, "category"));
    const char *question = json_string_value (json_object_get (qa, "question"));
    if (category < 1 || category > 4 || !question) {
        self->skipped_questions++;
        return 0;
    }
    s_question_t *questions =
        s_grow (self->questions, cap, self->n_questions + 1, sizeof (s_question_t));
    if (!questions)
        return -1;
    self->questions = questions;
    s_question_t *q = &self->questions[self->n_questions];
    memset (q, 0, sizeof (*q));
    q->question = strdup (question);
    q->category = (int)category;
    q->conv = c;
    json_t *evidence = json_object_get (qa, "evidence");
    size_t n = json_is_array (evidence) ? json_array_size (evidence) : 0;
    q->evidence = calloc (n ? n : 1, sizeof (char *));
    if (!q->question || !q->evidence)
        return -1;
    for (size_t e = 0; e < n; e++) {
        const char *id = json_string_value (json_array_get (evidence, e));
        if (!(q->evidence[e] = strdup (id ? id : "")))
            return -1;
        q->n_evidence++;
        bool known = false;
        const s_conv_t *conv = &self->convs[c];
        for (size_t t = conv->first_turn; t < conv->first_turn + conv->n_turns && !known; t++)
            known = strcmp (self->turns[t].dia, q->evidence[e]) == 0;
        if (!known) {
            self->unknown_evidence++;
            if (self->opts.verbose)
                fprintf (stderr, "%s: %s: evidence \"%s\" names no turn (a miss)\n", S_NAME,
                         conv->id, q->evidence[e]);
        }
    }
    self->no_evidence += n == 0;
    self->by_cat[0]++;
    self->by_cat[q->category]++;
    self->n_questions++;
    return 0;
}

//  Reads the data file into turns and questions
static int s_load (s_bench_t *self)
{
    json_error_t error;
    self->root = json_load_file (self->opts.data, 0, &error);
    if (!self->root) {
        fprintf (stderr, "%s: cannot read %s: %s (line %d)\n", S_NAME, self->opts.data, error.text,
                 error.line);
        return -1;
    }
    struct stat st;
    self->data_bytes = stat (self->opts.data, &st) == 0 ? (uint64_t)st.st_size : 0;
    if (!json_is_array (self->root)) {
        fprintf (stderr, "%s: %s: not a JSON array of conversations\n", S_NAME, self->opts.data);
        return -1;
    }
    size_t n = json_array_size (self->root);
    if (self->opts.max_convs && n > self->opts.max_convs)
        n = self->opts.max_convs;
    self->convs = calloc (n ? n : 1, sizeof (s_conv_t));
    if (!self->convs)
        return -1;
    size_t turns_cap = 0, questions_cap = 0;
    for (size_t c = 0; c < n; c++) {
        json_t *sample = json_array_get (self->root, c);
        json_t *conversation = json_object_get (sample, "conversation");
        const char *id = json_string_value (json_object_get (sample, "sample_id"));
        s_conv_t *conv = &self->convs[self->n_convs++];
        conv->id = id ? strdup (id) : s_strdup_printf ("conv-%zu", c);
        conv->first_turn = self->n_turns;
        if (!conv->id)
            return -1;
        unsigned numbers[256];
        size_t n_sessions = s_session_numbers (conversation, numbers, 256);
        for (size_t s = 0; s < n_sessions; s++) {
            char session[24], date_key[48];
            snprintf (session, sizeof (session), "session_%u", numbers[s]);
            snprintf (date_key, sizeof (date_key), "session_%u_date_time", numbers[s]);
            const char *date = json_string_value (json_object_get (conversation, date_key));
            int64_t created_at_ms = s_parse_date (date);
            if (created_at_ms < 0) {
                self->bad_dates++;
                fprintf (stderr, "%s: %s %s: date \"%s\" does not parse; memd's clock used\n",
                         S_NAME, conv->id, session, date ? date : "(none)");
                created_at_ms = 0;
            }
            json_t *turns = json_object_get (conversation, session);
            for (size_t t = 0; t < json_array_size (turns); t++)
                if (s_load_turn (self, json_array_get (turns, t), c, session, created_at_ms,
                                 &turns_cap))
                    return -1;
        }
        conv->n_turns = self->n_turns - conv->first_turn;
        json_t *qa = json_object_get (sample, "qa");
        size_t asked = 0;
        for (size_t q = 0; q < json_array_size (qa); q++) {
            if (self->opts.max_questions && asked == self->opts.max_questions)
                break;
            size_t before = self->n_questions;
            if (s_load_question (self, json_array_get (qa, q), c, &questions_cap))
                return -1;
            asked += self->n_questions > before;
        }
    }
    if (self->n_turns == 0 || self->n_questions == 0) {
        fprintf (stderr, "%s: %s: no turns or no questions of categories 1-4\n", S_NAME,
                 self->opts.data);
        return -1;
    }
    return 0;
}

static int s_system_alloc (s_system_t *sys, size_t n_questions)
{
    sys->ranked = malloc (n_questions * S_DEPTH * sizeof (int32_t));
    sys->n_ranked = calloc (n_questions, 1);
    sys->latency_us = calloc (n_questions, sizeof (double));
    return sys->ranked && sys->n_ranked && sys->latency_us ? 0 : -1;
}

//  --------------------------------------------------------------------------
//  memd, lexical recall

typedef struct {
    uint64_t id;
    int32_t turn;
} s_id_map_t;

static int s_id_map_compare (const void *a, const void *b)
{
    const s_id_map_t *x = a, *y = b;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return x->turn < y->turn ? -1 : x->turn > y->turn;
}

//  The embedding of text: the model's from the vector file, or bench_embed's
static int s_embed (const s_bench_t *self, const char *text, float *v)
{
    if (!self->vectors) {
        bench_embed (text, v, self->opts.dims);
        return 0;
    }
    const float *found = bench_vectors_find (self->vectors, text);
    if (!found) {
        fprintf (stderr, "%s: %s has no vector for \"%.60s\" (made with other options?)\n",
                 S_NAME, self->opts.embeddings, text);
        return -1;
    }
    memcpy (v, found, self->opts.dims * sizeof (float));
    return 0;
}

//  Captures the turns of conversation c in batches
static int s_memd_capture (s_bench_t *self, memd_client_t *client, size_t c)
{
    const s_conv_t *conv = &self->convs[c];
    Memd__V1__Record records[S_BATCH];
    Memd__V1__Record *pointers[S_BATCH];
    Memd__V1__Record__MetadataEntry entries[S_BATCH][2];
    Memd__V1__Record__MetadataEntry *entry_ptrs[S_BATCH][2];
    uint64_t ids[S_BATCH];
    bool dup[S_BATCH];
    bool embed = self->opts.run[SYS_MEMD_HYB] || self->opts.run[SYS_MEMD_HYBG]
                 || self->opts.run[SYS_MEMD_VEC];
    float *vectors = embed ? malloc (S_BATCH * self->opts.dims * sizeof (float)) : NULL;
    if (embed && !vectors)
        return -1;
    for (size_t i = 0; i < conv->n_turns; i += S_BATCH) {
        size_t count = conv->n_turns - i < S_BATCH ? conv->n_turns - i : S_BATCH;
        for (size_t j = 0; j < count; j++) {
            s_turn_t *t = &self->turns[conv->first_turn + i + j];
            memd__v1__record__init (&records[j]);
            records[j].agent_id = conv->id;
            records[j].session_id = t->session;
            records[j].kind = MEMD__V1__KIND__EPISODIC;
            records[j].text = t->text;
            records[j].created_at_ms = t->created_at_ms;
            memd__v1__record__metadata_entry__init (&entries[j][0]);
            memd__v1__record__metadata_entry__init (&entries[j][1]);
            entries[j][0].key = "speaker";
            entries[j][0].value = t->speaker;
            entries[j][1].key = "dia_id";
            entries[j][1].value = t->dia;
            entry_ptrs[j][0] = &entries[j][0];
            entry_ptrs[j][1] = &entries[j][1];
            records[j].metadata = entry_ptrs[j];
            records[j].n_metadata = 2;
            if (embed) {
                records[j].embedding = vectors + j * self->opts.dims;
                records[j].n_embedding = self->opts.dims;
                if (s_embed (self, t->text, records[j].embedding)) {
                    free (vectors);
                    return -1;
                }
            }
            pointers[j] = &records[j];
        }
        if (memd_client_capture (client, conv->id, pointers, count, ids, dup)) {
            fprintf (stderr, "%s: memd capture of %s turns %zu..%zu failed: %s\n", S_NAME,
                     conv->id, i, i + count - 1, memd_client_error (client));
            free (vectors);
            return -1;
        }
        for (size_t j = 0; j < count; j++) {
            self->turns[conv->first_turn + i + j].id = ids[j];
            self->duplicates += dup[j];
        }
    }
    free (vectors);
    return 0;
}

//  Asks every question within its conversation, the way system s does
//  (memd-lex: the text; memd-hyb: the text and its embedding; memd-vec:
//  the embedding alone; +graph and hyb+graph: those with the graph); maps hits to turns
static int s_memd_ask (s_bench_t *self, memd_client_t *client, const s_id_map_t *map, size_t s)
{
    s_system_t *sys = &self->sys[s];
    float *embedding = malloc (self->opts.dims * sizeof (float));
    if (!embedding)
        return -1;
    int rc = 0;
    for (size_t q = 0; q < self->n_questions && !s_interrupted && !rc; q++) {
        const s_question_t *question = &self->questions[q];
        Memd__V1__Recall recall = MEMD__V1__RECALL__INIT;
        recall.query = s == SYS_MEMD_VEC ? "" : question->question;
        recall.k = S_DEPTH;
        recall.graph = S_HAS_GRAPH (s) ? MEMD__V1__RECALL_GRAPH__RECALL_GRAPH_ON
                                       : MEMD__V1__RECALL_GRAPH__RECALL_GRAPH_OFF;
        //  Statistics would make the second and third systems' runs depend
        //  on the first's (salience, co-recall): each run starts equal.
        recall.no_stats = true;
        if (s != SYS_MEMD_LEX && s != SYS_MEMD_GRAPH) {
            if (s_embed (self, question->question, embedding)) {
                rc = -1;
                break;
            }
            recall.query_embedding = embedding;
            recall.n_query_embedding = self->opts.dims;
        }
        Memd__V1__RankWeights weights = MEMD__V1__RANK_WEIGHTS__INIT;
        if (s == SYS_MEMD_HYB || s == SYS_MEMD_HYBG) {
            const float *w = self->opts.weights;
            weights.lexical = w[0], weights.vector = w[1], weights.recency = w[2];
            weights.salience = w[3], weights.graph = w[4];
            recall.weights = &weights;
            recall.fusion = self->opts.fusion;
        }
        double sent = s_now_us ();
        Memd__V1__Reply *reply =
            memd_client_recall (client, self->convs[question->conv].id, &recall);
        sys->latency_us[q] = s_now_us () - sent;
        if (!reply) {
            fprintf (stderr, "%s: memd recall of \"%s\" failed: %s\n", S_NAME, question->question,
                     memd_client_error (client));
            rc = -1;
            break;
        }
        size_t n = 0;
        for (size_t h = 0; reply->recall && h < reply->recall->n_hits && n < S_DEPTH; h++) {
            const Memd__V1__Record *record = reply->recall->hits[h]->record;
            s_id_map_t key = {record ? record->id : 0, -1};
            //  The first entry with this id (several turns share one record
            //  when memd deduplicated them); every such turn counts here
            const s_id_map_t *found = NULL;
            size_t lo = 0, hi = self->n_turns;
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (map[mid].id < key.id)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (lo < self->n_turns && map[lo].id == key.id)
                found = &map[lo];
            if (!found) {
                fprintf (stderr, "%s: memd returned record %llu, which is no captured turn\n",
                         S_NAME, (unsigned long long)key.id);
                rc = -1;
                break;
            }
            for (; found < map + self->n_turns && found->id == key.id && n < S_DEPTH; found++) {
                if (self->turns[found->turn].conv != question->conv) {
                    fprintf (stderr, "%s: memd returned a turn of another conversation\n", S_NAME);
                    rc = -1;
                    break;
                }
                sys->ranked[q * S_DEPTH + n++] = found->turn;
            }
        }
        sys->n_ranked[q] = (uint8_t)n;
        memd_client_reply_free (&reply);
    }
    free (embedding);
    return s_interrupted ? -1 : rc;
}

//  Every conversation's graph linked and built (a refresh each, then
//  waiting until nothing waits or runs), so +graph sees whole graphs.
static int s_memd_settle_graphs (s_bench_t *self, memd_client_t *client)
{
    double start = s_now_us ();
    for (size_t c = 0; c < self->n_convs && !s_interrupted; c++) {
        for (bool settled = false; !settled && !s_interrupted;) {
            Memd__V1__Reply *reply = memd_client_graph_stats (client, self->convs[c].id, true, 0);
            if (!reply) {
                fprintf (stderr, "%s: memd graph stats failed: %s\n", S_NAME,
                         memd_client_error (client));
                return -1;
            }
            const Memd__V1__GraphStatsResult *g = reply->graph_stats;
            settled = g->generation > 0 && !g->building && !g->unlinked && !g->changes;
            memd_client_reply_free (&reply);
            if (!settled)
                zclock_sleep (20);
        }
    }
    fprintf (stderr, "%s: memd's graphs linked and built in %.2f s\n", S_NAME,
             (s_now_us () - start) / 1e6);
    return s_interrupted ? -1 : 0;
}

//  The memd side: start it, capture everything, ask everything, stop it
static int s_memd_run (s_bench_t *self)
{
    int rc = -1;
    memd_client_t *client = NULL;
    s_id_map_t *map = calloc (self->n_turns, sizeof (s_id_map_t));
    bench_daemon_t *daemon =
        bench_daemon_start (self->opts.memd, self->base, S_NAME, &s_interrupted);
    if (!map || !daemon)
        goto done;
    client = memd_client_new (bench_daemon_endpoint (daemon), S_CALL_MS);
    if (!client)
        goto done;
    Memd__V1__Reply *ping = memd_client_ping_reply (client);
    if (ping && ping->ping)
        snprintf (self->memd_version, sizeof (self->memd_version), "%s", ping->ping->version);
    memd_client_reply_free (&ping);
    double start = s_now_us ();
    for (size_t c = 0; c < self->n_convs; c++)
        if (s_memd_capture (self, client, c))
            goto done;
    fprintf (stderr, "%s: memd captured %zu turns in %.2f s\n", S_NAME, self->n_turns,
             (s_now_us () - start) / 1e6);
    for (size_t t = 0; t < self->n_turns; t++)
        map[t] = (s_id_map_t){self->turns[t].id, (int32_t)t};
    qsort (map, self->n_turns, sizeof (s_id_map_t), s_id_map_compare);
    bool settled = false;
    for (size_t s = SYS_MEMD_LEX; s <= SYS_MEMD_VEC; s++) {
        if (!self->opts.run[s])
            continue;
        if (S_HAS_GRAPH (s) && !settled) {
            if (s_memd_settle_graphs (self, client))
                goto done;
            settled = true;
        }
        start = s_now_us ();
        if (s_memd_ask (self, client, map, s))
            goto done;
        self->sys[s].ran = true;
        fprintf (stderr, "%s: %s answered %zu questions in %.2f s\n", S_NAME, s_systems[s],
                 self->n_questions, (s_now_us () - start) / 1e6);
    }
    rc = 0;
done:
    memd_client_destroy (&client);
    if (bench_daemon_stop (&daemon) != 0)
        rc = -1;
    free (map);
    return rc;
}

//  --------------------------------------------------------------------------
//  SQLite FTS5, in-process, in memory: the data README's baseline

//  The baseline's stopwords are the benchmarks' own English list
//  (bench_stopword), fixed, so that changes to memd's list never move the
//  baseline.
static bool s_fts_is_stopword (const char *word, size_t len)
{
    return bench_stopword (word, len);
}

//  The question's words (runs of ASCII letters and digits, and of bytes of
//  UTF-8 sequences), lowercased, minus stopwords, each double-quoted,
//  OR-joined. Returns NULL when no word is left (or out of memory).
static char *s_fts_query (const char *question)
{
    size_t len = strlen (question);
    char *query = malloc (len * 6 + 8);
    if (!query)
        return NULL;
    char *out = query;
    const unsigned char *at = (const unsigned char *)question;
    while (*at) {
        while (*at && !isalnum (*at) && *at < 0x80)
            at++;
        const unsigned char *word = at;
        while (*at && (isalnum (*at) || *at >= 0x80))
            at++;
        size_t n = (size_t)(at - word);
        if (n == 0)
            continue;
        char lower[256];
        if (n >= sizeof (lower))
            n = sizeof (lower) - 1;
        for (size_t i = 0; i < n; i++)
            lower[i] = (char)tolower (word[i]);
        lower[n] = 0;
        if (s_fts_is_stopword (lower, n))
            continue;
        out += sprintf (out, "%s\"%s\"", out == query ? "" : " OR ", lower);
    }
    if (out == query) {
        free (query);
        return NULL;
    }
    return query;
}

static int s_sql_exec (sqlite3 *db, const char *sql)
{
    char *error = NULL;
    if (sqlite3_exec (db, sql, NULL, NULL, &error) != SQLITE_OK) {
        fprintf (stderr, "%s: sqlite: %s: %s\n", S_NAME, sql, error ? error : "?");
        sqlite3_free (error);
        return -1;
    }
    return 0;
}

static int s_fts_run (s_bench_t *self)
{
    if (!sqlite3_compileoption_used ("ENABLE_FTS5")) {
        fprintf (stderr, "%s: SQLite %s has no FTS5 (--no-fts skips it)\n", S_NAME,
                 sqlite3_libversion ());
        return -1;
    }
    s_system_t *sys = &self->sys[SYS_FTS5];
    int rc = -1;
    sqlite3 *db = NULL;
    sqlite3_stmt *insert = NULL, *select = NULL;
    if (sqlite3_open (":memory:", &db) != SQLITE_OK ||
        s_sql_exec (db, "CREATE VIRTUAL TABLE turns USING fts5(text, conv UNINDEXED, "
                        "tokenize='porter unicode61')") ||
        sqlite3_prepare_v2 (db, "INSERT INTO turns (rowid, text, conv) VALUES (?1, ?2, ?3)", -1,
                            &insert, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2 (db,
                            "SELECT rowid FROM turns WHERE turns MATCH ?1 AND conv = ?2 "
                            "ORDER BY bm25(turns) LIMIT " S_STR (S_DEPTH),
                            -1, &select, NULL) != SQLITE_OK) {
        fprintf (stderr, "%s: sqlite: %s\n", S_NAME, db ? sqlite3_errmsg (db) : "out of memory");
        goto done;
    }
    if (s_sql_exec (db, "BEGIN"))
        goto done;
    for (size_t t = 0; t < self->n_turns; t++) {
        sqlite3_bind_int64 (insert, 1, (sqlite3_int64)t + 1);
        sqlite3_bind_text (insert, 2, self->turns[t].text, -1, SQLITE_STATIC);
        sqlite3_bind_int64 (insert, 3, (sqlite3_int64)self->turns[t].conv);
        if (sqlite3_step (insert) != SQLITE_DONE) {
            fprintf (stderr, "%s: sqlite insert: %s\n", S_NAME, sqlite3_errmsg (db));
            goto done;
        }
        sqlite3_reset (insert);
    }
    if (s_sql_exec (db, "COMMIT"))
        goto done;
    for (size_t q = 0; q < self->n_questions && !s_interrupted; q++) {
        const s_question_t *question = &self->questions[q];
        double sent = s_now_us ();
        char *match = s_fts_query (question->question);
        size_t n = 0;
        int step = SQLITE_DONE;
        if (match) {
            sqlite3_bind_text (select, 1, match, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64 (select, 2, (sqlite3_int64)question->conv);
            while ((step = sqlite3_step (select)) == SQLITE_ROW && n < S_DEPTH)
                sys->ranked[q * S_DEPTH + n++] = (int32_t)(sqlite3_column_int64 (select, 0) - 1);
            sqlite3_reset (select);
        }
        sys->latency_us[q] = s_now_us () - sent;
        sys->n_ranked[q] = (uint8_t)n;
        if (step != SQLITE_DONE && step != SQLITE_ROW) {
            fprintf (stderr, "%s: sqlite query %s: %s\n", S_NAME, match, sqlite3_errmsg (db));
            free (match);
            goto done;
        }
        free (match);
    }
    rc = s_interrupted ? -1 : 0;
done:
    sqlite3_finalize (insert);
    sqlite3_finalize (select);
    sqlite3_close (db);
    return rc;
}

//  --------------------------------------------------------------------------
//  Report

static void s_print_table (s_bench_t *self, FILE *out)
{
    fprintf (out,
             "\nLoCoMo turn retrieval: %s, %zu conversations, %zu turns, %zu questions "
             "(categories 1-4)\n",
             self->opts.data, self->n_convs, self->n_turns, self->n_questions);
    fprintf (out,
             "indexed text: %s%s; evidence naming no turn: %zu; questions without "
             "evidence: %zu\n",
             self->opts.text_only ? "turn text" : "\"Speaker: turn text\"",
             self->opts.captions ? " + image caption" : "", self->unknown_evidence,
             self->no_evidence);
    if (self->sys[SYS_MEMD_HYB].ran || self->sys[SYS_MEMD_VEC].ran)
        fprintf (out,
                 "embeddings (memd-hyb, memd-vec): %s, %zu dimensions\n",
                 self->vectors ? self->opts.embeddings
                               : "hashed character n-grams (bench_embed; not a learned model)",
                 self->opts.dims);
    fprintf (out, "%-16s %5s  %-7s", "category", "n", "metric");
    for (size_t s = 0; s < SYS_COUNT; s++)
        if (self->sys[s].ran)
            fprintf (out, " %9s", s_systems[s]);
    fprintf (out, "\n");
    for (size_t c = 0; c < S_CATS; c++) {
        for (size_t m = 0; m < S_KS + 2; m++) {
            char metric[16];
            if (m < S_KS)
                snprintf (metric, sizeof (metric), "R@%u", s_ks[m]);
            else
                snprintf (metric, sizeof (metric), "%s", m == S_KS ? "hit@10" : "MRR");
            if (m == 0)
                fprintf (out, "%-16s %5zu  %-7s", s_cat_names[c], self->by_cat[c], metric);
            else
                fprintf (out, "%-16s %5s  %-7s", "", "", metric);
            for (size_t s = 0; s < SYS_COUNT; s++) {
                const s_metrics_t *mt = &self->sys[s].cats[c];
                if (!self->sys[s].ran)
                    continue;
                double v = m < S_KS ? mt->recall[m] : m == S_KS ? mt->hit10 : mt->mrr;
                if (isfinite (v))
                    fprintf (out, " %9.3f", v);
                else
                    fprintf (out, " %9s", "n/a");
            }
            fprintf (out, "\n");
        }
    }
    fprintf (out, "%-31s", "questions without a hit");
    for (size_t s = 0; s < SYS_COUNT; s++)
        if (self->sys[s].ran)
            fprintf (out, " %9zu", self->sys[s].no_hits);
    fprintf (out, "\n%-31s", "query p50 / mean (us)");
    for (size_t s = 0; s < SYS_COUNT; s++)
        if (self->sys[s].ran)
            fprintf (out, " %4.0f/%-4.0f", self->sys[s].p50_us, self->sys[s].mean_us);
    fprintf (out, "\n");
}

//  A number, or null where there is none (jansson refuses NaN)
static json_t *s_json_real (double value)
{
    return isfinite (value) ? json_real (value) : json_null ();
}

static json_t *s_json_metrics (const s_metrics_t *m, size_t n)
{
    json_t *o = json_object ();
    json_object_set_new (o, "n", json_integer ((json_int_t)n));
    for (size_t k = 0; k < S_KS; k++) {
        char key[16];
        snprintf (key, sizeof (key), "recall@%u", s_ks[k]);
        json_object_set_new (o, key, s_json_real (m->recall[k]));
    }
    json_object_set_new (o, "hit@10", s_json_real (m->hit10));
    json_object_set_new (o, "mrr", s_json_real (m->mrr));
    return o;
}

//  The rank (1-based) of each evidence id in a system's list, or null
static json_t *s_json_ranks (s_bench_t *self, const s_system_t *sys, size_t q)
{
    json_t *ranks = json_array ();
    const s_question_t *question = &self->questions[q];
    for (size_t e = 0; e < question->n_evidence; e++) {
        json_t *rank = json_null ();
        for (size_t r = 0; r < sys->n_ranked[q]; r++)
            if (strcmp (self->turns[sys->ranked[q * S_DEPTH + r]].dia, question->evidence[e]) ==
                0) {
                json_decref (rank);
                rank = json_integer ((json_int_t)r + 1);
                break;
            }
        json_array_append_new (ranks, rank);
    }
    return ranks;
}

static int s_write_json (s_bench_t *self)
{
    json_t *doc = json_object ();
    json_t *data = json_object ();
    json_object_set_new (data, "path", json_string (self->opts.data));
    json_object_set_new (data, "bytes", json_integer ((json_int_t)self->data_bytes));
    json_object_set_new (data, "conversations", json_integer ((json_int_t)self->n_convs));
    json_object_set_new (data, "turns", json_integer ((json_int_t)self->n_turns));
    json_object_set_new (data, "questions", json_integer ((json_int_t)self->n_questions));
    json_object_set_new (data, "skipped_questions",
                         json_integer ((json_int_t)self->skipped_questions));
    json_object_set_new (data, "questions_without_evidence",
                         json_integer ((json_int_t)self->no_evidence));
    json_object_set_new (data, "evidence_naming_no_turn",
                         json_integer ((json_int_t)self->unknown_evidence));
    json_object_set_new (data, "sessions_without_date",
                         json_integer ((json_int_t)self->bad_dates));
    json_object_set_new (data, "turns_deduplicated_by_memd",
                         json_integer ((json_int_t)self->duplicates));
    json_object_set_new (doc, "benchmark", json_string ("locomo"));
    json_object_set_new (doc, "data", data);
    json_t *params = json_object ();
    json_object_set_new (params, "indexed_text",
                         json_string (self->opts.text_only ? "text" : "speaker: text"));
    json_object_set_new (params, "captions", json_boolean (self->opts.captions));
    json_object_set_new (params, "max_conversations",
                         json_integer ((json_int_t)self->opts.max_convs));
    json_object_set_new (params, "max_questions_per_conversation",
                         json_integer ((json_int_t)self->opts.max_questions));
    json_object_set_new (params, "depth", json_integer (S_DEPTH));
    json_object_set_new (params, "embedding",
                         self->vectors ? json_string (self->opts.embeddings)
                                       : json_string ("hashed character n-grams (bench_embed), not a learned model"));
    json_object_set_new (params, "embedding_dims", json_integer ((json_int_t)self->opts.dims));
    json_object_set_new (params, "memd_version", json_string (self->memd_version));
    json_object_set_new (params, "sqlite_version", json_string (sqlite3_libversion ()));
    json_object_set_new (doc, "params", params);
    json_t *systems = json_object ();
    for (size_t s = 0; s < SYS_COUNT; s++) {
        const s_system_t *sys = &self->sys[s];
        json_t *o = json_object ();
        json_object_set_new (o, "ran", json_boolean (sys->ran));
        if (sys->ran) {
            json_object_set_new (o, "overall", s_json_metrics (&sys->cats[0], self->by_cat[0]));
            json_t *cats = json_object ();
            for (size_t c = 1; c < S_CATS; c++) {
                char key[4];
                snprintf (key, sizeof (key), "%zu", c);
                json_object_set_new (cats, key, s_json_metrics (&sys->cats[c], self->by_cat[c]));
            }
            json_object_set_new (o, "by_category", cats);
            json_object_set_new (o, "query_p50_us", s_json_real (sys->p50_us));
            json_object_set_new (o, "query_mean_us", s_json_real (sys->mean_us));
            json_object_set_new (o, "questions_without_hit",
                                 json_integer ((json_int_t)sys->no_hits));
        }
        json_object_set_new (systems, s_systems[s], o);
    }
    json_object_set_new (doc, "systems", systems);
    if (self->opts.per_question) {
        json_t *questions = json_array ();
        for (size_t q = 0; q < self->n_questions; q++) {
            const s_question_t *question = &self->questions[q];
            json_t *o = json_object ();
            json_object_set_new (o, "conversation", json_string (self->convs[question->conv].id));
            json_object_set_new (o, "category", json_integer (question->category));
            json_object_set_new (o, "question", json_string (question->question));
            json_t *evidence = json_array ();
            for (size_t e = 0; e < question->n_evidence; e++)
                json_array_append_new (evidence, json_string (question->evidence[e]));
            json_object_set_new (o, "evidence", evidence);
            for (size_t s = 0; s < SYS_COUNT; s++)
                if (self->sys[s].ran)
                    json_object_set_new (o, s_systems[s], s_json_ranks (self, &self->sys[s], q));
            json_array_append_new (questions, o);
        }
        json_object_set_new (doc, "questions", questions);
    }
    int rc = 0;
    char dir[PATH_MAX];
    snprintf (dir, sizeof (dir), "%s", self->opts.json);
    char *slash = strrchr (dir, '/');
    if (slash) {
        *slash = 0;
        zsys_dir_create ("%s", dir);
    }
    if (json_dump_file (doc, self->opts.json, JSON_INDENT (2) | JSON_REAL_PRECISION (6))) {
        fprintf (stderr, "%s: cannot write %s\n", S_NAME, self->opts.json);
        rc = -1;
    } else
        fprintf (stderr, "%s: wrote %s\n", S_NAME, self->opts.json);
    json_decref (doc);
    return rc;
}

//  --------------------------------------------------------------------------
//  One run: load, each system, score

static void s_bench_free (s_bench_t *self)
{
    for (size_t t = 0; t < self->n_turns; t++) {
        free (self->turns[t].dia);
        free (self->turns[t].speaker);
        free (self->turns[t].text);
    }
    for (size_t q = 0; q < self->n_questions; q++) {
        free (self->questions[q].question);
        for (size_t e = 0; e < self->questions[q].n_evidence; e++)
            free (self->questions[q].evidence[e]);
        free (self->questions[q].evidence);
    }
    for (size_t c = 0; c < self->n_convs; c++)
        free (self->convs[c].id);
    for (size_t s = 0; s < SYS_COUNT; s++) {
        free (self->sys[s].ranked);
        free (self->sys[s].n_ranked);
        free (self->sys[s].latency_us);
    }
    bench_vectors_destroy (&self->vectors);
    free (self->turns);
    free (self->questions);
    free (self->convs);
    json_decref (self->root);
    memset (self, 0, sizeof (*self));
}

//  --texts: every turn as indexed and every question, one JSONL line each
static int s_write_texts (const s_bench_t *self)
{
    FILE *file = fopen (self->opts.texts, "w");
    if (!file) {
        fprintf (stderr, "%s: %s: %s\n", S_NAME, self->opts.texts, strerror (errno));
        return -1;
    }
    int rc = 0;
    for (size_t t = 0; t < self->n_turns && !rc; t++)
        rc = bench_vectors_write_text (file, self->turns[t].text);
    for (size_t q = 0; q < self->n_questions && !rc; q++)
        rc = bench_vectors_write_text (file, self->questions[q].question);
    if (fclose (file) || rc) {
        fprintf (stderr, "%s: %s: write failed\n", S_NAME, self->opts.texts);
        return -1;
    }
    fprintf (stderr, "%s: %zu texts to embed in %s\n", S_NAME, self->n_turns + self->n_questions,
             self->opts.texts);
    return 0;
}

//  Loads the data and runs every selected system; 0 when all ran and scored
static int s_bench_run (s_bench_t *self)
{
    if (s_load (self))
        return -1;
    if (self->opts.texts)
        return s_write_texts (self);
    if (self->opts.embeddings) {
        if (!(self->vectors = bench_vectors_load (self->opts.embeddings)))
            return -1;
        self->opts.dims = bench_vectors_dims (self->vectors);
    }
    fprintf (stderr,
             "%s: %s: %zu conversations, %zu turns, %zu questions (categories 1-4), "
             "%zu skipped\n",
             S_NAME, self->opts.data, self->n_convs, self->n_turns, self->n_questions,
             self->skipped_questions);
    for (size_t s = 0; s < SYS_COUNT; s++)
        if (self->opts.run[s] && s_system_alloc (&self->sys[s], self->n_questions))
            return -1;
    snprintf (self->base, sizeof (self->base), "/tmp/memd-locomo-XXXXXX");
    if (!mkdtemp (self->base)) {
        fprintf (stderr, "%s: mkdtemp: %s\n", S_NAME, strerror (errno));
        *self->base = 0;
        return -1;
    }
    int rc = 0;
    if (self->opts.run[SYS_MEMD_LEX] || self->opts.run[SYS_MEMD_GRAPH] || self->opts.run[SYS_MEMD_HYB]
        || self->opts.run[SYS_MEMD_HYBG] || self->opts.run[SYS_MEMD_VEC])
        rc = s_memd_run (self);
    if (rc == 0 && self->opts.run[SYS_FTS5] && (rc = s_fts_run (self)) == 0)
        self->sys[SYS_FTS5].ran = true;
    bench_daemon_remove_tree (self->base);
    *self->base = 0;
    for (size_t s = 0; s < SYS_COUNT && rc == 0; s++)
        if (self->sys[s].ran)
            rc = s_system_score (self, &self->sys[s], s_systems[s]);
    return rc;
}

//  --------------------------------------------------------------------------
//  Selftest: the scoring by hand, then the whole harness on a tiny
//  conversation written for it (not LoCoMo data) against a real memd

static const char s_fixture[] =
    "[{\"sample_id\": \"fx-1\", \"conversation\": {"
    " \"speaker_a\": \"Alice\", \"speaker_b\": \"Bob\","
    " \"session_1_date_time\": \"1:56 pm on 8 May, 2023\", \"session_1\": ["
    "  {\"speaker\": \"Alice\", \"dia_id\": \"D1:1\","
    "   \"text\": \"I adopted a greyhound named Pixel last spring.\"},"
    "  {\"speaker\": \"Bob\", \"dia_id\": \"D1:2\","
    "   \"text\": \"My sister plays the cello in an orchestra.\"},"
    "  {\"speaker\": \"Alice\", \"dia_id\": \"D1:3\","
    "   \"text\": \"Pixel loves chasing tennis balls at the beach.\","
    "   \"blip_caption\": \"a photo of a dog\"}],"
    " \"session_2_date_time\": \"12:05 am on 9 May, 2023\", \"session_2\": ["
    "  {\"speaker\": \"Bob\", \"dia_id\": \"D2:1\","
    "   \"text\": \"I started learning pottery on weekends.\"},"
    "  {\"speaker\": \"Alice\", \"dia_id\": \"D2:2\","
    "   \"text\": \"The marathon in Boston was exhausting.\"}]},"
    " \"qa\": ["
    "  {\"question\": \"What instrument does Bob's sister play?\","
    "   \"evidence\": [\"D1:2\"], \"category\": 4},"
    "  {\"question\": \"What does Pixel chase?\","
    "   \"evidence\": [\"D1:1\", \"D1:3\"], \"category\": 1},"
    "  {\"question\": \"When did Alice run the marathon?\","
    "   \"evidence\": [\"D2:2\"], \"category\": 2},"
    "  {\"question\": \"What is Bob's favourite sculpture?\","
    "   \"evidence\": [], \"category\": 3},"
    "  {\"question\": \"Where does Bob do pottery?\","
    "   \"evidence\": [\"D2:1\", \"D9:99\"], \"category\": 4},"
    "  {\"question\": \"What did Bob say about pottery?\", \"adversarial_answer\": \"x\","
    "   \"evidence\": [\"D2:1\"], \"category\": 5},"
    "  {\"question\": \"What colour is the car?\","
    "   \"evidence\": [\"D1:2\"], \"category\": 1}]}]";

static void s_put_u32le (FILE *out, uint32_t value)
{
    unsigned char b[4] = {(unsigned char) value, (unsigned char) (value >> 8),
                          (unsigned char) (value >> 16), (unsigned char) (value >> 24)};
    assert (fwrite (b, 1, 4, out) == 4);
}

//  A vector file made by hand for the fixture: turn i is the unit vector
//  e_i, each question the vector of the turn it should find first. The
//  embedding alone then ranks that turn first: R@1 by category is known.
static void s_selftest_vector_file (const s_opts_t *opts, const char *dir, const char *data,
                                    const char *json)
{
    static const int s_target[] = {1, 2, 4, 7, 3, 0}; //  the questions' turns (7: none)
    enum { DIMS = 8 };
    char texts[PATH_MAX], vectors[PATH_MAX];
    snprintf (texts, sizeof texts, "%s/texts.jsonl", dir);
    snprintf (vectors, sizeof vectors, "%s/vectors.emb", dir);
    s_bench_t bench;
    memset (&bench, 0, sizeof bench);
    bench.opts = *opts;
    bench.opts.data = data;
    bench.opts.json = json;
    bench.opts.texts = texts;
    assert (s_bench_run (&bench) == 0);
    s_bench_free (&bench);

    FILE *in = fopen (texts, "r"), *out = fopen (vectors, "wb");
    assert (in && out);
    assert (fwrite ("MEMDEMB1", 1, 8, out) == 8);
    s_put_u32le (out, DIMS);
    s_put_u32le (out, 11);
    char line[512];
    size_t n = 0;
    for (; fgets (line, sizeof line, in); n++) {
        json_t *doc = json_loads (line, 0, NULL);
        assert (doc && json_is_string (json_object_get (doc, "text")));
        const char *text = json_string_value (json_object_get (doc, "text"));
        uint32_t length = (uint32_t) strlen (text);
        s_put_u32le (out, length);
        assert (fwrite (text, 1, length, out) == length);
        for (size_t d = 0; d < DIMS; d++) {   //  1.0f or 0.0f, little-endian
            size_t one = n < 5 ? n : (size_t) s_target[n - 5];
            s_put_u32le (out, d == one ? 0x3f800000u : 0);
        }
        json_decref (doc);
    }
    assert (n == 11); //  5 turns, then the 6 questions of categories 1-4
    assert (fclose (in) == 0 && fclose (out) == 0);

    memset (&bench, 0, sizeof bench);
    bench.opts = *opts;
    bench.opts.data = data;
    bench.opts.json = json;
    bench.opts.embeddings = vectors;
    for (size_t s = 0; s < SYS_COUNT; s++)
        bench.opts.run[s] = s == SYS_MEMD_VEC;
    assert (s_bench_run (&bench) == 0 && bench.opts.dims == DIMS);
    const s_metrics_t *cats = bench.sys[SYS_MEMD_VEC].cats;
    //  cat 1: D1:3 first (half of Pixel's evidence), the car finds D1:1
    //  (0); cat 2: D2:2; cat 3: no evidence; cat 4: D1:2, D2:1 (half)
    assert (fabs (cats[1].recall[0] - 0.25) < 1e-9 && fabs (cats[2].recall[0] - 1) < 1e-9);
    assert (cats[3].recall[0] == 0 && fabs (cats[4].recall[0] - 0.75) < 1e-9);
    s_bench_free (&bench);
}

static void s_expect (const s_metrics_t *m, double r1, double r5, double r10, double r25,
                      double hit10, double mrr)
{
    const double want[] = {r1, r5, r10, r25, hit10, mrr};
    const double got[] = {m->recall[0], m->recall[1], m->recall[2],
                          m->recall[3], m->hit10,     m->mrr};
    for (size_t i = 0; i < 6; i++) {
        if (fabs (want[i] - got[i]) > 1e-9)
            fprintf (stderr, "%s selftest: metric %zu: got %.6f, want %.6f\n", S_NAME, i, got[i],
                     want[i]);
        assert (fabs (want[i] - got[i]) <= 1e-9);
    }
}

static int s_selftest (const s_opts_t *opts)
{
    //  One list against three evidence ids, one of them never found
    const char *ranked[] = {"D1:1", "D4:2", "D1:7", "D2:9", "D3:3", "D5:5",
                            "D5:6", "D5:7", "D5:8", "D5:9", "D6:1", "D2:2"};
    const char *evidence[] = {"D2:9", "D2:2", "D8:8"};
    s_qscore_t score;
    s_score_question (ranked, 12, evidence, 3, &score);
    assert (score.recall[0] == 0);                     //  nothing at rank 1
    assert (fabs (score.recall[1] - 1.0 / 3) < 1e-12); //  D2:9 at rank 4
    assert (fabs (score.recall[2] - 1.0 / 3) < 1e-12); //  D2:2 is 12th
    assert (fabs (score.recall[3] - 2.0 / 3) < 1e-12);
    assert (score.hit10 == 1 && fabs (score.rr - 0.25) < 1e-12);
    s_score_question (ranked, 12, (const char *[]){"D4:2"}, 1, &score);
    assert (score.recall[0] == 0 && score.recall[1] == 1 && score.rr == 0.5);
    s_score_question (ranked, 12, NULL, 0, &score); //  no evidence: a miss
    assert (score.recall[3] == 0 && score.hit10 == 0 && score.rr == 0);
    s_score_question (ranked, 0, evidence, 3, &score);
    assert (score.recall[3] == 0 && score.rr == 0);
    s_score_question (ranked, 12, (const char *[]){""}, 1, &score);
    assert (score.recall[3] == 0);

    //  Dates and the FTS5 query
    assert (s_parse_date ("1:56 pm on 8 May, 2023") == 1683554160000LL);
    assert (s_parse_date ("12:05 am on 9 May, 2023") == 1683590700000LL);
    assert (s_parse_date ("12:30 pm on 1 January, 2024") == 1704112200000LL);
    assert (s_parse_date ("noon on 9 May, 2023") == -1);
    assert (s_parse_date ("1:56 pm on 8 Mayo, 2023") == -1);
    char *query = s_fts_query ("What did Caroline's mom do at the \"LGBTQ\" café?");
    assert (query && strcmp (query, "\"caroline\" OR \"s\" OR \"mom\" OR \"lgbtq\" OR "
                                    "\"caf\xc3\xa9\"") == 0);
    free (query);
    assert (s_fts_query ("What is it?") == NULL);

    //  The whole harness on the fixture
    char dir[] = "/tmp/memd-locomo-test-XXXXXX";
    assert (mkdtemp (dir));
    char data[PATH_MAX], json[PATH_MAX];
    snprintf (data, sizeof (data), "%s/fixture.json", dir);
    snprintf (json, sizeof (json), "%s/out/locomo.json", dir);
    FILE *file = fopen (data, "w");
    assert (file && fputs (s_fixture, file) >= 0 && fclose (file) == 0);
    s_bench_t bench;
    s_bench_t *self = &bench;
    memset (self, 0, sizeof (*self));
    self->opts = *opts;
    self->opts.data = data;
    self->opts.json = json;
    for (size_t s = 0; s < SYS_COUNT; s++)
        self->opts.run[s] = true;
    if (!self->opts.dims)
        self->opts.dims = BENCH_EMBED_DIMS;
    assert (bench_embed_selftest () == 0);
    self->opts.run[SYS_MEMD_GRAPH] = self->opts.run[SYS_MEMD_HYBG] = false;   //  own rankings
    int rc = s_bench_run (self);
    assert (rc == 0);
    assert (self->n_convs == 1 && self->n_turns == 5 && self->n_questions == 6);
    assert (self->skipped_questions == 1 && self->no_evidence == 1 && self->unknown_evidence == 1);
    assert (self->by_cat[0] == 6 && self->by_cat[1] == 2 && self->by_cat[2] == 1 &&
            self->by_cat[3] == 1 && self->by_cat[4] == 2);
    assert (strcmp (self->turns[1].text, "Bob: My sister plays the cello in an orchestra.") == 0);
    assert (self->turns[3].created_at_ms == 1683590700000LL);
    assert (strcmp (self->turns[3].session, "session_2") == 0);
    if (opts->verbose)
        s_print_table (self, stderr);
    for (size_t s = 0; s < SYS_COUNT; s++) {
        const s_system_t *sys = &self->sys[s];
        if (S_HAS_GRAPH (s))
            continue;
        assert (sys->ran);
        if (s == SYS_MEMD_HYB || s == SYS_MEMD_VEC) {
            //  The embedding finds every turn of a 5-turn conversation for
            //  every question: R@25 counts the evidence that exists (1, 1,
            //  1, 0, 0.5, 1 over the six), and every question with evidence
            //  of a turn has a hit in the top 10
            assert (fabs (sys->cats[0].recall[3] - 4.5 / 6) < 1e-9);
            assert (fabs (sys->cats[0].hit10 - 5.0 / 6) < 1e-9);
            assert (sys->n_ranked[5] == 5);
            continue;
        }
        //  Hand-checked: Bob's sister -> D1:2 first; Pixel -> D1:3 (pixel,
        //  chasing) then D1:1; marathon -> D2:2; no evidence -> 0; pottery
        //  -> D2:1 first, D9:99 names no turn -> 0.5; car colour -> no hit
        s_expect (&sys->cats[0], 3.0 / 6, 3.5 / 6, 3.5 / 6, 3.5 / 6, 4.0 / 6, 4.0 / 6);
        s_expect (&sys->cats[1], 0.25, 0.5, 0.5, 0.5, 0.5, 0.5);
        s_expect (&sys->cats[2], 1, 1, 1, 1, 1, 1);
        s_expect (&sys->cats[3], 0, 0, 0, 0, 0, 0);
        s_expect (&sys->cats[4], 0.75, 0.75, 0.75, 0.75, 1, 1);
        assert (sys->n_ranked[5] == 0); //  "What colour is the car?" matches nothing
    }
    assert (s_write_json (self) == 0);
    json_error_t error;
    json_t *doc = json_load_file (json, 0, &error);
    assert (doc);
    json_t *overall = json_object_get (
        json_object_get (json_object_get (doc, "systems"), "memd-lex"), "overall");
    assert (fabs (json_real_value (json_object_get (overall, "recall@1")) - 0.5) < 1e-6);
    assert (json_integer_value (json_object_get (overall, "n")) == 6);
    json_decref (doc);
    s_bench_free (self);
    s_selftest_vector_file (opts, dir, data, json);
    bench_daemon_remove_tree (dir);
    printf ("bench_locomo selftest: OK\n");
    return 0;
}

//  --------------------------------------------------------------------------
//  Command line

static void s_usage (FILE *file)
{
    fprintf (file,
             "usage: bench_locomo [OPTIONS] [DATA]\n"
             "Turn-level retrieval quality on LoCoMo: memd (lexical) and SQLite FTS5 side by\n"
             "side; prints a table, writes JSON. DATA defaults to " S_DEFAULT_DATA ".\n\n"
             "  --json PATH          results file (default " S_DEFAULT_JSON ")\n"
             "  --memd PATH          memd binary (default: next to bench_locomo)\n"
             "  --conversations N    only the first N conversations\n"
             "  --questions N        only the first N questions (categories 1-4) of each\n"
             "  --text-only          index the turn text without \"Speaker: \"\n"
             "  --captions           append image captions (blip_caption) to the text\n"
             "  --per-question       each question's evidence ranks in the JSON\n"
             "  --dims N             embedding dimension (default " S_STR (BENCH_EMBED_DIMS) ")\n"
             "  --texts FILE         write every turn and question to embed (JSONL) and stop\n"
             "  --embeddings FILE    a real model's vectors for them (bench/embedder) instead\n"
             "                       of the hashed n-grams\n"
             "  --no-memd, --no-fts  skip one system (--no-memd: all memd modes)\n"
             "  --no-graph           skip +graph and hyb+graph\n"
             "  --no-hybrid          memd-lex and +graph only (no embeddings at capture)\n"
             "  --weights W          memd-hyb's weights, as lexical=1,vector=0.5,recency=0,...\n"
             "                       (default and for those not named: memd's)\n"
             "  --fusion F           memd-hyb's fusion: rrf or weighted (default: memd's)\n"
             "  --selftest           check the scoring and the harness on a tiny fixture\n"
             "  --verbose            more detail on stderr\n\n"
             "Exit code: 0 when every system ran, 1 on a failure, 2 on a usage error,\n"
             "77 when DATA cannot be read (ctest shows a skip).\n");
}

static int s_parse_count (const char *name, const char *text, size_t *value)
{
    char *end;
    errno = 0;
    unsigned long long number = strtoull (text, &end, 10);
    if (errno || end == text || *end || *text == '-' || number > 1000000) {
        fprintf (stderr, "%s: --%s wants a count, not \"%s\"\n", S_NAME, name, text);
        return -1;
    }
    *value = (size_t)number;
    return 0;
}

//  "lexical=1,vector=0.5" into w (lexical, vector, recency, salience, graph)
//  Weights not named keep memd's defaults (RankWeights in messages/memd.proto),
//  so "vector=0.3" does not turn the graph off
static int s_parse_weights (const char *text, float *w)
{
    static const char *names[] = {"lexical", "vector", "recency", "salience", "graph"};
    static const float defaults[] = {1, 1, 0.1f, 0.1f, 1};
    memcpy (w, defaults, sizeof defaults);
    char *copy = strdup (text), *save = NULL;
    int rc = copy ? 0 : -1;
    for (char *item = copy ? strtok_r (copy, ",", &save) : NULL; item && !rc;
         item = strtok_r (NULL, ",", &save)) {
        char *eq = strchr (item, '=');
        size_t i = 0;
        while (eq && i < 5 && strncmp (item, names[i], (size_t)(eq - item)))
            i++;
        char *end = NULL;
        double value = eq ? strtod (eq + 1, &end) : -1;
        if (!eq || i == 5 || end == eq + 1 || *end || !(value >= 0 && value <= 1000)) {
            fprintf (stderr, "%s: --weights wants lexical=N,vector=N,recency=N,salience=N,graph=N\n",
                     S_NAME);
            rc = -1;
        } else
            w[i] = (float)value;
    }
    free (copy);
    return rc;
}

//  Parses argv into opts; returns 0, 1 for --help, 2 for --selftest, -1 on error
static int s_parse_args (int argc, char **argv, s_opts_t *opts)
{
    enum {
        O_JSON = 256,
        O_MEMD,
        O_CONVS,
        O_QUESTIONS,
        O_TEXT_ONLY,
        O_CAPTIONS,
        O_PER_QUESTION,
        O_NO_MEMD,
        O_NO_GRAPH,
        O_NO_FTS,
        O_NO_HYBRID,
        O_DIMS,
        O_TEXTS,
        O_EMBEDDINGS,
        O_WEIGHTS,
        O_FUSION,
        O_SELFTEST,
        O_VERBOSE
    };
    static const struct option options[] = {{"json", required_argument, NULL, O_JSON},
                                            {"memd", required_argument, NULL, O_MEMD},
                                            {"conversations", required_argument, NULL, O_CONVS},
                                            {"questions", required_argument, NULL, O_QUESTIONS},
                                            {"text-only", no_argument, NULL, O_TEXT_ONLY},
                                            {"captions", no_argument, NULL, O_CAPTIONS},
                                            {"per-question", no_argument, NULL, O_PER_QUESTION},
                                            {"no-memd", no_argument, NULL, O_NO_MEMD},
                                            {"no-graph", no_argument, NULL, O_NO_GRAPH},
                                            {"no-fts", no_argument, NULL, O_NO_FTS},
                                            {"no-hybrid", no_argument, NULL, O_NO_HYBRID},
                                            {"dims", required_argument, NULL, O_DIMS},
                                            {"texts", required_argument, NULL, O_TEXTS},
                                            {"embeddings", required_argument, NULL, O_EMBEDDINGS},
                                            {"weights", required_argument, NULL, O_WEIGHTS},
                                            {"fusion", required_argument, NULL, O_FUSION},
                                            {"selftest", no_argument, NULL, O_SELFTEST},
                                            {"verbose", no_argument, NULL, O_VERBOSE},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    bool selftest = false;
    opts->data = S_DEFAULT_DATA;
    opts->json = S_DEFAULT_JSON;
    for (size_t s = 0; s < SYS_COUNT; s++)
        opts->run[s] = true;
    opts->dims = BENCH_EMBED_DIMS;
    int option;
    while ((option = getopt_long (argc, argv, "h", options, NULL)) != -1) {
        switch (option) {
        case O_JSON:
            opts->json = optarg;
            break;
        case O_MEMD:
            opts->memd = optarg;
            break;
        case O_CONVS:
            if (s_parse_count ("conversations", optarg, &opts->max_convs))
                return -1;
            break;
        case O_QUESTIONS:
            if (s_parse_count ("questions", optarg, &opts->max_questions))
                return -1;
            break;
        case O_TEXT_ONLY:
            opts->text_only = true;
            break;
        case O_CAPTIONS:
            opts->captions = true;
            break;
        case O_PER_QUESTION:
            opts->per_question = true;
            break;
        case O_NO_MEMD:
            for (size_t s = SYS_MEMD_LEX; s <= SYS_MEMD_VEC; s++)
                opts->run[s] = false;
            break;
        case O_NO_GRAPH:
            opts->run[SYS_MEMD_GRAPH] = opts->run[SYS_MEMD_HYBG] = false;
            break;
        case O_NO_HYBRID:
            opts->run[SYS_MEMD_HYB] = opts->run[SYS_MEMD_HYBG] = opts->run[SYS_MEMD_VEC] = false;
            break;
        case O_WEIGHTS:
            if (s_parse_weights (optarg, opts->weights))
                return -1;
            break;
        case O_FUSION:
            if (strcmp (optarg, "rrf") && strcmp (optarg, "weighted")) {
                fprintf (stderr, "%s: --fusion wants rrf or weighted\n", S_NAME);
                return -1;
            }
            opts->fusion = strcmp (optarg, "rrf") ? MEMD__V1__FUSION__FUSION_WEIGHTED
                                                  : MEMD__V1__FUSION__FUSION_RRF;
            break;
        case O_DIMS:
            if (s_parse_count ("dims", optarg, &opts->dims) || opts->dims < 2 || opts->dims > 4096) {
                fprintf (stderr, "%s: --dims wants 2 to 4096\n", S_NAME);
                return -1;
            }
            break;
        case O_TEXTS:
            opts->texts = optarg;
            break;
        case O_EMBEDDINGS:
            opts->embeddings = optarg;
            break;
        case O_NO_FTS:
            opts->run[SYS_FTS5] = false;
            break;
        case O_SELFTEST:
            selftest = true;
            break;
        case O_VERBOSE:
            opts->verbose = true;
            break;
        case 'h':
            s_usage (stdout);
            return 1;
        default:
            s_usage (stderr);
            return -1;
        }
    }
    if (optind < argc)
        opts->data = argv[optind++];
    if (optind < argc) {
        fprintf (stderr, "%s: unexpected argument \"%s\"\n", S_NAME, argv[optind]);
        s_usage (stderr);
        return -1;
    }
    return selftest ? 2 : 0;
}

int main (int argc, char **argv)
{
    bench_daemon_catch_signals (&s_interrupted);

    s_bench_t bench;
    s_bench_t *self = &bench;
    memset (self, 0, sizeof (*self));
    int parsed = s_parse_args (argc, argv, &self->opts);
    if (parsed == 1)
        return 0;
    if (parsed < 0)
        return 2;
    if (parsed == 2)
        return s_selftest (&self->opts);
    if (access (self->opts.data, R_OK)) {
        fprintf (stderr, "%s: %s: %s\n", S_NAME, self->opts.data, strerror (errno));
        return 77; //  ctest's "skipped" (SKIP_RETURN_CODE)
    }
    int rc = 1;
    if (self->opts.texts)
        rc = s_bench_run (self) == 0 ? 0 : 1;
    else if (s_bench_run (self) == 0) {
        s_print_table (self, stdout);
        fflush (stdout);
        rc = s_write_json (self) == 0 ? 0 : 1;
    }
    if (s_interrupted)
        fprintf (stderr, "%s: interrupted\n", S_NAME);
    if (*self->base)
        bench_daemon_remove_tree (self->base);
    s_bench_free (self);
    return s_interrupted ? 130 : rc;
}
