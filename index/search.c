/*
 * index/search.c: the read side: search, calendar, routes explore.
 *
 * A search visits, for every source and every (origin, destination) pair, only the legs of that
 * route whose day lies in the range (a hash lookup and two binary searches), so its cost is the
 * number of legs it could return, not the size of the index. Every match is counted into total;
 * the page is kept in a bounded max-heap of `limit` entries, so a wide search costs
 * O(matches * log(limit)) and no allocation.
 *
 * Order: the sort value (miles, departure in UTC, or duration), then departure in UTC, then the
 * result id. Ids are built only to break exact ties, which are rare. A cursor is the sort key of
 * the last result of a page; the next page is every result strictly after it in that order, which
 * needs no server-side state and holds across generations.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "index/index.h"

size_t fs_result_id(const fs_result_t *r, char out[FS_ID_MAX])
{
    const fs_leg_t *l = r->leg;
    char carrier[3], origin[4], date[11];
    fs_carrier_format(l->carrier, carrier);
    fs_airport_format(l->origin, origin);
    fs_date_format(l->day, date);
    /* yyyymmdd: drop the dashes */
    int n = snprintf(out, FS_ID_MAX, "%s-%s%u-%s-%.4s%.2s%.2s-%c", r->segment->source, carrier, (unsigned)l->flight, origin,
                     date, date + 5, date + 8, fs_cabin_letters[r->cabin]);
    return n < 0 ? 0 : (size_t)n >= FS_ID_MAX ? FS_ID_MAX - 1 : (size_t)n;
}

static int cmp_i64(int64_t a, int64_t b)
{
    return a < b ? -1 : a > b;
}

int fs_result_compare(enum fs_sort sort, const fs_result_t *a, const fs_result_t *b)
{
    (void)sort; /* the sort is already folded into sort_value */
    int c = cmp_i64(a->sort_value, b->sort_value);
    if (c == 0)
        c = cmp_i64(a->departs_utc_min, b->departs_utc_min);
    if (c == 0) {
        char ia[FS_ID_MAX], ib[FS_ID_MAX];
        fs_result_id(a, ia);
        fs_result_id(b, ib);
        c = strcmp(ia, ib);
    }
    return c;
}

static int compare_to_cursor(const fs_result_t *r, const fs_cursor_t *cur)
{
    int c = cmp_i64(r->sort_value, cur->sort_value);
    if (c == 0)
        c = cmp_i64(r->departs_utc_min, cur->departs_utc_min);
    if (c == 0) {
        char id[FS_ID_MAX];
        fs_result_id(r, id);
        c = strcmp(id, cur->id);
    }
    return c;
}

static int source_wanted(const fs_search_query_t *q, const fs_segment_t *seg)
{
    if (q->source_count == 0)
        return 1;
    for (unsigned i = 0; i < q->source_count; i++)
        if (strcmp(q->sources[i], seg->source) == 0)
            return 1;
    return 0;
}

static int carrier_wanted(const fs_search_query_t *q, fs_carrier_t carrier)
{
    if (q->carrier_count == 0)
        return 1;
    for (unsigned i = 0; i < q->carrier_count; i++)
        if (q->carriers[i] == carrier)
            return 1;
    return 0;
}

/* The heap keeps the `limit` best results seen so far, the worst of them at the root. */
typedef struct page_heap {
    fs_result_t *items;
    unsigned count, cap;
    enum fs_sort sort;
} page_heap_t;

static void heap_swap(fs_result_t *a, fs_result_t *b)
{
    fs_result_t t = *a;
    *a = *b;
    *b = t;
}

static void heap_sift_down(page_heap_t *h, unsigned i)
{
    for (;;) {
        unsigned l = 2 * i + 1, r = l + 1, worst = i;
        if (l < h->count && fs_result_compare(h->sort, &h->items[l], &h->items[worst]) > 0)
            worst = l;
        if (r < h->count && fs_result_compare(h->sort, &h->items[r], &h->items[worst]) > 0)
            worst = r;
        if (worst == i)
            return;
        heap_swap(&h->items[i], &h->items[worst]);
        i = worst;
    }
}

static void heap_offer(page_heap_t *h, const fs_result_t *r)
{
    if (h->count < h->cap) {
        unsigned i = h->count++;
        h->items[i] = *r;
        while (i > 0) {
            unsigned parent = (i - 1) / 2;
            if (fs_result_compare(h->sort, &h->items[i], &h->items[parent]) <= 0)
                break;
            heap_swap(&h->items[i], &h->items[parent]);
            i = parent;
        }
    } else if (h->cap > 0 && fs_result_compare(h->sort, r, &h->items[0]) < 0) {
        h->items[0] = *r;
        heap_sift_down(h, 0);
    }
}

static int result_qsort_cmp(const void *a, const void *b)
{
    return fs_result_compare(FS_SORT_MILES, a, b);
}

static void fill_result(fs_result_t *r, const fs_segment_t *seg, const fs_leg_t *leg, unsigned cabin, enum fs_sort sort)
{
    const fs_fare_t *fare = &seg->fares[FS_CABIN_FARE(leg->cabin[cabin])];
    r->segment = seg;
    r->leg = leg;
    r->cabin = (uint8_t)cabin;
    r->seats = (uint8_t)FS_CABIN_SEATS(leg->cabin[cabin]);
    r->miles = fare->miles;
    r->taxes_cents = fare->taxes_cents;
    r->currency = fare->currency;
    r->departs_utc_min = fs_leg_departs_utc_min(leg);
    switch (sort) {
    case FS_SORT_DEPARTURE:
        r->sort_value = r->departs_utc_min;
        break;
    case FS_SORT_DURATION:
        r->sort_value = leg->duration_min;
        break;
    default:
        r->sort_value = fare->miles;
        break;
    }
}

/*
 * Calls visit(arg, seg, leg) for every leg of every wanted source and carrier on every
 * (origin, destination) pair of the query whose local departure date is in range.
 */
static void each_leg(const fs_generation_t *gen, const fs_search_query_t *q,
                     void (*visit)(void *arg, const fs_segment_t *seg, const fs_leg_t *leg), void *arg)
{
    for (unsigned s = 0; s < gen->segment_count; s++) {
        const fs_segment_t *seg = gen->segments[s];
        if (!source_wanted(q, seg))
            continue;
        for (unsigned o = 0; o < q->origin_count; o++) {
            for (unsigned d = 0; d < q->destination_count; d++) {
                const fs_route_t *route = fs_segment_route(seg, q->origins[o], q->destinations[d]);
                if (route == NULL)
                    continue;
                uint32_t i, end;
                fs_route_days(seg, route, q->start_day, q->end_day, &i, &end);
                for (; i < end; i++) {
                    const fs_leg_t *leg = &seg->legs[i];
                    if (carrier_wanted(q, leg->carrier))
                        visit(arg, seg, leg);
                }
            }
        }
    }
}

typedef struct search_state {
    const fs_search_query_t *q;
    page_heap_t heap;
    uint64_t total;
    uint64_t after_cursor;
} search_state_t;

static void search_visit(void *arg, const fs_segment_t *seg, const fs_leg_t *leg)
{
    search_state_t *st = arg;
    const fs_search_query_t *q = st->q;
    unsigned c0 = q->cabin < 0 ? 0 : (unsigned)q->cabin, c1 = q->cabin < 0 ? FS_CABIN_COUNT : (unsigned)q->cabin + 1;
    for (unsigned c = c0; c < c1; c++) {
        if ((leg->cabin_mask & (1u << c)) == 0 || FS_CABIN_SEATS(leg->cabin[c]) < q->seats)
            continue;
        fs_result_t r;
        fill_result(&r, seg, leg, c, q->sort);
        st->total++;
        if (q->cursor.present && compare_to_cursor(&r, &q->cursor) <= 0)
            continue;
        st->after_cursor++;
        heap_offer(&st->heap, &r);
    }
}

int fs_search(const fs_generation_t *gen, const fs_search_query_t *q, fs_result_t *results, fs_search_result_t *out)
{
    search_state_t st = {.q = q, .heap = {.items = results, .count = 0, .cap = q->limit, .sort = q->sort}};
    each_leg(gen, q, search_visit, &st);
    qsort(results, st.heap.count, sizeof(*results), result_qsort_cmp);
    out->results = results;
    out->count = st.heap.count;
    out->total = st.total;
    out->has_more = st.after_cursor > st.heap.count;
    return 0;
}

/* ------------------------------------------------------------ calendar */

typedef struct calendar_state {
    const fs_search_query_t *q;
    fs_calendar_cell_t *cells;
} calendar_state_t;

static void calendar_visit(void *arg, const fs_segment_t *seg, const fs_leg_t *leg)
{
    calendar_state_t *st = arg;
    const fs_search_query_t *q = st->q;
    unsigned c0 = q->cabin < 0 ? 0 : (unsigned)q->cabin, c1 = q->cabin < 0 ? FS_CABIN_COUNT : (unsigned)q->cabin + 1;
    fs_calendar_cell_t *row = &st->cells[(size_t)((int32_t)leg->day - q->start_day) * FS_CABIN_COUNT];
    for (unsigned c = c0; c < c1; c++) {
        unsigned seats = FS_CABIN_SEATS(leg->cabin[c]);
        if ((leg->cabin_mask & (1u << c)) == 0 || seats < q->seats)
            continue;
        uint32_t miles = seg->fares[FS_CABIN_FARE(leg->cabin[c])].miles;
        fs_calendar_cell_t *cell = &row[c];
        if (cell->count == 0 || miles < cell->min_miles)
            cell->min_miles = miles;
        if (seats > cell->max_seats)
            cell->max_seats = seats;
        cell->count++;
    }
}

int fs_calendar(const fs_generation_t *gen, const fs_search_query_t *q, fs_calendar_cell_t *cells)
{
    size_t days = (size_t)(q->end_day - q->start_day + 1);
    memset(cells, 0, days * FS_CABIN_COUNT * sizeof(*cells));
    calendar_state_t st = {.q = q, .cells = cells};
    each_leg(gen, q, calendar_visit, &st);
    return 0;
}

/* -------------------------------------------------------------- routes */

static int summary_cmp(const void *a, const void *b)
{
    const fs_route_summary_t *x = a, *y = b;
    return (int)x->destination - (int)y->destination;
}

int fs_routes_from(const fs_generation_t *gen, fs_airport_t origin, const fs_search_query_t *filter,
                   fs_route_summary_t *out, unsigned max)
{
    unsigned n = 0;
    for (unsigned s = 0; s < gen->segment_count; s++) {
        const fs_segment_t *seg = gen->segments[s];
        if (filter != NULL && !source_wanted(filter, seg))
            continue;
        /* routes are sorted by (origin, destination): find the first with this origin */
        uint32_t lo = 0, hi = seg->route_count;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (seg->routes[mid].origin < origin)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (uint32_t r = lo; r < seg->route_count && seg->routes[r].origin == origin; r++) {
            const fs_route_t *route = &seg->routes[r];
            uint64_t legs = 0;
            int32_t first = -1, last = -1;
            for (uint32_t i = route->first; i < route->first + route->count; i++) {
                const fs_leg_t *leg = &seg->legs[i];
                if (filter != NULL && !carrier_wanted(filter, leg->carrier))
                    continue;
                if (filter != NULL && ((int32_t)leg->day < filter->start_day || (int32_t)leg->day > filter->end_day))
                    continue;
                if (first < 0)
                    first = leg->day;
                last = leg->day;
                legs++;
            }
            if (legs == 0)
                continue;
            unsigned k = 0;
            while (k < n && out[k].destination != route->destination)
                k++;
            if (k == n) {
                if (n == max)
                    return FS_ERANGE;
                out[n++] = (fs_route_summary_t){.destination = route->destination, .legs = 0, .first_day = first, .last_day = last};
            }
            out[k].legs += legs;
            if (first < out[k].first_day)
                out[k].first_day = first;
            if (last > out[k].last_day)
                out[k].last_day = last;
        }
    }
    qsort(out, n, sizeof(*out), summary_cmp);
    return (int)n;
}
