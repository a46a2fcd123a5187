/*
 * src/webhook.h: webhook deliveries of watch events (the contract; src/webhook.c holds it).
 *
 * A watch may name a webhook (url, secret). Each of its events is POSTed to the url as the event's
 * JSON with two headers:
 *   Flightsearch-Event-Id: ID
 *   Flightsearch-Signature: t=UNIX,v1=HEX   HEX = lowercase hex of HMAC-SHA256(secret, "UNIX." + body)
 * A 2xx answer is a delivery; anything else, a connection error or a timeout is retried with
 * exponential backoff and jitter (retry_ms, doubling, at most an hour apart) until 24 h after the
 * event was made; then it is given up (last_failure says so). At-least-once and in order per watch:
 * a watch's next event is not sent before the previous one is delivered or given up.
 *
 * Durability. Events to deliver are appended to DATA_DIR/outbox and fdatasync'd in one write per
 * publish (fs_webhooks_commit) before the delivery thread may send them; a delivery appends a mark
 * (not synced: a lost mark only means one more delivery). At open the file is read back, torn
 * trailing bytes ignored, and its pending events queued again (the receiver may see an event
 * twice; the event id lets it drop the repeat). The file is emptied when nothing is pending.
 *
 * Threads. Deliveries run on the module's own thread with libcurl's multi interface, never on an
 * event loop. One mutex guards the targets, queues and the file; every function may be called from
 * any thread. The engine (src/watch.c) calls target/forget/stage/commit with its own mutex held:
 * this module never calls back into it.
 */
#ifndef FS_WEBHOOK_H
#define FS_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>
#include "src/enc.h"

typedef struct fs_webhook_options {
    int allow_private;       /* deliver to loopback and private addresses too (--webhook-allow-private) */
    unsigned retry_ms;       /* delay before the first retry; each next one doubles (--webhook-retry-ms, 1000) */
    unsigned timeout_ms;     /* one attempt's limit, connection included (10000) */
} fs_webhook_options_t;

#define FS_WEBHOOK_URL_MAX 2048
#define FS_WEBHOOK_SECRET_MAX 256
/** How long an event is retried (seconds from its making). */
#define FS_WEBHOOK_GIVE_UP_S (24 * 3600)

typedef struct fs_webhooks fs_webhooks_t;

/** A deliverer (no thread yet, no outbox: events are then kept in memory only). NULL on ENOMEM. */
fs_webhooks_t *fs_webhooks_new(const fs_webhook_options_t *o);
/** Stops the thread (in-flight attempts are abandoned: they stay pending in the outbox) and frees. */
void fs_webhooks_free(fs_webhooks_t *wh);
/** Starts the delivery thread. 0 or FS_ENOMEM. */
int fs_webhooks_start(fs_webhooks_t *wh);

/**
 * Opens DATA_DIR/outbox and queues the events it holds undelivered (for watches whose targets are
 * set later: fs_webhooks_prune drops those of watches that are gone). Returns how many, or FS_EIO
 * with err.
 */
int fs_webhooks_open(fs_webhooks_t *wh, const char *data_dir, char *err, size_t errcap);
/** Drops the queued events of watches that have no target (deleted before a restart). */
void fs_webhooks_prune(fs_webhooks_t *wh);

/** Sets (or replaces) a watch's url and secret. 0 or FS_ENOMEM. */
int fs_webhooks_target(fs_webhooks_t *wh, uint64_t watch_id, const char *url, const char *secret);
/** Forgets a watch's target and its pending events (the watch is deleted). */
void fs_webhooks_forget(fs_webhooks_t *wh, uint64_t watch_id);
/** Stages one event for a watch's webhook; nothing is sent before fs_webhooks_commit. 0 or FS_ENOMEM. */
int fs_webhooks_stage(fs_webhooks_t *wh, uint64_t watch_id, uint64_t event_id, const char *json, size_t len);
/** Makes the staged events durable (one append and fdatasync) and hands them to the thread. 0 or
 *  FS_EIO (they are still queued and delivered, but a crash before delivery would lose them). */
int fs_webhooks_commit(fs_webhooks_t *wh);

/** Writes a watch's delivery status as the members of an open map: "pending", "last_success"
 *  ({"event_id", "at"} or null), "last_failure" ({"event_id", "at", "attempts", "error"} or null). */
void fs_webhooks_encode_status(fs_webhooks_t *wh, uint64_t watch_id, fs_enc_t *e);

/**
 * Checks a webhook url: http:// or https://, a host, and (unless allow_private) every address the
 * host resolves to is public (not loopback, private, link-local, unique-local, CGNAT, multicast or
 * unspecified). Resolves the name (getaddrinfo): call it where blocking briefly is acceptable. 0 or
 * FS_EINVAL with msg saying why. The delivery thread checks the addresses again at each connection.
 */
int fs_webhook_check_url(const char *url, int allow_private, char *msg, size_t cap);

/** The signature header's value for body at unix time t: "t=T,v1=HEX". out: at least 96 bytes. */
void fs_webhook_sign(const char *secret, int64_t t, const char *body, size_t len, char *out, size_t cap);

#endif
