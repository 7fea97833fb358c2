/*  mem_actors — helpers every actor and the daemon share; see mem_actors.h. */
#include "mem_actors.h"
#include <errno.h>
#include <time.h>

int64_t
mem_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
mem_mono_ms (void)
{
    return mem_mono_us () / 1000;
}

int64_t
mem_mono_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

zactor_t *
mem_actor_start (zactor_fn *fn, mem_context_t *ctx, char *err, size_t err_size)
{
    zactor_t *actor = zactor_new (fn, ctx);
    if (!actor) {
        snprintf (err, err_size, "cannot start an actor thread");
        return NULL;
    }
    zstr_send (actor, "START");
    char *reply = zstr_recv (actor);
    if (reply && streq (reply, "OK")) {
        zstr_free (&reply);
        return actor;
    }
    snprintf (err, err_size, "%s", reply ? reply : "actor did not answer START");
    zstr_free (&reply);
    zactor_destroy (&actor);
    return NULL;
}

mem_code_t
mem_code_from_store (int rc)
{
    switch (rc) {
    case 0:
        return MEM_OK;
    case MDB_NOTFOUND:
        return MEM_NOT_FOUND;
    case ENOSPC:
    case EDQUOT:
        return MEM_STORE_FULL;
    case ENOMEM:
    case MDB_READERS_FULL:
    case MDB_TXN_FULL:
        return MEM_RESOURCE_EXHAUSTED;
    default:
        return MEM_INTERNAL;
    }
}

zsock_t *
mem_events_new (void)
{
    zsock_t *events = zsock_new (ZMQ_PUSH);
    if (!events)
        return NULL;
    zsock_set_sndhwm (events, 10000);
    zsock_set_linger (events, 0);
    zsock_set_sndtimeo (events, 0);   //  never wait: a full queue drops the event
    if (zsock_connect (events, MEM_INPROC_EVENTS)) {
        zsock_destroy (&events);
        return NULL;
    }
    return events;
}

void
mem_events_send (zsock_t *events, Memd__V1__Event *event)
{
    if (!events)
        return;
    //  [topic][Event]: the frontend publishes it as it is, without decoding.
    event->at_ms = mem_now_ms ();
    zframe_t *frame = mem_codec_pack (&event->base);
    if (!frame)
        return;
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, event->topic);
    zmsg_append (msg, &frame);
    if (zmsg_send (&msg, events) != 0)
        zmsg_destroy (&msg);
}

#define WAKE_HWM 16   //  wakes queued at most (one pending is enough)

zsock_t *
mem_wake_line_new (const char *endpoint)
{
    zsock_t *line = zsock_new (ZMQ_PUSH);
    if (!line)
        return NULL;
    zsock_set_sndhwm (line, WAKE_HWM);
    zsock_set_linger (line, 0);
    if (zsock_connect (line, "%s", endpoint)) {
        zsock_destroy (&line);
        return NULL;
    }
    return line;
}

void
mem_wake_line_send (zsock_t *line)
{
    if (!line)
        return;
    zframe_t *frame = zframe_new (NULL, 0);
    if (zframe_send (&frame, line, ZFRAME_DONTWAIT) == 0)
        return;
    //  A full pipe may only look full: ZeroMQ learns that the reader has
    //  read earlier wakes from commands that a send processes only now and
    //  then (throttled). Asking for ZMQ_EVENTS processes them all; if the
    //  pipe is still full after that, a wake is queued and unread, so the
    //  reader will look at the store after this commit: nothing is lost.
    zsock_events (line);
    if (zframe_send (&frame, line, ZFRAME_DONTWAIT))
        zframe_destroy (&frame);
}

zsock_t *
mem_recstats_sender_new (void)
{
    zsock_t *sender = zsock_new (ZMQ_PUSH);
    if (!sender)
        return NULL;
    zsock_set_sndhwm (sender, 1000);
    zsock_set_linger (sender, 0);
    zsock_set_sndtimeo (sender, 0);
    if (zsock_connect (sender, MEM_INPROC_RECSTATS)) {
        zsock_destroy (&sender);
        return NULL;
    }
    return sender;
}
