/*
 * tests/fuzz/fuzz_time.c: the input as a string into fs_date_parse, fs_datetime_parse and
 * fs_timestamp_parse (index/time.c). Properties:
 *   - a date that parses lies in 0..65535 and formats back to the very same 10 bytes;
 *   - a local time that parses has its fields in range and formats ("...:00+HH:MM") and
 *     re-parses to the same day, minute and offset; FS_ERANGE only for a well-formed time;
 *   - a timestamp that parses is also a local time (seconds are optional there), the same instant
 *     to the minute plus 0..59 seconds; formatted as "...Z" it re-parses to itself whenever the
 *     instant lies in the accepted date range;
 *   - the day-number conversions invert each other for any 32-bit day taken from the input, and
 *     the formatters write exactly their documented widths for any value.
 */
#include <string.h>

#include "index/index.h"
#include "tests/fuzz/fuzz.h"

static void check_date(const char *s, size_t len)
{
    int32_t day = -1;
    int rc = fs_date_parse(s, len, &day);
    FUZZ_ASSERT(rc == 0 || rc == FS_EINVAL, "fs_date_parse returned %d", rc);
    if (rc != 0)
        return;
    FUZZ_ASSERT(len == 10 && day >= 0 && day <= 65535, "date %.*s gave day %d", (int)len, s, (int)day);
    char out[11] = {0};
    FUZZ_ASSERT(fs_date_format(day, out) == 10 && memcmp(out, s, 10) == 0, "date %.10s formats as %s", s, out);
}

static void check_datetime(const char *s, size_t len)
{
    fs_localtime_t t;
    int rc = fs_datetime_parse(s, len, &t);
    FUZZ_ASSERT(rc == 0 || rc == FS_EINVAL || rc == FS_ERANGE, "fs_datetime_parse returned %d", rc);
    if (rc == FS_ERANGE) {
        /* well formed, offset out of range: the same text with offset Z parses */
        size_t cut = len - 6;
        FUZZ_ASSERT(len >= 22 && (s[cut] == '+' || s[cut] == '-'), "FS_ERANGE for %.*s", (int)len, s);
        char z[32];
        memcpy(z, s, cut);
        z[cut] = 'Z';
        fs_localtime_t tz;
        FUZZ_ASSERT(fs_datetime_parse(z, cut + 1, &tz) == 0, "FS_ERANGE, yet %.*s is not well formed", (int)(cut + 1), z);
        return;
    }
    if (rc != 0)
        return;
    FUZZ_ASSERT(t.day >= 0 && t.day <= 65535 && t.minute < 1440, "datetime %.*s: day %d minute %u", (int)len, s, (int)t.day,
                (unsigned)t.minute);
    FUZZ_ASSERT(t.offset_min >= FS_MIN_OFFSET_MIN && t.offset_min <= FS_MAX_OFFSET_MIN && t.offset_min % 15 == 0,
                "datetime %.*s: offset %d", (int)len, s, (int)t.offset_min);
    int32_t day;
    FUZZ_ASSERT(fs_date_parse(s, 10, &day) == 0 && day == t.day, "the date part of %.*s", (int)len, s);

    char out[26] = {0};
    FUZZ_ASSERT(fs_datetime_format(t, out) == 25, "width");
    fs_localtime_t back;
    int rc2 = fs_datetime_parse(out, 25, &back);
    FUZZ_ASSERT(rc2 == 0 && back.day == t.day && back.minute == t.minute && back.offset_min == t.offset_min,
                "%.*s formats as %s, which parses to %d (day %d minute %u offset %d)", (int)len, s, out, rc2, (int)back.day,
                (unsigned)back.minute, (int)back.offset_min);
}

static void check_timestamp(const char *s, size_t len)
{
    int64_t ts;
    int rc = fs_timestamp_parse(s, len, &ts);
    FUZZ_ASSERT(rc == 0 || rc == FS_EINVAL || rc == FS_ERANGE, "fs_timestamp_parse returned %d", rc);
    if (rc != 0)
        return;
    fs_localtime_t t;
    FUZZ_ASSERT(fs_datetime_parse(s, len, &t) == 0, "timestamp %.*s is no local time", (int)len, s);
    int64_t sec = ts - fs_localtime_to_utc_min(t) * 60;
    FUZZ_ASSERT(sec >= 0 && sec <= 59, "timestamp %.*s: %lld is not the local time's minute", (int)len, s, (long long)ts);

    char out[21] = {0};
    FUZZ_ASSERT(fs_timestamp_format(ts, out) == 20, "width");
    int64_t back;
    int rc2 = fs_timestamp_parse(out, 20, &back);
    int in_range = ts >= 0 && ts / 86400 <= 65535;
    FUZZ_ASSERT(rc2 == (in_range ? 0 : FS_EINVAL), "%.*s formats as %s, which parses with %d", (int)len, s, out, rc2);
    FUZZ_ASSERT(rc2 != 0 || back == ts, "%.*s formats as %s, which parses to %lld, not %lld", (int)len, s, out,
                (long long)back, (long long)ts);
}

/* Conversions and formatters over raw values from the input. */
static void check_raw(const uint8_t *data, size_t size)
{
    if (size < 8)
        return;
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = u << 8 | data[i];
    int32_t days = (int32_t)(uint32_t)u;
    int32_t y;
    unsigned m, d;
    fs_civil_from_days(days, &y, &m, &d);
    FUZZ_ASSERT(m >= 1 && m <= 12 && d >= 1 && d <= 31, "day %d is %d-%u-%u", (int)days, (int)y, m, d);
    FUZZ_ASSERT(fs_days_from_civil(y, m, d) == days, "day %d -> %d-%u-%u -> %d", (int)days, (int)y, m, d,
                (int)fs_days_from_civil(y, m, d));

    char buf[32];
    memset(buf, '#', sizeof(buf));
    FUZZ_ASSERT(fs_date_format(days, buf) == 10 && buf[10] == '#', "fs_date_format width");
    memset(buf, '#', sizeof(buf));
    FUZZ_ASSERT(fs_timestamp_format((int64_t)u, buf) == 20 && buf[20] == '#', "fs_timestamp_format width");
    fs_localtime_t t = {.day = days, .minute = (uint16_t)(u >> 32), .offset_min = (int16_t)(u >> 48)};
    memset(buf, '#', sizeof(buf));
    FUZZ_ASSERT(fs_datetime_format(t, buf) == 25 && buf[25] == '#', "fs_datetime_format width");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    check_date(s, size);
    check_datetime(s, size);
    check_timestamp(s, size);
    check_raw(data, size);
    return 0;
}
