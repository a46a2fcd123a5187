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

/* ------------------------------------------------------------- batches */

/* Deltas folded into one (start-up replay): the net effect of a run of deltas, later wins. */
typedef struct batch_slot {
    uint64_t key;  /* fs_leg_key; 0 = empty (flight numbers start at 1) */
    int64_t upsert; /* index into upserts, or -1: removed */
} batch_slot_t;

struct fs_delta_batch {
    batch_slot_t *slots;
    size_t mask, count;
    fs_leg_in_t *upserts;
    size_t upsert_count, upsert_cap;
};

fs_delta_batch_t *fs_delta_batch_new(void)
{
    return calloc(1, sizeof(fs_delta_batch_t));
}

void fs_delta_batch_free(fs_delta_batch_t *b)
{
    if (b == NULL)
        return;
    free(b->slots);
    free(b->upserts);
    free(b);
}

static batch_slot_t *batch_slot(fs_delta_batch_t *b, uint64_t key)
{
    if ((b->count + 1) * 2 > b->mask + 1) {
        size_t n = b->mask ? (b->mask + 1) * 2 : 1024;
        batch_slot_t *ns = calloc(n, sizeof(*ns));
        if (ns == NULL)
            return NULL;
        for (size_t i = 0; b->slots != NULL && i <= b->mask; i++) {
            if (b->slots[i].key == 0)
                continue;
            size_t j = fs_hash64(&b->slots[i].key, 8) & (n - 1);
            while (ns[j].key != 0)
                j = (j + 1) & (n - 1);
            ns[j] = b->slots[i];
        }
        free(b->slots);
        b->slots = ns;
        b->mask = n - 1;
    }
    size_t j = fs_hash64(&key, 8) & b->mask;
    while (b->slots[j].key != 0 && b->slots[j].key != key)
        j = (j + 1) & b->mask;
    if (b->slots[j].key == 0) {
        b->slots[j].key = key;
        b->slots[j].upsert = -1;
        b->count++;
    }
    return &b->slots[j];
}

int fs_delta_batch_add(fs_delta_batch_t *b, const char *source, const uint8_t *body, size_t len, fs_feed_format_t format,
                       fs_feed_errors_t *errs, fs_feed_header_t *header)
{
    delta_state_t d;
    memset(&d, 0, sizeof(d));
    memset(errs, 0, sizeof(*errs));
    fs_feed_sink_t sink = {.leg = delta_sink_leg, .remove = delta_sink_remove, .arg = &d};
    int rc = fs_feed_decode(body, len, format, FS_FEED_DELTA, source, header, &sink, errs);
    /* within one delta an upsert wins over a remove of its key; across deltas the later wins */
    for (size_t i = 0; rc == 0 && i < d.remove_count; i++) {
        batch_slot_t *slot = batch_slot(b, d.removes[i]);
        if (slot == NULL)
            rc = FS_ENOMEM;
        else
            slot->upsert = -1; /* an earlier upsert of it stays in upserts, unreferenced */
    }
    for (size_t i = 0; rc == 0 && i < d.upsert_count; i++) {
        const fs_leg_in_t *u = &d.upserts[i];
        batch_slot_t *slot = batch_slot(b, fs_leg_key(u->carrier, u->flight, u->origin, u->departs.day));
        fs_leg_in_t *grown = fs_array_grow(b->upserts, &b->upsert_cap, b->upsert_count, sizeof(*grown), 256);
        if (slot == NULL || grown == NULL) {
            rc = FS_ENOMEM;
            break;
        }
        b->upserts = grown;
        if (slot->upsert >= 0) {
            b->upserts[slot->upsert] = *u; /* replaced in place */
        } else {
            slot->upsert = (int64_t)b->upsert_count;
            b->upserts[b->upsert_count++] = *u;
        }
    }
    free(d.upserts);
    free(d.removes);
    return rc;
}

fs_segment_t *fs_delta_batch_apply(fs_delta_batch_t *b, const fs_segment_t *base, const char *source, uint64_t sequence,
                                   int64_t generated_at, uint64_t body_hash, int *rc)
{
    /* the net effect: every key's last upsert, and the keys whose last word was a remove */
    size_t n_up = 0, n_rm = 0;
    fs_leg_in_t *ups = malloc((b->count ? b->count : 1) * sizeof(*ups));
    uint64_t *rms = malloc((b->count ? b->count : 1) * sizeof(*rms));
    fs_segment_t *seg = NULL;
    *rc = FS_ENOMEM;
    if (ups != NULL && rms != NULL) {
        for (size_t j = 0; b->slots != NULL && j <= b->mask; j++) {
            if (b->slots[j].key == 0)
                continue;
            if (b->slots[j].upsert >= 0)
                ups[n_up++] = b->upserts[b->slots[j].upsert];
            else
                rms[n_rm++] = b->slots[j].key;
        }
        uint64_t hits;
        seg = fs_segment_apply_delta(base, source, sequence, generated_at, body_hash, ups, n_up, rms, n_rm, NULL, &hits, rc);
    }
    free(ups);
    free(rms);
    return seg;
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
