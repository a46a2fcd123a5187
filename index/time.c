/*
 * index/time.c: calendar arithmetic, ISO 8601 parsing and formatting, leg times.
 *
 * Pure arithmetic on purpose: feeds state their UTC offsets, so no time zone database, no locale
 * and none of the libc time functions with global state (mktime, localtime, TZ) are needed, and
 * every function here is safe on any thread.
 *
 * The day-number conversions are Howard Hinnant's days_from_civil / civil_from_days
 * (http://howardhinnant.github.io/date_algorithms.html): the year is shifted to start on March 1st
 * so the leap day is the last day of the year, then split into 400-year eras of 146097 days.
 */
#include <string.h>

#include "index/index.h"

#define MIN_YEAR 1970
#define MAX_YEAR 2149

/* Floor division and its non-negative remainder: C's / and % truncate towards zero, which would
 * put 1969-12-31T23:59 on day 0. */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t floor_mod(int64_t a, int64_t b)
{
    return a - floor_div(a, b) * b;
}

int32_t fs_days_from_civil(int32_t y, unsigned m, unsigned d)
{
    int64_t yy = (int64_t)y - (m <= 2);
    /* cppcheck-suppress knownConditionTrueFalse ; true for this file's callers only, not for every y */
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    int64_t yoe = yy - era * 400;                                                    /* [0, 399] */
    int64_t doy = (153 * (int64_t)(m > 2 ? m - 3 : m + 9) + 2) / 5 + (int64_t)d - 1; /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;                             /* [0, 146096] */
    return (int32_t)(era * 146097 + doe - 719468);
}

void fs_civil_from_days(int32_t days, int32_t *y, unsigned *m, unsigned *d)
{
    int64_t z = (int64_t)days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                                      /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                    /* [0, 11], 0 = March */
    unsigned mm = (unsigned)(mp < 10 ? mp + 3 : mp - 9);

    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = mm;
    *y = (int32_t)(yoe + era * 400 + (mm <= 2));
}

static int is_leap(int32_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned month_days(int32_t y, unsigned m)
{
    static const unsigned char days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* ------------------------------------------------------------- parsing */

/* Two ASCII digits, or -1. */
static int digits2(const char *s)
{
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
        return -1;
    return (s[0] - '0') * 10 + (s[1] - '0');
}

/* "YYYY-MM-DD" at s (10 characters known to be there). */
static int parse_date10(const char *s, int32_t *days)
{
    int c, yy, m, d;

    if ((c = digits2(s)) < 0 || (yy = digits2(s + 2)) < 0 || s[4] != '-' || (m = digits2(s + 5)) < 0 || s[7] != '-' ||
        (d = digits2(s + 8)) < 0)
        return FS_EINVAL;
    int32_t y = c * 100 + yy;
    if (y < MIN_YEAR || y > MAX_YEAR || m < 1 || m > 12 || d < 1 || (unsigned)d > month_days(y, (unsigned)m))
        return FS_EINVAL;
    *days = fs_days_from_civil(y, (unsigned)m, (unsigned)d);
    /* a stored leg keeps its date in 16 bits: the last representable day is 2149-06-06 */
    if (*days > 65535)
        return FS_EINVAL;
    return 0;
}

int fs_date_parse(const char *s, size_t len, int32_t *days)
{
    if (s == NULL || len != 10)
        return FS_EINVAL;
    return parse_date10(s, days);
}

/*
 * "YYYY-MM-DDTHH:MM[:SS](Z|+HH:MM|-HH:MM)", the seconds optional unless need_seconds. Every check
 * of shape (lengths, digits, separators, field ranges) comes before the offset's range, so
 * FS_ERANGE means "well formed, but no such offset" and nothing else.
 */
static int parse_datetime(const char *s, size_t len, int need_seconds, int32_t *day, int *minute, int *second, int *offset_min)
{
    int hh, mm, ss = 0, err;
    size_t pos = 16;

    if (s == NULL || len < 17)
        return FS_EINVAL;
    if ((err = parse_date10(s, day)) != 0)
        return err;
    if (s[10] != 'T' || (hh = digits2(s + 11)) < 0 || s[13] != ':' || (mm = digits2(s + 14)) < 0 || hh > 23 || mm > 59)
        return FS_EINVAL;
    if (s[pos] == ':') {
        if (len < pos + 3 || (ss = digits2(s + pos + 1)) < 0 || ss > 59)
            return FS_EINVAL;
        pos += 3;
    } else if (need_seconds) {
        return FS_EINVAL;
    }

    int off;
    if (pos < len && s[pos] == 'Z') {
        if (len != pos + 1)
            return FS_EINVAL;
        off = 0;
    } else if (pos < len && (s[pos] == '+' || s[pos] == '-')) {
        int oh, om;
        if (len != pos + 6 || (oh = digits2(s + pos + 1)) < 0 || s[pos + 3] != ':' || (om = digits2(s + pos + 4)) < 0 || om > 59)
            return FS_EINVAL;
        off = oh * 60 + om;
        if (s[pos] == '-')
            off = -off;
        if (off < FS_MIN_OFFSET_MIN || off > FS_MAX_OFFSET_MIN)
            return FS_ERANGE;
        if (om % 15 != 0)
            return FS_EINVAL;
    } else {
        return FS_EINVAL;
    }

    *minute = hh * 60 + mm;
    *second = ss;
    *offset_min = off;
    return 0;
}

int fs_datetime_parse(const char *s, size_t len, fs_localtime_t *out)
{
    int32_t day;
    int minute, second, off, err;

    if ((err = parse_datetime(s, len, 0, &day, &minute, &second, &off)) != 0)
        return err;
    out->day = day;
    out->minute = (uint16_t)minute;
    out->offset_min = (int16_t)off;
    return 0;
}

int64_t fs_localtime_to_utc_min(fs_localtime_t t)
{
    return (int64_t)t.day * 1440 + t.minute - t.offset_min;
}

int fs_timestamp_parse(const char *s, size_t len, int64_t *unix_seconds)
{
    int32_t day;
    int minute, second, off, err;

    if ((err = parse_datetime(s, len, 1, &day, &minute, &second, &off)) != 0)
        return err;
    int64_t t = ((int64_t)day * 1440 + minute - off) * 60 + second;
    /* a leg keeps last_seen in 32 unsigned bits: an offset must not carry the instant outside */
    if (t < 0 || t > (int64_t)UINT32_MAX)
        return FS_ERANGE;
    *unix_seconds = t;
    return 0;
}

/* ---------------------------------------------------------- formatting */

static void put2(char *out, unsigned v)
{
    out[0] = (char)('0' + v / 10 % 10);
    out[1] = (char)('0' + v % 10);
}

/* Years outside 0..9999 cannot be written in four digits; they do not occur (years 1970..2149
 * come in) and are written modulo 10000 rather than overrun the caller's buffer. */
static void put_date(char *out, int32_t days)
{
    int32_t y;
    unsigned m, d;

    fs_civil_from_days(days, &y, &m, &d);
    unsigned uy = (unsigned)floor_mod(y, 10000);
    put2(out, uy / 100);
    put2(out + 2, uy % 100);
    out[4] = '-';
    put2(out + 5, m);
    out[7] = '-';
    put2(out + 8, d);
}

size_t fs_date_format(int32_t days, char *out)
{
    put_date(out, days);
    return 10;
}

size_t fs_datetime_format(fs_localtime_t t, char *out)
{
    unsigned minute = t.minute % 1440u;
    int off = t.offset_min;

    put_date(out, t.day);
    out[10] = 'T';
    put2(out + 11, minute / 60);
    out[13] = ':';
    put2(out + 14, minute % 60);
    memcpy(out + 16, ":00", 3); /* NOLINT(bugprone-not-null-terminated-result): fixed-width, not a C string */
    out[19] = off < 0 ? '-' : '+';
    if (off < 0)
        off = -off;
    put2(out + 20, (unsigned)off / 60);
    out[22] = ':';
    put2(out + 23, (unsigned)off % 60);
    return 25;
}

size_t fs_timestamp_format(int64_t unix_seconds, char *out)
{
    /* quotient and remainder separately: day * 86400 would overflow near INT64_MIN */
    int64_t day = unix_seconds / 86400, rem = unix_seconds % 86400;
    if (rem < 0) {
        rem += 86400;
        day--;
    }
    unsigned sec = (unsigned)rem;

    put_date(out, (int32_t)day);
    out[10] = 'T';
    put2(out + 11, sec / 3600);
    out[13] = ':';
    put2(out + 14, sec / 60 % 60);
    out[16] = ':';
    put2(out + 17, sec % 60);
    out[19] = 'Z';
    return 20;
}

/* ------------------------------------------------------------------ legs */

fs_localtime_t fs_leg_departs(const fs_leg_t *leg)
{
    fs_localtime_t t = {.day = leg->day, .minute = leg->dep_minute, .offset_min = (int16_t)(leg->dep_offset_q * 15)};
    return t;
}

int64_t fs_leg_departs_utc_min(const fs_leg_t *leg)
{
    return (int64_t)leg->day * 1440 + leg->dep_minute - leg->dep_offset_q * 15;
}

int64_t fs_leg_arrives_utc_min(const fs_leg_t *leg)
{
    return fs_leg_departs_utc_min(leg) + leg->duration_min;
}

/* The arrival's wall clock is the arrival instant seen at the arrival's offset; its date may be
 * before the departure's when the leg crosses the date line eastwards. */
fs_localtime_t fs_leg_arrives(const fs_leg_t *leg)
{
    int off = leg->arr_offset_q * 15;
    int64_t local = fs_leg_arrives_utc_min(leg) + off;
    fs_localtime_t t = {
        .day = (int32_t)floor_div(local, 1440), .minute = (uint16_t)floor_mod(local, 1440), .offset_min = (int16_t)off};
    return t;
}
