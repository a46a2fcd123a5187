/*
 * tests/e2e/e2e_crash.c: kill -9 the real binary (argv[1]) in the middle of a stream of pushes,
 * many times, and check after every restart that what was acknowledged is there, exactly.
 *
 * Each iteration starts the server on the same data dir, checks its state, then pushes snapshots
 * and deltas for two sources over HTTP/1.1, one at a time, while a second thread sends SIGKILL
 * after a random delay of 0-300 ms (xorshift from a fixed seed: the same delays every run).
 *
 * The test keeps its own model of each source: for each leg key (TP flight 1..FLIGHTS, GRU to
 * LIS, on 2026-12-01..03) whether it exists, its economy miles and seats, and the sequence of the
 * push that last carried it (its last_seen is that push's generated_at). A push answered 200 is
 * acknowledged: it must survive. The push that was in flight when the kill landed may or may not
 * have been applied, so after a restart a source must equal either its last acknowledged state or
 * the state that in-flight push would have made, leg by leg, and nothing else: a leg from a
 * refused push (some pushes are deliberately invalid, 422) or a half-applied one is a failure.
 * The state is read back with GET /v1/search (msgpack): every leg's miles, seats and last_seen,
 * and the source's sequence and leg count from "searched".
 */
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/e2e/lib_server.h"
#include "tests/test.h"

#define ITERATIONS 25
#define TIME_BUDGET_MS 55000
#define SOURCES 2
#define FLIGHTS 10
#define DAYS 3
#define TOKEN "crashtesttoken000000000"

static const char *const source_names[SOURCES] = {"crash-a", "crash-b"};

/* ---------------------------------------------------------------- model */

typedef struct mleg {
    int present;
    unsigned miles, seats;
    uint64_t seen_seq;
} mleg_t;

typedef struct model {
    int present;
    uint64_t sequence;
    mleg_t leg[FLIGHTS + 1][DAYS];
} model_t;

static unsigned model_count(const model_t *m)
{
    unsigned n = 0;
    for (unsigned f = 1; f <= FLIGHTS; f++)
        for (unsigned d = 0; d < DAYS; d++)
            n += m->leg[f][d].present;
    return n;
}

static int model_equal(const model_t *a, const model_t *b)
{
    if (a->present != b->present)
        return 0;
    if (!a->present)
        return 1;
    if (a->sequence != b->sequence)
        return 0;
    for (unsigned f = 1; f <= FLIGHTS; f++)
        for (unsigned d = 0; d < DAYS; d++) {
            const mleg_t *x = &a->leg[f][d], *y = &b->leg[f][d];
            if (x->present != y->present ||
                (x->present && (x->miles != y->miles || x->seats != y->seats || x->seen_seq != y->seen_seq)))
                return 0;
        }
    return 1;
}

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static unsigned rnd_below(unsigned n)
{
    return (unsigned)(rnd() % n);
}

/* ----------------------------------------------------------- feed bodies */

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf_t;

static void sb_printf(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf_t *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (b->p != NULL && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        b->cap = (b->cap + (size_t)n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        if (b->p == NULL)
            abort();
    }
}

/* generated_at of sequence s: 2026-11-21T00:00:00Z plus s seconds. */
static void timestamp_of(uint64_t s, char out[32])
{
    unsigned x = (unsigned)(s % 86400);
    snprintf(out, 32, "2026-11-21T%02u:%02u:%02uZ", x / 3600, x / 60 % 60, x % 60);
}

static void sb_header(sbuf_t *b, const char *source, uint64_t seq)
{
    char ts[32];
    timestamp_of(seq, ts);
    sb_printf(b, "{\"source\": \"%s\", \"sequence\": %llu, \"generated_at\": \"%s\"", source, (unsigned long long)seq, ts);
}

static void sb_leg(sbuf_t *b, unsigned flight, unsigned day, unsigned miles, unsigned seats)
{
    unsigned h = 1 + flight % 8, mi = 5 * (flight % 12);
    sb_printf(b,
              "{\"carrier\": \"TP\", \"flight\": %u, \"origin\": \"GRU\", \"destination\": \"LIS\", "
              "\"departs_at\": \"2026-12-%02uT%02u:%02u:00-03:00\", \"arrives_at\": \"2026-12-%02uT%02u:%02u:00Z\", "
              "\"cabins\": {\"economy\": {\"seats\": %u, \"miles\": %u, \"taxes_cents\": %u, \"currency\": \"BRL\"}}}",
              flight, day + 1, h, mi, day + 1, h + 13, mi, seats, miles, 1000 + flight);
}

/* A random snapshot of sequence seq: sets *m and returns the body. */
static char *random_snapshot(const char *source, model_t *m, uint64_t seq)
{
    memset(m, 0, sizeof(*m));
    m->present = 1;
    m->sequence = seq;
    sbuf_t b = {0};
    sb_header(&b, source, seq);
    sb_printf(&b, ", \"legs\": [");
    int first = 1;
    for (unsigned f = 1; f <= FLIGHTS; f++)
        for (unsigned d = 0; d < DAYS; d++)
            if (rnd_below(10) < 6) {
                m->leg[f][d] = (mleg_t){1, 1000 + 500 * rnd_below(400), 1 + rnd_below(9), seq};
                sb_printf(&b, "%s", first ? "" : ", ");
                sb_leg(&b, f, d, m->leg[f][d].miles, m->leg[f][d].seats);
                first = 0;
            }
    sb_printf(&b, "]}");
    return b.p;
}

/* A random delta to sequence seq, applied to *m; returns the body. When invalid, one more upsert
 * carries 0 miles: the whole push must be refused (422) and *m is left as it was. */
static char *random_delta(const char *source, model_t *m, uint64_t seq, int invalid)
{
    model_t next = *m;
    sbuf_t up = {0}, rm = {0};
    sb_printf(&up, "%s", "");
    sb_printf(&rm, "%s", "");
    unsigned ups = 0, rms = 0;
    for (unsigned f = 1; f <= FLIGHTS; f++)
        for (unsigned d = 0; d < DAYS; d++) {
            unsigned r = rnd_below(100);
            if (r < 25 || (f == FLIGHTS && d == DAYS - 1 && ups == 0)) {
                mleg_t l = {1, 1000 + 500 * rnd_below(400), 1 + rnd_below(9), seq};
                sb_printf(&up, "%s", ups++ ? ", " : "");
                sb_leg(&up, f, d, l.miles, l.seats);
                next.leg[f][d] = l;
            } else if (r < 35) {
                sb_printf(&rm, "%s{\"carrier\": \"TP\", \"flight\": %u, \"origin\": \"GRU\", \"date\": \"2026-12-%02u\"}",
                          rms++ ? ", " : "", f, d + 1);
                memset(&next.leg[f][d], 0, sizeof(next.leg[f][d]));
            }
        }
    if (invalid) {
        sb_printf(&up, ", ");
        sb_leg(&up, FLIGHTS + 1, 0, 0, 1); /* miles 0: refused */
    } else {
        next.present = 1;
        next.sequence = seq;
        *m = next;
    }
    sbuf_t b = {0};
    sb_header(&b, source, seq);
    sb_printf(&b, ", \"upsert\": [%s], \"remove\": [%s]}", up.p, rm.p);
    free(up.p);
    free(rm.p);
    return b.p;
}

/* --------------------------------------------------------- reading back */

/* The state of source as searches see it, into *out. 0, or -1 when the answer is unusable. */
static int observe(e2e_client_t *c, const e2e_server_t *s, const char *source, model_t *out, char *why, size_t whycap)
{
    memset(out, 0, sizeof(*out));
    char url[512];
    snprintf(url, sizeof(url),
             "%s/v1/search?origin=GRU&destination=LIS&start_date=2026-12-01&end_date=2026-12-03&cabin=economy&sources=%s&limit=500",
             s->url, source);
    e2e_response_t res;
    int rc = -1, parsed = 0;
    e2e_mp_t doc;
    if (e2e_get(c, E2E_H1, url, "Accept: application/msgpack", &res) != 0 || res.status != 200) {
        snprintf(why, whycap, "search: status %ld %s %s", res.status, res.error, res.body ? res.body : "");
        goto out;
    }
    if (e2e_mp_parse(&doc, res.body, res.body_len) != 0) {
        snprintf(why, whycap, "search: not one msgpack document");
        goto out;
    }
    parsed = 1;
    const msgpack_object_array *searched = e2e_mp_array(doc.root, "searched");
    const msgpack_object_array *results = e2e_mp_array(doc.root, "results");
    if (searched == NULL || results == NULL) {
        snprintf(why, whycap, "search: no searched or results");
        goto out;
    }
    int64_t legs = -1;
    for (uint32_t i = 0; i < searched->size; i++)
        if (e2e_mp_str_is(e2e_mp_get(&searched->ptr[i], "source"), source)) {
            int64_t seq;
            out->present = e2e_mp_int(&searched->ptr[i], "sequence", &seq);
            out->sequence = (uint64_t)seq;
            legs = e2e_mp_int_or(&searched->ptr[i], "legs", -1);
        }
    for (uint32_t i = 0; i < results->size; i++) {
        const msgpack_object *r = &results->ptr[i];
        char date[16], last_seen[32];
        const msgpack_object_array *segs = e2e_mp_array(r, "segments");
        int64_t flight = segs != NULL && segs->size == 1 ? e2e_mp_int_or(&segs->ptr[0], "flight", -1) : -1;
        int64_t miles = e2e_mp_int_or(r, "miles", -1), seats = e2e_mp_int_or(r, "seats", -1);
        int day = -1;
        if (e2e_mp_str(r, "date", date, sizeof(date)) != NULL && strncmp(date, "2026-12-0", 9) == 0)
            day = date[9] - '1';
        if (flight < 1 || flight > FLIGHTS || day < 0 || day >= DAYS || miles < 0 || seats < 0 ||
            e2e_mp_str(r, "last_seen", last_seen, sizeof(last_seen)) == NULL || out->leg[flight][day].present) {
            snprintf(why, whycap, "search: unexpected result %u (flight %lld, date %s)", i, (long long)flight, date);
            goto out;
        }
        /* last_seen names the push that carried the leg: find its sequence (at most 86400) */
        mleg_t *l = &out->leg[flight][day];
        l->present = 1;
        l->miles = (unsigned)miles;
        l->seats = (unsigned)seats;
        unsigned hh, mm, ss;
        if (sscanf(last_seen, "2026-11-21T%2u:%2u:%2uZ", &hh, &mm, &ss) != 3) {
            snprintf(why, whycap, "search: last_seen %s is not one of this test's", last_seen);
            goto out;
        }
        l->seen_seq = hh * 3600u + mm * 60u + ss;
    }
    if (out->present && legs != (int64_t)model_count(out)) {
        snprintf(why, whycap, "search: searched says %lld legs, %u results", (long long)legs, model_count(out));
        goto out;
    }
    if (!out->present && results->size != 0) {
        snprintf(why, whycap, "search: %u results of a source not searched", results->size);
        goto out;
    }
    rc = 0;
out:
    if (parsed)
        e2e_mp_free(&doc);
    e2e_response_free(&res);
    return rc;
}

static void describe(const char *label, const model_t *m)
{
    fprintf(stderr, "    %s: ", label);
    if (!m->present) {
        fprintf(stderr, "absent\n");
        return;
    }
    fprintf(stderr, "sequence %llu, %u legs:", (unsigned long long)m->sequence, model_count(m));
    for (unsigned f = 1; f <= FLIGHTS; f++)
        for (unsigned d = 0; d < DAYS; d++)
            if (m->leg[f][d].present)
                fprintf(stderr, " %u/%u:%u,%u@%llu", f, d, m->leg[f][d].miles, m->leg[f][d].seats,
                        (unsigned long long)m->leg[f][d].seen_seq);
    fprintf(stderr, "\n");
}

/* ---------------------------------------------------------------- kill */

typedef struct killer {
    pid_t pid;
    unsigned delay_ms;
    int fired;        /* atomic */
    int64_t fired_ns; /* when it sent SIGKILL (just before), valid once fired */
} killer_t;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *killer_main(void *arg)
{
    killer_t *k = arg;
    struct timespec ts = {k->delay_ms / 1000, (long)(k->delay_ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
    k->fired_ns = now_ns();
    kill(k->pid, SIGKILL);
    __atomic_store_n(&k->fired, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s path/to/flightsearch\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *binary = argv[1];
    e2e_http_init();
    char data_dir[256], etc_dir[256], tokens[300];
    if (e2e_tmpdir(data_dir, sizeof(data_dir)) != 0 || e2e_tmpdir(etc_dir, sizeof(etc_dir)) != 0) {
        fprintf(stderr, "cannot create temp dirs\n");
        return 1;
    }
    snprintf(tokens, sizeof(tokens), "%s/tokens", etc_dir);
    const char *line = TOKEN " *\n";
    e2e_write_file(tokens, line, strlen(line));
    const char *const extra[] = {"--tokens", tokens, NULL};
    const char *auth = "Authorization: Bearer " TOKEN;
    const char *const json_headers[] = {auth, "Content-Type: application/json", NULL};

    e2e_client_t client;
    e2e_client_init(&client);
    model_t acked[SOURCES], pending;
    memset(acked, 0, sizeof(acked));
    int pending_source = -1; /* the source of the push in flight at the kill, -1: none that could apply */
    unsigned iterations = 0, mid_push = 0, between = 0, acked_pushes = 0, refused_pushes = 0, in_flight_applied = 0,
             in_flight_lost = 0, start_failures = 0, bad_states = 0, unexpected_answers = 0;
    int64_t t_start = e2e_now_ms();

    for (unsigned it = 0; it <= ITERATIONS; it++) {
        int last = it == ITERATIONS || e2e_now_ms() - t_start > TIME_BUDGET_MS;
        e2e_server_t srv;
        if (e2e_server_start(&srv, binary, data_dir, extra) != 0) {
            fprintf(stderr, "iteration %u: the server did not start on the data dir of the previous kill\n", it);
            start_failures++;
            e2e_server_stop(&srv);
            break;
        }
        /* what survived the previous kill */
        for (int s = 0; s < SOURCES; s++) {
            model_t seen;
            char why[512] = "";
            if (observe(&client, &srv, source_names[s], &seen, why, sizeof(why)) != 0) {
                fprintf(stderr, "iteration %u: %s: %s\n", it, source_names[s], why);
                bad_states++;
                continue;
            }
            if (model_equal(&seen, &acked[s])) {
                if (pending_source == s)
                    in_flight_lost++;
            } else if (pending_source == s && model_equal(&seen, &pending)) {
                acked[s] = pending;
                in_flight_applied++;
            } else {
                fprintf(stderr, "iteration %u: %s after the restart is neither the acknowledged state nor the in-flight one\n", it,
                        source_names[s]);
                describe("seen", &seen);
                describe("acknowledged", &acked[s]);
                if (pending_source == s)
                    describe("in flight", &pending);
                bad_states++;
                acked[s] = seen; /* carry on from what the server has, to find more */
            }
        }
        pending_source = -1;
        if (last) {
            e2e_server_signal(&srv, SIGTERM);
            int status = e2e_server_wait(&srv, 15000);
            CHECK_EQ_INT(status, 0); /* a clean SIGTERM after all those kills */
            if (status != 0) {
                char *log = e2e_server_stderr(&srv);
                size_t n = strlen(log);
                fprintf(stderr, "the server's stderr (last 4000 bytes):\n%s\n", n > 4000 ? log + n - 4000 : log);
                free(log);
            }
            e2e_server_stop(&srv);
            break;
        }

        /* the stream, and the kill somewhere in it */
        killer_t k = {srv.pid, rnd_below(301), 0, 0};
        pthread_t kt;
        pthread_create(&kt, NULL, killer_main, &k);
        int killed_mid_push = 0, joined = 0;
        int64_t fired_at = 0;
        for (;;) {
            int s = (int)(rnd_below(SOURCES));
            uint64_t seq = acked[s].sequence + 1;
            model_t next = acked[s];
            char *body;
            const char *method, *path;
            int invalid = 0;
            if (!acked[s].present || rnd_below(5) == 0) {
                body = random_snapshot(source_names[s], &next, seq);
                method = "PUT";
                path = "snapshot";
            } else {
                invalid = rnd_below(10) == 0;
                body = random_delta(source_names[s], &next, seq, invalid);
                method = "POST";
                path = "deltas";
            }
            char url[256];
            snprintf(url, sizeof(url), "%s/v1/feeds/%s/%s", srv.url, source_names[s], path);
            e2e_response_t res;
            int64_t started_ns = now_ns();
            int rc = e2e_request(&client, E2E_H1, method, url, json_headers, body, strlen(body), &res);
            free(body);
            if (rc == 0 && res.status == 200 && !invalid) {
                acked[s] = next;
                acked_pushes++;
            } else if (rc == 0 && res.status == 422 && invalid) {
                refused_pushes++;
            } else if (rc == 0) {
                fprintf(stderr, "iteration %u: %s %s: unexpected answer %ld %s\n", it, method, url, res.status, res.body);
                unexpected_answers++;
            } else {
                /* no answer: the server died, and this push may or may not have been applied. The
                 * kill landed mid-push when it was sent after this request began. */
                if (!invalid) {
                    pending = next;
                    pending_source = s;
                }
                pthread_join(kt, NULL);
                joined = 1;
                killed_mid_push = k.fired_ns >= started_ns;
            }
            e2e_response_free(&res);
            if (rc != 0)
                break;
            if (__atomic_load_n(&k.fired, __ATOMIC_ACQUIRE) && fired_at == 0)
                fired_at = e2e_now_ms();
            if (fired_at != 0 && e2e_now_ms() - fired_at > 5000) {
                fprintf(stderr, "iteration %u: the server still answers 5 s after SIGKILL\n", it);
                CHECK(!"SIGKILL had no effect");
                break;
            }
        }
        if (!joined)
            pthread_join(kt, NULL);
        int status = e2e_server_wait(&srv, 10000);
        CHECK_EQ_INT(status, 128 + SIGKILL);
        e2e_server_stop(&srv); /* reaped already: removes the log dir */
        iterations++;
        if (killed_mid_push)
            mid_push++;
        else
            between++;
    }
    e2e_client_free(&client);

    printf("crash: %u kill -9 iterations (%u landed mid-push, %u between pushes) in %.1f s; %u pushes acknowledged, %u refused "
           "as invalid; in-flight pushes found applied %u, not applied %u\n",
           iterations, mid_push, between, (e2e_now_ms() - t_start) / 1000.0, acked_pushes, refused_pushes, in_flight_applied,
           in_flight_lost);
    CHECK_EQ_INT(start_failures, 0);
    CHECK_EQ_INT(bad_states, 0);
    CHECK_EQ_INT(unexpected_answers, 0);
    CHECK(iterations >= 10);
    CHECK(mid_push > 0);
    CHECK(acked_pushes > 0);
    if (bad_states == 0 && start_failures == 0) {
        e2e_rmtree(data_dir);
    } else {
        fprintf(stderr, "data dir kept for inspection: %s\n", data_dir);
    }
    e2e_rmtree(etc_dir);
    TEST_DONE();
}
