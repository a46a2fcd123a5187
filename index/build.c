/*
 * index/build.c: turns a stream of validated legs into an immutable segment.
 *
 * Layout of a finished segment (all plain arrays, no pointers between legs):
 *   legs[]        40-byte fs_leg_t, sorted by (origin, destination, day, dep_minute, carrier, flight)
 *   fares[]       distinct (miles, taxes, currency) triples; a leg's cabin word indexes it. Award
 *                 prices repeat heavily (saver levels by distance band), so interning keeps a
 *                 cabin at 4 bytes instead of 12.
 *   routes[]      one entry per (origin, destination) with its leg range, sorted like the legs
 *   route_slots[] open-addressing hash (xxHash of the route) -> route index + 1
 *
 * Sorting: an LSD radix sort of (57-bit key, leg index) pairs, 8 bits per pass, skipping passes
 * in which every key has the same byte. qsort on 10M 40-byte legs took ~3 s; the radix sort plus
 * one gather pass is well under a second. Legs that tie on the key (same route, day and minute)
 * are then put in (carrier, flight) order run by run (insertion sort for short runs, qsort for
 * long ones: a crafted feed can make one run of every leg).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include "index/internal.h"

struct fs_segment_builder {
    char source[FS_SOURCE_NAME_MAX + 1];
    uint64_t sequence;
    int64_t generated_at;
    fs_leg_t *legs;
    size_t leg_count, leg_cap;
    fs_fare_t *fares;
    size_t fare_count, fare_cap;
    uint32_t *fare_slots; /* fare index + 1, 0 = empty */
    size_t fare_slot_mask;
};

fs_segment_builder_t *fs_segment_builder_new(const char *source, uint64_t sequence, int64_t generated_at)
{
    fs_segment_builder_t *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    snprintf(b->source, sizeof(b->source), "%s", source);
    b->sequence = sequence;
    b->generated_at = generated_at;
    return b;
}

void fs_segment_builder_free(fs_segment_builder_t *b)
{
    if (b == NULL)
        return;
    free(b->legs);
    free(b->fares);
    free(b->fare_slots);
    free(b);
}

static uint64_t fare_hash(const fs_fare_t *f)
{
    uint32_t words[3] = {f->miles, f->taxes_cents, f->currency};
    return fs_hash64(words, sizeof(words));
}

static int fare_table_grow(fs_segment_builder_t *b)
{
    size_t new_slots = b->fare_slot_mask == 0 ? 1024 : (b->fare_slot_mask + 1) * 2;
    uint32_t *slots = calloc(new_slots, sizeof(*slots));
    if (slots == NULL)
        return FS_ENOMEM;
    for (size_t i = 0; i < b->fare_count; i++) {
        size_t s = fare_hash(&b->fares[i]) & (new_slots - 1);
        while (slots[s] != 0)
            s = (s + 1) & (new_slots - 1);
        slots[s] = (uint32_t)i + 1;
    }
    free(b->fare_slots);
    b->fare_slots = slots;
    b->fare_slot_mask = new_slots - 1;
    return 0;
}

/* Returns the fare's index in the table, adding it when new; negative on failure. */
static int64_t fare_intern(fs_segment_builder_t *b, const fs_fare_t *f)
{
    /* keep the load factor under 1/2 so probes stay short */
    if ((b->fare_count + 1) * 2 > b->fare_slot_mask + 1 && fare_table_grow(b) != 0)
        return FS_ENOMEM;
    size_t s = fare_hash(f) & b->fare_slot_mask;
    for (;; s = (s + 1) & b->fare_slot_mask) {
        uint32_t v = b->fare_slots[s];
        if (v == 0)
            break;
        const fs_fare_t *o = &b->fares[v - 1];
        if (o->miles == f->miles && o->taxes_cents == f->taxes_cents && o->currency == f->currency)
            return v - 1;
    }
    if (b->fare_count >= FS_MAX_FARES_PER_SEGMENT)
        return FS_ERANGE;
    fs_fare_t *grown = fs_array_grow(b->fares, &b->fare_cap, b->fare_count, sizeof(*grown), 1024);
    if (grown == NULL)
        return FS_ENOMEM;
    b->fares = grown;
    b->fares[b->fare_count] = *f;
    b->fare_slots[s] = (uint32_t)b->fare_count + 1;
    return (int64_t)b->fare_count++;
}

static fs_leg_t *leg_slot(fs_segment_builder_t *b)
{
    fs_leg_t *grown = fs_array_grow(b->legs, &b->leg_cap, b->leg_count, sizeof(*grown), 4096);
    if (grown == NULL)
        return NULL;
    b->legs = grown;
    return &b->legs[b->leg_count];
}

int fs_leg_from_in(fs_leg_t *leg, const fs_leg_in_t *in, int64_t (*fare_id)(void *arg, const fs_fare_t *fare), void *arg)
{
    memset(leg, 0, sizeof(*leg));
    int64_t dep_utc = fs_localtime_to_utc_min(in->departs), arr_utc = fs_localtime_to_utc_min(in->arrives);
    if (in->departs.day < 0 || in->departs.day > UINT16_MAX || arr_utc <= dep_utc || arr_utc - dep_utc > FS_MAX_DURATION_MIN)
        return FS_EINVAL;
    leg->day = (uint16_t)in->departs.day;
    leg->dep_minute = in->departs.minute;
    leg->origin = in->origin;
    leg->destination = in->destination;
    leg->duration_min = (uint16_t)(arr_utc - dep_utc);
    leg->dep_offset_q = (int8_t)(in->departs.offset_min / 15);
    leg->arr_offset_q = (int8_t)(in->arrives.offset_min / 15);
    leg->carrier = in->carrier;
    leg->flight = in->flight;
    leg->last_seen = in->last_seen < 0 ? 0 : in->last_seen > UINT32_MAX ? UINT32_MAX : (uint32_t)in->last_seen;
    leg->cabin_mask = in->cabin_mask;
    for (int c = 0; c < FS_CABIN_COUNT; c++) {
        if ((in->cabin_mask & (1u << c)) == 0)
            continue;
        int64_t fid = fare_id(arg, &in->fare[c]);
        if (fid < 0)
            return (int)fid;
        unsigned seats = in->seats[c] > FS_MAX_SEATS ? FS_MAX_SEATS : in->seats[c];
        leg->cabin[c] = ((uint32_t)seats << 25) | (uint32_t)fid;
    }
    return 0;
}

static int64_t builder_fare_id(void *arg, const fs_fare_t *fare)
{
    return fare_intern(arg, fare);
}

int fs_segment_builder_add(fs_segment_builder_t *b, const fs_leg_in_t *in)
{
    fs_leg_t *leg = leg_slot(b);
    if (leg == NULL)
        return FS_ENOMEM;
    int r = fs_leg_from_in(leg, in, builder_fare_id, b);
    if (r != 0)
        return r;
    b->leg_count++;
    return 0;
}

/* Takes over seg's fare table as it is, so legs carried over keep their cabin words: a delta on a
 * 10M-leg source then copies legs instead of hashing ~25M fares again. */
static int seed_fares(fs_segment_builder_t *b, const fs_segment_t *seg)
{
    if (seg->fare_count == 0)
        return 0;
    b->fares = malloc(seg->fare_count * sizeof(*b->fares));
    if (b->fares == NULL)
        return FS_ENOMEM;
    for (uint32_t i = 0; i < seg->fare_count; i += FS_FARE_PAGE) {
        uint32_t n = seg->fare_count - i < FS_FARE_PAGE ? seg->fare_count - i : FS_FARE_PAGE;
        memcpy(b->fares + i, seg->fare_pages[i >> FS_FARE_PAGE_BITS], n * sizeof(*b->fares));
    }
    b->fare_count = b->fare_cap = seg->fare_count;
    size_t slots = 1024;
    while (slots < b->fare_count * 2 + 2)
        slots *= 2;
    b->fare_slots = calloc(slots, sizeof(*b->fare_slots));
    if (b->fare_slots == NULL)
        return FS_ENOMEM;
    b->fare_slot_mask = slots - 1;
    for (size_t i = 0; i < b->fare_count; i++) {
        size_t s = fare_hash(&b->fares[i]) & b->fare_slot_mask;
        while (b->fare_slots[s] != 0)
            s = (s + 1) & b->fare_slot_mask;
        b->fare_slots[s] = (uint32_t)i + 1;
    }
    return 0;
}

int fs_segment_builder_add_segment(fs_segment_builder_t *b, const fs_segment_t *seg,
                                   int (*skip)(void *arg, const fs_leg_t *leg), void *arg)
{
    int seeded = 0;
    if (b->fare_count == 0 && b->fares == NULL) {
        int r = seed_fares(b, seg);
        if (r != 0)
            return r;
        seeded = 1; /* the legs' cabin words stay valid as they are */
    }
    for (uint32_t r = 0; r < seg->route_count; r++) {
        for (uint32_t i = 0; i < seg->routes[r].count; i++) {
            const fs_leg_t *src = &seg->routes[r].legs[i];
            if (skip != NULL && skip(arg, src))
                continue;
            fs_leg_t *leg = leg_slot(b);
            if (leg == NULL)
                return FS_ENOMEM;
            *leg = *src;
            for (int c = 0; c < FS_CABIN_COUNT && !seeded; c++) {
                if ((src->cabin_mask & (1u << c)) == 0)
                    continue;
                int64_t fid = fare_intern(b, fs_segment_fare(seg, FS_CABIN_FARE(src->cabin[c])));
                if (fid < 0)
                    return (int)fid;
                leg->cabin[c] = (src->cabin[c] & ~FS_MAX_FARES_PER_SEGMENT) | (uint32_t)fid;
            }
            b->leg_count++;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ sorting */

typedef struct sort_item {
    uint64_t key;
    uint32_t index;
    /* cppcheck-suppress unusedStructMember ; explicit padding to 16 bytes, never read */
    uint32_t pad;
} sort_item_t;

static uint64_t leg_sort_key(const fs_leg_t *l)
{
    /* origin 15 bits | destination 15 | day 16 | minute 11 = 57 bits */
    return ((uint64_t)l->origin << 42) | ((uint64_t)l->destination << 27) | ((uint64_t)l->day << 11) | l->dep_minute;
}

static int radix_sort(sort_item_t *items, size_t n)
{
    sort_item_t *tmp = malloc(n * sizeof(*tmp));
    if (tmp == NULL)
        return FS_ENOMEM;
    sort_item_t *src = items, *dst = tmp;
    for (unsigned shift = 0; shift < 64; shift += 8) {
        size_t count[256] = {0};
        for (size_t i = 0; i < n; i++)
            count[(src[i].key >> shift) & 0xff]++;
        if (count[(src[0].key >> shift) & 0xff] == n)
            continue; /* every key shares this byte: the pass would not move anything */
        size_t pos = 0;
        for (unsigned d = 0; d < 256; d++) {
            size_t c = count[d];
            count[d] = pos;
            pos += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[count[(src[i].key >> shift) & 0xff]++] = src[i];
        sort_item_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != items)
        memcpy(items, src, n * sizeof(*items));
    free(tmp);
    return 0;
}

static int leg_tie_cmp(const void *pa, const void *pb)
{
    const fs_leg_t *a = pa, *b = pb;
    if (a->carrier != b->carrier)
        return a->carrier < b->carrier ? -1 : 1;
    return a->flight < b->flight ? -1 : a->flight > b->flight;
}

/* Puts legs[0..n) that tie on the radix key in (carrier, flight) order. Runs are short in real
 * schedules (a few flights leave a route in the same minute), where insertion sort is cheapest;
 * a long run (one crafted feed: 200,000 legs in one minute took 68 s) gets qsort, O(n log n). */
static void sort_tie_run(fs_leg_t *legs, size_t n)
{
    if (n > 16) {
        qsort(legs, n, sizeof(*legs), leg_tie_cmp);
        return;
    }
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && leg_tie_cmp(&legs[j], &legs[j - 1]) < 0; j--) {
            fs_leg_t t = legs[j];
            legs[j] = legs[j - 1];
            legs[j - 1] = t;
        }
}

static uint64_t route_hash(fs_airport_t origin, fs_airport_t destination)
{
    uint32_t od = ((uint32_t)origin << 16) | destination;
    return fs_hash64(&od, sizeof(od));
}

fs_leg_block_t *fs_leg_block_new(void *mem, size_t len, int mapped)
{
    fs_leg_block_t *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    b->refs = 1;
    b->mapped = mapped;
    b->mem = mem;
    b->len = len;
    return b;
}

static void leg_block_release(fs_leg_block_t *b)
{
    if (b == NULL || __atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    if (b->mapped)
        munmap(b->mem, b->len);
    else
        free(b->mem);
    free(b);
}

/* Sets seg's route hash over its (sorted) routes; seg->bytes counts it. FS_ENOMEM. */
int fs_segment_hash_routes(fs_segment_t *seg)
{
    size_t slot_count = 16;
    while (slot_count < (size_t)seg->route_count * 2)
        slot_count *= 2;
    uint32_t *slots = calloc(slot_count, sizeof(*slots));
    if (slots == NULL)
        return FS_ENOMEM;
    for (size_t i = 0; i < seg->route_count; i++) {
        size_t s = route_hash(seg->routes[i].origin, seg->routes[i].destination) & (slot_count - 1);
        while (slots[s] != 0)
            s = (s + 1) & (slot_count - 1);
        slots[s] = (uint32_t)i + 1;
    }
    seg->route_slots = slots;
    seg->route_slot_mask = (uint32_t)(slot_count - 1);
    return 0;
}

/* What seg holds alive: its tables, plus every block it references (shared blocks are counted by
 * each segment that holds them: this is what freeing the source's history would give back). */
void fs_segment_account(fs_segment_t *seg)
{
    size_t bytes = sizeof(*seg) + (size_t)seg->route_count * sizeof(fs_route_t) +
                   ((size_t)seg->route_slot_mask + 1) * sizeof(uint32_t) + seg->block_count * sizeof(fs_leg_block_t *);
    uint64_t leg_bytes = 0;
    for (unsigned i = 0; i < seg->block_count; i++) {
        bytes += seg->blocks[i]->mapped ? 0 : seg->blocks[i]->len;
        leg_bytes += seg->blocks[i]->leg_bytes;
    }
    bytes += (((size_t)seg->fare_count + FS_FARE_PAGE - 1) >> FS_FARE_PAGE_BITS) * 2 * sizeof(void *);
    seg->bytes = bytes;
    seg->block_leg_bytes = leg_bytes;
}

int fs_segment_set_fares(fs_segment_t *seg, fs_leg_block_t *block, const fs_fare_t *fares, uint32_t count, int add_block)
{
    size_t pages = ((size_t)count + FS_FARE_PAGE - 1) >> FS_FARE_PAGE_BITS;
    const fs_fare_t **p = malloc((pages ? pages : 1) * sizeof(void *));          /* page pointers */
    fs_leg_block_t **pb = malloc((pages ? pages : 1) * sizeof(void *));         /* their blocks */
    fs_leg_block_t **blocks = add_block ? realloc(seg->blocks, (seg->block_count + 1) * sizeof(void *)) : seg->blocks;
    if (blocks != NULL)
        seg->blocks = blocks;
    if (p == NULL || pb == NULL || blocks == NULL) {
        free(p);
        free(pb);
        if (add_block)
            leg_block_release(block);
        return FS_ENOMEM;
    }
    if (add_block)
        seg->blocks[seg->block_count++] = block;
    for (size_t i = 0; i < pages; i++) {
        p[i] = fares + (i << FS_FARE_PAGE_BITS);
        pb[i] = block;
    }
    seg->fare_pages = p;
    seg->fare_page_blocks = pb;
    seg->fare_count = count;
    return 0;
}

/*
 * Builds the route table and its hash over legs sorted by (origin, destination, day, ...), all in
 * block, and gives block to seg (its one reference). Shared by the builder and by segments mapped
 * back from a persisted image.
 */
int fs_segment_index_routes(fs_segment_t *seg, fs_leg_block_t *block, const fs_leg_t *legs, size_t n)
{
    seg->blocks = malloc(sizeof(void *)); /* block pointers */
    if (seg->blocks == NULL) {
        leg_block_release(block);
        return FS_ENOMEM;
    }
    seg->blocks[0] = block;
    seg->block_count = 1;
    block->leg_bytes = n * sizeof(fs_leg_t);
    size_t route_count = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || legs[i].origin != legs[i - 1].origin || legs[i].destination != legs[i - 1].destination)
            route_count++;
    fs_route_t *routes = calloc(route_count ? route_count : 1, sizeof(*routes));
    seg->leg_count = (uint32_t)n;
    if (routes == NULL)
        return FS_ENOMEM;
    size_t r = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || legs[i].origin != legs[i - 1].origin || legs[i].destination != legs[i - 1].destination) {
            routes[r].origin = legs[i].origin;
            routes[r].destination = legs[i].destination;
            routes[r].legs = &legs[i];
            routes[r].first_day = legs[i].day;
            routes[r].carrier = legs[i].carrier;
            r++;
        }
        routes[r - 1].count++;
        routes[r - 1].last_day = legs[i].day;
        if (legs[i].carrier != routes[r - 1].carrier)
            routes[r - 1].carrier = FS_ROUTE_CARRIERS_MIXED;
    }
    seg->routes = routes;
    seg->route_count = (uint32_t)route_count;
    if (fs_segment_hash_routes(seg) != 0)
        return FS_ENOMEM;
    fs_segment_account(seg);
    return 0;
}

/* Drops the fares no leg uses and renumbers the legs' cabin words. A delta starts from its base's
 * whole fare table (seed_fares), so without this every repricing delta left its old fares behind
 * and a source that repriced often reached FS_MAX_FARES_PER_SEGMENT within days. One pass over
 * the legs and one over the fares: small beside the sort. FS_ENOMEM leaves b as it was. */
static int drop_unused_fares(fs_segment_builder_t *b)
{
    if (b->fare_count == 0)
        return 0;
    uint32_t *renumber = calloc(b->fare_count, sizeof(*renumber)); /* new index + 1; 0: unused */
    if (renumber == NULL)
        return FS_ENOMEM;
    for (size_t i = 0; i < b->leg_count; i++)
        for (int c = 0; c < FS_CABIN_COUNT; c++)
            if (b->legs[i].cabin_mask & (1u << c))
                renumber[FS_CABIN_FARE(b->legs[i].cabin[c])] = 1;
    uint32_t kept = 0;
    for (size_t f = 0; f < b->fare_count; f++)
        if (renumber[f] != 0) {
            b->fares[kept] = b->fares[f];
            renumber[f] = ++kept;
        }
    if (kept != b->fare_count) {
        for (size_t i = 0; i < b->leg_count; i++)
            for (int c = 0; c < FS_CABIN_COUNT; c++)
                if (b->legs[i].cabin_mask & (1u << c)) {
                    uint32_t w = b->legs[i].cabin[c];
                    b->legs[i].cabin[c] = (w & ~FS_MAX_FARES_PER_SEGMENT) | (renumber[FS_CABIN_FARE(w)] - 1);
                }
        b->fare_count = kept; /* the intern table is not used after this */
    }
    free(renumber);
    return 0;
}

fs_segment_t *fs_segment_builder_finish(fs_segment_builder_t *b, uint64_t body_hash)
{
    if (drop_unused_fares(b) != 0) {
        fs_segment_builder_free(b);
        return NULL;
    }
    fs_segment_t *seg = calloc(1, sizeof(*seg));
    size_t n = b->leg_count;
    int legs_given = 0;
    sort_item_t *items = malloc((n ? n : 1) * sizeof(*items));
    fs_leg_t *legs = malloc((n ? n : 1) * sizeof(*legs));
    if (seg == NULL || items == NULL || legs == NULL)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        items[i].key = leg_sort_key(&b->legs[i]);
        items[i].index = (uint32_t)i;
    }
    if (n > 1 && radix_sort(items, n) != 0)
        goto fail;
    for (size_t i = 0; i < n; i++)
        legs[i] = b->legs[items[i].index];
    for (size_t i = 0; i < n;) {
        size_t end = i + 1;
        while (end < n && items[end].key == items[i].key)
            end++;
        if (end - i > 1)
            sort_tie_run(legs + i, end - i);
        i = end;
    }
    free(items);
    items = NULL;
    free(b->legs);
    b->legs = NULL;

    fs_leg_block_t *block = fs_leg_block_new(legs, (n ? n : 1) * sizeof(*legs), 0);
    if (block == NULL)
        goto fail;
    legs_given = 1;
    if (fs_segment_index_routes(seg, block, legs, n) != 0)
        goto fail; /* legs belong to seg now */

    /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): seg owns legs now; the analyzer lost it at the const argument */
    snprintf(seg->source, sizeof(seg->source), "%s", b->source);
    seg->sequence = b->sequence;
    seg->generated_at = b->generated_at;
    seg->updated_at = (int64_t)time(NULL);
    seg->body_hash = body_hash;
    /* the fare table is kept exactly as built, shrunk to its size, in a block of its own */
    fs_fare_t *fares = b->fare_count ? realloc(b->fares, b->fare_count * sizeof(*fares)) : b->fares;
    if (fares == NULL)
        fares = b->fares;
    b->fares = NULL;
    fs_leg_block_t *fare_block = fs_leg_block_new(fares, b->fare_count * sizeof(*fares), 0);
    if (fare_block == NULL) {
        free(fares);
        goto fail;
    }
    if (fs_segment_set_fares(seg, fare_block, fares, (uint32_t)b->fare_count, 1) != 0)
        goto fail;
    fs_segment_account(seg);
    fs_segment_builder_free(b);
    return seg;

fail:
    if (!legs_given)
        free(legs);
    fs_segment_free(seg);
    free(items);
    fs_segment_builder_free(b);
    return NULL;
}

void fs_segment_free(fs_segment_t *seg)
{
    if (seg == NULL)
        return;
    free((void *)seg->fare_pages);
    free((void *)seg->fare_page_blocks);
    for (unsigned i = 0; i < seg->block_count; i++)
        leg_block_release(seg->blocks[i]);
    free(seg->blocks);
    free((void *)seg->routes);
    free((void *)seg->route_slots);
    free(seg);
}

/* ------------------------------------------------------------ read side */

const fs_route_t *fs_segment_route(const fs_segment_t *seg, fs_airport_t origin, fs_airport_t destination)
{
    if (seg->route_count == 0)
        return NULL;
    size_t s = route_hash(origin, destination) & seg->route_slot_mask;
    for (;; s = (s + 1) & seg->route_slot_mask) {
        uint32_t v = seg->route_slots[s];
        if (v == 0)
            return NULL;
        const fs_route_t *r = &seg->routes[v - 1];
        if (r->origin == origin && r->destination == destination)
            return r;
    }
}

void *fs_array_grow(void *items, size_t *cap, size_t count, size_t size, size_t first)
{
    if (count < *cap)
        return items;
    size_t n = *cap ? *cap * 2 : first;
    void *grown = realloc(items, n * size);
    if (grown != NULL)
        *cap = n;
    return grown;
}

const fs_leg_t *fs_segment_leg_at(const fs_segment_t *seg, uint32_t i)
{
    for (uint32_t r = 0; r < seg->route_count; r++) {
        if (i < seg->routes[r].count)
            return &seg->routes[r].legs[i];
        i -= seg->routes[r].count;
    }
    return NULL;
}

void fs_segment_routes_from(const fs_segment_t *seg, fs_airport_t origin, uint32_t *first, uint32_t *end)
{
    uint32_t lo = 0, hi = seg->route_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (seg->routes[mid].origin < origin)
            lo = mid + 1;
        else
            hi = mid;
    }
    uint32_t e = lo;
    while (e < seg->route_count && seg->routes[e].origin == origin)
        e++;
    *first = lo;
    *end = e;
}

/* First leg index in [lo, hi) whose day is >= day (legs of one route are sorted by day). */
static uint32_t lower_bound_day(const fs_leg_t *legs, uint32_t lo, uint32_t hi, int32_t day)
{
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if ((int32_t)legs[mid].day < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void fs_route_days(const fs_segment_t *seg, const fs_route_t *route, int32_t from_day, int32_t to_day, uint32_t *first,
                   uint32_t *end)
{
    (void)seg;
    uint32_t lo = 0, hi = route->count;
    if (to_day < (int32_t)route->first_day || from_day > (int32_t)route->last_day || from_day > to_day) {
        *first = *end = lo;
        return;
    }
    *first = from_day <= (int32_t)route->first_day ? lo : lower_bound_day(route->legs, lo, hi, from_day);
    *end = to_day >= (int32_t)route->last_day ? hi : lower_bound_day(route->legs, *first, hi, to_day + 1);
}
