/*
 * tests/e2e/e2e_web.c: the web page's files as the real binary (argv[1]) serves them, over HTTP/1.1
 * and h2c. The oracle is the source tree: every file of src/web/ must come back byte for byte.
 *
 *   GET / and /web/index.html   index.html, text/html, one ETag, Cache-Control: no-cache
 *   GET /web/app.js, app.css    their bytes and Content-Types, each with its own ETag
 *   If-None-Match               the file's ETag gets a 304 without a body; another gets the 200
 *   HEAD                        the headers without a body
 *   POST                        405 with Allow: GET, HEAD
 *   /web/nope, /web/            404 not_found
 *   /metrics                    counts them under endpoint="web", exactly as sent here
 */
#include <stdlib.h>
#include <string.h>

#include "tests/e2e/lib_server.h"
#include "tests/test.h"

static char root[512]; /* the source tree, from this file's path */
static e2e_server_t srv;
static e2e_client_t client;
static unsigned sent_200, sent_304; /* web answers, counted here for /metrics */

static int request(e2e_proto_t proto, const char *method, const char *path, const char *header, e2e_response_t *res)
{
    char url[256];
    snprintf(url, sizeof(url), "%s%s", srv.url, path);
    const char *headers[2] = {header, NULL};
    if (e2e_request(&client, proto, method, url, header ? headers : NULL, NULL, 0, res) != 0) {
        fprintf(stderr, "  %s %s: %s\n", method ? method : "GET", path, res->error);
        return -1;
    }
    return 0;
}

static int header_is(const e2e_response_t *res, const char *name, const char *want)
{
    const char *v = e2e_header(res, name);
    if (v == NULL || strcmp(v, want) != 0) {
        fprintf(stderr, "  %s: %s, want %s\n", name, v ? v : "(absent)", want);
        return 0;
    }
    return 1;
}

/* GET path: 200 with the bytes of src/web/FILE and that Content-Type; copies the ETag to etag. */
static void check_file(e2e_proto_t proto, const char *path, const char *file, const char *type, char *etag, size_t cap)
{
    char src[700];
    snprintf(src, sizeof(src), "%s/src/web/%s", root, file);
    size_t want_len = 0;
    char *want = e2e_read_file(src, &want_len);
    CHECK(want != NULL);
    e2e_response_t res;
    if (want == NULL || request(proto, NULL, path, NULL, &res) != 0) {
        CHECK(!"no answer");
        free(want);
        return;
    }
    CHECK_EQ_INT(res.status, 200);
    sent_200 += res.status == 200;
    CHECK(res.body_len == want_len && memcmp(res.body, want, want_len) == 0);
    CHECK(header_is(&res, "content-type", type));
    CHECK(header_is(&res, "cache-control", "no-cache"));
    CHECK(header_is(&res, "x-content-type-options", "nosniff"));
    const char *e = e2e_header(&res, "etag");
    CHECK(e != NULL && e[0] == '"' && strlen(e) > 2 && e[strlen(e) - 1] == '"');
    snprintf(etag, cap, "%s", e ? e : "");
    if (res.status != 200 || res.body_len != want_len)
        fprintf(stderr, "  GET %s over %s: %ld, %zu bytes, want %zu\n", path, e2e_proto_names[proto], res.status, res.body_len,
                want_len);
    e2e_response_free(&res);
    free(want);
}

static void check_proto(e2e_proto_t proto)
{
    char etag_root[64], etag_index[64], etag_js[64], etag_css[64];
    check_file(proto, "/", "index.html", "text/html; charset=utf-8", etag_root, sizeof(etag_root));
    check_file(proto, "/web/index.html", "index.html", "text/html; charset=utf-8", etag_index, sizeof(etag_index));
    check_file(proto, "/web/app.js", "app.js", "text/javascript; charset=utf-8", etag_js, sizeof(etag_js));
    check_file(proto, "/web/app.css", "app.css", "text/css; charset=utf-8", etag_css, sizeof(etag_css));
    CHECK_EQ_STR(etag_root, etag_index);
    CHECK(strcmp(etag_js, etag_css) != 0 && strcmp(etag_js, etag_root) != 0);

    /* revalidation: the file's own ETag is a 304 without a body; any other is the file again */
    char inm[100];
    snprintf(inm, sizeof(inm), "If-None-Match: %s", etag_js);
    e2e_response_t res;
    if (request(proto, NULL, "/web/app.js", inm, &res) == 0) {
        CHECK_EQ_INT(res.status, 304);
        sent_304 += res.status == 304;
        CHECK_EQ_INT(res.body_len, 0);
        CHECK(header_is(&res, "etag", etag_js));
        e2e_response_free(&res);
    }
    snprintf(inm, sizeof(inm), "If-None-Match: %s", etag_css);
    if (request(proto, NULL, "/web/app.js", inm, &res) == 0) {
        CHECK_EQ_INT(res.status, 200);
        sent_200 += res.status == 200;
        CHECK(res.body_len > 0);
        e2e_response_free(&res);
    }

    if (request(proto, "HEAD", "/", NULL, &res) == 0) {
        CHECK_EQ_INT(res.status, 200);
        sent_200 += res.status == 200;
        CHECK_EQ_INT(res.body_len, 0);
        CHECK(header_is(&res, "content-type", "text/html; charset=utf-8"));
        CHECK(header_is(&res, "etag", etag_root));
        e2e_response_free(&res);
    }
    if (request(proto, "POST", "/", NULL, &res) == 0) {
        CHECK_EQ_INT(res.status, 405);
        CHECK(header_is(&res, "allow", "GET, HEAD"));
        CHECK(strstr(res.body, "\"method_not_allowed\"") != NULL);
        e2e_response_free(&res);
    }
    static const char *const missing[] = {"/web/nope.js", "/web/", "/web/app.js.map"};
    for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
        if (request(proto, NULL, missing[i], NULL, &res) != 0)
            continue;
        CHECK_EQ_INT(res.status, 404);
        CHECK(strstr(res.body, "\"not_found\"") != NULL);
        e2e_response_free(&res);
    }
}

/* The value of the /metrics line that starts with prefix, or -1. */
static long metric(const char *text, const char *prefix)
{
    const char *p = strstr(text, prefix);
    return p ? strtol(p + strlen(prefix), NULL, 10) : -1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH-TO-flightsearch\n", argv[0]);
        return 2;
    }
    /* CMake compiles this file by its absolute path: the source tree is three levels up */
    snprintf(root, sizeof(root), "%s", __FILE__);
    char *cut = strstr(root, "/tests/e2e/e2e_web.c");
    if (cut == NULL) {
        fprintf(stderr, "e2e_web: cannot find the source tree from %s\n", __FILE__);
        return 1;
    }
    *cut = '\0';
    e2e_http_init();
    char data[256];
    if (e2e_tmpdir(data, sizeof(data)) != 0 || e2e_server_start(&srv, argv[1], data, NULL) != 0 || e2e_client_init(&client) != 0)
        return 1;
    check_proto(E2E_H1);
    check_proto(E2E_H2);

    e2e_response_t res;
    if (request(E2E_H1, NULL, "/metrics", NULL, &res) == 0) {
        CHECK_EQ_INT(metric(res.body, "flightsearch_requests_total{endpoint=\"web\",status=\"200\"} "), (long)sent_200);
        CHECK_EQ_INT(metric(res.body, "flightsearch_requests_total{endpoint=\"web\",status=\"304\"} "), (long)sent_304);
        CHECK_EQ_INT(metric(res.body, "flightsearch_requests_total{endpoint=\"web\",status=\"404\"} "), 6);
        e2e_response_free(&res);
    }
    e2e_client_free(&client);
    CHECK_EQ_INT(e2e_server_stop(&srv), 0);
    e2e_rmtree(data);
    TEST_DONE();
}
