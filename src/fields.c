/*
 * src/fields.c: partial responses, the `fields` parameter of /v1/search, /v1/calendar and
 * /v1/routes (docs/api.md "Partial responses"). The grammar is Google's:
 *
 *   list     := selector ("," selector)*
 *   selector := name ( "/" selector | "(" list ")" )?
 *
 * A name alone selects that field and everything inside it; `a/b` and `a(b,c)` select a and only
 * the named fields inside it. Each endpoint's answer is a small tree of field names (the tables
 * below, one bit each, src/server.h); parsing sets bits, and the writers of src/handlers.c test
 * them. The tables list the answers' fields exactly as the writers write them: a name that is not
 * in the answer is an error naming it, never silently nothing.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "src/server.h"

typedef struct field_node {
    const char *name;
    unsigned bit; /* the fs_fields_t bit of this field */
    int parent;   /* the bit of the field it sits in; -1 at the top of the answer */
} field_node_t;

/* What parsing needs of a table, derived once (fields_derive): each field's bits with everything
 * inside it, the fields that have fields inside them, and each name's length. */
typedef struct field_table {
    const field_node_t *nodes;
    size_t node_count;
    fs_fields_t subtree[64];
    fs_fields_t containers;
    uint8_t name_len[64]; /* by node index */
} field_table_t;

/* The top-level fields all three answers share, in the order they are written: generation and
 * origins, then (search and calendar) destinations, then searched with its entries' fields. */
#define COMMON_HEAD {"generation", FS_FIELD_GENERATION, -1}, {"origins", FS_FIELD_ORIGINS, -1}
#define COMMON_TAIL                                                                                                        \
    {"searched", FS_FIELD_SEARCHED, -1}, {"source", FS_FIELD_SEARCHED_SOURCE, FS_FIELD_SEARCHED},                           \
        {"sequence", FS_FIELD_SEARCHED_SEQUENCE, FS_FIELD_SEARCHED},                                                       \
        {"updated_at", FS_FIELD_SEARCHED_UPDATED_AT, FS_FIELD_SEARCHED}, {"legs", FS_FIELD_SEARCHED_LEGS, FS_FIELD_SEARCHED}, \
        {"took_us", FS_FIELD_TOOK_US, -1}

static const field_node_t search_nodes[] = {
    {"results", FS_FIELD_RESULTS, -1},
    {"id", FS_FIELD_R_ID, FS_FIELD_RESULTS},
    {"origin", FS_FIELD_R_ORIGIN, FS_FIELD_RESULTS},
    {"destination", FS_FIELD_R_DESTINATION, FS_FIELD_RESULTS},
    {"date", FS_FIELD_R_DATE, FS_FIELD_RESULTS},
    {"departs_at", FS_FIELD_R_DEPARTS_AT, FS_FIELD_RESULTS},
    {"arrives_at", FS_FIELD_R_ARRIVES_AT, FS_FIELD_RESULTS},
    {"duration_min", FS_FIELD_R_DURATION_MIN, FS_FIELD_RESULTS},
    {"stops", FS_FIELD_R_STOPS, FS_FIELD_RESULTS},
    {"cabin", FS_FIELD_R_CABIN, FS_FIELD_RESULTS},
    {"miles", FS_FIELD_R_MILES, FS_FIELD_RESULTS},
    {"taxes_cents", FS_FIELD_R_TAXES_CENTS, FS_FIELD_RESULTS},
    {"currency", FS_FIELD_R_CURRENCY, FS_FIELD_RESULTS},
    {"seats", FS_FIELD_R_SEATS, FS_FIELD_RESULTS},
    {"source", FS_FIELD_R_SOURCE, FS_FIELD_RESULTS},
    {"last_seen", FS_FIELD_R_LAST_SEEN, FS_FIELD_RESULTS},
    {"segments", FS_FIELD_R_SEGMENTS, FS_FIELD_RESULTS},
    {"carrier", FS_FIELD_S_CARRIER, FS_FIELD_R_SEGMENTS},
    {"flight", FS_FIELD_S_FLIGHT, FS_FIELD_R_SEGMENTS},
    {"origin", FS_FIELD_S_ORIGIN, FS_FIELD_R_SEGMENTS},
    {"destination", FS_FIELD_S_DESTINATION, FS_FIELD_R_SEGMENTS},
    {"departs_at", FS_FIELD_S_DEPARTS_AT, FS_FIELD_R_SEGMENTS},
    {"arrives_at", FS_FIELD_S_ARRIVES_AT, FS_FIELD_R_SEGMENTS},
    {"duration_min", FS_FIELD_S_DURATION_MIN, FS_FIELD_R_SEGMENTS},
    {"cabin", FS_FIELD_S_CABIN, FS_FIELD_R_SEGMENTS},
    {"seats", FS_FIELD_S_SEATS, FS_FIELD_R_SEGMENTS},
    {"miles", FS_FIELD_S_MILES, FS_FIELD_R_SEGMENTS},
    {"source", FS_FIELD_S_SOURCE, FS_FIELD_R_SEGMENTS},
    {"count", FS_FIELD_COUNT, -1},
    {"total", FS_FIELD_TOTAL, -1},
    {"next_cursor", FS_FIELD_NEXT_CURSOR, -1},
    COMMON_HEAD,
    {"destinations", FS_FIELD_DESTINATIONS, -1},
    COMMON_TAIL,
};

/* A calendar day's cabin c is bit FS_FIELD_DAY_CABIN(c), its figures the three bits after it. */
#define CABIN_NODES(name, c)                                                                                               \
    {name, FS_FIELD_DAY_CABIN(c), FS_FIELD_DAYS}, {"min_miles", FS_FIELD_DAY_CABIN(c) + 1, FS_FIELD_DAY_CABIN(c)},         \
        {"max_seats", FS_FIELD_DAY_CABIN(c) + 2, FS_FIELD_DAY_CABIN(c)}, {"count", FS_FIELD_DAY_CABIN(c) + 3, FS_FIELD_DAY_CABIN(c)}

static const field_node_t calendar_nodes[] = {
    {"days", FS_FIELD_DAYS, -1},
    {"date", FS_FIELD_DAY_DATE, FS_FIELD_DAYS},
    CABIN_NODES("economy", FS_CABIN_ECONOMY),
    CABIN_NODES("premium", FS_CABIN_PREMIUM),
    CABIN_NODES("business", FS_CABIN_BUSINESS),
    CABIN_NODES("first", FS_CABIN_FIRST),
    COMMON_HEAD,
    {"destinations", FS_FIELD_DESTINATIONS, -1},
    COMMON_TAIL,
};

/* In the routes answer `destinations` is the list of destinations (it has no airports list). */
static const field_node_t routes_nodes[] = {
    {"origin", FS_FIELD_ORIGIN, -1},
    {"destinations", FS_FIELD_DESTINATIONS, -1},
    {"destination", FS_FIELD_D_DESTINATION, FS_FIELD_DESTINATIONS},
    {"legs", FS_FIELD_D_LEGS, FS_FIELD_DESTINATIONS},
    {"first_date", FS_FIELD_D_FIRST_DATE, FS_FIELD_DESTINATIONS},
    {"last_date", FS_FIELD_D_LAST_DATE, FS_FIELD_DESTINATIONS},
    {"stops", FS_FIELD_D_STOPS, FS_FIELD_DESTINATIONS},
    COMMON_HEAD,
    COMMON_TAIL,
};

typedef struct parser {
    const field_node_t *nodes;
    size_t node_count;
    const field_table_t *table;
    const char *spec, *p;
    fs_fields_t out;
    fs_param_error_t *err;
} parser_t;

static int fail(parser_t *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(parser_t *ps, const char *fmt, ...)
{
    snprintf(ps->err->parameter, sizeof(ps->err->parameter), "fields");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->err->message, sizeof(ps->err->message), fmt, ap);
    va_end(ap);
    return FS_EINVAL;
}

static const char *name_of(const parser_t *ps, int bit)
{
    for (size_t i = 0; i < ps->node_count; i++)
        if ((int)ps->nodes[i].bit == bit)
            return ps->nodes[i].name;
    return "?";
}

/* The mask of one field (every table's bits are below 64; the check is for the analyzer). */
static fs_fields_t mask_of(unsigned bit)
{
    return bit < 64 ? (fs_fields_t)1 << bit : 0;
}

static field_table_t tables[3]; /* search, calendar, routes */
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static int parent_in(const field_node_t *nodes, size_t n, int bit)
{
    for (size_t i = 0; i < n; i++)
        if ((int)nodes[i].bit == bit)
            return nodes[i].parent;
    return -1;
}

static void derive(field_table_t *t, const field_node_t *nodes, size_t n)
{
    t->nodes = nodes;
    t->node_count = n;
    for (size_t i = 0; i < n; i++) {
        t->name_len[i] = (uint8_t)strlen(nodes[i].name);
        t->subtree[nodes[i].bit] |= mask_of(nodes[i].bit);
        for (int up = nodes[i].parent; up >= 0; up = parent_in(nodes, n, up)) {
            t->subtree[up] |= mask_of(nodes[i].bit);
            t->containers |= mask_of((unsigned)up);
        }
    }
}

static void fields_derive(void)
{
    derive(&tables[0], search_nodes, sizeof(search_nodes) / sizeof(search_nodes[0]));
    derive(&tables[1], calendar_nodes, sizeof(calendar_nodes) / sizeof(calendar_nodes[0]));
    derive(&tables[2], routes_nodes, sizeof(routes_nodes) / sizeof(routes_nodes[0]));
}

/* "id, origin, ...": the fields inside parent, for an error message. */
static void list_names(const parser_t *ps, int parent, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < ps->node_count && used < cap; i++) {
        if (ps->nodes[i].parent != parent)
            continue;
        int n = snprintf(out + used, cap - used, "%s%s", used > 0 ? ", " : "", ps->nodes[i].name);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static int parse_list(parser_t *ps, int parent, int depth);

static int parse_selector(parser_t *ps, int parent, int depth)
{
    const char *start = ps->p;
    while ((*ps->p >= 'a' && *ps->p <= 'z') || *ps->p == '_')
        ps->p++;
    size_t len = (size_t)(ps->p - start);
    if (len == 0) {
        if (*ps->p == '\0')
            return fail(ps, "fields: a field name is missing at the end of '%.60s'", ps->spec);
        return fail(ps, "fields: expected a field name at '%.20s' (character %zu of '%.60s')", ps->p,
                    (size_t)(ps->p - ps->spec) + 1, ps->spec);
    }
    const field_node_t *node = NULL;
    for (size_t i = 0; i < ps->node_count && node == NULL; i++)
        if (ps->nodes[i].parent == parent && ps->table->name_len[i] == len && memcmp(ps->nodes[i].name, start, len) == 0)
            node = &ps->nodes[i];
    if (node == NULL) {
        char known[160];
        list_names(ps, parent, known, sizeof(known));
        if (parent < 0)
            return fail(ps, "fields: unknown field '%.*s' (the answer's fields: %s)", (int)(len > 32 ? 32 : len), start, known);
        return fail(ps, "fields: unknown field '%.*s' in %s (its fields: %s)", (int)(len > 32 ? 32 : len), start,
                    name_of(ps, parent), known);
    }
    if (*ps->p == '/' || *ps->p == '(') {
        if (!FS_FIELD(ps->table->containers, node->bit))
            return fail(ps, "fields: %s has no fields inside it (at '%.20s')", node->name, ps->p);
        ps->out |= mask_of(node->bit);
        if (*ps->p++ == '/')
            return parse_selector(ps, (int)node->bit, depth + 1);
        if (parse_list(ps, (int)node->bit, depth + 1) != 0)
            return FS_EINVAL;
        if (*ps->p != ')')
            return fail(ps, "fields: '(' after %s is not closed by ')'", node->name);
        ps->p++;
        return 0;
    }
    ps->out |= ps->table->subtree[node->bit];
    return 0;
}

static int parse_list(parser_t *ps, int parent, int depth)
{
    if (depth > 3) /* the answers are three levels deep; deeper input is malformed, not a deeper answer */
        return fail(ps, "fields: nested too deep");
    for (;;) {
        if (parse_selector(ps, parent, depth) != 0)
            return FS_EINVAL;
        if (*ps->p != ',')
            return 0;
        ps->p++;
    }
}

int fs_fields_parse(fs_endpoint_t ep, const char *spec, fs_fields_t *out, fs_param_error_t *err)
{
    parser_t ps = {.spec = spec, .p = spec, .err = err};
    pthread_once(&tables_once, fields_derive);
    switch (ep) {
    case FS_EP_SEARCH:
        ps.table = &tables[0];
        break;
    case FS_EP_CALENDAR:
        ps.table = &tables[1];
        break;
    case FS_EP_ROUTES:
        ps.table = &tables[2];
        break;
    default:
        return fail(&ps, "fields is not taken by %s", fs_endpoint_names[ep]);
    }
    ps.nodes = ps.table->nodes;
    ps.node_count = ps.table->node_count;
    if (parse_list(&ps, -1, 0) != 0)
        return FS_EINVAL;
    if (*ps.p == ')')
        return fail(&ps, "fields: ')' at character %zu of '%.60s' closes nothing", (size_t)(ps.p - spec) + 1, spec);
    if (*ps.p != '\0')
        return fail(&ps, "fields: unexpected '%c' at character %zu of '%.60s' (fields are separated by ',', nested with "
                         "'(...)' or '/')",
                    *ps.p, (size_t)(ps.p - spec) + 1, spec);
    *out = ps.out;
    return 0;
}
