/*
 * bench/gen/schedule.c: which routes exist, who flies and sells them, when, in which cabins, and at
 * what price.
 *
 * Routes. A candidate is a carrier on an airport pair, with one or both directions:
 *   - with OpenFlights, each real direct route (airline, origin, destination), the two directions
 *     of one airline on one pair folded into one candidate;
 *   - with the built-in table, every pair at least 250 km apart in different cities that a carrier
 *     of the table below plausibly flies (domestic in its country, or international from its hubs;
 *     see can_fly), weighed by a gravity model: size_a * size_b / distance.
 * Candidates are drawn without replacement in proportion to their weight (Efraimidis-Spirakis
 * keys) until the expected legs reach the size's target, so a small run keeps the big routes and
 * a large run takes nearly everything. Frequencies grow with a candidate's weight rank; when even
 * every candidate is not enough (the built-in table at the large size), frequencies are raised.
 *
 * Sources. Each carrier in the table has the loyalty programs (sources) that sell its seats; its
 * own program comes first. A route goes to one source, and to a second one about a third of the
 * time. OpenFlights airlines not in the table are sold by one program chosen by their code.
 *
 * Legs. A flight has a fixed flight number, local departure time, block time, weekdays and cabin
 * set; its seats and prices on a day come from a hash of (seed, flight, day, source, cabin).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench/gen/gen.h"

/* Taxes are priced in USD and converted at these fixed, rough rates. */
/* clang-format off */
const gen_source_t gen_sources[GEN_MAX_SOURCES] = {
    {"smiles", "BRL", 1.5, 5.3},  {"tap", "EUR", 1.0, 0.92},    {"latam", "BRL", 1.4, 5.3},
    {"united", "USD", 1.1, 1.0},  {"flyingblue", "EUR", 1.0, 0.92}, {"aeroplan", "CAD", 1.0, 1.37},
    {"avios", "GBP", 0.8, 0.79},  {"lifemiles", "USD", 1.0, 1.0},
};
/* clang-format on */

enum {
    SMILES = 1 << 0,
    TAP = 1 << 1,
    LATAM = 1 << 2,
    UNITED = 1 << 3,
    FLYINGBLUE = 1 << 4,
    AEROPLAN = 1 << 5,
    AVIOS = 1 << 6,
    LIFEMILES = 1 << 7
};

typedef struct carrier_info {
    char code[3];
    const char *hubs;      /* airports it flies international routes from (built-in table only) */
    const char *countries; /* ISO 3166 codes where it is based and flies domestic routes */
    uint8_t sellers;       /* sources selling it */
    int8_t own;            /* its own program's source index, or -1 */
} carrier_info_t;

/* Partnerships are simplified from the real alliances and bilateral deals. */
static const carrier_info_t carriers[] = {
    {"G3", "GRU BSB GIG", "BR", SMILES, 0},
    {"AD", "VCP CNF REC", "BR", TAP | UNITED, -1},
    {"LA", "GRU LIM SCL BOG", "BR CL PE CO EC", LATAM, 2},
    {"JJ", "", "", LATAM, 2},
    {"TP", "LIS OPO", "PT", TAP | SMILES | UNITED | AEROPLAN | LIFEMILES, 1},
    {"UA", "EWR IAD ORD IAH DEN SFO LAX", "US", UNITED | AEROPLAN | LIFEMILES | TAP, 3},
    {"AF", "CDG ORY", "FR PF RE GP MQ", FLYINGBLUE | SMILES, 4},
    {"KL", "AMS", "NL", FLYINGBLUE | SMILES, 4},
    {"AC", "YYZ YUL YVR", "CA", AEROPLAN | UNITED | LIFEMILES, 5},
    {"BA", "LHR LGW", "GB", AVIOS, 6},
    {"IB", "MAD", "ES", AVIOS, 6},
    {"AV", "BOG SAL SJO", "CO SV CR EC PE", LIFEMILES | UNITED | AEROPLAN, 7},
    {"AA", "DFW CLT MIA JFK ORD PHL LAX", "US", AVIOS, -1},
    {"DL", "ATL JFK DTW MSP SEA LAX BOS SLC", "US", FLYINGBLUE | LATAM, -1},
    {"AS", "SEA", "US", AVIOS, -1},
    {"LH", "FRA MUC", "DE", UNITED | AEROPLAN | LIFEMILES | TAP, -1},
    {"LX", "ZRH GVA", "CH", UNITED | AEROPLAN | LIFEMILES, -1},
    {"OS", "VIE", "AT", UNITED | AEROPLAN, -1},
    {"SN", "BRU", "BE", UNITED | AEROPLAN, -1},
    {"LO", "WAW", "PL", UNITED | AEROPLAN, -1},
    {"A3", "ATH", "GR", UNITED | AEROPLAN, -1},
    {"TK", "IST", "TR", AEROPLAN | LIFEMILES | UNITED, -1},
    {"AZ", "FCO", "IT", FLYINGBLUE, -1},
    {"SK", "CPH ARN OSL", "SE NO DK", FLYINGBLUE, -1},
    {"VS", "LHR", "GB", FLYINGBLUE, -1},
    {"UX", "MAD", "ES", FLYINGBLUE, -1},
    {"AY", "HEL", "FI", AVIOS, -1},
    {"EI", "DUB", "IE", AVIOS, -1},
    {"VY", "BCN", "ES", AVIOS, -1},
    {"AR", "EZE AEP", "AR", SMILES | FLYINGBLUE, -1},
    {"AM", "MEX", "MX", SMILES | FLYINGBLUE, -1},
    {"CM", "PTY", "PA", UNITED | LIFEMILES, -1},
    {"QR", "DOH", "QA", AVIOS | LATAM, -1},
    {"EK", "DXB", "AE", SMILES, -1},
    {"EY", "AUH", "AE", AEROPLAN, -1},
    {"SV", "JED RUH", "SA", FLYINGBLUE, -1},
    {"RJ", "AMM", "JO", AVIOS, -1},
    {"MS", "CAI", "EG", UNITED | AEROPLAN, -1},
    {"AT", "CMN", "MA", AVIOS, -1},
    {"ET", "ADD", "ET", SMILES | UNITED | AEROPLAN, -1},
    {"KQ", "NBO", "KE", FLYINGBLUE, -1},
    {"SA", "JNB", "ZA", UNITED, -1},
    {"AI", "DEL BOM", "IN", UNITED | AEROPLAN | LIFEMILES, -1},
    {"UL", "CMB", "LK", AVIOS, -1},
    {"NH", "HND NRT", "JP", UNITED | AEROPLAN | LIFEMILES, -1},
    {"JL", "HND NRT", "JP", AVIOS, -1},
    {"KE", "ICN", "KR", FLYINGBLUE, -1},
    {"OZ", "ICN", "KR", AEROPLAN | UNITED, -1},
    {"CA", "PEK", "CN", UNITED | AEROPLAN, -1},
    {"MU", "PVG SHA", "CN", FLYINGBLUE, -1},
    {"CX", "HKG", "HK", AVIOS, -1},
    {"CI", "TPE", "TW", FLYINGBLUE, -1},
    {"BR", "TPE", "TW", UNITED | AEROPLAN, -1},
    {"TG", "BKK", "TH", UNITED | AEROPLAN, -1},
    {"VN", "SGN HAN", "VN", FLYINGBLUE, -1},
    {"MH", "KUL", "MY", AVIOS, -1},
    {"SQ", "SIN", "SG", UNITED | AEROPLAN | LIFEMILES, -1},
    {"GA", "CGK", "ID", FLYINGBLUE, -1},
    {"QF", "SYD MEL", "AU", AVIOS | LATAM, -1},
    {"NZ", "AKL", "NZ", UNITED | AEROPLAN, -1},
    {"FJ", "NAN", "FJ", AVIOS, -1},
};

#define CARRIER_COUNT (sizeof(carriers) / sizeof(carriers[0]))

static const carrier_info_t *carrier_find(const char *code)
{
    for (size_t i = 0; i < CARRIER_COUNT; i++)
        if (carriers[i].code[0] == code[0] && carriers[i].code[1] == code[1])
            return &carriers[i];
    return NULL;
}

/* Whether a space-separated list of codes holds code. */
static int listed(const char *list, const char *code)
{
    size_t n = strlen(code);
    for (const char *p = list; *p != '\0';) {
        const char *e = strchr(p, ' ');
        size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
        if (len == n && memcmp(p, code, n) == 0)
            return 1;
        p += len + (e != NULL);
    }
    return 0;
}

/* Built-in airports that see long-haul (over 3,000 km) flights, and those with domestic flights only. */
static const char gateways[] =
    "GRU GIG REC FOR EZE SCL LIM BOG PTY MEX CUN JFK EWR ORD IAD LAX SFO MIA ATL DFW IAH DEN SEA BOS PHL CLT DTW "
    "MSP MCO LAS YYZ YUL YVR YYC LHR LGW MAN DUB KEF CDG FRA MUC BER AMS BRU MAD BCN LIS OPO FCO MXP ZRH VIE CPH "
    "ARN OSL HEL ATH IST SVO DXB AUH DOH RUH JED TLV CAI CMN ADD NBO JNB CPT LOS LAD MRU DEL BOM BLR HND NRT KIX "
    "ICN PEK PKX PVG CAN HKG TPE SIN KUL BKK CGK DPS MNL SGN HAN SYD MEL BNE PER AKL HNL PPT NAN";
static const char domestic_only[] = "CGH SDU LGA DCA MDW ITM";

/*
 * Whether carrier c plausibly flies a-b in the built-in world: a domestic route in its home
 * country, or an international one from one of its hubs; beyond 3,000 km only to gateways, and
 * never abroad from a domestic-only airport.
 */
static int can_fly(const carrier_info_t *c, const gen_airport_t *a, const gen_airport_t *b, double km)
{
    if (strcmp(a->country, b->country) == 0)
        return listed(c->countries, a->country);
    if (listed(domestic_only, a->code) || listed(domestic_only, b->code))
        return 0;
    int ha = listed(c->hubs, a->code), hb = listed(c->hubs, b->code);
    if (!ha && !hb)
        return 0;
    if (km > 7000 && listed("G3 VY AS", c->code)) /* narrow-body fleets */
        return 0;
    return km <= 3000 || (listed(gateways, a->code) && listed(gateways, b->code));
}

unsigned gen_source_count(enum gen_size size)
{
    return size == GEN_DEMO ? 3 : size == GEN_SMALL ? 4 : 8;
}

/* Legs per day each size aims at: demo a few hundred routes; small ~100k, medium ~10M and large
 * ~40M legs over the default 330 days. */
static double legs_per_day(enum gen_size size)
{
    switch (size) {
    case GEN_DEMO:
        return 600;
    case GEN_SMALL:
        return 100000.0 / 330;
    case GEN_MEDIUM:
        return 10000000.0 / 330;
    default:
        return 40000000.0 / 330;
    }
}

/* ------------------------------------------------------------- candidates */

typedef struct cand {
    uint32_t a, b; /* airport indices */
    char carrier[3];
    uint8_t dirs;  /* bit 0: a -> b, bit 1: b -> a */
    uint8_t known; /* carrier in the table and sold by an enabled source */
    uint8_t own;   /* carrier of an enabled source's own airline (G3 for smiles, TP for tap...) */
    uint16_t km;
    double weight; /* for the frequency rank */
    double key;    /* sampling key: smaller is drawn first */
    double pct;    /* weight rank in [0, 1], 1 the heaviest */
    uint64_t h;    /* per-candidate hash */
} cand_t;

typedef struct cands {
    cand_t *v;
    size_t n, cap;
} cands_t;

static cand_t *cand_push(cands_t *c)
{
    if (c->n == c->cap) {
        size_t ncap = c->cap ? 2 * c->cap : 4096;
        cand_t *nv = realloc(c->v, ncap * sizeof(*nv));
        if (nv == NULL)
            return NULL;
        c->v = nv;
        c->cap = ncap;
    }
    memset(&c->v[c->n], 0, sizeof(cand_t));
    return &c->v[c->n++];
}

static uint64_t code_hash(const char *s)
{
    uint64_t h = 0;
    for (; *s; s++)
        h = h * 131 + (unsigned char)*s;
    return gen_mix(h);
}

static int builtin_candidates(const gen_world_t *w, unsigned enabled, uint64_t seed, cands_t *out)
{
    for (uint32_t i = 0; i < w->airport_count; i++) {
        const gen_airport_t *a = &w->airports[i];
        if (a->zone < 0)
            continue;
        for (uint32_t j = i + 1; j < w->airport_count; j++) {
            const gen_airport_t *b = &w->airports[j];
            const carrier_info_t *elig[CARRIER_COUNT];
            unsigned ne = 0;
            double km;

            if (b->zone < 0 || strcmp(a->city, b->city) == 0 || (km = gen_distance_km(a, b)) < 250)
                continue;
            for (size_t k = 0; k < CARRIER_COUNT; k++)
                if ((carriers[k].sellers & enabled) != 0 && can_fly(&carriers[k], a, b, km))
                    elig[ne++] = &carriers[k];
            if (ne == 0)
                continue;
            uint64_t h = gen_hash3(seed, i, j);
            unsigned pick[2], count = 1;
            pick[0] = (unsigned)(h % ne);
            /* About a third of the pairs that two carriers may fly get both. */
            if (ne >= 2 && gen_unit(gen_mix(h ^ 0x2c)) < 0.35)
                pick[count++] = (pick[0] + 1 + (unsigned)((h >> 40) % (ne - 1))) % ne;
            for (unsigned k = 0; k < count; k++) {
                cand_t *c = cand_push(out);
                if (c == NULL)
                    return FS_ENOMEM;
                const carrier_info_t *ci = elig[pick[k]];
                c->a = i;
                c->b = j;
                memcpy(c->carrier, ci->code, 3);
                c->dirs = 3;
                c->known = 1;
                c->km = (uint16_t)km;
                c->weight = a->weight * b->weight / km * (k == 0 ? 1.0 : 0.5);
            }
        }
    }
    return 0;
}

static int route_cmp(const void *x, const void *y)
{
    const gen_of_route_t *p = x, *q = y;
    uint32_t pa = p->origin < p->destination ? p->origin : p->destination;
    uint32_t qa = q->origin < q->destination ? q->origin : q->destination;
    uint32_t pb = p->origin ^ p->destination ^ pa, qb = q->origin ^ q->destination ^ qa;
    int c = memcmp(p->carrier, q->carrier, 2);

    if (c != 0)
        return c;
    if (pa != qa)
        return pa < qa ? -1 : 1;
    if (pb != qb)
        return pb < qb ? -1 : 1;
    return p->origin < q->origin ? -1 : p->origin > q->origin;
}

static int openflights_candidates(const gen_world_t *w, unsigned enabled, cands_t *out)
{
    gen_of_route_t *r = malloc(w->route_count * sizeof(*r));

    if (r == NULL)
        return FS_ENOMEM;
    memcpy(r, w->routes, w->route_count * sizeof(*r));
    qsort(r, w->route_count, sizeof(*r), route_cmp);
    for (size_t i = 0; i < w->route_count;) {
        /* Sorted by carrier, unordered pair, origin: a route's return direction is the next row. */
        size_t j = i + 1;
        if (j < w->route_count && memcmp(r[i].carrier, r[j].carrier, 2) == 0 && r[j].origin == r[i].destination &&
            r[j].destination == r[i].origin)
            j++;
        const gen_airport_t *a = &w->airports[r[i].origin], *b = &w->airports[r[i].destination];
        if (a->zone >= 0 && b->zone >= 0) {
            const carrier_info_t *ci = carrier_find(r[i].carrier);
            cand_t *c = cand_push(out);
            double km = gen_distance_km(a, b);
            if (c == NULL) {
                free(r);
                return FS_ENOMEM;
            }
            c->a = r[i].origin;
            c->b = r[i].destination;
            memcpy(c->carrier, r[i].carrier, 3);
            c->dirs = (uint8_t)(j - i == 2 ? 3 : 1);
            c->known = ci != NULL && (ci->sellers & enabled) != 0;
            c->km = (uint16_t)(km < 1 ? 1 : km > 65535 ? 65535 : km);
            c->weight = a->weight * b->weight;
        }
        i = j;
    }
    free(r);
    return 0;
}

static int cmp_weight(const void *x, const void *y)
{
    const cand_t *const *p = x, *const *q = y;
    if ((*p)->weight != (*q)->weight)
        return (*p)->weight < (*q)->weight ? -1 : 1;
    return *p < *q ? -1 : *p > *q;
}

static int cmp_key(const void *x, const void *y)
{
    const cand_t *p = x, *q = y;
    if (p->key != q->key)
        return p->key < q->key ? -1 : 1;
    return p->h < q->h ? -1 : p->h > q->h;
}

/* ------------------------------------------------------------------ shape */

typedef struct shape {
    unsigned freq;
    uint8_t weekdays;
    uint8_t sources;
} shape_t;

static unsigned nth_bit(unsigned mask, unsigned n)
{
    for (unsigned b = 0; b < 8; b++)
        if ((mask >> b & 1) && n-- == 0)
            return b;
    return 0;
}

static uint8_t sources_for(const cand_t *c, unsigned source_count, int boost)
{
    unsigned enabled = (1u << source_count) - 1;
    const carrier_info_t *ci = carrier_find(c->carrier);
    unsigned sellers = ci != NULL ? ci->sellers & enabled : 0;
    unsigned primary, pool;
    uint64_t h = gen_mix(c->h ^ 0x50);

    if (sellers != 0) {
        if (ci->own >= 0 && (sellers >> ci->own & 1))
            primary = (unsigned)ci->own;
        else
            primary = nth_bit(sellers, (unsigned)(h % (unsigned)__builtin_popcount(sellers)));
        pool = sellers & ~(1u << primary);
    } else {
        /* An airline outside the table: one program sells it, stable per airline. */
        primary = (unsigned)(code_hash(c->carrier) % source_count);
        pool = enabled & ~(1u << primary);
    }
    uint8_t mask = (uint8_t)(1u << primary);
    if (pool != 0 && gen_unit(h >> 1) < 0.3 + 0.15 * boost)
        mask |= (uint8_t)(1u << nth_bit(pool, (unsigned)((h >> 32) % (unsigned)__builtin_popcount(pool))));
    return mask;
}

static void shape_of(const cand_t *c, unsigned source_count, int boost, shape_t *s)
{
    uint64_t h = gen_mix(c->h ^ 0xf1);
    unsigned f = c->pct >= 0.97 ? 4 : c->pct >= 0.85 ? 3 : c->pct >= 0.55 ? 2 : 1;

    if (f > 1 && gen_unit(h) < 0.25)
        f--;
    if (c->km > 7000)
        f = f < 2 ? f : (c->pct > 0.9 ? 2 : 1);
    else if (c->km > 4000)
        f = f < 2 ? f : 2;
    f += (unsigned)boost;
    if (f > (c->km > 4000 ? 4u : 8u))
        f = c->km > 4000 ? 4u : 8u;
    s->freq = f;

    /* Thin routes take a few days off per week. */
    s->weekdays = 0x7f;
    if (f == 1 && c->pct < 0.5 && boost == 0) {
        unsigned off = 1 + (unsigned)((h >> 20) % 4); /* operates 3..6 days a week */
        for (unsigned k = 0; k < off; k++) {
            unsigned d = (unsigned)((h >> (24 + 3 * k)) % 7);
            while (!(s->weekdays >> d & 1))
                d = (d + 1) % 7;
            s->weekdays &= (uint8_t) ~(1u << d);
        }
    }
    s->sources = sources_for(c, source_count, boost);
}

/* --------------------------------------------------------- flight numbers
 * Numbers are allocated per carrier in route order, and must be unique per (carrier, origin) so that
 * (carrier, flight, origin, date) is a unique key in every source; a set of used triples checks it
 * once a busy carrier's counter wraps around 9999. */

typedef struct numbers {
    uint64_t *set;
    size_t mask, used;
    uint16_t next[FS_CARRIER_COUNT];
} numbers_t;

static unsigned carrier_index(const char *c)
{
    unsigned a = c[0] >= 'A' ? (unsigned)(c[0] - 'A' + 10) : (unsigned)(c[0] - '0');
    unsigned b = c[1] >= 'A' ? (unsigned)(c[1] - 'A' + 10) : (unsigned)(c[1] - '0');
    return a * 36 + b;
}

/* Returns 1 when inserted, 0 when present. */
static int numbers_insert(numbers_t *nb, uint64_t key)
{
    size_t slot = gen_mix(key) & nb->mask;
    while (nb->set[slot] != 0) {
        if (nb->set[slot] == key)
            return 0;
        slot = (slot + 1) & nb->mask;
    }
    nb->set[slot] = key;
    nb->used++;
    return 1;
}

static int numbers_take(numbers_t *nb, const char *carrier, uint32_t origin, uint16_t *out)
{
    unsigned ci = carrier_index(carrier);

    if (nb->next[ci] == 0)
        nb->next[ci] = (uint16_t)(1 + code_hash(carrier) % 300); /* carriers start at different numbers */
    for (unsigned tries = 0; tries < FS_MAX_FLIGHT; tries++) {
        uint16_t n = nb->next[ci];
        nb->next[ci] = (uint16_t)(n == FS_MAX_FLIGHT ? 1 : n + 1);
        /* NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult): a 16-bit n << 32 fits in 64 bits */
        if (numbers_insert(nb, ((uint64_t)ci << 48 | (uint64_t)n << 32 | origin) + 1)) {
            *out = n;
            return 0;
        }
    }
    return -1;
}

/* ---------------------------------------------------------------- flights */

/* Departure banks, in local minutes [start, end): the order in which a route's flights fill them. */
static const uint16_t short_banks[][2] = {{360, 540},   {1020, 1260}, {660, 840}, {870, 1015},
                                          {1260, 1350}, {540, 655},   {330, 360}, {1350, 1420}};
static const uint16_t long_banks[][2] = {{1320, 1500}, {1020, 1320}, {480, 660}, {660, 840}};

static unsigned block_minutes(const gen_airport_t *o, const gen_airport_t *d, double km)
{
    /* 30 min of taxi, climb and approach, then 800 km/h; eastbound a little faster (jet stream). */
    double east = d->lon - o->lon;
    double m;
    if (east > 180)
        east -= 360;
    if (east < -180)
        east += 360;
    m = 30 + km / 800.0 * 60.0 * (east > 0 ? 0.96 : 1.04);
    unsigned r = (unsigned)lround(m / 5.0) * 5;
    return r < 30 ? 30 : r > FS_MAX_DURATION_MIN - 5 ? FS_MAX_DURATION_MIN - 5 : r;
}

static uint8_t cabins_for(double km, uint64_t h)
{
    uint8_t m = 0;
    double u1 = gen_unit(h), u2 = gen_unit(gen_mix(h ^ 1)), u3 = gen_unit(gen_mix(h ^ 2)), u4 = gen_unit(gen_mix(h ^ 3));

    if (!(km > 2000 && u1 < 0.01)) /* a rare all-business flight */
        m |= 1u << FS_CABIN_ECONOMY;
    if (u2 < (km > 1500 ? 0.92 : km > 800 ? 0.6 : 0.3))
        m |= 1u << FS_CABIN_BUSINESS;
    if (u3 < (km > 4000 ? 0.45 : km > 2000 ? 0.1 : 0))
        m |= 1u << FS_CABIN_PREMIUM;
    if (u4 < (km > 6000 ? 0.15 : 0))
        m |= 1u << FS_CABIN_FIRST;
    if (!(m & (1u << FS_CABIN_ECONOMY)))
        m |= 1u << FS_CABIN_BUSINESS;
    return m;
}

static int add_route(gen_plan_t *plan, size_t *route_cap, const gen_world_t *w, uint32_t o, uint32_t d, const cand_t *c,
                     const shape_t *s, numbers_t *nb, size_t *flight_cap, uint64_t seed)
{
    if (plan->route_count == *route_cap) {
        size_t ncap = *route_cap ? 2 * *route_cap : 4096;
        gen_route_t *nr = realloc(plan->routes, ncap * sizeof(*nr));
        if (nr == NULL)
            return FS_ENOMEM;
        plan->routes = nr;
        *route_cap = ncap;
    }
    gen_route_t *r = &plan->routes[plan->route_count];
    r->origin = o;
    r->destination = d;
    memcpy(r->carrier, c->carrier, 3);
    r->sources = s->sources;
    r->km = c->km;

    const gen_airport_t *ao = &w->airports[o], *ad = &w->airports[d];
    unsigned block = block_minutes(ao, ad, c->km);
    int long_haul = c->km > 4500;
    for (unsigned k = 0; k < s->freq; k++) {
        if (plan->flight_count == *flight_cap) {
            size_t ncap = *flight_cap ? 2 * *flight_cap : 8192;
            gen_flight_t *nf = realloc(plan->flights, ncap * sizeof(*nf));
            if (nf == NULL)
                return FS_ENOMEM;
            plan->flights = nf;
            *flight_cap = ncap;
        }
        gen_flight_t *f = &plan->flights[plan->flight_count];
        uint16_t number;
        if (numbers_take(nb, c->carrier, o, &number) != 0)
            continue; /* every number is taken at this origin: the flight is left out */
        const uint16_t *bank = long_haul ? long_banks[k % 4] : short_banks[k % 8];
        f->salt = gen_hash3(seed, plan->route_count, k) ^ c->h;
        unsigned slots = (unsigned)(bank[1] - bank[0]) / 5u;
        f->route = (uint32_t)plan->route_count;
        f->flight = number;
        f->dep_minute = (uint16_t)((bank[0] + 5 * (gen_mix(f->salt) % slots)) % 1440);
        f->block_min = (uint16_t)block;
        f->cabins = cabins_for(c->km, gen_mix(f->salt ^ 0xcab));
        f->weekdays = s->weekdays;
        plan->flight_count++;
    }
    plan->route_count++;
    return 0;
}

/* ------------------------------------------------------------------ plan */

static const gen_world_t *sort_world; /* qsort has no context argument */
static const gen_plan_t *sort_plan;

static int cmp_flight(const void *x, const void *y)
{
    const gen_flight_t *p = &sort_plan->flights[*(const uint32_t *)x], *q = &sort_plan->flights[*(const uint32_t *)y];
    const gen_route_t *rp = &sort_plan->routes[p->route], *rq = &sort_plan->routes[q->route];
    int c;

    if ((c = strcmp(sort_world->airports[rp->origin].code, sort_world->airports[rq->origin].code)) != 0)
        return c;
    if ((c = strcmp(sort_world->airports[rp->destination].code, sort_world->airports[rq->destination].code)) != 0)
        return c;
    if (p->dep_minute != q->dep_minute)
        return p->dep_minute < q->dep_minute ? -1 : 1;
    if ((c = memcmp(rp->carrier, rq->carrier, 2)) != 0)
        return c;
    return p->flight < q->flight ? -1 : p->flight > q->flight;
}

/* Trunk routes a new user will try first ("GRU to Lisbon?"): the demo always flies them, whatever
 * the draw, so the README's example queries have answers. Either direction matches. */
static int is_demo_anchor(const gen_world_t *w, const cand_t *c)
{
    static const char *const anchors[][2] = {{"GRU", "LIS"}, {"GRU", "GIG"}, {"GRU", "JFK"}, {"GRU", "MIA"}, {"GRU", "LHR"},
                                             {"GRU", "CDG"}, {"GRU", "MAD"}, {"GIG", "LIS"}, {"JFK", "LHR"}, {"LHR", "CDG"},
                                             {"GRU", "EZE"}, {"GRU", "SCL"}, {"LIS", "LHR"}, {"LIS", "CDG"}, {"MIA", "JFK"}};
    const char *a = w->airports[c->a].code, *b = w->airports[c->b].code;
    for (size_t i = 0; i < sizeof(anchors) / sizeof(anchors[0]); i++)
        if ((strcmp(a, anchors[i][0]) == 0 && strcmp(b, anchors[i][1]) == 0) ||
            (strcmp(a, anchors[i][1]) == 0 && strcmp(b, anchors[i][0]) == 0))
            return 1;
    return 0;
}

/* Legs a chosen candidate gives each source that sells it. */
static uint64_t legs_per_source(const cand_t *c, const shape_t *s, const uint64_t wd_count[7])
{
    uint64_t days = 0;
    for (int d = 0; d < 7; d++)
        if (s->weekdays >> d & 1)
            days += wd_count[d];
    return (uint64_t)__builtin_popcount(c->dirs) * s->freq * days;
}

/* --big-source-share: candidates in draw order (random, heavier first) become sold by the first
 * source alone until it holds the share. Whole routes move, so the share is reached or passed by
 * one route's legs; the total shrinks by the copies the other sources no longer sell. */
static void grow_first_source(const cands_t *cs, shape_t *shapes, size_t chosen, const uint64_t wd_count[7], double share)
{
    uint64_t first = 0, total = 0;

    for (size_t i = 0; i < chosen; i++) {
        uint64_t l = legs_per_source(&cs->v[i], &shapes[i], wd_count);
        total += l * (uint64_t)__builtin_popcount(shapes[i].sources);
        if (shapes[i].sources & 1u)
            first += l;
    }
    for (size_t i = 0; i < chosen && (double)first < share * (double)total; i++) {
        uint64_t l = legs_per_source(&cs->v[i], &shapes[i], wd_count);
        if (shapes[i].sources == 1u)
            continue;
        total -= l * (uint64_t)__builtin_popcount(shapes[i].sources);
        total += l;
        if (!(shapes[i].sources & 1u))
            first += l;
        shapes[i].sources = 1u;
    }
}

int gen_plan_build(const gen_config_t *cfg, const gen_world_t *w, gen_plan_t *plan)
{
    unsigned sc = gen_source_count(cfg->size), enabled = (1u << sc) - 1;
    cands_t cs = {0};
    cand_t **byw = NULL;
    shape_t *shapes = NULL;
    numbers_t nb = {0};
    size_t route_cap = 0, flight_cap = 0, chosen = 0;
    uint64_t wd_count[7] = {0};
    int r;

    memset(plan, 0, sizeof(*plan));
    plan->source_count = sc;
    plan->target_legs = (uint64_t)llround(legs_per_day(cfg->size) * cfg->days);
    for (int32_t d = 0; d < cfg->days; d++)
        wd_count[((int64_t)cfg->start_day + d + 3) % 7]++;

    r = w->openflights ? openflights_candidates(w, enabled, &cs) : builtin_candidates(w, enabled, cfg->seed, &cs);
    if (r != 0)
        goto out;
    if (cs.n == 0)
        goto out;

    /* Weight ranks for frequencies, then sampling keys: -ln(u) / weight, smallest first. In the
     * draw, carriers of the table count 4 times and the programs' own airlines 16 times, so that
     * small runs look like what these programs mostly sell. */
    byw = malloc(cs.n * sizeof(*byw)); /* NOLINT(bugprone-sizeof-expression): an array of pointers */
    shapes = malloc(cs.n * sizeof(*shapes));
    if (byw == NULL || shapes == NULL) {
        r = FS_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < cs.n; i++) {
        cand_t *c = &cs.v[i];
        const carrier_info_t *ci = carrier_find(c->carrier);
        c->h = gen_hash3(cfg->seed, (uint64_t)c->a << 32 | c->b, code_hash(c->carrier));
        c->own = ci != NULL && ci->own >= 0 && (enabled >> ci->own & 1);
        byw[i] = c;
    }
    qsort(byw, cs.n, sizeof(*byw), cmp_weight); /* NOLINT(bugprone-sizeof-expression): an array of pointers */
    for (size_t i = 0; i < cs.n; i++)
        byw[i]->pct = cs.n > 1 ? (double)i / (double)(cs.n - 1) : 1.0;
    for (size_t i = 0; i < cs.n; i++) {
        cand_t *c = &cs.v[i];
        double u = gen_unit(gen_mix(c->h ^ 0x4b)) + 0x1p-60;
        c->key = -log(u) / (c->weight * (c->own ? 16.0 : c->known ? 4.0 : 1.0) + 1e-12);
        if (cfg->size == GEN_DEMO && is_demo_anchor(w, c))
            c->key = -1.0; /* drawn first */
    }
    qsort(cs.v, cs.n, sizeof(*cs.v), cmp_key);

    /* Draw until the expected legs reach the target; raise frequencies if everything is not enough. */
    for (plan->boost = 0;; plan->boost++) {
        uint64_t expected = 0;
        for (chosen = 0; chosen < cs.n && expected < plan->target_legs; chosen++) {
            shape_t *s = &shapes[chosen];
            shape_of(&cs.v[chosen], sc, plan->boost, s);
            expected += legs_per_source(&cs.v[chosen], s, wd_count) * (uint64_t)__builtin_popcount(s->sources);
        }
        if (expected >= plan->target_legs || plan->boost == 6)
            break;
    }

    if (cfg->big_source_share > 0.0)
        grow_first_source(&cs, shapes, chosen, wd_count, cfg->big_source_share);

    nb.mask = 1;
    while (nb.mask < chosen * 32) /* at most 16 flights a candidate: load <= 1/2 */
        nb.mask <<= 1;
    nb.set = calloc(nb.mask, sizeof(*nb.set));
    if (nb.set == NULL) {
        r = FS_ENOMEM;
        goto out;
    }
    nb.mask--;
    for (size_t i = 0; i < chosen; i++) {
        const cand_t *c = &cs.v[i];
        if ((c->dirs & 1) && (r = add_route(plan, &route_cap, w, c->a, c->b, c, &shapes[i], &nb, &flight_cap, cfg->seed)))
            goto out;
        if ((c->dirs & 2) && (r = add_route(plan, &route_cap, w, c->b, c->a, c, &shapes[i], &nb, &flight_cap, cfg->seed)))
            goto out;
    }

    /* Per source: its flights in output order, its exact leg count and distinct routes. */
    sort_world = w;
    sort_plan = plan;
    for (unsigned s = 0; s < sc; s++) {
        gen_source_plan_t *sp = &plan->source[s];
        sp->flights = malloc((plan->flight_count ? plan->flight_count : 1) * sizeof(*sp->flights));
        if (sp->flights == NULL) {
            r = FS_ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < plan->flight_count; i++) {
            const gen_flight_t *f = &plan->flights[i];
            if (!(plan->routes[f->route].sources >> s & 1))
                continue;
            sp->flights[sp->flight_count++] = (uint32_t)i;
            for (int d = 0; d < 7; d++)
                if (f->weekdays >> d & 1)
                    sp->legs += wd_count[d];
        }
        qsort(sp->flights, sp->flight_count, sizeof(*sp->flights), cmp_flight);
        for (size_t i = 0; i < sp->flight_count; i++) {
            const gen_route_t *cur = &plan->routes[plan->flights[sp->flights[i]].route];
            const gen_route_t *prev = i ? &plan->routes[plan->flights[sp->flights[i - 1]].route] : NULL;
            if (prev == NULL || prev->origin != cur->origin || prev->destination != cur->destination)
                sp->routes++;
        }
        plan->total_legs += sp->legs;
    }

out:
    free(cs.v);
    free(byw);
    free(shapes);
    free(nb.set);
    if (r != 0)
        gen_plan_free(plan);
    return r;
}

void gen_plan_free(gen_plan_t *plan)
{
    for (unsigned s = 0; s < GEN_MAX_SOURCES; s++)
        free(plan->source[s].flights);
    free(plan->routes);
    free(plan->flights);
    memset(plan, 0, sizeof(*plan));
}

/* ------------------------------------------------------------------- legs */

static uint32_t round500(double m)
{
    long v = lround(m / 500.0) * 500;
    return (uint32_t)(v < 500 ? 500 : v > (long)FS_MAX_MILES ? (long)FS_MAX_MILES : v);
}

void gen_leg_make(const gen_config_t *cfg, const gen_world_t *w, const gen_plan_t *plan, unsigned s, const gen_flight_t *f,
                  int32_t day, gen_leg_t *out)
{
    static const double band_miles[4] = {10000, 20000, 35000, 50000};
    static const double band_taxes_usd_cents[4] = {2800, 6500, 11000, 15000};
    static const double cabin_taxes[FS_CABIN_COUNT] = {1.0, 1.25, 1.6, 2.0};
    const gen_route_t *r = &plan->routes[f->route];
    const gen_airport_t *o = &w->airports[r->origin], *d = &w->airports[r->destination];
    const gen_source_t *src = &gen_sources[s];
    int64_t local = (int64_t)day * 1440 + f->dep_minute;
    int dep_off = gen_zone_offset_local(o->zone, local);
    int band = r->km < 1500 ? 0 : r->km < 4000 ? 1 : r->km < 8000 ? 2 : 3;
    int wd = (int)(((int64_t)day + 3) % 7);
    uint64_t fh = gen_hash3(cfg->seed, f->salt, s); /* per flight and source: chart and taxes */
    double load = gen_unit(gen_mix(fh ^ 0x10ad));   /* how full this flight tends to be */

    out->carrier = r->carrier;
    out->flight = f->flight;
    out->origin = o->code;
    out->destination = d->code;
    out->dep_utc_min = local - dep_off;
    out->arr_utc_min = out->dep_utc_min + f->block_min;
    int arr_off = gen_zone_offset_utc(d->zone, out->arr_utc_min);
    int64_t arr_local = out->arr_utc_min + arr_off;
    out->departs.day = day;
    out->departs.minute = f->dep_minute;
    out->departs.offset_min = (int16_t)dep_off;
    out->arrives.day = (int32_t)(arr_local >= 0 ? arr_local / 1440 : -((-arr_local + 1439) / 1440));
    out->arrives.minute = (uint16_t)(arr_local - (int64_t)out->arrives.day * 1440);
    out->arrives.offset_min = (int16_t)arr_off;

    out->cabin_count = 0;
    for (unsigned c = 0; c < FS_CABIN_COUNT; c++) {
        if (!(f->cabins >> c & 1))
            continue;
        gen_cabin_offer_t *co = &out->cabins[out->cabin_count++];
        uint64_t h = gen_hash3(fh, (uint64_t)(uint32_t)day, c);
        uint64_t ch = gen_mix(fh ^ (0xc0 + c)); /* per flight, source and cabin */
        double p_sold = 0.28 + (wd == 4 || wd == 6 ? 0.10 : 0) + (c == FS_CABIN_BUSINESS ? 0.06 : 0) +
                        (c == FS_CABIN_FIRST ? 0.10 : 0) + 0.08 * load;
        double u = gen_unit(h);

        co->cabin = (uint8_t)c;
        double v = gen_unit(gen_mix(h ^ 1));
        co->seats = u < p_sold ? 0 : (uint8_t)(1 + (unsigned)(9 * v * v)); /* 1..9, mostly 1-3 */
        if (co->seats > 9)
            co->seats = 9;

        double mult = c == FS_CABIN_ECONOMY    ? 1.0
                      : c == FS_CABIN_PREMIUM  ? 1.6
                      : c == FS_CABIN_BUSINESS ? 2.5 + 0.5 * gen_unit(ch)
                                               : 4.0 + 0.4 * gen_unit(ch);
        double saver = band_miles[band] * mult * src->miles_scale * (0.9 + 0.3 * gen_unit(gen_mix(ch ^ 7)));
        if (gen_unit(gen_mix(h ^ 2)) < 0.30)                                          /* dynamic pricing */
            saver *= 1.2 + 1.8 * gen_unit(gen_mix(h ^ 3)) * gen_unit(gen_mix(h ^ 4)); /* x1.2..3, mostly low */
        co->miles = round500(saver);

        double taxes = (band_taxes_usd_cents[band] + r->km * 0.4) * cabin_taxes[c] * (0.8 + 0.5 * gen_unit(gen_mix(ch ^ 9))) *
                       src->currency_rate;
        co->taxes_cents = (uint32_t)llround(taxes);
    }
}
