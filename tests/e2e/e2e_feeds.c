/*
 * tests/e2e/e2e_feeds.c: the feed path of the real binary (argv[1]), end to end, rule by rule
 * from docs/feeds.md.
 *
 *   pushes       PUT snapshots and POST deltas, msgpack (msgpack-c's packer) and JSON, over
 *                HTTP/1.1 and h2 with prior knowledge: the 200 body, then every leg searchable
 *   refusals     400 invalid_source / malformed_feed, 401, 403, 405 + Allow, 404, 409
 *                stale_sequence, 413, 415, 422 invalid_feed (index, field, reason; at most 20),
 *                duplicates; after each one the searches are unchanged
 *   status       GET /v1/feeds and /v1/feeds/{source}, last_refused, a source only ever refused
 *   tokens       scopes, SIGHUP reloading a changed file, a broken file keeping the old tokens,
 *                a server without --tokens (feeds_disabled, searches open)
 *   spool        DATA_DIR/inbox: name order, done/, failed/ with NAME.error, dot-files ignored
 *   retiring     DELETE with scope *, gone from searches and across a restart (seed file too);
 *                a retired source pushed again
 *   durability   SIGTERM and restart, kill -9 right after a 200 and restart, then the same
 *                body retried (a duplicate); a source begun by a delta; 70 deltas (compaction)
 *   recovery     a truncated newest delta, a corrupt older delta, a corrupt only base
 *   concurrency  two sources pushed from two threads at once
 *
 * Expected values come from this test's own model: the legs it pushed, kept in a table per
 * source keyed like docs/feeds.md says (carrier, flight, origin, local departure date), updated
 * by each acknowledged push. Every check of the searches compares one search over every route
 * and day the test uses with that model, leg by leg and field by field.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "tests/e2e/lib_server.h"
#include "tests/e2e/e2e_check.h"
#include "tests/test.h"

static const char *binary;
static time_t test_started;

#define TOKEN_ALL "e2e-all-0123456789abcdef"
#define TOKEN_AB "e2e-ab-0123456789abcdef0"
#define TOKEN_G "e2e-g-0123456789abcdef01"
#define TOKEN_NEW "e2e-new-0123456789abcdef"
#define MAX_FEED_BYTES (64 * 1024)

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------ buffers */

typedef struct buf {
    char *p;
    size_t len, cap;
} buf_t;

static void bput(buf_t *b, const void *data, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (b->p == NULL)
            abort();
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void bprintf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(buf_t *b, const char *fmt, ...)
{
    char tmp[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        abort();
    bput(b, tmp, (size_t)n);
}

static void bfree(buf_t *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

/* s with the first occurrence of from replaced by to (malloc'd). The test's own data must
 * contain from: anything else is a mistake in this file, so it aborts. */
static char *replace_once(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);
    if (at == NULL) {
        fprintf(stderr, "test data: '%s' not found in %s\n", from, s);
        abort();
    }
    buf_t b = {0};
    bput(&b, s, (size_t)(at - s));
    bput(&b, to, strlen(to));
    bput(&b, at + strlen(from), strlen(at + strlen(from)));
    return b.p;
}

/* -------------------------------------------------------------- legs */

typedef struct mcab {
    int present;
    unsigned seats, miles, taxes;
    char currency[4];
} mcab_t;

/* A leg as the test wrote it; departs_at/arrives_at are already in the server's output form
 * ("YYYY-MM-DDTHH:MM:00+HH:MM"), so they compare as strings. */
typedef struct mleg {
    char carrier[3];
    unsigned flight;
    char origin[4], destination[4];
    char departs_at[32], arrives_at[32];
    mcab_t cab[E2E_CABINS];
    char last_seen[32]; /* the generated_at of the push that carried it (written in UTC) */
} mleg_t;

static int offset_of(const char *airport)
{
    if (strcmp(airport, "GRU") == 0)
        return -180;
    if (strcmp(airport, "JFK") == 0)
        return -300;
    return 0; /* LIS, LHR in December */
}

static void local_format(int64_t utc_min, int off, char out[32])
{
    int64_t local = utc_min + off;
    int32_t days = (int32_t)(local >= 0 ? local / 1440 : -((-local + 1439) / 1440));
    int minute = (int)(local - (int64_t)days * 1440);
    int y, m, d, a = off < 0 ? -off : off;
    e2e_civil(days, &y, &m, &d);
    char tmp[128];
    snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:00%c%02d:%02d", y, m, d, minute / 60, minute % 60, off < 0 ? '-' : '+',
             a / 60, a % 60);
    snprintf(out, 32, "%.31s", tmp);
}

/* A leg on 2026-12-DAY at HH:MM local at the origin, lasting dur minutes; economy always,
 * business when j_miles is not 0. */
static mleg_t mkleg(const char *carrier, unsigned flight, const char *o, const char *d, int day, int hh, int mm, int dur,
                    unsigned miles, unsigned seats, const char *cur, unsigned j_miles)
{
    mleg_t l;
    memset(&l, 0, sizeof(l));
    snprintf(l.carrier, sizeof(l.carrier), "%s", carrier);
    l.flight = flight;
    snprintf(l.origin, sizeof(l.origin), "%s", o);
    snprintf(l.destination, sizeof(l.destination), "%s", d);
    int64_t dep = (int64_t)e2e_days(2026, 12, day) * 1440 + hh * 60 + mm - offset_of(o);
    local_format(dep, offset_of(o), l.departs_at);
    local_format(dep + dur, offset_of(d), l.arrives_at);
    l.cab[E2E_ECONOMY] = (mcab_t){1, seats, miles, miles / 10 + 123, ""};
    snprintf(l.cab[E2E_ECONOMY].currency, 4, "%s", cur);
    if (j_miles != 0) {
        l.cab[E2E_BUSINESS] = (mcab_t){1, 2, j_miles, j_miles / 10 + 7, ""};
        snprintf(l.cab[E2E_BUSINESS].currency, 4, "%s", cur);
    }
    return l;
}

static int same_key(const mleg_t *a, const char *carrier, unsigned flight, const char *origin, const char *date)
{
    return strcmp(a->carrier, carrier) == 0 && a->flight == flight && strcmp(a->origin, origin) == 0 &&
           strncmp(a->departs_at, date, 10) == 0;
}

/* A remove entry: (carrier, flight, origin, date). */
typedef struct rm {
    char carrier[3];
    unsigned flight;
    char origin[4];
    char date[11];
} rm_t;

static rm_t rm_of(const mleg_t *l)
{
    rm_t r;
    memset(&r, 0, sizeof(r));
    snprintf(r.carrier, sizeof(r.carrier), "%s", l->carrier);
    r.flight = l->flight;
    snprintf(r.origin, sizeof(r.origin), "%s", l->origin);
    memcpy(r.date, l->departs_at, 10);
    return r;
}

/* --------------------------------------------------------------- feeds */

typedef struct feed {
    const char *source;
    uint64_t sequence;
    char generated_at[32];
    int delta;
    const mleg_t *legs; /* the snapshot's legs, or the delta's upserts */
    size_t count;
    const rm_t *rms;
    size_t rm_count;
    int no_lists;           /* a delta without "upsert" and "remove" */
    const char *last_seen;  /* generated_at in UTC when it is written with an offset */
} feed_t;

/* A distinct generated_at for every feed the test writes, in UTC with seconds. */
static void next_generated_at(char out[32])
{
    static int k;
    int64_t base = (int64_t)e2e_days(2026, 11, 20) * 86400;
    char tmp[32];
    e2e_timestamp_format(base + (int64_t)(k++) * 61, tmp);
    snprintf(out, 32, "%.31s", tmp);
}

static void json_leg(buf_t *b, const mleg_t *l)
{
    bprintf(b,
            "{\"carrier\": \"%s\", \"flight\": %u, \"origin\": \"%s\", \"destination\": \"%s\", \"departs_at\": \"%s\", "
            "\"arrives_at\": \"%s\", \"cabins\": {",
            l->carrier, l->flight, l->origin, l->destination, l->departs_at, l->arrives_at);
    int first = 1;
    for (int c = 0; c < E2E_CABINS; c++) {
        if (!l->cab[c].present)
            continue;
        bprintf(b, "%s\"%s\": {\"seats\": %u, \"miles\": %u, \"taxes_cents\": %u, \"currency\": \"%s\"}", first ? "" : ", ",
                e2e_cabin_names[c], l->cab[c].seats, l->cab[c].miles, l->cab[c].taxes, l->cab[c].currency);
        first = 0;
    }
    bprintf(b, "}}");
}

static void feed_json(const feed_t *f, buf_t *b)
{
    bprintf(b, "{\"source\": \"%s\", \"sequence\": %llu, \"generated_at\": \"%s\"", f->source, (unsigned long long)f->sequence,
            f->generated_at);
    if (!f->no_lists) {
        bprintf(b, ", \"%s\": [", f->delta ? "upsert" : "legs");
        for (size_t i = 0; i < f->count; i++) {
            bprintf(b, "%s", i ? ",\n  " : "\n  ");
            json_leg(b, &f->legs[i]);
        }
        bprintf(b, "]");
        if (f->delta) {
            bprintf(b, ", \"remove\": [");
            for (size_t i = 0; i < f->rm_count; i++)
                bprintf(b, "%s{\"carrier\": \"%s\", \"flight\": %u, \"origin\": \"%s\", \"date\": \"%s\"}", i ? ", " : "",
                        f->rms[i].carrier, f->rms[i].flight, f->rms[i].origin, f->rms[i].date);
            bprintf(b, "]");
        }
    }
    bprintf(b, "}\n");
}

static void pack_cstr(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

static void feed_msgpack(const feed_t *f, buf_t *out)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, f->no_lists ? 3 : f->delta ? 5 : 4);
    /* the lists first: the header need not lead */
    if (!f->no_lists) {
        pack_cstr(&pk, f->delta ? "upsert" : "legs");
        msgpack_pack_array(&pk, f->count);
        for (size_t i = 0; i < f->count; i++) {
            const mleg_t *l = &f->legs[i];
            msgpack_pack_map(&pk, 7);
            pack_cstr(&pk, "carrier");
            pack_cstr(&pk, l->carrier);
            pack_cstr(&pk, "flight");
            msgpack_pack_unsigned_int(&pk, l->flight);
            pack_cstr(&pk, "origin");
            pack_cstr(&pk, l->origin);
            pack_cstr(&pk, "destination");
            pack_cstr(&pk, l->destination);
            pack_cstr(&pk, "departs_at");
            pack_cstr(&pk, l->departs_at);
            pack_cstr(&pk, "arrives_at");
            pack_cstr(&pk, l->arrives_at);
            pack_cstr(&pk, "cabins");
            unsigned n = 0;
            for (int c = 0; c < E2E_CABINS; c++)
                n += l->cab[c].present != 0;
            msgpack_pack_map(&pk, n);
            for (int c = 0; c < E2E_CABINS; c++) {
                if (!l->cab[c].present)
                    continue;
                pack_cstr(&pk, e2e_cabin_names[c]);
                msgpack_pack_map(&pk, 4);
                pack_cstr(&pk, "seats");
                msgpack_pack_unsigned_int(&pk, l->cab[c].seats);
                pack_cstr(&pk, "miles");
                msgpack_pack_unsigned_int(&pk, l->cab[c].miles);
                pack_cstr(&pk, "taxes_cents");
                msgpack_pack_unsigned_int(&pk, l->cab[c].taxes);
                pack_cstr(&pk, "currency");
                pack_cstr(&pk, l->cab[c].currency);
            }
        }
        if (f->delta) {
            pack_cstr(&pk, "remove");
            msgpack_pack_array(&pk, f->rm_count);
            for (size_t i = 0; i < f->rm_count; i++) {
                msgpack_pack_map(&pk, 4);
                pack_cstr(&pk, "carrier");
                pack_cstr(&pk, f->rms[i].carrier);
                pack_cstr(&pk, "flight");
                msgpack_pack_unsigned_int(&pk, f->rms[i].flight);
                pack_cstr(&pk, "origin");
                pack_cstr(&pk, f->rms[i].origin);
                pack_cstr(&pk, "date");
                pack_cstr(&pk, f->rms[i].date);
            }
        }
    }
    pack_cstr(&pk, "source");
    pack_cstr(&pk, f->source);
    pack_cstr(&pk, "sequence");
    msgpack_pack_uint64(&pk, f->sequence);
    pack_cstr(&pk, "generated_at");
    pack_cstr(&pk, f->generated_at);
    bput(out, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

/* --------------------------------------------------------------- model */

#define MAX_LEGS 64
#define MAX_SOURCES 16

typedef struct msrc {
    char name[33];
    int exists;
    uint64_t sequence;
    uint64_t generation; /* of the last accepted push */
    mleg_t legs[MAX_LEGS];
    size_t count;
} msrc_t;

static msrc_t model[MAX_SOURCES];

/* Not thread-safe when it creates an entry: the concurrency test creates its sources first. */
static msrc_t *model_source(const char *name)
{
    for (size_t i = 0; i < MAX_SOURCES; i++)
        if (model[i].name[0] != '\0' && strcmp(model[i].name, name) == 0)
            return &model[i];
    for (size_t i = 0; i < MAX_SOURCES; i++) {
        if (model[i].name[0] == '\0') {
            snprintf(model[i].name, sizeof(model[i].name), "%s", name);
            return &model[i];
        }
    }
    abort();
}

/* Applies an acknowledged push: what the docs say a snapshot and a delta do. */
static void model_apply(const feed_t *f, size_t *upserted, size_t *removed)
{
    msrc_t *s = model_source(f->source);
    if (!f->delta) {
        *removed = s->exists ? s->count : 0;
        *upserted = f->count;
        s->count = 0;
    } else {
        *upserted = f->count;
        *removed = 0;
    }
    for (size_t i = 0; i < f->count; i++) {
        mleg_t l = f->legs[i];
        snprintf(l.last_seen, sizeof(l.last_seen), "%s", f->last_seen != NULL ? f->last_seen : f->generated_at);
        char date[11] = {0};
        memcpy(date, l.departs_at, 10);
        size_t k = 0;
        while (k < s->count && !same_key(&s->legs[k], l.carrier, l.flight, l.origin, date))
            k++;
        if (k == s->count) {
            if (s->count == MAX_LEGS)
                abort();
            s->count++;
        }
        s->legs[k] = l;
    }
    for (size_t i = 0; i < f->rm_count; i++) {
        const rm_t *r = &f->rms[i];
        for (size_t k = 0; k < s->count; k++) {
            if (same_key(&s->legs[k], r->carrier, r->flight, r->origin, r->date)) {
                s->legs[k] = s->legs[--s->count];
                (*removed)++;
                break;
            }
        }
    }
    s->exists = 1;
    s->sequence = f->sequence;
}

/* --------------------------------------------------------------- context */

typedef struct ctx {
    e2e_server_t srv;
    e2e_client_t client[E2E_PROTO_COUNT];
    char data_dir[300];
    char tokens_path[300];
    uint64_t generation; /* the index generation the searches must show; 0: not known */
    uint64_t min_generation;
} ctx_t;

static char what[4096];

#define check_str(map, key, expected) e2e_check_str(what, (map), (key), (expected))
#define check_int(map, key, expected) e2e_check_int(what, (map), (key), (expected))

/* "YYYY-MM-DDTHH:MM:SSZ" within the run of this test. */
static void check_recent(const msgpack_object *map, const char *key)
{
    char buf[64];
    e2e_time_t t;
    const char *s = e2e_mp_str(map, key, buf, sizeof(buf));
    int ok = s != NULL && strlen(s) == 20 && s[19] == 'Z' && e2e_time_parse(s, &t) == 0;
    CHECK(ok);
    if (!ok) {
        fprintf(stderr, "  field \"%s\" is not a UTC timestamp in %s\n", key, what);
        return;
    }
    int64_t sec = e2e_time_utc_sec(&t);
    CHECK(sec >= (int64_t)test_started - 5 && sec <= (int64_t)time(NULL) + 5);
}

/* One answer parsed as JSON. */
typedef struct jres {
    e2e_response_t res;
    long status;
    msgpack_zone zone;
    msgpack_object root;
    int parsed;
} jres_t;

static void jres_free(jres_t *r)
{
    msgpack_zone_destroy(&r->zone);
    e2e_response_free(&r->res);
}

/* One request to the main server (thread-safe when client is the caller's own). Fills r (free it
 * with jres_free); returns the status, 0 when no answer came. */
static long request_on(e2e_client_t *client, const char *base_url, e2e_proto_t proto, const char *method, const char *path,
                       const char *token, const char *ctype, const char *body, size_t len, jres_t *r)
{
    char url[1024], auth[256], ct[128];
    snprintf(url, sizeof(url), "%s%s", base_url, path);
    const char *headers[4];
    int h = 0;
    if (token != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        headers[h++] = auth;
    }
    if (ctype != NULL) {
        snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
        headers[h++] = ct;
    }
    headers[h] = NULL;
    memset(r, 0, sizeof(*r));
    msgpack_zone_init(&r->zone, 2048);
    if (e2e_request(client, proto, method, url, headers, body, len, &r->res) != 0)
        return 0;
    r->status = r->res.status;
    size_t at;
    r->parsed = e2e_json_parse(r->res.body, r->res.body_len, &r->zone, &r->root, &at) == 0;
    return r->status;
}

/* The same with the raw Authorization value (for "Basic x"), on the main client. */
static long request(ctx_t *c, e2e_proto_t proto, const char *method, const char *path, const char *token, const char *ctype,
                    const char *body, size_t len, jres_t *r)
{
    long s = request_on(&c->client[proto], c->srv.url, proto, method, path, token, ctype, body, len, r);
    if (s == 0) {
        CHECK(!"request failed");
        fprintf(stderr, "  %s %s over %s: %s\n", method, path, e2e_proto_names[proto], r->res.error);
    } else {
        long want = proto == E2E_H1 ? CURL_HTTP_VERSION_1_1 : CURL_HTTP_VERSION_2_0;
        CHECK_EQ_INT(r->res.http_version, want);
    }
    return s;
}

/* ---------------------------------------------------------- searches */

typedef struct xres {
    char id[128];
    const msrc_t *src;
    const mleg_t *leg;
    int cabin;
    int64_t dep_utc;
    int32_t day; /* local departure date */
} xres_t;

static int xres_cmp(const void *a, const void *b)
{
    const xres_t *x = a, *y = b;
    unsigned mx = x->leg->cab[x->cabin].miles, my = y->leg->cab[y->cabin].miles;
    if (mx != my)
        return mx < my ? -1 : 1;
    if (x->dep_utc != y->dep_utc)
        return x->dep_utc < y->dep_utc ? -1 : 1;
    /* docs/api.md "Order": source name, carrier code, flight number, origin code, local date,
     * cabin (economy first); codes as text, numbers as numbers */
    int c = strcmp(x->src->name, y->src->name);
    if (c == 0)
        c = strcmp(x->leg->carrier, y->leg->carrier);
    if (c == 0)
        c = (x->leg->flight > y->leg->flight) - (x->leg->flight < y->leg->flight);
    if (c == 0)
        c = strcmp(x->leg->origin, y->leg->origin);
    if (c == 0)
        c = (x->day > y->day) - (x->day < y->day);
    if (c == 0)
        c = (x->cabin > y->cabin) - (x->cabin < y->cabin);
    return c;
}

#define SEARCH_ALL                                                                                                         \
    "/v1/search?origin=GRU,LIS,JFK,LHR&destination=GRU,LIS,JFK,LHR&start_date=2026-12-01&end_date=2026-12-20&limit=500"

/* One search over every route and day the test uses, compared with the model: every result in
 * order, every field, total, and the sources listed in "searched". */
/* The model's results, in the documented order: every route, or one (origin and destination
 * not NULL). Returns how many. */
static size_t model_results(const char *origin, const char *destination, xres_t *x)
{
    size_t n = 0;
    for (size_t s = 0; s < MAX_SOURCES; s++) {
        const msrc_t *src = &model[s];
        if (!src->exists)
            continue;
        for (size_t i = 0; i < src->count; i++) {
            const mleg_t *l = &src->legs[i];
            if (origin != NULL && (strcmp(l->origin, origin) != 0 || strcmp(l->destination, destination) != 0))
                continue;
            e2e_time_t t;
            if (e2e_time_parse(l->departs_at, &t) != 0)
                abort();
            for (int cab = 0; cab < E2E_CABINS; cab++) {
                if (!l->cab[cab].present || l->cab[cab].seats < 1)
                    continue;
                xres_t *r = &x[n++];
                r->src = src;
                r->leg = l;
                r->cabin = cab;
                r->dep_utc = e2e_time_utc_min(&t);
                r->day = e2e_days(t.year, t.month, t.day);
                snprintf(r->id, sizeof(r->id), "%.32s-%.2s%u-%.3s-%04d%02d%02d-%c", src->name, l->carrier, l->flight, l->origin, t.year,
                         t.month, t.day, e2e_cabin_letters[cab]);
            }
        }
    }
    qsort(x, n, sizeof(*x), xres_cmp);
    return n;
}

static void check_model(ctx_t *c, e2e_proto_t proto, const char *when)
{
    static xres_t x[MAX_SOURCES * MAX_LEGS * E2E_CABINS];
    size_t n = model_results(NULL, NULL, x);

    e2e_response_t res;
    char url[512];
    snprintf(url, sizeof(url), "%s%s", c->srv.url, SEARCH_ALL);
    snprintf(what, sizeof(what), "the searches %s (over %s)", when, e2e_proto_names[proto]);
    if (e2e_get(&c->client[proto], proto, url, "Accept: application/msgpack", &res) != 0 || res.status != 200) {
        CHECK(!"search answered 200");
        fprintf(stderr, "  %s: status %ld %s %.300s\n", what, res.status, res.error, res.body ? res.body : "");
        e2e_response_free(&res);
        return;
    }
    e2e_mp_t doc;
    if (e2e_mp_parse(&doc, res.body, res.body_len) != 0) {
        CHECK(!"search answer is one msgpack document");
        e2e_response_free(&res);
        return;
    }
    e2e_response_free(&res);
    const msgpack_object *root = doc.root;
    check_int(root, "total", (int64_t)n);
    const msgpack_object_array *results = e2e_mp_array(root, "results");
    CHECK(results != NULL && results->size == n);
    if (results != NULL && results->size != n) {
        fprintf(stderr, "  %s: %u results, the model has %zu:\n", what, results->size, n);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, "    expected %s\n", x[i].id);
        for (uint32_t i = 0; i < results->size; i++) {
            char id[128];
            fprintf(stderr, "    got      %s\n", e2e_mp_str(&results->ptr[i], "id", id, sizeof(id)) ? id : "?");
        }
    }
    char base[1024];
    snprintf(base, sizeof(base), "%.1000s", what);
    for (uint32_t i = 0; results != NULL && i < results->size && i < n; i++) {
        const msgpack_object *r = &results->ptr[i];
        const xres_t *e = &x[i];
        const mcab_t *cab = &e->leg->cab[e->cabin];
        snprintf(what, sizeof(what), "%.1000s, result %u (expected %.127s)", base, i, e->id);
        check_str(r, "id", e->id);
        check_str(r, "origin", e->leg->origin);
        check_str(r, "destination", e->leg->destination);
        check_str(r, "departs_at", e->leg->departs_at);
        check_str(r, "arrives_at", e->leg->arrives_at);
        check_str(r, "cabin", e2e_cabin_names[e->cabin]);
        check_int(r, "miles", cab->miles);
        check_int(r, "taxes_cents", cab->taxes);
        check_str(r, "currency", cab->currency);
        check_int(r, "seats", cab->seats);
        check_str(r, "source", e->src->name);
        check_str(r, "last_seen", e->leg->last_seen);
    }
    snprintf(what, sizeof(what), "%s", base);
    /* searched: exactly the sources of the model, at their sequences */
    const msgpack_object_array *searched = e2e_mp_array(root, "searched");
    size_t expected_sources = 0;
    for (size_t s = 0; s < MAX_SOURCES; s++)
        expected_sources += model[s].exists;
    CHECK(searched != NULL && searched->size == expected_sources);
    for (uint32_t i = 0; searched != NULL && i < searched->size; i++) {
        char name[64];
        const msrc_t *src = NULL;
        if (e2e_mp_str(&searched->ptr[i], "source", name, sizeof(name)) != NULL)
            for (size_t s = 0; s < MAX_SOURCES; s++)
                if (model[s].exists && strcmp(model[s].name, name) == 0)
                    src = &model[s];
        CHECK(src != NULL);
        if (src == NULL) {
            fprintf(stderr, "  %s: searched lists a source the model does not have\n", what);
            continue;
        }
        check_int(&searched->ptr[i], "sequence", (int64_t)src->sequence);
        check_int(&searched->ptr[i], "legs", (int64_t)src->count);
    }
    int64_t g = 0;
    CHECK(e2e_mp_int(root, "generation", &g) && g > 0);
    if (c->generation != 0) {
        CHECK_EQ_INT(g, c->generation);
        if ((uint64_t)g != c->generation)
            fprintf(stderr, "  %s: generation\n", what);
    } else {
        CHECK((uint64_t)g >= c->min_generation);
        c->generation = (uint64_t)g;
    }
    e2e_mp_free(&doc);
}

/* After something that publishes without telling this test the generation (the spool, a
 * DELETE, other threads): the next search must show a newer one. */
static void generation_moved(ctx_t *c)
{
    c->min_generation = c->generation + 1;
    c->generation = 0;
}

/* ------------------------------------------------------------- pushes */

static void feed_body(const feed_t *f, int msgpack, buf_t *b)
{
    if (msgpack)
        feed_msgpack(f, b);
    else
        feed_json(f, b);
}

static const char *feed_path(const feed_t *f, char *out, size_t cap)
{
    snprintf(out, cap, "/v1/feeds/%s/%s", f->source, f->delta ? "deltas" : "snapshot");
    return out;
}

/* The last push answered 200, byte for byte, for the duplicate test. */
static struct {
    buf_t body;
    char path[128];
    const char *ctype;
} last_push;

/* Pushes f; on 200 checks the whole answer against the model and applies it. */
static void push_ok(ctx_t *c, e2e_proto_t proto, const feed_t *f, int msgpack, const char *token)
{
    buf_t b = {0};
    char path[128];
    feed_body(f, msgpack, &b);
    jres_t r;
    long status = request(c, proto, f->delta ? "POST" : "PUT", feed_path(f, path, sizeof(path)), token,
                          msgpack ? "application/msgpack" : "application/json", b.p, b.len, &r);
    snprintf(what, sizeof(what), "%s %s seq %llu (%s over %s): %ld %.400s", f->delta ? "POST" : "PUT", path,
             (unsigned long long)f->sequence, msgpack ? "msgpack" : "JSON", e2e_proto_names[proto], status, r.res.body);
    CHECK_EQ_INT(status, 200);
    CHECK(r.parsed);
    if (status != 200 || !r.parsed) {
        fprintf(stderr, "  %s\n", what);
    } else {
        size_t upserted, removed;
        model_apply(f, &upserted, &removed);
        msrc_t *s = model_source(f->source);
        check_str(&r.root, "source", f->source);
        check_int(&r.root, "sequence", (int64_t)f->sequence);
        check_int(&r.root, "legs", (int64_t)s->count);
        check_int(&r.root, "upserted", (int64_t)upserted);
        check_int(&r.root, "removed", (int64_t)removed);
        int64_t took = -1, g = 0;
        CHECK(e2e_mp_int(&r.root, "took_ms", &took) && took >= 0 && took < 60000);
        CHECK(e2e_mp_int(&r.root, "generation", &g));
        const msgpack_object *dup = e2e_mp_get(&r.root, "duplicate");
        CHECK(dup == NULL || (dup->type == MSGPACK_OBJECT_BOOLEAN && !dup->via.boolean));
        /* a new generation, newer than any this test saw */
        uint64_t floor = c->generation != 0 ? c->generation + 1 : c->min_generation;
        CHECK((uint64_t)g >= floor);
        if ((uint64_t)g < floor)
            fprintf(stderr, "  %s: generation %lld, expected at least %llu\n", what, (long long)g, (unsigned long long)floor);
        s->generation = (uint64_t)g;
        c->generation = (uint64_t)g;
        bfree(&last_push.body);
        bput(&last_push.body, b.p, b.len);
        snprintf(last_push.path, sizeof(last_push.path), "%s", path);
        last_push.ctype = msgpack ? "application/msgpack" : "application/json";
    }
    jres_free(&r);
    bfree(&b);
}

/* An error answer: status, JSON {"error": {"code", "message", ...}}; returns the error map (in
 * r's zone) or NULL. */
static const msgpack_object *check_error(jres_t *r, long status, const char *code)
{
    CHECK_EQ_INT(r->status, status);
    const char *ct = e2e_header(&r->res, "content-type");
    CHECK(ct != NULL && strncmp(ct, "application/json", 16) == 0);
    CHECK(r->parsed);
    const msgpack_object *e = r->parsed ? e2e_mp_get(&r->root, "error") : NULL;
    CHECK(e != NULL && e->type == MSGPACK_OBJECT_MAP);
    if (e != NULL && code != NULL)
        check_str(e, "code", code);
    const msgpack_object *msg = e != NULL ? e2e_mp_get(e, "message") : NULL;
    CHECK(msg != NULL && msg->type == MSGPACK_OBJECT_STR && msg->via.str.size > 0);
    if (r->status != status || e == NULL)
        fprintf(stderr, "  %s: expected %ld %s, got %ld %.400s\n", what, status, code ? code : "", r->status, r->res.body);
    return e;
}

/* A refused request: status and code, then the searches unchanged. */
static void refused(ctx_t *c, e2e_proto_t proto, const char *method, const char *path, const char *token, const char *ctype,
                    const char *body, size_t len, long status, const char *code)
{
    jres_t r;
    request(c, proto, method, path, token, ctype, body, len, &r);
    snprintf(what, sizeof(what), "%s %s over %s (token %s, %s)", method, path, e2e_proto_names[proto], token ? token : "none",
             ctype ? ctype : "no content type");
    check_error(&r, status, code);
    jres_free(&r);
    check_model(c, proto, "after a refused request");
}

/* --------------------------------------------------------------- data */

static mleg_t alpha1[6], alpha2[5], beta_seed[3], beta2[4];

static void data_init(void)
{
    alpha1[0] = mkleg("TP", 82, "GRU", "LIS", 1, 21, 35, 570, 35000, 9, "BRL", 90000);
    alpha1[1] = mkleg("TP", 82, "GRU", "LIS", 2, 21, 35, 570, 36000, 4, "BRL", 0);
    alpha1[2] = mkleg("TP", 101, "LIS", "JFK", 3, 11, 0, 480, 30000, 2, "EUR", 0);
    alpha1[3] = mkleg("AA", 950, "GRU", "JFK", 4, 22, 0, 600, 40000, 5, "USD", 110000);
    alpha1[4] = mkleg("BA", 246, "GRU", "LHR", 5, 16, 0, 705, 50000, 7, "GBP", 0);
    alpha1[5] = mkleg("TP", 1, "LIS", "GRU", 6, 10, 0, 630, 40000, 0, "EUR", 95000); /* economy sold out */
    /* the second snapshot: three keys again (new prices), two new, one gone */
    alpha2[0] = mkleg("TP", 82, "GRU", "LIS", 1, 21, 35, 570, 33000, 8, "BRL", 88000);
    alpha2[1] = mkleg("TP", 101, "LIS", "JFK", 3, 11, 0, 480, 31000, 3, "EUR", 0);
    alpha2[2] = mkleg("AA", 950, "GRU", "JFK", 4, 22, 0, 600, 42000, 5, "USD", 0);
    alpha2[3] = mkleg("DL", 104, "JFK", "GRU", 7, 21, 0, 610, 45000, 8, "USD", 0);
    alpha2[4] = mkleg("9W", 45, "LHR", "LIS", 8, 9, 15, 165, 25000, 6, "INR", 0);
    beta_seed[0] = mkleg("LA", 8084, "GRU", "LIS", 1, 21, 35, 585, 30000, 9, "BRL", 0);
    beta_seed[1] = mkleg("AC", 90, "JFK", "LHR", 3, 23, 50, 435, 38000, 4, "CAD", 0);
    beta_seed[2] = mkleg("BA", 247, "LHR", "GRU", 5, 22, 35, 700, 55000, 2, "GBP", 180000);
    beta2[0] = mkleg("LA", 8084, "GRU", "LIS", 1, 21, 35, 585, 29000, 9, "BRL", 0);
    beta2[1] = mkleg("LA", 8084, "GRU", "LIS", 2, 21, 35, 585, 29500, 9, "BRL", 0);
    beta2[2] = mkleg("AC", 91, "LHR", "JFK", 4, 10, 0, 480, 39000, 4, "CAD", 0);
    beta2[3] = mkleg("BA", 247, "LHR", "GRU", 5, 22, 35, 700, 56000, 1, "GBP", 0);
}

static feed_t snapshot(const char *source, uint64_t seq, const mleg_t *legs, size_t n)
{
    feed_t f = {.source = source, .sequence = seq, .legs = legs, .count = n};
    next_generated_at(f.generated_at);
    return f;
}

static feed_t delta(const char *source, uint64_t seq, const mleg_t *ups, size_t nu, const rm_t *rms, size_t nr)
{
    feed_t f = {.source = source, .sequence = seq, .delta = 1, .legs = ups, .count = nu, .rms = rms, .rm_count = nr};
    next_generated_at(f.generated_at);
    return f;
}

/* ------------------------------------------------------------ servers */

static int write_tokens(const char *path, const char *text)
{
    return e2e_write_file(path, text, strlen(text));
}

static const char tokens_v1[] = "# e2e tokens: TOKEN SCOPE\n" TOKEN_ALL "   *\n" TOKEN_AB " alpha,beta\n"
                                "\n" TOKEN_G "\tgamma\n";
static const char tokens_v2[] = TOKEN_ALL " *\n" TOKEN_AB " alpha,beta\n" TOKEN_NEW " gamma,delta\n";

static int start_main(ctx_t *c)
{
    char max[32];
    snprintf(max, sizeof(max), "%d", MAX_FEED_BYTES);
    const char *extra[] = {"--tokens", c->tokens_path, "--max-feed-bytes", max, "--loaders", "2", NULL};
    if (e2e_server_start(&c->srv, binary, c->data_dir, extra) != 0)
        return -1;
    for (int p = 0; p < E2E_PROTO_COUNT; p++) {
        e2e_client_free(&c->client[p]);
        e2e_client_init(&c->client[p]);
    }
    c->generation = 0; /* a restart may number generations afresh */
    c->min_generation = 0;
    return 0;
}

/* SIGTERM, wait, then the server's stderr must hold no sanitizer error (in the ASan build: memory
 * errors and undefined behaviour found while it served this test). Returns the exit status. */
static int stop_server(e2e_server_t *s)
{
    e2e_server_signal(s, SIGTERM);
    int status = e2e_server_wait(s, 15000);
    char *log = e2e_server_stderr(s);
    const char *bad = strstr(log, "ERROR: AddressSanitizer");
    if (bad == NULL)
        bad = strstr(log, "runtime error:");
    CHECK(bad == NULL);
    if (bad != NULL)
        fprintf(stderr, "  the server's stderr reports: %.1500s\n", bad);
    const char *leak = strstr(log, "SUMMARY: AddressSanitizer");
    if (leak != NULL && status != 0)
        fprintf(stderr, "  exit status %d after SIGTERM: %.120s\n", status, leak);
    free(log);
    e2e_server_stop(s); /* the log dir */
    return status;
}

/* The same for the main server. The clients' idle keep-alive connections are closed first: the
 * drain waits for open HTTP/1.1 connections (up to its 10 s drain timeout) even when idle. */
static int stop_main(ctx_t *c)
{
    for (int p = 0; p < E2E_PROTO_COUNT; p++) {
        e2e_client_free(&c->client[p]);
        e2e_client_init(&c->client[p]);
    }
    return stop_server(&c->srv);
}

static int64_t started_ms;

/* A phase of the test, with the time since the start (the whole test should stay under ~90 s). */
static void phase(const char *name)
{
    fprintf(stderr, "e2e_feeds: [%5.1f s] %s\n", (double)(e2e_now_ms() - started_ms) / 1000.0, name);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ------------------------------------------------------------- tests */

static uint64_t alpha_seq;

static void test_snapshots(ctx_t *c)
{
    check_model(c, E2E_H1, "with the seed file of beta");
    feed_t f = snapshot("alpha", 10, alpha1, COUNT(alpha1));
    push_ok(c, E2E_H1, &f, 1, TOKEN_AB);
    check_model(c, E2E_H1, "after alpha's first snapshot (msgpack)");
    f = snapshot("alpha", 11, alpha2, COUNT(alpha2));
    push_ok(c, E2E_H1, &f, 0, TOKEN_AB);
    check_model(c, E2E_H1, "after alpha's second snapshot (JSON, 3 keys again, 1 gone)");
    f = snapshot("beta", 2, beta2, COUNT(beta2));
    push_ok(c, E2E_H1, &f, 0, TOKEN_ALL);
    check_model(c, E2E_H1, "after beta's snapshot replacing its seed");
    alpha_seq = 11;
}

static void test_deltas(ctx_t *c)
{
    /* upsert: one key replaced, one new; remove: one there, one absent */
    mleg_t ups[2] = {mkleg("TP", 82, "GRU", "LIS", 1, 21, 35, 570, 31000, 7, "BRL", 87000),
                     mkleg("TP", 84, "GRU", "LIS", 1, 8, 0, 570, 35000, 4, "BRL", 0)};
    rm_t rms[2] = {rm_of(&alpha2[1]), rm_of(&alpha1[4])}; /* alpha1[4] left with the second snapshot */
    feed_t f = delta("alpha", ++alpha_seq, ups, 2, rms, 2);
    push_ok(c, E2E_H1, &f, 0, TOKEN_AB);
    check_model(c, E2E_H1, "after a JSON delta");
    /* msgpack, upserts only */
    mleg_t ups2[2] = {mkleg("G3", 1234, "GRU", "LIS", 9, 7, 0, 600, 7500, 9, "BRL", 0),
                      mkleg("9W", 45, "LHR", "LIS", 8, 9, 15, 165, 24000, 6, "INR", 60000)};
    f = delta("alpha", ++alpha_seq, ups2, 2, NULL, 0);
    push_ok(c, E2E_H1, &f, 1, TOKEN_AB);
    check_model(c, E2E_H1, "after a msgpack delta");
    /* a remove of a leg that is not there: 200, removed 0 */
    rm_t absent = rm_of(&alpha1[3]);
    absent.flight = 9999;
    f = delta("alpha", ++alpha_seq, NULL, 0, &absent, 1);
    push_ok(c, E2E_H1, &f, 1, TOKEN_AB);
    check_model(c, E2E_H1, "after removing an absent leg");
    /* removes only */
    rm_t two[2] = {rm_of(&ups2[0]), rm_of(&alpha2[3])};
    f = delta("alpha", ++alpha_seq, NULL, 0, two, 2);
    push_ok(c, E2E_H1, &f, 0, TOKEN_AB);
    check_model(c, E2E_H1, "after a delta of removes");
    /* no lists at all */
    f = delta("alpha", ++alpha_seq, NULL, 0, NULL, 0);
    f.no_lists = 1;
    push_ok(c, E2E_H1, &f, 0, TOKEN_AB);
    check_model(c, E2E_H1, "after a delta without lists");
    /* generated_at with an offset: last_seen is the same instant in UTC */
    mleg_t off = mkleg("TP", 86, "GRU", "LIS", 2, 8, 0, 570, 34500, 3, "BRL", 0);
    f = delta("alpha", ++alpha_seq, &off, 1, NULL, 0);
    snprintf(f.generated_at, sizeof(f.generated_at), "2026-11-22T09:30:15+01:00");
    f.last_seen = "2026-11-22T08:30:15Z";
    push_ok(c, E2E_H1, &f, 1, TOKEN_AB);
    check_model(c, E2E_H1, "after a delta whose generated_at has an offset");
    /* an upsert replacing a leg a delta added */
    mleg_t again = mkleg("TP", 84, "GRU", "LIS", 1, 8, 0, 570, 34000, 2, "BRL", 0);
    f = delta("alpha", ++alpha_seq, &again, 1, NULL, 0);
    push_ok(c, E2E_H1, &f, 1, TOKEN_AB);
    check_model(c, E2E_H1, "after an upsert replacing a leg added by a delta");
}

static void test_duplicates_and_stale(ctx_t *c)
{
    msrc_t *alpha = model_source("alpha");
    /* the last push again, byte for byte: 200, duplicate, nothing changes */
    CHECK(strcmp(last_push.path, "/v1/feeds/alpha/deltas") == 0);
    for (int p = 0; p < 2; p++) {
        e2e_proto_t proto = p ? E2E_H2 : E2E_H1;
        jres_t r;
        long status = request(c, proto, "POST", last_push.path, TOKEN_AB, last_push.ctype, last_push.body.p, last_push.body.len, &r);
        snprintf(what, sizeof(what), "an identical re-push over %s: %ld %.300s", e2e_proto_names[proto], status, r.res.body);
        CHECK_EQ_INT(status, 200);
        if (r.parsed) {
            const msgpack_object *dup = e2e_mp_get(&r.root, "duplicate");
            CHECK(dup != NULL && dup->type == MSGPACK_OBJECT_BOOLEAN && dup->via.boolean);
            check_int(&r.root, "sequence", (int64_t)alpha_seq);
            check_int(&r.root, "generation", (int64_t)alpha->generation);
            check_int(&r.root, "legs", (int64_t)alpha->count);
            check_str(&r.root, "source", "alpha");
        } else {
            CHECK(!"the duplicate's answer is JSON");
        }
        jres_free(&r);
        check_model(c, proto, "after an identical re-push");
    }

    /* the same sequence with another body, an older one, a snapshot behind: 409 */
    mleg_t other = mkleg("TP", 86, "GRU", "LIS", 2, 8, 0, 570, 34000, 2, "BRL", 0);
    const feed_t stale[] = {delta("alpha", alpha_seq, &other, 1, NULL, 0), delta("alpha", alpha_seq - 3, &other, 1, NULL, 0),
                            snapshot("alpha", 11, alpha2, COUNT(alpha2)), snapshot("alpha", 1, alpha1, 1)};
    for (size_t i = 0; i < COUNT(stale); i++) {
        for (int msgpack = 0; msgpack < 2; msgpack++) {
            buf_t sb = {0};
            char path[128];
            feed_body(&stale[i], msgpack, &sb);
            jres_t r;
            request(c, E2E_H1, stale[i].delta ? "POST" : "PUT", feed_path(&stale[i], path, sizeof(path)), TOKEN_AB,
                    msgpack ? "application/msgpack" : "application/json", sb.p, sb.len, &r);
            snprintf(what, sizeof(what), "a stale push (sequence %llu, current %llu)", (unsigned long long)stale[i].sequence,
                     (unsigned long long)alpha_seq);
            const msgpack_object *e = check_error(&r, 409, "stale_sequence");
            if (e != NULL)
                check_int(e, "current_sequence", (int64_t)alpha_seq);
            jres_free(&r);
            bfree(&sb);
            check_model(c, E2E_H1, "after a stale push");
        }
    }
}

/* A refused push: 422 invalid_feed listing exactly these (index, field) problems, each with a
 * reason; a field ending in '*' is a prefix. Then the searches are unchanged. */
static void expect_invalid(ctx_t *c, e2e_proto_t proto, const char *path, const char *ctype, const char *body, size_t len,
                           const int64_t *indexes, const char *const *fields, size_t n_errors)
{
    jres_t r;
    request(c, proto, strstr(path, "deltas") ? "POST" : "PUT", path, TOKEN_AB, ctype, body, len, &r);
    const msgpack_object *e = check_error(&r, 422, "invalid_feed");
    const msgpack_object_array *errs = e != NULL ? e2e_mp_array(e, "errors") : NULL;
    CHECK(errs != NULL && errs->size == n_errors);
    if (errs == NULL || errs->size != n_errors)
        fprintf(stderr, "  %s: expected %zu errors: %.600s\n", what, n_errors, r.res.body);
    for (uint32_t i = 0; errs != NULL && i < errs->size && i < n_errors; i++) {
        check_int(&errs->ptr[i], "index", indexes[i]);
        char field[128];
        const char *got = e2e_mp_str(&errs->ptr[i], "field", field, sizeof(field));
        const char *want = fields[i];
        int ok = got != NULL && (want[strlen(want) - 1] == '*' ? strncmp(got, want, strlen(want) - 1) == 0 : strcmp(got, want) == 0);
        CHECK(ok);
        if (!ok)
            fprintf(stderr, "  %s: error %u field %s, expected %s\n", what, i, got ? got : "(none)", want);
        const msgpack_object *reason = e2e_mp_get(&errs->ptr[i], "reason");
        CHECK(reason != NULL && reason->type == MSGPACK_OBJECT_STR && reason->via.str.size > 0);
    }
    jres_free(&r);
    check_model(c, proto, "after a 422");
}

static void test_invalid(ctx_t *c, e2e_proto_t proto)
{
    mleg_t good[3] = {mkleg("TP", 500, "GRU", "LIS", 10, 8, 0, 570, 35000, 9, "BRL", 0),
                      mkleg("TP", 501, "LIS", "LHR", 10, 20, 0, 150, 12000, 5, "EUR", 0),
                      mkleg("TP", 502, "GRU", "JFK", 11, 22, 0, 600, 40000, 5, "USD", 0)};
    feed_t f = snapshot("alpha", alpha_seq + 100, good, 3);
    buf_t base = {0};
    feed_json(&f, &base);
    /* the third leg, as written: "TP", 502, GRU-JFK 2026-12-11T22:00:00-03:00, 40000 miles, 5 seats */
    static const struct {
        const char *from, *to, *field;
    } cases[] = {
        {"\"miles\": 40000", "\"miles\": 0", "cabins.economy.miles"},
        {"\"miles\": 40000", "\"miles\": 10000001", "cabins.economy.miles"},
        {"\"seats\": 5, \"miles\": 40000", "\"seats\": 100, \"miles\": 40000", "cabins.economy.seats"},
        {"\"taxes_cents\": 4123", "\"taxes_cents\": -1", "cabins.economy.taxes_cents"},
        {"\"currency\": \"USD\"", "\"currency\": \"br\"", "cabins.economy.currency"},
        {"\"currency\": \"USD\"", "\"currency\": \"USDX\"", "cabins.economy.currency"},
        {"2026-12-11T22:00:00-03:00", "2026-12-11T22:00:00+15:00", "departs_at"},
        {"2026-12-11T22:00:00-03:00", "2026-12-11T22:00:00-03:10", "departs_at"},
        {"2026-12-11T22:00:00-03:00", "2026-12-12T22:00:00-03:00", "arrives_at"}, /* arrives before it departs */
        {"2026-12-11T22:00:00-03:00", "2026-12-11T01:00:00-03:00", "arrives_at"}, /* 31 hours (to 11:00Z on the 12th) */
        {"2026-12-11T22:00:00-03:00", "2026-02-30T22:00:00-03:00", "departs_at"},
        {"\"destination\": \"JFK\"", "\"destination\": \"GRU\"", "destination"},
        {"\"origin\": \"GRU\", \"destination\": \"JFK\"", "\"origin\": \"gru\", \"destination\": \"JFK\"", "origin"},
        {"\"economy\": {\"seats\": 5", "\"coach\": {\"seats\": 5", "cabins*"},
        {"\"cabins\": {\"economy\": {\"seats\": 5, \"miles\": 40000, \"taxes_cents\": 4123, \"currency\": \"USD\"}}",
         "\"cabins\": {}", "cabins"},
        {"\"flight\": 502, ", "", "flight"},                      /* missing */
        {"\"flight\": 502", "\"flight\": \"502\"", "flight"},       /* wrong type */
        {"\"flight\": 502", "\"flight\": 0", "flight"},
        {"\"flight\": 502", "\"flight\": 10000", "flight"},
        {"\"carrier\": \"TP\", \"flight\": 502", "\"carrier\": \"T\", \"flight\": 502", "carrier"},
        {"\"flight\": 502", "\"flight\": 502, \"gate\": \"B7\"", "gate"}, /* unknown fields are refused */
        {"\"seats\": 5, \"miles\": 40000", "\"seats\": 5.5, \"miles\": 40000", "cabins.economy.seats"},
        {"\"currency\": \"USD\"", "\"currency\": \"USD\", \"fare_class\": \"X\"", "cabins.economy.fare_class"},
        {"2026-12-11T22:00:00-03:00", "2149-06-07T22:00:00-03:00", "departs_at"}, /* past 2149-06-06 */
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        /* the edit applies to the third leg only */
        const char *third = strstr(base.p, "{\"carrier\": \"TP\", \"flight\": 502");
        if (third == NULL)
            abort();
        char *edited_leg = replace_once(third, cases[i].from, cases[i].to);
        buf_t body = {0};
        bput(&body, base.p, (size_t)(third - base.p));
        bput(&body, edited_leg, strlen(edited_leg));
        free(edited_leg);
        snprintf(what, sizeof(what), "PUT alpha snapshot with %s over %s", cases[i].to[0] ? cases[i].to : "no flight",
                 e2e_proto_names[proto]);
        int64_t idx = 2;
        const char *field = cases[i].field;
        expect_invalid(c, proto, "/v1/feeds/alpha/snapshot", "application/json", body.p, body.len, &idx, &field, 1);
        bfree(&body);
    }

    /* duplicate key in one push: the third leg has the first one's key (another destination) */
    {
        mleg_t dup[3] = {good[0], good[1], mkleg("TP", 500, "GRU", "JFK", 10, 23, 0, 600, 40000, 5, "USD", 0)};
        feed_t d = snapshot("alpha", alpha_seq + 100, dup, 3);
        buf_t body = {0};
        feed_json(&d, &body);
        snprintf(what, sizeof(what), "PUT alpha snapshot with a duplicate key over %s", e2e_proto_names[proto]);
        int64_t idx = 2;
        const char *field = "*";
        expect_invalid(c, proto, "/v1/feeds/alpha/snapshot", "application/json", body.p, body.len, &idx, &field, 1);
        bfree(&body);
        body = (buf_t){0};
        feed_msgpack(&d, &body);
        expect_invalid(c, proto, "/v1/feeds/alpha/snapshot", "application/msgpack", body.p, body.len, &idx, &field, 1);
        bfree(&body);
    }
    /* msgpack: 0 miles, 100 seats, a 2-letter currency, each in a leg of its own */
    {
        mleg_t bad[4] = {good[0], good[1], good[2], mkleg("TP", 503, "LIS", "GRU", 12, 10, 0, 630, 40000, 5, "EUR", 0)};
        bad[0].cab[E2E_ECONOMY].miles = 0;
        bad[2].cab[E2E_ECONOMY].seats = 100;
        snprintf(bad[3].cab[E2E_ECONOMY].currency, 4, "br");
        feed_t d = snapshot("alpha", alpha_seq + 100, bad, 4);
        buf_t body = {0};
        feed_msgpack(&d, &body);
        snprintf(what, sizeof(what), "PUT alpha msgpack snapshot with 3 bad legs over %s", e2e_proto_names[proto]);
        const int64_t idx[3] = {0, 2, 3};
        const char *const fields[3] = {"cabins.economy.miles", "cabins.economy.seats", "cabins.economy.currency"};
        expect_invalid(c, proto, "/v1/feeds/alpha/snapshot", "application/msgpack", body.p, body.len, idx, fields, 3);
        bfree(&body);
    }
    /* document fields: index -1 */
    {
        char seq[64];
        snprintf(seq, sizeof(seq), "\"sequence\": %llu", (unsigned long long)(alpha_seq + 100));
        char *b1 = replace_once(base.p, seq, "\"sequence\": 0");
        char gen[64];
        snprintf(gen, sizeof(gen), "\"generated_at\": \"%s\"", f.generated_at);
        char *b2 = replace_once(base.p, gen, "\"generated_at\": \"yesterday\"");
        char *b3 = replace_once(base.p, "\"source\": \"alpha\"", "\"source\": \"alpha\", \"colour\": \"blue\"");
        char *b4 = replace_once(base.p, "\"source\": \"alpha\"", "\"source\": \"beta\"");
        char *b5 = replace_once(base.p, "\"source\": \"alpha\", ", "");
        const struct {
            char *body;
            const char *field, *name;
        } docs[] = {{b1, "sequence", "sequence 0"},
                    {b2, "generated_at", "generated_at 'yesterday'"},
                    {b3, "colour", "an unknown top-level field"},
                    {b4, "source", "the body's source beta on alpha's URL"},
                    {b5, "source", "no source"}};
        for (size_t i = 0; i < COUNT(docs); i++) {
            snprintf(what, sizeof(what), "PUT alpha snapshot with %s over %s", docs[i].name, e2e_proto_names[proto]);
            int64_t idx = -1;
            const char *field = docs[i].field;
            expect_invalid(c, proto, "/v1/feeds/alpha/snapshot", "application/json", docs[i].body, strlen(docs[i].body), &idx,
                           &field, 1);
            free(docs[i].body);
        }
    }
    bfree(&base);

    /* a delta: the list's name prefixes the field */
    {
        mleg_t up[2] = {mkleg("TP", 510, "GRU", "LIS", 12, 8, 0, 570, 35000, 9, "BRL", 0),
                        mkleg("TP", 511, "GRU", "LIS", 12, 9, 0, 570, 35000, 9, "BRL", 60000)};
        up[1].cab[E2E_BUSINESS].miles = 0;
        rm_t rm[2] = {rm_of(&up[0]), rm_of(&up[0])};
        snprintf(rm[1].date, sizeof(rm[1].date), "2026-02-30");
        rm[0].flight = 512;
        feed_t d = delta("alpha", alpha_seq + 100, up, 2, rm, 2);
        buf_t body = {0};
        feed_json(&d, &body);
        snprintf(what, sizeof(what), "POST alpha delta with bad business miles and a bad remove date over %s",
                 e2e_proto_names[proto]);
        const int64_t idx[2] = {1, 1};
        const char *const fields[2] = {"upsert.cabins.business.miles", "remove.date"};
        expect_invalid(c, proto, "/v1/feeds/alpha/deltas", "application/json", body.p, body.len, idx, fields, 2);
        bfree(&body);
    }

    /* 25 bad legs: exactly the first 20 listed, the message counting 25 */
    {
        mleg_t many[25];
        for (int i = 0; i < 25; i++) {
            many[i] = mkleg("TP", 600 + (unsigned)i, "GRU", "LIS", 13, 8, 0, 570, 35000, 9, "BRL", 0);
            many[i].cab[E2E_ECONOMY].miles = 0;
        }
        feed_t d = snapshot("alpha", alpha_seq + 100, many, 25);
        buf_t body = {0};
        feed_json(&d, &body);
        jres_t r;
        request(c, proto, "PUT", "/v1/feeds/alpha/snapshot", TOKEN_AB, "application/json", body.p, body.len, &r);
        snprintf(what, sizeof(what), "PUT alpha snapshot with 25 bad legs over %s", e2e_proto_names[proto]);
        const msgpack_object *e = check_error(&r, 422, "invalid_feed");
        const msgpack_object_array *errs = e != NULL ? e2e_mp_array(e, "errors") : NULL;
        CHECK(errs != NULL && errs->size == 20);
        for (uint32_t i = 0; errs != NULL && i < errs->size; i++) {
            check_int(&errs->ptr[i], "index", i);
            check_str(&errs->ptr[i], "field", "cabins.economy.miles");
        }
        char msg[512];
        CHECK(e != NULL && e2e_mp_str(e, "message", msg, sizeof(msg)) != NULL && strstr(msg, "25") != NULL);
        jres_free(&r);
        bfree(&body);
        check_model(c, proto, "after 25 bad legs");
    }
}

/* Bodies that are not well-formed documents: 400 malformed_feed, the byte offset given. */
static void expect_malformed(ctx_t *c, e2e_proto_t proto, const char *name, const char *ctype, const char *body, size_t len)
{
    jres_t r;
    request(c, proto, "PUT", "/v1/feeds/alpha/snapshot", TOKEN_AB, ctype, body, len, &r);
    snprintf(what, sizeof(what), "PUT alpha snapshot, %s (%s, %zu bytes) over %s", name, ctype, len, e2e_proto_names[proto]);
    const msgpack_object *e = check_error(&r, 400, "malformed_feed");
    /* the byte offset is given: in the message, or in the listed problem's reason */
    char msg[1024];
    int in_message = e != NULL && e2e_mp_str(e, "message", msg, sizeof(msg)) != NULL && strstr(msg, " byte ") != NULL;
    int in_reason = 0;
    const msgpack_object_array *errs = e != NULL ? e2e_mp_array(e, "errors") : NULL;
    for (uint32_t i = 0; errs != NULL && i < errs->size; i++)
        in_reason |= e2e_mp_str(&errs->ptr[i], "reason", msg, sizeof(msg)) != NULL && strstr(msg, " byte ") != NULL;
    CHECK(in_message || in_reason);
    if (!in_message && !in_reason)
        fprintf(stderr, "  %s: no byte offset: %.500s\n", what, r.res.body);
    /* docs/feeds.md says "the message gives the byte offset": checked once per protocol, so
     * that a difference shows as one failure rather than one per body */
    static int message_checked[E2E_PROTO_COUNT];
    if (!message_checked[proto]++) {
        CHECK(in_message);
        if (!in_message)
            fprintf(stderr, "  %s: error.message gives no byte offset (docs/feeds.md: \"the message gives the byte offset\"): %.500s\n",
                    what, r.res.body);
    }
    jres_free(&r);
    check_model(c, proto, "after a malformed body");
}

static void test_malformed(ctx_t *c, e2e_proto_t proto)
{
    mleg_t good[2] = {mkleg("TP", 700, "GRU", "LIS", 14, 8, 0, 570, 35000, 9, "BRL", 0),
                      mkleg("TP", 701, "LIS", "LHR", 14, 20, 0, 150, 12000, 5, "EUR", 0)};
    feed_t f = snapshot("alpha", alpha_seq + 200, good, 2);
    buf_t json = {0}, mp = {0};
    feed_json(&f, &json);
    feed_msgpack(&f, &mp);

    expect_malformed(c, proto, "JSON cut in half", "application/json", json.p, json.len / 2);
    expect_malformed(c, proto, "JSON without its last byte", "application/json", json.p, json.len - 2); /* "}\n" */
    expect_malformed(c, proto, "msgpack cut in half", "application/msgpack", mp.p, mp.len / 2);
    expect_malformed(c, proto, "msgpack without its last byte", "application/msgpack", mp.p, mp.len - 1);
    {
        buf_t t = {0};
        bput(&t, json.p, json.len);
        bput(&t, "x", 1);
        expect_malformed(c, proto, "JSON with trailing bytes", "application/json", t.p, t.len);
        bfree(&t);
        bput(&t, json.p, json.len);
        bput(&t, "{}", 2);
        expect_malformed(c, proto, "two JSON documents", "application/json", t.p, t.len);
        bfree(&t);
        bput(&t, mp.p, mp.len);
        bput(&t, "\xc0", 1);
        expect_malformed(c, proto, "msgpack with a trailing nil", "application/msgpack", t.p, t.len);
        bfree(&t);
    }
    {
        /* JSON nested 40 deep where the legs go */
        buf_t t = {0};
        bprintf(&t, "{\"source\": \"alpha\", \"sequence\": %llu, \"generated_at\": \"%s\", \"legs\": ",
                (unsigned long long)(alpha_seq + 200), f.generated_at);
        for (int i = 0; i < 40; i++)
            bput(&t, "[", 1);
        for (int i = 0; i < 40; i++)
            bput(&t, "]", 1);
        bput(&t, "}", 1);
        expect_malformed(c, proto, "JSON 40 levels deep", "application/json", t.p, t.len);
        bfree(&t);
        /* 10000 levels: must not exhaust the loader's stack */
        bprintf(&t, "{\"source\": \"alpha\", \"legs\": ");
        for (int i = 0; i < 10000; i++)
            bput(&t, "[", 1);
        expect_malformed(c, proto, "JSON 10000 open brackets", "application/json", t.p, t.len);
        bfree(&t);
    }
    {
        /* msgpack: the same header, then legs nested 100 deep */
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 4);
        pack_cstr(&pk, "source");
        pack_cstr(&pk, "alpha");
        pack_cstr(&pk, "sequence");
        msgpack_pack_uint64(&pk, alpha_seq + 200);
        pack_cstr(&pk, "generated_at");
        pack_cstr(&pk, f.generated_at);
        pack_cstr(&pk, "legs");
        size_t head = sb.size;
        for (int i = 0; i < 100; i++)
            msgpack_pack_array(&pk, 1);
        msgpack_pack_nil(&pk);
        expect_malformed(c, proto, "msgpack 100 levels deep", "application/msgpack", sb.data, sb.size);
        /* legs as an array32 claiming 2^32-1 elements, and nothing after */
        buf_t t = {0};
        bput(&t, sb.data, head);
        bput(&t, "\xdd\xff\xff\xff\xff", 5);
        expect_malformed(c, proto, "msgpack array32 of 2^32-1 elements", "application/msgpack", t.p, t.len);
        bfree(&t);
        /* a map32 claiming 2^32-1 pairs at the top */
        expect_malformed(c, proto, "msgpack map32 of 2^32-1 pairs", "application/msgpack", "\xdf\xff\xff\xff\xff", 5);
        /* a str32 claiming 4 GB for the source */
        bput(&t, "\x81\xa6source\xdb\xff\xff\xff\xff" "alpha", 17);
        expect_malformed(c, proto, "msgpack str32 of 4 GB", "application/msgpack", t.p, t.len);
        bfree(&t);
        msgpack_sbuffer_destroy(&sb);
    }
    expect_malformed(c, proto, "a JSON array at the top", "application/json", "[1, 2, 3]", 9);
    expect_malformed(c, proto, "not JSON", "application/json", "hello", 5);
    expect_malformed(c, proto, "msgpack of an integer", "application/msgpack", "\x2a", 1);
    expect_malformed(c, proto, "JSON posing as msgpack", "application/msgpack", json.p, json.len);

    /* no body at all */
    jres_t r;
    request(c, proto, "PUT", "/v1/feeds/alpha/snapshot", TOKEN_AB, "application/json", "", 0, &r);
    snprintf(what, sizeof(what), "PUT alpha snapshot without a body over %s", e2e_proto_names[proto]);
    check_error(&r, 400, "malformed_feed");
    jres_free(&r);
    check_model(c, proto, "after an empty body");
    bfree(&json);
    bfree(&mp);
}

/* Authorization, scopes, content types, methods, paths, sizes. */
static void test_refusals(ctx_t *c, e2e_proto_t proto)
{
    mleg_t one = mkleg("TP", 800, "GRU", "LIS", 15, 8, 0, 570, 35000, 9, "BRL", 0);
    feed_t f = snapshot("alpha", alpha_seq + 300, &one, 1);
    buf_t body = {0};
    feed_json(&f, &body);
    const char *snap = "/v1/feeds/alpha/snapshot", *json = "application/json";

    /* 401: no header, an unknown token, another scheme */
    refused(c, proto, "PUT", snap, NULL, json, body.p, body.len, 401, "unauthorized");
    refused(c, proto, "PUT", snap, "e2e-unknown-0123456789abcdef", json, body.p, body.len, 401, "unauthorized");
    refused(c, proto, "GET", "/v1/feeds/alpha", NULL, NULL, NULL, 0, 401, "unauthorized");
    refused(c, proto, "GET", "/v1/feeds", NULL, NULL, NULL, 0, 401, "unauthorized");
    {
        char url[256], auth[] = "Authorization: Basic x", ct[] = "Content-Type: application/json";
        const char *h[] = {auth, ct, NULL};
        e2e_response_t res;
        snprintf(url, sizeof(url), "%s%s", c->srv.url, snap);
        CHECK(e2e_request(&c->client[proto], proto, "PUT", url, h, body.p, body.len, &res) == 0);
        CHECK_EQ_INT(res.status, 401);
        CHECK(strstr(res.body, "\"unauthorized\"") != NULL);
        e2e_response_free(&res);
        /* the token without "Bearer " */
        char raw[] = "Authorization: " TOKEN_AB;
        const char *h2[] = {raw, ct, NULL};
        CHECK(e2e_request(&c->client[proto], proto, "PUT", url, h2, body.p, body.len, &res) == 0);
        CHECK_EQ_INT(res.status, 401);
        e2e_response_free(&res);
        check_model(c, proto, "after Basic and bare tokens");
    }
    /* 403: out of scope; DELETE and the list without scope * */
    refused(c, proto, "PUT", snap, TOKEN_G, json, body.p, body.len, 403, "forbidden");
    refused(c, proto, "POST", "/v1/feeds/alpha/deltas", TOKEN_G, json, body.p, body.len, 403, "forbidden");
    refused(c, proto, "GET", "/v1/feeds/alpha", TOKEN_G, NULL, NULL, 0, 403, "forbidden");
    refused(c, proto, "GET", "/v1/feeds/gamma", TOKEN_AB, NULL, NULL, 0, 403, "forbidden");
    refused(c, proto, "DELETE", "/v1/feeds/alpha", TOKEN_AB, NULL, NULL, 0, 403, "forbidden");
    refused(c, proto, "DELETE", "/v1/feeds/gamma", TOKEN_G, NULL, NULL, 0, 403, "forbidden");
    /* 415 */
    refused(c, proto, "PUT", snap, TOKEN_AB, "text/plain", body.p, body.len, 415, "unsupported_media_type");
    refused(c, proto, "PUT", snap, TOKEN_AB, "application/xml", body.p, body.len, 415, "unsupported_media_type");
    refused(c, proto, "POST", "/v1/feeds/alpha/deltas", TOKEN_AB, "text/plain", body.p, body.len, 415, "unsupported_media_type");
    /* 400 invalid_source */
    static const char *const bad_sources[] = {"UPPER", "abcdefghijklmnopqrstuvwxyz0123456", "a.b", "al%20pha", "caf%C3%A9"};
    for (size_t i = 0; i < COUNT(bad_sources); i++) {
        char path[256];
        snprintf(path, sizeof(path), "/v1/feeds/%s/snapshot", bad_sources[i]);
        refused(c, proto, "PUT", path, TOKEN_ALL, json, body.p, body.len, 400, "invalid_source");
        snprintf(path, sizeof(path), "/v1/feeds/%s/deltas", bad_sources[i]);
        refused(c, proto, "POST", path, TOKEN_ALL, json, body.p, body.len, 400, "invalid_source");
        snprintf(path, sizeof(path), "/v1/feeds/%s", bad_sources[i]);
        refused(c, proto, "GET", path, TOKEN_ALL, NULL, NULL, 0, 400, "invalid_source");
        refused(c, proto, "DELETE", path, TOKEN_ALL, NULL, NULL, 0, 400, "invalid_source");
    }
    /* 32 characters is a name */
    {
        jres_t r;
        request(c, proto, "GET", "/v1/feeds/abcdefghijklmnopqrstuvwxyz012345", TOKEN_ALL, NULL, NULL, 0, &r);
        CHECK_EQ_INT(r.status, 404); /* valid, unknown */
        jres_free(&r);
    }
    /* 405 with Allow, on every feed path */
    static const struct {
        const char *method, *path, *allow;
    } methods[] = {
        {"POST", "/v1/feeds", "GET"},
        {"DELETE", "/v1/feeds", "GET"},
        {"PUT", "/v1/feeds", "GET"},
        {"PUT", "/v1/feeds/alpha", "GET, DELETE"},
        {"POST", "/v1/feeds/alpha", "GET, DELETE"},
        {"PATCH", "/v1/feeds/alpha", "GET, DELETE"},
        {"POST", "/v1/feeds/alpha/snapshot", "PUT"},
        {"GET", "/v1/feeds/alpha/snapshot", "PUT"},
        {"DELETE", "/v1/feeds/alpha/snapshot", "PUT"},
        {"PUT", "/v1/feeds/alpha/deltas", "POST"},
        {"GET", "/v1/feeds/alpha/deltas", "POST"},
        {"DELETE", "/v1/feeds/alpha/deltas", "POST"},
    };
    for (size_t i = 0; i < COUNT(methods); i++) {
        jres_t r;
        int with_body = strcmp(methods[i].method, "GET") != 0 && strcmp(methods[i].method, "DELETE") != 0;
        request(c, proto, methods[i].method, methods[i].path, TOKEN_ALL, with_body ? json : NULL, with_body ? body.p : NULL,
                with_body ? body.len : 0, &r);
        snprintf(what, sizeof(what), "%s %s over %s", methods[i].method, methods[i].path, e2e_proto_names[proto]);
        check_error(&r, 405, "method_not_allowed");
        const char *allow = e2e_header(&r.res, "allow");
        CHECK(allow != NULL);
        /* every method the docs name for that path, and not the one refused */
        char want[64];
        snprintf(want, sizeof(want), "%s", methods[i].allow);
        for (char *save, *m = strtok_r(want, ", ", &save); m != NULL; m = strtok_r(NULL, ", ", &save))
            CHECK(allow != NULL && strstr(allow, m) != NULL);
        CHECK(allow == NULL || strstr(allow, methods[i].method) == NULL);
        if (allow == NULL || strstr(allow, methods[i].method) != NULL)
            fprintf(stderr, "  %s: Allow: %s, expected %s\n", what, allow ? allow : "(none)", methods[i].allow);
        jres_free(&r);
    }
    check_model(c, proto, "after the 405s");
    /* 404: unknown sub-paths */
    static const char *const nowhere[] = {"/v1/feeds/alpha/snapshots", "/v1/feeds/alpha/delta", "/v1/feeds/alpha/snapshot/x",
                                          "/v1/feeds/alpha/deltas/1", "/v1/feeds/alpha/status"};
    for (size_t i = 0; i < COUNT(nowhere); i++) {
        jres_t r;
        request(c, proto, "GET", nowhere[i], TOKEN_ALL, NULL, NULL, 0, &r);
        snprintf(what, sizeof(what), "GET %s over %s", nowhere[i], e2e_proto_names[proto]);
        check_error(&r, 404, NULL);
        jres_free(&r);
        request(c, proto, "PUT", nowhere[i], TOKEN_ALL, json, body.p, body.len, &r);
        snprintf(what, sizeof(what), "PUT %s over %s", nowhere[i], e2e_proto_names[proto]);
        check_error(&r, 404, NULL);
        jres_free(&r);
    }
    check_model(c, proto, "after the 404s");
    bfree(&body);

    /* 413: a body over --max-feed-bytes (h2o may answer before the handler: the status only) */
    {
        buf_t big = {0};
        mleg_t legs[MAX_LEGS];
        for (int i = 0; i < MAX_LEGS; i++)
            legs[i] = mkleg("TP", 900 + (unsigned)i, "GRU", "LIS", 16, 8, 0, 570, 35000, 9, "BRL", 0);
        feed_t g = snapshot("alpha", alpha_seq + 300, legs, MAX_LEGS);
        feed_json(&g, &big);
        while (big.len <= MAX_FEED_BYTES + 1024)
            bput(&big, "                                                                ", 64);
        jres_t r;
        long status = request_on(&c->client[proto], c->srv.url, proto, "PUT", snap, TOKEN_AB, json, big.p, big.len, &r);
        /* HTTP/1.1 gets 413. Over HTTP/2, libh2o 2.2.5 itself refuses an over-limit body by resetting
         * the stream (REFUSED_STREAM) before any handler runs, so there is no status to read: the
         * body must be refused all the same, which check_model below verifies (docs/feeds.md). */
        int refused = proto == E2E_H1 ? status == 413 : (status == 413 || status == 0);
        CHECK(refused);
        if (!refused)
            fprintf(stderr, "  PUT of %zu bytes over %s (--max-feed-bytes %d): %ld %s\n", big.len, e2e_proto_names[proto],
                    MAX_FEED_BYTES, status, status ? r.res.body : r.res.error);
        jres_free(&r);
        bfree(&big);
        check_model(c, proto, "after a 413");
    }
}

/* The status endpoints, with the model's sequences and counts. */
static void test_status(ctx_t *c, e2e_proto_t proto)
{
    /* a refusal for alpha to report, and one for gamma, which has never had an accepted push */
    mleg_t one = mkleg("TP", 800, "GRU", "LIS", 15, 8, 0, 570, 0, 9, "BRL", 0);
    feed_t f = snapshot("alpha", alpha_seq + 400, &one, 1);
    buf_t body = {0};
    feed_json(&f, &body);
    jres_t r;
    request(c, proto, "PUT", "/v1/feeds/alpha/snapshot", TOKEN_AB, "application/json", body.p, body.len, &r);
    CHECK_EQ_INT(r.status, 422);
    jres_free(&r);
    f.source = "gamma";
    bfree(&body);
    feed_json(&f, &body);
    request(c, proto, "PUT", "/v1/feeds/gamma/snapshot", TOKEN_G, "application/json", body.p, body.len, &r);
    CHECK_EQ_INT(r.status, 422);
    jres_free(&r);
    bfree(&body);

    time_t now = time(NULL);
    const msrc_t *alpha = model_source("alpha");
    request(c, proto, "GET", "/v1/feeds/alpha", TOKEN_AB, NULL, NULL, 0, &r);
    snprintf(what, sizeof(what), "GET /v1/feeds/alpha over %s: %.600s", e2e_proto_names[proto], r.res.body);
    CHECK_EQ_INT(r.status, 200);
    CHECK(r.parsed);
    if (r.parsed) {
        check_str(&r.root, "source", "alpha");
        check_int(&r.root, "sequence", (int64_t)alpha->sequence);
        check_int(&r.root, "generation", (int64_t)alpha->generation);
        check_int(&r.root, "legs", (int64_t)alpha->count);
        check_recent(&r.root, "updated_at");
        int64_t age = -1, bytes = 0, accepted = 0, refused_n = 0;
        CHECK(e2e_mp_int(&r.root, "age_seconds", &age) && age >= 0 && age <= (int64_t)(now - test_started) + 2);
        CHECK(e2e_mp_int(&r.root, "bytes_on_disk", &bytes) && bytes > 0);
        CHECK(e2e_mp_int(&r.root, "accepted", &accepted) && accepted >= 1);
        CHECK(e2e_mp_int(&r.root, "refused", &refused_n) && refused_n >= 1);
        const msgpack_object *lr = e2e_mp_get(&r.root, "last_refused");
        CHECK(lr != NULL && lr->type == MSGPACK_OBJECT_MAP);
        if (lr != NULL && lr->type == MSGPACK_OBJECT_MAP) {
            check_int(lr, "status", 422);
            check_recent(lr, "at");
            char reason[512];
            CHECK(e2e_mp_str(lr, "reason", reason, sizeof(reason)) != NULL && strstr(reason, "miles") != NULL);
        }
    }
    jres_free(&r);

    /* the list, with the * token: every source of the model, and gamma with sequence null */
    request(c, proto, "GET", "/v1/feeds", TOKEN_ALL, NULL, NULL, 0, &r);
    snprintf(what, sizeof(what), "GET /v1/feeds over %s: %.800s", e2e_proto_names[proto], r.res.body);
    CHECK_EQ_INT(r.status, 200);
    const msgpack_object_array *list = r.parsed ? e2e_mp_array(&r.root, "sources") : NULL;
    CHECK(list != NULL);
    int64_t g;
    CHECK(r.parsed && e2e_mp_int(&r.root, "generation", &g) && (c->generation == 0 || (uint64_t)g == c->generation));
    size_t seen = 0;
    int gamma_listed = 0;
    for (uint32_t i = 0; list != NULL && i < list->size; i++) {
        const msgpack_object *s = &list->ptr[i];
        char name[64];
        if (e2e_mp_str(s, "source", name, sizeof(name)) == NULL) {
            CHECK(!"a source entry has a name");
            continue;
        }
        const msrc_t *m = NULL;
        for (size_t k = 0; k < MAX_SOURCES; k++)
            if (model[k].exists && strcmp(model[k].name, name) == 0)
                m = &model[k];
        if (m != NULL) {
            seen++;
            check_int(s, "sequence", (int64_t)m->sequence);
            check_int(s, "legs", (int64_t)m->count);
            check_int(s, "generation", (int64_t)m->generation);
            int64_t bytes = 0;
            CHECK(e2e_mp_int(s, "bytes_on_disk", &bytes) && bytes > 0);
        } else if (strcmp(name, "gamma") == 0) {
            gamma_listed = 1;
            CHECK(e2e_mp_is_nil(s, "sequence"));
            const msgpack_object *lr = e2e_mp_get(s, "last_refused");
            CHECK(lr != NULL && lr->type == MSGPACK_OBJECT_MAP && e2e_mp_int_or(lr, "status", 0) == 422);
        } else {
            CHECK(!"GET /v1/feeds lists only known sources");
            fprintf(stderr, "  %s: lists %s\n", what, name);
        }
    }
    size_t expected = 0;
    for (size_t k = 0; k < MAX_SOURCES; k++)
        expected += model[k].exists;
    CHECK_EQ_INT(seen, expected);
    CHECK(gamma_listed);
    jres_free(&r);

    /* gamma alone, with its own token */
    request(c, proto, "GET", "/v1/feeds/gamma", TOKEN_G, NULL, NULL, 0, &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK(r.parsed && e2e_mp_is_nil(&r.root, "sequence"));
    jres_free(&r);
    /* an unknown source */
    request(c, proto, "GET", "/v1/feeds/nosuch", TOKEN_ALL, NULL, NULL, 0, &r);
    snprintf(what, sizeof(what), "GET /v1/feeds/nosuch over %s", e2e_proto_names[proto]);
    check_error(&r, 404, NULL);
    jres_free(&r);
}

/* A few pushes over h2 with prior knowledge. */
static void test_h2(ctx_t *c)
{
    mleg_t up = mkleg("TP", 850, "LIS", "LHR", 17, 7, 0, 150, 11000, 6, "EUR", 30000);
    feed_t f = delta("alpha", ++alpha_seq, &up, 1, NULL, 0);
    push_ok(c, E2E_H2, &f, 1, TOKEN_AB);
    check_model(c, E2E_H2, "after a delta over h2");
    rm_t rm = rm_of(&up);
    f = delta("alpha", ++alpha_seq, NULL, 0, &rm, 1);
    push_ok(c, E2E_H2, &f, 0, TOKEN_AB);
    check_model(c, E2E_H2, "after a remove over h2");
    mleg_t b = mkleg("AC", 92, "JFK", "LHR", 18, 23, 50, 435, 37000, 4, "CAD", 0);
    f = delta("beta", model_source("beta")->sequence + 1, &b, 1, NULL, 0);
    push_ok(c, E2E_H2, &f, 0, TOKEN_ALL);
    check_model(c, E2E_H2, "after a beta delta over h2");
}

/* A server without --tokens: every feed endpoint 403 feeds_disabled, searches open. */
static void test_feeds_disabled(const char *tmp)
{
    char dir[400];
    snprintf(dir, sizeof(dir), "%s/no-tokens", tmp);
    mkdir(dir, 0755);
    ctx_t c;
    memset(&c, 0, sizeof(c));
    if (e2e_server_start(&c.srv, binary, dir, NULL) != 0) {
        CHECK(!"a server without --tokens starts");
        return;
    }
    for (int p = 0; p < E2E_PROTO_COUNT; p++)
        e2e_client_init(&c.client[p]);
    static const struct {
        const char *method, *path;
    } eps[] = {{"GET", "/v1/feeds"},          {"GET", "/v1/feeds/alpha"},         {"DELETE", "/v1/feeds/alpha"},
               {"PUT", "/v1/feeds/alpha/snapshot"}, {"POST", "/v1/feeds/alpha/deltas"}};
    const char *body = "{\"source\": \"alpha\", \"sequence\": 1, \"generated_at\": \"2026-11-21T20:00:00Z\", \"legs\": []}";
    for (size_t i = 0; i < COUNT(eps); i++) {
        for (int with_token = 0; with_token < 2; with_token++) {
            jres_t r;
            int has_body = eps[i].method[0] == 'P';
            request(&c, E2E_H1, eps[i].method, eps[i].path, with_token ? TOKEN_ALL : NULL, has_body ? "application/json" : NULL,
                    has_body ? body : NULL, has_body ? strlen(body) : 0, &r);
            snprintf(what, sizeof(what), "%s %s without --tokens", eps[i].method, eps[i].path);
            const msgpack_object *e = check_error(&r, 403, "feeds_disabled");
            char msg[512];
            CHECK(e != NULL && e2e_mp_str(e, "message", msg, sizeof(msg)) != NULL && strstr(msg, "--tokens") != NULL);
            jres_free(&r);
        }
    }
    e2e_response_t res;
    char url[512];
    snprintf(url, sizeof(url), "%s%s", c.srv.url, SEARCH_ALL);
    CHECK(e2e_get(&c.client[E2E_H1], E2E_H1, url, NULL, &res) == 0 && res.status == 200);
    e2e_response_free(&res);
    for (int p = 0; p < E2E_PROTO_COUNT; p++)
        e2e_client_free(&c.client[p]);
    CHECK_EQ_INT(stop_server(&c.srv), 0);
}

/* SIGHUP reloads the tokens file; a broken file keeps the tokens in force. */
static void test_sighup(ctx_t *c)
{
    CHECK(write_tokens(c->tokens_path, tokens_v2) == 0);
    e2e_server_signal(&c->srv, SIGHUP);
    sleep_ms(300);
    jres_t r;
    request(c, E2E_H1, "GET", "/v1/feeds/gamma", TOKEN_G, NULL, NULL, 0, &r);
    snprintf(what, sizeof(what), "the removed token after SIGHUP");
    check_error(&r, 401, "unauthorized");
    jres_free(&r);
    request(c, E2E_H1, "GET", "/v1/feeds/gamma", TOKEN_NEW, NULL, NULL, 0, &r);
    CHECK_EQ_INT(r.status, 200);
    jres_free(&r);
    mleg_t g[2] = {mkleg("UX", 11, "GRU", "JFK", 2, 10, 0, 600, 20000, 9, "USD", 0),
                   mkleg("UX", 12, "JFK", "LHR", 19, 19, 0, 420, 26000, 3, "USD", 70000)};
    feed_t f = snapshot("gamma", 1, g, 2);
    push_ok(c, E2E_H1, &f, 1, TOKEN_NEW);
    check_model(c, E2E_H1, "after gamma's first snapshot with the new token");
    /* the old tokens that stayed still work */
    request(c, E2E_H1, "GET", "/v1/feeds/alpha", TOKEN_AB, NULL, NULL, 0, &r);
    CHECK_EQ_INT(r.status, 200);
    jres_free(&r);

    /* a broken file: the error is logged, the tokens in force stay */
    static const char broken[] = TOKEN_ALL " *\nshort gamma\n";
    CHECK(write_tokens(c->tokens_path, broken) == 0);
    e2e_server_signal(&c->srv, SIGHUP);
    sleep_ms(300);
    request(c, E2E_H1, "GET", "/v1/feeds/gamma", TOKEN_NEW, NULL, NULL, 0, &r);
    CHECK_EQ_INT(r.status, 200);
    jres_free(&r);
    request(c, E2E_H1, "GET", "/v1/feeds/alpha", TOKEN_AB, NULL, NULL, 0, &r);
    CHECK_EQ_INT(r.status, 200);
    jres_free(&r);
    request(c, E2E_H1, "GET", "/v1/feeds/gamma", TOKEN_G, NULL, NULL, 0, &r);
    CHECK_EQ_INT(r.status, 401);
    jres_free(&r);
    char *log = e2e_server_stderr(&c->srv);
    CHECK(strstr(log, c->tokens_path) != NULL);
    CHECK(strstr(log, "short gamma") == NULL && strstr(log, TOKEN_ALL) == NULL); /* tokens are never logged */
    free(log);
    CHECK(write_tokens(c->tokens_path, tokens_v2) == 0);
    e2e_server_signal(&c->srv, SIGHUP);
    sleep_ms(300);
}

/* ------------------------------------------------------------- spool */

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Writes body to inbox/.NAME.part and renames it to inbox/NAME (the way docs/feeds.md says). */
static void spool_drop(const char *inbox, const char *name, const void *body, size_t len)
{
    char tmp[600], final[600];
    snprintf(tmp, sizeof(tmp), "%s/.%s.part", inbox, name);
    snprintf(final, sizeof(final), "%s/%s", inbox, name);
    CHECK(e2e_write_file(tmp, body, len) == 0);
    CHECK(rename(tmp, final) == 0);
}

/* Dates inbox/NAME 5 s back, so the spool takes it as finished. */
static void spool_age(const char *inbox, const char *name)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/%s", inbox, name);
    struct timeval tv[2];
    gettimeofday(&tv[0], NULL);
    tv[0].tv_sec -= 5;
    tv[1] = tv[0];
    CHECK(utimes(path, tv) == 0);
}

/* The .error file of a failed spool file, parsed: error.code and the first error's index/field. */
static void check_spool_error(const char *inbox, const char *name, const char *code, int64_t index, const char *field)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/failed/%s.error", inbox, name);
    size_t len = 0;
    char *text = e2e_read_file(path, &len);
    snprintf(what, sizeof(what), "%s", path);
    CHECK(text != NULL);
    if (text == NULL)
        return;
    msgpack_zone zone;
    msgpack_zone_init(&zone, 1024);
    msgpack_object doc;
    size_t at;
    int parsed = e2e_json_parse(text, len, &zone, &doc, &at) == 0;
    CHECK(parsed);
    const msgpack_object *e = parsed ? e2e_mp_get(&doc, "error") : NULL;
    CHECK(e != NULL);
    if (e != NULL) {
        check_str(e, "code", code);
        if (field != NULL) {
            const msgpack_object_array *errs = e2e_mp_array(e, "errors");
            CHECK(errs != NULL && errs->size >= 1);
            if (errs != NULL && errs->size >= 1) {
                check_int(&errs->ptr[0], "index", index);
                check_str(&errs->ptr[0], "field", field);
            }
        }
    }
    if (!parsed || e == NULL)
        fprintf(stderr, "  %s: %s\n", path, text);
    msgpack_zone_destroy(&zone);
    free(text);
}

static void test_spool(ctx_t *c)
{
    char inbox[400];
    snprintf(inbox, sizeof(inbox), "%s/inbox", c->data_dir);
    /* two deltas that only apply in name order, a refused one, one without a source, a snapshot
     * of a new source in msgpack, a dot-file that must stay */
    mleg_t u1 = mkleg("TP", 870, "GRU", "LHR", 19, 22, 0, 700, 61000, 3, "BRL", 0);
    mleg_t u2 = mkleg("TP", 870, "GRU", "LHR", 19, 22, 0, 700, 59000, 2, "BRL", 0); /* the same key, cheaper */
    mleg_t u3 = mkleg("TP", 871, "GRU", "LHR", 20, 22, 0, 700, 60000, 3, "BRL", 0);
    mleg_t bad[2] = {mkleg("TP", 872, "GRU", "LHR", 20, 8, 0, 700, 60000, 3, "BRL", 0),
                     mkleg("TP", 873, "GRU", "LHR", 20, 9, 0, 700, 0, 3, "BRL", 0)};
    feed_t d1 = delta("alpha", alpha_seq + 1, &u1, 1, NULL, 0);
    mleg_t both[2] = {u2, u3};
    feed_t d2 = delta("alpha", alpha_seq + 2, both, 2, NULL, 0);
    feed_t d3 = delta("alpha", alpha_seq + 3, bad, 2, NULL, 0);
    mleg_t sp[2] = {mkleg("SP", 1, "LHR", "JFK", 9, 11, 0, 480, 20000, 5, "GBP", 0),
                    mkleg("SP", 2, "JFK", "LHR", 10, 20, 0, 420, 21000, 5, "GBP", 0)};
    feed_t s1 = snapshot("spooled", 4, sp, 2);
    buf_t b1 = {0}, b2 = {0}, b3 = {0}, b4 = {0}, b5 = {0};
    feed_json(&d1, &b1);
    feed_json(&d2, &b2);
    feed_json(&d3, &b3);
    feed_msgpack(&s1, &b4);
    feed_json(&d1, &b5);
    const char nosource[] = "{\"sequence\": 1, \"generated_at\": \"2026-11-21T20:00:00Z\", \"legs\": []}";

    /* the hidden file first: it must never be read */
    char hidden[600];
    snprintf(hidden, sizeof(hidden), "%s/.07-alpha.delta.json", inbox);
    CHECK(e2e_write_file(hidden, b5.p, b5.len) == 0);
    struct timeval tv[2];
    gettimeofday(&tv[0], NULL);
    tv[0].tv_sec -= 5;
    tv[1] = tv[0];
    utimes(hidden, tv);

    spool_drop(inbox, "03-alpha.delta.json", b2.p, b2.len); /* dropped first, applied second */
    spool_drop(inbox, "02-alpha.delta.json", b1.p, b1.len);
    spool_drop(inbox, "04-alpha.delta.json", b3.p, b3.len);
    spool_drop(inbox, "05-nosource.json", nosource, strlen(nosource));
    spool_drop(inbox, "06-spooled.msgpack", b4.p, b4.len);
    /* written just now, so not taken yet; aged in name order, so that a scan in between sees a
     * prefix of the order (02 and 03 then meet in one scan, where only the name orders them) */
    static const char *const names[] = {"02-alpha.delta.json", "03-alpha.delta.json", "04-alpha.delta.json", "05-nosource.json",
                                        "06-spooled.msgpack"};
    for (size_t i = 0; i < COUNT(names); i++)
        spool_age(inbox, names[i]);
    int64_t t0 = e2e_now_ms();
    static const char *const done[] = {"done/02-alpha.delta.json", "done/03-alpha.delta.json", "failed/04-alpha.delta.json",
                                       "failed/05-nosource.json", "done/06-spooled.msgpack"};
    int all = 0;
    while (!all && e2e_now_ms() - t0 < 8000) {
        all = 1;
        for (size_t i = 0; i < COUNT(done); i++) {
            char p[600];
            snprintf(p, sizeof(p), "%s/%s", inbox, done[i]);
            all &= exists(p);
        }
        if (!all)
            sleep_ms(50);
    }
    int64_t took = e2e_now_ms() - t0;
    CHECK(all);
    CHECK(took <= 3500);
    if (!all || took > 3500) {
        fprintf(stderr, "  spool: %s after %lld ms:", all ? "done" : "not done", (long long)took);
        for (size_t i = 0; i < COUNT(done); i++) {
            char p[600];
            snprintf(p, sizeof(p), "%s/%s", inbox, done[i]);
            fprintf(stderr, " %s=%s", done[i], exists(p) ? "yes" : "no");
        }
        fprintf(stderr, "\n");
    }
    size_t up, rmv;
    model_apply(&d1, &up, &rmv);
    model_apply(&d2, &up, &rmv);
    model_apply(&s1, &up, &rmv);
    alpha_seq += 2;
    generation_moved(c);
    check_model(c, E2E_H1, "after the spool");
    /* nothing left in the inbox but the hidden file */
    for (size_t i = 0; i < COUNT(names); i++) {
        char p[600];
        snprintf(p, sizeof(p), "%s/%s", inbox, names[i]);
        CHECK(!exists(p));
    }
    CHECK(exists(hidden));
    check_spool_error(inbox, "04-alpha.delta.json", "invalid_feed", 1, "upsert.cabins.economy.miles");
    check_spool_error(inbox, "05-nosource.json", "malformed_feed", 0, NULL);
    /* a done file has no .error */
    char p[600];
    snprintf(p, sizeof(p), "%s/done/02-alpha.delta.json.error", inbox);
    CHECK(!exists(p));
    snprintf(p, sizeof(p), "%s/failed/02-alpha.delta.json.error", inbox);
    CHECK(!exists(p));
    unlink(hidden);
    bfree(&b1);
    bfree(&b2);
    bfree(&b3);
    bfree(&b4);
    bfree(&b5);
}

/* DELETE with scope *: the source leaves the searches, its status and the store. */
static void test_delete(ctx_t *c)
{
    jres_t r;
    request(c, E2E_H1, "DELETE", "/v1/feeds/beta", TOKEN_ALL, NULL, NULL, 0, &r);
    snprintf(what, sizeof(what), "DELETE /v1/feeds/beta: %ld %.300s", r.status, r.res.body);
    CHECK_EQ_INT(r.status, 200);
    jres_free(&r);
    msrc_t *beta = model_source("beta");
    beta->exists = 0;
    beta->count = 0;
    generation_moved(c);
    check_model(c, E2E_H1, "after DELETE beta");
    request(c, E2E_H1, "GET", "/v1/feeds/beta", TOKEN_ALL, NULL, NULL, 0, &r);
    snprintf(what, sizeof(what), "GET /v1/feeds/beta after DELETE");
    check_error(&r, 404, NULL);
    jres_free(&r);
    request(c, E2E_H1, "DELETE", "/v1/feeds/beta", TOKEN_ALL, NULL, NULL, 0, &r);
    snprintf(what, sizeof(what), "DELETE /v1/feeds/beta again");
    check_error(&r, 404, NULL);
    jres_free(&r);
    request(c, E2E_H1, "DELETE", "/v1/feeds/nosuch", TOKEN_ALL, NULL, NULL, 0, &r);
    snprintf(what, sizeof(what), "DELETE /v1/feeds/nosuch");
    check_error(&r, 404, NULL);
    jres_free(&r);
    check_model(c, E2E_H1, "after DELETEs of unknown sources");
    /* not in the list either */
    request(c, E2E_H1, "GET", "/v1/feeds", TOKEN_ALL, NULL, NULL, 0, &r);
    CHECK(r.status == 200 && strstr(r.res.body, "\"beta\"") == NULL);
    jres_free(&r);
}

static int store_file(ctx_t *c, const char *source, const char *prefix, uint64_t sequence, char *out, size_t cap);
static size_t count_files(ctx_t *c, const char *source, const char *prefix);

/* A retired source pushed again (with a lower sequence than it had: it is a new source now),
 * a source whose first push is a delta (refused: no_base) and then a snapshot, and a source with more deltas than the compaction
 * threshold (64): each acknowledged, so each must survive the restarts that follow. */
static void test_more_sources(ctx_t *c)
{
    jres_t r;
    request(c, E2E_H1, "DELETE", "/v1/feeds/spooled", TOKEN_ALL, NULL, NULL, 0, &r);
    CHECK_EQ_INT(r.status, 200);
    jres_free(&r);
    model_source("spooled")->exists = 0;
    model_source("spooled")->count = 0;
    generation_moved(c);
    check_model(c, E2E_H1, "after DELETE spooled");
    mleg_t sp = mkleg("SP", 3, "LHR", "JFK", 11, 11, 0, 480, 19000, 5, "GBP", 0);
    feed_t f = snapshot("spooled", 2, &sp, 1);
    push_ok(c, E2E_H1, &f, 1, TOKEN_ALL);
    check_model(c, E2E_H1, "after spooled pushed again at sequence 2");

    mleg_t fr[2] = {mkleg("FR", 1, "GRU", "LHR", 12, 23, 0, 700, 70000, 2, "BRL", 0),
                    mkleg("FR", 2, "LHR", "GRU", 13, 22, 0, 720, 71000, 2, "BRL", 0)};
    f = delta("fresh", 5, fr, 2, NULL, 0);
    buf_t nb = {0};
    char nb_path[128];
    feed_body(&f, 0, &nb);
    /* a delta has nothing to apply to without a snapshot: refused, and nothing changes */
    refused(c, E2E_H1, "POST", feed_path(&f, nb_path, sizeof(nb_path)), TOKEN_ALL, "application/json", nb.p, nb.len, 409,
            "no_base");
    free(nb.p);
    check_model(c, E2E_H1, "after a delta to source fresh, which has no snapshot");
    f = snapshot("fresh", 5, fr, 2);
    push_ok(c, E2E_H1, &f, 0, TOKEN_ALL);
    check_model(c, E2E_H1, "after a snapshot creating source fresh");

    mleg_t base[2] = {mkleg("CP", 1, "JFK", "LIS", 1, 18, 0, 420, 50000, 9, "USD", 0),
                      mkleg("CP", 2, "LIS", "JFK", 2, 10, 0, 480, 50000, 9, "USD", 0)};
    f = snapshot("comp", 1, base, 2);
    push_ok(c, E2E_H1, &f, 0, TOKEN_ALL);
    for (unsigned i = 0; i < 70; i++) {
        mleg_t u = mkleg("CP", 100 + i, "JFK", "LIS", 1 + (int)(i % 20), 18, 0, 420, 40000 + i, 1 + i % 9, "USD", 0);
        rm_t rm = rm_of(&u);
        rm.flight = 100 + i - 5;
        snprintf(rm.date, sizeof(rm.date), "2026-12-%02u", 1 + (i - 5) % 20);
        f = delta("comp", 2 + i, &u, 1, &rm, i >= 5 ? 1 : 0);
        push_ok(c, E2E_H1, &f, (int)(i % 2), TOKEN_ALL);
    }
    check_model(c, E2E_H1, "after 70 deltas to source comp");
    /* compacted: a base newer than the snapshot, and fewer than 64 deltas kept. Compaction runs
     * on its own thread after the answers: wait for it (up to 20 s; it takes milliseconds here) */
    for (int i = 0; i < 2000 && count_files(c, "comp", "delta-") >= 64; i++)
        usleep(10 * 1000);
    CHECK(count_files(c, "comp", "delta-") < 64);
    CHECK(count_files(c, "comp", "base-") >= 1);
    char path[600];
    CHECK(store_file(c, "comp", "base-", 1, path, sizeof(path)) != 0);
}

/* SIGTERM, restart on the same directory: every acknowledged push is there. */
static void test_restart(ctx_t *c, const char *when)
{
    CHECK_EQ_INT(stop_main(c), 0);
    if (start_main(c) != 0) {
        CHECK(!"the server restarts on its data dir");
        return;
    }
    /* beta was retired, and its seed file DATA_DIR/beta.json "is not imported again" */
    jres_t r;
    request(c, E2E_H1, "GET", "/v1/feeds/beta", TOKEN_ALL, NULL, NULL, 0, &r);
    CHECK_EQ_INT(r.status, 404);
    if (r.status == 200) {
        fprintf(stderr, "  %s: the retired source beta is back (from its seed file): %.300s\n", when, r.res.body);
        /* retire it again and take the seed file away, so the checks below test the rest */
        jres_t d;
        request(c, E2E_H1, "DELETE", "/v1/feeds/beta", TOKEN_ALL, NULL, NULL, 0, &d);
        jres_free(&d);
        char seed[400];
        snprintf(seed, sizeof(seed), "%s/beta.json", c->data_dir);
        unlink(seed);
        generation_moved(c);
    }
    jres_free(&r);
    check_model(c, E2E_H1, when);
    request(c, E2E_H1, "GET", "/v1/feeds/alpha", TOKEN_AB, NULL, NULL, 0, &r);
    CHECK(r.parsed && e2e_mp_int_or(&r.root, "sequence", -1) == (int64_t)model_source("alpha")->sequence);
    jres_free(&r);
}

/* kill -9 right after a 200, restart: the push is there. */
static void test_kill9(ctx_t *c)
{
    for (int round = 0; round < 3; round++) {
        if (round == 2) {
            mleg_t g = mkleg("UX", 13, "LHR", "JFK", 20, 9, 0, 480, 27000, 2, "USD", 0);
            feed_t f = snapshot("gamma", model_source("gamma")->sequence + 1, &g, 1);
            push_ok(c, E2E_H1, &f, 0, TOKEN_NEW);
        } else {
            mleg_t u = mkleg("TP", 880 + (unsigned)round, "LIS", "GRU", 18, 12, 0, 630, 41000 + (unsigned)round, 4, "EUR", 0);
            rm_t rm = rm_of(&model_source("alpha")->legs[0]);
            feed_t f = delta("alpha", ++alpha_seq, &u, 1, &rm, 1);
            push_ok(c, E2E_H1, &f, round, TOKEN_AB);
        }
        e2e_server_signal(&c->srv, SIGKILL);
        CHECK_EQ_INT(e2e_server_wait(&c->srv, 10000), 128 + SIGKILL);
        char *log = e2e_server_stderr(&c->srv);
        CHECK(strstr(log, "ERROR: AddressSanitizer") == NULL && strstr(log, "runtime error:") == NULL);
        free(log);
        e2e_server_stop(&c->srv); /* the log dir */
        if (start_main(c) != 0) {
            CHECK(!"the server restarts after kill -9");
            return;
        }
        check_model(c, E2E_H1, "after kill -9 right after a 200 and a restart");
        /* the client never saw that 200: it retries the same body (docs/feeds.md, "Retries are
         * safe"): 200, duplicate, nothing changes */
        jres_t r;
        request(c, E2E_H1, round == 2 ? "PUT" : "POST", last_push.path, round == 2 ? TOKEN_NEW : TOKEN_AB, last_push.ctype,
                last_push.body.p, last_push.body.len, &r);
        snprintf(what, sizeof(what), "a retry of the last push after kill -9 and a restart (%s): %ld %.300s", last_push.path,
                 r.status, r.res.body);
        const msgpack_object *dup = r.parsed ? e2e_mp_get(&r.root, "duplicate") : NULL;
        int ok = r.status == 200 && dup != NULL && dup->type == MSGPACK_OBJECT_BOOLEAN && dup->via.boolean;
        CHECK(ok);
        if (!ok)
            fprintf(stderr, "  %s\n", what);
        jres_free(&r);
        check_model(c, E2E_H1, "after a retry of the last push");
    }
}

/* Two sources pushed from two threads at once, each thread with its own connection. */
typedef struct pusher {
    const char *source;
    const char *base_url;
    const char *carrier;
    int rounds;
    long statuses[32];
    int bad_fields; /* answers whose sequence/legs/upserted/removed differ from the model */
} pusher_t;

static void *pusher_main(void *arg)
{
    pusher_t *p = arg;
    e2e_client_t client;
    e2e_client_init(&client);
    msrc_t *s = model_source(p->source); /* created before the threads started */
    for (int i = 0; i < p->rounds; i++) {
        mleg_t legs[2];
        feed_t f;
        rm_t rm;
        if (i == 0) {
            legs[0] = mkleg(p->carrier, 100, "GRU", "LIS", 3, 8, 0, 570, 30000, 5, "BRL", 0);
            legs[1] = mkleg(p->carrier, 101, "LIS", "JFK", 4, 8, 0, 480, 31000, 5, "BRL", 0);
            f = (feed_t){.source = p->source, .sequence = 1, .legs = legs, .count = 2};
        } else {
            legs[0] = mkleg(p->carrier, 100, "GRU", "LIS", 3, 8, 0, 570, 30000 + (unsigned)i, 5, "BRL", 0);
            legs[1] = mkleg(p->carrier, 101 + (unsigned)i, "LIS", "JFK", 4, 8, 0, 480, 31000 + (unsigned)i, 5, "BRL", 0);
            rm = rm_of(&legs[1]);
            rm.flight = 101 + (unsigned)i - 1;
            f = (feed_t){.source = p->source, .sequence = 1 + (unsigned)i, .delta = 1, .legs = legs, .count = 2,
                         .rms = i % 3 == 0 ? &rm : NULL, .rm_count = i % 3 == 0 ? 1 : 0};
        }
        /* generated_at from the round, not the shared counter */
        snprintf(f.generated_at, sizeof(f.generated_at), "2026-11-22T10:%02d:%02dZ", i, p->carrier[1] == '1' ? 1 : 2);
        buf_t b = {0};
        if (i % 2)
            feed_msgpack(&f, &b);
        else
            feed_json(&f, &b);
        char path[128];
        jres_t r;
        long status = request_on(&client, p->base_url, E2E_H1, f.delta ? "POST" : "PUT", feed_path(&f, path, sizeof(path)),
                                 TOKEN_ALL, i % 2 ? "application/msgpack" : "application/json", b.p, b.len, &r);
        p->statuses[i] = status;
        if (status == 200) {
            size_t up, rmv;
            model_apply(&f, &up, &rmv);
            if (!r.parsed || e2e_mp_int_or(&r.root, "sequence", -1) != (int64_t)f.sequence ||
                e2e_mp_int_or(&r.root, "legs", -1) != (int64_t)s->count || e2e_mp_int_or(&r.root, "upserted", -1) != (int64_t)up ||
                e2e_mp_int_or(&r.root, "removed", -1) != (int64_t)rmv)
                p->bad_fields++;
            s->generation = (uint64_t)e2e_mp_int_or(&r.root, "generation", 0);
        }
        jres_free(&r);
        bfree(&b);
    }
    e2e_client_free(&client);
    return NULL;
}

static void test_concurrency(ctx_t *c)
{
    pusher_t p[2] = {{"c1", c->srv.url, "X1", 16, {0}, 0}, {"c2", c->srv.url, "X2", 16, {0}, 0}};
    model_source("c1");
    model_source("c2");
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, pusher_main, &p[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++) {
        for (int k = 0; k < p[i].rounds; k++) {
            CHECK_EQ_INT(p[i].statuses[k], 200);
            if (p[i].statuses[k] != 200)
                fprintf(stderr, "  concurrent push %d of %s: %ld\n", k, p[i].source, p[i].statuses[k]);
        }
        CHECK_EQ_INT(p[i].bad_fields, 0);
    }
    generation_moved(c);
    check_model(c, E2E_H1, "after concurrent pushes to two sources");
    check_model(c, E2E_H2, "after concurrent pushes to two sources");
}

/* ----------------------------------------------------------- recovery */

/* DATA_DIR/sources/<source>/<prefix><digits>.<ext> with that sequence (docs/feeds.md names the
 * files base-<sequence>.seg and delta-<sequence>.delta); 0 and the path, or -1. */
static int store_file(ctx_t *c, const char *source, const char *prefix, uint64_t sequence, char *out, size_t cap)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/sources/%s", c->data_dir, source);
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    struct dirent *de;
    int found = -1;
    while ((de = readdir(d)) != NULL) {
        size_t k = strlen(prefix);
        if (strncmp(de->d_name, prefix, k) != 0)
            continue;
        char *end;
        unsigned long long v = strtoull(de->d_name + k, &end, 10);
        if (end != de->d_name + k && *end == '.' && v == sequence) {
            snprintf(out, cap, "%.400s/%.100s", dir, de->d_name);
            found = 0;
        }
    }
    closedir(d);
    return found;
}

static size_t count_files(ctx_t *c, const char *source, const char *prefix)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/sources/%s", c->data_dir, source);
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *de;
    while (d != NULL && (de = readdir(d)) != NULL)
        n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
    if (d != NULL)
        closedir(d);
    return n;
}

/* Flips one byte of a file at offset (from the end when negative). */
static void flip_byte(const char *path, long offset)
{
    size_t len = 0;
    char *data = e2e_read_file(path, &len);
    CHECK(data != NULL && len > 0);
    if (data == NULL || len == 0)
        return;
    size_t at = offset < 0 ? len - (size_t)(-offset) : (size_t)offset;
    data[at] ^= 0x5a;
    CHECK(e2e_write_file(path, data, len) == 0);
    free(data);
}

static void truncate_file(const char *path, size_t by)
{
    size_t len = 0;
    char *data = e2e_read_file(path, &len);
    CHECK(data != NULL && len > by);
    if (data != NULL && len > by)
        CHECK(e2e_write_file(path, data, len - by) == 0);
    free(data);
}

/* Stops the server, lets damage() break files, restarts; then the log must name each path. */
static void restart_after_damage(ctx_t *c, const char *const *paths, size_t n, void (*damage)(const char *const *paths, size_t n))
{
    CHECK_EQ_INT(stop_main(c), 0);
    damage(paths, n);
    if (start_main(c) != 0) {
        CHECK(!"the server restarts over damaged files");
        return;
    }
    char *log = e2e_server_stderr(&c->srv);
    for (size_t i = 0; i < n; i++) {
        const char *name = strrchr(paths[i], '/') + 1;
        CHECK(strstr(log, name) != NULL);
        if (strstr(log, name) == NULL)
            fprintf(stderr, "  the start-up log does not name the damaged file %s: %s\n", paths[i], log);
    }
    free(log);
}

static void damage_truncate(const char *const *paths, size_t n)
{
    for (size_t i = 0; i < n; i++)
        truncate_file(paths[i], 5);
}

static void damage_flip(const char *const *paths, size_t n)
{
    for (size_t i = 0; i < n; i++)
        flip_byte(paths[i], -3);
}

/* docs/feeds.md: the newest valid base plus the valid deltas after it, in order; a truncated or
 * corrupt file is skipped with a log line naming it, falling back to the last good state; a
 * delta that does not verify stops the replay there. */
static void test_recovery(ctx_t *c)
{
    mleg_t l1[2] = {mkleg("RC", 1, "GRU", "JFK", 5, 9, 0, 600, 41000, 4, "USD", 0),
                    mkleg("RC", 2, "JFK", "GRU", 6, 21, 0, 610, 42000, 4, "USD", 0)};
    mleg_t l2 = mkleg("RC", 3, "LIS", "LHR", 7, 7, 0, 150, 9000, 4, "EUR", 0);
    mleg_t l3 = mkleg("RC", 4, "LHR", "LIS", 8, 7, 0, 150, 9500, 4, "EUR", 0);
    static msrc_t s1, s2;
    feed_t f = snapshot("recov", 1, l1, 2);
    push_ok(c, E2E_H1, &f, 1, TOKEN_ALL);
    s1 = *model_source("recov");
    f = delta("recov", 2, &l2, 1, NULL, 0);
    push_ok(c, E2E_H1, &f, 0, TOKEN_ALL);
    s2 = *model_source("recov");
    f = delta("recov", 3, &l3, 1, NULL, 0);
    push_ok(c, E2E_H1, &f, 1, TOKEN_ALL);

    /* the newest delta cut short: back to sequence 2 */
    char d3[600], d2[600], b1[600];
    CHECK(store_file(c, "recov", "delta-", 3, d3, sizeof(d3)) == 0);
    CHECK(store_file(c, "recov", "delta-", 2, d2, sizeof(d2)) == 0);
    CHECK(store_file(c, "recov", "base-", 1, b1, sizeof(b1)) == 0);
    const char *p3[] = {d3};
    restart_after_damage(c, p3, 1, damage_truncate);
    *model_source("recov") = s2;
    check_model(c, E2E_H1, "after a restart with the newest delta truncated");
    /* a byte flipped in the older delta: back to the snapshot, the later delta not replayed */
    const char *p2[] = {d2};
    restart_after_damage(c, p2, 1, damage_flip);
    *model_source("recov") = s1;
    check_model(c, E2E_H1, "after a restart with a corrupt delta before the newest");
    /* pushes carry on from there */
    f = delta("recov", 2, &l3, 1, NULL, 0);
    push_ok(c, E2E_H1, &f, 0, TOKEN_ALL);
    check_model(c, E2E_H1, "after a push following the recovery");
    test_restart(c, "after a clean restart following the recovery");

    /* a corrupt base with no older one: nothing good to fall back to, so no made-up state
     * (the deltas alone are not the source) */
    char b2[600];
    mleg_t l4 = mkleg("RC", 5, "GRU", "LIS", 9, 9, 0, 570, 30000, 4, "BRL", 0);
    f = snapshot("recov2", 1, l1, 2);
    push_ok(c, E2E_H1, &f, 0, TOKEN_ALL);
    f = delta("recov2", 2, &l4, 1, NULL, 0);
    push_ok(c, E2E_H1, &f, 0, TOKEN_ALL);
    CHECK(store_file(c, "recov2", "base-", 1, b2, sizeof(b2)) == 0);
    const char *pb[] = {b2};
    restart_after_damage(c, pb, 1, damage_flip);
    jres_t r;
    request(c, E2E_H1, "GET", "/v1/feeds/recov2", TOKEN_ALL, NULL, NULL, 0, &r);
    int64_t legs = r.parsed ? e2e_mp_int_or(&r.root, "legs", -1) : -1;
    CHECK(r.status == 404 || legs == 3);
    if (!(r.status == 404 || legs == 3))
        fprintf(stderr, "  recov2 after its only base was corrupted: serves a state it never had: %.300s\n", r.res.body);
    jres_free(&r);
    model_source("recov2")->exists = 0;
    model_source("recov2")->count = 0;
    /* whatever recov2 is now, the rest is as acknowledged: compare without it */
    if (legs >= 0 && legs != 3) {
        request(c, E2E_H1, "DELETE", "/v1/feeds/recov2", TOKEN_ALL, NULL, NULL, 0, &r);
        jres_free(&r);
        generation_moved(c);
    }
    check_model(c, E2E_H1, "after a restart with a corrupt base");
}

/* ---------------------------------------------------------------- main */

/* docs/api.md "Order" and "Paging": pages of GRU->LIS (limit 3) walked while pushes publish new
 * generations. Page 1; a new source that sorts before every other and a leg on another route;
 * page 2; a delta removing the leg of the cursor's own result and adding tied legs before and
 * after it; then every page to the end. Each page must be the model's next results strictly after
 * the previous page's last one, in the order the model computes (xres_cmp), whatever the
 * generation. The legs of source "rank" cost 1000 miles (below any other leg) and leave at the
 * same instant: they tie, and only their fields order them (2X < G3 < TP, 9 < 10 < 12 < 100,
 * economy before business). */
#define RANK_PAGE "/v1/search?origin=GRU&destination=LIS&start_date=2026-12-01&end_date=2026-12-20&limit=3"

/* One page; its ids into ids[] (count returned, -1 on failure), its next_cursor into cursor. */
static int rank_page(ctx_t *c, char cursor[512], char ids[3][128])
{
    char url[1200];
    snprintf(url, sizeof(url), "%s" RANK_PAGE "%s%s", c->srv.url, cursor[0] ? "&cursor=" : "", cursor);
    e2e_response_t res;
    if (e2e_get(&c->client[E2E_H1], E2E_H1, url, "Accept: application/msgpack", &res) != 0 || res.status != 200) {
        CHECK(!"a page answered 200");
        fprintf(stderr, "  paging: %s: status %ld %.300s\n", url, res.status, res.body ? res.body : "");
        e2e_response_free(&res);
        return -1;
    }
    e2e_mp_t doc;
    int ok = e2e_mp_parse(&doc, res.body, res.body_len) == 0;
    e2e_response_free(&res);
    CHECK(ok);
    if (!ok)
        return -1;
    const msgpack_object_array *results = e2e_mp_array(doc.root, "results");
    int n = results != NULL && results->size <= 3 ? (int)results->size : -1;
    CHECK(n >= 0);
    for (int i = 0; i < n; i++)
        if (e2e_mp_str(&results->ptr[i], "id", ids[i], 128) == NULL)
            ids[i][0] = '\0';
    if (e2e_mp_str(doc.root, "next_cursor", cursor, 512) == NULL)
        cursor[0] = '\0'; /* null on the last page */
    e2e_mp_free(&doc);
    return n;
}

/* The model's results strictly after `after` (NULL: from the first), at most 3, into out;
 * returns how many there are in all after it. */
static size_t rank_expected(const xres_t *after, xres_t *out, size_t *in_page)
{
    static xres_t x[MAX_SOURCES * MAX_LEGS * E2E_CABINS];
    size_t n = model_results("GRU", "LIS", x), k = 0, rest = 0;
    for (size_t i = 0; i < n; i++) {
        if (after != NULL && xres_cmp(&x[i], after) <= 0)
            continue;
        if (k < 3)
            out[k++] = x[i];
        rest++;
    }
    *in_page = k;
    return rest;
}

static void test_paging_across_pushes(ctx_t *c)
{
    mleg_t legs[5] = {
        mkleg("TP", 12, "GRU", "LIS", 3, 9, 0, 600, 1000, 5, "BRL", 1000), mkleg("TP", 9, "GRU", "LIS", 3, 9, 0, 600, 1000, 5, "BRL", 1000),
        mkleg("TP", 100, "GRU", "LIS", 3, 9, 0, 600, 1000, 5, "BRL", 1000), mkleg("G3", 12, "GRU", "LIS", 3, 9, 0, 600, 1000, 5, "BRL", 1000),
        mkleg("2X", 5, "GRU", "LIS", 3, 9, 0, 600, 1000, 5, "BRL", 1000),
    };
    feed_t f = snapshot("rank", 1, legs, 5);
    push_ok(c, E2E_H1, &f, 0, TOKEN_ALL);
    check_model(c, E2E_H1, "after source rank's snapshot");

    /* the place of the last result of the previous page, kept apart from the model, which the
     * pushes change */
    static msrc_t last_src;
    static mleg_t last_leg;
    static xres_t last;
    int have_last = 0;
    char cursor[512] = "", ids[3][128];
    /* hand-worked: the first two pages */
    static const char *const first_pages[6] = {"rank-2X5-GRU-20261203-Y", "rank-2X5-GRU-20261203-J", "rank-G312-GRU-20261203-Y",
                                               "rank-G312-GRU-20261203-J", "rank-TP9-GRU-20261203-Y", "rank-TP9-GRU-20261203-J"};
    for (int pageno = 0; pageno < 60; pageno++) {
        if (pageno == 1) {
            /* changes elsewhere: a source sorting first (other route), a leg on another route */
            mleg_t other = mkleg("AA", 1, "JFK", "LHR", 3, 9, 0, 420, 1000, 5, "USD", 0);
            f = snapshot("0rank", 1, &other, 1);
            push_ok(c, E2E_H1, &f, 1, TOKEN_ALL);
            mleg_t lhr = mkleg("TP", 300, "LHR", "LIS", 3, 9, 0, 150, 1000, 5, "GBP", 0);
            f = delta("rank", 2, &lhr, 1, NULL, 0);
            push_ok(c, E2E_H1, &f, 0, TOKEN_ALL);
        } else if (pageno == 2) {
            /* the route itself: TP9 (the cursor's own leg) gone, TP7 (before it) and TP10 (after) new */
            mleg_t ups[2] = {mkleg("TP", 7, "GRU", "LIS", 3, 9, 0, 600, 1000, 5, "BRL", 1000),
                             mkleg("TP", 10, "GRU", "LIS", 3, 9, 0, 600, 1000, 5, "BRL", 1000)};
            rm_t rm = rm_of(&legs[1]);
            f = delta("rank", 3, ups, 2, &rm, 1);
            push_ok(c, E2E_H1, &f, 1, TOKEN_ALL);
        }
        xres_t want[3];
        size_t k, rest = rank_expected(have_last ? &last : NULL, want, &k);
        int n = rank_page(c, cursor, ids);
        if (n < 0)
            break;
        CHECK_EQ_INT(n, k);
        for (int i = 0; i < n && (size_t)i < k; i++) {
            CHECK_EQ_STR(ids[i], want[i].id);
            if (pageno < 2)
                CHECK_EQ_STR(ids[i], first_pages[pageno * 3 + i]);
            if (strcmp(ids[i], want[i].id) != 0)
                fprintf(stderr, "  paging: page %d, result %d: got %s, the model says %s\n", pageno, i, ids[i], want[i].id);
        }
        if (pageno == 2 && k > 0)
            CHECK_EQ_STR(want[0].id, "rank-TP10-GRU-20261203-Y"); /* TP7 and the removed TP9 are before the cursor */
        CHECK_EQ_INT(cursor[0] != '\0', rest > k);
        if (cursor[0] == '\0' || k == 0)
            break;
        last = want[k - 1];
        last_src = *last.src;
        last_leg = *last.leg;
        last.src = &last_src;
        last.leg = &last_leg;
        have_last = 1;
    }
    CHECK_EQ_INT(cursor[0], '\0'); /* walked to the last page */
    check_model(c, E2E_H1, "after paging across pushes");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH-TO-flightsearch\n", argv[0]);
        return 2;
    }
    binary = argv[1];
    test_started = time(NULL);
    started_ms = e2e_now_ms();
    signal(SIGPIPE, SIG_IGN);
    e2e_http_init();
    data_init();

    char tmp[256];
    if (e2e_tmpdir(tmp, sizeof(tmp)) != 0) {
        fprintf(stderr, "cannot create a temp dir\n");
        return 1;
    }
    static ctx_t c;
    snprintf(c.data_dir, sizeof(c.data_dir), "%s/data", tmp);
    snprintf(c.tokens_path, sizeof(c.tokens_path), "%s/tokens.txt", tmp);
    mkdir(c.data_dir, 0755);
    CHECK(write_tokens(c.tokens_path, tokens_v1) == 0);
    /* beta starts from a seed file in the data dir */
    {
        feed_t seed = snapshot("beta", 1, beta_seed, COUNT(beta_seed));
        buf_t b = {0};
        feed_json(&seed, &b);
        char path[400];
        snprintf(path, sizeof(path), "%s/beta.json", c.data_dir);
        CHECK(e2e_write_file(path, b.p, b.len) == 0);
        bfree(&b);
        size_t up, rm;
        model_apply(&seed, &up, &rm);
    }
    if (start_main(&c) != 0) {
        CHECK(!"the server starts with --tokens");
        e2e_rmtree(tmp);
        TEST_DONE();
    }

    phase("snapshots and deltas");
    test_snapshots(&c);
    test_deltas(&c);
    test_duplicates_and_stale(&c);
    phase("refusals");
    test_invalid(&c, E2E_H1);
    test_malformed(&c, E2E_H1);
    test_refusals(&c, E2E_H1);
    test_status(&c, E2E_H1);
    phase("h2");
    test_h2(&c);
    test_invalid(&c, E2E_H2);
    test_malformed(&c, E2E_H2);
    test_refusals(&c, E2E_H2);
    test_status(&c, E2E_H2);
    phase("without --tokens");
    test_feeds_disabled(tmp);
    phase("SIGHUP");
    test_sighup(&c);
    phase("spool");
    test_spool(&c);
    phase("DELETE");
    test_delete(&c);
    test_more_sources(&c);
    phase("restart, kill -9");
    test_restart(&c, "after SIGTERM and a restart");
    phase("kill -9");
    test_kill9(&c);
    phase("concurrency");
    test_concurrency(&c);
    test_restart(&c, "after the concurrent pushes, SIGTERM and a restart");
    phase("damaged files");
    test_recovery(&c);
    phase("paging across pushes");
    test_paging_across_pushes(&c);

    for (int p = 0; p < E2E_PROTO_COUNT; p++)
        e2e_client_free(&c.client[p]);
    CHECK_EQ_INT(stop_main(&c), 0);
    e2e_rmtree(tmp);
    curl_global_cleanup();
    TEST_DONE();
}
