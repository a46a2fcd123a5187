/*
 * tests/e2e/e2e_slow_reader.c: the write timeout against a client that reads slowly but steadily,
 * on the real binary (argv[1]) started with FS_WRITE_TIMEOUT_MS=1000.
 *
 * One answer alone cannot show it: the largest the API gives (500 results, ~300 KB) fits in the
 * kernel's send buffer, which Linux grows to tcp_wmem's maximum (4 MB) whatever the reader's
 * window, so libh2o finishes writing it at once. HTTP/1.1 pipelining can: libh2o answers
 * pipelined requests one after another, so a connection that pipelines more 500-result searches
 * than the largest send buffer holds leaves the server blocked inside one answer until the
 * client has read a good part of the buffer. Read at 64 KB/s through a 4 KB window, no answer
 * completes for seconds while the client keeps acknowledging bytes.
 *
 *   slow steady reader   the connection is not cut: every pipelined answer arrives whole (status
 *                        200, its Content-Length in bytes, 500 results) and
 *                        flightsearch_stalled_connections_closed_total does not move. The rule
 *                        before fb57eff ("progress" = an answer completed) cut it about a second
 *                        into the slow phase (9 of 35 answers arrived, then end of stream).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "tests/e2e/lib_server.h"
#include "tests/test.h"

/* 30 days x 5 flights x 4 cabins = 600 results match the query: a full page of 500. */
#define DAYS 30
#define FLIGHTS_PER_DAY 5
#define QUERY "/v1/search?origin=GRU&destination=LIS&start_date=2026-12-01&end_date=2026-12-30&limit=500"
#define PAGE "\"count\":500,"

#define SLOW_MS 5000
#define SLOW_BYTES_PER_S (64 * 1024)
#define FAST_DEADLINE_MS 20000
#define MAX_REQUESTS 100

static const char *binary;

/* flightsearch_stalled_connections_closed_total from /metrics, or -1. */
static long stalled_closed(e2e_client_t *client, const e2e_server_t *srv)
{
    static const char name[] = "\nflightsearch_stalled_connections_closed_total ";
    char url[128];
    snprintf(url, sizeof(url), "%s/metrics", srv->url);
    e2e_response_t res;
    long v = -1;
    if (e2e_get(client, E2E_H1, url, NULL, &res) == 0 && res.body != NULL) {
        const char *p = strstr(res.body, name);
        if (p != NULL)
            v = strtol(p + strlen(name), NULL, 10);
    }
    e2e_response_free(&res);
    return v;
}

/* The most a TCP send buffer can grow to here: tcp_wmem's maximum (autotuning), or twice
 * wmem_max (what an explicit SO_SNDBUF may reach), whichever is larger; 0 when unreadable. */
static long send_buffer_max(void)
{
    long wmem[3] = {0, 0, 0}, core = 0;
    FILE *f = fopen("/proc/sys/net/ipv4/tcp_wmem", "r");
    if (f != NULL) {
        if (fscanf(f, "%ld %ld %ld", &wmem[0], &wmem[1], &wmem[2]) != 3)
            wmem[2] = 0;
        fclose(f);
    }
    f = fopen("/proc/sys/net/core/wmem_max", "r");
    if (f != NULL) {
        if (fscanf(f, "%ld", &core) != 1)
            core = 0;
        fclose(f);
    }
    return wmem[2] > 2 * core ? wmem[2] : 2 * core;
}

static int write_dense_feed(const char *path)
{
    static e2e_leg_t legs[DAYS * FLIGHTS_PER_DAY];
    static char times[DAYS * FLIGHTS_PER_DAY][2][32];
    size_t n = 0;
    for (int d = 0; d < DAYS; d++) {
        for (int k = 0; k < FLIGHTS_PER_DAY; k++, n++) {
            /* departs 2026-12-(d+1) at 08:00 + 2k h in Sao Paulo, lands 10 h later in Lisbon */
            snprintf(times[n][0], sizeof(times[n][0]), "2026-12-%02dT%02d:00:00-03:00", d + 1, 8 + 2 * k);
            snprintf(times[n][1], sizeof(times[n][1]), "2026-12-%02dT%02d:00:00+00:00", d + 2, 2 * k);
            e2e_leg_t leg = {"TP", (unsigned)(100 + k), "GRU", "LIS", times[n][0], times[n][1],
                             {[E2E_ECONOMY] = {1, 9, 35000, 12345, "BRL"},
                              [E2E_PREMIUM] = {1, 4, 52000, 12345, "BRL"},
                              [E2E_BUSINESS] = {1, 2, 90000, 23456, "BRL"},
                              [E2E_FIRST] = {1, 1, 140000, 34567, "BRL"}}};
            legs[n] = leg;
        }
    }
    e2e_feed_t f = {"dense", 1, "2026-11-30T12:00:00Z", legs, n};
    return e2e_feed_write_msgpack(path, &f);
}

/* The received bytes read as HTTP/1.1 responses, one after another. */
typedef struct responses {
    size_t at;         /* where the first response not yet complete begins */
    unsigned complete; /* head and Content-Length bytes of body received */
    unsigned bad;      /* complete, but not a 200 carrying a full page */
    int unframed;      /* a head without Content-Length: nothing after it can be read */
} responses_t;

/* Counts the responses completed in buf[0, len) since the last call. */
static void parse_responses(responses_t *rs, const char *buf, size_t len)
{
    while (!rs->unframed && rs->at < len) {
        const char *head = buf + rs->at;
        const char *end = memmem(head, len - rs->at, "\r\n\r\n", 4);
        if (end == NULL)
            return;
        size_t head_len = (size_t)(end - head) + 4;
        long body_len = -1;
        for (const char *p = head; p < end;) {
            const char *nl = memmem(p, (size_t)(end - p), "\r\n", 2);
            const char *line_end = nl != NULL ? nl : end;
            if ((size_t)(line_end - p) > 15 && strncasecmp(p, "content-length:", 15) == 0)
                body_len = strtol(p + 15, NULL, 10);
            p = line_end + 2;
        }
        if (body_len <= 0) {
            fprintf(stderr, "  response %u has no Content-Length: %.*s\n", rs->complete, (int)head_len, head);
            rs->unframed = 1;
            return;
        }
        if (len - rs->at - head_len < (size_t)body_len)
            return;
        const char *body = head + head_len;
        if (strncmp(head, "HTTP/1.1 200 ", 13) != 0 || memmem(body, (size_t)body_len, PAGE, strlen(PAGE)) == NULL ||
            body[body_len - 1] != '}') {
            if (rs->bad++ < 3)
                fprintf(stderr, "  response %u: %.40s ... %.60s\n", rs->complete, head, body);
        }
        rs->complete++;
        rs->at += head_len + (size_t)body_len;
    }
}

typedef struct received {
    char *data;
    size_t len, cap;
    int closed; /* EOF or a reset: the server cut the connection */
    int error;  /* errno of the reset, 0 for EOF */
} received_t;

/* One recv of at most max bytes, without blocking; grows r. */
static void receive_some(int fd, received_t *r, size_t max)
{
    if (r->cap - r->len < max) {
        size_t cap = r->cap * 2 > r->len + max ? r->cap * 2 : r->len + max;
        char *p = realloc(r->data, cap);
        if (p == NULL)
            return;
        r->data = p;
        r->cap = cap;
    }
    ssize_t got = recv(fd, r->data + r->len, max, MSG_DONTWAIT);
    if (got > 0) {
        r->len += (size_t)got;
    } else if (got == 0) {
        r->closed = 1;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        r->closed = 1;
        r->error = errno;
    }
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void test_slow_steady_reader(const e2e_server_t *srv)
{
    e2e_client_t client;
    e2e_client_init(&client);
    /* one answer on its own, to size the pipeline */
    char url[256];
    snprintf(url, sizeof(url), "%s" QUERY, srv->url);
    e2e_response_t res;
    CHECK_EQ_INT(e2e_get(&client, E2E_H1, url, NULL, &res), 0);
    CHECK_EQ_INT(res.status, 200);
    CHECK(res.body != NULL && strstr(res.body, PAGE) != NULL);
    size_t answer = res.body != NULL ? res.body_len : 0;
    e2e_response_free(&res);
    long buffer = send_buffer_max();
    CHECK(answer > 100000 && buffer > 0);
    if (answer <= 100000 || buffer <= 0) {
        e2e_client_free(&client);
        return;
    }
    /* enough answers to fill the server's send buffer, plus what the slow phase reads, plus 1 MB */
    size_t requests = ((size_t)buffer + (size_t)SLOW_BYTES_PER_S * SLOW_MS / 1000 + 1024 * 1024) / answer + 1;
    CHECK(requests <= MAX_REQUESTS);
    if (requests > MAX_REQUESTS) {
        fprintf(stderr, "  a send buffer of %ld bytes needs %zu answers of %zu bytes\n", buffer, requests, answer);
        e2e_client_free(&client);
        return;
    }
    long before = stalled_closed(&client, srv);
    CHECK(before >= 0);

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)); /* before connect: a small window */
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)srv->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    static const char one[] = "GET " QUERY " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    size_t sent = 0;
    for (size_t i = 0; i < requests; i++)
        if (write(fd, one, sizeof(one) - 1) == (ssize_t)(sizeof(one) - 1))
            sent++;
    CHECK_EQ_INT(sent, requests);

    /* slow phase: at most SLOW_BYTES_PER_S, a little every 20 ms */
    received_t r = {NULL, 0, 0, 0, 0};
    int64_t start = e2e_now_ms(), now;
    while (!r.closed && (now = e2e_now_ms()) - start < SLOW_MS) {
        size_t allowed = (size_t)((now - start) * SLOW_BYTES_PER_S / 1000);
        if (allowed > r.len)
            receive_some(fd, &r, allowed - r.len);
        sleep_ms(20);
    }
    size_t slow_bytes = r.len;
    /* then as fast as the answers come, until all of them are in (or the connection ends) */
    responses_t rs = {0, 0, 0, 0};
    int64_t deadline = e2e_now_ms() + FAST_DEADLINE_MS;
    for (;;) {
        parse_responses(&rs, r.data, r.len);
        if (r.closed || rs.unframed || rs.complete >= requests || e2e_now_ms() >= deadline)
            break;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 100) > 0)
            receive_some(fd, &r, 1024 * 1024);
    }
    close(fd);

    CHECK_EQ_INT(r.closed, 0);
    CHECK_EQ_INT(rs.complete, requests);
    CHECK_EQ_INT(rs.bad, 0);
    CHECK_EQ_INT(rs.unframed, 0);
    if (r.closed || rs.complete != requests)
        fprintf(stderr,
                "  %zu pipelined answers of ~%zu bytes, read at %d B/s for %d ms (%zu bytes) then at full speed: "
                "%u complete, %zu bytes in all, %s%s\n",
                requests, answer, SLOW_BYTES_PER_S, SLOW_MS, slow_bytes, rs.complete, r.len,
                !r.closed ? "connection still open" : r.error != 0 ? "then the connection was reset: " : "then end of stream",
                r.error != 0 ? strerror(r.error) : "");
    long after = stalled_closed(&client, srv);
    CHECK_EQ_INT(after, before);
    free(r.data);
    e2e_client_free(&client);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FLIGHTSEARCH\n", argv[0]);
        return 2;
    }
    binary = argv[1];
    e2e_http_init();
    char tmp[256], data_dir[300], feed[400];
    if (e2e_tmpdir(tmp, sizeof(tmp)) != 0) {
        CHECK(!"tmpdir");
        TEST_DONE();
    }
    snprintf(data_dir, sizeof(data_dir), "%s/data", tmp);
    snprintf(feed, sizeof(feed), "%s/dense.msgpack", data_dir);
    if (mkdir(data_dir, 0700) != 0 || write_dense_feed(feed) != 0) {
        CHECK(!"write the dense feed");
        e2e_rmtree(tmp);
        TEST_DONE();
    }
    /* a search budget far above the default 50 ms: under ASan on a busy machine a 500-result
     * answer must still be a 200, never a 503 that would end the page early */
    const char *const extra[] = {"--search-budget-ms", "10000", NULL};
    e2e_server_t srv;
    setenv("FS_WRITE_TIMEOUT_MS", "1000", 1);
    int started = e2e_server_start(&srv, binary, data_dir, extra);
    unsetenv("FS_WRITE_TIMEOUT_MS");
    if (started != 0) {
        CHECK(!"the server starts");
        e2e_rmtree(tmp);
        TEST_DONE();
    }
    test_slow_steady_reader(&srv);
    CHECK_EQ_INT(e2e_server_stop(&srv), 0);
    e2e_rmtree(tmp);
    TEST_DONE();
}
