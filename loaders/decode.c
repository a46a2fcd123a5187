/*
 * loaders/decode.c: a feed body (msgpack or JSON, snapshot or delta) to validated records.
 *
 * One pass over the body through reader.h, written once for both formats. A record goes to the
 * sink as soon as its map closes and it passed every check, so nothing per leg is kept but its
 * key in the duplicate-key set (12 bytes a slot, grown by doubling as legs are seen; never sized
 * from a count the body claims). Once any problem is found the sink is called no more, but
 * validation runs to the end so that the total is right and the first FS_FEED_MAX_ERRORS
 * problems are listed.
 *
 * Header fields after a record list. Legs need last_seen = generated_at, and keys come in any
 * order. When a record list starts before source, sequence and generated_at have all been seen,
 * the decoder peeks: it copies the reader (plain data, no allocation), skips ahead through the
 * rest of the top-level map picking those fields up, and restores the copy. Producers that write
 * the header first pay nothing; the others pay one skip over the records. If the peek finds the
 * header missing or bad, the sink stays off (the main pass then reports the problem in place).
 *
 * Error fields (fs_feed_error_t.field), one scheme everywhere:
 *   document fields    index -1, field = the key: "source", "sequence", "generated_at", "legs",
 *                      or an unknown key as it appeared (non-printable bytes shown as '?').
 *   record fields      index = position in the record's list, field = path inside the record:
 *                      "departs_at", "cabins.economy.miles", "" for the record as a whole, and
 *                      "key" for a duplicate leg key. In a delta the path is prefixed with the
 *                      list's name, "upsert.cabins.economy.miles", "remove.date" ("upsert" or
 *                      "remove" alone for the record as a whole), because an index alone would
 *                      not say which list. A snapshot has one list, so no prefix (as in the
 *                      example of loaders.h).
 *   malformed body     one error, index -1, field = where the reader was, record index in
 *                      brackets: "legs[12].cabins.economy.miles", "remove[3]", "sequence", or ""
 *                      outside any field; the reason ends with "at byte N".
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loaders/loaders.h"
#include "loaders/reader.h"

/* ------------------------------------------------------ duplicate keys */

/* Open addressing, linear probing, at most 3/4 full. Slot 0 means empty: no key is 0, because a
 * key is only added once its flight (1..9999, bits 32..45) parsed. Removes are tagged with bit
 * 63, which fs_leg_key never sets, so one set serves both lists of a delta. */
typedef struct keyset {
    uint64_t *keys;
    uint32_t *first; /* index of the record that brought the key, saturated at UINT32_MAX */
    size_t cap, count;
} keyset_t;

#define KEY_REMOVE_TAG (UINT64_C(1) << 63)

static inline uint64_t keyset_hash(uint64_t key)
{
    return fs_hash64(&key, sizeof(key));
}

static int keyset_grow(keyset_t *s)
{
    size_t cap = s->cap != 0 ? s->cap * 2 : 1024;
    if (cap < s->cap || cap > SIZE_MAX / sizeof(uint64_t))
        return FS_ENOMEM;
    uint64_t *keys = calloc(cap, sizeof(*keys));
    uint32_t *first = malloc(cap * sizeof(*first));

    if (keys == NULL || first == NULL) {
        free(keys);
        free(first);
        return FS_ENOMEM;
    }
    for (size_t i = 0; i < s->cap; i++) {
        if (s->keys[i] == 0)
            continue;
        size_t j = (size_t)keyset_hash(s->keys[i]) & (cap - 1);
        while (keys[j] != 0)
            j = (j + 1) & (cap - 1);
        keys[j] = s->keys[i];
        first[j] = s->first[i];
    }
    free(s->keys);
    free(s->first);
    s->keys = keys;
    s->first = first;
    s->cap = cap;
    return 0;
}

/* The probe of a big set is a cache miss (a 1M-leg feed has a 16 MB set): without this, perf put
 * ~15% of the 1M-leg msgpack bench on that one load. decode_record asks for the slot as soon as a
 * record's key is known and probes after the rest (usually the cabins) is parsed; that took the
 * bench from ~1.5M to ~1.75M legs/s on a busy 2-core VM, where timings vary by 10-20%. */
static inline void keyset_prefetch(const keyset_t *s, uint64_t hash)
{
    if (s->cap != 0)
        __builtin_prefetch(&s->keys[hash & (s->cap - 1)]);
}

/* 0: added; 1: already there (*first says where); FS_ENOMEM. */
static int keyset_add(keyset_t *s, uint64_t key, uint64_t hash, uint64_t index, uint64_t *first)
{
    int r;

    if ((s->count + 1) * 4 > s->cap * 3 && (r = keyset_grow(s)) < 0)
        return r;
    size_t j = (size_t)hash & (s->cap - 1);
    while (s->keys[j] != 0) {
        if (s->keys[j] == key) {
            *first = s->first[j];
            return 1;
        }
        j = (j + 1) & (s->cap - 1);
    }
    s->keys[j] = key;
    s->first[j] = index > UINT32_MAX ? UINT32_MAX : (uint32_t)index;
    s->count++;
    return 0;
}

/* ----------------------------------------------------------- the state */

enum { T_SOURCE, T_SEQUENCE, T_GENERATED_AT, T_LEGS, T_UPSERT, T_REMOVE, T_COUNT };
static const char *const top_names[T_COUNT] = {"source", "sequence", "generated_at", "legs", "upsert", "remove"};
#define HEADER_BITS (1u << T_SOURCE | 1u << T_SEQUENCE | 1u << T_GENERATED_AT)

enum { L_CARRIER, L_FLIGHT, L_ORIGIN, L_DESTINATION, L_DEPARTS_AT, L_ARRIVES_AT, L_CABINS, L_DATE, L_COUNT };
static const char *const leg_names[L_COUNT] = {"carrier",    "flight",     "origin", "destination",
                                               "departs_at", "arrives_at", "cabins", "date"};
#define LEG_BITS 0x7fu /* carrier .. cabins */
#define REMOVE_BITS (1u << L_CARRIER | 1u << L_FLIGHT | 1u << L_ORIGIN | 1u << L_DATE)

enum { C_SEATS, C_MILES, C_TAXES_CENTS, C_CURRENCY, C_COUNT };
static const char *const cabin_field_names[C_COUNT] = {"seats", "miles", "taxes_cents", "currency"};

typedef struct dec {
    fs_rd_t rd;
    fs_feed_kind_t kind;
    const char *expected_source;
    const fs_feed_sink_t *sink;
    fs_feed_errors_t *errs;
    fs_feed_header_t hdr;
    unsigned top_seen; /* T_* bits */
    int peeked;
    int hold; /* the peek found the header missing or bad: keep the sink off */
    int64_t last_seen;
    int stop_rc;        /* nonzero: stop with this code (the sink's, or FS_ENOMEM) */
    const char *prefix; /* "" in a snapshot, "upsert" or "remove" in a delta */
    keyset_t keys;
    /* Where the reader is, only for the path of a malformed-body error. */
    const char *at_top;
    int64_t at_index;
    const char *at_field, *at_cabin, *at_sub;
} dec_t;

/* Internal "stop now" return; fs_feed_decode turns it into the reader's, sink's or ENOMEM code. */
#define STOP (-1)

static int sink_open(const dec_t *d)
{
    return d->errs->total == 0 && !d->hold;
}

/* ------------------------------------------------------------ reporting */

static const char *type_name(fs_rd_type_t t)
{
    switch (t) {
    case FS_RD_MAP:
        return "a map";
    case FS_RD_ARRAY:
        return "an array";
    case FS_RD_STR:
        return "a string";
    case FS_RD_UINT:
    case FS_RD_INT:
        return "an integer";
    case FS_RD_FLOAT:
        return "a number with a fraction or exponent";
    case FS_RD_BOOL:
        return "a boolean";
    case FS_RD_NIL:
        return "null";
    default:
        return "binary data";
    }
}

/* A string from the body, fit for a reason or a field: printable ASCII only (others as '?', so
 * the JSON answer stays valid UTF-8), cut to cap-1 bytes with "..." when longer. */
static const char *clean(char *out, size_t cap, fs_rd_str_t s)
{
    size_t room = cap - 1, keep = s.len;

    if (s.p == NULL) {
        snprintf(out, cap, "(%zu bytes)", s.len);
        return out;
    }
    if (keep > room)
        keep = room - 3;
    for (size_t i = 0; i < keep; i++) {
        unsigned char c = (unsigned char)s.p[i];
        out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?'; /* NOLINT(bugprone-narrowing-conversions): 0x20..0x7e or '?' */
    }
    if (keep < s.len)
        memcpy(out + keep, "...", 3);
    out[keep < s.len ? keep + 3 : keep] = '\0';
    return out;
}

/* clean(), in double quotes. */
static const char *quote(char *out, size_t cap, fs_rd_str_t s)
{
    char tmp[40];

    clean(tmp, cap - 2 < sizeof(tmp) ? cap - 2 : sizeof(tmp), s);
    snprintf(out, cap, "\"%s\"", tmp);
    return out;
}

/*
 * Counts a problem and, while there is room, records it. index < 0: a document field, named by
 * field. Else a record field: cabin NULL for "<prefix>.<field>", or "<prefix>.cabins.<cabin>" then
 * ".<field>" when field is not NULL. The reason is formatted only when it is kept, so a feed with
 * millions of bad legs costs a counter increment per problem past the first 20.
 */
__attribute__((format(printf, 5, 6))) static void report(dec_t *d, int64_t index, const char *cabin, const char *field,
                                                         const char *fmt, ...)
{
    fs_feed_errors_t *e = d->errs;
    va_list ap;

    e->total++;
    if (e->count >= FS_FEED_MAX_ERRORS)
        return;
    fs_feed_error_t *x = &e->e[e->count++];
    const char *dot = d->prefix[0] != '\0' ? "." : "";
    x->index = index;
    if (index < 0)
        snprintf(x->field, sizeof(x->field), "%s", field);
    else if (cabin == NULL)
        snprintf(x->field, sizeof(x->field), "%s%s%s", d->prefix, field[0] != '\0' ? dot : "", field);
    else
        snprintf(x->field, sizeof(x->field), "%s%scabins.%s%s%s", d->prefix, dot, cabin, field != NULL ? "." : "",
                 field != NULL ? field : "");
    va_start(ap, fmt);
    vsnprintf(x->reason, sizeof(x->reason), fmt, ap);
    va_end(ap);
}

/* The path of a malformed-body error, from the at_* breadcrumbs. */
static void malformed_path(const dec_t *d, char *out, size_t cap)
{
    size_t n = 0;

    out[0] = '\0';
    if (d->at_top == NULL)
        return;
    if (d->at_index >= 0)
        n = (size_t)snprintf(out, cap, "%s[%" PRId64 "]", d->at_top, d->at_index);
    else
        n = (size_t)snprintf(out, cap, "%s", d->at_top);
    if (d->at_field != NULL && n < cap)
        n += (size_t)snprintf(out + n, cap - n, ".%s", d->at_field);
    if (d->at_cabin != NULL && n < cap)
        n += (size_t)snprintf(out + n, cap - n, ".%s", d->at_cabin);
    if (d->at_sub != NULL && n < cap)
        snprintf(out + n, cap - n, ".%s", d->at_sub);
}

/* "2026-12-01T21:35-03:00": how an operator wrote it, minus the seconds we dropped. */
static const char *format_time(char *out, size_t cap, fs_localtime_t t)
{
    int32_t y;
    unsigned m, day;
    int off = t.offset_min < 0 ? -t.offset_min : t.offset_min;

    fs_civil_from_days(t.day, &y, &m, &day);
    snprintf(out, cap, "%04d-%02u-%02uT%02u:%02u%c%02d:%02d", (int)y, m, day, t.minute / 60u, t.minute % 60u,
             t.offset_min < 0 ? '-' : '+', off / 60, off % 60);
    return out;
}

/* -------------------------------------------------------- typed values */

/* The slow halves of get_str and get_uint: v is not what the schema wants. Reports it, skips the
 * rest of it, returns 0 (or < 0 to stop). Out of line, so the fast halves stay small enough to
 * inline into every field. */
__attribute__((cold, noinline)) static int not_a_str(dec_t *d, int64_t index, const char *cabin, const char *field,
                                                     const fs_rd_val_t *v)
{
    if (v->type == FS_RD_STR)
        report(d, index, cabin, field, "is too long (%zu bytes)", v->v.str.len);
    else
        report(d, index, cabin, field, "must be a string, got %s", type_name(v->type));
    int r = fs_rd_skip_rest(&d->rd, v);
    return r < 0 ? r : 0; /* never 1: the callers' 1 means *out was written */
}

__attribute__((cold, noinline)) static int not_a_uint(dec_t *d, int64_t index, const char *cabin, const char *field, uint64_t min,
                                                      uint64_t max, const fs_rd_val_t *v)
{
    if (v->type == FS_RD_UINT)
        report(d, index, cabin, field, "must be between %" PRIu64 " and %" PRIu64 ", got %" PRIu64, min, max, v->v.u);
    else if (v->type == FS_RD_INT)
        report(d, index, cabin, field, "must be between %" PRIu64 " and %" PRIu64 ", got %" PRId64, min, max, v->v.i);
    else
        report(d, index, cabin, field, "must be an integer between %" PRIu64 " and %" PRIu64 ", got %s", min, max,
               type_name(v->type));
    int r = fs_rd_skip_rest(&d->rd, v);
    return r < 0 ? r : 0; /* never 1: the callers' 1 means *out was written */
}

/* The next value as a string. 1: in *out; 0: something else (reported, skipped); < 0: stop.
 * The fields are copied one by one on purpose: a 16-byte copy of the two 8-byte stores the reader
 * just made defeats store-to-load forwarding, and perf put most of get_str's samples on that load. */
static inline int get_str(dec_t *d, int64_t index, const char *cabin, const char *field, fs_rd_str_t *out)
{
    fs_rd_val_t v;
    int r;

    if ((r = fs_rd_read(&d->rd, &v)) < 0)
        return r;
    if (v.type != FS_RD_STR || v.v.str.p == NULL)
        return not_a_str(d, index, cabin, field, &v);
    out->p = v.v.str.p;
    out->len = v.v.str.len;
    return 1;
}

/* The next value as an integer in [min, max]. Same returns as get_str. */
static inline int get_uint(dec_t *d, int64_t index, const char *cabin, const char *field, uint64_t min, uint64_t max, uint64_t *out)
{
    fs_rd_val_t v;
    int r;

    if ((r = fs_rd_read(&d->rd, &v)) < 0)
        return r;
    if (v.type != FS_RD_UINT || v.v.u < min || v.v.u > max)
        return not_a_uint(d, index, cabin, field, min, max, &v);
    *out = v.v.u;
    return 1;
}

/* Skips the value of a key that was refused (unknown or repeated). */
static int skip_value(dec_t *d)
{
    return fs_rd_skip(&d->rd);
}

/* ------------------------------------------------------------- records */

static int leg_field(fs_rd_str_t k)
{
    switch (k.len) {
    case 4:
        return memcmp(k.p, "date", 4) == 0 ? L_DATE : -1;
    case 6:
        if (memcmp(k.p, "flight", 6) == 0)
            return L_FLIGHT;
        if (memcmp(k.p, "origin", 6) == 0)
            return L_ORIGIN;
        return memcmp(k.p, "cabins", 6) == 0 ? L_CABINS : -1;
    case 7:
        return memcmp(k.p, "carrier", 7) == 0 ? L_CARRIER : -1;
    case 10:
        if (memcmp(k.p, "departs_at", 10) == 0)
            return L_DEPARTS_AT;
        return memcmp(k.p, "arrives_at", 10) == 0 ? L_ARRIVES_AT : -1;
    case 11:
        return memcmp(k.p, "destination", 11) == 0 ? L_DESTINATION : -1;
    default:
        return -1;
    }
}

static int cabin_field(fs_rd_str_t k)
{
    switch (k.len) {
    case 5:
        if (memcmp(k.p, "seats", 5) == 0)
            return C_SEATS;
        return memcmp(k.p, "miles", 5) == 0 ? C_MILES : -1;
    case 8:
        return memcmp(k.p, "currency", 8) == 0 ? C_CURRENCY : -1;
    case 11:
        return memcmp(k.p, "taxes_cents", 11) == 0 ? C_TAXES_CENTS : -1;
    default:
        return -1;
    }
}

/* One cabin's map. 1: valid and stored in leg; 0: reported; < 0: stop. */
static int decode_cabin(dec_t *d, int64_t index, int c, fs_leg_in_t *leg)
{
    const char *name = fs_cabin_names[c];
    char buf[48], q[48];
    unsigned seen = 0, ok = 0;
    fs_rd_val_t v;
    fs_rd_str_t k, s;
    uint64_t u;
    int r;

    if ((r = fs_rd_read(&d->rd, &v)) < 0)
        return r;
    if (v.type != FS_RD_MAP) {
        report(d, index, name, NULL, "must be a map of seats, miles, taxes_cents and currency, got %s", type_name(v.type));
        return (r = fs_rd_skip_rest(&d->rd, &v)) < 0 ? r : 0;
    }
    while ((r = fs_rd_map_next(&d->rd, &k)) > 0) {
        int f = cabin_field(k);
        if (f < 0) {
            report(d, index, name, clean(buf, sizeof(buf), k), "unknown field; a cabin has seats, miles, taxes_cents and currency");
            if ((r = skip_value(d)) < 0)
                return r;
            continue;
        }
        if (seen & 1u << f) {
            report(d, index, name, cabin_field_names[f], "appears twice");
            if ((r = skip_value(d)) < 0)
                return r;
            continue;
        }
        seen |= 1u << f;
        d->at_sub = cabin_field_names[f];
        switch (f) {
        case C_SEATS:
            if ((r = get_uint(d, index, name, "seats", 0, FS_MAX_SEATS, &u)) > 0)
                leg->seats[c] = (uint8_t)u;
            break;
        case C_MILES:
            if ((r = get_uint(d, index, name, "miles", FS_MIN_MILES, FS_MAX_MILES, &u)) > 0)
                leg->fare[c].miles = (uint32_t)u;
            break;
        case C_TAXES_CENTS:
            if ((r = get_uint(d, index, name, "taxes_cents", 0, FS_MAX_TAXES_CENTS, &u)) > 0)
                leg->fare[c].taxes_cents = (uint32_t)u;
            break;
        default:
            if ((r = get_str(d, index, name, "currency", &s)) > 0 && fs_currency_parse(s.p, s.len, &leg->fare[c].currency) < 0) {
                report(d, index, name, "currency", "must be a 3-letter ISO 4217 code in capitals, got %s", quote(q, sizeof(q), s));
                r = 0;
            }
            break;
        }
        if (r < 0)
            return r; /* the at_* breadcrumbs stay: they locate a malformation */
        d->at_sub = NULL;
        if (r > 0)
            ok |= 1u << f;
    }
    if (r < 0)
        return r;
    for (int f = 0; f < C_COUNT; f++) {
        if (!(seen & 1u << f))
            report(d, index, name, cabin_field_names[f], "is required but missing");
    }
    return ok == (1u << C_COUNT) - 1;
}

/* The "cabins" map. Same returns as decode_cabin. */
static int decode_cabins(dec_t *d, int64_t index, fs_leg_in_t *leg)
{
    char buf[48];
    fs_rd_val_t v;
    fs_rd_str_t k;
    int r, valid = 1;

    if ((r = fs_rd_read(&d->rd, &v)) < 0)
        return r;
    if (v.type != FS_RD_MAP) {
        report(d, index, NULL, "cabins", "must be a map from cabin name to seats and fare, got %s", type_name(v.type));
        return (r = fs_rd_skip_rest(&d->rd, &v)) < 0 ? r : 0;
    }
    while ((r = fs_rd_map_next(&d->rd, &k)) > 0) {
        int c = fs_cabin_parse(k.p, k.len);
        if (c < 0) {
            report(d, index, clean(buf, sizeof(buf), k), NULL, "unknown cabin; cabins are economy, premium, business, first");
            valid = 0;
            if ((r = skip_value(d)) < 0)
                return r;
            continue;
        }
        if (leg->cabin_mask & 1u << c) {
            report(d, index, fs_cabin_names[c], NULL, "appears twice");
            valid = 0;
            if ((r = skip_value(d)) < 0)
                return r;
            continue;
        }
        leg->cabin_mask |= (uint8_t)(1u << c);
        d->at_cabin = fs_cabin_names[c];
        r = decode_cabin(d, index, c, leg);
        if (r < 0)
            return r;
        d->at_cabin = NULL;
        if (r == 0)
            valid = 0;
    }
    if (r < 0)
        return r;
    if (leg->cabin_mask == 0 && valid) {
        report(d, index, NULL, "cabins", "must list at least one cabin");
        valid = 0;
    }
    return valid;
}

static int check_dup(dec_t *d, int64_t index, uint64_t key, uint64_t hash, fs_carrier_t carrier, unsigned flight,
                     fs_airport_t origin, int32_t day)
{
    char cs[3], as[4], ds[11];
    uint64_t first;
    int r = keyset_add(&d->keys, key, hash, (uint64_t)index, &first);

    if (r < 0) {
        d->stop_rc = r;
        return STOP;
    }
    if (r > 0) {
        fs_carrier_format(carrier, cs);
        fs_airport_format(origin, as);
        ds[fs_date_format(day, ds)] = '\0';
        report(d, index, NULL, "key", "duplicate leg key %s%u %s %s (first at index %" PRIu64 "%s)", cs, flight, as, ds, first,
               first == UINT32_MAX ? " or later" : "");
    }
    return 0;
}

static void report_unknown_field(dec_t *d, int64_t index, fs_rd_str_t k, int remove)
{
    char buf[48];

    report(d, index, NULL, clean(buf, sizeof(buf), k),
           remove ? "unknown field; a remove has carrier, flight, origin and date"
                  : "unknown field; a leg has carrier, flight, origin, destination, departs_at, arrives_at and cabins");
}

/* A code field: the string, then its parser. 1 ok, 0 reported, < 0 stop. */
static int get_code(dec_t *d, int64_t index, int f, fs_rd_str_t *s)
{
    return get_str(d, index, NULL, leg_names[f], s);
}

/* A leg (snapshot "legs", delta "upsert") or a remove key (delta "remove"). */
static int decode_record(dec_t *d, int64_t index, int remove)
{
    const unsigned wanted = remove ? REMOVE_BITS : LEG_BITS;
    const unsigned keybits = 1u << L_CARRIER | 1u << L_FLIGHT | 1u << L_ORIGIN | 1u << (remove ? L_DATE : L_DEPARTS_AT);
    uint64_t key = 0, hash = 0;
    int keyed = 0;
    unsigned seen = 0, ok = 0;
    char q[48], t1[48], t2[48];
    fs_rd_val_t v;
    fs_rd_str_t k, s;
    fs_leg_in_t leg;
    uint64_t u;
    int32_t day = 0;
    int r;

    if ((r = fs_rd_read(&d->rd, &v)) < 0)
        return r;
    if (v.type != FS_RD_MAP) {
        report(d, index, NULL, "", "must be a map, got %s", type_name(v.type));
        return fs_rd_skip_rest(&d->rd, &v);
    }
    leg.cabin_mask = 0; /* the rest is set field by field; absent cabins are zeroed below */
    while ((r = fs_rd_map_next(&d->rd, &k)) > 0) {
        int f = leg_field(k);
        if (f < 0 || !(wanted & 1u << f)) {
            report_unknown_field(d, index, k, remove);
            if ((r = skip_value(d)) < 0)
                return r;
            continue;
        }
        if (seen & 1u << f) {
            report(d, index, NULL, leg_names[f], "appears twice");
            if ((r = skip_value(d)) < 0)
                return r;
            continue;
        }
        seen |= 1u << f;
        d->at_field = leg_names[f];
        switch (f) {
        case L_CARRIER:
            if ((r = get_code(d, index, f, &s)) > 0 && fs_carrier_parse(s.p, s.len, &leg.carrier) < 0) {
                report(d, index, NULL, "carrier", "must be a 2-character airline code of A-Z and 0-9, got %s",
                       quote(q, sizeof(q), s));
                r = 0;
            }
            break;
        case L_FLIGHT:
            if ((r = get_uint(d, index, NULL, "flight", 1, FS_MAX_FLIGHT, &u)) > 0)
                leg.flight = (uint16_t)u;
            break;
        case L_ORIGIN:
        case L_DESTINATION:
            if ((r = get_code(d, index, f, &s)) > 0 &&
                fs_airport_parse(s.p, s.len, f == L_ORIGIN ? &leg.origin : &leg.destination) < 0) {
                report(d, index, NULL, leg_names[f], "must be a 3-letter IATA airport code in capitals, got %s",
                       quote(q, sizeof(q), s));
                r = 0;
            }
            break;
        case L_DEPARTS_AT:
        case L_ARRIVES_AT:
            if ((r = get_code(d, index, f, &s)) > 0) {
                int e = fs_datetime_parse(s.p, s.len, f == L_DEPARTS_AT ? &leg.departs : &leg.arrives);
                if (e == FS_ERANGE)
                    report(d, index, NULL, leg_names[f], "UTC offset must be between -12:00 and +14:00, got %s",
                           quote(q, sizeof(q), s));
                else if (e < 0)
                    report(d, index, NULL, leg_names[f],
                           "must be a local time with UTC offset like 2026-12-01T21:35:00-03:00, got %s", quote(q, sizeof(q), s));
                r = e == 0;
            }
            break;
        case L_DATE:
            if ((r = get_code(d, index, f, &s)) > 0 && fs_date_parse(s.p, s.len, &day) < 0) {
                report(d, index, NULL, "date", "must be a local departure date like 2026-12-01, got %s", quote(q, sizeof(q), s));
                r = 0;
            }
            break;
        default:
            r = decode_cabins(d, index, &leg);
            break;
        }
        if (r < 0)
            return r;
        d->at_field = NULL;
        if (r > 0)
            ok |= 1u << f;
        if (!keyed && (ok & keybits) == keybits) {
            key = fs_leg_key(leg.carrier, leg.flight, leg.origin, remove ? day : leg.departs.day) | (remove ? KEY_REMOVE_TAG : 0);
            hash = keyset_hash(key);
            keyset_prefetch(&d->keys, hash);
            keyed = 1;
        }
    }
    if (r < 0)
        return r;

    for (int f = 0; f < L_COUNT; f++) {
        if ((wanted & 1u << f) && !(seen & 1u << f))
            report(d, index, NULL, leg_names[f], "is required but missing");
    }
    if (!remove) {
        const unsigned route = 1u << L_ORIGIN | 1u << L_DESTINATION, times = 1u << L_DEPARTS_AT | 1u << L_ARRIVES_AT;
        if ((ok & route) == route && leg.origin == leg.destination) {
            fs_airport_format(leg.origin, q);
            report(d, index, NULL, "destination", "is the same airport as origin (%s)", q);
        }
        if ((ok & times) == times) {
            int64_t dep = fs_localtime_to_utc_min(leg.departs), arr = fs_localtime_to_utc_min(leg.arrives);
            if (arr <= dep)
                report(d, index, NULL, "arrives_at", "arrives %s it departs (departs %s, arrives %s)",
                       arr < dep ? "before" : "when", format_time(t1, sizeof(t1), leg.departs),
                       format_time(t2, sizeof(t2), leg.arrives));
            else if (arr - dep > FS_MAX_DURATION_MIN)
                report(d, index, NULL, "arrives_at", "flight time %dh%02dm is too long; at most %dh%02dm is accepted",
                       (int)((arr - dep) / 60), (int)((arr - dep) % 60), FS_MAX_DURATION_MIN / 60, FS_MAX_DURATION_MIN % 60);
        }
    }

    if (keyed) {
        if (!remove)
            day = leg.departs.day;
        if ((r = check_dup(d, index, key, hash, leg.carrier, leg.flight, leg.origin, day)) < 0)
            return r;
    }

    if (!sink_open(d))
        return 0;
    if (remove) {
        fs_leg_remove_t rm = {.carrier = leg.carrier, .flight = leg.flight, .origin = leg.origin, .day = day};
        if (d->sink != NULL && d->sink->remove != NULL && (r = d->sink->remove(d->sink->arg, (uint64_t)index, &rm)) != 0) {
            d->stop_rc = r;
            return STOP;
        }
    } else {
        for (int c = 0; c < FS_CABIN_COUNT; c++) {
            if (!(leg.cabin_mask & 1u << c)) {
                leg.seats[c] = 0;
                leg.fare[c] = (fs_fare_t){0};
            }
        }
        leg.last_seen = d->last_seen;
        if (d->sink != NULL && d->sink->leg != NULL && (r = d->sink->leg(d->sink->arg, (uint64_t)index, &leg)) != 0) {
            d->stop_rc = r;
            return STOP;
        }
    }
    return 0;
}

/* A record list: "legs", "upsert" or "remove". */
static int decode_list(dec_t *d, int which)
{
    fs_rd_val_t v;
    int64_t i;
    int r;

    if ((r = fs_rd_read(&d->rd, &v)) < 0)
        return r;
    if (v.type != FS_RD_ARRAY) {
        report(d, -1, NULL, top_names[which], "must be an array of %s, got %s", which == T_REMOVE ? "leg keys" : "legs",
               type_name(v.type));
        return fs_rd_skip_rest(&d->rd, &v);
    }
    d->prefix = d->kind == FS_FEED_DELTA ? top_names[which] : "";
    for (i = 0; (r = fs_rd_array_next(&d->rd)) > 0; i++) {
        d->at_index = i;
        if ((r = decode_record(d, i, which == T_REMOVE)) < 0)
            return r;
        d->at_index = -1;
    }
    d->at_index = -1;
    d->prefix = "";
    return r;
}

/* ------------------------------------------------------------ document */

static int top_field(const dec_t *d, fs_rd_str_t k)
{
    for (int f = 0; f < T_COUNT; f++) {
        if (k.p != NULL && strlen(top_names[f]) == k.len && memcmp(top_names[f], k.p, k.len) == 0) {
            if (f == T_LEGS && d->kind != FS_FEED_SNAPSHOT)
                return -1;
            if ((f == T_UPSERT || f == T_REMOVE) && d->kind != FS_FEED_DELTA)
                return -1;
            return f;
        }
    }
    return -1;
}

static int decode_source(dec_t *d)
{
    char q[48], e[48];
    fs_rd_str_t s;
    int r;

    if ((r = get_str(d, -1, NULL, "source", &s)) <= 0)
        return r;
    if (!fs_feed_source_valid(s.p, s.len)) {
        report(d, -1, NULL, "source", "must match [a-z0-9_-]{1,32}, got %s", quote(q, sizeof(q), s));
        return 0;
    }
    memcpy(d->hdr.source, s.p, s.len);
    d->hdr.source[s.len] = '\0';
    if (d->expected_source != NULL && strcmp(d->hdr.source, d->expected_source) != 0) {
        fs_rd_str_t x = {d->expected_source, strlen(d->expected_source)};
        report(d, -1, NULL, "source", "is %s but this push is for source %s", quote(q, sizeof(q), s), quote(e, sizeof(e), x));
    }
    return 1;
}

static int decode_generated_at(dec_t *d)
{
    char q[48];
    fs_rd_str_t s;
    int64_t ts;
    int r;

    if ((r = get_str(d, -1, NULL, "generated_at", &s)) <= 0)
        return r;
    if (fs_timestamp_parse(s.p, s.len, &ts) < 0) {
        report(d, -1, NULL, "generated_at", "must be a UTC timestamp like 2026-11-21T20:00:00Z, got %s", quote(q, sizeof(q), s));
        return 0;
    }
    d->hdr.generated_at = ts;
    d->last_seen = ts;
    return 1;
}

/*
 * Called at the first record list when the header is not complete: reads ahead for the header
 * fields not seen yet (see the top of the file), reporting nothing, then rewinds.
 */
static void peek_header(dec_t *d)
{
    fs_rd_t saved = d->rd;
    unsigned found = d->top_seen & HEADER_BITS;
    fs_rd_val_t v;
    fs_rd_str_t k;
    int64_t ts;
    int r;

    d->peeked = 1;
    if ((r = fs_rd_skip(&d->rd)) < 0)
        goto rewind;
    while ((r = fs_rd_map_next(&d->rd, &k)) > 0) {
        int f = top_field(d, k);
        if (f < 0 || f > T_GENERATED_AT || (found & 1u << f)) {
            if ((r = fs_rd_skip(&d->rd)) < 0)
                goto rewind;
            continue;
        }
        if ((r = fs_rd_read(&d->rd, &v)) < 0)
            goto rewind;
        if (f == T_GENERATED_AT && v.type == FS_RD_STR && fs_timestamp_parse(v.v.str.p, v.v.str.len, &ts) == 0) {
            d->last_seen = ts;
            found |= 1u << f;
            /* NOLINTNEXTLINE(bugprone-branch-clone): one branch per header field, same effect on purpose */
        } else if (f == T_SEQUENCE && v.type == FS_RD_UINT && v.v.u >= 1) {
            found |= 1u << f;
        } else if (f == T_SOURCE && v.type == FS_RD_STR && fs_feed_source_valid(v.v.str.p, v.v.str.len) &&
                   (d->expected_source == NULL ||
                    (strlen(d->expected_source) == v.v.str.len && memcmp(d->expected_source, v.v.str.p, v.v.str.len) == 0))) {
            found |= 1u << f;
        }
        if ((r = fs_rd_skip_rest(&d->rd, &v)) < 0)
            goto rewind;
    }
rewind:
    /* A malformed body is left for the main pass to find again, where the path is known. */
    d->rd = saved;
    if (r < 0 || found != HEADER_BITS)
        d->hold = 1;
}

static int decode_document(dec_t *d)
{
    char buf[48];
    fs_rd_val_t v;
    fs_rd_str_t k;
    uint64_t u;
    int r;

    if ((r = fs_rd_read(&d->rd, &v)) < 0)
        return r;
    if (v.type != FS_RD_MAP) {
        char msg[sizeof(d->rd.err_msg)];
        snprintf(msg, sizeof(msg), "the document must be a map, got %s", type_name(v.type));
        return fs_rd_fail_at(&d->rd, 0, msg);
    }
    while ((r = fs_rd_map_next(&d->rd, &k)) > 0) {
        int f = top_field(d, k);
        if (f < 0) {
            report(d, -1, NULL, clean(buf, sizeof(buf), k),
                   d->kind == FS_FEED_SNAPSHOT ? "unknown field; a snapshot has source, sequence, generated_at and legs"
                                               : "unknown field; a delta has source, sequence, generated_at, upsert and remove");
            if ((r = skip_value(d)) < 0)
                return r;
            continue;
        }
        if (d->top_seen & 1u << f) {
            report(d, -1, NULL, top_names[f], "appears twice");
            if ((r = skip_value(d)) < 0)
                return r;
            continue;
        }
        d->top_seen |= 1u << f;
        d->at_top = top_names[f];
        switch (f) {
        case T_SOURCE:
            r = decode_source(d);
            break;
        case T_SEQUENCE:
            /* at most 2^63-1: a source at 2^64-1 could never be updated again (nothing is newer) */
            if ((r = get_uint(d, -1, NULL, "sequence", 1, INT64_MAX, &u)) > 0)
                d->hdr.sequence = u;
            break;
        case T_GENERATED_AT:
            r = decode_generated_at(d);
            break;
        default:
            if (!d->peeked && (d->top_seen & HEADER_BITS) != HEADER_BITS)
                peek_header(d);
            r = decode_list(d, f);
            break;
        }
        if (r < 0)
            return r;
        d->at_top = NULL;
    }
    if (r < 0)
        return r;
    if ((r = fs_rd_finish(&d->rd)) < 0)
        return r;
    for (int f = T_SOURCE; f <= T_GENERATED_AT; f++) {
        if (!(d->top_seen & 1u << f))
            report(d, -1, NULL, top_names[f], "is required but missing");
    }
    if (d->kind == FS_FEED_SNAPSHOT && !(d->top_seen & 1u << T_LEGS))
        report(d, -1, NULL, "legs", "is required but missing (an empty snapshot has \"legs\": [])");
    return 0;
}

/* --------------------------------------------------------------- public */

size_t fs_feed_errors_first(const fs_feed_errors_t *errs, char *out, size_t cap)
{
    int n;
    if (errs->count == 0)
        n = snprintf(out, cap, "%s", "");
    else if (errs->e[0].index >= 0)
        n = snprintf(out, cap, "record %lld, field %s: %s", (long long)errs->e[0].index, errs->e[0].field, errs->e[0].reason);
    else
        n = snprintf(out, cap, "field %s: %s", errs->e[0].field[0] ? errs->e[0].field : "(document)", errs->e[0].reason);
    return n < 0 ? 0 : (size_t)n;
}

int fs_feed_source_valid(const char *s, size_t len)
{
    if (s == NULL || len < 1 || len > FS_SOURCE_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int fs_feed_decode(const uint8_t *body, size_t len, fs_feed_format_t format, fs_feed_kind_t kind, const char *expected_source,
                   fs_feed_header_t *header, const fs_feed_sink_t *sink, fs_feed_errors_t *errs)
{
    static const uint8_t empty[1];
    fs_feed_errors_t scratch_errs;
    dec_t d;
    int r;

    if (errs == NULL)
        errs = &scratch_errs;
    errs->malformed = 0;
    errs->count = 0;
    errs->total = 0;
    memset(&d.hdr, 0, sizeof(d.hdr));
    fs_rd_init(&d.rd, format, body != NULL ? body : empty, body != NULL ? len : 0);
    d.kind = kind;
    d.expected_source = expected_source;
    d.sink = sink;
    d.errs = errs;
    d.top_seen = 0;
    d.peeked = 0;
    d.hold = 0;
    d.last_seen = 0;
    d.stop_rc = 0;
    d.prefix = "";
    memset(&d.keys, 0, sizeof(d.keys));
    d.at_top = NULL;
    d.at_index = -1;
    d.at_field = d.at_cabin = d.at_sub = NULL;

    r = decode_document(&d);
    free(d.keys.keys);
    free(d.keys.first);
    if (header != NULL)
        *header = d.hdr;
    if (d.rd.err != 0) {
        fs_feed_error_t *e = &errs->e[0];
        errs->malformed = 1;
        errs->count = 1;
        errs->total = 1;
        e->index = -1;
        malformed_path(&d, e->field, sizeof(e->field));
        snprintf(e->reason, sizeof(e->reason), "%s at byte %zu", d.rd.err_msg, d.rd.err_off);
        return FS_EINVAL;
    }
    if (r < 0)
        return d.stop_rc != 0 ? d.stop_rc : r;
    return errs->total != 0 ? FS_EINVAL : 0;
}

/* ------------------------------------------------------- error document */

/* Writes into out[0..cap-1) and counts past it, as snprintf does. */
typedef struct jw {
    char *out;
    size_t cap, len;
} jw_t;

static void jw_raw(jw_t *w, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++, w->len++) {
        if (w->len + 1 < w->cap)
            w->out[w->len] = s[i];
    }
}

static void jw_lit(jw_t *w, const char *s)
{
    jw_raw(w, s, strlen(s));
}

/* A JSON string: quotes, backslashes and control characters escaped; other bytes as they are
 * (report() only stores printable ASCII). */
static void jw_str(jw_t *w, const char *s)
{
    char esc[8];

    jw_raw(w, "\"", 1);
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            jw_raw(w, esc, 2);
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            jw_raw(w, esc, 6);
        } else {
            jw_raw(w, s, 1);
        }
    }
    jw_raw(w, "\"", 1);
}

size_t fs_feed_errors_json(const fs_feed_errors_t *errs, char *out, size_t cap)
{
    jw_t w = {out, cap, 0};
    char msg[256];

    if (errs->malformed && errs->count > 0)
        snprintf(msg, sizeof(msg), "the feed is not a well-formed document: %.100s; nothing was applied", errs->e[0].reason);
    else if (errs->malformed)
        snprintf(msg, sizeof(msg), "the feed is not a well-formed document; nothing was applied");
    else if (errs->total == 1)
        snprintf(msg, sizeof(msg), "1 problem in the feed; nothing was applied");
    else
        snprintf(msg, sizeof(msg), "%" PRIu64 " problems in the feed; the first %u are listed; nothing was applied", errs->total,
                 errs->count);
    jw_lit(&w, "{\"error\":{\"code\":");
    jw_str(&w, errs->malformed ? "malformed_feed" : "invalid_feed");
    jw_lit(&w, ",\"message\":");
    jw_str(&w, msg);
    jw_lit(&w, ",\"errors\":[");
    for (unsigned i = 0; i < errs->count && i < FS_FEED_MAX_ERRORS; i++) {
        char num[32];
        const fs_feed_error_t *e = &errs->e[i];
        snprintf(num, sizeof(num), "%" PRId64, e->index);
        jw_lit(&w, i == 0 ? "{\"index\":" : ",{\"index\":");
        jw_lit(&w, num);
        jw_lit(&w, ",\"field\":");
        jw_str(&w, e->field);
        jw_lit(&w, ",\"reason\":");
        jw_str(&w, e->reason);
        jw_lit(&w, "}");
    }
    jw_lit(&w, "]}}");
    if (cap > 0)
        out[w.len < cap ? w.len : cap - 1] = '\0';
    return w.len;
}
