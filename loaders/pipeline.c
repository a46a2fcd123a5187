/*
 * loaders/pipeline.c: loader threads, their queues, and what they do with a push.
 *
 * Queues. Each loader has a ck_ring of job pointers: event loops (and the spool) enqueue with
 * ck_ring_enqueue_mpsc and never block; the loader is the ring's single consumer. Before a job
 * enters a ring it is counted against its source's share (source_jobs jobs, half the byte budget)
 * and the process-wide byte budget (queued_bytes): a source over its share gets 503 alone, and the
 * ring is sized to hold every source's share, so one partner's flood never refuses another's. An eventfd wakes the loader: producers write it after enqueueing, and
 * the loader only sleeps in poll() after finding the ring empty, so no wake-up is lost.
 *
 * Ownership of a source. hash(source) picks the loader, so one thread applies every push of a
 * source, in arrival order, and pushes of different sources proceed in parallel. It also makes
 * the loader the only thread that replaces or retires that source's segment, which is why it may
 * keep using the source's current segment outside a read section while it builds the next one:
 * nothing else can unpublish it.
 *
 * A push: hash the body (an identical retry of the last accepted push is answered as a
 * duplicate without decoding) -> decode and validate -> check the sequence -> build -> persist
 * (crash-safe, store.c) -> publish -> answer. The answer is 200 only once the data is both durable
 * and visible to searches. Compaction (a new base image after compact_deltas deltas) is queued
 * after the answer and written by the compaction thread, so no push waits behind it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <ck_ring.h>
#include "loaders/internal.h"

typedef struct source_status {
    char source[FS_SOURCE_NAME_MAX + 1];
    uint64_t bytes_on_disk;
    uint64_t accepted, refused;
    int64_t refused_at;
    int refused_status;
    char refused_reason[400];
} source_status_t;

/* Sorted by source; the records are immutable once published and shared by successive tables. */
typedef struct status_table {
    unsigned count;
    source_status_t *entries[]; /* immutable once the table is published */
} status_table_t;

typedef struct loader {
    fs_feeds_t *feeds;
    unsigned id;
    pthread_t thread;
    struct ck_ring ring;
    ck_ring_buffer_t *buffer;
    int wake_fd;
    fs_index_thread_t *index_thread; /* from fs_index_thread_get: outlives this struct */
} loader_t;

struct fs_feeds {
    fs_index_t *index;
    fs_store_t *store;
    fs_feeds_config_t cfg;
    loader_t *loaders;
    int stopping; /* atomic */
    pthread_t spool;
    int spool_started;
    /* What is queued, so that one source cannot fill a loader's ring for every source sharing it,
     * and copies of bodies cannot add up without bound: counted at submit, released when the
     * loader frees the body. Held for a lookup in a small array per push, never per search. */
    pthread_mutex_t queue_lock;
    struct queued_source {
        char source[FS_SOURCE_NAME_MAX + 1];
        unsigned jobs;
        uint64_t bytes;
    } *queued; /* sources with jobs queued or in progress; unordered */
    unsigned queued_count, queued_cap;
    uint64_t queued_bytes; /* every job's body, in bytes */
    /* What GET /v1/feeds lists besides the generation: an immutable table, replaced whole. The
     * status endpoint runs on an event loop and must never wait: it loads status_current inside
     * an index read section and reads it without a lock. Loaders (and the spool) replace it under
     * status_write_lock, which no event loop takes, and free the old table and record only after
     * fs_index_synchronize, when no reader can still hold them. */
    pthread_mutex_t status_write_lock;
    status_table_t *status_current; /* atomic pointer; never NULL */
    unsigned status_cap; /* room for every source the index may list, and as many refused ones */
    void (*status_pause)(void); /* tests: called while a replacement is being made */
    void (*compaction_pause)(void); /* tests: called before each image is written */
    /* Compaction (a new base image after compact_deltas deltas, once they weigh an eighth of the
     * base or number 16 x compact_deltas) runs on its own thread, so a push
     * never waits behind one. A loader queues the source's current segment, held alive, and marks
     * the source as compacting; the compaction thread writes the image, prunes what it supersedes
     * and clears the mark. A retirement waits for its source's compaction to end (or the image
     * would bring the source back). All under compact_lock; no event loop touches it. */
    pthread_mutex_t compact_lock;
    pthread_cond_t compact_cond;
    struct compaction *compact_queue; /* FIFO: pushed at the tail */
    struct compaction *compacting;    /* queued or being written, at most one per source */
    int compact_stop;
    pthread_t compact_thread;
};

typedef struct compaction {
    const fs_segment_t *seg; /* held (fs_index_segment_hold) until written */
    unsigned deltas;
    /* a newer state of the source found due while this one was queued or being written (held
     * too; the newest replaces an older one): written next, so deltas that came meanwhile are
     * not left for a next push that may never come */
    const fs_segment_t *again;
    unsigned again_deltas;
    struct compaction *next_queued, *next_compacting;
} compaction_t;

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ status */

/* Where source is, or would be inserted, in t; *found says which. */
static unsigned status_position(const status_table_t *t, const char *source, int *found)
{
    unsigned lo = 0, hi = t->count;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        int c = strcmp(t->entries[mid]->source, source);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

static const source_status_t *status_find(const status_table_t *t, const char *source)
{
    int found;
    unsigned at = status_position(t, source, &found);
    return found ? t->entries[at] : NULL;
}

typedef struct status_change {
    enum { STATUS_ACCEPTED, STATUS_REFUSED, STATUS_REMOVED } kind;
    uint64_t bytes_on_disk;
    int refused_status;
    const char *reason;
} status_change_t;

/*
 * Publishes a table in which source's record reflects change (or is gone). O(sources) pointer
 * copies and one wait for readers per push, on the loader, never on a loop. When memory runs out
 * the change is not recorded: the status is a report, and the push itself is unaffected.
 */
static void status_apply(fs_feeds_t *f, const char *source, const status_change_t *change)
{
    pthread_mutex_lock(&f->status_write_lock);
    status_table_t *old = f->status_current; /* only writers store it, under this lock */
    int found;
    unsigned at = status_position(old, source, &found);
    int removing = change->kind == STATUS_REMOVED;
    if ((!found && removing) || (!found && old->count >= f->status_cap)) {
        pthread_mutex_unlock(&f->status_write_lock);
        return;
    }
    source_status_t *rec = NULL;
    if (!removing) {
        rec = malloc(sizeof(*rec));
        if (rec == NULL) {
            pthread_mutex_unlock(&f->status_write_lock);
            return;
        }
        if (found) {
            *rec = *old->entries[at];
        } else {
            memset(rec, 0, sizeof(*rec));
            snprintf(rec->source, sizeof(rec->source), "%s", source);
        }
        if (change->kind == STATUS_ACCEPTED) {
            rec->accepted++;
            rec->bytes_on_disk = change->bytes_on_disk;
        } else {
            rec->refused++;
            rec->refused_at = now_s();
            rec->refused_status = change->refused_status;
            snprintf(rec->refused_reason, sizeof(rec->refused_reason), "%s", change->reason);
        }
    }
    unsigned count = old->count + (found ? 0 : 1) - (removing ? 1 : 0);
    status_table_t *t = malloc(sizeof(*t) + (size_t)count * sizeof(void *)); /* entries: record pointers */
    if (t == NULL) {
        free(rec);
        pthread_mutex_unlock(&f->status_write_lock);
        return;
    }
    unsigned n = 0;
    for (unsigned i = 0; i < at; i++)
        t->entries[n++] = old->entries[i];
    if (rec != NULL)
        t->entries[n++] = rec;
    for (unsigned i = at + (found ? 1 : 0); i < old->count; i++)
        t->entries[n++] = old->entries[i];
    t->count = n;
    source_status_t *replaced = found ? old->entries[at] : NULL;
    if (f->status_pause != NULL)
        f->status_pause();
    __atomic_store_n(&f->status_current, t, __ATOMIC_RELEASE);
    fs_index_synchronize(f->index);
    free(replaced);
    free(old);
    pthread_mutex_unlock(&f->status_write_lock);
}

static void note_accepted(fs_feeds_t *f, const char *source)
{
    status_change_t c = {.kind = STATUS_ACCEPTED, .bytes_on_disk = fs_store_source_bytes(f->store, source)};
    status_apply(f, source, &c);
}

static void note_refused(fs_feeds_t *f, const char *source, int status, const char *reason)
{
    status_change_t c = {.kind = STATUS_REFUSED, .refused_status = status, .reason = reason};
    status_apply(f, source, &c);
}

/* ------------------------------------------------------------ answers */

static void answer(fs_feed_job_t *job, int status, char *doc)
{
    job->status = status;
    job->response = doc;
    job->response_len = doc != NULL ? strlen(doc) : 0;
}

static void answer_error(fs_feeds_t *f, fs_feed_job_t *job, int status, const char *code, const char *message, const char *extra)
{
    char esc[1024];
    fs_json_escape(message, strlen(message), esc, sizeof(esc));
    size_t cap = strlen(esc) + (extra ? strlen(extra) : 0) + 256;
    char *doc = malloc(cap);
    if (doc != NULL)
        snprintf(doc, cap, "{\"error\": {\"code\": \"%s\", \"message\": \"%s\"%s%s}}", code, esc, extra ? ", " : "",
                 extra ? extra : "");
    answer(job, status, doc);
    if (job->op != FS_FEED_OP_DELETE)
        note_refused(f, job->source, status, message);
}

static void answer_feed_errors(fs_feeds_t *f, fs_feed_job_t *job, const fs_feed_errors_t *errs)
{
    size_t need = fs_feed_errors_json(errs, NULL, 0) + 1;
    char *doc = malloc(need);
    if (doc != NULL)
        fs_feed_errors_json(errs, doc, need);
    int status = errs->malformed ? 400 : 422;
    answer(job, status, doc);
    char reason[400], first[360];
    if (errs->count > 0) {
        fs_feed_errors_first(errs, first, sizeof(first));
        snprintf(reason, sizeof(reason), "%s: %s (%llu problem%s)", errs->malformed ? "malformed" : "invalid", first,
                 (unsigned long long)errs->total, errs->total == 1 ? "" : "s");
    } else {
        snprintf(reason, sizeof(reason), "refused");
    }
    note_refused(f, job->source, status, reason);
}

static void answer_ok(fs_feed_job_t *job, const char *source, uint64_t sequence, uint64_t generation, uint64_t legs,
                      uint64_t upserted, uint64_t removed, int64_t took_ms, int duplicate, const fs_change_set_t *cs,
                      int64_t changes_us)
{
    static const fs_change_set_t none;
    if (cs == NULL)
        cs = &none; /* a duplicate: nothing changed */
    char *doc = malloc(768);
    if (doc != NULL)
        snprintf(doc, 768,
                 "{\"source\": \"%s\", \"sequence\": %llu, \"generation\": %llu, \"legs\": %llu, \"upserted\": %llu, "
                 "\"removed\": %llu, \"changes\": {\"opened\": %llu, \"closed\": %llu, \"seats\": %llu, \"repriced\": %llu, "
                 "\"added\": %llu, \"removed\": %llu}, \"changes_took_us\": %lld, \"took_ms\": %lld%s}",
                 source, (unsigned long long)sequence, (unsigned long long)generation, (unsigned long long)legs,
                 (unsigned long long)upserted, (unsigned long long)removed, (unsigned long long)cs->counts.opened,
                 (unsigned long long)cs->counts.closed, (unsigned long long)cs->counts.seats,
                 (unsigned long long)cs->counts.repriced, (unsigned long long)cs->counts.added,
                 (unsigned long long)cs->counts.removed, (long long)changes_us, (long long)took_ms,
                 duplicate ? ", \"duplicate\": true" : "");
    answer(job, 200, doc);
}

/* ------------------------------------------------------------ applying */

/* The source's current segment. Safe to use after read_end on the loader that owns the source
 * (see the file comment). */
/* A segment that could not be built: out of memory (500), or the one capacity limit a build has,
 * distinct fares per source (422, saying which and what to do). */
static void answer_build_failed(fs_feeds_t *f, fs_feed_job_t *job, int rc)
{
    if (rc != FS_ERANGE) {
        answer_error(f, job, 500, "cannot_build", fs_strerror(rc), NULL);
        return;
    }
    char msg[300];
    snprintf(msg, sizeof(msg),
             "source %s would hold more than %u distinct fares (miles, taxes_cents, currency); fares no leg uses are "
             "dropped at every publish, so split the partner's inventory into more sources",
             job->source, (unsigned)FS_MAX_FARES_PER_SEGMENT);
    answer_error(f, job, 422, "too_many_fares", msg, NULL);
}

static const fs_segment_t *current_segment(loader_t *l, const char *source, uint64_t *generation)
{
    const fs_generation_t *gen = fs_index_read_begin(l->feeds->index, l->index_thread);
    const fs_segment_t *seg = fs_generation_source(gen, source);
    *generation = gen->number;
    fs_index_read_end(l->feeds->index, l->index_thread);
    return seg;
}

static void stale(fs_feeds_t *f, fs_feed_job_t *job, uint64_t got, uint64_t current)
{
    char msg[256], extra[64];
    snprintf(msg, sizeof(msg), "sequence %llu is not greater than the current sequence %llu of source %s; send a newer one",
             (unsigned long long)got, (unsigned long long)current, job->source);
    snprintf(extra, sizeof(extra), "\"current_sequence\": %llu", (unsigned long long)current);
    answer_error(f, job, 409, "stale_sequence", msg, extra);
}

/* Reserves the publish of job's source before anything is written (fs_index_publish_prepare), so
 * that once the push is durable its publish cannot fail. Answers and returns -1 when it cannot. */
static int prepare_publish(fs_feeds_t *f, fs_feed_job_t *job, fs_publish_t *pub)
{
    int r = fs_index_publish_prepare(f->index, job->source, pub);
    if (r == 0)
        return 0;
    char msg[400];
    if (r == FS_ERANGE) {
        unsigned max = fs_index_max_sources(f->index);
        snprintf(msg, sizeof(msg),
                 "source %s would be a new source, and the server already holds its limit of %u sources; start it with a "
                 "larger --max-sources, or retire a source with DELETE /v1/feeds/{source}; nothing was written",
                 job->source, max);
        char extra[48];
        snprintf(extra, sizeof(extra), "\"max_sources\": %u", max);
        answer_error(f, job, 409, "too_many_sources", msg, extra);
    } else {
        snprintf(msg, sizeof(msg), "%s; nothing was applied and the previous data is still served; retry", fs_strerror(r));
        answer_error(f, job, 500, "cannot_publish", msg, NULL);
    }
    return -1;
}

static compaction_t *compacting_locked(const fs_feeds_t *f, const char *source)
{
    for (compaction_t *c = f->compacting; c != NULL; c = c->next_compacting)
        if (strcmp(c->seg->source, source) == 0)
            return c;
    return NULL;
}

/* Whether source's deltas on disk call for a new base; *deltas receives their count. A compaction
 * rewrites the whole source (110 MB for 2.8M legs): worth it once the deltas weigh an eighth of
 * the base, or are many (start-up replays them all). Small deltas on a large source would
 * otherwise pay a full rewrite every compact_deltas pushes. Costs a directory listing. */
static int compaction_due(fs_feeds_t *f, const char *source, unsigned *deltas)
{
    uint64_t delta_bytes;
    *deltas = fs_store_delta_count(f->store, source, &delta_bytes);
    uint64_t on_disk = fs_store_source_bytes(f->store, source);
    uint64_t base_bytes = on_disk > delta_bytes ? on_disk - delta_bytes : 0;
    return *deltas >= f->cfg.compact_deltas && (delta_bytes * 8 >= base_bytes || *deltas >= 16 * f->cfg.compact_deltas);
}

/* On the loader, after the answer: queue a compaction of source if enough deltas accumulated and
 * none is under way. Costs a directory listing and, when due, one allocation. */
static void compact_if_due(loader_t *l, const char *source)
{
    fs_feeds_t *f = l->feeds;
    unsigned deltas;
    if (!compaction_due(f, source, &deltas))
        return;
    uint64_t generation;
    const fs_segment_t *seg = current_segment(l, source, &generation);
    if (seg == NULL)
        return;
    /* in memory there is nothing to do here: deltas drain old blocks as they go (index/delta.c),
     * and one whose base carries more replaced legs than live ones rebuilds the source */
    compaction_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return; /* the next delta tries again */
    pthread_mutex_lock(&f->compact_lock);
    fs_index_segment_hold(f->index, seg);
    compaction_t *busy = compacting_locked(f, source);
    if (busy != NULL) {
        const fs_segment_t *older = busy->again;
        busy->again = seg;
        busy->again_deltas = deltas;
        pthread_mutex_unlock(&f->compact_lock);
        if (older != NULL)
            fs_index_segment_release(f->index, older);
        free(c);
        return;
    }
    c->seg = seg;
    c->deltas = deltas;
    compaction_t **tail = &f->compact_queue;
    while (*tail != NULL)
        tail = &(*tail)->next_queued;
    *tail = c;
    c->next_compacting = f->compacting;
    f->compacting = c;
    pthread_cond_broadcast(&f->compact_cond);
    pthread_mutex_unlock(&f->compact_lock);
}

static void *compact_main(void *arg)
{
    fs_feeds_t *f = arg;
    pthread_mutex_lock(&f->compact_lock);
    for (;;) {
        while (f->compact_queue == NULL && !f->compact_stop)
            pthread_cond_wait(&f->compact_cond, &f->compact_lock);
        compaction_t *c = f->compact_queue;
        if (c == NULL)
            break; /* stopping, nothing left */
        f->compact_queue = c->next_queued;
        pthread_mutex_unlock(&f->compact_lock);
        {
            if (f->compaction_pause != NULL)
                f->compaction_pause();
            int64_t t0 = now_ms();
            if (fs_store_write_base(f->store, c->seg) < 0) {
                fs_log("compaction of %s failed; its deltas are kept and replayed at start-up", c->seg->source);
            } else {
                fs_store_prune(f->store, c->seg->source, c->seg->sequence);
                fs_log("compacted %s: %u deltas into a base at sequence %llu in %lld ms", c->seg->source, c->deltas,
                       (unsigned long long)c->seg->sequence, (long long)(now_ms() - t0));
                note_accepted(f, c->seg->source); /* refresh bytes on disk */
            }
        }
        const fs_segment_t *written = c->seg; /* released last: the compacting list names it */
        /* Deltas came while this one was written: compact again if they are due on their own
         * (against the base just written), else leave them to the next push's check. The check
         * lists the directory, so it runs outside the lock; a newer state found due meanwhile is
         * looked at in turn. */
        for (;;) {
            pthread_mutex_lock(&f->compact_lock);
            const fs_segment_t *again = c->again;
            c->again = NULL;
            if (again == NULL) {
                for (compaction_t **p = &f->compacting; *p != NULL; p = &(*p)->next_compacting)
                    if (*p == c) {
                        *p = c->next_compacting;
                        break;
                    }
                pthread_cond_broadcast(&f->compact_cond); /* a retirement may be waiting for it */
                pthread_mutex_unlock(&f->compact_lock);
                free(c);
                break;
            }
            pthread_mutex_unlock(&f->compact_lock);
            unsigned deltas_now;
            if (compaction_due(f, again->source, &deltas_now)) {
                pthread_mutex_lock(&f->compact_lock);
                c->seg = again; /* still in the compacting list: a retirement keeps waiting */
                c->deltas = deltas_now;
                c->next_queued = NULL;
                compaction_t **tail = &f->compact_queue;
                while (*tail != NULL)
                    tail = &(*tail)->next_queued;
                *tail = c;
                pthread_mutex_unlock(&f->compact_lock);
                break;
            }
            fs_index_segment_release(f->index, again);
        }
        fs_index_segment_release(f->index, written);
        pthread_mutex_lock(&f->compact_lock);
    }
    pthread_mutex_unlock(&f->compact_lock);
    return NULL;
}

static void apply_snapshot(loader_t *l, fs_feed_job_t *job, int64_t t0)
{
    fs_feeds_t *f = l->feeds;
    uint64_t generation;
    const fs_segment_t *cur = current_segment(l, job->source, &generation);
    uint64_t body_hash = fs_hash64(job->body, job->len);
    if (cur != NULL && cur->body_hash == body_hash) {
        answer_ok(job, cur->source, cur->sequence, cur->generation, cur->leg_count, 0, 0, now_ms() - t0, 1, NULL, 0);
        return;
    }
    fs_feed_errors_t errs;
    fs_feed_header_t header;
    int rc;
    fs_segment_t *seg = fs_apply_snapshot(job->source, job->body, job->len, job->format, &errs, &header, &rc);
    if (seg == NULL) {
        if (rc == FS_EINVAL)
            answer_feed_errors(f, job, &errs);
        else
            answer_build_failed(f, job, rc);
        return;
    }
    if (cur != NULL && seg->sequence <= cur->sequence) {
        stale(f, job, seg->sequence, cur->sequence);
        fs_segment_free(seg);
        return;
    }
    if (job->updated_at != 0)
        seg->updated_at = job->updated_at;
    uint64_t previous_legs = cur != NULL ? cur->leg_count : 0, legs = seg->leg_count, sequence = seg->sequence;
    /* what changed, before anything is written: out of memory here refuses the push whole */
    fs_change_set_t *cs = fs_change_set_new(job->source, fs_index_has_subscribers(f->index));
    if (cs == NULL || fs_segment_diff(cur, seg, cs) != 0) {
        fs_change_set_release(cs);
        fs_segment_free(seg);
        answer_build_failed(f, job, FS_ENOMEM);
        return;
    }
    cs->sequence = sequence;
    cs->snapshot = 1;
    int64_t changes_us = (int64_t)cs->took_us;
    fs_publish_t pub;
    if (prepare_publish(f, job, &pub) != 0) {
        fs_change_set_release(cs);
        fs_segment_free(seg);
        return;
    }
    if (fs_store_write_base(f->store, seg) < 0) {
        answer_error(f, job, 500, "storage_failed",
                     "the snapshot could not be written durably; nothing was applied and the previous data is still served; retry",
                     NULL);
        fs_index_publish_abort(f->index, &pub);
        fs_change_set_release(cs);
        fs_segment_free(seg);
        return;
    }
    /* durable: from here the push cannot fail, or a restart would serve what the client saw refused */
    __atomic_add_fetch(&cs->refs, 1, __ATOMIC_RELAXED); /* kept for the answer; the commit takes the other */
    int64_t g = fs_index_publish_commit_changes(f->index, l->index_thread, &pub, seg, cs); /* consumes seg */
    fs_store_prune(f->store, job->source, sequence);
    answer_ok(job, job->source, sequence, (uint64_t)g, legs, legs, previous_legs, now_ms() - t0, 0, cs, changes_us);
    fs_change_set_release(cs);
    note_accepted(f, job->source);
}

static void apply_delta(loader_t *l, fs_feed_job_t *job, int64_t t0)
{
    fs_feeds_t *f = l->feeds;
    uint64_t generation;
    const fs_segment_t *cur = current_segment(l, job->source, &generation);
    uint64_t body_hash = fs_hash64(job->body, job->len);
    if (cur != NULL && cur->body_hash == body_hash) {
        answer_ok(job, cur->source, cur->sequence, cur->generation, cur->leg_count, 0, 0, now_ms() - t0, 1, NULL, 0);
        return;
    }
    if (cur == NULL) {
        /* never pushed, retired or quarantined: a delta alone would serve a partial state */
        char msg[200];
        snprintf(msg, sizeof(msg), "source %s has no current snapshot for this delta to apply to; push a snapshot of %s first",
                 job->source, job->source);
        answer_error(f, job, 409, "no_base", msg, NULL);
        return;
    }
    fs_feed_errors_t errs;
    fs_delta_result_t res;
    fs_change_set_t *cs = fs_change_set_new(job->source, fs_index_has_subscribers(f->index));
    if (cs == NULL) {
        answer_build_failed(f, job, FS_ENOMEM);
        return;
    }
    int64_t t_apply = now_ms();
    fs_segment_t *seg = fs_apply_delta_changes(cur, job->source, job->body, job->len, job->format, cs, &errs, &res);
    t_apply = now_ms() - t_apply;
    int64_t changes_us = (int64_t)cs->took_us;
    if (seg == NULL) {
        fs_change_set_release(cs);
        if (res.rc == FS_EINVAL)
            answer_feed_errors(f, job, &errs);
        else
            answer_build_failed(f, job, res.rc);
        return;
    }
    if (seg->sequence <= cur->sequence) {
        stale(f, job, seg->sequence, cur->sequence);
        fs_change_set_release(cs);
        fs_segment_free(seg);
        return;
    }
    if (job->updated_at != 0)
        seg->updated_at = job->updated_at;
    uint64_t legs = seg->leg_count, sequence = seg->sequence;
    cs->sequence = sequence;
    fs_publish_t pub;
    if (prepare_publish(f, job, &pub) != 0) {
        fs_change_set_release(cs);
        fs_segment_free(seg);
        return;
    }
    int64_t t_write = now_ms();
    if (fs_store_write_delta(f->store, job->source, sequence, job->format, job->body, job->len, seg->updated_at) < 0) {
        answer_error(f, job, 500, "storage_failed",
                     "the delta could not be written durably; nothing was applied and the previous data is still served; retry",
                     NULL);
        fs_index_publish_abort(f->index, &pub);
        fs_change_set_release(cs);
        fs_segment_free(seg);
        return;
    }
    /* durable: from here the push cannot fail (see apply_snapshot) */
    __atomic_add_fetch(&cs->refs, 1, __ATOMIC_RELAXED);
    t_write = now_ms() - t_write;
    int64_t t_publish = now_ms();
    unsigned blocks = seg->block_count;
    int64_t g = fs_index_publish_commit_changes(f->index, l->index_thread, &pub, seg, cs);
    t_publish = now_ms() - t_publish;
    int64_t took = now_ms() - t0;
    if (took >= 250) /* where a slow push's time went, for the operator */
        fs_log("slow delta for %s (sequence %llu, %llu legs): %lld ms: applying %lld, writing %lld, publishing %lld; %u blocks",
               job->source, (unsigned long long)sequence, (unsigned long long)res.upserted + (unsigned long long)res.removed, (long long)took,
               (long long)t_apply, (long long)t_write, (long long)t_publish, blocks);
    answer_ok(job, job->source, sequence, (uint64_t)g, legs, res.upserted, res.removed, took, 0, cs, changes_us);
    fs_change_set_release(cs);
    note_accepted(f, job->source);
}

static void apply_delete(loader_t *l, fs_feed_job_t *job)
{
    fs_feeds_t *f = l->feeds;
    pthread_mutex_lock(&f->compact_lock); /* its image must not bring the source back */
    while (compacting_locked(f, job->source))
        pthread_cond_wait(&f->compact_cond, &f->compact_lock);
    pthread_mutex_unlock(&f->compact_lock);
    uint64_t generation;
    const fs_segment_t *cur = current_segment(l, job->source, &generation);
    uint64_t retired_at = cur != NULL ? cur->sequence : 0; /* read before retiring frees it */
    /* what the retirement changes, for subscribers: every leg removed, every open cabin closed */
    fs_change_set_t *cs = NULL;
    if (cur != NULL && fs_index_has_subscribers(f->index)) {
        cs = fs_change_set_new(job->source, 1);
        if (cs == NULL || fs_segment_diff(cur, NULL, cs) != 0) {
            fs_change_set_release(cs);
            answer_error(f, job, 503, "out_of_memory", "no memory to list what the retirement changes; nothing was retired; retry",
                         NULL);
            return;
        }
        cs->sequence = retired_at;
        cs->snapshot = 1;
    }
    int64_t g = fs_index_retire_source_changes(f->index, l->index_thread, job->source, cs);
    if (g == FS_ENOENT) {
        char msg[128];
        snprintf(msg, sizeof(msg), "no source named %s", job->source);
        answer_error(f, job, 404, "unknown_source", msg, NULL);
        return; /* nothing to retire: in particular, an earlier retirement's tombstone stays as it is */
    }
    if (g < 0) {
        answer_error(f, job, 500, "cannot_publish", fs_strerror((int)g), NULL);
        return;
    }
    int r = fs_store_remove_source(f->store, job->source, retired_at);
    status_change_t removed = {.kind = STATUS_REMOVED};
    status_apply(f, job->source, &removed);
    char *doc = malloc(256);
    if (doc != NULL)
        snprintf(doc, 256, "{\"source\": \"%s\", \"retired\": true, \"generation\": %lld%s}", job->source, (long long)g,
                 r != 0 ? ", \"warning\": \"some files could not be removed\"" : "");
    answer(job, 200, doc);
}

static void release(fs_feeds_t *f, const char *source, uint64_t bytes);

static const char *const op_names[] = {"snapshot", "delta", "delete"};

static void process(loader_t *l, fs_feed_job_t *job)
{
    int64_t t0 = now_ms();
    fs_log_set_thread_trace(job->trace_id); /* every line written for this job carries its trace id */
    switch (job->op) {
    case FS_FEED_OP_SNAPSHOT:
        apply_snapshot(l, job, t0);
        break;
    case FS_FEED_OP_DELTA:
        apply_delta(l, job, t0);
        break;
    case FS_FEED_OP_DELETE:
        apply_delete(l, job);
        break;
    }
    int accepted_delta = job->op == FS_FEED_OP_DELTA && job->status == 200;
    char source[FS_SOURCE_NAME_MAX + 1];
    snprintf(source, sizeof(source), "%s", job->source);
    /* one line per job: what the loader did with it, followed from the request by its trace id */
    fs_log("loader %u: %s %s of %s (%zu bytes): %d in %lld ms", l->id, job->origin != NULL ? job->origin : "job",
           op_names[job->op], job->source, job->len, job->status, (long long)(now_ms() - t0));
    /* the body is not needed any more: free it before answering (a 1 GB snapshot) */
    release(l->feeds, job->source, job->len);
    free(job->body);
    job->body = NULL;
    job->len = 0;
    job->done(job); /* the job belongs to the caller from here */
    if (accepted_delta)
        compact_if_due(l, source);
    fs_log_set_thread_trace(NULL);
}

static void *loader_main(void *arg)
{
    loader_t *l = arg;
    fs_feeds_t *f = l->feeds;
    l->index_thread = fs_index_thread_get(f->index);
    /* Test hook: hold every job this long, so tests can see a push wait on its loader. */
    const char *delay_env = getenv("FS_TEST_LOADER_DELAY_MS");
    long delay_ms = delay_env != NULL ? strtol(delay_env, NULL, 10) : 0;
    for (;;) {
        void *p;
        if (ck_ring_dequeue_mpsc(&l->ring, l->buffer, &p)) {
            FS_TSAN_ACQUIRE(p); /* pairs with the release in fs_feeds_submit */
            if (delay_ms > 0) {
                struct timespec ts = {.tv_sec = delay_ms / 1000, .tv_nsec = (delay_ms % 1000) * 1000000L};
                nanosleep(&ts, NULL);
            }
            process(l, p);
            continue;
        }
        if (__atomic_load_n(&f->stopping, __ATOMIC_ACQUIRE))
            break;
        struct pollfd pfd = {.fd = l->wake_fd, .events = POLLIN};
        if (poll(&pfd, 1, 200) > 0) {
            uint64_t v;
            if (read(l->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                fs_log("loader %u: wake-up read failed: %s", l->id, strerror(errno));
        }
    }
    fs_index_thread_put(f->index, l->index_thread);
    return NULL;
}

void fs_feeds_queued(fs_feeds_t *f, uint64_t *jobs, uint64_t *bytes)
{
    uint64_t n = 0;
    pthread_mutex_lock(&f->queue_lock);
    for (unsigned i = 0; i < f->queued_count; i++)
        n += f->queued[i].jobs;
    *bytes = f->queued_bytes;
    pthread_mutex_unlock(&f->queue_lock);
    *jobs = n;
}

void fs_feeds_limits(const fs_feeds_t *f, unsigned *source_jobs, uint64_t *queued_bytes)
{
    *source_jobs = f->cfg.source_jobs;
    *queued_bytes = f->cfg.queued_bytes;
}

/* Counts a job of bytes for source: 0, FS_EBUSY (the source's share) or FS_ENOSPC (the total). */
static int admit(fs_feeds_t *f, const char *source, uint64_t bytes)
{
    int r = 0;
    pthread_mutex_lock(&f->queue_lock);
    unsigned i = 0;
    while (i < f->queued_count && strcmp(f->queued[i].source, source) != 0)
        i++;
    struct queued_source *q = i < f->queued_count ? &f->queued[i] : NULL;
    if (q != NULL && (q->jobs >= f->cfg.source_jobs || q->bytes + bytes > f->cfg.queued_bytes / 2))
        r = FS_EBUSY;
    else if (f->queued_bytes + bytes > f->cfg.queued_bytes)
        r = FS_ENOSPC;
    else if (q == NULL && f->queued_count == f->queued_cap) {
        unsigned cap = f->queued_cap ? f->queued_cap * 2 : 16;
        struct queued_source *n = realloc(f->queued, cap * sizeof(*n));
        if (n == NULL)
            r = FS_ENOSPC;
        else {
            f->queued = n;
            f->queued_cap = cap;
        }
    }
    if (r == 0) {
        if (q == NULL) {
            q = &f->queued[f->queued_count++];
            snprintf(q->source, sizeof(q->source), "%s", source);
            q->jobs = 0;
            q->bytes = 0;
        }
        q->jobs++;
        q->bytes += bytes;
        f->queued_bytes += bytes;
    }
    pthread_mutex_unlock(&f->queue_lock);
    return r;
}

static void release(fs_feeds_t *f, const char *source, uint64_t bytes)
{
    pthread_mutex_lock(&f->queue_lock);
    for (unsigned i = 0; i < f->queued_count; i++) {
        struct queued_source *q = &f->queued[i];
        if (strcmp(q->source, source) != 0)
            continue;
        q->jobs--;
        q->bytes -= bytes;
        if (q->jobs == 0)
            f->queued[i] = f->queued[--f->queued_count];
        break;
    }
    f->queued_bytes -= bytes;
    pthread_mutex_unlock(&f->queue_lock);
}

int fs_feeds_submit(fs_feeds_t *f, fs_feed_job_t *job)
{
    if (__atomic_load_n(&f->stopping, __ATOMIC_ACQUIRE))
        return FS_ERANGE;
    int r = admit(f, job->source, job->len);
    if (r != 0)
        return r;
    loader_t *l = &f->loaders[fs_hash64(job->source, strlen(job->source)) % f->cfg.loaders];
    /* the ring's store-release publishes the job to the loader; TSan is told so explicitly */
    FS_TSAN_RELEASE(job);
    if (!ck_ring_enqueue_mpsc(&l->ring, l->buffer, job)) {
        release(f, job->source, job->len);
        return FS_ERANGE;
    }
    uint64_t one = 1;
    if (write(l->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        fs_log("cannot wake loader %u: %s", l->id, strerror(errno));
    return 0;
}

void fs_feed_job_free(fs_feed_job_t *job)
{
    if (job == NULL)
        return;
    free(job->body);
    free(job->response);
    free(job);
}

/* ------------------------------------------------------------- spool */

typedef struct spool_wait {
    sem_t done;
} spool_wait_t;

static void spool_done(fs_feed_job_t *job)
{
    sem_post(&((spool_wait_t *)job->ctx)->done);
}

/* Moves inbox/name to inbox/done/ or inbox/failed/ (+ name.error holding the error document). */
static void spool_finish(const char *inbox, const char *name, int ok, const char *doc)
{
    char from[4200], to[4300];
    snprintf(from, sizeof(from), "%s/%s", inbox, name);
    snprintf(to, sizeof(to), "%s/%s/%s", inbox, ok ? "done" : "failed", name);
    if (rename(from, to) != 0) {
        fs_log("spool: cannot move %s: %s; removing it so it is not ingested twice", from, strerror(errno));
        unlink(from);
    }
    if (!ok && doc != NULL) {
        /* written aside and renamed: whoever watches failed/ never reads a half-written reason */
        char errpath[4400], tmppath[4420];
        snprintf(errpath, sizeof(errpath), "%s/failed/%s.error", inbox, name);
        snprintf(tmppath, sizeof(tmppath), "%s/failed/.%s.error.part", inbox, name);
        FILE *fp = fopen(tmppath, "w");
        if (fp != NULL) {
            int bad = fprintf(fp, "%s\n", doc) < 0;
            bad |= fclose(fp) != 0;
            if (bad || rename(tmppath, errpath) != 0) {
                fs_log("spool: cannot write %s: %s", errpath, strerror(errno));
                unlink(tmppath);
            }
        }
    }
}

/* Reads a whole regular file. NULL when unreadable. */
/* Reads a regular file the spool found. Opened without following a link and without blocking (a
 * FIFO swapped in after the scan would otherwise hang the spool thread in open), then checked
 * with fstat on what was opened. NULL with errno set (ELOOP for a link, EINVAL for anything but a
 * regular file). */
static uint8_t *read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return NULL;
    struct stat sb;
    uint8_t *buf = NULL;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        errno = EINVAL;
        return NULL;
    }
    {
        buf = malloc(sb.st_size ? (size_t)sb.st_size : 1);
        size_t got = 0;
        while (buf != NULL && got < (size_t)sb.st_size) {
            ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);
            if (n <= 0) {
                free(buf);
                buf = NULL;
                break;
            }
            got += (size_t)n;
        }
        *len = got;
    }
    close(fd);
    return buf;
}

/* Ingests one inbox file. Returns 1 when it stays in inbox/ after a failure that may pass (the
 * store's 500, a full queue), so that the scan backs off; 0 otherwise. */
static int spool_one(fs_feeds_t *f, const char *inbox, const char *name)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", inbox, name);
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return 0;
    if (!S_ISREG(sb.st_mode)) {
        /* a link could point anywhere the server can read, a FIFO or device blocks: refused */
        char doc[300];
        snprintf(doc, sizeof(doc), "{\"error\": {\"code\": \"not_a_regular_file\", \"message\": \"the spool takes regular files only, "
                                   "not %s: move the file itself into inbox/\"}}", S_ISLNK(sb.st_mode) ? "symbolic links" : "FIFOs, sockets or devices");
        fs_log("spool: %s refused: not a regular file", name);
        spool_finish(inbox, name, 0, doc);
        return 0;
    }
    /* a file still being written (scp, cp) changes: wait until it has been still for a second */
    if (sb.st_mtime >= now_s() - 1)
        return 0;
    size_t len = 0;
    uint8_t *body = read_file(path, &len);
    if (body == NULL) {
        fs_log("spool: cannot read %s: %s; it stays in inbox/", path, strerror(errno));
        return 0;
    }
    fs_feed_job_t *job = calloc(1, sizeof(*job));
    job->format = fs_has_suffix(name, ".json") ? FS_FEED_JSON : FS_FEED_MSGPACK;
    job->op = strstr(name, ".delta.") != NULL ? FS_FEED_OP_DELTA : FS_FEED_OP_SNAPSHOT;
    job->body = body;
    job->len = len;
    job->origin = "spool";
    if (fs_feed_peek_source(body, len, job->format, job->source) != 0) {
        const char *doc = "{\"error\": {\"code\": \"malformed_feed\", \"message\": \"the file has no valid \\\"source\\\" field "
                          "([a-z0-9_-]{1,32}) at its top level\"}}";
        fs_log("spool: %s refused: no valid source field", name);
        spool_finish(inbox, name, 0, doc);
        fs_feed_job_free(job);
        return 0;
    }
    spool_wait_t w;
    sem_init(&w.done, 0, 0);
    job->done = spool_done;
    job->ctx = &w;
    if (fs_feeds_submit(f, job) != 0) {
        fs_feed_job_free(job); /* queue full or stopping: the file stays for the next scan */
        sem_destroy(&w.done);
        return 1;
    }
    while (sem_wait(&w.done) != 0 && errno == EINTR)
        ;
    sem_destroy(&w.done);
    if (job->status >= 500) { /* the store failed (disk full, I/O): nothing was applied; try again */
        fs_log("spool: %s not ingested (%d): %s; it stays in inbox/ and is retried", name, job->status,
               job->response != NULL ? job->response : "");
        fs_feed_job_free(job);
        return 1;
    }
    int ok = job->status == 200;
    fs_log("spool: %s %s (%d)", name, ok ? "ingested" : "refused", job->status);
    spool_finish(inbox, name, ok, job->response);
    fs_feed_job_free(job);
    return 0;
}

static void *spool_main(void *arg)
{
    fs_feeds_t *f = arg;
    char inbox[4096];
    snprintf(inbox, sizeof(inbox), "%s/inbox", fs_store_data_dir(f->store));
    unsigned backoff_ms = 0; /* after a failure that may pass: doubles up to 30 s, reset by a clean scan */
    while (!__atomic_load_n(&f->stopping, __ATOMIC_ACQUIRE)) {
        size_t count;
        char **names = fs_list_feed_files(inbox, &count);
        int retry = 0;
        for (size_t i = 0; i < count; i++) {
            if (!retry && !__atomic_load_n(&f->stopping, __ATOMIC_ACQUIRE))
                retry = spool_one(f, inbox, names[i]); /* the rest wait for the next scan, in order */
            free(names[i]);
        }
        free(names);
        backoff_ms = retry ? (backoff_ms ? backoff_ms * 2 : f->cfg.spool_interval_ms) : 0;
        if (backoff_ms > 30000)
            backoff_ms = 30000;
        unsigned sleep_ms = f->cfg.spool_interval_ms + backoff_ms;
        for (unsigned slept = 0; slept < sleep_ms && !__atomic_load_n(&f->stopping, __ATOMIC_ACQUIRE); slept += 50)
            usleep(50 * 1000u); /* in steps, so that a stop is not held up by a long back-off */
    }
    return NULL;
}

/* ---------------------------------------------------------- lifecycle */

fs_feeds_t *fs_feeds_start(fs_index_t *idx, fs_store_t *st, const fs_feeds_config_t *cfg)
{
    fs_feeds_t *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return NULL;
    f->index = idx;
    f->store = st;
    f->cfg = *cfg;
    if (f->cfg.loaders == 0)
        f->cfg.loaders = 2;
    if (f->cfg.source_jobs == 0)
        f->cfg.source_jobs = 8;
    if (f->cfg.queued_bytes == 0)
        f->cfg.queued_bytes = 2ull << 30;
    /* a ring holds depth - 1 jobs: room for every source's share, so that a ring never fills while
     * its sources are within their bounds (up to 2^20 entries, 8 MB per loader) */
    uint64_t want = (uint64_t)fs_index_max_sources(idx) * f->cfg.source_jobs + 1;
    if (want < (f->cfg.queue_depth ? f->cfg.queue_depth : 64))
        want = f->cfg.queue_depth ? f->cfg.queue_depth : 64;
    if (want > (1u << 20))
        want = 1u << 20;
    unsigned depth = 2;
    while (depth < want)
        depth *= 2;
    f->cfg.queue_depth = depth;
    if (f->cfg.compact_deltas == 0)
        f->cfg.compact_deltas = 64;
    pthread_mutex_init(&f->status_write_lock, NULL);
    pthread_mutex_init(&f->queue_lock, NULL);
    pthread_mutex_init(&f->compact_lock, NULL);
    pthread_cond_init(&f->compact_cond, NULL);
    f->status_cap = 2 * fs_index_max_sources(idx);
    /* status of what was recovered: bytes on disk per source, in the generation's (sorted) order;
     * built whole before any loader can replace it */
    fs_index_thread_t *th = fs_index_thread_get(idx);
    const fs_generation_t *gen = fs_index_read_begin(idx, th);
    unsigned n = gen->segment_count;
    status_table_t *t = malloc(sizeof(*t) + (size_t)n * sizeof(void *)); /* entries: record pointers */
    if (t == NULL) {
        fs_index_read_end(idx, th);
        fs_index_thread_put(idx, th);
        pthread_mutex_destroy(&f->status_write_lock);
        pthread_mutex_destroy(&f->queue_lock);
        free(f);
        return NULL;
    }
    t->count = 0;
    for (unsigned i = 0; i < n; i++) {
        source_status_t *rec = calloc(1, sizeof(*rec));
        if (rec == NULL)
            break; /* the rest show no status until their next push */
        snprintf(rec->source, sizeof(rec->source), "%s", gen->segments[i]->source);
        t->entries[t->count++] = rec;
    }
    fs_index_read_end(idx, th);
    fs_index_thread_put(idx, th);
    for (unsigned i = 0; i < t->count; i++)
        t->entries[i]->bytes_on_disk = fs_store_source_bytes(st, t->entries[i]->source);
    f->status_current = t;
    f->loaders = calloc(f->cfg.loaders, sizeof(*f->loaders));
    for (unsigned i = 0; i < f->cfg.loaders; i++) {
        loader_t *l = &f->loaders[i];
        l->feeds = f;
        l->id = i;
        l->buffer = calloc(depth, sizeof(*l->buffer));
        ck_ring_init(&l->ring, depth);
        l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        pthread_create(&l->thread, NULL, loader_main, l);
    }
    pthread_create(&f->compact_thread, NULL, compact_main, f);
    if (f->cfg.spool_interval_ms > 0) {
        pthread_create(&f->spool, NULL, spool_main, f);
        f->spool_started = 1;
    }
    return f;
}

void fs_feeds_stop(fs_feeds_t *f)
{
    if (f == NULL)
        return;
    __atomic_store_n(&f->stopping, 1, __ATOMIC_RELEASE);
    if (f->spool_started)
        pthread_join(f->spool, NULL);
    for (unsigned i = 0; i < f->cfg.loaders; i++) {
        uint64_t one = 1;
        if (write(f->loaders[i].wake_fd, &one, sizeof(one)) < 0)
            fs_log("cannot wake loader %u to stop it", i);
        pthread_join(f->loaders[i].thread, NULL);
        close(f->loaders[i].wake_fd);
        free(f->loaders[i].buffer);
    }
    /* after the loaders: none can queue a compaction any more; the queued ones are written
     * before the thread ends (a stop waits for them, as it did when they ran on the loaders) */
    pthread_mutex_lock(&f->compact_lock);
    f->compact_stop = 1;
    pthread_cond_broadcast(&f->compact_cond);
    pthread_mutex_unlock(&f->compact_lock);
    pthread_join(f->compact_thread, NULL);
    free(f->loaders);
    for (unsigned i = 0; i < f->status_current->count; i++)
        free(f->status_current->entries[i]);
    free(f->status_current);
    free(f->queued);
    pthread_mutex_destroy(&f->status_write_lock);
    pthread_mutex_destroy(&f->queue_lock);
    pthread_mutex_destroy(&f->compact_lock);
    pthread_cond_destroy(&f->compact_cond);
    free(f);
}

/* ------------------------------------------------------------- status */

static int append(char **buf, size_t *len, size_t *cap, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return -1;
        if (*len + (size_t)n < *cap) {
            *len += (size_t)n;
            return 0;
        }
        char *nb = realloc(*buf, *cap * 2 + (size_t)n);
        if (nb == NULL)
            return -1;
        *buf = nb;
        *cap = *cap * 2 + (size_t)n;
    }
}

static void source_json(char **buf, size_t *len, size_t *cap, const char *source, const fs_segment_t *seg,
                        const source_status_t *s, int64_t now)
{
    char ts[24], refused_ts[24], reason[900];
    append(buf, len, cap, "{\"source\": \"%s\"", source);
    if (seg != NULL) {
        ts[fs_timestamp_format(seg->updated_at, ts)] = '\0';
        append(buf, len, cap,
               ", \"sequence\": %llu, \"generation\": %llu, \"legs\": %u, \"updated_at\": \"%s\", \"age_seconds\": %lld",
               (unsigned long long)seg->sequence, (unsigned long long)seg->generation, seg->leg_count, ts,
               (long long)(now - seg->updated_at));
    } else {
        append(buf, len, cap, ", \"sequence\": null, \"generation\": null, \"legs\": 0, \"updated_at\": null, \"age_seconds\": null");
    }
    append(buf, len, cap, ", \"bytes_on_disk\": %llu, \"accepted\": %llu, \"refused\": %llu",
           (unsigned long long)(s ? s->bytes_on_disk : 0), (unsigned long long)(s ? s->accepted : 0),
           (unsigned long long)(s ? s->refused : 0));
    if (s != NULL && s->refused_at > 0) {
        refused_ts[fs_timestamp_format(s->refused_at, refused_ts)] = '\0';
        fs_json_escape(s->refused_reason, strlen(s->refused_reason), reason, sizeof(reason));
        append(buf, len, cap, ", \"last_refused\": {\"at\": \"%s\", \"status\": %d, \"reason\": \"%s\"}", refused_ts,
               s->refused_status, reason);
    } else {
        append(buf, len, cap, ", \"last_refused\": null");
    }
    append(buf, len, cap, "}");
}

char *fs_feeds_status_json(fs_feeds_t *f, fs_index_thread_t *th, const char *source, size_t *out_len)
{
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    if (buf == NULL)
        return NULL;
    buf[0] = '\0';
    int64_t now = now_s();
    const fs_generation_t *gen = fs_index_read_begin(f->index, th);
    const status_table_t *t = __atomic_load_n(&f->status_current, __ATOMIC_ACQUIRE);
    if (source != NULL) {
        const fs_segment_t *seg = fs_generation_source(gen, source);
        const source_status_t *s = status_find(t, source);
        if (seg == NULL && s == NULL) {
            free(buf);
            buf = NULL;
        } else {
            source_json(&buf, &len, &cap, source, seg, s, now);
        }
    } else {
        /* both lists are sorted by source: one merge, every source once, in name order */
        append(&buf, &len, &cap, "{\"generation\": %llu, \"sources\": [", (unsigned long long)gen->number);
        unsigned i = 0, j = 0, listed = 0;
        while (i < gen->segment_count || j < t->count) {
            const fs_segment_t *seg = i < gen->segment_count ? gen->segments[i] : NULL;
            const source_status_t *s = j < t->count ? t->entries[j] : NULL;
            int c = seg == NULL ? 1 : s == NULL ? -1 : strcmp(seg->source, s->source);
            append(&buf, &len, &cap, "%s", listed++ ? ", " : "");
            source_json(&buf, &len, &cap, c <= 0 ? seg->source : s->source, c <= 0 ? seg : NULL, c >= 0 ? s : NULL,
                        now);
            i += c <= 0;
            j += c >= 0;
        }
        append(&buf, &len, &cap, "]}");
    }
    fs_index_read_end(f->index, th);
    if (buf != NULL)
        *out_len = len;
    return buf;
}

void fs_feeds_inject_status_pause(fs_feeds_t *f, void (*pause)(void))
{
    f->status_pause = pause;
}

void fs_feeds_inject_compaction_pause(fs_feeds_t *f, void (*pause)(void))
{
    f->compaction_pause = pause;
}
