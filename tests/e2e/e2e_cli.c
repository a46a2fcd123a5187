/*
 * tests/e2e/e2e_cli.c: the command line of the real binary (argv[1]).
 *
 *   --help          exits 0 and lists the flags an operator needs
 *   bad flags       exit 2 before anything starts, with a message naming the flag
 *   --tls-cert      without --tls-key (and the reverse) exits 2
 *   --nats*         replica options: bad URLs, names and replication factors exit 2
 */
#include <stdlib.h>
#include <string.h>

#include "tests/e2e/lib_server.h"
#include "tests/test.h"

static const char *binary;

/* Runs the binary with up to 6 arguments; returns the exit status and the output in *out. */
static int run(char **out, const char *a1, const char *a2, const char *a3, const char *a4)
{
    char *argv[8] = {(char *)binary, (char *)a1, (char *)a2, (char *)a3, (char *)a4, NULL};
    return e2e_run(argv, out, 10000);
}

static void test_help(void)
{
    char *out = NULL;
    CHECK_EQ_INT(run(&out, "--help", NULL, NULL, NULL), 0);
    CHECK(out != NULL);
    if (out == NULL)
        return;
    static const char *const flags[] = {"--listen",  "--threads",    "--data-dir", "--tls-cert",
                                        "--tls-key", "--tls-listen", "--quiet",    "--help",
                                        "--nats",    "--nats-stream", "--nats-replicas", "--nats-name"};
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        CHECK(strstr(out, flags[i]) != NULL);
        if (strstr(out, flags[i]) == NULL)
            fprintf(stderr, "  --help does not list %s\n", flags[i]);
    }
    free(out);

    out = NULL;
    CHECK_EQ_INT(run(&out, "--version", NULL, NULL, NULL), 0);
    CHECK(out != NULL && strncmp(out, "flightsearch", 12) == 0);
    free(out);
}

/* A refused command line: exit 2 and a message that names the flag. */
static void expect_refused(const char *name, const char *a1, const char *a2, const char *a3, const char *a4)
{
    char *out = NULL;
    int status = run(&out, a1, a2, a3, a4);
    CHECK_EQ_INT(status, 2);
    CHECK(out != NULL && strstr(out, name) != NULL);
    if (status != 2 || out == NULL || strstr(out, name) == NULL)
        fprintf(stderr, "  %s %s %s %s: status %d, output: %s\n", a1, a2 ? a2 : "", a3 ? a3 : "", a4 ? a4 : "", status,
                out ? out : "(none)");
    free(out);
}

static void test_bad_flags(void)
{
    expect_refused("--threads", "--threads", "0", NULL, NULL);
    expect_refused("--threads", "--threads", "many", NULL, NULL);
    expect_refused("--threads", "--threads=0", NULL, NULL, NULL);
    expect_refused("--listen", "--listen", "nope", NULL, NULL);
    expect_refused("--listen", "--listen", "127.0.0.1:70000", NULL, NULL);
    expect_refused("--tls-listen", "--tls-listen", "nope", NULL, NULL);
    expect_refused("--bogus", "--bogus", NULL, NULL, NULL);
    expect_refused("--data-dir", "--data-dir", NULL, NULL, NULL); /* the value is missing */
    expect_refused("--max-feed-bytes", "--max-feed-bytes", "lots", NULL, NULL);
    expect_refused("--search-budget-ms", "--search-budget-ms", "0", NULL, NULL);
    expect_refused("--loaders", "--loaders", "0", NULL, NULL);
    expect_refused("--nats", "--nats", "127.0.0.1:4222", NULL, NULL); /* no nats:// scheme */
    expect_refused("--nats-replicas", "--nats-replicas", "0", NULL, NULL);
    expect_refused("--nats-replicas", "--nats-replicas", "6", NULL, NULL);
    expect_refused("--nats-stream", "--nats-stream", "a.b", NULL, NULL); /* a dot splits NATS subjects */
    expect_refused("--nats-name", "--nats-name", "", NULL, NULL);
    /* a later bad flag is refused even after good ones */
    expect_refused("--threads", "--listen", "127.0.0.1:0", "--threads", "0");
}

static void test_tls_pairs(void)
{
    /* refused before any file is read, so the paths need not exist */
    expect_refused("--tls-key", "--tls-cert", "/nonexistent/cert.pem", NULL, NULL);
    expect_refused("--tls-cert", "--tls-key", "/nonexistent/key.pem", NULL, NULL);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH-TO-flightsearch\n", argv[0]);
        return 2;
    }
    binary = argv[1];
    test_help();
    test_bad_flags();
    test_tls_pairs();
    TEST_DONE();
}
