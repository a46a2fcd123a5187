/*
 * loaders/store.c: crash-safe persistence of feeds.
 *
 * Acknowledged means durable. Every file goes through the same sequence: create a temp file in the
 * destination directory, write everything, fsync it, rename it over its final name, fsync the
 * directory. A crash at any point leaves either the old state or the new one, plus maybe a temp
 * file that recovery deletes. A failed fsync is never retried (after a failed fsync the kernel
 * may have dropped the dirty pages, so a retry could "succeed" over lost data): the temp file is
 * removed and the caller answers 500, keeping the previous state.
 *
 * Names carry the sequence zero-padded to 20 digits, so a directory listing sorts in sequence
 * order. Deltas are stored as received behind a 64-byte header (magic, format, sequence, body
 * length, body xxHash64, header xxHash64): recovery replays them through the same decoder.
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
#include <xxhash.h>
#include "loaders/loaders.h"
#include "loaders/internal.h"

struct fs_store {
    char *data_dir;
    char *sources_dir;
};

/* ------------------------------------------------------ fault injection */

static unsigned fault_countdown; /* tests only; written before the store is used */

void fs_store_inject_fault(unsigned countdown)
{
    __atomic_store_n(&fault_countdown, countdown, __ATOMIC_SEQ_CST);
}

/* Returns nonzero when this I/O step must fail (errno = EIO). */
static int fault(void)
{
    unsigned c = __atomic_load_n(&fault_countdown, __ATOMIC_SEQ_CST);
    if (c == 0)
        return 0;
    if (__atomic_sub_fetch(&fault_countdown, 1, __ATOMIC_SEQ_CST) == 0) {
        errno = EIO;
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------ helpers */

/* The store holds partners' fares: readable by the service's user and group only, whatever the
 * umask. */
#define STORE_DIR_MODE 0750
#define STORE_FILE_MODE 0640

static int mkdir_p(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, STORE_DIR_MODE) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, STORE_DIR_MODE) != 0 && errno != EEXIST ? -1 : 0;
}

static int fsync_dir(const char *dir)
{
    if (fault())
        return -1;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        if (fault())
            return -1;
        ssize_t n = write(fd, p, len > (1u << 30) ? (1u << 30) : len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

fs_store_t *fs_store_open(const char *data_dir, char *err, size_t errcap)
{
    fs_store_t *st = calloc(1, sizeof(*st));
    char path[4096];
    if (strlen(data_dir) > 3000) {
        snprintf(err, errcap, "--data-dir is longer than 3000 characters");
        free(st);
        return NULL;
    }
    st->data_dir = strdup(data_dir);
    snprintf(path, sizeof(path), "%s/sources", data_dir);
    st->sources_dir = strdup(path);
    static const char *const dirs[] = {"sources", "inbox", "inbox/done", "inbox/failed"};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", data_dir, dirs[i]);
        if (mkdir_p(path) != 0) {
            snprintf(err, errcap, "cannot create %s: %s (check --data-dir and its permissions)", path, strerror(errno));
            fs_store_close(st);
            return NULL;
        }
    }
    return st;
}

void fs_store_close(fs_store_t *st)
{
    if (st == NULL)
        return;
    free(st->data_dir);
    free(st->sources_dir);
    free(st);
}

const char *fs_store_data_dir(const fs_store_t *st)
{
    return st->data_dir;
}

static void source_dir(const fs_store_t *st, const char *source, char *out, size_t cap)
{
    if (snprintf(out, cap, "%s/%s", st->sources_dir, source) >= (int)cap)
        out[0] = '\0'; /* cannot happen: fs_store_open refuses data dirs this long */
}

/* Writes that failed (a push or a compaction refused for it): /metrics exports the count, since
 * a disk that stops taking writes is otherwise only visible as refused pushes. */
static uint64_t write_errors;

uint64_t fs_store_write_errors(void)
{
    return __atomic_load_n(&write_errors, __ATOMIC_RELAXED);
}

static int64_t write_failed(void)
{
    __atomic_add_fetch(&write_errors, 1, __ATOMIC_RELAXED);
    return FS_EIO;
}

/*
 * The crash-safe sequence around a writer callback. write_fn writes the content to fd and returns
 * bytes written or a negative code. Returns bytes written, or FS_EIO after cleaning up.
 */
static int64_t write_durably(const char *dir, const char *name, int64_t (*write_fn)(void *arg, int fd), void *arg)
{
    char tmp[4200], final[4200];
    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
    snprintf(final, sizeof(final), "%s/%s", dir, name);
    /* A leftover temp (a crash, or something planted) is removed, and the new one must be created
     * here, never opened through a link: O_EXCL | O_NOFOLLOW. Only this source's loader writes
     * this name, so nothing races the unlink. */
    if (unlink(tmp) != 0 && errno != ENOENT)
        fs_log("store: cannot remove the stale %s: %s", tmp, strerror(errno));
    int fd = fault() ? -1 : open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, STORE_FILE_MODE);
    if (fd < 0) {
        fs_log("store: cannot create %s: %s", tmp, strerror(errno));
        return write_failed();
    }
    int64_t n = write_fn(arg, fd);
    if (n < 0) {
        fs_log("store: cannot write %s: %s", tmp, strerror(errno));
        goto fail;
    }
    if (fault() || fsync(fd) != 0) {
        fs_log("store: fsync of %s failed: %s; the push is refused and the previous state kept", tmp, strerror(errno));
        goto fail;
    }
    close(fd);
    fd = -1;
    if (fault() || rename(tmp, final) != 0) {
        fs_log("store: cannot rename %s: %s", tmp, strerror(errno));
        goto fail;
    }
    if (fsync_dir(dir) != 0) {
        /* the rename may or may not survive a crash: remove it so the state is the old one */
        fs_log("store: fsync of directory %s failed: %s; the push is refused", dir, strerror(errno));
        unlink(final);
        return write_failed();
    }
    return n;
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return write_failed();
}

static int64_t write_image_fn(void *arg, int fd)
{
    if (fault())
        return FS_EIO;
    return fs_segment_write_image(arg, fd);
}

int64_t fs_store_write_base(fs_store_t *st, const fs_segment_t *seg)
{
    char dir[4096], name[64];
    source_dir(st, seg->source, dir, sizeof(dir));
    if (mkdir_p(dir) != 0) {
        fs_log("store: cannot create %s: %s", dir, strerror(errno));
        return write_failed();
    }
    snprintf(name, sizeof(name), "base-%020llu.seg", (unsigned long long)seg->sequence);
    int64_t r = write_durably(dir, name, write_image_fn, (void *)seg);
    /* the new source directory itself must survive a crash too; if that cannot be made durable,
     * the push is refused, so its file must not be there for the next start to find */
    if (r >= 0 && fsync_dir(st->sources_dir) != 0) {
        char final[4200];
        snprintf(final, sizeof(final), "%s/%s", dir, name);
        fs_log("store: fsync of %s failed: %s; the snapshot is refused", st->sources_dir, strerror(errno));
        unlink(final);
        return write_failed();
    }
    return r;
}

typedef struct delta_header {
    char magic[8];
    uint32_t format;
    uint32_t header_size;
    uint64_t sequence;
    uint64_t body_len;
    uint64_t body_hash;
    uint64_t updated_at; /* unix seconds the delta was applied (0 in files written before it was kept) */
    uint64_t header_hash;
} delta_header_t;

_Static_assert(sizeof(delta_header_t) == 56, "delta header layout");
#define DELTA_MAGIC "FSDELTA\1"
#define DELTA_HEADER_SIZE 64

typedef struct delta_write {
    fs_feed_format_t format;
    uint64_t sequence;
    const uint8_t *body;
    size_t len;
    int64_t updated_at;
} delta_write_t;

static int64_t write_delta_fn(void *arg, int fd)
{
    delta_write_t *d = arg;
    char hbuf[DELTA_HEADER_SIZE];
    memset(hbuf, 0, sizeof(hbuf));
    delta_header_t h;
    memset(&h, 0, sizeof(h));
    memcpy(h.magic, DELTA_MAGIC, 8);
    h.format = (uint32_t)d->format;
    h.header_size = DELTA_HEADER_SIZE;
    h.sequence = d->sequence;
    h.body_len = d->len;
    h.body_hash = fs_hash64(d->body, d->len);
    h.updated_at = d->updated_at > 0 ? (uint64_t)d->updated_at : 0;
    h.header_hash = XXH64(&h, offsetof(delta_header_t, header_hash), 0);
    memcpy(hbuf, &h, sizeof(h));
    if (write_all(fd, hbuf, sizeof(hbuf)) != 0 || write_all(fd, d->body, d->len) != 0)
        return FS_EIO;
    return (int64_t)(sizeof(hbuf) + d->len);
}

int64_t fs_store_write_delta(fs_store_t *st, const char *source, uint64_t sequence, fs_feed_format_t format,
                             const uint8_t *body, size_t len, int64_t updated_at)
{
    char dir[4096], name[64];
    source_dir(st, source, dir, sizeof(dir));
    if (mkdir_p(dir) != 0)
        return write_failed();
    snprintf(name, sizeof(name), "delta-%020llu.delta", (unsigned long long)sequence);
    delta_write_t d = {format, sequence, body, len, updated_at};
    return write_durably(dir, name, write_delta_fn, &d);
}

/* ------------------------------------------------------------ listing */

typedef struct entry {
    int is_base;
    uint64_t sequence;
    char name[64];
    uint64_t size;
} entry_t;

static int entry_cmp(const void *a, const void *b)
{
    const entry_t *x = a, *y = b;
    if (x->sequence != y->sequence)
        return x->sequence < y->sequence ? -1 : 1;
    return y->is_base - x->is_base; /* a base sorts before a delta of the same sequence */
}

/* Lists a source's files sorted by sequence; removes temp files when remove_tmp. */
static entry_t *list_source(const char *dir, size_t *count, int remove_tmp)
{
    *count = 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return NULL;
    entry_t *v = NULL;
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        char path[4200];
        snprintf(path, sizeof(path), "%s/%s", dir, n);
        if (n[0] == '.' && strstr(n, ".tmp") != NULL) {
            if (remove_tmp) {
                fs_log("store: removing stale temp file %s (an interrupted write)", path);
                unlink(path);
            }
            continue;
        }
        unsigned long long seq;
        int is_base;
        char tail[16];
        /* NOLINTBEGIN(cert-err34-c): sscanf parses only names this store wrote (%020llu); others are skipped */
        if (sscanf(n, "base-%20llu.%15s", &seq, tail) == 2 && strcmp(tail, "seg") == 0)
            is_base = 1;
        else if (sscanf(n, "delta-%20llu.%15s", &seq, tail) == 2 && strcmp(tail, "delta") == 0)
            is_base = 0;
        else
            continue;
        /* NOLINTEND(cert-err34-c) */
        if (*count == cap) {
            cap = cap ? cap * 2 : 16;
            entry_t *nv = realloc(v, cap * sizeof(*nv));
            if (nv == NULL)
                break;
            v = nv;
        }
        struct stat sb;
        entry_t *e = &v[(*count)++];
        e->is_base = is_base;
        e->sequence = seq;
        if (snprintf(e->name, sizeof(e->name), "%s", n) >= (int)sizeof(e->name))
            (*count)--; /* our names are short: a longer one is not ours */
        e->size = stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
    }
    closedir(d);
    if (*count > 1)
        qsort(v, *count, sizeof(*v), entry_cmp);
    return v;
}

void fs_store_prune(fs_store_t *st, const char *source, uint64_t base_sequence)
{
    char dir[4096];
    source_dir(st, source, dir, sizeof(dir));
    size_t n;
    entry_t *v = list_source(dir, &n, 0);
    int removed = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i].sequence > base_sequence || (v[i].is_base && v[i].sequence == base_sequence))
            continue;
        char path[4200];
        snprintf(path, sizeof(path), "%s/%s", dir, v[i].name);
        if (unlink(path) != 0)
            fs_log("store: cannot remove superseded %s: %s (recovery ignores it)", path, strerror(errno));
        removed++;
    }
    if (removed > 0)
        fsync_dir(dir);
    free(v);
}

/* DATA_DIR/sources/.retired-<source> holds the sequence a source had when it was retired, so a
 * plain seed file of that source in DATA_DIR is not imported again at the next start. */
static uint64_t retired_sequence(const fs_store_t *st, const char *source)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/.retired-%s", st->sources_dir, source);
    FILE *fp = fopen(path, "r");
    unsigned long long seq = 0;
    if (fp != NULL) {
        if (fscanf(fp, "%llu", &seq) != 1) /* NOLINT(cert-err34-c): a file this store wrote itself */
            seq = 0;
        fclose(fp);
    }
    return seq;
}

static int64_t write_tombstone_fn(void *arg, int fd)
{
    char line[32];
    int n = snprintf(line, sizeof(line), "%llu\n", (unsigned long long)*(const uint64_t *)arg);
    return write_all(fd, line, (size_t)n) == 0 ? n : FS_EIO;
}

int fs_store_remove_source(fs_store_t *st, const char *source, uint64_t sequence)
{
    char dir[4096], tomb[64];
    source_dir(st, source, dir, sizeof(dir));
    /* like every other file: temp, fsync, rename, fsync the directory; a crash leaves the old
     * tombstone or the new one, never a truncated one */
    snprintf(tomb, sizeof(tomb), ".retired-%s", source);
    if (write_durably(st->sources_dir, tomb, write_tombstone_fn, &sequence) < 0)
        fs_log("store: cannot persist the retirement of %s; a seed file in the data dir may bring it back", source);
    size_t n;
    entry_t *v = list_source(dir, &n, 1);
    int r = 0;
    for (size_t i = 0; i < n; i++) {
        char path[4200];
        snprintf(path, sizeof(path), "%s/%s", dir, v[i].name);
        if (unlink(path) != 0 && errno != ENOENT)
            r = FS_EIO;
    }
    free(v);
    if (rmdir(dir) != 0 && errno != ENOENT)
        r = FS_EIO;
    fsync_dir(st->sources_dir);
    return r;
}

uint64_t fs_store_source_bytes(fs_store_t *st, const char *source)
{
    char dir[4096];
    source_dir(st, source, dir, sizeof(dir));
    size_t n;
    entry_t *v = list_source(dir, &n, 0);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += v[i].size;
    free(v);
    return total;
}

unsigned fs_store_delta_count(fs_store_t *st, const char *source, uint64_t *bytes)
{
    char dir[4096];
    source_dir(st, source, dir, sizeof(dir));
    size_t n;
    entry_t *v = list_source(dir, &n, 0);
    uint64_t base = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i].is_base)
            base = v[i].sequence;
    unsigned count = 0;
    *bytes = 0;
    for (size_t i = 0; i < n; i++)
        if (!v[i].is_base && v[i].sequence > base) {
            count++;
            *bytes += v[i].size;
        }
    free(v);
    return count;
}

/* ------------------------------------------------------------ recovery */

/* Reads and verifies a delta file; returns a malloc'd body or NULL with why filled. */
static uint8_t *read_delta(const char *path, uint64_t sequence, fs_feed_format_t *format, size_t *len, int64_t *updated_at,
                           char *why, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, cap, "cannot open: %s", strerror(errno));
        return NULL;
    }
    struct stat sb;
    uint8_t *body = NULL;
    char hbuf[DELTA_HEADER_SIZE];
    delta_header_t h;
    if (fstat(fd, &sb) != 0 || sb.st_size < DELTA_HEADER_SIZE || pread(fd, hbuf, sizeof(hbuf), 0) != (ssize_t)sizeof(hbuf)) {
        snprintf(why, cap, "truncated header");
        goto out;
    }
    memcpy(&h, hbuf, sizeof(h));
    if (memcmp(h.magic, DELTA_MAGIC, 8) != 0 || h.header_hash != XXH64(&h, offsetof(delta_header_t, header_hash), 0)) {
        snprintf(why, cap, "bad header (magic or checksum)");
        goto out;
    }
    if (h.sequence != sequence || h.format > FS_FEED_JSON) {
        snprintf(why, cap, "header does not match its name");
        goto out;
    }
    if ((uint64_t)sb.st_size != DELTA_HEADER_SIZE + h.body_len) {
        snprintf(why, cap, "truncated body (%lld of %llu bytes)", (long long)sb.st_size - DELTA_HEADER_SIZE,
                 (unsigned long long)h.body_len);
        goto out;
    }
    body = malloc(h.body_len ? h.body_len : 1);
    if (body == NULL || pread(fd, body, h.body_len, DELTA_HEADER_SIZE) != (ssize_t)h.body_len) {
        snprintf(why, cap, "cannot read the body");
        free(body);
        body = NULL;
        goto out;
    }
    if (fs_hash64(body, h.body_len) != h.body_hash) {
        snprintf(why, cap, "body checksum mismatch");
        free(body);
        body = NULL;
        goto out;
    }
    *format = (fs_feed_format_t)h.format;
    *len = h.body_len;
    *updated_at = (int64_t)h.updated_at;
out:
    close(fd);
    return body;
}

/*
 * Renames a file recovery could not use (bad, or depending on a bad one) to quarantined-<name>:
 * listings ignore it from then on, so a later push of the same sequence cannot resurrect the
 * abandoned history after it, and an operator can still inspect what was there.
 */
static void quarantine(const char *dir, const char *name)
{
    char from[4200], to[4300];
    snprintf(from, sizeof(from), "%s/%s", dir, name);
    snprintf(to, sizeof(to), "%s/quarantined-%s", dir, name);
    if (rename(from, to) != 0)
        fs_log("store: cannot quarantine %s: %s", from, strerror(errno));
    else
        fs_log("store: quarantined %s (kept for inspection, never replayed)", from);
}

static int recover_source(fs_store_t *st, fs_index_t *idx, fs_index_thread_t *th, const char *source)
{
    char dir[4096], path[4200], err[1024];
    source_dir(st, source, dir, sizeof(dir));
    size_t n;
    entry_t *v = list_source(dir, &n, 1);
    fs_segment_t *seg = NULL;
    /* The newest base that verifies. Deltas are relative to the state at the newest base, so once
     * a base is skipped as bad, deltas after it cannot be replayed onto an older state: replay
     * stops at the first bad base's sequence (bad_base_seq). A source that has bases but no good
     * one is not served at all rather than rebuilt from its deltas alone, a state that was never
     * acknowledged. */
    size_t base_at = n;
    int had_base = 0;
    uint64_t bad_base_seq = UINT64_MAX;
    for (size_t i = n; i-- > 0;) {
        if (!v[i].is_base)
            continue;
        had_base = 1;
        snprintf(path, sizeof(path), "%s/%s", dir, v[i].name);
        seg = fs_segment_map_image(path, err, sizeof(err));
        if (seg != NULL && strcmp(seg->source, source) == 0) {
            base_at = i;
            break;
        }
        fs_log("store: skipping %s; falling back to an older state", seg != NULL ? "an image of another source" : err);
        fs_segment_free(seg);
        seg = NULL;
        bad_base_seq = v[i].sequence;
        quarantine(dir, v[i].name);
    }
    if (had_base && seg == NULL) {
        fs_log("store: source %s has no valid base (the newest was bad); it is not served until a new snapshot is pushed", source);
        for (size_t i = 0; i < n; i++)
            if (!v[i].is_base)
                quarantine(dir, v[i].name);
        free(v);
        return 0;
    }
    uint64_t seq = seg != NULL ? seg->sequence : 0;
    unsigned applied = 0;
    /* the deltas are folded into one and applied once: replaying 1,000 deltas one by one cost
     * ~10 s on a 2.8M-leg source (each rebuilds the routes it touches) */
    fs_delta_batch_t *batch = fs_delta_batch_new();
    int64_t last_generated_at = 0, last_updated_at = 0, delta_updated_at = 0;
    uint64_t last_hash = 0;
    for (size_t i = base_at == n ? 0 : base_at + 1; batch != NULL && i < n; i++) {
        if (v[i].is_base || v[i].sequence <= seq)
            continue;
        if (v[i].sequence > bad_base_seq) {
            fs_log("store: %s: stopping %s at sequence %llu: later deltas build on the bad base", v[i].name, source,
                   (unsigned long long)seq);
            for (size_t k = i; k < n; k++)
                if (!v[k].is_base)
                    quarantine(dir, v[k].name);
            break;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, v[i].name);
        fs_feed_format_t format;
        size_t len;
        char why[256];
        uint8_t *body = read_delta(path, v[i].sequence, &format, &len, &delta_updated_at, why, sizeof(why));
        if (body == NULL) {
            fs_log("store: %s: %s; stopping %s at sequence %llu (later deltas depend on it)", path, why, source,
                   (unsigned long long)seq);
            for (size_t k = i; k < n; k++)
                if (!v[k].is_base)
                    quarantine(dir, v[k].name);
            break;
        }
        fs_feed_errors_t errs;
        fs_feed_header_t header;
        int rc = fs_delta_batch_add(batch, source, body, len, format, &errs, &header);
        uint64_t hash = fs_hash64(body, len);
        free(body);
        if (rc != 0) {
            fs_log("store: %s: the stored delta does not apply (%s); stopping %s at sequence %llu", path,
                   errs.count ? errs.e[0].reason : fs_strerror(rc), source, (unsigned long long)seq);
            if (rc == FS_EINVAL) /* a bad file, not a lack of memory: never replay it or what follows */
                for (size_t k = i; k < n; k++)
                    if (!v[k].is_base)
                        quarantine(dir, v[k].name);
            break;
        }
        seq = header.sequence;
        last_generated_at = header.generated_at;
        last_updated_at = delta_updated_at;
        last_hash = hash;
        applied++;
    }
    free(v);
    if (batch == NULL) {
        fs_log("store: no memory to replay the deltas of %s; it is served at its base, sequence %llu", source,
               (unsigned long long)seq);
        applied = 0;
        if (seg != NULL)
            seq = seg->sequence;
    } else if (applied > 0) {
        int rc;
        fs_segment_t *next = fs_delta_batch_apply(batch, seg, source, seq, last_generated_at, last_hash, &rc);
        if (next == NULL) {
            fs_log("store: replaying %u deltas of %s failed (%s); it is served at its base", applied, source, fs_strerror(rc));
            applied = 0;
            seq = seg != NULL ? seg->sequence : 0;
        } else {
            fs_segment_free(seg);
            seg = next;
            if (last_updated_at > 0) /* when the last delta was applied, not this restart (older files: now) */
                seg->updated_at = last_updated_at;
        }
    }
    fs_delta_batch_free(batch);
    if (seg == NULL)
        return 0;
    int64_t g = fs_index_publish_segment(idx, th, seg);
    if (g < 0) {
        fs_log("store: cannot publish %s: %s", source, fs_strerror((int)g));
        return 0;
    }
    fs_log("store: restored %s at sequence %llu (%u delta%s replayed)", source, (unsigned long long)seq, applied,
           applied == 1 ? "" : "s");
    return 1;
}

/*
 * Plain snapshot files directly under DATA_DIR (the demo's, or an operator's seed) are imported:
 * written into the store as the source's base, then published. The store is then the one source
 * of truth, so a delta pushed later always has its base on disk. A file whose source the store
 * already holds at the same or a newer sequence is skipped.
 */
/* True when a seed file of (source, sequence) is newer than what the store holds and was not
 * retired at or after that sequence. */
static int newer_than_held(const fs_store_t *st, fs_index_t *idx, fs_index_thread_t *th, const char *source, uint64_t sequence)
{
    const fs_generation_t *gen = fs_index_read_begin(idx, th);
    const fs_segment_t *cur = fs_generation_source(gen, source);
    int held = cur != NULL && cur->sequence >= sequence;
    fs_index_read_end(idx, th);
    return !held && retired_sequence(st, source) < sequence;
}

static int import_plain_files(fs_store_t *st, fs_index_t *idx, fs_index_thread_t *th)
{
    size_t count;
    char **names = fs_list_feed_files(st->data_dir, &count);
    int imported = 0;
    for (size_t i = 0; i < count; i++) {
        char path[4200];
        snprintf(path, sizeof(path), "%s/%s", st->data_dir, names[i]);
        free(names[i]);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat sb;
        if (fd < 0 || fstat(fd, &sb) != 0 || sb.st_size == 0) {
            fs_log("%s: cannot read or empty; skipped, the other files still load", path);
            if (fd >= 0)
                close(fd);
            continue;
        }
        void *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        close(fd);
        if (map == MAP_FAILED) {
            fs_log("%s: cannot map: %s; skipped", path, strerror(errno));
            continue;
        }
        fs_feed_format_t format = fs_has_suffix(path, ".json") ? FS_FEED_JSON : FS_FEED_MSGPACK;
        char peeked[FS_SOURCE_NAME_MAX + 1];
        uint64_t peeked_seq;
        if (fs_feed_peek_header(map, (size_t)sb.st_size, format, peeked, &peeked_seq) == 0 &&
            !newer_than_held(st, idx, th, peeked, peeked_seq)) {
            munmap(map, (size_t)sb.st_size);
            continue; /* imported before, superseded by pushes, or retired: no need to decode it */
        }
        fs_feed_errors_t errs;
        fs_feed_header_t header;
        int rc;
        fs_segment_t *seg = fs_apply_snapshot(NULL, map, (size_t)sb.st_size, format,
                                              &errs, &header, &rc);
        munmap(map, (size_t)sb.st_size);
        if (seg == NULL) {
            char first[512];
            if (rc == FS_EINVAL && errs.count > 0) {
                fs_feed_errors_first(&errs, first, sizeof(first));
                fs_log("%s: refused (%llu problem%s): %s; the other files still load", path, (unsigned long long)errs.total,
                       errs.total == 1 ? "" : "s", first);
            } else
                fs_log("%s: refused: %s; the other files still load", path, fs_strerror(rc));
            continue;
        }
        if (!newer_than_held(st, idx, th, seg->source, seg->sequence)) {
            fs_segment_free(seg);
            continue; /* imported before, superseded by pushes, or retired */
        }
        /* prepared before the write: a seed the index cannot take (the source limit, memory)
         * must not enter the store either */
        fs_publish_t pub;
        int pr = fs_index_publish_prepare(idx, seg->source, &pub);
        if (pr < 0) {
            if (pr == FS_ERANGE)
                fs_log("%s: not imported: source %s would be one more than --max-sources %u; raise it or retire a source",
                       path, seg->source, fs_index_max_sources(idx));
            else
                fs_log("%s: not imported: %s", path, fs_strerror(pr));
            fs_segment_free(seg);
            continue;
        }
        if (fs_store_write_base(st, seg) < 0) {
            fs_log("%s: cannot import into the store; serving it from the file this time", path);
        } else {
            fs_store_prune(st, seg->source, seg->sequence);
        }
        char source[FS_SOURCE_NAME_MAX + 1];
        snprintf(source, sizeof(source), "%s", seg->source);
        uint64_t seq = seg->sequence, legs = seg->leg_count;
        fs_index_publish_commit(idx, th, &pub, seg);
        fs_log("imported %s: source %s, sequence %llu, %llu legs", path, source, (unsigned long long)seq, (unsigned long long)legs);
        imported++;
    }
    free(names);
    return imported;
}

static int is_source_name(const char *name)
{
    return fs_feed_source_valid(name, strlen(name));
}

static void free_names(char **names, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

int fs_store_check_sources(fs_store_t *st, unsigned max_sources, char *err, size_t errcap)
{
    size_t count;
    char **names;
    if (fs_list_names(st->sources_dir, is_source_name, &names, &count) != 0) {
        snprintf(err, errcap, "out of memory listing the sources under %s", st->sources_dir);
        return FS_ENOMEM;
    }
    int r = 0;
    if (count > max_sources) {
        int n = snprintf(err, errcap,
                         "%s holds %zu sources, more than --max-sources %u allows (",
                         st->sources_dir, count, max_sources);
        for (size_t i = 0; i < count && i < 5 && n > 0 && (size_t)n < errcap; i++)
            n += snprintf(err + n, errcap - (size_t)n, "%s%s", i ? ", " : "", names[i]);
        if (n > 0 && (size_t)n < errcap)
            snprintf(err + n, errcap - (size_t)n,
                     "%s); start with --max-sources %zu or more, so that no stored source is dropped",
                     count > 5 ? ", ..." : "", count);
        r = FS_ERANGE;
    }
    free_names(names, count);
    return r;
}

int fs_store_recover(fs_store_t *st, fs_index_t *idx, fs_index_thread_t *th)
{
    int restored = 0;
    size_t count;
    char **names;
    if (fs_list_names(st->sources_dir, is_source_name, &names, &count) != 0) {
        /* serving some of the stored sources as if they were all is not an option */
        fs_log("out of memory listing the sources under %s at start-up; stopping", st->sources_dir);
        abort();
    }
    for (size_t i = 0; i < count; i++)
        restored += recover_source(st, idx, th, names[i]);
    free_names(names, count);
    restored += import_plain_files(st, idx, th);
    return restored;
}
