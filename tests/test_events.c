/*  test_events — the C client's events against a real memd, over ipc.

        test_events ENDPOINT MEMD_PID

    What the Python and Node suites check of their events(), for the C
    client (test_events.sh runs it on a memd of its own, last, because it
    puts memd to sleep):

        another client's capture arrives as a `captured` event with its ids;
        every job action arrives as a `job` event (a lease expiry included);
        sleep and wake arrive as `state` events;
        memd_events_next times out on a quiet topic, and the socket can be
        polled with others;
        memd_events_ready waits for memd's confirmation: a stopped memd
        (SIGSTOP) gives none within the timeout, the same memd continued
        does. */
#undef NDEBUG
#include <czmq.h>
#include <signal.h>
#include "memd_client.h"
#include "test_check.h"

//  memd_client_events, checked.
static memd_events_t *
s_subscribe (memd_client_t *client, const char *topic)
{
    memd_events_t *events = memd_client_events (client, topic);
    CHECK (events, "memd_client_events (%s): %s", topic ? topic : "all",
           memd_client_error (client));
    return events;
}

//  The next event of the topic's body within 5 s whose job (for job
//  events) is id, or NULL.
static Memd__V1__Event *
s_next (memd_events_t *events, uint64_t job_id)
{
    int64_t deadline = zclock_mono () + 5000;
    while (zclock_mono () < deadline) {
        Memd__V1__Event *e = memd_events_next (events, (int) (deadline - zclock_mono ()));
        if (!e)
            return NULL;
        if (!job_id || (e->body_case == MEMD__V1__EVENT__BODY_JOB && e->job->id == job_id))
            return e;
        memd__v1__event__free_unpacked (e, NULL);
    }
    return NULL;
}

static void
s_captured (memd_client_t *client, const char *endpoint)
{
    memd_events_t *events = s_subscribe (client, "captured");
    if (!events)
        return;
    memd_client_t *other = memd_client_new (endpoint, 5000);
    Memd__V1__Record a = MEMD__V1__RECORD__INIT, b = MEMD__V1__RECORD__INIT;
    a.text = "c events: one";
    b.text = "c events: two";
    Memd__V1__Record *records[] = {&a, &b};
    uint64_t ids[2];
    CHECK (memd_client_capture (other, "c-ev", records, 2, ids, NULL) == 0, "capture: %s",
           memd_client_error (other));
    Memd__V1__Event *e = s_next (events, 0);
    CHECK (e && e->body_case == MEMD__V1__EVENT__BODY_CAPTURED, "no captured event");
    if (e && e->body_case == MEMD__V1__EVENT__BODY_CAPTURED) {
        CHECK (streq (e->topic, "captured") && e->at_ms > 0, "topic %s", e->topic);
        CHECK (streq (e->captured->agent_id, "c-ev"), "agent %s", e->captured->agent_id);
        CHECK (e->captured->n_ids == 2 && e->captured->ids[0] == ids[0]
                   && e->captured->ids[1] == ids[1] && e->captured->count == 2,
               "ids");
    }
    if (e)
        memd__v1__event__free_unpacked (e, NULL);
    memd_client_destroy (&other);
    memd_events_destroy (&events);
    CHECK (events == NULL, "destroy nulls the pointer");
}

//  The next job event of job id: its action and state, as expected.
static void
s_expect_job (memd_events_t *events, uint64_t id, int action, int state, const char *what)
{
    Memd__V1__Event *e = s_next (events, id);
    CHECK (e, "no job event for %s", what);
    if (!e)
        return;
    CHECK (streq (e->topic, "job") && e->job->action == (Memd__V1__JobEvent__Action) action
               && e->job->state == (Memd__V1__JobState) state && streq (e->job->kind, "c-ev-job"),
           "%s: action %d state %d kind %s", what, e->job->action, e->job->state, e->job->kind);
    memd__v1__event__free_unpacked (e, NULL);
}

static uint64_t
s_lease_one (memd_client_t *client, int64_t lease_ms, uint64_t *fence)
{
    char *kinds[] = {"c-ev-job"};
    Memd__V1__JobLease lease = MEMD__V1__JOB_LEASE__INIT;
    lease.kinds = kinds;
    lease.n_kinds = 1;
    lease.lease_ms = lease_ms;
    lease.wait_ms = 2000;
    lease.worker = "c-worker";
    Memd__V1__Reply *reply = memd_client_job_lease (client, &lease);
    uint64_t id = 0;
    if (reply && reply->job_lease->n_jobs == 1) {
        id = reply->job_lease->jobs[0]->id;
        *fence = reply->job_lease->jobs[0]->fence;
    }
    memd_client_reply_free (&reply);
    CHECK (id, "lease: %s", memd_client_error (client));
    return id;
}

static void
s_jobs (memd_client_t *client)
{
    memd_events_t *events = s_subscribe (client, "job");
    if (!events)
        return;
    Memd__V1__JobEnqueue job = MEMD__V1__JOB_ENQUEUE__INIT;
    job.kind = "c-ev-job";
    job.max_attempts = 2;
    uint64_t id = 0, fence = 0;
    CHECK (memd_client_job_enqueue (client, &job, &id, NULL) == 0, "enqueue");
    s_expect_job (events, id, MEMD__V1__JOB_EVENT__ACTION__ENQUEUED,
                  MEMD__V1__JOB_STATE__JOB_QUEUED, "enqueue");
    CHECK (s_lease_one (client, 0, &fence) == id, "lease");
    s_expect_job (events, id, MEMD__V1__JOB_EVENT__ACTION__LEASED, MEMD__V1__JOB_STATE__JOB_LEASED,
                  "lease");
    CHECK (memd_client_job_fail (client, id, fence, false, "again", 10, NULL) == 0, "fail");
    s_expect_job (events, id, MEMD__V1__JOB_EVENT__ACTION__FAILED, MEMD__V1__JOB_STATE__JOB_FAILED,
                  "fail");
    //  The second (last) attempt's lease expires: a dead letter.
    CHECK (s_lease_one (client, 100, &fence) == id, "lease again");
    s_expect_job (events, id, MEMD__V1__JOB_EVENT__ACTION__LEASED, MEMD__V1__JOB_STATE__JOB_LEASED,
                  "lease again");
    s_expect_job (events, id, MEMD__V1__JOB_EVENT__ACTION__DEAD, MEMD__V1__JOB_STATE__JOB_DEAD,
                  "lease expiry");
    CHECK (memd_client_job_enqueue (client, &job, &id, NULL) == 0, "enqueue");
    CHECK (s_lease_one (client, 0, &fence) == id, "lease");
    CHECK (memd_client_job_complete (client, id, fence, NULL) == 0, "complete");
    s_expect_job (events, id, MEMD__V1__JOB_EVENT__ACTION__ENQUEUED,
                  MEMD__V1__JOB_STATE__JOB_QUEUED, "enqueue");
    s_expect_job (events, id, MEMD__V1__JOB_EVENT__ACTION__LEASED, MEMD__V1__JOB_STATE__JOB_LEASED,
                  "lease");
    s_expect_job (events, id, MEMD__V1__JOB_EVENT__ACTION__COMPLETED,
                  MEMD__V1__JOB_STATE__JOB_DONE, "complete");
    memd_events_destroy (&events);
}

//  Polling the socket with others, and timeouts on a quiet topic.
static void
s_poll_and_timeout (memd_client_t *client)
{
    memd_events_t *events = s_subscribe (client, "graph");
    if (!events)
        return;
    int64_t t0 = zclock_mono ();
    CHECK (memd_events_next (events, 200) == NULL, "an event on a quiet topic");
    int64_t took = zclock_mono () - t0;
    CHECK (took >= 150 && took < 2000, "memd_events_next (200) took %lld ms", (long long) took);
    memd_events_destroy (&events);

    events = s_subscribe (client, NULL);
    if (!events)
        return;
    uint64_t id;
    CHECK (memd_client_capture_text (client, "c-ev", NULL, "c events: polled", &id) == 0, "capture");
    zmq_pollitem_t item = {memd_events_socket (events), 0, ZMQ_POLLIN, 0};
    Memd__V1__Event *e = NULL;
    for (int64_t deadline = zclock_mono () + 5000; !e && zclock_mono () < deadline;)
        if (zmq_poll (&item, 1, 100) > 0)
            e = memd_events_next (events, 0);
    CHECK (e && e->body_case == MEMD__V1__EVENT__BODY_CAPTURED && e->captured->ids[0] == id,
           "the polled socket gave the capture");
    if (e)
        memd__v1__event__free_unpacked (e, NULL);
    memd_events_destroy (&events);
}

//  Sleep and wake as state events.
static void
s_state (memd_client_t *client)
{
    memd_events_t *events = s_subscribe (client, "state");
    if (!events)
        return;
    Memd__V1__Reply *reply = memd_client_sleep (client, false);
    CHECK (reply, "sleep: %s", memd_client_error (client));
    memd_client_reply_free (&reply);
    const char *want[][2] = {{"WAKE", "SLEEP"}, {"SLEEP", "HIBERNATE"}, {"HIBERNATE", "WAKE"}};
    for (int i = 0; i < 3; i++) {
        if (i == 2) {
            reply = memd_client_sleep (client, true);
            CHECK (reply && streq (reply->lifecycle->state, "WAKE"), "wake");
            memd_client_reply_free (&reply);
        }
        Memd__V1__Event *e = s_next (events, 0);
        CHECK (e && e->body_case == MEMD__V1__EVENT__BODY_STATE
                   && streq (e->state->from_state, want[i][0])
                   && streq (e->state->to_state, want[i][1]),
               "state event %d: %s -> %s", i, e ? e->state->from_state : "none",
               e ? e->state->to_state : "none");
        if (e)
            memd__v1__event__free_unpacked (e, NULL);
    }
    memd_events_destroy (&events);
}

//  memd_events_ready: no confirmation from a stopped memd; one once it runs.
static void
s_ready (memd_client_t *client, pid_t memd_pid)
{
    Memd__V1__Reply *reply = memd_client_status (client);
    CHECK (reply, "status");
    if (!reply)
        return;
    char *endpoint = strdup (reply->status_result->events_endpoint);
    memd_client_reply_free (&reply);
    kill (memd_pid, SIGSTOP);
    zclock_sleep (100);   //  every thread stopped (memd is idle here)
    memd_events_t *events = memd_events_new (endpoint, "captured");
    CHECK (events, "memd_events_new");
    int64_t t0 = zclock_mono ();
    CHECK (events && memd_events_ready (events, 300) == -1, "ready from a stopped memd");
    CHECK (zclock_mono () - t0 < 2000, "the wait was bounded");
    kill (memd_pid, SIGCONT);
    CHECK (events && memd_events_ready (events, 5000) == 0, "ready once memd runs again");
    CHECK (events && memd_events_ready (events, 0) == 0, "ready stays ready");
    memd_events_destroy (&events);
    free (endpoint);
}

int
main (int argc, char *argv[])
{
    if (argc != 3) {
        fprintf (stderr, "usage: test_events ENDPOINT MEMD_PID\n");
        return 2;
    }
    zsys_init ();
    memd_client_t *client = memd_client_new (argv[1], 5000);
    assert (client);
    s_captured (client, argv[1]);
    s_jobs (client);
    s_poll_and_timeout (client);
    s_ready (client, (pid_t) atoi (argv[2]));
    s_state (client);
    memd_client_destroy (&client);
    zsys_shutdown ();
    if (s_failures)
        fprintf (stderr, "%d check(s) failed\n", s_failures);
    return s_failures ? 1 : 0;
}
