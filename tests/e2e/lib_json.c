/*
 * tests/e2e/lib_json.c: a strict, tiny JSON parser for checking the server's JSON answers
 * (well-formedness, and the same values as the msgpack answer). Recursive descent over RFC 8259;
 * values are built as msgpack_objects in a msgpack_zone so they compare with e2e_mp_equal.
 */
#include <stdlib.h>
#include <string.h>

#include "tests/e2e/lib_server.h"

#define MAX_DEPTH 64

typedef struct jp {
    const char *s;
    size_t len, pos;
    msgpack_zone *zone;
    int depth;
} jp_t;

static void ws(jp_t *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
        p->pos++;
}

static int lit(jp_t *p, const char *word)
{
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
        return -1;
    p->pos += n;
    return 0;
}

static int hex4(jp_t *p, unsigned *out)
{
    if (p->len - p->pos < 4)
        return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p->s[p->pos + i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    p->pos += 4;
    *out = v;
    return 0;
}

static size_t put_utf8(char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* A string at p->pos (at the opening quote). The decoded bytes go into the zone. */
static int string(jp_t *p, msgpack_object *out)
{
    if (p->pos >= p->len || p->s[p->pos] != '"')
        return -1;
    p->pos++;
    /* the decoded text is never longer than the source text up to the closing quote */
    size_t end = p->pos;
    while (end < p->len && p->s[end] != '"')
        end += p->s[end] == '\\' ? 2 : 1;
    if (end >= p->len)
        return -1;
    char *buf = msgpack_zone_malloc(p->zone, end - p->pos + 1);
    if (buf == NULL)
        return -1;
    size_t n = 0;
    for (;;) {
        if (p->pos >= p->len)
            return -1;
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c < 0x20)
            return -1;
        if (c != '\\') {
            buf[n++] = (char)c;
            p->pos++;
            continue;
        }
        p->pos++;
        if (p->pos >= p->len)
            return -1;
        char e = p->s[p->pos++];
        switch (e) {
        case '"':
            buf[n++] = '"';
            break;
        case '\\':
            buf[n++] = '\\';
            break;
        case '/':
            buf[n++] = '/';
            break;
        case 'b':
            buf[n++] = '\b';
            break;
        case 'f':
            buf[n++] = '\f';
            break;
        case 'n':
            buf[n++] = '\n';
            break;
        case 'r':
            buf[n++] = '\r';
            break;
        case 't':
            buf[n++] = '\t';
            break;
        case 'u': {
            unsigned cp;
            if (hex4(p, &cp) != 0)
                return -1;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                unsigned lo;
                if (lit(p, "\\u") != 0 || hex4(p, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff)
                    return -1;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                return -1;
            }
            n += put_utf8(buf + n, cp);
            break;
        }
        default:
            return -1;
        }
    }
    buf[n] = '\0';
    out->type = MSGPACK_OBJECT_STR;
    out->via.str.ptr = buf;
    out->via.str.size = (uint32_t)n;
    return 0;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int number(jp_t *p, msgpack_object *out)
{
    size_t start = p->pos;
    int neg = 0, integral = 1;
    if (p->pos < p->len && p->s[p->pos] == '-') {
        neg = 1;
        p->pos++;
    }
    if (p->pos >= p->len || !is_digit(p->s[p->pos]))
        return -1;
    if (p->s[p->pos] == '0') {
        p->pos++;
    } else {
        while (p->pos < p->len && is_digit(p->s[p->pos]))
            p->pos++;
    }
    if (p->pos < p->len && p->s[p->pos] == '.') {
        integral = 0;
        p->pos++;
        if (p->pos >= p->len || !is_digit(p->s[p->pos]))
            return -1;
        while (p->pos < p->len && is_digit(p->s[p->pos]))
            p->pos++;
    }
    if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
        integral = 0;
        p->pos++;
        if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
            p->pos++;
        if (p->pos >= p->len || !is_digit(p->s[p->pos]))
            return -1;
        while (p->pos < p->len && is_digit(p->s[p->pos]))
            p->pos++;
    }
    char tmp[64];
    size_t n = p->pos - start;
    if (n >= sizeof(tmp))
        integral = 0;
    if (integral) {
        memcpy(tmp, p->s + start, n);
        tmp[n] = '\0';
        if (neg) {
            out->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
            out->via.i64 = strtoll(tmp, NULL, 10);
            if (out->via.i64 == 0)
                out->type = MSGPACK_OBJECT_POSITIVE_INTEGER; /* -0 */
        } else {
            out->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
            out->via.u64 = strtoull(tmp, NULL, 10);
        }
        return 0;
    }
    char *num = msgpack_zone_malloc(p->zone, n + 1);
    if (num == NULL)
        return -1;
    memcpy(num, p->s + start, n);
    num[n] = '\0';
    out->type = MSGPACK_OBJECT_FLOAT64;
    out->via.f64 = strtod(num, NULL);
    return 0;
}

static int value(jp_t *p, msgpack_object *out);

/* Items are gathered in a growing malloc'd array, then copied into the zone. */
static int container(jp_t *p, msgpack_object *out, int is_map)
{
    char close = is_map ? '}' : ']';
    size_t count = 0, cap = 8, item = is_map ? sizeof(msgpack_object_kv) : sizeof(msgpack_object);
    char *items = malloc(cap * item);
    if (items == NULL || ++p->depth > MAX_DEPTH)
        goto fail;
    p->pos++;
    ws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
    } else {
        for (;;) {
            if (count == cap) {
                char *b = realloc(items, cap * 2 * item);
                if (b == NULL)
                    goto fail;
                items = b;
                cap *= 2;
            }
            ws(p);
            if (is_map) {
                msgpack_object_kv *kv = (msgpack_object_kv *)(items + count * item);
                if (string(p, &kv->key) != 0)
                    goto fail;
                ws(p);
                if (p->pos >= p->len || p->s[p->pos] != ':')
                    goto fail;
                p->pos++;
                ws(p);
                if (value(p, &kv->val) != 0)
                    goto fail;
            } else if (value(p, (msgpack_object *)(items + count * item)) != 0) {
                goto fail;
            }
            count++;
            ws(p);
            if (p->pos < p->len && p->s[p->pos] == ',') {
                p->pos++;
                continue;
            }
            if (p->pos < p->len && p->s[p->pos] == close) {
                p->pos++;
                break;
            }
            goto fail;
        }
    }
    p->depth--;
    void *copy = count ? msgpack_zone_malloc(p->zone, count * item) : NULL;
    if (count && copy == NULL)
        goto fail;
    if (count)
        memcpy(copy, items, count * item);
    free(items);
    if (is_map) {
        out->type = MSGPACK_OBJECT_MAP;
        out->via.map.size = (uint32_t)count;
        out->via.map.ptr = copy;
    } else {
        out->type = MSGPACK_OBJECT_ARRAY;
        out->via.array.size = (uint32_t)count;
        out->via.array.ptr = copy;
    }
    return 0;
fail:
    free(items);
    return -1;
}

static int value(jp_t *p, msgpack_object *out)
{
    ws(p);
    if (p->pos >= p->len)
        return -1;
    switch (p->s[p->pos]) {
    case '{':
        return container(p, out, 1);
    case '[':
        return container(p, out, 0);
    case '"':
        return string(p, out);
    case 't':
        out->type = MSGPACK_OBJECT_BOOLEAN;
        out->via.boolean = true;
        return lit(p, "true");
    case 'f':
        out->type = MSGPACK_OBJECT_BOOLEAN;
        out->via.boolean = false;
        return lit(p, "false");
    case 'n':
        out->type = MSGPACK_OBJECT_NIL;
        return lit(p, "null");
    default:
        return number(p, out);
    }
}

int e2e_json_parse(const char *text, size_t len, msgpack_zone *zone, msgpack_object *out, size_t *err_at)
{
    jp_t p = {text, len, 0, zone, 0};
    memset(out, 0, sizeof(*out));
    if (text == NULL || value(&p, out) != 0) {
        if (err_at != NULL)
            *err_at = p.pos;
        return -1;
    }
    ws(&p);
    if (p.pos != len) {
        if (err_at != NULL)
            *err_at = p.pos;
        return -1;
    }
    return 0;
}
