/*
 * tests/e2e/lib_server.c: processes, HTTP over libcurl and msgpack helpers for the end-to-end
 * tests (the contract is in lib_server.h).
 */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tests/e2e/lib_server.h"

/* ------------------------------------------------------------- process */

int64_t e2e_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int e2e_tmpdir(char *out, size_t cap)
{
    if (cap < 32)
        return -1;
    snprintf(out, cap, "/tmp/fs-e2e-XXXXXX");
    return mkdtemp(out) != NULL ? 0 : -1;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 ? 0 : 0; /* keep going: remove what can be removed */
}

void e2e_rmtree(const char *dir)
{
    if (dir != NULL && dir[0] != '\0')
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int e2e_write_file(const char *path, const void *data, size_t len)
{
    /* 0600: the server refuses a --tokens file that group or others may read. */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd < 0 ? NULL : fdopen(fd, "wb");
    if (f == NULL) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int ok = len == 0 || fwrite(data, 1, len, f) == len;
    ok &= fclose(f) == 0;
    return ok ? 0 : -1;
}

char *e2e_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (buf == NULL)
            break;
        if (n + 1 >= cap) {
            char *b = realloc(buf, cap * 2);
            if (b == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
            cap *= 2;
        }
        size_t k = fread(buf + n, 1, cap - n - 1, f);
        n += k;
        if (k == 0)
            break;
    }
    fclose(f);
    if (buf != NULL) {
        buf[n] = '\0';
        if (len != NULL)
            *len = n;
    }
    return buf;
}

unsigned e2e_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    unsigned port = 0;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

static int status_of(int wstatus)
{
    if (WIFEXITED(wstatus))
        return WEXITSTATUS(wstatus);
    if (WIFSIGNALED(wstatus))
        return 128 + WTERMSIG(wstatus);
    return -1;
}

int e2e_run(char *const argv[], char **output, int timeout_ms)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    int64_t deadline = e2e_now_ms() + timeout_ms;
    int killed = 0;
    for (;;) {
        int64_t left = deadline - e2e_now_ms();
        if (left <= 0 && !killed) {
            kill(pid, SIGKILL);
            killed = 1;
        }
        struct pollfd p = {fds[0], POLLIN, 0};
        int r = poll(&p, 1, left > 0 ? (int)(left > 100 ? 100 : left) : 100);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            continue;
        if (buf != NULL && n + 1024 > cap) {
            char *b = realloc(buf, cap * 2);
            if (b == NULL) {
                free(buf);
                buf = NULL;
            } else {
                buf = b;
                cap *= 2;
            }
        }
        char scratch[1024];
        ssize_t k = buf != NULL ? read(fds[0], buf + n, cap - n - 1) : read(fds[0], scratch, sizeof(scratch));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        if (buf != NULL)
            n += (size_t)k;
    }
    close(fds[0]);
    int wstatus;
    while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
        ;
    if (buf != NULL)
        buf[n] = '\0';
    if (output != NULL)
        *output = buf;
    else
        free(buf);
    return status_of(wstatus);
}

char *e2e_server_stderr(const e2e_server_t *s)
{
    char *text = e2e_read_file(s->stderr_path, NULL);
    return text != NULL ? text : strdup("");
}

/* GET /readyz once over HTTP/1.1 with a short timeout; the status or 0. */
static long readyz_status(const char *url)
{
    CURL *c = curl_easy_init();
    if (c == NULL)
        return 0;
    char u[128];
    snprintf(u, sizeof(u), "%s/readyz", url);
    FILE *sink = fopen("/dev/null", "w");
    curl_easy_setopt(c, CURLOPT_URL, u);
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 1000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (sink != NULL)
        fclose(sink);
    return status;
}

static int server_spawn(e2e_server_t *s, const char *binary, const char *data_dir, const char *tls_cert, const char *tls_key,
                        const char *const *extra)
{
    memset(s, 0, sizeof(*s));
    s->pid = -1;
    if (e2e_tmpdir(s->log_dir, sizeof(s->log_dir)) != 0) {
        fprintf(stderr, "e2e: cannot create a temp dir: %s\n", strerror(errno));
        return -1;
    }
    snprintf(s->stderr_path, sizeof(s->stderr_path), "%s/stderr.log", s->log_dir);
    s->port = e2e_free_port();
    if (tls_cert != NULL)
        s->tls_port = e2e_free_port();
    if (s->port == 0 || (tls_cert != NULL && s->tls_port == 0)) {
        fprintf(stderr, "e2e: no free port\n");
        return -1;
    }
    snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%u", s->port);
    snprintf(s->tls_url, sizeof(s->tls_url), "https://127.0.0.1:%u", s->tls_port);

    char listen[64], tls_listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", s->port);
    snprintf(tls_listen, sizeof(tls_listen), "127.0.0.1:%u", s->tls_port);
    const char *argv[64];
    int argc = 0;
    argv[argc++] = binary;
    argv[argc++] = "--listen";
    argv[argc++] = listen;
    argv[argc++] = "--threads";
    argv[argc++] = "2";
    argv[argc++] = "--data-dir";
    argv[argc++] = data_dir;
    argv[argc++] = "--quiet";
    if (tls_cert != NULL) {
        argv[argc++] = "--tls-cert";
        argv[argc++] = tls_cert;
        argv[argc++] = "--tls-key";
        argv[argc++] = tls_key;
        argv[argc++] = "--tls-listen";
        argv[argc++] = tls_listen;
    }
    for (int i = 0; extra != NULL && extra[i] != NULL && argc < 63; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;

    pid_t parent = getpid(), pid = fork();
    if (pid < 0) {
        fprintf(stderr, "e2e: fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        /* a test that crashes must not leave servers behind */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(125);
        int log = open(s->stderr_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
        int devnull = open("/dev/null", O_RDONLY);
        if (log < 0 || devnull < 0)
            _exit(126);
        dup2(devnull, 0);
        dup2(log, 1);
        dup2(log, 2);
        execv(binary, (char *const *)argv);
        _exit(127);
    }
    s->pid = pid;
    return 0;
}

static int server_start(e2e_server_t *s, const char *binary, const char *data_dir, const char *tls_cert, const char *tls_key,
                        const char *const *extra)
{
    if (server_spawn(s, binary, data_dir, tls_cert, tls_key, extra) != 0)
        return -1;
    pid_t pid = s->pid;
    int64_t deadline = e2e_now_ms() + 10000;
    while (e2e_now_ms() < deadline) {
        int wstatus;
        if (waitpid(pid, &wstatus, WNOHANG) == pid) {
            s->pid = -1;
            char *log = e2e_server_stderr(s);
            fprintf(stderr, "e2e: %s exited with status %d before it was ready; its stderr:\n%s\n", binary, status_of(wstatus),
                    log);
            free(log);
            return -1;
        }
        if (readyz_status(s->url) == 200)
            return 0;
        sleep_ms(20);
    }
    char *log = e2e_server_stderr(s);
    fprintf(stderr, "e2e: %s on port %u not ready (GET /readyz != 200) within 10 s; its stderr:\n%s\n", binary, s->port, log);
    free(log);
    e2e_server_stop(s);
    return -1;
}

int e2e_server_start(e2e_server_t *s, const char *binary, const char *data_dir, const char *const *extra)
{
    return server_start(s, binary, data_dir, NULL, NULL, extra);
}

int e2e_server_spawn(e2e_server_t *s, const char *binary, const char *data_dir, const char *const *extra)
{
    return server_spawn(s, binary, data_dir, NULL, NULL, extra);
}

int e2e_server_start_tls(e2e_server_t *s, const char *binary, const char *data_dir, const char *tls_cert, const char *tls_key,
                         const char *const *extra)
{
    return server_start(s, binary, data_dir, tls_cert, tls_key, extra);
}

void e2e_server_signal(e2e_server_t *s, int signo)
{
    if (s->pid > 0)
        kill(s->pid, signo);
}

int e2e_server_wait(e2e_server_t *s, int timeout_ms)
{
    if (s->pid <= 0)
        return -1;
    int64_t deadline = e2e_now_ms() + timeout_ms;
    int wstatus;
    for (;;) {
        pid_t r = waitpid(s->pid, &wstatus, WNOHANG);
        if (r == s->pid)
            break;
        if (r < 0 && errno != EINTR) {
            s->pid = -1;
            return -1;
        }
        if (e2e_now_ms() >= deadline) {
            fprintf(stderr, "e2e: server pid %d still running after %d ms: SIGKILL\n", (int)s->pid, timeout_ms);
            kill(s->pid, SIGKILL);
            while (waitpid(s->pid, &wstatus, 0) < 0 && errno == EINTR)
                ;
            break;
        }
        sleep_ms(10);
    }
    s->pid = -1;
    return status_of(wstatus);
}

int e2e_server_stop(e2e_server_t *s)
{
    int status = -1, waited = s->pid > 0;
    if (waited) {
        kill(s->pid, SIGTERM);
        status = e2e_server_wait(s, 15000);
    }
    if (waited && status != 0 && s->log_dir[0] != '\0') {
        /* the reason is in its stderr (a sanitizer report, a refusal): show it before it goes */
        size_t len = 0;
        char *log = e2e_read_file(s->stderr_path, &len);
        fprintf(stderr, "e2e: server on port %u ended with status %d; the last of its stderr:\n%s\n", s->port, status,
                log != NULL ? (len > 6000 ? log + len - 6000 : log) : "(none)");
        free(log);
    }
    e2e_rmtree(s->log_dir);
    s->log_dir[0] = '\0';
    return status;
}

/* ---------------------------------------------------------------- HTTP */

const char *const e2e_proto_names[E2E_PROTO_COUNT] = {"HTTP/1.1", "h2 (prior knowledge)", "h2c (Upgrade)", "https (ALPN)"};

void e2e_http_init(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
}

int e2e_client_init(e2e_client_t *c)
{
    c->curl = curl_easy_init();
    return c->curl != NULL ? 0 : -1;
}

void e2e_client_free(e2e_client_t *c)
{
    if (c->curl != NULL)
        curl_easy_cleanup(c->curl);
    c->curl = NULL;
}

void e2e_curl_setup(CURL *curl, e2e_proto_t proto)
{
    long version = CURL_HTTP_VERSION_1_1;
    switch (proto) {
    case E2E_H2:
        version = CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;
        /* libcurl 7.88.1 (Debian 12) fails a request that reuses an h2 prior-knowledge connection
         * with "Error in the HTTP2 framing layer" before sending it (curl/curl#10634, fixed in
         * 8.0.0 by #10643): one connection per request. Concurrent streams on one connection are
         * still exercised by curl multi tests, which do not go through the reuse path. */
        curl_easy_setopt(curl, CURLOPT_FORBID_REUSE, 1L);
        curl_easy_setopt(curl, CURLOPT_FRESH_CONNECT, 1L);
        break;
    case E2E_H2C_UPGRADE:
        version = CURL_HTTP_VERSION_2_0;
        break;
    case E2E_HTTPS:
        version = CURL_HTTP_VERSION_2TLS;
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
        break;
    default:
        break;
    }
    curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, version);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 15000L);
}

/* What the write and header callbacks fill: a response and its body's capacity. */
typedef struct collect {
    e2e_response_t *res;
    size_t cap;
} collect_t;

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    collect_t *c = arg;
    e2e_response_t *res = c->res;
    size_t n = size * nmemb;
    if (res->body_len + n + 1 > c->cap) {
        size_t cap = c->cap ? c->cap : 4096;
        while (cap < res->body_len + n + 1)
            cap *= 2;
        char *b = realloc(res->body, cap);
        if (b == NULL)
            return 0;
        res->body = b;
        c->cap = cap;
    }
    memcpy(res->body + res->body_len, data, n);
    res->body_len += n;
    res->body[res->body_len] = '\0';
    return n;
}

static void drop_headers(e2e_response_t *res)
{
    for (unsigned i = 0; i < res->header_count; i++) {
        free(res->header_name[i]);
        free(res->header_value[i]);
    }
    res->header_count = 0;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    collect_t *c = arg;
    e2e_response_t *res = c->res;
    size_t n = size * nmemb, len = n;
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        len--;
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        drop_headers(res); /* a new response starts (after a 100 or a 101) */
        return n;
    }
    const char *colon = memchr(data, ':', len);
    if (colon == NULL || res->header_count == E2E_MAX_HEADERS)
        return n;
    const char *v = colon + 1, *end = data + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    res->header_name[res->header_count] = strndup(data, (size_t)(colon - data));
    res->header_value[res->header_count] = strndup(v, (size_t)(end - v));
    res->header_count++;
    return n;
}

int e2e_request(e2e_client_t *c, e2e_proto_t proto, const char *method, const char *url, const char *const *headers,
                const char *body, size_t body_len, e2e_response_t *res)
{
    memset(res, 0, sizeof(*res));
    res->body = calloc(1, 1);
    collect_t col = {res, 1};
    CURL *curl = c->curl;
    curl_easy_reset(curl);
    e2e_curl_setup(curl, proto);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, res->error);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &col);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &col);
    struct curl_slist *list = curl_slist_append(NULL, "Expect:");
    for (int i = 0; headers != NULL && headers[i] != NULL; i++)
        list = curl_slist_append(list, headers[i]);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    if (method == NULL)
        method = "GET";
    if (body != NULL) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)body_len);
        curl_easy_setopt(curl, CURLOPT_COPYPOSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    }
    res->rc = curl_easy_perform(curl);
    curl_slist_free_all(list);
    /* the error buffer and the callbacks must not outlive res */
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);
    if (res->rc != CURLE_OK) {
        if (res->error[0] == '\0')
            snprintf(res->error, sizeof(res->error), "%s", curl_easy_strerror(res->rc));
        return -1;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &res->status);
    curl_easy_getinfo(curl, CURLINFO_HTTP_VERSION, &res->http_version);
    return 0;
}

int e2e_get(e2e_client_t *c, e2e_proto_t proto, const char *url, const char *header, e2e_response_t *res)
{
    const char *headers[2] = {header, NULL};
    return e2e_request(c, proto, "GET", url, header != NULL ? headers : NULL, NULL, 0, res);
}

const char *e2e_header(const e2e_response_t *res, const char *name)
{
    for (unsigned i = 0; i < res->header_count; i++)
        if (strcasecmp(res->header_name[i], name) == 0)
            return res->header_value[i];
    return NULL;
}

void e2e_response_free(e2e_response_t *res)
{
    drop_headers(res);
    free(res->body);
    res->body = NULL;
    res->body_len = 0;
}

/* ------------------------------------------------------------- msgpack */

int e2e_mp_parse(e2e_mp_t *doc, const char *data, size_t len)
{
    msgpack_unpacked_init(&doc->unpacked);
    doc->root = NULL;
    doc->bytes = NULL;
    size_t off = 0;
    if (data == NULL || len == 0 || (doc->bytes = malloc(len)) == NULL)
        return -1;
    memcpy(doc->bytes, data, len);
    msgpack_unpack_return r = msgpack_unpack_next(&doc->unpacked, doc->bytes, len, &off);
    if (r != MSGPACK_UNPACK_SUCCESS || off != len) {
        e2e_mp_free(doc);
        return -1;
    }
    doc->root = &doc->unpacked.data;
    return 0;
}

void e2e_mp_free(e2e_mp_t *doc)
{
    msgpack_unpacked_destroy(&doc->unpacked);
    free(doc->bytes);
    doc->bytes = NULL;
    doc->root = NULL;
}

int e2e_mp_str_is(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);
    return o != NULL && o->type == MSGPACK_OBJECT_STR && o->via.str.size == n && memcmp(o->via.str.ptr, s, n) == 0;
}

const msgpack_object *e2e_mp_get(const msgpack_object *map, const char *key)
{
    if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++)
        if (e2e_mp_str_is(&map->via.map.ptr[i].key, key))
            return &map->via.map.ptr[i].val;
    return NULL;
}

int e2e_mp_int(const msgpack_object *map, const char *key, int64_t *out)
{
    const msgpack_object *v = e2e_mp_get(map, key);
    if (v == NULL)
        return 0;
    if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 <= INT64_MAX) {
        *out = (int64_t)v->via.u64;
        return 1;
    }
    if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = v->via.i64;
        return 1;
    }
    return 0;
}

int64_t e2e_mp_int_or(const msgpack_object *map, const char *key, int64_t def)
{
    int64_t v;
    return e2e_mp_int(map, key, &v) ? v : def;
}

const char *e2e_mp_str(const msgpack_object *map, const char *key, char *buf, size_t cap)
{
    const msgpack_object *v = e2e_mp_get(map, key);
    if (v == NULL || v->type != MSGPACK_OBJECT_STR || v->via.str.size >= cap)
        return NULL;
    memcpy(buf, v->via.str.ptr, v->via.str.size);
    buf[v->via.str.size] = '\0';
    return buf;
}

const msgpack_object_array *e2e_mp_array(const msgpack_object *map, const char *key)
{
    const msgpack_object *v = e2e_mp_get(map, key);
    return v != NULL && v->type == MSGPACK_OBJECT_ARRAY ? &v->via.array : NULL;
}

int e2e_mp_is_nil(const msgpack_object *map, const char *key)
{
    const msgpack_object *v = e2e_mp_get(map, key);
    return v != NULL && v->type == MSGPACK_OBJECT_NIL;
}

static int key_is(const msgpack_object *k, const char *s)
{
    return s != NULL && e2e_mp_str_is(k, s);
}

static int mp_equal(const msgpack_object *a, const msgpack_object *b, const char *skip, char *where, size_t wcap, int depth)
{
    int a_int = a->type == MSGPACK_OBJECT_POSITIVE_INTEGER || a->type == MSGPACK_OBJECT_NEGATIVE_INTEGER;
    int b_int = b->type == MSGPACK_OBJECT_POSITIVE_INTEGER || b->type == MSGPACK_OBJECT_NEGATIVE_INTEGER;
    if (a_int && b_int) {
        /* one value may be encoded either way when it is non-negative */
        int a_neg = a->type == MSGPACK_OBJECT_NEGATIVE_INTEGER && a->via.i64 < 0;
        int b_neg = b->type == MSGPACK_OBJECT_NEGATIVE_INTEGER && b->via.i64 < 0;
        return a_neg == b_neg && a->via.u64 == b->via.u64;
    }
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case MSGPACK_OBJECT_NIL:
        return 1;
    case MSGPACK_OBJECT_BOOLEAN:
        return a->via.boolean == b->via.boolean;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return a->via.f64 == b->via.f64;
    case MSGPACK_OBJECT_STR:
        return a->via.str.size == b->via.str.size && memcmp(a->via.str.ptr, b->via.str.ptr, a->via.str.size) == 0;
    case MSGPACK_OBJECT_BIN:
        return a->via.bin.size == b->via.bin.size && memcmp(a->via.bin.ptr, b->via.bin.ptr, a->via.bin.size) == 0;
    case MSGPACK_OBJECT_ARRAY:
        if (a->via.array.size != b->via.array.size)
            return 0;
        for (uint32_t i = 0; i < a->via.array.size; i++) {
            if (!mp_equal(&a->via.array.ptr[i], &b->via.array.ptr[i], NULL, where, wcap, depth + 1)) {
                size_t n = strlen(where);
                if (n < wcap)
                    snprintf(where + n, wcap - n, " <- [%u]", i);
                return 0;
            }
        }
        return 1;
    case MSGPACK_OBJECT_MAP: {
        uint32_t na = 0, nb = 0;
        for (uint32_t i = 0; i < a->via.map.size; i++)
            na += !(depth == 0 && key_is(&a->via.map.ptr[i].key, skip));
        for (uint32_t i = 0; i < b->via.map.size; i++)
            nb += !(depth == 0 && key_is(&b->via.map.ptr[i].key, skip));
        if (na != nb) {
            snprintf(where, wcap, "maps of %u and %u keys", na, nb);
            return 0;
        }
        for (uint32_t i = 0; i < a->via.map.size; i++) {
            const msgpack_object_kv *kv = &a->via.map.ptr[i];
            if (depth == 0 && key_is(&kv->key, skip))
                continue;
            const msgpack_object *other = NULL;
            for (uint32_t j = 0; j < b->via.map.size && other == NULL; j++)
                if (mp_equal(&kv->key, &b->via.map.ptr[j].key, NULL, where, wcap, depth + 1))
                    other = &b->via.map.ptr[j].val;
            if (other == NULL || !mp_equal(&kv->val, other, NULL, where, wcap, depth + 1)) {
                size_t n = strlen(where);
                if (n < wcap && kv->key.type == MSGPACK_OBJECT_STR)
                    snprintf(where + n, wcap - n, " <- .%.*s", (int)kv->key.via.str.size, kv->key.via.str.ptr);
                return 0;
            }
        }
        return 1;
    }
    default:
        return 0;
    }
}

int e2e_mp_equal(const msgpack_object *a, const msgpack_object *b, const char *skip_key, char *where, size_t wcap)
{
    char scratch[256];
    if (where == NULL || wcap == 0) {
        where = scratch;
        wcap = sizeof(scratch);
    }
    where[0] = '\0';
    return mp_equal(a, b, skip_key, where, wcap, 0);
}

/* A transfer's callbacks get the transfer and lend its response to the e2e_request callbacks. */
static size_t on_transfer_body(char *data, size_t size, size_t nmemb, void *arg)
{
    e2e_transfer_t *t = arg;
    collect_t col = {&t->res, t->body_cap};
    size_t n = on_body(data, size, nmemb, &col);
    t->body_cap = col.cap;
    return n;
}

static size_t on_transfer_header(char *data, size_t size, size_t nmemb, void *arg)
{
    e2e_transfer_t *t = arg;
    collect_t col = {&t->res, t->body_cap};
    return on_header(data, size, nmemb, &col);
}

int e2e_transfer_init(e2e_transfer_t *t, e2e_proto_t proto, const char *url, const char *const *headers)
{
    memset(t, 0, sizeof(*t));
    t->res.body = calloc(1, 1);
    t->body_cap = 1;
    t->curl = curl_easy_init();
    if (t->curl == NULL || t->res.body == NULL)
        return -1;
    e2e_curl_setup(t->curl, proto);
    curl_easy_setopt(t->curl, CURLOPT_URL, url);
    curl_easy_setopt(t->curl, CURLOPT_ERRORBUFFER, t->res.error);
    curl_easy_setopt(t->curl, CURLOPT_WRITEFUNCTION, on_transfer_body);
    curl_easy_setopt(t->curl, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(t->curl, CURLOPT_HEADERFUNCTION, on_transfer_header);
    curl_easy_setopt(t->curl, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(t->curl, CURLOPT_PRIVATE, t);
    for (int i = 0; headers != NULL && headers[i] != NULL; i++)
        t->headers = curl_slist_append(t->headers, headers[i]);
    if (t->headers != NULL)
        curl_easy_setopt(t->curl, CURLOPT_HTTPHEADER, t->headers);
    return 0;
}

void e2e_transfer_done(e2e_transfer_t *t, CURLcode rc)
{
    t->res.rc = rc;
    if (rc != CURLE_OK) {
        if (t->res.error[0] == '\0')
            snprintf(t->res.error, sizeof(t->res.error), "%s", curl_easy_strerror(rc));
        return;
    }
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &t->res.status);
    curl_easy_getinfo(t->curl, CURLINFO_HTTP_VERSION, &t->res.http_version);
}

void e2e_transfer_free(e2e_transfer_t *t)
{
    if (t->curl != NULL)
        curl_easy_cleanup(t->curl);
    curl_slist_free_all(t->headers);
    e2e_response_free(&t->res);
    t->curl = NULL;
    t->headers = NULL;
}
