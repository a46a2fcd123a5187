/*
 * tests/unit/test_src_enc.c: the response writer.
 *
 * JSON is compared with hand-written strings (and, for integers, with printf). msgpack is
 * decoded with msgpack-c, an independent implementation, and a few tiny documents are compared
 * byte for byte with hand-assembled encodings.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <msgpack.h>

#include "src/enc.h"
#include "tests/test.h"

/* The finished document as a NUL-terminated string owned by a static buffer (JSON only). */
static const char *json_of(fs_enc_t *e)
{
    static char text[1 << 16];
    h2o_iovec_t v = fs_enc_result(e);
    if (v.base == NULL || v.len >= sizeof(text))
        return NULL;
    memcpy(text, v.base, v.len);
    text[v.len] = '\0';
    return text;
}

static int bytes_equal(fs_enc_t *e, const unsigned char *expected, size_t len)
{
    h2o_iovec_t v = fs_enc_result(e);
    if (v.base == NULL || v.len != len || memcmp(v.base, expected, len) != 0) {
        fprintf(stderr, "  got %zu bytes:", v.len);
        for (size_t i = 0; v.base != NULL && i < v.len && i < 48; i++)
            fprintf(stderr, " %02x", (unsigned char)v.base[i]);
        fprintf(stderr, "\n");
        return 0;
    }
    return 1;
}

/* ------------------------------------------------------------------ JSON */

static void test_json_structure(void)
{
    fs_enc_t e;

    fs_enc_init(&e, FS_ENC_JSON, NULL, 0);
    fs_enc_map_begin(&e);
    fs_enc_key_lit(&e, "a");
    fs_enc_int(&e, 1);
    fs_enc_key_lit(&e, "b");
    fs_enc_array_begin(&e);
    fs_enc_bool(&e, 1);
    fs_enc_bool(&e, 0);
    fs_enc_null(&e);
    fs_enc_str_lit(&e, "x");
    fs_enc_array_end(&e);
    fs_enc_key_lit(&e, "c");
    fs_enc_map_begin(&e);
    fs_enc_map_end(&e);
    fs_enc_key_lit(&e, "d");
    fs_enc_array_begin(&e);
    fs_enc_array_end(&e);
    fs_enc_key_lit(&e, "e");
    fs_enc_map_begin(&e);
    fs_enc_key_lit(&e, "f");
    fs_enc_array_begin(&e);
    fs_enc_array_begin(&e);
    fs_enc_array_end(&e);
    fs_enc_map_begin(&e);
    fs_enc_key_lit(&e, "g");
    fs_enc_cstr(&e, "h");
    fs_enc_key_lit(&e, "");
    fs_enc_str(&e, "", 0);
    fs_enc_map_end(&e);
    fs_enc_array_end(&e);
    fs_enc_map_end(&e);
    fs_enc_map_end(&e);
    CHECK_EQ_STR(json_of(&e),
                 "{\"a\":1,\"b\":[true,false,null,\"x\"],\"c\":{},\"d\":[],\"e\":{\"f\":[[],{\"g\":\"h\",\"\":\"\"}]}}");
    fs_enc_dispose(&e);

    /* A bare scalar is a document too. */
    fs_enc_init(&e, FS_ENC_JSON, NULL, 4);
    fs_enc_int(&e, 5);
    CHECK_EQ_STR(json_of(&e), "5");
    fs_enc_dispose(&e);

    /* Nothing written: an empty (but not failed) document. */
    fs_enc_init(&e, FS_ENC_JSON, NULL, 0);
    h2o_iovec_t v = fs_enc_result(&e);
    CHECK(v.len == 0 && !e.failed);
    fs_enc_dispose(&e);
}

static void test_json_strings(void)
{
    fs_enc_t e;

    fs_enc_init(&e, FS_ENC_JSON, NULL, 0);
    fs_enc_array_begin(&e);
    fs_enc_str_lit(&e, "a\"b\\c/d");
    fs_enc_str_lit(&e, "\n\r\t\b\f");
    fs_enc_str_lit(&e, "\x01\x1f\x0b\x7f ~");
    fs_enc_str(&e, "a\0b", 3);
    fs_enc_str_lit(&e, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9b\xab"); /* café € and a U+1F6EB */
    /* Not UTF-8: each byte that does not belong to a valid sequence becomes U+FFFD, so the
     * document stays valid JSON whatever the caller passed (a 404 echoing a decoded path). */
    fs_enc_str_lit(&e, "\xff\x80");
    fs_enc_array_end(&e);
    CHECK_EQ_STR(json_of(&e), "[\"a\\\"b\\\\c/d\",\"\\n\\r\\t\\b\\f\",\"\\u0001\\u001f\\u000b\x7f ~\",\"a\\u0000b\","
                              "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9b\xab\",\"\\ufffd\\ufffd\"]");
    fs_enc_dispose(&e);

    /* Keys are escaped the same way (by fs_enc_key: fs_enc_key_lit is for keys that need no escaping). */
    fs_enc_init(&e, FS_ENC_JSON, NULL, 0);
    fs_enc_map_begin(&e);
    fs_enc_key(&e, "k\"\n", 3);
    fs_enc_int(&e, 1);
    fs_enc_map_end(&e);
    CHECK_EQ_STR(json_of(&e), "{\"k\\\"\\n\":1}");
    fs_enc_dispose(&e);

    /* Every byte value: escaped exactly when below 0x20 or a quote or a backslash. */
    const char *short_forms = "\n\r\t\b\f", *short_letters = "nrtbf";
    for (int b = 1; b < 256; b++) {
        char c = (char)b;
        fs_enc_t one;
        char expected[16];
        fs_enc_init(&one, FS_ENC_JSON, NULL, 0);
        fs_enc_str(&one, &c, 1);
        if (b == '"' || b == '\\')
            snprintf(expected, sizeof(expected), "\"\\%c\"", b);
        else if (b < 0x20 && strchr(short_forms, b) != NULL)
            snprintf(expected, sizeof(expected), "\"\\%c\"", short_letters[strchr(short_forms, b) - short_forms]);
        else if (b < 0x20)
            snprintf(expected, sizeof(expected), "\"\\u%04x\"", b);
        else if (b >= 0x80) /* a lone byte >= 0x80 is never UTF-8 */
            snprintf(expected, sizeof(expected), "\"\\ufffd\"");
        else
            snprintf(expected, sizeof(expected), "\"%c\"", b);
        const char *got = json_of(&one);
        if (got == NULL || strcmp(got, expected) != 0) {
            CHECK_EQ_STR(got, expected);
            fprintf(stderr, "  byte 0x%02x\n", b);
        }
        fs_enc_dispose(&one);
    }
}

/* Invalid UTF-8, case by case (RFC 3629 section 3-4: no overlong forms, no surrogates, nothing
 * above U+10FFFF); each byte that cannot start or continue a valid sequence is one U+FFFD. */
static void test_json_invalid_utf8(void)
{
    static const struct {
        const char *name, *in, *out;
    } cases[] = {
        {"truncated 2-byte at end", "a\xc3", "\"a\\ufffd\""},
        {"truncated 3-byte before ASCII", "\xe2\x82x", "\"\\ufffd\\ufffdx\""},
        {"overlong slash", "\xc0\xaf", "\"\\ufffd\\ufffd\""},
        {"overlong 3-byte", "\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\""},
        {"surrogate D800", "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""},
        {"above U+10FFFF", "\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""},
        {"F5 lead", "\xf5\x80", "\"\\ufffd\\ufffd\""},
        {"valid U+10FFFF kept", "\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\""},
        {"valid U+FFFF kept", "\xef\xbf\xbf", "\"\xef\xbf\xbf\""},
        {"valid U+0080 kept", "\xc2\x80", "\"\xc2\x80\""},
        {"stray continuation between valid", "\xc3\xa9\x80\xc3\xa9", "\"\xc3\xa9\\ufffd\xc3\xa9\""},
        {"latin-1 path /caf\xe9", "/caf\xe9", "\"/caf\\ufffd\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fs_enc_t e;
        fs_enc_init(&e, FS_ENC_JSON, NULL, 0);
        fs_enc_str(&e, cases[i].in, strlen(cases[i].in));
        const char *got = json_of(&e);
        if (got == NULL || strcmp(got, cases[i].out) != 0) {
            CHECK_EQ_STR(got, cases[i].out);
            fprintf(stderr, "  case: %s\n", cases[i].name);
        } else {
            CHECK(1);
        }
        fs_enc_dispose(&e);
    }
}

static void test_json_integers(void)
{
    fs_enc_t e;

    fs_enc_init(&e, FS_ENC_JSON, NULL, 0);
    fs_enc_array_begin(&e);
    fs_enc_int(&e, 0);
    fs_enc_int(&e, -1);
    fs_enc_int(&e, 9);
    fs_enc_int(&e, 10);
    fs_enc_int(&e, 99);
    fs_enc_int(&e, 100);
    fs_enc_int(&e, -42);
    fs_enc_int(&e, 1234567);
    fs_enc_int(&e, INT64_MIN);
    fs_enc_int(&e, INT64_MAX);
    fs_enc_uint(&e, 0);
    fs_enc_uint(&e, UINT64_MAX);
    fs_enc_array_end(&e);
    CHECK_EQ_STR(json_of(&e), "[0,-1,9,10,99,100,-42,1234567,-9223372036854775808,9223372036854775807,0,"
                              "18446744073709551615]");
    fs_enc_dispose(&e);

    /* Against printf: every power of ten and its neighbours, and pseudo-random values. */
    unsigned bad = 0;
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 20000; i++) {
        int64_t s;
        uint64_t u;
        if (i < 60) {
            uint64_t p = 1;
            for (int k = 0; k < i / 3; k++)
                p *= 10;
            u = p + (uint64_t)(i % 3) - 1;
        } else {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
            u = x >> (x % 64);
        }
        s = (int64_t)u;
        char expected[64];
        fs_enc_t one;

        fs_enc_init(&one, FS_ENC_JSON, NULL, 0);
        fs_enc_uint(&one, u);
        snprintf(expected, sizeof(expected), "%" PRIu64, u);
        const char *got = json_of(&one);
        if (got == NULL || strcmp(got, expected) != 0)
            bad++;
        fs_enc_dispose(&one);

        fs_enc_init(&one, FS_ENC_JSON, NULL, 0);
        fs_enc_int(&one, s);
        snprintf(expected, sizeof(expected), "%" PRId64, s);
        got = json_of(&one);
        if (got == NULL || strcmp(got, expected) != 0)
            bad++;
        fs_enc_dispose(&one);

        fs_enc_init(&one, FS_ENC_JSON, NULL, 0);
        fs_enc_int(&one, -(s & INT64_MAX));
        snprintf(expected, sizeof(expected), "%" PRId64, -(s & INT64_MAX));
        got = json_of(&one);
        if (got == NULL || strcmp(got, expected) != 0)
            bad++;
        fs_enc_dispose(&one);
    }
    CHECK_EQ_INT(bad, 0);
}

static void test_json_doubles(void)
{
    fs_enc_t e;

    fs_enc_init(&e, FS_ENC_JSON, NULL, 0);
    fs_enc_array_begin(&e);
    fs_enc_double(&e, 1.5);
    fs_enc_double(&e, 2.0);
    fs_enc_double(&e, -0.25);
    fs_enc_double(&e, 0.1);
    fs_enc_double(&e, 3.14159265);
    fs_enc_double(&e, 1e-7);
    fs_enc_double(&e, -0.0);
    fs_enc_double(&e, -1e-9);
    fs_enc_double(&e, 0.0000006); /* rounds to the sixth decimal */
    fs_enc_double(&e, 123456.0000001);
    fs_enc_double(&e, 1e20);
    fs_enc_double(&e, -2.5e6);
    fs_enc_double(&e, NAN);
    fs_enc_double(&e, INFINITY);
    fs_enc_array_end(&e);
    CHECK_EQ_STR(json_of(&e), "[1.5,2,-0.25,0.1,3.141593,0,0,0,0.000001,123456,100000000000000000000,-2500000,null,null]");
    fs_enc_dispose(&e);

    /* The largest double fits the formatter's buffer: 309 digits, no fraction. */
    fs_enc_init(&e, FS_ENC_JSON, NULL, 0);
    fs_enc_double(&e, 1.7976931348623157e308);
    h2o_iovec_t v = fs_enc_result(&e);
    CHECK(v.base != NULL && v.len == 309 && memcmp(v.base, "17976931348623157", 17) == 0);
    fs_enc_dispose(&e);
}

/* Misuse and limits: the first error sticks, later calls do nothing, the result is empty. */
static void test_json_failures(void)
{
    fs_enc_t e;
    h2o_iovec_t v;

    /* FS_ENC_MAX_DEPTH containers nest; one more does not. */
    fs_enc_init(&e, FS_ENC_JSON, NULL, 0);
    for (int i = 0; i < FS_ENC_MAX_DEPTH; i++)
        fs_enc_array_begin(&e);
    CHECK(!e.failed);
    v = fs_enc_result(&e);
    CHECK(v.base == NULL && v.len == 0); /* containers still open */
    for (int i = 0; i < FS_ENC_MAX_DEPTH; i++)
        fs_enc_array_end(&e);
    v = fs_enc_result(&e);
    CHECK(v.base != NULL && v.len == 2 * FS_ENC_MAX_DEPTH);
    fs_enc_dispose(&e);

    fs_enc_init(&e, FS_ENC_JSON, NULL, 0);
    for (int i = 0; i < FS_ENC_MAX_DEPTH + 1; i++)
        fs_enc_map_begin(&e), fs_enc_key_lit(&e, "k");
    CHECK(e.failed);
    size_t len = e.len;
    fs_enc_int(&e, 1);
    fs_enc_str_lit(&e, "more");
    for (int i = 0; i < FS_ENC_MAX_DEPTH + 1; i++)
        fs_enc_map_end(&e);
    CHECK(e.len == len);
    v = fs_enc_result(&e);
    CHECK(v.base == NULL && v.len == 0);
    fs_enc_dispose(&e);

    /* A value in a map with no key. */
    fs_enc_init(&e, FS_ENC_JSON, NULL, 0);
    fs_enc_map_begin(&e);
    fs_enc_int(&e, 1);
    fs_enc_map_end(&e);
    CHECK(e.failed && fs_enc_result(&e).base == NULL);
    fs_enc_dispose(&e);

    /* A key outside a map. */
    fs_enc_init(&e, FS_ENC_JSON, NULL, 0);
    fs_enc_array_begin(&e);
    fs_enc_key_lit(&e, "k");
    fs_enc_array_end(&e);
    CHECK(e.failed && fs_enc_result(&e).base == NULL);
    fs_enc_dispose(&e);

    /* A key with no value before the map ends, and two keys in a row. */
    fs_enc_init(&e, FS_ENC_JSON, NULL, 0);
    fs_enc_map_begin(&e);
    fs_enc_key_lit(&e, "k");
    fs_enc_map_end(&e);
    CHECK(e.failed);
    fs_enc_dispose(&e);
    fs_enc_init(&e, FS_ENC_JSON, NULL, 0);
    fs_enc_map_begin(&e);
    fs_enc_key_lit(&e, "k");
    fs_enc_key_lit(&e, "l");
    CHECK(e.failed);
    fs_enc_dispose(&e);

    /* Mismatched or unbalanced ends. */
    fs_enc_init(&e, FS_ENC_JSON, NULL, 0);
    fs_enc_array_begin(&e);
    fs_enc_map_end(&e);
    CHECK(e.failed);
    fs_enc_dispose(&e);
    fs_enc_init(&e, FS_ENC_JSON, NULL, 0);
    fs_enc_array_end(&e);
    CHECK(e.failed);
    fs_enc_dispose(&e);
}

/* --------------------------------------------------------------- msgpack */

static void test_msgpack_bytes(void)
{
    fs_enc_t e;

    /* {"a": 1}: map32 with count 1, fixstr "a", positive fixint 1. */
    static const unsigned char map1[] = {0xdf, 0, 0, 0, 1, 0xa1, 'a', 0x01};
    fs_enc_init(&e, FS_ENC_MSGPACK, NULL, 0);
    fs_enc_map_begin(&e);
    fs_enc_key_lit(&e, "a");
    fs_enc_int(&e, 1);
    fs_enc_map_end(&e);
    CHECK(bytes_equal(&e, map1, sizeof(map1)));
    fs_enc_dispose(&e);

    /* [-1, 128, -33, true, nil, false, 1.5, {}]. */
    static const unsigned char arr[] = {0xdd, 0,    0, 0, 8, 0xff, 0xcc, 0x80, 0xd0, 0xdf, 0xc3, 0xc0, 0xc2, 0xcb,
                                        0x3f, 0xf8, 0, 0, 0, 0,    0,    0,    0xdf, 0,    0,    0,    0};
    fs_enc_init(&e, FS_ENC_MSGPACK, NULL, 0);
    fs_enc_array_begin(&e);
    fs_enc_int(&e, -1);
    fs_enc_uint(&e, 128);
    fs_enc_int(&e, -33);
    fs_enc_bool(&e, 1);
    fs_enc_null(&e);
    fs_enc_bool(&e, 0);
    fs_enc_double(&e, 1.5);
    fs_enc_map_begin(&e);
    fs_enc_map_end(&e);
    fs_enc_array_end(&e);
    CHECK(bytes_equal(&e, arr, sizeof(arr)));
    fs_enc_dispose(&e);

    /* Integer boundaries, each in its smallest form. */
    static const struct {
        int64_t v;
        unsigned char bytes[9];
        size_t len;
    } ints[] = {
        {0, {0x00}, 1},
        {127, {0x7f}, 1},
        {128, {0xcc, 0x80}, 2},
        {255, {0xcc, 0xff}, 2},
        {256, {0xcd, 0x01, 0x00}, 3},
        {65535, {0xcd, 0xff, 0xff}, 3},
        {65536, {0xce, 0x00, 0x01, 0x00, 0x00}, 5},
        {4294967295LL, {0xce, 0xff, 0xff, 0xff, 0xff}, 5},
        {4294967296LL, {0xcf, 0, 0, 0, 1, 0, 0, 0, 0}, 9},
        {INT64_MAX, {0xcf, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 9},
        {-1, {0xff}, 1},
        {-32, {0xe0}, 1},
        {-33, {0xd0, 0xdf}, 2},
        {-128, {0xd0, 0x80}, 2},
        {-129, {0xd1, 0xff, 0x7f}, 3},
        {-32768, {0xd1, 0x80, 0x00}, 3},
        {-32769, {0xd2, 0xff, 0xff, 0x7f, 0xff}, 5},
        {INT32_MIN, {0xd2, 0x80, 0, 0, 0}, 5},
        {(int64_t)INT32_MIN - 1, {0xd3, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff}, 9},
        {INT64_MIN, {0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0}, 9},
    };
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        fs_enc_init(&e, FS_ENC_MSGPACK, NULL, 0);
        fs_enc_int(&e, ints[i].v);
        int ok = bytes_equal(&e, ints[i].bytes, ints[i].len);
        CHECK(ok);
        if (!ok)
            fprintf(stderr, "  int %" PRId64 "\n", ints[i].v);
        fs_enc_dispose(&e);
    }
    static const unsigned char umax[] = {0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    fs_enc_init(&e, FS_ENC_MSGPACK, NULL, 0);
    fs_enc_uint(&e, UINT64_MAX);
    CHECK(bytes_equal(&e, umax, sizeof(umax)));
    fs_enc_dispose(&e);

    /* String headers at each length boundary; the payload follows unchanged. */
    static const struct {
        size_t len;
        unsigned char header[5];
        size_t header_len;
    } strs[] = {
        {0, {0xa0}, 1},
        {31, {0xbf}, 1},
        {32, {0xd9, 32}, 2},
        {255, {0xd9, 0xff}, 2},
        {256, {0xda, 0x01, 0x00}, 3},
        {65535, {0xda, 0xff, 0xff}, 3},
        {65536, {0xdb, 0x00, 0x01, 0x00, 0x00}, 5},
    };
    char *payload = malloc(65536);
    for (size_t i = 0; i < 65536; i++)
        payload[i] = (char)('a' + i % 26);
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        fs_enc_init(&e, FS_ENC_MSGPACK, NULL, 0);
        fs_enc_str(&e, payload, strs[i].len);
        h2o_iovec_t v = fs_enc_result(&e);
        int ok = v.base != NULL && v.len == strs[i].header_len + strs[i].len &&
                 memcmp(v.base, strs[i].header, strs[i].header_len) == 0 &&
                 memcmp(v.base + strs[i].header_len, payload, strs[i].len) == 0;
        CHECK(ok);
        if (!ok)
            fprintf(stderr, "  string of %zu bytes\n", strs[i].len);
        fs_enc_dispose(&e);
    }
    free(payload);

    /* msgpack strings are raw bytes: nothing is escaped. */
    static const unsigned char raw[] = {0xa4, '"', '\\', '\n', 0x01};
    fs_enc_init(&e, FS_ENC_MSGPACK, NULL, 0);
    fs_enc_str_lit(&e, "\"\\\n\x01");
    CHECK(bytes_equal(&e, raw, sizeof(raw)));
    fs_enc_dispose(&e);
}

/* Unpacks exactly one object spanning the whole buffer. */
static int unpack_all(h2o_iovec_t v, msgpack_unpacked *u)
{
    size_t off = 0;
    msgpack_unpacked_init(u);
    if (v.base == NULL)
        return 0;
    if (msgpack_unpack_next(u, v.base, v.len, &off) != MSGPACK_UNPACK_SUCCESS)
        return 0;
    return off == v.len;
}

static const msgpack_object *map_get(const msgpack_object *map, const char *key)
{
    if (map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(key) && memcmp(k->via.str.ptr, key, k->via.str.size) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

static int is_str(const msgpack_object *o, const char *s, size_t len)
{
    return o != NULL && o->type == MSGPACK_OBJECT_STR && o->via.str.size == len && memcmp(o->via.str.ptr, s, len) == 0;
}

static void test_msgpack_decode(void)
{
    fs_enc_t e;
    msgpack_unpacked u;
    char long_str[300];

    memset(long_str, 'q', sizeof(long_str));
    fs_enc_init(&e, FS_ENC_MSGPACK, NULL, 0);
    fs_enc_map_begin(&e);
    fs_enc_key_lit(&e, "min");
    fs_enc_int(&e, INT64_MIN);
    fs_enc_key_lit(&e, "umax");
    fs_enc_uint(&e, UINT64_MAX);
    fs_enc_key_lit(&e, "zero");
    fs_enc_int(&e, 0);
    fs_enc_key_lit(&e, "neg");
    fs_enc_int(&e, -100000);
    fs_enc_key_lit(&e, "pi");
    fs_enc_double(&e, 3.25);
    fs_enc_key_lit(&e, "text");
    fs_enc_str_lit(&e, "caf\xc3\xa9 \"q\"\n");
    fs_enc_key_lit(&e, "long");
    fs_enc_str(&e, long_str, sizeof(long_str));
    fs_enc_key_lit(&e, "list");
    fs_enc_array_begin(&e);
    for (int i = 0; i < 40; i++)
        fs_enc_int(&e, i * 1000 - 20000);
    fs_enc_array_end(&e);
    fs_enc_key_lit(&e, "nested");
    fs_enc_map_begin(&e);
    fs_enc_key_lit(&e, "t");
    fs_enc_bool(&e, 1);
    fs_enc_key_lit(&e, "n");
    fs_enc_null(&e);
    fs_enc_key_lit(&e, "empty");
    fs_enc_array_begin(&e);
    fs_enc_array_end(&e);
    fs_enc_map_end(&e);
    fs_enc_map_end(&e);

    CHECK(unpack_all(fs_enc_result(&e), &u));
    const msgpack_object *root = &u.data, *o;
    CHECK(root->type == MSGPACK_OBJECT_MAP && root->via.map.size == 9);
    CHECK((o = map_get(root, "min")) && o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER && o->via.i64 == INT64_MIN);
    CHECK((o = map_get(root, "umax")) && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 == UINT64_MAX);
    CHECK((o = map_get(root, "zero")) && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 == 0);
    CHECK((o = map_get(root, "neg")) && o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER && o->via.i64 == -100000);
    CHECK((o = map_get(root, "pi")) && o->type == MSGPACK_OBJECT_FLOAT64 && o->via.f64 == 3.25);
    CHECK(is_str(map_get(root, "text"), "caf\xc3\xa9 \"q\"\n", 10));
    CHECK(is_str(map_get(root, "long"), long_str, sizeof(long_str)));
    o = map_get(root, "list");
    CHECK(o != NULL && o->type == MSGPACK_OBJECT_ARRAY && o->via.array.size == 40);
    if (o != NULL && o->type == MSGPACK_OBJECT_ARRAY && o->via.array.size == 40) {
        unsigned bad = 0;
        for (int i = 0; i < 40; i++) {
            const msgpack_object *x = &o->via.array.ptr[i];
            int64_t want = i * 1000 - 20000;
            int64_t got = x->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (int64_t)x->via.u64 : x->via.i64;
            if ((x->type != MSGPACK_OBJECT_POSITIVE_INTEGER && x->type != MSGPACK_OBJECT_NEGATIVE_INTEGER) || got != want)
                bad++;
        }
        CHECK_EQ_INT(bad, 0);
    }
    o = map_get(root, "nested");
    CHECK(o != NULL && o->type == MSGPACK_OBJECT_MAP && o->via.map.size == 3);
    const msgpack_object *t = o ? map_get(o, "t") : NULL, *n = o ? map_get(o, "n") : NULL;
    const msgpack_object *empty = o ? map_get(o, "empty") : NULL;
    CHECK(t && t->type == MSGPACK_OBJECT_BOOLEAN && t->via.boolean);
    CHECK(n && n->type == MSGPACK_OBJECT_NIL);
    CHECK(empty && empty->type == MSGPACK_OBJECT_ARRAY && empty->via.array.size == 0);
    msgpack_unpacked_destroy(&u);
    fs_enc_dispose(&e);

    /* Errors in msgpack mode behave as in JSON. */
    fs_enc_init(&e, FS_ENC_MSGPACK, NULL, 0);
    fs_enc_map_begin(&e);
    fs_enc_str_lit(&e, "no key");
    fs_enc_map_end(&e);
    CHECK(e.failed && fs_enc_result(&e).base == NULL);
    fs_enc_dispose(&e);
}

/* ----------------------------------------------------------------- growth */

#define BIG 100000

/* A document far past the initial capacity, in a pool and with malloc, in both formats. */
static void test_big(h2o_mem_pool_t *pool)
{
    fs_enc_t e;
    msgpack_unpacked u;

    fs_enc_init(&e, FS_ENC_MSGPACK, pool, 16);
    fs_enc_map_begin(&e);
    fs_enc_key_lit(&e, "items");
    fs_enc_array_begin(&e);
    for (int i = 0; i < BIG; i++) {
        fs_enc_map_begin(&e);
        fs_enc_key_lit(&e, "i");
        fs_enc_int(&e, (int64_t)i * 37 - 1000000);
        fs_enc_key_lit(&e, "s");
        fs_enc_str_lit(&e, "flight");
        fs_enc_map_end(&e);
    }
    fs_enc_array_end(&e);
    fs_enc_key_lit(&e, "total");
    fs_enc_uint(&e, BIG);
    fs_enc_map_end(&e);
    CHECK(!e.failed && e.cap >= e.len);
    CHECK(unpack_all(fs_enc_result(&e), &u));
    const msgpack_object *items = map_get(&u.data, "items"), *total = map_get(&u.data, "total");
    CHECK(u.data.type == MSGPACK_OBJECT_MAP && u.data.via.map.size == 2);
    CHECK(total != NULL && total->type == MSGPACK_OBJECT_POSITIVE_INTEGER && total->via.u64 == BIG);
    CHECK(items != NULL && items->type == MSGPACK_OBJECT_ARRAY && items->via.array.size == BIG);
    if (items != NULL && items->type == MSGPACK_OBJECT_ARRAY && items->via.array.size == BIG) {
        unsigned bad = 0;
        for (int i = 0; i < BIG; i++) {
            const msgpack_object *m = &items->via.array.ptr[i], *iv = map_get(m, "i");
            int64_t want = (int64_t)i * 37 - 1000000;
            int64_t got = iv == NULL ? 0 : iv->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (int64_t)iv->via.u64 : iv->via.i64;
            if (m->type != MSGPACK_OBJECT_MAP || m->via.map.size != 2 || iv == NULL || got != want ||
                !is_str(map_get(m, "s"), "flight", 6))
                bad++;
        }
        CHECK_EQ_INT(bad, 0);
    }
    msgpack_unpacked_destroy(&u);
    fs_enc_dispose(&e);

    /* JSON: the expected text is built with snprintf alongside. */
    size_t cap = (size_t)BIG * 16 + 64, n = 0;
    char *expected = malloc(cap);
    n += (size_t)snprintf(expected + n, cap - n, "[");
    fs_enc_init(&e, FS_ENC_JSON, pool, 0);
    fs_enc_array_begin(&e);
    for (int i = 0; i < BIG; i++) {
        fs_enc_int(&e, (int64_t)i * 37 - 1000000);
        n += (size_t)snprintf(expected + n, cap - n, "%s%d", i ? "," : "", i * 37 - 1000000);
    }
    fs_enc_array_end(&e);
    n += (size_t)snprintf(expected + n, cap - n, "]");
    h2o_iovec_t v = fs_enc_result(&e);
    CHECK(v.base != NULL && v.len == n && memcmp(v.base, expected, n) == 0);
    free(expected);
    fs_enc_dispose(&e);
}

static void test_pool(void)
{
    h2o_mem_pool_t pool;

    h2o_mem_init_pool(&pool);
    test_big(&pool);
    /* A tiny document stays inside the pool's first chunk. */
    fs_enc_t e;
    fs_enc_init(&e, FS_ENC_JSON, &pool, 32);
    fs_enc_map_begin(&e);
    fs_enc_key_lit(&e, "ok");
    fs_enc_bool(&e, 1);
    fs_enc_map_end(&e);
    CHECK_EQ_STR(json_of(&e), "{\"ok\":true}");
    fs_enc_dispose(&e); /* a no-op for pool memory; the pool frees it */
    h2o_mem_clear_pool(&pool);
}

/* ------------------------------------------------------------ fast paths */

/* fs_enc_key_lit (pre-escaped keys), fs_enc_str_safe (no scan) and the word-at-a-time scan of
 * fs_enc_str, each next to the general path, in both formats. */
static void test_fast_paths(void)
{
    fs_enc_t e;

    /* Literal keys: the first key of a map has no comma, the others do; an empty key; nested maps. */
    fs_enc_init(&e, FS_ENC_JSON, NULL, 0);
    fs_enc_map_begin(&e);
    fs_enc_key_lit(&e, "origin");
    fs_enc_str_safe_lit(&e, "GRU");
    fs_enc_key(&e, "k\"", 2);
    fs_enc_str_safe(&e, "2024-02-29", 10);
    fs_enc_key_lit(&e, "");
    fs_enc_map_begin(&e);
    fs_enc_key_lit(&e, "departs_at");
    fs_enc_str_safe(&e, "", 0);
    fs_enc_map_end(&e);
    fs_enc_key_lit(&e, "z");
    fs_enc_int(&e, -1);
    fs_enc_map_end(&e);
    CHECK_EQ_STR(json_of(&e), "{\"origin\":\"GRU\",\"k\\\"\":\"2024-02-29\",\"\":{\"departs_at\":\"\"},\"z\":-1}");
    fs_enc_dispose(&e);

    /* The same in msgpack: keys as fixstr, safe strings as fixstr. */
    static const unsigned char mp[] = {0xdf, 0, 0, 0, 2, 0xa6, 'o', 'r', 'i', 'g', 'i', 'n', 0xa3, 'G', 'R', 'U',
                                       0xa0, 0xdf, 0,   0,   0,   1,   0xa1, 'd', 0xa2, 'J', 'J'};
    fs_enc_init(&e, FS_ENC_MSGPACK, NULL, 0);
    fs_enc_map_begin(&e);
    fs_enc_key_lit(&e, "origin");
    fs_enc_str_safe_lit(&e, "GRU");
    fs_enc_key_lit(&e, "");
    fs_enc_map_begin(&e);
    fs_enc_key_lit(&e, "d");
    fs_enc_str_safe(&e, "JJ", 2);
    fs_enc_map_end(&e);
    fs_enc_map_end(&e);
    CHECK(bytes_equal(&e, mp, sizeof(mp)));
    fs_enc_dispose(&e);

    /* A key literal of 32 bytes takes str8 in msgpack. */
    static const unsigned char mp32[] = {0xdf, 0,   0,   0,   1,   0xd9, 32,  'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'a',
                                         'b',  'c', 'd', 'e', 'f', 'g',  'h', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'a',
                                         'b',  'c', 'd', 'e', 'f', 'g',  'h', 0xc0};
    fs_enc_init(&e, FS_ENC_MSGPACK, NULL, 0);
    fs_enc_map_begin(&e);
    fs_enc_key_lit(&e, "abcdefghabcdefghabcdefghabcdefgh");
    fs_enc_null(&e);
    fs_enc_map_end(&e);
    CHECK(bytes_equal(&e, mp32, sizeof(mp32)));
    fs_enc_dispose(&e);

    /* A string needing escaping next to one that does not, at every position around the 8-byte words
     * the scan reads: the escape at offset 0, 7, 8, 9 and last of a long string. */
    fs_enc_init(&e, FS_ENC_JSON, NULL, 0);
    fs_enc_array_begin(&e);
    fs_enc_cstr(&e, "\"abcdefghijklmnop");
    fs_enc_cstr(&e, "abcdefg\\hijklmnop");
    fs_enc_cstr(&e, "abcdefgh\nijklmnop");
    fs_enc_cstr(&e, "abcdefghi\x1fjklmnop");
    fs_enc_cstr(&e, "abcdefghijklmnop\"");
    fs_enc_cstr(&e, "abcdefghijklmnopq");
    fs_enc_str_safe(&e, "tap-TP81-GRU-20261213-Y", 23);
    fs_enc_array_end(&e);
    CHECK_EQ_STR(json_of(&e), "[\"\\\"abcdefghijklmnop\",\"abcdefg\\\\hijklmnop\",\"abcdefgh\\nijklmnop\","
                              "\"abcdefghi\\u001fjklmnop\",\"abcdefghijklmnop\\\"\",\"abcdefghijklmnopq\","
                              "\"tap-TP81-GRU-20261213-Y\"]");
    fs_enc_dispose(&e);

    /* Control characters, DEL and UTF-8 inside long runs; UTF-8 across a word boundary; a broken
     * sequence after 8 clean bytes. */
    fs_enc_init(&e, FS_ENC_JSON, NULL, 0);
    fs_enc_array_begin(&e);
    fs_enc_cstr(&e, "\x01\x02\x03\x04\x05\x06\x07\x08\x7f~ ");
    fs_enc_cstr(&e, "Aeroporto de S\xc3\xa3o Paulo \xe2\x80\x93 Guarulhos \xf0\x9f\x9b\xab ok");
    fs_enc_cstr(&e, "1234567\xc3\xa9");
    fs_enc_cstr(&e, "12345678\xc3(");
    fs_enc_array_end(&e);
    CHECK_EQ_STR(json_of(&e), "[\"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\x7f~ \","
                              "\"Aeroporto de S\xc3\xa3o Paulo \xe2\x80\x93 Guarulhos \xf0\x9f\x9b\xab ok\","
                              "\"1234567\xc3\xa9\",\"12345678\\ufffd(\"]");
    fs_enc_dispose(&e);
}

int main(void)
{
    test_json_structure();
    test_json_strings();
    test_json_invalid_utf8();
    test_json_integers();
    test_json_doubles();
    test_json_failures();
    test_msgpack_bytes();
    test_msgpack_decode();
    test_big(NULL);
    test_pool();
    test_fast_paths();
    TEST_DONE();
}
