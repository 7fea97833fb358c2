/*  mem_codec — decoding, validation and packing of memd.v1 messages.

    Everything that comes off a socket passes through here before any actor
    acts on it, so the rest of memd can trust a decoded request's shape:
    strings are UTF-8 and bounded, batches bounded, the operation present.
*/
#include "mem_codec.h"
#include <math.h>
#include <stdarg.h>

void
mem_limits_default (mem_limits_t *limits)
{
    limits->max_message_bytes = 16u << 20;
    limits->max_batch = 10000;
    limits->max_text_bytes = 1u << 20;
    limits->max_string_bytes = 1024;
    limits->max_id_bytes = 256;
    limits->max_tags = 64;
    limits->max_metadata = 64;
    limits->max_ids = 10000;
    limits->max_k = 1000;
    limits->max_query_bytes = 64u << 10;
    limits->max_payload_bytes = 1u << 20;
    limits->max_lease_jobs = 1000;
    limits->max_lease_ms = 24LL * 3600 * 1000;
    limits->max_wait_ms = 10LL * 60 * 1000;
    limits->max_delay_ms = 366LL * 24 * 3600 * 1000;
    limits->max_list = 10000;
    limits->max_embedding_dims = 4096;
    limits->max_budget_tokens = 100000;
}

bool
mem_codec_job_kind_valid (const char *name)
{
    if (!name || !*name)
        return false;
    size_t len = 0;
    for (const char *p = name; *p; p++, len++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
               || c == '_' || c == '.' || c == ':' || c == '-';
        if (!ok || len >= MEM_JOB_KIND_MAX)
            return false;
    }
    return true;
}

const char *
mem_code_name (int code)
{
    static const char *names[] = {"OK",          "INVALID_ARGUMENT", "NOT_FOUND",
                                  "TOO_LARGE",   "RESOURCE_EXHAUSTED", "STORE_FULL",
                                  "UNAVAILABLE", "PERMISSION_DENIED", "INTERNAL"};
    if (code >= 0 && code < (int) (sizeof names / sizeof names[0]))
        return names[code];
    return "UNKNOWN";
}

bool
mem_utf8_valid (const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *) s, *end = p + len;
    while (p < end) {
        unsigned c = *p;
        if (c < 0x80) {
            p++;
            continue;
        }
        size_t need;
        unsigned cp, min;
        if ((c & 0xE0) == 0xC0) {
            need = 1, cp = c & 0x1F, min = 0x80;
        }
        else if ((c & 0xF0) == 0xE0) {
            need = 2, cp = c & 0x0F, min = 0x800;
        }
        else if ((c & 0xF8) == 0xF0) {
            need = 3, cp = c & 0x07, min = 0x10000;
        }
        else
            return false;
        if ((size_t) (end - p) <= need)
            return false;
        for (size_t i = 1; i <= need; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        p += need + 1;
    }
    return true;
}

Memd__V1__Request *
mem_codec_request_decode (const void *data, size_t size)
{
    return memd__v1__request__unpack (NULL, size, (const uint8_t *) data);
}

//  Checks one string field: bounded, and UTF-8. NULL counts as empty.
static mem_code_t
s_check_string (const char *what, const char *s, size_t max, char *err, size_t err_size)
{
    if (!s)
        return MEM_OK;
    size_t len = strlen (s);
    if (len > max) {
        snprintf (err, err_size, "%s is %zu bytes, over the limit of %zu", what, len, max);
        return MEM_TOO_LARGE;
    }
    if (!mem_utf8_valid (s, len)) {
        snprintf (err, err_size, "%s is not valid UTF-8", what);
        return MEM_INVALID_ARGUMENT;
    }
    return MEM_OK;
}

#define CHECK_STRING(what, s, max)                                                     \
    do {                                                                               \
        mem_code_t rc_ = s_check_string ((what), (s), (max), err, err_size);           \
        if (rc_ != MEM_OK)                                                             \
            return rc_;                                                                \
    } while (0)

//  An embedding: bounded, finite, and with a direction (cosine similarity
//  of a zero vector means nothing). Empty is fine: embeddings are optional.
static mem_code_t
s_check_embedding (const char *what, const float *v, size_t n, const mem_limits_t *limits,
                   char *err, size_t err_size)
{
    if (n > limits->max_embedding_dims) {
        snprintf (err, err_size, "%s has %zu dimensions, over the limit of %zu", what, n,
                  limits->max_embedding_dims);
        return MEM_TOO_LARGE;
    }
    bool zero = n > 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite (v[i])) {
            snprintf (err, err_size, "%s[%zu] is %s: every value must be a finite float", what,
                      i, isnan (v[i]) ? "NaN" : "infinite");
            return MEM_INVALID_ARGUMENT;
        }
        zero = zero && v[i] == 0;
    }
    if (zero) {
        snprintf (err, err_size, "%s is all zeros: it has no direction to compare", what);
        return MEM_INVALID_ARGUMENT;
    }
    return MEM_OK;
}

#define CHECK_EMBEDDING(what, v, n)                                                    \
    do {                                                                               \
        mem_code_t rc_ = s_check_embedding ((what), (v), (n), limits, err, err_size);  \
        if (rc_ != MEM_OK)                                                             \
            return rc_;                                                                \
    } while (0)

//  protobuf-c keeps unknown enum values as they came: refuse them here.
static bool
s_kind_valid (int kind)
{
    return kind >= MEMD__V1__KIND__KIND_UNSPECIFIED && kind <= MEMD__V1__KIND__NOTE;
}

static mem_code_t
s_validate_record (const Memd__V1__Record *rec, size_t index, const char *req_agent,
                   const mem_limits_t *limits, char *err, size_t err_size)
{
    char what[96];
    const char *agent = rec->agent_id && *rec->agent_id ? rec->agent_id : req_agent;
    if (!agent || !*agent) {
        snprintf (err, err_size, "record %zu: agent_id is required", index);
        return MEM_INVALID_ARGUMENT;
    }
    snprintf (what, sizeof what, "record %zu: agent_id", index);
    CHECK_STRING (what, rec->agent_id, limits->max_id_bytes);
    snprintf (what, sizeof what, "record %zu: session_id", index);
    CHECK_STRING (what, rec->session_id, limits->max_id_bytes);
    snprintf (what, sizeof what, "record %zu: text", index);
    CHECK_STRING (what, rec->text, limits->max_text_bytes);
    if (!rec->text || !*rec->text) {
        snprintf (err, err_size, "record %zu: text is empty", index);
        return MEM_INVALID_ARGUMENT;
    }
    if (!s_kind_valid (rec->kind)) {
        snprintf (err, err_size, "record %zu: unknown kind %d", index, rec->kind);
        return MEM_INVALID_ARGUMENT;
    }
    if (rec->n_tags > limits->max_tags) {
        snprintf (err, err_size, "record %zu: %zu tags, over the limit of %zu", index,
                  rec->n_tags, limits->max_tags);
        return MEM_TOO_LARGE;
    }
    for (size_t i = 0; i < rec->n_tags; i++) {
        snprintf (what, sizeof what, "record %zu: tag %zu", index, i);
        CHECK_STRING (what, rec->tags[i], limits->max_string_bytes);
        if (!*rec->tags[i]) {
            snprintf (err, err_size, "record %zu: tag %zu is empty", index, i);
            return MEM_INVALID_ARGUMENT;
        }
    }
    if (rec->n_metadata > limits->max_metadata) {
        snprintf (err, err_size, "record %zu: %zu metadata entries, over the limit of %zu",
                  index, rec->n_metadata, limits->max_metadata);
        return MEM_TOO_LARGE;
    }
    for (size_t i = 0; i < rec->n_metadata; i++) {
        snprintf (what, sizeof what, "record %zu: metadata key %zu", index, i);
        CHECK_STRING (what, rec->metadata[i]->key, limits->max_string_bytes);
        snprintf (what, sizeof what, "record %zu: metadata value %zu", index, i);
        CHECK_STRING (what, rec->metadata[i]->value, limits->max_string_bytes);
    }
    if (rec->salience < 0 || rec->salience > 1 || rec->salience != rec->salience) {
        snprintf (err, err_size, "record %zu: salience must be within 0..1", index);
        return MEM_INVALID_ARGUMENT;
    }
    if (rec->created_at_ms < 0) {
        snprintf (err, err_size, "record %zu: created_at_ms is negative", index);
        return MEM_INVALID_ARGUMENT;
    }
    //  The agent's own dimension is checked by the writer (it is in the store).
    snprintf (what, sizeof what, "record %zu: embedding", index);
    CHECK_EMBEDDING (what, rec->embedding, rec->n_embedding);
    return MEM_OK;
}

//  A job kind: present, short, and from a small alphabet (it is a key and
//  appears in the jobs/limits setting).
static mem_code_t
s_check_kind (const char *what, const char *kind, char *err, size_t err_size)
{
    if (!kind || !*kind) {
        snprintf (err, err_size, "%s is empty", what);
        return MEM_INVALID_ARGUMENT;
    }
    if (!mem_codec_job_kind_valid (kind)) {
        snprintf (err, err_size, "%s '%.80s%s' is not 1-%d characters of A-Z a-z 0-9 _ . : -",
                  what, kind, strlen (kind) > 80 ? "..." : "", MEM_JOB_KIND_MAX);
        return strlen (kind) > MEM_JOB_KIND_MAX ? MEM_TOO_LARGE : MEM_INVALID_ARGUMENT;
    }
    return MEM_OK;
}

#define CHECK_KIND(what, kind)                                                         \
    do {                                                                               \
        mem_code_t rc_ = s_check_kind ((what), (kind), err, err_size);                 \
        if (rc_ != MEM_OK)                                                             \
            return rc_;                                                                \
    } while (0)

//  Kinds under "memd." are memd's own (the graph's memd.link): a client may
//  list them, but not enqueue or lease them, so no worker can take a job
//  away from the actor that does it.
#define CHECK_NOT_INTERNAL(kind)                                                       \
    do {                                                                               \
        if (strncmp ((kind), MEM_JOB_INTERNAL_PREFIX, strlen (MEM_JOB_INTERNAL_PREFIX)) == 0) { \
            snprintf (err, err_size, "kind '%s' is memd's own (kinds starting with %s are "    \
                      "reserved)", (kind), MEM_JOB_INTERNAL_PREFIX);                  \
            return MEM_INVALID_ARGUMENT;                                               \
        }                                                                              \
    } while (0)

#define CHECK_RANGE(what, value, max)                                                  \
    do {                                                                               \
        if ((value) < 0 || (value) > (max)) {                                          \
            snprintf (err, err_size, "%s = %lld is outside 0..%lld", (what),           \
                      (long long) (value), (long long) (max));                         \
            return MEM_INVALID_ARGUMENT;                                               \
        }                                                                              \
    } while (0)

//  Ids for Retry and Purge: bounded, none zero.
static mem_code_t
s_check_job_ids (const char *op, const uint64_t *ids, size_t n, const char *kind,
                 const mem_limits_t *limits, char *err, size_t err_size)
{
    if (n > limits->max_ids) {
        snprintf (err, err_size, "%s of %zu ids is over the limit of %zu", op, n,
                  limits->max_ids);
        return MEM_TOO_LARGE;
    }
    for (size_t i = 0; i < n; i++)
        if (ids[i] == 0) {
            snprintf (err, err_size, "%s: job id 0 does not exist (ids start at 1)", op);
            return MEM_INVALID_ARGUMENT;
        }
    if (kind && *kind)
        return s_check_kind ("kind", kind, err, err_size);
    return MEM_OK;
}

//  The job operations (DESIGN §4 Job).
static mem_code_t
s_validate_job (const Memd__V1__Request *req, const mem_limits_t *limits, char *err,
                size_t err_size)
{
    switch (req->op_case) {
    case MEMD__V1__REQUEST__OP_JOB_ENQUEUE: {
        const Memd__V1__JobEnqueue *e = req->job_enqueue;
        CHECK_KIND ("kind", e->kind);
        CHECK_NOT_INTERNAL (e->kind);
        if (e->payload.len > limits->max_payload_bytes) {
            snprintf (err, err_size, "payload is %zu bytes, over the limit of %zu",
                      e->payload.len, limits->max_payload_bytes);
            return MEM_TOO_LARGE;
        }
        CHECK_STRING ("dedupe_key", e->dedupe_key, MEM_JOB_DEDUPE_MAX);
        CHECK_RANGE ("delay_ms", e->delay_ms, limits->max_delay_ms);
        if (e->max_attempts > 1000) {
            snprintf (err, err_size, "max_attempts = %u is over the limit of 1000",
                      e->max_attempts);
            return MEM_INVALID_ARGUMENT;
        }
        if (e->n_depends_on > MEM_JOB_DEPENDS_MAX) {
            snprintf (err, err_size, "%zu dependencies, over the limit of %d",
                      e->n_depends_on, MEM_JOB_DEPENDS_MAX);
            return MEM_TOO_LARGE;
        }
        for (size_t i = 0; i < e->n_depends_on; i++)
            if (e->depends_on[i] == 0) {
                snprintf (err, err_size, "depends_on: job id 0 does not exist (ids start at 1)");
                return MEM_INVALID_ARGUMENT;
            }
        return MEM_OK;
    }
    case MEMD__V1__REQUEST__OP_JOB_LEASE: {
        const Memd__V1__JobLease *l = req->job_lease;
        if (l->n_kinds == 0) {
            snprintf (err, err_size, "lease needs at least one kind");
            return MEM_INVALID_ARGUMENT;
        }
        if (l->n_kinds > MEM_JOB_KINDS_MAX) {
            snprintf (err, err_size, "lease of %zu kinds is over the limit of %d", l->n_kinds,
                      MEM_JOB_KINDS_MAX);
            return MEM_TOO_LARGE;
        }
        for (size_t i = 0; i < l->n_kinds; i++) {
            CHECK_KIND ("kind", l->kinds[i]);
            CHECK_NOT_INTERNAL (l->kinds[i]);
        }
        if (l->max_jobs > limits->max_lease_jobs) {
            snprintf (err, err_size, "max_jobs = %u is over the limit of %zu", l->max_jobs,
                      limits->max_lease_jobs);
            return MEM_INVALID_ARGUMENT;
        }
        CHECK_RANGE ("lease_ms", l->lease_ms, limits->max_lease_ms);
        CHECK_RANGE ("wait_ms", l->wait_ms, limits->max_wait_ms);
        CHECK_STRING ("worker", l->worker, limits->max_string_bytes);
        return MEM_OK;
    }
    case MEMD__V1__REQUEST__OP_JOB_COMPLETE:
        if (req->job_complete->id == 0) {
            snprintf (err, err_size, "complete needs a job id");
            return MEM_INVALID_ARGUMENT;
        }
        return MEM_OK;
    case MEMD__V1__REQUEST__OP_JOB_FAIL: {
        const Memd__V1__JobFail *f = req->job_fail;
        if (f->id == 0) {
            snprintf (err, err_size, "fail needs a job id");
            return MEM_INVALID_ARGUMENT;
        }
        CHECK_STRING ("error", f->error, MEM_JOB_ERROR_MAX);
        CHECK_RANGE ("retry_after_ms", f->retry_after_ms, limits->max_delay_ms);
        return MEM_OK;
    }
    case MEMD__V1__REQUEST__OP_JOB_EXTEND:
        if (req->job_extend->id == 0) {
            snprintf (err, err_size, "extend needs a job id");
            return MEM_INVALID_ARGUMENT;
        }
        CHECK_RANGE ("lease_ms", req->job_extend->lease_ms, limits->max_lease_ms);
        return MEM_OK;
    case MEMD__V1__REQUEST__OP_JOB_RETRY:
        return s_check_job_ids ("retry", req->job_retry->ids, req->job_retry->n_ids,
                                req->job_retry->kind, limits, err, err_size);
    case MEMD__V1__REQUEST__OP_JOB_PURGE:
        return s_check_job_ids ("purge", req->job_purge->ids, req->job_purge->n_ids,
                                req->job_purge->kind, limits, err, err_size);
    case MEMD__V1__REQUEST__OP_JOB_LIST: {
        const Memd__V1__JobList *l = req->job_list;
        if (l->state < MEMD__V1__JOB_STATE__JOB_STATE_UNSPECIFIED
            || l->state > MEMD__V1__JOB_STATE__JOB_BLOCKED) {
            snprintf (err, err_size, "unknown job state %d", l->state);
            return MEM_INVALID_ARGUMENT;
        }
        if (l->kind && *l->kind)
            CHECK_KIND ("kind", l->kind);
        if (l->limit > limits->max_list) {
            snprintf (err, err_size, "limit = %u is over the limit of %zu", l->limit,
                      limits->max_list);
            return MEM_INVALID_ARGUMENT;
        }
        return MEM_OK;
    }
    default:   //  JobStats has no fields
        return MEM_OK;
    }
}

//  A weight of the hybrid ranking: finite, within 0..MEM_WEIGHT_MAX.
static mem_code_t
s_check_weight (const char *what, float w, char *err, size_t err_size)
{
    if (!isfinite (w) || w < 0 || w > MEM_WEIGHT_MAX) {
        snprintf (err, err_size, "weights.%s = %g is outside 0..%d", what, (double) w,
                  MEM_WEIGHT_MAX);
        return MEM_INVALID_ARGUMENT;
    }
    return MEM_OK;
}

//  A Recall, alone or inside a Context.
static mem_code_t
s_validate_recall (const Memd__V1__Recall *r, const mem_limits_t *limits, char *err,
                   size_t err_size)
{
    CHECK_STRING ("query", r->query, limits->max_query_bytes);
    CHECK_STRING ("session_id", r->session_id, limits->max_id_bytes);
    CHECK_EMBEDDING ("query_embedding", r->query_embedding, r->n_query_embedding);
    if ((!r->query || !*r->query) && r->n_query_embedding == 0) {
        snprintf (err, err_size, "query is empty");
        return MEM_INVALID_ARGUMENT;
    }
    if (r->k > limits->max_k) {
        snprintf (err, err_size, "k = %u is over the limit of %zu", r->k, limits->max_k);
        return MEM_INVALID_ARGUMENT;
    }
    if (!s_kind_valid (r->kind)) {
        snprintf (err, err_size, "unknown kind %d", r->kind);
        return MEM_INVALID_ARGUMENT;
    }
    if (r->n_tags > limits->max_tags) {
        snprintf (err, err_size, "%zu tag filters, over the limit of %zu", r->n_tags,
                  limits->max_tags);
        return MEM_TOO_LARGE;
    }
    for (size_t i = 0; i < r->n_tags; i++)
        CHECK_STRING ("tag filter", r->tags[i], limits->max_string_bytes);
    if (r->until_ms && r->since_ms && r->until_ms <= r->since_ms) {
        snprintf (err, err_size, "until_ms must be after since_ms");
        return MEM_INVALID_ARGUMENT;
    }
    if (r->graph < 0 || r->graph > MEMD__V1__RECALL_GRAPH__RECALL_GRAPH_OFF) {
        snprintf (err, err_size, "unknown graph mode %d", r->graph);
        return MEM_INVALID_ARGUMENT;
    }
    if (r->fusion < MEMD__V1__FUSION__FUSION_DEFAULT
        || r->fusion > MEMD__V1__FUSION__FUSION_WEIGHTED) {
        snprintf (err, err_size, "unknown fusion %d", r->fusion);
        return MEM_INVALID_ARGUMENT;
    }
    const Memd__V1__RankWeights *w = r->weights;
    if (w) {
        mem_code_t rc;
        if ((rc = s_check_weight ("lexical", w->lexical, err, err_size))
            || (rc = s_check_weight ("vector", w->vector, err, err_size))
            || (rc = s_check_weight ("recency", w->recency, err, err_size))
            || (rc = s_check_weight ("salience", w->salience, err, err_size))
            || (rc = s_check_weight ("graph", w->graph, err, err_size)))
            return rc;
    }
    return MEM_OK;
}

//  True for the operations on records, which are scoped by agent.
//  Export, Import and Backup (memctl export, import, backup).
static mem_code_t
s_validate_portability (const Memd__V1__Request *req, const mem_limits_t *limits, char *err,
                        size_t err_size)
{
    if (req->op_case == MEMD__V1__REQUEST__OP_EXPORT_RECORDS) {
        const Memd__V1__Export *e = req->export_records;
        if (!e->all_agents && (!req->agent_id || !*req->agent_id)) {
            snprintf (err, err_size, "export needs agent_id or all_agents");
            return MEM_INVALID_ARGUMENT;
        }
        if (e->limit > MEM_EXPORT_MAX_LIMIT) {
            snprintf (err, err_size, "export limit %u is over the limit of %d", e->limit,
                      MEM_EXPORT_MAX_LIMIT);
            return MEM_INVALID_ARGUMENT;
        }
        return MEM_OK;
    }
    if (req->op_case == MEMD__V1__REQUEST__OP_BACKUP) {
        const char *dir = req->backup->dir;
        CHECK_STRING ("dir", dir, 4000);
        if (!dir || dir[0] != '/') {
            snprintf (err, err_size, "backup dir must be an absolute path");
            return MEM_INVALID_ARGUMENT;
        }
        return MEM_OK;
    }
    const Memd__V1__Import *im = req->import_records;
    if (im->n_records == 0) {
        snprintf (err, err_size, "import has no records");
        return MEM_INVALID_ARGUMENT;
    }
    if (im->n_records > limits->max_batch) {
        snprintf (err, err_size, "import of %zu records is over the batch limit of %zu",
                  im->n_records, limits->max_batch);
        return MEM_TOO_LARGE;
    }
    uint64_t last_id = 0;
    for (size_t i = 0; i < im->n_records; i++) {
        const Memd__V1__Record *rec = im->records[i];
        mem_code_t rc = s_validate_record (rec, i, req->agent_id, limits, err, err_size);
        if (rc != MEM_OK)
            return rc;
        if (rec->uid.len != 16) {
            snprintf (err, err_size, "record %zu: uid must be 16 bytes, not %zu", i, rec->uid.len);
            return MEM_INVALID_ARGUMENT;
        }
        if (rec->tombstoned_at_ms < 0 || rec->last_recalled_ms < 0) {
            snprintf (err, err_size, "record %zu: a negative time", i);
            return MEM_INVALID_ARGUMENT;
        }
        if (rec->salience_base < 0 || rec->salience_base > 1
            || rec->salience_base != rec->salience_base) {
            snprintf (err, err_size, "record %zu: salience_base must be within 0..1", i);
            return MEM_INVALID_ARGUMENT;
        }
        if (im->keep_ids && (rec->id == 0 || rec->id <= last_id)) {
            snprintf (err, err_size, "record %zu: with keep_ids, ids must be increasing and "
                                     "above 0 (id %llu)", i, (unsigned long long) rec->id);
            return MEM_INVALID_ARGUMENT;
        }
        last_id = rec->id;
    }
    return MEM_OK;
}

static bool
s_is_record_op (const Memd__V1__Request *req)
{
    return req->op_case == MEMD__V1__REQUEST__OP_CAPTURE
        || req->op_case == MEMD__V1__REQUEST__OP_RECALL
        || req->op_case == MEMD__V1__REQUEST__OP_GET
        || req->op_case == MEMD__V1__REQUEST__OP_FORGET
        || req->op_case == MEMD__V1__REQUEST__OP_GRAPH_STATS
        || req->op_case == MEMD__V1__REQUEST__OP_NEIGHBORS
        || req->op_case == MEMD__V1__REQUEST__OP_COMMUNITY
        || req->op_case == MEMD__V1__REQUEST__OP_CONTEXT;
}

//  The graph's operations (docs/graph.md).
static mem_code_t
s_validate_graph (const Memd__V1__Request *req, const mem_limits_t *limits, char *err,
                  size_t err_size)
{
    if (req->op_case == MEMD__V1__REQUEST__OP_GRAPH_STATS) {
        if (req->graph_stats->top > MEM_GRAPH_LIST_MAX) {
            snprintf (err, err_size, "top = %u is over the limit of %d", req->graph_stats->top,
                      MEM_GRAPH_LIST_MAX);
            return MEM_INVALID_ARGUMENT;
        }
        return MEM_OK;
    }
    if (req->op_case == MEMD__V1__REQUEST__OP_NEIGHBORS) {
        const Memd__V1__Neighbors *n = req->neighbors;
        if (n->n_ids == 0) {
            snprintf (err, err_size, "neighbors needs at least one id");
            return MEM_INVALID_ARGUMENT;
        }
        if (n->n_ids > limits->max_ids) {
            snprintf (err, err_size, "neighbors of %zu ids is over the limit of %zu", n->n_ids,
                      limits->max_ids);
            return MEM_TOO_LARGE;
        }
        if (n->limit > MEM_GRAPH_LIST_MAX) {
            snprintf (err, err_size, "limit = %u is over the limit of %d", n->limit,
                      MEM_GRAPH_LIST_MAX);
            return MEM_INVALID_ARGUMENT;
        }
        if (n->type < 0 || n->type > MEMD__V1__EDGE_TYPE__EDGE_CO_RECALL) {
            snprintf (err, err_size, "unknown edge type %d", n->type);
            return MEM_INVALID_ARGUMENT;
        }
        return MEM_OK;
    }
    const Memd__V1__Community *c = req->community;
    if ((c->id != 0) + (c->community != 0) + c->all != 1) {
        snprintf (err, err_size, "community needs one of a record id, a community id or all");
        return MEM_INVALID_ARGUMENT;
    }
    if (c->limit > MEM_GRAPH_LIST_MAX) {
        snprintf (err, err_size, "limit = %u is over the limit of %d", c->limit,
                  MEM_GRAPH_LIST_MAX);
        return MEM_INVALID_ARGUMENT;
    }
    return MEM_OK;
}

mem_code_t
mem_codec_request_validate (const Memd__V1__Request *req, const mem_limits_t *limits, char *err,
                            size_t err_size)
{
    *err = 0;
    if (req->protocol_version > MEM_PROTOCOL_VERSION) {
        //  A newer client may still speak a subset we know: serve it, as
        //  unknown fields are ignored. Only the future could break this.
    }
    CHECK_STRING ("agent_id", req->agent_id, limits->max_id_bytes);
    bool need_agent = s_is_record_op (req);
    if (need_agent && req->op_case != MEMD__V1__REQUEST__OP_CAPTURE
        && (!req->agent_id || !*req->agent_id)) {
        snprintf (err, err_size, "agent_id is required");
        return MEM_INVALID_ARGUMENT;
    }
    switch (req->op_case) {
    case MEMD__V1__REQUEST__OP__NOT_SET:
        snprintf (err, err_size, "request has no operation");
        return MEM_INVALID_ARGUMENT;
    case MEMD__V1__REQUEST__OP_PING:
    case MEMD__V1__REQUEST__OP_STATUS:
    case MEMD__V1__REQUEST__OP_SLEEP:
    case MEMD__V1__REQUEST__OP_WAKE:
    case MEMD__V1__REQUEST__OP_VERIFY:
        return MEM_OK;
    case MEMD__V1__REQUEST__OP_CAPTURE: {
        const Memd__V1__Capture *cap = req->capture;
        if (cap->n_records == 0) {
            snprintf (err, err_size, "capture has no records");
            return MEM_INVALID_ARGUMENT;
        }
        if (cap->n_records > limits->max_batch) {
            snprintf (err, err_size, "capture of %zu records is over the batch limit of %zu",
                      cap->n_records, limits->max_batch);
            return MEM_TOO_LARGE;
        }
        for (size_t i = 0; i < cap->n_records; i++) {
            mem_code_t rc = s_validate_record (cap->records[i], i, req->agent_id, limits, err,
                                               err_size);
            if (rc != MEM_OK)
                return rc;
        }
        return MEM_OK;
    }
    case MEMD__V1__REQUEST__OP_RECALL:
        return s_validate_recall (req->recall, limits, err, err_size);
    case MEMD__V1__REQUEST__OP_CONTEXT: {
        const Memd__V1__Context *c = req->context;
        if (!c->recall) {
            snprintf (err, err_size, "context needs a recall (the query)");
            return MEM_INVALID_ARGUMENT;
        }
        if (c->budget_tokens > limits->max_budget_tokens) {
            snprintf (err, err_size, "budget_tokens = %u is over the limit of %u",
                      c->budget_tokens, limits->max_budget_tokens);
            return MEM_INVALID_ARGUMENT;
        }
        return s_validate_recall (c->recall, limits, err, err_size);
    }
    case MEMD__V1__REQUEST__OP_GET:
        if (req->get->n_ids == 0) {
            snprintf (err, err_size, "get needs at least one id");
            return MEM_INVALID_ARGUMENT;
        }
        if (req->get->n_ids > limits->max_ids) {
            snprintf (err, err_size, "get of %zu ids is over the limit of %zu", req->get->n_ids,
                      limits->max_ids);
            return MEM_TOO_LARGE;
        }
        return MEM_OK;
    case MEMD__V1__REQUEST__OP_FORGET: {
        const Memd__V1__Forget *f = req->forget;
        CHECK_STRING ("session_id", f->session_id, limits->max_id_bytes);
        bool by_session = f->session_id && *f->session_id;
        if ((f->n_ids == 0) == !by_session) {
            snprintf (err, err_size, "forget needs ids or a session_id (not both)");
            return MEM_INVALID_ARGUMENT;
        }
        if (f->n_ids > limits->max_ids) {
            snprintf (err, err_size, "forget of %zu ids is over the limit of %zu", f->n_ids,
                      limits->max_ids);
            return MEM_TOO_LARGE;
        }
        return MEM_OK;
    }
    case MEMD__V1__REQUEST__OP_JOB_ENQUEUE:
    case MEMD__V1__REQUEST__OP_JOB_LEASE:
    case MEMD__V1__REQUEST__OP_JOB_COMPLETE:
    case MEMD__V1__REQUEST__OP_JOB_FAIL:
    case MEMD__V1__REQUEST__OP_JOB_EXTEND:
    case MEMD__V1__REQUEST__OP_JOB_RETRY:
    case MEMD__V1__REQUEST__OP_JOB_PURGE:
    case MEMD__V1__REQUEST__OP_JOB_LIST:
    case MEMD__V1__REQUEST__OP_JOB_STATS:
        return s_validate_job (req, limits, err, err_size);
    case MEMD__V1__REQUEST__OP_GRAPH_STATS:
    case MEMD__V1__REQUEST__OP_NEIGHBORS:
    case MEMD__V1__REQUEST__OP_COMMUNITY:
        return s_validate_graph (req, limits, err, err_size);
    case MEMD__V1__REQUEST__OP_EXPORT_RECORDS:
    case MEMD__V1__REQUEST__OP_IMPORT_RECORDS:
    case MEMD__V1__REQUEST__OP_BACKUP:
        return s_validate_portability (req, limits, err, err_size);
    default:
        snprintf (err, err_size, "unknown operation %d", (int) req->op_case);
        return MEM_INVALID_ARGUMENT;
    }
}

bool
mem_codec_is_data_plane (const Memd__V1__Request *req)
{
    //  Looking at the queue (list, stats), verifying and the lifecycle
    //  requests are the operator's control plane: a monitoring script must
    //  not keep memd awake. A Lease is not activity when it arrives: a
    //  worker long-polling an empty queue is waiting, not working; a Lease
    //  that hands out a job holds memd awake through the leased count
    //  (work in flight) instead.
    switch (req->op_case) {
    case MEMD__V1__REQUEST__OP_PING:
    case MEMD__V1__REQUEST__OP_STATUS:
    case MEMD__V1__REQUEST__OP_SLEEP:
    case MEMD__V1__REQUEST__OP_WAKE:
    case MEMD__V1__REQUEST__OP_VERIFY:
    case MEMD__V1__REQUEST__OP_BACKUP:
    case MEMD__V1__REQUEST__OP_JOB_LEASE:
    case MEMD__V1__REQUEST__OP_JOB_EXTEND:
    case MEMD__V1__REQUEST__OP_JOB_LIST:
    case MEMD__V1__REQUEST__OP_JOB_STATS:
    case MEMD__V1__REQUEST__OP_GRAPH_STATS:
    case MEMD__V1__REQUEST__OP__NOT_SET:
        return false;
    default:
        return true;
    }
}

zframe_t *
mem_codec_pack (const ProtobufCMessage *msg)
{
    size_t size = protobuf_c_message_get_packed_size (msg);
    zframe_t *frame = zframe_new (NULL, size);
    if (!frame)
        return NULL;
    if (protobuf_c_message_pack (msg, zframe_data (frame)) != size) {
        zframe_destroy (&frame);
        return NULL;
    }
    return frame;
}

zframe_t *
mem_codec_error_reply (uint64_t request_id, mem_code_t code, const char *fmt, ...)
{
    char message[512];
    va_list args;
    va_start (args, fmt);
    vsnprintf (message, sizeof message, fmt, args);
    va_end (args);

    Memd__V1__Status status = MEMD__V1__STATUS__INIT;
    status.code = code;
    status.message = message;
    Memd__V1__Reply reply = MEMD__V1__REPLY__INIT;
    reply.request_id = request_id;
    reply.status = &status;
    return mem_codec_pack (&reply.base);
}

//  --------------------------------------------------------------------------
//  Selftest

#undef NDEBUG
#include <assert.h>

static Memd__V1__Request *
s_roundtrip (Memd__V1__Request *req)
{
    zframe_t *frame = mem_codec_pack (&req->base);
    assert (frame);
    Memd__V1__Request *copy = mem_codec_request_decode (zframe_data (frame), zframe_size (frame));
    zframe_destroy (&frame);
    return copy;
}

void
mem_codec_test (bool verbose)
{
    printf (" * mem_codec: ");
    mem_limits_t limits;
    mem_limits_default (&limits);
    char err[256];

    assert (mem_utf8_valid ("hello", 5));
    assert (mem_utf8_valid ("caf\xc3\xa9 \xe8\xa8\x98 \xf0\x9f\x98\x80", 14));
    assert (!mem_utf8_valid ("\xff", 1));
    assert (!mem_utf8_valid ("\xc3", 1));            //  truncated
    assert (!mem_utf8_valid ("\xc0\xaf", 2));        //  overlong '/'
    assert (!mem_utf8_valid ("\xed\xa0\x80", 3));    //  surrogate
    assert (!mem_utf8_valid ("\xf4\x90\x80\x80", 4)); //  > U+10FFFF
    assert (streq (mem_code_name (MEM_STORE_FULL), "STORE_FULL"));
    assert (streq (mem_code_name (99), "UNKNOWN"));

    //  Garbage does not decode; an empty buffer decodes to a request with no op.
    assert (mem_codec_request_decode ("\xff\xff\xff\xff", 4) == NULL);
    Memd__V1__Request *empty = mem_codec_request_decode ("", 0);
    assert (empty);
    assert (mem_codec_request_validate (empty, &limits, err, sizeof err) == MEM_INVALID_ARGUMENT);
    assert (strstr (err, "no operation"));
    memd__v1__request__free_unpacked (empty, NULL);

    //  A capture: valid, then with each kind of defect.
    Memd__V1__Record rec = MEMD__V1__RECORD__INIT;
    Memd__V1__Record *recs[] = {&rec};
    Memd__V1__Capture cap = MEMD__V1__CAPTURE__INIT;
    cap.records = recs;
    cap.n_records = 1;
    Memd__V1__Request req = MEMD__V1__REQUEST__INIT;
    req.op_case = MEMD__V1__REQUEST__OP_CAPTURE;
    req.capture = &cap;
    req.agent_id = "a";
    rec.text = "hello";
    Memd__V1__Request *back = s_roundtrip (&req);
    assert (back && back->op_case == MEMD__V1__REQUEST__OP_CAPTURE);
    assert (mem_codec_request_validate (back, &limits, err, sizeof err) == MEM_OK);
    assert (mem_codec_is_data_plane (back));
    memd__v1__request__free_unpacked (back, NULL);

    rec.text = "";
    assert (mem_codec_request_validate (&req, &limits, err, sizeof err) == MEM_INVALID_ARGUMENT);
    assert (strstr (err, "empty"));
    rec.text = "bad \xc3\x28";
    assert (mem_codec_request_validate (&req, &limits, err, sizeof err) == MEM_INVALID_ARGUMENT);
    assert (strstr (err, "UTF-8"));
    rec.text = "ok";
    req.agent_id = "";
    assert (mem_codec_request_validate (&req, &limits, err, sizeof err) == MEM_INVALID_ARGUMENT);
    rec.agent_id = "b";                 //  the record's own agent is enough
    assert (mem_codec_request_validate (&req, &limits, err, sizeof err) == MEM_OK);
    //  Ids are LMDB key parts: 256 bytes pass, 257 do not (a 600-byte
    //  session once failed a whole group commit with MDB_BAD_VALSIZE).
    char id[258];
    memset (id, 's', 257);
    id[257] = 0;
    rec.session_id = id;
    assert (mem_codec_request_validate (&req, &limits, err, sizeof err) == MEM_TOO_LARGE);
    assert (strstr (err, "session_id"));
    id[256] = 0;
    assert (mem_codec_request_validate (&req, &limits, err, sizeof err) == MEM_OK);
    rec.agent_id = id;
    assert (mem_codec_request_validate (&req, &limits, err, sizeof err) == MEM_OK);
    id[256] = 'a';
    assert (mem_codec_request_validate (&req, &limits, err, sizeof err) == MEM_TOO_LARGE);
    rec.agent_id = "b";
    rec.session_id = NULL;
    limits.max_batch = 0;
    assert (mem_codec_request_validate (&req, &limits, err, sizeof err) == MEM_TOO_LARGE);
    mem_limits_default (&limits);
    rec.kind = 42;
    assert (mem_codec_request_validate (&req, &limits, err, sizeof err) == MEM_INVALID_ARGUMENT);
    rec.kind = 0;

    //  Embeddings: finite, not all zero, bounded (the agent's own dimension
    //  is the writer's check).
    float vec[3] = {0.5f, -1, 2};
    rec.embedding = vec;
    rec.n_embedding = 3;
    assert (mem_codec_request_validate (&req, &limits, err, sizeof err) == MEM_OK);
    vec[1] = NAN;
    assert (mem_codec_request_validate (&req, &limits, err, sizeof err) == MEM_INVALID_ARGUMENT);
    assert (strstr (err, "record 0: embedding[1] is NaN"));
    vec[1] = -INFINITY;
    assert (mem_codec_request_validate (&req, &limits, err, sizeof err) == MEM_INVALID_ARGUMENT);
    assert (strstr (err, "infinite"));
    vec[0] = vec[1] = vec[2] = 0;
    assert (mem_codec_request_validate (&req, &limits, err, sizeof err) == MEM_INVALID_ARGUMENT);
    assert (strstr (err, "all zeros"));
    vec[2] = 1;
    limits.max_embedding_dims = 2;
    assert (mem_codec_request_validate (&req, &limits, err, sizeof err) == MEM_TOO_LARGE);
    assert (strstr (err, "3 dimensions, over the limit of 2"));
    mem_limits_default (&limits);
    rec.embedding = NULL;
    rec.n_embedding = 0;

    //  Recall: a query or an embedding; weights bounded; Context wraps a Recall.
    Memd__V1__Recall recall = MEMD__V1__RECALL__INIT;
    Memd__V1__Request rreq = MEMD__V1__REQUEST__INIT;
    rreq.op_case = MEMD__V1__REQUEST__OP_RECALL;
    rreq.recall = &recall;
    rreq.agent_id = "a";
    assert (mem_codec_request_validate (&rreq, &limits, err, sizeof err) == MEM_INVALID_ARGUMENT);
    assert (strstr (err, "query is empty"));
    recall.query_embedding = vec;
    recall.n_query_embedding = 3;
    assert (mem_codec_request_validate (&rreq, &limits, err, sizeof err) == MEM_OK);
    vec[0] = INFINITY;
    assert (mem_codec_request_validate (&rreq, &limits, err, sizeof err) == MEM_INVALID_ARGUMENT);
    assert (strstr (err, "query_embedding[0]"));
    vec[0] = 0;
    Memd__V1__RankWeights weights = MEMD__V1__RANK_WEIGHTS__INIT;
    recall.weights = &weights;
    weights.recency = -1;
    assert (mem_codec_request_validate (&rreq, &limits, err, sizeof err) == MEM_INVALID_ARGUMENT);
    assert (strstr (err, "weights.recency"));
    weights.recency = NAN;
    assert (mem_codec_request_validate (&rreq, &limits, err, sizeof err) == MEM_INVALID_ARGUMENT);
    weights.recency = 2;
    assert (mem_codec_request_validate (&rreq, &limits, err, sizeof err) == MEM_OK);
    recall.fusion = 7;
    assert (mem_codec_request_validate (&rreq, &limits, err, sizeof err) == MEM_INVALID_ARGUMENT);
    recall.fusion = 0;
    Memd__V1__Context context = MEMD__V1__CONTEXT__INIT;
    Memd__V1__Request creq = MEMD__V1__REQUEST__INIT;
    creq.op_case = MEMD__V1__REQUEST__OP_CONTEXT;
    creq.context = &context;
    creq.agent_id = "a";
    assert (mem_codec_request_validate (&creq, &limits, err, sizeof err) == MEM_INVALID_ARGUMENT);
    context.recall = &recall;
    assert (mem_codec_request_validate (&creq, &limits, err, sizeof err) == MEM_OK);
    assert (mem_codec_is_data_plane (&creq));
    context.budget_tokens = limits.max_budget_tokens + 1;
    assert (mem_codec_request_validate (&creq, &limits, err, sizeof err) == MEM_INVALID_ARGUMENT);
    context.budget_tokens = 0;
    creq.agent_id = "";
    assert (mem_codec_request_validate (&creq, &limits, err, sizeof err) == MEM_INVALID_ARGUMENT);

    //  Ping is control plane; forget needs ids or a session, not both.
    Memd__V1__Ping ping = MEMD__V1__PING__INIT;
    Memd__V1__Request preq = MEMD__V1__REQUEST__INIT;
    preq.op_case = MEMD__V1__REQUEST__OP_PING;
    preq.ping = &ping;
    assert (!mem_codec_is_data_plane (&preq));
    assert (mem_codec_request_validate (&preq, &limits, err, sizeof err) == MEM_OK);
    Memd__V1__Forget forget = MEMD__V1__FORGET__INIT;
    Memd__V1__Request freq = MEMD__V1__REQUEST__INIT;
    freq.op_case = MEMD__V1__REQUEST__OP_FORGET;
    freq.forget = &forget;
    freq.agent_id = "a";
    assert (mem_codec_request_validate (&freq, &limits, err, sizeof err) == MEM_INVALID_ARGUMENT);
    forget.session_id = "s";
    assert (mem_codec_request_validate (&freq, &limits, err, sizeof err) == MEM_OK);

    //  Jobs: no agent needed; kind, payload size and ranges are checked;
    //  enqueueing is data plane; listing and leasing (waiting) are not.
    Memd__V1__JobEnqueue enq = MEMD__V1__JOB_ENQUEUE__INIT;
    Memd__V1__Request jreq = MEMD__V1__REQUEST__INIT;
    jreq.op_case = MEMD__V1__REQUEST__OP_JOB_ENQUEUE;
    jreq.job_enqueue = &enq;
    assert (mem_codec_request_validate (&jreq, &limits, err, sizeof err) == MEM_INVALID_ARGUMENT);
    assert (strstr (err, "kind is empty"));
    enq.kind = "llm summary";
    assert (mem_codec_request_validate (&jreq, &limits, err, sizeof err) == MEM_INVALID_ARGUMENT);
    enq.kind = "llm";
    assert (mem_codec_request_validate (&jreq, &limits, err, sizeof err) == MEM_OK);
    assert (mem_codec_is_data_plane (&jreq));
    enq.payload.len = limits.max_payload_bytes + 1;
    assert (mem_codec_request_validate (&jreq, &limits, err, sizeof err) == MEM_TOO_LARGE);
    assert (strstr (err, "payload"));
    enq.payload.len = 0;
    enq.delay_ms = -1;
    assert (mem_codec_request_validate (&jreq, &limits, err, sizeof err) == MEM_INVALID_ARGUMENT);
    enq.delay_ms = 0;
    Memd__V1__JobLease lease = MEMD__V1__JOB_LEASE__INIT;
    jreq.op_case = MEMD__V1__REQUEST__OP_JOB_LEASE;
    jreq.job_lease = &lease;
    assert (mem_codec_request_validate (&jreq, &limits, err, sizeof err) == MEM_INVALID_ARGUMENT);
    char *kinds[] = {"llm", ""};
    lease.kinds = kinds;
    lease.n_kinds = 2;
    assert (mem_codec_request_validate (&jreq, &limits, err, sizeof err) == MEM_INVALID_ARGUMENT);
    lease.n_kinds = 1;
    lease.wait_ms = limits.max_wait_ms + 1;
    assert (mem_codec_request_validate (&jreq, &limits, err, sizeof err) == MEM_INVALID_ARGUMENT);
    lease.wait_ms = 1000;
    assert (mem_codec_request_validate (&jreq, &limits, err, sizeof err) == MEM_OK);
    assert (!mem_codec_is_data_plane (&jreq));
    Memd__V1__JobList list = MEMD__V1__JOB_LIST__INIT;
    jreq.op_case = MEMD__V1__REQUEST__OP_JOB_LIST;
    jreq.job_list = &list;
    assert (!mem_codec_is_data_plane (&jreq));
    list.state = 42;
    assert (mem_codec_request_validate (&jreq, &limits, err, sizeof err) == MEM_INVALID_ARGUMENT);
    //  memd's own kinds can be listed, not enqueued or leased by clients.
    list.state = 0;
    list.kind = "memd.link";
    assert (mem_codec_request_validate (&jreq, &limits, err, sizeof err) == MEM_OK);
    jreq.op_case = MEMD__V1__REQUEST__OP_JOB_ENQUEUE;
    jreq.job_enqueue = &enq;
    enq.kind = "memd.link";
    assert (mem_codec_request_validate (&jreq, &limits, err, sizeof err) == MEM_INVALID_ARGUMENT);
    assert (strstr (err, "reserved"));
    jreq.op_case = MEMD__V1__REQUEST__OP_JOB_LEASE;
    jreq.job_lease = &lease;
    kinds[0] = "memd.link";
    assert (mem_codec_request_validate (&jreq, &limits, err, sizeof err) == MEM_INVALID_ARGUMENT);

    //  The graph: an agent is needed; GraphStats is control plane,
    //  Neighbors and Community are data plane; ids and limits are checked.
    Memd__V1__GraphStats gstats = MEMD__V1__GRAPH_STATS__INIT;
    Memd__V1__Request greq = MEMD__V1__REQUEST__INIT;
    greq.op_case = MEMD__V1__REQUEST__OP_GRAPH_STATS;
    greq.graph_stats = &gstats;
    assert (mem_codec_request_validate (&greq, &limits, err, sizeof err) == MEM_INVALID_ARGUMENT);
    greq.agent_id = "a";
    assert (mem_codec_request_validate (&greq, &limits, err, sizeof err) == MEM_OK);
    assert (!mem_codec_is_data_plane (&greq));
    Memd__V1__Neighbors nb = MEMD__V1__NEIGHBORS__INIT;
    greq.op_case = MEMD__V1__REQUEST__OP_NEIGHBORS;
    greq.neighbors = &nb;
    assert (mem_codec_request_validate (&greq, &limits, err, sizeof err) == MEM_INVALID_ARGUMENT);
    uint64_t nb_ids[] = {1};
    nb.ids = nb_ids;
    nb.n_ids = 1;
    assert (mem_codec_request_validate (&greq, &limits, err, sizeof err) == MEM_OK);
    assert (mem_codec_is_data_plane (&greq));
    nb.type = 9;
    assert (mem_codec_request_validate (&greq, &limits, err, sizeof err) == MEM_INVALID_ARGUMENT);
    Memd__V1__Community cm = MEMD__V1__COMMUNITY__INIT;
    greq.op_case = MEMD__V1__REQUEST__OP_COMMUNITY;
    greq.community = &cm;
    assert (mem_codec_request_validate (&greq, &limits, err, sizeof err) == MEM_INVALID_ARGUMENT);
    cm.id = 5;
    assert (mem_codec_request_validate (&greq, &limits, err, sizeof err) == MEM_OK);
    cm.all = true;
    assert (mem_codec_request_validate (&greq, &limits, err, sizeof err) == MEM_INVALID_ARGUMENT);
    cm.id = 0;
    assert (mem_codec_request_validate (&greq, &limits, err, sizeof err) == MEM_OK);
    cm.limit = MEM_GRAPH_LIST_MAX + 1;
    assert (mem_codec_request_validate (&greq, &limits, err, sizeof err) == MEM_INVALID_ARGUMENT);

    //  The error reply decodes with its code and message.
    zframe_t *frame = mem_codec_error_reply (7, MEM_NOT_FOUND, "record %d", 3);
    Memd__V1__Reply *reply
        = memd__v1__reply__unpack (NULL, zframe_size (frame), zframe_data (frame));
    assert (reply && reply->request_id == 7 && reply->status->code == MEM_NOT_FOUND);
    assert (streq (reply->status->message, "record 3"));
    memd__v1__reply__free_unpacked (reply, NULL);
    zframe_destroy (&frame);
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
