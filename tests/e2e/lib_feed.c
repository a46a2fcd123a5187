/*
 * tests/e2e/lib_feed.c: snapshot files written by the tests, and the tests' own calendar
 * arithmetic. Written from the feed format in loaders/loaders.h's documentation and the
 * brief, not from the server's code: days are counted year by year and month by month.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/e2e/lib_server.h"

const char *const e2e_cabin_names[E2E_CABINS] = {"economy", "premium", "business", "first"};
const char e2e_cabin_letters[E2E_CABINS] = {'Y', 'W', 'J', 'F'};

/* ---------------------------------------------------------------- time */

static int leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_len(int y, int m)
{
    static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return len[m - 1] + (m == 2 && leap(y));
}

int32_t e2e_days(int year, int month, int day)
{
    int32_t n = 0;
    for (int y = 1970; y < year; y++)
        n += leap(y) ? 366 : 365;
    for (int m = 1; m < month; m++)
        n += month_len(year, m);
    return n + day - 1;
}

void e2e_civil(int32_t days, int *year, int *month, int *day)
{
    int y = 1970, m = 1;
    while (days >= (leap(y) ? 366 : 365)) {
        days -= leap(y) ? 366 : 365;
        y++;
    }
    while (days >= month_len(y, m)) {
        days -= month_len(y, m);
        m++;
    }
    *year = y;
    *month = m;
    *day = (int)days + 1;
}

static int num(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int e2e_time_parse(const char *s, e2e_time_t *t)
{
    size_t len = strlen(s);
    memset(t, 0, sizeof(*t));
    if (len < 17 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':')
        return -1;
    t->year = num(s, 4);
    t->month = num(s + 5, 2);
    t->day = num(s + 8, 2);
    t->hour = num(s + 11, 2);
    t->minute = num(s + 14, 2);
    const char *p = s + 16;
    if (*p == ':') {
        t->second = num(p + 1, 2);
        p += 3;
    }
    if (*p == 'Z' && p[1] == '\0') {
        t->offset_min = 0;
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        int h = num(p + 1, 2), m = num(p + 4, 2);
        if (h < 0 || m < 0)
            return -1;
        t->offset_min = (*p == '-' ? -1 : 1) * (h * 60 + m);
    } else {
        return -1;
    }
    if (t->year < 1970 || t->month < 1 || t->month > 12 || t->day < 1 || t->day > month_len(t->year, t->month) || t->hour < 0 ||
        t->hour > 23 || t->minute < 0 || t->minute > 59 || t->second < 0 || t->second > 59)
        return -1;
    return 0;
}

int64_t e2e_time_utc_min(const e2e_time_t *t)
{
    return (int64_t)e2e_days(t->year, t->month, t->day) * 1440 + t->hour * 60 + t->minute - t->offset_min;
}

int64_t e2e_time_utc_sec(const e2e_time_t *t)
{
    return e2e_time_utc_min(t) * 60 + t->second;
}

void e2e_time_format_local(const e2e_time_t *t, char out[32])
{
    int off = t->offset_min < 0 ? -t->offset_min : t->offset_min;
    snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:00%c%02d:%02d", t->year, t->month, t->day, t->hour, t->minute,
             t->offset_min < 0 ? '-' : '+', off / 60, off % 60);
}

void e2e_date_format(int32_t days, char out[16])
{
    int y, m, d;
    e2e_civil(days, &y, &m, &d);
    snprintf(out, 16, "%04d-%02d-%02d", y, m, d);
}

void e2e_timestamp_format(int64_t unix_seconds, char out[32])
{
    int32_t days = (int32_t)(unix_seconds / 86400);
    int64_t rest = unix_seconds % 86400;
    int y, m, d;
    e2e_civil(days, &y, &m, &d);
    snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d, (int)(rest / 3600), (int)(rest / 60 % 60), (int)(rest % 60));
}

/* --------------------------------------------------------------- feeds */

static void pack_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

void e2e_feed_pack(const e2e_feed_t *f, msgpack_sbuffer *sbuf)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sbuf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    pack_cstr(&pk, "source");
    pack_cstr(&pk, f->source);
    pack_cstr(&pk, "sequence");
    msgpack_pack_uint64(&pk, f->sequence);
    pack_cstr(&pk, "generated_at");
    pack_cstr(&pk, f->generated_at);
    pack_cstr(&pk, "legs");
    msgpack_pack_array(&pk, f->leg_count);
    for (size_t i = 0; i < f->leg_count; i++) {
        const e2e_leg_t *l = &f->legs[i];
        msgpack_pack_map(&pk, 7);
        pack_cstr(&pk, "carrier");
        pack_cstr(&pk, l->carrier);
        pack_cstr(&pk, "flight");
        msgpack_pack_unsigned_int(&pk, l->flight);
        pack_cstr(&pk, "origin");
        pack_cstr(&pk, l->origin);
        pack_cstr(&pk, "destination");
        pack_cstr(&pk, l->destination);
        pack_cstr(&pk, "departs_at");
        pack_cstr(&pk, l->departs_at);
        pack_cstr(&pk, "arrives_at");
        pack_cstr(&pk, l->arrives_at);
        pack_cstr(&pk, "cabins");
        unsigned present = 0;
        for (int c = 0; c < E2E_CABINS; c++)
            present += l->cabin[c].present != 0;
        msgpack_pack_map(&pk, present);
        for (int c = 0; c < E2E_CABINS; c++) {
            const e2e_cabin_t *cab = &l->cabin[c];
            if (!cab->present)
                continue;
            pack_cstr(&pk, e2e_cabin_names[c]);
            msgpack_pack_map(&pk, 4);
            pack_cstr(&pk, "seats");
            msgpack_pack_unsigned_int(&pk, cab->seats);
            pack_cstr(&pk, "miles");
            msgpack_pack_unsigned_int(&pk, cab->miles);
            pack_cstr(&pk, "taxes_cents");
            msgpack_pack_unsigned_int(&pk, cab->taxes_cents);
            pack_cstr(&pk, "currency");
            pack_cstr(&pk, cab->currency);
        }
    }
}

int e2e_feed_write_msgpack(const char *path, const e2e_feed_t *f)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init(&sbuf);
    e2e_feed_pack(f, &sbuf);
    int r = e2e_write_file(path, sbuf.data, sbuf.size);
    msgpack_sbuffer_destroy(&sbuf);
    return r;
}

int e2e_feed_write_json(const char *path, const e2e_feed_t *f)
{
    FILE *out = fopen(path, "w");
    if (out == NULL)
        return -1;
    /* the header last, to show key order does not matter; legs one a line */
    fprintf(out, "{\n  \"legs\": [\n");
    for (size_t i = 0; i < f->leg_count; i++) {
        const e2e_leg_t *l = &f->legs[i];
        fprintf(out,
                "    {\"carrier\": \"%s\", \"flight\": %u, \"origin\": \"%s\", \"destination\": \"%s\", "
                "\"departs_at\": \"%s\", \"arrives_at\": \"%s\", \"cabins\": {",
                l->carrier, l->flight, l->origin, l->destination, l->departs_at, l->arrives_at);
        int first = 1;
        for (int c = 0; c < E2E_CABINS; c++) {
            const e2e_cabin_t *cab = &l->cabin[c];
            if (!cab->present)
                continue;
            fprintf(out, "%s\"%s\": {\"seats\": %u, \"miles\": %u, \"taxes_cents\": %u, \"currency\": \"%s\"}", first ? "" : ", ",
                    e2e_cabin_names[c], cab->seats, cab->miles, cab->taxes_cents, cab->currency);
            first = 0;
        }
        fprintf(out, "}}%s\n", i + 1 < f->leg_count ? "," : "");
    }
    fprintf(out, "  ],\n  \"source\": \"%s\",\n  \"sequence\": %llu,\n  \"generated_at\": \"%s\"\n}\n", f->source,
            (unsigned long long)f->sequence, f->generated_at);
    return fclose(out) == 0 ? 0 : -1;
}
