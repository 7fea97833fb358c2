/*  memd — the memory daemon. Runs in the foreground, logs to stderr, stops
    cleanly on SIGINT/SIGTERM (DESIGN §8), and on SIGHUP: a closed terminal
    drains and stops memd rather than killing it mid-write.

    Signals: czmq's own handler is disabled; the stop signals are blocked
    in every thread and main waits for them with sigwait, so shutdown is an
    orderly drain and nothing polls while memd is idle. */
#include <czmq.h>
#include <getopt.h>
#include <signal.h>
#include "mem_config.h"
#include "mem_daemon.h"
#include "mem_log.h"

static void
s_usage (FILE *out)
{
    fprintf (out,
             "usage: memd [OPTIONS]\n\n"
             "  -c, --config FILE      read settings from a ZPL file\n"
             "  -d, --data-dir DIR     data directory (env MEMD_DATA_DIR)\n"
             "  -r, --run-dir DIR      run directory for sockets (env MEMD_RUN_DIR)\n"
             "  -e, --endpoint EP      API endpoint (env MEMD_ENDPOINT)\n"
             "  -s, --set KEY=VALUE    override a setting (repeatable)\n"
             "  -v, --verbose          debug logging\n"
             "      --help-config      list every setting with its default\n"
             "      --version          print the version\n"
             "  -h, --help             this text\n\n"
             "Precedence: defaults < config file < environment < flags.\n");
}

int
main (int argc, char *argv[])
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},   {"data-dir", required_argument, NULL, 'd'},
        {"run-dir", required_argument, NULL, 'r'},  {"endpoint", required_argument, NULL, 'e'},
        {"set", required_argument, NULL, 's'},      {"verbose", no_argument, NULL, 'v'},
        {"help-config", no_argument, NULL, 'C'},    {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
    const char *config_file = NULL;
    //  Flags are applied after the file and the environment: keep them for later.
    const char *flag_keys[256];
    const char *flag_values[256];
    int n_flags = 0;
    bool verbose = false;
    int opt;
    while ((opt = getopt_long (argc, argv, "c:d:r:e:s:vh", options, NULL)) != -1) {
        const char *key = NULL;
        switch (opt) {
        case 'c':
            config_file = optarg;
            break;
        case 'd':
            key = "store/data_dir";
            break;
        case 'r':
            key = "api/run_dir";
            break;
        case 'e':
            key = "api/endpoint";
            break;
        case 's':
            key = "";
            break;
        case 'v':
            verbose = true;
            break;
        case 'C':
            mem_config_print_help (stdout);
            return 0;
        case 'V':
            printf ("memd %s\n", MEMD_VERSION);
            return 0;
        case 'h':
            s_usage (stdout);
            return 0;
        default:
            s_usage (stderr);
            return 2;
        }
        if (key) {
            if (n_flags == 256) {
                fprintf (stderr, "memd: too many flags\n");
                return 2;
            }
            flag_keys[n_flags] = key;
            flag_values[n_flags++] = optarg;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "memd: unexpected argument '%s'\n", argv[optind]);
        s_usage (stderr);
        return 2;
    }

    mem_config_t *config = mem_config_new ();
    char err[1024];
    int rc = config_file ? mem_config_load_file (config, config_file, err, sizeof err) : 0;
    if (!rc)
        rc = mem_config_load_env (config, err, sizeof err);
    for (int i = 0; i < n_flags && !rc; i++)
        rc = *flag_keys[i] ? mem_config_set (config, flag_keys[i], flag_values[i], err, sizeof err)
                           : mem_config_set (config, flag_values[i], NULL, err, sizeof err);
    if (rc) {
        fprintf (stderr, "memd: %s\n", err);
        mem_config_destroy (&config);
        return 2;
    }
    mem_log_set_verbose (verbose || mem_config_int (config, "log/verbose"));

    //  Block the stop signals in every thread; main takes them with sigwait.
    sigset_t stop;
    sigemptyset (&stop);
    sigaddset (&stop, SIGINT);
    sigaddset (&stop, SIGTERM);
    sigaddset (&stop, SIGHUP);
    pthread_sigmask (SIG_BLOCK, &stop, NULL);
    signal (SIGPIPE, SIG_IGN);
    zsys_handler_set (NULL);
    zsys_init ();
    zsys_set_logstream (stderr);

    mem_daemon_t *daemon = mem_daemon_new (config, err, sizeof err);
    if (!daemon) {
        mem_log_error ("%s", err);
        mem_config_destroy (&config);
        zsys_shutdown ();
        return 1;
    }
    int sig = 0;
    sigwait (&stop, &sig);
    //  A store that failed a write sends SIGTERM itself: stop, and exit 3 so
    //  that a supervisor restarts memd on the store as it was last committed.
    bool failed = mem_daemon_failed (daemon);
    if (failed)
        mem_log_error ("the store failed: stopping (exit 3)");
    else
        mem_log_info ("%s: stopping",
                      sig == SIGINT ? "SIGINT" : sig == SIGHUP ? "SIGHUP" : "SIGTERM");
    mem_daemon_destroy (&daemon);
    mem_config_destroy (&config);
    zsys_shutdown ();
    mem_log_info ("stopped");
    return failed ? 3 : 0;
}
