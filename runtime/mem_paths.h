/*  mem_paths — the run directory and the endpoint's file (DESIGN §6).

    Creates the run directory 0700, checks that an ipc path fits in a unix
    socket address (107 bytes), and locks the endpoint with a lock file
    beside it: a second memd on the same endpoint is refused instead of
    silently stealing the socket from the first.
*/
#ifndef MEM_PATHS_H_INCLUDED
#define MEM_PATHS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#define MEM_IPC_PATH_MAX 107

/* Creates dir and its parents with mode 0700 where missing. 0 or -1 (errno). */
int mem_paths_mkdirs (const char *dir);

/* Checks a socket's directory (DESIGN §11): it must be a directory owned
   by memd's uid, and private (no group or other access) unless shared_ok
   (other uids are allowed in config: then it is accepted with a warning,
   but never world-writable without the sticky bit). A directory that
   fails is refused with a message saying how to fix it, never chmod-ed.
   Returns 0 or -1 with err filled. */
int mem_paths_check_dir (const char *dir, bool shared_ok, char *err, size_t err_size);

/* Prepares an endpoint: for ipc://PATH, checks the length, creates PATH's
   directory 0700 (or checks an existing one, mem_paths_check_dir) and
   takes PATH.lock. Returns the lock's fd (>= 0; -2 for non-ipc endpoints,
   which need no lock) or -1 with err filled. */
int mem_paths_claim_endpoint (const char *endpoint, bool shared_ok, char *err, size_t err_size);

/* Releases the lock from mem_paths_claim_endpoint and removes the lock file. */
void mem_paths_release_endpoint (const char *endpoint, int fd);

#endif
