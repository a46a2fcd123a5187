/*
 * loaders/loaders.h: partner feeds in, index generations out. This header is the module's
 * contract; everything else in loaders/ is private to it.
 *
 * Feed path, one file per step: receive -> decode (decode.c, over reader_msgpack.c or
 * reader_json.c) -> validate (validate.c) -> build (index builder) -> persist -> publish.
 *
 * Hostile input: the decoders never allocate from a length they have not checked against the
 * bytes that remain, nest at most FS_FEED_MAX_DEPTH containers, and never read past the body.
 *
 * Threads: decoding is pure (no globals); any thread may decode any body. Loading and publishing
 * run on loader threads only, never on an event-loop thread.
 */
#ifndef FS_LOADERS_H
#define FS_LOADERS_H

#include <stddef.h>
#include <stdint.h>
#include "index/index.h"

typedef enum fs_feed_format { FS_FEED_MSGPACK, FS_FEED_JSON } fs_feed_format_t;
typedef enum fs_feed_kind { FS_FEED_SNAPSHOT, FS_FEED_DELTA } fs_feed_kind_t;

#define FS_FEED_MAX_ERRORS 20
#define FS_FEED_MAX_DEPTH 16
#define FS_FEED_FIELD_MAX 64
#define FS_FEED_REASON_MAX 128

/** One problem in a feed. index is the record's position in "legs" (or "upsert"/"remove"),
 *  -1 for the document's own fields. field is a path inside the record, e.g.
 *  "cabins.economy.miles", or the top-level name, e.g. "sequence". */
typedef struct fs_feed_error {
    int64_t index;
    char field[FS_FEED_FIELD_MAX];
    char reason[FS_FEED_REASON_MAX];
} fs_feed_error_t;

typedef struct fs_feed_errors {
    int malformed;      /* 1: the bytes are not a well-formed document (HTTP 400); 0: a record is invalid (422) */
    unsigned count;     /* entries filled in e[], at most FS_FEED_MAX_ERRORS */
    uint64_t total;     /* every problem found (validation stops at the first 20 problems) */
    fs_feed_error_t e[FS_FEED_MAX_ERRORS];
} fs_feed_errors_t;

/** The document's own fields. */
typedef struct fs_feed_header {
    char source[FS_SOURCE_NAME_MAX + 1];
    uint64_t sequence;
    int64_t generated_at; /* unix seconds */
} fs_feed_header_t;

/** The key of a leg to remove in a delta: (carrier, flight, origin, local date). */
typedef struct fs_leg_remove {
    fs_carrier_t carrier;
    uint16_t flight;
    fs_airport_t origin;
    int32_t day;
} fs_leg_remove_t;

/** Where decoded records go. Called only for records that passed validation, in document order,
 *  and only while no error has been found: once the push is known to be refused, the decoder
 *  keeps validating (to report up to 20 problems) but calls the sink no more. A sink returning
 *  nonzero stops decoding with that code (e.g. FS_ENOMEM). */
typedef struct fs_feed_sink {
    int (*leg)(void *arg, uint64_t index, const fs_leg_in_t *leg); /* snapshot legs, delta upserts */
    int (*remove)(void *arg, uint64_t index, const fs_leg_remove_t *key);
    void *arg;
} fs_feed_sink_t;

/** True when s (len bytes) matches [a-z0-9_-]{1,32}. */
int fs_feed_source_valid(const char *s, size_t len);

/**
 * Decodes and validates a feed body of the given format and kind. Legs get last_seen =
 * generated_at. When expected_source is not NULL, a "source" field that differs is an error.
 * Returns 0 when the whole document is valid (every record went to the sink), FS_EINVAL when it
 * was refused (errs says why: malformed for 400, else the record problems for 422), or the sink's
 * nonzero return.
 */
int fs_feed_decode(const uint8_t *body, size_t len, fs_feed_format_t format, fs_feed_kind_t kind,
                   const char *expected_source, fs_feed_header_t *header, const fs_feed_sink_t *sink,
                   fs_feed_errors_t *errs);

/**
 * Writes errs as the JSON error document a push gets:
 * {"error": {"code": "invalid_feed"|"malformed_feed", "message": ..., "errors": [{"index", "field", "reason"}]}}
 * into out (NUL-terminated, truncated to cap). Returns the length it needed.
 */
size_t fs_feed_errors_json(const fs_feed_errors_t *errs, char *out, size_t cap);

/* -------------------------------------------------------------- loading */

/**
 * Decodes a snapshot file (.msgpack or .json, by extension), builds its segment and publishes it.
 * On refusal nothing is published and a line naming the file, the record and the field is written
 * to errbuf. Returns the generation number (> 0) or a negative FS_E* code. Writer thread only.
 */
int64_t fs_loader_load_file(fs_index_t *idx, fs_index_thread_t *th, const char *path, char *errbuf, size_t errcap);

/**
 * Loads every snapshot file found directly under dir (*.msgpack, *.json). A file that is refused
 * is logged to stderr and skipped; the rest still load. Returns how many loaded, or a negative
 * FS_E* code when dir cannot be read (a missing dir is not an error: it loads none).
 */
int fs_loader_load_dir(fs_index_t *idx, fs_index_thread_t *th, const char *dir);

#endif
