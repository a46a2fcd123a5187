/*
 * tests/soak/soak.c: minutes of mixed searches and feed pushes against the real binary, with
 * graceful restarts in between. Started by tests/soak/run.sh, which prepares the data dir (demo
 * data), the tokens file and the list of searches.
 *
 *   soak --binary FLIGHTSEARCH --data-dir DIR --tokens FILE --token TOKEN --uris FILE
 *        [--seconds 600] [--restart-every S] [--warmup S] [--rate 200] [--push-every-ms 250]
 *        [--snapshot-every 100] [--threads 2] [--strict 0] [--rss-check 1]
 *
 * One thread drives everything through one curl multi handle:
 *   searches  at --rate a second, on schedule: 90% HTTP/1.1 keep-alive, 10% h2c (prior knowledge,
 *             a connection each: see e2e_curl_setup); one in ten asks for the pushed source.
 *   pusher    one push at a time, every --push-every-ms, to source "soak" (50 flights x 4 dates
 *             of GRU-LIS, economy only): a delta upserting 5 legs with new miles, every
 *             --snapshot-every-th push a snapshot of all 200 with new miles (more than 64
 *             deltas in between, so the store compacts too). Each 200 is an
 *             acknowledgement: the (sequence, key, miles) are recorded, and one of the keys is
 *             searched at once (read after ack). A failed push is re-sent with the same body,
 *             which the server answers as a duplicate if it had applied it.
 *   restarts  every --restart-every seconds of readiness: SIGTERM, wait for exit 0, start again
 *             on the same port, poll /readyz. Searches go on meanwhile and are expected to fail.
 *   samples   every second while ready: VmRSS and the fds of the server (sockets apart).
 *
 * Legitimate requests are those sent while the server was ready (from /readyz 200 to SIGTERM);
 * all of them must succeed (200). A legitimate request that fails at the connection level after
 * the restart began (refused, closed without an answer) is re-sent once the server is ready
 * again, and only its final outcome counts. A legitimate search shed by admission control (503
 * overloaded or search_budget_exceeded, with Retry-After) is re-sent a second later, as a client
 * honouring Retry-After would, at most three times, and counted apart; with --strict 1 it is a failure.
 * At 200 searches a second that only happens when the machine stalls the server for 50 ms
 * (see tests/soak/RESULTS.md). At the end every acknowledged key is searched and
 * must show the miles of its last acknowledgement, before and after one more restart.
 *
 * Checks, per incarnation after --warmup seconds: RSS (last and max) within 5% of the first
 * sample (not with --rss-check 0, for sanitizer builds); non-socket fds not above the first
 * sample (the least of the last three samples, so a file open for a push in progress does not
 * count). Exit status: 0 pass, 1 a check failed, 2 bad arguments or set-up.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tests/e2e/lib_server.h"

#define SOAK_SOURCE "soak"
#define SOAK_FLIGHTS 50
#define SOAK_DATES 4
#define SOAK_KEYS (SOAK_FLIGHTS * SOAK_DATES)
#define SOAK_UPSERTS 5
#define MAX_INCARNATIONS 256
#define MAX_SAMPLES 4096

/* ------------------------------------------------------------- options */

static struct {
    const char *binary, *data_dir, *tokens, *token, *uris;
    int seconds, restart_every, warmup, rate, push_every_ms, snapshot_every, threads, strict, rss_check;
} opt = {.rss_check = 1,
         .seconds = 600,
         .restart_every = 0,
         .warmup = -1,
         .rate = 200,
         .push_every_ms = 250,
         .snapshot_every = 100,
         .threads = 2};

/* ------------------------------------------------------------- server */

enum { S_READY, S_STOPPING, S_STARTING, S_DOWN };

typedef struct sample {
    int t_s; /* seconds since ready */
    long rss_kb;
    int fds_other, fds_sock;
} sample_t;

typedef struct incarnation {
    pid_t pid;
    int64_t started_ms, ready_ms, term_ms, exit_ms;
    int exit_status;
    sample_t *samples;
    unsigned sample_count;
    uint64_t searches_ok;
} incarnation_t;

static struct {
    unsigned port;
    char url[64];
    char log_path[512];
    int state;
    pid_t pid;
    incarnation_t inc[MAX_INCARNATIONS];
    unsigned inc_count; /* the current one is inc[inc_count - 1] */
    int64_t restart_at, next_readyz;
} srv;

static int start_server(void)
{
    char listen[64], threads[16];
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", srv.port);
    snprintf(threads, sizeof(threads), "%d", opt.threads);
    const char *argv[] = {opt.binary,   "--listen", listen,     "--threads", threads, "--data-dir",
                          opt.data_dir, "--tokens", opt.tokens, "--quiet",   NULL};
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int log = open(srv.log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int devnull = open("/dev/null", O_RDONLY);
        if (log < 0 || devnull < 0)
            _exit(126);
        dup2(devnull, 0);
        dup2(log, 1);
        dup2(log, 2);
        execv(opt.binary, (char *const *)argv);
        _exit(127);
    }
    if (srv.inc_count == MAX_INCARNATIONS)
        return -1;
    incarnation_t *in = &srv.inc[srv.inc_count++];
    memset(in, 0, sizeof(*in));
    in->pid = pid;
    in->started_ms = e2e_now_ms();
    in->exit_status = -1;
    in->samples = calloc(MAX_SAMPLES, sizeof(sample_t));
    srv.pid = pid;
    srv.state = S_STARTING;
    srv.next_readyz = 0;
    return in->samples != NULL ? 0 : -1;
}

static incarnation_t *cur_inc(void)
{
    return srv.inc_count ? &srv.inc[srv.inc_count - 1] : NULL;
}

/* Reads the server's RSS and fds from /proc. */
static void sample_server(incarnation_t *in, int64_t now)
{
    if (in->sample_count == MAX_SAMPLES)
        return;
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)in->pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    long rss = -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "VmRSS:", 6) == 0)
            rss = strtol(line + 6, NULL, 10);
    fclose(f);
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)in->pid);
    DIR *d = opendir(path);
    if (d == NULL || rss < 0) {
        if (d != NULL)
            closedir(d);
        return;
    }
    int other = 0, sock = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char link[400], target[256];
        snprintf(link, sizeof(link), "%s/%s", path, e->d_name);
        ssize_t n = readlink(link, target, sizeof(target) - 1);
        if (n < 0)
            continue;
        target[n] = '\0';
        if (strncmp(target, "socket:", 7) == 0)
            sock++;
        else
            other++;
    }
    closedir(d);
    sample_t *s = &in->samples[in->sample_count++];
    s->t_s = (int)((now - in->ready_ms) / 1000);
    s->rss_kb = rss;
    s->fds_other = other;
    s->fds_sock = sock;
}

/* ------------------------------------------------------------- the model */

typedef struct key {
    unsigned flight;
    int32_t day;
    long acked_miles; /* 0: never acknowledged */
    uint64_t acked_seq;
} soak_key_t;

static soak_key_t keys[SOAK_KEYS];
static char key_date[SOAK_KEYS][16];

static void key_id(unsigned k, char *out, size_t cap)
{
    char ymd[16];
    snprintf(ymd, sizeof(ymd), "%.4s%.2s%.2s", key_date[k], key_date[k] + 5, key_date[k] + 8);
    snprintf(out, cap, "%s-SK%u-GRU-%s-Y", SOAK_SOURCE, keys[k].flight, ymd);
}

static long miles_for(uint64_t seq, unsigned k)
{
    return 10000 + (long)((seq * 7919 + (uint64_t)k * 104729) % 500000);
}

typedef struct buf {
    char *p;
    size_t len, cap;
} buf_t;

static void bprintf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = b->cap * 2 + (size_t)(n > 0 ? n : 0) + 256;
        b->p = realloc(b->p, b->cap);
        if (b->p == NULL) {
            perror("soak: realloc");
            exit(2);
        }
    }
}

static void leg_json(buf_t *b, unsigned k, long miles)
{
    unsigned dep = 360 + keys[k].flight * 5; /* local minutes at GRU (-03:00) */
    unsigned arr_utc = dep + 180 + 600;      /* ten hours later, in Lisbon (+00:00) */
    bprintf(b,
            "{\"carrier\":\"SK\",\"flight\":%u,\"origin\":\"GRU\",\"destination\":\"LIS\","
            "\"departs_at\":\"%sT%02u:%02u:00-03:00\",\"arrives_at\":\"%sT%02u:%02u:00+00:00\","
            "\"cabins\":{\"economy\":{\"seats\":9,\"miles\":%ld,\"taxes_cents\":1000,\"currency\":\"USD\"}}}",
            keys[k].flight, key_date[k], dep / 60, dep % 60, key_date[k], arr_utc / 60, arr_utc % 60, miles);
}

typedef struct push {
    uint64_t seq;
    int snapshot;
    buf_t body;
    unsigned n;
    unsigned key[SOAK_KEYS];
    long miles[SOAK_KEYS];
} push_t;

static push_t cur_push;
static uint64_t next_seq = 1;

static void make_push(int snapshot)
{
    push_t *p = &cur_push;
    p->seq = next_seq++;
    p->snapshot = snapshot;
    p->body.len = 0;
    p->n = 0;
    char ts[32];
    e2e_timestamp_format((int64_t)time(NULL), ts);
    bprintf(&p->body, "{\"source\":\"%s\",\"sequence\":%llu,\"generated_at\":\"%s\",\"%s\":[", SOAK_SOURCE,
            (unsigned long long)p->seq, ts, snapshot ? "legs" : "upsert");
    if (snapshot) {
        for (unsigned k = 0; k < SOAK_KEYS; k++)
            p->key[p->n++] = k;
    } else {
        while (p->n < SOAK_UPSERTS) {
            unsigned k = (unsigned)(rand() % SOAK_KEYS), dup = 0;
            for (unsigned i = 0; i < p->n; i++)
                dup |= p->key[i] == k;
            if (!dup)
                p->key[p->n++] = k;
        }
    }
    for (unsigned i = 0; i < p->n; i++) {
        p->miles[i] = miles_for(p->seq, p->key[i]);
        if (i > 0)
            bprintf(&p->body, ",");
        leg_json(&p->body, p->key[i], p->miles[i]);
    }
    bprintf(&p->body, "]}");
}

/* ------------------------------------------------------------- requests */

enum { K_SEARCH, K_PUSH, K_VERIFY };

typedef struct req {
    e2e_transfer_t t; /* first: CURLOPT_PRIVATE points at it */
    int kind;
    int attempt; /* 0 the first time; re-sent requests count up */
    int legit;
    unsigned inc;
    int64_t sent_ms;
    e2e_proto_t proto;
    char url[600];
    unsigned verify_key;
    long verify_miles;
} req_t;

typedef struct retry {
    int kind;
    int attempt;
    int64_t not_before_ms;
    e2e_proto_t proto;
    char url[600];
    unsigned verify_key;
    long verify_miles;
} retry_t;

static CURLM *multi;
static unsigned inflight;
static retry_t *retries;
static unsigned retry_count, retry_cap;

/* IDLE: the next push is made when due; PENDING: cur_push is to be (re-)sent; VERIFYING: its read
 * after ack is in flight (or waits to be re-sent), and no push may change the key meanwhile */
enum { PUSH_IDLE, PUSH_INFLIGHT, PUSH_VERIFYING, PUSH_PENDING };
static int push_state = PUSH_PENDING;
static int64_t push_next_ms;

static struct {
    uint64_t legit, legit_ok, legit_failed, window_sent, window_ok, window_failed, retried, shed_retried;
    uint64_t search_ok, pushes_sent, pushes_acked, snapshots_acked, duplicates, push_failures;
    uint64_t verify_ok, verify_mismatch, max_latency_ms;
    int failures_printed;
} st;

static int failed = 0;

/* The machine's load average, for failure messages: a shared machine explains some stalls. */
static const char *loadavg(void)
{
    static char buf[64];
    buf[0] = '\0';
    FILE *f = fopen("/proc/loadavg", "r");
    if (f != NULL) {
        if (fgets(buf, sizeof(buf), f) == NULL)
            buf[0] = '\0';
        fclose(f);
    }
    char *sp = buf;
    for (int n = 0; *sp != '\0'; sp++)
        if (*sp == ' ' && ++n == 3)
            break;
    *sp = '\0';
    return buf;
}

static void failure(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void failure(const char *fmt, ...)
{
    failed = 1;
    if (st.failures_printed++ >= 20)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "soak: FAIL: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

static char auth_header[128];

static req_t *launch(int kind, e2e_proto_t proto, const char *url)
{
    req_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    const char *json_headers[] = {auth_header, "Content-Type: application/json", "Expect:", NULL};
    if (e2e_transfer_init(&r->t, proto, url, kind == K_PUSH ? json_headers : NULL) != 0) {
        e2e_transfer_free(&r->t);
        free(r);
        return NULL;
    }
    curl_easy_setopt(r->t.curl, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(r->t.curl, CURLOPT_TIMEOUT_MS, 30000L);
    if (kind == K_PUSH) {
        curl_easy_setopt(r->t.curl, CURLOPT_POSTFIELDS, cur_push.body.p);
        curl_easy_setopt(r->t.curl, CURLOPT_POSTFIELDSIZE, (long)cur_push.body.len);
        curl_easy_setopt(r->t.curl, CURLOPT_CUSTOMREQUEST, cur_push.snapshot ? "PUT" : "POST");
    }
    r->kind = kind;
    r->proto = proto;
    r->legit = srv.state == S_READY;
    r->inc = srv.inc_count;
    r->sent_ms = e2e_now_ms();
    snprintf(r->url, sizeof(r->url), "%s", url);
    curl_multi_add_handle(multi, r->t.curl);
    inflight++;
    if (r->legit)
        st.legit++;
    else
        st.window_sent++;
    return r;
}

static void push_retry(const req_t *r, int64_t not_before_ms)
{
    if (retry_count == retry_cap) {
        retry_cap = retry_cap ? retry_cap * 2 : 64;
        retries = realloc(retries, retry_cap * sizeof(*retries));
        if (retries == NULL) {
            perror("soak: realloc");
            exit(2);
        }
    }
    retry_t *x = &retries[retry_count++];
    x->kind = r->kind;
    x->attempt = r->attempt + 1;
    x->not_before_ms = not_before_ms;
    x->proto = r->proto;
    snprintf(x->url, sizeof(x->url), "%s", r->url);
    x->verify_key = r->verify_key;
    x->verify_miles = r->verify_miles;
}

static void launch_push(void)
{
    char url[200];
    snprintf(url, sizeof(url), "%s/v1/feeds/%s/%s", srv.url, SOAK_SOURCE, cur_push.snapshot ? "snapshot" : "deltas");
    if (launch(K_PUSH, E2E_H1, url) != NULL) {
        push_state = PUSH_INFLIGHT;
        st.pushes_sent++;
    }
}

static void verify_url(unsigned k, char *url, size_t cap)
{
    snprintf(url, cap, "%s/v1/search?origin=GRU&destination=LIS&date=%s&sources=%s&cabin=economy&limit=500", srv.url, key_date[k],
             SOAK_SOURCE);
}

/* Finds key k in a search answer: 1 and its miles, 0 absent, -1 not a search answer. */
static int find_in_answer(const char *body, size_t len, unsigned k, long *miles)
{
    msgpack_zone zone;
    msgpack_zone_init(&zone, 4096);
    msgpack_object root;
    int found = -1;
    if (e2e_json_parse(body, len, &zone, &root, NULL) == 0) {
        const msgpack_object_array *res = e2e_mp_array(&root, "results");
        if (res != NULL) {
            char want[64], id[64];
            key_id(k, want, sizeof(want));
            found = 0;
            for (uint32_t i = 0; i < res->size; i++) {
                if (e2e_mp_str(&res->ptr[i], "id", id, sizeof(id)) != NULL && strcmp(id, want) == 0) {
                    int64_t m = 0;
                    e2e_mp_int(&res->ptr[i], "miles", &m);
                    *miles = (long)m;
                    found = 1;
                    break;
                }
            }
        }
    }
    msgpack_zone_destroy(&zone);
    return found;
}

static int connection_level(CURLcode rc)
{
    return rc == CURLE_COULDNT_CONNECT || rc == CURLE_GOT_NOTHING || rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR ||
           rc == CURLE_HTTP2 || rc == CURLE_HTTP2_STREAM || rc == CURLE_PARTIAL_FILE;
}

static void on_push_done(req_t *r, int in_window)
{
    e2e_response_t *res = &r->t.res;
    if (res->rc == CURLE_OK && res->status == 200) {
        msgpack_zone zone;
        msgpack_zone_init(&zone, 1024);
        msgpack_object root;
        int64_t seq = -1;
        int dup = 0;
        if (e2e_json_parse(res->body, res->body_len, &zone, &root, NULL) == 0) {
            e2e_mp_int(&root, "sequence", &seq);
            const msgpack_object *d = e2e_mp_get(&root, "duplicate");
            dup = d != NULL && d->type == MSGPACK_OBJECT_BOOLEAN && d->via.boolean;
        }
        msgpack_zone_destroy(&zone);
        if (seq != (int64_t)cur_push.seq) {
            failure("push %llu: 200 without its sequence: %.200s", (unsigned long long)cur_push.seq, res->body);
            push_state = PUSH_IDLE;
            push_next_ms = e2e_now_ms() + opt.push_every_ms;
            return;
        }
        st.pushes_acked++;
        st.snapshots_acked += cur_push.snapshot;
        st.duplicates += dup;
        for (unsigned i = 0; i < cur_push.n; i++) {
            keys[cur_push.key[i]].acked_miles = cur_push.miles[i];
            keys[cur_push.key[i]].acked_seq = cur_push.seq;
        }
        /* read after ack: the 200 promises the push is visible to searches */
        unsigned k = cur_push.key[rand() % cur_push.n];
        char url[300];
        verify_url(k, url, sizeof(url));
        req_t *v = launch(K_VERIFY, E2E_H1, url);
        if (v != NULL) {
            v->verify_key = k;
            v->verify_miles = keys[k].acked_miles;
            push_state = PUSH_VERIFYING;
        } else {
            push_state = PUSH_IDLE;
        }
        push_next_ms = r->sent_ms + opt.push_every_ms;
        return;
    }
    if (res->rc == CURLE_OK && res->status >= 400 && res->status < 500) {
        failure("push %llu (%s) refused: %ld %.300s", (unsigned long long)cur_push.seq, cur_push.snapshot ? "snapshot" : "delta",
                res->status, res->body);
        push_state = PUSH_IDLE; /* the model cannot go on with this push; the next one is new */
        push_next_ms = e2e_now_ms() + opt.push_every_ms;
        return;
    }
    if (r->legit && !in_window) {
        st.push_failures++;
        failure("push %llu failed while the server was ready: %s %ld", (unsigned long long)cur_push.seq, res->error, res->status);
    }
    push_state = PUSH_PENDING; /* the same body again once ready: a duplicate if it had been applied */
    push_next_ms = e2e_now_ms() + 100;
}

static void on_done(req_t *r)
{
    e2e_response_t *res = &r->t.res;
    int64_t now = e2e_now_ms();
    int in_window = srv.state != S_READY || srv.inc_count != r->inc;
    int ok = res->rc == CURLE_OK && res->status == 200;
    if (ok && (uint64_t)(now - r->sent_ms) > st.max_latency_ms)
        st.max_latency_ms = (uint64_t)(now - r->sent_ms);
    if (r->kind == K_PUSH) {
        on_push_done(r, in_window);
        return;
    }
    if (r->kind == K_VERIFY && ok) {
        long miles = 0;
        int f = find_in_answer(res->body, res->body_len, r->verify_key, &miles);
        char id[64];
        key_id(r->verify_key, id, sizeof(id));
        if (f == 1 && miles == r->verify_miles) {
            st.verify_ok++;
        } else {
            st.verify_mismatch++;
            failure("read after ack: %s shows %s%ld miles, acknowledged %ld (push %llu)", id,
                    f == 1 ? "" : "no leg: ", f == 1 ? miles : 0L, r->verify_miles, (unsigned long long)cur_push.seq);
        }
        if (push_state == PUSH_VERIFYING)
            push_state = PUSH_IDLE;
    }
    if (r->kind == K_SEARCH && ok && strstr(res->body, "\"results\"") == NULL) {
        ok = 0;
        snprintf(res->error, sizeof(res->error), "a 200 without results");
    }
    if (ok) {
        if (r->kind == K_SEARCH) {
            st.search_ok++;
            if (r->inc >= 1 && r->inc <= srv.inc_count)
                srv.inc[r->inc - 1].searches_ok++;
        }
        if (r->legit)
            st.legit_ok++;
        else
            st.window_ok++;
        return;
    }
    if (!r->legit) {
        st.window_failed++;
        return;
    }
    if (in_window && res->rc != CURLE_OK && connection_level(res->rc) && r->attempt < 5) {
        st.retried++;
        st.legit--;       /* counted again when re-sent */
        push_retry(r, 0); /* a read after ack keeps the pusher waiting until it is answered */
        return;
    }
    if (!opt.strict && res->rc == CURLE_OK && res->status == 503 && r->attempt < 3 &&
        (strstr(res->body, "\"overloaded\"") != NULL || strstr(res->body, "\"search_budget_exceeded\"") != NULL)) {
        /* shed by admission control: a client honours Retry-After (1 s); counted and shown apart */
        if (st.shed_retried++ < 5)
            fprintf(stderr, "soak: shed at %lld ms after ready (load average %s): %s %.120s; re-sent after Retry-After\n",
                    (long long)(r->sent_ms - srv.inc[r->inc - 1].ready_ms), loadavg(), r->url, res->body);
        st.legit--;
        push_retry(r, now + 1000);
        return;
    }
    st.legit_failed++;
    failure("%s %s (%s, sent %lld ms after ready, attempt %d, load average %s): %s status %ld %.200s",
            r->kind == K_SEARCH ? "search" : "read after ack", r->url, e2e_proto_names[r->proto],
            (long long)(r->sent_ms - srv.inc[r->inc - 1].ready_ms), r->attempt + 1, loadavg(),
            res->rc != CURLE_OK ? res->error : "", res->status, res->rc == CURLE_OK ? res->body : "");
    if (r->kind == K_VERIFY && push_state == PUSH_VERIFYING)
        push_state = PUSH_IDLE;
}

static void drain_multi(void)
{
    int running;
    curl_multi_perform(multi, &running);
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        e2e_transfer_t *t = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        CURLcode rc = m->data.result;
        curl_multi_remove_handle(multi, m->easy_handle);
        req_t *r = (req_t *)t;
        e2e_transfer_done(&r->t, rc);
        inflight--;
        on_done(r);
        e2e_transfer_free(&r->t);
        free(r);
    }
}

/* ------------------------------------------------------------- searches */

static char **uris;
static unsigned uri_count;

static int load_uris(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    char line[600];
    unsigned cap = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] != '/')
            continue;
        if (uri_count == cap) {
            cap = cap ? cap * 2 : 1024;
            uris = realloc(uris, cap * sizeof(*uris));
            if (uris == NULL)
                return -1;
        }
        uris[uri_count++] = strdup(line);
    }
    fclose(f);
    return uri_count > 0 ? 0 : -1;
}

static void launch_search(uint64_t i)
{
    char url[600];
    if (i % 10 == 3) {
        verify_url((unsigned)(i / 10) % SOAK_KEYS, url, sizeof(url));
    } else {
        snprintf(url, sizeof(url), "%s%s", srv.url, uris[i % uri_count]);
    }
    launch(K_SEARCH, i % 10 == 7 ? E2E_H2 : E2E_H1, url);
}

/* ------------------------------------------------------------- the end */

/* Every acknowledged key, searched one date at a time on a fresh client: 0 when all match. */
static int verify_all(const char *when, unsigned *ok_out, unsigned *bad_out)
{
    e2e_client_t c;
    e2e_client_init(&c);
    unsigned ok = 0, bad = 0;
    for (unsigned d = 0; d < SOAK_DATES; d++) {
        char url[300];
        verify_url(d * SOAK_FLIGHTS, url, sizeof(url));
        e2e_response_t res;
        int attempt = 0;
        while (e2e_get(&c, E2E_H1, url, NULL, &res) != 0 || res.status != 200) {
            if (++attempt == 3)
                break;
            e2e_response_free(&res);
        }
        for (unsigned f = 0; f < SOAK_FLIGHTS; f++) {
            unsigned k = d * SOAK_FLIGHTS + f;
            if (keys[k].acked_miles == 0)
                continue;
            long miles = 0;
            int found = res.status == 200 ? find_in_answer(res.body, res.body_len, k, &miles) : -1;
            if (found == 1 && miles == keys[k].acked_miles) {
                ok++;
                continue;
            }
            bad++;
            char id[64];
            key_id(k, id, sizeof(id));
            failure("%s: %s shows %s%ld miles; last acknowledged %ld (push %llu)", when, id,
                    found == 1   ? ""
                    : found == 0 ? "no leg: "
                                 : "no answer: ",
                    miles, keys[k].acked_miles, (unsigned long long)keys[k].acked_seq);
        }
        e2e_response_free(&res);
    }
    e2e_client_free(&c);
    *ok_out = ok;
    *bad_out = bad;
    return bad == 0 ? 0 : -1;
}

static int wait_exit(pid_t pid, int timeout_ms)
{
    int64_t deadline = e2e_now_ms() + timeout_ms;
    int ws;
    for (;;) {
        pid_t r = waitpid(pid, &ws, WNOHANG);
        if (r == pid)
            return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
        if (r < 0 && errno != EINTR)
            return -1;
        if (e2e_now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &ws, 0);
            return 137;
        }
        usleep(10000);
    }
}

static int wait_ready(int timeout_ms)
{
    int64_t deadline = e2e_now_ms() + timeout_ms;
    e2e_client_t c;
    e2e_client_init(&c);
    int ok = -1;
    while (e2e_now_ms() < deadline) {
        e2e_response_t res;
        char url[128];
        snprintf(url, sizeof(url), "%s/readyz", srv.url);
        if (e2e_get(&c, E2E_H1, url, NULL, &res) == 0 && res.status == 200) {
            e2e_response_free(&res);
            ok = 0;
            break;
        }
        e2e_response_free(&res);
        if (waitpid(srv.pid, NULL, WNOHANG) == srv.pid)
            break;
        usleep(50000);
    }
    e2e_client_free(&c);
    return ok;
}

static void mark_ready(void)
{
    incarnation_t *in = cur_inc();
    in->ready_ms = e2e_now_ms();
    srv.state = S_READY;
    srv.restart_at = in->ready_ms + (int64_t)opt.restart_every * 1000;
}

/* ------------------------------------------------------------- report */

typedef struct inc_figures {
    long rss_first, rss_last, rss_max;
    int fd_first, fd_last, fd_max, sock_max;
    unsigned samples;
} inc_figures_t;

static inc_figures_t figures_of(const incarnation_t *in)
{
    inc_figures_t f = {0};
    for (unsigned i = 0; i < in->sample_count; i++) {
        const sample_t *s = &in->samples[i];
        if (s->t_s < opt.warmup)
            continue;
        if (f.samples++ == 0) {
            f.rss_first = s->rss_kb;
            f.fd_first = s->fds_other;
        }
        f.rss_last = s->rss_kb;
        if (s->rss_kb > f.rss_max)
            f.rss_max = s->rss_kb;
        if (s->fds_other > f.fd_max)
            f.fd_max = s->fds_other;
        if (s->fds_sock > f.sock_max)
            f.sock_max = s->fds_sock;
    }
    /* the least of the last three samples: a file held open by a push in progress is not a leak */
    int least = -1;
    for (unsigned i = in->sample_count, n = 0; i > 0 && n < 3; i--) {
        const sample_t *s = &in->samples[i - 1];
        if (s->t_s < opt.warmup)
            break;
        if (least < 0 || s->fds_other < least)
            least = s->fds_other;
        n++;
    }
    f.fd_last = least;
    return f;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: soak --binary FILE --data-dir DIR --tokens FILE --token TOKEN --uris FILE [--seconds N]\n"
            "            [--restart-every S] [--warmup S] [--rate N] [--push-every-ms N] [--snapshot-every N] [--threads N]\n"
            "            [--strict 0|1] [--rss-check 0|1]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL)
            usage();
        if (strcmp(a, "--binary") == 0)
            opt.binary = v;
        else if (strcmp(a, "--data-dir") == 0)
            opt.data_dir = v;
        else if (strcmp(a, "--tokens") == 0)
            opt.tokens = v;
        else if (strcmp(a, "--token") == 0)
            opt.token = v;
        else if (strcmp(a, "--uris") == 0)
            opt.uris = v;
        else if (strcmp(a, "--seconds") == 0)
            opt.seconds = atoi(v);
        else if (strcmp(a, "--restart-every") == 0)
            opt.restart_every = atoi(v);
        else if (strcmp(a, "--warmup") == 0)
            opt.warmup = atoi(v);
        else if (strcmp(a, "--rate") == 0)
            opt.rate = atoi(v);
        else if (strcmp(a, "--push-every-ms") == 0)
            opt.push_every_ms = atoi(v);
        else if (strcmp(a, "--snapshot-every") == 0)
            opt.snapshot_every = atoi(v);
        else if (strcmp(a, "--threads") == 0)
            opt.threads = atoi(v);
        else if (strcmp(a, "--strict") == 0)
            opt.strict = atoi(v);
        else if (strcmp(a, "--rss-check") == 0)
            opt.rss_check = atoi(v);
        else
            usage();
        i++;
    }
    if (!opt.binary || !opt.data_dir || !opt.tokens || !opt.token || !opt.uris || opt.seconds <= 0 || opt.rate <= 0 ||
        opt.push_every_ms <= 0 || opt.snapshot_every <= 0)
        usage();
    if (opt.restart_every <= 0)
        opt.restart_every = opt.seconds / 6 > 30 ? opt.seconds / 6 : 30;
    if (opt.warmup < 0)
        opt.warmup = opt.restart_every / 3;
    if (load_uris(opt.uris) != 0) {
        fprintf(stderr, "soak: no searches in %s\n", opt.uris);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    srand(1);
    e2e_http_init();
    multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, 16L);
    snprintf(auth_header, sizeof(auth_header), "Authorization: Bearer %s", opt.token);

    int32_t today = (int32_t)(time(NULL) / 86400);
    for (unsigned k = 0; k < SOAK_KEYS; k++) {
        keys[k].flight = 1 + k % SOAK_FLIGHTS;
        keys[k].day = today + 1 + (int32_t)(k / SOAK_FLIGHTS);
        e2e_date_format(keys[k].day, key_date[k]);
    }

    srv.port = e2e_free_port();
    snprintf(srv.url, sizeof(srv.url), "http://127.0.0.1:%u", srv.port);
    snprintf(srv.log_path, sizeof(srv.log_path), "%s/../server.log", opt.data_dir);
    if (srv.port == 0 || start_server() != 0 || wait_ready(60000) != 0) {
        fprintf(stderr, "soak: the server did not become ready; see %s\n", srv.log_path);
        return 2;
    }
    mark_ready();
    fprintf(stderr, "soak: %d s on %s: searches %d/s, a push every %d ms (snapshot every %d), restart every %d s, warm-up %d s\n",
            opt.seconds, srv.url, opt.rate, opt.push_every_ms, opt.snapshot_every, opt.restart_every, opt.warmup);

    int64_t t0 = e2e_now_ms(), end = t0 + (int64_t)opt.seconds * 1000, next_sample = t0, next_progress = t0 + 30000;
    uint64_t search_i = 0;
    int64_t stop_began = 0;
    make_push(1);
    push_next_ms = t0;
    for (;;) {
        int64_t now = e2e_now_ms();
        int ending = now >= end;
        /* the server's life */
        if (srv.state == S_READY && now >= srv.restart_at && !ending) {
            cur_inc()->term_ms = now;
            kill(srv.pid, SIGTERM);
            srv.state = S_STOPPING;
            stop_began = now;
        } else if (srv.state == S_STOPPING) {
            int ws;
            pid_t r = waitpid(srv.pid, &ws, WNOHANG);
            if (r == srv.pid) {
                incarnation_t *in = cur_inc();
                in->exit_ms = now;
                in->exit_status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
                if (in->exit_status != 0)
                    failure("incarnation %u exited with status %d on SIGTERM", srv.inc_count, in->exit_status);
                if (start_server() != 0) {
                    failure("cannot start the server again");
                    break;
                }
            } else if (now - stop_began > 20000) {
                failure("incarnation %u still running 20 s after SIGTERM: SIGKILL", srv.inc_count);
                kill(srv.pid, SIGKILL);
            }
        } else if (srv.state == S_STARTING && now >= srv.next_readyz) {
            if (waitpid(srv.pid, NULL, WNOHANG) == srv.pid) {
                failure("incarnation %u exited during start-up; see %s", srv.inc_count, srv.log_path);
                srv.state = S_DOWN;
                break;
            }
            e2e_client_t c;
            e2e_client_init(&c);
            curl_easy_setopt(c.curl, CURLOPT_TIMEOUT_MS, 500L);
            e2e_response_t res;
            char url[128];
            snprintf(url, sizeof(url), "%s/readyz", srv.url);
            if (e2e_get(&c, E2E_H1, url, NULL, &res) == 0 && res.status == 200)
                mark_ready();
            e2e_response_free(&res);
            e2e_client_free(&c);
            srv.next_readyz = e2e_now_ms() + 50;
        }
        /* the requests a restart interrupted, once the server is back */
        for (unsigned i = 0; srv.state == S_READY && i < retry_count;) {
            retry_t x = retries[i];
            if (x.not_before_ms > now) {
                i++;
                continue;
            }
            retries[i] = retries[--retry_count];
            req_t *r = launch(x.kind, x.proto, x.url);
            if (r != NULL) {
                r->attempt = x.attempt;
                r->verify_key = x.verify_key;
                r->verify_miles = x.verify_miles;
            }
        }
        /* the load */
        if (!ending) {
            int64_t elapsed = now - t0;
            while ((int64_t)(search_i * 1000 / (uint64_t)opt.rate) <= elapsed) {
                launch_search(search_i);
                search_i++;
            }
        }
        if (srv.state == S_READY && now >= push_next_ms && (push_state == PUSH_PENDING || (push_state == PUSH_IDLE && !ending))) {
            if (push_state == PUSH_IDLE)
                make_push((next_seq % (uint64_t)opt.snapshot_every) == 0);
            launch_push();
        }
        if (srv.state == S_READY && now >= next_sample) {
            sample_server(cur_inc(), now);
            next_sample += 1000;
            if (next_sample < now)
                next_sample = now + 1000;
        }
        if (now >= next_progress) {
            fprintf(stderr, "soak: %3lld s: %llu legitimate requests, %llu failed; %llu pushes acknowledged; %u restarts\n",
                    (long long)((now - t0) / 1000), (unsigned long long)st.legit, (unsigned long long)st.legit_failed,
                    (unsigned long long)st.pushes_acked, srv.inc_count - 1);
            next_progress += 30000;
        }
        drain_multi();
        if (ending && srv.state == S_READY && inflight == 0 && push_state == PUSH_IDLE && retry_count == 0)
            break;
        if (ending && now > end + 60000) {
            failure("requests still in flight 60 s after the end");
            break;
        }
        curl_multi_poll(multi, NULL, 0, 5, NULL);
    }

    /* every acknowledged push, on the running server and after one more restart */
    unsigned v1_ok = 0, v1_bad = 0, v2_ok = 0, v2_bad = 0;
    int final_exit = -1;
    if (srv.state == S_READY) {
        verify_all("at the end", &v1_ok, &v1_bad);
        cur_inc()->term_ms = e2e_now_ms();
        kill(srv.pid, SIGTERM);
        cur_inc()->exit_status = wait_exit(srv.pid, 20000);
        cur_inc()->exit_ms = e2e_now_ms();
        if (cur_inc()->exit_status != 0)
            failure("incarnation %u exited with status %d on SIGTERM", srv.inc_count, cur_inc()->exit_status);
        if (start_server() == 0 && wait_ready(60000) == 0) {
            mark_ready();
            verify_all("after a final restart", &v2_ok, &v2_bad);
            kill(srv.pid, SIGTERM);
            final_exit = wait_exit(srv.pid, 20000);
            cur_inc()->exit_status = final_exit;
            if (final_exit != 0)
                failure("the last incarnation exited with status %d on SIGTERM", final_exit);
        } else {
            failure("the server did not come back for the final check");
        }
    } else if (srv.pid > 0) {
        kill(srv.pid, SIGKILL);
        wait_exit(srv.pid, 5000);
    }

    /* per incarnation: memory and fds after warm-up */
    printf("\nsoak: %d s, searches %d/s (10%% h2c, 10%% on the pushed source), a push every %d ms, restart every %d s, "
           "warm-up %d s\n\n",
           opt.seconds, opt.rate, opt.push_every_ms, opt.restart_every, opt.warmup);
    printf("| incarnation | ready after start | up | stop took | exit | searches ok | RSS MB first / last / max after warm-up | "
           "growth | fds first / last (not sockets) | sockets max |\n");
    printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    long rss_first_all = 0, rss_last_all = 0, rss_max_all = 0;
    int fd_first_all = -1, fd_last_all = -1;
    for (unsigned i = 0; i < srv.inc_count; i++) {
        const incarnation_t *in = &srv.inc[i];
        inc_figures_t f = figures_of(in);
        int64_t up = (in->term_ms ? in->term_ms : e2e_now_ms()) - in->ready_ms;
        double growth = f.rss_first > 0 ? 100.0 * (double)(f.rss_max - f.rss_first) / (double)f.rss_first : 0;
        printf("| %u | %lld ms | %lld s | %lld ms | %d | %llu | ", i + 1, (long long)(in->ready_ms - in->started_ms),
               (long long)(up / 1000), (long long)(in->exit_ms && in->term_ms ? in->exit_ms - in->term_ms : 0), in->exit_status,
               (unsigned long long)in->searches_ok);
        if (f.samples >= 3) {
            printf("%.1f / %.1f / %.1f | %+.1f%% | %d / %d | %d |\n", f.rss_first / 1024.0, f.rss_last / 1024.0, f.rss_max / 1024.0,
                   growth, f.fd_first, f.fd_last, f.sock_max);
            if (opt.rss_check &&
                ((double)f.rss_max > (double)f.rss_first * 1.05 || (double)f.rss_last > (double)f.rss_first * 1.05))
                failure("incarnation %u: RSS grew from %ld kB to %ld kB (last %ld kB) after warm-up, over 5%%", i + 1, f.rss_first,
                        f.rss_max, f.rss_last);
            if (f.fd_last > f.fd_first)
                failure("incarnation %u: fds (not sockets) grew from %d to %d after warm-up", i + 1, f.fd_first, f.fd_last);
            if (fd_first_all < 0) {
                fd_first_all = f.fd_first;
                rss_first_all = f.rss_first;
            }
            fd_last_all = f.fd_last;
            rss_last_all = f.rss_last;
            if (f.rss_max > rss_max_all)
                rss_max_all = f.rss_max;
        } else {
            printf("(too short to sample after warm-up) | | | |\n");
        }
    }
    printf("\n| figure | value |\n| --- | --- |\n");
    printf("| legitimate requests (sent while ready) | %llu |\n", (unsigned long long)st.legit);
    printf("| legitimate failures | %llu |\n", (unsigned long long)st.legit_failed);
    printf("| re-sent after a restart cut them (connection refused or closed) | %llu |\n", (unsigned long long)st.retried);
    printf("| shed (503 + Retry-After) and re-sent a second later%s | %llu |\n", opt.strict ? "" : " (--strict 1: failures)",
           (unsigned long long)st.shed_retried);
    printf("| sent during restart windows: answered / failed | %llu / %llu |\n", (unsigned long long)st.window_ok,
           (unsigned long long)st.window_failed);
    printf("| searches answered 200 | %llu |\n", (unsigned long long)st.search_ok);
    printf("| pushes acknowledged (snapshots; duplicates) | %llu (%llu; %llu) |\n", (unsigned long long)st.pushes_acked,
           (unsigned long long)st.snapshots_acked, (unsigned long long)st.duplicates);
    printf("| push failures while ready | %llu |\n", (unsigned long long)st.push_failures);
    printf("| read-after-ack checks ok / wrong | %llu / %llu |\n", (unsigned long long)st.verify_ok,
           (unsigned long long)st.verify_mismatch);
    printf("| restarts | %u |\n", srv.inc_count > 1 ? srv.inc_count - 1 : 0);
    printf("| keys as last acknowledged, at the end / after a final restart | %u of %u / %u of %u |\n", v1_ok, v1_ok + v1_bad,
           v2_ok, v2_ok + v2_bad);
    printf("| RSS after warm-up: first incarnation first / last incarnation last / max (MB) | %.1f / %.1f / %.1f |\n",
           rss_first_all / 1024.0, rss_last_all / 1024.0, rss_max_all / 1024.0);
    printf("| fds (not sockets): first / last | %d / %d |\n", fd_first_all, fd_last_all);
    if (!opt.rss_check)
        printf("| RSS check | off (--rss-check 0: a sanitizer build, whose quarantine grows RSS by design) |\n");
    printf("| slowest answered request | %llu ms |\n", (unsigned long long)st.max_latency_ms);
    if (st.legit_failed > 0 || st.push_failures > 0)
        failed = 1;
    if (st.pushes_acked == 0)
        failure("no push was acknowledged");
    if (v1_ok + v1_bad == 0)
        failure("nothing to verify at the end");
    printf("\nsoak: %s\n", failed ? "FAIL" : "PASS");
    for (unsigned i = 0; i < srv.inc_count; i++)
        free(srv.inc[i].samples);
    curl_multi_cleanup(multi);
    return failed;
}
