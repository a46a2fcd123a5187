/*
 * loaders/internal.h: private to loaders/.
 */
#ifndef FS_LOADERS_INTERNAL_H
#define FS_LOADERS_INTERNAL_H

#include "loaders/loaders.h"

/**
 * Decodes and validates a snapshot body into a finished segment (refs 0, not published).
 * NULL on refusal: *rc is FS_EINVAL (errs says why) or FS_ENOMEM / FS_ERANGE.
 */
fs_segment_t *fs_apply_snapshot(const char *expected_source, const uint8_t *body, size_t len, fs_feed_format_t format,
                                fs_feed_errors_t *errs, fs_feed_header_t *header, int *rc);

typedef struct fs_delta_result {
    fs_feed_header_t header;
    uint64_t upserted, removed;
    int rc; /* 0, FS_EINVAL (errs), FS_ENOMEM, FS_ERANGE */
} fs_delta_result_t;

/**
 * Decodes a delta body and applies it to base (NULL: the source has no legs yet), returning the
 * successor segment (not published). base is only read. NULL on refusal (res->rc, errs).
 */
fs_segment_t *fs_apply_delta(const fs_segment_t *base, const char *source, const uint8_t *body, size_t len,
                             fs_feed_format_t format, fs_feed_errors_t *errs, fs_delta_result_t *res);
/** fs_apply_delta, filling changes (may be NULL) with the delta's change set (index.h: only the
 *  touched legs are compared). */
fs_segment_t *fs_apply_delta_changes(const fs_segment_t *base, const char *source, const uint8_t *body, size_t len,
                                     fs_feed_format_t format, fs_change_set_t *changes, fs_feed_errors_t *errs,
                                     fs_delta_result_t *res);


/**
 * A run of deltas folded into their net effect (start-up replay: one rebuild of the routes they
 * touch instead of one per delta). add decodes and validates one delta (FS_EINVAL with errs, or
 * FS_ENOMEM) and folds it in, the later delta winning per leg key; apply applies the net effect
 * to base as one delta with the given header. Single-threaded.
 */
typedef struct fs_delta_batch fs_delta_batch_t;
fs_delta_batch_t *fs_delta_batch_new(void);
int fs_delta_batch_add(fs_delta_batch_t *b, const char *source, const uint8_t *body, size_t len, fs_feed_format_t format,
                       fs_feed_errors_t *errs, fs_feed_header_t *header);
fs_segment_t *fs_delta_batch_apply(fs_delta_batch_t *b, const fs_segment_t *base, const char *source, uint64_t sequence,
                                   int64_t generated_at, uint64_t body_hash, int *rc);
void fs_delta_batch_free(fs_delta_batch_t *b);

/** True when s ends with suffix (and is longer than it). */
int fs_has_suffix(const char *s, const char *suffix);

/** The names in dir (sorted) for which keep(name) is true: *out malloc'd (free each, then the
 *  array), NULL with *count 0 when there are none or dir cannot be opened. FS_ENOMEM, with nothing
 *  returned, when memory ran out part-way: never a partial list that reads as complete. */
int fs_list_names(const char *dir, int (*keep)(const char *name), char ***out, size_t *count);

/** The feed files (*.msgpack, *.json; dot-files skipped) directly under dir, sorted by name: a
 *  malloc'd array of malloc'd names (free each, then the array), NULL with *count 0 when there
 *  are none or dir cannot be read. */
char **fs_list_feed_files(const char *dir, size_t *count);

#endif
