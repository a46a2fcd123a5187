/*
 * Watches end to end, against the real binary: create a watch (201, its baseline), refuse a bad
 * one naming the field, open its event stream over HTTP/1.1 and h2c, push a delta that opens two
 * business seats, and read the event it triggers on both; resume with Last-Event-ID (replayed from
 * 0, not replayed from 1); delete the watch; and stop the server gracefully with streams open (they
 * end cleanly). Expectations come from the legs this test pushes.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tests/e2e/e2e_check.h"
#include "tests/e2e/lib_server.h"

#define TOKEN "watch-test-token-0123456789abcdef"

static const char *leg(int business_seats, char *buf, size_t cap)
{
    snprintf(buf, cap,
             "{\"carrier\": \"TP\", \"flight\": 82, \"origin\": \"GRU\", \"destination\": \"LIS\","
             " \"departs_at\": \"2026-12-01T21:35:00-03:00\", \"arrives_at\": \"2026-12-02T11:05:00+00:00\","
             " \"cabins\": {\"economy\": {\"seats\": 9, \"miles\": 35000, \"taxes_cents\": 12345, \"currency\": \"BRL\"},"
             " \"business\": {\"seats\": %d, \"miles\": 70000, \"taxes_cents\": 45000, \"currency\": \"BRL\"}}}",
             business_seats);
    return buf;
}

static long push(e2e_client_t *c, const e2e_server_t *srv, const char *kind, int sequence, int business_seats)
{
    const char *const headers[] = {"Authorization: Bearer " TOKEN, "Content-Type: application/json", NULL};
    char l[600], body[1000], url[200];
    int snapshot = strcmp(kind, "snapshot") == 0;
    snprintf(body, sizeof(body), "{\"source\": \"tap\", \"sequence\": %d, \"generated_at\": \"2026-11-21T20:00:00Z\", \"%s\": [%s]}",
             sequence, snapshot ? "legs" : "upsert", leg(business_seats, l, sizeof(l)));
    snprintf(url, sizeof(url), "%s/v1/feeds/tap/%s", srv->url, snapshot ? "snapshot" : "deltas");
    e2e_response_t res;
    e2e_request(c, E2E_H1, snapshot ? "PUT" : "POST", url, headers, body, strlen(body), &res);
    long status = res.status;
    if (status != 200)
        fprintf(stderr, "push %s: %ld %s\n", kind, status, res.body ? res.body : "");
    e2e_response_free(&res);
    return status;
}

/* Runs the multi handle until every stream's body holds needle (or one ended, or a generous bound
 * passed, so a failure ends the test instead of hanging it). Returns 1 when all hold it. */
static int drive_until(CURLM *m, e2e_transfer_t *t, int n, const char *needle)
{
    int64_t give_up = e2e_now_ms() + 20000;
    for (;;) {
        int running = 0, all = 1;
        curl_multi_perform(m, &running);
        for (int i = 0; i < n; i++)
            all &= strstr(t[i].res.body, needle) != NULL;
        if (all)
            return 1;
        if (running < n || e2e_now_ms() > give_up)
            return 0;
        curl_multi_poll(m, NULL, 0, 100, NULL);
    }
}

/* Runs the multi handle until every transfer has ended; returns how many ended with CURLE_OK. */
static int drive_to_end(CURLM *m, e2e_transfer_t *t, int n)
{
    int64_t give_up = e2e_now_ms() + 20000;
    int ok = 0, done = 0;
    while (done < n && e2e_now_ms() < give_up) {
        int running = 0, left;
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        while ((msg = curl_multi_info_read(m, &left)) != NULL)
            if (msg->msg == CURLMSG_DONE) {
                for (int i = 0; i < n; i++)
                    if (t[i].curl == msg->easy_handle) {
                        e2e_transfer_done(&t[i], msg->data.result);
                        ok += msg->data.result == CURLE_OK;
                    }
                done++;
            }
        curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    return ok;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s path/to/flightsearch\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    e2e_http_init();
    char data_dir[256], etc_dir[256], tokens[300], url[300];
    if (e2e_tmpdir(data_dir, sizeof(data_dir)) != 0 || e2e_tmpdir(etc_dir, sizeof(etc_dir)) != 0)
        return 1;
    snprintf(tokens, sizeof(tokens), "%s/tokens", etc_dir);
    e2e_write_file(tokens, TOKEN " *\n", strlen(TOKEN " *\n"));
    const char *const extra[] = {"--tokens", tokens, NULL};
    e2e_server_t srv;
    if (e2e_server_start(&srv, argv[1], data_dir, extra) != 0)
        return 1;
    e2e_client_t client;
    e2e_client_init(&client);
    const char *const json[] = {"Content-Type: application/json", NULL};

    /* business sold out: the watch's baseline is empty */
    CHECK_EQ_INT(push(&client, &srv, "snapshot", 42, 0), 200);

    /* a bad watch is refused, naming the field */
    snprintf(url, sizeof(url), "%s/v1/watches", srv.url);
    const char *bad = "{\"origin\": [\"SAO\"], \"destination\": [\"LIS\"], \"date\": \"2026-12-01\", \"seats\": 0}";
    e2e_response_t res;
    e2e_request(&client, E2E_H1, "POST", url, json, bad, strlen(bad), &res);
    CHECK_EQ_INT(res.status, 400);
    CHECK(strstr(res.body, "\"parameter\":\"seats\"") != NULL);
    e2e_response_free(&res);

    /* SAO is a city code: GRU among its airports; two business seats for a party of two */
    const char *good = "{\"origin\": [\"SAO\"], \"destination\": [\"LIS\"], \"date\": \"2026-12-01\", \"cabin\": \"business\","
                       " \"seats\": 2, \"notify\": [\"opened\", \"closed\"]}";
    e2e_request(&client, E2E_H1, "POST", url, json, good, strlen(good), &res);
    CHECK_EQ_INT(res.status, 201);
    CHECK(strstr(res.body, "\"matching_now\":0") != NULL);
    CHECK(strstr(res.body, "\"GRU\"") != NULL);
    const char *loc = e2e_header(&res, "location");
    CHECK(loc != NULL && strcmp(loc, "/v1/watches/1") == 0);
    e2e_response_free(&res);
    e2e_get(&client, E2E_H1, url, NULL, &res);
    CHECK_EQ_INT(res.status, 200);
    CHECK(strstr(res.body, "\"id\":1,") != NULL);
    e2e_response_free(&res);

    /* two streams of the watch, HTTP/1.1 and h2c */
    CURLM *m = curl_multi_init();
    e2e_transfer_t t[4];
    snprintf(url, sizeof(url), "%s/v1/watches/1/events", srv.url);
    e2e_transfer_init(&t[0], E2E_H1, url, NULL);
    e2e_transfer_init(&t[1], E2E_H2, url, NULL);
    curl_multi_add_handle(m, t[0].curl);
    curl_multi_add_handle(m, t[1].curl);
    CHECK(drive_until(m, t, 2, ": watching"));

    /* the delta that opens two business seats: one event, on both streams */
    CHECK_EQ_INT(push(&client, &srv, "delta", 43, 2), 200);
    CHECK(drive_until(m, t, 2, "\n\n"));
    CHECK(drive_until(m, t, 2, "\"changes\":[{\"kind\":\"opened\",\"result\":{\"id\":\"tap-TP82-GRU-20261201-J\""));
    for (int i = 0; i < 2; i++) {
        CHECK(strstr(t[i].res.body, "id: 1\nevent: watch\ndata: {\"id\":1,\"watch_id\":1,") != NULL);
        CHECK(strstr(t[i].res.body, "\"seats\":2,") != NULL);
    }
    /* the seats close again (notify has closed): event 2 */
    CHECK_EQ_INT(push(&client, &srv, "delta", 44, 1), 200);
    CHECK(drive_until(m, t, 2, "id: 2\nevent: watch\ndata: {\"id\":2,\"watch_id\":1,"));
    CHECK(strstr(t[0].res.body, "\"kind\":\"closed\"") != NULL);

    /* resuming: from 0 replays both, from 1 only the second */
    snprintf(url, sizeof(url), "%s/v1/events", srv.url);
    const char *const from0[] = {"Last-Event-ID: 0", NULL}, *const from1[] = {"Last-Event-ID: 1", NULL};
    e2e_transfer_init(&t[2], E2E_H2, url, from0);
    e2e_transfer_init(&t[3], E2E_H1, url, from1);
    curl_multi_add_handle(m, t[2].curl);
    curl_multi_add_handle(m, t[3].curl);
    CHECK(drive_until(m, &t[2], 2, "id: 2\n"));
    CHECK(strstr(t[2].res.body, "id: 1\n") != NULL);
    CHECK(strstr(t[3].res.body, "id: 1\n") == NULL);
    CHECK(strstr(t[2].res.body, "text/event-stream") == NULL); /* the header is not in the body */

    /* an unknown watch has no stream; a deleted watch is gone */
    snprintf(url, sizeof(url), "%s/v1/watches/99/events", srv.url);
    e2e_get(&client, E2E_H1, url, NULL, &res);
    CHECK_EQ_INT(res.status, 404);
    e2e_response_free(&res);
    snprintf(url, sizeof(url), "%s/v1/watches/1", srv.url);
    e2e_request(&client, E2E_H1, "DELETE", url, NULL, NULL, 0, &res);
    CHECK_EQ_INT(res.status, 204);
    e2e_response_free(&res);
    e2e_get(&client, E2E_H1, url, NULL, &res);
    CHECK_EQ_INT(res.status, 404);
    e2e_response_free(&res);

    /* one more watch, to outlive the restarts below */
    snprintf(url, sizeof(url), "%s/v1/watches", srv.url);
    e2e_request(&client, E2E_H1, "POST", url, json, good, strlen(good), &res);
    CHECK_EQ_INT(res.status, 201);
    CHECK(strstr(res.body, "\"id\":2,") != NULL);
    e2e_response_free(&res);

    /* a graceful stop ends the open streams cleanly */
    e2e_server_signal(&srv, SIGTERM);
    CHECK_EQ_INT(drive_to_end(m, t, 4), 4);
    CHECK_EQ_INT(e2e_server_wait(&srv, 15000), 0);
    e2e_server_stop(&srv);
    for (int i = 0; i < 4; i++) {
        curl_multi_remove_handle(m, t[i].curl);
        e2e_transfer_free(&t[i]);
    }

    /* durable: watch 2 is back, 1 stays deleted, ids are not reused; then kill -9 loses no watch */
    if (e2e_server_start(&srv, argv[1], data_dir, extra) != 0)
        return 1;
    snprintf(url, sizeof(url), "%s/v1/watches/2", srv.url);
    e2e_get(&client, E2E_H1, url, NULL, &res);
    CHECK_EQ_INT(res.status, 200);
    CHECK(strstr(res.body, "\"matching\":0,") != NULL); /* one business seat left: not enough for two */
    e2e_response_free(&res);
    snprintf(url, sizeof(url), "%s/v1/watches/1", srv.url);
    e2e_get(&client, E2E_H1, url, NULL, &res);
    CHECK_EQ_INT(res.status, 404);
    e2e_response_free(&res);
    snprintf(url, sizeof(url), "%s/v1/watches", srv.url);
    e2e_request(&client, E2E_H1, "POST", url, json, good, strlen(good), &res);
    CHECK_EQ_INT(res.status, 201);
    CHECK(strstr(res.body, "\"id\":3,") != NULL);
    e2e_response_free(&res);
    kill(srv.pid, SIGKILL);
    CHECK_EQ_INT(e2e_server_wait(&srv, 10000), 128 + SIGKILL);
    e2e_server_stop(&srv);
    if (e2e_server_start(&srv, argv[1], data_dir, extra) != 0)
        return 1;
    snprintf(url, sizeof(url), "%s/v1/watches", srv.url);
    e2e_get(&client, E2E_H1, url, NULL, &res);
    CHECK(strstr(res.body, "\"id\":2,") != NULL && strstr(res.body, "\"id\":3,") != NULL);
    e2e_response_free(&res);

    /* event ids of this run are above the earlier runs': a client resuming from 2 gets the new event */
    snprintf(url, sizeof(url), "%s/v1/events", srv.url);
    e2e_transfer_init(&t[0], E2E_H1, url, from1);
    curl_multi_add_handle(m, t[0].curl);
    CHECK(drive_until(m, t, 1, ": watching"));
    CHECK_EQ_INT(push(&client, &srv, "delta", 45, 2), 200);
    /* one event per watch: they may come in two reads, so wait for each */
    CHECK(drive_until(m, t, 1, "\"watch_id\":2,"));
    CHECK(drive_until(m, t, 1, "\"watch_id\":3,"));
    CHECK(strstr(t[0].res.body, "\"kind\":\"opened\"") != NULL);
    CHECK(strstr(t[0].res.body, "id: 1\n") == NULL && strstr(t[0].res.body, "id: 2\n") == NULL);
    CHECK_EQ_INT(e2e_server_stop(&srv), 0);
    drive_to_end(m, t, 1);
    curl_multi_remove_handle(m, t[0].curl);
    e2e_transfer_free(&t[0]);
    curl_multi_cleanup(m);
    e2e_client_free(&client);
    e2e_rmtree(data_dir);
    e2e_rmtree(etc_dir);
    TEST_DONE();
}
