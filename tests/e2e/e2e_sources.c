/*
 * tests/e2e/e2e_sources.c: the number of sources. Against the real binary (argv[1]):
 *
 *   1. 251 one-leg sources pushed in an order where each new name sorts before the previous ones
 *      (s250, s249, ..., s001, then "aaa"): every push is answered 200 and the server stays up;
 *      after kill -9 and a restart every acknowledged source is there with its sequence and its
 *      one leg (flight i, miles 10000 + 10 i), read back with one search.
 *   2. The same data dir with --max-sources 100: the server refuses to start and says how many
 *      sources the data dir holds and which flag to raise (nothing is dropped silently).
 *   3. A fresh data dir with --max-sources 3: a 4th source is refused 409 too_many_sources naming
 *      --max-sources and DELETE, nothing of it is written to the data dir, and a new snapshot of
 *      an existing source is still accepted.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "tests/e2e/lib_server.h"
#include "tests/test.h"

#define SOURCES 251
#define TOKEN "sourcestesttoken0000000"

static void source_name(unsigned i, char out[16])
{
    if (i == SOURCES) /* the 251st sorts before every other one */
        snprintf(out, 16, "aaa");
    else
        snprintf(out, 16, "s%03u", SOURCES - i); /* s250 first, s001 last: each sorts before the previous */
}

/* flight of push i (1-based): i; its miles 10000 + 10 i; its sequence 100 + i */
static long push_snapshot(e2e_client_t *c, const e2e_server_t *srv, const char *const *headers, const char *source,
                          unsigned flight, uint64_t sequence, char **body_out)
{
    char body[1024], url[256];
    snprintf(body, sizeof(body),
             "{\"source\": \"%s\", \"sequence\": %llu, \"generated_at\": \"2026-11-21T00:00:00Z\", \"legs\": ["
             "{\"carrier\": \"TP\", \"flight\": %u, \"origin\": \"GRU\", \"destination\": \"LIS\", "
             "\"departs_at\": \"2026-12-01T10:00:00-03:00\", \"arrives_at\": \"2026-12-01T23:00:00Z\", "
             "\"cabins\": {\"economy\": {\"seats\": 4, \"miles\": %u, \"taxes_cents\": 1000, \"currency\": \"BRL\"}}}]}",
             source, (unsigned long long)sequence, flight, 10000 + 10 * flight);
    snprintf(url, sizeof(url), "%s/v1/feeds/%s/snapshot", srv->url, source);
    e2e_response_t res;
    long status = -1;
    if (e2e_request(c, E2E_H1, "PUT", url, headers, body, strlen(body), &res) == 0)
        status = res.status;
    if (body_out != NULL)
        *body_out = res.body != NULL ? strdup(res.body) : NULL;
    e2e_response_free(&res);
    return status;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s path/to/flightsearch\n", argv[0]);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *binary = argv[1];
    e2e_http_init();
    char data_dir[256], small_dir[256], etc_dir[256], tokens[300];
    if (e2e_tmpdir(data_dir, sizeof(data_dir)) != 0 || e2e_tmpdir(small_dir, sizeof(small_dir)) != 0 ||
        e2e_tmpdir(etc_dir, sizeof(etc_dir)) != 0) {
        fprintf(stderr, "cannot create temp dirs\n");
        return 1;
    }
    snprintf(tokens, sizeof(tokens), "%s/tokens", etc_dir);
    const char *line = TOKEN " *\n";
    e2e_write_file(tokens, line, strlen(line));
    const char *const extra[] = {"--tokens", tokens, NULL};
    const char *const headers[] = {"Authorization: Bearer " TOKEN, "Content-Type: application/json", NULL};
    e2e_client_t client;
    e2e_client_init(&client);

    /* 1. 251 sources, each new one sorting first */
    e2e_server_t srv;
    CHECK_EQ_INT(e2e_server_start(&srv, binary, data_dir, extra), 0);
    unsigned acked = 0;
    for (unsigned i = 1; i <= SOURCES; i++) {
        char name[16];
        source_name(i, name);
        char *body = NULL;
        long status = push_snapshot(&client, &srv, headers, name, i, 100 + i, &body);
        if (status != 200) {
            fprintf(stderr, "push %u (%s): status %ld %s\n", i, name, status, body ? body : "(no answer)");
            free(body);
            break;
        }
        free(body);
        acked++;
    }
    CHECK_EQ_INT(acked, SOURCES);
    CHECK_EQ_INT(kill(srv.pid, 0), 0); /* still up */
    kill(srv.pid, SIGKILL);
    CHECK_EQ_INT(e2e_server_wait(&srv, 10000), 128 + SIGKILL);
    e2e_server_stop(&srv);

    CHECK_EQ_INT(e2e_server_start(&srv, binary, data_dir, extra), 0);
    e2e_response_t res;
    char url[512];
    snprintf(url, sizeof(url),
             "%s/v1/search?origin=GRU&destination=LIS&start_date=2026-12-01&end_date=2026-12-01&cabin=economy&limit=500", srv.url);
    CHECK_EQ_INT(e2e_get(&client, E2E_H1, url, "Accept: application/msgpack", &res), 0);
    CHECK_EQ_INT(res.status, 200);
    e2e_mp_t doc;
    if (res.status == 200 && e2e_mp_parse(&doc, res.body, res.body_len) == 0) {
        const msgpack_object_array *searched = e2e_mp_array(doc.root, "searched");
        const msgpack_object_array *results = e2e_mp_array(doc.root, "results");
        CHECK(searched != NULL && results != NULL);
        unsigned seen_source[SOURCES + 1] = {0}, seen_flight[SOURCES + 1] = {0};
        for (uint32_t k = 0; searched != NULL && k < searched->size; k++) {
            char src[40];
            int64_t seq = -1, legs = -1;
            e2e_mp_str(&searched->ptr[k], "source", src, sizeof(src));
            e2e_mp_int(&searched->ptr[k], "sequence", &seq);
            e2e_mp_int(&searched->ptr[k], "legs", &legs);
            for (unsigned i = 1; i <= SOURCES; i++) {
                char name[16];
                source_name(i, name);
                if (strcmp(name, src) == 0) {
                    seen_source[i]++;
                    CHECK_EQ_INT(seq, 100 + i);
                    CHECK_EQ_INT(legs, 1);
                }
            }
        }
        for (uint32_t k = 0; results != NULL && k < results->size; k++) {
            const msgpack_object_array *segs = e2e_mp_array(&results->ptr[k], "segments");
            int64_t flight = segs != NULL && segs->size == 1 ? e2e_mp_int_or(&segs->ptr[0], "flight", -1) : -1;
            int64_t miles = e2e_mp_int_or(&results->ptr[k], "miles", -1);
            CHECK(flight >= 1 && flight <= SOURCES);
            if (flight >= 1 && flight <= SOURCES) {
                seen_flight[flight]++;
                CHECK_EQ_INT(miles, 10000 + 10 * flight);
            }
        }
        unsigned missing = 0;
        for (unsigned i = 1; i <= SOURCES; i++)
            if (seen_source[i] != 1 || seen_flight[i] != 1) {
                char name[16];
                source_name(i, name);
                if (missing++ < 5)
                    fprintf(stderr, "after the restart: source %s seen %u times, its leg %u times\n", name, seen_source[i],
                            seen_flight[i]);
            }
        CHECK_EQ_INT(missing, 0);
        e2e_mp_free(&doc);
    }
    e2e_response_free(&res);
    CHECK_EQ_INT(e2e_server_stop(&srv), 0);

    /* 2. more sources on disk than --max-sources: refuse to start, naming the count and the flag */
    const char *const few[] = {"--tokens", tokens, "--max-sources", "100", NULL};
    CHECK(e2e_server_start(&srv, binary, data_dir, few) != 0);
    int status = e2e_server_wait(&srv, 10000);
    CHECK(status != 0 && status < 128); /* an orderly exit, not a crash */
    char *log = e2e_server_stderr(&srv);
    CHECK(strstr(log, "251 sources") != NULL);
    CHECK(strstr(log, "--max-sources") != NULL);
    free(log);
    e2e_server_stop(&srv);

    /* 3. over the limit on push: 409 before anything is written */
    const char *const three[] = {"--tokens", tokens, "--max-sources", "3", NULL};
    CHECK_EQ_INT(e2e_server_start(&srv, binary, small_dir, three), 0);
    for (unsigned i = 1; i <= 3; i++) {
        char name[16];
        snprintf(name, sizeof(name), "z%u", i);
        CHECK_EQ_INT(push_snapshot(&client, &srv, headers, name, i, 1, NULL), 200);
    }
    char *body = NULL;
    CHECK_EQ_INT(push_snapshot(&client, &srv, headers, "aaa", 9, 1, &body), 409);
    CHECK(body != NULL && strstr(body, "\"too_many_sources\"") != NULL);
    CHECK(body != NULL && strstr(body, "--max-sources") != NULL);
    CHECK(body != NULL && strstr(body, "DELETE /v1/feeds/") != NULL);
    CHECK(body != NULL && strstr(body, "3") != NULL);
    free(body);
    char path[400];
    struct stat sb;
    snprintf(path, sizeof(path), "%s/sources/aaa", small_dir);
    CHECK(stat(path, &sb) != 0); /* nothing written for the refused source */
    CHECK_EQ_INT(push_snapshot(&client, &srv, headers, "z2", 2, 2, NULL), 200); /* existing sources still update */
    CHECK_EQ_INT(e2e_server_stop(&srv), 0);

    e2e_client_free(&client);
    e2e_rmtree(data_dir);
    e2e_rmtree(small_dir);
    e2e_rmtree(etc_dir);
    printf("sources: %u pushes acknowledged and all recovered after kill -9\n", acked);
    TEST_DONE();
}
