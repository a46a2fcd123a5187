/*
 * src/webhook.c without a network: the signature against a value computed independently (the
 * openssl CLI, as docs/api.md shows it), which URLs are refused without --webhook-allow-private
 * (numeric hosts only: no DNS), and the outbox: events staged and committed by one deliverer are
 * restored by the next, delivered ones are not, and a torn trailing record is ignored.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "index/index.h"
#include "src/webhook.h"
#include "tests/test.h"

static void test_signature(void)
{
    /* printf '%s.%s' 1796169600 "$body" | openssl dgst -sha256 -hmac whsec_5f2b8c0e9a714d3e8b6c1f0a2d4e6b8c */
    const char *body = "{\"id\":7,\"watch_id\":1,\"generation\":2,\"source\":\"tap\",\"sequence\":43,\"changes\":[]}";
    char sig[128];
    fs_webhook_sign("whsec_5f2b8c0e9a714d3e8b6c1f0a2d4e6b8c", 1796169600, body, strlen(body), sig, sizeof(sig));
    CHECK_EQ_STR(sig, "t=1796169600,v1=8e06fa9cdf8558aba2e0f7da939053a397008a639f57412a926650da1c08358a");
}

static void test_urls(void)
{
    static const struct {
        const char *url;
        int ok;
    } cases[] = {
        {"http://8.8.8.8/hook", 1},        {"https://1.1.1.1:8443/x?y=1", 1}, {"http://172.32.0.1/", 1},
        {"http://[2606:4700::1111]/x", 1}, {"http://127.0.0.1:9/x", 0},       {"http://10.0.0.1/", 0},
        {"http://172.16.5.4/", 0},         {"http://172.31.255.255/", 0},     {"http://192.168.1.1/", 0},
        {"http://169.254.169.254/", 0},    {"http://100.64.0.1/", 0},         {"http://0.0.0.0/", 0},
        {"http://224.0.0.1/", 0},          {"http://[::1]/", 0},              {"http://[fd00::1]/", 0},
        {"http://[fe80::1]/", 0},          {"http://[::ffff:127.0.0.1]/", 0}, {"ftp://8.8.8.8/", 0},
        {"http:///nohost", 0},             {"http://user@8.8.8.8/", 0},
    };
    char msg[300];
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = fs_webhook_check_url(cases[i].url, 0, msg, sizeof(msg));
        CHECK_EQ_INT(rc, cases[i].ok ? 0 : FS_EINVAL);
        if (rc != (cases[i].ok ? 0 : FS_EINVAL))
            fprintf(stderr, "  url %s: %s\n", cases[i].url, msg);
        if (!cases[i].ok)
            CHECK(strncmp(msg, "webhook.url: ", 13) == 0);
    }
    CHECK_EQ_INT(fs_webhook_check_url("http://127.0.0.1:9/x", 1, msg, sizeof(msg)), 0);
    CHECK_EQ_INT(fs_webhook_check_url("ftp://127.0.0.1/", 1, msg, sizeof(msg)), FS_EINVAL);
}

static void test_outbox(void)
{
    char dir[] = "/tmp/fs-webhook-test-XXXXXX", path[64], err[300];
    CHECK(mkdtemp(dir) != NULL);
    fs_webhook_options_t o = {.allow_private = 1, .retry_ms = 1, .timeout_ms = 100};
    /* no thread: nothing is delivered, everything committed stays pending */
    fs_webhooks_t *a = fs_webhooks_new(&o);
    CHECK_EQ_INT(fs_webhooks_open(a, dir, err, sizeof(err)), 0);
    CHECK_EQ_INT(fs_webhooks_target(a, 1, "http://127.0.0.1:9/", "0123456789abcdef"), 0);
    CHECK_EQ_INT(fs_webhooks_target(a, 2, "http://127.0.0.1:9/", "0123456789abcdef"), 0);
    CHECK_EQ_INT(fs_webhooks_stage(a, 1, 10, "{\"id\":10}", 9), 0);
    CHECK_EQ_INT(fs_webhooks_stage(a, 2, 11, "{\"id\":11}", 9), 0);
    CHECK_EQ_INT(fs_webhooks_commit(a), 0);
    CHECK_EQ_INT(fs_webhooks_stage(a, 1, 12, "{\"id\":12}", 9), 0); /* staged, never committed: not durable */
    fs_webhooks_free(a);
    /* a delivery mark for 11 and a torn record after it, as a crash mid-write leaves them */
    snprintf(path, sizeof(path), "%s/outbox", dir);
    int fd = open(path, O_WRONLY | O_APPEND);
    CHECK(fd >= 0);
    const char *tail = "d 11\ne 13 1 0 40\n{\"id\":13";
    CHECK_EQ_INT(write(fd, tail, strlen(tail)), (long)strlen(tail));
    close(fd);
    fs_webhooks_t *b = fs_webhooks_new(&o);
    CHECK_EQ_INT(fs_webhooks_open(b, dir, err, sizeof(err)), 1); /* 10 only */
    CHECK_EQ_INT(fs_webhooks_target(b, 1, "http://127.0.0.1:9/", "0123456789abcdef"), 0);
    fs_webhooks_prune(b);
    fs_enc_t e;
    fs_enc_init(&e, FS_ENC_JSON, NULL, 256);
    fs_enc_map_begin(&e);
    fs_webhooks_encode_status(b, 1, &e);
    fs_enc_map_end(&e);
    h2o_iovec_t doc = fs_enc_result(&e);
    const char *want = "{\"pending\":1,\"last_success\":null,\"last_failure\":null}";
    CHECK(doc.base != NULL && doc.len == strlen(want) && memcmp(doc.base, want, doc.len) == 0);
    fs_enc_dispose(&e);
    fs_webhooks_free(b);
    /* the rewrite at open dropped the mark and the torn tail: a third open finds the same */
    fs_webhooks_t *c = fs_webhooks_new(&o);
    CHECK_EQ_INT(fs_webhooks_open(c, dir, err, sizeof(err)), 1);
    fs_webhooks_free(c);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    test_signature();
    test_urls();
    test_outbox();
    TEST_DONE();
}
