/*  bench_daemon — a real memd for a benchmark; see bench_daemon.h. */
#include "bench_daemon.h"
#include "memd_client.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_READY_MS 10000 //  how long to wait for memd to answer a ping
#define S_STOP_MS  15000 //  how long to wait for memd to exit on SIGTERM

struct _bench_daemon_t {
    char name[64];
    char base[PATH_MAX];
    char endpoint[PATH_MAX];
    pid_t pid;  //  0 once reaped
    int status; //  exit code, or -signal, once reaped
    double ready_ms;
};

static double s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void s_sleep_ms (int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep (&ts, NULL);
}

//  Finds memd next to this binary
static int s_default_path (char *buf, size_t size)
{
    char exe[PATH_MAX];
    ssize_t len = readlink ("/proc/self/exe", exe, sizeof (exe) - 1);
    if (len <= 0)
        return -1;
    exe[len] = 0;
    char *slash = strrchr (exe, '/');
    if (!slash)
        return -1;
    *slash = 0;
    return snprintf (buf, size, "%s/memd", exe) < (int)size ? 0 : -1;
}

//  Waits up to timeout_ms for memd to exit; returns 0 once reaped
static int s_reap (bench_daemon_t *self, int timeout_ms)
{
    double deadline = s_now_ms () + timeout_ms;
    while (self->pid > 0) {
        int status;
        pid_t pid = waitpid (self->pid, &status, WNOHANG);
        if (pid == self->pid) {
            self->status = WIFEXITED (status) ? WEXITSTATUS (status) : -WTERMSIG (status);
            self->pid = 0;
            return 0;
        }
        if (pid < 0 && errno != EINTR) {
            self->pid = 0; //  not our child any more: nothing to wait for
            return 0;
        }
        if (s_now_ms () >= deadline)
            return -1;
        s_sleep_ms (10);
    }
    return 0;
}

void bench_daemon_log_tail (bench_daemon_t *self)
{
    char path[PATH_MAX + 16];
    snprintf (path, sizeof (path), "%s/memd.log", self->base);
    FILE *file = fopen (path, "r");
    if (!file)
        return;
    char lines[20][512];
    size_t count = 0;
    while (fgets (lines[count % 20], sizeof (lines[0]), file))
        count++;
    fclose (file);
    fprintf (stderr, "%s: last lines of %s:\n", self->name, path);
    for (size_t i = count > 20 ? count - 20 : 0; i < count; i++)
        fprintf (stderr, "  | %s", lines[i % 20]);
}

//  Forks and execs memd on base/data and base/run, logging to base/memd.log;
//  extra (NULL-terminated, may be NULL) are more memd arguments
static int s_spawn (bench_daemon_t *self, const char *memd, const char *const *extra)
{
    char data[PATH_MAX + 8], run[PATH_MAX + 8], log[PATH_MAX + 16];
    snprintf (data, sizeof (data), "%s/data", self->base);
    snprintf (run, sizeof (run), "%s/run", self->base);
    snprintf (log, sizeof (log), "%s/memd.log", self->base);
    if (mkdir (data, 0700) || mkdir (run, 0700)) {
        fprintf (stderr, "%s: mkdir in %s: %s\n", self->name, self->base, strerror (errno));
        return -1;
    }
    char *argv[64] = {(char *)memd, "--data-dir",           data, "--run-dir", run,
                      "--endpoint", (char *)self->endpoint, NULL};
    for (size_t i = 0, n = 7; extra && extra[i] && n < 63; i++)
        argv[n++] = (char *)extra[i];
    pid_t parent = getpid ();
    fflush (NULL);
    pid_t pid = fork ();
    if (pid < 0) {
        fprintf (stderr, "%s: fork: %s\n", self->name, strerror (errno));
        return -1;
    }
    if (pid == 0) {
        //  Own process group, so a terminal ^C reaches only the bench, which
        //  then stops memd in order; and die with the bench whatever happens
        setpgid (0, 0);
        prctl (PR_SET_PDEATHSIG, SIGTERM);
        if (getppid () != parent)
            _exit (1);
        int fd = open (log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int null = open ("/dev/null", O_RDONLY);
        if (fd >= 0) {
            dup2 (fd, STDOUT_FILENO);
            dup2 (fd, STDERR_FILENO);
            close (fd);
        }
        if (null >= 0) {
            dup2 (null, STDIN_FILENO);
            close (null);
        }
        execv (memd, argv);
        fprintf (stderr, "exec %s: %s\n", memd, strerror (errno));
        _exit (127);
    }
    self->pid = pid;
    return 0;
}

//  Pings every 10 ms until memd answers; fails if it exits or times out
static int s_wait_ready (bench_daemon_t *self, double spawned_ms,
                         volatile sig_atomic_t *interrupted)
{
    memd_client_t *client = memd_client_new (self->endpoint, 200);
    if (!client) {
        fprintf (stderr, "%s: cannot create a memd client for %s\n", self->name, self->endpoint);
        return -1;
    }
    int rc = -1;
    while (!(interrupted && *interrupted)) {
        if (memd_client_ping (client) == 0) {
            self->ready_ms = s_now_ms () - spawned_ms;
            rc = 0;
            break;
        }
        if (s_reap (self, 0) == 0) {
            //  bench_daemon_stop reports the status and the log
            fprintf (stderr, "%s: memd exited during start-up\n", self->name);
            break;
        }
        if (s_now_ms () - spawned_ms >= S_READY_MS) {
            fprintf (stderr, "%s: memd did not answer a ping within %d ms: %s\n", self->name,
                     S_READY_MS, memd_client_error (client));
            bench_daemon_log_tail (self);
            break;
        }
        s_sleep_ms (10);
    }
    memd_client_destroy (&client);
    return rc;
}

bench_daemon_t *bench_daemon_start_with (const char *memd, const char *base, const char *name,
                                         volatile sig_atomic_t *interrupted,
                                         const char *const *extra)
{
    bench_daemon_t *self = calloc (1, sizeof (*self));
    if (!self)
        return NULL;
    snprintf (self->name, sizeof (self->name), "%s", name ? name : "bench");
    snprintf (self->base, sizeof (self->base), "%s", base);
    char path[PATH_MAX];
    if (memd)
        snprintf (path, sizeof (path), "%s", memd);
    else if (s_default_path (path, sizeof (path))) {
        fprintf (stderr, "%s: cannot find this binary's directory; use --memd\n", self->name);
        free (self);
        return NULL;
    }
    if (access (path, X_OK)) {
        fprintf (stderr, "%s: memd not found at %s (build it, or pass --memd PATH)\n", self->name,
                 path);
        free (self);
        return NULL;
    }
    int len = snprintf (self->endpoint, sizeof (self->endpoint), "ipc://%s/run/memd.sock", base);
    if (len < 0 || (size_t)len - strlen ("ipc://") > 107) {
        fprintf (stderr, "%s: ipc path too long: %s\n", self->name, self->endpoint);
        free (self);
        return NULL;
    }
    fprintf (stderr, "%s: starting %s on %s\n", self->name, path, base);
    double spawned = s_now_ms ();
    if (s_spawn (self, path, extra) || s_wait_ready (self, spawned, interrupted)) {
        bench_daemon_stop (&self);
        return NULL;
    }
    return self;
}

int bench_daemon_stop (bench_daemon_t **self_p)
{
    bench_daemon_t *self = *self_p;
    if (!self)
        return 0;
    *self_p = NULL;
    if (self->pid > 0) {
        kill (self->pid, SIGTERM);
        if (s_reap (self, S_STOP_MS)) {
            fprintf (stderr, "%s: memd did not exit %d ms after SIGTERM; killing it\n", self->name,
                     S_STOP_MS);
            kill (self->pid, SIGKILL);
            int status;
            while (waitpid (self->pid, &status, 0) < 0 && errno == EINTR)
                ;
            self->status = -SIGKILL;
            self->pid = 0;
        }
    }
    if (self->status != 0) {
        fprintf (stderr, "%s: memd exited with status %d\n", self->name, self->status);
        bench_daemon_log_tail (self);
    }
    int status = self->status;
    free (self);
    return status;
}

bench_daemon_t *bench_daemon_start (const char *memd, const char *base, const char *name,
                                    volatile sig_atomic_t *interrupted)
{
    return bench_daemon_start_with (memd, base, name, interrupted, NULL);
}

int bench_daemon_pid (bench_daemon_t *self)
{
    return (int)self->pid;
}

const char *bench_daemon_endpoint (bench_daemon_t *self)
{
    return self->endpoint;
}

double bench_daemon_ready_ms (bench_daemon_t *self)
{
    return self->ready_ms;
}

static volatile sig_atomic_t *s_interrupted;

static void s_on_signal (int signum)
{
    if (s_interrupted)
        *s_interrupted = 1;
}

void bench_daemon_catch_signals (volatile sig_atomic_t *interrupted)
{
    s_interrupted = interrupted;
    zsys_handler_set (NULL);
    struct sigaction action;
    memset (&action, 0, sizeof (action));
    action.sa_handler = s_on_signal;
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
    signal (SIGPIPE, SIG_IGN);
}

static int s_remove_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    if (remove (path))
        fprintf (stderr, "cannot remove %s: %s\n", path, strerror (errno));
    return 0;
}

void bench_daemon_remove_tree (const char *path)
{
    nftw (path, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
