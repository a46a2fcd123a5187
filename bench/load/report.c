/*
 * bench/load/report.c: what a capacity review reads (see load.h).
 *
 * PREFIX.json  every figure: settings, the mix, totals and phases (status classes, latency
 *              percentiles to p99.9), the per-second series, the knee, and the server's side:
 *              /metrics before and after the run, and their difference (requests by endpoint and
 *              status, shed, errors, the server's own p50/p99 from its duration histogram).
 * PREFIX.md    the same, summarised for a person.
 * PREFIX.png   throughput and latency percentiles over time, the knee marked; drawn by gnuplot
 *              when it is installed (gnuplot-nox), else skipped with a message.
 * The JSON is written with the server's own writer (src/enc.h).
 */
#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "bench/load/load.h"
#include "src/enc.h"

char *fs_load_metrics_scrape(const fs_load_target_t *t)
{
    char *body = NULL, err[256];
    int status = fs_load_fetch(t, "/metrics", &body, NULL, err, sizeof(err));
    if (status != 200) {
        free(body);
        return NULL;
    }
    return body;
}

/* -------------------------------------------------------------- /metrics */

/* The value of the sample named exactly key ("name{labels}"), or NAN. */
static double sample(const char *text, const char *key)
{
    size_t n = strlen(key);
    for (const char *p = text; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, key, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    }
    return NAN;
}

static double delta(const char *before, const char *after, const char *key)
{
    double a = sample(after, key), b = before ? sample(before, key) : NAN;
    if (isnan(a))
        return NAN;
    return isnan(b) ? a : a - b;
}

static const char *const endpoints[] = {"search", "calendar", "routes"};

typedef struct server_view {
    int have;
    double requests, by_status[3][6]; /* endpoint x {200, 304, 400, 429, 503, other} */
    double shed, errors, p50_s, p99_s, p999_s, count;
    double source_age_max_s; /* the stalest source, after: how far behind its feeds the target is */
} server_view_t;

static void server_view(const char *before, const char *after, server_view_t *v)
{
    memset(v, 0, sizeof(*v));
    if (after == NULL)
        return;
    v->have = 1;
    static const char *const st[] = {"200", "304", "400", "429", "503"};
    for (int e = 0; e < 3; e++) {
        /* every status line of the endpoint: the named ones apart, the rest summed */
        char prefix[128];
        int pl = snprintf(prefix, sizeof(prefix), "flightsearch_requests_total{endpoint=\"%s\",status=\"", endpoints[e]);
        for (const char *p = after; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
            if (strncmp(p, prefix, (size_t)pl) != 0)
                continue;
            char key[160];
            size_t kl = strcspn(p, " ");
            if (kl >= sizeof(key))
                continue;
            memcpy(key, p, kl);
            key[kl] = '\0';
            double d = delta(before, after, key);
            if (isnan(d))
                continue;
            int slot = 5;
            for (int s = 0; s < 5; s++)
                if (strncmp(p + pl, st[s], 3) == 0 && p[pl + 3] == '"')
                    slot = s;
            v->by_status[e][slot] += d;
            v->requests += d;
        }
        char key[160];
        snprintf(key, sizeof(key), "flightsearch_errors_total{endpoint=\"%s\"}", endpoints[e]);
        double d = delta(before, after, key);
        if (!isnan(d))
            v->errors += d;
    }
    double d = delta(before, after, "flightsearch_shed_total");
    v->shed = isnan(d) ? 0 : d;
    /* per-source series: shown to everyone, or only to a token of scope * (--private-sources) */
    v->source_age_max_s = NAN;
    static const char age[] = "flightsearch_source_age_seconds{";
    for (const char *p = after; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, age, sizeof(age) - 1) != 0)
            continue;
        const char *sp = strchr(p, ' ');
        double a = sp ? strtod(sp + 1, NULL) : NAN;
        if (!isnan(a) && (isnan(v->source_age_max_s) || a > v->source_age_max_s))
            v->source_age_max_s = a;
    }
    /* the duration histogram, summed over the three endpoints, bucket by bucket */
    double le[64] = {0}, cum[64] = {0};
    int nb = 0;
    for (int e = 0; e < 3; e++) {
        char prefix[128];
        int pl =
            snprintf(prefix, sizeof(prefix), "flightsearch_request_duration_seconds_bucket{endpoint=\"%s\",le=\"", endpoints[e]);
        int b = 0;
        for (const char *p = after; p != NULL && *p && b < 64; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
            if (strncmp(p, prefix, (size_t)pl) != 0)
                continue;
            char key[160];
            size_t kl = strcspn(p, " ");
            if (kl >= sizeof(key))
                continue;
            memcpy(key, p, kl);
            key[kl] = '\0';
            double x = delta(before, after, key);
            if (e == 0) {
                le[b] = strncmp(p + pl, "+Inf", 4) == 0 ? INFINITY : strtod(p + pl, NULL);
                cum[b] = 0;
                nb = b + 1;
            }
            if (b < nb && !isnan(x))
                cum[b] += x;
            b++;
        }
    }
    v->count = nb > 0 ? cum[nb - 1] : 0;
    double *outs[3] = {&v->p50_s, &v->p99_s, &v->p999_s};
    const double pcts[3] = {0.50, 0.99, 0.999};
    for (int k = 0; k < 3; k++) {
        *outs[k] = NAN;
        for (int b = 0; b < nb && v->count > 0; b++)
            if (cum[b] >= pcts[k] * v->count) {
                *outs[k] = le[b];
                break;
            }
    }
}

/* The server's view of phase i: /metrics from the end of the phase before (or the run's start)
 * to the end of this one; a run of one phase uses the run's two scrapes. */
static void phase_server_view(const fs_load_run_t *r, const fs_load_report_t *rep, unsigned i, server_view_t *v)
{
    const char *before = i == 0 ? rep->metrics_before : r->phases[i - 1].metrics_after;
    const char *after = r->phases[i].metrics_after;
    if (after == NULL && i + 1 == r->phase_count)
        after = rep->metrics_after;
    if (before == NULL || after == NULL) {
        memset(v, 0, sizeof(*v));
        return;
    }
    server_view(before, after, v);
}

/* ------------------------------------------------------------------ JSON */

static void enc_num(fs_enc_t *e, const char *key, double v)
{
    fs_enc_key(e, key, strlen(key));
    if (isnan(v) || isinf(v))
        fs_enc_null(e);
    else
        fs_enc_double(e, v);
}

static void enc_u(fs_enc_t *e, const char *key, uint64_t v)
{
    fs_enc_key(e, key, strlen(key));
    fs_enc_uint(e, v);
}

static void enc_s(fs_enc_t *e, const char *key, const char *v)
{
    fs_enc_key(e, key, strlen(key));
    if (v == NULL)
        fs_enc_null(e);
    else
        fs_enc_cstr(e, v);
}

static void enc_counts(fs_enc_t *e, const fs_load_counts_t *n)
{
    enc_u(e, "sent", n->sent);
    enc_u(e, "answered", n->done);
    fs_enc_key_lit(e, "status");
    fs_enc_map_begin(e);
    for (int c = 0; c < FS_LOAD_C_KINDS; c++)
        enc_u(e, fs_load_class_names[c], n->c[c]);
    fs_enc_map_end(e);
    enc_u(e, "bad_shape", n->bad_shape);
    fs_enc_key_lit(e, "by_mix");
    fs_enc_map_begin(e);
    for (int k = 0; k < FS_LOAD_MIX_KINDS; k++)
        if (n->by_kind[k])
            enc_u(e, fs_load_mix_names[k], n->by_kind[k]);
    fs_enc_map_end(e);
}

static void enc_latency(fs_enc_t *e, const char *key, const fs_hist_t *h)
{
    fs_enc_key(e, key, strlen(key));
    fs_enc_map_begin(e);
    enc_u(e, "count", h->count);
    enc_num(e, "p50_ms", (double)fs_hist_pct(h, 50) / 1000.0);
    enc_num(e, "p90_ms", (double)fs_hist_pct(h, 90) / 1000.0);
    enc_num(e, "p99_ms", (double)fs_hist_pct(h, 99) / 1000.0);
    enc_num(e, "p999_ms", (double)fs_hist_pct(h, 99.9) / 1000.0);
    enc_num(e, "max_ms", (double)h->max_us / 1000.0);
    enc_num(e, "mean_ms", h->count ? (double)h->sum_us / (double)h->count / 1000.0 : 0.0);
    fs_enc_map_end(e);
}

static int write_file(const char *path, const char *data, size_t len, char *err, size_t errcap)
{
    FILE *f = fopen(path, "w");
    if (f == NULL || fwrite(data, 1, len, f) != len || fflush(f) != 0) {
        if (f)
            fclose(f);
        snprintf(err, errcap, "%s: cannot write", path);
        return -1;
    }
    fclose(f);
    return 0;
}

static double good_per_s(const fs_load_phase_t *p)
{
    return p->actual_s > 0 ? (double)(p->n.c[FS_LOAD_C_2XX] + p->n.c[FS_LOAD_C_304]) / p->actual_s : 0;
}

static int write_json(const fs_load_run_t *r, const fs_load_report_t *rep, const server_view_t *sv, const char *path, char *err,
                      size_t errcap)
{
    fs_enc_t e;
    fs_enc_init(&e, FS_ENC_JSON, NULL, 1 << 20);
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    if (strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        when[0] = '\0';

    fs_enc_map_begin(&e);
    enc_s(&e, "tool", "flightsearch-load");
    enc_u(&e, "schema", 1);
    enc_s(&e, "written_at", when);
    enc_s(&e, "command", rep->argv_text);
    char target[600];
    snprintf(target, sizeof(target), "%s://%s%s", r->target.tls ? "https" : "http", r->target.authority, r->target.prefix);
    enc_s(&e, "target", target);
    enc_s(&e, "protocol", r->protocol);
    fs_enc_key_lit(&e, "interrupted");
    fs_enc_bool(&e, r->interrupted);
    enc_num(&e, "wall_s", r->wall_s);

    fs_enc_key_lit(&e, "settings");
    fs_enc_map_begin(&e);
    enc_s(&e, "shape", r->knee.enabled ? "find-knee" : r->ramp_s > 0 ? "ramp" : r->closed ? "closed" : "open");
    enc_u(&e, "connections", r->eopts.connections);
    enc_u(&e, "max_connections", r->eopts.max_connections);
    enc_u(&e, "streams", r->eopts.streams);
    enc_num(&e, "rate", r->rate);
    enc_num(&e, "ramp_from", r->ramp0);
    enc_num(&e, "ramp_to", r->ramp1);
    enc_num(&e, "ramp_s", r->ramp_s);
    enc_num(&e, "duration_s", r->duration_s);
    enc_num(&e, "drain_s", r->drain_s);
    fs_enc_key_lit(&e, "headers");
    fs_enc_array_begin(&e);
    for (unsigned i = 0; i < r->target.header_count; i++) {
        char h[512];
        /* a key is a secret: its presence is recorded, not its value */
        int secret = fs_load_header_is_secret(r->target.header_names[i], strlen(r->target.header_names[i]));
        snprintf(h, sizeof(h), "%s: %s", r->target.header_names[i], secret ? "(redacted)" : r->target.header_values[i]);
        fs_enc_cstr(&e, h);
    }
    fs_enc_array_end(&e);
    fs_enc_map_end(&e);

    fs_enc_key_lit(&e, "mix");
    fs_enc_map_begin(&e);
    enc_s(&e, "source", r->mix->source);
    enc_s(&e, "file", rep->mix_path);
    enc_u(&e, "seed", r->mix->seed);
    enc_u(&e, "distinct_queries", r->mix->count);
    double share[FS_LOAD_MIX_KINDS] = {0}, miss = 0, total = 0;
    for (size_t i = 0; i < r->mix->count; i++) {
        share[r->mix->e[i].kind] += r->mix->e[i].weight;
        total += r->mix->e[i].weight;
        if (r->mix->e[i].miss)
            miss += r->mix->e[i].weight;
    }
    fs_enc_key_lit(&e, "shares");
    fs_enc_map_begin(&e);
    for (int k = 0; k < FS_LOAD_MIX_KINDS; k++)
        if (share[k] > 0)
            enc_num(&e, fs_load_mix_names[k], share[k] / total);
    fs_enc_map_end(&e);
    enc_num(&e, "miss_share", miss / total);
    fs_enc_key_lit(&e, "queries");
    fs_enc_array_begin(&e);
    for (size_t i = 0; i < r->mix->count; i++) {
        fs_enc_array_begin(&e);
        fs_enc_double(&e, r->mix->e[i].weight);
        fs_enc_cstr(&e, fs_load_mix_names[r->mix->e[i].kind]);
        fs_enc_cstr(&e, r->mix->e[i].miss ? "miss" : "hit");
        fs_enc_cstr(&e, r->mix->e[i].path);
        fs_enc_array_end(&e);
    }
    fs_enc_array_end(&e);
    fs_enc_map_end(&e);

    fs_enc_key_lit(&e, "totals");
    fs_enc_map_begin(&e);
    enc_counts(&e, &r->total);
    enc_latency(&e, "latency", &r->total_ok);
    fs_enc_key_lit(&e, "per_mix");
    fs_enc_map_begin(&e);
    for (int k = 0; k < FS_LOAD_MIX_KINDS; k++) {
        if (r->kind_n[k].done == 0)
            continue;
        fs_enc_key(&e, fs_load_mix_names[k], strlen(fs_load_mix_names[k]));
        fs_enc_map_begin(&e);
        enc_counts(&e, &r->kind_n[k]);
        enc_latency(&e, "latency", &r->kind_ok[k]);
        fs_enc_map_end(&e);
    }
    fs_enc_map_end(&e);
    fs_enc_map_end(&e);

    fs_enc_key_lit(&e, "phases");
    fs_enc_array_begin(&e);
    for (unsigned i = 0; i < r->phase_count; i++) {
        const fs_load_phase_t *p = &r->phases[i];
        fs_enc_map_begin(&e);
        enc_s(&e, "label", p->label);
        enc_s(&e, "loop", p->closed ? "closed" : "open");
        enc_num(&e, "rate_start", p->rate0);
        enc_num(&e, "rate_end", p->rate1);
        enc_num(&e, "start_s", p->start_s);
        enc_num(&e, "duration_s", p->actual_s);
        enc_counts(&e, &p->n);
        enc_num(&e, "sent_per_s", p->actual_s > 0 ? (double)p->n.sent / p->actual_s : 0);
        enc_num(&e, "good_per_s", good_per_s(p));
        enc_latency(&e, "latency", &p->ok);
        enc_latency(&e, "latency_any_status", &p->all);
        if (r->knee.enabled && !p->warmup) {
            fs_enc_key_lit(&e, "passed");
            fs_enc_bool(&e, p->passed);
        }
        fs_enc_key_lit(&e, "warmup");
        fs_enc_bool(&e, p->warmup);
        server_view_t ps;
        phase_server_view(r, rep, i, &ps);
        fs_enc_key_lit(&e, "server");
        if (!ps.have) {
            fs_enc_null(&e);
        } else {
            fs_enc_map_begin(&e);
            enc_num(&e, "requests", ps.requests);
            enc_num(&e, "shed", ps.shed);
            enc_num(&e, "p50_ms_upper_bound", ps.p50_s * 1000);
            enc_num(&e, "p99_ms_upper_bound", ps.p99_s * 1000);
            fs_enc_map_end(&e);
        }
        fs_enc_map_end(&e);
    }
    fs_enc_array_end(&e);

    fs_enc_key_lit(&e, "knee");
    if (!r->knee.enabled) {
        fs_enc_null(&e);
    } else {
        fs_enc_map_begin(&e);
        enc_s(&e, "criterion", r->knee.text);
        enc_num(&e, "max_error_share", r->knee.max_error_share);
        enc_num(&e, "rate", r->knee.found_rate);
        enc_num(&e, "lowest_failed_rate", r->knee.failed_rate > 0 ? r->knee.failed_rate : NAN);
        fs_enc_map_end(&e);
    }

    fs_enc_key_lit(&e, "series");
    fs_enc_array_begin(&e);
    for (unsigned s = 0; s < r->sec_count; s++) {
        const fs_load_second_t *x = &r->secs[s];
        fs_enc_map_begin(&e);
        enc_u(&e, "t", s);
        enc_num(&e, "target_rate", x->target_rate);
        enc_u(&e, "sent", x->n.sent);
        enc_u(&e, "answered", x->n.done);
        for (int c = 0; c < FS_LOAD_C_KINDS; c++)
            enc_u(&e, fs_load_class_names[c], x->n.c[c]);
        enc_u(&e, "bad_shape", x->n.bad_shape);
        enc_num(&e, "p50_ms", x->ok ? (double)fs_hist_pct(x->ok, 50) / 1000.0 : NAN);
        enc_num(&e, "p99_ms", x->ok ? (double)fs_hist_pct(x->ok, 99) / 1000.0 : NAN);
        enc_num(&e, "p999_ms", x->ok ? (double)fs_hist_pct(x->ok, 99.9) / 1000.0 : NAN);
        fs_enc_map_end(&e);
    }
    fs_enc_array_end(&e);

    fs_enc_key_lit(&e, "connections");
    fs_enc_map_begin(&e);
    enc_u(&e, "opened", r->estats.connects);
    enc_u(&e, "connect_failures", r->estats.connect_failures);
    enc_u(&e, "failed_while_open", r->estats.conn_resets);
    fs_enc_map_end(&e);
    fs_enc_key_lit(&e, "answer_check");
    if (r->sample_count == 0) {
        fs_enc_null(&e);
    } else {
        fs_enc_map_begin(&e);
        enc_u(&e, "compared", r->sample_count);
        enc_u(&e, "identical", r->sample_same);
        fs_enc_key_lit(&e, "different");
        fs_enc_array_begin(&e);
        for (unsigned i = 0; i < r->sample_count; i++) {
            const struct fs_load_sample *s = &r->samples[i];
            if (s->same)
                continue;
            fs_enc_map_begin(&e);
            enc_s(&e, "path", s->path);
            enc_u(&e, "bytes_under_load", s->len);
            fs_enc_key_lit(&e, "status_alone");
            fs_enc_int(&e, s->alone_status);
            enc_u(&e, "bytes_alone", s->alone_len);
            fs_enc_map_end(&e);
        }
        fs_enc_array_end(&e);
        fs_enc_map_end(&e);
    }
    enc_s(&e, "first_other_status", r->first_other[0] ? r->first_other : NULL);
    enc_s(&e, "first_bad_shape", r->first_bad_shape[0] ? r->first_bad_shape : NULL);

    fs_enc_key_lit(&e, "server");
    fs_enc_map_begin(&e);
    fs_enc_key_lit(&e, "delta");
    if (!sv->have) {
        fs_enc_null(&e);
    } else {
        fs_enc_map_begin(&e);
        enc_num(&e, "requests", sv->requests);
        fs_enc_key_lit(&e, "by_endpoint");
        fs_enc_map_begin(&e);
        static const char *const st[] = {"200", "304", "400", "429", "503", "other"};
        for (int ep = 0; ep < 3; ep++) {
            fs_enc_key(&e, endpoints[ep], strlen(endpoints[ep]));
            fs_enc_map_begin(&e);
            for (int s = 0; s < 6; s++)
                enc_num(&e, st[s], sv->by_status[ep][s]);
            fs_enc_map_end(&e);
        }
        fs_enc_map_end(&e);
        enc_num(&e, "errors", sv->errors);
        enc_num(&e, "shed", sv->shed);
        enc_num(&e, "duration_count", sv->count);
        enc_num(&e, "p50_ms_upper_bound", sv->p50_s * 1000);
        enc_num(&e, "p99_ms_upper_bound", sv->p99_s * 1000);
        enc_num(&e, "p999_ms_upper_bound", sv->p999_s * 1000);
        enc_num(&e, "source_age_max_s", sv->source_age_max_s);
        fs_enc_map_end(&e);
    }
    enc_s(&e, "metrics_before", rep->metrics_before);
    enc_s(&e, "metrics_after", rep->metrics_after);
    fs_enc_map_end(&e);
    fs_enc_map_end(&e);

    h2o_iovec_t out = fs_enc_result(&e);
    int rc = out.len == 0 ? -1 : write_file(path, out.base, out.len, err, errcap);
    if (out.len == 0)
        snprintf(err, errcap, "%s: the JSON writer failed (out of memory)", path);
    fs_enc_dispose(&e);
    return rc;
}

/* -------------------------------------------------------------- Markdown */

static void md_latency_row(FILE *f, const char *label, const fs_hist_t *h, double per_s, const fs_load_counts_t *n)
{
    fprintf(f, "| %s | %.1f | %.2f | %.2f | %.2f | %.2f | %llu | %llu | %llu | %llu | %llu | %llu |", label, per_s,
            (double)fs_hist_pct(h, 50) / 1000.0, (double)fs_hist_pct(h, 99) / 1000.0, (double)fs_hist_pct(h, 99.9) / 1000.0,
            (double)h->max_us / 1000.0, (unsigned long long)n->c[FS_LOAD_C_2XX], (unsigned long long)n->c[FS_LOAD_C_304],
            (unsigned long long)n->c[FS_LOAD_C_429], (unsigned long long)n->c[FS_LOAD_C_503],
            (unsigned long long)n->c[FS_LOAD_C_OTHER] + n->c[FS_LOAD_C_CONN] + n->c[FS_LOAD_C_TIMEOUT],
            (unsigned long long)n->bad_shape);
}

static int write_md(const fs_load_run_t *r, const fs_load_report_t *rep, const server_view_t *sv, const char *path, const char *png,
                    char *err, size_t errcap)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        snprintf(err, errcap, "%s: cannot write", path);
        return -1;
    }
    fprintf(f, "# flightsearch-load: %s://%s%s\n\n", r->target.tls ? "https" : "http", r->target.authority, r->target.prefix);
    fprintf(f, "`%s`\n\n", rep->argv_text);
    fprintf(f, "- protocol: %s; %u connection(s)", r->protocol, r->eopts.connections);
    if (strcmp(r->protocol, "h2") == 0)
        fprintf(f, " x %u streams", r->eopts.streams);
    fprintf(f, "\n- mix: %zu distinct queries, seed %llu, %s%s%s\n", r->mix->count, (unsigned long long)r->mix->seed,
            r->mix->source, rep->mix_path ? "; saved as " : "", rep->mix_path ? rep->mix_path : "");
    fprintf(f, "- %.1f s%s; %llu sent, %llu answered\n", r->wall_s, r->interrupted ? ", **interrupted (Ctrl-C)**" : "",
            (unsigned long long)r->total.sent, (unsigned long long)r->total.done);
    if (r->knee.enabled && r->knee.found_rate <= 0)
        fprintf(f, "- **knee** (%s, at most %.0f%% not 2xx/304): no step held; lower --knee-start\n", r->knee.text,
                r->knee.max_error_share * 100);
    else if (r->knee.enabled && r->knee.failed_rate <= 0)
        fprintf(f,
                "- **knee** (%s, at most %.0f%% not 2xx/304): above **%.0f requests/s**, the highest rate tried, which held; "
                "raise --knee-steps or --knee-start\n",
                r->knee.text, r->knee.max_error_share * 100, r->knee.found_rate);
    else if (r->knee.enabled)
        fprintf(f, "- **knee** (%s, at most %.0f%% not 2xx/304): **%.0f requests/s** held, %.0f did not\n", r->knee.text,
                r->knee.max_error_share * 100, r->knee.found_rate, r->knee.failed_rate);
    fprintf(f, "\nLatency from the scheduled send time (open loop) or the send (closed loop), 2xx and 304 answers, ms.\n\n");
    fprintf(f,
            "| phase | answered 2xx+304/s | p50 | p99 | p99.9 | max | 2xx | 304 | 429 | 503 | errors | bad body | server p99 |\n");
    fprintf(f, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for (unsigned i = 0; i < r->phase_count; i++) {
        const fs_load_phase_t *p = &r->phases[i];
        char label[96];
        server_view_t ps;
        phase_server_view(r, rep, i, &ps);
        snprintf(label, sizeof(label), "%s%s", p->label,
                 p->warmup         ? " (not in the totals' latency)"
                 : r->knee.enabled ? (p->passed ? " (passed)" : " (failed)")
                                   : "");
        md_latency_row(f, label, &p->ok, good_per_s(p), &p->n);
        if (ps.have && !isnan(ps.p99_s))
            fprintf(f, " <= %.3g |\n", ps.p99_s * 1000);
        else
            fprintf(f, " - |\n");
    }
    unsigned kinds = 0;
    for (int k = 0; k < FS_LOAD_MIX_KINDS; k++)
        kinds += r->kind_n[k].done > 0;
    if (kinds > 1) {
        fprintf(f, "\nBy mix, over the whole run:\n\n");
        fprintf(f, "| mix | answered 2xx+304/s | p50 | p99 | p99.9 | max | 2xx | 304 | 429 | 503 | errors | bad body |\n");
        fprintf(f, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
        for (int k = 0; k < FS_LOAD_MIX_KINDS; k++) {
            const fs_load_counts_t *n = &r->kind_n[k];
            double per_s = r->wall_s > 0 ? (double)(n->c[FS_LOAD_C_2XX] + n->c[FS_LOAD_C_304]) / r->wall_s : 0;
            if (n->done > 0) {
                md_latency_row(f, fs_load_mix_names[k], &r->kind_ok[k], per_s, n);
                fprintf(f, "\n");
            }
        }
    }
    fprintf(f, "\nErrors: other statuses, connection failures and requests unanswered when the drain ended. "
               "Bad body: a 2xx that is not JSON or lacks its endpoint's top-level key.\n");
    if (r->sample_count > 0)
        fprintf(f, "\nAnswers under load asked again alone after the run: %u of %u identical (took_us aside)%s\n", r->sample_same,
                r->sample_count, r->sample_same < r->sample_count ? "; the others are listed in the JSON" : "");
    if (r->first_other[0])
        fprintf(f, "\nFirst unexpected answer: `%s`\n", r->first_other);
    if (r->first_bad_shape[0])
        fprintf(f, "\nFirst bad body: `%s`\n", r->first_bad_shape);
    fprintf(f, "\n## Client and server\n\n");
    if (!sv->have) {
        fprintf(f, "The target's /metrics could not be read: no server-side figures.\n");
    } else {
        fprintf(f, "| | client | server (/metrics, after - before) |\n| --- | --- | --- |\n");
        fprintf(f, "| requests answered | %llu | %.0f |\n", (unsigned long long)r->total.done, sv->requests);
        fprintf(f, "| 503 | %llu | %.0f (shed by admission control: %.0f) |\n", (unsigned long long)r->total.c[FS_LOAD_C_503],
                sv->by_status[0][4] + sv->by_status[1][4] + sv->by_status[2][4], sv->shed);
        fprintf(f, "| p50 | %.2f ms | <= %.3g ms |\n", (double)fs_hist_pct(&r->total_ok, 50) / 1000.0, sv->p50_s * 1000);
        fprintf(f, "| p99 | %.2f ms | <= %.3g ms |\n", (double)fs_hist_pct(&r->total_ok, 99) / 1000.0, sv->p99_s * 1000);
        if (!isnan(sv->source_age_max_s))
            fprintf(f, "| stalest source (seconds since its feed last changed) | | %.0f |\n", sv->source_age_max_s);
        fprintf(f, "\nThe server's figures are bucket upper bounds of `flightsearch_request_duration_seconds` (routing to "
                   "response, all answers); the client's include the network, TLS and any queueing before the server. "
                   "The server counts every client of the deployment, not only this run.\n");
    }
    if (png)
        fprintf(f, "\n![throughput and latency over time](%s)\n", png);
    int bad = fflush(f) != 0 || ferror(f);
    fclose(f);
    if (bad) {
        snprintf(err, errcap, "%s: write failed", path);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------- PNG */

/* 1 when an executable named name is on PATH. */
static int on_path(const char *name)
{
    const char *path = getenv("PATH");
    char dir[4096], file[4200];
    while (path != NULL && *path) {
        size_t l = strcspn(path, ":");
        if (l > 0 && l < sizeof(dir)) {
            memcpy(dir, path, l);
            dir[l] = '\0';
            snprintf(file, sizeof(file), "%s/%s", dir, name);
            if (access(file, X_OK) == 0)
                return 1;
        }
        path += l + (path[l] == ':');
    }
    return 0;
}

/* Runs gnuplot on script (no shell in between); 0 when it exited 0. */
static int run_gnuplot(const char *script)
{
    extern char **environ;
    char *argv[] = {(char *)"gnuplot", (char *)script, NULL};
    pid_t pid;
    int status;
    if (posix_spawnp(&pid, "gnuplot", NULL, NULL, argv, environ) != 0)
        return -1;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* Returns 1 when the PNG was drawn, 0 when gnuplot is missing or failed (said on stderr). */
static int write_png(const fs_load_run_t *r, const char *prefix)
{
    if (r->total_ok.count == 0) {
        fprintf(stderr, "flightsearch-load: no 2xx or 304 answer: no latency to draw, no PNG\n");
        return 0;
    }
    if (!on_path("gnuplot")) {
        fprintf(stderr, "flightsearch-load: gnuplot is not installed (apt-get install gnuplot-nox): no PNG\n");
        return 0;
    }
    char tsv[4096], gp[4096], png[4096];
    snprintf(tsv, sizeof(tsv), "%s.series.tsv", prefix);
    snprintf(gp, sizeof(gp), "%s.gnuplot", prefix);
    snprintf(png, sizeof(png), "%s.png", prefix);
    FILE *f = fopen(tsv, "w");
    if (f == NULL)
        return 0;
    fprintf(f, "# t\ttarget_rate\tanswered\tgood\tp50_ms\tp99_ms\tp999_ms\n");
    for (unsigned s = 0; s < r->sec_count; s++) {
        const fs_load_second_t *x = &r->secs[s];
        if (x->ok)
            fprintf(f, "%u\t%.1f\t%llu\t%llu\t%.3f\t%.3f\t%.3f\n", s, x->target_rate, (unsigned long long)x->n.done,
                    (unsigned long long)x->n.c[FS_LOAD_C_2XX] + x->n.c[FS_LOAD_C_304], (double)fs_hist_pct(x->ok, 50) / 1000.0,
                    (double)fs_hist_pct(x->ok, 99) / 1000.0, (double)fs_hist_pct(x->ok, 99.9) / 1000.0);
        else
            fprintf(f, "%u\t%.1f\t%llu\t0\tNaN\tNaN\tNaN\n", s, x->target_rate, (unsigned long long)x->n.done);
    }
    fclose(f);
    char steps[4096];
    snprintf(steps, sizeof(steps), "%s.steps.tsv", prefix);
    if (r->knee.enabled) {
        f = fopen(steps, "w");
        if (f == NULL)
            return 0;
        fprintf(f, "# rate\tp50_ms\tp99_ms\tp999_ms\tpassed\n");
        for (unsigned i = 0; i < r->phase_count; i++) {
            const fs_load_phase_t *p = &r->phases[i];
            if (p->warmup)
                continue;
            fprintf(f, "%.1f\t%.3f\t%.3f\t%.3f\t%d\n", p->rate0, (double)fs_hist_pct(&p->ok, 50) / 1000.0,
                    (double)fs_hist_pct(&p->ok, 99) / 1000.0, (double)fs_hist_pct(&p->ok, 99.9) / 1000.0, p->passed);
        }
        fclose(f);
    }
    f = fopen(gp, "w");
    if (f == NULL)
        return 0;
    fprintf(f,
            "set terminal pngcairo size 1100,%d noenhanced\nset output '%s'\nset datafile missing 'NaN'\n"
            "set multiplot layout %d,1 title 'flightsearch-load: %s://%s'\nset grid\nset key bottom right\n"
            "set xlabel 'seconds'\nset ylabel 'requests/s'\n",
            r->knee.enabled ? 1200 : 800, png, r->knee.enabled ? 3 : 2, r->target.tls ? "https" : "http", r->target.authority);
    if (r->knee.enabled && r->knee.found_rate > 0)
        fprintf(f,
                "set arrow from graph 0, first %.1f to graph 1, first %.1f nohead dt 2 lc rgb 'red'\n"
                "set label 'knee %.0f/s' at graph 0.02, first %.1f offset 0,0.7 tc rgb 'red'\n",
                r->knee.found_rate, r->knee.found_rate, r->knee.found_rate, r->knee.found_rate);
    fprintf(f,
            "plot '%s' using 1:2 with steps lw 2 title 'target rate', '' using 1:3 with steps title 'answered/s', "
            "'' using 1:4 with steps title '2xx+304/s'\n",
            tsv);
    fprintf(f, "unset arrow\nunset label\nset key top right\nset ylabel 'latency, ms (log)'\nset logscale y\n");
    if (r->knee.enabled)
        fprintf(f, "set arrow from graph 0, first %.3f to graph 1, first %.3f nohead dt 2 lc rgb 'red'\n",
                (double)r->knee.limit_us / 1000, (double)r->knee.limit_us / 1000);
    fprintf(f,
            "plot '%s' using 1:5 with steps title 'p50', '' using 1:6 with steps title 'p99', '' using 1:7 with steps title "
            "'p99.9'\n",
            tsv);
    if (r->knee.enabled) {
        /* the knee itself: each step's percentiles against its rate, the limit, the rate found */
        fprintf(f, "set xlabel 'offered rate, requests/s (knee search steps)'\nset key bottom right\n"
                   "set offsets graph 0.05, graph 0.05, 0, 0\n");
        if (r->knee.found_rate > 0)
            fprintf(f,
                    "set arrow from first %.1f, graph 0 to first %.1f, graph 1 nohead dt 2 lc rgb 'red'\n"
                    "set label 'knee %.0f/s (%s)' at first %.1f, graph 0.93 offset 0.5,0 tc rgb 'red'\n",
                    r->knee.found_rate, r->knee.found_rate, r->knee.found_rate, r->knee.text, r->knee.found_rate);
        fprintf(f,
                "plot '%s' using 1:2 with points pt 7 title 'p50', '' using 1:3 with points pt 7 title 'p99', "
                "'' using 1:4 with points pt 7 title 'p99.9'\n",
                steps);
    }
    fprintf(f, "unset multiplot\n");
    fclose(f);
    if (run_gnuplot(gp) != 0) {
        fprintf(stderr, "flightsearch-load: gnuplot failed on %s: no PNG\n", gp);
        return 0;
    }
    return 1;
}

int fs_load_report_write(const fs_load_run_t *r, const fs_load_report_t *rep, char *err, size_t errcap)
{
    server_view_t sv;
    server_view(rep->metrics_before, rep->metrics_after, &sv);
    char json[4096], md[4096], png[4096];
    snprintf(json, sizeof(json), "%s.json", rep->out_prefix);
    snprintf(md, sizeof(md), "%s.md", rep->out_prefix);
    int drew = write_png(r, rep->out_prefix);
    const char *base = strrchr(rep->out_prefix, '/');
    snprintf(png, sizeof(png), "%s.png", base ? base + 1 : rep->out_prefix);
    if (write_json(r, rep, &sv, json, err, errcap) != 0 || write_md(r, rep, &sv, md, drew ? png : NULL, err, errcap) != 0)
        return -1;
    fprintf(stderr, "flightsearch-load: report: %s, %s%s%s%s\n", json, md, drew ? ", " : "", drew ? rep->out_prefix : "",
            drew ? ".png" : "");
    return 0;
}
