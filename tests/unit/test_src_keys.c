/*
 * tests/unit/test_src_keys.c: the API keys file and the token bucket (src/keys.c).
 *
 * Expected intervals, line numbers and bucket states are worked out by hand in the comments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loaders/loaders.h"
#include "src/internal.h"
#include "tests/test.h"

#define KEY_A "aaaaaaaaaaaaaaaaaaaaaaaa"
#define KEY_B "bbbbbbbbbbbbbbbbbbbbbbbb"
#define KEY_C "cccccccccccccccccccccccc"

static int parse_text(const char *text, char *err, size_t errcap, fs_keys_t **out)
{
    err[0] = '\0';
    *out = NULL;
    return fs_keys_parse_buffer(text, strlen(text), "t.keys", out, err, errcap);
}

/* Expects the text refused with a message holding every one of the fragments. */
static void expect_refused(const char *text, const char *frag1, const char *frag2)
{
    char err[512];
    fs_keys_t *k;
    int rc = parse_text(text, err, sizeof(err), &k);
    CHECK_EQ_INT(rc, FS_EINVAL);
    CHECK(k == NULL);
    int ok = strstr(err, "t.keys") != NULL && strstr(err, frag1) != NULL && (frag2 == NULL || strstr(err, frag2) != NULL);
    CHECK(ok);
    if (!ok)
        fprintf(stderr, "  text: %s  message: %s\n", text, err);
    fs_keys_free(k);
}

static void test_good_file(void)
{
    char err[512];
    fs_keys_t *k;
    /* fields in any order, watches optional (0), comments and blank lines skipped, CRLF accepted */
    const char *text = "# clients\n"
                       "\n" KEY_A " name=alpha rate=1/s burst=3 watches=5\n"
                       "  " KEY_B "\tburst=10 watches=0 name=beta.two rate=3/s\r\n"
                       "   # indented comment\n" KEY_C " name=gamma_3 rate=2/min burst=1\n"
                       "dddddddddddddddddddddddd name=delta rate=7/h burst=1000000 watches=1000000\n";
    CHECK_EQ_INT(parse_text(text, err, sizeof(err), &k), 0);
    if (k == NULL) {
        fprintf(stderr, "  message: %s\n", err);
        return;
    }
    CHECK_EQ_INT(fs_keys_count(k), 4);
    /* name, microseconds per token, burst, watches; 1e6/3 = 333333.3 rounds up to 333334, 60e6/2 =
     * 30e6, 3600e6/7 = 514285714.3 rounds up to 514285715 */
    static const struct {
        const char *name;
        uint64_t interval_us;
        unsigned burst, watches;
    } want[] = {{"alpha", 1000000, 3, 5}, {"beta.two", 333334, 10, 0}, {"gamma_3", 30000000, 1, 0}, {"delta", 514285715, 1000000, 1000000}};
    for (unsigned i = 0; i < 4; i++) {
        uint64_t interval;
        unsigned burst, watches;
        const char *name;
        fs_keys_entry(k, i, &interval, &burst, &watches, &name);
        CHECK_EQ_STR(name, want[i].name);
        CHECK_EQ_INT(interval, want[i].interval_us);
        CHECK_EQ_INT(burst, want[i].burst);
        CHECK_EQ_INT(watches, want[i].watches);
    }
    CHECK_EQ_INT(fs_keys_find(k, KEY_A, strlen(KEY_A)), 0);
    CHECK_EQ_INT(fs_keys_find(k, KEY_B, strlen(KEY_B)), 1);
    CHECK_EQ_INT(fs_keys_find(k, KEY_C, strlen(KEY_C)), 2);
    CHECK_EQ_INT(fs_keys_find(k, KEY_A "x", strlen(KEY_A) + 1), -1);
    CHECK_EQ_INT(fs_keys_find(k, KEY_A, strlen(KEY_A) - 1), -1);
    fs_keys_free(k);
}

static void test_bad_lines(void)
{
    /* line numbers count comments and blank lines */
    expect_refused("# x\nshort name=a rate=1/s burst=1\n", "line 2", "shorter than 16");
    expect_refused(KEY_A " rate=1/s burst=1\n", "line 1", "name is missing");
    expect_refused(KEY_A " name=a burst=1\n", "line 1", "rate is missing");
    expect_refused(KEY_A " name=a rate=1/s\n", "line 1", "burst is missing");
    expect_refused(KEY_A "\n", "line 1", "name is missing");
    expect_refused(KEY_A " name=a rate=1/s burst=1 colour=red\n", "'colour=red'", "unknown field");
    expect_refused(KEY_A " name=a rate=1/s burst=1 watches\n", "'watches'", "NAME=VALUE");
    expect_refused(KEY_A " name=a name=b rate=1/s burst=1\n", "'name=b'", "twice");
    expect_refused(KEY_A " name=a/b rate=1/s burst=1\n", "name=a/b", "name:");
    expect_refused(KEY_A " name= rate=1/s burst=1\n", "'name='", "name:");
    expect_refused(KEY_A " name=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa rate=1/s burst=1\n", "line 1", "name:"); /* 65 */
    expect_refused(KEY_A " name=a rate=0/s burst=1\n", "rate=0/s", "rate:");
    expect_refused(KEY_A " name=a rate=5 burst=1\n", "rate=5", "rate:");
    expect_refused(KEY_A " name=a rate=5/day burst=1\n", "rate=5/day", "rate:");
    expect_refused(KEY_A " name=a rate=/s burst=1\n", "rate=/s", "rate:");
    expect_refused(KEY_A " name=a rate=-1/s burst=1\n", "rate=-1/s", "rate:");
    expect_refused(KEY_A " name=a rate=1000001/s burst=1\n", "rate=1000001/s", "rate:");
    expect_refused(KEY_A " name=a rate=1.5/s burst=1\n", "rate=1.5/s", "rate:");
    expect_refused(KEY_A " name=a rate=1/s burst=0\n", "burst=0", "burst:");
    expect_refused(KEY_A " name=a rate=1/s burst=abc\n", "burst=abc", "burst:");
    expect_refused(KEY_A " name=a rate=1/s burst=99999999999\n", "burst=99999999999", "burst:");
    expect_refused(KEY_A " name=a rate=1/s burst=1 watches=-1\n", "watches=-1", "watches:");
    expect_refused("# only comments\n\n", "no keys", NULL);
    expect_refused("", "no keys", NULL);
    /* the first bad line stops the parse; the good line before it is dropped with the table */
    expect_refused(KEY_A " name=a rate=1/s burst=1\n" KEY_B " name=b rate=1/s burst=x\n", "line 2", "burst:");
}

static void test_duplicates_refused(void)
{
    /* the same key twice, whatever the rest of the line */
    expect_refused("# c\n" KEY_A " name=a rate=1/s burst=1\n" KEY_B " name=b rate=1/s burst=1\n\n" KEY_A " name=c rate=2/s burst=2\n",
                   "lines 2 and 5", "same key");
    /* two keys under one name: the counters and watches would mix */
    expect_refused(KEY_A " name=a rate=1/s burst=1\n" KEY_B " name=a rate=1/s burst=1\n", "lines 1 and 2", "name=a");
}

/* Many keys: each one found on its own line, keys one byte off found nowhere (the hash table's
 * probing, with collisions in its low bits at this size). */
static void test_many_keys(void)
{
    enum { N = 1000 };
    size_t cap = (size_t)N * 80;
    char *text = malloc(cap), err[512];
    size_t n = 0;
    for (unsigned i = 0; i < N; i++)
        n += (size_t)snprintf(text + n, cap - n, "key-%020u name=n%u rate=%u/s burst=%u\n", i, i, i + 1, i % 7 + 1);
    fs_keys_t *k;
    CHECK_EQ_INT(parse_text(text, err, sizeof(err), &k), 0);
    if (k == NULL) {
        fprintf(stderr, "  message: %s\n", err);
        free(text);
        return;
    }
    unsigned found = 0, missed = 0;
    for (unsigned i = 0; i < N; i++) {
        char key[40];
        int len = snprintf(key, sizeof(key), "key-%020u", i);
        found += fs_keys_find(k, key, (size_t)len) == (int)i;
        len = snprintf(key, sizeof(key), "key-%020u", i + N);
        missed += fs_keys_find(k, key, (size_t)len) == -1;
    }
    CHECK_EQ_INT(found, N);
    CHECK_EQ_INT(missed, N);
    uint64_t interval;
    unsigned burst, watches;
    const char *name;
    fs_keys_entry(k, 999, &interval, &burst, &watches, &name);
    CHECK_EQ_STR(name, "n999");
    CHECK_EQ_INT(interval, 1000); /* 1e6 / 1000 */
    CHECK_EQ_INT(burst, 999 % 7 + 1);
    fs_keys_free(k);
    free(text);
}

static int parse_file_with_mode(const char *dir, mode_t mode, char *err, size_t errcap)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/keys", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1000;
    fputs(KEY_A " name=a rate=1/s burst=1\n", f);
    fclose(f);
    chmod(path, mode);
    fs_keys_t *k = NULL;
    err[0] = '\0';
    int rc = fs_keys_parse(path, &k, err, errcap);
    fs_keys_free(k);
    unlink(path);
    return rc;
}

static void test_readable_file_refused(void)
{
    char dir[] = "/tmp/fs-keys-XXXXXX", err[512], want[400];
    if (mkdtemp(dir) == NULL) {
        CHECK(!"mkdtemp");
        return;
    }
    snprintf(want, sizeof(want), "chmod 600 %s/keys", dir);
    static const mode_t refused[] = {0644, 0640, 0604, 0660};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        int rc = parse_file_with_mode(dir, refused[i], err, sizeof(err));
        CHECK_EQ_INT(rc, FS_EINVAL);
        CHECK(strstr(err, "--keys") != NULL && strstr(err, want) != NULL);
        if (rc != FS_EINVAL || strstr(err, want) == NULL)
            fprintf(stderr, "  mode %04o: rc %d message: %s\n", (unsigned)refused[i], rc, err);
    }
    CHECK_EQ_INT(parse_file_with_mode(dir, 0600, err, sizeof(err)), 0);
    CHECK_EQ_INT(parse_file_with_mode(dir, 0400, err, sizeof(err)), 0);
    /* a missing file names the flag and the path */
    char path[300];
    snprintf(path, sizeof(path), "%s/none", dir);
    fs_keys_t *k = NULL;
    CHECK_EQ_INT(fs_keys_parse(path, &k, err, sizeof(err)), FS_EIO);
    CHECK(strstr(err, "--keys") != NULL && strstr(err, path) != NULL);
    rmdir(dir);
}

/* One take, checked against a hand-worked verdict. */
static void expect_take(uint64_t state, uint64_t now, uint64_t interval, unsigned burst, int allowed, uint64_t new_state,
                        unsigned remaining, unsigned reset_s, unsigned retry_after_s)
{
    fs_bucket_verdict_t v = fs_bucket_take(state, now, interval, burst);
    CHECK_EQ_INT(v.allowed, allowed);
    CHECK_EQ_INT(v.full_at_us, new_state);
    CHECK_EQ_INT(v.remaining, remaining);
    CHECK_EQ_INT(v.reset_s, reset_s);
    if (!allowed)
        CHECK_EQ_INT(v.retry_after_s, retry_after_s);
}

static void test_bucket(void)
{
    /* rate=1/s burst=3 (one token per 1,000,000 us, 3 at most), from a fresh (full) bucket at t = 10 s:
     * every take moves "full again at" one second later; three fit in the 3 s depth. */
    expect_take(0, 10000000, 1000000, 3, 1, 11000000, 2, 1, 0);
    expect_take(11000000, 10000000, 1000000, 3, 1, 12000000, 1, 2, 0);
    expect_take(12000000, 10000000, 1000000, 3, 1, 13000000, 0, 3, 0);
    /* the 4th at the same instant: 14 s - 10 s = 4 s > 3 s; a token comes back at 11 s: retry in 1 s */
    expect_take(13000000, 10000000, 1000000, 3, 0, 13000000, 0, 3, 1);
    /* 0.4 s later: still empty (0.4 of a token); 0.6 s to wait rounds up to 1; full at 13 s: 2.6 -> 3 */
    expect_take(13000000, 10400000, 1000000, 3, 0, 13000000, 0, 3, 1);
    /* at 11 s one token is back: allowed, the bucket empty again, full at 14 s */
    expect_take(13000000, 11000000, 1000000, 3, 1, 14000000, 0, 3, 0);
    /* half a token (full at 12.5 s, seen at 10 s: 3 - 2.5 = 0.5 tokens): refused, 0.5 s -> 1 */
    expect_take(12500000, 10000000, 1000000, 3, 0, 12500000, 0, 3, 1);
    /* at 10.5 s the same state holds exactly 1 token: allowed, 0 left, full at 13.5 s (3 s away) */
    expect_take(12500000, 10500000, 1000000, 3, 1, 13500000, 0, 3, 0);
    /* after a long idle the bucket holds burst tokens, not more: 2 left after one take */
    expect_take(14000000, 100000000, 1000000, 3, 1, 101000000, 2, 1, 0);
    /* rate=4/s burst=1: 250,000 us per token */
    expect_take(0, 5000000, 250000, 1, 1, 5250000, 0, 1, 0);
    /* 0.1 s later: 0.15 s to wait, Retry-After never says 0 */
    expect_take(5250000, 5100000, 250000, 1, 0, 5250000, 0, 1, 1);
    expect_take(5250000, 5250000, 250000, 1, 1, 5500000, 0, 1, 0);
    /* rate=1/min burst=2: waits of whole minutes */
    expect_take(0, 1000000, 60000000, 2, 1, 61000000, 1, 60, 0);
    expect_take(61000000, 1000000, 60000000, 2, 1, 121000000, 0, 120, 0);
    expect_take(121000000, 1000000, 60000000, 2, 0, 121000000, 0, 120, 60);
    expect_take(121000000, 31000000, 60000000, 2, 0, 121000000, 0, 90, 30);
    expect_take(121000000, 61000000, 60000000, 2, 1, 181000000, 0, 120, 0);
}

int main(void)
{
    test_good_file();
    test_bad_lines();
    test_duplicates_refused();
    test_many_keys();
    test_readable_file_refused();
    test_bucket();
    TEST_DONE();
}
