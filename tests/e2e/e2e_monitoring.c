/*
 * tests/e2e/e2e_monitoring.c: deploy/prometheus/ and deploy/grafana/ against the real binary
 * (argv[1]) serving one source restored from a seed snapshot:
 *
 *   metrics     GET /metrics passes `promtool check metrics` (Prometheus' own linter)
 *   rules       `promtool check rules deploy/prometheus/alerts.yml`, and `promtool test rules
 *               alerts_test.yml` (hand-worked series that must fire and must not)
 *   names       every flightsearch_* metric named in the rules, their tests and the dashboard is a
 *               series that /metrics really exports (a renamed metric cannot leave an alert that
 *               never fires)
 *   dashboard   deploy/grafana/flightsearch.json is valid JSON, and every panel has queries, each
 *               with a non-empty expr
 */
#include <stdlib.h>
#include <string.h>

#include "tests/e2e/lib_server.h"
#include "tests/test.h"

static char root[512]; /* the source tree: this file is ROOT/tests/e2e/e2e_monitoring.c */

static int run_sh(const char *cmd, char **out)
{
    char *argv[] = {"sh", "-c", (char *)cmd, NULL};
    return e2e_run(argv, out, 60000);
}

/* The sample names of a Prometheus text exposition, as one "\nname\n" string for strstr. */
static char *sample_names(const char *text)
{
    size_t cap = strlen(text) + 2, n = 1;
    char *names = malloc(cap + 1);
    names[0] = '\n';
    for (const char *line = text; *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : line + strlen(line)) {
        if (*line == '#' || *line == '\n')
            continue;
        size_t len = strcspn(line, "{ \n");
        memcpy(names + n, line, len);
        n += len;
        names[n++] = '\n';
    }
    names[n] = '\0';
    return names;
}

/* Checks that every flightsearch_* token of text names a series in names. Returns how many. */
static unsigned check_names(const char *what, const char *text, const char *names)
{
    unsigned count = 0;
    for (const char *p = strstr(text, "flightsearch_"); p != NULL; p = strstr(p + 1, "flightsearch_")) {
        if (p > text && (p[-1] == '_' || (p[-1] >= 'a' && p[-1] <= 'z')))
            continue;
        char name[128];
        size_t len = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_");
        if (len >= sizeof(name) - 2)
            len = sizeof(name) - 3;
        name[0] = '\n';
        memcpy(name + 1, p, len);
        name[len + 1] = '\n';
        name[len + 2] = '\0';
        count++;
        int found = strstr(names, name) != NULL;
        CHECK(found);
        if (!found)
            fprintf(stderr, "  %s names %.*s, which /metrics does not export\n", what, (int)len, p);
    }
    return count;
}

static char *read_in_root(const char *rel)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    size_t len;
    char *text = e2e_read_file(path, &len);
    if (text == NULL)
        fprintf(stderr, "  cannot read %s\n", path);
    return text;
}

static void check_dashboard(const char *text)
{
    msgpack_zone zone;
    msgpack_zone_init(&zone, 4096);
    msgpack_object doc;
    size_t err_at = 0;
    int ok = e2e_json_parse(text, strlen(text), &zone, &doc, &err_at) == 0;
    CHECK(ok);
    if (!ok) {
        fprintf(stderr, "  deploy/grafana/flightsearch.json: not JSON at byte %zu\n", err_at);
        msgpack_zone_destroy(&zone);
        return;
    }
    const msgpack_object_array *panels = e2e_mp_array(&doc, "panels");
    CHECK(panels != NULL && panels->size >= 8);
    unsigned exprs = 0;
    for (uint32_t i = 0; panels != NULL && i < panels->size; i++) {
        const msgpack_object_array *targets = e2e_mp_array(&panels->ptr[i], "targets");
        CHECK(targets != NULL && targets->size > 0);
        for (uint32_t k = 0; targets != NULL && k < targets->size; k++) {
            char expr[1024];
            const char *e = e2e_mp_str(&targets->ptr[k], "expr", expr, sizeof(expr));
            CHECK(e != NULL && strstr(e, "flightsearch_") != NULL);
            exprs += e != NULL;
        }
    }
    printf("dashboard: %u panels, %u queries\n", panels != NULL ? panels->size : 0, exprs);
    msgpack_zone_destroy(&zone);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s path/to/flightsearch\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    snprintf(root, sizeof(root), "%s", __FILE__);
    char *cut = strstr(root, "/tests/e2e/e2e_monitoring.c");
    if (cut == NULL) {
        fprintf(stderr, "cannot find the source tree from %s\n", __FILE__);
        return 1;
    }
    *cut = '\0';
    e2e_http_init();
    char dir[256], seed[300], metrics_path[300];
    if (e2e_tmpdir(dir, sizeof(dir)) != 0)
        return 1;
    /* one source, so the per-source series exist (restored from a seed file at start-up) */
    snprintf(seed, sizeof(seed), "%s/acme.json", dir);
    const char *feed =
        "{\"source\": \"acme\", \"sequence\": 1, \"generated_at\": \"2026-11-21T00:00:00Z\", \"legs\": ["
        "{\"carrier\": \"TP\", \"flight\": 1, \"origin\": \"GRU\", \"destination\": \"LIS\", "
        "\"departs_at\": \"2026-12-01T10:00:00-03:00\", \"arrives_at\": \"2026-12-01T23:00:00Z\", "
        "\"cabins\": {\"economy\": {\"seats\": 4, \"miles\": 10000, \"taxes_cents\": 1000, \"currency\": \"BRL\"}}}]}";
    CHECK_EQ_INT(e2e_write_file(seed, feed, strlen(feed)), 0);
    e2e_server_t srv;
    if (e2e_server_start(&srv, argv[1], dir, NULL) != 0) {
        CHECK(!"server started");
        TEST_DONE();
    }
    e2e_client_t c;
    e2e_client_init(&c);
    static const char *const paths[] = {"/v1/search?origin=GRU&destination=LIS&date=2026-12-01",
                                        "/v1/calendar?origin=GRU&destination=LIS&from=2026-12-01&to=2026-12-07",
                                        "/v1/routes?origin=GRU", "/nowhere", "/metrics"};
    e2e_response_t res;
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        char url[300];
        snprintf(url, sizeof(url), "%s%s", srv.url, paths[i]);
        CHECK_EQ_INT(e2e_get(&c, E2E_H1, url, NULL, &res), 0);
        if (i + 1 < sizeof(paths) / sizeof(paths[0]))
            e2e_response_free(&res);
    }
    CHECK_EQ_INT(res.status, 200);
    char *metrics = res.body != NULL ? strdup(res.body) : strdup("");
    e2e_response_free(&res);
    CHECK(strstr(metrics, "flightsearch_source_age_seconds{source=\"acme\"}") != NULL);
    snprintf(metrics_path, sizeof(metrics_path), "%s/metrics.txt", dir);
    e2e_write_file(metrics_path, metrics, strlen(metrics));

    /* promtool: the exposition, the rules, the rules' unit tests */
    char cmd[2000], *out = NULL;
    snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s'", metrics_path);
    int rc = run_sh(cmd, &out);
    CHECK_EQ_INT(rc, 0);
    if (rc != 0)
        fprintf(stderr, "  promtool check metrics:\n%s\n", out ? out : "");
    free(out);
    snprintf(cmd, sizeof(cmd), "promtool check rules '%s/deploy/prometheus/alerts.yml'", root);
    rc = run_sh(cmd, &out);
    CHECK_EQ_INT(rc, 0);
    if (rc != 0)
        fprintf(stderr, "  promtool check rules:\n%s\n", out ? out : "");
    free(out);
    snprintf(cmd, sizeof(cmd), "promtool test rules '%s/deploy/prometheus/alerts_test.yml'", root);
    rc = run_sh(cmd, &out);
    CHECK_EQ_INT(rc, 0);
    if (rc != 0)
        fprintf(stderr, "  promtool test rules:\n%s\n", out ? out : "");
    free(out);

    /* every metric the files name is exported */
    char *names = sample_names(metrics);
    static const char *const files[] = {"deploy/prometheus/alerts.yml", "deploy/prometheus/alerts_test.yml",
                                        "deploy/grafana/flightsearch.json"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char *text = read_in_root(files[i]);
        CHECK(text != NULL);
        if (text == NULL)
            continue;
        unsigned n = check_names(files[i], text, names);
        printf("%s: %u metric references, all exported\n", files[i], n);
        CHECK(n >= 3);
        if (i == 2)
            check_dashboard(text);
        free(text);
    }
    free(names);
    free(metrics);
    e2e_client_free(&c);
    CHECK_EQ_INT(e2e_server_stop(&srv), 0);
    e2e_rmtree(dir);
    TEST_DONE();
}
