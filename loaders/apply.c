/*
 * loaders/apply.c: decode + validate + build. A snapshot body becomes a segment; a delta body and
 * the source's current segment become the next segment. Pure functions of their inputs: the
 * loader threads, start-up recovery and the tests all call them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "loaders/internal.h"
#include "loaders/reader.h"

/* ------------------------------------------------------------ snapshot */

static int sink_build(void *arg, uint64_t index, const fs_leg_in_t *leg)
{
    (void)index;
    return fs_segment_builder_add(arg, leg);
}

fs_segment_t *fs_apply_snapshot(const char *expected_source, const uint8_t *body, size_t len, fs_feed_format_t format,
                                fs_feed_errors_t *errs, fs_feed_header_t *header, int *rc)
{
    /* the source is only known once the header is read: name the segment afterwards */
    fs_segment_builder_t *b = fs_segment_builder_new("", 0, 0);
    if (b == NULL) {
        *rc = FS_ENOMEM;
        return NULL;
    }
    fs_feed_sink_t sink = {.leg = sink_build, .remove = NULL, .arg = b};
    memset(header, 0, sizeof(*header));
    memset(errs, 0, sizeof(*errs));
    *rc = fs_feed_decode(body, len, format, FS_FEED_SNAPSHOT, expected_source, header, &sink, errs);
    if (*rc != 0) {
        fs_segment_builder_free(b);
        return NULL;
    }
    fs_segment_t *seg = fs_segment_builder_finish(b, fs_hash64(body, len));
    if (seg == NULL) {
        *rc = FS_ENOMEM;
        return NULL;
    }
    snprintf(seg->source, sizeof(seg->source), "%s", header->source);
    seg->sequence = header->sequence;
    seg->generated_at = header->generated_at;
    return seg;
}

/* --------------------------------------------------------------- delta */

/* What a delta says, decoded: the upserts in full, the removals as leg keys. */
typedef struct delta_state {
    fs_leg_in_t *upserts;
    size_t upsert_count, upsert_cap;
    uint64_t *removes;
    size_t remove_count, remove_cap;
} delta_state_t;

static int delta_sink_leg(void *arg, uint64_t index, const fs_leg_in_t *leg)
{
    (void)index;
    delta_state_t *d = arg;
    fs_leg_in_t *grown = fs_array_grow(d->upserts, &d->upsert_cap, d->upsert_count, sizeof(*grown), 256);
    if (grown == NULL)
        return FS_ENOMEM;
    d->upserts = grown;
    d->upserts[d->upsert_count++] = *leg;
    return 0;
}

static int delta_sink_remove(void *arg, uint64_t index, const fs_leg_remove_t *key)
{
    (void)index;
    delta_state_t *d = arg;
    uint64_t *grown = fs_array_grow(d->removes, &d->remove_cap, d->remove_count, sizeof(*grown), 256);
    if (grown == NULL)
        return FS_ENOMEM;
    d->removes = grown;
    d->removes[d->remove_count++] = fs_leg_key(key->carrier, key->flight, key->origin, key->day);
    return 0;
}

fs_segment_t *fs_apply_delta_changes(const fs_segment_t *base, const char *source, const uint8_t *body, size_t len,
                                     fs_feed_format_t format, fs_change_set_t *changes, fs_feed_errors_t *errs,
                                     fs_delta_result_t *res)
{
    delta_state_t d;
    memset(&d, 0, sizeof(d));
    memset(res, 0, sizeof(*res));
    memset(errs, 0, sizeof(*errs));
    fs_feed_sink_t sink = {.leg = delta_sink_leg, .remove = delta_sink_remove, .arg = &d};
    fs_segment_t *seg = NULL;
    res->rc = fs_feed_decode(body, len, format, FS_FEED_DELTA, source, &res->header, &sink, errs);
    if (res->rc == 0) {
        seg = fs_segment_apply_delta(base, source, res->header.sequence, res->header.generated_at, fs_hash64(body, len),
                                     d.upserts, d.upsert_count, d.removes, d.remove_count, changes, &res->removed,
                                     &res->rc);
        res->upserted = seg != NULL ? d.upsert_count : 0;
    }
    free(d.upserts);
    free(d.removes);
    return seg;
}

fs_segment_t *fs_apply_delta(const fs_segment_t *base, const char *source, const uint8_t *body, size_t len,
                             fs_feed_format_t format, fs_feed_errors_t *errs, fs_delta_result_t *res)
{
    return fs_apply_delta_changes(base, source, body, len, format, NULL, errs, res);
}

/* ------------------------------------------------------------ peeking */

/* Walks the top-level keys for "source" (and "sequence" when sequence is not NULL), skipping the
 * other values unread; stops as soon as it has what it was asked for. Producers that write the
 * header first (the generator, the feed tool) cost a few bytes; a header after "legs" costs one
 * skip over the records, still far less than decoding them. */
static int peek(const uint8_t *body, size_t len, fs_feed_format_t format, char source[FS_SOURCE_NAME_MAX + 1], uint64_t *sequence)
{
    fs_rd_t *rd = malloc(sizeof(*rd));
    if (rd == NULL)
        return FS_ENOMEM;
    fs_rd_init(rd, format, body, len);
    fs_rd_val_t v;
    fs_rd_str_t key;
    int have_source = 0, have_sequence = sequence == NULL, r = FS_EINVAL;
    if (fs_rd_read(rd, &v) != 0 || v.type != FS_RD_MAP)
        goto out;
    while (!(have_source && have_sequence) && fs_rd_map_next(rd, &key) > 0) {
        if (key.p != NULL && key.len == 6 && memcmp(key.p, "source", 6) == 0) {
            if (fs_rd_read(rd, &v) != 0 || v.type != FS_RD_STR || v.v.str.p == NULL || !fs_feed_source_valid(v.v.str.p, v.v.str.len))
                goto out;
            memcpy(source, v.v.str.p, v.v.str.len);
            source[v.v.str.len] = '\0';
            have_source = 1;
        } else if (sequence != NULL && key.p != NULL && key.len == 8 && memcmp(key.p, "sequence", 8) == 0) {
            if (fs_rd_read(rd, &v) != 0 || v.type != FS_RD_UINT || v.v.u == 0)
                goto out;
            *sequence = v.v.u;
            have_sequence = 1;
        } else if (fs_rd_skip(rd) != 0) {
            goto out;
        }
    }
    r = have_source && have_sequence ? 0 : FS_EINVAL;
out:
    free(rd);
    return r;
}

int fs_feed_peek_source(const uint8_t *body, size_t len, fs_feed_format_t format, char out[FS_SOURCE_NAME_MAX + 1])
{
    return peek(body, len, format, out, NULL);
}

int fs_feed_peek_header(const uint8_t *body, size_t len, fs_feed_format_t format, char source[FS_SOURCE_NAME_MAX + 1],
                        uint64_t *sequence)
{
    return peek(body, len, format, source, sequence);
}
