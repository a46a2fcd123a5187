/*
 * src/handlers.c: route -> parse -> index lookup -> encode -> send, for every endpoint.
 *
 * Every handler runs on its connection's event-loop thread. Index memory is read only between
 * fs_index_read_begin and fs_index_read_end, and every byte that goes into a response is copied
 * into the request's pool by the encoder while inside that section.
 */
#include <string.h>
#include <time.h>
#include <sys/time.h>
#include <ck_pr.h>
#ifdef FS_HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif
#include "loaders/loaders.h"
#include "src/internal.h"

const char *const fs_endpoint_names[FS_EP_COUNT] = {"search",  "calendar", "routes", "trips",   "calendar_trips", "healthz",
                                                    "readyz",  "metrics",  "feeds",  "openapi", "web",            "watches",
                                                    "other"};

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: return "Internal Server Error";
    }
}

static fs_worker_t *worker_of(h2o_req_t *req)
{
    return fs_worker_of(req->conn->ctx);
}

static fs_enc_format_t negotiate(h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_ACCEPT, -1);
    if (i >= 0) {
        h2o_iovec_t v = req->headers.entries[i].value;
        if (h2o_strstr(v.base, v.len, H2O_STRLIT("application/msgpack")) != SIZE_MAX ||
            h2o_strstr(v.base, v.len, H2O_STRLIT("application/x-msgpack")) != SIZE_MAX)
            return FS_ENC_MSGPACK;
    }
    return FS_ENC_JSON;
}

/*
 * Starts the response and sends body, which lives in the request's pool. A HEAD gets the headers
 * alone: libh2o 2.2.5 forwards a HEAD response's body over HTTP/2 as DATA frames, which clients
 * reject as a protocol error, so the body is simply not sent (nor its length announced).
 */
static void send_body(h2o_req_t *req, h2o_iovec_t body)
{
    h2o_generator_t *generator = h2o_mem_alloc_pool(&req->pool, sizeof(*generator));
    generator->proceed = NULL;
    generator->stop = NULL;
    int is_head = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    if (!is_head)
        req->res.content_length = body.len;
    h2o_start_response(req, generator);
    h2o_send(req, &body, is_head ? 0 : 1, H2O_SEND_STATE_FINAL);
}

/* Sends the encoded document. The body already lives in the request's pool. */
static void send_doc(h2o_req_t *req, int status, fs_enc_t *e, fs_endpoint_t ep, uint64_t started_us)
{
    h2o_iovec_t body = fs_enc_result(e);
    if (body.base == NULL) {
        status = 500;
        body = h2o_iovec_init(H2O_STRLIT("{\"error\": {\"code\": \"internal\", \"message\": \"out of memory\"}}"));
    }
    req->res.status = status;
    req->res.reason = reason_phrase(status);
    if (e->format == FS_ENC_MSGPACK && status < 400)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/msgpack"));
    else
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL, H2O_STRLIT("accept"));
    fs_metrics_record(&worker_of(req)->metrics, ep, status, now_us() - started_us);
    send_body(req, body);
}

void fs_send_json(h2o_req_t *req, int status, const char *body, size_t len, fs_endpoint_t ep, uint64_t started_us)
{
    char *copy = h2o_mem_alloc_pool(&req->pool, len ? len : 1);
    memcpy(copy, body, len);
    h2o_iovec_t buf = h2o_iovec_init(copy, len);
    req->res.status = status;
    req->res.reason = reason_phrase(status);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    fs_metrics_record(&worker_of(req)->metrics, ep, status, now_us() - started_us);
    send_body(req, buf);
}

/* {"error": {"code", "message", "parameter"?}}; always JSON (errors are read by people). */
int fs_send_error(h2o_req_t *req, int status, const char *code, const char *parameter, const char *message,
                      fs_endpoint_t ep, uint64_t started_us)
{
    fs_enc_t e;
    fs_enc_init(&e, FS_ENC_JSON, &req->pool, 256);
    fs_enc_map_begin(&e);
    fs_enc_key_lit(&e, "error");
    fs_enc_map_begin(&e);
    fs_enc_key_lit(&e, "code");
    fs_enc_cstr(&e, code);
    fs_enc_key_lit(&e, "message");
    fs_enc_cstr(&e, message);
    if (parameter != NULL) {
        fs_enc_key_lit(&e, "parameter");
        fs_enc_cstr(&e, parameter);
    }
    fs_enc_map_end(&e);
    fs_enc_map_end(&e);
    send_doc(req, status, &e, ep, started_us);
    return 0;
}

/* ------------------------------------------------------------- ETag
 * The ETag is the generation number and a hash of the request path with its query, the
 * response format and (with --private-sources) whether names are shown: the same query against the same generation gives the same document (but
 * for took_us, which is not part of its meaning). */

static int may_see_sources(h2o_req_t *req, fs_worker_t *w);

static int etag_check(h2o_req_t *req, uint64_t generation, fs_enc_format_t format, uint64_t salt, fs_endpoint_t ep,
                      uint64_t started_us)
{
    uint64_t h = fs_hash64(req->path.base, req->path.len) ^ salt ^ (format == FS_ENC_MSGPACK ? 0x9e3779b97f4a7c15ull : 0);
    if (worker_of(req)->shared->config->private_sources) {
        /* --private-sources: the document depends on the token too (named or not) */
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL, H2O_STRLIT("Authorization"));
        if (may_see_sources(req, worker_of(req)))
            h ^= 0xc2b2ae3d27d4eb4full;
    }
    /* "<generation in hex>-<hash in 16 hex digits>", quoted, written by hand (no snprintf per request) */
    char *etag = h2o_mem_alloc_pool(&req->pool, 48);
    static const char hex[16] = "0123456789abcdef";
    size_t n = 0, gen_digits = 1;
    while (gen_digits < 16 && (generation >> (4 * gen_digits)) != 0)
        gen_digits++;
    etag[n++] = '"';
    for (size_t d = gen_digits; d-- > 0;)
        etag[n++] = hex[(generation >> (4 * d)) & 0xf];
    etag[n++] = '-';
    for (size_t d = 16; d-- > 0;)
        etag[n++] = hex[(h >> (4 * d)) & 0xf];
    etag[n++] = '"';
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ETAG, NULL, etag, n);
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_IF_NONE_MATCH, -1);
    if (i < 0)
        return 0;
    h2o_iovec_t v = req->headers.entries[i].value;
    if ((v.len == 1 && v.base[0] == '*') || h2o_strstr(v.base, v.len, etag, n) != SIZE_MAX) {
        req->res.status = 304;
        req->res.reason = reason_phrase(304);
        fs_metrics_record(&worker_of(req)->metrics, ep, 304, now_us() - started_us);
        h2o_send_inline(req, NULL, 0);
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------ writing */

/* "YYYY-MM-DD" of day, from the writer's two-entry cache (a result's departure and arrival days). */
static const char *enc_date_text(fs_enc_t *e, int32_t day)
{
    for (unsigned i = 0; i < 2; i++)
        if (e->date_valid[i] && e->date_day[i] == day)
            return e->date_text[i];
    unsigned i = e->date_next;
    e->date_next ^= 1;
    fs_date_format(day, e->date_text[i]);
    e->date_day[i] = day;
    e->date_valid[i] = 1;
    return e->date_text[i];
}

static void enc_date(fs_enc_t *e, int32_t day)
{
    fs_enc_str_safe(e, enc_date_text(e, day), 10);
}

static inline void put2(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

/* As fs_datetime_format ("YYYY-MM-DDTHH:MM:00+HH:MM", 25 characters, no NUL), the date from
 * the cache. */
static void format_localtime(fs_enc_t *e, fs_localtime_t t, char buf[25])
{
    unsigned minute = t.minute % 1440u, off = (unsigned)(t.offset_min < 0 ? -t.offset_min : t.offset_min);
    memcpy(buf, enc_date_text(e, t.day), 10);
    buf[10] = 'T';
    put2(buf + 11, minute / 60);
    buf[13] = ':';
    put2(buf + 14, minute % 60);
    memcpy(buf + 16, ":00", 3); /* NOLINT(bugprone-not-null-terminated-result): fixed-width, not a C string */
    buf[19] = t.offset_min < 0 ? '-' : '+';
    put2(buf + 20, off / 60);
    buf[22] = ':';
    put2(buf + 23, off % 60);
}

static void enc_localtime(fs_enc_t *e, fs_localtime_t t)
{
    char buf[25];
    format_localtime(e, t, buf);
    fs_enc_str_safe(e, buf, sizeof(buf));
}

/* A result's first departure and last arrival, formatted once for the result and again used by
 * its first and last segments (the same instants: a nonstop's segment repeats both). */
typedef struct result_times {
    const fs_leg_t *first, *last;
    char departs[25], arrives[25];
    uint8_t have_departs, have_arrives;
} result_times_t;

/* The result's first departure and last arrival, formatted on first use (25 characters each);
 * both writers below take them from here. */
static const char *departs_text(fs_enc_t *e, result_times_t *t)
{
    if (!t->have_departs) {
        format_localtime(e, fs_leg_departs(t->first), t->departs);
        t->have_departs = 1;
    }
    return t->departs;
}

static const char *arrives_text(fs_enc_t *e, result_times_t *t)
{
    if (!t->have_arrives) {
        format_localtime(e, fs_leg_arrives(t->last), t->arrives);
        t->have_arrives = 1;
    }
    return t->arrives;
}

static void enc_departs(fs_enc_t *e, result_times_t *t)
{
    fs_enc_str_safe(e, departs_text(e, t), sizeof(t->departs));
}

static void enc_arrives(fs_enc_t *e, result_times_t *t)
{
    fs_enc_str_safe(e, arrives_text(e, t), sizeof(t->arrives));
}

static void enc_timestamp(fs_enc_t *e, int64_t unix_seconds)
{
    char buf[20];
    fs_enc_str_safe(e, buf, fs_timestamp_format(unix_seconds, buf));
}

static void enc_airport(fs_enc_t *e, fs_airport_t a)
{
    char buf[4];
    fs_airport_format(a, buf);
    fs_enc_str_safe(e, buf, 3);
}

/* One segment. miles: the leg's fare when the caller knows it (a nonstop's is the result's), else
 * UINT32_MAX to look it up. */
static void enc_segment(fs_enc_t *e, const fs_segment_t *seg, const fs_leg_t *leg, unsigned cabin, uint32_t miles, fs_fields_t f,
                        result_times_t *t)
{
    char buf[8];
    fs_enc_map_begin(e);
    if (FS_FIELD(f, FS_FIELD_S_CARRIER)) {
        fs_enc_key_lit(e, "carrier");
        fs_carrier_format(leg->carrier, buf);
        fs_enc_str_safe(e, buf, 2);
    }
    if (FS_FIELD(f, FS_FIELD_S_FLIGHT)) {
        fs_enc_key_lit(e, "flight");
        fs_enc_uint(e, leg->flight);
    }
    if (FS_FIELD(f, FS_FIELD_S_ORIGIN)) {
        fs_enc_key_lit(e, "origin");
        enc_airport(e, leg->origin);
    }
    if (FS_FIELD(f, FS_FIELD_S_DESTINATION)) {
        fs_enc_key_lit(e, "destination");
        enc_airport(e, leg->destination);
    }
    if (FS_FIELD(f, FS_FIELD_S_DEPARTS_AT)) {
        fs_enc_key_lit(e, "departs_at");
        if (leg == t->first)
            enc_departs(e, t);
        else
            enc_localtime(e, fs_leg_departs(leg));
    }
    if (FS_FIELD(f, FS_FIELD_S_ARRIVES_AT)) {
        fs_enc_key_lit(e, "arrives_at");
        if (leg == t->last)
            enc_arrives(e, t);
        else
            enc_localtime(e, fs_leg_arrives(leg));
    }
    if (FS_FIELD(f, FS_FIELD_S_DURATION_MIN)) {
        fs_enc_key_lit(e, "duration_min");
        fs_enc_uint(e, leg->duration_min);
    }
    if (FS_FIELD(f, FS_FIELD_S_CABIN)) {
        fs_enc_key_lit(e, "cabin");
        fs_enc_str_safe(e, fs_cabin_names[cabin], strlen(fs_cabin_names[cabin]));
    }
    if (FS_FIELD(f, FS_FIELD_S_SEATS)) {
        fs_enc_key_lit(e, "seats");
        fs_enc_uint(e, FS_CABIN_SEATS(leg->cabin[cabin]));
    }
    if (FS_FIELD(f, FS_FIELD_S_MILES)) {
        fs_enc_key_lit(e, "miles");
        fs_enc_uint(e, miles != UINT32_MAX ? miles : fs_segment_fare(seg, FS_CABIN_FARE(leg->cabin[cabin]))->miles);
    }
    if (FS_FIELD(f, FS_FIELD_S_SOURCE)) {
        fs_enc_key_lit(e, "source");
        fs_enc_cstr(e, seg->source);
    }
    fs_enc_map_end(e);
}

/* ------------------------------------------------- a result, JSON fast path
 * JSON is most of what is asked, and a page is mostly results: a result is written straight into
 * the buffer (fs_enc_raw_reserve), each key a copy of its compiler-built `,"key":` and each value
 * formatted in place, with no per-value call into the writer. The bytes are exactly those of the
 * general path below (which msgpack takes): test_src_results compares both with hand-written
 * documents, e2e_read_api every answer's JSON with its msgpack. Every string here is a code, a
 * date, a time, a cabin name or a source name (checked at the feed: [a-z0-9_-]), so none needs
 * escaping. */

/* The most a result of `legs` legs writes: 182 bytes of keys and 261 of values (an id of at most
 * FS_ID_MAX, three source names of 32 and their '+', 20-digit taxes, ...) plus 264 a segment,
 * rounded up. */
#define RESULT_JSON_MAX(legs) (512 + FS_ID_MAX + 320 * (size_t)(legs))

static inline char *json_key(char *p, int *first, const char *quoted, size_t len)
{
    size_t skip = *first ? 1 : 0; /* quoted is `,"key":`; the first key of an object has no comma */
    *first = 0;
    memcpy(p, quoted + skip, len - skip);
    return p + len - skip;
}
#define JSON_KEY(p, first, lit) json_key((p), (first), ",\"" lit "\":", sizeof(",\"" lit "\":") - 1)

static inline char *json_safe(char *p, const char *s, size_t len)
{
    *p++ = '"';
    memcpy(p, s, len);
    p[len] = '"';
    return p + len + 1;
}

static inline char *json_uint(char *p, uint64_t v)
{
    char digits[24], *end = digits + sizeof(digits), *d = fs_enc_format_u64(v, end);
    memcpy(p, d, (size_t)(end - d));
    return p + (end - d);
}

static char *json_airport(char *p, fs_airport_t a)
{
    char buf[4];
    fs_airport_format(a, buf);
    return json_safe(p, buf, 3);
}

static char *json_departs(fs_enc_t *e, char *p, result_times_t *t)
{
    return json_safe(p, departs_text(e, t), sizeof(t->departs));
}

static char *json_arrives(fs_enc_t *e, char *p, result_times_t *t)
{
    return json_safe(p, arrives_text(e, t), sizeof(t->arrives));
}

static char *json_localtime(fs_enc_t *e, char *p, fs_localtime_t lt)
{
    char buf[25];
    format_localtime(e, lt, buf);
    return json_safe(p, buf, sizeof(buf));
}

static char *json_segment(fs_enc_t *e, char *p, const fs_segment_t *seg, const fs_leg_t *leg, unsigned cabin, uint32_t miles,
                          fs_fields_t f, result_times_t *t)
{
    char buf[4];
    int first = 1;
    *p++ = '{';
    if (FS_FIELD(f, FS_FIELD_S_CARRIER)) {
        p = JSON_KEY(p, &first, "carrier");
        fs_carrier_format(leg->carrier, buf);
        p = json_safe(p, buf, 2);
    }
    if (FS_FIELD(f, FS_FIELD_S_FLIGHT)) {
        p = JSON_KEY(p, &first, "flight");
        p = json_uint(p, leg->flight);
    }
    if (FS_FIELD(f, FS_FIELD_S_ORIGIN)) {
        p = JSON_KEY(p, &first, "origin");
        p = json_airport(p, leg->origin);
    }
    if (FS_FIELD(f, FS_FIELD_S_DESTINATION)) {
        p = JSON_KEY(p, &first, "destination");
        p = json_airport(p, leg->destination);
    }
    if (FS_FIELD(f, FS_FIELD_S_DEPARTS_AT)) {
        p = JSON_KEY(p, &first, "departs_at");
        p = leg == t->first ? json_departs(e, p, t) : json_localtime(e, p, fs_leg_departs(leg));
    }
    if (FS_FIELD(f, FS_FIELD_S_ARRIVES_AT)) {
        p = JSON_KEY(p, &first, "arrives_at");
        p = leg == t->last ? json_arrives(e, p, t) : json_localtime(e, p, fs_leg_arrives(leg));
    }
    if (FS_FIELD(f, FS_FIELD_S_DURATION_MIN)) {
        p = JSON_KEY(p, &first, "duration_min");
        p = json_uint(p, leg->duration_min);
    }
    if (FS_FIELD(f, FS_FIELD_S_CABIN)) {
        p = JSON_KEY(p, &first, "cabin");
        p = json_safe(p, fs_cabin_names[cabin], strlen(fs_cabin_names[cabin]));
    }
    if (FS_FIELD(f, FS_FIELD_S_SEATS)) {
        p = JSON_KEY(p, &first, "seats");
        p = json_uint(p, FS_CABIN_SEATS(leg->cabin[cabin]));
    }
    if (FS_FIELD(f, FS_FIELD_S_MILES)) {
        p = JSON_KEY(p, &first, "miles");
        p = json_uint(p, miles != UINT32_MAX ? miles : fs_segment_fare(seg, FS_CABIN_FARE(leg->cabin[cabin]))->miles);
    }
    if (FS_FIELD(f, FS_FIELD_S_SOURCE)) {
        p = JSON_KEY(p, &first, "source");
        p = json_safe(p, seg->source, strlen(seg->source));
    }
    *p++ = '}';
    return p;
}

static void json_result(fs_enc_t *e, const fs_result_t *r, fs_fields_t f)
{
    const fs_leg_t *first_leg = r->leg, *last = r->leg3 != NULL ? r->leg3 : r->leg2 != NULL ? r->leg2 : r->leg;
    unsigned stops = r->leg3 != NULL ? 2 : r->leg2 != NULL ? 1 : 0;
    char *start = fs_enc_raw_reserve(e, RESULT_JSON_MAX(stops + 1)), *p = start;
    if (p == NULL)
        return;
    result_times_t t = {.first = first_leg, .last = last};
    char buf[FS_ID_MAX];
    int first = 1;
    *p++ = '{';
    if (FS_FIELD(f, FS_FIELD_R_ID)) {
        p = JSON_KEY(p, &first, "id");
        size_t id_len = fs_result_id(r, buf);
        p = json_safe(p, buf, id_len);
    }
    if (FS_FIELD(f, FS_FIELD_R_ORIGIN)) {
        p = JSON_KEY(p, &first, "origin");
        p = json_airport(p, first_leg->origin);
    }
    if (FS_FIELD(f, FS_FIELD_R_DESTINATION)) {
        p = JSON_KEY(p, &first, "destination");
        p = json_airport(p, last->destination);
    }
    if (FS_FIELD(f, FS_FIELD_R_DATE)) {
        p = JSON_KEY(p, &first, "date");
        p = json_safe(p, enc_date_text(e, first_leg->day), 10);
    }
    if (FS_FIELD(f, FS_FIELD_R_DEPARTS_AT)) {
        p = JSON_KEY(p, &first, "departs_at");
        p = json_departs(e, p, &t);
    }
    if (FS_FIELD(f, FS_FIELD_R_ARRIVES_AT)) {
        p = JSON_KEY(p, &first, "arrives_at");
        p = json_arrives(e, p, &t);
    }
    if (FS_FIELD(f, FS_FIELD_R_DURATION_MIN)) {
        p = JSON_KEY(p, &first, "duration_min");
        p = json_uint(p, r->duration_min);
    }
    if (FS_FIELD(f, FS_FIELD_R_STOPS)) {
        p = JSON_KEY(p, &first, "stops");
        *p++ = (char)('0' + stops);
    }
    if (FS_FIELD(f, FS_FIELD_R_CABIN)) {
        p = JSON_KEY(p, &first, "cabin");
        p = json_safe(p, fs_cabin_names[r->cabin], strlen(fs_cabin_names[r->cabin]));
    }
    if (FS_FIELD(f, FS_FIELD_R_MILES)) {
        p = JSON_KEY(p, &first, "miles");
        p = json_uint(p, r->miles);
    }
    if (FS_FIELD(f, FS_FIELD_R_TAXES_CENTS)) {
        p = JSON_KEY(p, &first, "taxes_cents");
        p = json_uint(p, r->taxes_cents);
    }
    if (FS_FIELD(f, FS_FIELD_R_CURRENCY)) {
        p = JSON_KEY(p, &first, "currency");
        fs_currency_format(r->currency, buf);
        p = json_safe(p, buf, 3);
    }
    if (FS_FIELD(f, FS_FIELD_R_SEATS)) {
        p = JSON_KEY(p, &first, "seats");
        p = json_uint(p, r->seats);
    }
    if (FS_FIELD(f, FS_FIELD_R_SOURCE)) {
        p = JSON_KEY(p, &first, "source");
        *p++ = '"';
        const fs_segment_t *const segs[3] = {r->segment, r->segment2, r->segment3};
        int several = (stops >= 1 && r->segment2 != r->segment) || (stops >= 2 && r->segment3 != r->segment);
        for (unsigned i = 0; i <= (several ? stops : 0); i++) { /* every leg's, in flight order, when they differ */
            size_t len = strlen(segs[i]->source);
            if (i > 0)
                *p++ = '+';
            memcpy(p, segs[i]->source, len);
            p += len;
        }
        *p++ = '"';
    }
    if (FS_FIELD(f, FS_FIELD_R_LAST_SEEN)) {
        int64_t last_seen = first_leg->last_seen;
        if (r->leg2 != NULL && r->leg2->last_seen < last_seen)
            last_seen = r->leg2->last_seen;
        if (r->leg3 != NULL && r->leg3->last_seen < last_seen)
            last_seen = r->leg3->last_seen;
        p = JSON_KEY(p, &first, "last_seen");
        char ts[20];
        size_t ts_len = fs_timestamp_format(last_seen, ts);
        p = json_safe(p, ts, ts_len);
    }
    if (FS_FIELD(f, FS_FIELD_R_SEGMENTS)) {
        p = JSON_KEY(p, &first, "segments");
        *p++ = '[';
        p = json_segment(e, p, r->segment, first_leg, r->leg_cabin[0], stops == 0 ? r->miles : UINT32_MAX, f, &t);
        if (r->leg2 != NULL) {
            *p++ = ',';
            p = json_segment(e, p, r->segment2, r->leg2, r->leg_cabin[1], UINT32_MAX, f, &t);
        }
        if (r->leg3 != NULL) {
            *p++ = ',';
            p = json_segment(e, p, r->segment3, r->leg3, r->leg_cabin[2], UINT32_MAX, f, &t);
        }
        *p++ = ']';
    }
    *p++ = '}';
    fs_enc_raw_commit(e, (size_t)(p - start));
}

void fs_enc_search_result(fs_enc_t *e, const fs_result_t *r, fs_fields_t f)
{
    if (e->format == FS_ENC_JSON) {
        json_result(e, r, f);
        return;
    }
    const fs_leg_t *first = r->leg, *last = r->leg3 != NULL ? r->leg3 : r->leg2 != NULL ? r->leg2 : r->leg;
    unsigned stops = r->leg3 != NULL ? 2 : r->leg2 != NULL ? 1 : 0;
    result_times_t t = {.first = first, .last = last};
    char buf[FS_ID_MAX];
    fs_enc_map_begin(e);
    if (FS_FIELD(f, FS_FIELD_R_ID)) {
        fs_enc_key_lit(e, "id");
        fs_enc_str(e, buf, fs_result_id(r, buf));
    }
    if (FS_FIELD(f, FS_FIELD_R_ORIGIN)) {
        fs_enc_key_lit(e, "origin");
        enc_airport(e, first->origin);
    }
    if (FS_FIELD(f, FS_FIELD_R_DESTINATION)) {
        fs_enc_key_lit(e, "destination");
        enc_airport(e, last->destination);
    }
    if (FS_FIELD(f, FS_FIELD_R_DATE)) {
        fs_enc_key_lit(e, "date");
        enc_date(e, first->day);
    }
    if (FS_FIELD(f, FS_FIELD_R_DEPARTS_AT)) {
        fs_enc_key_lit(e, "departs_at");
        enc_departs(e, &t);
    }
    if (FS_FIELD(f, FS_FIELD_R_ARRIVES_AT)) {
        fs_enc_key_lit(e, "arrives_at");
        enc_arrives(e, &t);
    }
    if (FS_FIELD(f, FS_FIELD_R_DURATION_MIN)) {
        fs_enc_key_lit(e, "duration_min");
        fs_enc_uint(e, r->duration_min);
    }
    if (FS_FIELD(f, FS_FIELD_R_STOPS)) {
        fs_enc_key_lit(e, "stops");
        fs_enc_uint(e, stops);
    }
    if (FS_FIELD(f, FS_FIELD_R_CABIN)) {
        fs_enc_key_lit(e, "cabin");
        fs_enc_str_safe(e, fs_cabin_names[r->cabin], strlen(fs_cabin_names[r->cabin]));
    }
    if (FS_FIELD(f, FS_FIELD_R_MILES)) {
        fs_enc_key_lit(e, "miles");
        fs_enc_uint(e, r->miles);
    }
    if (FS_FIELD(f, FS_FIELD_R_TAXES_CENTS)) {
        fs_enc_key_lit(e, "taxes_cents");
        fs_enc_uint(e, r->taxes_cents);
    }
    if (FS_FIELD(f, FS_FIELD_R_CURRENCY)) {
        fs_enc_key_lit(e, "currency");
        fs_currency_format(r->currency, buf);
        fs_enc_str_safe(e, buf, 3);
    }
    if (FS_FIELD(f, FS_FIELD_R_SEATS)) {
        fs_enc_key_lit(e, "seats");
        fs_enc_uint(e, r->seats);
    }
    if (FS_FIELD(f, FS_FIELD_R_SOURCE)) {
        fs_enc_key_lit(e, "source");
        if ((stops < 1 || r->segment2 == r->segment) && (stops < 2 || r->segment3 == r->segment)) {
            fs_enc_cstr(e, r->segment->source);
        } else { /* a connection sold by several partners: every leg's, in flight order */
            const fs_segment_t *const segs[3] = {r->segment, r->segment2, r->segment3};
            size_t n = 0;
            for (unsigned i = 0; i <= stops; i++) { /* at most 3 names of 32 and 2 '+': buf holds them */
                size_t len = strlen(segs[i]->source);
                if (i > 0)
                    buf[n++] = '+';
                memcpy(buf + n, segs[i]->source, len);
                n += len;
            }
            fs_enc_str(e, buf, n);
        }
    }
    if (FS_FIELD(f, FS_FIELD_R_LAST_SEEN)) {
        int64_t last_seen = first->last_seen;
        if (r->leg2 != NULL && r->leg2->last_seen < last_seen)
            last_seen = r->leg2->last_seen;
        if (r->leg3 != NULL && r->leg3->last_seen < last_seen)
            last_seen = r->leg3->last_seen;
        fs_enc_key_lit(e, "last_seen");
        enc_timestamp(e, last_seen);
    }
    if (FS_FIELD(f, FS_FIELD_R_SEGMENTS)) {
        fs_enc_key_lit(e, "segments");
        fs_enc_array_begin(e);
        /* a nonstop's one segment costs what the result does: no fare lookup */
        enc_segment(e, r->segment, first, r->leg_cabin[0], stops == 0 ? r->miles : UINT32_MAX, f, &t);
        if (r->leg2 != NULL)
            enc_segment(e, r->segment2, r->leg2, r->leg_cabin[1], UINT32_MAX, f, &t);
        if (r->leg3 != NULL)
            enc_segment(e, r->segment3, r->leg3, r->leg_cabin[2], UINT32_MAX, f, &t);
        fs_enc_array_end(e);
    }
    fs_enc_map_end(e);
}

/* The airports a query searched, after city codes were expanded. */
static void enc_airports(fs_enc_t *e, const fs_search_query_t *q, int with_destinations, fs_fields_t f)
{
    if (FS_FIELD(f, FS_FIELD_ORIGINS)) {
        fs_enc_key_lit(e, "origins");
        fs_enc_array_begin(e);
        for (unsigned i = 0; i < q->origin_count; i++)
            enc_airport(e, q->origins[i]);
        fs_enc_array_end(e);
    }
    if (!with_destinations || !FS_FIELD(f, FS_FIELD_DESTINATIONS))
        return;
    fs_enc_key_lit(e, "destinations");
    fs_enc_array_begin(e);
    for (unsigned i = 0; i < q->destination_count; i++)
        enc_airport(e, q->destinations[i]);
    fs_enc_array_end(e);
}

/* With --private-sources, source names go only to a request bearing a token of scope *: the list
 * of partners is business information, and a partner's scoped token must not reveal the others. */
static int may_see_sources(h2o_req_t *req, fs_worker_t *w)
{
    if (!w->shared->config->private_sources)
        return 1;
    if (!fs_auth_enabled())
        return 0;
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (i < 0)
        return 0;
    return fs_auth_check(&w->auth_record, req->headers.entries[i].value.base, req->headers.entries[i].value.len, NULL, 1, NULL,
                         0) == 0;
}

/* "searched": which sources a query consulted, so an empty answer says what was searched. Without
 * the right to see names, each entry carries its leg count only. */
static void enc_searched(fs_enc_t *e, const fs_generation_t *gen, const fs_search_query_t *q, int with_names, fs_fields_t f)
{
    if (!FS_FIELD(f, FS_FIELD_SEARCHED))
        return;
    fs_enc_key_lit(e, "searched");
    fs_enc_array_begin(e);
    for (unsigned i = 0; i < gen->segment_count; i++) {
        const fs_segment_t *seg = gen->segments[i];
        if (!fs_query_wants_source(q, seg->source))
            continue;
        fs_enc_map_begin(e);
        if (with_names && FS_FIELD(f, FS_FIELD_SEARCHED_SOURCE)) {
            fs_enc_key_lit(e, "source");
            fs_enc_cstr(e, seg->source);
        }
        if (with_names && FS_FIELD(f, FS_FIELD_SEARCHED_SEQUENCE)) {
            fs_enc_key_lit(e, "sequence");
            fs_enc_uint(e, seg->sequence);
        }
        if (with_names && FS_FIELD(f, FS_FIELD_SEARCHED_UPDATED_AT)) {
            fs_enc_key_lit(e, "updated_at");
            enc_timestamp(e, seg->updated_at);
        }
        if (FS_FIELD(f, FS_FIELD_SEARCHED_LEGS)) {
            fs_enc_key_lit(e, "legs");
            fs_enc_uint(e, seg->leg_count);
        }
        fs_enc_map_end(e);
    }
    fs_enc_array_end(e);
}

/* ------------------------------------------------------- overload */

static void retry_after(h2o_req_t *req)
{
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
}

static int over_budget(h2o_req_t *req, fs_worker_t *w, fs_endpoint_t ep, uint64_t started_us)
{
    char msg[200];
    snprintf(msg, sizeof(msg),
             "the search needed more than its %u ms budget; narrow it (fewer airports, fewer days, nonstop) or retry",
             w->shared->config->search_budget_ms);
    retry_after(req);
    return fs_send_error(req, 503, "search_budget_exceeded", NULL, msg, ep, started_us);
}

typedef struct inflight_guard {
    fs_worker_t *worker;
    fs_conn_state_t *conn;       /* NULL when untracked */
    uint64_t conn_id;
} inflight_guard_t;

/* Runs on the loop thread when the request's pool is cleared: the response is gone. */
static void inflight_done(void *p)
{
    inflight_guard_t *g = p;
    fs_worker_t *w = g->worker;
    ck_pr_store_uint(&w->inflight, w->inflight - 1); /* only this thread writes; /metrics reads */
    fs_conn_state_t *c = g->conn;
    if (c != NULL && c->open && c->conn_id == g->conn_id && c->inflight > 0) {
        c->last_progress_ms = fs_monotonic_ms();
        if (--c->inflight == 0)
            w->busy_conns--;
    }
}

/* Counts the request as in flight, for the worker and for its connection, until h2o disposes it
 * (its response sent, or its connection gone). Admission control, the write timeout and the
 * graceful drain read these counts. */
static fs_conn_state_t *track_inflight(h2o_req_t *req, fs_worker_t *w)
{
    inflight_guard_t *g = h2o_mem_alloc_shared(&req->pool, sizeof(*g), inflight_done);
    g->worker = w;
    g->conn = fs_conn_of(w, req->conn);
    g->conn_id = req->conn->id;
    ck_pr_store_uint(&w->inflight, w->inflight + 1);
    if (g->conn != NULL && g->conn->inflight++ == 0) {
        w->busy_conns++;
        g->conn->last_progress_ms = fs_monotonic_ms();
    }
    return g->conn;
}

fs_conn_state_t *fs_track_request(h2o_req_t *req, fs_worker_t *w)
{
    return track_inflight(req, w);
}

/*
 * Admission control for the read endpoints. A request is shed (503 + Retry-After, a few hundred
 * bytes, no index work) when this worker already holds max_inflight requests (answers not yet
 * written to slow clients count: that bounds memory too), or when the event loop is already
 * further behind than a whole search budget in this pass (the answer would come too late to be
 * useful, and doing the work would only delay the requests behind it). Returns 1 when shed.
 */
/* Whether this worker is over either bound (see shed_if_overloaded). */
static int overloaded(const fs_worker_t *w, const fs_conn_state_t *conn)
{
    const fs_config_t *cfg = w->shared->config;
    uint64_t lag_ms = 0;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    uint64_t wall_ms = (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000, loop_ms = h2o_now(w->loop);
    if (wall_ms > loop_ms)
        lag_ms = wall_ms - loop_ms;
    /* Past the bound, only connections holding more than their share are shed: a few clients that
     * never read their responses (each HTTP/2 connection may hold 100) must not lock everyone
     * else out. This request is already counted. */
    unsigned busy = w->busy_conns > 0 ? w->busy_conns : 1, share = cfg->max_inflight / busy;
    if (share < 8)
        share = 8;
    int over_share = conn == NULL || conn->inflight > share;
    return (w->inflight > cfg->max_inflight && over_share) || lag_ms > cfg->search_budget_ms;
}

static int shed_if_overloaded(h2o_req_t *req, fs_worker_t *w, fs_conn_state_t *conn, fs_endpoint_t ep, uint64_t started_us)
{
    const fs_config_t *cfg = w->shared->config;
    if (!overloaded(w, conn))
        return 0;
    ck_pr_store_64(&w->shed, w->shed + 1);
    retry_after(req);
    fs_send_error(req, 503, "overloaded",
                  NULL, w->inflight >= cfg->max_inflight ? "too many requests in flight on this worker; retry in a second"
                                                         : "the server is behind by more than a search budget; retry in a second",
                  ep, started_us);
    return 1;
}

/* -------------------------------------------------------------- reads */

static int parse_or_fail(h2o_req_t *req, fs_endpoint_t ep, fs_search_query_t *q, fs_fields_t *fields, uint64_t started_us)
{
    const char *qs = "";
    size_t qlen = 0;
    if (req->query_at != SIZE_MAX) {
        qs = req->path.base + req->query_at + 1;
        qlen = req->path.len - req->query_at - 1;
    }
    fs_param_error_t err;
    if (fs_query_parse_fields(ep, qs, qlen, q, fields, &err) != 0) {
        fs_send_error(req, 400, "invalid_parameter", err.parameter, err.message, ep, started_us);
        return -1;
    }
    return 0;
}

/*
 * The opening every read endpoint shares: parse the query, pick the format, enter a read section,
 * answer 304 when the client has this generation's answer already. Returns the generation (inside
 * a read section the caller must end, through finish_read), or NULL when the request has been
 * answered here.
 */
static const fs_generation_t *begin_read(h2o_req_t *req, fs_worker_t *w, fs_endpoint_t ep, fs_search_query_t *q,
                                         fs_fields_t *fields, fs_enc_format_t *format, uint64_t started_us)
{
    if (parse_or_fail(req, ep, q, fields, started_us) != 0)
        return NULL;
    *format = negotiate(req);
    const fs_generation_t *gen = fs_index_read_begin(w->shared->index, &w->index_thread);
    if (etag_check(req, gen->number, *format, 0, ep, started_us)) {
        fs_index_read_end(w->shared->index, &w->index_thread);
        return NULL;
    }
    return gen;
}

/* The closing they share: generation, the airports searched, the sources consulted, leave the
 * read section (nothing of the index is used after it), took_us, send. */
static int finish_read(h2o_req_t *req, fs_worker_t *w, fs_endpoint_t ep, const fs_generation_t *gen, const fs_search_query_t *q,
                       fs_enc_t *e, int with_destinations, fs_fields_t f, uint64_t started_us)
{
    if (FS_FIELD(f, FS_FIELD_GENERATION)) {
        fs_enc_key_lit(e, "generation");
        fs_enc_uint(e, gen->number);
    }
    enc_airports(e, q, with_destinations, f);
    enc_searched(e, gen, q, may_see_sources(req, w), f);
    fs_index_read_end(w->shared->index, &w->index_thread);
    if (FS_FIELD(f, FS_FIELD_TOOK_US)) {
        fs_enc_key_lit(e, "took_us");
        fs_enc_uint(e, now_us() - started_us);
    }
    fs_enc_map_end(e);
    send_doc(req, 200, e, ep, started_us);
    return 0;
}

/* What src/trips_http.c shares of the above. */
fs_enc_format_t fs_http_negotiate(h2o_req_t *req)
{
    return negotiate(req);
}

int fs_http_etag_check(h2o_req_t *req, uint64_t generation, fs_enc_format_t format, uint64_t salt, fs_endpoint_t ep,
                       uint64_t started_us)
{
    return etag_check(req, generation, format, salt, ep, started_us);
}

int fs_http_over_budget(h2o_req_t *req, fs_worker_t *w, fs_endpoint_t ep, uint64_t started_us)
{
    return over_budget(req, w, ep, started_us);
}

int fs_http_shed_if_overloaded(h2o_req_t *req, fs_worker_t *w, fs_conn_state_t *conn, fs_endpoint_t ep, uint64_t started_us)
{
    return shed_if_overloaded(req, w, conn, ep, started_us);
}

int fs_http_finish_read(h2o_req_t *req, fs_worker_t *w, fs_endpoint_t ep, const fs_generation_t *gen, const fs_search_query_t *q,
                        fs_enc_t *e, uint64_t started_us)
{
    return finish_read(req, w, ep, gen, q, e, 1, FS_FIELDS_ALL, started_us);
}

/* The answers' size estimates: a little over what they write, so the common answer is written
 * without the buffer growing (and being copied). A result: the bound its JSON writer reserves
 * (about 560 bytes are written with one leg, 900 with two, 1,250 with three); a calendar day 22
 * bytes and a cabin in it 60; a grid cell 64 and a cabin in it 40. */
size_t fs_enc_result_size(const fs_result_t *r)
{
    return RESULT_JSON_MAX(r->leg3 != NULL ? 3 : r->leg2 != NULL ? 2 : 1);
}

static size_t search_answer_size(const fs_search_result_t *res)
{
    size_t size = 2048; /* the page fields and the "searched" list */
    for (unsigned i = 0; i < res->count; i++)
        size += fs_enc_result_size(&res->results[i]);
    return size;
}

static size_t calendar_answer_size(const fs_calendar_cell_t *cells, int32_t days)
{
    size_t size = 2048 + (size_t)days * 32;
    for (size_t i = 0; i < (size_t)days * FS_CABIN_COUNT; i++)
        size += cells[i].count > 0 ? 72 : 0;
    return size;
}

static int handle_search(h2o_req_t *req, fs_worker_t *w, uint64_t started_us)
{
    fs_search_query_t q;
    fs_fields_t f;
    fs_enc_format_t format;
    const fs_generation_t *gen = begin_read(req, w, FS_EP_SEARCH, &q, &f, &format, started_us);
    if (gen == NULL)
        return 0;
    fs_search_result_t res;
    q.deadline_us = (int64_t)started_us + (int64_t)w->shared->config->search_budget_ms * 1000;
    if (fs_search(gen, &q, w->results, &res) != 0) {
        fs_index_read_end(w->shared->index, &w->index_thread);
        return over_budget(req, w, FS_EP_SEARCH, started_us);
    }
    fs_enc_t e;
    fs_enc_init(&e, format, &req->pool, search_answer_size(&res));
    fs_enc_map_begin(&e);
    if (FS_FIELD(f, FS_FIELD_RESULTS)) {
        fs_enc_key_lit(&e, "results");
        fs_enc_array_begin(&e);
        for (unsigned i = 0; i < res.count; i++)
            fs_enc_search_result(&e, &res.results[i], f);
        fs_enc_array_end(&e);
    }
    if (FS_FIELD(f, FS_FIELD_COUNT)) {
        fs_enc_key_lit(&e, "count");
        fs_enc_uint(&e, res.count);
    }
    if (FS_FIELD(f, FS_FIELD_TOTAL)) {
        fs_enc_key_lit(&e, "total");
        fs_enc_uint(&e, res.total);
    }
    if (FS_FIELD(f, FS_FIELD_NEXT_CURSOR)) {
        fs_enc_key_lit(&e, "next_cursor");
        if (res.has_more && res.count > 0) {
            char cursor[FS_CURSOR_TOKEN_MAX];
            size_t n = fs_cursor_encode(q.sort, &res.results[res.count - 1], cursor, sizeof(cursor));
            fs_enc_str(&e, cursor, n);
        } else {
            fs_enc_null(&e);
        }
    }
    return finish_read(req, w, FS_EP_SEARCH, gen, &q, &e, 1, f, started_us);
}

/* A calendar day in JSON, straight into the buffer as json_result does: the bytes of the general
 * path below (msgpack's), at most 22 for the date and 84 a cabin ("business" and three 10-digit
 * numbers with their keys). */
static void json_calendar_day(fs_enc_t *e, int32_t day, const fs_calendar_cell_t *row, fs_fields_t f)
{
    static const char *const cabin_keys[FS_CABIN_COUNT] = {",\"economy\":{", ",\"premium\":{", ",\"business\":{",
                                                           ",\"first\":{"};
    char *start = fs_enc_raw_reserve(e, 32 + FS_CABIN_COUNT * 96), *p = start;
    if (p == NULL)
        return;
    int first = 1;
    *p++ = '{';
    if (FS_FIELD(f, FS_FIELD_DAY_DATE)) {
        p = JSON_KEY(p, &first, "date");
        p = json_safe(p, enc_date_text(e, day), 10);
    }
    for (int c = 0; c < FS_CABIN_COUNT; c++) {
        if (row[c].count == 0 || !FS_FIELD(f, FS_FIELD_DAY_CABIN(c)))
            continue;
        size_t len = strlen(cabin_keys[c]), skip = first ? 1 : 0;
        first = 0;
        memcpy(p, cabin_keys[c] + skip, len - skip);
        p += len - skip;
        int inner = 1;
        if (FS_FIELD(f, FS_FIELD_DAY_CABIN(c) + 1)) {
            p = JSON_KEY(p, &inner, "min_miles");
            p = json_uint(p, row[c].min_miles);
        }
        if (FS_FIELD(f, FS_FIELD_DAY_CABIN(c) + 2)) {
            p = JSON_KEY(p, &inner, "max_seats");
            p = json_uint(p, row[c].max_seats);
        }
        if (FS_FIELD(f, FS_FIELD_DAY_CABIN(c) + 3)) {
            p = JSON_KEY(p, &inner, "count");
            p = json_uint(p, row[c].count);
        }
        *p++ = '}';
    }
    *p++ = '}';
    fs_enc_raw_commit(e, (size_t)(p - start));
}

static int handle_calendar(h2o_req_t *req, fs_worker_t *w, uint64_t started_us)
{
    fs_search_query_t q;
    fs_fields_t f;
    fs_enc_format_t format;
    const fs_generation_t *gen = begin_read(req, w, FS_EP_CALENDAR, &q, &f, &format, started_us);
    if (gen == NULL)
        return 0;
    q.deadline_us = (int64_t)started_us + (int64_t)w->shared->config->search_budget_ms * 1000;
    if (fs_calendar(gen, &q, w->cells) != 0) {
        fs_index_read_end(w->shared->index, &w->index_thread);
        return over_budget(req, w, FS_EP_CALENDAR, started_us);
    }
    fs_enc_t e;
    int32_t days = q.end_day - q.start_day + 1;
    fs_enc_init(&e, format, &req->pool, calendar_answer_size(w->cells, days));
    fs_enc_map_begin(&e);
    if (FS_FIELD(f, FS_FIELD_DAYS)) {
        fs_enc_key_lit(&e, "days");
        fs_enc_array_begin(&e);
        for (int32_t d = 0; d < days; d++) {
            const fs_calendar_cell_t *row = &w->cells[(size_t)d * FS_CABIN_COUNT];
            if (format == FS_ENC_JSON) {
                json_calendar_day(&e, q.start_day + d, row, f);
                continue;
            }
            fs_enc_map_begin(&e);
            if (FS_FIELD(f, FS_FIELD_DAY_DATE)) {
                fs_enc_key_lit(&e, "date");
                enc_date(&e, q.start_day + d);
            }
            for (int c = 0; c < FS_CABIN_COUNT; c++) {
                if (row[c].count == 0 || !FS_FIELD(f, FS_FIELD_DAY_CABIN(c)))
                    continue;
                fs_enc_key(&e, fs_cabin_names[c], strlen(fs_cabin_names[c]));
                fs_enc_map_begin(&e);
                if (FS_FIELD(f, FS_FIELD_DAY_CABIN(c) + 1)) {
                    fs_enc_key_lit(&e, "min_miles");
                    fs_enc_uint(&e, row[c].min_miles);
                }
                if (FS_FIELD(f, FS_FIELD_DAY_CABIN(c) + 2)) {
                    fs_enc_key_lit(&e, "max_seats");
                    fs_enc_uint(&e, row[c].max_seats);
                }
                if (FS_FIELD(f, FS_FIELD_DAY_CABIN(c) + 3)) {
                    fs_enc_key_lit(&e, "count");
                    fs_enc_uint(&e, row[c].count);
                }
                fs_enc_map_end(&e);
            }
            fs_enc_map_end(&e);
        }
        fs_enc_array_end(&e);
    }
    return finish_read(req, w, FS_EP_CALENDAR, gen, &q, &e, 1, f, started_us);
}

static int handle_routes(h2o_req_t *req, fs_worker_t *w, uint64_t started_us)
{
    fs_search_query_t q;
    fs_fields_t f;
    fs_enc_format_t format;
    const fs_generation_t *gen = begin_read(req, w, FS_EP_ROUTES, &q, &f, &format, started_us);
    if (gen == NULL)
        return 0;
    q.deadline_us = (int64_t)started_us + (int64_t)w->shared->config->search_budget_ms * 1000;
    int n = fs_routes_from(gen, q.origins[0], &q, w->routes, FS_AIRPORT_COUNT);
    if (n < 0) { /* FS_ETIMEDOUT (FS_ERANGE cannot happen: there is room for every airport) */
        fs_index_read_end(w->shared->index, &w->index_thread);
        return over_budget(req, w, FS_EP_ROUTES, started_us);
    }
    fs_enc_t e;
    fs_enc_init(&e, format, &req->pool, 256 + (size_t)(n > 0 ? n : 0) * 96);
    fs_enc_map_begin(&e);
    if (FS_FIELD(f, FS_FIELD_ORIGIN)) {
        fs_enc_key_lit(&e, "origin");
        enc_airport(&e, q.origins[0]);
    }
    if (FS_FIELD(f, FS_FIELD_DESTINATIONS)) {
        fs_enc_key_lit(&e, "destinations");
        fs_enc_array_begin(&e);
        for (int i = 0; i < n; i++) {
            fs_enc_map_begin(&e);
            if (FS_FIELD(f, FS_FIELD_D_DESTINATION)) {
                fs_enc_key_lit(&e, "destination");
                enc_airport(&e, w->routes[i].destination);
            }
            if (FS_FIELD(f, FS_FIELD_D_LEGS)) {
                fs_enc_key_lit(&e, "legs");
                fs_enc_uint(&e, w->routes[i].legs);
            }
            if (FS_FIELD(f, FS_FIELD_D_FIRST_DATE)) {
                fs_enc_key_lit(&e, "first_date");
                enc_date(&e, w->routes[i].first_day);
            }
            if (FS_FIELD(f, FS_FIELD_D_LAST_DATE)) {
                fs_enc_key_lit(&e, "last_date");
                enc_date(&e, w->routes[i].last_day);
            }
            if (FS_FIELD(f, FS_FIELD_D_STOPS)) {
                fs_enc_key_lit(&e, "stops");
                fs_enc_uint(&e, (uint64_t)w->routes[i].stops);
            }
            fs_enc_map_end(&e);
        }
        fs_enc_array_end(&e);
    }
    return finish_read(req, w, FS_EP_ROUTES, gen, &q, &e, 0, f, started_us);
}

static int handle_health(h2o_req_t *req, fs_worker_t *w, fs_endpoint_t ep, uint64_t started_us)
{
    fs_enc_t e;
    fs_enc_init(&e, negotiate(req), &req->pool, 256);
    int status = 200;
    fs_enc_map_begin(&e);
    fs_enc_key_lit(&e, "status");
    if (ep == FS_EP_READYZ) {
        int ready = ck_pr_load_int(&w->shared->ready) && !ck_pr_load_int(&w->shared->shutting_down);
        status = ready ? 200 : 503;
        fs_enc_cstr(&e, ready ? "ready" : ck_pr_load_int(&w->shared->shutting_down) ? "shutting_down" : "loading");
        uint64_t generation = fs_index_generation_number(w->shared->index, &w->index_thread);
        fs_enc_key_lit(&e, "generation");
        fs_enc_uint(&e, generation);
    } else {
        fs_enc_cstr(&e, "ok");
    }
    fs_enc_key_lit(&e, "version");
    fs_enc_cstr(&e, FS_VERSION);
    fs_enc_map_end(&e);
    send_doc(req, status, &e, ep, started_us);
    return 0;
}

/* ------------------------------------------------------------ metrics */

/* Grows the worker's /metrics scratch to hold at least need bytes. 0, or -1 when out of memory. */
static int metrics_reserve(fs_worker_t *w, size_t need)
{
    if (need <= w->metrics_cap)
        return 0;
    size_t cap = w->metrics_cap ? w->metrics_cap : 64 * 1024;
    while (cap < need)
        cap *= 2;
    char *buf = realloc(w->metrics_buf, cap);
    if (buf == NULL)
        return -1;
    w->metrics_buf = buf;
    w->metrics_cap = cap;
    return 0;
}

/* /metrics is Prometheus text, written into the worker's scratch buffer, which grows to the
 * largest text seen and is kept, so the text is complete at any number of sources (each adds
 * about 200 bytes) and a scrape costs no allocation once the buffer has its size. Returns NULL
 * when out of memory. The text is valid until the next call on this worker. */
static char *metrics_text(h2o_req_t *req, fs_shared_t *shared, size_t *len)
{
    fs_worker_t *w = worker_of(req);
    size_t n = 0;
    int failed = metrics_reserve(w, 64 * 1024);
    /* snprintf again after growing when a line did not fit: the arguments are plain loads */
#define EMIT(...)                                                                                                          \
    do {                                                                                                                   \
        while (!failed) {                                                                                                  \
            int k_ = snprintf(w->metrics_buf + n, w->metrics_cap - n, __VA_ARGS__);                                        \
            if (k_ >= 0 && (size_t)k_ < w->metrics_cap - n) {                                                              \
                n += (size_t)k_;                                                                                           \
                break;                                                                                                     \
            }                                                                                                              \
            failed = k_ < 0 || metrics_reserve(w, n + (size_t)k_ + 1) != 0; /* else: grown, write it again */              \
        }                                                                                                                  \
    } while (0)
    EMIT("# HELP flightsearch_requests_total Requests answered, by endpoint and status.\n"
         "# TYPE flightsearch_requests_total counter\n");
    for (int ep = 0; ep < FS_EP_COUNT; ep++) {
        for (int s = 0; s < FS_METRIC_STATUS_COUNT; s++) {
            uint64_t v = 0; /* the last slot counts every status not listed */
            for (unsigned k = 0; k < shared->worker_count; k++)
                v += ck_pr_load_64(&shared->workers[k]->metrics.requests[ep][s]);
            if (v == 0 && !(s == 0 && ep <= FS_EP_CALENDAR_TRIPS))
                continue;
            char status[8];
            snprintf(status, sizeof(status), "%d", fs_metric_statuses[s]);
            EMIT("flightsearch_requests_total{endpoint=\"%s\",status=\"%s\"} %llu\n", fs_endpoint_names[ep],
                 fs_metric_statuses[s] ? status : "other", (unsigned long long)v);
        }
    }
    EMIT("# HELP flightsearch_errors_total Requests answered with a 4xx or 5xx status, by endpoint.\n"
         "# TYPE flightsearch_errors_total counter\n");
    for (int ep = 0; ep < FS_EP_COUNT; ep++) {
        uint64_t v = 0;
        for (int s = 0; s < FS_METRIC_STATUS_COUNT; s++)
            if (fs_metric_statuses[s] >= 400 || fs_metric_statuses[s] == 0)
                for (unsigned k = 0; k < shared->worker_count; k++)
                    v += ck_pr_load_64(&shared->workers[k]->metrics.requests[ep][s]);
        EMIT("flightsearch_errors_total{endpoint=\"%s\"} %llu\n", fs_endpoint_names[ep], (unsigned long long)v);
    }
    EMIT("# HELP flightsearch_request_duration_seconds Time from routing to the response, by endpoint.\n"
         "# TYPE flightsearch_request_duration_seconds histogram\n");
    for (int ep = 0; ep <= FS_EP_CALENDAR_TRIPS; ep++) {
        uint64_t cumulative = 0, sum = 0;
        for (unsigned k = 0; k < shared->worker_count; k++)
            sum += ck_pr_load_64(&shared->workers[k]->metrics.latency_sum_us[ep]);
        for (int b = 0; b < FS_LATENCY_BUCKETS; b++) {
            for (unsigned k = 0; k < shared->worker_count; k++)
                cumulative += ck_pr_load_64(&shared->workers[k]->metrics.latency[ep][b]);
            if (b == FS_LATENCY_BUCKETS - 1)
                EMIT("flightsearch_request_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} %llu\n", fs_endpoint_names[ep],
                     (unsigned long long)cumulative);
            else
                EMIT("flightsearch_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%g\"} %llu\n", fs_endpoint_names[ep],
                     fs_latency_bounds_us[b] / 1e6, (unsigned long long)cumulative);
        }
        EMIT("flightsearch_request_duration_seconds_sum{endpoint=\"%s\"} %.6f\n", fs_endpoint_names[ep], sum / 1e6);
        EMIT("flightsearch_request_duration_seconds_count{endpoint=\"%s\"} %llu\n", fs_endpoint_names[ep],
             (unsigned long long)cumulative);
    }
    if (fs_keys_enabled())
        EMIT("# HELP flightsearch_key_requests_total Requests bearing an API key (--keys), by the key's name and status.\n"
             "# TYPE flightsearch_key_requests_total counter\n");
    for (const fs_key_account_t *a = fs_key_accounts(); a != NULL; a = fs_key_account_next(a)) {
        for (int s = 0; s < FS_METRIC_STATUS_COUNT; s++) {
            uint64_t v = __atomic_load_n(&a->requests[s], __ATOMIC_RELAXED);
            if (v == 0 && s != 0) /* status 200 always, so that every key is listed */
                continue;
            char status[8];
            snprintf(status, sizeof(status), "%d", fs_metric_statuses[s]);
            EMIT("flightsearch_key_requests_total{key=\"%s\",status=\"%s\"} %llu\n", a->name,
                 fs_metric_statuses[s] ? status : "other", (unsigned long long)v);
        }
    }

    const fs_generation_t *gen = fs_index_read_begin(shared->index, &w->index_thread);
    EMIT("# HELP flightsearch_generation The index generation being served.\n# TYPE flightsearch_generation gauge\n"
         "flightsearch_generation %llu\n",
         (unsigned long long)gen->number);
    EMIT("# HELP flightsearch_legs Legs in the index.\n# TYPE flightsearch_legs gauge\n"
         "flightsearch_legs %llu\n",
         (unsigned long long)gen->leg_count);
    int with_names = may_see_sources(req, w);
    /* each family its own HELP and TYPE: promtool check metrics (tests/e2e/e2e_monitoring.c) */
    EMIT("# HELP flightsearch_source_legs Legs in the index, by source.\n# TYPE flightsearch_source_legs gauge\n");
    for (unsigned i = 0; with_names && i < gen->segment_count; i++)
        EMIT("flightsearch_source_legs{source=\"%s\"} %u\n", gen->segments[i]->source, gen->segments[i]->leg_count);
    EMIT("# HELP flightsearch_source_sequence The last sequence applied, by source.\n# TYPE flightsearch_source_sequence gauge\n");
    for (unsigned i = 0; with_names && i < gen->segment_count; i++)
        EMIT("flightsearch_source_sequence{source=\"%s\"} %llu\n", gen->segments[i]->source,
             (unsigned long long)gen->segments[i]->sequence);
    EMIT("# HELP flightsearch_source_age_seconds Seconds since the source was last updated.\n"
         "# TYPE flightsearch_source_age_seconds gauge\n");
    int64_t now = (int64_t)time(NULL);
    for (unsigned i = 0; with_names && i < gen->segment_count; i++)
        EMIT("flightsearch_source_age_seconds{source=\"%s\"} %lld\n", gen->segments[i]->source,
             (long long)(now - gen->segments[i]->updated_at));
    size_t index_bytes = 0;
    for (unsigned i = 0; i < gen->segment_count; i++)
        index_bytes += gen->segments[i]->bytes;
    fs_index_read_end(shared->index, &w->index_thread);
    EMIT("# HELP flightsearch_index_bytes Heap bytes held by the index's current generation.\n"
         "# TYPE flightsearch_index_bytes gauge\nflightsearch_index_bytes %zu\n",
         index_bytes);
    uint64_t shed = 0, inflight = 0, stalled = 0;
    for (unsigned k = 0; k < shared->worker_count; k++) {
        shed += ck_pr_load_64(&shared->workers[k]->shed);
        inflight += ck_pr_load_uint(&shared->workers[k]->inflight);
        stalled += ck_pr_load_64(&shared->workers[k]->stalled_closed);
    }
    EMIT("# HELP flightsearch_stalled_connections_closed_total Connections shut down because their responses made no "
         "progress for 30 s (clients that do not read).\n"
         "# TYPE flightsearch_stalled_connections_closed_total counter\nflightsearch_stalled_connections_closed_total %llu\n",
         (unsigned long long)stalled);
    EMIT("# HELP flightsearch_shed_total Requests refused with 503 by admission control.\n"
         "# TYPE flightsearch_shed_total counter\nflightsearch_shed_total %llu\n"
         "# HELP flightsearch_inflight Read requests held by the workers (answered but not yet sent included).\n"
         "# TYPE flightsearch_inflight gauge\nflightsearch_inflight %llu\n",
         (unsigned long long)shed, (unsigned long long)inflight);
    uint64_t queued_jobs = 0, queued_bytes = 0;
    fs_feeds_t *feeds = ck_pr_load_ptr(&shared->feeds);
    if (feeds != NULL)
        fs_feeds_queued(feeds, &queued_jobs, &queued_bytes);
    EMIT("# HELP flightsearch_feed_queue_jobs Feed pushes queued for the loaders or being applied.\n"
         "# TYPE flightsearch_feed_queue_jobs gauge\nflightsearch_feed_queue_jobs %llu\n"
         "# HELP flightsearch_feed_queue_bytes Bytes of the bodies of those pushes.\n"
         "# TYPE flightsearch_feed_queue_bytes gauge\nflightsearch_feed_queue_bytes %llu\n"
         "# HELP flightsearch_store_write_errors_total Data-dir writes that failed (each refused a push or a compaction).\n"
         "# TYPE flightsearch_store_write_errors_total counter\nflightsearch_store_write_errors_total %llu\n",
         (unsigned long long)queued_jobs, (unsigned long long)queued_bytes, (unsigned long long)fs_store_write_errors());
    EMIT("# HELP flightsearch_ready 1 once the data directory is loaded.\n# TYPE flightsearch_ready gauge\n"
         "flightsearch_ready %d\n",
         ck_pr_load_int(&shared->ready));
    fs_replica_t *replica = ck_pr_load_ptr(&shared->replica);
    if (replica != NULL) { /* --nats: lag behind the stream (docs/replicas.md) */
        char rbuf[2048];
        fs_replica_metrics(replica, rbuf, sizeof(rbuf));
        EMIT("%s", rbuf);
    }
    EMIT("# HELP flightsearch_uptime_seconds Seconds since start.\n# TYPE flightsearch_uptime_seconds gauge\n"
         "flightsearch_uptime_seconds %lld\n",
         (long long)(now - shared->started_at));
#ifdef FS_HAVE_JEMALLOC
    uint64_t now_ms = fs_monotonic_ms(), last = ck_pr_load_64(&shared->jemalloc_refreshed_ms);
    if ((last == 0 || now_ms - last >= 1000) && ck_pr_cas_64(&shared->jemalloc_refreshed_ms, last, now_ms)) {
        uint64_t epoch = 1;
        size_t sz = sizeof(epoch);
        mallctl("epoch", &epoch, &sz, &epoch, sz);
        size_t allocated = 0, resident = 0;
        sz = sizeof(size_t);
        mallctl("stats.allocated", &allocated, &sz, NULL, 0);
        sz = sizeof(size_t);
        mallctl("stats.resident", &resident, &sz, NULL, 0);
        ck_pr_store_64(&shared->jemalloc_allocated, allocated);
        ck_pr_store_64(&shared->jemalloc_resident, resident);
    }
    EMIT("# HELP flightsearch_jemalloc_allocated_bytes Bytes allocated by the application (jemalloc stats.allocated, "
         "refreshed at most once a second).\n"
         "# TYPE flightsearch_jemalloc_allocated_bytes gauge\nflightsearch_jemalloc_allocated_bytes %llu\n"
         "# HELP flightsearch_jemalloc_resident_bytes Bytes in physically resident pages mapped by jemalloc.\n"
         "# TYPE flightsearch_jemalloc_resident_bytes gauge\nflightsearch_jemalloc_resident_bytes %llu\n",
         (unsigned long long)ck_pr_load_64(&shared->jemalloc_allocated),
         (unsigned long long)ck_pr_load_64(&shared->jemalloc_resident));
#endif
#undef EMIT
    *len = n;
    return failed ? NULL : w->metrics_buf;
}

/*
 * /metrics always answers: it is how an operator sees an overload. It renders anew each time,
 * except on an overloaded worker (shed_if_overloaded's bounds), where it sends the text it
 * rendered last if that is under a second old: a flood of scrapes costs a copy each, not a render.
 */
static int handle_metrics(h2o_req_t *req, fs_worker_t *w, fs_conn_state_t *conn, uint64_t started_us)
{
    size_t len;
    const char *text;
    uint64_t now_ms = fs_monotonic_ms();
    int with_names = may_see_sources(req, w);
    if (w->metrics_rendered_ms != 0 && now_ms - w->metrics_rendered_ms < 1000 && w->metrics_with_names == with_names &&
        overloaded(w, conn)) {
        text = w->metrics_buf;
        len = w->metrics_len;
    } else {
        text = metrics_text(req, w->shared, &len);
        if (text == NULL) {
            w->metrics_rendered_ms = 0;
            return fs_send_error(req, 503, "out_of_memory", NULL, "no memory for the metrics text; retry later",
                                 FS_EP_METRICS, started_us);
        }
        w->metrics_len = len;
        w->metrics_rendered_ms = now_ms;
        w->metrics_with_names = with_names;
    }
    /* copied: the scratch is reused by the next scrape while h2o may still be sending this one */
    char *body = h2o_mem_alloc_pool(&req->pool, len);
    memcpy(body, text, len);
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/plain; version=0.0.4"));
    fs_metrics_record(&w->metrics, FS_EP_METRICS, 200, now_us() - started_us);
    send_body(req, h2o_iovec_init(body, len));
    return 0;
}

/* ------------------------------------------------------------- openapi */

/* GET /openapi.json: the contract, compiled in (src/openapi_embed.py). The bytes are static and
 * outlive every request, so they are sent as they are, with the ETag computed at build time. */
static int handle_openapi(h2o_req_t *req, fs_worker_t *w, uint64_t started_us)
{
    size_t etag_len = strlen(fs_openapi_etag);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ETAG, NULL, fs_openapi_etag, etag_len);
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_IF_NONE_MATCH, -1);
    if (i >= 0 && h2o_strstr(req->headers.entries[i].value.base, req->headers.entries[i].value.len, fs_openapi_etag,
                             etag_len) != SIZE_MAX) {
        req->res.status = 304;
        req->res.reason = reason_phrase(304);
        fs_metrics_record(&w->metrics, FS_EP_OPENAPI, 304, now_us() - started_us);
        h2o_send_inline(req, NULL, 0);
        return 0;
    }
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    fs_metrics_record(&w->metrics, FS_EP_OPENAPI, 200, now_us() - started_us);
    send_body(req, h2o_iovec_init(fs_openapi_json, fs_openapi_json_len));
    return 0;
}

/* ------------------------------------------------------------- routing */

static int path_is(h2o_req_t *req, const char *path)
{
    return h2o_memis(req->path_normalized.base, req->path_normalized.len, path, strlen(path));
}

/*
 * Request heads are bounded at FS_MAX_HEADER_BYTES in all (the request line, the authority and
 * every header as `name: value\r\n`), the size of HAProxy's default buffer in front of us, so a
 * request answered directly is one HAProxy would also pass. libh2o 2.2.5 takes far larger heads
 * (about 400 kB over HTTP/1.1, its HPACK buffer over h2) before any handler runs; this check cannot
 * stop the buffering, only the answer. Over h2, h2o itself resets a stream whose head passes its
 * own limit before this runs (REFUSED_STREAM; seen with a 100 kB header).
 */
#define FS_MAX_HEADER_BYTES (16 * 1024)
static size_t request_head_bytes(const h2o_req_t *req)
{
    size_t n = req->input.method.len + 1 + req->input.path.len + 11 + req->input.authority.len + 8;
    for (size_t i = 0; i < req->headers.size; i++)
        n += req->headers.entries[i].name->len + 2 + req->headers.entries[i].value.len + 2;
    return n;
}

/* GET / and /web/NAME: the page's files, compiled in (src/web_embed.py, src/web/). Like
 * /openapi.json, static bytes sent as they are, with an ETag computed at build time; no-cache makes
 * a browser revalidate (a 304, no body) so a new build's page shows without a stale mix of files. */
static int handle_web(h2o_req_t *req, fs_worker_t *w, uint64_t started_us)
{
    const fs_web_asset_t *asset = NULL;
    for (size_t i = 0; i < fs_web_asset_count; i++)
        if (path_is(req, fs_web_assets[i].path) || (path_is(req, "/") && strcmp(fs_web_assets[i].path, "/web/index.html") == 0))
            asset = &fs_web_assets[i];
    if (asset == NULL)
        return fs_send_error(req, 404, "not_found", NULL, "no such file of the web page; the page is at /", FS_EP_WEB,
                             started_us);
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
        !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET, HEAD"));
        return fs_send_error(req, 405, "method_not_allowed", NULL, "the web page takes GET and HEAD", FS_EP_WEB, started_us);
    }
    size_t etag_len = strlen(asset->etag);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ETAG, NULL, asset->etag, etag_len);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-cache"));
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_IF_NONE_MATCH, -1);
    if (i >= 0 &&
        h2o_strstr(req->headers.entries[i].value.base, req->headers.entries[i].value.len, asset->etag, etag_len) != SIZE_MAX) {
        req->res.status = 304;
        req->res.reason = reason_phrase(304);
        fs_metrics_record(&w->metrics, FS_EP_WEB, 304, now_us() - started_us);
        h2o_send_inline(req, NULL, 0);
        return 0;
    }
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, asset->content_type, strlen(asset->content_type));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-content-type-options"), 0, NULL, H2O_STRLIT("nosniff"));
    fs_metrics_record(&w->metrics, FS_EP_WEB, 200, now_us() - started_us);
    send_body(req, h2o_iovec_init(asset->bytes, asset->len));
    return 0;
}

int fs_handle_request(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    uint64_t started_us = now_us();
    fs_worker_t *w = worker_of(req);
    if (fs_is_watches_path(req)) { /* tracks its requests itself: event streams are long-lived */
        /* with --keys, watches need a key like the reads (their rate and quota are the key's) */
        fs_key_account_t *account;
        if (fs_keys_authorize(req, w, FS_EP_WATCHES, started_us, &account) != 0)
            return 0;
        return fs_handle_watches(req, w, account, started_us);
    }
    fs_conn_state_t *conn = track_inflight(req, w);
    fs_trace_begin(req, w);
    if (request_head_bytes(req) > FS_MAX_HEADER_BYTES)
        return fs_send_error(req, 431, "request_headers_too_large", NULL,
                             "the request line and headers exceed 16 KiB in all; send fewer or shorter headers", FS_EP_OTHER,
                             started_us);
    static const struct {
        const char *path;
        fs_endpoint_t ep;
    } routes[] = {{"/v1/search", FS_EP_SEARCH}, {"/v1/calendar", FS_EP_CALENDAR}, {"/v1/routes", FS_EP_ROUTES},
                  {"/v1/trips", FS_EP_TRIPS},   {"/v1/calendar/trips", FS_EP_CALENDAR_TRIPS},
                  {"/healthz", FS_EP_HEALTHZ},  {"/readyz", FS_EP_READYZ},        {"/metrics", FS_EP_METRICS},
                  {"/openapi.json", FS_EP_OPENAPI}};
    if (req->path_normalized.len >= 9 && memcmp(req->path_normalized.base, "/v1/feeds", 9) == 0 &&
        (req->path_normalized.len == 9 || req->path_normalized.base[9] == '/'))
        return fs_handle_feeds(req, w, started_us);
    if (path_is(req, "/") || (req->path_normalized.len >= 5 && memcmp(req->path_normalized.base, "/web/", 5) == 0))
        return handle_web(req, w, started_us);
    fs_endpoint_t ep = FS_EP_OTHER;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (path_is(req, routes[i].path))
            ep = routes[i].ep;
    if (ep == FS_EP_OTHER) {
        char msg[200];
        snprintf(msg, sizeof(msg), "no endpoint at %.*s; the endpoints are /v1/search, /v1/calendar, /v1/routes, /v1/trips, /v1/calendar/trips, /v1/feeds, /v1/watches and /v1/events",
                 (int)(req->path_normalized.len > 100 ? 100 : req->path_normalized.len), req->path_normalized.base);
        return fs_send_error(req, 404, "not_found", NULL, msg, FS_EP_OTHER, started_us);
    }
    if (ep == FS_EP_TRIPS || ep == FS_EP_CALENDAR_TRIPS) /* POST /v1/trips is a read too */
        return fs_handle_trips(req, w, conn, ep, started_us);
    int is_get = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"));
    int is_head = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    if (!is_get && !is_head) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET, HEAD"));
        char msg[160];
        snprintf(msg, sizeof(msg), "%.*s is not allowed on %s; use GET", (int)(req->method.len > 16 ? 16 : req->method.len),
                 req->method.base, fs_endpoint_names[ep]);
        return fs_send_error(req, 405, "method_not_allowed", NULL, msg, ep, started_us);
    }
    if (req->entity.base != NULL && req->entity.len > 0)
        return fs_send_error(req, 413, "body_not_allowed", NULL, "read endpoints take no request body", ep, started_us);

    /* with --keys, every /v1 read needs a key within its rate */
    if ((ep == FS_EP_SEARCH || ep == FS_EP_CALENDAR || ep == FS_EP_ROUTES) && fs_keys_authorize(req, w, ep, started_us, NULL) != 0)
        return 0;
    /* health and metrics always answer: they are how an operator sees the overload */
    if ((ep == FS_EP_SEARCH || ep == FS_EP_CALENDAR || ep == FS_EP_ROUTES) && shed_if_overloaded(req, w, conn, ep, started_us))
        return 0;
    switch (ep) {
    case FS_EP_SEARCH:
        return handle_search(req, w, started_us);
    case FS_EP_CALENDAR:
        return handle_calendar(req, w, started_us);
    case FS_EP_ROUTES:
        return handle_routes(req, w, started_us);
    case FS_EP_METRICS:
        return handle_metrics(req, w, conn, started_us);
    case FS_EP_OPENAPI:
        return handle_openapi(req, w, started_us);
    default:
        return handle_health(req, w, ep, started_us);
    }
}
