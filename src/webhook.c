/*
 * src/webhook.c: webhook deliveries (contract: src/webhook.h).
 *
 * Targets are kept sorted by watch id (binary search); each holds its url, secret, a FIFO of
 * pending events and at most one attempt in flight (in order per watch). The thread's loop starts
 * the attempts that are due, runs curl_multi_perform, reads the finished ones and sleeps in
 * curl_multi_poll until the next due retry or a curl_multi_wakeup (a commit). Each pass looks at
 * every target: O(targets with webhooks), which is fine for thousands; a heap of due times would be
 * the next step.
 *
 * The outbox is a text log, one record per line group:
 *   e EVENT_ID WATCH_ID CREATED_UNIX LEN\n<LEN bytes of JSON>\n    an event to deliver
 *   d EVENT_ID\n                                                  delivered or given up
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "index/index.h"
#include "src/internal.h"
#include "src/webhook.h"

#define RETRY_CAP_MS (3600 * 1000)
#define OUTBOX_TRUNCATE_BYTES (1 << 20)

typedef struct pending {
    struct pending *next;
    uint64_t event_id, watch_id;
    int64_t created_s;
    unsigned attempts;
    int64_t due_ms; /* monotonic: when the next attempt may start */
    size_t len;
    char json[]; /* NUL-terminated */
} pending_t;

typedef struct target {
    uint64_t watch_id;
    char *url, *secret; /* NULL until set (events restored before their watch) */
    pending_t *head, *tail;
    unsigned count;
    CURL *easy; /* the attempt in flight, for head */
    struct curl_slist *headers;
    int gone;   /* forgotten while an attempt was in flight: freed when it ends */
    struct target *next_gone; /* on wh->gone meanwhile */
    uint64_t ok_event, fail_event;
    int64_t ok_at, fail_at;
    unsigned fail_attempts;
    char fail_error[96];
} target_t;

struct fs_webhooks {
    fs_webhook_options_t o;
    pthread_mutex_t mu;
    target_t **targets; /* sorted by watch_id */
    unsigned count, cap;
    pending_t *staged, *staged_tail;
    char *stage_buf;
    size_t stage_len, stage_cap;
    int fd;                /* the outbox, O_APPEND; -1: none */
    char path[4096];
    uint64_t file_bytes;
    unsigned pending_total;
    target_t *gone; /* forgotten with an attempt in flight (freed by the thread, or at the end) */
    CURLM *multi;
    pthread_t thread;
    int started, stop;
    uint64_t rng;
};

/* ------------------------------------------------------------ signing */

void fs_webhook_sign(const char *secret, int64_t t, const char *body, size_t len, char *out, size_t cap)
{
    char ts[24];
    int tl = snprintf(ts, sizeof(ts), "%lld.", (long long)t);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    size_t total = (size_t)tl + len;
    unsigned char *msg = malloc(total > 0 ? total : 1);
    if (msg == NULL) {
        snprintf(out, cap, "t=%lld,v1=", (long long)t);
        return;
    }
    memcpy(msg, ts, (size_t)tl);
    memcpy(msg + tl, body, len);
    HMAC(EVP_sha256(), secret, (int)strlen(secret), msg, total, mac, &mac_len);
    free(msg);
    static const char hex[] = "0123456789abcdef";
    int n = snprintf(out, cap, "t=%lld,v1=", (long long)t);
    for (unsigned i = 0; i < mac_len && (size_t)n + 2 < cap; i++) {
        out[n++] = hex[mac[i] >> 4];
        out[n++] = hex[mac[i] & 15];
    }
    out[n] = '\0';
}

/* ------------------------------------------------------------ addresses */

static int v4_private(uint32_t a) /* host order */
{
    return (a >> 24) == 0 || (a >> 24) == 10 || (a >> 24) == 127 || (a >> 16) == 0xa9fe /* 169.254/16 */ ||
           (a >> 20) == 0xac1 /* 172.16/12 */ || (a >> 16) == 0xc0a8 /* 192.168/16 */ ||
           (a >> 22) == (100u << 2 | 1) /* 100.64/10 */ || (a >> 28) == 0xe /* multicast */ || (a >> 28) == 0xf;
}

/* Whether an address is one a public webhook must not reach. */
static int address_private(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return v4_private(ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr));
    if (sa->sa_family != AF_INET6)
        return 1;
    const unsigned char *b = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(b, mapped, 12) == 0)
        return v4_private((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15]);
    int zero15 = 1;
    for (int i = 0; i < 15; i++)
        zero15 &= b[i] == 0;
    if (zero15 && (b[15] == 0 || b[15] == 1)) /* :: and ::1 */
        return 1;
    return (b[0] & 0xfe) == 0xfc /* fc00::/7 */ || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) /* fe80::/10 */ || b[0] == 0xff;
}

int fs_webhook_check_url(const char *url, int allow_private, char *msg, size_t cap)
{
    const char *p;
    if (strncmp(url, "http://", 7) == 0)
        p = url + 7;
    else if (strncmp(url, "https://", 8) == 0)
        p = url + 8;
    else {
        snprintf(msg, cap, "webhook.url: expected an http:// or https:// URL");
        return FS_EINVAL;
    }
    char host[256];
    size_t n = 0;
    if (*p == '[') { /* an IPv6 literal */
        const char *end = strchr(p, ']');
        if (end == NULL || (size_t)(end - p - 1) >= sizeof(host)) {
            snprintf(msg, cap, "webhook.url: malformed [IPv6] host");
            return FS_EINVAL;
        }
        n = (size_t)(end - p - 1);
        memcpy(host, p + 1, n);
    } else {
        while (p[n] != '\0' && p[n] != ':' && p[n] != '/' && p[n] != '?' && p[n] != '#' && n + 1 < sizeof(host)) {
            if (p[n] == '@') {
                snprintf(msg, cap, "webhook.url: credentials in the URL are not accepted");
                return FS_EINVAL;
            }
            host[n] = p[n];
            n++;
        }
    }
    host[n] = '\0';
    if (n == 0) {
        snprintf(msg, cap, "webhook.url: the URL has no host");
        return FS_EINVAL;
    }
    if (allow_private)
        return 0;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        snprintf(msg, cap, "webhook.url: cannot resolve %s (%s)", host, gai_strerror(rc));
        return FS_EINVAL;
    }
    int bad = 0;
    for (const struct addrinfo *ai = res; ai != NULL && !bad; ai = ai->ai_next)
        bad = address_private(ai->ai_addr);
    freeaddrinfo(res);
    if (bad) {
        snprintf(msg, cap,
                 "webhook.url: %s resolves to a loopback or private address; webhooks go to public addresses only"
                 " (--webhook-allow-private lifts this)",
                 host);
        return FS_EINVAL;
    }
    return 0;
}

/* libcurl's socket opener: refuses private addresses at every connection (names may resolve
 * differently than when the watch was made). */
static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
    (void)purpose;
    const fs_webhooks_t *wh = arg;
    if (!wh->o.allow_private && address_private(&a->addr))
        return CURL_SOCKET_BAD;
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* ------------------------------------------------------------ targets */

static target_t *find(fs_webhooks_t *wh, uint64_t watch_id, unsigned *pos)
{
    unsigned lo = 0, hi = wh->count;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (wh->targets[mid]->watch_id < watch_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (pos != NULL)
        *pos = lo;
    return lo < wh->count && wh->targets[lo]->watch_id == watch_id ? wh->targets[lo] : NULL;
}

static target_t *find_or_add(fs_webhooks_t *wh, uint64_t watch_id)
{
    unsigned pos;
    target_t *t = find(wh, watch_id, &pos);
    if (t != NULL)
        return t;
    if (wh->count == wh->cap) {
        unsigned cap = wh->cap ? wh->cap * 2 : 16;
        target_t **nt = realloc(wh->targets, cap * sizeof(void *)); /* an array of pointers */
        if (nt == NULL)
            return NULL;
        wh->targets = nt;
        wh->cap = cap;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->watch_id = watch_id;
    memmove(wh->targets + pos + 1, wh->targets + pos, (wh->count - pos) * sizeof(void *));
    wh->targets[pos] = t;
    wh->count++;
    return t;
}

static void target_free(target_t *t)
{
    for (pending_t *p = t->head, *next; p != NULL; p = next) {
        next = p->next;
        free(p);
    }
    free(t->url);
    free(t->secret);
    free(t);
}

/* Unlinks the target at pos; frees it unless an attempt is in flight (then the thread does). */
static void remove_at(fs_webhooks_t *wh, unsigned pos)
{
    target_t *t = wh->targets[pos];
    memmove(wh->targets + pos, wh->targets + pos + 1, (wh->count - pos - 1) * sizeof(void *));
    wh->count--;
    wh->pending_total -= t->count;
    if (t->easy != NULL) {
        t->gone = 1;
        t->next_gone = wh->gone;
        wh->gone = t;
    } else
        target_free(t);
}

static void enqueue(target_t *t, pending_t *p)
{
    p->next = NULL;
    if (t->tail != NULL)
        t->tail->next = p;
    else
        t->head = p;
    t->tail = p;
    t->count++;
}

static pending_t *pending_new(uint64_t event_id, uint64_t watch_id, int64_t created_s, const char *json, size_t len)
{
    pending_t *p = malloc(sizeof(*p) + len + 1);
    if (p == NULL)
        return NULL;
    memset(p, 0, sizeof(*p));
    p->event_id = event_id;
    p->watch_id = watch_id;
    p->created_s = created_s;
    p->len = len;
    memcpy(p->json, json, len);
    p->json[len] = '\0';
    return p;
}

/* ------------------------------------------------------------ outbox */

/* Appends to the outbox (no sync). Under mu. */
static int append(fs_webhooks_t *wh, const char *data, size_t len)
{
    if (wh->fd < 0)
        return 0;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(wh->fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return FS_EIO;
        off += (size_t)w;
    }
    wh->file_bytes += len;
    return 0;
}

static void mark_done(fs_webhooks_t *wh, uint64_t event_id)
{
    char line[32];
    int n = snprintf(line, sizeof(line), "d %llu\n", (unsigned long long)event_id);
    if (append(wh, line, (size_t)n) != 0)
        fprintf(stderr, "flightsearch: webhooks: cannot write %s: %s (event %llu may be delivered again)\n", wh->path,
                strerror(errno), (unsigned long long)event_id);
}

static int stage_reserve(fs_webhooks_t *wh, size_t more)
{
    if (wh->stage_len + more <= wh->stage_cap)
        return 0;
    size_t cap = wh->stage_cap ? wh->stage_cap : 4096;
    while (cap < wh->stage_len + more)
        cap *= 2;
    char *nb = realloc(wh->stage_buf, cap);
    if (nb == NULL)
        return FS_ENOMEM;
    wh->stage_buf = nb;
    wh->stage_cap = cap;
    return 0;
}

/* Writes the pending events as a fresh outbox (temp, fsync, rename, fsync of the directory). Under mu. */
static int rewrite(fs_webhooks_t *wh)
{
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", wh->path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return FS_EIO;
    int old = wh->fd;
    wh->fd = fd;
    wh->file_bytes = 0;
    int rc = 0;
    for (unsigned i = 0; i < wh->count && rc == 0; i++)
        for (const pending_t *p = wh->targets[i]->head; p != NULL && rc == 0; p = p->next) {
            char hdr[96];
            int n = snprintf(hdr, sizeof(hdr), "e %llu %llu %lld %zu\n", (unsigned long long)p->event_id,
                             (unsigned long long)p->watch_id, (long long)p->created_s, p->len);
            rc = append(wh, hdr, (size_t)n);
            if (rc == 0)
                rc = append(wh, p->json, p->len);
            if (rc == 0)
                rc = append(wh, "\n", 1);
        }
    if (rc == 0 && fsync(fd) != 0)
        rc = FS_EIO;
    if (rc == 0 && rename(tmp, wh->path) != 0)
        rc = FS_EIO;
    if (rc == 0) {
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s", wh->path);
        char *slash = strrchr(dir, '/');
        if (slash != NULL)
            *slash = '\0';
        int dfd = open(slash != NULL ? dir : ".", O_RDONLY | O_DIRECTORY);
        if (dfd < 0 || fsync(dfd) != 0)
            rc = FS_EIO;
        if (dfd >= 0)
            close(dfd);
    }
    if (rc != 0) {
        close(fd);
        unlink(tmp);
        wh->fd = old;
        return rc;
    }
    if (old >= 0)
        close(old);
    /* appends go to the end of the new file */
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl | O_APPEND);
    return 0;
}

/* Parses "N " or "N\n" at *p; advances. 0 or -1. */
static int number(const char **p, const char *end, unsigned long long *out)
{
    const char *s = *p;
    unsigned long long v = 0;
    int neg = s < end && *s == '-';
    s += neg;
    if (s >= end || *s < '0' || *s > '9')
        return -1;
    for (; s < end && *s >= '0' && *s <= '9'; s++)
        v = v * 10 + (unsigned long long)(*s - '0');
    if (s >= end || (*s != ' ' && *s != '\n'))
        return -1;
    *out = neg ? (unsigned long long)-(long long)v : v;
    *p = s + 1;
    return 0;
}

int fs_webhooks_open(fs_webhooks_t *wh, const char *data_dir, char *err, size_t errcap)
{
    pthread_mutex_lock(&wh->mu);
    snprintf(wh->path, sizeof(wh->path), "%s/outbox", data_dir);
    int rc = 0, restored = 0;
    int fd = open(wh->path, O_RDONLY | O_CLOEXEC);
    char *text = NULL;
    size_t len = 0;
    if (fd < 0 && errno != ENOENT) {
        snprintf(err, errcap, "cannot read %s: %s", wh->path, strerror(errno));
        rc = FS_EIO;
    } else if (fd >= 0) {
        struct stat st;
        if (fstat(fd, &st) != 0 || (text = malloc((size_t)st.st_size + 1)) == NULL) {
            snprintf(err, errcap, "cannot read %s", wh->path);
            rc = FS_EIO;
        } else {
            while (len < (size_t)st.st_size) {
                ssize_t r = read(fd, text + len, (size_t)st.st_size - len);
                if (r <= 0)
                    break;
                len += (size_t)r;
            }
        }
        close(fd);
    }
    /* records up to the first one that is torn or malformed (the tail of a crash mid-write) */
    const char *p = text, *end = text + len;
    while (rc == 0 && p != NULL && p < end) {
        unsigned long long ev, watch, created, n;
        const char *q = p + 2;
        if (end - p > 2 && p[0] == 'e' && p[1] == ' ' && number(&q, end, &ev) == 0 && number(&q, end, &watch) == 0 &&
            number(&q, end, &created) == 0 && number(&q, end, &n) == 0 && (size_t)(end - q) > n && q[n] == '\n') {
            target_t *t = find_or_add(wh, watch);
            pending_t *pe = t != NULL ? pending_new(ev, watch, (int64_t)created, q, (size_t)n) : NULL;
            if (pe == NULL) {
                snprintf(err, errcap, "out of memory reading %s", wh->path);
                rc = FS_ENOMEM;
                break;
            }
            enqueue(t, pe);
            wh->pending_total++;
            restored++;
            p = q + n + 1;
        } else if (end - p > 2 && p[0] == 'd' && p[1] == ' ' && number(&q, end, &ev) == 0) {
            /* delivered: drop it wherever it is queued (marks follow their event, usually at a head) */
            for (unsigned i = 0; i < wh->count; i++) {
                target_t *t = wh->targets[i];
                for (pending_t **pp = &t->head; *pp != NULL; pp = &(*pp)->next)
                    if ((*pp)->event_id == ev) {
                        pending_t *dead = *pp;
                        *pp = dead->next;
                        if (t->tail == dead) {
                            t->tail = NULL;
                            for (pending_t *x = t->head; x != NULL; x = x->next)
                                t->tail = x;
                        }
                        t->count--;
                        wh->pending_total--;
                        restored--;
                        free(dead);
                        break;
                    }
            }
            p = q;
        } else {
            break;
        }
    }
    free(text);
    if (rc == 0 && rewrite(wh) != 0) {
        snprintf(err, errcap, "cannot write %s: %s", wh->path, strerror(errno));
        rc = FS_EIO;
    }
    pthread_mutex_unlock(&wh->mu);
    return rc != 0 ? rc : restored;
}

void fs_webhooks_prune(fs_webhooks_t *wh)
{
    pthread_mutex_lock(&wh->mu);
    for (unsigned i = wh->count; i-- > 0;)
        if (wh->targets[i]->url == NULL)
            remove_at(wh, i);
    pthread_mutex_unlock(&wh->mu);
}

/* ------------------------------------------------------------ the engine's side */

int fs_webhooks_target(fs_webhooks_t *wh, uint64_t watch_id, const char *url, const char *secret)
{
    char *u = strdup(url), *s = strdup(secret);
    if (u == NULL || s == NULL) {
        free(u);
        free(s);
        return FS_ENOMEM;
    }
    pthread_mutex_lock(&wh->mu);
    target_t *t = find_or_add(wh, watch_id);
    if (t == NULL) {
        pthread_mutex_unlock(&wh->mu);
        free(u);
        free(s);
        return FS_ENOMEM;
    }
    free(t->url);
    free(t->secret);
    t->url = u;
    t->secret = s;
    pthread_mutex_unlock(&wh->mu);
    return 0;
}

void fs_webhooks_forget(fs_webhooks_t *wh, uint64_t watch_id)
{
    pthread_mutex_lock(&wh->mu);
    unsigned pos;
    if (find(wh, watch_id, &pos) != NULL)
        remove_at(wh, pos);
    pthread_mutex_unlock(&wh->mu);
}

int fs_webhooks_stage(fs_webhooks_t *wh, uint64_t watch_id, uint64_t event_id, const char *json, size_t len)
{
    int64_t now = (int64_t)time(NULL);
    pending_t *p = pending_new(event_id, watch_id, now, json, len);
    pthread_mutex_lock(&wh->mu);
    int rc = p != NULL ? stage_reserve(wh, len + 96) : FS_ENOMEM;
    if (rc == 0) {
        wh->stage_len += (size_t)snprintf(wh->stage_buf + wh->stage_len, 96, "e %llu %llu %lld %zu\n", (unsigned long long)event_id,
                                          (unsigned long long)watch_id, (long long)now, len);
        memcpy(wh->stage_buf + wh->stage_len, json, len);
        wh->stage_len += len;
        wh->stage_buf[wh->stage_len++] = '\n';
        p->next = NULL;
        if (wh->staged_tail != NULL)
            wh->staged_tail->next = p;
        else
            wh->staged = p;
        wh->staged_tail = p;
    } else {
        free(p);
    }
    pthread_mutex_unlock(&wh->mu);
    return rc;
}

int fs_webhooks_commit(fs_webhooks_t *wh)
{
    pthread_mutex_lock(&wh->mu);
    if (wh->staged == NULL) {
        pthread_mutex_unlock(&wh->mu);
        return 0;
    }
    int rc = append(wh, wh->stage_buf, wh->stage_len);
    if (rc == 0 && wh->fd >= 0 && fdatasync(wh->fd) != 0)
        rc = FS_EIO;
    if (rc != 0)
        fprintf(stderr, "flightsearch: webhooks: cannot write %s: %s; events are delivered from memory\n", wh->path,
                strerror(errno));
    wh->stage_len = 0;
    for (pending_t *p = wh->staged, *next; p != NULL; p = next) {
        next = p->next;
        target_t *t = find(wh, p->watch_id, NULL);
        if (t == NULL) {
            free(p);
            continue;
        }
        enqueue(t, p);
        wh->pending_total++;
    }
    wh->staged = wh->staged_tail = NULL;
    pthread_mutex_unlock(&wh->mu);
    if (wh->multi != NULL)
        curl_multi_wakeup(wh->multi);
    return rc;
}

void fs_webhooks_encode_status(fs_webhooks_t *wh, uint64_t watch_id, fs_enc_t *e)
{
    char buf[24];
    pthread_mutex_lock(&wh->mu);
    const target_t *t = find(wh, watch_id, NULL);
    fs_enc_key_lit(e, "pending");
    fs_enc_uint(e, t != NULL ? t->count : 0);
    fs_enc_key_lit(e, "last_success");
    if (t != NULL && t->ok_at != 0) {
        fs_enc_map_begin(e);
        fs_enc_key_lit(e, "event_id");
        fs_enc_uint(e, t->ok_event);
        fs_enc_key_lit(e, "at");
        fs_enc_str(e, buf, fs_timestamp_format(t->ok_at, buf));
        fs_enc_map_end(e);
    } else {
        fs_enc_null(e);
    }
    fs_enc_key_lit(e, "last_failure");
    if (t != NULL && t->fail_at != 0) {
        fs_enc_map_begin(e);
        fs_enc_key_lit(e, "event_id");
        fs_enc_uint(e, t->fail_event);
        fs_enc_key_lit(e, "at");
        fs_enc_str(e, buf, fs_timestamp_format(t->fail_at, buf));
        fs_enc_key_lit(e, "attempts");
        fs_enc_uint(e, t->fail_attempts);
        fs_enc_key_lit(e, "error");
        fs_enc_cstr(e, t->fail_error);
        fs_enc_map_end(e);
    } else {
        fs_enc_null(e);
    }
    pthread_mutex_unlock(&wh->mu);
}

/* ------------------------------------------------------------ the thread */

static size_t discard(char *data, size_t size, size_t n, void *arg)
{
    (void)data;
    (void)arg;
    return size * n;
}

static uint64_t next_random(fs_webhooks_t *wh)
{
    wh->rng ^= wh->rng << 13;
    wh->rng ^= wh->rng >> 7;
    wh->rng ^= wh->rng << 17;
    return wh->rng;
}

/* The delay before attempt n + 1 after n failures: retry_ms doubling, capped, with jitter (half
 * to all of it), so receivers coming back are not hit by every sender at once. */
static int64_t backoff_ms(fs_webhooks_t *wh, unsigned failures)
{
    uint64_t d = wh->o.retry_ms;
    for (unsigned i = 1; i < failures && d < RETRY_CAP_MS; i++)
        d *= 2;
    if (d > RETRY_CAP_MS)
        d = RETRY_CAP_MS;
    return (int64_t)(d / 2 + next_random(wh) % (d / 2 + 1));
}

/* Starts an attempt for t's head. Under mu. */
static void start_attempt(fs_webhooks_t *wh, target_t *t)
{
    pending_t *p = t->head;
    CURL *c = curl_easy_init();
    if (c == NULL) {
        p->due_ms = fs_monotonic_ms() + backoff_ms(wh, 1);
        return;
    }
    char sig[160], idh[48];
    snprintf(sig, sizeof(sig), "Flightsearch-Signature: ");
    fs_webhook_sign(t->secret, (int64_t)time(NULL), p->json, p->len, sig + strlen(sig), sizeof(sig) - strlen(sig));
    snprintf(idh, sizeof(idh), "Flightsearch-Event-Id: %llu", (unsigned long long)p->event_id);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = h != NULL ? curl_slist_append(h, sig) : NULL;
    h = h != NULL ? curl_slist_append(h, idh) : NULL;
    h = h != NULL ? curl_slist_append(h, "Expect:") : NULL; /* no 100-continue round trip */
    if (h == NULL) {
        curl_easy_cleanup(c);
        p->due_ms = fs_monotonic_ms() + backoff_ms(wh, 1);
        return;
    }
    curl_easy_setopt(c, CURLOPT_URL, t->url);
    const char *body = p->json; /* curl's type check cannot take a flexible array */
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)p->len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "flightsearch-webhooks");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)wh->o.timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, wh);
    curl_easy_setopt(c, CURLOPT_PRIVATE, t);
    t->easy = c;
    t->headers = h;
    p->attempts++;
    curl_multi_add_handle(wh->multi, c);
}

/* An attempt ended. Under mu. */
static void finish_attempt(fs_webhooks_t *wh, CURL *c, CURLcode result)
{
    target_t *t = NULL;
    curl_easy_getinfo(c, CURLINFO_PRIVATE, (char **)&t);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(wh->multi, c);
    curl_easy_cleanup(c);
    curl_slist_free_all(t->headers);
    t->easy = NULL;
    t->headers = NULL;
    if (t->gone) {
        for (target_t **pp = &wh->gone; *pp != NULL; pp = &(*pp)->next_gone)
            if (*pp == t) {
                *pp = t->next_gone;
                break;
            }
        target_free(t);
        return;
    }
    pending_t *p = t->head;
    int64_t now = (int64_t)time(NULL);
    int ok = result == CURLE_OK && status >= 200 && status < 300;
    if (!ok) {
        t->fail_event = p->event_id;
        t->fail_at = now;
        t->fail_attempts = p->attempts;
        if (result != CURLE_OK)
            snprintf(t->fail_error, sizeof(t->fail_error), "%s", curl_easy_strerror(result));
        else
            snprintf(t->fail_error, sizeof(t->fail_error), "HTTP %ld", status);
        if (now - p->created_s < FS_WEBHOOK_GIVE_UP_S) {
            p->due_ms = fs_monotonic_ms() + backoff_ms(wh, p->attempts);
            return;
        }
        snprintf(t->fail_error + strlen(t->fail_error), sizeof(t->fail_error) - strlen(t->fail_error), "; given up after 24 h");
    } else {
        t->ok_event = p->event_id;
        t->ok_at = now;
    }
    mark_done(wh, p->event_id);
    t->head = p->next;
    if (t->head == NULL)
        t->tail = NULL;
    t->count--;
    wh->pending_total--;
    free(p);
}

static void *deliver_main(void *arg)
{
    fs_webhooks_t *wh = arg;
    for (;;) {
        pthread_mutex_lock(&wh->mu);
        if (wh->stop) {
            pthread_mutex_unlock(&wh->mu);
            break;
        }
        int64_t now = fs_monotonic_ms(), wait = 1000;
        for (unsigned i = 0; i < wh->count; i++) {
            target_t *t = wh->targets[i];
            if (t->url == NULL || t->easy != NULL || t->head == NULL)
                continue;
            if (t->head->due_ms <= now)
                start_attempt(wh, t);
            else if (t->head->due_ms - now < wait)
                wait = t->head->due_ms - now;
        }
        if (wh->pending_total == 0 && wh->file_bytes > OUTBOX_TRUNCATE_BYTES && wh->fd >= 0 && wh->staged == NULL &&
            ftruncate(wh->fd, 0) == 0)
            wh->file_bytes = 0; /* nothing pending: nothing to keep */
        pthread_mutex_unlock(&wh->mu);
        int running = 0, left = 0;
        curl_multi_perform(wh->multi, &running);
        CURLMsg *msg;
        while ((msg = curl_multi_info_read(wh->multi, &left)) != NULL)
            if (msg->msg == CURLMSG_DONE) {
                CURL *c = msg->easy_handle;
                CURLcode result = msg->data.result;
                pthread_mutex_lock(&wh->mu);
                finish_attempt(wh, c, result);
                pthread_mutex_unlock(&wh->mu);
                wait = 0; /* the next event of that watch may go now */
            }
        if (wait > 0)
            curl_multi_poll(wh->multi, NULL, 0, (int)wait, NULL);
    }
    return NULL;
}

/* ------------------------------------------------------------ life */

fs_webhooks_t *fs_webhooks_new(const fs_webhook_options_t *o)
{
    fs_webhooks_t *wh = calloc(1, sizeof(*wh));
    if (wh == NULL)
        return NULL;
    wh->o = *o;
    if (wh->o.retry_ms == 0)
        wh->o.retry_ms = 1000;
    if (wh->o.timeout_ms == 0)
        wh->o.timeout_ms = 10000;
    wh->fd = -1;
    wh->rng = (uint64_t)time(NULL) * 6364136223846793005ull + (uint64_t)getpid() + 1;
    pthread_mutex_init(&wh->mu, NULL);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    wh->multi = curl_multi_init();
    if (wh->multi == NULL) {
        fs_webhooks_free(wh);
        return NULL;
    }
    return wh;
}

int fs_webhooks_start(fs_webhooks_t *wh)
{
    if (pthread_create(&wh->thread, NULL, deliver_main, wh) != 0)
        return FS_ENOMEM;
    wh->started = 1;
    return 0;
}

void fs_webhooks_free(fs_webhooks_t *wh)
{
    if (wh == NULL)
        return;
    if (wh->started) {
        pthread_mutex_lock(&wh->mu);
        wh->stop = 1;
        pthread_mutex_unlock(&wh->mu);
        curl_multi_wakeup(wh->multi);
        pthread_join(wh->thread, NULL);
    }
    for (unsigned i = 0; i < wh->count; i++) {
        target_t *t = wh->targets[i];
        if (t->easy != NULL) {
            curl_multi_remove_handle(wh->multi, t->easy);
            curl_easy_cleanup(t->easy);
            curl_slist_free_all(t->headers);
        }
        target_free(t);
    }
    for (target_t *t = wh->gone, *next; t != NULL; t = next) {
        next = t->next_gone;
        curl_multi_remove_handle(wh->multi, t->easy);
        curl_easy_cleanup(t->easy);
        curl_slist_free_all(t->headers);
        target_free(t);
    }
    for (pending_t *p = wh->staged, *next; p != NULL; p = next) {
        next = p->next;
        free(p);
    }
    if (wh->multi != NULL)
        curl_multi_cleanup(wh->multi);
    if (wh->fd >= 0)
        close(wh->fd);
    free(wh->targets);
    free(wh->stage_buf);
    pthread_mutex_destroy(&wh->mu);
    free(wh);
}
