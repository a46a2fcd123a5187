/*
 * bench/micro_enc.c: the response writer alone (src/enc.h). Encodes a search response shaped
 * like the server's (the same keys, nesting and value kinds as handlers.c writes for each result,
 * plus the page fields and the "searched" list of 4 sources) into a request-sized h2o memory
 * pool, as the server does, and reports documents/s and bytes/s for JSON and msgpack. Time is
 * the thread's CPU time (CLOCK_THREAD_CPUTIME_ID): a busy, shared machine slows it less.
 *
 * usage: micro_enc [--results N] [--seconds S]
 *   N results per document (default 50, the server's default limit); each format runs S seconds
 *   of CPU time (default 1). Prints one JSON line of figures on stdout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "index/index.h"
#include "src/enc.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void str_date(fs_enc_t *e, int32_t day)
{
    char buf[10];
    fs_enc_str(e, buf, fs_date_format(day, buf));
}

static void str_time(fs_enc_t *e, fs_localtime_t t)
{
    char buf[25];
    fs_enc_str(e, buf, fs_datetime_format(t, buf));
}

/* One result as handlers.c writes it: a leg in one cabin with its single segment. */
static void encode_result(fs_enc_t *e, unsigned i)
{
    fs_localtime_t dep = {20800, (uint16_t)(360 + 37 * i % 900), -180}, arr = {20801, (uint16_t)(60 + 13 * i % 600), 0};
    char id[FS_ID_MAX], ts[20];
    int idlen = snprintf(id, sizeof(id), "tap-TP%u-GRU-20261213-%c", 80 + i, i % 3 ? 'Y' : 'J');
    fs_enc_map_begin(e);
    fs_enc_key_lit(e, "id");
    fs_enc_str(e, id, (size_t)idlen);
    fs_enc_key_lit(e, "origin");
    fs_enc_str_lit(e, "GRU");
    fs_enc_key_lit(e, "destination");
    fs_enc_str_lit(e, "LIS");
    fs_enc_key_lit(e, "date");
    str_date(e, dep.day);
    fs_enc_key_lit(e, "departs_at");
    str_time(e, dep);
    fs_enc_key_lit(e, "arrives_at");
    str_time(e, arr);
    fs_enc_key_lit(e, "duration_min");
    fs_enc_uint(e, 615 + i);
    fs_enc_key_lit(e, "stops");
    fs_enc_uint(e, 0);
    fs_enc_key_lit(e, "cabin");
    fs_enc_cstr(e, i % 3 ? "economy" : "business");
    fs_enc_key_lit(e, "miles");
    fs_enc_uint(e, 35000 + 500u * i);
    fs_enc_key_lit(e, "taxes_cents");
    fs_enc_uint(e, 12345 + 17u * i);
    fs_enc_key_lit(e, "currency");
    fs_enc_str_lit(e, "EUR");
    fs_enc_key_lit(e, "seats");
    fs_enc_uint(e, 1 + i % 9);
    fs_enc_key_lit(e, "source");
    fs_enc_cstr(e, "tap");
    fs_enc_key_lit(e, "last_seen");
    fs_enc_str(e, ts, fs_timestamp_format(1795377600, ts));
    fs_enc_key_lit(e, "segments");
    fs_enc_array_begin(e);
    fs_enc_map_begin(e);
    fs_enc_key_lit(e, "carrier");
    fs_enc_str_lit(e, "TP");
    fs_enc_key_lit(e, "flight");
    fs_enc_uint(e, 80 + i);
    fs_enc_key_lit(e, "origin");
    fs_enc_str_lit(e, "GRU");
    fs_enc_key_lit(e, "destination");
    fs_enc_str_lit(e, "LIS");
    fs_enc_key_lit(e, "departs_at");
    str_time(e, dep);
    fs_enc_key_lit(e, "arrives_at");
    str_time(e, arr);
    fs_enc_key_lit(e, "duration_min");
    fs_enc_uint(e, 615 + i);
    fs_enc_key_lit(e, "cabin");
    fs_enc_cstr(e, i % 3 ? "economy" : "business");
    fs_enc_key_lit(e, "seats");
    fs_enc_uint(e, 1 + i % 9);
    fs_enc_key_lit(e, "miles");
    fs_enc_uint(e, 35000 + 500u * i);
    fs_enc_map_end(e);
    fs_enc_array_end(e);
    fs_enc_map_end(e);
}

static size_t encode_document(fs_enc_t *e, unsigned results)
{
    static const char *const sources[] = {"latam", "smiles", "tap", "united"};
    char ts[20];
    fs_enc_map_begin(e);
    fs_enc_key_lit(e, "results");
    fs_enc_array_begin(e);
    for (unsigned i = 0; i < results; i++)
        encode_result(e, i);
    fs_enc_array_end(e);
    fs_enc_key_lit(e, "count");
    fs_enc_uint(e, results);
    fs_enc_key_lit(e, "total");
    fs_enc_uint(e, results);
    fs_enc_key_lit(e, "next_cursor");
    fs_enc_null(e);
    fs_enc_key_lit(e, "generation");
    fs_enc_uint(e, 4);
    fs_enc_key_lit(e, "searched");
    fs_enc_array_begin(e);
    for (unsigned s = 0; s < 4; s++) {
        fs_enc_map_begin(e);
        fs_enc_key_lit(e, "source");
        fs_enc_cstr(e, sources[s]);
        fs_enc_key_lit(e, "sequence");
        fs_enc_uint(e, 1);
        fs_enc_key_lit(e, "updated_at");
        fs_enc_str(e, ts, fs_timestamp_format(1795377600, ts));
        fs_enc_key_lit(e, "legs");
        fs_enc_uint(e, 25000 + s);
        fs_enc_map_end(e);
    }
    fs_enc_array_end(e);
    fs_enc_key_lit(e, "took_us");
    fs_enc_uint(e, 42);
    fs_enc_map_end(e);
    return fs_enc_result(e).len;
}

/* Encodes documents for `seconds`; returns ns per document and fills the document's size. */
static double run(fs_enc_format_t format, unsigned results, double seconds, size_t *doc_bytes)
{
    h2o_mem_pool_t pool;
    h2o_mem_init_pool(&pool);
    unsigned long docs = 0;
    size_t bytes = 0;
    double start = now_s(), elapsed;
    do {
        for (int k = 0; k < 64; k++) {
            fs_enc_t e;
            fs_enc_init(&e, format, &pool, 1024 + (size_t)results * 600);
            bytes = encode_document(&e, results);
            h2o_mem_clear_pool(&pool);
            docs++;
        }
        elapsed = now_s() - start;
    } while (elapsed < seconds);
    *doc_bytes = bytes;
    return elapsed * 1e9 / (double)docs;
}

int main(int argc, char **argv)
{
    unsigned results = 50;
    double seconds = 1.0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--results") == 0 && i + 1 < argc) {
            results = (unsigned)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            seconds = strtod(argv[++i], NULL);
        } else {
            fprintf(stderr, "usage: micro_enc [--results N] [--seconds S]\n");
            return 2;
        }
    }
    size_t json_bytes, mp_bytes;
    double json_ns = run(FS_ENC_JSON, results, seconds, &json_bytes);
    double mp_ns = run(FS_ENC_MSGPACK, results, seconds, &mp_bytes);
    printf("{\"bench\": \"micro_enc\", \"results_per_doc\": %u, \"json_bytes\": %zu, \"json_ns_per_doc\": %.0f, "
           "\"json_docs_per_s\": %.0f, \"json_mb_per_s\": %.1f, \"msgpack_bytes\": %zu, \"msgpack_ns_per_doc\": %.0f, "
           "\"msgpack_docs_per_s\": %.0f, \"msgpack_mb_per_s\": %.1f}\n",
           results, json_bytes, json_ns, 1e9 / json_ns, (double)json_bytes / json_ns * 1e3, mp_bytes, mp_ns, 1e9 / mp_ns,
           (double)mp_bytes / mp_ns * 1e3);
    return 0;
}
