/*
 * bench/gen/main.c: flightsearch-gen's command line, the run, the progress bar and the summary.
 * Exit status: 0 done, 1 a run-time failure (I/O, memory), 2 a bad flag.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench/gen/gen.h"

/* clang-format off */
static const char usage[] =
    "usage: flightsearch-gen --out DIR [--size demo|small|medium|large] [--seed N] [--csv FILE]\n"
    "                        [--days D] [--start YYYY-MM-DD] [--openflights DIR|none] [--quiet]\n"
    "                        [--big-source-share S]\n"
    "\n"
    "Writes deterministic award-availability snapshots, one per source, as DIR/<source>.msgpack.\n"
    "The same flags always produce the same bytes.\n"
    "\n"
    "  --out DIR          directory for the snapshots (created if missing). Required.\n"
    "  --size SIZE        demo:   3 sources, a few hundred routes (built-in airports), 60 days\n"
    "                     small:  4 sources, ~100k legs over 330 days\n"
    "                     medium: 8 sources, ~10M legs over 330 days\n"
    "                     large:  8 sources, ~40M legs over 330 days\n"
    "                     (leg counts scale with --days). Default: demo.\n"
    "  --seed N           seed of every random choice, 0..2^64-1. Default: 1.\n"
    "  --start DATE       first local departure date, YYYY-MM-DD. Default: 2026-12-01.\n"
    "  --days D           number of departure dates, 1..730. Default: 60 for demo, 330 otherwise.\n"
    "  --csv FILE         also write every leg as CSV, one row per leg and cabin, with a header, for\n"
    "                     PostgreSQL COPY ... WITH (FORMAT csv, HEADER).\n"
    "  --openflights DIR  read real airports and direct routes from DIR/airports.dat, routes.dat and\n"
    "                     airlines.dat (OpenFlights.org, ODbL). Without it, small/medium/large use\n"
    "                     ../shared/data/openflights or /work/shared/data/openflights when present,\n"
    "                     else a built-in table of ~200 airports and a gravity model. 'none' forces\n"
    "                     the built-in table. demo always uses the built-in table.\n"
    "  --big-source-share S  the first source takes whole routes from the others until it holds at\n"
    "                     least this share of the legs, 0 < S < 1 (the bench's deltas section). Default:\n"
    "                     off.\n"
    "  --quiet            no progress bar and no informational lines (the summary is still printed).\n"
    "  --help             this text.\n"
    "\n"
    "Exit status: 0 done, 1 run-time failure, 2 bad flag.\n";
/* clang-format on */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------- progress */

void gen_progress_update(gen_progress_t *p)
{
    double t;
    char bar[41];
    unsigned fill, width = 40;

    if (!p->enabled || p->total == 0)
        return;
    t = now_seconds();
    if (t - p->last < 0.1 && p->done < p->total)
        return;
    p->last = t;
    fill = (unsigned)(p->done >= p->total ? width : p->done * width / p->total);
    memset(bar, '#', fill);
    memset(bar + fill, '.', width - fill);
    bar[width] = '\0';
    fprintf(stderr, "\r[%s] %3u%% %" PRIu64 "/%" PRIu64 " legs", bar,
            (unsigned)(p->done >= p->total ? 100 : p->done * 100 / p->total), p->done, p->total);
    fflush(stderr);
}

void gen_progress_finish(gen_progress_t *p)
{
    if (!p->enabled)
        return;
    p->last = 0;
    gen_progress_update(p);
    fputc('\n', stderr);
}

/* ------------------------------------------------------------------- flags */

static _Noreturn void bad_flag(const char *flag, const char *value, const char *why)
{
    fprintf(stderr, "flightsearch-gen: %s: invalid value '%s': %s\n(see flightsearch-gen --help)\n", flag,
            value != NULL ? value : "", why);
    exit(2);
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

/* "YYYY-MM-DD", a real calendar date, years 1970..2148 (a leg's day is 16 bits from 1970). */
static int parse_date(const char *s, int32_t *days)
{
    static const unsigned mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned y, m, d;

    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return -1;
    y = (unsigned)((s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0'));
    m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
    d = (unsigned)((s[8] - '0') * 10 + (s[9] - '0'));
    if (y < 1970 || y > 2148 || m < 1 || m > 12 || d < 1)
        return -1;
    unsigned leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[m - 1] + (m == 2 ? leap : 0))
        return -1;
    *days = fs_days_from_civil((int32_t)y, m, d);
    return 0;
}

/* mkdir -p */
static int make_dirs(const char *path)
{
    char buf[4096];
    size_t n = strlen(path);

    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return -1;
        buf[i] = c;
    }
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

static int file_exists(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return access(path, R_OK) == 0;
}

int main(int argc, char **argv)
{
    gen_config_t cfg = {.size = GEN_DEMO, .seed = 1, .days = -1};
    const char *of_flag = NULL;
    int32_t last;
    int start_given = 0;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *val = NULL, *eq;
        char name[32];

        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(arg, "--quiet") == 0 || strcmp(arg, "-q") == 0) {
            cfg.quiet = 1;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0 || strlen(arg) >= sizeof(name)) {
            fprintf(stderr, "flightsearch-gen: unknown argument '%s'\n(see flightsearch-gen --help)\n", arg);
            return 2;
        }
        /* --flag value and --flag=value */
        if ((eq = strchr(arg, '=')) != NULL) {
            memcpy(name, arg, (size_t)(eq - arg));
            name[eq - arg] = '\0';
            val = eq + 1;
        } else {
            strcpy(name, arg); /* NOLINT(clang-analyzer-security.insecureAPI.strcpy): length checked above */
            if (i + 1 < argc)
                val = argv[++i];
        }
        if (strcmp(name, "--size") != 0 && strcmp(name, "--seed") != 0 && strcmp(name, "--out") != 0 &&
            strcmp(name, "--csv") != 0 && strcmp(name, "--days") != 0 && strcmp(name, "--start") != 0 &&
            strcmp(name, "--openflights") != 0 && strcmp(name, "--big-source-share") != 0) {
            fprintf(stderr, "flightsearch-gen: unknown flag '%s'\n(see flightsearch-gen --help)\n", name);
            return 2;
        }
        if (val == NULL)
            bad_flag(name, NULL, "a value is required");
        if (strcmp(name, "--size") == 0) {
            if (strcmp(val, "demo") == 0)
                cfg.size = GEN_DEMO;
            else if (strcmp(val, "small") == 0)
                cfg.size = GEN_SMALL;
            else if (strcmp(val, "medium") == 0)
                cfg.size = GEN_MEDIUM;
            else if (strcmp(val, "large") == 0)
                cfg.size = GEN_LARGE;
            else
                bad_flag(name, val, "expected demo, small, medium or large");
        } else if (strcmp(name, "--seed") == 0) {
            if (parse_u64(val, &cfg.seed) != 0)
                bad_flag(name, val, "expected a decimal integer 0..18446744073709551615");
        } else if (strcmp(name, "--out") == 0) {
            if (val[0] == '\0')
                bad_flag(name, val, "expected a directory");
            cfg.out_dir = val;
        } else if (strcmp(name, "--csv") == 0) {
            if (val[0] == '\0')
                bad_flag(name, val, "expected a file name");
            cfg.csv_path = val;
        } else if (strcmp(name, "--days") == 0) {
            uint64_t d;
            if (parse_u64(val, &d) != 0 || d < 1 || d > 730)
                bad_flag(name, val, "expected an integer 1..730");
            cfg.days = (int32_t)d;
        } else if (strcmp(name, "--start") == 0) {
            if (parse_date(val, &cfg.start_day) != 0)
                bad_flag(name, val, "expected a calendar date YYYY-MM-DD, years 1970..2148");
            start_given = 1;
        } else if (strcmp(name, "--big-source-share") == 0) {
            char *end = NULL;
            errno = 0;
            cfg.big_source_share = strtod(val, &end);
            if (errno != 0 || end == val || *end != '\0' || !(cfg.big_source_share > 0.0 && cfg.big_source_share < 1.0))
                bad_flag(name, val, "expected a share between 0 and 1, e.g. 0.3");
        } else {
            if (val[0] == '\0')
                bad_flag(name, val, "expected a directory or 'none'");
            of_flag = val;
        }
    }
    if (cfg.out_dir == NULL) {
        fprintf(stderr, "flightsearch-gen: --out DIR is required\n(see flightsearch-gen --help)\n");
        return 2;
    }
    if (!start_given)
        cfg.start_day = fs_days_from_civil(2026, 12, 1);
    if (cfg.days < 0)
        cfg.days = cfg.size == GEN_DEMO ? 60 : 330;
    last = cfg.start_day + cfg.days - 1;
    if (last >= fs_days_from_civil(2149, 1, 1) - 2)
        bad_flag("--days", "", "--start plus --days runs past 2148");

    /* Where airports and routes come from. */
    if (of_flag != NULL && strcmp(of_flag, "none") != 0) {
        if (!file_exists(of_flag, "airports.dat") || !file_exists(of_flag, "routes.dat") || !file_exists(of_flag, "airlines.dat"))
            bad_flag("--openflights", of_flag, "airports.dat, routes.dat and airlines.dat must be readable there");
        if (cfg.size != GEN_DEMO)
            cfg.openflights_dir = of_flag;
        else if (!cfg.quiet)
            fprintf(stderr, "flightsearch-gen: --size demo uses the built-in airport table; --openflights ignored\n");
    } else if (of_flag == NULL && cfg.size != GEN_DEMO) {
        static const char *const defaults[] = {"../shared/data/openflights", "/work/shared/data/openflights"};
        for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]) && cfg.openflights_dir == NULL; i++)
            if (file_exists(defaults[i], "airports.dat") && file_exists(defaults[i], "routes.dat") &&
                file_exists(defaults[i], "airlines.dat"))
                cfg.openflights_dir = defaults[i];
    }

    double t0 = now_seconds();
    gen_world_t world;
    char err[512];
    int r;

    if (cfg.openflights_dir != NULL) {
        r = gen_world_openflights(&world, cfg.openflights_dir, err, sizeof(err));
        if (r != 0) {
            fprintf(stderr, "flightsearch-gen: --openflights: %s\n", err);
            return of_flag != NULL ? 2 : 1;
        }
    } else if (gen_world_builtin(&world) != 0) {
        fprintf(stderr, "flightsearch-gen: out of memory\n");
        return 1;
    }
    if (gen_zones_prepare(&world, cfg.start_day, last) != 0) {
        fprintf(stderr, "flightsearch-gen: out of memory\n");
        return 1;
    }

    gen_plan_t plan;
    if (gen_plan_build(&cfg, &world, &plan) != 0) {
        fprintf(stderr, "flightsearch-gen: out of memory\n");
        return 1;
    }
    if (!cfg.quiet) {
        char start[25];
        fs_localtime_t lt = {cfg.start_day, 0, 0};
        fs_datetime_format(lt, start);
        if (world.openflights)
            fprintf(stderr, "flightsearch-gen: airports and routes from OpenFlights.org (ODbL) in %s: %zu airports, %zu routes\n",
                    cfg.openflights_dir, world.airport_count, world.route_count);
        else
            fprintf(stderr, "flightsearch-gen: built-in table of %zu airports, gravity model\n", world.airport_count);
        fprintf(stderr,
                "flightsearch-gen: seed %" PRIu64 ", %d days from %.10s, %u sources, %" PRIu64 " legs planned (target %" PRIu64
                ")%s\n",
                cfg.seed, cfg.days, start, plan.source_count, plan.total_legs, plan.target_legs,
                plan.boost ? ", frequencies raised to reach it" : "");
    }

    if (make_dirs(cfg.out_dir) != 0) {
        fprintf(stderr, "flightsearch-gen: --out: cannot create directory '%s': %s\n", cfg.out_dir, strerror(errno));
        return 2;
    }
    FILE *csv = NULL;
    if (cfg.csv_path != NULL && (csv = gen_csv_open(cfg.csv_path)) == NULL) {
        fprintf(stderr, "flightsearch-gen: --csv: cannot create '%s': %s\n", cfg.csv_path, strerror(errno));
        return 2;
    }

    gen_progress_t progress = {.total = plan.total_legs, .enabled = !cfg.quiet && isatty(2)};
    uint64_t bytes[GEN_MAX_SOURCES] = {0}, total_bytes = 0, total_routes = 0;
    for (unsigned s = 0; s < plan.source_count; s++) {
        if (gen_write_source(&cfg, &world, &plan, s, csv, &progress, &bytes[s]) != 0)
            return 1;
        total_bytes += bytes[s];
        total_routes += plan.source[s].routes;
    }
    gen_progress_finish(&progress);
    if (csv != NULL) {
        int failed = ferror(csv);
        if (fclose(csv) != 0 || failed) {
            fprintf(stderr, "flightsearch-gen: --csv: write to '%s' failed: %s\n", cfg.csv_path, strerror(errno));
            return 1;
        }
    }

    for (unsigned s = 0; s < plan.source_count; s++)
        fprintf(stderr, "flightsearch-gen: %-10s %10" PRIu64 " legs %7u routes %12" PRIu64 " bytes  %s/%s.msgpack\n",
                gen_sources[s].name, plan.source[s].legs, plan.source[s].routes, bytes[s], cfg.out_dir, gen_sources[s].name);
    fprintf(stderr, "flightsearch-gen: %-10s %10" PRIu64 " legs %7" PRIu64 " routes %12" PRIu64 " bytes  in %.1f s\n", "total",
            plan.total_legs, total_routes, total_bytes, now_seconds() - t0);

    gen_plan_free(&plan);
    gen_zones_free();
    gen_world_free(&world);
    return 0;
}
