/*
 * tests/unit/test_index_codes.c: airport, carrier and currency codes, cabins, errors, the hash.
 *
 * The expected id of every code comes from a counter that walks the codes in alphabetical order
 * (the order index/codes.c promises ids follow), not from the encoding's formula.
 */
#include <xxhash.h>

#include "index/index.h"
#include "tests/test.h"

static const char letters[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
static const char carrier_order[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"; /* ASCII order */

/* Every 3-letter code in order: parse gives the counter, format gives the text back. */
static void test_letters3(int (*parse)(const char *, size_t, uint16_t *), void (*format)(uint16_t, char[4]))
{
    unsigned expected = 0, bad_parse = 0, bad_format = 0;
    char code[4] = {0}, out[4];

    for (int a = 0; a < 26; a++) {
        for (int b = 0; b < 26; b++) {
            for (int c = 0; c < 26; c++, expected++) {
                uint16_t id = 0xffff;
                code[0] = letters[a], code[1] = letters[b], code[2] = letters[c];
                if (parse(code, 3, &id) != 0 || id != expected)
                    bad_parse++;
                memset(out, 'x', sizeof(out));
                format((uint16_t)expected, out);
                if (memcmp(out, code, 4) != 0)
                    bad_format++;
            }
        }
    }
    CHECK_EQ_INT(expected, FS_AIRPORT_COUNT);
    CHECK_EQ_INT(bad_parse, 0);
    CHECK_EQ_INT(bad_format, 0);

    /* Each position accepts exactly the 26 uppercase letters among all 256 byte values. */
    for (int pos = 0; pos < 3; pos++) {
        unsigned wrong = 0;
        for (int byte = 0; byte < 256; byte++) {
            char s[3] = {'M', 'M', 'M'};
            uint16_t id;
            s[pos] = (char)byte;
            int ok = parse(s, 3, &id) == 0;
            if (ok != (byte >= 'A' && byte <= 'Z'))
                wrong++;
        }
        CHECK_EQ_INT(wrong, 0);
    }

    uint16_t id;
    CHECK_EQ_INT(parse("lhr", 3, &id), FS_EINVAL);
    CHECK_EQ_INT(parse("LHr", 3, &id), FS_EINVAL);
    CHECK_EQ_INT(parse("LH", 2, &id), FS_EINVAL);
    CHECK_EQ_INT(parse("LHRX", 4, &id), FS_EINVAL);
    CHECK_EQ_INT(parse("LHR", 2, &id), FS_EINVAL);
    CHECK_EQ_INT(parse("", 0, &id), FS_EINVAL);
    CHECK_EQ_INT(parse("L-R", 3, &id), FS_EINVAL);
    CHECK_EQ_INT(parse("LH ", 3, &id), FS_EINVAL);
    CHECK_EQ_INT(parse("L1R", 3, &id), FS_EINVAL);
    CHECK_EQ_INT(parse("L\0R", 3, &id), FS_EINVAL);
    CHECK_EQ_INT(parse("\xc3\x84X", 3, &id), FS_EINVAL);
}

static void test_airports(void)
{
    fs_airport_t id;
    char out[4];

    test_letters3(fs_airport_parse, fs_airport_format);
    /* Hand-worked: A=0 .. Z=25; LHR = 11*676 + 7*26 + 17 = 7436 + 182 + 17. */
    CHECK(fs_airport_parse("AAA", 3, &id) == 0 && id == 0);
    CHECK(fs_airport_parse("AAB", 3, &id) == 0 && id == 1);
    CHECK(fs_airport_parse("ABA", 3, &id) == 0 && id == 26);
    CHECK(fs_airport_parse("LHR", 3, &id) == 0 && id == 7635);
    CHECK(fs_airport_parse("ZZZ", 3, &id) == 0 && id == 17575);
    fs_airport_format(7635, out);
    CHECK_EQ_STR(out, "LHR");
}

static void test_currencies(void)
{
    fs_currency_t id;
    char out[4];

    test_letters3(fs_currency_parse, fs_currency_format);
    /* USD = 20*676 + 18*26 + 3. */
    CHECK(fs_currency_parse("USD", 3, &id) == 0 && id == 13991);
    fs_currency_format(13991, out);
    CHECK_EQ_STR(out, "USD");
}

static void test_carriers(void)
{
    unsigned expected = 0, bad_parse = 0, bad_format = 0;
    char code[3] = {0}, out[3];
    fs_carrier_t id;

    for (int a = 0; a < 36; a++) {
        for (int b = 0; b < 36; b++, expected++) {
            code[0] = carrier_order[a], code[1] = carrier_order[b];
            id = 0xffff;
            if (fs_carrier_parse(code, 2, &id) != 0 || id != expected)
                bad_parse++;
            memset(out, 'x', sizeof(out));
            fs_carrier_format((fs_carrier_t)expected, out);
            if (memcmp(out, code, 3) != 0)
                bad_format++;
        }
    }
    CHECK_EQ_INT(expected, FS_CARRIER_COUNT);
    CHECK_EQ_INT(bad_parse, 0);
    CHECK_EQ_INT(bad_format, 0);

    for (int pos = 0; pos < 2; pos++) {
        unsigned wrong = 0;
        for (int byte = 0; byte < 256; byte++) {
            char s[2] = {'B', 'A'};
            s[pos] = (char)byte;
            int ok = fs_carrier_parse(s, 2, &id) == 0;
            if (ok != ((byte >= 'A' && byte <= 'Z') || (byte >= '0' && byte <= '9')))
                wrong++;
        }
        CHECK_EQ_INT(wrong, 0);
    }

    /* Hand-worked: digits 0..9, letters 10..35. BA = 11*36 + 10; 9W = 9*36 + 32. */
    CHECK(fs_carrier_parse("00", 2, &id) == 0 && id == 0);
    CHECK(fs_carrier_parse("0A", 2, &id) == 0 && id == 10);
    CHECK(fs_carrier_parse("BA", 2, &id) == 0 && id == 406);
    CHECK(fs_carrier_parse("9W", 2, &id) == 0 && id == 356);
    CHECK(fs_carrier_parse("ZZ", 2, &id) == 0 && id == 1295);
    fs_carrier_format(356, out);
    CHECK_EQ_STR(out, "9W");

    CHECK_EQ_INT(fs_carrier_parse("ba", 2, &id), FS_EINVAL);
    CHECK_EQ_INT(fs_carrier_parse("B", 1, &id), FS_EINVAL);
    CHECK_EQ_INT(fs_carrier_parse("BAW", 3, &id), FS_EINVAL);
    CHECK_EQ_INT(fs_carrier_parse("", 0, &id), FS_EINVAL);
    CHECK_EQ_INT(fs_carrier_parse("B-", 2, &id), FS_EINVAL);
    CHECK_EQ_INT(fs_carrier_parse("B ", 2, &id), FS_EINVAL);
    CHECK_EQ_INT(fs_carrier_parse("*A", 2, &id), FS_EINVAL);
}

static void test_cabins(void)
{
    CHECK_EQ_STR(fs_cabin_names[FS_CABIN_ECONOMY], "economy");
    CHECK_EQ_STR(fs_cabin_names[FS_CABIN_PREMIUM], "premium");
    CHECK_EQ_STR(fs_cabin_names[FS_CABIN_BUSINESS], "business");
    CHECK_EQ_STR(fs_cabin_names[FS_CABIN_FIRST], "first");
    CHECK_EQ_INT(fs_cabin_letters[FS_CABIN_ECONOMY], 'Y');
    CHECK_EQ_INT(fs_cabin_letters[FS_CABIN_PREMIUM], 'W');
    CHECK_EQ_INT(fs_cabin_letters[FS_CABIN_BUSINESS], 'J');
    CHECK_EQ_INT(fs_cabin_letters[FS_CABIN_FIRST], 'F');

    CHECK_EQ_INT(fs_cabin_parse("economy", 7), FS_CABIN_ECONOMY);
    CHECK_EQ_INT(fs_cabin_parse("premium", 7), FS_CABIN_PREMIUM);
    CHECK_EQ_INT(fs_cabin_parse("business", 8), FS_CABIN_BUSINESS);
    CHECK_EQ_INT(fs_cabin_parse("first", 5), FS_CABIN_FIRST);
    /* Lengths are the caller's: a longer buffer whose first len bytes are a name is that name. */
    CHECK_EQ_INT(fs_cabin_parse("firstclass", 5), FS_CABIN_FIRST);
    CHECK_EQ_INT(fs_cabin_parse("firstclass", 10), FS_EINVAL);
    CHECK_EQ_INT(fs_cabin_parse("first", 4), FS_EINVAL);
    CHECK_EQ_INT(fs_cabin_parse("Economy", 7), FS_EINVAL);
    CHECK_EQ_INT(fs_cabin_parse("ECONOMY", 7), FS_EINVAL);
    CHECK_EQ_INT(fs_cabin_parse("economy ", 8), FS_EINVAL);
    CHECK_EQ_INT(fs_cabin_parse("Y", 1), FS_EINVAL);
    CHECK_EQ_INT(fs_cabin_parse("", 0), FS_EINVAL);
    CHECK_EQ_INT(fs_cabin_parse("first\0", 6), FS_EINVAL);
}

static void test_errors(void)
{
    const int codes[] = {0, FS_EINVAL, FS_ENOMEM, FS_ERANGE, FS_ENOENT, FS_EIO, FS_EEXIST};
    const size_t n = sizeof(codes) / sizeof(codes[0]);

    for (size_t i = 0; i < n; i++) {
        CHECK(fs_strerror(codes[i]) != NULL && fs_strerror(codes[i])[0] != '\0');
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(fs_strerror(codes[i]), fs_strerror(codes[j])) != 0);
    }
    CHECK(fs_strerror(-9999) != NULL);
    CHECK(fs_strerror(12345) != NULL);
}

static void test_hash(void)
{
    /* The seed is part of the persisted format (segment body hashes): pin it. */
    CHECK(fs_hash64("", 0) == XXH64("", 0, 0x666c696768747372ULL));
    CHECK(fs_hash64("flightsearch", 12) == XXH64("flightsearch", 12, 0x666c696768747372ULL));
    CHECK(fs_hash64("abc", 3) == fs_hash64("abc", 3));
    CHECK(fs_hash64("abc", 3) != fs_hash64("abd", 3));
    CHECK(fs_hash64("abc", 3) != fs_hash64("abc", 2));
    CHECK(fs_hash64("abc", 3) != XXH64("abc", 3, 0));
}

int main(void)
{
    test_airports();
    test_currencies();
    test_carriers();
    test_cabins();
    test_errors();
    test_hash();
    TEST_DONE();
}
