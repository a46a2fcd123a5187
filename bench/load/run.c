/*
 * bench/load/run.c: the load shapes of flightsearch-load and what is counted (see load.h).
 *
 * Open loop: request i of a phase is due at a time fixed in advance (start + i / rate, or for a
 * ramp the time at which the rate, rising linearly, has produced i requests) whatever the server
 * answers, and its latency counts from that time. A slow server therefore shows its queueing in
 * the figures instead of slowing the load down (the coordinated omission of a closed loop; wrk2
 * corrects for it the same way). Closed loop: --connections x --streams requests always in
 * flight, each latency from its own send: a measure of capacity, not of latency.
 *
 * Every answer is classed (2xx, 304, 429, 503, other status, no answer: connection failure or
 * still unanswered when the drain ends) and every 2xx body is checked: JSON that parses, a
 * top-level object, and the key its endpoint promises (results, days, destinations).
 *
 * The knee search (--find-knee 'p99<50ms') runs open-loop steps: the rate doubles while a step
 * meets the criterion (and at most 1% of its answers are anything but 2xx/304), then bisects
 * between the last rate that passed and the first that failed.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "bench/load/load.h"
#include "loaders/reader.h"

volatile int fs_load_stop;

const char *const fs_load_class_names[FS_LOAD_C_KINDS] = {"2xx",     "304", "429", "503", "other_status", "connection_errors",
                                                          "timeouts"};

typedef struct rq {
    int64_t sched_ns;
    unsigned phase;
    unsigned kind;
} rq_t;

/* ------------------------------------------------------------- body shape */

static const char *expected_key(const char *path, size_t *len)
{
    static const struct {
        const char *prefix, *key;
    } keys[] = {{"/v1/search", "results"}, {"/v1/calendar", "days"}, {"/v1/routes", "destinations"}};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        size_t n = strlen(keys[i].prefix);
        if (strncmp(path, keys[i].prefix, n) == 0 && (path[n] == '?' || path[n] == '\0')) {
            *len = strlen(keys[i].key);
            return keys[i].key;
        }
    }
    return NULL;
}

/* 1 when body is one JSON object holding the endpoint's key, 0 otherwise. */
static int shape_ok(const char *path, const char *body, size_t len)
{
    fs_rd_t rd;
    fs_rd_val_t v;
    fs_rd_str_t key;
    size_t want_len = 0;
    const char *want = expected_key(path, &want_len);
    int found = want == NULL, r;

    fs_rd_init(&rd, FS_FEED_JSON, (const uint8_t *)body, len);
    if (fs_rd_read(&rd, &v) != 0 || v.type != FS_RD_MAP)
        return 0;
    while ((r = fs_rd_map_next(&rd, &key)) > 0) {
        if (want != NULL && key.p != NULL && key.len == want_len && memcmp(key.p, want, want_len) == 0)
            found = 1;
        if (fs_rd_skip(&rd) != 0)
            return 0;
    }
    return r == 0 && fs_rd_finish(&rd) == 0 && found;
}

/* ----------------------------------------------------------- completions */

static fs_load_second_t *second_at(fs_load_run_t *r, int64_t t)
{
    int64_t s = (t - r->start_ns) / 1000000000;
    if (s < 0)
        s = 0;
    while ((unsigned)s >= r->sec_cap) {
        unsigned cap = r->sec_cap ? r->sec_cap * 2 : 64;
        fs_load_second_t *n = realloc(r->secs, cap * sizeof(*n));
        if (n == NULL) {
            fprintf(stderr, "flightsearch-load: out of memory\n");
            exit(1);
        }
        memset(n + r->sec_cap, 0, (cap - r->sec_cap) * sizeof(*n));
        r->secs = n;
        r->sec_cap = cap;
    }
    if ((unsigned)s >= r->sec_count)
        r->sec_count = (unsigned)s + 1;
    return &r->secs[s];
}

static int class_of(int status, int err)
{
    if (err == FS_LOAD_ERR_TIMEOUT)
        return FS_LOAD_C_TIMEOUT;
    if (err != FS_LOAD_ERR_NONE)
        return FS_LOAD_C_CONN;
    if (status >= 200 && status < 300)
        return FS_LOAD_C_2XX;
    if (status == 304)
        return FS_LOAD_C_304;
    if (status == 429)
        return FS_LOAD_C_429;
    if (status == 503)
        return FS_LOAD_C_503;
    return FS_LOAD_C_OTHER;
}

static void note(char *dst, size_t cap, const char *path, int status, const char *body, size_t len)
{
    if (dst[0] != '\0')
        return;
    snprintf(dst, cap, "%d %s: %.*s", status, path, (int)(len < 100 ? len : 100), body);
    for (char *q = dst; *q; q++)
        if (*q == '\n' || *q == '\r' || *q == '\t')
            *q = ' ';
}

static void on_done(void *ctx, void *user, int status, const char *body, size_t len, int64_t sent_ns, int64_t done_ns, int err)
{
    (void)sent_ns;
    fs_load_run_t *r = ctx;
    rq_t *q = user;
    fs_load_phase_t *ph = &r->phases[q->phase];
    fs_load_second_t *s = second_at(r, done_ns);
    int cls = class_of(status, err);
    int64_t lat = (done_ns - q->sched_ns) / 1000;
    uint64_t us = lat > 0 ? (uint64_t)lat : 0;
    fs_load_counts_t *cs[4] = {&ph->n, &s->n, &r->total, &r->kind_n[q->kind]};
    for (int i = 0; i < 4; i++) {
        cs[i]->done++;
        cs[i]->c[cls]++;
        cs[i]->by_kind[q->kind]++;
    }
    if (status > 0)
        fs_hist_add(&ph->all, us);
    if (cls == FS_LOAD_C_2XX || cls == FS_LOAD_C_304) {
        fs_hist_add(&ph->ok, us);
        if (!ph->warmup) {
            fs_hist_add(&r->total_ok, us);
            fs_hist_add(&r->kind_ok[q->kind], us);
        }
        if (s->ok == NULL && (s->ok = calloc(1, sizeof(fs_hist_t))) == NULL) {
            fprintf(stderr, "flightsearch-load: out of memory\n");
            exit(1);
        }
        fs_hist_add(s->ok, us);
    }
    free(q);
    (void)body;
    (void)len;
}

/* Reservoir sampling (Algorithm R) over the 2xx answers, on its own generator so that the mix's
 * sequence does not depend on --check-sample. */
static void sample_offer(fs_load_run_t *r, const char *path, const char *body, size_t len)
{
    uint64_t k = r->sample_seen++;
    unsigned slot;
    if (k < r->sample_want) {
        slot = (unsigned)k;
        r->sample_count = slot + 1;
    } else {
        uint64_t j = fs_load_rand(&r->sample_rng) % (k + 1);
        if (j >= r->sample_want)
            return;
        slot = (unsigned)j;
    }
    struct fs_load_sample *s = &r->samples[slot];
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return;
    memcpy(copy, body, len);
    copy[len] = '\0';
    free(s->body);
    s->path = path;
    s->body = copy;
    s->len = len;
}

int fs_load_same_answer(const char *a, size_t alen, const char *b, size_t blen)
{
    static const char key[] = "\"took_us\":";
    size_t i = 0, j = 0;
    while (i < alen && j < blen) {
        if (alen - i >= sizeof(key) - 1 && blen - j >= sizeof(key) - 1 && memcmp(a + i, key, sizeof(key) - 1) == 0 &&
            memcmp(b + j, key, sizeof(key) - 1) == 0) {
            i += sizeof(key) - 1;
            j += sizeof(key) - 1;
            while (i < alen && a[i] >= '0' && a[i] <= '9')
                i++;
            while (j < blen && b[j] >= '0' && b[j] <= '9')
                j++;
            continue;
        }
        if (a[i] != b[j])
            return 0;
        i++;
        j++;
    }
    return i == alen && j == blen;
}

void fs_load_check_samples(fs_load_run_t *r)
{
    for (unsigned i = 0; i < r->sample_count && !fs_load_stop; i++) {
        struct fs_load_sample *s = &r->samples[i];
        char *body = NULL, err[256];
        size_t len = 0;
        s->alone_status = fs_load_fetch(&r->target, s->path, &body, &len, err, sizeof(err));
        s->alone_len = len;
        s->same = s->alone_status >= 200 && s->alone_status < 300 && fs_load_same_answer(s->body, s->len, body, len);
        r->sample_same += (unsigned)s->same;
        free(body);
    }
}

/* The completion callback sees the path through the request's user data, kept beside it. */
typedef struct rq_path {
    rq_t q;
    const char *path;
} rq_path_t;

static void on_done_checked(void *ctx, void *user, int status, const char *body, size_t len, int64_t sent_ns, int64_t done_ns,
                            int err)
{
    fs_load_run_t *r = ctx;
    rq_path_t *qp = user;
    int cls = class_of(status, err);
    if (cls == FS_LOAD_C_2XX && !shape_ok(qp->path, body, len)) {
        r->phases[qp->q.phase].n.bad_shape++;
        second_at(r, done_ns)->n.bad_shape++;
        r->total.bad_shape++;
        note(r->first_bad_shape, sizeof(r->first_bad_shape), qp->path, status, body, len);
    }
    if (cls == FS_LOAD_C_OTHER)
        note(r->first_other, sizeof(r->first_other), qp->path, status, body, len);
    if (cls == FS_LOAD_C_2XX && r->sample_want > 0)
        sample_offer(r, qp->path, body, len);
    on_done(ctx, user, status, body, len, sent_ns, done_ns, err); /* frees qp: rq_t is its first member */
}

static void submit(fs_load_run_t *r, fs_load_engine_t *e, unsigned phase, int64_t sched)
{
    const fs_load_mix_entry_t *m = fs_load_mix_next(r->mix, &r->rng);
    rq_path_t *qp = malloc(sizeof(*qp));
    if (qp == NULL) {
        fprintf(stderr, "flightsearch-load: out of memory\n");
        exit(1);
    }
    qp->q.sched_ns = sched;
    qp->q.phase = phase;
    qp->q.kind = m->kind;
    qp->path = m->path;
    fs_load_engine_submit(e, m->path, qp);
    r->phases[phase].n.sent++;
    second_at(r, sched)->n.sent++;
    r->total.sent++;
}

/* ---------------------------------------------------------------- progress */

static void progress_line(fs_load_run_t *r, unsigned sec, fs_load_engine_t *e)
{
    const fs_load_second_t *s = &r->secs[sec];
    uint64_t errors = s->n.c[FS_LOAD_C_OTHER] + s->n.c[FS_LOAD_C_CONN] + s->n.c[FS_LOAD_C_TIMEOUT] + s->n.bad_shape;
    fprintf(
        stderr,
        "[%3us] sent %6llu/s  answered %6llu/s  p50 %7.2f ms  p99 %7.2f ms  2xx %llu  304 %llu  429 %llu  503 %llu  errors %llu  "
        "in flight %llu\n",
        sec, (unsigned long long)s->n.sent, (unsigned long long)s->n.done, s->ok ? (double)fs_hist_pct(s->ok, 50) / 1000.0 : 0.0,
        s->ok ? (double)fs_hist_pct(s->ok, 99) / 1000.0 : 0.0, (unsigned long long)s->n.c[FS_LOAD_C_2XX],
        (unsigned long long)s->n.c[FS_LOAD_C_304], (unsigned long long)s->n.c[FS_LOAD_C_429],
        (unsigned long long)s->n.c[FS_LOAD_C_503], (unsigned long long)errors, (unsigned long long)fs_load_engine_pending(e));
}

/* Prints the lines of the seconds that have ended. */
static void tick(fs_load_run_t *r, fs_load_engine_t *e, unsigned *printed)
{
    unsigned now_sec = (unsigned)((fs_load_now_ns() - r->start_ns) / 1000000000);
    while (*printed < now_sec) {
        second_at(r, r->start_ns + (int64_t)*printed * 1000000000);
        if (r->progress)
            progress_line(r, *printed, e);
        (*printed)++;
    }
}

/* ------------------------------------------------------------------ phases */

static unsigned phase_add(fs_load_run_t *r, const char *label, int closed, double rate0, double rate1, double dur)
{
    if (r->phase_count == r->phase_cap) {
        unsigned cap = r->phase_cap ? r->phase_cap * 2 : 8;
        fs_load_phase_t *n = realloc(r->phases, cap * sizeof(*n));
        if (n == NULL) {
            fprintf(stderr, "flightsearch-load: out of memory\n");
            exit(1);
        }
        r->phases = n;
        r->phase_cap = cap;
    }
    fs_load_phase_t *p = &r->phases[r->phase_count];
    memset(p, 0, sizeof(*p));
    snprintf(p->label, sizeof(p->label), "%s", label);
    p->closed = closed;
    p->rate0 = rate0;
    p->rate1 = rate1;
    p->duration_s = dur;
    return r->phase_count++;
}

/* When request i of an open-loop phase is due, in seconds from its start. The rate rises
 * linearly from r0 to r1 over d seconds, so the requests due by t are r0 t + (r1 - r0) t^2 / 2d;
 * request i is due when that count reaches i. Computed from i (not by adding intervals) so that
 * rounding never adds or drops a request: a phase sends exactly the requests due before its end. */
static double due_s(const fs_load_phase_t *p, uint64_t i)
{
    double r0 = p->rate0 > 0.1 ? p->rate0 : 0.1, a = (p->rate1 - p->rate0) / p->duration_s;
    if (fabs(a) < 1e-9)
        return (double)i / r0;
    double disc = r0 * r0 + 2 * a * (double)i;
    return disc < 0 ? 1e9 : (sqrt(disc) - r0) / a; /* a falling rate that reaches 0 first: never due */
}

static int64_t due_ns(const fs_load_phase_t *p, int64_t start, uint64_t i)
{
    double s = due_s(p, i);
    return s > 1e8 ? INT64_MAX : start + (int64_t)(s * 1e9);
}

static void phase_run(fs_load_run_t *r, fs_load_engine_t *e, unsigned idx, unsigned *printed)
{
    fs_load_phase_t *p = &r->phases[idx];
    int64_t start = fs_load_now_ns(), end = start + (int64_t)(p->duration_s * 1e9);
    p->start_s = (double)(start - r->start_ns) / 1e9;
    uint64_t seq = 0; /* the next request of the phase */
    uint64_t inflight_target = (uint64_t)r->eopts.connections * r->eopts.streams;
    int64_t now = start;

    while (!fs_load_stop && now < end) {
        int timeout = 10;
        if (!p->closed) {
            int64_t due = due_ns(p, start, seq);
            for (unsigned burst = 0; due <= now && due < end && burst < 20000; burst++) {
                second_at(r, due)->target_rate = p->rate0 + (p->rate1 - p->rate0) * (double)(due - start) / (p->duration_s * 1e9);
                submit(r, e, idx, due);
                due = due_ns(p, start, ++seq);
            }
            double wait_ms = (double)(due - fs_load_now_ns()) / 1e6;
            timeout = wait_ms < 1 ? 0 : (wait_ms > 10 ? 10 : (int)wait_ms);
        } else {
            while (fs_load_engine_pending(e) < inflight_target)
                submit(r, e, idx, now);
        }
        fs_load_engine_poll(e, timeout);
        tick(r, e, printed);
        now = fs_load_now_ns();
    }
    /* A generator that woke up late still sends everything that was due before the end: the
     * count of an open-loop phase is its rate x duration, however busy this machine was. */
    for (int64_t due; !fs_load_stop && !p->closed && (due = due_ns(p, start, seq)) < end; seq++) {
        second_at(r, due)->target_rate = p->rate0 + (p->rate1 - p->rate0) * (double)(due - start) / (p->duration_s * 1e9);
        submit(r, e, idx, due);
    }
    p->actual_s = (double)((now < end ? now : end) - start) / 1e9;
}

/* Waits for the answers of what was sent, up to drain_s (or a second Ctrl-C). */
static void drain(fs_load_run_t *r, fs_load_engine_t *e, unsigned *printed)
{
    int64_t until = fs_load_now_ns() + (int64_t)(r->drain_s * 1e9);
    int stop_seen = fs_load_stop;
    while (fs_load_engine_pending(e) > 0 && fs_load_now_ns() < until && fs_load_stop == stop_seen) {
        fs_load_engine_poll(e, 10);
        tick(r, e, printed);
    }
}

static int step_passes(const fs_load_run_t *r, const fs_load_phase_t *p)
{
    uint64_t good = p->n.c[FS_LOAD_C_2XX] + p->n.c[FS_LOAD_C_304];
    if (p->n.done == 0 || good == 0)
        return 0;
    double bad = (double)(p->n.done - good + p->n.bad_shape) / (double)p->n.done;
    return fs_hist_pct(&p->ok, r->knee.pct) < r->knee.limit_us && bad <= r->knee.max_error_share &&
           p->n.sent >= (uint64_t)(0.95 * p->rate0 * p->duration_s);
}

int fs_load_knee_parse(fs_load_knee_t *k, const char *text, char *err, size_t errcap)
{
    char pname[16];
    const char *lt = strchr(text, '<');
    size_t plen = lt ? (size_t)(lt - text) : 0;
    while (plen > 0 && text[plen - 1] == ' ')
        plen--;
    char *endp = NULL;
    double limit = lt ? strtod(lt + 1, &endp) : 0;
    const char *unit = endp;
    if (lt == NULL || plen == 0 || plen >= sizeof(pname) || unit == lt + 1 || !(limit > 0)) {
        snprintf(err, errcap, "--find-knee: expected PERCENTILE<LIMIT such as 'p99<50ms', got '%s'", text);
        return -1;
    }
    memcpy(pname, text, plen);
    pname[plen] = '\0';
    unit += strspn(unit, " ");
    if (*unit == '\0')
        unit = "ms";
    static const struct {
        const char *name;
        double pct;
    } pcts[] = {{"p50", 50}, {"p90", 90}, {"p95", 95}, {"p99", 99}, {"p999", 99.9}, {"p99.9", 99.9}};
    k->pct = 0;
    for (size_t i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++)
        if (strcmp(pname, pcts[i].name) == 0)
            k->pct = pcts[i].pct;
    double mult = strcmp(unit, "us") == 0 ? 1 : strcmp(unit, "ms") == 0 ? 1e3 : strcmp(unit, "s") == 0 ? 1e6 : 0;
    if (k->pct == 0 || mult == 0) {
        snprintf(err, errcap, "--find-knee: percentile p50, p90, p95, p99 or p999 and unit us, ms or s, got '%s'", text);
        return -1;
    }
    k->limit_us = (uint64_t)(limit * mult);
    snprintf(k->text, sizeof(k->text), "%s", text);
    k->enabled = 1;
    if (k->max_error_share <= 0)
        k->max_error_share = 0.01;
    return 0;
}

static void knee_search(fs_load_run_t *r, fs_load_engine_t *e, unsigned *printed)
{
    double lo = 0, hi = 0, rate = r->knee_start;
    for (unsigned step = 0; step < r->knee_steps && !fs_load_stop; step++) {
        char label[64];
        snprintf(label, sizeof(label), "knee step %u: %.0f/s", step + 1, rate);
        unsigned idx = phase_add(r, label, 0, rate, rate, r->duration_s);
        phase_run(r, e, idx, printed);
        drain(r, e, printed);
        if (fs_load_stop)
            break;
        fs_load_phase_t *p = &r->phases[idx];
        p->passed = step_passes(r, p);
        p->metrics_after = fs_load_metrics_scrape(&r->target); /* the server's view of this step alone */
        fprintf(stderr, "flightsearch-load: %s: %s at p%g = %.2f ms, %.2f%% not 2xx/304\n", label, p->passed ? "passed" : "failed",
                r->knee.pct, (double)fs_hist_pct(&p->ok, r->knee.pct) / 1000.0,
                p->n.done ? 100.0 * (double)(p->n.done - p->n.c[FS_LOAD_C_2XX] - p->n.c[FS_LOAD_C_304]) / (double)p->n.done : 0.0);
        if (p->passed)
            lo = rate;
        else
            hi = rate;
        if (hi == 0) {
            if (rate >= r->knee_max)
                break;
            rate = rate * 2 > r->knee_max ? r->knee_max : rate * 2;
        } else {
            if (lo > 0 && hi / lo < 1.1)
                break;
            rate = lo > 0 ? (lo + hi) / 2 : hi / 2;
            if (rate < 1)
                break;
        }
    }
    r->knee.found_rate = lo;
    r->knee.failed_rate = hi;
}

/* ---------------------------------------------------------------- the run */

int fs_load_run(fs_load_run_t *r, char *err, size_t errcap)
{
    r->eopts.done = on_done_checked;
    if (r->sample_want > 0 && (r->samples = calloc(r->sample_want, sizeof(*r->samples))) == NULL) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    r->sample_rng = r->mix->seed ^ 0x5a5a5a5a5a5a5a5aULL;
    r->eopts.ctx = r;
    fs_load_engine_t *e = fs_load_engine_new(&r->target, &r->eopts, 10000, err, errcap);
    if (e == NULL)
        return -1;
    r->protocol = fs_load_engine_protocol(e);
    r->rng = r->mix->seed;
    unsigned printed = 0;
    r->start_ns = fs_load_now_ns();
    if (r->warmup_s > 0) {
        /* the first rate of the run (or the closed loop), for caches, connections and the
         * server's allocator to settle; its answers are counted, its latencies not judged */
        double rate = r->knee.enabled ? r->knee_start : r->ramp_s > 0 ? r->ramp0 : r->rate;
        unsigned idx = phase_add(r, "warm-up", r->closed, rate, rate, r->warmup_s);
        r->phases[idx].warmup = 1;
        phase_run(r, e, idx, &printed);
        drain(r, e, &printed);
        if (!fs_load_stop)
            r->phases[idx].metrics_after = fs_load_metrics_scrape(&r->target);
    }
    if (fs_load_stop) {
        /* interrupted during the warm-up: nothing more to send */
    } else if (r->knee.enabled) {
        knee_search(r, e, &printed);
    } else if (r->ramp_s > 0) {
        char label[64];
        snprintf(label, sizeof(label), "ramp %.0f/s to %.0f/s", r->ramp0, r->ramp1);
        phase_run(r, e, phase_add(r, label, 0, r->ramp0, r->ramp1, r->ramp_s), &printed);
    } else if (r->closed) {
        char label[64];
        snprintf(label, sizeof(label), "closed loop %u x %u", r->eopts.connections, r->eopts.streams);
        phase_run(r, e, phase_add(r, label, 1, 0, 0, r->duration_s), &printed);
    } else {
        char label[64];
        snprintf(label, sizeof(label), "open loop %.0f/s", r->rate);
        phase_run(r, e, phase_add(r, label, 0, r->rate, r->rate, r->duration_s), &printed);
    }
    r->interrupted = fs_load_stop != 0;
    drain(r, e, &printed);
    fs_load_engine_abort(e); /* what is still unanswered counts as timeouts */
    tick(r, e, &printed);
    r->wall_s = (double)(fs_load_now_ns() - r->start_ns) / 1e9;
    fs_load_engine_stats(e, &r->estats);
    fs_load_engine_free(e);
    return 0;
}
