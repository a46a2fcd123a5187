/*
 * Watches belong to the API key that created them (--keys): a key lists, reads, deletes and
 * streams its own watches only (another key's watch is a 404, as if it did not exist), and the
 * key's watches=W quota is enforced on create with a 403 naming it. Expectations come from the
 * keys file and the one leg this test pushes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "tests/e2e/e2e_check.h"
#include "tests/e2e/lib_server.h"

#define TOKEN "owners-test-token-0123456789abcdef"
#define KEY_ALPHA "alpha-key-0123456789abcdef0123"
#define KEY_BETA "beta-key-0123456789abcdef012345"

static const char *const alpha_json[] = {"Authorization: Bearer " KEY_ALPHA, "Content-Type: application/json", NULL};
static const char *const beta_json[] = {"Authorization: Bearer " KEY_BETA, "Content-Type: application/json", NULL};

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

/* POSTs a watch on GRU-LIS as the key of headers; returns the status, *id the watch's id. */
static long create(e2e_client_t *c, const e2e_server_t *srv, const char *const *headers, unsigned *id, char *body_out, size_t cap)
{
    const char *w = "{\"origin\": [\"GRU\"], \"destination\": [\"LIS\"], \"date\": \"2026-12-01\", \"cabin\": \"business\"}";
    char url[200];
    snprintf(url, sizeof(url), "%s/v1/watches", srv->url);
    e2e_response_t res;
    e2e_request(c, E2E_H1, "POST", url, headers, w, strlen(w), &res);
    long status = res.status;
    const char *p = res.body != NULL ? strstr(res.body, "\"id\":") : NULL;
    *id = p != NULL ? (unsigned)strtoul(p + 5, NULL, 10) : 0;
    if (body_out != NULL)
        snprintf(body_out, cap, "%s", res.body != NULL ? res.body : "");
    e2e_response_free(&res);
    return status;
}

static long request(e2e_client_t *c, const char *method, const char *url, const char *const *headers, char *body_out, size_t cap)
{
    e2e_response_t res;
    e2e_request(c, E2E_H1, method, url, headers, NULL, 0, &res);
    long status = res.status;
    if (body_out != NULL)
        snprintf(body_out, cap, "%s", res.body != NULL ? res.body : "");
    e2e_response_free(&res);
    return status;
}

/* Reads a stream until it holds needle (or 10 s pass: the test then fails instead of hanging). */
static int stream_until(CURLM *m, e2e_transfer_t *t, const char *needle)
{
    int64_t give_up = e2e_now_ms() + 10000;
    while (e2e_now_ms() < give_up) {
        int running = 0;
        curl_multi_perform(m, &running);
        if (strstr(t->res.body, needle) != NULL)
            return 1;
        if (running == 0)
            return 0;
        curl_multi_poll(m, NULL, 0, 50, NULL);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s path/to/flightsearch\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    e2e_http_init();
    char data_dir[256], etc_dir[256], tokens[300], keys[300], url[300], body[4096];
    if (e2e_tmpdir(data_dir, sizeof(data_dir)) != 0 || e2e_tmpdir(etc_dir, sizeof(etc_dir)) != 0)
        return 1;
    snprintf(tokens, sizeof(tokens), "%s/tokens", etc_dir);
    snprintf(keys, sizeof(keys), "%s/keys", etc_dir);
    e2e_write_file(tokens, TOKEN " *\n", strlen(TOKEN " *\n"));
    const char *keys_text = KEY_ALPHA " name=alpha rate=1000/s burst=1000 watches=1\n" KEY_BETA " name=beta rate=1000/s burst=1000 watches=2\n";
    e2e_write_file(keys, keys_text, strlen(keys_text));
    chmod(keys, 0600);
    chmod(tokens, 0600);
    const char *const extra[] = {"--tokens", tokens, "--keys", keys, NULL};
    e2e_server_t srv;
    if (e2e_server_start(&srv, argv[1], data_dir, extra) != 0)
        return 1;
    e2e_client_t client;
    e2e_client_init(&client);
    CHECK_EQ_INT(push(&client, &srv, "snapshot", 1, 0), 200);

    /* alpha's quota is one watch: the second is refused, naming the quota */
    unsigned a1 = 0, a2 = 0, b1 = 0, b2 = 0, b3 = 0;
    CHECK_EQ_INT(create(&client, &srv, alpha_json, &a1, NULL, 0), 201);
    CHECK_EQ_INT(create(&client, &srv, alpha_json, &a2, body, sizeof(body)), 403);
    CHECK(strstr(body, "\"code\":\"watch_quota_exceeded\"") != NULL);
    CHECK(strstr(body, "watches=1") != NULL);
    CHECK_EQ_INT(create(&client, &srv, beta_json, &b1, NULL, 0), 201);
    CHECK_EQ_INT(create(&client, &srv, beta_json, &b2, NULL, 0), 201);
    CHECK_EQ_INT(create(&client, &srv, beta_json, &b3, body, sizeof(body)), 403);
    CHECK(strstr(body, "watches=2") != NULL);
    CHECK(a1 != 0 && b1 != 0 && b2 != 0 && a1 != b1 && a1 != b2);

    /* each key lists its own */
    char needle[64];
    snprintf(url, sizeof(url), "%s/v1/watches", srv.url);
    CHECK_EQ_INT(request(&client, "GET", url, alpha_json, body, sizeof(body)), 200);
    snprintf(needle, sizeof(needle), "{\"id\":%u,", a1);
    CHECK(strstr(body, needle) != NULL);
    snprintf(needle, sizeof(needle), "{\"id\":%u,", b1);
    CHECK(strstr(body, needle) == NULL);
    CHECK_EQ_INT(request(&client, "GET", url, beta_json, body, sizeof(body)), 200);
    snprintf(needle, sizeof(needle), "{\"id\":%u,", a1);
    CHECK(strstr(body, needle) == NULL);
    snprintf(needle, sizeof(needle), "{\"id\":%u,", b2);
    CHECK(strstr(body, needle) != NULL);

    /* another key's watch does not exist for beta: read, stream, delete */
    snprintf(url, sizeof(url), "%s/v1/watches/%u", srv.url, a1);
    CHECK_EQ_INT(request(&client, "GET", url, beta_json, NULL, 0), 404);
    CHECK_EQ_INT(request(&client, "DELETE", url, beta_json, NULL, 0), 404);
    CHECK_EQ_INT(request(&client, "GET", url, alpha_json, NULL, 0), 200);
    snprintf(url, sizeof(url), "%s/v1/watches/%u/events", srv.url, a1);
    CHECK_EQ_INT(request(&client, "GET", url, beta_json, NULL, 0), 404);

    /* beta's event stream carries beta's events only */
    CURLM *m = curl_multi_init();
    e2e_transfer_t t;
    snprintf(url, sizeof(url), "%s/v1/events", srv.url);
    const char *const beta_stream[] = {"Authorization: Bearer " KEY_BETA, NULL};
    e2e_transfer_init(&t, E2E_H1, url, beta_stream);
    curl_multi_add_handle(m, t.curl);
    CHECK(stream_until(m, &t, ": watching"));
    CHECK_EQ_INT(push(&client, &srv, "delta", 2, 2), 200);
    snprintf(needle, sizeof(needle), "\"watch_id\":%u,", b1);
    CHECK(stream_until(m, &t, needle));
    snprintf(needle, sizeof(needle), "\"watch_id\":%u,", b2);
    CHECK(stream_until(m, &t, needle));
    snprintf(needle, sizeof(needle), "\"watch_id\":%u,", a1);
    CHECK(strstr(t.res.body, needle) == NULL);
    /* alpha's event exists: replayed to alpha from 0 */
    e2e_transfer_t ta;
    const char *const alpha_replay[] = {"Authorization: Bearer " KEY_ALPHA, "Last-Event-ID: 0", NULL};
    e2e_transfer_init(&ta, E2E_H1, url, alpha_replay);
    curl_multi_add_handle(m, ta.curl);
    CHECK(stream_until(m, &ta, needle));
    snprintf(needle, sizeof(needle), "\"watch_id\":%u,", b1);
    CHECK(strstr(ta.res.body, needle) == NULL);

    /* deleting frees the quota; ownership survives a restart */
    snprintf(url, sizeof(url), "%s/v1/watches/%u", srv.url, b1);
    CHECK_EQ_INT(request(&client, "DELETE", url, beta_json, NULL, 0), 204);
    CHECK_EQ_INT(create(&client, &srv, beta_json, &b3, NULL, 0), 201);
    CHECK_EQ_INT(e2e_server_stop(&srv), 0);
    curl_multi_remove_handle(m, t.curl);
    curl_multi_remove_handle(m, ta.curl);
    e2e_transfer_free(&t);
    e2e_transfer_free(&ta);
    curl_multi_cleanup(m);
    if (e2e_server_start(&srv, argv[1], data_dir, extra) != 0)
        return 1;
    snprintf(url, sizeof(url), "%s/v1/watches/%u", srv.url, a1);
    CHECK_EQ_INT(request(&client, "GET", url, beta_json, NULL, 0), 404);
    CHECK_EQ_INT(request(&client, "GET", url, alpha_json, NULL, 0), 200);
    CHECK_EQ_INT(create(&client, &srv, alpha_json, &a2, NULL, 0), 403);
    CHECK_EQ_INT(create(&client, &srv, beta_json, &b1, NULL, 0), 403);
    CHECK_EQ_INT(e2e_server_stop(&srv), 0);
    e2e_client_free(&client);
    e2e_rmtree(data_dir);
    e2e_rmtree(etc_dir);
    TEST_DONE();
}
