/*
 * tests/load/unit.c: flightsearch-load's parts that need no network. Expected values are worked
 * by hand here or computed by brute force, never read back from the code under test.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "bench/load/load.h"
#include "tests/test.h"

/* Every value up to 2^20 us: its bucket's upper bound is at least the value and at most 1/64 of
 * it above (exact below 128), and buckets never go backwards. */
static void hist_bounds(void)
{
    unsigned bad = 0, prev = 0;
    for (uint64_t v = 0; v < (1u << 20); v++) {
        unsigned idx = fs_hist_index(v);
        uint64_t up = fs_hist_upper(idx);
        if (up < v || (v < 128 && up != v) || (double)(up - v) > (double)v / 64.0 || idx < prev)
            bad++;
        prev = idx;
    }
    CHECK_EQ_INT(bad, 0);
}

static void hist_percentiles(void)
{
    static fs_hist_t h;
    memset(&h, 0, sizeof(h));
    for (uint64_t v = 1; v <= 100; v++) /* exact range: nearest rank of 1..100 */
        fs_hist_add(&h, v);
    CHECK_EQ_INT(fs_hist_pct(&h, 50), 50);
    CHECK_EQ_INT(fs_hist_pct(&h, 99), 99);
    CHECK_EQ_INT(fs_hist_pct(&h, 99.9), 100);
    CHECK_EQ_INT(h.count, 100);
    CHECK_EQ_INT(h.sum_us, 5050);

    /* 1000 us: msb 9, the top 7 bits 1111101 = 125, so the bucket is [1000, 1007]; with 2000 us
     * beside it, p50 is that bucket's upper bound, p100 the largest value. */
    memset(&h, 0, sizeof(h));
    fs_hist_add(&h, 1000);
    fs_hist_add(&h, 2000);
    CHECK_EQ_INT(fs_hist_pct(&h, 50), 1007);
    CHECK_EQ_INT(fs_hist_pct(&h, 100), 2000);
    memset(&h, 0, sizeof(h));
    fs_hist_add(&h, 1000); /* alone: capped at the largest value seen */
    CHECK_EQ_INT(fs_hist_pct(&h, 99), 1000);

    static fs_hist_t a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    fs_hist_add(&a, 10);
    fs_hist_add(&b, 30);
    fs_hist_add(&b, 20);
    fs_hist_merge(&a, &b);
    CHECK_EQ_INT(a.count, 3);
    CHECK_EQ_INT(a.max_us, 30);
    CHECK_EQ_INT(fs_hist_pct(&a, 50), 20);
}

static void knee_criterion(void)
{
    char err[256];
    fs_load_knee_t k;
    memset(&k, 0, sizeof(k));
    CHECK_EQ_INT(fs_load_knee_parse(&k, "p99<50ms", err, sizeof(err)), 0);
    CHECK(k.pct == 99);
    CHECK_EQ_INT(k.limit_us, 50000);
    CHECK(k.max_error_share == 0.01);
    memset(&k, 0, sizeof(k));
    CHECK_EQ_INT(fs_load_knee_parse(&k, "p999 < 2 s", err, sizeof(err)), 0);
    CHECK(k.pct == 99.9);
    CHECK_EQ_INT(k.limit_us, 2000000);
    memset(&k, 0, sizeof(k));
    CHECK_EQ_INT(fs_load_knee_parse(&k, "p50<250us", err, sizeof(err)), 0);
    CHECK_EQ_INT(k.limit_us, 250);
    CHECK_EQ_INT(fs_load_knee_parse(&k, "p99<7", err, sizeof(err)), 0); /* no unit: milliseconds */
    CHECK_EQ_INT(k.limit_us, 7000);
    static const char *const bad[] = {"p98<5ms", "p99<0ms", "p99>5ms", "p99<5xs", "p99<", "<5ms", "p99<-1ms", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        CHECK_EQ_INT(fs_load_knee_parse(&k, bad[i], err, sizeof(err)), -1);
        CHECK(strstr(err, "--find-knee") != NULL);
    }
}

static void target_urls(void)
{
    char err[256];
    fs_load_target_t t;
    memset(&t, 0, sizeof(t));
    CHECK_EQ_INT(fs_load_target_parse(&t, "https://gw.example.com/api/", err, sizeof(err)), 0);
    CHECK_EQ_INT(t.tls, 1);
    CHECK_EQ_STR(t.host, "gw.example.com");
    CHECK_EQ_STR(t.port, "443");
    CHECK_EQ_STR(t.prefix, "/api");
    CHECK_EQ_STR(t.authority, "gw.example.com");
    memset(&t, 0, sizeof(t));
    CHECK_EQ_INT(fs_load_target_parse(&t, "http://[::1]:8080", err, sizeof(err)), 0);
    CHECK_EQ_INT(t.tls, 0);
    CHECK_EQ_STR(t.host, "::1");
    CHECK_EQ_STR(t.port, "8080");
    CHECK_EQ_STR(t.authority, "[::1]:8080");
    CHECK_EQ_STR(t.prefix, "");
    memset(&t, 0, sizeof(t));
    CHECK_EQ_INT(fs_load_target_parse(&t, "http://127.0.0.1", err, sizeof(err)), 0);
    CHECK_EQ_STR(t.port, "80");
    static const char *const bad[] = {"ftp://x", "127.0.0.1:8080", "http://", "http://h:0", "http://h:70000", "http://h:8x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_EQ_INT(fs_load_target_parse(&t, bad[i], err, sizeof(err)), -1);
}

static void secret_headers(void)
{
    CHECK(fs_load_header_is_secret("Authorization", 13));
    CHECK(fs_load_header_is_secret("x-api-key", 9));
    CHECK(fs_load_header_is_secret("X-Auth-Token", 12));
    CHECK(fs_load_header_is_secret("cookie", 6));
    CHECK(!fs_load_header_is_secret("x-tenant", 8));
    CHECK(!fs_load_header_is_secret("accept", 6));
}

/* A hand-written mix file: weights 1, 3, 0 and a bare path (weight 1). Over 50,000 draws each
 * line's share is its weight over 5 (a binomial with sd below 0.25%: within 1.5% is certain for
 * this fixed seed and any sane generator), the zero-weight line is never drawn, and the same seed
 * draws the same sequence. */
static void mix_file_and_sampler(void)
{
    char dir[] = "/tmp/fs-load-unit.XXXXXX", path[128], path2[160], err[256];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/hand.mix", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    fputs("# a comment\n# seed 7\n"
          "1\tdirect_1day\thit\t/v1/search?origin=GRU&destination=LIS&date=2026-12-05&cabin=economy\n"
          "3\tcalendar\tmiss\t/v1/calendar?origin=GRU&destination=LIS&start_date=2027-03-01&end_date=2027-03-30\n"
          "0 /v1/routes?origin=ZZZ\n"
          "http://127.0.0.1:8080/v1/search?origin=GRU&destination=LIS&start_date=2026-12-05&end_date=2026-12-11\n",
          f);
    fclose(f);
    fs_load_mix_t m;
    memset(&m, 0, sizeof(m));
    CHECK_EQ_INT(fs_load_mix_read(&m, path, err, sizeof(err)), 0);
    CHECK_EQ_INT(m.count, 4);
    CHECK_EQ_INT(m.seed, 7);
    CHECK_EQ_INT(m.e[0].kind, FS_LOAD_MIX_DIRECT_1DAY);
    CHECK_EQ_INT(m.e[1].kind, FS_LOAD_MIX_CALENDAR);
    CHECK_EQ_INT(m.e[1].miss, 1);
    CHECK_EQ_INT(m.e[2].kind, FS_LOAD_MIX_ROUTES);
    CHECK_EQ_INT(m.e[3].kind, FS_LOAD_MIX_DIRECT_7DAY); /* kind from the path: a date range */
    CHECK_EQ_STR(m.e[3].path, "/v1/search?origin=GRU&destination=LIS&start_date=2026-12-05&end_date=2026-12-11");
    CHECK(m.e[3].weight == 1);
    CHECK_EQ_INT(fs_load_mix_ready(&m, err, sizeof(err)), 0);

    enum { N = 50000 };
    unsigned n[4] = {0, 0, 0, 0};
    static uint16_t seq[N];
    uint64_t rng = m.seed;
    for (unsigned i = 0; i < N; i++) {
        const fs_load_mix_entry_t *e = fs_load_mix_next(&m, &rng);
        seq[i] = (uint16_t)(e - m.e);
        n[e - m.e]++;
    }
    CHECK(fabs(n[0] / (double)N - 0.2) < 0.015);
    CHECK(fabs(n[1] / (double)N - 0.6) < 0.015);
    CHECK_EQ_INT(n[2], 0);
    CHECK(fabs(n[3] / (double)N - 0.2) < 0.015);
    rng = m.seed;
    unsigned same = 0;
    for (unsigned i = 0; i < N; i++)
        same += (unsigned)(fs_load_mix_next(&m, &rng) - m.e) == seq[i];
    CHECK_EQ_INT(same, N);
    rng = m.seed + 1;
    same = 0;
    for (unsigned i = 0; i < N; i++)
        same += (unsigned)(fs_load_mix_next(&m, &rng) - m.e) == seq[i];
    CHECK(same < N);

    /* written and read back: the same lines, weights to 9 significant digits, the seed */
    m.e[0].weight = 0.123456789;
    snprintf(m.source, sizeof(m.source), "unit test");
    snprintf(path2, sizeof(path2), "%s/round.mix", dir);
    CHECK_EQ_INT(fs_load_mix_write(&m, path2, err, sizeof(err)), 0);
    fs_load_mix_t m2;
    memset(&m2, 0, sizeof(m2));
    CHECK_EQ_INT(fs_load_mix_read(&m2, path2, err, sizeof(err)), 0);
    CHECK_EQ_INT(m2.count, 4);
    CHECK_EQ_INT(m2.seed, 7);
    for (size_t i = 0; i < 4 && i < m2.count; i++) {
        CHECK_EQ_STR(m2.e[i].path, m.e[i].path);
        CHECK_EQ_INT(m2.e[i].kind, m.e[i].kind);
        CHECK_EQ_INT(m2.e[i].miss, m.e[i].miss);
    }
    CHECK(m2.e[0].weight == 0.123456789);

    /* bad lines name the file, the line and the field */
    f = fopen(path, "w");
    if (f != NULL) {
        fputs("/v1/routes?origin=GRU\nx1 /v1/routes?origin=LIS\n", f);
        fclose(f);
    }
    fs_load_mix_t m3;
    memset(&m3, 0, sizeof(m3));
    err[0] = '\0';
    CHECK_EQ_INT(fs_load_mix_read(&m3, path, err, sizeof(err)), -1);
    CHECK(strstr(err, ":2: weight") != NULL);
    fs_load_mix_free(&m3);
    fs_load_mix_free(&m);
    fs_load_mix_free(&m2);
    unlink(path);
    unlink(path2);
    rmdir(dir);
}

static void answers_compared(void)
{
    const char *a = "{\"count\":1,\"took_us\":17}", *b = "{\"count\":1,\"took_us\":123456}";
    const char *c = "{\"count\":2,\"took_us\":17}", *d = "{\"count\":1,\"took_us\":17,\"x\":1}";
    CHECK(fs_load_same_answer(a, strlen(a), a, strlen(a)));
    CHECK(fs_load_same_answer(a, strlen(a), b, strlen(b))); /* only the time differs */
    CHECK(!fs_load_same_answer(a, strlen(a), c, strlen(c)));
    CHECK(!fs_load_same_answer(a, strlen(a), d, strlen(d))); /* one is a prefix of the other */
    CHECK(!fs_load_same_answer(d, strlen(d), a, strlen(a)));
}

int main(void)
{
    answers_compared();
    hist_bounds();
    hist_percentiles();
    knee_criterion();
    target_urls();
    secret_headers();
    mix_file_and_sampler();
    TEST_DONE();
}
