/*
 * tests/e2e/e2e_feed_tool.c: flightsearch-feed, the operators' tool (dirname(argv[1]) + "/flightsearch-feed").
 *
 *   help       --help of the tool and of each command, exit codes listed, examples given
 *   convert    a CSV the test writes (columns shuffled, a BOM, CRLF, quotes, a blank line, the rows
 *              of one leg apart) to msgpack, decoded here with msgpack-c and compared field by
 *              field with the test's own legs; the same to JSON (compared value by value with the
 *              msgpack); a delta with removes; JSON Lines; --generated-at defaulting to now
 *   errors     CSV problems named by line and column ('abc' is not a whole number, unknown and
 *              missing columns), the server's checks mapped back to the CSV line, no OUT written
 *   validate   valid snapshot and delta lines, the server's JSON error document on stdout and a
 *              list on stderr, malformed bodies, unreadable files, --format and --delta overrides
 *   push       against a fake HTTP/1.1 server in a thread: method, path, Content-Type, the bearer
 *              token, the body byte for byte; 422/409/401 summaries; 503 and dropped connections
 *              retried; connection refused; the progress bar on a pseudo-terminal only
 *   server     the real flightsearch (argv[1]) when PUT /v1/feeds/x/snapshot is not a 404:
 *              snapshot, identical re-push, delta, stale sequence, bad token, h2c, a 2.6 MB body
 *
 * Expected values come from the test's own data, never from the tool's or the server's code.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <pty.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tests/e2e/lib_server.h"
#include "tests/test.h"

static char tool[1024];
static const char *server_bin;
static char dir[256];

#define TOKEN "tok-0123456789abcdef-feed"

/* --------------------------------------------------------------- running */

typedef struct run {
    int status; /* exit status, 128 + signal, or -1 */
    char *out;  /* stdout, NUL-terminated */
    char *err;  /* stderr (read from a pseudo-terminal when pty was asked) */
} run_t;

static void append(char **buf, size_t *len, const char *data, size_t n)
{
    *buf = realloc(*buf, *len + n + 1);
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
}

/* Runs the tool with args (NULL-terminated), stdout and stderr captured apart; stderr on a
 * pseudo-terminal when pty is set (so isatty(2) is true in the tool). */
static void run_tool(run_t *r, int pty, const char *const *args)
{
    const char *argv[40];
    int argc = 0, out_pipe[2], err_pipe[2] = {-1, -1}, master = -1, slave = -1;

    argv[argc++] = tool;
    for (int i = 0; args[i] != NULL && argc < 39; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    r->status = -1;
    r->out = calloc(1, 1);
    r->err = calloc(1, 1);
    if (pipe(out_pipe) != 0)
        return;
    if (pty) {
        if (openpty(&master, &slave, NULL, NULL, NULL) != 0)
            return;
    } else if (pipe(err_pipe) != 0) {
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        dup2(out_pipe[1], 1);
        dup2(pty ? slave : err_pipe[1], 2);
        execv(tool, (char *const *)argv);
        _exit(127);
    }
    close(out_pipe[1]);
    if (pty)
        close(slave);
    else
        close(err_pipe[1]);
    int fds[2] = {out_pipe[0], pty ? master : err_pipe[0]};
    char **bufs[2] = {&r->out, &r->err};
    size_t lens[2] = {0, 0};
    int open_fds = 2;
    int64_t deadline = e2e_now_ms() + 60000;
    while (open_fds > 0 && e2e_now_ms() < deadline) {
        struct pollfd p[2];
        int n = 0, which[2];
        for (int k = 0; k < 2; k++) {
            if (fds[k] >= 0) {
                p[n].fd = fds[k];
                p[n].events = POLLIN;
                which[n++] = k;
            }
        }
        if (poll(p, (nfds_t)n, 200) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < n; i++) {
            if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char buf[65536];
            ssize_t got = read(fds[which[i]], buf, sizeof(buf));
            if (got > 0) {
                append(bufs[which[i]], &lens[which[i]], buf, (size_t)got);
            } else if (got == 0 || errno != EINTR) { /* a pty master reads EIO once the child is gone */
                close(fds[which[i]]);
                fds[which[i]] = -1;
                open_fds--;
            }
        }
    }
    for (int k = 0; k < 2; k++) {
        if (fds[k] >= 0)
            close(fds[k]);
    }
    if (open_fds > 0)
        kill(pid, SIGKILL);
    int ws;
    if (waitpid(pid, &ws, 0) == pid)
        r->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

static void run_free(run_t *r)
{
    free(r->out);
    free(r->err);
}

/* Checks that haystack contains needle; prints both when not. */
#define CHECK_HAS(haystack, needle)                                                                                                \
    do {                                                                                                                           \
        const char *h_ = (haystack), *n_ = (needle);                                                                               \
        int ok_ = h_ != NULL && strstr(h_, n_) != NULL;                                                                            \
        CHECK(ok_);                                                                                                                \
        if (!ok_)                                                                                                                  \
            fprintf(stderr, "  expected to find: %s\n  in: %s\n", n_, h_ != NULL ? h_ : "(null)");                                 \
    } while (0)

#define CHECK_LACKS(haystack, needle)                                                                                              \
    do {                                                                                                                           \
        const char *h_ = (haystack), *n_ = (needle);                                                                               \
        int ok_ = h_ != NULL && strstr(h_, n_) == NULL;                                                                            \
        CHECK(ok_);                                                                                                                \
        if (!ok_)                                                                                                                  \
            fprintf(stderr, "  did not expect: %s\n  in: %s\n", n_, h_ != NULL ? h_ : "(null)");                                   \
    } while (0)

static void path_of(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void write_text(const char *name, const char *text)
{
    char p[512];
    path_of(p, sizeof(p), name);
    if (e2e_write_file(p, text, strlen(text)) != 0)
        fprintf(stderr, "cannot write %s\n", p);
}

/* ------------------------------------------------------------- test data */

typedef struct t_cabin {
    int present;
    unsigned seats, miles, taxes;
    const char *currency;
} t_cabin_t;

typedef struct t_leg {
    const char *carrier;
    unsigned flight;
    const char *origin, *destination, *departs_at, *arrives_at;
    t_cabin_t cabin[E2E_CABINS]; /* economy, premium, business, first */
} t_leg_t;

static const t_leg_t legs[] = {
    {"TP",
     82,
     "GRU",
     "LIS",
     "2026-12-01T21:35:00-03:00",
     "2026-12-02T11:05:00+00:00",
     {{1, 9, 35000, 12345, "BRL"}, {0}, {1, 2, 157500, 45678, "BRL"}, {0}}},
    {"LA",
     8084,
     "GRU",
     "LHR",
     "2026-12-02T23:10:00-03:00",
     "2026-12-03T14:40:00+00:00",
     {{1, 4, 42000, 0, "BRL"}, {1, 1, 60000, 100, "BRL"}, {0}, {1, 1, 250000, 99999, "GBP"}}},
    {"TP", 1, "LIS", "GRU", "2026-12-05T10:00:00+00:00", "2026-12-05T17:30:00-03:00", {{0}, {0}, {1, 0, 120000, 5000, "EUR"}, {0}}},
};
#define LEG_COUNT 3

/* The CSV rows, as (leg, cabin): leg 0's second cabin comes after leg 1's first row, so merging
 * must not depend on adjacency. First appearances: leg 0, 1, 2 (the output's order). */
static const int rows[][2] = {{0, E2E_ECONOMY},  {1, E2E_FIRST},   {0, E2E_BUSINESS},
                              {2, E2E_BUSINESS}, {1, E2E_ECONOMY}, {1, E2E_PREMIUM}};
#define ROW_COUNT 6

/* The CSV of every row: a BOM, shuffled columns, CRLF on some lines, quotes, a blank line after the
 * third row. Data rows are on lines 2, 3, 4, 6, 7, 8. */
static char *csv_of_rows(void)
{
    static char buf[8192];
    size_t n = 0;
    n += (size_t)snprintf(buf + n, sizeof(buf) - n,
                          "\xef\xbb\xbfmiles,carrier,cabin,departs_at,flight,origin,currency,destination,arrives_at,seats,"
                          "taxes_cents\r\n");
    for (int i = 0; i < ROW_COUNT; i++) {
        const t_leg_t *l = &legs[rows[i][0]];
        const t_cabin_t *c = &l->cabin[rows[i][1]];
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%u,%s,%s,\"%s\",%u, %s ,\"%s\",%s,%s,%u,%u%s", c->miles, l->carrier,
                              e2e_cabin_names[rows[i][1]], l->departs_at, l->flight, l->origin, c->currency, l->destination,
                              l->arrives_at, c->seats, c->taxes, i % 2 == 0 ? "\r\n" : "\n");
        if (i == 2)
            n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\n");
    }
    return buf;
}

/* Compares one decoded leg with the test's. */
static void check_leg(const msgpack_object *o, const t_leg_t *l)
{
    char buf[64];
    int64_t v;

    CHECK(o != NULL && o->type == MSGPACK_OBJECT_MAP);
    if (o == NULL || o->type != MSGPACK_OBJECT_MAP)
        return;
    CHECK_EQ_INT(o->via.map.size, 7);
    CHECK_EQ_STR(e2e_mp_str(o, "carrier", buf, sizeof(buf)), l->carrier);
    CHECK(e2e_mp_int(o, "flight", &v) && v == l->flight);
    CHECK_EQ_STR(e2e_mp_str(o, "origin", buf, sizeof(buf)), l->origin);
    CHECK_EQ_STR(e2e_mp_str(o, "destination", buf, sizeof(buf)), l->destination);
    CHECK_EQ_STR(e2e_mp_str(o, "departs_at", buf, sizeof(buf)), l->departs_at);
    CHECK_EQ_STR(e2e_mp_str(o, "arrives_at", buf, sizeof(buf)), l->arrives_at);
    const msgpack_object *cabins = e2e_mp_get(o, "cabins");
    CHECK(cabins != NULL && cabins->type == MSGPACK_OBJECT_MAP);
    if (cabins == NULL || cabins->type != MSGPACK_OBJECT_MAP)
        return;
    unsigned present = 0;
    for (int c = 0; c < E2E_CABINS; c++) {
        const msgpack_object *x = e2e_mp_get(cabins, e2e_cabin_names[c]);
        CHECK_EQ_INT(x != NULL, l->cabin[c].present);
        if (x == NULL || !l->cabin[c].present)
            continue;
        present++;
        CHECK_EQ_INT(x->via.map.size, 4);
        CHECK(e2e_mp_int(x, "seats", &v) && v == l->cabin[c].seats);
        CHECK(e2e_mp_int(x, "miles", &v) && v == l->cabin[c].miles);
        CHECK(e2e_mp_int(x, "taxes_cents", &v) && v == l->cabin[c].taxes);
        CHECK_EQ_STR(e2e_mp_str(x, "currency", buf, sizeof(buf)), l->cabin[c].currency);
    }
    CHECK_EQ_INT(cabins->via.map.size, present);
}

/* Decodes a msgpack file (whole) into doc; 0 or -1. */
static int load_msgpack(const char *path, e2e_mp_t *doc, char **bytes)
{
    size_t len;
    *bytes = e2e_read_file(path, &len);
    if (*bytes == NULL)
        return -1;
    return e2e_mp_parse(doc, *bytes, len);
}

/* ------------------------------------------------------------------ help */

static void test_help(void)
{
    run_t r;
    run_tool(&r, 0, (const char *[]){"--help", NULL});
    CHECK_EQ_INT(r.status, 0);
    CHECK_HAS(r.out, "validate");
    CHECK_HAS(r.out, "convert");
    CHECK_HAS(r.out, "push");
    CHECK_HAS(r.out, "exit codes");
    CHECK_HAS(r.out, "3  transport");
    CHECK_HAS(r.out, "examples:");
    run_free(&r);

    static const char *const cmds[] = {"validate", "convert", "push"};
    for (int i = 0; i < 3; i++) {
        run_tool(&r, 0, (const char *[]){cmds[i], "--help", NULL});
        CHECK_EQ_INT(r.status, 0);
        CHECK_HAS(r.out, "usage: flightsearch-feed ");
        CHECK_HAS(r.out, "examples:");
        CHECK_HAS(r.out, "exit codes");
        run_free(&r);
    }
    run_tool(&r, 0, (const char *[]){"convert", "--help", NULL});
    static const char *const cols[] = {"carrier", "flight", "origin", "destination", "departs_at", "arrives_at",
                                       "cabin",   "seats",  "miles",  "taxes_cents", "currency",   "action"};
    for (int i = 0; i < 12; i++)
        CHECK_HAS(r.out, cols[i]);
    run_free(&r);
    run_tool(&r, 0, (const char *[]){"push", "--help", NULL});
    CHECK_HAS(r.out, "--token-file");
    CHECK_HAS(r.out, "--http2");
    CHECK_HAS(r.out, "--retries");
    run_free(&r);

    run_tool(&r, 0, (const char *[]){"frobnicate", NULL});
    CHECK_EQ_INT(r.status, 2);
    CHECK_HAS(r.err, "unknown command");
    run_free(&r);
    run_tool(&r, 0, (const char *[]){"validate", "--frob", "x.json", NULL});
    CHECK_EQ_INT(r.status, 2);
    CHECK_HAS(r.err, "--frob");
    run_free(&r);
}

/* --------------------------------------------------------------- convert */

static void test_convert_csv(void)
{
    char in[512], out[512], out_json[512], *bytes = NULL, buf[64];
    e2e_mp_t doc;
    run_t r;
    int64_t v;

    write_text("legs.csv", csv_of_rows());
    path_of(in, sizeof(in), "legs.csv");
    path_of(out, sizeof(out), "tap-42.msgpack");
    run_tool(&r, 0,
             (const char *[]){"convert", "--source", "tap", "--sequence", "42", "--generated-at", "2026-11-21T20:00:00Z", in, out,
                              NULL});
    CHECK_EQ_INT(r.status, 0);
    CHECK_HAS(r.out, "valid snapshot of source tap, sequence 42, 3 legs");
    CHECK_HAS(r.out, "from 6 rows");
    if (r.status != 0)
        fprintf(stderr, "convert: %s\n", r.err);
    run_free(&r);

    CHECK_EQ_INT(load_msgpack(out, &doc, &bytes), 0);
    if (doc.root != NULL) {
        CHECK_EQ_INT(doc.root->via.map.size, 4);
        CHECK_EQ_STR(e2e_mp_str(doc.root, "source", buf, sizeof(buf)), "tap");
        CHECK(e2e_mp_int(doc.root, "sequence", &v) && v == 42);
        CHECK_EQ_STR(e2e_mp_str(doc.root, "generated_at", buf, sizeof(buf)), "2026-11-21T20:00:00Z");
        const msgpack_object_array *a = e2e_mp_array(doc.root, "legs");
        CHECK(a != NULL && a->size == LEG_COUNT);
        for (unsigned i = 0; a != NULL && i < a->size && i < LEG_COUNT; i++)
            check_leg(&a->ptr[i], &legs[i]);
    }

    /* validate agrees */
    run_tool(&r, 0, (const char *[]){"validate", out, NULL});
    CHECK_EQ_INT(r.status, 0);
    char expect[1024];
    snprintf(expect, sizeof(expect), "%s: valid snapshot of source tap, sequence 42, 3 legs\n", out);
    CHECK_EQ_STR(r.out, expect);
    run_free(&r);

    /* The same input to JSON: the same document, value by value. */
    path_of(out_json, sizeof(out_json), "tap-42.json");
    run_tool(&r, 0,
             (const char *[]){"convert", "--source", "tap", "--sequence", "42", "--generated-at", "2026-11-21T20:00:00Z", in,
                              out_json, NULL});
    CHECK_EQ_INT(r.status, 0);
    run_free(&r);
    size_t jlen;
    char *json = e2e_read_file(out_json, &jlen);
    CHECK(json != NULL);
    if (json != NULL && doc.root != NULL) {
        msgpack_zone zone;
        msgpack_object obj;
        size_t at;
        char where[256] = "";
        msgpack_zone_init(&zone, 4096);
        CHECK_EQ_INT(e2e_json_parse(json, jlen, &zone, &obj, &at), 0);
        CHECK(e2e_mp_equal(doc.root, &obj, NULL, where, sizeof(where)));
        if (where[0] != '\0')
            fprintf(stderr, "  JSON and msgpack differ at %s\n", where);
        msgpack_zone_destroy(&zone);
    }
    free(json);
    run_tool(&r, 0, (const char *[]){"validate", out_json, NULL});
    CHECK_EQ_INT(r.status, 0);
    CHECK_HAS(r.out, "valid snapshot of source tap, sequence 42, 3 legs");
    run_free(&r);
    e2e_mp_free(&doc);
    free(bytes);

    /* --generated-at defaults to now, in UTC. */
    path_of(out, sizeof(out), "now.msgpack");
    int64_t before = (int64_t)time(NULL);
    run_tool(&r, 0, (const char *[]){"convert", "--source", "tap", "--sequence", "7", in, out, NULL});
    int64_t after = (int64_t)time(NULL);
    CHECK_EQ_INT(r.status, 0);
    run_free(&r);
    if (load_msgpack(out, &doc, &bytes) == 0) {
        e2e_time_t t;
        CHECK(e2e_mp_str(doc.root, "generated_at", buf, sizeof(buf)) != NULL && e2e_time_parse(buf, &t) == 0);
        CHECK(buf[strlen(buf) - 1] == 'Z');
        int64_t s = e2e_time_utc_sec(&t);
        CHECK(s >= before - 1 && s <= after + 1);
    } else {
        CHECK(0);
    }
    e2e_mp_free(&doc);
    free(bytes);
}

static void test_convert_delta(void)
{
    char in[512], out[512], *bytes = NULL, buf[64];
    e2e_mp_t doc;
    run_t r;
    int64_t v;

    /* An action column: upserts merge like a snapshot's legs; a remove uses the departure's date. */
    write_text("changes.csv",
               "action,carrier,flight,origin,destination,departs_at,arrives_at,cabin,seats,miles,taxes_cents,currency\n"
               "upsert,TP,82,GRU,LIS,2026-12-01T21:35:00-03:00,2026-12-02T11:05:00+00:00,economy,9,35000,12345,BRL\n"
               "remove,TP,84,GRU,,2026-12-03T21:35:00-03:00,,,,,,\n"
               ",TP,82,GRU,LIS,2026-12-01T21:35:00-03:00,2026-12-02T11:05:00+00:00,business,2,157500,45678,BRL\n"
               "remove,LA,8084,GRU,,2026-12-04,,,,,,\n");
    path_of(in, sizeof(in), "changes.csv");
    path_of(out, sizeof(out), "tap-43.delta.msgpack");
    run_tool(&r, 0,
             (const char *[]){"convert", "--source", "tap", "--sequence", "43", "--generated-at", "2026-11-21T21:00:00Z", in, out,
                              NULL});
    CHECK_EQ_INT(r.status, 0);
    CHECK_HAS(r.out, "valid delta of source tap, sequence 43, 1 upsert, 2 removes");
    run_free(&r);
    CHECK_EQ_INT(load_msgpack(out, &doc, &bytes), 0);
    if (doc.root != NULL) {
        CHECK(e2e_mp_int(doc.root, "sequence", &v) && v == 43);
        const msgpack_object_array *up = e2e_mp_array(doc.root, "upsert");
        const msgpack_object_array *rm = e2e_mp_array(doc.root, "remove");
        CHECK(up != NULL && up->size == 1);
        CHECK(rm != NULL && rm->size == 2);
        if (up != NULL && up->size == 1)
            check_leg(&up->ptr[0], &legs[0]);
        static const char *const carriers[2] = {"TP", "LA"}, *const dates[2] = {"2026-12-03", "2026-12-04"};
        static const int flights[2] = {84, 8084};
        for (unsigned i = 0; rm != NULL && i < rm->size && i < 2; i++) {
            CHECK_EQ_INT(rm->ptr[i].via.map.size, 4);
            CHECK_EQ_STR(e2e_mp_str(&rm->ptr[i], "carrier", buf, sizeof(buf)), carriers[i]);
            CHECK(e2e_mp_int(&rm->ptr[i], "flight", &v) && v == flights[i]);
            CHECK_EQ_STR(e2e_mp_str(&rm->ptr[i], "origin", buf, sizeof(buf)), "GRU");
            CHECK_EQ_STR(e2e_mp_str(&rm->ptr[i], "date", buf, sizeof(buf)), dates[i]);
        }
    }
    e2e_mp_free(&doc);
    free(bytes);
    run_tool(&r, 0, (const char *[]){"validate", out, NULL});
    CHECK_EQ_INT(r.status, 0);
    CHECK_HAS(r.out, "valid delta of source tap, sequence 43, 1 upsert, 2 removes");
    run_free(&r);

    /* The action column makes no sense in a snapshot. */
    path_of(out, sizeof(out), "not-a-delta.msgpack");
    run_tool(&r, 0, (const char *[]){"convert", "--source", "tap", "--sequence", "43", in, out, NULL});
    CHECK_EQ_INT(r.status, 1);
    CHECK_HAS(r.err, "line 1, column action");
    CHECK(!exists(out));
    run_free(&r);
}

static void test_convert_jsonl(void)
{
    char in[512], out[512], *bytes = NULL, line[1024], text[8192];
    e2e_mp_t doc;
    run_t r;
    size_t n = 0;

    /* The test's legs as JSON Lines, keys in another order, one blank line. */
    for (int i = 0; i < LEG_COUNT; i++) {
        const t_leg_t *l = &legs[i];
        int k = snprintf(line, sizeof(line), "{\"cabins\":{");
        int first = 1;
        for (int c = 0; c < E2E_CABINS; c++) {
            if (!l->cabin[c].present)
                continue;
            k += snprintf(line + k, sizeof(line) - (size_t)k,
                          "%s\"%s\":{\"currency\":\"%s\",\"seats\":%u,\"miles\":%u,\"taxes_cents\":%u}", first ? "" : ",",
                          e2e_cabin_names[c], l->cabin[c].currency, l->cabin[c].seats, l->cabin[c].miles, l->cabin[c].taxes);
            first = 0;
        }
        snprintf(line + k, sizeof(line) - (size_t)k,
                 "},\"flight\":%u,\"carrier\":\"%s\",\"origin\":\"%s\",\"destination\":\"%s\",\"departs_at\":\"%s\","
                 "\"arrives_at\":\"%s\"}\n%s",
                 l->flight, l->carrier, l->origin, l->destination, l->departs_at, l->arrives_at, i == 0 ? "\n" : "");
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%s", line);
    }
    write_text("legs.jsonl", text);
    path_of(in, sizeof(in), "legs.jsonl");
    path_of(out, sizeof(out), "from-jsonl.msgpack");
    run_tool(&r, 0, (const char *[]){"convert", "--source", "tap", "--sequence", "44", in, out, NULL});
    CHECK_EQ_INT(r.status, 0);
    CHECK_HAS(r.out, "valid snapshot of source tap, sequence 44, 3 legs");
    run_free(&r);
    if (load_msgpack(out, &doc, &bytes) == 0) {
        const msgpack_object_array *a = e2e_mp_array(doc.root, "legs");
        CHECK(a != NULL && a->size == LEG_COUNT);
        for (unsigned i = 0; a != NULL && i < a->size && i < LEG_COUNT; i++)
            check_leg(&a->ptr[i], &legs[i]);
    } else {
        CHECK(0);
    }
    e2e_mp_free(&doc);
    free(bytes);

    /* Problems by line: a fraction (line 2), not JSON (line 3), not an object (line 4), a remove in
     * a snapshot (line 5), then the server's check on line 6 (miles 0). */
    write_text(
        "bad.jsonl",
        "{\"carrier\":\"TP\",\"flight\":82,\"origin\":\"GRU\",\"destination\":\"LIS\",\"departs_at\":\"2026-12-01T21:35:00-03:00\","
        "\"arrives_at\":\"2026-12-02T11:05:00+00:00\",\"cabins\":{\"economy\":{\"seats\":9,\"miles\":35000,\"taxes_cents\":1,"
        "\"currency\":\"BRL\"}}}\n"
        "{\"carrier\":\"TP\",\"flight\":83,\"origin\":\"GRU\",\"destination\":\"LIS\",\"departs_at\":\"2026-12-01T21:35:00-03:00\","
        "\"arrives_at\":\"2026-12-02T11:05:00+00:00\",\"cabins\":{\"economy\":{\"seats\":9,\"miles\":35000.5,\"taxes_cents\":1,"
        "\"currency\":\"BRL\"}}}\n"
        "{\"carrier\":\"TP\" \"flight\":84}\n"
        "[1,2]\n"
        "{\"remove\":{\"carrier\":\"TP\",\"flight\":82,\"origin\":\"GRU\",\"date\":\"2026-12-01\"}}\n");
    path_of(in, sizeof(in), "bad.jsonl");
    run_tool(&r, 0, (const char *[]){"convert", "--source", "tap", "--sequence", "44", in, out, NULL});
    CHECK_EQ_INT(r.status, 1);
    CHECK_HAS(r.err, "line 2, field cabins.economy.miles: 35000.5 is not a whole number");
    CHECK_HAS(r.err, "line 3: not valid JSON");
    CHECK_HAS(r.err, "line 4: must be a JSON object");
    CHECK_HAS(r.err, "line 5: a {\"remove\": ...} line is only for deltas");
    run_free(&r);

    write_text(
        "bad2.jsonl",
        "\n{\"remove\":{\"carrier\":\"TP\",\"flight\":82,\"origin\":\"GRU\",\"date\":\"2026-12-01\"}}\n"
        "{\"carrier\":\"TP\",\"flight\":83,\"origin\":\"GRU\",\"destination\":\"LIS\",\"departs_at\":\"2026-12-01T21:35:00-03:00\","
        "\"arrives_at\":\"2026-12-02T11:05:00+00:00\",\"cabins\":{\"economy\":{\"seats\":9,\"miles\":0,\"taxes_cents\":1,"
        "\"currency\":\"BRL\"}}}\n");
    path_of(in, sizeof(in), "bad2.jsonl");
    path_of(out, sizeof(out), "bad2.delta.msgpack");
    run_tool(&r, 0, (const char *[]){"convert", "--source", "tap", "--sequence", "44", in, out, NULL});
    CHECK_EQ_INT(r.status, 1);
    CHECK_HAS(r.err, "line 3, field cabins.economy.miles: must be between 1 and 10000000, got 0");
    CHECK_HAS(r.out, "\"field\":\"upsert.cabins.economy.miles\"");
    CHECK(!exists(out));
    run_free(&r);
}

static void test_convert_errors(void)
{
    char in[512], out[512];
    run_t r;

    path_of(out, sizeof(out), "bad.msgpack");

    /* Shape problems, each named by line and column; the rest of the file is still read. */
    write_text("bad.csv", "carrier,flight,origin,destination,departs_at,arrives_at,cabin,seats,miles,taxes_cents,currency\n"
                          "TP,82,GRU,LIS,2026-12-01T21:35:00-03:00,2026-12-02T11:05:00+00:00,economy,9,35000,12345,BRL\n"
                          "TP,83,GRU,LIS,2026-12-01T21:35:00-03:00,2026-12-02T11:05:00+00:00,economy,9,35000,12345,BRL\n"
                          "TP,84,GRU,LIS,2026-12-01T21:35:00-03:00,2026-12-02T11:05:00+00:00,economy,9,abc,12345,BRL\n"
                          "TP,85,GRU,LIS,2026-12-01T21:35:00-03:00,2026-12-02T11:05:00+00:00,coach,9,1,12345,BRL\n"
                          "TP,86,GRU,LIS,2026-12-01T21:35:00-03:00,2026-12-02T11:05:00+00:00,economy,9,1\n"
                          "TP,8x,GRU,LIS,2026-12-01T21:35:00-03:00,2026-12-02T11:05:00+00:00,economy,9,1,1,BRL\n"
                          "TP,82,GRU,LIS,2026-12-01T21:35:00-03:00,2026-12-02T11:05:00+00:00,economy,9,1,1,BRL\n");
    path_of(in, sizeof(in), "bad.csv");
    run_tool(&r, 0, (const char *[]){"convert", "--source", "tap", "--sequence", "1", in, out, NULL});
    CHECK_EQ_INT(r.status, 1);
    CHECK_HAS(r.err, "line 4, column miles: 'abc' is not a whole number");
    CHECK_HAS(r.err, "line 5, column cabin: 'coach' is not a cabin");
    CHECK_HAS(r.err, "line 6: 9 fields, but the header has 11 columns");
    CHECK_HAS(r.err, "line 7, column flight: '8x' is not a whole number");
    CHECK_HAS(r.err, "line 8, column cabin: economy is already given for this flight on line 2");
    CHECK_HAS(r.err, "5 problems");
    CHECK(!exists(out));
    run_free(&r);

    /* An unknown column, and a missing one. */
    write_text("cols.csv", "carrier,flight,origin,destination,departs_at,arrives_at,cabin,seats,miles,taxes_cents,gate\n"
                           "TP,82,GRU,LIS,2026-12-01T21:35:00-03:00,2026-12-02T11:05:00+00:00,economy,9,35000,12345,B4\n");
    path_of(in, sizeof(in), "cols.csv");
    run_tool(&r, 0, (const char *[]){"convert", "--source", "tap", "--sequence", "1", in, out, NULL});
    CHECK_EQ_INT(r.status, 1);
    CHECK_HAS(r.err, "line 1, column gate: unknown column");
    CHECK_HAS(r.err, "line 1, column currency: is missing from the header");
    CHECK(!exists(out));
    run_free(&r);

    /* The server's rules, found by the decoder after conversion, told by CSV line and column:
     * line 3 is leg 0's business cabin (miles 0), line 4 a second leg with a 3-letter carrier. */
    write_text("rules.csv", "carrier,flight,origin,destination,departs_at,arrives_at,cabin,seats,miles,taxes_cents,currency\n"
                            "TP,82,GRU,LIS,2026-12-01T21:35:00-03:00,2026-12-02T11:05:00+00:00,economy,9,35000,12345,BRL\n"
                            "TP,82,GRU,LIS,2026-12-01T21:35:00-03:00,2026-12-02T11:05:00+00:00,business,100,0,12345,BRL\n"
                            "TAP,83,GRU,LIS,2026-12-01T21:35:00-03:00,2026-12-02T11:05:00+00:00,economy,9,35000,12345,BRL\n");
    path_of(in, sizeof(in), "rules.csv");
    run_tool(&r, 0, (const char *[]){"convert", "--source", "tap", "--sequence", "1", in, out, NULL});
    CHECK_EQ_INT(r.status, 1);
    CHECK_HAS(r.err, "line 3, column seats: must be between 0 and 99, got 100");
    CHECK_HAS(r.err, "line 3, column miles: must be between 1 and 10000000, got 0");
    CHECK_HAS(r.err, "line 4, column carrier: must be a 2-character airline code");
    CHECK_HAS(r.out, "\"code\":\"invalid_feed\"");
    CHECK_HAS(r.out, "\"field\":\"cabins.business.miles\"");
    CHECK(!exists(out));
    run_free(&r);

    /* Usage errors exit 2. */
    path_of(in, sizeof(in), "legs.csv");
    run_tool(&r, 0, (const char *[]){"convert", "--sequence", "1", in, out, NULL});
    CHECK_EQ_INT(r.status, 2);
    CHECK_HAS(r.err, "--source");
    run_free(&r);
    run_tool(&r, 0, (const char *[]){"convert", "--source", "TAP", "--sequence", "1", in, out, NULL});
    CHECK_EQ_INT(r.status, 2);
    run_free(&r);
    run_tool(&r, 0, (const char *[]){"convert", "--source", "tap", "--sequence", "0", in, out, NULL});
    CHECK_EQ_INT(r.status, 2);
    run_free(&r);
    run_tool(&r, 0,
             (const char *[]){"convert", "--source", "tap", "--sequence", "1", "--generated-at", "yesterday", in, out, NULL});
    CHECK_EQ_INT(r.status, 2);
    run_free(&r);
    run_tool(&r, 0, (const char *[]){"convert", "--source", "tap", "--sequence", "1", "/nonexistent/x.csv", out, NULL});
    CHECK_EQ_INT(r.status, 2);
    CHECK_HAS(r.err, "cannot read");
    run_free(&r);
}

/* -------------------------------------------------------------- validate */

static void test_validate(void)
{
    char good[512], p[512], expect[1024];
    run_t r;

    path_of(good, sizeof(good), "tap-42.msgpack");

    /* A refused file: leg 1 with miles 0 in economy and an unknown field; the server's document on
     * stdout, a list on stderr. */
    e2e_leg_t bad_legs[2] = {
        {"TP", 82, "GRU", "LIS", "2026-12-01T21:35:00-03:00", "2026-12-02T11:05:00+00:00", {{1, 9, 35000, 12345, "BRL"}}},
        {"TP", 84, "GRU", "LIS", "2026-12-03T21:35:00-03:00", "2026-12-04T11:05:00+00:00", {{1, 9, 0, 12345, "BRL"}}},
    };
    e2e_feed_t feed = {"tap", 42, "2026-11-21T20:00:00Z", bad_legs, 2};
    path_of(p, sizeof(p), "refused.msgpack");
    CHECK_EQ_INT(e2e_feed_write_msgpack(p, &feed), 0);
    run_tool(&r, 0, (const char *[]){"validate", p, NULL});
    CHECK_EQ_INT(r.status, 1);
    {
        msgpack_zone zone;
        msgpack_object obj;
        size_t at;
        char buf[128];
        int64_t v;
        msgpack_zone_init(&zone, 4096);
        size_t n = strlen(r.out);
        CHECK(n > 0 && r.out[n - 1] == '\n' && strchr(r.out, '\n') == r.out + n - 1); /* one line */
        CHECK_EQ_INT(e2e_json_parse(r.out, n, &zone, &obj, &at), 0);
        const msgpack_object *e = e2e_mp_get(&obj, "error");
        CHECK_EQ_STR(e2e_mp_str(e, "code", buf, sizeof(buf)), "invalid_feed");
        const msgpack_object_array *errs = e2e_mp_array(e, "errors");
        CHECK(errs != NULL && errs->size == 1);
        if (errs != NULL && errs->size == 1) {
            CHECK(e2e_mp_int(&errs->ptr[0], "index", &v) && v == 1);
            CHECK_EQ_STR(e2e_mp_str(&errs->ptr[0], "field", buf, sizeof(buf)), "cabins.economy.miles");
        }
        msgpack_zone_destroy(&zone);
    }
    CHECK_HAS(r.err, "record 1, field cabins.economy.miles: must be between 1 and 10000000, got 0");
    run_free(&r);

    /* The same as JSON, with --format (the name says nothing). */
    path_of(p, sizeof(p), "refused.feed");
    CHECK_EQ_INT(e2e_feed_write_json(p, &feed), 0);
    run_tool(&r, 0, (const char *[]){"validate", p, NULL});
    CHECK_EQ_INT(r.status, 2);
    CHECK_HAS(r.err, "--format");
    run_free(&r);
    run_tool(&r, 0, (const char *[]){"validate", "--format", "json", p, NULL});
    CHECK_EQ_INT(r.status, 1);
    CHECK_HAS(r.err, "record 1, field cabins.economy.miles");
    run_free(&r);

    /* Malformed: a truncated body is a malformed_feed (the server's 400). */
    size_t len;
    char *bytes = e2e_read_file(good, &len);
    CHECK(bytes != NULL);
    if (bytes != NULL) {
        path_of(p, sizeof(p), "truncated.msgpack");
        e2e_write_file(p, bytes, len - 7);
        run_tool(&r, 0, (const char *[]){"validate", p, NULL});
        CHECK_EQ_INT(r.status, 1);
        CHECK_HAS(r.out, "\"code\":\"malformed_feed\"");
        CHECK_HAS(r.err, "malformed_feed");
        run_free(&r);
        free(bytes);
    }

    /* Kind overrides: a snapshot checked as a delta is refused ("legs" is not a delta's field). */
    run_tool(&r, 0, (const char *[]){"validate", "--delta", good, NULL});
    CHECK_EQ_INT(r.status, 1);
    CHECK_HAS(r.err, "field legs: unknown field");
    run_free(&r);
    /* --source checks the source as a push to that source would. */
    run_tool(&r, 0, (const char *[]){"validate", "--source", "latam", good, NULL});
    CHECK_EQ_INT(r.status, 1);
    CHECK_HAS(r.err, "field source:");
    run_free(&r);

    /* Several files: each gets its line; the worst exit code wins. */
    path_of(p, sizeof(p), "refused.msgpack");
    run_tool(&r, 0, (const char *[]){"validate", good, p, NULL});
    CHECK_EQ_INT(r.status, 1);
    snprintf(expect, sizeof(expect), "%s: valid snapshot of source tap, sequence 42, 3 legs\n", good);
    CHECK(strncmp(r.out, expect, strlen(expect)) == 0);
    run_free(&r);

    /* Unreadable: exit 2. */
    path_of(p, sizeof(p), "missing.msgpack");
    run_tool(&r, 0, (const char *[]){"validate", p, NULL});
    CHECK_EQ_INT(r.status, 2);
    CHECK_HAS(r.err, "cannot read");
    CHECK_EQ_STR(r.out, "");
    run_free(&r);
    run_tool(&r, 0, (const char *[]){"validate", NULL});
    CHECK_EQ_INT(r.status, 2);
    run_free(&r);
}

/* ------------------------------------------------------------ fake server */

typedef struct fake_reply {
    int status;          /* 0: close the connection without answering */
    const char *headers; /* extra header lines, each ending in \r\n */
    const char *body;
} fake_reply_t;

typedef struct fake {
    int fd;
    unsigned port;
    pthread_t thread;
    volatile int stop;
    pthread_mutex_t mu;
    fake_reply_t replies[8];
    int reply_count; /* request i gets replies[min(i, count-1)] */
    int requests;
    /* the last request */
    char method[16], path[256], auth[512], content_type[128];
    char *body;
    size_t body_len;
} fake_t;

static int find_header(const char *head, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p != NULL; p = strstr(p + 2, "\r\n")) {
        const char *h = p + 2;
        if (strncasecmp(h, name, n) == 0 && h[n] == ':') {
            h += n + 1;
            while (*h == ' ')
                h++;
            const char *e = strstr(h, "\r\n");
            size_t len = e != NULL ? (size_t)(e - h) : strlen(h);
            if (len >= cap)
                len = cap - 1;
            memcpy(out, h, len);
            out[len] = '\0';
            return 1;
        }
    }
    return 0;
}

static void fake_serve(fake_t *f, int c)
{
    char head[65536], value[256];
    size_t n = 0;
    char *end = NULL;

    while (n < sizeof(head) - 1) {
        ssize_t got = read(c, head + n, sizeof(head) - 1 - n);
        if (got <= 0)
            return;
        n += (size_t)got;
        head[n] = '\0';
        if ((end = strstr(head, "\r\n\r\n")) != NULL)
            break;
    }
    if (end == NULL)
        return;
    size_t head_len = (size_t)(end - head) + 4;
    size_t clen = find_header(head, "Content-Length", value, sizeof(value)) ? strtoul(value, NULL, 10) : 0;
    if (find_header(head, "Expect", value, sizeof(value)) && strcasecmp(value, "100-continue") == 0) {
        const char *cont = "HTTP/1.1 100 Continue\r\n\r\n";
        if (write(c, cont, strlen(cont)) < 0)
            return;
    }
    char *body = malloc(clen + 1);
    size_t have = n - head_len < clen ? n - head_len : clen;
    memcpy(body, head + head_len, have);
    while (have < clen) {
        ssize_t got = read(c, body + have, clen - have);
        if (got <= 0)
            break;
        have += (size_t)got;
    }

    pthread_mutex_lock(&f->mu);
    int i = f->requests++;
    sscanf(head, "%15s %255s", f->method, f->path);
    if (!find_header(head, "Authorization", f->auth, sizeof(f->auth)))
        f->auth[0] = '\0';
    if (!find_header(head, "Content-Type", f->content_type, sizeof(f->content_type)))
        f->content_type[0] = '\0';
    free(f->body);
    f->body = body;
    f->body_len = have;
    fake_reply_t rep = f->replies[i < f->reply_count ? i : f->reply_count - 1];
    pthread_mutex_unlock(&f->mu);

    if (rep.status == 0)
        return;
    char out[8192];
    int len =
        snprintf(out, sizeof(out),
                 "HTTP/1.1 %d Whatever\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n%s",
                 rep.status, strlen(rep.body), rep.headers != NULL ? rep.headers : "", rep.body);
    if (write(c, out, (size_t)len) < 0)
        return;
}

static void *fake_main(void *arg)
{
    fake_t *f = arg;
    while (!f->stop) {
        struct pollfd p = {f->fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int c = accept(f->fd, NULL, NULL);
        if (c < 0)
            continue;
        fake_serve(f, c);
        shutdown(c, SHUT_WR);
        close(c);
    }
    return NULL;
}

static int fake_start(fake_t *f)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);

    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->mu, NULL);
    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (f->fd < 0 || bind(f->fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(f->fd, 16) != 0 ||
        getsockname(f->fd, (struct sockaddr *)&a, &alen) != 0)
        return -1;
    f->port = ntohs(a.sin_port);
    return pthread_create(&f->thread, NULL, fake_main, f) == 0 ? 0 : -1;
}

/* New replies and a zero request count, between runs of the tool. */
static void fake_script(fake_t *f, const fake_reply_t *replies, int count)
{
    pthread_mutex_lock(&f->mu);
    for (int i = 0; i < count && i < 8; i++)
        f->replies[i] = replies[i];
    f->reply_count = count;
    f->requests = 0;
    f->method[0] = f->path[0] = f->auth[0] = f->content_type[0] = '\0';
    free(f->body);
    f->body = NULL;
    f->body_len = 0;
    pthread_mutex_unlock(&f->mu);
}

static void fake_stop(fake_t *f)
{
    f->stop = 1;
    pthread_join(f->thread, NULL);
    close(f->fd);
    free(f->body);
}

/* A snapshot of n legs written by convert from a CSV the test generates (one cabin each, keys
 * unique by flight and day), for bodies over 1 MiB. */
static int write_big(const char *name, const char *source, unsigned sequence, unsigned n)
{
    char csv[512], out[512], seq[32];
    size_t cap = (size_t)n * 160 + 256, len = 0;
    char *text = malloc(cap);

    len += (size_t)snprintf(text + len, cap - len,
                            "carrier,flight,origin,destination,departs_at,arrives_at,cabin,seats,miles,taxes_cents,currency\n");
    for (unsigned i = 0; i < n; i++) {
        int y, m, d;
        e2e_civil(e2e_days(2026, 12, 1) + (int32_t)(i / 9999), &y, &m, &d);
        len += (size_t)snprintf(text + len, cap - len,
                                "TP,%u,GRU,LIS,%04d-%02d-%02dT10:00:00+00:00,%04d-%02d-%02dT12:30:00+01:00,economy,%u,%u,%u,EUR\n",
                                1 + i % 9999, y, m, d, y, m, d, i % 10, 30000 + i, i);
    }
    path_of(csv, sizeof(csv), "big.csv");
    e2e_write_file(csv, text, len);
    free(text);
    path_of(out, sizeof(out), name);
    snprintf(seq, sizeof(seq), "%u", sequence);
    run_t r;
    run_tool(&r, 0, (const char *[]){"convert", "--source", source, "--sequence", seq, csv, out, NULL});
    int rc = r.status;
    if (rc != 0)
        fprintf(stderr, "convert big: %s\n", r.err);
    run_free(&r);
    return rc;
}

static void test_push_fake(void)
{
    char url[64], token_file[512], snap[512], p[512], big[512];
    fake_t f;
    run_t r;

    if (fake_start(&f) != 0) {
        fprintf(stderr, "cannot start the fake server\n");
        CHECK(0);
        return;
    }
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/", f.port); /* a trailing slash is fine */
    write_text("token", "\n  \n" TOKEN "\nsecond-line-ignored\n");
    path_of(token_file, sizeof(token_file), "token");
    path_of(snap, sizeof(snap), "tap-42.msgpack");
    const char *applied =
        "{\"source\":\"tap\",\"sequence\":42,\"generation\":7,\"legs\":3,\"upserted\":3,\"removed\":0,\"took_ms\":1}";

    /* A snapshot: PUT, msgpack, the token, the file's bytes. */
    fake_script(&f, (fake_reply_t[]){{200, NULL, applied}}, 1);
    run_tool(&r, 0, (const char *[]){"push", "--url", url, "--token-file", token_file, snap, NULL});
    CHECK_EQ_INT(r.status, 0);
    char expect[512];
    snprintf(expect, sizeof(expect), "%s\n", applied);
    CHECK_EQ_STR(r.out, expect);
    CHECK_LACKS(r.out, TOKEN);
    CHECK_LACKS(r.err, TOKEN);
    run_free(&r);
    CHECK_EQ_INT(f.requests, 1);
    CHECK_EQ_STR(f.method, "PUT");
    CHECK_EQ_STR(f.path, "/v1/feeds/tap/snapshot");
    CHECK_EQ_STR(f.content_type, "application/msgpack");
    CHECK_EQ_STR(f.auth, "Bearer " TOKEN);
    {
        size_t len;
        char *bytes = e2e_read_file(snap, &len);
        CHECK(bytes != NULL && f.body != NULL && f.body_len == len && memcmp(bytes, f.body, len) == 0);
        free(bytes);
    }

    /* A delta, as JSON: POST .../deltas. */
    path_of(p, sizeof(p), "changes.csv");
    char delta_json[512];
    path_of(delta_json, sizeof(delta_json), "tap-43.delta.json");
    run_tool(&r, 0, (const char *[]){"convert", "--source", "tap", "--sequence", "43", p, delta_json, NULL});
    CHECK_EQ_INT(r.status, 0);
    run_free(&r);
    fake_script(&f, (fake_reply_t[]){{200, NULL, "{\"source\":\"tap\",\"sequence\":43}"}}, 1);
    run_tool(&r, 0, (const char *[]){"push", "--url", url, "--token-file", token_file, delta_json, NULL});
    CHECK_EQ_INT(r.status, 0);
    run_free(&r);
    CHECK_EQ_STR(f.method, "POST");
    CHECK_EQ_STR(f.path, "/v1/feeds/tap/deltas");
    CHECK_EQ_STR(f.content_type, "application/json");

    /* 422: the server's document on stdout, each problem on stderr. */
    const char *invalid =
        "{\"error\":{\"code\":\"invalid_feed\",\"message\":\"2 problems in the feed; nothing was applied\",\"errors\":["
        "{\"index\":2,\"field\":\"cabins.economy.miles\",\"reason\":\"must be between 1 and 10000000, got 0\"},"
        "{\"index\":-1,\"field\":\"sequence\",\"reason\":\"must be between 1 and 18446744073709551615, got 0\"}]}}";
    fake_script(&f, (fake_reply_t[]){{422, NULL, invalid}}, 1);
    run_tool(&r, 0, (const char *[]){"push", "--url", url, "--token-file", token_file, snap, NULL});
    CHECK_EQ_INT(r.status, 1);
    snprintf(expect, sizeof(expect), "%s\n", invalid);
    CHECK_EQ_STR(r.out, expect);
    CHECK_HAS(r.err, "HTTP 422 invalid_feed: 2 problems in the feed");
    CHECK_HAS(r.err, "record 2, field cabins.economy.miles: must be between 1 and 10000000, got 0");
    CHECK_HAS(r.err, "field sequence: must be between");
    run_free(&r);

    /* 409 with the server's sequence. */
    fake_script(&f,
                (fake_reply_t[]){{409, NULL,
                                  "{\"error\":{\"code\":\"stale_sequence\",\"message\":\"sequence 42 is not above 50\","
                                  "\"current_sequence\":50}}"}},
                1);
    run_tool(&r, 0, (const char *[]){"push", "--url", url, "--token-file", token_file, snap, NULL});
    CHECK_EQ_INT(r.status, 1);
    CHECK_HAS(r.out, "stale_sequence");
    CHECK_HAS(r.err, "HTTP 409 stale_sequence: sequence 42 is not above 50");
    CHECK_HAS(r.err, "sequence 50");
    run_free(&r);

    /* 401. */
    fake_script(&f, (fake_reply_t[]){{401, NULL, "{\"error\":{\"code\":\"unauthorized\",\"message\":\"bad token\"}}"}}, 1);
    run_tool(&r, 0, (const char *[]){"push", "--url", url, "--token-file", token_file, snap, NULL});
    CHECK_EQ_INT(r.status, 1);
    CHECK_HAS(r.err, "HTTP 401 unauthorized: bad token");
    CHECK_LACKS(r.err, TOKEN);
    run_free(&r);

    /* 503 then 200: retried after Retry-After (0 s here). */
    const char *busy = "{\"error\":{\"code\":\"busy\",\"message\":\"retry\"}}";
    fake_script(&f, (fake_reply_t[]){{503, "Retry-After: 0\r\n", busy}, {200, NULL, applied}}, 2);
    run_tool(&r, 0, (const char *[]){"push", "--url", url, "--token-file", token_file, snap, NULL});
    CHECK_EQ_INT(r.status, 0);
    CHECK_EQ_INT(f.requests, 2);
    CHECK_HAS(r.err, "503");
    run_free(&r);

    /* 503 for good: --retries 1 means two attempts, then exit 3. */
    fake_script(&f, (fake_reply_t[]){{503, "Retry-After: 0\r\n", busy}}, 1);
    run_tool(&r, 0, (const char *[]){"push", "--url", url, "--token-file", token_file, "--retries", "1", snap, NULL});
    CHECK_EQ_INT(r.status, 3);
    CHECK_EQ_INT(f.requests, 2);
    CHECK_HAS(r.out, "busy");
    run_free(&r);

    /* A connection closed without an answer, then 200: retried after 1 s. */
    fake_script(&f, (fake_reply_t[]){{0, NULL, ""}, {200, NULL, applied}}, 2);
    run_tool(&r, 0, (const char *[]){"push", "--url", url, "--token-file", token_file, "--retries", "2", snap, NULL});
    CHECK_EQ_INT(r.status, 0);
    CHECK_EQ_INT(f.requests, 2);
    run_free(&r);

    /* A file the server would refuse is not sent. */
    path_of(p, sizeof(p), "refused.msgpack");
    fake_script(&f, (fake_reply_t[]){{200, NULL, applied}}, 1);
    run_tool(&r, 0, (const char *[]){"push", "--url", url, "--token-file", token_file, p, NULL});
    CHECK_EQ_INT(r.status, 1);
    CHECK_HAS(r.out, "invalid_feed");
    CHECK_HAS(r.err, "not sent");
    CHECK_EQ_INT(f.requests, 0);
    run_free(&r);
    /* Nor one whose source is not --source. */
    run_tool(&r, 0, (const char *[]){"push", "--url", url, "--token-file", token_file, "--source", "latam", snap, NULL});
    CHECK_EQ_INT(r.status, 1);
    CHECK_EQ_INT(f.requests, 0);
    run_free(&r);

    /* A snapshot without legs would empty the source: sent only with --allow-empty. */
    write_text("empty.csv", "carrier,flight,origin,destination,departs_at,arrives_at,cabin,seats,miles,taxes_cents,currency\n");
    {
        char in[512], out[512];
        path_of(in, sizeof(in), "empty.csv");
        path_of(out, sizeof(out), "empty.msgpack");
        run_tool(&r, 0, (const char *[]){"convert", "--source", "tap", "--sequence", "99", in, out, NULL});
        CHECK_EQ_INT(r.status, 0);
        CHECK_HAS(r.out, "valid snapshot of source tap, sequence 99, 0 legs");
        CHECK_HAS(r.err, "warning");
        run_free(&r);
        run_tool(&r, 0, (const char *[]){"push", "--url", url, "--token-file", token_file, out, NULL});
        CHECK_EQ_INT(r.status, 1);
        CHECK_HAS(r.err, "--allow-empty");
        CHECK_EQ_INT(f.requests, 0);
        run_free(&r);
        run_tool(&r, 0, (const char *[]){"push", "--url", url, "--token-file", token_file, "--allow-empty", out, NULL});
        CHECK_EQ_INT(r.status, 0);
        CHECK_EQ_INT(f.requests, 1);
        run_free(&r);
        fake_script(&f, (fake_reply_t[]){{200, NULL, applied}}, 1);
    }

    /* Token and usage problems: exit 2, nothing sent. */
    write_text("empty-token", "\n \n");
    path_of(p, sizeof(p), "empty-token");
    run_tool(&r, 0, (const char *[]){"push", "--url", url, "--token-file", p, snap, NULL});
    CHECK_EQ_INT(r.status, 2);
    CHECK_HAS(r.err, "no token");
    run_free(&r);
    path_of(p, sizeof(p), "no-such-token");
    run_tool(&r, 0, (const char *[]){"push", "--url", url, "--token-file", p, snap, NULL});
    CHECK_EQ_INT(r.status, 2);
    run_free(&r);
    run_tool(&r, 0, (const char *[]){"push", "--token-file", token_file, snap, NULL});
    CHECK_EQ_INT(r.status, 2);
    CHECK_HAS(r.err, "--url");
    run_free(&r);
    CHECK_EQ_INT(f.requests, 0);

    /* Progress: a body over 1 MiB shows a bar on a terminal, and nothing when stderr is a pipe. */
    CHECK_EQ_INT(write_big("big-60.msgpack", "tap", 60, 12000), 0);
    path_of(big, sizeof(big), "big-60.msgpack");
    fake_script(&f, (fake_reply_t[]){{200, NULL, applied}}, 1);
    run_tool(&r, 1, (const char *[]){"push", "--url", url, "--token-file", token_file, big, NULL});
    CHECK_EQ_INT(r.status, 0);
    CHECK_HAS(r.err, "] 100% ");
    CHECK_HAS(r.err, " MiB/s");
    CHECK_HAS(r.err, "[##############################]");
    CHECK_LACKS(r.err, TOKEN);
    run_free(&r);
    {
        size_t len;
        char *bytes = e2e_read_file(big, &len);
        CHECK(len > 1024 * 1024);
        CHECK(bytes != NULL && f.body_len == len && memcmp(bytes, f.body, len) == 0);
        free(bytes);
    }
    run_tool(&r, 0, (const char *[]){"push", "--url", url, "--token-file", token_file, big, NULL});
    CHECK_EQ_INT(r.status, 0);
    CHECK_LACKS(r.err, "[#");
    run_free(&r);

    fake_stop(&f);

    /* Nobody listening: exit 3 with curl's words. */
    unsigned port = e2e_free_port();
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", port);
    run_tool(&r, 0, (const char *[]){"push", "--url", url, "--token-file", token_file, "--retries", "0", snap, NULL});
    CHECK_EQ_INT(r.status, 3);
    CHECK_HAS(r.err, "onnect");
    run_free(&r);
}

/* ---------------------------------------------------------- real server */

/* A field of a one-line JSON answer, parsed (the server may space its JSON as it likes). */
static int64_t answer_int(const char *text, const char *key)
{
    msgpack_zone zone;
    msgpack_object obj;
    size_t at;
    int64_t v = -1;

    msgpack_zone_init(&zone, 4096);
    if (text != NULL && e2e_json_parse(text, strlen(text), &zone, &obj, &at) == 0 && !e2e_mp_int(&obj, key, &v))
        v = -1;
    msgpack_zone_destroy(&zone);
    return v;
}

static int answer_str_is(const char *text, const char *path1, const char *path2, const char *want)
{
    msgpack_zone zone;
    msgpack_object obj;
    size_t at;
    int ok = 0;

    msgpack_zone_init(&zone, 4096);
    if (text != NULL && e2e_json_parse(text, strlen(text), &zone, &obj, &at) == 0) {
        const msgpack_object *o = e2e_mp_get(&obj, path1);
        if (o != NULL && path2 != NULL)
            o = e2e_mp_get(o, path2);
        ok = o != NULL && e2e_mp_str_is(o, want);
    }
    msgpack_zone_destroy(&zone);
    return ok;
}

static int answer_true(const char *text, const char *key)
{
    msgpack_zone zone;
    msgpack_object obj;
    size_t at;
    int ok = 0;

    msgpack_zone_init(&zone, 4096);
    if (text != NULL && e2e_json_parse(text, strlen(text), &zone, &obj, &at) == 0) {
        const msgpack_object *o = e2e_mp_get(&obj, key);
        ok = o != NULL && o->type == MSGPACK_OBJECT_BOOLEAN && o->via.boolean;
    }
    msgpack_zone_destroy(&zone);
    return ok;
}

static void test_push_server(void)
{
    char data[512], tokens[512], token_file[512], bad_token[512], p[512], q[512], url[256];
    e2e_server_t s;
    run_t r;
    const char *extra[4] = {NULL};

    /* The server takes its tokens from --tokens FILE ("TOKEN SCOPE" lines) when it has the flag. */
    char *help = NULL;
    char *argv[3] = {(char *)server_bin, "--help", NULL};
    e2e_run(argv, &help, 10000);
    path_of(tokens, sizeof(tokens), "server-tokens");
    write_text("server-tokens", TOKEN " *\n");
    if (help != NULL && strstr(help, "--tokens") != NULL) {
        extra[0] = "--tokens";
        extra[1] = tokens;
    }
    free(help);

    snprintf(data, sizeof(data), "%s/server-data", dir);
    mkdir(data, 0755);
    if (e2e_server_start(&s, server_bin, data, extra) != 0) {
        CHECK(0);
        return;
    }
    e2e_client_t c;
    e2e_response_t res;
    e2e_client_init(&c);
    snprintf(url, sizeof(url), "%s/v1/feeds/x/snapshot", s.url);
    int have_feeds = e2e_request(&c, E2E_H1, "PUT", url, NULL, "", 0, &res) == 0 && res.status != 404;
    e2e_response_free(&res);
    if (!have_feeds) {
        printf("note: the server has no feed endpoints yet (PUT /v1/feeds/x/snapshot is 404); push to the real server "
               "skipped\n");
        e2e_client_free(&c);
        e2e_server_stop(&s);
        return;
    }
    path_of(token_file, sizeof(token_file), "token");
    write_text("bad-token", "not-the-right-token-at-all\n");
    path_of(bad_token, sizeof(bad_token), "bad-token");
    path_of(p, sizeof(p), "tap-42.msgpack");

    /* The snapshot, then the same again (a duplicate), then a delta. */
    run_tool(&r, 0, (const char *[]){"push", "--url", s.url, "--token-file", token_file, p, NULL});
    CHECK_EQ_INT(r.status, 0);
    CHECK(answer_str_is(r.out, "source", NULL, "tap"));
    CHECK_EQ_INT(answer_int(r.out, "sequence"), 42);
    CHECK_EQ_INT(answer_int(r.out, "legs"), 3);
    CHECK(answer_int(r.out, "generation") >= 1);
    if (r.status != 0)
        fprintf(stderr, "push: %s%s\n", r.out, r.err);
    run_free(&r);

    snprintf(url, sizeof(url), "%s/v1/search?origin=GRU&destination=LIS&date=2026-12-01", s.url);
    if (e2e_get(&c, E2E_H1, url, NULL, &res) == 0) {
        CHECK_EQ_INT(res.status, 200);
        CHECK_HAS(res.body, "\"source\":\"tap\"");
        CHECK_HAS(res.body, "tap-TP82-GRU-20261201-Y");
    } else {
        CHECK(0);
    }
    e2e_response_free(&res);

    run_tool(&r, 0, (const char *[]){"push", "--url", s.url, "--token-file", token_file, p, NULL});
    CHECK_EQ_INT(r.status, 0);
    CHECK(answer_true(r.out, "duplicate"));
    run_free(&r);

    path_of(q, sizeof(q), "tap-43.delta.msgpack");
    run_tool(&r, 0, (const char *[]){"push", "--url", s.url, "--token-file", token_file, q, NULL});
    CHECK_EQ_INT(r.status, 0);
    CHECK_EQ_INT(answer_int(r.out, "sequence"), 43);
    CHECK_EQ_INT(answer_int(r.out, "upserted"), 1);
    if (r.status != 0)
        fprintf(stderr, "push delta: %s%s\n", r.out, r.err);
    run_free(&r);

    /* Stale: sequence 7 (now.msgpack) is below 43. */
    path_of(q, sizeof(q), "now.msgpack");
    run_tool(&r, 0, (const char *[]){"push", "--url", s.url, "--token-file", token_file, q, NULL});
    CHECK_EQ_INT(r.status, 1);
    CHECK(answer_str_is(r.out, "error", "code", "stale_sequence"));
    CHECK_HAS(r.err, "HTTP 409 stale_sequence");
    run_free(&r);

    /* A wrong token. */
    run_tool(&r, 0, (const char *[]){"push", "--url", s.url, "--token-file", bad_token, p, NULL});
    CHECK_EQ_INT(r.status, 1);
    CHECK(strstr(r.err, "HTTP 401") != NULL || strstr(r.err, "HTTP 403") != NULL);
    run_free(&r);

    /* A 2.6 MB snapshot over h2c, then its successor over HTTP/1.1 (Expect: 100-continue). */
    path_of(q, sizeof(q), "big-60.msgpack");
    run_tool(&r, 0, (const char *[]){"push", "--url", s.url, "--token-file", token_file, "--http2", "--source", "tap", q, NULL});
    CHECK_EQ_INT(r.status, 0);
    CHECK_EQ_INT(answer_int(r.out, "legs"), 12000);
    if (r.status != 0)
        fprintf(stderr, "push big h2: %s%s\n", r.out, r.err);
    run_free(&r);
    CHECK_EQ_INT(write_big("big-61.msgpack", "tap", 61, 12000), 0);
    path_of(q, sizeof(q), "big-61.msgpack");
    run_tool(&r, 0, (const char *[]){"push", "--url", s.url, "--token-file", token_file, q, NULL});
    CHECK_EQ_INT(r.status, 0);
    CHECK_EQ_INT(answer_int(r.out, "sequence"), 61);
    CHECK_EQ_INT(answer_int(r.out, "legs"), 12000);
    run_free(&r);

    e2e_client_free(&c);
    CHECK_EQ_INT(e2e_server_stop(&s), 0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH/TO/flightsearch\n", argv[0]);
        return 2;
    }
    server_bin = argv[1];
    const char *slash = strrchr(argv[1], '/');
    snprintf(tool, sizeof(tool), "%.*s/flightsearch-feed", slash != NULL ? (int)(slash - argv[1]) : 1,
             slash != NULL ? argv[1] : ".");
    if (access(tool, X_OK) != 0) {
        fprintf(stderr, "%s: not found next to the server binary\n", tool);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    e2e_http_init();
    if (e2e_tmpdir(dir, sizeof(dir)) != 0) {
        fprintf(stderr, "cannot create a temp dir\n");
        return 1;
    }

    static const struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        {"help", test_help},
        {"convert_csv", test_convert_csv},
        {"convert_delta", test_convert_delta},
        {"convert_jsonl", test_convert_jsonl},
        {"convert_errors", test_convert_errors},
        {"validate", test_validate},
        {"push_fake", test_push_fake},
        {"push_server", test_push_server},
    };
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        int64_t t0 = e2e_now_ms();
        unsigned failed = test_failed_;
        tests[i].fn();
        printf("%-16s %s  %" PRId64 " ms\n", tests[i].name, test_failed_ == failed ? "ok" : "FAILED", e2e_now_ms() - t0);
        fflush(stdout);
    }

    e2e_rmtree(dir);
    TEST_DONE();
}
