/*
 * index/codes.c: error strings, the fixed code encodings, cabin names and the project hash.
 *
 * Codes are positional numbers, so no table is shared between threads and an id never changes:
 *   airport, currency  3 letters 'A'..'Z', base 26, first letter most significant: "AAA" = 0,
 *                      "AAB" = 1, "ZZZ" = 17575.
 *   carrier            2 characters, base 36 with the digits before the letters ('0'..'9' = 0..9,
 *                      'A'..'Z' = 10..35), first character most significant: "00" = 0, "0A" = 10,
 *                      "AA" = 370, "ZZ" = 1295.
 * Digits come before letters because that is ASCII order: for all three kinds, sorting by id is
 * sorting by code as a string, so results ordered by id need no second look at the text.
 */
#include <string.h>

#include <xxhash.h>

#include "index/index.h"

const char *fs_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
    case FS_EINVAL:
        return "invalid argument";
    case FS_ENOMEM:
        return "out of memory";
    case FS_ERANGE:
        return "limit reached";
    case FS_ENOENT:
        return "not found";
    case FS_EIO:
        return "input/output error";
    case FS_EEXIST:
        return "already exists";
    case FS_ETIMEDOUT:
        return "deadline passed";
    case FS_EBUSY:
        return "queue full";
    case FS_ENOSPC:
        return "budget spent";
    case FS_ELAGGED:
        return "subscriber fell behind";
    default:
        return "unknown error";
    }
}

/* ----------------------------------------------------------------- codes */

static int parse_letters3(const char *s, size_t len, uint16_t *out)
{
    unsigned v = 0;

    if (s == NULL || len != 3)
        return FS_EINVAL;
    for (size_t i = 0; i < 3; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 'A' || c > 'Z')
            return FS_EINVAL;
        v = v * 26 + (c - 'A');
    }
    *out = (uint16_t)v;
    return 0;
}

/* Ids past the last code (a corrupt record) still format as three letters rather than overrun:
 * the top letter is taken modulo 26 too. */
static void format_letters3(uint16_t v, char out[4])
{
    out[2] = (char)('A' + v % 26);
    v /= 26;
    out[1] = (char)('A' + v % 26);
    v /= 26;
    out[0] = (char)('A' + v % 26);
    out[3] = '\0';
}

int fs_airport_parse(const char *s, size_t len, fs_airport_t *out)
{
    return parse_letters3(s, len, out);
}

void fs_airport_format(fs_airport_t a, char out[4])
{
    format_letters3(a, out);
}

int fs_currency_parse(const char *s, size_t len, fs_currency_t *out)
{
    return parse_letters3(s, len, out);
}

void fs_currency_format(fs_currency_t c, char out[4])
{
    format_letters3(c, out);
}

static int carrier_digit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'Z')
        return 10 + (c - 'A');
    return -1;
}

static const char carrier_chars[36] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

int fs_carrier_parse(const char *s, size_t len, fs_carrier_t *out)
{
    int hi, lo;

    if (s == NULL || len != 2)
        return FS_EINVAL;
    if ((hi = carrier_digit((unsigned char)s[0])) < 0 || (lo = carrier_digit((unsigned char)s[1])) < 0)
        return FS_EINVAL;
    *out = (fs_carrier_t)(hi * 36 + lo);
    return 0;
}

void fs_carrier_format(fs_carrier_t c, char out[3])
{
    out[0] = carrier_chars[(c / 36) % 36];
    out[1] = carrier_chars[c % 36];
    out[2] = '\0';
}

/* ---------------------------------------------------------------- cabins */

const char *const fs_cabin_names[FS_CABIN_COUNT] = {"economy", "premium", "business", "first"};
const char fs_cabin_letters[FS_CABIN_COUNT] = {'Y', 'W', 'J', 'F'};

int fs_cabin_parse(const char *s, size_t len)
{
    /* on the decode hot path (every cabin of every leg): the lengths tell the names apart */
    static const unsigned char lengths[FS_CABIN_COUNT] = {7, 7, 8, 5};
    if (s == NULL)
        return FS_EINVAL;
    for (int c = 0; c < FS_CABIN_COUNT; c++)
        if (lengths[c] == len && memcmp(fs_cabin_names[c], s, len) == 0)
            return c;
    return FS_EINVAL;
}

/* ------------------------------------------------------------------ hash */

/* XXH64 (not XXH3) because index.h promises xxHash64 and persisted body hashes must stay
 * comparable across builds; the seed is ASCII "flightsr", fixed forever for the same reason. */
#define FS_HASH_SEED 0x666c696768747372ULL

uint64_t fs_hash64(const void *data, size_t len)
{
    return XXH64(data, len, FS_HASH_SEED);
}
