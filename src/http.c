/*
 * src/http.c: the process. Listeners, one h2o evloop per worker thread, TLS, signals, start-up
 * loading and the graceful drain.
 *
 * Each worker owns an SO_REUSEPORT listener of its own (plain, and TLS when enabled), so the
 * kernel spreads connections over workers and no two threads ever touch one connection. A worker
 * never blocks: the only shared state it reads is the index (lock-free) and a few atomics.
 *
 * Shutdown: SIGTERM/SIGINT set a flag that every loop sees within 100 ms. Each worker closes its
 * listeners, asks h2o to shut its connections down gracefully (GOAWAY for HTTP/2, close after the
 * current response for HTTP/1.1) and keeps running until its connections are gone or
 * FS_DRAIN_TIMEOUT_MS passes. Then the process exits 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <linux/tcp.h> /* not netinet/tcp.h: glibc's struct tcp_info lacks tcpi_bytes_acked */
#include <sys/socket.h>
#include <ck_pr.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>
#include "loaders/loaders.h"
#include "src/internal.h"
#include "src/watch.h"
#include "src/webhook.h"

#define FS_DRAIN_TIMEOUT_MS 10000

static volatile sig_atomic_t stop_signal, reload_signal;

static void on_signal(int signo)
{
    if (signo == SIGHUP)
        reload_signal = 1;
    else
        stop_signal = signo;
}

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Binds one listening socket; port 0 asks the kernel. Returns the fd or -1 with msg filled. */
static int bind_listener(const char *host, unsigned port, char *msg, size_t msgcap)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV | AI_PASSIVE};
    struct addrinfo *res;
    char portstr[8];
    snprintf(portstr, sizeof(portstr), "%u", port);
    int gai = getaddrinfo(host, portstr, &hints, &res);
    if (gai != 0) {
        snprintf(msg, msgcap, "cannot resolve listen address '%s': %s", host, gai_strerror(gai));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int on = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 ||
        listen(fd, SOMAXCONN) != 0) {
        snprintf(msg, msgcap, "cannot listen on %s:%u: %s", host, port, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    freeaddrinfo(res);
    return fd;
}

static unsigned bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET6) /* NOLINT(clang-analyzer-core.UndefinedBinaryOperatorResult): getsockname set it */
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* Binds count listeners on one address; when port is 0 the first decides it for the rest. */
static int bind_listeners(const char *host, unsigned *port, int *fds, unsigned count, char *msg, size_t msgcap)
{
    for (unsigned i = 0; i < count; i++) {
        fds[i] = bind_listener(host, *port, msg, msgcap);
        if (fds[i] < 0) {
            while (i > 0)
                close(fds[--i]);
            return -1;
        }
        if (*port == 0)
            *port = bound_port(fds[i]);
    }
    return 0;
}

static void remember_conn(fs_worker_t *w, h2o_socket_t *sock);

static void on_accept(h2o_socket_t *listener, const char *err)
{
    if (err != NULL)
        return;
    h2o_accept_ctx_t *accept_ctx = listener->data;
    /* accept a few per wake-up: fewer epoll round trips under connection storms */
    for (int i = 0; i < 16; i++) {
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (sock == NULL) {
            if (errno == EMFILE || errno == ENFILE) {
                /* out of descriptors: the listener stays readable, so epoll would wake us at once,
                 * forever. Pause accepting for a moment; pending clients wait in the backlog. */
                fs_worker_t *w = fs_worker_of(accept_ctx->ctx);
                w->accept_paused_until = monotonic_ms() + 100;
                h2o_socket_read_stop(w->listener_plain);
                if (w->listener_tls != NULL)
                    h2o_socket_read_stop(w->listener_tls);
                if (w->listener_feed != NULL)
                    h2o_socket_read_stop(w->listener_feed);
            }
            return;
        }
        remember_conn(fs_worker_of(accept_ctx->ctx), sock);
        h2o_accept(accept_ctx, sock);
    }
}

typedef struct worker_start {
    fs_worker_t *worker;
    int plain_fd, tls_fd, feed_fd;
    SSL_CTX *ssl_ctx;
} worker_start_t;

static h2o_socket_t *start_listener(fs_worker_t *w, int fd, h2o_accept_ctx_t *accept_ctx)
{
    h2o_socket_t *sock = h2o_evloop_socket_create(w->loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    sock->data = accept_ctx;
    h2o_socket_read_start(sock, on_accept);
    return sock;
}

/*
 * The worker's connections, by fd: recorded at accept, marked closed when h2o closes the socket
 * (h2o's server connections leave sock->on_close to the application).
 */
int64_t fs_monotonic_ms(void)
{
    return monotonic_ms();
}

typedef struct conn_track {
    fs_worker_t *worker;
    int fd;
} conn_track_t;

static void forget_conn(void *data)
{
    conn_track_t *t = data;
    fs_worker_t *w = t->worker;
    if ((size_t)t->fd < w->conns_cap) {
        fs_conn_state_t *c = &w->conns[t->fd];
        if (c->inflight > 0)
            w->busy_conns--;
        memset(c, 0, sizeof(*c));
    }
    free(t);
}

static void remember_conn(fs_worker_t *w, h2o_socket_t *sock)
{
    int fd = h2o_socket_get_fd(sock);
    if (fd < 0)
        return;
    if ((size_t)fd >= w->conns_cap) {
        size_t cap = w->conns_cap ? w->conns_cap : 1024;
        while (cap <= (size_t)fd)
            cap *= 2;
        fs_conn_state_t *n = realloc(w->conns, cap * sizeof(*n));
        if (n == NULL)
            return; /* untracked: admission treats it as a fresh connection */
        memset(n + w->conns_cap, 0, (cap - w->conns_cap) * sizeof(*n));
        w->conns = n;
        w->conns_cap = cap;
    }
    conn_track_t *t = malloc(sizeof(*t));
    if (t == NULL)
        return;
    t->worker = w;
    t->fd = fd;
    memset(&w->conns[fd], 0, sizeof(w->conns[fd]));
    w->conns[fd].open = 1;
    sock->on_close.cb = forget_conn;
    sock->on_close.data = t;
}

fs_conn_state_t *fs_conn_of(fs_worker_t *w, h2o_conn_t *conn)
{
    h2o_socket_t *sock = conn->callbacks->get_socket != NULL ? conn->callbacks->get_socket(conn) : NULL;
    int fd = sock != NULL ? h2o_socket_get_fd(sock) : -1;
    if (fd < 0 || (size_t)fd >= w->conns_cap || !w->conns[fd].open)
        return NULL;
    fs_conn_state_t *c = &w->conns[fd];
    if (c->conn_id == 0)
        c->conn_id = conn->id;
    return c->conn_id == conn->id ? c : NULL;
}

/* True when no connection of the worker has bytes the client's kernel has not acknowledged. */
static int all_delivered(fs_worker_t *w)
{
    for (size_t fd = 0; fd < w->conns_cap; fd++) {
        int unsent = 0;
        if (w->conns[fd].open && ioctl((int)fd, SIOCOUTQ, &unsent) == 0 && unsent > 0)
            return 0;
    }
    return 1;
}

/*
 * The write timeout libh2o 2.2.5 lacks: a connection with requests in flight whose bytes have not
 * moved for FS_WRITE_TIMEOUT_MS is a client that does not read (or cannot). Its socket is shut
 * down; h2o then sees the error, closes the connection and frees its responses. "Moved" is
 * measured in the kernel, once a second: the connection made progress when its send queue is
 * empty (nothing waits for the client: a push waiting on its loader, a search being computed) or
 * when the client acknowledged bytes since the last look (TCP_INFO tcpi_bytes_acked, Linux 4.1+),
 * so a slow but steady reader of a large answer is never cut, however long it takes.
 */
static int conn_made_progress(int fd, fs_conn_state_t *c)
{
    int unsent = 0;
    if (ioctl(fd, SIOCOUTQ, &unsent) == 0 && unsent == 0)
        return 1;
    struct tcp_info ti;
    socklen_t len = sizeof(ti);
    memset(&ti, 0, sizeof(ti));
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
        len < offsetof(struct tcp_info, tcpi_bytes_acked) + sizeof(ti.tcpi_bytes_acked))
        return 0; /* no counter (an old kernel): only completed requests count, as before */
    if (ti.tcpi_bytes_acked == c->bytes_acked)
        return 0;
    c->bytes_acked = ti.tcpi_bytes_acked;
    return 1;
}

#define FS_WRITE_TIMEOUT_MS 30000
/* FS_WRITE_TIMEOUT_MS in the environment overrides it (tests use 1 s). */
static int64_t write_timeout_ms(void)
{
    const char *env = getenv("FS_WRITE_TIMEOUT_MS");
    long v = env != NULL ? strtol(env, NULL, 10) : 0;
    return v > 0 ? v : FS_WRITE_TIMEOUT_MS;
}

static void close_stalled(fs_worker_t *w)
{
    int64_t now = monotonic_ms(), timeout = write_timeout_ms();
    for (size_t fd = 0; fd < w->conns_cap; fd++) {
        fs_conn_state_t *c = &w->conns[fd];
        if (!c->open || c->stalled || c->inflight == 0)
            continue;
        if (conn_made_progress((int)fd, c)) {
            c->last_progress_ms = now;
        } else if (now - c->last_progress_ms > timeout) {
            c->stalled = 1;
            shutdown((int)fd, SHUT_RDWR);
            ck_pr_store_64(&w->stalled_closed, w->stalled_closed + 1);
        }
    }
}

static void drain_accept_queue(h2o_socket_t *listener)
{
    if (listener == NULL)
        return;
    h2o_socket_t *sock;
    while ((sock = h2o_evloop_socket_accept(listener)) != NULL) {
        h2o_accept_ctx_t *accept_ctx = listener->data;
        remember_conn(fs_worker_of(accept_ctx->ctx), sock);
        h2o_accept(accept_ctx, sock);
    }
}

static void close_listener(h2o_socket_t **sock)
{
    if (*sock == NULL)
        return;
    h2o_socket_read_stop(*sock);
    h2o_socket_close(*sock);
    *sock = NULL;
}

static void *worker_main(void *arg)
{
    worker_start_t *start = arg;
    fs_worker_t *w = start->worker;
    fs_shared_t *shared = w->shared;

    w->loop = h2o_evloop_create();
    h2o_context_init(&w->ctx, w->loop, &shared->h2o_config.h2o);
    if (start->feed_fd >= 0)
        h2o_context_init(&w->feed_ctx, w->loop, &shared->h2o_feed_config.h2o);
    fs_index_thread_register(shared->index, &w->index_thread);
    fs_auth_thread_register(&w->auth_record);
    fs_trace_seed(w);
    w->feed_queue = h2o_multithread_create_queue(w->loop);
    h2o_multithread_register_receiver(w->feed_queue, &w->feed_receiver, fs_feeds_on_answers);
    fs_watch_streams_init(w);
    w->accept_plain.ctx = &w->ctx;
    w->accept_plain.hosts = shared->h2o_config.h2o.hosts;
    w->listener_plain = start_listener(w, start->plain_fd, &w->accept_plain);
    if (start->tls_fd >= 0) {
        w->accept_tls.ctx = &w->ctx;
        w->accept_tls.hosts = shared->h2o_config.h2o.hosts;
        w->accept_tls.ssl_ctx = start->ssl_ctx;
        w->listener_tls = start_listener(w, start->tls_fd, &w->accept_tls);
    }
    if (start->feed_fd >= 0) {
        w->accept_feed.ctx = &w->feed_ctx;
        w->accept_feed.hosts = shared->h2o_feed_config.h2o.hosts;
        w->listener_feed = start_listener(w, start->feed_fd, &w->accept_feed);
    }

    int64_t next_check = monotonic_ms() + 1000;
    __atomic_store_n(&w->heartbeat_ms, (uint64_t)monotonic_ms(), __ATOMIC_RELAXED);
    while (!ck_pr_load_int(&shared->shutting_down)) {
        h2o_evloop_run(w->loop, 100);
        int64_t now = monotonic_ms();
        __atomic_store_n(&w->heartbeat_ms, (uint64_t)now, __ATOMIC_RELAXED);
        if (w->accept_paused_until != 0 && now >= w->accept_paused_until) {
            w->accept_paused_until = 0;
            h2o_socket_read_start(w->listener_plain, on_accept);
            if (w->listener_tls != NULL)
                h2o_socket_read_start(w->listener_tls, on_accept);
            if (w->listener_feed != NULL)
                h2o_socket_read_start(w->listener_feed, on_accept);
        }
        if (now >= next_check) {
            close_stalled(w);
            fs_watch_streams_tick(w);
            next_check = now + 1000;
        }
        fs_access_log_flush(w, now, 0);
    }

    /* drain: first take every connection the kernel already queued for this listener (closing a
     * listening socket resets them, and their clients did nothing wrong), then no new ones */
    drain_accept_queue(w->listener_plain);
    drain_accept_queue(w->listener_tls);
    drain_accept_queue(w->listener_feed);
    close_listener(&w->listener_plain);
    close_listener(&w->listener_tls);
    close_listener(&w->listener_feed);
    fs_watch_streams_close(w); /* event streams never end by themselves */
    /* Phase A: keep serving until nothing is in flight and every HTTP/2 socket has handed all its
     * bytes to the client's kernel. libh2o 2.2.5 closes an HTTP/2 connection soon after its
     * GOAWAY once its streams are done; if the client is still reading (sending WINDOW_UPDATEs),
     * Linux answers them with a reset and drops what was not yet delivered. Waiting first for
     * empty send queues means the reset, if any, comes after the data. Bounded: under continuous
     * load the queues may never all be empty, and the GOAWAY must go out all the same. */
    int64_t drain_start = monotonic_ms(), deadline = drain_start + FS_DRAIN_TIMEOUT_MS,
            phase_a_end = drain_start + FS_DRAIN_TIMEOUT_MS / 2;
    /* at least a few passes: connections just taken from the accept queue have not been read yet,
     * so "nothing in flight" would be true before their requests are even parsed */
    while ((monotonic_ms() < drain_start + 100 || ck_pr_load_uint(&w->inflight) > 0 || !all_delivered(w)) && monotonic_ms() < phase_a_end)
        h2o_evloop_run(w->loop, 10);
    /* Phase B: GOAWAY on HTTP/2, no more keep-alive on HTTP/1.1; done when no request is in
     * flight and every HTTP/2 connection has closed. An idle HTTP/1.1 keep-alive connection holds
     * nothing (h2o 2.2.5 would keep it open), so it is not waited for. */
    int feed = start->feed_fd >= 0;
    h2o_context_request_shutdown(&w->ctx);
    if (feed)
        h2o_context_request_shutdown(&w->feed_ctx);
    while ((ck_pr_load_uint(&w->inflight) > 0 || !h2o_linklist_is_empty(&w->ctx.http2._conns) ||
            (feed && !h2o_linklist_is_empty(&w->feed_ctx.http2._conns))) &&
           monotonic_ms() < deadline)
        h2o_evloop_run(w->loop, 10);
    h2o_evloop_run(w->loop, 0); /* flush what the last pass wrote */
    fs_access_log_flush(w, monotonic_ms(), 1);
    return NULL;
}

typedef struct loader_start {
    fs_shared_t *shared;
    fs_store_t *store;
    const fs_config_t *config;
} loader_start_t;

/* --nats: applies the stream from where the data dir is (loaders/replica.c) and returns once the
 * head seen at start is applied, so that /readyz turns 200 only then; -1 when stopping first. */
static int start_replica(loader_start_t *ls)
{
    const fs_config_t *c = ls->config;
    char name[80], err[256];
    if (c->nats_name != NULL) {
        snprintf(name, sizeof(name), "%s", c->nats_name);
    } else {
        char host[64] = "flightsearch";
        gethostname(host, sizeof(host) - 1);
        host[sizeof(host) - 1] = '\0';
        for (char *p = host; *p != '\0'; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-'))
                *p = '_';
        snprintf(name, sizeof(name), "%s-%u", host, c->listen_port);
    }
    fs_replica_config_t rc = {.urls = c->nats_urls, .stream = c->nats_stream, .stream_replicas = c->nats_replicas,
                              .name = name, .creds = c->nats_creds, .tls_ca = c->nats_tls_ca, .data_dir = c->data_dir};
    fs_replica_t *r = fs_replica_start(ls->shared->index, ck_pr_load_ptr(&ls->shared->feeds), &rc, err, sizeof(err));
    if (r == NULL) {
        fs_log("%s", err);
        return -1;
    }
    ck_pr_store_ptr(&ls->shared->replica, r);
    while (fs_replica_wait_caught_up(r, 200) != 0)
        if (ck_pr_load_int(&ls->shared->shutting_down))
            return -1;
    return 0;
}

/* Restores the data dir on its own thread, so /healthz answers while it loads and /readyz says
 * so; then starts the loader threads and turns ready. */
static void *startup_loader_main(void *arg)
{
    loader_start_t *ls = arg;
    fs_index_thread_t *th = fs_index_thread_get(ls->shared->index);
    int64_t t0 = monotonic_ms();
    /* Test hook: a restore that takes this long, so tests can watch the server before it is ready. */
    const char *delay = getenv("FS_TEST_RESTORE_DELAY_MS");
    long delay_ms = delay != NULL ? strtol(delay, NULL, 10) : 0;
    if (delay_ms > 0) {
        struct timespec ts = {.tv_sec = delay_ms / 1000, .tv_nsec = (delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    int n = fs_store_recover(ls->store, ls->shared->index, th);
    /* watches next: their sets are computed on the restored sources, before any push changes them */
    char werr[512];
    int nw = fs_watches_restore(ls->shared->watches, th, ls->config->data_dir, werr, sizeof(werr));
    if (nw < 0)
        fprintf(stderr, "flightsearch: watches: %s; starting without stored watches, none will be stored\n", werr);
    else if (!ls->config->quiet && nw > 0)
        fprintf(stderr, "flightsearch: restored %d watch%s\n", nw, nw == 1 ? "" : "es");
    /* queued pushes may hold two of the largest bodies at once, one source one of them */
    /* replicas take pushes only through the log: the inbox would change one replica alone */
    fs_feeds_config_t fc = {.loaders = ls->config->loaders, .queue_depth = 64, .compact_deltas = 64,
                            .spool_interval_ms = ls->config->nats_urls != NULL ? 0 : 200,
                            .source_jobs = 8, .queued_bytes = 2 * ls->config->max_feed_bytes};
    ck_pr_store_ptr(&ls->shared->feeds, fs_feeds_start(ls->shared->index, ls->store, &fc));
    if (ls->config->nats_urls != NULL && start_replica(ls) != 0) {
        fs_index_thread_put(ls->shared->index, th);
        return NULL; /* stopping before the stream was applied: never ready */
    }
    if (!ls->config->quiet) {
        /* the loaders just started may publish: read the generation inside a section */
        const fs_generation_t *gen = fs_index_read_begin(ls->shared->index, th);
        uint64_t number = gen->number, legs = gen->leg_count;
        fs_index_read_end(ls->shared->index, th);
        fs_log("restored %d source%s from %s in %lld ms (generation %llu, %llu legs); ready", n,
                n == 1 ? "" : "s", ls->config->data_dir, (long long)(monotonic_ms() - t0), (unsigned long long)number,
                (unsigned long long)legs);
    }
    fs_index_thread_put(ls->shared->index, th);
    ck_pr_store_int(&ls->shared->ready, 1);
    return NULL;
}

static SSL_CTX *make_ssl_ctx(const fs_config_t *cfg, char *msg, size_t msgcap)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        snprintf(msg, msgcap, "cannot create a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
        snprintf(msg, msgcap, "--tls-cert %s: cannot load a PEM certificate chain (%s)", cfg->tls_cert,
                 ERR_reason_error_string(ERR_get_error()));
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(msg, msgcap, "--tls-key %s: cannot load a PEM private key matching the certificate (%s)", cfg->tls_key,
                 ERR_reason_error_string(ERR_get_error()));
        SSL_CTX_free(ctx);
        return NULL;
    }
    h2o_ssl_register_alpn_protocols(ctx, h2o_http2_alpn_protocols);
    return ctx;
}

/* h2o's logger hook: runs on the loop thread as each request is disposed. */
static void log_access(h2o_logger_t *self, h2o_req_t *req)
{
    (void)self;
    fs_access_log_request(fs_worker_of(req->conn->ctx), req);
}

/* One h2o configuration serving every path with fs_handle_request, its body limit and where its
 * contexts sit in a worker. */
static void configure_h2o(fs_globalconf_t *conf, size_t ctx_offset, uint64_t body_limit, fs_shared_t *shared)
{
    h2o_config_init(&conf->h2o);
    conf->ctx_offset = ctx_offset;
    conf->h2o.server_name = h2o_iovec_init(H2O_STRLIT(FS_SERVER_NAME));
    conf->h2o.max_request_entity_size = body_limit;
    conf->h2o.handshake_timeout = 10000;
    conf->h2o.http1.req_timeout = 10000;    /* headers and body must arrive within 10 s */
    conf->h2o.http2.idle_timeout = 30000;   /* an idle HTTP/2 connection is closed after 30 s */
    conf->h2o.http2.graceful_shutdown_timeout = FS_DRAIN_TIMEOUT_MS;
    h2o_hostconf_t *host = h2o_config_register_host(&conf->h2o, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    fs_handler_t *handler = (fs_handler_t *)h2o_create_handler(path, sizeof(*handler));
    handler->super.on_req = fs_handle_request;
    handler->shared = shared;
    if (fs_access_log_enabled()) {
        h2o_logger_t *logger = h2o_create_logger(path, sizeof(*logger));
        logger->log_access = log_access;
    }
}

/* True when every worker's event loop made a pass at or after since_ms (monotonic). */
static int loops_alive(fs_shared_t *shared, int64_t since_ms)
{
    for (unsigned i = 0; i < shared->worker_count; i++)
        if ((int64_t)__atomic_load_n(&shared->workers[i]->heartbeat_ms, __ATOMIC_RELAXED) < since_ms)
            return 0;
    return 1;
}

int fs_server_run(const fs_config_t *cfg)
{
    static fs_shared_t shared;
    char msg[512];
    fs_log_set_format(cfg->log_json ? FS_LOG_JSON : FS_LOG_TEXT);
    if (cfg->access_log != NULL && fs_access_log_open(cfg->access_log, msg, sizeof(msg)) != 0) {
        fs_log("%s", msg);
        return 1;
    }
    shared.config = cfg;
    shared.started_at = (int64_t)time(NULL);
    shared.index = fs_index_new();
    if (shared.index == NULL) {
        fs_log("out of memory");
        return 1;
    }
    unsigned max_sources = cfg->max_sources ? cfg->max_sources : FS_MAX_SOURCES_DEFAULT; /* 0: a config not from fs_config_parse */
    fs_index_set_max_sources(shared.index, max_sources);

    /* h2o 2.2.5 buffers a whole body before any handler sees it (so before any token is checked),
     * with one limit per configuration. Without --tokens no endpoint takes a body: bodies are
     * capped at 64 KiB, enough for the handlers to answer a mistaken push or POST with their clear
     * JSON error (403, 405), small enough that no client can make the server buffer more. With
     * feeds on, the public listeners take the feed limit, unless --feed-listen moves pushes to an
     * address of their own: then only that address (a partner network, HAProxy's feed backend)
     * can be made to buffer a large body, and the public ones stay at 64 KiB. */
    uint64_t public_limit = cfg->tokens_file != NULL && !cfg->feed_listen_enabled ? cfg->max_feed_bytes : 64 * 1024;
    configure_h2o(&shared.h2o_config, offsetof(fs_worker_t, ctx), public_limit, &shared);
    if (cfg->feed_listen_enabled)
        configure_h2o(&shared.h2o_feed_config, offsetof(fs_worker_t, feed_ctx), cfg->max_feed_bytes, &shared);

    unsigned n = cfg->threads;
    int *fds = calloc(3 * (size_t)n, sizeof(int)); /* per worker: plain, TLS, feed listener */
    if (fds == NULL) {
        fs_log("out of memory");
        return 1;
    }
    int *plain_fds = fds, *tls_fds = fds + n, *feed_fds = fds + 2 * (size_t)n;
    unsigned port = cfg->listen_port, tls_port = cfg->tls_listen_port, feed_port = cfg->feed_listen_port;
    if (bind_listeners(cfg->listen_host, &port, plain_fds, n, msg, sizeof(msg)) != 0) {
        fs_log("--listen: %s", msg);
        free(fds);
        return 1;
    }
    SSL_CTX *ssl_ctx = NULL;
    for (unsigned i = 0; i < n; i++)
        tls_fds[i] = feed_fds[i] = -1;
    if (cfg->feed_listen_enabled && bind_listeners(cfg->feed_listen_host, &feed_port, feed_fds, n, msg, sizeof(msg)) != 0) {
        fs_log("--feed-listen: %s", msg);
        free(fds);
        return 1;
    }
    if (cfg->tls_enabled) {
        ssl_ctx = make_ssl_ctx(cfg, msg, sizeof(msg));
        if (ssl_ctx == NULL) {
            fs_log("%s", msg);
            free(fds);
            return 1;
        }
        if (bind_listeners(cfg->tls_listen_host, &tls_port, tls_fds, n, msg, sizeof(msg)) != 0) {
            fs_log("--tls-listen: %s", msg);
            free(fds);
            return 1;
        }
    }

    if (fs_cities_load(cfg->cities_file, msg, sizeof(msg)) != 0) {
        fs_log("%s", msg);
        free(fds);
        return 1;
    }
    if (fs_auth_init(cfg->tokens_file, msg, sizeof(msg)) != 0) {
        fs_log("%s", msg);
        free(fds);
        return 1;
    }
    if (fs_keys_init(cfg->keys_file, msg, sizeof(msg)) != 0) {
        fs_log("%s", msg);
        free(fds);
        return 1;
    }
    fs_store_t *store = fs_store_open(cfg->data_dir, msg, sizeof(msg));
    if (store == NULL) {
        fs_log("--data-dir: %s", msg);
        free(fds);
        return 1;
    }
    if (fs_store_check_sources(store, max_sources, msg, sizeof(msg)) != 0) {
        fs_log("--data-dir: %s", msg);
        fs_store_close(store);
        free(fds);
        return 1;
    }

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* the watch engine before the loader thread: it restores the stored watches */
    shared.watches = fs_watches_new(shared.index);
    fs_webhook_options_t who = {.allow_private = cfg->webhook_allow_private, .retry_ms = cfg->webhook_retry_ms,
                                  .timeout_ms = cfg->webhook_timeout_ms};
    fs_webhooks_t *webhooks = fs_webhooks_new(&who); /* deliveries on a thread of their own */
    if (shared.watches != NULL && webhooks != NULL) {
        fs_watches_on_events(shared.watches, fs_watch_streams_wake, &shared);
        fs_watches_set_webhooks(shared.watches, webhooks);
    }
    if (shared.watches == NULL || webhooks == NULL || fs_webhooks_start(webhooks) != 0 || fs_watches_start(shared.watches) != 0 ||
        fs_watch_creator_start(&shared) != 0) {
        fprintf(stderr, "flightsearch: out of memory\n");
        fs_store_close(store);
        free(fds);
        return 1;
    }
    pthread_t loader;
    loader_start_t ls = {&shared, store, cfg};
    pthread_create(&loader, NULL, startup_loader_main, &ls);

    shared.worker_count = n;
    shared.workers = calloc(n, sizeof(*shared.workers)); /* NOLINT(bugprone-sizeof-expression): pointers */
    worker_start_t *starts = calloc(n, sizeof(*starts));
    for (unsigned i = 0; i < n; i++) {
        fs_worker_t *w;
        if (shared.workers == NULL || starts == NULL || posix_memalign((void **)&w, 64, sizeof(*w)) != 0)
            goto nomem;
        memset(w, 0, sizeof(*w));
        w->shared = &shared;
        w->id = i;
        w->results = calloc(FS_SEARCH_MAX_LIMIT, sizeof(*w->results));
        w->cells = calloc((size_t)FS_CALENDAR_MAX_DAYS * FS_CABIN_COUNT, sizeof(*w->cells));
        w->routes = calloc(FS_AIRPORT_COUNT, sizeof(*w->routes));
        w->watch_wakeup = 1; /* no wake-ups until its loop registered the receiver */
        shared.workers[i] = w;
        if (w->results == NULL || w->cells == NULL || w->routes == NULL)
            goto nomem;
        starts[i] = (worker_start_t){w, plain_fds[i], tls_fds[i], feed_fds[i], ssl_ctx};
    }
    for (unsigned i = 0; i < n; i++)
        pthread_create(&shared.workers[i]->thread, NULL, worker_main, &starts[i]);
    ck_pr_store_int(&shared.streams_ready, 1); /* the engine may wake the workers from now on */
    if (!cfg->quiet) {
        char where[1024];
        int k = snprintf(where, sizeof(where), "http://%s:%u (HTTP/1.1, h2c)", cfg->listen_host, port);
        if (cfg->tls_enabled && k > 0 && (size_t)k < sizeof(where))
            k += snprintf(where + k, sizeof(where) - (size_t)k, " and https://%s:%u (h2, HTTP/1.1)", cfg->tls_listen_host, tls_port);
        if (cfg->feed_listen_enabled && k > 0 && (size_t)k < sizeof(where))
            snprintf(where + k, sizeof(where) - (size_t)k, ", feeds on http://%s:%u", cfg->feed_listen_host, feed_port);
        fs_log("listening on %s with %u thread%s; data dir %s", where, n, n == 1 ? "" : "s", cfg->data_dir);
    }

    /* systemd (Type=notify): READY=1 once /readyz answers 200, WATCHDOG=1 every half period while
     * every event loop has made a pass within that half period (a loop stuck in a handler stops
     * the pings, and systemd restarts the service after WatchdogSec). */
    int64_t watchdog_ms = fs_notify_watchdog_ms(), next_ping = 0;
    int notified_ready = 0;
    while (stop_signal == 0) {
        usleep(50 * 1000);
        if (!notified_ready && ck_pr_load_int(&shared.ready)) {
            notified_ready = 1;
            fs_notify("READY=1\nSTATUS=serving; data dir restored");
        }
        if (watchdog_ms > 0 && monotonic_ms() >= next_ping) {
            int64_t now = monotonic_ms();
            next_ping = now + watchdog_ms / 2;
            if (loops_alive(&shared, now - watchdog_ms / 2))
                fs_notify("WATCHDOG=1");
        }
        if (reload_signal) {
            reload_signal = 0;
            if (fs_access_log_reopen(msg, sizeof(msg)) != 0)
                fs_log("SIGHUP: %s", msg);
            else if (cfg->access_log != NULL && strcmp(cfg->access_log, "-") != 0)
                fs_log("SIGHUP: reopened the access log %s", cfg->access_log);
            if (cfg->keys_file != NULL) {
                int r = fs_keys_reload(cfg->keys_file, msg, sizeof(msg));
                if (r < 0)
                    fs_log("SIGHUP: %s; the previous keys stay in force", msg);
                else
                    fs_log("SIGHUP: reloaded %d key%s from %s", r, r == 1 ? "" : "s", cfg->keys_file);
            }
            if (cfg->tokens_file == NULL) {
                if (cfg->keys_file == NULL)
                    fs_log("SIGHUP: no --tokens or --keys file to reload");
            } else {
                int r = fs_auth_reload(cfg->tokens_file, msg, sizeof(msg));
                if (r < 0)
                    fs_log("SIGHUP: %s; the previous tokens stay in force", msg);
                else
                    fs_log("SIGHUP: reloaded %d token%s from %s", r, r == 1 ? "" : "s", cfg->tokens_file);
            }
        }
    }
    fs_notify("STOPPING=1");
    if (!cfg->quiet)
        fs_log("%s received, draining connections", stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
    ck_pr_store_int(&shared.shutting_down, 1);
    for (unsigned i = 0; i < n; i++)
        pthread_join(shared.workers[i]->thread, NULL);
    pthread_join(loader, NULL);
    fs_replica_stop(ck_pr_load_ptr(&shared.replica)); /* answers the pushes it holds 503 */
    fs_feeds_stop(ck_pr_load_ptr(&shared.feeds)); /* finishes queued pushes */
    fs_watch_creator_stop(); /* before the engine it adds to */
    fs_watches_free(shared.watches);
    fs_webhooks_free(webhooks); /* after the engine: it stages into it */
    fs_store_close(store);
    /* what the process itself allocated; h2o's per-loop state dies with the process */
    free(starts);
    free(fds);
    if (!cfg->quiet)
        fs_log("stopped");
    return 0;

nomem: /* no worker runs yet; the process exits */
    fs_log("out of memory");
    free(starts);
    free(fds);
    return 1;
}
