"""The deltas section (issue 10): what a partner's change costs, measured through the public HTTP
API only (PUT /v1/feeds/{source}/snapshot, POST /v1/feeds/{source}/deltas, /metrics, /readyz),
so it keeps working whatever the index does inside. See docs/performance.md, "The deltas section".

On its own data dir and server (pushes change the data; the other sections' server is left
alone):
1. data: flightsearch-gen at the suite's size; when no source holds BIG_SHARE of the legs, again
   with --big-source-share BIG_SHARE. The largest source is the one pushed to.
2. snapshot pushes of that source (its own file, a higher sequence each time), then deltas of 1,
   100 and 10,000 legs: upserts of the source's legs with seats and miles changed, plus k/100
   removes and as many adds (legs removed earlier, put back). Time to the 200, client side.
3. fsync apart: the server reports no fsync time and cannot run without fsync, so the harness
   times fsync + rename + directory fsync of a file of the same size in the same file system.
4. searches/s (direct_1day, h2c -m 10) with a 100-leg delta every 10 ms, over the same without.
5. resident bytes per leg after many deltas; restart to /readyz 200; change sets when the push
   answer carries them.
"""
import collections
import http.client
import json
import mmap
import os
import random
import shutil
import statistics
import subprocess
import threading
import time

from . import loadgen, mpack, servers
from . import mixes as mixmod
from .system import Accounting, log, rss_breakdown, utilisation

BIG_SHARE = 0.3  # the issue: one source holding at least 30% of the data set
PUSH_INTERVAL_S = 0.010  # deltas during the search runs: one every 10 ms
RESERVE = 200  # legs removed before the timed pushes: the adds of later deltas put them back
SIZES = (1, 100, 10000)
# pushes: per delta size (fewer 10,000-leg ones on quick: each carries ~2 MB); budget_s: a series
# stops there even if short of its count (today a delta costs as much as a snapshot, and 200 of
# them on a 3M-leg source would take an hour); many: deltas in all before resident bytes are
# read (the 10,000, scaled down on quick).
SETTINGS = {
    "quick": {"pushes": {1: 200, 100: 200, 10000: 20}, "snapshots": 3, "budget_s": 60, "many": 1000, "many_budget_s": 60,
              "search_rounds": 2, "search_s": 2.0, "restarts": 2, "fsync_probes": 20, "pool": 20000},
    "full": {"pushes": {1: 200, 100: 200, 10000: 200}, "snapshots": 5, "budget_s": 240, "many": 10000, "many_budget_s": 600,
             "search_rounds": 4, "search_s": 5.0, "restarts": 3, "fsync_probes": 50, "pool": 30000},
}
TOKEN = "bench-deltas-token-0123456789abcdef"


def _ms(v):
    return None if v is None else round(v / 1000.0, 3)


def _summary(seconds):
    """median, p99 (nearest rank), max and mean in milliseconds of a list of durations in seconds."""
    p = loadgen.percentiles([s * 1e6 for s in seconds])
    return {"n": p["samples"], "median_ms": _ms(p["p50_us"]), "p99_ms": _ms(p["p99_us"]), "max_ms": _ms(p["max_us"]),
            "mean_ms": _ms(p.get("mean_us"))}


def _change_timing_ms(doc):
    """The change set's computation time from a push answer, if the server reports one: a key
    naming changes with a _ms/_us/_ns suffix at the top, or took_* inside `changes`."""
    scale = {"_ms": 1.0, "_us": 1e-3, "_ns": 1e-6}
    cands = [(k, v) for k, v in doc.items() if "change" in k and k != "changes"]
    ch = doc.get("changes")
    if isinstance(ch, dict):
        cands += [(k, v) for k, v in ch.items() if k.startswith("took") or "time" in k]
    for k, v in cands:
        for suf, f in scale.items():
            if k.endswith(suf) and isinstance(v, (int, float)):
                return v * f
    return None


class Feeder:
    """Pushes to one source over a keep-alive HTTP/1.1 connection and builds its deltas from a
    pool of the source's own legs (the first `pool` legs of its snapshot file)."""

    def __init__(self, port, source, legs, seq, seed):
        self.port, self.source = port, source
        self.live, self.reserve = list(legs), []
        self.seq = seq
        self.rng = random.Random(seed)
        self.conn = None
        self.retries_503 = 0
        self.changes_seen = False

    def _conn(self):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        return self.conn

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def push(self, kind, body):
        """(answer document, seconds from sending to the whole 200 answer). A 503 (busy) is retried
        after its Retry-After, untimed; anything else but 200 raises."""
        method, path = ("PUT", "snapshot") if kind == "snapshot" else ("POST", "deltas")
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/msgpack"}
        reconnected = False
        for _ in range(100):
            reused = self.conn is not None
            c = self._conn()
            t0 = time.perf_counter()
            try:
                c.request(method, f"/v1/feeds/{self.source}/{path}", body=body, headers=headers)
                r = c.getresponse()
                data = r.read()
            except (OSError, http.client.HTTPException):
                self.close()
                # a keep-alive connection the server closed while it sat idle (between phases):
                # once, on a new one; resending is safe (the same body again is a duplicate, 200)
                if reused and not reconnected:
                    reconnected = True
                    continue
                raise
            dt = time.perf_counter() - t0
            if r.status == 503:
                self.retries_503 += 1
                time.sleep(min(1.0, float(r.getheader("Retry-After") or 0.05)))
                continue
            doc = json.loads(data) if data else {}
            if r.status != 200:
                raise RuntimeError(f"{method} {path} answered {r.status}: {data[:300]!r}")
            if "changes" in doc:
                self.changes_seen = True
            return doc, dt
        raise RuntimeError(f"{method} {path}: 503 a hundred times")

    def next_seq(self):
        self.seq += 1
        return self.seq

    def delta(self, k, removes=None):
        """A delta body of k legs: k/100 removes and as many adds (reserve legs put back), the rest
        upserts of live legs with seats and miles changed. removes: remove that many and nothing
        else (to fill the reserve)."""
        rng = self.rng
        if removes is not None:
            n_rm, n_add, n_up = removes, 0, 0
        else:
            n_rm = n_add = min(k // 100, len(self.reserve))
            n_up = k - n_rm - n_add
        picked = rng.sample(range(len(self.live)), n_up + n_rm)
        up = [self.live[i] for i in picked[:n_up]]
        gone = set(picked[n_up:])
        for leg in up:
            for cab in leg["cabins"].values():
                cab["seats"] = (cab["seats"] + 1 + rng.randrange(9)) % 100
                cab["miles"] = min(10_000_000, max(1, cab["miles"] + rng.choice((-1500, -500, 500, 1500))))
        removed = [self.live[i] for i in sorted(gone)]
        if gone:
            self.live = [leg for i, leg in enumerate(self.live) if i not in gone]
        added = self.reserve[:n_add]
        self.reserve = self.reserve[n_add:] + removed
        self.live += added
        doc = {"source": self.source, "sequence": self.next_seq(), "generated_at": "2026-11-21T20:00:00Z",
               "upsert": up + added,
               "remove": [{"carrier": l["carrier"], "flight": l["flight"], "origin": l["origin"], "date": l["departs_at"][:10]}
                          for l in removed]}
        return mpack.pack(doc)


def fsync_probe(directory, size, n):
    """What the store's write costs beyond the write itself, timed by the harness: fsync of a file
    of `size` bytes, rename, fsync of the directory (loaders/store.c's sequence), n times."""
    os.makedirs(directory, exist_ok=True)
    chunk = (b"flightsearch-fsync-probe-" * 2700)[:65536]
    times = []
    for i in range(n):
        tmp, final = os.path.join(directory, f".probe-{i}.tmp"), os.path.join(directory, f"probe-{i}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        try:
            left = size
            while left > 0:
                left -= os.write(fd, chunk[:min(left, len(chunk))])
            t0 = time.perf_counter()
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, final)
        dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        times.append(time.perf_counter() - t0)
        os.unlink(final)
    return times


def _generate(run, out, share=None):
    argv = [run.bin["flightsearch-gen"], "--size", run.args.size, "--seed", str(run.args.seed), "--out", out, "--quiet"]
    if share:
        argv += ["--big-source-share", str(share)]
    shutil.rmtree(out, ignore_errors=True)
    p = subprocess.run(argv, capture_output=True, text=True, timeout=3600)
    if p.returncode != 0:
        raise RuntimeError("flightsearch-gen: " + p.stderr.strip()[-300:])
    sources = {}
    for line in p.stderr.splitlines():
        f = line.split()
        if len(f) >= 4 and f[0] == "flightsearch-gen:" and f[1] != "total" and f[3] == "legs":
            sources[f[1]] = int(f[2])
    return sources


def _stop_fs(s):
    try:
        s.stop()
    except Exception as e:  # noqa: BLE001
        log(f"  stopping the deltas server: {e}")


def run_section(run, server_core, client_core):
    """Fills run.res['deltas']. Starts and stops its own server."""
    a = run.args
    cfg = SETTINGS[a.suite]
    d = {"status": "running", "suite_settings": {k: (dict(v) if isinstance(v, dict) else v) for k, v in cfg.items()}}
    d["suite_settings"]["pushes"] = {str(k): v for k, v in cfg["pushes"].items()}
    run.res["deltas"] = d
    base = os.path.join(run.work, "deltas")
    data = os.path.join(base, "data")
    os.makedirs(base, exist_ok=True)

    # 1. data with one big source
    sources = _generate(run, data)
    total = sum(sources.values())
    big = max(sources, key=lambda s: sources[s])
    d["natural_largest"] = {"source": big, "share": round(sources[big] / total, 4)}
    d["big_source_share_flag"] = None
    if sources[big] < BIG_SHARE * total:
        sources = _generate(run, data, BIG_SHARE)
        total = sum(sources.values())
        big = max(sources, key=lambda s: sources[s])
        d["big_source_share_flag"] = BIG_SHARE
    d.update({"source": big, "source_legs": sources[big], "total_legs": total, "source_share": round(sources[big] / total, 4)})
    log(f"  source {big}: {sources[big]:,} of {total:,} legs ({100 * sources[big] / total:.1f}%"
        f"{', flightsearch-gen --big-source-share ' + str(BIG_SHARE) if d['big_source_share_flag'] else ''})")
    snap_path = os.path.join(data, f"{big}.msgpack")
    with open(snap_path, "rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            fields, pool, _, seq_span = mpack.snapshot_head(mm, cfg["pool"])
            snap_file = bytes(mm)
        finally:
            mm.close()
    if seq_span is None:
        raise RuntimeError(f"{snap_path}: no sequence before the legs")
    d["pool_legs"] = len(pool)
    d["snapshot_body_bytes"] = len(snap_file)

    tokens = os.path.join(base, "tokens.txt")
    with open(tokens, "w") as f:
        f.write(f"{TOKEN} *\n")
    os.chmod(tokens, 0o600)
    # the snapshot push carries the whole source: over the default 1 GiB on large data
    args = ["--tokens", tokens, "--max-feed-bytes", str(max(1 << 30, 2 * len(snap_file)))]
    fs = servers.Flightsearch(run.bin["flightsearch"], data, server_core, base, "flightsearch-deltas", args)
    d["import_s"] = round(fs.start(), 3)
    try:
        _measure(run, d, cfg, fs, big, fields, pool, snap_file, seq_span, base, server_core, client_core)
    finally:
        _stop_fs(fs)
    d["status"] = "ok"


def _measure(run, d, cfg, fs, big, fields, pool, snap_file, seq_span, base, server_core, client_core):
    a = run.args
    time.sleep(0.3)
    d["rss_start_bytes"] = fs.rss()
    d["legs_start"] = int(fs.metrics().get("flightsearch_legs") or 0)
    feeder = Feeder(fs.port, big, pool, int(fields.get("sequence") or 1), a.seed)
    pushed = {"deltas": 0}
    change_sets = {}

    def note_changes(label, doc):
        if "changes" in doc:
            e = change_sets.setdefault(label, {"counts": [], "timing_ms": []})
            e["counts"].append(doc["changes"])
            t = _change_timing_ms(doc)
            if t is not None:
                e["timing_ms"].append(t)

    # 2a. snapshots of the source (first: a snapshot puts back what deltas changed)
    times, took = [], []
    for _ in range(cfg["snapshots"]):
        doc, dt = feeder.push("snapshot", mpack.with_sequence(snap_file, seq_span, feeder.next_seq()))
        times.append(dt)
        took.append(doc.get("took_ms"))
        note_changes("snapshot", doc)
    d["snapshot"] = _summary(times)
    d["snapshot"]["server_took_ms_median"] = statistics.median([t for t in took if t is not None]) if any(
        t is not None for t in took) else None
    d["snapshot"]["legs"] = doc.get("legs")
    log(f"  snapshot push of {big} ({doc.get('legs'):,} legs, {len(snap_file) / 2**20:.1f} MiB): "
        f"median {d['snapshot']['median_ms']} ms over {len(times)}")

    # 2b. deltas of 1, 100, 10,000 legs
    feeder.push("delta", feeder.delta(0, removes=min(RESERVE, len(pool) // 10)))
    pushed["deltas"] += 1
    d["deltas"] = {}
    for k in SIZES:
        if k > len(feeder.live):
            d["deltas"][str(k)] = {"skipped": f"the pool holds {len(feeder.live)} legs"}
            continue
        count = cfg["pushes"][k]
        times, took, sizes = [], [], []
        t_end = time.monotonic() + cfg["budget_s"]
        for _ in range(count):
            body = feeder.delta(k)
            doc, dt = feeder.push("delta", body)
            pushed["deltas"] += 1
            times.append(dt)
            took.append(doc.get("took_ms"))
            sizes.append(len(body))
            note_changes(str(k), doc)
            if time.monotonic() > t_end:
                break
        r = _summary(times)
        r.update({"legs": k, "planned": count, "body_bytes": round(statistics.median(sizes)),
                  "stopped_by_budget": len(times) < count,
                  "server_took_ms_median": statistics.median(took) if None not in took else None,
                  "server_took_ms_p99": _summary([t / 1000.0 for t in took])["p99_ms"] if None not in took else None})
        d["deltas"][str(k)] = r
        log(f"  {k}-leg delta: median {r['median_ms']} ms, p99 {r['p99_ms']} ms over {r['n']} pushes"
            f"{' (stopped by the time budget)' if r['stopped_by_budget'] else ''}; body {r['body_bytes']:,} B")

    # 3. fsync apart (the harness's own measurement: see the module's docstring)
    probe_dir = os.path.join(base, "fsync-probe")
    fsy = {"method": "harness: fsync + rename + directory fsync of a file of the same size in the data dir's file system "
                     "(the server reports no fsync time and has no option to run without fsync)", "by_size": {}}
    for k in SIZES:
        r = d["deltas"].get(str(k), {})
        if "body_bytes" in r:
            size = r["body_bytes"] + 64  # the stored delta: the body behind a 64-byte header (docs/feeds.md)
            fsy["by_size"][str(k)] = dict(_summary(fsync_probe(probe_dir, size, cfg["fsync_probes"])), bytes=size)
    seg = _newest_base(os.path.join(fs.data_dir, "sources", big))
    size = os.path.getsize(seg) if seg else len(snap_file)
    fsy["by_size"]["snapshot"] = dict(_summary(fsync_probe(probe_dir, size, max(3, cfg["snapshots"]))), bytes=size,
                                      file="base segment" if seg else "snapshot body")
    shutil.rmtree(probe_dir, ignore_errors=True)
    d["fsync"] = fsy
    sm = d["snapshot"]["median_ms"]
    d["ratio_to_snapshot"] = {str(k): round(d["deltas"][str(k)]["median_ms"] / sm, 5)
                              for k in SIZES if sm and d["deltas"].get(str(k), {}).get("median_ms") is not None}

    # 4. searches with and without deltas arriving
    d["search_during_ingest"] = _search_under_ingest(run, cfg, fs, feeder, pushed, base, server_core, client_core)

    # 5a. resident bytes after many deltas
    t_end = time.monotonic() + cfg["many_budget_s"]
    while pushed["deltas"] < cfg["many"] and time.monotonic() < t_end:
        doc, _ = feeder.push("delta", feeder.delta(100))
        pushed["deltas"] += 1
    time.sleep(1.0)  # epochs: let retired generations go
    met = fs.metrics()
    legs = int(met.get("flightsearch_legs") or 0)
    mem = {"deltas_pushed": pushed["deltas"], "deltas_planned": cfg["many"], "legs": legs, "rss_bytes": fs.rss(),
           "rss": rss_breakdown(fs.pid), "jemalloc_allocated_bytes": met.get("flightsearch_jemalloc_allocated_bytes"),
           "rss_start_bytes": d["rss_start_bytes"], "legs_start": d["legs_start"]}
    empty = (run.res.get("ingest") or {}).get("rss_empty_bytes")
    if not empty:
        e = servers.Flightsearch(run.bin["flightsearch"], os.path.join(base, "empty"), server_core, base, "flightsearch-deltas-empty")
        os.makedirs(e.data_dir, exist_ok=True)
        e.start()
        time.sleep(0.2)
        empty = e.rss()
        _stop_fs(e)
    mem["rss_empty_bytes"] = empty
    if legs and mem["rss_bytes"]:
        mem["rss_bytes_per_leg"] = round(mem["rss_bytes"] / legs, 2)
        mem["rss_net_bytes_per_leg"] = round((mem["rss_bytes"] - empty) / legs, 2) if empty else None
        if d["legs_start"] and d["rss_start_bytes"] and empty:
            mem["rss_net_bytes_per_leg_start"] = round((d["rss_start_bytes"] - empty) / d["legs_start"], 2)
    d["memory"] = mem
    log(f"  after {pushed['deltas']:,} deltas: VmRSS {mem['rss_bytes'] / 2**20:.1f} MiB for {legs:,} legs = "
        f"{mem.get('rss_bytes_per_leg')} B/leg ({mem.get('rss_net_bytes_per_leg')} B/leg over an empty server; "
        f"{mem.get('rss_net_bytes_per_leg_start')} before the deltas)")
    feeder.close()

    # 5b. restart to /readyz 200 of the data dir as the pushes left it (store + seeds), in the page cache
    each, cpu = [], []
    for _ in range(cfg["restarts"]):
        fs.stop()
        each.append(fs.start())
        cpu.append(fs.ready_cpu_s)
    d["restart"] = {"each_s": [round(x, 3) for x in each], "median_s": round(statistics.median(each), 3),
                    "cpu_s": round(statistics.median(cpu), 3), "legs": int(fs.metrics().get("flightsearch_legs") or 0)}
    time.sleep(0.3)
    rss = fs.rss()
    if rss and mem.get("rss_empty_bytes") and d["restart"]["legs"]:
        mem["rss_net_bytes_per_leg_after_restart"] = round((rss - mem["rss_empty_bytes"]) / d["restart"]["legs"], 2)
    log(f"  restart to ready: {d['restart']['median_s']} s (median of {len(each)}), {d['restart']['legs']:,} legs; "
        f"{mem.get('rss_net_bytes_per_leg_after_restart')} B/leg over an empty server after it")

    # 5c. change sets
    if not change_sets:
        d["change_sets"] = {"status": "not available: the push answer has no `changes` object"}
    else:
        cs = {"status": "ok", "by_push": {}}
        for label, e in change_sets.items():
            keys = sorted({k for c in e["counts"] if isinstance(c, dict) for k, v in c.items() if isinstance(v, (int, float))})
            row = {"pushes": len(e["counts"]),
                   "median_counts": {k: statistics.median([c.get(k, 0) for c in e["counts"] if isinstance(c, dict)]) for k in keys}}
            if e["timing_ms"]:
                row["timing"] = _summary([t / 1000.0 for t in e["timing_ms"]])
            else:
                row["timing"] = "not available: the push answer carries no change-set timing"
            cs["by_push"][label] = row
        d["change_sets"] = cs
    d["retries_503"] = feeder.retries_503


def _newest_base(directory):
    try:
        segs = [f for f in os.listdir(directory) if f.startswith("base-") and f.endswith(".seg")]
    except OSError:
        return None
    if not segs:
        return None
    return os.path.join(directory, max(segs, key=lambda f: int("".join(c for c in f if c.isdigit()) or 0)))


def _search_uris(run, fs, feeder, base):
    """direct_1day queries for this server: the other sections' list when there is one (same seed
    and size: the same routes and dates), else built here from the routes of the pool's airports."""
    qs = (getattr(run, "queries", None) or {}).get("direct_1day")
    if not qs:
        codes = sorted({l["origin"] for l in feeder.live} | {l["destination"] for l in feeder.live})
        routes, empty, _, _, _ = mixmod.discover_routes(fs.port, codes)
        if not routes:
            raise RuntimeError("the deltas server lists no routes")
        qs = mixmod.build_mixes(routes, empty, run.args.queries, run.args.seed)["direct_1day"]
    path = os.path.join(base, "uris-direct_1day.txt")
    mixmod.write_uri_file(path, fs.base_url(), qs)
    return path


class _Pusher(threading.Thread):
    """100-leg deltas, one every PUSH_INTERVAL_S (or back to back when a push takes longer), from
    a thread pinned to the client core, until stopped. The bodies are built before the run (a
    deque, oldest first, in sequence order): building them costs more CPU than sending them, and
    that CPU would come out of the load generator's core."""

    def __init__(self, feeder, bodies, pushed, core):
        super().__init__(daemon=True)
        self.feeder, self.bodies, self.pushed, self.core = feeder, bodies, pushed, core
        self.stop_ev = threading.Event()
        self.times, self.error = [], None

    def run(self):
        try:
            if self.core is not None and hasattr(os, "sched_setaffinity"):
                os.sched_setaffinity(0, {self.core})  # this thread only
            nxt = time.monotonic()
            while not self.stop_ev.is_set():
                body = self.bodies.popleft() if self.bodies else self.feeder.delta(100)
                _, dt = self.feeder.push("delta", body)
                self.pushed["deltas"] += 1
                self.times.append(dt)
                nxt += PUSH_INTERVAL_S
                wait = nxt - time.monotonic()
                if wait > 0:
                    self.stop_ev.wait(wait)
                else:
                    nxt = time.monotonic()
        except Exception as e:  # noqa: BLE001 -- reported by the caller
            self.error = f"{type(e).__name__}: {e}"


def _search_under_ingest(run, cfg, fs, feeder, pushed, base, server_core, client_core):
    a = run.args
    uris = _search_uris(run, fs, feeder, base)
    parts = {"quiet": [], "ingest": []}
    raws = {"quiet": None, "ingest": None}
    push_times, n0, wall = [], pushed["deltas"], 0.0
    bodies = collections.deque()  # built ahead; left-overs go to the next round, in order
    need = int((cfg["search_s"] + a.warmup + 1.0) / PUSH_INTERVAL_S)
    for k in range(cfg["search_rounds"]):
        for side in ("quiet", "ingest") if k % 2 == 0 else ("ingest", "quiet"):
            pusher = None
            if side == "ingest":
                while len(bodies) < need:
                    bodies.append(feeder.delta(100))
                pusher = _Pusher(feeder, bodies, pushed, client_core)
                pusher.start()
                time.sleep(0.05)
            t0 = time.monotonic()
            with Accounting([fs.pid], server_core) as acc:
                r = loadgen.h2load(uris, client_core, a.connections, 10, cfg["search_s"], a.warmup, base, f"deltas-{side}-{k}")
            if pusher is not None:
                pusher.stop_ev.set()
                pusher.join(timeout=600)
                wall += time.monotonic() - t0
                push_times += pusher.times
                if pusher.error:
                    raise RuntimeError("pushing during the search run: " + pusher.error)
            parts[side].append(r)
            raws[side] = acc.raw if raws[side] is None else {x: raws[side][x] + acc.raw[x] for x in acc.raw}
    out = {"mix": "direct_1day", "protocol": "h2c -m 10", "rounds": cfg["search_rounds"], "run_s": cfg["search_s"]}
    for side in parts:
        m = loadgen.merge(parts[side])
        m.update(utilisation(raws[side]))
        out[side] = {k: v for k, v in m.items() if not k.startswith("_")}
    q, i = out["quiet"].get("rps"), out["ingest"].get("rps")
    out["ratio"] = round(i / q, 3) if q and i else None
    n = pushed["deltas"] - n0
    out["pushes"] = n
    out["push_interval_ms_achieved"] = round(1000 * wall / n, 2) if n else None
    out["push_latency"] = _summary(push_times)
    while bodies:  # the left-overs, so that later deltas follow them in sequence
        feeder.push("delta", bodies.popleft())
        pushed["deltas"] += 1
    log(f"  direct_1day h2c -m 10: {q or 0:,.0f} req/s quiet, {i or 0:,.0f} req/s with a 100-leg delta every "
        f"{out['push_interval_ms_achieved']} ms ({n} pushes) = {out['ratio']}")
    return out
