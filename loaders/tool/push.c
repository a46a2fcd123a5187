/*
 * loaders/tool/push.c: `flightsearch-feed push`: one feed file to a server's feed endpoint over
 * libcurl, after the same check validate does (a file the server would refuse is not sent).
 *
 * The body is the mapped file, handed to libcurl as is (CURLOPT_POSTFIELDS), so a 1 GB snapshot
 * costs no copy. Retries are safe: the server answers an identical re-push as a duplicate.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>

#include "loaders/tool/feed_tool.h"

#define MIB (1024.0 * 1024.0)
#define PROGRESS_MIN_BYTES (1024 * 1024)
#define ANSWER_MAX (1024 * 1024) /* more of an answer than this is dropped */
#define TOKEN_FILE_MAX 65536

void ft_push_usage(FILE *fp)
{
    fprintf(fp, "usage: " FT_NAME " push --url URL --token-file F [--delta|--snapshot] [--source S]\n"
                "                      [--format msgpack|json] [--http2] [--retries N] [--allow-empty] FILE\n"
                "\n"
                "Sends FILE to a flightsearch server: a snapshot as PUT URL/v1/feeds/SOURCE/snapshot, a delta\n"
                "as POST URL/v1/feeds/SOURCE/deltas, with Content-Type application/msgpack or\n"
                "application/json and Authorization: Bearer <token>. SOURCE comes from the file's own\n"
                "\"source\" field. The file is first checked as validate checks it; a file the server would\n"
                "refuse is not sent (exit 1, with validate's output), and neither is a snapshot without legs\n"
                "(it would remove every leg of the source; --allow-empty sends it anyway).\n"
                "\n"
                "options:\n"
                "  --url URL               the server's base URL, e.g. http://127.0.0.1:8080 (required)\n"
                "  --token-file F          a file whose first non-empty line is the feed token (required).\n"
                "                          The token is never printed; keep the file private (chmod 600)\n"
                "  --delta, --snapshot     the kind (default: a name containing \".delta.\" is a delta)\n"
                "  --source S              the source to push to; the file's \"source\" must match it\n"
                "  --format msgpack|json   the format (default: from the name, .msgpack or .json)\n"
                "  --http2                 HTTP/2: h2c with prior knowledge on http://, ALPN on https://\n"
                "                          (default HTTP/1.1)\n"
                "  --retries N             retries after a connection error or a 503, waiting 1, 2, 4 ...\n"
                "                          seconds (up to 30) or what Retry-After says (default 3)\n"
                "  --allow-empty           send a snapshot with no legs (it empties the source)\n"
                "\n"
                "output:\n"
                "  applied   stdout: the server's answer, one JSON line:\n"
                "              {\"source\":\"tap\",\"sequence\":42,\"generation\":18,\"legs\":15258,\"upserted\":15258,\n"
                "               \"removed\":0,\"took_ms\":120}  (with \"duplicate\":true for an identical re-push)\n"
                "  refused   stdout: the server's error JSON; stderr: the status, code, message and each problem:\n"
                "              push refused: HTTP 409 stale_sequence: ...\n"
                "  progress  on a terminal, bodies over 1 MiB show a bar on stderr:\n"
                "              [#########.....] 52%% 120.3/230.0 MiB 85 MiB/s\n"
                "\n"
                "exit codes: 0 applied (or a duplicate), 1 refused (the local check, or the server's 4xx:\n"
                "400 malformed, 401/403 token, 409 stale sequence, 413 too large, 422 invalid), 2 bad usage or\n"
                "an unreadable FILE or token file, 3 transport failure: no connection, or a 5xx (503 busy)\n"
                "still there after the retries.\n"
                "\n"
                "examples:\n"
                "  " FT_NAME " push --url http://127.0.0.1:8080 --token-file ~/.fs-token feeds/tap-42.msgpack\n"
                "  " FT_NAME " push --url http://127.0.0.1:8080 --token-file ~/.fs-token feeds/tap-43.delta.msgpack\n"
                "  " FT_NAME " push --url https://feeds.example.com --token-file /etc/fs/token --http2 \\\n"
                "      --retries 10 feeds/tap-44.json\n"
                "  " FT_NAME " push ... feeds/tap-42.msgpack | jq .generation   # the answer is JSON on stdout\n");
}

/* ------------------------------------------------------------ the token */

/* The first non-empty line of the file, trimmed. Returns 0, or FT_EXIT_USAGE after saying why
 * (never with the token's text). */
static int read_token(const char *path, char *out, size_t cap)
{
    char buf[TOKEN_FILE_MAX];
    FILE *fp = fopen(path, "rb");
    size_t n;

    if (fp == NULL) {
        fprintf(stderr, FT_NAME " push: --token-file %s: cannot read: %s\n", path, strerror(errno));
        return FT_EXIT_USAGE;
    }
    n = fread(buf, 1, sizeof(buf) - 1, fp);
    int failed = ferror(fp);
    fclose(fp);
    if (failed) {
        fprintf(stderr, FT_NAME " push: --token-file %s: cannot read\n", path);
        return FT_EXIT_USAGE;
    }
    buf[n] = '\0';
    const char *p = buf;
    while (*p != '\0') {
        const char *eol = strchr(p, '\n');
        const char *e = eol != NULL ? eol : p + strlen(p);
        const char *s = p;
        while (s < e && (*s == ' ' || *s == '\t' || *s == '\r'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
            e--;
        if (e > s) {
            size_t len = (size_t)(e - s);
            for (size_t i = 0; i < len; i++) {
                if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e) {
                    explicit_bzero(buf, sizeof(buf));
                    fprintf(stderr, FT_NAME " push: --token-file %s: the token has a character that is not printable ASCII\n",
                            path);
                    return FT_EXIT_USAGE;
                }
            }
            if (len >= cap) {
                explicit_bzero(buf, sizeof(buf));
                fprintf(stderr, FT_NAME " push: --token-file %s: the token is longer than %zu characters\n", path, cap - 1);
                return FT_EXIT_USAGE;
            }
            memcpy(out, s, len);
            out[len] = '\0';
            explicit_bzero(buf, sizeof(buf));
            return 0;
        }
        if (eol == NULL)
            break;
        p = eol + 1;
    }
    explicit_bzero(buf, sizeof(buf));
    fprintf(stderr, FT_NAME " push: --token-file %s: no token in the file (it has no non-empty line)\n", path);
    return FT_EXIT_USAGE;
}

/* ------------------------------------------------------------- transfer */

typedef struct progress {
    int enabled;
    double start, last;
    int drawn, final;
    curl_off_t total;
} progress_t;

typedef struct answer {
    char *data;
    size_t len, cap;
    long retry_after; /* seconds, -1 when absent */
} answer_t;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress_draw(progress_t *p, curl_off_t done)
{
    char bar[31];
    const unsigned width = 30;
    curl_off_t total = p->total > 0 ? p->total : 1;
    if (done > total)
        done = total;
    unsigned fill = (unsigned)(done * (curl_off_t)width / total);
    double elapsed = now_seconds() - p->start, rate = elapsed > 0 ? (double)done / MIB / elapsed : 0;

    memset(bar, '#', fill);
    memset(bar + fill, '.', width - fill);
    bar[width] = '\0';
    fprintf(stderr, "\r[%s] %3u%% %.1f/%.1f MiB ", bar, (unsigned)(done * 100 / total), (double)done / MIB, (double)total / MIB);
    if (rate >= 10)
        fprintf(stderr, "%.0f MiB/s   ", rate);
    else
        fprintf(stderr, "%.1f MiB/s   ", rate);
    fflush(stderr);
    p->drawn = 1;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    progress_t *p = arg;
    double t = now_seconds();

    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    if (ulnow >= p->total) {
        if (!p->final) {
            p->final = 1;
            progress_draw(p, ulnow);
        }
    } else if (t - p->last >= 0.1) {
        p->last = t;
        progress_draw(p, ulnow);
    }
    return 0;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
    answer_t *a = arg;
    size_t n = size * nmemb, keep = n;

    if (a->len + keep > ANSWER_MAX)
        keep = ANSWER_MAX - a->len;
    if (keep > 0) {
        if (a->len + keep + 1 > a->cap) {
            a->cap = a->len + keep + 1 > a->cap * 2 ? a->len + keep + 1 : a->cap * 2;
            a->data = ft_xrealloc(a->data, a->cap);
        }
        memcpy(a->data + a->len, ptr, keep);
        a->len += keep;
        a->data[a->len] = '\0';
    }
    return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *arg)
{
    answer_t *a = arg;
    size_t n = size * nmemb;

    if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
        a->retry_after = -1; /* a new response (after a 100 Continue, say) */
    } else if (n > 12 && strncasecmp(ptr, "Retry-After:", 12) == 0) {
        char tmp[32];
        size_t k = n - 12 < sizeof(tmp) - 1 ? n - 12 : sizeof(tmp) - 1;
        memcpy(tmp, ptr + 12, k);
        tmp[k] = '\0';
        char *end;
        long v = strtol(tmp, &end, 10);
        while (*end == ' ' || *end == '\r' || *end == '\n' || *end == '\t')
            end++;
        if (end != tmp && *end == '\0' && v >= 0)
            a->retry_after = v;
    }
    return n;
}

static int retryable(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return 1;
    default:
        return 0;
    }
}

static void sleep_seconds(long s)
{
    struct timespec ts = {s, 0};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ------------------------------------------------------------- answers */

/* The answer without its trailing line break, for printing on one line. */
static size_t trimmed_len(const answer_t *a)
{
    size_t n = a->len;
    while (n > 0 && (a->data[n - 1] == '\n' || a->data[n - 1] == '\r' || a->data[n - 1] == ' '))
        n--;
    return n;
}

static void summarize_applied(const answer_t *a)
{
    ft_tree_t t;
    char err[160];
    int64_t seq = 0, gen = 0, legs = 0, up = 0, rm = 0, took = 0;
    char src[64] = "?";

    ft_tree_init(&t);
    long root = ft_tree_parse_json(&t, a->data, a->len, err, sizeof(err), NULL, 0, NULL);
    if (root >= 0 && t.n[root].type == FT_MAP) {
        long dup = ft_tree_get(&t, root, "duplicate");
        ft_tree_get_str(&t, root, "source", src, sizeof(src));
        ft_tree_get_int(&t, root, "sequence", &seq);
        ft_tree_get_int(&t, root, "generation", &gen);
        ft_tree_get_int(&t, root, "legs", &legs);
        ft_tree_get_int(&t, root, "upserted", &up);
        ft_tree_get_int(&t, root, "removed", &rm);
        ft_tree_get_int(&t, root, "took_ms", &took);
        if (dup >= 0 && t.n[dup].type == FT_BOOL && t.n[dup].v.b)
            fprintf(stderr, "%s sequence %" PRId64 ": already applied (an identical re-push); generation %" PRId64 "\n", src, seq,
                    gen);
        else
            fprintf(stderr,
                    "%s sequence %" PRId64 ": applied as generation %" PRId64 ", %" PRId64 " legs (%" PRId64 " upserted, %" PRId64
                    " removed) in %" PRId64 " ms\n",
                    src, seq, gen, legs, up, rm, took);
    }
    ft_tree_free(&t);
}

/* stderr: "push refused: HTTP 422 invalid_feed: <message>", then each listed problem. */
static void summarize_refused(long status, const answer_t *a, fs_feed_kind_t kind)
{
    ft_tree_t t;
    char err[160], code[64], message[512];
    int64_t current;

    ft_tree_init(&t);
    long root = a->len > 0 ? ft_tree_parse_json(&t, a->data, a->len, err, sizeof(err), NULL, 0, NULL) : -1;
    long e = root >= 0 ? ft_tree_get(&t, root, "error") : -1;
    if (e < 0 || t.n[e].type != FT_MAP) {
        size_t n = trimmed_len(a);
        fprintf(stderr, "push refused: HTTP %ld%s%.*s%s\n", status, n > 0 ? ": " : "", (int)(n > 200 ? 200 : n),
                n > 0 ? a->data : "", n > 200 ? "..." : "");
        ft_tree_free(&t);
        return;
    }
    if (ft_tree_get_str(&t, e, "code", code, sizeof(code)) == NULL)
        snprintf(code, sizeof(code), "(no code)");
    if (ft_tree_get_str(&t, e, "message", message, sizeof(message)) == NULL)
        message[0] = '\0';
    fprintf(stderr, "push refused: HTTP %ld %s%s%s\n", status, code, message[0] != '\0' ? ": " : "", message);
    if (ft_tree_get_int(&t, e, "current_sequence", &current) || ft_tree_get_int(&t, root, "current_sequence", &current))
        fprintf(stderr, "  the server is at sequence %" PRId64 "; a push needs a higher one\n", current);

    long list = ft_tree_get(&t, e, "errors");
    if (list >= 0 && t.n[list].type == FT_ARRAY) {
        /* The server's list, printed exactly as validate prints the decoder's. */
        fs_feed_errors_t errs;
        memset(&errs, 0, sizeof(errs));
        errs.malformed = strcmp(code, "malformed_feed") == 0;
        size_t j = (size_t)list + 1, end = (size_t)list + t.n[list].size;
        for (; j < end; j += t.n[j].size) {
            if (errs.count == FS_FEED_MAX_ERRORS) {
                errs.total++;
                continue;
            }
            fs_feed_error_t *x = &errs.e[errs.count];
            int64_t index = -1;
            ft_tree_get_int(&t, (long)j, "index", &index);
            x->index = index;
            if (ft_tree_get_str(&t, (long)j, "field", x->field, sizeof(x->field)) == NULL)
                x->field[0] = '\0';
            if (ft_tree_get_str(&t, (long)j, "reason", x->reason, sizeof(x->reason)) == NULL)
                x->reason[0] = '\0';
            errs.count++;
            errs.total++;
        }
        ft_print_errors_text(stderr, "  ", &errs, kind);
    }
    ft_tree_free(&t);
}

/* ------------------------------------------------------------- command */

int ft_cmd_push(int argc, char **argv)
{
    const char *url = NULL, *token_file = NULL, *source = NULL, *format_s = NULL, *retries_s = NULL;
    int delta = 0, snapshot = 0, http2 = 0, allow_empty = 0, npos, r;
    const char *pos[1];
    const ft_opt_t opts[] = {
        {"--url", &url, NULL},
        {"--token-file", &token_file, NULL},
        {"--source", &source, NULL},
        {"--format", &format_s, NULL},
        {"--retries", &retries_s, NULL},
        {"--delta", NULL, &delta},
        {"--snapshot", NULL, &snapshot},
        {"--http2", NULL, &http2},
        {"--allow-empty", NULL, &allow_empty},
        {NULL, NULL, NULL},
    };
    char err[512], token[4096], line[256];
    long retries = 3;
    fs_feed_format_t format;
    fs_feed_kind_t kind;

    if ((r = ft_parse_args(argc, argv, opts, ft_push_usage, pos, 1, &npos)) != 0)
        return r == 1 ? FT_EXIT_OK : r;
    if (npos != 1)
        return ft_usage_error("push", "expected one FILE");
    if (url == NULL)
        return ft_usage_error("push", "--url is required (the server's base URL, e.g. http://127.0.0.1:8080)");
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return ft_usage_error("push", "--url: expected http://HOST[:PORT] or https://..., got '%s'", url);
    if (token_file == NULL)
        return ft_usage_error("push", "--token-file is required");
    if (delta && snapshot)
        return ft_usage_error("push", "--delta and --snapshot exclude each other");
    if (source != NULL && !fs_feed_source_valid(source, strlen(source)))
        return ft_usage_error("push", "--source: expected a name matching [a-z0-9_-]{1,32}, got '%s'", source);
    if (retries_s != NULL) {
        char *end;
        errno = 0;
        retries = strtol(retries_s, &end, 10);
        if (errno != 0 || *end != '\0' || end == retries_s || retries < 0 || retries > 100)
            return ft_usage_error("push", "--retries: expected a whole number from 0 to 100, got '%s'", retries_s);
    }
    const char *path = pos[0];
    if (ft_feed_format(path, format_s, &format, err, sizeof(err)) != 0)
        return ft_usage_error("push", "%s", err);
    ft_feed_kind(path, delta, snapshot, &kind);

    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (http2 && !(curl_version_info(CURLVERSION_NOW)->features & CURL_VERSION_HTTP2))
        return ft_usage_error("push", "--http2: this libcurl was built without HTTP/2");
    if ((r = read_token(token_file, token, sizeof(token))) != 0)
        return r;

    ft_map_t m;
    int e = ft_map_file(path, &m);
    if (e != 0) {
        explicit_bzero(token, sizeof(token));
        fprintf(stderr, FT_NAME " push: %s: cannot read: %s\n", path, strerror(e));
        return FT_EXIT_USAGE;
    }

    /* The local check, which also gives the source. */
    fs_feed_header_t hdr;
    fs_feed_errors_t errs;
    ft_counts_t counts = {0};
    r = ft_check(m.data, m.len, format, kind, source, &hdr, &counts, &errs);
    if (r != 0) {
        explicit_bzero(token, sizeof(token));
        ft_unmap(&m);
        if (r != FS_EINVAL) {
            fprintf(stderr, FT_NAME " push: %s: %s\n", path, fs_strerror(r));
            return FT_EXIT_USAGE;
        }
        ft_report_refused(path, &errs, kind);
        fprintf(stderr, "%s: not sent\n", path);
        return FT_EXIT_REFUSED;
    }
    ft_describe(line, sizeof(line), kind, &hdr, &counts);
    if (kind == FS_FEED_SNAPSHOT && counts.legs == 0 && !allow_empty) {
        explicit_bzero(token, sizeof(token));
        ft_unmap(&m);
        fprintf(stderr,
                "%s: not sent: a snapshot without legs removes every leg of source %s; use --allow-empty if that is "
                "what you want\n",
                path, hdr.source);
        return FT_EXIT_REFUSED;
    }

    size_t base_len = strlen(url);
    while (base_len > 0 && url[base_len - 1] == '/')
        base_len--;
    char *target = ft_xrealloc(NULL, base_len + 64 + FS_SOURCE_NAME_MAX);
    sprintf(target, "%.*s/v1/feeds/%s/%s", (int)base_len, url, hdr.source, kind == FS_FEED_SNAPSHOT ? "snapshot" : "deltas");

    char auth[4096 + 32];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    explicit_bzero(token, sizeof(token));
    struct curl_slist *headers = NULL;
    headers = curl_slist_append(headers,
                                format == FS_FEED_MSGPACK ? "Content-Type: application/msgpack" : "Content-Type: application/json");
    headers = curl_slist_append(headers, auth);
    explicit_bzero(auth, sizeof(auth));
    headers = curl_slist_append(headers, "Accept: application/json");
    /* Small bodies go at once; a big one waits for "100 Continue", so a refusal of the token or of
     * the size comes before the upload rather than after it. */
    if (m.len <= PROGRESS_MIN_BYTES)
        headers = curl_slist_append(headers, "Expect:");

    CURL *curl = curl_easy_init();
    char curl_err[CURL_ERROR_SIZE];
    answer_t ans = {NULL, 0, 0, -1};
    progress_t prog = {0};
    prog.enabled = isatty(2) && m.len > PROGRESS_MIN_BYTES;
    prog.total = (curl_off_t)m.len;

    if (curl == NULL || headers == NULL) {
        fprintf(stderr, FT_NAME " push: cannot set up libcurl\n");
        r = FT_EXIT_TRANSPORT;
        goto out;
    }
    curl_easy_setopt(curl, CURLOPT_URL, target);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, m.data != NULL ? (const char *)m.data : "");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)m.len);
    if (kind == FS_FEED_SNAPSHOT)
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(curl, CURLOPT_HTTP_VERSION,
                     !http2                             ? CURL_HTTP_VERSION_1_1
                     : strncmp(url, "https://", 8) == 0 ? CURL_HTTP_VERSION_2TLS
                                                        : CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, FT_NAME "/" FT_VERSION);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
    /* No overall limit (a big snapshot takes what it takes), but a transfer stuck for 5 minutes
     * is given up. */
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 300L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &ans);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &ans);
    if (prog.enabled) {
        curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &prog);
    }

    long status = 0;
    for (long attempt = 0;; attempt++) {
        ans.len = 0;
        ans.retry_after = -1;
        curl_err[0] = '\0';
        prog.start = now_seconds();
        prog.last = 0;
        prog.drawn = prog.final = 0;
        CURLcode rc = curl_easy_perform(curl);
        /* cppcheck-suppress knownConditionTrueFalse ; on_progress sets it during curl_easy_perform */
        if (prog.drawn)
            fputc('\n', stderr);
        long wait = attempt < 30 ? 1L << (attempt < 5 ? attempt : 5) : 30;
        if (wait > 30)
            wait = 30;
        if (rc != CURLE_OK) {
            /* cppcheck-suppress knownConditionTrueFalse ; curl writes it (CURLOPT_ERRORBUFFER) */
            const char *why = curl_err[0] != '\0' ? curl_err : curl_easy_strerror(rc);
            if (retryable(rc) && attempt < retries) {
                fprintf(stderr, FT_NAME " push: %s: %s; retrying in %ld s (%ld %s left)\n", target, why, wait, retries - attempt,
                        retries - attempt == 1 ? "retry" : "retries");
                sleep_seconds(wait);
                continue;
            }
            fprintf(stderr, FT_NAME " push: %s: %s\n", target, why);
            r = FT_EXIT_TRANSPORT;
            goto out;
        }
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        if (status == 503 && attempt < retries) {
            if (ans.retry_after >= 0)
                wait = ans.retry_after > 300 ? 300 : ans.retry_after;
            fprintf(stderr, FT_NAME " push: %s: HTTP 503 (the server is busy); retrying in %ld s (%ld %s left)\n", target, wait,
                    retries - attempt, retries - attempt == 1 ? "retry" : "retries");
            sleep_seconds(wait);
            continue;
        }
        break;
    }

    size_t n = trimmed_len(&ans);
    if (n > 0)
        printf("%.*s\n", (int)n, ans.data);
    fflush(stdout);
    if (status >= 200 && status < 300) {
        if (isatty(2))
            summarize_applied(&ans);
        r = FT_EXIT_OK;
    } else {
        summarize_refused(status, &ans, kind);
        fprintf(stderr, "  (sent %s: %s)\n", path, line);
        r = status >= 500 ? FT_EXIT_TRANSPORT : FT_EXIT_REFUSED;
    }

out:
    if (curl != NULL)
        curl_easy_cleanup(curl);
    for (struct curl_slist *h = headers; h != NULL; h = h->next)
        explicit_bzero(h->data, strlen(h->data)); /* the token */
    curl_slist_free_all(headers);
    free(ans.data);
    free(target);
    ft_unmap(&m);
    curl_global_cleanup();
    return r;
}
