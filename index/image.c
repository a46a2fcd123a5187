/*
 * index/image.c: segments to and from files.
 *
 * Why images: a snapshot's legs and fares are already flat arrays, so writing them as they are
 * costs one sequential write, and a restart maps them back instead of decoding and re-validating
 * the feed (10M legs: ~460 MB mapped and checksummed rather than ~2.3 GB of msgpack decoded).
 * The header and the payload each carry an xxHash64, so a torn or corrupted file is refused
 * rather than served.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <xxhash.h>
#include "index/internal.h"

#define IMAGE_MAGIC "FSSEG\0\0\1"
#define IMAGE_VERSION 1

typedef struct image_header {
    char magic[8];
    uint32_t version;
    uint32_t header_size;
    char source[40];
    uint64_t sequence;
    int64_t generated_at;
    int64_t updated_at;
    uint64_t body_hash;
    uint32_t leg_count;
    uint32_t fare_count;
    uint64_t payload_len;
    uint64_t payload_hash;
    uint64_t header_hash; /* of every byte before it */
} image_header_t;

_Static_assert(sizeof(image_header_t) <= FS_IMAGE_HEADER_SIZE, "image header fits its slot");
_Static_assert(sizeof(fs_leg_t) == 40, "a stored leg is 40 bytes: the image layout depends on it");
_Static_assert(sizeof(fs_fare_t) == 12, "a fare is 12 bytes: the image layout depends on it");

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len > (1u << 30) ? (1u << 30) : len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return FS_EIO;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/*
 * Write-behind for large images (a 2.8M-leg source is 110 MB): every 8 MB written, start the
 * kernel's writeback of that chunk and wait for the one before. Without it the whole image sits
 * dirty in the page cache until the final fsync, and on ext4 (data=ordered) any other fsync in
 * that file system, such as a delta's on the loader, waits behind all of it: 1.2 s delta p99
 * while a compaction ran, on the medium bench. The image's own fsync then has little left to do.
 */
#define WRITE_BEHIND_CHUNK (8u << 20)

typedef struct image_writer {
    int fd;
    uint64_t pos;     /* bytes written from the file's start */
    uint64_t started; /* writeback started up to here */
} image_writer_t;

static int writer_put(image_writer_t *w, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        size_t room = WRITE_BEHIND_CHUNK - (size_t)(w->pos % WRITE_BEHIND_CHUNK), n = len < room ? len : room;
        if (write_all(w->fd, p, n) != 0)
            return FS_EIO;
        p += n;
        len -= n;
        w->pos += n;
        if (w->pos % WRITE_BEHIND_CHUNK == 0) {
            /* advisory: a file system without it (or an error) only loses the smoothing */
            (void)sync_file_range(w->fd, (off_t)w->started, (off_t)(w->pos - w->started), SYNC_FILE_RANGE_WRITE);
            if (w->started >= WRITE_BEHIND_CHUNK)
                (void)sync_file_range(w->fd, (off_t)(w->started - WRITE_BEHIND_CHUNK), WRITE_BEHIND_CHUNK,
                                      SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
            w->started = w->pos;
        }
    }
    return 0;
}

int64_t fs_segment_write_image(const fs_segment_t *seg, int fd)
{
    size_t legs_len = (size_t)seg->leg_count * sizeof(fs_leg_t), fares_len = (size_t)seg->fare_count * sizeof(fs_fare_t);
    char hbuf[FS_IMAGE_HEADER_SIZE];
    memset(hbuf, 0, sizeof(hbuf));
    image_header_t h;
    memset(&h, 0, sizeof(h));
    memcpy(h.magic, IMAGE_MAGIC, 8);
    h.version = IMAGE_VERSION;
    h.header_size = FS_IMAGE_HEADER_SIZE;
    snprintf(h.source, sizeof(h.source), "%s", seg->source);
    h.sequence = seg->sequence;
    h.generated_at = seg->generated_at;
    h.updated_at = seg->updated_at;
    h.body_hash = seg->body_hash;
    h.leg_count = seg->leg_count;
    h.fare_count = seg->fare_count;
    h.payload_len = legs_len + fares_len;
    XXH64_state_t *st = XXH64_createState();
    if (st == NULL)
        return FS_ENOMEM;
    XXH64_reset(st, 0);
    for (uint32_t r = 0; r < seg->route_count; r++)
        XXH64_update(st, seg->routes[r].legs, (size_t)seg->routes[r].count * sizeof(fs_leg_t));
    for (uint32_t i = 0; i < seg->fare_count; i += FS_FARE_PAGE)
        XXH64_update(st, seg->fare_pages[i >> FS_FARE_PAGE_BITS],
                     (size_t)(seg->fare_count - i < FS_FARE_PAGE ? seg->fare_count - i : FS_FARE_PAGE) * sizeof(fs_fare_t));
    h.payload_hash = XXH64_digest(st);
    XXH64_freeState(st);
    h.header_hash = XXH64(&h, offsetof(image_header_t, header_hash), 0);
    memcpy(hbuf, &h, sizeof(h));
    image_writer_t w = {.fd = fd};
    if (writer_put(&w, hbuf, sizeof(hbuf)) != 0)
        return FS_EIO;
    /* route by route: a delta's segment has its legs in several blocks, in route order */
    for (uint32_t r = 0; r < seg->route_count; r++)
        if (writer_put(&w, seg->routes[r].legs, (size_t)seg->routes[r].count * sizeof(fs_leg_t)) != 0)
            return FS_EIO;
    for (uint32_t i = 0; i < seg->fare_count; i += FS_FARE_PAGE)
        if (writer_put(&w, seg->fare_pages[i >> FS_FARE_PAGE_BITS],
                       (size_t)(seg->fare_count - i < FS_FARE_PAGE ? seg->fare_count - i : FS_FARE_PAGE) * sizeof(fs_fare_t)) != 0)
            return FS_EIO;
    return (int64_t)(sizeof(hbuf) + legs_len + fares_len);
}

fs_segment_t *fs_segment_map_image(const char *path, char *err, size_t errcap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errcap, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < FS_IMAGE_HEADER_SIZE) {
        snprintf(err, errcap, "%s: truncated (%lld bytes, the header alone is %d)", path, (long long)st.st_size,
                 FS_IMAGE_HEADER_SIZE);
        close(fd);
        return NULL;
    }
    size_t len = (size_t)st.st_size;
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        snprintf(err, errcap, "%s: cannot map: %s", path, strerror(errno));
        return NULL;
    }
    image_header_t h;
    memcpy(&h, map, sizeof(h));
    const char *why = NULL;
    if (memcmp(h.magic, IMAGE_MAGIC, 8) != 0)
        why = "not a segment image (bad magic)";
    else if (h.header_hash != XXH64(&h, offsetof(image_header_t, header_hash), 0))
        why = "header checksum mismatch";
    else if (h.version != IMAGE_VERSION || h.header_size != FS_IMAGE_HEADER_SIZE)
        why = "unsupported image version";
    else if (h.payload_len != (uint64_t)h.leg_count * sizeof(fs_leg_t) + (uint64_t)h.fare_count * sizeof(fs_fare_t) ||
             len != FS_IMAGE_HEADER_SIZE + h.payload_len)
        why = "truncated or over-long payload";
    else if (XXH64((const char *)map + FS_IMAGE_HEADER_SIZE, h.payload_len, 0) != h.payload_hash)
        why = "payload checksum mismatch";
    else if (strnlen(h.source, sizeof(h.source)) > FS_SOURCE_NAME_MAX)
        why = "bad source name";
    if (why != NULL) {
        snprintf(err, errcap, "%s: %s", path, why);
        munmap(map, len);
        return NULL;
    }
    fs_segment_t *seg = calloc(1, sizeof(*seg));
    if (seg == NULL) {
        munmap(map, len);
        snprintf(err, errcap, "%s: out of memory", path);
        return NULL;
    }
    const fs_leg_t *legs = (const fs_leg_t *)((const char *)map + FS_IMAGE_HEADER_SIZE);
    fs_leg_block_t *block = fs_leg_block_new(map, len, 1);
    if (block == NULL) {
        free(seg);
        munmap(map, len);
        snprintf(err, errcap, "%s: out of memory", path);
        return NULL;
    }
    memcpy(seg->source, h.source, strnlen(h.source, FS_SOURCE_NAME_MAX)); /* calloc'd: NUL-terminated */
    seg->sequence = h.sequence;
    seg->generated_at = h.generated_at;
    seg->updated_at = h.updated_at;
    seg->body_hash = h.body_hash;
    if (fs_segment_index_routes(seg, block, legs, h.leg_count) != 0 ||
        fs_segment_set_fares(seg, block, (const fs_fare_t *)(legs + h.leg_count), h.fare_count, 0) != 0) {
        fs_segment_free(seg);
        snprintf(err, errcap, "%s: out of memory", path);
        return NULL;
    }
    /* a corrupted-but-checksummed image cannot happen; an image from a buggy writer can: refuse
     * unsorted legs or fare indexes out of range rather than serving wrong answers */
    for (uint32_t i = 0; i < h.leg_count; i++) {
        const fs_leg_t *l = &legs[i];
        int bad = i > 0 && (l[-1].origin > l->origin || (l[-1].origin == l->origin && l[-1].destination > l->destination));
        for (int c = 0; c < FS_CABIN_COUNT && !bad; c++)
            bad = (l->cabin_mask & (1u << c)) && FS_CABIN_FARE(l->cabin[c]) >= h.fare_count;
        if (bad) {
            snprintf(err, errcap, "%s: leg %u is out of order or names a missing fare", path, i);
            fs_segment_free(seg);
            return NULL;
        }
    }
    return seg;
}
