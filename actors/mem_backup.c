/*  mem_backup — `memctl backup DIR` (mem_export.h: mem_backup).

    A thread of its own, so that a copy of a large store, which takes as
    long as its disk needs, holds up no recall worker and never the writer
    (the copy reads one LMDB snapshot). Backups run one at a time, in the
    order they came; the frontend refuses more than a few waiting.

    Frames with the frontend: [client envelope][request bytes] in,
    [client envelope][reply bytes] out, as for every actor.
*/
#include "mem_actors.h"
#include "mem_export.h"
#include "mem_log.h"

#define BACKUP_QUEUE 4   //  Backup requests waiting before RESOURCE_EXHAUSTED

typedef struct {
    zsock_t *pipe;
    zsock_t *frontend;   //  PAIR
    zpoller_t *poller;
    mem_context_t *ctx;
    bool terminated;
} self_t;

static zframe_t *
s_backup (self_t *self, const Memd__V1__Request *req)
{
    mem_backup_result_t result;
    char err[1024];
    const char *dir = req->backup->dir;
    mem_log_info ("backup: copying the store to %s", dir);
    if (mem_backup (self->ctx->store, dir, &result, err, sizeof err)) {
        mem_log_error ("backup to %s failed: %s", dir, err);
        return mem_codec_error_reply (req->request_id, MEM_INTERNAL, "backup failed: %s", err);
    }
    mem_verify_report_t *v = &result.verify;
    mem_log_info ("backup: %s, %llu bytes, %llu records, %lld ms, %s", result.path,
                  (unsigned long long) result.bytes, (unsigned long long) v->records,
                  (long long) result.duration_ms,
                  v->problem_count ? "INCONSISTENT" : "verified");
    Memd__V1__VerifyResult verify = MEMD__V1__VERIFY_RESULT__INIT;
    verify.ok = v->problem_count == 0;
    verify.records = v->records;
    verify.problem_count = v->problem_count;
    verify.problems = v->problems;
    verify.n_problems = v->n_problems;
    Memd__V1__BackupResult backup = MEMD__V1__BACKUP_RESULT__INIT;
    backup.path = result.path;
    backup.bytes = result.bytes;
    backup.duration_ms = result.duration_ms;
    backup.verify = &verify;
    char message[160] = "";
    Memd__V1__Status status = MEMD__V1__STATUS__INIT;
    if (v->problem_count) {
        //  The copy is kept: it is what the store holds, and may be all there is.
        status.code = MEM_INTERNAL;
        snprintf (message, sizeof message,
                  "the copy has %llu inconsistencies (memctl verify checks the store itself)",
                  (unsigned long long) v->problem_count);
    }
    status.message = message;
    Memd__V1__Reply reply = MEMD__V1__REPLY__INIT;
    reply.request_id = req->request_id;
    reply.status = &status;
    reply.result_case = MEMD__V1__REPLY__RESULT_BACKUP;
    reply.backup = &backup;
    zframe_t *frame = mem_codec_pack (&reply.base);
    mem_verify_report_clear (v);
    return frame;
}

static void
s_self_handle_frontend (self_t *self)
{
    zmsg_t *msg = zmsg_recv (self->frontend);
    if (!msg)
        return;
    zframe_t *identity = zmsg_pop (msg);
    zframe_t *bytes = zmsg_pop (msg);
    zmsg_destroy (&msg);
    Memd__V1__Request *req
        = bytes ? mem_codec_request_decode (zframe_data (bytes), zframe_size (bytes)) : NULL;
    zframe_destroy (&bytes);
    zframe_t *reply;
    if (!req || req->op_case != MEMD__V1__REQUEST__OP_BACKUP)
        reply = mem_codec_error_reply (req ? req->request_id : 0, MEM_INTERNAL,
                                       "backup: not a Backup request");
    else
        reply = s_backup (self, req);
    if (req)
        memd__v1__request__free_unpacked (req, NULL);
    zmsg_t *out = zmsg_new ();
    zmsg_append (out, &identity);
    if (reply)
        zmsg_append (out, &reply);
    else
        zmsg_addmem (out, NULL, 0);
    zmsg_send (&out, self->frontend);
}

void
mem_backup_actor (zsock_t *pipe, void *args)
{
    self_t *self = calloc (1, sizeof *self);
    self->pipe = pipe;
    self->ctx = args;
    zsock_signal (pipe, 0);

    char *command = zstr_recv (pipe);
    bool started = false;
    if (command && streq (command, "START")) {
        self->frontend = zsock_new (ZMQ_PAIR);
        if (self->frontend) {
            zsock_set_rcvhwm (self->frontend, BACKUP_QUEUE);
            zsock_set_sndhwm (self->frontend, 0);
            started = zsock_bind (self->frontend, MEM_INPROC_BACKUP) == 0;
        }
    }
    zstr_free (&command);
    zstr_send (pipe, started ? "OK" : "backup: cannot bind " MEM_INPROC_BACKUP);
    if (started)
        self->poller = zpoller_new (self->pipe, self->frontend, NULL);
    while (started && !self->terminated) {
        void *which = zpoller_wait (self->poller, -1);
        if (which == self->pipe) {
            char *cmd = zstr_recv (self->pipe);
            self->terminated = !cmd || streq (cmd, "$TERM");
            zstr_free (&cmd);
        }
        else if (which == self->frontend)
            s_self_handle_frontend (self);
        else if (zpoller_terminated (self->poller))
            break;
    }
    zpoller_destroy (&self->poller);
    zsock_destroy (&self->frontend);
    free (self);
}
