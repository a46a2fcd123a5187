/*
 * bench/load/main.c: the command line of flightsearch-load (see load.h and docs/performance.md,
 * "Load testing a deployment").
 */
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "bench/load/load.h"

static const char usage_text[] = "usage: flightsearch-load URL [options]\n"
                                 "\n"
                                 "Load for a flightsearch deployment: discovers a query mix from its public API (or replays\n"
                                 "one), sends it in an open or closed loop, and writes a report (JSON, Markdown, PNG).\n"
                                 "URL: http://HOST[:PORT][/PREFIX] or https://... (h2 by ALPN, or HTTP/1.1).\n"
                                 "\n"
                                 "Load shape (one of; default the closed loop):\n"
                                 "  --rate R               open loop: R requests/s on a fixed schedule; latency counts from\n"
                                 "                         the scheduled time, so a slow server is charged for its queue\n"
                                 "  --ramp A:B:Ns          open loop, rate rising linearly from A to B over N seconds\n"
                                 "  --find-knee 'p99<50ms' open-loop steps of --duration each: the rate doubles from\n"
                                 "                         --knee-start while steps hold (halves while none has), then\n"
                                 "                         bisects; reports the highest rate that held and the lowest that\n"
                                 "                         did not (percentile p50/p90/p95/p99/p999; unit us/ms/s)\n"
                                 "  (none)                 closed loop: --connections x --streams requests always in flight\n"
                                 "  --duration S           seconds of the run, or of each knee step (default 10)\n"
                                 "  --drain S              seconds to wait for answers after the last send (default 5)\n"
                                 "  --warmup S             first S seconds at the first rate (or the closed loop): counted,\n"
                                 "                         but left out of the totals' latency and of the knee (default 0)\n"
                                 "  --knee-start R, --knee-max R, --knee-steps N, --knee-errors F\n"
                                 "                         first rate (100), highest rate (1000000), most steps (10), largest\n"
                                 "                         share of answers other than 2xx/304 in a passing step (0.01)\n"
                                 "\n"
                                 "Connections:\n"
                                 "  --connections N        connections kept open (default 4)\n"
                                 "  --streams M            HTTP/2: requests in flight per connection (default 10; the open\n"
                                 "                         loop uses up to the server's limit, 100 for flightsearch)\n"
                                 "  --max-connections N    HTTP/1.1 open loop: more connections while requests wait (256)\n"
                                 "  --proto auto|h1|h2     http://: h1 by default, h2 = h2c with prior knowledge;\n"
                                 "                         https://: ALPN offers h2 and http/1.1 (auto), or only one\n"
                                 "  --insecure             https://: accept any certificate (a staging self-signed one)\n"
                                 "  --key KEY              send 'Authorization: Bearer KEY' with every request\n"
                                 "  --header 'K: V'        send this header too (repeatable: a gateway's key, a tenant)\n"
                                 "\n"
                                 "The mix:\n"
                                 "  --mix LIST             which queries, with shares: direct_1day, direct_7day, calendar,\n"
                                 "                         routes, search_1stop, or 'all'; e.g. direct_1day:70,calendar:30\n"
                                 "                         (default direct_1day)\n"
                                 "  --miss-share F         share of queries asked for something with no answer (0.05)\n"
                                 "  --zipf S               popularity: Zipf exponent over routes ranked by legs (1.0)\n"
                                 "  --weights-from FILE    popularity from a query log instead: one URL per line, routes\n"
                                 "                         weighted by how often their origin=&destination= appear\n"
                                 "  --origins A,B,...      ask /v1/routes for these origins only (default every 3-letter code)\n"
                                 "  --discover-routes N    ask /v1/calendar for the N most popular routes (500)\n"
                                 "  --draws N              queries drawn per mix before merging into weights (4000)\n"
                                 "  --mix-file FILE        replay a saved mix (no discovery); lines as written\n"
                                 "                         ('WEIGHT<TAB>MIX<TAB>hit|miss<TAB>PATH'), 'WEIGHT PATH' or 'PATH'\n"
                                 "  --save-mix FILE        where the discovered mix is written (default PREFIX.mix)\n"
                                 "  --discover-only        write the mix and stop\n"
                                 "  --seed N               seed of every random choice (default 1; a mix file's own seed\n"
                                 "                         unless given): the same file and seed send the same sequence\n"
                                 "\n"
                                 "Output:\n"
                                 "  --out PREFIX           PREFIX.json, PREFIX.md, PREFIX.png (gnuplot), PREFIX.mix\n"
                                 "                         (default flightsearch-load-DATE-TIME)\n"
                                 "  --progress, --quiet    a line per second on stderr (default: when stderr is a terminal)\n"
                                 "  --check-sample N       after the run, ask N answers sampled under load again, alone, and\n"
                                 "                         compare (took_us aside): load must not change an answer (default 0)\n"
                                 "  --help\n"
                                 "\n"
                                 "Ctrl-C stops sending, waits --drain for the answers in flight (a second Ctrl-C: no wait)\n"
                                 "and writes the report. Details: docs/performance.md, \"Load testing a deployment\".\n"
                                 "Exit status: 0 the run happened (whatever the server answered), 1 it could not, 2 bad usage.\n";

static void on_signal(int sig)
{
    (void)sig;
    fs_load_stop++;
}

static int usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, "flightsearch-load: %s%s%s\n(flightsearch-load --help for every option)\n", msg, arg ? ": " : "",
            arg ? arg : "");
    return 2;
}

static int parse_double(const char *v, double *out, double min)
{
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end != '\0' || !(d >= min))
        return -1;
    *out = d;
    return 0;
}

static int parse_uint(const char *v, unsigned *out, unsigned min)
{
    char *end;
    unsigned long u = strtoul(v, &end, 10);
    if (end == v || *end != '\0' || u < min || u > 10000000)
        return -1;
    *out = (unsigned)u;
    return 0;
}

static int parse_mix(const char *v, double share[FS_LOAD_MIX_KINDS])
{
    memset(share, 0, FS_LOAD_MIX_KINDS * sizeof(double));
    if (strcmp(v, "all") == 0) {
        for (int k = 0; k < FS_LOAD_MIX_KINDS; k++)
            share[k] = 1;
        return 0;
    }
    while (*v) {
        size_t l = strcspn(v, ",");
        char item[64];
        if (l == 0 || l >= sizeof(item))
            return -1;
        memcpy(item, v, l);
        item[l] = '\0';
        char *colon = strchr(item, ':');
        double w = 1;
        if (colon) {
            *colon = '\0';
            if (parse_double(colon + 1, &w, 0) != 0)
                return -1;
        }
        int found = 0;
        for (int k = 0; k < FS_LOAD_MIX_KINDS; k++)
            if (strcmp(item, fs_load_mix_names[k]) == 0 || (k == FS_LOAD_MIX_CALENDAR && strcmp(item, "calendar_30day") == 0)) {
                share[k] = w;
                found = 1;
            }
        if (!found)
            return -1;
        v += l + (v[l] == ',');
    }
    return 0;
}

static int add_header(fs_load_target_t *t, const char *name, size_t nlen, const char *value)
{
    if (t->header_count >= FS_LOAD_MAX_HEADERS || nlen == 0)
        return -1;
    char *n = strndup(name, nlen);
    if (n == NULL)
        return -1;
    for (char *p = n; *p; p++) {
        if (!isgraph((unsigned char)*p) || *p == ':') {
            free(n);
            return -1;
        }
        *p = (char)tolower((unsigned char)*p); /* HTTP/2 wants lower-case names; HTTP/1.1 does not mind */
    }
    t->header_names[t->header_count] = n;
    t->header_values[t->header_count++] = value;
    return 0;
}

int main(int argc, char **argv)
{
    static fs_load_run_t run; /* static: no leak on the early returns, and 19 KiB histograms off the stack */
    fs_load_run_t *r = &run;
    fs_load_mix_t mix = {0};
    fs_load_discover_opts_t dopt = {.miss_share = 0.05, .zipf_s = 1.0, .draws = 4000, .max_routes = 500, .seed = 1, .verbose = 1};
    const char *url = NULL, *mix_file = NULL, *save_mix = NULL, *out = NULL, *knee = NULL, *ramp = NULL;
    int seed_given = 0, discover_only = 0, progress = -1, proto_given = 0;
    unsigned streams = 0;
    char err[512] = "", key_header[1024];
    dopt.share[FS_LOAD_MIX_DIRECT_1DAY] = 1;
    r->duration_s = 10;
    r->drain_s = 5;
    r->eopts.connections = 4;
    r->eopts.max_connections = 256;
    r->knee_start = 100;
    r->knee_max = 1e6;
    r->knee_steps = 10;
    r->knee.max_error_share = 0.01;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_text, stdout);
            return 0;
        }
        static const char *const flags[] = {"--insecure", "--discover-only", "--progress", "--quiet", NULL};
        int is_flag = 0;
        for (int k = 0; flags[k]; k++)
            is_flag |= strcmp(a, flags[k]) == 0;
        if (a[0] != '-') {
            if (url != NULL)
                return usage_error("one URL only", a);
            url = a;
            continue;
        }
        if (is_flag) {
            if (strcmp(a, "--insecure") == 0)
                r->target.insecure = 1;
            else if (strcmp(a, "--discover-only") == 0)
                discover_only = 1;
            else
                progress = strcmp(a, "--progress") == 0;
            continue;
        }
        if (i + 1 >= argc)
            return usage_error("a value is missing after", a);
        const char *v = argv[++i];
        int bad = 0;
        if (strcmp(a, "--rate") == 0)
            bad = parse_double(v, &r->rate, 0.1);
        else if (strcmp(a, "--ramp") == 0)
            ramp = v;
        else if (strcmp(a, "--find-knee") == 0)
            knee = v;
        else if (strcmp(a, "--duration") == 0)
            bad = parse_double(v, &r->duration_s, 0.1);
        else if (strcmp(a, "--warmup") == 0)
            bad = parse_double(v, &r->warmup_s, 0);
        else if (strcmp(a, "--drain") == 0)
            bad = parse_double(v, &r->drain_s, 0);
        else if (strcmp(a, "--knee-start") == 0)
            bad = parse_double(v, &r->knee_start, 1);
        else if (strcmp(a, "--knee-max") == 0)
            bad = parse_double(v, &r->knee_max, 1);
        else if (strcmp(a, "--knee-steps") == 0)
            bad = parse_uint(v, &r->knee_steps, 1);
        else if (strcmp(a, "--knee-errors") == 0)
            bad = parse_double(v, &r->knee.max_error_share, 0);
        else if (strcmp(a, "--connections") == 0)
            bad = parse_uint(v, &r->eopts.connections, 1);
        else if (strcmp(a, "--streams") == 0)
            bad = parse_uint(v, &streams, 1);
        else if (strcmp(a, "--max-connections") == 0)
            bad = parse_uint(v, &r->eopts.max_connections, 1);
        else if (strcmp(a, "--proto") == 0) {
            proto_given = 1;
            if (strcmp(v, "h1") == 0)
                r->target.proto = FS_LOAD_PROTO_H1;
            else if (strcmp(v, "h2") == 0 || strcmp(v, "h2c") == 0)
                r->target.proto = FS_LOAD_PROTO_H2;
            else
                bad = strcmp(v, "auto") != 0;
        } else if (strcmp(a, "--key") == 0) {
            snprintf(key_header, sizeof(key_header), "Bearer %s", v);
            bad = add_header(&r->target, "authorization", 13, key_header);
        } else if (strcmp(a, "--header") == 0) {
            const char *colon = strchr(v, ':');
            bad = colon == NULL || add_header(&r->target, v, (size_t)(colon - v), colon + 1 + strspn(colon + 1, " ")) != 0;
        } else if (strcmp(a, "--mix") == 0)
            bad = parse_mix(v, dopt.share);
        else if (strcmp(a, "--miss-share") == 0)
            bad = parse_double(v, &dopt.miss_share, 0) || dopt.miss_share > 1;
        else if (strcmp(a, "--zipf") == 0)
            bad = parse_double(v, &dopt.zipf_s, 0);
        else if (strcmp(a, "--weights-from") == 0)
            dopt.weights_from = v;
        else if (strcmp(a, "--origins") == 0)
            dopt.origins = v;
        else if (strcmp(a, "--discover-routes") == 0)
            bad = parse_uint(v, &dopt.max_routes, 1);
        else if (strcmp(a, "--check-sample") == 0)
            bad = parse_uint(v, &r->sample_want, 0);
        else if (strcmp(a, "--draws") == 0)
            bad = parse_uint(v, &dopt.draws, 1);
        else if (strcmp(a, "--mix-file") == 0)
            mix_file = v;
        else if (strcmp(a, "--save-mix") == 0)
            save_mix = v;
        else if (strcmp(a, "--seed") == 0) {
            char *end;
            dopt.seed = strtoull(v, &end, 10);
            bad = end == v || *end != '\0';
            seed_given = 1;
        } else if (strcmp(a, "--out") == 0)
            out = v;
        else
            return usage_error("unknown option", a);
        if (bad) {
            char msg[512];
            snprintf(msg, sizeof(msg), "%s: '%s' is not a valid value", a, v);
            return usage_error(msg, NULL);
        }
    }
    if (url == NULL)
        return usage_error("the target URL is missing (e.g. http://127.0.0.1:8080)", NULL);
    if (fs_load_target_parse(&r->target, url, err, sizeof(err)) != 0)
        return usage_error(err, NULL);
    if (!r->target.tls && !proto_given)
        r->target.proto = FS_LOAD_PROTO_H1;
    if ((r->rate > 0) + (ramp != NULL) + (knee != NULL) > 1)
        return usage_error("--rate, --ramp and --find-knee are alternatives", NULL);
    if (ramp != NULL) {
        char *p1, *p2, *p3;
        r->ramp0 = strtod(ramp, &p1);
        r->ramp1 = *p1 == ':' ? strtod(p1 + 1, &p2) : -1;
        r->ramp_s = r->ramp1 >= 0 && *p2 == ':' ? strtod(p2 + 1, &p3) : -1;
        if (!(r->ramp0 >= 0) || !(r->ramp1 > 0) || !(r->ramp_s > 0) || (*p3 != '\0' && strcmp(p3, "s") != 0))
            return usage_error("--ramp: expected FROM:TO:SECONDSs such as 1000:20000:60s, got", ramp);
        r->duration_s = r->ramp_s;
    }
    if (knee != NULL && fs_load_knee_parse(&r->knee, knee, err, sizeof(err)) != 0)
        return usage_error(err, NULL);
    r->closed = r->rate <= 0 && ramp == NULL && knee == NULL;
    r->eopts.streams = streams ? streams : (r->closed ? 10 : 100);
    if (r->closed)
        r->eopts.max_connections = r->eopts.connections;
    r->progress = progress >= 0 ? progress : isatty(2);

    char default_out[64];
    if (out == NULL) {
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        if (strftime(default_out, sizeof(default_out), "flightsearch-load-%Y%m%d-%H%M%S", &tm) == 0)
            snprintf(default_out, sizeof(default_out), "flightsearch-load");
        out = default_out;
    }
    char argv_text[4096] = "flightsearch-load";
    for (int i = 1; i < argc; i++) {
        size_t l = strlen(argv_text);
        const char *colon = strchr(argv[i], ':');
        if (i > 1 && strcmp(argv[i - 1], "--key") == 0)
            snprintf(argv_text + l, sizeof(argv_text) - l, " (key)");
        else if (i > 1 && strcmp(argv[i - 1], "--header") == 0 && colon != NULL &&
                 fs_load_header_is_secret(argv[i], (size_t)(colon - argv[i])))
            snprintf(argv_text + l, sizeof(argv_text) - l, " '%.*s: (redacted)'", (int)(colon - argv[i]), argv[i]);
        else
            snprintf(argv_text + l, sizeof(argv_text) - l, " %s", argv[i]);
    }

    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* the mix */
    char mix_path[4096] = "";
    fs_load_report_t rep = {.out_prefix = out, .mix_path = mix_path, .argv_text = argv_text};
    int rc = 1;
    if (mix_file != NULL) {
        if (fs_load_mix_read(&mix, mix_file, err, sizeof(err)) != 0) {
            fprintf(stderr, "flightsearch-load: %s\n", err);
            goto done;
        }
        if (seed_given)
            mix.seed = dopt.seed;
        snprintf(mix_path, sizeof(mix_path), "%s", mix_file);
    } else {
        dopt.connections = r->eopts.connections;
        dopt.streams = r->target.proto == FS_LOAD_PROTO_H1 ? 1 : 50;
        if (fs_load_mix_discover(&mix, &r->target, &dopt, err, sizeof(err)) != 0) {
            fprintf(stderr, "flightsearch-load: %s\n", err);
            goto done;
        }
        char mixes[256] = "";
        for (int k = 0; k < FS_LOAD_MIX_KINDS; k++)
            if (dopt.share[k] > 0) {
                size_t l = strlen(mixes);
                snprintf(mixes + l, sizeof(mixes) - l, "%s%s:%g", l ? "," : "", fs_load_mix_names[k], dopt.share[k]);
            }
        snprintf(mix.source, sizeof(mix.source), "discovered from %s: mixes %s, miss share %g, %s", url, mixes, dopt.miss_share,
                 dopt.weights_from ? "weights from the query log" : "Zipf over routes by legs");
        if (dopt.weights_from == NULL) {
            size_t l = strlen(mix.source);
            snprintf(mix.source + l, sizeof(mix.source) - l, " (s = %g)", dopt.zipf_s);
        }
        if (save_mix != NULL)
            snprintf(mix_path, sizeof(mix_path), "%s", save_mix);
        else
            snprintf(mix_path, sizeof(mix_path), "%s.mix", out);
        if (fs_load_mix_write(&mix, mix_path, err, sizeof(err)) != 0) {
            fprintf(stderr, "flightsearch-load: %s\n", err);
            goto done;
        }
        fprintf(stderr, "flightsearch-load: mix: %zu distinct queries written to %s (replay: --mix-file %s)\n", mix.count, mix_path,
                mix_path);
        if (discover_only) {
            rc = 0;
            goto done;
        }
    }
    if (fs_load_mix_ready(&mix, err, sizeof(err)) != 0) {
        fprintf(stderr, "flightsearch-load: %s\n", err);
        goto done;
    }
    r->mix = &mix;

    /* the run, between two scrapes of the target's /metrics */
    if (!fs_load_stop)
        rep.metrics_before = fs_load_metrics_scrape(&r->target);
    if (fs_load_run(r, err, sizeof(err)) != 0) {
        fprintf(stderr, "flightsearch-load: %s\n", err);
        goto done;
    }
    rep.metrics_after = fs_load_metrics_scrape(&r->target);
    fs_load_check_samples(r); /* after the scrape: these requests are not the run's */
    if (fs_load_report_write(r, &rep, err, sizeof(err)) != 0) {
        fprintf(stderr, "flightsearch-load: %s\n", err);
        goto done;
    }

    const fs_load_counts_t *n = &r->total;
    printf("%s over %s: %llu sent, %llu answered in %.1f s: 2xx %llu, 304 %llu, 429 %llu, 503 %llu, other %llu, "
           "connection errors %llu, timeouts %llu, bad bodies %llu\n",
           r->target.authority, r->protocol, (unsigned long long)n->sent, (unsigned long long)n->done, r->wall_s,
           (unsigned long long)n->c[FS_LOAD_C_2XX], (unsigned long long)n->c[FS_LOAD_C_304],
           (unsigned long long)n->c[FS_LOAD_C_429], (unsigned long long)n->c[FS_LOAD_C_503],
           (unsigned long long)n->c[FS_LOAD_C_OTHER], (unsigned long long)n->c[FS_LOAD_C_CONN],
           (unsigned long long)n->c[FS_LOAD_C_TIMEOUT], (unsigned long long)n->bad_shape);
    printf("latency (2xx/304): p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms\n",
           (double)fs_hist_pct(&r->total_ok, 50) / 1000, (double)fs_hist_pct(&r->total_ok, 99) / 1000,
           (double)fs_hist_pct(&r->total_ok, 99.9) / 1000, (double)r->total_ok.max_us / 1000);
    if (r->knee.enabled && r->knee.found_rate <= 0)
        printf("knee (%s): no step held, down to %.0f requests/s\n", r->knee.text, r->knee.failed_rate);
    else if (r->knee.enabled && r->knee.failed_rate <= 0)
        printf("knee (%s): above %.0f requests/s (no step failed)\n", r->knee.text, r->knee.found_rate);
    else if (r->knee.enabled)
        printf("knee (%s): %.0f requests/s held, %.0f did not\n", r->knee.text, r->knee.found_rate, r->knee.failed_rate);
    if (r->sample_count > 0)
        printf("answers under load compared with the same query asked alone: %u of %u identical\n", r->sample_same,
               r->sample_count);
    rc = 0;
done:
    free(rep.metrics_before);
    free(rep.metrics_after);
    fs_load_mix_free(&mix);
    for (unsigned s = 0; s < r->sec_count; s++)
        free(r->secs[s].ok);
    free(r->secs);
    for (unsigned i = 0; i < r->phase_count; i++)
        free(r->phases[i].metrics_after);
    free(r->phases);
    for (unsigned i = 0; i < r->target.header_count; i++)
        free((void *)r->target.header_names[i]);
    for (unsigned i = 0; i < r->sample_count; i++)
        free(r->samples[i].body);
    free(r->samples);
    return rc;
}
