/*
 * index/delta.c: a source's next segment from its current one and a delta, touching only what the
 * delta touches; change sets (what a publish changed, cabin by cabin); compaction.
 *
 * A segment's routes each point at their own leg array, and those arrays live in reference-counted
 * blocks (index.h). A delta of k legs:
 *   1. converts its upserts to stored legs (fares appended to a copy of the base's last fare
 *      page; every full page is shared, nothing re-hashed) and sorts them like a segment;
 *   2. finds the base leg of every touched key (carrier, flight, origin, day): first in the
 *      upsert's own route (two binary searches), else in each route from that origin, since a key
 *      says nothing of the destination;
 *   3. rebuilds only the routes holding a touched leg or an upsert, merging the base route's
 *      remaining legs with the route's upserts, into one new block;
 *   4. copies the route table, replacing the rebuilt routes (a flat O(routes) pass), and shares
 *      every other route array, fare page and block with the base (one reference per block).
 * Change entries come from the (old, new) pairs of step 2, so the change set costs O(k).
 *
 * What replaced legs leave behind stays in older blocks until no route uses them; deltas drain
 * such blocks as they go (evacuate(), copy forward). As a safety net, a delta on a base with over
 * FS_DELTA_MAX_BLOCKS blocks, or whose waste passes the live legs' bytes, or that touches more
 * than a quarter of the legs, rebuilds the whole source instead (fs_segment_flatten's work,
 * O(legs)), as does a delta whose new fares would overflow the fare table.
 *
 * A snapshot's change set (fs_segment_diff) is one merge of the old and new route lists: legs
 * that match in place (same route, day, minute, carrier, flight) are compared; the few that do not
 * (added, removed, or moved to another destination or minute) are matched by key afterwards.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "index/internal.h"

/* Blocks a source's segment may hold before a delta rebuilds it whole (a safety net: copy
 * forward keeps the count near FS_DELTA_MERGE_BLOCKS, above which the emptiest are merged). */
#define FS_DELTA_MAX_BLOCKS 512
#define FS_DELTA_MERGE_BLOCKS 32

/* ------------------------------------------------------------ change sets */

fs_change_set_t *fs_change_set_new(const char *source, int want_entries)
{
    fs_change_set_t *cs = calloc(1, sizeof(*cs));
    if (cs == NULL)
        return NULL;
    size_t n = strlen(source);
    memcpy(cs->source, source, n > FS_SOURCE_NAME_MAX ? FS_SOURCE_NAME_MAX : n);
    cs->want_entries = want_entries;
    cs->refs = 1;
    return cs;
}

void fs_change_set_release(fs_change_set_t *cs)
{
    if (cs == NULL || __atomic_sub_fetch(&cs->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    free(cs->entries);
    free(cs);
}

static int cabin_open(const fs_leg_t *l, int c)
{
    return l != NULL && (l->cabin_mask & (1u << c)) && FS_CABIN_SEATS(l->cabin[c]) >= 1;
}

static int cabin_present(const fs_leg_t *l, int c)
{
    return l != NULL && (l->cabin_mask & (1u << c));
}

static unsigned popcount8(unsigned v)
{
    return (unsigned)__builtin_popcount(v & 0xffu);
}

/* Records what happened to one leg between old (NULL: absent) and new (NULL: absent). */
static int change_note(fs_change_set_t *cs, const fs_leg_t *old, const fs_segment_t *old_seg, const fs_leg_t *new_leg,
                       const fs_segment_t *new_seg)
{
    if (old == NULL && new_leg == NULL)
        return 0;
    fs_change_t ch;
    memset(&ch, 0, sizeof(ch));
    const fs_leg_t *any = new_leg != NULL ? new_leg : old;
    ch.key = fs_leg_key(any->carrier, any->flight, any->origin, any->day);
    ch.destination = any->destination;
    ch.old_destination = old != NULL ? old->destination : any->destination;
    ch.added = old == NULL;
    ch.removed = new_leg == NULL;
    ch.moved = old != NULL && new_leg != NULL &&
               (old->destination != new_leg->destination || old->dep_minute != new_leg->dep_minute ||
                old->duration_min != new_leg->duration_min || old->dep_offset_q != new_leg->dep_offset_q ||
                old->arr_offset_q != new_leg->arr_offset_q);
    for (int c = 0; c < FS_CABIN_COUNT; c++) {
        int was = cabin_open(old, c), is = cabin_open(new_leg, c);
        const fs_fare_t *of = cabin_present(old, c) ? fs_segment_fare(old_seg, FS_CABIN_FARE(old->cabin[c])) : NULL;
        const fs_fare_t *nf = cabin_present(new_leg, c) ? fs_segment_fare(new_seg, FS_CABIN_FARE(new_leg->cabin[c])) : NULL;
        ch.old_seats[c] = of != NULL ? (uint8_t)FS_CABIN_SEATS(old->cabin[c]) : 0;
        ch.new_seats[c] = nf != NULL ? (uint8_t)FS_CABIN_SEATS(new_leg->cabin[c]) : 0;
        ch.old_miles[c] = of != NULL ? of->miles : 0;
        ch.new_miles[c] = nf != NULL ? nf->miles : 0;
        if (!was && is)
            ch.opened |= (uint8_t)(1u << c);
        if (was && !is)
            ch.closed |= (uint8_t)(1u << c);
        if (was && is && ch.old_seats[c] != ch.new_seats[c])
            ch.seats |= (uint8_t)(1u << c);
        if (of != NULL && nf != NULL &&
            (of->miles != nf->miles || of->taxes_cents != nf->taxes_cents || of->currency != nf->currency))
            ch.repriced |= (uint8_t)(1u << c);
    }
    if (!ch.added && !ch.removed && !ch.moved && (ch.opened | ch.closed | ch.seats | ch.repriced) == 0)
        return 0;
    cs->counts.opened += popcount8(ch.opened);
    cs->counts.closed += popcount8(ch.closed);
    cs->counts.seats += popcount8(ch.seats);
    cs->counts.repriced += popcount8(ch.repriced);
    cs->counts.added += ch.added;
    cs->counts.removed += ch.removed;
    if (!cs->want_entries)
        return 0;
    fs_change_t *grown = fs_array_grow(cs->entries, &cs->entry_cap, cs->entry_count, sizeof(*grown), 64);
    if (grown == NULL)
        return FS_ENOMEM;
    cs->entries = grown;
    cs->entries[cs->entry_count++] = ch;
    return 0;
}

/* ------------------------------------------------------------------ diff */

/* Order of legs within a route: (day, dep_minute, carrier, flight). */
static int leg_route_cmp(const fs_leg_t *a, const fs_leg_t *b)
{
    if (a->day != b->day)
        return a->day < b->day ? -1 : 1;
    if (a->dep_minute != b->dep_minute)
        return a->dep_minute < b->dep_minute ? -1 : 1;
    if (a->carrier != b->carrier)
        return a->carrier < b->carrier ? -1 : 1;
    return a->flight < b->flight ? -1 : a->flight > b->flight;
}

static int od_cmp(const fs_route_t *a, const fs_route_t *b)
{
    if (a->origin != b->origin)
        return a->origin < b->origin ? -1 : 1;
    return a->destination < b->destination ? -1 : a->destination > b->destination;
}

typedef struct leftover {
    uint64_t key;
    const fs_leg_t *leg;
} leftover_t;

typedef struct leftovers {
    leftover_t *v;
    size_t n, cap;
} leftovers_t;

static int leftover_add(leftovers_t *l, const fs_leg_t *leg)
{
    leftover_t *grown = fs_array_grow(l->v, &l->cap, l->n, sizeof(*grown), 256);
    if (grown == NULL)
        return FS_ENOMEM;
    l->v = grown;
    l->v[l->n].key = fs_leg_key(leg->carrier, leg->flight, leg->origin, leg->day);
    l->v[l->n].leg = leg;
    l->n++;
    return 0;
}

static int leftover_cmp(const void *pa, const void *pb)
{
    const leftover_t *a = pa, *b = pb;
    return a->key < b->key ? -1 : a->key > b->key;
}

static uint64_t monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int fs_segment_diff(const fs_segment_t *old, const fs_segment_t *new_seg, fs_change_set_t *cs)
{
    static const fs_segment_t empty;
    uint64_t t0 = monotonic_us();
    if (old == NULL)
        old = &empty;
    if (new_seg == NULL)
        new_seg = &empty;
    leftovers_t lo_old = {0}, lo_new = {0};
    int rc = 0;
    uint32_t a = 0, b = 0;
    while (rc == 0 && (a < old->route_count || b < new_seg->route_count)) {
        const fs_route_t *ra = a < old->route_count ? &old->routes[a] : NULL;
        const fs_route_t *rb = b < new_seg->route_count ? &new_seg->routes[b] : NULL;
        int c = ra == NULL ? 1 : rb == NULL ? -1 : od_cmp(ra, rb);
        uint32_t i = 0, j = 0, ni = c <= 0 && ra != NULL ? ra->count : 0, nj = c >= 0 && rb != NULL ? rb->count : 0;
        if (c == 0 && ra != NULL && rb != NULL && ra->legs == rb->legs && ra->count == rb->count) {
            i = ni; /* the same shared array (a delta's untouched route): nothing changed */
            j = nj;
        }
        while (rc == 0 && (i < ni || j < nj)) {
            int k = i == ni ? 1 : j == nj ? -1 : leg_route_cmp(&ra->legs[i], &rb->legs[j]);
            if (k == 0) {
                rc = change_note(cs, &ra->legs[i], old, &rb->legs[j], new_seg);
                i++;
                j++;
            } else if (k < 0) {
                rc = leftover_add(&lo_old, &ra->legs[i++]);
            } else {
                rc = leftover_add(&lo_new, &rb->legs[j++]);
            }
        }
        a += c <= 0;
        b += c >= 0;
    }
    /* the legs that did not match in place: by key (a leg may have moved route or minute) */
    if (rc == 0 && lo_old.n > 1)
        qsort(lo_old.v, lo_old.n, sizeof(leftover_t), leftover_cmp);
    if (rc == 0 && lo_new.n > 1)
        qsort(lo_new.v, lo_new.n, sizeof(leftover_t), leftover_cmp);
    size_t i = 0, j = 0;
    while (rc == 0 && (i < lo_old.n || j < lo_new.n)) {
        int k = i == lo_old.n ? 1 : j == lo_new.n ? -1 : lo_old.v[i].key < lo_new.v[j].key ? -1 : lo_old.v[i].key > lo_new.v[j].key;
        if (k == 0)
            rc = change_note(cs, lo_old.v[i++].leg, old, lo_new.v[j++].leg, new_seg);
        else if (k < 0)
            rc = change_note(cs, lo_old.v[i++].leg, old, NULL, NULL);
        else
            rc = change_note(cs, NULL, NULL, lo_new.v[j++].leg, new_seg);
    }
    free(lo_old.v);
    free(lo_new.v);
    cs->took_us += monotonic_us() - t0;
    return rc;
}

/* ------------------------------------------------------------- flatten */

uint64_t fs_segment_waste_bytes(const fs_segment_t *seg)
{
    uint64_t live = (uint64_t)seg->leg_count * sizeof(fs_leg_t);
    return seg->block_leg_bytes > live ? seg->block_leg_bytes - live : 0;
}

fs_segment_t *fs_segment_flatten(const fs_segment_t *seg)
{
    fs_segment_builder_t *b = fs_segment_builder_new(seg->source, seg->sequence, seg->generated_at);
    if (b == NULL)
        return NULL;
    if (fs_segment_builder_add_segment(b, seg, NULL, NULL) != 0) {
        fs_segment_builder_free(b);
        return NULL;
    }
    fs_segment_t *out = fs_segment_builder_finish(b, seg->body_hash);
    if (out != NULL)
        out->updated_at = seg->updated_at;
    return out;
}

/* ------------------------------------------------------------------ delta */

/* Keys the delta touches: key -> upsert index (or -1: removed only), and the base leg found. */
typedef struct touch {
    uint64_t key;
    int64_t upsert;        /* index into the sorted upserts, -1 for a removal only */
    const fs_leg_t *old;   /* the base's leg with this key, or NULL */
    uint32_t old_route;    /* its route in base */
    int removed;           /* a removal named it */
} touch_t;

typedef struct touch_set {
    touch_t *slots; /* key 0 = empty (flight numbers start at 1, so no leg has key 0) */
    size_t mask, count;
} touch_set_t;

static uint64_t mix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return k;
}

static touch_t *touch_get(touch_set_t *s, uint64_t key)
{
    size_t j = mix64(key) & s->mask;
    while (s->slots[j].key != 0 && s->slots[j].key != key)
        j = (j + 1) & s->mask;
    if (s->slots[j].key == 0) {
        s->slots[j].key = key;
        s->slots[j].upsert = -1;
        s->count++;
    }
    return &s->slots[j];
}

/* The delta's fare storage: a copy of the base's last, partial page, then its new fares. Fare
 * fares[i] has index base_index + i. */
typedef struct fare_appender {
    fs_fare_t *fares;
    size_t count, cap, base_index;
    uint32_t *slots; /* new fares only: position + 1 */
    size_t mask;
} fare_appender_t;

static int64_t append_fare(void *arg, const fs_fare_t *f)
{
    fare_appender_t *fa = arg;
    uint32_t words[3] = {f->miles, f->taxes_cents, f->currency};
    size_t j = fs_hash64(words, sizeof(words)) & fa->mask;
    for (; fa->slots[j] != 0; j = (j + 1) & fa->mask) {
        const fs_fare_t *o = &fa->fares[fa->slots[j] - 1];
        if (o->miles == f->miles && o->taxes_cents == f->taxes_cents && o->currency == f->currency)
            return (int64_t)(fa->base_index + fa->slots[j] - 1);
    }
    if (fa->base_index + fa->count >= FS_MAX_FARES_PER_SEGMENT || fa->count >= fa->cap)
        return FS_ERANGE;
    fa->fares[fa->count] = *f;
    fa->slots[j] = (uint32_t)fa->count + 1;
    return (int64_t)(fa->base_index + fa->count++);
}

static int leg_segment_cmp(const void *pa, const void *pb)
{
    const fs_leg_t *a = pa, *b = pb;
    if (a->origin != b->origin)
        return a->origin < b->origin ? -1 : 1;
    if (a->destination != b->destination)
        return a->destination < b->destination ? -1 : 1;
    return leg_route_cmp(a, b);
}

/* The leg of route r with key's (carrier, flight) on key's day, or NULL. */
static const fs_leg_t *find_in_route(const fs_route_t *r, uint64_t key)
{
    uint16_t day = (uint16_t)(key & 0xffff);
    fs_carrier_t carrier = (fs_carrier_t)(key >> 48);
    uint16_t flight = (uint16_t)(key >> 32);
    uint32_t lo, end;
    fs_route_days(NULL, r, day, day, &lo, &end);
    for (uint32_t i = lo; i < end; i++)
        if (r->legs[i].carrier == carrier && r->legs[i].flight == flight)
            return &r->legs[i];
    return NULL;
}

/* Finds t's leg in base: in hint's route first (where an upsert usually finds its old self), else
 * in every route from the key's origin. */
static void find_old(const fs_segment_t *base, touch_t *t, const fs_route_t *hint)
{
    if (hint != NULL && (t->old = find_in_route(hint, t->key)) != NULL) {
        t->old_route = (uint32_t)(hint - base->routes);
        return;
    }
    fs_airport_t origin = (fs_airport_t)(t->key >> 16);
    uint32_t first, end;
    fs_segment_routes_from(base, origin, &first, &end);
    for (uint32_t r = first; r < end; r++) {
        if (&base->routes[r] == hint)
            continue;
        if ((t->old = find_in_route(&base->routes[r], t->key)) != NULL) {
            t->old_route = r;
            return;
        }
    }
}

/* The whole-source path: base's legs minus the touched keys, plus the upserts, rebuilt and sorted
 * like a snapshot; the change set by diff. For large deltas and to shed a base's waste. */
static int skip_touched(void *arg, const fs_leg_t *leg)
{
    const touch_set_t *s = arg;
    uint64_t key = fs_leg_key(leg->carrier, leg->flight, leg->origin, leg->day);
    size_t j = mix64(key) & s->mask;
    while (s->slots[j].key != 0) {
        if (s->slots[j].key == key)
            return 1;
        j = (j + 1) & s->mask;
    }
    return 0;
}

static fs_segment_t *rebuild_whole(const fs_segment_t *base, const char *source, uint64_t sequence, int64_t generated_at,
                                   uint64_t body_hash, const fs_leg_in_t *upserts, size_t n_upserts, touch_set_t *touched,
                                   fs_change_set_t *changes, int *rc)
{
    fs_segment_builder_t *b = fs_segment_builder_new(source, sequence, generated_at);
    if (b == NULL) {
        *rc = FS_ENOMEM;
        return NULL;
    }
    if (base != NULL && (*rc = fs_segment_builder_add_segment(b, base, skip_touched, touched)) != 0) {
        fs_segment_builder_free(b);
        return NULL;
    }
    for (size_t i = 0; i < n_upserts; i++)
        if ((*rc = fs_segment_builder_add(b, &upserts[i])) != 0) {
            fs_segment_builder_free(b);
            return NULL;
        }
    fs_segment_t *seg = fs_segment_builder_finish(b, body_hash);
    if (seg == NULL) {
        *rc = FS_ENOMEM;
        return NULL;
    }
    if (changes != NULL && (*rc = fs_segment_diff(base, seg, changes)) != 0) {
        fs_segment_free(seg);
        return NULL;
    }
    *rc = 0;
    return seg;
}

typedef struct upsert_item {
    fs_leg_t leg;
    uint64_t key;
} upsert_item_t;

static int upsert_item_cmp(const void *pa, const void *pb)
{
    return leg_segment_cmp(&((const upsert_item_t *)pa)->leg, &((const upsert_item_t *)pb)->leg);
}

/* A route the delta rebuilds: its (origin, destination), its base route (or NULL), the range of
 * its upserts in the sorted upserts, and the base legs to drop. */
typedef struct rebuilt {
    fs_airport_t origin, destination;
    const fs_route_t *base;
    size_t up_first, up_end;
    fs_route_t out;
} rebuilt_t;

static int rebuilt_cmp(const void *pa, const void *pb)
{
    const rebuilt_t *a = pa, *b = pb;
    if (a->origin != b->origin)
        return a->origin < b->origin ? -1 : 1;
    return a->destination < b->destination ? -1 : a->destination > b->destination;
}

static int ptr_cmp(const void *pa, const void *pb)
{
    uintptr_t a = (uintptr_t) * (const fs_leg_t *const *)pa, b = (uintptr_t) * (const fs_leg_t *const *)pb;
    return a < b ? -1 : a > b;
}

/* ------------------------------------------------------- blocks of a base */

/* Where each block of a segment lies in memory, sorted, to tell which block a route lives in. */
typedef struct block_range {
    uintptr_t start, end;
    unsigned index; /* in the segment's blocks */
} block_range_t;

typedef struct block_map {
    block_range_t *ranges;
    unsigned count;
} block_map_t;

static int range_cmp(const void *pa, const void *pb)
{
    const block_range_t *a = pa, *b = pb;
    return a->start < b->start ? -1 : a->start > b->start;
}

static int block_map_init(block_map_t *m, const fs_segment_t *seg)
{
    m->count = seg->block_count;
    m->ranges = malloc((m->count ? m->count : 1) * sizeof(*m->ranges));
    if (m->ranges == NULL)
        return FS_ENOMEM;
    for (unsigned i = 0; i < m->count; i++)
        m->ranges[i] = (block_range_t){(uintptr_t)seg->blocks[i]->mem,
                                       (uintptr_t)seg->blocks[i]->mem + seg->blocks[i]->len, i};
    qsort(m->ranges, m->count, sizeof(*m->ranges), range_cmp);
    return 0;
}

/* The index of the block legs lie in, or -1 (not one of these blocks). */
static int block_map_find(const block_map_t *m, const fs_leg_t *legs)
{
    uintptr_t p = (uintptr_t)legs;
    unsigned lo = 0, hi = m->count;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (m->ranges[mid].end <= p)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < m->count && m->ranges[lo].start <= p ? (int)m->ranges[lo].index : -1;
}

/*
 * Copy forward. A block in which under four fifths of the legs are still used by the base's
 * routes, or any block when the base holds over FS_DELTA_MERGE_BLOCKS (without this, blocks
 * that stay mostly used pile up until the safety net rebuilds the whole source: a 1.2 s push
 * every ~128 deltas on the medium bench), is drained whole, so that it is freed: its routes are rebuilt into the delta's new block as they are, up to
 * max(4 x the legs the delta rebuilds anyway, 32,768) legs per delta, so the copying a delta does
 * is bounded and proportional, and a drained block is freed once no route points into it.
 */
static int evacuate(const fs_segment_t *b0, const block_map_t *m, rebuilt_t *rb, size_t *rb_n, size_t rebuilt_legs)
{
    if (b0->block_count < 2)
        return 0;
    uint64_t *live = calloc(b0->block_count, sizeof(*live)); /* legs still used, per block */
    unsigned char *pick = calloc(b0->block_count, 1);         /* 1: drain whole, 2: drain part */
    int *ix = malloc((b0->route_count ? b0->route_count : 1) * sizeof(*ix));
    if (live == NULL || pick == NULL || ix == NULL) {
        free(live);
        free(pick);
        free(ix);
        return FS_ENOMEM;
    }
    for (uint32_t r = 0; r < b0->route_count; r++) {
        ix[r] = block_map_find(m, b0->routes[r].legs);
        if (ix[r] >= 0)
            live[ix[r]] += b0->routes[r].count;
    }
    /* Whole blocks first, the emptiest first, each only if all it still holds fits the budget
     * (draining part of many blocks frees none of them); then, with what is left, part of the
     * one least used block too large to move at once (a snapshot's), over the next deltas. */
    size_t budget = rebuilt_legs * 4 > 32768 ? rebuilt_legs * 4 : 32768;
    int partial = -1;
    for (;;) {
        int best = -1;
        for (unsigned i = 0; i < b0->block_count; i++) {
            const fs_leg_block_t *blk = b0->blocks[i];
            uint64_t held = blk->leg_bytes / sizeof(fs_leg_t);
            /* mostly replaced; or, once blocks pile up, any (the emptiest go first) */
            int drain = held > 0 && (live[i] * 5 < held * 4 || b0->block_count > FS_DELTA_MERGE_BLOCKS);
            if (!drain || pick[i])
                continue;
            if (live[i] > budget) {
                if (partial < 0 || live[i] * (b0->blocks[partial]->leg_bytes / sizeof(fs_leg_t)) <
                                       live[partial] * held)
                    partial = (int)i;
                continue;
            }
            if (best < 0 || live[i] < live[best])
                best = (int)i;
        }
        if (best < 0)
            break;
        pick[best] = 1;
        budget -= live[best];
    }
    if (partial >= 0 && !pick[partial])
        pick[partial] = 2;
    for (uint32_t r = 0; r < b0->route_count; r++) {
        if (ix[r] < 0 || !pick[ix[r]])
            continue;
        const fs_route_t *br = &b0->routes[r];
        if (pick[ix[r]] == 2) {
            if (br->count > budget)
                continue;
            budget -= br->count;
        }
        rb[(*rb_n)++] = (rebuilt_t){.origin = br->origin, .destination = br->destination, .base = br};
    }
    free(ix);
    free(pick);
    free(live);
    return 0;
}

/* Gives seg a reference on each block of base that one of its routes or its first kept_fare_pages
 * fare pages still point into, with room for two more (the delta's legs and fares). */
static int share_used_blocks(fs_segment_t *seg, const fs_segment_t *base, const block_map_t *m, const fs_route_t *routes,
                             size_t n, uint32_t kept_fare_pages)
{
    unsigned char *used = calloc(base->block_count ? base->block_count : 1, 1);
    seg->blocks = malloc((base->block_count + 2) * sizeof(void *)); /* block pointers */
    if (used == NULL || seg->blocks == NULL) {
        free(used);
        return FS_ENOMEM;
    }
    for (size_t r = 0; r < n; r++) {
        int b = block_map_find(m, routes[r].legs);
        if (b >= 0)
            used[b] = 1;
    }
    for (uint32_t p = 0; p < kept_fare_pages; p++)
        for (unsigned i = 0; i < base->block_count; i++)
            if (base->blocks[i] == base->fare_page_blocks[p]) {
                used[i] = 1;
                break;
            }
    for (unsigned i = 0; i < base->block_count; i++) {
        if (!used[i])
            continue; /* drained: freed with the last segment that still holds it */
        __atomic_add_fetch(&base->blocks[i]->refs, 1, __ATOMIC_RELAXED);
        seg->blocks[seg->block_count++] = base->blocks[i];
    }
    free(used);
    return 0;
}

/* seg's fare pages: base's, and when the delta added fares, base's full pages then fa's storage (a
 * block of its own, added to seg's blocks). Takes fa->fares (set to NULL) when it uses it. */
static int set_delta_fares(fs_segment_t *seg, const fs_segment_t *base, fare_appender_t *fa, uint32_t shared_pages,
                           uint32_t partial)
{
    size_t base_pages = ((size_t)base->fare_count + FS_FARE_PAGE - 1) >> FS_FARE_PAGE_BITS;
    int added = fa->count > partial;
    size_t kept = added ? shared_pages : base_pages;
    size_t new_pages = added ? (fa->count + FS_FARE_PAGE - 1) >> FS_FARE_PAGE_BITS : 0, pages = kept + new_pages;
    const fs_fare_t **p = malloc((pages ? pages : 1) * sizeof(void *));  /* page pointers */
    fs_leg_block_t **pb = malloc((pages ? pages : 1) * sizeof(void *)); /* their blocks */
    fs_leg_block_t *blk = NULL;
    if (p == NULL || pb == NULL)
        goto fail;
    if (added) {
        fs_fare_t *shrunk = realloc(fa->fares, fa->count * sizeof(fs_fare_t));
        if (shrunk != NULL)
            fa->fares = shrunk;
        blk = fs_leg_block_new(fa->fares, fa->count * sizeof(fs_fare_t), 0);
        if (blk == NULL)
            goto fail;
        fa->fares = NULL; /* the block's */
        seg->blocks[seg->block_count++] = blk;
    }
    for (size_t i = 0; i < kept; i++) {
        p[i] = base->fare_pages[i];
        pb[i] = base->fare_page_blocks[i];
    }
    for (size_t i = 0; i < new_pages; i++) {
        p[kept + i] = (const fs_fare_t *)blk->mem + (i << FS_FARE_PAGE_BITS);
        pb[kept + i] = blk;
    }
    seg->fare_pages = p;
    seg->fare_page_blocks = pb;
    seg->fare_count = added ? (uint32_t)(fa->base_index + fa->count) : base->fare_count;
    return 0;
fail:
    free(p);
    free(pb);
    return FS_ENOMEM;
}

fs_segment_t *fs_segment_apply_delta(const fs_segment_t *base, const char *source, uint64_t sequence,
                                     int64_t generated_at, uint64_t body_hash, const fs_leg_in_t *upserts,
                                     size_t n_upserts, const uint64_t *removes, size_t n_removes,
                                     fs_change_set_t *changes, uint64_t *removed_hits, int *rc)
{
    static const fs_segment_t empty;
    const fs_segment_t *b0 = base != NULL ? base : &empty;
    fs_segment_t *seg = NULL;
    upsert_item_t *items = NULL;
    rebuilt_t *rb = NULL;
    const fs_leg_t **dropped = NULL;
    fare_appender_t fa = {0};
    fs_leg_t *block_legs = NULL;
    fs_route_t *routes = NULL;
    block_map_t bmap = {0};
    *removed_hits = 0;
    *rc = FS_ENOMEM;

    /* the keys touched */
    touch_set_t ts = {0};
    size_t want = 16;
    while (want < (n_upserts + n_removes) * 2 + 2)
        want *= 2;
    ts.slots = calloc(want, sizeof(*ts.slots));
    if (ts.slots == NULL)
        return NULL;
    ts.mask = want - 1;
    for (size_t i = 0; i < n_removes; i++)
        touch_get(&ts, removes[i])->removed = 1;
    for (size_t i = 0; i < n_upserts; i++) {
        const fs_leg_in_t *u = &upserts[i];
        touch_get(&ts, fs_leg_key(u->carrier, u->flight, u->origin, u->departs.day));
    }

    /* a large delta, or a base that holds too much history: the whole source, as a snapshot */
    if ((uint64_t)(n_upserts + n_removes) * 4 > b0->leg_count || b0->block_count >= FS_DELTA_MAX_BLOCKS ||
        fs_segment_waste_bytes(b0) > (uint64_t)b0->leg_count * sizeof(fs_leg_t)) {
    whole:
        for (size_t j = 0; j <= ts.mask; j++)
            if (ts.slots[j].key != 0 && ts.slots[j].removed) {
                ts.slots[j].old = NULL;
                find_old(b0, &ts.slots[j], NULL);
                *removed_hits += ts.slots[j].old != NULL;
            }
        seg = rebuild_whole(base, source, sequence, generated_at, body_hash, upserts, n_upserts, &ts, changes, rc);
        goto out;
    }

    /* fares: every full page of the base's table is shared; its last, partial page is copied and
     * the delta's new fares are appended to the copy (base indexes stay valid, no table copy) */
    uint32_t shared_pages = b0->fare_count >> FS_FARE_PAGE_BITS, partial = b0->fare_count & (FS_FARE_PAGE - 1);
    fa.base_index = (size_t)shared_pages << FS_FARE_PAGE_BITS;
    fa.count = partial;
    fa.cap = partial + n_upserts * FS_CABIN_COUNT;
    fa.fares = malloc((fa.cap ? fa.cap : 1) * sizeof(*fa.fares));
    size_t fslots = 16;
    while (fslots < n_upserts * FS_CABIN_COUNT * 2 + 2)
        fslots *= 2;
    fa.slots = calloc(fslots, sizeof(*fa.slots));
    fa.mask = fslots - 1;
    items = malloc((n_upserts ? n_upserts : 1) * sizeof(*items));
    if (fa.fares == NULL || fa.slots == NULL || items == NULL)
        goto out;
    if (partial > 0)
        memcpy(fa.fares, b0->fare_pages[shared_pages], partial * sizeof(*fa.fares));
    for (size_t i = 0; i < n_upserts; i++) {
        int r = fs_leg_from_in(&items[i].leg, &upserts[i], append_fare, &fa);
        if (r == FS_ERANGE) {
            /* the fare table is full of fares nobody uses any more: rebuild, which drops them */
            free(fa.fares);
            free(fa.slots);
            free(items);
            fa.fares = NULL;
            fa.slots = NULL;
            items = NULL;
            goto whole;
        }
        if (r != 0) {
            *rc = r;
            goto out;
        }
        items[i].key = fs_leg_key(items[i].leg.carrier, items[i].leg.flight, items[i].leg.origin, items[i].leg.day);
    }
    qsort(items, n_upserts, sizeof(*items), upsert_item_cmp);
    for (size_t i = 0; i < n_upserts; i++)
        touch_get(&ts, items[i].key)->upsert = (int64_t)i;

    if (block_map_init(&bmap, b0) != 0)
        goto out;

    /* the base legs of the touched keys, and the routes to rebuild: each upsert's, each old leg's */
    size_t rb_cap = n_upserts + ts.count + b0->route_count + 1, rb_n = 0, n_dropped = 0;
    rb = malloc(rb_cap * sizeof(*rb));
    dropped = malloc((ts.count + 1) * sizeof(void *)); /* leg pointers */
    if (rb == NULL || dropped == NULL)
        goto out;
    for (size_t j = 0; j <= ts.mask; j++) {
        touch_t *t = &ts.slots[j];
        if (t->key == 0)
            continue;
        const fs_route_t *hint = t->upsert >= 0 ? fs_segment_route(b0, items[t->upsert].leg.origin, items[t->upsert].leg.destination) : NULL;
        find_old(b0, t, hint);
        if (t->old == NULL)
            continue;
        *removed_hits += t->removed;
        dropped[n_dropped++] = t->old;
        const fs_route_t *r = &b0->routes[t->old_route];
        rb[rb_n++] = (rebuilt_t){.origin = r->origin, .destination = r->destination, .base = r};
    }
    for (size_t i = 0; i < n_upserts; i++) {
        if (i > 0 && items[i].leg.origin == items[i - 1].leg.origin && items[i].leg.destination == items[i - 1].leg.destination)
            continue;
        rb[rb_n++] = (rebuilt_t){.origin = items[i].leg.origin, .destination = items[i].leg.destination,
                                 .base = fs_segment_route(b0, items[i].leg.origin, items[i].leg.destination)};
    }
    /* copy forward: routes still living in blocks that are mostly replaced move to the new block
     * too (a bounded number of legs per delta), so those blocks drain and are freed */
    size_t touched_legs = 0;
    for (size_t i = 0; i < rb_n; i++)
        touched_legs += rb[i].base != NULL ? rb[i].base->count : 0;
    if (evacuate(b0, &bmap, rb, &rb_n, touched_legs + n_upserts) != 0)
        goto out;
    qsort(rb, rb_n, sizeof(*rb), rebuilt_cmp);
    size_t w = 0;
    for (size_t i = 0; i < rb_n; i++)
        if (w == 0 || rebuilt_cmp(&rb[w - 1], &rb[i]) != 0)
            rb[w++] = rb[i];
    rb_n = w;
    qsort(dropped, n_dropped, sizeof(void *), ptr_cmp);

    /* the rebuilt routes' legs, all in one new block */
    size_t total = 0, u = 0;
    for (size_t i = 0; i < rb_n; i++) {
        while (u < n_upserts && (items[u].leg.origin < rb[i].origin ||
                                 (items[u].leg.origin == rb[i].origin && items[u].leg.destination < rb[i].destination)))
            u++;
        rb[i].up_first = u;
        while (u < n_upserts && items[u].leg.origin == rb[i].origin && items[u].leg.destination == rb[i].destination)
            u++;
        rb[i].up_end = u;
        total += (rb[i].base != NULL ? rb[i].base->count : 0) + (rb[i].up_end - rb[i].up_first);
    }
    block_legs = malloc((total ? total : 1) * sizeof(*block_legs));
    if (block_legs == NULL)
        goto out;
    size_t n_out = 0;
    uint64_t leg_count = b0->leg_count;
    for (size_t i = 0; i < rb_n; i++) {
        const fs_route_t *br = rb[i].base;
        uint32_t bi = 0, bn = br != NULL ? br->count : 0;
        size_t ui = rb[i].up_first, start = n_out;
        /* the route's legs ascend in memory, and so do the dropped pointers: one cursor */
        size_t di = 0, dlo = 0, dhi = n_dropped;
        while (bn > 0 && dlo < dhi) {
            size_t mid = (dlo + dhi) / 2;
            if ((uintptr_t)dropped[mid] < (uintptr_t)br->legs)
                dlo = mid + 1;
            else
                dhi = mid;
        }
        di = dlo;
        while (bi < bn || ui < rb[i].up_end) {
            const fs_leg_t *bl = bi < bn ? &br->legs[bi] : NULL;
            if (bl != NULL && di < n_dropped && dropped[di] == bl) {
                di++;
                bi++;
                leg_count--;
                continue;
            }
            if (bl != NULL && (ui == rb[i].up_end || leg_route_cmp(bl, &items[ui].leg) < 0)) {
                block_legs[n_out++] = *bl;
                bi++;
            } else {
                block_legs[n_out++] = items[ui++].leg;
                leg_count++;
            }
        }
        rb[i].out = (fs_route_t){.origin = rb[i].origin, .destination = rb[i].destination,
                                 .count = (uint32_t)(n_out - start), .legs = block_legs + start};
        if (n_out > start) {
            rb[i].out.first_day = block_legs[start].day;
            rb[i].out.last_day = block_legs[n_out - 1].day;
            rb[i].out.carrier = block_legs[start].carrier;
            for (size_t k = start + 1; k < n_out && rb[i].out.carrier != FS_ROUTE_CARRIERS_MIXED; k++)
                if (block_legs[k].carrier != rb[i].out.carrier)
                    rb[i].out.carrier = FS_ROUTE_CARRIERS_MIXED; /* O(the rebuilt route's legs), as the merge */
        }
    }

    /* the route table: the base's, with the rebuilt routes in place (empty ones dropped) */
    size_t route_cap = b0->route_count + rb_n;
    routes = malloc((route_cap ? route_cap : 1) * sizeof(*routes));
    seg = calloc(1, sizeof(*seg));
    if (routes == NULL || seg == NULL)
        goto out;
    size_t nr = 0, bi = 0, ri = 0;
    while (bi < b0->route_count || ri < rb_n) {
        int c;
        if (bi == b0->route_count)
            c = 1;
        else if (ri == rb_n)
            c = -1;
        else
            c = b0->routes[bi].origin != rb[ri].origin ? (b0->routes[bi].origin < rb[ri].origin ? -1 : 1)
                : b0->routes[bi].destination < rb[ri].destination ? -1
                                                                  : b0->routes[bi].destination > rb[ri].destination;
        if (c < 0) {
            routes[nr++] = b0->routes[bi++];
        } else {
            if (rb[ri].out.count > 0)
                routes[nr++] = rb[ri].out;
            ri++;
            bi += c == 0;
        }
    }
    if (share_used_blocks(seg, b0, &bmap, routes, nr,
                          fa.count > partial ? shared_pages : (uint32_t)(((size_t)b0->fare_count + FS_FARE_PAGE - 1) >> FS_FARE_PAGE_BITS)) != 0)
        goto out;
    if (n_out > 0) {
        fs_leg_block_t *blk = fs_leg_block_new(block_legs, n_out * sizeof(*block_legs), 0);
        if (blk == NULL)
            goto out;
        block_legs = NULL; /* the block's now */
        blk->leg_bytes = n_out * sizeof(fs_leg_t);
        seg->blocks[seg->block_count++] = blk;
    }
    snprintf(seg->source, sizeof(seg->source), "%s", source);
    seg->sequence = sequence;
    seg->generated_at = generated_at;
    seg->updated_at = (int64_t)time(NULL);
    seg->body_hash = body_hash;
    seg->leg_count = (uint32_t)leg_count;
    seg->routes = routes;
    seg->route_count = (uint32_t)nr;
    routes = NULL;
    if (fs_segment_hash_routes(seg) != 0)
        goto out;
    if (set_delta_fares(seg, b0, &fa, shared_pages, partial) != 0)
        goto out;
    fs_segment_account(seg);

    /* the change set, from the (old, new) pair of each touched key */
    if (changes != NULL) {
        uint64_t t0 = monotonic_us();
        for (size_t j = 0; j <= ts.mask; j++) {
            const touch_t *t = &ts.slots[j];
            if (t->key == 0)
                continue;
            const fs_leg_t *nl = t->upsert >= 0 ? &items[t->upsert].leg : NULL;
            if ((*rc = change_note(changes, t->old, b0, nl, seg)) != 0) {
                fs_segment_free(seg);
                seg = NULL;
                goto out;
            }
        }
        changes->took_us += monotonic_us() - t0;
    }
    *rc = 0;
out:
    if (seg != NULL && *rc != 0) {
        fs_segment_free(seg);
        seg = NULL;
    }
    free(ts.slots);
    free(items);
    free(rb);
    free(dropped);
    free(fa.fares);
    free(fa.slots);
    free(block_legs);
    free(routes);
    free(bmap.ranges);
    return seg;
}
