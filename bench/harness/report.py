"""The outputs of a run: every figure as JSON, a Markdown summary, a chart (gnuplot PNG), and the
targets, recorded and judged but never asserted (a bench run does not fail on a missed target).
"""
import json
import os
import shutil
import subprocess

from .mixes import MIXES

PROTOCOLS = [("h2c_m1", "h2c -m 1"), ("h2c_m10", "h2c -m 10"), ("http1", "HTTP/1.1")]
# Below this share of its core a server was starved by other processes: its figures say little.
STARVED = 0.10


def _get(d, *path):
    for k in path:
        if not isinstance(d, dict) or k not in d or d[k] is None:
            return None
        d = d[k]
    return d


def _sat(res, mix, side, proto):
    r = _get(res, "mixes", mix, side, proto, "saturation")
    return r if r and r.get("ok") else None


def _rps(res, mix, side, proto):
    r = _sat(res, mix, side, proto)
    return r["rps"] if r else None


def _pg_best_run(res, mix):
    runs = [_get(res, "mixes", mix, "postgres", k) for k in ("plain", "pipelined")]
    runs = [r for r in runs if r and r.get("ok") and r.get("rps")]
    return max(runs, key=lambda r: r["rps"]) if runs else None


def _pg_best(res, mix):
    r = _pg_best_run(res, mix)
    return r["rps"] if r else None


def per_cpu(r):
    """Requests per CPU-second of the server: what one dedicated core would do if the server is
    CPU-bound (it is at saturation unless the load generator is the bottleneck)."""
    if not r or not r.get("ok") or not r.get("rps") or not r.get("server_cpu_util"):
        return None
    return r["rps"] / r["server_cpu_util"]


def compute_ratios(res):
    """Adds, per mix: flightsearch/floor per protocol (raw, and per CPU-second of each server, which
    holds up better when something else shares the core), and flightsearch (h2c -m 10) over
    PostgreSQL's best (one backend, plain or pipelined)."""
    for mix in MIXES:
        m = res["mixes"].get(mix.name)
        if m is None:
            continue
        ratios = {"floor": {}, "floor_per_cpu": {}}
        ratios["starved"] = []
        for proto, _ in PROTOCOLS:
            fs, fl = _sat(res, mix.name, "flightsearch", proto), _sat(res, mix.name, "floor", proto)
            if fs and fl and fl["rps"]:
                ratios["floor"][proto] = round(fs["rps"] / fl["rps"], 3)
                if min(fs.get("server_cpu_util") or 0, fl.get("server_cpu_util") or 0) < STARVED:
                    ratios["starved"].append(proto)
                a, b = fs.get("server_cpu_util"), fl.get("server_cpu_util")
                if a and b:
                    ratios["floor_per_cpu"][proto] = round((fs["rps"] / a) / (fl["rps"] / b), 3)
        fs10, pg = _rps(res, mix.name, "flightsearch", "h2c_m10"), _pg_best(res, mix.name)
        ratios["postgres"] = round(fs10 / pg, 1) if fs10 and pg else None
        a, b = per_cpu(_sat(res, mix.name, "flightsearch", "h2c_m10")), per_cpu(_pg_best_run(res, mix.name))
        ratios["postgres_per_cpu"] = round(a / b, 1) if a and b else None
        m["ratios"] = ratios


def evaluate_targets(res):
    """The issue's targets, each with the measured value and whether it is met (None: not measured)."""
    t = []

    def add(name, target, value, met, unit="", note=None):
        t.append({"name": name, "target": target, "value": value, "unit": unit, "met": met, "note": note})

    def est(mix):
        r = _sat(res, mix, "flightsearch", "h2c_m10")
        e = per_cpu(r)
        return f"{e:,.0f} per server CPU-second; the server had {r['server_cpu_util'] * 100:.0f}% of a core" if e else None

    d1 = _rps(res, "direct_1day", "flightsearch", "h2c_m10")
    add("direct search req/s, h2c -m 10", "100k+ req/s", d1, None if d1 is None else d1 >= 100000, "req/s", est("direct_1day"))
    fr = _get(res, "mixes", "direct_1day", "ratios", "floor", "h2c_m10")
    frc = _get(res, "mixes", "direct_1day", "ratios", "floor_per_cpu", "h2c_m10")
    add("direct search vs floor, h2c -m 10", ">= 50% of the floor", fr, None if fr is None else fr >= 0.5, "x",
        f"per CPU-second: {frc:.2f}x" if frc else None)
    worst = None
    for mix in MIXES:
        p = _get(res, "mixes", mix.name, "flightsearch", "h2c_m10", "half_load")
        if p and p.get("ok") and p.get("p99_us") is not None:
            if worst is None or p["p99_us"] > worst[1]:
                worst = (mix.name, p["p99_us"])
    p99 = _get(res, "mixes", "direct_1day", "flightsearch", "h2c_m10", "half_load", "p99_us")
    add("direct search p99 at 50% load, h2c -m 10", "< 1 ms", p99, None if p99 is None else p99 < 1000, "us",
        f"worst mix: {worst[0]} {worst[1]} us" if worst else None)
    cal = _rps(res, "calendar_30day", "flightsearch", "h2c_m10")
    add("calendar 30 days req/s, h2c -m 10", "30k+ req/s", cal, None if cal is None else cal >= 30000, "req/s", est("calendar_30day"))
    pg = [(mix.name, _get(res, "mixes", mix.name, "ratios", "postgres")) for mix in MIXES]
    pg = [(n, v) for n, v in pg if v is not None]
    low = min(pg, key=lambda x: x[1]) if pg else None
    lowc = _get(res, "mixes", low[0], "ratios", "postgres_per_cpu") if low else None
    add("flightsearch / PostgreSQL, every mix", ">= 20x", low[1] if low else None, None if not low else all(v >= 20 for _, v in pg),
        "x", (f"lowest: {low[0]}" + (f"; per CPU-second {lowc:.1f}x" if lowc else "")) if low else _get(res, "postgres", "status"))
    bpl = _get(res, "ingest", "rss_bytes_per_leg")
    add("resident bytes per leg (VmRSS delta)", "< 48 B", bpl, None if bpl is None else bpl < 48, "B")
    rs = _get(res, "ingest", "restart_to_ready_s")
    rcpu = _get(res, "ingest", "restart_cpu_s")
    medium = res.get("size") == "medium"
    rso = _get(res, "ingest", "restart_to_ready_s_store_only")
    add("restart to ready, medium data", "< 5 s", rs, (rs < 5) if (rs is not None and medium) else None, "s",
        (f"{rcpu:.2f} CPU-s on the server core" if rcpu is not None else "") +
        (f"; {rso:.2f} s from the store alone, without the seed snapshots" if rso is not None else "") +
        ("" if medium else f"; measured on {res.get('size')} data, the target applies to medium"))
    n = len(t)
    _answer_targets(res, add)
    for x in t[n:]:
        x["section"] = "answers"
    n = len(t)
    _deltas_targets(res, add)
    for x in t[n:]:
        x["section"] = "deltas"
    res["targets"] = t


# Issue 11's targets: flightsearch over the floor of the same answer size, per mix and protocol,
# (small data, medium data); None: no target for that mix.
ANSWER_TARGETS = {
    "direct_1day": {"h2c_m1": (0.7, 0.5), "h2c_m10": (0.7, 0.5)},
    "direct_7day": {"h2c_m10": (0.5, 0.35)},
    "calendar_30day": {"h2c_m10": (0.6, 0.5)},
    "routes": {"h2c_m10": (0.7, 0.5)},
    "search_1stop": {"h2c_m10": (0.5, 0.3)},
}


def _answer_targets(res, add):
    """Issue 11's: the floor ratios above, flightsearch / PostgreSQL >= 10x on every mix, and the
    p99 at 50% load within 1.5x the floor's p99 at 50% load (h2c -m 10)."""
    medium = res.get("size") == "medium"
    for mix, protos in ANSWER_TARGETS.items():
        for proto, bounds in protos.items():
            want = bounds[1] if medium else bounds[0]
            v = _get(res, "mixes", mix, "ratios", "floor", proto)
            pc = _get(res, "mixes", mix, "ratios", "floor_per_cpu", proto)
            label = dict(PROTOCOLS)[proto]
            add(f"{mix} vs floor, {label}", f">= {want}", v, None if v is None else v >= want, "x",
                f"per CPU-second {pc:.2f}x" if pc else None)
    for mix in MIXES:
        v = _get(res, "mixes", mix.name, "ratios", "postgres")
        if v is not None:
            add(f"{mix.name} / PostgreSQL", ">= 10x", v, v >= 10, "x")
    for mix in MIXES:
        fs = _get(res, "mixes", mix.name, "flightsearch", "h2c_m10", "half_load")
        fl = _get(res, "mixes", mix.name, "floor", "h2c_m10", "half_load")
        if fs and fl and fs.get("ok") and fl.get("ok") and fs.get("p99_us") and fl.get("p99_us"):
            r = fs["p99_us"] / fl["p99_us"]
            add(f"{mix.name} p99 at 50% load / the floor's", "<= 1.5x", round(r, 2), r <= 1.5, "x",
                f"{fs['p99_us']:,} us vs {fl['p99_us']:,} us")


def _deltas_targets(res, add):
    """Issue 10's targets, from the deltas section (when it ran)."""
    d = res.get("deltas")
    if not d or d.get("status") != "ok":
        return
    medium = res.get("size") == "medium"
    scale = "" if medium else f"; measured on {res.get('size')} data, the target applies to medium"
    r100 = _get(d, "ratio_to_snapshot", "100")
    add("100-leg delta / snapshot of the source, median", "<= 1%", r100, None if r100 is None else r100 <= 0.01, "%",
        f"source of {_fmt_n(d.get('source_legs'))} legs{scale}")
    p99 = _get(d, "deltas", "100", "p99_ms")
    fs = _get(d, "fsync", "by_size", "100", "median_ms")
    add("100-leg delta p99", "< 20 ms + fsync", p99, None if p99 is None or fs is None else p99 < 20 + fs, "ms",
        None if fs is None else f"fsync (harness, same-size file): {fs:.2f} ms median, so the bound is {20 + fs:.1f} ms")
    ratio = _get(d, "search_during_ingest", "ratio")
    others = max(_get(d, "search_during_ingest", side, "others_on_server_core") or 0 for side in ("quiet", "ingest"))
    add("searches/s with a delta every 10 ms / without", ">= 0.9", ratio, None if ratio is None else ratio >= 0.9, "x",
        f"{_fmt_n(_get(d, 'search_during_ingest', 'pushes'))} 100-leg deltas, one every "
        f"{_get(d, 'search_during_ingest', 'push_interval_ms_achieved')} ms achieved"
        + (f"; noisy: other processes held up to {others * 100:.0f}% of the server core, the ratio says little" if others > 0.1 else ""))
    bpl = _get(d, "memory", "rss_net_bytes_per_leg")
    add(f"resident bytes per leg after {_fmt_n(_get(d, 'memory', 'deltas_pushed'))} deltas (VmRSS over an empty server)", "< 48 B",
        bpl, None if bpl is None or not medium else bpl < 48, "B",
        f"VmRSS / legs without subtracting the empty server: {_get(d, 'memory', 'rss_bytes_per_leg')} B{scale}"
        + ("" if (_get(d, 'memory', 'deltas_pushed') or 0) >= 10000 else "; fewer than the issue's 10,000 deltas"))
    rs = _get(d, "restart", "median_s")
    add("restart to /readyz 200 after the deltas (store + seeds, page cache)", "< 1 s", rs,
        None if rs is None or not medium else rs < 1, "s", scale.lstrip("; ") or None)
    cs = _get(d, "change_sets", "by_push", "10000", "timing")
    v = cs.get("median_ms") if isinstance(cs, dict) else None
    add("change set of a 10,000-leg delta", "< 5 ms", v, None if v is None else v < 5, "ms",
        None if v is not None else (cs if isinstance(cs, str) else _get(d, "change_sets", "status")))


def _fmt_n(v, digits=0):
    if v is None:
        return "–"
    if isinstance(v, float) and digits:
        return f"{v:,.{digits}f}"
    return f"{v:,.0f}"


def _fmt_us(v):
    if v is None:
        return "–"
    return f"{v / 1000:.2f} ms" if v >= 1000 else f"{v:.0f} µs"


def _fmt_ratio(v):
    return "–" if v is None else f"{v:.2f}"


def _verdict(met):
    return {True: "met", False: "**MISSED**", None: "not measured"}[met]


def markdown(res, chart_name=None):
    m = res["machine"]
    v = m["versions"]
    s = res["settings"]
    L = []
    L.append(f"# flightsearch bench: {res['suite']} suite, {res['size']} data, {res['started_at'][:16].replace('T', ' ')} on {m['host']}")
    L.append("")
    L.append(f"{m['cpu_model']}, {m['cores']} cores, {(m['memory_bytes'] or 0) / 2**30:.0f} GiB, Linux {m['kernel']}, {m['os']}. "
             f"flightsearch {res['flightsearch']['version']} ({res['flightsearch']['git']}), {v.get('h2load')}, "
             f"{v.get('wrk')}, {v.get('postgres')}, {v.get('h2o')}.")
    L.append(f"Server on core {s['server_core']} with one worker thread, load generator on core {s['client_core']}; "
             f"{s['connections']} connections; saturation runs of {s['duration_s']:g} s in {s['rounds']} rounds alternating "
             f"flightsearch and the floor, {s['warmup_s']:g} s warm-up each; 50%-load runs of {s['half_load_duration_s']:g} s; "
             f"pgbench runs of {s['pg_duration_s']} s; HTTP/1.1 by {s['h1_client']}; {s['queries_per_mix']} queries per mix, "
             f"{'niceness ' + str(s['nice']) + '; ' if s.get('nice') is not None else ''}"
             f"Zipf s={s['zipf_s']} over routes. "
             f"Data: {_fmt_n(_get(res, 'data', 'legs'))} legs, {_fmt_n(_get(res, 'data', 'routes'))} source routes, "
             f"seed {res['seed']}. Run took {res.get('duration_s', 0):.0f} s.")
    only = s.get("only")
    if only:
        L[-1] = (f"Only the {only} section (--only {only}): server on core {s['server_core']} with one worker thread, "
                 f"load generator on core {s['client_core']}, {s['connections']} connections, seed {res['seed']}. "
                 f"Run took {res.get('duration_s', 0):.0f} s.")
    noise = [r.get("others_on_server_core") for mix in MIXES for proto, _ in PROTOCOLS
             for r in [_sat(res, mix.name, "flightsearch", proto)] if r and r.get("others_on_server_core") is not None]
    if noise:
        mean = sum(noise) / len(noise)
        res["noise_others_on_server_core"] = round(mean, 3)
        if mean > 0.1:
            L.append("")
            L.append(f"**Noisy machine:** other processes took {mean * 100:.0f}% of the server core on average during the "
                     "flightsearch runs, so absolute requests/s are low; the ratios (same run, alternating rounds) and the "
                     "per-CPU-second figures are the ones to read.")
    L.append("")
    L.append("## Targets (recorded, not asserted)")
    L.append("")
    L.append("| figure | target | measured | |")
    L.append("|---|---|---|---|")
    for t in res.get("targets", []):
        if only and t.get("section") != only:
            continue
        val = t["value"]
        if t["unit"] == "us":
            val = _fmt_us(val)
        elif t["unit"] == "x":
            val = "–" if val is None else f"{val:.2f}x"
        elif t["unit"] == "s":
            val = "–" if val is None else f"{val:.2f} s"
        elif t["unit"] == "ms":
            val = "–" if val is None else f"{val:.2f} ms"
        elif t["unit"] == "%":
            val = "–" if val is None else f"{val * 100:.2f}%"
        elif t["unit"] == "B":
            val = "–" if val is None else f"{val:.1f} B"
        else:
            val = _fmt_n(val)
        note = f" ({t['note']})" if t.get("note") else ""
        L.append(f"| {t['name']} | {t['target']} | {val} | {_verdict(t['met'])}{note} |")
    L.append("")
    if only:
        L += deltas_markdown(res)
        return "\n".join(L + _failures(res))
    L.append("## Requests/s at saturation")
    L.append("")
    L.append("flightsearch / floor per protocol; the floor is h2o serving a static file of the mix's median response size "
             f"with the same load settings, in the same run; (starved): a side got less than {STARVED:.0%} of its core; "
             "(shed): the share of answers that were 503 (admission control or search budget), not counted. "
             "PostgreSQL: one backend; plain = one statement per round trip, "
             "pipelined = 10 statements per pipeline. fs/PG = flightsearch h2c -m 10 over PostgreSQL's better figure.")
    L.append("")
    L.append("| mix | median response | h2c -m 1 | h2c -m 10 | HTTP/1.1 | PostgreSQL plain / pipelined | fs/PG |")
    L.append("|---|---|---|---|---|---|---|")
    for mix in MIXES:
        mm = res["mixes"].get(mix.name)
        if mm is None:
            continue
        cells = []
        for proto, _ in PROTOCOLS:
            fs, fl = _rps(res, mix.name, "flightsearch", proto), _rps(res, mix.name, "floor", proto)
            r = _get(mm, "ratios", "floor", proto)
            starved = " (starved)" if proto in (_get(mm, "ratios", "starved") or []) else ""
            shed = _get(mm, "flightsearch", proto, "saturation", "non_2xx_share") or 0
            shed = f" ({shed:.1%} shed)" if shed >= 0.005 else ""
            cells.append(f"{_fmt_n(fs)}{shed} / {_fmt_n(fl)} = {_fmt_ratio(r)}{starved}")
        pgp, pgl = _get(mm, "postgres", "plain", "rps"), _get(mm, "postgres", "pipelined", "rps")
        pgr = _get(mm, "ratios", "postgres")
        L.append(f"| {mix.title} | {_fmt_n(_get(mm, 'queries', 'median_response_bytes'))} B | " + " | ".join(cells) +
                 f" | {_fmt_n(pgp)} / {_fmt_n(pgl)} | {'–' if pgr is None else f'{pgr:.1f}x'} |")
    L.append("")
    L.append("Per server CPU-second (requests/s ÷ the share of a core the server got): an estimate of what one "
             "dedicated core does, which holds up when other processes share the server core. `others` is the share "
             "of the server core that went to other processes during the flightsearch run; client CPU near 100% means "
             "the load generator, not the server, set the pace (the floor's figure is then a lower bound).")
    L.append("")
    L.append("| mix | protocol | flightsearch | floor | fs/floor | fs CPU | floor CPU | others | client CPU, fs / floor run |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    pc = lambda x: "–" if x is None else f"{x * 100:.0f}%"
    for mix in MIXES:
        for proto, label in PROTOCOLS:
            fs, fl = _sat(res, mix.name, "flightsearch", proto), _sat(res, mix.name, "floor", proto)
            if not fs:
                continue
            L.append(f"| {mix.name} | {label} | {_fmt_n(per_cpu(fs))} | {_fmt_n(per_cpu(fl))} | "
                     f"{_fmt_ratio(_get(res, 'mixes', mix.name, 'ratios', 'floor_per_cpu', proto))} | {pc(fs.get('server_cpu_util'))} | "
                     f"{pc(fl.get('server_cpu_util') if fl else None)} | {pc(fs.get('others_on_server_core'))} | "
                     f"{pc(fs.get('client_cpu_util'))} / {pc(fl.get('client_cpu_util') if fl else None)} |")
        pgb = _pg_best_run(res, mix.name)
        if pgb:
            pgr = _get(res, "mixes", mix.name, "ratios", "postgres_per_cpu")
            L.append(f"| {mix.name} | PostgreSQL ({'pipelined' if pgb.get('statements_per_transaction', 1) > 1 else 'plain'}) | "
                     f"{_fmt_n(per_cpu(pgb))} | | fs/PG {'–' if pgr is None else f'{pgr:.1f}'}x | {pc(pgb.get('server_cpu_util'))} | | "
                     f"{pc(pgb.get('others_on_server_core'))} | {pc(pgb.get('client_cpu_util'))} |")
    L.append("")
    L.append("## Latency")
    L.append("")
    L.append("p50 / p99 / p99.9 at saturation, and p99 at 50% of that saturation rate (paced: h2load --rps; "
             "PostgreSQL: pgbench -R, measured from the scheduled start).")
    L.append("")
    L.append("| mix | protocol | flightsearch sat. | floor sat. | flightsearch p99 @50% (rate) | floor p99 @50% |")
    L.append("|---|---|---|---|---|---|")
    for mix in MIXES:
        if mix.name not in res["mixes"]:
            continue
        for proto, label in PROTOCOLS:
            fs, fl = _sat(res, mix.name, "flightsearch", proto), _sat(res, mix.name, "floor", proto)
            half = _get(res, "mixes", mix.name, "flightsearch", proto, "half_load")
            fhalf = _get(res, "mixes", mix.name, "floor", proto, "half_load")
            trip = lambda r: "–" if not r else f"{_fmt_us(r['p50_us'])} / {_fmt_us(r['p99_us'])} / {_fmt_us(r['p999_us'])}"
            h = "–" if not half or not half.get("ok") else f"{_fmt_us(half['p99_us'])} ({_fmt_n(half['rps'])}/s)"
            fh = "–" if not fhalf or not fhalf.get("ok") else _fmt_us(fhalf["p99_us"])
            L.append(f"| {mix.name} | {label} | {trip(fs)} | {trip(fl)} | {h} | {fh} |")
        pgp, pgh = _get(res, "mixes", mix.name, "postgres", "plain"), _get(res, "mixes", mix.name, "postgres", "half_load")
        if pgp and pgp.get("ok"):
            h = "–" if not pgh or not pgh.get("ok") else f"{_fmt_us(pgh['p99_us'])} ({_fmt_n(pgh['rps'])}/s)"
            L.append(f"| {mix.name} | PostgreSQL, 1 backend | {_fmt_us(pgp['p50_us'])} / {_fmt_us(pgp['p99_us'])} / {_fmt_us(pgp['p999_us'])} | | {h} | |")
    L.append("")
    L.append("## Queries")
    L.append("")
    L.append("| mix | distinct queries | empty answers | median / mean response | PostgreSQL agrees |")
    L.append("|---|---|---|---|---|")
    for mix in MIXES:
        q = _get(res, "mixes", mix.name, "queries")
        if not q:
            continue
        ag = _get(res, "mixes", mix.name, "postgres", "agreement")
        L.append(f"| {mix.title} | {_fmt_n(q['distinct_queries'])} | {q['empty_share'] * 100:.1f}% | "
                 f"{_fmt_n(q['median_response_bytes'])} / {_fmt_n(q['mean_response_bytes'])} B | {ag or '–'} |")
    for name, sk in (res.get("skipped") or {}).items():
        L.append(f"| {sk['title']} | skipped | | | {sk['note']} (HTTP {sk.get('status')}) |")
    L.append("")
    rw = _get(res, "data", "routes_refused_with_data")
    if rw:
        L.append(f"/v1/routes answers 400 for {', '.join(rw)}: airports with legs whose codes are also metropolitan codes, "
                 "so routes explore cannot start from them; a search to or from them searches the whole city. The mixes "
                 "leave routes touching any metropolitan code out.")
        L.append("")
    L.append("## Ingest")
    L.append("")
    ing = res.get("ingest") or {}
    if ing:
        L.append(f"- Import (first start of the data dir: snapshots decoded, validated, built and written to the store), "
                 f"spawn to /readyz 200: {_fmt_n(ing.get('import_s'), 3)} s on the server core ({_fmt_n(ing.get('import_cpu_s'), 3)} CPU-s) "
                 f"= {_fmt_n(ing.get('import_legs_per_s'))} legs/s; all cores: {_fmt_n(ing.get('import_s_all_cores'), 3)} s.")
        L.append(f"- Restart of the data dir as the import left it (store + seed snapshots"
                 f"{'' if ing.get('store', True) else '; no store was written, so a restart imports again'}): "
                 f"**{_fmt_n(ing.get('restart_to_ready_s'), 3)} s** on the server core (median of {len(ing.get('restart_s_each') or [])}; "
                 f"{_fmt_n(ing.get('restart_cpu_s'), 3)} CPU-s) = {_fmt_n(ing.get('legs_per_s'))} legs/s; all cores: "
                 f"{_fmt_n(ing.get('restart_to_ready_s_all_cores'), 3)} s.")
        L.append(f"- Restart from the store alone (seed snapshots moved aside): **{_fmt_n(ing.get('restart_to_ready_s_store_only'), 3)} s** "
                 f"on the server core ({_fmt_n(ing.get('restart_cpu_s_store_only'), 3)} CPU-s) = "
                 f"{_fmt_n(ing.get('legs_per_s_store_only'))} legs/s; all cores: "
                 f"{_fmt_n(ing.get('restart_to_ready_s_store_only_all_cores'), 3)} s. The difference is the seeds being read "
                 "to be skipped. Files in the page cache throughout.")
        L.append(f"- Resident bytes per leg after a restart from the store alone (the server under test): VmRSS {_fmt_n(ing.get('rss_loaded_bytes'))} B loaded − "
                 f"{_fmt_n(ing.get('rss_empty_bytes'))} B empty = **{_fmt_n(ing.get('rss_bytes_per_leg'), 1)} B/leg** "
                 f"(heap {_fmt_n(ing.get('rssanon_bytes_per_leg'), 1)}, mapped files {_fmt_n(ing.get('rssfile_bytes_per_leg'), 1)}); "
                 f"jemalloc allocated {_fmt_n(ing.get('jemalloc_allocated_bytes_per_leg'), 1)} B/leg; "
                 f"flightsearch_index_bytes {_fmt_n(ing.get('index_bytes_per_leg'), 1)} B/leg ({_fmt_n(ing.get('legs'))} legs). "
                 f"After a restart that read the seeds too: {_fmt_n(ing.get('rss_with_seeds_bytes_per_leg'), 1)} B/leg.")
    pgl = _get(res, "postgres", "load")
    if pgl:
        L.append(f"- PostgreSQL, same legs ({_fmt_n(pgl['rows'])} leg-cabin rows; its server core only): COPY {pgl['copy_s']} s, indexes {pgl['index_s']} s, "
                 f"VACUUM ANALYZE {pgl['vacuum_analyze_s']} s; table {_fmt_n(pgl['table_bytes'] / 2**20, 1)} MiB + indexes "
                 f"{_fmt_n(pgl['index_bytes'] / 2**20, 1)} MiB.")
    for k, note in (ing.get("pending") or {}).items():
        L.append(f"- {k}: {note}")
    L.append("")
    L += deltas_markdown(res)
    mi = res.get("micro") or {}
    if mi:
        L.append("## Micro-benchmarks (server core, no HTTP)")
        L.append("")
        for key, label in (("index_synthetic", "index, synthetic"), ("index_data", "index, this run's data")):
            x = mi.get(key)
            if x:
                L.append(f"- {label} ({_fmt_n(x['legs'])} legs): direct 1 day {x['direct_1day_ns']:.0f} ns, "
                         f"direct 7 days {x['direct_7day_ns']:.0f} ns, calendar 30 days {x['calendar_30day_ns']:.0f} ns, "
                         f"routes {x['routes_ns']:.0f} ns per lookup; {x['index_bytes_per_leg']:.1f} index B/leg.")
        x = mi.get("enc")
        if x:
            L.append(f"- encoder, search response of {x['results_per_doc']} results: JSON {x['json_bytes']:,} B in "
                     f"{x['json_ns_per_doc'] / 1000:.1f} µs ({x['json_mb_per_s']:.0f} MB/s); msgpack {x['msgpack_bytes']:,} B in "
                     f"{x['msgpack_ns_per_doc'] / 1000:.1f} µs ({x['msgpack_mb_per_s']:.0f} MB/s).")
        x = mi.get("enc_list_view")
        if x:
            L.append(f"- encoder, the same {x['results_per_doc']} results as a list view (`fields={x.get('fields')}`): JSON "
                     f"{x['json_bytes']:,} B in {x['json_ns_per_doc'] / 1000:.1f} µs; msgpack {x['msgpack_bytes']:,} B in "
                     f"{x['msgpack_ns_per_doc'] / 1000:.1f} µs.")
        x = mi.get("enc_median")
        if x:
            L.append(f"- encoder, {x['results_per_doc']} results (about the direct-search median): JSON {x['json_bytes']:,} B in "
                     f"{x['json_ns_per_doc'] / 1000:.1f} µs.")
        L.append("")
    perf = res.get("perf") or {}
    if perf.get("mixes"):
        L.append(f"## Where the server's time goes, per mix ({perf['protocol']}, perf, self time, "
                 f"{perf.get('seconds', 0):g} s each)")
        L.append("")
        for mix in MIXES:
            p = perf["mixes"].get(mix.name)
            if not p:
                continue
            if not p.get("top"):
                L.append(f"- {mix.name}: {p.get('status')}")
                continue
            L.append(f"**{mix.title}** ({_fmt_n(p.get('rps_while_profiled'))} req/s while profiled): " +
                     ", ".join(f"`{t['symbol']}` {t['percent']:.1f}%" for t in p["top"][:8]))
            L.append("")
        L.append("")
    elif perf.get("status"):
        L.append(f"Profile: {perf['status']}")
        L.append("")
    if chart_name:
        L.append(f"![requests/s and p99 per mix]({chart_name})")
        L.append("")
    L.append("Notes: PostgreSQL's figures are the database alone (rows over its wire protocol), without the HTTP "
             "server and JSON encoding an application in front of it would add; flightsearch's include both. "
             "Latency percentiles on a shared core include the time other processes held it (see `others`); "
             "the floor's p99 under the same conditions is the reference. Everything else: docs/performance.md.")
    L.append("")
    return "\n".join(L + _failures(res))


def _failures(res):
    if not res.get("failures"):
        return []
    return ["## Failures (the run continued)", ""] + [f"- {f}" for f in res["failures"]] + [""]


def chart(res, path, workdir):
    """requests/s (h2c -m 10) and p99 at 50% load per mix: flightsearch, floor, PostgreSQL."""
    gp = shutil.which("gnuplot")
    if gp is None:
        return "gnuplot not installed"
    data = os.path.join(workdir, "chart.dat")
    with open(data, "w") as f:
        f.write("# mix fs_rps floor_rps pg_rps fs_p99_ms floor_p99_ms pg_p99_ms\n")
        for mix in MIXES:
            if mix.name not in res["mixes"]:
                continue
            vals = [
                _rps(res, mix.name, "flightsearch", "h2c_m10"),
                _rps(res, mix.name, "floor", "h2c_m10"),
                _pg_best(res, mix.name),
            ]
            for side, key in (("flightsearch", ("h2c_m10", "half_load")), ("floor", ("h2c_m10", "half_load")), ("postgres", ("half_load",))):
                r = _get(res, "mixes", mix.name, side, *key)
                vals.append(r["p99_us"] / 1000 if r and r.get("ok") and r.get("p99_us") is not None else None)
            short = {"direct_1day": "direct-1d", "direct_7day": "direct-7d", "calendar_30day": "calendar-30d",
                     "search_1stop": "1-stop"}.get(mix.name, mix.name)
            f.write(short + " " + " ".join("?" if x is None else f"{x:.4f}" for x in vals) + "\n")
    terminal = ('pngcairo size 1000,420 font "sans,10" background "white"' if path.endswith(".png")
                else 'svg size 1000,420 dynamic font "sans,11" background "white"')
    script = f"""
set terminal {terminal}
set output '{path}'
set datafile missing "?"
set multiplot layout 1,2 title "One core, {res['size']} data: flightsearch (h2c -m 10) vs floor (h2o static file, same settings) vs PostgreSQL (1 backend)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set grid ytics
set xtics noenhanced scale 0 font ",10"
set key below horizontal font ",10"
set ylabel "requests/s at saturation"
plot '{data}' using 2:xtic(1) title 'flightsearch' lc rgb '#1f77b4', '' using 3 title 'floor (h2o)' lc rgb '#999999', '' using 4 title 'PostgreSQL' lc rgb '#d62728'
set ylabel "p99 at 50% of saturation (ms)"
plot '{data}' using 5:xtic(1) title 'flightsearch' lc rgb '#1f77b4', '' using 6 title 'floor (h2o)' lc rgb '#999999', '' using 7 title 'PostgreSQL' lc rgb '#d62728'
unset multiplot
"""
    sp = os.path.join(workdir, "chart.gp")
    with open(sp, "w") as f:
        f.write(script)
    out = subprocess.run([gp, sp], capture_output=True, text=True)
    if out.returncode != 0:
        return "gnuplot: " + (out.stderr.strip().splitlines() or ["failed"])[-1]
    return None


def write_json(res, path):
    with open(path, "w") as f:
        json.dump(res, f, indent=1, sort_keys=False, default=str)
        f.write("\n")


def deltas_markdown(res):
    """The deltas section's lines (none when it did not run)."""
    d = res.get("deltas")
    if not d:
        return []
    L = ["## Deltas (issue 10)", ""]
    if d.get("status") != "ok":
        L += [f"Not measured: {d.get('status')}", ""]
        return L
    flag = (f"flightsearch-gen --big-source-share {d['big_source_share_flag']} (the largest source alone held "
            f"{d['natural_largest']['share'] * 100:.1f}%)") if d.get("big_source_share_flag") else "the generated data as is"
    L.append(f"Source **{d['source']}**: {_fmt_n(d['source_legs'])} of {_fmt_n(d['total_legs'])} legs "
             f"({d['source_share'] * 100:.1f}%; {flag}). Deltas are built from the first {_fmt_n(d['pool_legs'])} legs of its "
             "snapshot: upserts changing seats and miles, plus k/100 removes and as many adds (legs removed earlier). "
             "Time to the 200 (durable and visible), client side, one keep-alive HTTP/1.1 connection, msgpack bodies. "
             "fsync: " + d["fsync"]["method"] + ".")
    L.append("")
    L.append("| push | pushes | median | p99 | max | server took_ms median | body | fsync, same size (median / p99) | / snapshot |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    ms = lambda v: "–" if v is None else f"{v:.2f} ms"
    sn = d["snapshot"]
    fsn = _get(d, "fsync", "by_size", "snapshot") or {}
    L.append(f"| snapshot ({_fmt_n(sn.get('legs'))} legs) | {sn['n']} | {ms(sn['median_ms'])} | {ms(sn['p99_ms'])} | "
             f"{ms(sn['max_ms'])} | {ms(sn.get('server_took_ms_median'))} | {_fmt_n(d['snapshot_body_bytes'])} B | "
             f"{ms(fsn.get('median_ms'))} / {ms(fsn.get('p99_ms'))} ({_fmt_n(fsn.get('bytes'))} B {fsn.get('file', '')}) | 1 |")
    for k, r in d["deltas"].items():
        if "skipped" in r:
            L.append(f"| {int(k):,}-leg delta | skipped: {r['skipped']} | | | | | | | |")
            continue
        f = _get(d, "fsync", "by_size", k) or {}
        rat = _get(d, "ratio_to_snapshot", k)
        L.append(f"| {int(k):,}-leg delta | {r['n']}{' of ' + str(r['planned']) + ' (time budget)' if r['stopped_by_budget'] else ''} | "
                 f"{ms(r['median_ms'])} | {ms(r['p99_ms'])} | {ms(r['max_ms'])} | {ms(r.get('server_took_ms_median'))} | "
                 f"{_fmt_n(r['body_bytes'])} B | {ms(f.get('median_ms'))} / {ms(f.get('p99_ms'))} | "
                 f"{'–' if rat is None else f'{rat * 100:.2f}%'} |")
    L.append("")
    s = d.get("search_during_ingest") or {}
    if s:
        q, i = s.get("quiet") or {}, s.get("ingest") or {}
        L.append(f"- Searches ({s['mix']}, {s['protocol']}, {s['rounds']} alternating rounds of {s['run_s']:g} s each side): "
                 f"{_fmt_n(q.get('rps'))} req/s without ingest, {_fmt_n(i.get('rps'))} req/s with a 100-leg delta every 10 ms "
                 f"(achieved: one every {s.get('push_interval_ms_achieved')} ms, {_fmt_n(s.get('pushes'))} pushes, push median "
                 f"{ms(_get(s, 'push_latency', 'median_ms'))}, p99 {ms(_get(s, 'push_latency', 'p99_ms'))}) = **{_fmt_ratio(s.get('ratio'))}**; "
                 f"shed (503) {(q.get('non_2xx_share') or 0) * 100:.1f}% / {(i.get('non_2xx_share') or 0) * 100:.1f}%; "
                 f"search p99 {_fmt_us(q.get('p99_us'))} quiet, {_fmt_us(i.get('p99_us'))} with ingest; server CPU "
                 f"{(q.get('server_cpu_util') or 0) * 100:.0f}% / {(i.get('server_cpu_util') or 0) * 100:.0f}% of its core, "
                 f"other processes {(q.get('others_on_server_core') or 0) * 100:.0f}% / {(i.get('others_on_server_core') or 0) * 100:.0f}% "
                 f"of it, load generator {(q.get('client_cpu_util') or 0) * 100:.0f}% / {(i.get('client_cpu_util') or 0) * 100:.0f}% of "
                 "a core. The pushes come from a harness thread on the client core (bodies built before each run); the "
                 "server's loader threads share the server core with its worker.")
    m = d.get("memory") or {}
    if m:
        L.append(f"- Resident memory after {_fmt_n(m['deltas_pushed'])} deltas"
                 f"{'' if m['deltas_pushed'] >= 10000 else ' (the issue asks for 10,000: scaled down on this suite, or stopped by the time budget)'}: "
                 f"VmRSS {_fmt_n(m['rss_bytes'])} B for {_fmt_n(m['legs'])} legs = {m.get('rss_bytes_per_leg')} B/leg; over an empty "
                 f"server ({_fmt_n(m.get('rss_empty_bytes'))} B): **{m.get('rss_net_bytes_per_leg')} B/leg** "
                 f"({m.get('rss_net_bytes_per_leg_start')} B/leg before the deltas, on the server that imported the data; "
                 f"{m.get('rss_net_bytes_per_leg_after_restart')} B/leg after the restart below).")
    r = d.get("restart") or {}
    if r:
        L.append(f"- Restart of the data dir as the pushes left it (store + seed snapshots, files in the page cache), spawn to "
                 f"/readyz 200: **{r['median_s']:.3f} s** (each: {', '.join(f'{x:.3f}' for x in r['each_s'])}; "
                 f"{r['cpu_s']:.2f} CPU-s), {_fmt_n(r['legs'])} legs.")
    cs = d.get("change_sets") or {}
    if cs.get("status") == "ok":
        for label, row in cs["by_push"].items():
            t = row["timing"]
            L.append(f"- Change sets, {label if label == 'snapshot' else label + '-leg delta'} ({row['pushes']} pushes): median counts "
                     + ", ".join(f"{k} {v:g}" for k, v in row["median_counts"].items()) + "; computation "
                     + (f"median {ms(t['median_ms'])}, p99 {ms(t['p99_ms'])}" if isinstance(t, dict) else t) + ".")
    else:
        L.append(f"- Change-set cost: {cs.get('status', 'not available')}.")
    if d.get("retries_503"):
        L.append(f"- {d['retries_503']} pushes answered 503 busy and were sent again (untimed).")
    L.append("")
    return L
