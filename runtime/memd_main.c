/*  memd — the memory daemon. Runs in the foreground, logs to stderr, stops
    cleanly on SIGINT/SIGTERM (DESIGN §8), and on SIGHUP: a closed terminal
    drains and stops memd rather than killing it mid-write.

    Signals: czmq's own handler is disabled; the stop signals are blocked
    in every thread and main waits for them with sigwait, so shutdown is an
    orderly drain and nothing polls while memd is idle. */
#include <czmq.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include "mem_config.h"
#include "mem_daemon.h"
#include "mem_export.h"
#include "mem_log.h"
#include "mem_notify.h"

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
             "      --verify           check the store in the data directory and exit (0:\n"
             "                         consistent, 1: not, or it cannot be read); it may be\n"
             "                         a backup, or a store another memd is serving\n"
             "      --json             with --verify: one JSON document on stdout\n"
             "      --help-config      list every setting with its default\n"
             "      --version          print the version\n"
             "  -h, --help             this text\n\n"
             "Precedence: defaults < config file < environment < flags.\n");
}

//  --verify: the store in dir, offline (or beside the memd that serves it).
//  Prints like `memctl verify`; returns the exit code.
static int
s_verify (const char *dir, bool json)
{
    mem_verify_report_t report;
    char err[1024];
    if (mem_verify_dir (dir, &report, err, sizeof err)) {
        fprintf (stderr, "memd: %s\n", err);
        if (json) {
            json_t *doc = json_pack ("{s:{s:s, s:s}}", "error", "code", "INTERNAL", "message", err);
            char *text = doc ? json_dumps (doc, JSON_COMPACT) : NULL;
            if (text)
                puts (text);
            free (text);
            json_decref (doc);
        }
        return 1;
    }
    if (json) {
        json_t *problems = json_array ();
        for (size_t i = 0; i < report.n_problems; i++)
            json_array_append_new (problems, json_string (report.problems[i]));
        json_t *doc = json_pack ("{s:b, s:I, s:I, s:o, s:s}", "ok", report.problem_count == 0,
                                 "records", (json_int_t) report.records, "problem_count",
                                 (json_int_t) report.problem_count, "problems", problems,
                                 "data_dir", dir);
        char *text = doc ? json_dumps (doc, JSON_COMPACT) : NULL;
        if (text)
            puts (text);
        free (text);
        json_decref (doc);
    }
    else {
        for (size_t i = 0; i < report.n_problems; i++)
            printf ("problem: %s\n", report.problems[i]);
        if (report.problem_count > report.n_problems)
            printf ("... and %llu more\n",
                    (unsigned long long) (report.problem_count - report.n_problems));
        printf ("%s: %llu records checked, %llu problems (%s)\n",
                report.problem_count ? "INCONSISTENT" : "consistent",
                (unsigned long long) report.records, (unsigned long long) report.problem_count,
                dir);
    }
    int rc = report.problem_count ? 1 : 0;
    mem_verify_report_clear (&report);
    return rc;
}

int
main (int argc, char *argv[])
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},   {"data-dir", required_argument, NULL, 'd'},
        {"run-dir", required_argument, NULL, 'r'},  {"endpoint", required_argument, NULL, 'e'},
        {"set", required_argument, NULL, 's'},      {"verbose", no_argument, NULL, 'v'},
        {"help-config", no_argument, NULL, 'C'},    {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},           {"verify", no_argument, NULL, 'Y'},
        {"json", no_argument, NULL, 'J'},           {NULL, 0, NULL, 0}};
    const char *config_file = NULL;
    //  Flags are applied after the file and the environment: keep them for later.
    const char *flag_keys[256];
    const char *flag_values[256];
    int n_flags = 0;
    bool verbose = false, verify = false, json = false;
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
        case 'Y':
            verify = true;
            break;
        case 'J':
            json = true;
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
    if (verify) {
        rc = s_verify (mem_config_get (config, "store/data_dir"), json);
        mem_config_destroy (&config);
        return rc;
    }

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
    mem_notify ("READY=1\nSTATUS=serving");   //  systemd Type=notify (memd.service)
    int sig = 0;
    sigwait (&stop, &sig);
    mem_log_info ("%s: stopping",
                  sig == SIGINT ? "SIGINT" : sig == SIGHUP ? "SIGHUP" : "SIGTERM");
    mem_notify ("STOPPING=1");
    mem_daemon_destroy (&daemon);
    mem_config_destroy (&config);
    zsys_shutdown ();
    mem_log_info ("stopped");
    return 0;
}
