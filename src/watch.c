/*
 * src/watch.c: the watch engine (see src/watch.h for the contract and the evaluation rules).
 *
 * Storage. A watch's matching set is an array of entries sorted by (day, result id); an entry is
 * one allocation holding the id and the result's JSON. Recomputing days [d0, d1] replaces the
 * entries of those days, found by binary search, with the search's answer sorted the same way; the
 * diff of the two sorted runs gives the events.
 *
 * The route index: a nonstop watch is listed under each (origin, destination) pair it names, in a
 * hash table of routes, so a change looks only at the watches on its own route (with a million
 * watches, listing them by origin alone made a 10,000-leg delta visit 1.4M of them, 17 ms of
 * cache misses); a 1-stop watch is listed under each origin and each destination it names, a
 * vector of watch pointers per airport, FS_AIRPORT_COUNT of each.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <ck_pr.h>
#include "src/internal.h"
#include "src/watch.h"
#include "src/webhook.h"

/* Bytes of n pointers: the engine's arrays (entries, watches) hold pointers. */
#define PTRS(n) ((size_t)(n) * sizeof(void *))

/* ------------------------------------------------------------ entries */

typedef struct entry {
    int32_t day;
    uint32_t miles;
    uint64_t taxes_cents;
    fs_currency_t currency;
    uint16_t id_len;
    uint32_t json_len;
    char text[]; /* id, NUL, json, NUL */
} entry_t;

static const char *entry_json(const entry_t *e)
{
    return e->text + e->id_len + 1;
}

static int entry_cmp(const entry_t *a, const entry_t *b)
{
    if (a->day != b->day)
        return a->day < b->day ? -1 : 1;
    return strcmp(a->text, b->text);
}

static int entry_qcmp(const void *pa, const void *pb)
{
    return entry_cmp(*(const entry_t *const *)pa, *(const entry_t *const *)pb);
}

static entry_t *entry_new(const fs_result_t *r)
{
    char id[FS_ID_MAX];
    size_t id_len = fs_result_id(r, id);
    fs_enc_t e;
    fs_enc_init(&e, FS_ENC_JSON, NULL, 1024);
    fs_enc_search_result(&e, r, FS_FIELDS_ALL);
    h2o_iovec_t json = fs_enc_result(&e);
    entry_t *en = json.base != NULL ? malloc(sizeof(*en) + id_len + 1 + json.len + 1) : NULL;
    if (en != NULL) {
        en->day = r->leg->day;
        en->miles = r->miles;
        en->taxes_cents = r->taxes_cents;
        en->currency = r->currency;
        en->id_len = (uint16_t)id_len;
        en->json_len = (uint32_t)json.len;
        memcpy(en->text, id, id_len);
        en->text[id_len] = '\0';
        memcpy(en->text + id_len + 1, json.base, json.len);
        en->text[id_len + 1 + json.len] = '\0';
    }
    fs_enc_dispose(&e);
    return en;
}

/* ------------------------------------------------------------ watches */

/*
 * A watch keeps its criteria packed: the fixed fields, then in `codes` its origins, destinations
 * and carriers, then its source names (each NUL-terminated). The parsed form,
 * fs_watch_criteria_t, is 912 bytes of mostly empty slots (32 airports each way, 16 source names
 * of 33 bytes, a cursor); a watch on one route packs into 4 bytes of codes. watch_criteria()
 * rebuilds the parsed form where a search or an answer needs it. The days an evaluation must
 * recompute live in the engine's scratch (`dirty`), not in every watch.
 */
typedef struct watch {
    uint64_t id;
    uint64_t last_event_id;
    int64_t created_at;
    entry_t **set;
    uint32_t count, cap;
    uint32_t owner;     /* fs_watches_owner's handle */
    uint32_t max_miles; /* 0: no limit */
    int32_t start_day, end_day;
    uint32_t slot;      /* during an evaluation: 1 + its index in `affected` (0: not queued) */
    uint8_t cabin;      /* FS_CABIN_*, or CABIN_ANY */
    uint8_t seats, max_stops, notify;
    uint8_t origin_count, destination_count, carrier_count, source_count;
    char *webhook;      /* NULL, or the url, NUL, the secret, NUL: one allocation */
    uint16_t codes[];   /* origins, destinations, carriers; then the source names */
} watch_t;

#define DIRTY_BYTES ((FS_WATCH_MAX_DAYS + 7) / 8) /* one watch's days as a bitmap */
#define CABIN_ANY 0xffu                           /* a watch's cabin when the query's is -1 */

static const fs_airport_t *watch_origins(const watch_t *w)
{
    return w->codes;
}

static const fs_airport_t *watch_destinations(const watch_t *w)
{
    return w->codes + w->origin_count;
}

static const char *watch_sources(const watch_t *w)
{
    return (const char *)(w->codes + w->origin_count + w->destination_count + w->carrier_count);
}

static const char *watch_webhook_secret(const watch_t *w)
{
    return w->webhook + strlen(w->webhook) + 1;
}

/* A packed watch of c's criteria (no id, no set), or NULL without memory. */
static watch_t *watch_pack(const fs_watch_criteria_t *c)
{
    const fs_search_query_t *q = &c->q;
    size_t names = 0;
    for (unsigned i = 0; i < q->source_count; i++)
        names += strlen(q->sources[i]) + 1;
    size_t ncodes = (size_t)q->origin_count + q->destination_count + q->carrier_count;
    watch_t *w = calloc(1, sizeof(*w) + ncodes * sizeof(uint16_t) + names);
    if (w == NULL)
        return NULL;
    if (c->webhook_url != NULL) {
        size_t ul = strlen(c->webhook_url), sl = strlen(c->webhook_secret);
        if ((w->webhook = malloc(ul + sl + 2)) == NULL) {
            free(w);
            return NULL;
        }
        memcpy(w->webhook, c->webhook_url, ul + 1);
        memcpy(w->webhook + ul + 1, c->webhook_secret, sl + 1);
    }
    w->max_miles = c->max_miles;
    w->notify = (uint8_t)c->notify;
    w->start_day = q->start_day;
    w->end_day = q->end_day;
    w->cabin = q->cabin < 0 ? CABIN_ANY : (uint8_t)q->cabin;
    w->seats = (uint8_t)q->seats;
    w->max_stops = (uint8_t)q->max_stops;
    w->origin_count = (uint8_t)q->origin_count;
    w->destination_count = (uint8_t)q->destination_count;
    w->carrier_count = (uint8_t)q->carrier_count;
    w->source_count = (uint8_t)q->source_count;
    uint16_t *code = w->codes;
    for (unsigned i = 0; i < q->origin_count; i++)
        *code++ = q->origins[i];
    for (unsigned i = 0; i < q->destination_count; i++)
        *code++ = q->destinations[i];
    for (unsigned i = 0; i < q->carrier_count; i++)
        *code++ = q->carriers[i];
    char *name = (char *)code;
    for (unsigned i = 0; i < q->source_count; i++) {
        size_t n = strlen(q->sources[i]) + 1;
        memcpy(name, q->sources[i], n);
        name += n;
    }
    return w;
}

/* The parsed criteria of w, as fs_watch_parse made them (webhook url and secret point into w). */
static void watch_criteria(const watch_t *w, fs_watch_criteria_t *out)
{
    memset(out, 0, sizeof(*out));
    fs_search_query_t *q = &out->q;
    fs_search_query_init(q);
    q->start_day = w->start_day;
    q->end_day = w->end_day;
    q->cabin = w->cabin == CABIN_ANY ? -1 : (int)w->cabin;
    q->seats = w->seats;
    q->max_stops = w->max_stops;
    const uint16_t *code = w->codes;
    for (q->origin_count = 0; q->origin_count < w->origin_count; q->origin_count++)
        q->origins[q->origin_count] = *code++;
    for (q->destination_count = 0; q->destination_count < w->destination_count; q->destination_count++)
        q->destinations[q->destination_count] = *code++;
    for (q->carrier_count = 0; q->carrier_count < w->carrier_count; q->carrier_count++)
        q->carriers[q->carrier_count] = *code++;
    const char *name = (const char *)code;
    for (q->source_count = 0; q->source_count < w->source_count; q->source_count++) {
        size_t n = strlen(name);
        memcpy(q->sources[q->source_count], name, n + 1);
        name += n + 1;
    }
    out->max_miles = w->max_miles;
    out->notify = w->notify;
    if (w->webhook != NULL) {
        out->webhook_url = w->webhook;
        out->webhook_secret = (char *)watch_webhook_secret(w);
    }
}

/* fs_query_wants_source over the packed names. */
static int watch_wants_source(const watch_t *w, const char *source)
{
    if (w->source_count == 0)
        return 1;
    const char *name = watch_sources(w);
    for (unsigned i = 0; i < w->source_count; i++, name += strlen(name) + 1)
        if (strcmp(name, source) == 0)
            return 1;
    return 0;
}

typedef struct watch_vec {
    watch_t **v;
    unsigned n, cap;
} watch_vec_t;

/* A route's nonstop watches; key 0: an empty slot. */
typedef struct route_watches {
    uint32_t key; /* 1 + (origin << 16 | destination) */
    watch_vec_t v;
} route_watches_t;

typedef struct event {
    uint64_t id, watch_id;
    uint32_t owner;
    char *json;
    size_t len;
} event_t;

struct fs_watches {
    fs_index_t *idx;
    pthread_mutex_t mu;     /* the registry: watches, their sets, the route index; held while evaluating */
    pthread_mutex_t log_mu; /* the log only (taken inside mu), so streams never wait for an evaluation */
    watch_t **watches; /* sorted by id */
    unsigned count, cap;
    uint64_t next_id;
    watch_vec_t *by_origin;      /* FS_AIRPORT_COUNT; 1-stop watches only */
    watch_vec_t *by_destination; /* FS_AIRPORT_COUNT; 1-stop watches only */
    route_watches_t *by_route;   /* nonstop watches: open addressing, by_route_cap a power of two */
    unsigned by_route_cap, by_route_used;
    watch_t **affected;          /* scratch: FS_WATCH_MAX */
    uint8_t *dirty;              /* scratch: DIRTY_BYTES per affected watch, dirty_cap of them */
    unsigned dirty_cap;
    fs_result_t *results;        /* scratch: FS_SEARCH_MAX_LIMIT */
    event_t log[FS_WATCH_LOG_EVENTS];
    uint64_t last_event_id;      /* the log holds ids [max(first_event_id, last - N + 1), last] */
    uint64_t first_event_id;     /* this run's first id (1, or above the floor of a stored run) */
    void (*on_events)(void *arg, uint64_t last_id);
    void *on_events_arg;
    pthread_t thread;
    int started, stop;
    int stop_pipe[2];
    fs_subscription_t *sub;
    char store_path[4096];       /* DATA_DIR/watches ("" : not persisted) */
    /* owners' names by handle (0: ""), and how many watches each holds; append-only, under
     * owner_mu (taken inside mu, never around it) so a stream can resolve its owner at any time */
    pthread_mutex_t owner_mu;
    char **owner_names;
    unsigned *owner_watches;
    uint32_t owner_count, owner_cap;
    uint64_t id_floor;           /* event ids below it may have been used by an earlier run */
    fs_webhooks_t *hooks;        /* deliveries of the watches with a webhook (NULL: none, the tests) */
};

static int64_t now_unix(void)
{
    return (int64_t)time(NULL);
}

static int vec_add(watch_vec_t *v, watch_t *w)
{
    if (v->n == v->cap) {
        unsigned cap = v->cap ? v->cap * 2 : 1; /* most routes have one watch */
        watch_t **nv = realloc(v->v, PTRS(cap));
        if (nv == NULL)
            return FS_ENOMEM;
        v->v = nv;
        v->cap = cap;
    }
    for (unsigned i = 0; i < v->n; i++) /* an airport named twice (a city and one of its airports) */
        if (v->v[i] == w)
            return 0;
    v->v[v->n++] = w;
    return 0;
}

static void vec_remove(watch_vec_t *v, const watch_t *w)
{
    for (unsigned i = 0; i < v->n; i++)
        if (v->v[i] == w) {
            v->v[i] = v->v[--v->n];
            return;
        }
}

static uint32_t route_key(fs_airport_t origin, fs_airport_t destination)
{
    return 1u + ((uint32_t)origin << 16 | destination);
}

/* The slot of key in the table, or the empty slot where it would go. */
static route_watches_t *route_slot(route_watches_t *table, unsigned cap, uint32_t key)
{
    unsigned i = (key * 2654435761u) & (cap - 1);
    while (table[i].key != 0 && table[i].key != key)
        i = (i + 1) & (cap - 1);
    return &table[i];
}

/* The nonstop watches of a route, or NULL (with create: a new empty entry, NULL without memory).
 * Entries are never removed: a route keeps its (possibly empty) vector while the engine lives. */
static watch_vec_t *route_watches(fs_watches_t *ws, fs_airport_t origin, fs_airport_t destination, int create)
{
    uint32_t key = route_key(origin, destination);
    if (ws->by_route_cap != 0) {
        route_watches_t *r = route_slot(ws->by_route, ws->by_route_cap, key);
        if (r->key == key)
            return &r->v;
    }
    if (!create)
        return NULL;
    if ((ws->by_route_used + 1) * 10 > ws->by_route_cap * 7) { /* grow past 70% full */
        unsigned cap = ws->by_route_cap ? ws->by_route_cap * 2 : 1024;
        route_watches_t *t = calloc(cap, sizeof(*t));
        if (t == NULL)
            return NULL;
        for (unsigned i = 0; i < ws->by_route_cap; i++)
            if (ws->by_route[i].key != 0)
                *route_slot(t, cap, ws->by_route[i].key) = ws->by_route[i];
        free(ws->by_route);
        ws->by_route = t;
        ws->by_route_cap = cap;
    }
    route_watches_t *r = route_slot(ws->by_route, ws->by_route_cap, key);
    r->key = key;
    ws->by_route_used++;
    return &r->v;
}

/* Lists w in the route index (see the top of this file); all or nothing. */
static void index_remove(fs_watches_t *ws, watch_t *w);
static int index_add(fs_watches_t *ws, watch_t *w)
{
    const fs_airport_t *origins = watch_origins(w), *destinations = watch_destinations(w);
    int rc = 0;
    for (unsigned i = 0; i < w->origin_count && rc == 0; i++) {
        if (w->max_stops > 0) {
            rc = vec_add(&ws->by_origin[origins[i]], w);
            continue;
        }
        for (unsigned k = 0; k < w->destination_count && rc == 0; k++) {
            watch_vec_t *v = route_watches(ws, origins[i], destinations[k], 1);
            rc = v != NULL ? vec_add(v, w) : FS_ENOMEM;
        }
    }
    for (unsigned i = 0; w->max_stops > 0 && i < w->destination_count && rc == 0; i++)
        rc = vec_add(&ws->by_destination[destinations[i]], w);
    if (rc != 0)
        index_remove(ws, w);
    return rc;
}

static void index_remove(fs_watches_t *ws, watch_t *w)
{
    const fs_airport_t *origins = watch_origins(w), *destinations = watch_destinations(w);
    for (unsigned i = 0; i < w->origin_count; i++) {
        if (w->max_stops > 0) {
            vec_remove(&ws->by_origin[origins[i]], w);
            continue;
        }
        for (unsigned k = 0; k < w->destination_count; k++) {
            watch_vec_t *v = route_watches(ws, origins[i], destinations[k], 0);
            if (v != NULL)
                vec_remove(v, w);
        }
    }
    for (unsigned i = 0; w->max_stops > 0 && i < w->destination_count; i++)
        vec_remove(&ws->by_destination[destinations[i]], w);
}

fs_watches_t *fs_watches_new(fs_index_t *idx)
{
    fs_watches_t *ws = calloc(1, sizeof(*ws));
    if (ws == NULL)
        return NULL;
    ws->idx = idx;
    ws->next_id = 1;
    ws->first_event_id = 1;
    ws->stop_pipe[0] = ws->stop_pipe[1] = -1;
    pthread_mutex_init(&ws->mu, NULL);
    pthread_mutex_init(&ws->log_mu, NULL);
    pthread_mutex_init(&ws->owner_mu, NULL);
    ws->by_origin = calloc(FS_AIRPORT_COUNT, sizeof(watch_vec_t));
    ws->by_destination = calloc(FS_AIRPORT_COUNT, sizeof(watch_vec_t));
    ws->results = malloc(FS_SEARCH_MAX_LIMIT * sizeof(fs_result_t));
    if (ws->by_origin == NULL || ws->by_destination == NULL || ws->results == NULL ||
        fs_watches_owner(ws, "") != 0) {
        fs_watches_free(ws);
        return NULL;
    }
    return ws;
}

static void watch_free(watch_t *w)
{
    free(w->webhook);
    for (size_t i = 0; i < w->count; i++)
        free(w->set[i]);
    free(w->set);
    free(w);
}

void fs_watches_free(fs_watches_t *ws)
{
    if (ws == NULL)
        return;
    if (ws->started) {
        ck_pr_store_int(&ws->stop, 1);
        ssize_t rc = write(ws->stop_pipe[1], "x", 1);
        (void)rc;
        pthread_join(ws->thread, NULL);
        fs_index_unsubscribe(ws->idx, ws->sub);
    }
    if (ws->stop_pipe[0] >= 0) {
        close(ws->stop_pipe[0]);
        close(ws->stop_pipe[1]);
    }
    for (unsigned i = 0; i < ws->count; i++)
        watch_free(ws->watches[i]);
    free(ws->watches);
    for (unsigned a = 0; ws->by_origin != NULL && a < FS_AIRPORT_COUNT; a++)
        free(ws->by_origin[a].v);
    for (unsigned a = 0; ws->by_destination != NULL && a < FS_AIRPORT_COUNT; a++)
        free(ws->by_destination[a].v);
    free(ws->by_origin);
    free(ws->by_destination);
    for (unsigned i = 0; i < ws->by_route_cap; i++)
        free(ws->by_route[i].v.v);
    free(ws->by_route);
    free(ws->affected);
    free(ws->dirty);
    free(ws->results);
    for (unsigned i = 0; i < FS_WATCH_LOG_EVENTS; i++)
        free(ws->log[i].json);
    for (uint32_t i = 0; i < ws->owner_count; i++)
        free(ws->owner_names[i]);
    free(ws->owner_names);
    free(ws->owner_watches);
    pthread_mutex_destroy(&ws->mu);
    pthread_mutex_destroy(&ws->log_mu);
    pthread_mutex_destroy(&ws->owner_mu);
    free(ws);
}

uint32_t fs_watches_owner(fs_watches_t *ws, const char *name)
{
    pthread_mutex_lock(&ws->owner_mu);
    uint32_t h = 0; /* owners are few (one per key name): a scan is enough */
    while (h < ws->owner_count && strcmp(ws->owner_names[h], name) != 0)
        h++;
    if (h == ws->owner_count) {
        if (ws->owner_count == ws->owner_cap) {
            uint32_t cap = ws->owner_cap ? ws->owner_cap * 2 : 8;
            char **nn = realloc(ws->owner_names, PTRS(cap));
            if (nn != NULL)
                ws->owner_names = nn;
            unsigned *nw = nn != NULL ? realloc(ws->owner_watches, cap * sizeof(unsigned)) : NULL;
            if (nw != NULL) {
                ws->owner_watches = nw;
                ws->owner_cap = cap;
            }
        }
        char *copy = ws->owner_count < ws->owner_cap ? strdup(name) : NULL;
        if (copy == NULL) {
            h = FS_WATCH_ANY_OWNER;
        } else {
            ws->owner_names[h] = copy;
            ws->owner_watches[h] = 0;
            ws->owner_count++;
        }
    }
    pthread_mutex_unlock(&ws->owner_mu);
    return h;
}

/* The name of an owner's handle (it stays valid: names are never freed). */
static const char *owner_name(fs_watches_t *ws, uint32_t h)
{
    pthread_mutex_lock(&ws->owner_mu);
    const char *name = ws->owner_names[h];
    pthread_mutex_unlock(&ws->owner_mu);
    return name;
}

static void owner_count_add(fs_watches_t *ws, uint32_t h, int delta)
{
    pthread_mutex_lock(&ws->owner_mu);
    ws->owner_watches[h] = (unsigned)((int)ws->owner_watches[h] + delta);
    pthread_mutex_unlock(&ws->owner_mu);
}

static unsigned owner_count_get(fs_watches_t *ws, uint32_t h)
{
    pthread_mutex_lock(&ws->owner_mu);
    unsigned n = ws->owner_watches[h];
    pthread_mutex_unlock(&ws->owner_mu);
    return n;
}

static watch_t *find_locked(fs_watches_t *ws, uint64_t id, unsigned *pos)
{
    unsigned lo = 0, hi = ws->count;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (ws->watches[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (pos != NULL)
        *pos = lo;
    return lo < ws->count && ws->watches[lo]->id == id ? ws->watches[lo] : NULL;
}

/* ------------------------------------------------------------ durability
 *
 * DATA_DIR/watches holds every watch, one a line: `watch ID CREATED_AT [owner=NAME ]BODY` (BODY: the
 * criteria as a POST body, one line of JSON; no owner: the owner ""), after a first line
 * `events FLOOR`. Each add or delete rewrites it
 * (temp file, fsync, rename, fsync of the directory, as the feeds' files), before the registry
 * changes: an acknowledged watch is durable, and a failed write leaves the previous state.
 *
 * Event ids increase across restarts without a write per event: the file records a floor, the
 * next run's first id is above it, and each time ids pass it a new floor FS_WATCH_ID_STEP higher is
 * written. Matching sets are not stored: they are recomputed at start from the restored index.
 */
#define FS_WATCH_ID_STEP (1u << 20)

static int fsync_parent(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        snprintf(dir, sizeof(dir), ".");
    else
        *slash = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

/* 0, or -1 when the body could not be encoded or written. */
static int write_body(FILE *f, const fs_watch_criteria_t *c)
{
    fs_enc_t e;
    fs_enc_init(&e, FS_ENC_JSON, NULL, 512);
    fs_watch_encode_body(&e, c);
    h2o_iovec_t doc = fs_enc_result(&e);
    int rc = doc.base != NULL && fwrite(doc.base, 1, doc.len, f) == doc.len ? 0 : -1;
    fs_enc_dispose(&e);
    return rc;
}

/* Parses a decimal number at *p (digits only, an optional '-' when is_signed) followed by one
 * space or the end; advances *p past it. 0 or -1. */
static int read_number(const char **p, int is_signed, long long *out)
{
    const char *s = *p;
    int neg = is_signed && *s == '-';
    s += neg;
    if (*s < '0' || *s > '9')
        return -1;
    unsigned long long v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (unsigned long long)INT64_MAX / 10)
            return -1;
        v = v * 10 + (unsigned long long)(*s - '0');
    }
    if (v > (unsigned long long)INT64_MAX || (*s != ' ' && *s != '\n' && *s != '\0'))
        return -1;
    *out = neg ? -(long long)v : (long long)v;
    *p = *s == ' ' ? s + 1 : s;
    return 0;
}

/* Reads an optional `owner=NAME ` at *p (a key's name: [A-Za-z0-9_.-]{1,64}) into *owner. 0 or -1. */
static int read_owner(fs_watches_t *ws, const char **p, uint32_t *owner)
{
    if (strncmp(*p, "owner=", 6) != 0)
        return 0;
    const char *s = *p + 6, *end = strchr(s, ' ');
    char name[65];
    if (end == NULL || end == s || end - s > 64)
        return -1;
    memcpy(name, s, (size_t)(end - s));
    name[end - s] = '\0';
    *owner = fs_watches_owner(ws, name);
    *p = end + 1;
    return *owner == FS_WATCH_ANY_OWNER ? -1 : 0;
}

/* Writes the file as the registry would be with extra added (may be NULL) and skip_id (0: none)
 * removed, and the given floor. 0 or FS_EIO. Under mu. */
static int persist_locked(fs_watches_t *ws, const watch_t *extra, uint64_t skip_id, uint64_t floor)
{
    if (ws->store_path[0] == '\0')
        return 0;
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", ws->store_path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600); /* it holds webhook secrets */
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL) {
        if (fd >= 0)
            close(fd);
        return FS_EIO;
    }
    fprintf(f, "events %llu\n", (unsigned long long)floor);
    int bad_body = 0;
    for (unsigned i = 0; i <= ws->count; i++) {
        const watch_t *w = i < ws->count ? ws->watches[i] : extra;
        if (w == NULL || w->id == skip_id)
            continue;
        fprintf(f, "watch %llu %lld ", (unsigned long long)w->id, (long long)w->created_at);
        if (w->owner != 0)
            fprintf(f, "owner=%s ", owner_name(ws, w->owner));
        fs_watch_criteria_t c;
        watch_criteria(w, &c);
        if (write_body(f, &c) != 0)
            bad_body = 1;
        fputc('\n', f);
    }
    int bad = bad_body || fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, ws->store_path) != 0 || fsync_parent(ws->store_path) != 0) {
        unlink(tmp);
        return FS_EIO;
    }
    ws->id_floor = floor;
    return 0;
}

/* ------------------------------------------------------------ recompute */

/* The events one watch gets from one recomputation, built as JSON as the diff goes. */
typedef struct event_builder {
    fs_enc_t e;
    unsigned changes;
} event_builder_t;

static void eb_change(event_builder_t *b, const char *kind, const entry_t *en, const entry_t *previous)
{
    if (b->changes++ == 0) {
        fs_enc_init(&b->e, FS_ENC_JSON, NULL, 2048);
        fs_enc_array_begin(&b->e);
    }
    fs_enc_map_begin(&b->e);
    fs_enc_key_lit(&b->e, "kind");
    fs_enc_cstr(&b->e, kind);
    fs_enc_key_lit(&b->e, "result");
    fs_enc_raw_json(&b->e, entry_json(en), en->json_len);
    if (previous != NULL) {
        char cur[4];
        fs_enc_key_lit(&b->e, "previous");
        fs_enc_map_begin(&b->e);
        fs_enc_key_lit(&b->e, "miles");
        fs_enc_uint(&b->e, previous->miles);
        fs_enc_key_lit(&b->e, "taxes_cents");
        fs_enc_uint(&b->e, previous->taxes_cents);
        fs_enc_key_lit(&b->e, "currency");
        fs_currency_format(previous->currency, cur);
        fs_enc_str(&b->e, cur, 3);
        fs_enc_map_end(&b->e);
    }
    fs_enc_map_end(&b->e);
}

/* Runs the watch's search over [d0, d1] on gen, all pages; appends matching entries to *out. */
static int search_days(fs_watches_t *ws, const fs_generation_t *gen, const watch_t *w, int32_t d0, int32_t d1, entry_t ***out,
                       size_t *n, size_t *cap)
{
    fs_watch_criteria_t c;
    watch_criteria(w, &c);
    fs_search_query_t q = c.q;
    q.start_day = d0;
    q.end_day = d1;
    q.limit = FS_SEARCH_MAX_LIMIT;
    q.sort = FS_SORT_MILES;
    q.deadline_us = 0;
    q.cursor.present = 0;
    for (;;) {
        fs_search_result_t res;
        if (fs_search(gen, &q, ws->results, &res) != 0)
            return FS_ENOMEM;
        for (unsigned i = 0; i < res.count; i++) {
            const fs_result_t *r = &ws->results[i];
            if (w->max_miles != 0 && r->miles > w->max_miles)
                continue;
            if (*n == *cap) {
                size_t nc = *cap ? *cap * 2 : 16;
                entry_t **nv = realloc(*out, PTRS(nc));
                if (nv == NULL)
                    return FS_ENOMEM;
                *out = nv;
                *cap = nc;
            }
            entry_t *en = entry_new(r);
            if (en == NULL)
                return FS_ENOMEM;
            (*out)[(*n)++] = en;
        }
        if (!res.has_more || res.count == 0)
            return 0;
        fs_cursor_at(&ws->results[res.count - 1], &q.cursor);
    }
}

/* First index in w->set whose day is >= day. */
static size_t lower_day(const watch_t *w, int32_t day)
{
    size_t lo = 0, hi = w->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (w->set[mid]->day < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/*
 * Replaces the entries of days [d0, d1] with a fresh search and records the differences in b.
 * On ENOMEM the watch keeps its old entries for those days.
 */
static int recompute(fs_watches_t *ws, const fs_generation_t *gen, watch_t *w, int32_t d0, int32_t d1, event_builder_t *b)
{
    entry_t **fresh = NULL;
    size_t n = 0, cap = 0;
    int rc = search_days(ws, gen, w, d0, d1, &fresh, &n, &cap);
    if (rc != 0) {
        for (size_t i = 0; i < n; i++)
            free(fresh[i]);
        free(fresh);
        return rc;
    }
    if (n > 1)
        qsort(fresh, n, sizeof(void *), entry_qcmp);
    size_t lo = lower_day(w, d0), hi = lower_day(w, d1 + 1), old_n = hi - lo;
    size_t new_count = w->count - old_n + n;
    if (new_count > w->cap) {
        size_t nc = w->cap ? w->cap : 16;
        while (nc < new_count)
            nc *= 2;
        entry_t **nv = realloc(w->set, PTRS(nc));
        if (nv == NULL) {
            for (size_t i = 0; i < n; i++)
                free(fresh[i]);
            free(fresh);
            return FS_ENOMEM;
        }
        w->set = nv;
        w->cap = nc;
    }
    /* diff the two sorted runs */
    size_t i = lo, j = 0;
    unsigned notify = w->notify;
    while (i < hi || j < n) {
        int c = i >= hi ? 1 : j >= n ? -1 : entry_cmp(w->set[i], fresh[j]);
        if (c < 0) {
            if (notify & FS_WATCH_CLOSED)
                eb_change(b, "closed", w->set[i], NULL);
            i++;
        } else if (c > 0) {
            if (notify & FS_WATCH_OPENED)
                eb_change(b, "opened", fresh[j], NULL);
            j++;
        } else {
            const entry_t *o = w->set[i], *f = fresh[j];
            if ((notify & FS_WATCH_REPRICED) &&
                (o->miles != f->miles || o->taxes_cents != f->taxes_cents || o->currency != f->currency))
                eb_change(b, "repriced", f, o);
            i++, j++;
        }
    }
    for (size_t k = lo; k < hi; k++)
        free(w->set[k]);
    if (w->count > hi)
        memmove(w->set + lo + n, w->set + hi, PTRS(w->count - hi));
    if (n > 0)
        memcpy(w->set + lo, fresh, PTRS(n));
    w->count = new_count;
    free(fresh);
    return 0;
}

static void log_append_locked(fs_watches_t *ws, watch_t *w, const fs_generation_t *gen, const char *source, uint64_t sequence,
                              event_builder_t *b)
{
    if (b->changes == 0)
        return;
    fs_enc_array_end(&b->e);
    h2o_iovec_t changes = fs_enc_result(&b->e);
    pthread_mutex_lock(&ws->log_mu);
    uint64_t id = ws->last_event_id + 1; /* only this thread appends (it holds mu) */
    pthread_mutex_unlock(&ws->log_mu);
    if (ws->store_path[0] != '\0' && id >= ws->id_floor && persist_locked(ws, NULL, 0, ws->id_floor + FS_WATCH_ID_STEP) != 0)
        fprintf(stderr, "flightsearch: watches: cannot write %s: %s; event ids may repeat after a restart\n", ws->store_path,
                strerror(errno));
    fs_enc_t e;
    fs_enc_init(&e, FS_ENC_JSON, NULL, changes.len + 256);
    fs_enc_map_begin(&e);
    fs_enc_key_lit(&e, "id");
    fs_enc_uint(&e, id);
    fs_enc_key_lit(&e, "watch_id");
    fs_enc_uint(&e, w->id);
    fs_enc_key_lit(&e, "generation");
    fs_enc_uint(&e, gen->number);
    fs_enc_key_lit(&e, "source");
    fs_enc_cstr(&e, source);
    fs_enc_key_lit(&e, "sequence");
    fs_enc_uint(&e, sequence);
    fs_enc_key_lit(&e, "changes");
    if (changes.base != NULL)
        fs_enc_raw_json(&e, changes.base, changes.len);
    else
        fs_enc_null(&e);
    fs_enc_map_end(&e);
    h2o_iovec_t doc = fs_enc_result(&e);
    char *json = doc.base != NULL ? malloc(doc.len + 1) : NULL;
    if (json != NULL) { /* NUL-terminated, for readers that scan it */
        memcpy(json, doc.base, doc.len);
        json[doc.len] = '\0';
        pthread_mutex_lock(&ws->log_mu);
        event_t *slot = &ws->log[id % FS_WATCH_LOG_EVENTS];
        char *old = slot->json;
        slot->id = id;
        slot->watch_id = w->id;
        slot->owner = w->owner;
        slot->json = json;
        slot->len = doc.len;
        ws->last_event_id = id;
        pthread_mutex_unlock(&ws->log_mu);
        free(old);
        w->last_event_id = id;
        if (w->webhook != NULL && ws->hooks != NULL && fs_webhooks_stage(ws->hooks, w->id, id, json, doc.len) != 0)
            fprintf(stderr, "flightsearch: webhooks: no memory to queue event %llu of watch %llu\n", (unsigned long long)id,
                    (unsigned long long)w->id);
    }
    fs_enc_dispose(&e);
    fs_enc_dispose(&b->e);
    b->changes = 0;
}

/* Recomputes the days of w set in dirty (runs of set bits; bit k is start_day + k) and logs its
 * event. */
static int evaluate_locked(fs_watches_t *ws, const fs_generation_t *gen, watch_t *w, const uint8_t *dirty, const char *source,
                           uint64_t sequence)
{
    event_builder_t b = {.changes = 0};
    int32_t span = w->end_day - w->start_day + 1;
    int rc = 0;
    for (int32_t d = 0; d < span && rc == 0; d++) {
        if (!(dirty[d / 8] & (1u << (d % 8))))
            continue;
        int32_t e = d;
        while (e + 1 < span && (dirty[(e + 1) / 8] & (1u << ((e + 1) % 8))))
            e++;
        rc = recompute(ws, gen, w, w->start_day + d, w->start_day + e, &b);
        d = e;
    }
    log_append_locked(ws, w, gen, source, sequence, &b);
    if (b.changes != 0)
        fs_enc_dispose(&b.e);
    return rc;
}

/* Marks days [d0, d1] (absolute) of w dirty, clipped to its range; queues it once, with a
 * cleared bitmap in the scratch. FS_ENOMEM when the scratch cannot grow. */
static int mark(fs_watches_t *ws, unsigned *n_affected, watch_t *w, int32_t d0, int32_t d1)
{
    if (d0 < w->start_day)
        d0 = w->start_day;
    if (d1 > w->end_day)
        d1 = w->end_day;
    if (d0 > d1)
        return 0;
    if (w->slot == 0) {
        if (*n_affected == ws->dirty_cap) {
            unsigned cap = ws->dirty_cap ? ws->dirty_cap * 2 : 64;
            uint8_t *nd = realloc(ws->dirty, (size_t)cap * DIRTY_BYTES);
            if (nd == NULL)
                return FS_ENOMEM;
            ws->dirty = nd;
            ws->dirty_cap = cap;
        }
        memset(ws->dirty + (size_t)*n_affected * DIRTY_BYTES, 0, DIRTY_BYTES);
        ws->affected[*n_affected] = w;
        w->slot = ++*n_affected;
    }
    uint8_t *dirty = ws->dirty + (size_t)(w->slot - 1) * DIRTY_BYTES;
    for (int32_t d = d0; d <= d1; d++) {
        int32_t k = d - w->start_day;
        dirty[k / 8] |= (uint8_t)(1u << (k % 8));
    }
    return 0;
}

/* Enters a read section on a generation at least min (the set is queued at commit, maybe just
 * before the swap is visible to this thread). */
static const fs_generation_t *read_at_least(fs_watches_t *ws, fs_index_thread_t *th, uint64_t min)
{
    for (;;) {
        const fs_generation_t *gen = fs_index_read_begin(ws->idx, th);
        if (gen->number >= min)
            return gen;
        fs_index_read_end(ws->idx, th);
        sched_yield();
    }
}

/* Airports of a change's key: origin in bits 16..31, day in bits 0..15. */
#define KEY_ORIGIN(k) ((fs_airport_t)(((k) >> 16) & 0xffffu))
#define KEY_DAY(k) ((int32_t)((k)&0xffffu))

int fs_watches_apply(fs_watches_t *ws, fs_index_thread_t *th, const fs_change_set_t *cs)
{
    pthread_mutex_lock(&ws->mu);
    unsigned n = 0;
    int rc = 0;
    for (size_t i = 0; i < cs->entry_count; i++) {
        const fs_change_t *ch = &cs->entries[i];
        fs_airport_t origin = KEY_ORIGIN(ch->key);
        int32_t day = KEY_DAY(ch->key);
        const watch_vec_t *v = &ws->by_origin[origin];
        for (unsigned k = 0; k < v->n; k++) { /* 1-stop watches from the origin */
            watch_t *w = v->v[k];
            if (watch_wants_source(w, cs->source) && mark(ws, &n, w, day, day) != 0)
                rc = FS_ENOMEM;
        }
        /* nonstop watches on the leg's route; one that moved route matters to its old one too */
        for (int side = 0; side < 2; side++) {
            if (side == 1 && ch->old_destination == ch->destination)
                break;
            const watch_vec_t *r = route_watches(ws, origin, side == 0 ? ch->destination : ch->old_destination, 0);
            for (unsigned k = 0; r != NULL && k < r->n; k++)
                if (watch_wants_source(r->v[k], cs->source) && mark(ws, &n, r->v[k], day, day) != 0)
                    rc = FS_ENOMEM;
        }
        for (int side = 0; side < 2; side++) {
            if (side == 1 && ch->old_destination == ch->destination)
                break;
            v = &ws->by_destination[side == 0 ? ch->destination : ch->old_destination];
            for (unsigned k = 0; k < v->n; k++) {
                watch_t *w = v->v[k];
                if (watch_wants_source(w, cs->source) && mark(ws, &n, w, day - 3, day + 2) != 0)
                    rc = FS_ENOMEM;
            }
        }
    }
    if (n > 0) {
        const fs_generation_t *gen = read_at_least(ws, th, cs->generation);
        for (unsigned k = 0; k < n; k++) {
            watch_t *w = ws->affected[k];
            w->slot = 0;
            int r = evaluate_locked(ws, gen, w, ws->dirty + (size_t)k * DIRTY_BYTES, cs->source, cs->sequence);
            if (r != 0)
                rc = r;
        }
        fs_index_read_end(ws->idx, th);
    }
    if (ws->hooks != NULL) /* durable before the next publish is evaluated */
        fs_webhooks_commit(ws->hooks);
    pthread_mutex_unlock(&ws->mu);
    return rc;
}

int fs_watches_resync(fs_watches_t *ws, fs_index_thread_t *th)
{
    pthread_mutex_lock(&ws->mu);
    const fs_generation_t *gen = fs_index_read_begin(ws->idx, th);
    int rc = 0;
    uint8_t every_day[DIRTY_BYTES];
    memset(every_day, 0xff, sizeof(every_day)); /* bits past a watch's range are never read */
    for (unsigned i = 0; i < ws->count; i++) {
        int r = evaluate_locked(ws, gen, ws->watches[i], every_day, "", 0);
        if (r != 0)
            rc = r;
    }
    fs_index_read_end(ws->idx, th);
    if (ws->hooks != NULL)
        fs_webhooks_commit(ws->hooks);
    pthread_mutex_unlock(&ws->mu);
    return rc;
}

/* ------------------------------------------------------------ registry */

/* Registers a watch of owner with the given id (0: the next) and creation time. Under mu. */
static int add_locked(fs_watches_t *ws, fs_index_thread_t *th, const fs_watch_criteria_t *c, uint32_t owner, unsigned quota,
                      uint64_t want_id, int64_t created_at, int persist, uint64_t *id, uint64_t *matching_now)
{
    if (owner != FS_WATCH_ANY_OWNER && owner_count_get(ws, owner) >= quota)
        return FS_ENOSPC;
    watch_t *w = watch_pack(c); /* its own copies of everything, the webhook's strings included */
    if (w == NULL)
        return FS_ENOMEM;
    w->created_at = created_at;
    w->owner = owner == FS_WATCH_ANY_OWNER ? 0 : owner;
    int rc = 0;
    if (want_id != 0 && (want_id < ws->next_id || find_locked(ws, want_id, NULL) != NULL)) {
        rc = FS_EEXIST; /* ids are stored in increasing order: a repeat is a damaged file */
        goto fail;
    }
    if (ws->count >= FS_WATCH_MAX) {
        rc = FS_ERANGE;
        goto fail;
    }
    if (ws->affected == NULL && (ws->affected = malloc(PTRS(FS_WATCH_MAX))) == NULL) {
        rc = FS_ENOMEM;
        goto fail;
    }
    if (ws->count == ws->cap) {
        unsigned cap = ws->cap ? ws->cap * 2 : 16;
        watch_t **nv = realloc(ws->watches, PTRS(cap));
        if (nv == NULL) {
            rc = FS_ENOMEM;
            goto fail;
        }
        ws->watches = nv;
        ws->cap = cap;
    }
    /* the baseline: no events for it */
    const fs_generation_t *gen = fs_index_read_begin(ws->idx, th);
    w->notify = 0;
    event_builder_t b = {.changes = 0};
    rc = recompute(ws, gen, w, c->q.start_day, c->q.end_day, &b);
    fs_index_read_end(ws->idx, th);
    w->notify = (uint8_t)c->notify;
    if (rc != 0)
        goto fail;
    if ((rc = index_add(ws, w)) != 0)
        goto fail;
    w->id = want_id != 0 ? want_id : ws->next_id;
    if (w->webhook != NULL && ws->hooks != NULL &&
        (rc = fs_webhooks_target(ws->hooks, w->id, w->webhook, watch_webhook_secret(w))) != 0) {
        index_remove(ws, w);
        goto fail;
    }
    if (persist && (rc = persist_locked(ws, w, 0, ws->id_floor)) != 0) {
        if (w->webhook != NULL && ws->hooks != NULL)
            fs_webhooks_forget(ws->hooks, w->id);
        index_remove(ws, w);
        goto fail;
    }
    ws->next_id = w->id + 1;
    ws->watches[ws->count++] = w; /* ids increase: the array stays sorted */
    owner_count_add(ws, w->owner, 1);
    *id = w->id;
    *matching_now = w->count;
    return 0;
fail:
    watch_free(w);
    return rc;
}

int fs_watches_add(fs_watches_t *ws, fs_index_thread_t *th, const fs_watch_criteria_t *c, uint32_t owner, unsigned quota,
                   uint64_t *id, uint64_t *matching_now)
{
    pthread_mutex_lock(&ws->mu);
    int rc = add_locked(ws, th, c, owner, quota, 0, now_unix(), 1, id, matching_now);
    pthread_mutex_unlock(&ws->mu);
    return rc;
}

int fs_watches_restore(fs_watches_t *ws, fs_index_thread_t *th, const char *data_dir, char *err, size_t errcap)
{
    pthread_mutex_lock(&ws->mu);
    snprintf(ws->store_path, sizeof(ws->store_path), "%s/watches", data_dir);
    int n = 0, rc = 0;
    if (ws->hooks != NULL) { /* the events not yet delivered, queued until their watches are back */
        int nh = fs_webhooks_open(ws->hooks, data_dir, err, errcap);
        if (nh < 0)
            fprintf(stderr, "flightsearch: webhooks: %s; events not yet delivered may be lost\n", err);
    }
    FILE *f = fopen(ws->store_path, "r");
    uint64_t floor = 0;
    if (f == NULL && errno != ENOENT) {
        snprintf(err, errcap, "cannot read %s: %s", ws->store_path, strerror(errno));
        rc = FS_EIO;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    unsigned lineno = 0;
    while (rc == 0 && f != NULL && (len = getline(&line, &cap, f)) > 0) {
        lineno++;
        long long id = 0, created = 0, fl = 0;
        int events_line = strncmp(line, "events ", 7) == 0;
        const char *p = line + (events_line ? 7 : 6); /* past "events " or "watch " */
        fs_watch_criteria_t c;
        fs_param_error_t perr;
        uint64_t got, matching;
        uint32_t owner = 0;
        c.webhook_url = c.webhook_secret = NULL;
        if (lineno == 1 && events_line && read_number(&p, 0, &fl) == 0) {
            floor = (uint64_t)fl;
        } else if (strncmp(line, "watch ", 6) != 0 || read_number(&p, 0, &id) != 0 || read_number(&p, 1, &created) != 0 ||
                   id == 0 || read_owner(ws, &p, &owner) != 0) {
            snprintf(err, errcap, "%s line %u: not `watch ID CREATED_AT [owner=NAME ]BODY`", ws->store_path, lineno);
            rc = FS_EINVAL;
        } else if (fs_watch_parse_stored(p, (size_t)len - (size_t)(p - line), &c, &perr) != 0) {
            snprintf(err, errcap, "%s line %u: %s", ws->store_path, lineno, perr.message);
            rc = FS_EINVAL;
        } else if ((rc = add_locked(ws, th, &c, owner, UINT_MAX, (uint64_t)id, created, 0, &got, &matching)) != 0) {
            snprintf(err, errcap, "%s line %u: %s", ws->store_path, lineno,
                     rc == FS_EEXIST ? "watch ids out of order or repeated" : fs_strerror(rc));
        } else {
            n++;
        }
        fs_watch_criteria_dispose(&c); /* the watch holds copies */
    }
    free(line);
    if (f != NULL)
        fclose(f);
    if (rc == 0) { /* the ids of this run start above everything an earlier run may have used */
        pthread_mutex_lock(&ws->log_mu);
        ws->last_event_id = floor;
        ws->first_event_id = floor + 1;
        pthread_mutex_unlock(&ws->log_mu);
        rc = persist_locked(ws, NULL, 0, floor + FS_WATCH_ID_STEP);
        if (rc != 0)
            snprintf(err, errcap, "cannot write %s: %s", ws->store_path, strerror(errno));
    }
    if (rc != 0) {
        for (unsigned i = 0; i < ws->count; i++) { /* all or nothing */
            watch_t *w = ws->watches[i];
            index_remove(ws, w);
            owner_count_add(ws, w->owner, -1);
            if (ws->hooks != NULL)
                fs_webhooks_forget(ws->hooks, w->id);
            watch_free(w);
        }
        ws->count = 0;
        ws->next_id = 1;
        ws->store_path[0] = '\0';
    }
    if (ws->hooks != NULL) /* the outbox's events of watches deleted before the restart */
        fs_webhooks_prune(ws->hooks);
    pthread_mutex_unlock(&ws->mu);
    return rc != 0 ? rc : n;
}

/* Whether owner may see w. */
static int owned(const watch_t *w, uint32_t owner)
{
    return owner == FS_WATCH_ANY_OWNER || w->owner == owner;
}

int fs_watches_remove(fs_watches_t *ws, uint64_t id, uint32_t owner)
{
    pthread_mutex_lock(&ws->mu);
    unsigned pos;
    watch_t *w = find_locked(ws, id, &pos);
    if (w == NULL || !owned(w, owner)) {
        pthread_mutex_unlock(&ws->mu);
        return FS_ENOENT;
    }
    int rc = persist_locked(ws, NULL, id, ws->id_floor);
    if (rc != 0) {
        pthread_mutex_unlock(&ws->mu);
        return rc;
    }
    index_remove(ws, w);
    if (ws->hooks != NULL)
        fs_webhooks_forget(ws->hooks, w->id);
    memmove(ws->watches + pos, ws->watches + pos + 1, PTRS(ws->count - pos - 1));
    ws->count--;
    owner_count_add(ws, w->owner, -1);
    pthread_mutex_unlock(&ws->mu);
    watch_free(w);
    return 0;
}

int fs_watches_exists(fs_watches_t *ws, uint64_t id, uint32_t owner)
{
    pthread_mutex_lock(&ws->mu);
    const watch_t *w = find_locked(ws, id, NULL);
    int found = w != NULL && owned(w, owner);
    pthread_mutex_unlock(&ws->mu);
    return found;
}

unsigned fs_watches_count(fs_watches_t *ws)
{
    pthread_mutex_lock(&ws->mu);
    unsigned n = ws->count;
    pthread_mutex_unlock(&ws->mu);
    return n;
}

static void encode_locked(fs_watches_t *ws, const watch_t *w, fs_enc_t *e)
{
    fs_enc_map_begin(e);
    fs_enc_key_lit(e, "id");
    fs_enc_uint(e, w->id);
    fs_watch_criteria_t c;
    watch_criteria(w, &c);
    fs_watch_encode_criteria(e, &c);
    fs_enc_key_lit(e, "webhook");
    if (w->webhook != NULL) { /* never the secret */
        fs_enc_map_begin(e);
        fs_enc_key_lit(e, "url");
        fs_enc_cstr(e, w->webhook);
        if (ws->hooks != NULL)
            fs_webhooks_encode_status(ws->hooks, w->id, e);
        fs_enc_map_end(e);
    } else {
        fs_enc_null(e);
    }
    fs_enc_key_lit(e, "matching");
    fs_enc_uint(e, w->count);
    fs_enc_key_lit(e, "last_event_id");
    fs_enc_uint(e, w->last_event_id);
    fs_enc_key_lit(e, "created_at");
    char buf[20];
    fs_enc_str(e, buf, fs_timestamp_format(w->created_at, buf));
    fs_enc_map_end(e);
}

int fs_watches_encode(fs_watches_t *ws, uint64_t id, uint32_t owner, fs_enc_t *e)
{
    pthread_mutex_lock(&ws->mu);
    const watch_t *w = find_locked(ws, id, NULL);
    if (w != NULL && !owned(w, owner))
        w = NULL;
    if (w != NULL)
        encode_locked(ws, w, e);
    pthread_mutex_unlock(&ws->mu);
    return w != NULL ? 0 : FS_ENOENT;
}

void fs_watches_encode_all(fs_watches_t *ws, uint32_t owner, fs_enc_t *e)
{
    pthread_mutex_lock(&ws->mu);
    fs_enc_array_begin(e);
    for (unsigned i = 0; i < ws->count; i++)
        if (owned(ws->watches[i], owner))
            encode_locked(ws, ws->watches[i], e);
    fs_enc_array_end(e);
    pthread_mutex_unlock(&ws->mu);
}

/* ------------------------------------------------------------ the log */

uint64_t fs_watches_last_event_id(fs_watches_t *ws)
{
    pthread_mutex_lock(&ws->log_mu);
    uint64_t id = ws->last_event_id;
    pthread_mutex_unlock(&ws->log_mu);
    return id;
}

uint64_t fs_watches_events_after(fs_watches_t *ws, uint64_t after_id, uint64_t watch_id, uint32_t owner, size_t max,
                                 void (*fn)(void *arg, uint64_t id, const char *json, size_t len), void *arg, int *gap)
{
    pthread_mutex_lock(&ws->log_mu);
    uint64_t last = ws->last_event_id;
    uint64_t oldest = last >= ws->first_event_id + FS_WATCH_LOG_EVENTS ? last - FS_WATCH_LOG_EVENTS + 1 : ws->first_event_id;
    *gap = after_id + 1 < oldest;
    uint64_t id = after_id + 1 < oldest ? oldest : after_id + 1, seen = after_id;
    size_t passed = 0;
    for (; id <= last; id++) {
        const event_t *ev = &ws->log[id % FS_WATCH_LOG_EVENTS];
        seen = id;
        if ((watch_id != 0 && ev->watch_id != watch_id) || (owner != FS_WATCH_ANY_OWNER && ev->owner != owner))
            continue;
        fn(arg, ev->id, ev->json, ev->len);
        passed += ev->len;
        if (passed >= max)
            break;
    }
    pthread_mutex_unlock(&ws->log_mu);
    return seen;
}

/* ------------------------------------------------------------ the thread */

void fs_watches_set_webhooks(fs_watches_t *ws, fs_webhooks_t *wh)
{
    ws->hooks = wh;
}

void fs_watches_on_events(fs_watches_t *ws, void (*cb)(void *arg, uint64_t last_id), void *arg)
{
    ws->on_events = cb;
    ws->on_events_arg = arg;
}

static void *watch_main(void *arg)
{
    fs_watches_t *ws = arg;
    fs_index_thread_t *th = fs_index_thread_get(ws->idx);
    struct pollfd pf[2] = {{.fd = fs_subscription_fd(ws->sub), .events = POLLIN}, {.fd = ws->stop_pipe[0], .events = POLLIN}};
    while (!ck_pr_load_int(&ws->stop)) {
        uint64_t dropped = 0;
        fs_change_set_t *cs;
        int rc;
        while ((rc = fs_subscription_next(ws->sub, &cs, &dropped)) != 0) {
            uint64_t before = fs_watches_last_event_id(ws);
            if (rc == 1) {
                fs_watches_apply(ws, th, cs);
                fs_change_set_release(cs);
            } else if (rc == FS_ELAGGED) {
                fs_watches_resync(ws, th);
            }
            uint64_t after = fs_watches_last_event_id(ws);
            if (after != before && ws->on_events != NULL) /* each publish's events go out at once */
                ws->on_events(ws->on_events_arg, after);
        }
        if (poll(pf, 2, -1) < 0 && errno != EINTR)
            break;
        if (pf[0].revents & POLLIN) {
            uint64_t v;
            ssize_t r = read(pf[0].fd, &v, sizeof(v)); /* the eventfd's counter */
            (void)r;
        }
    }
    fs_index_thread_put(ws->idx, th);
    return NULL;
}

int fs_watches_start(fs_watches_t *ws)
{
    if (pipe(ws->stop_pipe) != 0)
        return FS_ENOMEM;
    ws->sub = fs_index_subscribe(ws->idx, 1024);
    if (ws->sub == NULL)
        return FS_ENOMEM;
    if (pthread_create(&ws->thread, NULL, watch_main, ws) != 0) {
        fs_index_unsubscribe(ws->idx, ws->sub);
        return FS_ENOMEM;
    }
    ws->started = 1;
    return 0;
}
