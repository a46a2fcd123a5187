/*
 * index/internal.h: what the index's own files share and nothing else includes. The contract for
 * everyone else is index/index.h.
 */
#ifndef FS_INDEX_INTERNAL_H
#define FS_INDEX_INTERNAL_H

#include "index/index.h"

/** Sets seg->route_slots over seg->routes (sorted, route_count of them). FS_ENOMEM. */
int fs_segment_hash_routes(fs_segment_t *seg);
/** Recomputes seg->bytes and seg->block_leg_bytes from its tables and blocks. */
void fs_segment_account(fs_segment_t *seg);
/** Interns fares for a builder-less leg conversion: see fs_leg_from_in. */
typedef struct fs_fare_interner fs_fare_interner_t;
/** Converts a validated leg to its stored form, its fares interned by fare_id(arg, fare) which
 *  returns an index or a negative FS_E*. FS_EINVAL for impossible times. */
int fs_leg_from_in(fs_leg_t *leg, const fs_leg_in_t *in, int64_t (*fare_id)(void *arg, const fs_fare_t *fare), void *arg);

#endif
