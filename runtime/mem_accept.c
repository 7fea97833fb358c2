/*  mem_accept — memd survives running out of file descriptors.

    libzmq 4.3 (Debian's 4.3.4) aborts the whole process when its ipc
    listener's accept4 fails with EMFILE: src/ipc_listener.cpp asserts that
    errno is one of EAGAIN, EINTR, ECONNABORTED, EPROTO or ENFILE, and
    EMFILE is not in the list ("Too many open files
    (src/ipc_listener.cpp:325)", then SIGABRT). So one client connection
    too many killed memd.

    memd therefore defines accept4 (and accept) itself. A definition in the
    executable interposes on libc's, so libzmq's calls land here. When the
    process is out of descriptors, this frees a spare descriptor kept for
    the purpose, accepts the waiting connection and closes it at once (the
    client sees it drop; its ZeroMQ socket reconnects later and its call
    times out as UNAVAILABLE if memd is still full), takes the spare back,
    and reports ECONNABORTED, which libzmq treats as a connection that went
    away. Taking the connection off the backlog also keeps libzmq's
    listener from spinning on a socket that stays readable. Connections
    already accepted are served as before, and new ones are accepted again
    as soon as descriptors are free.

    Linked into the memd executable only (not into libmemd_core), because an
    archive member that nothing references is never linked in.
*/
#include "mem_log.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static int s_spare = -1;            //  a descriptor to give up when none is left
static unsigned long s_dropped;     //  connections closed for want of a descriptor

__attribute__ ((constructor)) static void
s_reserve (void)
{
    s_spare = open ("/dev/null", O_RDONLY | O_CLOEXEC);
}

//  Out of descriptors: takes the waiting connection off the backlog with
//  the spare descriptor, closes it, and tells libzmq it went away.
static int
s_drop_one (int fd)
{
    int saved = errno;
    pthread_mutex_lock (&s_lock);
    if (s_spare >= 0) {
        close (s_spare);
        s_spare = -1;
    }
    int conn = (int) syscall (SYS_accept4, fd, NULL, NULL, SOCK_CLOEXEC);
    if (conn >= 0) {
        close (conn);
        s_dropped++;
    }
    s_spare = open ("/dev/null", O_RDONLY | O_CLOEXEC);
    unsigned long dropped = s_dropped;
    pthread_mutex_unlock (&s_lock);
    //  The first, then at every power of two: a storm is a few lines.
    if (conn >= 0 && (dropped & (dropped - 1)) == 0)
        mem_log_warn ("out of file descriptors (%s): closed a new client connection "
                      "(%lu so far); connections already open are still served",
                      saved == EMFILE ? "EMFILE" : "ENFILE", dropped);
    errno = ECONNABORTED;
    return -1;
}

int
accept4 (int fd, struct sockaddr *addr, socklen_t *addr_len, int flags)
{
    int rc = (int) syscall (SYS_accept4, fd, addr, addr_len, flags);
    if (rc < 0 && (errno == EMFILE || errno == ENFILE))
        return s_drop_one (fd);
    return rc;
}

int
accept (int fd, struct sockaddr *addr, socklen_t *addr_len)
{
    return accept4 (fd, addr, addr_len, 0);
}
