/*
 * src/notify.c: the systemd notification protocol (sd_notify(3)) without libsystemd. The whole
 * protocol is one datagram of "KEY=VALUE\n" lines to the unix socket named by $NOTIFY_SOCKET: a
 * path, or '@' for Linux's abstract namespace (the '@' becomes a NUL byte). Outside systemd the
 * variable is unset and every call is a no-op, so the server needs no flag to run either way.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "src/internal.h"

int fs_notify(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (path == NULL || path[0] == '\0')
        return 0;
    size_t len = strlen(path);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if ((path[0] != '/' && path[0] != '@') || len >= sizeof(addr.sun_path))
        return FS_EINVAL;
    memcpy(addr.sun_path, path, len);
    if (addr.sun_path[0] == '@')
        addr.sun_path[0] = '\0';
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return FS_EIO;
    socklen_t addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    ssize_t n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (const struct sockaddr *)&addr, addr_len);
    close(fd);
    return n == (ssize_t)strlen(state) ? 0 : FS_EIO;
}

int64_t fs_notify_watchdog_ms(void)
{
    const char *usec = getenv("WATCHDOG_USEC");
    if (usec == NULL)
        return 0;
    const char *pid = getenv("WATCHDOG_PID");
    if (pid != NULL && strtol(pid, NULL, 10) != (long)getpid())
        return 0; /* meant for another process (a wrapper that exec'd us would have kept its pid) */
    char *end;
    errno = 0;
    unsigned long long v = strtoull(usec, &end, 10);
    if (errno != 0 || end == usec || *end != '\0' || v == 0)
        return 0;
    return (int64_t)(v / 1000) > 0 ? (int64_t)(v / 1000) : 1;
}
