/*  mem_daemon — memd as a whole: opens the store, starts the actors in
    order (job queue, writer, readers, then the frontend, which binds the
    API last), and stops them in reverse after draining in-flight requests. */
#ifndef MEM_DAEMON_H_INCLUDED
#define MEM_DAEMON_H_INCLUDED

#include "mem_config.h"
#include <stdbool.h>

typedef struct _mem_daemon_t mem_daemon_t;

/* Starts memd from config. NULL with a message in err on failure. */
mem_daemon_t *mem_daemon_new (mem_config_t *config, char *err, size_t err_size);

/* True once the store failed a write (an I/O error on commit): memd then
   refuses writes and has sent itself SIGTERM, so main stops it and exits
   non-zero for a supervisor to restart it on a clean store. */
bool mem_daemon_failed (mem_daemon_t *self);

/* Stops memd: captures already taken are committed and acknowledged, the
   socket file is removed. */
void mem_daemon_destroy (mem_daemon_t **self_p);

#endif
