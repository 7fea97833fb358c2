/*  mem_codec — the one place that turns bytes into protobuf messages and
    back, and that validates what a client sent (DESIGN §6, §11).

    Decoding never trusts its input: unpack failures are INVALID_ARGUMENT,
    every string is checked for UTF-8, every repeated field and string is
    bounded. Packing is checked against get_packed_size.
*/
#ifndef MEM_CODEC_H_INCLUDED
#define MEM_CODEC_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include "memd.pb-c.h"

#define MEM_PROTOCOL_VERSION 1

/* The events endpoint's readiness marker (docs/protocol.md, Events): a
   subscriber subscribes to this topic after its others, and memd publishes
   it, as one frame, when that subscription arrives (so the others are in
   place). 0xff sorts last, so a reconnecting SUB resends it last too. */
#define MEM_EVENTS_READY "\xff" "memd.ready"

typedef Memd__V1__Code mem_code_t;
#define MEM_OK                 MEMD__V1__CODE__OK
#define MEM_INVALID_ARGUMENT   MEMD__V1__CODE__INVALID_ARGUMENT
#define MEM_NOT_FOUND          MEMD__V1__CODE__NOT_FOUND
#define MEM_TOO_LARGE          MEMD__V1__CODE__TOO_LARGE
#define MEM_RESOURCE_EXHAUSTED MEMD__V1__CODE__RESOURCE_EXHAUSTED
#define MEM_STORE_FULL         MEMD__V1__CODE__STORE_FULL
#define MEM_UNAVAILABLE        MEMD__V1__CODE__UNAVAILABLE
#define MEM_PERMISSION_DENIED  MEMD__V1__CODE__PERMISSION_DENIED
#define MEM_INTERNAL           MEMD__V1__CODE__INTERNAL

/* Limits applied to every request after decoding. */
typedef struct {
    size_t max_message_bytes;   /* whole request; default 16 MiB */
    size_t max_batch;           /* records in one Capture; default 10,000 */
    size_t max_text_bytes;      /* one record's text; default 1 MiB */
    size_t max_string_bytes;    /* tag, metadata key/value, worker; default 1 KiB */
    size_t max_id_bytes;        /* agent and session ids (parts of LMDB keys, which are
                                   at most 511 bytes); default 256 */
    size_t max_tags;            /* per record; default 64 */
    size_t max_metadata;        /* entries per record; default 64 */
    size_t max_ids;             /* ids in one Get/Forget; default 10,000 */
    size_t max_k;               /* Recall k; default 1,000 */
    size_t max_query_bytes;     /* Recall query; default 64 KiB */
    size_t max_payload_bytes;   /* one job's payload; default 1 MiB */
    size_t max_lease_jobs;      /* jobs in one Lease; default 1,000 */
    int64_t max_lease_ms;       /* lease time; default 24 h */
    int64_t max_wait_ms;        /* Lease long-poll wait; default 10 min */
    int64_t max_delay_ms;       /* Enqueue delay, Fail retry_after; default 366 days */
    size_t max_list;            /* jobs in one JobList; default 10,000 */
    size_t max_embedding_dims;  /* floats in one embedding; default 4,096 */
    uint32_t max_budget_tokens; /* Context budget; default 100,000 */
} mem_limits_t;

#define MEM_EXPORT_MAX_LIMIT 10000  /* records in one Export page */
#define MEM_EXPORT_DEFAULT_LIMIT 1000

#define MEM_JOB_KIND_MAX    64      /* bytes in a job kind: [A-Za-z0-9_.:-] */
#define MEM_JOB_DEDUPE_MAX  256     /* bytes in a dedupe key */
#define MEM_JOB_DEPENDS_MAX 256     /* depends_on entries */
#define MEM_JOB_KINDS_MAX   64      /* kinds in one Lease */
#define MEM_JOB_ERROR_MAX   65536   /* bytes of a Fail error (memd keeps the first 4 KiB) */
#define MEM_JOB_INTERNAL_PREFIX "memd."   /* kinds memd's own actors enqueue and lease */
#define MEM_GRAPH_LIST_MAX  10000   /* Neighbors limit, Community limit, GraphStats top */

#define MEM_WEIGHT_MAX      1000    /* largest RankWeights value */

/* True if name is a valid job kind: 1-64 bytes of [A-Za-z0-9_.:-]. */
bool mem_codec_job_kind_valid (const char *name);

/* Fills limits with the defaults above. */
void mem_limits_default (mem_limits_t *limits);

/* "OK", "INVALID_ARGUMENT", … for a code; "UNKNOWN" otherwise. */
const char *mem_code_name (int code);

/* True if the len bytes are well-formed UTF-8 (no overlongs, no surrogates). */
bool mem_utf8_valid (const char *s, size_t len);

/* Unpacks a Request; NULL if the bytes are not one. Free with
   memd__v1__request__free_unpacked (req, NULL). */
Memd__V1__Request *mem_codec_request_decode (const void *data, size_t size);

/* Checks a decoded request against the limits: operation present, agent
   present for record ops (jobs are not agent-scoped), strings UTF-8 and bounded, batches bounded,
   text non-empty. Returns MEM_OK, or a code with a message in err. */
mem_code_t mem_codec_request_validate (const Memd__V1__Request *req, const mem_limits_t *limits,
                                       char *err, size_t err_size);

/* True for operations that are real activity (data plane, DESIGN §3.1). */
bool mem_codec_is_data_plane (const Memd__V1__Request *req);

/* Packs any protobuf-c message into a new zframe; NULL on failure. */
zframe_t *mem_codec_pack (const ProtobufCMessage *msg);

/* Builds and packs a Reply carrying only a status. */
zframe_t *mem_codec_error_reply (uint64_t request_id, mem_code_t code, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

void mem_codec_test (bool verbose);

#endif
