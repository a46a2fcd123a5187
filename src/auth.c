/*
 * src/auth.c: bearer tokens for the feed endpoints.
 *
 * The tokens file holds one "TOKEN SCOPE" per line (# comments, blank lines ignored); SCOPE is
 * "*" (every source, and the only scope allowed to DELETE) or a comma list of sources. A token
 * listed twice, or a file that group or others may read or write, is refused. Only the
 * SHA-256 of each token is kept in memory; a presented token is hashed and compared with every
 * entry with CRYPTO_memcmp and no early exit, so timing says nothing about which token, or how
 * much of one, matched. Tokens are never logged.
 *
 * SIGHUP reloads the file: the new table is published with one atomic pointer store and the old
 * one freed after a ck_epoch barrier, so a check on an event loop never waits and never sees a
 * freed table. A file that does not parse leaves the old table in place.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <ck_epoch.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "loaders/loaders.h"
#include "src/internal.h"

#define TOKEN_MIN 16
#define SCOPE_MAX 64

typedef struct token_entry {
    unsigned char digest[32];
    unsigned lineno; /* where the token is in the file, for the duplicate message */
    int all;
    unsigned source_count;
    char sources[SCOPE_MAX][FS_SOURCE_NAME_MAX + 1];
} token_entry_t;

struct fs_tokens {
    unsigned count;
    token_entry_t *entries;
};

static fs_tokens_t *current_tokens; /* atomic pointer */
static ck_epoch_t auth_epoch;
static ck_epoch_record_t reloader_record;
static int auth_enabled;

void fs_auth_digest(const void *data, size_t len, unsigned char out[32])
{
    unsigned int n = 32;
    EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

unsigned fs_tokens_count(const fs_tokens_t *t)
{
    return t->count;
}

void fs_tokens_free(fs_tokens_t *t)
{
    if (t == NULL)
        return;
    OPENSSL_cleanse(t->entries, t->count * sizeof(*t->entries));
    free(t->entries);
    free(t);
}

size_t fs_auth_next_line(const char *text, size_t len, size_t pos, char *line, size_t cap)
{
    size_t n = 0;
    while (pos + n < len && n < cap - 1) {
        line[n] = text[pos + n];
        if (text[pos + n++] == '\n')
            break;
    }
    line[n] = '\0';
    return n;
}

int fs_tokens_parse_buffer(const char *text, size_t len, const char *name_for_errors, fs_tokens_t **out, char *err,
                           size_t errcap)
{
    const char *path = name_for_errors;
    fs_tokens_t *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        snprintf(err, errcap, "--tokens %s: out of memory", path);
        return FS_ENOMEM;
    }
    size_t cap = 0, pos = 0, n;
    char line[4096];
    unsigned lineno = 0;
    int rc = 0;
    while ((n = fs_auth_next_line(text, len, pos, line, sizeof(line))) != 0) {
        pos += n;
        lineno++;
        char *p = line, *tok, *scope, *extra, *save;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#' || *p == '\n' || *p == '\r' || *p == '\0')
            continue;
        tok = strtok_r(p, " \t\r\n", &save);
        scope = strtok_r(NULL, " \t\r\n", &save);
        extra = strtok_r(NULL, " \t\r\n", &save);
        if (tok == NULL || scope == NULL || extra != NULL) {
            snprintf(err, errcap, "--tokens %s line %u: expected 'TOKEN SCOPE' (SCOPE is * or a comma list of sources)", path,
                     lineno);
            rc = FS_EINVAL;
            break;
        }
        if (strlen(tok) < TOKEN_MIN) {
            snprintf(err, errcap, "--tokens %s line %u: the token is shorter than %d characters; use a random one (openssl rand -hex 24)",
                     path, lineno, TOKEN_MIN);
            rc = FS_EINVAL;
            break;
        }
        if (t->count == cap) {
            cap = cap ? cap * 2 : 8;
            /* cppcheck-suppress shadowVariable ; only in this block, where the line length n is not used */
            token_entry_t *n = realloc(t->entries, cap * sizeof(*n));
            if (n == NULL) {
                rc = FS_ENOMEM;
                break;
            }
            t->entries = n;
        }
        token_entry_t *e = &t->entries[t->count];
        memset(e, 0, sizeof(*e));
        fs_auth_digest(tok, strlen(tok), e->digest);
        OPENSSL_cleanse(tok, strlen(tok));
        e->lineno = lineno;
        /* A token listed twice would silently keep the first scope: refuse the file instead. The
         * file is read once per start or SIGHUP, so the quadratic scan costs nothing that matters. */
        for (unsigned i = 0; i < t->count; i++) {
            if (CRYPTO_memcmp(t->entries[i].digest, e->digest, sizeof(e->digest)) == 0) {
                snprintf(err, errcap, "--tokens %s lines %u and %u: the same token is listed twice; keep one line per token", path,
                         t->entries[i].lineno, lineno);
                rc = FS_EINVAL;
                break;
            }
        }
        if (rc != 0)
            break;
        if (strcmp(scope, "*") == 0) {
            e->all = 1;
        } else {
            char *s, *save2;
            for (s = strtok_r(scope, ",", &save2); s != NULL; s = strtok_r(NULL, ",", &save2)) {
                if (!fs_feed_source_valid(s, strlen(s)) || e->source_count == SCOPE_MAX) {
                    snprintf(err, errcap, "--tokens %s line %u: '%.40s' is not a source name ([a-z0-9_-]{1,32}), or more than %d sources",
                             path, lineno, s, SCOPE_MAX);
                    rc = FS_EINVAL;
                    break;
                }
                snprintf(e->sources[e->source_count++], FS_SOURCE_NAME_MAX + 1, "%s", s);
            }
            if (rc == 0 && e->source_count == 0) { /* "TOKEN ,,," names no source: a mistake, not a scope */
                snprintf(err, errcap, "--tokens %s line %u: the scope names no source (use * or a comma list of sources)", path,
                         lineno);
                rc = FS_EINVAL;
            }
            if (rc != 0)
                break;
        }
        t->count++;
    }
    OPENSSL_cleanse(line, sizeof(line));
    if (rc == 0 && t->count == 0) {
        snprintf(err, errcap, "--tokens %s: no tokens in the file", path);
        rc = FS_EINVAL;
    }
    if (rc != 0) {
        fs_tokens_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int fs_auth_file_read(const char *flag, const char *path, char **text_out, size_t *len_out, char *err, size_t errcap)
{
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        snprintf(err, errcap, "%s %s: cannot open: %s", flag, path, strerror(errno));
        return FS_EIO;
    }
    /* The file holds credentials: refuse it while anyone but its owner may read it. */
    struct stat st;
    if (fstat(fileno(fp), &st) != 0) {
        snprintf(err, errcap, "%s %s: cannot stat: %s", flag, path, strerror(errno));
        fclose(fp);
        return FS_EIO;
    }
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        snprintf(err, errcap, "%s %s: the file is readable or writable by group or others (mode %04o); run chmod 600 %s", flag,
                 path, (unsigned)(st.st_mode & 07777), path);
        fclose(fp);
        return FS_EINVAL;
    }
    char *text = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    for (;;) {
        if (len == cap) {
            char *n = cap < SIZE_MAX / 2 ? malloc(cap ? cap * 2 : 4096) : NULL;
            if (n == NULL) {
                snprintf(err, errcap, "%s %s: out of memory", flag, path);
                rc = FS_ENOMEM;
                break;
            }
            /* copied by hand rather than realloc'd, so that no stale copy of a secret is left behind */
            if (len != 0)
                memcpy(n, text, len);
            if (text != NULL) {
                OPENSSL_cleanse(text, cap);
                free(text);
            }
            text = n;
            cap = cap ? cap * 2 : 4096;
        }
        size_t got = fread(text + len, 1, cap - len, fp);
        len += got;
        if (got == 0)
            break;
    }
    if (rc == 0 && ferror(fp)) {
        snprintf(err, errcap, "%s %s: cannot read: %s", flag, path, strerror(errno));
        rc = FS_EIO;
    }
    fclose(fp);
    if (rc != 0) {
        fs_auth_file_free(text, len);
        return rc;
    }
    *text_out = text;
    *len_out = len;
    return 0;
}

void fs_auth_file_free(char *text, size_t len)
{
    if (text == NULL)
        return;
    OPENSSL_cleanse(text, len); /* fread wrote nothing past len */
    free(text);
}

int fs_tokens_parse(const char *path, fs_tokens_t **out, char *err, size_t errcap)
{
    char *text;
    size_t len;
    int rc = fs_auth_file_read("--tokens", path, &text, &len, err, errcap);
    if (rc != 0)
        return rc;
    rc = fs_tokens_parse_buffer(text, len, path, out, err, errcap);
    fs_auth_file_free(text, len);
    return rc;
}

int fs_auth_init(const char *path, char *err, size_t errcap)
{
    ck_epoch_init(&auth_epoch);
    ck_epoch_register(&auth_epoch, &reloader_record, NULL);
    if (path == NULL)
        return 0;
    fs_tokens_t *t;
    int rc = fs_tokens_parse(path, &t, err, errcap);
    if (rc != 0)
        return rc;
    __atomic_store_n(&current_tokens, t, __ATOMIC_RELEASE);
    auth_enabled = 1;
    return 0;
}

int fs_auth_enabled(void)
{
    return auth_enabled;
}

void fs_auth_thread_register(ck_epoch_record_t *record)
{
    ck_epoch_register(&auth_epoch, record, NULL);
}

int fs_auth_reload(const char *path, char *err, size_t errcap)
{
    fs_tokens_t *t;
    int rc = fs_tokens_parse(path, &t, err, errcap);
    if (rc != 0)
        return rc;
    fs_tokens_t *old = __atomic_exchange_n(&current_tokens, t, __ATOMIC_ACQ_REL);
    fs_auth_synchronize();
    fs_tokens_free(old);
    return (int)t->count;
}

void fs_auth_synchronize(void)
{
    ck_epoch_synchronize(&reloader_record);
}

int fs_auth_bearer(const char *header, size_t header_len, const char **secret, size_t *secret_len)
{
    static const char bearer[] = "Bearer ";
    if (header == NULL || header_len <= sizeof(bearer) - 1 || strncasecmp(header, bearer, sizeof(bearer) - 1) != 0)
        return -1;
    *secret = header + sizeof(bearer) - 1;
    *secret_len = header_len - (sizeof(bearer) - 1);
    return 0;
}

static int in_scope(const token_entry_t *e, const char *source, int want_all)
{
    if (e->all)
        return 1;
    if (want_all || source == NULL)
        return 0;
    for (unsigned i = 0; i < e->source_count; i++)
        if (strcmp(e->sources[i], source) == 0)
            return 1;
    return 0;
}

int fs_auth_check(ck_epoch_record_t *record, const char *header, size_t header_len, const char *source, int want_all,
                  char *scope_out, size_t scope_cap)
{
    const char *secret;
    size_t secret_len;
    if (fs_auth_bearer(header, header_len, &secret, &secret_len) != 0)
        return 401;
    unsigned char digest[32];
    fs_auth_digest(secret, secret_len, digest);
    int status = 401;
    ck_epoch_begin(record, NULL);
    const fs_tokens_t *t = __atomic_load_n(&current_tokens, __ATOMIC_ACQUIRE);
    const token_entry_t *match = NULL;
    for (unsigned i = 0; t != NULL && i < t->count; i++) {
        /* every entry is compared, whatever matched before */
        int same = CRYPTO_memcmp(digest, t->entries[i].digest, 32) == 0;
        if (same && match == NULL)
            match = &t->entries[i];
    }
    if (match != NULL) {
        status = in_scope(match, source, want_all) ? 0 : 403;
        if (scope_out != NULL) {
            if (match->all) {
                snprintf(scope_out, scope_cap, "*");
            } else {
                size_t n = 0;
                scope_out[0] = '\0';
                for (unsigned i = 0; i < match->source_count && n + FS_SOURCE_NAME_MAX + 2 < scope_cap; i++)
                    n += (size_t)snprintf(scope_out + n, scope_cap - n, "%s%s", i ? "," : "", match->sources[i]);
            }
        }
    }
    ck_epoch_end(record, NULL);
    return status;
}
