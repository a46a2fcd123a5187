/*
 * src/enc.h: the response writer. One API writes the same document as JSON or as msgpack, so
 * every endpoint gets `Accept: application/msgpack` for free.
 *
 * Memory: the buffer grows inside the request's h2o memory pool (or with malloc when pool is
 * NULL, for tests and tools); nothing points into index memory, every string is copied.
 * msgpack maps and arrays are written with 32-bit length headers that are patched when the
 * container ends, so callers never count elements up front (valid, non-minimal msgpack).
 *
 * Threads: an fs_enc_t belongs to one thread.
 */
#ifndef FS_ENC_H
#define FS_ENC_H

#include <stddef.h>
#include <stdint.h>
#include <h2o.h>

typedef enum fs_enc_format { FS_ENC_JSON, FS_ENC_MSGPACK } fs_enc_format_t;

#define FS_ENC_MAX_DEPTH 32

typedef struct fs_enc {
    char *buf;
    size_t len, cap;
    h2o_mem_pool_t *pool; /* NULL: malloc/realloc, freed by fs_enc_dispose */
    fs_enc_format_t format;
    int failed;           /* allocation failed or nesting too deep: the document is unusable */
    int depth;
    /* The last two calendar dates written by the date writers of src/handlers.c ("YYYY-MM-DD" of
     * date_day[i], valid when date_valid[i]; date_next is the slot to replace): a result's dates are
     * its departure and arrival days, so each is derived from its day number once. */
    int32_t date_day[2];
    uint8_t date_valid[2], date_next;
    char date_text[2][10];
    struct {
        size_t header_pos; /* msgpack: where the 32-bit count goes */
        uint32_t count;    /* elements (arrays) or keys (maps) written so far */
        uint8_t is_map;
        uint8_t after_key; /* JSON: the next value follows a key, no comma */
    } stack[FS_ENC_MAX_DEPTH];
} fs_enc_t;

void fs_enc_init(fs_enc_t *e, fs_enc_format_t format, h2o_mem_pool_t *pool, size_t initial_capacity);
/** Frees a malloc-backed buffer (no-op for a pool-backed one). */
void fs_enc_dispose(fs_enc_t *e);

void fs_enc_map_begin(fs_enc_t *e);
void fs_enc_map_end(fs_enc_t *e);
void fs_enc_array_begin(fs_enc_t *e);
void fs_enc_array_end(fs_enc_t *e);
/** The key of the next value; only inside a map. */
void fs_enc_key(fs_enc_t *e, const char *key, size_t len);
/**
 * fs_enc_key for a string literal that needs no JSON escaping (no '"', '\\', control characters or
 * bytes >= 0x80: every key flightsearch writes). The JSON form `,"key":` is built by the compiler,
 * so a key costs one copy and no scan; a literal that is not a string literal does not compile.
 */
#define fs_enc_key_lit(e, lit) fs_enc_key_quoted((e), ",\"" lit "\":", sizeof(lit) - 1)
/** fs_enc_key_lit's worker: quoted is `,"key":` and len the key's own length. */
void fs_enc_key_quoted(fs_enc_t *e, const char *quoted, size_t len);

/** A UTF-8 string, escaped for JSON (quotes, backslash, control characters as \u00XX); in JSON each byte that
 * is not part of well-formed UTF-8 becomes \ufffd (msgpack copies the bytes as they are). */
void fs_enc_str(fs_enc_t *e, const char *s, size_t len);
#define fs_enc_str_lit(e, lit) fs_enc_str((e), (lit), sizeof(lit) - 1)
void fs_enc_cstr(fs_enc_t *e, const char *s);
/** A string the caller knows needs no JSON escaping: printable ASCII without '"' and '\\' (airport,
 *  carrier and currency codes, dates, times, ids, cabin names). Copied without looking at its bytes;
 *  anything else makes an invalid document, so when in doubt use fs_enc_str. */
void fs_enc_str_safe(fs_enc_t *e, const char *s, size_t len);
#define fs_enc_str_safe_lit(e, lit) fs_enc_str_safe((e), (lit), sizeof(lit) - 1)
void fs_enc_int(fs_enc_t *e, int64_t v);
void fs_enc_uint(fs_enc_t *e, uint64_t v);
/** A finite double; JSON gets up to 6 significant decimals after the point, trailing zeros cut. */
void fs_enc_double(fs_enc_t *e, double v);
void fs_enc_bool(fs_enc_t *e, int v);
void fs_enc_null(fs_enc_t *e);
/** A value that is already a JSON document (copied as it is): for JSON kept from an earlier
 *  encoding (the watches' stored results). JSON writers only; a msgpack writer fails. */
void fs_enc_raw_json(fs_enc_t *e, const char *json, size_t len);

/** JSON writers only (a msgpack writer fails): room for one value of at most max bytes that the
 *  caller writes itself at the returned pointer (the separating comma, when one is due, is already
 *  written), then fs_enc_raw_commit with the bytes it wrote. For a hot path that writes a whole
 *  object at once (src/handlers.c, a search result); the caller guarantees valid JSON and the
 *  bound. NULL when the writer has failed. */
char *fs_enc_raw_reserve(fs_enc_t *e, size_t max);
void fs_enc_raw_commit(fs_enc_t *e, size_t used);

/** Writes v in decimal ending just before end (at most 20 characters, no NUL); returns the first
 *  character. The writer's own integer formatting, for text built outside a document (cursors). */
char *fs_enc_format_u64(uint64_t v, char *end);

/** The finished document (all containers closed), or an empty iovec when failed. */
h2o_iovec_t fs_enc_result(fs_enc_t *e);

#endif
