/*
 * tests/e2e/e2e_systemd.c: the systemd notification protocol of the real binary (argv[1]),
 * against a datagram socket this test owns in place of systemd's.
 *
 *   ready      READY=1 arrives only once /readyz answers 200: while the data dir is restored
 *              (held 2 s by FS_TEST_RESTORE_DELAY_MS) /readyz is 503 and nothing has arrived;
 *              right after READY=1 arrives, /readyz is 200
 *   watchdog   with WATCHDOG_USEC set, WATCHDOG=1 arrives (pings at half the period)
 *   abstract   NOTIFY_SOCKET=@name (Linux's abstract namespace) works too
 *   stopping   SIGTERM sends STOPPING=1 before the drain
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "tests/e2e/lib_server.h"
#include "tests/test.h"

static const char *binary;

/* Binds a datagram socket at path (a leading '@' means the abstract namespace). -1 on error. */
static int notify_socket(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    if (len >= sizeof(addr.sun_path))
        return -1;
    memcpy(addr.sun_path, path, len);
    if (path[0] == '@')
        addr.sun_path[0] = '\0';
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) != 0) {
        fprintf(stderr, "  cannot bind %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* The next datagram within timeout_ms (0: only one already queued) into buf; its length or -1. */
static ssize_t next_message(int fd, char *buf, size_t cap, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) <= 0)
        return -1;
    ssize_t n = recv(fd, buf, cap - 1, 0);
    if (n >= 0)
        buf[n] = '\0';
    return n;
}

/* Whether one of the message's lines is exactly line. */
static int has_line(const char *msg, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = msg; p != NULL && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
            return 1;
    return 0;
}

/* Waits up to timeout_ms for a message carrying line. */
static int wait_for(int fd, const char *line, int timeout_ms)
{
    char buf[512];
    int64_t deadline = e2e_now_ms() + timeout_ms;
    while (e2e_now_ms() < deadline) {
        if (next_message(fd, buf, sizeof(buf), (int)(deadline - e2e_now_ms())) >= 0 && has_line(buf, line))
            return 1;
    }
    return 0;
}

static long readyz(e2e_client_t *c, const char *url)
{
    char u[128];
    snprintf(u, sizeof(u), "%s/readyz", url);
    e2e_response_t res;
    long status = e2e_get(c, E2E_H1, u, NULL, &res) == 0 ? res.status : 0;
    e2e_response_free(&res);
    return status;
}

static void test_ready_and_watchdog(const char *tmp)
{
    char path[300], data[300];
    snprintf(path, sizeof(path), "%s/notify", tmp);
    snprintf(data, sizeof(data), "%s/data", tmp);
    int fd = notify_socket(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    setenv("NOTIFY_SOCKET", path, 1);
    setenv("WATCHDOG_USEC", "2000000", 1); /* pings every second */
    unsetenv("WATCHDOG_PID");
    setenv("FS_TEST_RESTORE_DELAY_MS", "2000", 1);
    e2e_server_t s;
    int started = e2e_server_spawn(&s, binary, data, NULL) == 0;
    unsetenv("FS_TEST_RESTORE_DELAY_MS");
    CHECK(started);
    if (!started) {
        close(fd);
        return;
    }
    e2e_client_t c;
    e2e_client_init(&c);
    int saw_loading = 0, ready = 0, watchdog_early = 0;
    int64_t deadline = e2e_now_ms() + 15000;
    while (!ready && e2e_now_ms() < deadline) {
        /* first what has arrived, then /readyz: a READY=1 already here means /readyz must be 200 */
        char buf[512];
        while (next_message(fd, buf, sizeof(buf), 0) >= 0) {
            ready |= has_line(buf, "READY=1");
            watchdog_early |= has_line(buf, "WATCHDOG=1");
        }
        long status = readyz(&c, s.url);
        if (ready) {
            CHECK_EQ_INT(status, 200);
            break;
        }
        if (status == 503)
            saw_loading = 1; /* restoring, and no READY=1 sent before this answer */
        usleep(20 * 1000);
    }
    CHECK(ready);
    CHECK(saw_loading);
    CHECK(watchdog_early || wait_for(fd, "WATCHDOG=1", 10000));
    e2e_server_signal(&s, SIGTERM);
    CHECK(wait_for(fd, "STOPPING=1", 10000));
    CHECK_EQ_INT(e2e_server_stop(&s), 0);
    e2e_client_free(&c);
    close(fd);
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
}

static void test_abstract_socket(const char *tmp)
{
    char name[64], data[300];
    snprintf(name, sizeof(name), "@fs-e2e-notify-%d", (int)getpid());
    snprintf(data, sizeof(data), "%s/data2", tmp);
    int fd = notify_socket(name);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    setenv("NOTIFY_SOCKET", name, 1);
    e2e_server_t s;
    int started = e2e_server_start(&s, binary, data, NULL) == 0;
    CHECK(started);
    if (started) {
        CHECK(wait_for(fd, "READY=1", 10000));
        CHECK_EQ_INT(e2e_server_stop(&s), 0);
    }
    unsetenv("NOTIFY_SOCKET");
    close(fd);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FLIGHTSEARCH_BINARY\n", argv[0]);
        return 2;
    }
    binary = argv[1];
    e2e_http_init();
    char tmp[256];
    if (e2e_tmpdir(tmp, sizeof(tmp)) != 0)
        return 1;
    test_ready_and_watchdog(tmp);
    test_abstract_socket(tmp);
    e2e_rmtree(tmp);
    TEST_DONE();
}
