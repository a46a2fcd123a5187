/*
 * src/watch.h: watches (seat alerts). This header is the engine's contract; src/watch.c holds the
 * engine, src/watch_http.c its endpoints. No HTTP in the engine: the tests drive it directly.
 *
 * A watch is a search's criteria (origins, destinations, a date range of at most 366 days, cabin,
 * party size, sources, carriers, max_stops 0 or 1) plus max_miles and which kinds of change to
 * notify. A result (a search result, nonstop or 1-stop) matches a watch when it meets every
 * criterion. The engine keeps, per watch, its matching set: each matching result's id, miles,
 * taxes and currency, and the result as JSON (so a closed result can be shown as it last matched).
 *
 * Evaluation. Each published change set lists the legs it changed (key: origin and day;
 * destination). A changed leg can change a watch's matching set only on some of its days:
 *   - a leg A->B on day d, with A among the watch's origins (and B among its destinations for a
 *     nonstop watch): the itineraries of day d;
 *   - for a 1-stop watch, a leg X->B on day d with B among its destinations: itineraries starting
 *     from d - 3 to d + 2 (a first leg lasts under 30 h, the connection at most 12 h, and local
 *     dates at A and X differ by at most 26 h of UTC offsets).
 * Watches are indexed by origin and by destination airport, so a publish looks only at the watches
 * that name an airport its changes touch. For every affected watch the engine reruns the watch's
 * search over the affected days on the current generation and diffs it against the stored set:
 * the events are exactly the difference of the matching sets (the index does the matching, so a
 * watch and a search never disagree).
 *
 * Generations. Evaluation reads the current generation, which is at least the change set's (it
 * waits until the pointer swap is visible). When publishes come faster than evaluation, one event
 * may hold what several publishes changed and is stamped with the generation it was computed on;
 * the sum of the events still equals the difference of the matching sets. After FS_ELAGGED (the
 * engine fell behind and change sets were dropped) every watch is recomputed over its whole range.
 *
 * Events. One per publish and watch with at least one change of a kind the watch notifies:
 * {"id", "watch_id", "generation", "source", "sequence", "changes": [{"kind", "result",
 * "previous"?}]}. Ids increase by one per event, process-wide. The last FS_WATCH_LOG_EVENTS events
 * are retained in memory for resumption (Last-Event-ID).
 *
 * Threads. Every function may be called from any thread: one mutex guards the registry and the log.
 * Evaluation runs on the engine's own thread (fs_watches_start) or, in tests, on the caller's
 * (fs_watches_apply). Adding a watch runs its search under the mutex.
 */
#ifndef FS_WATCH_H
#define FS_WATCH_H

#include <stddef.h>
#include <stdint.h>
#include "index/index.h"
#include "src/enc.h"
#include "src/server.h"

/** Events retained for Last-Event-ID (process-wide). */
#define FS_WATCH_LOG_EVENTS 10000
/** Most watches one process holds (POST answers 409 past it). */
#define FS_WATCH_MAX 1000000
#define FS_WATCH_MAX_DAYS 366

enum { FS_WATCH_OPENED = 1, FS_WATCH_CLOSED = 2, FS_WATCH_REPRICED = 4 };

typedef struct fs_watch_criteria {
    fs_search_query_t q;  /* origins, destinations, start_day..end_day, cabin, seats, sources, carriers, max_stops */
    uint32_t max_miles;   /* 0: no limit */
    unsigned notify;      /* FS_WATCH_* bits, at least one */
    char *webhook_url;    /* malloc'd by fs_watch_parse (NULL: no webhook); fs_watch_criteria_dispose frees */
    char *webhook_secret;
} fs_watch_criteria_t;

/**
 * Parses a watch's JSON body: an object with origin and destination (arrays of IATA codes, city
 * codes expanded, or one comma-separated string), date or start_date/end_date, and optional cabin,
 * seats, max_miles, max_stops, sources, carriers, notify, webhook ({"url", "secret"}: the url's
 * shape only; fs_webhook_check_url checks where it goes). Unknown fields are refused. Returns 0 or
 * FS_EINVAL with err naming the field. Pure: any thread.
 */
int fs_watch_parse(const char *body, size_t len, fs_watch_criteria_t *out, fs_param_error_t *err);
/** The same for a body the engine stored (DATA_DIR/watches): its airports are already expanded
 *  from city codes, so up to FS_QUERY_MAX_AIRPORTS of them are taken, not 10 codes. */
int fs_watch_parse_stored(const char *body, size_t len, fs_watch_criteria_t *out, fs_param_error_t *err);
/** Frees what fs_watch_parse allocated in c (the webhook's strings). */
void fs_watch_criteria_dispose(fs_watch_criteria_t *c);
/** Writes the criteria as a body fs_watch_parse takes back (a whole map; defaults left out; the
 *  webhook with its secret: the store's form). */
void fs_watch_encode_body(fs_enc_t *e, const fs_watch_criteria_t *c);
/** Writes the normalised criteria as the members of an open map (origin, destination, dates...;
 *  not the webhook, which the engine writes with its delivery status and without its secret). */
void fs_watch_encode_criteria(fs_enc_t *e, const fs_watch_criteria_t *c);

typedef struct fs_watches fs_watches_t;
struct fs_webhooks; /* src/webhook.h */

/*
 * Owners. With API keys every watch belongs to the key's name that created it: the engine interns
 * the name once (fs_watches_owner) and the functions below take the handle, so a key sees, deletes
 * and streams its own watches only; another owner's watch is reported as absent (FS_ENOENT).
 * FS_WATCH_ANY_OWNER (no keys, and the tests) sees every watch; a watch added with it belongs to
 * the owner "" (handle 0).
 */
#define FS_WATCH_ANY_OWNER UINT32_MAX
/** The handle of an owner's name (interned on first use, never freed). FS_WATCH_ANY_OWNER when out of memory. */
uint32_t fs_watches_owner(fs_watches_t *ws, const char *name);

/** An engine over idx. NULL on ENOMEM. */
fs_watches_t *fs_watches_new(fs_index_t *idx);
/** Stops the thread (if started) and frees every watch and event. */
void fs_watches_free(fs_watches_t *ws);

/**
 * Registers a watch of owner and computes its matching set on the current generation (th: the
 * calling thread's index record; it enters and leaves a read section). *id gets its id (> 0) and
 * *matching_now the size of its set. FS_ENOSPC when the owner holds quota watches already,
 * FS_ERANGE past FS_WATCH_MAX, FS_ENOMEM, FS_EIO when it could not be stored (fs_watches_restore;
 * the watch is not added).
 */
int fs_watches_add(fs_watches_t *ws, fs_index_thread_t *th, const fs_watch_criteria_t *c, uint32_t owner, unsigned quota,
                   uint64_t *id, uint64_t *matching_now);
/** Removes owner's watch. 0, FS_ENOENT, or FS_EIO (it could not be made durable: the watch stays). */
int fs_watches_remove(fs_watches_t *ws, uint64_t id, uint32_t owner);
/** Writes owner's watch as a map ({"id", criteria, "webhook": {"url", delivery status} or null,
 *  "matching", "last_event_id", "created_at"}). 0 or FS_ENOENT. */
int fs_watches_encode(fs_watches_t *ws, uint64_t id, uint32_t owner, fs_enc_t *e);
/** Writes owner's watches as an array of such maps, by id. */
void fs_watches_encode_all(fs_watches_t *ws, uint32_t owner, fs_enc_t *e);
/** How many watches exist. */
unsigned fs_watches_count(fs_watches_t *ws);

/**
 * Evaluates one change set: the affected watches' sets are recomputed over the affected days on
 * the current generation (>= cs->generation) and events are appended to the log. th: the calling
 * thread's index record. 0 or FS_ENOMEM (the watches affected then resynchronise on the next call).
 */
int fs_watches_apply(fs_watches_t *ws, fs_index_thread_t *th, const fs_change_set_t *cs);
/** Recomputes every watch over its whole range (after FS_ELAGGED); events as for apply, with
 *  source "" and sequence 0. */
int fs_watches_resync(fs_watches_t *ws, fs_index_thread_t *th);

/**
 * Makes the watches durable in DATA_DIR/watches and restores the ones stored there, computing their
 * sets on the current generation (call once the data dir's sources are published, before any watch
 * is added). From then on every add and remove rewrites the file (temp, fsync, rename) before it
 * answers. Returns how many were restored, or FS_E* with err (a damaged file: nothing restored,
 * nothing persisted, the file left as it is).
 */
int fs_watches_restore(fs_watches_t *ws, fs_index_thread_t *th, const char *data_dir, char *err, size_t errcap);

/**
 * Hands the engine a webhook deliverer (src/webhook.h; set before fs_watches_restore, which opens
 * its outbox in the data dir): watches with a webhook get their events staged there, each publish's
 * committed (durable) before the next is evaluated.
 */
void fs_watches_set_webhooks(fs_watches_t *ws, struct fs_webhooks *wh);

/** Subscribes to idx's change sets and evaluates them on a thread of the engine's own. 0 or FS_ENOMEM. */
int fs_watches_start(fs_watches_t *ws);
/** Called on the engine's thread after events were appended, with the last event id (the server
 *  wakes the workers holding streams). Set before fs_watches_start. */
void fs_watches_on_events(fs_watches_t *ws, void (*cb)(void *arg, uint64_t last_id), void *arg);

/** The id of the last event appended (0: none yet). */
uint64_t fs_watches_last_event_id(fs_watches_t *ws);
/**
 * Calls fn for each retained event after after_id, in id order, for watch_id (0: every watch of owner),
 * stopping after max bytes of JSON have been passed (at least one event is passed). Returns the id
 * of the last event looked at (so the caller resumes after it), or after_id when none. *gap is set
 * when after_id is older than the oldest retained event (events were lost to the reader).
 */
uint64_t fs_watches_events_after(fs_watches_t *ws, uint64_t after_id, uint64_t watch_id, uint32_t owner, size_t max,
                                 void (*fn)(void *arg, uint64_t id, const char *json, size_t len), void *arg, int *gap);
/** Whether owner's watch exists. */
int fs_watches_exists(fs_watches_t *ws, uint64_t id, uint32_t owner);

#endif
