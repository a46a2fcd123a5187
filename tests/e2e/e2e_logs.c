/*
 * tests/e2e/e2e_logs.c: the access log, --log-format and W3C trace context of the real binary
 * (argv[1]).
 *
 *   help        --help documents --access-log and --log-format; a bad --log-format exits 2
 *   traceparent a valid header's trace id comes back in the response's traceparent (with the
 *               server's own span id and the caller's flags); a malformed one (all-zero trace id,
 *               version ff, uppercase hex, wrong length) or none starts a new trace: 32 lowercase
 *               hex digits, not all zero, different per request
 *   json        a push sent with a traceparent: its access log line (method, path, status, body
 *               bytes as received, trace id, source) and its loader's log line carry the trace id;
 *               every line of the access log and of stderr parses as JSON
 *   text        --access-log - --log-format text: one line of 8 space-separated fields
 *   reopen      after the access log is renamed (rotation), SIGHUP makes the server write to a new
 *               file of the configured name; an access log that cannot be opened stops the start
 */
#include <ctype.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/e2e/lib_server.h"
#include "tests/test.h"

#define TOKEN "logstesttoken00000000000"
#define TRACE "4bf92f3577b34da6a3ce929d0e0e4736"
#define PARENT "00f067aa0ba902b7"

static const char *binary;

/* The test's own reading of a traceparent value: 00-TRACE(32)-SPAN(16)-FLAGS(2), lowercase hex,
 * trace and span not all zero. Copies the trace id into trace (33 bytes). */
static int parse_traceparent(const char *v, char *trace, char *span, char *flags)
{
    if (v == NULL || strlen(v) != 55 || strncmp(v, "00-", 3) != 0 || v[35] != '-' || v[52] != '-')
        return 0;
    int nonzero_t = 0, nonzero_s = 0;
    for (int i = 3; i < 55; i++) {
        if (i == 35 || i == 52)
            continue;
        if (!isxdigit((unsigned char)v[i]) || isupper((unsigned char)v[i]))
            return 0;
        if (i < 35)
            nonzero_t |= v[i] != '0';
        else if (i < 52)
            nonzero_s |= v[i] != '0';
    }
    memcpy(trace, v + 3, 32);
    trace[32] = '\0';
    memcpy(span, v + 36, 16);
    span[16] = '\0';
    memcpy(flags, v + 53, 2);
    flags[2] = '\0';
    return nonzero_t && nonzero_s;
}

static void test_help(void)
{
    char *out = NULL;
    char *argv[] = {(char *)binary, "--help", NULL};
    CHECK_EQ_INT(e2e_run(argv, &out, 10000), 0);
    CHECK(out != NULL && strstr(out, "--access-log FILE|-") != NULL);
    CHECK(out != NULL && strstr(out, "--log-format text|json") != NULL);
    CHECK(out != NULL && strstr(out, "traceparent") != NULL);
    free(out);
    out = NULL;
    char *bad[] = {(char *)binary, "--log-format", "xml", NULL};
    CHECK_EQ_INT(e2e_run(bad, &out, 10000), 2);
    CHECK(out != NULL && strstr(out, "--log-format") != NULL);
    free(out);
}

/* GET url with a traceparent header (NULL: none); the response's traceparent parsed. */
static int get_traced(e2e_client_t *c, const char *url, const char *traceparent, char *trace, char *span, char *flags)
{
    char header[200];
    snprintf(header, sizeof(header), "traceparent: %s", traceparent != NULL ? traceparent : "");
    e2e_response_t res;
    int ok = e2e_get(c, E2E_H1, url, traceparent != NULL ? header : NULL, &res) == 0 && res.status == 200 &&
             parse_traceparent(e2e_header(&res, "traceparent"), trace, span, flags);
    if (!ok)
        fprintf(stderr, "  %s with traceparent %s: status %ld, traceparent %s\n", url, traceparent ? traceparent : "(none)",
                res.status, e2e_header(&res, "traceparent") ? e2e_header(&res, "traceparent") : "(none)");
    e2e_response_free(&res);
    return ok;
}

static void test_traceparent(e2e_client_t *c, const e2e_server_t *srv)
{
    char url[200], trace[33], span[17], flags[3], first[33];
    snprintf(url, sizeof(url), "%s/healthz", srv->url);
    /* valid: the trace continues, with this server's span and the caller's flags */
    CHECK(get_traced(c, url, "00-" TRACE "-" PARENT "-01", trace, span, flags));
    CHECK_EQ_STR(trace, TRACE);
    CHECK(strcmp(span, PARENT) != 0);
    CHECK_EQ_STR(flags, "01");
    /* a later version with more fields: read as version 00 */
    CHECK(get_traced(c, url, "01-" TRACE "-" PARENT "-00-what-comes-next", trace, span, flags));
    CHECK_EQ_STR(trace, TRACE);
    CHECK_EQ_STR(flags, "00");
    /* malformed: a new trace each time */
    static const char *const bad[] = {
        "00-00000000000000000000000000000000-" PARENT "-01", /* all-zero trace id */
        "00-" TRACE "-0000000000000000-01",                  /* all-zero parent id */
        "ff-" TRACE "-" PARENT "-01",                        /* version ff */
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-" PARENT "-01", /* uppercase */
        "00-" TRACE "-" PARENT "-01-extra",                  /* version 00 with more */
        "00-" TRACE "-" PARENT,                              /* no flags */
        "garbage",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK(get_traced(c, url, bad[i], trace, span, flags));
        CHECK(strcmp(trace, TRACE) != 0);
        CHECK(strcmp(trace, "00000000000000000000000000000000") != 0);
    }
    /* none: a new trace, different for each request */
    CHECK(get_traced(c, url, NULL, first, span, flags));
    CHECK(get_traced(c, url, NULL, trace, span, flags));
    CHECK(strcmp(first, trace) != 0);
}

/* Waits until file holds a line containing needle; returns the file (malloc'd) or NULL. */
static char *wait_for_line(const char *path, const char *needle)
{
    int64_t deadline = e2e_now_ms() + 10000;
    while (e2e_now_ms() < deadline) {
        size_t len;
        char *text = e2e_read_file(path, &len);
        if (text != NULL && strstr(text, needle) != NULL)
            return text;
        free(text);
        usleep(50 * 1000);
    }
    fprintf(stderr, "  %s: no line with %s within 10 s\n", path, needle);
    return NULL;
}

/* Every line of text parses as a JSON object; calls each(line object) for every one. Returns
 * the number of lines. */
static unsigned each_json_line(const char *what, const char *text, void (*each)(const msgpack_object *, void *), void *arg)
{
    unsigned lines = 0;
    for (const char *line = text; *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);
        if (len > 0) {
            msgpack_zone zone;
            msgpack_zone_init(&zone, 1024);
            msgpack_object o;
            size_t at = 0;
            int ok = e2e_json_parse(line, len, &zone, &o, &at) == 0 && o.type == MSGPACK_OBJECT_MAP;
            CHECK(ok);
            if (!ok)
                fprintf(stderr, "  %s: not a JSON object (byte %zu): %.*s\n", what, at, (int)len, line);
            else if (each != NULL)
                each(&o, arg);
            msgpack_zone_destroy(&zone);
            lines++;
        }
        line += len + (nl != NULL);
    }
    return lines;
}

typedef struct found {
    int push_line, loader_line;
    long push_bytes;
} found_t;

static void check_access_line(const msgpack_object *o, void *arg)
{
    found_t *f = arg;
    char path[200], method[16], trace[64], source[64], when[64];
    if (e2e_mp_str(o, "path", path, sizeof(path)) == NULL || strcmp(path, "/v1/feeds/acme/snapshot") != 0)
        return;
    f->push_line++;
    CHECK_EQ_STR(e2e_mp_str(o, "method", method, sizeof(method)), "PUT");
    CHECK_EQ_INT(e2e_mp_int_or(o, "status", -1), 200);
    CHECK_EQ_INT(e2e_mp_int_or(o, "bytes", -1), f->push_bytes);
    CHECK(e2e_mp_int_or(o, "duration_us", -1) >= 0);
    CHECK_EQ_STR(e2e_mp_str(o, "trace_id", trace, sizeof(trace)), TRACE);
    CHECK_EQ_STR(e2e_mp_str(o, "source", source, sizeof(source)), "acme");
    /* "2026-12-03T06:53:20.900072Z" */
    const char *t = e2e_mp_str(o, "time", when, sizeof(when));
    CHECK(t != NULL && strlen(t) == 27 && t[10] == 'T' && t[26] == 'Z');
}

static void check_log_line(const msgpack_object *o, void *arg)
{
    found_t *f = arg;
    char msg[400], trace[64], when[64];
    CHECK(e2e_mp_str(o, "time", when, sizeof(when)) != NULL);
    if (e2e_mp_str(o, "msg", msg, sizeof(msg)) == NULL || strstr(msg, "push snapshot of acme") == NULL)
        return;
    f->loader_line++;
    CHECK(strstr(msg, ": 200 in ") != NULL);
    CHECK_EQ_STR(e2e_mp_str(o, "trace_id", trace, sizeof(trace)), TRACE);
}

static void test_json(const char *tmp)
{
    char data[300], tokens[300], access[300];
    snprintf(data, sizeof(data), "%s/data", tmp);
    snprintf(tokens, sizeof(tokens), "%s/tokens", tmp);
    snprintf(access, sizeof(access), "%s/access.log", tmp);
    const char *line = TOKEN " *\n";
    e2e_write_file(tokens, line, strlen(line));
    const char *const extra[] = {"--tokens", tokens, "--access-log", access, "--log-format", "json", NULL};
    e2e_server_t srv;
    if (e2e_server_start(&srv, binary, data, extra) != 0) {
        CHECK(!"server started");
        return;
    }
    e2e_client_t c;
    e2e_client_init(&c);
    test_traceparent(&c, &srv);

    const char *body =
        "{\"source\": \"acme\", \"sequence\": 1, \"generated_at\": \"2026-11-21T00:00:00Z\", \"legs\": ["
        "{\"carrier\": \"TP\", \"flight\": 1, \"origin\": \"GRU\", \"destination\": \"LIS\", "
        "\"departs_at\": \"2026-12-01T10:00:00-03:00\", \"arrives_at\": \"2026-12-01T23:00:00Z\", "
        "\"cabins\": {\"economy\": {\"seats\": 4, \"miles\": 10000, \"taxes_cents\": 1000, \"currency\": \"BRL\"}}}]}";
    const char *const headers[] = {"Authorization: Bearer " TOKEN, "Content-Type: application/json",
                                   "traceparent: 00-" TRACE "-" PARENT "-01", NULL};
    char url[200];
    snprintf(url, sizeof(url), "%s/v1/feeds/acme/snapshot", srv.url);
    e2e_response_t res;
    CHECK_EQ_INT(e2e_request(&c, E2E_H1, "PUT", url, headers, body, strlen(body), &res), 0);
    CHECK_EQ_INT(res.status, 200);
    char trace[33], span[17], flags[3];
    CHECK(parse_traceparent(e2e_header(&res, "traceparent"), trace, span, flags));
    CHECK_EQ_STR(trace, TRACE);
    found_t f = {.push_bytes = (long)res.body_len};
    e2e_response_free(&res);

    char *text = wait_for_line(access, "/v1/feeds/acme/snapshot");
    CHECK(text != NULL);
    if (text != NULL) {
        unsigned lines = each_json_line("access log", text, check_access_line, &f);
        printf("access log: %u JSON lines\n", lines);
        CHECK(lines >= 12); /* the traceparent requests before the push */
        CHECK_EQ_INT(f.push_line, 1);
    }
    free(text);
    char *err = wait_for_line(srv.stderr_path, "push snapshot of acme");
    CHECK(err != NULL);
    if (err != NULL) {
        unsigned lines = each_json_line("stderr", err, check_log_line, &f);
        printf("stderr: %u JSON lines\n", lines);
        CHECK_EQ_INT(f.loader_line, 1);
    }
    free(err);

    /* rotation: rename the file, SIGHUP, and the next lines go to a new file of the same name */
    char rotated[320];
    snprintf(rotated, sizeof(rotated), "%s.1", access);
    CHECK_EQ_INT(rename(access, rotated), 0);
    e2e_server_signal(&srv, SIGHUP);
    char *log = wait_for_line(srv.stderr_path, "SIGHUP");
    free(log);
    snprintf(url, sizeof(url), "%s/healthz?after=rotation", srv.url);
    CHECK(get_traced(&c, url, NULL, trace, span, flags));
    text = wait_for_line(access, "/healthz?after=rotation");
    CHECK(text != NULL);
    free(text);
    text = e2e_read_file(rotated, NULL);
    CHECK(text != NULL && strstr(text, "after=rotation") == NULL);
    free(text);
    e2e_client_free(&c);
    CHECK_EQ_INT(e2e_server_stop(&srv), 0);
}

static void test_unwritable(const char *tmp)
{
    char data[300];
    snprintf(data, sizeof(data), "%s/data-bad", tmp);
    char *argv[] = {
        (char *)binary, "--listen", "127.0.0.1:0", "--data-dir", data, "--access-log", "/nonexistent/dir/access.log", NULL};
    char *out = NULL;
    CHECK_EQ_INT(e2e_run(argv, &out, 10000), 1);
    CHECK(out != NULL && strstr(out, "--access-log /nonexistent/dir/access.log") != NULL);
    free(out);
}

static void test_text(const char *tmp)
{
    char data[300];
    snprintf(data, sizeof(data), "%s/data-text", tmp);
    const char *const extra[] = {"--access-log", "-", "--log-format", "text", NULL};
    e2e_server_t srv;
    if (e2e_server_start(&srv, binary, data, extra) != 0) {
        CHECK(!"server started");
        return;
    }
    e2e_client_t c;
    e2e_client_init(&c);
    char url[200], trace[33], span[17], flags[3];
    snprintf(url, sizeof(url), "%s/healthz?from=text", srv.url);
    CHECK(get_traced(&c, url, "00-" TRACE "-" PARENT "-01", trace, span, flags));
    char *text = wait_for_line(srv.stderr_path, "/healthz?from=text");
    CHECK(text != NULL);
    if (text != NULL) {
        const char *line = strstr(text, "/healthz?from=text");
        while (line > text && line[-1] != '\n')
            line--;
        char f[8][128];
        int n = sscanf(line, "%127s %127s %127s %127s %127s %127s %127s %127s", f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]);
        CHECK_EQ_INT(n, 8);
        if (n == 8) {
            CHECK(strlen(f[0]) == 27 && f[0][26] == 'Z');
            CHECK_EQ_STR(f[1], "GET");
            CHECK_EQ_STR(f[2], "/healthz?from=text");
            CHECK_EQ_STR(f[3], "200");
            CHECK(atol(f[4]) > 0);
            CHECK(f[5][0] >= '0' && f[5][0] <= '9');
            CHECK_EQ_STR(f[6], TRACE);
            CHECK_EQ_STR(f[7], "-");
        }
    }
    free(text);
    e2e_client_free(&c);
    CHECK_EQ_INT(e2e_server_stop(&srv), 0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s path/to/flightsearch\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    binary = argv[1];
    e2e_http_init();
    char tmp[256];
    if (e2e_tmpdir(tmp, sizeof(tmp)) != 0)
        return 1;
    test_help();
    test_json(tmp);
    test_text(tmp);
    test_unwritable(tmp);
    e2e_rmtree(tmp);
    TEST_DONE();
}
