/*
 * tests/overload/loadgen.c: an open-loop HTTP/1.1 load generator for the overload test.
 *
 * Open loop means requests leave on a fixed schedule (request i at start + i / rate) whatever the
 * server answers, as independent users would send them; a closed-loop tool (h2load, wrk) sends
 * the next request only when an answer came back, so a slow server slows its own load down and
 * the queueing it causes is never seen. Latency is measured from the scheduled send time, so a
 * request that waited anywhere (in this process, in a socket buffer, in the server) is charged
 * for the wait (no coordinated omission).
 *
 * One thread, epoll, plain sockets, no dependency beyond libc. A due request goes to an idle
 * keep-alive connection; when none is idle a new connection is opened (up to --max-conns); past
 * that it is pipelined behind the requests already on the connection with the fewest (up to
 * --max-depth per connection: HTTP/1.1 answers in order, so the pipeline is a FIFO). Only when
 * every connection holds --max-depth is a request not sent ("unsent": this generator's limit,
 * reported, never silently dropped). Requests due in one pass are written to each connection
 * with one write, so the generator keeps up with rates far beyond what the server can answer.
 *
 * Every answer is read in full (Content-Length or chunked) and classified: 200, 503 with
 * "overloaded" (and of those, how many name the in-flight bound rather than the loop's lag), 503
 * with "search_budget_exceeded", anything else. A connection that fails
 * (refused, reset, closed by the server with requests pending) fails the requests it carried
 * ("conn_errors"); requests still unanswered when the drain period after the run ends are
 * "timeouts".
 *
 *   loadgen --target 127.0.0.1:PORT --uris FILE --rate R --duration S [--warmup S] [--drain S]
 *           [--conns N] [--max-conns N] [--max-depth N] [--series FILE]
 *   loadgen --target 127.0.0.1:PORT --uris FILE --closed C --duration S [--warmup S]
 *
 * The summary goes to stdout as "key value" lines (figures in microseconds and per second),
 * for tests/overload/run.sh to read. Exit status: 0 the run happened (whatever the server did),
 * 2 bad arguments or no URI list, 1 the generator itself failed (epoll, memory).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "bench/load/hist.h"

/* The latency histogram is the one flightsearch-load uses (bench/load/hist.h): log-linear over
 * microseconds, at most 1.6% error; percentiles by nearest rank report the bucket's upper bound. */

/* ---------------------------------------------------------------- state */

typedef struct pending {
    int64_t sched_ns; /* when it was due (open loop) or sent (closed loop) */
    int64_t sent_ns;
} pending_t;

typedef struct conn {
    int fd;
    int connecting;
    char *out;
    size_t out_len, out_off, out_cap;
    char *in;
    size_t in_len, in_cap;
    pending_t *q; /* FIFO ring of requests written (or queued) on this connection */
    unsigned q_head, q_len;
    int want_out;
    int dirty;
} conn_t;

enum { C_OK, C_OVERLOADED, C_BUDGET, C_OTHER, C_CONNERR, C_KINDS };

typedef struct second {
    uint64_t due, sent, unsent, done[C_KINDS], max_ok_us;
} second_t;

static struct {
    struct sockaddr_in addr;
    char host[64];
    char **req; /* the request text of each URI */
    size_t *req_len;
    size_t uri_count;
    double rate;
    unsigned closed;
    double duration, warmup, drain;
    unsigned conns_initial, max_conns, max_depth;
    const char *series_path;

    int ep;
    conn_t *conns;
    unsigned conn_count; /* slots used (some may be closed: fd < 0) */
    unsigned open_count;
    unsigned *idle;
    unsigned idle_len;
    unsigned rotor;
    uint64_t next_uri;

    int64_t start_ns, warm_ns, end_ns;
    uint64_t due, sent, unsent, late_1ms, outstanding, connects, connect_failures;
    uint64_t done[C_KINDS], done_warm[C_KINDS];
    uint64_t shed_inflight; /* overloaded answers that name the in-flight bound (the rest: loop lag) */
    fs_hist_t h_ok, h_shed, h_late, h_ok_wire;
    second_t *secs;
    unsigned sec_count;
    char first_other[200];
} G;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void *xrealloc(void *p, size_t n)
{
    void *r = realloc(p, n);
    if (r == NULL && n != 0)
        die("realloc");
    return r;
}

static second_t *sec_of(int64_t t)
{
    int64_t s = (t - G.start_ns) / 1000000000;
    if (s < 0)
        s = 0;
    if ((unsigned)s >= G.sec_count)
        s = G.sec_count - 1;
    return &G.secs[s];
}

/* ---------------------------------------------------------- connections */

static void conn_events(conn_t *c, int out)
{
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.u32 = (uint32_t)(c - G.conns)};
    if (epoll_ctl(G.ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
        die("epoll_ctl MOD");
    c->want_out = out;
}

/* Opens a connection into a free slot (or a new one); returns its index or -1. */
static int conn_open(void)
{
    unsigned i;
    for (i = 0; i < G.conn_count; i++)
        if (G.conns[i].fd < 0)
            break;
    if (i == G.conn_count) {
        if (G.conn_count >= G.max_conns)
            return -1;
        G.conn_count++;
    }
    conn_t *c = &G.conns[i];
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        G.connect_failures++;
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    G.connects++;
    int r = connect(fd, (struct sockaddr *)&G.addr, sizeof(G.addr));
    if (r != 0 && errno != EINPROGRESS) {
        G.connect_failures++;
        close(fd);
        return -1;
    }
    c->fd = fd;
    c->connecting = r != 0;
    c->out_len = c->out_off = 0;
    c->in_len = 0;
    c->q_head = c->q_len = 0;
    c->dirty = 0;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = i};
    if (epoll_ctl(G.ep, EPOLL_CTL_ADD, fd, &ev) != 0)
        die("epoll_ctl ADD");
    c->want_out = 1;
    G.open_count++;
    return (int)i;
}

static void record(int kind, const pending_t *p, int64_t t)
{
    int64_t us = (t - p->sched_ns) / 1000;
    if (us < 0)
        us = 0;
    second_t *s = sec_of(p->sched_ns);
    s->done[kind]++;
    G.done[kind]++;
    G.outstanding--;
    if (p->sched_ns < G.warm_ns)
        return;
    G.done_warm[kind]++;
    if (kind == C_OK) {
        fs_hist_add(&G.h_ok, (uint64_t)us);
        fs_hist_add(&G.h_ok_wire, (uint64_t)((t - p->sent_ns) / 1000 > 0 ? (t - p->sent_ns) / 1000 : 0));
        if ((uint64_t)us > s->max_ok_us)
            s->max_ok_us = (uint64_t)us;
    } else if (kind == C_OVERLOADED || kind == C_BUDGET) {
        fs_hist_add(&G.h_shed, (uint64_t)us);
    }
}

static void idle_push(unsigned i)
{
    G.idle[G.idle_len++] = i;
}

static void idle_remove(unsigned i)
{
    for (unsigned k = 0; k < G.idle_len; k++)
        if (G.idle[k] == i) {
            G.idle[k] = G.idle[--G.idle_len];
            return;
        }
}

/* Fails every request the connection carries and closes it. */
static void conn_fail(conn_t *c, int64_t t)
{
    while (c->q_len > 0) {
        record(C_CONNERR, &c->q[c->q_head], t);
        c->q_head = (c->q_head + 1) % G.max_depth;
        c->q_len--;
    }
    epoll_ctl(G.ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    G.open_count--;
    idle_remove((unsigned)(c - G.conns));
}

static void conn_flush(conn_t *c, int64_t t)
{
    if (c->connecting)
        return;
    while (c->out_off < c->out_len) {
        ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!c->want_out)
                conn_events(c, 1);
            return;
        }
        conn_fail(c, t);
        return;
    }
    c->out_off = c->out_len = 0;
    if (c->want_out)
        conn_events(c, 0);
}

/* Queues request text on a connection; the write happens in flush_dirty (one per pass). */
static void conn_enqueue(unsigned i, int64_t sched, int64_t t)
{
    conn_t *c = &G.conns[i];
    uint64_t u = G.next_uri++ % G.uri_count;
    size_t len = G.req_len[u];
    if (c->out_len + len > c->out_cap) {
        c->out_cap = (c->out_len + len) * 2;
        c->out = xrealloc(c->out, c->out_cap);
    }
    memcpy(c->out + c->out_len, G.req[u], len);
    c->out_len += len;
    unsigned slot = (c->q_head + c->q_len) % G.max_depth;
    c->q[slot].sched_ns = sched;
    c->q[slot].sent_ns = t;
    c->q_len++;
    G.outstanding++;
    G.sent++;
    sec_of(sched)->sent++;
    c->dirty = 1;
}

static unsigned *dirty_list;
static unsigned dirty_len;

static void mark_dirty(unsigned i)
{
    if (!G.conns[i].dirty)
        dirty_list[dirty_len++] = i;
}

static void flush_dirty(int64_t t)
{
    for (unsigned k = 0; k < dirty_len; k++) {
        conn_t *c = &G.conns[dirty_list[k]];
        c->dirty = 0;
        if (c->fd >= 0)
            conn_flush(c, t);
    }
    dirty_len = 0;
}

/* One due request (open loop): idle connection, else a new one, else the shortest pipeline. */
static void dispatch(int64_t sched, int64_t t)
{
    G.due++;
    second_t *s = sec_of(sched);
    s->due++;
    if (t - sched > 1000000)
        G.late_1ms++;
    if (sched >= G.warm_ns)
        fs_hist_add(&G.h_late, (uint64_t)((t - sched) / 1000));
    int i = -1;
    while (G.idle_len > 0) {
        unsigned k = G.idle[--G.idle_len];
        if (G.conns[k].fd >= 0 && G.conns[k].q_len == 0) {
            i = (int)k;
            break;
        }
    }
    if (i < 0 && G.open_count < G.max_conns)
        i = conn_open();
    if (i < 0 && G.conn_count > 0) {
        /* every connection is busy: pipeline on the least loaded of a few, rotating */
        unsigned best = UINT32_MAX, best_len = UINT32_MAX;
        for (unsigned k = 0; k < 8 && k < G.conn_count; k++) {
            unsigned j = (G.rotor + k) % G.conn_count;
            if (G.conns[j].fd >= 0 && G.conns[j].q_len < best_len) {
                best = j;
                best_len = G.conns[j].q_len;
            }
        }
        G.rotor = (G.rotor + 1) % G.conn_count;
        if (best != UINT32_MAX && best_len < G.max_depth)
            i = (int)best;
        else {
            for (unsigned j = 0; j < G.conn_count; j++)
                if (G.conns[j].fd >= 0 && G.conns[j].q_len < G.max_depth) {
                    i = (int)j;
                    break;
                }
        }
    }
    if (i < 0) {
        G.unsent++;
        s->unsent++;
        return;
    }
    mark_dirty((unsigned)i);
    conn_enqueue((unsigned)i, sched, t);
}

/* ------------------------------------------------------------- parsing */

static const char *find_crlfcrlf(const char *p, size_t n)
{
    return memmem(p, n, "\r\n\r\n", 4);
}

/* Length of one complete chunked body starting at p, or 0 when incomplete, or -1 malformed. */
static long chunked_len(const char *p, size_t n)
{
    size_t off = 0;
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
            if (fin == NULL)
                return 0;
            return (long)((size_t)(fin - p) + 4);
        }
        if (n - off < sz + 2)
            return 0;
        off += sz + 2;
    }
}

/* Consumes the complete responses in c->in. Returns -1 when the stream is broken. */
static int parse_responses(conn_t *c, int64_t t)
{
    size_t off = 0;
    int rc = 0;
    while (off < c->in_len) {
        const char *p = c->in + off;
        size_t n = c->in_len - off;
        const char *hend = find_crlfcrlf(p, n);
        if (hend == NULL)
            break;
        size_t hlen = (size_t)(hend - p) + 4;
        if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0) {
            rc = -1;
            break;
        }
        int status = atoi(p + 9);
        long body = -1;
        int chunked = 0, close_after = 0;
        for (const char *line = memchr(p, '\n', hlen); line != NULL && line < hend;
             line = memchr(line + 1, '\n', (size_t)(hend - line))) {
            const char *h = line + 1;
            if (strncasecmp(h, "content-length:", 15) == 0)
                body = strtol(h + 15, NULL, 10);
            else if (strncasecmp(h, "transfer-encoding:", 18) == 0 && memmem(h, (size_t)(hend - h), "chunked", 7) != NULL)
                chunked = 1;
            else if (strncasecmp(h, "connection:", 11) == 0 && strncasecmp(h + 11, " close", 6) == 0)
                close_after = 1;
        }
        size_t total;
        if (chunked) {
            long cl = chunked_len(p + hlen, n - hlen);
            if (cl < 0) {
                rc = -1;
                break;
            }
            if (cl == 0)
                break;
            total = hlen + (size_t)cl;
        } else {
            if (body < 0)
                body = 0; /* HTTP/1.1 keep-alive answers always carry a length; 304 has none */
            if (n < hlen + (size_t)body)
                break;
            total = hlen + (size_t)body;
        }
        if (c->q_len == 0) {
            rc = -1; /* an answer nobody asked for */
            break;
        }
        int kind = C_OTHER;
        if (status == 200)
            kind = C_OK;
        else if (status == 503 && memmem(p + hlen, total - hlen, "\"overloaded\"", 12) != NULL) {
            kind = C_OVERLOADED;
            if (memmem(p + hlen, total - hlen, "in flight", 9) != NULL)
                G.shed_inflight++;
        } else if (status == 503 && memmem(p + hlen, total - hlen, "\"search_budget_exceeded\"", 24) != NULL)
            kind = C_BUDGET;
        if (kind == C_OTHER && G.first_other[0] == '\0') {
            size_t l = total - hlen < 120 ? total - hlen : 120;
            snprintf(G.first_other, sizeof(G.first_other), "%d %.*s", status, (int)l, p + hlen);
            for (char *q = G.first_other; *q; q++)
                if (*q == '\n' || *q == '\r')
                    *q = ' ';
        }
        record(kind, &c->q[c->q_head], t);
        c->q_head = (c->q_head + 1) % G.max_depth;
        c->q_len--;
        off += total;
        if (close_after) {
            rc = -1;
            break;
        }
    }
    if (off > 0) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
    return rc;
}

static void on_readable(conn_t *c, int64_t t)
{
    for (;;) {
        if (c->in_cap - c->in_len < 16384) {
            c->in_cap = c->in_cap ? c->in_cap * 2 : 65536;
            c->in = xrealloc(c->in, c->in_cap);
        }
        ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
        if (n > 0) {
            c->in_len += (size_t)n;
            if (parse_responses(c, t) != 0) {
                conn_fail(c, t);
                return;
            }
            if ((size_t)n < 16384)
                break;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        conn_fail(c, t); /* EOF or reset */
        return;
    }
}

/* ---------------------------------------------------------------- setup */

static int load_uris(const char *path, unsigned port)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    char line[4096];
    size_t cap = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        size_t l = strcspn(line, "\r\n");
        line[l] = '\0';
        if (l == 0 || line[0] == '#')
            continue;
        const char *path_part = line;
        if (strncmp(line, "http://", 7) == 0) {
            path_part = strchr(line + 7, '/');
            if (path_part == NULL)
                path_part = "/";
        }
        if (G.uri_count == cap) {
            cap = cap ? cap * 2 : 1024;
            G.req = xrealloc(G.req, cap * sizeof(*G.req));
            G.req_len = xrealloc(G.req_len, cap * sizeof(*G.req_len));
        }
        char buf[4400];
        int n = snprintf(buf, sizeof(buf), "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUser-Agent: flightsearch-overload\r\n\r\n",
                         path_part, port);
        if (n <= 0 || (size_t)n >= sizeof(buf))
            continue;
        G.req[G.uri_count] = strdup(buf);
        G.req_len[G.uri_count] = (size_t)n;
        G.uri_count++;
    }
    fclose(f);
    return G.uri_count > 0 ? 0 : -1;
}

static void usage(void)
{
    fprintf(stderr, "usage: loadgen --target HOST:PORT --uris FILE (--rate R | --closed C) --duration S [--warmup S]\n"
                    "               [--drain S] [--conns N] [--max-conns N] [--max-depth N] [--series FILE]\n");
    exit(2);
}

static void print_hist(const char *name, const fs_hist_t *h)
{
    printf("%s_count %llu\n%s_p50_us %llu\n%s_p90_us %llu\n%s_p99_us %llu\n%s_p999_us %llu\n%s_max_us %llu\n%s_mean_us %.0f\n",
           name, (unsigned long long)h->count, name, (unsigned long long)fs_hist_pct(h, 50), name, (unsigned long long)fs_hist_pct(h, 90),
           name, (unsigned long long)fs_hist_pct(h, 99), name, (unsigned long long)fs_hist_pct(h, 99.9), name,
           (unsigned long long)h->max_us, name, h->count ? (double)h->sum_us / (double)h->count : 0.0);
}

int main(int argc, char **argv)
{
    const char *target = NULL, *uris = NULL;
    G.duration = 10;
    G.warmup = 0;
    G.drain = 10;
    G.conns_initial = 64;
    G.max_conns = 512;
    G.max_depth = 64;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL)
            usage();
        if (strcmp(a, "--target") == 0)
            target = v;
        else if (strcmp(a, "--uris") == 0)
            uris = v;
        else if (strcmp(a, "--rate") == 0)
            G.rate = atof(v);
        else if (strcmp(a, "--closed") == 0)
            G.closed = (unsigned)atoi(v);
        else if (strcmp(a, "--duration") == 0)
            G.duration = atof(v);
        else if (strcmp(a, "--warmup") == 0)
            G.warmup = atof(v);
        else if (strcmp(a, "--drain") == 0)
            G.drain = atof(v);
        else if (strcmp(a, "--conns") == 0)
            G.conns_initial = (unsigned)atoi(v);
        else if (strcmp(a, "--max-conns") == 0)
            G.max_conns = (unsigned)atoi(v);
        else if (strcmp(a, "--max-depth") == 0)
            G.max_depth = (unsigned)atoi(v);
        else if (strcmp(a, "--series") == 0)
            G.series_path = v;
        else
            usage();
        i++;
    }
    if (target == NULL || uris == NULL || (G.rate <= 0) == (G.closed == 0) || G.duration <= 0 || G.max_conns == 0 ||
        G.max_depth == 0)
        usage();
    if (G.closed) {
        G.max_conns = G.conns_initial = G.closed;
        G.max_depth = 1;
    }
    if (G.conns_initial > G.max_conns)
        G.conns_initial = G.max_conns;
    char host[64];
    snprintf(host, sizeof(host), "%s", target);
    char *colon = strrchr(host, ':');
    if (colon == NULL)
        usage();
    *colon = '\0';
    unsigned port = (unsigned)atoi(colon + 1);
    G.addr.sin_family = AF_INET;
    G.addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &G.addr.sin_addr) != 1)
        usage();
    if (load_uris(uris, port) != 0) {
        fprintf(stderr, "loadgen: no URIs in %s\n", uris);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    G.ep = epoll_create1(EPOLL_CLOEXEC);
    if (G.ep < 0)
        die("epoll_create1");
    G.conns = calloc(G.max_conns, sizeof(*G.conns));
    G.idle = calloc(G.max_conns, sizeof(*G.idle));
    dirty_list = calloc(G.max_conns, sizeof(*dirty_list));
    if (G.conns == NULL || G.idle == NULL || dirty_list == NULL)
        die("calloc");
    for (unsigned i = 0; i < G.max_conns; i++) {
        G.conns[i].fd = -1;
        G.conns[i].q = calloc(G.max_depth, sizeof(pending_t));
        if (G.conns[i].q == NULL)
            die("calloc");
    }
    G.sec_count = (unsigned)(G.duration + G.drain) + 2;
    G.secs = calloc(G.sec_count, sizeof(*G.secs));
    if (G.secs == NULL)
        die("calloc");

    /* pre-connect the initial pool, before the clock starts */
    for (unsigned i = 0; i < G.conns_initial; i++)
        if (conn_open() < 0)
            break;
    struct epoll_event evs[1024];
    int64_t until = now_ns() + 2000000000LL;
    unsigned connected = 0;
    while (connected < G.open_count && now_ns() < until) {
        int n = epoll_wait(G.ep, evs, 1024, 100);
        for (int k = 0; k < n; k++) {
            conn_t *c = &G.conns[evs[k].data.u32];
            if (c->fd < 0 || !c->connecting)
                continue;
            int err = 0;
            socklen_t el = sizeof(err);
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
            if (err != 0 || (evs[k].events & (EPOLLERR | EPOLLHUP))) {
                G.connect_failures++;
                conn_fail(c, now_ns());
                continue;
            }
            c->connecting = 0;
            conn_events(c, 0);
            idle_push(evs[k].data.u32);
            connected++;
        }
    }
    G.outstanding = 0;

    G.start_ns = now_ns();
    G.warm_ns = G.start_ns + (int64_t)(G.warmup * 1e9);
    G.end_ns = G.start_ns + (int64_t)(G.duration * 1e9);
    int64_t drain_end = 0;
    double interval_ns = G.rate > 0 ? 1e9 / G.rate : 0;
    uint64_t seq = 0;
    int sending = 1;

    for (;;) {
        int64_t t = now_ns();
        if (sending && G.closed && t >= G.end_ns)
            sending = 0;
        if (sending && !G.closed) {
            /* everything due by now, at most 20000 per pass so answers keep being read */
            unsigned burst = 0;
            for (;;) {
                int64_t sched = G.start_ns + (int64_t)((double)seq * interval_ns);
                if (sched > t || sched >= G.end_ns || burst >= 20000)
                    break;
                dispatch(sched, t);
                seq++;
                burst++;
            }
            /* a generator behind schedule still sends (or counts as unsent) everything due before the end */
            if (G.start_ns + (int64_t)((double)seq * interval_ns) >= G.end_ns)
                sending = 0;
        } else if (sending && G.closed) {
            while (G.idle_len > 0) {
                unsigned k = G.idle[--G.idle_len];
                if (G.conns[k].fd >= 0 && G.conns[k].q_len == 0) {
                    G.due++;
                    sec_of(t)->due++;
                    mark_dirty(k);
                    conn_enqueue(k, t, t);
                }
            }
            while (G.open_count < G.closed) { /* replace failed connections */
                int k = conn_open();
                if (k < 0)
                    break;
                G.due++;
                mark_dirty((unsigned)k);
                conn_enqueue((unsigned)k, t, t);
            }
        }
        flush_dirty(t);
        if (!sending && drain_end == 0)
            drain_end = t + (int64_t)(G.drain * 1e9); /* the drain starts when the last request is out */
        if (!sending && (G.outstanding == 0 || t >= drain_end))
            break;

        int timeout_ms = 50;
        if (sending && !G.closed) {
            int64_t next = G.start_ns + (int64_t)((double)seq * interval_ns);
            int64_t wait = next - now_ns();
            timeout_ms = wait <= 1000000 ? 0 : (int)(wait / 1000000);
        } else if (sending) {
            timeout_ms = (int)((G.end_ns - t) / 1000000) + 1;
            if (timeout_ms > 50)
                timeout_ms = 50;
        }
        int n = epoll_wait(G.ep, evs, 1024, timeout_ms);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        t = now_ns();
        for (int k = 0; k < n; k++) {
            unsigned i = evs[k].data.u32;
            conn_t *c = &G.conns[i];
            if (c->fd < 0)
                continue;
            if (c->connecting) {
                int err = 0;
                socklen_t el = sizeof(err);
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
                if (err != 0 || (evs[k].events & (EPOLLERR | EPOLLHUP))) {
                    G.connect_failures++;
                    conn_fail(c, t);
                    continue;
                }
                c->connecting = 0;
                conn_flush(c, t);
                if (c->fd < 0)
                    continue;
                if (c->q_len == 0)
                    idle_push(i);
                continue;
            }
            if (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                unsigned before = c->q_len;
                on_readable(c, t);
                if (c->fd >= 0 && before > 0 && c->q_len == 0)
                    idle_push(i);
            }
            if (c->fd >= 0 && (evs[k].events & EPOLLOUT))
                conn_flush(c, t);
        }
    }

    int64_t t_end = now_ns();
    uint64_t timeouts = 0;
    for (unsigned i = 0; i < G.conn_count; i++) {
        conn_t *c = &G.conns[i];
        timeouts += c->q_len;
        if (c->fd >= 0)
            close(c->fd);
    }
    double secs = G.duration - G.warmup;
    if (secs <= 0)
        secs = G.duration;

    printf("mode %s\n", G.closed ? "closed" : "open");
    printf("target_rate %.1f\n", G.rate);
    printf("duration_s %.1f\nwarmup_s %.1f\n", G.duration, G.warmup);
    printf("due %llu\nsent %llu\nunsent %llu\nlate_over_1ms %llu\n", (unsigned long long)G.due, (unsigned long long)G.sent,
           (unsigned long long)G.unsent, (unsigned long long)G.late_1ms);
    printf("sent_per_s %.1f\n", (double)G.sent / G.duration);
    printf("ok %llu\noverloaded %llu\nbudget %llu\nother %llu\nconn_errors %llu\ntimeouts %llu\n", (unsigned long long)G.done[C_OK],
           (unsigned long long)G.done[C_OVERLOADED], (unsigned long long)G.done[C_BUDGET], (unsigned long long)G.done[C_OTHER],
           (unsigned long long)G.done[C_CONNERR], (unsigned long long)timeouts);
    printf("overloaded_inflight %llu\n", (unsigned long long)G.shed_inflight);
    printf("ok_per_s %.1f\nshed_per_s %.1f\n", (double)G.done_warm[C_OK] / secs,
           (double)(G.done_warm[C_OVERLOADED] + G.done_warm[C_BUDGET]) / secs);
    printf("connects %llu\nconnect_failures %llu\nmax_conns_used %u\n", (unsigned long long)G.connects,
           (unsigned long long)G.connect_failures, G.conn_count);
    printf("drain_s %.2f\n", (double)(t_end - G.end_ns) / 1e9);
    print_hist("ok_latency", &G.h_ok);
    print_hist("ok_wire_latency", &G.h_ok_wire);
    print_hist("shed_latency", &G.h_shed);
    print_hist("send_lateness", &G.h_late);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("cpu_s %.2f\nwall_s %.2f\n",
           (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
               (double)ru.ru_stime.tv_usec / 1e6,
           (double)(t_end - G.start_ns) / 1e9);
    printf("first_other %s\n", G.first_other[0] ? G.first_other : "-");

    if (G.series_path != NULL) {
        FILE *f = fopen(G.series_path, "w");
        if (f != NULL) {
            fprintf(f, "second\tdue\tsent\tunsent\tok\toverloaded\tbudget\tother\tconn_errors\tmax_ok_ms\n");
            for (unsigned s = 0; s < G.sec_count; s++) {
                const second_t *x = &G.secs[s];
                if (x->due == 0 && x->done[C_OK] == 0 && s > (unsigned)G.duration)
                    continue;
                fprintf(f, "%u\t%llu\t%llu\t%llu\t%llu\t%llu\t%llu\t%llu\t%llu\t%.1f\n", s, (unsigned long long)x->due,
                        (unsigned long long)x->sent, (unsigned long long)x->unsent, (unsigned long long)x->done[C_OK],
                        (unsigned long long)x->done[C_OVERLOADED], (unsigned long long)x->done[C_BUDGET],
                        (unsigned long long)x->done[C_OTHER], (unsigned long long)x->done[C_CONNERR],
                        (double)x->max_ok_us / 1000.0);
            }
            fclose(f);
        }
    }
    return 0;
}
