/*  mem_log — one-line log messages on stderr, with a UTC timestamp and a
    level. memd runs in the foreground under systemd or a terminal, so
    stderr is the log. Thread-safe (one fprintf per line). */
#ifndef MEM_LOG_H_INCLUDED
#define MEM_LOG_H_INCLUDED

#include <stdbool.h>

void mem_log_set_verbose (bool verbose);
bool mem_log_verbose (void);
void mem_log_error (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
void mem_log_warn (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
void mem_log_info (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
/* Only with --verbose. */
void mem_log_debug (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

#endif
