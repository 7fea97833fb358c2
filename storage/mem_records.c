/*  mem_records — records, agents, dedupe and tombstones; see mem_records.h. */
#include "mem_records.h"
#include "mem_vectors.h"
#include "mem_log.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define SESSION_KEY_MAX (4 + 1024)

uint64_t
mem_hash64 (const char *s, size_t len)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t) s[i]) * 1099511628211ull;
    return h;
}

int
mem_agents_lookup (mem_store_t *store, MDB_txn *txn, const char *name, bool create,
                   uint32_t *agent)
{
    if (!name || !*name)
        return MDB_NOTFOUND;   //  LMDB refuses empty keys; no agent has an empty name
    MDB_dbi dbi = mem_store_dbi (store, MEM_DB_AGENTS);
    MDB_val key = {strlen (name), (void *) name}, val;
    int rc = MEM_MDB (mdb_get (txn, dbi, &key, &val));
    if (rc == 0 && val.mv_size == sizeof *agent) {
        memcpy (agent, val.mv_data, sizeof *agent);
        return 0;
    }
    if (rc != MDB_NOTFOUND || !create)
        return rc ? rc : MDB_CORRUPTED;
    uint64_t next = mem_store_counter_get (txn, store, "next_agent") + 1;
    *agent = (uint32_t) next;
    val = (MDB_val){sizeof *agent, agent};
    if ((rc = MEM_MDB (mdb_put (txn, dbi, &key, &val, MDB_NOOVERWRITE))))
        return rc;
    return mem_store_counter_add (txn, store, "next_agent", 1);
}

int
mem_agents_name (mem_store_t *store, MDB_txn *txn, uint32_t agent, char *buf, size_t size)
{
    MDB_cursor *cursor;
    int rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, MEM_DB_AGENTS), &cursor));
    if (rc)
        return rc;
    MDB_val key, val;
    while ((rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT)) == 0) {
        uint32_t number;
        if (val.mv_size != sizeof number)
            continue;
        memcpy (&number, val.mv_data, sizeof number);
        if (number == agent) {
            snprintf (buf, size, "%.*s", (int) key.mv_size, (const char *) key.mv_data);
            break;
        }
    }
    mdb_cursor_close (cursor);
    return rc;
}

static void
s_id_key (uint8_t *k, uint64_t id)
{
    mem_put_u64be (k, id);
}

//  agent (u32 BE) + session bytes
static size_t
s_session_key (uint8_t *k, uint32_t agent, const char *session)
{
    size_t len = strlen (session);
    if (len > SESSION_KEY_MAX - 4)
        len = SESSION_KEY_MAX - 4;   //  sessions are validated to 1 KiB; belt and braces
    mem_put_u32be (k, agent);
    memcpy (k + 4, session, len);
    return 4 + len;
}

//  flags: MDB_APPEND for a new record (ids only grow), 0 to rewrite one.
static int
s_put_packed (mem_store_t *store, MDB_txn *txn, const Memd__V1__Record *rec, unsigned flags)
{
    uint8_t k[8];
    s_id_key (k, rec->id);
    MDB_val key = {8, k}, val = {memd__v1__record__get_packed_size (rec), NULL};
    int rc = MEM_MDB (mdb_put (txn, mem_store_dbi (store, MEM_DB_RECORDS), &key, &val,
                               MDB_RESERVE | flags));
    if (rc)
        return rc;
    memd__v1__record__pack (rec, val.mv_data);
    return 0;
}

static int
s_put_docmeta (mem_store_t *store, MDB_txn *txn, uint64_t id, const mem_docmeta_t *meta,
               unsigned flags)
{
    uint8_t k[8];
    s_id_key (k, id);
    MDB_val key = {8, k}, val = {sizeof *meta, (void *) meta};
    return MEM_MDB (mdb_put (txn, mem_store_dbi (store, MEM_DB_DOCMETA), &key, &val, flags));
}

int
mem_records_get_any (mem_store_t *store, MDB_txn *txn, uint64_t id, Memd__V1__Record **out)
{
    uint8_t k[8];
    s_id_key (k, id);
    MDB_val key = {8, k}, val;
    int rc = MEM_MDB (mdb_get (txn, mem_store_dbi (store, MEM_DB_RECORDS), &key, &val));
    if (rc)
        return rc;
    *out = memd__v1__record__unpack (NULL, val.mv_size, val.mv_data);
    if (!*out) {
        mem_log_error ("record %llu does not decode: the store is damaged",
                       (unsigned long long) id);
        return MDB_CORRUPTED;
    }
    return 0;
}

int
mem_records_docmeta (mem_store_t *store, MDB_txn *txn, uint64_t id, mem_docmeta_t *meta)
{
    uint8_t k[8];
    s_id_key (k, id);
    MDB_val key = {8, k}, val;
    int rc = MEM_MDB (mdb_get (txn, mem_store_dbi (store, MEM_DB_DOCMETA), &key, &val));
    if (rc)
        return rc;
    if (val.mv_size != sizeof *meta)
        return MDB_CORRUPTED;
    memcpy (meta, val.mv_data, sizeof *meta);
    return 0;
}

//  A 128-bit time-ordered uid: 48 bits of ms since the epoch, 80 random bits.
static void
s_make_uid (uint8_t uid[16], int64_t now_ms)
{
    uint64_t ms = (uint64_t) now_ms;
    for (int i = 5; i >= 0; i--, ms >>= 8)
        uid[i] = (uint8_t) ms;
    if (getrandom (uid + 6, 10, 0) != 10) {
        //  Fallback: still unique within this process.
        static uint64_t counter;
        uint64_t c = __atomic_add_fetch (&counter, 1, __ATOMIC_RELAXED);
        memcpy (uid + 6, &c, 8);
    }
}

//  uid → id in the uid index (id 0: the record was purged).
static int
s_put_uid (mem_store_t *store, MDB_txn *txn, const uint8_t uid[16], uint64_t id, unsigned flags)
{
    uint8_t idk[8];
    mem_put_u64be (idk, id);
    MDB_val key = {16, (void *) uid}, val = {8, idk};
    return MEM_MDB (mdb_put (txn, mem_store_dbi (store, MEM_DB_UIDS), &key, &val, flags));
}

int
mem_records_uid_lookup (mem_store_t *store, MDB_txn *txn, const uint8_t uid[16], uint64_t *id)
{
    MDB_val key = {16, (void *) uid}, val;
    int rc = MEM_MDB (mdb_get (txn, mem_store_dbi (store, MEM_DB_UIDS), &key, &val));
    if (rc)
        return rc;
    if (val.mv_size != 8)
        return MDB_CORRUPTED;
    *id = mem_get_u64be (val.mv_data);
    return 0;
}

//  The live record of agent with exactly this text: *existing (0: none).
//  *index_hash: whether a new record may take the dedupe entry (not on a
//  64-bit collision with another text: then both are kept, the first deduped).
static int
s_dedupe_lookup (mem_store_t *store, MDB_txn *txn, uint32_t agent, const char *text,
                 uint64_t hash, uint64_t *existing, bool *index_hash)
{
    *existing = 0;
    *index_hash = true;
    uint8_t hk[12];
    mem_put_u32be (hk, agent);
    mem_put_u64be (hk + 4, hash);
    MDB_val hkey = {12, hk}, hval;
    int rc = MEM_MDB (mdb_get (txn, mem_store_dbi (store, MEM_DB_HASHES), &hkey, &hval));
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc || hval.mv_size != 8)
        return rc ? rc : MDB_CORRUPTED;
    uint64_t id = mem_get_u64be (hval.mv_data);
    Memd__V1__Record *old;
    if ((rc = mem_records_get_any (store, txn, id, &old)))
        return rc;
    if (strcmp (old->text, text) == 0)
        *existing = id;
    else
        *index_hash = false;
    memd__v1__record__free_unpacked (old, NULL);
    return 0;
}

//  The entries only a live record has: its dedupe hash and session entry.
static int
s_index_live (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint64_t id, uint64_t hash,
              bool index_hash, const char *session)
{
    uint8_t idk[8];
    mem_put_u64be (idk, id);
    int rc;
    if (index_hash) {
        uint8_t hk[12];
        mem_put_u32be (hk, agent);
        mem_put_u64be (hk + 4, hash);
        MDB_val hkey = {12, hk}, hval = {8, idk};
        if ((rc = MEM_MDB (mdb_put (txn, mem_store_dbi (store, MEM_DB_HASHES), &hkey, &hval, 0))))
            return rc;
    }
    if (*session) {
        uint8_t sk[SESSION_KEY_MAX];
        MDB_val skey = {s_session_key (sk, agent, session), sk}, sval = {8, idk};
        if ((rc = MEM_MDB (mdb_put (txn, mem_store_dbi (store, MEM_DB_SESSIONS), &skey, &sval,
                                    MDB_APPENDDUP))))
            if (rc == MDB_KEYEXIST)   //  APPENDDUP is only a hint for the common order
                rc = MEM_MDB (mdb_put (txn, mem_store_dbi (store, MEM_DB_SESSIONS), &skey,
                                       &sval, 0));
        if (rc)
            return rc;
    }
    return 0;
}

int
mem_capture_batch_begin (mem_capture_batch_t *batch, mem_store_t *store, MDB_txn *txn,
                         mem_index_writer_t *index)
{
    batch->store = store;
    batch->txn = txn;
    batch->index = index;
    batch->next_id = batch->first_id = mem_store_counter_get (txn, store, "next_id");
    batch->agent = 0;
    batch->agent_name[0] = 0;
    return 0;
}

int
mem_capture_batch_finish (mem_capture_batch_t *batch)
{
    if (batch->next_id == batch->first_id)
        return 0;
    return mem_store_counter_add (batch->txn, batch->store, "next_id",
                                  (int64_t) (batch->next_id - batch->first_id));
}

//  The record's speaker (metadata "speaker") and tags, as field terms.
static int
s_index_fields (mem_index_writer_t *index, uint32_t agent, uint64_t id,
                const Memd__V1__Record *rec)
{
    for (size_t i = 0; i < rec->n_metadata; i++)
        if (rec->metadata[i]->key && strcmp (rec->metadata[i]->key, "speaker") == 0
            && rec->metadata[i]->value
            && mem_index_writer_add_field (index, agent, id, MEM_FIELD_SPEAKER,
                                           rec->metadata[i]->value,
                                           strlen (rec->metadata[i]->value)))
            return ENOMEM;
    for (size_t i = 0; i < rec->n_tags; i++)
        if (mem_index_writer_add_field (index, agent, id, MEM_FIELD_TAG, rec->tags[i],
                                        strlen (rec->tags[i])))
            return ENOMEM;
    return 0;
}

int
mem_records_capture (mem_capture_batch_t *batch, const Memd__V1__Record *in,
                     const char *agent_name, int64_t now_ms, uint64_t *id, bool *duplicate)
{
    mem_store_t *store = batch->store;
    MDB_txn *txn = batch->txn;
    const char *agent_id = in->agent_id && *in->agent_id ? in->agent_id : agent_name;
    uint32_t agent = batch->agent;
    int rc = 0;
    if (!*batch->agent_name || strcmp (batch->agent_name, agent_id) != 0) {
        if ((rc = mem_agents_lookup (store, txn, agent_id, true, &agent)))
            return rc;
        batch->agent = agent;
        snprintf (batch->agent_name, sizeof batch->agent_name, "%s", agent_id);
        if (strcmp (batch->agent_name, agent_id) != 0)
            batch->agent_name[0] = 0;   //  too long to cache: look it up each time
    }

    //  Dedupe: the same text for the same agent returns the live record.
    size_t text_len = strlen (in->text);
    uint64_t hash = mem_hash64 (in->text, text_len), existing;
    bool index_hash;
    if ((rc = s_dedupe_lookup (store, txn, agent, in->text, hash, &existing, &index_hash)))
        return rc;
    if (existing) {
        *id = existing;
        *duplicate = true;
        return 0;
    }

    *id = ++batch->next_id;
    *duplicate = false;

    Memd__V1__Record rec = *in;   //  shallow copy: strings stay the caller's
    uint8_t uid[16];
    s_make_uid (uid, now_ms);
    rec.id = *id;
    rec.uid = (ProtobufCBinaryData){16, uid};
    rec.agent_id = (char *) agent_id;
    if (rec.kind == MEMD__V1__KIND__KIND_UNSPECIFIED)
        rec.kind = MEMD__V1__KIND__EPISODIC;
    if (rec.created_at_ms == 0)
        rec.created_at_ms = now_ms;
    if (rec.salience == 0)
        rec.salience = MEM_SALIENCE_DEFAULT;
    rec.salience_base = rec.salience;
    rec.content_hash = hash;
    rec.tombstoned_at_ms = 0;
    rec.merged_into = 0;
    rec.recall_count = 0;
    rec.last_recalled_ms = 0;
    rec.embedding = NULL;   //  kept in mem_vectors, not in every read of the record
    rec.n_embedding = 0;
    if ((rc = s_put_packed (store, txn, &rec, MDB_APPEND)))
        return rc;
    if ((rc = s_put_uid (store, txn, uid, *id, MDB_NOOVERWRITE)))
        return rc;
    if (in->n_embedding
        && (rc = mem_vectors_put (store, txn, agent, *id, in->embedding, (uint32_t) in->n_embedding)))
        return rc == MEM_VECTORS_MISMATCH ? EINVAL : rc;   //  checked before: a caller bug

    unsigned doc_len;
    if (mem_index_writer_add (batch->index, agent, *id, rec.text, text_len, &doc_len))
        return ENOMEM;
    if ((rc = s_index_fields (batch->index, agent, *id, &rec)))
        return rc;
    const char *session = rec.session_id ? rec.session_id : "";
    mem_docmeta_t meta = {rec.created_at_ms, *session ? mem_hash64 (session, strlen (session)) : 0,
                          agent, (uint8_t) rec.kind, 0, (uint16_t) doc_len};
    if ((rc = s_put_docmeta (store, txn, *id, &meta, MDB_APPEND)))
        return rc;
    return s_index_live (store, txn, agent, *id, hash, index_hash, session);
}

int
mem_records_get (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint64_t id,
                 Memd__V1__Record **out)
{
    mem_docmeta_t meta;
    int rc = mem_records_docmeta (store, txn, id, &meta);
    if (rc)
        return rc;
    if (meta.agent != agent || (meta.flags & MEM_DOC_TOMBSTONED))
        return MDB_NOTFOUND;
    return mem_records_get_any (store, txn, id, out);
}

int
mem_records_forget (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint64_t id,
                    int64_t now_ms)
{
    return mem_records_tombstone (store, txn, agent, id, now_ms, 0);
}

static void
s_tombstone_key (uint8_t *k, int64_t at_ms, uint64_t id)
{
    mem_put_u64be (k, (uint64_t) at_ms);
    mem_put_u64be (k + 8, id);
}

int
mem_records_tombstone (mem_store_t *store, MDB_txn *txn, uint32_t agent, uint64_t id,
                       int64_t now_ms, uint64_t merged_into)
{
    mem_docmeta_t meta;
    int rc = mem_records_docmeta (store, txn, id, &meta);
    if (rc)
        return rc;
    if (meta.agent != agent || (meta.flags & MEM_DOC_TOMBSTONED))
        return MDB_NOTFOUND;
    Memd__V1__Record *rec;
    if ((rc = mem_records_get_any (store, txn, id, &rec)))
        return rc;
    rec->tombstoned_at_ms = now_ms;
    rec->merged_into = merged_into;
    meta.flags |= MEM_DOC_TOMBSTONED;
    uint8_t tk[16];
    s_tombstone_key (tk, now_ms, id);
    MDB_val tkey = {16, tk}, tval = {0, NULL};
    if ((rc = s_put_packed (store, txn, rec, 0)) || (rc = s_put_docmeta (store, txn, id, &meta, 0))
        || (rc = mem_index_remove (store, txn, agent, id, meta.doc_len))
        || (rc = MEM_MDB (mdb_put (txn, mem_store_dbi (store, MEM_DB_TOMBSTONES), &tkey, &tval, 0))))
        goto done;

    //  Its dedupe hash (if it points here) and session entry go: only live
    //  records have them, so a re-capture of the text makes a new record.
    uint8_t hk[12], idk[8];
    mem_put_u32be (hk, agent);
    mem_put_u64be (hk + 4, rec->content_hash);
    mem_put_u64be (idk, id);
    MDB_val hkey = {12, hk}, hval;
    rc = MEM_MDB (mdb_get (txn, mem_store_dbi (store, MEM_DB_HASHES), &hkey, &hval));
    if (rc == 0 && hval.mv_size == 8 && memcmp (hval.mv_data, idk, 8) == 0)
        rc = MEM_MDB (mdb_del (txn, mem_store_dbi (store, MEM_DB_HASHES), &hkey, NULL));
    if (rc && rc != MDB_NOTFOUND)
        goto done;
    rc = 0;
    if (rec->session_id && *rec->session_id) {
        uint8_t sk[SESSION_KEY_MAX];
        MDB_val skey = {s_session_key (sk, agent, rec->session_id), sk}, sval = {8, idk};
        rc = MEM_MDB (mdb_del (txn, mem_store_dbi (store, MEM_DB_SESSIONS), &skey, &sval));
        if (rc == MDB_NOTFOUND)
            rc = 0;
        if (rc)
            goto done;
    }
    rc = mem_store_counter_add (txn, store, "records_tombstoned", 1);
done:
    memd__v1__record__free_unpacked (rec, NULL);
    return rc;
}

int
mem_records_session_ids (mem_store_t *store, MDB_txn *txn, uint32_t agent, const char *session,
                         uint64_t **ids_p, size_t *n_p)
{
    *ids_p = NULL;
    *n_p = 0;
    uint8_t sk[SESSION_KEY_MAX];
    MDB_val skey = {s_session_key (sk, agent, session), sk}, val;
    MDB_cursor *cursor;
    int rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, MEM_DB_SESSIONS), &cursor));
    if (rc)
        return rc;
    uint64_t *ids = NULL;
    size_t n = 0, cap = 0;
    for (rc = mdb_cursor_get (cursor, &skey, &val, MDB_SET_KEY); rc == 0;
         rc = mdb_cursor_get (cursor, &skey, &val, MDB_NEXT_DUP)) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            uint64_t *grown = realloc (ids, cap * sizeof *ids);
            if (!grown) {
                rc = ENOMEM;
                break;
            }
            ids = grown;
        }
        ids[n++] = mem_get_u64be (val.mv_data);
    }
    mdb_cursor_close (cursor);
    if (rc && rc != MDB_NOTFOUND) {
        free (ids);
        return MEM_MDB (rc);
    }
    *ids_p = ids;
    *n_p = n;
    return 0;
}

int
mem_records_forget_session (mem_store_t *store, MDB_txn *txn, uint32_t agent,
                            const char *session, int64_t now_ms, uint64_t *count)
{
    *count = 0;
    //  Collect first: forgetting deletes from the session index being read.
    uint64_t *ids;
    size_t n;
    int rc = mem_records_session_ids (store, txn, agent, session, &ids, &n);
    for (size_t i = 0; i < n && !rc; i++) {
        rc = mem_records_forget (store, txn, agent, ids[i], now_ms);
        if (rc == 0)
            (*count)++;
        else if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    free (ids);
    return MEM_MDB (rc);
}

int
mem_index_docmeta_view (mem_store_t *store, MDB_txn *txn, uint64_t id, mem_docmeta_view_t *view)
{
    mem_docmeta_t meta;
    int rc = mem_records_docmeta (store, txn, id, &meta);
    if (!rc) {
        view->agent = meta.agent;
        view->tombstoned = (meta.flags & MEM_DOC_TOMBSTONED) != 0;
    }
    return rc;
}

int
mem_records_update (mem_store_t *store, MDB_txn *txn, const Memd__V1__Record *rec)
{
    return s_put_packed (store, txn, rec, 0);
}

int
mem_records_purge (mem_store_t *store, MDB_txn *txn, uint64_t id)
{
    mem_docmeta_t meta;
    int rc = mem_records_docmeta (store, txn, id, &meta);
    if (rc)
        return rc;
    if (!(meta.flags & MEM_DOC_TOMBSTONED))
        return MDB_NOTFOUND;   //  only a tombstone can be purged
    Memd__V1__Record *rec;
    if ((rc = mem_records_get_any (store, txn, id, &rec)))
        return rc;
    uint8_t k[8], tk[16];
    s_id_key (k, id);
    s_tombstone_key (tk, rec->tombstoned_at_ms, id);
    //  The uid stays known (as purged): an old export imported again does
    //  not bring a forgotten record back.
    if (rec->uid.len == 16)
        rc = s_put_uid (store, txn, rec->uid.data, 0, 0);
    memd__v1__record__free_unpacked (rec, NULL);
    if (rc)
        return rc;
    MDB_val key = {8, k}, tkey = {16, tk};
    rc = MEM_MDB (mdb_del (txn, mem_store_dbi (store, MEM_DB_RECORDS), &key, NULL));
    if (!rc)
        rc = MEM_MDB (mdb_del (txn, mem_store_dbi (store, MEM_DB_DOCMETA), &key, NULL));
    if (!rc) {
        rc = mem_vectors_remove (store, txn, id);
        rc = rc == MDB_NOTFOUND ? 0 : rc;
    }
    if (!rc) {
        rc = MEM_MDB (mdb_del (txn, mem_store_dbi (store, MEM_DB_TOMBSTONES), &tkey, NULL));
        rc = rc == MDB_NOTFOUND ? 0 : rc;
    }
    if (!rc)
        rc = mem_store_counter_add (txn, store, "records_tombstoned", -1);
    if (!rc)
        rc = mem_store_counter_add (txn, store, "records_purged", 1);
    return rc;
}

int
mem_records_index_tombstones (mem_store_t *store, MDB_txn *txn)
{
    MDB_cursor *cursor;
    int rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, MEM_DB_DOCMETA), &cursor));
    if (rc)
        return rc;
    MDB_val key, val;
    while (!rc && (rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT)) == 0) {
        mem_docmeta_t meta;
        if (key.mv_size != 8 || val.mv_size != sizeof meta) {
            rc = MDB_CORRUPTED;
            break;
        }
        memcpy (&meta, val.mv_data, sizeof meta);
        if (!(meta.flags & MEM_DOC_TOMBSTONED))
            continue;
        uint64_t id = mem_get_u64be (key.mv_data);
        Memd__V1__Record *rec;
        if ((rc = mem_records_get_any (store, txn, id, &rec)))
            break;
        uint8_t tk[16];
        s_tombstone_key (tk, rec->tombstoned_at_ms, id);
        memd__v1__record__free_unpacked (rec, NULL);
        MDB_val tkey = {16, tk}, tval = {0, NULL};
        rc = MEM_MDB (mdb_put (txn, mem_store_dbi (store, MEM_DB_TOMBSTONES), &tkey, &tval, 0));
    }
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int
mem_records_session_prev (mem_store_t *store, MDB_txn *txn, uint32_t agent, const char *session,
                          uint64_t id, uint64_t *prev)
{
    uint8_t sk[SESSION_KEY_MAX], idk[8];
    mem_put_u64be (idk, id);
    MDB_val skey = {s_session_key (sk, agent, session), sk}, val = {8, idk};
    MDB_cursor *cursor;
    int rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, MEM_DB_SESSIONS), &cursor));
    if (rc)
        return rc;
    //  The session's first id at or after id, then the one before it; or,
    //  when every id is smaller, the session's last.
    rc = mdb_cursor_get (cursor, &skey, &val, MDB_GET_BOTH_RANGE);
    if (rc == 0)
        rc = mdb_cursor_get (cursor, &skey, &val, MDB_PREV_DUP);
    else if (rc == MDB_NOTFOUND) {
        rc = mdb_cursor_get (cursor, &skey, &val, MDB_SET_KEY);
        if (rc == 0)
            rc = mdb_cursor_get (cursor, &skey, &val, MDB_LAST_DUP);
    }
    if (rc == 0 && val.mv_size != 8)
        rc = MDB_CORRUPTED;
    if (rc == 0) {
        *prev = mem_get_u64be (val.mv_data);
        rc = *prev < id ? 0 : MDB_NOTFOUND;
    }
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND ? rc : MEM_MDB (rc);
}

int
mem_records_session_neighbours (mem_store_t *store, MDB_txn *txn, uint32_t agent,
                                const char *session, uint64_t id, uint64_t *prev,
                                uint64_t *next)
{
    *prev = *next = 0;
    uint8_t sk[SESSION_KEY_MAX], idk[8];
    mem_put_u64be (idk, id);
    size_t key_len = s_session_key (sk, agent, session);
    MDB_val skey = {key_len, sk}, val = {8, idk};
    MDB_cursor *cursor;
    int rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, MEM_DB_SESSIONS), &cursor));
    if (rc)
        return rc;
    //  One seek to id, then a step each way (back over id after the next;
    //  after a failed step the cursor is unset, so then a second seek).
    rc = mdb_cursor_get (cursor, &skey, &val, MDB_GET_BOTH);
    if (rc == 0) {
        rc = mdb_cursor_get (cursor, &skey, &val, MDB_NEXT_DUP);
        if (rc == 0 && val.mv_size != 8)
            rc = MDB_CORRUPTED;
        if (rc == 0) {
            *next = mem_get_u64be (val.mv_data);
            rc = mdb_cursor_get (cursor, &skey, &val, MDB_PREV_DUP);
        } else if (rc == MDB_NOTFOUND) {
            skey = (MDB_val){key_len, sk};
            val = (MDB_val){8, idk};
            rc = mdb_cursor_get (cursor, &skey, &val, MDB_GET_BOTH);
        }
        if (rc == 0)
            rc = mdb_cursor_get (cursor, &skey, &val, MDB_PREV_DUP);
        if (rc == 0 && val.mv_size != 8)
            rc = MDB_CORRUPTED;
        if (rc == 0)
            *prev = mem_get_u64be (val.mv_data);
    }
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND ? 0 : MEM_MDB (rc);   //  (nothing that way, or id not live)
}

int
mem_records_index_uids (mem_store_t *store, MDB_txn *txn)
{
    MDB_cursor *cursor;
    int rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, MEM_DB_RECORDS), &cursor));
    if (rc)
        return rc;
    MDB_val key, val;
    while (!rc && (rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT)) == 0) {
        Memd__V1__Record *rec = memd__v1__record__unpack (NULL, val.mv_size, val.mv_data);
        if (!rec || key.mv_size != 8) {
            if (rec)
                memd__v1__record__free_unpacked (rec, NULL);
            rc = MDB_CORRUPTED;
            break;
        }
        if (rec->uid.len == 16)
            rc = s_put_uid (store, txn, rec->uid.data, rec->id, 0);
        memd__v1__record__free_unpacked (rec, NULL);
    }
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int
mem_records_import (mem_capture_batch_t *batch, const Memd__V1__Record *in,
                    const char *agent_name, bool keep_id, int64_t now_ms, uint64_t *id,
                    mem_import_outcome_t *outcome)
{
    mem_store_t *store = batch->store;
    MDB_txn *txn = batch->txn;
    //  The store's own state wins for a uid it knows, even a purged one.
    int rc = mem_records_uid_lookup (store, txn, in->uid.data, id);
    if (rc == 0) {
        *outcome = MEM_IMPORT_KNOWN;
        return 0;
    }
    if (rc != MDB_NOTFOUND)
        return rc;
    if (keep_id && in->id <= batch->next_id) {
        *outcome = MEM_IMPORT_ID_TAKEN;
        *id = in->id;
        return 0;
    }
    const char *agent_id = in->agent_id && *in->agent_id ? in->agent_id : agent_name;
    uint32_t agent;
    if ((rc = mem_agents_lookup (store, txn, agent_id, true, &agent)))
        return rc;
    bool live = in->tombstoned_at_ms == 0;
    size_t text_len = strlen (in->text);
    uint64_t hash = mem_hash64 (in->text, text_len), existing = 0;
    bool index_hash = false;
    //  Dedupe as capture does: one live record per text and agent.
    if (live && (rc = s_dedupe_lookup (store, txn, agent, in->text, hash, &existing, &index_hash)))
        return rc;
    if (existing) {
        *id = existing;
        *outcome = MEM_IMPORT_DUPLICATE;
        return 0;
    }
    *id = keep_id ? in->id : batch->next_id + 1;
    batch->next_id = *id;
    *outcome = MEM_IMPORT_ADDED;

    Memd__V1__Record rec = *in;   //  shallow copy: strings stay the caller's
    rec.id = *id;
    rec.agent_id = (char *) agent_id;
    if (rec.kind == MEMD__V1__KIND__KIND_UNSPECIFIED)
        rec.kind = MEMD__V1__KIND__EPISODIC;
    if (rec.created_at_ms == 0)
        rec.created_at_ms = now_ms;
    if (rec.salience == 0)
        rec.salience = MEM_SALIENCE_DEFAULT;
    if (rec.salience_base == 0)
        rec.salience_base = rec.salience;
    rec.content_hash = hash;
    //  Ids of this store only: memctl maps merged_into when it remaps ids.
    if (rec.merged_into && (rec.merged_into >= *id || live))
        rec.merged_into = 0;
    if ((rc = s_put_packed (store, txn, &rec, MDB_APPEND))
        || (rc = s_put_uid (store, txn, in->uid.data, *id, MDB_NOOVERWRITE)))
        return rc;
    unsigned doc_len = 0;
    if (live && mem_index_writer_add (batch->index, agent, *id, rec.text, text_len, &doc_len))
        return ENOMEM;
    const char *session = rec.session_id ? rec.session_id : "";
    mem_docmeta_t meta = {rec.created_at_ms, *session ? mem_hash64 (session, strlen (session)) : 0,
                          agent, (uint8_t) rec.kind, live ? 0 : MEM_DOC_TOMBSTONED,
                          (uint16_t) doc_len};
    if ((rc = s_put_docmeta (store, txn, *id, &meta, MDB_APPEND)))
        return rc;
    if (!live) {
        uint8_t tk[16];
        s_tombstone_key (tk, rec.tombstoned_at_ms, *id);
        MDB_val tkey = {16, tk}, tval = {0, NULL};
        if ((rc = MEM_MDB (mdb_put (txn, mem_store_dbi (store, MEM_DB_TOMBSTONES), &tkey, &tval,
                                    0))))
            return rc;
        return mem_store_counter_add (txn, store, "records_tombstoned", 1);
    }
    return s_index_live (store, txn, agent, *id, hash, index_hash, session);
}

int
mem_records_counts (mem_store_t *store, MDB_txn *txn, uint64_t *live, uint64_t *tombstoned)
{
    *live = 0;
    *tombstoned = mem_store_counter_get (txn, store, "records_tombstoned");
    MDB_cursor *cursor;
    int rc = MEM_MDB (mdb_cursor_open (txn, mem_store_dbi (store, MEM_DB_TERMSTATS), &cursor));
    if (rc)
        return rc;
    MDB_val key, val;
    while ((rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT)) == 0)
        if (val.mv_size == sizeof (mem_agent_stats_t)) {
            mem_agent_stats_t stats;
            memcpy (&stats, val.mv_data, sizeof stats);
            *live += stats.docs;
        }
    mdb_cursor_close (cursor);
    return rc == MDB_NOTFOUND ? 0 : MEM_MDB (rc);
}

//  --------------------------------------------------------------------------
//  Selftest

#undef NDEBUG
#include <assert.h>

static uint64_t
s_test_capture (mem_store_t *store, mem_index_writer_t *writer, const char *agent,
                const char *session, const char *text, bool *dup)
{
    MDB_txn *txn;
    assert (mem_store_write_begin (store, &txn) == 0);
    Memd__V1__Record rec = MEMD__V1__RECORD__INIT;
    rec.text = (char *) text;
    rec.session_id = (char *) session;
    uint64_t id;
    mem_capture_batch_t batch;
    assert (mem_capture_batch_begin (&batch, store, txn, writer) == 0);
    assert (mem_records_capture (&batch, &rec, agent, 1000, &id, dup) == 0);
    assert (mem_capture_batch_finish (&batch) == 0);
    assert (mem_index_writer_flush (writer, txn) == 0);
    assert (mem_store_write_commit (store, &txn) == 0);
    return id;
}

void
mem_records_test (bool verbose)
{
    printf (" * mem_records: ");
    char dir[] = "/tmp/mem_records_test.XXXXXX";
    assert (mkdtemp (dir));
    char err[512];
    mem_store_options_t opts;
    mem_store_options_default (&opts);
    opts.dir = dir;
    opts.sync = MEM_SYNC_NONE;
    mem_store_t *store = mem_store_open (&opts, err, sizeof err);
    assert (store);
    mem_index_writer_t *writer = mem_index_writer_new (store);

    bool dup;
    uint64_t a1 = s_test_capture (store, writer, "alice", "s1", "the sky is blue", &dup);
    assert (a1 == 1 && !dup);
    uint64_t a2 = s_test_capture (store, writer, "alice", "s1", "grass is green", &dup);
    assert (a2 == 2 && !dup);
    //  Same text, same agent: the existing id. Another agent: a new record.
    assert (s_test_capture (store, writer, "alice", "s2", "the sky is blue", &dup) == a1 && dup);
    uint64_t b1 = s_test_capture (store, writer, "bob", "s1", "the sky is blue", &dup);
    assert (b1 == 3 && !dup);

    MDB_txn *txn;
    uint32_t alice, bob;
    assert (mem_store_read_begin (store, &txn) == 0);
    assert (mem_agents_lookup (store, txn, "alice", false, &alice) == 0);
    assert (mem_agents_lookup (store, txn, "bob", false, &bob) == 0 && bob != alice);
    assert (mem_agents_lookup (store, txn, "carol", false, &bob) == MDB_NOTFOUND);
    assert (mem_agents_lookup (store, txn, "bob", false, &bob) == 0);
    Memd__V1__Record *rec;
    assert (mem_records_get (store, txn, alice, a1, &rec) == 0);
    assert (strcmp (rec->text, "the sky is blue") == 0 && strcmp (rec->agent_id, "alice") == 0);
    assert (rec->kind == MEMD__V1__KIND__EPISODIC && rec->created_at_ms == 1000);
    assert (rec->uid.len == 16 && rec->salience > 0);
    memd__v1__record__free_unpacked (rec, NULL);
    //  Agent isolation: bob cannot read alice's record by id.
    assert (mem_records_get (store, txn, bob, a1, &rec) == MDB_NOTFOUND);
    uint64_t live, tombstoned;
    assert (mem_records_counts (store, txn, &live, &tombstoned) == 0);
    assert (live == 3 && tombstoned == 0);
    mem_store_read_end (store, &txn);

    //  Forget: gone from get and search; counts move; the text can come back
    //  as a new record; forget twice is NOT_FOUND; forget by session.
    assert (mem_store_write_begin (store, &txn) == 0);
    assert (mem_records_forget (store, txn, bob, a1, 2000) == MDB_NOTFOUND);
    assert (mem_records_forget (store, txn, alice, a1, 2000) == 0);
    assert (mem_records_forget (store, txn, alice, a1, 2000) == MDB_NOTFOUND);
    assert (mem_store_write_commit (store, &txn) == 0);
    assert (mem_store_read_begin (store, &txn) == 0);
    assert (mem_records_get (store, txn, alice, a1, &rec) == MDB_NOTFOUND);
    mem_hit_t hits[4];
    unsigned n;
    assert (mem_index_search (store, txn, alice, "sky", 3, 4, NULL, NULL, hits, &n) == 0 && !n);
    assert (mem_index_search (store, txn, bob, "sky", 3, 4, NULL, NULL, hits, &n) == 0 && n == 1);
    assert (mem_records_counts (store, txn, &live, &tombstoned) == 0);
    assert (live == 2 && tombstoned == 1);
    mem_store_read_end (store, &txn);
    uint64_t again = s_test_capture (store, writer, "alice", "s1", "the sky is blue", &dup);
    assert (again == 4 && !dup);

    assert (mem_store_write_begin (store, &txn) == 0);
    uint64_t count;
    assert (mem_records_forget_session (store, txn, alice, "s1", 3000, &count) == 0);
    assert (count == 2);   //  a2 and the re-captured text; s2 had only a duplicate
    assert (mem_records_forget_session (store, txn, alice, "nope", 3000, &count) == 0);
    assert (count == 0);
    assert (mem_store_write_commit (store, &txn) == 0);
    assert (mem_store_read_begin (store, &txn) == 0);
    assert (mem_records_counts (store, txn, &live, &tombstoned) == 0);
    assert (live == 1 && tombstoned == 3);
    mem_docmeta_t meta;
    assert (mem_records_docmeta (store, txn, a2, &meta) == 0);
    assert (meta.flags & MEM_DOC_TOMBSTONED);
    mem_store_read_end (store, &txn);

    mem_index_writer_destroy (&writer);
    mem_store_destroy (&store);
    char cmd[256];
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    assert (system (cmd) == 0);
    if (verbose)
        printf ("(verbose) ");
    printf ("OK\n");
}
