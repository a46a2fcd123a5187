/*
 * bench/gen/gen.h: private header of flightsearch-gen, the deterministic award-data generator.
 *
 * The pipeline, one file per step:
 *   main.c         flags, the run, progress and the summary
 *   airports.c     the built-in airport table and the time-zone offsets (per zone transitions)
 *   openflights.c  the optional reader of OpenFlights airports/routes/airlines (read at run time only)
 *   schedule.c     sources and carriers, route choice, flights, cabins and prices
 *   write.c        the msgpack snapshot writer and the CSV writer
 *
 * Everything is a pure function of (size, seed, start, days, airport/route data): a leg's seats and
 * prices come from a hash of (seed, flight, day, cabin, source), never from a PRNG stream, so the
 * order the writers visit legs in does not change them.
 */
#ifndef FS_GEN_H
#define FS_GEN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "index/index.h"

/* ----------------------------------------------------------------- hashing
 * splitmix64's finaliser: a good 64-bit mixer, used as a stateless hash. */

static inline uint64_t gen_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static inline uint64_t gen_hash3(uint64_t a, uint64_t b, uint64_t c)
{
    return gen_mix(gen_mix(gen_mix(a) ^ b) ^ c);
}

/** A uniform double in [0, 1) from a hash. */
static inline double gen_unit(uint64_t h)
{
    return (double)(h >> 11) * 0x1p-53;
}

/* ----------------------------------------------------------------- config */

enum gen_size { GEN_DEMO, GEN_SMALL, GEN_MEDIUM, GEN_LARGE };

typedef struct gen_config {
    enum gen_size size;
    uint64_t seed;
    const char *out_dir;
    const char *csv_path; /* NULL: no CSV */
    int32_t start_day;    /* first local departure date, days since 1970-01-01 */
    int32_t days;
    const char *openflights_dir; /* NULL: the built-in airport table and the gravity model */
    int quiet;
    /* > 0: the first source takes whole routes from the others, in draw order, until it holds at
     * least this share of the legs (the bench's deltas section wants one large source); 0: off */
    double big_source_share;
} gen_config_t;

/* --------------------------------------------------------------- airports */

typedef struct gen_airport {
    char code[4];
    const char *city;
    const char *country; /* ISO 3166 alpha-2 in the built-in table; OpenFlights' country name otherwise */
    double lat, lon;     /* degrees */
    const char *tz;      /* IANA zone name */
    double weight;       /* rough size: passengers (millions) built in, route count with OpenFlights */
    int zone;            /* index in the zone table, or -1 when the zone is unusable */
} gen_airport_t;

/** A direct route read from OpenFlights: operating airline and two airport indices. */
typedef struct gen_of_route {
    char carrier[3];
    uint32_t origin, destination;
} gen_of_route_t;

/** The airports (and, with OpenFlights, the routes) a run draws from. */
typedef struct gen_world {
    gen_airport_t *airports;
    size_t airport_count;
    gen_of_route_t *routes; /* OpenFlights only; NULL for the built-in table */
    size_t route_count;
    int openflights;
    void *owned; /* storage for strings read from files */
} gen_world_t;

/** Fills w with the built-in airport table (no routes). */
int gen_world_builtin(gen_world_t *w);
/** Reads airports.dat, airlines.dat and routes.dat from dir; err gets a message on failure. */
int gen_world_openflights(gen_world_t *w, const char *dir, char *err, size_t errlen);
void gen_world_free(gen_world_t *w);

/** Great-circle distance in km. */
double gen_distance_km(const gen_airport_t *a, const gen_airport_t *b);

/* ------------------------------------------------------------- time zones
 * Each distinct zone name is resolved once with the system tz database over the run's date range
 * (plus margins), and kept as a short list of offset transitions: a leg's offset is then a scan
 * of at most a few entries instead of a localtime_r() call. */

/**
 * Resolves every airport's zone for UTC instants in [first_day - 2, last_day + 3]; an airport whose
 * zone is missing from the tz database, or has an offset the feed format cannot carry, gets
 * zone = -1 and is left out of schedules. Restores the process's TZ afterwards.
 */
int gen_zones_prepare(gen_world_t *w, int32_t first_day, int32_t last_day);
/** The UTC offset in minutes of a zone at a UTC minute. */
int gen_zone_offset_utc(int zone, int64_t utc_min);
/** The UTC offset in minutes of a zone at a local minute (days since epoch * 1440 + minute). */
int gen_zone_offset_local(int zone, int64_t local_min);
void gen_zones_free(void);

/* --------------------------------------------------------------- schedule */

#define GEN_MAX_SOURCES 8

typedef struct gen_source {
    const char *name;
    const char *currency;
    double miles_scale;   /* the program's award chart relative to a reference chart */
    double currency_rate; /* units of the currency per USD, for taxes */
} gen_source_t;

extern const gen_source_t gen_sources[GEN_MAX_SOURCES];

/** A directional route as scheduled: one operating carrier, sold by one or two sources. */
typedef struct gen_route {
    uint32_t origin, destination; /* airport indices */
    char carrier[3];
    uint8_t sources; /* bit s: gen_sources[s] sells it */
    uint16_t km;
} gen_route_t;

/** One flight number on one route: departs on every operating weekday at the same local time. */
typedef struct gen_flight {
    uint32_t route;
    uint16_t flight;
    uint16_t dep_minute; /* local, 0..1439 */
    uint16_t block_min;
    uint8_t cabins;   /* bit c: cabin c (FS_CABIN_*) is offered */
    uint8_t weekdays; /* bit w: operates on weekday w, 0 = Monday */
    uint64_t salt;    /* per-flight hash input */
} gen_flight_t;

typedef struct gen_source_plan {
    uint32_t *flights; /* indices into plan.flights, in output order */
    size_t flight_count;
    uint64_t legs;   /* exactly how many legs the writer will emit */
    uint32_t routes; /* distinct (origin, destination) pairs */
} gen_source_plan_t;

typedef struct gen_plan {
    unsigned source_count;
    gen_route_t *routes;
    size_t route_count;
    gen_flight_t *flights;
    size_t flight_count;
    gen_source_plan_t source[GEN_MAX_SOURCES];
    uint64_t total_legs;
    uint64_t target_legs;
    int boost; /* how far frequencies had to be raised to reach the target */
} gen_plan_t;

/** How many sources a size publishes. */
unsigned gen_source_count(enum gen_size size);
/** Chooses routes and flights for the run. 0 or FS_ENOMEM. */
int gen_plan_build(const gen_config_t *cfg, const gen_world_t *w, gen_plan_t *plan);
void gen_plan_free(gen_plan_t *plan);
/** Whether a flight operates on a local date. */
static inline int gen_flight_operates(const gen_flight_t *f, int32_t day)
{
    int wd = (int)(((int64_t)day + 3) % 7); /* 1970-01-01 was a Thursday */
    if (wd < 0)
        wd += 7;
    return (f->weekdays >> wd) & 1;
}

typedef struct gen_cabin_offer {
    uint8_t cabin; /* FS_CABIN_* */
    uint8_t seats;
    uint32_t miles;
    uint32_t taxes_cents;
} gen_cabin_offer_t;

/** One leg as written. */
typedef struct gen_leg {
    const char *carrier;
    uint16_t flight;
    const char *origin, *destination;
    fs_localtime_t departs, arrives;
    int64_t dep_utc_min, arr_utc_min;
    unsigned cabin_count;
    gen_cabin_offer_t cabins[FS_CABIN_COUNT];
} gen_leg_t;

/** Computes flight f's leg on a day as sold by source s. */
void gen_leg_make(const gen_config_t *cfg, const gen_world_t *w, const gen_plan_t *plan, unsigned s, const gen_flight_t *f,
                  int32_t day, gen_leg_t *out);

/* ----------------------------------------------------------------- output */

typedef struct gen_progress {
    uint64_t done, total;
    int enabled;
    double last;
} gen_progress_t;

void gen_progress_update(gen_progress_t *p);
void gen_progress_finish(gen_progress_t *p);

/** Opens the CSV and writes its header. NULL with errno on failure. */
FILE *gen_csv_open(const char *path);
/** Writes DIR/<source>.msgpack (via a temporary name and rename) and, when csv is not NULL, its
 *  rows. Returns 0, or -1 with a message on stderr. *bytes gets the snapshot's size. */
int gen_write_source(const gen_config_t *cfg, const gen_world_t *w, const gen_plan_t *plan, unsigned s, FILE *csv,
                     gen_progress_t *progress, uint64_t *bytes);

#endif
