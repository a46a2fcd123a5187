/*
 * loaders/replica.c: replicas over a NATS JetStream stream (--nats; docs/replicas.md).
 *
 * The stream is the log; a replica's data dir is a cache of it. Two threads per replica:
 *
 * Publisher. Takes the pushes this replica received (fs_replica_submit), one at a time: decodes
 * and validates the body as a local push would (a refused push never enters the log), then
 * appends it to STREAM.feed.<source> with Nats-Msg-Id = op, source and the body's xxHash64, so a
 * retry of the same push, to this replica or another, is stored once. A body larger than the
 * server's max_payload goes first as chunks to STREAM.chunk.<source>, then as a manifest on
 * STREAM.feed.<source> listing each chunk's stream sequence and size, with the whole body's
 * length and hash in its headers. Once JetStream acknowledges (the message is on a quorum of the
 * stream's replicas), the push waits for this replica's consumer to apply that sequence, and is
 * answered with what the loader said: a 200 means durable in the log and visible here.
 *
 * Consumer. A durable pull consumer per replica (--nats-name) over STREAM.feed.>, recreated at
 * start from the last applied sequence kept in DATA_DIR/replica.seq, so the local store and the
 * stream position always agree (a lost data dir starts from sequence 1). Each message is applied
 * through fs_feeds_submit, one at a time, in stream order: the same loader path, and the same
 * answer, on every replica. Before it the index is told to number the next publish with the
 * message's sequence, after it the generation is moved to that sequence even when the message
 * changed nothing (a duplicate, a stale sequence), so replicas at the same position serve the same
 * generation and ETags. A manifest is applied only when every chunk is fetched (by sequence),
 * has its size, and the whole hashes to the manifest's hash.
 *
 * Retention. After a snapshot (or a retirement) is applied, the messages of its source before it
 * are deleted from the stream by every replica that saw them (retain_from; deleting twice is
 * harmless). The stream then holds, per source, its latest snapshot and the deltas after it.
 *
 * Crash safety. replica.seq is written after the loader has persisted the message; a crash in
 * between replays the message, which the loader answers as a duplicate (same body hash).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <nats/nats.h>
#include "loaders/internal.h"

#define QUEUE_MAX 64               /* pushes waiting for the publisher */
#define RESULTS 256                /* answers of the last applied messages, for duplicates */
#define WAIT_APPLY_MS 30000        /* a push acknowledged by JetStream but not applied here by then: 503 */
#define NATS_WAIT_MS 2000          /* JetStream API and publish acknowledgements */
#define DUPLICATE_WINDOW_NS (10LL * 60 * 1000000000LL)

typedef struct waiter {
    fs_feed_job_t *job;
    uint64_t seq;
    int64_t since_ms;
    struct waiter *next;
} waiter_t;

typedef struct result {
    uint64_t seq;
    int status;
    char *doc;
} result_t;

struct fs_replica {
    fs_index_t *idx;
    fs_feeds_t *feeds;
    char *urls, *creds, *tls_ca, *data_dir;
    char stream[40], name[80];
    char feed_subjects[64], chunk_subjects[64];
    unsigned stream_replicas;

    natsConnection *nc; /* set once by the consumer thread, under lock */
    jsCtx *js;

    pthread_t consumer, publisher;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    fs_feed_job_t *queue[QUEUE_MAX]; /* under lock */
    unsigned qhead, qcount;
    waiter_t *waiters;         /* under lock */
    result_t results[RESULTS]; /* under lock, by seq % RESULTS */
    uint64_t applied;          /* under lock: last stream sequence processed */
    struct source_log *logs;   /* consumer thread only (retain_from) */
    size_t nlogs, logs_cap;
    int caught_up;             /* under lock */
    int stop;                  /* under lock */

    /* for /metrics: atomics */
    uint64_t lag_messages;
    int64_t lag_since_ms; /* realtime ms of the oldest message not yet applied; 0: none */
    uint64_t publish_failures, applied_total;
    uint64_t head_at_start;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int stopping(fs_replica_t *r)
{
    pthread_mutex_lock(&r->lock);
    int s = r->stop;
    pthread_mutex_unlock(&r->lock);
    return s;
}

/* Sleeps ms unless stopping; returns nonzero when stopping. */
static int nap(fs_replica_t *r, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&r->lock);
    while (!r->stop && pthread_cond_timedwait(&r->cond, &r->lock, &ts) == 0)
        ;
    int s = r->stop;
    pthread_mutex_unlock(&r->lock);
    return s;
}

static const char *op_name(fs_feed_op_t op)
{
    return op == FS_FEED_OP_SNAPSHOT ? "snapshot" : op == FS_FEED_OP_DELTA ? "delta" : "delete";
}

/* -------------------------------------------------------- answers */

static char *error_doc(const char *code, const char *message)
{
    char esc[600];
    fs_json_escape(message, strlen(message), esc, sizeof(esc));
    size_t cap = strlen(esc) + strlen(code) + 64;
    char *doc = malloc(cap);
    if (doc != NULL)
        snprintf(doc, cap, "{\"error\": {\"code\": \"%s\", \"message\": \"%s\"}}", code, esc);
    return doc;
}

static void finish(fs_feed_job_t *job, int status, char *doc)
{
    free(job->body);
    job->body = NULL;
    job->len = 0;
    job->status = status;
    job->response = doc;
    job->response_len = doc != NULL ? strlen(doc) : 0;
    job->done(job);
}

static void unavailable(fs_replica_t *r, fs_feed_job_t *job, const char *why)
{
    __atomic_add_fetch(&r->publish_failures, 1, __ATOMIC_RELAXED);
    char msg[400];
    snprintf(msg, sizeof(msg), "the replicated log (NATS JetStream) did not acknowledge the push: %s; nothing was "
                               "acknowledged, retry (a retry of the same body is stored once)", why);
    job->retry_after = 1;
    finish(job, 503, error_doc("replication_unavailable", msg));
}

/* Under lock: the answer for a waiter whose message (seq) was processed. */
static void answer_applied_locked(fs_replica_t *r, fs_feed_job_t *job, uint64_t seq, int duplicate, int *status,
                                  char **doc)
{
    const result_t *res = &r->results[seq % RESULTS];
    if (res->seq == seq && res->doc != NULL) {
        *status = res->status;
        *doc = strdup(res->doc);
        return;
    }
    (void)duplicate;
    *status = 200;
    *doc = malloc(256);
    if (*doc != NULL)
        snprintf(*doc, 256, "{\"source\": \"%s\", \"duplicate\": true, \"stream_sequence\": %llu}", job->source,
                 (unsigned long long)seq);
}

/* ------------------------------------------------------ connection */

static void log_once(char *last, size_t cap, const char *fmt, const char *detail)
{
    char line[300];
    snprintf(line, sizeof(line), fmt, detail);
    if (strcmp(line, last) != 0) {
        fs_log("replica: %s", line);
        snprintf(last, cap, "%s", line);
    }
}

static natsStatus connect_nats(fs_replica_t *r)
{
    natsOptions *o = NULL;
    natsStatus s = natsOptions_Create(&o);
    char *urls = strdup(r->urls);
    const char *list[16];
    int n = 0;
    for (char *save = NULL, *t = strtok_r(urls, ",", &save); t != NULL && n < 16; t = strtok_r(NULL, ",", &save))
        list[n++] = t;
    if (s == NATS_OK)
        s = natsOptions_SetServers(o, list, n);
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(o, -1); /* forever: the cluster comes back */
    if (s == NATS_OK)
        s = natsOptions_SetReconnectWait(o, 250);
    if (s == NATS_OK)
        s = natsOptions_SetTimeout(o, NATS_WAIT_MS);
    if (s == NATS_OK && r->creds != NULL)
        s = natsOptions_SetUserCredentialsFromFiles(o, r->creds, NULL);
    if (s == NATS_OK && r->tls_ca != NULL) {
        s = natsOptions_SetSecure(o, true);
        if (s == NATS_OK)
            s = natsOptions_LoadCATrustedCertificates(o, r->tls_ca);
    }
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    if (s == NATS_OK)
        s = natsConnection_Connect(&nc, o);
    if (s == NATS_OK) {
        jsOptions jo;
        jsOptions_Init(&jo);
        jo.Wait = NATS_WAIT_MS;
        s = natsConnection_JetStream(&js, nc, &jo);
    }
    natsOptions_Destroy(o);
    free(urls);
    if (s != NATS_OK) {
        natsConnection_Destroy(nc);
        return s;
    }
    pthread_mutex_lock(&r->lock);
    r->nc = nc;
    r->js = js;
    pthread_mutex_unlock(&r->lock);
    return NATS_OK;
}

/* The stream, created when missing; *head: its last sequence. */
static natsStatus ensure_stream(fs_replica_t *r, uint64_t *head)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo(&si, r->js, r->stream, NULL, &jerr);
    if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
        jsStreamConfig sc;
        jsStreamConfig_Init(&sc);
        const char *subjects[] = {r->feed_subjects, r->chunk_subjects};
        sc.Name = r->stream;
        sc.Subjects = subjects;
        sc.SubjectsLen = 2;
        sc.Storage = js_FileStorage;
        sc.Replicas = r->stream_replicas;
        sc.Duplicates = DUPLICATE_WINDOW_NS;
        sc.AllowDirect = true; /* chunks are read with direct gets (fetch_main) */
        s = js_AddStream(&si, r->js, &sc, NULL, &jerr);
        if (s != NATS_OK && jerr == JSStreamNameExistErr) /* another replica created it meanwhile */
            s = js_GetStreamInfo(&si, r->js, r->stream, NULL, &jerr);
        if (s == NATS_OK)
            fs_log("replica: created stream %s (replicas %u)", r->stream, r->stream_replicas);
    }
    if (s == NATS_OK)
        *head = si->State.LastSeq;
    jsStreamInfo_Destroy(si);
    return s;
}

/* The durable consumer of this replica, starting after what the data dir holds. */
static natsStatus subscribe(fs_replica_t *r, uint64_t from, natsSubscription **sub)
{
    jsErrCode jerr = 0;
    js_DeleteConsumer(r->js, r->stream, r->name, NULL, &jerr); /* its position is ours: replica.seq */
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = r->stream;
    so.Config.DeliverPolicy = js_DeliverByStartSequence;
    so.Config.OptStartSeq = from;
    so.Config.AckPolicy = js_AckExplicit;
    so.Config.AckWait = 300LL * 1000000000LL; /* a large snapshot may take minutes to apply */
    return js_PullSubscribe(sub, r->js, r->feed_subjects, r->name, NULL, &so, &jerr);
}

/* ------------------------------------------------------ replica.seq */

static uint64_t read_applied(fs_replica_t *r)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/replica.seq", r->data_dir);
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return 0;
    char line[128];
    int ok = fgets(line, sizeof(line), fp) != NULL;
    fclose(fp);
    char *space = ok ? strchr(line, ' ') : NULL;
    if (space == NULL)
        return 0;
    *space = '\0'; /* line: the stream's name */
    char *end;
    errno = 0;
    unsigned long long seq = strtoull(space + 1, &end, 10);
    if (errno != 0 || end == space + 1 || strcmp(line, r->stream) != 0) /* another stream's position: start over */
        return 0;
    return (uint64_t)seq;
}

/* Written whole (temp file, fsync, rename, directory fsync): a crash leaves the old or the new. */
static int write_applied(fs_replica_t *r, uint64_t seq)
{
    char path[4200], tmp[4220];
    snprintf(path, sizeof(path), "%s/replica.seq", r->data_dir);
    snprintf(tmp, sizeof(tmp), "%s/.replica.seq.tmp", r->data_dir);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    char line[96];
    int n = snprintf(line, sizeof(line), "%s %llu\n", r->stream, (unsigned long long)seq);
    int bad = write(fd, line, (size_t)n) != n;
    bad |= fsync(fd) != 0;
    bad |= close(fd) != 0;
    if (bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    int dfd = open(r->data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

/* -------------------------------------------------------- consumer */

typedef struct apply_wait {
    sem_t done;
} apply_wait_t;

static void applied_done(fs_feed_job_t *job)
{
    sem_post(&((apply_wait_t *)job->ctx)->done);
}

#define FETCHERS 4 /* chunks read at once: each js_GetMsg is a round trip to the stream leader */

typedef struct fetch {
    fs_replica_t *r;
    const char *subject;
    const uint64_t *seqs, *sizes, *offsets;
    unsigned count;
    unsigned next; /* atomic: the next chunk to read */
    int rc;        /* atomic: the first failure (0: none) */
    uint8_t *body;
} fetch_t;

static void *fetch_main(void *arg)
{
    fetch_t *f = arg;
    for (;;) {
        unsigned i = __atomic_fetch_add(&f->next, 1, __ATOMIC_RELAXED);
        if (i >= f->count || __atomic_load_n(&f->rc, __ATOMIC_RELAXED) != 0)
            return NULL;
        natsMsg *m = NULL;
        jsErrCode jerr = 0;
        /* a direct get (any node, raw bytes) is 3x cheaper than the API's base64 JSON; a follower
         * may not have the chunk yet, so anything but the bytes is asked of the leader again */
        jsDirectGetMsgOptions dg;
        jsDirectGetMsgOptions_Init(&dg);
        dg.Sequence = f->seqs[i];
        natsStatus s = js_DirectGetMsg(&m, f->r->js, f->r->stream, NULL, &dg);
        if (s != NATS_OK) {
            natsMsg_Destroy(m);
            m = NULL;
            s = js_GetMsg(&m, f->r->js, f->r->stream, f->seqs[i], NULL, &jerr);
        }
        int rc = 0;
        if (s != NATS_OK)
            rc = (s == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr) ? FS_ENOENT : FS_EIO;
        else if ((uint64_t)natsMsg_GetDataLength(m) != f->sizes[i] || strcmp(natsMsg_GetSubject(m), f->subject) != 0)
            rc = FS_ENOENT;
        else
            memcpy(f->body + f->offsets[i], natsMsg_GetData(m), f->sizes[i]);
        natsMsg_Destroy(m);
        if (rc != 0) {
            int none = 0;
            __atomic_compare_exchange_n(&f->rc, &none, rc, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
            return NULL;
        }
    }
}

/* Reads a manifest's chunks into one body, FETCHERS at a time. 0; FS_ENOENT when a chunk is gone
 * (deleted: a newer snapshot of the source superseded this one) or does not match the manifest;
 * FS_EIO when NATS did not answer (the caller retries); FS_ENOMEM. chunk_seqs gets count entries. */
static int assemble(fs_replica_t *r, const char *source, const char *manifest, size_t mlen, unsigned count,
                    uint64_t length, uint8_t **out, uint64_t *chunk_seqs)
{
    char subject[96];
    snprintf(subject, sizeof(subject), "%s.chunk.%s", r->stream, source);
    char *text = malloc(mlen + 1); /* the manifest, NUL-terminated for strtoull */
    uint64_t *sizes = calloc(count ? count : 1, sizeof(uint64_t)), *offsets = calloc(count ? count : 1, sizeof(uint64_t));
    uint8_t *body = malloc(length ? length : 1);
    int rc = text == NULL || sizes == NULL || offsets == NULL || body == NULL ? FS_ENOMEM : 0;
    uint64_t off = 0;
    if (rc == 0) {
        memcpy(text, manifest, mlen);
        text[mlen] = '\0';
        const char *p = text;
        for (unsigned i = 0; i < count && rc == 0; i++) {
            char *e;
            chunk_seqs[i] = strtoull(p, &e, 10);
            sizes[i] = strtoull(e, &e, 10);
            offsets[i] = off;
            off += sizes[i];
            if (chunk_seqs[i] == 0 || off > length)
                rc = FS_ENOENT;
            p = e;
        }
        if (rc == 0 && off != length)
            rc = FS_ENOENT;
    }
    if (rc == 0) {
        fetch_t f = {.r = r, .subject = subject, .seqs = chunk_seqs, .sizes = sizes, .offsets = offsets, .count = count,
                     .body = body};
        pthread_t th[FETCHERS];
        unsigned started = 0;
        for (; started < FETCHERS - 1 && started + 1 < count; started++)
            if (pthread_create(&th[started], NULL, fetch_main, &f) != 0)
                break;
        fetch_main(&f); /* this thread reads too */
        for (unsigned i = 0; i < started; i++)
            pthread_join(th[i], NULL);
        rc = f.rc;
    }
    free(text);
    free(sizes);
    free(offsets);
    if (rc != 0) {
        free(body);
        return rc;
    }
    *out = body;
    return 0;
}

/* What the stream still holds of each source, as far as this replica saw it applied: the
 * sequences of its feed messages and chunks since (and including) its latest applied snapshot.
 * Consumer thread only. */
typedef struct source_log {
    char source[FS_SOURCE_NAME_MAX + 1];
    uint64_t *seqs;
    size_t n, cap;
} source_log_t;

static source_log_t *source_log(fs_replica_t *r, const char *source)
{
    for (size_t i = 0; i < r->nlogs; i++)
        if (strcmp(r->logs[i].source, source) == 0)
            return &r->logs[i];
    if (r->nlogs == r->logs_cap) {
        size_t cap = r->logs_cap ? r->logs_cap * 2 : 16;
        source_log_t *n = realloc(r->logs, cap * sizeof(*n));
        if (n == NULL)
            return NULL;
        r->logs = n;
        r->logs_cap = cap;
    }
    source_log_t *l = &r->logs[r->nlogs++];
    memset(l, 0, sizeof(*l));
    snprintf(l->source, sizeof(l->source), "%s", source);
    return l;
}

static void log_add(source_log_t *l, uint64_t seq)
{
    if (l == NULL)
        return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        uint64_t *n = realloc(l->seqs, cap * sizeof(*n));
        if (n == NULL)
            return; /* not deleted later: the stream keeps one message too many */
        l->seqs = n;
        l->cap = cap;
    }
    l->seqs[l->n++] = seq;
}

/*
 * Retention: a snapshot (or retirement) at seq replaced everything of its source before it, so
 * those messages are deleted from the stream, one by one (js_DeleteMsg). Not a purge by subject
 * up to seq: nats-server 2.9.10 was seen to drop other subjects' messages with it on a replicated
 * stream (tests/replicas/run.py caught a fresh replica missing whole sources). Every replica does
 * it for what it saw; deleting a message already deleted is harmless.
 */
static void retain_from(fs_replica_t *r, source_log_t *l, uint64_t seq)
{
    if (l == NULL)
        return;
    size_t kept = 0, failed = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (l->seqs[i] >= seq) {
            l->seqs[kept++] = l->seqs[i];
            continue;
        }
        jsErrCode jerr = 0;
        natsStatus s = js_DeleteMsg(r->js, r->stream, l->seqs[i], NULL, &jerr);
        if (s != NATS_OK && s != NATS_NOT_FOUND && jerr != JSNoMessageFoundErr && jerr != 10057 /* sequence not found */) {
            l->seqs[kept++] = l->seqs[i]; /* tried again after the next snapshot */
            failed++;
        }
    }
    l->n = kept;
    if (failed > 0)
        fs_log("replica: %zu old messages of %s not deleted from the stream yet (NATS unavailable)", failed, l->source);
}

/* Records what applying seq answered and answers the pushes waiting for it (or for an earlier
 * sequence, skipped). doc is taken. */
static void complete(fs_replica_t *r, uint64_t seq, int status, char *doc)
{
    waiter_t *ready = NULL;
    pthread_mutex_lock(&r->lock);
    result_t *res = &r->results[seq % RESULTS];
    free(res->doc);
    res->seq = seq;
    res->status = status;
    res->doc = doc;
    r->applied = seq;
    for (waiter_t **w = &r->waiters; *w != NULL;) {
        if ((*w)->seq <= seq) {
            waiter_t *x = *w;
            *w = x->next;
            answer_applied_locked(r, x->job, x->seq, 0, &x->job->status, &x->job->response);
            x->next = ready;
            ready = x;
        } else {
            w = &(*w)->next;
        }
    }
    pthread_mutex_unlock(&r->lock);
    while (ready != NULL) {
        waiter_t *x = ready;
        ready = x->next;
        x->job->response_len = x->job->response != NULL ? strlen(x->job->response) : 0;
        x->job->done(x->job);
        free(x);
    }
}

/* Applies one stream message (a feed or a manifest). Returns -1 when stopping before it was. */
static int apply_message(fs_replica_t *r, fs_index_thread_t *th, natsMsg *msg, uint64_t seq)
{
    const char *subject = natsMsg_GetSubject(msg);
    size_t prefix = strlen(r->stream) + strlen(".feed.");
    const char *source = strlen(subject) > prefix ? subject + prefix : "";
    const char *op = NULL, *format = NULL, *hash = NULL, *chunks = NULL, *length = NULL;
    natsMsgHeader_Get(msg, "Fs-Op", &op);
    natsMsgHeader_Get(msg, "Fs-Format", &format);
    natsMsgHeader_Get(msg, "Fs-Hash", &hash);
    natsMsgHeader_Get(msg, "Fs-Chunks", &chunks);
    natsMsgHeader_Get(msg, "Fs-Length", &length);
    fs_feed_job_t *job = calloc(1, sizeof(*job));
    if (job == NULL)
        return -1;
    job->op = op != NULL && strcmp(op, "snapshot") == 0 ? FS_FEED_OP_SNAPSHOT
              : op != NULL && strcmp(op, "delete") == 0 ? FS_FEED_OP_DELETE
                                                        : FS_FEED_OP_DELTA;
    job->format = format != NULL && strcmp(format, "msgpack") == 0 ? FS_FEED_MSGPACK : FS_FEED_JSON;
    snprintf(job->source, sizeof(job->source), "%s", source);
    job->origin = "replica";
    jsMsgMetaData *meta = NULL;
    if (natsMsg_GetMetaData(&meta, msg) == NATS_OK)
        job->updated_at = meta->Timestamp / 1000000000; /* the log's time, the same on every replica */
    jsMsgMetaData_Destroy(meta);
    uint64_t *chunk_seqs = NULL;
    unsigned chunk_count = 0;
    const char *refusal = NULL;
    if (op == NULL || !fs_feed_source_valid(source, strlen(source))) {
        refusal = "the stream message has no Fs-Op header or names no valid source";
    } else if (job->op != FS_FEED_OP_DELETE && chunks != NULL) {
        unsigned count = (unsigned)strtoul(chunks, NULL, 10);
        uint64_t len = length != NULL ? strtoull(length, NULL, 10) : 0;
        chunk_seqs = calloc(count ? count : 1, sizeof(*chunk_seqs));
        int64_t t0 = mono_ms();
        for (;;) {
            int rc = chunk_seqs == NULL ? FS_ENOENT
                                        : assemble(r, source, natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), count,
                                                   len, &job->body, chunk_seqs);
            if (rc == 0) {
                job->len = len;
                chunk_count = count;
                fs_log("replica: %s of %s: %u chunks (%llu bytes) read from the stream in %lld ms", op, source, count,
                       (unsigned long long)len, (long long)(mono_ms() - t0));
                break;
            }
            if (rc == FS_ENOENT) {
                refusal = "a chunk of this snapshot is gone from the stream (a newer snapshot of the source superseded it)";
                break;
            }
            if (nap(r, 500)) { /* NATS unavailable: the same message again, never the next one */
                free(chunk_seqs);
                free(job);
                return -1;
            }
        }
    } else if (job->op != FS_FEED_OP_DELETE) {
        job->len = (size_t)natsMsg_GetDataLength(msg);
        job->body = malloc(job->len ? job->len : 1);
        if (job->body == NULL) {
            free(job);
            return -1;
        }
        memcpy(job->body, natsMsg_GetData(msg), job->len);
    }
    if (refusal == NULL && job->op != FS_FEED_OP_DELETE) {
        char want[24];
        snprintf(want, sizeof(want), "%016llx", (unsigned long long)fs_hash64(job->body, job->len));
        if (hash == NULL || strcmp(hash, want) != 0)
            refusal = "the body does not hash to the message's Fs-Hash";
    }
    if (refusal != NULL) {
        fs_log("replica: stream message %llu (%s): %s; skipped", (unsigned long long)seq, subject, refusal);
        fs_feed_job_free(job);
        free(chunk_seqs);
        if (fs_feed_source_valid(source, strlen(source)))
            log_add(source_log(r, source), seq);
        complete(r, seq, 409, error_doc("superseded", refusal));
        return 0;
    }
    apply_wait_t w;
    sem_init(&w.done, 0, 0);
    job->done = applied_done;
    job->ctx = &w;
    fs_index_number_from(r->idx, seq);
    while (fs_feeds_submit(r->feeds, job) != 0) /* only this thread submits: a full queue drains */
        if (nap(r, 10)) {
            sem_destroy(&w.done);
            fs_feed_job_free(job);
            free(chunk_seqs);
            return -1;
        }
    while (sem_wait(&w.done) != 0 && errno == EINTR)
        ;
    sem_destroy(&w.done);
    source_log_t *sl = source_log(r, job->source);
    uint64_t first = chunk_count > 0 ? chunk_seqs[0] : seq; /* chunks are published in order, before it */
    for (unsigned i = 0; i < chunk_count; i++)
        log_add(sl, chunk_seqs[i]);
    log_add(sl, seq);
    free(chunk_seqs);
    if (job->status == 200 && job->op != FS_FEED_OP_DELTA)
        retain_from(r, sl, first);
    if (fs_index_renumber(r->idx, th, seq) < 0)
        fs_log("replica: no memory to renumber generation %llu", (unsigned long long)seq);
    if (write_applied(r, seq) != 0)
        fs_log("replica: cannot write %s/replica.seq: %s; a restart replays from the previous one", r->data_dir,
               strerror(errno));
    __atomic_add_fetch(&r->applied_total, 1, __ATOMIC_RELAXED);
    char *doc = job->response;
    job->response = NULL;
    int status = job->status;
    fs_feed_job_free(job);
    complete(r, seq, status, doc);
    return 0;
}

static void set_caught_up(fs_replica_t *r)
{
    pthread_mutex_lock(&r->lock);
    if (!r->caught_up) {
        r->caught_up = 1;
        fs_log("replica %s: caught up with stream %s at sequence %llu", r->name, r->stream, (unsigned long long)r->applied);
    }
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

static void *consumer_main(void *arg)
{
    fs_replica_t *r = arg;
    fs_index_thread_t *th = fs_index_thread_get(r->idx);
    char last_err[300] = "";
    natsSubscription *sub = NULL;
    int64_t failing_since = 0;
    while (!stopping(r)) {
        if (r->nc == NULL) {
            natsStatus s = connect_nats(r);
            if (s != NATS_OK) {
                log_once(last_err, sizeof(last_err), "cannot connect to NATS (%s); retrying", natsStatus_GetText(s));
                nap(r, 500);
                continue;
            }
            fs_log("replica %s: connected to NATS", r->name);
        }
        if (sub == NULL) {
            uint64_t head = 0;
            natsStatus s = ensure_stream(r, &head);
            pthread_mutex_lock(&r->lock);
            uint64_t from = r->applied + 1;
            pthread_mutex_unlock(&r->lock);
            if (s == NATS_OK)
                s = subscribe(r, from, &sub);
            if (s != NATS_OK) {
                log_once(last_err, sizeof(last_err), "stream or consumer not available (%s); retrying", natsStatus_GetText(s));
                natsSubscription_Destroy(sub);
                sub = NULL;
                nap(r, 500);
                continue;
            }
            if (__atomic_load_n(&r->head_at_start, __ATOMIC_RELAXED) == 0)
                __atomic_store_n(&r->head_at_start, head, __ATOMIC_RELAXED);
            if (from > head) /* nothing to apply: an empty stream, or the data dir holds all of it */
                set_caught_up(r);
            last_err[0] = '\0';
            failing_since = 0;
        }
        natsMsgList list = {0};
        jsErrCode jerr = 0;
        natsStatus s = natsSubscription_Fetch(&list, sub, 8, 1000, &jerr);
        if (s == NATS_TIMEOUT) {
            /* nothing delivered: caught up, if the consumer says so (it answers only with a quorum) */
            jsConsumerInfo *ci = NULL;
            if (natsSubscription_GetConsumerInfo(&ci, sub, NULL, &jerr) == NATS_OK) {
                if (ci->NumPending == 0) {
                    __atomic_store_n(&r->lag_messages, 0, __ATOMIC_RELAXED);
                    __atomic_store_n(&r->lag_since_ms, 0, __ATOMIC_RELAXED);
                    set_caught_up(r);
                }
                failing_since = 0;
            } else if (failing_since == 0) {
                failing_since = mono_ms();
            }
            jsConsumerInfo_Destroy(ci);
        } else if (s != NATS_OK) {
            log_once(last_err, sizeof(last_err), "fetching from the stream failed (%s); retrying", natsStatus_GetText(s));
            if (failing_since == 0)
                failing_since = mono_ms();
            nap(r, 200);
        } else {
            failing_since = 0;
            last_err[0] = '\0';
        }
        for (int i = 0; i < list.Count; i++) {
            natsMsg *m = list.Msgs[i];
            jsMsgMetaData *meta = NULL;
            if (natsMsg_GetMetaData(&meta, m) != NATS_OK)
                continue;
            uint64_t seq = meta->Sequence.Stream;
            pthread_mutex_lock(&r->lock);
            uint64_t applied = r->applied;
            pthread_mutex_unlock(&r->lock);
            if (seq > applied) {
                __atomic_store_n(&r->lag_messages, meta->NumPending + 1, __ATOMIC_RELAXED);
                __atomic_store_n(&r->lag_since_ms, meta->Timestamp / 1000000, __ATOMIC_RELAXED);
                if (apply_message(r, th, m, seq) != 0) {
                    jsMsgMetaData_Destroy(meta);
                    break; /* stopping */
                }
                __atomic_store_n(&r->lag_messages, meta->NumPending, __ATOMIC_RELAXED);
                if (meta->NumPending == 0)
                    __atomic_store_n(&r->lag_since_ms, 0, __ATOMIC_RELAXED);
                if (seq >= __atomic_load_n(&r->head_at_start, __ATOMIC_RELAXED) || meta->NumPending == 0)
                    set_caught_up(r);
            }
            natsMsg_Ack(m, NULL);
            jsMsgMetaData_Destroy(meta);
        }
        natsMsgList_Destroy(&list);
        /* a consumer that keeps failing (its leader lost, the stream recreated): make it again
         * from what is applied, once the cluster answers */
        if (failing_since != 0 && mono_ms() - failing_since > 10000) {
            natsSubscription_Destroy(sub);
            sub = NULL;
        }
    }
    natsSubscription_Destroy(sub);
    fs_index_thread_put(r->idx, th);
    return NULL;
}

/* ------------------------------------------------------- publisher */

static int publish_one(fs_replica_t *r, jsCtx *js, natsConnection *nc, fs_feed_job_t *job, uint64_t *seq, int *dup,
                       char *why, size_t whycap)
{
    char subject[96], msgid[128], hash[24];
    snprintf(subject, sizeof(subject), "%s.feed.%s", r->stream, job->source);
    uint64_t h = fs_hash64(job->body, job->len);
    snprintf(hash, sizeof(hash), "%016llx", (unsigned long long)h);
    snprintf(msgid, sizeof(msgid), "%s-%s-%s", op_name(job->op), job->source, hash);
    int64_t maxp = natsConnection_GetMaxPayload(nc);
    size_t chunk = maxp > 65536 ? (size_t)maxp - 16384 : 32768; /* room for the headers */
    jsPubOptions po;
    jsErrCode jerr = 0;
    jsPubAck *ack = NULL;
    natsStatus s = NATS_OK;
    char *manifest = NULL;
    size_t mlen = 0;
    unsigned count = 0;
    if (job->op != FS_FEED_OP_DELETE && job->len > chunk) {
        count = (unsigned)((job->len + chunk - 1) / chunk);
        manifest = malloc((size_t)count * 48 + 1);
        if (manifest == NULL) {
            snprintf(why, whycap, "out of memory");
            return -1;
        }
        char chunk_subject[96], chunk_id[160];
        unsigned published = 0;
        snprintf(chunk_subject, sizeof(chunk_subject), "%s.chunk.%s", r->stream, job->source);
        for (unsigned i = 0; i < count && s == NATS_OK && !stopping(r); i++) {
            size_t off = (size_t)i * chunk, n = job->len - off < chunk ? job->len - off : chunk;
            jsPubOptions_Init(&po);
            po.MaxWait = NATS_WAIT_MS;
            snprintf(chunk_id, sizeof(chunk_id), "%s.%u", msgid, i);
            po.MsgId = chunk_id;
            s = js_Publish(&ack, js, chunk_subject, job->body + off, (int)n, &po, &jerr);
            if (s == NATS_OK)
                mlen += (size_t)snprintf(manifest + mlen, 48, "%llu %zu\n", (unsigned long long)ack->Sequence, n);
            jsPubAck_Destroy(ack);
            ack = NULL;
            published++;
        }
        if (s == NATS_OK && published < count) /* stopping: no manifest for a partial upload */
            s = NATS_ILLEGAL_STATE;
    }
    natsMsg *m = NULL;
    if (s == NATS_OK) {
        const char *data = manifest != NULL ? manifest : (const char *)job->body;
        int len = manifest != NULL ? (int)mlen : (int)job->len;
        s = natsMsg_Create(&m, subject, NULL, data, len);
    }
    char count_text[16], length_text[24];
    snprintf(count_text, sizeof(count_text), "%u", count);
    snprintf(length_text, sizeof(length_text), "%zu", job->len);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, "Fs-Op", op_name(job->op));
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, "Fs-Format", job->format == FS_FEED_MSGPACK ? "msgpack" : "json");
    if (s == NATS_OK && job->op != FS_FEED_OP_DELETE)
        s = natsMsgHeader_Set(m, "Fs-Hash", hash);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, "Fs-Length", length_text);
    if (s == NATS_OK && manifest != NULL)
        s = natsMsgHeader_Set(m, "Fs-Chunks", count_text);
    if (s == NATS_OK) {
        jsPubOptions_Init(&po);
        po.MaxWait = NATS_WAIT_MS;
        po.MsgId = job->op == FS_FEED_OP_DELETE ? NULL : msgid; /* a retirement is idempotent by itself */
        s = js_PublishMsg(&ack, js, m, &po, &jerr);
    }
    natsMsg_Destroy(m);
    free(manifest);
    if (s != NATS_OK) {
        snprintf(why, whycap, "%s%s", natsStatus_GetText(s), jerr != 0 ? " (JetStream error)" : "");
        jsPubAck_Destroy(ack);
        return -1;
    }
    *seq = ack->Sequence;
    *dup = ack->Duplicate;
    jsPubAck_Destroy(ack);
    return 0;
}

static void handle_push(fs_replica_t *r, fs_feed_job_t *job)
{
    if (job->op != FS_FEED_OP_DELETE) {
        /* refused here as a local push would be: a push that cannot apply never enters the log */
        fs_feed_errors_t errs;
        fs_feed_header_t header;
        int rc = fs_feed_decode(job->body, job->len, job->format, job->op == FS_FEED_OP_SNAPSHOT ? FS_FEED_SNAPSHOT : FS_FEED_DELTA,
                                job->source, &header, NULL, &errs);
        if (rc == FS_EINVAL) {
            size_t need = fs_feed_errors_json(&errs, NULL, 0) + 1;
            char *doc = malloc(need);
            if (doc != NULL)
                fs_feed_errors_json(&errs, doc, need);
            finish(job, errs.malformed ? 400 : 422, doc);
            return;
        }
        if (rc != 0) {
            finish(job, 503, error_doc("out_of_memory", "no memory to validate the push; retry"));
            return;
        }
    }
    pthread_mutex_lock(&r->lock);
    jsCtx *js = r->js;
    natsConnection *nc = r->nc;
    pthread_mutex_unlock(&r->lock);
    if (js == NULL || natsConnection_Status(nc) != NATS_CONN_STATUS_CONNECTED) {
        unavailable(r, job, "not connected to any NATS server");
        return;
    }
    uint64_t seq = 0;
    int dup = 0;
    char why[200];
    if (publish_one(r, js, nc, job, &seq, &dup, why, sizeof(why)) != 0) {
        unavailable(r, job, why);
        return;
    }
    free(job->body); /* in the log now: the body is not needed here any more */
    job->body = NULL;
    job->len = 0;
    waiter_t *w = calloc(1, sizeof(*w));
    pthread_mutex_lock(&r->lock);
    if (r->applied >= seq || w == NULL) {
        answer_applied_locked(r, job, seq, dup, &job->status, &job->response);
        pthread_mutex_unlock(&r->lock);
        free(w);
        job->response_len = job->response != NULL ? strlen(job->response) : 0;
        job->done(job);
        return;
    }
    w->job = job;
    w->seq = seq;
    w->since_ms = mono_ms();
    w->next = r->waiters;
    r->waiters = w;
    pthread_mutex_unlock(&r->lock);
}

/* Under lock: takes the waiters that waited longer than WAIT_APPLY_MS (or all when stopping). */
static waiter_t *expired_locked(fs_replica_t *r, int all)
{
    waiter_t *out = NULL;
    int64_t now = mono_ms();
    for (waiter_t **w = &r->waiters; *w != NULL;) {
        if (all || now - (*w)->since_ms > WAIT_APPLY_MS) {
            waiter_t *x = *w;
            *w = x->next;
            x->next = out;
            out = x;
        } else {
            w = &(*w)->next;
        }
    }
    return out;
}

static void answer_expired(waiter_t *list)
{
    while (list != NULL) {
        waiter_t *x = list;
        list = x->next;
        x->job->retry_after = 1;
        finish(x->job, 503,
               error_doc("replication_lagging", "the push is in the replicated log but this replica has not applied it yet; "
                                                "retry (the retry is stored once) or read from another replica"));
        free(x);
    }
}

static void *publisher_main(void *arg)
{
    fs_replica_t *r = arg;
    for (;;) {
        pthread_mutex_lock(&r->lock);
        while (r->qcount == 0 && !r->stop) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 250 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&r->cond, &r->lock, &ts);
            waiter_t *late = expired_locked(r, 0);
            if (late != NULL) {
                pthread_mutex_unlock(&r->lock);
                answer_expired(late);
                pthread_mutex_lock(&r->lock);
            }
        }
        if (r->stop) {
            pthread_mutex_unlock(&r->lock);
            break;
        }
        fs_feed_job_t *job = r->queue[r->qhead];
        r->qhead = (r->qhead + 1) % QUEUE_MAX;
        r->qcount--;
        pthread_mutex_unlock(&r->lock);
        fs_log_set_thread_trace(job->trace_id);
        handle_push(r, job);
        fs_log_set_thread_trace(NULL);
    }
    return NULL;
}

/* ------------------------------------------------------- lifecycle */

fs_replica_t *fs_replica_start(fs_index_t *idx, fs_feeds_t *feeds, const fs_replica_config_t *cfg, char *err,
                               size_t errcap)
{
    if (cfg->urls == NULL || cfg->stream == NULL || cfg->name == NULL || cfg->data_dir == NULL) {
        snprintf(err, errcap, "replica: --nats, --nats-stream, --nats-name and --data-dir are needed");
        return NULL;
    }
    fs_replica_t *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        snprintf(err, errcap, "replica: out of memory");
        return NULL;
    }
    r->idx = idx;
    r->feeds = feeds;
    r->urls = strdup(cfg->urls);
    r->creds = cfg->creds != NULL ? strdup(cfg->creds) : NULL;
    r->tls_ca = cfg->tls_ca != NULL ? strdup(cfg->tls_ca) : NULL;
    r->data_dir = strdup(cfg->data_dir);
    snprintf(r->stream, sizeof(r->stream), "%s", cfg->stream);
    snprintf(r->name, sizeof(r->name), "%s", cfg->name);
    snprintf(r->feed_subjects, sizeof(r->feed_subjects), "%s.feed.>", cfg->stream);
    snprintf(r->chunk_subjects, sizeof(r->chunk_subjects), "%s.chunk.>", cfg->stream);
    r->stream_replicas = cfg->stream_replicas ? cfg->stream_replicas : 1;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    r->applied = read_applied(r);
    if (r->applied > 0) {
        /* the data dir holds the stream up to here: serve it as that generation */
        fs_index_thread_t *th = fs_index_thread_get(idx);
        fs_index_renumber(idx, th, r->applied);
        fs_index_thread_put(idx, th);
    }
    fs_log("replica %s: stream %s from sequence %llu (%s)", r->name, r->stream, (unsigned long long)r->applied + 1,
           r->urls);
    pthread_create(&r->consumer, NULL, consumer_main, r);
    pthread_create(&r->publisher, NULL, publisher_main, r);
    return r;
}

int fs_replica_wait_caught_up(fs_replica_t *r, unsigned timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&r->lock);
    while (!r->caught_up && !r->stop && pthread_cond_timedwait(&r->cond, &r->lock, &ts) == 0)
        ;
    int ok = r->caught_up;
    pthread_mutex_unlock(&r->lock);
    return ok ? 0 : FS_ETIMEDOUT;
}

int fs_replica_submit(fs_replica_t *r, fs_feed_job_t *job)
{
    pthread_mutex_lock(&r->lock);
    if (r->stop || r->qcount == QUEUE_MAX) {
        pthread_mutex_unlock(&r->lock);
        return FS_EBUSY;
    }
    r->queue[(r->qhead + r->qcount) % QUEUE_MAX] = job;
    r->qcount++;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
    return 0;
}

size_t fs_replica_metrics(fs_replica_t *r, char *out, size_t cap)
{
    pthread_mutex_lock(&r->lock);
    uint64_t applied = r->applied;
    int caught_up = r->caught_up;
    natsConnection *nc = r->nc;
    pthread_mutex_unlock(&r->lock);
    int connected = nc != NULL && natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED;
    int64_t since = __atomic_load_n(&r->lag_since_ms, __ATOMIC_RELAXED);
    double lag_s = since > 0 ? (double)(real_ms() - since) / 1000.0 : 0.0;
    if (lag_s < 0)
        lag_s = 0;
    int n = snprintf(out, cap,
                     "# HELP flightsearch_replica_applied_sequence The last stream sequence this replica applied.\n"
                     "# TYPE flightsearch_replica_applied_sequence gauge\nflightsearch_replica_applied_sequence %llu\n"
                     "# HELP flightsearch_replica_lag_messages Stream messages not yet applied by this replica.\n"
                     "# TYPE flightsearch_replica_lag_messages gauge\nflightsearch_replica_lag_messages %llu\n"
                     "# HELP flightsearch_replica_lag_seconds Age of the oldest stream message not yet applied.\n"
                     "# TYPE flightsearch_replica_lag_seconds gauge\nflightsearch_replica_lag_seconds %.3f\n"
                     "# HELP flightsearch_replica_caught_up 1 once the stream head seen at start-up was applied.\n"
                     "# TYPE flightsearch_replica_caught_up gauge\nflightsearch_replica_caught_up %d\n"
                     "# HELP flightsearch_replica_connected 1 while connected to a NATS server.\n"
                     "# TYPE flightsearch_replica_connected gauge\nflightsearch_replica_connected %d\n"
                     "# HELP flightsearch_replica_applied_total Stream messages applied since start.\n"
                     "# TYPE flightsearch_replica_applied_total counter\nflightsearch_replica_applied_total %llu\n"
                     "# HELP flightsearch_replica_publish_failures_total Pushes refused 503 because JetStream did not "
                     "acknowledge them.\n"
                     "# TYPE flightsearch_replica_publish_failures_total counter\n"
                     "flightsearch_replica_publish_failures_total %llu\n",
                     (unsigned long long)applied, (unsigned long long)__atomic_load_n(&r->lag_messages, __ATOMIC_RELAXED),
                     lag_s, caught_up, connected, (unsigned long long)__atomic_load_n(&r->applied_total, __ATOMIC_RELAXED),
                     (unsigned long long)__atomic_load_n(&r->publish_failures, __ATOMIC_RELAXED));
    if (n < 0)
        return 0;
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

void fs_replica_stop(fs_replica_t *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->lock);
    r->stop = 1;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->publisher, NULL);
    pthread_join(r->consumer, NULL);
    pthread_mutex_lock(&r->lock);
    waiter_t *left = expired_locked(r, 1);
    fs_feed_job_t *queued[QUEUE_MAX];
    unsigned nq = r->qcount;
    for (unsigned i = 0; i < nq; i++)
        queued[i] = r->queue[(r->qhead + i) % QUEUE_MAX];
    r->qcount = 0;
    pthread_mutex_unlock(&r->lock);
    answer_expired(left);
    for (unsigned i = 0; i < nq; i++) {
        queued[i]->retry_after = 1;
        finish(queued[i], 503, error_doc("shutting_down", "the server is stopping; retry on another replica"));
    }
    jsCtx_Destroy(r->js);
    natsConnection_Destroy(r->nc);
    for (unsigned i = 0; i < RESULTS; i++)
        free(r->results[i].doc);
    for (size_t i = 0; i < r->nlogs; i++)
        free(r->logs[i].seqs);
    free(r->logs);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->cond);
    free(r->urls);
    free(r->creds);
    free(r->tls_ca);
    free(r->data_dir);
    free(r);
}
