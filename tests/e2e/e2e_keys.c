/*
 * tests/e2e/e2e_keys.c: API keys (--keys) on the real binary.
 *
 *   gate       every /v1 read needs a known key (401 naming the Authorization header, with
 *              WWW-Authenticate: Bearer); /healthz, /readyz, /metrics, /openapi.json stay open;
 *              feed tokens keep their own gate on /v1/feeds and a key is not one of them
 *   rate       rate=1/s burst=3: three requests pass, the next quick one is 429 with Retry-After
 *              and the RateLimit-* headers (also on the 200s, over HTTP/1.1 and h2)
 *   metrics    flightsearch_key_requests_total by name and status, equal to what the test sent;
 *              the keys themselves never appear
 *   reload     SIGHUP adds a key; a broken or group-readable file keeps the keys in force
 *   open       without --keys the reads answer without a key and without RateLimit-* headers;
 *              a group-readable keys file stops the start-up
 *
 * The only time this relies on is the bucket's own arithmetic: with one token per second, the
 * requests a key gets through between its first and last request are at most burst + the whole
 * seconds in between, and the test measures that span from outside (an upper bound of the server's).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/e2e/lib_server.h"
#include "tests/test.h"

#define KEY_A "alpha-key-0123456789abcdef"
#define KEY_B "beta-key-0123456789abcdef"
#define KEY_C "gamma-key-0123456789abcdef"
#define TOKEN "feed-token-0123456789abcdef"
#define ROUTES "/v1/routes?origin=GRU"

static const char *binary;
static char dir[64], keys_path[128], tokens_path[128];
static e2e_server_t srv;
static e2e_client_t client;

static int write_keys(const char *text)
{
    int rc = e2e_write_file(keys_path, text, strlen(text));
    chmod(keys_path, 0600);
    return rc;
}

/* GET path with an optional Authorization value (NULL: none). */
static void get(e2e_proto_t proto, const char *path, const char *authorization, e2e_response_t *res)
{
    char url[256], header[200];
    snprintf(url, sizeof(url), "%s%s", srv.url, path);
    if (authorization != NULL)
        snprintf(header, sizeof(header), "Authorization: %s", authorization);
    if (e2e_get(&client, proto, url, authorization != NULL ? header : NULL, res) != 0)
        fprintf(stderr, "  GET %s: %s\n", path, res->error);
}

static long header_long(const e2e_response_t *res, const char *name)
{
    const char *v = e2e_header(res, name);
    if (v == NULL)
        return -1;
    char *end;
    long n = strtol(v, &end, 10);
    return end != v && *end == '\0' ? n : -2;
}

/* A 401 of the gate: the error code, a message naming the header, the challenge. */
static void check_401(const char *what, const e2e_response_t *res)
{
    CHECK_EQ_INT(res->status, 401);
    int ok = res->body != NULL && strstr(res->body, "\"code\":\"unauthorized\"") != NULL &&
             strstr(res->body, "Authorization") != NULL;
    CHECK(ok);
    const char *challenge = e2e_header(res, "WWW-Authenticate");
    CHECK(challenge != NULL && strncmp(challenge, "Bearer", 6) == 0);
    CHECK(e2e_header(res, "RateLimit-Limit") == NULL);
    if (res->status != 401 || !ok || challenge == NULL)
        fprintf(stderr, "  %s: status %ld body %s\n", what, res->status, res->body ? res->body : "");
}

static void test_gate(void)
{
    static const char *const reads[] = {"/v1/search?origin=GRU&destination=LIS&date=2027-03-01",
                                        "/v1/calendar?origin=GRU&destination=LIS&start_date=2027-03-01&end_date=2027-03-05", ROUTES};
    e2e_response_t res;
    for (int i = 0; i < 3; i++) {
        get(E2E_H1, reads[i], NULL, &res);
        check_401("a read without a key", &res);
        e2e_response_free(&res);
        get(E2E_H1, reads[i], "Bearer not-a-key-0123456789abcdef", &res);
        check_401("a read with an unknown key", &res);
        CHECK(e2e_header(&res, "WWW-Authenticate") != NULL && strstr(e2e_header(&res, "WWW-Authenticate"), "invalid_token") != NULL);
        e2e_response_free(&res);
        get(E2E_H1, reads[i], "Basic " KEY_B, &res);
        check_401("a key in another scheme", &res);
        e2e_response_free(&res);
        get(E2E_H1, reads[i], "Bearer " TOKEN, &res);
        check_401("a feed token on a read", &res);
        e2e_response_free(&res);
        get(E2E_H1, reads[i], "Bearer " KEY_B, &res);
        CHECK_EQ_INT(res.status, 200);
        if (res.status != 200)
            fprintf(stderr, "  %s with beta's key: %ld %s\n", reads[i], res.status, res.body ? res.body : "");
        CHECK_EQ_INT(header_long(&res, "RateLimit-Limit"), 100);
        e2e_response_free(&res);
    }
    /* an unknown /v1 path is still a 404, an invalid query with a key a 400 */
    get(E2E_H1, "/v1/search?origin=GRU", "Bearer " KEY_B, &res);
    CHECK_EQ_INT(res.status, 400);
    e2e_response_free(&res);
    /* the same over h2: the RateLimit-* headers arrive (lower-case names on the wire) */
    get(E2E_H2, ROUTES, "Bearer " KEY_B, &res);
    CHECK_EQ_INT(res.status, 200);
    CHECK_EQ_INT(header_long(&res, "RateLimit-Limit"), 100);
    CHECK(header_long(&res, "RateLimit-Remaining") >= 0 && header_long(&res, "RateLimit-Remaining") <= 99);
    CHECK(header_long(&res, "RateLimit-Reset") >= 1);
    e2e_response_free(&res);
    get(E2E_H2, ROUTES, NULL, &res);
    check_401("a read without a key over h2", &res);
    e2e_response_free(&res);

    static const char *const open_paths[] = {"/healthz", "/readyz", "/metrics", "/openapi.json"};
    for (int i = 0; i < 4; i++) {
        get(E2E_H1, open_paths[i], NULL, &res);
        CHECK_EQ_INT(res.status, 200);
        if (res.status != 200)
            fprintf(stderr, "  %s without a key: %ld\n", open_paths[i], res.status);
        e2e_response_free(&res);
    }
    /* feeds keep their tokens: the token passes their gate (404: no such source yet), a key does not */
    get(E2E_H1, "/v1/feeds/nosuch", "Bearer " TOKEN, &res);
    CHECK_EQ_INT(res.status, 404);
    e2e_response_free(&res);
    get(E2E_H1, "/v1/feeds/nosuch", "Bearer " KEY_B, &res);
    CHECK_EQ_INT(res.status, 401);
    e2e_response_free(&res);
}

static unsigned alpha_ok, alpha_limited;

static void test_rate(void)
{
    e2e_response_t res;
    unsigned ok = 0;
    long remaining[3] = {-1, -1, -1};
    int64_t t0 = e2e_now_ms();
    for (int i = 0; i < 30; i++) {
        get(E2E_H1, ROUTES, "Bearer " KEY_A, &res);
        if (res.status != 200)
            break;
        CHECK_EQ_INT(header_long(&res, "RateLimit-Limit"), 3);
        long r = header_long(&res, "RateLimit-Remaining");
        CHECK(r >= 0 && r <= 2);
        CHECK(header_long(&res, "RateLimit-Reset") >= 1 && header_long(&res, "RateLimit-Reset") <= 3);
        if (ok < 3)
            remaining[ok] = r;
        ok++;
        e2e_response_free(&res);
    }
    int64_t elapsed_ms = e2e_now_ms() - t0;
    /* a fresh bucket of 3 lets the first three through, whatever the time */
    CHECK(ok >= 3);
    /* at most burst + one per whole second between the first and the last request */
    CHECK(ok <= 3 + (unsigned)(elapsed_ms / 1000));
    if (elapsed_ms < 1000) { /* no token came back: exactly three, counting down */
        CHECK_EQ_INT(ok, 3);
        CHECK_EQ_INT(remaining[0], 2);
        CHECK_EQ_INT(remaining[1], 1);
        CHECK_EQ_INT(remaining[2], 0);
    }
    CHECK_EQ_INT(res.status, 429);
    if (res.status != 429) {
        fprintf(stderr, "  %u requests in %lld ms, then %ld %s\n", ok, (long long)elapsed_ms, res.status, res.body ? res.body : "");
    } else {
        CHECK(res.body != NULL && strstr(res.body, "\"code\":\"rate_limited\"") != NULL);
        /* one token per second: the next one is less than a second away, rounded up */
        CHECK_EQ_INT(header_long(&res, "Retry-After"), 1);
        CHECK_EQ_INT(header_long(&res, "RateLimit-Limit"), 3);
        CHECK_EQ_INT(header_long(&res, "RateLimit-Remaining"), 0);
        CHECK(header_long(&res, "RateLimit-Reset") >= 1 && header_long(&res, "RateLimit-Reset") <= 3);
        CHECK(strstr(res.body, "alpha") != NULL);
    }
    e2e_response_free(&res);
    alpha_ok = ok;
    alpha_limited = 1;
}

/* The value of a metrics line starting with prefix, or -1. */
static long long metric(const char *text, const char *prefix)
{
    const char *p = strstr(text, prefix);
    return p != NULL ? atoll(p + strlen(prefix)) : -1;
}

static void test_metrics(void)
{
    e2e_response_t res;
    get(E2E_H1, "/metrics", NULL, &res);
    CHECK_EQ_INT(res.status, 200);
    const char *t = res.body != NULL ? res.body : "";
    /* alpha: its 200s and its 429; beta: 3 reads + 1 over h2 answered 200, one 400 */
    CHECK_EQ_INT(metric(t, "flightsearch_key_requests_total{key=\"alpha\",status=\"200\"} "), alpha_ok);
    CHECK_EQ_INT(metric(t, "flightsearch_key_requests_total{key=\"alpha\",status=\"429\"} "), alpha_limited);
    CHECK_EQ_INT(metric(t, "flightsearch_key_requests_total{key=\"beta\",status=\"200\"} "), 4);
    CHECK_EQ_INT(metric(t, "flightsearch_key_requests_total{key=\"beta\",status=\"400\"} "), 1);
    CHECK(strstr(t, "# TYPE flightsearch_key_requests_total counter") != NULL);
    CHECK(strstr(t, KEY_A) == NULL && strstr(t, KEY_B) == NULL);
    e2e_response_free(&res);
}

/* Waits (at most 10 s) until the server's stderr holds `want` more times than `before`. */
static int count_in_stderr(const char *want)
{
    char *log = e2e_server_stderr(&srv);
    int n = 0;
    for (const char *p = log; (p = strstr(p, want)) != NULL; p += strlen(want))
        n++;
    free(log);
    return n;
}

static int wait_for_log(const char *want, int before)
{
    for (int i = 0; i < 1000; i++) {
        if (count_in_stderr(want) > before)
            return 0;
        usleep(10 * 1000);
    }
    fprintf(stderr, "  no '%s' in the server's log after 10 s\n", want);
    return -1;
}

static void test_reload(void)
{
    e2e_response_t res;
    get(E2E_H1, ROUTES, "Bearer " KEY_C, &res);
    check_401("gamma before the reload", &res);
    e2e_response_free(&res);

    CHECK(write_keys(KEY_A " name=alpha rate=1/s burst=3 watches=2\n" KEY_B " name=beta rate=100/s burst=100\n" KEY_C
                           " name=gamma rate=10/s burst=5\n") == 0);
    int before = count_in_stderr("SIGHUP: reloaded 3 keys");
    e2e_server_signal(&srv, SIGHUP);
    CHECK(wait_for_log("SIGHUP: reloaded 3 keys", before) == 0);
    get(E2E_H1, ROUTES, "Bearer " KEY_C, &res);
    CHECK_EQ_INT(res.status, 200);
    CHECK_EQ_INT(header_long(&res, "RateLimit-Limit"), 5);
    CHECK_EQ_INT(header_long(&res, "RateLimit-Remaining"), 4); /* a new name: a full bucket of 5, one taken */
    e2e_response_free(&res);

    /* a broken file: logged, the keys in force stay */
    CHECK(write_keys(KEY_B " name=beta rate=100/s burst=100\nshort name=x rate=1/s burst=1\n") == 0);
    before = count_in_stderr("the previous keys stay in force");
    e2e_server_signal(&srv, SIGHUP);
    CHECK(wait_for_log("the previous keys stay in force", before) == 0);
    get(E2E_H1, ROUTES, "Bearer " KEY_C, &res);
    CHECK_EQ_INT(res.status, 200);
    e2e_response_free(&res);

    /* a group-readable file likewise */
    CHECK(write_keys(KEY_B " name=beta rate=100/s burst=100\n") == 0);
    chmod(keys_path, 0644);
    before = count_in_stderr("chmod 600");
    e2e_server_signal(&srv, SIGHUP);
    CHECK(wait_for_log("chmod 600", before) == 0);
    get(E2E_H1, ROUTES, "Bearer " KEY_C, &res);
    CHECK_EQ_INT(res.status, 200);
    e2e_response_free(&res);
    chmod(keys_path, 0600);
}

static void test_open_without_keys(void)
{
    /* the group-readable file stops the start-up, naming the fix */
    chmod(keys_path, 0644);
    char port[32], data_dir[128];
    snprintf(port, sizeof(port), "127.0.0.1:%u", e2e_free_port());
    snprintf(data_dir, sizeof(data_dir), "%s/data", dir);
    char *argv[] = {(char *)binary, "--listen", port, "--data-dir", data_dir, "--keys", keys_path, NULL};
    char *out = NULL;
    int status = e2e_run(argv, &out, 10000);
    CHECK(status != 0 && status < 128);
    CHECK(out != NULL && strstr(out, "--keys") != NULL && strstr(out, "chmod 600") != NULL);
    if (out == NULL || strstr(out, "chmod 600") == NULL)
        fprintf(stderr, "  exit %d: %s\n", status, out ? out : "");
    free(out);

    e2e_server_t open_srv;
    snprintf(data_dir, sizeof(data_dir), "%s/data2", dir);
    if (e2e_server_start(&open_srv, binary, data_dir, NULL) != 0) {
        CHECK(!"server without --keys started");
        return;
    }
    e2e_response_t res;
    char url[128];
    snprintf(url, sizeof(url), "%s%s", open_srv.url, ROUTES);
    for (int i = 0; i < 5; i++) {
        e2e_get(&client, E2E_H1, url, NULL, &res);
        CHECK_EQ_INT(res.status, 200);
        CHECK(e2e_header(&res, "RateLimit-Limit") == NULL);
        e2e_response_free(&res);
    }
    CHECK_EQ_INT(e2e_server_stop(&open_srv), 0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH-TO-flightsearch\n", argv[0]);
        return 2;
    }
    binary = argv[1];
    e2e_http_init();
    if (e2e_tmpdir(dir, sizeof(dir)) != 0 || e2e_client_init(&client) != 0) {
        CHECK(!"set-up");
        TEST_DONE();
    }
    snprintf(keys_path, sizeof(keys_path), "%s/keys", dir);
    snprintf(tokens_path, sizeof(tokens_path), "%s/tokens", dir);
    char data_dir[128];
    snprintf(data_dir, sizeof(data_dir), "%s/data", dir);
    CHECK(write_keys("# clients of the read API\n" KEY_A " name=alpha rate=1/s burst=3 watches=2\n" KEY_B
                     " name=beta rate=100/s burst=100\n") == 0);
    CHECK(e2e_write_file(tokens_path, TOKEN " *\n", strlen(TOKEN " *\n")) == 0);
    const char *extra[] = {"--keys", keys_path, "--tokens", tokens_path, NULL};
    if (e2e_server_start(&srv, binary, data_dir, extra) != 0) {
        CHECK(!"server with --keys started");
    } else {
        test_gate();
        test_rate();
        test_metrics();
        test_reload();
        CHECK_EQ_INT(e2e_server_stop(&srv), 0);
        test_open_without_keys();
    }
    e2e_client_free(&client);
    e2e_rmtree(dir);
    TEST_DONE();
}
