/*
 * loaders/tool/tree.c: the tool's value tree (see feed_tool.h): built by hand from CSV rows or
 * parsed from JSON with the loaders' own strict reader, written out as msgpack or JSON.
 *
 * Why a tree and not a direct copy: a msgpack map or array states its size before its contents,
 * and a JSON object does not, so a JSON Lines record has to be read whole before it is written.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "loaders/reader.h"
#include "loaders/tool/feed_tool.h"

void *ft_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n != 0 ? n : 1);
    if (q == NULL) {
        fprintf(stderr, FT_NAME ": out of memory (%zu bytes)\n", n);
        exit(FT_EXIT_USAGE);
    }
    return q;
}

void ft_tree_init(ft_tree_t *t)
{
    memset(t, 0, sizeof(*t));
}

void ft_tree_reset(ft_tree_t *t)
{
    t->count = 0;
    t->pool_len = 0;
}

void ft_tree_free(ft_tree_t *t)
{
    free(t->n);
    free(t->pool);
    ft_tree_init(t);
}

static long push(ft_tree_t *t, ft_type_t type)
{
    if (t->count == t->cap) {
        t->cap = t->cap != 0 ? t->cap * 2 : 64;
        t->n = ft_xrealloc(t->n, t->cap * sizeof(*t->n));
    }
    ft_node_t *n = &t->n[t->count];
    memset(n, 0, sizeof(*n));
    n->type = type;
    n->size = 1;
    return (long)t->count++;
}

static uint32_t pool_add(ft_tree_t *t, const char *s, size_t len)
{
    if (t->pool_len + len + 1 > t->pool_cap) {
        while (t->pool_len + len + 1 > t->pool_cap)
            t->pool_cap = t->pool_cap != 0 ? t->pool_cap * 2 : 256;
        t->pool = ft_xrealloc(t->pool, t->pool_cap);
    }
    uint32_t off = (uint32_t)t->pool_len;
    if (len > 0)
        memcpy(t->pool + off, s, len);
    t->pool[off + len] = '\0';
    t->pool_len += len + 1;
    return off;
}

long ft_tree_open(ft_tree_t *t, ft_type_t type)
{
    return push(t, type);
}

void ft_tree_close(ft_tree_t *t, long idx)
{
    ft_node_t *n = &t->n[idx];
    uint32_t children = 0;

    n->size = (uint32_t)(t->count - (size_t)idx);
    for (size_t j = (size_t)idx + 1; j < t->count; j += t->n[j].size)
        children++;
    n->count = n->type == FT_MAP ? children / 2 : children;
}

long ft_tree_str(ft_tree_t *t, const char *s, size_t len)
{
    uint32_t off = pool_add(t, s, len);
    long i = push(t, FT_STR);
    t->n[i].v.s.off = off;
    t->n[i].v.s.len = (uint32_t)len;
    return i;
}

long ft_tree_uint(ft_tree_t *t, uint64_t u)
{
    long i = push(t, FT_UINT);
    t->n[i].v.u = u;
    return i;
}

long ft_tree_int(ft_tree_t *t, int64_t v)
{
    if (v >= 0)
        return ft_tree_uint(t, (uint64_t)v);
    long i = push(t, FT_INT);
    t->n[i].v.i = v;
    return i;
}

/* -------------------------------------------------------------- lookup */

long ft_tree_get(const ft_tree_t *t, long map, const char *key)
{
    size_t klen = strlen(key);

    if (map < 0 || (size_t)map >= t->count || t->n[map].type != FT_MAP)
        return -1;
    size_t j = (size_t)map + 1, end = (size_t)map + t->n[map].size;
    while (j < end) {
        const ft_node_t *k = &t->n[j];
        size_t v = j + k->size;
        if (k->type == FT_STR && k->v.s.len == klen && memcmp(ft_tree_text(t, k), key, klen) == 0)
            return (long)v;
        j = v + t->n[v].size;
    }
    return -1;
}

const char *ft_tree_get_str(const ft_tree_t *t, long map, const char *key, char *buf, size_t cap)
{
    long i = ft_tree_get(t, map, key);
    if (i < 0 || t->n[i].type != FT_STR || cap == 0)
        return NULL;
    size_t n = t->n[i].v.s.len < cap - 1 ? t->n[i].v.s.len : cap - 1;
    memcpy(buf, ft_tree_text(t, &t->n[i]), n);
    buf[n] = '\0';
    return buf;
}

int ft_tree_get_int(const ft_tree_t *t, long map, const char *key, int64_t *out)
{
    long i = ft_tree_get(t, map, key);
    if (i < 0)
        return 0;
    if (t->n[i].type == FT_UINT && t->n[i].v.u <= INT64_MAX) {
        *out = (int64_t)t->n[i].v.u;
        return 1;
    }
    if (t->n[i].type == FT_INT) {
        *out = t->n[i].v.i;
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------- parsing */

typedef struct parse {
    fs_rd_t rd;
    ft_tree_t *t;
    char path[256];
    char *float_path;
    size_t pathcap;
    long float_node;
    char err[512];
} parse_t;

static int parse_value(parse_t *p);

/* Appends ".key" (or "key" at the root) or "[i]" to the path; returns the old length. */
static size_t path_push(parse_t *p, const char *key, size_t klen, long index)
{
    size_t n = strlen(p->path);
    if (key != NULL)
        snprintf(p->path + n, sizeof(p->path) - n, "%s%.*s", n > 0 ? "." : "", (int)klen, key);
    else
        snprintf(p->path + n, sizeof(p->path) - n, "[%ld]", index);
    return n;
}

static int too_long(parse_t *p, size_t len)
{
    snprintf(p->err, sizeof(p->err), "%.256s%sa string with escapes of %zu bytes is longer than the %d this tool reads", p->path,
             p->path[0] != '\0' ? ": " : "", len, FS_RD_SCRATCH);
    return -1;
}

static int parse_value(parse_t *p)
{
    size_t before = fs_rd_offset(&p->rd);
    fs_rd_val_t v;
    fs_rd_str_t k;
    long idx, i;
    int r;

    if (fs_rd_read(&p->rd, &v) < 0)
        return -1;
    switch (v.type) {
    case FS_RD_MAP:
        idx = ft_tree_open(p->t, FT_MAP);
        while ((r = fs_rd_map_next(&p->rd, &k)) > 0) {
            if (k.p == NULL)
                return too_long(p, k.len);
            ft_tree_str(p->t, k.p, k.len);
            size_t old = path_push(p, k.p, k.len, 0);
            if (parse_value(p) < 0)
                return -1;
            p->path[old] = '\0';
        }
        if (r < 0)
            return -1;
        ft_tree_close(p->t, idx);
        return 0;
    case FS_RD_ARRAY:
        idx = ft_tree_open(p->t, FT_ARRAY);
        for (i = 0; (r = fs_rd_array_next(&p->rd)) > 0; i++) {
            size_t old = path_push(p, NULL, 0, i);
            if (parse_value(p) < 0)
                return -1;
            p->path[old] = '\0';
        }
        if (r < 0)
            return -1;
        ft_tree_close(p->t, idx);
        return 0;
    case FS_RD_STR:
        if (v.v.str.p == NULL)
            return too_long(p, v.v.str.len);
        ft_tree_str(p->t, v.v.str.p, v.v.str.len);
        return 0;
    case FS_RD_UINT:
        ft_tree_uint(p->t, v.v.u);
        return 0;
    case FS_RD_INT:
        ft_tree_int(p->t, v.v.i);
        return 0;
    case FS_RD_BOOL:
        i = push(p->t, FT_BOOL);
        p->t->n[i].v.b = v.v.b;
        return 0;
    case FS_RD_FLOAT: {
        /* The reader keeps no value for a fraction; keep the text, for the message. */
        const char *s = (const char *)p->rd.start + before, *e = (const char *)p->rd.p;
        while (s < e && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
            s++;
        i = ft_tree_str(p->t, s, (size_t)(e - s));
        p->t->n[i].type = FT_FLOAT;
        if (p->float_node < 0) {
            p->float_node = i;
            if (p->float_path != NULL)
                snprintf(p->float_path, p->pathcap, "%s", p->path);
        }
        return 0;
    }
    default:
        push(p->t, FT_NIL);
        return 0;
    }
}

long ft_tree_parse_json(ft_tree_t *t, const char *text, size_t len, char *err, size_t errcap, char *float_path, size_t pathcap,
                        long *float_node)
{
    static parse_t *p; /* about 1 KB of reader state; one parse at a time (single-threaded tool) */
    long root = (long)t->count;

    if (p == NULL)
        p = ft_xrealloc(NULL, sizeof(*p));
    fs_rd_init(&p->rd, FS_FEED_JSON, (const uint8_t *)text, len);
    p->t = t;
    p->path[0] = '\0';
    p->float_path = float_path;
    p->pathcap = pathcap;
    p->float_node = -1;
    p->err[0] = '\0';
    if (float_path != NULL && pathcap > 0)
        float_path[0] = '\0';
    if (parse_value(p) < 0 || fs_rd_finish(&p->rd) < 0) {
        if (p->err[0] != '\0')
            snprintf(err, errcap, "%s", p->err);
        else
            snprintf(err, errcap, "%s at byte %zu", p->rd.err_msg, p->rd.err_off);
        t->count = (size_t)root;
        return -1;
    }
    if (float_node != NULL)
        *float_node = p->float_node;
    return root;
}

/* ------------------------------------------------------------- writing */

static int sbuf_write(void *data, const char *buf, size_t len)
{
    return msgpack_sbuffer_write(data, buf, len);
}

void ft_json_string(msgpack_sbuffer *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;

    msgpack_sbuffer_write(out, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        msgpack_sbuffer_write(out, s + run, i - run);
        run = i + 1;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            msgpack_sbuffer_write(out, esc, 2);
        } else {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            msgpack_sbuffer_write(out, esc, 6);
        }
    }
    msgpack_sbuffer_write(out, s + run, len - run);
    msgpack_sbuffer_write(out, "\"", 1);
}

/* Returns the index after the subtree. */
static size_t encode_msgpack(const ft_tree_t *t, size_t i, msgpack_packer *pk)
{
    const ft_node_t *n = &t->n[i];
    size_t j = i + 1;

    switch (n->type) {
    case FT_MAP:
    case FT_ARRAY:
        if (n->type == FT_MAP)
            msgpack_pack_map(pk, n->count);
        else
            msgpack_pack_array(pk, n->count);
        while (j < i + n->size)
            j = encode_msgpack(t, j, pk);
        return j;
    case FT_STR:
        msgpack_pack_str_with_body(pk, ft_tree_text(t, n), n->v.s.len);
        return j;
    case FT_UINT:
        msgpack_pack_uint64(pk, n->v.u);
        return j;
    case FT_INT:
        msgpack_pack_int64(pk, n->v.i);
        return j;
    case FT_BOOL:
        if (n->v.b)
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
        return j;
    case FT_FLOAT: /* callers refuse fractions before writing; the number's text is all we have */
        msgpack_pack_double(pk, strtod(ft_tree_text(t, n), NULL));
        return j;
    default:
        msgpack_pack_nil(pk);
        return j;
    }
}

static size_t encode_json(const ft_tree_t *t, size_t i, msgpack_sbuffer *out)
{
    const ft_node_t *n = &t->n[i];
    size_t j = i + 1;
    char num[32];
    int len;

    switch (n->type) {
    case FT_MAP:
    case FT_ARRAY: {
        int is_map = n->type == FT_MAP;
        msgpack_sbuffer_write(out, is_map ? "{" : "[", 1);
        for (unsigned k = 0; j < i + n->size; k++) {
            if (k > 0)
                msgpack_sbuffer_write(out, ",", 1);
            j = encode_json(t, j, out);
            if (is_map) {
                msgpack_sbuffer_write(out, ":", 1);
                j = encode_json(t, j, out);
            }
        }
        msgpack_sbuffer_write(out, is_map ? "}" : "]", 1);
        return j;
    }
    case FT_STR:
        ft_json_string(out, ft_tree_text(t, n), n->v.s.len);
        return j;
    case FT_FLOAT:
        msgpack_sbuffer_write(out, ft_tree_text(t, n), n->v.s.len);
        return j;
    case FT_UINT:
        len = snprintf(num, sizeof(num), "%" PRIu64, n->v.u);
        msgpack_sbuffer_write(out, num, (size_t)len);
        return j;
    case FT_INT:
        len = snprintf(num, sizeof(num), "%" PRId64, n->v.i);
        msgpack_sbuffer_write(out, num, (size_t)len);
        return j;
    case FT_BOOL:
        msgpack_sbuffer_write(out, n->v.b ? "true" : "false", n->v.b ? 4 : 5);
        return j;
    default:
        msgpack_sbuffer_write(out, "null", 4);
        return j;
    }
}

void ft_tree_encode(const ft_tree_t *t, long idx, fs_feed_format_t format, msgpack_sbuffer *out)
{
    if (format == FS_FEED_MSGPACK) {
        msgpack_packer pk;
        msgpack_packer_init(&pk, out, sbuf_write);
        encode_msgpack(t, (size_t)idx, &pk);
    } else {
        encode_json(t, (size_t)idx, out);
    }
}
