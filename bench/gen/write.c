/*
 * bench/gen/write.c: the snapshot writer (msgpack) and the CSV writer.
 *
 * A snapshot is {"source", "sequence", "generated_at", "legs": [...]} in that key order. The legs
 * array's length goes in its header, before any leg: the plan already knows each source's exact
 * leg count (flights x operating days), so the file is written in one streaming pass and the
 * count is checked at the end. msgpack_packer writes through a callback into a FILE* with a large
 * buffer; nothing but one leg is ever held in memory.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "bench/gen/gen.h"

#define OUT_BUFFER (4u << 20)
#define SINK_BUFFER (1u << 20)

/* The feed's cabin names, in FS_CABIN_* order: kept here so that the generator needs only the code
 * and time helpers of index/ (time.c, codes.c), not the index itself. */
static const char *const cabin_names[FS_CABIN_COUNT] = {"economy", "premium", "business", "first"};
static const uint8_t cabin_name_len[FS_CABIN_COUNT] = {7, 7, 8, 5};

/*
 * The packer's callback target. msgpack_packer calls it once per header and once per string body,
 * ~40 times a leg; staging those pieces in our own buffer and handing the FILE* megabyte chunks
 * took the medium size from ~9.6 s to ~5 s of CPU (fwrite's per-call overhead dominated the profile).
 */
typedef struct sink {
    FILE *fp;
    uint64_t bytes;
    size_t len;
    int failed;
    char buf[SINK_BUFFER];
} sink_t;

static void sink_flush(sink_t *s)
{
    if (s->len != 0 && fwrite(s->buf, 1, s->len, s->fp) != s->len)
        s->failed = 1;
    s->len = 0;
}

static int sink_write(void *data, const char *buf, size_t len)
{
    sink_t *s = data;

    if (len > SINK_BUFFER - s->len) {
        sink_flush(s);
        if (len > SINK_BUFFER) {
            if (fwrite(buf, 1, len, s->fp) != len)
                s->failed = 1;
            s->bytes += len;
            return s->failed ? -1 : 0;
        }
    }
    memcpy(s->buf + s->len, buf, len);
    s->len += len;
    s->bytes += len;
    return 0;
}

/* A string literal, its length known at compile time. */
#define PACK_LIT(pk, s) msgpack_pack_str_with_body((pk), (s), sizeof(s) - 1)

/* ------------------------------------------------------------------- CSV */

FILE *gen_csv_open(const char *path)
{
    FILE *fp = fopen(path, "wb");

    if (fp == NULL)
        return NULL;
    setvbuf(fp, NULL, _IOFBF, OUT_BUFFER);
    fputs("source,carrier,flight,origin,destination,dep_local,dep_offset_min,arr_local,arr_offset_min,dep_utc,arr_utc,"
          "duration_min,cabin,seats,miles,taxes_cents,currency\n",
          fp);
    return fp;
}

/* Decimal formatting by hand: snprintf would dominate a 20M-row CSV. */
static char *put_u(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

static char *put_i(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return put_u(p, (uint64_t)(-v));
    }
    return put_u(p, (uint64_t)v);
}

static char *put_s(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

/* "YYYY-MM-DD HH:MM" from a formatted "YYYY-MM-DDTHH:MM:00+HH:MM". */
static char *put_local(char *p, const char *iso)
{
    memcpy(p, iso, 16);
    p[10] = ' ';
    return p + 16;
}

static void csv_rows(FILE *fp, const char *source, const gen_leg_t *leg, const char *dep_iso, const char *arr_iso,
                     const char *currency)
{
    char line[512], *p = line, utc[20];

    p = put_s(p, source, strlen(source));
    *p++ = ',';
    p = put_s(p, leg->carrier, 2);
    *p++ = ',';
    p = put_u(p, leg->flight);
    *p++ = ',';
    p = put_s(p, leg->origin, 3);
    *p++ = ',';
    p = put_s(p, leg->destination, 3);
    *p++ = ',';
    p = put_local(p, dep_iso);
    *p++ = ',';
    p = put_i(p, leg->departs.offset_min);
    *p++ = ',';
    p = put_local(p, arr_iso);
    *p++ = ',';
    p = put_i(p, leg->arrives.offset_min);
    *p++ = ',';
    fs_timestamp_format(leg->dep_utc_min * 60, utc);
    p = put_s(p, utc, 20);
    *p++ = ',';
    fs_timestamp_format(leg->arr_utc_min * 60, utc);
    p = put_s(p, utc, 20);
    *p++ = ',';
    p = put_i(p, leg->arr_utc_min - leg->dep_utc_min);
    *p++ = ',';
    size_t prefix = (size_t)(p - line);
    for (unsigned i = 0; i < leg->cabin_count; i++) {
        const gen_cabin_offer_t *c = &leg->cabins[i];
        const char *name = cabin_names[c->cabin];
        p = line + prefix;
        p = put_s(p, name, cabin_name_len[c->cabin]);
        *p++ = ',';
        p = put_u(p, c->seats);
        *p++ = ',';
        p = put_u(p, c->miles);
        *p++ = ',';
        p = put_u(p, c->taxes_cents);
        *p++ = ',';
        p = put_s(p, currency, 3);
        *p++ = '\n';
        fwrite_unlocked(line, 1, (size_t)(p - line), fp);
    }
}

/* --------------------------------------------------------------- msgpack */

static void pack_leg(msgpack_packer *pk, const gen_leg_t *leg, const char *dep_iso, const char *arr_iso, const char *currency)
{
    msgpack_pack_map(pk, 7);
    PACK_LIT(pk, "carrier");
    msgpack_pack_str_with_body(pk, leg->carrier, 2);
    PACK_LIT(pk, "flight");
    msgpack_pack_uint16(pk, leg->flight);
    PACK_LIT(pk, "origin");
    msgpack_pack_str_with_body(pk, leg->origin, 3);
    PACK_LIT(pk, "destination");
    msgpack_pack_str_with_body(pk, leg->destination, 3);
    PACK_LIT(pk, "departs_at");
    msgpack_pack_str_with_body(pk, dep_iso, 25);
    PACK_LIT(pk, "arrives_at");
    msgpack_pack_str_with_body(pk, arr_iso, 25);
    PACK_LIT(pk, "cabins");
    msgpack_pack_map(pk, leg->cabin_count);
    for (unsigned i = 0; i < leg->cabin_count; i++) {
        const gen_cabin_offer_t *c = &leg->cabins[i];
        msgpack_pack_str_with_body(pk, cabin_names[c->cabin], cabin_name_len[c->cabin]);
        msgpack_pack_map(pk, 4);
        PACK_LIT(pk, "seats");
        msgpack_pack_uint8(pk, c->seats);
        PACK_LIT(pk, "miles");
        msgpack_pack_uint32(pk, c->miles);
        PACK_LIT(pk, "taxes_cents");
        msgpack_pack_uint32(pk, c->taxes_cents);
        PACK_LIT(pk, "currency");
        msgpack_pack_str_with_body(pk, currency, 3);
    }
}

int gen_write_source(const gen_config_t *cfg, const gen_world_t *w, const gen_plan_t *plan, unsigned s, FILE *csv,
                     gen_progress_t *progress, uint64_t *bytes)
{
    const gen_source_t *src = &gen_sources[s];
    const gen_source_plan_t *sp = &plan->source[s];
    char path[4096], tmp[4200], stamp[20];
    msgpack_packer pk;
    sink_t *sink = malloc(sizeof(*sink));
    uint64_t written = 0;

    snprintf(path, sizeof(path), "%s/%s.msgpack", cfg->out_dir, src->name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (sink == NULL) {
        fprintf(stderr, "flightsearch-gen: out of memory\n");
        return -1;
    }
    sink->bytes = 0;
    sink->len = 0;
    sink->failed = 0;
    sink->fp = fopen(tmp, "wb");
    if (sink->fp == NULL) {
        fprintf(stderr, "flightsearch-gen: %s: %s\n", tmp, strerror(errno));
        free(sink);
        return -1;
    }
    setvbuf(sink->fp, NULL, _IOFBF, OUT_BUFFER);
    msgpack_packer_init(&pk, sink, sink_write);

    /* generated_at: 20:00Z ten days before the first date, so the same flags give the same bytes. */
    fs_timestamp_format(((int64_t)cfg->start_day - 10) * 86400 + 20 * 3600, stamp);
    msgpack_pack_map(&pk, 4);
    PACK_LIT(&pk, "source");
    msgpack_pack_str_with_body(&pk, src->name, strlen(src->name));
    PACK_LIT(&pk, "sequence");
    msgpack_pack_uint64(&pk, 1);
    PACK_LIT(&pk, "generated_at");
    msgpack_pack_str_with_body(&pk, stamp, 20);
    PACK_LIT(&pk, "legs");
    msgpack_pack_array(&pk, sp->legs);

    /* Day by day, and within a day by route and departure time: the order a feed would list them. */
    for (int32_t d = 0; d < cfg->days; d++) {
        int32_t day = cfg->start_day + d;
        for (size_t i = 0; i < sp->flight_count; i++) {
            const gen_flight_t *f = &plan->flights[sp->flights[i]];
            gen_leg_t leg;
            char dep[25], arr[25];
            if (!gen_flight_operates(f, day))
                continue;
            gen_leg_make(cfg, w, plan, s, f, day, &leg);
            fs_datetime_format(leg.departs, dep);
            fs_datetime_format(leg.arrives, arr);
            pack_leg(&pk, &leg, dep, arr, src->currency);
            if (csv != NULL)
                csv_rows(csv, src->name, &leg, dep, arr, src->currency);
            written++;
            if ((++progress->done & 0xffff) == 0)
                gen_progress_update(progress);
        }
    }

    sink_flush(sink);
    int failed = sink->failed || ferror(sink->fp);
    *bytes = sink->bytes;
    if (fclose(sink->fp) != 0 || failed) {
        fprintf(stderr, "flightsearch-gen: %s: write failed: %s\n", tmp, strerror(errno));
        free(sink);
        remove(tmp);
        return -1;
    }
    free(sink);
    if (written != sp->legs) { /* the plan's count and the writer's loop disagree: a bug here */
        fprintf(stderr, "flightsearch-gen: %s: wrote %" PRIu64 " legs, header says %" PRIu64 "\n", tmp, written, sp->legs);
        remove(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        fprintf(stderr, "flightsearch-gen: %s: %s\n", path, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}
