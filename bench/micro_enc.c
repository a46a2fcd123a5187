/*
 * bench/micro_enc.c: the response writer alone (src/enc.h). Encodes a search answer: its results
 * written by the server's own result writer (fs_enc_search_result of src/handlers.c, over results
 * of a week of direct legs), the page fields and the "searched" list of 4 sources, into a
 * request-sized h2o memory pool as the server does, and reports documents/s and bytes/s for JSON
 * and msgpack. Time is the thread's CPU time (CLOCK_THREAD_CPUTIME_ID): a busy, shared machine
 * slows it less.
 *
 * usage: micro_enc [--results N] [--seconds S] [--fields SPEC]
 *   N results per document (default 50, the server's default limit); each format runs S seconds
 *   of CPU time (default 1); SPEC a search's `fields` (a partial answer, docs/api.md). Prints one
 *   JSON line of figures on stdout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "index/index.h"
#include "src/enc.h"
#include "src/internal.h"
#include "src/server.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static fs_fare_t fare_page[1];
static const fs_fare_t *fare_pages[1] = {fare_page};
static fs_segment_t segment;
static fs_leg_t *legs;
static fs_result_t *results_of_page;

/* The page: results direct results of tap on GRU->LIS over a week, in economy and business, each
 * with its own flight, departure time and seats, written by the server's own result writer. */
static void make_page(unsigned results)
{
    strcpy(segment.source, "tap");
    segment.fare_pages = fare_pages;
    segment.fare_count = 1;
    fs_currency_parse("EUR", 3, &fare_page[0].currency);
    fare_page[0].miles = 35000;
    fare_page[0].taxes_cents = 12345;
    legs = calloc(results, sizeof(*legs));
    results_of_page = calloc(results, sizeof(*results_of_page));
    if (legs == NULL || results_of_page == NULL) {
        fprintf(stderr, "micro_enc: out of memory\n");
        exit(1);
    }
    for (unsigned i = 0; i < results; i++) {
        fs_leg_t *leg = &legs[i];
        fs_result_t *r = &results_of_page[i];
        unsigned cabin = i % 3 ? FS_CABIN_ECONOMY : FS_CABIN_BUSINESS;
        fs_carrier_parse("TP", 2, &leg->carrier);
        fs_airport_parse("GRU", 3, &leg->origin);
        fs_airport_parse("LIS", 3, &leg->destination);
        leg->flight = (uint16_t)(80 + i);
        leg->day = (uint16_t)(20800 + i % 7);
        leg->dep_minute = (uint16_t)(360 + 37 * i % 900);
        leg->dep_offset_q = -12;
        leg->arr_offset_q = 0;
        leg->duration_min = (uint16_t)(615 + i);
        leg->cabin_mask = (uint8_t)(1u << cabin);
        leg->cabin[cabin] = (uint32_t)(1 + i % 9) << 25;
        leg->last_seen = 1795377600;
        r->segment = &segment;
        r->leg = leg;
        r->cabin = (uint8_t)cabin;
        r->leg_cabin[0] = (uint8_t)cabin;
        r->seats = (uint8_t)(1 + i % 9);
        r->miles = 35000 + 500u * i;
        r->taxes_cents = 12345 + 17u * i;
        r->currency = fare_page[0].currency;
        r->duration_min = 615 + i;
    }
}

static size_t encode_document(fs_enc_t *e, unsigned results, fs_fields_t f)
{
    static const char *const sources[] = {"latam", "smiles", "tap", "united"};
    char ts[20];
    fs_enc_map_begin(e);
    if (FS_FIELD(f, FS_FIELD_RESULTS)) {
        fs_enc_key_lit(e, "results");
        fs_enc_array_begin(e);
        for (unsigned i = 0; i < results; i++)
            fs_enc_search_result(e, &results_of_page[i], f);
        fs_enc_array_end(e);
    }
    if (FS_FIELD(f, FS_FIELD_COUNT)) {
        fs_enc_key_lit(e, "count");
        fs_enc_uint(e, results);
    }
    if (FS_FIELD(f, FS_FIELD_TOTAL)) {
        fs_enc_key_lit(e, "total");
        fs_enc_uint(e, results);
    }
    if (FS_FIELD(f, FS_FIELD_NEXT_CURSOR)) {
        fs_enc_key_lit(e, "next_cursor");
        fs_enc_null(e);
    }
    if (FS_FIELD(f, FS_FIELD_GENERATION)) {
        fs_enc_key_lit(e, "generation");
        fs_enc_uint(e, 4);
    }
    if (FS_FIELD(f, FS_FIELD_SEARCHED)) {
        fs_enc_key_lit(e, "searched");
        fs_enc_array_begin(e);
        for (unsigned s = 0; s < 4; s++) {
            fs_enc_map_begin(e);
            fs_enc_key_lit(e, "source");
            fs_enc_cstr(e, sources[s]);
            fs_enc_key_lit(e, "sequence");
            fs_enc_uint(e, 1);
            fs_enc_key_lit(e, "updated_at");
            fs_enc_str_safe(e, ts, fs_timestamp_format(1795377600, ts));
            fs_enc_key_lit(e, "legs");
            fs_enc_uint(e, 25000 + s);
            fs_enc_map_end(e);
        }
        fs_enc_array_end(e);
    }
    if (FS_FIELD(f, FS_FIELD_TOOK_US)) {
        fs_enc_key_lit(e, "took_us");
        fs_enc_uint(e, 42);
    }
    fs_enc_map_end(e);
    return fs_enc_result(e).len;
}

/* Encodes documents for `seconds`; returns ns per document and fills the document's size. */
static double run(fs_enc_format_t format, unsigned results, fs_fields_t f, double seconds, size_t *doc_bytes)
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
            bytes = encode_document(&e, results, f);
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
    fs_fields_t fields = FS_FIELDS_ALL;
    const char *fields_spec = "";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--results") == 0 && i + 1 < argc) {
            results = (unsigned)strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            seconds = strtod(argv[++i], NULL);
        } else if (strcmp(argv[i], "--fields") == 0 && i + 1 < argc) {
            fs_param_error_t err;
            fields_spec = argv[++i];
            if (fs_fields_parse(FS_EP_SEARCH, fields_spec, &fields, &err) != 0) {
                fprintf(stderr, "micro_enc: %s\n", err.message);
                return 2;
            }
        } else {
            fprintf(stderr, "usage: micro_enc [--results N] [--seconds S] [--fields SPEC]\n"
                            "  SPEC: a search's fields parameter (docs/api.md), e.g. 'results(id,miles,seats,departs_at),next_cursor'\n");
            return 2;
        }
    }
    if (results == 0 || results > FS_SEARCH_MAX_LIMIT) {
        fprintf(stderr, "micro_enc: --results must be 1 to %d\n", FS_SEARCH_MAX_LIMIT);
        return 2;
    }
    make_page(results);
    size_t json_bytes, mp_bytes;
    double json_ns = run(FS_ENC_JSON, results, fields, seconds, &json_bytes);
    double mp_ns = run(FS_ENC_MSGPACK, results, fields, seconds, &mp_bytes);
    printf("{\"bench\": \"micro_enc\", \"fields\": \"%s\", \"results_per_doc\": %u, \"json_bytes\": %zu, \"json_ns_per_doc\": %.0f, "
           "\"json_docs_per_s\": %.0f, \"json_mb_per_s\": %.1f, \"msgpack_bytes\": %zu, \"msgpack_ns_per_doc\": %.0f, "
           "\"msgpack_docs_per_s\": %.0f, \"msgpack_mb_per_s\": %.1f}\n",
           fields_spec, results, json_bytes, json_ns, 1e9 / json_ns, (double)json_bytes / json_ns * 1e3, mp_bytes, mp_ns, 1e9 / mp_ns,
           (double)mp_bytes / mp_ns * 1e3);
    return 0;
}
