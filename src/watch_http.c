/*
 * src/watch_http.c: the watch endpoints and their event streams (contract: src/watch.h).
 *
 *   POST   /v1/watches               create (201)
 *   GET    /v1/watches               list
 *   GET    /v1/watches/{id}          one
 *   DELETE /v1/watches/{id}          remove (204)
 *   GET    /v1/watches/{id}/events   its events, as Server-Sent Events
 *   GET    /v1/events                every watch's events (the process's; API keys will scope it)
 *
 * The body is a small JSON object. Rather than a second validator, it is turned into the query
 * string of a search (each value percent-encoded) and parsed by fs_query_parse for the watches
 * endpoint, so a watch is refused exactly where a search would be, with the same messages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "src/internal.h"
#include "src/watch.h"

/* ------------------------------------------------------------ the body */

typedef struct jp {
    const char *p, *end;
} jp_t;

static void skip_ws(jp_t *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

/* A JSON string without escapes other than \" \\ \/ (codes and names need no others) into out. */
static int parse_string(jp_t *j, char *out, size_t cap)
{
    if (j->p >= j->end || *j->p != '"')
        return -1;
    j->p++;
    size_t n = 0;
    while (j->p < j->end && *j->p != '"') {
        char c = *j->p++;
        if (c == '\\') {
            if (j->p >= j->end || (*j->p != '"' && *j->p != '\\' && *j->p != '/'))
                return -1;
            c = *j->p++;
        }
        if ((unsigned char)c < 0x20 || n + 1 >= cap)
            return -1;
        out[n++] = c;
    }
    if (j->p >= j->end)
        return -1;
    j->p++;
    out[n] = '\0';
    return 0;
}

/* A nonnegative integer (no fraction, no exponent) into out. */
static int parse_uint(jp_t *j, char *out, size_t cap)
{
    size_t n = 0;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
        if (n + 1 >= cap)
            return -1;
        out[n++] = *j->p++;
    }
    if (n == 0 || (j->p < j->end && (*j->p == '.' || *j->p == 'e' || *j->p == 'E')))
        return -1;
    out[n] = '\0';
    return 0;
}

#define VALUE_CAP 600

/* A string, an integer, or an array of strings (joined with commas) into out. */
static int parse_value(jp_t *j, char *out, size_t cap)
{
    skip_ws(j);
    if (j->p < j->end && *j->p == '"')
        return parse_string(j, out, cap);
    if (j->p < j->end && *j->p == '[') {
        j->p++;
        size_t n = 0;
        skip_ws(j);
        if (j->p < j->end && *j->p == ']') {
            j->p++;
            out[0] = '\0';
            return 0;
        }
        for (;;) {
            skip_ws(j);
            char item[64];
            if (parse_string(j, item, sizeof(item)) != 0)
                return -1;
            size_t l = strlen(item);
            if (n + l + 2 >= cap)
                return -1;
            if (n > 0)
                out[n++] = ',';
            memcpy(out + n, item, l);
            n += l;
            skip_ws(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                continue;
            }
            if (j->p < j->end && *j->p == ']') {
                j->p++;
                out[n] = '\0';
                return 0;
            }
            return -1;
        }
    }
    return parse_uint(j, out, cap);
}

static int fail(fs_param_error_t *err, const char *field, const char *msg)
{
    snprintf(err->parameter, sizeof(err->parameter), "%s", field);
    snprintf(err->message, sizeof(err->message), "%s", msg);
    return FS_EINVAL;
}

static void append_param(char *qs, size_t cap, size_t *len, const char *name, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = *len;
    if (n > 0 && n + 1 < cap)
        qs[n++] = '&';
    for (const char *p = name; *p != '\0' && n + 1 < cap; p++)
        qs[n++] = *p;
    if (n + 1 < cap)
        qs[n++] = '=';
    for (const unsigned char *p = (const unsigned char *)value; *p != '\0' && n + 3 < cap; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == ',' || *p == '-' ||
            *p == '_') {
            qs[n++] = (char)*p;
        } else {
            qs[n++] = '%';
            qs[n++] = hex[*p >> 4];
            qs[n++] = hex[*p & 15];
        }
    }
    qs[n] = '\0';
    *len = n;
}

int fs_watch_parse(const char *body, size_t len, fs_watch_criteria_t *out, fs_param_error_t *err)
{
    static const char *const search_fields[] = {"origin", "destination", "date",    "start_date", "end_date",
                                                "cabin",  "seats",       "sources", "carriers",   "max_stops"};
    memset(out, 0, sizeof(*out));
    out->notify = FS_WATCH_OPENED;
    err->parameter[0] = err->message[0] = '\0';
    jp_t j = {body, body + len};
    char qs[4096];
    size_t qlen = 0;
    qs[0] = '\0';
    unsigned seen = 0;
    skip_ws(&j);
    if (j.p >= j.end || *j.p != '{')
        return fail(err, "", "the body must be a JSON object (Content-Type: application/json)");
    j.p++;
    skip_ws(&j);
    if (j.p < j.end && *j.p == '}') {
        j.p++;
    } else {
        for (;;) {
            char name[40], value[VALUE_CAP];
            skip_ws(&j);
            if (parse_string(&j, name, sizeof(name)) != 0)
                return fail(err, "", "malformed JSON: expected a field name in double quotes");
            skip_ws(&j);
            if (j.p >= j.end || *j.p != ':')
                return fail(err, name, "malformed JSON: expected ':' after the field name");
            j.p++;
            if (parse_value(&j, value, sizeof(value)) != 0) {
                char msg[160];
                snprintf(msg, sizeof(msg), "%s: expected a string, a whole number or an array of strings", name);
                return fail(err, name, msg);
            }
            int known = 0;
            for (unsigned i = 0; i < sizeof(search_fields) / sizeof(search_fields[0]); i++)
                if (strcmp(name, search_fields[i]) == 0) {
                    known = 1;
                    if (seen & (1u << i)) {
                        char msg[120];
                        snprintf(msg, sizeof(msg), "%s is given more than once", name);
                        return fail(err, name, msg);
                    }
                    seen |= 1u << i;
                    append_param(qs, sizeof(qs), &qlen, name, value);
                }
            if (strcmp(name, "max_miles") == 0) {
                char *endp;
                unsigned long v = strtoul(value, &endp, 10);
                if (*endp != '\0' || value[0] < '0' || value[0] > '9' || v < 1 || v > FS_MAX_MILES)
                    return fail(err, "max_miles", "max_miles: expected a whole number from 1 to 10000000");
                out->max_miles = (uint32_t)v;
                known = 1;
            } else if (strcmp(name, "notify") == 0) {
                unsigned mask = 0;
                for (char *tok = strtok(value, ","); tok != NULL; tok = strtok(NULL, ","))
                    mask |= strcmp(tok, "opened") == 0     ? FS_WATCH_OPENED
                            : strcmp(tok, "closed") == 0   ? FS_WATCH_CLOSED
                            : strcmp(tok, "repriced") == 0 ? FS_WATCH_REPRICED
                                                           : 8u;
                if (mask == 0 || (mask & 8u))
                    return fail(err, "notify", "notify: expected a non-empty list of opened, closed, repriced");
                out->notify = mask;
                known = 1;
            }
            if (!known) {
                char msg[160];
                snprintf(msg, sizeof(msg), "unknown field '%s' (see docs/api.md, Watches)", name);
                return fail(err, name, msg);
            }
            skip_ws(&j);
            if (j.p < j.end && *j.p == ',') {
                j.p++;
                continue;
            }
            if (j.p < j.end && *j.p == '}') {
                j.p++;
                break;
            }
            return fail(err, "", "malformed JSON: expected ',' or '}'");
        }
    }
    skip_ws(&j);
    if (j.p != j.end)
        return fail(err, "", "malformed JSON: text after the object");
    return fs_query_parse(FS_EP_WATCHES, qs, qlen, &out->q, err);
}

static void enc_airport_list(fs_enc_t *e, const fs_airport_t *a, unsigned n)
{
    fs_enc_array_begin(e);
    for (unsigned i = 0; i < n; i++) {
        char buf[4];
        fs_airport_format(a[i], buf);
        fs_enc_str(e, buf, 3);
    }
    fs_enc_array_end(e);
}

void fs_watch_encode_criteria(fs_enc_t *e, const fs_watch_criteria_t *c)
{
    char buf[10];
    fs_enc_key_lit(e, "origin");
    enc_airport_list(e, c->q.origins, c->q.origin_count);
    fs_enc_key_lit(e, "destination");
    enc_airport_list(e, c->q.destinations, c->q.destination_count);
    fs_enc_key_lit(e, "start_date");
    fs_enc_str(e, buf, fs_date_format(c->q.start_day, buf));
    fs_enc_key_lit(e, "end_date");
    fs_enc_str(e, buf, fs_date_format(c->q.end_day, buf));
    fs_enc_key_lit(e, "cabin");
    if (c->q.cabin >= 0)
        fs_enc_cstr(e, fs_cabin_names[c->q.cabin]);
    else
        fs_enc_null(e);
    fs_enc_key_lit(e, "seats");
    fs_enc_uint(e, c->q.seats);
    fs_enc_key_lit(e, "max_miles");
    if (c->max_miles != 0)
        fs_enc_uint(e, c->max_miles);
    else
        fs_enc_null(e);
    fs_enc_key_lit(e, "max_stops");
    fs_enc_uint(e, c->q.max_stops);
    fs_enc_key_lit(e, "sources");
    fs_enc_array_begin(e);
    for (unsigned i = 0; i < c->q.source_count; i++)
        fs_enc_cstr(e, c->q.sources[i]);
    fs_enc_array_end(e);
    fs_enc_key_lit(e, "carriers");
    fs_enc_array_begin(e);
    for (unsigned i = 0; i < c->q.carrier_count; i++) {
        char cb[3];
        fs_carrier_format(c->q.carriers[i], cb);
        fs_enc_str(e, cb, 2);
    }
    fs_enc_array_end(e);
    fs_enc_key_lit(e, "notify");
    fs_enc_array_begin(e);
    if (c->notify & FS_WATCH_OPENED)
        fs_enc_str_lit(e, "opened");
    if (c->notify & FS_WATCH_CLOSED)
        fs_enc_str_lit(e, "closed");
    if (c->notify & FS_WATCH_REPRICED)
        fs_enc_str_lit(e, "repriced");
    fs_enc_array_end(e);
}
