/*
 * tests/unit/test_src_results.c: a search result as src/handlers.c writes it (fs_enc_search_result),
 * for the writer's fast paths: dates and local times formatted by hand through the writer's date
 * cache, ids without snprintf, codes without an escape scan. Expected documents are hand-written
 * (the day numbers were computed apart, with Python's datetime).
 */
#include <stdio.h>
#include <string.h>
#include <msgpack.h>

#include "index/index.h"
#include "src/enc.h"
#include "src/internal.h"
#include "tests/test.h"

static fs_fare_t fare_page[1];
static const fs_fare_t *fare_pages[1] = {fare_page};

/* A nonstop tap TP81 GRU->LIS in economy with 4 seats, departing day at 23:50 at dep_q quarter
 * hours from UTC, 600 minutes, arriving at UTC+0. */
static void make_result(fs_segment_t *seg, fs_leg_t *leg, fs_result_t *r, uint16_t day, int8_t dep_q)
{
    memset(seg, 0, sizeof(*seg));
    memset(leg, 0, sizeof(*leg));
    memset(r, 0, sizeof(*r));
    strcpy(seg->source, "tap");
    seg->fare_pages = fare_pages;
    seg->fare_count = 1;
    CHECK(fs_carrier_parse("TP", 2, &leg->carrier) == 0);
    CHECK(fs_airport_parse("GRU", 3, &leg->origin) == 0);
    CHECK(fs_airport_parse("LIS", 3, &leg->destination) == 0);
    leg->flight = 81;
    leg->day = day;
    leg->dep_minute = 23 * 60 + 50;
    leg->dep_offset_q = dep_q;
    leg->arr_offset_q = 0;
    leg->duration_min = 600;
    leg->cabin_mask = 1;
    leg->cabin[FS_CABIN_ECONOMY] = 4u << 25;
    r->segment = seg;
    r->leg = leg;
    r->cabin = FS_CABIN_ECONOMY;
    r->leg_cabin[0] = FS_CABIN_ECONOMY;
    r->seats = 4;
    r->miles = 35000;
    r->taxes_cents = 12345;
    r->currency = fare_page[0].currency;
    r->duration_min = 600;
}

static const char *json_of(fs_enc_t *e)
{
    static char text[1 << 16];
    h2o_iovec_t v = fs_enc_result(e);
    if (v.base == NULL || v.len >= sizeof(text))
        return "";
    memcpy(text, v.base, v.len);
    text[v.len] = '\0';
    return text;
}

static void test_one_result(void)
{
    fs_segment_t seg;
    fs_leg_t leg;
    fs_result_t r;
    fs_enc_t e;

    make_result(&seg, &leg, &r, 19782, -12); /* 2024-02-29, -03:00 */
    fs_enc_init(&e, FS_ENC_JSON, NULL, 0);
    fs_enc_search_result(&e, &r, FS_FIELDS_ALL);
    CHECK_EQ_STR(json_of(&e),
                 "{\"id\":\"tap-TP81-GRU-20240229-Y\",\"origin\":\"GRU\",\"destination\":\"LIS\",\"date\":\"2024-02-29\","
                 "\"departs_at\":\"2024-02-29T23:50:00-03:00\",\"arrives_at\":\"2024-03-01T12:50:00+00:00\","
                 "\"duration_min\":600,\"stops\":0,\"cabin\":\"economy\",\"miles\":35000,\"taxes_cents\":12345,"
                 "\"currency\":\"EUR\",\"seats\":4,\"source\":\"tap\",\"last_seen\":\"1970-01-01T00:00:00Z\","
                 "\"segments\":[{\"carrier\":\"TP\",\"flight\":81,\"origin\":\"GRU\",\"destination\":\"LIS\","
                 "\"departs_at\":\"2024-02-29T23:50:00-03:00\",\"arrives_at\":\"2024-03-01T12:50:00+00:00\","
                 "\"duration_min\":600,\"cabin\":\"economy\",\"seats\":4,\"miles\":35000,\"source\":\"tap\"}]}");
    fs_enc_dispose(&e);
}

/* Month and year ends, leap days (2024 is leap, 2100 is not), the epoch and the last storable day,
 * all in one document so the writer's date cache sees days come and go; a -09:30 offset. */
static void test_dates(void)
{
    static const struct {
        uint16_t day;
        const char *expected;
    } cases[] = {
        {0, "\"id\":\"tap-TP81-GRU-19700101-Y\",\"origin\":\"GRU\",\"destination\":\"LIS\",\"date\":\"1970-01-01\","
            "\"departs_at\":\"1970-01-01T23:50:00-09:30\",\"arrives_at\":\"1970-01-02T19:20:00+00:00\""},
        {19722, "\"date\":\"2023-12-31\",\"departs_at\":\"2023-12-31T23:50:00-09:30\",\"arrives_at\":\"2024-01-01T19:20:00+00:00\""},
        {19753, "\"date\":\"2024-01-31\",\"departs_at\":\"2024-01-31T23:50:00-09:30\",\"arrives_at\":\"2024-02-01T19:20:00+00:00\""},
        {19781, "\"date\":\"2024-02-28\",\"departs_at\":\"2024-02-28T23:50:00-09:30\",\"arrives_at\":\"2024-02-29T19:20:00+00:00\""},
        {19782, "\"date\":\"2024-02-29\",\"departs_at\":\"2024-02-29T23:50:00-09:30\",\"arrives_at\":\"2024-03-01T19:20:00+00:00\""},
        {20088, "\"date\":\"2024-12-31\",\"departs_at\":\"2024-12-31T23:50:00-09:30\",\"arrives_at\":\"2025-01-01T19:20:00+00:00\""},
        {47481, "\"date\":\"2099-12-31\",\"departs_at\":\"2099-12-31T23:50:00-09:30\",\"arrives_at\":\"2100-01-01T19:20:00+00:00\""},
        {47540, "\"id\":\"tap-TP81-GRU-21000228-Y\",\"origin\":\"GRU\",\"destination\":\"LIS\",\"date\":\"2100-02-28\","
                "\"departs_at\":\"2100-02-28T23:50:00-09:30\",\"arrives_at\":\"2100-03-01T19:20:00+00:00\""},
        {65534, "\"date\":\"2149-06-05\",\"departs_at\":\"2149-06-05T23:50:00-09:30\",\"arrives_at\":\"2149-06-06T19:20:00+00:00\""},
        {19782, "\"date\":\"2024-02-29\",\"departs_at\":\"2024-02-29T23:50:00-09:30\",\"arrives_at\":\"2024-03-01T19:20:00+00:00\""},
    };
    size_t n = sizeof(cases) / sizeof(cases[0]);
    fs_segment_t seg[sizeof(cases) / sizeof(cases[0])];
    fs_leg_t leg[sizeof(cases) / sizeof(cases[0])];
    fs_result_t r[sizeof(cases) / sizeof(cases[0])];
    fs_enc_t e;

    fs_enc_init(&e, FS_ENC_JSON, NULL, 0);
    fs_enc_array_begin(&e);
    for (size_t i = 0; i < n; i++) {
        make_result(&seg[i], &leg[i], &r[i], cases[i].day, -38);
        fs_enc_search_result(&e, &r[i], FS_FIELDS_ALL);
    }
    fs_enc_array_end(&e);
    const char *doc = json_of(&e);
    for (size_t i = 0; i < n; i++) {
        const char *at = strstr(doc, cases[i].expected);
        CHECK(at != NULL);
        if (at == NULL)
            fprintf(stderr, "  missing: %s\n", cases[i].expected);
        else
            doc = at + strlen(cases[i].expected); /* in order: result i after result i - 1 */
    }
    fs_enc_dispose(&e);

    /* The same result in msgpack: the date strings are fixstr of 10 and 25 bytes. */
    fs_enc_init(&e, FS_ENC_MSGPACK, NULL, 0);
    fs_enc_search_result(&e, &r[4], FS_FIELDS_ALL);
    h2o_iovec_t v = fs_enc_result(&e);
    static const char date[] = "\xaa" "2024-02-29", departs[] = "\xb9" "2024-02-29T23:50:00-09:30";
    CHECK(v.base != NULL && memmem(v.base, v.len, date, sizeof(date) - 1) != NULL);
    CHECK(v.base != NULL && memmem(v.base, v.len, departs, sizeof(departs) - 1) != NULL);
    fs_enc_dispose(&e);
}

/* Partial results (`fields`): only the selected fields, in the full result's order; a selection
 * inside segments applies to every segment. The msgpack map counts are the selected fields'. */
static void test_fields(void)
{
    fs_segment_t seg;
    fs_leg_t leg;
    fs_result_t r;
    fs_enc_t e;
    make_result(&seg, &leg, &r, 19782, -12);
    fs_fields_t f = (fs_fields_t)1 << FS_FIELD_R_MILES | (fs_fields_t)1 << FS_FIELD_R_ID |
                    (fs_fields_t)1 << FS_FIELD_R_SEGMENTS | (fs_fields_t)1 << FS_FIELD_S_CARRIER |
                    (fs_fields_t)1 << FS_FIELD_S_ARRIVES_AT;
    fs_enc_init(&e, FS_ENC_JSON, NULL, 0);
    fs_enc_search_result(&e, &r, f);
    CHECK_EQ_STR(json_of(&e), "{\"id\":\"tap-TP81-GRU-20240229-Y\",\"miles\":35000,"
                              "\"segments\":[{\"carrier\":\"TP\",\"arrives_at\":\"2024-03-01T12:50:00+00:00\"}]}");
    fs_enc_dispose(&e);

    fs_enc_init(&e, FS_ENC_JSON, NULL, 0);
    fs_enc_search_result(&e, &r, (fs_fields_t)1 << FS_FIELD_R_LAST_SEEN | (fs_fields_t)1 << FS_FIELD_S_SOURCE);
    CHECK_EQ_STR(json_of(&e), "{\"last_seen\":\"1970-01-01T00:00:00Z\"}"); /* segments' fields without segments: none */
    fs_enc_dispose(&e);

    fs_enc_init(&e, FS_ENC_JSON, NULL, 0);
    fs_enc_search_result(&e, &r, 0);
    CHECK_EQ_STR(json_of(&e), "{}");
    fs_enc_dispose(&e);

    fs_enc_init(&e, FS_ENC_MSGPACK, NULL, 0);
    fs_enc_search_result(&e, &r, f);
    h2o_iovec_t v = fs_enc_result(&e);
    msgpack_unpacked doc;
    msgpack_unpacked_init(&doc);
    size_t off = 0;
    int ok = v.base != NULL && msgpack_unpack_next(&doc, v.base, v.len, &off) == MSGPACK_UNPACK_SUCCESS && off == v.len;
    CHECK(ok);
    if (ok) {
        const msgpack_object *root = &doc.data;
        CHECK(root->type == MSGPACK_OBJECT_MAP && root->via.map.size == 3);
        if (root->type == MSGPACK_OBJECT_MAP && root->via.map.size == 3) {
            const msgpack_object *miles = &root->via.map.ptr[1].val;
            CHECK(miles->type == MSGPACK_OBJECT_POSITIVE_INTEGER && miles->via.u64 == 35000);
            const msgpack_object *segs = &root->via.map.ptr[2].val;
            CHECK(segs->type == MSGPACK_OBJECT_ARRAY && segs->via.array.size == 1 &&
                  segs->via.array.ptr[0].type == MSGPACK_OBJECT_MAP && segs->via.array.ptr[0].via.map.size == 2);
        }
    }
    msgpack_unpacked_destroy(&doc);
    fs_enc_dispose(&e);
}

/* The buffer estimate covers what is written: results of one, two and three legs with the longest
 * source names and numbers, in JSON and msgpack. */
static void test_size_estimate(void)
{
    fs_segment_t seg[3];
    fs_leg_t leg[3];
    fs_result_t r[3], whole;
    for (int i = 0; i < 3; i++) {
        make_result(&seg[i], &leg[i], &r[i], 65534, -38);
        memset(seg[i].source, 'a' + i, FS_SOURCE_NAME_MAX);
        seg[i].source[FS_SOURCE_NAME_MAX] = '\0';
        leg[i].flight = FS_MAX_FLIGHT;
        leg[i].duration_min = 1799;
        leg[i].cabin[FS_CABIN_ECONOMY] = 99u << 25;
    }
    whole = r[0];
    whole.miles = UINT32_MAX;
    whole.taxes_cents = UINT64_MAX;
    whole.duration_min = UINT32_MAX;
    for (int legs = 1; legs <= 3; legs++) {
        whole.segment2 = legs > 1 ? &seg[1] : NULL;
        whole.leg2 = legs > 1 ? &leg[1] : NULL;
        whole.segment3 = legs > 2 ? &seg[2] : NULL;
        whole.leg3 = legs > 2 ? &leg[2] : NULL;
        for (int format = 0; format < 2; format++) {
            fs_enc_t e;
            fs_enc_init(&e, format ? FS_ENC_MSGPACK : FS_ENC_JSON, NULL, 0);
            fs_enc_search_result(&e, &whole, FS_FIELDS_ALL);
            h2o_iovec_t v = fs_enc_result(&e);
            CHECK(v.base != NULL && v.len <= fs_enc_result_size(&whole));
            if (v.base != NULL && v.len > fs_enc_result_size(&whole))
                fprintf(stderr, "  %d legs: %zu bytes written, %zu estimated\n", legs, v.len, fs_enc_result_size(&whole));
            fs_enc_dispose(&e);
        }
    }
}

int main(void)
{
    CHECK(fs_currency_parse("EUR", 3, &fare_page[0].currency) == 0);
    fare_page[0].miles = 35000;
    fare_page[0].taxes_cents = 12345;
    test_one_result();
    test_dates();
    test_fields();
    test_size_estimate();
    TEST_DONE();
}
