/*
 * loaders/reader.h: a pull reader over one feed body, private to loaders/. The same calls read
 * msgpack (reader_msgpack.c) and JSON (reader_json.c), so decode.c walks the schema once.
 * One reader outside loaders/: bench/load/ (flightsearch-load) checks and reads the server's JSON
 * answers with it, rather than carry a second JSON parser. A change here is a change there too.
 *
 * Model: fs_rd_read() reads the next value. A scalar comes back whole; a map or an array is
 * entered, and its contents are then pulled with fs_rd_map_next() (which also reads the key) or
 * fs_rd_array_next(), each followed by exactly one fs_rd_read()/fs_rd_skip() of the element,
 * until they return 0 at the container's end. No call needs to know a count up front (JSON has
 * none), and a msgpack count is checked against the bytes that remain before it is believed.
 *
 * Memory: none. Strings point into the body; a JSON string with escapes is unescaped into a
 * fixed scratch buffer inside fs_rd_t (one for keys, one for values, so a key stays valid while
 * its value is read). A string too long for the scratch comes back with p == NULL and its
 * decoded length: every field of the schema is short, so decode.c refuses it as too long.
 *
 * Errors: the first malformation is sticky. Every call returns FS_EINVAL from then on, and
 * err_off / err_msg say what and where, for a "malformed_feed" answer.
 *
 * Dispatch is a switch on the format in the inline wrappers below: decode.c calls them ~30 times
 * per leg, and a perfectly predicted branch costs less than an indirect call through a table.
 */
#ifndef FS_LOADERS_READER_H
#define FS_LOADERS_READER_H

#include <stddef.h>
#include <stdint.h>
#include "loaders/loaders.h"

/* Longest unescaped JSON string kept (the schema's longest value is a 25-character time). */
#define FS_RD_SCRATCH 256

typedef enum fs_rd_type {
    FS_RD_MAP,
    FS_RD_ARRAY,
    FS_RD_STR,
    FS_RD_UINT,  /* any integer >= 0, whatever its encoding */
    FS_RD_INT,   /* a negative integer */
    FS_RD_FLOAT, /* a number with a fraction or exponent; its value is not kept (the schema has none) */
    FS_RD_BOOL,
    FS_RD_NIL,
    FS_RD_OTHER, /* msgpack bin and ext */
} fs_rd_type_t;

typedef struct fs_rd_str {
    const char *p; /* NULL: longer than FS_RD_SCRATCH after unescaping (JSON only) */
    size_t len;
} fs_rd_str_t;

typedef struct fs_rd_val {
    fs_rd_type_t type;
    union {
        fs_rd_str_t str; /* FS_RD_STR */
        uint64_t u;      /* FS_RD_UINT */
        int64_t i;       /* FS_RD_INT */
        int b;           /* FS_RD_BOOL */
    } v;
} fs_rd_val_t;

typedef struct fs_rd {
    const uint8_t *p, *start, *end;
    fs_feed_format_t format;
    unsigned depth; /* containers entered and not yet left */
    struct {
        uint64_t remaining; /* msgpack: elements (arrays) or key/value pairs (maps) left */
        uint8_t is_map;
        uint8_t first; /* JSON: no element read yet, so no comma is due */
    } stack[FS_FEED_MAX_DEPTH];
    int err;        /* 0, or FS_EINVAL once the body is known to be malformed */
    size_t err_off; /* byte offset of the malformation */
    char err_msg[96];
    char key_scratch[FS_RD_SCRATCH];
    char val_scratch[FS_RD_SCRATCH];
} fs_rd_t;

/** Prepares a reader over body[0..len). Nothing is read yet. */
static inline void fs_rd_init(fs_rd_t *rd, fs_feed_format_t format, const uint8_t *body, size_t len)
{
    rd->start = rd->p = body;
    rd->end = body + len;
    rd->format = format;
    rd->depth = 0;
    rd->err = 0;
    rd->err_off = 0;
    rd->err_msg[0] = '\0';
}

/** Records a malformation at byte offset off (the first one wins) and returns FS_EINVAL. The
 *  readers use it, and so does decode.c for what only it can see (a top level that is no map). */
static inline int fs_rd_fail_at(fs_rd_t *rd, size_t off, const char *msg)
{
    if (rd->err == 0) {
        size_t n = 0;
        while (n < sizeof(rd->err_msg) - 1 && msg[n] != '\0') {
            rd->err_msg[n] = msg[n];
            n++;
        }
        rd->err_msg[n] = '\0';
        rd->err_off = off;
        rd->err = FS_EINVAL;
    }
    return FS_EINVAL;
}

/** Byte offset of the next unread byte. */
static inline size_t fs_rd_offset(const fs_rd_t *rd)
{
    return (size_t)(rd->p - rd->start);
}

int fs_rd_msgpack_read(fs_rd_t *rd, fs_rd_val_t *out);
int fs_rd_msgpack_map_next(fs_rd_t *rd, fs_rd_str_t *key);
int fs_rd_msgpack_array_next(fs_rd_t *rd);
int fs_rd_msgpack_finish(fs_rd_t *rd);
int fs_rd_json_read(fs_rd_t *rd, fs_rd_val_t *out);
int fs_rd_json_map_next(fs_rd_t *rd, fs_rd_str_t *key);
int fs_rd_json_array_next(fs_rd_t *rd);
int fs_rd_json_finish(fs_rd_t *rd);

/*
 * msgpack fast paths. Most bytes of a feed are one-byte headers: fixstr keys and short values,
 * positive fixints, small fixmaps, uint16/uint32. Decoding them here, inline in decode.c, and
 * leaving everything else (and every error) to reader_msgpack.c saves a call per value, about
 * 30 a leg: 8% fewer instructions per leg (callgrind on the 1M-leg bench: 4830 -> 4420). The
 * checks are the slow path's: the header and the string must fit in the bytes that remain.
 */
static inline int fs_rd_msgpack_read_fast(fs_rd_t *rd, fs_rd_val_t *out)
{
    const uint8_t *p = rd->p;
    size_t have = (size_t)(rd->end - p);

    if (rd->err == 0 && have > 0) {
        uint8_t b = *p;
        if (b <= 0x7f) {
            out->type = FS_RD_UINT;
            out->v.u = b;
            rd->p = p + 1;
            return 0;
        }
        if ((b & 0xe0) == 0xa0 && (size_t)(b & 0x1f) < have) {
            out->type = FS_RD_STR;
            out->v.str.p = (const char *)p + 1;
            out->v.str.len = b & 0x1f;
            rd->p = p + 1 + (b & 0x1f);
            return 0;
        }
        if (b == 0xcd && have >= 3) {
            out->type = FS_RD_UINT;
            out->v.u = (uint64_t)p[1] << 8 | p[2];
            rd->p = p + 3;
            return 0;
        }
        if (b == 0xce && have >= 5) {
            out->type = FS_RD_UINT;
            out->v.u = (uint64_t)p[1] << 24 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 8 | p[4];
            rd->p = p + 5;
            return 0;
        }
    }
    return fs_rd_msgpack_read(rd, out);
}

static inline int fs_rd_msgpack_map_next_fast(fs_rd_t *rd, fs_rd_str_t *key)
{
    if (rd->err == 0 && rd->depth > 0 && rd->stack[rd->depth - 1].is_map && rd->stack[rd->depth - 1].remaining > 0 &&
        rd->p < rd->end && (*rd->p & 0xe0) == 0xa0 && (size_t)(*rd->p & 0x1f) < (size_t)(rd->end - rd->p)) {
        size_t n = *rd->p & 0x1f;
        rd->stack[rd->depth - 1].remaining--;
        key->p = (const char *)rd->p + 1;
        key->len = n;
        rd->p += 1 + n;
        return 1;
    }
    return fs_rd_msgpack_map_next(rd, key);
}

/** Reads the next value; enters it when it is a map or an array. 0 or FS_EINVAL. */
static inline int fs_rd_read(fs_rd_t *rd, fs_rd_val_t *out)
{
    return rd->format == FS_FEED_MSGPACK ? fs_rd_msgpack_read_fast(rd, out) : fs_rd_json_read(rd, out);
}

/** In a map: 1 and the next key (its value must be read or skipped next), 0 at the end of the
 *  map (which is then left), or FS_EINVAL. */
static inline int fs_rd_map_next(fs_rd_t *rd, fs_rd_str_t *key)
{
    return rd->format == FS_FEED_MSGPACK ? fs_rd_msgpack_map_next_fast(rd, key) : fs_rd_json_map_next(rd, key);
}

/** In an array: 1 when an element follows (read or skip it next), 0 at the end (the array is
 *  then left), or FS_EINVAL. */
static inline int fs_rd_array_next(fs_rd_t *rd)
{
    return rd->format == FS_FEED_MSGPACK ? fs_rd_msgpack_array_next(rd) : fs_rd_json_array_next(rd);
}

/** After the top-level value: 0 when nothing but (JSON) whitespace follows, else FS_EINVAL. */
static inline int fs_rd_finish(fs_rd_t *rd)
{
    return rd->format == FS_FEED_MSGPACK ? fs_rd_msgpack_finish(rd) : fs_rd_json_finish(rd);
}

static inline int fs_rd_skip(fs_rd_t *rd);

/** Consumes the rest of a value just returned by fs_rd_read: the contents of a map or an array
 *  (which was entered), nothing for a scalar. Recursion is bounded by FS_FEED_MAX_DEPTH, since
 *  fs_rd_read refuses to enter deeper. */
static inline int fs_rd_skip_rest(fs_rd_t *rd, const fs_rd_val_t *v)
{
    fs_rd_str_t key;
    int r;

    if (v->type == FS_RD_MAP) {
        while ((r = fs_rd_map_next(rd, &key)) > 0) {
            if ((r = fs_rd_skip(rd)) < 0)
                return r;
        }
        return r;
    }
    if (v->type == FS_RD_ARRAY) {
        while ((r = fs_rd_array_next(rd)) > 0) {
            if ((r = fs_rd_skip(rd)) < 0)
                return r;
        }
        return r;
    }
    return 0;
}

/** Reads and discards the next value, however nested. 0 or FS_EINVAL. */
static inline int fs_rd_skip(fs_rd_t *rd)
{
    fs_rd_val_t v;
    int r;

    if ((r = fs_rd_read(rd, &v)) < 0)
        return r;
    return fs_rd_skip_rest(rd, &v);
}

#endif
