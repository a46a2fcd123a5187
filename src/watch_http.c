/*
 * src/watch_http.c: the watch endpoints and their event streams (contract: src/watch.h).
 *
 *   POST   /v1/watches               create (201)
 *   GET    /v1/watches               list
 *   GET    /v1/watches/{id}          one
 *   DELETE /v1/watches/{id}          remove (204)
 *   GET    /v1/watches/{id}/events   its events, as Server-Sent Events
 *   GET    /v1/events                every watch's events (with API keys, every watch of the key)
 *
 * With API keys a watch belongs to the key's name (fs_watches_owner): the handlers pass the
 * owner's handle to the engine, which reports another owner's watch as absent (404).
 *
 * The body is a small JSON object. Rather than a second validator, it is turned into the query
 * string of a search (each value percent-encoded) and parsed by fs_query_parse for the watches
 * endpoint, so a watch is refused exactly where a search would be, with the same messages.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ck_pr.h>
#include "src/internal.h"
#include "src/watch.h"
#include "src/body_json.h"
#include "src/webhook.h"

/* ------------------------------------------------------------ the body */

/* A nonnegative integer (no fraction, no exponent) into out. */
static int parse_uint(fs_jp_t *j, char *out, size_t cap)
{
    size_t n = 0;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
        if (n + 1 >= cap)
            return -1;
        out[n++] = *j->p++;
    }
    if (n == 0 || (j->p < j->end && (*j->p == '.' || *j->p == 'e' || *j->p == 'E')))
        return -1;
    out[n] = '\0';
    return 0;
}

#define VALUE_CAP 600

/* A string, an integer, or an array of strings (joined with commas) into out. */
static int parse_value(fs_jp_t *j, char *out, size_t cap)
{
    fs_jp_skip_ws(j);
    if (j->p < j->end && *j->p == '"')
        return fs_jp_string(j, out, cap);
    if (j->p < j->end && *j->p == '[') {
        j->p++;
        size_t n = 0;
        fs_jp_skip_ws(j);
        if (j->p < j->end && *j->p == ']') {
            j->p++;
            out[0] = '\0';
            return 0;
        }
        for (;;) {
            fs_jp_skip_ws(j);
            char item[64];
            if (fs_jp_string(j, item, sizeof(item)) != 0)
                return -1;
            size_t l = strlen(item);
            if (n + l + 2 >= cap)
                return -1;
            if (n > 0)
                out[n++] = ',';
            memcpy(out + n, item, l);
            n += l;
            fs_jp_skip_ws(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                continue;
            }
            if (j->p < j->end && *j->p == ']') {
                j->p++;
                out[n] = '\0';
                return 0;
            }
            return -1;
        }
    }
    return parse_uint(j, out, cap);
}

static int fail(fs_param_error_t *err, const char *field, const char *msg)
{
    snprintf(err->parameter, sizeof(err->parameter), "%s", field);
    snprintf(err->message, sizeof(err->message), "%s", msg);
    return FS_EINVAL;
}

static void append_param(char *qs, size_t cap, size_t *len, const char *name, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = *len;
    if (n > 0 && n + 1 < cap)
        qs[n++] = '&';
    for (const char *p = name; *p != '\0' && n + 1 < cap; p++)
        qs[n++] = *p;
    if (n + 1 < cap)
        qs[n++] = '=';
    for (const unsigned char *p = (const unsigned char *)value; *p != '\0' && n + 3 < cap; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == ',' || *p == '-' ||
            *p == '_') {
            qs[n++] = (char)*p;
        } else {
            qs[n++] = '%';
            qs[n++] = hex[*p >> 4];
            qs[n++] = hex[*p & 15];
        }
    }
    qs[n] = '\0';
    *len = n;
}

/* The webhook member's object: {"url": "http(s)://...", "secret": "..."}, both required. */
static int parse_webhook(fs_jp_t *j, char *url, char *secret, fs_param_error_t *err)
{
    url[0] = secret[0] = '\0';
    fs_jp_skip_ws(j);
    if (j->p >= j->end || *j->p != '{')
        return fail(err, "webhook", "webhook: expected an object {\"url\": ..., \"secret\": ...}");
    j->p++;
    for (;;) {
        char name[16];
        fs_jp_skip_ws(j);
        if (fs_jp_string(j, name, sizeof(name)) != 0)
            return fail(err, "webhook", "webhook: expected a field name (url, secret)");
        fs_jp_skip_ws(j);
        if (j->p >= j->end || *j->p != ':')
            return fail(err, "webhook", "malformed JSON: expected ':' after the field name");
        j->p++;
        fs_jp_skip_ws(j);
        if (strcmp(name, "url") == 0) {
            if (fs_jp_string(j, url, FS_WEBHOOK_URL_MAX + 1) != 0)
                return fail(err, "webhook.url", "webhook.url: expected a string of at most 2048 characters");
        } else if (strcmp(name, "secret") == 0) {
            if (fs_jp_string(j, secret, FS_WEBHOOK_SECRET_MAX + 1) != 0)
                return fail(err, "webhook.secret", "webhook.secret: expected a string of at most 256 characters");
        } else {
            return fail(err, "webhook", "webhook: unknown field (fields: url, secret)");
        }
        fs_jp_skip_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == '}') {
            j->p++;
            break;
        }
        return fail(err, "webhook", "malformed JSON: expected ',' or '}'");
    }
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return fail(err, "webhook.url", "webhook.url: expected an http:// or https:// URL");
    if (strlen(secret) < 16)
        return fail(err, "webhook.secret", "webhook.secret: expected at least 16 characters (openssl rand -hex 32)");
    return 0;
}

void fs_watch_criteria_dispose(fs_watch_criteria_t *c)
{
    free(c->webhook_url);
    free(c->webhook_secret);
    c->webhook_url = c->webhook_secret = NULL;
}

static int watch_parse(const char *body, size_t len, fs_watch_criteria_t *out, fs_param_error_t *err, int stored)
{
    static const char *const search_fields[] = {"origin", "destination", "date",    "start_date", "end_date",
                                                "cabin",  "seats",       "sources", "carriers",   "max_stops"};
    memset(out, 0, sizeof(*out));
    out->notify = FS_WATCH_OPENED;
    err->parameter[0] = err->message[0] = '\0';
    fs_jp_t j = {body, body + len};
    char qs[4096];
    size_t qlen = 0;
    qs[0] = '\0';
    unsigned seen = 0;
    char url[FS_WEBHOOK_URL_MAX + 1], secret[FS_WEBHOOK_SECRET_MAX + 1];
    int has_webhook = 0;
    fs_jp_skip_ws(&j);
    if (j.p >= j.end || *j.p != '{')
        return fail(err, "", "the body must be a JSON object (Content-Type: application/json)");
    j.p++;
    fs_jp_skip_ws(&j);
    if (j.p < j.end && *j.p == '}') {
        j.p++;
    } else {
        for (;;) {
            char name[40], value[VALUE_CAP];
            fs_jp_skip_ws(&j);
            if (fs_jp_string(&j, name, sizeof(name)) != 0)
                return fail(err, "", "malformed JSON: expected a field name in double quotes");
            fs_jp_skip_ws(&j);
            if (j.p >= j.end || *j.p != ':')
                return fail(err, name, "malformed JSON: expected ':' after the field name");
            j.p++;
            if (strcmp(name, "webhook") == 0) {
                if (has_webhook)
                    return fail(err, "webhook", "webhook is given more than once");
                if (parse_webhook(&j, url, secret, err) != 0)
                    return FS_EINVAL;
                has_webhook = 1;
                goto next_member;
            }
            if (parse_value(&j, value, sizeof(value)) != 0) {
                char msg[160];
                snprintf(msg, sizeof(msg), "%s: expected a string, a whole number or an array of strings", name);
                return fail(err, name, msg);
            }
            int known = 0;
            for (unsigned i = 0; i < sizeof(search_fields) / sizeof(search_fields[0]); i++)
                if (strcmp(name, search_fields[i]) == 0) {
                    known = 1;
                    if (seen & (1u << i)) {
                        char msg[120];
                        snprintf(msg, sizeof(msg), "%s is given more than once", name);
                        return fail(err, name, msg);
                    }
                    seen |= 1u << i;
                    append_param(qs, sizeof(qs), &qlen, name, value);
                }
            if (strcmp(name, "max_miles") == 0) {
                char *endp;
                unsigned long v = strtoul(value, &endp, 10);
                if (*endp != '\0' || value[0] < '0' || value[0] > '9' || v < 1 || v > FS_MAX_MILES)
                    return fail(err, "max_miles", "max_miles: expected a whole number from 1 to 10000000");
                out->max_miles = (uint32_t)v;
                known = 1;
            } else if (strcmp(name, "notify") == 0) {
                unsigned mask = 0;
                char *save = NULL;
                for (char *tok = strtok_r(value, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save))
                    mask |= strcmp(tok, "opened") == 0     ? FS_WATCH_OPENED
                            : strcmp(tok, "closed") == 0   ? FS_WATCH_CLOSED
                            : strcmp(tok, "repriced") == 0 ? FS_WATCH_REPRICED
                                                           : 8u;
                if (mask == 0 || (mask & 8u))
                    return fail(err, "notify", "notify: expected a non-empty list of opened, closed, repriced");
                out->notify = mask;
                known = 1;
            }
            if (!known) {
                char msg[160];
                snprintf(msg, sizeof(msg), "unknown field '%s' (see docs/api.md, Watches)", name);
                return fail(err, name, msg);
            }
        next_member:
            fs_jp_skip_ws(&j);
            if (j.p < j.end && *j.p == ',') {
                j.p++;
                continue;
            }
            if (j.p < j.end && *j.p == '}') {
                j.p++;
                break;
            }
            return fail(err, "", "malformed JSON: expected ',' or '}'");
        }
    }
    fs_jp_skip_ws(&j);
    if (j.p != j.end)
        return fail(err, "", "malformed JSON: text after the object");
    int rc = stored ? fs_query_parse_stored(FS_EP_WATCHES, qs, qlen, &out->q, err)
                    : fs_query_parse(FS_EP_WATCHES, qs, qlen, &out->q, err);
    if (rc == 0 && has_webhook) {
        out->webhook_url = strdup(url);
        out->webhook_secret = strdup(secret);
        if (out->webhook_url == NULL || out->webhook_secret == NULL) {
            fs_watch_criteria_dispose(out);
            return fail(err, "", "out of memory");
        }
    }
    return rc;
}

int fs_watch_parse(const char *body, size_t len, fs_watch_criteria_t *out, fs_param_error_t *err)
{
    return watch_parse(body, len, out, err, 0);
}

int fs_watch_parse_stored(const char *body, size_t len, fs_watch_criteria_t *out, fs_param_error_t *err)
{
    return watch_parse(body, len, out, err, 1);
}

static void enc_airport_list(fs_enc_t *e, const fs_airport_t *a, unsigned n)
{
    fs_enc_array_begin(e);
    for (unsigned i = 0; i < n; i++) {
        char buf[4];
        fs_airport_format(a[i], buf);
        fs_enc_str(e, buf, 3);
    }
    fs_enc_array_end(e);
}

/* The criteria as map members. all: every member, absent ones as null or [] (the answer's
 * normalised criteria); else only what is set (a body fs_watch_parse takes back: the store). */
static void enc_criteria_members(fs_enc_t *e, const fs_watch_criteria_t *c, int all)
{
    char buf[10];
    fs_enc_key_lit(e, "origin");
    enc_airport_list(e, c->q.origins, c->q.origin_count);
    fs_enc_key_lit(e, "destination");
    enc_airport_list(e, c->q.destinations, c->q.destination_count);
    fs_enc_key_lit(e, "start_date");
    fs_enc_str(e, buf, fs_date_format(c->q.start_day, buf));
    fs_enc_key_lit(e, "end_date");
    fs_enc_str(e, buf, fs_date_format(c->q.end_day, buf));
    if (all || c->q.cabin >= 0) {
        fs_enc_key_lit(e, "cabin");
        if (c->q.cabin >= 0)
            fs_enc_cstr(e, fs_cabin_names[c->q.cabin]);
        else
            fs_enc_null(e);
    }
    fs_enc_key_lit(e, "seats");
    fs_enc_uint(e, c->q.seats);
    if (all || c->max_miles != 0) {
        fs_enc_key_lit(e, "max_miles");
        if (c->max_miles != 0)
            fs_enc_uint(e, c->max_miles);
        else
            fs_enc_null(e);
    }
    fs_enc_key_lit(e, "max_stops");
    fs_enc_uint(e, c->q.max_stops);
    if (all || c->q.source_count > 0) {
        fs_enc_key_lit(e, "sources");
        fs_enc_array_begin(e);
        for (unsigned i = 0; i < c->q.source_count; i++)
            fs_enc_cstr(e, c->q.sources[i]);
        fs_enc_array_end(e);
    }
    if (all || c->q.carrier_count > 0) {
        fs_enc_key_lit(e, "carriers");
        fs_enc_array_begin(e);
        for (unsigned i = 0; i < c->q.carrier_count; i++) {
            char cb[3];
            fs_carrier_format(c->q.carriers[i], cb);
            fs_enc_str(e, cb, 2);
        }
        fs_enc_array_end(e);
    }
    fs_enc_key_lit(e, "notify");
    fs_enc_array_begin(e);
    if (c->notify & FS_WATCH_OPENED)
        fs_enc_str_lit(e, "opened");
    if (c->notify & FS_WATCH_CLOSED)
        fs_enc_str_lit(e, "closed");
    if (c->notify & FS_WATCH_REPRICED)
        fs_enc_str_lit(e, "repriced");
    fs_enc_array_end(e);
    if (!all && c->webhook_url != NULL) { /* the store's form: the secret too */
        fs_enc_key_lit(e, "webhook");
        fs_enc_map_begin(e);
        fs_enc_key_lit(e, "url");
        fs_enc_cstr(e, c->webhook_url);
        fs_enc_key_lit(e, "secret");
        fs_enc_cstr(e, c->webhook_secret);
        fs_enc_map_end(e);
    }
}

void fs_watch_encode_body(fs_enc_t *e, const fs_watch_criteria_t *c)
{
    fs_enc_map_begin(e);
    enc_criteria_members(e, c, 0);
    fs_enc_map_end(e);
}

void fs_watch_encode_criteria(fs_enc_t *e, const fs_watch_criteria_t *c)
{
    enc_criteria_members(e, c, 1);
}

/* ------------------------------------------------------------ streams
 *
 * An event stream is a response that never ends: h2o_start_response, then one h2o_send with
 * H2O_SEND_STATE_IN_PROGRESS at a time; h2o calls the generator's proceed when the bytes are
 * written, and only then may the next batch go. Events are read from the engine's log by id, so a
 * stream holds one buffer and its position, nothing per event: a client that reads slowly (or not
 * at all) only falls behind in the log, and past FS_WATCH_LOG_EVENTS it is told what it missed.
 *
 * The engine's thread wakes the workers through their multithread queues (one queued message per
 * worker at most); each worker then tops up its own streams on its own loop.
 */

/* Most event streams open in the process at once: each holds a connection and up to 64 KiB. */
#define FS_MAX_STREAMS 1024
#define FS_STREAM_BATCH (64 * 1024)
#define FS_STREAM_KEEPALIVE_MS 15000

typedef struct stream {
    h2o_generator_t generator; /* first: h2o hands it back to proceed and stop */
    h2o_req_t *req;
    fs_worker_t *worker;
    h2o_linklist_t link;
    uint64_t watch_id;         /* 0: every watch of owner */
    uint32_t owner;
    uint64_t last_id;          /* the last event id looked at */
    int sending, closed, finishing, failed;
    int64_t last_write_ms;
    char *buf;                 /* what h2o is sending, or the next batch (malloc'd) */
    size_t len, cap;
} stream_t;

static int reserve(stream_t *s, size_t more)
{
    if (s->len + more <= s->cap)
        return 0;
    size_t cap = s->cap * 2 > s->len + more ? s->cap * 2 : s->len + more;
    char *nb = realloc(s->buf, cap); /* only between sends: h2o holds no pointer into it then */
    if (nb == NULL)
        return -1;
    s->buf = nb;
    s->cap = cap;
    return 0;
}

static void batch_event(void *arg, uint64_t id, const char *json, size_t len)
{
    stream_t *s = arg;
    if (reserve(s, len + 64) != 0) {
        s->failed = 1;
        return;
    }
    s->len += (size_t)sprintf(s->buf + s->len, "id: %llu\nevent: watch\ndata: ", (unsigned long long)id);
    memcpy(s->buf + s->len, json, len);
    s->len += len;
    memcpy(s->buf + s->len, "\n\n", 2);
    s->len += 2;
}

static void stream_send(stream_t *s)
{
    h2o_iovec_t iov = h2o_iovec_init(s->buf, s->len);
    s->sending = 1;
    s->last_write_ms = fs_monotonic_ms();
    h2o_send(s->req, &iov, 1, H2O_SEND_STATE_IN_PROGRESS);
}

/* Sends what the log holds past the stream's position, or the final empty chunk when finishing. */
static void stream_pump(stream_t *s, int keepalive)
{
    if (s->sending || s->closed)
        return;
    if (s->finishing) {
        s->closed = 1;
        h2o_send(s->req, NULL, 0, H2O_SEND_STATE_FINAL);
        return;
    }
    s->len = 0;
    fs_watches_t *ws = s->worker->shared->watches;
    int gap = 0;
    uint64_t before = s->last_id;
    s->last_id = fs_watches_events_after(ws, s->last_id, s->watch_id, s->owner, FS_STREAM_BATCH, batch_event, s, &gap);
    if (s->failed) { /* no memory for the batch: end the stream; the client resumes with Last-Event-ID */
        s->finishing = 1;
        s->last_id = before;
        s->len = 0;
    }
    if (gap && reserve(s, 96) == 0) /* the log moved past the position asked for */
        s->len += (size_t)sprintf(s->buf + s->len, ": some events after %llu were dropped from the log\n\n",
                                  (unsigned long long)before);
    if (s->len == 0 && keepalive) {
        memcpy(s->buf, ":\n\n", 3);
        s->len = 3;
    }
    if (s->len > 0)
        stream_send(s);
    else if (s->finishing)
        stream_pump(s, 0);
}

static void stream_proceed(h2o_generator_t *g, h2o_req_t *req)
{
    (void)req;
    stream_t *s = (stream_t *)g;
    s->sending = 0;
    stream_pump(s, 0);
}

static void stream_stop(h2o_generator_t *g, h2o_req_t *req)
{
    (void)req;
    stream_t *s = (stream_t *)g;
    s->closed = 1;
}

/* Runs when the request's pool is cleared: the stream is gone. */
static void stream_dispose(void *p)
{
    stream_t *s = p;
    if (h2o_linklist_is_linked(&s->link))
        h2o_linklist_unlink(&s->link);
    free(s->buf);
    ck_pr_dec_uint(&s->worker->shared->streams);
}

static void on_wakeup(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    fs_worker_t *w = H2O_STRUCT_FROM_MEMBER(fs_worker_t, watch_receiver, receiver);
    (void)messages; /* only watch_message is ever sent here */
    if (h2o_linklist_is_linked(&w->watch_message.link))
        h2o_linklist_unlink(&w->watch_message.link);
    ck_pr_store_int(&w->watch_wakeup, 0); /* after the unlink: the next wake-up may queue it again */
    for (h2o_linklist_t *l = w->streams.next; l != &w->streams;) {
        stream_t *s = H2O_STRUCT_FROM_MEMBER(stream_t, link, l);
        l = l->next;
        stream_pump(s, 0);
    }
}

static void on_created(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages);

void fs_watch_streams_init(fs_worker_t *w)
{
    h2o_linklist_init_anchor(&w->streams);
    h2o_multithread_register_receiver(w->feed_queue, &w->watch_receiver, on_wakeup);
    h2o_multithread_register_receiver(w->feed_queue, &w->create_receiver, on_created);
    ck_pr_store_int(&w->watch_wakeup, 0); /* created at 1: from now on the engine may wake it */
}

void fs_watch_streams_wake(void *arg, uint64_t last_id)
{
    (void)last_id;
    fs_shared_t *shared = arg;
    if (!ck_pr_load_int(&shared->streams_ready))
        return; /* no stream can exist yet */
    for (unsigned i = 0; i < shared->worker_count; i++) {
        fs_worker_t *w = shared->workers[i];
        if (ck_pr_cas_int(&w->watch_wakeup, 0, 1))
            h2o_multithread_send_message(&w->watch_receiver, &w->watch_message);
    }
}

void fs_watch_streams_tick(fs_worker_t *w)
{
    int64_t now = fs_monotonic_ms();
    for (h2o_linklist_t *l = w->streams.next; l != &w->streams;) {
        stream_t *s = H2O_STRUCT_FROM_MEMBER(stream_t, link, l);
        l = l->next;
        stream_pump(s, now - s->last_write_ms >= FS_STREAM_KEEPALIVE_MS);
    }
}

void fs_watch_streams_close(fs_worker_t *w)
{
    ck_pr_store_int(&w->watch_wakeup, 1); /* no more wake-ups: the loop is stopping */
    for (h2o_linklist_t *l = w->streams.next; l != &w->streams;) {
        stream_t *s = H2O_STRUCT_FROM_MEMBER(stream_t, link, l);
        l = l->next;
        s->finishing = 1;
        stream_pump(s, 0);
    }
}

static int header_u64(h2o_req_t *req, const char *name, uint64_t *out)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, strlen(name), -1);
    if (i < 0)
        return 0;
    h2o_iovec_t v = req->headers.entries[i].value;
    uint64_t n = 0;
    if (v.len == 0 || v.len > 19)
        return -1;
    for (size_t k = 0; k < v.len; k++) {
        if (v.base[k] < '0' || v.base[k] > '9')
            return -1;
        n = n * 10 + (uint64_t)(v.base[k] - '0');
    }
    *out = n;
    return 1;
}

static int open_stream(h2o_req_t *req, fs_worker_t *w, uint64_t watch_id, uint32_t owner, uint64_t started_us)
{
    fs_shared_t *shared = w->shared;
    uint64_t last_id = fs_watches_last_event_id(shared->watches);
    int has = header_u64(req, "last-event-id", &last_id);
    if (has < 0)
        return fs_send_error(req, 400, "invalid_parameter", "Last-Event-ID",
                             "Last-Event-ID: expected the id of the last event received (a whole number)", FS_EP_WATCHES, started_us);
    if (ck_pr_faa_uint(&shared->streams, 1) >= FS_MAX_STREAMS) {
        ck_pr_dec_uint(&shared->streams);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("5"));
        return fs_send_error(req, 503, "too_many_streams", NULL,
                             "this server holds its most event streams already; retry later", FS_EP_WATCHES, started_us);
    }
    stream_t *s = h2o_mem_alloc_shared(&req->pool, sizeof(*s), stream_dispose);
    memset(s, 0, sizeof(*s));
    s->cap = 4096;
    s->buf = malloc(s->cap);
    s->worker = w;
    if (s->buf == NULL) /* the dispose callback gives the slot back */
        return fs_send_error(req, 503, "out_of_memory", NULL, "no memory for an event stream; retry later", FS_EP_WATCHES,
                             started_us);
    s->generator.proceed = stream_proceed;
    s->generator.stop = stream_stop;
    s->req = req;
    s->watch_id = watch_id;
    s->owner = owner;
    s->last_id = last_id;
    h2o_linklist_insert(&w->streams, &s->link);
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/event-stream"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-cache"));
    fs_metrics_record(&w->metrics, FS_EP_WATCHES, 200, 0);
    h2o_start_response(req, &s->generator);
    /* the opening comment makes the headers go out now, and clients see the stream is live */
    s->len = (size_t)sprintf(s->buf, ": watching %s from event %llu\n\n", watch_id ? "one watch" : "every watch",
                             (unsigned long long)last_id);
    stream_send(s);
    return 0;
}

/* ------------------------------------------------------------ routing */

int fs_is_watches_path(const h2o_req_t *req)
{
    h2o_iovec_t p = req->path_normalized;
    return h2o_memis(p.base, p.len, H2O_STRLIT("/v1/events")) || h2o_memis(p.base, p.len, H2O_STRLIT("/v1/watches")) ||
           (p.len > 12 && memcmp(p.base, "/v1/watches/", 12) == 0);
}

static int method_not_allowed(h2o_req_t *req, const char *allow, uint64_t started_us)
{
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, allow, strlen(allow));
    char msg[160];
    snprintf(msg, sizeof(msg), "%.*s is not allowed here; use %s", (int)(req->method.len > 16 ? 16 : req->method.len),
             req->method.base, allow);
    return fs_send_error(req, 405, "method_not_allowed", NULL, msg, FS_EP_WATCHES, started_us);
}

static void send_enc(h2o_req_t *req, int status, fs_enc_t *e, uint64_t started_us)
{
    h2o_iovec_t body = fs_enc_result(e);
    if (body.base == NULL)
        fs_send_error(req, 503, "out_of_memory", NULL, "out of memory; retry later", FS_EP_WATCHES, started_us);
    else
        fs_send_json(req, status, body.base, body.len, FS_EP_WATCHES, started_us);
}

/* ------------------------------------------------------------ creation
 *
 * Creating a watch resolves its webhook's host (getaddrinfo), runs its baseline search over up to
 * 366 days and rewrites DATA_DIR/watches with an fsync: none of that may stall an event loop. The
 * loop parses the body and queues a job; the creator thread does the rest and posts the answer
 * back to the worker (h2o_multithread), which sends it if the request still exists (a guard linked
 * to the request's pool, as the feed pushes do: src/feeds.c).
 */

typedef struct create_job create_job_t;

typedef struct create_guard {
    create_job_t *job; /* NULL once answered */
} create_guard_t;

struct create_job {
    h2o_multithread_message_t message; /* to the worker's create_receiver */
    create_job_t *next;                /* the creator's queue */
    fs_worker_t *worker;
    h2o_req_t *req;                    /* NULL once the request is gone (loop thread only) */
    create_guard_t *guard;
    fs_key_account_t *account;
    fs_watch_criteria_t c;
    uint32_t owner;
    unsigned quota;
    uint64_t started_us;
    /* the answer: 201 with body and id, or an error */
    int status;
    char *body;
    size_t len;
    uint64_t id;
    const char *code, *parameter;
    char msg[400];
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    create_job_t *head, *tail;
    int stop, started;
    pthread_t thread;
    fs_shared_t *shared;
} creator = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0, 0, 0, NULL};

static void create_job_free(create_job_t *job)
{
    fs_watch_criteria_dispose(&job->c);
    free(job->body);
    free(job);
}

static void create_fail(create_job_t *job, int status, const char *code, const char *parameter, const char *msg)
{
    job->status = status;
    job->code = code;
    job->parameter = parameter;
    snprintf(job->msg, sizeof(job->msg), "%s", msg);
}

/* Creator thread: everything but the parsing. */
static void create_run(create_job_t *job, fs_index_thread_t *th)
{
    fs_shared_t *shared = creator.shared;
    char msg[400];
    if (job->c.webhook_url != NULL && fs_webhook_check_url(job->c.webhook_url, shared->config->webhook_allow_private, msg,
                                                           sizeof(msg)) != 0) {
        create_fail(job, 400, "invalid_parameter", "webhook.url", msg);
        return;
    }
    uint64_t matching;
    int rc = fs_watches_add(shared->watches, th, &job->c, job->owner, job->quota, &job->id, &matching);
    if (rc == FS_ENOSPC) {
        snprintf(msg, sizeof(msg), "this key holds its quota of watches already (watches=%u in the keys file); delete one first",
                 job->quota);
        create_fail(job, 403, "watch_quota_exceeded", NULL, msg);
        return;
    }
    if (rc == FS_EIO) {
        create_fail(job, 500, "storage_failed", NULL, "the watch could not be stored durably; it was not created");
        return;
    }
    if (rc == FS_ERANGE) {
        create_fail(job, 409, "too_many_watches", NULL, "this server holds its most watches already; delete some");
        return;
    }
    if (rc != 0) {
        create_fail(job, 503, "out_of_memory", NULL, "out of memory; retry later");
        return;
    }
    fs_enc_t e;
    fs_enc_init(&e, FS_ENC_JSON, NULL, 1024);
    if (fs_watches_encode(shared->watches, job->id, job->owner, &e) != 0) { /* deleted meanwhile by another client */
        fs_enc_dispose(&e);
        fs_enc_init(&e, FS_ENC_JSON, NULL, 64);
        fs_enc_map_begin(&e);
        fs_enc_key_lit(&e, "id");
        fs_enc_uint(&e, job->id);
        fs_enc_map_end(&e);
    }
    /* matching_now joins the map: reopen it by dropping its closing brace */
    h2o_iovec_t doc = fs_enc_result(&e);
    job->body = doc.base != NULL ? malloc(doc.len + 48) : NULL;
    if (job->body == NULL) {
        fs_enc_dispose(&e);
        create_fail(job, 503, "out_of_memory", NULL, "out of memory; retry later");
        return;
    }
    job->len = (size_t)snprintf(job->body, doc.len + 48, "%.*s,\"matching_now\":%llu}", (int)doc.len - 1, doc.base,
                                (unsigned long long)matching);
    fs_enc_dispose(&e);
    job->status = 201;
}

static void *creator_main(void *arg)
{
    (void)arg;
    fs_index_thread_t *th = fs_index_thread_get(creator.shared->index);
    pthread_mutex_lock(&creator.mu);
    for (;;) {
        while (creator.head == NULL && !creator.stop)
            pthread_cond_wait(&creator.cv, &creator.mu);
        if (creator.stop)
            break;
        create_job_t *job = creator.head;
        creator.head = job->next;
        if (creator.head == NULL)
            creator.tail = NULL;
        pthread_mutex_unlock(&creator.mu);
        create_run(job, th);
        h2o_multithread_send_message(&job->worker->create_receiver, &job->message);
        pthread_mutex_lock(&creator.mu);
    }
    for (create_job_t *job = creator.head, *next; job != NULL; job = next) { /* the workers are gone */
        next = job->next;
        create_job_free(job);
    }
    creator.head = creator.tail = NULL;
    pthread_mutex_unlock(&creator.mu);
    fs_index_thread_put(creator.shared->index, th);
    return NULL;
}

int fs_watch_creator_start(fs_shared_t *shared)
{
    creator.shared = shared;
    creator.stop = 0;
    if (pthread_create(&creator.thread, NULL, creator_main, NULL) != 0)
        return FS_ENOMEM;
    creator.started = 1;
    return 0;
}

void fs_watch_creator_stop(void)
{
    if (!creator.started)
        return;
    pthread_mutex_lock(&creator.mu);
    creator.stop = 1;
    pthread_cond_signal(&creator.cv);
    pthread_mutex_unlock(&creator.mu);
    pthread_join(creator.thread, NULL);
    creator.started = 0;
}

static void create_guard_dispose(void *p)
{
    create_guard_t *g = p;
    if (g->job != NULL)
        g->job->req = NULL;
}

/* Event-loop thread: sends the creator's answers whose requests still exist. */
static void on_created(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    fs_worker_t *w = H2O_STRUCT_FROM_MEMBER(fs_worker_t, create_receiver, receiver);
    create_job_t *done = NULL; /* freed once the list is walked */
    /* every message is taken: walk the list, then leave it empty (the jobs are freed below) */
    for (h2o_linklist_t *l = messages->next; l != messages; l = l->next) {
        create_job_t *job = H2O_STRUCT_FROM_MEMBER(create_job_t, message.link, l);
        h2o_req_t *req = job->req;
        if (req != NULL) {
            job->guard->job = NULL;
            w->metrics.key = job->account; /* the answer is counted for the key (fs_keys_authorize) */
            if (job->status == 201) {
                char loc[48];
                int ln = snprintf(loc, sizeof(loc), "/v1/watches/%llu", (unsigned long long)job->id);
                h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_LOCATION, NULL,
                               h2o_strdup(&req->pool, loc, (size_t)ln).base, (size_t)ln);
                char *body = h2o_mem_alloc_pool(&req->pool, job->len);
                memcpy(body, job->body, job->len);
                fs_send_json(req, 201, body, job->len, FS_EP_WATCHES, job->started_us);
            } else {
                fs_send_error(req, job->status, job->code, job->parameter, job->msg, FS_EP_WATCHES, job->started_us);
            }
        }
        job->next = done;
        done = job;
    }
    h2o_linklist_init_anchor(messages);
    for (create_job_t *next; done != NULL; done = next) {
        next = done->next;
        create_job_free(done);
    }
}

static int create_watch(h2o_req_t *req, fs_worker_t *w, uint32_t owner, fs_key_account_t *account, uint64_t started_us)
{
    if (req->entity.len > 16384)
        return fs_send_error(req, 413, "body_too_large", NULL, "a watch's body is at most 16 KiB", FS_EP_WATCHES, started_us);
    create_job_t *job = calloc(1, sizeof(*job));
    if (job == NULL)
        return fs_send_error(req, 503, "out_of_memory", NULL, "out of memory; retry later", FS_EP_WATCHES, started_us);
    fs_param_error_t err;
    const char *body = req->entity.base != NULL ? req->entity.base : "";
    if (fs_watch_parse(body, req->entity.len, &job->c, &err) != 0) {
        free(job);
        return fs_send_error(req, 400, "invalid_parameter", err.parameter[0] ? err.parameter : NULL, err.message, FS_EP_WATCHES,
                             started_us);
    }
    if (!ck_pr_load_int(&w->shared->ready)) { /* the stored watches are restored with the data dir */
        create_job_free(job);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
        return fs_send_error(req, 503, "loading", NULL, "the data dir is still loading; retry in a second", FS_EP_WATCHES,
                             started_us);
    }
    job->worker = w;
    job->req = req;
    job->account = account;
    job->owner = owner;
    job->quota = account != NULL ? fs_key_watch_quota(account) : UINT_MAX;
    job->started_us = started_us;
    job->guard = h2o_mem_alloc_shared(&req->pool, sizeof(*job->guard), create_guard_dispose);
    job->guard->job = job;
    pthread_mutex_lock(&creator.mu);
    if (creator.tail != NULL)
        creator.tail->next = job;
    else
        creator.head = job;
    creator.tail = job;
    pthread_cond_signal(&creator.cv);
    pthread_mutex_unlock(&creator.mu);
    return 0; /* answered by on_created */
}

/* The id in /v1/watches/{id}[/events]; 0 when malformed. *rest gets what follows it. */
static uint64_t path_id(h2o_iovec_t p, h2o_iovec_t *rest)
{
    uint64_t id = 0;
    size_t i = 12, digits = 0;
    for (; i < p.len && p.base[i] >= '0' && p.base[i] <= '9' && digits < 19; i++, digits++)
        id = id * 10 + (uint64_t)(p.base[i] - '0');
    *rest = h2o_iovec_init(p.base + i, p.len - i);
    return digits > 0 ? id : 0;
}

int fs_handle_watches(h2o_req_t *req, fs_worker_t *w, fs_key_account_t *account, uint64_t started_us)
{
    h2o_iovec_t p = req->path_normalized, rest;
    int is_get = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"));
    int is_head = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    int is_post = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"));
    int is_delete = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("DELETE"));
    fs_watches_t *ws = w->shared->watches;
    uint64_t id = 0;
    int stream = 0;
    uint32_t owner = FS_WATCH_ANY_OWNER;
    if (account != NULL) { /* the name's handle, looked up once per name (the engine scans its owners) */
        uint32_t h = __atomic_load_n(&account->watch_owner, __ATOMIC_RELAXED);
        if (h == 0) {
            owner = fs_watches_owner(ws, account->name);
            if (owner != FS_WATCH_ANY_OWNER)
                __atomic_store_n(&account->watch_owner, owner + 1, __ATOMIC_RELAXED);
        } else {
            owner = h - 1;
        }
    }
    if (account != NULL && owner == FS_WATCH_ANY_OWNER) {
        fs_track_request(req, w);
        return fs_send_error(req, 503, "out_of_memory", NULL, "out of memory; retry later", FS_EP_WATCHES, started_us);
    }
    if (h2o_memis(p.base, p.len, H2O_STRLIT("/v1/events"))) {
        stream = 1;
    } else if (p.len > 12) {
        id = path_id(p, &rest);
        stream = id != 0 && h2o_memis(rest.base, rest.len, H2O_STRLIT("/events"));
        if (id == 0 || (rest.len != 0 && !stream)) {
            fs_track_request(req, w);
            return fs_send_error(req, 404, "not_found", NULL, "no such path; watches are at /v1/watches/{id} (a number)",
                                 FS_EP_WATCHES, started_us);
        }
    }
    if (stream) {
        if (!is_get) {
            fs_track_request(req, w);
            return method_not_allowed(req, "GET", started_us);
        }
        if (id != 0 && !fs_watches_exists(ws, id, owner)) {
            fs_track_request(req, w);
            return fs_send_error(req, 404, "not_found", NULL, "no such watch", FS_EP_WATCHES, started_us);
        }
        return open_stream(req, w, id, owner, started_us);
    }
    fs_track_request(req, w);
    if (id == 0) { /* /v1/watches */
        if (is_post)
            return create_watch(req, w, owner, account, started_us);
        if (!is_get && !is_head)
            return method_not_allowed(req, "GET, HEAD, POST", started_us);
        fs_enc_t e;
        fs_enc_init(&e, FS_ENC_JSON, &req->pool, 4096);
        fs_enc_map_begin(&e);
        fs_enc_key_lit(&e, "watches");
        fs_watches_encode_all(ws, owner, &e);
        fs_enc_key_lit(&e, "last_event_id");
        fs_enc_uint(&e, fs_watches_last_event_id(ws));
        fs_enc_map_end(&e);
        send_enc(req, 200, &e, started_us);
        return 0;
    }
    if (is_delete) {
        int rc = fs_watches_remove(ws, id, owner);
        if (rc == FS_EIO)
            return fs_send_error(req, 500, "storage_failed", NULL, "the deletion could not be stored durably; the watch stays",
                                 FS_EP_WATCHES, started_us);
        if (rc != 0)
            return fs_send_error(req, 404, "not_found", NULL, "no such watch", FS_EP_WATCHES, started_us);
        fs_send_json(req, 204, "", 0, FS_EP_WATCHES, started_us);
        return 0;
    }
    if (!is_get && !is_head)
        return method_not_allowed(req, "GET, HEAD, DELETE", started_us);
    fs_enc_t e;
    fs_enc_init(&e, FS_ENC_JSON, &req->pool, 1024);
    if (fs_watches_encode(ws, id, owner, &e) != 0)
        return fs_send_error(req, 404, "not_found", NULL, "no such watch", FS_EP_WATCHES, started_us);
    send_enc(req, 200, &e, started_us);
    return 0;
}
