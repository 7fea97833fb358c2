/*  mem_notify — tells a service manager how memd is doing (systemd's
    Type=notify protocol, without libsystemd).

    When memd runs under systemd with Type=notify, $NOTIFY_SOCKET names a
    datagram socket (a path, or an abstract name written with a leading
    '@'); memd sends "READY=1" once it serves and "STOPPING=1" when it
    begins to stop, so `systemctl --user start memd` returns when memd can
    take requests. Without $NOTIFY_SOCKET nothing is sent. Best effort: a
    failed notification is logged and never stops memd.
*/
#ifndef MEM_NOTIFY_H_INCLUDED
#define MEM_NOTIFY_H_INCLUDED

/* Sends state ("READY=1", "STOPPING=1", "STATUS=…", several joined by
   newlines) to $NOTIFY_SOCKET. Returns 1 if sent, 0 if there is no
   $NOTIFY_SOCKET, -1 on failure. */
int mem_notify (const char *state);

#endif
