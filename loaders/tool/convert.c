/*
 * loaders/tool/convert.c: `flightsearch-feed convert`: CSV or JSON Lines in, a snapshot or a
 * delta out (msgpack through msgpack-c's packer, or JSON).
 *
 * The converter checks only what it must to do its job: the CSV's shape (header, field counts,
 * whole numbers, cabin names), which rows are the same leg, and that JSON Lines are JSON. Every
 * rule of the feed itself (codes, ranges, times, durations, duplicate keys) is left to
 * fs_feed_decode, run over the file just written, so a converted file meets exactly the checks
 * the server applies. To keep those messages useful, each output record remembers the input line
 * (and, for a CSV leg, the line of each cabin) it came from, and the decoder's "record 3, field
 * cabins.economy.miles" is printed as "line 17, column miles".
 *
 * The output goes to a temporary file next to OUT and is renamed over OUT only when the check
 * passes, so a refused conversion leaves no file a script could push by mistake.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "loaders/tool/feed_tool.h"

void ft_convert_usage(FILE *fp)
{
    fprintf(fp, "usage: " FT_NAME " convert --source S --sequence N [--generated-at T] [--delta]\n"
                "                         [--format msgpack|json] [--input csv|jsonl] IN OUT\n"
                "\n"
                "Builds a snapshot (or, with --delta, a delta of upserts and removes) from IN, one leg per\n"
                "line, writes it to OUT, and checks OUT with the server's decoder. OUT is replaced only when\n"
                "that check passes; problems are reported by input line and column.\n"
                "\n"
                "IN, by its name (--input overrides):\n"
                "  .csv     a header line naming the columns, in any order, then one row per leg AND cabin:\n"
                "             carrier      2-character airline code              TP\n"
                "             flight       flight number, 1-9999                 82\n"
                "             origin       IATA airport code                     GRU\n"
                "             destination  IATA airport code                     LIS\n"
                "             departs_at   local time with UTC offset            2026-12-01T21:35:00-03:00\n"
                "             arrives_at   local time with UTC offset            2026-12-02T11:05:00+00:00\n"
                "             cabin        economy, premium, business or first   business\n"
                "             seats        award seats left, 0-99                2\n"
                "             miles        miles, 1-10000000                     157500\n"
                "             taxes_cents  taxes in minor units                  45678\n"
                "             currency     ISO 4217 code                         EUR\n"
                "             action       deltas only, optional: upsert (default) or remove\n"
                "           Rows with the same carrier, flight, origin and departs_at are one leg with several\n"
                "           cabins (they need not be adjacent). A remove row uses only carrier, flight, origin\n"
                "           and the date of departs_at (a bare YYYY-MM-DD is fine there); leave the rest empty.\n"
                "           Quoting as in RFC 4180; blank lines are skipped; an unknown column is an error.\n"
                "  .jsonl   one leg per line, an object in the snapshot schema:\n"
                "             {\"carrier\":\"TP\",\"flight\":82,\"origin\":\"GRU\",\"destination\":\"LIS\",\n"
                "              \"departs_at\":\"2026-12-01T21:35:00-03:00\",\"arrives_at\":\"2026-12-02T11:05:00+00:00\",\n"
                "              \"cabins\":{\"economy\":{\"seats\":9,\"miles\":35000,\"taxes_cents\":12345,\"currency\":\"BRL\"}}}\n"
                "           in a delta, a removal is {\"remove\":{\"carrier\":\"TP\",\"flight\":82,\"origin\":\"GRU\",\n"
                "           \"date\":\"2026-12-01\"}}.\n"
                "\n"
                "options:\n"
                "  --source S              the partner's name, [a-z0-9_-]{1,32} (required)\n"
                "  --sequence N            the feed's sequence number, 1 or more (required)\n"
                "  --generated-at T        when the partner produced the data, like 2026-11-21T20:00:00Z\n"
                "                          (default: now, UTC)\n"
                "  --delta                 write a delta (default: when OUT's name contains \".delta.\")\n"
                "  --snapshot              write a snapshot whatever OUT's name\n"
                "  --format msgpack|json   OUT's format (default: from OUT's name, .msgpack or .json)\n"
                "  --input csv|jsonl       IN's format (default: from IN's name, .csv or .jsonl)\n"
                "\n"
                "output: stdout gets \"OUT: valid snapshot of source tap, sequence 42, 3 legs (from 7 rows of\n"
                "IN)\". Input problems go to stderr as \"IN: line 17, column miles: 'abc' is not a whole\n"
                "number\"; problems the server's checks find are printed the same way, after the server's\n"
                "JSON error document on stdout (as validate prints it).\n"
                "\n"
                "exit codes: 0 written and valid, 1 the input or the result is invalid (OUT untouched),\n"
                "2 bad usage or a file that cannot be read or written (3 is not used by convert).\n"
                "\n"
                "examples:\n"
                "  " FT_NAME " convert --source tap --sequence 42 tap.csv feeds/tap-42.msgpack\n"
                "  " FT_NAME " convert --source tap --sequence 43 changes.csv feeds/tap-43.delta.msgpack\n"
                "  " FT_NAME " convert --source tap --sequence 44 --generated-at 2026-11-22T06:00:00Z \\\n"
                "      --format json legs.jsonl feeds/tap-44.json\n");
}

/* ---------------------------------------------------------------- state */

typedef struct cv_str {
    const char *p;
    uint32_t len;
} cv_str_t;

typedef struct cv_cabin {
    uint32_t line; /* 0: the leg has no such cabin */
    int64_t seats, miles, taxes_cents;
    cv_str_t currency;
} cv_cabin_t;

/* A CSV leg, merged from its rows. Strings point into the mapped input (or the arena). */
typedef struct cv_leg {
    cv_str_t carrier, origin, destination, departs_at, arrives_at;
    int64_t flight;
    uint32_t line; /* the leg's first row */
    int dep_parsed;
    fs_localtime_t dep;
    cv_cabin_t cabin[FS_CABIN_COUNT];
} cv_leg_t;

enum { LIST_LEGS, LIST_REMOVE, LIST_COUNT }; /* LIST_LEGS: snapshot legs or delta upserts */

#define CV_MAX_SHOWN 20

typedef struct cv {
    const char *in_path;
    int csv;
    fs_feed_format_t format;
    fs_feed_kind_t kind;
    uint64_t rows;   /* data rows or lines read (blank ones not counted) */
    uint64_t errors; /* input problems found */

    /* CSV legs, and the table that finds a leg from its key (index + 1, 0 = empty). */
    cv_leg_t *legs;
    size_t leg_count, leg_cap;
    uint32_t *slots;
    size_t slot_cap;

    /* The output records, already encoded, and the input line of each. */
    msgpack_sbuffer list[LIST_COUNT];
    uint64_t count[LIST_COUNT];
    uint32_t *lines[LIST_COUNT];
    size_t lines_cap[LIST_COUNT];

    /* Unescaped CSV fields live here until the end. */
    char *arena;
    size_t arena_left;

    ft_tree_t tree;
} cv_t;

/* "IN: line 17, column miles: 'abc' is not a whole number". column NULL: the line only. */
__attribute__((format(printf, 4, 5))) static void input_error(cv_t *cv, uint32_t line, const char *column, const char *fmt, ...)
{
    va_list ap;

    if (cv->errors++ >= CV_MAX_SHOWN)
        return;
    fprintf(stderr, "%s: line %" PRIu32, cv->in_path, line);
    if (column != NULL)
        fprintf(stderr, ", %s %s", cv->csv ? "column" : "field", column);
    fprintf(stderr, ": ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* A value for a message: printable ASCII, cut at 40 characters. */
static const char *shown(char *out, size_t cap, cv_str_t s)
{
    size_t n = 0, keep = s.len < 40 ? s.len : 37;

    for (size_t i = 0; i < keep && n + 1 < cap; i++) {
        unsigned char c = (unsigned char)s.p[i];
        out[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?'; /* NOLINT(bugprone-narrowing-conversions): 0x20..0x7e or '?' */
    }
    if (keep < s.len && n + 3 < cap) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
    return out;
}

static int str_eq(cv_str_t a, cv_str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static char *arena_copy(cv_t *cv, size_t len)
{
    if (len > cv->arena_left) {
        size_t size = len > 65536 ? len : 65536;
        cv->arena = ft_xrealloc(NULL, size); /* blocks are never freed: the process ends soon */
        cv->arena_left = size;
    }
    char *p = cv->arena;
    cv->arena += len;
    cv->arena_left -= len;
    return p;
}

/* Appends the record just encoded in cv->tree to a list, with its line. */
static void add_record(cv_t *cv, int list, long root, uint32_t line)
{
    if (cv->count[list] == cv->lines_cap[list]) {
        cv->lines_cap[list] = cv->lines_cap[list] != 0 ? cv->lines_cap[list] * 2 : 1024;
        cv->lines[list] = ft_xrealloc(cv->lines[list], cv->lines_cap[list] * sizeof(uint32_t));
    }
    cv->lines[list][cv->count[list]] = line;
    if (cv->format == FS_FEED_JSON)
        msgpack_sbuffer_write(&cv->list[list], cv->count[list] == 0 ? "\n" : ",\n", cv->count[list] == 0 ? 1 : 2);
    ft_tree_encode(&cv->tree, root, cv->format, &cv->list[list]);
    cv->count[list]++;
}

/* ----------------------------------------------------------------- CSV */

enum {
    COL_CARRIER,
    COL_FLIGHT,
    COL_ORIGIN,
    COL_DESTINATION,
    COL_DEPARTS_AT,
    COL_ARRIVES_AT,
    COL_CABIN,
    COL_SEATS,
    COL_MILES,
    COL_TAXES_CENTS,
    COL_CURRENCY,
    COL_ACTION,
    COL_COUNT
};
static const char *const col_names[COL_COUNT] = {"carrier", "flight", "origin", "destination", "departs_at", "arrives_at",
                                                 "cabin",   "seats",  "miles",  "taxes_cents", "currency",   "action"};

#define CSV_MAX_FIELDS 64

typedef struct csv {
    const char *p, *end;
    uint32_t line; /* the line p is on */
} csv_t;

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/*
 * Reads one record (RFC 4180: fields separated by commas, optionally in double quotes with ""
 * for a quote, records ending at a line break outside quotes; CRLF or LF). Unquoted fields are
 * trimmed of spaces and tabs. Returns the number of fields (up to CSV_MAX_FIELDS are stored, more
 * are counted), 0 at the end of the input, or -1 on a quote problem (reported). *line gets the
 * line the record starts on.
 */
static int csv_record(cv_t *cv, csv_t *c, cv_str_t *fields, uint32_t *line)
{
    int n = 0;

    if (c->p >= c->end)
        return 0;
    *line = c->line;
    for (;;) {
        cv_str_t f = {c->p, 0};
        const char *p = c->p, *end = c->end;
        while (p < end && is_blank(*p))
            p++;
        if (p < end && *p == '"') {
            p++;
            size_t quotes = 0;
            const char *s = p;
            for (;;) {
                if (p >= end) {
                    input_error(cv, *line, NULL, "a quoted field opened on this line is never closed");
                    c->p = end;
                    return -1;
                }
                if (*p == '"') {
                    if (p + 1 < end && p[1] == '"') {
                        quotes++;
                        p += 2;
                        continue;
                    }
                    break;
                }
                if (*p == '\n')
                    c->line++;
                p++;
            }
            if (quotes == 0) {
                f.p = s;
                f.len = (uint32_t)(p - s);
            } else {
                char *copy = arena_copy(cv, (size_t)(p - s) - quotes);
                size_t k = 0;
                for (const char *q = s; q < p; q++) {
                    copy[k++] = *q;
                    if (*q == '"')
                        q++;
                }
                f.p = copy;
                f.len = (uint32_t)k;
            }
            p++; /* the closing quote */
            while (p < end && is_blank(*p))
                p++;
            if (p < end && *p != ',' && *p != '\n' && !(*p == '\r' && (p + 1 == end || p[1] == '\n'))) {
                input_error(cv, c->line, NULL, "unexpected '%c' after a closing quote (a quote inside a field is written \"\")",
                            *p);
                while (p < end && *p != ',' && *p != '\n')
                    p++;
            }
        } else {
            const char *s = p;
            while (p < end && *p != ',' && *p != '\n')
                p++;
            const char *e = p;
            if (e > s && e[-1] == '\r' && (p == end || *p == '\n'))
                e--;
            while (e > s && is_blank(e[-1]))
                e--;
            f.p = s;
            f.len = (uint32_t)(e - s);
        }
        if (n < CSV_MAX_FIELDS)
            fields[n] = f;
        n++;
        if (p < end && *p == ',') {
            c->p = p + 1;
            continue;
        }
        if (p < end && *p == '\r')
            p++;
        if (p < end && *p == '\n') {
            p++;
            c->line++;
        }
        c->p = p;
        return n;
    }
}

/* A whole number (an optional minus sign and digits). 1, or 0 after reporting. */
static int csv_int(cv_t *cv, uint32_t line, int col, cv_str_t s, int64_t *out)
{
    char buf[64];
    uint64_t v = 0;
    size_t i = 0;
    int neg = 0;

    if (s.len == 0) {
        input_error(cv, line, col_names[col], "is empty; a whole number is required");
        return 0;
    }
    if (s.p[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i == s.len) {
        input_error(cv, line, col_names[col], "'%s' is not a whole number", shown(buf, sizeof(buf), s));
        return 0;
    }
    for (; i < s.len; i++) {
        if (s.p[i] < '0' || s.p[i] > '9') {
            input_error(cv, line, col_names[col], "'%s' is not a whole number", shown(buf, sizeof(buf), s));
            return 0;
        }
        if (v > ((uint64_t)INT64_MAX - (uint64_t)(s.p[i] - '0')) / 10) {
            input_error(cv, line, col_names[col], "'%s' is too large", shown(buf, sizeof(buf), s));
            return 0;
        }
        v = v * 10 + (uint64_t)(s.p[i] - '0');
    }
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 1;
}

static uint64_t hash_bytes(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

/* The merge key: carrier, flight, origin and the departure, compared as parsed when it parses
 * (so 21:35 and 21:35:00 are the same leg), else as written (the decoder reports it later). */
static uint64_t leg_hash(const cv_leg_t *l)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    h = hash_bytes(h, l->carrier.p, l->carrier.len);
    h = hash_bytes(h, "|", 1);
    h = hash_bytes(h, &l->flight, sizeof(l->flight));
    h = hash_bytes(h, l->origin.p, l->origin.len);
    h = hash_bytes(h, "|", 1);
    if (l->dep_parsed) {
        h = hash_bytes(h, &l->dep.day, sizeof(l->dep.day));
        h = hash_bytes(h, &l->dep.minute, sizeof(l->dep.minute));
        h = hash_bytes(h, &l->dep.offset_min, sizeof(l->dep.offset_min));
    } else {
        h = hash_bytes(h, l->departs_at.p, l->departs_at.len);
    }
    return h;
}

static int same_departure(const cv_leg_t *a, const cv_leg_t *b)
{
    if (a->dep_parsed != b->dep_parsed)
        return 0;
    if (a->dep_parsed)
        return a->dep.day == b->dep.day && a->dep.minute == b->dep.minute && a->dep.offset_min == b->dep.offset_min;
    return str_eq(a->departs_at, b->departs_at);
}

static int same_leg(const cv_leg_t *a, const cv_leg_t *b)
{
    return str_eq(a->carrier, b->carrier) && a->flight == b->flight && str_eq(a->origin, b->origin) && same_departure(a, b);
}

static int same_time(cv_str_t a, cv_str_t b)
{
    fs_localtime_t x, y;
    if (fs_datetime_parse(a.p, a.len, &x) == 0 && fs_datetime_parse(b.p, b.len, &y) == 0)
        return x.day == y.day && x.minute == y.minute && x.offset_min == y.offset_min;
    return str_eq(a, b);
}

static void slots_grow(cv_t *cv)
{
    size_t cap = cv->slot_cap != 0 ? cv->slot_cap * 2 : 4096;
    uint32_t *slots = ft_xrealloc(NULL, cap * sizeof(*slots));

    memset(slots, 0, cap * sizeof(*slots));
    for (size_t i = 0; i < cv->leg_count; i++) {
        size_t j = (size_t)leg_hash(&cv->legs[i]) & (cap - 1);
        while (slots[j] != 0)
            j = (j + 1) & (cap - 1);
        slots[j] = (uint32_t)(i + 1);
    }
    free(cv->slots);
    cv->slots = slots;
    cv->slot_cap = cap;
}

/* The leg with l's key, or a new one copied from l (cabins empty). */
static cv_leg_t *find_or_add_leg(cv_t *cv, const cv_leg_t *l, int *added)
{
    if ((cv->leg_count + 1) * 2 > cv->slot_cap)
        slots_grow(cv);
    size_t j = (size_t)leg_hash(l) & (cv->slot_cap - 1);
    while (cv->slots[j] != 0) {
        cv_leg_t *x = &cv->legs[cv->slots[j] - 1];
        if (same_leg(x, l)) {
            *added = 0;
            return x;
        }
        j = (j + 1) & (cv->slot_cap - 1);
    }
    if (cv->leg_count == cv->leg_cap) {
        cv->leg_cap = cv->leg_cap != 0 ? cv->leg_cap * 2 : 1024;
        cv->legs = ft_xrealloc(cv->legs, cv->leg_cap * sizeof(*cv->legs));
    }
    cv->slots[j] = (uint32_t)(cv->leg_count + 1);
    cv_leg_t *x = &cv->legs[cv->leg_count++];
    *x = *l;
    *added = 1;
    return x;
}

/* A CSV remove row, straight to the remove list. */
static void csv_remove(cv_t *cv, uint32_t line, const cv_str_t *v, int64_t flight)
{
    ft_tree_t *t = &cv->tree;
    cv_str_t date = v[COL_DEPARTS_AT];

    if (date.len > 10 && date.p[10] == 'T')
        date.len = 10;
    ft_tree_reset(t);
    long root = ft_tree_open(t, FT_MAP);
    ft_tree_str(t, "carrier", 7);
    ft_tree_str(t, v[COL_CARRIER].p, v[COL_CARRIER].len);
    ft_tree_str(t, "flight", 6);
    ft_tree_int(t, flight);
    ft_tree_str(t, "origin", 6);
    ft_tree_str(t, v[COL_ORIGIN].p, v[COL_ORIGIN].len);
    ft_tree_str(t, "date", 4);
    ft_tree_str(t, date.p, date.len);
    ft_tree_close(t, root);
    add_record(cv, LIST_REMOVE, root, line);
}

/* One data row: its values by column. */
static void csv_row(cv_t *cv, uint32_t line, const cv_str_t *v, int has_action)
{
    char a[64], b[64];
    int remove = 0, ok = 1;
    int64_t flight = 0, seats = 0, miles = 0, taxes = 0;
    int cabin = -1;

    if (has_action && v[COL_ACTION].len > 0) {
        if (v[COL_ACTION].len == 6 && strncasecmp(v[COL_ACTION].p, "remove", 6) == 0)
            remove = 1;
        else if (!(v[COL_ACTION].len == 6 && strncasecmp(v[COL_ACTION].p, "upsert", 6) == 0)) {
            input_error(cv, line, "action", "'%s' must be upsert or remove", shown(a, sizeof(a), v[COL_ACTION]));
            return;
        }
    }
    ok &= csv_int(cv, line, COL_FLIGHT, v[COL_FLIGHT], &flight);
    if (remove) {
        if (ok)
            csv_remove(cv, line, v, flight);
        return;
    }
    cabin = fs_cabin_parse(v[COL_CABIN].p, v[COL_CABIN].len);
    if (cabin < 0) {
        if (v[COL_CABIN].len == 0)
            input_error(cv, line, "cabin", "is empty; a cabin is economy, premium, business or first");
        else
            input_error(cv, line, "cabin", "'%s' is not a cabin; cabins are economy, premium, business, first",
                        shown(a, sizeof(a), v[COL_CABIN]));
        ok = 0;
    }
    ok &= csv_int(cv, line, COL_SEATS, v[COL_SEATS], &seats);
    ok &= csv_int(cv, line, COL_MILES, v[COL_MILES], &miles);
    ok &= csv_int(cv, line, COL_TAXES_CENTS, v[COL_TAXES_CENTS], &taxes);
    if (!ok)
        return;

    cv_leg_t l;
    memset(&l, 0, sizeof(l));
    l.carrier = v[COL_CARRIER];
    l.flight = flight;
    l.origin = v[COL_ORIGIN];
    l.destination = v[COL_DESTINATION];
    l.departs_at = v[COL_DEPARTS_AT];
    l.arrives_at = v[COL_ARRIVES_AT];
    l.line = line;
    l.dep_parsed = fs_datetime_parse(l.departs_at.p, l.departs_at.len, &l.dep) == 0;

    int added;
    cv_leg_t *x = find_or_add_leg(cv, &l, &added);
    if (!added) {
        if (!str_eq(x->destination, l.destination)) {
            input_error(cv, line, "destination", "'%s' differs from '%s' on line %" PRIu32 " for the same flight",
                        shown(a, sizeof(a), l.destination), shown(b, sizeof(b), x->destination), x->line);
            return;
        }
        if (!same_time(x->arrives_at, l.arrives_at)) {
            input_error(cv, line, "arrives_at", "'%s' differs from '%s' on line %" PRIu32 " for the same flight",
                        shown(a, sizeof(a), l.arrives_at), shown(b, sizeof(b), x->arrives_at), x->line);
            return;
        }
        if (x->cabin[cabin].line != 0) {
            input_error(cv, line, "cabin", "%s is already given for this flight on line %" PRIu32, fs_cabin_names[cabin],
                        x->cabin[cabin].line);
            return;
        }
    }
    cv_cabin_t *c = &x->cabin[cabin];
    c->line = line;
    c->seats = seats;
    c->miles = miles;
    c->taxes_cents = taxes;
    c->currency = v[COL_CURRENCY];
}

static void csv_read(cv_t *cv, const char *data, size_t len)
{
    cv_str_t fields[CSV_MAX_FIELDS], v[COL_COUNT];
    int pos[COL_COUNT];
    csv_t c = {data, data + len, 1};
    uint32_t line = 0;
    char buf[64];
    int n, ncols = 0;

    if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
        c.p += 3; /* a UTF-8 byte order mark, as spreadsheets write */

    /* The header: the first line that is not blank. */
    do {
        n = csv_record(cv, &c, fields, &line);
    } while (n == 1 && fields[0].len == 0);
    if (n <= 0) {
        if (n == 0)
            input_error(cv, 1, NULL, "the file is empty; a header line naming the columns is required");
        return;
    }
    for (int k = 0; k < COL_COUNT; k++)
        pos[k] = -1;
    int bad = 0;
    for (int i = 0; i < n && i < CSV_MAX_FIELDS; i++) {
        int k;
        for (k = 0; k < COL_COUNT; k++) {
            if (fields[i].len == strlen(col_names[k]) && strncasecmp(fields[i].p, col_names[k], fields[i].len) == 0)
                break;
        }
        if (k == COL_COUNT) {
            input_error(cv, line, shown(buf, sizeof(buf), fields[i]),
                        "unknown column; the columns are carrier, flight, origin, destination, departs_at, arrives_at, "
                        "cabin, seats, miles, taxes_cents, currency (and action in a delta)");
            bad = 1;
        } else if (pos[k] >= 0) {
            input_error(cv, line, col_names[k], "appears twice in the header");
            bad = 1;
        } else if (k == COL_ACTION && cv->kind != FS_FEED_DELTA) {
            input_error(cv, line, "action", "is only for deltas (use --delta, or an output name containing \".delta.\")");
            bad = 1;
        } else {
            pos[k] = i;
        }
    }
    if (n > CSV_MAX_FIELDS) {
        input_error(cv, line, NULL, "%d columns; at most %d are read", n, CSV_MAX_FIELDS);
        bad = 1;
    }
    for (int k = 0; k < COL_ACTION; k++) {
        if (pos[k] < 0) {
            input_error(cv, line, col_names[k], "is missing from the header");
            bad = 1;
        }
    }
    if (bad)
        return;
    ncols = n;

    while ((n = csv_record(cv, &c, fields, &line)) != 0) {
        if (n < 0)
            return;
        int empty = 1;
        for (int i = 0; i < n && i < CSV_MAX_FIELDS && empty; i++)
            empty = fields[i].len == 0;
        if (empty && (n == 1 || n == ncols))
            continue; /* a blank line, or a row of empty cells */
        cv->rows++;
        if (n != ncols) {
            input_error(cv, line, NULL, "%d %s, but the header has %d columns", n, n == 1 ? "field" : "fields", ncols);
            continue;
        }
        for (int k = 0; k < COL_COUNT; k++)
            v[k] = pos[k] >= 0 ? fields[pos[k]] : (cv_str_t){"", 0};
        csv_row(cv, line, v, pos[COL_ACTION] >= 0);
    }
}

/* Every CSV leg becomes a record, in the order of its first row. */
static void csv_emit_legs(cv_t *cv)
{
    ft_tree_t *t = &cv->tree;

    for (size_t i = 0; i < cv->leg_count; i++) {
        const cv_leg_t *l = &cv->legs[i];
        ft_tree_reset(t);
        long root = ft_tree_open(t, FT_MAP);
        ft_tree_str(t, "carrier", 7);
        ft_tree_str(t, l->carrier.p, l->carrier.len);
        ft_tree_str(t, "flight", 6);
        ft_tree_int(t, l->flight);
        ft_tree_str(t, "origin", 6);
        ft_tree_str(t, l->origin.p, l->origin.len);
        ft_tree_str(t, "destination", 11);
        ft_tree_str(t, l->destination.p, l->destination.len);
        ft_tree_str(t, "departs_at", 10);
        ft_tree_str(t, l->departs_at.p, l->departs_at.len);
        ft_tree_str(t, "arrives_at", 10);
        ft_tree_str(t, l->arrives_at.p, l->arrives_at.len);
        ft_tree_str(t, "cabins", 6);
        long cabins = ft_tree_open(t, FT_MAP);
        for (int c = 0; c < FS_CABIN_COUNT; c++) {
            const cv_cabin_t *x = &l->cabin[c];
            if (x->line == 0)
                continue;
            ft_tree_str(t, fs_cabin_names[c], strlen(fs_cabin_names[c]));
            long m = ft_tree_open(t, FT_MAP);
            ft_tree_str(t, "seats", 5);
            ft_tree_int(t, x->seats);
            ft_tree_str(t, "miles", 5);
            ft_tree_int(t, x->miles);
            ft_tree_str(t, "taxes_cents", 11);
            ft_tree_int(t, x->taxes_cents);
            ft_tree_str(t, "currency", 8);
            ft_tree_str(t, x->currency.p, x->currency.len);
            ft_tree_close(t, m);
        }
        ft_tree_close(t, cabins);
        ft_tree_close(t, root);
        add_record(cv, LIST_LEGS, root, l->line);
    }
}

/* ---------------------------------------------------------- JSON Lines */

static const char *type_word(ft_type_t type)
{
    switch (type) {
    case FT_MAP:
        return "an object";
    case FT_ARRAY:
        return "an array";
    case FT_STR:
        return "a string";
    case FT_BOOL:
        return "a boolean";
    case FT_NIL:
        return "null";
    default:
        return "a number";
    }
}

static void jsonl_read(cv_t *cv, const char *data, size_t len)
{
    ft_tree_t *t = &cv->tree;
    const char *p = data, *end = data + len;
    char err[256], path[256], num[64];
    uint32_t line = 0;

    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *next = eol != NULL ? eol + 1 : end;
        const char *e = eol != NULL ? eol : end;
        line++;
        const char *s = p;
        p = next;
        while (s < e && (*s == ' ' || *s == '\t' || *s == '\r'))
            s++;
        if (s == e)
            continue; /* blank */
        cv->rows++;
        long float_node;
        ft_tree_reset(t);
        long root = ft_tree_parse_json(t, s, (size_t)(e - s), err, sizeof(err), path, sizeof(path), &float_node);
        if (root < 0) {
            input_error(cv, line, NULL, "not valid JSON: %s", err);
            continue;
        }
        if (t->n[root].type != FT_MAP) {
            input_error(cv, line, NULL, "must be a JSON object (one leg), got %s", type_word(t->n[root].type));
            continue;
        }
        if (float_node >= 0) {
            cv_str_t x = {ft_tree_text(t, &t->n[float_node]), t->n[float_node].v.s.len};
            input_error(cv, line, path, "%s is not a whole number", shown(num, sizeof(num), x));
            continue;
        }
        long rm = t->n[root].count == 1 ? ft_tree_get(t, root, "remove") : -1;
        if (rm >= 0) {
            if (cv->kind != FS_FEED_DELTA) {
                input_error(cv, line, NULL,
                            "a {\"remove\": ...} line is only for deltas (use --delta, or an output name containing "
                            "\".delta.\")");
                continue;
            }
            add_record(cv, LIST_REMOVE, rm, line);
            continue;
        }
        add_record(cv, LIST_LEGS, root, line);
    }
}

/* ------------------------------------------------------------- writing */

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static int sbuf_write(void *data, const char *buf, size_t len)
{
    return msgpack_sbuffer_write(data, buf, len);
}

/* The whole document to fd: the header fields first (so the decoder never needs to look ahead),
 * then the record lists. */
static int write_document(const cv_t *cv, int fd, const char *source, uint64_t sequence, const char *generated_at)
{
    const char *first = cv->kind == FS_FEED_SNAPSHOT ? "legs" : "upsert";
    msgpack_sbuffer head, mid, tail;
    int r = 0;

    msgpack_sbuffer_init(&head);
    msgpack_sbuffer_init(&mid);
    msgpack_sbuffer_init(&tail);
    if (cv->format == FS_FEED_MSGPACK) {
        msgpack_packer pk;
        msgpack_packer_init(&pk, &head, sbuf_write);
        msgpack_pack_map(&pk, cv->kind == FS_FEED_SNAPSHOT ? 4 : 5);
        msgpack_pack_str_with_body(&pk, "source", 6);
        msgpack_pack_str_with_body(&pk, source, strlen(source));
        msgpack_pack_str_with_body(&pk, "sequence", 8);
        msgpack_pack_uint64(&pk, sequence);
        msgpack_pack_str_with_body(&pk, "generated_at", 12);
        msgpack_pack_str_with_body(&pk, generated_at, strlen(generated_at));
        msgpack_pack_str_with_body(&pk, first, strlen(first));
        msgpack_pack_array(&pk, (size_t)cv->count[LIST_LEGS]);
        if (cv->kind == FS_FEED_DELTA) {
            msgpack_packer_init(&pk, &mid, sbuf_write);
            msgpack_pack_str_with_body(&pk, "remove", 6);
            msgpack_pack_array(&pk, (size_t)cv->count[LIST_REMOVE]);
        }
    } else {
        char num[48];
        msgpack_sbuffer_write(&head, "{\"source\":", 10);
        ft_json_string(&head, source, strlen(source));
        snprintf(num, sizeof(num), ",\"sequence\":%" PRIu64, sequence);
        msgpack_sbuffer_write(&head, num, strlen(num));
        msgpack_sbuffer_write(&head, ",\"generated_at\":", 16);
        ft_json_string(&head, generated_at, strlen(generated_at));
        msgpack_sbuffer_write(&head, ",", 1);
        ft_json_string(&head, first, strlen(first));
        msgpack_sbuffer_write(&head, ":[", 2);
        if (cv->kind == FS_FEED_DELTA)
            msgpack_sbuffer_write(&mid, "\n],\"remove\":[", 13);
        msgpack_sbuffer_write(&tail, "\n]}\n", 4);
    }
    if (write_all(fd, head.data, head.size) != 0 || write_all(fd, cv->list[LIST_LEGS].data, cv->list[LIST_LEGS].size) != 0 ||
        write_all(fd, mid.data, mid.size) != 0 ||
        (cv->kind == FS_FEED_DELTA && write_all(fd, cv->list[LIST_REMOVE].data, cv->list[LIST_REMOVE].size) != 0) ||
        write_all(fd, tail.data, tail.size) != 0)
        r = -1;
    msgpack_sbuffer_destroy(&head);
    msgpack_sbuffer_destroy(&mid);
    msgpack_sbuffer_destroy(&tail);
    return r;
}

/* --------------------------------------------------- mapping problems back */

/* The input line of a record; 0 when the index is out of range. */
static uint32_t record_line(const cv_t *cv, int list, int64_t index)
{
    return index >= 0 && (uint64_t)index < cv->count[list] ? cv->lines[list][index] : 0;
}

/* One problem of the decoder, told by input line and column (or field). */
static void print_mapped(const cv_t *cv, const fs_feed_error_t *e)
{
    char reason[FS_FEED_REASON_MAX + 32], column[FS_FEED_FIELD_MAX];
    const char *field = e->field;
    int list = LIST_LEGS;

    if (cv->kind == FS_FEED_DELTA) {
        if (strncmp(field, "upsert", 6) == 0 && (field[6] == '\0' || field[6] == '.')) {
            field += field[6] == '.' ? 7 : 6;
        } else if (strncmp(field, "remove", 6) == 0 && (field[6] == '\0' || field[6] == '.')) {
            field += field[6] == '.' ? 7 : 6;
            list = LIST_REMOVE;
        }
    }
    uint32_t line = record_line(cv, list, e->index);
    snprintf(column, sizeof(column), "%s", field);
    if (cv->csv) {
        if (list == LIST_LEGS && strncmp(field, "cabins.", 7) == 0 && e->index >= 0 && (uint64_t)e->index < cv->leg_count) {
            const char *cabin = field + 7, *dot = strchr(cabin, '.');
            int c = fs_cabin_parse(cabin, dot != NULL ? (size_t)(dot - cabin) : strlen(cabin));
            if (c >= 0 && cv->legs[e->index].cabin[c].line != 0)
                line = cv->legs[e->index].cabin[c].line;
            snprintf(column, sizeof(column), "%s", dot != NULL ? dot + 1 : "cabin");
        } else if (strcmp(field, "cabins") == 0) {
            snprintf(column, sizeof(column), "cabin");
        } else if (strcmp(field, "date") == 0) {
            snprintf(column, sizeof(column), "departs_at");
        }
    }
    if (strcmp(column, "key") == 0)
        column[0] = '\0';

    /* "duplicate leg key ... (first at index 3)": say which line that was. */
    snprintf(reason, sizeof(reason), "%s", e->reason);
    const char *at = strstr(e->reason, "first at index ");
    if (at != NULL) {
        char *end;
        unsigned long long first = strtoull(at + 15, &end, 10);
        uint32_t first_line = record_line(cv, list, (int64_t)first);
        if (first_line != 0)
            snprintf(reason + (at - e->reason), sizeof(reason) - (size_t)(at - e->reason), "first on line %" PRIu32 "%s",
                     first_line, end);
    }

    if (line == 0) {
        fprintf(stderr, "%s: %s%s%s\n", cv->in_path, e->field, e->field[0] != '\0' ? ": " : "", reason);
        return;
    }
    fprintf(stderr, "%s: line %" PRIu32, cv->in_path, line);
    if (column[0] != '\0')
        fprintf(stderr, ", %s %s", cv->csv ? "column" : "field", column);
    fprintf(stderr, ": %s\n", reason);
}

static int report_output_refused(const cv_t *cv, const char *out_path, const fs_feed_errors_t *errs)
{
    ft_print_errors_json(stdout, errs);
    fflush(stdout);
    if (errs->malformed) {
        /* Only a bug in this tool (or a full disk) could produce that; say what the decoder saw. */
        fprintf(stderr, "%s: the converted document is malformed (a bug, or the disk is full); %s was not written\n", cv->in_path,
                out_path);
        ft_print_errors_text(stderr, "  ", errs, cv->kind);
        return FT_EXIT_REFUSED;
    }
    fprintf(stderr, "%s: %" PRIu64 " %s found by the server's checks (invalid_feed; a push would get 422); %s was not written\n",
            cv->in_path, errs->total, errs->total == 1 ? "problem" : "problems", out_path);
    for (unsigned i = 0; i < errs->count && i < FS_FEED_MAX_ERRORS; i++)
        print_mapped(cv, &errs->e[i]);
    if (errs->total > errs->count)
        fprintf(stderr, "%s: ... and %" PRIu64 " more (only the first %d are listed)\n", cv->in_path, errs->total - errs->count,
                FS_FEED_MAX_ERRORS);
    return FT_EXIT_REFUSED;
}

/* ------------------------------------------------------------- command */

static int parse_sequence(const char *s, uint64_t *out)
{
    char *end;
    if (s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v == 0)
        return -1;
    *out = v;
    return 0;
}

/* Writes, checks and renames. Returns the exit code. */
static int finish(cv_t *cv, const char *out_path, const char *source, uint64_t sequence, const char *generated_at)
{
    char tmp[4096], line[256];
    fs_feed_header_t hdr;
    fs_feed_errors_t errs;
    ft_counts_t counts;
    ft_map_t m;
    int fd, e, r;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", out_path) >= (int)sizeof(tmp))
        return ft_usage_error("convert", "OUT: the name is too long");
    if ((fd = mkstemp(tmp)) < 0) {
        fprintf(stderr, FT_NAME " convert: %s: cannot create a file next to it: %s\n", out_path, strerror(errno));
        return FT_EXIT_USAGE;
    }
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    if (write_document(cv, fd, source, sequence, generated_at) != 0 || close(fd) != 0) {
        e = errno;
        unlink(tmp);
        fprintf(stderr, FT_NAME " convert: %s: cannot write: %s\n", out_path, strerror(e));
        return FT_EXIT_USAGE;
    }
    if ((e = ft_map_file(tmp, &m)) != 0) {
        unlink(tmp);
        fprintf(stderr, FT_NAME " convert: %s: cannot read back: %s\n", out_path, strerror(e));
        return FT_EXIT_USAGE;
    }
    r = ft_check(m.data, m.len, cv->format, cv->kind, NULL, &hdr, &counts, &errs);
    ft_unmap(&m);
    if (r != 0) {
        unlink(tmp);
        if (r != FS_EINVAL) {
            fprintf(stderr, FT_NAME " convert: %s: %s\n", out_path, fs_strerror(r));
            return FT_EXIT_USAGE;
        }
        return report_output_refused(cv, out_path, &errs);
    }
    if (rename(tmp, out_path) != 0) {
        e = errno;
        unlink(tmp);
        fprintf(stderr, FT_NAME " convert: %s: cannot rename the new file into place: %s\n", out_path, strerror(e));
        return FT_EXIT_USAGE;
    }
    ft_describe(line, sizeof(line), cv->kind, &hdr, &counts);
    if (cv->kind == FS_FEED_SNAPSHOT && counts.legs == 0)
        fprintf(stderr, "%s: warning: the snapshot has no legs; pushing it would remove every leg of source %s\n", out_path,
                source);
    printf("%s: %s (from %" PRIu64 " %s of %s)\n", out_path, line, cv->rows,
           cv->csv ? (cv->rows == 1 ? "row" : "rows") : (cv->rows == 1 ? "line" : "lines"), cv->in_path);
    return FT_EXIT_OK;
}

int ft_cmd_convert(int argc, char **argv)
{
    const char *source = NULL, *sequence_s = NULL, *generated_s = NULL, *format_s = NULL, *input_s = NULL;
    int delta = 0, snapshot = 0, npos, r;
    const char *pos[2];
    const ft_opt_t opts[] = {
        {"--source", &source, NULL},
        {"--sequence", &sequence_s, NULL},
        {"--generated-at", &generated_s, NULL},
        {"--delta", NULL, &delta},
        {"--snapshot", NULL, &snapshot},
        {"--format", &format_s, NULL},
        {"--input", &input_s, NULL},
        {NULL, NULL, NULL},
    };
    char err[512], generated_at[32];
    uint64_t sequence;
    int64_t gen_ts;
    cv_t cv;

    if ((r = ft_parse_args(argc, argv, opts, ft_convert_usage, pos, 2, &npos)) != 0)
        return r == 1 ? FT_EXIT_OK : r;
    if (npos != 2)
        return ft_usage_error("convert", "expected IN and OUT, got %d %s", npos, npos == 1 ? "file" : "files");
    if (source == NULL)
        return ft_usage_error("convert", "--source is required");
    if (!fs_feed_source_valid(source, strlen(source)))
        return ft_usage_error("convert", "--source: expected a name matching [a-z0-9_-]{1,32}, got '%s'", source);
    if (sequence_s == NULL)
        return ft_usage_error("convert", "--sequence is required");
    if (parse_sequence(sequence_s, &sequence) != 0)
        return ft_usage_error("convert", "--sequence: expected a whole number from 1, got '%s'", sequence_s);
    if (generated_s != NULL) {
        if (fs_timestamp_parse(generated_s, strlen(generated_s), &gen_ts) != 0)
            return ft_usage_error("convert", "--generated-at: expected a UTC time like 2026-11-21T20:00:00Z, got '%s'",
                                  generated_s);
    } else {
        gen_ts = (int64_t)time(NULL);
    }
    generated_at[fs_timestamp_format(gen_ts, generated_at)] = '\0';
    if (delta && snapshot)
        return ft_usage_error("convert", "--delta and --snapshot exclude each other");

    memset(&cv, 0, sizeof(cv));
    cv.in_path = pos[0];
    if (ft_feed_format(pos[1], format_s, &cv.format, err, sizeof(err)) != 0)
        return ft_usage_error("convert", "%s", err);
    ft_feed_kind(pos[1], delta, snapshot, &cv.kind);
    if (input_s != NULL) {
        if (strcmp(input_s, "csv") != 0 && strcmp(input_s, "jsonl") != 0)
            return ft_usage_error("convert", "--input: expected csv or jsonl, got '%s'", input_s);
        cv.csv = strcmp(input_s, "csv") == 0;
    } else if (ft_ends_with(pos[0], ".csv")) {
        cv.csv = 1;
    } else if (ft_ends_with(pos[0], ".jsonl") || ft_ends_with(pos[0], ".ndjson")) {
        cv.csv = 0;
    } else {
        return ft_usage_error("convert", "%s: cannot tell the input format from the name (expected .csv or .jsonl); use --input",
                              pos[0]);
    }

    ft_map_t in;
    int e = ft_map_file(pos[0], &in);
    if (e != 0) {
        fprintf(stderr, FT_NAME " convert: %s: cannot read: %s\n", pos[0], strerror(e));
        return FT_EXIT_USAGE;
    }
    for (int l = 0; l < LIST_COUNT; l++)
        msgpack_sbuffer_init(&cv.list[l]);
    ft_tree_init(&cv.tree);

    if (cv.csv) {
        csv_read(&cv, (const char *)in.data, in.len);
        if (cv.errors == 0)
            csv_emit_legs(&cv);
    } else {
        jsonl_read(&cv, (const char *)in.data, in.len);
    }
    if (cv.errors > 0) {
        if (cv.errors > CV_MAX_SHOWN)
            fprintf(stderr, "%s: ... and %" PRIu64 " more (only the first %d are listed)\n", cv.in_path, cv.errors - CV_MAX_SHOWN,
                    CV_MAX_SHOWN);
        fprintf(stderr, "%s: refused: %" PRIu64 " %s in the input; %s was not written\n", cv.in_path, cv.errors,
                cv.errors == 1 ? "problem" : "problems", pos[1]);
        r = FT_EXIT_REFUSED;
    } else {
        r = finish(&cv, pos[1], source, sequence, generated_at);
    }

    ft_unmap(&in);
    for (int l = 0; l < LIST_COUNT; l++) {
        msgpack_sbuffer_destroy(&cv.list[l]);
        free(cv.lines[l]);
    }
    ft_tree_free(&cv.tree);
    free(cv.legs);
    free(cv.slots);
    return r;
}
