/*
 * tests/e2e/e2e_http_limits.c: the HTTP layer at its limits, against the real binary (argv[1]).
 *
 *   metrics, many sources   250 sources with 32-character names: /metrics lists every source's three gauges and every
 *                           line parses as `name{labels} value` (it used to stop at 64 KiB)
 *   big headers             request headers over 16 KiB in all: 431 with a JSON error, over
 *                           HTTP/1.1 and h2; 12 KiB is still answered 200
 *   write timeout           with FS_WRITE_TIMEOUT_MS=1000 and loaders held 3.5 s
 *                           (FS_TEST_LOADER_DELAY_MS), a push still gets its 200: waiting on a
 *                           loader is not a stalled client
 *                           and a client that never reads (200 pipelined /metrics, 14 MB) is
 *                           still cut after the timeout (a slow but steady reader is not:
 *                           e2e_slow_reader)
 *   private sources         with --private-sources, an anonymous search's "searched" and /metrics
 *                           name no source; a bearer token of scope * still sees the names
 *   404, invalid UTF-8      a path that decodes to bytes that are not UTF-8 is quoted as U+FFFD,
 *                           so the error stays valid JSON
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "tests/e2e/lib_server.h"
#include "tests/test.h"

/* The index holds at most FS_MAX_SOURCES (250) sources; names of the longest allowed length (32)
 * and a long sequence number make the text about 70 KiB, past the 64 KiB the text used to stop at. */
#define SOURCES 250
#define NAME_FMT "src%03d_long_name_to_the_limit_xx"
#define SEQUENCE 1234567890123456ull
#define SEQUENCE_TEXT "1234567890123456"

static const char *binary;

/* One line of Prometheus text: a comment, or `name{labels} value` / `name value` with a decimal
 * value. Written from the exposition format's grammar, not from the server's code. */
static int metric_line_ok(const char *s, size_t n)
{
    if (n > 0 && s[0] == '#')
        return 1;
    size_t i = 0;
    while (i < n && (s[i] == '_' || s[i] == ':' || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                     (i > 0 && s[i] >= '0' && s[i] <= '9')))
        i++;
    if (i == 0)
        return 0;
    if (i < n && s[i] == '{') {
        while (i < n && s[i] != '}')
            i++;
        if (i == n)
            return 0;
        i++;
    }
    if (i >= n || s[i] != ' ')
        return 0;
    i++;
    char num[64];
    if (n - i == 0 || n - i >= sizeof(num))
        return 0;
    memcpy(num, s + i, n - i);
    num[n - i] = '\0';
    if (strcmp(num, "+Inf") == 0)
        return 1;
    char *end;
    strtod(num, &end);
    return *end == '\0';
}

static void test_metrics_many_sources(e2e_client_t *client, const e2e_server_t *srv)
{
    char url[128];
    snprintf(url, sizeof(url), "%s/metrics", srv->url);
    e2e_response_t res;
    CHECK_EQ_INT(e2e_get(client, E2E_H1, url, NULL, &res), 0);
    CHECK_EQ_INT(res.status, 200);
    if (res.body == NULL) {
        e2e_response_free(&res);
        return;
    }
    /* every line parses, and the text ends with a newline (not cut mid-line) */
    unsigned bad = 0, lines = 0;
    for (const char *p = res.body; *p != '\0';) {
        const char *nl = strchr(p, '\n');
        if (nl == NULL) {
            bad++;
            fprintf(stderr, "  last line has no newline: %.80s\n", p);
            break;
        }
        if (!metric_line_ok(p, (size_t)(nl - p))) {
            if (bad++ < 3)
                fprintf(stderr, "  bad line: %.*s\n", (int)(nl - p), p);
        }
        lines++;
        p = nl + 1;
    }
    CHECK_EQ_INT(bad, 0);
    /* every source: legs 1, its sequence, and an age */
    unsigned missing = 0;
    for (int i = 0; i < SOURCES; i++) {
        char want[3][128];
        snprintf(want[0], sizeof(want[0]), "\nflightsearch_source_legs{source=\"" NAME_FMT "\"} 1\n", i);
        snprintf(want[1], sizeof(want[1]), "\nflightsearch_source_sequence{source=\"" NAME_FMT "\"} " SEQUENCE_TEXT "\n", i);
        snprintf(want[2], sizeof(want[2]), "\nflightsearch_source_age_seconds{source=\"" NAME_FMT "\"} ", i);
        for (int k = 0; k < 3; k++)
            if (strstr(res.body, want[k]) == NULL && missing++ < 3)
                fprintf(stderr, "  missing: %s", want[k] + 1);
    }
    CHECK_EQ_INT(missing, 0);
    /* and what follows the sources is still there */
    CHECK(strstr(res.body, "\nflightsearch_uptime_seconds ") != NULL);
    e2e_response_free(&res);
}

static void test_404_invalid_utf8(e2e_client_t *client, const e2e_server_t *srv)
{
    char url[128];
    snprintf(url, sizeof(url), "%s/caf%%E9%%FF", srv->url);
    e2e_response_t res;
    CHECK_EQ_INT(e2e_get(client, E2E_H1, url, NULL, &res), 0);
    CHECK_EQ_INT(res.status, 404);
    /* hand-worked: 0xE9 then 0xFF, neither starts a valid sequence: two U+FFFD escapes */
    CHECK(res.body != NULL && strstr(res.body, "no endpoint at /caf\\ufffd\\ufffd;") != NULL);
    int raw = 0;
    for (size_t i = 0; res.body != NULL && i < res.body_len; i++)
        raw |= (unsigned char)res.body[i] >= 0x80;
    CHECK_EQ_INT(raw, 0);
    if (res.body != NULL && strstr(res.body, "no endpoint at /caf\\ufffd\\ufffd;") == NULL)
        fprintf(stderr, "  body: %.200s\n", res.body);
    e2e_response_free(&res);
}

/* One GET of /healthz with an X-Pad header of pad bytes; returns the status. */
static long status_with_header(e2e_client_t *client, const e2e_server_t *srv, e2e_proto_t proto, size_t pad, char **body)
{
    char url[128];
    snprintf(url, sizeof(url), "%s/healthz", srv->url);
    char *header = malloc(pad + 16);
    if (header == NULL)
        return -1;
    memcpy(header, "X-Pad: ", 7);
    memset(header + 7, 'a', pad);
    header[7 + pad] = '\0';
    e2e_response_t res;
    long status = e2e_get(client, proto, url, header, &res) == 0 ? res.status : -1;
    if (body != NULL)
        *body = res.body != NULL ? strdup(res.body) : NULL;
    e2e_response_free(&res);
    free(header);
    return status;
}

static void test_big_headers(e2e_client_t *client, const e2e_server_t *srv)
{
    static const e2e_proto_t protos[] = {E2E_H1, E2E_H2};
    static const char *const names[] = {"HTTP/1.1", "h2"};
    for (int i = 0; i < 2; i++) {
        char *body = NULL;
        long st = status_with_header(client, srv, protos[i], 20 * 1024, &body);
        CHECK_EQ_INT(st, 431);
        CHECK(body != NULL && strstr(body, "\"request_headers_too_large\"") != NULL && strstr(body, "16 KiB") != NULL);
        if (st != 431)
            fprintf(stderr, "  %s, 20 KiB header: %ld %.200s\n", names[i], st, body ? body : "");
        free(body);
        CHECK_EQ_INT(status_with_header(client, srv, protos[i], 12 * 1024, NULL), 200);
    }
}

/* flightsearch_stalled_connections_closed_total from /metrics, or -1. */
static long stalled_closed(e2e_client_t *client, const e2e_server_t *srv)
{
    char url[128];
    snprintf(url, sizeof(url), "%s/metrics", srv->url);
    e2e_response_t res;
    long v = -1;
    if (e2e_get(client, E2E_H1, url, NULL, &res) == 0 && res.body != NULL) {
        const char *p = strstr(res.body, "\nflightsearch_stalled_connections_closed_total ");
        if (p != NULL)
            v = strtol(p + strlen("\nflightsearch_stalled_connections_closed_total "), NULL, 10);
    }
    e2e_response_free(&res);
    return v;
}

/* A client that asks for 200 large answers and reads none: cut after the 1 s write timeout. */
static void test_non_reader_is_cut(const e2e_server_t *srv)
{
    e2e_client_t client;
    e2e_client_init(&client);
    long before = stalled_closed(&client, srv);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)); /* before connect: a small window */
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)srv->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    static const char one[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    for (int i = 0; i < 200; i++)
        if (write(fd, one, sizeof(one) - 1) != (ssize_t)(sizeof(one) - 1))
            break;
    /* wait (bounded) for the server to count it: the check runs once a second */
    long after = before;
    for (int i = 0; i < 100 && after == before; i++) {
        usleep(100 * 1000);
        after = stalled_closed(&client, srv);
    }
    CHECK(before >= 0);
    CHECK_EQ_INT(after, before + 1);
    close(fd);
    e2e_client_free(&client);
}

#define PUSH_TOKEN "e2e-limits-0123456789abcdef"

/* A push whose loader takes 3.5 s, on a server whose write timeout is 1 s. */
static void test_push_outlives_write_timeout(const char *tmp)
{
    char data_dir[300], tokens[300];
    snprintf(data_dir, sizeof(data_dir), "%s/push-data", tmp);
    snprintf(tokens, sizeof(tokens), "%s/push-tokens", tmp);
    if (mkdir(data_dir, 0700) != 0 || e2e_write_file(tokens, PUSH_TOKEN " *\n", strlen(PUSH_TOKEN " *\n")) != 0) {
        CHECK(!"set up the push server");
        return;
    }
    setenv("FS_WRITE_TIMEOUT_MS", "1000", 1);
    setenv("FS_TEST_LOADER_DELAY_MS", "3500", 1);
    e2e_server_t srv;
    const char *const extra[] = {"--tokens", tokens, NULL};
    int started = e2e_server_start(&srv, binary, data_dir, extra);
    unsetenv("FS_WRITE_TIMEOUT_MS");
    unsetenv("FS_TEST_LOADER_DELAY_MS");
    if (started != 0) {
        CHECK(!"the push server starts");
        return;
    }
    static const e2e_leg_t leg = {"TP", 82, "GRU", "LIS", "2026-12-01T21:35:00-03:00", "2026-12-02T11:05:00+00:00",
                                  {[E2E_ECONOMY] = {1, 9, 35000, 12345, "BRL"}}};
    e2e_feed_t f = {"slowpush", 1, "2026-11-30T12:00:00Z", &leg, 1};
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init(&sbuf);
    e2e_feed_pack(&f, &sbuf);
    char url[160];
    snprintf(url, sizeof(url), "%s/v1/feeds/slowpush/snapshot", srv.url);
    const char *const headers[] = {"Authorization: Bearer " PUSH_TOKEN, "Content-Type: application/msgpack", NULL};
    e2e_client_t client;
    e2e_client_init(&client);
    e2e_response_t res;
    int rc = e2e_request(&client, E2E_H1, "PUT", url, headers, sbuf.data, sbuf.size, &res);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(res.status, 200);
    if (rc != 0 || res.status != 200)
        fprintf(stderr, "  push held 3.5 s by its loader, write timeout 1 s: rc %d status %ld %.200s\n", rc, res.status,
                res.body ? res.body : "");
    e2e_response_free(&res);
    e2e_client_free(&client);
    msgpack_sbuffer_destroy(&sbuf);
    e2e_server_stop(&srv);
}

/* --feed-listen: the public listener holds at most 64 KiB of body whoever sends it (h2o reads
 * a body before any handler can check a token), the feed address takes pushes up to
 * --max-feed-bytes, and a push sent to the public one is told where to go. */
static void test_feed_listener(const char *tmp)
{
    char data_dir[300], tokens[300];
    snprintf(data_dir, sizeof(data_dir), "%s/feedlisten-data", tmp);
    snprintf(tokens, sizeof(tokens), "%s/feedlisten-tokens", tmp);
    if (mkdir(data_dir, 0700) != 0 || e2e_write_file(tokens, PUSH_TOKEN " *\n", strlen(PUSH_TOKEN " *\n")) != 0) {
        CHECK(!"set up the feed-listen server");
        return;
    }
    unsigned feed_port = e2e_free_port();
    char feed_addr[64], feed_url[160], public_url[160];
    snprintf(feed_addr, sizeof(feed_addr), "127.0.0.1:%u", feed_port);
    e2e_server_t srv;
    const char *const extra[] = {"--tokens", tokens, "--feed-listen", feed_addr, NULL};
    if (e2e_server_start(&srv, binary, data_dir, extra) != 0) {
        CHECK(!"the server starts with --feed-listen");
        return;
    }
    snprintf(public_url, sizeof(public_url), "%s/v1/feeds/listened/snapshot", srv.url);
    snprintf(feed_url, sizeof(feed_url), "http://%s/v1/feeds/listened/snapshot", feed_addr);
    size_t big_len = 1024 * 1024;
    char *big = calloc(1, big_len);
    static const e2e_leg_t leg = {"TP", 82, "GRU", "LIS", "2026-12-01T21:35:00-03:00", "2026-12-02T11:05:00+00:00",
                                  {[E2E_ECONOMY] = {1, 9, 35000, 12345, "BRL"}}};
    e2e_feed_t f = {"listened", 1, "2026-11-30T12:00:00Z", &leg, 1};
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init(&sbuf);
    e2e_feed_pack(&f, &sbuf);
    const char *const anonymous[] = {"Content-Type: application/msgpack", NULL};
    const char *const authorised[] = {"Authorization: Bearer " PUSH_TOKEN, "Content-Type: application/msgpack", NULL};
    e2e_client_t client;
    e2e_client_init(&client);
    e2e_response_t res;
    /* 1 MB without a token: refused by the body limit on the public address, read and then refused
     * by the token check on the feed address */
    CHECK(big != NULL && e2e_request(&client, E2E_H1, "PUT", public_url, anonymous, big, big_len, &res) == 0);
    CHECK_EQ_INT(res.status, 413);
    e2e_response_free(&res);
    CHECK(big != NULL && e2e_request(&client, E2E_H1, "PUT", feed_url, anonymous, big, big_len, &res) == 0);
    CHECK_EQ_INT(res.status, 401);
    e2e_response_free(&res);
    /* a valid push: misdirected on the public address, applied on the feed address */
    CHECK(e2e_request(&client, E2E_H1, "PUT", public_url, authorised, sbuf.data, sbuf.size, &res) == 0);
    CHECK_EQ_INT(res.status, 421);
    CHECK(res.body != NULL && strstr(res.body, "use_feed_listener") != NULL && strstr(res.body, feed_addr) != NULL);
    e2e_response_free(&res);
    CHECK(e2e_request(&client, E2E_H1, "PUT", feed_url, authorised, sbuf.data, sbuf.size, &res) == 0);
    CHECK_EQ_INT(res.status, 200);
    e2e_response_free(&res);
    /* and searches on the public address see it */
    char search[200];
    snprintf(search, sizeof(search), "%s/v1/search?origin=GRU&destination=LIS&date=2026-12-01", srv.url);
    CHECK(e2e_get(&client, E2E_H1, search, NULL, &res) == 0);
    CHECK_EQ_INT(res.status, 200);
    CHECK(res.body != NULL && strstr(res.body, "\"count\":1") != NULL);
    if (res.body == NULL || strstr(res.body, "\"count\":1") == NULL)
        fprintf(stderr, "  search after a push on the feed address: %.300s\n", res.body ? res.body : "");
    e2e_response_free(&res);
    e2e_client_free(&client);
    msgpack_sbuffer_destroy(&sbuf);
    free(big);
    CHECK_EQ_INT(e2e_server_stop(&srv), 0);
}

/* --private-sources: the names of the two sources, secretalpha and secretbeta, reach only scope *
 * through "searched" and /metrics. */
static void test_private_sources(const char *tmp)
{
    char data_dir[300], tokens[300], path[400];
    snprintf(data_dir, sizeof(data_dir), "%s/private-data", tmp);
    snprintf(tokens, sizeof(tokens), "%s/private-tokens", tmp);
    static const char token_text[] = PUSH_TOKEN " *\n"
                                     "scoped-0123456789abcdef secretalpha\n";
    if (mkdir(data_dir, 0700) != 0 || e2e_write_file(tokens, token_text, strlen(token_text)) != 0) {
        CHECK(!"set up the private server");
        return;
    }
    static const e2e_leg_t leg = {"TP", 82, "GRU", "LIS", "2026-12-01T21:35:00-03:00", "2026-12-02T11:05:00+00:00",
                                  {[E2E_ECONOMY] = {1, 9, 35000, 12345, "BRL"}}};
    static const char *const names[] = {"secretalpha", "secretbeta"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s/%s.msgpack", data_dir, names[i]);
        e2e_feed_t f = {names[i], 3, "2026-11-30T12:00:00Z", &leg, 1};
        if (e2e_feed_write_msgpack(path, &f) != 0)
            CHECK(!"write a snapshot");
    }
    e2e_server_t srv;
    const char *const extra[] = {"--tokens", tokens, "--private-sources", NULL};
    if (e2e_server_start(&srv, binary, data_dir, extra) != 0) {
        CHECK(!"the server starts with --private-sources");
        return;
    }
    e2e_client_t client;
    e2e_client_init(&client);
    static const char *const paths[] = {"/v1/search?origin=GRU&destination=LIS&date=2026-12-01", "/metrics"};
    /* anonymous, and a token whose scope is one source: no names; scope *: both names */
    static const char *const auth[] = {NULL, "Authorization: Bearer scoped-0123456789abcdef", "Authorization: Bearer " PUSH_TOKEN};
    for (int p = 0; p < 2; p++) {
        for (int a = 0; a < 3; a++) {
            char url[200];
            snprintf(url, sizeof(url), "%s%s", srv.url, paths[p]);
            e2e_response_t res;
            CHECK_EQ_INT(e2e_get(&client, E2E_H1, url, auth[a], &res), 0);
            CHECK_EQ_INT(res.status, 200);
            /* search results name the source of each leg they return (their ids carry it): only
             * "searched", which lists every source consulted, is checked there */
            const char *part = res.body == NULL ? NULL : p == 0 ? strstr(res.body, "\"searched\":[") : res.body;
            int names_seen = part != NULL && strstr(part, "secret") != NULL;
            int want = a == 2;
            CHECK_EQ_INT(names_seen, want);
            if (names_seen != want)
                fprintf(stderr, "  %s with %s: %.300s\n", paths[p], auth[a] ? auth[a] : "no token", res.body ? res.body : "");
            /* the search still answers, and the metrics still count the legs: 2 sources x 1 leg */
            if (p == 0)
                CHECK(res.body != NULL && strstr(res.body, "\"searched\":[") != NULL);
            else
                CHECK(res.body != NULL && strstr(res.body, "\nflightsearch_legs 2\n") != NULL);
            e2e_response_free(&res);
        }
    }
    /* the two documents differ, so their ETags must too: an anonymous revalidation must not be told
     * that the named version it never saw is current */
    char url[200], etag[2][128] = {"", ""};
    snprintf(url, sizeof(url), "%s%s", srv.url, paths[0]);
    for (int a = 0; a < 2; a++) {
        e2e_response_t res;
        if (e2e_get(&client, E2E_H1, url, a == 0 ? NULL : auth[2], &res) == 0 && e2e_header(&res, "ETag") != NULL)
            snprintf(etag[a], sizeof(etag[a]), "%s", e2e_header(&res, "ETag"));
        e2e_response_free(&res);
    }
    CHECK(etag[0][0] != '\0' && etag[1][0] != '\0' && strcmp(etag[0], etag[1]) != 0);
    if (strcmp(etag[0], etag[1]) == 0)
        fprintf(stderr, "  anonymous and scope-* searches share the ETag %s\n", etag[0]);
    e2e_client_free(&client);
    e2e_server_stop(&srv);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FLIGHTSEARCH\n", argv[0]);
        return 2;
    }
    binary = argv[1];
    e2e_http_init();
    char tmp[256], data_dir[300];
    if (e2e_tmpdir(tmp, sizeof(tmp)) != 0) {
        CHECK(!"tmpdir");
        TEST_DONE();
    }
    snprintf(data_dir, sizeof(data_dir), "%s/data", tmp);
    if (mkdir(data_dir, 0700) != 0)
        CHECK(!"mkdir the data dir");
    static const e2e_leg_t leg = {"TP", 82, "GRU", "LIS", "2026-12-01T21:35:00-03:00", "2026-12-02T11:05:00+00:00",
                                  {[E2E_ECONOMY] = {1, 9, 35000, 12345, "BRL"}}};
    for (int i = 0; i < SOURCES; i++) {
        char name[40], path[400];
        snprintf(name, sizeof(name), NAME_FMT, i);
        snprintf(path, sizeof(path), "%s/%s.msgpack", data_dir, name);
        e2e_feed_t f = {name, SEQUENCE, "2026-11-30T12:00:00Z", &leg, 1};
        if (e2e_feed_write_msgpack(path, &f) != 0)
            CHECK(!"write a snapshot");
    }
    e2e_server_t srv;
    setenv("FS_WRITE_TIMEOUT_MS", "1000", 1);
    int started = e2e_server_start(&srv, binary, data_dir, NULL);
    unsetenv("FS_WRITE_TIMEOUT_MS");
    if (started != 0) {
        CHECK(!"the server starts with 250 sources");
        e2e_rmtree(tmp);
        TEST_DONE();
    }
    e2e_client_t client;
    e2e_client_init(&client);
    test_metrics_many_sources(&client, &srv);
    test_404_invalid_utf8(&client, &srv);
    test_big_headers(&client, &srv);
    test_non_reader_is_cut(&srv);
    e2e_client_free(&client);
    e2e_server_stop(&srv);
    test_push_outlives_write_timeout(tmp);
    test_feed_listener(tmp);
    test_private_sources(tmp);
    e2e_rmtree(tmp);
    TEST_DONE();
}
