/*
 * loaders/reader_json.c: the JSON side of reader.h, a strict RFC 8259 reader. Refused: comments,
 * trailing commas, NaN/Infinity, single quotes, leading zeros, "+1", ".5", unescaped control
 * characters in strings, unknown escapes, whitespace other than space, tab, CR and LF, a byte
 * order mark, and integers outside int64/uint64 ("numbers out of range"). Strict on purpose:
 * a partner whose encoder emits something else should hear about it on the first push, not
 * when a more lenient version of this reader is replaced.
 *
 * Bytes >= 0x80 inside strings pass through unvalidated: no field of the schema accepts any,
 * so a stray one fails that field's own check. A \u escape is written out as UTF-8; a lone
 * surrogate becomes U+FFFD.
 */
#include <stdio.h>
#include <string.h>

#include "loaders/reader.h"

static int fail(fs_rd_t *rd, const uint8_t *at, const char *msg)
{
    return fs_rd_fail_at(rd, (size_t)(at - rd->start), msg);
}

/* "expected <what>, got 'x'", or "truncated: expected <what>" at the end of the body. */
static int unexpected(fs_rd_t *rd, const uint8_t *at, const char *what)
{
    char msg[96];

    if (at >= rd->end)
        snprintf(msg, sizeof(msg), "truncated: expected %s", what);
    else if (*at >= 0x21 && *at <= 0x7e)
        snprintf(msg, sizeof(msg), "expected %s, got '%c'", what, *at);
    else
        snprintf(msg, sizeof(msg), "expected %s, got byte 0x%02x", what, *at);
    return fail(rd, at, msg);
}

static inline void skip_ws(fs_rd_t *rd)
{
    const uint8_t *p = rd->p, *end = rd->end;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    rd->p = p;
}

static int hex4(const uint8_t *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = s[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            d = (c | 0x20) - 'a' + 10;
        else
            return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

/* Appends to the scratch while it has room; n keeps counting, so the caller learns the length. */
static inline void put(char *scratch, size_t *n, unsigned c)
{
    if (*n < FS_RD_SCRATCH)
        scratch[*n] = (char)c;
    (*n)++;
}

static void put_utf8(char *scratch, size_t *n, unsigned cp)
{
    if (cp < 0x80) {
        put(scratch, n, cp);
    } else if (cp < 0x800) {
        put(scratch, n, 0xc0 | cp >> 6);
        put(scratch, n, 0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        put(scratch, n, 0xe0 | cp >> 12);
        put(scratch, n, 0x80 | (cp >> 6 & 0x3f));
        put(scratch, n, 0x80 | (cp & 0x3f));
    } else {
        put(scratch, n, 0xf0 | cp >> 18);
        put(scratch, n, 0x80 | (cp >> 12 & 0x3f));
        put(scratch, n, 0x80 | (cp >> 6 & 0x3f));
        put(scratch, n, 0x80 | (cp & 0x3f));
    }
}

/* The slow path of a string: from q (the first backslash), unescaping into scratch. */
static int string_escaped(fs_rd_t *rd, const uint8_t *open, const uint8_t *q, char *scratch, fs_rd_str_t *out)
{
    const uint8_t *s = open + 1, *end = rd->end;
    size_t n = 0;
    unsigned cp, lo;

    for (const uint8_t *c = s; c < q; c++)
        put(scratch, &n, *c);
    for (;;) {
        if (q >= end)
            return fail(rd, open, "truncated: unterminated string");
        if (*q == '"')
            break;
        if (*q < 0x20)
            return fail(rd, q, "unescaped control character in a string");
        if (*q != '\\') {
            put(scratch, &n, *q++);
            continue;
        }
        if (end - q < 2)
            return fail(rd, q, "truncated: unterminated escape");
        switch (q[1]) {
        case '"':
        case '\\':
        case '/':
            put(scratch, &n, q[1]);
            break;
        case 'b':
            put(scratch, &n, '\b');
            break;
        case 'f':
            put(scratch, &n, '\f');
            break;
        case 'n':
            put(scratch, &n, '\n');
            break;
        case 'r':
            put(scratch, &n, '\r');
            break;
        case 't':
            put(scratch, &n, '\t');
            break;
        case 'u':
            if (end - q < 6)
                return fail(rd, q, "truncated: unterminated \\u escape");
            if (hex4(q + 2, &cp) < 0)
                return fail(rd, q, "\\u must be followed by 4 hex digits");
            if (cp >= 0xd800 && cp <= 0xdbff && end - q >= 12 && q[6] == '\\' && q[7] == 'u' && hex4(q + 8, &lo) == 0 &&
                lo >= 0xdc00 && lo <= 0xdfff) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                q += 6;
            } else if (cp >= 0xd800 && cp <= 0xdfff) {
                cp = 0xfffd;
            }
            put_utf8(scratch, &n, cp);
            q += 4;
            break;
        default:
            return fail(rd, q, "invalid escape in a string");
        }
        q += 2;
    }
    rd->p = q + 1;
    out->p = n <= FS_RD_SCRATCH ? scratch : NULL;
    out->len = n;
    return 0;
}

/* The string whose opening quote is at rd->p. Without escapes (the usual case) it points into
 * the body and nothing is copied. */
static int string(fs_rd_t *rd, char *scratch, fs_rd_str_t *out)
{
    const uint8_t *open = rd->p, *q = open + 1, *end = rd->end;

    while (q < end && *q != '"' && *q != '\\' && *q >= 0x20)
        q++;
    if (q >= end)
        return fail(rd, open, "truncated: unterminated string");
    if (*q == '"') {
        out->p = (const char *)open + 1;
        out->len = (size_t)(q - open - 1);
        rd->p = q + 1;
        return 0;
    }
    if (*q < 0x20)
        return fail(rd, q, "unescaped control character in a string");
    return string_escaped(rd, open, q, scratch, out);
}

static int number(fs_rd_t *rd, fs_rd_val_t *out)
{
    const uint8_t *at = rd->p, *p = rd->p, *end = rd->end;
    uint64_t u = 0;
    int neg = 0, overflow = 0, is_float = 0;

    if (*p == '-') {
        neg = 1;
        p++;
    }
    if (p >= end || *p < '0' || *p > '9')
        return unexpected(rd, p, "a digit");
    if (*p == '0') {
        p++;
    } else {
        for (; p < end && *p >= '0' && *p <= '9'; p++) {
            unsigned d = *p - '0';
            if (u > (UINT64_MAX - d) / 10)
                overflow = 1;
            else
                u = u * 10 + d;
        }
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9')
            return unexpected(rd, p, "a digit after '.'");
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        is_float = 1;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || *p < '0' || *p > '9')
            return unexpected(rd, p, "a digit in the exponent");
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        is_float = 1;
    }
    rd->p = p;
    if (is_float) {
        out->type = FS_RD_FLOAT;
        return 0;
    }
    if (overflow || (neg && u > (uint64_t)INT64_MAX + 1))
        return fail(rd, at, "integer out of range");
    if (neg && u != 0) {
        out->type = FS_RD_INT;
        out->v.i = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
    } else {
        out->type = FS_RD_UINT;
        out->v.u = u;
    }
    return 0;
}

static int literal(fs_rd_t *rd, const char *word, size_t len)
{
    size_t have = (size_t)(rd->end - rd->p);

    if (have < len || memcmp(rd->p, word, len) != 0) {
        if (have < len && memcmp(rd->p, word, have) == 0)
            return fail(rd, rd->p, "truncated: incomplete literal");
        return unexpected(rd, rd->p, "a value");
    }
    rd->p += len;
    return 0;
}

static int enter(fs_rd_t *rd, fs_rd_val_t *out, int is_map)
{
    char msg[96];

    if (rd->depth >= FS_FEED_MAX_DEPTH) {
        snprintf(msg, sizeof(msg), "nesting deeper than %d objects and arrays", FS_FEED_MAX_DEPTH);
        return fail(rd, rd->p, msg);
    }
    rd->stack[rd->depth].remaining = 0;
    rd->stack[rd->depth].is_map = (uint8_t)is_map;
    rd->stack[rd->depth].first = 1;
    rd->depth++;
    rd->p++;
    out->type = is_map ? FS_RD_MAP : FS_RD_ARRAY;
    return 0;
}

int fs_rd_json_read(fs_rd_t *rd, fs_rd_val_t *out)
{
    int r;

    if (rd->err)
        return rd->err;
    skip_ws(rd);
    if (rd->p >= rd->end)
        return fail(rd, rd->p, "truncated: a value was expected");
    switch (*rd->p) {
    case '{':
        return enter(rd, out, 1);
    case '[':
        return enter(rd, out, 0);
    case '"':
        out->type = FS_RD_STR;
        return string(rd, rd->val_scratch, &out->v.str);
    case 't':
        if ((r = literal(rd, "true", 4)) < 0)
            return r;
        out->type = FS_RD_BOOL;
        out->v.b = 1;
        return 0;
    case 'f':
        if ((r = literal(rd, "false", 5)) < 0)
            return r;
        out->type = FS_RD_BOOL;
        out->v.b = 0;
        return 0;
    case 'n':
        if ((r = literal(rd, "null", 4)) < 0)
            return r;
        out->type = FS_RD_NIL;
        return 0;
    default:
        if (*rd->p == '-' || (*rd->p >= '0' && *rd->p <= '9'))
            return number(rd, out);
        return unexpected(rd, rd->p, "a value");
    }
}

int fs_rd_json_map_next(fs_rd_t *rd, fs_rd_str_t *key)
{
    int r;

    if (rd->err)
        return rd->err;
    if (rd->depth == 0 || !rd->stack[rd->depth - 1].is_map)
        return fail(rd, rd->p, "internal: map_next outside a map");
    skip_ws(rd);
    if (rd->p < rd->end && *rd->p == '}') {
        rd->p++;
        rd->depth--;
        return 0;
    }
    if (!rd->stack[rd->depth - 1].first) {
        if (rd->p >= rd->end || *rd->p != ',')
            return unexpected(rd, rd->p, "',' or '}'");
        rd->p++;
        skip_ws(rd);
    }
    rd->stack[rd->depth - 1].first = 0;
    if (rd->p >= rd->end || *rd->p != '"')
        return unexpected(rd, rd->p, "a string key");
    if ((r = string(rd, rd->key_scratch, key)) < 0)
        return r;
    skip_ws(rd);
    if (rd->p >= rd->end || *rd->p != ':')
        return unexpected(rd, rd->p, "':'");
    rd->p++;
    return 1;
}

int fs_rd_json_array_next(fs_rd_t *rd)
{
    if (rd->err)
        return rd->err;
    if (rd->depth == 0 || rd->stack[rd->depth - 1].is_map)
        return fail(rd, rd->p, "internal: array_next outside an array");
    skip_ws(rd);
    if (rd->p < rd->end && *rd->p == ']') {
        rd->p++;
        rd->depth--;
        return 0;
    }
    if (!rd->stack[rd->depth - 1].first) {
        if (rd->p >= rd->end || *rd->p != ',')
            return unexpected(rd, rd->p, "',' or ']'");
        rd->p++;
    }
    rd->stack[rd->depth - 1].first = 0;
    return 1;
}

int fs_rd_json_finish(fs_rd_t *rd)
{
    if (rd->err)
        return rd->err;
    if (rd->depth != 0)
        return fail(rd, rd->p, "internal: finish inside a container");
    skip_ws(rd);
    if (rd->p != rd->end)
        return unexpected(rd, rd->p, "the end of the document");
    return 0;
}
