#!/usr/bin/env python3
"""bench/trips_mixes.py: the trip mixes as mix files for flightsearch-load --mix-file.

    python3 bench/trips_mixes.py http://127.0.0.1:8080 OUT_PREFIX [--count N] [--seed S]

Asks /v1/routes for every 3-letter code (one keep-alive connection), keeps the routes flown both
ways with at least 45 days of schedule, and writes, over the same draws (uniform over those
routes, an outbound week starting uniformly over the route's days, the return week 7 days later):

  PREFIX.round_trip.mix   GET /v1/trips, 7 outbound x 7 return dates, every cabin, limit 50
  PREFIX.oneway.mix       the two one-way searches of each round trip (outbound week, return
                          week), what a frontend sends today without pairing: twice the lines
  PREFIX.grid.mix         GET /v1/calendar/trips, 31 outbound x 31 return dates

So one round trip costs (1 / rps of round_trip) against (2 / rps of oneway) for its two searches.
"""
import datetime
import json
import http.client
import random
import string
import sys
import urllib.parse


def routes(url):
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=10)
    found = {}
    for a in string.ascii_uppercase:
        for b in string.ascii_uppercase:
            for c in string.ascii_uppercase:
                code = a + b + c
                conn.request("GET", f"/v1/routes?origin={code}")
                resp = conn.getresponse()
                body = resp.read()
                if resp.status != 200:
                    continue
                for d in json.loads(body)["destinations"]:
                    found[(code, d["destination"])] = (d["first_date"], d["last_date"])
    return found


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    url, prefix = args[0], args[1]
    count = int(args[args.index("--count") + 1]) if "--count" in args else 500
    seed = int(args[args.index("--seed") + 1]) if "--seed" in args else 1
    rng = random.Random(seed)
    found = routes(url)
    day = datetime.date.fromisoformat
    pairs = []
    for (o, d), (first, last) in sorted(found.items()):
        if o < d and (d, o) in found:
            lo = max(day(first), day(found[(d, o)][0]))
            hi = min(day(last), day(found[(d, o)][1]))
            if (hi - lo).days >= 45:
                pairs.append((o, d, lo, hi))
    if not pairs:
        sys.exit("no route flown both ways with 45 days of schedule")
    with open(prefix + ".round_trip.mix", "w") as rt, open(prefix + ".oneway.mix", "w") as ow, \
            open(prefix + ".grid.mix", "w") as gr:
        for _ in range(count):
            o, d, lo, hi = rng.choice(pairs)
            out0 = lo + datetime.timedelta(days=rng.randrange(max(1, (hi - lo).days - 14)))
            ret0 = out0 + datetime.timedelta(days=7)
            out1, ret1 = out0 + datetime.timedelta(days=6), ret0 + datetime.timedelta(days=6)
            rt.write(f"/v1/trips?origin={o}&destination={d}&start_date={out0}&end_date={out1}"
                     f"&return_start_date={ret0}&return_end_date={ret1}\n")
            ow.write(f"/v1/search?origin={o}&destination={d}&start_date={out0}&end_date={out1}\n")
            ow.write(f"/v1/search?origin={d}&destination={o}&start_date={ret0}&end_date={ret1}\n")
            g0 = lo + datetime.timedelta(days=rng.randrange(max(1, (hi - lo).days - 45)))
            gr.write(f"/v1/calendar/trips?origin={o}&destination={d}&start_date={g0}"
                     f"&end_date={g0 + datetime.timedelta(days=30)}&return_start_date={g0 + datetime.timedelta(days=7)}"
                     f"&return_end_date={g0 + datetime.timedelta(days=37)}\n")
    print(f"{len(pairs)} route pairs; {count} queries per mix in {prefix}.{{round_trip,oneway,grid}}.mix")


if __name__ == "__main__":
    main()
