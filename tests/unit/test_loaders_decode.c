/*
 * tests/unit/test_loaders_decode.c: feed decoding and validation (loaders/decode.c and the two
 * readers).
 *
 *   oracle     ~2000 random valid legs, encoded by this test as msgpack (msgpack-c's packer) and
 *              as JSON (snprintf, keys shuffled, some escaped), decoded, and every field the sink
 *              got compared with the test's own numbers. Dates and code ids come from the test's
 *              own loops, not from index/time.c or index/codes.c.
 *   rules      a table of documents with one problem each: status, index, field, reason keyword.
 *   malformed  JSON and msgpack that is not a document; hostile msgpack headers, deep nesting,
 *              every truncation of a small document (each prefix in its own malloc block, so ASan
 *              sees any overread), random byte flips.
 *   deltas, the sink stopping, the error document.
 *
 * `test_loaders_decode --bench N` also times decoding N generated legs in both formats.
 */
#include <msgpack.h>
#include <stdarg.h>
#include <stdlib.h>
#include <time.h>

#include "loaders/loaders.h"
#include "loaders/reader.h"
#include "tests/test.h"

/* ------------------------------------------------------------- helpers */

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static uint64_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1dULL;
}

static unsigned below(unsigned n)
{
    return (unsigned)(rnd() % n);
}

static int leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_len(int y, int m)
{
    static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return len[m - 1] + (m == 2 && leap(y));
}

/* Day numbers by counting, the slow obvious way. */
static int32_t t_days(int y, int m, int d)
{
    int32_t n = 0;
    for (int yy = 1970; yy < y; yy++)
        n += leap(yy) ? 366 : 365;
    for (int mm = 1; mm < m; mm++)
        n += month_len(y, mm);
    return n + d - 1;
}

static void t_civil(int32_t n, int *y, int *m, int *d)
{
    int yy = 1970, mm = 1;
    while (n >= (leap(yy) ? 366 : 365))
        n -= leap(yy++) ? 366 : 365;
    while (n >= month_len(yy, mm))
        n -= month_len(yy, mm++);
    *y = yy, *m = mm, *d = n + 1;
}

static unsigned t_airport_id(const char *s)
{
    return (unsigned)((s[0] - 'A') * 676 + (s[1] - 'A') * 26 + (s[2] - 'A'));
}

static unsigned t_carrier_digit(char c)
{
    return c >= '0' && c <= '9' ? (unsigned)(c - '0') : (unsigned)(c - 'A' + 10);
}

static unsigned t_carrier_id(const char *s)
{
    return t_carrier_digit(s[0]) * 36 + t_carrier_digit(s[1]);
}

/* A growing text buffer. */
typedef struct buf {
    char *p;
    size_t len, cap;
} buf_t;

__attribute__((format(printf, 2, 3))) static void bprintf(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(b->p != NULL ? b->p + b->len : NULL, b->p != NULL ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (b->p != NULL && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = (b->cap + (size_t)n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        if (b->p == NULL)
            abort();
    }
}

/* Collects what the sink gets. */
typedef struct coll {
    fs_leg_in_t *legs;
    uint64_t *idx;
    size_t n, cap;
    fs_leg_remove_t rm[16];
    uint64_t rmidx[16];
    size_t nrm;
    size_t fail_at; /* leg call number (1-based) that returns FS_ENOMEM; 0 never */
    int count_only;
} coll_t;

static int sink_leg(void *arg, uint64_t index, const fs_leg_in_t *leg)
{
    coll_t *c = arg;
    if (c->fail_at != 0 && c->n + 1 == c->fail_at) {
        c->n++;
        return FS_ENOMEM;
    }
    if (c->count_only) {
        c->n++;
        return 0;
    }
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 256;
        c->legs = realloc(c->legs, c->cap * sizeof(*c->legs));
        c->idx = realloc(c->idx, c->cap * sizeof(*c->idx));
        if (c->legs == NULL || c->idx == NULL)
            abort();
    }
    c->legs[c->n] = *leg;
    c->idx[c->n++] = index;
    return 0;
}

static int sink_remove(void *arg, uint64_t index, const fs_leg_remove_t *key)
{
    coll_t *c = arg;
    if (c->nrm < 16) {
        c->rm[c->nrm] = *key;
        c->rmidx[c->nrm] = index;
    }
    c->nrm++;
    return 0;
}

static void coll_reset(coll_t *c)
{
    free(c->legs);
    free(c->idx);
    memset(c, 0, sizeof(*c));
}

/* Decodes text as JSON from an exact-size heap copy (so ASan sees an overread). */
static int decode_copy(const void *body, size_t len, fs_feed_format_t format, fs_feed_kind_t kind, const char *expected,
                       fs_feed_header_t *hdr, coll_t *c, fs_feed_errors_t *errs)
{
    fs_feed_sink_t sink = {sink_leg, sink_remove, c};
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, body, len);
    int r = fs_feed_decode(copy, len, format, kind, expected, hdr, &sink, errs);
    free(copy);
    return r;
}

/* ----------------------------------------------------- generated legs */

typedef struct tleg {
    char carrier[3], origin[4], destination[4];
    unsigned flight;
    int32_t dep_day, arr_day;
    int dep_min, arr_min, dep_off, arr_off;
    char departs[40], arrives[40];
    unsigned mask;
    unsigned seats[4];
    uint32_t miles[4], taxes[4];
    char currency[4][4];
} tleg_t;

static const char *const cabin_names[4] = {"economy", "premium", "business", "first"};
static const char *const leg_keys[7] = {"carrier", "flight", "origin", "destination", "departs_at", "arrives_at", "cabins"};

static void t_time_text(char *out, size_t cap, int32_t day, int minute, int off)
{
    int y, m, d;
    char offs[16], secs[8] = "";
    t_civil(day, &y, &m, &d);
    if (off == 0 && below(3) == 0)
        snprintf(offs, sizeof(offs), "Z");
    else
        snprintf(offs, sizeof(offs), "%c%02d:%02d", off < 0 ? '-' : '+', abs(off) / 60, abs(off) % 60);
    if (below(4) != 0)
        snprintf(secs, sizeof(secs), ":%02u", below(60));
    snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d%s%s", y, m, d, minute / 60, minute % 60, secs, offs);
}

static void random_code(char *out, int n, int digits)
{
    static const char alnum[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    for (int i = 0; i < n; i++)
        out[i] = digits ? alnum[below(36)] : (char)('A' + below(26));
    out[n] = '\0';
}

/* Leg i: (carrier, flight) comes from i so keys never repeat; everything else is random. */
static void gen_leg(tleg_t *t, size_t i)
{
    static const char alnum[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    unsigned cid = (unsigned)(i / 9999 % 1296);
    static const int32_t first_day = 20454; /* 2026-01-01, checked in main */

    t->carrier[0] = alnum[cid / 36], t->carrier[1] = alnum[cid % 36], t->carrier[2] = '\0';
    t->flight = (unsigned)(i % 9999) + 1;
    random_code(t->origin, 3, 0);
    do
        random_code(t->destination, 3, 0);
    while (strcmp(t->origin, t->destination) == 0);
    t->dep_day = first_day + (int32_t)below(700);
    t->dep_min = (int)below(1440);
    t->dep_off = ((int)below(105) - 48) * 15; /* -12:00 .. +14:00 */
    t->arr_off = ((int)below(105) - 48) * 15;
    int dur = below(8) == 0 ? (below(2) ? 1 : FS_MAX_DURATION_MIN) : 30 + (int)below(900);
    int64_t arr_local = (int64_t)t->dep_day * 1440 + t->dep_min - t->dep_off + dur + t->arr_off;
    t->arr_day = (int32_t)(arr_local / 1440);
    t->arr_min = (int)(arr_local % 1440);
    t_time_text(t->departs, sizeof(t->departs), t->dep_day, t->dep_min, t->dep_off);
    t_time_text(t->arrives, sizeof(t->arrives), t->arr_day, t->arr_min, t->arr_off);
    t->mask = 1 + below(15);
    for (int c = 0; c < 4; c++) {
        t->seats[c] = below(100);
        t->miles[c] = below(10) == 0 ? (below(2) ? FS_MIN_MILES : FS_MAX_MILES) : 1 + below(FS_MAX_MILES);
        t->taxes[c] = below(10) == 0 ? (below(2) ? 0 : FS_MAX_TAXES_CENTS) : (uint32_t)below(FS_MAX_TAXES_CENTS + 1);
        random_code(t->currency[c], 3, 0);
    }
}

/* The oracle shuffles keys; the bench can write them in the order of the feed spec's example. */
static int shuffle_keys = 1;

static void shuffle(int *a, int n)
{
    if (!shuffle_keys)
        return;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)below((unsigned)i + 1), x = a[i];
        a[i] = a[j], a[j] = x;
    }
}

static void pack_cstr(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

static void pack_leg(msgpack_packer *pk, const tleg_t *t)
{
    int order[7] = {0, 1, 2, 3, 4, 5, 6};
    shuffle(order, 7);
    msgpack_pack_map(pk, 7);
    for (int k = 0; k < 7; k++) {
        pack_cstr(pk, leg_keys[order[k]]);
        switch (order[k]) {
        case 0:
            pack_cstr(pk, t->carrier);
            break;
        case 1:
            msgpack_pack_uint32(pk, t->flight);
            break;
        case 2:
            pack_cstr(pk, t->origin);
            break;
        case 3:
            pack_cstr(pk, t->destination);
            break;
        case 4:
            pack_cstr(pk, t->departs);
            break;
        case 5:
            pack_cstr(pk, t->arrives);
            break;
        default:
            msgpack_pack_map(pk, (size_t)__builtin_popcount(t->mask));
            for (int c = 3; c >= 0; c--) {
                if (!(t->mask & 1u << c))
                    continue;
                pack_cstr(pk, cabin_names[c]);
                msgpack_pack_map(pk, 4);
                pack_cstr(pk, "currency");
                pack_cstr(pk, t->currency[c]);
                pack_cstr(pk, "miles");
                msgpack_pack_uint32(pk, t->miles[c]);
                pack_cstr(pk, "seats");
                msgpack_pack_uint8(pk, (uint8_t)t->seats[c]);
                pack_cstr(pk, "taxes_cents");
                msgpack_pack_uint32(pk, t->taxes[c]);
            }
        }
    }
}

/* A JSON string, sometimes with every character as a \u escape (the readers' slow path). */
static void json_str(buf_t *b, const char *s, int escape)
{
    bprintf(b, "\"");
    for (; *s; s++) {
        if (escape)
            bprintf(b, "\\u%04X", (unsigned char)*s);
        else
            bprintf(b, "%c", *s);
    }
    bprintf(b, "\"");
}

static void json_leg(buf_t *b, const tleg_t *t, int escapes)
{
    int order[7] = {0, 1, 2, 3, 4, 5, 6};
    const char *sep = below(2) ? "," : ",\n  ", *colon = below(2) ? ":" : " : ";
    shuffle(order, 7);
    bprintf(b, "{");
    for (int k = 0; k < 7; k++) {
        if (k)
            bprintf(b, "%s", sep);
        json_str(b, leg_keys[order[k]], escapes && below(8) == 0);
        bprintf(b, "%s", colon);
        switch (order[k]) {
        case 0:
            json_str(b, t->carrier, escapes && below(4) == 0);
            break;
        case 1:
            bprintf(b, "%u", t->flight);
            break;
        case 2:
            json_str(b, t->origin, 0);
            break;
        case 3:
            json_str(b, t->destination, escapes && below(4) == 0);
            break;
        case 4:
            json_str(b, t->departs, escapes && below(8) == 0);
            break;
        case 5:
            json_str(b, t->arrives, 0);
            break;
        default: {
            int first = 1;
            bprintf(b, "{");
            for (int c = 0; c < 4; c++) {
                if (!(t->mask & 1u << c))
                    continue;
                bprintf(b, "%s\"%s\": {\"seats\": %u, \"miles\":%u,\"taxes_cents\" :%u, \"currency\":\"%s\"}", first ? "" : ",",
                        cabin_names[c], t->seats[c], t->miles[c], t->taxes[c], t->currency[c]);
                first = 0;
            }
            bprintf(b, "}");
        }
        }
    }
    bprintf(b, "}");
}

/* Header at the front (0) or after the legs (1). */
static void build_msgpack(msgpack_sbuffer *sb, const tleg_t *legs, size_t n, int header_last)
{
    msgpack_packer pk;
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    if (!header_last) {
        pack_cstr(&pk, "source");
        pack_cstr(&pk, "tap");
        pack_cstr(&pk, "sequence");
        msgpack_pack_uint64(&pk, 42);
        pack_cstr(&pk, "generated_at");
        pack_cstr(&pk, "2026-11-21T20:00:00Z");
    }
    pack_cstr(&pk, "legs");
    msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n; i++)
        pack_leg(&pk, &legs[i]);
    if (header_last) {
        pack_cstr(&pk, "sequence");
        msgpack_pack_uint64(&pk, 42);
        pack_cstr(&pk, "source");
        pack_cstr(&pk, "tap");
        pack_cstr(&pk, "generated_at");
        pack_cstr(&pk, "2026-11-21T20:00:00Z");
    }
}

static void build_json(buf_t *b, const tleg_t *legs, size_t n, int header_last, int escapes)
{
    const char *header = "\"source\": \"tap\", \"sequence\": 42, \"generated_at\": \"2026-11-21T20:00:00Z\"";
    b->len = 0;
    bprintf(b, "{");
    if (!header_last)
        bprintf(b, "%s,\n", header);
    bprintf(b, "\"legs\": [");
    for (size_t i = 0; i < n; i++) {
        if (i)
            bprintf(b, ",\n");
        json_leg(b, &legs[i], escapes);
    }
    bprintf(b, "]");
    if (header_last)
        bprintf(b, ",\t%s", header);
    bprintf(b, "}");
}

/* The first field where the sink's leg differs from the generated one, or NULL. */
static const char *leg_mismatch(const fs_leg_in_t *g, const tleg_t *t, int64_t last_seen)
{
    if (g->carrier != t_carrier_id(t->carrier))
        return "carrier";
    if (g->flight != t->flight)
        return "flight";
    if (g->origin != t_airport_id(t->origin) || g->destination != t_airport_id(t->destination))
        return "route";
    if (g->departs.day != t->dep_day || g->departs.minute != t->dep_min || g->departs.offset_min != t->dep_off)
        return "departs";
    if (g->arrives.day != t->arr_day || g->arrives.minute != t->arr_min || g->arrives.offset_min != t->arr_off)
        return "arrives";
    if (g->cabin_mask != t->mask)
        return "cabin_mask";
    for (int c = 0; c < 4; c++) {
        if (!(t->mask & 1u << c)) {
            if (g->seats[c] != 0 || g->fare[c].miles != 0 || g->fare[c].taxes_cents != 0 || g->fare[c].currency != 0)
                return "absent cabin not zeroed";
            continue;
        }
        if (g->seats[c] != t->seats[c] || g->fare[c].miles != t->miles[c] || g->fare[c].taxes_cents != t->taxes[c] ||
            g->fare[c].currency != t_airport_id(t->currency[c]))
            return "cabin";
    }
    if (g->last_seen != last_seen)
        return "last_seen";
    return NULL;
}

static void check_oracle(const char *what, int r, const coll_t *c, const fs_feed_errors_t *errs, const fs_feed_header_t *h,
                         const tleg_t *legs, size_t n, int64_t generated_at)
{
    size_t bad = 0;
    CHECK_EQ_INT(r, 0);
    CHECK_EQ_INT(errs->total, 0);
    if (errs->count > 0)
        fprintf(stderr, "%s: [%" PRId64 "] %s: %s\n", what, errs->e[0].index, errs->e[0].field, errs->e[0].reason);
    CHECK_EQ_INT(c->n, n);
    CHECK_EQ_STR(h->source, "tap");
    CHECK_EQ_INT(h->sequence, 42);
    CHECK_EQ_INT(h->generated_at, generated_at);
    for (size_t i = 0; i < c->n && i < n; i++) {
        const char *m = c->idx[i] != i ? "index" : leg_mismatch(&c->legs[i], &legs[i], generated_at);
        if (m != NULL && bad++ < 5)
            fprintf(stderr, "%s: leg %zu differs in %s (%s %s)\n", what, i, m, legs[i].departs, legs[i].arrives);
    }
    CHECK_EQ_INT(bad, 0);
}

static void test_oracle(int64_t generated_at)
{
    enum { N = 2000 };
    static tleg_t legs[N];
    fs_feed_errors_t errs;
    fs_feed_header_t h;
    coll_t c = {0};
    msgpack_sbuffer sb;
    buf_t b = {0};

    for (size_t i = 0; i < N; i++)
        gen_leg(&legs[i], i * 7919 % 12000000);
    for (int header_last = 0; header_last < 2; header_last++) {
        build_msgpack(&sb, legs, N, header_last);
        int r = decode_copy(sb.data, sb.size, FS_FEED_MSGPACK, FS_FEED_SNAPSHOT, "tap", &h, &c, &errs);
        check_oracle(header_last ? "msgpack, header last" : "msgpack", r, &c, &errs, &h, legs, N, generated_at);
        coll_reset(&c);
        msgpack_sbuffer_destroy(&sb);

        build_json(&b, legs, N, header_last, 1);
        r = decode_copy(b.p, b.len, FS_FEED_JSON, FS_FEED_SNAPSHOT, "tap", &h, &c, &errs);
        check_oracle(header_last ? "json, header last" : "json", r, &c, &errs, &h, legs, N, generated_at);
        coll_reset(&c);
    }
    free(b.p);
}

/* ------------------------------------------------------- rule table */

static const char *const good_leg[7][2] = {
    {"carrier", "\"TP\""},
    {"flight", "82"},
    {"origin", "\"GRU\""},
    {"destination", "\"LIS\""},
    {"departs_at", "\"2026-12-01T21:35:00-03:00\""},
    {"arrives_at", "\"2026-12-02T11:05:00+00:00\""},
    {"cabins", "{\"economy\":{\"seats\":9,\"miles\":35000,\"taxes_cents\":12345,\"currency\":\"BRL\"},"
               "\"business\":{\"seats\":2,\"miles\":70000,\"taxes_cents\":45000,\"currency\":\"BRL\"}}"},
};
static const char *const good_top[4][2] = {
    {"source", "\"tap\""},
    {"sequence", "42"},
    {"generated_at", "\"2026-11-21T20:00:00Z\""},
    {"legs", NULL}, /* filled in by build_doc */
};

/*
 * A JSON object from base pairs and overrides, '|'-separated: "name=json" replaces (or, for a name
 * not in base, appends), "-name" drops, "+name=json" appends even when the name exists, "=json"
 * replaces the whole object.
 */
static void build_object(buf_t *b, const char *const (*base)[2], int nbase, const char *ov, const char *legs)
{
    char spec[8][256];
    int nspec = 0, first = 1;

    if (ov != NULL) {
        const char *s = ov;
        while (*s && nspec < 8) {
            const char *e = strchr(s, '|');
            size_t n = e ? (size_t)(e - s) : strlen(s);
            snprintf(spec[nspec++], sizeof(spec[0]), "%.*s", (int)n, s);
            s += n + (e != NULL);
        }
    }
    for (int i = 0; i < nspec; i++) {
        if (spec[i][0] == '=') {
            bprintf(b, "%s", spec[i] + 1);
            return;
        }
    }
    bprintf(b, "{");
    for (int k = 0; k < nbase; k++) {
        const char *value = base[k][1] != NULL ? base[k][1] : legs;
        size_t klen = strlen(base[k][0]);
        int dropped = 0;
        for (int i = 0; i < nspec; i++) {
            if (spec[i][0] == '-' && strcmp(spec[i] + 1, base[k][0]) == 0)
                dropped = 1;
            if (strncmp(spec[i], base[k][0], klen) == 0 && spec[i][klen] == '=')
                value = spec[i] + klen + 1;
        }
        if (!dropped) {
            bprintf(b, "%s\"%s\":%s", first ? "" : ",", base[k][0], value);
            first = 0;
        }
    }
    for (int i = 0; i < nspec; i++) {
        const char *eq = strchr(spec[i], '=');
        int known = 0;
        if (spec[i][0] == '-' || eq == NULL)
            continue;
        const char *name = spec[i][0] == '+' ? spec[i] + 1 : spec[i];
        for (int k = 0; k < nbase && spec[i][0] != '+'; k++) {
            if (strlen(base[k][0]) == (size_t)(eq - name) && strncmp(base[k][0], name, (size_t)(eq - name)) == 0)
                known = 1;
        }
        if (!known) {
            bprintf(b, "%s\"%.*s\":%s", first ? "" : ",", (int)(eq - name), name, eq + 1);
            first = 0;
        }
    }
    bprintf(b, "}");
}

/* A snapshot whose legs are [good leg with flight 81, leg with leg_ov], with top_ov on the document. */
static void build_doc(buf_t *b, const char *top_ov, const char *leg_ov)
{
    buf_t legs = {0};
    bprintf(&legs, "[");
    build_object(&legs, good_leg, 7, "flight=81", NULL);
    bprintf(&legs, ",");
    build_object(&legs, good_leg, 7, leg_ov, NULL);
    bprintf(&legs, "]");
    b->len = 0;
    build_object(b, good_top, 4, top_ov, legs.p);
    free(legs.p);
}

typedef struct rule_case {
    const char *top, *leg, *expected_source;
    int64_t index;
    const char *field, *keyword;
} rule_case_t;

#define ECON "{\"seats\":9,\"miles\":35000,\"taxes_cents\":12345,\"currency\":\"BRL\"}"

static const rule_case_t rule_cases[] = {
    /* leg fields */
    {NULL, "carrier=\"T\"", NULL, 1, "carrier", "2-character airline code of A-Z and 0-9, got \"T\""},
    {NULL, "carrier=\"tp\"", NULL, 1, "carrier", "2-character"},
    {NULL, "carrier=82", NULL, 1, "carrier", "must be a string, got an integer"},
    {NULL, "carrier=null", NULL, 1, "carrier", "got null"},
    {NULL, "flight=0", NULL, 1, "flight", "must be between 1 and 9999, got 0"},
    {NULL, "flight=10000", NULL, 1, "flight", "got 10000"},
    {NULL, "flight=-1", NULL, 1, "flight", "got -1"},
    {NULL, "flight=82.5", NULL, 1, "flight", "fraction"},
    {NULL, "flight=8e1", NULL, 1, "flight", "exponent"},
    {NULL, "flight=\"82\"", NULL, 1, "flight", "must be an integer"},
    {NULL, "flight=[82]", NULL, 1, "flight", "got an array"},
    {NULL, "origin=\"gru\"", NULL, 1, "origin", "3-letter IATA airport code"},
    {NULL, "origin=\"GRUX\"", NULL, 1, "origin", "3-letter"},
    {NULL, "destination=\"GRU\"", NULL, 1, "destination", "same airport as origin (GRU)"},
    {NULL, "departs_at=\"2026-12-01 21:35\"", NULL, 1, "departs_at", "local time with UTC offset"},
    {NULL, "departs_at=\"2026-12-01T21:35:00\"", NULL, 1, "departs_at", "local time with UTC offset"},
    {NULL, "departs_at=\"2026-02-30T21:35:00-03:00\"", NULL, 1, "departs_at", "local time"},
    {NULL, "departs_at=\"2026-12-01T21:35:00-03:10\"", NULL, 1, "departs_at", "local time"},
    {NULL, "departs_at=\"2026-12-01T21:35:00+14:15\"", NULL, 1, "departs_at", "UTC offset must be between -12:00 and +14:00"},
    {NULL, "arrives_at=\"2026-12-02T11:05:00-12:15\"", NULL, 1, "arrives_at", "UTC offset must be between"},
    {NULL, "arrives_at=\"2026-12-01T20:00:00-03:00\"", NULL, 1, "arrives_at",
     "arrives before it departs (departs 2026-12-01T21:35-03:00, arrives 2026-12-01T20:00-03:00)"},
    {NULL, "arrives_at=\"2026-12-02T00:35:00Z\"", NULL, 1, "arrives_at", "arrives when it departs"},
    {NULL, "arrives_at=\"2026-12-03T03:35:00-03:00\"", NULL, 1, "arrives_at", "30h00m is too long; at most 29h59m"},
    {NULL, "cabins={}", NULL, 1, "cabins", "at least one cabin"},
    {NULL, "cabins=[]", NULL, 1, "cabins", "must be a map"},
    {NULL, "cabins={\"coach\":" ECON "}", NULL, 1, "cabins.coach", "unknown cabin"},
    {NULL, "cabins={\"economy\":" ECON ",\"economy\":" ECON "}", NULL, 1, "cabins.economy", "appears twice"},
    {NULL, "cabins={\"economy\":5}", NULL, 1, "cabins.economy", "must be a map"},
    {NULL, "cabins={\"first\":{\"seats\":100,\"miles\":1,\"taxes_cents\":0,\"currency\":\"EUR\"}}", NULL, 1, "cabins.first.seats",
     "must be between 0 and 99, got 100"},
    {NULL, "cabins={\"premium\":{\"seats\":1,\"miles\":0,\"taxes_cents\":0,\"currency\":\"EUR\"}}", NULL, 1, "cabins.premium.miles",
     "must be between 1 and 10000000, got 0"},
    {NULL, "cabins={\"economy\":{\"seats\":1,\"miles\":10000001,\"taxes_cents\":0,\"currency\":\"EUR\"}}", NULL, 1,
     "cabins.economy.miles", "got 10000001"},
    {NULL, "cabins={\"economy\":{\"seats\":1,\"miles\":5,\"taxes_cents\":-1,\"currency\":\"EUR\"}}", NULL, 1,
     "cabins.economy.taxes_cents", "must be between 0 and 100000000, got -1"},
    {NULL, "cabins={\"economy\":{\"seats\":1,\"miles\":5,\"taxes_cents\":100000001,\"currency\":\"EUR\"}}", NULL, 1,
     "cabins.economy.taxes_cents", "must be between 0 and 100000000, got 100000001"},
    {NULL, "cabins={\"economy\":{\"seats\":1,\"miles\":5,\"taxes_cents\":4294967296,\"currency\":\"EUR\"}}", NULL, 1,
     "cabins.economy.taxes_cents", "got 4294967296"},
    {NULL, "cabins={\"economy\":{\"seats\":1,\"miles\":5,\"taxes_cents\":0,\"currency\":\"eur\"}}", NULL, 1,
     "cabins.economy.currency", "3-letter ISO 4217"},
    {NULL, "cabins={\"economy\":{\"seats\":1,\"miles\":5,\"taxes_cents\":0}}", NULL, 1, "cabins.economy.currency",
     "required but missing"},
    {NULL, "cabins={\"economy\":{\"seats\":1,\"miles\":5,\"taxes_cents\":0,\"currency\":\"EUR\",\"points\":1}}", NULL, 1,
     "cabins.economy.points", "unknown field"},
    {NULL, "cabins={\"economy\":{\"seats\":1,\"seats\":2,\"miles\":5,\"taxes_cents\":0,\"currency\":\"EUR\"}}", NULL, 1,
     "cabins.economy.seats", "appears twice"},
    {NULL, "-carrier", NULL, 1, "carrier", "required but missing"},
    {NULL, "-cabins", NULL, 1, "cabins", "required but missing"},
    {NULL, "gate=\"A1\"", NULL, 1, "gate", "unknown field"},
    {NULL, "+flight=83", NULL, 1, "flight", "appears twice"},
    {NULL, "=5", NULL, 1, "", "must be a map, got an integer"},
    {NULL, "flight=81", NULL, 1, "key", "duplicate leg key TP81 GRU 2026-12-01 (first at index 0)"},
    {NULL, "flight=81|departs_at=\"2026-12-01T06:00:00-03:00\"", NULL, 1, "key", "(first at index 0)"},
    {NULL, "carrier=\"\\u0054\\u0050\\u0022\"", NULL, 1, "carrier", "got \"TP\"\""},
    {NULL, "carrier=\"\\u00e9T\"", NULL, 1, "carrier", "got \"??T\""},
    /* document fields */
    {"source=\"TAP\"", NULL, NULL, -1, "source", "must match [a-z0-9_-]{1,32}, got \"TAP\""},
    {"source=\"\"", NULL, NULL, -1, "source", "must match"},
    {"source=\"abcdefghijabcdefghijabcdefghijabc\"", NULL, NULL, -1, "source", "must match"},
    {"source=7", NULL, NULL, -1, "source", "must be a string"},
    {"-source", NULL, NULL, -1, "source", "required but missing"},
    {"+source=\"tap\"", NULL, NULL, -1, "source", "appears twice"},
    {NULL, NULL, "azul", -1, "source", "is \"tap\" but this push is for source \"azul\""},
    {"sequence=0", NULL, NULL, -1, "sequence", "must be between 1 and 9223372036854775807, got 0"},
    {"sequence=-5", NULL, NULL, -1, "sequence", "got -5"},
    {"sequence=\"42\"", NULL, NULL, -1, "sequence", "must be an integer"},
    {"-sequence", NULL, NULL, -1, "sequence", "required but missing"},
    {"generated_at=\"yesterday\"", NULL, NULL, -1, "generated_at", "UTC timestamp"},
    {"generated_at=\"2026-11-21T20:00Z\"", NULL, NULL, -1, "generated_at", "UTC timestamp"},
    {"-generated_at", NULL, NULL, -1, "generated_at", "required but missing"},
    {"extra=1", NULL, NULL, -1, "extra", "unknown field"},
    {"upsert=[]", NULL, NULL, -1, "upsert", "unknown field"},
    {"legs={}", NULL, NULL, -1, "legs", "must be an array"},
    {"-legs", NULL, NULL, -1, "legs", "required but missing"},
};

static void test_rules(void)
{
    buf_t b = {0};
    fs_feed_errors_t errs;
    fs_feed_header_t h;
    coll_t c = {0};

    /* The base document itself is valid, with both legs. */
    build_doc(&b, NULL, NULL);
    CHECK_EQ_INT(decode_copy(b.p, b.len, FS_FEED_JSON, FS_FEED_SNAPSHOT, "tap", &h, &c, &errs), 0);
    CHECK_EQ_INT(c.n, 2);
    coll_reset(&c);

    /* 29h59m is the longest flight accepted. */
    build_doc(&b, NULL, "arrives_at=\"2026-12-03T03:34:00-03:00\"");
    CHECK_EQ_INT(decode_copy(b.p, b.len, FS_FEED_JSON, FS_FEED_SNAPSHOT, "tap", &h, &c, &errs), 0);
    coll_reset(&c);

    for (size_t i = 0; i < sizeof(rule_cases) / sizeof(rule_cases[0]); i++) {
        const rule_case_t *t = &rule_cases[i];
        build_doc(&b, t->top, t->leg);
        int r =
            decode_copy(b.p, b.len, FS_FEED_JSON, FS_FEED_SNAPSHOT, t->expected_source ? t->expected_source : "tap", &h, &c, &errs);
        int ok = r == FS_EINVAL && !errs.malformed && errs.total == 1 && errs.count == 1 && errs.e[0].index == t->index &&
                 strcmp(errs.e[0].field, t->field) == 0 && strstr(errs.e[0].reason, t->keyword) != NULL;
        if (!ok) {
            fprintf(stderr, "rule case %zu (%s / %s): r=%d malformed=%d total=%" PRIu64 "\n", i, t->top ? t->top : "-",
                    t->leg ? t->leg : "-", r, errs.malformed, errs.total);
            for (unsigned k = 0; k < errs.count; k++)
                fprintf(stderr, "   [%" PRId64 "] %s: %s\n", errs.e[k].index, errs.e[k].field, errs.e[k].reason);
        }
        CHECK(ok);
        /* The sink stops at the first problem: the bad leg never reaches it. (A problem found
         * after the legs, such as an unknown key behind them, comes too late to hold them back;
         * the caller drops what it got when the push is refused.) */
        if (t->index >= 0)
            CHECK(c.n <= 1);
        coll_reset(&c);
    }
    free(b.p);
}

/* More than FS_FEED_MAX_ERRORS bad legs: 20 listed, all counted, none sunk. */
static void test_many_errors(void)
{
    buf_t b = {0}, legs = {0};
    fs_feed_errors_t errs;
    fs_feed_header_t h;
    coll_t c = {0};
    enum { N = 57 };

    bprintf(&legs, "[");
    for (int i = 0; i < N; i++) {
        char ov[64];
        snprintf(ov, sizeof(ov), "flight=%d", i == 0 ? 1 : 0);
        if (i)
            bprintf(&legs, ",");
        build_object(&legs, good_leg, 7, ov, NULL);
    }
    bprintf(&legs, "]");
    build_object(&b, good_top, 4, NULL, legs.p);
    CHECK_EQ_INT(decode_copy(b.p, b.len, FS_FEED_JSON, FS_FEED_SNAPSHOT, NULL, &h, &c, &errs), FS_EINVAL);
    CHECK_EQ_INT(errs.malformed, 0);
    CHECK_EQ_INT(errs.count, FS_FEED_MAX_ERRORS);
    CHECK_EQ_INT(errs.total, N - 1);
    CHECK_EQ_INT(errs.e[0].index, 1);
    CHECK_EQ_INT(errs.e[19].index, 20);
    CHECK_EQ_STR(errs.e[19].field, "flight");
    CHECK_EQ_INT(c.n, 1); /* leg 0 went to the sink before the first problem */
    free(b.p);
    free(legs.p);
    coll_reset(&c);
}

/* -------------------------------------------------------- malformed */

typedef struct malformed_case {
    const char *doc;
    const char *field, *keyword;
} malformed_case_t;

static const malformed_case_t json_malformed[] = {
    {"", "", "truncated"},
    {"  \n ", "", "truncated"},
    {"[]", "", "the document must be a map, got an array"},
    {"\"legs\"", "", "must be a map"},
    {"{", "", "truncated"},
    {"{\"source\":\"tap\",}", "", "expected a string key, got '}'"},
    {"{,\"source\":\"tap\"}", "", "expected a string key"},
    {"{\"source\":'tap'}", "source", "expected a value"},
    {"{\"source\" \"tap\"}", "", "expected ':'"},
    {"{\"sequence\":NaN}", "sequence", "expected a value"},
    {"{\"sequence\":Infinity}", "sequence", "expected a value"},
    {"{\"sequence\":+1}", "sequence", "expected a value"},
    {"{\"sequence\":.5}", "sequence", "expected a value"},
    {"{\"sequence\":01}", "", "expected ',' or '}', got '1'"},
    {"{\"sequence\":1.}", "sequence", "a digit after '.'"},
    {"{\"sequence\":-}", "sequence", "expected a digit"},
    {"{\"sequence\":18446744073709551616}", "sequence", "integer out of range at byte 12"},
    {"{\"sequence\":-9223372036854775809}", "sequence", "out of range"},
    {"{\"source\":tru}", "source", "expected a value"},
    {"{\"source\":nul", "source", "truncated"},
    {"{} x", "", "expected the end of the document, got 'x' at byte 3"},
    {"{}{}", "", "expected the end of the document"},
    {"{\"source\":\"ta\x01p\"}", "source", "unescaped control character"},
    {"{\"source\":\"ta\np\"}", "source", "unescaped control character"},
    {"{\"source\":\"ta\\qp\"}", "source", "invalid escape"},
    {"{\"source\":\"\\u12\"}", "source", "4 hex digits"},
    {"{\"source\":\"tap", "source", "unterminated string"},
    {"/* c */{}", "", "expected a value"},
    {"{} // c", "", "expected the end of the document"},
    {"\xef\xbb\xbf{}", "", "expected a value, got byte 0xef"},
    {"{\"legs\":[{\"carrier\":\"TP\" \"flight\":1}]}", "legs[0]", "expected ',' or '}'"},
    {"{\"legs\":[{},]}", "legs[1]", "expected a value, got ']'"},
    {"{\"legs\":[{}}", "legs", "expected ',' or ']'"},
    {"{\"legs\":[{\"cabins\":{\"economy\":{\"miles\":1e}}}]}", "legs[0].cabins.economy.miles", "a digit in the exponent"},
    {"{\"legs\":[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]}", "legs[0]", "nesting deeper than 16"},
};

static void check_malformed(const char *what, size_t i, int r, const fs_feed_errors_t *errs, const char *field, const char *keyword)
{
    int ok = r == FS_EINVAL && errs->malformed == 1 && errs->count == 1 && errs->total == 1 && errs->e[0].index == -1 &&
             (field == NULL || strcmp(errs->e[0].field, field) == 0) &&
             (keyword == NULL || strstr(errs->e[0].reason, keyword) != NULL) && strstr(errs->e[0].reason, " at byte ") != NULL;
    if (!ok)
        fprintf(stderr, "%s %zu: r=%d malformed=%d count=%u field=\"%s\" reason=\"%s\"\n", what, i, r, errs->malformed, errs->count,
                errs->count ? errs->e[0].field : "", errs->count ? errs->e[0].reason : "");
    CHECK(ok);
}

static void test_json_malformed(void)
{
    fs_feed_errors_t errs;
    fs_feed_header_t h;
    coll_t c = {0};

    for (size_t i = 0; i < sizeof(json_malformed) / sizeof(json_malformed[0]); i++) {
        const malformed_case_t *t = &json_malformed[i];
        int r = decode_copy(t->doc, strlen(t->doc), FS_FEED_JSON, FS_FEED_SNAPSHOT, NULL, &h, &c, &errs);
        check_malformed("json malformed", i, r, &errs, t->field, t->keyword);
        coll_reset(&c);
    }

    /* 1000-deep nesting refused at depth 17, without recursion to 1000. */
    buf_t b = {0};
    bprintf(&b, "{\"legs\":");
    for (int i = 0; i < 1000; i++)
        bprintf(&b, "[");
    for (int i = 0; i < 1000; i++)
        bprintf(&b, "]");
    bprintf(&b, "}");
    int r = decode_copy(b.p, b.len, FS_FEED_JSON, FS_FEED_SNAPSHOT, NULL, &h, &c, &errs);
    check_malformed("json deep", 0, r, &errs, NULL, "nesting deeper than 16 objects and arrays at byte 23");
    free(b.p);

    /* Every prefix of a valid document is malformed, and read within its bounds. */
    b = (buf_t){0};
    build_doc(&b, NULL, NULL);
    unsigned bad = 0;
    for (size_t cut = 0; cut < b.len; cut++) {
        r = decode_copy(b.p, cut, FS_FEED_JSON, FS_FEED_SNAPSHOT, NULL, &h, &c, &errs);
        if (r != FS_EINVAL || !errs.malformed)
            bad++;
        coll_reset(&c);
    }
    CHECK_EQ_INT(bad, 0);

    /* Random byte flips: whatever the outcome, a clean one (ASan watches the reads). */
    unsigned odd = 0;
    static const char alphabet[] = "{}[],:\"\\ 0123456789-.eEtfnu\x01\x7f\xff";
    for (int i = 0; i < 3000; i++) {
        char *copy = malloc(b.len);
        memcpy(copy, b.p, b.len);
        for (int k = 0; k < 1 + (int)below(3); k++)
            copy[below((unsigned)b.len)] = alphabet[below(sizeof(alphabet) - 1)];
        r = decode_copy(copy, b.len, FS_FEED_JSON, FS_FEED_SNAPSHOT, NULL, &h, &c, &errs);
        if (!(r == 0 || r == FS_EINVAL) || (r == FS_EINVAL && errs.count == 0) || errs.count > FS_FEED_MAX_ERRORS)
            odd++;
        free(copy);
        coll_reset(&c);
    }
    CHECK_EQ_INT(odd, 0);
    free(b.p);
}

/* A small valid msgpack snapshot (one leg), built by hand around msgpack-c's packer. */
static void small_msgpack(msgpack_sbuffer *sb)
{
    tleg_t t;
    gen_leg(&t, 5);
    build_msgpack(sb, &t, 1, 0);
}

static void test_msgpack_hostile(void)
{
    fs_feed_errors_t errs;
    fs_feed_header_t h;
    coll_t c = {0};
    int r;

    /* array32 claiming 0xFFFFFFFF elements, top level and as "legs". */
    static const uint8_t a32[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5};
    r = decode_copy(a32, sizeof(a32), FS_FEED_MSGPACK, FS_FEED_SNAPSHOT, NULL, &h, &c, &errs);
    check_malformed("array32", 0, r, &errs, "", "array claims 4294967295 elements but only 5 bytes remain at byte 0");
    static const uint8_t a32legs[] = {0x81, 0xa4, 'l', 'e', 'g', 's', 0xdd, 0xff, 0xff, 0xff, 0xff, 0x80};
    r = decode_copy(a32legs, sizeof(a32legs), FS_FEED_MSGPACK, FS_FEED_SNAPSHOT, NULL, &h, &c, &errs);
    check_malformed("array32 legs", 0, r, &errs, "legs", "array claims 4294967295 elements but only 1 bytes remain at byte 6");
    static const uint8_t m32[] = {0xdf, 0x80, 0x00, 0x00, 0x00, 0xa1, 'a', 1};
    r = decode_copy(m32, sizeof(m32), FS_FEED_MSGPACK, FS_FEED_SNAPSHOT, NULL, &h, &c, &errs);
    check_malformed("map32", 0, r, &errs, "", "map claims 2147483648 entries");
    /* A map of n entries needs 2n bytes: 3 entries in 5 bytes is a lie. */
    static const uint8_t m3[] = {0x83, 0xa1, 'a', 1, 0xa1, 'b'};
    r = decode_copy(m3, sizeof(m3), FS_FEED_MSGPACK, FS_FEED_SNAPSHOT, NULL, &h, &c, &errs);
    check_malformed("fixmap", 0, r, &errs, "", "map claims 3 entries but only 5 bytes remain");

    /* str32 claiming 4 GB. */
    static const uint8_t s32[] = {0x81, 0xa6, 's', 'o', 'u', 'r', 'c', 'e', 0xdb, 0xff, 0xff, 0xff, 0xff, 't', 'a', 'p'};
    r = decode_copy(s32, sizeof(s32), FS_FEED_MSGPACK, FS_FEED_SNAPSHOT, NULL, &h, &c, &errs);
    check_malformed("str32", 0, r, &errs, "source", "a string needs 4294967295 bytes, 3 remain at byte 8");
    /* bin32 and ext32 the same. */
    static const uint8_t b32[] = {0x81, 0xa6, 's', 'o', 'u', 'r', 'c', 'e', 0xc6, 0xff, 0xff, 0xff, 0xff, 't'};
    r = decode_copy(b32, sizeof(b32), FS_FEED_MSGPACK, FS_FEED_SNAPSHOT, NULL, &h, &c, &errs);
    check_malformed("bin32", 0, r, &errs, "source", "truncated");
    static const uint8_t e32[] = {0x81, 0xa6, 's', 'o', 'u', 'r', 'c', 'e', 0xc9, 0xff, 0xff, 0xff, 0xff, 't'};
    r = decode_copy(e32, sizeof(e32), FS_FEED_MSGPACK, FS_FEED_SNAPSHOT, NULL, &h, &c, &errs);
    check_malformed("ext32", 0, r, &errs, "source", "truncated");
    /* A key that is not a string; the reserved byte 0xc1; trailing bytes. */
    static const uint8_t intkey[] = {0x81, 0x01, 0x02};
    r = decode_copy(intkey, sizeof(intkey), FS_FEED_MSGPACK, FS_FEED_SNAPSHOT, NULL, &h, &c, &errs);
    check_malformed("int key", 0, r, &errs, "", "a map key is not a string at byte 1");
    static const uint8_t c1[] = {0x81, 0xa8, 's', 'e', 'q', 'u', 'e', 'n', 'c', 'e', 0xc1};
    r = decode_copy(c1, sizeof(c1), FS_FEED_MSGPACK, FS_FEED_SNAPSHOT, NULL, &h, &c, &errs);
    check_malformed("0xc1", 0, r, &errs, "sequence", "0xc1 is never used");
    static const uint8_t trailing[] = {0x80, 0x00};
    r = decode_copy(trailing, sizeof(trailing), FS_FEED_MSGPACK, FS_FEED_SNAPSHOT, NULL, &h, &c, &errs);
    check_malformed("trailing", 0, r, &errs, "", "1 trailing bytes after the document at byte 1");
    r = decode_copy("", 0, FS_FEED_MSGPACK, FS_FEED_SNAPSHOT, NULL, &h, &c, &errs);
    check_malformed("empty", 0, r, &errs, "", "truncated");
    r = fs_feed_decode(NULL, 0, FS_FEED_MSGPACK, FS_FEED_SNAPSHOT, NULL, &h, NULL, &errs);
    check_malformed("NULL body", 0, r, &errs, "", "truncated");

    /* 1000-deep nesting under "legs". */
    uint8_t deep[1100];
    size_t n = 0;
    memcpy(deep, (const uint8_t[]){0x81, 0xa4, 'l', 'e', 'g', 's'}, 6);
    n = 6;
    for (int i = 0; i < 1000; i++)
        deep[n++] = 0x91;
    deep[n++] = 0x01;
    r = decode_copy(deep, n, FS_FEED_MSGPACK, FS_FEED_SNAPSHOT, NULL, &h, &c, &errs);
    check_malformed("deep", 0, r, &errs, NULL, "nesting deeper than 16 maps and arrays at byte 21");
    coll_reset(&c);

    /* Every strict prefix of a valid document fails cleanly, the whole one passes. */
    msgpack_sbuffer sb;
    small_msgpack(&sb);
    unsigned bad = 0;
    for (size_t cut = 0; cut < sb.size; cut++) {
        r = decode_copy(sb.data, cut, FS_FEED_MSGPACK, FS_FEED_SNAPSHOT, NULL, &h, &c, &errs);
        if (r != FS_EINVAL || !errs.malformed || errs.count != 1)
            bad++;
        coll_reset(&c);
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(decode_copy(sb.data, sb.size, FS_FEED_MSGPACK, FS_FEED_SNAPSHOT, NULL, &h, &c, &errs), 0);
    CHECK_EQ_INT(c.n, 1);
    coll_reset(&c);

    /* Random byte flips: whatever the outcome, a clean one (ASan watches the reads). */
    unsigned odd = 0;
    for (int i = 0; i < 3000; i++) {
        uint8_t *copy = malloc(sb.size);
        memcpy(copy, sb.data, sb.size);
        for (int k = 0; k < 1 + (int)below(3); k++)
            copy[below((unsigned)sb.size)] = (uint8_t)rnd();
        r = decode_copy(copy, sb.size, FS_FEED_MSGPACK, FS_FEED_SNAPSHOT, NULL, &h, &c, &errs);
        if (!(r == 0 || r == FS_EINVAL) || (r == FS_EINVAL && errs.count == 0) || errs.count > FS_FEED_MAX_ERRORS)
            odd++;
        free(copy);
        coll_reset(&c);
    }
    CHECK_EQ_INT(odd, 0);
    msgpack_sbuffer_destroy(&sb);
}

/* msgpack encodings a packer may choose that JSON cannot express. */
static void test_msgpack_types(void)
{
    fs_feed_errors_t errs;
    fs_feed_header_t h;
    coll_t c = {0};
    msgpack_sbuffer sb;
    msgpack_packer pk;

    /* flight as int16 holding a positive value, seats as int8, miles as uint64: all accepted. The
     * second leg: flight a negative fixint, seats a float, carrier binary. */
    for (int variant = 0; variant < 2; variant++) {
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 4);
        pack_cstr(&pk, "source");
        pack_cstr(&pk, "tap");
        pack_cstr(&pk, "sequence");
        msgpack_pack_uint64(&pk, INT64_MAX); /* the largest sequence, as a uint64 */
        pack_cstr(&pk, "generated_at");
        pack_cstr(&pk, "2026-11-21T20:00:00Z");
        pack_cstr(&pk, "legs");
        msgpack_pack_array(&pk, 1);
        msgpack_pack_map(&pk, 7);
        pack_cstr(&pk, "carrier");
        if (variant)
            msgpack_pack_bin_with_body(&pk, "TP", 2);
        else
            pack_cstr(&pk, "TP");
        pack_cstr(&pk, "flight");
        /* msgpack-c packs non-negative ints as uint; write int16 0x0052 by hand. */
        if (variant)
            msgpack_pack_int8(&pk, -3);
        else
            msgpack_sbuffer_write(&sb, "\xd1\x00\x52", 3);
        pack_cstr(&pk, "origin");
        pack_cstr(&pk, "GRU");
        pack_cstr(&pk, "destination");
        pack_cstr(&pk, "LIS");
        pack_cstr(&pk, "departs_at");
        pack_cstr(&pk, "2026-12-01T21:35:00-03:00");
        pack_cstr(&pk, "arrives_at");
        pack_cstr(&pk, "2026-12-02T11:05:00+00:00");
        pack_cstr(&pk, "cabins");
        msgpack_pack_map(&pk, 1);
        pack_cstr(&pk, "economy");
        msgpack_pack_map(&pk, 4);
        pack_cstr(&pk, "seats");
        if (variant)
            msgpack_pack_double(&pk, 9.0);
        else
            msgpack_sbuffer_write(&sb, "\xd0\x09", 2);
        pack_cstr(&pk, "miles");
        msgpack_sbuffer_write(&sb, "\xcf\x00\x00\x00\x00\x00\x00\x88\xb8", 9); /* uint64 35000 */
        pack_cstr(&pk, "taxes_cents");
        msgpack_pack_uint32(&pk, 12345);
        pack_cstr(&pk, "currency");
        pack_cstr(&pk, "BRL");
        int r = decode_copy(sb.data, sb.size, FS_FEED_MSGPACK, FS_FEED_SNAPSHOT, NULL, &h, &c, &errs);
        if (variant == 0) {
            CHECK_EQ_INT(r, 0);
            CHECK_EQ_INT(h.sequence, INT64_MAX);
            CHECK_EQ_INT(c.n, 1);
            if (c.n == 1) {
                CHECK_EQ_INT(c.legs[0].flight, 82);
                CHECK_EQ_INT(c.legs[0].seats[0], 9);
                CHECK_EQ_INT(c.legs[0].fare[0].miles, 35000);
                CHECK_EQ_INT(c.legs[0].cabin_mask, 1);
                /* 2026-12-01T21:35-03:00 -> 2026-12-02T00:35Z; 2026-12-02T11:05Z: 10h30m. */
                CHECK_EQ_INT(c.legs[0].departs.day, t_days(2026, 12, 1));
                CHECK_EQ_INT(c.legs[0].departs.minute, 21 * 60 + 35);
                CHECK_EQ_INT(c.legs[0].departs.offset_min, -180);
                CHECK_EQ_INT(c.legs[0].arrives.day, t_days(2026, 12, 2));
                CHECK_EQ_INT(c.legs[0].arrives.minute, 11 * 60 + 5);
                CHECK_EQ_INT(c.legs[0].carrier, t_carrier_id("TP"));
                CHECK_EQ_INT(c.legs[0].origin, t_airport_id("GRU"));
                CHECK_EQ_INT(c.legs[0].destination, t_airport_id("LIS"));
            }
        } else {
            CHECK_EQ_INT(r, FS_EINVAL);
            CHECK_EQ_INT(errs.total, 3);
            CHECK_EQ_INT(c.n, 0);
            int seen = 0;
            for (unsigned k = 0; k < errs.count; k++) {
                if (strcmp(errs.e[k].field, "carrier") == 0 && strstr(errs.e[k].reason, "got binary data"))
                    seen |= 1;
                if (strcmp(errs.e[k].field, "flight") == 0 && strstr(errs.e[k].reason, "got -3"))
                    seen |= 2;
                if (strcmp(errs.e[k].field, "cabins.economy.seats") == 0 && strstr(errs.e[k].reason, "fraction"))
                    seen |= 4;
            }
            CHECK_EQ_INT(seen, 7);
        }
        coll_reset(&c);
        msgpack_sbuffer_destroy(&sb);
    }
}

/* ------------------------------------------------------------ header */

/* The header after the legs: last_seen still right; a bad header keeps the sink shut. */
static void test_header_last(int64_t generated_at)
{
    fs_feed_errors_t errs;
    fs_feed_header_t h;
    coll_t c = {0};
    buf_t b = {0}, legs = {0};

    bprintf(&legs, "[");
    build_object(&legs, good_leg, 7, NULL, NULL);
    bprintf(&legs, "]");

    b.len = 0;
    bprintf(&b, "{\"legs\":%s,\"generated_at\":\"2026-11-21T21:00:00+01:00\",\"sequence\":7,\"source\":\"tap\"}", legs.p);
    CHECK_EQ_INT(decode_copy(b.p, b.len, FS_FEED_JSON, FS_FEED_SNAPSHOT, "tap", &h, &c, &errs), 0);
    CHECK_EQ_INT(c.n, 1);
    CHECK_EQ_INT(c.n == 1 ? c.legs[0].last_seen : 0, generated_at);
    CHECK_EQ_INT(h.generated_at, generated_at);
    CHECK_EQ_INT(h.sequence, 7);
    coll_reset(&c);

    /* The wrong source, named after the legs: refused, and no leg reached the sink. */
    b.len = 0;
    bprintf(&b, "{\"sequence\":7,\"generated_at\":\"2026-11-21T20:00:00Z\",\"legs\":%s,\"source\":\"azul\"}", legs.p);
    CHECK_EQ_INT(decode_copy(b.p, b.len, FS_FEED_JSON, FS_FEED_SNAPSHOT, "tap", &h, &c, &errs), FS_EINVAL);
    CHECK_EQ_INT(c.n, 0);
    CHECK_EQ_INT(errs.total, 1);
    CHECK_EQ_STR(errs.e[0].field, "source");
    coll_reset(&c);

    /* No generated_at at all. */
    b.len = 0;
    bprintf(&b, "{\"source\":\"tap\",\"sequence\":7,\"legs\":%s}", legs.p);
    CHECK_EQ_INT(decode_copy(b.p, b.len, FS_FEED_JSON, FS_FEED_SNAPSHOT, "tap", &h, &c, &errs), FS_EINVAL);
    CHECK_EQ_INT(c.n, 0);
    CHECK_EQ_INT(errs.total, 1);
    CHECK_EQ_STR(errs.e[0].field, "generated_at");
    coll_reset(&c);

    /* An empty snapshot is valid. */
    b.len = 0;
    bprintf(&b, " {\"source\":\"tap\",\"sequence\":1,\"generated_at\":\"2026-11-21T20:00:00Z\",\"legs\":[ ]}\r\n");
    CHECK_EQ_INT(decode_copy(b.p, b.len, FS_FEED_JSON, FS_FEED_SNAPSHOT, NULL, &h, &c, &errs), 0);
    CHECK_EQ_INT(c.n, 0);
    CHECK_EQ_STR(h.source, "tap");

    /* Escaped keys and a string too long for the unescape buffer. */
    b.len = 0;
    bprintf(&b, "{\"sour\\u0063e\":\"t\\u0061p\",\"sequence\":1,\"generated_at\":\"2026-11-21T20:00:00Z\",\"legs\":[],"
                "\"x\":\"");
    for (int i = 0; i < 300; i++)
        bprintf(&b, "\\u0041");
    bprintf(&b, "\"}");
    CHECK_EQ_INT(decode_copy(b.p, b.len, FS_FEED_JSON, FS_FEED_SNAPSHOT, "tap", &h, &c, &errs), FS_EINVAL);
    CHECK_EQ_INT(errs.total, 1);
    CHECK_EQ_STR(errs.e[0].field, "x");
    CHECK_EQ_STR(h.source, "tap");
    b.len = 0;
    bprintf(&b, "{\"source\":\"");
    for (int i = 0; i < 300; i++)
        bprintf(&b, "\\u0061");
    bprintf(&b, "\",\"sequence\":1,\"generated_at\":\"2026-11-21T20:00:00Z\",\"legs\":[]}");
    CHECK_EQ_INT(decode_copy(b.p, b.len, FS_FEED_JSON, FS_FEED_SNAPSHOT, NULL, &h, &c, &errs), FS_EINVAL);
    CHECK_EQ_INT(errs.total, 1);
    CHECK(strstr(errs.e[0].reason, "too long (300 bytes)") != NULL);

    CHECK(fs_feed_source_valid("tap", 3));
    CHECK(fs_feed_source_valid("a-b_9", 5));
    CHECK(!fs_feed_source_valid("", 0));
    CHECK(!fs_feed_source_valid("Tap", 3));
    CHECK(!fs_feed_source_valid("ta p", 4));
    CHECK(fs_feed_source_valid("abcdefghijabcdefghijabcdefghijab", 32));
    CHECK(!fs_feed_source_valid("abcdefghijabcdefghijabcdefghijabc", 33));
    free(b.p);
    free(legs.p);
    coll_reset(&c);
}

/* ------------------------------------------------------------- deltas */

static void test_delta(int64_t generated_at)
{
    fs_feed_errors_t errs;
    fs_feed_header_t h;
    coll_t c = {0};
    buf_t b = {0};
    const char *head = "\"source\":\"tap\",\"sequence\":43,\"generated_at\":\"2026-11-21T20:00:00Z\"";

    bprintf(&b,
            "{%s,\"remove\":[{\"carrier\":\"TP\",\"flight\":82,\"origin\":\"GRU\",\"date\":\"2026-12-01\"},"
            "{\"date\":\"2027-01-31\",\"origin\":\"LIS\",\"flight\":9999,\"carrier\":\"2Z\"}],\"upsert\":[",
            head);
    build_object(&b, good_leg, 7, NULL, NULL);
    bprintf(&b, "]}");
    CHECK_EQ_INT(decode_copy(b.p, b.len, FS_FEED_JSON, FS_FEED_DELTA, "tap", &h, &c, &errs), 0);
    CHECK_EQ_INT(h.sequence, 43);
    CHECK_EQ_INT(c.n, 1);
    CHECK_EQ_INT(c.n ? c.legs[0].last_seen : 0, generated_at);
    CHECK_EQ_INT(c.nrm, 2);
    if (c.nrm == 2) {
        CHECK_EQ_INT(c.rmidx[1], 1);
        CHECK_EQ_INT(c.rm[0].carrier, t_carrier_id("TP"));
        CHECK_EQ_INT(c.rm[0].flight, 82);
        CHECK_EQ_INT(c.rm[0].origin, t_airport_id("GRU"));
        CHECK_EQ_INT(c.rm[0].day, t_days(2026, 12, 1));
        CHECK_EQ_INT(c.rm[1].carrier, t_carrier_id("2Z"));
        CHECK_EQ_INT(c.rm[1].flight, 9999);
        CHECK_EQ_INT(c.rm[1].origin, t_airport_id("LIS"));
        CHECK_EQ_INT(c.rm[1].day, t_days(2027, 1, 31));
    }
    coll_reset(&c);

    /* Both lists may be missing: a delta with nothing to do. */
    b.len = 0;
    bprintf(&b, "{%s}", head);
    CHECK_EQ_INT(decode_copy(b.p, b.len, FS_FEED_JSON, FS_FEED_DELTA, NULL, &h, &c, &errs), 0);

    /* Problems: duplicate removes, duplicate upserts, a bad remove, "legs" in a delta. The same key
     * in upsert and remove is allowed. */
    b.len = 0;
    bprintf(&b, "{%s,\"legs\":[],\"upsert\":[", head);
    build_object(&b, good_leg, 7, NULL, NULL);
    bprintf(&b, ",");
    build_object(&b, good_leg, 7, "flight=83|cabins={\"economy\":{\"seats\":1,\"miles\":0,\"taxes_cents\":0,\"currency\":\"EUR\"}}",
                 NULL);
    bprintf(&b, ",");
    build_object(&b, good_leg, 7, NULL, NULL);
    bprintf(&b, "],\"remove\":[{\"carrier\":\"TP\",\"flight\":82,\"origin\":\"GRU\",\"date\":\"2026-12-01\"},"
                "{\"carrier\":\"TP\",\"flight\":82,\"origin\":\"GRU\",\"date\":\"2026-12-02\"},"
                "{\"carrier\":\"TP\",\"flight\":82,\"origin\":\"GRU\",\"date\":\"2026-12-01\"},"
                "{\"carrier\":\"TP\",\"flight\":82,\"origin\":\"GRU\",\"date\":\"2026-02-29\",\"destination\":\"LIS\"},"
                "7]}");
    CHECK_EQ_INT(decode_copy(b.p, b.len, FS_FEED_JSON, FS_FEED_DELTA, NULL, &h, &c, &errs), FS_EINVAL);
    static const struct {
        int64_t index;
        const char *field, *keyword;
    } want[] = {
        {-1, "legs", "unknown field; a delta has"},
        {1, "upsert.cabins.economy.miles", "got 0"},
        {2, "upsert.key", "duplicate leg key TP82 GRU 2026-12-01 (first at index 0)"},
        {2, "remove.key", "duplicate leg key TP82 GRU 2026-12-01 (first at index 0)"},
        {3, "remove.date", "like 2026-12-01, got \"2026-02-29\""},
        {3, "remove.destination", "unknown field; a remove has"},
        {4, "remove", "must be a map, got an integer"},
    };
    CHECK_EQ_INT(errs.total, sizeof(want) / sizeof(want[0]));
    for (unsigned i = 0; i < errs.count && i < sizeof(want) / sizeof(want[0]); i++) {
        int ok = errs.e[i].index == want[i].index && strcmp(errs.e[i].field, want[i].field) == 0 &&
                 strstr(errs.e[i].reason, want[i].keyword) != NULL;
        if (!ok)
            fprintf(stderr, "delta error %u: [%" PRId64 "] %s: %s\n", i, errs.e[i].index, errs.e[i].field, errs.e[i].reason);
        CHECK(ok);
    }
    CHECK_EQ_INT(c.n + c.nrm, 0);
    coll_reset(&c);

    /* A remove missing its date; a snapshot's "legs" key refused in a delta even when empty. */
    b.len = 0;
    bprintf(&b, "{%s,\"remove\":[{\"carrier\":\"TP\",\"flight\":82,\"origin\":\"GRU\"}]}", head);
    CHECK_EQ_INT(decode_copy(b.p, b.len, FS_FEED_JSON, FS_FEED_DELTA, NULL, &h, &c, &errs), FS_EINVAL);
    CHECK_EQ_INT(errs.total, 1);
    CHECK_EQ_STR(errs.e[0].field, "remove.date");
    CHECK_EQ_INT(errs.e[0].index, 0);

    /* msgpack delta, malformed inside a remove: the path names the list and the record. */
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    pack_cstr(&pk, "remove");
    msgpack_pack_array(&pk, 2);
    msgpack_pack_map(&pk, 0);
    msgpack_pack_map(&pk, 1);
    pack_cstr(&pk, "flight");
    msgpack_sbuffer_write(&sb, "\xcd\x01", 2); /* uint16 cut short */
    CHECK_EQ_INT(decode_copy(sb.data, sb.size, FS_FEED_MSGPACK, FS_FEED_DELTA, NULL, &h, &c, &errs), FS_EINVAL);
    CHECK_EQ_INT(errs.malformed, 1);
    CHECK_EQ_STR(errs.e[0].field, "remove[1].flight");
    msgpack_sbuffer_destroy(&sb);
    free(b.p);
    coll_reset(&c);
}

/* ------------------------------------------------------- sink, errors */

static void test_sink_stop(void)
{
    enum { N = 10 };
    tleg_t legs[N];
    fs_feed_errors_t errs;
    fs_feed_header_t h;
    coll_t c = {0};
    msgpack_sbuffer sb;

    for (int i = 0; i < N; i++)
        gen_leg(&legs[i], (size_t)i);
    build_msgpack(&sb, legs, N, 0);
    c.fail_at = 3;
    CHECK_EQ_INT(decode_copy(sb.data, sb.size, FS_FEED_MSGPACK, FS_FEED_SNAPSHOT, NULL, &h, &c, &errs), FS_ENOMEM);
    CHECK_EQ_INT(c.n, 3); /* two taken, the third refused, no fourth call */
    coll_reset(&c);

    /* A sink with no callbacks validates only. */
    fs_feed_sink_t none = {NULL, NULL, NULL};
    CHECK_EQ_INT(fs_feed_decode((const uint8_t *)sb.data, sb.size, FS_FEED_MSGPACK, FS_FEED_SNAPSHOT, NULL, NULL, &none, NULL), 0);
    msgpack_sbuffer_destroy(&sb);
}

static void test_errors_json(void)
{
    fs_feed_errors_t errs;
    fs_feed_header_t h;
    coll_t c = {0};
    buf_t b = {0}, legs = {0};
    char out[8192];

    bprintf(&legs, "[");
    for (int i = 0; i < 5; i++) {
        char ov[64];
        snprintf(ov, sizeof(ov), "flight=%d%s", 100 + i, i == 3 ? "|carrier=\"T\\\"\"" : "");
        if (i)
            bprintf(&legs, ",");
        build_object(&legs, good_leg, 7, ov, NULL);
    }
    bprintf(&legs, "]");
    build_object(&b, good_top, 4, "sequence=0", legs.p);
    CHECK_EQ_INT(decode_copy(b.p, b.len, FS_FEED_JSON, FS_FEED_SNAPSHOT, NULL, &h, &c, &errs), FS_EINVAL);
    CHECK_EQ_INT(errs.total, 2);
    size_t n = fs_feed_errors_json(&errs, out, sizeof(out));
    CHECK_EQ_INT(n, strlen(out));
    CHECK(strstr(out, "{\"error\":{\"code\":\"invalid_feed\",\"message\":\"2 problems in the feed; the first 2 are listed; "
                      "nothing was applied\",\"errors\":[") == out);
    CHECK(strstr(out, "{\"index\":-1,\"field\":\"sequence\",\"reason\":\"must be between 1 and") != NULL);
    CHECK(strstr(out, "\"index\":3") != NULL);
    CHECK(strstr(out, "\"reason\":\"must be a 2-character airline code of A-Z and 0-9, got \\\"T\\\"\\\"\"}") != NULL);

    /* Well-formed JSON: our own strict reader walks it to the end. */
    fs_rd_t rd;
    fs_rd_init(&rd, FS_FEED_JSON, (const uint8_t *)out, n);
    CHECK_EQ_INT(fs_rd_skip(&rd), 0);
    CHECK_EQ_INT(fs_rd_finish(&rd), 0);

    /* Truncation: the full length is returned, the buffer holds a NUL-terminated prefix. */
    char small[16];
    CHECK_EQ_INT(fs_feed_errors_json(&errs, small, sizeof(small)), n);
    CHECK_EQ_INT(strlen(small), sizeof(small) - 1);
    CHECK(memcmp(small, out, sizeof(small) - 1) == 0);
    CHECK_EQ_INT(fs_feed_errors_json(&errs, NULL, 0), n);

    /* A malformed body; control characters in a reason are escaped. */
    CHECK_EQ_INT(decode_copy("[1]", 3, FS_FEED_JSON, FS_FEED_SNAPSHOT, NULL, &h, &c, &errs), FS_EINVAL);
    n = fs_feed_errors_json(&errs, out, sizeof(out));
    CHECK(strstr(out, "\"code\":\"malformed_feed\"") != NULL);
    CHECK(
        strstr(out,
               "\"errors\":[{\"index\":-1,\"field\":\"\",\"reason\":\"the document must be a map, got an array at byte 0\"}]}}") !=
        NULL);
    snprintf(errs.e[0].reason, sizeof(errs.e[0].reason), "tab\there \\ \x01");
    n = fs_feed_errors_json(&errs, out, sizeof(out));
    CHECK(strstr(out, "\"reason\":\"tab\\u0009here \\\\ \\u0001\"") != NULL);
    fs_rd_init(&rd, FS_FEED_JSON, (const uint8_t *)out, n);
    CHECK_EQ_INT(fs_rd_skip(&rd), 0);
    CHECK_EQ_INT(fs_rd_finish(&rd), 0);

    /* 57 problems: the message says how many are listed. */
    errs.malformed = 0;
    errs.total = 57;
    errs.count = 20;
    for (unsigned i = 0; i < 20; i++) {
        errs.e[i].index = i;
        snprintf(errs.e[i].field, sizeof(errs.e[i].field), "flight");
        snprintf(errs.e[i].reason, sizeof(errs.e[i].reason), "bad");
    }
    fs_feed_errors_json(&errs, out, sizeof(out));
    CHECK(strstr(out, "\"57 problems in the feed; the first 20 are listed; nothing was applied\"") != NULL);
    free(b.p);
    free(legs.p);
    coll_reset(&c);
}

/* -------------------------------------------------------------- bench */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void bench(size_t n, int shuffled)
{
    tleg_t *legs = malloc(n * sizeof(*legs));
    msgpack_sbuffer sb;
    buf_t b = {0};
    fs_feed_errors_t errs;
    fs_feed_header_t h;

    shuffle_keys = shuffled;
    for (size_t i = 0; i < n; i++)
        gen_leg(&legs[i], i);
    build_msgpack(&sb, legs, n, 0);
    build_json(&b, legs, n, 0, 0);
    for (int f = 0; f < 2; f++) {
        const void *body = f == 0 ? (const void *)sb.data : (const void *)b.p;
        size_t len = f == 0 ? sb.size : b.len;
        double best = 1e9;
        for (int run = 0; run < 5; run++) {
            coll_t c = {0};
            c.count_only = 1;
            fs_feed_sink_t sink = {sink_leg, sink_remove, &c};
            double t0 = now_s();
            int r = fs_feed_decode(body, len, f == 0 ? FS_FEED_MSGPACK : FS_FEED_JSON, FS_FEED_SNAPSHOT, NULL, &h, &sink, &errs);
            double t = now_s() - t0;
            if (r != 0 || c.n != n)
                fprintf(stderr, "bench decode failed: %d, %zu legs\n", r, c.n);
            if (t < best)
                best = t;
        }
        printf("bench %s, %s keys: %zu legs, %.1f MB, %.3f s, %.2f M legs/s, %.0f MB/s\n", f == 0 ? "msgpack" : "json",
               shuffled ? "shuffled" : "spec-ordered", n, len / 1e6, best, n / best / 1e6, len / best / 1e6);
    }
    msgpack_sbuffer_destroy(&sb);
    free(b.p);
    free(legs);
}

int main(int argc, char **argv)
{
    /* The test's own calendar agrees with itself and with the constant gen_leg uses. */
    CHECK_EQ_INT(t_days(2026, 1, 1), 20454);
    int y, m, d;
    t_civil(t_days(2028, 2, 29), &y, &m, &d);
    CHECK(y == 2028 && m == 2 && d == 29);
    int64_t generated_at = (int64_t)t_days(2026, 11, 21) * 86400 + 20 * 3600;

    if (argc == 3 && strcmp(argv[1], "--bench") == 0) {
        bench((size_t)strtoull(argv[2], NULL, 10), 0);
        bench((size_t)strtoull(argv[2], NULL, 10), 1);
        return 0;
    }
    test_oracle(generated_at);
    test_rules();
    test_many_errors();
    test_json_malformed();
    test_msgpack_hostile();
    test_msgpack_types();
    test_header_last(generated_at);
    test_delta(generated_at);
    test_sink_stop();
    test_errors_json();
    TEST_DONE();
}
