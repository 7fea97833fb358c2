/*  mem_notify — sd_notify's protocol in a few lines; see mem_notify.h. */
#include "mem_notify.h"
#include "mem_log.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int
mem_notify (const char *state)
{
    const char *name = getenv ("NOTIFY_SOCKET");
    if (!name || !*name)
        return 0;
    struct sockaddr_un addr;
    memset (&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    size_t len = strlen (name);
    if ((name[0] != '/' && name[0] != '@') || len >= sizeof addr.sun_path) {
        mem_log_warn ("NOTIFY_SOCKET '%s' is not a unix socket path; not notifying", name);
        return -1;
    }
    memcpy (addr.sun_path, name, len);
    if (name[0] == '@')
        addr.sun_path[0] = 0;   //  an abstract socket
    int fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        mem_log_warn ("cannot notify the service manager: %s", strerror (errno));
        return -1;
    }
    socklen_t addr_len = (socklen_t) (offsetof (struct sockaddr_un, sun_path) + len);
    ssize_t sent = sendto (fd, state, strlen (state), MSG_NOSIGNAL, (struct sockaddr *) &addr,
                           addr_len);
    int error = errno;
    close (fd);
    if (sent < 0) {
        mem_log_warn ("cannot notify the service manager at %s: %s", name, strerror (error));
        return -1;
    }
    return 1;
}
