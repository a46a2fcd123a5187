/*
 * src/trace.c: W3C Trace Context (https://www.w3.org/TR/trace-context/) for every request.
 *
 * A request's `traceparent` header is accepted when well formed (version 00 exactly 55
 * characters; a later version at least that, its first four fields read the same way; lowercase
 * hex; a trace id and a parent id that are not all zeros; version ff refused). Otherwise, or when
 * absent, the request starts a new trace. Either way the response carries `traceparent:
 * 00-TRACE-SPAN-FLAGS` with this server's own span id, the access log line and a push's loader
 * lines carry TRACE, so a push can be followed from the client to the loader.
 *
 * Ids come from a per-worker splitmix64 generator seeded from getrandom(2): no lock and no
 * syscall per request. They need to be unique, not unpredictable (a trace id is no secret).
 */
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include "src/internal.h"

static const char hex_digits[] = "0123456789abcdef";

void fs_trace_seed(fs_worker_t *w)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
        struct timespec ts; /* no entropy source: time and worker still give distinct streams */
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)w->id << 48);
    }
    w->trace_rng = seed;
}

static uint64_t next_random(fs_worker_t *w)
{
    uint64_t z = (w->trace_rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void put_hex(char *out, uint64_t v)
{
    for (int i = 15; i >= 0; i--) {
        out[i] = hex_digits[v & 15];
        v >>= 4;
    }
}

/* n lowercase hex digits, not all of them 0 when nonzero is set. */
static int is_hex(const char *s, size_t n, int nonzero)
{
    int any = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
        any |= c != '0';
    }
    return !nonzero || any;
}

int fs_traceparent_valid(const char *v, size_t len)
{
    if (len < 55 || !is_hex(v, 2, 0) || (v[0] == 'f' && v[1] == 'f'))
        return 0;
    if (v[0] == '0' && v[1] == '0' && len != 55)
        return 0;
    if (len > 55 && v[55] != '-')
        return 0;
    return v[2] == '-' && is_hex(v + 3, 32, 1) && v[35] == '-' && is_hex(v + 36, 16, 1) && v[52] == '-' && is_hex(v + 53, 2, 0);
}

const char *fs_trace_begin(h2o_req_t *req, fs_worker_t *w)
{
    char *out = h2o_mem_alloc_pool(&req->pool, 56);
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("traceparent"), -1);
    memcpy(out, "00-", 3);
    if (i >= 0 && fs_traceparent_valid(req->headers.entries[i].value.base, req->headers.entries[i].value.len)) {
        const char *v = req->headers.entries[i].value.base;
        memcpy(out + 3, v + 3, 32);  /* the caller's trace */
        memcpy(out + 52, v + 52, 3); /* and its flags (sampled or not) */
    } else {
        uint64_t hi, lo;
        do {
            hi = next_random(w);
            lo = next_random(w);
        } while ((hi | lo) == 0);
        put_hex(out + 3, hi);
        put_hex(out + 19, lo);
        memcpy(out + 52, "-00", 3);
    }
    out[35] = '-';
    uint64_t span;
    do
        span = next_random(w);
    while (span == 0);
    put_hex(out + 36, span);
    out[55] = '\0';
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("traceparent"), 0, NULL, out, 55);
    return out + 3;
}

const char *fs_trace_id_of(h2o_req_t *req)
{
    ssize_t i = h2o_find_header_by_str(&req->res.headers, H2O_STRLIT("traceparent"), -1);
    if (i < 0 || req->res.headers.entries[i].value.len != 55)
        return NULL;
    return req->res.headers.entries[i].value.base + 3;
}
