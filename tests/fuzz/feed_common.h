/*
 * tests/fuzz/feed_common.h: the body of fuzz_feed_msgpack.c and fuzz_feed_json.c, which differ
 * only in the format they feed to the decoder (FUZZ_FEED_FORMAT) and in the other format they
 * re-encode a valid document into (the round trip below).
 *
 * Per input: fs_feed_peek_source, then fs_feed_decode as a snapshot and as a delta. Properties:
 *   - every record the sink gets respects the limits of index/index.h (seats <= 99, 1 <= miles
 *     <= 10,000,000, codes in range, arrival after departure by at most 30 h, offsets in range and
 *     in quarter hours, dates in the 16-bit range, absent cabins zeroed), arrives in document
 *     order, and only while no error has been found;
 *   - the return code, errs and the header agree (0 means no problem; a refusal lists 1..20
 *     problems; a malformed body exactly one); every field and reason is printable ASCII;
 *   - fs_feed_errors_json writes well-formed JSON (read back with the JSON reader) and truncates
 *     like snprintf;
 *   - a valid document: a prefix of it is malformed; peek finds the same source; the header is
 *     valid; legs carry last_seen = generated_at; the same records re-encoded in the other format
 *     (this harness's own encoder) decode to the same records; fs_apply_snapshot / fs_apply_delta
 *     build a segment whose stored legs give back the decoded times, cabins and fares; a delta
 *     applied on its own result changes nothing.
 */
#include <msgpack.h>
#include <stdarg.h>
#include <string.h>

#include "index/index.h"
#include "loaders/internal.h"
#include "loaders/loaders.h"
#include "tests/fuzz/fuzz.h"

/* ----------------------------------------------------------- collecting */

typedef struct collect {
    const fs_feed_errors_t *errs;
    fs_leg_in_t *legs;
    size_t nlegs, cap_legs;
    fs_leg_remove_t *rms;
    size_t nrms, cap_rms;
    int64_t last_leg_index, last_rm_index;
} collect_t;

static void check_localtime(fs_localtime_t t, const char *what)
{
    FUZZ_ASSERT(t.day >= 0 && t.day <= 65535, "%s: day %d outside the 16-bit date range", what, (int)t.day);
    FUZZ_ASSERT(t.minute < 1440, "%s: minute %u", what, (unsigned)t.minute);
    FUZZ_ASSERT(t.offset_min >= FS_MIN_OFFSET_MIN && t.offset_min <= FS_MAX_OFFSET_MIN && t.offset_min % 15 == 0,
                "%s: offset %d", what, (int)t.offset_min);
}

static void check_leg(const fs_leg_in_t *l)
{
    FUZZ_ASSERT(l->flight >= 1 && l->flight <= FS_MAX_FLIGHT, "flight %u", (unsigned)l->flight);
    FUZZ_ASSERT(l->carrier < FS_CARRIER_COUNT, "carrier %u", (unsigned)l->carrier);
    FUZZ_ASSERT(l->origin < FS_AIRPORT_COUNT && l->destination < FS_AIRPORT_COUNT, "airports %u %u", (unsigned)l->origin,
                (unsigned)l->destination);
    FUZZ_ASSERT(l->origin != l->destination, "origin == destination");
    check_localtime(l->departs, "departs");
    check_localtime(l->arrives, "arrives");
    int64_t dep = fs_localtime_to_utc_min(l->departs), arr = fs_localtime_to_utc_min(l->arrives);
    FUZZ_ASSERT(arr > dep, "arrival %lld not after departure %lld", (long long)arr, (long long)dep);
    FUZZ_ASSERT(arr - dep <= FS_MAX_DURATION_MIN, "duration %lld min", (long long)(arr - dep));
    FUZZ_ASSERT(l->cabin_mask != 0 && l->cabin_mask < 1u << FS_CABIN_COUNT, "cabin_mask 0x%x", (unsigned)l->cabin_mask);
    for (int c = 0; c < FS_CABIN_COUNT; c++) {
        if (l->cabin_mask & 1u << c) {
            FUZZ_ASSERT(l->seats[c] <= FS_MAX_SEATS, "%s seats %u", fs_cabin_names[c], (unsigned)l->seats[c]);
            FUZZ_ASSERT(l->fare[c].miles >= FS_MIN_MILES && l->fare[c].miles <= FS_MAX_MILES, "%s miles %u", fs_cabin_names[c],
                        (unsigned)l->fare[c].miles);
            FUZZ_ASSERT(l->fare[c].currency < FS_AIRPORT_COUNT, "%s currency %u", fs_cabin_names[c],
                        (unsigned)l->fare[c].currency);
        } else {
            FUZZ_ASSERT(l->seats[c] == 0 && l->fare[c].miles == 0 && l->fare[c].taxes_cents == 0 && l->fare[c].currency == 0,
                        "absent cabin %s not zeroed", fs_cabin_names[c]);
        }
    }
}

static int sink_leg(void *arg, uint64_t index, const fs_leg_in_t *leg)
{
    collect_t *c = arg;
    FUZZ_ASSERT(c->errs->total == 0, "sink called after %llu problems", (unsigned long long)c->errs->total);
    FUZZ_ASSERT((int64_t)index > c->last_leg_index, "leg index %llu after %lld", (unsigned long long)index,
                (long long)c->last_leg_index);
    c->last_leg_index = (int64_t)index;
    check_leg(leg);
    if (c->nlegs == c->cap_legs) {
        c->cap_legs = c->cap_legs ? c->cap_legs * 2 : 16;
        c->legs = realloc(c->legs, c->cap_legs * sizeof(*c->legs));
        FUZZ_ASSERT(c->legs != NULL, "out of memory");
    }
    c->legs[c->nlegs++] = *leg;
    return 0;
}

static int sink_remove(void *arg, uint64_t index, const fs_leg_remove_t *key)
{
    collect_t *c = arg;
    FUZZ_ASSERT(c->errs->total == 0, "sink called after %llu problems", (unsigned long long)c->errs->total);
    FUZZ_ASSERT((int64_t)index > c->last_rm_index, "remove index %llu after %lld", (unsigned long long)index,
                (long long)c->last_rm_index);
    c->last_rm_index = (int64_t)index;
    FUZZ_ASSERT(key->flight >= 1 && key->flight <= FS_MAX_FLIGHT, "remove flight %u", (unsigned)key->flight);
    FUZZ_ASSERT(key->carrier < FS_CARRIER_COUNT && key->origin < FS_AIRPORT_COUNT, "remove codes");
    FUZZ_ASSERT(key->day >= 0 && key->day <= 65535, "remove day %d", (int)key->day);
    if (c->nrms == c->cap_rms) {
        c->cap_rms = c->cap_rms ? c->cap_rms * 2 : 16;
        c->rms = realloc(c->rms, c->cap_rms * sizeof(*c->rms));
        FUZZ_ASSERT(c->rms != NULL, "out of memory");
    }
    c->rms[c->nrms++] = *key;
    return 0;
}

static void collect_init(collect_t *c, const fs_feed_errors_t *errs)
{
    memset(c, 0, sizeof(*c));
    c->errs = errs;
    c->last_leg_index = c->last_rm_index = -1;
}

static void collect_free(collect_t *c)
{
    free(c->legs);
    free(c->rms);
}

/* Decodes body into c; checks what every outcome must satisfy. Returns the decoder's code. */
static int decode_checked(const uint8_t *body, size_t len, fs_feed_format_t format, fs_feed_kind_t kind,
                          const char *expected_source, fs_feed_header_t *hdr, fs_feed_errors_t *errs, collect_t *c)
{
    fs_feed_sink_t sink = {.leg = sink_leg, .remove = sink_remove, .arg = c};
    collect_init(c, errs);
    int rc = fs_feed_decode(body, len, format, kind, expected_source, hdr, &sink, errs);

    FUZZ_ASSERT(rc == 0 || rc == FS_EINVAL, "fs_feed_decode returned %d", rc);
    if (kind == FS_FEED_SNAPSHOT)
        FUZZ_ASSERT(c->nrms == 0, "a snapshot produced %zu removes", c->nrms);
    if (rc == 0) {
        FUZZ_ASSERT(errs->total == 0 && errs->count == 0 && !errs->malformed, "success with problems listed");
        FUZZ_ASSERT(fs_feed_source_valid(hdr->source, strlen(hdr->source)), "invalid source accepted");
        FUZZ_ASSERT(expected_source == NULL || strcmp(expected_source, hdr->source) == 0, "source %s accepted for %s",
                    hdr->source, expected_source);
        FUZZ_ASSERT(hdr->sequence >= 1, "sequence 0 accepted");
        for (size_t i = 0; i < c->nlegs; i++)
            FUZZ_ASSERT(c->legs[i].last_seen == hdr->generated_at, "leg %zu last_seen %lld, generated_at %lld", i,
                        (long long)c->legs[i].last_seen, (long long)hdr->generated_at);
    } else {
        FUZZ_ASSERT(errs->count >= 1 && errs->count <= FS_FEED_MAX_ERRORS && errs->count <= errs->total,
                    "refusal with count %u, total %llu", errs->count, (unsigned long long)errs->total);
        if (errs->malformed)
            FUZZ_ASSERT(errs->count == 1 && errs->total == 1, "malformed with %u errors", errs->count);
    }
    for (unsigned i = 0; i < errs->count && i < FS_FEED_MAX_ERRORS; i++) {
        const fs_feed_error_t *e = &errs->e[i];
        FUZZ_ASSERT(e->index >= -1, "error index %lld", (long long)e->index);
        FUZZ_ASSERT(fuzz_printable(e->field, sizeof(e->field)), "error %u: field not printable ASCII", i);
        FUZZ_ASSERT(fuzz_printable(e->reason, sizeof(e->reason)), "error %u: reason not printable ASCII: %.128s", i,
                    e->reason);
    }
    return rc;
}

/* fs_feed_errors_json: well-formed JSON, and snprintf-like truncation at any capacity. */
static void check_errors_json(const fs_feed_errors_t *errs, size_t small_cap)
{
    static char full[16384], part[256];
    size_t n = fs_feed_errors_json(errs, full, sizeof(full));
    FUZZ_ASSERT(n < sizeof(full) && strlen(full) == n, "error document of %zu bytes", n);

    size_t m = fs_feed_errors_json(errs, part, small_cap);
    FUZZ_ASSERT(m == n, "length %zu at capacity %zu, %zu at full capacity", m, small_cap, n);
    size_t kept = n < small_cap ? n : small_cap - 1;
    FUZZ_ASSERT(part[kept] == '\0' && memcmp(part, full, kept) == 0, "truncated document differs");

    fs_feed_errors_t e2;
    fs_feed_decode((const uint8_t *)full, n, FS_FEED_JSON, FS_FEED_SNAPSHOT, NULL, NULL, NULL, &e2);
    FUZZ_ASSERT(!e2.malformed, "error document is not well-formed JSON: %s (%s)\n  %s", e2.e[0].reason, e2.e[0].field, full);
}

/* ------------------------------------------------- re-encoding (round trip) */

typedef struct enc {
    fs_feed_format_t format;
    /* JSON */
    char *p;
    size_t len, cap;
    /* msgpack */
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
} enc_t;

static void json_put(enc_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void json_put(enc_t *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    FUZZ_ASSERT(n >= 0, "vsnprintf");
    if (e->len + (size_t)n + 1 > e->cap) {
        e->cap = (e->len + (size_t)n + 1) * 2;
        e->p = realloc(e->p, e->cap);
        FUZZ_ASSERT(e->p != NULL, "out of memory");
    }
    va_start(ap, fmt);
    vsnprintf(e->p + e->len, e->cap - e->len, fmt, ap);
    va_end(ap);
    e->len += (size_t)n;
}

static void enc_init(enc_t *e, fs_feed_format_t format)
{
    memset(e, 0, sizeof(*e));
    e->format = format;
    if (format == FS_FEED_MSGPACK) {
        msgpack_sbuffer_init(&e->sbuf);
        msgpack_packer_init(&e->pk, &e->sbuf, msgpack_sbuffer_write);
    }
}

static void enc_free(enc_t *e)
{
    if (e->format == FS_FEED_MSGPACK)
        msgpack_sbuffer_destroy(&e->sbuf);
    else
        free(e->p);
}

static const uint8_t *enc_data(enc_t *e, size_t *len)
{
    if (e->format == FS_FEED_MSGPACK) {
        *len = e->sbuf.size;
        return (const uint8_t *)e->sbuf.data;
    }
    *len = e->len;
    return (const uint8_t *)e->p;
}

/* The container and separator calls take the element count (msgpack) and position (JSON). */
static void enc_map(enc_t *e, size_t n)
{
    if (e->format == FS_FEED_MSGPACK)
        msgpack_pack_map(&e->pk, n);
    else
        json_put(e, "{");
}

static void enc_map_end(enc_t *e)
{
    if (e->format == FS_FEED_JSON)
        json_put(e, "}");
}

static void enc_array(enc_t *e, size_t n)
{
    if (e->format == FS_FEED_MSGPACK)
        msgpack_pack_array(&e->pk, n);
    else
        json_put(e, "[");
}

static void enc_array_end(enc_t *e)
{
    if (e->format == FS_FEED_JSON)
        json_put(e, "]");
}

static void enc_sep(enc_t *e, size_t i)
{
    if (e->format == FS_FEED_JSON && i > 0)
        json_put(e, ",");
}

static void enc_key(enc_t *e, size_t i, const char *k)
{
    enc_sep(e, i);
    if (e->format == FS_FEED_MSGPACK) {
        msgpack_pack_str(&e->pk, strlen(k));
        msgpack_pack_str_body(&e->pk, k, strlen(k));
    } else {
        json_put(e, "\"%s\":", k);
    }
}

static void enc_str(enc_t *e, const char *s, size_t n)
{
    if (e->format == FS_FEED_MSGPACK) {
        msgpack_pack_str(&e->pk, n);
        msgpack_pack_str_body(&e->pk, s, n);
    } else {
        json_put(e, "\"%.*s\"", (int)n, s); /* every string written here is plain ASCII */
    }
}

static void enc_uint(enc_t *e, uint64_t v)
{
    if (e->format == FS_FEED_MSGPACK)
        msgpack_pack_uint64(&e->pk, v);
    else
        json_put(e, "%llu", (unsigned long long)v);
}

static void enc_leg(enc_t *e, const fs_leg_in_t *l)
{
    char carrier[3], origin[4], dest[4], dep[25], arr[25], cur[4];
    fs_carrier_format(l->carrier, carrier);
    fs_airport_format(l->origin, origin);
    fs_airport_format(l->destination, dest);
    size_t ndep = fs_datetime_format(l->departs, dep), narr = fs_datetime_format(l->arrives, arr);
    size_t ncabins = 0;
    for (int c = 0; c < FS_CABIN_COUNT; c++)
        ncabins += (l->cabin_mask >> c) & 1u;

    enc_map(e, 7);
    enc_key(e, 0, "carrier"), enc_str(e, carrier, 2);
    enc_key(e, 1, "flight"), enc_uint(e, l->flight);
    enc_key(e, 2, "origin"), enc_str(e, origin, 3);
    enc_key(e, 3, "destination"), enc_str(e, dest, 3);
    enc_key(e, 4, "departs_at"), enc_str(e, dep, ndep);
    enc_key(e, 5, "arrives_at"), enc_str(e, arr, narr);
    enc_key(e, 6, "cabins");
    enc_map(e, ncabins);
    for (int c = 0, i = 0; c < FS_CABIN_COUNT; c++) {
        if (!(l->cabin_mask & 1u << c))
            continue;
        enc_key(e, (size_t)i++, fs_cabin_names[c]);
        fs_currency_format(l->fare[c].currency, cur);
        enc_map(e, 4);
        enc_key(e, 0, "seats"), enc_uint(e, l->seats[c]);
        enc_key(e, 1, "miles"), enc_uint(e, l->fare[c].miles);
        enc_key(e, 2, "taxes_cents"), enc_uint(e, l->fare[c].taxes_cents);
        enc_key(e, 3, "currency"), enc_str(e, cur, 3);
        enc_map_end(e);
    }
    enc_map_end(e);
    enc_map_end(e);
}

static void enc_remove(enc_t *e, const fs_leg_remove_t *r)
{
    char carrier[3], origin[4], date[10];
    fs_carrier_format(r->carrier, carrier);
    fs_airport_format(r->origin, origin);
    size_t n = fs_date_format(r->day, date);
    enc_map(e, 4);
    enc_key(e, 0, "carrier"), enc_str(e, carrier, 2);
    enc_key(e, 1, "flight"), enc_uint(e, r->flight);
    enc_key(e, 2, "origin"), enc_str(e, origin, 3);
    enc_key(e, 3, "date"), enc_str(e, date, n);
    enc_map_end(e);
}

/* The decoded document again, in e's format; the header before or after the record lists (after
 * exercises the decoder's peek ahead for generated_at). */
static void enc_document(enc_t *e, fs_feed_kind_t kind, const fs_feed_header_t *h, const collect_t *c, int header_last)
{
    char ts[20];
    size_t nts = fs_timestamp_format(h->generated_at, ts);
    size_t i = 0, lists = kind == FS_FEED_SNAPSHOT ? 1 : 2;

    enc_map(e, 3 + lists);
    for (int part = 0; part < 2; part++) {
        if ((part == 0) == (header_last != 0)) {
            enc_key(e, i++, kind == FS_FEED_SNAPSHOT ? "legs" : "upsert");
            enc_array(e, c->nlegs);
            for (size_t j = 0; j < c->nlegs; j++)
                enc_sep(e, j), enc_leg(e, &c->legs[j]);
            enc_array_end(e);
            if (kind == FS_FEED_DELTA) {
                enc_key(e, i++, "remove");
                enc_array(e, c->nrms);
                for (size_t j = 0; j < c->nrms; j++)
                    enc_sep(e, j), enc_remove(e, &c->rms[j]);
                enc_array_end(e);
            }
        } else {
            enc_key(e, i++, "source"), enc_str(e, h->source, strlen(h->source));
            enc_key(e, i++, "sequence"), enc_uint(e, h->sequence);
            enc_key(e, i++, "generated_at"), enc_str(e, ts, nts);
        }
    }
    enc_map_end(e);
}

static int same_localtime(fs_localtime_t a, fs_localtime_t b)
{
    return a.day == b.day && a.minute == b.minute && a.offset_min == b.offset_min;
}

static int same_leg(const fs_leg_in_t *a, const fs_leg_in_t *b)
{
    if (a->carrier != b->carrier || a->flight != b->flight || a->origin != b->origin || a->destination != b->destination ||
        !same_localtime(a->departs, b->departs) || !same_localtime(a->arrives, b->arrives) || a->cabin_mask != b->cabin_mask ||
        a->last_seen != b->last_seen)
        return 0;
    for (int c = 0; c < FS_CABIN_COUNT; c++) {
        if (a->seats[c] != b->seats[c] || a->fare[c].miles != b->fare[c].miles ||
            a->fare[c].taxes_cents != b->fare[c].taxes_cents || a->fare[c].currency != b->fare[c].currency)
            return 0;
    }
    return 1;
}

/* A valid document, re-encoded in the other format, decodes to the same header and records. */
static void check_round_trip(fs_feed_format_t other, fs_feed_kind_t kind, const fs_feed_header_t *h, const collect_t *c,
                             int header_last)
{
    /* a generated_at the decoder accepted may lie outside what a "...Z" timestamp can state
     * (an offset moved it before 1970 or past 2149-06-06): no round trip then */
    if (h->generated_at < 0 || h->generated_at / 86400 > 65535)
        return;
    enc_t e;
    enc_init(&e, other);
    enc_document(&e, kind, h, c, header_last);
    size_t len;
    const uint8_t *body = enc_data(&e, &len);

    fs_feed_header_t h2;
    fs_feed_errors_t errs2;
    collect_t c2;
    int rc = decode_checked(body, len, other, kind, h->source, &h2, &errs2, &c2);
    FUZZ_ASSERT(rc == 0, "re-encoded document refused: %s: %s\n  %.*s", errs2.e[0].field, errs2.e[0].reason,
                other == FS_FEED_JSON ? (int)len : 0, (const char *)body);
    FUZZ_ASSERT(strcmp(h2.source, h->source) == 0 && h2.sequence == h->sequence && h2.generated_at == h->generated_at,
                "header differs after the round trip");
    FUZZ_ASSERT(c2.nlegs == c->nlegs && c2.nrms == c->nrms, "%zu legs and %zu removes became %zu and %zu", c->nlegs, c->nrms,
                c2.nlegs, c2.nrms);
    for (size_t i = 0; i < c->nlegs; i++)
        FUZZ_ASSERT(same_leg(&c->legs[i], &c2.legs[i]), "leg %zu differs after the round trip", i);
    for (size_t i = 0; i < c->nrms; i++)
        FUZZ_ASSERT(c->rms[i].carrier == c2.rms[i].carrier && c->rms[i].flight == c2.rms[i].flight &&
                        c->rms[i].origin == c2.rms[i].origin && c->rms[i].day == c2.rms[i].day,
                    "remove %zu differs after the round trip", i);
    collect_free(&c2);
    enc_free(&e);
}

/* ------------------------------------------------------------- building */

/* The stored leg gives back what was decoded (index.h's packing relies on the decoder's limits). */
static void check_stored_leg(const fs_segment_t *seg, const fs_leg_t *s, const collect_t *c)
{
    const fs_leg_in_t *in = NULL;
    for (size_t i = 0; i < c->nlegs && in == NULL; i++) {
        const fs_leg_in_t *l = &c->legs[i];
        if (l->carrier == s->carrier && l->flight == s->flight && l->origin == s->origin && l->departs.day == s->day)
            in = l;
    }
    FUZZ_ASSERT(in != NULL, "a stored leg matches no decoded leg");
    FUZZ_ASSERT(s->destination == in->destination, "destination");
    FUZZ_ASSERT(same_localtime(fs_leg_departs(s), in->departs), "stored departure differs");
    FUZZ_ASSERT(same_localtime(fs_leg_arrives(s), in->arrives), "stored arrival differs");
    FUZZ_ASSERT(fs_leg_arrives_utc_min(s) == fs_localtime_to_utc_min(in->arrives), "stored arrival instant differs");
    FUZZ_ASSERT(s->cabin_mask == in->cabin_mask, "cabin mask");
    for (int k = 0; k < FS_CABIN_COUNT; k++) {
        if (!(s->cabin_mask & 1u << k))
            continue;
        uint32_t f = FS_CABIN_FARE(s->cabin[k]);
        FUZZ_ASSERT(FS_CABIN_SEATS(s->cabin[k]) == in->seats[k], "stored seats");
        FUZZ_ASSERT(f < seg->fare_count, "fare index %u of %u", f, seg->fare_count);
        FUZZ_ASSERT(seg->fares[f].miles == in->fare[k].miles && seg->fares[f].taxes_cents == in->fare[k].taxes_cents &&
                        seg->fares[f].currency == in->fare[k].currency,
                    "stored fare differs");
    }
}

static void check_apply_snapshot(const uint8_t *body, size_t len, fs_feed_format_t format, const collect_t *c)
{
    fs_feed_errors_t errs;
    fs_feed_header_t h;
    int rc;
    fs_segment_t *seg = fs_apply_snapshot(NULL, body, len, format, &errs, &h, &rc);
    FUZZ_ASSERT(seg != NULL && rc == 0, "fs_apply_snapshot refused a document the decoder accepted (%d)", rc);
    FUZZ_ASSERT(seg->leg_count == c->nlegs, "segment has %u legs, the feed %zu", seg->leg_count, c->nlegs);
    for (uint32_t r = 0; r < seg->route_count; r++)
        for (uint32_t i = 0; i < seg->routes[r].count; i++)
            check_stored_leg(seg, &seg->routes[r].legs[i], c);
    fs_segment_free(seg);
}

static void check_apply_delta(const uint8_t *body, size_t len, fs_feed_format_t format, const fs_feed_header_t *h,
                              const collect_t *c)
{
    fs_feed_errors_t errs;
    fs_delta_result_t res;
    fs_segment_t *seg = fs_apply_delta(NULL, h->source, body, len, format, &errs, &res);
    FUZZ_ASSERT(seg != NULL && res.rc == 0, "fs_apply_delta refused a document the decoder accepted (%d)", res.rc);
    FUZZ_ASSERT(seg->leg_count == c->nlegs, "segment has %u legs, the delta upserts %zu", seg->leg_count, c->nlegs);
    for (uint32_t r = 0; r < seg->route_count; r++)
        for (uint32_t i = 0; i < seg->routes[r].count; i++)
            check_stored_leg(seg, &seg->routes[r].legs[i], c);
    /* a delta applied twice is applied once: its upserts replace themselves */
    fs_segment_t *again = fs_apply_delta(seg, h->source, body, len, format, &errs, &res);
    FUZZ_ASSERT(again != NULL && res.rc == 0, "the delta applied on its own result: %d", res.rc);
    FUZZ_ASSERT(again->leg_count == c->nlegs, "applied twice: %u legs, once: %zu", again->leg_count, c->nlegs);
    for (uint32_t r = 0; r < again->route_count; r++)
        for (uint32_t i = 0; i < again->routes[r].count; i++)
            check_stored_leg(again, &again->routes[r].legs[i], c);
    fs_segment_free(again);
    fs_segment_free(seg);
}

/* ---------------------------------------------------------------- driver */

static int fuzz_feed_one(const uint8_t *data, size_t size, fs_feed_format_t format, fs_feed_format_t other)
{
    char peeked[FS_SOURCE_NAME_MAX + 1];
    int prc = fs_feed_peek_source(data, size, format, peeked);
    FUZZ_ASSERT(prc == 0 || prc == FS_EINVAL, "fs_feed_peek_source returned %d", prc);
    if (prc == 0)
        FUZZ_ASSERT(fuzz_terminated(peeked, sizeof(peeked)) && fs_feed_source_valid(peeked, strlen(peeked)),
                    "peek returned an invalid source");

    for (int k = 0; k < 2; k++) {
        fs_feed_kind_t kind = k == 0 ? FS_FEED_SNAPSHOT : FS_FEED_DELTA;
        /* a delta is pushed to a source's URL: check the source against the one peek found */
        const char *expected = kind == FS_FEED_DELTA && prc == 0 ? peeked : NULL;
        fs_feed_header_t h;
        fs_feed_errors_t errs;
        collect_t c;
        int rc = decode_checked(data, size, format, kind, expected, &h, &errs, &c);
        /* writing and re-reading the error document is a third of the time per input: once */
        if (k == (int)(size >> 1 & 1))
            check_errors_json(&errs, 1 + size % 200);
        if (rc == 0) {
            FUZZ_ASSERT(prc == 0 && strcmp(peeked, h.source) == 0, "peek found %s, the decoder %s", prc == 0 ? peeked : "nothing",
                        h.source);
            check_round_trip(other, kind, &h, &c, (int)(size & 1));
            if (kind == FS_FEED_SNAPSHOT)
                check_apply_snapshot(data, size, format, &c);
            else
                check_apply_delta(data, size, format, &h, &c);
            /* every prefix that stops before the top-level map's last byte (JSON may have
             * whitespace after it) is an unfinished document; in its own block, for ASan */
            size_t end = size;
            while (format == FS_FEED_JSON && end > 0 && strchr(" \t\r\n", data[end - 1]) != NULL && data[end - 1] != 0)
                end--;
            if (end > 0) {
                size_t cut = end - 1 - (size_t)data[size / 2] % end;
                uint8_t *prefix = malloc(cut ? cut : 1);
                FUZZ_ASSERT(prefix != NULL, "out of memory");
                memcpy(prefix, data, cut);
                fs_feed_errors_t ep;
                int rcp = fs_feed_decode(prefix, cut, format, kind, NULL, NULL, NULL, &ep);
                FUZZ_ASSERT(rcp == FS_EINVAL && ep.malformed, "the first %zu of %zu bytes decode (%d)", cut, size, rcp);
                free(prefix);
            }
            /* the same body pushed for another source is refused, and not as malformed */
            fs_feed_errors_t e2;
            int rc2 = fs_feed_decode(data, size, format, kind, strcmp(h.source, "zz-other") ? "zz-other" : "zz-another", NULL, NULL,
                                     &e2);
            FUZZ_ASSERT(rc2 == FS_EINVAL && !e2.malformed && e2.total == 1, "a body for another source: %d, %llu problems",
                        rc2, (unsigned long long)e2.total);
        }
        collect_free(&c);
    }
    return 0;
}
