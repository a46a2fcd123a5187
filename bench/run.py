#!/usr/bin/env python3
"""bench/run.py: what one core of flightsearch does, against the floor (h2o serving a static file
of the same size) and the peer (PostgreSQL), every figure a ratio or a pair taken in one run.

    python3 bench/run.py --suite quick     # make bench: small data, every mix, about 2.5 minutes
    python3 bench/run.py --suite full      # make bench-full: medium data, longer runs, ~25 minutes

Steps (one progress line each on stderr): snapshot the binaries -> generate data -> ingest
(import, restart-to-ready, bytes per leg) -> query mixes from the server's routes ->
micro-benchmarks -> floor (h2o) and PostgreSQL set-up -> per mix: flightsearch and the floor at
saturation per protocol in alternating rounds, then 50% load, then PostgreSQL -> profile (perf)
-> deltas (bench/harness/deltas.py: pushes to one large source on a server of its own; --only
deltas runs it alone, --skip deltas leaves it out) -> bench/results/<date>-<host>.{json,md,png}
and latest-<suite>.{md,png}.

A step that fails is recorded in "failures" and the run goes on. Nothing listens beyond
127.0.0.1; every process started here is stopped here. See docs/performance.md.
"""
import argparse
import datetime
import hashlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import deltas, loadgen, mixes as mixmod, peer, report, servers, system  # noqa: E402
from harness.system import (Accounting, TreeCpuSampler, add_raw, log, machine_info, pinned, rss_breakdown,  # noqa: E402
                            utilisation)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# duration: seconds of each saturation run (split into `rounds` alternating with the floor);
# half_duration: each 50%-load run; pg_duration: each pgbench run; micro_s: CPU seconds per
# micro-benchmark operation; check_sample: queries whose answers are compared with PostgreSQL.
SUITES = {
    "quick": {"size": "small", "duration": 1.6, "half_duration": 1.0, "pg_duration": 1, "warmup": 0.2, "rounds": 2,
              "restarts": 1, "queries": 4000, "micro_s": 0.15, "check_sample": 8},
    "full": {"size": "medium", "duration": 10.0, "half_duration": 10.0, "pg_duration": 10, "warmup": 1.0, "rounds": 4,
             "restarts": 3, "queries": 20000, "micro_s": 1.0, "check_sample": 25},
}
PROTOCOLS = report.PROTOCOLS
SERVER_CORE, CLIENT_CORE = 0, 1
PIPELINE = 10  # statements per pgbench pipeline: PostgreSQL's counterpart of h2c -m 10


class Run:
    """The state of one bench run: settings, started processes, figures, failures."""

    def __init__(self, args):
        self.args = args
        self.fs = self.floor = self.pg = None
        self.failures = []
        self.res = {"schema": 1, "suite": args.suite, "size": args.size, "seed": args.seed, "mixes": {}, "failures": self.failures}

    def step(self, name, fn, *a):
        """Runs one step; an exception is recorded as a failure and the run continues."""
        log(name)
        try:
            return fn(*a)
        except Exception as e:  # noqa: BLE001 -- any failure of a step is recorded, not fatal
            reason = f"{name}: {type(e).__name__}: {e}"
            log("FAILED " + reason)
            self.failures.append(reason)
            return None

    def stop_all(self):
        for s in (self.fs, self.floor, self.pg):
            if s is not None:
                try:
                    s.stop()
                except Exception as e:  # noqa: BLE001
                    log(f"stopping {type(s).__name__}: {e}")


def git_describe():
    try:
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True).stdout.strip()
        return rev + (" + uncommitted changes" if dirty else "") if rev else "unknown"
    except OSError:
        return "unknown"


# ------------------------------------------------------------------------------------- steps

def snapshot_binaries(run):
    """Copies the programs under test into the work directory: a rebuild of build/ during the run
    (someone else's make) cannot swap them mid-way, and perf resolves symbols against the copy."""
    a = run.args
    run.bin = {}
    bindir = os.path.join(run.work, "bin")
    os.makedirs(bindir)
    for tool in ("flightsearch", "bench/flightsearch-gen", "bench/micro_index", "bench/micro_enc"):
        src = os.path.join(a.build, tool)
        if not os.path.exists(src):
            raise SystemExit(f"bench: {src} is missing: build first (make build)")
        dst = os.path.join(bindir, os.path.basename(tool))
        shutil.copy2(src, dst)
        os.chmod(dst, 0o755)
        run.bin[os.path.basename(tool)] = dst
    st = os.stat(run.bin["flightsearch"])
    with open(run.bin["flightsearch"], "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    run.res["flightsearch"]["binary"] = {"built_at": datetime.datetime.fromtimestamp(st.st_mtime).isoformat(timespec="seconds"),
                                         "sha256_16": digest, "bytes": st.st_size}


def generate(run):
    a = run.args
    data = os.path.join(run.work, "data")
    argv = [run.bin["flightsearch-gen"], "--size", a.size, "--seed", str(a.seed), "--out", data, "--quiet"]
    if "pg" not in a.skip:
        argv += ["--csv", os.path.join(run.work, "legs.csv")]
    t = time.monotonic()
    out = subprocess.run(argv, capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError("flightsearch-gen: " + out.stderr.strip()[-300:])
    total = [l for l in out.stderr.splitlines() if " total " in l]
    f = total[-1].split() if total else []
    run.res["data"] = {"dir": data, "gen_s": round(time.monotonic() - t, 2),
                       "legs": int(f[2]) if len(f) > 6 else None, "routes": int(f[4]) if len(f) > 6 else None,
                       "snapshot_bytes": int(f[6]) if len(f) > 6 else None,
                       "sources": len([x for x in os.listdir(data) if x.endswith(".msgpack")])}
    log(f"  {run.res['data']['legs']:,} legs, {run.res['data']['routes']:,} source routes in {run.res['data']['gen_s']} s")
    run.data_dir = data


def _start(run, core, name, data_dir=None):
    s = servers.Flightsearch(run.bin["flightsearch"], data_dir or run.data_dir, core, run.work, name)
    return s, s.start(), s.ready_cpu_s


def ingest(run):
    """Import (the first start of a data dir: every snapshot decoded, validated, built and written
    to the store), restart (a later start: restored from the store), and the memory a loaded
    server holds. Everything is in the page cache (the files were just written)."""
    a = run.args
    ing = {}
    empty_dir = os.path.join(run.work, "empty")
    os.makedirs(empty_dir, exist_ok=True)
    s, _, _ = _start(run, SERVER_CORE, "flightsearch-empty", empty_dir)
    time.sleep(0.2)
    ing["rss_empty_bytes"] = s.rss()
    ing["rss_empty"] = rss_breakdown(s.pid)
    ing["jemalloc_allocated_empty_bytes"] = s.metrics().get("flightsearch_jemalloc_allocated_bytes")
    s.stop()

    def fresh_store():
        for d in ("sources", "inbox"):
            shutil.rmtree(os.path.join(run.data_dir, d), ignore_errors=True)

    for label, core in (("", SERVER_CORE), ("_all_cores", None)):
        fresh_store()
        s, t, cpu = _start(run, core, "flightsearch-import" + label)
        s.stop()
        ing["import_s" + label], ing["import_cpu_s" + label] = round(t, 3), round(cpu, 3)
    store = os.path.join(run.data_dir, "sources")
    ing["store"] = os.path.isdir(store) and any(f.endswith(".seg") for _, _, fs in os.walk(store) for f in fs)
    log(f"  import in {ing['import_s']} s on core {SERVER_CORE} ({ing['import_s_all_cores']} s on all cores); "
        f"store written: {ing['store']}")

    # Restarts with the data dir as the import left it (store + the seed snapshots), then with the
    # store alone (the seeds moved aside): a seed is read at every start to learn that the store
    # already has it, and that can be most of a restart. The last start (store only, server
    # core) stays up: the server under test.
    times, cpus = {}, {}

    def restarts(label, core, keep_last=False):
        times[label], cpus[label] = [], []
        for k in range(a.restarts):
            s, t, cpu = _start(run, core, "flightsearch-restart" + label)
            times[label].append(t)
            cpus[label].append(cpu)
            if keep_last and k == a.restarts - 1:
                return s
            if label == "":
                time.sleep(0.3)
                ing["rss_with_seeds_bytes"] = s.rss()
            s.stop()
        return None

    restarts("_all_cores", None)
    restarts("", SERVER_CORE)
    seeds = [f for f in os.listdir(run.data_dir) if f.endswith((".msgpack", ".json"))]
    aside = os.path.join(run.work, "seeds-aside")
    os.makedirs(aside, exist_ok=True)
    for f in seeds:
        os.rename(os.path.join(run.data_dir, f), os.path.join(aside, f))
    try:
        restarts("_store_only_all_cores", None)
        s = restarts("_store_only", SERVER_CORE, keep_last=True)
    finally:
        for f in seeds:
            os.rename(os.path.join(aside, f), os.path.join(run.data_dir, f))
    run.fs = s
    for label in times:
        ing["restart_s_each" + label] = [round(x, 3) for x in times[label]]
        ing["restart_to_ready_s" + label] = round(statistics.median(times[label]), 3)
        ing["restart_cpu_s" + label] = round(statistics.median(cpus[label]), 3)
    time.sleep(0.3)
    met = s.metrics()
    legs = met.get("flightsearch_legs") or 0
    ing["legs"] = int(legs)
    ing["legs_per_s"] = round(legs / ing["restart_to_ready_s"]) if ing["restart_to_ready_s"] else None
    st = ing["restart_to_ready_s_store_only"]
    ing["legs_per_s_store_only"] = round(legs / st) if st else None
    ing["import_legs_per_s"] = round(legs / ing["import_s"]) if ing["import_s"] else None
    ing["rss_loaded_bytes"] = s.rss()
    ing["rss_loaded"] = rss_breakdown(s.pid)
    ing["jemalloc_allocated_bytes"] = met.get("flightsearch_jemalloc_allocated_bytes")
    ing["jemalloc_resident_bytes"] = met.get("flightsearch_jemalloc_resident_bytes")
    ing["index_bytes"] = met.get("flightsearch_index_bytes")
    if legs:
        if ing["rss_loaded_bytes"] and ing["rss_empty_bytes"]:
            ing["rss_bytes_per_leg"] = round((ing["rss_loaded_bytes"] - ing["rss_empty_bytes"]) / legs, 2)
            if ing.get("rss_with_seeds_bytes"):
                ing["rss_with_seeds_bytes_per_leg"] = round((ing["rss_with_seeds_bytes"] - ing["rss_empty_bytes"]) / legs, 2)
            e, l = ing["rss_empty"], ing["rss_loaded"]
            for k in ("RssAnon", "RssFile"):
                if k in e and k in l:
                    ing[k.lower() + "_bytes_per_leg"] = round((l[k] - e[k]) / legs, 2)
        if ing["jemalloc_allocated_bytes"]:
            ing["jemalloc_allocated_bytes_per_leg"] = round(ing["jemalloc_allocated_bytes"] / legs, 2)
        if ing["index_bytes"]:
            ing["index_bytes_per_leg"] = round(ing["index_bytes"] / legs, 2)
    # Pushes (snapshot and delta cost, searches during continuous ingest) are the deltas section's.
    ing["pending"] = {"pushes, deltas, search during ingest": "the Deltas section below (skipped with --skip deltas)"}
    run.res["ingest"] = ing
    log(f"  restart to ready in {ing['restart_to_ready_s']} s on core {SERVER_CORE} ({ing['restart_to_ready_s_all_cores']} s "
        f"on all cores); store only {ing['restart_to_ready_s_store_only']} s; {ing.get('rss_bytes_per_leg')} resident B/leg")


def queries(run):
    a = run.args
    # the CSV names every origin (small data: quicker than asking for all 17,576 codes); a few
    # codes without routes are added for the empty answers of the routes mix
    origins = mixmod.origins_from_csv(os.path.join(run.work, "legs.csv"))
    if origins is not None:
        origins = sorted(set(origins) | {"QQA", "QQB", "QQC", "QQD", "QQE", "QQF", "QQG", "QQH"})
    routes, empty, refused, aliases, refused_with_data = mixmod.discover_routes(run.fs.port, origins)
    run.res["data"]["metro_aliases_dropped"] = aliases
    run.res["data"]["routes_refused_origins"] = refused
    # airports with legs (they are some route's destination) that /v1/routes will not explore
    run.res["data"]["routes_refused_with_data"] = refused_with_data
    if not routes:
        raise RuntimeError("the server lists no routes")
    run.routes = routes
    run.queries = mixmod.build_mixes(routes, empty, a.queries, a.seed)
    run.res["data"]["distinct_routes"] = len({(r["o"], r["d"]) for r in routes})
    run.res["data"]["origins"] = len({r["o"] for r in routes})
    run.fs_figures = {}
    run.median_bodies = {}
    for mix in mixmod.MIXES:
        if mix.name not in run.mix_names:
            continue
        pf = mixmod.preflight(run.fs.port, mix, run.queries[mix.name])
        if pf["failure_count"]:
            raise RuntimeError(f"{mix.name}: {pf['failure_count']} queries not answered 200, e.g. {pf['failures'][0]}")
        run.median_bodies[mix.name] = pf.pop("median_body")
        run.res["mixes"][mix.name] = {"title": mix.title, "queries": pf, "flightsearch": {}, "floor": {}, "postgres": {}}
        uris = os.path.join(run.work, f"uris-{mix.name}.txt")
        mixmod.write_uri_file(uris, run.fs.base_url(), run.queries[mix.name])
        log(f"  {mix.name}: {pf['distinct_queries']} distinct, {pf['empty_share'] * 100:.1f}% empty, "
            f"median response {pf['median_response_bytes']} B")
    run.res["skipped"] = mixmod.probe_skipped(run.fs.port, routes)


def fs_figures_for_check(run, mix, sample):
    """flightsearch's answer figure for the first `sample` distinct queries of a mix."""
    out = {}
    for q in run.queries[mix.name]:
        if q["path"] in out:
            continue
        status, body = servers.http_get(run.fs.port, q["path"])
        if status == 200:
            out[q["path"]] = mixmod.answer_figure(mix, body)
        if len(out) >= sample:
            break
    return out


def micro(run):
    a = run.args
    mi = {}

    def one(argv):
        out = subprocess.run(pinned(SERVER_CORE, argv), capture_output=True, text=True, timeout=600)
        if out.returncode != 0:
            raise RuntimeError(f"{os.path.basename(argv[0])}: " + out.stderr.strip()[-200:])
        return json.loads(out.stdout.strip().splitlines()[-1])

    mi["index_synthetic"] = one([run.bin["micro_index"], "--seconds", str(a.micro_s), "--seed", str(a.seed)])
    mi["index_data"] = one([run.bin["micro_index"], "--data-dir", run.data_dir, "--seconds", str(a.micro_s), "--seed", str(a.seed)])
    mi["enc"] = one([run.bin["micro_enc"], "--seconds", str(a.micro_s * 2)])
    # a document of about the direct search's median size
    med = (run.res["mixes"].get("direct_1day") or {}).get("queries", {}).get("median_response_bytes")
    if med and mi["enc"].get("json_bytes"):
        per_result = mi["enc"]["json_bytes"] / mi["enc"]["results_per_doc"]
        n = max(1, round((med - 450) / per_result))
        mi["enc_median"] = one([run.bin["micro_enc"], "--results", str(n), "--seconds", str(a.micro_s * 2)])
    mi["enc_list_view"] = one([run.bin["micro_enc"], "--seconds", str(a.micro_s * 2), "--fields",
                               mixmod.LIST_VIEW.split("=", 1)[1]])
    run.res["micro"] = mi
    x = mi["index_synthetic"]
    log(f"  index: {x['direct_1day_ns']:.0f} ns direct 1 day, {x['calendar_30day_ns']:.0f} ns calendar; "
        f"JSON encoder {mi['enc']['json_mb_per_s']:.0f} MB/s")


def floor(run):
    if not servers.H2oFloor.binary():
        raise RuntimeError("h2o is not installed (apt-get install h2o); the floor is skipped")
    fl = servers.H2oFloor(run.work, SERVER_CORE)
    run.floor_uris = {}
    for name, body in run.median_bodies.items():
        path = fl.add_file(f"{name}.json", body)
        run.floor_uris[name] = path
        run.res["mixes"][name]["floor"]["file_bytes"] = len(body)
    fl.start()
    run.floor = fl
    for name, path in run.floor_uris.items():
        uris = os.path.join(run.work, f"uris-floor-{name}.txt")
        with open(uris, "w") as f:
            f.write(fl.base_url() + path + "\n")
        run.floor_uris[name] = uris
        status, body = servers.http_get(fl.port, path)
        if status != 200 or len(body) != run.res["mixes"][name]["floor"]["file_bytes"]:
            raise RuntimeError(f"the floor answered {status} with {len(body)} bytes for {path}")
    run.res["floor"] = {"status": "ok", "server": run.res["machine"]["versions"].get("h2o")}


def postgres(run):
    a = run.args
    pg = servers.Postgres(run.work, SERVER_CORE, run.res["machine"]["memory_bytes"])
    run.res["postgres"] = {"status": "starting", "version": pg.version()}
    pg.start()
    run.pg = pg
    log("  loading legs through COPY")
    load = peer.load_legs(pg, os.path.join(run.work, "legs.csv"))
    run.res["postgres"]["load"] = load
    log(f"  {load['rows']:,} rows: COPY {load['copy_s']} s, indexes {load['index_s']} s, analyze {load['vacuum_analyze_s']} s")
    run.pg_scripts = {}
    for mix in mixmod.MIXES:
        if mix.name not in run.res["mixes"]:
            continue
        qs = run.queries[mix.name]
        peer.load_queries(pg, mix, qs, run.work)
        plain = os.path.join(run.work, f"pg-{mix.name}.sql")
        piped = os.path.join(run.work, f"pg-{mix.name}-pipeline.sql")
        loadgen.pgbench_script(plain, mix.sql, len(qs))
        loadgen.pgbench_script(piped, mix.sql, len(qs), PIPELINE)
        run.pg_scripts[mix.name] = (plain, piped)
        m = run.res["mixes"][mix.name]["postgres"]
        m["sql"] = mix.sql
        m["plan"] = peer.explain(pg, mix)
        figs = fs_figures_for_check(run, mix, a.check_sample)
        agree, n, bad = peer.check_answers(pg, mix, qs, figs, a.check_sample)
        m["agreement"] = f"{agree}/{n}"
        if bad:
            m["disagreement"] = bad
            run.failures.append(f"postgres check {mix.name}: answers differ, e.g. {bad}")
    run.res["postgres"]["status"] = "ok"


def _one_http(run, mix, side, proto, duration, rps_total=None):
    """One bounded load run against flightsearch or the floor; returns (raw figures, accounting)."""
    a = run.args
    server = run.fs if side == "flightsearch" else run.floor
    uris = os.path.join(run.work, f"uris-{mix.name}.txt") if side == "flightsearch" else run.floor_uris[mix.name]
    with Accounting([server.pid], SERVER_CORE) as acc:
        if proto == "http1" and rps_total is None and a.h1_client == "wrk":
            r = loadgen.wrk(uris, CLIENT_CORE, a.connections, duration)
        else:
            r = loadgen.h2load(uris, CLIENT_CORE, a.connections, 10 if proto == "h2c_m10" else 1, duration, a.warmup,
                               run.work, f"{side}-{mix.name}-{proto}", h1=(proto == "http1"), rps_total=rps_total)
    return r, acc.raw


def _record(run, mix, side, key, kind, parts, raw, rps_total=None):
    r = loadgen.merge(parts)
    r.update(utilisation(raw))
    if rps_total:
        r["target_rps"] = round(rps_total, 1)
    if side == "postgres":
        run.res["mixes"][mix.name]["postgres"][kind] = r
    else:
        run.res["mixes"][mix.name][side].setdefault(key, {})[kind] = r
    label = dict(PROTOCOLS).get(key, key)
    unit = "statements/s" if side == "postgres" else "req/s"
    if r.get("ok"):
        log(f"  {mix.name} {label} {side}{' @50%' if rps_total else ''}: {r['rps']:,.0f} {unit}, p99 {r['p99_us']} us, "
            f"server CPU {100 * (r['server_cpu_util'] or 0):.0f}%, "
            f"others on its core {100 * (r['others_on_server_core'] or 0):.0f}%")
        if r.get("error"):
            log(f"  warning: {r['error']}")
            run.failures.append(f"warning: {mix.name} {label} {side} {kind}: {r['error']}")
    else:
        log(f"  {mix.name} {label} {side} {kind}: FAILED {r.get('error')}")
        run.failures.append(f"{mix.name} {label} {side} {kind}: {r.get('error')}")
    return r


def measure_pair(run, mix, proto):
    """flightsearch and the floor at saturation, alternating in rounds (A B, then B A, ...) so that
    a change in the machine's load during the pair falls on both sides alike."""
    a = run.args
    sides = ["flightsearch"] + (["floor"] if run.floor else [])
    parts, raws = {s: [] for s in sides}, {s: None for s in sides}
    for k in range(a.rounds):
        for side in sides if k % 2 == 0 else sides[::-1]:
            r, raw = _one_http(run, mix, side, proto, a.duration / a.rounds)
            parts[side].append(r)
            raws[side] = add_raw(raws[side], raw)
    for side in sides:
        _record(run, mix, side, proto, "saturation", parts[side], raws[side])


def measure_half(run, mix, side, proto, rps_total):
    """p99 at a paced rate (half the saturation rate of the same side and protocol)."""
    r, raw = _one_http(run, mix, side, proto, run.args.half_duration, rps_total)
    _record(run, mix, side, proto, "half_load", [r], raw, rps_total)


def measure_pg(run, mix, kind, rate=None):
    plain, piped = run.pg_scripts[mix.name]
    per = PIPELINE if kind == "pipelined" else 1
    with TreeCpuSampler(run.pg.postmaster_pid()) as cpu, Accounting([], SERVER_CORE, cpu_fn=cpu) as acc:
        r = loadgen.pgbench(run.pg, piped if per > 1 else plain, CLIENT_CORE, run.args.pg_duration, run.work,
                            f"{mix.name}-{kind}", per, rate)
    return _record(run, mix, "postgres", kind, kind, [r], acc.raw, rate)


def load_runs(run, mix):
    a = run.args
    protos = [p for p, _ in PROTOCOLS if not (p == "http1" and "http1" in a.skip)]
    for proto in protos:
        measure_pair(run, mix, proto)
    for proto in protos:
        sat = run.res["mixes"][mix.name]["flightsearch"].get(proto, {}).get("saturation")
        if sat and sat.get("ok"):
            measure_half(run, mix, "flightsearch", proto, sat["rps"] * 0.5)
    fsat = run.res["mixes"][mix.name]["floor"].get("h2c_m10", {}).get("saturation")
    if run.floor and fsat and fsat.get("ok"):
        measure_half(run, mix, "floor", "h2c_m10", fsat["rps"] * 0.5)
    if run.pg and mix.name in run.pg_scripts:
        p = measure_pg(run, mix, "plain")
        measure_pg(run, mix, "pipelined")
        if p.get("ok"):
            measure_pg(run, mix, "half_load", rate=p["rps"] * 0.5)


def _profile_one(run, mix, seconds):
    """perf record on the server while h2load runs one mix at saturation (h2c -m 10); the top
    symbols by self time and the rate while profiled."""
    data = os.path.join(run.work, f"perf-{mix.name}.data")
    perf = ["perf", "record", "-e", "cpu-clock", "-F", "999", "-g", "-o", data, "-p", str(run.fs.pid)]
    rec = subprocess.Popen(pinned(CLIENT_CORE, perf), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.3)
    r = loadgen.h2load(os.path.join(run.work, f"uris-{mix.name}.txt"), CLIENT_CORE, run.args.connections, 10,
                       seconds, run.args.warmup, run.work, f"perf-{mix.name}")
    rec.send_signal(signal.SIGINT)
    try:
        _, err = rec.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        rec.kill()
        rec.communicate()
        raise RuntimeError("perf record did not stop")
    if not os.path.exists(data):
        return {"status": "perf record failed: " + err.decode(errors="replace").strip()[-200:]}
    out = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "dso,symbol", "--stdio", "-g", "none",
                          "--percent-limit", "0.5"], capture_output=True, text=True, timeout=300)
    os.unlink(data)
    top = []
    for line in out.stdout.splitlines():
        p = line.split(None, 3)
        if len(p) == 4 and p[0].endswith("%") and p[2].startswith("["):
            try:
                # perf appends columns it cannot fill in a VM ("-  -"): keep the symbol only
                symbol = re.split(r"\s{2,}", p[3].strip())[0]
                top.append({"percent": float(p[0][:-1]), "object": p[1], "symbol": symbol})
            except ValueError:
                pass
    return {"status": "ok", "rps_while_profiled": loadgen.merge([r])["rps"], "top": top[:25]}


def profile(run):
    """perf record on the server during each mix (h2c -m 10, one saturation run's length each, at
    most 5 s): where the time goes per mix, top symbols by self time."""
    if shutil.which("perf") is None:
        run.res["perf"] = {"status": "perf not installed (apt-get install linux-perf)"}
        return
    ran = [m for m in mixmod.MIXES if m.name in run.res["mixes"]]
    if not ran:
        return
    seconds = min(run.args.duration, 5.0)
    run.res["perf"] = {"status": "ok", "protocol": "h2c -m 10", "seconds": seconds, "mixes": {}}
    for mix in ran:
        p = _profile_one(run, mix, seconds)
        run.res["perf"]["mixes"][mix.name] = p
        top = p.get("top") or []
        if top:
            log(f"  {mix.name}: " + ", ".join(f"{t['symbol']} {t['percent']:.1f}%" for t in top[:4]))


def deltas_section(run):
    """Issue 10's figures (bench/harness/deltas.py), on a data dir and server of their own. The
    other sections' server is stopped first: nothing else runs on the server core meanwhile."""
    if run.fs is not None:
        run.fs.stop()
        run.fs = None
    try:
        deltas.run_section(run, SERVER_CORE, CLIENT_CORE)
    except Exception:
        if run.res.get("deltas", {}).get("status") == "running":
            run.res["deltas"]["status"] = "failed (see failures)"
        raise


class _Done(Exception):
    """--only: the chosen section ran; go to the report."""


# ------------------------------------------------------------------------------------- main

def parse_args(argv):
    p = argparse.ArgumentParser(description="flightsearch benchmark harness (see docs/performance.md)")
    p.add_argument("--suite", choices=sorted(SUITES), default="quick", help="quick (make bench) or full (make bench-full)")
    p.add_argument("--size", choices=["demo", "small", "medium", "large"], help="data size (default: the suite's)")
    p.add_argument("--seed", type=int, default=1, help="generator and query-mix seed (default 1)")
    p.add_argument("--duration", type=float, help="seconds per load run (default: the suite's)")
    p.add_argument("--warmup", type=float, help="h2load warm-up seconds before each run (default: the suite's)")
    p.add_argument("--rounds", type=int, help="flightsearch/floor alternations per saturation run (default: the suite's)")
    p.add_argument("--h1-client", choices=["h2load", "wrk"], default="h2load",
                   help="HTTP/1.1 load generator at saturation (default h2load --h1; paced runs always use h2load)")
    p.add_argument("--connections", type=int, default=16, help="client connections per run (default 16)")
    p.add_argument("--queries", type=int, help="queries per mix list (default: the suite's)")
    p.add_argument("--mixes", default="all",
                   help="comma-separated, of: " + ", ".join(m.name for m in mixmod.MIXES) + " (default all)")
    p.add_argument("--skip", default="", help="comma-separated: pg, floor, micro, perf, http1, deltas")
    p.add_argument("--only", choices=["deltas"], help="run this section alone (deltas: pushes, search during ingest, "
                   "memory and restart after deltas; docs/performance.md)")
    p.add_argument("--build", default=os.path.join(ROOT, "build"), help="CMake build directory (default build/)")
    p.add_argument("--out", default=os.path.join(ROOT, "bench", "results"), help="where results go (default bench/results/)")
    p.add_argument("--nice", type=int, help="run servers and load generators at this niceness, e.g. -10 on a machine "
                   "shared with other work (negative values need root; default: unchanged)")
    p.add_argument("--keep", action="store_true", help="keep the temporary work directory")
    a = p.parse_args(argv)
    suite = SUITES[a.suite]
    a.size = a.size or suite["size"]
    a.duration = a.duration or suite["duration"]
    a.warmup = suite["warmup"] if a.warmup is None else a.warmup
    a.queries = a.queries or suite["queries"]
    a.rounds = a.rounds or suite["rounds"]
    a.half_duration = a.duration if a.duration != suite["duration"] else suite["half_duration"]
    a.pg_duration = max(1, round(a.duration)) if a.duration != suite["duration"] else suite["pg_duration"]
    a.restarts = suite["restarts"]
    a.micro_s = suite["micro_s"]
    a.check_sample = suite["check_sample"]
    a.skip = set(x for x in a.skip.split(",") if x)
    a.build = os.path.abspath(a.build)
    return a


def main(argv):
    a = parse_args(argv)
    if (os.cpu_count() or 1) < 2:
        log("warning: fewer than 2 cores: server and load generator share a core")
    system.NICE = a.nice
    run = Run(a)
    run.mix_names = [m.name for m in mixmod.MIXES] if a.mixes == "all" else a.mixes.split(",")
    unknown = set(run.mix_names) - {m.name for m in mixmod.MIXES}
    if unknown:
        raise SystemExit(f"bench: unknown mix {', '.join(sorted(unknown))} (--help lists them)")
    started = datetime.datetime.now()
    run.res["started_at"] = started.isoformat(timespec="seconds")
    pgbin = servers.Postgres.find_bindir()
    run.res["machine"] = machine_info({
        "flightsearch": [os.path.join(a.build, "flightsearch"), "--version"],
        "h2load": ["h2load", "--version"],
        "wrk": ["wrk", "--version"],
        "h2o": ["h2o", "--version"],
        "postgres": [os.path.join(pgbin, "postgres") if pgbin else "postgres", "--version"],
        "gnuplot": ["gnuplot", "--version"],
        "perf": ["perf", "--version"],
    })
    run.res["flightsearch"] = {"version": run.res["machine"]["versions"].get("flightsearch"), "git": git_describe()}
    run.res["settings"] = {"duration_s": a.duration, "half_load_duration_s": a.half_duration, "pg_duration_s": a.pg_duration,
                           "warmup_s": a.warmup, "connections": a.connections,
                           "queries_per_mix": a.queries, "zipf_s": mixmod.ZIPF_S, "empty_share": mixmod.EMPTY_SHARE,
                           "server_core": SERVER_CORE, "client_core": CLIENT_CORE, "pipeline": PIPELINE,
                           "rounds": a.rounds, "h1_client": a.h1_client, "nice": a.nice,
                           "skip": sorted(a.skip), "only": a.only}
    run.work = tempfile.mkdtemp(prefix="flightsearch-bench-")
    os.chmod(run.work, 0o755)
    log(f"{a.suite} suite, {a.size} data, work directory {run.work}")

    def on_term(signo, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        snapshot_binaries(run)
        if a.only == "deltas":
            run.step("deltas: pushes, searches during ingest, memory and restart after deltas", deltas_section, run)
            raise _Done
        if run.step("generating data", generate, run) is None and not hasattr(run, "data_dir"):
            raise SystemExit("bench: no data, nothing to measure")
        run.step("ingest: restart-to-ready and resident bytes per leg", ingest, run)
        if run.fs is None:
            raise SystemExit("bench: the server did not start: " + "; ".join(run.failures))
        run.step("query mixes from the server's routes", queries, run)
        if not getattr(run, "queries", None):
            raise SystemExit("bench: no query mixes: " + "; ".join(run.failures))
        if "micro" not in a.skip:
            run.step("micro-benchmarks", micro, run)
        if "floor" not in a.skip:
            run.step("floor: h2o serving the median responses", floor, run)
            if run.floor is None:
                run.res["floor"] = {"status": "skipped: " + (run.failures[-1] if run.failures else "?")}
        if "pg" not in a.skip:
            run.step("PostgreSQL: start, COPY, indexes", postgres, run)
            if run.res.get("postgres", {}).get("status") != "ok":
                run.res.setdefault("postgres", {})["status"] = "skipped: " + (run.failures[-1] if run.failures else "?")
                if run.pg:
                    run.pg.stop()
                    run.pg = None
        else:
            run.res["postgres"] = {"status": "skipped (--skip pg)"}
        for mix in mixmod.MIXES:
            if mix.name in run.res["mixes"]:
                run.step(f"load runs: {mix.title}", load_runs, run, mix)
        if "perf" not in a.skip:
            run.step("profile: perf record during each mix, h2c -m 10", profile, run)
        if "deltas" not in a.skip:
            run.step("deltas: pushes, searches during ingest, memory and restart after deltas", deltas_section, run)
    except _Done:
        pass
    except KeyboardInterrupt:
        run.failures.append("interrupted")
        log("interrupted: stopping the servers")
    finally:
        run.stop_all()

    finished = datetime.datetime.now()
    run.res["finished_at"] = finished.isoformat(timespec="seconds")
    run.res["duration_s"] = round((finished - started).total_seconds(), 1)
    report.compute_ratios(run.res)
    report.evaluate_targets(run.res)
    os.makedirs(a.out, exist_ok=True)
    stem = os.path.join(a.out, f"{started.strftime('%Y-%m-%dT%H%M%S')}-{run.res['machine']['host']}")
    err = report.chart(run.res, stem + ".png", run.work) if run.res["mixes"] else "no mixes measured"
    if err and run.res["mixes"]:
        run.failures.append("chart: " + err)
    report.write_json(run.res, stem + ".json")
    md = report.markdown(run.res, os.path.basename(stem) + ".png" if not err else None)
    with open(stem + ".md", "w") as f:
        f.write(md + "\n")
    latest = os.path.join(a.out, f"latest-{a.suite}" + (f"-{a.only}" if a.only else ""))
    with open(latest + ".md", "w") as f:
        f.write(report.markdown(run.res, os.path.basename(latest) + ".png" if not err else None) + "\n")
    if not err:
        shutil.copyfile(stem + ".png", latest + ".png")
    if a.keep:
        log(f"work directory kept: {run.work}")
    else:
        shutil.rmtree(run.work, ignore_errors=True)
    print(md)
    png = "" if err else ", .png"
    log(f"done in {run.res['duration_s']:.0f} s: {stem}.json, .md{png}; {latest}.md{png}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
