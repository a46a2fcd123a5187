/*
 * tests/abuse/flood.c: hostile HTTP clients for tests/abuse/run.sh, against loopback only.
 *
 * One process, one thread, epoll; every mode runs for --seconds and stops by itself.
 *
 *   idle       hold --conns connections that send nothing (with --h2: the h2c preface and a
 *              SETTINGS frame, then nothing); reopen the ones the server closes
 *   slowloris  hold --conns connections, each sending an endless request head one byte per
 *              --interval-ms; reopen the ones the server closes
 *   bigheader  --conns connections in a loop: a request with one --size byte header, read the
 *              answer to the end (Connection: close), count its status, reconnect
 *   bigbody    the same with a --size byte body, cycling over the --request "METHOD PATH" list
 *              (both: --rate caps the requests started per second; default as fast as possible)
 *   pipeline   --conns HTTP/1.1 connections writing pipelined GETs as fast as the server takes
 *              them, never reading a byte of the answers
 *   h2flood    --conns h2c connections writing HEADERS frames (new streams) as fast as the
 *              server takes them, never reading
 *
 * A line per second, then a summary of key=value pairs that run.sh parses:
 *   flood: mode=bigheader seconds=5.0 connects=... server_closes=... connect_errors=...
 *          requests=... bytes_sent=... answers=... statuses=413:10,431:2 lifetime_avg_s=...
 *
 * Build: cc -O2 flood.c -o flood (run.sh does it).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FL_MAX_CONNS 20000
#define FL_MAX_REQUESTS 16
#define FL_MAX_STATUS 600

typedef enum { M_IDLE, M_SLOWLORIS, M_BIGHEADER, M_BIGBODY, M_PIPELINE, M_H2FLOOD } fl_mode_t;
static const char *const mode_names[] = {"idle", "slowloris", "bigheader", "bigbody", "pipeline", "h2flood"};

typedef enum { S_CLOSED, S_CONNECTING, S_SENDING, S_READING, S_HOLDING } fl_state_t;

typedef struct fl_conn {
    int fd;
    fl_state_t state;
    const char *out; /* what is being sent */
    size_t out_len, out_off;
    char head[16]; /* first bytes of the answer: the status line */
    size_t head_len;
    double opened_at;
    uint32_t next_stream_id; /* h2flood */
    unsigned request_index;  /* bigbody */
} fl_conn_t;

static struct {
    fl_mode_t mode;
    const char *host, *source;
    unsigned port;
    unsigned conns;
    double seconds;
    size_t size;
    unsigned interval_ms;
    double rate; /* bigheader, bigbody: requests per second at most (0: as fast as possible) */
    int h2;
    const char *path;
    const char *request_specs[FL_MAX_REQUESTS];
    unsigned request_count;
    struct addrinfo *addr, *src;
    int epfd;
    /* counters */
    uint64_t opens, connects, server_closes, connect_errors, requests, bytes_sent, answers, resets;
    uint64_t statuses[FL_MAX_STATUS];
    double lifetime_sum;
    uint64_t lifetime_count;
} g = {.host = "127.0.0.1",
       .port = 8080,
       .conns = 100,
       .seconds = 10,
       .size = 100 * 1024,
       .interval_ms = 1000,
       .path = "/v1/search?origin=GRU&destination=LIS&date=2026-12-05"};

static fl_conn_t *conns;
/* prepared request bytes */
static char *req_buf[FL_MAX_REQUESTS];
static size_t req_len[FL_MAX_REQUESTS];
static char *stream_buf; /* slowloris: endless head; pipeline: many requests */
static size_t stream_len, stream_loop_at;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: flood MODE [--host 127.0.0.1] [--port 8080] [--conns 100] [--seconds 10] [--size BYTES]\n"
                 "             [--interval-ms 1000] [--rate REQ/S] [--h2] [--path PATH] [--request 'METHOD PATH']...\n"
                 "             [--source ADDR]\n"
                 "modes: idle slowloris bigheader bigbody pipeline h2flood (see the comment at the top of flood.c)\n"
                 "Loopback targets only.\n");
}

static int is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
    return 0;
}

static struct addrinfo *resolve(const char *host, unsigned port)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV}, *res;
    char portstr[8];
    snprintf(portstr, sizeof(portstr), "%u", port);
    return getaddrinfo(host, portstr, &hints, &res) == 0 ? res : NULL;
}

/* ------------------------------------------------------------------ request bytes */

static char *xmalloc(size_t n)
{
    char *p = malloc(n);
    if (p == NULL) {
        fprintf(stderr, "flood: out of memory\n");
        exit(1);
    }
    return p;
}

static void prepare(void)
{
    char head[2048];
    switch (g.mode) {
    case M_IDLE:
        if (g.h2) { /* preface + empty SETTINGS */
            static const char h2_hello[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";
            req_buf[0] = (char *)h2_hello;
            req_len[0] = sizeof(h2_hello) - 1;
        }
        break;
    case M_SLOWLORIS: {
        /* a request head that never ends: header lines forever */
        int n = snprintf(head, sizeof(head), "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: slowloris\r\n", g.path, g.host);
        stream_len = (size_t)n + 64 * 1024;
        stream_buf = xmalloc(stream_len);
        memcpy(stream_buf, head, (size_t)n);
        stream_loop_at = (size_t)n;
        for (size_t i = (size_t)n; i + 8 <= stream_len; i += 8)
            memcpy(stream_buf + i, "X-a: b\r\n", 8);
        stream_len = (size_t)n + (stream_len - (size_t)n) / 8 * 8;
        break;
    }
    case M_BIGHEADER: {
        int n = snprintf(head, sizeof(head), "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nX-Big: ", g.path, g.host);
        req_len[0] = (size_t)n + g.size + 4;
        req_buf[0] = xmalloc(req_len[0]);
        memcpy(req_buf[0], head, (size_t)n);
        memset(req_buf[0] + n, 'a', g.size);
        memcpy(req_buf[0] + n + g.size, "\r\n\r\n", 4);
        break;
    }
    case M_BIGBODY:
        if (g.request_count == 0)
            g.request_specs[g.request_count++] = "GET /v1/search?origin=GRU&destination=LIS&date=2026-12-05";
        for (unsigned i = 0; i < g.request_count; i++) {
            char method[16];
            const char *sp = strchr(g.request_specs[i], ' ');
            size_t ml = sp ? (size_t)(sp - g.request_specs[i]) : 0;
            if (ml == 0 || ml >= sizeof(method)) {
                fprintf(stderr, "flood: --request wants 'METHOD PATH', not '%s'\n", g.request_specs[i]);
                exit(2);
            }
            memcpy(method, g.request_specs[i], ml);
            method[ml] = '\0';
            int n = snprintf(head, sizeof(head),
                             "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nContent-Type: application/json\r\n"
                             "Content-Length: %zu\r\n\r\n",
                             method, sp + 1, g.host, g.size);
            req_len[i] = (size_t)n + g.size;
            req_buf[i] = xmalloc(req_len[i]);
            memcpy(req_buf[i], head, (size_t)n);
            memset(req_buf[i] + n, ' ', g.size); /* JSON whitespace: a body that is valid up to its end */
        }
        break;
    case M_PIPELINE: {
        int n = snprintf(head, sizeof(head), "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", g.path, g.host);
        size_t count = 256 * 1024 / (size_t)n;
        stream_len = count * (size_t)n;
        stream_buf = xmalloc(stream_len);
        for (size_t i = 0; i < count; i++)
            memcpy(stream_buf + i * (size_t)n, head, (size_t)n);
        stream_loop_at = 0;
        req_len[0] = (size_t)n; /* one request, for counting */
        break;
    }
    case M_H2FLOOD: {
        /* preface, SETTINGS, then HEADERS frames written on the fly (stream ids change) */
        static const char h2_hello[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";
        req_buf[0] = (char *)h2_hello;
        req_len[0] = sizeof(h2_hello) - 1;
        break;
    }
    }
}

/* One HTTP/2 request as a HEADERS frame (END_STREAM|END_HEADERS), HPACK without indexing. */
static size_t h2_headers_frame(uint8_t *out, uint32_t stream_id)
{
    uint8_t block[600];
    size_t n = 0, pl = strlen(g.path), hl = strlen(g.host);
    if (pl > 126 || hl > 126)
        return 0;
    block[n++] = 0x82; /* :method GET */
    block[n++] = 0x86; /* :scheme http */
    block[n++] = 0x04; /* :path, literal without indexing, name index 4 */
    block[n++] = (uint8_t)pl;
    memcpy(block + n, g.path, pl), n += pl;
    block[n++] = 0x01; /* :authority */
    block[n++] = (uint8_t)hl;
    memcpy(block + n, g.host, hl), n += hl;
    out[0] = (uint8_t)(n >> 16), out[1] = (uint8_t)(n >> 8), out[2] = (uint8_t)n;
    out[3] = 0x01; /* HEADERS */
    out[4] = 0x05; /* END_STREAM | END_HEADERS */
    out[5] = (uint8_t)(stream_id >> 24) & 0x7f, out[6] = (uint8_t)(stream_id >> 16), out[7] = (uint8_t)(stream_id >> 8),
    out[8] = (uint8_t)stream_id;
    memcpy(out + 9, block, n);
    return 9 + n;
}

/* ------------------------------------------------------------------ connections */

static void conn_start_request(fl_conn_t *c)
{
    switch (g.mode) {
    case M_IDLE:
    case M_H2FLOOD:
        c->out = req_buf[0];
        c->out_len = req_len[0];
        break;
    case M_BIGHEADER:
        c->out = req_buf[0];
        c->out_len = req_len[0];
        break;
    case M_BIGBODY:
        c->out = req_buf[c->request_index % g.request_count];
        c->out_len = req_len[c->request_index % g.request_count];
        c->request_index++;
        break;
    case M_SLOWLORIS:
    case M_PIPELINE:
        c->out = stream_buf;
        c->out_len = stream_len;
        break;
    }
    c->out_off = 0;
    c->head_len = 0;
    c->next_stream_id = 1;
    c->state = c->out_len > 0 ? S_SENDING : S_HOLDING;
}

static void conn_open(fl_conn_t *c)
{
    g.opens++;
    c->fd = socket(g.addr->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        g.connect_errors++;
        c->state = S_CLOSED;
        return;
    }
    int on = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    if (g.src != NULL)
        bind(c->fd, g.src->ai_addr, g.src->ai_addrlen);
    if (connect(c->fd, g.addr->ai_addr, g.addr->ai_addrlen) != 0 && errno != EINPROGRESS) {
        close(c->fd);
        c->fd = -1;
        g.connect_errors++;
        c->state = S_CLOSED;
        return;
    }
    c->state = S_CONNECTING;
    c->opened_at = now_s();
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.ptr = c};
    epoll_ctl(g.epfd, EPOLL_CTL_ADD, c->fd, &ev);
}

static void conn_close(fl_conn_t *c, int by_server)
{
    if (c->fd >= 0) {
        epoll_ctl(g.epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    if (by_server) {
        g.server_closes++;
        g.lifetime_sum += now_s() - c->opened_at;
        g.lifetime_count++;
    }
    c->fd = -1;
    c->state = S_CLOSED;
}

static void want(fl_conn_t *c, uint32_t events)
{
    struct epoll_event ev = {.events = events | EPOLLRDHUP, .data.ptr = c};
    epoll_ctl(g.epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void record_answer(fl_conn_t *c)
{
    unsigned status = 0;
    if (c->head_len >= 12 && memcmp(c->head, "HTTP/1.", 7) == 0)
        status = (unsigned)atoi(c->head + 9);
    if (status >= FL_MAX_STATUS)
        status = 0;
    g.statuses[status]++;
    g.answers++;
}

/* Reads what the server sent. Returns -1 when the connection is over. */
static int conn_read(fl_conn_t *c)
{
    char buf[16384];
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
        if (n > 0) {
            if (c->head_len < sizeof(c->head)) {
                size_t k = sizeof(c->head) - c->head_len < (size_t)n ? sizeof(c->head) - c->head_len : (size_t)n;
                memcpy(c->head + c->head_len, buf, k);
                c->head_len += k;
            }
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            return -1;
        return 0;
    }
}

static void conn_write(fl_conn_t *c, size_t max)
{
    while (c->state == S_SENDING && max > 0) {
        const char *p;
        size_t len;
        uint8_t frame[700];
        if (g.mode == M_H2FLOOD && c->out_off >= c->out_len) {
            len = h2_headers_frame(frame, c->next_stream_id); /* whole frames only: max may be exceeded */
            p = (const char *)frame;
        } else {
            p = c->out + c->out_off;
            len = c->out_len - c->out_off;
            if (len > max)
                len = max;
        }
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                want(c, EPOLLOUT | EPOLLIN);
                return;
            }
            g.resets++;
            if (g.mode == M_BIGHEADER || g.mode == M_BIGBODY) {
                /* the server may have answered and closed before taking the whole request */
                conn_read(c);
                record_answer(c);
            }
            conn_close(c, 1);
            return;
        }
        g.bytes_sent += (size_t)n;
        max = (size_t)n < max ? max - (size_t)n : 0;
        if (g.mode == M_H2FLOOD && p == (const char *)frame) {
            if ((size_t)n < len) { /* keep the rest of the frame: send it as plain output */
                static __thread char rest[700];
                memcpy(rest, frame + n, len - (size_t)n);
                c->out = rest;
                c->out_len = len - (size_t)n;
                c->out_off = 0;
                g.requests++;
                c->next_stream_id += 2;
                continue;
            }
            g.requests++;
            c->next_stream_id += 2;
            continue;
        }
        c->out_off += (size_t)n;
        if (g.mode == M_PIPELINE)
            g.requests = g.bytes_sent / req_len[0];
        if (c->out_off < c->out_len)
            continue;
        /* this output is done */
        switch (g.mode) {
        case M_SLOWLORIS:
        case M_PIPELINE:
            c->out_off = stream_loop_at;
            break;
        case M_BIGHEADER:
        case M_BIGBODY:
            g.requests++;
            c->state = S_READING;
            want(c, EPOLLIN);
            return;
        case M_H2FLOOD:
            break; /* next: HEADERS frames */
        case M_IDLE:
            c->state = S_HOLDING;
            want(c, EPOLLIN);
            return;
        }
    }
}

static void on_event(fl_conn_t *c, uint32_t events)
{
    if (c->state == S_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            g.connect_errors++;
            conn_close(c, 0);
            return;
        }
        g.connects++;
        conn_start_request(c);
        if (c->state == S_HOLDING)
            want(c, EPOLLIN);
        if (g.mode == M_SLOWLORIS) {
            want(c, EPOLLIN); /* bytes go out on the timer */
            return;
        }
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        if (g.mode == M_PIPELINE || g.mode == M_H2FLOOD) {
            /* never read: only notice a close */
            if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
                conn_close(c, 1);
                return;
            }
        } else if (conn_read(c) != 0) {
            if (c->state == S_READING || g.mode == M_BIGHEADER || g.mode == M_BIGBODY)
                record_answer(c);
            conn_close(c, 1);
            return;
        }
    }
    if ((events & EPOLLOUT) && c->state == S_SENDING && g.mode != M_SLOWLORIS)
        conn_write(c, 256 * 1024); /* a bounded share per wake-up: --seconds must hold */
    if (c->state == S_SENDING && g.mode != M_SLOWLORIS)
        want(c, EPOLLOUT | ((g.mode == M_PIPELINE || g.mode == M_H2FLOOD) ? 0 : EPOLLIN));
}

/* ------------------------------------------------------------------ main */

static int parse_args(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return -1;
    }
    if (strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        exit(0);
    }
    unsigned m;
    for (m = 0; m < sizeof(mode_names) / sizeof(mode_names[0]); m++)
        if (strcmp(argv[1], mode_names[m]) == 0)
            break;
    if (m == sizeof(mode_names) / sizeof(mode_names[0])) {
        usage(stderr);
        return -1;
    }
    g.mode = (fl_mode_t)m;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--h2") == 0) {
            g.h2 = 1;
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
        else if (strcmp(a, "--conns") == 0)
            g.conns = (unsigned)atoi(v);
        else if (strcmp(a, "--seconds") == 0)
            g.seconds = atof(v);
        else if (strcmp(a, "--size") == 0)
            g.size = (size_t)strtoull(v, NULL, 10);
        else if (strcmp(a, "--interval-ms") == 0)
            g.interval_ms = (unsigned)atoi(v);
        else if (strcmp(a, "--rate") == 0)
            g.rate = atof(v);
        else if (strcmp(a, "--path") == 0)
            g.path = v;
        else if (strcmp(a, "--request") == 0 && g.request_count < FL_MAX_REQUESTS)
            g.request_specs[g.request_count++] = v;
        else if (strcmp(a, "--source") == 0)
            g.source = v;
        else {
            usage(stderr);
            return -1;
        }
    }
    if (g.port == 0 || g.port > 65535 || g.conns < 1 || g.conns > FL_MAX_CONNS || g.seconds <= 0 || g.seconds > 600 ||
        g.size > 1024u * 1024 * 1024 || g.interval_ms < 1) {
        fprintf(stderr, "flood: --port 1-65535, --conns 1-%d, --seconds 0-600, --size up to 1G, --interval-ms >= 1\n",
                FL_MAX_CONNS);
        return -1;
    }
    return 0;
}

static void print_statuses(FILE *out)
{
    int first = 1;
    for (unsigned s = 0; s < FL_MAX_STATUS; s++) {
        if (g.statuses[s] == 0)
            continue;
        fprintf(out, "%s%u:%llu", first ? "" : ",", s, (unsigned long long)g.statuses[s]);
        first = 0;
    }
    if (first)
        fprintf(out, "-");
}

int main(int argc, char **argv)
{
    if (parse_args(argc, argv) != 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    g.addr = resolve(g.host, g.port);
    if (g.addr == NULL || !is_loopback(g.addr->ai_addr)) {
        fprintf(stderr, "flood: --host must be a numeric loopback address (127.0.0.0/8 or ::1)\n");
        return 2;
    }
    if (g.source != NULL && ((g.src = resolve(g.source, 0)) == NULL || !is_loopback(g.src->ai_addr))) {
        fprintf(stderr, "flood: --source must be a numeric loopback address\n");
        return 2;
    }
    prepare();
    g.epfd = epoll_create1(EPOLL_CLOEXEC);
    conns = calloc(g.conns, sizeof(*conns));
    for (unsigned i = 0; i < g.conns; i++)
        conns[i].fd = -1;

    double start = now_s(), end = start + g.seconds, next_report = start + 1, next_tick = start;
    uint64_t last_connects = 0, last_closes = 0, last_requests = 0;
    unsigned opened = 0; /* open connections gradually: 500 per pass, so a listen backlog is not swamped */
    struct epoll_event evs[512];
    while (now_s() < end) {
        for (unsigned k = 0; k < 500 && opened < g.conns && (g.rate <= 0 || (double)g.opens < g.rate * (now_s() - start) + 1); k++)
            conn_open(&conns[opened++]);
        /* with --rate, a request (one per connection in bigheader and bigbody) starts only when
           the budget so far allows it */
        double budget = g.rate > 0 ? g.rate * (now_s() - start) + 1 : 1e18;
        for (unsigned i = 0; i < opened && (double)g.opens < budget; i++)
            if (conns[i].state == S_CLOSED)
                conn_open(&conns[i]);
        int timeout = 100;
        if (g.mode == M_SLOWLORIS) {
            double t = now_s();
            if (t >= next_tick) {
                for (unsigned i = 0; i < opened; i++)
                    if (conns[i].state == S_SENDING)
                        conn_write(&conns[i], 1);
                next_tick = t + g.interval_ms / 1000.0;
            }
            timeout = (int)((next_tick - now_s()) * 1000) + 1;
            if (timeout > 100)
                timeout = 100;
            if (timeout < 1)
                timeout = 1;
        }
        int n = epoll_wait(g.epfd, evs, 512, timeout);
        for (int i = 0; i < n; i++)
            on_event(evs[i].data.ptr, evs[i].events);
        double t = now_s();
        if (t >= next_report) {
            unsigned open_now = 0;
            for (unsigned i = 0; i < opened; i++)
                open_now += conns[i].state != S_CLOSED && conns[i].state != S_CONNECTING;
            printf("t=%.1fs open=%u connects/s=%llu server_closes/s=%llu requests/s=%llu statuses=", t - start, open_now,
                   (unsigned long long)(g.connects - last_connects), (unsigned long long)(g.server_closes - last_closes),
                   (unsigned long long)(g.requests - last_requests));
            print_statuses(stdout);
            printf("\n");
            fflush(stdout);
            last_connects = g.connects, last_closes = g.server_closes, last_requests = g.requests;
            next_report += 1;
        }
    }
    unsigned open_now = 0;
    for (unsigned i = 0; i < opened; i++)
        open_now += conns[i].state != S_CLOSED && conns[i].state != S_CONNECTING;
    printf("flood: mode=%s seconds=%.1f conns=%u open_at_end=%u connects=%llu server_closes=%llu connect_errors=%llu "
           "requests=%llu bytes_sent=%llu answers=%llu resets=%llu lifetime_avg_s=%.1f statuses=",
           mode_names[g.mode], now_s() - start, g.conns, open_now, (unsigned long long)g.connects,
           (unsigned long long)g.server_closes, (unsigned long long)g.connect_errors, (unsigned long long)g.requests,
           (unsigned long long)g.bytes_sent, (unsigned long long)g.answers, (unsigned long long)g.resets,
           g.lifetime_count ? g.lifetime_sum / (double)g.lifetime_count : 0.0);
    print_statuses(stdout);
    printf("\n");
    for (unsigned i = 0; i < opened; i++)
        if (conns[i].fd >= 0)
            close(conns[i].fd);
    return 0;
}
