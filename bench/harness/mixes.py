"""The query mixes: what is asked, drawn from the data the server actually holds.

Routes come from the server itself: every 3-letter code is asked on /v1/routes (17,576 requests
on one keep-alive connection, about two seconds), which gives each route's legs and first and
last dates. Popularity is Zipf over routes ranked by legs (the busiest route is the most asked),
exponent ZIPF_S; dates are uniform over the route's published days. A share of each list
(EMPTY_SHARE) asks for something real that has no answer: a date after the route's last
published day, or an airport with no routes. Every query is answerable: the preflight asks each
distinct query once and refuses to go on unless every one is 200.

Each mix is written twice, as the HTTP request and as the SQL a PostgreSQL user would run for
the same answer; the SQL reads its parameters from a query table bq_<mix> by row number :i,
because pgbench variables hold numbers only (the lookup is one primary-key probe).
"""
import datetime
import http.client
import itertools
import json
import os
import random
import re
import string
import time

ZIPF_S = 1.0
EMPTY_SHARE = 0.05

LEG_COLUMNS = ("l.source, l.carrier, l.flight, l.origin, l.destination, l.dep_local, l.dep_offset_min, l.arr_local, "
               "l.arr_offset_min, l.duration_min, l.cabin, l.seats, l.miles, l.taxes_cents, l.currency")


class Mix:
    def __init__(self, name, title, endpoint, span, cabin, sql, check_sql, extra="", same_as=None):
        self.name, self.title, self.endpoint, self.span, self.cabin = name, title, endpoint, span, cabin
        self.sql = sql              # the statement pgbench runs; :i is the query-table row
        self.check_sql = check_sql  # one number comparable with flightsearch's answer (see answer_figure)
        self.extra = extra          # more query parameters, e.g. "&max_stops=1"
        self.same_as = same_as      # another mix whose queries this one asks (with its own extra)

    def sql_for(self, i):
        """The statement with the query-table row filled in (for EXPLAIN and the answer check)."""
        return re.sub(r"(?<!:):i\b", str(int(i)), self.sql)

    def path(self, q):
        if self.endpoint == "routes":
            return f"/v1/routes?origin={q['o']}"
        if self.endpoint in ("trips", "calendar/trips"):
            r0, r1 = (_day(q[k]) + datetime.timedelta(days=RETURN_AFTER_DAYS) for k in ("d0", "d1"))
            return (f"/v1/{self.endpoint}?origin={q['o']}&destination={q['d']}&start_date={q['d0']}&end_date={q['d1']}"
                    f"&return_start_date={r0}&return_end_date={r1}{self.extra}")
        if self.span == 1:
            dates = f"date={q['d0']}"
        else:
            dates = f"start_date={q['d0']}&end_date={q['d1']}"
        cabin = f"&cabin={self.cabin}" if self.cabin else ""
        return f"/v1/{self.endpoint}?origin={q['o']}&destination={q['d']}&{dates}{cabin}{self.extra}"


def _search_sql(table, cabin):
    cabin_cond = " AND l.cabin = q.cabin" if cabin else ""
    return (f"SELECT {LEG_COLUMNS}, count(*) OVER () AS total FROM {table} q JOIN legs l ON l.origin = q.o AND "
            f"l.destination = q.d AND l.dep_date BETWEEN q.d0 AND q.d1{cabin_cond} WHERE q.i = :i AND l.seats >= 1 "
            "ORDER BY l.miles, l.dep_utc, l.source, l.carrier, l.flight LIMIT 50")


_CALENDAR_SQL = ("SELECT l.dep_date, l.cabin, min(l.miles) AS min_miles, max(l.seats) AS max_seats, count(*) AS n "
                 "FROM bq_calendar_30day q JOIN legs l ON l.origin = q.o AND l.destination = q.d AND "
                 "l.dep_date BETWEEN q.d0 AND q.d1 WHERE q.i = :i AND l.seats >= 1 GROUP BY l.dep_date, l.cabin ORDER BY 1, 2")
_ROUTES_SQL = ("SELECT destination, count(*) AS legs, min(dep_date) AS first_date, max(dep_date) AS last_date FROM "
               "(SELECT DISTINCT l.destination, l.source, l.carrier, l.flight, l.dep_date FROM bq_routes q JOIN legs l "
               "ON l.origin = q.o WHERE q.i = :i) s GROUP BY destination ORDER BY destination")

# 1-stop as docs/api.md defines it: nonstop legs plus every A->X->B pair (X neither A nor B) whose
# second leg departs 60 to 720 minutes (UTC) after the first arrives, both legs in the cabin with
# a seat, partners mixed freely but never two currencies (miles add up, taxes in two currencies
# do not); total counts both kinds. The dep_date range on the second leg
# only lets the index narrow the scan; the UTC window is the rule.
_ONESTOP_SQL = (
    "WITH q AS (SELECT * FROM bq_search_1stop WHERE i = :i) "
    "SELECT s.*, count(*) OVER () AS total FROM ("
    "SELECT l.source, l.carrier, l.flight, CAST(NULL AS text) AS source2, CAST(NULL AS text) AS carrier2, "
    "CAST(NULL AS integer) AS flight2, "
    "l.dep_utc, l.arr_utc, l.miles FROM q JOIN legs l ON l.origin = q.o AND l.destination = q.d AND l.dep_date = q.d0 "
    "AND l.cabin = q.cabin WHERE l.seats >= 1 "
    "UNION ALL "
    "SELECT a.source, a.carrier, a.flight, b.source, b.carrier, b.flight, a.dep_utc, b.arr_utc, a.miles + b.miles "
    "FROM q JOIN legs a ON a.origin = q.o AND a.dep_date = q.d0 AND a.cabin = q.cabin AND a.destination <> q.d "
    "JOIN legs b ON b.origin = a.destination AND b.destination = q.d AND b.cabin = q.cabin AND b.currency = a.currency "
    "AND b.dep_date BETWEEN a.dep_date - 1 AND a.dep_date + 3 "
    "AND b.dep_utc BETWEEN a.arr_utc + interval '60 minutes' AND a.arr_utc + interval '720 minutes' "
    "WHERE a.seats >= 1 AND b.seats >= 1"
    ") s ORDER BY s.miles, s.dep_utc LIMIT 50")

# 2 stops as docs/api.md defines them: the nonstops and 1-stop itineraries above, plus every
# A->X->Y->B with the four airports distinct and both connections 60 to 720 minutes (UTC), one
# currency over the three legs, all in the cabin with a seat.
_LEG3 = "CAST(NULL AS text) AS source3, CAST(NULL AS text) AS carrier3, CAST(NULL AS integer) AS flight3"
_TWOSTOP_SQL = (
    "WITH q AS (SELECT * FROM bq_search_2stop WHERE i = :i) "
    "SELECT s.*, count(*) OVER () AS total FROM ("
    "SELECT l.source, l.carrier, l.flight, CAST(NULL AS text) AS source2, CAST(NULL AS text) AS carrier2, "
    f"CAST(NULL AS integer) AS flight2, {_LEG3}, "
    "l.dep_utc, l.arr_utc, l.miles FROM q JOIN legs l ON l.origin = q.o AND l.destination = q.d AND l.dep_date = q.d0 "
    "AND l.cabin = q.cabin WHERE l.seats >= 1 "
    "UNION ALL "
    f"SELECT a.source, a.carrier, a.flight, b.source, b.carrier, b.flight, {_LEG3}, a.dep_utc, b.arr_utc, a.miles + b.miles "
    "FROM q JOIN legs a ON a.origin = q.o AND a.dep_date = q.d0 AND a.cabin = q.cabin AND a.destination <> q.d "
    "JOIN legs b ON b.origin = a.destination AND b.destination = q.d AND b.cabin = q.cabin AND b.currency = a.currency "
    "AND b.dep_date BETWEEN a.dep_date - 1 AND a.dep_date + 3 "
    "AND b.dep_utc BETWEEN a.arr_utc + interval '60 minutes' AND a.arr_utc + interval '720 minutes' "
    "WHERE a.seats >= 1 AND b.seats >= 1 "
    "UNION ALL "
    "SELECT a.source, a.carrier, a.flight, b.source, b.carrier, b.flight, c.source, c.carrier, c.flight, a.dep_utc, c.arr_utc, "
    "a.miles + b.miles + c.miles "
    "FROM q JOIN legs a ON a.origin = q.o AND a.dep_date = q.d0 AND a.cabin = q.cabin AND a.destination <> q.d "
    "JOIN legs b ON b.origin = a.destination AND b.destination <> q.o AND b.destination <> q.d AND b.cabin = q.cabin "
    "AND b.currency = a.currency AND b.dep_date BETWEEN a.dep_date - 1 AND a.dep_date + 3 "
    "AND b.dep_utc BETWEEN a.arr_utc + interval '60 minutes' AND a.arr_utc + interval '720 minutes' "
    "JOIN legs c ON c.origin = b.destination AND c.destination = q.d AND c.cabin = q.cabin AND c.currency = a.currency "
    "AND c.dep_date BETWEEN b.dep_date - 1 AND b.dep_date + 3 "
    "AND c.dep_utc BETWEEN b.arr_utc + interval '60 minutes' AND b.arr_utc + interval '720 minutes' "
    "WHERE a.seats >= 1 AND b.seats >= 1 AND c.seats >= 1"
    ") s ORDER BY s.miles, s.dep_utc LIMIT 50")

# Round trips as docs/api.md defines them: one outbound leg (q.o -> q.d, dates d0..d1) and one
# return leg (q.d -> q.o, the same dates a week later), every cabin of each independently, the
# return departing at least 60 minutes (UTC) after the outbound arrives; priced as the sum, taxes
# per currency (so no currency rule). The page is the best 50 by summed miles; total counts every
# pair. RETURN_AFTER_DAYS is the week between the two date ranges.
RETURN_AFTER_DAYS = 7
_TRIP_PAIRS = (
    "FROM q JOIN legs a ON a.origin = q.o AND a.destination = q.d AND a.dep_date BETWEEN q.d0 AND q.d1 "
    "JOIN legs b ON b.origin = q.d AND b.destination = q.o "
    "AND b.dep_date BETWEEN q.d0 + 7 AND q.d1 + 7 AND b.dep_utc >= a.arr_utc + interval '60 minutes' "
    "WHERE a.seats >= 1 AND b.seats >= 1")
_TRIPS_SQL = (
    "WITH q AS (SELECT * FROM bq_trips_7x7 WHERE i = :i) "
    "SELECT a.source, a.carrier, a.flight, a.dep_utc, a.cabin, b.source AS source2, b.carrier AS carrier2, "
    "b.flight AS flight2, b.dep_utc AS dep_utc2, b.cabin AS cabin2, a.miles + b.miles AS miles, "
    f"count(*) OVER () AS total {_TRIP_PAIRS} ORDER BY miles, a.dep_utc, b.dep_utc LIMIT 50")
# The date grid: per (outbound date, return date) and the lower of the two cabins, the cheapest
# summed miles and the number of trips.
_CABIN_RANK = "CASE {c} WHEN 'economy' THEN 0 WHEN 'premium' THEN 1 WHEN 'business' THEN 2 ELSE 3 END"
_GRID_SQL = (
    "WITH q AS (SELECT * FROM bq_trips_grid_31 WHERE i = :i) "
    f"SELECT a.dep_date, b.dep_date AS return_date, least({_CABIN_RANK.format(c='a.cabin')}, "
    f"{_CABIN_RANK.format(c='b.cabin')}) AS cabin, min(a.miles + b.miles) AS min_miles, count(*) AS n "
    f"{_TRIP_PAIRS} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")

# A list view's partial answer (docs/api.md "Partial responses"): what a result row shows, the
# page's cursor and the count the view prints.
LIST_VIEW = "&fields=results(id,miles,seats,departs_at),next_cursor,total"

MIXES = [
    Mix("direct_1day", "direct search, 1 date, economy", "search", 1, "economy", _search_sql("bq_direct_1day", True),
        "SELECT coalesce(max(total), 0) FROM ({sql}) s"),
    Mix("direct_7day", "direct search, 7 dates, any cabin", "search", 7, None, _search_sql("bq_direct_7day", False),
        "SELECT coalesce(max(total), 0) FROM ({sql}) s"),
    Mix("calendar_30day", "calendar, 30 dates", "calendar", 30, None, _CALENDAR_SQL,
        "SELECT coalesce(sum(n), 0) FROM ({sql}) s"),
    Mix("routes", "routes explore, 1 origin", "routes", 0, None, _ROUTES_SQL,
        "SELECT coalesce(sum(legs), 0) FROM ({sql}) s"),
    Mix("search_1stop", "1-stop search, 1 date, economy", "search", 1, "economy", _ONESTOP_SQL,
        "SELECT coalesce(max(total), 0) FROM ({sql}) s", extra="&max_stops=1"),
    Mix("search_2stop", "2-stop search, 1 date, economy", "search", 1, "economy", _TWOSTOP_SQL,
        "SELECT coalesce(max(total), 0) FROM ({sql}) s", extra="&max_stops=2"),
    Mix("trips_7x7", "round trip, 7 x 7 dates, any cabin", "trips", 7, None, _TRIPS_SQL,
        "SELECT coalesce(max(total), 0) FROM ({sql}) s"),
    Mix("trips_grid_31", "round-trip date grid, 31 x 31 dates", "calendar/trips", 31, None, _GRID_SQL,
        "SELECT coalesce(sum(n), 0) FROM ({sql}) s"),
    # the same queries as direct_1day and direct_7day, answered as a list view; PostgreSQL's peer
    # still returns every column (what a database behind a list view would be asked)
    Mix("direct_1day_list", "direct search, 1 date, economy, list view (fields)", "search", 1, "economy",
        _search_sql("bq_direct_1day_list", True), "SELECT coalesce(max(total), 0) FROM ({sql}) s", extra=LIST_VIEW,
        same_as="direct_1day"),
    Mix("direct_7day_list", "direct search, 7 dates, any cabin, list view (fields)", "search", 7, None,
        _search_sql("bq_direct_7day_list", False), "SELECT coalesce(max(total), 0) FROM ({sql}) s", extra=LIST_VIEW,
        same_as="direct_7day"),
]

# Mixes the issue asked for that the server cannot answer yet; probed on every run.
SKIPPED = {}


def answer_figure(mix, body):
    """The number of a flightsearch answer that check_sql computes too: the search total, the
    sum of calendar counts, the sum of route legs."""
    doc = json.loads(body)
    if mix.endpoint in ("search", "trips"):
        return doc["total"]
    if mix.endpoint == "calendar/trips":
        return sum(v["count"] for cell in doc["cells"] for k, v in cell.items() if k not in ("date", "return_date"))
    if mix.endpoint == "calendar":
        return sum(v["count"] for day in doc["days"] for k, v in day.items() if k != "date")
    return sum(d["legs"] for d in doc["destinations"])


def _is_empty(mix, doc):
    if mix.endpoint == "search":
        return not doc["results"]
    if mix.endpoint == "trips":
        return doc["count"] == 0
    if mix.endpoint == "calendar/trips":
        return not doc["cells"]
    if mix.endpoint == "calendar":
        return all(len(day) == 1 for day in doc["days"])
    return not doc["destinations"]


def _get(conn, path, attempts=50):
    """GET on a keep-alive connection; a 503 (shed under load, or over the search budget) is
    retried after a pause: the preflight asks whether a query is answerable, not how fast."""
    for _ in range(attempts):
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        if r.status != 503:
            break
        time.sleep(0.05)
    return r.status, body


def origins_from_csv(path, max_bytes=200 << 20):
    """The origin codes of flightsearch-gen's CSV (column 4), or None when it is missing or too big
    to be quicker than probing every code."""
    try:
        if os.path.getsize(path) > max_bytes:
            return None
        with open(path) as f:
            next(f)
            return sorted({line.split(",", 4)[3] for line in f})
    except (OSError, StopIteration, IndexError):
        return None


def discover_routes(port, codes=None):
    """Every route the server holds, as dicts (o, d, legs, first, last), the codes with none, and
    the codes /v1/routes refuses (400: metropolitan codes such as NYC; routes takes one airport),
    the single-airport metropolitan codes it answers for (dropped from the routes), and the refused
    codes that are airports with legs (some route's destination).
    codes: the origins to ask about; by default every 3-letter code."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    routes, empty, refused = [], [], []
    if codes is None:
        codes = ["".join(letters) for letters in itertools.product(string.ascii_uppercase, repeat=3)]
    for code in codes:
        status, body = _get(conn, f"/v1/routes?origin={code}")
        if status == 400:
            refused.append(code)
            continue
        if status != 200:
            raise RuntimeError(f"/v1/routes?origin={code} answered {status}")
        if b'"destinations":[]' in body:
            empty.append(code)
            continue
        for d in json.loads(body)["destinations"]:
            routes.append({"o": code, "d": d["destination"], "legs": d["legs"],
                           "first": d["first_date"], "last": d["last_date"]})
    # A metropolitan code with a single airport (DTT: DTW) is accepted by /v1/routes and answers
    # for its airport; the searches report the airports they expanded a code to, so ask once per
    # origin and keep real airports only (the other system knows nothing of metro codes).
    aliases = set()
    for o in sorted({r["o"] for r in routes}):
        r = next(x for x in routes if x["o"] == o)
        status, body = _get(conn, f"/v1/search?origin={o}&destination={r['d']}&date={r['first']}&limit=1")
        if status == 200 and json.loads(body).get("origins", [o]) != [o]:
            aliases.add(o)
    conn.close()
    # A destination that is also a metropolitan code (SHA: PVG and SHA) is searched as the city:
    # both kinds of code are left out, so that every query means the same to PostgreSQL.
    metro = aliases | set(refused)
    refused_with_data = sorted(set(refused) & {r["d"] for r in routes})
    routes = [r for r in routes if r["o"] not in metro and r["d"] not in metro]
    return routes, empty, refused, sorted(aliases), refused_with_data


def _day(s):
    return datetime.date.fromisoformat(s)


def build_mixes(routes, empty_origins, count, seed):
    """{mix name: [query dict]} with `count` queries each (o, d, d0, d1, cabin, path)."""
    rng = random.Random(seed)
    ranked = sorted(routes, key=lambda r: (-r["legs"], r["o"], r["d"]))
    route_w = [1.0 / (k + 1) ** ZIPF_S for k in range(len(ranked))]
    origin_legs = {}
    for r in routes:
        origin_legs[r["o"]] = origin_legs.get(r["o"], 0) + r["legs"]
    origins = sorted(origin_legs, key=lambda o: (-origin_legs[o], o))
    origin_w = [1.0 / (k + 1) ** ZIPF_S for k in range(len(origins))]
    by_origin = {}
    for r in routes:
        by_origin.setdefault(r["o"], []).append(r)
    # routes flown both ways, by the popularity of their outbound direction (round-trip mixes)
    back = {(r["o"], r["d"]): r for r in routes}
    both_ways = [(r, back[(r["d"], r["o"])]) for r in ranked if (r["d"], r["o"]) in back]
    both_w = [route_w[k] for k, r in enumerate(ranked) if (r["d"], r["o"]) in back]
    out = {}
    for mix in MIXES:
        if mix.same_as:  # MIXES lists the mix it copies first
            out[mix.name] = [dict(q, path=mix.path(q)) for q in out[mix.same_as]]
            continue
        qs = []
        for _ in range(count):
            empty = rng.random() < EMPTY_SHARE
            if mix.name == "search_1stop":
                q = _one_stop_query(rng, ranked, route_w, by_origin, empty)
            elif mix.name == "search_2stop":
                q = _two_stop_query(rng, ranked, route_w, by_origin, empty)
            elif mix.endpoint in ("trips", "calendar/trips"):
                q = _round_trip_query(rng, both_ways, both_w, mix.span, empty)
            elif mix.endpoint == "routes":
                o = rng.choice(empty_origins) if empty and empty_origins else rng.choices(origins, origin_w)[0]
                q = {"o": o, "d": None, "d0": None, "d1": None, "cabin": None}
            else:
                r = rng.choices(ranked, route_w)[0]
                first, last = _day(r["first"]), _day(r["last"])
                span = mix.span
                if empty:
                    d0 = last + datetime.timedelta(days=1 + rng.randrange(30))
                else:
                    room = (last - first).days - span + 1
                    d0 = first + datetime.timedelta(days=rng.randrange(room + 1) if room > 0 else 0)
                d1 = d0 + datetime.timedelta(days=span - 1)
                q = {"o": r["o"], "d": r["d"], "d0": d0.isoformat(), "d1": d1.isoformat(), "cabin": mix.cabin}
            q["path"] = mix.path(q)
            qs.append(q)
        out[mix.name] = qs
    return out


def _one_stop_query(rng, ranked, route_w, by_origin, empty):
    """A -> B where A -> X is drawn by popularity and X -> B uniformly among X's routes (B != A):
    a pair a traveller asks for because it connects, with or without a nonstop too. The date lies
    in both legs' published days."""
    for _ in range(100):
        first = rng.choices(ranked, route_w)[0]
        onward = [r for r in by_origin.get(first["d"], []) if r["d"] != first["o"]]
        if not onward:
            continue
        second = rng.choice(onward)
        lo = max(_day(first["first"]), _day(second["first"]))
        hi = min(_day(first["last"]), _day(second["last"]))
        if empty:
            d0 = max(_day(first["last"]), _day(second["last"])) + datetime.timedelta(days=3 + rng.randrange(30))
        elif hi >= lo:
            d0 = lo + datetime.timedelta(days=rng.randrange((hi - lo).days + 1))
        else:
            continue
        return {"o": first["o"], "d": second["d"], "d0": d0.isoformat(), "d1": d0.isoformat(), "cabin": "economy"}
    raise RuntimeError("no connecting route pairs in the data")


def _two_stop_query(rng, ranked, route_w, by_origin, empty):
    """A -> B where A -> X is drawn by popularity, X -> Y and Y -> B uniformly among the routes
    onward (Y and B new airports each time): a pair that connects twice, with or without shorter
    itineraries too. The date lies in the three routes' published days."""
    for _ in range(200):
        first = rng.choices(ranked, route_w)[0]
        mid = [r for r in by_origin.get(first["d"], []) if r["d"] != first["o"]]
        if not mid:
            continue
        second = rng.choice(mid)
        last = [r for r in by_origin.get(second["d"], []) if r["d"] not in (first["o"], first["d"])]
        if not last:
            continue
        third = rng.choice(last)
        lo = max(_day(r["first"]) for r in (first, second, third))
        hi = min(_day(r["last"]) for r in (first, second, third))
        if empty:
            d0 = max(_day(r["last"]) for r in (first, second, third)) + datetime.timedelta(days=3 + rng.randrange(30))
        elif hi >= lo:
            d0 = lo + datetime.timedelta(days=rng.randrange((hi - lo).days + 1))
        else:
            continue
        return {"o": first["o"], "d": third["d"], "d0": d0.isoformat(), "d1": d0.isoformat(), "cabin": "economy"}
    raise RuntimeError("no route triples that connect twice in the data")


def _round_trip_query(rng, both_ways, weights, span, empty):
    """A round trip on a route flown both ways: `span` outbound dates within the outbound's days
    whose return dates, RETURN_AFTER_DAYS later, lie within the return's days where they can."""
    if not both_ways:
        raise RuntimeError("no route flown both ways in the data")
    out, back = rng.choices(both_ways, weights)[0]
    last = min(_day(out["last"]), _day(back["last"]) - datetime.timedelta(days=RETURN_AFTER_DAYS))
    first = max(_day(out["first"]), _day(back["first"]) - datetime.timedelta(days=RETURN_AFTER_DAYS))
    if empty:
        d0 = _day(out["last"]) + datetime.timedelta(days=1 + rng.randrange(30))
    else:
        room = (last - first).days - span + 1
        d0 = first + datetime.timedelta(days=rng.randrange(room + 1) if room > 0 else 0)
    d1 = d0 + datetime.timedelta(days=span - 1)
    return {"o": out["o"], "d": out["d"], "d0": d0.isoformat(), "d1": d1.isoformat(), "cabin": None}


def preflight(port, mix, queries):
    """Asks every distinct query once. Returns the share of empty answers, the median response
    size over the list and one body of that size (the floor serves it), the mean size, and the
    failures (path and status) if any."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    seen = {}
    failures = []
    for q in queries:
        p = q["path"]
        if p in seen:
            continue
        status, body = _get(conn, p)
        if status != 200:
            failures.append((p, status))
            seen[p] = (len(body), True, body)
            continue
        seen[p] = (len(body), _is_empty(mix, json.loads(body)), body)
    conn.close()
    sizes = sorted((seen[q["path"]][0], q["path"]) for q in queries)
    median_size, median_path = sizes[len(sizes) // 2]
    return {
        "distinct_queries": len(seen),
        "empty_share": round(sum(1 for q in queries if seen[q["path"]][1]) / len(queries), 4),
        "median_response_bytes": median_size,
        "mean_response_bytes": round(sum(s for s, _ in sizes) / len(sizes), 1),
        "median_body": seen[median_path][2],
        "failures": failures[:10],
        "failure_count": len(failures),
    }


def write_uri_file(path, base_url, queries):
    with open(path, "w") as f:
        for q in queries:
            f.write(base_url + q["path"] + "\n")


def probe_skipped(port, routes):
    """Asks each skipped mix once on a real route: what does the server say today?"""
    out = {}
    r = max(routes, key=lambda x: x["legs"])
    for name, s in SKIPPED.items():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", s["path"].format(o=r["o"], d=r["d"], d0=r["first"]))
        resp = conn.getresponse()
        resp.read()
        conn.close()
        out[name] = {"title": s["title"], "status": resp.status,
                     "note": s["note"] if resp.status == 400 else
                     f"max_stops=1 now answers {resp.status}: add the 1-stop mix to bench/harness/mixes.py"}
    return out
