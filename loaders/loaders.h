/*
 * loaders/loaders.h: partner feeds in, index generations out. This header is the module's
 * contract; everything else in loaders/ is private to it.
 *
 * Feed path, one file per step: receive (src/feeds.c, pipeline.c) -> decode and validate
 * (decode.c, over reader_msgpack.c or reader_json.c) -> build (apply.c, over the index builder)
 * -> persist (store.c) -> publish (pipeline.c).
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
#include <time.h>
#include "index/index.h"

/* ---------------------------------------------------------------- logs
 * The one way to write a log line, for the whole process (src/ too). */

typedef enum fs_log_format { FS_LOG_TEXT, FS_LOG_JSON } fs_log_format_t;
#define FS_TRACE_ID_LEN 32 /* a W3C trace id: 32 lowercase hex digits */

/** Sets the format of every line (--log-format). Call at start-up, before threads log. */
void fs_log_set_format(fs_log_format_t format);
fs_log_format_t fs_log_get_format(void);
/** One line on stderr: "flightsearch: MESSAGE" (text) or {"time", "msg"} (JSON), with the calling
 *  thread's trace id when it has one (fs_log_set_thread_trace). One write(2) per line. Any thread. */
void fs_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** The same with an explicit trace id (NULL or "": none). */
void fs_log_trace(const char *trace_id, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** The trace id the calling thread's lines carry from now on (NULL or "": none). */
void fs_log_set_thread_trace(const char *trace_id);
/** Escapes len bytes of s for a JSON string (quotes, backslash, control characters as \u00XX;
 *  other bytes as they are) into out, NUL-terminated, stopping before cap would overflow. Returns
 *  the length written. */
size_t fs_json_escape(const char *s, size_t len, char *out, size_t cap);
/** "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" of a CLOCK_REALTIME time; returns its length (27). */
size_t fs_log_time(const struct timespec *ts, char out[32]);
/** Writes bytes to stderr whole (the access log with "-" uses stdout itself). */
void fs_log_write(const char *line, size_t len);

typedef enum fs_feed_format { FS_FEED_MSGPACK, FS_FEED_JSON } fs_feed_format_t;
typedef enum fs_feed_kind { FS_FEED_SNAPSHOT, FS_FEED_DELTA } fs_feed_kind_t;

#define FS_FEED_MAX_ERRORS 20
#define FS_FEED_MAX_DEPTH 16
#define FS_FEED_FIELD_MAX 64
#define FS_FEED_REASON_MAX 128

/** One problem in a feed. index is the record's position in "legs" (or "upsert"/"remove"),
 *  -1 for the document's own fields. field is a path inside the record, e.g.
 *  "cabins.economy.miles" (in a delta prefixed with its list: "upsert.cabins.economy.miles",
 *  "remove.date"), or the top-level name, e.g. "sequence". */
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
 *  keeps validating (to report up to 20 problems) but calls the sink no more. A problem found
 *  after the records (an unknown key or trailing bytes behind "legs") comes after the sink took
 *  them, so what the sink received is provisional until fs_feed_decode returns 0. A sink
 *  returning nonzero stops decoding with that code (e.g. FS_ENOMEM). */
typedef struct fs_feed_sink {
    int (*leg)(void *arg, uint64_t index, const fs_leg_in_t *leg); /* snapshot legs, delta upserts */
    int (*remove)(void *arg, uint64_t index, const fs_leg_remove_t *key);
    void *arg;
} fs_feed_sink_t;

/** The first problem of errs on one line: "record 3, field cabins.economy.miles: must be ...", or
 *  "field sequence: ..." for the document's own fields; "" when errs lists none. NUL-terminated,
 *  truncated to cap; returns the length it needed. For logs and the status endpoint. */
size_t fs_feed_errors_first(const fs_feed_errors_t *errs, char *out, size_t cap);

/** True when s (len bytes) matches [a-z0-9_-]{1,32}. Every source name is checked with it. */
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
 * into out (NUL-terminated, truncated to cap; out may be NULL with cap 0). Returns the length of
 * the whole document without its NUL, as snprintf does.
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

/** Finds the document's "source" without validating the rest (the spool routes a file to its
 *  source's loader before decoding it). 0, or FS_EINVAL when there is none or it is malformed. */
int fs_feed_peek_source(const uint8_t *body, size_t len, fs_feed_format_t format, char out[FS_SOURCE_NAME_MAX + 1]);
/** The same for "source" and "sequence" (start-up import skips a seed file the store already
 *  holds without decoding it). 0, or FS_EINVAL when either is missing or malformed. */
int fs_feed_peek_header(const uint8_t *body, size_t len, fs_feed_format_t format, char source[FS_SOURCE_NAME_MAX + 1],
                        uint64_t *sequence);

/* ---------------------------------------------------------------- store
 * Crash-safe persistence, one directory per source: DATA_DIR/sources/<source>/
 *   base-<sequence>.seg      a segment image (index.h), written for every snapshot
 *   delta-<sequence>.delta   a delta body as received, behind a header with its length, xxHash64 and apply time
 * Every file is written as: temp file in the same directory, write all, fsync, rename, fsync the
 * directory. A source's state is its newest valid base plus the valid deltas after it, in order.
 * Not thread-safe per source: one loader thread owns each source.
 */

typedef struct fs_store fs_store_t;

/** Opens (creating) DATA_DIR/sources and DATA_DIR/inbox/{done,failed}. NULL with err filled. */
fs_store_t *fs_store_open(const char *data_dir, char *err, size_t errcap);
void fs_store_close(fs_store_t *st);
const char *fs_store_data_dir(const fs_store_t *st);

/** Persists a snapshot's segment as the source's new base. Returns bytes written or FS_E*. */
int64_t fs_store_write_base(fs_store_t *st, const fs_segment_t *seg);
/** Persists a delta body, with updated_at (unix seconds; the segment's) in its header so that a
 *  restart restores the time the source last changed, not the restart's. Returns bytes written or
 *  FS_E*. */
int64_t fs_store_write_delta(fs_store_t *st, const char *source, uint64_t sequence, fs_feed_format_t format,
                             const uint8_t *body, size_t len, int64_t updated_at);
/** Removes the files of a source older than its base of base_sequence (superseded bases and deltas
 *  at or below it). Failures are logged, not fatal: stale files are ignored by recovery. */
void fs_store_prune(fs_store_t *st, const char *source, uint64_t base_sequence);
/** Removes every file of a source and its directory (DELETE), leaving a tombstone with the
 *  retired sequence so that a seed file of that source in DATA_DIR is not imported again. */
int fs_store_remove_source(fs_store_t *st, const char *source, uint64_t sequence);
/** Bytes of the source's files on disk. */
uint64_t fs_store_source_bytes(fs_store_t *st, const char *source);
/** Deltas written since the source's base (compaction trigger). */
unsigned fs_store_delta_count(fs_store_t *st, const char *source, uint64_t *bytes);

/**
 * Restores every source under DATA_DIR/sources into the index: newest valid base, then valid
 * deltas after it in sequence order; a truncated or corrupt file is skipped with a log line
 * (falling back to the last good state); stale temp files are removed. Then imports the plain
 * snapshot files directly under DATA_DIR (writing each into the store as its source's base) for
 * sources the store holds at an older sequence or not at all. Returns how many sources were
 * restored or imported.
 */
int fs_store_recover(fs_store_t *st, fs_index_t *idx, fs_index_thread_t *th);
/** FS_ERANGE, with a message naming the count, the first few sources and --max-sources in err,
 *  when DATA_DIR/sources holds more than max_sources sources (recovery would have to drop some);
 *  0 otherwise. Call before fs_store_recover. */
int fs_store_check_sources(fs_store_t *st, unsigned max_sources, char *err, size_t errcap);

/** Store writes that failed since start (each refused push or compaction counts once), process-wide.
 *  Any thread. */
uint64_t fs_store_write_errors(void);

/**
 * Fault injection for tests: the next `countdown`-th store I/O step (open, write, fsync, rename,
 * directory fsync) fails with EIO; 0 disables. Process-wide.
 */
void fs_store_inject_fault(unsigned countdown);

/* ------------------------------------------------------------- pipeline
 * Loader threads. A job is handed over by any thread (an event loop, the spool) through a
 * per-loader ck_ring (multi-producer, single-consumer); a source always goes to the same loader,
 * so pushes for one source apply in order while different sources proceed in parallel. When a job
 * is done its done() callback runs on the loader thread: the server uses it to post the answer
 * back to the request's own event loop.
 */

typedef enum fs_feed_op { FS_FEED_OP_SNAPSHOT, FS_FEED_OP_DELTA, FS_FEED_OP_DELETE } fs_feed_op_t;

typedef struct fs_feed_job fs_feed_job_t;
struct fs_feed_job {
    /* in */
    fs_feed_op_t op;
    fs_feed_format_t format;
    char source[FS_SOURCE_NAME_MAX + 1];
    uint8_t *body; /* malloc'd, owned by the job; freed by the pipeline when done */
    size_t len;
    const char *origin;   /* "push" or "spool:<file>", for logs and status */
    char trace_id[FS_TRACE_ID_LEN + 1]; /* the push's W3C trace id ("" for the spool): its log lines carry it */
    int64_t updated_at;   /* unix seconds the source's segment says it was updated; 0: now. Replicas
                           * pass the stream message's time, so that every replica says the same */
    /* out */
    int status;           /* HTTP status */
    unsigned retry_after; /* seconds for a Retry-After header (0: none; replicas' 503s) */
    char *response;       /* malloc'd JSON document */
    size_t response_len;
    /* completion: called on the loader thread; owns the job from then on */
    void (*done)(fs_feed_job_t *job);
    void *ctx;
};

typedef struct fs_feeds fs_feeds_t;

typedef struct fs_feeds_config {
    unsigned loaders;         /* loader threads (default 2) */
    unsigned queue_depth;     /* least ring size per loader (power of two, default 64; grown so that
                               * every source can hold source_jobs jobs at once) */
    unsigned source_jobs;     /* jobs one source may have queued or in progress (default 8) */
    uint64_t queued_bytes;    /* bytes of bodies all queued jobs may hold (default 2 GiB); one
                               * source may hold half of it */
    unsigned compact_deltas;  /* compact a source after this many deltas (default 64) once they weigh an
                                 eighth of its base, or after 16 times as many */
    unsigned spool_interval_ms; /* inbox scan period (default 200; 0 disables the spool) */
} fs_feeds_config_t;

/** Starts the loader threads (and the spool). The store and the index must outlive the pipeline. */
fs_feeds_t *fs_feeds_start(fs_index_t *idx, fs_store_t *st, const fs_feeds_config_t *cfg);
/** Stops accepting, finishes queued jobs, joins the threads. */
void fs_feeds_stop(fs_feeds_t *f);
/**
 * Queues a job. Any thread, never blocks (a short mutex guards the per-source counts). 0, or:
 * FS_EBUSY when the job's source already has cfg.source_jobs jobs or half of cfg.queued_bytes
 * queued (other sources are not affected), FS_ENOSPC when all queued jobs together would hold more
 * than cfg.queued_bytes of bodies, FS_ERANGE when stopping (or, only past 2^20 queued jobs per
 * loader, a full ring). The job is counted from here until its body is freed (before done).
 */
int fs_feeds_submit(fs_feeds_t *f, fs_feed_job_t *job);
/** Jobs queued or being applied, and the bytes of their bodies, over every loader (a short mutex;
 *  for /metrics). Any thread. */
void fs_feeds_queued(fs_feeds_t *f, uint64_t *jobs, uint64_t *bytes);
/** The limits fs_feeds_submit applies, after defaults: for error messages. */
void fs_feeds_limits(const fs_feeds_t *f, unsigned *source_jobs, uint64_t *queued_bytes);
/** Frees a finished job (body, response, the job itself). */
void fs_feed_job_free(fs_feed_job_t *job);

/**
 * Writes the feeds status document ({"sources": [...]} sorted by source, or for one source its
 * object) into a malloc'd string. Safe on an event loop: it takes no lock and never waits, only a
 * read section with the caller's index thread record (loaders publish a new status table per push
 * and free the old one after fs_index_synchronize). O(sources) for the list, O(log sources) for
 * one source. Returns NULL for an unknown source.
 */
char *fs_feeds_status_json(fs_feeds_t *f, fs_index_thread_t *th, const char *source, size_t *len);
/** Tests: pause() runs on the loader after it has built a new status table and before it publishes
 *  it, with the status writers' lock held. Set before any job is submitted. */
void fs_feeds_inject_status_pause(fs_feeds_t *f, void (*pause)(void));
/** Tests: pause() runs on the compaction thread before it writes each image. Set before any job
 *  is submitted. */
void fs_feeds_inject_compaction_pause(fs_feeds_t *f, void (*pause)(void));

/* ------------------------------------------------------------- replicas
 * Replica mode (--nats, loaders/replica.c, docs/replicas.md). Pushes do not go to the loaders
 * directly: a publisher thread validates a push, appends it to a NATS JetStream stream (chunks and
 * a manifest when it is larger than the server's max_payload) and waits until the consumer thread
 * of this replica has applied it. The consumer applies every message of the stream, in stream
 * order, through fs_feeds_submit (the same loader path as a local push), numbers generations by
 * stream sequence and persists the last applied sequence in DATA_DIR/replica.seq.
 */

typedef struct fs_replica fs_replica_t;

typedef struct fs_replica_config {
    const char *urls;         /* nats://host:port[,nats://...] */
    const char *stream;       /* stream name; subjects STREAM.feed.<source> and STREAM.chunk.<source> */
    unsigned stream_replicas; /* replication factor when the stream is created here */
    const char *name;         /* durable consumer name of this replica */
    const char *creds;        /* NULL or a credentials file */
    const char *tls_ca;       /* NULL or a CA bundle (TLS on) */
    const char *data_dir;     /* where replica.seq is kept */
} fs_replica_config_t;

/** Starts the consumer and publisher threads over a running pipeline. The NATS servers need not be
 *  reachable yet (the threads retry). NULL with err filled when cfg is unusable. */
fs_replica_t *fs_replica_start(fs_index_t *idx, fs_feeds_t *feeds, const fs_replica_config_t *cfg, char *err,
                               size_t errcap);
/** Waits up to timeout_ms for this replica to have applied the stream up to the head it saw at
 *  start-up (the condition for /readyz): 0 once it has, FS_ETIMEDOUT before. */
int fs_replica_wait_caught_up(fs_replica_t *r, unsigned timeout_ms);
/** Takes a push (op, format, source, body set; done called once answered, from a replica thread).
 *  0, or FS_EBUSY when the publisher's queue is full (the caller answers 503). Any thread. */
int fs_replica_submit(fs_replica_t *r, fs_feed_job_t *job);
/** Prometheus lines (lag in messages and seconds, applied sequence, publish failures) into out;
 *  returns the length (truncated to cap). Any thread. */
size_t fs_replica_metrics(fs_replica_t *r, char *out, size_t cap);
/** Stops the threads (pending pushes are answered 503) and closes the connection. */
void fs_replica_stop(fs_replica_t *r);

#endif
