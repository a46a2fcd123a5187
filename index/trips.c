/*
 * index/trips.c: round trips, open jaws and multi-city trips over the one-way itineraries.
 *
 * Each slice's itineraries are enumerated once with fs_search_each (whatever max_stops the search
 * takes, with its filters and its budget), then paired here. A trip is valid when every slice
 * departs at least min_connection minutes (UTC) after the previous one arrives; with stays (round
 * trips only) the return's local date also lies min_stay..max_stay days after the outbound's.
 *
 * Groups. Without stays, the validity of a slice after another depends on one number only (the
 * earlier one's arrival), so the whole query is one group. With stays it also depends on the
 * outbound's date: the outbounds of each date form a group whose returns are those of the dates
 * its stays allow (a return is in as many groups as stays it fits, at most max_stay - min_stay + 1).
 *
 * Counting. Within a group, slices sorted by departure: the trips that continue an itinerary are
 * those of the next slice departing at or after its threshold, a suffix; so count(i) is a suffix
 * sum of the next slice's counts found by binary search, from the last slice back to the first.
 * The same pass computes best(i), the itinerary's sort key plus the best completion after it (a
 * suffix minimum): the exact value of the best trip through i.
 *
 * The page. A best-first walk over partial trips: a state is a prefix of chosen slices, and its
 * value is the prefix's keys plus the best completion of its last slice, which is exactly the best
 * trip through it (not an estimate). Each slice's itineraries are also ordered by best; a state's
 * sibling is the next itinerary in that order that still follows the prefix (a segment tree of
 * departures finds it in O(log n)), its child the first one of the next slice that follows it. A
 * pop pushes at most those two, both worth at least the popped value, so complete trips come out
 * in order of their sort value; ties are ordered fully by a bounded heap of the page, and the walk
 * stops at the first state worth more than the page's worst. The cost is that of the trips
 * before the page's end (those before the cursor included), times the slices, times log n: never
 * the cross product.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "index/index.h"

#define INF INT64_MAX

/* The time budget, as in index/search.c: the clock is read every 256 steps. */
typedef struct budget {
    int64_t deadline_us;
    unsigned ticks;
    int expired;
} budget_t;

static int budget_spent(budget_t *b)
{
    if (b->expired)
        return 1;
    if (b->deadline_us == 0 || (++b->ticks & 255) != 0)
        return 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    b->expired = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 > b->deadline_us;
    return b->expired;
}

void fs_trip_query_init(fs_trip_query_t *q)
{
    memset(q, 0, sizeof(*q));
    for (unsigned i = 0; i < FS_TRIP_MAX_SLICES; i++)
        fs_search_query_init(&q->slices[i]);
    q->slice_count = 2;
    q->min_connection = 60;
    q->min_stay = q->max_stay = -1;
    q->sort = FS_SORT_MILES;
    q->limit = 50;
}

/* ------------------------------------------------------------ order */

void fs_trip_cursor_at(const fs_trip_t *t, fs_trip_cursor_t *out)
{
    memset(out, 0, sizeof(*out));
    out->present = 1;
    out->sort_value = t->sort_value;
    out->slice_count = t->slice_count;
    for (unsigned k = 0; k < t->slice_count; k++)
        fs_cursor_at(&t->slices[k], &out->slices[k]);
}

/* ------------------------------------------------------ enumeration */

typedef struct slice_list {
    fs_result_t *items;
    size_t count, cap;
    int overflow, nomem;
} slice_list_t;

static void collect(void *arg, const fs_result_t *r)
{
    slice_list_t *l = arg;
    if (l->overflow || l->nomem)
        return;
    if (l->count == FS_TRIP_MAX_ITINERARIES) {
        l->overflow = 1;
        return;
    }
    fs_result_t *items = fs_array_grow(l->items, &l->cap, l->count, sizeof(*items), 64);
    if (items == NULL) {
        l->nomem = 1;
        return;
    }
    l->items = items;
    items[l->count++] = *r;
}

static void free_lists(slice_list_t *lists, unsigned n)
{
    for (unsigned k = 0; k < n; k++)
        free(lists[k].items);
}

/* Every slice's itineraries, sorted the trip's way. 0, FS_ETIMEDOUT or FS_ENOMEM. */
static int enumerate(const fs_generation_t *gen, const fs_trip_query_t *q, slice_list_t *lists)
{
    memset(lists, 0, sizeof(*lists) * FS_TRIP_MAX_SLICES);
    for (unsigned k = 0; k < q->slice_count; k++) {
        fs_search_query_t sq = q->slices[k];
        sq.sort = q->sort;
        sq.deadline_us = q->deadline_us;
        memset(&sq.cursor, 0, sizeof(sq.cursor));
        int rc = fs_search_each(gen, &sq, collect, &lists[k]);
        if (rc == 0 && lists[k].overflow)
            rc = FS_ETIMEDOUT;
        if (rc == 0 && lists[k].nomem)
            rc = FS_ENOMEM;
        if (rc != 0) {
            free_lists(lists, k + 1);
            return rc;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ groups */

typedef struct item {
    const fs_result_t *r;
    int64_t dep, arr, key;
} item_t;

typedef struct level {
    item_t *items;     /* sorted by departure */
    unsigned n;
    int64_t *best;     /* per item: its key plus its best completion; INF: none */
    uint64_t *count;   /* per item: its completions */
    int64_t *suf_best; /* n + 1: minimum of best over items[i..n) */
    uint64_t *suf_count;
    unsigned *order;   /* item indexes by best; only those with a completion */
    unsigned ordered;
    int64_t *tree;     /* 2 * leaves: the latest departure over a range of order positions */
    unsigned leaves;
} level_t;

typedef struct group {
    level_t lv[FS_TRIP_MAX_SLICES];
} group_t;

/* One allocation per call holds a group's arrays: freed together. */
typedef struct arena {
    void **blocks;
    size_t count, cap;
    int failed;
} arena_t;

static void *arena_alloc(arena_t *a, size_t bytes)
{
    if (a->failed)
        return NULL;
    void **blocks = fs_array_grow(a->blocks, &a->cap, a->count, sizeof(*blocks), 16);
    void *p = blocks != NULL ? malloc(bytes > 0 ? bytes : 1) : NULL;
    if (blocks != NULL)
        a->blocks = blocks;
    if (p == NULL) {
        a->failed = 1;
        return NULL;
    }
    a->blocks[a->count++] = p;
    return p;
}

static void arena_free(arena_t *a)
{
    for (size_t i = 0; i < a->count; i++)
        free(a->blocks[i]);
    free(a->blocks);
}

static int64_t slice_key(enum fs_sort sort, unsigned k, const fs_result_t *r)
{
    if (sort == FS_SORT_DEPARTURE)
        return k == 0 ? r->departs_utc_min : 0; /* the trip's departure is its first slice's */
    return sort == FS_SORT_DURATION ? (int64_t)r->duration_min : (int64_t)r->miles;
}

static int item_dep_cmp(const void *a, const void *b)
{
    const item_t *x = a, *y = b;
    return (x->dep > y->dep) - (x->dep < y->dep);
}

static int order_cmp(const void *a, const void *b, void *level)
{
    const int64_t *best = ((const level_t *)level)->best;
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    if (best[x] != best[y])
        return best[x] < best[y] ? -1 : 1;
    return (x > y) - (x < y);
}

/* Slices are short (a route over a week: tens of itineraries), where qsort's indirect calls cost
 * more than the pairing: an insertion sort below SMALL_SORT (bench/micro_trips, a round trip of 7 x 7 dates: 13.8 -> 12.0 us). */
#define SMALL_SORT 48

static void sort_items(item_t *items, unsigned n)
{
    if (n > SMALL_SORT) {
        qsort(items, n, sizeof(item_t), item_dep_cmp);
        return;
    }
    for (unsigned i = 1; i < n; i++) {
        item_t x = items[i];
        unsigned j = i;
        for (; j > 0 && items[j - 1].dep > x.dep; j--)
            items[j] = items[j - 1];
        items[j] = x;
    }
}

static void sort_order(level_t *L)
{
    unsigned *order = L->order, n = L->ordered;
    if (n > SMALL_SORT) {
        qsort_r(order, n, sizeof(unsigned), order_cmp, L);
        return;
    }
    const int64_t *best = L->best;
    for (unsigned i = 1; i < n; i++) {
        unsigned x = order[i], j = i;
        for (; j > 0 && (best[order[j - 1]] > best[x] || (best[order[j - 1]] == best[x] && order[j - 1] > x)); j--)
            order[j] = order[j - 1];
        order[j] = x;
    }
}

/* First index in items (sorted by departure) departing at or after t. */
static unsigned lower_bound(const item_t *items, unsigned n, int64_t t)
{
    unsigned lo = 0, hi = n;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (items[mid].dep < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* First order position >= from whose itinerary departs at or after t, or -1. */
static long find_first(const level_t *L, unsigned node, unsigned lo, unsigned hi, unsigned from, int64_t t)
{
    if (hi <= from || L->tree[node] < t)
        return -1;
    if (hi - lo == 1)
        return (long)lo;
    unsigned mid = lo + (hi - lo) / 2;
    long r = find_first(L, 2 * node, lo, mid, from, t);
    return r >= 0 ? r : find_first(L, 2 * node + 1, mid, hi, from, t);
}

static long next_position(const level_t *L, unsigned from, int64_t t)
{
    if (L->ordered == 0 || from >= L->ordered)
        return -1;
    return find_first(L, 1, 0, L->leaves, from, t);
}

/* Fills a group's levels from their items (already in place, unsorted): sorts, counts, best
 * completions, orders, trees. 0 or FS_ENOMEM. */
static int build_group(group_t *g, unsigned slices, unsigned min_connection, arena_t *a)
{
    for (unsigned k = 0; k < slices; k++)
        sort_items(g->lv[k].items, g->lv[k].n);
    for (unsigned kk = slices; kk-- > 0;) {
        level_t *L = &g->lv[kk];
        unsigned n = L->n;
        L->best = arena_alloc(a, sizeof(int64_t) * n);
        L->count = arena_alloc(a, sizeof(uint64_t) * n);
        L->suf_best = arena_alloc(a, sizeof(int64_t) * (n + 1));
        L->suf_count = arena_alloc(a, sizeof(uint64_t) * (n + 1));
        L->order = arena_alloc(a, sizeof(unsigned) * n);
        if (a->failed)
            return FS_ENOMEM;
        const level_t *next = kk + 1 < slices ? &g->lv[kk + 1] : NULL;
        for (unsigned i = 0; i < n; i++) {
            const item_t *it = &L->items[i];
            if (next == NULL) {
                L->best[i] = it->key;
                L->count[i] = 1;
                continue;
            }
            unsigned j = lower_bound(next->items, next->n, it->arr + (int64_t)min_connection);
            L->count[i] = next->suf_count[j];
            L->best[i] = next->suf_best[j] == INF ? INF : it->key + next->suf_best[j];
        }
        L->suf_best[n] = INF;
        L->suf_count[n] = 0;
        for (unsigned i = n; i-- > 0;) {
            L->suf_best[i] = L->best[i] < L->suf_best[i + 1] ? L->best[i] : L->suf_best[i + 1];
            L->suf_count[i] = L->suf_count[i + 1] + L->count[i];
        }
        L->ordered = 0;
        for (unsigned i = 0; i < n; i++)
            if (L->best[i] != INF)
                L->order[L->ordered++] = i;
        sort_order(L);
        L->leaves = 1;
        while (L->leaves < L->ordered)
            L->leaves *= 2;
        L->tree = arena_alloc(a, sizeof(int64_t) * 2 * L->leaves);
        if (L->tree == NULL)
            return FS_ENOMEM;
        for (unsigned p = 0; p < L->leaves; p++)
            L->tree[L->leaves + p] = p < L->ordered ? L->items[L->order[p]].dep : INT64_MIN;
        for (unsigned p = L->leaves; p-- > 1;)
            L->tree[p] = L->tree[2 * p] > L->tree[2 * p + 1] ? L->tree[2 * p] : L->tree[2 * p + 1];
    }
    return 0;
}

static item_t to_item(enum fs_sort sort, unsigned k, const fs_result_t *r)
{
    item_t it = {.r = r, .dep = r->departs_utc_min, .arr = r->departs_utc_min + (int64_t)r->duration_min,
                 .key = slice_key(sort, k, r)};
    return it;
}

static int result_day_cmp(const void *a, const void *b)
{
    const fs_result_t *x = a, *y = b;
    return (x->leg->day > y->leg->day) - (x->leg->day < y->leg->day);
}

/* The groups of a query (see the top of the file). *count of them in *out. 0 or FS_ENOMEM. */
static int make_groups(const fs_trip_query_t *q, slice_list_t *lists, arena_t *a, group_t **out, unsigned *count)
{
    unsigned n = q->slice_count;
    int stays = n == 2 && q->min_stay >= 0 && q->max_stay >= q->min_stay;
    if (!stays) {
        group_t *g = arena_alloc(a, sizeof(*g));
        if (g == NULL)
            return FS_ENOMEM;
        memset(g, 0, sizeof(*g));
        for (unsigned k = 0; k < n; k++) {
            level_t *L = &g->lv[k];
            L->items = arena_alloc(a, sizeof(item_t) * lists[k].count);
            if (L->items == NULL)
                return FS_ENOMEM;
            L->n = (unsigned)lists[k].count;
            for (unsigned i = 0; i < L->n; i++)
                L->items[i] = to_item(q->sort, k, &lists[k].items[i]);
        }
        *out = g;
        *count = 1;
        return build_group(g, n, q->min_connection, a);
    }
    /* by outbound date; the returns by date too, so that a group's are one contiguous run */
    for (unsigned k = 0; k < 2; k++)
        if (lists[k].count > 1) /* items is NULL when there are none */
            qsort(lists[k].items, lists[k].count, sizeof(fs_result_t), result_day_cmp);
    unsigned days = 0;
    for (size_t i = 0; i < lists[0].count; i++)
        days += i == 0 || lists[0].items[i].leg->day != lists[0].items[i - 1].leg->day;
    group_t *groups = arena_alloc(a, sizeof(group_t) * (days ? days : 1));
    if (groups == NULL)
        return FS_ENOMEM;
    memset(groups, 0, sizeof(group_t) * (days ? days : 1));
    unsigned gi = 0;
    for (size_t i = 0; i < lists[0].count;) {
        int32_t day = lists[0].items[i].leg->day;
        size_t j = i;
        while (j < lists[0].count && lists[0].items[j].leg->day == day)
            j++;
        size_t r0 = 0, r1;
        while (r0 < lists[1].count && (int32_t)lists[1].items[r0].leg->day < day + q->min_stay)
            r0++;
        r1 = r0;
        while (r1 < lists[1].count && (int32_t)lists[1].items[r1].leg->day <= day + q->max_stay)
            r1++;
        group_t *g = &groups[gi++];
        g->lv[0].items = arena_alloc(a, sizeof(item_t) * (j - i));
        g->lv[1].items = arena_alloc(a, sizeof(item_t) * (r1 - r0));
        if (a->failed)
            return FS_ENOMEM;
        g->lv[0].n = (unsigned)(j - i);
        g->lv[1].n = (unsigned)(r1 - r0);
        for (size_t x = i; x < j; x++)
            g->lv[0].items[x - i] = to_item(q->sort, 0, &lists[0].items[x]);
        for (size_t x = r0; x < r1; x++)
            g->lv[1].items[x - r0] = to_item(q->sort, 1, &lists[1].items[x]);
        if (build_group(g, 2, q->min_connection, a) != 0)
            return FS_ENOMEM;
        i = j;
    }
    *out = groups;
    *count = gi;
    return 0;
}

/* --------------------------------------------------------- best-first */

typedef struct state {
    int64_t f;         /* the value of the best trip through this state: exact */
    int64_t prefix;    /* the keys of the slices before the last chosen one */
    int64_t threshold; /* the earliest departure the last chosen slice could have */
    unsigned group, depth, pos;
    unsigned chosen[FS_TRIP_MAX_SLICES]; /* item indexes of slices 0..depth */
} state_t;

/* States live in a pool, never moved; the heap orders (value, pool index) pairs, 16 bytes, so a
 * sift moves a quarter of what moving the states would. */
typedef struct heap_item {
    int64_t f;
    uint32_t state;
} heap_item_t;

typedef struct state_heap {
    state_t *pool;
    size_t pooled, pool_cap;
    heap_item_t *items;
    size_t count, cap;
} state_heap_t;

static int state_push(state_heap_t *h, const state_t *s)
{
    state_t *pool = fs_array_grow(h->pool, &h->pool_cap, h->pooled, sizeof(*pool), 128);
    if (pool == NULL || h->pooled >= UINT32_MAX)
        return FS_ENOMEM;
    h->pool = pool;
    heap_item_t *items = fs_array_grow(h->items, &h->cap, h->count, sizeof(*items), 128);
    if (items == NULL)
        return FS_ENOMEM;
    h->items = items;
    pool[h->pooled] = *s;
    size_t i = h->count++;
    items[i] = (heap_item_t){s->f, (uint32_t)h->pooled++};
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (items[parent].f <= items[i].f)
            break;
        heap_item_t t = items[parent];
        items[parent] = items[i];
        items[i] = t;
        i = parent;
    }
    return 0;
}

static const state_t *state_pop(state_heap_t *h)
{
    const state_t *top = &h->pool[h->items[0].state];
    h->items[0] = h->items[--h->count];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->count && h->items[l].f < h->items[m].f)
            m = l;
        if (r < h->count && h->items[r].f < h->items[m].f)
            m = r;
        if (m == i)
            break;
        heap_item_t t = h->items[m];
        h->items[m] = h->items[i];
        h->items[i] = t;
        i = m;
    }
    return top;
}

/* A trip while it is ranked: its value and its slices' results, 40 bytes (a whole fs_trip_t is
 * ten times that, and copying those in the page heap cost more than the walk). */
typedef struct entry {
    int64_t sort_value;
    const fs_result_t *r[FS_TRIP_MAX_SLICES];
} entry_t;

/* The trips after the cursor in the order the walk finds them: by value, ties in any order. */
typedef struct page {
    entry_t *items;
    size_t count, cap;
    unsigned slices;
    enum fs_sort sort;
} page_t;

/* The order of trips (index.h): the sort value, then slice by slice fs_result_compare. */
static int entry_cmp(const page_t *p, const entry_t *a, const entry_t *b)
{
    if (a->sort_value != b->sort_value)
        return a->sort_value < b->sort_value ? -1 : 1;
    for (unsigned k = 0; k < p->slices; k++) {
        int c = fs_result_compare(p->sort, a->r[k], b->r[k]);
        if (c != 0)
            return c;
    }
    return 0;
}

static int compare_to_cursor(const entry_t *e, unsigned slices, const fs_trip_cursor_t *cur)
{
    if (e->sort_value != cur->sort_value)
        return e->sort_value < cur->sort_value ? -1 : 1;
    unsigned n = slices < cur->slice_count ? slices : cur->slice_count;
    for (unsigned k = 0; k < n; k++) {
        int c = fs_result_compare_cursor(e->r[k], &cur->slices[k]);
        if (c != 0)
            return c;
    }
    return (slices > cur->slice_count) - (slices < cur->slice_count);
}

static int entry_qsort_cmp(const void *a, const void *b, void *page)
{
    return entry_cmp(page, a, b);
}

static int walk(const fs_trip_query_t *q, const group_t *groups, unsigned group_count, fs_trip_t *trips, fs_trip_result_t *out,
                budget_t *budget)
{
    unsigned last = q->slice_count - 1;
    state_heap_t heap = {0};
    page_t page = {.items = NULL, .count = 0, .cap = 0, .slices = q->slice_count, .sort = q->sort};
    int stopped = 0, rc = 0;
    for (unsigned g = 0; g < group_count && rc == 0; g++) {
        const level_t *L = &groups[g].lv[0];
        long p = next_position(L, 0, INT64_MIN);
        if (p < 0)
            continue;
        state_t s = {.f = L->best[L->order[p]], .prefix = 0, .threshold = INT64_MIN, .group = g, .depth = 0,
                     .pos = (unsigned)p};
        s.chosen[0] = L->order[p];
        rc = state_push(&heap, &s);
    }
    while (rc == 0 && heap.count > 0) {
        if (budget_spent(budget)) {
            rc = FS_ETIMEDOUT;
            break;
        }
        state_t s = *state_pop(&heap); /* a copy: the pushes below may move the pool */
        if (page.count >= q->limit && s.f > page.items[q->limit - 1].sort_value) {
            stopped = 1; /* every trip left is worth more than the page's last: after the page */
            break;
        }
        const group_t *grp = &groups[s.group];
        const level_t *L = &grp->lv[s.depth];
        long p = next_position(L, s.pos + 1, s.threshold);
        if (p >= 0) {
            state_t sib = s;
            sib.pos = (unsigned)p;
            sib.chosen[s.depth] = L->order[p];
            sib.f = s.prefix + L->best[L->order[p]];
            rc = state_push(&heap, &sib);
        }
        const item_t *it = &L->items[s.chosen[s.depth]];
        if (s.depth == last) {
            entry_t t = {.sort_value = s.f};
            for (unsigned k = 0; k <= last; k++)
                t.r[k] = grp->lv[k].items[s.chosen[k]].r;
            if (q->cursor.present && compare_to_cursor(&t, q->slice_count, &q->cursor) <= 0)
                continue;
            entry_t *items = fs_array_grow(page.items, &page.cap, page.count, sizeof(*items), 64);
            if (items == NULL) {
                rc = FS_ENOMEM;
                break;
            }
            page.items = items;
            items[page.count++] = t;
            continue;
        }
        const level_t *N = &grp->lv[s.depth + 1];
        int64_t threshold = it->arr + (int64_t)q->min_connection;
        long c = next_position(N, 0, threshold);
        if (c >= 0 && rc == 0) { /* always: the state's best completion exists */
            state_t child = s;
            child.depth = s.depth + 1;
            child.prefix = s.prefix + it->key;
            child.threshold = threshold;
            child.pos = (unsigned)c;
            child.chosen[child.depth] = N->order[c];
            child.f = child.prefix + N->best[N->order[c]];
            rc = state_push(&heap, &child);
        }
    }
    free(heap.pool);
    free(heap.items);
    if (rc != 0) {
        free(page.items);
        return rc;
    }
    /* the walk gave them by value: only runs of equal values need ordering, the one that
     * straddles the limit included */
    for (size_t i = 0; i < page.count;) {
        size_t j = i + 1;
        while (j < page.count && page.items[j].sort_value == page.items[i].sort_value)
            j++;
        if (j - i > 1)
            qsort_r(page.items + i, j - i, sizeof(entry_t), entry_qsort_cmp, &page);
        if (j >= q->limit)
            break;
        i = j;
    }
    unsigned count = page.count < q->limit ? (unsigned)page.count : q->limit;
    for (unsigned i = 0; i < count; i++) {
        fs_trip_t *t = &trips[i];
        t->slice_count = q->slice_count;
        t->sort_value = page.items[i].sort_value;
        t->miles = 0;
        t->duration_min = 0;
        for (unsigned k = 0; k < q->slice_count; k++) {
            const fs_result_t *r = page.items[i].r[k];
            t->slices[k] = *r;
            t->miles += r->miles;
            t->duration_min += r->duration_min;
        }
    }
    out->trips = trips;
    out->count = count;
    out->has_more = stopped || page.count > count;
    free(page.items);
    return 0;
}

int fs_trips(const fs_generation_t *gen, const fs_trip_query_t *q, fs_trip_t *trips, fs_trip_result_t *out)
{
    memset(out, 0, sizeof(*out));
    out->trips = trips;
    if (q->slice_count < 2 || q->slice_count > FS_TRIP_MAX_SLICES || q->limit < 1 || q->limit > FS_SEARCH_MAX_LIMIT)
        return FS_EINVAL;
    slice_list_t lists[FS_TRIP_MAX_SLICES];
    int rc = enumerate(gen, q, lists);
    if (rc != 0)
        return rc;
    arena_t a = {0};
    group_t *groups = NULL;
    unsigned group_count = 0;
    budget_t budget = {.deadline_us = q->deadline_us};
    rc = make_groups(q, lists, &a, &groups, &group_count);
    uint64_t total = 0;
    for (unsigned g = 0; rc == 0 && g < group_count; g++)
        total += groups[g].lv[0].suf_count[0];
    if (rc == 0)
        rc = walk(q, groups, group_count, trips, out, &budget);
    arena_free(&a);
    free_lists(lists, q->slice_count);
    if (rc != 0) {
        memset(out, 0, sizeof(*out));
        out->trips = trips;
        return rc;
    }
    out->total = total;
    return 0;
}

/* --------------------------------------------------------------- grid */

static int bucket_cmp(const void *a, const void *b)
{
    const fs_result_t *x = a, *y = b;
    if (x->leg->day != y->leg->day)
        return x->leg->day < y->leg->day ? -1 : 1;
    if (x->cabin != y->cabin)
        return x->cabin < y->cabin ? -1 : 1;
    return (x->departs_utc_min > y->departs_utc_min) - (x->departs_utc_min < y->departs_utc_min);
}

int fs_trip_grid(const fs_generation_t *gen, const fs_trip_query_t *q, fs_trip_cell_t *cells)
{
    const fs_search_query_t *s0 = &q->slices[0], *s1 = &q->slices[1];
    int32_t days0 = s0->end_day - s0->start_day + 1, days1 = s1->end_day - s1->start_day + 1;
    if (q->slice_count != 2 || days0 < 1 || days1 < 1 || days0 > FS_TRIP_GRID_MAX_DAYS || days1 > FS_TRIP_GRID_MAX_DAYS)
        return FS_EINVAL;
    memset(cells, 0, sizeof(*cells) * (size_t)days0 * (size_t)days1 * FS_CABIN_COUNT);
    slice_list_t lists[FS_TRIP_MAX_SLICES];
    int rc = enumerate(gen, q, lists);
    if (rc != 0)
        return rc;
    /* the returns in buckets of (date, cabin), each sorted by departure, with suffix minimum
     * miles and suffix counts: a cell's part from one outbound is one binary search per bucket */
    const fs_result_t *ret = lists[1].items;
    size_t nret = lists[1].count;
    if (nret > 1)
        qsort(lists[1].items, nret, sizeof(fs_result_t), bucket_cmp);
    uint32_t *suf_min = malloc(sizeof(uint32_t) * (nret + 1));
    size_t *bucket = calloc((size_t)days1 * FS_CABIN_COUNT + 1, sizeof(size_t)); /* start of each bucket */
    if (suf_min == NULL || bucket == NULL) {
        free(suf_min);
        free(bucket);
        free_lists(lists, 2);
        return FS_ENOMEM;
    }
    for (size_t i = 0; i < nret; i++)
        bucket[(size_t)((int32_t)ret[i].leg->day - s1->start_day) * FS_CABIN_COUNT + ret[i].cabin + 1]++;
    for (size_t b = 1; b <= (size_t)days1 * FS_CABIN_COUNT; b++)
        bucket[b] += bucket[b - 1];
    for (size_t b = 0; b < (size_t)days1 * FS_CABIN_COUNT; b++)
        for (size_t i = bucket[b + 1]; i-- > bucket[b];)
            suf_min[i] = i + 1 < bucket[b + 1] && suf_min[i + 1] < ret[i].miles ? suf_min[i + 1] : ret[i].miles;
    budget_t budget = {.deadline_us = q->deadline_us};
    for (size_t o = 0; o < lists[0].count && rc == 0; o++) {
        const fs_result_t *out = &lists[0].items[o];
        int32_t d0 = (int32_t)out->leg->day - s0->start_day;
        int64_t threshold = out->departs_utc_min + (int64_t)out->duration_min + (int64_t)q->min_connection;
        for (int32_t d1 = 0; d1 < days1; d1++) {
            int32_t stay = s1->start_day + d1 - (int32_t)out->leg->day;
            if (q->min_stay >= 0 && (stay < q->min_stay || stay > q->max_stay))
                continue;
            if (budget_spent(&budget)) {
                rc = FS_ETIMEDOUT;
                break;
            }
            for (unsigned c = 0; c < FS_CABIN_COUNT; c++) {
                size_t b = (size_t)d1 * FS_CABIN_COUNT + c, lo = bucket[b], hi = bucket[b + 1];
                if (lo < hi && ret[lo].departs_utc_min >= threshold)
                    hi = lo; /* a return days later: every one follows (most cells: no search) */
                while (lo < hi) {
                    size_t mid = lo + (hi - lo) / 2;
                    if (ret[mid].departs_utc_min < threshold)
                        lo = mid + 1;
                    else
                        hi = mid;
                }
                if (lo == bucket[b + 1])
                    continue;
                unsigned cabin = out->cabin < c ? out->cabin : c;
                fs_trip_cell_t *cell = &cells[((size_t)d0 * (size_t)days1 + (size_t)d1) * FS_CABIN_COUNT + cabin];
                uint32_t miles = out->miles + suf_min[lo];
                if (cell->count == 0 || miles < cell->min_miles)
                    cell->min_miles = miles;
                cell->count += bucket[b + 1] - lo;
            }
        }
    }
    free(suf_min);
    free(bucket);
    free_lists(lists, 2);
    if (rc != 0)
        memset(cells, 0, sizeof(*cells) * (size_t)days0 * (size_t)days1 * FS_CABIN_COUNT);
    return rc;
}
