/*
 * index/index.h: the fare/seat index. This header is the module's contract; everything else in
 * index/ is private to it. No HTTP here: the server, the loaders, the tests and the bench all
 * drive the index through these functions.
 *
 * Vocabulary
 *   leg         one flight on one local departure date, with per-cabin seats and fares.
 *   segment     every leg one source (partner) published, immutable, sorted by route and day.
 *   generation  the set of segments readers see; immutable, replaced by one pointer swap.
 *
 * Error convention (used project-wide): functions return 0 or a negative FS_E* code;
 * fs_strerror() turns a code into words.
 *
 * Concurrency contract
 *   - Everything reachable from an fs_generation_t is immutable once published.
 *   - Readers (event-loop threads) call fs_index_read_begin()/fs_index_read_end() around any use
 *     of a generation: no lock, no wait, ever. A reader must not keep pointers past read_end.
 *   - Writers (loader threads) build segments privately, then fs_index_publish_*(): publishing is
 *     serialised by a mutex among writers only; the swap is one atomic pointer store; the old
 *     generation is reclaimed by the writer after an epoch barrier (ck_epoch), never by a reader.
 */
#ifndef FS_INDEX_H
#define FS_INDEX_H

#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <ck_epoch.h>

/* ---------------------------------------------------------------- errors */

#define FS_EINVAL (-22)   /* malformed or out-of-range input */
#define FS_ENOMEM (-12)   /* allocation failed */
#define FS_ERANGE (-34)   /* a capacity limit was reached (documented where it applies) */
#define FS_ENOENT (-2)    /* no such thing */
#define FS_EIO (-5)       /* I/O failure */
#define FS_EEXIST (-17)   /* already present (duplicate key) */
#define FS_ETIMEDOUT (-110) /* a search ran past its deadline */
#define FS_EBUSY (-16)    /* one queue is full (a source's pushes); retry later */
#define FS_ENOSPC (-28)   /* a process-wide budget is spent (bytes of queued pushes); retry later */
#define FS_ELAGGED (-75)  /* a subscriber fell behind: change sets were dropped for it */

/** Returns a static English description of an FS_E* code. Any thread. */
const char *fs_strerror(int err);

/* ----------------------------------------------------------------- codes
 * Airport, carrier and currency codes are interned to small integers by a fixed, perfect encoding
 * rather than a shared table: an IATA airport code is 3 letters (26^3 values), a carrier designator
 * 2 letters or digits (36^2), a currency 3 letters. No table means no lock and no growth, and ids
 * are stable across generations and restarts. */

typedef uint16_t fs_airport_t;  /* 0 .. 17575 */
typedef uint16_t fs_carrier_t;  /* 0 .. 1295 */
typedef uint16_t fs_currency_t; /* 0 .. 17575 */

#define FS_AIRPORT_COUNT 17576u
#define FS_CARRIER_COUNT 1296u

/** Parses exactly 3 ASCII uppercase letters. 0 or FS_EINVAL. */
int fs_airport_parse(const char *s, size_t len, fs_airport_t *out);
/** Writes the 3-letter code and a NUL into out. */
void fs_airport_format(fs_airport_t a, char out[4]);
/** Parses exactly 2 characters from [A-Z0-9] (an IATA airline designator). 0 or FS_EINVAL. */
int fs_carrier_parse(const char *s, size_t len, fs_carrier_t *out);
void fs_carrier_format(fs_carrier_t c, char out[3]);
/** Parses exactly 3 ASCII uppercase letters (ISO 4217 shape; not checked against the list). */
int fs_currency_parse(const char *s, size_t len, fs_currency_t *out);
void fs_currency_format(fs_currency_t c, char out[4]);

/* ------------------------------------------------------------------ time
 * Dates are days since 1970-01-01 (proleptic Gregorian). A local time is a date, a minute of the
 * day and the UTC offset in minutes that applied then; feeds carry offsets explicitly, so DST is
 * whatever offset the feed states for that instant. */

typedef struct fs_localtime {
    int32_t day;        /* local date, days since 1970-01-01 */
    uint16_t minute;    /* local minute of the day, 0..1439 */
    int16_t offset_min; /* UTC offset in minutes, e.g. -180 for -03:00 */
} fs_localtime_t;

/** Days since 1970-01-01 of a civil date; the date is not validated. */
int32_t fs_days_from_civil(int32_t y, unsigned m, unsigned d);
/** The civil date of a day number. */
void fs_civil_from_days(int32_t days, int32_t *y, unsigned *m, unsigned *d);
/** Parses "YYYY-MM-DD" (exactly 10 characters, a real calendar date from 1970-01-01 to 2149-06-06,
 *  the last day a leg's 16-bit date holds). */
int fs_date_parse(const char *s, size_t len, int32_t *days);
/** Writes "YYYY-MM-DD" (10 characters, no NUL) and returns 10. */
size_t fs_date_format(int32_t days, char *out);
/**
 * Parses an ISO 8601 local time with offset: "YYYY-MM-DDTHH:MM[:SS](Z|+HH:MM|-HH:MM)".
 * Seconds, when present, must be 00..59 and are dropped (schedules are to the minute).
 * The offset must lie in -12:00..+14:00 and be a multiple of 15 minutes.
 * Returns 0, or FS_EINVAL (shape or calendar) or FS_ERANGE (offset out of range).
 */
int fs_datetime_parse(const char *s, size_t len, fs_localtime_t *out);
/** Minutes since 1970-01-01T00:00Z of a local time. */
int64_t fs_localtime_to_utc_min(fs_localtime_t t);
/** Writes "YYYY-MM-DDTHH:MM:00+HH:MM" (25 characters, no NUL) and returns 25. */
size_t fs_datetime_format(fs_localtime_t t, char *out);
/** Parses a UTC timestamp "YYYY-MM-DDTHH:MM:SSZ" (an offset is accepted and applied). The instant
 *  must lie in 1970-01-01T00:00:00Z..2106-02-07T06:28:15Z (32-bit unix seconds, as legs store
 *  last_seen): FS_ERANGE otherwise. */
int fs_timestamp_parse(const char *s, size_t len, int64_t *unix_seconds);
/** Writes "YYYY-MM-DDTHH:MM:SSZ" (20 characters, no NUL) and returns 20. */
size_t fs_timestamp_format(int64_t unix_seconds, char *out);

/* ------------------------------------------------------------------ legs */

enum { FS_CABIN_ECONOMY, FS_CABIN_PREMIUM, FS_CABIN_BUSINESS, FS_CABIN_FIRST, FS_CABIN_COUNT };

/** "economy", "premium", "business", "first". */
extern const char *const fs_cabin_names[FS_CABIN_COUNT];
/** One-letter booking-class family used in result ids: Y, W, J, F. */
extern const char fs_cabin_letters[FS_CABIN_COUNT];
/** Parses a cabin name; returns the FS_CABIN_* value or FS_EINVAL. */
int fs_cabin_parse(const char *s, size_t len);

/** Limits a leg must respect (validated by the loaders, relied on by the index's packing). */
#define FS_MAX_SEATS 99
#define FS_MIN_MILES 1u
#define FS_MAX_MILES 10000000u
#define FS_MAX_TAXES_CENTS 100000000u /* 1,000,000.00 in a currency's minor units */
#define FS_MAX_FLIGHT 9999
#define FS_MAX_DURATION_MIN (30 * 60 - 1)
#define FS_MIN_OFFSET_MIN (-12 * 60)
#define FS_MAX_OFFSET_MIN (14 * 60)

typedef struct fs_fare {
    uint32_t miles;
    uint32_t taxes_cents;
    fs_currency_t currency;
} fs_fare_t;

/** A leg as decoded from a feed: full fidelity, used only while building. */
typedef struct fs_leg_in {
    fs_carrier_t carrier;
    uint16_t flight;
    fs_airport_t origin, destination;
    fs_localtime_t departs, arrives;
    uint8_t cabin_mask;         /* bit c set when cabin c is present (with 0 seats it is sold out) */
    uint8_t seats[FS_CABIN_COUNT];
    fs_fare_t fare[FS_CABIN_COUNT];
    int64_t last_seen;          /* unix seconds: the generated_at of the feed that carried it */
} fs_leg_in_t;

/**
 * A leg as stored: 40 bytes, fixed size, no pointers. Fares are interned per segment, so a cabin
 * is one 32-bit word: seats in the top 7 bits, the fare's index in the segment's fare table below.
 * Field order keeps the fields a search filters on (day, times, route) in the first 16 bytes.
 */
typedef struct fs_leg {
    uint16_t day;          /* local departure date, days since 1970-01-01 (to 2149) */
    uint16_t dep_minute;   /* local departure minute of day */
    fs_airport_t origin, destination;
    uint16_t duration_min; /* arrival minus departure, in UTC */
    int8_t dep_offset_q;   /* departure UTC offset, quarter hours */
    int8_t arr_offset_q;   /* arrival UTC offset, quarter hours */
    fs_carrier_t carrier;
    uint16_t flight;
    uint32_t last_seen;    /* unix seconds */
    uint8_t cabin_mask;    /* bit c set when cabin c is present */
    uint8_t reserved[3];   /* zero; the source is the segment the leg lives in */
    uint32_t cabin[FS_CABIN_COUNT];
} fs_leg_t;

#define FS_CABIN_SEATS(word) ((unsigned)((word) >> 25))
#define FS_CABIN_FARE(word) ((word)&0x1ffffffu)
#define FS_MAX_FARES_PER_SEGMENT 0x1ffffffu

/** A leg's key: (carrier, flight, origin, local departure date), packed into 64 bits. Two legs of
 *  one source with the same key are the same leg: a delta's upsert replaces it. */
static inline uint64_t fs_leg_key(fs_carrier_t carrier, uint16_t flight, fs_airport_t origin, int32_t day)
{
    return ((uint64_t)carrier << 48) | ((uint64_t)flight << 32) | ((uint64_t)origin << 16) | (uint16_t)day;
}

/** Departure and arrival of a stored leg as local times, and in UTC minutes. */
fs_localtime_t fs_leg_departs(const fs_leg_t *leg);
fs_localtime_t fs_leg_arrives(const fs_leg_t *leg);
int64_t fs_leg_departs_utc_min(const fs_leg_t *leg);
int64_t fs_leg_arrives_utc_min(const fs_leg_t *leg);

/* -------------------------------------------------------------- segments */

#define FS_SOURCE_NAME_MAX 32
/** Most sources one index holds unless fs_index_set_max_sources says otherwise (--max-sources). */
#define FS_MAX_SOURCES_DEFAULT 1000
/** The largest --max-sources accepted: every publish allocates 8 bytes per allowed source. */
#define FS_MAX_SOURCES_LIMIT 100000

/** A route's legs within a segment: legs[0 .. count) share origin and destination and are sorted
 *  by (day, dep_minute, carrier, flight). The array may be shared with other segments of the same
 *  source (a delta's segment points at every route array it did not change). count, first_day,
 *  last_day and carrier summarize the legs, so that explore answers from the route table. */
typedef struct fs_route {
    fs_airport_t origin, destination;
    uint32_t count;
    uint16_t first_day, last_day;
    fs_carrier_t carrier; /* the carrier of every leg, or FS_ROUTE_CARRIERS_MIXED (fills padding) */
    const fs_leg_t *legs;
} fs_route_t;

/** fs_route_t.carrier of a route whose legs fly for more than one carrier (no fs_carrier_t is). */
#define FS_ROUTE_CARRIERS_MIXED UINT16_MAX

/**
 * Memory that route arrays (and, for a mapped image, the fare table) live in: one allocation or
 * one read-only file mapping. Successive segments of a source share blocks: a delta's segment
 * takes a reference on each block of its base and adds one block with the routes it rebuilt.
 * refs is atomic: the loader that builds on a base takes references while another writer may be
 * reclaiming an older segment of the same source. Freed (or unmapped) by the last release.
 */
typedef struct fs_leg_block {
    unsigned refs;
    int mapped;       /* mem is a file mapping of len bytes, else malloc'd */
    void *mem;
    size_t len;
    size_t leg_bytes; /* bytes of legs in it (for the waste ratio) */
} fs_leg_block_t;

/** Everything one source published. Immutable once built; owned by the generations that list it
 *  (reference counted by the writer side only, under the publish mutex). */
typedef struct fs_segment {
    char source[FS_SOURCE_NAME_MAX + 1];
    uint64_t sequence;      /* the feed's sequence */
    int64_t generated_at;   /* unix seconds, from the feed */
    int64_t updated_at;     /* unix seconds, when this segment was published */
    uint64_t body_hash;     /* xxHash64 of the feed body that produced it (duplicate detection) */

    uint32_t leg_count;       /* sum of the routes' counts */
    /* The fare table, in pages of FS_FARE_PAGE fares (fs_segment_fare): a delta shares every full
     * page with its base and appends to a copy of the last one, so it never copies the table. */
    const fs_fare_t *const *fare_pages;
    fs_leg_block_t *const *fare_page_blocks; /* the block each page lives in (writer side) */
    uint32_t fare_count;
    const fs_route_t *routes; /* sorted by (origin, destination); each with its own leg array */
    uint32_t route_count;
    const uint32_t *route_slots; /* open-addressing table: route index + 1, 0 = empty */
    uint32_t route_slot_mask;

    uint64_t generation;    /* the generation that published it (set at publish) */
    unsigned refs;          /* writer-side only */
    size_t bytes;           /* heap bytes this segment holds alive: its tables and its blocks */
    fs_leg_block_t **blocks; /* the blocks its routes' legs and fare pages live in, one reference each */
    unsigned block_count;
    uint64_t block_leg_bytes; /* legs bytes in all blocks: leg_count * 40 plus what deltas replaced */
} fs_segment_t;

#define FS_FARE_PAGE_BITS 14
#define FS_FARE_PAGE (1u << FS_FARE_PAGE_BITS)

/** Fare i of seg (i < fare_count): a leg's cabin word holds i. Any thread, read side. */
static inline const fs_fare_t *fs_segment_fare(const fs_segment_t *seg, uint32_t i)
{
    return &seg->fare_pages[i >> FS_FARE_PAGE_BITS][i & (FS_FARE_PAGE - 1)];
}

/** Finds the route origin->destination in a segment, or NULL. Any thread, read side. */
const fs_route_t *fs_segment_route(const fs_segment_t *seg, fs_airport_t origin, fs_airport_t destination);
/** [*first, *end): the indexes in seg->routes of the routes leaving origin (contiguous, since the
 *  routes are sorted by origin). Any thread, read side. */
void fs_segment_routes_from(const fs_segment_t *seg, fs_airport_t origin, uint32_t *first, uint32_t *end);
/** The i-th leg of seg in (origin, destination, day, dep_minute, carrier, flight) order, i <
 *  leg_count. O(routes): for tests and tools, not for the search path. */
const fs_leg_t *fs_segment_leg_at(const fs_segment_t *seg, uint32_t i);
/** Index range [*first, *end) within route->legs of the legs whose day lies in [from_day, to_day]. */
void fs_route_days(const fs_segment_t *seg, const fs_route_t *route, int32_t from_day, int32_t to_day, uint32_t *first,
                   uint32_t *end);

/** Builds one segment. Single-threaded: one builder belongs to one loader thread. */
typedef struct fs_segment_builder fs_segment_builder_t;

fs_segment_builder_t *fs_segment_builder_new(const char *source, uint64_t sequence, int64_t generated_at);
/** Adds a validated leg. FS_ENOMEM, or FS_ERANGE when the segment's fare table is full. */
int fs_segment_builder_add(fs_segment_builder_t *b, const fs_leg_in_t *leg);
/** Adds every leg of an existing segment except those for which skip(arg, leg) returns nonzero
 *  (how a delta carries over the legs it does not replace). */
int fs_segment_builder_add_segment(fs_segment_builder_t *b, const fs_segment_t *seg,
                                   int (*skip)(void *arg, const fs_leg_t *leg), void *arg);
/** Sorts, indexes and returns the segment (refs = 0), consuming the builder. NULL on ENOMEM. */
fs_segment_t *fs_segment_builder_finish(fs_segment_builder_t *b, uint64_t body_hash);
void fs_segment_builder_free(fs_segment_builder_t *b);
/** Frees a segment no generation lists any more. Writer side. */
void fs_segment_free(fs_segment_t *seg);

/* ------------------------------------------------------------- changes */

/** What one publish changed for one leg, cabin by cabin. A cabin is open when it is present with
 *  at least 1 seat. opened: not open before, open after; closed: the reverse; seats: open before
 *  and after with another count; repriced: present before and after with other miles, taxes or
 *  currency. A leg present on one side only is added or removed (and its open cabins opened or
 *  closed). A leg present on both sides that moved (another destination, departure minute,
 *  duration or UTC offsets) is listed with moved = 1 even when no count changes, so a watch on
 *  its old route or a connection through it can tell. Legs whose only change is last_seen are
 *  not listed. */
typedef struct fs_change {
    uint64_t key;               /* fs_leg_key */
    fs_airport_t destination;   /* the leg's after the change, or before it when removed */
    fs_airport_t old_destination; /* before the change (= destination unless it moved route) */
    uint8_t added, removed, moved;
    uint8_t opened, closed, seats, repriced; /* cabin bit masks */
    uint8_t old_seats[FS_CABIN_COUNT], new_seats[FS_CABIN_COUNT]; /* 0 where the cabin is absent */
    uint32_t old_miles[FS_CABIN_COUNT], new_miles[FS_CABIN_COUNT];
} fs_change_t;

typedef struct fs_change_counts {
    uint64_t opened, closed, seats, repriced; /* (leg, cabin) pairs */
    uint64_t added, removed;                  /* legs */
} fs_change_counts_t;

/**
 * A publish's change set against the previous state of its source. counts always; entries only
 * when want_entries was set before it was filled (a subscriber wants them: a snapshot's diff
 * then costs memory per changed leg). Owned by its filler until published with
 * fs_index_publish_commit_changes; from then immutable and reference counted (refs atomic), each
 * subscriber releasing its reference with fs_change_set_release.
 */
typedef struct fs_change_set {
    char source[FS_SOURCE_NAME_MAX + 1];
    uint64_t sequence, generation; /* generation: set at publish */
    int snapshot;                  /* 1: a snapshot's diff (or a retirement), 0: a delta */
    int want_entries;
    fs_change_counts_t counts;
    uint64_t took_us;              /* time spent computing it (the diff, or a delta's pairs) */
    fs_change_t *entries;
    size_t entry_count, entry_cap;
    unsigned refs;
} fs_change_set_t;

/** A zeroed change set on the heap for source (refs 1). NULL on ENOMEM. */
fs_change_set_t *fs_change_set_new(const char *source, int want_entries);
/** Drops a reference; frees at zero. NULL is ignored. */
void fs_change_set_release(fs_change_set_t *cs);

/**
 * The change set from old (NULL: the source had nothing) to new (NULL: retired), over every leg
 * of both: one merge of two sorted route lists, O(legs). FS_ENOMEM (entries).
 */
int fs_segment_diff(const fs_segment_t *old, const fs_segment_t *new_seg, fs_change_set_t *changes);

/**
 * A delta applied to base (NULL: an empty source) without a pass over base: upserts (validated
 * legs, keys unique among them) replace or add legs by key, removes (fs_leg_key values) drop them;
 * a key both removed and upserted ends upserted. Only the routes that hold a touched leg are
 * rebuilt (into one new block); every other route array and block is shared with base. Cost:
 * O(k log k) for the k changes, a probe of each route from a touched key's origin, plus copying
 * the route table (O(routes)) and the fare table (O(fares)), both flat memcpy-like passes.
 * changes (may be NULL) receives the change set, *removed_hits how many removes found a leg.
 * Returns the next segment (refs 0), or NULL with *rc (FS_ENOMEM, FS_ERANGE: fare table full).
 */
fs_segment_t *fs_segment_apply_delta(const fs_segment_t *base, const char *source, uint64_t sequence,
                                     int64_t generated_at, uint64_t body_hash, const fs_leg_in_t *upserts,
                                     size_t n_upserts, const uint64_t *removes, size_t n_removes,
                                     fs_change_set_t *changes, uint64_t *removed_hits, int *rc);

/** Bytes held alive by seg that no route of it uses any more (legs replaced by later deltas,
 *  still in shared blocks): what a compaction (fs_segment_flatten) would give back. */
uint64_t fs_segment_waste_bytes(const fs_segment_t *seg);
/** A copy of seg in one fresh block with only the fares its legs use (same source, sequence,
 *  times, body hash). O(legs). NULL on ENOMEM. */
fs_segment_t *fs_segment_flatten(const fs_segment_t *seg);

/*
 * Segment images: a segment's legs and fares are flat and pointerless, so they are persisted as
 * they are in memory (little-endian x86-64 layout) and mapped back read-only at start-up; only the
 * route table is rebuilt. Layout: a 128-byte header (magic, version, source, sequence,
 * generated_at, updated_at, body_hash, counts, payload length and xxHash64, the header's own
 * xxHash64), then legs[leg_count], then fares[fare_count].
 */
#define FS_IMAGE_HEADER_SIZE 128
/** Writes seg's image to fd from its current offset. Returns bytes written or a negative FS_E*
 *  (FS_EIO with errno set). The caller owns durability (fsync, rename). */
int64_t fs_segment_write_image(const fs_segment_t *seg, int fd);
/** Builds seg's route table over legs already sorted like a segment's, all in block (which seg
 *  takes over: its one reference). Used by the builder and by image loading. FS_ENOMEM (block
 *  is then still seg's, released by fs_segment_free). */
int fs_segment_index_routes(fs_segment_t *seg, fs_leg_block_t *block, const fs_leg_t *legs, size_t n);
/** A block over mem (malloc'd, or a mapping when mapped) with one reference. NULL on ENOMEM (mem
 *  is then not taken). */
fs_leg_block_t *fs_leg_block_new(void *mem, size_t len, int mapped);
/** Maps an image file and returns its segment (refs = 0), or NULL with a sentence in err: a
 *  truncated file, a bad magic or version, or a checksum mismatch is refused. */
fs_segment_t *fs_segment_map_image(const char *path, char *err, size_t errcap);

/* ----------------------------------------------------------- generations */

typedef struct fs_generation {
    uint64_t number;          /* increases by one per publish */
    unsigned segment_count;
    uint64_t leg_count;
    fs_segment_t *segments[]; /* segment_count of them, sorted by source name */
} fs_generation_t;

typedef struct fs_index fs_index_t;

/** One per thread that reads or writes the index; registered once, reused forever. */
typedef struct fs_index_thread {
    ck_epoch_record_t record;
    ck_epoch_section_t section;
} fs_index_thread_t;

fs_index_t *fs_index_new(void);
/** Frees the index and its current generation. No thread may use it any more. */
void fs_index_free(fs_index_t *idx);
/** Registers a record for a long-lived thread. ck_epoch keeps every record in its list for the
 *  life of the index, so th's storage must outlive the index (a worker struct, a static). */
void fs_index_thread_register(fs_index_t *idx, fs_index_thread_t *th);
/** A record for a short-lived thread: taken from the index's free records (or allocated), handed
 *  back with fs_index_thread_put when the thread is done with the index. */
fs_index_thread_t *fs_index_thread_get(fs_index_t *idx);
void fs_index_thread_put(fs_index_t *idx, fs_index_thread_t *th);

/** Enters a read section and returns the current generation (never NULL). Lock-free, wait-free. */
const fs_generation_t *fs_index_read_begin(fs_index_t *idx, fs_index_thread_t *th);
void fs_index_read_end(fs_index_t *idx, fs_index_thread_t *th);

/** Returns once every read section that was open at the call has ended: after it, memory that a
 *  reader could only have reached before the call (an unpublished pointer) can be freed. For data
 *  that rides on the index's read sections (the feeds status table). Writers only: it waits, so
 *  never on an event loop, and never inside a read section of the calling thread. */
void fs_index_synchronize(fs_index_t *idx);

/** Legs in the current generation (enters and leaves a read section). */
uint64_t fs_index_leg_count(fs_index_t *idx, fs_index_thread_t *th);
/** The number of the current generation (enters and leaves a read section): safe on any thread
 *  with a record while writers publish and reclaim (/readyz on an event loop). */
uint64_t fs_index_generation_number(fs_index_t *idx, fs_index_thread_t *th);

/** Sets the most sources the index may list (default FS_MAX_SOURCES_DEFAULT). Call before the
 *  first publish, on one thread. */
void fs_index_set_max_sources(fs_index_t *idx, unsigned max_sources);
unsigned fs_index_max_sources(const fs_index_t *idx);

/**
 * A publish in two steps, so that a writer can persist between them knowing the publish will
 * succeed: prepare allocates the next generation and, for a source the index does not list yet,
 * reserves one of the max_sources slots (FS_ERANGE when they are all listed or reserved; FS_ENOMEM).
 * Then exactly one of commit (publishes seg in place of its source, or added; consumes seg; returns
 * the new generation number; cannot fail) or abort (releases the reservation). The caller must be
 * the only writer of that source between the two (the loader that owns it). Writer threads only;
 * commit waits for readers of the generation it replaces before freeing it.
 */
typedef struct fs_publish {
    fs_generation_t *next;
    int adds; /* the source was new at prepare: one slot reserved */
} fs_publish_t;
int fs_index_publish_prepare(fs_index_t *idx, const char *source, fs_publish_t *p);
int64_t fs_index_publish_commit(fs_index_t *idx, fs_index_thread_t *th, fs_publish_t *p, fs_segment_t *seg);
void fs_index_publish_abort(fs_index_t *idx, fs_publish_t *p);
/** commit, handing changes (may be NULL; consumed: its reference passes to the index) to the
 *  subscribers in publish order, stamped with the new generation number. */
int64_t fs_index_publish_commit_changes(fs_index_t *idx, fs_index_thread_t *th, fs_publish_t *p, fs_segment_t *seg,
                                        fs_change_set_t *changes);

/**
 * Change-set subscribers (the watches, the replicas). Each has a bounded single-consumer ring
 * filled at commit, under the publish mutex, in generation order. A publish never waits for a
 * subscriber: when its ring is full the set is dropped for that subscriber, and so is every later
 * one until the subscriber has drained its ring and been told, by FS_ELAGGED with the number
 * dropped, that it missed some (it must then resynchronise from a generation). So a subscriber
 * sees a gapless prefix, then the gap, then what follows it, never sets out of order.
 * subscribe/unsubscribe: writer-side threads (they take the publish mutex). next/fd: the one
 * consumer thread, lock-free, never waiting.
 */
typedef struct fs_subscription fs_subscription_t;
/** capacity: change sets held at most (rounded up to a power of two, >= 4). NULL on ENOMEM. */
fs_subscription_t *fs_index_subscribe(fs_index_t *idx, unsigned capacity);
/** Removes and frees sub, releasing the change sets still in its ring. */
void fs_index_unsubscribe(fs_index_t *idx, fs_subscription_t *sub);
/** 1 with *out (the caller releases it), 0 when nothing is waiting, FS_ELAGGED with *dropped
 *  when sets were dropped since the last one returned. */
int fs_subscription_next(fs_subscription_t *sub, fs_change_set_t **out, uint64_t *dropped);
/** An eventfd (EFD_NONBLOCK) that becomes readable when a set was queued: for poll/epoll. */
int fs_subscription_fd(const fs_subscription_t *sub);
/** Whether anyone subscribes (a writer then asks for change-set entries). Any thread. */
int fs_index_has_subscribers(fs_index_t *idx);

/**
 * Prepare and commit in one call. Consumes seg. Returns the new generation number (> 0), or
 * FS_ERANGE when max_sources sources exist already and seg's is new, or FS_ENOMEM. Writer threads
 * only; waits for readers of the generation it replaces before freeing it (never call it on an
 * event-loop thread).
 */
int64_t fs_index_publish_segment(fs_index_t *idx, fs_index_thread_t *th, fs_segment_t *seg);
/** Replicas (loaders/replica.c) number generations by stream position: the next publish gets at
 *  least number (later ones count on from it). No effect when publishes already went past it.
 *  Writer side. */
void fs_index_number_from(fs_index_t *idx, uint64_t number);
/** Publishes the current segments again as generation number, when the current one is lower (a
 *  stream message that changed nothing still moves the generation, so that replicas at the same
 *  position answer with the same generation and ETags). Returns the current number afterwards,
 *  or FS_ENOMEM. Writer side; waits for readers like a publish. */
int64_t fs_index_renumber(fs_index_t *idx, fs_index_thread_t *th, uint64_t number);
/** Keeps seg alive after the generations listing it are gone, for a background writer that reads
 *  it (compaction writing its image): one more reference, under the publish mutex. Writer-side
 *  threads; seg must be listed by the current generation when held. */
void fs_index_segment_hold(fs_index_t *idx, const fs_segment_t *seg);
/** Drops a hold; frees seg when nothing lists or holds it any more. */
void fs_index_segment_release(fs_index_t *idx, const fs_segment_t *seg);
/** Publishes a generation without the named source. FS_ENOENT when there is none, FS_ENOMEM.
 *  Writer only. */
int64_t fs_index_retire_source(fs_index_t *idx, fs_index_thread_t *th, const char *source);
/** The same, handing changes (consumed; every leg of the source removed: fs_segment_diff(cur,
 *  NULL)) to the subscribers in publish order. */
int64_t fs_index_retire_source_changes(fs_index_t *idx, fs_index_thread_t *th, const char *source,
                                       fs_change_set_t *changes);

/** Fault injection for tests: the countdown-th allocation of a next generation from now fails as
 *  if out of memory (0 disarms). Call before the writers run. */
void fs_index_inject_fault(unsigned countdown);

/** The segment of a source in a generation, or NULL. */
const fs_segment_t *fs_generation_source(const fs_generation_t *gen, const char *source);

/* ---------------------------------------------------------------- search */

#define FS_QUERY_MAX_AIRPORTS 32 /* after city codes are expanded (a query names at most 10 codes) */
#define FS_QUERY_MAX_FILTER 16
#define FS_SEARCH_MAX_LIMIT 500
#define FS_ID_MAX 176            /* three leg ids joined by '+' (a leg id is at most 56 bytes) */
#define FS_MAX_CONNECTION_MIN 2880

enum fs_sort { FS_SORT_MILES, FS_SORT_DEPARTURE, FS_SORT_DURATION };

/** One leg of a cursor: the fields a tie between results is broken on (see fs_result_compare).
 *  The source is its name, not a position in a generation, so a cursor holds across generations;
 *  the codes are the fixed encodings above, stable across generations and restarts. */
typedef struct fs_cursor_leg {
    char source[FS_SOURCE_NAME_MAX + 1];
    fs_carrier_t carrier;
    uint16_t flight;
    fs_airport_t origin;
    uint16_t day;  /* local departure date, days since 1970-01-01 */
    uint8_t cabin; /* FS_CABIN_*: the cabin this leg is booked in */
} fs_cursor_leg_t;

/** A position in a sorted result list: the sort key of the last result of a page. */
typedef struct fs_cursor {
    int present;
    int64_t sort_value;
    int64_t departs_utc_min;
    unsigned leg_count; /* 1: a nonstop result; 2: a 1-stop itinerary; 3: a 2-stop itinerary */
    fs_cursor_leg_t legs[3];
} fs_cursor_t;

typedef struct fs_search_query {
    fs_airport_t origins[FS_QUERY_MAX_AIRPORTS];
    unsigned origin_count;
    fs_airport_t destinations[FS_QUERY_MAX_AIRPORTS];
    unsigned destination_count;
    int32_t start_day, end_day; /* inclusive, local departure dates at the origin */
    int cabin;                  /* FS_CABIN_* or -1 for every cabin */
    unsigned seats;             /* at least this many seats, >= 1 */
    char sources[FS_QUERY_MAX_FILTER][FS_SOURCE_NAME_MAX + 1];
    unsigned source_count;      /* 0 = every source */
    fs_carrier_t carriers[FS_QUERY_MAX_FILTER];
    unsigned carrier_count;     /* 0 = every carrier */
    unsigned max_stops;         /* 0: nonstop only; 1: and 1-stop itineraries; 2: and 2-stop ones */
    unsigned min_connection;    /* minutes between arrival and the next departure, in UTC */
    unsigned max_connection;
    int mixed_cabin;            /* 1-stop: each leg may take a lower cabin (see fs_search) */
    int same_source;            /* 1-stop: both legs from one source */
    unsigned max_duration;      /* minutes from first departure to last arrival; 0 = no limit */
    int depart_after;           /* local minute of day at the origin, inclusive; -1 = none */
    int depart_before;          /* inclusive; -1 = none */
    enum fs_sort sort;
    unsigned limit;
    fs_cursor_t cursor;
    int64_t deadline_us;        /* CLOCK_MONOTONIC microseconds; 0: no deadline */
} fs_search_query_t;

/** Fills the defaults every query starts from (cabin any, 1 seat, nonstop, connections 60-720
 *  minutes, no time filters, sort by miles, limit 50). */
void fs_search_query_init(fs_search_query_t *q);
/** Whether q's source filter lets source through (no filter: every source). */
int fs_query_wants_source(const fs_search_query_t *q, const char *source);

/** One result: a nonstop leg in one cabin, or a 1-stop itinerary of two legs. Points into the
 *  generation: valid until read_end. */
typedef struct fs_result {
    const fs_segment_t *segment;  /* first leg */
    const fs_leg_t *leg;
    const fs_segment_t *segment2; /* second leg; NULL for a nonstop result */
    const fs_leg_t *leg2;
    const fs_segment_t *segment3; /* third leg (2 stops); NULL for a nonstop or 1-stop result */
    const fs_leg_t *leg3;
    uint8_t cabin;                /* the itinerary's cabin: the lowest of its legs' */
    uint8_t leg_cabin[3];         /* the cabin each leg is booked in */
    uint8_t seats;                /* the fewest seats over the legs */
    uint32_t miles;               /* summed over the legs */
    uint64_t taxes_cents;         /* summed; legs in different currencies are never combined */
    fs_currency_t currency;
    int64_t departs_utc_min;      /* first departure */
    uint32_t duration_min;        /* first departure to last arrival */
    int64_t sort_value;
} fs_result_t;

typedef struct fs_search_result {
    fs_result_t *results; /* sorted page, count entries, caller-provided storage of limit entries */
    unsigned count;
    uint64_t total;       /* every match, before the cursor and the limit */
    int has_more;         /* results remain after this page */
} fs_search_result_t;

/**
 * Runs a search over one generation. results must have room for q->limit entries. Any thread,
 * inside a read section. Returns 0, or FS_ETIMEDOUT when q->deadline_us passed before the search
 * was complete (the partial results must not be used).
 *
 * With max_stops = 1 it adds 1-stop itineraries A->X->B: X is neither A nor B; the second leg
 * departs between min_connection and max_connection minutes after the first arrives, in UTC;
 * both legs carry the cabin with at least `seats` seats. With mixed_cabin, each leg takes the
 * highest cabin at or below the requested one (first, when none is requested) that has the
 * seats, and the itinerary's cabin is the lower of the two. Legs priced in different currencies
 * are not combined. max_duration and depart_after/depart_before apply to every result.
 *
 * With max_stops = 2 it adds 2-stop itineraries A->X->Y->B: A, X, Y and B all
 * distinct, each connection within min_connection..max_connection in UTC, the three legs under
 * the same cabin, seats, currency, source and duration rules as a 1-stop itinerary's two.
 */
int fs_search(const fs_generation_t *gen, const fs_search_query_t *q, fs_result_t *results, fs_search_result_t *out);

/** Writes the result's id (stable while the leg exists) with a NUL; returns its length. For the
 *  answer only: no comparison formats ids. */
size_t fs_result_id(const fs_result_t *r, char out[FS_ID_MAX]);
/**
 * Total order of results: <0, 0, >0 (0 only for the same result). The sort value (folded into
 * sort_value by the search), then the departure in UTC, then the first leg's fields, then the
 * second leg's, then the third's (a shorter itinerary before every longer one that starts with
 * its legs). A leg's
 * fields compare in this order: source name (bytewise, as strcmp), carrier code, flight number,
 * origin code, local departure date (all as numbers: codes number in the order of their text,
 * see index/codes.c, and flight 9 comes before flight 12), cabin (economy, premium, business,
 * first). docs/api.md ("Order") states the same for clients.
 */
int fs_result_compare(enum fs_sort sort, const fs_result_t *a, const fs_result_t *b);
/** Where r stands in the order: the cursor whose next page starts just after r. */
void fs_cursor_at(const fs_result_t *r, fs_cursor_t *out);

/** Every itinerary fs_search would count for q (its sort, limit and cursor aside), each passed to
 *  fn once, in no particular order; r points into the generation (valid until read_end). The
 *  enumeration trips (below) are built on. Any thread, inside a read section. 0 or FS_ETIMEDOUT
 *  (what was passed before must then not be used). */
int fs_search_each(const fs_generation_t *gen, const fs_search_query_t *q, void (*fn)(void *arg, const fs_result_t *r),
                   void *arg);
/** Where r stands against a cursor position: <0 before it, 0 at it, >0 after it (the order of
 *  fs_result_compare). */
int fs_result_compare_cursor(const fs_result_t *r, const fs_cursor_t *cur);

/** Per-day, per-cabin availability over a date range. */
typedef struct fs_calendar_cell {
    uint32_t min_miles;
    uint32_t max_seats;
    uint32_t count;
} fs_calendar_cell_t;

#define FS_CALENDAR_MAX_DAYS 366
/** Fills cells[(day - start_day) * FS_CABIN_COUNT + cabin]; q->cabin filters, sort/limit/cursor
 *  are ignored. cells must have (end_day - start_day + 1) * FS_CABIN_COUNT entries. Returns 0 or
 *  FS_ETIMEDOUT (see fs_search). */
int fs_calendar(const fs_generation_t *gen, const fs_search_query_t *q, fs_calendar_cell_t *cells);

/** A destination served from an origin, over every source. */
typedef struct fs_route_summary {
    fs_airport_t destination;
    uint64_t legs;     /* nonstop legs (0 for a destination reached only with a stop) */
    int32_t first_day, last_day;
    int stops;         /* 0: served nonstop; 1: only through a connection point */
} fs_route_summary_t;

/** Fills up to max destinations from origin, sorted by code; returns how many (or FS_ERANGE).
 *  filter (may be NULL) applies sources, carriers, the date range and max_stops: with 1, the
 *  destinations of routes X->B leaving a nonstop destination X are added with stops = 1 and the
 *  dates of those X->B legs (schedules are not matched: explore says where, search says when).
 *  FS_ETIMEDOUT when filter->deadline_us passed first (the summaries must not be used). */
int fs_routes_from(const fs_generation_t *gen, fs_airport_t origin, const fs_search_query_t *filter,
                   fs_route_summary_t *out, unsigned max);

/* ----------------------------------------------------------------- trips
 * A trip is 2 to FS_TRIP_MAX_SLICES itineraries ("slices": a round trip's outbound and return, an
 * open jaw's, a multi-city's), each departing at least min_connection minutes (UTC) after the
 * previous one arrives. It is priced as the sum of its slices (taxes per currency) and ordered by
 * its sort value, then its slices in turn in the order of fs_result_compare. index/trips.c. */

#define FS_TRIP_MAX_SLICES 4
#define FS_TRIP_GRID_MAX_DAYS 31
/** Most itineraries one slice may have: past it a trip query is refused like one past its budget
 *  (FS_ETIMEDOUT), never answered from part of them. */
#define FS_TRIP_MAX_ITINERARIES 200000

/** A position in a trip list: the key of the last trip of a page. */
typedef struct fs_trip_cursor {
    int present;
    int64_t sort_value;
    unsigned slice_count;
    fs_cursor_t slices[FS_TRIP_MAX_SLICES]; /* each slice's position (fs_cursor_at) */
} fs_trip_cursor_t;

typedef struct fs_trip_query {
    /* Each slice's itineraries: airports, dates, cabin, seats, filters, max_stops and connection
     * rules as for fs_search; their sort, limit, cursor and deadline are ignored. */
    fs_search_query_t slices[FS_TRIP_MAX_SLICES];
    unsigned slice_count;       /* 2 .. FS_TRIP_MAX_SLICES */
    unsigned min_connection;    /* minutes from a slice's arrival to the next one's departure, UTC */
    int min_stay, max_stay;     /* days from slice 0's local departure date to slice 1's; -1: none */
    enum fs_sort sort;          /* miles: summed; duration: the slices' durations summed; departure:
                                 * the first slice's departure in UTC */
    unsigned limit;             /* 1 .. FS_SEARCH_MAX_LIMIT */
    fs_trip_cursor_t cursor;
    int64_t deadline_us;        /* CLOCK_MONOTONIC microseconds; 0: none */
} fs_trip_query_t;

/** fs_search_query_init for each slice, 2 slices, min_connection 60, no stays, by miles, limit 50. */
void fs_trip_query_init(fs_trip_query_t *q);

typedef struct fs_trip {
    fs_result_t slices[FS_TRIP_MAX_SLICES]; /* point into the generation: valid until read_end */
    unsigned slice_count;
    uint64_t miles;           /* summed */
    uint32_t duration_min;    /* the slices' durations summed */
    int64_t sort_value;
} fs_trip_t;

typedef struct fs_trip_result {
    fs_trip_t *trips;  /* the page, count entries */
    unsigned count;
    uint64_t total;    /* every trip, before the cursor and the limit */
    int has_more;
} fs_trip_result_t;

/**
 * The exact best q->limit trips after q->cursor and the count of every trip. Each slice's
 * itineraries are enumerated once (fs_search_each); the count is a sum over suffixes of each
 * slice sorted by departure; the page comes from a best-first walk over each slice sorted by its
 * best completion (never a truncated cross product). trips must have room for q->limit entries.
 * Any thread, inside a read section. 0, FS_ETIMEDOUT (past the deadline, or a slice with more
 * than FS_TRIP_MAX_ITINERARIES itineraries: nothing may be used), FS_ENOMEM or FS_EINVAL.
 */
int fs_trips(const fs_generation_t *gen, const fs_trip_query_t *q, fs_trip_t *trips, fs_trip_result_t *out);

/** Where t stands: the cursor whose next page starts just after t. */
void fs_trip_cursor_at(const fs_trip_t *t, fs_trip_cursor_t *out);

/** One cell of a trip date grid: the cheapest round trip of an (outbound date, return date) pair
 *  in one cabin (the lower of the two slices' cabins), and how many trips there are. */
typedef struct fs_trip_cell {
    uint32_t min_miles;
    uint64_t count;
} fs_trip_cell_t;

/** Fills cells[((d0 - s0.start_day) * days1 + (d1 - s1.start_day)) * FS_CABIN_COUNT + cabin], days1 =
 *  s1.end_day - s1.start_day + 1, for a 2-slice q (its sort, limit and cursor are ignored; stays,
 *  when set, leave the cells outside them empty). Each range is at most FS_TRIP_GRID_MAX_DAYS days
 *  (FS_EINVAL otherwise). 0, FS_ETIMEDOUT or FS_ENOMEM, as fs_trips. */
int fs_trip_grid(const fs_generation_t *gen, const fs_trip_query_t *q, fs_trip_cell_t *cells);

/* -------------------------------------------------- sanitizer annotations
 * ThreadSanitizer does not model Concurrency Kit's volatile accesses and fences (ck_pr, ck_ring)
 * nor libck's uninstrumented internals. Where such a primitive provides a happens-before edge
 * (an epoch grace period, a ck_ring hand-over), the code states it with these, which compile to
 * nothing outside TSan builds. */
#if defined(__SANITIZE_THREAD__)
#define FS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FS_TSAN 1
#endif
#endif
#ifdef FS_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define FS_TSAN_RELEASE(addr) __tsan_release((void *)(addr))
#define FS_TSAN_ACQUIRE(addr) __tsan_acquire((void *)(addr))
#else
#define FS_TSAN_RELEASE(addr) ((void)(addr))
#define FS_TSAN_ACQUIRE(addr) ((void)(addr))
#endif

/* ------------------------------------------------------------------ hash */

/** xxHash64 with the project's seed: keys and checksums. */
uint64_t fs_hash64(const void *data, size_t len);

/** Room for one more element in a growable array of count elements of size bytes, *cap of them
 *  allocated: items itself while count < *cap, else the array doubled (first when empty) with *cap
 *  updated. NULL when memory runs out (items and *cap are then unchanged). */
void *fs_array_grow(void *items, size_t *cap, size_t count, size_t size, size_t first);

#endif
