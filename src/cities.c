/*
 * src/cities.c: IATA metropolitan area codes. A search for NYC searches JFK, EWR and LGA as
 * separate pairs; each result names its actual airports.
 *
 * The built-in table holds the common metropolitan codes. --cities FILE extends or overrides it
 * ("CODE AIRPORT,AIRPORT,..." per line, # comments). The table is written once at start-up,
 * before any worker runs, and only read afterwards: no synchronisation needed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "src/server.h"

#define MAX_CITIES 512
#define MAX_CITY_AIRPORTS 12

typedef struct city {
    fs_airport_t code;
    unsigned count;
    fs_airport_t airports[MAX_CITY_AIRPORTS];
} city_t;

static city_t cities[MAX_CITIES];
static unsigned city_count;

/* Airports per metropolitan code (IATA city codes; commercial airports in service). */
static const char *const builtin[][2] = {
    {"NYC", "JFK,EWR,LGA"},     {"LON", "LHR,LGW,LCY,STN,LTN,SEN"}, {"PAR", "CDG,ORY,BVA"}, {"SAO", "GRU,CGH,VCP"},
    {"RIO", "GIG,SDU"},         {"TYO", "HND,NRT"},                 {"OSA", "KIX,ITM,UKB"}, {"CHI", "ORD,MDW"},
    {"WAS", "IAD,DCA,BWI"},     {"MIL", "MXP,LIN,BGY"},             {"ROM", "FCO,CIA"},     {"BER", "BER"},
    {"STO", "ARN,BMA,NYO"},     {"MOW", "SVO,DME,VKO"},             {"BUE", "EZE,AEP"},     {"SEL", "ICN,GMP"},
    {"BJS", "PEK,PKX"},         {"SHA", "PVG,SHA"},                 {"YTO", "YYZ,YTZ"},     {"YMQ", "YUL"},
    {"BUH", "OTP,BBU"},         {"DTT", "DTW"},                     {"HOU", "IAH,HOU"},     {"QDF", "DFW,DAL"},
    {"QMI", "MIA,FLL"},         {"QLA", "LAX,BUR,LGB,SNA,ONT"},     {"QSF", "SFO,OAK,SJC"}, {"REK", "KEF,RKV"},
    {"JKT", "CGK,HLP"},         {"BKK", "BKK,DMK"},                 {"IST", "IST,SAW"},     {"MEX", "MEX,NLU"},
};

static int add_city(const char *code, const char *list, char *err, size_t errcap, const char *where)
{
    fs_airport_t c;
    if (fs_airport_parse(code, strlen(code), &c) != 0) {
        snprintf(err, errcap, "%s: '%.8s' is not a 3-letter uppercase city code", where, code);
        return FS_EINVAL;
    }
    city_t entry = {.code = c};
    const char *p = list;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        fs_airport_t a;
        if (fs_airport_parse(p, len, &a) != 0 || entry.count == MAX_CITY_AIRPORTS) {
            snprintf(err, errcap, "%s: '%.*s' is not a 3-letter uppercase airport code, or more than %d airports", where,
                     (int)(len > 8 ? 8 : len), p, MAX_CITY_AIRPORTS);
            return FS_EINVAL;
        }
        entry.airports[entry.count++] = a;
        p = comma ? comma + 1 : p + len;
    }
    if (entry.count == 0) {
        snprintf(err, errcap, "%s: city %s lists no airports", where, code);
        return FS_EINVAL;
    }
    for (unsigned i = 0; i < city_count; i++) {
        if (cities[i].code == c) {
            cities[i] = entry; /* a file overrides the built-in entry */
            return 0;
        }
    }
    if (city_count == MAX_CITIES) {
        snprintf(err, errcap, "%s: more than %d cities", where, MAX_CITIES);
        return FS_ERANGE;
    }
    cities[city_count++] = entry;
    return 0;
}

static void load_builtin(void)
{
    if (city_count > 0)
        return;
    char err[128];
    for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
        add_city(builtin[i][0], builtin[i][1], err, sizeof(err), "built-in");
}

int fs_cities_load(const char *path, char *err, size_t errcap)
{
    load_builtin();
    if (path == NULL)
        return 0;
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        snprintf(err, errcap, "--cities %s: cannot open: %s", path, strerror(errno));
        return FS_EIO;
    }
    char line[1024], where[600];
    unsigned lineno = 0;
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof(line), fp) != NULL) {
        lineno++;
        char *save, *code = strtok_r(line, " \t\r\n", &save);
        if (code == NULL || code[0] == '#')
            continue;
        char *list = strtok_r(NULL, " \t\r\n", &save), *extra = strtok_r(NULL, " \t\r\n", &save);
        snprintf(where, sizeof(where), "--cities %.500s line %u", path, lineno);
        if (list == NULL || extra != NULL) {
            snprintf(err, errcap, "%s: expected 'CODE AIRPORT,AIRPORT,...'", where);
            rc = FS_EINVAL;
            break;
        }
        rc = add_city(code, list, err, errcap, where);
    }
    fclose(fp);
    return rc;
}

unsigned fs_city_expand(fs_airport_t code, fs_airport_t *out, unsigned max)
{
    load_builtin();
    for (unsigned i = 0; i < city_count; i++) {
        if (cities[i].code != code)
            continue;
        unsigned n = cities[i].count < max ? cities[i].count : max;
        memcpy(out, cities[i].airports, n * sizeof(*out));
        return n;
    }
    return 0;
}
