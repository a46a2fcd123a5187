/*
 * loaders/load.c: snapshot files into published segments (start-up loading).
 *
 * A file is mapped read-only, decoded and validated straight into a segment builder
 * (fs_apply_snapshot), and the segment is published only when the whole file was valid: one bad record refuses the file (the
 * source keeps what it had), and the other files still load.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include "loaders/internal.h"

int fs_has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}

/* Maps a whole file read-only. An empty file maps to a zero-length buffer. */
static int map_file(const char *path, const uint8_t **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? FS_ENOENT : FS_EIO;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return FS_EIO;
    }
    *len = (size_t)st.st_size;
    *data = NULL;
    if (*len > 0) {
        void *p = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            close(fd);
            return FS_EIO;
        }
        madvise(p, *len, MADV_SEQUENTIAL);
        *data = p;
    }
    close(fd);
    return 0;
}

int64_t fs_loader_load_file(fs_index_t *idx, fs_index_thread_t *th, const char *path, char *errbuf, size_t errcap)
{
    fs_feed_format_t format;
    if (fs_has_suffix(path, ".msgpack"))
        format = FS_FEED_MSGPACK;
    else if (fs_has_suffix(path, ".json"))
        format = FS_FEED_JSON;
    else {
        snprintf(errbuf, errcap, "%s: not a snapshot file (expected .msgpack or .json)", path);
        return FS_EINVAL;
    }
    const uint8_t *data;
    size_t len;
    int r = map_file(path, &data, &len);
    if (r != 0) {
        snprintf(errbuf, errcap, "%s: cannot read: %s", path, strerror(errno));
        return r;
    }

    fs_feed_errors_t *errs = calloc(1, sizeof(*errs));
    if (errs == NULL) {
        if (data != NULL)
            munmap((void *)data, len);
        snprintf(errbuf, errcap, "%s: out of memory", path);
        return FS_ENOMEM;
    }
    fs_feed_header_t header;
    fs_segment_t *seg = fs_apply_snapshot(NULL, data, len, format, errs, &header, &r);
    if (data != NULL)
        munmap((void *)data, len);
    if (seg == NULL) {
        if (r == FS_EINVAL && errs->count > 0) {
            int n = snprintf(errbuf, errcap, "%s: refused (%llu problem%s): ", path, (unsigned long long)errs->total,
                             errs->total == 1 ? "" : "s");
            if (n > 0 && (size_t)n < errcap)
                fs_feed_errors_first(errs, errbuf + n, errcap - (size_t)n);
        } else {
            snprintf(errbuf, errcap, "%s: refused: %s", path, fs_strerror(r));
        }
        free(errs);
        return r;
    }
    free(errs);
    int64_t gen = fs_index_publish_segment(idx, th, seg);
    if (gen < 0)
        snprintf(errbuf, errcap, "%s: cannot publish: %s", path, fs_strerror((int)gen));
    return gen;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int fs_list_names(const char *dir, int (*keep)(const char *name), char ***out, size_t *count)
{
    *out = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int r = 0;
    struct dirent *de;
    while (r == 0 && (de = readdir(d)) != NULL) {
        if (!keep(de->d_name))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **grown = realloc(names, cap * sizeof(*grown)); /* NOLINT(bugprone-sizeof-expression): pointers */
            if (grown == NULL) {
                r = FS_ENOMEM;
                break;
            }
            names = grown;
        }
        if ((names[n] = strdup(de->d_name)) == NULL)
            r = FS_ENOMEM;
        else
            n++;
    }
    closedir(d);
    if (r != 0) { /* a partial list would read as "these are all": none at all instead */
        for (size_t i = 0; i < n; i++)
            free(names[i]);
        free(names);
        return r;
    }
    /* a fixed order: start-up is deterministic when two files carry one source, and spool files
     * apply in the order their names give */
    if (n > 1) /* qsort(NULL, 0) is undefined */
        qsort(names, n, sizeof(*names), name_cmp);
    *out = names;
    *count = n;
    return 0;
}

static int is_feed_file(const char *name)
{
    return name[0] != '.' && (fs_has_suffix(name, ".msgpack") || fs_has_suffix(name, ".json"));
}

char **fs_list_feed_files(const char *dir, size_t *count)
{
    char **names;
    if (fs_list_names(dir, is_feed_file, &names, count) != 0)
        fs_log("%s: out of memory listing its feed files; none are read this time", dir);
    return names;
}

int fs_loader_load_dir(fs_index_t *idx, fs_index_thread_t *th, const char *dir)
{
    DIR *probe = opendir(dir); /* a missing dir loads nothing; an unreadable one is an error */
    if (probe == NULL)
        return errno == ENOENT ? 0 : FS_EIO;
    closedir(probe);
    size_t count;
    char **names = fs_list_feed_files(dir, &count);
    int loaded = 0;
    for (size_t i = 0; i < count; i++) {
        char path[4096], err[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        int64_t r = fs_loader_load_file(idx, th, path, err, sizeof(err));
        if (r > 0)
            loaded++;
        else
            fs_log("%s; the other files still load", err);
        free(names[i]);
    }
    free(names);
    return loaded;
}

