/*
 * Trips end to end, against the real binary (docs/api.md, "Trips"): round trips with a return
 * range and with stays, paged by cursor across a publish; an open jaw; a 3-city POST with its ETag
 * and 304; the date grid; and the 400s that name the field, the 405 and the 413.
 *
 * Data, pushed as JSON snapshots (UTC times worked out by hand in the comments):
 *   tap:  O1 TP1 GRU-LIS 12-10 08:00-03:00 (11:00Z) -> 21:30Z   economy 30000, business 90000
 *         O2 TP3 GRU-LIS 12-10 21:35-03:00 (00:35Z 12-11) -> 11:05Z 12-11   economy 25000
 *         R1 TP2 LIS-GRU 12-10 22:00Z -> 09:00Z 12-11            economy 20000 (before either arrives + 60)
 *         R2 TP4 LIS-GRU 12-20 10:00Z -> 20:00Z                  economy 40000, business 80000
 *         R3 TP6 LIS-GRU 12-21 10:00Z -> 20:00Z                  economy 35000
 *         M1 TP10 LIS-MAD 12-15 09:00Z -> 10:15Z                 economy 8000
 *         M2 TP12 MAD-GRU 12-20 23:00+01:00 (22:00Z) -> 09:00Z 12-21   economy 45000
 *   star (published between two pages):
 *         S1 ST7 LIS-GRU 12-20 12:00Z -> 22:00Z                  economy 36000
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tests/e2e/e2e_check.h"
#include "tests/e2e/lib_server.h"

#define TOKEN "trips-test-token-0123456789abcdef"

static e2e_client_t client;
static e2e_server_t srv;

static const char *const tap_legs =
    "{\"carrier\": \"TP\", \"flight\": 1, \"origin\": \"GRU\", \"destination\": \"LIS\", \"departs_at\": \"2026-12-10T08:00:00-03:00\","
    " \"arrives_at\": \"2026-12-10T21:30:00+00:00\", \"cabins\": {\"economy\": {\"seats\": 4, \"miles\": 30000, \"taxes_cents\": 1000,"
    " \"currency\": \"BRL\"}, \"business\": {\"seats\": 2, \"miles\": 90000, \"taxes_cents\": 3000, \"currency\": \"BRL\"}}},"
    "{\"carrier\": \"TP\", \"flight\": 3, \"origin\": \"GRU\", \"destination\": \"LIS\", \"departs_at\": \"2026-12-10T21:35:00-03:00\","
    " \"arrives_at\": \"2026-12-11T11:05:00+00:00\", \"cabins\": {\"economy\": {\"seats\": 3, \"miles\": 25000, \"taxes_cents\": 900,"
    " \"currency\": \"BRL\"}}},"
    "{\"carrier\": \"TP\", \"flight\": 2, \"origin\": \"LIS\", \"destination\": \"GRU\", \"departs_at\": \"2026-12-10T22:00:00+00:00\","
    " \"arrives_at\": \"2026-12-11T06:00:00-03:00\", \"cabins\": {\"economy\": {\"seats\": 4, \"miles\": 20000, \"taxes_cents\": 500,"
    " \"currency\": \"EUR\"}}},"
    "{\"carrier\": \"TP\", \"flight\": 4, \"origin\": \"LIS\", \"destination\": \"GRU\", \"departs_at\": \"2026-12-20T10:00:00+00:00\","
    " \"arrives_at\": \"2026-12-20T17:00:00-03:00\", \"cabins\": {\"economy\": {\"seats\": 5, \"miles\": 40000, \"taxes_cents\": 700,"
    " \"currency\": \"EUR\"}, \"business\": {\"seats\": 1, \"miles\": 80000, \"taxes_cents\": 2000, \"currency\": \"EUR\"}}},"
    "{\"carrier\": \"TP\", \"flight\": 6, \"origin\": \"LIS\", \"destination\": \"GRU\", \"departs_at\": \"2026-12-21T10:00:00+00:00\","
    " \"arrives_at\": \"2026-12-21T17:00:00-03:00\", \"cabins\": {\"economy\": {\"seats\": 2, \"miles\": 35000, \"taxes_cents\": 600,"
    " \"currency\": \"EUR\"}}},"
    "{\"carrier\": \"TP\", \"flight\": 10, \"origin\": \"LIS\", \"destination\": \"MAD\", \"departs_at\": \"2026-12-15T09:00:00+00:00\","
    " \"arrives_at\": \"2026-12-15T11:15:00+01:00\", \"cabins\": {\"economy\": {\"seats\": 9, \"miles\": 8000, \"taxes_cents\": 100,"
    " \"currency\": \"EUR\"}}},"
    "{\"carrier\": \"TP\", \"flight\": 12, \"origin\": \"MAD\", \"destination\": \"GRU\", \"departs_at\": \"2026-12-20T23:00:00+01:00\","
    " \"arrives_at\": \"2026-12-21T06:00:00-03:00\", \"cabins\": {\"economy\": {\"seats\": 9, \"miles\": 45000, \"taxes_cents\": 200,"
    " \"currency\": \"EUR\"}}}";

static const char *const star_legs =
    "{\"carrier\": \"ST\", \"flight\": 7, \"origin\": \"LIS\", \"destination\": \"GRU\", \"departs_at\": \"2026-12-20T12:00:00+00:00\","
    " \"arrives_at\": \"2026-12-20T19:00:00-03:00\", \"cabins\": {\"economy\": {\"seats\": 6, \"miles\": 36000, \"taxes_cents\": 800,"
    " \"currency\": \"EUR\"}}}";

static long push(const char *source, const char *legs)
{
    const char *const headers[] = {"Authorization: Bearer " TOKEN, "Content-Type: application/json", NULL};
    size_t cap = strlen(legs) + 300;
    char *body = malloc(cap), url[200];
    snprintf(body, cap, "{\"source\": \"%s\", \"sequence\": 1, \"generated_at\": \"2026-11-21T20:00:00Z\", \"legs\": [%s]}", source,
             legs);
    snprintf(url, sizeof(url), "%s/v1/feeds/%s/snapshot", srv.url, source);
    e2e_response_t res;
    e2e_request(&client, E2E_H1, "PUT", url, headers, body, strlen(body), &res);
    long status = res.status;
    if (status != 200)
        fprintf(stderr, "push %s: %ld %s\n", source, status, res.body ? res.body : "");
    e2e_response_free(&res);
    free(body);
    return status;
}

/* One request as msgpack; *doc decoded when the status is 200. Returns the status. */
static long ask(const char *method, const char *path, const char *body, const char *extra_header, e2e_mp_t *doc,
                e2e_response_t *keep)
{
    char url[1600];
    snprintf(url, sizeof(url), "%s%s", srv.url, path);
    const char *headers[4] = {"Accept: application/msgpack", "Content-Type: application/json", extra_header, NULL};
    e2e_response_t res;
    e2e_request(&client, E2E_H2, method, url, headers, body, body ? strlen(body) : 0, &res);
    long status = res.status;
    if (doc != NULL) {
        doc->root = NULL;
        if (status == 200 && e2e_mp_parse(doc, res.body, res.body_len) != 0)
            fprintf(stderr, "%s %s: not one msgpack document\n", method, path);
    }
    if (keep != NULL)
        *keep = res;
    else
        e2e_response_free(&res);
    return status;
}

/* The trips' ids in order, each "a,b[,c]" */
static void check_ids(const char *what, const e2e_mp_t *doc, const char *const *ids, unsigned n)
{
    const msgpack_object_array *trips = doc->root ? e2e_mp_array(doc->root, "trips") : NULL;
    CHECK(trips != NULL);
    if (trips == NULL)
        return;
    CHECK_EQ_INT(trips->size, n);
    for (unsigned i = 0; i < trips->size && i < n; i++) {
        char buf[400];
        const char *got = e2e_mp_str(&trips->ptr[i], "id", buf, sizeof(buf));
        CHECK_EQ_STR(got, ids[i]);
        if (got == NULL || strcmp(got, ids[i]) != 0)
            fprintf(stderr, "  trip %u of %s\n", i, what);
    }
    e2e_check_int(what, doc->root, "count", n);
}

/* A 400 naming parameter. */
static void refused(const char *method, const char *path, const char *body, const char *parameter)
{
    e2e_response_t res;
    long status = ask(method, path, body, NULL, NULL, &res);
    CHECK_EQ_INT(status, 400);
    char want[80];
    snprintf(want, sizeof(want), "\"parameter\":\"%s\"", parameter);
    CHECK(res.body != NULL && strstr(res.body, want) != NULL);
    if (status != 400 || res.body == NULL || strstr(res.body, want) == NULL)
        fprintf(stderr, "  %s %s: %ld %s (expected 400 naming %s)\n", method, path, status, res.body ? res.body : "", parameter);
    e2e_response_free(&res);
}

#define O1 "tap-TP1-GRU-20261210-Y"
#define O1J "tap-TP1-GRU-20261210-J"
#define O2 "tap-TP3-GRU-20261210-Y"
#define R2 "tap-TP4-LIS-20261220-Y"
#define R3 "tap-TP6-LIS-20261221-Y"
#define S1 "star-ST7-LIS-20261220-Y"
#define M1 "tap-TP10-LIS-20261215-Y"
#define M2 "tap-TP12-MAD-20261220-Y"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s path/to/flightsearch\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    e2e_http_init();
    char data_dir[256], etc_dir[256], tokens[300];
    if (e2e_tmpdir(data_dir, sizeof(data_dir)) != 0 || e2e_tmpdir(etc_dir, sizeof(etc_dir)) != 0)
        return 1;
    snprintf(tokens, sizeof(tokens), "%s/tokens", etc_dir);
    e2e_write_file(tokens, TOKEN " *\n", strlen(TOKEN " *\n"));
    const char *const extra[] = {"--tokens", tokens, NULL};
    if (e2e_server_start(&srv, argv[1], data_dir, extra) != 0)
        return 1;
    e2e_client_init(&client);
    CHECK_EQ_INT(push("tap", tap_legs), 200);

    /* Round trips, economy. R1 departs before either outbound arrives (+60 min): no pair. Valid:
     * O2+R3 60000, O2+R2 65000, O1+R3 65000 (the tie goes to O2, cheaper as a slice), O1+R2 70000. */
    const char *rt = "/v1/trips?origin=GRU&destination=LIS&date=2026-12-10&return_start_date=2026-12-10&return_end_date=2026-12-21"
                     "&cabin=economy&limit=2";
    e2e_mp_t doc;
    CHECK_EQ_INT(ask("GET", rt, NULL, NULL, &doc, NULL), 200);
    const char *page1[] = {O2 "," R3, O2 "," R2};
    check_ids("round trips, page 1", &doc, page1, 2);
    e2e_check_int("round trips", doc.root, "total", 4);
    const msgpack_object_array *trips = e2e_mp_array(doc.root, "trips");
    if (trips != NULL && trips->size > 0) { /* the first trip's sums: BRL 900, EUR 600 */
        e2e_check_int("trip 1", &trips->ptr[0], "miles", 60000);
        e2e_check_int("trip 1", &trips->ptr[0], "duration_min", 630 + 600); /* 00:35Z-11:05Z, 10:00Z-20:00Z */
        e2e_check_int("trip 1", &trips->ptr[0], "seats", 2);
        const msgpack_object_array *taxes = e2e_mp_array(&trips->ptr[0], "taxes");
        CHECK(taxes != NULL && taxes->size == 2);
        if (taxes != NULL && taxes->size == 2) {
            e2e_check_str("taxes", &taxes->ptr[0], "currency", "BRL");
            e2e_check_int("taxes", &taxes->ptr[0], "taxes_cents", 900);
            e2e_check_str("taxes", &taxes->ptr[1], "currency", "EUR");
            e2e_check_int("taxes", &taxes->ptr[1], "taxes_cents", 600);
        }
        const msgpack_object_array *slices = e2e_mp_array(&trips->ptr[0], "slices");
        CHECK(slices != NULL && slices->size == 2);
        if (slices != NULL && slices->size == 2) {
            e2e_check_str("slice 2", &slices->ptr[1], "origin", "LIS");
            e2e_check_str("slice 2", &slices->ptr[1], "departs_at", "2026-12-21T10:00:00+00:00");
        }
    }
    char cursor[1200] = "";
    e2e_mp_str(doc.root, "next_cursor", cursor, sizeof(cursor));
    CHECK(cursor[0] == 'T');
    e2e_mp_free(&doc);

    /* star publishes S1 (36000): O2+S1 61000 lands before the cursor (not shown), O1+S1 66000
     * after it. The cursor continues after O2+R2: O1+R3, O1+S1, then O1+R2. */
    CHECK_EQ_INT(push("star", star_legs), 200);
    char path[1600];
    snprintf(path, sizeof(path), "%s&cursor=%s", rt, cursor);
    CHECK_EQ_INT(ask("GET", path, NULL, NULL, &doc, NULL), 200);
    const char *page2[] = {O1 "," R3, O1 "," S1};
    check_ids("round trips, page 2 after a publish", &doc, page2, 2);
    e2e_check_int("round trips after a publish", doc.root, "total", 6);
    e2e_mp_str(doc.root, "next_cursor", cursor, sizeof(cursor));
    e2e_mp_free(&doc);
    snprintf(path, sizeof(path), "%s&cursor=%s", rt, cursor);
    CHECK_EQ_INT(ask("GET", path, NULL, NULL, &doc, NULL), 200);
    const char *page3[] = {O1 "," R2};
    check_ids("round trips, page 3", &doc, page3, 1);
    CHECK(doc.root != NULL && e2e_mp_is_nil(doc.root, "next_cursor"));
    e2e_mp_free(&doc);
    /* a cursor of another sort names cursor */
    snprintf(path, sizeof(path), "%s&sort=duration&cursor=%s", rt, cursor);
    refused("GET", path, NULL, "cursor");

    /* stays of exactly 10 days: returns of 12-20 only (R2, S1), cheapest first */
    CHECK_EQ_INT(ask("GET", "/v1/trips?origin=GRU&destination=LIS&date=2026-12-10&min_stay=10&max_stay=10&cabin=economy", NULL,
                     NULL, &doc, NULL),
                 200);
    const char *stays[] = {O2 "," S1, O2 "," R2, O1 "," S1, O1 "," R2};
    check_ids("stays", &doc, stays, 4);
    e2e_check_int("stays", doc.root, "total", 4);
    e2e_mp_free(&doc);

    /* an open jaw: home from Madrid */
    CHECK_EQ_INT(ask("GET", "/v1/trips?origin=GRU&destination=LIS&date=2026-12-10&return_origin=MAD&return_date=2026-12-20&cabin=economy",
                     NULL, NULL, &doc, NULL),
                 200);
    const char *jaw[] = {O2 "," M2, O1 "," M2};
    check_ids("open jaw", &doc, jaw, 2);
    e2e_mp_free(&doc);

    /* three cities, POSTed: 25000 + 8000 + 45000 and 30000 + 8000 + 45000 */
    const char *multi = "{\"slices\": [{\"origin\": \"GRU\", \"destination\": \"LIS\", \"date\": \"2026-12-10\"},"
                        " {\"origin\": \"LIS\", \"destination\": \"MAD\", \"date\": \"2026-12-15\"},"
                        " {\"origin\": \"MAD\", \"destination\": \"GRU\", \"date\": \"2026-12-20\"}], \"cabin\": \"economy\"}";
    e2e_response_t res;
    CHECK_EQ_INT(ask("POST", "/v1/trips", multi, NULL, &doc, &res), 200);
    const char *three[] = {O2 "," M1 "," M2, O1 "," M1 "," M2};
    check_ids("multi-city", &doc, three, 2);
    if (doc.root != NULL && e2e_mp_array(doc.root, "trips") != NULL && e2e_mp_array(doc.root, "trips")->size > 0)
        e2e_check_int("multi-city", &e2e_mp_array(doc.root, "trips")->ptr[0], "miles", 78000);
    e2e_mp_free(&doc);
    char etag[100] = "", inm[140];
    const char *h = e2e_header(&res, "etag");
    CHECK(h != NULL);
    snprintf(etag, sizeof(etag), "%s", h ? h : "");
    e2e_response_free(&res);
    snprintf(inm, sizeof(inm), "If-None-Match: %s", etag);
    CHECK_EQ_INT(ask("POST", "/v1/trips", multi, inm, NULL, NULL), 304);
    /* another body, another document: not a 304 */
    const char *multi2 = "{\"slices\": [{\"origin\": \"GRU\", \"destination\": \"LIS\", \"date\": \"2026-12-10\"},"
                         " {\"origin\": \"LIS\", \"destination\": \"MAD\", \"date\": \"2026-12-15\"}]}";
    CHECK_EQ_INT(ask("POST", "/v1/trips", multi2, inm, NULL, NULL), 200);

    /* The grid, both sources. (12-10, 12-20): outbound O1 Y, O1 J, O2 Y with returns R2 Y, R2 J,
     * S1 Y, all valid: O1J+R2J is business (170000), the other 8 economy (the lower cabin), the
     * cheapest O2+S1 61000. (12-10, 12-21): R3 with the three: economy, 3, O2+R3 60000. */
    CHECK_EQ_INT(ask("GET", "/v1/calendar/trips?origin=GRU&destination=LIS&start_date=2026-12-10&end_date=2026-12-11"
                            "&return_start_date=2026-12-20&return_end_date=2026-12-21",
                     NULL, NULL, &doc, NULL),
                 200);
    const msgpack_object_array *cells = doc.root ? e2e_mp_array(doc.root, "cells") : NULL;
    CHECK(cells != NULL && cells->size == 2);
    if (cells != NULL && cells->size == 2) {
        e2e_check_str("cell 1", &cells->ptr[0], "date", "2026-12-10");
        e2e_check_str("cell 1", &cells->ptr[0], "return_date", "2026-12-20");
        const msgpack_object *y = e2e_mp_get(&cells->ptr[0], "economy"), *j = e2e_mp_get(&cells->ptr[0], "business");
        CHECK(y != NULL && j != NULL && e2e_mp_get(&cells->ptr[0], "premium") == NULL);
        if (y != NULL && j != NULL) {
            e2e_check_int("cell 1 economy", y, "min_miles", 61000);
            e2e_check_int("cell 1 economy", y, "count", 8);
            e2e_check_int("cell 1 business", j, "min_miles", 170000);
            e2e_check_int("cell 1 business", j, "count", 1);
        }
        e2e_check_str("cell 2", &cells->ptr[1], "return_date", "2026-12-21");
        y = e2e_mp_get(&cells->ptr[1], "economy");
        CHECK(y != NULL && e2e_mp_get(&cells->ptr[1], "business") == NULL);
        if (y != NULL) {
            e2e_check_int("cell 2 economy", y, "min_miles", 60000);
            e2e_check_int("cell 2 economy", y, "count", 3);
        }
    }
    e2e_mp_free(&doc);

    /* bad input names the field */
    refused("GET", "/v1/trips?origin=GRU&destination=LIS&date=2026-12-10&return_date=2026-12-09", NULL, "return_date");
    refused("GET", "/v1/trips?origin=GRU&destination=LIS&date=2026-12-10", NULL, "return_date");
    refused("GET", "/v1/trips?origin=GRU&destination=LIS&date=2026-12-10&min_stay=5&max_stay=3", NULL, "max_stay");
    refused("GET", "/v1/trips?origin=GRU&destination=LIS&date=2026-12-10&min_stay=91&max_stay=95", NULL, "min_stay");
    refused("GET", "/v1/trips?origin=GRU&destination=LIS&date=2026-12-10&min_stay=5", NULL, "max_stay");
    refused("GET", "/v1/trips?origin=GRU&destination=LIS&date=2026-12-10&return_date=2026-12-20&return_origin=MADX", NULL,
            "return_origin");
    refused("GET", "/v1/trips?origin=GRU&destination=LIS&date=2026-12-10&return_date=2026-12-20&max_stops=9", NULL, "max_stops");
    refused("GET", "/v1/calendar/trips?origin=GRU&destination=LIS&start_date=2026-12-01&end_date=2027-01-01"
                   "&return_start_date=2026-12-10&return_end_date=2026-12-20",
            NULL, "end_date");
    refused("GET", "/v1/calendar/trips?origin=GRU&destination=LIS&start_date=2026-12-01&end_date=2026-12-02"
                   "&return_start_date=2026-12-10&return_end_date=2027-01-20",
            NULL, "return_end_date");
    refused("POST", "/v1/trips", "{\"slices\": [{\"origin\": \"GRU\", \"destination\": \"LIS\", \"date\": \"2026-12-10\"}]}",
            "slices");
    const char *five = "{\"slices\": [{\"origin\": \"GRU\", \"destination\": \"LIS\", \"date\": \"2026-12-10\"},"
                       "{\"origin\": \"LIS\", \"destination\": \"MAD\", \"date\": \"2026-12-11\"},"
                       "{\"origin\": \"MAD\", \"destination\": \"LIS\", \"date\": \"2026-12-12\"},"
                       "{\"origin\": \"LIS\", \"destination\": \"MAD\", \"date\": \"2026-12-13\"},"
                       "{\"origin\": \"MAD\", \"destination\": \"GRU\", \"date\": \"2026-12-14\"}]}";
    refused("POST", "/v1/trips", five, "slices");
    refused("POST", "/v1/trips",
            "{\"slices\": [{\"origin\": \"GRU\", \"destination\": \"LIS\", \"date\": \"2026-12-10\"},"
            " {\"origin\": \"LISX\", \"destination\": \"GRU\", \"date\": \"2026-12-20\"}]}",
            "slices[1].origin");
    refused("POST", "/v1/trips",
            "{\"slices\": [{\"origin\": \"GRU\", \"destination\": \"LIS\", \"date\": \"2026-12-10\"},"
            " {\"origin\": \"LIS\", \"destination\": \"GRU\", \"date\": \"2026-12-09\"}]}",
            "slices");
    refused("POST", "/v1/trips",
            "{\"slices\": [{\"origin\": \"GRU\", \"destination\": \"LIS\", \"date\": \"2026-12-10\"},"
            " {\"origin\": \"LIS\", \"destination\": \"GRU\", \"date\": \"2026-12-20\"}], \"cabin\": \"lounge\"}",
            "cabin");
    CHECK_EQ_INT(ask("PUT", "/v1/trips", "{}", NULL, NULL, NULL), 405);
    CHECK_EQ_INT(ask("POST", "/v1/calendar/trips", "{}", NULL, NULL, NULL), 405);
    CHECK_EQ_INT(ask("GET", "/v1/trips?origin=GRU&destination=LIS&date=2026-12-10&return_date=2026-12-20", "{}", NULL, NULL, NULL),
                 413);

    e2e_client_free(&client);
    CHECK_EQ_INT(e2e_server_stop(&srv), 0);
    e2e_rmtree(data_dir);
    e2e_rmtree(etc_dir);
    TEST_DONE();
}
