/*
 * bench/load/load.h: flightsearch-load, a load generator pointed at any flightsearch deployment.
 *
 * The parts, in the order a run uses them:
 *   engine.c  the client: TCP or TLS (OpenSSL, ALPN), then HTTP/2 (nghttp2; h2 over TLS, or h2c
 *             with prior knowledge) or HTTP/1.1 keep-alive, one epoll loop on one thread. Requests
 *             are submitted with the time they were due; each completion reports status and body.
 *   mix.c     the query mix: discovered from the target's public API (/v1/routes per origin,
 *             /v1/calendar per route), Zipf popularity or weights from a query log, written to
 *             and read from a mix file, sampled with a seeded generator.
 *   run.c     the load shapes (open loop at a rate or a ramp, closed loop, the knee search), the
 *             per-status counts, the body-shape check, the histograms, the per-second series.
 *   report.c  /metrics scrapes, and the JSON, Markdown and PNG (gnuplot) reports.
 *   main.c    the command line.
 *
 * Reused, not rewritten: the server's JSON writer (src/enc.h) for the report, the loaders' pull
 * reader (loaders/reader.h) for the answers, and hist.h is shared with tests/overload/loadgen.c.
 *
 * Errors: functions return 0 or -1 and write a message naming what failed into an err buffer.
 * Threads: everything runs on the thread that calls main; nothing here is thread-safe.
 */
#ifndef FS_BENCH_LOAD_H
#define FS_BENCH_LOAD_H

#include <stddef.h>
#include <stdint.h>
#include "bench/load/hist.h"

#define FS_LOAD_MAX_HEADERS 32

/* ------------------------------------------------------------------ target */

typedef enum fs_load_proto { FS_LOAD_PROTO_AUTO, FS_LOAD_PROTO_H1, FS_LOAD_PROTO_H2 } fs_load_proto_t;

typedef struct fs_load_target {
    int tls;               /* https:// */
    int insecure;          /* --insecure: no certificate or host name check */
    fs_load_proto_t proto; /* asked for; over TLS, ALPN decides between h2 and http/1.1 when AUTO */
    char host[256];        /* as given (name or address), for SNI and the certificate check */
    char port[8];
    char authority[300]; /* host[:port] as sent in Host / :authority */
    char prefix[256];    /* a path prefix of the base URL (a gateway's /api), without the trailing '/' */
    const char *header_names[FS_LOAD_MAX_HEADERS];
    const char *header_values[FS_LOAD_MAX_HEADERS];
    unsigned header_count;
} fs_load_target_t;

/** Parses http[s]://host[:port][/prefix] into t (proto, insecure and headers untouched). */
int fs_load_target_parse(fs_load_target_t *t, const char *url, char *err, size_t errcap);
/** 1 when a header of this name (any case) carries a credential: its value is never written out
 *  (Authorization, Proxy-Authorization, Cookie, or a name containing key, token or secret). */
int fs_load_header_is_secret(const char *name, size_t len);

/* ------------------------------------------------------------------ engine */

typedef struct fs_load_engine fs_load_engine_t;

/* Why a request got no HTTP status. */
enum { FS_LOAD_ERR_NONE, FS_LOAD_ERR_CONN, FS_LOAD_ERR_TIMEOUT };

/** What the engine reports for each request it was given, exactly once. status 0 with err set:
 *  no answer (connection refused, reset, closed mid-request). body is valid during the call. */
typedef void (*fs_load_done_fn)(void *ctx, void *user, int status, const char *body, size_t len, int64_t sent_ns, int64_t done_ns,
                                int err);

typedef struct fs_load_engine_opts {
    unsigned connections;     /* opened at start and kept (replaced when they fail) */
    unsigned max_connections; /* HTTP/1.1: more are opened while requests wait, up to this */
    unsigned streams;         /* HTTP/2: requests in flight per connection (capped by the server's setting) */
    size_t max_body;          /* bytes kept of a body; the rest is read and dropped */
    fs_load_done_fn done;
    void *ctx;
} fs_load_engine_opts_t;

/** Resolves the target and opens the first connection, waiting for it (TLS handshake included) up
 *  to timeout_ms; NULL with err on failure. The other connections open in the background. */
fs_load_engine_t *fs_load_engine_new(const fs_load_target_t *t, const fs_load_engine_opts_t *o, int timeout_ms, char *err,
                                     size_t errcap);
void fs_load_engine_free(fs_load_engine_t *e);

/** Queues GET path (the target's prefix is prepended); it is sent as soon as a connection has room.
 *  path must stay valid until its completion. */
void fs_load_engine_submit(fs_load_engine_t *e, const char *path, void *user);

/** Runs the loop for up to timeout_ms (0: only what is ready). Completions are called from here. */
void fs_load_engine_poll(fs_load_engine_t *e, int timeout_ms);

/** Requests submitted and not yet completed (waiting for room included). */
uint64_t fs_load_engine_pending(const fs_load_engine_t *e);
/** Requests waiting for room on a connection (not yet written). */
uint64_t fs_load_engine_waiting(const fs_load_engine_t *e);

/** Completes every pending request with FS_LOAD_ERR_TIMEOUT and closes the connections. */
void fs_load_engine_abort(fs_load_engine_t *e);

/** "h2" or "http/1.1": what the first connection speaks. */
const char *fs_load_engine_protocol(const fs_load_engine_t *e);

typedef struct fs_load_engine_stats {
    uint64_t connects, connect_failures, conn_resets;
    unsigned open_connections;
} fs_load_engine_stats_t;
void fs_load_engine_stats(const fs_load_engine_t *e, fs_load_engine_stats_t *out);

/** One blocking GET through a fresh engine of one connection (discovery, /metrics); the body is
 *  malloc'd into *body (NUL-terminated). Returns the status, or -1 with err. */
int fs_load_fetch(const fs_load_target_t *t, const char *path, char **body, size_t *len, char *err, size_t errcap);

/* --------------------------------------------------------------------- mix */

/* The mixes the tool knows, as bench/harness/mixes.py defines them for the bench. */
enum {
    FS_LOAD_MIX_DIRECT_1DAY,
    FS_LOAD_MIX_DIRECT_7DAY,
    FS_LOAD_MIX_CALENDAR,
    FS_LOAD_MIX_ROUTES,
    FS_LOAD_MIX_SEARCH_1STOP,
    FS_LOAD_MIX_KINDS
};
extern const char *const fs_load_mix_names[FS_LOAD_MIX_KINDS];

typedef struct fs_load_mix_entry {
    double weight;
    unsigned kind; /* FS_LOAD_MIX_* */
    int miss;      /* asked on purpose for something with no answer */
    char *path;
} fs_load_mix_entry_t;

typedef struct fs_load_mix {
    fs_load_mix_entry_t *e;
    size_t count, cap;
    double *cum; /* cumulative weights, for sampling */
    uint64_t seed;
    char source[512]; /* how it was made: "discovered from URL ..." or the file it was read from */
} fs_load_mix_t;

typedef struct fs_load_discover_opts {
    double share[FS_LOAD_MIX_KINDS]; /* relative share of each mix; 0 leaves it out */
    double miss_share;               /* share of queries with no answer, per mix */
    double zipf_s;                   /* Zipf exponent over routes ranked by legs */
    unsigned draws;                  /* queries drawn per mix (aggregated into weights) */
    unsigned max_routes;             /* routes whose calendar is asked (the most popular) */
    const char *origins;             /* comma list, or NULL: every 3-letter code is asked */
    const char *weights_from;        /* a query log (one URL per line): route popularity from it */
    uint64_t seed;
    unsigned connections, streams;
    int verbose;
} fs_load_discover_opts_t;

/** Builds the mix from what the target answers. */
int fs_load_mix_discover(fs_load_mix_t *m, const fs_load_target_t *t, const fs_load_discover_opts_t *o, char *err, size_t errcap);
int fs_load_mix_write(const fs_load_mix_t *m, const char *path, char *err, size_t errcap);
int fs_load_mix_read(fs_load_mix_t *m, const char *path, char *err, size_t errcap);
/** Prepares sampling (after discover or read). */
int fs_load_mix_ready(fs_load_mix_t *m, char *err, size_t errcap);
/** The next entry, drawn by weight from the state *rng (seed it with the mix's seed). */
const fs_load_mix_entry_t *fs_load_mix_next(const fs_load_mix_t *m, uint64_t *rng);
void fs_load_mix_free(fs_load_mix_t *m);

/** splitmix64: the tool's one random generator (seeded, so a run can be replayed). */
static inline uint64_t fs_load_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static inline double fs_load_rand01(uint64_t *s)
{
    return (double)(fs_load_rand(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* --------------------------------------------------------------------- run */

/* Status classes, counted apart. */
enum {
    FS_LOAD_C_2XX,
    FS_LOAD_C_304,
    FS_LOAD_C_429,
    FS_LOAD_C_503,
    FS_LOAD_C_OTHER,
    FS_LOAD_C_CONN,
    FS_LOAD_C_TIMEOUT,
    FS_LOAD_C_KINDS
};
extern const char *const fs_load_class_names[FS_LOAD_C_KINDS];

typedef struct fs_load_counts {
    uint64_t sent, done;
    uint64_t c[FS_LOAD_C_KINDS];
    uint64_t bad_shape;                  /* 2xx whose body is not JSON or lacks the endpoint's top-level key */
    uint64_t by_kind[FS_LOAD_MIX_KINDS]; /* answered (any status), per mix */
} fs_load_counts_t;

/** One phase of a run: a fixed or ramping rate, or the closed loop. */
typedef struct fs_load_phase {
    char label[64];
    int closed;
    double rate0, rate1; /* open loop: rate at the start and at the end (equal unless a ramp) */
    double duration_s;
    double start_s;  /* from the start of the run */
    double actual_s; /* how long it sent (shorter when stopped) */
    fs_load_counts_t n;
    fs_hist_t ok;        /* 2xx and 304, from the scheduled time (open) or the send (closed) */
    fs_hist_t all;       /* every answer with a status */
    int passed;          /* knee search: met the criterion */
    int warmup;          /* --warmup: counted, but its latencies stay out of the totals and the knee */
    char *metrics_after; /* knee steps: the target's /metrics once the step's answers were in (malloc'd), or NULL */
} fs_load_phase_t;

typedef struct fs_load_second {
    fs_load_counts_t n; /* by completion time (sent: by send time) */
    fs_hist_t *ok;      /* allocated when the second has an answer */
    double target_rate;
} fs_load_second_t;

typedef struct fs_load_knee {
    int enabled;
    char text[64]; /* as given: p99<50ms */
    double pct;    /* 99 */
    uint64_t limit_us;
    double max_error_share; /* a step with more non-2xx/304 than this fails too */
    double found_rate;      /* the highest rate that passed; 0 when none did */
    double failed_rate;     /* the lowest rate that failed; 0 when none did (the knee is above found_rate) */
} fs_load_knee_t;

typedef struct fs_load_run {
    fs_load_target_t target;
    fs_load_engine_opts_t eopts;
    fs_load_mix_t *mix;
    uint64_t rng;
    double rate;                 /* --rate */
    double ramp0, ramp1, ramp_s; /* --ramp */
    int closed;                  /* --connections/--streams without --rate */
    double duration_s, drain_s, warmup_s;
    fs_load_knee_t knee;
    double knee_start, knee_max;
    unsigned knee_steps;
    int progress; /* print a line per second (stderr is a terminal, or --progress) */
    int interrupted;
    const char *protocol;

    fs_load_phase_t *phases;
    unsigned phase_count, phase_cap;
    fs_load_second_t *secs;
    unsigned sec_count, sec_cap;
    fs_load_counts_t total;
    fs_hist_t total_ok;
    fs_hist_t kind_ok[FS_LOAD_MIX_KINDS]; /* the same, per mix: a calendar is not a search */
    fs_load_counts_t kind_n[FS_LOAD_MIX_KINDS];
    fs_load_engine_stats_t estats;
    int64_t start_ns;
    double wall_s;
    char first_other[200]; /* the first unexpected answer, for the report */
    char first_bad_shape[200];

    /* --check-sample N: a uniform sample (reservoir) of 2xx answers received under load, each
     * asked again alone after the run and compared (took_us aside). */
    unsigned sample_want;
    uint64_t sample_seen, sample_rng;
    struct fs_load_sample {
        const char *path;
        char *body; /* under load */
        size_t len;
        int alone_status;
        size_t alone_len;
        int same;
    } * samples;
    unsigned sample_count, sample_same;
} fs_load_run_t;

/** Asks each sampled query alone and compares the answers (call after the run). */
void fs_load_check_samples(fs_load_run_t *r);
/** 1 when two answers are byte for byte equal but for the digits of "took_us":N. */
int fs_load_same_answer(const char *a, size_t alen, const char *b, size_t blen);

/** Runs the configured shape against the target; sets run->interrupted on SIGINT/SIGTERM. */
int fs_load_run(fs_load_run_t *r, char *err, size_t errcap);
/** Parses 'p99<50ms' (p50, p90, p99, p999; us, ms, s). */
int fs_load_knee_parse(fs_load_knee_t *k, const char *text, char *err, size_t errcap);
/** Set by the signal handler: stop sending, drain, report. */
extern volatile int fs_load_stop;

/* ------------------------------------------------------------------ report */

typedef struct fs_load_report {
    const char *out_prefix; /* writes PREFIX.json, PREFIX.md, PREFIX.png */
    const char *mix_path;   /* where the mix was saved or read */
    char *metrics_before, *metrics_after;
    const char *argv_text;
} fs_load_report_t;

/** /metrics as text (malloc'd), or NULL when the target does not serve it. */
char *fs_load_metrics_scrape(const fs_load_target_t *t);
int fs_load_report_write(const fs_load_run_t *r, const fs_load_report_t *rep, char *err, size_t errcap);

int64_t fs_load_now_ns(void);

#endif
