/*
 * tests/fuzz/gen_seeds.c: writes the msgpack seeds of tests/fuzz/corpus/feed_msgpack/ with
 * msgpack-c's packer (the JSON seeds are hand-written files). Valid snapshots and deltas, each
 * validation rule broken once, and hostile encodings (lengths and counts the body cannot hold,
 * deep nesting, every msgpack type where the schema wants another). Deterministic.
 *
 *   fuzz_gen_seeds tests/fuzz/corpus/feed_msgpack
 */
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static msgpack_sbuffer sbuf;
static msgpack_packer pk;
static const char *out_dir;
static unsigned written;

static void begin(void)
{
    msgpack_sbuffer_clear(&sbuf);
}

static void emit(const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s.msgpack", out_dir, name);
    FILE *fp = fopen(path, "wb");
    if (fp == NULL || fwrite(sbuf.data, 1, sbuf.size, fp) != sbuf.size || fclose(fp) != 0) {
        perror(path);
        exit(1);
    }
    written++;
}

/* Writes the first len bytes of the current buffer under name (truncations). */
static void emit_prefix(const char *name, size_t len)
{
    size_t keep = sbuf.size;
    sbuf.size = len < keep ? len : keep;
    emit(name);
    sbuf.size = keep;
}

static void str(const char *s)
{
    msgpack_pack_str(&pk, strlen(s));
    msgpack_pack_str_body(&pk, s, strlen(s));
}

static void kv_str(const char *k, const char *v)
{
    str(k);
    str(v);
}

static void kv_uint(const char *k, uint64_t v)
{
    str(k);
    msgpack_pack_uint64(&pk, v);
}

static void header(const char *source, uint64_t sequence, const char *generated_at)
{
    kv_str("source", source);
    kv_uint("sequence", sequence);
    kv_str("generated_at", generated_at);
}

static void cabin(const char *name, unsigned seats, unsigned miles, unsigned taxes, const char *currency)
{
    str(name);
    msgpack_pack_map(&pk, 4);
    kv_uint("seats", seats);
    kv_uint("miles", miles);
    kv_uint("taxes_cents", taxes);
    kv_str("currency", currency);
}

/* A leg with one economy cabin (and business when two_cabins). */
static void leg(const char *carrier, unsigned flight, const char *origin, const char *dest, const char *dep, const char *arr,
                unsigned seats, unsigned miles, int two_cabins)
{
    msgpack_pack_map(&pk, 7);
    kv_str("carrier", carrier);
    kv_uint("flight", flight);
    kv_str("origin", origin);
    kv_str("destination", dest);
    kv_str("departs_at", dep);
    kv_str("arrives_at", arr);
    str("cabins");
    msgpack_pack_map(&pk, two_cabins ? 2 : 1);
    cabin("economy", seats, miles, 5620, "BRL");
    if (two_cabins)
        cabin("business", 2, 95000, 5620, "BRL");
}

static void default_leg(void)
{
    leg("LA", 8084, "GRU", "JFK", "2026-12-01T21:35:00-03:00", "2026-12-02T05:50:00-05:00", 4, 35000, 1);
}

static void removal(const char *carrier, unsigned flight, const char *origin, const char *date)
{
    msgpack_pack_map(&pk, 4);
    kv_str("carrier", carrier);
    kv_uint("flight", flight);
    kv_str("origin", origin);
    kv_str("date", date);
}

/* A snapshot of one leg whose leg fields come from fn (one field replaced or broken). */
static void snapshot_with_leg(const char *name, void (*fn)(void))
{
    begin();
    msgpack_pack_map(&pk, 4);
    header("demo", 1, "2026-11-21T20:00:00Z");
    str("legs");
    msgpack_pack_array(&pk, 1);
    fn();
    emit(name);
}

static void leg_seats_100(void)
{
    leg("LA", 1, "GRU", "JFK", "2026-12-01T21:35:00-03:00", "2026-12-02T05:50:00-05:00", 100, 35000, 0);
}
static void leg_miles_0(void)
{
    leg("LA", 1, "GRU", "JFK", "2026-12-01T21:35:00-03:00", "2026-12-02T05:50:00-05:00", 4, 0, 0);
}
static void leg_miles_max(void)
{
    leg("LA", 1, "GRU", "JFK", "2026-12-01T21:35:00-03:00", "2026-12-02T05:50:00-05:00", 99, 10000000, 0);
}
static void leg_arrives_before(void)
{
    leg("LA", 1, "GRU", "JFK", "2026-12-01T21:35:00-03:00", "2026-12-01T19:00:00-03:00", 4, 35000, 0);
}
static void leg_too_long(void)
{
    leg("LA", 1, "GRU", "JFK", "2026-12-01T21:35:00-03:00", "2026-12-03T05:50:00-05:00", 4, 35000, 0);
}
static void leg_offset_range(void)
{
    leg("LA", 1, "GRU", "JFK", "2026-12-01T21:35:00+15:00", "2026-12-02T05:50:00-05:00", 4, 35000, 0);
}
static void leg_date_line(void)
{
    leg("NZ", 2, "AKL", "HNL", "2149-06-06T23:45+14:00", "2149-06-06T10:00-10:00", 9, 60000, 0);
}
static void leg_same_airport(void)
{
    leg("LA", 1, "GRU", "GRU", "2026-12-01T21:35:00-03:00", "2026-12-02T05:50:00-05:00", 4, 35000, 0);
}
static void leg_bad_codes(void)
{
    leg("l@", 0, "gru", "JFKX", "2026-02-30T21:35:00-03:00", "2026-12-02T24:50:00-05:00", 4, 35000, 0);
}
static void leg_all_cabins(void)
{
    msgpack_pack_map(&pk, 7);
    kv_str("carrier", "G3");
    kv_uint("flight", 9999);
    kv_str("origin", "CGH");
    kv_str("destination", "SDU");
    kv_str("departs_at", "2026-12-01T06:00Z");
    kv_str("arrives_at", "2026-12-01T07:05Z");
    str("cabins");
    msgpack_pack_map(&pk, 4);
    cabin("economy", 0, 1, 0, "BRL");
    cabin("premium", 9, 12000, 4294967295u, "USD");
    cabin("business", 99, 30000, 100, "EUR");
    cabin("first", 1, 10000000, 100, "JPY");
}
static void leg_unknown_and_types(void)
{
    msgpack_pack_map(&pk, 9);
    str("carrier");
    msgpack_pack_int64(&pk, -5);
    str("flight");
    str("8084");
    str("origin");
    msgpack_pack_nil(&pk);
    str("destination");
    msgpack_pack_true(&pk);
    str("departs_at");
    msgpack_pack_double(&pk, 1.5);
    str("arrives_at");
    msgpack_pack_bin(&pk, 3);
    msgpack_pack_bin_body(&pk, "abc", 3);
    str("cabins");
    msgpack_pack_array(&pk, 0);
    str("gate");
    msgpack_pack_ext(&pk, 2, 7);
    msgpack_pack_ext_body(&pk, "xy", 2);
    str("date");
    str("2026-12-01");
}
static void leg_cabin_problems(void)
{
    msgpack_pack_map(&pk, 7);
    kv_str("carrier", "LA");
    kv_uint("flight", 1);
    kv_str("origin", "GRU");
    kv_str("destination", "JFK");
    kv_str("departs_at", "2026-12-01T21:35:00-03:00");
    kv_str("arrives_at", "2026-12-02T05:50:00-05:00");
    str("cabins");
    msgpack_pack_map(&pk, 3);
    str("coach");
    msgpack_pack_map(&pk, 0);
    str("economy");
    msgpack_pack_map(&pk, 5);
    kv_uint("seats", 1);
    kv_uint("seats", 2);
    kv_uint("miles", 10000001);
    kv_str("currency", "brl");
    kv_uint("bags", 2);
    str("first");
    msgpack_pack_uint32(&pk, 7);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
        return 2;
    }
    out_dir = argv[1];
    msgpack_sbuffer_init(&sbuf);
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);

    /* valid: the example of docs/feeds.md, two legs */
    begin();
    msgpack_pack_map(&pk, 4);
    header("demo", 42, "2026-11-21T20:00:00Z");
    str("legs");
    msgpack_pack_array(&pk, 2);
    default_leg();
    leg("G3", 1234, "GRU", "GIG", "2026-12-01T07:00-03:00", "2026-12-01T08:05-03:00", 9, 7500, 0);
    emit("snapshot_valid");
    size_t full = sbuf.size;
    emit_prefix("snapshot_truncated_half", full / 2);
    emit_prefix("snapshot_truncated_last_byte", full - 1);

    /* valid: the header after the legs (the decoder peeks ahead for generated_at) */
    begin();
    msgpack_pack_map(&pk, 4);
    str("legs");
    msgpack_pack_array(&pk, 1);
    default_leg();
    header("partner_b-2", 18446744073709551615ull, "2026-11-21T17:00:00-03:00");
    emit("snapshot_header_last");

    /* valid: empty snapshot, 16-bit and 32-bit headers for the same things */
    begin();
    msgpack_pack_map(&pk, 4);
    header("empty", 1, "1970-01-01T00:00:00Z");
    str("legs");
    msgpack_pack_array(&pk, 0);
    emit("snapshot_empty");
    begin();
    const uint8_t wide[] = {0xdf, 0, 0, 0, 4, 0xd9, 6, 's', 'o', 'u', 'r', 'c', 'e', 0xda, 0, 1, 'x',
                            0xdb, 0, 0, 0, 8, 's', 'e', 'q', 'u', 'e', 'n', 'c', 'e', 0xcf, 0, 0, 0, 0, 0, 0, 0, 7,
                            0xac, 'g', 'e', 'n', 'e', 'r', 'a', 't', 'e', 'd', '_', 'a', 't', 0xb4};
    msgpack_sbuffer_write(&sbuf, (const char *)wide, sizeof(wide));
    msgpack_sbuffer_write(&sbuf, "2026-11-21T20:00:00Z", 20);
    const uint8_t wide2[] = {0xa4, 'l', 'e', 'g', 's', 0xdd, 0, 0, 0, 0};
    msgpack_sbuffer_write(&sbuf, (const char *)wide2, sizeof(wide2));
    emit("snapshot_wide_headers");

    /* valid: deltas */
    begin();
    msgpack_pack_map(&pk, 5);
    header("demo", 43, "2026-11-21T20:05:00Z");
    str("upsert");
    msgpack_pack_array(&pk, 1);
    leg("LA", 8084, "GRU", "JFK", "2026-12-01T21:35:00-03:00", "2026-12-02T05:50:00-05:00", 2, 35000, 1);
    str("remove");
    msgpack_pack_array(&pk, 2);
    removal("G3", 1234, "GRU", "2026-12-01");
    removal("AA", 1, "MIA", "2149-06-06");
    emit("delta_valid");
    begin();
    msgpack_pack_map(&pk, 4);
    str("remove");
    msgpack_pack_array(&pk, 1);
    removal("G3", 1234, "GRU", "2026-12-01");
    header("demo", 44, "2026-11-21T20:10:00Z");
    emit("delta_remove_only_header_last");
    begin();
    msgpack_pack_map(&pk, 5);
    header("demo", 45, "2026-11-21T20:15:00Z");
    str("upsert");
    msgpack_pack_array(&pk, 2);
    default_leg();
    default_leg();
    str("remove");
    msgpack_pack_array(&pk, 2);
    removal("G3", 0, "gru", "2026-13-01");
    removal("G3", 1, "GRU", "2026-12-01");
    emit("delta_problems");

    /* one rule broken per document */
    snapshot_with_leg("leg_seats_100", leg_seats_100);
    snapshot_with_leg("leg_miles_0", leg_miles_0);
    snapshot_with_leg("leg_miles_max", leg_miles_max);
    snapshot_with_leg("leg_arrives_before", leg_arrives_before);
    snapshot_with_leg("leg_too_long", leg_too_long);
    snapshot_with_leg("leg_offset_range", leg_offset_range);
    snapshot_with_leg("leg_date_line_last_day", leg_date_line);
    snapshot_with_leg("leg_same_airport", leg_same_airport);
    snapshot_with_leg("leg_bad_codes", leg_bad_codes);
    snapshot_with_leg("leg_all_cabins", leg_all_cabins);
    snapshot_with_leg("leg_unknown_and_types", leg_unknown_and_types);
    snapshot_with_leg("leg_cabin_problems", leg_cabin_problems);

    /* duplicate key, repeated and unknown top-level fields, bad header values */
    begin();
    msgpack_pack_map(&pk, 7);
    kv_str("source", "Bad Source!");
    kv_uint("sequence", 0);
    kv_str("generated_at", "2026-11-21 20:00:00");
    kv_str("source", "demo");
    str("legs");
    msgpack_pack_array(&pk, 2);
    default_leg();
    default_leg();
    str("upsert");
    msgpack_pack_array(&pk, 0);
    str("x\x01y");
    msgpack_pack_map(&pk, 0);
    emit("top_level_problems");

    /* hostile encodings */
    const struct {
        const char *name;
        size_t len;
        const char *bytes;
    } raw[] = {
        {"array32_claims_4g", 8, "\x81\xa4legs\xdd\xff"},
        {"map32_claims_4g", 5, "\xdf\xff\xff\xff\xff"},
        {"str32_claims_4g", 11, "\x81\xa6source\xdb\xff\xff"},
        {"bin32_claims_4g", 7, "\x81\xa1x\xc6\xff\xff\xff"},
        {"ext32_claims_4g", 8, "\x81\xa1x\xc9\xff\xff\xff\xff"},
        {"map_key_not_string", 4, "\x81\x01\x02\x03"},
        {"never_used_c1", 4, "\x81\xa1x\xc1"},
        {"top_level_array", 2, "\x91\x00"},
        {"trailing_bytes", 3, "\x80\x00\x00"},
        {"negative_fixint_sequence", 11, "\x81\xa8sequence\xff"},
        {"int64_sequence", 19, "\x81\xa8sequence\xd3\x80\x00\x00\x00\x00\x00\x00\x00"},
        {"float32_sequence", 15, "\x81\xa8sequence\xca\x3f\x80\x00\x00"},
        {"fixext16", 21, "\x81\xa1x\xd8\x01" "0123456789abcdef"},
        {"empty", 0, ""},
    };
    for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
        begin();
        msgpack_sbuffer_write(&sbuf, raw[i].bytes, raw[i].len);
        emit(raw[i].name);
    }

    /* nesting: 16 levels (the limit), then 17 */
    for (int depth = 16; depth <= 17; depth++) {
        begin();
        msgpack_pack_map(&pk, 1);
        str("legs");
        for (int d = 1; d < depth; d++)
            msgpack_pack_array(&pk, 1);
        msgpack_pack_nil(&pk);
        emit(depth == 16 ? "nesting_16" : "nesting_17");
    }

    msgpack_sbuffer_destroy(&sbuf);
    printf("%u seeds written to %s\n", written, out_dir);
    return 0;
}
