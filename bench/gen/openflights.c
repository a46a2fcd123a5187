/*
 * bench/gen/openflights.c: reads the OpenFlights airport, airline and route databases at run time.
 *
 * The files are ODbL-licensed (attribute "OpenFlights.org"); they are read from a directory given
 * on the command line and never copied into this repository. What is kept:
 *   airports.dat  airports with a 3-letter IATA code and an IANA zone (zones are checked later);
 *   airlines.dat  only to drop routes of airlines the file marks inactive;
 *   routes.dat    direct (stops = 0), operated (not codeshare) routes between two kept airports,
 *                 by an airline with a 2-character designator, each (airline, origin, destination)
 *                 once. An airport's weight is the number of such routes touching it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench/gen/gen.h"

typedef struct buf {
    char *data;
    size_t len;
} buf_t;

static int read_file(const char *dir, const char *name, buf_t *out, char *err, size_t errlen)
{
    char path[4096];
    FILE *fp;
    long n;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fp = fopen(path, "rb");
    if (fp == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return FS_EIO;
    }
    if (fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET) != 0) {
        snprintf(err, errlen, "%s: cannot size the file", path);
        fclose(fp);
        return FS_EIO;
    }
    out->data = malloc((size_t)n + 1);
    if (out->data == NULL) {
        fclose(fp);
        snprintf(err, errlen, "out of memory");
        return FS_ENOMEM;
    }
    out->len = fread(out->data, 1, (size_t)n, fp);
    out->data[out->len] = '\0';
    if (ferror(fp)) {
        snprintf(err, errlen, "%s: read error", path);
        fclose(fp);
        free(out->data);
        out->data = NULL; /* the caller's error path frees it again */
        return FS_EIO;
    }
    fclose(fp);
    return 0;
}

#define MAX_FIELDS 16

/*
 * Splits one CSV line in place starting at *pos: fields are NUL-terminated, quotes removed and ""
 * unescaped; "\N" (OpenFlights' missing value) becomes "". Returns the field count, 0 at the end.
 */
static unsigned split_line(char **pos, char **field)
{
    char *p = *pos, *w;
    unsigned n = 0;

    if (*p == '\0')
        return 0;
    for (;;) {
        char *start = w = p;
        if (*p == '"') {
            p++;
            for (;;) {
                if (*p == '\0' || *p == '\n')
                    break;
                if (*p == '"') {
                    if (p[1] == '"') {
                        *w++ = '"';
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                *w++ = *p++;
            }
            while (*p != ',' && *p != '\n' && *p != '\0') /* junk after a closing quote */
                p++;
        } else {
            while (*p != ',' && *p != '\n' && *p != '\0' && *p != '\r')
                *w++ = *p++;
            while (*p == '\r')
                p++;
        }
        char end = *p;
        *w = '\0';
        if (strcmp(start, "\\N") == 0)
            start[0] = '\0';
        if (n < MAX_FIELDS)
            field[n++] = start;
        if (end == ',') {
            p++;
            continue;
        }
        if (end == '\n')
            p++;
        break;
    }
    *pos = p;
    return n;
}

static int is_upper3(const char *s)
{
    return strlen(s) == 3 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' && s[2] >= 'A' && s[2] <= 'Z';
}

static int is_designator(const char *s)
{
    if (strlen(s) != 2)
        return 0;
    for (int i = 0; i < 2; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
            return 0;
    return 1;
}

int gen_world_openflights(gen_world_t *w, const char *dir, char *err, size_t errlen)
{
    struct {
        buf_t airports, airlines, routes;
    } files = {{0}}, *own = &files;
    int32_t *by_code = NULL;
    uint8_t *inactive = NULL;
    uint64_t *seen = NULL;
    size_t cap = 0, seen_mask = 0;
    char *field[MAX_FIELDS], *p;
    unsigned n;
    int r;

    memset(w, 0, sizeof(*w));
    w->openflights = 1;
    if ((r = read_file(dir, "airports.dat", &own->airports, err, errlen)) != 0 ||
        (r = read_file(dir, "airlines.dat", &own->airlines, err, errlen)) != 0 ||
        (r = read_file(dir, "routes.dat", &own->routes, err, errlen)) != 0)
        goto fail;

    by_code = malloc(FS_AIRPORT_COUNT * sizeof(*by_code));
    if (by_code == NULL)
        goto nomem;
    for (size_t i = 0; i < FS_AIRPORT_COUNT; i++)
        by_code[i] = -1;

    /* airports.dat: id,name,city,country,IATA,ICAO,lat,lon,alt,tz_hours,DST,tz,type,source */
    for (p = own->airports.data; (n = split_line(&p, field)) != 0;) {
        fs_airport_t code;
        if (n < 12 || !is_upper3(field[4]) || field[11][0] == '\0')
            continue;
        if (n >= 13 && field[12][0] != '\0' && strcmp(field[12], "airport") != 0)
            continue;
        if (fs_airport_parse(field[4], 3, &code) != 0 || by_code[code] >= 0)
            continue; /* a code listed twice: the first entry wins */
        if (w->airport_count == cap) {
            size_t ncap = cap ? 2 * cap : 4096;
            gen_airport_t *na = realloc(w->airports, ncap * sizeof(*na));
            if (na == NULL)
                goto nomem;
            w->airports = na;
            cap = ncap;
        }
        gen_airport_t *a = &w->airports[w->airport_count];
        memcpy(a->code, field[4], 4);
        a->city = field[2];
        a->country = field[3];
        a->lat = strtod(field[6], NULL);
        a->lon = strtod(field[7], NULL);
        a->tz = field[11];
        a->weight = 0;
        a->zone = -1;
        by_code[code] = (int32_t)w->airport_count++;
    }
    if (w->airport_count == 0) {
        snprintf(err, errlen, "%s/airports.dat: no usable airport", dir);
        r = FS_EINVAL;
        goto fail;
    }

    /* airlines.dat: id,name,alias,IATA,ICAO,callsign,country,active */
    inactive = calloc(1 << 16, 1);
    if (inactive == NULL)
        goto nomem;
    for (p = own->airlines.data; (n = split_line(&p, field)) != 0;) {
        long id;
        if (n < 8)
            continue;
        id = strtol(field[0], NULL, 10);
        if (id >= 0 && id < (1 << 16) && strcmp(field[7], "N") == 0)
            inactive[id] = 1;
    }

    /* routes.dat: airline,airline_id,src,src_id,dst,dst_id,codeshare,stops,equipment.
     * (airline, origin, destination) triples are deduplicated with an open-addressing set. */
    seen_mask = (1u << 18) - 1;
    seen = calloc(seen_mask + 1, sizeof(*seen));
    if (seen == NULL)
        goto nomem;
    cap = 0;
    for (p = own->routes.data; (n = split_line(&p, field)) != 0;) {
        fs_airport_t o, d;
        long airline_id;
        if (n < 8 || strcmp(field[7], "0") != 0 || strcmp(field[6], "Y") == 0 || !is_designator(field[0]))
            continue;
        airline_id = field[1][0] != '\0' ? strtol(field[1], NULL, 10) : -1;
        if (airline_id >= 0 && airline_id < (1 << 16) && inactive[airline_id])
            continue;
        if (!is_upper3(field[2]) || !is_upper3(field[4]) || fs_airport_parse(field[2], 3, &o) != 0 ||
            fs_airport_parse(field[4], 3, &d) != 0 || o == d || by_code[o] < 0 || by_code[d] < 0)
            continue;
        uint64_t key =
            ((uint64_t)(unsigned char)field[0][0] << 40 | (uint64_t)(unsigned char)field[0][1] << 32 | (uint64_t)o << 16 | d) + 1;
        size_t slot = gen_mix(key) & seen_mask;
        while (seen[slot] != 0 && seen[slot] != key)
            slot = (slot + 1) & seen_mask;
        if (seen[slot] == key)
            continue;
        if (w->route_count * 2 >= seen_mask) { /* the file has ~67k rows; 2^18 slots is plenty */
            snprintf(err, errlen, "%s/routes.dat: too many routes", dir);
            r = FS_ERANGE;
            goto fail;
        }
        seen[slot] = key;
        if (w->route_count == cap) {
            size_t ncap = cap ? 2 * cap : 16384;
            gen_of_route_t *nr = realloc(w->routes, ncap * sizeof(*nr));
            if (nr == NULL)
                goto nomem;
            w->routes = nr;
            cap = ncap;
        }
        gen_of_route_t *rt = &w->routes[w->route_count++];
        memcpy(rt->carrier, field[0], 3);
        rt->origin = (uint32_t)by_code[o];
        rt->destination = (uint32_t)by_code[d];
        w->airports[rt->origin].weight += 1;
        w->airports[rt->destination].weight += 1;
    }
    if (w->route_count == 0) {
        snprintf(err, errlen, "%s/routes.dat: no usable route", dir);
        r = FS_EINVAL;
        goto fail;
    }
    /* The airlines and routes text is no longer referenced; the airports text is (names, zones). */
    free(own->airlines.data);
    free(own->routes.data);
    w->owned = own->airports.data;
    free(by_code);
    free(inactive);
    free(seen);
    return 0;

nomem:
    snprintf(err, errlen, "out of memory");
    r = FS_ENOMEM;
fail:
    free(by_code);
    free(inactive);
    free(seen);
    free(own->airports.data);
    free(own->airlines.data);
    free(own->routes.data);
    gen_world_free(w);
    return r;
}
