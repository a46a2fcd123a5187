/*
 * loaders/tool/common.c: what every command shares: options, mapped files, kind and format from
 * a file's name, and feed errors written for people next to the server's JSON.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "loaders/tool/feed_tool.h"

/* ------------------------------------------------------------ options */

int ft_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, FT_NAME " %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see " FT_NAME " %s --help)\n", cmd);
    return FT_EXIT_USAGE;
}

int ft_parse_args(int argc, char **argv, const ft_opt_t *opts, void (*usage)(FILE *), const char **pos, int max_pos, int *npos)
{
    const char *cmd = argv[0];
    int only_pos = 0;

    *npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (only_pos || arg[0] != '-' || strcmp(arg, "-") == 0) {
            if (*npos >= max_pos)
                return ft_usage_error(cmd, "unexpected argument '%s'", arg);
            pos[(*npos)++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            return 1;
        }
        /* "--name=value" or "--name value" */
        const char *eq = strchr(arg, '=');
        size_t name_len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
        const ft_opt_t *o = NULL;
        for (const ft_opt_t *k = opts; k->name != NULL; k++) {
            if (strlen(k->name) == name_len && memcmp(k->name, arg, name_len) == 0) {
                o = k;
                break;
            }
        }
        if (o == NULL)
            return ft_usage_error(cmd, "unknown option '%.*s'", (int)name_len, arg);
        if (o->value == NULL) {
            if (eq != NULL)
                return ft_usage_error(cmd, "option '%s' takes no value", o->name);
            *o->flag = 1;
            continue;
        }
        if (eq != NULL) {
            *o->value = eq + 1;
        } else {
            if (i + 1 >= argc)
                return ft_usage_error(cmd, "option '%s' needs a value", o->name);
            *o->value = argv[++i];
        }
    }
    return 0;
}

/* -------------------------------------------------------------- files */

int ft_map_file(const char *path, ft_map_t *m)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    m->data = NULL;
    m->len = 0;
    if (fd < 0)
        return errno;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return e;
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return EISDIR;
    }
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            return e;
        }
        madvise(p, (size_t)st.st_size, MADV_SEQUENTIAL);
        m->data = p;
        m->len = (size_t)st.st_size;
    }
    close(fd);
    return 0;
}

void ft_unmap(ft_map_t *m)
{
    if (m->data != NULL)
        munmap((void *)m->data, m->len);
    m->data = NULL;
    m->len = 0;
}

int ft_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}

int ft_feed_format(const char *path, const char *format_opt, fs_feed_format_t *out, char *err, size_t errcap)
{
    if (format_opt != NULL) {
        if (strcmp(format_opt, "msgpack") == 0)
            *out = FS_FEED_MSGPACK;
        else if (strcmp(format_opt, "json") == 0)
            *out = FS_FEED_JSON;
        else {
            snprintf(err, errcap, "--format: expected msgpack or json, got '%s'", format_opt);
            return FS_EINVAL;
        }
        return 0;
    }
    if (ft_ends_with(path, ".msgpack")) {
        *out = FS_FEED_MSGPACK;
        return 0;
    }
    if (ft_ends_with(path, ".json")) {
        *out = FS_FEED_JSON;
        return 0;
    }
    snprintf(err, errcap, "%s: cannot tell the format from the name (expected .msgpack or .json); use --format", path);
    return FS_EINVAL;
}

int ft_feed_kind(const char *path, int delta_flag, int snapshot_flag, fs_feed_kind_t *out)
{
    if (delta_flag && snapshot_flag)
        return FS_EINVAL;
    if (delta_flag || snapshot_flag) {
        *out = delta_flag ? FS_FEED_DELTA : FS_FEED_SNAPSHOT;
        return 0;
    }
    const char *base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    *out = strstr(base, ".delta.") != NULL ? FS_FEED_DELTA : FS_FEED_SNAPSHOT;
    return 0;
}

/* ---------------------------------------------------------- checking */

static int count_leg(void *arg, uint64_t index, const fs_leg_in_t *leg)
{
    (void)index;
    (void)leg;
    ((ft_counts_t *)arg)->legs++;
    return 0;
}

static int count_remove(void *arg, uint64_t index, const fs_leg_remove_t *key)
{
    (void)index;
    (void)key;
    ((ft_counts_t *)arg)->removes++;
    return 0;
}

int ft_check(const uint8_t *body, size_t len, fs_feed_format_t format, fs_feed_kind_t kind, const char *expected_source,
             fs_feed_header_t *hdr, ft_counts_t *counts, fs_feed_errors_t *errs)
{
    fs_feed_sink_t sink = {count_leg, count_remove, counts};

    counts->legs = counts->removes = 0;
    return fs_feed_decode(body, len, format, kind, expected_source, hdr, &sink, errs);
}

static const char *plural(uint64_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

void ft_describe(char *out, size_t cap, fs_feed_kind_t kind, const fs_feed_header_t *hdr, const ft_counts_t *counts)
{
    if (kind == FS_FEED_SNAPSHOT)
        snprintf(out, cap, "valid snapshot of source %s, sequence %" PRIu64 ", %" PRIu64 " %s", hdr->source, hdr->sequence,
                 counts->legs, plural(counts->legs, "leg", "legs"));
    else
        snprintf(out, cap, "valid delta of source %s, sequence %" PRIu64 ", %" PRIu64 " %s, %" PRIu64 " %s", hdr->source,
                 hdr->sequence, counts->legs, plural(counts->legs, "upsert", "upserts"), counts->removes,
                 plural(counts->removes, "remove", "removes"));
}

void ft_print_errors_json(FILE *fp, const fs_feed_errors_t *errs)
{
    char small[4096];
    size_t need = fs_feed_errors_json(errs, small, sizeof(small));

    if (need < sizeof(small)) {
        fprintf(fp, "%s\n", small);
        return;
    }
    char *big = malloc(need + 1);
    if (big == NULL) {
        fprintf(fp, "%s\n", small);
        return;
    }
    fs_feed_errors_json(errs, big, need + 1);
    fprintf(fp, "%s\n", big);
    free(big);
}

void ft_print_errors_text(FILE *fp, const char *indent, const fs_feed_errors_t *errs, fs_feed_kind_t kind)
{
    for (unsigned i = 0; i < errs->count && i < FS_FEED_MAX_ERRORS; i++) {
        const fs_feed_error_t *e = &errs->e[i];
        if (errs->malformed) {
            if (e->field[0] != '\0')
                fprintf(fp, "%sat %s: %s\n", indent, e->field, e->reason);
            else
                fprintf(fp, "%s%s\n", indent, e->reason);
            continue;
        }
        if (e->index < 0) {
            fprintf(fp, "%sfield %s: %s\n", indent, e->field, e->reason);
            continue;
        }
        /* In a delta the field starts with its list's name: "upsert.cabins.economy.miles". */
        const char *list = "", *field = e->field;
        if (kind == FS_FEED_DELTA) {
            static const char *const lists[] = {"upsert", "remove"};
            for (int k = 0; k < 2; k++) {
                size_t n = strlen(lists[k]);
                if (strncmp(field, lists[k], n) == 0 && (field[n] == '\0' || field[n] == '.')) {
                    list = lists[k];
                    field += field[n] == '.' ? n + 1 : n;
                    break;
                }
            }
        }
        fprintf(fp, "%s%s%srecord %" PRId64 "%s%s: %s\n", indent, list, list[0] != '\0' ? " " : "", e->index,
                field[0] != '\0' ? ", field " : "", field, e->reason);
    }
    if (errs->total > errs->count)
        fprintf(fp, "%s... and %" PRIu64 " more %s (only the first %d are listed)\n", indent, errs->total - errs->count,
                plural(errs->total - errs->count, "problem", "problems"), FS_FEED_MAX_ERRORS);
}

int ft_report_refused(const char *what, const fs_feed_errors_t *errs, fs_feed_kind_t kind)
{
    ft_print_errors_json(stdout, errs);
    fflush(stdout);
    if (errs->malformed)
        fprintf(stderr, "%s: refused: not a well-formed %s document (malformed_feed; a push gets 400)\n", what,
                kind == FS_FEED_SNAPSHOT ? "snapshot" : "delta");
    else
        fprintf(stderr, "%s: refused: %" PRIu64 " %s in the %s (invalid_feed; a push gets 422)\n", what, errs->total,
                plural(errs->total, "problem", "problems"), kind == FS_FEED_SNAPSHOT ? "snapshot" : "delta");
    ft_print_errors_text(stderr, "  ", errs, kind);
    return FT_EXIT_REFUSED;
}
