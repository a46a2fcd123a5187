/*
 * bench/load/engine.c: the client side of flightsearch-load (see load.h).
 *
 * One epoll loop, level-triggered, and connections that each speak HTTP/2 through an nghttp2
 * session driven with its memory API (bytes in: nghttp2_session_mem_recv; bytes out:
 * nghttp2_session_mem_send into the connection's output buffer), or HTTP/1.1 with one request at
 * a time per keep-alive connection (no pipelining: answers to a pipeline come in order, so one
 * slow answer would be charged to the requests behind it and measure the client, not the server).
 * TLS sits under either: OpenSSL on the non-blocking socket, ALPN choosing h2 or http/1.1.
 *
 * Requests wait in one FIFO until a connection has room (an HTTP/2 stream under the server's
 * MAX_CONCURRENT_STREAMS and --streams, or an idle HTTP/1.1 connection); for HTTP/1.1 a new
 * connection is opened while requests wait, up to max_connections. The caller measures latency
 * from when it wanted the request sent, so the wait here is charged (no coordinated omission).
 *
 * A connection that fails (refused, reset, closed mid-answer, GOAWAY) completes what it carried
 * with FS_LOAD_ERR_CONN and is replaced, at most once per 100 ms per slot so that a dead target does not
 * make the loop spin.
 */
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include "bench/load/load.h"

enum { S_CLOSED, S_CONNECTING, S_HANDSHAKE, S_READY };

typedef struct fs_load_req {
    struct fs_load_req *next, *prev; /* the wait FIFO, then the connection's in-flight list */
    const char *path;
    void *user;
    int64_t sent_ns;
    int status;
    char *body;
    size_t body_len, body_cap;
} fs_load_req_t;

typedef struct fs_load_conn {
    struct fs_load_engine *e;
    int fd;
    SSL *ssl;
    int state;
    int h2;
    nghttp2_session *h2s;
    unsigned active;         /* requests written and not yet answered */
    fs_load_req_t *inflight; /* doubly linked; HTTP/1.1 holds at most one */
    char *out;
    size_t out_len, out_off, out_cap;
    char *in; /* HTTP/1.1: bytes of the answer being read */
    size_t in_len, in_cap;
    int want_out;
    int64_t retry_ns; /* a failed slot is reopened no sooner than this */
} fs_load_conn_t;

struct fs_load_engine {
    fs_load_target_t t;
    fs_load_engine_opts_t o;
    struct addrinfo *ai;
    SSL_CTX *ssl_ctx;
    int ep;
    fs_load_conn_t *conns;
    unsigned conn_cap, conn_used;
    fs_load_req_t *wait_head, *wait_tail;
    uint64_t waiting, pending;
    fs_load_engine_stats_t st;
    const char *protocol;
    unsigned rotor;
    int last_errno; /* of the last failed connect, for the message */
};

int64_t fs_load_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int fs_load_target_parse(fs_load_target_t *t, const char *url, char *err, size_t errcap)
{
    const char *p;
    if (strncmp(url, "http://", 7) == 0) {
        t->tls = 0;
        p = url + 7;
    } else if (strncmp(url, "https://", 8) == 0) {
        t->tls = 1;
        p = url + 8;
    } else {
        snprintf(err, errcap, "target: expected http://HOST[:PORT] or https://HOST[:PORT], got '%s'", url);
        return -1;
    }
    size_t hostlen = strcspn(p, "/");
    const char *slash = p + hostlen;
    if (hostlen == 0 || hostlen >= sizeof(t->authority)) {
        snprintf(err, errcap, "target: no host in '%s'", url);
        return -1;
    }
    memcpy(t->authority, p, hostlen);
    t->authority[hostlen] = '\0';
    const char *hp = t->authority, *portp = NULL;
    size_t hl;
    if (hp[0] == '[') { /* [IPv6]:port */
        const char *close = strchr(hp, ']');
        if (close == NULL) {
            snprintf(err, errcap, "target: unterminated IPv6 address in '%s'", url);
            return -1;
        }
        hl = (size_t)(close - hp - 1);
        hp++;
        if (close[1] == ':')
            portp = close + 2;
    } else {
        const char *colon = strrchr(hp, ':');
        hl = colon ? (size_t)(colon - hp) : strlen(hp);
        if (colon)
            portp = colon + 1;
    }
    if (hl == 0 || hl >= sizeof(t->host)) {
        snprintf(err, errcap, "target: bad host in '%s'", url);
        return -1;
    }
    memcpy(t->host, hp, hl);
    t->host[hl] = '\0';
    if (portp != NULL) {
        char *end;
        long port = strtol(portp, &end, 10);
        if (*end != '\0' || port < 1 || port > 65535) {
            snprintf(err, errcap, "target: bad port in '%s'", url);
            return -1;
        }
        snprintf(t->port, sizeof(t->port), "%ld", port);
    } else {
        snprintf(t->port, sizeof(t->port), "%s", t->tls ? "443" : "80");
    }
    size_t plen = strlen(slash);
    while (plen > 0 && slash[plen - 1] == '/')
        plen--;
    if (plen >= sizeof(t->prefix)) {
        snprintf(err, errcap, "target: path prefix too long in '%s'", url);
        return -1;
    }
    memcpy(t->prefix, slash, plen);
    t->prefix[plen] = '\0';
    return 0;
}

int fs_load_header_is_secret(const char *name, size_t len)
{
    static const char *const exact[] = {"authorization", "proxy-authorization", "cookie"};
    static const char *const part[] = {"key", "token", "secret"};
    char low[128];
    if (len >= sizeof(low))
        return 1;
    for (size_t i = 0; i < len; i++)
        low[i] = (char)tolower((unsigned char)name[i]);
    low[len] = '\0';
    for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
        if (strcmp(low, exact[i]) == 0)
            return 1;
    for (size_t i = 0; i < sizeof(part) / sizeof(part[0]); i++)
        if (strstr(low, part[i]) != NULL)
            return 1;
    return 0;
}

/* ------------------------------------------------------------------ buffers */

static void *xrealloc(void *p, size_t n)
{
    void *r = realloc(p, n);
    if (r == NULL) {
        fprintf(stderr, "flightsearch-load: out of memory\n");
        exit(1);
    }
    return r;
}

static void out_append(fs_load_conn_t *c, const void *p, size_t n)
{
    if (c->out_len + n > c->out_cap) {
        c->out_cap = (c->out_len + n) * 2 + 4096;
        c->out = xrealloc(c->out, c->out_cap);
    }
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
}

static void body_append(fs_load_engine_t *e, fs_load_req_t *r, const void *p, size_t n)
{
    if (r->body_len >= e->o.max_body)
        return;
    if (n > e->o.max_body - r->body_len)
        n = e->o.max_body - r->body_len;
    if (r->body_len + n + 1 > r->body_cap) {
        r->body_cap = (r->body_len + n + 1) * 2;
        r->body = xrealloc(r->body, r->body_cap);
    }
    memcpy(r->body + r->body_len, p, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
}

/* ------------------------------------------------------------- completions */

static void inflight_add(fs_load_conn_t *c, fs_load_req_t *r)
{
    r->prev = NULL;
    r->next = c->inflight;
    if (c->inflight)
        c->inflight->prev = r;
    c->inflight = r;
    c->active++;
}

static void inflight_remove(fs_load_conn_t *c, fs_load_req_t *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        c->inflight = r->next;
    if (r->next)
        r->next->prev = r->prev;
    c->active--;
}

static void complete(fs_load_engine_t *e, fs_load_req_t *r, int err)
{
    e->pending--;
    e->o.done(e->o.ctx, r->user, err ? 0 : r->status, r->body ? r->body : "", r->body_len, r->sent_ns, fs_load_now_ns(), err);
    free(r->body);
    free(r);
}

/* Completes every request the connection carries with err; the list is detached first. */
static void fail_inflight(fs_load_conn_t *c, int err)
{
    fs_load_req_t *r = c->inflight;
    c->inflight = NULL;
    c->active = 0;
    while (r != NULL) {
        fs_load_req_t *next = r->next;
        complete(c->e, r, err);
        r = next;
    }
}

/* ------------------------------------------------------------- connections */

static void conn_watch(fs_load_conn_t *c, int out)
{
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.u32 = (uint32_t)(c - c->e->conns)};
    epoll_ctl(c->e->ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = out;
}

static void conn_close(fs_load_conn_t *c, int failed)
{
    fs_load_engine_t *e = c->e;
    if (c->state == S_CLOSED)
        return;
    fail_inflight(c, FS_LOAD_ERR_CONN);
    if (c->h2s) {
        nghttp2_session_del(c->h2s);
        c->h2s = NULL;
    }
    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    epoll_ctl(e->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->state = S_CLOSED;
    c->out_len = c->out_off = c->in_len = 0;
    c->active = 0;
    c->retry_ns = fs_load_now_ns() + (failed ? 100000000 : 0);
    if (failed)
        e->st.conn_resets++;
    e->st.open_connections--;
}

static int conn_open(fs_load_conn_t *c)
{
    fs_load_engine_t *e = c->e;
    int fd = socket(e->ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        e->st.connect_failures++;
        c->retry_ns = fs_load_now_ns() + 100000000;
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    e->st.connects++;
    if (connect(fd, e->ai->ai_addr, e->ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
        e->last_errno = errno;
        e->st.connect_failures++;
        close(fd);
        c->retry_ns = fs_load_now_ns() + 100000000;
        return -1;
    }
    c->fd = fd;
    c->state = S_CONNECTING;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)(c - e->conns)};
    if (epoll_ctl(e->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        close(fd);
        c->fd = -1;
        c->state = S_CLOSED;
        return -1;
    }
    c->want_out = 1;
    e->st.open_connections++;
    return 0;
}

/* A failed connect: the slot waits, and when no connection at all can carry them, the requests
 * waiting fail too (a refused target answers nothing; waiting would only hide it). */
static void connect_failed(fs_load_conn_t *c)
{
    fs_load_engine_t *e = c->e;
    e->st.connect_failures++;
    conn_close(c, 1);
    e->st.conn_resets--; /* not a reset: it never connected */
    for (unsigned i = 0; i < e->conn_used; i++)
        if (e->conns[i].state != S_CLOSED)
            return;
    while (e->wait_head) {
        fs_load_req_t *r = e->wait_head;
        e->wait_head = r->next;
        e->waiting--;
        r->sent_ns = fs_load_now_ns();
        complete(e, r, FS_LOAD_ERR_CONN);
    }
    e->wait_tail = NULL;
}

/* ------------------------------------------------------------------ raw I/O */

/* > 0 bytes, 0 would block, -1 closed or failed. */
static ssize_t conn_read(fs_load_conn_t *c, char *buf, size_t n)
{
    if (c->ssl) {
        ERR_clear_error();
        int r = SSL_read(c->ssl, buf, (int)n);
        if (r > 0)
            return r;
        int x = SSL_get_error(c->ssl, r);
        return (x == SSL_ERROR_WANT_READ || x == SSL_ERROR_WANT_WRITE) ? 0 : -1;
    }
    for (;;) {
        ssize_t r = read(c->fd, buf, n);
        if (r > 0)
            return r;
        if (r < 0 && errno == EINTR)
            continue;
        return (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) ? 0 : -1;
    }
}

static ssize_t conn_write(fs_load_conn_t *c, const char *buf, size_t n)
{
    if (c->ssl) {
        ERR_clear_error();
        int r = SSL_write(c->ssl, buf, (int)(n > 1 << 20 ? 1 << 20 : n));
        if (r > 0)
            return r;
        int x = SSL_get_error(c->ssl, r);
        return (x == SSL_ERROR_WANT_READ || x == SSL_ERROR_WANT_WRITE) ? 0 : -1;
    }
    for (;;) {
        ssize_t r = write(c->fd, buf, n);
        if (r >= 0)
            return r;
        if (errno == EINTR)
            continue;
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
    }
}

/* Moves nghttp2's pending frames into the output buffer, then writes what the socket takes. */
static void conn_flush(fs_load_conn_t *c)
{
    if (c->state != S_READY)
        return;
    if (c->h2s) {
        const uint8_t *data;
        ssize_t n;
        while ((n = nghttp2_session_mem_send(c->h2s, &data)) > 0)
            out_append(c, data, (size_t)n);
        if (n < 0) {
            conn_close(c, 1);
            return;
        }
    }
    while (c->out_off < c->out_len) {
        ssize_t n = conn_write(c, c->out + c->out_off, c->out_len - c->out_off);
        if (n < 0) {
            conn_close(c, 1);
            return;
        }
        if (n == 0)
            break;
        c->out_off += (size_t)n;
    }
    if (c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    int need = c->out_len > 0;
    if (need != c->want_out)
        conn_watch(c, need);
}

/* ----------------------------------------------------------------- HTTP/2 */

static int h2_on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t namelen, const uint8_t *value,
                        size_t valuelen, uint8_t flags, void *ud)
{
    (void)flags;
    (void)ud;
    (void)valuelen;
    if (f->hd.type != NGHTTP2_HEADERS || namelen != 7 || memcmp(name, ":status", 7) != 0)
        return 0;
    fs_load_req_t *r = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (r != NULL)
        r->status = (int)strtol((const char *)value, NULL, 10);
    return 0;
}

static int h2_on_data(nghttp2_session *s, uint8_t flags, int32_t stream_id, const uint8_t *data, size_t len, void *ud)
{
    (void)flags;
    fs_load_conn_t *c = ud;
    fs_load_req_t *r = nghttp2_session_get_stream_user_data(s, stream_id);
    if (r != NULL)
        body_append(c->e, r, data, len);
    return 0;
}

static int h2_on_close(nghttp2_session *s, int32_t stream_id, uint32_t error_code, void *ud)
{
    fs_load_conn_t *c = ud;
    fs_load_req_t *r = nghttp2_session_get_stream_user_data(s, stream_id);
    if (r == NULL)
        return 0;
    nghttp2_session_set_stream_user_data(s, stream_id, NULL);
    inflight_remove(c, r);
    complete(c->e, r, (error_code != NGHTTP2_NO_ERROR || r->status == 0) ? FS_LOAD_ERR_CONN : FS_LOAD_ERR_NONE);
    return 0;
}

static int h2_setup(fs_load_conn_t *c)
{
    nghttp2_session_callbacks *cb;
    if (nghttp2_session_callbacks_new(&cb) != 0)
        return -1;
    nghttp2_session_callbacks_set_on_header_callback(cb, h2_on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, h2_on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, h2_on_close);
    int rc = nghttp2_session_client_new(&c->h2s, cb, c);
    nghttp2_session_callbacks_del(cb);
    if (rc != 0)
        return -1;
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0}, {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 24}};
    nghttp2_submit_settings(c->h2s, NGHTTP2_FLAG_NONE, iv, 2);
    nghttp2_session_set_local_window_size(c->h2s, NGHTTP2_FLAG_NONE, 0, 1 << 30);
    c->h2 = 1;
    return 0;
}

/* Requests this connection can take now. */
static unsigned conn_room(const fs_load_conn_t *c)
{
    if (c->state != S_READY)
        return 0;
    if (!c->h2)
        return c->active == 0 ? 1 : 0;
    if (!nghttp2_session_check_request_allowed(c->h2s))
        return 0;
    unsigned max = c->e->o.streams;
    uint32_t remote = nghttp2_session_get_remote_settings(c->h2s, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
    if (remote < max)
        max = remote;
    return c->active < max ? max - c->active : 0;
}

static void conn_send(fs_load_conn_t *c, fs_load_req_t *r)
{
    fs_load_engine_t *e = c->e;
    char path[4096];
    snprintf(path, sizeof(path), "%s%s", e->t.prefix, r->path);
    r->sent_ns = fs_load_now_ns();
    if (c->h2) {
        nghttp2_nv nva[4 + FS_LOAD_MAX_HEADERS];
        unsigned n = 0;
#define NV(nm, v) (nghttp2_nv){(uint8_t *)(nm), (uint8_t *)(v), strlen(nm), strlen(v), NGHTTP2_NV_FLAG_NONE}
        nva[n++] = NV(":method", "GET");
        nva[n++] = NV(":scheme", e->t.tls ? "https" : "http");
        nva[n++] = NV(":authority", e->t.authority);
        nva[n++] = NV(":path", path);
        for (unsigned i = 0; i < e->t.header_count; i++)
            nva[n++] = NV(e->t.header_names[i], e->t.header_values[i]);
#undef NV
        int32_t id = nghttp2_submit_request(c->h2s, NULL, nva, n, NULL, r);
        if (id < 0) {
            complete(e, r, FS_LOAD_ERR_CONN);
            return;
        }
    } else {
        char head[8192];
        int len =
            snprintf(head, sizeof(head), "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: flightsearch-load\r\n", path, e->t.authority);
        for (unsigned i = 0; i < e->t.header_count && len > 0 && (size_t)len < sizeof(head); i++)
            len += snprintf(head + len, sizeof(head) - (size_t)len, "%s: %s\r\n", e->t.header_names[i], e->t.header_values[i]);
        if (len <= 0 || (size_t)len + 2 >= sizeof(head)) {
            complete(e, r, FS_LOAD_ERR_CONN);
            return;
        }
        out_append(c, head, (size_t)len);
        out_append(c, "\r\n", 2);
    }
    inflight_add(c, r);
}

/* ---------------------------------------------------------------- HTTP/1.1 */

/* Length of a complete chunked body at p (decoded into r), 0 when incomplete, -1 malformed. */
static long h1_chunked(fs_load_engine_t *e, const char *p, size_t n, fs_load_req_t *r)
{
    size_t off = 0;
    r->body_len = 0;
    for (;;) {
        const char *eol = memmem(p + off, n - off, "\r\n", 2);
        if (eol == NULL)
            return 0;
        char *end;
        unsigned long sz = strtoul(p + off, &end, 16);
        if (end == p + off)
            return -1;
        off = (size_t)(eol - p) + 2;
        if (sz == 0) {
            const char *fin = memmem(p + off - 2, n - (off - 2), "\r\n\r\n", 4);
            return fin == NULL ? 0 : (long)((size_t)(fin - p) + 4);
        }
        if (n - off < sz + 2)
            return 0;
        body_append(e, r, p + off, sz);
        off += sz + 2;
    }
}

/* Consumes one complete answer from c->in if there is one: 1 done, 0 incomplete, -1 broken. */
static int h1_parse(fs_load_conn_t *c, int *close_after)
{
    fs_load_req_t *r = c->inflight;
    const char *p = c->in;
    size_t n = c->in_len;
    const char *hend = memmem(p, n, "\r\n\r\n", 4);
    if (hend == NULL)
        return n > 65536 ? -1 : 0;
    if (r == NULL || n < 12 || memcmp(p, "HTTP/1.", 7) != 0)
        return -1;
    size_t hlen = (size_t)(hend - p) + 4;
    int status = (int)strtol(p + 9, NULL, 10);
    long body = -1;
    int chunked = 0;
    *close_after = memcmp(p, "HTTP/1.0", 8) == 0;
    for (const char *line = memchr(p, '\n', hlen); line != NULL && line < hend;
         line = memchr(line + 1, '\n', (size_t)(hend - line))) {
        const char *h = line + 1;
        if (strncasecmp(h, "content-length:", 15) == 0)
            body = strtol(h + 15, NULL, 10);
        else if (strncasecmp(h, "transfer-encoding:", 18) == 0 && memmem(h, (size_t)(hend - h), "chunked", 7) != NULL)
            chunked = 1;
        else if (strncasecmp(h, "connection:", 11) == 0 && strncasecmp(h + 11, " close", 6) == 0)
            *close_after = 1;
    }
    size_t total;
    if (chunked) {
        long cl = h1_chunked(c->e, p + hlen, n - hlen, r);
        if (cl <= 0)
            return (int)cl;
        total = hlen + (size_t)cl;
    } else {
        if (body < 0)
            body = 0; /* 204/304, or an answer delimited by close: not sent by flightsearch */
        if (n < hlen + (size_t)body)
            return 0;
        r->body_len = 0;
        body_append(c->e, r, p + hlen, (size_t)body);
        total = hlen + (size_t)body;
    }
    r->status = status;
    memmove(c->in, c->in + total, n - total);
    c->in_len = n - total;
    inflight_remove(c, r);
    complete(c->e, r, FS_LOAD_ERR_NONE);
    return 1;
}

/* ------------------------------------------------------------------ events */

static void conn_ready(fs_load_conn_t *c)
{
    fs_load_engine_t *e = c->e;
    int h2 = e->t.proto == FS_LOAD_PROTO_H2;
    if (c->ssl) {
        const unsigned char *alpn = NULL;
        unsigned alpn_len = 0;
        SSL_get0_alpn_selected(c->ssl, &alpn, &alpn_len);
        h2 = alpn_len == 2 && memcmp(alpn, "h2", 2) == 0;
    }
    c->state = S_READY;
    if (h2 && h2_setup(c) != 0) {
        conn_close(c, 1);
        return;
    }
    if (e->protocol == NULL)
        e->protocol = h2 ? "h2" : "http/1.1";
    conn_flush(c);
}

static void conn_handshake(fs_load_conn_t *c)
{
    ERR_clear_error();
    int r = SSL_connect(c->ssl);
    if (r == 1) {
        conn_ready(c);
        return;
    }
    int x = SSL_get_error(c->ssl, r);
    if (x == SSL_ERROR_WANT_READ)
        conn_watch(c, 0);
    else if (x == SSL_ERROR_WANT_WRITE)
        conn_watch(c, 1);
    else {
        unsigned long code = ERR_peek_error();
        static int said;
        long vr = SSL_get_verify_result(c->ssl);
        if (!said++)
            fprintf(stderr, "flightsearch-load: TLS handshake with %s failed: %s%s%s%s\n", c->e->t.authority,
                    code ? ERR_reason_error_string(code) : "connection closed", vr != X509_V_OK ? " (" : "",
                    vr != X509_V_OK ? X509_verify_cert_error_string(vr) : "",
                    vr != X509_V_OK ? "; --insecure accepts any certificate, for a staging one)" : "");
        connect_failed(c);
    }
}

static void conn_connected(fs_load_conn_t *c)
{
    fs_load_engine_t *e = c->e;
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr != 0) {
        e->last_errno = soerr;
        connect_failed(c);
        return;
    }
    if (!e->t.tls) {
        conn_watch(c, 0);
        conn_ready(c);
        return;
    }
    c->ssl = SSL_new(e->ssl_ctx);
    if (c->ssl == NULL) {
        connect_failed(c);
        return;
    }
    SSL_set_fd(c->ssl, c->fd);
    SSL_set_tlsext_host_name(c->ssl, e->t.host);
    if (!e->t.insecure)
        SSL_set1_host(c->ssl, e->t.host);
    static const unsigned char both[] = "\x02h2\x08http/1.1", h2[] = "\x02h2", h1[] = "\x08http/1.1";
    if (e->t.proto == FS_LOAD_PROTO_H2)
        SSL_set_alpn_protos(c->ssl, h2, sizeof(h2) - 1);
    else if (e->t.proto == FS_LOAD_PROTO_H1)
        SSL_set_alpn_protos(c->ssl, h1, sizeof(h1) - 1);
    else
        SSL_set_alpn_protos(c->ssl, both, sizeof(both) - 1);
    c->state = S_HANDSHAKE;
    conn_handshake(c);
}

static void conn_readable(fs_load_conn_t *c)
{
    char buf[65536];
    /* A plain socket is read up to 16 times per event (level-triggered: epoll says again if more
     * is left). TLS must be read until OpenSSL holds nothing decrypted: epoll cannot see its buffer. */
    for (int rounds = 0; c->state == S_READY && (rounds < 16 || (c->ssl != NULL && SSL_pending(c->ssl) > 0)); rounds++) {
        ssize_t n = conn_read(c, buf, sizeof(buf));
        if (n < 0) {
            conn_close(c, c->active > 0);
            return;
        }
        if (n == 0)
            break;
        if (c->h2s) {
            if (nghttp2_session_mem_recv(c->h2s, (const uint8_t *)buf, (size_t)n) < 0) {
                conn_close(c, 1);
                return;
            }
        } else {
            if (c->in_len + (size_t)n > c->in_cap) {
                c->in_cap = (c->in_len + (size_t)n) * 2;
                c->in = xrealloc(c->in, c->in_cap);
            }
            memcpy(c->in + c->in_len, buf, (size_t)n);
            c->in_len += (size_t)n;
            int close_after = 0, r = h1_parse(c, &close_after);
            if (r < 0 || (r > 0 && close_after)) {
                conn_close(c, r < 0);
                return;
            }
        }
        if ((size_t)n < sizeof(buf) && c->ssl == NULL)
            break;
    }
    if (c->h2s && !nghttp2_session_want_read(c->h2s) && !nghttp2_session_want_write(c->h2s))
        conn_close(c, c->active > 0); /* GOAWAY handled: open a fresh one */
}

static void on_event(fs_load_engine_t *e, uint32_t idx, uint32_t events)
{
    fs_load_conn_t *c = &e->conns[idx];
    if (c->state == S_CONNECTING) {
        conn_connected(c);
        return;
    }
    if (c->state == S_HANDSHAKE) {
        conn_handshake(c);
        return;
    }
    if (c->state != S_READY)
        return;
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        conn_readable(c);
    if (c->state == S_READY)
        conn_flush(c);
}

/* Hands waiting requests to connections with room; opens connections while some are missing. */
static void pump(fs_load_engine_t *e)
{
    int64_t now = fs_load_now_ns();
    unsigned open = 0, opening = 0;
    for (unsigned i = 0; i < e->conn_used; i++) {
        fs_load_conn_t *c = &e->conns[i];
        if (c->state == S_CLOSED && i < e->o.connections && now >= c->retry_ns)
            conn_open(c);
        if (c->state != S_CLOSED)
            open++;
        if (c->state == S_CONNECTING || c->state == S_HANDSHAKE)
            opening++;
    }
    for (unsigned k = 0; k < e->conn_used && e->wait_head; k++) {
        fs_load_conn_t *c = &e->conns[(e->rotor + k) % e->conn_used];
        unsigned room = conn_room(c);
        int sent = 0;
        while (room-- > 0 && e->wait_head) {
            fs_load_req_t *r = e->wait_head;
            e->wait_head = r->next;
            if (e->wait_head == NULL)
                e->wait_tail = NULL;
            e->waiting--;
            conn_send(c, r);
            sent = 1;
        }
        if (sent)
            conn_flush(c);
    }
    e->rotor++;
    /* HTTP/1.1 carries one request per connection: open more while requests wait. */
    if (e->wait_head && e->protocol != NULL && strcmp(e->protocol, "h2") != 0) {
        uint64_t want = e->waiting > opening ? e->waiting - opening : 0;
        for (unsigned i = 0; i < e->conn_cap && want > 0; i++) {
            fs_load_conn_t *c = &e->conns[i];
            if (c->state != S_CLOSED || now < c->retry_ns)
                continue;
            if (i >= e->conn_used)
                e->conn_used = i + 1;
            if (conn_open(c) == 0)
                want--;
        }
    }
    (void)open;
}

void fs_load_engine_submit(fs_load_engine_t *e, const char *path, void *user)
{
    fs_load_req_t *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        fprintf(stderr, "flightsearch-load: out of memory\n");
        exit(1);
    }
    r->path = path;
    r->user = user;
    r->sent_ns = fs_load_now_ns();
    if (e->wait_tail)
        e->wait_tail->next = r;
    else
        e->wait_head = r;
    e->wait_tail = r;
    e->waiting++;
    e->pending++;
}

void fs_load_engine_poll(fs_load_engine_t *e, int timeout_ms)
{
    pump(e);
    struct epoll_event evs[256];
    int n = epoll_wait(e->ep, evs, 256, timeout_ms);
    for (int k = 0; k < n; k++)
        on_event(e, evs[k].data.u32, evs[k].events);
    pump(e);
}

uint64_t fs_load_engine_pending(const fs_load_engine_t *e)
{
    return e->pending;
}

uint64_t fs_load_engine_waiting(const fs_load_engine_t *e)
{
    return e->waiting;
}

const char *fs_load_engine_protocol(const fs_load_engine_t *e)
{
    return e->protocol ? e->protocol : "none";
}

void fs_load_engine_stats(const fs_load_engine_t *e, fs_load_engine_stats_t *out)
{
    *out = e->st;
}

void fs_load_engine_abort(fs_load_engine_t *e)
{
    while (e->wait_head) {
        fs_load_req_t *r = e->wait_head;
        e->wait_head = r->next;
        e->waiting--;
        complete(e, r, FS_LOAD_ERR_TIMEOUT);
    }
    e->wait_tail = NULL;
    for (unsigned i = 0; i < e->conn_used; i++) {
        fs_load_conn_t *c = &e->conns[i];
        fail_inflight(c, FS_LOAD_ERR_TIMEOUT);
        conn_close(c, 0); /* nghttp2_session_del calls no callback: nothing finds the freed requests */
    }
}

fs_load_engine_t *fs_load_engine_new(const fs_load_target_t *t, const fs_load_engine_opts_t *o, int timeout_ms, char *err,
                                     size_t errcap)
{
    fs_load_engine_t *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    e->t = *t;
    e->o = *o;
    if (e->o.connections == 0)
        e->o.connections = 1;
    if (e->o.max_connections < e->o.connections)
        e->o.max_connections = e->o.connections;
    if (e->o.streams == 0)
        e->o.streams = 1;
    if (e->o.max_body == 0)
        e->o.max_body = 8 << 20;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int gai = getaddrinfo(t->host, t->port, &hints, &e->ai);
    if (gai != 0) {
        snprintf(err, errcap, "%s: %s", t->host, gai_strerror(gai));
        free(e);
        return NULL;
    }
    if (t->tls) {
        e->ssl_ctx = SSL_CTX_new(TLS_client_method());
        if (e->ssl_ctx == NULL) {
            snprintf(err, errcap, "SSL_CTX_new failed");
            fs_load_engine_free(e);
            return NULL;
        }
        SSL_CTX_set_mode(e->ssl_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        if (!t->insecure) {
            SSL_CTX_set_default_verify_paths(e->ssl_ctx);
            SSL_CTX_set_verify(e->ssl_ctx, SSL_VERIFY_PEER, NULL);
        }
    }
    e->ep = epoll_create1(EPOLL_CLOEXEC);
    e->conn_cap = e->o.max_connections;
    e->conns = calloc(e->conn_cap, sizeof(*e->conns));
    if (e->ep < 0 || e->conns == NULL) {
        snprintf(err, errcap, "epoll or memory: %s", strerror(errno));
        fs_load_engine_free(e);
        return NULL;
    }
    for (unsigned i = 0; i < e->conn_cap; i++) {
        e->conns[i].e = e;
        e->conns[i].fd = -1;
    }
    e->conn_used = e->o.connections;
    /* The first connection, waited for: a target that does not answer fails here, with a reason. */
    int64_t until = fs_load_now_ns() + (int64_t)timeout_ms * 1000000;
    if (conn_open(&e->conns[0]) != 0) {
        snprintf(err, errcap, "%s:%s: %s", t->host, t->port, strerror(errno));
        fs_load_engine_free(e);
        return NULL;
    }
    while (e->conns[0].state != S_READY && fs_load_now_ns() < until) {
        struct epoll_event evs[8];
        int n = epoll_wait(e->ep, evs, 8, 50);
        for (int k = 0; k < n; k++)
            on_event(e, evs[k].data.u32, evs[k].events);
        if (e->conns[0].state == S_CLOSED)
            break;
    }
    if (e->conns[0].state != S_READY) {
        if (e->last_errno != 0)
            snprintf(err, errcap, "cannot connect to %s:%s: %s", t->host, t->port, strerror(e->last_errno));
        else if (e->conns[0].state != S_CLOSED)
            snprintf(err, errcap, "cannot connect to %s:%s: no answer in %d ms", t->host, t->port, timeout_ms);
        else
            snprintf(err, errcap, "cannot connect to %s:%s%s", t->host, t->port,
                     t->tls ? ": the TLS handshake failed (above)" : "");
        fs_load_engine_free(e);
        return NULL;
    }
    /* The rest of the pool, also before the caller's clock starts: a handshake is not a latency. */
    for (unsigned i = 1; i < e->o.connections; i++)
        conn_open(&e->conns[i]);
    for (;;) {
        unsigned opening = 0;
        for (unsigned i = 1; i < e->o.connections; i++)
            opening += e->conns[i].state == S_CONNECTING || e->conns[i].state == S_HANDSHAKE;
        if (opening == 0 || fs_load_now_ns() >= until)
            break;
        struct epoll_event evs[64];
        int n = epoll_wait(e->ep, evs, 64, 50);
        for (int k = 0; k < n; k++)
            on_event(e, evs[k].data.u32, evs[k].events);
    }
    return e;
}

void fs_load_engine_free(fs_load_engine_t *e)
{
    if (e == NULL)
        return;
    if (e->conns) {
        fs_load_engine_abort(e);
        for (unsigned i = 0; i < e->conn_cap; i++) {
            free(e->conns[i].out);
            free(e->conns[i].in);
        }
        free(e->conns);
    }
    if (e->ep >= 0)
        close(e->ep);
    if (e->ssl_ctx)
        SSL_CTX_free(e->ssl_ctx);
    if (e->ai)
        freeaddrinfo(e->ai);
    free(e);
}

/* --------------------------------------------------------------- one fetch */

typedef struct fetch_result {
    int done, status, err;
    char *body;
    size_t len;
} fetch_result_t;

static void fetch_done(void *ctx, void *user, int status, const char *body, size_t len, int64_t s, int64_t d, int err)
{
    (void)ctx;
    (void)s;
    (void)d;
    fetch_result_t *fr = user;
    fr->done = 1;
    fr->status = status;
    fr->err = err;
    fr->body = malloc(len + 1);
    if (fr->body) {
        memcpy(fr->body, body, len);
        fr->body[len] = '\0';
        fr->len = len;
    }
}

int fs_load_fetch(const fs_load_target_t *t, const char *path, char **body, size_t *len, char *err, size_t errcap)
{
    fs_load_engine_opts_t o = {.connections = 1, .streams = 1, .max_body = 64 << 20, .done = fetch_done};
    fs_load_engine_t *e = fs_load_engine_new(t, &o, 10000, err, errcap);
    if (e == NULL)
        return -1;
    fetch_result_t fr = {0};
    fs_load_engine_submit(e, path, &fr);
    int64_t until = fs_load_now_ns() + 30000000000LL;
    while (!fr.done && fs_load_now_ns() < until)
        fs_load_engine_poll(e, 50);
    fs_load_engine_free(e);
    if (!fr.done || fr.err) {
        free(fr.body);
        snprintf(err, errcap, "GET %s: %s", path, fr.done ? "connection failed" : "no answer in 30 s");
        return -1;
    }
    *body = fr.body;
    if (len)
        *len = fr.len;
    return fr.status;
}
