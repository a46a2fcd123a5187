/*
 * src/access_log.c: --access-log FILE|-, one line per request, written when h2o disposes the
 * request (its response sent, or its connection gone):
 *
 *   text  TIME METHOD PATH STATUS BYTES DURATION_US TRACE_ID SOURCE    ("-" for what is absent)
 *   json  {"time", "method", "path", "status", "bytes", "duration_us", "trace_id", "source"?}
 *
 * TIME is when the request began (UTC, microseconds), BYTES the body bytes sent, DURATION_US from
 * the request's start to its disposal, SOURCE the feed source of /v1/feeds/{source}... requests.
 *
 * Hot path: a line is formatted into its worker's own buffer (no lock, no syscall); the buffer is
 * written out when it passes FS_ACCESS_LOG_FLUSH_BYTES or, from the worker's loop, when its oldest
 * line is FS_ACCESS_LOG_FLUSH_MS old, and at shutdown. The write itself takes a process-wide
 * mutex, so whole buffers of whole lines never interleave, also on a pipe where writes over
 * PIPE_BUF are not atomic: one lock and one write(2) per 64 KiB or per quarter second, not per
 * request. SIGHUP reopens FILE (log rotation) under the same mutex.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "loaders/loaders.h"
#include "src/internal.h"

#define FS_ACCESS_LOG_FLUSH_BYTES (64 * 1024)
#define FS_ACCESS_LOG_FLUSH_MS 250
#define FS_ACCESS_LOG_LINE_MAX 8192 /* room kept free for one line; longer paths are cut */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = -1;
static const char *log_path;

int fs_access_log_open(const char *path, char *err, size_t errcap)
{
    log_path = path;
    if (strcmp(path, "-") == 0) {
        log_fd = STDOUT_FILENO;
        return 0;
    }
    log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (log_fd < 0) {
        snprintf(err, errcap, "--access-log %s: cannot open: %s", path, strerror(errno));
        return FS_EIO;
    }
    return 0;
}

int fs_access_log_reopen(char *err, size_t errcap)
{
    if (log_path == NULL || log_fd == STDOUT_FILENO)
        return 0;
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
        snprintf(err, errcap, "--access-log %s: cannot reopen: %s; still writing to the old file", log_path, strerror(errno));
        return FS_EIO;
    }
    pthread_mutex_lock(&log_lock);
    dup2(fd, log_fd); /* the same descriptor number now names the new file: nothing else changes */
    pthread_mutex_unlock(&log_lock);
    close(fd);
    return 0;
}

int fs_access_log_enabled(void)
{
    return log_fd >= 0;
}

void fs_access_log_flush(fs_worker_t *w, int64_t now_ms, int force)
{
    if (w->alog_len == 0 ||
        (!force && w->alog_len < FS_ACCESS_LOG_FLUSH_BYTES && now_ms - w->alog_since_ms < FS_ACCESS_LOG_FLUSH_MS))
        return;
    pthread_mutex_lock(&log_lock);
    const char *p = w->alog_buf;
    size_t left = w->alog_len;
    while (left > 0) {
        ssize_t n = write(log_fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* a full disk: the lines are dropped rather than blocking the event loop */
        p += n;
        left -= (size_t)n;
    }
    pthread_mutex_unlock(&log_lock);
    w->alog_len = 0;
}

/* Text: bytes a log reader would split on (space, control, non-ASCII, backslash) as \xHH. */
static size_t escape_text(const char *s, size_t len, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    for (size_t i = 0; i < len && n + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || c == '\\' || c == '"') {
            out[n++] = '\\';
            out[n++] = 'x';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        } else {
            out[n++] = (char)c;
        }
    }
    out[n] = '\0';
    return n;
}

/* The source of a /v1/feeds/{source}... path, or an empty iovec. */
static h2o_iovec_t feed_source(const h2o_req_t *req)
{
    h2o_iovec_t p = req->path_normalized;
    if (p.len <= 10 || memcmp(p.base, "/v1/feeds/", 10) != 0)
        return h2o_iovec_init(NULL, 0);
    const char *s = p.base + 10, *end = memchr(s, '/', p.len - 10);
    size_t len = end != NULL ? (size_t)(end - s) : p.len - 10;
    return fs_feed_source_valid(s, len) ? h2o_iovec_init(s, len) : h2o_iovec_init(NULL, 0);
}

void fs_access_log_request(fs_worker_t *w, h2o_req_t *req)
{
    if (log_fd < 0)
        return;
    if (w->alog_buf == NULL) {
        w->alog_buf = malloc(FS_ACCESS_LOG_FLUSH_BYTES + FS_ACCESS_LOG_LINE_MAX);
        if (w->alog_buf == NULL)
            return;
    }
    struct timespec now, began;
    clock_gettime(CLOCK_REALTIME, &now); /* vDSO: no syscall */
    began.tv_sec = req->timestamps.request_begin_at.tv_sec;
    began.tv_nsec = (long)req->timestamps.request_begin_at.tv_usec * 1000;
    if (began.tv_sec == 0)
        began = now;
    int64_t duration_us = ((int64_t)now.tv_sec - began.tv_sec) * 1000000 + (now.tv_nsec - began.tv_nsec) / 1000;
    if (duration_us < 0)
        duration_us = 0;
    char when[32];
    fs_log_time(&began, when);
    const char *trace = fs_trace_id_of(req);
    h2o_iovec_t source = feed_source(req);
    h2o_iovec_t path = req->input.path.base != NULL ? req->input.path : req->path;
    size_t path_len = path.len > 2000 ? 2000 : path.len, method_len = req->method.len > 16 ? 16 : req->method.len;
    char method[100], target[FS_ACCESS_LOG_LINE_MAX - 512];
    char *line = w->alog_buf + w->alog_len;
    int n;
    if (fs_log_get_format() == FS_LOG_JSON) {
        fs_json_escape(req->method.base, method_len, method, sizeof(method));
        fs_json_escape(path.base, path_len, target, sizeof(target));
        n = snprintf(line, FS_ACCESS_LOG_LINE_MAX,
                     "{\"time\":\"%s\",\"method\":\"%s\",\"path\":\"%s\",\"status\":%d,\"bytes\":%zu,\"duration_us\":%lld,"
                     "\"trace_id\":\"%.*s\"%s%.*s%s}\n",
                     when, method, target, req->res.status, req->bytes_sent, (long long)duration_us,
                     trace != NULL ? FS_TRACE_ID_LEN : 0, trace != NULL ? trace : "", source.len ? ",\"source\":\"" : "",
                     (int)source.len, source.len ? source.base : "", source.len ? "\"" : "");
    } else {
        escape_text(req->method.base, method_len, method, sizeof(method));
        escape_text(path.base, path_len, target, sizeof(target));
        n = snprintf(line, FS_ACCESS_LOG_LINE_MAX, "%s %s %s %d %zu %lld %.*s %.*s\n", when, method[0] ? method : "-",
                     target[0] ? target : "-", req->res.status, req->bytes_sent, (long long)duration_us,
                     trace != NULL ? FS_TRACE_ID_LEN : 1, trace != NULL ? trace : "-", source.len ? (int)source.len : 1,
                     source.len ? source.base : "-");
    }
    if (n <= 0 || n >= FS_ACCESS_LOG_LINE_MAX)
        return;
    if (w->alog_len == 0)
        w->alog_since_ms = fs_monotonic_ms();
    w->alog_len += (size_t)n;
    if (w->alog_len >= FS_ACCESS_LOG_FLUSH_BYTES)
        fs_access_log_flush(w, 0, 1);
}
