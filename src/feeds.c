/*
 * src/feeds.c: the feed endpoints. Everything that costs more than a memcpy happens on a loader
 * thread; the event loop only checks the request, copies the body, queues a job and later sends
 * the loader's answer.
 *
 *   PUT    /v1/feeds/{source}/snapshot   replace a source
 *   POST   /v1/feeds/{source}/deltas     upsert and remove legs
 *   GET    /v1/feeds, /v1/feeds/{source} status
 *   DELETE /v1/feeds/{source}            retire a source (scope * only)
 *
 * Why the body is copied: libh2o 2.2.5 buffers the whole body before the handler runs, but the
 * request (and that buffer) is freed if the client disconnects while the loader works. The job
 * owns a copy instead (memcpy runs at ~10 GB/s: 1 ms per 10 MB), and a pool-linked guard tells the
 * answer path whether the request still exists: its dispose callback, run on this loop when the
 * request's pool is cleared, detaches the job.
 */
#include <string.h>
#include <ck_pr.h>
#include "loaders/loaders.h"
#include "src/internal.h"

typedef struct push_job push_job_t;

typedef struct req_guard {
    push_job_t *job; /* NULL once the answer was sent */
} req_guard_t;

struct push_job {
    fs_feed_job_t job; /* first: fs_feed_job_free frees the whole push_job */
    h2o_multithread_message_t message;
    fs_worker_t *worker;
    h2o_req_t *req;    /* NULL once the request is gone */
    req_guard_t *guard;
    uint64_t started_us;
};

static void guard_dispose(void *p)
{
    req_guard_t *g = p;
    if (g->job != NULL)
        g->job->req = NULL;
}

/* Loader thread: post the finished job back to its event loop. */
static void on_job_done(fs_feed_job_t *job)
{
    push_job_t *pj = (push_job_t *)job;
    h2o_multithread_send_message(&pj->worker->feed_receiver, &pj->message);
}

/* Event-loop thread: answer every finished job whose request still exists. */
void fs_feeds_on_answers(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    (void)receiver;
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *m = H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&m->link);
        push_job_t *pj = H2O_STRUCT_FROM_MEMBER(push_job_t, message, m);
        if (pj->req != NULL) {
            pj->guard->job = NULL;
            if (pj->job.retry_after > 0) /* a replica's log unavailable or lagging: retry the same body */
                h2o_add_header(&pj->req->pool, &pj->req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
            fs_send_json(pj->req, pj->job.status, pj->job.response, pj->job.response_len, FS_EP_FEEDS, pj->started_us);
        }
        fs_feed_job_free(&pj->job);
    }
}

/* 401/403 with the reason; 0 when the request may proceed. */
static int authorize(h2o_req_t *req, fs_worker_t *w, const char *source, int want_all, uint64_t started_us)
{
    if (!fs_auth_enabled()) {
        fs_send_error(req, 403, "feeds_disabled", NULL,
                      "feed endpoints are disabled: start the server with --tokens FILE (lines of 'TOKEN SCOPE'; see "
                      "docs/feeds.md); searches stay open",
                      FS_EP_FEEDS, started_us);
        return -1;
    }
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    const char *value = i >= 0 ? req->headers.entries[i].value.base : NULL;
    size_t len = i >= 0 ? req->headers.entries[i].value.len : 0;
    /* cppcheck-suppress shadowFunction ; an HTTP status; status() is not called here */
    int status = fs_auth_check(&w->auth_record, value, len, source, want_all, NULL, 0);
    if (status == 401) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL, H2O_STRLIT("Bearer realm=\"flightsearch feeds\""));
        fs_send_error(req, 401, "unauthorized", NULL,
                      i >= 0 ? "the bearer token is not known to this server" : "an 'Authorization: Bearer TOKEN' header is required",
                      FS_EP_FEEDS, started_us);
        return -1;
    }
    if (status == 403) {
        char msg[160];
        if (want_all)
            snprintf(msg, sizeof(msg), "retiring a source needs a token with scope *");
        else
            snprintf(msg, sizeof(msg), "this token's scope does not include source %s", source ? source : "");
        fs_send_error(req, 403, "forbidden", NULL, msg, FS_EP_FEEDS, started_us);
        return -1;
    }
    return 0;
}

static int not_allowed(h2o_req_t *req, const char *allow, uint64_t started_us)
{
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, allow, strlen(allow));
    char msg[160];
    snprintf(msg, sizeof(msg), "%.*s is not allowed here; allowed: %s", (int)(req->method.len > 16 ? 16 : req->method.len),
             req->method.base, allow);
    return fs_send_error(req, 405, "method_not_allowed", NULL, msg, FS_EP_FEEDS, started_us);
}

static int submit(h2o_req_t *req, fs_worker_t *w, fs_feed_op_t op, const char *source, uint64_t started_us)
{
    fs_feeds_t *feeds = ck_pr_load_ptr(&w->shared->feeds);
    if (feeds == NULL || !ck_pr_load_int(&w->shared->ready)) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
        return fs_send_error(req, 503, "loading", NULL, "the server is still restoring its data; retry in a second", FS_EP_FEEDS,
                             started_us);
    }
    fs_feed_format_t format = FS_FEED_JSON;
    if (op != FS_FEED_OP_DELETE) {
        ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
        h2o_iovec_t ct = i >= 0 ? req->headers.entries[i].value : h2o_iovec_init(H2O_STRLIT(""));
        if (h2o_strstr(ct.base, ct.len, H2O_STRLIT("application/msgpack")) != SIZE_MAX ||
            h2o_strstr(ct.base, ct.len, H2O_STRLIT("application/x-msgpack")) != SIZE_MAX)
            format = FS_FEED_MSGPACK;
        else if (h2o_strstr(ct.base, ct.len, H2O_STRLIT("application/json")) != SIZE_MAX)
            format = FS_FEED_JSON;
        else
            return fs_send_error(req, 415, "unsupported_media_type", NULL,
                                 "Content-Type must be application/msgpack or application/json", FS_EP_FEEDS, started_us);
        if (req->entity.base == NULL || req->entity.len == 0)
            return fs_send_error(req, 400, "malformed_feed", NULL, "the request has no body", FS_EP_FEEDS, started_us);
    }
    push_job_t *pj = calloc(1, sizeof(*pj));
    if (pj == NULL || (op != FS_FEED_OP_DELETE && (pj->job.body = malloc(req->entity.len)) == NULL)) {
        free(pj);
        return fs_send_error(req, 503, "out_of_memory", NULL, "cannot take the body now; retry", FS_EP_FEEDS, started_us);
    }
    if (op != FS_FEED_OP_DELETE) {
        memcpy(pj->job.body, req->entity.base, req->entity.len);
        pj->job.len = req->entity.len;
    }
    pj->job.op = op;
    pj->job.format = format;
    snprintf(pj->job.source, sizeof(pj->job.source), "%s", source);
    pj->job.origin = "push";
    const char *trace = fs_trace_id_of(req);
    if (trace != NULL) {
        memcpy(pj->job.trace_id, trace, FS_TRACE_ID_LEN);
        pj->job.trace_id[FS_TRACE_ID_LEN] = '\0';
    }
    pj->job.done = on_job_done;
    pj->worker = w;
    pj->req = req;
    pj->started_us = started_us;
    pj->guard = h2o_mem_alloc_shared(&req->pool, sizeof(*pj->guard), guard_dispose);
    pj->guard->job = pj;
    fs_replica_t *replica = ck_pr_load_ptr(&w->shared->replica);
    int rc = replica != NULL ? fs_replica_submit(replica, &pj->job) : fs_feeds_submit(feeds, &pj->job);
    if (rc != 0) {
        pj->guard->job = NULL;
        fs_feed_job_free(&pj->job);
        unsigned source_jobs;
        uint64_t queued_bytes;
        fs_feeds_limits(feeds, &source_jobs, &queued_bytes);
        char msg[300];
        const char *code = "busy";
        if (rc == FS_EBUSY)
            snprintf(msg, sizeof(msg), "source %s already has %u pushes or %llu bytes queued; retry in a second", source, source_jobs,
                     (unsigned long long)(queued_bytes / 2));
        else if (rc == FS_ENOSPC) {
            code = "queued_bytes_full";
            snprintf(msg, sizeof(msg), "pushes waiting for their loaders hold the server's %llu-byte budget; retry in a second",
                     (unsigned long long)queued_bytes);
        } else
            snprintf(msg, sizeof(msg), "the server is stopping; retry in a second");
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
        return fs_send_error(req, 503, code, NULL, msg, FS_EP_FEEDS, started_us);
    }
    return 0; /* answered later by fs_feeds_on_answers */
}

static int status(h2o_req_t *req, fs_worker_t *w, const char *source, uint64_t started_us)
{
    fs_feeds_t *feeds = ck_pr_load_ptr(&w->shared->feeds);
    if (feeds == NULL) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
        return fs_send_error(req, 503, "loading", NULL, "the server is still restoring its data", FS_EP_FEEDS, started_us);
    }
    size_t len;
    char *doc = fs_feeds_status_json(feeds, &w->index_thread, source, &len);
    if (doc == NULL) {
        char msg[96];
        snprintf(msg, sizeof(msg), "no source named %s", source);
        return fs_send_error(req, 404, "unknown_source", NULL, msg, FS_EP_FEEDS, started_us);
    }
    fs_send_json(req, 200, doc, len, FS_EP_FEEDS, started_us);
    free(doc);
    return 0;
}

int fs_handle_feeds(h2o_req_t *req, fs_worker_t *w, uint64_t started_us)
{
    /* path after "/v1/feeds": "", "/{source}", "/{source}/snapshot" or "/{source}/deltas" */
    h2o_iovec_t path = req->path_normalized;
    const char *rest = path.base + strlen("/v1/feeds");
    size_t rest_len = path.len - strlen("/v1/feeds");
    int is_get = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"));
    if (rest_len == 0 || (rest_len == 1 && rest[0] == '/')) {
        if (!is_get)
            return not_allowed(req, "GET", started_us);
        if (authorize(req, w, NULL, 0, started_us) != 0)
            return 0;
        return status(req, w, NULL, started_us);
    }
    if (rest[0] != '/')
        return fs_send_error(req, 404, "not_found", NULL, "no endpoint at that path (see docs/feeds.md)", FS_EP_FEEDS, started_us);
    rest++;
    rest_len--;
    const char *slash = memchr(rest, '/', rest_len);
    size_t source_len = slash ? (size_t)(slash - rest) : rest_len;
    h2o_iovec_t action = slash ? h2o_iovec_init(slash + 1, rest_len - source_len - 1) : h2o_iovec_init("", 0);
    if (!fs_feed_source_valid(rest, source_len)) {
        char msg[160];
        snprintf(msg, sizeof(msg), "'%.*s' is not a source name: use 1-32 characters from a-z, 0-9, _ and -",
                 (int)(source_len > 40 ? 40 : source_len), rest);
        return fs_send_error(req, 400, "invalid_source", "source", msg, FS_EP_FEEDS, started_us);
    }
    char source[FS_SOURCE_NAME_MAX + 1];
    memcpy(source, rest, source_len);
    source[source_len] = '\0';

    if (action.len == 0) {
        int is_delete = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("DELETE"));
        if (!is_get && !is_delete)
            return not_allowed(req, "GET, DELETE", started_us);
        if (authorize(req, w, source, is_delete, started_us) != 0)
            return 0;
        return is_get ? status(req, w, source, started_us) : submit(req, w, FS_FEED_OP_DELETE, source, started_us);
    }
    fs_feed_op_t op;
    const char *method;
    if (h2o_memis(action.base, action.len, H2O_STRLIT("snapshot"))) {
        op = FS_FEED_OP_SNAPSHOT;
        method = "PUT";
    } else if (h2o_memis(action.base, action.len, H2O_STRLIT("deltas"))) {
        op = FS_FEED_OP_DELTA;
        method = "POST";
    } else {
        return fs_send_error(req, 404, "not_found", NULL, "no endpoint at that path: use /snapshot (PUT) or /deltas (POST)",
                             FS_EP_FEEDS, started_us);
    }
    if (!h2o_memis(req->method.base, req->method.len, method, strlen(method)))
        return not_allowed(req, method, started_us);
    if (w->shared->config->feed_listen_enabled && !fs_on_feed_listener(req)) {
        char msg[400];
        snprintf(msg, sizeof(msg), "this server takes pushes on its feed address (--feed-listen %s:%u), not on this one",
                 w->shared->config->feed_listen_host, w->shared->config->feed_listen_port);
        return fs_send_error(req, 421, "use_feed_listener", NULL, msg, FS_EP_FEEDS, started_us);
    }
    if (authorize(req, w, source, 0, started_us) != 0)
        return 0;
    return submit(req, w, op, source, started_us);
}
