/*
 * bench/load/mix.c: the query mix of flightsearch-load (see load.h).
 *
 * Discovery asks the target's public API only, so it works on any deployment:
 *   1. /v1/routes?origin=X for every 3-letter code (or the --origins given): each route's legs and
 *      first and last date; a code that answers for other airports (a city code) is skipped, a
 *      code with no routes is kept aside for the routes mix's misses.
 *   2. Popularity: Zipf (exponent s) over routes ranked by legs, the busiest first, as the bench
 *      does (bench/harness/mixes.py); or, with --weights-from, the number of times each
 *      origin-destination pair appears in a query log.
 *   3. /v1/calendar over each popular route's published days (up to --discover-routes routes):
 *      the dates that have an award seat, in any cabin and in economy.
 *   4. Draws per mix: a route by popularity and a date with seats, so every "hit" is answerable;
 *      with probability --miss-share a "miss", asked on purpose for something with no answer (the
 *      same route after its last published date, an airport without routes). 1-stop candidates
 *      (A->X by popularity, X->B among X's routes, a date with economy seats on both) are each
 *      asked once and only those that find an itinerary are kept as hits.
 *   5. Identical draws are merged into one line whose weight is their count times the mix's
 *      share over its draws: the mix file holds the distribution, one URL per line.
 *
 * Replay: the file names its seed; the sampler (cumulative weights, binary search, splitmix64)
 * draws the same sequence from the same file and seed.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench/load/load.h"
#include "loaders/reader.h"

const char *const fs_load_mix_names[FS_LOAD_MIX_KINDS] = {"direct_1day", "direct_7day", "calendar", "routes", "search_1stop"};

typedef struct route {
    char o[4], d[4];
    uint64_t legs;
    int first, last; /* days since 1970-01-01 */
    double w;
    int probed;
    int city;  /* the calendar searched more airports than the route's two (a city code): left out */
    int *days; /* dates with a seat in some cabin */
    unsigned char *econ;
    unsigned ndays, necon;
} route_t;

typedef struct disc {
    route_t *routes;
    size_t nroutes, cap;
    char (*empty)[4]; /* origins that answered with no routes */
    size_t nempty, empty_cap;
    size_t refused;
} disc_t;

/* ------------------------------------------------------------------ dates */

static int day_of(const char *s, size_t len)
{
    if (s == NULL || len != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    int v[3] = {0, 0, 0};
    static const int at[3] = {0, 5, 8}, digits[3] = {4, 2, 2};
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < digits[k]; i++) {
            char ch = s[at[k] + i];
            if (ch < '0' || ch > '9')
                return -1;
            v[k] = v[k] * 10 + (ch - '0');
        }
    struct tm tm = {0};
    tm.tm_year = v[0] - 1900;
    tm.tm_mon = v[1] - 1;
    tm.tm_mday = v[2];
    return (int)(timegm(&tm) / 86400);
}

static void date_str(int day, char out[11])
{
    time_t t = (time_t)day * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    if (strftime(out, 11, "%Y-%m-%d", &tm) == 0)
        out[0] = '\0';
}

/* ------------------------------------------------------------------ probes */

typedef void (*probe_fn)(void *ctx, size_t i, int status, const char *body, size_t len);

typedef struct probe_run {
    char **paths;
    size_t next, done;
    unsigned *attempts;
    size_t *retry;
    size_t nretry;
    probe_fn fn;
    void *ctx;
    size_t failed;
    char first_fail[160];
} probe_run_t;

static void probe_done(void *ctx, void *user, int status, const char *body, size_t len, int64_t s, int64_t d, int err)
{
    (void)s;
    (void)d;
    probe_run_t *p = ctx;
    size_t i = (size_t)((char **)user - p->paths); /* the user pointer is &paths[i] */
    /* Shed, over quota or a dropped connection: the question was not answered; ask again. */
    if ((err || status == 503 || status == 429) && p->attempts[i]++ < 40) {
        p->retry[p->nretry++] = i;
        return;
    }
    p->done++;
    /* /v1/routes refuses a city code (400 naming its airports): expected, not a failure */
    int expected = status == 400 && strncmp(p->paths[i], "/v1/routes?", 11) == 0;
    if ((err || status != 200) && !expected) {
        if (p->failed++ == 0)
            snprintf(p->first_fail, sizeof(p->first_fail), "%s answered %d", p->paths[i], err ? 0 : status);
    }
    p->fn(p->ctx, i, err ? 0 : status, body, len);
}

/* Asks every path once (503/429 are retried), o.connections x o.streams at a time. */
static int probe_all(const fs_load_target_t *t, char **paths, size_t n, const fs_load_discover_opts_t *o, probe_fn fn, void *ctx,
                     char *err, size_t errcap)
{
    probe_run_t p = {.paths = paths, .fn = fn, .ctx = ctx};
    p.attempts = calloc(n + 1, sizeof(*p.attempts));
    p.retry = calloc(n + 1, sizeof(*p.retry));
    fs_load_engine_opts_t eo = {.connections = o->connections,
                                .max_connections = o->connections,
                                .streams = o->streams,
                                .max_body = 16 << 20,
                                .done = probe_done,
                                .ctx = &p};
    fs_load_engine_t *e = p.attempts && p.retry ? fs_load_engine_new(t, &eo, 10000, err, errcap) : NULL;
    if (e == NULL) {
        free(p.attempts);
        free(p.retry);
        return -1;
    }
    uint64_t window = (uint64_t)o->connections * o->streams;
    int64_t last_progress = fs_load_now_ns();
    size_t last_done = 0;
    while (p.done < n && !fs_load_stop) {
        int backoff = 0;
        while (p.nretry > 0 && fs_load_engine_pending(e) < window) {
            size_t i = p.retry[--p.nretry];
            fs_load_engine_submit(e, paths[i], &paths[i]);
            backoff = 1;
        }
        while (p.next < n && fs_load_engine_pending(e) < window) {
            fs_load_engine_submit(e, paths[p.next], &paths[p.next]);
            p.next++;
        }
        fs_load_engine_poll(e, backoff ? 20 : 10);
        if (p.done != last_done) {
            last_done = p.done;
            last_progress = fs_load_now_ns();
        } else if (fs_load_now_ns() - last_progress > 30000000000LL) {
            snprintf(err, errcap, "discovery: no answer for 30 s (%zu of %zu asked)", p.done, n);
            fs_load_engine_free(e);
            free(p.attempts);
            free(p.retry);
            return -1;
        }
    }
    fs_load_engine_free(e);
    free(p.attempts);
    free(p.retry);
    if (fs_load_stop) {
        snprintf(err, errcap, "discovery interrupted");
        return -1;
    }
    if (o->verbose && p.failed)
        fprintf(stderr, "flightsearch-load: %zu of %zu discovery requests failed; the first: %s\n", p.failed, n, p.first_fail);
    return 0;
}

/* ------------------------------------------------------------ answers read */

static int str_is(const fs_rd_str_t *s, const char *lit)
{
    size_t n = strlen(lit);
    return s->p != NULL && s->len == n && memcmp(s->p, lit, n) == 0;
}

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    size_t c = *cap ? *cap * 2 : 256;
    while (c < need)
        c *= 2;
    void *n = realloc(p, c * elem);
    if (n == NULL) {
        fprintf(stderr, "flightsearch-load: out of memory\n");
        exit(1);
    }
    *cap = c;
    return n;
}

typedef struct routes_ctx {
    disc_t *d;
    char **paths;
} routes_ctx_t;

/* One /v1/routes answer: {"origin":..,"destinations":[{...}],"origins":[..],...}. */
static void on_routes(void *ctx, size_t i, int status, const char *body, size_t len)
{
    routes_ctx_t *rc = ctx;
    disc_t *d = rc->d;
    const char *code = strstr(rc->paths[i], "origin=") + 7;
    if (status != 200) {
        d->refused++;
        return;
    }
    fs_rd_t rd;
    fs_rd_val_t v;
    fs_rd_str_t k;
    fs_rd_init(&rd, FS_FEED_JSON, (const uint8_t *)body, len);
    if (fs_rd_read(&rd, &v) != 0 || v.type != FS_RD_MAP)
        return;
    size_t first_new = d->nroutes;
    int alias = 0, any = 0;
    while (fs_rd_map_next(&rd, &k) > 0) {
        if (str_is(&k, "origins")) {
            if (fs_rd_read(&rd, &v) != 0 || v.type != FS_RD_ARRAY)
                return;
            while (fs_rd_array_next(&rd) > 0) {
                if (fs_rd_read(&rd, &v) != 0)
                    return;
                if (v.type != FS_RD_STR || v.v.str.len != 3 || memcmp(v.v.str.p, code, 3) != 0)
                    alias = 1; /* a city code answering for its airport(s): asked under the airport's own code */
            }
        } else if (str_is(&k, "destinations")) {
            if (fs_rd_read(&rd, &v) != 0 || v.type != FS_RD_ARRAY)
                return;
            while (fs_rd_array_next(&rd) > 0) {
                route_t r = {0};
                uint64_t stops = 0;
                if (fs_rd_read(&rd, &v) != 0 || v.type != FS_RD_MAP)
                    return;
                while (fs_rd_map_next(&rd, &k) > 0) {
                    if (fs_rd_read(&rd, &v) != 0)
                        return;
                    if (str_is(&k, "destination") && v.type == FS_RD_STR && v.v.str.len == 3)
                        memcpy(r.d, v.v.str.p, 3);
                    else if (str_is(&k, "legs") && v.type == FS_RD_UINT)
                        r.legs = v.v.u;
                    else if (str_is(&k, "stops") && v.type == FS_RD_UINT)
                        stops = v.v.u;
                    else if (str_is(&k, "first_date") && v.type == FS_RD_STR)
                        r.first = day_of(v.v.str.p, v.v.str.len);
                    else if (str_is(&k, "last_date") && v.type == FS_RD_STR)
                        r.last = day_of(v.v.str.p, v.v.str.len);
                    else if (fs_rd_skip_rest(&rd, &v) != 0)
                        return;
                }
                any = 1;
                if (stops != 0 || r.d[0] == '\0' || r.first < 0 || r.last < r.first || r.legs == 0)
                    continue;
                memcpy(r.o, code, 3);
                d->routes = grow(d->routes, &d->cap, d->nroutes + 1, sizeof(route_t));
                d->routes[d->nroutes++] = r;
            }
        } else if (fs_rd_skip(&rd) != 0) {
            return;
        }
    }
    if (alias) {
        d->nroutes = first_new;
        return;
    }
    if (!any) {
        d->empty = grow(d->empty, &d->empty_cap, d->nempty + 1, 4);
        memcpy(d->empty[d->nempty], code, 3);
        d->empty[d->nempty++][3] = '\0';
    }
}

typedef struct cal_ctx {
    route_t **rs;
} cal_ctx_t;

/* One /v1/calendar answer: {"days":[{"date":..,"economy":{..},...}],...}. */
static void on_calendar(void *ctx, size_t i, int status, const char *body, size_t len)
{
    route_t *r = ((cal_ctx_t *)ctx)->rs[i];
    r->probed = 1;
    if (status != 200)
        return;
    fs_rd_t rd;
    fs_rd_val_t v;
    fs_rd_str_t k;
    size_t cap = 0, ecap = 0;
    fs_rd_init(&rd, FS_FEED_JSON, (const uint8_t *)body, len);
    if (fs_rd_read(&rd, &v) != 0 || v.type != FS_RD_MAP)
        return;
    while (fs_rd_map_next(&rd, &k) > 0) {
        if (str_is(&k, "origins") || str_is(&k, "destinations")) {
            /* the airports the codes were expanded to: anything but the route's own airport means
             * a city code (SHA: PVG and SHA), whose dates with seats are the city's, not the route's */
            const char *own = str_is(&k, "origins") ? r->o : r->d;
            unsigned n = 0;
            if (fs_rd_read(&rd, &v) != 0 || v.type != FS_RD_ARRAY)
                return;
            while (fs_rd_array_next(&rd) > 0) {
                if (fs_rd_read(&rd, &v) != 0)
                    return;
                if (v.type != FS_RD_STR || v.v.str.len != 3 || memcmp(v.v.str.p, own, 3) != 0 || n++ > 0)
                    r->city = 1;
            }
            continue;
        }
        if (!str_is(&k, "days")) {
            if (fs_rd_skip(&rd) != 0)
                return;
            continue;
        }
        if (fs_rd_read(&rd, &v) != 0 || v.type != FS_RD_ARRAY)
            return;
        while (fs_rd_array_next(&rd) > 0) {
            int day = -1, cabins = 0, econ = 0;
            if (fs_rd_read(&rd, &v) != 0 || v.type != FS_RD_MAP)
                return;
            while (fs_rd_map_next(&rd, &k) > 0) {
                if (str_is(&k, "date")) {
                    if (fs_rd_read(&rd, &v) != 0)
                        return;
                    if (v.type == FS_RD_STR)
                        day = day_of(v.v.str.p, v.v.str.len);
                } else {
                    cabins++; /* a cabin key appears only where the cabin has a seat */
                    econ |= str_is(&k, "economy");
                    if (fs_rd_skip(&rd) != 0)
                        return;
                }
            }
            if (day < 0 || cabins == 0)
                continue;
            r->days = grow(r->days, &cap, r->ndays + 1, sizeof(int));
            r->econ = grow(r->econ, &ecap, r->ndays + 1, 1);
            r->days[r->ndays] = day;
            r->econ[r->ndays++] = (unsigned char)econ;
            r->necon += (unsigned)econ;
        }
    }
}

typedef struct total_ctx {
    uint64_t *totals;
} total_ctx_t;

/* One /v1/search answer: its "total". */
static void on_search(void *ctx, size_t i, int status, const char *body, size_t len)
{
    uint64_t *totals = ((total_ctx_t *)ctx)->totals;
    fs_rd_t rd;
    fs_rd_val_t v;
    fs_rd_str_t k;
    totals[i] = 0;
    if (status != 200)
        return;
    fs_rd_init(&rd, FS_FEED_JSON, (const uint8_t *)body, len);
    if (fs_rd_read(&rd, &v) != 0 || v.type != FS_RD_MAP)
        return;
    while (fs_rd_map_next(&rd, &k) > 0) {
        if (fs_rd_read(&rd, &v) != 0)
            return;
        if (str_is(&k, "total") && v.type == FS_RD_UINT)
            totals[i] = v.v.u;
        else if (fs_rd_skip_rest(&rd, &v) != 0)
            return;
    }
}

/* ------------------------------------------------------------- popularity */

static int route_cmp_legs(const void *a, const void *b)
{
    const route_t *x = a, *y = b;
    if (x->legs != y->legs)
        return x->legs > y->legs ? -1 : 1;
    int c = memcmp(x->o, y->o, 3);
    return c ? c : memcmp(x->d, y->d, 3);
}

static int route_cmp_weight(const void *a, const void *b)
{
    const route_t *x = *(const route_t *const *)a, *y = *(const route_t *const *)b;
    if (x->w != y->w)
        return x->w > y->w ? -1 : 1;
    return route_cmp_legs(x, y);
}

/* The value of a 3-letter parameter in a URL (the first code of a comma list). */
static int url_code(const char *url, const char *param, char out[4])
{
    const char *p = url;
    size_t n = strlen(param);
    while ((p = strstr(p, param)) != NULL) {
        if ((p == url || p[-1] == '?' || p[-1] == '&') && p[n] == '=') {
            p += n + 1;
            for (int i = 0; i < 3; i++) {
                if (!isupper((unsigned char)p[i]))
                    return -1;
                out[i] = p[i];
            }
            out[3] = '\0';
            return 0;
        }
        p += n;
    }
    return -1;
}

/* Route weights from a query log: how often each origin-destination pair was asked. */
static int weights_from_log(disc_t *d, const char *path, char *err, size_t errcap)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errcap, "--weights-from %s: cannot open", path);
        return -1;
    }
    char line[8192];
    size_t used = 0, lines = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        char o[4], de[4];
        lines++;
        if (url_code(line, "origin", o) != 0 || url_code(line, "destination", de) != 0)
            continue;
        for (size_t i = 0; i < d->nroutes; i++)
            if (memcmp(d->routes[i].o, o, 3) == 0 && memcmp(d->routes[i].d, de, 3) == 0) {
                d->routes[i].w += 1;
                used++;
                break;
            }
    }
    fclose(f);
    if (used == 0) {
        snprintf(err, errcap, "--weights-from %s: none of its %zu lines asks for a route the target has", path, lines);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ draws */

typedef struct draw {
    unsigned kind;
    int miss;
    char *path;
} draw_t;

typedef struct draws {
    draw_t *v;
    size_t n, cap;
    size_t per_kind[FS_LOAD_MIX_KINDS];
} draws_t;

static void draw_add(draws_t *ds, unsigned kind, int miss, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void draw_add(draws_t *ds, unsigned kind, int miss, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    ds->v = grow(ds->v, &ds->cap, ds->n + 1, sizeof(draw_t));
    ds->v[ds->n].kind = kind;
    ds->v[ds->n].miss = miss;
    ds->v[ds->n].path = strdup(buf);
    if (ds->v[ds->n].path == NULL) {
        fprintf(stderr, "flightsearch-load: out of memory\n");
        exit(1);
    }
    ds->per_kind[kind]++;
    ds->n++;
}

/* A route by popularity among those that have what the mix needs (econ: an economy seat date). */
static const route_t *pick_route(route_t **rs, const double *cum, size_t n, uint64_t *rng, int econ)
{
    if (n == 0 || cum[n - 1] <= 0)
        return NULL;
    for (int tries = 0; tries < 1000; tries++) {
        double x = fs_load_rand01(rng) * cum[n - 1];
        size_t lo = 0, hi = n - 1;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (cum[mid] > x)
                hi = mid;
            else
                lo = mid + 1;
        }
        const route_t *r = rs[lo];
        if (econ ? r->necon > 0 : r->ndays > 0)
            return r;
    }
    return NULL;
}

static int pick_day(const route_t *r, uint64_t *rng, int econ)
{
    unsigned want = (unsigned)(fs_load_rand(rng) % (econ ? r->necon : r->ndays));
    for (unsigned i = 0; i < r->ndays; i++)
        if (!econ || r->econ[i]) {
            if (want-- == 0)
                return r->days[i];
        }
    return r->days[0];
}

static int has_econ_day(const route_t *r, int day)
{
    for (unsigned i = 0; i < r->ndays; i++)
        if (r->days[i] == day && r->econ[i])
            return 1;
    return 0;
}

static int draw_cmp(const void *a, const void *b)
{
    const draw_t *x = a, *y = b;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    return strcmp(x->path, y->path);
}

static void mix_add(fs_load_mix_t *m, double w, unsigned kind, int miss, char *path)
{
    m->e = grow(m->e, &m->cap, m->count + 1, sizeof(fs_load_mix_entry_t));
    m->e[m->count].weight = w;
    m->e[m->count].kind = kind;
    m->e[m->count].miss = miss;
    m->e[m->count].path = path;
    m->count++;
}

/* 1-stop candidates: A->X by popularity, X->B (B != A) among X's routes, a date with an economy
 * seat on A->X and on X->B that day or the next. */
static void draw_one_stop(draws_t *ds, disc_t *d, route_t **rs, const double *cum, size_t nrs, unsigned count, double miss_share,
                          uint64_t *rng)
{
    for (unsigned i = 0; i < count; i++) {
        int miss = fs_load_rand01(rng) < miss_share;
        for (int tries = 0; tries < 200; tries++) {
            const route_t *a = pick_route(rs, cum, nrs, rng, 1);
            if (a == NULL)
                return;
            const route_t *onward[64];
            unsigned n = 0;
            for (size_t k = 0; k < nrs && n < 64; k++)
                if (memcmp(rs[k]->o, a->d, 3) == 0 && memcmp(rs[k]->d, a->o, 3) != 0 && rs[k]->necon > 0)
                    onward[n++] = rs[k];
            if (n == 0)
                continue;
            const route_t *b = onward[fs_load_rand(rng) % n];
            char date[11];
            if (miss) {
                date_str((a->last > b->last ? a->last : b->last) + 3 + (int)(fs_load_rand(rng) % 30), date);
            } else {
                int day = pick_day(a, rng, 1);
                if (!has_econ_day(b, day) && !has_econ_day(b, day + 1))
                    continue;
                date_str(day, date);
            }
            draw_add(ds, FS_LOAD_MIX_SEARCH_1STOP, miss, "/v1/search?origin=%s&destination=%s&date=%s&cabin=economy&max_stops=1",
                     a->o, b->d, date);
            break;
        }
    }
    (void)d;
}

int fs_load_mix_discover(fs_load_mix_t *m, const fs_load_target_t *t, const fs_load_discover_opts_t *o, char *err, size_t errcap)
{
    disc_t d = {0};
    int rc = -1;
    char **paths = NULL;
    size_t npaths = 0;
    route_t **rs = NULL;
    double *cum = NULL;
    draws_t ds = {0};
    uint64_t rng = o->seed;
    int64_t t0 = fs_load_now_ns();

    /* 1. routes per origin */
    if (o->origins != NULL) {
        const char *p = o->origins;
        size_t cap = 0;
        while (*p) {
            size_t l = strcspn(p, ",");
            if (l == 3) {
                paths = grow(paths, &cap, npaths + 1, sizeof(char *));
                paths[npaths] = malloc(32);
                if (paths[npaths] == NULL)
                    goto out;
                snprintf(paths[npaths++], 32, "/v1/routes?origin=%.3s", p);
            }
            p += l + (p[l] == ',');
        }
    } else {
        paths = calloc(26 * 26 * 26, sizeof(char *));
        if (paths == NULL)
            goto out;
        for (int a = 0; a < 26; a++)
            for (int b = 0; b < 26; b++)
                for (int c = 0; c < 26; c++) {
                    paths[npaths] = malloc(32);
                    if (paths[npaths] == NULL)
                        goto out;
                    snprintf(paths[npaths++], 32, "/v1/routes?origin=%c%c%c", 'A' + a, 'A' + b, 'A' + c);
                }
    }
    routes_ctx_t rctx = {&d, paths};
    if (o->verbose)
        fprintf(stderr, "flightsearch-load: discovery: asking /v1/routes for %zu origin codes\n", npaths);
    if (probe_all(t, paths, npaths, o, on_routes, &rctx, err, errcap) != 0)
        goto out;
    if (d.nroutes == 0) {
        snprintf(err, errcap, "discovery: /v1/routes names no route for any of %zu origin codes: is the target loaded (/readyz)?",
                 npaths);
        goto out;
    }

    /* 2. popularity */
    qsort(d.routes, d.nroutes, sizeof(route_t), route_cmp_legs);
    if (o->weights_from != NULL) {
        if (weights_from_log(&d, o->weights_from, err, errcap) != 0)
            goto out;
    } else {
        for (size_t k = 0; k < d.nroutes; k++)
            d.routes[k].w = 1.0 / pow((double)(k + 1), o->zipf_s);
    }
    rs = malloc(d.nroutes * sizeof(route_t *));
    if (rs == NULL)
        goto out;
    for (size_t k = 0; k < d.nroutes; k++)
        rs[k] = &d.routes[k];
    qsort(rs, d.nroutes, sizeof(route_t *), route_cmp_weight);
    size_t nrs = d.nroutes;
    while (nrs > 0 && rs[nrs - 1]->w <= 0)
        nrs--;
    if (nrs > o->max_routes)
        nrs = o->max_routes;

    /* 3. dates with seats, per popular route */
    for (size_t i = 0; i < npaths; i++)
        free(paths[i]);
    free(paths);
    paths = calloc(nrs + 1, sizeof(char *));
    if (paths == NULL)
        goto out;
    for (npaths = 0; npaths < nrs; npaths++) {
        char a[11], b[11];
        const route_t *r = rs[npaths];
        date_str(r->first, a);
        date_str(r->last - r->first > 365 ? r->first + 365 : r->last, b);
        paths[npaths] = malloc(128);
        if (paths[npaths] == NULL)
            goto out;
        snprintf(paths[npaths], 128, "/v1/calendar?origin=%s&destination=%s&start_date=%s&end_date=%s", r->o, r->d, a, b);
    }
    cal_ctx_t cctx = {rs};
    if (o->verbose)
        fprintf(stderr, "flightsearch-load: discovery: %zu routes; asking /v1/calendar for the %zu most popular\n", d.nroutes, nrs);
    if (probe_all(t, paths, npaths, o, on_calendar, &cctx, err, errcap) != 0)
        goto out;
    size_t cities = 0;
    for (size_t k = 0; k < nrs; k++)
        if (rs[k]->city) {
            rs[k]->ndays = rs[k]->necon = 0; /* never drawn */
            cities++;
        }
    if (o->verbose && cities > 0)
        fprintf(stderr,
                "flightsearch-load: discovery: %zu routes left out: a code is also a city's (searched as several airports)\n",
                cities);
    cum = malloc((nrs + 1) * sizeof(double));
    if (cum == NULL)
        goto out;
    double acc = 0;
    for (size_t k = 0; k < nrs; k++)
        cum[k] = (acc += rs[k]->w);

    /* 4. draws */
    for (unsigned kind = 0; kind < FS_LOAD_MIX_KINDS; kind++) {
        if (o->share[kind] <= 0)
            continue;
        if (kind == FS_LOAD_MIX_SEARCH_1STOP) {
            draw_one_stop(&ds, &d, rs, cum, nrs, o->draws, o->miss_share, &rng);
            continue;
        }
        for (unsigned i = 0; i < o->draws; i++) {
            int miss = fs_load_rand01(&rng) < o->miss_share;
            if (kind == FS_LOAD_MIX_ROUTES) {
                const route_t *r = pick_route(rs, cum, nrs, &rng, 0);
                if (miss && d.nempty > 0)
                    draw_add(&ds, kind, 1, "/v1/routes?origin=%s", d.empty[fs_load_rand(&rng) % d.nempty]);
                else if (r != NULL && !miss)
                    draw_add(&ds, kind, 0, "/v1/routes?origin=%s", r->o);
                continue;
            }
            int econ = kind == FS_LOAD_MIX_DIRECT_1DAY;
            const route_t *r = pick_route(rs, cum, nrs, &rng, econ);
            if (r == NULL)
                break;
            char a[11], b[11];
            int day = miss ? r->last + 1 + (int)(fs_load_rand(&rng) % 30) : pick_day(r, &rng, econ);
            date_str(day, a);
            if (kind == FS_LOAD_MIX_DIRECT_1DAY) {
                draw_add(&ds, kind, miss, "/v1/search?origin=%s&destination=%s&date=%s&cabin=economy", r->o, r->d, a);
            } else if (kind == FS_LOAD_MIX_DIRECT_7DAY) {
                date_str(day + 6, b);
                draw_add(&ds, kind, miss, "/v1/search?origin=%s&destination=%s&start_date=%s&end_date=%s", r->o, r->d, a, b);
            } else {
                date_str(day + 29, b);
                draw_add(&ds, kind, miss, "/v1/calendar?origin=%s&destination=%s&start_date=%s&end_date=%s", r->o, r->d, a, b);
            }
        }
    }

    /* 1-stop hits: keep those that find an itinerary (each distinct one asked once). */
    if (ds.per_kind[FS_LOAD_MIX_SEARCH_1STOP] > 0) {
        qsort(ds.v, ds.n, sizeof(draw_t), draw_cmp);
        char **q = calloc(ds.n + 1, sizeof(char *));
        size_t *idx = calloc(ds.n + 1, sizeof(size_t));
        uint64_t *totals = calloc(ds.n + 1, sizeof(uint64_t));
        size_t nq = 0;
        if (q == NULL || idx == NULL || totals == NULL) {
            free(q);
            free(idx);
            free(totals);
            goto out;
        }
        for (size_t i = 0; i < ds.n; i++)
            if (ds.v[i].kind == FS_LOAD_MIX_SEARCH_1STOP && !ds.v[i].miss && (nq == 0 || strcmp(q[nq - 1], ds.v[i].path) != 0)) {
                idx[nq] = i;
                q[nq++] = ds.v[i].path;
            }
        total_ctx_t tctx = {totals};
        if (o->verbose)
            fprintf(stderr, "flightsearch-load: discovery: asking %zu 1-stop candidates once\n", nq);
        int prc = probe_all(t, q, nq, o, on_search, &tctx, err, errcap);
        for (size_t j = 0; prc == 0 && j < nq; j++)
            if (totals[j] == 0)
                for (size_t i = idx[j]; i < ds.n && ds.v[i].kind == FS_LOAD_MIX_SEARCH_1STOP && strcmp(ds.v[i].path, q[j]) == 0;
                     i++)
                    ds.v[i].kind = FS_LOAD_MIX_KINDS; /* dropped */
        free(q);
        free(idx);
        free(totals);
        if (prc != 0)
            goto out;
        size_t w = 0;
        memset(ds.per_kind, 0, sizeof(ds.per_kind));
        for (size_t i = 0; i < ds.n; i++) {
            if (ds.v[i].kind == FS_LOAD_MIX_KINDS) {
                free(ds.v[i].path);
                continue;
            }
            ds.per_kind[ds.v[i].kind]++;
            ds.v[w++] = ds.v[i];
        }
        ds.n = w;
    }

    /* 5. merge identical draws into weighted lines */
    qsort(ds.v, ds.n, sizeof(draw_t), draw_cmp);
    double share_sum = 0;
    for (unsigned k = 0; k < FS_LOAD_MIX_KINDS; k++)
        if (ds.per_kind[k] > 0)
            share_sum += o->share[k];
    for (size_t i = 0; i < ds.n;) {
        size_t j = i + 1;
        while (j < ds.n && ds.v[j].kind == ds.v[i].kind && strcmp(ds.v[j].path, ds.v[i].path) == 0)
            free(ds.v[j++].path);
        unsigned kind = ds.v[i].kind;
        double w = o->share[kind] / share_sum * (double)(j - i) / (double)ds.per_kind[kind];
        mix_add(m, w, kind, ds.v[i].miss, ds.v[i].path);
        i = j;
    }
    ds.n = 0;
    if (m->count == 0) {
        snprintf(err, errcap, "discovery: no date with seats on the %zu most popular routes", nrs);
        goto out;
    }
    m->seed = o->seed;
    if (o->verbose)
        fprintf(stderr, "flightsearch-load: discovery: %zu distinct queries in %.1f s\n", m->count,
                (double)(fs_load_now_ns() - t0) / 1e9);
    rc = 0;
out:
    if (rc != 0 && err[0] == '\0')
        snprintf(err, errcap, "discovery: out of memory");
    for (size_t i = 0; i < npaths; i++)
        free(paths[i]);
    free(paths);
    for (size_t i = 0; i < ds.n; i++)
        free(ds.v[i].path);
    free(ds.v);
    for (size_t i = 0; i < d.nroutes; i++) {
        free(d.routes[i].days);
        free(d.routes[i].econ);
    }
    free(d.routes);
    free(d.empty);
    free(rs);
    free(cum);
    return rc;
}

/* ---------------------------------------------------------------- the file */

int fs_load_mix_write(const fs_load_mix_t *m, const char *path, char *err, size_t errcap)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        snprintf(err, errcap, "%s: cannot write", tmp);
        return -1;
    }
    fprintf(f, "# flightsearch-load mix 1\n# seed %llu\n# %s\n# weight\tmix\tanswer\tpath\n", (unsigned long long)m->seed,
            m->source);
    for (size_t i = 0; i < m->count; i++)
        fprintf(f, "%.9g\t%s\t%s\t%s\n", m->e[i].weight, fs_load_mix_names[m->e[i].kind], m->e[i].miss ? "miss" : "hit",
                m->e[i].path);
    if (fflush(f) != 0 || ferror(f)) {
        fclose(f);
        snprintf(err, errcap, "%s: write failed", tmp);
        return -1;
    }
    fclose(f);
    if (rename(tmp, path) != 0) {
        snprintf(err, errcap, "%s: cannot rename to %s", tmp, path);
        return -1;
    }
    return 0;
}

static unsigned kind_of_path(const char *p)
{
    if (strncmp(p, "/v1/routes", 10) == 0)
        return FS_LOAD_MIX_ROUTES;
    if (strncmp(p, "/v1/calendar", 12) == 0)
        return FS_LOAD_MIX_CALENDAR;
    if (strstr(p, "max_stops=1") != NULL)
        return FS_LOAD_MIX_SEARCH_1STOP;
    if (strstr(p, "start_date=") != NULL)
        return FS_LOAD_MIX_DIRECT_7DAY;
    return FS_LOAD_MIX_DIRECT_1DAY;
}

/* Lines: "WEIGHT<TAB>MIX<TAB>hit|miss<TAB>PATH" (as written), "WEIGHT PATH" or "PATH" (weight 1);
 * a full URL is cut to its path. "# seed N" sets the seed. */
int fs_load_mix_read(fs_load_mix_t *m, const char *path, char *err, size_t errcap)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errcap, "--mix-file %s: cannot open", path);
        return -1;
    }
    char line[8192];
    unsigned lineno = 0;
    m->seed = 1;
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (strncmp(line, "# seed ", 7) == 0) {
            char *end;
            unsigned long long seed = strtoull(line + 7, &end, 10);
            if (end != line + 7 && *end == '\0')
                m->seed = seed;
        }
        if (line[0] == '#' || line[0] == '\0')
            continue;
        char *fields[4];
        int nf = 0;
        for (char *p = line; nf < 4;) {
            fields[nf++] = p;
            char *sep = strpbrk(p, "\t ");
            if (sep == NULL)
                break;
            *sep = '\0';
            p = sep + 1;
            while (*p == ' ' || *p == '\t')
                p++;
        }
        double w = 1;
        const char *pth = fields[nf - 1];
        int miss = nf == 4 && strcmp(fields[2], "miss") == 0;
        if (nf >= 2) {
            char *end;
            w = strtod(fields[0], &end);
            if (*end != '\0' || !(w >= 0)) {
                snprintf(err, errcap, "--mix-file %s:%u: weight: expected a number >= 0, got '%s'", path, lineno, fields[0]);
                fclose(f);
                return -1;
            }
        }
        if (strncmp(pth, "http://", 7) == 0 || strncmp(pth, "https://", 8) == 0) {
            pth = strchr(strstr(pth, "//") + 2, '/');
            if (pth == NULL)
                pth = "/";
        }
        if (pth[0] != '/') {
            snprintf(err, errcap, "--mix-file %s:%u: path: expected /v1/..., got '%s'", path, lineno, pth);
            fclose(f);
            return -1;
        }
        unsigned kind = kind_of_path(pth);
        if (nf == 4)
            for (unsigned k = 0; k < FS_LOAD_MIX_KINDS; k++)
                if (strcmp(fields[1], fs_load_mix_names[k]) == 0)
                    kind = k;
        char *dup = strdup(pth);
        if (dup == NULL) {
            fclose(f);
            snprintf(err, errcap, "out of memory");
            return -1;
        }
        mix_add(m, w, kind, miss, dup);
    }
    fclose(f);
    snprintf(m->source, sizeof(m->source), "read from %s", path);
    if (m->count == 0) {
        snprintf(err, errcap, "--mix-file %s: no query in it", path);
        return -1;
    }
    return 0;
}

int fs_load_mix_ready(fs_load_mix_t *m, char *err, size_t errcap)
{
    free(m->cum);
    m->cum = malloc(m->count * sizeof(double));
    if (m->cum == NULL) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    double acc = 0;
    for (size_t i = 0; i < m->count; i++)
        m->cum[i] = (acc += m->e[i].weight);
    if (acc <= 0) {
        snprintf(err, errcap, "mix: every weight is 0");
        return -1;
    }
    return 0;
}

const fs_load_mix_entry_t *fs_load_mix_next(const fs_load_mix_t *m, uint64_t *rng)
{
    double x = fs_load_rand01(rng) * m->cum[m->count - 1];
    size_t lo = 0, hi = m->count - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m->cum[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return &m->e[lo];
}

void fs_load_mix_free(fs_load_mix_t *m)
{
    for (size_t i = 0; i < m->count; i++)
        free(m->e[i].path);
    free(m->e);
    free(m->cum);
    memset(m, 0, sizeof(*m));
}
