"""The PostgreSQL side: the same legs (flightsearch-gen --csv, one row per leg and cabin) loaded
through COPY, the indexes a competent engineer would add for these queries, the query tables the
pgbench scripts read their parameters from, and a check that both systems give the same answers.

Schema choices, for the reader who wants to argue with them:
- One denormalised row per leg and cabin, exactly as the CSV has it, plus dep_date (the local
  departure date, a stored generated column): every query filters on it.
- legs_route_day (origin, destination, dep_date, cabin) INCLUDE (seats, miles): the searches
  and the calendar find their rows with one index range scan; the calendar is index-only.
- legs_origin_leg (origin, destination, source, carrier, flight, dep_date): routes explore is an
  index-only scan over the origin's rows.
- legs_origin_day (origin, dep_date, cabin) INCLUDE (destination, seats): the first legs of
  1-stop itineraries (every departure from A on the date); the second legs use legs_route_day.
- VACUUM ANALYZE after the load (statistics, visibility map for index-only scans), then
  pg_prewarm of the table and both indexes: flightsearch holds everything in memory too.
"""
import os
import time

CSV_COLUMNS = ("source, carrier, flight, origin, destination, dep_local, dep_offset_min, arr_local, arr_offset_min, "
               "dep_utc, arr_utc, duration_min, cabin, seats, miles, taxes_cents, currency")

SCHEMA = """
CREATE TABLE legs (
    source text NOT NULL, carrier text NOT NULL, flight integer NOT NULL,
    origin text NOT NULL, destination text NOT NULL,
    dep_local timestamp NOT NULL, dep_offset_min smallint NOT NULL,
    arr_local timestamp NOT NULL, arr_offset_min smallint NOT NULL,
    dep_utc timestamptz NOT NULL, arr_utc timestamptz NOT NULL, duration_min smallint NOT NULL,
    cabin text NOT NULL, seats smallint NOT NULL, miles integer NOT NULL, taxes_cents integer NOT NULL,
    currency text NOT NULL,
    dep_date date GENERATED ALWAYS AS (dep_local::date) STORED
)"""

INDEXES = [
    "CREATE INDEX legs_route_day ON legs (origin, destination, dep_date, cabin) INCLUDE (seats, miles)",
    "CREATE INDEX legs_origin_leg ON legs (origin, destination, source, carrier, flight, dep_date)",
    "CREATE INDEX legs_origin_day ON legs (origin, dep_date, cabin) INCLUDE (destination, seats)",
]


def load_legs(pg, csv_path):
    """Creates and fills the legs table; returns the timings and sizes."""
    out = {}
    t = time.monotonic()
    # CREATE and COPY in one transaction: with wal_level=minimal the COPY skips the WAL.
    pg.sql(f"BEGIN; {SCHEMA}; COPY legs ({CSV_COLUMNS}) FROM STDIN WITH (FORMAT csv, HEADER); COMMIT;", stdin_path=csv_path)
    out["copy_s"] = round(time.monotonic() - t, 2)
    t = time.monotonic()
    for stmt in INDEXES:
        pg.sql(stmt)
    out["index_s"] = round(time.monotonic() - t, 2)
    t = time.monotonic()
    pg.sql("VACUUM (ANALYZE) legs")
    out["vacuum_analyze_s"] = round(time.monotonic() - t, 2)
    t = time.monotonic()
    try:
        pg.sql("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        pg.sql("SELECT pg_prewarm('legs'), pg_prewarm('legs_route_day'), pg_prewarm('legs_origin_leg'), "
               "pg_prewarm('legs_origin_day')")
        out["prewarm"] = "pg_prewarm"
    except RuntimeError:
        pg.sql("SELECT count(*) FROM legs")
        out["prewarm"] = "sequential scan (pg_prewarm unavailable)"
    out["prewarm_s"] = round(time.monotonic() - t, 2)
    rows, table, idx = pg.sql("SELECT count(*), pg_table_size('legs'), pg_indexes_size('legs') FROM legs").strip().split("|")
    out.update({"rows": int(rows), "table_bytes": int(table), "index_bytes": int(idx),
                "settings": {"shared_buffers_mb": pg.shared_buffers_mb, "jit": "off", "parallel_workers": 0}})
    return out


def load_queries(pg, mix, queries, workdir):
    """The query table bq_<mix>: row i holds the i-th query of the list (1-based)."""
    path = os.path.join(workdir, f"bq_{mix.name}.csv")
    with open(path, "w") as f:
        for i, q in enumerate(queries, 1):
            f.write(",".join([str(i)] + ["" if q[k] is None else q[k] for k in ("o", "d", "d0", "d1", "cabin")]) + "\n")
    pg.sql(f"BEGIN; DROP TABLE IF EXISTS bq_{mix.name}; CREATE TABLE bq_{mix.name} (i integer PRIMARY KEY, o text, d text, "
           f"d0 date, d1 date, cabin text); COPY bq_{mix.name} FROM STDIN WITH (FORMAT csv); COMMIT; ANALYZE bq_{mix.name};",
           stdin_path=path)


def explain(pg, mix):
    """The plan of the mix's statement for query 1, one line per node."""
    text = pg.sql("EXPLAIN (COSTS OFF) " + mix.sql_for(1))
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def check_answers(pg, mix, queries, fs_figures, sample):
    """Compares flightsearch's figure (answer_figure) with PostgreSQL's for the first `sample`
    distinct queries. Returns (agreeing, compared, first disagreement or None)."""
    seen, agree, first_bad = set(), 0, None
    for i, q in enumerate(queries, 1):
        if q["path"] in seen or q["path"] not in fs_figures:
            continue
        seen.add(q["path"])
        pg_value = int(pg.sql(mix.check_sql.format(sql=mix.sql_for(i))).strip() or 0)
        if pg_value == fs_figures[q["path"]]:
            agree += 1
        elif first_bad is None:
            first_bad = {"path": q["path"], "flightsearch": fs_figures[q["path"]], "postgres": pg_value}
        if len(seen) >= sample:
            break
    return agree, len(seen), first_bad
