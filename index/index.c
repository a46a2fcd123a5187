/*
 * index/index.c: generations, publishing and reclamation.
 *
 * How a publish stays invisible to readers
 *   A generation is an immutable array of segment pointers. A writer builds the next generation
 *   privately (copying the pointer array, swapping in its new segment), then publishes it with one
 *   release store of idx->current. A reader loads idx->current inside a ck_epoch section and uses
 *   it until it leaves the section; it never writes shared memory except its own epoch record.
 *
 * Why the old generation can be freed
 *   After the store, no new reader can obtain the old pointer. ck_epoch_synchronize() returns only
 *   once every reader that was inside a section at the time of the store has left it, so after it
 *   no thread holds the old generation. The writer then drops one reference from each segment the
 *   old generation listed and frees the generation struct and any segment left unreferenced.
 *   Segments are shared by consecutive generations (a publish replaces one source), so reference
 *   counts live in the segments; only writers touch them, under publish_lock.
 *
 * Writers wait (ck_epoch_synchronize spins until readers leave); readers never do. Writers are
 * loader threads, never event-loop threads, so the wait never blocks a search.
 *
 * The pointer itself is published with a C11 release store and read with an acquire load. On
 * x86-64 these are the same plain mov that ck_pr_store_ptr/ck_pr_load_ptr emit, but ck_pr
 * implements them as volatile accesses, which ThreadSanitizer treats as plain memory and reports
 * as races; the C11 forms let TSan check the publication instead of ignoring it.
 *
 * ThreadSanitizer cannot see libck's uninstrumented epoch internals either, so in TSan builds each
 * reader releases, and each writer after synchronize acquires, a sync address: the happens-before
 * edge the epoch protocol provides, stated to the tool.
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <ck_pr.h>
#include <ck_ring.h>
#include "index/index.h"

/* A change-set subscriber (index.h): a ring filled under publish_lock by the one committing
 * writer, drained by the one consumer. dropped (atomic) > 0 means the ring overflowed: the writer
 * then drops every set until the consumer, finding its ring empty, takes the count. */
struct fs_subscription {
    ck_ring_t ring;
    ck_ring_buffer_t *buffer;
    uint64_t dropped;
    int fd;
    struct fs_subscription *next; /* under publish_lock */
};


struct fs_index {
    /* read by every reader on every search: alone on its cache line */
    fs_generation_t *current CK_CC_CACHELINE;
    ck_epoch_t epoch CK_CC_CACHELINE;
    pthread_mutex_t publish_lock; /* writers only */
    uint64_t last_number;         /* under publish_lock */
    unsigned max_sources;         /* set before the first publish */
    unsigned reserved;            /* new sources prepared and not yet committed; under publish_lock */
    int tsan_sync;
    fs_index_thread_t **owned;    /* records fs_index_thread_get allocated; under publish_lock */
    size_t owned_count, owned_cap;
    fs_subscription_t *subscribers; /* under publish_lock */
    int subscriber_count;           /* atomic: read by writers deciding whether to list changes */
};

fs_index_t *fs_index_new(void)
{
    fs_index_t *idx;
    if (posix_memalign((void **)&idx, 64, sizeof(*idx)) != 0)
        return NULL;
    memset(idx, 0, sizeof(*idx));
    fs_generation_t *gen = calloc(1, sizeof(*gen)); /* generation 0 lists no segment */
    if (gen == NULL) {
        free(idx);
        return NULL;
    }
    ck_epoch_init(&idx->epoch);
    pthread_mutex_init(&idx->publish_lock, NULL);
    idx->max_sources = FS_MAX_SOURCES_DEFAULT;
    idx->current = gen; /* generation 0: empty */
    return idx;
}

/* ------------------------------------------------------ fault injection */

static unsigned alloc_fault_countdown; /* tests only */

void fs_index_inject_fault(unsigned countdown)
{
    __atomic_store_n(&alloc_fault_countdown, countdown, __ATOMIC_SEQ_CST);
}

/* Nonzero when this generation allocation must fail as if out of memory. */
static int alloc_fault(void)
{
    unsigned c = __atomic_load_n(&alloc_fault_countdown, __ATOMIC_SEQ_CST);
    return c != 0 && __atomic_sub_fetch(&alloc_fault_countdown, 1, __ATOMIC_SEQ_CST) == 0;
}

void fs_index_set_max_sources(fs_index_t *idx, unsigned max_sources)
{
    idx->max_sources = max_sources;
}

unsigned fs_index_max_sources(const fs_index_t *idx)
{
    return idx->max_sources;
}

/* A generation with room for the most sources the index may ever list: however many new sources
 * other writers commit between a prepare and its commit, their reservations kept the total within
 * max_sources, so the commit always fits. Costs 8 bytes per allowed source per publish. */
static fs_generation_t *generation_alloc(const fs_index_t *idx)
{
    if (alloc_fault())
        return NULL;
    return malloc(sizeof(fs_generation_t) + (size_t)idx->max_sources * sizeof(fs_segment_t *));
}

void fs_index_free(fs_index_t *idx)
{
    if (idx == NULL)
        return;
    fs_generation_t *gen = idx->current;
    for (unsigned i = 0; i < gen->segment_count; i++)
        fs_segment_free(gen->segments[i]);
    free(gen);
    for (size_t i = 0; i < idx->owned_count; i++)
        free(idx->owned[i]);
    free(idx->owned);
    pthread_mutex_destroy(&idx->publish_lock);
    free(idx);
}

void fs_index_thread_register(fs_index_t *idx, fs_index_thread_t *th)
{
    memset(th, 0, sizeof(*th));
    ck_epoch_register(&idx->epoch, &th->record, NULL);
}

fs_index_thread_t *fs_index_thread_get(fs_index_t *idx)
{
    ck_epoch_record_t *r = ck_epoch_recycle(&idx->epoch, NULL);
    if (r != NULL) /* every record of this epoch is the first member of an fs_index_thread_t */
        return (fs_index_thread_t *)r;
    fs_index_thread_t *th = malloc(sizeof(*th));
    pthread_mutex_lock(&idx->publish_lock);
    if (th != NULL && idx->owned_count == idx->owned_cap) {
        size_t cap = idx->owned_cap ? idx->owned_cap * 2 : 16;
        fs_index_thread_t **n = realloc(idx->owned, cap * sizeof(*n)); /* NOLINT(bugprone-sizeof-expression): pointers */
        if (n != NULL) {
            idx->owned = n;
            idx->owned_cap = cap;
        }
    }
    if (th == NULL || idx->owned_count == idx->owned_cap)
        abort(); /* a few dozen bytes at start-up: nothing sensible to do without them */
    idx->owned[idx->owned_count++] = th;
    pthread_mutex_unlock(&idx->publish_lock);
    fs_index_thread_register(idx, th);
    return th;
}

void fs_index_thread_put(fs_index_t *idx, fs_index_thread_t *th)
{
    (void)idx;
    ck_epoch_unregister(&th->record); /* stays in the list, marked free for the next get */
}

const fs_generation_t *fs_index_read_begin(fs_index_t *idx, fs_index_thread_t *th)
{
    ck_epoch_begin(&th->record, NULL);
    return __atomic_load_n(&idx->current, __ATOMIC_ACQUIRE);
}

void fs_index_read_end(fs_index_t *idx, fs_index_thread_t *th)
{
    FS_TSAN_RELEASE(&idx->tsan_sync);
    ck_epoch_end(&th->record, NULL);
}

uint64_t fs_index_leg_count(fs_index_t *idx, fs_index_thread_t *th)
{
    uint64_t n = fs_index_read_begin(idx, th)->leg_count;
    fs_index_read_end(idx, th);
    return n;
}

uint64_t fs_index_generation_number(fs_index_t *idx, fs_index_thread_t *th)
{
    /* inside a section: a publisher frees the generation it replaced once no section holds it, so
     * a pointer loaded outside one can be freed between the load and the read of its number */
    uint64_t n = fs_index_read_begin(idx, th)->number;
    fs_index_read_end(idx, th);
    return n;
}

const fs_segment_t *fs_generation_source(const fs_generation_t *gen, const char *source)
{
    unsigned lo = 0, hi = gen->segment_count;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        int c = strcmp(gen->segments[mid]->source, source);
        if (c == 0)
            return gen->segments[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/*
 * Fills gen (allocated by generation_alloc) as the successor of the current generation with seg in
 * place of its source (or without remove_source when seg is NULL), swaps it in and returns the
 * old one. Called under publish_lock. Cannot fail when seg is set and the caller reserved a slot
 * for a new source; FS_ENOENT when remove_source is not listed (gen is then the caller's).
 */
static int64_t swap_locked(fs_index_t *idx, fs_generation_t *gen, fs_segment_t *seg, const char *remove_source,
                           fs_generation_t **old_out)
{
    fs_generation_t *old = idx->current;
    const char *name = seg != NULL ? seg->source : remove_source;
    unsigned n = 0, found = 0;
    for (unsigned i = 0; i < old->segment_count; i++) {
        fs_segment_t *s = old->segments[i];
        int c = strcmp(s->source, name); /* NOLINT(clang-analyzer-core.NonNullParamChecker): seg or remove_source is set */
        if (c > 0 && seg != NULL && !found) {
            gen->segments[n++] = seg;
            found = 1;
        }
        if (c == 0) {
            found = 1;
            if (seg != NULL)
                gen->segments[n++] = seg;
            continue;
        }
        gen->segments[n++] = s;
    }
    if (!found) {
        if (seg == NULL)
            return FS_ENOENT;
        gen->segments[n++] = seg;
    }
    gen->segment_count = n;
    gen->leg_count = 0;
    for (unsigned i = 0; i < n; i++) {
        gen->segments[i]->refs++;
        gen->leg_count += gen->segments[i]->leg_count;
    }
    gen->number = ++idx->last_number;
    if (seg != NULL)
        seg->generation = gen->number; /* still private: published by the store below */
    /* release: the generation's contents are visible before the pointer that publishes it */
    __atomic_store_n(&idx->current, gen, __ATOMIC_RELEASE);
    *old_out = old;
    return (int64_t)gen->number;
}

/* Called by ck_epoch while a reader is still inside a section: give the core away instead of
 * spinning. With more busy threads than cores, the reader we wait for may be preempted; spinning
 * until the scheduler notices cost a quantum per publish (2000 publishes: 75 s; yielding: ~1 s). */
static void epoch_wait_yield(ck_epoch_t *epoch, ck_epoch_record_t *record, void *arg)
{
    (void)epoch;
    (void)record;
    (void)arg;
    sched_yield();
}

void fs_index_synchronize(fs_index_t *idx)
{
    ck_epoch_synchronize_wait(&idx->epoch, epoch_wait_yield, NULL);
    FS_TSAN_ACQUIRE(&idx->tsan_sync);
}

/* Waits for readers of old, then drops its references (freeing what nothing lists any more). */
static void reclaim(fs_index_t *idx, fs_index_thread_t *th, fs_generation_t *old)
{
    (void)th;
    fs_index_synchronize(idx);
    /* segments are freed under the lock: no list to allocate (reclaiming cannot fail), and only
     * writers wait for it */
    pthread_mutex_lock(&idx->publish_lock);
    for (unsigned i = 0; i < old->segment_count; i++)
        if (--old->segments[i]->refs == 0)
            fs_segment_free(old->segments[i]);
    pthread_mutex_unlock(&idx->publish_lock);
    free(old);
}

/* Under publish_lock: whether source is new, and if so whether one more fits. */
static int reserve_locked(fs_index_t *idx, const char *source, int *adds)
{
    *adds = fs_generation_source(idx->current, source) == NULL;
    if (!*adds)
        return 0;
    if (idx->current->segment_count + idx->reserved >= idx->max_sources)
        return FS_ERANGE;
    idx->reserved++;
    return 0;
}

int fs_index_publish_prepare(fs_index_t *idx, const char *source, fs_publish_t *p)
{
    memset(p, 0, sizeof(*p));
    fs_generation_t *gen = generation_alloc(idx);
    if (gen == NULL)
        return FS_ENOMEM;
    pthread_mutex_lock(&idx->publish_lock);
    int r = reserve_locked(idx, source, &p->adds);
    pthread_mutex_unlock(&idx->publish_lock);
    if (r < 0) {
        free(gen);
        return r;
    }
    p->next = gen;
    return 0;
}

void fs_index_publish_abort(fs_index_t *idx, fs_publish_t *p)
{
    if (p->next == NULL)
        return;
    pthread_mutex_lock(&idx->publish_lock);
    idx->reserved -= (unsigned)p->adds;
    pthread_mutex_unlock(&idx->publish_lock);
    free(p->next);
    p->next = NULL;
}

/* Under publish_lock: hands cs to every subscriber, in commit (generation) order. */
static void deliver_locked(fs_index_t *idx, fs_change_set_t *cs)
{
    for (fs_subscription_t *sub = idx->subscribers; sub != NULL; sub = sub->next) {
        if (__atomic_load_n(&sub->dropped, __ATOMIC_ACQUIRE) > 0) {
            __atomic_add_fetch(&sub->dropped, 1, __ATOMIC_ACQ_REL); /* behind: drop until it has been told */
            continue;
        }
        __atomic_add_fetch(&cs->refs, 1, __ATOMIC_RELAXED);
        FS_TSAN_RELEASE(cs); /* ck_ring's fences are invisible to TSan: state the hand-off */
        if (!ck_ring_enqueue_spsc(&sub->ring, sub->buffer, cs)) {
            __atomic_sub_fetch(&cs->refs, 1, __ATOMIC_RELAXED);
            __atomic_add_fetch(&sub->dropped, 1, __ATOMIC_ACQ_REL);
            continue;
        }
        uint64_t one = 1;
        ssize_t w = write(sub->fd, &one, sizeof(one)); /* a wake-up; a full counter already wakes */
        (void)w;
    }
}

int64_t fs_index_publish_commit_changes(fs_index_t *idx, fs_index_thread_t *th, fs_publish_t *p, fs_segment_t *seg,
                                        fs_change_set_t *changes)
{
    fs_generation_t *old = NULL;
    pthread_mutex_lock(&idx->publish_lock);
    idx->reserved -= (unsigned)p->adds;
    int64_t r = swap_locked(idx, p->next, seg, NULL, &old); /* with a segment: cannot fail */
    if (changes != NULL) {
        changes->generation = (uint64_t)r;
        deliver_locked(idx, changes);
    }
    pthread_mutex_unlock(&idx->publish_lock);
    fs_change_set_release(changes);
    p->next = NULL;
    reclaim(idx, th, old);
    return r;
}

int64_t fs_index_publish_commit(fs_index_t *idx, fs_index_thread_t *th, fs_publish_t *p, fs_segment_t *seg)
{
    return fs_index_publish_commit_changes(idx, th, p, seg, NULL);
}

void fs_index_number_from(fs_index_t *idx, uint64_t number)
{
    pthread_mutex_lock(&idx->publish_lock);
    if (number > 0 && number - 1 > idx->last_number)
        idx->last_number = number - 1;
    pthread_mutex_unlock(&idx->publish_lock);
}

int64_t fs_index_renumber(fs_index_t *idx, fs_index_thread_t *th, uint64_t number)
{
    fs_generation_t *gen = generation_alloc(idx);
    if (gen == NULL)
        return FS_ENOMEM;
    pthread_mutex_lock(&idx->publish_lock);
    fs_generation_t *old = idx->current;
    if (old->number >= number) {
        pthread_mutex_unlock(&idx->publish_lock);
        free(gen);
        return (int64_t)old->number;
    }
    gen->segment_count = old->segment_count;
    gen->leg_count = old->leg_count;
    for (unsigned i = 0; i < old->segment_count; i++) {
        gen->segments[i] = old->segments[i];
        gen->segments[i]->refs++;
    }
    gen->number = number;
    if (idx->last_number < number)
        idx->last_number = number;
    __atomic_store_n(&idx->current, gen, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&idx->publish_lock);
    reclaim(idx, th, old);
    return (int64_t)number;
}

void fs_index_segment_hold(fs_index_t *idx, const fs_segment_t *seg)
{
    pthread_mutex_lock(&idx->publish_lock);
    ((fs_segment_t *)seg)->refs++; /* refs is writer-side state, not part of the immutable contents */
    pthread_mutex_unlock(&idx->publish_lock);
}

void fs_index_segment_release(fs_index_t *idx, const fs_segment_t *seg)
{
    pthread_mutex_lock(&idx->publish_lock);
    int last = --((fs_segment_t *)seg)->refs == 0;
    pthread_mutex_unlock(&idx->publish_lock);
    if (last)
        fs_segment_free((fs_segment_t *)seg);
}

fs_subscription_t *fs_index_subscribe(fs_index_t *idx, unsigned capacity)
{
    unsigned size = 4;
    while (size < capacity + 1 && size < (1u << 20))
        size *= 2;
    fs_subscription_t *sub = calloc(1, sizeof(*sub));
    if (sub == NULL)
        return NULL;
    sub->buffer = calloc(size, sizeof(*sub->buffer));
    sub->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (sub->buffer == NULL || sub->fd < 0) {
        if (sub->fd >= 0)
            close(sub->fd);
        free(sub->buffer);
        free(sub);
        return NULL;
    }
    ck_ring_init(&sub->ring, size);
    pthread_mutex_lock(&idx->publish_lock);
    sub->next = idx->subscribers;
    idx->subscribers = sub;
    __atomic_add_fetch(&idx->subscriber_count, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&idx->publish_lock);
    return sub;
}

void fs_index_unsubscribe(fs_index_t *idx, fs_subscription_t *sub)
{
    if (sub == NULL)
        return;
    pthread_mutex_lock(&idx->publish_lock);
    for (fs_subscription_t **p = &idx->subscribers; *p != NULL; p = &(*p)->next)
        if (*p == sub) {
            *p = sub->next;
            break;
        }
    __atomic_sub_fetch(&idx->subscriber_count, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&idx->publish_lock);
    fs_change_set_t *cs;
    while (ck_ring_dequeue_spsc(&sub->ring, sub->buffer, &cs))
        fs_change_set_release(cs);
    close(sub->fd);
    free(sub->buffer);
    free(sub);
}

int fs_subscription_next(fs_subscription_t *sub, fs_change_set_t **out, uint64_t *dropped)
{
    fs_change_set_t *cs;
    if (ck_ring_dequeue_spsc(&sub->ring, sub->buffer, &cs)) {
        FS_TSAN_ACQUIRE(cs);
        *out = cs;
        return 1;
    }
    uint64_t n = __atomic_exchange_n(&sub->dropped, 0, __ATOMIC_ACQ_REL);
    if (n > 0) {
        *dropped = n;
        return FS_ELAGGED;
    }
    uint64_t count;
    ssize_t r = read(sub->fd, &count, sizeof(count)); /* drain the wake-ups; the ring is the truth */
    (void)r;
    if (ck_ring_dequeue_spsc(&sub->ring, sub->buffer, &cs)) { /* queued between the two looks */
        FS_TSAN_ACQUIRE(cs);
        *out = cs;
        return 1;
    }
    return 0;
}

int fs_subscription_fd(const fs_subscription_t *sub)
{
    return sub->fd;
}

int fs_index_has_subscribers(fs_index_t *idx)
{
    return __atomic_load_n(&idx->subscriber_count, __ATOMIC_ACQUIRE) > 0;
}

int64_t fs_index_publish_segment(fs_index_t *idx, fs_index_thread_t *th, fs_segment_t *seg)
{
    fs_publish_t p;
    int r = fs_index_publish_prepare(idx, seg->source, &p);
    if (r < 0) {
        fs_segment_free(seg);
        return r;
    }
    return fs_index_publish_commit(idx, th, &p, seg);
}

int64_t fs_index_retire_source_changes(fs_index_t *idx, fs_index_thread_t *th, const char *source,
                                       fs_change_set_t *changes)
{
    fs_generation_t *old = NULL, *gen = generation_alloc(idx);
    if (gen == NULL) {
        fs_change_set_release(changes);
        return FS_ENOMEM;
    }
    pthread_mutex_lock(&idx->publish_lock);
    int64_t r = swap_locked(idx, gen, NULL, source, &old);
    if (r >= 0 && changes != NULL) {
        changes->generation = (uint64_t)r;
        deliver_locked(idx, changes);
    }
    pthread_mutex_unlock(&idx->publish_lock);
    fs_change_set_release(changes);
    if (r < 0) {
        free(gen);
        return r;
    }
    reclaim(idx, th, old);
    return r;
}

int64_t fs_index_retire_source(fs_index_t *idx, fs_index_thread_t *th, const char *source)
{
    return fs_index_retire_source_changes(idx, th, source, NULL);
}
