/*
 * tests/unit/test_src_auth.c: the tokens file (src/auth.c).
 *
 * Expected outcomes and line numbers are worked out by hand from the file texts below.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loaders/loaders.h"
#include "src/internal.h"
#include "tests/test.h"

#define TOK_A "aaaaaaaaaaaaaaaaaaaaaaaa"
#define TOK_B "bbbbbbbbbbbbbbbbbbbbbbbb"

static int parse_text(const char *text, char *err, size_t errcap, unsigned *count)
{
    fs_tokens_t *t = NULL;
    err[0] = '\0';
    int rc = fs_tokens_parse_buffer(text, strlen(text), "t.tokens", &t, err, errcap);
    *count = rc == 0 ? fs_tokens_count(t) : 0;
    fs_tokens_free(t);
    return rc;
}

/* A token listed twice is refused, naming both lines (1-based, comments and blanks counted). */
static void test_duplicate_token_refused(void)
{
    char err[512];
    unsigned count;
    CHECK_EQ_INT(parse_text("# partners\n" TOK_A " *\n" TOK_B " alpha\n\n" TOK_A " beta\n", err, sizeof(err), &count), FS_EINVAL);
    CHECK(strstr(err, "t.tokens") != NULL);
    CHECK(strstr(err, "lines 2 and 5") != NULL);
    if (strstr(err, "lines 2 and 5") == NULL)
        fprintf(stderr, "  message: %s\n", err);
    /* Same token, same scope: still a mistake worth a refusal (one line per token). */
    CHECK_EQ_INT(parse_text(TOK_B " alpha\n" TOK_B " alpha\n", err, sizeof(err), &count), FS_EINVAL);
    CHECK(strstr(err, "lines 1 and 2") != NULL);
    /* Distinct tokens are fine. */
    CHECK_EQ_INT(parse_text(TOK_A " *\n" TOK_B " alpha\n", err, sizeof(err), &count), 0);
    CHECK_EQ_INT(count, 2);
}

static int parse_file_with_mode(const char *dir, mode_t mode, char *err, size_t errcap)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/tokens", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1000;
    fputs(TOK_A " *\n", f);
    fclose(f);
    chmod(path, mode);
    fs_tokens_t *t = NULL;
    err[0] = '\0';
    int rc = fs_tokens_parse(path, &t, err, errcap);
    fs_tokens_free(t);
    unlink(path);
    return rc;
}

/* A tokens file others can read is refused with the command that fixes it. */
static void test_readable_file_refused(void)
{
    char dir[] = "/tmp/fs-auth-XXXXXX", err[512], want[400];
    if (mkdtemp(dir) == NULL) {
        CHECK(!"mkdtemp");
        return;
    }
    snprintf(want, sizeof(want), "chmod 600 %s/tokens", dir);
    static const mode_t refused[] = {0644, 0640, 0604, 0660};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        int rc = parse_file_with_mode(dir, refused[i], err, sizeof(err));
        CHECK_EQ_INT(rc, FS_EINVAL);
        CHECK(strstr(err, want) != NULL);
        if (rc != FS_EINVAL || strstr(err, want) == NULL)
            fprintf(stderr, "  mode %04o: rc %d message: %s\n", (unsigned)refused[i], rc, err);
    }
    CHECK_EQ_INT(parse_file_with_mode(dir, 0600, err, sizeof(err)), 0);
    CHECK_EQ_INT(parse_file_with_mode(dir, 0400, err, sizeof(err)), 0);
    rmdir(dir);
}

int main(void)
{
    test_duplicate_token_refused();
    test_readable_file_refused();
    TEST_DONE();
}
