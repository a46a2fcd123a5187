/*
 * src/trips_http.c: the trip endpoints (contract: index/index.h, "trips"; docs/api.md, Trips).
 *
 *   GET  /v1/trips            round trips and open jaws, from the query string
 *   POST /v1/trips            multi-city, 2 to 4 slices, from a JSON body (a read: ETag, any replica)
 *   GET  /v1/calendar/trips   the (outbound date, return date) grid of the cheapest round trips
 *
 * Every slice is validated by fs_query_parse, the search's own parser, over a query string built
 * from the request: the outbound's is the request's own parameters (less the return_* ones), the
 * return's the same with origin, destination, dates and cabin replaced by the return's, a POST
 * slice's its fields plus the body's shared options. So a trip is refused exactly where a search
 * would be (max_stops included, whatever the search accepts), with the field renamed for the
 * trip (return_date, slices[2].origin).
 *
 * A trip cursor is "T1<sort letter>.<trip sort value>" then, per slice, "." and the search
 * cursor of that slice's itinerary (fs_cursor_encode: base64url, no dots): stateless and valid
 * across generations as the search's are.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "src/body_json.h"
#include "src/internal.h"

#define TRIP_BODY_MAX (16 * 1024)
#define STAY_MAX 90
#define VALUE_CAP 600

static int fail(fs_param_error_t *err, const char *param, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(fs_param_error_t *err, const char *param, const char *fmt, ...)
{
    snprintf(err->parameter, sizeof(err->parameter), "%s", param);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return FS_EINVAL;
}

/* ----------------------------------------------------------- strings */

typedef struct buf {
    char *p;
    size_t len, cap;
    int overflow; /* something did not fit: the text must not be used */
} buf_t;

static void buf_raw(buf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->overflow = 1;
        n = b->cap > b->len + 1 ? b->cap - b->len - 1 : 0;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* "&name=value" with value as it came (already percent-encoded) */
static void buf_param_raw(buf_t *b, const char *name, const char *value, size_t value_len)
{
    if (b->len > 0)
        buf_raw(b, "&", 1);
    buf_raw(b, name, strlen(name));
    buf_raw(b, "=", 1);
    buf_raw(b, value, value_len);
}

/* "&name=value" with value percent-encoded */
static void buf_param(buf_t *b, const char *name, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    if (b->len > 0)
        buf_raw(b, "&", 1);
    buf_raw(b, name, strlen(name));
    buf_raw(b, "=", 1);
    for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == ',' || *p == '-' ||
            *p == '_' || *p == ':') {
            buf_raw(b, (const char *)p, 1);
        } else {
            char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            buf_raw(b, esc, 3);
        }
    }
}

/* ------------------------------------------------------------- cursor */

static const char sort_letters[] = {'m', 'd', 't'};

size_t fs_trip_cursor_encode(enum fs_sort sort, const fs_trip_t *t, char *out, size_t cap)
{
    int n = snprintf(out, cap, "T1%c.%lld", sort_letters[sort], (long long)t->sort_value);
    if (n < 0 || (size_t)n >= cap)
        return 0;
    size_t len = (size_t)n;
    for (unsigned k = 0; k < t->slice_count && len + 2 < cap; k++) {
        out[len++] = '.';
        len += fs_cursor_encode(sort, &t->slices[k], out + len, cap - len);
    }
    return len;
}

static int cursor_decode(enum fs_sort sort, unsigned slices, const char *s, size_t len, fs_trip_cursor_t *out,
                         fs_param_error_t *err)
{
    static const char restart[] = "cursor: not a next_cursor of this trip query; restart from the first page (without cursor)";
    memset(out, 0, sizeof(*out));
    if (len < 4 || len >= FS_TRIP_CURSOR_TOKEN_MAX || s[0] != 'T' || s[1] != '1' || memchr(sort_letters, s[2], 3) == NULL || s[3] != '.')
        return fail(err, "cursor", "%s", restart);
    if (s[2] != sort_letters[sort])
        return fail(err, "cursor", "cursor: made for another sort; use the sort of the query that returned it, or restart "
                                   "from the first page (without cursor)");
    char text[FS_TRIP_CURSOR_TOKEN_MAX];
    memcpy(text, s, len);
    text[len] = '\0';
    char *p = text + 4, *end;
    long long v = strtoll(p, &end, 10);
    if (end == p || *end != '.')
        return fail(err, "cursor", "%s", restart);
    out->sort_value = v;
    p = end;
    while (*p == '.') {
        char *tok = p + 1, *dot = strchr(tok, '.');
        size_t tlen = dot != NULL ? (size_t)(dot - tok) : strlen(tok);
        const char *why = NULL;
        if (out->slice_count == FS_TRIP_MAX_SLICES ||
            fs_cursor_decode(sort, tok, tlen, &out->slices[out->slice_count], &why) != 0)
            return fail(err, "cursor", "%s", restart);
        out->slice_count++;
        p = tok + tlen;
    }
    if (*p != '\0' || out->slice_count != slices)
        return fail(err, "cursor", "%s", restart);
    out->present = 1;
    return 0;
}

/* ------------------------------------------------------- GET requests */

enum { T_RETURN_DATE, T_RETURN_START, T_RETURN_END, T_RETURN_ORIGIN, T_RETURN_DESTINATION, T_RETURN_CABIN, T_MIN_STAY,
       T_MAX_STAY, T_CURSOR, T_COUNT };
static const char *const trip_names[T_COUNT] = {"return_date",   "return_start_date", "return_end_date",
                                                "return_origin", "return_destination", "return_cabin",
                                                "min_stay",      "max_stay",           "cursor"};

/* The return slice's parameter for a search parameter the parser named. */
static const char *return_name(const char *param)
{
    static const char *const map[][2] = {{"origin", "return_origin"},         {"destination", "return_destination"},
                                         {"date", "return_date"},             {"start_date", "return_start_date"},
                                         {"end_date", "return_end_date"},     {"cabin", "return_cabin"}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(param, map[i][0]) == 0)
            return map[i][1];
    return param;
}

static int parse_stay(const char *name, const char *v, size_t len, int *out, fs_param_error_t *err)
{
    int n = 0;
    if (len == 0 || len > 3)
        return fail(err, name, "%s: expected whole days from 0 to %d, got '%.*s'", name, STAY_MAX, (int)(len > 20 ? 20 : len), v);
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return fail(err, name, "%s: expected whole days from 0 to %d, got '%.*s'", name, STAY_MAX, (int)len, v);
        n = n * 10 + (v[i] - '0');
    }
    if (n > STAY_MAX)
        return fail(err, name, "%s: expected whole days from 0 to %d, got %d", name, STAY_MAX, n);
    *out = n;
    return 0;
}

/* GET /v1/trips and /v1/calendar/trips: the query string into a 2-slice trip query. */
int fs_trips_parse_query(fs_endpoint_t ep, const char *qs, size_t len, fs_trip_query_t *q, fs_param_error_t *err)
{
    fs_trip_query_init(q);
    err->parameter[0] = err->message[0] = '\0';
    const char *tv[T_COUNT] = {0};
    size_t tl[T_COUNT] = {0};
    const char *origin = NULL, *destination = NULL, *cabin = NULL;
    size_t origin_len = 0, destination_len = 0, cabin_len = 0;
    size_t cap = len + 512;
    char *out_qs = malloc(cap), *ret_qs = malloc(cap + 3 * 600);
    if (out_qs == NULL || ret_qs == NULL) {
        free(out_qs);
        free(ret_qs);
        return fail(err, "", "out of memory");
    }
    buf_t out = {out_qs, 0, cap, 0}, ret = {ret_qs, 0, cap + 3 * 600, 0};
    out_qs[0] = ret_qs[0] = '\0';
    int rc = 0;
    for (const char *p = qs, *end = qs + len; p < end && rc == 0;) {
        const char *amp = memchr(p, '&', (size_t)(end - p)), *item_end = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(item_end - p));
        size_t name_len = (size_t)((eq ? eq : item_end) - p);
        const char *value = eq ? eq + 1 : item_end;
        size_t value_len = (size_t)(item_end - value);
        int which = -1;
        for (int i = 0; i < T_COUNT; i++)
            if (strlen(trip_names[i]) == name_len && memcmp(trip_names[i], p, name_len) == 0)
                which = i;
        if (which >= 0 && ep == FS_EP_CALENDAR_TRIPS && which == T_CURSOR)
            which = -1; /* the grid has no pages: refused as unknown by the parser */
        if (which >= 0) {
            if (tv[which] != NULL)
                rc = fail(err, trip_names[which], "%s is given more than once", trip_names[which]);
            else if (value_len == 0)
                rc = fail(err, trip_names[which], "%s: the value is empty", trip_names[which]);
            tv[which] = value;
            tl[which] = value_len;
        } else if (item_end > p) {
            if (out.len > 0)
                buf_raw(&out, "&", 1);
            buf_raw(&out, p, (size_t)(item_end - p));
            int replaced = 0;
#define IS(n) (name_len == strlen(n) && memcmp(p, n, name_len) == 0)
            if (IS("origin")) {
                origin = value;
                origin_len = value_len;
                replaced = 1;
            } else if (IS("destination")) {
                destination = value;
                destination_len = value_len;
                replaced = 1;
            } else if (IS("cabin")) {
                cabin = value;
                cabin_len = value_len;
                replaced = 1;
            } else if (IS("date") || IS("start_date") || IS("end_date")) {
                replaced = 1;
            }
#undef IS
            if (!replaced) {
                if (ret.len > 0)
                    buf_raw(&ret, "&", 1);
                buf_raw(&ret, p, (size_t)(item_end - p));
            }
        }
        p = item_end + (amp ? 1 : 0);
    }
    if (rc == 0)
        rc = fs_query_parse(ep, out_qs, out.len, &q->slices[0], err);
    const fs_search_query_t *o = &q->slices[0];
    int stays = tv[T_MIN_STAY] != NULL || tv[T_MAX_STAY] != NULL;
    int explicit_dates = tv[T_RETURN_DATE] != NULL || tv[T_RETURN_START] != NULL || tv[T_RETURN_END] != NULL;
    if (rc == 0 && !stays && !explicit_dates)
        rc = fail(err, "return_date",
                  "the return is required: return_date, return_start_date and return_end_date, or min_stay and max_stay (days)");
    if (rc == 0 && stays && (tv[T_MIN_STAY] == NULL || tv[T_MAX_STAY] == NULL))
        rc = fail(err, tv[T_MIN_STAY] == NULL ? "min_stay" : "max_stay", "min_stay and max_stay go together (days from the "
                                                                          "outbound date to the return date)");
    if (rc == 0 && stays &&
        (parse_stay("min_stay", tv[T_MIN_STAY], tl[T_MIN_STAY], &q->min_stay, err) != 0 ||
         parse_stay("max_stay", tv[T_MAX_STAY], tl[T_MAX_STAY], &q->max_stay, err) != 0))
        rc = FS_EINVAL;
    if (rc == 0 && stays && q->min_stay > q->max_stay)
        rc = fail(err, "max_stay", "max_stay (%d) is less than min_stay (%d)", q->max_stay, q->min_stay);
    if (rc == 0) {
        /* the return slice: the outbound's parameters with its own airports, dates and cabin */
        if (tv[T_RETURN_ORIGIN] != NULL)
            buf_param_raw(&ret, "origin", tv[T_RETURN_ORIGIN], tl[T_RETURN_ORIGIN]);
        else if (destination != NULL)
            buf_param_raw(&ret, "origin", destination, destination_len);
        if (tv[T_RETURN_DESTINATION] != NULL)
            buf_param_raw(&ret, "destination", tv[T_RETURN_DESTINATION], tl[T_RETURN_DESTINATION]);
        else if (origin != NULL)
            buf_param_raw(&ret, "destination", origin, origin_len);
        if (tv[T_RETURN_CABIN] != NULL)
            buf_param_raw(&ret, "cabin", tv[T_RETURN_CABIN], tl[T_RETURN_CABIN]);
        else if (cabin != NULL)
            buf_param_raw(&ret, "cabin", cabin, cabin_len);
        if (tv[T_RETURN_DATE] != NULL)
            buf_param_raw(&ret, "date", tv[T_RETURN_DATE], tl[T_RETURN_DATE]);
        if (tv[T_RETURN_START] != NULL)
            buf_param_raw(&ret, "start_date", tv[T_RETURN_START], tl[T_RETURN_START]);
        if (tv[T_RETURN_END] != NULL)
            buf_param_raw(&ret, "end_date", tv[T_RETURN_END], tl[T_RETURN_END]);
        if (!explicit_dates) { /* the dates the stays reach */
            char d[11];
            d[fs_date_format(o->start_day + q->min_stay, d)] = '\0';
            buf_param(&ret, "start_date", d);
            d[fs_date_format(o->end_day + q->max_stay, d)] = '\0';
            buf_param(&ret, "end_date", d);
        }
        rc = fs_query_parse(ep, ret_qs, ret.len, &q->slices[1], err);
        if (rc != 0) {
            char param[sizeof(err->parameter)];
            snprintf(param, sizeof(param), "%s", explicit_dates || strstr(err->parameter, "date") == NULL
                                                      ? return_name(err->parameter)
                                                      : "max_stay");
            snprintf(err->parameter, sizeof(err->parameter), "%s", param);
            char msg[sizeof(err->message) - 12];
            snprintf(msg, sizeof(msg), "%.*s", (int)sizeof(msg) - 1, err->message);
            snprintf(err->message, sizeof(err->message), "the return: %s", msg);
        }
    }
    if (rc == 0 && q->slices[1].end_day < o->start_day)
        rc = fail(err, tv[T_RETURN_DATE] != NULL ? "return_date" : "return_end_date",
                  "the return dates end before the first outbound date; a return departs after the outbound");
    if (rc == 0) {
        q->slice_count = 2;
        q->min_connection = o->min_connection;
        q->sort = o->sort;
        q->limit = o->limit;
        if (tv[T_CURSOR] != NULL)
            rc = cursor_decode(q->sort, 2, tv[T_CURSOR], tl[T_CURSOR], &q->cursor, err);
    }
    free(out_qs);
    free(ret_qs);
    return rc;
}

/* ------------------------------------------------------ POST requests */

static int peek(fs_jp_t *j, char c)
{
    fs_jp_skip_ws(j);
    return j->p < j->end && *j->p == c;
}

/* A string, a nonnegative integer, true, false, or an array of strings (joined with commas). */
static int parse_scalar(fs_jp_t *j, char *out, size_t cap)
{
    fs_jp_skip_ws(j);
    if (peek(j, '"'))
        return fs_jp_string(j, out, cap);
    if (peek(j, '[')) {
        j->p++;
        size_t n = 0;
        out[0] = '\0';
        if (peek(j, ']')) {
            j->p++;
            return 0;
        }
        for (;;) {
            char item[64];
            if (fs_jp_string(j, item, sizeof(item)) != 0)
                return -1;
            size_t l = strlen(item);
            if (n + l + 2 >= cap)
                return -1;
            if (n > 0)
                out[n++] = ',';
            memcpy(out + n, item, l + 1);
            n += l;
            if (peek(j, ',')) {
                j->p++;
                continue;
            }
            if (peek(j, ']')) {
                j->p++;
                return 0;
            }
            return -1;
        }
    }
    static const char *const words[] = {"true", "false"};
    for (int w = 0; w < 2; w++) {
        size_t l = strlen(words[w]);
        if ((size_t)(j->end - j->p) >= l && memcmp(j->p, words[w], l) == 0) {
            j->p += l;
            snprintf(out, cap, "%s", words[w]);
            return 0;
        }
    }
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

typedef struct slice_in {
    char qs[4096];
    buf_t b;
} slice_in_t;

static const char *const slice_fields[] = {"origin", "destination", "date", "start_date", "end_date"};

static int is_slice_field(const char *name)
{
    for (size_t i = 0; i < sizeof(slice_fields) / sizeof(slice_fields[0]); i++)
        if (strcmp(name, slice_fields[i]) == 0)
            return 1;
    return 0;
}

/* One slice object into its query string. */
static int parse_slice(fs_jp_t *j, unsigned i, slice_in_t *s, fs_param_error_t *err)
{
    s->b = (buf_t){s->qs, 0, sizeof(s->qs), 0};
    s->qs[0] = '\0';
    if (!peek(j, '{'))
        return fail(err, "slices", "slices[%u]: expected an object with origin, destination and date", i);
    j->p++;
    if (peek(j, '}')) {
        j->p++;
        return 0;
    }
    for (;;) {
        char name[40], value[VALUE_CAP];
        if (fs_jp_string(j, name, sizeof(name)) != 0)
            return fail(err, "slices", "slices[%u]: malformed JSON: expected a field name in double quotes", i);
        if (!peek(j, ':'))
            return fail(err, "slices", "slices[%u]: malformed JSON: expected ':' after %s", i, name);
        j->p++;
        if (!is_slice_field(name))
            return fail(err, "slices", "slices[%u]: unknown field '%s' (a slice has origin, destination, date or start_date "
                                       "and end_date)", i, name);
        if (parse_scalar(j, value, sizeof(value)) != 0)
            return fail(err, "slices", "slices[%u].%s: expected a string or an array of strings", i, name);
        buf_param(&s->b, name, value);
        if (peek(j, ',')) {
            j->p++;
            continue;
        }
        if (peek(j, '}')) {
            j->p++;
            return 0;
        }
        return fail(err, "slices", "slices[%u]: malformed JSON: expected ',' or '}'", i);
    }
}

/* POST /v1/trips: {"slices": [...], options...} into a trip query. */
int fs_trips_parse_body(const char *body, size_t len, fs_trip_query_t *q, fs_param_error_t *err)
{
    fs_trip_query_init(q);
    err->parameter[0] = err->message[0] = '\0';
    static __thread slice_in_t slices[FS_TRIP_MAX_SLICES + 1];
    unsigned nslices = 0;
    int have_slices = 0;
    char opts[2048], cursor[FS_TRIP_CURSOR_TOKEN_MAX];
    buf_t ob = {opts, 0, sizeof(opts), 0};
    opts[0] = cursor[0] = '\0';
    fs_jp_t j = {body, body + len};
    if (!peek(&j, '{'))
        return fail(err, "", "the body must be a JSON object (Content-Type: application/json) with slices");
    j.p++;
    if (peek(&j, '}'))
        j.p++;
    else
        for (;;) {
            char name[40], value[VALUE_CAP];
            if (fs_jp_string(&j, name, sizeof(name)) != 0)
                return fail(err, "", "malformed JSON: expected a field name in double quotes");
            if (!peek(&j, ':'))
                return fail(err, name, "malformed JSON: expected ':' after the field name");
            j.p++;
            if (strcmp(name, "slices") == 0) {
                if (have_slices)
                    return fail(err, "slices", "slices is given more than once");
                have_slices = 1;
                if (!peek(&j, '['))
                    return fail(err, "slices", "slices: expected an array of 2 to %d slices", FS_TRIP_MAX_SLICES);
                j.p++;
                if (peek(&j, ']')) {
                    j.p++;
                } else {
                    for (;;) {
                        if (nslices > FS_TRIP_MAX_SLICES)
                            return fail(err, "slices", "slices: at most %d slices", FS_TRIP_MAX_SLICES);
                        if (parse_slice(&j, nslices, &slices[nslices], err) != 0)
                            return FS_EINVAL;
                        nslices++;
                        if (peek(&j, ',')) {
                            j.p++;
                            continue;
                        }
                        if (peek(&j, ']')) {
                            j.p++;
                            break;
                        }
                        return fail(err, "slices", "slices: malformed JSON: expected ',' or ']'");
                    }
                }
            } else if (is_slice_field(name)) {
                return fail(err, name, "%s belongs in each slice (slices[i].%s)", name, name);
            } else {
                if (parse_scalar(&j, value, sizeof(value)) != 0)
                    return fail(err, name, "%s: expected a string, a whole number, true, false or an array of strings", name);
                if (strcmp(name, "cursor") == 0) {
                    if (cursor[0] != '\0')
                        return fail(err, "cursor", "cursor is given more than once");
                    snprintf(cursor, sizeof(cursor), "%s", value);
                } else {
                    buf_param(&ob, name, value); /* unknown or repeated: refused by the parser below */
                }
            }
            if (peek(&j, ',')) {
                j.p++;
                continue;
            }
            if (peek(&j, '}')) {
                j.p++;
                break;
            }
            return fail(err, "", "malformed JSON: expected ',' or '}'");
        }
    fs_jp_skip_ws(&j);
    if (j.p != j.end)
        return fail(err, "", "malformed JSON: text after the object");
    if (!have_slices || nslices < 2 || nslices > FS_TRIP_MAX_SLICES)
        return fail(err, "slices", "slices: a trip has 2 to %d slices, got %u", FS_TRIP_MAX_SLICES, nslices);
    for (unsigned i = 0; i < nslices; i++) {
        slice_in_t *s = &slices[i];
        if (ob.len > 0) {
            buf_raw(&s->b, "&", 1);
            buf_raw(&s->b, opts, ob.len);
        }
        if (s->b.overflow || ob.overflow)
            return fail(err, "", "the body's fields are too long together; send fewer codes or sources");
        if (fs_query_parse(FS_EP_TRIPS, s->qs, s->b.len, &q->slices[i], err) != 0) {
            if (is_slice_field(err->parameter)) {
                char param[sizeof(err->parameter)];
                snprintf(param, sizeof(param), "slices[%u].%.20s", i, err->parameter);
                snprintf(err->parameter, sizeof(err->parameter), "%s", param);
            }
            return FS_EINVAL;
        }
        if (i > 0 && q->slices[i].end_day < q->slices[i - 1].start_day)
            return fail(err, "slices", "slices[%u]: its dates end before those of slices[%u] begin; each slice departs after "
                                       "the previous one arrives", i, i - 1);
    }
    q->slice_count = nslices;
    q->min_connection = q->slices[0].min_connection;
    q->sort = q->slices[0].sort;
    q->limit = q->slices[0].limit;
    if (cursor[0] != '\0')
        return cursor_decode(q->sort, nslices, cursor, strlen(cursor), &q->cursor, err);
    return 0;
}

/* ------------------------------------------------------------ answers */

static void enc_date(fs_enc_t *e, int32_t day)
{
    char buf[10];
    fs_enc_str(e, buf, fs_date_format(day, buf));
}

static void enc_trip(fs_enc_t *e, const fs_trip_t *t)
{
    char id[FS_TRIP_MAX_SLICES * FS_ID_MAX];
    size_t n = 0;
    unsigned seats = 99;
    for (unsigned k = 0; k < t->slice_count; k++) {
        if (k > 0)
            id[n++] = ',';
        n += fs_result_id(&t->slices[k], id + n);
        if (t->slices[k].seats < seats)
            seats = t->slices[k].seats;
    }
    fs_enc_map_begin(e);
    fs_enc_key_lit(e, "id");
    fs_enc_str(e, id, n);
    fs_enc_key_lit(e, "miles");
    fs_enc_uint(e, t->miles);
    /* taxes per currency, in the order the currencies first appear in the slices */
    fs_enc_key_lit(e, "taxes");
    fs_enc_array_begin(e);
    for (unsigned k = 0; k < t->slice_count; k++) {
        int seen = 0;
        for (unsigned p = 0; p < k; p++)
            seen |= t->slices[p].currency == t->slices[k].currency;
        if (seen)
            continue;
        uint64_t cents = 0;
        for (unsigned p = k; p < t->slice_count; p++)
            if (t->slices[p].currency == t->slices[k].currency)
                cents += t->slices[p].taxes_cents;
        char cur[4];
        fs_currency_format(t->slices[k].currency, cur);
        fs_enc_map_begin(e);
        fs_enc_key_lit(e, "currency");
        fs_enc_str(e, cur, 3);
        fs_enc_key_lit(e, "taxes_cents");
        fs_enc_uint(e, cents);
        fs_enc_map_end(e);
    }
    fs_enc_array_end(e);
    fs_enc_key_lit(e, "duration_min");
    fs_enc_uint(e, t->duration_min);
    fs_enc_key_lit(e, "seats");
    fs_enc_uint(e, seats);
    fs_enc_key_lit(e, "slices");
    fs_enc_array_begin(e);
    for (unsigned k = 0; k < t->slice_count; k++)
        fs_enc_search_result(e, &t->slices[k], FS_FIELDS_ALL);
    fs_enc_array_end(e);
    fs_enc_map_end(e);
}

static int answer_trips(h2o_req_t *req, fs_worker_t *w, const fs_generation_t *gen, fs_trip_query_t *q, fs_enc_format_t format,
                        uint64_t started_us)
{
    fs_trip_t *trips = malloc(sizeof(*trips) * q->limit);
    fs_trip_result_t res;
    int rc = trips == NULL ? FS_ENOMEM : fs_trips(gen, q, trips, &res);
    if (rc != 0) {
        fs_index_read_end(w->shared->index, &w->index_thread);
        free(trips);
        if (rc == FS_ETIMEDOUT)
            return fs_http_over_budget(req, w, FS_EP_TRIPS, started_us);
        return fs_send_error(req, 503, "out_of_memory", NULL, "no memory for this trip query; retry later", FS_EP_TRIPS,
                             started_us);
    }
    size_t size = 2048; /* the page fields and "searched"; then each trip's fields and slices */
    for (unsigned i = 0; i < res.count; i++) {
        size += 160;
        for (unsigned k = 0; k < res.trips[i].slice_count; k++)
            size += fs_enc_result_size(&res.trips[i].slices[k]);
    }
    fs_enc_t e;
    fs_enc_init(&e, format, &req->pool, size);
    fs_enc_map_begin(&e);
    fs_enc_key_lit(&e, "trips");
    fs_enc_array_begin(&e);
    for (unsigned i = 0; i < res.count; i++)
        enc_trip(&e, &res.trips[i]);
    fs_enc_array_end(&e);
    fs_enc_key_lit(&e, "count");
    fs_enc_uint(&e, res.count);
    fs_enc_key_lit(&e, "total");
    fs_enc_uint(&e, res.total);
    fs_enc_key_lit(&e, "next_cursor");
    if (res.has_more && res.count > 0) {
        char cursor[FS_TRIP_CURSOR_TOKEN_MAX];
        fs_enc_str(&e, cursor, fs_trip_cursor_encode(q->sort, &res.trips[res.count - 1], cursor, sizeof(cursor)));
    } else {
        fs_enc_null(&e);
    }
    free(trips);
    return fs_http_finish_read(req, w, FS_EP_TRIPS, gen, &q->slices[0], &e, started_us);
}

static int answer_grid(h2o_req_t *req, fs_worker_t *w, const fs_generation_t *gen, fs_trip_query_t *q, fs_enc_format_t format,
                       uint64_t started_us)
{
    const fs_search_query_t *o = &q->slices[0], *r = &q->slices[1];
    int32_t days0 = o->end_day - o->start_day + 1, days1 = r->end_day - r->start_day + 1;
    fs_trip_cell_t *cells = malloc(sizeof(*cells) * (size_t)days0 * (size_t)days1 * FS_CABIN_COUNT);
    int rc = cells == NULL ? FS_ENOMEM : fs_trip_grid(gen, q, cells);
    if (rc != 0) {
        fs_index_read_end(w->shared->index, &w->index_thread);
        free(cells);
        if (rc == FS_ETIMEDOUT)
            return fs_http_over_budget(req, w, FS_EP_CALENDAR_TRIPS, started_us);
        return fs_send_error(req, 503, "out_of_memory", NULL, "no memory for this grid; retry later", FS_EP_CALENDAR_TRIPS,
                             started_us);
    }
    size_t size = 2048; /* "searched" and the rest; then each cell that has a cabin, and its cabins */
    for (size_t i = 0; i < (size_t)days0 * (size_t)days1; i++) {
        size_t cabins = 0;
        for (int c = 0; c < FS_CABIN_COUNT; c++)
            cabins += cells[i * FS_CABIN_COUNT + (size_t)c].count > 0;
        size += cabins > 0 ? 64 + cabins * 40 : 0;
    }
    fs_enc_t e;
    fs_enc_init(&e, format, &req->pool, size);
    fs_enc_map_begin(&e);
    fs_enc_key_lit(&e, "cells");
    fs_enc_array_begin(&e);
    for (int32_t d0 = 0; d0 < days0; d0++) {
        for (int32_t d1 = 0; d1 < days1; d1++) {
            const fs_trip_cell_t *row = &cells[((size_t)d0 * (size_t)days1 + (size_t)d1) * FS_CABIN_COUNT];
            int any = 0;
            for (int c = 0; c < FS_CABIN_COUNT; c++)
                any |= row[c].count > 0;
            if (!any)
                continue;
            fs_enc_map_begin(&e);
            fs_enc_key_lit(&e, "date");
            enc_date(&e, o->start_day + d0);
            fs_enc_key_lit(&e, "return_date");
            enc_date(&e, r->start_day + d1);
            for (int c = 0; c < FS_CABIN_COUNT; c++) {
                if (row[c].count == 0)
                    continue;
                fs_enc_key(&e, fs_cabin_names[c], strlen(fs_cabin_names[c]));
                fs_enc_map_begin(&e);
                fs_enc_key_lit(&e, "min_miles");
                fs_enc_uint(&e, row[c].min_miles);
                fs_enc_key_lit(&e, "count");
                fs_enc_uint(&e, row[c].count);
                fs_enc_map_end(&e);
            }
            fs_enc_map_end(&e);
        }
    }
    fs_enc_array_end(&e);
    free(cells);
    return fs_http_finish_read(req, w, FS_EP_CALENDAR_TRIPS, gen, o, &e, started_us);
}

int fs_handle_trips(h2o_req_t *req, fs_worker_t *w, fs_conn_state_t *conn, fs_endpoint_t ep, uint64_t started_us)
{
    int is_get = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"));
    int is_head = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    int is_post = ep == FS_EP_TRIPS && h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"));
    if (!is_get && !is_head && !is_post) {
        if (ep == FS_EP_TRIPS)
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET, HEAD, POST"));
        else
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET, HEAD"));
        char msg[160];
        snprintf(msg, sizeof(msg), "%.*s is not allowed on %s; use %s", (int)(req->method.len > 16 ? 16 : req->method.len),
                 req->method.base, fs_endpoint_names[ep], ep == FS_EP_TRIPS ? "GET, or POST for multi-city" : "GET");
        return fs_send_error(req, 405, "method_not_allowed", NULL, msg, ep, started_us);
    }
    size_t body_len = req->entity.base != NULL ? req->entity.len : 0;
    if (!is_post && body_len > 0)
        return fs_send_error(req, 413, "body_not_allowed", NULL, "GET takes no request body (POST /v1/trips does)", ep,
                             started_us);
    if (is_post && body_len > TRIP_BODY_MAX)
        return fs_send_error(req, 413, "body_too_large", NULL, "a trip body is at most 16 KiB", ep, started_us);
    if (fs_keys_authorize(req, w, ep, started_us, NULL) != 0)
        return 0;
    if (fs_http_shed_if_overloaded(req, w, conn, ep, started_us))
        return 0;
    fs_trip_query_t q;
    fs_param_error_t err;
    int rc;
    if (is_post) {
        rc = fs_trips_parse_body(req->entity.base, body_len, &q, &err);
    } else {
        const char *qs = "";
        size_t qlen = 0;
        if (req->query_at != SIZE_MAX) {
            qs = req->path.base + req->query_at + 1;
            qlen = req->path.len - req->query_at - 1;
        }
        rc = fs_trips_parse_query(ep, qs, qlen, &q, &err);
    }
    if (rc != 0)
        return fs_send_error(req, 400, "invalid_parameter", err.parameter, err.message, ep,
                             started_us);
    fs_enc_format_t format = fs_http_negotiate(req);
    const fs_generation_t *gen = fs_index_read_begin(w->shared->index, &w->index_thread);
    /* a POST's answer depends on its body as a GET's on its query string */
    uint64_t salt = is_post ? fs_hash64(req->entity.base, body_len) : 0;
    if (fs_http_etag_check(req, gen->number, format, salt, ep, started_us)) {
        fs_index_read_end(w->shared->index, &w->index_thread);
        return 0;
    }
    q.deadline_us = (int64_t)started_us + (int64_t)w->shared->config->search_budget_ms * 1000;
    return ep == FS_EP_TRIPS ? answer_trips(req, w, gen, &q, format, started_us) : answer_grid(req, w, gen, &q, format, started_us);
}
