/*
 * tests/unit/test_index_time.c: calendar arithmetic, ISO 8601 parsing and formatting, leg times.
 *
 * Day numbers are checked against a naive counter that walks the calendar one day at a time;
 * every other expected value below is worked by hand in the comment next to it.
 */
#include <stdio.h>

#include "index/index.h"
#include "tests/test.h"

/* ------------------------------------------------ brute-force calendar */

static int naive_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int naive_month_days(int y, int m)
{
    static const int days[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && naive_leap(y) ? 29 : days[m];
}

/* Every day from 1970-01-01 to 2149-12-31: both conversions, parse and format agree with the
 * counter. Mismatches are counted rather than CHECKed one by one to keep the output short. */
static void test_every_day(void)
{
    int y = 1970, m = 1, d = 1;
    int32_t n = 0;
    unsigned bad_from = 0, bad_to = 0, bad_parse = 0, bad_format = 0;
    int reported = 0;

    while (y < 2150) {
        char text[40], out[16] = {0};
        int32_t yy, parsed = -1;
        unsigned mm, dd;

        if (fs_days_from_civil(y, (unsigned)m, (unsigned)d) != n)
            bad_from++;
        fs_civil_from_days(n, &yy, &mm, &dd);
        if (yy != y || mm != (unsigned)m || dd != (unsigned)d)
            bad_to++;
        snprintf(text, sizeof(text), "%04d-%02d-%02d", y, m, d);
        /* a leg's date is 16 bits: parsing accepts days 0..65535 (to 2149-06-06) only */
        if (n <= 65535 ? (fs_date_parse(text, 10, &parsed) != 0 || parsed != n) : fs_date_parse(text, 10, &parsed) == 0)
            bad_parse++;
        if (fs_date_format(n, out) != 10 || memcmp(out, text, 11) != 0)
            bad_format++;
        if (!reported && bad_from + bad_to + bad_parse + bad_format != 0) {
            fprintf(stderr, "first mismatch at %s (day %d)\n", text, (int)n);
            reported = 1;
        }

        n++;
        if (++d > naive_month_days(y, m)) {
            d = 1;
            if (++m > 12) {
                m = 1;
                y++;
            }
        }
    }
    CHECK_EQ_INT(n, 65744); /* 180 years * 365 + 44 leap days (1972..2148 by 4 is 45, minus 2100) */
    CHECK_EQ_INT(bad_from, 0);
    CHECK_EQ_INT(bad_to, 0);
    CHECK_EQ_INT(bad_parse, 0);
    CHECK_EQ_INT(bad_format, 0);
}

static void test_anchors(void)
{
    int32_t y;
    unsigned m, d;

    CHECK_EQ_INT(fs_days_from_civil(1970, 1, 1), 0);
    /* 2000-01-01 = 30*365 + 7 leap days (72..96) = 10957; + 31 (Jan) + 29 (Feb 2000) = 11017. */
    CHECK_EQ_INT(fs_days_from_civil(2000, 3, 1), 11017);
    /* 2026-01-01 = 56*365 + 14 leap days (72..2024) = 20454; Jan..Oct = 304 days; + 20 = 20778. */
    CHECK_EQ_INT(fs_days_from_civil(2026, 11, 21), 20778);
    /* A year earlier: 20454 - 365 + 304 + 20 = 20413. */
    CHECK_EQ_INT(fs_days_from_civil(2025, 11, 21), 20413);
    CHECK_EQ_INT(fs_days_from_civil(2149, 12, 31), 65743);
    /* Before the epoch and Hinnant's own reference: 0000-03-01 is day -719468. */
    CHECK_EQ_INT(fs_days_from_civil(1969, 12, 31), -1);
    CHECK_EQ_INT(fs_days_from_civil(0, 3, 1), -719468);
    fs_civil_from_days(-1, &y, &m, &d);
    CHECK(y == 1969 && m == 12 && d == 31);
    fs_civil_from_days(-719468, &y, &m, &d);
    CHECK(y == 0 && m == 3 && d == 1);
    fs_civil_from_days(20778, &y, &m, &d);
    CHECK(y == 2026 && m == 11 && d == 21);
}

static void test_date_parse(void)
{
    static const struct {
        const char *s;
        int32_t days; /* -1: must be rejected with FS_EINVAL */
    } cases[] = {
        /* clang-format off */
        {"1970-01-01", 0},
        {"2000-03-01", 11017},
        {"2000-02-29", 11016}, /* 2000 is a leap year (divisible by 400) */
        {"2024-02-29", 19782}, /* 2024-01-01 = 54*365 + 13 = 19723; + 31 + 28 */
        {"2026-11-21", 20778},
        {"2149-06-06", 65535}, /* the last day a 16-bit leg date holds */
        {"2149-06-07", -1},
        {"2149-12-31", -1},
        {"2026-02-30", -1},
        {"2025-02-29", -1},
        {"2100-02-29", -1}, /* divisible by 100, not by 400: not a leap year */
        {"2100-02-28", 47540}, /* 2100-01-01 = 130*365 + 32 leap days (1972..2096) = 47482; + 31 + 27 */
        {"2026-04-31", -1},
        {"2026-06-31", -1},
        {"2026-13-01", -1},
        {"2026-00-10", -1},
        {"2026-01-00", -1},
        {"2026-01-32", -1},
        {"1969-12-31", -1},
        {"2150-01-01", -1},
        {"0000-01-01", -1},
        {"2026/01/01", -1},
        {"2026-01-0a", -1},
        {"+026-01-01", -1},
        {"2026-1-01x", -1},
        {" 2026-01-1", -1},
        {"2026-01-01", 20454},
        /* clang-format on */
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int32_t days = -12345;
        int rc = fs_date_parse(cases[i].s, strlen(cases[i].s), &days);
        if (cases[i].days >= 0) {
            CHECK_EQ_INT(rc, 0);
            CHECK_EQ_INT(days, cases[i].days);
        } else {
            CHECK_EQ_INT(rc, FS_EINVAL);
        }
        if (rc != 0 && cases[i].days >= 0)
            fprintf(stderr, "  case %s\n", cases[i].s);
    }
    int32_t days;
    CHECK_EQ_INT(fs_date_parse("2026-01-01", 9, &days), FS_EINVAL);
    CHECK_EQ_INT(fs_date_parse("2026-01-011", 11, &days), FS_EINVAL);
    CHECK_EQ_INT(fs_date_parse("2026-01-01T", 11, &days), FS_EINVAL);
    CHECK_EQ_INT(fs_date_parse("", 0, &days), FS_EINVAL);
}

/* ------------------------------------------------------------ datetimes */

static void test_datetime_parse(void)
{
    static const struct {
        const char *s;
        int rc;
        int32_t day;
        int minute, offset;
    } cases[] = {
        /* 2026-03-29 = 20454 + 31 + 28 + 28 = 20541. */
        {"2026-03-29T00:30:00+00:00", 0, 20541, 30, 0},
        {"2026-03-29T00:30+00:00", 0, 20541, 30, 0},
        {"2026-03-29T00:30Z", 0, 20541, 30, 0},
        {"2026-03-29T00:30:59Z", 0, 20541, 30, 0},
        {"2026-11-21T23:59:59Z", 0, 20778, 1439, 0},
        {"2026-11-21T00:00:00Z", 0, 20778, 0, 0},
        {"2026-11-21T08:05+14:00", 0, 20778, 485, 840},
        {"2026-11-21T08:05:00-12:00", 0, 20778, 485, -720},
        {"2026-11-21T08:05:00+05:45", 0, 20778, 485, 345},
        {"2026-11-21T08:05:00+05:30", 0, 20778, 485, 330},
        {"2026-11-21T08:05:00-03:30", 0, 20778, 485, -210},
        {"2026-11-21T08:05:00-00:00", 0, 20778, 485, 0},
        {"2024-02-29T12:00:00+01:00", 0, 19782, 720, 60},
        {"2026-11-21T08:05:00+14:15", FS_ERANGE},
        {"2026-11-21T08:05:00-12:15", FS_ERANGE},
        {"2026-11-21T08:05:00+15:00", FS_ERANGE},
        {"2026-11-21T08:05:00-13:00", FS_ERANGE},
        {"2026-11-21T08:05+23:45", FS_ERANGE},
        {"2026-11-21T08:05:00+05:40", FS_EINVAL},
        {"2026-11-21T08:05:00+00:01", FS_EINVAL},
        {"2026-11-21T08:05:00+05:60", FS_EINVAL},
        {"2026-11-21T08:05:00+5:00", FS_EINVAL},
        {"2026-11-21T08:05:00+0500", FS_EINVAL},
        {"2026-11-21T08:05:00+05:00x", FS_EINVAL},
        {"2026-11-21T08:05:00+01:0", FS_EINVAL}, /* one short */
        {"2026-11-21T08:05:00+01", FS_EINVAL},
        {"2026-11-21T08:05:00+", FS_EINVAL},
        {"2026-11-21T08:05:00Zx", FS_EINVAL},
        {"2026-11-21T08:05:00ZZ", FS_EINVAL},
        {"2026-11-21T08:05:00z", FS_EINVAL},
        {"2026-11-21t08:05:00Z", FS_EINVAL},
        {"2026-11-21 08:05:00Z", FS_EINVAL},
        {"2026-11-21T08:05:00", FS_EINVAL}, /* no zone */
        {"2026-11-21T08:05", FS_EINVAL},
        {"2026-11-21T08:05:60Z", FS_EINVAL},
        {"2026-11-21T08:05:0Z", FS_EINVAL},
        {"2026-11-21T08:05:00.5Z", FS_EINVAL},
        {"2026-11-21T08:5:00Z", FS_EINVAL},
        {"2026-11-21T8:05:00Z", FS_EINVAL},
        {"2026-11-21T24:00:00Z", FS_EINVAL},
        {"2026-11-21T23:60:00Z", FS_EINVAL},
        {"2026-11-21T0a:00:00Z", FS_EINVAL},
        {"2026-11-21T08-05-00Z", FS_EINVAL},
        {"2026-02-30T08:05:00Z", FS_EINVAL},
        {"2025-02-29T08:05Z", FS_EINVAL},
        {"2150-01-01T00:00Z", FS_EINVAL},
        {"2026-11-21", FS_EINVAL},
        {"", FS_EINVAL},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fs_localtime_t t = {-1, 9999, 9999};
        int rc = fs_datetime_parse(cases[i].s, strlen(cases[i].s), &t);
        CHECK_EQ_INT(rc, cases[i].rc);
        if (rc != cases[i].rc)
            fprintf(stderr, "  case %s\n", cases[i].s);
        if (cases[i].rc == 0) {
            CHECK_EQ_INT(t.day, cases[i].day);
            CHECK_EQ_INT(t.minute, cases[i].minute);
            CHECK_EQ_INT(t.offset_min, cases[i].offset);
        }
    }

    /* The length is the caller's: a prefix of a valid string is judged as that prefix. */
    fs_localtime_t t;
    CHECK_EQ_INT(fs_datetime_parse("2026-11-21T08:05Z", 16, &t), FS_EINVAL);
    CHECK_EQ_INT(fs_datetime_parse("2026-11-21T08:05:00+01:00", 24, &t), FS_EINVAL);
    CHECK_EQ_INT(fs_datetime_parse("2026-11-21T08:05ZZZ", 17, &t), 0);
}

static void test_utc_minutes(void)
{
    /* 20541 * 1440 = 29579040; + 30 minutes at +00:00. */
    CHECK_EQ_INT(fs_localtime_to_utc_min((fs_localtime_t){20541, 30, 0}), 29579070);
    /* 00:00 at +01:00 is 23:00Z the day before. */
    CHECK_EQ_INT(fs_localtime_to_utc_min((fs_localtime_t){0, 0, 60}), -60);
    /* 00:00 at -10:00 is 10:00Z. */
    CHECK_EQ_INT(fs_localtime_to_utc_min((fs_localtime_t){0, 0, -600}), 600);
    /* 20778 * 1440 = 29920320; 08:05 = 485; at +14:00 subtract 840. */
    CHECK_EQ_INT(fs_localtime_to_utc_min((fs_localtime_t){20778, 485, 840}), 29919965);
    /* Same instant, two wall clocks: 2026-03-29T01:30+01:00 == 2026-03-29T00:30Z. */
    fs_localtime_t a, b;
    CHECK(fs_datetime_parse("2026-03-29T01:30:00+01:00", 25, &a) == 0);
    CHECK(fs_datetime_parse("2026-03-29T00:30Z", 17, &b) == 0);
    CHECK_EQ_INT(fs_localtime_to_utc_min(a), fs_localtime_to_utc_min(b));
    /* Across the date line: 2026-11-22T10:00+12:00 == 2026-11-21T12:00-10:00 == 22:00Z on the 21st. */
    CHECK(fs_datetime_parse("2026-11-22T10:00:00+12:00", 25, &a) == 0);
    CHECK(fs_datetime_parse("2026-11-21T12:00:00-10:00", 25, &b) == 0);
    CHECK_EQ_INT(fs_localtime_to_utc_min(a), fs_localtime_to_utc_min(b));
    CHECK_EQ_INT(fs_localtime_to_utc_min(a), 29920320 + 1320);
}

static void test_datetime_format(void)
{
    char out[32];

    memset(out, 0, sizeof(out));
    CHECK_EQ_INT(fs_datetime_format((fs_localtime_t){20778, 485, 345}, out), 25);
    CHECK_EQ_STR(out, "2026-11-21T08:05:00+05:45");
    memset(out, 0, sizeof(out));
    fs_datetime_format((fs_localtime_t){20778, 485, -210}, out);
    CHECK_EQ_STR(out, "2026-11-21T08:05:00-03:30");
    memset(out, 0, sizeof(out));
    fs_datetime_format((fs_localtime_t){0, 0, 0}, out);
    CHECK_EQ_STR(out, "1970-01-01T00:00:00+00:00");
    memset(out, 0, sizeof(out));
    fs_datetime_format((fs_localtime_t){65743, 1439, -720}, out);
    CHECK_EQ_STR(out, "2149-12-31T23:59:00-12:00");
    memset(out, 0, sizeof(out));
    fs_datetime_format((fs_localtime_t){19782, 720, 840}, out);
    CHECK_EQ_STR(out, "2024-02-29T12:00:00+14:00");

    /* Round trip over every legal offset, a spread of minutes and days. */
    unsigned bad = 0, tried = 0;
    for (int off = FS_MIN_OFFSET_MIN; off <= FS_MAX_OFFSET_MIN; off += 15) {
        for (int minute = 0; minute < 1440; minute += 7) {
            for (int32_t day = 0; day <= 65535; day += 4099) {
                fs_localtime_t t = {day, (uint16_t)minute, (int16_t)off}, back = {0, 0, 0};
                tried++;
                if (fs_datetime_format(t, out) != 25 || fs_datetime_parse(out, 25, &back) != 0 || back.day != t.day ||
                    back.minute != t.minute || back.offset_min != t.offset_min)
                    bad++;
            }
        }
    }
    CHECK(tried > 100000);
    CHECK_EQ_INT(bad, 0);
}

static void test_timestamps(void)
{
    char out[32];
    int64_t ts = -1;

    memset(out, 0, sizeof(out));
    CHECK_EQ_INT(fs_timestamp_format(0, out), 20);
    CHECK_EQ_STR(out, "1970-01-01T00:00:00Z");
    memset(out, 0, sizeof(out));
    /* 1700000000 s = 19675 days + 80000 s; day 19675 = 2023-11-14, 80000 s = 22:13:20. */
    fs_timestamp_format(1700000000, out);
    CHECK_EQ_STR(out, "2023-11-14T22:13:20Z");
    memset(out, 0, sizeof(out));
    fs_timestamp_format(-1, out);
    CHECK_EQ_STR(out, "1969-12-31T23:59:59Z");
    memset(out, 0, sizeof(out));
    /* 2149-12-31T23:59:59Z = 65744 days * 86400 - 1. */
    fs_timestamp_format(65744LL * 86400 - 1, out);
    CHECK_EQ_STR(out, "2149-12-31T23:59:59Z");

    CHECK(fs_timestamp_parse("2023-11-14T22:13:20Z", 20, &ts) == 0 && ts == 1700000000);
    CHECK(fs_timestamp_parse("2023-11-15T00:13:20+02:00", 25, &ts) == 0 && ts == 1700000000);
    CHECK(fs_timestamp_parse("2023-11-14T12:13:20-10:00", 25, &ts) == 0 && ts == 1700000000);
    CHECK(fs_timestamp_parse("1970-01-01T00:00:00Z", 20, &ts) == 0 && ts == 0);
    /* the range is 32-bit unix seconds (legs store last_seen so): an offset may not leave it */
    CHECK_EQ_INT(fs_timestamp_parse("1970-01-01T00:00:00+01:00", 25, &ts), FS_ERANGE);
    CHECK(fs_timestamp_parse("2106-02-07T06:28:15Z", 20, &ts) == 0 && ts == 4294967295LL); /* 2^32 - 1 */
    CHECK_EQ_INT(fs_timestamp_parse("2106-02-07T06:28:16Z", 20, &ts), FS_ERANGE);
    CHECK_EQ_INT(fs_timestamp_parse("2149-06-06T23:59:59-12:00", 25, &ts), FS_ERANGE);
    /* formatting takes any value without overflowing (found by fuzzing: INT64_MIN) */
    CHECK_EQ_INT(fs_timestamp_format(INT64_MIN, out), 20);
    CHECK_EQ_INT(fs_timestamp_format(INT64_MAX, out), 20);
    CHECK_EQ_INT(fs_timestamp_parse("2023-11-14T22:13:20+14:30", 25, &ts), FS_ERANGE);
    CHECK_EQ_INT(fs_timestamp_parse("2023-11-14T22:13:20+05:40", 25, &ts), FS_EINVAL);
    CHECK_EQ_INT(fs_timestamp_parse("2023-11-14T22:13:60Z", 20, &ts), FS_EINVAL);
    CHECK_EQ_INT(fs_timestamp_parse("2023-11-14T22:13:20", 19, &ts), FS_EINVAL);
    CHECK_EQ_INT(fs_timestamp_parse("2023-11-14T22:13:20Zx", 21, &ts), FS_EINVAL);
    CHECK_EQ_INT(fs_timestamp_parse("2023-11-14 22:13:20Z", 20, &ts), FS_EINVAL);

    /* Round trip, second by second over a day, then a stride over the whole range. */
    unsigned bad = 0;
    for (int64_t t = 1700000000 - 86400; t <= 1700000000 + 86400; t++) {
        if (fs_timestamp_format(t, out) != 20 || fs_timestamp_parse(out, 20, &ts) != 0 || ts != t)
            bad++;
    }
    for (int64_t t = 0; t <= 4294967295LL; t += 86400 * 37 + 3601) { /* to 2106-02-07, the 32-bit range */
        if (fs_timestamp_format(t, out) != 20 || fs_timestamp_parse(out, 20, &ts) != 0 || ts != t)
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
}

/* ------------------------------------------------------------------ legs */

static void format_localtime(fs_localtime_t t, char out[26])
{
    fs_datetime_format(t, out);
    out[25] = '\0';
}

static void test_leg_midnight(void)
{
    /* Departs 2026-11-21T23:30-03:00 (02:30Z on the 22nd), 10 h, arrives at +01:00:
     * 12:30Z on the 22nd, 13:30 local. */
    fs_leg_t leg = {.day = 20778, .dep_minute = 23 * 60 + 30, .dep_offset_q = -12, .duration_min = 600, .arr_offset_q = 4};
    char out[26];

    fs_localtime_t dep = fs_leg_departs(&leg), arr = fs_leg_arrives(&leg);
    CHECK(dep.day == 20778 && dep.minute == 1410 && dep.offset_min == -180);
    format_localtime(dep, out);
    CHECK_EQ_STR(out, "2026-11-21T23:30:00-03:00");
    CHECK(arr.day == 20779 && arr.minute == 13 * 60 + 30 && arr.offset_min == 60);
    format_localtime(arr, out);
    CHECK_EQ_STR(out, "2026-11-22T13:30:00+01:00");
    /* 29920320 + 1410 + 180. */
    CHECK_EQ_INT(fs_leg_departs_utc_min(&leg), 29921910);
    CHECK_EQ_INT(fs_leg_arrives_utc_min(&leg), 29921910 + 600);
}

static void test_leg_dst(void)
{
    /* UK summer time starts 2026-03-29 at 01:00Z. A leg leaves at 00:30+00:00 and lands at
     * 02:45+01:00, i.e. 01:45Z: 75 minutes in the air although the wall clocks differ by 135. */
    fs_localtime_t dep, arr;
    CHECK(fs_datetime_parse("2026-03-29T00:30:00+00:00", 25, &dep) == 0);
    CHECK(fs_datetime_parse("2026-03-29T02:45:00+01:00", 25, &arr) == 0);
    CHECK_EQ_INT(fs_localtime_to_utc_min(arr) - fs_localtime_to_utc_min(dep), 75);

    fs_leg_t leg = {.day = 20541, .dep_minute = 30, .dep_offset_q = 0, .duration_min = 75, .arr_offset_q = 4};
    char out[26];
    fs_localtime_t got = fs_leg_arrives(&leg);
    CHECK(got.day == 20541 && got.minute == 2 * 60 + 45 && got.offset_min == 60);
    format_localtime(got, out);
    CHECK_EQ_STR(out, "2026-03-29T02:45:00+01:00");
    CHECK_EQ_INT(fs_leg_departs_utc_min(&leg), 29579070);
    CHECK_EQ_INT(fs_leg_arrives_utc_min(&leg), 29579070 + 75);
}

static void test_leg_date_line(void)
{
    /* Departs 2026-11-21T10:00+12:00 (22:00Z on the 20th), 8 h 45, lands at -10:00:
     * 06:45Z on the 21st is 20:45 on the 20th locally, the day before it left. */
    fs_leg_t leg = {.day = 20778, .dep_minute = 600, .dep_offset_q = 48, .duration_min = 525, .arr_offset_q = -40};
    char out[26];

    fs_localtime_t dep = fs_leg_departs(&leg), arr = fs_leg_arrives(&leg);
    CHECK(dep.day == 20778 && dep.minute == 600 && dep.offset_min == 720);
    CHECK(arr.day == 20777 && arr.minute == 20 * 60 + 45 && arr.offset_min == -600);
    format_localtime(arr, out);
    CHECK_EQ_STR(out, "2026-11-20T20:45:00-10:00");
    /* 29920320 + 600 - 720. */
    CHECK_EQ_INT(fs_leg_departs_utc_min(&leg), 29920200);
    CHECK_EQ_INT(fs_leg_arrives_utc_min(&leg) - fs_leg_departs_utc_min(&leg), 525);
    CHECK(fs_localtime_to_utc_min(arr) > fs_localtime_to_utc_min(dep));

    /* The other way: departs 2026-11-20T20:00-10:00 (06:00Z on the 21st), 9 h, lands at +12:00:
     * 15:00Z on the 21st is 03:00 on the 22nd locally. */
    fs_leg_t back = {.day = 20777, .dep_minute = 1200, .dep_offset_q = -40, .duration_min = 540, .arr_offset_q = 48};
    arr = fs_leg_arrives(&back);
    format_localtime(arr, out);
    CHECK_EQ_STR(out, "2026-11-22T03:00:00+12:00");
}

int main(void)
{
    test_every_day();
    test_anchors();
    test_date_parse();
    test_datetime_parse();
    test_utc_minutes();
    test_datetime_format();
    test_timestamps();
    test_leg_midnight();
    test_leg_dst();
    test_leg_date_line();
    TEST_DONE();
}
