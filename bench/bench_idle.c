/*  bench_idle — what a hibernating memd costs (issue 5; docs/lifecycle.md).

    Starts a real memd, fills it with records, lets it consolidate and reach
    HIBERNATE, then measures the whole process for --seconds twice: once
    untouched, once with a Status probe every --probe-every ms (what a
    watchdog does). It reads CPU ticks (utime + stime, /proc/PID/stat) and
    context switches summed over every thread (/proc/PID/task/N/status).

    Target: 0 ticks and 0 context switches untouched; with probes, only the
    probes' own handling (a few switches per probe), and memd still in
    HIBERNATE at the end. Prints a table and writes JSON.

        bench_idle [--records N] [--seconds S] [--probe-every MS] [--json PATH] [--memd PATH]
*/
#include "bench_daemon.h"
#include "memd_client.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t s_interrupted;

typedef struct {
    unsigned long long ticks, switches;
    unsigned threads;
} s_usage_t;

static int
s_usage (int pid, s_usage_t *u)
{
    memset (u, 0, sizeof *u);
    char path[64], line[4096];
    snprintf (path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen (path, "r");
    if (!f || !fgets (line, sizeof line, f)) {
        if (f)
            fclose (f);
        return -1;
    }
    fclose (f);
    //  Fields after "(comm)": state is field 3; utime and stime are 14 and 15.
    char *p = strrchr (line, ')');
    unsigned long long utime = 0, stime = 0;
    if (!p || sscanf (p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
                      &stime) != 2)
        return -1;
    u->ticks = utime + stime;
    snprintf (path, sizeof path, "/proc/%d/task", pid);
    DIR *dir = opendir (path);
    if (!dir)
        return -1;
    struct dirent *e;
    while ((e = readdir (dir))) {
        if (e->d_name[0] == '.')
            continue;
        char status[300];
        snprintf (status, sizeof status, "/proc/%d/task/%s/status", pid, e->d_name);
        FILE *s = fopen (status, "r");
        if (!s)
            continue;
        u->threads++;
        unsigned long long n;
        while (fgets (line, sizeof line, s))
            if (sscanf (line, "voluntary_ctxt_switches: %llu", &n) == 1
                || sscanf (line, "nonvoluntary_ctxt_switches: %llu", &n) == 1)
                u->switches += n;
        fclose (s);
    }
    closedir (dir);
    return 0;
}

static void
s_sleep_ms (long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep (&ts, &ts) && errno == EINTR && !s_interrupted)
        ;
}

static char *
s_state (memd_client_t *client)
{
    Memd__V1__Reply *reply = memd_client_status (client);
    char *state = reply ? strdup (reply->status_result->state) : NULL;
    memd_client_reply_free (&reply);
    return state;
}

//  Captures n synthetic records in batches.
static int
s_fill (memd_client_t *client, size_t n)
{
    enum { BATCH = 1000 };
    static const char *words[] = {"project", "deadline", "meeting", "budget", "design", "review",
                                  "travel",  "family",   "doctor",  "garden", "invoice", "music"};
    Memd__V1__Record recs[BATCH], *ptrs[BATCH];
    char texts[BATCH][160], sessions[BATCH][32];
    uint64_t ids[BATCH];
    for (size_t done = 0; done < n;) {
        size_t m = n - done < BATCH ? n - done : BATCH;
        for (size_t i = 0; i < m; i++) {
            size_t k = done + i;
            memd__v1__record__init (&recs[i]);
            snprintf (texts[i], sizeof texts[i], "note %zu: the %s about the %s for %s %zu",
                      k, words[k % 12], words[(k / 12) % 12], words[(k / 144) % 12], k % 97);
            snprintf (sessions[i], sizeof sessions[i], "s%zu", k / 50);
            recs[i].text = texts[i];
            recs[i].session_id = sessions[i];
            ptrs[i] = &recs[i];
        }
        if (memd_client_capture (client, "bench", ptrs, m, ids, NULL)) {
            fprintf (stderr, "bench_idle: capture failed: %s\n", memd_client_error (client));
            return -1;
        }
        done += m;
    }
    return 0;
}

typedef struct {
    const char *name;
    unsigned probes;
    s_usage_t before, after;
    char *state_after;
} s_phase_t;

static int
s_measure (int pid, memd_client_t *client, int seconds, long probe_every_ms, s_phase_t *phase)
{
    s_sleep_ms (300);   //  let the last replies settle
    if (s_usage (pid, &phase->before))
        return -1;
    long total = seconds * 1000L, elapsed = 0;
    while (elapsed < total && !s_interrupted) {
        long step = probe_every_ms > 0 && probe_every_ms < total - elapsed ? probe_every_ms
                                                                           : total - elapsed;
        s_sleep_ms (step);
        elapsed += step;
        if (probe_every_ms > 0 && elapsed < total) {
            free (s_state (client));
            phase->probes++;
        }
    }
    if (s_usage (pid, &phase->after))
        return -1;
    phase->state_after = s_state (client);   //  after the reading: not counted
    return 0;
}

int
main (int argc, char *argv[])
{
    size_t records = 20000;
    int seconds = 60;
    long probe_every = 5000;
    const char *json_path = "bench/results/idle.json", *memd = NULL;
    static const struct option options[] = {
        {"records", required_argument, NULL, 'r'}, {"seconds", required_argument, NULL, 's'},
        {"probe-every", required_argument, NULL, 'p'}, {"json", required_argument, NULL, 'j'},
        {"memd", required_argument, NULL, 'm'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long (argc, argv, "r:s:p:j:m:h", options, NULL)) != -1) {
        switch (c) {
        case 'r': records = strtoul (optarg, NULL, 10); break;
        case 's': seconds = atoi (optarg); break;
        case 'p': probe_every = atol (optarg); break;
        case 'j': json_path = optarg; break;
        case 'm': memd = optarg; break;
        default:
            fprintf (c == 'h' ? stdout : stderr,
                     "Usage: bench_idle [--records N] [--seconds S] [--probe-every MS] "
                     "[--json PATH] [--memd PATH]\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (seconds < 1 || probe_every < 1) {
        fprintf (stderr, "bench_idle: --seconds and --probe-every must be positive\n");
        return 2;
    }
    bench_daemon_catch_signals (&s_interrupted);
    char base[] = "/tmp/memd-bench-idle-XXXXXX";
    if (!mkdtemp (base)) {
        perror ("bench_idle: mkdtemp");
        return 1;
    }
    //  Short thresholds: how fast memd falls asleep is not what is measured.
    const char *extra[] = {"--set", "lifecycle/drowsy_after_ms=300", "--set",
                           "lifecycle/sleep_after_ms=300", NULL};
    bench_daemon_t *daemon = bench_daemon_start_with (memd, base, "bench_idle", &s_interrupted,
                                                      extra);
    if (!daemon) {
        bench_daemon_remove_tree (base);
        return 1;
    }
    int rc = 1;
    memd_client_t *client = memd_client_new (bench_daemon_endpoint (daemon), 10000);
    int pid = bench_daemon_pid (daemon);
    s_phase_t phases[2] = {{"untouched", 0, {0}, {0}, NULL},
                           {"status probe", 0, {0}, {0}, NULL}};
    fprintf (stderr, "bench_idle: capturing %zu records\n", records);
    if (!client || s_fill (client, records))
        goto done;
    //  Wait for HIBERNATE (consolidation of the records runs first).
    bool hibernating = false;
    for (int i = 0; i < 1200 && !hibernating && !s_interrupted; i++) {
        char *state = s_state (client);
        hibernating = state && strcmp (state, "HIBERNATE") == 0;
        free (state);
        if (!hibernating)
            s_sleep_ms (100);
    }
    if (!hibernating) {
        fprintf (stderr, "bench_idle: memd did not reach HIBERNATE in 120 s\n");
        goto done;
    }
    fprintf (stderr, "bench_idle: hibernating; measuring %d s untouched, then %d s with a probe "
                     "every %ld ms\n", seconds, seconds, probe_every);
    if (s_measure (pid, client, seconds, 0, &phases[0])
        || s_measure (pid, client, seconds, probe_every, &phases[1]))
        goto done;

    printf ("\nmemd idle in HIBERNATE, %zu records, %d s per phase\n\n", records, seconds);
    printf ("%-14s %7s %10s %10s %12s %9s  %s\n", "phase", "probes", "cpu ticks", "switches",
            "per probe", "threads", "state after");
    for (int i = 0; i < 2; i++) {
        s_phase_t *p = &phases[i];
        unsigned long long ticks = p->after.ticks - p->before.ticks;
        unsigned long long sw = p->after.switches - p->before.switches;
        char per[32] = "-";
        if (p->probes)
            snprintf (per, sizeof per, "%.1f", (double) sw / p->probes);
        printf ("%-14s %7u %10llu %10llu %12s %9u  %s\n", p->name, p->probes, ticks, sw, per,
                p->after.threads, p->state_after ? p->state_after : "?");
    }
    unsigned long long idle_ticks = phases[0].after.ticks - phases[0].before.ticks;
    unsigned long long idle_switches = phases[0].after.switches - phases[0].before.switches;
    bool met = idle_ticks == 0 && idle_switches == 0 && phases[1].state_after
            && strcmp (phases[1].state_after, "HIBERNATE") == 0;
    printf ("\ntarget (0 ticks, 0 switches untouched; still hibernating with probes): %s\n",
            met ? "met" : "MISSED");

    mkdir ("bench/results", 0755);
    FILE *out = fopen (json_path, "w");
    if (out) {
        fprintf (out, "{\"bench\": \"idle\", \"records\": %zu, \"seconds\": %d, \"phases\": [",
                 records, seconds);
        for (int i = 0; i < 2; i++) {
            s_phase_t *p = &phases[i];
            fprintf (out,
                     "%s{\"phase\": \"%s\", \"probes\": %u, \"cpu_ticks\": %llu, "
                     "\"context_switches\": %llu, \"threads\": %u, \"state_after\": \"%s\"}",
                     i ? ", " : "", p->name, p->probes, p->after.ticks - p->before.ticks,
                     p->after.switches - p->before.switches, p->after.threads,
                     p->state_after ? p->state_after : "");
        }
        fprintf (out, "], \"target_met\": %s}\n", met ? "true" : "false");
        fclose (out);
        fprintf (stderr, "bench_idle: wrote %s\n", json_path);
    }
    else
        fprintf (stderr, "bench_idle: cannot write %s: %s\n", json_path, strerror (errno));
    rc = met ? 0 : 1;
done:
    for (int i = 0; i < 2; i++)
        free (phases[i].state_after);
    memd_client_destroy (&client);
    bench_daemon_stop (&daemon);
    bench_daemon_remove_tree (base);
    return rc;
}
