/*  test_recall — hybrid recall against a real memd (issue 7).

        test_recall ENDPOINT

    Embeddings that memd must refuse, and how; ranking on a small corpus
    whose answer for each signal (lexical, vector, recency, salience) and
    for their fusion is worked out by hand below; session context (a
    reply ranked after the turn it answers); Context blocks that stay
    within their budget and never repeat a record; and recall statistics
    written after recalls by the writer, never by the recall itself. */
#include <czmq.h>
#include <math.h>
#include "mem_codec.h"
#include "memd_client.h"

static memd_client_t *s_client;
static int s_failures;

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf (stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                          \
            fprintf (stderr, __VA_ARGS__);                                                 \
            fprintf (stderr, "\n");                                                        \
            s_failures++;                                                                  \
        }                                                                                  \
    } while (0)

#define S_DAY (24LL * 3600 * 1000)

//  Captures one record; returns its id or 0 with the error in the client.
static uint64_t
s_capture (const char *agent, const char *text, const float *v, size_t dims, int64_t created,
           float salience)
{
    Memd__V1__Record rec = MEMD__V1__RECORD__INIT;
    Memd__V1__Record *recs[] = {&rec};
    rec.text = (char *) text;
    rec.embedding = (float *) v;
    rec.n_embedding = dims;
    rec.created_at_ms = created;
    rec.salience = salience;
    uint64_t id = 0;
    if (memd_client_capture (s_client, agent, recs, 1, &id, NULL))
        return 0;
    return id;
}

//  Expects the last call to have failed with code and a message holding needle.
static void
s_expect_error (const char *what, int code, const char *needle)
{
    int got = memd_client_code (s_client);
    const char *message = memd_client_error (s_client);
    CHECK (got == code && strstr (message, needle), "%s: got %s '%s', expected %s '…%s…'", what,
           mem_code_name (got), message, mem_code_name (code), needle);
    if (got == code)
        printf ("ok  %-40s -> %s: %s\n", what, mem_code_name (got), message);
}

static void
s_test_errors (void)
{
    float v[4] = {0.1f, 0.2f, 0.3f, 0.4f};
    CHECK (s_capture ("errors", "four dimensions", v, 4, 0, 0), "first embedding: %s",
           memd_client_error (s_client));
    CHECK (!s_capture ("errors", "three dimensions", v, 3, 0, 0), "a 3-d vector was taken");
    s_expect_error ("dimension mismatch", MEM_INVALID_ARGUMENT,
                    "embedding has 3 dimensions, but agent errors uses 4");
    v[2] = NAN;
    CHECK (!s_capture ("errors", "nan", v, 4, 0, 0), "NaN was taken");
    s_expect_error ("NaN in an embedding", MEM_INVALID_ARGUMENT, "embedding[2] is NaN");
    v[2] = INFINITY;
    CHECK (!s_capture ("errors", "inf", v, 4, 0, 0), "Inf was taken");
    s_expect_error ("Inf in an embedding", MEM_INVALID_ARGUMENT, "embedding[2] is infinite");
    float zeros[4] = {0};
    CHECK (!s_capture ("errors", "zero", zeros, 4, 0, 0), "a zero vector was taken");
    s_expect_error ("all-zero embedding", MEM_INVALID_ARGUMENT, "all zeros");
    float *big = calloc (5000, sizeof *big);
    big[0] = 1;
    CHECK (!s_capture ("errors-big", "big", big, 5000, 0, 0), "5000 dimensions were taken");
    s_expect_error ("oversized embedding", MEM_TOO_LARGE, "5000 dimensions, over the limit of 4096");
    free (big);

    //  One request whose records disagree: refused whole, nothing stored.
    float a[2] = {1, 0}, b[3] = {1, 0, 0};
    Memd__V1__Record r0 = MEMD__V1__RECORD__INIT, r1 = MEMD__V1__RECORD__INIT;
    Memd__V1__Record *recs[] = {&r0, &r1};
    r0.text = "first of a refused batch";
    r0.embedding = a;
    r0.n_embedding = 2;
    r1.text = "second of a refused batch";
    r1.embedding = b;
    r1.n_embedding = 3;
    uint64_t ids[2];
    CHECK (memd_client_capture (s_client, "errors-batch", recs, 2, ids, NULL) != 0,
           "a batch with two dimensions was taken");
    s_expect_error ("mixed dimensions in one request", MEM_INVALID_ARGUMENT, "record 1");
    Memd__V1__Recall q = MEMD__V1__RECALL__INIT;
    q.query = "refused batch";
    Memd__V1__Reply *reply = memd_client_recall (s_client, "errors-batch", &q);
    CHECK (reply && reply->recall->n_hits == 0, "the refused batch left records behind");
    memd_client_reply_free (&reply);

    //  The query's side: its dimension must be the agent's; NaN is refused.
    v[2] = 0.3f;
    q.query = "";
    q.query_embedding = v;
    q.n_query_embedding = 3;
    CHECK (!memd_client_recall (s_client, "errors", &q), "a 3-d query was taken");
    s_expect_error ("query dimension mismatch", MEM_INVALID_ARGUMENT,
                    "query_embedding has 3 dimensions, but this agent's embeddings have 4");
    q.n_query_embedding = 4;
    v[0] = NAN;
    CHECK (!memd_client_recall (s_client, "errors", &q), "a NaN query was taken");
    s_expect_error ("NaN in a query embedding", MEM_INVALID_ARGUMENT, "query_embedding[0] is NaN");
    v[0] = 0.1f;
    reply = memd_client_recall (s_client, "errors", &q);
    CHECK (reply && reply->recall->n_hits == 1, "a 4-d query found nothing: %s",
           memd_client_error (s_client));
    memd_client_reply_free (&reply);
}

//  The corpus: text, vector, age in days, salience. Hand-worked answers:
//  - lexical "storage": 5 (three times) then 2 (shorter) then 1
//  - vector [0.1, 0, 1]: 5 (1.0), 3 (0.995), 6, 7, 1 (0.0995), 4, 2 (0)
//  - recency: 3 is a day old, the newest
//  - salience: 4 (0.9) is the most salient
//  - RRF of lexical and vector: 5 (2/61), 1 (1/63 + 1/65 = 0.031258),
//    2 (1/62 + 1/67 = 0.031054), 3 (1/62)
static const struct {
    const char *text;
    float v[3];
    int64_t age_days;
    float salience;
} s_corpus[] = {
    {"We chose LMDB for storage because readers never block", {1, 0, 0}, 40, 0.5f},
    {"Backups of the storage run nightly at two", {0, 1, 0}, 10, 0.5f},
    {"The cat sleeps on the warm laptop", {0, 0, 1}, 1, 0.5f},
    {"I went to the support group yesterday", {0.7f, 0.7f, 0}, 300, 0.9f},
    {"Storage storage storage engines compared", {0.1f, 0, 1}, 5, 0.2f},
    {"The king of the hill won the race", {0, 0.2f, 1}, 2, 0.5f},
    {"the hill and the king went home", {0, 0.3f, 1}, 2, 0.5f},
};
#define S_CORPUS (sizeof s_corpus / sizeof s_corpus[0])
static uint64_t s_corpus_first;   //  memd's id of the corpus's record 1

//  The hits' ids (in rank order) of a recall of the ranking corpus.
static size_t
s_rank (const char *text, const float *v, Memd__V1__RankWeights *w, Memd__V1__Fusion fusion,
        uint64_t *ids, double *scores)
{
    Memd__V1__Recall q = MEMD__V1__RECALL__INIT;
    q.query = (char *) text;
    q.query_embedding = (float *) v;
    q.n_query_embedding = v ? 3 : 0;
    q.weights = w;
    q.fusion = fusion;
    q.k = 10;
    q.no_stats = true;
    Memd__V1__Reply *reply = memd_client_recall (s_client, "ranking", &q);
    CHECK (reply, "recall '%s': %s", text, memd_client_error (s_client));
    size_t n = 0;
    for (size_t i = 0; reply && i < reply->recall->n_hits; i++, n++) {
        ids[i] = reply->recall->hits[i]->record->id - s_corpus_first + 1;
        scores[i] = reply->recall->hits[i]->score;
    }
    memd_client_reply_free (&reply);
    return n;
}

static void
s_expect_order (const char *what, const uint64_t *got, size_t n, const uint64_t *want, size_t m)
{
    bool same = n >= m;
    for (size_t i = 0; i < m && same; i++)
        same = got[i] == want[i];
    char text[128] = "";
    for (size_t i = 0, used = 0; i < n && used < sizeof text - 8; i++)
        used += (size_t) snprintf (text + used, sizeof text - used, "%llu ",
                                   (unsigned long long) got[i]);
    CHECK (same, "%s: ranked %s", what, text);
    if (same)
        printf ("ok  %-40s -> %s\n", what, text);
}

static void
s_test_ranking (void)
{
    int64_t now = (int64_t) zclock_time ();
    for (size_t i = 0; i < S_CORPUS; i++) {
        uint64_t id = s_capture ("ranking", s_corpus[i].text, s_corpus[i].v, 3,
                                 now - s_corpus[i].age_days * S_DAY, s_corpus[i].salience);
        CHECK (id, "corpus record %zu: %s", i, memd_client_error (s_client));
        if (i == 0)
            s_corpus_first = id;
    }
    uint64_t ids[16];
    double scores[16];
    float v5[3] = {0.1f, 0, 1};
    Memd__V1__RankWeights w = MEMD__V1__RANK_WEIGHTS__INIT;
    w.lexical = 1;
    size_t n = s_rank ("storage", NULL, &w, 0, ids, scores);
    s_expect_order ("lexical: storage", ids, n, (uint64_t[]){5, 2, 1}, 3);
    CHECK (n == 3, "lexical: %zu hits, expected 3", n);
    w.lexical = 0, w.vector = 1;
    n = s_rank ("", v5, &w, 0, ids, scores);
    s_expect_order ("vector: [0.1, 0, 1]", ids, n, (uint64_t[]){5, 3, 6, 7, 1, 4, 2}, 7);
    w.vector = 0, w.lexical = 0.0001f, w.recency = 1;
    n = s_rank ("storage cat king support backups", NULL, &w, 0, ids, scores);
    s_expect_order ("recency: newest first", ids, n, (uint64_t[]){3}, 1);
    CHECK (n == S_CORPUS && ids[n - 1] == 4, "recency: the oldest (4) is not last");
    w.recency = 0, w.salience = 1;
    n = s_rank ("storage cat king support backups", NULL, &w, 0, ids, scores);
    s_expect_order ("salience: most salient first", ids, n, (uint64_t[]){4}, 1);
    w.lexical = 1, w.vector = 1, w.salience = 0;
    n = s_rank ("storage", v5, &w, MEMD__V1__FUSION__FUSION_RRF, ids, scores);
    s_expect_order ("fusion (rrf): storage + [0.1, 0, 1]", ids, n, (uint64_t[]){5, 1, 2, 3}, 4);
    CHECK (n >= 4 && fabs (scores[0] - 2 / 61.0) < 1e-9
               && fabs (scores[1] - (1 / 63.0 + 1 / 65.0)) < 1e-9
               && fabs (scores[2] - (1 / 62.0 + 1 / 67.0)) < 1e-9,
           "fusion (rrf): scores %f %f %f", scores[0], scores[1], scores[2]);
    n = s_rank ("storage", v5, &w, MEMD__V1__FUSION__FUSION_WEIGHTED, ids, scores);
    s_expect_order ("fusion (weighted): storage + [0.1, 0, 1]", ids, n, (uint64_t[]){5}, 1);
    CHECK (n && fabs (scores[0] - 2) < 1e-6, "fusion (weighted): 5 scores %f, expected 2",
           scores[0]);

    //  The explanation names each part.
    Memd__V1__Recall q = MEMD__V1__RECALL__INIT;
    q.query = "storage";
    q.query_embedding = v5;
    q.n_query_embedding = 3;
    q.explain = true;
    q.no_stats = true;
    Memd__V1__Reply *reply = memd_client_recall (s_client, "ranking", &q);
    const char *explain = reply && reply->recall->n_hits ? reply->recall->hits[0]->explain : "";
    CHECK (strstr (explain, "rrf") && strstr (explain, "lexical #1")
               && strstr (explain, "vector #1") && strstr (explain, "recency")
               && strstr (explain, "salience") && strstr (explain, "storag="),
           "explain: '%s'", explain);
    memd_client_reply_free (&reply);
}

//  Session context: a reply takes a share of the turn it answers. "paint
//  sunset" matches turn 2 (both words) and, in another session, turn 6
//  (one word); turn 3 answers turn 2 and ranks right after it, turn 4 is
//  two away and comes too, turn 5 (three away) does not. Without a
//  session the same turns are left as they are.
static const char *s_turns[] = {
    "Hi Mel, how was your week?",             //  1, session a
    "Did you paint that sunset yourself?",    //  2
    "Yes, I drew it last week with pastels",  //  3
    "Thanks, it hangs in the hall now",       //  4
    "See you at the gallery soon",            //  5
    "The sunset over the lake was orange",    //  6, session b
};
#define S_TURNS (sizeof s_turns / sizeof s_turns[0])

static size_t
s_talk (const char *agent, bool sessions, uint64_t *ids, char *explain, size_t explain_size)
{
    uint64_t first = 0;
    for (size_t i = 0; i < S_TURNS; i++) {
        Memd__V1__Record rec = MEMD__V1__RECORD__INIT;
        Memd__V1__Record *recs[] = {&rec};
        rec.text = (char *) s_turns[i];
        rec.session_id = !sessions ? "" : i < 5 ? "a" : "b";
        uint64_t id = 0;
        CHECK (!memd_client_capture (s_client, agent, recs, 1, &id, NULL), "capture: %s",
               memd_client_error (s_client));
        first = first ? first : id;
    }
    Memd__V1__Recall q = MEMD__V1__RECALL__INIT;
    Memd__V1__RankWeights w = MEMD__V1__RANK_WEIGHTS__INIT;
    w.lexical = 1;
    q.weights = &w;
    q.query = "paint sunset";
    q.graph = MEMD__V1__RECALL_GRAPH__RECALL_GRAPH_OFF;
    q.explain = true;
    q.no_stats = true;
    q.k = 10;
    Memd__V1__Reply *reply = memd_client_recall (s_client, agent, &q);
    CHECK (reply, "recall: %s", memd_client_error (s_client));
    size_t n = 0;
    for (; reply && n < reply->recall->n_hits; n++)
        ids[n] = reply->recall->hits[n]->record->id - first + 1;
    snprintf (explain, explain_size, "%s", n > 1 ? reply->recall->hits[1]->explain : "");
    memd_client_reply_free (&reply);
    return n;
}

static void
s_test_session_context (void)
{
    uint64_t ids[16];
    char explain[1024];
    size_t n = s_talk ("talk", true, ids, explain, sizeof explain);
    s_expect_order ("session context: the reply follows", ids, n, (uint64_t[]){2, 3}, 2);
    bool has4 = false, has5 = false;
    for (size_t i = 0; i < n; i++)
        has4 |= ids[i] == 4, has5 |= ids[i] == 5;
    CHECK (has4 && !has5, "session context: two turns away %s, three away %s",
           has4 ? "in" : "missing", has5 ? "in" : "out");
    CHECK (strstr (explain, "context") && strstr (explain, "bm25 0.000"),
           "session context: explain '%s'", explain);
    n = s_talk ("talk-alone", false, ids, explain, sizeof explain);
    s_expect_order ("without sessions: the matches alone", ids, n, (uint64_t[]){2, 6}, 2);
    CHECK (n == 2, "without sessions: %zu hits, expected 2", n);
}

//  Context: never over the budget, never a record twice, near-duplicates once.
static void
s_test_context (void)
{
    char text[600], near[610] = "";
    for (int i = 0; i < 60; i++) {
        int len = snprintf (text, sizeof text, "context note %d about the garden", i);
        for (int w = 0; w < i * 3 && len < 500; w++)
            len += snprintf (text + len, sizeof text - (size_t) len, " garden%d_%d", i, w);
        CHECK (s_capture ("context", text, NULL, 0, 0, 0), "context record %d", i);
        if (i == 9)
            snprintf (near, sizeof near, "%sX", text);   //  its last word differs
    }
    CHECK (s_capture ("context", near, NULL, 0, 0, 0), "near duplicate");
    Memd__V1__Recall q = MEMD__V1__RECALL__INIT;
    q.query = "garden note";
    q.k = 100;
    q.no_stats = true;
    Memd__V1__Context c = MEMD__V1__CONTEXT__INIT;
    c.recall = &q;
    int checked = 0;
    for (uint32_t budget = 1; budget < 6000; budget = budget * 3 / 2 + 1) {
        c.budget_tokens = budget;
        Memd__V1__Reply *reply = memd_client_context (s_client, "context", &c);
        CHECK (reply, "context of %u tokens: %s", budget, memd_client_error (s_client));
        if (!reply)
            continue;
        const Memd__V1__ContextResult *r = reply->context;
        size_t bytes = strlen (r->text);
        CHECK (bytes <= (size_t) budget * 4 && r->tokens <= budget && r->budget_tokens == budget,
               "context of %u tokens: %zu bytes, %u tokens", budget, bytes, r->tokens);
        for (size_t i = 0; i < r->n_ids; i++)
            for (size_t j = 0; j < i; j++)
                CHECK (r->ids[i] != r->ids[j], "context of %u tokens repeats #%llu", budget,
                       (unsigned long long) r->ids[i]);
        size_t lines = 0;
        for (const char *p = r->text; *p; p++)
            lines += *p == '\n';
        CHECK (!r->n_ids || lines == r->n_ids + 1, "context of %u tokens: %zu lines, %zu ids",
               budget, lines, r->n_ids);
        checked++;
        memd_client_reply_free (&reply);
    }
    c.budget_tokens = 100000;
    Memd__V1__Reply *reply = memd_client_context (s_client, "context", &c);
    CHECK (reply && reply->context->n_ids == 60 && reply->context->omitted == 1,
           "a roomy context: %zu lines, %u omitted (expected 60 and the near duplicate)",
           reply ? reply->context->n_ids : 0, reply ? reply->context->omitted : 0);
    CHECK (reply && strstr (reply->context->text, "Memories relevant to \"garden note\""),
           "the heading quotes the query");
    memd_client_reply_free (&reply);
    printf ("ok  %-40s -> %d budgets, none exceeded, no repeats\n", "context budgets", checked);
}

//  The recalled record as Get shows it.
static uint32_t
s_recall_count (uint64_t id, int64_t *last)
{
    Memd__V1__Reply *reply = memd_client_get (s_client, "stats", &id, 1);
    uint32_t count = reply && reply->get->n_records ? reply->get->records[0]->recall_count : 0;
    *last = reply && reply->get->n_records ? reply->get->records[0]->last_recalled_ms : 0;
    memd_client_reply_free (&reply);
    return count;
}

//  Statistics: counted by the writer after the recall (which answers with
//  the record as it was), coalesced; a recall with no_stats counts nothing.
static void
s_test_stats (void)
{
    uint64_t id = s_capture ("stats", "the lighthouse keeper logs the weather", NULL, 0, 0, 0);
    uint64_t other = s_capture ("stats", "the weather was calm", NULL, 0, 0, 0);
    CHECK (id && other, "stats records: %s", memd_client_error (s_client));
    Memd__V1__Recall q = MEMD__V1__RECALL__INIT;
    q.query = "lighthouse";
    q.no_stats = true;
    Memd__V1__Reply *reply = memd_client_recall (s_client, "stats", &q);
    memd_client_reply_free (&reply);
    zclock_sleep (600);
    int64_t last;
    CHECK (s_recall_count (id, &last) == 0 && last == 0, "a no_stats recall was counted");
    q.no_stats = false;
    int64_t before = (int64_t) zclock_time ();
    for (int i = 0; i < 3; i++) {
        reply = memd_client_recall (s_client, "stats", &q);
        CHECK (reply && reply->recall->n_hits == 1, "stats recall %d", i);
        //  The read path wrote nothing: the hit is the record as it was.
        CHECK (reply && reply->recall->n_hits == 1
                   && reply->recall->hits[0]->record->recall_count == 0,
               "recall %d answered an updated record: written in the read path?", i);
        memd_client_reply_free (&reply);
    }
    uint32_t count = 0;
    for (int wait = 0; wait < 100 && count < 3; wait++) {
        zclock_sleep (50);
        count = s_recall_count (id, &last);
    }
    CHECK (count == 3 && last >= before, "recall_count %u (expected 3), last %lld", count,
           (long long) last);
    CHECK (s_recall_count (other, &last) == 0, "a record never recalled was counted");
    printf ("ok  %-40s -> recall_count %u, written after the recalls\n", "recall statistics",
           count);
}

int
main (int argc, char *argv[])
{
    if (argc != 2) {
        fprintf (stderr, "usage: test_recall ENDPOINT\n");
        return 2;
    }
    zsys_init ();
    s_client = memd_client_new (argv[1], 5000);
    s_test_errors ();
    s_test_ranking ();
    s_test_session_context ();
    s_test_context ();
    s_test_stats ();
    memd_client_destroy (&s_client);
    if (s_failures)
        fprintf (stderr, "%d check(s) failed\n", s_failures);
    return s_failures ? 1 : 0;
}
