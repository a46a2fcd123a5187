/*
 * loaders/reader_msgpack.c: the msgpack side of reader.h, a bounds-checked cursor over the body.
 *
 * Why not msgpack-c's msgpack_unpack()/msgpack_unpacker: it builds the whole document as an
 * object tree in a zone, so a 10M-leg feed costs gigabytes of msgpack_object nodes before the
 * first leg is looked at, and it sizes arrays from the count a header claims (an array32 header
 * claiming 4 billion elements in a 10-byte body asks for tens of gigabytes). This cursor
 * allocates nothing: strings point into the body, and every length is checked against the bytes
 * that remain before it is used. Each element takes at least one byte, so a container claiming
 * more elements than bytes remain is refused at its header.
 */
#include <inttypes.h>
#include <stdio.h>

#include "loaders/reader.h"

static int fail(fs_rd_t *rd, const uint8_t *at, const char *msg)
{
    return fs_rd_fail_at(rd, (size_t)(at - rd->start), msg);
}

static int truncated(fs_rd_t *rd, const uint8_t *at, const char *what, uint64_t want)
{
    char msg[96];
    snprintf(msg, sizeof(msg), "truncated: %s needs %" PRIu64 " bytes, %zu remain", what, want, (size_t)(rd->end - rd->p));
    return fail(rd, at, msg);
}

/* The n-byte big-endian number at rd->p (n = 1, 2, 4 or 8), advancing past it. */
static int load_be(fs_rd_t *rd, const uint8_t *at, unsigned n, uint64_t *out)
{
    uint64_t v = 0;

    if ((size_t)(rd->end - rd->p) < n)
        return truncated(rd, at, "a number", n);
    for (unsigned i = 0; i < n; i++)
        v = v << 8 | rd->p[i];
    rd->p += n;
    *out = v;
    return 0;
}

static int enter(fs_rd_t *rd, const uint8_t *at, fs_rd_val_t *out, int is_map, uint64_t count)
{
    char msg[96];

    if (rd->depth >= FS_FEED_MAX_DEPTH) {
        snprintf(msg, sizeof(msg), "nesting deeper than %d maps and arrays", FS_FEED_MAX_DEPTH);
        return fail(rd, at, msg);
    }
    /* A map entry is a key and a value: two bytes at least. count < 2^32, so no overflow. */
    if ((is_map ? count * 2 : count) > (uint64_t)(rd->end - rd->p)) {
        snprintf(msg, sizeof(msg), "%s claims %" PRIu64 " %s but only %zu bytes remain", is_map ? "map" : "array", count,
                 is_map ? "entries" : "elements", (size_t)(rd->end - rd->p));
        return fail(rd, at, msg);
    }
    rd->stack[rd->depth].remaining = count;
    rd->stack[rd->depth].is_map = (uint8_t)is_map;
    rd->stack[rd->depth].first = 1;
    rd->depth++;
    out->type = is_map ? FS_RD_MAP : FS_RD_ARRAY;
    return 0;
}

static int take_str(fs_rd_t *rd, const uint8_t *at, fs_rd_str_t *out, uint64_t len)
{
    if (len > (uint64_t)(rd->end - rd->p))
        return truncated(rd, at, "a string", len);
    out->p = (const char *)rd->p;
    out->len = (size_t)len;
    rd->p += len;
    return 0;
}

/* bin and ext payloads: kept as FS_RD_OTHER, their bytes skipped. */
static int take_blob(fs_rd_t *rd, const uint8_t *at, fs_rd_val_t *out, uint64_t len)
{
    if (len > (uint64_t)(rd->end - rd->p))
        return truncated(rd, at, "a bin or ext value", len);
    rd->p += len;
    out->type = FS_RD_OTHER;
    return 0;
}

int fs_rd_msgpack_read(fs_rd_t *rd, fs_rd_val_t *out)
{
    const uint8_t *at = rd->p;
    uint64_t n;
    int r;

    if (rd->err)
        return rd->err;
    if (at >= rd->end)
        return fail(rd, at, "truncated: a value was expected");
    uint8_t b = *rd->p++;

    if (b <= 0x7f) {
        out->type = FS_RD_UINT;
        out->v.u = b;
        return 0;
    }
    if (b >= 0xe0) {
        out->type = FS_RD_INT;
        out->v.i = (int8_t)b; /* NOLINT(bugprone-signed-char-misuse,cert-str34-c): negative fixint, sign extension wanted */
        return 0;
    }
    if (b <= 0x8f)
        return enter(rd, at, out, 1, b & 0x0f);
    if (b <= 0x9f)
        return enter(rd, at, out, 0, b & 0x0f);
    if (b <= 0xbf) {
        out->type = FS_RD_STR;
        return take_str(rd, at, &out->v.str, b & 0x1f);
    }

    switch (b) {
    case 0xc0:
        out->type = FS_RD_NIL;
        return 0;
    case 0xc1:
        return fail(rd, at, "byte 0xc1 is never used in msgpack");
    case 0xc2:
    case 0xc3:
        out->type = FS_RD_BOOL;
        out->v.b = b == 0xc3;
        return 0;
    case 0xc4: /* bin 8, 16, 32 */
    case 0xc5:
    case 0xc6:
        if ((r = load_be(rd, at, 1u << (b - 0xc4), &n)) < 0)
            return r;
        return take_blob(rd, at, out, n);
    case 0xc7: /* ext 8, 16, 32: length, then a type byte */
    case 0xc8:
    case 0xc9:
        if ((r = load_be(rd, at, 1u << (b - 0xc7), &n)) < 0)
            return r;
        return take_blob(rd, at, out, n + 1);
    case 0xca: /* float 32, 64 */
    case 0xcb:
        if ((r = load_be(rd, at, b == 0xca ? 4 : 8, &n)) < 0)
            return r;
        out->type = FS_RD_FLOAT;
        return 0;
    case 0xcc: /* uint 8, 16, 32, 64 */
    case 0xcd:
    case 0xce:
    case 0xcf:
        if ((r = load_be(rd, at, 1u << (b - 0xcc), &n)) < 0)
            return r;
        out->type = FS_RD_UINT;
        out->v.u = n;
        return 0;
    case 0xd0: /* int 8, 16, 32, 64: sign-extended, then filed as uint when not negative */
    case 0xd1:
    case 0xd2:
    case 0xd3: {
        unsigned bytes = 1u << (b - 0xd0);
        if ((r = load_be(rd, at, bytes, &n)) < 0)
            return r;
        if (bytes < 8 && (n >> (bytes * 8 - 1)) != 0)
            n |= ~UINT64_C(0) << (bytes * 8);
        int64_t i = (int64_t)n; /* two's complement on every platform we build for */
        if (i >= 0) {
            out->type = FS_RD_UINT;
            out->v.u = (uint64_t)i;
        } else {
            out->type = FS_RD_INT;
            out->v.i = i;
        }
        return 0;
    }
    case 0xd4: /* fixext 1, 2, 4, 8, 16: a type byte, then the data */
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
        return take_blob(rd, at, out, 1 + (1u << (b - 0xd4)));
    case 0xd9: /* str 8, 16, 32 */
    case 0xda:
    case 0xdb:
        if ((r = load_be(rd, at, 1u << (b - 0xd9), &n)) < 0)
            return r;
        out->type = FS_RD_STR;
        return take_str(rd, at, &out->v.str, n);
    case 0xdc: /* array 16, 32 */
    case 0xdd:
        if ((r = load_be(rd, at, b == 0xdc ? 2 : 4, &n)) < 0)
            return r;
        return enter(rd, at, out, 0, n);
    default: /* 0xde, 0xdf: map 16, 32 */
        if ((r = load_be(rd, at, b == 0xde ? 2 : 4, &n)) < 0)
            return r;
        return enter(rd, at, out, 1, n);
    }
}

int fs_rd_msgpack_map_next(fs_rd_t *rd, fs_rd_str_t *key)
{
    const uint8_t *at = rd->p;
    uint64_t n;
    int r;

    if (rd->err)
        return rd->err;
    if (rd->depth == 0 || !rd->stack[rd->depth - 1].is_map)
        return fail(rd, at, "internal: map_next outside a map");
    if (rd->stack[rd->depth - 1].remaining == 0) {
        rd->depth--;
        return 0;
    }
    rd->stack[rd->depth - 1].remaining--;
    if (at >= rd->end)
        return fail(rd, at, "truncated: a map key was expected");
    uint8_t b = *rd->p++;
    if ((b & 0xe0) == 0xa0)
        n = b & 0x1f;
    else if (b >= 0xd9 && b <= 0xdb) {
        if ((r = load_be(rd, at, 1u << (b - 0xd9), &n)) < 0)
            return r;
    } else
        return fail(rd, at, "a map key is not a string");
    /* NOLINTNEXTLINE(clang-analyzer-core.CallAndMessage): n is set, load_be writes it or returns < 0 */
    if ((r = take_str(rd, at, key, n)) < 0)
        return r;
    return 1;
}

int fs_rd_msgpack_array_next(fs_rd_t *rd)
{
    if (rd->err)
        return rd->err;
    if (rd->depth == 0 || rd->stack[rd->depth - 1].is_map)
        return fail(rd, rd->p, "internal: array_next outside an array");
    if (rd->stack[rd->depth - 1].remaining == 0) {
        rd->depth--;
        return 0;
    }
    rd->stack[rd->depth - 1].remaining--;
    return 1;
}

int fs_rd_msgpack_finish(fs_rd_t *rd)
{
    char msg[96];

    if (rd->err)
        return rd->err;
    if (rd->depth != 0)
        return fail(rd, rd->p, "internal: finish inside a container");
    if (rd->p != rd->end) {
        snprintf(msg, sizeof(msg), "%zu trailing bytes after the document", (size_t)(rd->end - rd->p));
        return fail(rd, rd->p, msg);
    }
    return 0;
}
