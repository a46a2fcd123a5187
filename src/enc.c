/*
 * src/enc.c: the response writer (JSON or msgpack from one call sequence).
 *
 * Errors are sticky: the first failure (allocation, nesting deeper than FS_ENC_MAX_DEPTH, or a
 * call out of order such as a value in a map without its key) sets failed, every later call
 * returns at once and fs_enc_result() returns an empty iovec, so handlers check once at the end.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/enc.h"

#define MIN_CAPACITY 256

void fs_enc_init(fs_enc_t *e, fs_enc_format_t format, h2o_mem_pool_t *pool, size_t initial_capacity)
{
    memset(e, 0, sizeof(*e));
    e->format = format;
    e->pool = pool;
    if (initial_capacity == 0)
        return;
    e->buf = pool != NULL ? h2o_mem_alloc_pool(pool, initial_capacity) : malloc(initial_capacity);
    if (e->buf == NULL)
        e->failed = 1;
    else
        e->cap = initial_capacity;
}

void fs_enc_dispose(fs_enc_t *e)
{
    if (e->pool == NULL)
        free(e->buf);
    e->buf = NULL;
    e->len = e->cap = 0;
}

/* Slow path of reserve(): doubles the capacity. A pool cannot realloc, so the old buffer is
 * left to the pool (it dies with the request); doubling keeps the total copied below 2x the
 * final size. */
static int grow(fs_enc_t *e, size_t need)
{
    size_t cap = e->cap < MIN_CAPACITY ? MIN_CAPACITY : e->cap;
    char *buf;

    if (need > SIZE_MAX - e->len)
        goto fail;
    while (cap < e->len + need) {
        if (cap > SIZE_MAX / 2)
            goto fail;
        cap *= 2;
    }
    if (e->pool != NULL) {
        if ((buf = h2o_mem_alloc_pool(e->pool, cap)) == NULL)
            goto fail;
        if (e->len != 0)
            memcpy(buf, e->buf, e->len);
    } else {
        if ((buf = realloc(e->buf, cap)) == NULL)
            goto fail;
    }
    e->buf = buf;
    e->cap = cap;
    return 0;
fail:
    e->failed = 1;
    return -1;
}

/* Makes room for need more bytes; nonzero when the writer has failed. */
static inline int reserve(fs_enc_t *e, size_t need)
{
    if (e->failed)
        return -1;
    if (e->cap - e->len >= need)
        return 0;
    return grow(e, need);
}

static inline void put_raw(fs_enc_t *e, const void *p, size_t n)
{
    memcpy(e->buf + e->len, p, n);
    e->len += n;
}

static inline void put_byte(fs_enc_t *e, uint8_t b)
{
    e->buf[e->len++] = (char)b;
}

static inline void put_be16(fs_enc_t *e, uint16_t v)
{
    put_byte(e, (uint8_t)(v >> 8));
    put_byte(e, (uint8_t)v);
}

static inline void put_be32(fs_enc_t *e, uint32_t v)
{
    put_be16(e, (uint16_t)(v >> 16));
    put_be16(e, (uint16_t)v);
}

static inline void put_be64(fs_enc_t *e, uint64_t v)
{
    put_be32(e, (uint32_t)(v >> 32));
    put_be32(e, (uint32_t)v);
}

/* ------------------------------------------------------------ structure */

/*
 * Bookkeeping before any value (scalar or container): in an array it counts the element and, in
 * JSON, writes the separating comma; in a map it consumes the key that must precede the value.
 * Returns nonzero when the writer has failed or the call is out of order.
 */
static int before_value(fs_enc_t *e)
{
    if (e->failed)
        return -1;
    if (e->depth == 0)
        return 0;
    int top = e->depth - 1;
    if (e->stack[top].is_map) {
        if (!e->stack[top].after_key) {
            e->failed = 1;
            return -1;
        }
        e->stack[top].after_key = 0;
        return 0;
    }
    if (e->stack[top].count == UINT32_MAX) {
        e->failed = 1;
        return -1;
    }
    if (e->format == FS_ENC_JSON && e->stack[top].count != 0) {
        if (reserve(e, 1) != 0)
            return -1;
        put_byte(e, ',');
    }
    e->stack[top].count++;
    return 0;
}

static void container_begin(fs_enc_t *e, int is_map)
{
    if (before_value(e) != 0)
        return;
    if (e->depth == FS_ENC_MAX_DEPTH) {
        e->failed = 1;
        return;
    }
    if (reserve(e, 5) != 0)
        return;
    int top = e->depth++;
    e->stack[top].header_pos = e->len;
    e->stack[top].count = 0;
    e->stack[top].is_map = (uint8_t)is_map;
    e->stack[top].after_key = 0;
    if (e->format == FS_ENC_JSON) {
        put_byte(e, is_map ? '{' : '[');
    } else {
        /* The count is patched by container_end: 32-bit headers let us write before we count. */
        put_byte(e, is_map ? 0xdf : 0xdd);
        put_be32(e, 0);
    }
}

static void container_end(fs_enc_t *e, int is_map)
{
    if (e->failed)
        return;
    if (e->depth == 0 || e->stack[e->depth - 1].is_map != is_map || e->stack[e->depth - 1].after_key) {
        e->failed = 1;
        return;
    }
    int top = --e->depth;
    if (e->format == FS_ENC_JSON) {
        if (reserve(e, 1) != 0)
            return;
        put_byte(e, is_map ? '}' : ']');
    } else {
        uint32_t count = e->stack[top].count;
        uint8_t *p = (uint8_t *)e->buf + e->stack[top].header_pos + 1;
        p[0] = (uint8_t)(count >> 24);
        p[1] = (uint8_t)(count >> 16);
        p[2] = (uint8_t)(count >> 8);
        p[3] = (uint8_t)count;
    }
}

void fs_enc_map_begin(fs_enc_t *e)
{
    container_begin(e, 1);
}

void fs_enc_map_end(fs_enc_t *e)
{
    container_end(e, 1);
}

void fs_enc_array_begin(fs_enc_t *e)
{
    container_begin(e, 0);
}

void fs_enc_array_end(fs_enc_t *e)
{
    container_end(e, 0);
}

/* --------------------------------------------------------------- strings */

/* JSON escapes by byte: 0 = copy as is, 'u' = \u00XX, anything else = backslash and that letter.
 * Bytes >= 0x80 are checked by utf8_sequence_len: valid UTF-8 is copied as it is, anything else
 * becomes U+FFFD, so a document stays valid JSON whatever bytes the caller passed (a 404 echoes a
 * percent-decoded path). */
static const char json_escape[256] = {
    ['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', ['\f'] = 'f', ['\r'] = 'r', ['"'] = '"',  ['\\'] = '\\', [0x00] = 'u', [0x01] = 'u',
    [0x02] = 'u', [0x03] = 'u', [0x04] = 'u', [0x05] = 'u', [0x06] = 'u', [0x07] = 'u', [0x0b] = 'u',  [0x0e] = 'u', [0x0f] = 'u',
    [0x10] = 'u', [0x11] = 'u', [0x12] = 'u', [0x13] = 'u', [0x14] = 'u', [0x15] = 'u', [0x16] = 'u',  [0x17] = 'u', [0x18] = 'u',
    [0x19] = 'u', [0x1a] = 'u', [0x1b] = 'u', [0x1c] = 'u', [0x1d] = 'u', [0x1e] = 'u', [0x1f] = 'u',
};

static const char hex_digits[16] = "0123456789abcdef";

/* The length of the well-formed UTF-8 sequence at p (RFC 3629 section 4: no overlong forms, no
 * surrogates, nothing above U+10FFFF), or 0 when the byte at p does not start one. */
static size_t utf8_sequence_len(const unsigned char *p, const unsigned char *end)
{
    size_t avail = (size_t)(end - p);
    unsigned char b0 = p[0], lo = 0x80, hi = 0xbf;
    size_t n;
    if (b0 >= 0xc2 && b0 <= 0xdf)
        n = 2;
    else if (b0 >= 0xe0 && b0 <= 0xef)
        n = 3, lo = b0 == 0xe0 ? 0xa0 : 0x80, hi = b0 == 0xed ? 0x9f : 0xbf;
    else if (b0 >= 0xf0 && b0 <= 0xf4)
        n = 4, lo = b0 == 0xf0 ? 0x90 : 0x80, hi = b0 == 0xf4 ? 0x8f : 0xbf;
    else
        return 0;
    if (avail < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return n;
}

/* Nonzero when one of the 8 bytes in w needs a look: a control character, '"', '\\' or a byte >= 0x80
 * (the classic "has a byte less than n" and "has a zero byte" tricks, on every byte at once). */
static inline uint64_t word_needs_look(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t quote = w ^ (ones * '"'), backslash = w ^ (ones * '\\');
    uint64_t lt_space = w - ones * 0x20;
    uint64_t is_quote = (quote - ones) & ~quote, is_backslash = (backslash - ones) & ~backslash;
    return ((lt_space & ~w) | is_quote | is_backslash | w) & highs;
}

/* The first byte at or after p that is not plain printable ASCII (or end): eight bytes a step while
 * the words are clean, so a string that needs nothing is scanned at word speed. */
static const unsigned char *skip_plain(const unsigned char *p, const unsigned char *end)
{
    while ((size_t)(end - p) >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        if (word_needs_look(w) != 0)
            break;
        p += 8;
    }
    while (p != end && *p < 0x80 && json_escape[*p] == 0)
        p++;
    return p;
}

static void json_string(fs_enc_t *e, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;

    if (reserve(e, len + 2) != 0)
        return;
    put_byte(e, '"');
    while (p != end) {
        /* Copy the longest run that needs no escaping in one go; most strings are one run. */
        const unsigned char *run = p;
        for (;;) {
            p = skip_plain(p, end);
            size_t n;
            if (p == end || *p < 0x80 || (n = utf8_sequence_len(p, end)) == 0)
                break;
            p += n;
        }
        if (p != run) {
            if (reserve(e, (size_t)(p - run) + 1) != 0)
                return;
            put_raw(e, run, (size_t)(p - run));
        }
        if (p == end)
            break;
        if (*p >= 0x80) {
            if (reserve(e, 6 + 1) != 0)
                return;
            put_raw(e, "\\ufffd", 6);
            p++;
            continue;
        }
        char esc = json_escape[*p];
        if (reserve(e, 6 + 1) != 0)
            return;
        put_byte(e, '\\');
        if (esc == 'u') {
            char u[5] = {'u', '0', '0', hex_digits[*p >> 4], hex_digits[*p & 0xf]};
            put_raw(e, u, 5);
        } else {
            put_byte(e, (uint8_t)esc);
        }
        p++;
    }
    if (reserve(e, 1) != 0)
        return;
    put_byte(e, '"');
}

static void msgpack_string(fs_enc_t *e, const char *s, size_t len)
{
    if (len > UINT32_MAX) {
        e->failed = 1;
        return;
    }
    if (reserve(e, len + 5) != 0)
        return;
    if (len < 32) {
        put_byte(e, (uint8_t)(0xa0 | len));
    } else if (len <= UINT8_MAX) {
        put_byte(e, 0xd9);
        put_byte(e, (uint8_t)len);
    } else if (len <= UINT16_MAX) {
        put_byte(e, 0xda);
        put_be16(e, (uint16_t)len);
    } else {
        put_byte(e, 0xdb);
        put_be32(e, (uint32_t)len);
    }
    if (len != 0)
        put_raw(e, s, len);
}

static void write_string(fs_enc_t *e, const char *s, size_t len)
{
    if (e->format == FS_ENC_JSON)
        json_string(e, s, len);
    else
        msgpack_string(e, s, len);
}

/* The checks fs_enc_key* share: a map is open and waits for a key. Returns its stack slot or -1. */
static int key_slot(fs_enc_t *e)
{
    if (e->failed)
        return -1;
    if (e->depth == 0 || !e->stack[e->depth - 1].is_map || e->stack[e->depth - 1].after_key ||
        e->stack[e->depth - 1].count == UINT32_MAX) {
        e->failed = 1;
        return -1;
    }
    return e->depth - 1;
}

void fs_enc_key(fs_enc_t *e, const char *key, size_t len)
{
    int top = key_slot(e);
    if (top < 0)
        return;
    if (e->format == FS_ENC_JSON && e->stack[top].count != 0) {
        if (reserve(e, 1) != 0)
            return;
        put_byte(e, ',');
    }
    write_string(e, key, len);
    if (e->format == FS_ENC_JSON) {
        if (reserve(e, 1) != 0)
            return;
        put_byte(e, ':');
    }
    e->stack[top].count++;
    e->stack[top].after_key = 1;
}

void fs_enc_key_quoted(fs_enc_t *e, const char *quoted, size_t len)
{
    int top = key_slot(e);
    if (top < 0)
        return;
    if (e->format == FS_ENC_JSON) {
        /* quoted is `,"key":`: the first key of a map starts after the comma */
        size_t skip = e->stack[top].count == 0 ? 1 : 0, n = len + 4 - skip;
        if (reserve(e, n) != 0)
            return;
        put_raw(e, quoted + skip, n);
    } else {
        msgpack_string(e, quoted + 2, len);
    }
    e->stack[top].count++;
    e->stack[top].after_key = 1;
}

void fs_enc_str(fs_enc_t *e, const char *s, size_t len)
{
    if (before_value(e) != 0)
        return;
    write_string(e, s, len);
}

void fs_enc_cstr(fs_enc_t *e, const char *s)
{
    fs_enc_str(e, s, strlen(s));
}

void fs_enc_str_safe(fs_enc_t *e, const char *s, size_t len)
{
    if (before_value(e) != 0)
        return;
    if (e->format != FS_ENC_JSON) {
        msgpack_string(e, s, len);
        return;
    }
    if (reserve(e, len + 2) != 0)
        return;
    put_byte(e, '"');
    put_raw(e, s, len);
    put_byte(e, '"');
}

/* --------------------------------------------------------------- numbers */

static const char digit_pairs[201] = "00010203040506070809"
                                     "10111213141516171819"
                                     "20212223242526272829"
                                     "30313233343536373839"
                                     "40414243444546474849"
                                     "50515253545556575859"
                                     "60616263646566676869"
                                     "70717273747576777879"
                                     "80818283848586878889"
                                     "90919293949596979899";

/* Writes v in decimal ending just before end, two digits per division (half the divisions of
 * the one-digit loop, and integers are most of what a search response holds); returns the
 * first character. */
char *fs_enc_format_u64(uint64_t v, char *end)
{
    char *p = end;
    while (v >= 100) {
        unsigned pair = (unsigned)(v % 100) * 2;
        v /= 100;
        *--p = digit_pairs[pair + 1];
        *--p = digit_pairs[pair];
    }
    if (v >= 10) {
        *--p = digit_pairs[v * 2 + 1];
        *--p = digit_pairs[v * 2];
    } else {
        *--p = (char)('0' + v);
    }
    return p;
}

static void json_integer(fs_enc_t *e, uint64_t magnitude, int negative)
{
    char tmp[24], *end = tmp + sizeof(tmp), *p = fs_enc_format_u64(magnitude, end);

    if (negative)
        *--p = '-';
    if (reserve(e, (size_t)(end - p)) != 0)
        return;
    put_raw(e, p, (size_t)(end - p));
}

static void msgpack_uint(fs_enc_t *e, uint64_t v)
{
    if (reserve(e, 9) != 0)
        return;
    if (v <= 0x7f) {
        put_byte(e, (uint8_t)v);
    } else if (v <= UINT8_MAX) {
        put_byte(e, 0xcc);
        put_byte(e, (uint8_t)v);
    } else if (v <= UINT16_MAX) {
        put_byte(e, 0xcd);
        put_be16(e, (uint16_t)v);
    } else if (v <= UINT32_MAX) {
        put_byte(e, 0xce);
        put_be32(e, (uint32_t)v);
    } else {
        put_byte(e, 0xcf);
        put_be64(e, v);
    }
}

/* Negative values only; non-negative ones take the unsigned forms, as msgpack recommends. */
static void msgpack_negative(fs_enc_t *e, int64_t v)
{
    if (reserve(e, 9) != 0)
        return;
    if (v >= -32) {
        put_byte(e, (uint8_t)(int8_t)v);
    } else if (v >= INT8_MIN) {
        put_byte(e, 0xd0);
        put_byte(e, (uint8_t)(int8_t)v);
    } else if (v >= INT16_MIN) {
        put_byte(e, 0xd1);
        put_be16(e, (uint16_t)(int16_t)v);
    } else if (v >= INT32_MIN) {
        put_byte(e, 0xd2);
        put_be32(e, (uint32_t)(int32_t)v);
    } else {
        put_byte(e, 0xd3);
        put_be64(e, (uint64_t)v);
    }
}

void fs_enc_int(fs_enc_t *e, int64_t v)
{
    if (before_value(e) != 0)
        return;
    if (e->format == FS_ENC_JSON) {
        /* 0 - (uint64_t)v is |v| even for INT64_MIN, whose negation overflows int64_t. */
        json_integer(e, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, v < 0);
    } else if (v < 0) {
        msgpack_negative(e, v);
    } else {
        msgpack_uint(e, (uint64_t)v);
    }
}

void fs_enc_uint(fs_enc_t *e, uint64_t v)
{
    if (before_value(e) != 0)
        return;
    if (e->format == FS_ENC_JSON)
        json_integer(e, v, 0);
    else
        msgpack_uint(e, v);
}

/*
 * Doubles are rare in responses (a ratio here and there), so JSON takes the simple exact route:
 * printf rounds correctly to 6 decimals, then the zeros the fixed format pads with are cut.
 * JSON has no NaN or infinity; those become null rather than an unparseable document.
 */
void fs_enc_double(fs_enc_t *e, double v)
{
    if (before_value(e) != 0)
        return;
    if (e->format == FS_ENC_MSGPACK) {
        uint64_t bits;
        memcpy(&bits, &v, sizeof(bits));
        if (reserve(e, 9) != 0)
            return;
        put_byte(e, 0xcb);
        put_be64(e, bits);
        return;
    }
    if (!isfinite(v)) {
        if (reserve(e, 4) == 0)
            put_raw(e, "null", 4);
        return;
    }
    char tmp[400]; /* DBL_MAX is 309 digits before the point */
    int n = snprintf(tmp, sizeof(tmp), "%.6f", v);
    if (n <= 0 || (size_t)n >= sizeof(tmp)) {
        e->failed = 1;
        return;
    }
    /* The C locale is never changed in this program, but a ',' would break the document. */
    char *point = memchr(tmp, '.', (size_t)n);
    if (point == NULL && (point = memchr(tmp, ',', (size_t)n)) != NULL)
        *point = '.';
    if (point != NULL) {
        while (tmp[n - 1] == '0')
            n--;
        if (tmp[n - 1] == '.')
            n--;
    }
    /* -0.0 and tiny negatives rounded to zero print as "-0"; a plain 0 says the same thing. */
    const char *p = tmp;
    if (n == 2 && tmp[0] == '-' && tmp[1] == '0') {
        p++;
        n--;
    }
    if (reserve(e, (size_t)n) != 0)
        return;
    put_raw(e, p, (size_t)n);
}

void fs_enc_bool(fs_enc_t *e, int v)
{
    if (before_value(e) != 0)
        return;
    if (e->format == FS_ENC_JSON) {
        if (reserve(e, 5) == 0)
            put_raw(e, v ? "true" : "false", v ? 4 : 5);
    } else if (reserve(e, 1) == 0) {
        put_byte(e, v ? 0xc3 : 0xc2);
    }
}

void fs_enc_null(fs_enc_t *e)
{
    if (before_value(e) != 0)
        return;
    if (e->format == FS_ENC_JSON) {
        if (reserve(e, 4) == 0)
            put_raw(e, "null", 4);
    } else if (reserve(e, 1) == 0) {
        put_byte(e, 0xc0);
    }
}

void fs_enc_raw_json(fs_enc_t *e, const char *json, size_t len)
{
    if (e->format != FS_ENC_JSON) {
        e->failed = 1;
        return;
    }
    if (before_value(e) != 0)
        return;
    if (reserve(e, len) == 0)
        put_raw(e, json, len);
}

char *fs_enc_raw_reserve(fs_enc_t *e, size_t max)
{
    if (e->format != FS_ENC_JSON) {
        e->failed = 1;
        return NULL;
    }
    if (before_value(e) != 0 || reserve(e, max) != 0)
        return NULL;
    return e->buf + e->len;
}

void fs_enc_raw_commit(fs_enc_t *e, size_t used)
{
    if (!e->failed)
        e->len += used;
}

h2o_iovec_t fs_enc_result(fs_enc_t *e)
{
    if (e->failed || e->depth != 0)
        return h2o_iovec_init(NULL, 0);
    return h2o_iovec_init(e->buf, e->len);
}
