/*
 * Webhooks end to end, against the real binary and a receiver inside this test (a small HTTP
 * server on a thread) that checks every signature with its own HMAC-SHA256 (OpenSSL), fails on
 * purpose and records what it accepted:
 *   - without --webhook-allow-private, webhook URLs on loopback or private addresses are 400
 *     naming webhook.url;
 *   - the receiver answers 500, then holds the next attempt past --webhook-timeout-ms, then 200s:
 *     the first event arrives on its third attempt, the second after it (in order), and
 *     GET /v1/watches/{id} shows the last success and failure;
 *   - with the receiver failing, three events stay pending; kill -9; restart with the receiver
 *     answering 200: all three are delivered (at least once), in order.
 * Retry delays are kept short by --webhook-retry-ms 20 and --webhook-timeout-ms 1000 (options, not
 * sleeps); the waits below are bounds on a condition, never timed assertions.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "tests/e2e/e2e_check.h"
#include "tests/e2e/lib_server.h"

#define TOKEN "webhook-test-token-0123456789abcdef"
#define SECRET "whsec-0123456789abcdef0123456789"

/* ------------------------------------------------------------ the receiver */

enum { ANSWER_OK, ANSWER_500, ANSWER_HANG };

#define MAX_SEEN 256
typedef struct receiver {
    int listen_fd;
    unsigned port;
    pthread_t thread;
    pthread_mutex_t mu;
    int script[8];      /* the answers to the first requests, then `then` */
    unsigned scripted, requests;
    int then;
    int stop;
    unsigned bad_signatures, bad_ids;
    uint64_t attempts[MAX_SEEN]; unsigned n_attempts;   /* event ids, every request */
    uint64_t delivered[MAX_SEEN]; unsigned n_delivered; /* event ids answered 200 */
} receiver_t;

/* Our own check of the scheme in docs/api.md: v1 = hex(HMAC-SHA256(secret, t + "." + body)). */
static int signature_ok(const char *header, const char *body, size_t len)
{
    long long t;
    char v1[65];
    if (header == NULL || sscanf(header, "t=%lld,v1=%64[0-9a-f]", &t, v1) != 2)
        return 0;
    char prefix[32];
    int pl = snprintf(prefix, sizeof(prefix), "%lld.", t);
    unsigned char *msg = malloc((size_t)pl + len);
    memcpy(msg, prefix, (size_t)pl);
    memcpy(msg + pl, body, len);
    unsigned char mac[32];
    unsigned mac_len = 0;
    HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), msg, (size_t)pl + len, mac, &mac_len);
    free(msg);
    char hex[65];
    for (unsigned i = 0; i < 32; i++)
        sprintf(hex + 2 * i, "%02x", mac[i]);
    long long now = (long long)time(NULL);
    return mac_len == 32 && strcmp(hex, v1) == 0 && t > now - 600 && t <= now + 5;
}

/* The value of a header in a raw request head (case-insensitive name), copied into out. */
static const char *header_of(const char *head, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p != NULL; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, name, nl) == 0 && p[2 + nl] == ':') {
            const char *v = p + 3 + nl;
            while (*v == ' ')
                v++;
            size_t n = strcspn(v, "\r");
            if (n >= cap)
                n = cap - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return out;
        }
    }
    return NULL;
}

static void serve(receiver_t *r, int fd)
{
    char buf[65536];
    size_t len = 0;
    char *end = NULL;
    while ((end = strstr(buf, "\r\n\r\n")) == NULL) {
        ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
        if (n <= 0)
            return;
        len += (size_t)n;
        buf[len] = '\0';
    }
    *end = '\0';
    char cl[32], sig[200], id[32];
    size_t body_len = header_of(buf, "Content-Length", cl, sizeof(cl)) ? strtoul(cl, NULL, 10) : 0;
    size_t head_len = (size_t)(end - buf) + 4;
    while (len < head_len + body_len && len < sizeof(buf) - 1) {
        ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
        if (n <= 0)
            return;
        len += (size_t)n;
    }
    const char *body = buf + head_len;
    buf[head_len + body_len] = '\0';
    uint64_t event = header_of(buf, "Flightsearch-Event-Id", id, sizeof(id)) ? strtoull(id, NULL, 10) : 0;
    char want[48];
    snprintf(want, sizeof(want), "{\"id\":%llu,", (unsigned long long)event);
    pthread_mutex_lock(&r->mu);
    int answer = r->requests < r->scripted ? r->script[r->requests] : r->then;
    r->requests++;
    if (!signature_ok(header_of(buf, "Flightsearch-Signature", sig, sizeof(sig)), body, body_len))
        r->bad_signatures++;
    if (event == 0 || strncmp(body, want, strlen(want)) != 0)
        r->bad_ids++;
    if (r->n_attempts < MAX_SEEN)
        r->attempts[r->n_attempts++] = event;
    if (answer == ANSWER_OK && r->n_delivered < MAX_SEEN)
        r->delivered[r->n_delivered++] = event;
    pthread_mutex_unlock(&r->mu);
    if (answer == ANSWER_HANG) { /* no answer: the sender's timeout ends it */
        while (recv(fd, buf, sizeof(buf), 0) > 0)
            ;
        return;
    }
    const char *reply = answer == ANSWER_OK ? "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                                            : "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    ssize_t w = send(fd, reply, strlen(reply), MSG_NOSIGNAL);
    (void)w;
}

static void *receiver_main(void *arg)
{
    receiver_t *r = arg;
    for (;;) {
        int fd = accept(r->listen_fd, NULL, NULL);
        pthread_mutex_lock(&r->mu);
        int stop = r->stop;
        pthread_mutex_unlock(&r->mu);
        if (stop || fd < 0) {
            if (fd >= 0)
                close(fd);
            return NULL;
        }
        serve(r, fd);
        close(fd);
    }
}

static int receiver_start(receiver_t *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
    r->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    if (bind(r->listen_fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(r->listen_fd, 16) != 0 ||
        getsockname(r->listen_fd, (struct sockaddr *)&a, &al) != 0)
        return -1;
    r->port = ntohs(a.sin_port);
    return pthread_create(&r->thread, NULL, receiver_main, r);
}

static void receiver_stop(receiver_t *r)
{
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    pthread_mutex_unlock(&r->mu);
    int fd = socket(AF_INET, SOCK_STREAM, 0); /* wakes accept */
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)r->port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
        close(fd);
    pthread_join(r->thread, NULL);
    close(r->listen_fd);
}

static void receiver_answer(receiver_t *r, int then)
{
    pthread_mutex_lock(&r->mu);
    r->then = then;
    pthread_mutex_unlock(&r->mu);
}

/* Waits until the receiver accepted event (bounded: a failure ends the test instead of hanging it). */
static int wait_delivered(receiver_t *r, uint64_t event)
{
    int64_t give_up = e2e_now_ms() + 20000;
    while (e2e_now_ms() < give_up) {
        pthread_mutex_lock(&r->mu);
        int found = 0;
        for (unsigned i = 0; i < r->n_delivered; i++)
            found |= r->delivered[i] == event;
        pthread_mutex_unlock(&r->mu);
        if (found)
            return 1;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* Waits until the receiver accepted n events (bounded). */
static int wait_count(receiver_t *r, unsigned n)
{
    int64_t give_up = e2e_now_ms() + 20000;
    while (e2e_now_ms() < give_up) {
        pthread_mutex_lock(&r->mu);
        unsigned got = r->n_delivered;
        pthread_mutex_unlock(&r->mu);
        if (got >= n)
            return 1;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* ------------------------------------------------------------ the server */

static long push(e2e_client_t *c, const e2e_server_t *srv, const char *kind, int sequence, int business_seats)
{
    const char *const headers[] = {"Authorization: Bearer " TOKEN, "Content-Type: application/json", NULL};
    char body[1200], url[200];
    int snapshot = strcmp(kind, "snapshot") == 0;
    snprintf(body, sizeof(body),
             "{\"source\": \"tap\", \"sequence\": %d, \"generated_at\": \"2026-11-21T20:00:00Z\", \"%s\": [{\"carrier\": \"TP\","
             " \"flight\": 82, \"origin\": \"GRU\", \"destination\": \"LIS\", \"departs_at\": \"2026-12-01T21:35:00-03:00\","
             " \"arrives_at\": \"2026-12-02T11:05:00+00:00\", \"cabins\": {\"business\": {\"seats\": %d, \"miles\": 70000,"
             " \"taxes_cents\": 45000, \"currency\": \"BRL\"}}}]}",
             sequence, snapshot ? "legs" : "upsert", business_seats);
    snprintf(url, sizeof(url), "%s/v1/feeds/tap/%s", srv->url, snapshot ? "snapshot" : "deltas");
    e2e_response_t res;
    e2e_request(c, E2E_H1, snapshot ? "PUT" : "POST", url, headers, body, strlen(body), &res);
    long status = res.status;
    e2e_response_free(&res);
    return status;
}

static long post_watch(e2e_client_t *c, const e2e_server_t *srv, const char *hook_url, char *out, size_t cap)
{
    const char *const json[] = {"Content-Type: application/json", NULL};
    char body[1000], url[200];
    snprintf(body, sizeof(body),
             "{\"origin\": [\"GRU\"], \"destination\": [\"LIS\"], \"date\": \"2026-12-01\", \"cabin\": \"business\","
             " \"notify\": [\"opened\", \"closed\"], \"webhook\": {\"url\": \"%s\", \"secret\": \"" SECRET "\"}}",
             hook_url);
    snprintf(url, sizeof(url), "%s/v1/watches", srv->url);
    e2e_response_t res;
    e2e_request(c, E2E_H1, "POST", url, json, body, strlen(body), &res);
    long status = res.status;
    snprintf(out, cap, "%s", res.body != NULL ? res.body : "");
    e2e_response_free(&res);
    return status;
}

static void get_watch(e2e_client_t *c, const e2e_server_t *srv, unsigned id, char *out, size_t cap)
{
    char url[200];
    snprintf(url, sizeof(url), "%s/v1/watches/%u", srv->url, id);
    e2e_response_t res;
    e2e_get(c, E2E_H1, url, NULL, &res);
    snprintf(out, cap, "%s", res.body != NULL ? res.body : "");
    e2e_response_free(&res);
}

/* Waits until the watch's answer holds needle (bounded). */
static int wait_watch(e2e_client_t *c, const e2e_server_t *srv, unsigned id, const char *needle, char *out, size_t cap)
{
    int64_t give_up = e2e_now_ms() + 20000;
    while (e2e_now_ms() < give_up) {
        get_watch(c, srv, id, out, cap);
        if (strstr(out, needle) != NULL)
            return 1;
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return 0;
}

static unsigned long long number_after(const char *s, const char *key)
{
    const char *p = s != NULL ? strstr(s, key) : NULL;
    return p != NULL ? strtoull(p + strlen(key), NULL, 10) : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s path/to/flightsearch\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    e2e_http_init();
    receiver_t r;
    CHECK_EQ_INT(receiver_start(&r), 0);
    char data_dir[256], etc_dir[256], tokens[300], hook[200], body[8192], needle[400];
    if (e2e_tmpdir(data_dir, sizeof(data_dir)) != 0 || e2e_tmpdir(etc_dir, sizeof(etc_dir)) != 0)
        return 1;
    snprintf(tokens, sizeof(tokens), "%s/tokens", etc_dir);
    e2e_write_file(tokens, TOKEN " *\n", strlen(TOKEN " *\n"));
    chmod(tokens, 0600);
    snprintf(hook, sizeof(hook), "http://127.0.0.1:%u/hook", r.port);
    e2e_client_t client;
    e2e_client_init(&client);
    e2e_server_t srv;

    /* without --webhook-allow-private: loopback, private and link-local targets are refused */
    const char *const closed[] = {"--tokens", tokens, NULL};
    if (e2e_server_start(&srv, argv[1], data_dir, closed) != 0)
        return 1;
    const char *refused[] = {hook, "http://localhost:9/x", "http://10.1.2.3/x", "http://192.168.0.1/x", "http://[::1]:9/x",
                             "http://169.254.169.254/latest"};
    for (unsigned i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        CHECK_EQ_INT(post_watch(&client, &srv, refused[i], body, sizeof(body)), 400);
        CHECK(strstr(body, "\"parameter\":\"webhook.url\"") != NULL);
    }
    CHECK_EQ_INT(post_watch(&client, &srv, "ftp://example.com/x", body, sizeof(body)), 400);
    CHECK(strstr(body, "\"parameter\":\"webhook.url\"") != NULL);
    CHECK_EQ_INT(e2e_server_stop(&srv), 0);

    /* with it, and short retries: 500, then a timeout, then 200 */
    const char *const open_flags[] = {"--tokens", tokens, "--webhook-allow-private", "--webhook-retry-ms", "20",
                                      "--webhook-timeout-ms", "1000", NULL};
    if (e2e_server_start(&srv, argv[1], data_dir, open_flags) != 0)
        return 1;
    CHECK_EQ_INT(push(&client, &srv, "snapshot", 1, 0), 200);
    CHECK_EQ_INT(post_watch(&client, &srv, hook, body, sizeof(body)), 201);
    unsigned watch = (unsigned)number_after(body, "{\"id\":");
    CHECK(strstr(body, SECRET) == NULL); /* the secret is never shown */
    snprintf(needle, sizeof(needle), "\"webhook\":{\"url\":\"%s\",\"pending\":0,\"last_success\":null,\"last_failure\":null}", hook);
    CHECK(strstr(body, needle) != NULL);
    pthread_mutex_lock(&r.mu);
    r.script[0] = ANSWER_500;
    r.script[1] = ANSWER_HANG;
    r.scripted = 2;
    r.then = ANSWER_OK;
    pthread_mutex_unlock(&r.mu);
    CHECK_EQ_INT(push(&client, &srv, "delta", 2, 2), 200); /* opened */
    /* its event made before the next push (publishes faster than the evaluation may share one) */
    int64_t give_up = e2e_now_ms() + 20000;
    do
        get_watch(&client, &srv, watch, body, sizeof(body));
    while (number_after(body, "\"last_event_id\":") == 0 && e2e_now_ms() < give_up);
    CHECK(number_after(body, "\"last_event_id\":") != 0);
    CHECK_EQ_INT(push(&client, &srv, "delta", 3, 0), 200); /* closed */
    /* the events are made after the pushes' 200s: their ids come from what the receiver gets */
    CHECK(wait_count(&r, 2));
    pthread_mutex_lock(&r.mu);
    uint64_t last = r.delivered[1];
    pthread_mutex_unlock(&r.mu);
    get_watch(&client, &srv, watch, body, sizeof(body));
    CHECK_EQ_INT(number_after(body, "\"last_event_id\":"), last);
    pthread_mutex_lock(&r.mu);
    CHECK_EQ_INT(r.bad_signatures, 0);
    CHECK_EQ_INT(r.bad_ids, 0);
    /* at least three attempts of the first event (500, timeout, 200), then the second: in order */
    unsigned k = 0;
    while (k < r.n_attempts && r.attempts[k] == last - 1)
        k++;
    CHECK(k >= 3);
    for (unsigned i = k; i < r.n_attempts; i++)
        CHECK(r.attempts[i] == last);
    CHECK(r.n_delivered == 2 && r.delivered[0] == last - 1 && r.delivered[1] == last);
    pthread_mutex_unlock(&r.mu);
    snprintf(needle, sizeof(needle), "\"last_success\":{\"event_id\":%llu,", (unsigned long long)last);
    CHECK(wait_watch(&client, &srv, watch, needle, body, sizeof(body)));
    CHECK(strstr(body, "\"pending\":0,") != NULL);
    snprintf(needle, sizeof(needle), "\"last_failure\":{\"event_id\":%llu,", (unsigned long long)last - 1);
    CHECK(strstr(body, needle) != NULL);
    CHECK(number_after(body, "\"attempts\":") >= 2); /* the timeout was (at least) its second attempt */

    /* the receiver is down: three events pend; kill -9; it is back: all three arrive, in order */
    receiver_answer(&r, ANSWER_500);
    /* each push's event awaited before the next: publishes that come faster than the watch engine
     * evaluates may share one event (docs/api.md, "How it works"), and this part needs three */
    CHECK_EQ_INT(push(&client, &srv, "delta", 4, 2), 200);
    CHECK(wait_watch(&client, &srv, watch, "\"pending\":1,", body, sizeof(body)));
    CHECK_EQ_INT(push(&client, &srv, "delta", 5, 0), 200);
    CHECK(wait_watch(&client, &srv, watch, "\"pending\":2,", body, sizeof(body)));
    CHECK_EQ_INT(push(&client, &srv, "delta", 6, 2), 200);
    CHECK(wait_watch(&client, &srv, watch, "\"pending\":3,", body, sizeof(body)));
    uint64_t last3 = number_after(body, "\"last_event_id\":");
    CHECK_EQ_INT(last3, last + 3);
    kill(srv.pid, SIGKILL);
    CHECK_EQ_INT(e2e_server_wait(&srv, 10000), 128 + SIGKILL);
    e2e_server_stop(&srv);
    pthread_mutex_lock(&r.mu);
    unsigned before = r.n_delivered;
    pthread_mutex_unlock(&r.mu);
    CHECK_EQ_INT(before, 2);
    receiver_answer(&r, ANSWER_OK);
    if (e2e_server_start(&srv, argv[1], data_dir, open_flags) != 0)
        return 1;
    for (uint64_t ev = last + 1; ev <= last3; ev++)
        CHECK(wait_delivered(&r, ev));
    pthread_mutex_lock(&r.mu);
    CHECK_EQ_INT(r.bad_signatures, 0);
    CHECK_EQ_INT(r.bad_ids, 0);
    int in_order = r.n_delivered >= 5;
    for (unsigned i = 2; i + 1 < r.n_delivered && in_order; i++)
        in_order = r.delivered[i] <= r.delivered[i + 1];
    CHECK(in_order);
    pthread_mutex_unlock(&r.mu);
    CHECK(wait_watch(&client, &srv, watch, "\"pending\":0,", body, sizeof(body)));
    snprintf(needle, sizeof(needle), "\"last_success\":{\"event_id\":%llu,", (unsigned long long)last3);
    CHECK(strstr(body, needle) != NULL);

    CHECK_EQ_INT(e2e_server_stop(&srv), 0);
    receiver_stop(&r);
    e2e_client_free(&client);
    e2e_rmtree(data_dir);
    e2e_rmtree(etc_dir);
    TEST_DONE();
}
