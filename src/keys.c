/*
 * src/keys.c: API keys for the read endpoints (--keys FILE).
 *
 * The keys file holds one "KEY name=NAME rate=N/s burst=M [watches=W]" per line (# comments, blank
 * lines ignored), with the same rules as the tokens file (src/auth.c, whose reading, hashing and
 * epoch this shares): only the SHA-256 of each key is kept, a key listed twice or a file that group
 * or others may read is refused, SIGHUP reloads it and a file that does not parse leaves the old
 * keys in force. Names are unique too: they label the /metrics counters and own the watches.
 *
 * Lookup. The digests sit in an open-addressing table (linear probing, at most half full) indexed
 * by the digest's first 8 bytes, so a check costs one hash of the presented key and a probe or two
 * whatever the number of keys. Unlike the token check this is not constant time in which entry
 * matched; the probe sequence depends only on the SHA-256 of what the client sent, which says
 * nothing about any stored key.
 *
 * Rate. Each name has a token bucket (fs_bucket_take) whose whole state is one 64-bit word, the
 * instant the bucket is full again; workers update it with a compare-and-swap, so the rate holds
 * across all event loops without a lock. The bucket, the counters and the watch quota live in the
 * name's account, which is never freed: a reload keeps the bucket and counters of every name it
 * keeps, also when the key behind a name changes (rotation).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ck_epoch.h>
#include <openssl/crypto.h>
#include "src/internal.h"

#define KEY_MIN 16
#define KEY_NAME_MAX 64
#define KEY_NUMBER_MAX 1000000u

typedef struct key_entry {
    unsigned char digest[32];
    unsigned lineno; /* for the duplicate messages */
    uint64_t interval_us;
    unsigned burst;
    unsigned watches;
    char name[KEY_NAME_MAX + 1];
    fs_key_account_t *account; /* set when the table is installed */
} key_entry_t;

struct fs_keys {
    unsigned count;
    key_entry_t *entries;
    unsigned mask;   /* slots - 1 */
    unsigned *slots; /* 0: empty, else 1 + the index of an entry */
};

static fs_keys_t *current_keys; /* atomic pointer */
static int keys_enabled;
static fs_key_account_t *accounts_head, *accounts_tail; /* appended by the loading thread only */

/* ------------------------------------------------------------- bucket */

static unsigned ceil_seconds(uint64_t us)
{
    return (unsigned)((us + 999999) / 1000000);
}

fs_bucket_verdict_t fs_bucket_take(uint64_t full_at_us, uint64_t now_us, uint64_t interval_us, unsigned burst)
{
    fs_bucket_verdict_t v = {0};
    uint64_t base = full_at_us > now_us ? full_at_us : now_us; /* a bucket full since long ago is just full */
    uint64_t depth = interval_us * burst, next = base + interval_us;
    if (next - now_us <= depth) {
        v.allowed = 1;
        v.full_at_us = next;
        v.remaining = (unsigned)((depth - (next - now_us)) / interval_us);
        v.reset_s = ceil_seconds(next - now_us);
        return v;
    }
    v.full_at_us = full_at_us;
    v.remaining = (unsigned)((depth - (base - now_us)) / interval_us);
    v.reset_s = ceil_seconds(base - now_us);
    v.retry_after_s = ceil_seconds(next - now_us - depth);
    if (v.retry_after_s == 0)
        v.retry_after_s = 1;
    return v;
}

/* -------------------------------------------------------------- parse */

unsigned fs_keys_count(const fs_keys_t *k)
{
    return k->count;
}

void fs_keys_entry(const fs_keys_t *k, unsigned i, uint64_t *interval_us, unsigned *burst, unsigned *watches, const char **name)
{
    *interval_us = k->entries[i].interval_us;
    *burst = k->entries[i].burst;
    *watches = k->entries[i].watches;
    *name = k->entries[i].name;
}

void fs_keys_free(fs_keys_t *k)
{
    if (k == NULL)
        return;
    OPENSSL_cleanse(k->entries, k->count * sizeof(*k->entries));
    free(k->entries);
    free(k->slots);
    free(k);
}

/* A decimal in 1..KEY_NUMBER_MAX (0 too when zero_ok), digits only. 0, or -1. */
static int parse_number(const char *s, size_t len, int zero_ok, unsigned *out)
{
    if (len == 0 || len > 7)
        return -1;
    unsigned v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > KEY_NUMBER_MAX || (v == 0 && !zero_ok))
        return -1;
    *out = v;
    return 0;
}

/* "N/s", "N/min" or "N/h" into the microseconds between two tokens, rounded up so that the rate
 * served is never above the one written. 0, or -1. */
static int parse_rate(const char *s, uint64_t *interval_us)
{
    const char *slash = strchr(s, '/');
    unsigned n;
    if (slash == NULL || parse_number(s, (size_t)(slash - s), 0, &n) != 0)
        return -1;
    uint64_t period_us;
    if (strcmp(slash + 1, "s") == 0)
        period_us = 1000000u;
    else if (strcmp(slash + 1, "min") == 0)
        period_us = 60u * 1000000u;
    else if (strcmp(slash + 1, "h") == 0)
        period_us = 3600u * 1000000ull;
    else
        return -1;
    *interval_us = (period_us + n - 1) / n;
    return 0;
}

static int name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > KEY_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

static uint64_t digest_hash(const unsigned char digest[32])
{
    uint64_t h;
    memcpy(&h, digest, sizeof(h)); /* SHA-256 output is uniform already */
    return h;
}

/* Builds the lookup table over the parsed entries. 0, or FS_ENOMEM. */
static int index_entries(fs_keys_t *k)
{
    unsigned slots = 4;
    while (slots < 2 * k->count)
        slots *= 2;
    k->slots = calloc(slots, sizeof(*k->slots));
    if (k->slots == NULL)
        return FS_ENOMEM;
    k->mask = slots - 1;
    for (unsigned i = 0; i < k->count; i++) {
        unsigned s = (unsigned)(digest_hash(k->entries[i].digest) & k->mask);
        while (k->slots[s] != 0)
            s = (s + 1) & k->mask;
        k->slots[s] = i + 1;
    }
    return 0;
}

static const key_entry_t *lookup(const fs_keys_t *k, const unsigned char digest[32])
{
    for (unsigned s = (unsigned)(digest_hash(digest) & k->mask);; s = (s + 1) & k->mask) {
        unsigned i = k->slots[s];
        if (i == 0)
            return NULL;
        if (CRYPTO_memcmp(k->entries[i - 1].digest, digest, 32) == 0)
            return &k->entries[i - 1];
    }
}

int fs_keys_find(const fs_keys_t *k, const char *key, size_t len)
{
    unsigned char digest[32];
    fs_auth_digest(key, len, digest);
    const key_entry_t *e = lookup(k, digest);
    return e != NULL ? (int)(e - k->entries) : -1;
}

/* One field of a line, "name=value", into e. NULL, or what is wrong (for the message). */
static const char *parse_field(key_entry_t *e, const char *field, unsigned *seen)
{
    static const char *const names[] = {"name", "rate", "burst", "watches"};
    const char *eq = strchr(field, '=');
    if (eq == NULL)
        return "expected NAME=VALUE (fields: name, rate, burst, watches)";
    unsigned f = 0;
    while (f < 4 && (strlen(names[f]) != (size_t)(eq - field) || strncmp(field, names[f], (size_t)(eq - field)) != 0))
        f++;
    if (f == 4)
        return "unknown field (fields: name, rate, burst, watches)";
    if (*seen & (1u << f))
        return "the field is given twice";
    *seen |= 1u << f;
    const char *v = eq + 1;
    switch (f) {
    case 0:
        if (!name_valid(v))
            return "name: expected 1 to 64 of [A-Za-z0-9_.-]";
        snprintf(e->name, sizeof(e->name), "%s", v);
        return NULL;
    case 1:
        return parse_rate(v, &e->interval_us) == 0 ? NULL : "rate: expected N/s, N/min or N/h with N in 1..1000000";
    case 2:
        return parse_number(v, strlen(v), 0, &e->burst) == 0 ? NULL : "burst: expected a whole number in 1..1000000";
    default:
        return parse_number(v, strlen(v), 1, &e->watches) == 0 ? NULL : "watches: expected a whole number in 0..1000000";
    }
}

int fs_keys_parse_buffer(const char *text, size_t len, const char *name_for_errors, fs_keys_t **out, char *err, size_t errcap)
{
    const char *path = name_for_errors;
    fs_keys_t *k = calloc(1, sizeof(*k));
    if (k == NULL) {
        snprintf(err, errcap, "--keys %s: out of memory", path);
        return FS_ENOMEM;
    }
    size_t cap = 0, pos = 0, n;
    char line[4096];
    unsigned lineno = 0;
    int rc = 0;
    while (rc == 0 && (n = fs_auth_next_line(text, len, pos, line, sizeof(line))) != 0) {
        pos += n;
        lineno++;
        char *p = line, *save;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#' || *p == '\n' || *p == '\r' || *p == '\0')
            continue;
        char *key = strtok_r(p, " \t\r\n", &save);
        if (strlen(key) < KEY_MIN) {
            snprintf(err, errcap, "--keys %s line %u: the key is shorter than %d characters; use a random one (openssl rand -hex 24)",
                     path, lineno, KEY_MIN);
            rc = FS_EINVAL;
            break;
        }
        if (k->count == cap) {
            cap = cap ? cap * 2 : 8;
            key_entry_t *grown = realloc(k->entries, cap * sizeof(*grown));
            if (grown == NULL) {
                snprintf(err, errcap, "--keys %s: out of memory", path);
                rc = FS_ENOMEM;
                break;
            }
            k->entries = grown;
        }
        key_entry_t *e = &k->entries[k->count];
        memset(e, 0, sizeof(*e));
        e->lineno = lineno;
        fs_auth_digest(key, strlen(key), e->digest);
        OPENSSL_cleanse(key, strlen(key));
        unsigned seen = 0;
        for (char *field = strtok_r(NULL, " \t\r\n", &save); field != NULL && rc == 0; field = strtok_r(NULL, " \t\r\n", &save)) {
            const char *why = parse_field(e, field, &seen);
            if (why != NULL) {
                snprintf(err, errcap, "--keys %s line %u: '%.40s': %s", path, lineno, field, why);
                rc = FS_EINVAL;
            }
        }
        if (rc == 0 && (seen & 7u) != 7u) {
            snprintf(err, errcap, "--keys %s line %u: expected 'KEY name=NAME rate=N/s burst=M [watches=W]'; %s is missing", path,
                     lineno, !(seen & 1u) ? "name" : !(seen & 2u) ? "rate" : "burst");
            rc = FS_EINVAL;
        }
        /* The file is read once per start or SIGHUP: the quadratic scans cost nothing that matters. */
        for (unsigned i = 0; rc == 0 && i < k->count; i++) {
            if (CRYPTO_memcmp(k->entries[i].digest, e->digest, sizeof(e->digest)) == 0) {
                snprintf(err, errcap, "--keys %s lines %u and %u: the same key is listed twice; keep one line per key", path,
                         k->entries[i].lineno, lineno);
                rc = FS_EINVAL;
            } else if (strcmp(k->entries[i].name, e->name) == 0) {
                snprintf(err, errcap, "--keys %s lines %u and %u: name=%s is used twice; names label the counters and own the watches",
                         path, k->entries[i].lineno, lineno, e->name);
                rc = FS_EINVAL;
            }
        }
        if (rc == 0)
            k->count++;
    }
    OPENSSL_cleanse(line, sizeof(line));
    if (rc == 0 && k->count == 0) {
        snprintf(err, errcap, "--keys %s: no keys in the file", path);
        rc = FS_EINVAL;
    }
    if (rc == 0 && index_entries(k) != 0) {
        snprintf(err, errcap, "--keys %s: out of memory", path);
        rc = FS_ENOMEM;
    }
    if (rc != 0) {
        fs_keys_free(k);
        return rc;
    }
    *out = k;
    return 0;
}

int fs_keys_parse(const char *path, fs_keys_t **out, char *err, size_t errcap)
{
    char *text;
    size_t len;
    int rc = fs_auth_file_read("--keys", path, &text, &len, err, errcap);
    if (rc != 0)
        return rc;
    rc = fs_keys_parse_buffer(text, len, path, out, err, errcap);
    fs_auth_file_free(text, len);
    return rc;
}

/* ------------------------------------------------------------ install */

/* Gives every entry its name's account, creating the accounts of new names. 0, or FS_ENOMEM (the
 * accounts made so far stay: they are harmless). Loading thread only. */
static int attach_accounts(fs_keys_t *k)
{
    for (unsigned i = 0; i < k->count; i++) {
        key_entry_t *e = &k->entries[i];
        fs_key_account_t *a = accounts_head;
        while (a != NULL && strcmp(a->name, e->name) != 0)
            a = a->next;
        if (a == NULL) {
            if (posix_memalign((void **)&a, 64, sizeof(*a)) != 0) /* its own cache lines: every worker CASes it */
                return FS_ENOMEM;
            memset(a, 0, sizeof(*a));
            snprintf(a->name, sizeof(a->name), "%s", e->name);
            /* published with release: a /metrics reader that sees the pointer sees the name */
            if (accounts_tail == NULL)
                __atomic_store_n(&accounts_head, a, __ATOMIC_RELEASE);
            else
                __atomic_store_n(&accounts_tail->next, a, __ATOMIC_RELEASE);
            accounts_tail = a;
        }
        e->account = a;
    }
    /* quotas change only once the whole file is known good */
    for (unsigned i = 0; i < k->count; i++)
        __atomic_store_n(&k->entries[i].account->watches, k->entries[i].watches, __ATOMIC_RELAXED);
    return 0;
}

int fs_keys_init(const char *path, char *err, size_t errcap)
{
    if (path == NULL)
        return 0;
    fs_keys_t *k;
    int rc = fs_keys_parse(path, &k, err, errcap);
    if (rc == 0 && attach_accounts(k) != 0) {
        snprintf(err, errcap, "--keys %s: out of memory", path);
        fs_keys_free(k);
        rc = FS_ENOMEM;
    }
    if (rc != 0)
        return rc;
    __atomic_store_n(&current_keys, k, __ATOMIC_RELEASE);
    keys_enabled = 1;
    return 0;
}

int fs_keys_enabled(void)
{
    return keys_enabled;
}

int fs_keys_reload(const char *path, char *err, size_t errcap)
{
    fs_keys_t *k;
    int rc = fs_keys_parse(path, &k, err, errcap);
    if (rc == 0 && attach_accounts(k) != 0) {
        snprintf(err, errcap, "--keys %s: out of memory", path);
        fs_keys_free(k);
        rc = FS_ENOMEM;
    }
    if (rc != 0)
        return rc;
    fs_keys_t *old = __atomic_exchange_n(&current_keys, k, __ATOMIC_ACQ_REL);
    fs_auth_synchronize();
    fs_keys_free(old);
    return (int)k->count;
}

const fs_key_account_t *fs_key_accounts(void)
{
    return __atomic_load_n(&accounts_head, __ATOMIC_ACQUIRE);
}

const fs_key_account_t *fs_key_account_next(const fs_key_account_t *account)
{
    return __atomic_load_n(&account->next, __ATOMIC_ACQUIRE);
}

fs_bucket_verdict_t fs_key_take_mpmc(fs_key_account_t *account, uint64_t now_us, uint64_t interval_us, unsigned burst)
{
    /* __atomic rather than ck_pr: TSan models these (the concurrency test runs under it). Relaxed:
     * the word publishes nothing else. A refusal changes nothing; a take lands only on the state it
     * was computed from, and a failed CAS reloads that state into `state`. */
    uint64_t state = __atomic_load_n(&account->full_at_us, __ATOMIC_RELAXED);
    for (;;) {
        fs_bucket_verdict_t v = fs_bucket_take(state, now_us, interval_us, burst);
        if (!v.allowed ||
            __atomic_compare_exchange_n(&account->full_at_us, &state, v.full_at_us, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            return v;
    }
}

unsigned fs_key_watch_quota(const fs_key_account_t *account)
{
    return __atomic_load_n(&account->watches, __ATOMIC_RELAXED);
}

/* ---------------------------------------------------------------- gate */

static void add_number_header(h2o_req_t *req, const char *lower, const char *name, unsigned value)
{
    char *buf = h2o_mem_alloc_pool(&req->pool, 12);
    int n = snprintf(buf, 12, "%u", value);
    h2o_add_header_by_str(&req->pool, &req->res.headers, lower, strlen(lower), 0, name, buf, (size_t)n);
}

static int unauthorized(h2o_req_t *req, fs_endpoint_t ep, uint64_t started_us, int had_key)
{
    if (had_key)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL,
                       H2O_STRLIT("Bearer realm=\"flightsearch\", error=\"invalid_token\""));
    else
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL, H2O_STRLIT("Bearer realm=\"flightsearch\""));
    return fs_send_error(req, 401, "unauthorized", NULL,
                         had_key ? "the API key in the Authorization header is not known to this server"
                                 : "an 'Authorization: Bearer KEY' header with an API key is required on /v1 reads",
                         ep, started_us);
}

int fs_keys_authorize(h2o_req_t *req, fs_worker_t *w, fs_endpoint_t ep, uint64_t started_us, fs_key_account_t **account)
{
    if (account != NULL)
        *account = NULL;
    if (!keys_enabled)
        return 0;
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    const char *secret;
    size_t secret_len;
    if (i < 0 || fs_auth_bearer(req->headers.entries[i].value.base, req->headers.entries[i].value.len, &secret, &secret_len) != 0) {
        unauthorized(req, ep, started_us, 0);
        return -1;
    }
    unsigned char digest[32];
    fs_auth_digest(secret, secret_len, digest);
    ck_epoch_begin(&w->auth_record, NULL);
    const key_entry_t *e = lookup(__atomic_load_n(&current_keys, __ATOMIC_ACQUIRE), digest);
    fs_key_account_t *a = e != NULL ? e->account : NULL;
    uint64_t interval_us = e != NULL ? e->interval_us : 0;
    unsigned burst = e != NULL ? e->burst : 0;
    ck_epoch_end(&w->auth_record, NULL);
    if (a == NULL) {
        unauthorized(req, ep, started_us, 1);
        return -1;
    }
    fs_bucket_verdict_t v = fs_key_take_mpmc(a, started_us, interval_us, burst);
    add_number_header(req, "ratelimit-limit", "RateLimit-Limit", burst);
    add_number_header(req, "ratelimit-remaining", "RateLimit-Remaining", v.remaining);
    add_number_header(req, "ratelimit-reset", "RateLimit-Reset", v.reset_s);
    w->metrics.key = a; /* counted with the status of the answer, whichever it is */
    if (account != NULL)
        *account = a;
    if (v.allowed)
        return 0;
    char *retry = h2o_mem_alloc_pool(&req->pool, 12);
    int n = snprintf(retry, 12, "%u", v.retry_after_s);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, retry, (size_t)n);
    char msg[200];
    snprintf(msg, sizeof(msg), "key %s is past its rate limit (%u requests at once, then one every %.3g s); retry in %u s",
             a->name, burst, (double)interval_us / 1e6, v.retry_after_s);
    fs_send_error(req, 429, "rate_limited", NULL, msg, ep, started_us);
    return -1;
}
