/*  soak_load — load and soak (issue 10 item 7): many concurrent clients
    mixing capture and recall for a bounded time, then an idle period, with
    memd's memory and descriptors sampled throughout.

        soak_load [--clients N] [--seconds S] [--idle S] [--window N]
                  [--memd PATH] [--json FILE]

    memd runs on a fresh store (bench_daemon). Each client is a thread with
    its own ZeroMQ DEALER and keeps up to --window requests in flight (so
    replies can come back in any order): half Capture (1-8 records of
    random words, across 8 agents), half Recall (two words, k = 10). Every
    request has a unique request_id; every reply must carry the id of a
    request of that client still in flight and the result of that request's
    operation (a capture's reply as many ids as records sent). At the end of
    the load each client waits (10 s at most) for what it still has in
    flight, then closes its socket.

    A sampler reads memd's /proc/PID/status (VmRSS, Threads), /proc/PID/fd
    and /proc/PID/stat (CPU time) every 250 ms: before the clients connect
    (the baseline), during the load, and through the idle period.

    Checks (exit 1 when one fails): no error reply, no reply that matches
    no request in flight or carries the wrong result, no request left
    unanswered; RSS flat over the second half of the idle period (its range
    there within max(1 MiB, 2 %)); memd's descriptors back to the baseline
    at the end; memd still running and stopping with exit 0. Prints a table
    and, with --json, writes the numbers. CI size: 64 clients, 20 s, 10 s
    idle (ctest soak_load); longer by hand, e.g. --seconds 600 --idle 120.
*/
#include <czmq.h>
#include <dirent.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include "bench_daemon.h"
#include "mem_codec.h"
#include "memd_client.h"
#include "soak_rand.h"

#define MAX_WINDOW   16
#define MAX_SAMPLES  100000
#define VOCABULARY   3000
#define DRAIN_MS     10000

typedef enum { OP_CAPTURE, OP_RECALL, OP_COUNT } op_t;
static const char *s_op_names[OP_COUNT] = {"capture", "recall"};

typedef struct {
    uint64_t request_id;        //  0 = free slot
    op_t op;
    size_t n_records;
    int64_t sent_us;
} slot_t;

typedef struct {
    int index;
    uint64_t rng;
    pthread_t thread;
    uint64_t sent[OP_COUNT], ok[OP_COUNT], errors, mismatched, unanswered, records;
    double *latency_us[OP_COUNT];   //  per reply, for percentiles
    size_t n_latency[OP_COUNT], cap_latency[OP_COUNT];
    char first_error[256];
} client_t;

typedef struct {
    double t;                   //  seconds since the baseline sample
    uint64_t rss_kib, anon_kib, file_kib, cpu_ticks;   //  VmRSS = RssAnon + RssFile (+ shmem)
    int fds, threads;
    char phase;                 //  'b' baseline, 'l' load, 's' settling, 'i' idle
} sample_t;

static void *s_zmq;
static const char *s_endpoint;
static atomic_int s_stop;
static int s_window = 4;
static char s_words[VOCABULARY][12];
static volatile sig_atomic_t s_interrupted;

static int64_t
s_now_us (void)
{
    return zclock_usecs ();
}

//  A word, skewed towards the first ones (so recalls find things).
static const char *
s_word (uint64_t *rng)
{
    double u = (double) (soak_rand (rng) >> 11) / 9007199254740992.0;
    return s_words[(size_t) (pow (u, 3.0) * VOCABULARY) % VOCABULARY];
}

static void
s_record_latency (client_t *c, op_t op, double us)
{
    if (c->n_latency[op] == c->cap_latency[op]) {
        size_t cap = c->cap_latency[op] ? c->cap_latency[op] * 2 : 4096;
        double *grown = realloc (c->latency_us[op], cap * sizeof *grown);
        if (!grown)
            return;
        c->latency_us[op] = grown;
        c->cap_latency[op] = cap;
    }
    c->latency_us[op][c->n_latency[op]++] = us;
}

//  Builds and sends one request into a free slot; 0 or -1.
static int
s_send (client_t *c, void *dealer, slot_t *slot, uint64_t request_id)
{
    Memd__V1__Request req = MEMD__V1__REQUEST__INIT;
    Memd__V1__Capture capture = MEMD__V1__CAPTURE__INIT;
    Memd__V1__Recall recall = MEMD__V1__RECALL__INIT;
    Memd__V1__Record records[8], *ptrs[8];
    char texts[8][400], query[32], agent[16];
    req.request_id = request_id;
    req.protocol_version = MEM_PROTOCOL_VERSION;
    snprintf (agent, sizeof agent, "soak-%d", (int) (soak_rand (&c->rng) % 8));
    req.agent_id = agent;
    op_t op = soak_rand (&c->rng) % 2 ? OP_CAPTURE : OP_RECALL;
    size_t n = 0;
    if (op == OP_CAPTURE) {
        n = 1 + soak_rand (&c->rng) % 8;
        for (size_t i = 0; i < n; i++) {
            int len = 0, words = 10 + (int) (soak_rand (&c->rng) % 21);
            for (int w = 0; w < words; w++)
                len += snprintf (texts[i] + len, sizeof texts[i] - (size_t) len, "%s%s",
                                 w ? " " : "", s_word (&c->rng));
            memd__v1__record__init (&records[i]);
            records[i].text = texts[i];
            ptrs[i] = &records[i];
        }
        capture.records = ptrs;
        capture.n_records = n;
        req.op_case = MEMD__V1__REQUEST__OP_CAPTURE;
        req.capture = &capture;
    }
    else {
        snprintf (query, sizeof query, "%s %s", s_word (&c->rng), s_word (&c->rng));
        recall.query = query;
        recall.k = 10;
        req.op_case = MEMD__V1__REQUEST__OP_RECALL;
        req.recall = &recall;
    }
    uint8_t buf[8192];
    size_t size = memd__v1__request__get_packed_size (&req);
    if (size > sizeof buf || memd__v1__request__pack (&req, buf) != size)
        return -1;
    if (zmq_send (dealer, "", 0, ZMQ_SNDMORE) != 0 || zmq_send (dealer, buf, size, 0) != (int) size)
        return -1;
    *slot = (slot_t){request_id, op, n, s_now_us ()};
    c->sent[op]++;
    return 0;
}

//  Takes one reply off the socket and matches it to a slot.
static void
s_receive (client_t *c, void *dealer, slot_t *slots)
{
    zmq_msg_t part;
    zmq_msg_init (&part);
    Memd__V1__Reply *reply = NULL;
    int parts = 0;
    while (zmq_msg_recv (&part, dealer, 0) >= 0) {
        if (++parts == 2)
            reply = memd__v1__reply__unpack (NULL, zmq_msg_size (&part),
                                             (const uint8_t *) zmq_msg_data (&part));
        if (!zmq_msg_more (&part))
            break;
    }
    zmq_msg_close (&part);
    slot_t *slot = NULL;
    for (int i = 0; reply && i < s_window; i++)
        if (slots[i].request_id && slots[i].request_id == reply->request_id)
            slot = &slots[i];
    if (!slot) {
        c->mismatched++;
        if (!c->first_error[0])
            snprintf (c->first_error, sizeof c->first_error,
                      "client %d: a reply (request_id %llu) matches no request in flight",
                      c->index, reply ? (unsigned long long) reply->request_id : 0ULL);
        if (reply)
            memd__v1__reply__free_unpacked (reply, NULL);
        return;
    }
    int code = reply->status ? (int) reply->status->code : MEMD__V1__CODE__OK;
    bool right = slot->op == OP_CAPTURE
                   ? reply->result_case == MEMD__V1__REPLY__RESULT_CAPTURE
                         && reply->capture->n_ids == slot->n_records
                   : reply->result_case == MEMD__V1__REPLY__RESULT_RECALL;
    if (code != MEMD__V1__CODE__OK) {
        c->errors++;
        if (!c->first_error[0])
            snprintf (c->first_error, sizeof c->first_error, "client %d: %s: %s: %s", c->index,
                      s_op_names[slot->op], mem_code_name (code),
                      reply->status->message ? reply->status->message : "");
    }
    else if (!right) {
        c->mismatched++;
        if (!c->first_error[0])
            snprintf (c->first_error, sizeof c->first_error,
                      "client %d: the reply to a %s carries another result", c->index,
                      s_op_names[slot->op]);
    }
    else {
        c->ok[slot->op]++;
        c->records += slot->n_records;
        s_record_latency (c, slot->op, (double) (s_now_us () - slot->sent_us));
    }
    slot->request_id = 0;
    memd__v1__reply__free_unpacked (reply, NULL);
}

static void *
s_client_thread (void *arg)
{
    client_t *c = arg;
    void *dealer = zmq_socket (s_zmq, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt (dealer, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect (dealer, s_endpoint)) {
        snprintf (c->first_error, sizeof c->first_error, "client %d: connect: %s", c->index,
                  zmq_strerror (zmq_errno ()));
        c->errors++;
        zmq_close (dealer);
        return NULL;
    }
    slot_t slots[MAX_WINDOW] = {{0}};
    uint64_t next_id = ((uint64_t) c->index + 1) << 40;
    int in_flight = 0;
    int64_t drain_until = 0;
    while (true) {
        bool stopping = atomic_load (&s_stop);
        if (stopping && !drain_until)
            drain_until = s_now_us () + (int64_t) DRAIN_MS * 1000;
        if (stopping && (in_flight == 0 || s_now_us () >= drain_until))
            break;
        //  Fill the window, then wait for a reply.
        for (int i = 0; !stopping && i < s_window; i++)
            if (!slots[i].request_id) {
                if (s_send (c, dealer, &slots[i], next_id++))
                    break;
                in_flight++;
            }
        zmq_pollitem_t item = {dealer, 0, ZMQ_POLLIN, 0};
        if (zmq_poll (&item, 1, 100) > 0) {
            s_receive (c, dealer, slots);
            in_flight = 0;
            for (int i = 0; i < s_window; i++)
                in_flight += slots[i].request_id != 0;
        }
    }
    c->unanswered += (uint64_t) in_flight;
    if (in_flight && !c->first_error[0])
        snprintf (c->first_error, sizeof c->first_error,
                  "client %d: %d requests unanswered %d ms after the load", c->index, in_flight,
                  DRAIN_MS);
    zmq_close (dealer);
    return NULL;
}

//  ---------------------------------------------------------------------------
//  Sampling memd from /proc

static pthread_mutex_t s_samples_lock = PTHREAD_MUTEX_INITIALIZER;
static sample_t *s_samples;
static size_t s_n_samples;
static int64_t s_t0_us;
static atomic_int s_phase = 'b';

static bool
s_sample_one (int pid, sample_t *sample)
{
    char path[64], line[512];
    snprintf (path, sizeof path, "/proc/%d/status", pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return false;
    memset (sample, 0, sizeof *sample);
    while (fgets (line, sizeof line, file)) {
        unsigned long long v;
        if (sscanf (line, "VmRSS: %llu kB", &v) == 1)
            sample->rss_kib = v;
        else if (sscanf (line, "RssAnon: %llu kB", &v) == 1)
            sample->anon_kib = v;
        else if (sscanf (line, "RssFile: %llu kB", &v) == 1)
            sample->file_kib = v;
        else if (sscanf (line, "Threads: %llu", &v) == 1)
            sample->threads = (int) v;
    }
    fclose (file);
    snprintf (path, sizeof path, "/proc/%d/stat", pid);
    file = fopen (path, "r");
    if (file) {
        if (fgets (line, sizeof line, file)) {
            char *p = strrchr (line, ')');   //  the name may hold spaces
            unsigned long long utime = 0, stime = 0;
            if (p && sscanf (p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                             &utime, &stime) == 2)
                sample->cpu_ticks = utime + stime;
        }
        fclose (file);
    }
    snprintf (path, sizeof path, "/proc/%d/fd", pid);
    DIR *dir = opendir (path);
    if (dir) {
        struct dirent *entry;
        while ((entry = readdir (dir)))
            if (entry->d_name[0] != '.')
                sample->fds++;
        closedir (dir);
    }
    sample->t = (double) (s_now_us () - s_t0_us) / 1e6;
    sample->phase = (char) atomic_load (&s_phase);
    return true;
}

typedef struct {
    int pid;
    pthread_t thread;
    atomic_int stop;
} sampler_t;

static void *
s_sampler_thread (void *arg)
{
    sampler_t *sampler = arg;
    while (!atomic_load (&sampler->stop)) {
        sample_t sample;
        if (s_sample_one (sampler->pid, &sample)) {
            pthread_mutex_lock (&s_samples_lock);
            if (s_n_samples < MAX_SAMPLES)
                s_samples[s_n_samples++] = sample;
            pthread_mutex_unlock (&s_samples_lock);
        }
        for (int i = 0; i < 25 && !atomic_load (&sampler->stop); i++)
            zclock_sleep (10);
    }
    return NULL;
}

//  ---------------------------------------------------------------------------

static int
s_cmp_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static double
s_percentile (double *values, size_t n, double p)
{
    if (!n)
        return 0;
    size_t i = (size_t) (p * (double) (n - 1) + 0.5);
    return values[i < n ? i : n - 1];
}

static void
s_usage (FILE *out)
{
    fprintf (out, "usage: soak_load [--clients N] [--seconds S] [--idle S] [--window N]\n"
                  "                 [--memd PATH] [--json FILE]\n"
                  "  defaults: 64 clients, 20 s of load, 10 s idle, 4 requests in flight\n"
                  "  per client (env MEMD_SOAK_SECONDS, MEMD_SOAK_IDLE for longer runs)\n");
}

int
main (int argc, char *argv[])
{
    static const struct option options[] = {
        {"clients", required_argument, NULL, 'c'}, {"seconds", required_argument, NULL, 's'},
        {"idle", required_argument, NULL, 'i'},    {"window", required_argument, NULL, 'w'},
        {"memd", required_argument, NULL, 'm'},    {"json", required_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    int n_clients = 64;
    double seconds = getenv ("MEMD_SOAK_SECONDS") ? atof (getenv ("MEMD_SOAK_SECONDS")) : 20;
    double idle = getenv ("MEMD_SOAK_IDLE") ? atof (getenv ("MEMD_SOAK_IDLE")) : 10;
    const char *memd = NULL, *json = NULL;
    int opt;
    while ((opt = getopt_long (argc, argv, "c:s:i:w:m:j:h", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            n_clients = atoi (optarg);
            break;
        case 's':
            seconds = atof (optarg);
            break;
        case 'i':
            idle = atof (optarg);
            break;
        case 'w':
            s_window = atoi (optarg);
            break;
        case 'm':
            memd = optarg;
            break;
        case 'j':
            json = optarg;
            break;
        case 'h':
            s_usage (stdout);
            return 0;
        default:
            s_usage (stderr);
            return 2;
        }
    }
    if (n_clients < 1 || n_clients > 4096 || seconds <= 0 || idle < 2 || s_window < 1
        || s_window > MAX_WINDOW || optind < argc) {
        s_usage (stderr);
        return 2;
    }
    bench_daemon_catch_signals (&s_interrupted);
    uint64_t rng = (uint64_t) time (NULL) | 1;
    for (int i = 0; i < VOCABULARY; i++) {
        //  Pronounceable made-up words: consonant-vowel pairs.
        static const char cons[] = "bdfgklmnprstvz", vow[] = "aeiou";
        int len = 2 + (int) (soak_rand (&rng) % 3);
        for (int j = 0; j < len; j++) {
            s_words[i][2 * j] = cons[soak_rand (&rng) % (sizeof cons - 1)];
            s_words[i][2 * j + 1] = vow[soak_rand (&rng) % (sizeof vow - 1)];
        }
        s_words[i][2 * len] = 0;
    }
    char base[] = "/tmp/memd-soak.XXXXXX";
    if (!mkdtemp (base)) {
        perror ("soak_load: mkdtemp");
        return 1;
    }
    const char *const memd_args[] = {"--set", "recall/workers=2", NULL};
    bench_daemon_t *daemon = bench_daemon_start_with (memd, base, "soak_load", &s_interrupted,
                                                      memd_args);
    if (!daemon) {
        bench_daemon_remove_tree (base);
        return 1;
    }
    s_endpoint = bench_daemon_endpoint (daemon);
    int pid = bench_daemon_pid (daemon);
    s_samples = calloc (MAX_SAMPLES, sizeof *s_samples);
    s_zmq = zmq_ctx_new ();
    zmq_ctx_set (s_zmq, ZMQ_MAX_SOCKETS, n_clients + 16);

    //  Baseline: memd started, no client connected (bench_daemon's ping
    //  client is gone), for a second.
    s_t0_us = s_now_us ();
    sampler_t sampler = {.pid = pid};
    pthread_create (&sampler.thread, NULL, s_sampler_thread, &sampler);
    zclock_sleep (1000);
    pthread_mutex_lock (&s_samples_lock);
    sample_t baseline = s_samples[s_n_samples ? s_n_samples - 1 : 0];
    pthread_mutex_unlock (&s_samples_lock);

    printf ("soak_load: %d clients, %d in flight each, %.0f s load, %.0f s idle; memd pid %d, "
            "baseline %llu KiB RSS, %d fds, %d threads\n",
            n_clients, s_window, seconds, idle, pid, (unsigned long long) baseline.rss_kib,
            baseline.fds, baseline.threads);
    fflush (stdout);
    client_t *clients = calloc ((size_t) n_clients, sizeof *clients);
    atomic_store (&s_phase, 'l');
    int64_t load_start = s_now_us ();
    for (int i = 0; i < n_clients; i++) {
        clients[i].index = i;
        clients[i].rng = soak_rand (&rng) | 1;
        pthread_create (&clients[i].thread, NULL, s_client_thread, &clients[i]);
    }
    while (!s_interrupted && s_now_us () - load_start < (int64_t) (seconds * 1e6))
        zclock_sleep (50);
    atomic_store (&s_stop, 1);
    for (int i = 0; i < n_clients; i++)
        pthread_join (clients[i].thread, NULL);
    double load_s = (double) (s_now_us () - load_start) / 1e6;
    //  Settle: memd finishes the background work the load left (linking
    //  the new records into the graph, index merges) before the idle
    //  period is judged; quiet = no CPU tick in a whole second (at most 180 s).
    atomic_store (&s_phase, 's');
    int64_t settle_start = s_now_us ();
    sample_t before, after;
    bool quiet = false;
    while (!s_interrupted && !quiet && s_now_us () - settle_start < 180 * (int64_t) 1000000
           && s_sample_one (pid, &before)) {
        zclock_sleep (1000);
        quiet = s_sample_one (pid, &after) && after.cpu_ticks == before.cpu_ticks;
    }
    printf ("soak_load: memd settled %.1f s after the load%s\n",
            (double) (s_now_us () - settle_start) / 1e6, quiet ? "" : " (did NOT go quiet)");
    atomic_store (&s_phase, 'i');
    int64_t idle_start = s_now_us ();
    while (!s_interrupted && s_now_us () - idle_start < (int64_t) (idle * 1e6))
        zclock_sleep (50);
    atomic_store (&sampler.stop, 1);
    pthread_join (sampler.thread, NULL);
    bool alive = kill (pid, 0) == 0;
    int stop_status = bench_daemon_stop (&daemon);
    zmq_ctx_term (s_zmq);

    //  Totals and latencies.
    uint64_t sent[OP_COUNT] = {0}, ok[OP_COUNT] = {0}, errors = 0, mismatched = 0,
             unanswered = 0, records = 0;
    double p50[OP_COUNT], p99[OP_COUNT], max[OP_COUNT];
    for (int op = 0; op < OP_COUNT; op++) {
        size_t n = 0;
        for (int i = 0; i < n_clients; i++)
            n += clients[i].n_latency[op];
        double *all = malloc ((n ? n : 1) * sizeof *all);
        n = 0;
        for (int i = 0; i < n_clients; i++) {
            memcpy (all + n, clients[i].latency_us[op],
                    clients[i].n_latency[op] * sizeof *all);
            n += clients[i].n_latency[op];
            sent[op] += clients[i].sent[op];
            ok[op] += clients[i].ok[op];
        }
        qsort (all, n, sizeof *all, s_cmp_double);
        p50[op] = s_percentile (all, n, 0.50) / 1000;
        p99[op] = s_percentile (all, n, 0.99) / 1000;
        max[op] = n ? all[n - 1] / 1000 : 0;
        free (all);
    }
    const char *first_error = "";
    for (int i = 0; i < n_clients; i++) {
        errors += clients[i].errors;
        mismatched += clients[i].mismatched;
        unanswered += clients[i].unanswered;
        records += clients[i].records;
        if (!*first_error && clients[i].first_error[0])
            first_error = clients[i].first_error;
    }

    //  Memory and descriptors per phase; flatness over the idle period's
    //  second half.
    uint64_t load_peak_rss = 0, idle_first_rss = 0, flat_min = UINT64_MAX, flat_max = 0;
    sample_t load_peak = {0}, idle_first = {0}, idle_end = baseline;
    uint64_t flat_cpu_first = 0, flat_cpu_last = 0;
    int load_peak_fds = 0, load_peak_threads = 0, end_fds = baseline.fds, end_threads = 0;
    uint64_t end_rss = baseline.rss_kib;
    double idle_t0 = (double) (idle_start - s_t0_us) / 1e6, flat_from = idle_t0 + idle / 2;
    size_t flat_n = 0;
    for (size_t i = 0; i < s_n_samples; i++) {
        sample_t *s = &s_samples[i];
        if (s->phase == 'l') {
            if (s->rss_kib > load_peak_rss)
                load_peak = *s;
            load_peak_rss = s->rss_kib > load_peak_rss ? s->rss_kib : load_peak_rss;
            load_peak_fds = s->fds > load_peak_fds ? s->fds : load_peak_fds;
            load_peak_threads = s->threads > load_peak_threads ? s->threads : load_peak_threads;
        }
        if (s->phase == 'i') {
            if (!idle_first_rss) {
                idle_first_rss = s->rss_kib;
                idle_first = *s;
            }
            idle_end = *s;
            end_rss = s->rss_kib;
            end_fds = s->fds;
            end_threads = s->threads;
            if (s->t >= flat_from) {
                flat_min = s->rss_kib < flat_min ? s->rss_kib : flat_min;
                flat_max = s->rss_kib > flat_max ? s->rss_kib : flat_max;
                if (!flat_n++)
                    flat_cpu_first = s->cpu_ticks;
                flat_cpu_last = s->cpu_ticks;
            }
        }
    }
    uint64_t flat_range = flat_n ? flat_max - flat_min : UINT64_MAX;
    uint64_t flat_tolerance = flat_max / 50 > 1024 ? flat_max / 50 : 1024;
    long ticks_per_s = sysconf (_SC_CLK_TCK);
    double flat_cpu_ms = (double) (flat_cpu_last - flat_cpu_first) * 1000.0 / (double) ticks_per_s;

    bool rss_flat = flat_n >= 3 && flat_range <= flat_tolerance;
    bool fds_back = end_fds <= baseline.fds;
    bool pass = !s_interrupted && errors == 0 && mismatched == 0 && unanswered == 0 && rss_flat
             && fds_back && alive && stop_status == 0 && ok[OP_CAPTURE] > 0 && ok[OP_RECALL] > 0;

    printf ("\n%-10s %10s %10s %10s %10s %10s\n", "op", "requests", "per s", "p50 ms", "p99 ms",
            "max ms");
    for (int op = 0; op < OP_COUNT; op++)
        printf ("%-10s %10llu %10.0f %10.2f %10.2f %10.2f\n", s_op_names[op],
                (unsigned long long) ok[op], (double) ok[op] / load_s, p50[op], p99[op],
                max[op]);
    printf ("records captured %llu; errors %llu, mismatched replies %llu, unanswered %llu\n\n",
            (unsigned long long) records, (unsigned long long) errors,
            (unsigned long long) mismatched, (unsigned long long) unanswered);
    printf ("%-22s %10s %10s %10s %6s %8s\n", "memd", "RSS KiB", "anon KiB", "file KiB",
            "fds", "threads");
    printf ("%-22s %10llu %10llu %10llu %6d %8d\n", "baseline (no client)",
            (unsigned long long) baseline.rss_kib, (unsigned long long) baseline.anon_kib,
            (unsigned long long) baseline.file_kib, baseline.fds, baseline.threads);
    printf ("%-22s %10llu %10llu %10llu %6d %8d\n", "load (peak RSS, fds)",
            (unsigned long long) load_peak_rss, (unsigned long long) load_peak.anon_kib,
            (unsigned long long) load_peak.file_kib, load_peak_fds, load_peak_threads);
    printf ("%-22s %10llu %10llu %10llu %6d %8d\n", "idle start",
            (unsigned long long) idle_first_rss, (unsigned long long) idle_first.anon_kib,
            (unsigned long long) idle_first.file_kib, idle_first.fds, idle_first.threads);
    printf ("%-22s %10llu %10llu %10llu %6d %8d\n", "idle end", (unsigned long long) end_rss,
            (unsigned long long) idle_end.anon_kib, (unsigned long long) idle_end.file_kib,
            end_fds, end_threads);
    printf ("idle, second half (%zu samples): RSS %llu..%llu KiB (range %llu, tolerance %llu): "
            "%s; memd CPU %.0f ms\n",
            flat_n, (unsigned long long) (flat_n ? flat_min : 0), (unsigned long long) flat_max,
            (unsigned long long) (flat_n ? flat_range : 0), (unsigned long long) flat_tolerance,
            rss_flat ? "flat" : "NOT FLAT", flat_cpu_ms);
    printf ("descriptors at the end %d, baseline %d: %s; memd %s, stopped with %d\n", end_fds,
            baseline.fds, fds_back ? "back to baseline" : "NOT BACK", alive ? "alive" : "DEAD",
            stop_status);
    if (*first_error)
        printf ("first problem: %s\n", first_error);

    if (json) {
        FILE *file = fopen (json, "w");
        if (file) {
            fprintf (file, "{\"clients\": %d, \"window\": %d, \"load_s\": %.1f, \"idle_s\": %.1f",
                     n_clients, s_window, load_s, idle);
            for (int op = 0; op < OP_COUNT; op++)
                fprintf (file,
                         ", \"%s\": {\"requests\": %llu, \"per_s\": %.0f, \"p50_ms\": %.3f, "
                         "\"p99_ms\": %.3f, \"max_ms\": %.3f}",
                         s_op_names[op], (unsigned long long) ok[op], (double) ok[op] / load_s,
                         p50[op], p99[op], max[op]);
            fprintf (file,
                     ", \"records\": %llu, \"errors\": %llu, \"mismatched\": %llu, "
                     "\"unanswered\": %llu, \"rss_kib\": {\"baseline\": %llu, \"load_peak\": "
                     "%llu, \"idle_start\": %llu, \"idle_end\": %llu, \"flat_min\": %llu, "
                     "\"flat_max\": %llu, \"flat_tolerance\": %llu}, \"fds\": {\"baseline\": %d, "
                     "\"load_peak\": %d, \"end\": %d}, \"threads\": {\"baseline\": %d, "
                     "\"load_peak\": %d, \"end\": %d}, \"idle_cpu_ms\": %.0f, \"rss_flat\": %s, "
                     "\"fds_back\": %s, \"stop_status\": %d, \"ok\": %s, \"samples\": [",
                     (unsigned long long) records, (unsigned long long) errors,
                     (unsigned long long) mismatched, (unsigned long long) unanswered,
                     (unsigned long long) baseline.rss_kib, (unsigned long long) load_peak_rss,
                     (unsigned long long) idle_first_rss, (unsigned long long) end_rss,
                     (unsigned long long) (flat_n ? flat_min : 0), (unsigned long long) flat_max,
                     (unsigned long long) flat_tolerance, baseline.fds, load_peak_fds, end_fds,
                     baseline.threads, load_peak_threads, end_threads, flat_cpu_ms,
                     rss_flat ? "true" : "false", fds_back ? "true" : "false", stop_status,
                     pass ? "true" : "false");
            for (size_t i = 0; i < s_n_samples; i++)
                fprintf (file,
                         "%s{\"t\": %.2f, \"phase\": \"%c\", \"rss_kib\": %llu, "
                         "\"anon_kib\": %llu, \"fds\": %d}",
                         i ? ", " : "", s_samples[i].t, s_samples[i].phase,
                         (unsigned long long) s_samples[i].rss_kib,
                         (unsigned long long) s_samples[i].anon_kib, s_samples[i].fds);
            fprintf (file, "]}\n");
            fclose (file);
        }
    }
    printf ("soak_load: %s\n", pass ? "PASS" : "FAIL");
    for (int i = 0; i < n_clients; i++)
        for (int op = 0; op < OP_COUNT; op++)
            free (clients[i].latency_us[op]);
    free (clients);
    free (s_samples);
    bench_daemon_remove_tree (base);
    return pass ? 0 : 1;
}
