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

/* An open-addressing set of leg keys (fs_leg_key), 0 never being a key of a valid leg? It can be
 * (carrier 00, flight 0 ...): flights start at 1, so a key with flight 0 never occurs; 0 = empty. */
typedef struct key_set {
    uint64_t *slots;
    size_t mask, count;
} key_set_t;

static int key_set_add(key_set_t *s, uint64_t key)
{
    if ((s->count + 1) * 2 > s->mask + 1) {
        size_t n = s->mask ? (s->mask + 1) * 2 : 1024;
        uint64_t *ns = calloc(n, sizeof(*ns));
        if (ns == NULL)
            return FS_ENOMEM;
        for (size_t i = 0; s->mask && i <= s->mask; i++) {
            if (s->slots[i] == 0)
                continue;
            size_t j = fs_hash64(&s->slots[i], 8) & (n - 1);
            while (ns[j] != 0)
                j = (j + 1) & (n - 1);
            ns[j] = s->slots[i];
        }
        free(s->slots);
        s->slots = ns;
        s->mask = n - 1;
    }
    size_t j = fs_hash64(&key, 8) & s->mask;
    while (s->slots[j] != 0) {
        if (s->slots[j] == key)
            return 0;
        j = (j + 1) & s->mask;
    }
    s->slots[j] = key;
    s->count++;
    return 0;
}

static int key_set_has(const key_set_t *s, uint64_t key)
{
    if (s->count == 0)
        return 0;
    size_t j = fs_hash64(&key, 8) & s->mask;
    while (s->slots[j] != 0) {
        if (s->slots[j] == key)
            return 1;
        j = (j + 1) & s->mask;
    }
    return 0;
}

typedef struct delta_state {
    fs_leg_in_t *upserts;
    size_t upsert_count, upsert_cap;
    key_set_t replaced; /* keys of upserts and removes: old legs with these keys are dropped */
    key_set_t removed;  /* keys of removes only */
    uint64_t removed_hits;
} delta_state_t;

static int delta_sink_leg(void *arg, uint64_t index, const fs_leg_in_t *leg)
{
    (void)index;
    delta_state_t *d = arg;
    if (d->upsert_count == d->upsert_cap) {
        size_t cap = d->upsert_cap ? d->upsert_cap * 2 : 256;
        fs_leg_in_t *n = realloc(d->upserts, cap * sizeof(*n));
        if (n == NULL)
            return FS_ENOMEM;
        d->upserts = n;
        d->upsert_cap = cap;
    }
    d->upserts[d->upsert_count++] = *leg;
    return key_set_add(&d->replaced, fs_leg_key(leg->carrier, leg->flight, leg->origin, leg->departs.day));
}

static int delta_sink_remove(void *arg, uint64_t index, const fs_leg_remove_t *key)
{
    (void)index;
    delta_state_t *d = arg;
    uint64_t k = fs_leg_key(key->carrier, key->flight, key->origin, key->day);
    int r = key_set_add(&d->replaced, k);
    return r != 0 ? r : key_set_add(&d->removed, k);
}

static int skip_replaced(void *arg, const fs_leg_t *leg)
{
    delta_state_t *d = arg;
    uint64_t k = fs_leg_key(leg->carrier, leg->flight, leg->origin, leg->day);
    if (!key_set_has(&d->replaced, k))
        return 0;
    if (key_set_has(&d->removed, k))
        d->removed_hits++;
    return 1;
}

fs_segment_t *fs_apply_delta(const fs_segment_t *base, const char *source, const uint8_t *body, size_t len,
                             fs_feed_format_t format, fs_feed_errors_t *errs, fs_delta_result_t *res)
{
    delta_state_t d;
    memset(&d, 0, sizeof(d));
    memset(res, 0, sizeof(*res));
    memset(errs, 0, sizeof(*errs));
    fs_feed_sink_t sink = {.leg = delta_sink_leg, .remove = delta_sink_remove, .arg = &d};
    fs_segment_t *seg = NULL;
    res->rc = fs_feed_decode(body, len, format, FS_FEED_DELTA, source, &res->header, &sink, errs);
    if (res->rc != 0)
        goto out;
    fs_segment_builder_t *b = fs_segment_builder_new(source, res->header.sequence, res->header.generated_at);
    if (b == NULL) {
        res->rc = FS_ENOMEM;
        goto out;
    }
    if (base != NULL && (res->rc = fs_segment_builder_add_segment(b, base, skip_replaced, &d)) != 0) {
        fs_segment_builder_free(b);
        goto out;
    }
    for (size_t i = 0; i < d.upsert_count; i++) {
        if ((res->rc = fs_segment_builder_add(b, &d.upserts[i])) != 0) {
            fs_segment_builder_free(b);
            goto out;
        }
    }
    seg = fs_segment_builder_finish(b, fs_hash64(body, len));
    if (seg == NULL) {
        res->rc = FS_ENOMEM;
        goto out;
    }
    res->upserted = d.upsert_count;
    res->removed = d.removed_hits;
out:
    free(d.upserts);
    free(d.replaced.slots);
    free(d.removed.slots);
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
