/*  mem_log — stderr logging; see mem_log.h. */
#include "mem_log.h"
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>

static atomic_bool s_verbose;

void
mem_log_set_verbose (bool verbose)
{
    atomic_store (&s_verbose, verbose);
}

bool
mem_log_verbose (void)
{
    return atomic_load (&s_verbose);
}

static void
s_log (const char *level, const char *fmt, va_list args)
{
    char line[1024];
    struct timeval tv;
    gettimeofday (&tv, NULL);
    struct tm tm;
    gmtime_r (&tv.tv_sec, &tm);
    int n = (int) strftime (line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n += snprintf (line + n, sizeof line - n, ".%03dZ memd %s: ", (int) (tv.tv_usec / 1000),
                   level);
    vsnprintf (line + n, sizeof line - n, fmt, args);
    fprintf (stderr, "%s\n", line);
}

#define LOG_BODY(level)                                                                    \
    va_list args;                                                                          \
    va_start (args, fmt);                                                                  \
    s_log (level, fmt, args);                                                              \
    va_end (args)

void
mem_log_error (const char *fmt, ...)
{
    LOG_BODY ("error");
}

void
mem_log_warn (const char *fmt, ...)
{
    LOG_BODY ("warning");
}

void
mem_log_info (const char *fmt, ...)
{
    LOG_BODY ("info");
}

void
mem_log_debug (const char *fmt, ...)
{
    if (!atomic_load (&s_verbose))
        return;
    LOG_BODY ("debug");
}
