/*  mem_paths — run directory and endpoint lock; see mem_paths.h. */
#include "mem_paths.h"
#include "mem_log.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int
mem_paths_mkdirs (const char *dir)
{
    char path[4096];
    if (snprintf (path, sizeof path, "%s", dir) >= (int) sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = path + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir (path, 0700) && errno != EEXIST)
                return -1;
            *p = '/';
        }
    if (mkdir (path, 0700) && errno != EEXIST)
        return -1;
    return 0;
}

int
mem_paths_check_dir (const char *dir, bool shared_ok, char *err, size_t err_size)
{
    struct stat st;
    //  A symlink planted by someone else (say in /tmp) could point anywhere
    //  of ours: only our own links are followed.
    if (lstat (dir, &st) == 0 && S_ISLNK (st.st_mode) && st.st_uid != geteuid ()) {
        snprintf (err, err_size, "run directory %s is a symbolic link of uid %u: use a run "
                                 "directory of your own (--run-dir)",
                  dir, (unsigned) st.st_uid);
        return -1;
    }
    if (stat (dir, &st)) {
        snprintf (err, err_size, "cannot use run directory %s: %s", dir, strerror (errno));
        return -1;
    }
    if (!S_ISDIR (st.st_mode)) {
        snprintf (err, err_size, "run directory %s is not a directory", dir);
        return -1;
    }
    if (st.st_uid != geteuid ()) {
        snprintf (err, err_size,
                  "run directory %s belongs to uid %u, not to memd's uid %u: use a run "
                  "directory of your own (--run-dir)",
                  dir, (unsigned) st.st_uid, (unsigned) geteuid ());
        return -1;
    }
    if ((st.st_mode & 077) && !shared_ok) {
        //  Refused, not fixed: a mode someone chose is theirs to change, and
        //  a socket that others could reach must not be served silently.
        snprintf (err, err_size,
                  "run directory %s has mode %04o: other users could reach memd's socket; "
                  "make it private (chmod 700 %s), or list the users memd should accept in "
                  "api/allow_uids",
                  dir, (unsigned) (st.st_mode & 07777), dir);
        return -1;
    }
    if ((st.st_mode & 002) && !(st.st_mode & S_ISVTX)) {
        snprintf (err, err_size,
                  "run directory %s is world-writable (mode %04o): anyone could replace "
                  "memd's socket; chmod o-w %s",
                  dir, (unsigned) (st.st_mode & 07777), dir);
        return -1;
    }
    if (st.st_mode & 077)
        mem_log_warn ("run directory %s has mode %04o: users other than uid %u can reach the "
                      "socket; only the uids in api/allow_uids are accepted",
                      dir, (unsigned) (st.st_mode & 07777), (unsigned) geteuid ());
    return 0;
}

int
mem_paths_claim_endpoint (const char *endpoint, bool shared_ok, char *err, size_t err_size)
{
    if (strncmp (endpoint, "ipc://", 6) != 0)
        return -2;
    const char *path = endpoint + 6;
    if (strlen (path) > MEM_IPC_PATH_MAX || !*path) {
        snprintf (err, err_size,
                  "ipc path '%s' is %zu bytes; unix sockets allow at most %d: "
                  "use a shorter --run-dir or --endpoint",
                  path, strlen (path), MEM_IPC_PATH_MAX);
        return -1;
    }
    char dir[4096];
    snprintf (dir, sizeof dir, "%s", path);
    char *slash = strrchr (dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        if (mem_paths_mkdirs (dir)) {
            snprintf (err, err_size, "cannot create run directory %s: %s", dir, strerror (errno));
            return -1;
        }
        if (mem_paths_check_dir (dir, shared_ok, err, err_size))
            return -1;
    }
    char lock[4200];
    snprintf (lock, sizeof lock, "%s.lock", path);
    int fd = open (lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf (err, err_size, "cannot open %s: %s", lock, strerror (errno));
        return -1;
    }
    if (flock (fd, LOCK_EX | LOCK_NB)) {
        char owner[32] = "";
        ssize_t n = pread (fd, owner, sizeof owner - 1, 0);
        owner[n > 0 ? n : 0] = 0;
        owner[strcspn (owner, "\n")] = 0;
        snprintf (err, err_size, "endpoint %s is in use by another memd (pid %s)", endpoint,
                  *owner ? owner : "unknown");
        close (fd);
        return -1;
    }
    char pid[32];
    int len = snprintf (pid, sizeof pid, "%d\n", (int) getpid ());
    if (ftruncate (fd, 0) || pwrite (fd, pid, (size_t) len, 0) != len) {
        //  Only the pid shown to a refused second memd is lost.
    }
    return fd;
}

void
mem_paths_release_endpoint (const char *endpoint, int fd)
{
    if (fd < 0)
        return;
    char lock[4200];
    snprintf (lock, sizeof lock, "%s.lock", endpoint + 6);
    unlink (lock);   //  while still holding it: nobody can take a lock on a file we remove
    close (fd);
}
